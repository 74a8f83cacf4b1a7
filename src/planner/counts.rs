//! Phase `counts`: every target broker ends in its quota range
//! (`floor..=ceiling` replicas) with the fewest moves, and the moves are chosen so
//! topics spread evenly too.
//!
//! Input: the state after the drain. Output: counts in range wherever
//! racks allow. Invariant: every move goes from a broker above its range
//! (or above its floor, to fill a deficit) to one below its floor (or
//! below its ceiling), except the rack detours racks force and the moves
//! paid from the allowance for topic balance.
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

use super::Objective;
use super::moves::{
    Ctx, FALLBACK_SCAN, RackPass, allowed_racks, byte_gap, excess, find_dest, shed_one,
    topic_class, topic_starts,
};
use super::state::{BrokerIx, State};

/// A candidate for `fill_one`: source class, topic over cap at the
/// destination, minus the topic's excess at the source, tie.
type FillKey = (u8, u32, i64, i64);

/// Evens out replica counts: every target ends within its quota range
/// unless racks forbid it.
pub fn balance(st: &mut State, objective: Objective, allowance: u64) {
    let mut allowance = relieve_receivers(st, allowance);
    // Further rounds, with rack totals held in range, settle what the
    // drift of the first left over.
    for drift in [true, false, false] {
        if !balance_once(st, objective, drift, &mut allowance) {
            return;
        }
    }
}

fn in_range(st: &State) -> bool {
    (0..st.broker_count)
        .all(|b| !st.target[b] || (st.floor[b]..=st.ceiling[b]).contains(&st.count[b]))
}

