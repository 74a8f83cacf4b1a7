//! Count balance: every target broker ends in `lo..=hi` replicas with the
//! fewest moves, and the moves are chosen so topics spread evenly too.
//!
//! The fewest moves is `max(surplus, deficit)`: what sits above the
//! ceilings must leave, what is missing below the floors must arrive. A plan
//! reaches it when every move takes a replica from a broker above its range
//! (or above its floor, to fill a deficit) to one below its floor (or below
//! its ceiling once no floor is short). So the brokers are fixed here and
//! the freedom is in *which* replica goes *where*: each move takes, from the
//! source, a replica of a topic the source holds too much of and gives it to
//! an open broker that holds too little of that topic. Per-topic balance
//! then comes almost free: growth leaves old brokers with too much of the
//! old topics, and that is exactly their count surplus.
//!
//! Racks only narrow where a replica may go (see [`allowed_racks`]); within
//! its own rack a replica can always move. So rack totals are settled
//! first (`balance_racks`): a rack above its range sends the replicas that
//! may leave it, from its fullest brokers (one at its quota gets a
//! same-rack replica back later: the detour racks force, which the
//! referee's flow bound counts too), and when no such replica reaches a
//! rack with room, one goes to the first rack of a path of racks that ends
//! in one. After that the broker phases mostly stay within racks; a rack
//! may drift below its range by a replica per broker when that lets a
//! topic reach a broker lacking it, and is refilled first.
//!
//! Topic shares are consistent with the brokers' quotas (see
//! `State::compute_quotas`): on uneven racks a small rack's brokers carry
//! more of the partitions that span every rack, so they get less of the
//! rest.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::balance::{Steer, byte_ideals};
use super::state::{B, State, move_cost};

/// Candidate replicas a fallback scan weighs, when no perfect move exists.
const FALLBACK_SCAN: usize = 512;

/// A destination's rank: lower is better.
/// `class`: 0 below its floor, 1 below its ceiling, 2 at or above it.
/// `topic`: how far over its cap the topic ends there (0 within it).
type DestKey = (u8, u32);

/// A candidate for `fill_one`: source class, topic over cap at the
/// destination, minus the topic's excess at the source, tie.
type FillKey = (u8, u32, i64, i64);

/// Racks `p`'s replica on `s` may move to without making the partition
/// span fewer racks than it must: any rack the other replicas do not use,
/// its own, and the others' racks only when they already span enough.
/// All ones when racks do not matter.
pub fn allowed_racks(st: &State, p: usize, s: B) -> u64 {
    if st.rack[s as usize].is_none() || st.k_target <= 1 || st.nracks > 64 {
        return !0;
    }
    let reps = &st.reps[p];
    let mut others = 0u64;
    for &b in reps {
        if b != s {
            others |= 1 << st.rack_of(b);
        }
    }
    let own = 1u64 << st.rack_of(s);
    let need = reps.len().min(st.k_target) as u32;
    let n_o = others.count_ones();
    let mut mask = !others | own;
    if n_o >= need || others & own != 0 {
        mask |= others;
    }
    mask
}

/// Shared bookkeeping of the count phases.
struct Ctx {
    /// Target brokers per rack.
    by_rack: Vec<Vec<B>>,
    /// Rotating start per rack, so equal destinations fill evenly.
    rot: Vec<usize>,
    /// Replicas on target brokers per rack, and the rack's quota range.
    rack_count: Vec<i64>,
    rack_lo: Vec<i64>,
    rack_hi: Vec<i64>,
    /// Source brokers' replicas by topic, built when first needed in a
    /// phase.
    views: Vec<Option<View>>,
    /// Some partition spans every rack, so some replicas can never leave
    /// their rack.
    bound_to_racks: bool,
    /// Whether rack totals may drift (see `rack_order`); off in the
    /// settling pass.
    drift: bool,
    /// The perfect pass only takes topics at least this far over their cap
    /// at the source; above 1 it is the only pass.
    min_excess: i64,
    /// Moves above the bound still allowed for topic balance.
    allowance: u64,
    bideal: Vec<f64>,
}

impl Ctx {
    fn new(st: &State) -> Ctx {
        let nr = st.nracks;
        let mut by_rack = vec![Vec::new(); nr];
        let (mut rc, mut rl, mut rh) = (vec![0; nr], vec![0; nr], vec![0; nr]);
        for b in 0..st.nb {
            if st.target[b] {
                let r = st.rack_of(b as B) as usize;
                by_rack[r].push(b as B);
                rc[r] += st.count[b] as i64;
                rl[r] += st.lo[b] as i64;
                rh[r] += st.hi[b] as i64;
            }
        }
        Ctx {
            by_rack,
            rot: vec![0; nr],
            rack_count: rc,
            rack_lo: rl,
            rack_hi: rh,
            views: (0..st.nb).map(|_| None).collect(),
            bound_to_racks: st.k_target > 1 && st.reps.iter().any(|r| r.len() >= st.k_target),
            drift: true,
            min_excess: 1,
            allowance: 0,
            bideal: byte_ideals(st),
        }
    }

    fn reset_scans(&mut self) {
        self.views.iter_mut().for_each(|v| *v = None);
    }

    fn apply(&mut self, st: &mut State, p: usize, s: B, d: B) {
        if st.target[s as usize] {
            self.rack_count[st.rack_of(s) as usize] -= 1;
        }
        let rd = st.rack_of(d) as usize;
        self.rack_count[rd] += 1;
        self.rot[rd] = self.rot[rd].wrapping_add(1);
        st.apply_move(p, s, d);
    }

