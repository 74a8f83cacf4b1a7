//! One greedy move, as the count phases (`drain`, `counts`) choose it:
//! where a replica may go without breaking rack safety
//! ([`allowed_racks`]), which open broker takes it ([`find_dest`],
//! [`find_home`]), and which replica a broker above its range gives up
//! ([`shed_one`]: a replica of the topic it holds most too much of, to a
//! broker lacking that topic). [`Ctx`] is the bookkeeping those phases
//! share: target brokers and replica totals per rack.
//!
//! Racks only narrow where a replica may go; within its own rack a replica
//! can always move.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::Objective;
use super::bytes::byte_ideals;
use super::memo::{FailMemo, GroupFails};
use super::state::{BrokerIx, State};

/// Candidate replicas a fallback scan weighs, when no perfect move exists.
pub(super) const FALLBACK_SCAN: usize = 512;

/// A destination's rank: lower is better.
/// `class`: 0 below its floor, 1 below its ceiling, 2 at or above it.
/// `topic`: how far over its cap the topic ends there (0 within it).
pub(super) type DestKey = (u8, u32);

/// What a scan of a source's live list for one destination rack has
/// learnt: the entries before `upto` that the source holds and that may
/// go to the rack, in list order. The others before `upto` cannot become
/// candidates until the source's list is rebuilt (an arrival, which may
/// revive an entry) or a partition on it moves between other brokers
/// (which changes where it may go), and [`Ctx`] drops the pass then. So
/// `passed` followed by the list from `upto` yields every candidate of a
/// full scan, in its order, without looking at the replica lists of the
/// many that are not (`fill_one` walks the same few fullest sources once
/// per move).
pub(super) struct RackPass {
    rack: u16,
    upto: usize,
    /// (partition, topic): the topic read once, not once per scan.
    passed: Vec<(u32, u32)>,
}

impl RackPass {
    /// Calls `f` with each entry of `live` (the list the pass belongs to)
    /// that `s` holds and that may move to this pass's rack, and its topic,
    /// in list order, until `f` returns true; returns whether it did.
    pub(super) fn scan(
        &mut self,
        st: &State,
        live: &[u32],
        s: BrokerIx,
        mut f: impl FnMut(usize, u32) -> bool,
    ) -> bool {
        let rd = self.rack;
        let may =
            |p: usize| st.holds(p, s) && (rd >= 64 || allowed_racks(st, p, s) & (1 << rd) != 0);
        for &(p, t) in &self.passed {
            if may(p as usize) && f(p as usize, t) {
                return true;
            }
        }
        while self.upto < live.len() {
            let p = live[self.upto];
            self.upto += 1;
            if may(p as usize) {
                let t = st.topic_of[p as usize];
                self.passed.push((p, t));
                if f(p as usize, t) {
                    return true;
                }
            }
        }
        false
    }
}

