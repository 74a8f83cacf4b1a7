//! Phase `budget`. Input: the whole plan and the cluster as it starts.
//! Output: the part of the plan that helps most within the budget.
//! Invariant: the budget holds, healing comes first, and no phase before
//! this one knows about budgets.
//!
//! Budgets (`--max-moves`, `--max-bytes`): the plan is made whole, and the
//! part of it that does the most good within the budget is kept.
//!
//! Every partition's new replica list is rack safe on its own, so any set
//! of the plan's changed partitions is a valid plan. Which set is a
//! knapsack, filled greedily: first the partitions whose replicas leave
//! brokers that are not targets (healing and draining come first), the
//! most replicas per unit of budget first; then the changes that lower the
//! imbalance most per unit of budget. The imbalance is the sum over
//! brokers of the fourth power of their distance from the ideal count
//! (with the size objective, plus the same for bytes in units of a mean
//! replica) and the square of every topic's excess over its share, so the
//! brokers furthest off are helped first and no topic piles up; nothing
//! goes to a broker at its ceiling or past the start's worst topic excess
//! (healing aside). Scores change as changes are taken: a stale score is
//! refreshed when it comes to the top, and a change is taken when its
//! fresh score is still the best (a lazy greedy).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::Objective;
use super::bytes::byte_ideals;
use super::replicas::Replicas;
use super::state::{BrokerIx, State};

/// How far the planner may go: `--max-moves` and `--max-bytes`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Budget {
    pub max_moves: Option<u64>,
    pub max_bytes: Option<u64>,
}

impl Budget {
    pub fn is_limited(&self) -> bool {
        self.max_moves.is_some() || self.max_bytes.is_some()
    }

    fn fits(&self, st: &State, moves: u64, bytes: u64) -> bool {
        self.max_moves.is_none_or(|m| st.moves + moves <= m)
            && self.max_bytes.is_none_or(|m| st.bytes_moved + bytes <= m)
    }

    /// What a change costs, as a share of the budget (both limits count
    /// where both are set).
    fn cost(&self, moves: u64, bytes: u64) -> f64 {
        let share =
            |used: u64, limit: Option<u64>| limit.map_or(0.0, |m| used as f64 / m.max(1) as f64);
        (share(moves, self.max_moves) + share(bytes, self.max_bytes)).max(1e-12)
    }
}

/// How much a broker's distance from its ideal weighs: the fourth power,
/// so a move from or to the brokers furthest off outweighs several nearer
/// ones (nearly the largest distance first, as an operator relieves the
/// fullest broker first), and topics, weighed by the square of their
/// excess, matter only once counts are near.
fn far(x: f64) -> f64 {
    (x * x) * (x * x)
}

/// One changed partition: the replicas that leave and those that arrive,
/// and what it costs.
struct Change {
    p: usize,
    gone: Vec<BrokerIx>,
    new: Vec<BrokerIx>,
    bytes: u64,
}

impl Change {
    fn brokers(&self) -> impl Iterator<Item = &BrokerIx> {
        self.gone.iter().chain(&self.new)
    }
}

/// A change's place in the queue: replicas healed per unit of budget
/// (those with room at their destination first), then imbalance removed
/// per unit of budget, then fewer bytes; `round` says when it was scored
/// (fresh while none of its brokers changed since: a score reads only its
/// own brokers).
struct Entry {
    heal: f64,
    heal_full: f64,
    gain: f64,
    bytes: u64,
    round: u64,
    index: usize,
}

impl Entry {
    fn worth(&self) -> bool {
        self.heal > 0.0 || self.heal_full > 0.0 || self.gain > 0.0
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.heal
            .total_cmp(&other.heal)
            .then(self.heal_full.total_cmp(&other.heal_full))
            .then(self.gain.total_cmp(&other.gain))
            .then(other.bytes.cmp(&self.bytes))
            // Then the earlier partition, for a deterministic plan.
            .then(other.index.cmp(&self.index))
    }
}