/// One pass of the count phases; false when nothing is left to do.
fn balance_once(st: &mut State, objective: Objective, drift: bool, allowance: &mut u64) -> bool {
    if in_range(st) {
        return false;
    }
    let mut cx = Ctx::new(st);
    cx.drift = drift;
    cx.allowance = *allowance;
    let targets: Vec<BrokerIx> = (0..st.broker_count as BrokerIx)
        .filter(|&b| st.target[b as usize])
        .collect();
    if st.nracks > 1 && st.k_target > 1 {
        balance_racks(st, &mut cx, objective);
    }
    cx.reset_scans();
    // Brokers above their ceiling shed, one move each per round so the
    // open brokers are shared fairly. Topics two or more over their cap
    // (beyond the bar) go first everywhere, before the room they need is
    // taken by topics only one over.
    for min_excess in [2, 1] {
        cx.min_excess = min_excess;
        shed_rounds(st, &mut cx, objective, &targets);
    }
    // Brokers below their floor take replicas from brokers above theirs.
    let mut stuck = vec![false; st.broker_count];
    loop {
        let mut sinks: Vec<BrokerIx> = targets
            .iter()
            .copied()
            .filter(|&b| !stuck[b as usize] && st.count[b as usize] < st.floor[b as usize])
            .collect();
        if sinks.is_empty() {
            break;
        }
        sinks.sort_by_key(|&b| (Reverse(st.floor[b as usize] - st.count[b as usize]), b));
        let mut moved = false;
        for d in sinks {
            if st.count[d as usize] >= st.floor[d as usize] {
                continue;
            }
            let rd = st.rack_of(d) as usize;
            let sources: Vec<BrokerIx> = targets
                .iter()
                .copied()
                .filter(|&s| {
                    let r = st.rack_of(s) as usize;
                    s != d
                        && st.count[s as usize] > st.floor[s as usize]
                        && (r == rd
                            || cx.rack_count[r] > cx.rack_lo[r]
                                && cx.rack_count[rd] < cx.rack_hi[rd])
                })
                .collect();
            if fill_one(st, &mut cx, objective, d, sources) {
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
fn shed_rounds(st: &mut State, cx: &mut Ctx, objective: Objective, targets: &[BrokerIx]) {
    let mut stuck = vec![false; st.broker_count];
    loop {
        let mut sources: Vec<BrokerIx> = targets
            .iter()
            .copied()
            .filter(|&b| !stuck[b as usize] && st.count[b as usize] > st.ceiling[b as usize])
            .collect();
        if sources.is_empty() {
            return;
        }
        sources.sort_by_key(|&b| (Reverse(st.count[b as usize] - st.ceiling[b as usize]), b));
        let mut moved = false;
        for s in sources {
            if st.count[s as usize] <= st.ceiling[s as usize] {
                continue;
            }
            let order = cx.rack_order(st, s);
            if shed_one(st, cx, objective, s, 1, &order) {
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
fn balance_racks(st: &mut State, cx: &mut Ctx, objective: Objective) {
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
            if export_from(
                st,
                cx,
                objective,
                r,
                &cx.export_order(r as u16),
                1,
                over_only,
            ) {
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
                    && export_from(st, cx, objective, r, &[hop as u16], 2, over_only)
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
            (st.ceiling[bi] as i64 - st.count[bi] as i64, Reverse(b))
        }) else {
            stuck[r] = true;
            continue;
        };
        let spare_v: Vec<bool> = (0..nr).map(|x| cx.rack_count[x] > cx.rack_lo[x]).collect();
        let sources = rack_sources(st, r, &spare_v);
        if fill_one(st, cx, objective, d, sources) {
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
                if fill_one(st, cx, objective, d, sources) {
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
fn rack_sources(st: &State, r: usize, racks: &[bool]) -> Vec<BrokerIx> {
    (0..st.broker_count as BrokerIx)
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
    objective: Objective,
    r: usize,
    order: &[u16],
    max_class: u8,
    over_only: bool,
) -> bool {
    if order.is_empty() {
        return false;
    }
    // The keys end in the broker, so they are distinct and any sort orders
    // them as the stable one did. The rack's brokers are kept in the order
    // of its last export, and only those whose count changed since (the
    // source and destination of each move, as `Ctx::apply` reports them)
    // are put back in place: the rack export calls this once a move, and
    // a sort of its 200 brokers each time was 5 % of `huge`, keying them
    // all for an insertion sort still 4 %.
    let key = |b: BrokerIx| {
        let bi = b as usize;
        (
            Reverse(st.count[bi] as i64 - st.ceiling[bi] as i64),
            Reverse(st.count[bi] as i64 - st.floor[bi] as i64),
            b,
        )
    };
    if cx.export_moves != st.moves {
        cx.export_sorted.iter_mut().for_each(Vec::clear);
        cx.export_moves = st.moves;
    }
    let mut sorted = std::mem::take(&mut cx.export_sorted[r]);
    let mut dirty = std::mem::take(&mut cx.export_dirty[r]);
    if sorted.len() != cx.by_rack[r].len() {
        sorted.clone_from(&cx.by_rack[r]);
        sorted.sort_unstable_by_key(|&b| key(b));
    } else {
        dirty.sort_unstable();
        dirty.dedup();
        sorted.retain(|b| dirty.binary_search(b).is_err());
        for &b in &dirty {
            let k = key(b);
            let at = sorted.partition_point(|&x| key(x) < k);
            sorted.insert(at, b);
        }
    }
    dirty.clear();
    cx.export_dirty[r] = dirty;
    // Brokers above their ceiling lead the order.
    let n = if over_only {
        sorted.partition_point(|&b| st.count[b as usize] > st.ceiling[b as usize])
    } else {
        sorted.len()
    };
    cx.export_sorted[r] = sorted;
    // A failed `shed_one` moves nothing, so the order holds until one
    // succeeds.
    (0..n).any(|i| {
        let s = cx.export_sorted[r][i];
        shed_one(st, cx, objective, s, max_class, order)
    })
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
fn fill_one(
    st: &mut State,
    cx: &mut Ctx,
    objective: Objective,
    d: BrokerIx,
    mut sources: Vec<BrokerIx>,
) -> bool {
    let rd = st.rack_of(d);
    // Keys computed once; they end in the broker, so they are distinct and
    // an unstable sort orders them as the stable one did.
    let mut keyed: Vec<_> = sources
        .iter()
        .map(|&s| {
            let si = s as usize;
            (
                Reverse(st.count[si] as i64 - st.ceiling[si] as i64),
                Reverse(st.count[si] as i64 - st.floor[si] as i64),
                st.rack_of(s) != rd,
                s,
            )
        })
        .collect();
    keyed.sort_unstable();
    sources.clear();
    sources.extend(keyed.iter().map(|k| k.3));
    // (source class, topic over cap at d, -excess at the source, tie)
    let mut best: Option<(FillKey, usize, BrokerIx)> = None;
    let mut weighed = 0;
    for s in sources {
        let si = s as usize;
        // A source above its ceiling first: taking from one within its
        // range leaves a gap that costs another move.
        let si_class = if st.count[si] > st.ceiling[si] {
            0
        } else if st.count[si] > st.floor[si] {
            1
        } else {
            2
        };
        // The same entries `partitions_on` has live, in its order, and
        // those of them that may go to `d`'s rack.
        let live = cx.take_live(st, s);
        let mut pass = cx.take_pass(s, rd);
        let found = fill_scan(
            st,
            cx,
            objective,
            d,
            s,
            si_class,
            (&live, &mut pass),
            &mut best,
            &mut weighed,
        );
        cx.put_live(s, live);
        cx.put_pass(s, pass);
        if found {
            break;
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

/// Weighs `s`'s candidates (its live list) for `fill_one`, keeping the
/// best in `best`; true when the scan should stop (a perfect candidate,
/// or enough weighed).
#[allow(clippy::too_many_arguments)]
fn fill_scan(
    st: &State,
    cx: &Ctx,
    objective: Objective,
    d: BrokerIx,
    s: BrokerIx,
    si_class: u8,
    (live, pass): (&[u32], &mut RackPass),
    best: &mut Option<(FillKey, usize, BrokerIx)>,
    weighed: &mut usize,
) -> bool {
    // The pass yields the entries `s` holds that `allowed_racks` lets go
    // to `d`'s rack.
    pass.scan(st, live, s, |p, t| {
        if st.holds(p, d) || st.nracks > 64 && !st.rack_ok(p, s, d) {
            return false;
        }
        *weighed += 1;
        let limit = *weighed >= FALLBACK_SCAN * 8;
        // Keys are compared part by part, and each part costs a lookup: a
        // candidate already beaten on a leading part is only counted (the
        // sources come mostly in class order, so once one above its
        // ceiling has a candidate, the rest are mostly only counted).
        let lead = best.map(|(bk, _, _)| (bk.0, bk.1));
        if lead.is_some_and(|l| l.0 < si_class) {
            return limit;
        }
        // Against a best of this class and topic within cap, a candidate
        // wins only with its topic within cap and at least as much excess
        // at the source: that lookup first, at `s`, whose topics come in
        // runs, instead of the one at `d`.
        if let Some(((bc, 0, neg_ex, _), _, _)) = *best
            && bc == si_class
            && -excess(st, t, s) > neg_ex
        {
            return limit;
        }
        let tk = topic_class(st, t, d);
        if lead.is_some_and(|l| l < (si_class, tk)) {
            return limit;
        }
        let ex = excess(st, t, s);
        let tie = match objective {
            Objective::Count => st.size[p] as i64,
            Objective::Size => byte_gap(st, &cx.bideal, s, d, st.size[p]),
        };
        let key = (si_class, tk, -ex, tie);
        if best.is_none_or(|(bk, _, _)| key < bk) {
            *best = Some((key, p, s));
        }
        if si_class == 0 && tk == 0 && ex > 0 && objective == Objective::Count || limit {
            return true;
        }
        false
    })
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
    let over: Vec<(u32, BrokerIx)> = st
        .topic_counts
        .entries_where(|t, b, n| {
            let bi = b as usize;
            st.target[bi] && st.count[bi] < st.floor[bi] && n > st.topic_cap(t, b) + 1
        })
        .into_iter()
        .map(|(t, b, _)| (t, b))
        .collect();
    for (t, a) in over {
        let order = cx.rack_order(st, a);
        for p in starts[t as usize]..starts[t as usize + 1] {
            if st.topic_count(t, a) <= st.topic_cap(t, a) + 1 {
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
