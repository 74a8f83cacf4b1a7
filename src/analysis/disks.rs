//! Disks before and after a plan: each alive broker's bytes per log dir,
//! and how far apart its dirs are, measured from the plan's `log_dirs`
//! rather than taken from the planner.
//!
//! A replica's dir after the plan: the dir the plan names; else, if it
//! stays on its broker, the dir it is in; else the broker's only dir; else
//! unknown (the broker chooses), counted apart.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::log_dirs::LogDirLayout;
use crate::model::reassignment::ANY_LOG_DIR;
use crate::model::{BrokerId, Cluster, TopicPartition};
use crate::planner::disks::tolerance_bytes;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiskSummary {
    /// The tolerance, in percent of each broker's mean bytes per dir.
    pub tolerance_pct: f64,
    /// Alive brokers with two or more log dirs, by id.
    pub brokers: Vec<BrokerDisks>,
    /// Replicas that stay on their broker but change dirs, and their bytes.
    pub replicas_moved_between_dirs: u64,
    pub bytes_moved_between_dirs: u64,
    /// Replicas arriving on a broker in a dir the plan names.
    pub replicas_placed: u64,
    /// Brokers whose dirs end further apart than the tolerance.
    pub brokers_outside_tolerance: Vec<BrokerId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokerDisks {
    pub id: BrokerId,
    pub dirs: Vec<DirBytes>,
    /// Fullest dir minus emptiest, before and after.
    pub spread_before: u64,
    pub spread_after: u64,
    /// The spread allowed after: the tolerance of the mean bytes per dir.
    pub tolerance_bytes: u64,
    /// Bytes of replicas whose dir is not known (before) or left to the
    /// broker (after).
    pub unknown_before: u64,
    pub unknown_after: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DirBytes {
    pub dir: String,
    pub bytes_before: u64,
    pub bytes_after: u64,
}

/// Measures the disks of `cluster` and of `assignment` (final replicas in
/// `Cluster::partitions()` order) with the plan's `log_dirs`.
pub fn measure(
    cluster: &Cluster,
    assignment: &[Vec<BrokerId>],
    layout: &LogDirLayout,
    log_dirs: &BTreeMap<TopicPartition, Vec<String>>,
    tolerance_pct: f64,
) -> DiskSummary {
    let shown: Vec<BrokerId> = cluster
        .brokers
        .iter()
        .filter(|b| b.alive && layout.dirs_of(b.id).len() >= 2)
        .map(|b| b.id)
        .collect();
    // broker -> dir (None: unknown) -> (before, after)
    let mut bytes: BTreeMap<BrokerId, BTreeMap<Option<&str>, (u64, u64)>> = shown
        .iter()
        .map(|&b| {
            let dirs = layout.dirs_of(b).iter().map(|d| (Some(d.as_str()), (0, 0)));
            (b, dirs.collect())
        })
        .collect();
    let (mut moved, mut moved_bytes, mut placed) = (0, 0, 0);
    for ((t, p), after) in cluster.partitions().zip(assignment) {
        let tp = TopicPartition {
            topic: t.name.clone(),
            partition: p.partition,
        };
        // A replica's own bytes before and while it stays; an arrival is
        // copied from the leader, so it ends at the partition's size.
        let own = |b: BrokerId| layout.size_of(&tp, b, p.size_bytes);
        for &b in &p.replicas {
            if let Some(m) = bytes.get_mut(&b) {
                m.entry(layout.dir_of(&tp, b)).or_default().0 += own(b);
            }
        }
        let named = log_dirs.get(&tp);
        for (i, &b) in after.iter().enumerate() {
            let Some(m) = bytes.get_mut(&b) else {
                continue;
            };
            let now = p
                .replicas
                .contains(&b)
                .then(|| layout.dir_of(&tp, b))
                .flatten();
            let planned = named.map(|d| d[i].as_str()).filter(|d| *d != ANY_LOG_DIR);
            let dir = planned.or(now);
            let stays = p.replicas.contains(&b);
            if let Some(d) = planned {
                if !stays {
                    placed += 1;
                } else if Some(d) != now {
                    moved += 1;
                    moved_bytes += own(b);
                }
            }
            m.entry(dir).or_default().1 += if stays { own(b) } else { p.size_bytes };
        }
    }
    let brokers: Vec<BrokerDisks> = bytes
        .into_iter()
        .map(|(id, m)| {
            let unknown = m.get(&None).copied().unwrap_or_default();
            let dirs: Vec<DirBytes> = m
                .into_iter()
                .filter_map(|(d, (before, after))| {
                    Some(DirBytes {
                        dir: d?.to_string(),
                        bytes_before: before,
                        bytes_after: after,
                    })
                })
                .collect();
            let spread = |f: fn(&DirBytes) -> u64| {
                let max = dirs.iter().map(f).max().unwrap_or(0);
                max - dirs.iter().map(f).min().unwrap_or(0)
            };
            let total: u64 = dirs.iter().map(|d| d.bytes_after).sum::<u64>() + unknown.1;
            BrokerDisks {
                id,
                spread_before: spread(|d| d.bytes_before),
                spread_after: spread(|d| d.bytes_after),
                tolerance_bytes: tolerance_bytes(tolerance_pct, total, dirs.len()),
                dirs,
                unknown_before: unknown.0,
                unknown_after: unknown.1,
            }
        })
        .collect();
    DiskSummary {
        tolerance_pct,
        brokers_outside_tolerance: brokers
            .iter()
            .filter(|b| b.spread_after > b.tolerance_bytes)
            .map(|b| b.id)
            .collect(),
        brokers,
        replicas_moved_between_dirs: moved,
        bytes_moved_between_dirs: moved_bytes,
        replicas_placed: placed,
    }
}
