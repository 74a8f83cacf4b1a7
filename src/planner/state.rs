//! The planner's working state: dense indices, replica lists, and the
//! counters every move keeps up to date.

use rustc_hash::FxHashMap;

use super::ideal::{RfSums, bounds};
use crate::model::Cluster;

/// Dense broker index (position in `Cluster::brokers`).
pub type B = u16;

pub struct State {
    pub nb: usize,
    /// Rack index per broker, `None` when planning rack-unaware.
    pub rack: Vec<Option<u16>>,
    /// Racks in the snapshot (at least 1), for indexing `tcap`.
    pub nracks: usize,
    /// Racks that hold a target broker: what "rack safe" is judged against.
    pub k_target: usize,
    pub target: Vec<bool>,
    pub topic_of: Vec<u32>,
    pub size: Vec<u64>,
    pub movable: Vec<bool>,
    pub reps: Vec<Vec<B>>,
    pub count: Vec<u32>,
    pub bytes: Vec<u64>,
    /// Replicas of a topic on a broker, keyed `topic << 16 | broker`.
    pub tcount: FxHashMap<u64, u32>,
    /// Partitions per broker; may hold stale entries (checked on use).
    pub on: Vec<Vec<u32>>,
    /// Quota range per broker: `lo..=hi` replicas (0 for non-targets).
    pub lo: Vec<u32>,
    pub hi: Vec<u32>,
    /// Per-broker ideal replica count (fractional), for byte shares.
    pub ideal: Vec<f64>,
    /// Cap of a topic's replicas on one broker, per `(topic, rack)`.
    pub tcap: Vec<u32>,
    pub moves: u64,
    pub bytes_moved: u64,
}

impl State {
    pub fn new(
        cluster: &Cluster,
        reps: Vec<Vec<B>>,
        target: Vec<bool>,
        movable: Vec<bool>,
        use_racks: bool,
    ) -> State {
        let nb = cluster.brokers.len();
        let mut rack_names: Vec<&str> = Vec::new();
        if use_racks {
            rack_names = cluster
                .brokers
                .iter()
                .filter_map(|b| b.rack.as_deref())
                .collect();
            rack_names.sort_unstable();
            rack_names.dedup();
        }
        let rack: Vec<Option<u16>> = cluster
            .brokers
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
        for (ti, t) in cluster.topics.iter().enumerate() {
            for p in &t.partitions {
                topic_of.push(ti as u32);
                size.push(p.size_bytes);
            }
        }
        let mut st = State {
            nb,
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
            tcount: FxHashMap::default(),
            on: vec![Vec::new(); nb],
            lo: vec![0; nb],
            hi: vec![0; nb],
            ideal: vec![0.0; nb],
            tcap: Vec::new(),
            moves: 0,
            bytes_moved: 0,
        };
        st.recount();
        st.compute_quotas(cluster.topics.len());
        st
    }

    fn recount(&mut self) {
        self.count.iter_mut().for_each(|c| *c = 0);
        self.bytes.iter_mut().for_each(|c| *c = 0);
        self.tcount.clear();
        self.tcount.reserve(self.reps.len() * 2);
        self.on.iter_mut().for_each(|v| v.clear());
        for (p, reps) in self.reps.iter().enumerate() {
            let t = self.topic_of[p];
            for &b in reps {
                self.count[b as usize] += 1;
                self.bytes[b as usize] += self.size[p];
                *self.tcount.entry(key(t, b)).or_insert(0) += 1;
                self.on[b as usize].push(p as u32);
            }
        }
    }

    fn compute_quotas(&mut self, ntopics: usize) {
        // Water-filling runs over the racks that hold targets only.
        let mut sizes_all = vec![0usize; self.nracks];
        for b in 0..self.nb {
            if self.target[b] {
                sizes_all[self.rack_of(b as B) as usize] += 1;
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
        for b in 0..self.nb {
            if self.target[b] {
                let x = ideal[self.rack_of(b as B) as usize];
                self.ideal[b] = x;
                (self.lo[b], self.hi[b]) = bounds(x);
            }
        }
        self.tcap = Vec::with_capacity(ntopics * self.nracks);
        for s in &per_topic {
            for x in expand(s.ideal(&compact)) {
                self.tcap.push(bounds(x).1);
            }
        }
    }

    pub fn rack_of(&self, b: B) -> u16 {
        self.rack[b as usize].unwrap_or(0)
    }

    pub fn tc(&self, t: u32, b: B) -> u32 {
        self.tcount.get(&key(t, b)).copied().unwrap_or(0)
    }

    pub fn cap(&self, t: u32, b: B) -> u32 {
        self.tcap[t as usize * self.nracks + self.rack_of(b) as usize]
    }

    /// Distinct racks a replica list spans.
    pub fn spread(&self, reps: impl Iterator<Item = B>) -> usize {
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
    pub fn rack_ok(&self, p: usize, s: B, d: B) -> bool {
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
    pub fn apply_move(&mut self, p: usize, s: B, d: B) {
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
        *self.tcount.get_mut(&key(t, s)).expect("counted") -= 1;
        *self.tcount.entry(key(t, d)).or_insert(0) += 1;
        self.on[d as usize].push(p as u32);
        self.moves += 1;
        self.bytes_moved += z;
    }

    pub fn holds(&self, p: usize, b: B) -> bool {
        self.reps[p].contains(&b)
    }
}

pub fn key(t: u32, b: B) -> u64 {
    (t as u64) << 16 | b as u64
}
