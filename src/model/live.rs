//! What a live cluster reports and accepts, as plain data: moves in flight
//! (ListPartitionReassignments) and config changes (IncrementalAlterConfigs).
//!
//! These are the executor's vocabulary. The wire client turns them into
//! requests and responses; `exec` computes them without any I/O.
//!
//! [`ClusterAdmin`] is the one door between the executor and a cluster:
//! the wire client implements it for a real cluster, and an in-process
//! implementation drives the mini-broker's state with stepped time, so the
//! executor's tests move gigabytes under a throttle in milliseconds.

use std::collections::BTreeMap;
use std::fmt;

use kafka_protocol::error::ResponseError;

use super::{BrokerId, Cluster, TopicPartition};

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

/// Config values set on the resources themselves, keyed by resource and
/// config name; a missing key is not set. Only a resource's own dynamic
/// configs belong here (DescribeConfigs sources DYNAMIC_TOPIC_CONFIG and
/// DYNAMIC_BROKER_CONFIG): a rate inherited from the cluster-wide broker
/// default or a static file is not "set" on the broker, and restoring must
/// not pin it there.
pub type ConfigValues = BTreeMap<(ConfigResource, String), String>;

/// Bytes of each replica on each broker (summed over the broker's log
/// dirs), as DescribeLogDirs reports them: topic-partition -> broker ->
/// bytes. A replica being added shows how far its copy has come.
pub type ReplicaSizes = BTreeMap<TopicPartition, BTreeMap<BrokerId, u64>>;

/// Where one broker keeps its replica of a partition, as DescribeLogDirs
/// reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaDir {
    /// The log dir (absolute path) of the replica's current log.
    pub dir: String,
    /// Bytes of the current log.
    pub size: u64,
    /// A disk-to-disk move in progress (AlterReplicaLogDirs): Kafka lists
    /// the future log in the dir it goes to, with what it holds so far.
    pub future: Option<FutureDir>,
}

/// The future log of a replica moving between disks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FutureDir {
    pub dir: String,
    pub size: u64,
}

/// One broker's log dirs: the dirs it has (online and offline, each
/// sorted) and where each of its replicas is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BrokerDirs {
    pub dirs: Vec<String>,
    /// Dirs that answered with an error (KAFKA_STORAGE_ERROR): no replica
    /// can go there.
    pub offline: Vec<String>,
    pub replicas: BTreeMap<TopicPartition, ReplicaDir>,
}

/// Log dirs per broker (DescribeLogDirs, each sent to its broker).
pub type LogDirs = BTreeMap<BrokerId, BrokerDirs>;

/// Put `broker`'s replica of `tp` in log dir `dir` (AlterReplicaLogDirs,
/// sent to that broker).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DirMove {
    pub tp: TopicPartition,
    pub broker: BrokerId,
    pub dir: String,
}

/// One replica's answer to AlterReplicaLogDirs. REPLICA_NOT_AVAILABLE
/// means the broker does not hold the replica yet (Kafka then remembers
/// the dir and creates the replica there); the request is sent again until
/// it is accepted, as Kafka's tool does.
pub type DirResult = (DirMove, Result<(), ErrorCode>);

/// A Kafka error code for one partition or resource, with the broker's
/// message if it sent one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorCode {
    pub code: i16,
    pub message: Option<String>,
}

impl ErrorCode {
    /// NONE: success.
    pub const NONE: i16 = 0;
    /// LEADER_NOT_AVAILABLE: mid-election; retry after refreshing metadata.
    pub const LEADER_NOT_AVAILABLE: i16 = 5;
    /// REQUEST_TIMED_OUT: the request did not complete within its timeout.
    pub const REQUEST_TIMED_OUT: i16 = 7;
    /// REPLICA_NOT_AVAILABLE: AlterReplicaLogDirs for a replica the broker
    /// does not hold yet (a new replica of a move).
    pub const REPLICA_NOT_AVAILABLE: i16 = 9;
    /// LOG_DIR_NOT_FOUND: AlterReplicaLogDirs to a dir the broker lacks.
    pub const LOG_DIR_NOT_FOUND: i16 = 57;
    /// NOT_CONTROLLER: sent to a broker that is not (or no longer) the
    /// controller; retry after refreshing metadata.
    pub const NOT_CONTROLLER: i16 = 41;
    /// INVALID_REQUEST: e.g. a BROKER config resource sent to another broker.
    pub const INVALID_REQUEST: i16 = 42;
    /// ELECTION_NOT_NEEDED: the preferred leader already leads; a success
    /// for a preferred election.
    pub const ELECTION_NOT_NEEDED: i16 = 84;
    /// NO_REASSIGNMENT_IN_PROGRESS: a cancel of a partition not moving.
    pub const NO_REASSIGNMENT_IN_PROGRESS: i16 = 85;

    pub fn new(code: i16, message: Option<String>) -> ErrorCode {
        ErrorCode { code, message }
    }

    /// Whether Kafka calls the code retriable for an admin call: the same
    /// request may succeed once metadata has caught up.
    pub fn is_retriable(&self) -> bool {
        matches!(
            self.code,
            Self::LEADER_NOT_AVAILABLE | Self::REQUEST_TIMED_OUT | Self::NOT_CONTROLLER
        )
    }

