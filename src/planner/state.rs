//! The planner's working state: dense indices, replica lists, and the
//! counters every move keeps up to date.

use rustc_hash::FxHashMap;

use super::bound::{TopicRacks, topic_floor};
use super::ideal::{RfSums, bounds};
use super::online::Online;
pub use super::replicas::Replicas;

/// Dense broker index (position in `Cluster::brokers`).
pub type BrokerIx = u16;

pub struct State {
    pub broker_count: usize,
    /// Rack index per broker, `None` when planning rack-unaware.
    pub rack: Vec<Option<u16>>,
    /// Racks in the snapshot (at least 1), for indexing `topic_caps`.
    pub nracks: usize,
    /// Racks that hold a target broker: what "rack safe" is judged against.
    pub k_target: usize,
    pub target: Vec<bool>,
    pub topic_of: Vec<u32>,
    pub size: Vec<u64>,
    pub movable: Vec<bool>,
    pub reps: Vec<Replicas>,
    pub count: Vec<u32>,
    pub bytes: Vec<u64>,
    /// Replicas of a topic on a broker.
    pub topic_counts: TopicCounts,
    /// Partitions per broker; may hold stale entries (checked on use).
    pub partitions_on: Vec<Vec<u32>>,
    /// Quota range per broker: `floor..=ceiling` replicas (0 for non-targets).
    pub floor: Vec<u32>,
    pub ceiling: Vec<u32>,
    /// Per-broker ideal replica count (fractional), for byte shares.
    pub ideal: Vec<f64>,
    /// Cap of a topic's replicas on one broker, per `(topic, rack)`.
    pub topic_caps: Vec<u32>,
    /// Each topic's own share per broker, per `(topic, rack)`: the
    /// per-topic water-filling, rounded up. What topic excess is measured
    /// against.
    pub share: Vec<u32>,
    /// Target brokers per rack, and what each topic must and may put in
    /// one rack (`sum floor(rf/K)`, `sum ceil(rf/K)`), for [`Self::topic_floor`].
    rack_sizes: Vec<usize>,
    topic_rack_range: Vec<(u64, u64, u64)>,
    pub moves: u64,
    pub bytes_moved: u64,
}

impl State {
    /// A state of every partition of `cluster` (see [`State::of`]).
    #[cfg(test)]
    pub fn new(
        cluster: &crate::model::Cluster,
        reps: Vec<Replicas>,
        target: Vec<bool>,
        movable: Vec<bool>,
        use_racks: bool,
    ) -> State {
        Self::of(&Online::all(cluster), reps, target, movable, use_racks)
    }

    /// A state of the partitions `cluster` lists, replicas at `reps` (one
    /// list per partition, in its order).
    pub(crate) fn of(
        cluster: &Online,
        reps: Vec<Replicas>,
        target: Vec<bool>,
        movable: Vec<bool>,
        use_racks: bool,
    ) -> State {
        Self::of_ordered(cluster, reps, target, movable, use_racks, None)
    }

