//! The snapshot as `describe` writes it, read without serde: a
//! 2M-partition snapshot is 190 MB of small objects, and serde_json spent
//! most of its time on each field's name and on a list allocated per list
//! read (then copied into the checked partition and freed).
//!
//! This reader knows one shape: the top-level object with `version` 1,
//! `brokers` before `topics`, every object with only the fields the
//! format names, each at most once, strings without escapes. Anything
//! else (an unknown field, an escape, a syntax or type error, a topic
//! without a valid name) and it gives up: [`read`] is `None`, and the
//! serde reader reads the file again. That one says every message about a
//! malformed file, so they cannot differ; both check what they read with
//! the same code ([`super::add_partition`] and the rest), so the problems
//! of a well-formed snapshot are the same too.
//!
//! The topics are read in parts on the cores there are (at most
//! [`MAX_PARTS`]), each part from a topic boundary found by a cheap search,
//! and joined in file order; a boundary is only taken for one when the part
//! before it, read from its start, ends exactly there. The cluster and
//! every problem are the same however many parts there are.

use super::{
    Broker, Cluster, Found, LogDirLayout, PartView, Partition, Problems, RawBroker, Refs, Topic,
    add_partition, check_brokers, check_topic_name, finish, topic,
};

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// At most this many threads read topics (the machines this runs on
/// have few cores; more parts would only add joins).
const MAX_PARTS: usize = 4;

/// Below this many bytes of topics a snapshot is read in one part: a
/// thread costs more than it saves.
const PART_MIN_BYTES: usize = 4 << 20;

/// Reads and checks a snapshot in the common shape; `None` when it is not
/// in that shape (the caller reads it with serde then).
pub(super) fn read(
    source: &str,
    bytes: &[u8],
) -> Option<Result<(Cluster, LogDirLayout), Problems>> {
    read_in(source, bytes, None)
}

/// [`read`], the topics in `parts` parts when given (tests), else in as
/// many as the cores and the size make worth it.
fn read_in(
    source: &str,
    bytes: &[u8],
    parts: Option<usize>,
) -> Option<Result<(Cluster, LogDirLayout), Problems>> {
    let bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    let mut c = Cur { b: bytes, i: 0 };
    c.eat(b'{')?;
    let mut seen = Seen::default();
    let mut checked: Option<(Vec<Broker>, Refs, Found)> = None;
    let mut topics = None;
    loop {
        match c.key()? {
            b"version" => {
                seen.first(0)?;
                (c.int()? == 1).then_some(())?;
            }
            b"brokers" => {
                seen.first(1)?;
                let mut raw = Vec::new();
                c.list(|c| {
                    raw.push(broker(c)?);
                    Some(())
                })?;
                checked = Some(check_brokers(raw, Vec::new()));
            }
            b"topics" => {
                seen.first(2)?;
                // Topics before brokers: the serde reader holds them all.
                let (_, refs, found) = checked.as_mut()?;
                topics = Some(read_topics(&mut c, refs, found, parts)?);
            }
            _ => return None,
        }
        if !c.more(b'}')? {
            break;
        }
    }
    c.ws();
    (c.i == bytes.len() && seen.0 == 0b111).then_some(())?;
    let (brokers, _, found) = checked?;
    Some(finish(source, brokers, topics?, found))
}

