//! The suite against a real Apache Kafka 4.x cluster started by
//! `tests/kafka/cluster.sh` (1 controller, 4 brokers in 2 racks).
//!
//! Ignored by plain `cargo test`: `.ci/run` starts the cluster and runs
//! them with `--include-ignored` (or `cargo test wire::real -- --ignored`
//! with the cluster up). Run without a cluster, they fail. Scenarios share
//! one cluster, so they run one at a time.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

use kafka_migrate::model::BrokerId;

use super::{Backend, BoxFuture};

struct RealKafka {
    harness: PathBuf,
    bootstrap: String,
}

impl RealKafka {
    /// Runs a harness command off the async threads.
    fn harness(&self, args: Vec<String>) -> BoxFuture<'_> {
        let harness = self.harness.clone();
        Box::pin(async move {
            let out = tokio::task::spawn_blocking(move || {
                Command::new("bash")
                    .arg(&harness)
                    .args(&args)
                    .output()
                    .unwrap()
            })
            .await
            .unwrap();
            assert!(
                out.status.success(),
                "cluster.sh: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        })
    }
}

impl Backend for RealKafka {
    fn name(&self) -> &'static str {
        "real Kafka"
    }
    fn bootstrap(&self) -> String {
        self.bootstrap.clone()
    }
    fn brokers(&self) -> Vec<BrokerId> {
        vec![1, 2, 3, 4]
    }
    fn stop_broker(&self, id: BrokerId) -> BoxFuture<'_> {
        self.harness(vec!["stop-broker".into(), id.to_string()])
    }
    fn start_broker(&self, id: BrokerId) -> BoxFuture<'_> {
        self.harness(vec!["start-broker".into(), id.to_string()])
    }
    fn pause_broker(&self, id: BrokerId, paused: bool) -> BoxFuture<'_> {
        let cmd = if paused {
            "pause-broker"
        } else {
            "resume-broker"
        };
        self.harness(vec![cmd.into(), id.to_string()])
    }
    fn quota_burst(&self, rate: u64) -> u64 {
        // Kafka measures a replication quota as a rate over 11 one-second
        // samples and divides by at least 10 s of them (Rate.windowSize),
        // so after a quiet spell 10 s of the rate pass before it binds;
        // and a follower's first fetch (replica.fetch.max.bytes, 1 MiB)
        // goes before the quota is checked. Measured on Kafka 4.3.1:
        // 10 MB at 2 MB/s copied in 1.8 s.
        10 * rate + (1 << 20)
    }
}

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The shared cluster to oneself, for tests outside this suite (the
/// secured listeners' scenario).
pub(crate) fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn backend() -> RealKafka {
    let harness = crate::support::repo().join("tests/kafka/cluster.sh");
    let out = Command::new("bash")
        .arg(&harness)
        .arg("bootstrap")
        .output()
        .unwrap();
    let bootstrap = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(
        !bootstrap.is_empty(),
        "cluster.sh bootstrap printed nothing"
    );
    RealKafka { harness, bootstrap }
}

/// The shared cluster, one test at a time.
fn with_real(scenario: impl FnOnce(&dyn Backend)) {
    let b = backend();
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    scenario(&b);
}

super::suite!(with_real,
    scenarios: [ignore = "needs a real Kafka (tests/kafka/cluster.sh start); .ci/run runs it"],
    tools: [ignore = "needs a real Kafka and Java 17 (tests/kafka/cluster.sh start); .ci/run runs it"],
    python: [ignore = "needs a real Kafka and kafka-python; .ci/run runs it"]
);
