//! Bytes per broker. The size objective: once counts are even (see the
//! `counts` module), bytes are evened out by moves where counts allow and
//! by swaps where they do not. The count objective: the same steps, but
//! only with replicas that move anyway, or a source's own larger replica
//! sent instead of a smaller one that left it, so they cost no move.

use std::cell::Cell;

use super::Objective;
use super::moves::topic_starts;
use super::replicas::Replicas;
use super::state::{BrokerIx, State};

/// Phase `bytes`: for the count objective, [`even_moved_bytes`]; for the
/// size objective, [`balance_bytes`], and where a rack's count quota pins
/// bytes above the bar (a rack that must hold a replica of nearly every
/// partition), once more with counts allowed one outside their range, as
/// the bar allows, so the largest optional replicas can leave it.
///
/// Input: the plan after topic leveling and where replicas started, and
/// whether bytes moved are a budget (`--max-bytes`).
/// Output: bytes nearer their shares. Invariant: with the count objective
/// no move is added (bytes moved may grow: a substitution sends a larger
/// replica, never under a byte budget) and no topic goes past its share.
pub fn even_bytes(st: &mut State, start: &[Replicas], objective: Objective, byte_budget: bool) {
    match objective {
        // Under a byte budget the operator has said bytes moved are what
        // is scarce: a substitution would buy balance with them, and the
        // budget would then hold fewer moves.
        Objective::Count if byte_budget => even_out(st, 0.01, Some(start)),
        Objective::Count => even_moved_bytes(st, start),
        Objective::Size => {
            balance_bytes(st, 0.01);
            if worst_over_share(st) > 1.0 + SIZE_BAR {
                st.widen_quotas();
                balance_bytes(st, SIZE_BAR);
            }
        }
    }
}

/// Per-target byte ideals, computed once per phase.
/// Every replica ends on a target, so the bytes to share are all of them.
pub fn byte_ideals(st: &State) -> Vec<f64> {
    let total_bytes: u64 = st.bytes.iter().sum();
    let total: f64 = (0..st.broker_count)
        .filter(|&i| st.target[i])
        .map(|i| st.ideal[i])
        .sum();
    (0..st.broker_count)
        .map(|i| {
            if st.target[i] && total > 0.0 {
                total_bytes as f64 * st.ideal[i] / total
            } else {
                0.0
            }
        })
        .collect()
}

/// How far above its byte share the bar lets a broker end (5%).
pub const SIZE_BAR: f64 = 0.05;

/// The largest ratio of a target's bytes to its byte share.
pub fn worst_over_share(st: &State) -> f64 {
    let bideal = byte_ideals(st);
    (0..st.broker_count)
        .filter(|&b| st.target[b] && bideal[b] > 0.0)
        .map(|b| st.bytes[b] as f64 / bideal[b])
        .fold(0.0, f64::max)
}

/// Evens out bytes (`--objective size`) with moves where counts allow and
/// swaps where they don't, until every target is within `tolerance` of its
/// byte share or no step helps.
pub fn balance_bytes(st: &mut State, tolerance: f64) {
    even_out(st, tolerance, None);
}

/// The count objective's bytes, evened out for nothing: replicas that
/// already move (from `start`) are sent elsewhere instead, traded or alone
/// where counts stay in range; then a heavy source's departed replicas are
/// substituted by larger ones of its own ([`substitute`]), never past the
/// worst broker the trades left; then the trades run again. The plan
/// moves no more replicas, no topic goes above its own share, and the
/// worst broker ends no worse than the trades alone leave it. Both rounds
/// of trades are needed: the first ends as soon as the heaviest broker is
/// a pure source (nothing of it moves, so no trade can relieve it), often
/// at once, so the brokers the trades could relieve are still heavy; once
/// the substitutions relieved the sources, the second round reaches them
/// (and the receivers the substitutions loaded). Bytes moved grow by the
/// substitutions only.
pub fn even_moved_bytes(st: &mut State, start: &[Replicas]) {
    even_out(st, 0.01, Some(start));
    if substitute(st, start) {
        even_out(st, 0.01, Some(start));
    }
}

