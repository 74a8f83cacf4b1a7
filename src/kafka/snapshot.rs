//! The cluster as a snapshot, built from what the admin calls return:
//! Metadata (brokers, racks, replicas, ISR, leaders), DescribeLogDirs
//! (sizes) and ListPartitionReassignments (moves in flight). No I/O here:
//! [`build`] is a function of those answers.

use std::collections::BTreeMap;

use kafka_protocol::messages::MetadataResponse;

use crate::model::live::{ErrorCode, InFlight, LogDirs, ReplicaSizes};
use crate::model::log_dirs::LogDirLayout;
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
    /// Each live broker's online log dirs and where its replicas of the
    /// snapshot's topics are.
    pub log_dirs: LogDirLayout,
}

/// Bytes of each replica on each broker: its current log's (a future log
/// of a disk move is a copy, not more data).
pub fn sizes_of(dirs: &LogDirs) -> ReplicaSizes {
    let mut out = ReplicaSizes::new();
    for (&b, d) in dirs {
        for (tp, r) in &d.replicas {
            out.entry(tp.clone()).or_default().insert(b, r.size);
        }
    }
    out
}

/// The log dirs of `dirs` for the snapshot of `cluster`: every broker's
/// online dirs, and the current dir of its replicas of the cluster's
/// topics with their own size where it is not the partition's.
pub fn layout_of(dirs: &LogDirs, cluster: &Cluster) -> LogDirLayout {
    let mut out = LogDirLayout::default();
    for (&b, d) in dirs {
        out.add_broker_dirs(b, d.dirs.iter().cloned());
        for (tp, r) in &d.replicas {
            if let Some(p) = cluster.partition(tp) {
                out.insert(tp.clone(), b, r.dir.clone());
                out.set_size(tp, b, r.size, p.size_bytes);
            }
        }
    }
    out
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
        .filter(|t| t.error_code == ErrorCode::NONE && !t.is_internal)
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
        log_dirs: LogDirLayout::default(),
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
    p.in_flight = Some(Box::new(model::InFlight {
        target: m.target(),
        adding: m.adding.clone(),
        removing: m.removing.clone(),
    }));
}

impl Survey {
    /// Keeps only the named topics (and their moves), and of the brokers
    /// not alive only those their replica lists still name. Returns the
    /// names that are not in the cluster, sorted, and changes nothing then.
    pub fn retain_topics(&mut self, names: &[String]) -> Result<(), Vec<String>> {
        let mut missing: Vec<String> = names
            .iter()
            .filter(|n| !self.cluster.topics.iter().any(|t| &t.name == *n))
            .cloned()
            .collect();
        if !missing.is_empty() {
            missing.sort();
            missing.dedup();
            return Err(missing);
        }
        self.cluster.topics.retain(|t| names.contains(&t.name));
        self.moves.retain(|m| names.contains(&m.tp.topic));
        self.log_dirs
            .retain_topics(|t| names.iter().any(|n| n == t));
        let named: std::collections::BTreeSet<BrokerId> = self
            .cluster
            .partitions()
            .flat_map(|(_, p)| p.replicas.iter().copied())
            .collect();
        self.cluster
            .brokers
            .retain(|b| b.alive || named.contains(&b.id));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::metadata_response::{
        MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
    };
    use kafka_protocol::messages::{BrokerId as W, TopicName};
    use kafka_protocol::protocol::StrBytes;

    fn md() -> MetadataResponse {
        let broker = |id: i32| {
            MetadataResponseBroker::default()
                .with_node_id(W(id))
                .with_host(StrBytes::from_static_str("h"))
                .with_port(9000 + id)
                .with_rack(Some(StrBytes::from_string(format!("r{}", id % 2))))
        };
        let part = |i: i32, replicas: &[i32], leader: i32| {
            MetadataResponsePartition::default()
                .with_partition_index(i)
                .with_replica_nodes(replicas.iter().map(|&b| W(b)).collect())
                .with_isr_nodes(replicas.iter().map(|&b| W(b)).collect())
                .with_leader_id(W(leader))
        };
        let topic = |name: &str, parts: Vec<MetadataResponsePartition>| {
            MetadataResponseTopic::default()
                .with_name(Some(TopicName(StrBytes::from_string(name.into()))))
                .with_partitions(parts)
        };
        MetadataResponse::default()
            .with_brokers(vec![broker(1), broker(2), broker(3)])
            .with_controller_id(W(2))
            .with_topics(vec![
                topic("b", vec![part(1, &[2, 3], 2), part(0, &[1, 2], 1)]),
                topic("a", vec![part(0, &[1, 9], 1)]),
                topic("__consumer_offsets", vec![part(0, &[1], 1)]).with_is_internal(true),
            ])
    }

    fn tp(t: &str, p: i32) -> TopicPartition {
        TopicPartition {
            topic: t.into(),
            partition: p,
        }
    }

    #[test]
    fn builds_the_snapshot_from_the_answers() {
        let mut sizes = ReplicaSizes::new();
        sizes.insert(tp("b", 0), [(1, 100), (2, 90)].into());
        // No leader's size: the largest replica's.
        sizes.insert(tp("b", 1), [(3, 70)].into());
        sizes.insert(tp("gone", 0), [(3, 5)].into());
        let moves = vec![InFlight {
            tp: tp("b", 1),
            replicas: vec![3, 1, 2],
            adding: vec![1],
            removing: vec![2],
        }];
        let s = build(&md(), &sizes, moves);
        let names: Vec<&str> = s.cluster.topics.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["a", "b"], "sorted, internal topics left out");
        let ids: Vec<(i32, bool)> = s.cluster.brokers.iter().map(|b| (b.id, b.alive)).collect();
        assert_eq!(ids, [(1, true), (2, true), (3, true), (9, false)]);
        let b0 = s.cluster.partition(&tp("b", 0)).unwrap();
        assert_eq!(b0.size_bytes, 100, "the leader's size");
        let b1 = s.cluster.partition(&tp("b", 1)).unwrap();
        assert_eq!(b1.size_bytes, 70);
        assert_eq!(b1.replicas, vec![3, 1, 2], "the controller's list");
        let f = b1.in_flight.as_ref().unwrap();
        assert_eq!((f.target.clone(), f.adding.clone()), (vec![3, 1], vec![1]));
        assert_eq!(
            s.broker_bytes.into_iter().collect::<Vec<_>>(),
            [(1, 100), (2, 90), (3, 70)],
            "topics outside the snapshot are not counted"
        );
        assert_eq!(s.controller, 2);
    }

