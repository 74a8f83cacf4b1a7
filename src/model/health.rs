//! Partitions a plan cannot treat as settled: those in motion (a
//! reassignment in flight, KIP-455) and those with no live in-sync replica
//! (offline: no copy exists to move).
//!
//! While a partition moves, Kafka's metadata lists the union of its target
//! and the replicas being removed (FIELD-GUIDE §3): planning from that list
//! would count the removing replicas as staying and raise the replication
//! factor. [`Cluster::settled`] gives the cluster as though every move had
//! finished.

use super::{BrokerId, Cluster, Partition, TopicPartition};

/// A reassignment in progress, as ListPartitionReassignments reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlight {
    /// Where the partition is going: `replicas` minus `removing`, in order.
    pub target: Vec<BrokerId>,
    /// Replicas being added (part of both `replicas` and `target`).
    pub adding: Vec<BrokerId>,
    /// Replicas being removed (part of `replicas`, not of `target`).
    pub removing: Vec<BrokerId>,
}

impl Partition {
    /// Whether a live broker leads this partition or can be elected to:
    /// its leader, or a live replica in the ISR. A live replica outside
    /// the ISR is not elected (unclean election is off by default), so a
    /// partition whose in-sync replicas are all down stays without a
    /// leader even though a copy of it is up. (Kafka 4.x may elect an
    /// eligible leader replica, KIP-966, outside the ISR: it does so as
    /// soon as one is up, so a snapshot rarely shows one waiting, and a
    /// new snapshot shows it leading.) A snapshot without `isr`
    /// has every replica in sync, so there any live replica counts.
    pub fn can_lead(&self, alive: impl Fn(BrokerId) -> bool) -> bool {
        self.leader.is_some_and(&alive) || self.isr.iter().any(|&b| alive(b))
    }
}

impl Cluster {
    /// The partitions with a reassignment in flight, sorted.
    pub fn in_flight_partitions(&self) -> Vec<TopicPartition> {
        self.partitions()
            .filter(|(_, p)| p.in_flight.is_some())
            .map(|(t, p)| TopicPartition {
                topic: t.name.clone(),
                partition: p.partition,
            })
            .collect()
    }

    /// The cluster as though every move in flight had finished: each
    /// moving partition holds its target, all in sync, led by its leader
    /// if that stays, else by the first target replica (as Kafka elects
    /// once the old leader leaves).
    pub fn settled(&self) -> Cluster {
        let mut out = self.clone();
        for t in &mut out.topics {
            for p in &mut t.partitions {
                let Some(moving) = p.in_flight.take() else {
                    continue;
                };
                p.leader = p
                    .leader
                    .filter(|l| moving.target.contains(l))
                    .or(moving.target.first().copied());
                p.isr = moving.target.clone();
                p.replicas = moving.target;
            }
        }
        out
    }

    /// Per partition, in [`Cluster::partitions`] order: whether no live
    /// broker leads it or can be elected to (see [`Partition::can_lead`]).
    /// No move can heal such a partition: a new replica copies from the
    /// leader, and none can be elected until a broker holding it in sync
    /// returns.
    pub fn offline_mask(&self) -> Vec<bool> {
        let alive: std::collections::HashSet<BrokerId> = self
            .brokers
            .iter()
            .filter(|b| b.alive)
            .map(|b| b.id)
            .collect();
        self.partitions()
            .map(|(_, p)| !p.can_lead(|b| alive.contains(&b)))
            .collect()
    }

    /// The partitions with no in-sync replica on a live broker, sorted.
    pub fn offline_partitions(&self) -> Vec<TopicPartition> {
        self.offline_partitions_of(&self.offline_mask())
    }

    /// [`Cluster::offline_partitions`] from a mask already computed.
    pub fn offline_partitions_of(&self, offline: &[bool]) -> Vec<TopicPartition> {
        self.partitions()
            .zip(offline.iter().copied())
            .filter(|(_, off)| *off)
            .map(|((t, p), _)| TopicPartition {
                topic: t.name.clone(),
                partition: p.partition,
            })
            .collect()
    }

