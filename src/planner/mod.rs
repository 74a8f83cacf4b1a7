//! The planner: where replicas should go. Pure and deterministic: it takes
//! a [`Cluster`] and a [`PlanRequest`] and returns an [`Outcome`]; it does
//! no I/O, reads no clock, and uses randomness only through `seed`.
//!
//! # Goals, in order
//! 1. Every replica ends on a target broker (dead, removed and replaced
//!    brokers are drained: healing and decommissioning, planned offline).
//!    A partition with no in-sync replica on a live broker is left where it is and
//!    reported ([`Outcome::offline_partitions`]): a new replica copies from
//!    the leader, and there is none to copy from. The rest is planned as
//!    though those partitions were not there.
//! 2. Every partition spans `min(rf, racks)` racks (unless `ignore_racks`).
//! 3. Replica counts per broker land in `floor(ideal)..=ceil(ideal)`, where
//!    the ideal is rack-aware (see [`ideal`]); each topic's replicas per
//!    broker stay within one of its own share.
//! 4. With the size objective, bytes per broker come within a few percent
//!    of their share while counts stay within one of balance.
//! 5. Preferred leaders (the first replica) are spread evenly: reordering a
//!    list moves no data.
//!
//! # Constraints
//! Fewest replica moves: a greedy count move only ever goes from a broker
//! above its quota to one below it, so the count equals what must leave or
//! arrive (the lower bound), except where rack safety forces a detour; the
//! transport's flow pays 1 per move and finds the fewest for its caps.
//! Topic balance may spend at most 2% more (the bar's slack; if rack
//! detours already took it, the plan is made again without that spending);
//! when the counts are already even the bound is 0 and a topic imbalance
//! is left as it is rather than paid for with moves. A budget (`--max-moves`,
//! `--max-bytes`) keeps the part of the whole plan that helps most within
//! it (see the `budget` module). Work per move is
//! bounded (no pass over all partitions per move), so 3M replicas plan in
//! seconds.
//!
//! # Algorithm
//! Each step is a phase in its own module, run in this order by
//! `Planner::rebalance` (`drain`, `counts`, `search` with `transport`,
//! `topics`, `level`, `bytes`, `budget`, `leaders`); each phase's doc
//! comment states its input, output and the invariant it keeps.
//! 1. Drain non-targets, each replica to the open target (below its floor
//!    first, in a rack with room) where its topic stays within its share;
//!    if none, to a target lacking the topic, within the slack. If the
//!    plan is still over the bar when made again without it, a third try
//!    keeps rack room for the replicas still to come that may go to fewer
//!    racks (no rack overfills and needs a detour).
//! 2. Receivers (below their floor) that already hold a topic two over its
//!    share pass the extra on first, one extra move each within the slack.
//! 3. Bring every rack's total into its range with replicas that may cross
//!    racks, through a chain of racks when the direct way is closed.
//! 4. Brokers above their ceiling shed in rounds: each takes the topic it
//!    holds most too much of and gives its smallest replica to an open
//!    broker lacking that topic (topics two over their share go first
//!    everywhere; one with no open broker lacking it may go to a full one,
//!    within the slack); without one, the best move by destination, topic
//!    and size. Brokers still below their floor then take from those above.
//! 5. Up to 200k replicas (with no topic filter or `--replace`),
//!    the topic transport (see the `transport` module) plans again as one
//!    min-cost flow over (topic, broker) counts, whose topic caps are the
//!    topics' own shares plus the least extra that keeps the plan within
//!    2% of the bound (searched up from the floor no placement can beat,
//!    [`bound::topic_floor`], by doubling steps; up to the greedy's own
//!    excess where its plan is within the bar, else to the start's).
//!    Where the greedy cannot get within 2% of the bound at all, the
//!    flow's own count optimum is the reference;
//!    where the plan is still over it, or leaves a broker more
//!    single-replica partitions than it may lead, the transport may end
//!    counts one outside their range, as the bar allows.
//!    The best plan is kept: fewer stranded, nearer the move bar, leaders
//!    balanceable, lower topic excess, fewer moves.
//! 6. Topics still two over their share move (or swap) within the slack.
//!    Where one must stay two or more over (see the `level` module), the
//!    worst is brought down level by level: moved replicas trade
//!    destinations for nothing, the slack pays the rest.
//! 7. Count objective: the heaviest broker trades replicas that move
//!    anyway with lighter brokers' (no move added, no topic past its
//!    share) while that lowers it; then a heavy source sends a larger
//!    replica of its own instead of a smaller one that left it (same
//!    moves and counts, more bytes moved; not under `--max-bytes`);
//!    then the trades again.
//!    Size objective: moves and swaps between heavy and lighter brokers
//!    until bytes are within 1% of their share or no step helps. If a
//!    broker is still more than 5% over (a rack pinned by its quota), once
//!    more with counts allowed one outside their range, as the bar allows.
//! 8. With a budget, the part of the plan that helps most within it.
//! 9. Preferred leaders: greedy hand-offs, then augmenting paths.
//!
//! # Example
//! Brokers 1, 2, 3 hold six single-replica partitions as 3, 3, 0 and
//! broker 4 is new. The ideal is 1.5 per broker: brokers 1 and 2 are above
//! their ceiling of 2, brokers 3 and 4 below their floor of 1. The plan
//! moves one replica from 1 and one from 2 to brokers 3 and 4: two moves,
//! which is the lower bound, ending at 2, 2, 1, 1.

