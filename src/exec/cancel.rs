//! `cancel [PLAN | --all]` and `rollback ROLLBACK_FILE`.
//!
//! Cancel submits a null target for each move in flight in scope, waits
//! until the cluster lists none of them, then restores this tool's
//! throttles from the journal, unless something in scope still moves (a
//! refused cancel, a disk move that could not be stopped). The cluster's revert keeps `replicas -
//! adding` of the moment (FIELD-GUIDE §3), which after an overridden move
//! is not always the assignment before the first submission: that is what
//! the rollback file is for. Rollback cancels what is still moving among
//! its partitions, then applies the rollback file as a plan.

use std::collections::BTreeSet;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use serde::Serialize;

use super::apply::{
    ApplyReport, ApplySettings, DirMoveView, Event, PartitionError, ThrottleOutcome, apply,
    restore_and_save,
};
use super::clock::Clock;
use super::disks::{self, DirState};
use super::error::ExecError;
use super::journal::{JournalState, JournalStore, plan_digest};
use super::prepare::{PrepareSettings, prepare};
use crate::model::live::{ClusterAdmin, DirMove, ErrorCode};
use crate::model::reassignment::Reassignment;
use crate::model::{BrokerId, Problem, TopicPartition};

/// Which moves to cancel.
#[derive(Debug, Clone, Copy)]
pub enum CancelScope<'a> {
    /// The moves in flight of this plan's partitions (whatever their
    /// target).
    Plan(&'a Reassignment),
    /// Every move in flight (`--all`), whoever started it.
    All,
}

/// How long cancel waits for the moves to revert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CancelSettings {
    pub poll_interval: Duration,
    /// Give up waiting after this long (the moves still listed are
    /// reported as `still_moving`).
    pub timeout: Duration,
}

impl Default for CancelSettings {
    fn default() -> Self {
        CancelSettings {
            poll_interval: super::apply::DEFAULT_POLL_INTERVAL,
            timeout: Duration::from_secs(120),
        }
    }
}

/// A cancelled move and the replicas it reverted to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reverted {
    pub topic: String,
    pub partition: i32,
    pub replicas: Vec<BrokerId>,
}

/// The result of [`cancel`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CancelReport {
    pub cancelled: Vec<Reverted>,
    /// Partitions of the plan with no move in flight.
    pub not_moving: Vec<TopicPartition>,
    /// Cancels the cluster refused (e.g. one that would need an unclean
    /// election).
    pub refused: Vec<PartitionError>,
    /// Still listed when the wait timed out.
    pub still_moving: Vec<TopicPartition>,
    /// Replicas of the plan whose move to a named log dir was stopped (put
    /// back in the dir they are in, as Kafka's `--cancel` does).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub log_dirs_stopped: Vec<DirMoveView>,
    /// Partitions in scope still moving after the wait: cancels refused
    /// or not reverted yet, disk moves that could not be stopped. While
    /// any is listed the throttles stay in force (they pace those copies);
    /// `verify` or `throttle clear` restores them once they end.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub throttles_kept_for: Vec<TopicPartition>,
    /// What restoring did (none without a journal, or while moves remain).
    pub throttles: Option<ThrottleOutcome>,
}

/// Cancels the moves in flight in `scope`, waits until they revert, then
/// restores the throttles recorded in the journal in `store` (if any) and
/// marks it cancelled. With a plan, a journal of another plan is refused.
pub async fn cancel<A: ClusterAdmin, C: Clock, S: JournalStore>(
    admin: &mut A,
    clock: &mut C,
    scope: CancelScope<'_>,
    store: &mut S,
    settings: &CancelSettings,
) -> Result<CancelReport, ExecError> {
    let digest = match scope {
        CancelScope::Plan(plan) => Some(plan_digest(plan)),
        CancelScope::All => None,
    };
    cancel_inner(admin, clock, scope, store, digest.as_deref(), settings).await
}