    /// Racks a replica leaving broker `s` may go to, in the order to try
    /// them: racks short of their floor, then its own rack (where every
    /// replica may go, leaving cross-rack room to those that need it), then
    /// the rest. A rack's total may drift below its floor by one replica
    /// per broker: a cross-rack move that lets a topic go where it is
    /// lacking is soon matched by one the other way (short racks come
    /// first), both from a broker above its range to one below, so it
    /// costs nothing. Above its ceiling too, unless some partitions have a
    /// replica in every rack: a rack whose replicas are bound to it may be
    /// unable to send a surplus back. A source outside the targets may send
    /// anywhere.
    fn rack_order(&self, st: &State, s: B) -> Vec<u16> {
        let nr = self.by_rack.len() as u16;
        let a = st.rack_of(s);
        let drift = |r: u16| self.drift as i64 * self.by_rack[r as usize].len() as i64;
        let short = |r: u16| self.rack_count[r as usize] < self.rack_lo[r as usize];
        let up = |r: u16| if self.bound_to_racks { 0 } else { drift(r) };
        let room = |r: u16| self.rack_count[r as usize] < self.rack_hi[r as usize] + up(r);
        let home = st.target[s as usize];
        let leave = !home || self.rack_count[a as usize] > self.rack_lo[a as usize] - drift(a);
        let mut order: Vec<u16> = Vec::with_capacity(nr as usize);
        if leave {
            order.extend((0..nr).filter(|&r| (r != a || !home) && short(r)));
        }
        if home {
            order.push(a);
        }
        if leave {
            order.extend((0..nr).filter(|&r| (r != a || !home) && !short(r) && room(r)));
            if !home && !room(a) {
                order.push(a);
            }
        }
        order
    }

    /// Racks other than `a` that have room, short ones first.
    fn export_order(&self, a: u16) -> Vec<u16> {
        let nr = self.by_rack.len() as u16;
        let short = |r: u16| self.rack_count[r as usize] < self.rack_lo[r as usize];
        let room = |r: u16| self.rack_count[r as usize] < self.rack_hi[r as usize];
        let mut order: Vec<u16> = (0..nr).filter(|&r| r != a && short(r)).collect();
        order.extend((0..nr).filter(|&r| r != a && !short(r) && room(r)));
        order
    }
}

fn class(st: &State, d: B) -> u8 {
    let di = d as usize;
    if st.count[di] < st.lo[di] {
        0
    } else if st.count[di] < st.hi[di] {
        1
    } else {
        2
    }
}

fn topic_class(st: &State, t: u32, d: B) -> u32 {
    (st.tc(t, d) + 1).saturating_sub(st.cap(t, d))
}

/// The best open broker for `p`'s replica on `s`, of class at most
/// `max_class`. Returns at once on a perfect one (below its floor, topic
/// within cap), trying racks in `order`.
fn find_dest(
    st: &State,
    cx: &Ctx,
    p: usize,
    s: B,
    max_class: u8,
    order: &[u16],
) -> Option<(DestKey, B)> {
    let t = st.topic_of[p];
    let mask = allowed_racks(st, p, s);
    let exact = st.nracks > 64;
    // Among equals, the broker holding the least of the topic: it spreads
    // each topic over all open brokers instead of filling the first ones
    // up to the cap, so late topics still find room.
    let mut best: Option<((u8, u32, u32), B)> = None;
    for &r in order {
        if r < 64 && mask & (1 << r) == 0 {
            continue;
        }
        let list = &cx.by_rack[r as usize];
        let n = list.len();
        if n == 0 {
            continue;
        }
        let start = cx.rot[r as usize] % n;
        for i in 0..n {
            let d = list[(start + i) % n];
            if d == s {
                continue;
            }
            let c = class(st, d);
            if c > max_class || best.is_some_and(|(k, _)| k.0 < c) {
                continue;
            }
            if st.holds(p, d) || exact && !st.rack_ok(p, s, d) {
                continue;
            }
            let held = st.tc(t, d);
            let key = (c, (held + 1).saturating_sub(st.cap(t, d)), held);
            if key == (0, 0, 0) {
                return Some(((0, 0), d));
            }
            if best.is_none_or(|(k, _)| key < k) {
                best = Some((key, d));
            }
        }
    }
    best.map(|((c, over, _), d)| ((c, over), d))
}

/// How much further from their byte ideals `s` and `d` end up when `z`
/// bytes move from `s` to `d` (lower is better).
fn byte_gap(st: &State, bideal: &[f64], s: B, d: B, z: u64) -> i64 {
    let (si, di) = (s as usize, d as usize);
    let (bs, bd) = (st.bytes[si] as f64, st.bytes[di] as f64);
    let before = (bs - bideal[si]).abs() + (bd - bideal[di]).abs();
    let after = (bs - z as f64 - bideal[si]).abs() + (bd + z as f64 - bideal[di]).abs();
    (after - before) as i64
}

/// A source broker's replicas grouped by topic, smallest first within a
/// topic, with the topics ranked by how far `s` holds more than its cap.
struct View {
    groups: Vec<(u32, Vec<u32>)>,
    /// (excess when pushed, group); stale keys are refreshed on pop.
    heap: BinaryHeap<(i64, Reverse<u32>)>,
    /// Where the fallback scan resumes.
    rot: usize,
}

