//! Cluster snapshot, version 1: this project's interchange format (what
//! `describe --json` writes and `plan --state` reads). Extra fields are
//! allowed; see FIELD-GUIDE §1 for the required and optional ones.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

mod fast;

use super::log_dirs::{LogDirLayout, broker_dir_problems, is_log_dir};
use super::{
    Broker, BrokerId, Cluster, InFlight, Partition, Problem, Problems, Topic, TopicPartition,
    check_topic_name,
};

/// What a snapshot's top level must be, for messages.
const EXPECTED: &str = "a snapshot object with version, brokers and topics";

#[derive(Deserialize)]
#[serde(expecting = "a snapshot object with version, brokers and topics")]
struct RawSnapshot {
    version: Option<serde_json::Value>,
    brokers: Option<Vec<RawBroker>>,
    topics: Option<Vec<RawTopic>>,
}

#[derive(Deserialize)]
#[serde(expecting = "a broker object with an id")]
struct RawBroker {
    id: Option<i64>,
    rack: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    alive: Option<bool>,
    /// Every log dir of the broker, empty ones included.
    log_dirs: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(expecting = "a topic object with a name and partitions")]
struct RawTopic {
    name: Option<String>,
    #[serde(default, deserialize_with = "compact_partitions")]
    partitions: Option<Vec<CompactPartition>>,
}

/// A partition as read, before it is checked: [`RawPartition`] with the
/// fields of a partition in motion and its log dirs boxed together. A
/// snapshot is read whole before it is checked (brokers may come after
/// topics), and at 192 bytes a partition the raw form was the largest
/// block while a 2M-partition snapshot was read; this one is about half.
struct CompactPartition {
    partition: Option<i64>,
    replicas: Option<Vec<i64>>,
    isr: Option<Vec<i64>>,
    leader: Option<i64>,
    size_bytes: Option<u64>,
    rare: Option<Box<RareFields>>,
}

/// The fields most partitions do not have.
struct RareFields {
    target_replicas: Option<Vec<i64>>,
    adding_replicas: Option<Vec<i64>>,
    removing_replicas: Option<Vec<i64>>,
    log_dirs: Option<Vec<Option<String>>>,
    replica_sizes: Option<Vec<Option<u64>>>,
}

impl From<RawPartition> for CompactPartition {
    fn from(p: RawPartition) -> Self {
        let rare = (p.target_replicas.is_some()
            || p.adding_replicas.is_some()
            || p.removing_replicas.is_some()
            || p.log_dirs.is_some()
            || p.replica_sizes.is_some())
        .then(|| {
            Box::new(RareFields {
                target_replicas: p.target_replicas,
                adding_replicas: p.adding_replicas,
                removing_replicas: p.removing_replicas,
                log_dirs: p.log_dirs,
                replica_sizes: p.replica_sizes,
            })
        });
        CompactPartition {
            partition: p.partition,
            replicas: p.replicas,
            isr: p.isr,
            leader: p.leader,
            size_bytes: p.size_bytes,
            rare,
        }
    }
}

/// `partitions` as `Option<Vec<RawPartition>>` reads it (null or absent is
/// `None`, the same messages), each partition made compact as it is read.
fn compact_partitions<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<CompactPartition>>, D::Error> {
    use serde::de::{SeqAccess, Visitor};
    use std::fmt;
    struct List;
    impl<'de> Visitor<'de> for List {
        type Value = Vec<CompactPartition>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a sequence")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
            while let Some(p) = seq.next_element::<RawPartition>()? {
                out.push(p.into());
            }
            Ok(out)
        }
    }
    struct Maybe;
    impl<'de> Visitor<'de> for Maybe {
        type Value = Option<Vec<CompactPartition>>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("option")
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: serde::Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_seq(List).map(Some)
        }
    }
    d.deserialize_option(Maybe)
}

