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
//! A running job holds one *out slot* on its source and one *in slot* on
//! each adding broker until the whole move finishes, because that is as
//! long as ListPartitionReassignments shows it and the controller keeps the
//! new replicas out of sync. `max_per_broker` caps each direction
//! separately: at most K moves copying into a broker and at most K copying
//! out of it, so at most 2K moves touch a broker. The two directions are
//! separate links with separate throttles (the follower rate limits what a
//! broker fetches, the leader rate what it serves), and a broker that is
//! both a source and a destination (most old brokers in a rebalance) needs
//! both kept busy: one shared count starves one side. Measured on the
//! random plans of the tests (up to 1000 partitions on up to 14 brokers),
//! one shared count of 4 gave a mean makespan 1.37x the bound (90th
//! percentile 1.69x); counting each direction to 4 gave 1.02x (1.08x).
//!
//! # Goals and constraints
//!
//! - Never more than `max_in_flight` moves running, never more than
//!   `max_per_broker` running moves copying into one broker, nor out of
//!   one; both count moves already running that this scheduler knows of
//!   (including ones a previous run submitted, adopted from the in-flight
//!   set).
//! - Every job is returned exactly once.
//! - Moves that copy nothing (a reorder of the same replicas, or a pure
//!   replication-factor decrease) all come in the very first batch,
//!   whatever the limits: they complete at once and hold no slot.
//! - No link should wait: the time of a plan is set by its busiest link
//!   (the physical bound, see [`super::estimate`]), and a link carrying
//!   `W` bytes must be busy from `bound - W` on to finish within it. Jobs
//!   are ordered by their *latest start*: on each link, that time is
//!   shared among the brokers at the link's other end in proportion to
//!   their bytes (as a link's throttle shares it when everything is
//!   submitted at once), each broker's moves largest first (so a link's
//!   last moves are its small ones and its tail is short); a job's latest
//!   start is the earliest over its links. Then by size, largest first,
//!   then by topic-partition for determinism. A job whose brokers are full
//!   is skipped, not waited for: the next one that fits starts.
//!
//!   Ordering by the busiest link's load alone (then size) left a source
//!   whose moves were small, all into the busiest links, until the larger
//!   ones had started; its own link then ran last and alone. On the
//!   mini-broker benchmark (`benches/apply.rs`: 4 brokers, 2 new ones, one
//!   source leading many small partitions) that ran 1.24x the bound where
//!   `--all-at-once` ran 1.00x.
//! - `AllAtOnce` returns everything in the first batch, as Kafka's tool
//!   submits a plan.
//!
//! # Defaults
//!
//! [`DEFAULT_MAX_PER_BROKER`] is 6 moves into and 6 out of each broker.
//! One move alone rarely fills a link: a follower fetches a partition in
//! `replica.fetch.max.bytes` chunks per round trip, and the driver learns
//! of a finished move only at its next poll, so a broker with one move
//! idles between moves and whenever that move is held back at its other
//! end. A few concurrent moves keep every link busy; beyond that more
//! gains little and costs: each move runs at 1/K of the throttle, so each
//! takes K times longer, more new replicas are out of sync at once and an
//! interrupted run leaves more half-copied moves. Simulated makespan over
//! the physical bound (see [`super::estimate`]), 300 random grown-cluster
//! plans of up to 1000 partitions on up to 14 brokers, heavy-tailed sizes:
//!
//! | K per direction | mean | 90th percentile | worst |
//! |---|---|---|---|
//! | 1 | 1.220 | 1.487 | 1.882 |
//! | 2 | 1.074 | 1.202 | 1.426 |
//! | 4 | 1.018 | 1.071 | 1.207 |
//! | 6 | 1.009 | 1.038 | 1.109 |
//! | 8 | 1.006 | 1.022 | 1.109 |
//! | all at once | 1.001 | 1.000 | 1.109 |
//!
//! 6 is where the curve flattens while a move still gets a sixth of the
//! throttle. [`DEFAULT_MAX_IN_FLIGHT`] (1000) is a cap on the controller's
//! work and the size of one request, set high enough that only the
//! per-broker limit binds until some 160 brokers send at once (each move
//! holds one out slot).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use crate::model::{BrokerId, TopicPartition};

/// Concurrent moves copying into one broker, and separately out of it
/// (see the module doc).
pub const DEFAULT_MAX_PER_BROKER: usize = 6;