/// Which replica a broker sheds, chosen again by size: the count phases
/// send a source's smallest replicas (the fewest bytes), which leaves an
/// old broker with its largest and its bytes far above its share. Here a
/// replica that left a broker above its byte share comes back, and one of
/// its own that stayed, larger, goes to the same broker instead: one move
/// more and one less, counts kept, no topic past its share. Each trade is
/// at most what the source has above its share and what the receiver
/// lacks, so neither crosses its share, and no receiver ends above the
/// worst broker as it was (one that no substitution can help would stay
/// the worst, and a receiver pushed past it makes the plan worse). Only
/// bytes moved grow.
///
/// A budget keeps whole partitions of the plan (`budget`): the replica
/// sent instead is one of a partition that drains nothing, so a drain
/// never comes to depend on a second move of its partition, and none goes
/// back to a broker that is not a target.
///
/// One pass over the sources, heaviest first (by share), each with its
/// departed replicas smallest first and its own larger ones by size:
/// linear in the replicas but for sorting what a heavy source kept.
/// Whether it traded.
pub(super) fn substitute(st: &mut State, start: &[Replicas]) -> bool {
    let bideal = byte_ideals(st);
    let cap = (0..st.broker_count)
        .filter(|&b| st.target[b] && bideal[b] > 0.0)
        .map(|b| st.bytes[b] as f64 / bideal[b])
        .fold(0.0, f64::max);
    // Per broker, the partitions whose replica left it with their sizes,
    // smallest first (one that comes back is skipped later: it holds it
    // again).
    let mut departed: Vec<Vec<(u64, u32)>> = vec![Vec::new(); st.broker_count];
    for (p, (r, a)) in st.reps.iter().zip(start).enumerate() {
        if r == a || !st.movable[p] {
            continue;
        }
        for &b in a.iter().filter(|b| !r.contains(b)) {
            if st.target[b as usize] {
                departed[b as usize].push((st.size[p], p as u32));
            }
        }
    }
    for gone in &mut departed {
        gone.sort_unstable();
    }
    // What each broker above its share kept, read in one pass in partition
    // order: gathered per source instead, from its own list, each replica
    // was two cache misses (its replicas and where it started), most of
    // the phase on `large`. A broker that turns heavy later reads its own.
    let mut homes: Vec<Option<Kept>> = (0..st.broker_count)
        .map(|b| {
            (!departed[b].is_empty() && st.bytes[b] as f64 > bideal[b] * 1.01).then(Kept::default)
        })
        .collect();
    for (p, (r, a)) in st.reps.iter().zip(start).enumerate() {
        let z = st.size[p];
        if !st.movable[p] || !a.iter().all(|&b| st.target[b as usize]) {
            continue;
        }
        for &b in a {
            let bi = b as usize;
            if let Some(home) = &mut homes[bi]
                && z > departed[bi][0].0
                && r.contains(&b)
            {
                home.by_p.push((z, p as u32, st.topic_of[p]));
            }
        }
    }
    for home in homes.iter_mut().flatten() {
        home.live = home.by_p.len();
    }
    let starts = topic_starts(st);
    let mut stuck = vec![None; st.broker_count];
    let mut traded = false;
    // A receiver may end heavy itself: a few rounds, each one pass.
    for _ in 0..SUBSTITUTE_ROUNDS {
        let fixed = Fixed {
            start,
            bideal: &bideal,
            cap,
            departed: &departed,
            starts: &starts,
        };
        if !substitute_once(st, &fixed, &mut homes, &mut stuck) {
            break;
        }
        traded = true;
    }
    traded
}

/// A replica a source kept: its size, partition and topic.
type Home = (u64, u32, u32);

/// What a source kept (see [`substitute`]): its replicas where they
/// started, of partitions that drain nothing, larger than the smallest
/// one that left it.
///
/// Nearly every departed replica may only be replaced by one of its own
/// topic (the source holds its share of it): those are one run of
/// `by_p`, partitions of a topic being contiguous (`topic_starts`), sorted
/// where needed, a handful. Grouping the whole list by topic for every
/// source instead (a hash map of vectors, made and dropped per source and
/// pass) was half of the phase on `huge`, and sorting every list by size
/// up front another sixth.
#[derive(Default)]
struct Kept {
    /// In partition order. One traded away stays as a tombstone of size 0
    /// (every kept replica is larger than one that left, so above 0), so
    /// the list stays in partition order and a topic's run is found by
    /// binary search.
    by_p: Vec<Home>,
    /// How many of `by_p` are not tombstones.
    live: usize,
    /// The live ones by size, made when a replica of any topic may come
    /// (the source holds less than its share of the departed one's topic).
    by_size: Option<Vec<Home>>,
}