    /// [`State::of`], each broker's partition list in the order `order`
    /// gives: partition order with `None`; with `Some(salt)`, smallest
    /// first, ties broken by a mix of `salt` and the partition (the order
    /// the phases take a broker's replicas in; see `Planner::fresh`).
    pub(crate) fn of_ordered(
        cluster: &Online,
        reps: Vec<Replicas>,
        target: Vec<bool>,
        movable: Vec<bool>,
        use_racks: bool,
        order: Option<u64>,
    ) -> State {
        let brokers = cluster.brokers();
        let nb = brokers.len();
        let mut rack_names: Vec<&str> = Vec::new();
        if use_racks {
            rack_names = brokers.iter().filter_map(|b| b.rack.as_deref()).collect();
            rack_names.sort_unstable();
            rack_names.dedup();
        }
        let rack: Vec<Option<u16>> = brokers
            .iter()
            .map(|b| {
                let name = b.rack.as_deref()?;
                rack_names.binary_search(&name).ok().map(|r| r as u16)
            })
            .collect();
        let nracks = rack_names.len().max(1);
        let mut target_racks: Vec<u16> = (0..nb)
            .filter(|&b| target[b])
            .map(|b| rack[b].unwrap_or(0))
            .collect();
        target_racks.sort_unstable();
        target_racks.dedup();
        let k_target = target_racks.len().max(1);
        let mut topic_of = Vec::with_capacity(reps.len());
        let mut size = Vec::with_capacity(reps.len());
        for (ti, (_, partitions)) in cluster.topics().enumerate() {
            for p in partitions {
                topic_of.push(ti as u32);
                size.push(p.size_bytes);
            }
        }
        // No topic's count on one broker can exceed its replicas.
        let mut per_topic = vec![0usize; cluster.topic_count()];
        for (p, r) in reps.iter().enumerate() {
            per_topic[topic_of[p] as usize] += r.len();
        }
        let most = per_topic.into_iter().max().unwrap_or(0);
        let mut st = State {
            broker_count: nb,
            rack,
            nracks,
            k_target,
            target,
            topic_of,
            size,
            movable,
            reps,
            count: vec![0; nb],
            bytes: vec![0; nb],
            topic_counts: TopicCounts::new(cluster.topic_count(), nb, most),
            partitions_on: vec![Vec::new(); nb],
            floor: vec![0; nb],
            ceiling: vec![0; nb],
            ideal: vec![0.0; nb],
            topic_caps: Vec::new(),
            share: Vec::new(),
            rack_sizes: Vec::new(),
            topic_rack_range: Vec::new(),
            moves: 0,
            bytes_moved: 0,
        };
        st.recount();
        st.list_partitions(order);
        st.compute_quotas(cluster.topic_count());
        st
    }

    /// Counts every replica into counters that start at zero (a new
    /// state's: clearing them again wrote the 95 MB topic table of `huge`
    /// once more).
    fn recount(&mut self) {
        for (p, reps) in self.reps.iter().enumerate() {
            let t = self.topic_of[p];
            for &b in reps {
                self.count[b as usize] += 1;
                self.bytes[b as usize] += self.size[p];
                self.topic_counts.add(t, b);
            }
        }
    }

    /// Fills each broker's partition list (after [`Self::recount`]) in
    /// the order [`Self::of_ordered`] describes. Partitions are visited
    /// once in that order, so every list comes out sorted: one sort of
    /// the partitions instead of one per broker over every replica (5.5M
    /// on `huge`), whose keys are distinct (sizes tie, but the mix of a
    /// salt and a partition is a bijection of the partition), so the
    /// lists are exactly what sorting each would give. Each list gets the
    /// room it had when grown by pushes, so later moves find it there.
    fn list_partitions(&mut self, order: Option<u64>) {
        for (list, &n) in self.partitions_on.iter_mut().zip(&self.count) {
            let room = if n == 0 {
                0
            } else {
                (n as usize).next_power_of_two().max(4)
            };
            *list = Vec::with_capacity(room);
        }
        let mut push = |p: u32| {
            for &b in &self.reps[p as usize] {
                self.partitions_on[b as usize].push(p);
            }
        };
        match order {
            None => (0..self.reps.len() as u32).for_each(&mut push),
            Some(salt) => {
                let mut keys: Vec<(u64, u64, u32)> = (0..self.reps.len())
                    .map(|p| (self.size[p], mix(salt ^ p as u64), p as u32))
                    .collect();
                // The keys are distinct, so any sort gives the one order:
                // a large table is sorted in two halves at once (on a
                // second core) and merged as it is pushed.
                if keys.len() < PARALLEL_SORT {
                    keys.sort_unstable();
                    keys.into_iter().for_each(|(_, _, p)| push(p));
                } else {
                    let half = keys.len() / 2;
                    let (lo, hi) = keys.split_at_mut(half);
                    std::thread::scope(|scope| {
                        scope.spawn(|| lo.sort_unstable());
                        hi.sort_unstable();
                    });
                    let (mut i, mut j) = (0, 0);
                    while i < lo.len() || j < hi.len() {
                        if j == hi.len() || (i < lo.len() && lo[i] < hi[j]) {
                            push(lo[i].2);
                            i += 1;
                        } else {
                            push(hi[j].2);
                            j += 1;
                        }
                    }
                }
            }
        }
    }

