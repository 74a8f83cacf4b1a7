//! Replica moves: drain brokers outside the target set, then even out
//! replica counts, then (size objective) even out bytes by swaps.
//!
//! Every count move goes from a broker above its quota range to one below
//! it, or fills a broker below its range from one above its floor, so the
//! number of moves equals what must leave or arrive: the lower bound,
//! unless rack safety forbids a move.

use super::state::{B, State};

/// How far the planner may go: `--max-moves` and `--max-bytes`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Budget {
    pub max_moves: Option<u64>,
    pub max_bytes: Option<u64>,
}

impl Budget {
    fn exhausted(&self, st: &State) -> bool {
        self.max_moves.is_some_and(|m| st.moves >= m)
            || self.max_bytes.is_some_and(|m| st.bytes_moved >= m)
    }

    fn allows(&self, st: &State, size: u64) -> bool {
        self.max_bytes
            .is_none_or(|m| st.bytes_moved.saturating_add(size) <= m)
    }
}

/// How many acceptable candidates a scan weighs before taking the best,
/// when none is perfect. Bounds the work per move on huge brokers.
const SCAN_LIMIT: usize = 4096;

/// Whether bytes steer the choice of replica (`--objective size`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Steer {
    /// Prefer the smallest replicas: fewest bytes moved.
    Count,
    /// Prefer replicas whose move evens out bytes.
    Size,
}

/// Moves every movable replica off brokers outside the target set. Returns
/// the replicas that could not be placed (no rack-safe target left).
pub fn drain(st: &mut State, budget: &Budget, steer: Steer) -> u64 {
    let mut stranded = 0;
    let bideal = byte_ideals(st);
    let targets: Vec<B> = (0..st.nb as B).filter(|&b| st.target[b as usize]).collect();
    for s in 0..st.nb as B {
        if st.target[s as usize] {
            continue;
        }
        let list = std::mem::take(&mut st.on[s as usize]);
        for &p in &list {
            let p = p as usize;
            if !st.holds(p, s) || !st.movable[p] {
                continue;
            }
            if budget.exhausted(st) || !budget.allows(st, st.size[p]) {
                stranded += 1;
                continue;
            }
            match best_destination(st, p, s, &targets, steer, &bideal) {
                Some(d) => st.apply_move(p, s, d),
                None => stranded += 1,
            }
        }
        st.on[s as usize] = list;
    }
    stranded
}

/// The best target for partition `p`'s replica on `s`: a broker below its
/// range first, then one below its ceiling; within that the one where the
/// topic stays under its cap, then the least loaded.
fn best_destination(
    st: &State,
    p: usize,
    s: B,
    targets: &[B],
    steer: Steer,
    bideal: &[f64],
) -> Option<B> {
    let t = st.topic_of[p];
    let mut best: Option<((u8, u8, i64), B)> = None;
    for &d in targets {
        if st.holds(p, d) || !st.rack_ok(p, s, d) {
            continue;
        }
        let di = d as usize;
        let class = if st.count[di] < st.lo[di] {
            0
        } else if st.count[di] < st.hi[di] {
            1
        } else {
            2
        };
        let over = (st.tc(t, d) + 1).saturating_sub(st.cap(t, d)).min(2) as u8;
        let load = match steer {
            Steer::Count => st.count[di] as i64 - st.hi[di] as i64,
            Steer::Size => (st.bytes[di] as f64 / bideal[di].max(1.0) * 1e6) as i64,
        };
        let key = (class, over, load);
        if best.is_none_or(|(k, _)| key < k) {
            best = Some((key, d));
        }
    }
    best.map(|(_, d)| d)
}

/// Per-target byte ideals, computed once per phase.
/// Every replica ends on a target, so the bytes to share are all of them.
pub fn byte_ideals(st: &State) -> Vec<f64> {
    let total_bytes: u64 = st.bytes.iter().sum();
    let total: f64 = (0..st.nb)
        .filter(|&i| st.target[i])
        .map(|i| st.ideal[i])
        .sum();
    (0..st.nb)
        .map(|i| {
            if st.target[i] && total > 0.0 {
                total_bytes as f64 * st.ideal[i] / total
            } else {
                0.0
            }
        })
        .collect()
}