impl Kept {
    /// The live ones by size.
    fn by_size(&mut self) -> &[Home] {
        let by_p = &self.by_p;
        self.by_size.get_or_insert_with(|| {
            let mut l: Vec<Home> = by_p.iter().copied().filter(|h| h.0 > 0).collect();
            l.sort_unstable();
            l
        })
    }

    /// The live ones of topic `t` (partitions `range`) by size, into `out`:
    /// what filtering [`Kept::by_size`] by topic gives.
    fn of_topic(&self, t: u32, range: (usize, usize), out: &mut Vec<Home>) {
        let from = self.by_p.partition_point(|h| (h.1 as usize) < range.0);
        out.clear();
        out.extend(
            self.by_p[from..]
                .iter()
                .take_while(|h| (h.1 as usize) < range.1)
                .filter(|h| h.0 > 0 && h.2 == t),
        );
        out.sort_unstable();
    }

    /// `h` was traded away.
    fn remove(&mut self, h: Home) {
        if let Ok(i) = self.by_p.binary_search_by_key(&h.1, |e| e.1) {
            self.by_p[i].0 = 0;
            self.live -= 1;
        }
        if let Some(l) = &mut self.by_size
            && let Ok(i) = l.binary_search(&h)
        {
            l.remove(i);
        }
    }
}

/// What every pass of [`substitute`] reads.
struct Fixed<'a> {
    start: &'a [Replicas],
    bideal: &'a [f64],
    cap: f64,
    departed: &'a [Vec<(u64, u32)>],
    starts: &'a [usize],
}

/// Passes of [`substitute`].
const SUBSTITUTE_ROUNDS: usize = 3;

