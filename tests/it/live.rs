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

use crate::support::bin;

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(out),
        stderr(out)
    );
}

/// The `error:` lines of a run.
pub fn errors(out: &Output) -> Vec<String> {
    stderr(out)
        .lines()
        .filter(|l| l.starts_with("error: "))
        .map(String::from)
        .collect()
}

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

fn json(out: &Output) -> serde_json::Value {
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)));
    assert_eq!(v["version"], 1, "{v}");
    v
}

/// A cluster of 4 brokers in 2 racks and a plan (with its rollback file)
/// that drains broker 4, made by `plan --bootstrap-server`.
fn cluster_and_plan(fill: u64) -> (Mini, TempDir) {
    let mini = Mini::start(4, 2, &["orders:6:2", "payments:3:3"], fill);
    let dir = TempDir::new().unwrap();
    let d = |n: &str| dir.path().join(n);
    let out = bin()
        .args(["plan", "--bootstrap-server", &mini.bootstrap()])
        .args(["--remove-brokers", "4", "-o", p(&d("p.json"))])
        .args(["--rollback", p(&d("p.rollback.json"))])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    (mini, dir)
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

/// The snapshot `describe` takes, for comparing before and after.
fn snapshot(mini: &Mini) -> serde_json::Value {
    let v = json(&mini.run(&["describe", "--output", "json"]));
    v["snapshot"].clone()
}

/// Each live command's bad inputs: exit 2, one `error:` line naming what
/// is wrong, and nothing changed on the cluster.
#[test]
fn bad_inputs_exit_2_with_one_clear_error() {
    let (mini, dir) = cluster_and_plan(1_000_000);
    let d = |n: &str| dir.path().join(n);
    let plan = p(&d("p.json")).to_string();
    let before = snapshot(&mini);
    let unknown = crate::support::write(
        dir.path(),
        "unknown.json",
        r#"{"version":1,"partitions":[{"topic":"nope","partition":0,"replicas":[1,2]}]}"#,
    );
    let not_json = crate::support::write(dir.path(), "bad.json", "{");
    let parts = crate::support::write(
        dir.path(),
        "parts.json",
        r#"{"partitions":[{"topic":"orders"}]}"#,
    );
    // A rollback file that says the plan was made against other replicas.
    let stale_dir = TempDir::new().unwrap();
    let stale_plan = stale_dir.path().join("s.json");
    std::fs::copy(d("p.json"), &stale_plan).unwrap();
    let rb = std::fs::read_to_string(d("p.rollback.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&rb).unwrap();
    let mut v2 = v.clone();
    let first = &mut v2["partitions"][0]["replicas"];
    let r: Vec<i64> = first
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|x| x.as_i64().unwrap())
        .collect();
    *first = serde_json::json!(r);
    crate::support::write(stale_dir.path(), "s.rollback.json", &v2.to_string());
    let missing = p(&d("missing.json")).to_string();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["apply", &missing], "missing.json"),
        (vec!["apply", p(&unknown)], "nope"),
        (vec!["apply", p(&not_json)], "bad.json"),
        (vec!["apply", p(&stale_plan)], "stale plan"),
        (
            vec!["apply", &plan, "--output", "markdown"],
            "needs --dry-run",
        ),
        (
            vec!["apply", &plan, "--all-at-once", "--max-per-broker", "3"],
            "--all-at-once",
        ),
        (vec!["apply", &plan, "--throttle", "fast"], "fast"),
        (
            vec!["apply", &plan, "--max-in-flight", "0"],
            "--max-in-flight",
        ),
        (vec!["apply", "-"], "--journal"),
        (vec!["verify", p(&not_json)], "bad.json"),
        (vec!["verify", &missing], "missing.json"),
        (vec!["cancel"], "--all"),
        (vec!["cancel", &plan, "--all"], "--all"),
        (vec!["rollback", &missing], "missing.json"),
        (
            vec!["throttle", "set", "10MB/s"],
            "--plan PLAN or --journal FILE",
        ),
        (vec!["throttle", "set", "0", "--plan", &plan], "above zero"),
        (vec!["throttle", "clear"], "--all"),
        (vec!["elect-leaders", "--topics", "nope"], "nope"),
        (
            vec!["elect-leaders", "--partitions-file", p(&parts)],
            "parts.json",
        ),
        (
            vec!["elect-leaders", "--partitions-file", &missing],
            "missing.json",
        ),
    ];
    for (args, names) in cases {
        let out = mini.run(&args);
        assert_exit(&out, 2);
        let errs = errors(&out);
        assert_eq!(errs.len(), 1, "{args:?}: {}", stderr(&out));
        assert!(errs[0].contains(names), "{args:?}: {errs:?}");
        assert!(out.stdout.is_empty(), "{args:?}: {}", stdout(&out));
    }
    // The stale plan runs with --force (dry run: the refusal is gone).
    let out = mini.run(&["apply", p(&stale_plan), "--force", "--dry-run"]);
    assert_exit(&out, 0);
    assert!(stderr(&out).contains("warning: "), "{}", stderr(&out));
    // No bootstrap at all.
    let out = bin()
        .args(["status"])
        .env_remove("KAFKA_MIGRATE_BOOTSTRAP")
        .output()
        .unwrap();
    assert_exit(&out, 2);
    assert_eq!(
        snapshot(&mini),
        before,
        "a refused command changed the cluster"
    );
    assert!(!d("p.journal.json").exists());
    assert!(!stale_dir.path().join("s.journal.json").exists());
}

#[test]
fn elect_leaders_makes_the_preferred_replica_lead() {
    let (mini, dir) = cluster_and_plan(1_000_000);
    let d = |n: &str| dir.path().join(n);
    let out = mini.run(&[
        "apply",
        p(&d("p.json")),
        "--no-elect",
        "--throttle",
        "8MB/s",
    ]);
    assert_exit(&out, 0);
    let out = mini.run(&[
        "elect-leaders",
        "--topics",
        "orders,payments",
        "--output",
        "json",
    ]);
    assert_exit(&out, 0);
    let v = json(&out);
    assert_eq!(v["failed"], serde_json::json!([]));
    for t in snapshot(&mini)["topics"].as_array().unwrap() {
        for p in t["partitions"].as_array().unwrap() {
            assert_eq!(p["leader"], p["replicas"][0], "{p}");
        }
    }
    // Again: nothing to elect.
    let out = mini.run(&["elect-leaders"]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).starts_with("0 preferred leaders elected"),
        "{}",
        stdout(&out)
    );
}
