//! kafka-migrate beside Kafka's own `kafka-reassign-partitions` on one
//! cluster: the throttles each sets for the same plan are the same
//! strings on the same brokers; each tool's plan runs under the other; each
//! sees the moves the other started. Kafka's tool runs from the harness's
//! jars (see `tools.rs`), so these need Java and are ignored by plain
//! `cargo test` (see `suite!`); run without Java, they fail.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use kafka_migrate::kafka::Admin;
use kafka_migrate::model::live::{
    AlterOp, ClusterAdmin, ConfigOp, ConfigResource, ConfigValues, InFlight,
};
use kafka_migrate::model::{BrokerId, TopicPartition};
use tempfile::TempDir;

use super::tools::{reassign, tool_at};
use super::{Backend, block_on, kcat, unique};
use crate::support::{assert_exit, stderr, stdout};

const LEADER_RATE: &str = "leader.replication.throttled.rate";
const FOLLOWER_RATE: &str = "follower.replication.throttled.rate";
const LEADER_REPLICAS: &str = "leader.replication.throttled.replicas";
const FOLLOWER_REPLICAS: &str = "follower.replication.throttled.replicas";
const LOG_DIRS_RATE: &str = "replica.alter.log.dirs.io.max.bytes.per.second";
/// Every throttle key, spelled here as Kafka spells them rather than taken
/// from the code under test.
const KEYS: [&str; 5] = [
    LEADER_REPLICAS,
    FOLLOWER_REPLICAS,
    LEADER_RATE,
    FOLLOWER_RATE,
    LOG_DIRS_RATE,
];

/// A rate that holds a move: Kafka lets one fetch per partition
/// (`replica.fetch.max.bytes`, 1 MiB) through before the quota bites, and
/// [`HELD_BYTES`] leaves more than that to copy at 10 kB/s.
const HOLD_RATE: &str = "10000";
const HELD_BYTES: usize = 2_000_000;
/// A rate under which a small move finishes in a second or two.
const FAST_RATE: &str = "5000000";

async fn connect(bs: &str) -> Admin {
    Admin::connect(bs, Duration::from_secs(30))
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {bs}: {e}"))
}

/// The throttle keys set on `topics` and on every one of `brokers`.
fn throttles(bs: &str, topics: &[&str], brokers: &[BrokerId]) -> ConfigValues {
    let resources: Vec<ConfigResource> = topics
        .iter()
        .map(|t| ConfigResource::Topic(t.to_string()))
        .chain(brokers.iter().map(|&b| ConfigResource::Broker(b)))
        .collect();
    block_on(async {
        connect(bs)
            .await
            .describe_configs(&resources, &KEYS)
            .await
            .unwrap()
    })
}

fn alter(bs: &str, ops: &[ConfigOp]) {
    block_on(async { connect(bs).await.alter_configs(ops).await.unwrap() })
}

fn broker_op(broker: BrokerId, key: &str, op: AlterOp) -> ConfigOp {
    ConfigOp {
        resource: ConfigResource::Broker(broker),
        key: key.to_string(),
        op,
    }
}

/// Deletes every broker throttle key on every broker: the shared real
/// cluster may hold what an earlier failed test left.
fn clear_broker_throttles(bs: &str, brokers: &[BrokerId]) {
    let ops: Vec<ConfigOp> = brokers
        .iter()
        .flat_map(|&b| {
            [LEADER_RATE, FOLLOWER_RATE, LOG_DIRS_RATE].map(|k| broker_op(b, k, AlterOp::Delete))
        })
        .collect();
    alter(bs, &ops);
}

/// The moves in flight on `topics`.
fn moving(bs: &str, topics: &[&str]) -> Vec<InFlight> {
    block_on(async { connect(bs).await.list_reassignments().await.unwrap() })
        .into_iter()
        .filter(|m| topics.contains(&m.tp.topic.as_str()))
        .collect()
}