    /// The cluster without the partitions `drop` marks (in
    /// [`Cluster::partitions`] order); topics left with none are dropped.
    pub fn without(&self, drop: &[bool]) -> Cluster {
        let mut i = 0;
        let mut topics = Vec::with_capacity(self.topics.len());
        for t in &self.topics {
            let mut kept = t.clone();
            kept.partitions.retain(|_| {
                i += 1;
                !drop[i - 1]
            });
            if !kept.partitions.is_empty() {
                topics.push(kept);
            }
        }
        Cluster {
            brokers: self.brokers.clone(),
            topics,
        }
    }
}

/// Names up to `max` partitions, then how many more: `a-0, a-1 and 3 more`.
pub fn name_some(tps: &[TopicPartition], max: usize) -> String {
    let shown: Vec<String> = tps.iter().take(max).map(|tp| tp.to_string()).collect();
    match tps.len().saturating_sub(max) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Broker, Partition, Topic};

    fn broker(id: BrokerId, alive: bool) -> Broker {
        Broker {
            id,
            rack: None,
            host: None,
            port: None,
            alive,
        }
    }

    fn part(n: i32, replicas: &[BrokerId], in_flight: Option<InFlight>) -> Partition {
        Partition {
            partition: n,
            replicas: replicas.to_vec(),
            isr: replicas.to_vec(),
            leader: replicas.first().copied(),
            size_bytes: 10,
            in_flight: in_flight.map(Box::new),
        }
    }

    #[test]
    fn settled_takes_the_target_and_a_leader_that_stays() {
        let moving = InFlight {
            target: vec![2, 4],
            adding: vec![4],
            removing: vec![1],
        };
        let c = Cluster {
            brokers: (1..=4).map(|b| broker(b, true)).collect(),
            topics: vec![Topic {
                name: "t".into(),
                partitions: vec![part(0, &[1, 2, 4], Some(moving)), part(1, &[3, 1], None)],
            }],
        };
        assert_eq!(c.in_flight_partitions().len(), 1);
        let s = c.settled();
        let p = &s.topics[0].partitions[0];
        assert_eq!(
            (p.replicas.clone(), p.isr.clone()),
            (vec![2, 4], vec![2, 4])
        );
        assert_eq!(p.leader, Some(2), "the old leader 1 leaves");
        assert!(s.in_flight_partitions().is_empty());
        assert_eq!(s.topics[0].partitions[1], c.topics[0].partitions[1]);
    }

    #[test]
    fn offline_means_no_replica_on_a_live_broker() {
        let c = Cluster {
            brokers: vec![broker(1, true), broker(2, false), broker(3, false)],
            topics: vec![Topic {
                name: "t".into(),
                partitions: vec![
                    part(0, &[2], None),
                    part(1, &[1, 2], None),
                    part(2, &[3, 2], None),
                ],
            }],
        };
        assert_eq!(c.offline_mask(), vec![true, false, true]);
        let names: Vec<String> = c
            .offline_partitions()
            .iter()
            .map(|t| t.to_string())
            .collect();
        assert_eq!(names, ["t-0", "t-2"]);
        let left = c.without(&c.offline_mask());
        assert_eq!(left.partition_count(), 1);
        assert_eq!(left.topics[0].partitions[0].partition, 1);
    }

    #[test]
    fn name_some_stops_at_max() {
        let tps: Vec<TopicPartition> = (0..4)
            .map(|p| TopicPartition {
                topic: "t".into(),
                partition: p,
            })
            .collect();
        assert_eq!(name_some(&tps, 4), "t-0, t-1, t-2, t-3");
        assert_eq!(name_some(&tps, 2), "t-0, t-1 and 2 more");
    }
}