#[derive(Deserialize)]
#[serde(expecting = "a partition object with partition and replicas")]
struct RawPartition {
    partition: Option<i64>,
    replicas: Option<Vec<i64>>,
    isr: Option<Vec<i64>>,
    leader: Option<i64>,
    size_bytes: Option<u64>,
    // A partition in motion (see [`in_flight`]).
    target_replicas: Option<Vec<i64>>,
    adding_replicas: Option<Vec<i64>>,
    removing_replicas: Option<Vec<i64>>,
    /// Each replica's log dir, aligned with `replicas` (null: unknown).
    log_dirs: Option<Vec<Option<String>>>,
    /// Each replica's own bytes, aligned with `replicas` (null: the
    /// partition's `size_bytes`).
    replica_sizes: Option<Vec<Option<u64>>>,
}

/// Parses and validates a snapshot. `source` names the input in messages.
pub fn parse(source: &str, bytes: &[u8]) -> Result<Cluster, Problems> {
    parse_with_log_dirs(source, bytes).map(|(cluster, _)| cluster)
}

/// Parses and validates a snapshot with its log dirs (empty when the
/// snapshot records none).
pub fn parse_with_log_dirs(
    source: &str,
    bytes: &[u8],
) -> Result<(Cluster, LogDirLayout), Problems> {
    if let Some(read) = fast::read(source, bytes) {
        return read;
    }
    let raw: RawSnapshot = super::json::parse(source, bytes, EXPECTED)?;
    check(source, raw)
}

/// As [`parse_with_log_dirs`], the bytes let go of as soon as they are
/// read. The reader of the common shape ([`fast`]) holds them while it
/// builds the cluster (190 MB beside the cluster's 290 MB on a
/// 2M-partition snapshot, less than serde's form as read was); the serde
/// reader lets them go before it checks.
pub fn parse_owned_with_log_dirs(
    source: &str,
    bytes: Vec<u8>,
) -> Result<(Cluster, LogDirLayout), Problems> {
    if let Some(read) = fast::read(source, &bytes) {
        return read;
    }
    let raw: RawSnapshot = super::json::parse(source, &bytes, EXPECTED)?;
    drop(bytes);
    check(source, raw)
}

/// Checks a snapshot as read and builds its cluster and log dirs.
fn check(source: &str, raw: RawSnapshot) -> Result<(Cluster, LogDirLayout), Problems> {
    let mut problems = Vec::new();
    match &raw.version {
        None => problems.push(Problem::new("version", "missing required field")),
        Some(v) if v.as_i64() == Some(1) => {}
        Some(v) => problems.push(Problem::new(
            "version",
            format!("unsupported snapshot version {v}, expected 1"),
        )),
    }
    let Some(raw_brokers) = raw.brokers else {
        problems.push(Problem::new("brokers", "missing required field"));
        return Err(Problems::check(source, problems).unwrap_err());
    };
    let Some(raw_topics) = raw.topics else {
        problems.push(Problem::new("topics", "missing required field"));
        return Err(Problems::check(source, problems).unwrap_err());
    };
    let (brokers, refs, mut found) = check_brokers(raw_brokers, problems);

    let mut topics = Vec::with_capacity(raw_topics.len());
    for (ti, t) in raw_topics.into_iter().enumerate() {
        let name = match t.name {
            Some(n) => match check_topic_name(&n) {
                Ok(()) => n,
                Err(e) => {
                    found
                        .problems
                        .push(Problem::new(format!("topics[{ti}]"), e));
                    continue;
                }
            },
            None => {
                found.problems.push(Problem::new(
                    format!("topics[{ti}]"),
                    "missing required field `name`",
                ));
                continue;
            }
        };
        let Some(raw_parts) = t.partitions else {
            found.problems.push(Problem::new(
                format!("topic {name}"),
                "missing required field `partitions`",
            ));
            continue;
        };
        let mut partitions = Vec::with_capacity(raw_parts.len());
        for (pi, mut p) in raw_parts.into_iter().enumerate() {
            let dirs = p.rare.as_mut().and_then(|r| r.log_dirs.take());
            let own = p.rare.as_mut().and_then(|r| r.replica_sizes.take());
            add_partition(
                &name,
                pi,
                p.view(),
                PerReplica { dirs, own },
                &refs,
                &mut found,
                &mut partitions,
            );
        }
        topics.push(topic(name, partitions, &mut found.problems));
    }
    finish(source, brokers, topics, found)
}

