//! What a plan does to a cluster, measured: per-broker counts before and
//! after, what moves, how far from the fewest possible moves, balance, rack
//! safety and the time a throttle implies. Pure: used by `plan` and `check`
//! summaries alike.
//!
//! Offline partitions (no in-sync replica on a live broker) are counted in the
//! per-broker rows, where they are, but left out of every figure a plan is
//! judged by (ideal, bounds, excess, bytes share, replicas outside the
//! targets): no plan can move them. They are listed on their own.

pub mod disks;

use std::collections::HashMap;

use serde::Serialize;

use crate::model::{BrokerId, Cluster, TopicPartition};
use crate::planner::ideal::bounds;
use crate::planner::{Bounds, Ideals, Outcome, RackIdeal, measure};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BrokerRow {
    pub id: BrokerId,
    pub rack: Option<String>,
    pub alive: bool,
    pub target: bool,
    pub replicas_before: u64,
    pub replicas_after: u64,
    pub leaders_before: u64,
    pub leaders_after: u64,
    pub bytes_before: u64,
    pub bytes_after: u64,
    /// Bytes this broker must copy in, and send as a current leader.
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// The rack-aware ideal replica count (0 for non-targets).
    pub ideal_replicas: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Totals {
    pub partitions: u64,
    pub replicas: u64,
    pub partitions_moved: u64,
    pub partitions_reordered_only: u64,
    pub replicas_moved: u64,
    pub replica_moves_lower_bound: u64,
    pub bytes_moved: u64,
    pub bytes_moves_lower_bound: u64,
    pub replication_factor_changes: u64,
    pub replica_excess_before: i64,
    pub replica_excess_after: i64,
    pub replica_deficit_before: i64,
    pub replica_deficit_after: i64,
    pub leader_spread_before: u64,
    pub leader_spread_after: u64,
    pub topic_excess_before: i64,
    pub topic_excess_after: i64,
    pub bytes_max_over_ideal_before: f64,
    pub bytes_max_over_ideal_after: f64,
    pub rack_violations_before: u64,
    pub rack_violations_after: u64,
    /// Replicas outside the target set, offline partitions aside.
    pub replicas_outside_targets: u64,
    /// Partitions with no in-sync replica on a live broker (listed in
    /// [`Summary::offline_partitions`]).
    pub offline_partitions: u64,
    pub max_inbound_bytes: u64,
    pub max_outbound_bytes: u64,
    /// With a throttle: the physical bound, max bytes in or out over brokers
    /// divided by the rate.
    pub estimated_seconds: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    pub brokers: Vec<BrokerRow>,
    pub totals: Totals,
    /// Partitions no move can heal: no in-sync replica on a live broker.
    pub offline_partitions: Vec<TopicPartition>,
    /// Racks whose brokers must each hold clearly more than an even share.
    pub crowded_racks: Vec<CrowdedRack>,
}

/// A rack whose target brokers each must hold more than an even spread
/// would give them: every partition keeps `floor(rf / racks)` replicas in
/// each rack, so a rack with fewer brokers carries more per broker.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CrowdedRack {
    pub rack: String,
    /// Target brokers in this rack, in all, and racks with target brokers.
    pub target_brokers: usize,
    pub all_target_brokers: usize,
    pub racks: usize,
    /// The rack-aware ideal replica count of each of its brokers.
    pub ideal_replicas: f64,
    /// The ideal were replicas spread evenly over all target brokers.
    pub even_replicas: f64,
}

/// The distinct racks of `brokers` (brokers without a rack, or not in the
/// snapshot, add none). A partition must span `min(rf, racks of the
/// targets)` of them.
pub fn racks_spanned(cluster: &Cluster, brokers: &[BrokerId]) -> usize {
    let mut racks: Vec<&str> = brokers
        .iter()
        .filter_map(|&b| cluster.broker(b).and_then(|x| x.rack.as_deref()))
        .collect();
    racks.sort_unstable();
    racks.dedup();
    racks.len()
}

