//! Topic transport: decides, for every topic at once, how many of its
//! replicas each broker ends with, and then which replicas move.
//!
//! The greedy count phases (`counts`) choose one move at a time and meet
//! the count bound, but a topic's spread is then whatever the order of
//! those moves left: on uneven racks, or after a broker dies, the topic
//! shares no longer add up to the brokers' quotas, and the greedy piles
//! the difference on a few topics. Here the whole question is one
//! min-cost flow. Partitions of a topic with the same brokers form a
//! group, and each group's replicas either stay, move within their rack,
//! or leave for racks the partition does not use yet:
//!
//! ```text
//! source -> (group, replica)  -> (topic, broker)           stay: cost 0
//!                             -> (topic, own rack)          move: cost 1
//!                             -> (group, leaving) -> (topic, rack)
//!                                  at most the partition's room per rack
//! (topic, rack) -> (topic, broker of that rack)
//! (topic, broker) -> broker   at most the topic's cap + 1
//! broker -> sink              its quota range (the floor as a reward)
//! ```
//!
//! A replica that already moved (in an earlier round) moves again for
//! free. The room per rack keeps two replicas of one partition out of one
//! new rack, and where a partition may hold two replicas in one rack
//! (`rf > racks`) a small rack is entered through the group's own edges to
//! the brokers it does not use yet, so what the flow asks is almost always
//! possible; what it ignores is that a replica could take the rack another
//! one of its partition vacates. Topics of single-replica partitions enter
//! a broker under its leader cap, since only that broker can lead them. The placement step then
//! matches each topic's leaving replicas to the brokers that lack the
//! topic, checking every partition for real; what it cannot place is
//! solved again, and the count phases that run afterwards finish the job.

use std::collections::BTreeMap;

use super::flow::{BIG, Flow, INF};
use super::replicas::Replicas;
use super::state::{BrokerIx, State};

/// Brings every topic to at most its own share plus `excess` replicas
/// per broker, and every target into its quota, with the fewest moves the
/// flow finds (counted from `start`, the replicas before planning).
/// Returns `None` (and changes nothing but the caps) when no placement
/// fits; otherwise the replicas left over for the count phases.
pub fn run(st: &mut State, start: &[Replicas], excess: u32) -> Option<u64> {
    st.set_topic_extra(excess.saturating_sub(1));
    let mut unplaced = place(st, &solve(st, start)?);
    for _ in 0..3 {
        if unplaced == 0 {
            break;
        }
        let Some(leaving) = solve(st, start) else {
            break;
        };
        unplaced = place(st, &leaving);
    }
    Some(unplaced)
}

/// The fewest moves the flow finds for count balance alone (topic caps
/// lifted): a finer reference than the simple and rack-routed bounds where
/// those count a partition's two replicas into one free rack, though not
/// a strict bound (it keeps a replica out of a rack another replica of
/// its partition leaves). `None` when no placement fits.
pub fn count_moves(st: &mut State, start: &[Replicas]) -> Option<u64> {
    st.set_topic_extra(1 << 24);
    solve(st, start).map(|sol| sol.cost)
}

/// Racks of at most this many target brokers get per-group edges that
/// skip the brokers a partition already uses (see [`Net::rack_entry`]).
const DIRECT_MAX: usize = 8;

/// A replica the flow moves: its partition, its broker, and the racks it
/// may go to (a bit set over rack indices, or `None` for "any rack with
/// room", past 64 racks, checked per move).
#[derive(Clone, Copy)]
struct Leaving {
    p: usize,
    from: BrokerIx,
    racks: Option<u64>,
}

/// What the flow decided: per topic, the replicas that leave and how many
/// of the topic each target should end with.
struct Solution {
    /// New moves the flow makes.
    cost: u64,
    leaving: BTreeMap<u32, Vec<Leaving>>,
    end: BTreeMap<(u32, BrokerIx), i64>,
}

/// Partitions of one topic on the same brokers (sorted), with which of
/// those replicas already moved.
type GroupKey = (u32, Vec<(BrokerIx, bool)>);