impl View {
    fn build(st: &State, s: B) -> View {
        let mut parts: Vec<u32> = st.on[s as usize]
            .iter()
            .copied()
            .filter(|&p| st.holds(p as usize, s) && st.movable[p as usize])
            .collect();
        parts.sort_unstable_by_key(|&p| (st.topic_of[p as usize], st.size[p as usize], p));
        parts.dedup();
        let mut groups: Vec<(u32, Vec<u32>)> = Vec::new();
        for p in parts {
            let t = st.topic_of[p as usize];
            match groups.last_mut() {
                Some((gt, g)) if *gt == t => g.push(p),
                _ => groups.push((t, vec![p])),
            }
        }
        let heap = groups
            .iter()
            .enumerate()
            .map(|(g, (t, _))| (excess(st, *t, s), Reverse(g as u32)))
            .filter(|&(e, _)| e > 0)
            .collect();
        View {
            groups,
            heap,
            rot: 0,
        }
    }
}

/// How many more replicas of topic `t` broker `s` holds than its cap.
fn excess(st: &State, t: u32, s: B) -> i64 {
    st.tc(t, s) as i64 - st.cap(t, s) as i64
}

/// Moves one replica off `s` to the best open broker (class at most
/// `max_class`) among racks in `order`. A perfect move takes a replica of
/// the topic `s` holds most too much of to a broker below its floor that
/// lacks the topic; smallest first within the topic. Without one, the best
/// single replica per topic is weighed: destination, then how much of its
/// topic `s` holds, then size. Returns whether a move was made.
fn shed_one(
    st: &mut State,
    cx: &mut Ctx,
    steer: Steer,
    s: B,
    max_class: u8,
    order: &[u16],
) -> bool {
    let si = s as usize;
    let mut view = cx.views[si].take().unwrap_or_else(|| View::build(st, s));
    let found = pick_perfect(st, cx, &mut view, steer, s, order).or_else(|| {
        (cx.min_excess <= 1)
            .then(|| pick_fallback(st, cx, &mut view, steer, s, max_class, order))
            .flatten()
    });
    cx.views[si] = Some(view);
    match found {
        Some((p, d)) => {
            if class(st, d) == 2 {
                cx.allowance = cx.allowance.saturating_sub(1);
            }
            cx.apply(st, p, s, d);
            true
        }
        None => false,
    }
}

#[allow(clippy::too_many_arguments)]
fn pick_perfect(
    st: &State,
    cx: &Ctx,
    view: &mut View,
    steer: Steer,
    s: B,
    order: &[u16],
) -> Option<(usize, B)> {
    while let Some(&(e, Reverse(g))) = view.heap.peek() {
        if e < cx.min_excess {
            break;
        }
        view.heap.pop();
        let (t, parts) = &view.groups[g as usize];
        let now = excess(st, *t, s);
        if now <= 0 {
            continue;
        }
        if now < e {
            view.heap.push((now, Reverse(g)));
            continue;
        }
        let mut best: Option<(i64, usize, B)> = None;
        let mut tried = 0;
        for &p in parts {
            let p = p as usize;
            if !st.holds(p, s) {
                continue;
            }
            tried += 1;
            // A topic above the bar at `s` (two over its cap) may go where
            // it ends one over: that is within the bar on both sides.
            let fits = |over: u32| over == 0 || over == 1 && now >= 2;
            if let Some(((0, over), d)) = find_dest(st, cx, p, s, 0, order)
                && fits(over)
            {
                let tie = match steer {
                    Steer::Count => 0,
                    Steer::Size => byte_gap(st, &cx.bideal, s, d, st.size[p]),
                };
                if best.is_none_or(|(k, _, _)| tie < k) {
                    best = Some((tie, p, d));
                }
                if steer == Steer::Count || tried >= 16 {
                    break;
                }
            }
            if tried >= 16 && best.is_none() {
                break;
            }
        }
        if best.is_none() && now >= 2 && cx.allowance > 0 {
            // Above the bar and no open broker lacks the topic: give it to
            // one that does even though it is full; it sheds one more
            // later, a move above the bound paid from the allowance.
            best = parts
                .iter()
                .map(|&p| p as usize)
                .filter(|&p| st.holds(p, s))
                .take(4)
                .find_map(|p| find_home(st, cx, p, s, order).map(|d| (0, p, d)));
        }
        if let Some((_, p, d)) = best {
            view.heap.push((now - 1, Reverse(g)));
            return Some((p, d));
        }
        // No perfect home for this topic now; open brokers only fill up
        // during a phase, so it stays out of the perfect pass.
    }
    None
}