/// What every partition is checked against: the snapshot's broker ids and
/// the log dirs brokers list.
struct Refs {
    known: Known,
    listed: BTreeMap<BrokerId, Vec<String>>,
}

/// What checking gives besides the cluster: the log dirs and the problems.
/// Each reader of a part of the topics has its own; [`Found::merge`] joins
/// them (problems are sorted before they are shown, so order is moot).
#[derive(Default)]
struct Found {
    layout: LogDirLayout,
    problems: Vec<Problem>,
}

impl Found {
    fn merge(&mut self, other: Found) {
        self.problems.extend(other.problems);
        for (b, dirs) in other.layout.brokers {
            let mine = self.layout.brokers.entry(b).or_default();
            for d in dirs {
                if let Err(at) = mine.binary_search(&d) {
                    mine.insert(at, d);
                }
            }
        }
        for (tp, dirs) in other.layout.replicas {
            self.layout.replicas.entry(tp).or_default().extend(dirs);
        }
        for (tp, sizes) in other.layout.sizes {
            self.layout.sizes.entry(tp).or_default().extend(sizes);
        }
    }
}

/// Checks the brokers as read (`problems` so far given) and sorts them.
fn check_brokers(
    raw_brokers: Vec<RawBroker>,
    mut problems: Vec<Problem>,
) -> (Vec<Broker>, Refs, Found) {
    let mut brokers = Vec::with_capacity(raw_brokers.len());
    let mut layout = LogDirLayout::default();
    let mut listed: BTreeMap<BrokerId, Vec<String>> = BTreeMap::new();
    for (i, b) in raw_brokers.into_iter().enumerate() {
        let Some(id) = b.id else {
            problems.push(Problem::new(
                format!("brokers[{i}]"),
                "missing required field `id`",
            ));
            continue;
        };
        let Some(id) = valid_id(id) else {
            problems.push(Problem::new(
                format!("brokers[{i}]"),
                format!("broker id {id} is not a valid id (0..2147483647)"),
            ));
            continue;
        };
        if let Some(dirs) = b.log_dirs {
            problems.extend(broker_dir_problems(id, &dirs));
            listed.insert(id, dirs.clone());
            layout.add_broker_dirs(id, dirs.into_iter().filter(|d| is_log_dir(d)));
        }
        brokers.push(Broker {
            id,
            rack: b.rack,
            host: b.host,
            port: b.port,
            alive: b.alive.unwrap_or(true),
        });
    }
    brokers.sort_by_key(|b| b.id);
    for w in brokers.windows(2) {
        if w[0].id == w[1].id {
            problems.push(Problem::new(
                format!("broker {}", w[0].id),
                "listed more than once",
            ));
        }
    }
    let known = Known::new(brokers.iter().map(|b| b.id));
    (brokers, Refs { known, listed }, Found { layout, problems })
}

/// A partition's lists aligned with its replicas, owned by the reader.
struct PerReplica {
    /// `log_dirs`.
    dirs: Option<Vec<Option<String>>>,
    /// `replica_sizes`.
    own: Option<Vec<Option<u64>>>,
}

