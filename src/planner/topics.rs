//! Phase `topics`: topic repair. Where a broker still holds a topic two or
//! more over its share after the count phases, a replica of it moves to a
//! broker lacking the topic, or is swapped, within the bar's slack.
//!
//! Input: the state after the count phases (and the transport) and where
//! replicas started. Output: fewer (topic, broker) pairs two over the
//! share. Invariant: counts stay in their range and the plan stays within
//! `limit` moves of the start (moves counted net of where replicas
//! started).

use rustc_hash::FxHashMap;

use super::moves::{allowed_racks, topic_class, topic_starts};
use super::replicas::Replicas;
use super::state::{BrokerIx, State, move_cost};

/// Topic repair: where a broker still holds two or more replicas of a
/// topic above its cap (the order of the count moves left no room for
/// them), move one to a broker that lacks the topic while both stay in
/// their count range, or swap it for a replica of a topic the other broker
/// can spare. The plan may end at most `limit` moves from `start`: the
/// count phases already met the bound, so this only spends the slack the
/// bar grants. A replica that already moved is sent on for free (it still
/// moves once), so replicas that moved are tried first.
pub fn repair_topics(st: &mut State, start: &[Replicas], limit: u64) {
    let cost = |p: usize, from: BrokerIx, to: BrokerIx| move_cost(start, p, from, to);
    let mut net = st.net_moves(start) as i64;
    let limit = limit as i64;
    let starts = topic_starts(st);
    let bad = over_the_bar(st, &starts);
    let targets: Vec<BrokerIx> = (0..st.broker_count as BrokerIx)
        .filter(|&b| st.target[b as usize])
        .collect();
    let fixed = Fixed {
        starts: &starts,
        start,
        targets: &targets,
    };
    let mut memo = Memo {
        held: vec![None; st.broker_count],
        came: None,
    };
    for (t, a) in bad {
        while st.topic_count(t, a) > st.topic_cap(t, a) + 1 {
            let need_swap = st.count[a as usize] <= st.floor[a as usize];
            let fits = |(p, b, q): (usize, BrokerIx, Option<usize>)| {
                net + cost(p, a, b) + q.map_or(0, |q| cost(q, b, a)) <= limit
            };
            let spare = limit - net;
            let mut look =
                |st: &State, swap: bool| repair_move(st, &fixed, t, a, swap, spare, &mut memo);
            let found = look(st, need_swap).filter(|&m| fits(m)).or_else(|| {
                (!need_swap)
                    .then(|| look(st, true))
                    .flatten()
                    .filter(|&m| fits(m))
            });
            let Some((p, b, q)) = found else {
                break;
            };
            net += cost(p, a, b);
            memo.apply(st, start, p, a, b);
            if let Some(q) = q {
                net += cost(q, b, a);
                memo.apply(st, start, q, b, a);
            }
        }
    }
}

/// Every (topic, target) pair two or more over the topic's cap, sorted
/// (the pairs come topic by topic, and only the few bad ones are sorted).
fn over_the_bar(st: &State, starts: &[usize]) -> Vec<(u32, BrokerIx)> {
    let mut bad = st.targets_where(starts, |t, b, n| n > st.topic_cap(t, b) + 1);
    bad.sort_unstable();
    bad
}

/// What every look of one repair shares.
struct Fixed<'a> {
    starts: &'a [usize],
    start: &'a [Replicas],
    targets: &'a [BrokerIx],
}

/// What the looks remember between moves; every repair move goes through
/// [`Memo::apply`], which keeps it exact.
struct Memo {
    /// Per broker, the movable replicas its partition list really holds
    /// (the list keeps stale entries, most of it on a large cluster after
    /// the count phases), in list order with their topics: the swap
    /// partner's bounded look reads this instead of the whole list.
    held: Vec<Option<Vec<(u32, u32)>>>,
    /// Replicas on broker `b` (key `b << 16 | a`) that moved there from
    /// `a`, not back on `a`: the only partners whose swap back to `a`
    /// costs a move less. Counted when a look first needs it.
    came: Option<Came>,
}

/// The counts of [`Memo::came`]: a table of every (b, a) pair where it is
/// small (a million on `huge`: hashing each of the 900k moved replicas
/// was a fifth of the phase), else a map.
enum Came {
    Dense { nb: usize, n: Vec<u32> },
    Map(FxHashMap<u32, u32>),
}

/// Pairs of brokers [`Came`] counts in a table.
const CAME_DENSE_MAX: usize = 1 << 22;

impl Came {
    fn new(nb: usize) -> Came {
        if nb * nb <= CAME_DENSE_MAX {
            Came::Dense {
                nb,
                n: vec![0; nb * nb],
            }
        } else {
            Came::Map(FxHashMap::default())
        }
    }