#[allow(clippy::too_many_arguments)]
fn pick_fallback(
    st: &State,
    cx: &Ctx,
    view: &mut View,
    steer: Steer,
    s: B,
    max_class: u8,
    order: &[u16],
) -> Option<(usize, B)> {
    let n = view.groups.len();
    // (destination, -excess at the source, tie)
    let mut best: Option<((DestKey, i64, i64), usize, B)> = None;
    let mut weighed = 0;
    for k in 0..n {
        let (t, parts) = &view.groups[(view.rot + k) % n];
        // The smallest replica of the topic that has somewhere to go.
        let Some((p, (dk, d))) = parts
            .iter()
            .map(|&p| p as usize)
            .filter(|&p| st.holds(p, s))
            .find_map(|p| find_dest(st, cx, p, s, max_class, order).map(|x| (p, x)))
        else {
            continue;
        };
        let tie = match steer {
            Steer::Count => st.size[p] as i64,
            Steer::Size => byte_gap(st, &cx.bideal, s, d, st.size[p]),
        };
        let key = (dk, -excess(st, *t, s), tie);
        if best.is_none_or(|(bk, _, _)| key < bk) {
            best = Some((key, p, d));
        }
        weighed += 1;
        // No topic of `s` is in excess with a home (the perfect pass came
        // first), so a move that keeps its topic within cap is as good as
        // any: take the first under the count steer.
        if weighed >= FALLBACK_SCAN || dk == (0, 0) && (steer == Steer::Count || weighed >= 64) {
            break;
        }
    }
    view.rot = (view.rot + weighed.max(1)) % n.max(1);
    best.map(|(_, p, d)| (p, d))
}

/// Moves every movable replica off brokers outside the target set, each to
/// the best open target (below its floor first, the topic within cap).
/// Where that would put a topic two or more over its share, it goes to a
/// target that lacks the topic instead, even one at its quota, which then
/// sheds one more later: one move above the bound, paid from `allowance`.
/// With `reserve`, rack room is kept for the replicas still to come that
/// may go to fewer racks (see [`RackHall`]), so no rack overfills and
/// needs a detour later.
/// A replica with no rack-safe target stays (see [`State::stranded`]).
pub fn drain(st: &mut State, allowance: &mut u64, reserve: bool) {
    let mut cx = Ctx::new(st);
    for s in 0..st.nb as B {
        if st.target[s as usize] {
            continue;
        }
        let list = std::mem::take(&mut st.on[s as usize]);
        let mut hall = if reserve {
            RackHall::new(st, &cx, s, &list)
        } else {
            None
        };
        for &p in &list {
            let p = p as usize;
            if !st.holds(p, s) || !st.movable[p] {
                continue;
            }
            if let Some(h) = hall.as_mut() {
                h.wait(allowed_racks(st, p, s), -1);
            }
            // Rack totals change with every replica placed. A rack with no
            // room left takes only replicas that can go nowhere else: any
            // other would have to leave it again.
            let order = cx.rack_order(st, s);
            let mut roomy: Vec<u16> = order
                .iter()
                .copied()
                .filter(|&r| cx.rack_count[r as usize] < cx.rack_hi[r as usize])
                .collect();
            // Leave room for the replicas still to come that can go to
            // fewer racks, while that is possible.
            if let Some(h) = &hall {
                let safe: Vec<u16> = roomy.iter().copied().filter(|&r| h.safe(r)).collect();
                if !safe.is_empty() {
                    roomy = safe;
                }
            }
            let full: Vec<u16> = (0..cx.by_rack.len() as u16)
                .filter(|r| !roomy.contains(r))
                .collect();
            let found =
                find_dest(st, &cx, p, s, 2, &roomy).or_else(|| find_dest(st, &cx, p, s, 2, &full));
            let Some(((_, over), mut d)) = found else {
                continue;
            };
            if over >= 2 && *allowance > 0 {
                // In the same rack: rack totals must not need extra moves.
                if let Some(home) = find_home(st, &cx, p, s, &[st.rack_of(d)]) {
                    if class(st, home) == 2 {
                        *allowance -= 1;
                    }
                    d = home;
                }
            }
            let rd = st.rack_of(d);
            if let Some(h) = hall.as_mut()
                && cx.rack_count[rd as usize] < cx.rack_hi[rd as usize]
            {
                h.place(rd);
            }
            cx.apply(st, p, s, d);
        }
        st.on[s as usize] = list;
    }
}

/// Hall's condition for the replicas a drained broker still has to place:
/// for every set of target racks, the replicas that may only go to racks
/// in the set fit in the room those racks have below their ceilings. A
/// rack is safe for the next replica while placing it there keeps that
/// true, so replicas free to go anywhere do not take the room of those
/// bound to a few racks (which would then overfill a rack, one extra move
/// each). Kept per subset of target racks, so only for a few racks.
struct RackHall {
    /// Compact bit of each rack (`None` for racks without targets).
    bit: Vec<Option<u32>>,
    /// Per subset of target racks: replicas still to place whose allowed
    /// racks lie within it, minus the room of its racks.
    need: Vec<i64>,
}

/// Above this many target racks the drain does not reserve rack room.
const HALL_MAX_RACKS: usize = 8;

impl RackHall {
    fn new(st: &State, cx: &Ctx, s: B, list: &[u32]) -> Option<RackHall> {
        let racks: Vec<usize> = (0..cx.by_rack.len())
            .filter(|&r| !cx.by_rack[r].is_empty())
            .collect();
        if racks.len() < 2 || racks.len() > HALL_MAX_RACKS || st.nracks > 64 || st.k_target <= 1 {
            return None;
        }
        let mut bit = vec![None; cx.by_rack.len()];
        for (i, &r) in racks.iter().enumerate() {
            bit[r] = Some(i as u32);
        }
        let mut h = RackHall {
            bit,
            need: vec![0; 1 << racks.len()],
        };
        for (i, &r) in racks.iter().enumerate() {
            // A rack already above its ceiling sheds later; it has no room.
            let room = (cx.rack_hi[r] - cx.rack_count[r]).max(0);
            h.add_sup(1 << i, -room);
        }
        for &p in list {
            let p = p as usize;
            if st.holds(p, s) && st.movable[p] {
                h.wait(allowed_racks(st, p, s), 1);
            }
        }
        Some(h)
    }

