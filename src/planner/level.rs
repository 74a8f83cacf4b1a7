//! Phase `level`. Input: the plan after topic repair and where replicas
//! started. Output: the worst (topic, broker) excess lowered level by
//! level. Invariant: counts stay in range, a level is taken whole or not
//! at all, and the plan stays within the move limit.
//!
//! Topic leveling: where a topic must end two or more over its own share
//! somewhere (one-broker racks that hold a replica of every wide partition
//! leave the other topics too little room there), the worst excess is
//! still worth bringing down: a topic piled on one broker is that broker's
//! load when the topic is hot.
//!
//! The count phases fix how many replicas each broker ends with; what is
//! left free is *which* ones. A replica that already moves may be sent to
//! another broker instead for nothing, so two moved replicas of different
//! topics that trade destinations cost no move and keep every count. Each
//! step takes a (topic, broker) at the worst excess and either trades one
//! of its replicas for one of another topic on a broker where both end
//! below that worst, or moves it alone where both counts stay in range.
//! Trades of moved replicas come first; the rest spend only the bar's
//! slack. Every step lowers the sorted list of excesses, so it ends. A
//! level counts only when every entry at the worst comes down, so where
//! one cannot, that level's steps are undone and leveling stops.

use super::moves::topic_starts;
use super::replicas::Replicas;
use super::state::{BrokerIx, State, move_cost};

/// Replicas of the worst topic weighed per step, brokers they may go to,
/// and replicas per broker weighed to come back (moved ones first).
const PICKS: usize = 16;
const DESTS: usize = 32;
const SCAN: usize = 512;

/// One step: `p` goes from `a` to `b`; with `q`, `q` comes back from `b`.
struct Step {
    p: usize,
    b: BrokerIx,
    q: Option<usize>,
}

/// Lowers the worst topic excess while the plan stays within `limit` moves
/// of `start` (or within what it already moves, if more).
pub fn level_topics(st: &mut State, start: &[Replicas], limit: u64) {
    // Entries two or more over, and every entry a step raises: the only
    // ones that can be the worst (the rest stay below 2).
    let starts = topic_starts(st);
    let mut watch = two_over(st, &starts);
    if watch.is_empty() {
        return;
    }
    let targets: Vec<BrokerIx> = (0..st.broker_count as BrokerIx)
        .filter(|&b| st.target[b as usize])
        .collect();
    let arrived = st.arrivals(start);
    // Every replica that ends where it did not start is one arrival: the
    // net moves without a second pass over the replicas.
    let mut net = arrived.iter().map(Vec::len).sum::<usize>() as i64;
    debug_assert_eq!(net, st.net_moves(start) as i64);
    let limit = (limit as i64).max(net);
    let mut lv = Level {
        singles: st.singles(),
        arrived,
        leader_cap: st.leader_cap(),
        backs: (0..st.broker_count).map(|_| None).collect(),
        excesses: Vec::with_capacity(targets.len()),
    };
    // Each step lowers the sorted excesses, so this bound never binds; it
    // keeps a broken step rule from spinning forever.
    for _ in 0..st.reps.len() * 4 + 1000 {
        watch.sort_unstable();
        watch.dedup();
        let worst = watch
            .iter()
            .map(|&(t, b)| excess(st, t, b))
            .max()
            .unwrap_or(0);
        if worst < 2 {
            return;
        }
        let at_worst: Vec<(u32, BrokerIx)> = watch
            .iter()
            .copied()
            .filter(|&(t, b)| excess(st, t, b) == worst)
            .collect();
        // A level is taken whole or not at all: steps that lower some of
        // the worst entries but not all would spend moves for nothing.
        let marks: Vec<usize> = st.partitions_on.iter().map(Vec::len).collect();
        let counters = (st.moves, st.bytes_moved);
        let mut done: Vec<(usize, BrokerIx, BrokerIx)> = Vec::new();
        let before = net;
        for (t, a) in at_worst {
            if excess(st, t, a) < worst {
                continue;
            }
            let range = starts[t as usize]..starts[t as usize + 1];
            let Some((cost, step)) = lv.best(st, start, &targets, range, t, a, limit - net) else {
                for &(p, from, to) in done.iter().rev() {
                    lv.apply(st, p, to, from);
                }
                for (on, mark) in st.partitions_on.iter_mut().zip(marks) {
                    on.truncate(mark);
                }
                (st.moves, st.bytes_moved) = counters;
                debug_assert_eq!(st.net_moves(start) as i64, before);
                return;
            };
            net += cost;
            lv.apply(st, step.p, a, step.b);
            done.push((step.p, a, step.b));
            watch.push((t, step.b));
            if let Some(q) = step.q {
                lv.apply(st, q, step.b, a);
                done.push((q, step.b, a));
                watch.push((st.topic_of[q], a));
            }
        }
    }
}

