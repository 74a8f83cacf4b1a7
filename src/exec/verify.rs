//! `verify PLAN` and `status`: where each planned partition stands, and
//! what is moving and throttled on the cluster, whoever started it.
//!
//! `verify` restores this tool's throttles (from the journal) once
//! nothing of the plan is moving any more and its run has nothing left
//! to submit, unless the operator preserves them: every planned partition
//! done, or some diverged (another run replaced or cancelled its move)
//! with no move of any planned partition in flight, as `apply` ends an
//! incomplete run and as Kafka's `--verify` clears throttles. It never
//! submits or cancels anything.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::apply::{
    SETTLE, ThrottleOutcome, load_journal, read_throttles_in_force, restore_and_save,
};
use super::clock::Clock;
use super::disks::{self, DirState, DirView};
use super::error::ExecError;
use super::journal::{JournalState, JournalStore, plan_digest};
use crate::model::live::{ClusterAdmin, ConfigResource, InFlight, ReplicaSizes};
use crate::model::reassignment::Reassignment;
use crate::model::{BrokerId, Cluster, TopicPartition};

/// What `verify` may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VerifySettings {
    /// `--preserve-throttles`: leave the throttles in force even when all
    /// is done.
    pub preserve_throttles: bool,
}

/// One planned partition's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum PartitionStatus {
    /// At its target, not moving.
    Done,
    /// Moving to its target: replicas still copied between brokers, or a
    /// named log dir not reached yet (the replica in another dir, or with
    /// a future log); the bytes count both kinds of copy.
    InProgress { bytes_copied: u64, bytes_total: u64 },
    /// Not moving and not at its target, and never submitted by the plan's
    /// run, which has not ended: it stopped (Ctrl-C) or returned
    /// (`--no-wait`) before this partition's batch, and `apply PLAN`
    /// submits it. Nothing went wrong, so it is not diverged.
    NotSubmitted { replicas: Vec<BrokerId> },
    /// Not heading to the plan's target: at other replicas with no move in
    /// flight, or moving elsewhere (`moving_to`), or at its replicas with
    /// a replica in another log dir and no disk move running.
    Diverged {
        replicas: Vec<BrokerId>,
        moving_to: Option<Vec<BrokerId>>,
    },
    /// Cannot finish: the partition vanished, or a replica it adds is on a
    /// broker that is down (the controller waits for it forever).
    Failed { reason: String },
}

/// A planned partition and its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionVerdict {
    pub topic: String,
    pub partition: i32,
    pub target: Vec<BrokerId>,
    #[serde(flatten)]
    pub status: PartitionStatus,
    /// The replicas the plan puts in a named log dir, and where each is.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub log_dirs: Vec<DirView>,
}

/// The overall verdict, worst first (what the exit code follows: 3, 1, 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Some partition diverged or failed.
    Failed,
    /// Some partition is still moving, or not submitted yet by a run
    /// that has not ended.
    InProgress,
    AllDone,
}

/// The result of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub verdict: Verdict,
    pub done: usize,
    pub in_progress: usize,
    pub not_submitted: usize,
    pub diverged: usize,
    pub failed: usize,
    /// Sorted by topic-partition.
    pub partitions: Vec<PartitionVerdict>,
    /// What restoring did, when it ran (all done, a journal, not
    /// preserved).
    pub throttles: Option<ThrottleOutcome>,
    /// Why the replica sizes could not be read, if they could not: the
    /// byte figures then count nothing copied (progress unknown, as
    /// `apply` takes it) rather than failing the whole command.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sizes_unknown: Option<String>,
}

/// Bytes a move in flight has copied and copies in all: each adding
/// replica against the size of the log it copies from (the leader if it
/// is an original replica, else the largest original replica).
pub fn move_bytes(
    m: &InFlight,
    leader: Option<BrokerId>,
    sizes: &ReplicaSizes,
    fallback_size: u64,
) -> (u64, u64) {
    let per_broker = sizes.get(&m.tp);
    let original = m.original();
    let size = per_broker
        .and_then(|s| {
            leader
                .filter(|l| original.contains(l))
                .and_then(|l| s.get(&l).copied())
                .or_else(|| original.iter().filter_map(|b| s.get(b).copied()).max())
        })
        .unwrap_or(fallback_size);
    let copied = m
        .adding
        .iter()
        .map(|b| {
            per_broker
                .and_then(|s| s.get(b).copied())
                .unwrap_or(0)
                .min(size)
        })
        .sum();
    (copied, size.saturating_mul(m.adding.len() as u64))
}