    fn compact(&self, mask: u64) -> usize {
        let mut m = 0;
        for (r, b) in self.bit.iter().enumerate() {
            if let Some(b) = b
                && r < 64
                && mask & (1 << r) != 0
            {
                m |= 1 << b;
            }
        }
        m
    }

    /// Adds `v` to every subset containing `m`.
    fn add_sup(&mut self, m: usize, v: i64) {
        let full = self.need.len() - 1;
        let rest = full & !m;
        let mut x = rest;
        loop {
            self.need[m | x] += v;
            if x == 0 {
                break;
            }
            x = (x - 1) & rest;
        }
    }

    /// Counts a replica allowed on `mask` as waiting (`v` 1) or no longer
    /// (`v` -1); one allowed on no target rack cannot be placed anyway.
    fn wait(&mut self, mask: u64, v: i64) {
        let m = self.compact(mask);
        if m != 0 {
            self.add_sup(m, v);
        }
    }

    fn safe(&self, r: u16) -> bool {
        let Some(b) = self.bit.get(r as usize).copied().flatten() else {
            return true;
        };
        let one = 1usize << b;
        (0..self.need.len())
            .filter(|&x| x & one != 0)
            .all(|x| self.need[x] < 0)
    }

    fn place(&mut self, r: u16) {
        if let Some(b) = self.bit.get(r as usize).copied().flatten() {
            self.add_sup(1 << b, 1);
        }
    }
}

/// The target with the least load class among those where `p`'s topic
/// stays within its cap, whatever their count.
fn find_home(st: &State, cx: &Ctx, p: usize, s: B, order: &[u16]) -> Option<B> {
    let t = st.topic_of[p];
    let mask = allowed_racks(st, p, s);
    let mut best: Option<((u8, i64, u32), B)> = None;
    for &r in order {
        if r < 64 && mask & (1 << r) == 0 {
            continue;
        }
        for &d in &cx.by_rack[r as usize] {
            if d == s || st.holds(p, d) || st.nracks > 64 && !st.rack_ok(p, s, d) {
                continue;
            }
            if topic_class(st, t, d) > 0 {
                continue;
            }
            let di = d as usize;
            let key = (
                class(st, d),
                st.count[di] as i64 - st.hi[di] as i64,
                st.tc(t, d),
            );
            if best.is_none_or(|(k, _)| key < k) {
                best = Some((key, d));
            }
        }
    }
    best.map(|(_, d)| d)
}

/// Evens out replica counts: every target ends within its quota range
/// unless racks forbid it.
pub fn balance(st: &mut State, steer: Steer, allowance: u64) {
    let mut allowance = relieve_receivers(st, allowance);
    // Further rounds, with rack totals held in range, settle what the
    // drift of the first left over.
    for drift in [true, false, false] {
        if !balance_once(st, steer, drift, &mut allowance) {
            return;
        }
    }
}

fn in_range(st: &State) -> bool {
    (0..st.nb).all(|b| !st.target[b] || (st.lo[b]..=st.hi[b]).contains(&st.count[b]))
}

/// One pass of the count phases; false when nothing is left to do.
fn balance_once(st: &mut State, steer: Steer, drift: bool, allowance: &mut u64) -> bool {
    if in_range(st) {
        return false;
    }
    let mut cx = Ctx::new(st);
    cx.drift = drift;
    cx.allowance = *allowance;
    let targets: Vec<B> = (0..st.nb as B).filter(|&b| st.target[b as usize]).collect();
    if st.nracks > 1 && st.k_target > 1 {
        balance_racks(st, &mut cx, steer);
    }
    cx.reset_scans();
    // Brokers above their ceiling shed, one move each per round so the
    // open brokers are shared fairly. Topics two or more over their cap
    // (beyond the bar) go first everywhere, before the room they need is
    // taken by topics only one over.
    for min_excess in [2, 1] {
        cx.min_excess = min_excess;
        shed_rounds(st, &mut cx, steer, &targets);
    }
    // Brokers below their floor take replicas from brokers above theirs.
    let mut stuck = vec![false; st.nb];
    loop {
        let mut sinks: Vec<B> = targets
            .iter()
            .copied()
            .filter(|&b| !stuck[b as usize] && st.count[b as usize] < st.lo[b as usize])
            .collect();
        if sinks.is_empty() {
            break;
        }
        sinks.sort_by_key(|&b| (Reverse(st.lo[b as usize] - st.count[b as usize]), b));
        let mut moved = false;
        for d in sinks {
            if st.count[d as usize] >= st.lo[d as usize] {
                continue;
            }
            let rd = st.rack_of(d) as usize;
            let sources: Vec<B> = targets
                .iter()
                .copied()
                .filter(|&s| {
                    let r = st.rack_of(s) as usize;
                    s != d
                        && st.count[s as usize] > st.lo[s as usize]
                        && (r == rd
                            || cx.rack_count[r] > cx.rack_lo[r]
                                && cx.rack_count[rd] < cx.rack_hi[rd])
                })
                .collect();
            if fill_one(st, &mut cx, steer, d, sources) {
                moved = true;
            } else {
                stuck[d as usize] = true;
            }
        }
        if !moved {
            break;
        }
    }
    *allowance = cx.allowance;
    true
}