/// The replicas of each partition of `topics`, from the metadata.
fn replicas(bs: &str, topics: &[&str]) -> BTreeMap<TopicPartition, Vec<BrokerId>> {
    let cluster = block_on(async { connect(bs).await.snapshot().await.unwrap() });
    cluster
        .topics
        .iter()
        .filter(|t| topics.contains(&t.name.as_str()))
        .flat_map(|t| {
            t.partitions.iter().map(|p| {
                (
                    TopicPartition {
                        topic: t.name.clone(),
                        partition: p.partition,
                    },
                    p.replicas.clone(),
                )
            })
        })
        .collect()
}

/// Polls `f` every 300 ms until it gives `Some`; panics after `secs`.
fn wait_for<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {secs} s waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Creates `topic` with one replica list per partition.
fn create(bs: &str, topic: &str, layout: &[Vec<BrokerId>]) {
    block_on(async {
        connect(bs)
            .await
            .create_topic(topic, layout, &[])
            .await
            .unwrap()
    });
}

/// Produces about `bytes` to one partition (acks=all).
fn fill(bs: &str, topic: &str, partition: i32, bytes: usize) {
    let line = "x".repeat(1999);
    let payload = format!("{line}\n").repeat(bytes / 2000);
    let p = partition.to_string();
    kcat(
        &[
            "-P", "-b", bs, "-t", topic, "-p", &p, "-X", "acks=all", "-z", "none",
        ],
        Some(payload.as_bytes()),
    );
}

/// One planned move.
struct Planned {
    topic: String,
    partition: i32,
    target: Vec<BrokerId>,
}

impl Planned {
    fn tp(&self) -> TopicPartition {
        TopicPartition {
            topic: self.topic.clone(),
            partition: self.partition,
        }
    }
}

/// Writes `moves` as Kafka's reassignment JSON.
fn write_plan(dir: &Path, name: &str, moves: &[Planned]) -> String {
    let parts: Vec<String> = moves
        .iter()
        .map(|m| {
            let r: Vec<String> = m.target.iter().map(|b| b.to_string()).collect();
            format!(
                r#"{{"topic":"{}","partition":{},"replicas":[{}]}}"#,
                m.topic,
                m.partition,
                r.join(",")
            )
        })
        .collect();
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(r#"{{"version":1,"partitions":[{}]}}"#, parts.join(",")),
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

/// Runs kafka-migrate against `bs`.
fn km(bs: &str, args: &[&str]) -> Output {
    crate::support::bin()
        .args(args)
        .env("KAFKA_MIGRATE_BOOTSTRAP", bs)
        .env("COLUMNS", "100")
        .output()
        .expect("kafka-migrate runs")
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", stdout(out), stderr(out)))
}

/// Waits until no move of `topics` is in flight and the metadata shows
/// `want` (the controller's view reaches the brokers a moment later).
fn wait_settled(bs: &str, topics: &[&str], want: &BTreeMap<TopicPartition, Vec<BrokerId>>) {
    let sets = |m: &BTreeMap<TopicPartition, Vec<BrokerId>>| -> BTreeMap<TopicPartition, BTreeSet<BrokerId>> {
        m.iter()
            .map(|(tp, r)| (tp.clone(), r.iter().copied().collect()))
            .collect()
    };
    wait_for("the moves to settle", 60, || {
        (moving(bs, topics).is_empty() && sets(&replicas(bs, topics)) == sets(want)).then_some(())
    });
}

/// The brokers carrying a replication rate in `configs`.
fn rate_brokers(configs: &ConfigValues) -> BTreeSet<BrokerId> {
    configs
        .keys()
        .filter_map(|(r, k)| match r {
            ConfigResource::Broker(b) if k == LEADER_RATE || k == FOLLOWER_RATE => Some(*b),
            _ => None,
        })
        .collect()
}

fn value<'a>(configs: &'a ConfigValues, r: ConfigResource, key: &str) -> Option<&'a str> {
    configs.get(&(r, key.to_string())).map(String::as_str)
}

