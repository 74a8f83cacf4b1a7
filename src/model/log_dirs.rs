//! Where replicas live on their brokers' disks (JBOD log dirs), as a
//! snapshot records them: each broker's log dirs, and each replica's dir.
//!
//! Kept beside the [`Cluster`](super::Cluster) rather than inside it: only
//! `plan --balance-disks` and `describe` need it, and a snapshot without
//! log dirs (every snapshot before they were recorded) reads as an empty
//! layout.

use std::collections::{BTreeMap, BTreeSet};

use super::{BrokerId, Problem, TopicPartition};

/// Each broker's log dirs and each replica's dir. Brokers and replicas the
/// snapshot says nothing about are absent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogDirLayout {
    /// A broker's log dirs, sorted: those the snapshot lists for it (so an
    /// empty dir is known) and any its replicas name.
    pub brokers: BTreeMap<BrokerId, Vec<String>>,
    /// The dir of each replica whose dir is known.
    pub replicas: BTreeMap<TopicPartition, BTreeMap<BrokerId, String>>,
    /// A replica's own bytes where they differ from its partition's
    /// `size_bytes` (the leader's): a follower that is behind or still
    /// catching up holds less, and it is a replica's own bytes that move
    /// between its broker's dirs. Only the differences are kept, so a
    /// cluster whose replicas agree costs nothing here.
    pub sizes: BTreeMap<TopicPartition, BTreeMap<BrokerId, u64>>,
}

impl LogDirLayout {
    pub fn is_empty(&self) -> bool {
        self.brokers.is_empty() && self.replicas.is_empty()
    }

    /// The bytes of `broker`'s replica of `tp`, whose partition holds
    /// `partition_size` (its `size_bytes`).
    pub fn size_of(&self, tp: &TopicPartition, broker: BrokerId, partition_size: u64) -> u64 {
        self.sizes
            .get(tp)
            .and_then(|m| m.get(&broker))
            .copied()
            .unwrap_or(partition_size)
    }

    /// Records the bytes of `broker`'s replica of `tp`, kept only where
    /// they differ from the partition's `partition_size`.
    pub fn set_size(
        &mut self,
        tp: &TopicPartition,
        broker: BrokerId,
        size: u64,
        partition_size: u64,
    ) {
        if size == partition_size {
            if let Some(m) = self.sizes.get_mut(tp) {
                m.remove(&broker);
                if m.is_empty() {
                    self.sizes.remove(tp);
                }
            }
        } else {
            self.sizes
                .entry(tp.clone())
                .or_default()
                .insert(broker, size);
        }
    }

    /// The dir of `broker`'s replica of `tp`, if known.
    pub fn dir_of(&self, tp: &TopicPartition, broker: BrokerId) -> Option<&str> {
        self.replicas.get(tp)?.get(&broker).map(String::as_str)
    }

    /// A broker's log dirs, sorted (empty when unknown).
    pub fn dirs_of(&self, broker: BrokerId) -> &[String] {
        self.brokers.get(&broker).map_or(&[], Vec::as_slice)
    }

    /// Records a replica's dir, and the dir among its broker's.
    pub fn insert(&mut self, tp: TopicPartition, broker: BrokerId, dir: String) {
        let dirs = self.brokers.entry(broker).or_default();
        if let Err(at) = dirs.binary_search(&dir) {
            dirs.insert(at, dir.clone());
        }
        self.replicas.entry(tp).or_default().insert(broker, dir);
    }

    /// Records a broker's dirs (kept sorted, no repeats).
    pub fn add_broker_dirs(&mut self, broker: BrokerId, dirs: impl IntoIterator<Item = String>) {
        let all: BTreeSet<String> = self
            .brokers
            .remove(&broker)
            .unwrap_or_default()
            .into_iter()
            .chain(dirs)
            .collect();
        self.brokers.insert(broker, all.into_iter().collect());
    }

    /// Keeps only the replicas of topics `keep` accepts; every broker's
    /// dirs stay (a dir emptied of those topics is still a dir).
    pub fn retain_topics(&mut self, keep: impl Fn(&str) -> bool) {
        self.replicas.retain(|tp, _| keep(&tp.topic));
        self.sizes.retain(|tp, _| keep(&tp.topic));
    }

    /// The dirs of `replicas` in order (`None` where unknown), or `None`
    /// when no replica's dir is known.
    pub fn aligned(&self, tp: &TopicPartition, replicas: &[BrokerId]) -> Option<Vec<Option<&str>>> {
        let known = self.replicas.get(tp)?;
        Some(
            replicas
                .iter()
                .map(|b| known.get(b).map(String::as_str))
                .collect(),
        )
    }
}

/// Whether `dir` can name a log dir: an absolute path, as Kafka's tool
/// requires in a plan's `log_dirs`.
pub fn is_log_dir(dir: &str) -> bool {
    dir.starts_with('/')
}

/// Problems with a broker's listed dirs: not absolute, or repeated.
pub fn broker_dir_problems(broker: BrokerId, dirs: &[String]) -> Vec<Problem> {
    let loc = format!("broker {broker}");
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for d in dirs {
        if !is_log_dir(d) {
            out.push(Problem::new(
                &loc,
                format!("log dir {d:?} is not an absolute path"),
            ));
        } else if !seen.insert(d.as_str()) {
            out.push(Problem::new(
                &loc,
                format!("log dir {d} listed more than once"),
            ));
        }
    }
    out
}
