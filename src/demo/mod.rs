//! `kafka-migrate demo`: the scenario behind the README's first command.
//!
//! A mini-broker of 3 brokers on 2 racks with a few topics of synthetic
//! data starts in-process on loopback; a producer keeps writing
//! checksummed messages into a topic of its own; 2 empty brokers join;
//! the planner balances onto them and the executor applies the plan under
//! a throttle; then everything the producer wrote is read back and
//! audited. The CLI (`cli/demo.rs`) runs the steps and prints them; this
//! module holds what they are made of:
//!
//! - [`scenario`]: the cluster, the topics and the brokers that join.
//! - [`workload`]: the data plane (producer, ledger, consumer, audit).

pub mod workload;

/// The scenario's fixed parts.
pub mod scenario {
    use crate::minibroker::{ClusterConfig, TopicSpec};

    /// Brokers at the start, and racks (round-robin: rack-a, rack-b).
    pub const BROKERS: usize = 3;
    pub const RACKS: usize = 2;
    /// Brokers that join, empty, once the producer runs.
    pub const ADDED: usize = 2;

    /// The topics filled with synthetic data at start-up:
    /// (name, partitions, replication factor).
    pub const TOPICS: &[(&str, i32, i16)] = &[("orders", 12, 3), ("clicks", 8, 2), ("audit", 6, 3)];

    /// The producer's topic: created empty once the cluster runs, written
    /// to throughout the moves, read back at the end.
    pub const LEDGER_TOPIC: &str = "demo-ledger";
    pub const LEDGER_PARTITIONS: i32 = 6;
    pub const LEDGER_RF: i16 = 3;

    /// The cluster: loopback only, ephemeral ports, in memory, `fill`
    /// bytes of synthetic data in each of [`TOPICS`].
    pub fn cluster(fill: u64) -> ClusterConfig {
        ClusterConfig {
            brokers: BROKERS,
            racks: RACKS,
            host: "127.0.0.1".into(),
            base_port: 0,
            data_dir: None,
            topics: TOPICS
                .iter()
                .map(|&(name, partitions, replication_factor)| TopicSpec {
                    name: name.into(),
                    partitions,
                    replication_factor,
                })
                .collect(),
            fill_bytes: fill,
            // Only the demo's own topics exist: a mistyped topic in a
            // command tried against `demo --keep` is an error, not a new
            // topic.
            auto_create_topics: false,
            ..ClusterConfig::default()
        }
    }

    /// The rack of the `n`th broker (0-based), as the cluster gives them:
    /// joining brokers continue the round-robin.
    pub fn rack_of(n: usize) -> Option<String> {
        cluster(0).rack_of(n)
    }
}
