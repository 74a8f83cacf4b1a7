//! Phase `resolve`: the request, checked and made concrete. Which brokers
//! are targets, which partitions may move, where replicas start (after a
//! `--replace` substitution and a replication factor change, both made
//! whole here), and whether racks count.
//!
//! Input: the cluster's online partitions ([`Online`]) and the
//! [`PlanRequest`].
//! Output: a [`Job`], or the [`PlanError`] that makes the request
//! impossible. Invariant: every later phase starts from `Job::reps` and
//! judges rack safety by `Job::use_racks`; nothing after this phase
//! refuses a request.

use std::collections::BTreeSet;

use rustc_hash::FxHashMap;

use super::online::Online;
use super::replicas::Replicas;
use super::state::BrokerIx;
use super::{PlanError, PlanRequest, Targets};
use crate::model::{BrokerId, Cluster, RackCoverage, TopicPartition};

/// The request, resolved against the cluster.
pub(super) struct Job {
    /// Per broker: alive, and should hold replicas afterwards.
    pub alive: Vec<bool>,
    pub target: Vec<bool>,
    /// `--replace` pairs (old, new), as broker indices.
    pub replace: Vec<(BrokerIx, BrokerIx)>,
    /// Per partition: whether its topic may move.
    pub movable: Vec<bool>,
    /// Where replicas start: the snapshot, substituted and with the new
    /// replication factor.
    pub reps: Vec<Replicas>,
    pub use_racks: bool,
    pub rf_changed: usize,
    /// Dead brokers that hold replicas at the start.
    pub dead_brokers: Vec<BrokerId>,
}

impl Job {
    /// Replicas on dead brokers in `reps`.
    pub fn on_dead(&self, reps: &[Replicas]) -> u64 {
        reps.iter()
            .flatten()
            .filter(|&&b| !self.alive[b as usize])
            .count() as u64
    }

    /// A substitution (`--replace`) moves exactly what leaves the old
    /// brokers: no rebalancing phase runs.
    pub fn substitutes(&self) -> bool {
        !self.replace.is_empty()
    }
}

/// Whether the plan keeps partitions spread over racks: unless the request
/// ignores them, when every broker has a rack. Some but not all is an
/// error. The one place this is decided; the summary is told the answer
/// ([`super::Outcome::racks_used`]).
pub fn use_racks(cluster: &Cluster, ignore_racks: bool) -> Result<bool, PlanError> {
    if ignore_racks {
        return Ok(false);
    }
    match cluster.rack_coverage() {
        RackCoverage::All => Ok(true),
        RackCoverage::None => Ok(false),
        RackCoverage::Partial(missing) => Err(PlanError::PartialRacks(missing)),
    }
}

