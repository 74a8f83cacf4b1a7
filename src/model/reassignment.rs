//! Kafka's reassignment JSON (what `kafka-reassign-partitions.sh` reads and
//! writes) and its topics-to-move JSON.
//!
//! Output matches the official tool byte for byte: compact JSON, partitions
//! sorted by (topic, partition), `log_dirs` always present.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::{BrokerId, Cluster, Problem, Problems, TopicPartition, check_topic_name};

/// The `log_dirs` entry meaning "whichever disk the broker picks".
pub const ANY_LOG_DIR: &str = "any";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    pub tp: TopicPartition,
    /// Ordered: the first broker is the preferred leader.
    pub replicas: Vec<BrokerId>,
    /// Same length as `replicas`: `any` or an absolute path.
    pub log_dirs: Vec<String>,
}

impl Move {
    pub fn new(tp: TopicPartition, replicas: Vec<BrokerId>) -> Self {
        let log_dirs = vec![ANY_LOG_DIR.to_string(); replicas.len()];
        Move {
            tp,
            replicas,
            log_dirs,
        }
    }
}

/// A reassignment plan: sorted by topic-partition, each listed once, no
/// broker repeated within a list, `log_dirs` as long as `replicas`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reassignment {
    moves: Vec<Move>,
}

impl Reassignment {
    /// Builds a plan from moves, rejecting what Kafka's tool rejects.
    pub fn new(source: &str, mut moves: Vec<Move>) -> Result<Self, Problems> {
        moves.sort_by(|a, b| a.tp.cmp(&b.tp));
        Problems::check(source, shape_problems(&moves))?;
        Ok(Reassignment { moves })
    }

    pub fn moves(&self) -> &[Move] {
        &self.moves
    }

    /// The cluster's assignment (replica lists in `Cluster::partitions()`
    /// order) once every move of this plan is made. A move naming a
    /// partition the cluster does not have changes nothing
    /// ([`check_references`] reports it).
    pub fn applied_to(&self, cluster: &Cluster) -> Vec<Vec<BrokerId>> {
        let mut after: Vec<Vec<BrokerId>> = cluster
            .partitions()
            .map(|(_, p)| p.replicas.clone())
            .collect();
        let index: std::collections::HashMap<(&str, i32), usize> = cluster
            .partitions()
            .enumerate()
            .map(|(i, (t, p))| ((t.name.as_str(), p.partition), i))
            .collect();
        for m in &self.moves {
            if let Some(&i) = index.get(&(m.tp.topic.as_str(), m.tp.partition)) {
                after[i] = m.replicas.clone();
            }
        }
        after
    }

    pub fn is_empty(&self) -> bool {
        self.moves.is_empty()
    }

    pub fn len(&self) -> usize {
        self.moves.len()
    }

    /// Problems with references into a cluster: unknown topics, partitions
    /// and brokers.
    pub fn check_references(&self, cluster: &Cluster) -> Vec<Problem> {
        check_references(&self.moves, cluster)
    }
}

/// What Kafka's tool rejects in a list of moves sorted by topic-partition:
/// duplicates, empty or repeated replica lists, bad `log_dirs`.
fn shape_problems(moves: &[Move]) -> Vec<Problem> {
    let mut problems = Vec::new();
    for w in moves.windows(2) {
        if w[0].tp == w[1].tp {
            problems.push(Problem::new(w[0].tp.to_string(), "partition listed twice"));
        }
    }
    for m in moves {
        check_move(m, &mut problems);
    }
    problems
}

/// Problems with references into a cluster: unknown topics, partitions
/// and brokers.
pub fn check_references(moves: &[Move], cluster: &Cluster) -> Vec<Problem> {
    let mut problems = Vec::new();
    for m in moves {
        let loc = m.tp.to_string();
        if cluster.topic(&m.tp.topic).is_none() {
            problems.push(Problem::new(loc, format!("unknown topic {}", m.tp.topic)));
            continue;
        }
        if cluster.partition(&m.tp).is_none() {
            problems.push(Problem::new(
                loc,
                format!(
                    "unknown partition {} of topic {}",
                    m.tp.partition, m.tp.topic
                ),
            ));
            continue;
        }
        for b in &m.replicas {
            if *b >= 0 && cluster.broker(*b).is_none() {
                problems.push(Problem::new(&loc, format!("unknown broker {b}")));
            }
        }
    }
    problems
}