/// Checks one partition as read and adds it to its topic's `partitions`
/// (a partition with problems too: a second entry of its number is then
/// reported as well).
fn add_partition(
    name: &str,
    index: usize,
    p: PartView,
    PerReplica { dirs, own }: PerReplica,
    refs: &Refs,
    found: &mut Found,
    partitions: &mut Vec<Partition>,
) {
    let Some(part) = partition(name, index, p, &refs.known, &mut found.problems) else {
        return;
    };
    if dirs.is_none() && own.is_none() {
        partitions.push(part);
        return;
    }
    let tp = TopicPartition {
        topic: name.to_string(),
        partition: part.partition,
    };
    if let Some(own) = own {
        replica_sizes(&tp, &part, own, &mut found.layout, &mut found.problems);
    }
    if let Some(dirs) = dirs {
        replica_dirs(
            tp,
            &part.replicas,
            dirs,
            &refs.listed,
            &mut found.layout,
            &mut found.problems,
        );
    }
    partitions.push(part);
}

/// A topic of checked partitions, sorted, its repeated numbers reported.
fn topic(name: String, mut partitions: Vec<Partition>, problems: &mut Vec<Problem>) -> Topic {
    partitions.sort_by_key(|p| p.partition);
    for w in partitions.windows(2) {
        if w[0].partition == w[1].partition {
            problems.push(Problem::new(
                format!("{name}-{}", w[0].partition),
                "partition listed more than once",
            ));
        }
    }
    Topic { name, partitions }
}

/// The cluster of checked brokers and topics, or every problem found.
fn finish(
    source: &str,
    brokers: Vec<Broker>,
    mut topics: Vec<Topic>,
    found: Found,
) -> Result<(Cluster, LogDirLayout), Problems> {
    let mut problems = found.problems;
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    for w in topics.windows(2) {
        if w[0].name == w[1].name {
            problems.push(Problem::new(
                format!("topic {}", w[0].name),
                "listed more than once",
            ));
        }
    }
    Problems::check(source, problems)?;
    Ok((Cluster { brokers, topics }, found.layout))
}

/// A partition's `replica_sizes`: as long as `replicas`, each a size or
/// null (the partition's `size_bytes`).
fn replica_sizes(
    tp: &TopicPartition,
    part: &Partition,
    sizes: Vec<Option<u64>>,
    layout: &mut LogDirLayout,
    problems: &mut Vec<Problem>,
) {
    if sizes.len() != part.replicas.len() {
        problems.push(Problem::new(
            tp.to_string(),
            format!(
                "replica_sizes has {} entries but replicas has {} (one per replica, null for size_bytes)",
                sizes.len(),
                part.replicas.len()
            ),
        ));
        return;
    }
    for (&b, size) in part.replicas.iter().zip(sizes) {
        if let Some(size) = size {
            layout.set_size(tp, b, size, part.size_bytes);
        }
    }
}

/// A partition's `log_dirs`: as long as `replicas`, each an absolute path
/// or null, and one of its broker's listed dirs when the broker lists them.
fn replica_dirs(
    tp: TopicPartition,
    replicas: &[BrokerId],
    dirs: Vec<Option<String>>,
    listed: &BTreeMap<BrokerId, Vec<String>>,
    layout: &mut LogDirLayout,
    problems: &mut Vec<Problem>,
) {
    let loc = tp.to_string();
    if dirs.len() != replicas.len() {
        problems.push(Problem::new(
            loc,
            format!(
                "log_dirs has {} entries but replicas has {} (one per replica, null where unknown)",
                dirs.len(),
                replicas.len()
            ),
        ));
        return;
    }
    for (&b, dir) in replicas.iter().zip(dirs) {
        let Some(dir) = dir else { continue };
        if !is_log_dir(&dir) {
            problems.push(Problem::new(
                &loc,
                format!(
                    "log dir {dir:?} of broker {b} is not an absolute path (null where unknown)"
                ),
            ));
            continue;
        }
        if let Some(of_broker) = listed.get(&b)
            && !of_broker.contains(&dir)
        {
            problems.push(Problem::new(
                &loc,
                format!(
                    "log dir {dir} is not one of broker {b}'s log_dirs ({})",
                    of_broker.join(", ")
                ),
            ));
            continue;
        }
        layout.insert(tp.clone(), b, dir);
    }
}