    fn compute_quotas(&mut self, ntopics: usize) {
        // Water-filling runs over the racks that hold targets only.
        let mut sizes_all = vec![0usize; self.nracks];
        for b in 0..self.broker_count {
            if self.target[b] {
                sizes_all[self.rack_of(b as BrokerIx) as usize] += 1;
            }
        }
        let compact: Vec<usize> = sizes_all.iter().copied().filter(|&n| n > 0).collect();
        let expand = |xs: Vec<f64>| -> Vec<f64> {
            let mut it = xs.into_iter();
            sizes_all
                .iter()
                .map(|&n| if n > 0 { it.next().unwrap_or(0.0) } else { 0.0 })
                .collect()
        };
        let mut all = RfSums::default();
        let mut per_topic = vec![RfSums::default(); ntopics];
        for (p, r) in self.reps.iter().enumerate() {
            all.add(r.len(), self.k_target);
            per_topic[self.topic_of[p] as usize].add(r.len(), self.k_target);
        }
        let ideal = expand(all.ideal(&compact));
        for b in 0..self.broker_count {
            if self.target[b] {
                let x = ideal[self.rack_of(b as BrokerIx) as usize];
                self.ideal[b] = x;
                (self.floor[b], self.ceiling[b]) = bounds(x);
            }
        }
        self.share = Vec::with_capacity(ntopics * self.nracks);
        // Topics of the same shape (partitions by replication factor) have
        // the same shares: each shape's water-filling runs once (47,682
        // topics on `huge`, a few hundred shapes).
        let mut shares: FxHashMap<&RfSums, Vec<u32>> = FxHashMap::default();
        for s in &per_topic {
            let of_shape = shares.entry(s).or_insert_with(|| {
                expand(s.ideal(&compact))
                    .into_iter()
                    .map(|x| bounds(x).1)
                    .collect()
            });
            self.share.extend_from_slice(of_shape);
        }
        self.topic_rack_range = per_topic.iter().map(|s| (s.total, s.lo, s.hi)).collect();
        self.rack_sizes = sizes_all.clone();
        if compact.len() <= 1 {
            self.topic_caps = self.share.clone();
            return;
        }
        self.topic_caps = Vec::with_capacity(ntopics * self.nracks);
        // Per topic, the share consistent with the brokers' own ideals. A
        // partition puts floor(rf/K) replicas in every rack whatever
        // happens (with rf = K, one per rack: a small rack's brokers carry
        // more of those); the rest are free to go anywhere and fill what
        // each rack has left. So a topic's free replicas are spread in
        // proportion to the free room per broker of each rack. On even
        // racks this is the plain per-topic water-filling; on uneven ones
        // that water-filling ignores the pull of the fixed replicas, no
        // placement can meet it for large topics, and this spreads the
        // unavoidable skew evenly over topics instead of piling it on a few.
        let k = compact.len() as f64;
        let fixed = all.lo as f64;
        let free: Vec<f64> = (0..self.nracks)
            .map(|r| match sizes_all[r] {
                0 => 0.0,
                n => (ideal[r] - fixed / n as f64).max(0.0),
            })
            .collect();
        let free_total: f64 = (0..self.nracks)
            .map(|r| sizes_all[r] as f64 * free[r])
            .sum();
        for s in &per_topic {
            let movable = s.total as f64 - k * s.lo as f64;
            for r in 0..self.nracks {
                let n = sizes_all[r] as f64;
                if n == 0.0 {
                    self.topic_caps.push(0);
                    continue;
                }
                let spread = if free_total > 0.0 {
                    movable * free[r] / free_total
                } else {
                    0.0
                };
                // A rack holds at most ceil(rf/K) of each partition.
                let x = ((s.lo as f64 + spread * n) / n).min(s.hi as f64 / n);
                self.topic_caps.push(bounds(x).1);
            }
        }
    }

    /// Caps every topic at its own share plus `extra` (instead of the
    /// proportional caps), for placements that can meet them exactly.
    pub fn set_topic_extra(&mut self, extra: u32) {
        self.topic_caps = self.share.iter().map(|&x| x + extra).collect();
    }

    /// The most replicas of one topic any target holds above its share.
    pub fn topic_excess(&self) -> u32 {
        let mut most = 0;
        self.topic_counts.for_each(|t, b, n| {
            if self.target[b as usize] {
                most = most.max(n.saturating_sub(self.share_of(t, b)));
            }
        });
        most
    }

    /// Topic `t`'s own share on broker `b`, rounded up.
    pub fn share_of(&self, t: u32, b: BrokerIx) -> u32 {
        self.share[t as usize * self.nracks + self.rack_of(b) as usize]
    }