/// One pass of [`substitute`]; whether it traded.
fn substitute_once(
    st: &mut State,
    fixed: &Fixed,
    homes: &mut [Option<Kept>],
    stuck: &mut [Option<u64>],
) -> bool {
    let Fixed {
        start,
        bideal,
        cap,
        departed,
        starts,
    } = *fixed;
    let mut traded = false;
    // A source that found no trade in a pass is tried again only once its
    // own bytes changed (it received): its whole list was read for nothing.
    let mut sources: Vec<BrokerIx> = (0..st.broker_count as BrokerIx)
        .filter(|&b| {
            let bi = b as usize;
            !departed[bi].is_empty()
                && st.bytes[bi] as f64 > bideal[bi] * 1.01
                && stuck[bi] != Some(st.bytes[bi])
        })
        .collect();
    let ratio = |st: &State, b: BrokerIx| st.bytes[b as usize] as f64 / bideal[b as usize];
    sources.sort_by(|&a, &b| ratio(st, b).total_cmp(&ratio(st, a)).then(a.cmp(&b)));
    let mut same_topic: Vec<Home> = Vec::new();
    for s in sources {
        let si = s as usize;
        let gone = &departed[si];
        // Only a replica larger than one that left can replace it.
        let smallest = gone[0].0;
        // The replicas s holds where they started, of partitions that
        // drain nothing; one that leaves is marked (s no longer holds it).
        let home = homes[si].get_or_insert_with(|| {
            let mut by_p: Vec<Home> = st.partitions_on[si]
                .iter()
                .filter_map(|&p| {
                    let z = st.size[p as usize];
                    (z > smallest).then_some((z, p, st.topic_of[p as usize]))
                })
                .filter(|&(_, p, _)| {
                    let p = p as usize;
                    st.movable[p]
                        && st.holds(p, s)
                        && start[p].contains(&s)
                        && start[p].iter().all(|&b| st.target[b as usize])
                })
                .collect();
            by_p.sort_unstable_by_key(|h| h.1);
            by_p.dedup();
            let live = by_p.len();
            Kept {
                by_p,
                live,
                by_size: None,
            }
        });
        let mut moved_here = false;
        for &(zq, q) in gone {
            let q = q as usize;
            let over = st.bytes[si] as f64 - bideal[si];
            if over <= bideal[si] * 0.005 || home.live == 0 {
                break;
            }
            if st.holds(q, s) {
                continue;
            }
            let single = st.reps[q].len() == 1;
            let tq = st.topic_of[q];
            // Whether a replica of any topic may come instead of only
            // q's own, read once a receiver passed the cheaper checks (a
            // topic count misses the cache).
            let mut any_topic: Option<bool> = None;
            // Where q's replica went: any broker it did not start on.
            let found = st.reps[q]
                .iter()
                .copied()
                .filter(|&x| st.target[x as usize] && !start[q].contains(&x))
                .find_map(|x| {
                    let xi = x as usize;
                    let dev_x = st.bytes[xi] as f64 - bideal[xi];
                    if dev_x >= over || !st.rack_ok(q, x, s) {
                        return None;
                    }
                    let any = *any_topic.get_or_insert_with(|| {
                        let any = st.topic_count(tq, s) < st.share_of(tq, s);
                        if !any {
                            let range = (starts[tq as usize], starts[tq as usize + 1]);
                            home.of_topic(tq, range, &mut same_topic);
                        }
                        any
                    });
                    let list: &[Home] = if any { home.by_size() } else { &same_topic };
                    // As in `byte_step`: `want` evens the two out, and any
                    // trade below twice that leaves both below `over`.
                    let want = (over - dev_x) / 2.0;
                    let floor = bideal[si] * 1e-4;
                    // Nor past the worst broker's ratio on the receiver.
                    let room = cap * bideal[xi] - st.bytes[xi] as f64;
                    let gain = |z: u64| {
                        let delta = z as f64 - zq as f64;
                        let g = want - (want - delta).abs();
                        if g > floor && delta <= room { g } else { 0.0 }
                    };
                    let fits = |&&(_, p, tp): &&Home| {
                        let p = p as usize;
                        let r = &st.reps[p];
                        (r.len() == 1) == single
                            && (tp == tq || st.topic_count(tp, x) < st.share_of(tp, x))
                            && r.contains(&s)
                            && !r.contains(&x)
                            && st.rack_ok(p, s, x)
                    };
                    let goal = zq as f64 + want;
                    let at = list.partition_point(|&(z, _, _)| (z as f64) < goal);
                    // Below the goal only while larger than q (a smaller
                    // one gains nothing).
                    let below = list[..at]
                        .iter()
                        .rev()
                        .take_while(|&&(z, _, _)| z > zq)
                        .take(SWAP_SCAN)
                        .find(fits);
                    let above = list[at..].iter().take(SWAP_SCAN).find(fits);
                    [below, above]
                        .into_iter()
                        .flatten()
                        .map(|&(z, p, _)| (gain(z), p as usize))
                        .filter(|&(g, _)| g > 0.0)
                        .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)))
                        .map(|(_, p)| (p, x))
                });
            if let Some((p, x)) = found {
                st.apply_move(q, x, s);
                st.apply_move(p, s, x);
                // Out of the lists, so later scans do not read it again.
                home.remove((st.size[p], p as u32, st.topic_of[p]));
                moved_here = true;
            }
        }
        if moved_here {
            traded = true;
        } else {
            stuck[si] = Some(st.bytes[si]);
        }
    }
    traded
}

/// Which replicas a byte step may send. Lists may hold stale entries.
#[derive(Clone, Copy)]
enum Pool<'a> {
    /// Any replica (the size objective); `listed` is `State::partitions_on`.
    Any { listed: &'a [Vec<u32>] },
    /// For nothing (the count objective): only replicas that moved from
    /// `start`, `listed` per broker they moved to, and only for one of the
    /// same kind: a single-replica partition, which only its broker can
    /// lead, for another, so leader balance stays as reachable as it was.
    Moved {
        start: &'a [Replicas],
        listed: &'a [Vec<u32>],
        /// Brokers no step took part in yet: their lists are still their
        /// arrivals as `State::arrivals` made them, each held once.
        untouched: &'a [bool],
    },
}

