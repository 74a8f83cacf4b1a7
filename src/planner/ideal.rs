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

/// Per-rack ideal replica count of one broker in that rack.
pub fn per_rack_ideal(rack_sizes: &[usize], rf_sum: u64, lo: u64, hi: u64) -> Vec<f64> {
    let total = rf_sum as f64;
    if rack_sizes.len() <= 1 {
        let n: usize = rack_sizes.iter().sum();
        return vec![if n == 0 { 0.0 } else { total / n as f64 }; rack_sizes.len()];
    }
    let (lo, hi) = (lo as f64, hi as f64);
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
    rack_sizes
        .iter()
        .map(|&n| (n as f64 * b).clamp(lo, hi) / n as f64)
        .collect()
}

/// Aggregates of a set of replication factors that the water-filling needs.
#[derive(Debug, Clone, Copy, Default)]
pub struct RfSums {
    pub total: u64,
    pub lo: u64,
    pub hi: u64,
}

impl RfSums {
    pub fn add(&mut self, rf: usize, racks: usize) {
        let k = racks.max(1);
        self.total += rf as u64;
        self.lo += (rf / k) as u64;
        self.hi += rf.div_ceil(k) as u64;
    }

    pub fn ideal(&self, rack_sizes: &[usize]) -> Vec<f64> {
        per_rack_ideal(rack_sizes, self.total, self.lo, self.hi)
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
}