fn solve(st: &State, start: &[Replicas]) -> Option<Solution> {
    let mut groups: BTreeMap<GroupKey, Vec<usize>> = BTreeMap::new();
    for (p, reps) in st.reps.iter().enumerate() {
        let mut key: Vec<(BrokerIx, bool)> =
            reps.iter().map(|&a| (a, !start[p].contains(&a))).collect();
        key.sort_unstable();
        groups.entry((st.topic_of[p], key)).or_default().push(p);
    }
    let targets: Vec<BrokerIx> = (0..st.broker_count as BrokerIx)
        .filter(|&b| st.target[b as usize])
        .collect();
    let mut target_racks: Vec<u16> = targets.iter().map(|&b| st.rack_of(b)).collect();
    target_racks.sort_unstable();
    target_racks.dedup();
    let per_rack_of = |rf: usize| rf.div_ceil(st.k_target) as i64;

    // Topics of single-replica partitions: a broker can hold only so many
    // of those before leader balance cannot reach a spread of 2.
    let mut single = vec![true; st.topics()];
    for (p, r) in st.reps.iter().enumerate() {
        if r.len() != 1 {
            single[st.topic_of[p] as usize] = false;
        }
    }
    let mut net = Net::new(st, &targets, single);
    let (s, t) = (net.s, net.t);
    // Per group, per replica: edges to its own rack and to the group's
    // leaving node; per group, the leaving node's edges per rack.
    struct Edges {
        intra: Vec<Option<usize>>,
        cross: Vec<usize>,
        to_rack: Vec<(u16, usize)>,
    }
    let mut edges: Vec<Edges> = Vec::with_capacity(groups.len());
    for ((topic, reps), parts) in &groups {
        let n = parts.len() as i64;
        let per_rack = per_rack_of(reps.len());
        // Where a partition may hold two replicas in one rack, a broker of
        // that rack may already hold it: small racks then get edges that
        // skip the group's brokers (large ones have room enough).
        let brokers: Vec<BrokerIx> = if per_rack > 1 {
            reps.iter().map(|&(a, _)| a).collect()
        } else {
            Vec::new()
        };
        let mut entries: BTreeMap<BrokerIx, usize> = BTreeMap::new();
        let leave = net.g.node();
        let mut e = Edges {
            intra: Vec::with_capacity(reps.len()),
            cross: Vec::with_capacity(reps.len()),
            to_rack: Vec::new(),
        };
        for &(a, moved) in reps {
            let r = net.g.node();
            net.g.edge(s, r, n, 0);
            if st.target[a as usize] {
                let d = net.dst(*topic, a);
                net.g.edge(r, d, n, 0);
            }
            let cost = i64::from(!moved);
            let own = st.rack_of(a);
            e.intra.push(
                target_racks
                    .binary_search(&own)
                    .is_ok()
                    .then(|| net.rack_entry(*topic, own, &brokers, n, &mut entries))
                    .map(|h| net.g.edge(r, h, n, cost)),
            );
            e.cross.push(net.g.edge(r, leave, n, cost));
        }
        for &rk in &target_racks {
            let held = reps.iter().filter(|&&(a, _)| st.rack_of(a) == rk).count() as i64;
            if per_rack > held && st.k_target > 1 {
                let h = net.rack_entry(*topic, rk, &brokers, n, &mut entries);
                e.to_rack
                    .push((rk, net.g.edge(leave, h, n * (per_rack - held), 0)));
            }
        }
        edges.push(e);
    }

    let total: i64 = st.reps.iter().map(|r| r.len() as i64).sum();
    let (flow, cost) = net.g.min_cost_flow(s, t);
    if flow < total || net.floors.iter().any(|&e| net.g.left_on(e) > 0) {
        return None;
    }

    // Which partitions of a group leave: the flow gives counts per
    // replica; the smallest partitions go (they move the fewest bytes),
    // each replica's leavers after the previous replica's, so that one
    // partition does not lose two replicas while others keep both.
    let mut leaving: BTreeMap<u32, Vec<Leaving>> = BTreeMap::new();
    for (((topic, reps), parts), e) in groups.iter().zip(&edges) {
        let mut parts = parts.clone();
        parts.sort_by_key(|&p| (st.size[p], p));
        let new_racks = e
            .to_rack
            .iter()
            .filter(|&&(_, x)| net.g.flow_on(x) > 0)
            .fold(0u64, |m, &(r, _)| m | rack_bit(r));
        let mut next = 0usize;
        for (i, &(a, _)) in reps.iter().enumerate() {
            let intra = e.intra[i].map_or(0, |x| net.g.flow_on(x)) as usize;
            let cross = net.g.flow_on(e.cross[i]) as usize;
            let own = rack_bit(st.rack_of(a));
            let kinds =
                std::iter::repeat_n(own, intra).chain(std::iter::repeat_n(new_racks, cross));
            for racks in kinds {
                let p = parts[next % parts.len()];
                next += 1;
                leaving.entry(*topic).or_default().push(Leaving {
                    p,
                    from: a,
                    racks: (st.nracks <= 64).then_some(racks),
                });
            }
        }
    }
    let floor_units: i64 = net.floors.iter().map(|&e| net.g.flow_on(e)).sum();
    Some(Solution {
        cost: (cost + BIG * floor_units).max(0) as u64,
        leaving,
        end: net
            .dst
            .into_iter()
            .map(|(k, (_, e))| (k, net.g.flow_on(e)))
            .collect(),
    })
}

