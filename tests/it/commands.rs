//! Each command's flags and exit codes through the binary, beyond what the
//! summary snapshots in `cli` pin: exit 1 and 3, budgets that hold, the
//! objective and topic flags, `check` on standard input and in JSON, and
//! `describe` against a mini-broker started in the test.

use std::collections::BTreeMap;
use std::process::Output;

use kafka_migrate::model::reassignment::{self, Reassignment};
use kafka_migrate::model::{BrokerId, Cluster, TopicPartition, snapshot};
use tempfile::TempDir;

use crate::support::{SMALL, assert_exit, bin, errors, stderr, write};

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("runs")
}

fn small() -> Cluster {
    snapshot::parse("small", SMALL.as_bytes()).unwrap()
}

/// `plan --state SMALL ARGS -o p.json`: the run, and the plan it wrote
/// (`None` when it wrote none).
fn plan_small(args: &[&str]) -> (Output, Option<Reassignment>) {
    let dir = TempDir::new().unwrap();
    let s = write(dir.path(), "s.json", SMALL);
    let p = dir.path().join("p.json");
    let mut full = vec!["plan", "--state", s.to_str().unwrap()];
    full.extend_from_slice(args);
    full.extend(["-o", p.to_str().unwrap()]);
    let out = run(&full);
    let plan = p
        .exists()
        .then(|| reassignment::parse("p", &std::fs::read(&p).unwrap()).unwrap());
    (out, plan)
}

/// Replicas (and their bytes) a plan adds to brokers that did not hold
/// them: what it moves.
fn moved(c: &Cluster, plan: &Reassignment) -> (u64, u64) {
    let (mut n, mut bytes) = (0, 0);
    for m in plan.moves() {
        let p = c.partition(&m.tp).expect("a known partition");
        for b in &m.replicas {
            if !p.replicas.contains(b) {
                n += 1;
                bytes += p.size_bytes;
            }
        }
    }
    (n, bytes)
}

/// Where each partition of `c` ends under `plan`.
fn after(c: &Cluster, plan: &Reassignment) -> BTreeMap<TopicPartition, Vec<BrokerId>> {
    let mut all: BTreeMap<_, _> = c
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(|p| {
                let tp = TopicPartition {
                    topic: t.name.clone(),
                    partition: p.partition,
                };
                (tp, p.replicas.clone())
            })
        })
        .collect();
    for m in plan.moves() {
        all.insert(m.tp.clone(), m.replicas.clone());
    }
    all
}

#[test]
fn a_budget_that_strands_removed_replicas_exits_1() {
    // Broker 3 holds 3 replicas; one move drains one of them.
    let (out, plan) = plan_small(&["--remove-brokers", "3", "--max-moves", "1"]);
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(
        err.contains("warning: 2 replicas stay on brokers outside the target set"),
        "{err}"
    );
    let c = small();
    let plan = plan.expect("the part that fits is written");
    assert_eq!(moved(&c, &plan).0, 1);
    let on_3 = after(&c, &plan).values().filter(|r| r.contains(&3)).count();
    assert_eq!(on_3, 2);
}

#[test]
fn an_output_that_cannot_be_written_exits_3() {
    let (out, _) = plan_small(&[]);
    assert_exit(&out, 0);
    let dir = TempDir::new().unwrap();
    let s = write(dir.path(), "s.json", SMALL);
    let out = run(&[
        "plan",
        "--state",
        s.to_str().unwrap(),
        "-o",
        "/nonexistent-dir/p.json",
    ]);
    assert_exit(&out, 3);
    let errs = errors(&out);
    assert_eq!(errs.len(), 1, "{}", stderr(&out));
    assert!(errs[0].contains("/nonexistent-dir/p.json"), "{errs:?}");
}