pub mod bound;
mod budget;
mod bytes;
mod counts;
pub mod disks;
mod drain;
mod flow;
pub mod ideal;
pub mod leaders;
mod level;
mod measure;
mod memo;
mod moves;
mod online;
mod replicas;
mod resolve;
pub mod rng;
mod search;
pub mod select;
mod state;
#[cfg(test)]
mod tests;
mod topics;
mod transport;

use std::collections::BTreeSet;

use crate::model::reassignment::{Entry, Move, Reassignment};
use crate::model::{BrokerId, Cluster, TopicPartition};
pub use budget::Budget;
pub use measure::{Ideals, RackIdeal, measure};
use online::Online;
use resolve::Job;
pub use resolve::use_racks;
use state::{Replicas, State};

/// Which brokers should hold replicas afterwards.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Targets {
    /// Every alive broker (the default rebalance).
    #[default]
    Alive,
    /// Exactly these brokers (`--brokers`).
    Brokers(Vec<BrokerId>),
    /// Every alive broker but these, which end up empty (`--remove-brokers`).
    Remove(Vec<BrokerId>),
    /// One-to-one substitution: every replica of OLD goes to NEW (`--replace`).
    Replace(Vec<(BrokerId, BrokerId)>),
}

/// What the plan balances (`--objective`): replica counts per broker and
/// per topic (`Count`), or bytes, keeping counts near balance (`Size`).
/// The variants carry no doc comment: clap would list them in `--help`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Objective {
    #[default]
    Count,
    Size,
}

#[derive(Debug, Clone, Default)]
pub struct PlanRequest {
    pub targets: Targets,
    /// Topics whose partitions may move; `None` means all.
    pub topics: Option<BTreeSet<String>>,
    pub objective: Objective,
    pub budget: Budget,
    pub leader_balance: bool,
    pub ignore_racks: bool,
    /// New replication factor for the selected topics.
    pub replication_factor: Option<usize>,
    pub seed: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("broker {0} is not in the snapshot")]
    UnknownBroker(BrokerId),
    #[error("broker {0} is not alive and cannot be a target")]
    DeadTarget(BrokerId),
    #[error("the target broker set is empty")]
    NoTargets,
    #[error(
        "brokers {0:?} have no rack while others do; give every broker a rack or pass --ignore-racks"
    )]
    PartialRacks(Vec<BrokerId>),
    #[error("replication factor {rf} is above the {targets} target brokers")]
    ReplicationFactorTooHigh { rf: usize, targets: usize },
    #[error(
        "{tp} has replication factor {rf}, above the {targets} target brokers (lower it with --replication-factor, or target more brokers)"
    )]
    PartitionTooWide {
        tp: TopicPartition,
        rf: usize,
        targets: usize,
    },
    #[error("replication factor must be at least 1")]
    ZeroReplicationFactor,
    #[error("--replace {old}={new}: {tp} already has a replica on broker {new}")]
    ReplaceConflict {
        tp: TopicPartition,
        old: BrokerId,
        new: BrokerId,
    },
    #[error(
        "a budget (--max-moves, --max-bytes) cannot go with {0}: every replica it substitutes must move"
    )]
    BudgetWith(&'static str),
    #[error("--replace {0}: a broker may appear only once")]
    ReplaceRepeated(BrokerId),
}