    /// The code's name as Kafka spells it.
    pub fn name(&self) -> String {
        error_name(self.code)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", error_name(self.code))?;
        match &self.message {
            Some(m) if !m.is_empty() => write!(f, ": {m}"),
            _ => Ok(()),
        }
    }
}

/// A Kafka error code as its name, e.g. `UNKNOWN_TOPIC_OR_PARTITION (3)`.
pub fn error_name(code: i16) -> String {
    match ResponseError::try_from_code(code) {
        None => "NONE (0)".to_string(),
        Some(ResponseError::Unknown(c)) => format!("UNKNOWN_ERROR_CODE ({c})"),
        Some(e) => format!("{} ({code})", screaming(&format!("{e:?}"))),
    }
}

/// `UnknownTopicOrPartition` -> `UNKNOWN_TOPIC_OR_PARTITION`.
fn screaming(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// One partition's answer to a batched request (AlterPartitionReassignments,
/// ElectLeaders): the request as a whole succeeded, this partition may not.
pub type PartitionResult = (TopicPartition, Result<(), ErrorCode>);

/// What the executor needs of a cluster, in model types.
///
/// Implementations retry what Kafka calls retriable (NOT_CONTROLLER,
/// LEADER_NOT_AVAILABLE, REQUEST_TIMED_OUT, lost connections) and return
/// an error only when they give up; the error names the API, the broker
/// and the cause. Per-partition refusals are not errors of the call: they
/// come back in [`PartitionResult`]s for the executor to judge.
///
/// The methods are `async` and used only through generics (never `dyn`),
/// on the runtime the command starts, so no `Send` bound is promised.
#[allow(async_fn_in_trait)]
pub trait ClusterAdmin {
    type Error: std::error::Error + Send + Sync + 'static;

    /// The whole cluster as `describe` sees it: live and dead brokers with
    /// racks, every partition's replicas, ISR and leader, its size (the
    /// leader's log), and the move in flight if any.
    async fn cluster(&mut self) -> Result<Cluster, Self::Error>;

    /// The moves in flight (ListPartitionReassignments), sorted.
    async fn list_reassignments(&mut self) -> Result<Vec<InFlight>, Self::Error>;

    /// Bytes of every replica on the given live brokers (DescribeLogDirs,
    /// each sent to the broker it is about).
    async fn replica_sizes(&mut self, brokers: &[BrokerId]) -> Result<ReplicaSizes, Self::Error>;

    /// Every log dir of the given live brokers and where each replica on
    /// them is, future logs of disk moves included (DescribeLogDirs, each
    /// sent to the broker it is about).
    async fn describe_log_dirs(&mut self, brokers: &[BrokerId]) -> Result<LogDirs, Self::Error>;

    /// Puts replicas in log dirs (AlterReplicaLogDirs, one request per
    /// broker, sent to it): a replica in another dir starts a disk move; a
    /// replica not there yet answers REPLICA_NOT_AVAILABLE. One result per
    /// move, sorted.
    async fn alter_replica_log_dirs(
        &mut self,
        moves: &[DirMove],
    ) -> Result<Vec<DirResult>, Self::Error>;

    /// Starts moves (`Some(target)`) or cancels them (`None`) in one
    /// AlterPartitionReassignments request.
    async fn alter_reassignments(
        &mut self,
        moves: &[(TopicPartition, Option<Vec<BrokerId>>)],
    ) -> Result<Vec<PartitionResult>, Self::Error>;

    /// The values of `keys` set on each resource itself (see
    /// [`ConfigValues`]); keys not set are absent.
    async fn describe_configs(
        &mut self,
        resources: &[ConfigResource],
        keys: &[&str],
    ) -> Result<ConfigValues, Self::Error>;

    /// Applies the operations with IncrementalAlterConfigs, one request per
    /// broker resource (sent to that broker) and one for all topics. A
    /// resource that refuses is an error naming it; the others are still
    /// asked (each applies whole or not at all), and the first refusal is
    /// the error.
    async fn alter_configs(&mut self, ops: &[ConfigOp]) -> Result<(), Self::Error>;

    /// Preferred-leader election for the partitions (ElectLeaders, type 0).
    /// ELECTION_NOT_NEEDED comes back as an `Err` code for the caller to
    /// count as done.
    async fn elect_preferred(
        &mut self,
        partitions: &[TopicPartition],
    ) -> Result<Vec<PartitionResult>, Self::Error>;
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
    fn error_codes_read_like_kafka() {
        assert_eq!(error_name(3), "UNKNOWN_TOPIC_OR_PARTITION (3)");
        assert_eq!(error_name(85), "NO_REASSIGNMENT_IN_PROGRESS (85)");
        assert_eq!(error_name(0), "NONE (0)");
        let e = ErrorCode::new(ErrorCode::ELECTION_NOT_NEEDED, Some("leader is 1".into()));
        assert_eq!(e.to_string(), "ELECTION_NOT_NEEDED (84): leader is 1");
        assert_eq!(ErrorCode::new(41, None).name(), "NOT_CONTROLLER (41)");
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