/// The replica sizes on `brokers`, or none and why: they serve the byte
/// figures only, so a broker that cannot answer (down, say) degrades them
/// and stops nothing.
async fn sizes_or_unknown<A: ClusterAdmin>(
    admin: &mut A,
    brokers: &[BrokerId],
) -> (ReplicaSizes, Option<String>) {
    match admin.replica_sizes(brokers).await {
        Ok(s) => (s, None),
        Err(e) => (
            ReplicaSizes::new(),
            Some(ExecError::admin("reading replica sizes")(e).to_string()),
        ),
    }
}

/// The alive brokers a set of moves copies from or to (DescribeLogDirs
/// goes to each).
fn brokers_of<'a>(cluster: &Cluster, moves: impl Iterator<Item = &'a InFlight>) -> Vec<BrokerId> {
    let set: BTreeSet<BrokerId> = moves.flat_map(|m| m.replicas.iter().copied()).collect();
    set.into_iter()
        .filter(|&b| cluster.broker(b).is_some_and(|x| x.alive))
        .collect()
}

/// [`verify`] as operators and scripts run it: a partition found diverged
/// is looked at again until it has stayed off its target for the settle
/// time, since a real cluster's metadata lags its controller (a move just
/// finished is no longer listed while the brokers still report the old
/// replicas), and one look would call a finished move diverged (exit 3).
pub async fn verify_settled<A: ClusterAdmin, S: JournalStore, C: Clock>(
    admin: &mut A,
    clock: &mut C,
    plan: &Reassignment,
    store: &mut S,
    settings: &VerifySettings,
) -> Result<VerifyReport, ExecError> {
    let until = clock.now() + SETTLE;
    loop {
        let report = verify(admin, plan, store, settings).await?;
        if report.diverged == 0 || clock.now() >= until {
            return Ok(report);
        }
        clock.sleep(SETTLE / 10).await;
    }
}