/// Every (topic, target) two or more over the topic's share.
fn two_over(st: &State, starts: &[usize]) -> Vec<(u32, BrokerIx)> {
    st.targets_where(starts, |t, b, n| {
        i64::from(n) - i64::from(st.share_of(t, b)) >= 2
    })
}

fn excess(st: &State, t: u32, b: BrokerIx) -> i64 {
    i64::from(st.topic_count(t, b)) - i64::from(st.share_of(t, b))
}

struct Level {
    /// Single-replica partitions per broker: only that broker can lead
    /// them, so a step never takes one past what leader balance allows.
    singles: Vec<u32>,
    /// Partitions whose replica moved to each broker (may be stale).
    arrived: Vec<Vec<u32>>,
    leader_cap: u32,
    /// Per broker, what [`Level::back`] weighs there, once asked; dropped
    /// when a move changes it.
    backs: Vec<Option<Backs>>,
    /// [`Level::best`]'s topic excess per target, kept between looks.
    excesses: Vec<i64>,
}

/// The replicas on one broker that [`Level::back`] weighs (the first
/// `SCAN` live entries of its arrivals and of its partition list, movable
/// ones only), with what it reads of each laid out together. The same
/// brokers are weighed again and again (a small topic's destinations are
/// the first targets lacking it), and reading each candidate's replica
/// lists, topic and movability through the state was a cache miss apiece:
/// most of leveling's time on a 2M-partition plan. A move drops the cache
/// of every broker holding the partition before or after it (its lists,
/// and the replica list copied into the others, change); nothing else
/// changes what is cached while a leveling runs.
struct Backs {
    items: Vec<Back>,
    /// Each item's replicas now, then where its partition started.
    brokers: Vec<BrokerIx>,
}

#[derive(Clone, Copy)]
struct Back {
    q: u32,
    topic: u32,
    at: u32,
    reps: u16,
    start: u16,
}

impl Backs {
    fn of(st: &State, start: &[Replicas], arrived: &[u32], b: BrokerIx) -> Backs {
        let mut out = Backs {
            items: Vec::new(),
            brokers: Vec::new(),
        };
        // Stale entries are skipped before the bounded look, not counted;
        // duplicates are kept (they cannot change a minimum).
        for list in [arrived, &st.partitions_on[b as usize]] {
            let live = list
                .iter()
                .map(|&q| q as usize)
                .filter(|&q| st.holds(q, b))
                .take(SCAN);
            for q in live.filter(|&q| st.movable[q]) {
                out.items.push(Back {
                    q: q as u32,
                    topic: st.topic_of[q],
                    at: out.brokers.len() as u32,
                    reps: st.reps[q].len() as u16,
                    start: start[q].len() as u16,
                });
                out.brokers.extend_from_slice(&st.reps[q]);
                out.brokers.extend_from_slice(&start[q]);
            }
        }
        out
    }
}

/// [`State::rack_ok`] of a partition whose replicas are `reps`.
fn rack_ok_of(st: &State, reps: &[BrokerIx], s: BrokerIx, d: BrokerIx) -> bool {
    if st.rack[d as usize].is_none() || st.k_target <= 1 {
        return true;
    }
    if st.rack[s as usize] == st.rack[d as usize] {
        return true;
    }
    let after = st.spread(reps.iter().map(|&b| if b == s { d } else { b }));
    let need = reps.len().min(st.k_target);
    after >= need || after >= st.spread(reps.iter().copied())
}

impl Level {
    fn apply(&mut self, st: &mut State, p: usize, from: BrokerIx, to: BrokerIx) {
        for &b in &st.reps[p] {
            self.backs[b as usize] = None;
        }
        self.backs[to as usize] = None;
        if st.reps[p].len() == 1 {
            self.singles[from as usize] -= 1;
            self.singles[to as usize] += 1;
        }
        st.apply_move(p, from, to);
        self.arrived[to as usize].push(p as u32);
    }

    /// Whether `to` may take one more single-replica partition (net of
    /// `back`, which leaves it).
    fn leads(&self, st: &State, p: usize, to: BrokerIx, back: Option<usize>) -> bool {
        let single = |p: usize| u32::from(st.reps[p].len() == 1);
        let gain = single(p) as i64 - back.map_or(0, |q| single(q) as i64);
        gain <= 0 || self.singles[to as usize] < self.leader_cap
    }