/// The topics array, in parts on several threads when it is large.
fn read_topics(
    c: &mut Cur,
    refs: &Refs,
    found: &mut Found,
    parts: Option<usize>,
) -> Option<Vec<Topic>> {
    c.eat(b'[')?;
    let parts = parts.unwrap_or_else(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        cores.min(MAX_PARTS).min((c.b.len() - c.i) / PART_MIN_BYTES)
    });
    let starts = part_starts(c.b, c.i, parts);
    let mut parts = Vec::with_capacity(starts.len());
    if starts.len() > 1 {
        let b = c.b;
        let results: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = starts
                .iter()
                .enumerate()
                .map(|(k, &from)| {
                    let until = starts.get(k + 1).copied();
                    s.spawn(move || {
                        let mut part = Cur { b, i: from };
                        let read = read_part(&mut part, refs, until);
                        (part.i, read)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        for (at, read) in results {
            parts.push(read?);
            c.i = at;
        }
    } else {
        parts.push(read_part(c, refs, None)?);
    }
    let mut topics = Vec::with_capacity(parts.iter().map(|(t, _)| t.len()).sum());
    for (t, f) in parts {
        topics.extend(t);
        found.merge(f);
    }
    Some(topics)
}

/// Reads topics from `c` to the end of the array (past its `]`) or, with
/// `until`, to the topic starting there, which must be where one starts
/// (else `None`: the boundary was not one).
fn read_part(c: &mut Cur, refs: &Refs, until: Option<usize>) -> Option<(Vec<Topic>, Found)> {
    let mut found = Found::default();
    let mut topics = Vec::new();
    let mut scratch = Scratch::default();
    if c.peek()? == b']' {
        c.i += 1;
        return until.is_none().then_some((topics, found));
    }
    loop {
        topics.push(read_topic(c, refs, &mut found, &mut scratch)?);
        if !c.more(b']')? {
            // The end of the array before the boundary: it was not one.
            return until.is_none().then_some((topics, found));
        }
        if let Some(u) = until {
            c.ws();
            if c.i >= u {
                return (c.i == u).then_some((topics, found));
            }
        }
    }
}

/// Where the parts of a topics array starting at `from` (just past its
/// `[`) start: `from`, then a topic boundary (`},{"name":`) past each
/// further share of the bytes. In a file of the shape read here those
/// bytes are nowhere else (in a string the quote would be escaped, and no
/// other object has a `name`), but a part is only taken once the part
/// before it ends exactly where it starts ([`read_part`]).
fn part_starts(b: &[u8], from: usize, parts: usize) -> Vec<usize> {
    const BOUNDARY: &[u8] = b"},{\"name\":";
    let rest = b.len() - from;
    let parts = parts.max(1);
    let mut starts = vec![from];
    for k in 1..parts {
        let guess = from + rest / parts * k;
        let Some(at) = b[guess..]
            .windows(BOUNDARY.len())
            .position(|w| w == BOUNDARY)
        else {
            break;
        };
        // The topic's `{`, past the previous one's `},`.
        let start = guess + at + 2;
        if start > *starts.last().expect("from") {
            starts.push(start);
        }
    }
    starts
}

/// Lists reused from one partition to the next, and the topic's
/// partitions before they are copied into a list of their exact size (a
/// list grown by doubling leaves up to half its room unused, and the
/// partitions are the largest block a snapshot makes).
#[derive(Default)]
struct Scratch {
    replicas: Vec<i64>,
    isr: Vec<i64>,
    moving: [Vec<i64>; 3],
    partitions: Vec<Partition>,
}

fn read_topic(c: &mut Cur, refs: &Refs, found: &mut Found, s: &mut Scratch) -> Option<Topic> {
    c.eat(b'{')?;
    (c.key()? == b"name").then_some(())?;
    let name = c.string()?;
    // A bad name is reported by the serde reader, with the topic's index.
    check_topic_name(&name).ok()?;
    c.eat(b',')?;
    (c.key()? == b"partitions").then_some(())?;
    s.partitions.clear();
    let mut index = 0;
    c.list(|c| {
        read_partition(c, &name, index, refs, found, s)?;
        index += 1;
        Some(())
    })?;
    c.eat(b'}')?;
    let partitions = s.partitions.drain(..).collect();
    Some(topic(name, partitions, &mut found.problems))
}

fn read_partition(
    c: &mut Cur,
    name: &str,
    index: usize,
    refs: &Refs,
    found: &mut Found,
    s: &mut Scratch,
) -> Option<()> {
    let mut seen = Seen::default();
    let (mut number, mut leader, mut size_bytes) = (None, None, None);
    let (mut replicas, mut isr, mut moving) = (false, false, [false; 3]);
    let (mut dirs, mut own) = (None, None);
    c.object(|c, key| {
        match key {
            b"partition" => {
                seen.first(0)?;
                number = c.nullable(Cur::int)?;
            }
            b"replicas" => {
                seen.first(1)?;
                replicas = c.nullable_ints(&mut s.replicas)?;
            }
            b"isr" => {
                seen.first(2)?;
                isr = c.nullable_ints(&mut s.isr)?;
            }
            b"leader" => {
                seen.first(3)?;
                leader = c.nullable(Cur::int)?;
            }
            b"size_bytes" => {
                seen.first(4)?;
                size_bytes = c.nullable(Cur::uint)?;
            }
            b"target_replicas" => {
                seen.first(5)?;
                moving[0] = c.nullable_ints(&mut s.moving[0])?;
            }
            b"adding_replicas" => {
                seen.first(6)?;
                moving[1] = c.nullable_ints(&mut s.moving[1])?;
            }
            b"removing_replicas" => {
                seen.first(7)?;
                moving[2] = c.nullable_ints(&mut s.moving[2])?;
            }
            b"log_dirs" => {
                seen.first(8)?;
                dirs = c.nullable_list(|c| c.nullable(Cur::string))?;
            }
            b"replica_sizes" => {
                seen.first(9)?;
                own = c.nullable_list(|c| c.nullable(Cur::uint))?;
            }
            _ => return None,
        }
        Some(())
    })?;
    fn given(on: bool, list: &[i64]) -> Option<&[i64]> {
        on.then_some(list)
    }
    let view = PartView {
        partition: number,
        replicas: given(replicas, &s.replicas),
        isr: given(isr, &s.isr),
        leader,
        size_bytes,
        moving: [
            given(moving[0], &s.moving[0]),
            given(moving[1], &s.moving[1]),
            given(moving[2], &s.moving[2]),
        ],
    };
    let per_replica = super::PerReplica { dirs, own };
    add_partition(
        name,
        index,
        view,
        per_replica,
        refs,
        found,
        &mut s.partitions,
    );
    Some(())
}

fn broker(c: &mut Cur) -> Option<RawBroker> {
    let mut seen = Seen::default();
    let mut b = RawBroker {
        id: None,
        rack: None,
        host: None,
        port: None,
        alive: None,
        log_dirs: None,
    };
    c.object(|c, key| {
        match key {
            b"id" => {
                seen.first(0)?;
                b.id = c.nullable(Cur::int)?;
            }
            b"rack" => {
                seen.first(1)?;
                b.rack = c.nullable(Cur::string)?;
            }
            b"host" => {
                seen.first(2)?;
                b.host = c.nullable(Cur::string)?;
            }
            b"port" => {
                seen.first(3)?;
                b.port = c.nullable(|c| u16::try_from(c.uint()?).ok())?;
            }
            b"alive" => {
                seen.first(4)?;
                b.alive = c.nullable(Cur::bool)?;
            }
            b"log_dirs" => {
                seen.first(5)?;
                b.log_dirs = c.nullable(|c| {
                    let mut dirs = Vec::new();
                    c.list(|c| {
                        dirs.push(c.string()?);
                        Some(())
                    })?;
                    Some(dirs)
                })?;
            }
            _ => return None,
        }
        Some(())
    })?;
    Some(b)
}

/// The fields of an object read so far: a second of the same name is
/// serde's error to report.
#[derive(Default)]
struct Seen(u16);

impl Seen {
    fn first(&mut self, field: u32) -> Option<()> {
        let bit = 1 << field;
        (self.0 & bit == 0).then_some(())?;
        self.0 |= bit;
        Some(())
    }
}

/// A position in the bytes. Every reading method is `None` where the
/// input is not what this reader takes, and then nothing it read counts.
struct Cur<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cur<'a> {
    /// Skips JSON's whitespace (exactly serde_json's four bytes).
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, want: u8) -> Option<()> {
        (self.peek()? == want).then_some(())?;
        self.i += 1;
        Some(())
    }

    /// After a value in an array or object: `true` past a comma, `false`
    /// past the `close`.
    fn more(&mut self, close: u8) -> Option<bool> {
        let got = self.peek()?;
        self.i += 1;
        match got {
            b',' => Some(true),
            g if g == close => Some(false),
            _ => None,
        }
    }

    /// An array, `item` reading each element.
    fn list(&mut self, mut item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.eat(b'[')?;
        if self.peek()? == b']' {
            self.i += 1;
            return Some(());
        }
        loop {
            item(self)?;
            if !self.more(b']')? {
                return Some(());
            }
        }
    }

    /// An object, `field` reading each value after its name.
    fn object(&mut self, mut field: impl FnMut(&mut Self, &'a [u8]) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        loop {
            let key = self.key()?;
            field(self, key)?;
            if !self.more(b'}')? {
                return Some(());
            }
        }
    }

    /// A string's bytes, when it has no escape and no control character
    /// (which serde_json refuses); not yet known to be UTF-8.
    fn raw_str(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.i;
        let len = self.b[start..]
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
        self.i = start + len;
        (self.b[self.i] == b'"').then_some(())?;
        self.i += 1;
        Some(&self.b[start..start + len])
    }

    /// A field's name and its colon.
    fn key(&mut self) -> Option<&'a [u8]> {
        let key = self.raw_str()?;
        self.eat(b':')?;
        Some(key)
    }

    fn string(&mut self) -> Option<String> {
        std::str::from_utf8(self.raw_str()?).ok().map(str::to_owned)
    }

    /// `null` as `None`, else what `value` reads.
    fn nullable<T>(&mut self, value: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.peek()? == b'n' {
            (self.b[self.i..].starts_with(b"null")).then_some(())?;
            self.i += 4;
            return Some(None);
        }
        value(self).map(Some)
    }

    /// A list of integers or `null` into `out`: whether it was a list.
    /// A list read item by item, or null (`Some(None)`).
    fn nullable_list<T>(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Option<T>,
    ) -> Option<Option<Vec<T>>> {
        self.nullable(|c| {
            let mut out = Vec::new();
            c.list(|c| {
                out.push(item(c)?);
                Some(())
            })?;
            Some(out)
        })
    }

    fn nullable_ints(&mut self, out: &mut Vec<i64>) -> Option<bool> {
        out.clear();
        self.nullable(|c| {
            c.list(|c| {
                out.push(c.int()?);
                Some(())
            })
        })
        .map(|list| list.is_some())
    }

    fn bool(&mut self) -> Option<bool> {
        self.peek()?;
        let rest = &self.b[self.i..];
        let (value, len) = if rest.starts_with(b"true") {
            (true, 4)
        } else if rest.starts_with(b"false") {
            (false, 5)
        } else {
            return None;
        };
        self.i += len;
        Some(value)
    }

    /// Up to 19 digits, no leading zero: what serde_json reads as an
    /// integer within `u64` (a fraction or exponent after them is left
    /// unread, and then taken for a syntax error by the caller).
    fn digits(&mut self, max: usize) -> Option<u64> {
        let start = self.i;
        let mut v: u64 = 0;
        while let Some(&d) = self.b.get(self.i).filter(|d| d.is_ascii_digit()) {
            v = v.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
            self.i += 1;
        }
        let n = self.i - start;
        (n > 0 && n <= max && (n == 1 || self.b[start] != b'0')).then_some(v)
    }

    fn uint(&mut self) -> Option<u64> {
        self.peek()?;
        self.digits(19)
    }

    /// An integer of at most 18 digits (so within `i64`). `-0` is not one:
    /// serde_json reads it as a float.
    fn int(&mut self) -> Option<i64> {
        if self.peek()? == b'-' {
            self.i += 1;
            let v = self.digits(18)?;
            (v > 0).then(|| -(v as i64))
        } else {
            self.digits(18).map(|v| v as i64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{EXPECTED, Known, RawSnapshot, check};
    use super::*;

    type Read = Result<(Cluster, LogDirLayout), Problems>;

    fn by_serde(json: &str) -> Read {
        let raw: RawSnapshot = crate::model::json::parse("s.json", json.as_bytes(), EXPECTED)?;
        check("s.json", raw)
    }

    /// Read here in one part and in several, it is what serde reads.
    fn same(json: &str) -> Read {
        let want = by_serde(json);
        for parts in [1, 2, 3, 7] {
            let got = read_in("s.json", json.as_bytes(), Some(parts));
            assert_eq!(got.as_ref(), Some(&want), "{parts} parts: {json}");
        }
        want
    }

    const BROKERS: &str = r#"{"id":1,"rack":"r1","host":"h1","port":9092,"alive":true,"log_dirs":["/d1","/d2"]},
        {"id":2,"rack":null,"alive":false},{"id":3,"port":null},{"host":"h","id":70000}"#;

    fn snapshot(topics: &[&str]) -> String {
        format!(
            "{{ \"version\" : 1 ,\n \"brokers\": [{BROKERS}],\r\n\t\"topics\": [{}] }}",
            topics.join(",")
        )
    }

    #[test]
    fn a_snapshot_reads_as_serde_reads_it() {
        let topics = [
            r#"{"name":"b","partitions":[{"partition":1,"replicas":[1,2],"isr":[2],"leader":2,"size_bytes":5},{"partition":0,"replicas":[3,1],"leader":-1}]}"#,
            r#"{"name":"a.x_y-z","partitions":[]}"#,
            r#"{"name":"moving","partitions":[{"partition":0,"replicas":[1,2,3],"target_replicas":[1,2],"removing_replicas":[3],"adding_replicas":[2],"log_dirs":["/d1",null,"/x"],"replica_sizes":[7,null,9]},{"size_bytes":null,"partition":1,"replicas":[70000],"isr":null,"leader":null,"target_replicas":null,"log_dirs":null}]}"#,
        ];
        let (cluster, layout) = same(&snapshot(&topics)).unwrap();
        assert_eq!(cluster.partition_count(), 4);
        assert_eq!(
            layout.dir_of(
                &crate::model::TopicPartition {
                    topic: "moving".into(),
                    partition: 0
                },
                3
            ),
            Some("/x")
        );
        assert!(cluster.topics[2].partitions[0].in_flight.is_some());
        let moving = crate::model::TopicPartition {
            topic: "moving".into(),
            partition: 0,
        };
        assert_eq!(
            (layout.size_of(&moving, 1, 0), layout.size_of(&moving, 2, 0)),
            (7, 0)
        );
    }

    #[test]
    fn a_generated_cluster_reads_back_whole_in_parts() {
        let cluster =
            crate::synth::generate(&crate::synth::Profile::brokers(30).partitions(20_000), 7);
        let layout = crate::synth::log_dirs(&cluster, 3);
        let json = super::super::to_json_with_log_dirs(&cluster, &layout);
        assert_eq!(part_starts(json.as_bytes(), 0, 3).len(), 3);
        assert_eq!(same(&json), Ok((cluster, layout)));
    }

    #[test]
    fn problems_are_those_serde_reading_finds() {
        let topics = [
            r#"{"name":"t","partitions":[{"partition":0,"replicas":[9,-1,1,1],"isr":[2]},{"partition":0,"replicas":[]},{"replicas":[1]},{"partition":-3}]}"#,
            r#"{"name":"t","partitions":[{"partition":5,"replicas":[1,2],"leader":3,"log_dirs":["rel"]}]}"#,
            r#"{"name":"u","partitions":[{"partition":1,"replicas":[1,2],"log_dirs":["/d3",null]},{"partition":2,"replicas":[1,2],"target_replicas":[4],"adding_replicas":[1]},{"partition":3,"replicas":[1,2],"replica_sizes":[1]}]}"#,
        ];
        let e = same(&snapshot(&topics)).unwrap_err();
        assert!(e.problems.len() >= 9, "{e}");
        for part in [
            "repeats broker 1",
            "broker 9, which is not",
            "listed more than once",
            "partitions[2]",
        ] {
            assert!(e.to_string().contains(part), "{part}: {e}");
        }
    }

    #[test]
    fn any_other_shape_is_left_to_serde() {
        let ok = r#"{"name":"t","partitions":[{"partition":0,"replicas":[1]}]}"#;
        let cases = [
            snapshot(&[r#"{"name":"t","partitions":[{"partition":0,"replicas":[1],"extra":1}]}"#]),
            snapshot(&[r#"{"name":"t\u0041","partitions":[]}"#]),
            snapshot(&[
                r#"{"name":"t","partitions":[{"partition":0,"partition":1,"replicas":[1]}]}"#,
            ]),
            snapshot(&[r#"{"name":"t","partitions":[{"partition":-0,"replicas":[1]}]}"#]),
            snapshot(&[r#"{"name":"t","partitions":[{"partition":1.0,"replicas":[1]}]}"#]),
            snapshot(&[r#"{"name":"t","partitions":[{"partition":01,"replicas":[1]}]}"#]),
            snapshot(&[
                r#"{"name":"t","partitions":[{"partition":0,"replicas":[1],"size_bytes":-1}]}"#,
            ]),
            snapshot(&[r#"{"name":"t","partitions":[{"partition":0,"replicas":[1,]}]}"#]),
            snapshot(&[
                r#"{"name":"t","partitions":[{"partition":99999999999999999999,"replicas":[1]}]}"#,
            ]),
            snapshot(&[r#"{"name":"t","partitions":[[0,[1]]]}"#]),
            snapshot(&[r#"{"name":"t t","partitions":[]}"#]),
            snapshot(&[r#"{"partitions":[],"name":"t"}"#]),
            snapshot(&[r#"{"name":"t","partitions":null}"#]),
            snapshot(&[r#"{"name":"t"}"#]),
            snapshot(&[ok]) + "x",
            snapshot(&[ok]).replace("\"version\" : 1", "\"version\":2"),
            snapshot(&[ok]).replace("\"port\":9092", "\"port\":70000"),
            snapshot(&[ok]).replace("\"alive\":true", "\"alive\":1"),
            format!(r#"{{"version":1,"topics":[{ok}],"brokers":[{{"id":1}}]}}"#),
            r#"{"version":1,"brokers":[{"id":1}]}"#.to_string(),
            format!("\u{1}{}", snapshot(&[ok])),
        ];
        for json in cases {
            assert_eq!(read_in("s.json", json.as_bytes(), Some(2)), None, "{json}");
            // The serde reader takes it from there.
            assert_eq!(
                super::super::parse_with_log_dirs("s.json", json.as_bytes()),
                by_serde(&json)
            );
        }
        let bom = format!("\u{feff}{}", snapshot(&[ok]));
        assert_eq!(
            read_in("s.json", bom.as_bytes(), None),
            Some(by_serde(&bom))
        );
    }

    #[test]
    fn parts_start_at_topics_and_a_false_boundary_is_not_taken() {
        let topics: Vec<String> = (0..40)
            .map(|t| format!(r#"{{"name":"t{t}","partitions":[{{"partition":0,"replicas":[1,2],"log_dirs":["/d1",null]}}]}}"#))
            .collect();
        let refs: Vec<&str> = topics.iter().map(String::as_str).collect();
        let json = snapshot(&refs);
        let from = json.find("\"topics\": [").unwrap() + "\"topics\": [".len();
        let starts = part_starts(json.as_bytes(), from, 3);
        assert_eq!(starts.len(), 3);
        for &s in &starts[1..] {
            assert!(
                json[s..].starts_with("{\"name\":\"t"),
                "{}",
                &json[s..s + 20]
            );
        }
        assert_eq!(same(&json).unwrap().0.topics.len(), 40);

        // A part is only taken when the one before it ends exactly at its
        // start: not one byte into a topic, nor past the array's end.
        let brokers = by_serde(&json).map(|(c, _)| c.brokers).unwrap();
        let known = Known::new(brokers.iter().map(|b| b.id));
        let refs = Refs {
            known,
            listed: [(1, vec!["/d1".to_string(), "/d2".to_string()])].into(),
        };
        let upto = |until: usize| {
            let mut c = Cur {
                b: json.as_bytes(),
                i: from,
            };
            read_part(&mut c, &refs, Some(until)).map(|(t, _)| (t.len(), c.i))
        };
        let (topics, at) = upto(starts[1]).expect("a real boundary");
        assert_eq!((at, json[starts[1]..].starts_with('{')), (starts[1], true));
        assert!(topics > 0 && topics < 40, "{topics}");
        assert_eq!(upto(starts[1] + 1), None);
        assert_eq!(upto(json.len()), None);
    }
}