/// Checks every partition of `plan` on the cluster; when none of them is
/// in flight, restores the throttles recorded in the journal in `store`
/// (if any, and unless `preserve_throttles`), and when all are done marks
/// it finished. A journal of another plan is refused.
pub async fn verify<A: ClusterAdmin, S: JournalStore>(
    admin: &mut A,
    plan: &Reassignment,
    store: &mut S,
    settings: &VerifySettings,
) -> Result<VerifyReport, ExecError> {
    let digest = plan_digest(plan);
    // Verify starts no run, so the journal stays as saved (an ended run's
    // is not started afresh, as `apply` would).
    let journal = load_journal(store, &digest)?;
    // Whether a run of this plan has started and not ended (not a journal
    // `throttle set` left alone).
    let running = journal
        .as_ref()
        .is_some_and(|j| j.state == JournalState::Running && !j.plan_digest.is_empty());
    let cluster = admin
        .cluster()
        .await
        .map_err(ExecError::admin("reading the cluster"))?;
    let in_flight = admin
        .list_reassignments()
        .await
        .map_err(ExecError::admin("listing moves in flight"))?;
    // What the plan's run submitted, while it has not ended: the rest of
    // its partitions wait for `apply` to run again.
    let submitted = journal.as_ref().filter(|_| running).map(|j| j.submitted());
    let moving: BTreeMap<&TopicPartition, &InFlight> =
        in_flight.iter().map(|m| (&m.tp, m)).collect();
    let ours: Vec<&InFlight> = plan
        .moves()
        .iter()
        .filter_map(|m| moving.get(&m.tp).copied())
        .collect();
    let (sizes, sizes_unknown) = if ours.is_empty() {
        (ReplicaSizes::new(), None)
    } else {
        sizes_or_unknown(admin, &brokers_of(&cluster, ours.iter().copied())).await
    };

    let dir_moves = disks::dir_moves(plan.moves());
    let log_dirs = disks::read_plan_log_dirs(admin, &cluster, plan.moves()).await?;
    let mut dir_views: BTreeMap<&TopicPartition, Vec<DirView>> = BTreeMap::new();
    for d in &dir_moves {
        dir_views.entry(&d.tp).or_default().push(DirView {
            broker: d.broker,
            log_dir: d.dir.clone(),
            state: DirState::of(d, &log_dirs),
        });
    }

    let mut partitions = Vec::new();
    for m in plan.moves() {
        let status = match (cluster.partition(&m.tp), moving.get(&m.tp)) {
            (None, _) => PartitionStatus::Failed {
                reason: "the partition no longer exists".into(),
            },
            (Some(p), Some(f)) if f.target() == m.replicas => {
                let dead: Vec<String> = f
                    .adding
                    .iter()
                    .filter(|&&b| !cluster.broker(b).is_some_and(|x| x.alive))
                    .map(|b| b.to_string())
                    .collect();
                if dead.is_empty() {
                    let (bytes_copied, bytes_total) = move_bytes(f, p.leader, &sizes, p.size_bytes);
                    PartitionStatus::InProgress {
                        bytes_copied,
                        bytes_total,
                    }
                } else {
                    PartitionStatus::Failed {
                        reason: format!(
                            "adds a replica on broker {} which is not alive: the move waits for it",
                            dead.join(", ")
                        ),
                    }
                }
            }
            (Some(_), Some(f)) => PartitionStatus::Diverged {
                replicas: f.original(),
                moving_to: Some(f.target()),
            },
            (Some(p), None) if p.replicas == m.replicas => PartitionStatus::Done,
            (Some(p), None) if submitted.as_ref().is_some_and(|s| !s.contains_key(&m.tp)) => {
                PartitionStatus::NotSubmitted {
                    replicas: p.replicas.clone(),
                }
            }
            (Some(p), None) => PartitionStatus::Diverged {
                replicas: p.replicas.clone(),
                moving_to: None,
            },
        };
        let dirs = dir_views.remove(&m.tp).unwrap_or_default();
        let (dir_copied, dir_total) = dirs.iter().fold((0, 0), |(c, t), d| {
            let (dc, dt) = d.state.bytes();
            (c + dc, t + dt)
        });
        let status = match status {
            // The replicas are in place and a disk move is neither done
            // nor running: nothing will finish it (Kafka's `--verify`: "is
            // not being moved"), as with replicas at other brokers.
            PartitionStatus::Done
                if dirs
                    .iter()
                    .any(|d| matches!(d.state, DirState::Elsewhere { .. })) =>
            {
                PartitionStatus::Diverged {
                    replicas: m.replicas.clone(),
                    moving_to: None,
                }
            }
            // The replica set is in place; a disk is still copying (or the
            // broker does not list the new replica yet).
            PartitionStatus::Done if dirs.iter().any(|d| d.state != DirState::InPlace) => {
                PartitionStatus::InProgress {
                    bytes_copied: dir_copied,
                    bytes_total: dir_total,
                }
            }
            PartitionStatus::InProgress {
                bytes_copied,
                bytes_total,
            } => PartitionStatus::InProgress {
                bytes_copied: bytes_copied + dir_copied,
                bytes_total: bytes_total + dir_total,
            },
            other => other,
        };
        partitions.push(PartitionVerdict {
            topic: m.tp.topic.clone(),
            partition: m.tp.partition,
            target: m.replicas.clone(),
            status,
            log_dirs: dirs,
        });
    }
    let count =
        |f: fn(&PartitionStatus) -> bool| partitions.iter().filter(|v| f(&v.status)).count();
    let done = count(|s| matches!(s, PartitionStatus::Done));
    let in_progress = count(|s| matches!(s, PartitionStatus::InProgress { .. }));
    let not_submitted = count(|s| matches!(s, PartitionStatus::NotSubmitted { .. }));
    let diverged = count(|s| matches!(s, PartitionStatus::Diverged { .. }));
    let failed = count(|s| matches!(s, PartitionStatus::Failed { .. }));
    let verdict = if diverged + failed > 0 {
        Verdict::Failed
    } else if in_progress + not_submitted > 0 {
        Verdict::InProgress
    } else {
        Verdict::AllDone
    };

    // A planned partition still in flight, even towards another run's
    // target, may rely on entries this journal added (that run found them
    // there and did not add them again), so restoring waits for it, as it
    // waits for disk moves. With nothing moving the throttles serve
    // nothing of this plan; a diverged plan's journal stays open, as
    // `apply` leaves it, so that its partitions are never resubmitted.
    let mut throttles = None;
    if let Some(mut j) = journal
        && ours.is_empty()
        && in_progress == 0
        && not_submitted == 0
        && !settings.preserve_throttles
    {
        if verdict == Verdict::AllDone {
            j.state = JournalState::Finished;
        }
        let base = j.throttle.revision;
        throttles = Some(restore_and_save(admin, store, &mut j, base).await?);
    }
    Ok(VerifyReport {
        verdict,
        done,
        in_progress,
        not_submitted,
        diverged,
        failed,
        partitions,
        throttles,
        sizes_unknown,
    })
}