/// Applies to `st` (the cluster as it starts) the part of the whole plan
/// `full` that does the most good within `budget` (see the module); all
/// of it where it fits.
pub fn select(st: &mut State, full: &[Replicas], budget: &Budget, objective: Objective) {
    let changes: Vec<Change> = (0..st.reps.len())
        .filter_map(|p| {
            let gone: Vec<BrokerIx> = st.reps[p]
                .iter()
                .copied()
                .filter(|b| !full[p].contains(b))
                .collect();
            let new: Vec<BrokerIx> = full[p]
                .iter()
                .copied()
                .filter(|b| !st.reps[p].contains(b))
                .collect();
            // Replication factors changed before planning.
            debug_assert_eq!(gone.len(), new.len());
            let bytes = st.size[p] * gone.len() as u64;
            (!gone.is_empty()).then_some(Change {
                p,
                gone,
                new,
                bytes,
            })
        })
        .collect();
    // In the whole plan's order, so a change taken is exactly the plan's.
    let apply = |st: &mut State, c: &Change| {
        for (&s, &d) in c.gone.iter().zip(&c.new) {
            st.apply_move(c.p, s, d);
        }
        st.reps[c.p].clone_from(&full[c.p]);
    };
    let moves: usize = changes.iter().map(|c| c.gone.len()).sum();
    if budget.fits(st, moves as u64, changes.iter().map(|c| c.bytes).sum()) {
        for c in &changes {
            apply(st, c);
        }
        return;
    }
    let bideal = byte_ideals(st);
    let replicas: usize = st.reps.iter().map(|r| r.len()).sum();
    let mean_size = (st.bytes.iter().sum::<u64>() as f64 / replicas.max(1) as f64).max(1.0);
    // No topic may end further over its share than the worst at the start.
    let topic_limit = st.topic_excess().max(1);
    let score = |st: &State, c: &Change, round: u64, index: usize| -> Entry {
        let cost = budget.cost(c.gone.len() as u64, c.bytes);
        let healed = c.gone.iter().filter(|&&b| !st.target[b as usize]).count() as f64;
        // Not to a broker already at its ceiling (until it sheds, if the
        // plan has it shed), nor piling a topic: a part of a plan must be
        // no worse than the start, whatever part of the rest it lacks.
        // Healing goes anyway, after the healing that finds room.
        let t = st.topic_of[c.p];
        let full_dest = c.new.iter().any(|&b| {
            st.count[b as usize] >= st.ceiling[b as usize]
                || st.topic_count(t, b) + 1 > st.share_of(t, b) + topic_limit
        });
        let z = st.size[c.p];
        let mut gain = 0.0;
        // The imbalance before minus after, broker by broker: the brokers
        // of one change are distinct, so their terms add up.
        for (&b, delta) in c
            .gone
            .iter()
            .map(|b| (b, -1i64))
            .chain(c.new.iter().map(|b| (b, 1)))
        {
            let bi = b as usize;
            let ideal = if st.target[bi] { st.ideal[bi] } else { 0.0 };
            let count = st.count[bi] as f64;
            gain += far(count - ideal) - far(count + delta as f64 - ideal);
            if objective == Objective::Size {
                let bytes = st.bytes[bi] as f64 / mean_size;
                let moved = (delta * z as i64) as f64 / mean_size;
                let share = bideal[bi] / mean_size;
                gain += far(bytes - share) - far(bytes + moved - share);
            }
            let over = |n: i64| (n - st.share_of(t, b) as i64).max(0) as f64;
            let tc = st.topic_count(t, b) as i64;
            gain += over(tc).powi(2) - over(tc + delta).powi(2);
        }
        let (heal, heal_full) = if full_dest {
            (0.0, healed)
        } else {
            (healed, 0.0)
        };
        Entry {
            heal: heal / cost,
            heal_full: heal_full / cost,
            gain: if full_dest { 0.0 } else { gain / cost },
            bytes: c.bytes,
            round,
            index,
        }
    };
    let mut heap: BinaryHeap<Entry> = changes
        .iter()
        .enumerate()
        .map(|(i, c)| score(st, c, 0, i))
        .collect();
    // Changes worth nothing now wait on their brokers: a score can rise
    // when one of them changes (a full destination sheds).
    let mut parked: Vec<Vec<usize>> = vec![Vec::new(); st.broker_count];
    let mut waiting = vec![false; changes.len()];
    let mut round = 0;
    let mut changed = vec![0u64; st.broker_count];
    while let Some(top) = heap.pop() {
        let c = &changes[top.index];
        if c.brokers().any(|b| changed[*b as usize] > top.round) {
            heap.push(score(st, c, round, top.index));
            continue;
        }
        if !top.worth() {
            waiting[top.index] = true;
            for &b in c.brokers() {
                parked[b as usize].push(top.index);
            }
            continue;
        }
        if !budget.fits(st, c.gone.len() as u64, c.bytes) {
            // Budgets only shrink: it will not fit later either.
            continue;
        }
        apply(st, c);
        round += 1;
        for &b in c.brokers() {
            changed[b as usize] = round;
            for i in std::mem::take(&mut parked[b as usize]) {
                if std::mem::take(&mut waiting[i]) {
                    heap.push(score(st, &changes[i], round, i));
                }
            }
        }
    }
}