/// Concurrent partition moves in the whole cluster.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 1000;

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
    /// The job moving `tp` from `current` (never empty for a real
    /// partition) to `target`. The source is the leader if there is one,
    /// else the first current replica.
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

    /// The slots the move holds while it runs: one out of its source and
    /// one into each adding broker (none for a move that copies nothing).
    pub fn slots(&self) -> impl Iterator<Item = Link> + '_ {
        let source = (!self.copies_nothing()).then_some((self.source, Direction::Out));
        source
            .into_iter()
            .chain(self.adding.iter().map(|&b| (b, Direction::In)))
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
    /// Every job, in priority order (a job's index is its rank).
    jobs: Vec<Job>,
    /// Moves that copy nothing, not yet handed out.
    free: Vec<usize>,
    /// Copying jobs not yet handed out, per slot they need, each list in
    /// priority order (handed-out jobs are dropped lazily).
    queues: BTreeMap<Link, Vec<usize>>,
    /// Whether each job was handed out or adopted.
    started: Vec<bool>,
    /// Copying jobs handed out or adopted and not yet seen finished.
    running: BTreeSet<usize>,
    pending: usize,
    by_tp: BTreeMap<TopicPartition, usize>,
    mode: Mode,
    first: bool,
    /// Whether the last batch stopped at `max_in_flight`.
    capped: bool,
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
        let mut free = Vec::new();
        let mut queues: BTreeMap<Link, Vec<usize>> = BTreeMap::new();
        for (i, j) in jobs.iter().enumerate() {
            if j.copies_nothing() {
                free.push(i);
            }
            for s in j.slots() {
                queues.entry(s).or_default().push(i);
            }
        }
        Scheduler {
            free,
            queues,
            started: vec![false; jobs.len()],
            running: BTreeSet::new(),
            pending: jobs.len(),
            by_tp,
            jobs,
            mode,
            first: true,
            capped: false,
        }
    }

    /// Every job in priority order (what `--dry-run` lists).
    pub fn jobs(&self) -> &[Job] {
        &self.jobs
    }

    /// Jobs not yet handed out.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// Whether every job has been handed out (or adopted).
    pub fn is_done(&self) -> bool {
        self.pending == 0
    }

    fn mark_started(&mut self, i: usize) {
        if !self.started[i] {
            self.started[i] = true;
            self.pending -= 1;
        }
        if !self.jobs[i].copies_nothing() {
            self.running.insert(i);
        }
    }

    /// The jobs to submit now, given the partitions still moving.
    ///
    /// A job handed out earlier and no longer in `in_flight` is taken as
    /// finished, and its slots are free. A pending job whose partition is
    /// already moving is adopted: counted as running and never returned
    /// (a re-run resuming after a crash, or a move someone else submitted
    /// for the same partition). Moving partitions this scheduler has no
    /// job for are not counted against the limits.
    ///
    /// The rule is a scan of every pending job in priority order, starting
    /// each that fits. It is computed incrementally: after a batch no
    /// pending job fits, and loads only fall when a move finishes, so only
    /// jobs needing a slot that was freed since (or any job, when the
    /// global cap was what stopped the last batch) can fit now. Their
    /// queues are merged in priority order; a poll costs the queues of the
    /// links where something finished, not the whole plan.
    pub fn next_batch(&mut self, in_flight: &BTreeSet<TopicPartition>) -> Vec<Job> {
        let moving: BTreeSet<usize> = in_flight
            .iter()
            .filter_map(|tp| self.by_tp.get(tp).copied())
            .collect();
        let finished: Vec<usize> = self.running.difference(&moving).copied().collect();
        let mut freed: BTreeSet<Link> = BTreeSet::new();
        for i in finished {
            self.running.remove(&i);
            freed.extend(self.jobs[i].slots());
        }
        let mut load: BTreeMap<Link, usize> = BTreeMap::new();
        let mut running = 0usize;
        for &i in &moving {
            self.mark_started(i);
            if !self.jobs[i].copies_nothing() {
                running += 1;
            }
            for s in self.jobs[i].slots() {
                *load.entry(s).or_default() += 1;
            }
        }
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
        let k = limits.max_per_broker;
        let has_room = |load: &BTreeMap<Link, usize>, s| load.get(&s).copied().unwrap_or(0) < k;

        let mut batch = Vec::new();
        let first = std::mem::replace(&mut self.first, false);
        if first {
            for i in std::mem::take(&mut self.free) {
                if !self.started[i] {
                    self.mark_started(i);
                    batch.push(self.jobs[i].clone());
                }
            }
        }

        let everything = first || self.capped;
        let candidates: Vec<Link> = if everything {
            self.queues.keys().copied().collect()
        } else {
            freed
                .into_iter()
                .filter(|s| self.queues.contains_key(s))
                .collect()
        };
        let advance = |queue: &[usize], started: &[bool], from: usize| {
            (from..queue.len()).find(|&p| !started[queue[p]])
        };
        let mut heads: BinaryHeap<Reverse<(usize, Link, usize)>> = BinaryHeap::new();
        for link in &candidates {
            if has_room(&load, *link)
                && let Some(p) = advance(&self.queues[link], &self.started, 0)
            {
                heads.push(Reverse((self.queues[link][p], *link, p)));
            }
        }
        self.capped = false;
        while let Some(Reverse((i, link, p))) = heads.pop() {
            if running >= limits.max_in_flight {
                self.capped = true;
                break;
            }
            if !self.started[i] && self.jobs[i].slots().all(|s| has_room(&load, s)) {
                running += 1;
                for s in self.jobs[i].slots() {
                    *load.entry(s).or_default() += 1;
                }
                self.mark_started(i);
                batch.push(self.jobs[i].clone());
            }
            if has_room(&load, link) {
                let queue = &self.queues[&link];
                if let Some(p) = advance(queue, &self.started, p + 1) {
                    heads.push(Reverse((queue[p], link, p)));
                }
            }
        }
        for link in candidates {
            let started = &self.started;
            if let Some(q) = self.queues.get_mut(&link) {
                q.retain(|&i| !started[i]);
                if q.is_empty() {
                    self.queues.remove(&link);
                }
            }
        }
        batch
    }
}

