//! The planner: where replicas should go. Pure and deterministic: it takes
//! a [`Cluster`] and a [`PlanRequest`] and returns an [`Outcome`]; it does
//! no I/O, reads no clock, and uses randomness only through `seed`.
//!
//! # Goals, in order
//! 1. Every replica ends on a target broker (dead, removed and replaced
//!    brokers are drained: healing and decommissioning, planned offline).
//!    A partition with no replica on a live broker is left where it is and
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
//! See the `counts` module for the details.
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
//!    anyway with lighter brokers' (no move or byte added, no topic past
//!    its share) while that lowers it.
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

pub mod balance;
pub mod bound;
mod budget;
mod counts;
pub mod disks;
mod flow;
pub mod ideal;
pub mod leaders;
mod level;
pub mod rng;
mod state;
#[cfg(test)]
mod tests;
mod transport;

use std::collections::BTreeSet;

use crate::model::reassignment::{Move, Reassignment};
use crate::model::{BrokerId, Cluster, RackCoverage, TopicPartition};
use balance::Steer;
pub use budget::Budget;
use state::{B, State};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Objective {
    /// Balance replica counts per broker and per topic.
    #[default]
    Count,
    /// Balance bytes, keeping counts near balance.
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
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// Partitions with no replica on a live broker, left as they are
    /// (sorted): no move can heal them.
    pub offline_partitions: Vec<TopicPartition>,
}

impl Outcome {
    /// The partitions whose replica list changes, as Kafka's plan JSON.
    pub fn reassignment(&self, cluster: &Cluster) -> Reassignment {
        Reassignment::new("plan", self.changed(cluster, |_, after| after))
            .expect("planner output is always a valid plan")
    }

    /// The current assignment of the partitions that change: the rollback.
    pub fn rollback(&self, cluster: &Cluster) -> Reassignment {
        Reassignment::new("rollback", self.changed(cluster, |before, _| before))
            .expect("the snapshot's assignment is valid")
    }

    /// One move per partition whose replica list changes, listing the
    /// replicas `pick` chooses from (before, after).
    fn changed(
        &self,
        cluster: &Cluster,
        pick: impl for<'a> Fn(&'a [BrokerId], &'a [BrokerId]) -> &'a [BrokerId],
    ) -> Vec<Move> {
        cluster
            .partitions()
            .zip(&self.assignment)
            .filter(|((_, p), after)| p.replicas != **after)
            .map(|((t, p), after)| {
                let tp = TopicPartition {
                    topic: t.name.clone(),
                    partition: p.partition,
                };
                Move::new(tp, pick(&p.replicas, after).to_vec())
            })
            .collect()
    }
}

/// Plans a reassignment. See the module documentation.
pub fn plan(cluster: &Cluster, req: &PlanRequest) -> Result<Outcome, PlanError> {
    let offline = cluster.offline_mask();
    if !offline.contains(&true) {
        return plan_online(cluster, req);
    }
    // Offline partitions stay out of the planning altogether, so that
    // quotas, bounds and topic shares are those of what can move.
    let mut out = plan_online(&cluster.without(&offline), req)?;
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
    out.offline_partitions = cluster.offline_partitions();
    Ok(out)
}