/// Evens out replica counts: every target ends within its quota range
/// unless racks or the budget forbid it.
pub fn balance_counts(st: &mut State, budget: &Budget, steer: Steer) {
    let targets: Vec<B> = (0..st.nb as B).filter(|&b| st.target[b as usize]).collect();
    let bideal = byte_ideals(st);
    let mut stuck = vec![false; st.nb];
    // Brokers above their ceiling shed replicas.
    while !budget.exhausted(st) {
        let Some(s) = targets
            .iter()
            .copied()
            .filter(|&b| !stuck[b as usize] && st.count[b as usize] > st.hi[b as usize])
            .max_by_key(|&b| {
                (
                    st.count[b as usize] - st.hi[b as usize],
                    std::cmp::Reverse(b),
                )
            })
        else {
            break;
        };
        let mut dests: Vec<B> = targets
            .iter()
            .copied()
            .filter(|&d| d != s && st.count[d as usize] < st.hi[d as usize])
            .collect();
        dests.sort_by_key(|&d| {
            let di = d as usize;
            (
                st.count[di] >= st.lo[di],
                st.rack_of(d) != st.rack_of(s),
                st.count[di] as i64 - st.lo[di] as i64,
                d,
            )
        });
        if !move_one(st, budget, steer, &bideal, &[s], &dests) {
            stuck[s as usize] = true;
        }
    }
    // Brokers below their floor take replicas from those above theirs.
    stuck.iter_mut().for_each(|x| *x = false);
    while !budget.exhausted(st) {
        let Some(d) = targets
            .iter()
            .copied()
            .filter(|&b| !stuck[b as usize] && st.count[b as usize] < st.lo[b as usize])
            .max_by_key(|&b| {
                (
                    st.lo[b as usize] - st.count[b as usize],
                    std::cmp::Reverse(b),
                )
            })
        else {
            break;
        };
        let mut sources: Vec<B> = targets
            .iter()
            .copied()
            .filter(|&s| s != d && st.count[s as usize] > st.lo[s as usize])
            .collect();
        sources.sort_by_key(|&s| {
            let si = s as usize;
            (
                std::cmp::Reverse(st.count[si] as i64 - st.lo[si] as i64),
                st.rack_of(s) != st.rack_of(d),
                s,
            )
        });
        if !move_one(st, budget, steer, &bideal, &sources, &[d]) {
            stuck[d as usize] = true;
        }
    }
}

/// Makes the best single move from one of `sources` to one of `dests`,
/// trying pairs in the given order. Returns whether a move was made.
fn move_one(
    st: &mut State,
    budget: &Budget,
    steer: Steer,
    bideal: &[f64],
    sources: &[B],
    dests: &[B],
) -> bool {
    for &s in sources {
        for &d in dests {
            if s == d {
                continue;
            }
            if let Some(p) = pick(st, budget, steer, bideal, s, d) {
                st.apply_move(p, s, d);
                return true;
            }
        }
    }
    false
}

/// Chooses the replica on `s` to move to `d`. Topic balance comes first:
/// a replica of a topic that `s` holds too much of, going where that topic
/// stays under its cap, is perfect. Then the steer decides among equals.
fn pick(
    st: &mut State,
    budget: &Budget,
    steer: Steer,
    bideal: &[f64],
    s: B,
    d: B,
) -> Option<usize> {
    let (si, di) = (s as usize, d as usize);
    let mut best: Option<((i64, i64), usize)> = None;
    let mut weighed = 0;
    let mut stale = 0;
    let list = std::mem::take(&mut st.on[si]);
    let byte_gap = |st: &State, z: u64| -> i64 {
        // How much further from their byte ideals s and d end up (lower is
        // better), in bytes.
        let (bs, bd) = (st.bytes[si] as f64, st.bytes[di] as f64);
        let before = (bs - bideal[si]).abs() + (bd - bideal[di]).abs();
        let after = (bs - z as f64 - bideal[si]).abs() + (bd + z as f64 - bideal[di]).abs();
        (after - before) as i64
    };
    for &p in &list {
        let p = p as usize;
        if !st.holds(p, s) {
            stale += 1;
            continue;
        }
        if !st.movable[p]
            || st.holds(p, d)
            || !budget.allows(st, st.size[p])
            || !st.rack_ok(p, s, d)
        {
            continue;
        }
        let t = st.topic_of[p];
        let src_ex = st.tc(t, s) as i64 - st.cap(t, s) as i64;
        let dst_over = st.tc(t, d) as i64 + 1 - st.cap(t, d) as i64;
        let topic_score = (src_ex > 0) as i64 + (dst_over <= 0) as i64 - 2 * (dst_over - 1).max(0);
        let tie = match steer {
            Steer::Count => st.size[p] as i64,
            Steer::Size => byte_gap(st, st.size[p]),
        };
        let key = (-topic_score, tie);
        if best.is_none_or(|(k, _)| key < k) {
            best = Some((key, p));
        }
        weighed += 1;
        // Lists are sorted by size, so under the count steer the first
        // perfect candidate is also the smallest.
        if topic_score == 2 && steer == Steer::Count || weighed >= SCAN_LIMIT {
            break;
        }
    }
    st.on[si] = list;
    if stale > st.on[si].len() / 2 {
        let reps = &st.reps;
        st.on[si].retain(|&p| reps[p as usize].contains(&s));
    }
    best.map(|(_, p)| p)
}

