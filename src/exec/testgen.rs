//! Random plans for the executor's property tests: a grown cluster (old
//! brokers holding everything, a few new empty ones), heavy-tailed sizes,
//! and a mix of reorders, single-replica moves, whole re-placements and
//! replication-factor changes.

use proptest::prelude::*;

use super::batch::Job;
use crate::model::{BrokerId, TopicPartition};

/// Partition `p` of topic `t`.
pub fn tp(p: i32) -> TopicPartition {
    TopicPartition {
        topic: "t".into(),
        partition: p,
    }
}

/// A move of `t-p` from `current` (led by its first replica) to `target`.
pub fn job(p: i32, current: &[i32], target: &[i32], bytes: u64) -> Job {
    Job::new(
        tp(p),
        current,
        current.first().copied(),
        target.to_vec(),
        bytes,
    )
}

/// A small deterministic generator, so one proptest seed spans a whole
/// plan and the case is reproducible from its seed alone.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick(&mut self, from: &[BrokerId], k: usize) -> Vec<BrokerId> {
        let mut pool = from.to_vec();
        let mut out = Vec::new();
        while out.len() < k && !pool.is_empty() {
            out.push(pool.swap_remove(self.below(pool.len() as u64) as usize));
        }
        out
    }
}

/// A plan from a seed, with at most `max_partitions` partitions.
pub fn plan(seed: u64, max_partitions: u64) -> Vec<Job> {
    let mut r = SplitMix(seed);
    let old = 3 + r.below(8) as i32;
    let new = r.below(4) as i32;
    let old_ids: Vec<BrokerId> = (1..=old).collect();
    let all_ids: Vec<BrokerId> = (1..=old + new).collect();
    let partitions = 1 + r.below(max_partitions);
    let mut jobs = Vec::new();
    for p in 0..partitions {
        let rf = 1 + r.below(3.min(old as u64)) as usize;
        let current = r.pick(&old_ids, rf);
        // Log-uniform from 1 KiB to 1 GiB, and now and then empty.
        let bytes = if r.below(20) == 0 {
            0
        } else {
            1u64 << (10 + r.below(21))
        };
        let target = match r.below(6) {
            0 => {
                let mut t = current.clone();
                t.rotate_left(1);
                t
            }
            1 => r.pick(&all_ids, rf),
            2 => r.pick(&all_ids, (rf % 3) + 1),
            _ => {
                let mut t = current.clone();
                let free: Vec<BrokerId> = all_ids
                    .iter()
                    .copied()
                    .filter(|b| !current.contains(b))
                    .collect();
                if let Some(&b) = free.get(r.below(free.len() as u64) as usize) {
                    let i = r.below(t.len() as u64) as usize;
                    t[i] = b;
                }
                t
            }
        };
        if target == current {
            continue;
        }
        let tp = TopicPartition {
            topic: format!("t{}", p % 3),
            partition: p as i32,
        };
        jobs.push(Job::new(
            tp,
            &current,
            current.first().copied(),
            target,
            bytes,
        ));
    }
    jobs
}

pub fn plans(max_partitions: u64) -> impl Strategy<Value = Vec<Job>> {
    any::<u64>().prop_map(move |seed| plan(seed, max_partitions))
}