/// Checks the request and makes it concrete. See the module documentation.
pub(super) fn resolve(cluster: &Online, req: &PlanRequest) -> Result<Job, PlanError> {
    let nb = cluster.brokers().len();
    let index = cluster.broker_index();
    let idx = |id: BrokerId| index.get(&id).copied().ok_or(PlanError::UnknownBroker(id));
    let alive: Vec<bool> = cluster.brokers().iter().map(|b| b.alive).collect();

    let mut target = alive.clone();
    let mut replace: Vec<(BrokerIx, BrokerIx)> = Vec::new();
    match &req.targets {
        Targets::Alive => {}
        Targets::Brokers(list) => {
            target = vec![false; nb];
            for &id in list {
                let i = idx(id)?;
                if !alive[i] {
                    return Err(PlanError::DeadTarget(id));
                }
                target[i] = true;
            }
        }
        Targets::Remove(list) => {
            for &id in list {
                target[idx(id)?] = false;
            }
        }
        Targets::Replace(pairs) => {
            let mut seen = BTreeSet::new();
            for &(old, new) in pairs {
                for id in [old, new] {
                    if !seen.insert(id) {
                        return Err(PlanError::ReplaceRepeated(id));
                    }
                }
                let (o, n) = (idx(old)?, idx(new)?);
                if !alive[n] {
                    return Err(PlanError::DeadTarget(new));
                }
                target[o] = false;
                target[n] = true;
                replace.push((o as BrokerIx, n as BrokerIx));
            }
        }
    }
    // A half-done substitution would leave OLD in use. (A replication
    // factor change is made whole, outside the budget: `--max-moves 0`
    // changes it and nothing else.)
    if req.budget.is_limited() && !replace.is_empty() {
        return Err(PlanError::BudgetWith("--replace"));
    }
    let ntargets = target.iter().filter(|&&t| t).count();
    if ntargets == 0 {
        return Err(PlanError::NoTargets);
    }
    let use_racks = use_racks(cluster.cluster(), req.ignore_racks)?;

    // Every replica's broker is looked up here (5.5M on a 2M-partition
    // snapshot): FxHash, not the SipHash of `index`, and each topic's
    // selection once, not once per partition.
    let fast: FxHashMap<BrokerId, BrokerIx> =
        index.iter().map(|(&id, &i)| (id, i as BrokerIx)).collect();
    let mut reps: Vec<Replicas> = Vec::with_capacity(cluster.partition_count());
    let mut movable = Vec::with_capacity(cluster.partition_count());
    for (t, partitions) in cluster.topics() {
        let selected = req.topics.as_ref().is_none_or(|s| s.contains(&t.name));
        for p in partitions {
            reps.push(p.replicas.iter().map(|id| fast[id]).collect());
            movable.push(selected);
        }
    }

    for &(o, n) in &replace {
        for (pi, (t, p)) in cluster.partitions().enumerate() {
            if !movable[pi] || !reps[pi].contains(&o) {
                continue;
            }
            if reps[pi].contains(&n) {
                return Err(PlanError::ReplaceConflict {
                    tp: TopicPartition {
                        topic: t.name.clone(),
                        partition: p.partition,
                    },
                    old: cluster.brokers()[o as usize].id,
                    new: cluster.brokers()[n as usize].id,
                });
            }
            let slot = reps[pi].iter().position(|&b| b == o).expect("checked");
            reps[pi][slot] = n;
        }
    }

    let mut rf_changed = 0;
    if let Some(rf) = req.replication_factor {
        if rf == 0 {
            return Err(PlanError::ZeroReplicationFactor);
        }
        if rf > ntargets {
            return Err(PlanError::ReplicationFactorTooHigh {
                rf,
                targets: ntargets,
            });
        }
        rf_changed = change_rf(cluster, &mut reps, &movable, &target, rf, use_racks);
    }

    // A partition wider than the target set has nowhere to go: an error,
    // as in Kafka, rather than a plan that strands some of it.
    if let Some((pi, r)) = reps
        .iter()
        .enumerate()
        .find(|&(pi, r)| movable[pi] && r.len() > ntargets)
    {
        let (t, p) = cluster
            .partitions()
            .nth(pi)
            .expect("one list per partition");
        return Err(PlanError::PartitionTooWide {
            tp: TopicPartition {
                topic: t.name.clone(),
                partition: p.partition,
            },
            rf: r.len(),
            targets: ntargets,
        });
    }

    // Replicas on dead brokers are healed whatever the target set says.
    // (One pass over the replicas, not one per dead broker.)
    let mut holds = vec![false; nb];
    if alive.contains(&false) {
        for &b in reps.iter().flatten() {
            holds[b as usize] = true;
        }
    }
    let dead_brokers: Vec<BrokerId> = cluster
        .brokers()
        .iter()
        .enumerate()
        .filter(|&(i, b)| !b.alive && holds[i])
        .map(|(_, b)| b.id)
        .collect();
    Ok(Job {
        alive,
        target,
        replace,
        movable,
        reps,
        use_racks,
        rf_changed,
        dead_brokers,
    })
}

/// Changes the replication factor of movable partitions. Added replicas go
/// to the least loaded targets on racks the partition does not use yet;
/// removed ones come off non-targets first, then duplicated racks, then the
/// most loaded brokers, never the current leader when avoidable.
fn change_rf(
    cluster: &Online,
    reps: &mut [Replicas],
    movable: &[bool],
    target: &[bool],
    rf: usize,
    use_racks: bool,
) -> usize {
    let nb = cluster.brokers().len();
    let rack: Vec<Option<&str>> = cluster
        .brokers()
        .iter()
        .map(|b| if use_racks { b.rack.as_deref() } else { None })
        .collect();
    let mut count = vec![0i64; nb];
    for r in reps.iter() {
        for &b in r {
            count[b as usize] += 1;
        }
    }
    let leaders: Vec<Option<BrokerIx>> = cluster
        .partitions()
        .zip(reps.iter())
        .map(|((_, p), r)| {
            p.leader.and_then(|l| {
                r.iter()
                    .copied()
                    .find(|&b| cluster.brokers()[b as usize].id == l)
            })
        })
        .collect();
    let mut changed = 0;
    for (pi, slot) in reps.iter_mut().enumerate() {
        if !movable[pi] || slot.len() == rf {
            continue;
        }
        changed += 1;
        // A list is built whole (see `Replicas`): grown or cut here.
        let r = &mut slot.to_vec();
        while r.len() < rf {
            let best = (0..nb)
                .filter(|&b| target[b] && !r.contains(&(b as BrokerIx)))
                .min_by_key(|&b| {
                    let new_rack =
                        rack[b].is_some() && !r.iter().any(|&x| rack[x as usize] == rack[b]);
                    (!new_rack, count[b], b)
                })
                .expect("rf <= targets was checked");
            count[best] += 1;
            r.push(best as BrokerIx);
        }
        while r.len() > rf {
            let keep = leaders[pi].or(r.first().copied());
            let victim = (0..r.len())
                .filter(|&i| Some(r[i]) != keep)
                .max_by_key(|&i| {
                    let b = r[i] as usize;
                    let dup_rack = rack[b].is_some()
                        && r.iter().filter(|&&x| rack[x as usize] == rack[b]).count() > 1;
                    (!target[b], dup_rack, count[b], std::cmp::Reverse(b))
                })
                .expect("rf >= 1 leaves a replica to drop");
            count[r[victim] as usize] -= 1;
            r.remove(victim);
        }
        *slot = Replicas::new(r);
    }
    changed
}