/// The planned assignment and what the summary should say about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// New replica list per partition, in `Cluster::partitions()` order.
    pub assignment: Vec<Vec<BrokerId>>,
    /// The brokers that should hold replicas afterwards, sorted.
    pub targets: Vec<BrokerId>,
    /// Dead brokers that held replicas, and how many were moved off them.
    pub dead_brokers: Vec<BrokerId>,
    pub healed_replicas: u64,
    /// Replicas left outside the target set (budget, topic filter or no
    /// rack-safe place).
    pub stranded_replicas: u64,
    pub rf_changed_partitions: usize,
    /// Partitions with no in-sync replica on a live broker, left as they are
    /// (sorted): no move can heal them.
    pub offline_partitions: Vec<TopicPartition>,
    /// Whether partitions were kept spread over racks (see [`use_racks`]).
    pub racks_used: bool,
    /// The lower bounds on moves and the ideals, measured on the plan's
    /// starting state (after a replication factor change or a
    /// substitution, which `resolve` makes whole): what the summary judges
    /// the plan against (see [`measure`]).
    pub bounds: Bounds,
    pub ideals: Ideals,
}

/// Lower bounds on what any plan of the request must do, as the planner
/// measured them on the online partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Bounds {
    /// Replica moves: the count bound, or the rack-routed flow bound where
    /// it applies (see the `bound` module), whichever is higher.
    pub moves: u64,
    /// A substitution (`--replace`) does not rebalance: the moves it must
    /// make are exactly what leaves the brokers outside the target set.
    pub exact_moves: Option<u64>,
}

impl Outcome {
    /// The partitions whose replica list changes, as Kafka's plan JSON.
    pub fn reassignment(&self, cluster: &Cluster) -> Reassignment {
        let moves = plan_moves(cluster, &self.assignment, Side::After, None, |_, _| None);
        Reassignment::new("plan", moves).expect("planner output is always a valid plan")
    }

    /// Bytes the plan copies between brokers: each partition's size once
    /// per replica it gains (what `--max-bytes` limits, with the moves
    /// between a broker's dirs).
    pub fn copied_bytes(&self, cluster: &Cluster) -> u64 {
        cluster
            .partitions()
            .zip(&self.assignment)
            .map(|((_, p), after)| {
                let added = after.iter().filter(|b| !p.replicas.contains(b)).count();
                p.size_bytes * added as u64
            })
            .sum()
    }

    /// The current assignment of the partitions that change: the rollback.
    pub fn rollback(&self, cluster: &Cluster) -> Reassignment {
        let moves = plan_moves(cluster, &self.assignment, Side::Before, None, |_, _| None);
        Reassignment::new("rollback", moves).expect("the snapshot's assignment is valid")
    }

    /// The partitions whose replica list changes, as [`Self::reassignment`]
    /// lists them (`Cluster::partitions()` order is topic-partition order),
    /// borrowed rather than built: their replicas after the plan, or before
    /// it (the rollback). What a plan file is streamed from.
    pub fn entries<'a>(
        &'a self,
        cluster: &'a Cluster,
        rollback: bool,
    ) -> impl Iterator<Item = Entry<'a>> + 'a {
        cluster
            .partitions()
            .zip(&self.assignment)
            .filter(|((_, p), after)| p.replicas != **after)
            .map(move |((t, p), after)| Entry {
                topic: &t.name,
                partition: p.partition,
                replicas: if rollback { &p.replicas } else { after },
            })
    }
}

/// Which replicas a plan file lists: where they go (the plan) or where
/// they are (its rollback).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    After,
    Before,
}

/// One move per partition whose replica list changes from the cluster's
/// to `assignment`'s (in `Cluster::partitions()` order), or that `also`
/// names (a disk plan's partitions that change dirs only; asked only of
/// partitions whose replicas stay, so a plain plan names none it need
/// not), listing the
/// replicas of `side`, with the log dirs `dirs` gives for the partition
/// and those replicas (`any` for each where it gives none). What the plan
/// and the rollback of both `Outcome` and a disk plan are made of.
pub(crate) fn plan_moves(
    cluster: &Cluster,
    assignment: &[Vec<BrokerId>],
    side: Side,
    also: Option<&dyn Fn(&TopicPartition) -> bool>,
    dirs: impl Fn(&TopicPartition, &[BrokerId]) -> Option<Vec<String>>,
) -> Vec<Move> {
    cluster
        .partitions()
        .zip(assignment)
        .filter_map(|((t, p), after)| {
            let stays = p.replicas == *after;
            if stays && also.is_none() {
                return None;
            }
            let tp = TopicPartition {
                topic: t.name.clone(),
                partition: p.partition,
            };
            if stays && !also.is_some_and(|f| f(&tp)) {
                return None;
            }
            let replicas = match side {
                Side::After => after,
                Side::Before => &p.replicas,
            };
            let mut m = Move::new(tp, replicas.to_vec());
            if let Some(d) = dirs(&m.tp, replicas) {
                m.log_dirs = d;
            }
            Some(m)
        })
        .collect()
}