/// Evens out bytes (`--objective size`) with moves where counts allow and
/// swaps where they don't, until every target is within `tolerance` of its
/// byte share or no step helps.
pub fn balance_bytes(st: &mut State, budget: &Budget, tolerance: f64) {
    let targets: Vec<B> = (0..st.nb as B).filter(|&b| st.target[b as usize]).collect();
    if targets.len() < 2 {
        return;
    }
    let bideal = byte_ideals(st);
    let mut blocked: rustc_hash::FxHashSet<(B, B)> = Default::default();
    let max_steps = st.reps.len() * 4 + 1000;
    for _ in 0..max_steps {
        if budget.exhausted(st) {
            break;
        }
        let ratios: Vec<f64> = (0..st.nb)
            .map(|b| st.bytes[b] as f64 / bideal[b].max(1.0))
            .collect();
        let ratio = |b: B| ratios[b as usize];
        let mut order = targets.clone();
        order.sort_by(|&a, &b| ratio(b).total_cmp(&ratio(a)).then(a.cmp(&b)));
        let worst = ratio(order[0]);
        let best_low = ratio(*order.last().unwrap());
        if worst <= 1.0 + tolerance && best_low >= 1.0 - tolerance {
            break;
        }
        let mut stepped = false;
        'pairs: for (i, &s) in order.iter().enumerate() {
            if ratio(s) <= 1.0 {
                break;
            }
            for &d in order[i + 1..].iter().rev() {
                if ratio(d) >= ratio(s) || blocked.contains(&(s, d)) {
                    continue;
                }
                if byte_step(st, budget, &bideal, s, d) {
                    stepped = true;
                    break 'pairs;
                }
                blocked.insert((s, d));
            }
        }
        if !stepped {
            break;
        }
    }
}

/// One move or swap between a heavy broker `s` and a light one `d` that
/// shrinks the larger of their two deviations. Returns whether it acted.
fn byte_step(st: &mut State, budget: &Budget, bideal: &[f64], s: B, d: B) -> bool {
    let (si, di) = (s as usize, d as usize);
    let dev_s = st.bytes[si] as f64 - bideal[si];
    let dev_d = bideal[di] - st.bytes[di] as f64;
    if dev_s <= 0.0 || dev_d <= 0.0 {
        return false;
    }
    let want = dev_s.min(dev_d);
    // Moving `delta` bytes from s to d leaves deviations |dev_s - delta| and
    // |dev_d - delta|: anything in (0, 2 * want) helps, `want` is best.
    let gain = |delta: f64| -> f64 { want - (want - delta).abs() };
    let topic_ok = |st: &State, p: usize, to: B| {
        let t = st.topic_of[p];
        st.tc(t, to) + 1 <= st.cap(t, to) + 1
    };
    let from_s: Vec<usize> = live(st, s)
        .into_iter()
        .filter(|&p| st.movable[p] && !st.holds(p, d) && st.rack_ok(p, s, d) && topic_ok(st, p, d))
        .collect();
    let mut best: Option<(f64, usize, Option<usize>)> = None;
    let counts_allow_move = st.count[si] > st.lo[si] && st.count[di] < st.hi[di];
    if counts_allow_move {
        for &p in &from_s {
            let g = gain(st.size[p] as f64);
            if g > 0.0 && budget.allows(st, st.size[p]) && best.is_none_or(|(bg, _, _)| g > bg) {
                best = Some((g, p, None));
            }
        }
    }
    let mut from_d: Vec<usize> = live(st, d)
        .into_iter()
        .filter(|&q| st.movable[q] && !st.holds(q, s) && st.rack_ok(q, d, s) && topic_ok(st, q, s))
        .collect();
    from_d.sort_by_key(|&q| (st.size[q], q));
    for &p in &from_s {
        let zp = st.size[p] as f64;
        // The best partner has size close to zp - want.
        let goal = zp - want;
        let at = from_d.partition_point(|&q| (st.size[q] as f64) < goal);
        for &q in from_d[at.saturating_sub(1)..(at + 1).min(from_d.len())].iter() {
            if q == p {
                continue;
            }
            let g = gain(zp - st.size[q] as f64);
            if g > 0.0
                && budget.allows(st, st.size[p] + st.size[q])
                && best.is_none_or(|(bg, _, _)| g > bg + 1.0)
            {
                best = Some((g, p, Some(q)));
            }
        }
    }
    match best {
        Some((_, p, q)) => {
            st.apply_move(p, s, d);
            if let Some(q) = q {
                st.apply_move(q, d, s);
            }
            true
        }
        None => false,
    }
}

/// The partitions really on broker `b`, de-duplicated, in list order.
fn live(st: &State, b: B) -> Vec<usize> {
    let mut seen = rustc_hash::FxHashSet::default();
    st.on[b as usize]
        .iter()
        .map(|&p| p as usize)
        .filter(|&p| st.holds(p, b) && seen.insert(p))
        .collect()
}