/// The snapshot's broker ids, looked up once per replica listed, millions
/// of times: a table for the ids below [`Known::DENSE`] (every real
/// cluster's), a fast hash rather than SipHash for the others (the file is
/// the operator's own; a crafted one could only slow its own reading).
struct Known {
    dense: Vec<bool>,
    rest: rustc_hash::FxHashSet<BrokerId>,
}

impl Known {
    const DENSE: usize = 1 << 16;

    fn new(ids: impl Iterator<Item = BrokerId>) -> Known {
        let mut known = Known {
            dense: Vec::new(),
            rest: Default::default(),
        };
        for id in ids {
            match usize::try_from(id) {
                Ok(i) if i < Self::DENSE => {
                    if known.dense.len() <= i {
                        known.dense.resize(i + 1, false);
                    }
                    known.dense[i] = true;
                }
                _ => {
                    known.rest.insert(id);
                }
            }
        }
        known
    }

    fn contains(&self, id: &BrokerId) -> bool {
        match usize::try_from(*id) {
            Ok(i) if i < Self::DENSE => self.dense.get(i).copied().unwrap_or(false),
            _ => self.rest.contains(id),
        }
    }
}

/// Where a partition's problems are reported (`topic-N`), made a string
/// only for a problem: formatting it for each of millions of partitions
/// was a good part of reading a snapshot.
#[derive(Clone, Copy)]
struct Loc<'a> {
    topic: &'a str,
    number: i32,
}

impl From<Loc<'_>> for String {
    fn from(l: Loc<'_>) -> String {
        format!("{}-{}", l.topic, l.number)
    }
}

fn valid_id(id: i64) -> Option<i32> {
    i32::try_from(id).ok().filter(|&v| v >= 0)
}

/// A partition's fields as read, borrowed from whichever reader read them.
struct PartView<'a> {
    partition: Option<i64>,
    replicas: Option<&'a [i64]>,
    isr: Option<&'a [i64]>,
    leader: Option<i64>,
    size_bytes: Option<u64>,
    /// `target_replicas`, `adding_replicas`, `removing_replicas`.
    moving: [Option<&'a [i64]>; 3],
}

impl CompactPartition {
    fn view(&self) -> PartView<'_> {
        let rare = self.rare.as_deref();
        let moving = |f: fn(&RareFields) -> &Option<Vec<i64>>| rare.and_then(|r| f(r).as_deref());
        PartView {
            partition: self.partition,
            replicas: self.replicas.as_deref(),
            isr: self.isr.as_deref(),
            leader: self.leader,
            size_bytes: self.size_bytes,
            moving: [
                moving(|r| &r.target_replicas),
                moving(|r| &r.adding_replicas),
                moving(|r| &r.removing_replicas),
            ],
        }
    }
}

