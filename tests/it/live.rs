//! The live commands through the binary against a mini-broker started in
//! the test, where a cluster of its own matters: `plan --bootstrap-server`
//! against `describe` (the whole cluster), every command's bad inputs, and
//! `elect-leaders`. `apply`, `verify`, `cancel`, `rollback`, `status` and
//! `throttle` run end to end on both backends in `wire/ops.rs`.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use kafka_migrate::minibroker::{Cluster, ClusterConfig, ClusterHandle, TopicSpec};
use tempfile::TempDir;

use crate::support::{bin, errors};
// wire/interop.rs (another helper's file) still imports these from here.
pub use crate::support::{assert_exit, stderr, stdout};

/// A mini-broker on this test's own runtime, with data in its topics.
pub struct Mini {
    pub rt: tokio::runtime::Runtime,
    cluster: Option<ClusterHandle>,
}

impl Mini {
    /// `brokers` in `racks`, the `name:partitions:rf` topics, each filled
    /// with `fill` bytes spread unevenly over its partitions.
    pub fn start(brokers: usize, racks: usize, topics: &[&str], fill: u64) -> Mini {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let cluster = rt
            .block_on(Cluster::start(ClusterConfig {
                brokers,
                racks,
                topics: topics
                    .iter()
                    .map(|t| t.parse::<TopicSpec>().unwrap())
                    .collect(),
                fill_bytes: fill,
                replica_lag_max: Duration::from_millis(1500),
                ..ClusterConfig::default()
            }))
            .expect("cluster starts");
        Mini {
            rt,
            cluster: Some(cluster),
        }
    }

    pub fn handle(&self) -> &ClusterHandle {
        self.cluster.as_ref().unwrap()
    }

    pub fn bootstrap(&self) -> String {
        self.handle().bootstrap()
    }

    /// The binary with this cluster's bootstrap in the environment.
    pub fn run(&self, args: &[&str]) -> Output {
        bin()
            .args(args)
            .env("KAFKA_MIGRATE_BOOTSTRAP", self.bootstrap())
            .env("COLUMNS", "100")
            .output()
            .expect("runs")
    }
}

impl Drop for Mini {
    fn drop(&mut self) {
        if let Some(c) = self.cluster.take() {
            self.rt.block_on(c.shutdown());
        }
    }
}

pub fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `plan --bootstrap-server` is `describe -o s.json` then `plan --state
/// s.json`, byte for byte (plan, rollback and summary), with the same seed.
#[test]
fn plan_from_the_live_cluster_equals_describe_then_plan() {
    let mini = Mini::start(4, 2, &["orders:6:2", "payments:3:3"], 2_000_000);
    let dir = TempDir::new().unwrap();
    let d = |n: &str| dir.path().join(n);
    let out = mini.run(&["describe", "-o", p(&d("s.json"))]);
    assert_exit(&out, 0);
    let plan_args = ["--remove-brokers", "4", "--seed", "7", "--output", "json"];
    let offline = mini.run(
        &[
            &["plan", "--state", p(&d("s.json")), "-o", p(&d("p1.json"))][..],
            &["--rollback", p(&d("r1.json"))],
            &plan_args,
        ]
        .concat(),
    );
    assert_exit(&offline, 0);
    let bootstrap = mini.bootstrap();
    let live = bin()
        .args(["plan", "--bootstrap-server", &bootstrap])
        .args(["-o", p(&d("p2.json")), "--rollback", p(&d("r2.json"))])
        .args(plan_args)
        .env_remove("KAFKA_MIGRATE_BOOTSTRAP")
        .output()
        .unwrap();
    assert_exit(&live, 0);
    let read = |n: &str| std::fs::read(d(n)).unwrap();
    assert!(!read("p1.json").is_empty());
    assert!(read("p1.json") == read("p2.json"), "the plans differ");
    assert!(read("r1.json") == read("r2.json"), "the rollbacks differ");
    // The summaries too, but for the file names.
    let summary = |o: &Output, n: &str| {
        let mut v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["plan_file"] = serde_json::Value::Null;
        v["rollback_file"] = serde_json::Value::Null;
        assert_eq!(v["version"], 1, "{n}");
        v
    };
    assert_eq!(summary(&offline, "offline"), summary(&live, "live"));
    // Broker 4 is drained.
    let plan = String::from_utf8(read("p2.json")).unwrap();
    assert!(!plan.contains(",4") && !plan.contains("[4"), "{plan}");

    // --state and --bootstrap-server together are a usage error; the
    // bootstrap in the environment does not make an offline plan live.
    let both = bin()
        .args([
            "plan",
            "--state",
            p(&d("s.json")),
            "--bootstrap-server",
            &bootstrap,
        ])
        .output()
        .unwrap();
    assert_exit(&both, 2);
    assert_eq!(errors(&both).len(), 1, "{}", stderr(&both));
    let env_only = mini.run(&["plan", "--state", p(&d("s.json"))]);
    assert_exit(&env_only, 0);
}

/// Whether a broker holds a replica in a snapshot (`describe`'s JSON).
pub fn holds(snapshot: &serde_json::Value, broker: i64) -> bool {
    snapshot["topics"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["partitions"].as_array().unwrap().iter())
        .any(|p| p["replicas"].as_array().unwrap().contains(&broker.into()))
}

/// What the live commands say where the input was standard input, or
/// where nothing on the cluster changes: `elect-leaders` names `<stdin>`
/// as every other command does, and `throttle set` for a run that set no
/// rate throttle says the rate is recorded rather than listing no broker.
#[test]
fn messages_name_stdin_and_a_rate_that_changed_no_broker() {
    let mini = Mini::start(3, 1, &["orders:2:2"], 20_000);
    let ghost = r#"{"partitions":[{"topic":"ghost","partition":0}]}"#;
    let out = bin()
        .args(["elect-leaders", "--partitions-file", "-"])
        .env("KAFKA_MIGRATE_BOOTSTRAP", mini.bootstrap())
        .write_stdin(ghost)
        .output()
        .unwrap();
    assert_exit(&out, 2);
    assert_eq!(
        errors(&out),
        ["error: <stdin>: unknown partitions: ghost-0"],
        "{}",
        stderr(&out)
    );

    let dir = TempDir::new().unwrap();
    let plan = dir.path().join("p.json");
    let out = mini.run(&[
        "plan",
        "--bootstrap-server",
        &mini.bootstrap(),
        "--remove-brokers",
        "3",
        "-o",
        p(&plan),
    ]);
    assert_exit(&out, 0);
    // No --throttle: the run sets no rate on any broker.
    let out = mini.run(&["apply", p(&plan), "--no-progress"]);
    assert_exit(&out, 0);
    let out = mini.run(&["throttle", "set", "1MiB/s", "--plan", p(&plan)]);
    assert_exit(&out, 0);
    assert_eq!(
        stdout(&out).trim_end(),
        "replication throttle 1.00 MiB/s recorded in the journal for the run's next batches: no broker has this run's throttles now"
    );
}