    /// Every (topic, target) whose count `keep(t, b, n)` accepts, topic by
    /// topic (`starts`: each topic's first partition, and the end), each
    /// topic's brokers in the order its partitions first name them.
    /// Counted from the replica lists (a partition holds a broker at most
    /// once, so this is the topic count): one pass over the replicas, where
    /// reading every (topic, broker) count read 48M of them on `huge`.
    pub fn targets_where(
        &self,
        starts: &[usize],
        mut keep: impl FnMut(u32, BrokerIx, u32) -> bool,
    ) -> Vec<(u32, BrokerIx)> {
        let mut n = vec![0u32; self.broker_count];
        let mut seen: Vec<BrokerIx> = Vec::new();
        let mut out = Vec::new();
        for t in 0..starts.len() - 1 {
            for p in starts[t]..starts[t + 1] {
                for &b in &self.reps[p] {
                    if n[b as usize] == 0 {
                        seen.push(b);
                    }
                    n[b as usize] += 1;
                }
            }
            let t = t as u32;
            for &b in &seen {
                let count = n[b as usize];
                debug_assert_eq!(count, self.topic_count(t, b));
                if self.target[b as usize] && keep(t, b, count) {
                    out.push((t, b));
                }
                n[b as usize] = 0;
            }
            seen.clear();
        }
        out
    }

    /// Lets every target end one replica outside its quota range, as the
    /// bar allows (excess and deficit at most 1). Measured from the ideal,
    /// so widening twice is widening once.
    pub fn widen_quotas(&mut self) {
        for b in (0..self.broker_count).filter(|&b| self.target[b]) {
            (self.floor[b], self.ceiling[b]) = self.quota(b, 1);
        }
    }

    /// A target's quota range from its ideal, `slack` wider on each side.
    fn quota(&self, b: usize, slack: u32) -> (u32, u32) {
        let (lo, hi) = bounds(self.ideal[b]);
        (lo.saturating_sub(slack), hi + slack)
    }

    /// Movable replicas still on brokers outside the target set.
    pub fn stranded(&self) -> u64 {
        self.reps
            .iter()
            .zip(&self.movable)
            .filter(|&(_, &m)| m)
            .flat_map(|(r, _)| r)
            .filter(|&&b| !self.target[b as usize])
            .count() as u64
    }

    /// Replicas that end where they did not start: a replica moved twice
    /// counts once, or not at all if it came back.
    pub fn net_moves(&self, start: &[Replicas]) -> u64 {
        self.reps
            .iter()
            .zip(start)
            .filter(|&(r, a)| r != a)
            .map(|(r, a)| r.iter().filter(|b| !a.contains(b)).count() as u64)
            .sum()
    }

    /// Per broker, the partitions whose replica moved there from `start`:
    /// sending one of them elsewhere instead costs no move.
    pub fn arrivals(&self, start: &[Replicas]) -> Vec<Vec<u32>> {
        let mut arrived = vec![Vec::new(); self.broker_count];
        for (p, (r, s)) in self.reps.iter().zip(start).enumerate() {
            if r == s {
                continue;
            }
            for &b in r.iter().filter(|b| !s.contains(b)) {
                arrived[b as usize].push(p as u32);
            }
        }
        arrived
    }

    /// A replica sent on and later back can leave a partition on the
    /// brokers it started on in another order; such a partition keeps its
    /// order, so only leader balance decides what is reordered (and a
    /// budget, which weighs changed brokers, sees the same plan).
    pub fn keep_unmoved_order(&mut self, start: &[Replicas]) {
        for (r, s) in self.reps.iter_mut().zip(start) {
            if r != s && r.len() == s.len() && s.iter().all(|b| r.contains(b)) {
                r.clone_from(s);
            }
        }
    }

    pub fn topics(&self) -> usize {
        self.topic_rack_range.len()
    }

    /// Leaders one broker may take with the spread still within 2: one
    /// above the even share.
    pub fn leader_cap(&self) -> u32 {
        let targets = self.target.iter().filter(|&&t| t).count().max(1);
        (self.reps.len().div_ceil(targets) + 1) as u32
    }