/// The brokers a plan is judged against: the alive ones it leaves with
/// replicas, and those that held none before (new brokers). A live broker
/// the plan empties is being drained: judging the plan as though it
/// should hold a share would read a decommission as a worse balance (and
/// hide why its rack's other brokers grow).
pub fn judged_targets(cluster: &Cluster, after: &[Vec<BrokerId>]) -> Vec<BrokerId> {
    let held = |b: BrokerId| cluster.partitions().any(|(_, p)| p.replicas.contains(&b));
    cluster
        .brokers
        .iter()
        .filter(|b| b.alive)
        .filter(|b| after.iter().any(|r| r.contains(&b.id)) || !held(b.id))
        .map(|b| b.id)
        .collect()
}

/// Counts one partition's replicas, bytes and preferred leaders before and
/// after on each broker's row, and a replication-factor change.
fn tally(
    rows: &mut [BrokerRow],
    t: &mut Totals,
    index: &Slots,
    before: &[BrokerId],
    after: &[BrokerId],
    size: u64,
) {
    for &b in before {
        let row = &mut rows[index.at(b)];
        row.replicas_before += 1;
        row.bytes_before += size;
    }
    for &b in after {
        let row = &mut rows[index.at(b)];
        row.replicas_after += 1;
        row.bytes_after += size;
    }
    if let Some(&l) = before.first() {
        rows[index.at(l)].leaders_before += 1;
    }
    if let Some(&l) = after.first() {
        rows[index.at(l)].leaders_after += 1;
    }
    if after.len() != before.len() {
        t.replication_factor_changes += 1;
    }
}

/// Measures moving `cluster` to `after` (replica lists in
/// `Cluster::partitions()` order), judged against the `targets` brokers:
/// the ideals and bounds measured on `cluster` as it stands (see
/// [`measure`]), as `check` does.
pub fn summarize(
    cluster: &Cluster,
    after: &[Vec<BrokerId>],
    targets: &[BrokerId],
    use_racks: bool,
    throttle: Option<u64>,
) -> Summary {
    let (ideals, bounds) = measure(cluster, targets, use_racks);
    summarize_against(
        cluster,
        &Measured {
            after,
            targets,
            ideals: &ideals,
            bounds,
        },
        throttle,
    )
}

/// Measures a plan against the ideals and bounds its planner measured on
/// its own start ([`Outcome::ideals`], [`Outcome::bounds`]).
pub fn summarize_plan(cluster: &Cluster, outcome: &Outcome, throttle: Option<u64>) -> Summary {
    summarize_against(
        cluster,
        &Measured {
            after: &outcome.assignment,
            targets: &outcome.targets,
            ideals: &outcome.ideals,
            bounds: outcome.bounds,
        },
        throttle,
    )
}

/// A final assignment and what it is judged against.
struct Measured<'a> {
    after: &'a [Vec<BrokerId>],
    targets: &'a [BrokerId],
    ideals: &'a Ideals,
    bounds: Bounds,
}

fn summarize_against(cluster: &Cluster, m: &Measured, throttle: Option<u64>) -> Summary {
    let judge = Judge::new(cluster, m.targets);
    let mut rows = broker_rows(cluster, &judge.is_target);
    let mut t = Totals::empty();
    let tally = tally_partitions(cluster, m.after, &judge, m.ideals, &mut rows, &mut t);
    let ideal = Ideal::of(&judge, m.ideals);
    for &i in &ideal.targets {
        rows[i].ideal_replicas = (ideal.per_broker[i] * 100.0).round() / 100.0;
    }
    balance_figures(&mut t, &rows, &ideal, &tally);
    // A substitution's bound is exact: what leaves the replaced brokers.
    t.replica_moves_lower_bound = m.bounds.exact_moves.unwrap_or(m.bounds.moves);
    byte_figures(&mut t, &rows, &ideal, &tally, &judge);
    t.max_inbound_bytes = rows.iter().map(|r| r.bytes_in).max().unwrap_or(0);
    t.max_outbound_bytes = rows.iter().map(|r| r.bytes_out).max().unwrap_or(0);
    t.estimated_seconds = throttle
        .filter(|&r| r > 0)
        .map(|r| t.max_inbound_bytes.max(t.max_outbound_bytes) as f64 / r as f64);
    t.offline_partitions = tally.offline_partitions.len() as u64;
    let crowded_racks = crowded(&m.ideals.racks);
    Summary {
        brokers: rows,
        totals: t,
        offline_partitions: tally.offline_partitions,
        crowded_racks,
    }
}