fn rack_bit(r: u16) -> u64 {
    if r < 64 { 1 << r } else { 0 }
}

/// The flow network of [`solve`], with its per-topic nodes made when
/// first needed.
struct Net<'a> {
    st: &'a State,
    targets: &'a [BrokerIx],
    g: Flow,
    s: usize,
    t: usize,
    broker: Vec<usize>,
    /// Per topic: whether all its partitions have one replica; those enter
    /// a broker through its `singles` node, capped at the leader cap.
    single_topic: Vec<bool>,
    singles: Vec<Option<usize>>,
    /// Edges that carry a broker's floor: all must fill.
    floors: Vec<usize>,
    /// (topic, broker) -> (node, edge to the broker).
    dst: BTreeMap<(u32, BrokerIx), (usize, usize)>,
    rack_hubs: BTreeMap<(u32, u16), usize>,
}

impl<'a> Net<'a> {
    fn new(st: &'a State, targets: &'a [BrokerIx], single_topic: Vec<bool>) -> Net<'a> {
        let mut g = Flow::default();
        let (s, t) = (g.node(), g.node());
        let mut broker = vec![usize::MAX; st.broker_count];
        let mut floors = Vec::new();
        for &b in targets {
            let n = g.node();
            broker[b as usize] = n;
            let (lo, hi) = (
                i64::from(st.floor[b as usize]),
                i64::from(st.ceiling[b as usize]),
            );
            floors.push(g.edge(n, t, lo, -BIG));
            g.edge(n, t, hi - lo, 0);
        }
        Net {
            st,
            targets,
            g,
            s,
            t,
            broker,
            single_topic,
            singles: vec![None; st.broker_count],
            floors,
            dst: BTreeMap::new(),
            rack_hubs: BTreeMap::new(),
        }
    }

    /// A topic's replicas ending on broker `b`: at most its cap plus one.
    fn dst(&mut self, topic: u32, b: BrokerIx) -> usize {
        if let Some(&(n, _)) = self.dst.get(&(topic, b)) {
            return n;
        }
        let n = self.g.node();
        let cap = i64::from(self.st.topic_cap(topic, b)) + 1;
        let into = if self.single_topic[topic as usize] {
            match self.singles[b as usize] {
                Some(x) => x,
                None => {
                    let x = self.g.node();
                    let lead = i64::from(self.st.leader_cap());
                    self.g.edge(x, self.broker[b as usize], lead, 0);
                    self.singles[b as usize] = Some(x);
                    x
                }
            }
        } else {
            self.broker[b as usize]
        };
        let e = self.g.edge(n, into, cap, 0);
        self.dst.insert((topic, b), (n, e));
        n
    }

    /// Where a group's replicas enter rack `r`: the topic's hub, or, for a
    /// small rack and a group on some of its brokers, a node of the group's
    /// own with an edge to each of the others (at most `n` each: one per
    /// partition).
    fn rack_entry(
        &mut self,
        topic: u32,
        r: u16,
        skip: &[BrokerIx],
        n: i64,
        own: &mut BTreeMap<BrokerIx, usize>,
    ) -> usize {
        let st = self.st;
        let members = self.targets.iter().filter(|&&b| st.rack_of(b) == r);
        if skip.is_empty()
            || members.clone().count() > DIRECT_MAX
            || !skip.iter().any(|&b| st.rack_of(b) == r)
        {
            return self.rack_hub(topic, r);
        }
        let x = self.g.node();
        let open: Vec<BrokerIx> = members.copied().filter(|b| !skip.contains(b)).collect();
        for b in open {
            // One node per (group, broker), shared by every way in, so a
            // partition lands on a broker at most once.
            let y = match own.get(&b) {
                Some(&y) => y,
                None => {
                    let y = self.g.node();
                    let d = self.dst(topic, b);
                    self.g.edge(y, d, n, 0);
                    own.insert(b, y);
                    y
                }
            };
            self.g.edge(x, y, n, 0);
        }
        x
    }

    /// A topic's replicas moving into rack `r`, to any of its brokers.
    fn rack_hub(&mut self, topic: u32, r: u16) -> usize {
        if let Some(&n) = self.rack_hubs.get(&(topic, r)) {
            return n;
        }
        let n = self.g.node();
        self.rack_hubs.insert((topic, r), n);
        let st = self.st;
        for &b in self.targets.iter().filter(|&&b| st.rack_of(b) == r) {
            let d = self.dst(topic, b);
            self.g.edge(n, d, INF, 0);
        }
        n
    }
}