/// Four partitions on brokers 0 and 1 (the first four ids), each with
/// [`HELD_BYTES`], moving their replica on broker 0 to broker 2 (same
/// rack); broker 3 takes no part. Topic `a` has 12 partitions, so its
/// moving partitions 1, 10 and 11 order differently as strings than as
/// numbers. Returns the topics, the plan and the layout before.
fn held_layout(
    bs: &str,
    ids: &[BrokerId],
    prefix: &str,
) -> (
    [String; 2],
    Vec<Planned>,
    BTreeMap<TopicPartition, Vec<BrokerId>>,
) {
    let (x, y, z) = (ids[0], ids[1], ids[2]);
    let a = unique(prefix);
    let b = unique(prefix);
    let layout: Vec<Vec<BrokerId>> = (0..12)
        .map(|p| if p % 2 == 0 { vec![x, y] } else { vec![y, x] })
        .collect();
    create(bs, &a, &layout);
    create(bs, &b, &[vec![y, x]]);
    let swap = |r: &[BrokerId]| -> Vec<BrokerId> {
        r.iter().map(|&i| if i == x { z } else { i }).collect()
    };
    let plan: Vec<Planned> = [(&a, 1), (&a, 10), (&a, 11)]
        .into_iter()
        .map(|(t, p)| Planned {
            topic: t.clone(),
            partition: p,
            target: swap(&layout[p as usize]),
        })
        .chain([Planned {
            topic: b.clone(),
            partition: 0,
            target: vec![y, z],
        }])
        .collect();
    for m in &plan {
        fill(bs, &m.topic, m.partition, HELD_BYTES);
    }
    let topics = [a.as_str(), b.as_str()];
    let before = replicas(bs, &topics);
    ([a.clone(), b.clone()], plan, before)
}

/// The same plan on the same layout, run by Kafka's `--execute --throttle`
/// and by `kafka-migrate apply --throttle --no-wait`: the topics'
/// throttled-replica lists and the brokers' rates are the same strings on
/// the same brokers. Cancelled, Kafka's tool deletes every broker's
/// throttles, an operator's own included; `kafka-migrate cancel` puts the
/// operator's values back and removes only its own.
///
/// Two differences are deliberate (see `exec::apply`, `exec::throttle`) and
/// pinned here on a third topic: a planned partition already at its target
/// is in Kafka's leader list and not in ours, and a topic whose partitions
/// only reorder gets an empty follower list from Kafka and none from us.
/// Neither throttles a replica that copies anything.
/// What an earlier scenario that failed left on the shared cluster (a
/// stopped broker, moves in flight, broker throttles), put back first, as
/// the ops scenarios do, so one failure is not reported again here.
fn leftovers_put_back(b: &dyn Backend) {
    block_on(async {
        let mut a = super::admin(b).await;
        super::ops::fresh(b, &mut a).await;
    });
}