/// Rounds of one shedding move per broker above its ceiling, until none
/// can move.
fn shed_rounds(st: &mut State, cx: &mut Ctx, steer: Steer, targets: &[B]) {
    let mut stuck = vec![false; st.nb];
    loop {
        let mut sources: Vec<B> = targets
            .iter()
            .copied()
            .filter(|&b| !stuck[b as usize] && st.count[b as usize] > st.hi[b as usize])
            .collect();
        if sources.is_empty() {
            return;
        }
        sources.sort_by_key(|&b| (Reverse(st.count[b as usize] - st.hi[b as usize]), b));
        let mut moved = false;
        for s in sources {
            if st.count[s as usize] <= st.hi[s as usize] {
                continue;
            }
            let order = cx.rack_order(st, s);
            if shed_one(st, cx, steer, s, 1, &order) {
                moved = true;
            } else {
                stuck[s as usize] = true;
            }
        }
        if !moved {
            return;
        }
    }
}

/// Brings every rack's total into its range first, so that the broker
/// phases can stay within racks. A rack above its range sends replicas
/// that may leave it (from its fullest brokers; one that is not above its
/// own ceiling gets a same-rack replica back later, the detour racks
/// force), and a rack below its range takes them.
fn balance_racks(st: &mut State, cx: &mut Ctx, steer: Steer) {
    let nr = cx.by_rack.len();
    // Which racks can send some replica to which: rebuilt only when a
    // detour is needed, since it costs a pass over every replica.
    let mut reach: Option<Vec<Vec<bool>>> = None;
    let mut stuck = vec![false; nr];
    while let Some(r) = (0..nr)
        .filter(|&r| !stuck[r] && cx.rack_count[r] > cx.rack_hi[r])
        .max_by_key(|&r| (cx.rack_count[r] - cx.rack_hi[r], Reverse(r)))
    {
        // From brokers above their ceiling first, directly or through a
        // chain of racks; only then from one within its range, which must
        // get a replica back later: the detour racks force.
        let mut moved = false;
        'ways: for over_only in [true, false] {
            if export_from(st, cx, steer, r, &cx.export_order(r as u16), 1, over_only) {
                moved = true;
                break;
            }
            // No replica reaches a rack with room: pass one on to the
            // first rack of a path of racks that ends in one with room.
            for fresh in [false, true] {
                if fresh || reach.is_none() {
                    reach = Some(rack_reach(st));
                }
                let room: Vec<bool> = (0..nr).map(|x| cx.rack_count[x] < cx.rack_hi[x]).collect();
                if let Some(hop) = first_hop(reach.as_ref().expect("built"), r, &room)
                    && export_from(st, cx, steer, r, &[hop as u16], 2, over_only)
                {
                    moved = true;
                    break 'ways;
                }
            }
        }
        if !moved {
            stuck[r] = true;
        }
    }
    let mut stuck = vec![false; nr];
    while let Some(r) = (0..nr)
        .filter(|&r| !stuck[r] && cx.rack_count[r] < cx.rack_lo[r])
        .max_by_key(|&r| (cx.rack_lo[r] - cx.rack_count[r], Reverse(r)))
    {
        let Some(&d) = cx.by_rack[r].iter().max_by_key(|&&b| {
            let bi = b as usize;
            (st.hi[bi] as i64 - st.count[bi] as i64, Reverse(b))
        }) else {
            stuck[r] = true;
            continue;
        };
        let spare_v: Vec<bool> = (0..nr).map(|x| cx.rack_count[x] > cx.rack_lo[x]).collect();
        let sources = rack_sources(st, r, &spare_v);
        if fill_one(st, cx, steer, d, sources) {
            continue;
        }
        // Take from a rack at its floor that a rack with spare can refill.
        let mut moved = false;
        for fresh in [false, true] {
            if fresh || reach.is_none() {
                reach = Some(rack_reach(st));
            }
            let rc = reach.as_ref().expect("built");
            // Reverse the edges: search from r back to a rack with spare.
            let back: Vec<Vec<bool>> = (0..nr)
                .map(|a| (0..nr).map(|b| rc[b][a]).collect())
                .collect();
            if let Some(hop) = first_hop(&back, r, &spare_v) {
                let only: Vec<bool> = (0..nr).map(|x| x == hop).collect();
                let sources = rack_sources(st, r, &only);
                if fill_one(st, cx, steer, d, sources) {
                    moved = true;
                    break;
                }
            }
        }
        if !moved {
            stuck[r] = true;
        }
    }
}

/// Targets holding replicas on racks other than `r` marked in `racks`.
fn rack_sources(st: &State, r: usize, racks: &[bool]) -> Vec<B> {
    (0..st.nb as B)
        .filter(|&s| {
            let rs = st.rack_of(s) as usize;
            st.target[s as usize] && rs != r && racks[rs] && st.count[s as usize] > 0
        })
        .collect()
}