/// Each broker's position in `Cluster::brokers` and its rack, by id: a
/// table where ids are dense enough (every real cluster), else a map. The
/// summary looks up every replica twice or more; hashing each was most of
/// its time on a million-partition plan.
struct Slots {
    dense: Vec<u32>,
    sparse: HashMap<BrokerId, usize>,
    /// Per broker position: its rack's number among the racks, if any.
    rack: Vec<Option<u32>>,
}

impl Slots {
    const NONE: u32 = u32::MAX;

    fn new(cluster: &Cluster) -> Slots {
        let max = cluster.brokers.iter().map(|b| b.id).max().unwrap_or(0);
        let dense_enough = (max as usize) < 4 * cluster.brokers.len() + 1024;
        let mut dense = Vec::new();
        let mut sparse = HashMap::new();
        if dense_enough {
            dense = vec![Self::NONE; max as usize + 1];
            for (i, b) in cluster.brokers.iter().enumerate() {
                dense[b.id as usize] = i as u32;
            }
        } else {
            sparse = cluster.broker_index();
        }
        let mut names: Vec<&str> = cluster
            .brokers
            .iter()
            .filter_map(|b| b.rack.as_deref())
            .collect();
        names.sort_unstable();
        names.dedup();
        let rack = cluster
            .brokers
            .iter()
            .map(|b| {
                let name = b.rack.as_deref()?;
                names.binary_search(&name).ok().map(|r| r as u32)
            })
            .collect();
        Slots {
            dense,
            sparse,
            rack,
        }
    }

    /// Where `id` is in `Cluster::brokers`, if it is there.
    fn get(&self, id: BrokerId) -> Option<usize> {
        if self.dense.is_empty() {
            return self.sparse.get(&id).copied();
        }
        match self.dense.get(usize::try_from(id).ok()?) {
            Some(&i) if i != Self::NONE => Some(i as usize),
            _ => None,
        }
    }

    /// Where `id` is in `Cluster::brokers`; a replica list names only
    /// brokers of the snapshot (validated).
    fn at(&self, id: BrokerId) -> usize {
        self.get(id).expect("a broker of the snapshot")
    }

    /// [`racks_spanned`] of a replica list, without building rack names.
    fn racks_spanned(&self, brokers: &[BrokerId]) -> usize {
        let racks = brokers
            .iter()
            .filter_map(|&b| self.get(b).and_then(|i| self.rack[i]));
        let mut seen = [0u32; 8];
        if brokers.len() > seen.len() {
            let mut all: Vec<u32> = racks.collect();
            all.sort_unstable();
            all.dedup();
            return all.len();
        }
        let mut n = 0;
        for r in racks {
            if !seen[..n].contains(&r) {
                seen[n] = r;
                n += 1;
            }
        }
        n
    }
}

/// What a plan is judged against: the target brokers and their racks.
struct Judge {
    index: Slots,
    is_target: Vec<bool>,
    /// Rack violations are counted wherever every broker has a rack, also
    /// for a plan made with racks ignored: the operator should see them.
    known_racks: bool,
    rack_need: usize,
}

