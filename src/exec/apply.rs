//! The driver of `apply`: submits a prepared plan in batches under
//! throttles, watches the moves, elects preferred leaders and restores the
//! throttles, emitting [`Event`]s that the CLI renders.
//!
//! # The loop
//!
//! 1. Load the journal (refuse one written for another plan), read the
//!    cluster and the moves in flight, and sort every planned partition
//!    into done, moving to its target (adopted, never resubmitted),
//!    submitted by an earlier run but no longer heading to its target
//!    (diverged: someone cancelled or replaced it; never resubmitted), or
//!    to submit.
//! 2. Hand the partitions to the [`Scheduler`]: moves that copy nothing
//!    (reorders) all go in the first request; copying moves start as slots
//!    free, largest first, within `--max-per-broker` per direction and
//!    `--max-in-flight`.
//! 3. Before each request: extend the throttles to the batch's partitions
//!    and brokers (`throttle::set_ops` with the undo record so far), save
//!    the undo record to the journal, then send the config operations,
//!    then the reassignments; save the accepted submissions.
//! 4. Every poll interval: list the moves in flight and the replica sizes
//!    (progress), pick up a rate changed by `throttle set` (the journal's
//!    throttle revision), mark finished partitions, submit the next batch.
//! 5. When nothing of the plan is moving: elect the preferred leader of
//!    every planned partition at its target that another replica leads
//!    (ELECTION_NOT_NEEDED is success), restore the throttles exactly,
//!    mark the journal finished (an incomplete run's stays open).
//!
//! With `--all-at-once` and nothing set before, the throttle values are
//! the strings Kafka's tool sets for the same plan, except that a planned
//! partition already at its target is not throttled (Kafka's tool lists
//! its replicas in the leader list). Batched, each batch appends its own
//! entries, so the lists hold the same entries in the order the batches
//! were sent.
//!
//! `no_wait` returns after the first request; the stop flag (Ctrl-C)
//! returns before the next one, leaving moves in flight and throttles in
//! force; a re-run of the same plan with the same journal resumes.
//!
//! # Invariants
//!
//! - The throttle undo record is in the journal before the operations it
//!   undoes are sent; a submission is in the journal once the cluster
//!   accepted it, and a partition the journal lists is never submitted
//!   again while the journal is open (a finished or cancelled journal
//!   starts afresh). A run killed between a request and its journal
//!   write finds the move in flight or done, and adopts it.
//! - No I/O but the [`ClusterAdmin`] and the [`JournalStore`]; no time but
//!   the [`Clock`]; no printing (events go to the caller's callback).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;

use super::batch::{Job, Mode, Scheduler};
use super::clock::Clock;
use super::disks::{self, DirState};
use super::error::ExecError;
use super::estimate::{self, Bound};
use super::journal::{
    Journal, JournalResource, JournalState, JournalStore, Merged, Submission, SubmittedMove,
    UndoEntry, save_merged,
};
use super::prepare::{Prepared, original_replicas};
use super::throttle::{
    self, FOLLOWER_RATE, FOLLOWER_REPLICAS, LEADER_RATE, LEADER_REPLICAS, LOG_DIRS_RATE, LeftAlone,
    Rates, Throttles, Undo,
};
use crate::model::live::{
    AlterOp, ClusterAdmin, ConfigOp, ConfigResource, DirMove, ErrorCode, InFlight, LogDirs,
};
use crate::model::reassignment::Move;
use crate::model::{BrokerId, Cluster, TopicPartition};

/// Every throttle config key this tool sets.
pub const THROTTLE_KEYS: [&str; 5] = [
    LEADER_REPLICAS,
    FOLLOWER_REPLICAS,
    LEADER_RATE,
    FOLLOWER_RATE,
    LOG_DIRS_RATE,
];

/// The default time between two polls of the cluster.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// How long a move that left ListPartitionReassignments may show other
/// replicas than its target in the metadata (which lags the controller)
/// before the driver calls it diverged; at least three polls.
pub const SETTLE: Duration = Duration::from_secs(5);

/// How `apply` runs (flags → settings, in the CLI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplySettings {
    /// `--throttle` and `--replica-alter-log-dirs-throttle`; `None` sets no
    /// throttle of that kind.
    pub rates: Rates,
    /// `--max-in-flight`/`--max-per-broker`, or `--all-at-once`.
    pub mode: Mode,
    /// Time between polls of the cluster (1 s by default).
    pub poll_interval: Duration,
    /// `--no-wait`: submit the first batch and return.
    pub no_wait: bool,
    /// `--no-elect`: skip the preferred-leader election at the end.
    pub no_elect: bool,
}

impl Default for ApplySettings {
    fn default() -> Self {
        ApplySettings {
            rates: Rates::default(),
            mode: Mode::default(),
            poll_interval: DEFAULT_POLL_INTERVAL,
            no_wait: false,
            no_elect: false,
        }
    }
}

/// A partition's target, as events and reports show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MoveView {
    pub topic: String,
    pub partition: i32,
    pub target: Vec<BrokerId>,
    /// Bytes this move copies (partition size × replicas added; 0 for a
    /// reorder).
    pub bytes: u64,
}

/// A replica put in a named log dir, as events show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DirMoveView {
    pub topic: String,
    pub partition: i32,
    pub broker: BrokerId,
    pub log_dir: String,
}

impl From<&DirMove> for DirMoveView {
    fn from(m: &DirMove) -> Self {
        DirMoveView {
            topic: m.tp.topic.clone(),
            partition: m.tp.partition,
            broker: m.broker,
            log_dir: m.dir.clone(),
        }
    }
}

/// A partition the cluster refused, with Kafka's error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionError {
    pub topic: String,
    pub partition: i32,
    /// Kafka's error code (0 when the refusal is this tool's own).
    pub code: i16,
    /// The error's name and the broker's message, e.g.
    /// `INVALID_REPLICA_ASSIGNMENT (39): ...`.
    pub error: String,
}

impl PartitionError {
    pub fn new(tp: &TopicPartition, e: &ErrorCode) -> PartitionError {
        PartitionError {
            topic: tp.topic.clone(),
            partition: tp.partition,
            code: e.code,
            error: e.to_string(),
        }
    }

    pub fn tp(&self) -> TopicPartition {
        TopicPartition {
            topic: self.topic.clone(),
            partition: self.partition,
        }
    }
}

/// One config operation, as events show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigOpView {
    /// `broker` or `topic`.
    pub resource_type: &'static str,
    /// The broker id or topic name.
    pub resource: String,
    pub key: String,
    /// `set`, `delete`, `append` or `subtract`.
    pub op: &'static str,
    /// The value sent (comma-joined for lists; none for a delete).
    pub value: Option<String>,
}

impl From<&ConfigOp> for ConfigOpView {
    fn from(c: &ConfigOp) -> Self {
        let (resource_type, resource) = resource_view(&c.resource);
        ConfigOpView {
            resource_type,
            resource,
            key: c.key.clone(),
            op: match c.op {
                AlterOp::Set(_) => "set",
                AlterOp::Delete => "delete",
                AlterOp::Append(_) => "append",
                AlterOp::Subtract(_) => "subtract",
            },
            value: c.op.wire_value(),
        }
    }
}

fn resource_view(r: &ConfigResource) -> (&'static str, String) {
    match r {
        ConfigResource::Broker(b) => ("broker", b.to_string()),
        ConfigResource::Topic(t) => ("topic", t.clone()),
    }
}

/// A throttle value restoring left alone because someone changed it after
/// this tool set it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeftAloneView {
    pub resource_type: &'static str,
    pub resource: String,
    pub key: String,
    /// What this tool set.
    pub ours: String,
    /// What is there now (none: deleted).
    pub now: Option<String>,
}

impl From<&LeftAlone> for LeftAloneView {
    fn from(l: &LeftAlone) -> Self {
        let (resource_type, resource) = resource_view(&l.resource);
        LeftAloneView {
            resource_type,
            resource,
            key: l.key.clone(),
            ours: l.ours.clone(),
            now: l.now.clone(),
        }
    }
}