/// Plans a reassignment. See the module documentation.
pub fn plan(cluster: &Cluster, req: &PlanRequest) -> Result<Outcome, PlanError> {
    let offline = cluster.offline_mask();
    if !offline.contains(&true) {
        return plan_online(&Online::all(cluster), req);
    }
    // Offline partitions stay out of the planning altogether, so that
    // quotas, bounds and topic shares are those of what can move.
    let online = Online::new(cluster, &offline);
    let mut out = plan_online(&online, req)?;
    let mut planned = std::mem::take(&mut out.assignment).into_iter();
    out.assignment = cluster
        .partitions()
        .zip(&offline)
        .map(|((_, p), &off)| {
            if off {
                p.replicas.clone()
            } else {
                planned.next().expect("one list per online partition")
            }
        })
        .collect();
    out.offline_partitions = cluster.offline_partitions_of(&offline);
    out.ideals = out.ideals.for_full(cluster, &online);
    Ok(out)
}

/// The phases a rebalance runs, in order, each in its own module:
/// [`resolve`] → [`drain`] → [`counts`] → transport ([`search`]) →
/// [`topics`] → [`level`] → [`bytes`] → [`budget`] → [`leaders`]. A
/// substitution (`--replace`) runs only the first two.
fn plan_online(cluster: &Online, req: &PlanRequest) -> Result<Outcome, PlanError> {
    let job = resolve::resolve(cluster, req)?;
    let planner = Planner {
        cluster,
        req,
        job: &job,
    };
    let (st, bounds, ideals) = if job.substitutes() {
        planner.substitute()
    } else {
        planner.rebalance()
    };
    Ok(planner.outcome(st, bounds, ideals))
}

/// The bar: a plan may move 2% more than the lower bound. Topic balance
/// may spend that slack; the bound matters more.
fn move_bar(bound: u64) -> u64 {
    bound * 102 / 100
}

/// What the phases share: the cluster, the request and its resolution.
struct Planner<'a> {
    cluster: &'a Online<'a>,
    req: &'a PlanRequest,
    job: &'a Job,
}

