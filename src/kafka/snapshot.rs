//! The cluster as a snapshot, built from what the admin calls return:
//! Metadata (brokers, racks, replicas, ISR, leaders), DescribeLogDirs
//! (sizes) and ListPartitionReassignments (moves in flight). No I/O here:
//! [`build`] is a function of those answers.

use std::collections::BTreeMap;

use kafka_protocol::messages::MetadataResponse;

use crate::model::live::{InFlight, ReplicaSizes};
use crate::model::{self, Broker, BrokerId, Cluster, Partition, Topic, TopicPartition};

/// The cluster as `describe` reports it.
#[derive(Debug, Clone)]
pub struct Survey {
    /// The snapshot, partitions in motion with their target, adding and
    /// removing replicas.
    pub cluster: Cluster,
    /// Bytes on each live broker's log dirs: the sum of its own replicas'
    /// sizes (of the snapshot's topics), which mid-move is not the leader's
    /// size over every replica list.
    pub broker_bytes: BTreeMap<BrokerId, u64>,
    /// The moves in flight, sorted.
    pub moves: Vec<InFlight>,
    /// The controller Metadata names (-1 if none).
    pub controller: BrokerId,
}

/// The snapshot of `md` with sizes from `sizes` (the leader's size, else
/// the largest replica's) and `moves` recorded on their partitions.
/// Brokers named in replica lists but absent from metadata are reported as
/// not alive. Internal topics and topics with an error are left out.
pub fn build(md: &MetadataResponse, sizes: &ReplicaSizes, moves: Vec<InFlight>) -> Survey {
    let mut brokers: BTreeMap<BrokerId, Broker> = md
        .brokers
        .iter()
        .map(|b| {
            (
                b.node_id.0,
                Broker {
                    id: b.node_id.0,
                    rack: b.rack.as_ref().map(|r| r.as_str().to_string()),
                    host: Some(b.host.as_str().to_string()),
                    port: u16::try_from(b.port).ok(),
                    alive: true,
                },
            )
        })
        .collect();
    let live: Vec<BrokerId> = brokers.keys().copied().collect();
    let dead = |b: BrokerId| Broker {
        id: b,
        rack: None,
        host: None,
        port: None,
        alive: false,
    };
    let mut topics = Vec::new();
    for t in md
        .topics
        .iter()
        .filter(|t| t.error_code == 0 && !t.is_internal)
    {
        let Some(name) = t.name.as_ref().map(|n| n.0.as_str().to_string()) else {
            continue;
        };
        let mut partitions: Vec<Partition> = t
            .partitions
            .iter()
            .map(|p| {
                let replicas: Vec<BrokerId> = p.replica_nodes.iter().map(|b| b.0).collect();
                for &b in &replicas {
                    brokers.entry(b).or_insert_with(|| dead(b));
                }
                let leader = (p.leader_id.0 >= 0).then_some(p.leader_id.0);
                let by_broker = sizes.get(&TopicPartition {
                    topic: name.clone(),
                    partition: p.partition_index,
                });
                let size = by_broker
                    .and_then(|m| leader.and_then(|l| m.get(&l)).copied())
                    .or_else(|| by_broker.and_then(|m| m.values().max().copied()))
                    .unwrap_or(0);
                Partition {
                    partition: p.partition_index,
                    isr: p.isr_nodes.iter().map(|b| b.0).collect(),
                    leader,
                    replicas,
                    size_bytes: size,
                    in_flight: None,
                }
            })
            .collect();
        partitions.sort_by_key(|p| p.partition);
        topics.push(Topic { name, partitions });
    }
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    let mut cluster = Cluster {
        brokers: Vec::new(),
        topics,
    };
    for m in &moves {
        for &b in &m.replicas {
            brokers.entry(b).or_insert_with(|| dead(b));
        }
        mark_in_flight(&mut cluster, m);
    }
    cluster.brokers = brokers.into_values().collect();
    // Per broker, its own replicas of the snapshot's topics (a moving
    // partition's adding replica holds only what it has copied so far).
    let mut broker_bytes: BTreeMap<BrokerId, u64> = live.iter().map(|&id| (id, 0)).collect();
    for (tp, by_broker) in sizes {
        if cluster.partition(tp).is_some() {
            for (b, z) in by_broker {
                *broker_bytes.entry(*b).or_default() += z;
            }
        }
    }
    Survey {
        cluster,
        broker_bytes,
        moves,
        controller: md.controller_id.0,
    }
}

/// Records a move in flight on its partition: the replicas as the
/// controller lists them (the target, then the replicas being removed;
/// metadata may not have caught up yet), and the target, adding and
/// removing replicas. ISR and leader are kept within that list.
fn mark_in_flight(cluster: &mut Cluster, m: &InFlight) {
    let Some(p) = cluster
        .topics
        .iter_mut()
        .find(|t| t.name == m.tp.topic)
        .and_then(|t| {
            t.partitions
                .iter_mut()
                .find(|p| p.partition == m.tp.partition)
        })
    else {
        return;
    };
    p.replicas = m.replicas.clone();
    p.isr.retain(|b| m.replicas.contains(b));
    p.leader = p.leader.filter(|l| m.replicas.contains(l));
    p.in_flight = Some(model::InFlight {
        target: m.target(),
        adding: m.adding.clone(),
        removing: m.removing.clone(),
    });
}