impl Judge {
    fn new(cluster: &Cluster, targets: &[BrokerId]) -> Judge {
        let is_target: Vec<bool> = cluster
            .brokers
            .iter()
            .map(|b| targets.contains(&b.id))
            .collect();
        Judge {
            index: Slots::new(cluster),
            is_target,
            known_racks: cluster.rack_coverage() == crate::model::RackCoverage::All,
            rack_need: racks_spanned(cluster, targets),
        }
    }
}

fn broker_rows(cluster: &Cluster, is_target: &[bool]) -> Vec<BrokerRow> {
    cluster
        .brokers
        .iter()
        .enumerate()
        .map(|(i, b)| BrokerRow {
            id: b.id,
            rack: b.rack.clone(),
            alive: b.alive,
            target: is_target[i],
            replicas_before: 0,
            replicas_after: 0,
            leaders_before: 0,
            leaders_after: 0,
            bytes_before: 0,
            bytes_after: 0,
            bytes_in: 0,
            bytes_out: 0,
            ideal_replicas: 0.0,
        })
        .collect()
}

impl Totals {
    fn empty() -> Totals {
        Totals {
            partitions: 0,
            replicas: 0,
            partitions_moved: 0,
            partitions_reordered_only: 0,
            replicas_moved: 0,
            replica_moves_lower_bound: 0,
            bytes_moved: 0,
            bytes_moves_lower_bound: 0,
            replication_factor_changes: 0,
            replica_excess_before: 0,
            replica_excess_after: 0,
            replica_deficit_before: 0,
            replica_deficit_after: 0,
            leader_spread_before: 0,
            leader_spread_after: 0,
            topic_excess_before: 0,
            topic_excess_after: 0,
            bytes_max_over_ideal_before: 1.0,
            bytes_max_over_ideal_after: 1.0,
            rack_violations_before: 0,
            rack_violations_after: 0,
            replicas_outside_targets: 0,
            offline_partitions: 0,
            max_inbound_bytes: 0,
            max_outbound_bytes: 0,
            estimated_seconds: None,
        }
    }
}

/// What one pass over the partitions gathers beside the rows and totals.
struct Tally {
    /// The most replicas any topic has on one broker over its cap there,
    /// before and after (0 when none is over).
    topic_excess: (i64, i64),
    /// Per broker: replicas and bytes of offline partitions it holds.
    offline_on: Vec<(u64, u64)>,
    offline_partitions: Vec<TopicPartition>,
}