    /// The cheapest step that takes topic `t` on `a` below the worst
    /// excess with nothing else reaching it, within `room` more moves;
    /// ties go to the step that leaves the touched entries lowest.
    #[allow(clippy::too_many_arguments)]
    fn best(
        &mut self,
        st: &State,
        start: &[Replicas],
        targets: &[BrokerIx],
        range: std::ops::Range<usize>,
        t: u32,
        a: BrokerIx,
        room: i64,
    ) -> Option<(i64, Step)> {
        let bar = excess(st, t, a) - 1;
        st.topic_excesses(t, targets, &mut self.excesses);
        let mut dests: Vec<(i64, BrokerIx)> = targets
            .iter()
            .zip(&self.excesses)
            .filter(|&(&b, _)| b != a)
            .map(|(&b, &x)| (x, b))
            .filter(|&(x, _)| x < bar)
            .collect();
        debug_assert!(dests.iter().all(|&(x, b)| x == excess(st, t, b)));
        dests.sort_unstable();
        dests.truncate(DESTS);
        // The replica each destination would send back: cheapest, then
        // leaving its topic lowest on `a`.
        let backs: Vec<Option<(i64, i64, usize)>> = dests
            .iter()
            .map(|&(_, b)| self.back(st, start, t, a, b, bar))
            .collect();
        let arrived = |p: &usize| !start[*p].contains(&a);
        let on_a = |p: &usize| st.movable[*p] && st.holds(*p, a);
        let picks = range
            .clone()
            .filter(|p| on_a(p) && arrived(p))
            .chain(range.filter(|p| on_a(p) && !arrived(p)))
            .take(PICKS);
        let mut best: Option<((i64, i64, usize, usize), Step)> = None;
        let mut consider = |key: (i64, i64, usize, usize), step: Step| {
            if key.0 <= room && best.as_ref().is_none_or(|(k, _)| key < *k) {
                best = Some((key, step));
            }
        };
        for p in picks {
            for (&(x, b), back) in dests.iter().zip(&backs) {
                if st.holds(p, b) || !st.rack_ok(p, a, b) {
                    continue;
                }
                let go = move_cost(start, p, a, b);
                let (ia, ib) = (a as usize, b as usize);
                if st.count[ia] > st.floor[ia]
                    && st.count[ib] < st.ceiling[ib]
                    && self.leads(st, p, b, None)
                {
                    consider((go, x + 1, p, usize::MAX), Step { p, b, q: None });
                }
                if let Some((back_cost, y, q)) = *back
                    && self.leads(st, p, b, Some(q))
                    && self.leads(st, q, a, Some(p))
                {
                    let key = (go + back_cost, (x + 1).max(y + 1), p, q);
                    consider(key, Step { p, b, q: Some(q) });
                }
            }
        }
        best.map(|((c, ..), step)| (c, step))
    }

    /// A replica on `b` of another topic that may go to `a` with its topic
    /// there staying below `bar`: (moves it costs, its topic's excess on
    /// `a` now, partition). Replicas that moved to `b` come first.
    fn back(
        &mut self,
        st: &State,
        start: &[Replicas],
        t: u32,
        a: BrokerIx,
        b: BrokerIx,
        bar: i64,
    ) -> Option<(i64, i64, usize)> {
        let arrived = &self.arrived[b as usize];
        let backs = self.backs[b as usize].get_or_insert_with(|| Backs::of(st, start, arrived, b));
        let mut best: Option<(i64, i64, usize)> = None;
        for c in &backs.items {
            if c.topic == t {
                continue;
            }
            let q = c.q as usize;
            let (at, n) = (c.at as usize, c.reps as usize);
            let reps = &backs.brokers[at..at + n];
            let started = &backs.brokers[at + n..at + n + c.start as usize];
            debug_assert!(reps == &st.reps[q][..] && started == &start[q][..]);
            if reps.contains(&a) || !rack_ok_of(st, reps, b, a) {
                continue;
            }
            debug_assert_eq!(rack_ok_of(st, reps, b, a), st.rack_ok(q, b, a));
            let cost = i64::from(!started.contains(&a)) - i64::from(!started.contains(&b));
            debug_assert_eq!(cost, move_cost(start, q, b, a));
            // The topic count is the one read left that misses the cache:
            // only where the move cost can still win.
            if best.is_some_and(|(least, ..)| cost > least) {
                continue;
            }
            let key = (cost, excess(st, c.topic, a), q);
            if key.1 < bar && best.is_none_or(|k| key < k) {
                best = Some(key);
            }
        }
        best
    }
}