/// Why the throttles changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ThrottleReason {
    /// Set or extended for a batch about to be submitted.
    Batch,
    /// The rate changed (a re-run with another `--throttle`, or
    /// `throttle set` from another process, seen in the journal).
    RateChanged,
    /// Put back as they were before this tool changed them.
    Restored,
}

/// Bytes copied into one destination broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokerProgress {
    pub broker: BrokerId,
    pub bytes_copied: u64,
    pub bytes_total: u64,
}

/// How far the run has come (one per poll).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Progress {
    pub elapsed_ms: u64,
    /// Bytes copied by this plan's moves (done and in flight) of all they
    /// copy; partitions done before this run are not counted.
    pub bytes_copied: u64,
    pub bytes_total: u64,
    /// Planned partitions at their target, of all planned partitions.
    pub partitions_done: usize,
    pub partitions_total: usize,
    /// This plan's moves in flight now.
    pub in_flight: usize,
    /// Copy rate over the last few polls, bytes per second.
    pub rate_bytes_per_sec: Option<f64>,
    /// Seconds left at that rate.
    pub eta_seconds: Option<f64>,
    /// Per destination broker, sorted by id.
    pub brokers: Vec<BrokerProgress>,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every planned partition is at its target; leaders elected (unless
    /// `no_elect`) and throttles restored.
    Completed,
    /// `no_wait`: the first batch is submitted; moves are in flight.
    Submitted,
    /// The stop flag was raised: no new submissions, moves in flight,
    /// throttles in force. Re-run to resume, or cancel.
    Stopped,
    /// Nothing of the plan is moving any more but some partitions did not
    /// reach their target (refused, diverged or vanished); throttles
    /// restored.
    Incomplete,
}

/// What the driver tells its caller as it goes. Serialized with the tag
/// `event` (`started`, `submitted`, `progress`, `partition_done`,
/// `throttle_changed`, `finished`); the CLI adds `version`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Started {
        /// Partitions in the plan.
        partitions: usize,
        /// At their target before this run.
        already_done: usize,
        /// Already moving to their target (adopted from an earlier run).
        adopted: usize,
        /// Still to submit (reorders included).
        to_submit: usize,
        /// Moves that copy nothing, sent in the first request.
        reorders: usize,
        /// Bytes the remaining moves copy.
        bytes_total: u64,
        /// The physical bound of the remaining moves at the replication
        /// rate (none without a rate).
        bound_seconds: Option<f64>,
        replication_rate: Option<u64>,
        log_dirs_rate: Option<u64>,
        /// Whether a journal of an earlier run was found.
        resumed: bool,
    },
    Submitted {
        elapsed_ms: u64,
        moves: Vec<MoveView>,
        /// How many of `moves` copy nothing.
        reorders: usize,
        refused: Vec<PartitionError>,
        /// Replicas the brokers accepted to put in a named log dir
        /// (AlterReplicaLogDirs) with this batch or since the last one.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        log_dirs: Vec<DirMoveView>,
    },
    Progress(Progress),
    PartitionDone {
        elapsed_ms: u64,
        topic: String,
        partition: i32,
        replicas: Vec<BrokerId>,
    },
    ThrottleChanged {
        elapsed_ms: u64,
        reason: ThrottleReason,
        replication_rate: Option<u64>,
        log_dirs_rate: Option<u64>,
        ops: Vec<ConfigOpView>,
        left_alone: Vec<LeftAloneView>,
    },
    Finished {
        elapsed_ms: u64,
        outcome: Outcome,
        partitions_done: usize,
        partitions_total: usize,
        /// This plan's moves still in flight.
        in_flight: usize,
        elected: usize,
        bytes_copied: u64,
    },
}

/// What happened to the throttles at the end of a run.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ThrottleOutcome {
    /// Whether restoring ran (nothing of ours left in force but what is
    /// in `left_alone`).
    pub restored: bool,
    /// Brokers that are down, whose values stay recorded in the journal
    /// for a later `throttle clear`.
    pub unreachable_brokers: Vec<BrokerId>,
    pub ops: Vec<ConfigOpView>,
    pub left_alone: Vec<LeftAloneView>,
}

/// The result of [`apply`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApplyReport {
    pub outcome: Outcome,
    pub elapsed_ms: u64,
    pub partitions_total: usize,
    /// At their target now (including `already_done`).
    pub done: Vec<TopicPartition>,
    /// At their target before this run started.
    pub already_done: Vec<TopicPartition>,
    /// Still moving to their target.
    pub in_flight: Vec<TopicPartition>,
    /// Never submitted (stopped, or `no_wait`).
    pub not_submitted: Vec<TopicPartition>,
    /// Submissions the cluster refused, and partitions that vanished.
    pub refused: Vec<PartitionError>,
    /// Submitted (by this journal) but neither moving nor at the target:
    /// cancelled or replaced by someone else. Never resubmitted.
    pub diverged: Vec<TopicPartition>,
    /// Partitions submitted by this run.
    pub submitted: usize,
    /// Preferred leaders elected (or already leading).
    pub elected: Vec<TopicPartition>,
    pub election_failed: Vec<PartitionError>,
    pub throttles: ThrottleOutcome,
    pub bytes_copied: u64,
    pub bytes_total: u64,
    /// The physical bound of this run's moves at the replication rate.
    pub bound_seconds: Option<f64>,
}

/// The jobs of `plan` on `cluster`: one per planned partition not at its
/// target, from its live original replicas, sized by its leader's log.
/// What the scheduler, `--dry-run` and the estimate take.
pub fn jobs_for(cluster: &Cluster, plan: &[Move]) -> Vec<Job> {
    plan.iter()
        .filter_map(|m| {
            let p = cluster.partition(&m.tp)?;
            if p.in_flight.is_none() && p.replicas == m.replicas {
                return None;
            }
            let original = original_replicas(p);
            Some(Job::new(
                m.tp.clone(),
                &original,
                p.leader.filter(|l| original.contains(l)),
                m.replicas.clone(),
                p.size_bytes,
            ))
        })
        .collect()
}

/// The throttles Kafka's tool would set for `plan` on `cluster` with the
/// moves `in_flight` (what `--dry-run` prints).
pub fn throttles_for(
    cluster: &Cluster,
    plan: &[Move],
    in_flight: &[InFlight],
) -> Result<Throttles, throttle::UnknownPartitions> {
    let current: BTreeMap<TopicPartition, Vec<BrokerId>> = plan
        .iter()
        .filter_map(|m| Some((m.tp.clone(), original_replicas(cluster.partition(&m.tp)?))))
        .collect();
    Throttles::compute(plan, &current, in_flight)
}

/// The physical bound of `jobs` at the replication rate, if there is one.
fn bound_of(jobs: &[Job], rates: Rates) -> Option<Bound> {
    rates.replication.map(|r| estimate::physical_bound(jobs, r))
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Where a planned partition stands in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    AlreadyDone,
    Pending,
    Moving,
    Done,
    Refused,
    Diverged,
}

struct Tracked {
    mv: Move,
    /// The replicas before any move of it (`replicas - adding`).
    original: Vec<BrokerId>,
    job: Option<Job>,
    state: State,
    /// Bytes of the partition's log on its source, as last seen.
    size: u64,
    /// Bytes copied into each adding broker, as last seen.
    copied: BTreeMap<BrokerId, u64>,
    /// When the move was first seen no longer listed while its replicas
    /// were not the target.
    unlisted_since: Option<Duration>,
    /// The replica set is at the target (the reassignment part is over, or
    /// there was none); the partition is done once its dirs are too.
    reassigned: bool,
    /// Replicas the plan puts in a named log dir.
    dirs: Vec<DirTrack>,
}