/// One pass over the partitions: the rows' counts, moves, bytes in and
/// out, rack violations; offline partitions only in the rows.
fn tally_partitions(
    cluster: &Cluster,
    after: &[Vec<BrokerId>],
    judge: &Judge,
    ideals: &Ideals,
    rows: &mut [BrokerRow],
    t: &mut Totals,
) -> Tally {
    let nb = cluster.brokers.len();
    let index = &judge.index;
    // One topic's replicas per broker before and after, and the brokers it
    // touches: its excess is read off as the topic ends.
    let mut topic_count = vec![(0i64, 0i64); nb];
    let mut touched: Vec<usize> = Vec::new();
    let mut topic_excess = (0i64, 0i64);
    let offline = cluster.offline_mask();
    let mut offline_on = vec![(0u64, 0u64); nb];
    let mut offline_partitions = Vec::new();
    let mut pi = 0;
    for (ti, topic) in cluster.topics.iter().enumerate() {
        for &i in &touched {
            let (before, after) = std::mem::take(&mut topic_count[i]);
            let cap = i64::from(ideals.topic_cap(ti - 1, i, judge.is_target[i]));
            topic_excess.0 = topic_excess.0.max(before - cap);
            topic_excess.1 = topic_excess.1.max(after - cap);
        }
        touched.clear();
        for p in &topic.partitions {
            let new = &after[pi];
            let off = offline[pi];
            pi += 1;
            let z = p.size_bytes;
            t.partitions += 1;
            t.replicas += p.replicas.len() as u64;
            if off {
                offline_partitions.push(TopicPartition {
                    topic: topic.name.clone(),
                    partition: p.partition,
                });
                for &b in &p.replicas {
                    let i = index.at(b);
                    offline_on[i].0 += 1;
                    offline_on[i].1 += z;
                }
                tally(rows, t, index, &p.replicas, new, z);
                continue;
            }
            tally(rows, t, index, &p.replicas, new, z);
            let mut touch = |i: usize, c: &mut (i64, i64)| {
                if *c == (0, 0) {
                    touched.push(i);
                }
            };
            for &b in &p.replicas {
                let i = index.at(b);
                touch(i, &mut topic_count[i]);
                topic_count[i].0 += 1;
            }
            for &b in new {
                let i = index.at(b);
                touch(i, &mut topic_count[i]);
                topic_count[i].1 += 1;
                if !judge.is_target[i] {
                    t.replicas_outside_targets += 1;
                }
            }
            let added = || new.iter().filter(|b| !p.replicas.contains(b));
            let n_added = added().count() as u64;
            if n_added == 0 {
                if *new != p.replicas {
                    t.partitions_reordered_only += 1;
                }
            } else {
                t.partitions_moved += 1;
                t.replicas_moved += n_added;
                t.bytes_moved += z * n_added;
                for &b in added() {
                    rows[index.at(b)].bytes_in += z;
                }
                // The current leader serves the new replicas' fetches; with
                // none alive, the first alive replica will once elected.
                let alive = |b: &BrokerId| cluster.brokers[index.at(*b)].alive;
                let src = p
                    .leader
                    .filter(alive)
                    .or_else(|| p.replicas.iter().copied().find(alive));
                if let Some(s) = src {
                    rows[index.at(s)].bytes_out += z * n_added;
                }
            }
            if judge.known_racks {
                let short = |r: &[BrokerId]| index.racks_spanned(r) < r.len().min(judge.rack_need);
                if short(&p.replicas) {
                    t.rack_violations_before += 1;
                }
                if short(new) {
                    t.rack_violations_after += 1;
                }
            }
        }
    }
    let last = cluster.topics.len();
    for &i in &touched {
        let (before, after) = topic_count[i];
        let cap = i64::from(ideals.topic_cap(last - 1, i, judge.is_target[i]));
        topic_excess.0 = topic_excess.0.max(before - cap);
        topic_excess.1 = topic_excess.1.max(after - cap);
    }
    Tally {
        topic_excess,
        offline_on,
        offline_partitions,
    }
}

/// The rack-aware ideal replica counts over the target brokers.
struct Ideal {
    /// Per broker (0 for non-targets).
    per_broker: Vec<f64>,
    targets: Vec<usize>,
}

impl Ideal {
    fn of(judge: &Judge, ideals: &Ideals) -> Ideal {
        let nb = judge.is_target.len();
        Ideal {
            per_broker: (0..nb)
                .map(|i| {
                    if judge.is_target[i] {
                        ideals.replicas[i]
                    } else {
                        0.0
                    }
                })
                .collect(),
            targets: (0..nb).filter(|&i| judge.is_target[i]).collect(),
        }
    }

    /// A broker's quota range, `floor..=ceiling` of its ideal.
    fn range(&self, i: usize) -> (u32, u32) {
        bounds(self.per_broker[i])
    }
}

