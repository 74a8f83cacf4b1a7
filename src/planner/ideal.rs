//! The rack-aware ideal share of each broker.
//!
//! Kafka's rule is that a partition of replication factor `rf` spans
//! `min(rf, K)` of the `K` racks, as evenly as it can, so every rack holds
//! between `floor(rf/K)` and `ceil(rf/K)` of its replicas. Summed over
//! partitions that bounds what a rack can hold. Water-filling finds the
//! per-broker level `x` at which every rack holds `clamp(n_R * x, lo, hi)`
//! and the racks together hold every replica; each broker of rack `R` then
//! ideally holds `clamp(n_R * x, lo, hi) / n_R`. Without racks the ideal is
//! simply `total / brokers`.
//!
//! That per-rack bound is not the whole story: two racks cannot both hold
//! a replica of an RF 1 partition. Beyond the `floor(rf/K)` every rack
//! gets, a partition has `rf mod K` free replicas, at most one per rack, so
//! any `j` racks together hold at most `sum min(rf mod K, j)` of them (and
//! by a transportation argument, rack totals within every such bound are
//! reachable). Where the plain water-filling breaks one of these bounds
//! (several big racks beside one-broker racks), the ideal is the most even
//! one within them: the biggest racks are held to what they can reach
//! together and the rest is shared by the others.

/// Aggregates of a set of replication factors that the water-filling needs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct RfSums {
    pub total: u64,
    pub lo: u64,
    pub hi: u64,
    /// Partitions by free replicas (`rf mod K`), indexed by that number.
    free: Vec<u64>,
}

impl RfSums {
    pub fn add(&mut self, rf: usize, racks: usize) {
        let k = racks.max(1);
        self.total += rf as u64;
        self.lo += (rf / k) as u64;
        self.hi += rf.div_ceil(k) as u64;
        let m = rf % k;
        if self.free.len() <= m {
            self.free.resize(m + 1, 0);
        }
        self.free[m] += 1;
    }

    /// The most free replicas any `j` racks can hold together.
    fn reach(&self, j: usize) -> f64 {
        self.free
            .iter()
            .enumerate()
            .map(|(m, &n)| n * m.min(j) as u64)
            .sum::<u64>() as f64
    }

    /// Per-rack ideal replica count of one broker in that rack.
    pub fn ideal(&self, rack_sizes: &[usize]) -> Vec<f64> {
        let total = self.total as f64;
        if rack_sizes.len() <= 1 {
            let n: usize = rack_sizes.iter().sum();
            return vec![if n == 0 { 0.0 } else { total / n as f64 }; rack_sizes.len()];
        }
        let (lo, hi) = (self.lo as f64, self.hi as f64);
        let filled = |x: f64| -> f64 {
            rack_sizes
                .iter()
                .map(|&n| (n as f64 * x).clamp(lo, hi))
                .sum()
        };
        let (mut a, mut b) = (0.0f64, total);
        for _ in 0..100 {
            let mid = (a + b) / 2.0;
            if filled(mid) < total {
                a = mid;
            } else {
                b = mid;
            }
        }
        let plain: Vec<f64> = rack_sizes
            .iter()
            .map(|&n| (n as f64 * b).clamp(lo, hi))
            .collect();
        let mut order: Vec<usize> = (0..rack_sizes.len()).collect();
        order.sort_by_key(|&r| (std::cmp::Reverse(rack_sizes[r]), r));
        let mut held = 0.0;
        let within = order.iter().enumerate().all(|(j, &r)| {
            held += plain[r] - lo;
            held <= self.reach(j + 1) + 1e-6 * total.max(1.0)
        });
        let per_rack = if within {
            plain
        } else {
            self.joint(rack_sizes, &order)
        };
        per_rack
            .iter()
            .zip(rack_sizes)
            .map(|(&x, &n)| if n == 0 { 0.0 } else { x / n as f64 })
            .collect()
    }