/// One replica with a named log dir.
struct DirTrack {
    mv: DirMove,
    /// The broker accepted AlterReplicaLogDirs (until then it is sent
    /// again at every poll).
    accepted: bool,
    /// In its dir with no future log.
    done: bool,
    /// The broker held the replica when this run looked first: it must be
    /// moved between disks (a new replica is created in the dir).
    present: bool,
    copied: u64,
    total: u64,
    /// When the broker first answered REPLICA_NOT_AVAILABLE although the
    /// replica set had reached the target.
    absent_since: Option<Duration>,
}

impl DirTrack {
    fn new(mv: DirMove, log_dirs: &LogDirs) -> DirTrack {
        let state = DirState::of(&mv, log_dirs);
        let (copied, total) = state.bytes();
        DirTrack {
            accepted: matches!(&state, DirState::Moving { future, .. } if *future == mv.dir),
            done: state == DirState::InPlace,
            present: state != DirState::Absent,
            mv,
            copied,
            total,
            absent_since: None,
        }
    }

    fn observe(&mut self, log_dirs: &LogDirs) {
        let state = DirState::of(&self.mv, log_dirs);
        let (copied, total) = state.bytes();
        self.total = self.total.max(total);
        self.done = state == DirState::InPlace;
        self.copied = if self.done { self.total } else { copied };
    }
}

impl Tracked {
    fn dirs_done(&self) -> bool {
        self.dirs.iter().all(|d| d.done)
    }

    fn dir_total(&self) -> u64 {
        self.dirs.iter().map(|d| d.total).sum()
    }

    fn adding(&self) -> &[BrokerId] {
        self.job
            .as_ref()
            .map(|j| j.adding.as_slice())
            .unwrap_or(&[])
    }

    /// Bytes copied between brokers, then between disks.
    fn total(&self) -> u64 {
        self.size
            .saturating_mul(self.adding().len() as u64)
            .saturating_add(self.dir_total())
    }

    fn copied_total(&self) -> u64 {
        match self.state {
            State::Done => self.total(),
            State::Moving => {
                let network: u64 = if self.reassigned {
                    self.size.saturating_mul(self.adding().len() as u64)
                } else {
                    self.copied.values().map(|&c| c.min(self.size)).sum()
                };
                network + self.dirs.iter().map(|d| d.copied.min(d.total)).sum::<u64>()
            }
            _ => 0,
        }
    }

    /// Counted in the progress totals.
    fn counted(&self) -> bool {
        matches!(self.state, State::Pending | State::Moving | State::Done)
    }
}

/// One run of the driver: the state `apply`'s steps share.
struct Run<'a, A, C, S> {
    admin: &'a mut A,
    clock: &'a mut C,
    store: &'a mut S,
    on_event: &'a mut dyn FnMut(&Event),
    journal: Journal,
    start: Duration,
    rates: Rates,
    parts: BTreeMap<TopicPartition, Tracked>,
    samples: VecDeque<(Duration, u64)>,
    submitted: usize,
    refused: Vec<PartitionError>,
    brokers: Vec<BrokerId>,
    alive: BTreeSet<BrokerId>,
    /// How long a move no longer listed may show other replicas than its
    /// target before it counts as diverged.
    settle: Duration,
    /// The throttle revision this run last read or saved (see
    /// [`save_merged`]).
    base: u64,
    /// A throttle record another process saved was adopted since the
    /// rates were last put on the brokers it names.
    reassert: bool,
}