    fn slot(nb: usize, k: u32) -> usize {
        (k >> 16) as usize * nb + (k & 0xffff) as usize
    }

    fn add(&mut self, k: u32) {
        match self {
            Came::Dense { nb, n } => n[Came::slot(*nb, k)] += 1,
            Came::Map(m) => *m.entry(k).or_insert(0) += 1,
        }
    }

    fn sub(&mut self, k: u32) {
        match self {
            Came::Dense { nb, n } => n[Came::slot(*nb, k)] -= 1,
            Came::Map(m) => *m.get_mut(&k).expect("counted") -= 1,
        }
    }

    fn get(&self, k: u32) -> u32 {
        match self {
            Came::Dense { nb, n } => n[Came::slot(*nb, k)],
            Came::Map(m) => m.get(&k).copied().unwrap_or(0),
        }
    }
}

impl Memo {
    fn held(&mut self, st: &State, b: BrokerIx) -> &[(u32, u32)] {
        self.held[b as usize].get_or_insert_with(|| {
            st.partitions_on[b as usize]
                .iter()
                .filter(|&&q| st.movable[q as usize] && st.holds(q as usize, b))
                .map(|&q| (q, st.topic_of[q as usize]))
                .collect()
        })
    }

    fn came(&mut self, st: &State, start: &[Replicas], b: BrokerIx, a: BrokerIx) -> u32 {
        let came = self.came.get_or_insert_with(|| {
            let mut came = Came::new(st.broker_count);
            for p in 0..st.reps.len() {
                came_from(st, start, p, |k| came.add(k));
            }
            came
        });
        came.get(u32::from(b) << 16 | u32::from(a))
    }

    /// Moves `p`'s replica from `a` to `b`, keeping what is remembered.
    fn apply(&mut self, st: &mut State, start: &[Replicas], p: usize, a: BrokerIx, b: BrokerIx) {
        if let Some(came) = &mut self.came {
            came_from(st, start, p, |k| came.sub(k));
        }
        st.apply_move(p, a, b);
        if let Some(came) = &mut self.came {
            came_from(st, start, p, |k| came.add(k));
        }
        if let Some(list) = &mut self.held[a as usize] {
            list.retain(|&(q, _)| q as usize != p);
        }
        if let Some(list) = &mut self.held[b as usize] {
            // The move appended `p` to `b`'s list; an older entry of it,
            // stale until now, holds again in its place: read it anew.
            let on_b = &st.partitions_on[b as usize];
            if on_b[..on_b.len() - 1].contains(&(p as u32)) {
                self.held[b as usize] = None;
            } else if st.movable[p] {
                list.push((p as u32, st.topic_of[p]));
            }
        }
    }
}

/// Calls `f` with `b << 16 | a` for each broker `b` a movable `p` moved
/// to from each broker `a` it left.
fn came_from(st: &State, start: &[Replicas], p: usize, mut f: impl FnMut(u32)) {
    if !st.movable[p] {
        return;
    }
    let (now, was) = (&st.reps[p], &start[p]);
    for &b in now.iter().filter(|b| !was.contains(b)) {
        for &a in was.iter().filter(|a| !now.contains(a)) {
            f(u32::from(b) << 16 | u32::from(a));
        }
    }
}