/// Racks `p`'s replica on `s` may move to without making the partition
/// span fewer racks than it must: any rack the other replicas do not use,
/// its own, and the others' racks only when they already span enough.
/// All ones when racks do not matter.
pub fn allowed_racks(st: &State, p: usize, s: BrokerIx) -> u64 {
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
pub(super) struct Ctx {
    /// Target brokers per rack.
    pub(super) by_rack: Vec<Vec<BrokerIx>>,
    /// Rotating start per rack, so equal destinations fill evenly.
    pub(super) rot: Vec<usize>,
    /// Replicas on target brokers per rack, and the rack's quota range.
    pub(super) rack_count: Vec<i64>,
    pub(super) rack_lo: Vec<i64>,
    pub(super) rack_hi: Vec<i64>,
    /// Source brokers' replicas by topic, built when first needed in a
    /// phase.
    pub(super) views: Vec<Option<View>>,
    /// What the views are built from, built with the first of them.
    index: Option<Index>,
    /// Per rack, its brokers in the order `counts::export_from` last
    /// sorted them.
    pub(super) export_sorted: Vec<Vec<BrokerIx>>,
    /// Per rack, its brokers whose count changed since `export_from` last
    /// sorted it, while `export_moves` is the state's move count (a move
    /// made without [`Ctx::apply`] drops every sorted list).
    pub(super) export_dirty: Vec<Vec<BrokerIx>>,
    pub(super) export_moves: u64,
    /// Some partition spans every rack, so some replicas can never leave
    /// their rack.
    pub(super) bound_to_racks: bool,
    /// Whether rack totals may drift (see `rack_order`); off in the
    /// settling pass.
    pub(super) drift: bool,
    /// The perfect pass only takes topics at least this far over their cap
    /// at the source; above 1 it is the only pass.
    pub(super) min_excess: i64,
    /// Moves above the bound still allowed for topic balance.
    pub(super) allowance: u64,
    pub(super) bideal: Vec<f64>,
    /// Fallback scans known to fail (see `memo`).
    pub(super) memo: FailMemo,
    /// Per source broker, its movable replicas in `partitions_on` order
    /// with the entries stale when built left out, for `fill_one`, which
    /// walks a source's list from the start every time: sources shed their
    /// smallest replicas first, so the stale entries pile up at the front.
    /// Entries may go stale later (checked on use); an arrival at the
    /// broker (which may revive an old entry) drops its list.
    live: Vec<Option<Vec<u32>>>,
    /// Per source broker, what `fill_one` learnt of its live list for the
    /// destination racks it asked about (see [`RackPass`]); dropped with
    /// the list, and when a partition on the broker moves between other
    /// brokers (where it may go changes).
    passes: Vec<Vec<RackPass>>,
    /// The state's move count the lists are known for; a move made
    /// without [`Ctx::apply`] drops them all.
    live_moves: u64,
    /// The open brokers per rack and class (see [`Open`]), for
    /// [`find_dest`].
    open: Open,
    /// Per broker, moves from or to it through [`Ctx::apply`], while
    /// `touch_moves` is the state's move count: a view that made every
    /// move of its broker since it was built knows its topics' excess.
    touch: Vec<u64>,
    touch_moves: u64,
}

impl Ctx {
    pub(super) fn new(st: &State) -> Ctx {
        let nr = st.nracks;
        let mut by_rack = vec![Vec::new(); nr];
        let (mut rc, mut rl, mut rh) = (vec![0; nr], vec![0; nr], vec![0; nr]);
        for b in 0..st.broker_count {
            if st.target[b] {
                let r = st.rack_of(b as BrokerIx) as usize;
                by_rack[r].push(b as BrokerIx);
                rc[r] += st.count[b] as i64;
                rl[r] += st.floor[b] as i64;
                rh[r] += st.ceiling[b] as i64;
            }
        }
        Ctx {
            by_rack,
            rot: vec![0; nr],
            rack_count: rc,
            rack_lo: rl,
            rack_hi: rh,
            views: (0..st.broker_count).map(|_| None).collect(),
            index: None,
            export_sorted: vec![Vec::new(); nr],
            export_dirty: vec![Vec::new(); nr],
            export_moves: st.moves,
            bound_to_racks: st.k_target > 1 && st.reps.iter().any(|r| r.len() >= st.k_target),
            drift: true,
            min_excess: 1,
            allowance: 0,
            bideal: byte_ideals(st),
            memo: FailMemo::new(st),
            live: (0..st.broker_count).map(|_| None).collect(),
            passes: (0..st.broker_count).map(|_| Vec::new()).collect(),
            live_moves: st.moves,
            open: Open::default(),
            touch: vec![0; st.broker_count],
            touch_moves: st.moves,
        }
        .with_open(st)
    }

    fn with_open(mut self, st: &State) -> Ctx {
        self.open = Open::of(st, &self.by_rack);
        self
    }

    pub(super) fn reset_scans(&mut self) {
        self.views.iter_mut().for_each(|v| *v = None);
    }

    pub(super) fn apply(&mut self, st: &mut State, p: usize, s: BrokerIx, d: BrokerIx) {
        if st.target[s as usize] {
            self.rack_count[st.rack_of(s) as usize] -= 1;
        }
        let rd = st.rack_of(d) as usize;
        self.rack_count[rd] += 1;
        self.rot[rd] = self.rot[rd].wrapping_add(1);
        self.memo.moving(st, p, s, d);
        if let Some(index) = self.index.as_mut() {
            index.moving(st, p, s);
        }
        if self.touch_moves == st.moves {
            self.touch[s as usize] += 1;
            self.touch[d as usize] += 1;
            self.touch_moves += 1;
        }
        if self.export_moves == st.moves {
            for b in [s, d] {
                if st.target[b as usize] {
                    self.export_dirty[st.rack_of(b) as usize].push(b);
                }
            }
            self.export_moves += 1;
        }
        let synced = self.live_moves == st.moves;
        let open_synced = self.open.moves == st.moves;
        st.apply_move(p, s, d);
        if synced {
            self.live_moves = st.moves;
        }
        self.live[d as usize] = None;
        // `d`'s list is dropped; the other holders' entries of `p` may now
        // go to other racks. On `s` the entry is stale (checked on use).
        for &b in st.reps[p].iter() {
            self.passes[b as usize].clear();
        }
        if open_synced {
            self.open.update(st, s);
            self.open.update(st, d);
            self.open.moves = st.moves;
        } else {
            self.open = Open::of(st, &self.by_rack);
        }
    }

    /// `s`'s live list (see `live`), built if missing; give it back with
    /// [`Ctx::put_live`].
    pub(super) fn take_live(&mut self, st: &State, s: BrokerIx) -> Vec<u32> {
        if self.live_moves != st.moves {
            self.live.iter_mut().for_each(|l| *l = None);
            self.passes.iter_mut().for_each(Vec::clear);
            self.live_moves = st.moves;
        }
        self.live[s as usize].take().unwrap_or_else(|| {
            self.passes[s as usize].clear();
            st.partitions_on[s as usize]
                .iter()
                .copied()
                .filter(|&p| st.holds(p as usize, s) && st.movable[p as usize])
                .collect()
        })
    }

    pub(super) fn put_live(&mut self, s: BrokerIx, list: Vec<u32>) {
        self.live[s as usize] = Some(list);
    }

    /// `s`'s pass for destination rack `rd` (see [`RackPass`]), empty if
    /// there is none; call after [`Ctx::take_live`] (which may drop it) and
    /// give it back with [`Ctx::put_pass`] after [`Ctx::put_live`].
    pub(super) fn take_pass(&mut self, s: BrokerIx, rd: u16) -> RackPass {
        let list = &mut self.passes[s as usize];
        match list.iter().position(|x| x.rack == rd) {
            Some(i) => list.swap_remove(i),
            None => RackPass {
                rack: rd,
                upto: 0,
                passed: Vec::new(),
            },
        }
    }

    pub(super) fn put_pass(&mut self, s: BrokerIx, pass: RackPass) {
        self.passes[s as usize].push(pass);
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
    pub(super) fn rack_order(&self, st: &State, s: BrokerIx) -> Vec<u16> {
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
    pub(super) fn export_order(&self, a: u16) -> Vec<u16> {
        let nr = self.by_rack.len() as u16;
        let short = |r: u16| self.rack_count[r as usize] < self.rack_lo[r as usize];
        let room = |r: u16| self.rack_count[r as usize] < self.rack_hi[r as usize];
        let mut order: Vec<u16> = (0..nr).filter(|&r| r != a && short(r)).collect();
        order.extend((0..nr).filter(|&r| r != a && !short(r) && room(r)));
        order
    }
}

pub(super) fn class(st: &State, d: BrokerIx) -> u8 {
    let di = d as usize;
    if st.count[di] < st.floor[di] {
        0
    } else if st.count[di] < st.ceiling[di] {
        1
    } else {
        2
    }
}

pub(super) fn topic_class(st: &State, t: u32, d: BrokerIx) -> u32 {
    (st.topic_count(t, d) + 1).saturating_sub(st.topic_cap(t, d))
}

/// The best open broker for `p`'s replica on `s`, of class at most
/// `max_class`. Returns at once on a perfect one (below its floor, topic
/// within cap), trying racks in `order`.
pub(super) fn find_dest(
    st: &State,
    cx: &Ctx,
    p: usize,
    s: BrokerIx,
    max_class: u8,
    order: &[u16],
) -> Option<(DestKey, BrokerIx)> {
    let t = st.topic_of[p];
    let mask = allowed_racks(st, p, s);
    let exact = st.nracks > 64;
    // Among equals, the broker holding the least of the topic: it spreads
    // each topic over all open brokers instead of filling the first ones
    // up to the cap, so late topics still find room.
    let mut best: Option<((u8, u32, u32), BrokerIx)> = None;
    // Weighs `d` of class `c`; true on a perfect destination.
    let weigh = |d: BrokerIx, c: u8, best: &mut Option<((u8, u32, u32), BrokerIx)>| {
        if d == s || st.holds(p, d) || exact && !st.rack_ok(p, s, d) {
            return false;
        }
        let held = st.topic_count(t, d);
        let key = (c, (held + 1).saturating_sub(st.topic_cap(t, d)), held);
        if best.is_none_or(|(k, _)| key < k) {
            *best = Some((key, d));
        }
        key == (0, 0, 0)
    };
    if max_class <= 1 && cx.open.moves == st.moves {
        // Class by class, each in the scan order below restricted to the
        // brokers of that class: the key starts with the class, so the
        // same broker wins (ties go to the first in that order), and the
        // brokers of a class the best already beats are never looked at.
        for c in 0..=max_class {
            if best.is_some() {
                break;
            }
            for (r, list, start) in scan_racks(cx, order, mask) {
                let open = &cx.open.pos[r][c as usize];
                let split = open.partition_point(|&i| i < start as u32);
                for &i in open[split..].iter().chain(&open[..split]) {
                    let d = list[i as usize];
                    if weigh(d, c, &mut best) {
                        return Some(((0, 0), d));
                    }
                }
            }
        }
    } else {
        for (_, list, start) in scan_racks(cx, order, mask) {
            for &d in list[start..].iter().chain(&list[..start]) {
                let c = class(st, d);
                if c > max_class || best.is_some_and(|(k, _)| k.0 < c) {
                    continue;
                }
                if weigh(d, c, &mut best) {
                    return Some(((0, 0), d));
                }
            }
        }
    }
    best.map(|((c, over, _), d)| ((c, over), d))
}

/// The racks of `order` that `mask` allows and that have target brokers,
/// each with its brokers and where the rotation starts in them: the scan
/// order of a destination search.
fn scan_racks<'a>(
    cx: &'a Ctx,
    order: &'a [u16],
    mask: u64,
) -> impl Iterator<Item = (usize, &'a [BrokerIx], usize)> + 'a {
    order
        .iter()
        .filter(move |&&r| r >= 64 || mask & (1 << r) != 0)
        .filter_map(|&r| {
            let list = &cx.by_rack[r as usize];
            (!list.is_empty())
                .then(|| (r as usize, list.as_slice(), cx.rot[r as usize] % list.len()))
        })
}

/// Per rack, the positions in `Ctx::by_rack` of its brokers below their
/// floor (class 0) and below their ceiling (class 1), ascending: in the
/// count phases most brokers are full, and a destination search scanned
/// all of them to find the few open ones. Kept by [`Ctx::apply`]; a move
/// made some other way (the state's move count tells) sends `find_dest`
/// back to the full scan until the next `apply` rebuilds them.
#[derive(Default)]
struct Open {
    pos: Vec<[Vec<u32>; 2]>,
    /// Each target broker's rack and position in it.
    at: Vec<Option<(u16, u32)>>,
    moves: u64,
}

impl Open {
    fn of(st: &State, by_rack: &[Vec<BrokerIx>]) -> Open {
        let mut open = Open {
            pos: (0..by_rack.len())
                .map(|_| [Vec::new(), Vec::new()])
                .collect(),
            at: vec![None; st.broker_count],
            moves: st.moves,
        };
        for (r, list) in by_rack.iter().enumerate() {
            for (i, &b) in list.iter().enumerate() {
                open.at[b as usize] = Some((r as u16, i as u32));
                let c = class(st, b);
                if c <= 1 {
                    open.pos[r][c as usize].push(i as u32);
                }
            }
        }
        open
    }

    /// Puts `b` in the list of its class now.
    fn update(&mut self, st: &State, b: BrokerIx) {
        let Some((r, i)) = self.at[b as usize] else {
            return;
        };
        let c = class(st, b) as usize;
        for (k, list) in self.pos[r as usize].iter_mut().enumerate() {
            match list.binary_search(&i) {
                Ok(j) if k != c => {
                    list.remove(j);
                }
                Err(j) if k == c => list.insert(j, i),
                _ => {}
            }
        }
    }
}

/// How much further from their byte ideals `s` and `d` end up when `z`
/// bytes move from `s` to `d` (lower is better).
pub(super) fn byte_gap(st: &State, bideal: &[f64], s: BrokerIx, d: BrokerIx, z: u64) -> i64 {
    let (si, di) = (s as usize, d as usize);
    let (bs, bd) = (st.bytes[si] as f64, st.bytes[di] as f64);
    let before = (bs - bideal[si]).abs() + (bd - bideal[di]).abs();
    let after = (bs - z as f64 - bideal[si]).abs() + (bd + z as f64 - bideal[di]).abs();
    (after - before) as i64
}

/// A source broker's replicas grouped by topic (topics ascending),
/// smallest first within a topic, with the topics ranked by how far `s`
/// holds more than its cap. A group is sorted when first used: a rack
/// export pops and drops most groups of most sources unused.
pub(super) struct View {
    /// The groups' entries, one group after the other.
    parts: Vec<u32>,
    groups: Vec<Group>,
    /// Groups with their topic above its cap at `s`, by excess.
    queue: Queue,
    /// Where the fallback scan resumes.
    pub(super) rot: usize,
    /// `Ctx::touch` of the broker when the view was built and after each
    /// move it chose by `pick_perfect` since: while it still is, no other
    /// move changed the broker's topic counts, and each queued excess is
    /// the broker's excess now.
    seen: Option<u64>,
    /// The fallback scan's failing groups, per question (the rack export
    /// asks up to three per round).
    fails: Vec<GroupFails>,
}

struct Group {
    topic: u32,
    start: u32,
    len: u32,
    /// Sorted by size, then partition, and duplicates dropped.
    sorted: bool,
}

impl View {
    /// The view of `s` as sorting its live entries of `partitions_on` by
    /// (topic, size, partition) would give it, from `index`'s list of what
    /// `s` held when the index was built (ascending partitions, so
    /// ascending topics: no sort) and what arrived since.
    pub(super) fn build(st: &State, index: &Index, s: BrokerIx) -> View {
        let si = s as usize;
        let tail = &st.partitions_on[si][index.marks[si]..];
        // What left `s` since the index, ascending: the index list minus
        // these is what `holds` would keep (a replica that came back is in
        // the tail too), without a cache miss per entry.
        let synced = index.moves == st.moves;
        let mut gone: Vec<u32> = if synced {
            index.departed[si].clone()
        } else {
            Vec::new()
        };
        gone.sort_unstable();
        let mut next_gone = 0;
        let mut arrived: Vec<(u32, u32)> = tail
            .iter()
            .copied()
            .filter(|&p| st.holds(p as usize, s) && st.movable[p as usize])
            .map(|p| (st.topic_of[p as usize], p))
            .collect();
        arrived.sort_unstable();
        let mut kept = index.lists[si]
            .iter()
            .copied()
            .filter(|&(_, p)| {
                if !synced {
                    return st.holds(p as usize, s);
                }
                while next_gone < gone.len() && gone[next_gone] < p {
                    next_gone += 1;
                }
                next_gone == gone.len() || gone[next_gone] != p
            })
            .peekable();
        let mut arrived = arrived.into_iter().peekable();
        let mut parts: Vec<u32> = Vec::new();
        let mut groups: Vec<Group> = Vec::new();
        loop {
            // Merged by topic; a partition in both (it left and came back)
            // is dropped when its group is sorted.
            let take_kept = match (kept.peek(), arrived.peek()) {
                (None, None) => break,
                (Some(a), Some(b)) => a.0 <= b.0,
                (a, _) => a.is_some(),
            };
            let (t, p) = if take_kept {
                kept.next()
            } else {
                arrived.next()
            }
            .expect("peeked");
            match groups.last_mut() {
                Some(g) if g.topic == t => {
                    g.len += 1;
                    g.sorted = false;
                }
                _ => {
                    debug_assert!(groups.last().is_none_or(|g| g.topic < t));
                    groups.push(Group {
                        topic: t,
                        start: parts.len() as u32,
                        len: 1,
                        sorted: true,
                    });
                }
            }
            parts.push(p);
        }
        let queue = Queue::new(
            groups
                .iter()
                .enumerate()
                .map(|(g, grp)| (excess(st, grp.topic, s), g as u32)),
        );
        View {
            parts,
            groups,
            queue,
            rot: 0,
            seen: None,
            fails: Vec::new(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.groups.len()
    }

    /// Sorts group `g` if it is not yet.
    fn sort(&mut self, st: &State, g: usize) {
        let grp = &mut self.groups[g];
        if grp.sorted {
            return;
        }
        let (a, n) = (grp.start as usize, grp.len as usize);
        let slice = &mut self.parts[a..a + n];
        slice.sort_unstable_by_key(|&p| (st.size[p as usize], p));
        let mut w = 1;
        for i in 1..n {
            if slice[i] != slice[w - 1] {
                slice[w] = slice[i];
                w += 1;
            }
        }
        grp.len = w as u32;
        grp.sorted = true;
    }

    /// Group `g`'s topic and entries (sorted if `sort` was called).
    fn group(&self, g: usize) -> (u32, &[u32]) {
        let grp = &self.groups[g];
        let a = grp.start as usize;
        (grp.topic, &self.parts[a..a + grp.len as usize])
    }
}

/// Every broker's movable replicas in ascending partition order as they
/// stood when it was built, and how long each `partitions_on` list was
/// then: one pass over the replica lists instead of a sort per view.
pub(super) struct Index {
    /// (topic, partition): the topic read in the one pass that builds
    /// the lists, not once per view entry (a cache miss each).
    lists: Vec<Vec<(u32, u32)>>,
    marks: Vec<usize>,
    /// Per broker, the partitions that left it since, as [`Ctx::apply`]
    /// reported them, while `moves` is the state's move count.
    departed: Vec<Vec<u32>>,
    moves: u64,
}

impl Index {
    pub(super) fn of(st: &State) -> Index {
        let mut lists: Vec<Vec<(u32, u32)>> = st
            .count
            .iter()
            .map(|&c| Vec::with_capacity(c as usize))
            .collect();
        for (p, reps) in st.reps.iter().enumerate() {
            if st.movable[p] {
                let t = st.topic_of[p];
                for &b in reps.iter() {
                    lists[b as usize].push((t, p as u32));
                }
            }
        }
        Index {
            lists,
            marks: st.partitions_on.iter().map(Vec::len).collect(),
            departed: vec![Vec::new(); st.broker_count],
            moves: st.moves,
        }
    }

    /// Records a move of `p`'s replica off `s`, before the state applies
    /// it; a move it was not told of makes views filter by `holds` again.
    fn moving(&mut self, st: &State, p: usize, s: BrokerIx) {
        if self.moves == st.moves {
            self.departed[s as usize].push(p as u32);
            self.moves += 1;
        }
    }
}

/// A max-queue of (excess, group) with the smaller group first among
/// equal excesses, as a `BinaryHeap<(i64, Reverse<u32>)>` pops them: the
/// groups of a view in buckets by excess (most pops drop a group), and
/// the few pushed back later in a heap.
struct Queue {
    /// Per excess, its groups descending (the next one last).
    buckets: Vec<Vec<u32>>,
    /// No bucket above this one holds anything.
    top: usize,
    pushed: BinaryHeap<(i64, Reverse<u32>)>,
}

impl Queue {
    /// A queue of the entries with a positive excess (`entries` by
    /// ascending group).
    fn new(entries: impl Iterator<Item = (i64, u32)>) -> Queue {
        let mut buckets: Vec<Vec<u32>> = Vec::new();
        for (e, g) in entries.filter(|&(e, _)| e > 0) {
            let e = e as usize;
            if buckets.len() <= e {
                buckets.resize_with(e + 1, Vec::new);
            }
            buckets[e].push(g);
        }
        buckets.iter_mut().for_each(|b| b.reverse());
        Queue {
            top: buckets.len().saturating_sub(1),
            buckets,
            pushed: BinaryHeap::new(),
        }
    }

    /// Pops the first entry if its excess is at least `min` (at least 1).
    fn pop_at_least(&mut self, min: i64) -> Option<(i64, u32)> {
        while self.top > 0 && self.buckets[self.top].is_empty() {
            self.top -= 1;
        }
        let from_bucket = self
            .buckets
            .get(self.top)
            .and_then(|b| b.last())
            .map(|&g| (self.top as i64, Reverse(g)));
        let from_heap = self.pushed.peek().copied();
        let (e, Reverse(g)) = from_bucket.max(from_heap)?;
        if e < min {
            return None;
        }
        if from_bucket == Some((e, Reverse(g))) {
            self.buckets[self.top].pop();
        } else {
            self.pushed.pop();
        }
        Some((e, g))
    }

    /// Entries without excess would never be popped: they are left out.
    fn push(&mut self, e: i64, g: u32) {
        if e > 0 {
            self.pushed.push((e, Reverse(g)));
        }
    }
}

/// Whether some broker below its floor in a rack of `order` other than
/// `s` would end at most `slack` over topic `t`'s cap with one more of it:
/// what `find_dest` needs to return a perfect home for any replica of `t`
/// on `s` (it also checks the partition's racks and holders).
fn may_take(st: &State, cx: &Ctx, t: u32, s: BrokerIx, order: &[u16], slack: u32) -> bool {
    let fits = |d: BrokerIx| d != s && topic_class(st, t, d) <= slack;
    let synced = cx.open.moves == st.moves;
    order.iter().any(|&r| {
        let list = &cx.by_rack[r as usize];
        if synced {
            cx.open.pos[r as usize][0]
                .iter()
                .any(|&i| fits(list[i as usize]))
        } else {
            list.iter().any(|&d| class(st, d) == 0 && fits(d))
        }
    })
}

/// How many more replicas of topic `t` broker `s` holds than its cap.
pub(super) fn excess(st: &State, t: u32, s: BrokerIx) -> i64 {
    st.topic_count(t, s) as i64 - st.topic_cap(t, s) as i64
}

/// Moves one replica off `s` to the best open broker (class at most
/// `max_class`) among racks in `order`. A perfect move takes a replica of
/// the topic `s` holds most too much of to a broker below its floor that
/// lacks the topic; smallest first within the topic. Without one, the best
/// single replica per topic is weighed: destination, then how much of its
/// topic `s` holds, then size. Returns whether a move was made.
pub(super) fn shed_one(
    st: &mut State,
    cx: &mut Ctx,
    objective: Objective,
    s: BrokerIx,
    max_class: u8,
    order: &[u16],
) -> bool {
    let si = s as usize;
    let synced = cx.touch_moves == st.moves;
    let mut view = match cx.views[si].take() {
        Some(view) => view,
        None => {
            let mut view = View::build(st, cx.index.get_or_insert_with(|| Index::of(st)), s);
            view.seen = synced.then_some(cx.touch[si]);
            view
        }
    };
    let known = synced && view.seen == Some(cx.touch[si]);
    let mut found = pick_perfect(st, cx, &mut view, objective, s, order, known);
    let perfect = found.is_some();
    if found.is_none() && cx.min_excess <= 1 {
        if cx.memo.fails(st, s, max_class, order) {
            // What the failing scan would do: start one group further.
            view.rot = (view.rot + 1) % view.len().max(1);
        } else {
            let since = cx.memo.group_since(st, max_class, order);
            found = pick_fallback(st, cx, &mut view, objective, s, (max_class, since), order);
            if found.is_none() {
                cx.memo.failed(st, s, max_class, order);
            }
        }
    }
    cx.views[si] = Some(view);
    match found {
        Some((p, d)) => {
            if class(st, d) == 2 {
                cx.allowance = cx.allowance.saturating_sub(1);
            }
            cx.apply(st, p, s, d);
            // `pick_perfect` queued its group's excess after this move.
            if known && perfect && cx.touch_moves == st.moves {
                let touch = cx.touch[si];
                if let Some(view) = cx.views[si].as_mut() {
                    view.seen = Some(touch);
                }
            }
            true
        }
        None => false,
    }
}

/// With `known`, every queued excess is the source's excess now (see
/// `View::seen`): no lookup per pop.
#[allow(clippy::too_many_arguments)]
pub(super) fn pick_perfect(
    st: &State,
    cx: &Ctx,
    view: &mut View,
    objective: Objective,
    s: BrokerIx,
    order: &[u16],
    known: bool,
) -> Option<(usize, BrokerIx)> {
    while let Some((e, g)) = view.queue.pop_at_least(cx.min_excess) {
        let t = view.groups[g as usize].topic;
        let now = if known { e } else { excess(st, t, s) };
        debug_assert!(!known || now == excess(st, t, s));
        if now <= 0 {
            continue;
        }
        if now < e {
            view.queue.push(now, g);
            continue;
        }
        // Without an open broker that could take the topic at all, no
        // replica of the group has a perfect home: skip the searches (and
        // the sort).
        let may_spend = now >= 2 && cx.allowance > 0;
        if !(may_spend || may_take(st, cx, t, s, order, u32::from(now >= 2))) {
            continue;
        }
        view.sort(st, g as usize);
        let (_, parts) = view.group(g as usize);
        let mut best: Option<(i64, usize, BrokerIx)> = None;
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
                let tie = match objective {
                    Objective::Count => 0,
                    Objective::Size => byte_gap(st, &cx.bideal, s, d, st.size[p]),
                };
                if best.is_none_or(|(k, _, _)| tie < k) {
                    best = Some((tie, p, d));
                }
                if objective == Objective::Count || tried >= 16 {
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
            view.queue.push(now - 1, g);
            return Some((p, d));
        }
        // No perfect home for this topic now; open brokers only fill up
        // during a phase, so it stays out of the perfect pass.
    }
    None
}

#[allow(clippy::too_many_arguments)]
pub(super) fn pick_fallback(
    st: &State,
    cx: &Ctx,
    view: &mut View,
    objective: Objective,
    s: BrokerIx,
    (max_class, since): (u8, u64),
    order: &[u16],
) -> Option<(usize, BrokerIx)> {
    let n = view.len();
    // (destination, -excess at the source, tie)
    let mut best: Option<((DestKey, i64, i64), usize, BrokerIx)> = None;
    let mut weighed = 0;
    let fi = match view.fails.iter().position(|f| f.asks(max_class, order)) {
        Some(i) => i,
        None => {
            if view.fails.len() >= 4 {
                view.fails.remove(0);
            }
            view.fails.push(GroupFails::new(max_class, order, n));
            view.fails.len() - 1
        }
    };
    for k in 0..n {
        let g = (view.rot + k) % n;
        // A group known to find nothing is skipped as its scan would skip
        // it (`weighed` counts only groups with a destination).
        if view.fails[fi].fails(&cx.memo, g, view.groups[g].topic, since) {
            continue;
        }
        view.sort(st, g);
        let (t, parts) = view.group(g);
        // The smallest replica of the topic that has somewhere to go.
        let Some((p, (dk, d))) = parts
            .iter()
            .map(|&p| p as usize)
            .filter(|&p| st.holds(p, s))
            .find_map(|p| find_dest(st, cx, p, s, max_class, order).map(|x| (p, x)))
        else {
            view.fails[fi].failed(&cx.memo, g);
            continue;
        };
        let tie = match objective {
            Objective::Count => st.size[p] as i64,
            Objective::Size => byte_gap(st, &cx.bideal, s, d, st.size[p]),
        };
        let key = (dk, -excess(st, t, s), tie);
        if best.is_none_or(|(bk, _, _)| key < bk) {
            best = Some((key, p, d));
        }
        weighed += 1;
        // No topic of `s` is in excess with a home (the perfect pass came
        // first), so a move that keeps its topic within cap is as good as
        // any: take the first under the count objective.
        if weighed >= FALLBACK_SCAN
            || dk == (0, 0) && (objective == Objective::Count || weighed >= 64)
        {
            break;
        }
    }
    view.rot = (view.rot + weighed.max(1)) % n.max(1);
    best.map(|(_, p, d)| (p, d))
}

/// The target with the least load class among those where `p`'s topic
/// stays within its cap, whatever their count.
pub(super) fn find_home(
    st: &State,
    cx: &Ctx,
    p: usize,
    s: BrokerIx,
    order: &[u16],
) -> Option<BrokerIx> {
    let t = st.topic_of[p];
    let mask = allowed_racks(st, p, s);
    let mut best: Option<((u8, i64, u32), BrokerIx)> = None;
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
                st.count[di] as i64 - st.ceiling[di] as i64,
                st.topic_count(t, d),
            );
            if best.is_none_or(|(k, _)| key < k) {
                best = Some((key, d));
            }
        }
    }
    best.map(|(_, d)| d)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::planner::Replicas;
    use crate::planner::rng::SplitMix64;
    use crate::synth::{Profile, generate};

    /// The view as it was built before the index: every live entry of
    /// `partitions_on` sorted by (topic, size, partition), duplicates
    /// dropped, and the heap of the topics in excess.
    /// A view's groups (topic, entries) and the order its queue pops.
    type Seen = (Vec<(u32, Vec<u32>)>, Vec<(i64, u32)>);

    fn sorted_view(st: &State, s: BrokerIx) -> Seen {
        let mut parts: Vec<(u32, u64, u32)> = st.partitions_on[s as usize]
            .iter()
            .copied()
            .filter(|&p| st.holds(p as usize, s) && st.movable[p as usize])
            .map(|p| (st.topic_of[p as usize], st.size[p as usize], p))
            .collect();
        parts.sort_unstable();
        parts.dedup();
        let mut groups: Vec<(u32, Vec<u32>)> = Vec::new();
        for (t, _, p) in parts {
            match groups.last_mut() {
                Some((gt, g)) if *gt == t => g.push(p),
                _ => groups.push((t, vec![p])),
            }
        }
        let mut heap: BinaryHeap<(i64, Reverse<u32>)> = groups
            .iter()
            .enumerate()
            .map(|(g, (t, _))| (excess(st, *t, s), Reverse(g as u32)))
            .filter(|&(e, _)| e > 0)
            .collect();
        let order = std::iter::from_fn(|| heap.pop().map(|(e, Reverse(g))| (e, g))).collect();
        (groups, order)
    }

    fn lazy_view(st: &State, index: &Index, s: BrokerIx) -> Seen {
        let mut view = View::build(st, index, s);
        let groups = (0..view.len())
            .map(|g| {
                view.sort(st, g);
                let (t, parts) = view.group(g);
                (t, parts.to_vec())
            })
            .collect();
        let order = std::iter::from_fn(|| view.queue.pop_at_least(1)).collect();
        (groups, order)
    }

    /// A random 9-broker, 3-rack cluster of 600 partitions with a tenth of
    /// them not movable, and its partition count.
    fn random_state(seed: u64) -> (State, usize) {
        let profile = Profile {
            brokers: 9,
            racks: 3,
            partitions: 600,
            max_partitions_per_topic: 12,
            dead_brokers: 0,
            ..Profile::default()
        };
        let cluster = generate(&profile, seed);
        let ids: Vec<i32> = cluster.brokers.iter().map(|b| b.id).collect();
        let reps: Vec<Replicas> = cluster
            .partitions()
            .map(|(_, p)| {
                p.replicas
                    .iter()
                    .map(|id| ids.iter().position(|x| x == id).unwrap() as BrokerIx)
                    .collect()
            })
            .collect();
        let n = reps.len();
        let mut rng = SplitMix64::new(seed);
        let movable = (0..n).map(|_| rng.below(10) > 0).collect();
        let st = State::new(&cluster, reps, vec![true; ids.len()], movable, true);
        (st, n)
    }

    /// A random move of a random replica through `cx` (back again one time
    /// in three: an arrival that revives an old entry); false if the
    /// destination already held the partition.
    fn random_move(st: &mut State, cx: &mut Ctx, rng: &mut SplitMix64) -> bool {
        let n = st.reps.len() as u64;
        let p = rng.below(n) as usize;
        let s = st.reps[p][rng.below(st.reps[p].len() as u64) as usize];
        let d = rng.below(st.broker_count as u64) as BrokerIx;
        if st.holds(p, d) {
            return false;
        }
        cx.apply(st, p, s, d);
        if rng.below(3) == 0 {
            cx.apply(st, p, d, s);
        }
        true
    }

    /// Moves through `Ctx::apply` after the index was built: a view built
    /// from the departures it reported (no `holds` per entry) is the sorted
    /// view; after a move it was not told of, built with `holds`, too.
    #[test]
    fn a_view_from_the_departures_is_the_sorted_view() {
        let mut departures = 0;
        for seed in 1..=4 {
            let (mut st, n) = random_state(seed);
            let mut rng = SplitMix64::new(seed + 10);
            let mut cx = Ctx::new(&st);
            cx.index = Some(Index::of(&st));
            for round in 0..4 {
                let mut moved = 0;
                while moved < 150 {
                    moved += usize::from(random_move(&mut st, &mut cx, &mut rng));
                }
                let index = cx.index.as_ref().unwrap();
                assert_eq!(index.moves == st.moves, round < 3, "round {round}");
                departures += index.departed.iter().map(Vec::len).sum::<usize>();
                for s in 0..st.broker_count as BrokerIx {
                    assert_eq!(
                        lazy_view(&st, index, s),
                        sorted_view(&st, s),
                        "seed {seed} round {round} broker {s}"
                    );
                }
                if round == 2 {
                    // Not through `cx`: the departures are incomplete now.
                    let p = (0..n).find(|&p| !st.holds(p, 0)).unwrap();
                    let s = st.reps[p][0];
                    st.apply_move(p, s, 0);
                }
            }
        }
        assert!(departures > 1000, "departures seen: {departures}");
    }

    /// Random moves through `Ctx::apply` (and one without it now and then)
    /// between scans of random brokers for random racks, each stopped at a
    /// random candidate: a rack pass yields what a full scan of the live
    /// list keeps (`holds`, and `allowed_racks` lets it go to the rack), in
    /// the same order.
    #[test]
    fn a_rack_pass_yields_what_a_full_scan_keeps() {
        let mut resumed = 0;
        for seed in 1..=4 {
            let (mut st, n) = random_state(seed);
            let mut rng = SplitMix64::new(seed + 20);
            let mut cx = Ctx::new(&st);
            let nb = st.broker_count as u64;
            for step in 0..3000 {
                match rng.below(8) {
                    0..=2 => {
                        random_move(&mut st, &mut cx, &mut rng);
                    }
                    3 if step % 100 == 0 => {
                        let p = rng.below(n as u64) as usize;
                        let s = st.reps[p][0];
                        let d = rng.below(nb) as BrokerIx;
                        if !st.holds(p, d) {
                            st.apply_move(p, s, d);
                        }
                    }
                    _ => {}
                }
                let s = rng.below(3) as BrokerIx;
                let rd = rng.below(st.nracks as u64) as u16;
                let live = cx.take_live(&st, s);
                let mut pass = cx.take_pass(s, rd);
                resumed += usize::from(pass.upto > 0);
                let want: Vec<usize> = live
                    .iter()
                    .map(|&p| p as usize)
                    .filter(|&p| st.holds(p, s) && allowed_racks(&st, p, s) & (1 << rd) != 0)
                    .collect();
                let stop = 1 + rng.below(want.len() as u64 + 1) as usize;
                let mut got = Vec::new();
                let stopped = pass.scan(&st, &live, s, |p, t| {
                    assert_eq!(t, st.topic_of[p]);
                    got.push(p);
                    got.len() == stop
                });
                assert_eq!(got, want[..stop.min(want.len())], "seed {seed} step {step}");
                assert_eq!(stopped, stop <= want.len());
                cx.put_live(s, live);
                cx.put_pass(s, pass);
            }
        }
        assert!(resumed > 1000, "scans resumed from a pass: {resumed}");
    }

    /// Random moves before and after the index is built (arrivals, and
    /// replicas that leave and come back, listed twice): every broker's
    /// view is the sorted one.
    #[test]
    fn a_view_from_the_index_is_the_sorted_view() {
        for seed in 1..=4 {
            let (mut st, n) = random_state(seed);
            let mut rng = SplitMix64::new(seed);
            let nb = st.broker_count as u64;
            let shuffle = |st: &mut State, rng: &mut SplitMix64, moves: usize| {
                for _ in 0..moves {
                    let p = rng.below(n as u64) as usize;
                    let s = st.reps[p][rng.below(st.reps[p].len() as u64) as usize];
                    let d = rng.below(nb) as BrokerIx;
                    if !st.holds(p, d) {
                        st.apply_move(p, s, d);
                        if rng.below(3) == 0 {
                            st.apply_move(p, d, s);
                        }
                    }
                }
            };
            shuffle(&mut st, &mut rng, 300);
            let index = Index::of(&st);
            let mut queued = 0;
            for round in 0..3 {
                for s in 0..st.broker_count as BrokerIx {
                    let want = sorted_view(&st, s);
                    queued += want.1.len();
                    assert_eq!(
                        lazy_view(&st, &index, s),
                        want,
                        "seed {seed} round {round} broker {s}"
                    );
                }
                shuffle(&mut st, &mut rng, 200);
            }
            assert!(queued > 100, "topics in excess to rank: {queued}");
        }
    }

    /// The bucket queue pops what a binary heap of (excess, Reverse(group))
    /// pops, pushes in between included.
    #[test]
    fn the_bucket_queue_pops_as_the_heap() {
        let mut rng = SplitMix64::new(5);
        for _ in 0..50 {
            let entries: Vec<(i64, u32)> = (0..200).map(|g| (rng.below(6) as i64 - 1, g)).collect();
            let mut heap: BinaryHeap<(i64, Reverse<u32>)> = entries
                .iter()
                .filter(|&&(e, _)| e > 0)
                .map(|&(e, g)| (e, Reverse(g)))
                .collect();
            let mut queue = Queue::new(entries.into_iter());
            loop {
                let min = 1 + rng.below(2) as i64;
                let want = heap
                    .peek()
                    .filter(|&&(e, _)| e >= min)
                    .map(|&(e, Reverse(g))| (e, g));
                if want.is_some() {
                    heap.pop();
                }
                assert_eq!(queue.pop_at_least(min), want);
                let Some((e, g)) = want.or_else(|| heap.pop().map(|(e, Reverse(g))| (e, g))) else {
                    break;
                };
                if want.is_none() {
                    // Below `min` for both: take it from the queue too.
                    assert_eq!(queue.pop_at_least(1), Some((e, g)));
                }
                let back = e - rng.below(3) as i64;
                if rng.below(2) == 0 {
                    if back > 0 {
                        heap.push((back, Reverse(g)));
                    }
                    queue.push(back, g);
                }
            }
            assert_eq!(queue.pop_at_least(1), None);
        }
    }
}