/// One export from rack `r` to one of the racks in `order`, from its
/// fullest brokers first (only those above their ceiling with `over_only`).
#[allow(clippy::too_many_arguments)]
fn export_from(
    st: &mut State,
    cx: &mut Ctx,
    steer: Steer,
    r: usize,
    order: &[u16],
    max_class: u8,
    over_only: bool,
) -> bool {
    if order.is_empty() {
        return false;
    }
    let mut sources: Vec<B> = cx.by_rack[r]
        .iter()
        .copied()
        .filter(|&b| !over_only || st.count[b as usize] > st.hi[b as usize])
        .collect();
    sources.sort_by_key(|&b| {
        let bi = b as usize;
        (
            Reverse(st.count[bi] as i64 - st.hi[bi] as i64),
            Reverse(st.count[bi] as i64 - st.lo[bi] as i64),
            b,
        )
    });
    sources
        .into_iter()
        .any(|s| shed_one(st, cx, steer, s, max_class, order))
}

/// `reach[a][b]`: some replica on a target of rack `a` may move to rack `b`.
fn rack_reach(st: &State) -> Vec<Vec<bool>> {
    let nr = st.nracks;
    let mut reach = vec![vec![false; nr]; nr];
    for (p, reps) in st.reps.iter().enumerate() {
        if !st.movable[p] {
            continue;
        }
        for &b in reps {
            if !st.target[b as usize] {
                continue;
            }
            let a = st.rack_of(b) as usize;
            let mask = allowed_racks(st, p, b);
            for (x, r) in reach[a].iter_mut().enumerate() {
                if x < 64 && mask & (1 << x) != 0 {
                    *r = true;
                }
            }
        }
    }
    reach
}

/// The first rack after `from` on a shortest path of `edges` to a rack
/// with `goal` set.
fn first_hop(edges: &[Vec<bool>], from: usize, goal: &[bool]) -> Option<usize> {
    let n = edges.len();
    let mut prev = vec![usize::MAX; n];
    let mut queue = std::collections::VecDeque::from([from]);
    prev[from] = from;
    while let Some(a) = queue.pop_front() {
        for b in 0..n {
            if b == a || !edges[a][b] || prev[b] != usize::MAX {
                continue;
            }
            prev[b] = a;
            if goal[b] {
                let mut cur = b;
                while prev[cur] != from {
                    cur = prev[cur];
                }
                return Some(cur);
            }
            queue.push_back(b);
        }
    }
    None
}

/// Moves one replica to `d` from one of `sources`: a replica of a topic
/// the source holds too much of and `d` lacks, from the fullest sources
/// first.
fn fill_one(st: &mut State, cx: &mut Ctx, steer: Steer, d: B, mut sources: Vec<B>) -> bool {
    let rd = st.rack_of(d);
    sources.sort_by_key(|&s| {
        let si = s as usize;
        (
            Reverse(st.count[si] as i64 - st.hi[si] as i64),
            Reverse(st.count[si] as i64 - st.lo[si] as i64),
            st.rack_of(s) != rd,
            s,
        )
    });
    // (source class, topic over cap at d, -excess at the source, tie)
    let mut best: Option<(FillKey, usize, B)> = None;
    let mut weighed = 0;
    'sources: for s in sources {
        let si = s as usize;
        for &p in &st.on[si] {
            let p = p as usize;
            if !st.holds(p, s) || !st.movable[p] || st.holds(p, d) {
                continue;
            }
            let mask = allowed_racks(st, p, s);
            if rd < 64 && mask & (1 << rd) == 0 || st.nracks > 64 && !st.rack_ok(p, s, d) {
                continue;
            }
            let t = st.topic_of[p];
            let tk = topic_class(st, t, d);
            let ex = excess(st, t, s);
            let tie = match steer {
                Steer::Count => st.size[p] as i64,
                Steer::Size => byte_gap(st, &cx.bideal, s, d, st.size[p]),
            };
            // A source above its ceiling first: taking from one within its
            // range leaves a gap that costs another move.
            let si_class = if st.count[si] > st.hi[si] {
                0
            } else if st.count[si] > st.lo[si] {
                1
            } else {
                2
            };
            let key = (si_class, tk, -ex, tie);
            if best.is_none_or(|(bk, _, _)| key < bk) {
                best = Some((key, p, s));
            }
            weighed += 1;
            if si_class == 0 && tk == 0 && ex > 0 && steer == Steer::Count
                || weighed >= FALLBACK_SCAN * 8
            {
                break 'sources;
            }
        }
    }
    match best {
        Some((_, p, s)) => {
            cx.apply(st, p, s, d);
            true
        }
        None => false,
    }
}

/// Brokers below their floor that already hold a topic two or more over
/// its cap (Kafka's own placement does that to small topics) pass the
/// extra on to another such broker lacking the topic, before anything
/// arrives. Each costs one move above the bound (the broker then takes one
/// more from a broker above its range), against two for a swap once counts
/// are even; at most `allowance` of them.
fn relieve_receivers(st: &mut State, allowance: u64) -> u64 {
    if allowance == 0 {
        return 0;
    }
    let limit = st.moves + allowance;
    let cx = Ctx::new(st);
    let starts = topic_starts(st);
    let over: Vec<(u32, B)> = st
        .tcount
        .entries()
        .into_iter()
        .filter(|&(t, b, n)| {
            let bi = b as usize;
            st.target[bi] && st.count[bi] < st.lo[bi] && n > st.cap(t, b) + 1
        })
        .map(|(t, b, _)| (t, b))
        .collect();
    for (t, a) in over {
        let order = cx.rack_order(st, a);
        for p in starts[t as usize]..starts[t as usize + 1] {
            if st.tc(t, a) <= st.cap(t, a) + 1 {
                break;
            }
            if st.moves >= limit {
                return limit.saturating_sub(st.moves);
            }
            if !st.movable[p] || !st.holds(p, a) {
                continue;
            }
            if let Some(((0, 0), d)) = find_dest(st, &cx, p, a, 0, &order) {
                st.apply_move(p, a, d);
            }
        }
    }
    limit.saturating_sub(st.moves)
}

