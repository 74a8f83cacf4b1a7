//! Cluster configuration and the small parsers the CLI needs
//! (`orders:12:3`, `200MiB`).

use std::path::PathBuf;
use std::time::Duration;

/// A topic to create at start-up: `name:partitions:replication_factor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i16,
}

impl std::str::FromStr for TopicSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split(':').collect();
        let bad =
            || format!("invalid topic spec {s:?}, expected NAME:PARTITIONS:REPLICATION_FACTOR");
        match parts.as_slice() {
            [name, p, rf] if !name.is_empty() => Ok(TopicSpec {
                name: crate::model::check_topic_name(name).map(|()| name.to_string())?,
                partitions: p.parse().ok().filter(|p| *p > 0).ok_or_else(bad)?,
                replication_factor: rf.parse().ok().filter(|r| *r > 0).ok_or_else(bad)?,
            }),
            _ => Err(bad()),
        }
    }
}

/// Everything `Cluster::start` needs.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// Number of brokers; ids are 1..=brokers.
    pub brokers: usize,
    /// Brokers get racks `rack-a`, `rack-b`, ... round-robin; 0 = no racks.
    pub racks: usize,
    /// Interface to bind; loopback unless told otherwise.
    pub host: String,
    /// Port of broker 1; broker n gets base_port + n - 1. 0 = ephemeral.
    pub base_port: u16,
    pub log_dirs_per_broker: usize,
    /// Root of the log dirs (`DIR/broker-1/dir-0`). When set, the cluster
    /// is loaded from it at start and saved by `shutdown_and_persist`;
    /// when not, data stays in memory and the paths are only names.
    pub data_dir: Option<PathBuf>,
    pub topics: Vec<TopicSpec>,
    /// Synthetic bytes loaded into each start-up topic (spread unevenly
    /// over its partitions) without a producer.
    pub fill_bytes: u64,
    /// `replica.lag.time.max.ms`.
    pub replica_lag_max: Duration,
    /// Replication step interval.
    pub replication_tick: Duration,
    pub cluster_id: String,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            brokers: 3,
            racks: 0,
            host: "127.0.0.1".into(),
            base_port: 0,
            log_dirs_per_broker: 1,
            data_dir: None,
            topics: vec![],
            fill_bytes: 0,
            replica_lag_max: Duration::from_secs(10),
            replication_tick: Duration::from_millis(5),
            cluster_id: "kafka-migrate-mini".into(),
        }
    }
}

impl ClusterConfig {
    pub fn rack_of(&self, broker_index: usize) -> Option<String> {
        (self.racks > 0).then(|| crate::model::rack_name(broker_index % self.racks))
    }

    pub fn log_dirs_of(&self, id: i32) -> Vec<String> {
        let root = self
            .data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("/mini-broker"));
        (0..self.log_dirs_per_broker.max(1))
            .map(|d| {
                root.join(format!("broker-{id}"))
                    .join(format!("dir-{d}"))
                    .display()
                    .to_string()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_topic_specs() {
        let t: TopicSpec = "orders:12:3".parse().unwrap();
        assert_eq!(
            t,
            TopicSpec {
                name: "orders".into(),
                partitions: 12,
                replication_factor: 3
            }
        );
        assert!("orders:0:3".parse::<TopicSpec>().is_err());
        assert!("orders:3".parse::<TopicSpec>().is_err());
        let bad = "or ders:1:1".parse::<TopicSpec>().unwrap_err();
        assert!(bad.contains("invalid topic name \"or ders\""), "{bad}");
        assert!(".:1:1".parse::<TopicSpec>().is_err());
    }
}
