//! Batching: which partition moves to submit when, so that the whole plan
//! finishes close to its physical bound without flooding any broker.
//!
//! # The model
//!
//! A [`Job`] is one partition's move: its target replicas, the replicas it
//! adds (each must copy `bytes` from scratch) and its *source*, the broker
//! the new replicas copy from. Kafka followers fetch from the leader, so
//! the source is the partition's current leader (the caller picks the
//! first alive replica when there is none, as `analysis` does). Removed
//! replicas cost nothing to count: deleting a log is cheap.
//!
//! A running job holds one *slot* on its source ("out") and one on each
//! adding broker ("in") until the whole move finishes, because that is as
//! long as ListPartitionReassignments shows it and the controller keeps
//! the new replicas out of sync. In and out share one per-broker count:
//! `max_per_broker` is the number of concurrent moves touching a broker,
//! either way, as operators reason about it ("never more than K moves on
//! a broker").
//!
//! # Goals and constraints
//!
//! - Never more than `max_in_flight` moves running, never more than
//!   `max_per_broker` running moves touching one broker; both count moves
//!   already running that this scheduler knows of (including ones a
//!   previous run submitted, adopted from the in-flight set).
//! - Every job is returned exactly once.
//! - Moves that copy nothing (a reorder of the same replicas, or a pure
//!   replication-factor decrease) all come in the very first batch,
//!   whatever the limits: they complete at once and hold no slot.
//! - The busiest brokers' links never wait: the time of a plan is set by
//!   its busiest link (the physical bound, see [`super::estimate`]), so
//!   jobs are ordered by the load of the busiest link they use, heaviest
//!   first, then by their own size, largest first (a longest-first rule per
//!   link, so a link's last moves are its small ones and its tail is
//!   short), then by topic-partition for determinism. A job whose brokers
//!   are full is skipped, not waited for: the next one that fits starts.
//! - `AllAtOnce` returns everything in the first batch, as Kafka's tool
//!   submits a plan.
//!
//! # Defaults
//!
//! [`DEFAULT_MAX_PER_BROKER`] is 4 moves per broker, in and out together.
//! One move alone rarely fills a link: a follower fetches one partition at
//! a time from a leader, in `replica.fetch.max.bytes` chunks per round
//! trip, and the scheduler only learns of a finished move at its next poll,
//! so a broker with one move idles between moves. Two or three moves keep
//! the link busy; four leave room for a broker that is both a source and a
//! destination. More gains little (the simulated makespan is already
//! within a few per cent of the bound at 4, see the tests) and costs: each
//! move then runs at a quarter of the throttle or less, so every move
//! takes longer, more replicas sit out of sync at once, and an interrupted
//! run leaves more half-copied moves. [`DEFAULT_MAX_IN_FLIGHT`] is a
//! safety cap on the controller's work and the size of one request, high
//! enough that on clusters of up to ~100 involved brokers only the
//! per-broker limit binds.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{BrokerId, TopicPartition};

/// Concurrent moves touching one broker, in or out (see the module doc).
pub const DEFAULT_MAX_PER_BROKER: usize = 4;

/// Concurrent partition moves in the whole cluster.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 200;

/// One partition's move, as the scheduler sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub tp: TopicPartition,
    /// What to submit: the target replicas, in order.
    pub target: Vec<BrokerId>,
    /// The broker the new replicas copy from (the current leader).
    pub source: BrokerId,
    /// Target replicas not among the current ones, sorted.
    pub adding: Vec<BrokerId>,
    /// Bytes each new replica copies (the partition's size).
    pub bytes: u64,
}

impl Job {
    /// The job moving `tp` from `current` to `target`. The source is the
    /// leader if there is one, else the first current replica.
    pub fn new(
        tp: TopicPartition,
        current: &[BrokerId],
        leader: Option<BrokerId>,
        target: Vec<BrokerId>,
        bytes: u64,
    ) -> Job {
        let mut adding: Vec<BrokerId> = target
            .iter()
            .copied()
            .filter(|b| !current.contains(b))
            .collect();
        adding.sort_unstable();
        adding.dedup();
        let source = leader
            .or_else(|| current.first().copied())
            .unwrap_or_default();
        Job {
            tp,
            target,
            source,
            adding,
            bytes,
        }
    }

    /// Whether the move copies nothing (no replica added).
    pub fn copies_nothing(&self) -> bool {
        self.adding.is_empty()
    }

    /// Bytes the move copies in all: one copy per new replica.
    pub fn bytes_to_copy(&self) -> u64 {
        self.bytes.saturating_mul(self.adding.len() as u64)
    }

    /// The brokers the move holds a slot on while it runs: its source and
    /// every adding broker (none for a move that copies nothing).
    pub fn slot_brokers(&self) -> impl Iterator<Item = BrokerId> + '_ {
        let source = (!self.copies_nothing()).then_some(self.source);
        source.into_iter().chain(self.adding.iter().copied())
    }
}

/// Limits on concurrent moves; a zero is taken as one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_in_flight: usize,
    pub max_per_broker: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            max_per_broker: DEFAULT_MAX_PER_BROKER,
        }
    }
}