/// Which way a move uses a broker's link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    In,
    Out,
}

/// One direction of one broker's link: what a slot and a throttle apply to.
pub type Link = (BrokerId, Direction);

/// Sorts jobs into priority order: moves that copy nothing first, then
/// by their latest start (see the module doc), earliest first, then by
/// bytes copied (descending), then by topic-partition.
fn order(jobs: &mut [Job]) {
    let latest = latest_starts(jobs);
    let mut keyed: Vec<_> = jobs
        .iter()
        .zip(latest)
        .map(|(j, start)| {
            let key = (
                !j.copies_nothing(),
                start,
                Reverse(j.bytes_to_copy()),
                j.tp.clone(),
            );
            (key, j.clone())
        })
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    for (slot, (_, j)) in jobs.iter_mut().zip(keyed) {
        *slot = j;
    }
}

/// Each job's latest start, in bytes of the busiest link's load (see the
/// module doc): a link carrying `W` bytes must be busy from `bound - W`
/// on, and shares that time among the brokers at its other end in
/// proportion to their bytes, each one's moves largest first. A job's
/// latest start is the earliest over its links.
fn latest_starts(jobs: &[Job]) -> Vec<u64> {
    // (bytes on the link, job index)
    type Bytes = Vec<(u64, usize)>;
    // Per link, per peer (the source of an inbound move, the new replicas
    // of an outbound one): the jobs' bytes on that link.
    let mut per_link: BTreeMap<Link, BTreeMap<Vec<BrokerId>, Bytes>> = BTreeMap::new();
    for (i, j) in jobs.iter().enumerate().filter(|(_, j)| !j.copies_nothing()) {
        per_link
            .entry((j.source, Direction::Out))
            .or_default()
            .entry(j.adding.clone())
            .or_default()
            .push((j.bytes_to_copy(), i));
        for &b in &j.adding {
            per_link
                .entry((b, Direction::In))
                .or_default()
                .entry(vec![j.source])
                .or_default()
                .push((j.bytes, i));
        }
    }
    let total = |g: &[(u64, usize)]| -> u64 { g.iter().map(|&(b, _)| b).sum() };
    let link_total: BTreeMap<Link, u64> = per_link
        .iter()
        .map(|(l, peers)| (*l, peers.values().map(|g| total(g)).sum()))
        .collect();
    let bound = link_total.values().copied().max().unwrap_or(0);
    let mut latest = vec![u64::MAX; jobs.len()];
    for (link, peers) in &mut per_link {
        let w = link_total[link];
        for group in peers.values_mut() {
            group.sort_by_key(|&(b, i)| (Reverse(b), jobs[i].tp.clone()));
            let g = total(group).max(1);
            let mut before = 0u64;
            for &(b, i) in group.iter() {
                let share = (u128::from(w) * u128::from(before) / u128::from(g)) as u64;
                latest[i] = latest[i].min(bound - w + share);
                before += b;
            }
        }
    }
    latest
}

#[cfg(test)]
mod tests;