pub fn throttles_match_kafkas(b: &dyn Backend) {
    leftovers_put_back(b);
    let bs = b.bootstrap();
    let ids = b.brokers();
    let (x, y, z, w) = (ids[0], ids[1], ids[2], ids[3]);
    clear_broker_throttles(&bs, &ids);
    let (held, mut plan, _) = held_layout(&bs, &ids, "km-interop-thr");
    let copying = plan.len();
    // c-0 only reorders, c-1 is already where the plan puts it.
    let c = unique("km-interop-thr");
    create(&bs, &c, &[vec![y, x], vec![x, y]]);
    let reorder = TopicPartition {
        topic: c.clone(),
        partition: 0,
    };
    for partition in [0, 1] {
        plan.push(Planned {
            topic: c.clone(),
            partition,
            target: vec![x, y],
        });
    }
    let topics = [held[0].as_str(), held[1].as_str(), c.as_str()];
    let before = replicas(&bs, &topics);
    let dir = TempDir::new().unwrap();
    let p = write_plan(dir.path(), "plan.json", &plan);

    // An operator's own throttles: one on a broker the plan moves through
    // (both tools overwrite it while moving), one on a broker it does not.
    let operator = [
        broker_op(x, FOLLOWER_RATE, AlterOp::Set("7777777".into())),
        broker_op(w, LEADER_RATE, AlterOp::Set("6666666".into())),
    ];
    alter(&bs, &operator);

    // Kafka's tool.
    let out = reassign(&bs, "--execute", &p, &["--throttle", HOLD_RATE]);
    assert!(
        out.contains("Successfully started partition reassignment"),
        "{}: {out}",
        b.name()
    );
    let kafkas = throttles(&bs, &topics, &ids);
    assert_eq!(
        moving(&bs, &topics).len(),
        copying,
        "{}: Kafka's moves must still be running",
        b.name()
    );
    // Not vacuous: the lists of both copying topics, the rate on exactly
    // the three brokers the plan moves through, the operator's on the
    // fourth.
    assert_eq!(rate_brokers(&kafkas), BTreeSet::from([x, y, z, w]));
    for br in [x, y, z] {
        for key in [LEADER_RATE, FOLLOWER_RATE] {
            assert_eq!(
                value(&kafkas, ConfigResource::Broker(br), key),
                Some(HOLD_RATE),
                "{}: {kafkas:?}",
                b.name()
            );
        }
    }
    assert_eq!(
        value(&kafkas, ConfigResource::Broker(w), LEADER_RATE),
        Some("6666666")
    );
    for t in &held {
        for key in [LEADER_REPLICAS, FOLLOWER_REPLICAS] {
            assert!(
                value(&kafkas, ConfigResource::Topic(t.clone()), key)
                    .is_some_and(|v| !v.is_empty()),
                "{}: {key} of {t} in {kafkas:?}",
                b.name()
            );
        }
    }

    let out = reassign(&bs, "--cancel", &p, &[]);
    assert!(
        out.contains("Successfully cancelled"),
        "{}: {out}",
        b.name()
    );
    // The reorder finished at once; put it back for the second run.
    block_on(async {
        let r = connect(&bs)
            .await
            .alter_reassignments(&[(reorder.clone(), Some(vec![y, x]))])
            .await
            .unwrap();
        assert!(r.iter().all(|(_, r)| r.is_ok()), "{r:?}");
    });
    wait_settled(&bs, &topics, &before);
    wait_for("the reorder to be undone", 30, || {
        (replicas(&bs, &topics).get(&reorder) == Some(&vec![y, x])).then_some(())
    });
    // Kafka's cancel deletes every throttle on every broker, the
    // operator's too.
    assert_eq!(
        throttles(&bs, &topics, &ids),
        ConfigValues::new(),
        "{}: after Kafka's --cancel",
        b.name()
    );

    // kafka-migrate, same plan, same layout, same operator throttles.
    alter(&bs, &operator);
    let out = km(&bs, &["apply", &p, "--throttle", HOLD_RATE, "--no-wait"]);
    assert_exit(&out, 0);
    let ours = throttles(&bs, &topics, &ids);
    assert_eq!(
        moving(&bs, &topics).len(),
        copying,
        "{}: our moves must still be running",
        b.name()
    );
    assert_eq!(rate_brokers(&ours), rate_brokers(&kafkas), "{}", b.name());
    // Every string exactly, the lists in Kafka's order, but for the two
    // deliberate differences on topic c.
    let leader_c = (
        ConfigResource::Topic(c.clone()),
        LEADER_REPLICAS.to_string(),
    );
    let follower_c = (
        ConfigResource::Topic(c.clone()),
        FOLLOWER_REPLICAS.to_string(),
    );
    assert_eq!(
        kafkas.get(&leader_c).map(String::as_str),
        Some(format!("0:{x},0:{y},1:{x},1:{y}").as_str()),
        "{}: Kafka lists c-1, already at its target",
        b.name()
    );
    assert_eq!(
        kafkas.get(&follower_c).map(String::as_str),
        Some(""),
        "{}: Kafka sets an empty follower list for a topic that only reorders",
        b.name()
    );
    let mut expected = kafkas.clone();
    expected.insert(leader_c, format!("0:{x},0:{y}"));
    expected.remove(&follower_c);
    assert_eq!(ours, expected, "{}: ours, then Kafka's adjusted", b.name());

    let out = km(&bs, &["cancel", &p]);
    assert_exit(&out, 0);
    wait_settled(&bs, &topics, &before);
    // Only the operator's own values are left, as they were.
    let operator_only = ConfigValues::from([
        (
            (ConfigResource::Broker(x), FOLLOWER_RATE.to_string()),
            "7777777".to_string(),
        ),
        (
            (ConfigResource::Broker(w), LEADER_RATE.to_string()),
            "6666666".to_string(),
        ),
    ]);
    assert_eq!(
        throttles(&bs, &topics, &ids),
        operator_only,
        "{}: after kafka-migrate cancel",
        b.name()
    );
    clear_broker_throttles(&bs, &ids);
}