    /// Rack totals, most even per broker, within every joint bound: racks
    /// in `order` (biggest first); the prefix whose bound leaves it the
    /// lowest level is held at that level, and the rest is shared by the
    /// others the same way.
    fn joint(&self, rack_sizes: &[usize], order: &[usize]) -> Vec<f64> {
        let lo = self.lo as f64;
        let n = |r: usize| rack_sizes[r] as f64;
        // The level at which the racks `set` (biggest first) hold `free`
        // free replicas: each holds max(n * level - lo, 0).
        // (Compared with a margin: on ties such as 7 * (115 / 7) < 115 no
        // prefix would pass exactly.)
        let eps = 1e-9 * lo.max(1.0);
        let level = |set: &[usize], free: f64| -> f64 {
            let free = free.max(0.0);
            let mut best = f64::INFINITY;
            let mut sizes = 0.0;
            for (q, &r) in set.iter().enumerate() {
                sizes += n(r);
                let x = (free + (q + 1) as f64 * lo) / sizes;
                let next_out = set.get(q + 1).is_none_or(|&s| n(s) * x <= lo + eps);
                if n(r) * x >= lo - eps && next_out {
                    best = best.min(x);
                }
            }
            debug_assert!(best.is_finite(), "no level for {set:?}");
            best
        };
        let mut out = vec![lo; rack_sizes.len()];
        let (mut done, mut used) = (0usize, 0.0f64);
        while done < order.len() {
            let rest = &order[done..];
            let all = self.reach(order.len()) - used;
            let mut take = (rest.len(), level(rest, all));
            for j in 1..rest.len() {
                let x = level(&rest[..j], self.reach(done + j) - used);
                if x < take.1 {
                    take = (j, x);
                }
            }
            for &r in &rest[..take.0] {
                let z = (n(r) * take.1 - lo).max(0.0);
                out[r] = lo + z;
                used += z;
            }
            done += take.0;
        }
        out
    }
}

/// The integer range a broker with this ideal may end in.
pub fn bounds(ideal: f64) -> (u32, u32) {
    (
        (ideal + 1e-9).floor() as u32,
        (ideal - 1e-9).ceil().max(0.0) as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uneven_racks_hold_their_forced_share() {
        // Three racks of 1, 2 and 2 brokers; 10 partitions of RF 3 put one
        // replica in every rack, so the lone broker holds 10 and the others 5.
        let mut s = RfSums::default();
        for _ in 0..10 {
            s.add(3, 3);
        }
        let ideal = s.ideal(&[1, 2, 2]);
        assert!((ideal[0] - 10.0).abs() < 1e-6, "{ideal:?}");
        assert!((ideal[1] - 5.0).abs() < 1e-6, "{ideal:?}");
    }

    #[test]
    fn rf_one_spreads_evenly_over_brokers() {
        let mut s = RfSums::default();
        for _ in 0..10 {
            s.add(1, 2);
        }
        let ideal = s.ideal(&[1, 4]);
        assert!((ideal[0] - 2.0).abs() < 1e-6 && (ideal[1] - 2.0).abs() < 1e-6);
        assert_eq!(bounds(2.0), (2, 2));
        assert_eq!(bounds(2.5), (2, 3));
    }

    // regression: two big racks cannot both hold a replica of every
    // partition when some have RF 1 (9 brokers, 4 uneven racks, a dead one)
    #[test]
    fn big_racks_share_what_they_can_reach_together() {
        // Racks of 3, 3, 1 and 1 brokers; 10 RF 1 and 90 RF 3 partitions.
        // The plain water-filling gives each 3-broker rack 100 (one replica
        // of every partition), but together they hold at most 10 + 2 * 90.
        let mut s = RfSums::default();
        for rf in std::iter::repeat_n(1, 10).chain(std::iter::repeat_n(3, 90)) {
            s.add(rf, 4);
        }
        let ideal = s.ideal(&[3, 3, 1, 1]);
        let rack: Vec<f64> = ideal
            .iter()
            .zip([3.0, 3.0, 1.0, 1.0])
            .map(|(x, n)| x * n)
            .collect();
        assert!(
            (rack[0] - 95.0).abs() < 1e-6 && (rack[1] - 95.0).abs() < 1e-6,
            "{rack:?}"
        );
        assert!(
            (rack[2] - 45.0).abs() < 1e-6 && (rack[3] - 45.0).abs() < 1e-6,
            "{rack:?}"
        );
        // Where the plain water-filling is reachable it stands.
        let mut even = RfSums::default();
        for _ in 0..100 {
            even.add(3, 4);
        }
        let e = even.ideal(&[3, 3, 1, 1]);
        assert!(e.iter().all(|x| x.is_finite()), "{e:?}");
        assert!(
            (e[0] - 100.0 / 3.0).abs() < 1e-6 && (e[2] - 50.0).abs() < 1e-6,
            "{e:?}"
        );
    }
}