fn check_move(m: &Move, problems: &mut Vec<Problem>) {
    let loc = m.tp.to_string();
    if m.tp.partition < 0 {
        problems.push(Problem::new(&loc, "negative partition number"));
    }
    if m.replicas.is_empty() {
        problems.push(Problem::new(&loc, "empty replica list"));
    }
    let mut seen = HashSet::new();
    for &b in &m.replicas {
        if b < 0 {
            problems.push(Problem::new(&loc, format!("invalid broker id {b}")));
        } else if !seen.insert(b) {
            problems.push(Problem::new(
                &loc,
                format!("broker {b} repeated in the replica list"),
            ));
        }
    }
    if m.log_dirs.len() != m.replicas.len() {
        problems.push(Problem::new(
            &loc,
            format!(
                "log_dirs has {} entries but replicas has {}",
                m.log_dirs.len(),
                m.replicas.len()
            ),
        ));
    }
    for d in &m.log_dirs {
        if d != ANY_LOG_DIR && !d.starts_with('/') {
            problems.push(Problem::new(
                &loc,
                format!("log dir {d:?} is neither \"any\" nor an absolute path"),
            ));
        }
    }
}

#[derive(Deserialize)]
#[serde(expecting = "a reassignment object with version and partitions")]
struct RawPlan {
    version: Option<serde_json::Value>,
    partitions: Option<Vec<RawMove>>,
}

#[derive(Deserialize)]
#[serde(expecting = "a partition object with topic, partition and replicas")]
struct RawMove {
    topic: Option<String>,
    partition: Option<i64>,
    replicas: Option<Vec<i64>>,
    log_dirs: Option<Vec<String>>,
}

/// Parses a reassignment plan and checks its shape (not its references).
pub fn parse(source: &str, bytes: &[u8]) -> Result<Reassignment, Problems> {
    let (moves, problems) = parse_moves(source, bytes)?;
    Problems::check(source, problems)?;
    Ok(Reassignment { moves })
}

/// Parses a plan's moves (sorted) and lists every shape problem beside
/// them, so a caller can report those together with reference problems.
/// Only unreadable JSON is an error here.
pub fn parse_moves(source: &str, bytes: &[u8]) -> Result<(Vec<Move>, Vec<Problem>), Problems> {
    let raw: RawPlan = super::json::parse(
        source,
        bytes,
        "a reassignment object with version and partitions",
    )?;
    let mut problems = Vec::new();
    check_version(&raw.version, &mut problems);
    let raw_moves = raw.partitions.unwrap_or_default();
    if raw_moves.is_empty() {
        problems.push(Problem::new("partitions", "the reassignment list is empty"));
    }
    let mut moves = Vec::with_capacity(raw_moves.len());
    for (i, r) in raw_moves.into_iter().enumerate() {
        let (Some(topic), Some(partition), Some(replicas)) = (r.topic, r.partition, r.replicas)
        else {
            problems.push(Problem::new(
                format!("partitions[{i}]"),
                "needs `topic`, `partition` and `replicas`",
            ));
            continue;
        };
        // Checked here, where the entry's index can locate it: a bad name
        // would make an unreadable location of its own.
        if let Err(e) = check_topic_name(&topic) {
            problems.push(Problem::new(format!("partitions[{i}]"), e));
            continue;
        }
        let Ok(partition) = i32::try_from(partition) else {
            problems.push(Problem::new(
                format!("partitions[{i}]"),
                format!("partition number {partition} is out of range"),
            ));
            continue;
        };
        let tp = TopicPartition { topic, partition };
        let mut ids = Vec::with_capacity(replicas.len());
        for b in replicas {
            match i32::try_from(b) {
                Ok(b) => ids.push(b),
                Err(_) => problems.push(Problem::new(
                    tp.to_string(),
                    format!("invalid broker id {b}"),
                )),
            }
        }
        let log_dirs = r
            .log_dirs
            .unwrap_or_else(|| vec![ANY_LOG_DIR.to_string(); ids.len()]);
        moves.push(Move {
            tp,
            replicas: ids,
            log_dirs,
        });
    }
    moves.sort_by(|a, b| a.tp.cmp(&b.tp));
    problems.extend(shape_problems(&moves));
    problems.sort();
    problems.dedup();
    Ok((moves, problems))
}

fn check_version(version: &Option<serde_json::Value>, problems: &mut Vec<Problem>) {
    if let Some(v) = version
        && v.as_i64() != Some(1)
    {
        problems.push(Problem::new(
            "version",
            format!("unsupported version {v}, expected 1"),
        ));
    }
}

#[derive(Serialize)]
struct OutPlan<'a> {
    version: u32,
    partitions: Vec<OutMove<'a>>,
}

#[derive(Serialize)]
struct OutMove<'a> {
    topic: &'a str,
    partition: i32,
    replicas: &'a [BrokerId],
    log_dirs: &'a [String],
}