fn plan_online(cluster: &Cluster, req: &PlanRequest) -> Result<Outcome, PlanError> {
    let nb = cluster.brokers.len();
    let index = cluster.broker_index();
    let idx = |id: BrokerId| index.get(&id).copied().ok_or(PlanError::UnknownBroker(id));
    let alive: Vec<bool> = cluster.brokers.iter().map(|b| b.alive).collect();

    let mut target = alive.clone();
    let mut replace: Vec<(B, B)> = Vec::new();
    match &req.targets {
        Targets::Alive => {}
        Targets::Brokers(list) => {
            target = vec![false; nb];
            for &id in list {
                let i = idx(id)?;
                if !alive[i] {
                    return Err(PlanError::DeadTarget(id));
                }
                target[i] = true;
            }
        }
        Targets::Remove(list) => {
            for &id in list {
                target[idx(id)?] = false;
            }
        }
        Targets::Replace(pairs) => {
            let mut seen = BTreeSet::new();
            for &(old, new) in pairs {
                for id in [old, new] {
                    if !seen.insert(id) {
                        return Err(PlanError::ReplaceRepeated(id));
                    }
                }
                let (o, n) = (idx(old)?, idx(new)?);
                if !alive[n] {
                    return Err(PlanError::DeadTarget(new));
                }
                target[o] = false;
                target[n] = true;
                replace.push((o as B, n as B));
            }
        }
    }
    // A half-done substitution would leave OLD in use. (A replication
    // factor change is made whole, outside the budget: `--max-moves 0`
    // changes it and nothing else.)
    if req.budget.is_limited() && !replace.is_empty() {
        return Err(PlanError::BudgetWith("--replace"));
    }
    let ntargets = target.iter().filter(|&&t| t).count();
    if ntargets == 0 {
        return Err(PlanError::NoTargets);
    }
    let use_racks = !req.ignore_racks
        && match cluster.rack_coverage() {
            RackCoverage::All => true,
            RackCoverage::None => false,
            RackCoverage::Partial(missing) => return Err(PlanError::PartialRacks(missing)),
        };

    let mut reps: Vec<Vec<B>> = Vec::with_capacity(cluster.partition_count());
    let mut movable = Vec::with_capacity(cluster.partition_count());
    for (t, p) in cluster.partitions() {
        reps.push(p.replicas.iter().map(|id| index[id] as B).collect());
        movable.push(req.topics.as_ref().is_none_or(|s| s.contains(&t.name)));
    }

    for &(o, n) in &replace {
        for (pi, (t, p)) in cluster.partitions().enumerate() {
            if !movable[pi] || !reps[pi].contains(&o) {
                continue;
            }
            if reps[pi].contains(&n) {
                return Err(PlanError::ReplaceConflict {
                    tp: TopicPartition {
                        topic: t.name.clone(),
                        partition: p.partition,
                    },
                    old: cluster.brokers[o as usize].id,
                    new: cluster.brokers[n as usize].id,
                });
            }
            let slot = reps[pi].iter().position(|&b| b == o).expect("checked");
            reps[pi][slot] = n;
        }
    }

    let mut rf_changed = 0;
    if let Some(rf) = req.replication_factor {
        if rf == 0 {
            return Err(PlanError::ZeroReplicationFactor);
        }
        if rf > ntargets {
            return Err(PlanError::ReplicationFactorTooHigh {
                rf,
                targets: ntargets,
            });
        }
        rf_changed = change_rf(cluster, &mut reps, &movable, &target, rf, use_racks);
    }

    // A partition wider than the target set has nowhere to go: an error,
    // as in Kafka, rather than a plan that strands some of it.
    if let Some((pi, r)) = reps
        .iter()
        .enumerate()
        .find(|&(pi, r)| movable[pi] && r.len() > ntargets)
    {
        let (t, p) = cluster
            .partitions()
            .nth(pi)
            .expect("one list per partition");
        return Err(PlanError::PartitionTooWide {
            tp: TopicPartition {
                topic: t.name.clone(),
                partition: p.partition,
            },
            rf: r.len(),
            targets: ntargets,
        });
    }

    // Replicas on dead brokers are healed whatever the target set says.
    let dead_brokers: Vec<BrokerId> = cluster
        .brokers
        .iter()
        .enumerate()
        .filter(|(i, b)| !b.alive && reps.iter().any(|r| r.contains(&(*i as B))))
        .map(|(_, b)| b.id)
        .collect();
    let on_dead = |reps: &[Vec<B>]| -> u64 {
        reps.iter()
            .flatten()
            .filter(|&&b| !alive[b as usize])
            .count() as u64
    };
    let dead_before = on_dead(&reps);

    let steer = match req.objective {
        Objective::Count => Steer::Count,
        Objective::Size => Steer::Size,
    };
    let start = |reps: Vec<Vec<B>>| {
        let mut st = State::new(cluster, reps, target.clone(), movable.clone(), use_racks);
        let mut rng = rng::SplitMix64::new(req.seed);
        let salt = rng.next_u64();
        let size = &st.size;
        for list in &mut st.on {
            list.sort_by_key(|&p| (size[p as usize], mix(salt ^ p as u64)));
        }
        st
    };
    // The bar allows 2% above the bound; topic balance may spend it, up
    // to three quarters before the count moves. Those may need detours of
    // their own that eat the rest; then the plan is made again without
    // spending early, since the bound matters more than topic balance.
    let ceiling = |bound: u64| bound * 102 / 100;
    let spend = |st: &mut State, early: u64, reserve: bool| {
        let mut early = if replace.is_empty() { early } else { 0 };
        counts::drain(st, &mut early, reserve);
        if replace.is_empty() {
            counts::balance(st, steer, early);
        }
    };
    // Where replicas start: for a second try and the topic repair's net
    // count of moves.
    let initial = replace.is_empty().then(|| reps.clone());
    let replicas: usize = reps.iter().map(Vec::len).sum();
    let transport_input = (replace.is_empty()
        && movable.iter().all(|&m| m)
        && replicas as u64 <= bound::FLOW_BOUND_MAX_REPLICAS)
        .then(|| reps.clone());
    let mut st = start(reps);
    let start_excess = st.topic_excess();
    let bound = counts::lower_bound(&st).max(flow_bound_of(&st));
    spend(&mut st, bound * 3 / 200, false);
    // If the replicas that end elsewhere are still over, once more with
    // the drain keeping rack room for the replicas bound to few racks (a
    // greedy drain can overfill a rack and force detours), keeping
    // whichever moves fewer.
    if let Some(again) = &initial
        && st.moves > ceiling(bound)
    {
        st = start(again.clone());
        spend(&mut st, 0, false);
        let moved = |st: &State| st.net_moves(again);
        if moved(&st) > ceiling(bound) {
            let mut kept = start(again.clone());
            spend(&mut kept, 0, true);
            if (kept.stranded(), moved(&kept)) < (st.stranded(), moved(&st)) {
                st = kept;
            }
        }
    }
    // The topic transport (see its module), where it applies, competes
    // with the greedy: fewer stranded, then within the bar on moves (or
    // nearer to it), then no broker left with more single-replica
    // partitions than it may lead, then the better topic spread, then
    // fewer moves. Its topic caps are searched for the least whose plan
    // stays within the bar on moves, from the least excess any placement
    // can reach (at least the bar's one); see the search below for how far.
    if let Some(reps) = transport_input {
        let moved = |st: &State| st.net_moves(&reps);
        // Where the greedy cannot get within the bar, the bound may be out
        // of reach (it counts two replicas of a partition into one free
        // rack): the flow's own count optimum is then the reference.
        // (With counts one outside their range allowed, as the bar does.)
        let reference = if moved(&st) > ceiling(bound) {
            let mut probe = start(reps.clone());
            probe.widen_quotas();
            transport::count_moves(&mut probe, &reps).map_or(bound, |m| m.max(bound))
        } else {
            bound
        };
        let rank = |st: &State| {
            let m = moved(st);
            (
                st.stranded(),
                m.saturating_sub(ceiling(reference)),
                st.single_excess(),
                st.topic_excess(),
                m,
            )
        };
        // With `widen`, counts may end one outside their range, as the bar
        // allows: tried only when the plan is still over the move bar or
        // leaves leaders unbalanceable, where that room is what saves the
        // moves (the count phases would pull the counts back in, so only
        // the drain runs after it).
        let attempt = |excess: u32, widen: bool| -> Option<State> {
            let mut alt = start(reps.clone());
            if widen {
                alt.widen_quotas();
            }
            transport::run(&mut alt, &reps, excess)?;
            if widen {
                counts::drain(&mut alt, &mut 0, false);
            } else {
                spend(&mut alt, 0, false);
            }
            Some(alt)
        };
        let floor = st.topic_floor(0).map(|f| f.max(1));
        let done = |st: &State| {
            st.stranded() == 0
                && moved(st) <= ceiling(reference)
                && st.single_excess() == 0
                && floor.is_some_and(|f| st.topic_excess() <= f)
        };
        for widen in [false, true] {
            let Some(floor) = floor else {
                break;
            };
            let over = moved(&st) > ceiling(reference) || st.single_excess() > 0;
            if done(&st) || widen && !over {
                break;
            }
            // With counts one outside their range the least reachable
            // topic excess can be lower.
            let floor = if widen {
                st.topic_floor(1).map_or(floor, |f| f.clamp(1, floor))
            } else {
                floor
            };
            // The least cap whose plan fits the bar, searched up from the
            // floor by doubling steps (the answer is usually near it, and
            // every try is a whole flow), then halving between the last
            // cap over and the first within. Up to the plan's own excess
            // while it fits the bar (a looser cap cannot beat it), else to
            // the start's: a looser cap that fits wins over an even topic
            // spread, since the bound matters more.
            let fits_now = moved(&st) <= ceiling(reference);
            let top = if fits_now {
                st.topic_excess()
            } else {
                st.topic_excess().max(start_excess)
            };
            let (mut lo, mut hi) = (floor, top.max(floor));
            let mut probe = lo;
            let mut fits = false;
            while lo <= hi {
                match attempt(probe, widen) {
                    Some(alt) => {
                        let within = moved(&alt) <= ceiling(reference);
                        if rank(&alt) < rank(&st) {
                            st = alt;
                        }
                        if within {
                            fits = true;
                            hi = probe - 1;
                        } else {
                            lo = probe + 1;
                        }
                    }
                    None => lo = probe + 1,
                }
                probe = if fits {
                    lo + hi.saturating_sub(lo) / 2
                } else {
                    (2 * lo - floor - 1).min(hi)
                };
            }
        }
    }
    if let Some(initial) = initial {
        counts::repair_topics(&mut st, &initial, ceiling(bound));
        level::level_topics(&mut st, &initial, ceiling(bound));
        if req.objective == Objective::Count {
            balance::even_moved_bytes(&mut st, &initial);
        } else {
            balance::balance_bytes(&mut st, 0.01);
            // A rack's count quota can pin bytes above the bar (a rack that
            // must hold a replica of nearly every partition): there counts
            // may end one outside their range, as the bar allows, so the
            // largest optional replicas can leave it.
            if balance::worst_over_share(&st) > 1.0 + balance::SIZE_BAR {
                st.widen_quotas();
                balance::balance_bytes(&mut st, balance::SIZE_BAR);
            }
        }
        st.keep_unmoved_order(&initial);
        // A budget keeps the best part of the whole plan (see `budget`).
        if req.budget.is_limited() {
            let full = std::mem::take(&mut st.reps);
            st = start(initial);
            budget::select(&mut st, &full, &req.budget, steer);
        }
        if req.leader_balance {
            leaders::balance(&mut st.reps, &st.movable, &st.target, nb);
        }
    }
    let healed = dead_before - on_dead(&st.reps);
    let assignment = st
        .reps
        .iter()
        .map(|r| r.iter().map(|&b| cluster.brokers[b as usize].id).collect())
        .collect();
    let targets = (0..nb)
        .filter(|&b| st.target[b])
        .map(|b| cluster.brokers[b].id)
        .collect();
    Ok(Outcome {
        assignment,
        targets,
        dead_brokers,
        healed_replicas: healed,
        stranded_replicas: st.stranded(),
        rf_changed_partitions: rf_changed,
        offline_partitions: Vec::new(),
    })
}