    /// Single-replica partitions per broker: only that broker can lead
    /// them.
    pub fn singles(&self) -> Vec<u32> {
        let mut singles = vec![0u32; self.broker_count];
        for r in self.reps.iter().filter(|r| r.len() == 1) {
            singles[r[0] as usize] += 1;
        }
        singles
    }

    /// How far the most single-replica partitions on one target (which
    /// only it can lead) go above [`Self::leader_cap`]: leader balance
    /// cannot bring the spread within 2 while this is above 0.
    pub fn single_excess(&self) -> u32 {
        let singles = self.singles();
        let cap = self.leader_cap();
        (0..self.broker_count)
            .filter(|&b| self.target[b])
            .map(|b| singles[b].saturating_sub(cap))
            .max()
            .unwrap_or(0)
    }

    /// The least topic excess any placement with every target within
    /// `slack` of its quota range can reach (see [`topic_floor`]); `None`
    /// if none fits.
    pub fn topic_floor(&self, slack: u32) -> Option<u32> {
        let mut racks: Vec<(u64, u64, u64)> = Vec::new();
        let mut index = Vec::new();
        for (r, &n) in self.rack_sizes.iter().enumerate() {
            if n == 0 {
                continue;
            }
            let (mut lo, mut hi) = (0u64, 0u64);
            for b in (0..self.broker_count)
                .filter(|&b| self.target[b] && self.rack_of(b as BrokerIx) as usize == r)
            {
                let (l, h) = self.quota(b, slack);
                lo += u64::from(l);
                hi += u64::from(h);
            }
            racks.push((n as u64, lo, hi));
            index.push(r);
        }
        let topics: Vec<TopicRacks> = self
            .topic_rack_range
            .iter()
            .enumerate()
            .filter(|(_, r)| r.0 > 0)
            .map(|(t, &(total, lo, hi))| TopicRacks {
                total,
                lo,
                hi,
                share: index
                    .iter()
                    .map(|&r| u64::from(self.share[t * self.nracks + r]))
                    .collect(),
            })
            .collect();
        topic_floor(&topics, &racks).map(|e| e as u32)
    }

    /// The excess of topic `t` over its share (`topic_count - share_of`)
    /// on each of `bs`, in order, into `out`: the table's kind matched
    /// once and its row read in one sweep, where a look at a thousand
    /// targets one `topic_count` at a time was most of leveling's time.
    pub fn topic_excesses(&self, t: u32, bs: &[BrokerIx], out: &mut Vec<i64>) {
        let ti = t as usize;
        let shares = &self.share[ti * self.nracks..(ti + 1) * self.nracks];
        let ex = |b: BrokerIx, n: u32| i64::from(n) - i64::from(shares[self.rack_of(b) as usize]);
        out.clear();
        match &self.topic_counts {
            TopicCounts::Dense { nb, n } => {
                let row = &n[ti * nb..(ti + 1) * nb];
                out.extend(bs.iter().map(|&b| ex(b, row[b as usize])));
            }
            TopicCounts::Dense16 { nb, n } => {
                let row = &n[ti * nb..(ti + 1) * nb];
                out.extend(bs.iter().map(|&b| ex(b, u32::from(row[b as usize]))));
            }
            TopicCounts::Sparse(_) => {
                out.extend(bs.iter().map(|&b| ex(b, self.topic_count(t, b))));
            }
        }
    }

    pub fn rack_of(&self, b: BrokerIx) -> u16 {
        self.rack[b as usize].unwrap_or(0)
    }

    pub fn topic_count(&self, t: u32, b: BrokerIx) -> u32 {
        self.topic_counts.get(t, b)
    }

    pub fn topic_cap(&self, t: u32, b: BrokerIx) -> u32 {
        self.topic_caps[t as usize * self.nracks + self.rack_of(b) as usize]
    }

    /// Distinct racks a replica list spans.
    pub fn spread(&self, reps: impl Iterator<Item = BrokerIx>) -> usize {
        let mut seen: u64 = 0;
        let mut extra: Vec<u16> = Vec::new();
        for b in reps {
            let r = self.rack_of(b);
            if r < 64 {
                seen |= 1 << r;
            } else if !extra.contains(&r) {
                extra.push(r);
            }
        }
        seen.count_ones() as usize + extra.len()
    }