/// One partition of a plan whose replicas go to whichever dir their broker
/// picks (`log_dirs` all `any`), borrowed from where it is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub replicas: &'a [BrokerId],
}

/// Writes a plan entry by entry, byte for byte as [`to_json`] writes the
/// same moves, without holding them or the JSON: `entries` must come
/// sorted by topic-partition, each listed once, as [`Reassignment::new`]
/// sorts and checks them.
pub fn write_json<'a>(
    w: &mut dyn std::io::Write,
    entries: impl Iterator<Item = Entry<'a>>,
) -> std::io::Result<()> {
    #[derive(Serialize)]
    struct OutEntry<'a> {
        topic: &'a str,
        partition: i32,
        replicas: &'a [BrokerId],
        log_dirs: AnyDirs,
    }
    /// `any` once per replica.
    struct AnyDirs(usize);
    impl Serialize for AnyDirs {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(std::iter::repeat_n(ANY_LOG_DIR, self.0))
        }
    }
    // Entries are serialized into a buffer of our own and handed to `w` in
    // large pieces: serde_json writing straight into `dyn Write` made a
    // dynamic call for every token (a million-entry plan has tens of
    // millions). The framing is serde_json's compact form of
    // `{"version":1,"partitions":[...]}`, as `to_json` writes it.
    const CHUNK: usize = 1 << 16;
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK + 4096);
    buf.extend_from_slice(br#"{"version":1,"partitions":["#);
    for (i, e) in entries.enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        let entry = OutEntry {
            topic: e.topic,
            partition: e.partition,
            replicas: e.replicas,
            log_dirs: AnyDirs(e.replicas.len()),
        };
        serde_json::to_writer(&mut buf, &entry).map_err(std::io::Error::from)?;
        if buf.len() >= CHUNK {
            w.write_all(&buf)?;
            buf.clear();
        }
    }
    buf.extend_from_slice(b"]}");
    w.write_all(&buf)
}

/// Compact JSON exactly as `kafka-reassign-partitions.sh` writes it.
pub fn to_json(plan: &Reassignment) -> String {
    let out = OutPlan {
        version: 1,
        partitions: plan
            .moves
            .iter()
            .map(|m| OutMove {
                topic: &m.tp.topic,
                partition: m.tp.partition,
                replicas: &m.replicas,
                log_dirs: &m.log_dirs,
            })
            .collect(),
    };
    serde_json::to_string(&out).expect("plan serialization cannot fail")
}

#[derive(Deserialize)]
#[serde(expecting = "a topics-to-move object with version and topics")]
struct RawTopics {
    version: Option<serde_json::Value>,
    topics: Option<Vec<RawTopicRef>>,
}

#[derive(Deserialize)]
#[serde(expecting = "a topic object such as {\"topic\": \"orders\"}")]
struct RawTopicRef {
    topic: Option<String>,
}

/// Parses Kafka's topics-to-move JSON: `{"version":1,"topics":[{"topic":"t"}]}`.
/// Returns the names sorted and de-duplicated.
pub fn parse_topics(source: &str, bytes: &[u8]) -> Result<Vec<String>, Problems> {
    let raw: RawTopics = super::json::parse(
        source,
        bytes,
        "a topics-to-move object with version and topics",
    )?;
    let mut problems = Vec::new();
    check_version(&raw.version, &mut problems);
    let mut names = Vec::new();
    match raw.topics {
        None => problems.push(Problem::new("topics", "missing required field")),
        Some(list) if list.is_empty() => problems.push(Problem::new("topics", "empty topic list")),
        Some(list) => {
            for (i, t) in list.into_iter().enumerate() {
                match t.topic {
                    Some(n) if !n.is_empty() => match check_topic_name(&n) {
                        Ok(()) => names.push(n),
                        Err(e) => problems.push(Problem::new(format!("topics[{i}]"), e)),
                    },
                    _ => problems.push(Problem::new(
                        format!("topics[{i}]"),
                        "missing or empty `topic`",
                    )),
                }
            }
        }
    }
    Problems::check(source, problems)?;
    names.sort();
    names.dedup();
    Ok(names)
}

/// Kafka's topics-to-move JSON for these topics.
pub fn topics_to_json(topics: &[String]) -> String {
    #[derive(Serialize)]
    struct Out<'a> {
        version: u32,
        topics: Vec<TopicRef<'a>>,
    }
    #[derive(Serialize)]
    struct TopicRef<'a> {
        topic: &'a str,
    }
    let out = Out {
        version: 1,
        topics: topics.iter().map(|t| TopicRef { topic: t }).collect(),
    };
    serde_json::to_string(&out).expect("topic list serialization cannot fail")
}