/// A replica `p` of topic `t` on `a` and a broker `b` to take it, plus,
/// when `a` cannot go below its floor, a replica `q` on `b` to send back.
/// `spare` is what the plan may still add to the moves: a swap that
/// cannot fit in it is not looked for.
fn repair_move(
    st: &State,
    fixed: &Fixed,
    t: u32,
    a: BrokerIx,
    swap: bool,
    spare: i64,
    memo: &mut Memo,
) -> Option<(usize, BrokerIx, Option<usize>)> {
    let (starts, start, targets) = (fixed.starts, fixed.start, fixed.targets);
    let mut dests = Dests {
        st,
        t,
        a,
        swap,
        targets,
        next: 0,
        lacking: Vec::new(),
        rest: None,
    };
    // Replicas that already moved first: sending one on is free.
    let mut best: Option<((bool, u32, BrokerIx), usize)> = None;
    let range = starts[t as usize]..starts[t as usize + 1];
    let on_a = |p: &usize| st.movable[*p] && st.holds(*p, a);
    let stayed = |p: usize| start[p].contains(&a);
    let mut tried = 0;
    for p in range
        .clone()
        .filter(|p| on_a(p) && !stayed(*p))
        .chain(range.filter(|p| on_a(p) && stayed(*p)))
    {
        tried += 1;
        if tried > 8 {
            break;
        }
        let mask = allowed_racks(st, p, a);
        let found = dests.find(|b| {
            let r = st.rack_of(b);
            (r >= 64 || mask & (1 << r) != 0)
                && !st.holds(p, b)
                && (st.nracks <= 64 || st.rack_ok(p, a, b))
        });
        if let Some(key) = found {
            let ranked = (stayed(p), key.0, key.1);
            if best.is_none_or(|(k, _)| ranked < k) {
                best = Some((ranked, p));
            }
            if !swap || Some(key) == dests.first() {
                break;
            }
        }
    }
    let ((_, _, b), p) = best?;
    if !swap {
        return Some((p, b, None));
    }
    // A partner sent back costs at least one move less only if it came
    // from `a`; without one on `b`, no partner fits what is left.
    let left = spare - move_cost(start, p, a, b);
    if left < -1 || (left < 0 && memo.came(st, start, b, a) == 0) {
        return None;
    }
    // Something of another topic that `a` may take without going past
    // the bar, within its cap first, smallest first; a bounded look.
    let ra = st.rack_of(a);
    // Room for the bounded look made at once: grown step by step, the
    // list was reallocated eight times per look.
    let mut partners: Vec<(u64, usize, u32)> = Vec::with_capacity(PARTNERS);
    partners.extend(
        memo.held(st, b)
            .iter()
            .filter(|&&(q, tq)| tq != t && q as usize != p)
            .map(|&(q, tq)| (q as usize, tq))
            .filter(|&(q, _)| !st.holds(q, a))
            .filter(|&(q, _)| {
                let mask = allowed_racks(st, q, b);
                (ra >= 64 || mask & (1 << ra) != 0) && (st.nracks <= 64 || st.rack_ok(q, b, a))
            })
            .take(PARTNERS)
            .map(|(q, tq)| (st.size[q], q, tq)),
    );
    // The least (class, size, partner) of class 0 or 1: smallest first,
    // the first of class 0 wins, else the first of class 1. A class is a
    // look-up in the topic counts that misses the cache; most partners
    // are of class 0, so this looks up a few instead of all of them.
    partners.sort_unstable();
    let mut within = None;
    for &(_, q, tq) in &partners {
        match topic_class(st, tq, a) {
            0 => return Some((p, b, Some(q))),
            1 => within = within.or(Some(q)),
            _ => {}
        }
    }
    within.map(|q| (p, b, Some(q)))
}

/// Swap partners weighed per repair move.
const PARTNERS: usize = 512;

/// The brokers that can take one more of topic `t` from `a` within its
/// cap (`topic_class(st, t, b) == 0`), emptiest first, ties by broker:
/// those lacking the topic in broker order, then the others sorted.
/// Read lazily: a look usually takes one of the first brokers lacking the
/// topic, so the count of `t` on every target is looked up only when the
/// first ones do not fit (it was, on every step: a thousand look-ups and
/// a sort per step on `huge`). Finds what searching the whole sorted
/// list would.
struct Dests<'a> {
    st: &'a State,
    t: u32,
    a: BrokerIx,
    swap: bool,
    targets: &'a [BrokerIx],
    /// How far into `targets` the brokers lacking `t` were looked for.
    next: usize,
    lacking: Vec<BrokerIx>,
    /// The others, `(count of t, broker)` sorted, once every target was
    /// looked at.
    rest: Option<Vec<(u32, BrokerIx)>>,
}

impl Dests<'_> {
    /// `t`'s count on `b` if `b` may take one more of it.
    fn open(&self, b: BrokerIx) -> Option<u32> {
        let st = self.st;
        if b == self.a || !(self.swap || st.count[b as usize] < st.ceiling[b as usize]) {
            return None;
        }
        let n = st.topic_count(self.t, b);
        (n < st.topic_cap(self.t, b)).then_some(n)
    }

    /// The first broker in the order above that `fits`.
    fn find(&mut self, fits: impl Fn(BrokerIx) -> bool) -> Option<(u32, BrokerIx)> {
        if let Some(&b) = self.lacking.iter().find(|&&b| fits(b)) {
            return Some((0, b));
        }
        while let Some(&b) = self.targets.get(self.next) {
            self.next += 1;
            if self.open(b) == Some(0) {
                self.lacking.push(b);
                if fits(b) {
                    return Some((0, b));
                }
            }
        }
        if self.rest.is_none() {
            let mut rest: Vec<(u32, BrokerIx)> = self
                .targets
                .iter()
                .filter_map(|&b| self.open(b).filter(|&n| n > 0).map(|n| (n, b)))
                .collect();
            rest.sort_unstable();
            self.rest = Some(rest);
        }
        self.rest
            .as_ref()
            .and_then(|rest| rest.iter().copied().find(|&(_, b)| fits(b)))
    }

    /// The first broker of the order, as far as it is known after a
    /// [`Self::find`] that found one (which looked at least that far).
    fn first(&self) -> Option<(u32, BrokerIx)> {
        match self.lacking.first() {
            Some(&b) => Some((0, b)),
            None => self.rest.as_ref().and_then(|r| r.first().copied()),
        }
    }
}