/// The rack-routed bound (see [`bound::flow_bound`]) of the starting state,
/// or 0 where it does not apply or would be slow.
fn flow_bound_of(st: &State) -> u64 {
    let replicas: usize = st.reps.iter().map(Vec::len).sum();
    if st.k_target <= 1 || replicas as u64 > bound::FLOW_BOUND_MAX_REPLICAS {
        return 0;
    }
    let before: Vec<Vec<usize>> = st
        .reps
        .iter()
        .map(|r| r.iter().map(|&b| b as usize).collect())
        .collect();
    let rack: Vec<Option<usize>> = st.rack.iter().map(|r| r.map(usize::from)).collect();
    let mut target_racks: Vec<usize> = (0..st.nb)
        .filter(|&b| st.target[b])
        .filter_map(|b| rack[b])
        .collect();
    target_racks.sort_unstable();
    target_racks.dedup();
    let quota: Vec<(u64, u64)> = (0..st.nb)
        .map(|b| (u64::from(st.lo[b]), u64::from(st.hi[b])))
        .collect();
    bound::flow_bound(&before, &rack, &target_racks, &st.target, &quota).unwrap_or(0)
}

fn mix(x: u64) -> u64 {
    rng::SplitMix64::new(x).next_u64()
}

/// Changes the replication factor of movable partitions. Added replicas go
/// to the least loaded targets on racks the partition does not use yet;
/// removed ones come off non-targets first, then duplicated racks, then the
/// most loaded brokers, never the current leader when avoidable.
fn change_rf(
    cluster: &Cluster,
    reps: &mut [Vec<B>],
    movable: &[bool],
    target: &[bool],
    rf: usize,
    use_racks: bool,
) -> usize {
    let nb = cluster.brokers.len();
    let rack: Vec<Option<&str>> = cluster
        .brokers
        .iter()
        .map(|b| if use_racks { b.rack.as_deref() } else { None })
        .collect();
    let mut count = vec![0i64; nb];
    for r in reps.iter() {
        for &b in r {
            count[b as usize] += 1;
        }
    }
    let leaders: Vec<Option<B>> = cluster
        .partitions()
        .zip(reps.iter())
        .map(|((_, p), r)| {
            p.leader.and_then(|l| {
                r.iter()
                    .copied()
                    .find(|&b| cluster.brokers[b as usize].id == l)
            })
        })
        .collect();
    let mut changed = 0;
    for (pi, r) in reps.iter_mut().enumerate() {
        if !movable[pi] || r.len() == rf {
            continue;
        }
        changed += 1;
        while r.len() < rf {
            let best = (0..nb)
                .filter(|&b| target[b] && !r.contains(&(b as B)))
                .min_by_key(|&b| {
                    let new_rack =
                        rack[b].is_some() && !r.iter().any(|&x| rack[x as usize] == rack[b]);
                    (!new_rack, count[b], b)
                })
                .expect("rf <= targets was checked");
            count[best] += 1;
            r.push(best as B);
        }
        while r.len() > rf {
            let keep = leaders[pi].or(r.first().copied());
            let victim = (0..r.len())
                .filter(|&i| Some(r[i]) != keep)
                .max_by_key(|&i| {
                    let b = r[i] as usize;
                    let dup_rack = rack[b].is_some()
                        && r.iter().filter(|&&x| rack[x as usize] == rack[b]).count() > 1;
                    (!target[b], dup_rack, count[b], std::cmp::Reverse(b))
                })
                .expect("rf >= 1 leaves a replica to drop");
            count[r[victim] as usize] -= 1;
            r.remove(victim);
        }
    }
    changed
}