    #[test]
    fn keeps_only_the_topics_asked_for() {
        let moves = vec![InFlight {
            tp: tp("b", 1),
            replicas: vec![2, 3],
            adding: vec![],
            removing: vec![],
        }];
        let mut s = build(&md(), &ReplicaSizes::new(), moves);
        assert_eq!(
            s.retain_topics(&["b".into(), "x".into(), "c".into(), "x".into()]),
            Err(vec!["c".to_string(), "x".to_string()])
        );
        assert_eq!(s.cluster.topics.len(), 2, "nothing changed");
        let mut a = s.clone();
        a.retain_topics(&["a".into()]).unwrap();
        assert!(a.moves.is_empty());
        assert_eq!(a.cluster.brokers.len(), 4, "dead broker 9 still named");
        s.retain_topics(&["b".into()]).unwrap();
        assert_eq!(s.moves.len(), 1);
        let ids: Vec<i32> = s.cluster.brokers.iter().map(|b| b.id).collect();
        assert_eq!(ids, [1, 2, 3], "dead broker 9 no longer named");
    }

    #[test]
    fn records_the_log_dirs_of_the_snapshots_topics() {
        use crate::model::live::{BrokerDirs, FutureDir, ReplicaDir};
        let dir = |d: &str, size: u64, future: Option<&str>| ReplicaDir {
            dir: d.into(),
            size,
            future: future.map(|f| FutureDir {
                dir: f.into(),
                size: 1,
            }),
        };
        let mut dirs = LogDirs::new();
        dirs.insert(
            1,
            BrokerDirs {
                dirs: vec!["/a".into(), "/b".into(), "/empty".into()],
                offline: vec!["/broken".into()],
                replicas: [
                    (tp("b", 0), dir("/a", 100, Some("/b"))),
                    (tp("gone", 0), dir("/b", 5, None)),
                ]
                .into(),
            },
        );
        dirs.insert(
            2,
            BrokerDirs {
                dirs: vec!["/x".into()],
                offline: vec![],
                replicas: [(tp("b", 0), dir("/x", 90, None))].into(),
            },
        );
        let sizes = sizes_of(&dirs);
        assert_eq!(
            sizes[&tp("b", 0)],
            [(1, 100), (2, 90)].into(),
            "the current log's bytes"
        );
        let s = build(&md(), &sizes, Vec::new());
        let layout = layout_of(&dirs, &s.cluster);
        assert_eq!(
            layout.dirs_of(1),
            ["/a", "/b", "/empty"],
            "online dirs, empty ones too"
        );
        assert_eq!(
            layout.dir_of(&tp("b", 0), 1),
            Some("/a"),
            "where it is, not where it goes"
        );
        assert_eq!(layout.dir_of(&tp("b", 0), 2), Some("/x"));
        assert_eq!(
            layout.size_of(&tp("b", 0), 2, 100),
            90,
            "a replica's own bytes where they are not the leader's"
        );
        assert_eq!(
            layout.sizes[&tp("b", 0)],
            [(2, 90)].into(),
            "only those that differ are kept"
        );
        assert!(
            !layout.replicas.contains_key(&tp("gone", 0)),
            "topics outside the snapshot"
        );
    }
}