impl<A: ClusterAdmin, C: Clock, S: JournalStore> Run<'_, A, C, S> {
    fn elapsed(&self) -> Duration {
        self.clock.now().saturating_sub(self.start)
    }

    fn emit(&mut self, e: Event) {
        (self.on_event)(&e);
    }

    /// Saves the journal by the rule of [`save_merged`], adopting a
    /// throttle record another process saved meanwhile. `Conflict` means
    /// this run's own throttle change was not saved: the caller makes it
    /// again from the adopted record.
    fn save(&mut self) -> Result<Merged, ExecError> {
        let merged = save_merged(self.store, &mut self.journal, self.base)
            .map_err(ExecError::journal("saving"))?;
        if merged != Merged::Saved {
            self.adopted();
        }
        self.base = self.journal.throttle.revision;
        Ok(merged)
    }

    /// Takes the rates of a throttle record another process (`throttle
    /// set`) saved, now in `self.journal`.
    fn adopted(&mut self) {
        let rates: Rates = self.journal.throttle.rates.into();
        self.reassert = true;
        if rates == self.rates {
            return;
        }
        self.rates = rates;
        let elapsed_ms = ms(self.elapsed());
        self.emit(Event::ThrottleChanged {
            elapsed_ms,
            reason: ThrottleReason::RateChanged,
            replication_rate: self.rates.replication,
            log_dirs_rate: self.rates.log_dirs,
            ops: Vec::new(),
            left_alone: Vec::new(),
        });
    }

    /// Adopts a throttle record changed by another process (`throttle
    /// set`) since this run last saw it, and puts its rates on every
    /// broker it names: an extension this run sent just after the other
    /// process read the brokers may have overwritten the new rate on
    /// some, and a value not the record's would be left in force at the
    /// end.
    async fn pick_up_rate_change(&mut self) -> Result<(), ExecError> {
        let Some(j) = self.store.load().map_err(ExecError::journal("loading"))? else {
            return Ok(());
        };
        if j.plan_digest == self.journal.plan_digest && j.throttle.revision != self.base {
            self.journal.throttle = j.throttle;
            self.base = self.journal.throttle.revision;
            self.adopted();
        }
        if std::mem::take(&mut self.reassert) {
            let t = rate_throttles(&self.journal.throttle.undo(), self.rates, None);
            self.set_throttles(&t, ThrottleReason::RateChanged).await?;
        }
        Ok(())
    }

    /// Extends the throttles to `moves` (merged with the moves in flight)
    /// and records the undo before sending anything.
    async fn throttle(
        &mut self,
        moves: &[Move],
        in_flight: &[InFlight],
        reason: ThrottleReason,
    ) -> Result<(), ExecError> {
        if self.rates.replication.is_none() && self.rates.log_dirs.is_none() {
            return Ok(());
        }
        let current: BTreeMap<TopicPartition, Vec<BrokerId>> = moves
            .iter()
            .filter_map(|m| {
                let t = self.parts.get(&m.tp)?;
                let original = t.original.clone();
                Some((m.tp.clone(), original))
            })
            .collect();
        let throttles = Throttles::compute(moves, &current, in_flight)?;
        self.set_throttles(&throttles, reason).await
    }

    async fn set_throttles(
        &mut self,
        throttles: &Throttles,
        reason: ThrottleReason,
    ) -> Result<(), ExecError> {
        // A broker that is down replicates nothing and answers nothing: a
        // plan draining it must not wait on its configs.
        let mut throttles = throttles.clone();
        throttles.brokers.retain(|b| self.alive.contains(b));
        throttles.log_dir_brokers.retain(|b| self.alive.contains(b));
        let throttles = &throttles;
        loop {
            match self.throttle_once(throttles, reason).await? {
                Some(Merged::Conflict) => continue,
                _ => return Ok(()),
            }
        }
    }

    /// One attempt of [`Run::set_throttles`]: `Conflict` when another
    /// process saved a throttle record meanwhile (adopted; nothing sent).
    async fn throttle_once(
        &mut self,
        throttles: &Throttles,
        reason: ThrottleReason,
    ) -> Result<Option<Merged>, ExecError> {
        let mut resources: BTreeSet<ConfigResource> = throttles
            .topics
            .keys()
            .map(|t| ConfigResource::Topic(t.clone()))
            .collect();
        resources.extend(
            throttles
                .brokers
                .iter()
                .chain(&throttles.log_dir_brokers)
                .map(|&b| ConfigResource::Broker(b)),
        );
        if resources.is_empty() {
            return Ok(None);
        }
        let resources: Vec<ConfigResource> = resources.into_iter().collect();
        let now = self
            .admin
            .describe_configs(&resources, &THROTTLE_KEYS)
            .await
            .map_err(ExecError::admin("reading throttle configs"))?;
        let previous = self.journal.throttle.undo();
        let mut change = throttle::set_ops(throttles, self.rates, &now, &previous);
        // A rate already at its value needs no request; the undo record
        // keeps it all the same.
        change.ops.retain(|op| match &op.op {
            AlterOp::Set(v) => now.get(&(op.resource.clone(), op.key.clone())) != Some(v),
            _ => true,
        });
        let sorted = |u: &[Undo]| {
            let mut v = u.to_vec();
            v.sort();
            v
        };
        if change.ops.is_empty() && sorted(&change.undo) == sorted(&previous) {
            return Ok(None);
        }
        self.journal.throttle.set_undo(&change.undo);
        self.journal.throttle.rates = self.rates.into();
        self.journal.throttle.revision += 1;
        let merged = self.save()?;
        if merged == Merged::Conflict {
            return Ok(Some(merged));
        }
        if !change.ops.is_empty() {
            self.admin
                .alter_configs(&change.ops)
                .await
                .map_err(ExecError::admin("setting throttles"))?;
        }
        let elapsed_ms = ms(self.elapsed());
        self.emit(Event::ThrottleChanged {
            elapsed_ms,
            reason,
            replication_rate: self.rates.replication,
            log_dirs_rate: self.rates.log_dirs,
            ops: change.ops.iter().map(ConfigOpView::from).collect(),
            left_alone: Vec::new(),
        });
        Ok(Some(merged))
    }

    /// Throttles, then submits `batch`; records what the cluster accepted.
    /// Named log dirs go as Kafka's tool sends them: those of new replicas
    /// before the reassignment too (the broker answers REPLICA_NOT_AVAILABLE
    /// and creates the replica in that dir), the others once the
    /// reassignment is accepted; whatever is not accepted yet is sent again
    /// at every poll.
    async fn submit(&mut self, batch: Vec<Job>, in_flight: &[InFlight]) -> Result<(), ExecError> {
        if batch.is_empty() {
            return Ok(());
        }
        let moves: Vec<Move> = batch.iter().map(|j| self.parts[&j.tp].mv.clone()).collect();
        self.throttle(&moves, in_flight, ThrottleReason::Batch)
            .await?;
        let early: Vec<DirMove> = batch
            .iter()
            .flat_map(|j| self.parts[&j.tp].dirs.iter())
            .filter(|d| !d.done && !d.accepted && !d.present)
            .map(|d| d.mv.clone())
            .collect();
        let (mut dir_views, dir_refused) = self.send_dirs(&early).await?;
        // A partition whose replica set is already the target moves only
        // between disks: no reassignment to send.
        let request: Vec<(TopicPartition, Option<Vec<BrokerId>>)> = batch
            .iter()
            .filter(|j| !dir_refused.contains_key(&j.tp) && !self.parts[&j.tp].reassigned)
            .map(|j| (j.tp.clone(), Some(j.target.clone())))
            .collect();
        let results = if request.is_empty() {
            Vec::new()
        } else {
            self.admin
                .alter_reassignments(&request)
                .await
                .map_err(ExecError::admin("submitting moves"))?
        };
        let errors: BTreeMap<TopicPartition, ErrorCode> = results
            .into_iter()
            .filter_map(|(tp, r)| r.err().map(|e| (tp, e)))
            .collect();
        let mut accepted = Vec::new();
        let mut views = Vec::new();
        let mut refused = Vec::new();
        let mut reorders = 0;
        for j in &batch {
            let t = self.parts.get_mut(&j.tp).expect("a job of the plan");
            if let Some(e) = dir_refused.get(&j.tp) {
                t.state = State::Refused;
                refused.push(e.clone());
                continue;
            }
            if let Some(e) = errors.get(&j.tp) {
                t.state = State::Refused;
                refused.push(PartitionError::new(&j.tp, e));
                continue;
            }
            t.state = State::Moving;
            accepted.push(SubmittedMove {
                topic: j.tp.topic.clone(),
                partition: j.tp.partition,
                target: j.target.clone(),
            });
            if j.copies_nothing() {
                reorders += 1;
            }
            views.push(MoveView {
                topic: j.tp.topic.clone(),
                partition: j.tp.partition,
                target: j.target.clone(),
                bytes: j.bytes_to_copy(),
            });
        }
        let late: Vec<DirMove> = batch
            .iter()
            .filter(|j| self.parts[&j.tp].state == State::Moving)
            .flat_map(|j| self.parts[&j.tp].dirs.iter())
            .filter(|d| !d.done && !d.accepted)
            .map(|d| d.mv.clone())
            .collect();
        let (late_views, late_refused) = self.send_dirs(&late).await?;
        dir_views.extend(late_views);
        for (tp, e) in late_refused {
            // The reassignment runs on; this run no longer waits for it.
            self.parts.get_mut(&tp).expect("tracked").state = State::Refused;
            refused.push(e);
        }
        let elapsed_ms = ms(self.elapsed());
        if !accepted.is_empty() {
            self.submitted += accepted.len();
            self.journal.submissions.push(Submission {
                at_ms: elapsed_ms,
                partitions: accepted,
            });
            self.save()?;
        }
        self.refused.extend(refused.iter().cloned());
        self.emit(Event::Submitted {
            elapsed_ms,
            moves: views,
            reorders,
            refused,
            log_dirs: dir_views,
        });
        Ok(())
    }

    /// Sends AlterReplicaLogDirs for `moves` and marks what the brokers
    /// accepted. REPLICA_NOT_AVAILABLE leaves a move to send again, unless
    /// the replica set has been at its target for the settle time (the
    /// replica should exist by then); any other code refuses the
    /// partition (the first refusal of each is returned).
    async fn send_dirs(
        &mut self,
        moves: &[DirMove],
    ) -> Result<(Vec<DirMoveView>, BTreeMap<TopicPartition, PartitionError>), ExecError> {
        let mut views = Vec::new();
        let mut refused: BTreeMap<TopicPartition, PartitionError> = BTreeMap::new();
        if moves.is_empty() {
            return Ok((views, refused));
        }
        let results = self
            .admin
            .alter_replica_log_dirs(moves)
            .await
            .map_err(ExecError::admin("moving replicas between log dirs"))?;
        let now = self.clock.now();
        for (m, r) in results {
            let Some(t) = self.parts.get_mut(&m.tp) else {
                continue;
            };
            let reassigned = t.reassigned;
            let Some(d) = t.dirs.iter_mut().find(|d| d.mv == m) else {
                continue;
            };
            let error = match r {
                Ok(()) => {
                    d.accepted = true;
                    views.push(DirMoveView::from(&m));
                    continue;
                }
                Err(e) if e.code == ErrorCode::REPLICA_NOT_AVAILABLE => {
                    let since = if reassigned {
                        *d.absent_since.get_or_insert(now)
                    } else {
                        now
                    };
                    if now.saturating_sub(since) < self.settle {
                        continue;
                    }
                    e
                }
                Err(e) => e,
            };
            refused
                .entry(m.tp.clone())
                .or_insert_with(|| PartitionError {
                    topic: m.tp.topic.clone(),
                    partition: m.tp.partition,
                    code: error.code,
                    error: format!(
                        "{error} (moving broker {}'s replica to log dir {})",
                        m.broker, m.dir
                    ),
                });
        }
        Ok((views, refused))
    }

    /// Marks a partition whose replicas and dirs are all in place done.
    fn mark_done(&mut self, tp: &TopicPartition) {
        let t = self.parts.get_mut(tp).expect("tracked");
        t.state = State::Done;
        let replicas = t.mv.replicas.clone();
        let elapsed_ms = ms(self.elapsed());
        self.emit(Event::PartitionDone {
            elapsed_ms,
            topic: tp.topic.clone(),
            partition: tp.partition,
            replicas,
        });
    }

    /// Sends the disk moves not accepted yet again and reads where the
    /// replicas of the moving partitions' named dirs are.
    async fn poll_dirs(&mut self) -> Result<(), ExecError> {
        let waiting = |t: &Tracked| t.state == State::Moving && !t.dirs_done();
        let resend: Vec<DirMove> = self
            .parts
            .values()
            .filter(|t| waiting(t))
            .flat_map(|t| t.dirs.iter())
            .filter(|d| !d.done && !d.accepted)
            .map(|d| d.mv.clone())
            .collect();
        let (views, refused) = self.send_dirs(&resend).await?;
        for (tp, e) in &refused {
            self.parts.get_mut(tp).expect("tracked").state = State::Refused;
            self.refused.push(e.clone());
        }
        if !views.is_empty() || !refused.is_empty() {
            let elapsed_ms = ms(self.elapsed());
            self.emit(Event::Submitted {
                elapsed_ms,
                moves: Vec::new(),
                reorders: 0,
                refused: refused.into_values().collect(),
                log_dirs: views,
            });
        }
        let brokers: BTreeSet<BrokerId> = self
            .parts
            .values()
            .filter(|t| waiting(t))
            .flat_map(|t| t.dirs.iter().filter(|d| !d.done).map(|d| d.mv.broker))
            .filter(|b| self.alive.contains(b))
            .collect();
        if brokers.is_empty() {
            return Ok(());
        }
        let brokers: Vec<BrokerId> = brokers.into_iter().collect();
        // Progress only, as the replica sizes: a broker that cannot answer
        // leaves the last state in place.
        let Ok(log_dirs) = self.admin.describe_log_dirs(&brokers).await else {
            return Ok(());
        };
        for t in self.parts.values_mut().filter(|t| waiting(t)) {
            for d in t
                .dirs
                .iter_mut()
                .filter(|d| log_dirs.contains_key(&d.mv.broker))
            {
                d.observe(&log_dirs);
            }
        }
        Ok(())
    }

    /// Lists the moves in flight, marks finished partitions and measures
    /// progress.
    async fn poll(&mut self) -> Result<Vec<InFlight>, ExecError> {
        let in_flight = self
            .admin
            .list_reassignments()
            .await
            .map_err(ExecError::admin("listing moves in flight"))?;
        let moving: BTreeMap<&TopicPartition, &InFlight> =
            in_flight.iter().map(|m| (&m.tp, m)).collect();
        let finished: Vec<TopicPartition> = self
            .parts
            .iter()
            .filter(|(tp, t)| t.state == State::Moving && !t.reassigned && !moving.contains_key(tp))
            .map(|(tp, _)| tp.clone())
            .collect();
        // A move another run replaced is no longer ours to wait for.
        let replaced: Vec<TopicPartition> = self
            .parts
            .iter()
            .filter(|(tp, t)| {
                t.state == State::Moving
                    && moving.get(tp).is_some_and(|m| m.target() != t.mv.replicas)
            })
            .map(|(tp, _)| tp.clone())
            .collect();
        for tp in replaced {
            self.parts.get_mut(&tp).expect("tracked").state = State::Diverged;
        }
        if !finished.is_empty() {
            let cluster = self
                .admin
                .cluster()
                .await
                .map_err(ExecError::admin("reading the cluster"))?;
            for tp in finished {
                let now = cluster.partition(&tp).map(|p| p.replicas.clone());
                let t = self.parts.get_mut(&tp).expect("tracked");
                if now.as_ref() == Some(&t.mv.replicas) {
                    t.reassigned = true;
                } else {
                    // Metadata can lag the controller's list for a moment
                    // on a real cluster: a move no longer listed counts as
                    // diverged only once its replicas stay off the target.
                    let now = self.clock.now();
                    let since = *t.unlisted_since.get_or_insert(now);
                    if now.saturating_sub(since) >= self.settle {
                        t.state = State::Diverged;
                    }
                }
            }
        }
        self.poll_dirs().await?;
        let in_place: Vec<TopicPartition> = self
            .parts
            .iter()
            .filter(|(_, t)| t.state == State::Moving && t.reassigned && t.dirs_done())
            .map(|(tp, _)| tp.clone())
            .collect();
        for tp in &in_place {
            self.mark_done(tp);
        }
        if self
            .parts
            .values()
            .any(|t| t.state == State::Moving && !t.reassigned)
        {
            // Progress only: a broker that cannot answer (down, say) leaves
            // the last figures in place rather than stopping the run.
            let sizes = self
                .admin
                .replica_sizes(&self.brokers)
                .await
                .unwrap_or_default();
            for (tp, t) in &mut self.parts {
                if t.state != State::Moving || t.reassigned {
                    continue;
                }
                let Some(per_broker) = sizes.get(tp) else {
                    continue;
                };
                if let Some(job) = &t.job {
                    if let Some(&s) = per_broker.get(&job.source) {
                        t.size = t.size.max(s);
                    }
                    for &b in &job.adding {
                        if let Some(&c) = per_broker.get(&b) {
                            t.copied.insert(b, c);
                        }
                    }
                }
            }
        }
        let p = self.progress();
        self.emit(Event::Progress(p));
        Ok(in_flight)
    }

    fn progress(&mut self) -> Progress {
        let now = self.elapsed();
        let mut brokers: BTreeMap<BrokerId, (u64, u64)> = BTreeMap::new();
        let (mut copied, mut total) = (0u64, 0u64);
        for t in self.parts.values().filter(|t| t.counted()) {
            copied += t.copied_total();
            total += t.total();
            for &b in t.adding() {
                let e = brokers.entry(b).or_default();
                e.1 += t.size;
                e.0 += match t.state {
                    State::Done => t.size,
                    State::Moving if t.reassigned => t.size,
                    State::Moving => t.copied.get(&b).copied().unwrap_or(0).min(t.size),
                    _ => 0,
                };
            }
            for d in t.dirs.iter().filter(|d| d.total > 0) {
                let e = brokers.entry(d.mv.broker).or_default();
                e.1 += d.total;
                e.0 += match t.state {
                    State::Done => d.total,
                    State::Moving => d.copied.min(d.total),
                    _ => 0,
                };
            }
        }
        self.samples.push_back((now, copied));
        while self.samples.len() > 10 {
            self.samples.pop_front();
        }
        let rate = match (self.samples.front(), self.samples.back()) {
            (Some(&(t0, c0)), Some(&(t1, c1))) if t1 > t0 => {
                Some(c1.saturating_sub(c0) as f64 / (t1 - t0).as_secs_f64())
            }
            _ => None,
        };
        let eta = rate
            .filter(|r| *r > 0.0)
            .map(|r| total.saturating_sub(copied) as f64 / r);
        Progress {
            elapsed_ms: ms(now),
            bytes_copied: copied,
            bytes_total: total,
            partitions_done: self.count(&[State::Done, State::AlreadyDone]),
            partitions_total: self.parts.len(),
            in_flight: self.count(&[State::Moving]),
            rate_bytes_per_sec: rate,
            eta_seconds: eta,
            brokers: brokers
                .into_iter()
                .map(|(broker, (bytes_copied, bytes_total))| BrokerProgress {
                    broker,
                    bytes_copied,
                    bytes_total,
                })
                .collect(),
        }
    }

    fn count(&self, states: &[State]) -> usize {
        self.parts
            .values()
            .filter(|t| states.contains(&t.state))
            .count()
    }

    fn with_state(&self, states: &[State]) -> Vec<TopicPartition> {
        self.parts
            .iter()
            .filter(|(_, t)| states.contains(&t.state))
            .map(|(tp, _)| tp.clone())
            .collect()
    }
}