/// Moves the replicas the solution sends away, topic by topic: a
/// matching of leaving replicas to the brokers that lack the topic (each
/// taking as many as it lacks), where a replica may go to a broker of its
/// racks that its partition does not use. Kuhn's augmenting paths find a
/// place for every replica whenever the matching allows one. Returns how
/// many could not be placed.
fn place(st: &mut State, sol: &Solution) -> u64 {
    let mut unplaced = 0u64;
    for (&topic, leaving) in &sol.leaving {
        let mut room: BTreeMap<BrokerIx, i64> = sol
            .end
            .range((topic, 0)..=(topic, BrokerIx::MAX))
            .map(|(&(_, b), &n)| (b, n - i64::from(st.topic_count(topic, b))))
            .collect();
        for l in leaving {
            if let Some(k) = room.get_mut(&l.from) {
                *k += 1;
            }
        }
        let dests: Vec<(BrokerIx, i64)> = room.into_iter().filter(|&(_, k)| k > 0).collect();
        let mut m = Matching {
            taken: vec![Vec::new(); dests.len()],
            dests,
            left: Vec::new(),
            at: Vec::new(),
            siblings: BTreeMap::new(),
        };
        // Replicas bound to their own rack first: they have the fewest
        // places to go.
        let mut order: Vec<&Leaving> = leaving.iter().collect();
        order.sort_by_key(|l| l.racks.map_or(u32::MAX, u64::count_ones));
        for &l in order {
            m.left.push(l);
            m.at.push(None);
            let i = m.left.len() - 1;
            m.siblings.entry(l.p).or_default().push(i);
            let mut seen = vec![false; m.dests.len()];
            if !m.try_place(st, i, &mut seen) {
                unplaced += 1;
            }
        }
        // Two replicas of one partition may trade racks: whichever order
        // keeps the partition rack safe in between goes first, so retry
        // what failed until nothing more applies.
        let mut pending: Vec<(usize, BrokerIx, BrokerIx)> = m
            .taken
            .iter()
            .enumerate()
            .flat_map(|(d, taken)| taken.iter().map(move |&i| (i, d)))
            .map(|(i, d)| (m.left[i].p, m.left[i].from, m.dests[d].0))
            .collect();
        loop {
            let before = pending.len();
            pending.retain(|&(p, a, b)| {
                let ok = st.holds(p, a) && !st.holds(p, b) && st.rack_ok(p, a, b);
                if ok {
                    st.apply_move(p, a, b);
                }
                !ok
            });
            if pending.len() == before {
                break;
            }
        }
        unplaced += pending.len() as u64;
    }
    unplaced
}

/// One topic's matching of leaving replicas to destination brokers.
struct Matching {
    /// Brokers that lack the topic, with how many they take.
    dests: Vec<(BrokerIx, i64)>,
    /// Per destination, the replicas (indices into `left`) it takes.
    taken: Vec<Vec<usize>>,
    left: Vec<Leaving>,
    /// Where each leaving replica is matched.
    at: Vec<Option<usize>>,
    /// Leaving replicas per partition: two of one partition must not land
    /// on one broker, nor (while the partition needs distinct racks) in
    /// one rack.
    siblings: BTreeMap<usize, Vec<usize>>,
}

impl Matching {
    fn fits(&self, st: &State, i: usize, d: usize) -> bool {
        let l = self.left[i];
        let b = self.dests[d].0;
        let r = st.rack_of(b);
        let distinct = st.reps[l.p].len() <= st.k_target;
        b != l.from
            && !st.holds(l.p, b)
            && l.racks.is_none_or(|m| m & rack_bit(r) != 0)
            && self.siblings[&l.p].iter().all(|&j| {
                j == i
                    || self.at[j].is_none_or(|e| {
                        let c = self.dests[e].0;
                        c != b && !(distinct && st.rack_of(c) == r)
                    })
            })
    }

    /// Kuhn's augmenting path for replica `i`.
    fn try_place(&mut self, st: &State, i: usize, seen: &mut [bool]) -> bool {
        for d in 0..self.dests.len() {
            if seen[d] || !self.fits(st, i, d) {
                continue;
            }
            seen[d] = true;
            if (self.taken[d].len() as i64) < self.dests[d].1 {
                self.taken[d].push(i);
                self.at[i] = Some(d);
                return true;
            }
            for k in 0..self.taken[d].len() {
                let j = self.taken[d][k];
                if self.try_place(st, j, seen) {
                    self.taken[d][k] = i;
                    self.at[i] = Some(d);
                    return true;
                }
            }
        }
        false
    }
}
