//! What a live cluster reports and accepts, as plain data: moves in flight
//! (ListPartitionReassignments) and config changes (IncrementalAlterConfigs).
//!
//! These are the executor's vocabulary. The wire client turns them into
//! requests and responses; `exec` computes them without any I/O.

use std::fmt;

use super::{BrokerId, TopicPartition};

/// A move in flight, as ListPartitionReassignments reports it (KIP-455):
/// `replicas` is the target followed by the replicas being removed, so the
/// target is `replicas - removing` and the original set `replicas - adding`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct InFlight {
    pub tp: TopicPartition,
    pub replicas: Vec<BrokerId>,
    pub adding: Vec<BrokerId>,
    pub removing: Vec<BrokerId>,
}

impl InFlight {
    /// The replicas the move copies from: those it started with, which are
    /// `replicas - adding` (Kafka's tool calls them the move's sources).
    pub fn original(&self) -> Vec<BrokerId> {
        self.replicas
            .iter()
            .copied()
            .filter(|b| !self.adding.contains(b))
            .collect()
    }

    /// Where the move ends: `replicas - removing`, in order.
    pub fn target(&self) -> Vec<BrokerId> {
        self.replicas
            .iter()
            .copied()
            .filter(|b| !self.removing.contains(b))
            .collect()
    }
}

/// A config resource: a broker's dynamic configs or a topic's. Brokers sort
/// before topics, each by id or name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConfigResource {
    Broker(BrokerId),
    Topic(String),
}

impl fmt::Display for ConfigResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigResource::Broker(id) => write!(f, "broker {id}"),
            ConfigResource::Topic(t) => write!(f, "topic {t}"),
        }
    }
}

/// One IncrementalAlterConfigs operation on one key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConfigOp {
    pub resource: ConfigResource,
    pub key: String,
    pub op: AlterOp,
}

/// The operation kinds of IncrementalAlterConfigs (KIP-339). `Append` and
/// `Subtract` apply to list configs only; on the wire their values are
/// joined with commas, and the broker adds each value not yet in the list
/// (in the order given, after the existing ones) or removes it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum AlterOp {
    Set(String),
    Delete,
    Append(Vec<String>),
    Subtract(Vec<String>),
}

impl AlterOp {
    /// The operation code on the wire (SET=0, DELETE=1, APPEND=2,
    /// SUBTRACT=3).
    pub fn code(&self) -> i8 {
        match self {
            AlterOp::Set(_) => 0,
            AlterOp::Delete => 1,
            AlterOp::Append(_) => 2,
            AlterOp::Subtract(_) => 3,
        }
    }

    /// The value sent with the operation (none for a delete).
    pub fn wire_value(&self) -> Option<String> {
        match self {
            AlterOp::Set(v) => Some(v.clone()),
            AlterOp::Delete => None,
            AlterOp::Append(vs) | AlterOp::Subtract(vs) => Some(vs.join(",")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_flight_original_and_target_follow_kip_455() {
        // Kafka's own example (testCurReassignmentsToString): foo-1 moving
        // from [1,2,3] to [4,5,3] is listed as replicas [4,5,3,1,2].
        let m = InFlight {
            tp: TopicPartition {
                topic: "foo".into(),
                partition: 1,
            },
            replicas: vec![4, 5, 3, 1, 2],
            adding: vec![4, 5],
            removing: vec![1, 2],
        };
        assert_eq!(m.original(), vec![3, 1, 2]);
        assert_eq!(m.target(), vec![4, 5, 3]);
    }

    #[test]
    fn list_ops_join_with_commas() {
        let op = AlterOp::Append(vec!["0:1".into(), "1:2".into()]);
        assert_eq!(op.code(), 2);
        assert_eq!(op.wire_value().as_deref(), Some("0:1,1:2"));
        assert_eq!(AlterOp::Delete.wire_value(), None);
        assert_eq!(AlterOp::Subtract(vec![]).code(), 3);
    }
}
