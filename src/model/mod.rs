//! The cluster model and the file formats operators already use.
//!
//! Pure data: nothing here opens a file or a socket. Parsing takes bytes and
//! returns a validated value or every problem found, each naming the
//! topic-partition or broker it is about.

pub mod health;
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
    pub in_flight: Option<InFlight>,
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