/// Replica excess and deficit, leader spread and topic excess, before and
/// after.
fn balance_figures(t: &mut Totals, rows: &[BrokerRow], ideal: &Ideal, tally: &Tally) {
    let tgt = &ideal.targets;
    let excess = |c: &dyn Fn(usize) -> u64| -> i64 {
        tgt.iter()
            .map(|&i| c(i) as i64 - ideal.range(i).1 as i64)
            .max()
            .unwrap_or(0)
    };
    let deficit = |c: &dyn Fn(usize) -> u64| -> i64 {
        tgt.iter()
            .map(|&i| ideal.range(i).0 as i64 - c(i) as i64)
            .max()
            .unwrap_or(0)
    };
    // Below the ceiling everywhere is no excess (and above the floor no
    // deficit), never a negative one.
    t.replica_excess_before = excess(&|i| rows[i].replicas_before).max(0);
    t.replica_excess_after = excess(&|i| rows[i].replicas_after).max(0);
    t.replica_deficit_before = deficit(&|i| rows[i].replicas_before).max(0);
    t.replica_deficit_after = deficit(&|i| rows[i].replicas_after).max(0);
    let spread_of = |c: &dyn Fn(usize) -> u64| -> u64 {
        let v: Vec<u64> = tgt.iter().map(|&i| c(i)).collect();
        v.iter().max().unwrap_or(&0) - v.iter().min().unwrap_or(&0)
    };
    t.leader_spread_before = spread_of(&|i| rows[i].leaders_before);
    t.leader_spread_after = spread_of(&|i| rows[i].leaders_after);

    t.topic_excess_before = t.topic_excess_before.max(tally.topic_excess.0);
    t.topic_excess_after = t.topic_excess_after.max(tally.topic_excess.1);
}

/// Bytes: the lower bound on bytes moved and the worst broker's bytes over
/// its share, before and after.
fn byte_figures(t: &mut Totals, rows: &[BrokerRow], ideal: &Ideal, tally: &Tally, judge: &Judge) {
    let nb = rows.len();
    let tgt = &ideal.targets;
    let total_bytes: u64 = rows.iter().map(|r| r.bytes_before).sum::<u64>()
        - tally.offline_on.iter().map(|o| o.1).sum::<u64>();
    let total_ideal: f64 = tgt.iter().map(|&i| ideal.per_broker[i]).sum();
    let share = |i: usize| total_bytes as f64 * ideal.per_broker[i] / total_ideal.max(1e-12);
    let off_bytes: u64 = (0..nb)
        .filter(|&i| !judge.is_target[i])
        .map(|i| rows[i].bytes_before - tally.offline_on[i].1)
        .sum();
    let over_bytes: f64 = tgt
        .iter()
        .map(|&i| (rows[i].bytes_before as f64 - share(i)).max(0.0))
        .sum();
    t.bytes_moves_lower_bound = off_bytes + over_bytes as u64;
    let max_ratio = |c: &dyn Fn(usize) -> u64| -> f64 {
        let r = tgt
            .iter()
            .filter(|&&i| share(i) > 0.0)
            .map(|&i| c(i) as f64 / share(i))
            .fold(0.0, f64::max);
        if total_bytes == 0 {
            1.0
        } else {
            (r * 1e4).round() / 1e4
        }
    };
    t.bytes_max_over_ideal_before = max_ratio(&|i| rows[i].bytes_before);
    t.bytes_max_over_ideal_after = max_ratio(&|i| rows[i].bytes_after);
}

/// The racks whose brokers' ideal is above what an even spread over all
/// target brokers gives, by more than rounding (its floor over the even
/// ceiling): the summary says why those brokers hold more. One rack (as
/// when racks are ignored, all brokers then count as rack-less) has the
/// even ideal, so it is never crowded; every rack named has a target
/// broker.
fn crowded(racks: &[RackIdeal]) -> Vec<CrowdedRack> {
    let brokers: usize = racks.iter().map(|r| r.brokers).sum();
    let total: f64 = racks.iter().map(|r| r.brokers as f64 * r.replicas).sum();
    let even = total / brokers as f64;
    racks
        .iter()
        .filter(|r| bounds(r.replicas).0 > bounds(even).1)
        .map(|r| CrowdedRack {
            rack: r.name.clone(),
            target_brokers: r.brokers,
            all_target_brokers: brokers,
            racks: racks.len(),
            ideal_replicas: (r.replicas * 100.0).round() / 100.0,
            even_replicas: (even * 100.0).round() / 100.0,
        })
        .collect()
}