impl<'a> Pool<'a> {
    fn listed(&self) -> &'a [Vec<u32>] {
        match *self {
            Pool::Any { listed } | Pool::Moved { listed, .. } => listed,
        }
    }

    /// Where replicas started, when only moved replicas may be sent.
    fn moved_from(&self) -> Option<&'a [Replicas]> {
        match *self {
            Pool::Any { .. } => None,
            Pool::Moved { start, .. } => Some(start),
        }
    }

    /// A replica that moved to `b` may go elsewhere for nothing.
    fn may_go(&self, st: &State, p: usize, b: BrokerIx) -> bool {
        st.movable[p] && self.moved_from().is_none_or(|start| !start[p].contains(&b))
    }
}

/// What a broker's pool list offers: the replicas really on it that may
/// go, de-duplicated, in list order (as the heavy side of a step reads
/// them) and by size (as the light side does). A pass tries one heavy
/// broker against many partners and the same partners again on later
/// passes, so this is kept per broker until a step changes it, instead
/// of being rebuilt for every pair.
struct Sendable {
    /// Empty for the moved pool, which reads only `by_size`.
    in_order: Vec<usize>,
    by_size: Vec<usize>,
    /// The topic of each of `by_size`.
    topics: Vec<u32>,
}

fn sendable(st: &State, pool: Pool, b: BrokerIx) -> Sendable {
    let listed = &pool.listed()[b as usize];
    let mut in_order: Vec<usize> = match pool {
        // Held, once each, and not started on b: what `live` and
        // `may_go` would find but for movability, without reading every
        // replica list and start (two cache misses apiece, most of the
        // trades' time on `huge`).
        Pool::Moved { untouched, .. } if untouched[b as usize] => listed
            .iter()
            .map(|&p| p as usize)
            .filter(|&p| st.movable[p])
            .collect(),
        _ => live(st, listed, b)
            .into_iter()
            .filter(|&p| pool.may_go(st, p, b))
            .collect(),
    };
    let by_size = match pool {
        Pool::Moved { .. } => std::mem::take(&mut in_order),
        Pool::Any { .. } => in_order.clone(),
    };
    // Sizes read once, not at every comparison.
    let mut keyed: Vec<(u64, usize)> = by_size.into_iter().map(|q| (st.size[q], q)).collect();
    keyed.sort_unstable();
    let by_size: Vec<usize> = keyed.into_iter().map(|(_, q)| q).collect();
    let topics = by_size.iter().map(|&q| st.topic_of[q]).collect();
    Sendable {
        in_order,
        by_size,
        topics,
    }
}

impl Sendable {
    /// The moved pool's offer of `b` after a step took `left` off it and
    /// put `came` on it (listed at the end of `b`'s arrivals): what
    /// [`sendable`] would make anew, a set sorted by (size, partition).
    /// Made anew, a heavy receiver's thousands of arrivals were read and
    /// sorted again after every step it took part in: most of the trades'
    /// time on `huge`.
    fn stepped(
        &mut self,
        st: &State,
        pool: Pool,
        b: BrokerIx,
        left: Option<usize>,
        came: Option<usize>,
    ) {
        let key = |q: usize| (st.size[q], q);
        if let Some(p) = left
            && let Ok(i) = self.by_size.binary_search_by_key(&key(p), |&q| key(q))
        {
            self.by_size.remove(i);
            self.topics.remove(i);
        }
        if let Some(p) = came
            && pool.may_go(st, p, b)
            && let Err(i) = self.by_size.binary_search_by_key(&key(p), |&q| key(q))
        {
            self.by_size.insert(i, p);
            self.topics.insert(i, st.topic_of[p]);
        }
    }
}