impl Planner<'_> {
    /// A state with replicas at `reps` and each broker's partitions in the
    /// order the phases take them: smallest first (fewest bytes moved),
    /// ties broken by the seed.
    fn fresh(&self, reps: Vec<Replicas>) -> State {
        let job = self.job;
        let salt = rng::SplitMix64::new(self.req.seed).next_u64();
        State::of_ordered(
            self.cluster,
            reps,
            job.target.clone(),
            job.movable.clone(),
            job.use_racks,
            Some(salt),
        )
    }

    /// The drain, then (unless substituting) the count phases. `early` is
    /// what topic balance may spend above the bound before the count
    /// moves; `reserve` keeps rack room in the drain (see `drain`).
    fn count_phases(&self, st: &mut State, early: u64, reserve: bool) {
        let substitutes = self.job.substitutes();
        let mut early = if substitutes { 0 } else { early };
        drain::drain(st, &mut early, reserve);
        if !substitutes {
            counts::balance(st, self.req.objective, early);
        }
    }

    /// `--replace`: every replica of an old broker goes to its new one
    /// (made in `resolve`); the drain moves what is left on non-targets.
    fn substitute(&self) -> (State, Bounds, Ideals) {
        let mut st = self.fresh(self.job.reps.clone());
        let (bounds, steer) = Bounds::of(&st);
        let ideals = Ideals::of(self.cluster, &st, self.job.use_racks);
        self.count_phases(&mut st, steer * 3 / 200, false);
        // What leaves the non-targets, counted from the snapshot (before
        // the substitution made in `resolve`).
        let index = self.cluster.broker_index();
        let before = self
            .cluster
            .partitions()
            .flat_map(|(_, p)| &p.replicas)
            .filter(|id| !st.target[index[id]])
            .count() as u64;
        let after = st
            .reps
            .iter()
            .flatten()
            .filter(|&&b| !st.target[b as usize])
            .count() as u64;
        let exact_moves = Some(before.saturating_sub(after));
        (
            st,
            Bounds {
                exact_moves,
                ..bounds
            },
            ideals,
        )
    }

    /// The whole rebalance. See the module documentation.
    fn rebalance(&self) -> (State, Bounds, Ideals) {
        let start = &self.job.reps;
        let mut st = self.fresh(start.clone());
        // Only the transport weighs it: a pass over every (topic, broker)
        // count (48M on `huge`, where the transport does not apply).
        let transport = self.transport_applies();
        let start_excess = if transport { st.topic_excess() } else { 0 };
        let (bounds, bound) = Bounds::of(&st);
        let ideals = Ideals::of(self.cluster, &st, self.job.use_racks);
        // Topic balance may spend up to three quarters of the bar's slack
        // before the count moves.
        self.count_phases(&mut st, bound * 3 / 200, false);
        if st.moves > move_bar(bound) {
            st = self.counts_again(bound);
        }
        if transport {
            st = search::compete(self, st, start, bound, start_excess);
        }
        topics::repair_topics(&mut st, start, move_bar(bound));
        level::level_topics(&mut st, start, move_bar(bound));
        bytes::even_bytes(
            &mut st,
            start,
            self.req.objective,
            self.req.budget.max_bytes.is_some(),
        );
        st.keep_unmoved_order(start);
        if self.req.budget.is_limited() {
            st = self.within_budget(st);
        }
        if self.req.leader_balance {
            leaders::balance(&mut st.reps, &st.movable, &st.target, st.broker_count);
        }
        (st, bounds, ideals)
    }

    /// The count moves may need rack detours of their own that eat the
    /// slack topic balance spent early: the plan is made again without
    /// spending early, and if still over the bar, once more with the drain
    /// keeping rack room for the replicas bound to few racks (a greedy
    /// drain can overfill a rack and force detours), keeping whichever
    /// strands fewer, then moves fewer.
    fn counts_again(&self, bound: u64) -> State {
        let start = &self.job.reps;
        let mut st = self.fresh(start.clone());
        self.count_phases(&mut st, 0, false);
        let moved = |st: &State| st.net_moves(start);
        if moved(&st) > move_bar(bound) {
            let mut kept = self.fresh(start.clone());
            self.count_phases(&mut kept, 0, true);
            if (kept.stranded(), moved(&kept)) < (st.stranded(), moved(&st)) {
                st = kept;
            }
        }
        st
    }

    /// The topic transport competes where it applies: every topic may
    /// move, no substitution, and few enough replicas for its flows.
    fn transport_applies(&self) -> bool {
        let replicas: usize = self.job.reps.iter().map(|r| r.len()).sum();
        !self.job.substitutes()
            && self.job.movable.iter().all(|&m| m)
            && replicas as u64 <= bound::FLOW_BOUND_MAX_REPLICAS
    }

    /// A budget keeps the best part of the whole plan (see `budget`),
    /// applied to the cluster as it starts.
    fn within_budget(&self, planned: State) -> State {
        let full = planned.reps;
        let mut st = self.fresh(self.job.reps.clone());
        budget::select(&mut st, &full, &self.req.budget, self.req.objective);
        st
    }

    fn outcome(&self, st: State, bounds: Bounds, ideals: Ideals) -> Outcome {
        let cluster = self.cluster;
        let assignment = st
            .reps
            .iter()
            .map(|r| {
                r.iter()
                    .map(|&b| cluster.brokers()[b as usize].id)
                    .collect()
            })
            .collect();
        let targets = (0..st.broker_count)
            .filter(|&b| st.target[b])
            .map(|b| cluster.brokers()[b].id)
            .collect();
        let healed = self.job.on_dead(&self.job.reps) - self.job.on_dead(&st.reps);
        Outcome {
            assignment,
            targets,
            dead_brokers: self.job.dead_brokers.clone(),
            healed_replicas: healed,
            stranded_replicas: st.stranded(),
            rf_changed_partitions: self.job.rf_changed,
            offline_partitions: Vec::new(),
            racks_used: self.job.use_racks,
            bounds,
            ideals,
        }
    }
}