async fn cancel_inner<A: ClusterAdmin, C: Clock, S: JournalStore>(
    admin: &mut A,
    clock: &mut C,
    scope: CancelScope<'_>,
    store: &mut S,
    digest: Option<&str>,
    settings: &CancelSettings,
) -> Result<CancelReport, ExecError> {
    let journal = store.load().map_err(ExecError::journal("loading"))?;
    if let (Some(j), Some(d)) = (&journal, digest)
        && !j.plan_digest.is_empty()
        && j.plan_digest != d
    {
        return Err(ExecError::DigestMismatch {
            journal: j.plan_digest.clone(),
            plan: d.to_string(),
        });
    }
    let in_flight = admin
        .list_reassignments()
        .await
        .map_err(ExecError::admin("listing moves in flight"))?;
    let moving: BTreeSet<TopicPartition> = in_flight.iter().map(|m| m.tp.clone()).collect();
    let (targets, not_moving): (Vec<TopicPartition>, Vec<TopicPartition>) = match scope {
        CancelScope::All => (moving.iter().cloned().collect(), Vec::new()),
        CancelScope::Plan(plan) => plan
            .moves()
            .iter()
            .map(|m| m.tp.clone())
            .partition(|tp| moving.contains(tp)),
    };
    let mut refused = Vec::new();
    let mut sent = BTreeSet::new();
    if !targets.is_empty() {
        let request: Vec<(TopicPartition, Option<Vec<BrokerId>>)> =
            targets.iter().map(|tp| (tp.clone(), None)).collect();
        let results = admin
            .alter_reassignments(&request)
            .await
            .map_err(ExecError::admin("cancelling moves"))?;
        for (tp, r) in results {
            match r {
                Ok(()) => {
                    sent.insert(tp);
                }
                // Finished between the listing and the cancel: nothing
                // to revert.
                Err(e) if e.code == ErrorCode::NO_REASSIGNMENT_IN_PROGRESS => {}
                Err(e) => refused.push(PartitionError::new(&tp, &e)),
            }
        }
    }

    let reassignments_refused = refused.len();
    let log_dirs_stopped = match scope {
        CancelScope::Plan(plan) => stop_dir_moves(admin, plan, &mut refused).await?,
        CancelScope::All => Vec::new(),
    };
    let dirs_still_moving: BTreeSet<TopicPartition> = refused[reassignments_refused..]
        .iter()
        .map(PartitionError::tp)
        .collect();

    let started = clock.now();
    let mut still: Vec<TopicPartition> = sent.iter().cloned().collect();
    while !still.is_empty() {
        let listed: BTreeSet<TopicPartition> = admin
            .list_reassignments()
            .await
            .map_err(ExecError::admin("listing moves in flight"))?
            .into_iter()
            .map(|m| m.tp)
            .collect();
        still.retain(|tp| listed.contains(tp));
        if still.is_empty() || clock.now().saturating_sub(started) >= settings.timeout {
            break;
        }
        clock.sleep(settings.poll_interval).await;
    }

    let mut cancelled = Vec::new();
    if !sent.is_empty() {
        let cluster = admin
            .cluster()
            .await
            .map_err(ExecError::admin("reading the cluster"))?;
        for tp in sent.iter().filter(|tp| !still.contains(tp)) {
            cancelled.push(Reverted {
                topic: tp.topic.clone(),
                partition: tp.partition,
                replicas: cluster
                    .partition(tp)
                    .map(|p| p.replicas.clone())
                    .unwrap_or_default(),
            });
        }
    }

    // Nothing of the scope may still copy when the throttles go: a
    // refused cancel's move runs on, unthrottled otherwise.
    let listed: BTreeSet<TopicPartition> = admin
        .list_reassignments()
        .await
        .map_err(ExecError::admin("listing moves in flight"))?
        .into_iter()
        .map(|m| m.tp)
        .collect();
    let in_scope: BTreeSet<TopicPartition> = match scope {
        CancelScope::All => listed,
        CancelScope::Plan(plan) => plan
            .moves()
            .iter()
            .map(|m| m.tp.clone())
            .filter(|tp| listed.contains(tp))
            .collect(),
    };
    let throttles_kept_for: Vec<TopicPartition> =
        in_scope.union(&dirs_still_moving).cloned().collect();
    let mut throttles = None;
    if let Some(mut j) = journal
        && still.is_empty()
        && throttles_kept_for.is_empty()
    {
        j.state = JournalState::Cancelled;
        let base = j.throttle.revision;
        throttles = Some(restore_and_save(admin, store, &mut j, base).await?);
    }
    refused.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    Ok(CancelReport {
        cancelled,
        not_moving,
        refused,
        still_moving: still,
        log_dirs_stopped,
        throttles_kept_for,
        throttles,
    })
}

