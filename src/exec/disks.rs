//! Moves between the log dirs (disks) of one broker: the `log_dirs` of a
//! plan that are not `any`, as Kafka's `kafka-reassign-partitions.sh`
//! honours them with AlterReplicaLogDirs.
//!
//! A replica already on its broker moves through a *future* log that the
//! broker fills (under `replica.alter.log.dirs.io.max.bytes.per.second`)
//! and swaps in; a replica a move adds is not there yet, so the broker
//! answers REPLICA_NOT_AVAILABLE, remembers the dir and creates the
//! replica in it, and the request is sent again until it is accepted.
//! A replica is in place when its log is in the dir and it has no future
//! log.
//!
//! What it must not do: talk to the cluster (the driver, `verify` and
//! `status` fetch the log dirs and send the moves).

use std::collections::BTreeSet;

use serde::Serialize;

use super::error::ExecError;
use crate::model::Cluster;
use crate::model::live::{BrokerDirs, ClusterAdmin, DirMove, LogDirs};
use crate::model::log_dirs::LogDirLayout;
use crate::model::reassignment::{ANY_LOG_DIR, Move};
use crate::model::{BrokerId, Problem};

/// The replicas of `plan` with a named log dir, sorted.
pub fn dir_moves(plan: &[Move]) -> Vec<DirMove> {
    let mut out: Vec<DirMove> = plan
        .iter()
        .flat_map(|m| {
            m.replicas
                .iter()
                .zip(&m.log_dirs)
                .filter(|(_, d)| d.as_str() != ANY_LOG_DIR)
                .map(|(&broker, dir)| DirMove {
                    tp: m.tp.clone(),
                    broker,
                    dir: dir.clone(),
                })
        })
        .collect();
    out.sort();
    out
}

/// The brokers `moves` name, sorted.
pub fn brokers_of(moves: &[DirMove]) -> Vec<BrokerId> {
    let set: BTreeSet<BrokerId> = moves.iter().map(|m| m.broker).collect();
    set.into_iter().collect()
}

/// Named dirs the broker does not have or cannot use, one problem per
/// replica (at its partition, naming the broker and the dir). Brokers
/// missing from `dirs` (down or unknown: refused elsewhere) are skipped.
pub fn dir_problems(moves: &[DirMove], dirs: &LogDirs) -> Vec<Problem> {
    let mut out = Vec::new();
    for m in moves {
        let Some(b) = dirs.get(&m.broker) else {
            continue;
        };
        let msg = if b.offline.contains(&m.dir) {
            format!(
                "log dir {} of broker {} is offline (KAFKA_STORAGE_ERROR)",
                m.dir, m.broker
            )
        } else if !b.dirs.contains(&m.dir) {
            format!(
                "broker {} has no log dir {} (its log dirs: {})",
                m.broker,
                m.dir,
                if b.dirs.is_empty() {
                    "none online".to_string()
                } else {
                    b.dirs.join(", ")
                }
            )
        } else {
            continue;
        };
        out.push(Problem::new(m.tp.to_string(), msg));
    }
    out
}

/// [`dir_problems`] against a snapshot's log dirs (`check`, offline): the
/// same rule, with the dirs the snapshot records for each broker. Brokers
/// whose dirs it does not record cannot be checked: they are returned,
/// sorted, beside the problems.
pub fn dir_problems_in(plan: &[Move], layout: &LogDirLayout) -> (Vec<Problem>, Vec<BrokerId>) {
    let moves = dir_moves(plan);
    let mut dirs = LogDirs::new();
    let mut unknown = Vec::new();
    for b in brokers_of(&moves) {
        let known = layout.dirs_of(b);
        if known.is_empty() {
            unknown.push(b);
        } else {
            dirs.insert(
                b,
                BrokerDirs {
                    dirs: known.to_vec(),
                    ..BrokerDirs::default()
                },
            );
        }
    }
    (dir_problems(&moves, &dirs), unknown)
}

/// Where a replica with a named dir stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum DirState {
    /// In its dir, no future log.
    InPlace,
    /// Moving: a future log exists (in `future`; the plan's dir unless
    /// someone redirected it), holding `copied` of `size` bytes.
    Moving {
        current: String,
        future: String,
        copied: u64,
        size: u64,
    },
    /// In another dir with no move started.
    Elsewhere { current: String, size: u64 },
    /// The broker does not hold the replica (yet).
    Absent,
}

impl DirState {
    pub fn of(m: &DirMove, dirs: &LogDirs) -> DirState {
        let Some(r) = dirs.get(&m.broker).and_then(|b| b.replicas.get(&m.tp)) else {
            return DirState::Absent;
        };
        match &r.future {
            None if r.dir == m.dir => DirState::InPlace,
            None => DirState::Elsewhere {
                current: r.dir.clone(),
                size: r.size,
            },
            Some(f) => DirState::Moving {
                current: r.dir.clone(),
                future: f.dir.clone(),
                copied: f.size.min(r.size),
                size: r.size,
            },
        }
    }