fn partition(
    topic: &str,
    index: usize,
    p: PartView,
    known: &Known,
    problems: &mut Vec<Problem>,
) -> Option<Partition> {
    let Some(number) = p.partition else {
        problems.push(Problem::new(
            format!("topic {topic} partitions[{index}]"),
            "missing required field `partition`",
        ));
        return None;
    };
    let Some(number) = valid_id(number) else {
        problems.push(Problem::new(
            format!("topic {topic} partitions[{index}]"),
            format!("partition number {number} is negative or too large"),
        ));
        return None;
    };
    let loc = Loc { topic, number };
    let Some(raw_replicas) = p.replicas else {
        problems.push(Problem::new(loc, "missing required field `replicas`"));
        return None;
    };
    let replicas = broker_list(loc, "replicas", raw_replicas, known, problems);
    if replicas.is_empty() && raw_replicas.is_empty() {
        problems.push(Problem::new(loc, "empty replica list"));
    }
    let isr = match p.isr {
        Some(isr) => {
            let isr = broker_list(loc, "isr", isr, known, problems);
            for b in &isr {
                if !replicas.contains(b) {
                    problems.push(Problem::new(
                        loc,
                        format!("isr names broker {b}, which is not a replica"),
                    ));
                }
            }
            isr
        }
        None => replicas.clone(),
    };
    // Kafka reports a partition without a leader as -1.
    let leader = match p.leader {
        None => replicas.first().copied(),
        Some(l) if l < 0 => None,
        Some(l) => match valid_id(l) {
            Some(l) if replicas.contains(&l) => Some(l),
            _ => {
                problems.push(Problem::new(
                    loc,
                    format!("leader {l} is not one of the replicas"),
                ));
                None
            }
        },
    };
    let in_flight = in_flight(loc, p.moving, &replicas, known, problems);
    // A partition with problems stays listed, so that a second entry of
    // its number is reported too; the snapshot is refused either way.
    Some(Partition {
        partition: number,
        replicas,
        isr,
        leader,
        size_bytes: p.size_bytes.unwrap_or(0),
        in_flight: in_flight.map(Box::new),
    })
}

/// A partition in motion: any of `target_replicas`, `adding_replicas`,
/// `removing_replicas` present. As Kafka reports a move, `replicas` is the
/// target followed by the replicas being removed, and the adding replicas
/// are part of the target; either of target and removing gives the other.
fn in_flight(
    loc: Loc,
    [raw_target, raw_adding, raw_removing]: [Option<&[i64]>; 3],
    replicas: &[BrokerId],
    known: &Known,
    problems: &mut Vec<Problem>,
) -> Option<InFlight> {
    if raw_target.is_none() && raw_adding.is_none() && raw_removing.is_none() {
        return None;
    }
    let before = problems.len();
    let mut list = |field: &str, v: Option<&[i64]>| {
        let list = broker_list(loc, field, v.unwrap_or(&[]), known, problems);
        for b in &list {
            if !replicas.contains(b) {
                problems.push(Problem::new(
                    loc,
                    format!("{field} names broker {b}, which is not in `replicas` (while a partition moves, `replicas` lists the target and the removing replicas)"),
                ));
            }
        }
        list
    };
    let target_given = list("target_replicas", raw_target);
    let adding = list("adding_replicas", raw_adding);
    let mut removing = list("removing_replicas", raw_removing);
    let target = if raw_target.is_some() {
        if raw_removing.is_none() {
            removing = replicas
                .iter()
                .copied()
                .filter(|b| !target_given.contains(b))
                .collect();
        }
        target_given
    } else {
        replicas
            .iter()
            .copied()
            .filter(|b| !removing.contains(b))
            .collect()
    };
    for b in replicas {
        match (target.contains(b), removing.contains(b)) {
            (true, true) => problems.push(Problem::new(
                loc,
                format!("broker {b} is both in target_replicas and in removing_replicas"),
            )),
            (false, false) => problems.push(Problem::new(
                loc,
                format!("broker {b} is a replica but neither in target_replicas nor in removing_replicas"),
            )),
            _ => {}
        }
    }
    for b in &adding {
        if removing.contains(b) {
            problems.push(Problem::new(
                loc,
                format!("broker {b} is both in adding_replicas and in removing_replicas"),
            ));
        }
    }
    if target.is_empty() && problems.len() == before {
        problems.push(Problem::new(loc, "empty target_replicas"));
    }
    (problems.len() == before).then_some(InFlight {
        target,
        adding,
        removing,
    })
}