/// A plan from `kafka-migrate plan --bootstrap-server`, run by Kafka's
/// `--execute`: Kafka's `--verify` reports it complete, the partitions hold
/// the planned replicas, and `kafka-migrate verify` agrees (exit 0).
pub fn our_plan_runs_under_kafkas_execute(b: &dyn Backend) {
    leftovers_put_back(b);
    let bs = b.bootstrap();
    let ids = b.brokers();
    let (x, y) = (ids[0], ids[1]);
    let topic = unique("km-interop-ourplan");
    let layout: Vec<Vec<BrokerId>> = (0..4)
        .map(|p| if p % 2 == 0 { vec![x, y] } else { vec![y, x] })
        .collect();
    create(&bs, &topic, &layout);
    for p in 0..4 {
        fill(&bs, &topic, p, 100_000);
    }
    let dir = TempDir::new().unwrap();
    let plan = dir.path().join("plan.json");
    let p = plan.to_str().unwrap();
    let out = km(
        &bs,
        &[
            "plan",
            "--bootstrap-server",
            &bs,
            "--topics",
            &topic,
            "-o",
            p,
        ],
    );
    assert_exit(&out, 0);
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&plan).unwrap()).unwrap();
    let planned: BTreeMap<TopicPartition, Vec<BrokerId>> = doc["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                TopicPartition {
                    topic: m["topic"].as_str().unwrap().into(),
                    partition: m["partition"].as_i64().unwrap() as i32,
                },
                m["replicas"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r.as_i64().unwrap() as BrokerId)
                    .collect(),
            )
        })
        .collect();
    // The topic sits on two of four brokers: spreading it moves some.
    assert!(!planned.is_empty(), "{}: {doc}", b.name());

    let out = reassign(&bs, "--execute", p, &["--throttle", FAST_RATE]);
    assert!(
        out.contains("Successfully started partition reassignment"),
        "{}: {out}",
        b.name()
    );
    // "There is no active reassignment ... but replica set is" comes while
    // the broker answering --verify has not yet seen a move the controller
    // started or finished (on a loaded machine): wait past it too.
    let out = wait_for("Kafka's --verify to report completion", 60, || {
        let out = reassign(&bs, "--verify", p, &[]);
        (!out.contains("still in progress") && !out.contains("There is no active reassignment"))
            .then_some(out)
    });
    assert_eq!(
        out.matches("is completed").count(),
        planned.len(),
        "{}: {out}",
        b.name()
    );
    wait_for("the metadata to show the planned replicas", 30, || {
        let now = replicas(&bs, &[&topic]);
        planned
            .iter()
            .all(|(tp, r)| now.get(tp) == Some(r))
            .then_some(())
    });
    let out = km(&bs, &["verify", p]);
    assert_exit(&out, 0);
    // Kafka's --verify cleared its throttles once complete.
    assert_eq!(
        throttles(&bs, &[&topic], &ids),
        ConfigValues::new(),
        "{}",
        b.name()
    );
}