    /// Whether replacing `s` by `d` in partition `p` keeps it rack safe: it
    /// spans `min(rf, racks)` racks afterwards, or at least no fewer than
    /// before when it already fell short.
    pub fn rack_ok(&self, p: usize, s: BrokerIx, d: BrokerIx) -> bool {
        if self.rack[d as usize].is_none() || self.k_target <= 1 {
            return true;
        }
        let reps = &self.reps[p];
        if self.rack[s as usize] == self.rack[d as usize] {
            return true;
        }
        let after = self.spread(reps.iter().map(|&b| if b == s { d } else { b }));
        let need = reps.len().min(self.k_target);
        after >= need || after >= self.spread(reps.iter().copied())
    }

    /// Moves partition `p`'s replica from broker `s` to `d`, keeping its
    /// position in the list (so a moved preferred leader stays first).
    pub fn apply_move(&mut self, p: usize, s: BrokerIx, d: BrokerIx) {
        let t = self.topic_of[p];
        let z = self.size[p];
        let slot = self.reps[p]
            .iter()
            .position(|&b| b == s)
            .expect("source holds p");
        self.reps[p][slot] = d;
        self.count[s as usize] -= 1;
        self.count[d as usize] += 1;
        self.bytes[s as usize] -= z;
        self.bytes[d as usize] += z;
        self.topic_counts.sub(t, s);
        self.topic_counts.add(t, d);
        self.partitions_on[d as usize].push(p as u32);
        self.moves += 1;
        self.bytes_moved += z;
    }

    pub fn holds(&self, p: usize, b: BrokerIx) -> bool {
        self.reps[p].contains(&b)
    }
}

/// Keys above this many are sorted on two threads (`huge`: 2M).
const PARALLEL_SORT: usize = 1 << 16;

/// Moves it takes, counted from where the partition started, to put
/// `p`'s replica on `to` instead of `from`: 0 for a replica that moved
/// anyway, -1 if it goes back.
pub fn move_cost(start: &[Replicas], p: usize, from: BrokerIx, to: BrokerIx) -> i64 {
    i64::from(!start[p].contains(&to)) - i64::from(!start[p].contains(&from))
}

fn key(t: u32, b: BrokerIx) -> u64 {
    (t as u64) << 16 | b as u64
}

/// Replicas of a topic per broker. Every move reads these many times, so
/// they live in a dense table (one cache miss, and a topic's row shared by
/// the brokers a destination search weighs) unless topics times brokers
/// is too large. Where no topic has more than `u16::MAX` replicas, a
/// table of `u16` (half the size) still fits: on 1,000 brokers and 47,682
/// topics it is 95 MB, smaller than the hash map it replaces (3.6M pairs
/// in 8M buckets of 16 bytes), which spent most of a destination search
/// probing. Beyond that a hash map keyed `topic << 16 | broker` takes over.
pub enum TopicCounts {
    Dense { nb: usize, n: Vec<u32> },
    Dense16 { nb: usize, n: Vec<u16> },
    Sparse(FxHashMap<u64, u32>),
}

/// Largest dense table, in entries (128 MiB of `u32`).
const DENSE_MAX: usize = 1 << 25;
/// Largest dense table of `u16`, in entries (256 MiB).
const DENSE16_MAX: usize = 1 << 27;

impl TopicCounts {
    /// `most` bounds every count: the most replicas any topic has.
    fn new(topics: usize, nb: usize, most: usize) -> TopicCounts {
        let cells = topics.saturating_mul(nb);
        if cells <= DENSE_MAX {
            TopicCounts::Dense {
                nb,
                n: vec![0; topics * nb],
            }
        } else if cells <= DENSE16_MAX && most <= usize::from(u16::MAX) {
            TopicCounts::Dense16 {
                nb,
                n: vec![0; topics * nb],
            }
        } else {
            TopicCounts::Sparse(FxHashMap::default())
        }
    }

    pub fn get(&self, t: u32, b: BrokerIx) -> u32 {
        match self {
            TopicCounts::Dense { nb, n } => n[t as usize * nb + b as usize],
            TopicCounts::Dense16 { nb, n } => u32::from(n[t as usize * nb + b as usize]),
            TopicCounts::Sparse(m) => m.get(&key(t, b)).copied().unwrap_or(0),
        }
    }