/// The journal in `store` as saved, if it may serve the plan with
/// `digest`: one of this plan, or one left by `throttle set` alone (no
/// digest, nothing submitted); one of another plan is refused.
pub fn load_journal<S: JournalStore>(
    store: &mut S,
    digest: &str,
) -> Result<Option<Journal>, ExecError> {
    let Some(j) = store.load().map_err(ExecError::journal("loading"))? else {
        return Ok(None);
    };
    let adoptable = j.plan_digest.is_empty() && j.submissions.is_empty();
    if !adoptable && j.plan_digest != digest {
        return Err(ExecError::DigestMismatch {
            journal: j.plan_digest,
            plan: digest.to_string(),
        });
    }
    Ok(Some(j))
}

/// The journal a run of the plan with `digest` goes on with, or a fresh
/// one: [`load_journal`]'s, one left by `throttle set` adopted, and one of
/// a finished or cancelled run started afresh (its throttles were
/// restored).
pub fn open_journal<S: JournalStore>(store: &mut S, digest: &str) -> Result<Journal, ExecError> {
    let Some(mut j) = load_journal(store, digest)? else {
        return Ok(Journal::new(digest));
    };
    j.plan_digest = digest.to_string();
    if j.state != JournalState::Running {
        j.submissions.clear();
        j.state = JournalState::Running;
    }
    Ok(j)
}