/// Stops the plan's disk moves still running: each replica with a future
/// log in the dir the plan names is put back in the dir it is in (the
/// broker drops the future log), as Kafka's `--cancel` does.
async fn stop_dir_moves<A: ClusterAdmin>(
    admin: &mut A,
    plan: &Reassignment,
    refused: &mut Vec<PartitionError>,
) -> Result<Vec<DirMoveView>, ExecError> {
    let planned = disks::dir_moves(plan.moves());
    if planned.is_empty() {
        return Ok(Vec::new());
    }
    let cluster = admin
        .cluster()
        .await
        .map_err(ExecError::admin("reading the cluster"))?;
    let brokers: Vec<BrokerId> = disks::brokers_of(&planned)
        .into_iter()
        .filter(|&b| cluster.broker(b).is_some_and(|x| x.alive))
        .collect();
    let log_dirs = admin
        .describe_log_dirs(&brokers)
        .await
        .map_err(ExecError::admin("reading log dirs"))?;
    let back: Vec<DirMove> = planned
        .iter()
        .filter_map(|d| match DirState::of(d, &log_dirs) {
            DirState::Moving {
                current, future, ..
            } if future == d.dir => Some(DirMove {
                dir: current,
                ..d.clone()
            }),
            _ => None,
        })
        .collect();
    if back.is_empty() {
        return Ok(Vec::new());
    }
    let results = admin
        .alter_replica_log_dirs(&back)
        .await
        .map_err(ExecError::admin("stopping moves between log dirs"))?;
    let mut stopped = Vec::new();
    for (m, r) in results {
        match r {
            Ok(()) => stopped.push(DirMoveView::from(&m)),
            Err(e) => refused.push(PartitionError {
                topic: m.tp.topic.clone(),
                partition: m.tp.partition,
                code: e.code,
                error: format!("{e} (stopping broker {}'s move between log dirs)", m.broker),
            }),
        }
    }
    Ok(stopped)
}

/// The result of [`rollback`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RollbackReport {
    pub cancel: CancelReport,
    /// The preflight's warnings for the rollback plan.
    pub warnings: Vec<String>,
    pub apply: ApplyReport,
}

/// `rollback ROLLBACK_FILE`: cancels the moves still in flight among the
/// rollback file's partitions (restoring the throttles recorded in
/// `prior`, the journal of the run being rolled back, if any), then
/// checks the rollback file against the cluster (a replication-factor
/// change back to the original is allowed) and applies it with `store`
/// as its journal. A preflight refusal is [`ExecError::Refused`].
#[allow(clippy::too_many_arguments)]
pub async fn rollback<A: ClusterAdmin, C: Clock, P: JournalStore, S: JournalStore>(
    admin: &mut A,
    clock: &mut C,
    rollback_plan: &Reassignment,
    prepare_settings: &PrepareSettings,
    settings: &ApplySettings,
    cancel_settings: &CancelSettings,
    prior: &mut P,
    store: &mut S,
    on_event: &mut dyn FnMut(&Event),
    stop: &AtomicBool,
) -> Result<RollbackReport, ExecError> {
    let cancel = cancel_inner(
        admin,
        clock,
        CancelScope::Plan(rollback_plan),
        prior,
        None,
        cancel_settings,
    )
    .await?;
    if !cancel.still_moving.is_empty() {
        return Err(ExecError::StillMoving(cancel.still_moving.clone()));
    }
    let cluster = admin
        .cluster()
        .await
        .map_err(ExecError::admin("reading the cluster"))?;
    // The rollback file restores what was there, replication factor
    // included.
    let settings_rf = PrepareSettings {
        allow_rf_change: true,
        ..*prepare_settings
    };
    let prepared = prepare(&cluster, rollback_plan, None, &settings_rf)?;
    let warnings = prepared.warnings.iter().map(Problem::to_string).collect();
    let apply = apply(admin, clock, &prepared, settings, store, on_event, stop).await?;
    Ok(RollbackReport {
        cancel,
        warnings,
        apply,
    })
}