/// A plan from Kafka's `--generate` (random, rack-aware, every partition of
/// the topic listed, some perhaps where they are) is accepted by
/// `kafka-migrate apply`, runs to the end and verifies.
pub fn kafkas_generated_plan_runs_under_apply(b: &dyn Backend) {
    leftovers_put_back(b);
    let bs = b.bootstrap();
    let ids = b.brokers();
    let (x, y) = (ids[0], ids[1]);
    let topic = unique("km-interop-generated");
    let layout: Vec<Vec<BrokerId>> = (0..4)
        .map(|p| if p % 2 == 0 { vec![x, y] } else { vec![y, x] })
        .collect();
    create(&bs, &topic, &layout);
    for p in 0..4 {
        fill(&bs, &topic, p, 100_000);
    }
    let dir = TempDir::new().unwrap();
    let topics_file = dir.path().join("topics.json");
    std::fs::write(
        &topics_file,
        format!(r#"{{"version":1,"topics":[{{"topic":"{topic}"}}]}}"#),
    )
    .unwrap();
    // Without broker 0, every partition must change.
    let others: Vec<String> = ids[1..].iter().map(|b| b.to_string()).collect();
    let out = tool_at(
        "kafka-reassign-partitions",
        &bs,
        &[
            "--generate",
            "--topics-to-move-json-file",
            topics_file.to_str().unwrap(),
            "--broker-list",
            &others.join(","),
        ],
    );
    let proposed = out
        .lines()
        .skip_while(|l| !l.starts_with("Proposed partition reassignment configuration"))
        .nth(1)
        .unwrap_or_else(|| panic!("{}: no proposed plan in {out}", b.name()));
    let plan = dir.path().join("generated.json");
    std::fs::write(&plan, proposed).unwrap();
    let p = plan.to_str().unwrap();
    let doc: serde_json::Value = serde_json::from_str(proposed).unwrap();
    let planned: BTreeMap<TopicPartition, Vec<BrokerId>> = doc["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                TopicPartition {
                    topic: m["topic"].as_str().unwrap().into(),
                    partition: m["partition"].as_i64().unwrap() as i32,
                },
                m["replicas"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r.as_i64().unwrap() as BrokerId)
                    .collect(),
            )
        })
        .collect();
    assert_eq!(planned.len(), 4, "{}: {proposed}", b.name());

    let out = km(&bs, &["apply", p, "--throttle", FAST_RATE, "--no-progress"]);
    assert_exit(&out, 0);
    let out = km(&bs, &["verify", p]);
    assert_exit(&out, 0);
    assert_eq!(replicas(&bs, &[&topic]), planned, "{}", b.name());
    assert_eq!(
        throttles(&bs, &[&topic], &ids),
        ConfigValues::new(),
        "{}: throttles left behind",
        b.name()
    );
}