    fn add(&mut self, t: u32, b: BrokerIx) {
        match self {
            TopicCounts::Dense { nb, n } => n[t as usize * *nb + b as usize] += 1,
            TopicCounts::Dense16 { nb, n } => n[t as usize * *nb + b as usize] += 1,
            TopicCounts::Sparse(m) => *m.entry(key(t, b)).or_insert(0) += 1,
        }
    }

    fn sub(&mut self, t: u32, b: BrokerIx) {
        match self {
            TopicCounts::Dense { nb, n } => n[t as usize * *nb + b as usize] -= 1,
            TopicCounts::Dense16 { nb, n } => n[t as usize * *nb + b as usize] -= 1,
            TopicCounts::Sparse(m) => *m.get_mut(&key(t, b)).expect("counted") -= 1,
        }
    }

    /// Calls `f` with every (topic, broker, count) with a count above
    /// zero, in no particular order.
    pub fn for_each(&self, mut f: impl FnMut(u32, BrokerIx, u32)) {
        match self {
            TopicCounts::Dense { nb, n } => {
                for (t, row) in n.chunks(*nb).enumerate() {
                    for (b, &c) in row.iter().enumerate() {
                        if c > 0 {
                            f(t as u32, b as BrokerIx, c);
                        }
                    }
                }
            }
            TopicCounts::Dense16 { nb, n } => {
                for (t, row) in n.chunks(*nb).enumerate() {
                    for (b, &c) in row.iter().enumerate() {
                        if c > 0 {
                            f(t as u32, b as BrokerIx, u32::from(c));
                        }
                    }
                }
            }
            TopicCounts::Sparse(m) => {
                for (&k, &c) in m {
                    if c > 0 {
                        f((k >> 16) as u32, (k & 0xffff) as BrokerIx, c);
                    }
                }
            }
        }
    }

    /// The (topic, broker, count) entries with a count above zero that
    /// `keep` accepts, sorted: filtered before sorting, since callers want
    /// a few of millions.
    pub fn entries_where(
        &self,
        mut keep: impl FnMut(u32, BrokerIx, u32) -> bool,
    ) -> Vec<(u32, BrokerIx, u32)> {
        let mut out = Vec::new();
        self.for_each(|t, b, c| {
            if keep(t, b, c) {
                out.push((t, b, c));
            }
        });
        out.sort_unstable();
        out
    }

    /// Every (topic, broker, count) with a count above zero, sorted
    /// (the planner filters first, with [`Self::entries_where`]).
    #[cfg(test)]
    pub fn entries(&self) -> Vec<(u32, BrokerIx, u32)> {
        self.entries_where(|_, _, _| true)
    }
}

/// A seeded tie-break: a bijection of `x` (SplitMix64's step), so
/// distinct inputs never tie.
fn mix(x: u64) -> u64 {
    super::rng::SplitMix64::new(x).next_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same adds and subtractions on each table kind.
    fn fill(mut c: TopicCounts) -> TopicCounts {
        for (t, b) in [(0, 0), (0, 0), (3, 999), (39_999, 7), (39_999, 7), (5, 1)] {
            c.add(t, b);
        }
        c.sub(5, 1);
        c.add(12, 400);
        c
    }

    #[test]
    fn topic_counts_agree_whatever_table_holds_them() {
        // 40,000 topics on 1,000 brokers: past the u32 table, within u16's.
        let dense16 = fill(TopicCounts::new(40_000, 1000, 600));
        assert!(matches!(dense16, TopicCounts::Dense16 { .. }));
        // A topic with more replicas than a u16 holds: a hash map.
        let sparse = fill(TopicCounts::new(40_000, 1000, 70_000));
        assert!(matches!(sparse, TopicCounts::Sparse(_)));
        assert!(matches!(
            TopicCounts::new(40_000, 10, 600),
            TopicCounts::Dense { .. }
        ));
        let want = vec![(0, 0, 2), (3, 999, 1), (12, 400, 1), (39_999, 7, 2)];
        for c in [&dense16, &sparse] {
            assert_eq!(c.entries(), want);
            assert_eq!(c.get(39_999, 7), 2);
            assert_eq!(c.get(5, 1), 0);
            assert_eq!(
                c.entries_where(|t, _, n| t > 0 && n == 1),
                vec![(3, 999, 1), (12, 400, 1)]
            );
        }
    }
}