/// Where each topic's partitions start in the partition order (topics
/// are contiguous), with the end appended.
pub(super) fn topic_starts(st: &State) -> Vec<usize> {
    let mut starts: Vec<usize> = Vec::new();
    for (p, &t) in st.topic_of.iter().enumerate() {
        while starts.len() <= t as usize {
            starts.push(p);
        }
    }
    starts.push(st.topic_of.len());
    starts
}

/// The fewest moves any plan needs to bring every target into its range:
/// what sits on non-targets or above the ceilings must leave, what is
/// missing below the floors must arrive.
pub fn lower_bound(st: &State) -> u64 {
    let mut leave = 0u64;
    let mut arrive = 0u64;
    for b in 0..st.nb {
        if st.target[b] {
            leave += st.count[b].saturating_sub(st.hi[b]) as u64;
            arrive += st.lo[b].saturating_sub(st.count[b]) as u64;
        } else {
            leave += st.count[b] as u64;
        }
    }
    leave.max(arrive)
}

/// Topic repair: where a broker still holds two or more replicas of a
/// topic above its cap (the order of the count moves left no room for
/// them), move one to a broker that lacks the topic while both stay in
/// their count range, or swap it for a replica of a topic the other broker
/// can spare. The plan may end at most `limit` moves from `start`: the
/// count phases already met the bound, so this only spends the slack the
/// bar grants. A replica that already moved is sent on for free (it still
/// moves once), so replicas that moved are tried first.
pub fn repair_topics(st: &mut State, start: &[Vec<B>], limit: u64) {
    let cost = |p: usize, from: B, to: B| move_cost(start, p, from, to);
    let mut net = st.net_moves(start) as i64;
    let limit = limit as i64;
    let starts = topic_starts(st);
    let bad: Vec<(u32, B)> = st
        .tcount
        .entries()
        .into_iter()
        .filter(|&(t, b, n)| st.target[b as usize] && n > st.cap(t, b) + 1)
        .map(|(t, b, _)| (t, b))
        .collect();
    let targets: Vec<B> = (0..st.nb as B).filter(|&b| st.target[b as usize]).collect();
    for (t, a) in bad {
        while st.tc(t, a) > st.cap(t, a) + 1 {
            let need_swap = st.count[a as usize] <= st.lo[a as usize];
            let fits = |(p, b, q): (usize, B, Option<usize>)| {
                net + cost(p, a, b) + q.map_or(0, |q| cost(q, b, a)) <= limit
            };
            let found = repair_move(st, t, a, &starts, start, &targets, need_swap)
                .filter(|&m| fits(m))
                .or_else(|| {
                    (!need_swap)
                        .then(|| repair_move(st, t, a, &starts, start, &targets, true))
                        .flatten()
                        .filter(|&m| fits(m))
                });
            let Some((p, b, q)) = found else {
                break;
            };
            net += cost(p, a, b);
            st.apply_move(p, a, b);
            if let Some(q) = q {
                net += cost(q, b, a);
                st.apply_move(q, b, a);
            }
        }
    }
}

/// A replica `p` of topic `t` on `a` and a broker `b` to take it, plus,
/// when `a` cannot go below its floor, a replica `q` on `b` to send back.
fn repair_move(
    st: &State,
    t: u32,
    a: B,
    starts: &[usize],
    start: &[Vec<B>],
    targets: &[B],
    swap: bool,
) -> Option<(usize, B, Option<usize>)> {
    // Brokers that can take one more of `t` within its cap, emptiest first.
    let mut dests: Vec<(u32, B)> = targets
        .iter()
        .copied()
        .filter(|&b| b != a && topic_class(st, t, b) == 0)
        .filter(|&b| swap || st.count[b as usize] < st.hi[b as usize])
        .map(|b| (st.tc(t, b), b))
        .collect();
    dests.sort_unstable();
    // Replicas that already moved first: sending one on is free.
    let mut best: Option<((bool, u32, B), usize)> = None;
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
        let found = dests.iter().copied().find(|&(_, b)| {
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
            if !swap || key == dests[0] {
                break;
            }
        }
    }
    let ((_, _, b), p) = best?;
    if !swap {
        return Some((p, b, None));
    }
    // Something of another topic that `a` may take without going past
    // the bar, within its cap first, smallest first; a bounded look.
    let ra = st.rack_of(a);
    st.on[b as usize]
        .iter()
        .map(|&q| q as usize)
        .filter(|&q| st.holds(q, b) && st.movable[q] && q != p && !st.holds(q, a))
        .filter(|&q| st.topic_of[q] != t)
        .filter(|&q| {
            let mask = allowed_racks(st, q, b);
            (ra >= 64 || mask & (1 << ra) != 0) && (st.nracks <= 64 || st.rack_ok(q, b, a))
        })
        .take(512)
        .map(|q| (topic_class(st, st.topic_of[q], a), st.size[q], q))
        .filter(|&(c, _, _)| c <= 1)
        .min()
        .map(|(_, _, q)| (p, b, Some(q)))
}
