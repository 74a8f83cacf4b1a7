//! The cluster model and the file formats operators already use.
//!
//! Pure data: nothing here opens a file or a socket. Parsing takes bytes and
//! returns a validated value or every problem found, each naming the
//! topic-partition or broker it is about.

pub mod health;
mod json;
pub mod live;
pub mod log_dirs;
pub mod problem;
pub mod reassignment;
pub mod snapshot;

use std::collections::HashMap;
use std::fmt;

use serde::Serialize;

pub use health::InFlight;
pub use problem::{Problem, Problems};

/// Kafka's broker id (an `int32` on the wire).
pub type BrokerId = i32;

/// Kafka's rule for topic names, as every message about one states it.
pub const TOPIC_NAME_RULE: &str =
    "a topic name is 1 to 249 characters from [a-zA-Z0-9._-], and not \".\" or \"..\"";

/// Checks a topic name against Kafka's rule (`Topic.validate`): a name
/// Kafka would refuse cannot be in a real cluster, and a plan naming one
/// can only fail at submission. The error quotes the name (shortened when
/// long), says what is wrong with it, and states the rule.
pub fn check_topic_name(name: &str) -> Result<(), String> {
    let why = if name.is_empty() {
        "it is empty".to_string()
    } else if name == "." || name == ".." {
        "it is reserved".to_string()
    } else if name.chars().count() > 249 {
        format!("it has {} characters", name.chars().count())
    } else if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        format!("it contains {c:?}")
    } else {
        return Ok(());
    };
    Err(format!(
        "invalid topic name {} ({why}): {TOPIC_NAME_RULE}",
        quote_name(name)
    ))
}

/// A name as a message shows it: quoted and escaped, cut after 40
/// characters so one bad name cannot flood the terminal.
fn quote_name(name: &str) -> String {
    const SHOWN: usize = 40;
    if name.chars().count() <= SHOWN {
        format!("{name:?}")
    } else {
        let head: String = name.chars().take(SHOWN).collect();
        format!("{head:?}...")
    }
}

/// The rack names of generated clusters (`gen-snapshot`, the
/// mini-broker): `rack-a` to `rack-z`, then `rack-aa`, `rack-ab`, ..., so
/// every index has its own name.
pub fn rack_name(index: usize) -> String {
    let mut letters = Vec::new();
    let mut n = index + 1;
    while n > 0 {
        n -= 1;
        letters.push(b'a' + (n % 26) as u8);
        n /= 26;
    }
    letters.reverse();
    format!(
        "rack-{}",
        String::from_utf8(letters).expect("ASCII letters")
    )
}

/// A topic and a partition number, ordered as Kafka's tools order them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broker {
    pub id: BrokerId,
    pub rack: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub alive: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    pub partition: i32,
    /// Ordered: the first broker is the preferred leader.
    pub replicas: Vec<BrokerId>,
    pub isr: Vec<BrokerId>,
    pub leader: Option<BrokerId>,
    pub size_bytes: u64,
    /// A reassignment in progress, if any; `replicas` is then what Kafka
    /// reports while it runs: the target followed by the replicas being
    /// removed (see [`health`]).
    /// Boxed: partitions in motion are few, and an inline `InFlight`
    /// (three lists) made every partition of a million-partition snapshot
    /// 64 bytes larger.
    pub in_flight: Option<Box<InFlight>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic {
    pub name: String,
    /// Sorted by partition number, no duplicates.
    pub partitions: Vec<Partition>,
}

/// A validated cluster: brokers sorted by id, topics sorted by name,
/// partitions sorted by number, every replica on a known broker.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cluster {
    pub brokers: Vec<Broker>,
    pub topics: Vec<Topic>,
}

impl Cluster {
    pub fn broker(&self, id: BrokerId) -> Option<&Broker> {
        self.brokers
            .binary_search_by_key(&id, |b| b.id)
            .ok()
            .map(|i| &self.brokers[i])
    }

    pub fn topic(&self, name: &str) -> Option<&Topic> {
        self.topics
            .binary_search_by(|t| t.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.topics[i])
    }

    pub fn partition(&self, tp: &TopicPartition) -> Option<&Partition> {
        let t = self.topic(&tp.topic)?;
        t.partitions
            .binary_search_by_key(&tp.partition, |p| p.partition)
            .ok()
            .map(|i| &t.partitions[i])
    }

    pub fn partition_count(&self) -> usize {
        self.topics.iter().map(|t| t.partitions.len()).sum()
    }

    /// Every partition in (topic, partition) order with a dense index.
    pub fn partitions(&self) -> impl Iterator<Item = (&Topic, &Partition)> {
        self.topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(move |p| (t, p)))
    }

    /// Whether racks are usable: every alive broker has one. Some but not
    /// all is an error for planning (as in Kafka); none means rack-unaware.
    /// Dead brokers are left out: a broker that is gone from the metadata
    /// has no known rack, and it only ever gives replicas up.
    pub fn rack_coverage(&self) -> RackCoverage {
        let alive = || self.brokers.iter().filter(|b| b.alive);
        let with = alive().filter(|b| b.rack.is_some()).count();
        match with {
            0 => RackCoverage::None,
            n if n == alive().count() => RackCoverage::All,
            _ => {
                RackCoverage::Partial(alive().filter(|b| b.rack.is_none()).map(|b| b.id).collect())
            }
        }
    }

    /// Index of brokers by id, for callers that look many up.
    pub fn broker_index(&self) -> HashMap<BrokerId, usize> {
        self.brokers
            .iter()
            .enumerate()
            .map(|(i, b)| (b.id, i))
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RackCoverage {
    None,
    All,
    /// The brokers without a rack.
    Partial(Vec<BrokerId>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rack_names_never_repeat() {
        assert_eq!(rack_name(0), "rack-a");
        assert_eq!(rack_name(25), "rack-z");
        assert_eq!(rack_name(26), "rack-aa");
        assert_eq!(rack_name(27), "rack-ab");
        assert_eq!(rack_name(26 + 26 * 26), "rack-aaa");
        let names: std::collections::HashSet<String> = (0..2000).map(rack_name).collect();
        assert_eq!(names.len(), 2000);
    }

    #[test]
    fn topic_names_follow_kafka() {
        for ok in ["orders", "a", "A-b_c.9", &"x".repeat(249), "..."] {
            assert_eq!(check_topic_name(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("", "it is empty"),
            (".", "it is reserved"),
            ("..", "it is reserved"),
            ("a b", "it contains ' '"),
            ("é", "it contains 'é'"),
            ("a:b", "it contains ':'"),
        ] {
            let e = check_topic_name(bad).unwrap_err();
            assert!(
                e.contains(why) && e.contains(TOPIC_NAME_RULE),
                "{bad:?}: {e}"
            );
        }
        let long = check_topic_name(&"x".repeat(250)).unwrap_err();
        assert!(long.contains("it has 250 characters"), "{long}");
        assert!(long.len() < 200, "a long name is cut: {long}");
    }
}