/// How moves are submitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Bounded concurrency (`--max-in-flight`, `--max-per-broker`).
    Bounded(Limits),
    /// Everything in one request, as Kafka's tool does (`--all-at-once`).
    AllAtOnce,
}

impl Default for Mode {
    fn default() -> Self {
        Mode::Bounded(Limits::default())
    }
}

/// Hands out jobs as running ones finish. Pure: the caller reports what is
/// still running (from ListPartitionReassignments) and submits what it is
/// given.
#[derive(Debug, Clone)]
pub struct Scheduler {
    /// Every job, in priority order.
    jobs: Vec<Job>,
    /// Indices into `jobs` not yet handed out or adopted, in order.
    pending: Vec<usize>,
    /// Whether each job was handed out or adopted.
    started: Vec<bool>,
    by_tp: BTreeMap<TopicPartition, usize>,
    mode: Mode,
    first: bool,
}

impl Scheduler {
    /// A scheduler for `jobs` (one per partition; a later duplicate of a
    /// partition is dropped).
    pub fn new(jobs: Vec<Job>, mode: Mode) -> Scheduler {
        let mut seen = BTreeSet::new();
        let mut jobs: Vec<Job> = jobs
            .into_iter()
            .filter(|j| seen.insert(j.tp.clone()))
            .collect();
        order(&mut jobs);
        let by_tp = jobs
            .iter()
            .enumerate()
            .map(|(i, j)| (j.tp.clone(), i))
            .collect();
        Scheduler {
            pending: (0..jobs.len()).collect(),
            started: vec![false; jobs.len()],
            jobs,
            by_tp,
            mode,
            first: true,
        }
    }

    /// Every job in priority order (what `--dry-run` lists).
    pub fn jobs(&self) -> &[Job] {
        &self.jobs
    }

    /// Jobs not yet handed out.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Whether every job has been handed out (or adopted).
    pub fn is_done(&self) -> bool {
        self.pending.is_empty()
    }

    /// The jobs to submit now, given the partitions still moving.
    ///
    /// A pending job whose partition is already moving is adopted: counted
    /// as running and never returned (a re-run resuming after a crash, or
    /// a move someone else submitted for the same partition). Moving
    /// partitions this scheduler has no job for are not counted against
    /// the limits.
    pub fn next_batch(&mut self, in_flight: &BTreeSet<TopicPartition>) -> Vec<Job> {
        for tp in in_flight {
            if let Some(&i) = self.by_tp.get(tp) {
                self.started[i] = true;
            }
        }
        let first = std::mem::replace(&mut self.first, false);
        let limits = match self.mode {
            Mode::AllAtOnce => Limits {
                max_in_flight: usize::MAX,
                max_per_broker: usize::MAX,
            },
            Mode::Bounded(l) => Limits {
                max_in_flight: l.max_in_flight.max(1),
                max_per_broker: l.max_per_broker.max(1),
            },
        };

        let mut load: BTreeMap<BrokerId, usize> = BTreeMap::new();
        let mut running = 0usize;
        for tp in in_flight {
            if let Some(&i) = self.by_tp.get(tp) {
                running += 1;
                for b in self.jobs[i].slot_brokers() {
                    *load.entry(b).or_default() += 1;
                }
            }
        }

        let mut batch = Vec::new();
        let mut keep = Vec::with_capacity(self.pending.len());
        for &i in &self.pending {
            if self.started[i] {
                continue;
            }
            let job = &self.jobs[i];
            let fits = if job.copies_nothing() {
                first
            } else {
                running < limits.max_in_flight
                    && job
                        .slot_brokers()
                        .all(|b| load.get(&b).copied().unwrap_or(0) < limits.max_per_broker)
            };
            if !fits {
                keep.push(i);
                continue;
            }
            if !job.copies_nothing() {
                running += 1;
                for b in job.slot_brokers() {
                    *load.entry(b).or_default() += 1;
                }
            }
            self.started[i] = true;
            batch.push(job.clone());
        }
        self.pending = keep;
        batch
    }
}

/// Sorts jobs into priority order: moves that copy nothing first, then by
/// the total load of the busiest link the job uses (descending), then by
/// bytes copied (descending), then by topic-partition.
fn order(jobs: &mut [Job]) {
    let mut out_bytes: BTreeMap<BrokerId, u64> = BTreeMap::new();
    let mut in_bytes: BTreeMap<BrokerId, u64> = BTreeMap::new();
    for j in jobs.iter().filter(|j| !j.copies_nothing()) {
        *out_bytes.entry(j.source).or_default() += j.bytes_to_copy();
        for &b in &j.adding {
            *in_bytes.entry(b).or_default() += j.bytes;
        }
    }
    let pressure = |j: &Job| -> u64 {
        if j.copies_nothing() {
            return u64::MAX;
        }
        j.adding
            .iter()
            .map(|b| in_bytes[b])
            .chain([out_bytes[&j.source]])
            .max()
            .unwrap_or(0)
    };
    jobs.sort_by_cached_key(|j| {
        (
            std::cmp::Reverse(pressure(j)),
            std::cmp::Reverse(j.bytes_to_copy()),
            j.tp.clone(),
        )
    });
}

#[cfg(test)]
mod tests;