fn even_out(st: &mut State, tolerance: f64, start: Option<&[Replicas]>) {
    let targets: Vec<BrokerIx> = (0..st.broker_count as BrokerIx)
        .filter(|&b| st.target[b as usize])
        .collect();
    if targets.len() < 2 {
        return;
    }
    let mut arrived = start.map_or_else(Vec::new, |start| st.arrivals(start));
    let bideal = byte_ideals(st);
    let mut blocked: rustc_hash::FxHashSet<(BrokerIx, BrokerIx)> = Default::default();
    let mut offers: Vec<Option<Sendable>> = (0..st.broker_count).map(|_| None).collect();
    let mut untouched = vec![true; st.broker_count];
    let max_steps = st.reps.len() * 4 + 1000;
    for _ in 0..max_steps {
        let ratios: Vec<f64> = (0..st.broker_count)
            .map(|b| st.bytes[b] as f64 / bideal[b].max(1.0))
            .collect();
        let ratio = |b: BrokerIx| ratios[b as usize];
        let mut order = targets.clone();
        order.sort_by(|&a, &b| ratio(b).total_cmp(&ratio(a)).then(a.cmp(&b)));
        let worst = ratio(order[0]);
        let best_low = ratio(*order.last().unwrap());
        if worst <= 1.0 + tolerance && best_low >= 1.0 - tolerance {
            break;
        }
        let mut stepped = false;
        // For nothing, only the heaviest broker's bytes matter: when no
        // partner can take from it, the worst stays and the pass ends.
        let sources = if start.is_some() { 1 } else { order.len() };
        'pairs: for (i, &s) in order.iter().enumerate().take(sources) {
            if ratio(s) <= 1.0 {
                break;
            }
            for &d in order[i + 1..].iter().rev() {
                if ratio(d) >= ratio(s) || blocked.contains(&(s, d)) {
                    continue;
                }
                let pool = match start {
                    Some(start) => Pool::Moved {
                        start,
                        listed: &arrived,
                        untouched: &untouched,
                    },
                    None => Pool::Any {
                        listed: &st.partitions_on,
                    },
                };
                if let Some((p, q)) = byte_step(st, &bideal, s, d, pool, &mut offers) {
                    st.apply_move(p, s, d);
                    if let Some(q) = q {
                        st.apply_move(q, d, s);
                    }
                    if let Some(start) = start {
                        // Only s and d changed; no other offer holds p or
                        // q differently.
                        let pool = Pool::Moved {
                            start,
                            listed: &arrived,
                            untouched: &untouched,
                        };
                        for (b, left, came) in [(s, Some(p), q), (d, q, Some(p))] {
                            if let Some(offer) = &mut offers[b as usize] {
                                offer.stepped(st, pool, b, left, came);
                            }
                        }
                    } else {
                        offers[s as usize] = None;
                        offers[d as usize] = None;
                    }
                    if start.is_some() {
                        arrived[d as usize].push(p as u32);
                        arrived[s as usize].extend(q.map(|q| q as u32));
                    }
                    untouched[s as usize] = false;
                    untouched[d as usize] = false;
                    // Their contents changed: pairs with them may step now.
                    blocked.retain(|&(a, b)| a != s && a != d && b != s && b != d);
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

/// Swap partners looked at on each side of the ideal size, for one that
/// keeps topics within their caps.
const SWAP_SCAN: usize = 64;

/// One move or swap between a heavy broker `s` and a lighter one `d` that
/// brings their bytes closer together (the lighter may be above its share
/// too: with a few huge partitions the heaviest can often only trade with
/// another heavy one): the replica to send, and the one to take back.
fn byte_step(
    st: &State,
    bideal: &[f64],
    s: BrokerIx,
    d: BrokerIx,
    pool: Pool,
    offers: &mut [Option<Sendable>],
) -> Option<(usize, Option<usize>)> {
    let (si, di) = (s as usize, d as usize);
    let dev_s = st.bytes[si] as f64 - bideal[si];
    let dev_d = st.bytes[di] as f64 - bideal[di];
    if dev_s <= 0.0 || dev_s <= dev_d {
        return None;
    }
    let want = (dev_s - dev_d) / 2.0;
    // Moving `delta` bytes from s to d leaves both below dev_s for any
    // delta in (0, 2 * want); `want` evens them out. Tiny gains only churn.
    let floor = bideal[si] * 1e-4;
    let gain = |delta: f64| -> f64 {
        let g = want - (want - delta).abs();
        if g > floor { g } else { 0.0 }
    };
    let topic_ok = |st: &State, p: usize, to: BrokerIx| {
        let t = st.topic_of[p];
        match pool.moved_from() {
            // Within the bar afterwards: at most one over the cap.
            None => st.topic_count(t, to) <= st.topic_cap(t, to),
            Some(_) => st.topic_count(t, to) < st.share_of(t, to),
        }
    };
    let single = |p: usize| pool.moved_from().is_some() && st.reps[p].len() == 1;
    let offer_s = offers[si].get_or_insert_with(|| sendable(st, pool, s));
    let can_go = |&p: &usize| !st.holds(p, d) && st.rack_ok(p, s, d);
    let from_s: Vec<usize> = if pool.moved_from().is_some() {
        // Moved replicas are weighed by the largest, a bounded look: read
        // largest first and only until enough fit (filtering the whole
        // list for every partner was most of the trades' CPU once a
        // substitution had left a heavy receiver thousands of arrivals).
        offer_s
            .by_size
            .iter()
            .rev()
            .copied()
            .filter(can_go)
            .take(SWAP_SCAN)
            .collect()
    } else {
        offer_s.in_order.iter().copied().filter(can_go).collect()
    };
    // Nothing to send: no step (and the partner's side need not be read).
    if from_s.is_empty() {
        return None;
    }
    let mut best: Option<(f64, usize, Option<usize>)> = None;
    let counts_allow_move = st.count[si] > st.floor[si] && st.count[di] < st.ceiling[di];
    if counts_allow_move {
        for &p in &from_s {
            let g = gain(st.size[p] as f64);
            if g > 0.0 && !single(p) && topic_ok(st, p, d) && best.is_none_or(|(bg, _, _)| g > bg) {
                best = Some((g, p, None));
            }
        }
    }
    let offer = offers[di].get_or_insert_with(|| sendable(st, pool, d));
    let list = &offer.by_size;
    // Which of `d`'s replicas `s` may take, read only near each goal and
    // once: the looks below see the list as if filtered first (a filtered
    // sorted list is the sorted filtered list; sizes tie only with the
    // partition as tie-break, and the list is de-duplicated).
    let known: Vec<Cell<u8>> = vec![Cell::new(0); list.len()];
    let takes = |i: usize| match known[i].get() {
        0 => {
            let q = list[i];
            let ok = !st.holds(q, s) && st.rack_ok(q, d, s);
            known[i].set(if ok { 1 } else { 2 });
            ok
        }
        k => k == 1,
    };
    // Partners by topic (positions in `list`), for the topics there is
    // something to send of.
    let sent: rustc_hash::FxHashSet<u32> = from_s.iter().map(|&p| st.topic_of[p]).collect();
    let mut by_topic: rustc_hash::FxHashMap<u32, Vec<usize>> = Default::default();
    for (i, &tq) in offer.topics.iter().enumerate() {
        if sent.contains(&tq) {
            by_topic.entry(tq).or_default().push(i);
        }
    }
    let everything: Vec<usize> = (0..list.len()).collect();
    for &p in &from_s {
        let zp = st.size[p] as f64;
        // The best partner has size close to zp - want: the nearest one
        // on each side that keeps topics within their caps (a partner of
        // the same topic leaves every topic count as it was).
        let fits = |q: usize| {
            q != p
                && single(p) == single(q)
                && (st.topic_of[p] == st.topic_of[q] || topic_ok(st, p, d) && topic_ok(st, q, s))
        };
        let goal = zp - want;
        let nearest = |at: &[usize]| {
            let cut = at.partition_point(|&i| (st.size[list[i]] as f64) < goal);
            let near = |side: &mut dyn Iterator<Item = &usize>| {
                side.copied()
                    .filter(|&i| takes(i))
                    .take(SWAP_SCAN)
                    .map(|i| list[i])
                    .find(|&q| fits(q))
            };
            [
                near(&mut at[..cut].iter().rev()),
                near(&mut at[cut..].iter()),
            ]
        };
        let same = by_topic
            .get(&st.topic_of[p])
            .map_or([None, None], |l| nearest(l));
        for q in nearest(&everything).into_iter().chain(same).flatten() {
            let g = gain(zp - st.size[q] as f64);
            if g > 0.0 && best.is_none_or(|(bg, _, _)| g > bg + 1.0) {
                best = Some((g, p, Some(q)));
            }
        }
    }
    best.map(|(_, p, q)| (p, q))
}

/// The partitions of `list` really on broker `b`, de-duplicated, in list
/// order.
fn live(st: &State, list: &[u32], b: BrokerIx) -> Vec<usize> {
    let mut seen = rustc_hash::FxHashSet::default();
    list.iter()
        .map(|&p| p as usize)
        .filter(|&p| st.holds(p, b) && seen.insert(p))
        .collect()
}