fn broker_list(
    loc: Loc,
    field: &str,
    raw: &[i64],
    known: &Known,
    problems: &mut Vec<Problem>,
) -> Vec<BrokerId> {
    let mut out = Vec::with_capacity(raw.len());
    for &b in raw {
        match valid_id(b) {
            None => problems.push(Problem::new(
                loc,
                format!("{field} names invalid broker id {b}"),
            )),
            Some(id) if !known.contains(&id) => problems.push(Problem::new(
                loc,
                format!("{field} names broker {id}, which is not in the snapshot"),
            )),
            Some(id) if out.contains(&id) => {
                problems.push(Problem::new(loc, format!("{field} repeats broker {id}")))
            }
            Some(id) => out.push(id),
        }
    }
    out
}

#[derive(Serialize)]
struct OutSnapshot<'a> {
    version: u32,
    brokers: Vec<OutBroker<'a>>,
    topics: Vec<OutTopic<'a>>,
}

#[derive(Serialize)]
struct OutBroker<'a> {
    id: BrokerId,
    #[serde(skip_serializing_if = "Option::is_none")]
    rack: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    port: Option<u16>,
    alive: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    log_dirs: Option<&'a [String]>,
}

#[derive(Serialize)]
struct OutTopic<'a> {
    name: &'a str,
    partitions: Vec<OutPartition<'a>>,
}

#[derive(Serialize)]
struct OutPartition<'a> {
    partition: i32,
    replicas: &'a [BrokerId],
    isr: &'a [BrokerId],
    leader: i32,
    size_bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    target_replicas: Option<&'a [BrokerId]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    adding_replicas: Option<&'a [BrokerId]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    removing_replicas: Option<&'a [BrokerId]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    log_dirs: Option<Vec<Option<&'a str>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    replica_sizes: Option<Vec<u64>>,
}

/// Writes a snapshot as compact JSON (one line), the inverse of [`parse`].
pub fn to_json(cluster: &Cluster) -> String {
    to_json_with_log_dirs(cluster, &LogDirLayout::default())
}

/// Writes a snapshot with its log dirs, the inverse of
/// [`parse_with_log_dirs`]: a broker's `log_dirs` when its dirs are known,
/// a partition's when any of its replicas' is, and `replica_sizes` where a
/// replica's own size is not the partition's.
pub fn to_json_with_log_dirs(cluster: &Cluster, layout: &LogDirLayout) -> String {
    let out = OutSnapshot {
        version: 1,
        brokers: cluster
            .brokers
            .iter()
            .map(|b| OutBroker {
                id: b.id,
                rack: b.rack.as_deref(),
                host: b.host.as_deref(),
                port: b.port,
                alive: b.alive,
                log_dirs: layout.brokers.get(&b.id).map(Vec::as_slice),
            })
            .collect(),
        topics: cluster
            .topics
            .iter()
            .map(|t| OutTopic {
                name: &t.name,
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| {
                        let tp = || TopicPartition {
                            topic: t.name.clone(),
                            partition: p.partition,
                        };
                        let own = |tp: TopicPartition| {
                            layout.sizes.contains_key(&tp).then(|| {
                                p.replicas
                                    .iter()
                                    .map(|&b| layout.size_of(&tp, b, p.size_bytes))
                                    .collect()
                            })
                        };
                        OutPartition {
                            log_dirs: (!layout.replicas.is_empty())
                                .then(|| layout.aligned(&tp(), &p.replicas))
                                .flatten(),
                            replica_sizes: (!layout.sizes.is_empty()).then(|| own(tp())).flatten(),
                            partition: p.partition,
                            replicas: &p.replicas,
                            isr: &p.isr,
                            leader: p.leader.unwrap_or(-1),
                            size_bytes: p.size_bytes,
                            target_replicas: p.in_flight.as_ref().map(|m| m.target.as_slice()),
                            adding_replicas: p.in_flight.as_ref().map(|m| m.adding.as_slice()),
                            removing_replicas: p.in_flight.as_ref().map(|m| m.removing.as_slice()),
                        }
                    })
                    .collect(),
            })
            .collect(),
    };
    serde_json::to_string(&out).expect("snapshot serialization cannot fail")
}
