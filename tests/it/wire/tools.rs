//! Kafka's own command-line tools (from the harness's Maven jars) against a
//! backend: what operators will run against the mini-broker must work as it
//! does against Kafka. Needs Java 17 and Maven, so the tests are ignored by
//! plain `cargo test` (see `suite!`); run without Java, they fail.

use std::process::Command;

use kafka_migrate::model::BrokerId;

use super::{Backend, kcat_produce, unique};

// The checks of Kafka's reassignment tool beside kafka-migrate, listed in
// `suite!`'s tools group with the others.
pub use super::groups::kafka_console_consumer_and_consumer_groups;
pub use super::interop::{
    each_sees_the_others_moves, kafkas_generated_plan_runs_under_apply,
    our_plan_runs_under_kafkas_execute, throttles_match_kafkas,
};
// `plan --balance-disks` run by Kafka's tool.
pub use super::balance_disks::balance_disks_with_kafkas_tool;

/// Runs `tests/kafka/cluster.sh tool NAME args...`; returns stdout, or
/// panics with stderr.
fn tool(name: &str, args: &[&str]) -> String {
    let harness = crate::support::repo().join("tests/kafka/cluster.sh");
    let out = Command::new("bash")
        .arg(harness)
        .arg("tool")
        .arg(name)
        .args(args)
        .output()
        .expect("bash runs the harness");
    assert!(
        out.status.success(),
        "{name} {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs tool `name` against the cluster at `bs` with `args` after
/// `--bootstrap-server`.
pub(super) fn tool_at(name: &str, bs: &str, args: &[&str]) -> String {
    let mut all = vec!["--bootstrap-server", bs];
    all.extend_from_slice(args);
    tool(name, &all)
}

/// kafka-topics --create; `layout` is `--partitions`/`--replication-factor`
/// or `--replica-assignment`.
fn create_topic(bs: &str, topic: &str, layout: &[&str]) {
    let mut args = vec!["--create", "--topic", topic];
    args.extend_from_slice(layout);
    tool_at("kafka-topics", bs, &args);
}

/// kafka-configs `action` (`--alter`/`--describe`) on one entity, then `more`.
fn configs(bs: &str, action: &str, entity_type: &str, name: &str, more: &[&str]) -> String {
    let mut args = vec![action, "--entity-type", entity_type, "--entity-name", name];
    args.extend_from_slice(more);
    tool_at("kafka-configs", bs, &args)
}

fn describe_configs(bs: &str, entity_type: &str, name: &str) -> String {
    configs(bs, "--describe", entity_type, name, &[])
}

/// kafka-reassign-partitions `action` on the plan file `plan`, then `more`.
pub(super) fn reassign(bs: &str, action: &str, plan: &str, more: &[&str]) -> String {
    let mut args = vec![action, "--reassignment-json-file", plan];
    args.extend_from_slice(more);
    tool_at("kafka-reassign-partitions", bs, &args)
}

/// Writes a one-partition plan moving `topic`-0 onto `replicas`.
fn write_plan(
    dir: &std::path::Path,
    file: &str,
    topic: &str,
    replicas: [BrokerId; 2],
) -> std::path::PathBuf {
    let plan = dir.join(file);
    let [r0, r1] = replicas;
    std::fs::write(&plan, format!(r#"{{"version":1,"partitions":[{{"topic":"{topic}","partition":0,"replicas":[{r0},{r1}]}}]}}"#)).unwrap();
    plan
}

/// kafka-topics --create and --describe.
pub fn kafka_topics(b: &dyn Backend) {
    let bs = b.bootstrap();
    let topic = unique("km-tool-topics");
    create_topic(
        &bs,
        &topic,
        &["--partitions", "3", "--replication-factor", "2"],
    );
    let out = tool_at("kafka-topics", &bs, &["--describe", "--topic", &topic]);
    assert!(out.contains("PartitionCount: 3"), "{}: {out}", b.name());
    assert!(out.contains("ReplicationFactor: 2"), "{}: {out}", b.name());
    assert_eq!(out.matches("Leader: ").count(), 3, "{}: {out}", b.name());
    assert_eq!(out.matches("Isr: ").count(), 3, "{}: {out}", b.name());
}

/// kafka-configs --alter and --describe on broker and topic throttles.
pub fn kafka_configs(b: &dyn Backend) {
    let bs = b.bootstrap();
    let id = b.brokers()[0].to_string();
    let topic = unique("km-tool-configs");
    create_topic(
        &bs,
        &topic,
        &["--partitions", "2", "--replication-factor", "2"],
    );
    configs(
        &bs,
        "--alter",
        "brokers",
        &id,
        &[
            "--add-config",
            "leader.replication.throttled.rate=7654321,follower.replication.throttled.rate=7654321",
        ],
    );
    let out = describe_configs(&bs, "brokers", &id);
    assert!(
        out.contains("leader.replication.throttled.rate=7654321"),
        "{}: {out}",
        b.name()
    );
    configs(
        &bs,
        "--alter",
        "topics",
        &topic,
        &[
            "--add-config",
            "leader.replication.throttled.replicas=[0:1,1:2],follower.replication.throttled.replicas=*",
        ],
    );
    let out = describe_configs(&bs, "topics", &topic);
    assert!(
        out.contains("leader.replication.throttled.replicas=0:1,1:2"),
        "{}: {out}",
        b.name()
    );
    assert!(
        out.contains("follower.replication.throttled.replicas=*"),
        "{}: {out}",
        b.name()
    );
    configs(
        &bs,
        "--alter",
        "brokers",
        &id,
        &[
            "--delete-config",
            "leader.replication.throttled.rate,follower.replication.throttled.rate",
        ],
    );
    let out = describe_configs(&bs, "brokers", &id);
    assert!(!out.contains("throttled.rate"), "{}: {out}", b.name());
}

/// kafka-log-dirs --describe: every broker, its log dirs, and a partition
/// with the bytes produced.
pub fn kafka_log_dirs(b: &dyn Backend) {
    let bs = b.bootstrap();
    let ids = b.brokers();
    let topic = unique("km-tool-logdirs");
    create_topic(
        &bs,
        &topic,
        &["--replica-assignment", &format!("{}:{}", ids[0], ids[1])],
    );
    let payload: String = (0..100).map(|i| format!("record-{i:04}\n")).collect();
    kcat_produce(&bs, &topic, payload.as_bytes());
    let list = ids
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let out = tool_at(
        "kafka-log-dirs",
        &bs,
        &["--describe", "--broker-list", &list, "--topic-list", &topic],
    );
    let json = out
        .lines()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("{}: no JSON in {out}", b.name()));
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(v["version"], 1);
    let brokers = v["brokers"].as_array().unwrap();
    assert_eq!(brokers.len(), ids.len(), "{}: {json}", b.name());
    let sizes: Vec<i64> = brokers
        .iter()
        .flat_map(|br| br["logDirs"].as_array().unwrap().iter())
        .flat_map(|d| d["partitions"].as_array().unwrap().iter())
        .filter(|p| p["partition"] == format!("{topic}-0"))
        .map(|p| p["size"].as_i64().unwrap())
        .collect();
    assert_eq!(sizes.len(), 2, "{}: {json}", b.name());
    assert!(
        sizes.iter().all(|&s| s > 1000),
        "{}: sizes {sizes:?}",
        b.name()
    );
}

/// kafka-reassign-partitions --execute with --throttle, --list, --verify
/// (in progress, then completed with throttles removed) and --cancel.
pub fn kafka_reassign_partitions(b: &dyn Backend) {
    let bs = b.bootstrap();
    let ids = b.brokers();
    let dir = tempfile::TempDir::new().unwrap();
    // A move held by a tiny throttle, then cancelled.
    let held = unique("km-tool-held");
    create_topic(
        &bs,
        &held,
        &["--replica-assignment", &format!("{}:{}", ids[0], ids[1])],
    );
    // Kafka lets one whole fetch (replica.fetch.max.bytes, 1 MiB) through
    // before a quota bites, so a held move needs several MiB behind it.
    let payload: String = (0..3000)
        .map(|i| format!("{i:06}-{}\n", "x".repeat(2000)))
        .collect();
    kcat_produce(&bs, &held, payload.as_bytes());
    let plan = write_plan(dir.path(), "held.json", &held, [ids[1], ids[2]]);
    let p = plan.to_str().unwrap();
    let out = reassign(&bs, "--execute", p, &["--throttle", "1000"]);
    assert!(
        out.contains("Successfully started partition reassignment"),
        "{}: {out}",
        b.name()
    );
    let out = tool_at("kafka-reassign-partitions", &bs, &["--list"]);
    assert!(out.contains(&format!("{held}-0")), "{}: {out}", b.name());
    let out = reassign(&bs, "--verify", p, &[]);
    assert!(out.contains("is still in progress"), "{}: {out}", b.name());
    let out = reassign(&bs, "--cancel", p, &[]);
    assert!(
        out.contains("Successfully cancelled"),
        "{}: {out}",
        b.name()
    );

    // An unthrottled move to completion; --verify then clears throttles.
    let moved = unique("km-tool-moved");
    create_topic(
        &bs,
        &moved,
        &["--replica-assignment", &format!("{}:{}", ids[0], ids[1])],
    );
    kcat_produce(&bs, &moved, b"a\nb\nc\n");
    let plan = write_plan(dir.path(), "moved.json", &moved, [ids[2], ids[3]]);
    let p = plan.to_str().unwrap();
    reassign(&bs, "--execute", p, &["--throttle", "100000000"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let out = reassign(&bs, "--verify", p, &[]);
        if out.contains("is completed") {
            assert!(
                out.contains("Clearing broker-level throttles"),
                "{}: {out}",
                b.name()
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{}: move never completed: {out}",
            b.name()
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let out = describe_configs(&bs, "brokers", &ids[2].to_string());
    assert!(
        !out.contains("throttled.rate"),
        "{}: throttles left behind: {out}",
        b.name()
    );
}

/// `kafka-metadata-quorum describe --status`: the quorum's leader is a
/// voter, every broker is a voter or an observer, and the high watermark
/// (the metadata offset) grows with a metadata change.
pub fn kafka_metadata_quorum(b: &dyn Backend) {
    let bs = b.bootstrap();
    let status = || {
        let out = tool_at("kafka-metadata-quorum", &bs, &["describe", "--status"]);
        let field = |name: &str| -> String {
            out.lines()
                .find_map(|l| l.strip_prefix(&format!("{name}:")))
                .unwrap_or_else(|| panic!("{}: no {name} in {out}", b.name()))
                .trim()
                .to_string()
        };
        let ids = |list: String| -> Vec<BrokerId> {
            list.split("\"id\": ")
                .skip(1)
                .map(|s| {
                    s.split(|c: char| !c.is_ascii_digit())
                        .next()
                        .unwrap()
                        .parse()
                        .unwrap()
                })
                .collect()
        };
        let leader: BrokerId = field("LeaderId").parse().unwrap();
        let epoch: i32 = field("LeaderEpoch").parse().unwrap();
        let hw: i64 = field("HighWatermark").parse().unwrap();
        let voters = ids(field("CurrentVoters"));
        let observers = ids(field("CurrentObservers"));
        assert!(!field("ClusterId").is_empty(), "{}: {out}", b.name());
        (leader, epoch, hw, voters, observers, out)
    };
    let (leader, epoch, hw, voters, observers, out) = status();
    assert!(epoch >= 1 && hw > 0, "{}: {out}", b.name());
    assert!(
        voters.contains(&leader),
        "{}: leader not a voter: {out}",
        b.name()
    );
    for id in b.brokers() {
        assert!(
            voters.contains(&id) || observers.contains(&id),
            "{}: broker {id} neither voter nor observer: {out}",
            b.name()
        );
    }
    create_topic(
        &bs,
        &unique("km-quorum"),
        &["--partitions", "1", "--replication-factor", "1"],
    );
    let (_, _, later, ..) = status();
    assert!(later > hw, "{}: high watermark {hw} then {later}", b.name());
}