/// A move in flight, as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MoveStatus {
    pub topic: String,
    pub partition: i32,
    pub replicas: Vec<BrokerId>,
    pub adding: Vec<BrokerId>,
    pub removing: Vec<BrokerId>,
    pub target: Vec<BrokerId>,
    pub bytes_copied: u64,
    pub bytes_total: u64,
}

/// A replica moving between the log dirs of its broker (it has a future
/// log), whoever started it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DirMoveStatus {
    pub topic: String,
    pub partition: i32,
    pub broker: BrokerId,
    /// Where the replica's log is now.
    pub log_dir: String,
    /// Where its future log is.
    pub future_log_dir: String,
    pub bytes_copied: u64,
    pub bytes_total: u64,
}

/// A throttle config set on a broker or topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ThrottleInForce {
    /// `broker` or `topic`.
    pub resource_type: &'static str,
    pub resource: String,
    pub key: String,
    pub value: String,
}

/// The result of [`status`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusReport {
    /// Every move in flight, whoever started it, sorted.
    pub moves: Vec<MoveStatus>,
    /// Every replica moving between disks on an alive broker, sorted by
    /// topic-partition then broker.
    pub log_dir_moves: Vec<DirMoveStatus>,
    /// Every throttle key set on an alive broker or a topic, sorted
    /// (brokers first).
    pub throttles: Vec<ThrottleInForce>,
    /// Why the replica sizes could not be read, if they could not: the
    /// byte figures then count nothing copied (progress unknown, as
    /// `apply` takes it) rather than failing the whole command.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sizes_unknown: Option<String>,
}

/// `status`: the moves in flight with their progress, and the throttles
/// in force.
pub async fn status<A: ClusterAdmin>(admin: &mut A) -> Result<StatusReport, ExecError> {
    let cluster = admin
        .cluster()
        .await
        .map_err(ExecError::admin("reading the cluster"))?;
    let in_flight = admin
        .list_reassignments()
        .await
        .map_err(ExecError::admin("listing moves in flight"))?;
    let (sizes, sizes_unknown) = if in_flight.is_empty() {
        (ReplicaSizes::new(), None)
    } else {
        sizes_or_unknown(admin, &brokers_of(&cluster, in_flight.iter())).await
    };
    let moves = in_flight
        .iter()
        .map(|m| {
            let p = cluster.partition(&m.tp);
            let (bytes_copied, bytes_total) = move_bytes(
                m,
                p.and_then(|p| p.leader),
                &sizes,
                p.map_or(0, |p| p.size_bytes),
            );
            MoveStatus {
                topic: m.tp.topic.clone(),
                partition: m.tp.partition,
                replicas: m.replicas.clone(),
                adding: m.adding.clone(),
                removing: m.removing.clone(),
                target: m.target(),
                bytes_copied,
                bytes_total,
            }
        })
        .collect();
    let alive: Vec<BrokerId> = cluster
        .brokers
        .iter()
        .filter(|b| b.alive)
        .map(|b| b.id)
        .collect();
    let log_dirs = admin
        .describe_log_dirs(&alive)
        .await
        .map_err(ExecError::admin("reading log dirs"))?;
    let mut log_dir_moves: Vec<DirMoveStatus> = log_dirs
        .iter()
        .flat_map(|(&broker, b)| {
            b.replicas.iter().filter_map(move |(tp, r)| {
                let f = r.future.as_ref()?;
                Some(DirMoveStatus {
                    topic: tp.topic.clone(),
                    partition: tp.partition,
                    broker,
                    log_dir: r.dir.clone(),
                    future_log_dir: f.dir.clone(),
                    bytes_copied: f.size.min(r.size),
                    bytes_total: r.size,
                })
            })
        })
        .collect();
    log_dir_moves
        .sort_by(|a, b| (&a.topic, a.partition, a.broker).cmp(&(&b.topic, b.partition, b.broker)));
    let values = read_throttles_in_force(admin, &cluster).await?;
    let throttles = values
        .into_iter()
        .map(|((r, key), value)| {
            let (resource_type, resource) = match r {
                ConfigResource::Broker(b) => ("broker", b.to_string()),
                ConfigResource::Topic(t) => ("topic", t),
            };
            ThrottleInForce {
                resource_type,
                resource,
                key,
                value,
            }
        })
        .collect();
    Ok(StatusReport {
        moves,
        log_dir_moves,
        throttles,
        sizes_unknown,
    })
}