#[test]
fn describe_of_a_closed_port_exits_3() {
    // A port that was free a moment ago: nothing listens on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let out = run(&["describe", "--bootstrap-server", &addr, "--timeout", "5"]);
    assert_exit(&out, 3);
    let errs = errors(&out);
    assert_eq!(errs.len(), 1, "{}", stderr(&out));
    assert!(errs[0].contains(&addr), "{errs:?}");
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn max_moves_holds_and_exits_0_when_nothing_is_stranded() {
    let c = small();
    let (out, whole) = plan_small(&[]);
    assert_exit(&out, 0);
    assert_eq!(moved(&c, &whole.unwrap()).0, 3);
    let (out, plan) = plan_small(&["--max-moves", "2"]);
    assert_exit(&out, 0);
    assert_eq!(moved(&c, &plan.unwrap()).0, 2);
}

#[test]
fn max_bytes_holds() {
    let c = small();
    let (_, whole) = plan_small(&[]);
    let whole = whole.unwrap();
    // Three moves: orders-1 (2000 bytes), orders-2 (3000) and payments-1
    // (700); the count objective's tie-break sends orders-2 rather than a
    // smaller replica, for even bytes at no extra move.
    assert_eq!(moved(&c, &whole), (3, 5700));
    // Under a byte budget bytes are what is scarce: no substitution, the
    // same three moves with the smaller replica.
    let (out, unbounded) = plan_small(&["--max-bytes", "1T"]);
    assert_exit(&out, 0);
    let unbounded = unbounded.unwrap();
    assert_eq!(moved(&c, &unbounded), (3, 3500));
    let (out, plan) = plan_small(&["--max-bytes", "2KB"]);
    assert_exit(&out, 0);
    let (n, bytes) = moved(&c, &plan.unwrap());
    assert!(n > 0 && bytes <= 2000, "{n} replicas, {bytes} bytes");
    // A budget at or above that plan changes nothing.
    for roomy in ["500GiB", "3500"] {
        let (out, plan) = plan_small(&["--max-bytes", roomy]);
        assert_exit(&out, 0);
        assert_eq!(plan.as_ref(), Some(&unbounded), "--max-bytes {roomy}");
    }
    let (out, plan) = plan_small(&["--max-bytes", "3499"]);
    assert_exit(&out, 0);
    assert!(moved(&c, &plan.unwrap()).1 <= 3499);
}

#[test]
fn objective_size_balances_bytes() {
    let json = |args: &[&str]| {
        let mut full = args.to_vec();
        full.extend(["--output", "json"]);
        let (out, plan) = plan_small(&full);
        assert_exit(&out, 0);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (v, plan.unwrap())
    };
    let (count, _) = json(&[]);
    let (size, plan) = json(&["--objective", "size"]);
    assert_eq!(count["objective"], "count");
    assert_eq!(size["objective"], "size");
    let ratio = |v: &serde_json::Value| {
        v["summary"]["totals"]["bytes_max_over_ideal_after"]
            .as_f64()
            .unwrap()
    };
    assert!(ratio(&size) <= 1.05, "{}", ratio(&size));
    // On this cluster the count objective's size-aware tie-break reaches
    // the same bytes at its fewest moves; size never ends worse.
    assert!(
        ratio(&size) <= ratio(&count),
        "{} {}",
        ratio(&size),
        ratio(&count)
    );
    // Still the fewest moves: counts balanced too.
    assert_eq!(moved(&small(), &plan).0, 3);
    assert_eq!(size["summary"]["totals"]["replica_excess_after"], 0);
}

#[test]
fn topics_file_limits_what_moves() {
    let dir = TempDir::new().unwrap();
    let m = write(
        dir.path(),
        "m.json",
        r#"{"version":1,"topics":[{"topic":"payments"}]}"#,
    );
    let (out, plan) = plan_small(&[
        "--remove-brokers",
        "3",
        "--topics-file",
        m.to_str().unwrap(),
    ]);
    // orders keeps its two replicas on broker 3.
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("warning: 2 replicas stay on brokers outside the target set"),
        "{}",
        stderr(&out)
    );
    let plan = plan.unwrap();
    assert!(
        plan.moves().iter().all(|m| m.tp.topic == "payments"),
        "{plan:?}"
    );
    let c = small();
    let on_3: Vec<String> = after(&c, &plan)
        .iter()
        .filter(|(_, r)| r.contains(&3))
        .map(|(tp, _)| tp.to_string())
        .collect();
    assert_eq!(on_3, ["orders-1", "orders-2"]);

    let empty = write(dir.path(), "e.json", r#"{"version":1,"topics":[]}"#);
    let (out, plan) = plan_small(&["--topics-file", empty.to_str().unwrap()]);
    assert_exit(&out, 2);
    assert_eq!(
        errors(&out),
        [format!(
            "error: {}: topics: empty topic list",
            empty.display()
        )]
    );
    assert!(plan.is_none());
}

/// No broker has a rack: plans are rack-unaware, not refused.
#[test]
fn a_cluster_without_racks_plans() {
    let dir = TempDir::new().unwrap();
    let s = write(
        dir.path(),
        "s.json",
        &SMALL
            .replace(r#","rack":"a""#, "")
            .replace(r#","rack":"b""#, ""),
    );
    let out = run(&["plan", "--state", s.to_str().unwrap(), "--output", "json"]);
    assert_exit(&out, 0);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let totals = &v["summary"]["totals"];
    assert_eq!(totals["replicas_moved"], 3, "{totals}");
    assert_eq!(totals["replica_excess_after"], 0, "{totals}");
    assert!(
        v["summary"]["brokers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["rack"].is_null()),
        "{v}"
    );
}

#[test]
fn no_leader_balance_keeps_replica_order() {
    let c = small();
    // With leader balance, the size objective's plan reorders orders-0
    // ([1,2] -> [2,1]); the count objective's plan reorders nothing here.
    let (_, balanced) = plan_small(&["--objective", "size"]);
    let reorders = |plan: &Reassignment| {
        plan.moves()
            .iter()
            .filter(|m| {
                let mut a = m.replicas.clone();
                let mut b = c.partition(&m.tp).unwrap().replicas.clone();
                a.sort_unstable();
                b.sort_unstable();
                a == b
            })
            .count()
    };
    assert!(reorders(&balanced.unwrap()) > 0);
    for objective in ["size", "count"] {
        let (out, plan) = plan_small(&["--objective", objective, "--no-leader-balance"]);
        assert_exit(&out, 0);
        let plan = plan.unwrap();
        assert_eq!(reorders(&plan), 0, "{plan:?}");
        assert_eq!(moved(&c, &plan).0, 3);
        // A replica that stays keeps its slot; a new one takes the slot of
        // the one it replaces.
        for m in plan.moves() {
            let before = &c.partition(&m.tp).unwrap().replicas;
            for (slot, b) in before.iter().enumerate() {
                if m.replicas.contains(b) {
                    assert_eq!(
                        m.replicas[slot], *b,
                        "{}: {before:?} -> {:?}",
                        m.tp, m.replicas
                    );
                }
            }
        }
    }
}

#[test]
fn check_reads_the_plan_from_stdin() {
    let dir = TempDir::new().unwrap();
    let s = write(dir.path(), "s.json", SMALL);
    let st = s.to_str().unwrap();
    let check = |plan: &str, more: &[&str]| {
        let mut args = vec!["check", "-", "--state", st];
        args.extend_from_slice(more);
        bin().args(&args).write_stdin(plan).output().unwrap()
    };
    let ok = r#"{"version":1,"partitions":[{"topic":"orders","partition":0,"replicas":[4,1]}]}"#;
    let out = check(ok, &[]);
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("<stdin>: valid (1 partitions)"),
        "{}",
        stderr(&out)
    );

    let bad = r#"{"version":1,"partitions":[{"topic":"orders","partition":0,"replicas":[4,4]}]}"#;
    let out = check(bad, &[]);
    assert_exit(&out, 2);
    assert_eq!(
        errors(&out),
        ["error: <stdin>: orders-0: broker 4 repeated in the replica list"]
    );

    let out = bin()
        .args(["check", "-", "--state", "-"])
        .write_stdin(ok)
        .output()
        .unwrap();
    assert_exit(&out, 2);
    assert_eq!(
        errors(&out),
        ["error: the plan and the snapshot cannot both come from standard input"]
    );
}

/// A plan naming broker -1 is invalid input (exit 2), not a crash.
#[test]
fn check_rejects_a_negative_broker_id() {
    let dir = TempDir::new().unwrap();
    let s = write(dir.path(), "s.json", SMALL);
    for replicas in ["[4,-1]", "[-1,4]"] {
        let plan = format!(
            r#"{{"version":1,"partitions":[{{"topic":"orders","partition":0,"replicas":{replicas}}}]}}"#
        );
        let out = bin()
            .args(["check", "-", "--state", s.to_str().unwrap()])
            .write_stdin(plan)
            .output()
            .unwrap();
        assert_exit(&out, 2);
        assert_eq!(
            errors(&out),
            ["error: <stdin>: orders-0: invalid broker id -1"],
            "{replicas}"
        );
    }
}

#[test]
fn check_json_output() {
    let dir = TempDir::new().unwrap();
    let s = write(dir.path(), "s.json", SMALL);
    let p = write(
        dir.path(),
        "p.json",
        r#"{"version":1,"partitions":[{"topic":"orders","partition":0,"replicas":[4,1]},{"topic":"orders","partition":1,"replicas":[1,2]}]}"#,
    );
    let out = run(&[
        "check",
        p.to_str().unwrap(),
        "--state",
        s.to_str().unwrap(),
        "--output",
        "json",
    ]);
    assert_exit(&out, 0);
    // Standard output is the JSON document and nothing else.
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["version"], 1);
    assert_eq!(v["command"], "check");
    assert_eq!(v["valid"], true);
    assert_eq!(v["partitions_in_plan"], 2);
    // orders-1 [2,3] -> [1,2] puts both replicas in rack a's and b's
    // brokers 1 and 2; orders-0 [1,2] -> [4,1] moves one replica.
    assert_eq!(v["summary"]["totals"]["replicas_moved"], 2);
    let brokers = v["summary"]["brokers"].as_array().unwrap();
    let row = |id: i64| brokers.iter().find(|b| b["id"] == id).unwrap();
    assert_eq!(row(4)["replicas_after"], 1);
    assert_eq!(row(3)["replicas_after"], 2);
    assert_eq!(v["warnings"], serde_json::json!([]));
}

/// A mini-broker of 4 brokers in 2 racks on this test's own runtime.
struct Mini {
    rt: tokio::runtime::Runtime,
    cluster: Option<kafka_migrate::minibroker::ClusterHandle>,
}

impl Mini {
    fn start() -> Mini {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let cluster = rt.block_on(crate::minibroker::start(4, 2, &["orders:4:2"]));
        Mini {
            rt,
            cluster: Some(cluster),
        }
    }

    fn handle(&self) -> &kafka_migrate::minibroker::ClusterHandle {
        self.cluster.as_ref().unwrap()
    }
}

impl Drop for Mini {
    fn drop(&mut self) {
        if let Some(c) = self.cluster.take() {
            self.rt.block_on(c.shutdown());
        }
    }
}

/// `describe --output json` with the bootstrap from the environment.
fn describe_json(bootstrap: &str) -> serde_json::Value {
    let out = bin()
        .args(["describe", "--output", "json", "--timeout", "10"])
        .env("KAFKA_MIGRATE_BOOTSTRAP", bootstrap)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn describe_takes_the_bootstrap_from_the_environment_and_lists_dead_brokers() {
    let mini = Mini::start();
    let bootstrap = mini.handle().bootstrap();
    let v = describe_json(&bootstrap);
    assert_eq!(v["command"], "describe");
    let alive = |v: &serde_json::Value| -> Vec<(i64, bool)> {
        v["snapshot"]["brokers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| (b["id"].as_i64().unwrap(), b["alive"].as_bool().unwrap()))
            .collect()
    };
    assert_eq!(alive(&v), [(1, true), (2, true), (3, true), (4, true)]);
    // The text report counts what it read.
    let out = bin()
        .args(["describe", "--timeout", "10"])
        .env("KAFKA_MIGRATE_BOOTSTRAP", &bootstrap)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1 topics, 4 partitions"), "{text}");
    let parts = v["snapshot"]["topics"][0]["partitions"].as_array().unwrap();
    assert_eq!(parts.len(), 4);
    assert!(
        parts
            .iter()
            .any(|p| p["replicas"].as_array().unwrap().contains(&4.into())),
        "broker 4 holds a replica: {v}"
    );

    // Broker 4 stopped: gone from metadata, still named by replica lists.
    mini.rt.block_on(mini.handle().stop_broker(4)).unwrap();
    let v = describe_json(&bootstrap);
    assert_eq!(alive(&v), [(1, true), (2, true), (3, true), (4, false)]);
    let out = bin()
        .args(["describe", "--timeout", "10"])
        .env("KAFKA_MIGRATE_BOOTSTRAP", &bootstrap)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let row = |id: &str| {
        text.lines()
            .find(|l| l.split_whitespace().nth(1) == Some(id))
            .unwrap_or_else(|| panic!("no row for broker {id}: {text}"))
            .to_string()
    };
    assert!(text.contains("state"), "the column is named: {text}");
    assert!(row("4").contains("dead"), "{text}");
    assert!(row("1").contains("alive"), "{text}");
    // What describe wrote, plan reads and heals.
    let dir = TempDir::new().unwrap();
    let s = write(dir.path(), "s.json", &v["snapshot"].to_string());
    let out = run(&["plan", "--state", s.to_str().unwrap()]);
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("off dead brokers 4"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn describe_needs_a_bootstrap() {
    let out = bin()
        .args(["describe"])
        .env_remove("KAFKA_MIGRATE_BOOTSTRAP")
        .output()
        .unwrap();
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("--bootstrap-server"),
        "{}",
        stderr(&out)
    );
}

/// A port nothing listens on (free a moment ago).
fn closed_port() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}

#[test]
fn command_config_refuses_what_this_release_lacks_before_connecting() {
    let dir = TempDir::new().unwrap();
    let addr = closed_port();
    for (text, named, why) in [
        (
            "security.protocol=SASL_SSL\n",
            "sasl.mechanism: GSSAPI",
            "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512",
        ),
        (
            // A keystore that cannot be read: refused before connecting,
            // without its password.
            "security.protocol=SSL\nssl.keystore.location=/nonexistent/k.p12\nssl.keystore.password=hunter2\n",
            "ssl.keystore.location",
            "cannot read /nonexistent/k.p12",
        ),
    ] {
        let f = write(dir.path(), "client.properties", text);
        let out = run(&[
            "describe",
            "--bootstrap-server",
            &addr,
            "--command-config",
            f.to_str().unwrap(),
        ]);
        assert_exit(&out, 2);
        let errs = errors(&out);
        assert_eq!(errs.len(), 1, "{}", stderr(&out));
        assert!(errs[0].contains(named), "{errs:?}");
        assert!(errs[0].contains(why), "{errs:?}");
        assert!(!stderr(&out).contains("hunter2"), "{}", stderr(&out));
        assert!(!stderr(&out).contains(&addr), "refused before connecting");
    }
    // The same from the environment: a truststore that cannot be read.
    let f = write(
        dir.path(),
        "env.properties",
        "security.protocol=SSL\nssl.truststore.location=/nonexistent/ca.pem\n",
    );
    let out = bin()
        .args(["describe", "--bootstrap-server", &addr])
        .env("KAFKA_MIGRATE_COMMAND_CONFIG", &f)
        .output()
        .unwrap();
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("ssl.truststore.location: cannot read /nonexistent/ca.pem"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn command_config_values_are_checked_and_a_missing_file_is_named() {
    let dir = TempDir::new().unwrap();
    let addr = closed_port();
    let f = write(
        dir.path(),
        "c.properties",
        "# ours\nretries = 3\nrequest.timeout.ms: soon\n",
    );
    let out = run(&[
        "describe",
        "--bootstrap-server",
        &addr,
        "--command-config",
        f.to_str().unwrap(),
    ]);
    assert_exit(&out, 2);
    let errs = errors(&out);
    assert_eq!(errs.len(), 1, "{}", stderr(&out));
    assert!(
        errs[0].contains("line 3: request.timeout.ms: \"soon\" is not a number of milliseconds"),
        "{errs:?}"
    );
    let missing = dir.path().join("none.properties");
    let out = run(&[
        "describe",
        "--bootstrap-server",
        &addr,
        "--command-config",
        missing.to_str().unwrap(),
    ]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("none.properties"), "{}", stderr(&out));
}

#[test]
fn command_config_timeouts_apply_and_the_flag_wins() {
    // Accepts connections (the kernel's backlog) and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let dir = TempDir::new().unwrap();
    let f = write(
        dir.path(),
        "c.properties",
        &format!("bootstrap.servers={addr}\nrequest.timeout.ms=300\n"),
    );
    let t0 = std::time::Instant::now();
    let out = run(&["describe", "--command-config", f.to_str().unwrap()]);
    assert_exit(&out, 3);
    assert!(
        stderr(&out).contains(&format!("ApiVersions to {addr} timed out after 300 ms")),
        "{}",
        stderr(&out)
    );
    assert!(t0.elapsed() < std::time::Duration::from_secs(5));
    drop(silent);
}

#[test]
fn command_config_gives_the_bootstrap_and_warns_once_of_unknown_properties() {
    let mini = Mini::start();
    let dir = TempDir::new().unwrap();
    let f = write(
        dir.path(),
        "c.properties",
        &format!(
            "bootstrap.servers={}\nclient.id=ops\nretry.backoff.ms=50\nacks=all\nmy.secret=hunter2\nlinger.ms=5\n",
            mini.handle().bootstrap()
        ),
    );
    let out = bin()
        .args(["describe", "--command-config", f.to_str().unwrap()])
        .env_remove("KAFKA_MIGRATE_BOOTSTRAP")
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let err = stderr(&out);
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("warning:")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(warnings[0].contains("acks, linger.ms, my.secret"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 topics, 4 partitions"));
    // The flag wins over the file.
    let out = bin()
        .args([
            "describe",
            "--bootstrap-server",
            &closed_port(),
            "--command-config",
            f.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_exit(&out, 3);
}

#[test]
fn describe_topic_limits_the_snapshot_and_names_unknown_topics() {
    let mini = Mini::start();
    let rt = &mini.rt;
    rt.block_on(crate::minibroker::create_topic(
        mini.handle(),
        "extra",
        &[&[1, 2]],
    ));
    rt.block_on(crate::minibroker::create_topic(
        mini.handle(),
        "third",
        &[&[3]],
    ));
    let bootstrap = mini.handle().bootstrap();
    let topics = |args: &[&str]| -> Vec<String> {
        let out = bin()
            .args([
                "describe",
                "--output",
                "json",
                "--bootstrap-server",
                &bootstrap,
            ])
            .args(args)
            .output()
            .unwrap();
        assert_exit(&out, 0);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["snapshot"]["topics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(topics(&[]), ["extra", "orders", "third"]);
    assert_eq!(
        topics(&["--topic", "third", "--topic", "extra"]),
        ["extra", "third"]
    );
    let dir = TempDir::new().unwrap();
    let snap = dir.path().join("s.json");
    let out = run(&[
        "describe",
        "--bootstrap-server",
        &bootstrap,
        "--topic",
        "orders",
        "-o",
        snap.to_str().unwrap(),
    ]);
    assert_exit(&out, 0);
    let c = snapshot::parse("s", &std::fs::read(&snap).unwrap()).unwrap();
    assert_eq!(c.topics.len(), 1);
    assert_eq!(c.partition_count(), 4);
    let out = run(&[
        "describe",
        "--bootstrap-server",
        &bootstrap,
        "--topic",
        "orders",
        "--topic",
        "nope",
        "--topic",
        "gone",
        "-o",
        dir.path().join("t.json").to_str().unwrap(),
    ]);
    assert_exit(&out, 2);
    assert_eq!(errors(&out), ["error: --topic: unknown topics: gone, nope"]);
    assert!(!dir.path().join("t.json").exists());
}

#[test]
fn command_config_client_id_goes_in_the_request_header() {
    use kafka_protocol::messages::RequestHeader;
    use kafka_protocol::protocol::Decodable;
    use std::io::Read;
    // A listener that reads the first request and closes: what a broker
    // would see of this client.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut len = [0u8; 4];
        s.read_exact(&mut len).unwrap();
        let mut frame = vec![0u8; i32::from_be_bytes(len) as usize];
        s.read_exact(&mut frame).unwrap();
        // ApiVersions v3 has request header v2.
        let h = RequestHeader::decode(&mut bytes::Bytes::from(frame), 2).unwrap();
        (h.request_api_key, h.client_id.map(|c| c.to_string()))
    });
    let dir = TempDir::new().unwrap();
    let f = write(dir.path(), "c.properties", "client.id = ops-team\n");
    let out = run(&[
        "describe",
        "--bootstrap-server",
        &addr,
        "--command-config",
        f.to_str().unwrap(),
        "--timeout",
        "5",
    ]);
    assert_exit(&out, 3);
    assert_eq!(seen.join().unwrap(), (18, Some("ops-team".to_string())));
}