    /// Bytes the disk move copies and has copied (`copied`, `total`): a
    /// replica that must leave its dir copies its whole log; one in place
    /// or not there yet (created in the dir) copies nothing.
    pub fn bytes(&self) -> (u64, u64) {
        match self {
            DirState::InPlace | DirState::Absent => (0, 0),
            DirState::Moving { copied, size, .. } => (*copied, *size),
            DirState::Elsewhere { size, .. } => (0, *size),
        }
    }
}

/// A replica's disk move as `verify` and `status` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DirView {
    pub broker: BrokerId,
    /// The dir the plan names.
    pub log_dir: String,
    #[serde(flatten)]
    pub state: DirState,
}

/// The log dirs of the alive brokers `plan` names a dir on (DescribeLogDirs),
/// which preflight, progress and `verify` judge the plan's dir moves by;
/// no call when the plan names none.
pub async fn read_plan_log_dirs<A: ClusterAdmin>(
    admin: &mut A,
    cluster: &Cluster,
    plan: &[Move],
) -> Result<LogDirs, ExecError> {
    let brokers: Vec<BrokerId> = brokers_of(&dir_moves(plan))
        .into_iter()
        .filter(|&b| cluster.broker(b).is_some_and(|x| x.alive))
        .collect();
    if brokers.is_empty() {
        return Ok(LogDirs::new());
    }
    admin
        .describe_log_dirs(&brokers)
        .await
        .map_err(ExecError::admin("reading log dirs"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TopicPartition;
    use crate::model::live::{BrokerDirs, FutureDir, ReplicaDir};

    fn tp(p: i32) -> TopicPartition {
        TopicPartition {
            topic: "t".into(),
            partition: p,
        }
    }

    #[test]
    fn only_named_dirs_move_and_unknown_ones_are_named() {
        let mut m = Move::new(tp(0), vec![1, 2]);
        m.log_dirs = vec!["any".into(), "/d/x".into()];
        let moves = dir_moves(&[m]);
        assert_eq!(
            moves,
            vec![DirMove {
                tp: tp(0),
                broker: 2,
                dir: "/d/x".into()
            }]
        );
        let mut dirs = LogDirs::new();
        dirs.insert(
            2,
            BrokerDirs {
                dirs: vec!["/d/a".into(), "/d/b".into()],
                offline: vec!["/d/x".into()],
                replicas: Default::default(),
            },
        );
        assert_eq!(
            dir_problems(&moves, &dirs)[0].to_string(),
            "t-0: log dir /d/x of broker 2 is offline (KAFKA_STORAGE_ERROR)"
        );
        dirs.get_mut(&2).unwrap().offline.clear();
        assert_eq!(
            dir_problems(&moves, &dirs)[0].to_string(),
            "t-0: broker 2 has no log dir /d/x (its log dirs: /d/a, /d/b)"
        );
        dirs.get_mut(&2).unwrap().dirs.push("/d/x".into());
        assert!(dir_problems(&moves, &dirs).is_empty());
    }

    #[test]
    fn a_replica_is_in_place_only_in_its_dir_without_a_future() {
        let m = DirMove {
            tp: tp(0),
            broker: 1,
            dir: "/b".into(),
        };
        let mut dirs = LogDirs::new();
        assert_eq!(DirState::of(&m, &dirs), DirState::Absent);
        let mut b = BrokerDirs::default();
        b.replicas.insert(
            tp(0),
            ReplicaDir {
                dir: "/a".into(),
                size: 100,
                future: None,
            },
        );
        dirs.insert(1, b.clone());
        assert_eq!(DirState::of(&m, &dirs).bytes(), (0, 100));
        b.replicas.get_mut(&tp(0)).unwrap().future = Some(FutureDir {
            dir: "/b".into(),
            size: 40,
        });
        dirs.insert(1, b.clone());
        assert_eq!(DirState::of(&m, &dirs).bytes(), (40, 100));
        // A future log in the plan's dir beside a current log already
        // there is still a move (Kafka lists both while it swaps).
        let r = b.replicas.get_mut(&tp(0)).unwrap();
        r.dir = "/b".into();
        dirs.insert(1, b.clone());
        assert!(matches!(DirState::of(&m, &dirs), DirState::Moving { .. }));
        b.replicas.get_mut(&tp(0)).unwrap().future = None;
        dirs.insert(1, b);
        assert_eq!(DirState::of(&m, &dirs), DirState::InPlace);
    }
}