/// Each tool sees the moves the other started: `kafka-migrate verify`
/// (exit 1, in progress) and `status` (the moves with bytes copied of a
/// total) on moves Kafka's `--execute` started; Kafka's `--verify` (still
/// in progress) and `--list` on moves `kafka-migrate apply --no-wait`
/// started.
pub fn each_sees_the_others_moves(b: &dyn Backend) {
    leftovers_put_back(b);
    let bs = b.bootstrap();
    let ids = b.brokers();
    clear_broker_throttles(&bs, &ids);
    let (topics, plan, before) = held_layout(&bs, &ids, "km-interop-see");
    let topics = [topics[0].as_str(), topics[1].as_str()];
    let dir = TempDir::new().unwrap();
    let p = write_plan(dir.path(), "plan.json", &plan);
    let targets: BTreeMap<TopicPartition, Vec<BrokerId>> =
        plan.iter().map(|m| (m.tp(), m.target.clone())).collect();

    // Kafka's moves, seen by kafka-migrate.
    reassign(&bs, "--execute", &p, &["--throttle", HOLD_RATE]);
    let out = km(&bs, &["verify", &p, "--output", "json"]);
    assert_exit(&out, 1);
    let v = json(&out);
    assert_eq!(v["verdict"], "in_progress", "{}: {v}", b.name());
    assert_eq!(v["in_progress"], plan.len(), "{}: {v}", b.name());
    let out = km(&bs, &["status", "--output", "json"]);
    assert_exit(&out, 0);
    let st = json(&out);
    let listed: BTreeMap<TopicPartition, Vec<BrokerId>> = st["moves"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| topics.contains(&m["topic"].as_str().unwrap()))
        .map(|m| {
            // Progress: a total to copy (the partition's bytes), and what
            // has been copied of it.
            let total = m["bytes_total"].as_u64().unwrap();
            let copied = m["bytes_copied"].as_u64().unwrap();
            assert!(
                total >= HELD_BYTES as u64 && copied < total,
                "{}: {m}",
                b.name()
            );
            (
                TopicPartition {
                    topic: m["topic"].as_str().unwrap().into(),
                    partition: m["partition"].as_i64().unwrap() as i32,
                },
                serde_json::from_value(m["target"].clone()).unwrap(),
            )
        })
        .collect();
    assert_eq!(listed, targets, "{}: {st}", b.name());
    let out = km(&bs, &["status"]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    for m in &plan {
        let row = text
            .lines()
            .find(|l| l.contains(&format!("{}-{} ", m.topic, m.partition)))
            .unwrap_or_else(|| panic!("{}: {}-{} not in {text}", b.name(), m.topic, m.partition));
        assert!(
            row.contains(" of ") && row.contains('%'),
            "{}: {row}",
            b.name()
        );
    }
    // Our cancel stops Kafka's moves, and names the throttles it leaves:
    // no journal of ours records them.
    let out = km(&bs, &["cancel", &p]);
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("throttles not restored")
            && stderr(&out).contains("throttle clear --all"),
        "{}: {}",
        b.name(),
        stderr(&out)
    );
    wait_settled(&bs, &topics, &before);
    assert_ne!(throttles(&bs, &topics, &ids), ConfigValues::new());
    assert_exit(&km(&bs, &["throttle", "clear", "--all"]), 0);
    assert_eq!(throttles(&bs, &topics, &ids), ConfigValues::new());

    // kafka-migrate's moves, seen by Kafka's tool.
    let out = km(&bs, &["apply", &p, "--throttle", HOLD_RATE, "--no-wait"]);
    assert_exit(&out, 0);
    let out = reassign(&bs, "--verify", &p, &[]);
    for m in &plan {
        assert!(
            out.contains(&format!(
                "Reassignment of partition {}-{} is still in progress",
                m.topic, m.partition
            )),
            "{}: {out}",
            b.name()
        );
    }
    let out = tool_at("kafka-reassign-partitions", &bs, &["--list"]);
    for m in &plan {
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("{}-{}:", m.topic, m.partition)))
            .unwrap_or_else(|| panic!("{}: {}-{} not in {out}", b.name(), m.topic, m.partition));
        assert!(
            line.contains(&format!("adding: {}", ids[2])),
            "{}: {line}",
            b.name()
        );
    }
    let out = km(&bs, &["cancel", &p]);
    assert_exit(&out, 0);
    wait_settled(&bs, &topics, &before);
    assert_eq!(
        throttles(&bs, &topics, &ids),
        ConfigValues::new(),
        "{}: after kafka-migrate cancel",
        b.name()
    );
}
