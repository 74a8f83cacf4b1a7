//! The partitions the planner plans: a cluster's online ones, read in
//! place.
//!
//! Offline partitions (no in-sync replica on a live broker) stay out of the
//! planning altogether, so that quotas, bounds and topic shares are those
//! of what can move. The planner once planned a copy of the cluster
//! without them (`Cluster::without`): on a 2M-partition snapshot that copy
//! was about 300 MB of the peak. This view lists the same topics and
//! partitions in the same order, so every dense index (partition, topic)
//! is what it was on the copy, and copies nothing but, for a topic with
//! some partitions offline, the positions of the others.

use crate::model::{Broker, BrokerId, Cluster, Partition, Topic};

/// The online partitions of a cluster: topics left with none are left out,
/// as `Cluster::without` drops them.
pub(crate) struct Online<'a> {
    cluster: &'a Cluster,
    /// Topics with an online partition, in `Cluster::topics` order.
    topics: Vec<OnlineTopic<'a>>,
    partition_count: usize,
}

/// One topic and which of its partitions are online.
struct OnlineTopic<'a> {
    topic: &'a Topic,
    /// Positions in `topic.partitions` of the online ones; `None` when all
    /// are (the common case, which then costs nothing per partition).
    kept: Option<Vec<u32>>,
}

impl<'a> OnlineTopic<'a> {
    fn len(&self) -> usize {
        self.kept
            .as_ref()
            .map_or(self.topic.partitions.len(), Vec::len)
    }

    fn partitions(&self) -> impl Iterator<Item = &'a Partition> + '_ {
        let parts = &self.topic.partitions;
        let kept = self.kept.as_deref();
        (0..self.len()).map(move |k| match kept {
            None => &parts[k],
            Some(ix) => &parts[ix[k] as usize],
        })
    }
}

impl<'a> Online<'a> {
    /// Every topic and partition of `cluster`, offline ones included (for
    /// a cluster known to have none, and for tests): the cluster as it is.
    pub fn all(cluster: &'a Cluster) -> Online<'a> {
        Online {
            cluster,
            topics: cluster
                .topics
                .iter()
                .map(|topic| OnlineTopic { topic, kept: None })
                .collect(),
            partition_count: cluster.partition_count(),
        }
    }

    /// The partitions of `cluster` that `offline` (in
    /// [`Cluster::partitions`] order) does not mark.
    pub fn new(cluster: &'a Cluster, offline: &[bool]) -> Online<'a> {
        let mut topics = Vec::with_capacity(cluster.topics.len());
        let mut start = 0;
        let mut partition_count = 0;
        for topic in &cluster.topics {
            let marks = &offline[start..start + topic.partitions.len()];
            start += topic.partitions.len();
            let online = marks.iter().filter(|&&off| !off).count();
            partition_count += online;
            let kept = match online {
                0 => continue,
                n if n == marks.len() => None,
                _ => Some(
                    (0..marks.len() as u32)
                        .filter(|&i| !marks[i as usize])
                        .collect(),
                ),
            };
            topics.push(OnlineTopic { topic, kept });
        }
        Online {
            cluster,
            topics,
            partition_count,
        }
    }

    /// The whole cluster this view is of.
    pub fn cluster(&self) -> &'a Cluster {
        self.cluster
    }

    /// Every broker, as in the cluster (the dense broker index).
    pub fn brokers(&self) -> &'a [Broker] {
        &self.cluster.brokers
    }

    /// Topics with an online partition: the dense topic index.
    pub fn topic_count(&self) -> usize {
        self.topics.len()
    }

    pub fn partition_count(&self) -> usize {
        self.partition_count
    }

    /// Each topic with its online partitions, in order.
    pub fn topics(
        &self,
    ) -> impl Iterator<Item = (&'a Topic, impl Iterator<Item = &'a Partition> + '_)> + '_ {
        self.topics.iter().map(|t| (t.topic, t.partitions()))
    }

    /// The names of the topics with an online partition, in order.
    pub fn topic_names(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.topics.iter().map(|t| t.topic.name.as_str())
    }

    /// Every online partition with its topic: the dense partition index.
    pub fn partitions(&self) -> impl Iterator<Item = (&'a Topic, &'a Partition)> + '_ {
        self.topics
            .iter()
            .flat_map(|t| t.partitions().map(move |p| (t.topic, p)))
    }

    pub fn broker_index(&self) -> std::collections::HashMap<BrokerId, usize> {
        self.cluster.broker_index()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Partition;

    fn cluster() -> Cluster {
        let part = |n: i32, r: &[BrokerId]| Partition {
            partition: n,
            replicas: r.to_vec(),
            isr: r.to_vec(),
            leader: r.first().copied(),
            size_bytes: n as u64,
            in_flight: None,
        };
        let broker = |id: BrokerId, alive: bool| Broker {
            id,
            rack: None,
            host: None,
            port: None,
            alive,
        };
        Cluster {
            brokers: vec![broker(1, true), broker(2, false)],
            topics: vec![
                Topic {
                    name: "a".into(),
                    partitions: vec![part(0, &[2]), part(1, &[1, 2]), part(2, &[2])],
                },
                Topic {
                    name: "b".into(),
                    partitions: vec![part(0, &[2])],
                },
                Topic {
                    name: "c".into(),
                    partitions: vec![part(0, &[1]), part(1, &[1])],
                },
            ],
        }
    }

    /// What `Cluster::without` keeps, as (topic, partition) in order.
    fn listed<'a>(it: impl Iterator<Item = (&'a Topic, &'a Partition)>) -> Vec<(String, i32)> {
        it.map(|(t, p)| (t.name.clone(), p.partition)).collect()
    }

    #[test]
    fn the_view_lists_what_the_copy_keeps() {
        let c = cluster();
        let offline = c.offline_mask();
        assert_eq!(offline, [true, false, true, true, false, false]);
        let copy = c.without(&offline);
        let view = Online::new(&c, &offline);
        assert_eq!(listed(view.partitions()), listed(copy.partitions()));
        assert_eq!(view.partition_count(), copy.partition_count());
        assert_eq!(view.topic_count(), copy.topics.len());
        let names: Vec<&str> = view.topic_names().collect();
        assert_eq!(names, ["a", "c"], "topic b has no online partition");
        let per_topic: Vec<usize> = view.topics().map(|(_, ps)| ps.count()).collect();
        assert_eq!(per_topic, [1, 2]);
    }

    #[test]
    fn all_lists_every_partition() {
        let c = cluster();
        let view = Online::all(&c);
        assert_eq!(listed(view.partitions()), listed(c.partitions()));
        assert_eq!(view.partition_count(), 6);
        assert_eq!(view.topic_count(), 3);
    }
}