/// The rate part of the throttles in force per `undo`: the brokers where
/// this tool set a replication (or log-dir) rate, or `brokers` if given.
fn rate_throttles(undo: &[Undo], rates: Rates, brokers: Option<&[BrokerId]>) -> Throttles {
    let with_key = |key: &str| -> BTreeSet<BrokerId> {
        match brokers {
            Some(list) => list.iter().copied().collect(),
            None => undo
                .iter()
                .filter_map(|u| match u {
                    Undo::Value {
                        resource: ConfigResource::Broker(b),
                        key: k,
                        ..
                    } if k == key => Some(*b),
                    _ => None,
                })
                .collect(),
        }
    };
    Throttles {
        topics: BTreeMap::new(),
        brokers: if rates.replication.is_some() {
            with_key(LEADER_RATE)
        } else {
            BTreeSet::new()
        },
        log_dir_brokers: if rates.log_dirs.is_some() {
            with_key(LOG_DIRS_RATE)
        } else {
            BTreeSet::new()
        },
    }
}

/// Restores what the journal's undo record says this tool changed and
/// empties the record (the caller saves the journal). Idempotent: a value
/// already back, or an entry already gone, needs nothing.
pub(crate) async fn restore_journal<A: ClusterAdmin>(
    admin: &mut A,
    journal: &mut Journal,
) -> Result<ThrottleOutcome, ExecError> {
    let undo = journal.throttle.undo();
    let mut out = ThrottleOutcome {
        restored: true,
        ..ThrottleOutcome::default()
    };
    if undo.is_empty() {
        return Ok(out);
    }
    let cluster = admin
        .cluster()
        .await
        .map_err(ExecError::admin("reading the cluster"))?;
    let reachable = |r: &ConfigResource| match r {
        ConfigResource::Broker(b) => cluster.broker(*b).is_some_and(|x| x.alive),
        ConfigResource::Topic(_) => true,
    };
    let target = |u: &Undo| match u {
        Undo::Value { resource, .. } | Undo::Entries { resource, .. } => resource.clone(),
    };
    // What a broker that is down holds stays recorded for a later
    // `throttle clear`.
    let (undo, kept): (Vec<Undo>, Vec<Undo>) =
        undo.into_iter().partition(|u| reachable(&target(u)));
    out.unreachable_brokers = kept
        .iter()
        .filter_map(|u| match target(u) {
            ConfigResource::Broker(b) => Some(b),
            ConfigResource::Topic(_) => None,
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    out.restored = kept.is_empty();
    let resources: BTreeSet<ConfigResource> = undo.iter().map(target).collect();
    let resources: Vec<ConfigResource> = resources.into_iter().collect();
    let now = admin
        .describe_configs(&resources, &THROTTLE_KEYS)
        .await
        .map_err(ExecError::admin("reading throttle configs"))?;
    let r = throttle::restore_ops(&undo, &now);
    if !r.ops.is_empty() {
        admin
            .alter_configs(&r.ops)
            .await
            .map_err(ExecError::admin("restoring throttles"))?;
    }
    journal.throttle.set_undo(&kept);
    if kept.is_empty() {
        journal.throttle.rates = Default::default();
    }
    journal.throttle.revision += 1;
    out.ops = r.ops.iter().map(ConfigOpView::from).collect();
    out.left_alone = r.left_alone.iter().map(LeftAloneView::from).collect();
    Ok(out)
}

/// Restores the journal's throttles and saves it by the rule of
/// [`save_merged`] (`base`: the throttle revision the caller read). A
/// record another process saved meanwhile is restored in turn: a value it
/// set, which the first pass left alone as not ours, is then ours. The
/// caller sets the journal's state before.
pub(crate) async fn restore_and_save<A: ClusterAdmin, S: JournalStore>(
    admin: &mut A,
    store: &mut S,
    journal: &mut Journal,
    mut base: u64,
) -> Result<ThrottleOutcome, ExecError> {
    let mut ops = Vec::new();
    loop {
        let mut out = restore_journal(admin, journal).await?;
        ops.append(&mut out.ops);
        match save_merged(store, journal, base).map_err(ExecError::journal("saving"))? {
            Merged::Saved => {
                out.ops = ops;
                return Ok(out);
            }
            Merged::Adopted | Merged::Conflict => base = journal.throttle.revision,
        }
    }
}

/// Runs a prepared plan to the end (or to the first batch with `no_wait`,
/// or until `stop` is raised), resuming from the journal in `store` when
/// there is one for this plan. See the module doc.
pub async fn apply<A: ClusterAdmin, C: Clock, S: JournalStore>(
    admin: &mut A,
    clock: &mut C,
    prepared: &Prepared,
    settings: &ApplySettings,
    store: &mut S,
    on_event: &mut dyn FnMut(&Event),
    stop: &AtomicBool,
) -> Result<ApplyReport, ExecError> {
    let start = clock.now();
    let journal = open_journal(store, &prepared.digest)?;
    let resumed = !journal.submissions.is_empty();
    let submitted_before = journal.submitted();
    let cluster = admin
        .cluster()
        .await
        .map_err(ExecError::admin("reading the cluster"))?;
    let mut in_flight = admin
        .list_reassignments()
        .await
        .map_err(ExecError::admin("listing moves in flight"))?;
    let moving: BTreeMap<TopicPartition, InFlight> = in_flight
        .iter()
        .map(|m| (m.tp.clone(), m.clone()))
        .collect();
    // Where the replicas with a named log dir are now.
    let dir_moves = disks::dir_moves(prepared.plan.moves());
    let log_dirs = disks::read_plan_log_dirs(admin, &cluster, prepared.plan.moves()).await?;
    let mut dir_tracks: BTreeMap<TopicPartition, Vec<DirTrack>> = BTreeMap::new();
    for d in dir_moves {
        dir_tracks
            .entry(d.tp.clone())
            .or_default()
            .push(DirTrack::new(d, &log_dirs));
    }

    let mut parts = BTreeMap::new();
    let mut refused = Vec::new();
    let mut jobs = Vec::new();
    for m in prepared.plan.moves() {
        let Some(p) = cluster.partition(&m.tp) else {
            refused.push(PartitionError {
                topic: m.tp.topic.clone(),
                partition: m.tp.partition,
                code: 3,
                error: "UNKNOWN_TOPIC_OR_PARTITION (3): the partition no longer exists".into(),
            });
            parts.insert(
                m.tp.clone(),
                Tracked {
                    mv: m.clone(),
                    original: Vec::new(),
                    job: None,
                    state: State::Refused,
                    size: 0,
                    copied: BTreeMap::new(),
                    unlisted_since: None,
                    reassigned: false,
                    dirs: Vec::new(),
                },
            );
            continue;
        };
        let dirs = dir_tracks.remove(&m.tp).unwrap_or_default();
        let dirs_done = dirs.iter().all(|d| d.done);
        let ours_before = submitted_before.contains_key(&m.tp);
        let original = match moving.get(&m.tp) {
            Some(f) => f.original(),
            None => original_replicas(p),
        };
        let state = match moving.get(&m.tp) {
            Some(f) if f.target() == m.replicas => State::Moving,
            Some(_) if submitted_before.get(&m.tp) == Some(&m.replicas) => State::Diverged,
            Some(_) => State::Pending,
            // Replicas in place but not all in their dirs: the disk moves
            // are still to send (again: the broker takes a repeat as is).
            None if p.replicas == m.replicas && !dirs_done => State::Pending,
            None if p.replicas == m.replicas && ours_before => State::Done,
            None if p.replicas == m.replicas => State::AlreadyDone,
            None if ours_before => State::Diverged,
            None => State::Pending,
        };
        let job = Job::new(
            m.tp.clone(),
            &original,
            p.leader.filter(|l| original.contains(l)),
            m.replicas.clone(),
            p.size_bytes,
        );
        if matches!(state, State::Pending | State::Moving) {
            jobs.push(job.clone());
        }
        parts.insert(
            m.tp.clone(),
            Tracked {
                mv: m.clone(),
                original,
                size: p.size_bytes,
                job: Some(job),
                state,
                copied: BTreeMap::new(),
                unlisted_since: None,
                reassigned: !moving.contains_key(&m.tp) && p.replicas == m.replicas,
                dirs,
            },
        );
    }
    let alive: BTreeSet<BrokerId> = cluster
        .brokers
        .iter()
        .filter(|b| b.alive)
        .map(|b| b.id)
        .collect();
    let brokers: BTreeSet<BrokerId> = jobs
        .iter()
        .flat_map(|j| j.adding.iter().copied().chain([j.source]))
        .filter(|b| alive.contains(b))
        .collect();

    // A re-run without a rate keeps the journal's; with one, it changes
    // the rate of the moves in flight too.
    let journal_rates: Rates = journal.throttle.rates.into();
    let rates = Rates {
        replication: settings.rates.replication.or(journal_rates.replication),
        log_dirs: settings.rates.log_dirs.or(journal_rates.log_dirs),
    };
    let rate_changed = !journal.throttle.undo.is_empty() && journal_rates != rates;
    let bound = bound_of(&jobs, rates);
    let mut scheduler = Scheduler::new(jobs, settings.mode);
    let base = journal.throttle.revision;
    let mut run = Run {
        admin,
        clock,
        store,
        on_event,
        journal,
        start,
        rates,
        parts,
        samples: VecDeque::new(),
        submitted: 0,
        refused,
        brokers: brokers.into_iter().collect(),
        alive,
        settle: (settings.poll_interval * 3).max(SETTLE),
        base,
        reassert: false,
    };
    let already_done = run.count(&[State::AlreadyDone]);
    let adopted = run.count(&[State::Moving]);
    let to_submit = run.count(&[State::Pending]);
    let reorders = run
        .parts
        .values()
        .filter(|t| t.state == State::Pending && t.job.as_ref().is_some_and(Job::copies_nothing))
        .count();
    let bytes_total = run
        .parts
        .values()
        .filter(|t| matches!(t.state, State::Pending | State::Moving))
        .map(Tracked::total)
        .sum();
    run.emit(Event::Started {
        partitions: run.parts.len(),
        already_done,
        adopted,
        to_submit,
        reorders,
        bytes_total,
        bound_seconds: bound.as_ref().map(|b| b.seconds),
        replication_rate: rates.replication,
        log_dirs_rate: rates.log_dirs,
        resumed,
    });
    run.save()?;
    if rate_changed {
        // `apply` again with another `--throttle`: the new rate goes to
        // every broker that has ours, before anything else is sent.
        let t = rate_throttles(&run.journal.throttle.undo(), run.rates, None);
        run.set_throttles(&t, ThrottleReason::RateChanged).await?;
    }

    let mut first = true;
    let outcome = loop {
        // Ctrl-C stops new submissions; a run whose moves all finished
        // still ends as finished (leaders elected, throttles restored).
        let stopped = stop.load(Ordering::SeqCst);
        if !stopped {
            let set: BTreeSet<TopicPartition> = in_flight
                .iter()
                .filter(|m| {
                    run.parts
                        .get(&m.tp)
                        .is_none_or(|t| t.state != State::Pending)
                })
                .map(|m| m.tp.clone())
                .collect();
            let batch = scheduler.next_batch(&set);
            run.submit(batch, &in_flight).await?;
            // With nothing left to wait for (a re-run after the moves
            // finished), the run ends here as a waiting one would:
            // leaders elected, throttles restored.
            if first && settings.no_wait && run.count(&[State::Pending, State::Moving]) > 0 {
                break Outcome::Submitted;
            }
        }
        first = false;
        if run.count(&[State::Pending, State::Moving]) == 0 {
            break if run.count(&[State::Refused, State::Diverged]) == 0 {
                Outcome::Completed
            } else {
                Outcome::Incomplete
            };
        }
        if stopped {
            break Outcome::Stopped;
        }
        run.clock.sleep(settings.poll_interval).await;
        run.pick_up_rate_change().await?;
        in_flight = run.poll().await?;
    };

    let mut elected = Vec::new();
    let mut election_failed = Vec::new();
    let mut throttles = ThrottleOutcome::default();
    if matches!(outcome, Outcome::Completed | Outcome::Incomplete) {
        // Every planned partition at its target whose preferred leader
        // does not lead: those this run moved, and those a killed run
        // moved before it could record them. A failed election never
        // keeps the throttles in force: its partitions are reported as
        // election failed (`kafka-migrate elect` retries) and restoring
        // goes on.
        let done = |t: &Tracked| matches!(t.state, State::Done | State::AlreadyDone);
        let failed_all = |tps: Vec<TopicPartition>, e: &dyn std::fmt::Display| {
            tps.into_iter()
                .map(|tp| PartitionError {
                    topic: tp.topic,
                    partition: tp.partition,
                    code: 0,
                    error: e.to_string(),
                })
                .collect::<Vec<_>>()
        };
        let moved: Vec<TopicPartition> = if settings.no_elect {
            Vec::new()
        } else {
            match run.admin.cluster().await {
                Ok(cluster) => run
                    .parts
                    .iter()
                    .filter(|(_, t)| done(t))
                    .filter(|(tp, t)| {
                        cluster.partition(tp).is_some_and(|p| {
                            p.replicas == t.mv.replicas && p.leader != p.replicas.first().copied()
                        })
                    })
                    .map(|(tp, _)| tp.clone())
                    .collect(),
                Err(e) => {
                    // Which leaders are off is unknown: every partition
                    // at its target may need the election.
                    let all = run.with_state(&[State::Done, State::AlreadyDone]);
                    let e = ExecError::admin("reading the cluster before the election")(e);
                    election_failed = failed_all(all, &e);
                    Vec::new()
                }
            }
        };
        if !moved.is_empty() {
            match run.admin.elect_preferred(&moved).await {
                Ok(results) => {
                    for (tp, r) in results {
                        match r {
                            Ok(()) => elected.push(tp),
                            Err(e) if e.code == ErrorCode::ELECTION_NOT_NEEDED => elected.push(tp),
                            Err(e) => election_failed.push(PartitionError::new(&tp, &e)),
                        }
                    }
                }
                Err(e) => {
                    let e = ExecError::admin("electing preferred leaders")(e);
                    election_failed = failed_all(moved, &e);
                }
            }
            elected.sort();
        }
        // An incomplete run stays open: its diverged partitions are never
        // resubmitted by this journal.
        if outcome == Outcome::Completed {
            run.journal.state = JournalState::Finished;
        }
        throttles = restore_and_save(run.admin, run.store, &mut run.journal, run.base).await?;
        let elapsed_ms = ms(run.elapsed());
        if !throttles.ops.is_empty() || !throttles.left_alone.is_empty() {
            run.emit(Event::ThrottleChanged {
                elapsed_ms,
                reason: ThrottleReason::Restored,
                replication_rate: None,
                log_dirs_rate: None,
                ops: throttles.ops.clone(),
                left_alone: throttles.left_alone.clone(),
            });
        }
    }

    let progress = run.progress();
    let report = ApplyReport {
        outcome,
        elapsed_ms: ms(run.elapsed()),
        partitions_total: run.parts.len(),
        done: run.with_state(&[State::Done, State::AlreadyDone]),
        already_done: run.with_state(&[State::AlreadyDone]),
        in_flight: run.with_state(&[State::Moving]),
        not_submitted: run.with_state(&[State::Pending]),
        refused: run.refused.clone(),
        diverged: run.with_state(&[State::Diverged]),
        submitted: run.submitted,
        elected,
        election_failed,
        throttles,
        bytes_copied: progress.bytes_copied,
        bytes_total: progress.bytes_total,
        bound_seconds: bound.map(|b| b.seconds),
    };
    run.emit(Event::Finished {
        elapsed_ms: report.elapsed_ms,
        outcome,
        partitions_done: report.done.len(),
        partitions_total: report.partitions_total,
        in_flight: report.in_flight.len(),
        elected: report.elected.len(),
        bytes_copied: report.bytes_copied,
    });
    Ok(report)
}

/// What [`change_rate`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RateChange {
    pub replication_rate: Option<u64>,
    pub log_dirs_rate: Option<u64>,
    /// Brokers whose rates were set.
    pub brokers: Vec<BrokerId>,
    pub ops: Vec<ConfigOpView>,
}

/// `throttle set RATE [--brokers LIST]`: sets new rates on the brokers
/// where this tool's throttles are in force (per the journal), or on
/// `brokers`, recording the undo in the journal first. A running `apply`
/// of the same journal picks the change up at its next poll. Without a
/// journal, `brokers` is required and a journal is started (a later
/// `apply` adopts it). Saved by the rule of [`save_merged`]: a record a
/// running `apply` saved meanwhile is read again and the change made
/// from it.
pub async fn change_rate<A: ClusterAdmin, S: JournalStore>(
    admin: &mut A,
    store: &mut S,
    rates: Rates,
    brokers: Option<&[BrokerId]>,
) -> Result<RateChange, ExecError> {
    loop {
        if let Some(c) = change_rate_once(admin, store, rates, brokers).await? {
            return Ok(c);
        }
    }
}

/// One attempt of [`change_rate`]; `None` when another process saved a
/// throttle record meanwhile (nothing sent).
async fn change_rate_once<A: ClusterAdmin, S: JournalStore>(
    admin: &mut A,
    store: &mut S,
    rates: Rates,
    brokers: Option<&[BrokerId]>,
) -> Result<Option<RateChange>, ExecError> {
    let mut journal = match store.load().map_err(ExecError::journal("loading"))? {
        Some(j) => j,
        None if brokers.is_some() => Journal::new(""),
        None => {
            return Err(ExecError::NoJournal(
                "no throttles of this tool are recorded; name the brokers to throttle",
            ));
        }
    };
    let undo = journal.throttle.undo();
    let t = rate_throttles(&undo, rates, brokers);
    let resources: Vec<ConfigResource> = t
        .brokers
        .iter()
        .chain(&t.log_dir_brokers)
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(ConfigResource::Broker)
        .collect();
    let now = admin
        .describe_configs(&resources, &THROTTLE_KEYS)
        .await
        .map_err(ExecError::admin("reading throttle configs"))?;
    let change = throttle::set_ops(&t, rates, &now, &undo);
    let old = journal.throttle.rates;
    let base = journal.throttle.revision;
    journal.throttle.set_undo(&change.undo);
    journal.throttle.rates.replication = rates.replication.or(old.replication);
    journal.throttle.rates.log_dirs = rates.log_dirs.or(old.log_dirs);
    journal.throttle.revision += 1;
    if save_merged(store, &mut journal, base).map_err(ExecError::journal("saving"))?
        == Merged::Conflict
    {
        return Ok(None);
    }
    if !change.ops.is_empty() {
        admin
            .alter_configs(&change.ops)
            .await
            .map_err(ExecError::admin("setting throttle rates"))?;
    }
    Ok(Some(RateChange {
        replication_rate: rates.replication,
        log_dirs_rate: rates.log_dirs,
        brokers: t.brokers.union(&t.log_dir_brokers).copied().collect(),
        ops: change.ops.iter().map(ConfigOpView::from).collect(),
    }))
}

/// `throttle clear`: restores exactly what the journal says this tool
/// changed (an operator's own values come back), and empties its record.
pub async fn restore_throttles<A: ClusterAdmin, S: JournalStore>(
    admin: &mut A,
    store: &mut S,
) -> Result<ThrottleOutcome, ExecError> {
    let Some(mut journal) = store.load().map_err(ExecError::journal("loading"))? else {
        return Err(ExecError::NoJournal(
            "nothing recorded to restore (`throttle clear --all` removes every throttle)",
        ));
    };
    let base = journal.throttle.revision;
    restore_and_save(admin, store, &mut journal, base).await
}

/// `throttle clear --all`: deletes every throttle key set on any alive
/// broker or any topic, whoever set it (as Kafka's tool does at the end of
/// a move), then empties the journal's record if there is one, except the
/// entries of brokers that are down (nothing was deleted there: a later
/// `throttle clear` restores them, as after `apply`). The journal is
/// saved after the deletes, so a failed request leaves the record whole.
pub async fn clear_all_throttles<A: ClusterAdmin, S: JournalStore>(
    admin: &mut A,
    store: &mut S,
) -> Result<Vec<ConfigOpView>, ExecError> {
    let cluster = admin
        .cluster()
        .await
        .map_err(ExecError::admin("reading the cluster"))?;
    let now = read_throttles_in_force(admin, &cluster).await?;
    let ops: Vec<ConfigOp> = now
        .keys()
        .map(|(resource, key)| ConfigOp {
            resource: resource.clone(),
            key: key.clone(),
            op: AlterOp::Delete,
        })
        .collect();
    if !ops.is_empty() {
        admin
            .alter_configs(&ops)
            .await
            .map_err(ExecError::admin("deleting throttles"))?;
    }
    let down = |u: &UndoEntry| match u {
        UndoEntry::Value { resource, .. } | UndoEntry::Entries { resource, .. } => {
            matches!(resource, JournalResource::Broker(b) if !cluster.broker(*b).is_some_and(|x| x.alive))
        }
    };
    // Whatever another process records meanwhile was deleted as well,
    // unless it is on a broker that is down: clearing again from the
    // stored record is always right.
    while let Some(mut journal) = store.load().map_err(ExecError::journal("loading"))? {
        let base = journal.throttle.revision;
        journal.throttle.undo.retain(down);
        if journal.throttle.undo.is_empty() {
            journal.throttle.rates = Default::default();
        }
        journal.throttle.revision += 1;
        if save_merged(store, &mut journal, base).map_err(ExecError::journal("saving"))?
            != Merged::Conflict
        {
            break;
        }
    }
    Ok(ops.iter().map(ConfigOpView::from).collect())
}

/// Every throttle key set on an alive broker or a topic, whoever set it:
/// what `status` shows and `throttle clear --all` removes.
pub(crate) async fn read_throttles_in_force<A: ClusterAdmin>(
    admin: &mut A,
    cluster: &Cluster,
) -> Result<crate::model::live::ConfigValues, ExecError> {
    let resources: Vec<ConfigResource> = cluster
        .brokers
        .iter()
        .filter(|b| b.alive)
        .map(|b| ConfigResource::Broker(b.id))
        .chain(
            cluster
                .topics
                .iter()
                .map(|t| ConfigResource::Topic(t.name.clone())),
        )
        .collect();
    admin
        .describe_configs(&resources, &THROTTLE_KEYS)
        .await
        .map_err(ExecError::admin("reading throttle configs"))
}
