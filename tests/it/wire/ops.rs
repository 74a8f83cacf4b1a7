//! The live operations end to end: the `kafka-migrate` binary (`apply`,
//! `verify`, `cancel`, `rollback`, `status`, `throttle`) against a
//! [`Backend`], with the cluster observed through `kafka::Admin` and the
//! data through kcat. Each scenario is written once and runs on the
//! mini-broker and on a real Kafka; topics are unique per scenario, and
//! every scenario leaves nothing moving and no throttle behind.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use kafka_migrate::exec::apply::THROTTLE_KEYS;
use kafka_migrate::kafka::Admin;
use kafka_migrate::model::live::{
    AlterOp, ClusterAdmin, ConfigOp, ConfigResource, ConfigValues, InFlight,
};
use kafka_migrate::model::{BrokerId, TopicPartition};
use tempfile::TempDir;

use super::{Backend, admin, eventually, kcat, unique};
use crate::support::{assert_exit, stderr, stdout};

const LEADER_RATE: &str = "leader.replication.throttled.rate";
const FOLLOWER_RATE: &str = "follower.replication.throttled.rate";
const LEADER_REPLICAS: &str = "leader.replication.throttled.replicas";
const FOLLOWER_REPLICAS: &str = "follower.replication.throttled.replicas";

/// Records per partition and their size for a partition that a throttle of
/// 10-100 KB/s holds in flight for the length of a scenario: above the
/// 1 MiB a follower's first fetch brings before a real broker's quota
/// applies.
const HELD: (usize, usize) = (2000, 1000);

fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition {
        topic: topic.to_string(),
        partition,
    }
}

/// The binary with the backend's bootstrap in the environment.
fn km_cmd(b: &dyn Backend, args: &[&str]) -> std::process::Command {
    // As `support::bin`, but a std Command: some runs are children to
    // watch, signal and kill.
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("kafka-migrate"));
    cmd.args(args)
        .env_remove("LC_ALL")
        .env_remove("LC_CTYPE")
        .env("LANG", "C.UTF-8")
        .env("KAFKA_MIGRATE_BOOTSTRAP", b.bootstrap())
        .env("COLUMNS", "100");
    cmd
}

/// Runs the binary to its end, off the async threads.
async fn km(b: &dyn Backend, args: &[&str]) -> Output {
    let mut cmd = km_cmd(b, args);
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

/// Starts the binary as a child process, stdout and stderr piped.
fn km_spawn(b: &dyn Backend, args: &[&str]) -> Child {
    km_cmd(b, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for a child off the async threads.
async fn finish(child: Child) -> Output {
    tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(out), stderr(out)))
}

/// The JSON Lines events of a run.
fn events(out: &Output) -> Vec<serde_json::Value> {
    stdout(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Writes a reassignment plan; returns its path.
fn write_plan(dir: &Path, name: &str, moves: &[(&str, i32, Vec<BrokerId>)]) -> String {
    let partitions: Vec<serde_json::Value> = moves
        .iter()
        .map(|(t, p, r)| serde_json::json!({"topic": t, "partition": p, "replicas": r}))
        .collect();
    let path = dir.join(name);
    std::fs::write(
        &path,
        serde_json::json!({"version": 1, "partitions": partitions}).to_string(),
    )
    .unwrap();
    path.display().to_string()
}

/// Creates a topic with `assignment` and waits until every partition has a
/// leader; returns its name and an admin client.
async fn create(b: &dyn Backend, prefix: &str, assignment: &[Vec<BrokerId>]) -> (String, Admin) {
    let topic = unique(prefix);
    let mut a = admin(b).await;
    fresh(b, &mut a).await;
    a.create_topic(&topic, assignment, &[]).await.unwrap();
    eventually!(format!("leaders of {topic}"), 30, {
        let s = state(&mut a, &topic).await;
        (s.len() == assignment.len() && s.values().all(|(_, l, _)| *l >= 0)).then_some(())
    });
    (topic, a)
}

/// Puts back what an earlier scenario that failed left on a shared
/// cluster (a stopped broker, moves in flight, broker throttles), so that
/// its failure is not reported again by every scenario after it. Topics'
/// throttles are their own topic's business.
pub(super) async fn fresh(b: &dyn Backend, a: &mut Admin) {
    let ids = b.brokers();
    let md = a.metadata().await.unwrap();
    for &id in &ids {
        if !md.brokers.iter().any(|br| br.node_id.0 == id) {
            eprintln!("{}: broker {id} was down; starting it", b.name());
            b.start_broker(id).await;
        }
    }
    eventually!(format!("{}: every broker up", b.name()), 60, {
        let md = a.metadata().await.unwrap();
        (md.brokers.len() >= ids.len()).then_some(())
    });
    let moves = a.list_reassignments().await.unwrap();
    if !moves.is_empty() {
        eprintln!("{}: cancelling moves left in flight: {moves:?}", b.name());
        let cancel: Vec<_> = moves.iter().map(|m| (m.tp.clone(), None)).collect();
        a.alter_reassignments(&cancel).await.unwrap();
    }
    let left = throttles(a, &ids, &[]).await;
    if !left.is_empty() {
        eprintln!("{}: removing broker throttles left: {left:?}", b.name());
        let ops: Vec<ConfigOp> = left.into_keys().map(|(r, k)| set(r, &k, None)).collect();
        a.alter_configs(&ops).await.unwrap();
    }
}

/// Produces `n` records of `size` bytes to one partition with kcat (acks=all);
/// returns them.
fn fill(b: &dyn Backend, topic: &str, partition: i32, (n, size): (usize, usize)) -> Vec<String> {
    let mut data = String::with_capacity(n * (size + 8));
    let mut sent = Vec::with_capacity(n);
    for i in 0..n {
        let body: String = (0..size)
            .map(|j| char::from(b'a' + ((i * 31 + j * 7 + partition as usize) % 26) as u8))
            .collect();
        let line = format!("{partition}:{i:06}:{body}");
        data.push_str(&line);
        data.push('\n');
        sent.push(line);
    }
    let p = partition.to_string();
    kcat(
        &[
            "-P",
            "-b",
            &b.bootstrap(),
            "-t",
            topic,
            "-p",
            &p,
            "-X",
            "acks=all",
            "-z",
            "none",
        ],
        Some(data.as_bytes()),
    );
    sent
}

/// Every record of a partition, checked to sit at offsets 0, 1, 2...
#[track_caller]
fn consume(b: &dyn Backend, topic: &str, partition: i32) -> Vec<String> {
    let p = partition.to_string();
    let out = kcat(
        &[
            "-C",
            "-b",
            &b.bootstrap(),
            "-t",
            topic,
            "-p",
            &p,
            "-o",
            "beginning",
            "-e",
            "-q",
            "-f",
            "%o %s\n",
        ],
        None,
    );
    out.lines()
        .enumerate()
        .map(|(i, l)| {
            let (o, v) = l.split_once(' ').unwrap();
            assert_eq!(
                o,
                i.to_string(),
                "{}: offsets of {topic}-{partition}",
                b.name()
            );
            v.to_string()
        })
        .collect()
}

/// Replicas, leader and ISR of each partition of `topic` from fresh
/// metadata.
async fn state(
    a: &mut Admin,
    topic: &str,
) -> BTreeMap<i32, (Vec<BrokerId>, BrokerId, Vec<BrokerId>)> {
    let md = a.metadata().await.unwrap();
    md.topics
        .iter()
        .filter(|t| t.name.as_ref().map(|n| n.0.as_str()) == Some(topic))
        .flat_map(|t| t.partitions.iter())
        .map(|p| {
            (
                p.partition_index,
                (
                    p.replica_nodes.iter().map(|b| b.0).collect(),
                    p.leader_id.0,
                    p.isr_nodes.iter().map(|b| b.0).collect(),
                ),
            )
        })
        .collect()
}

/// Each partition's replicas, once every broker's metadata shows `want`.
async fn wait_replicas(b: &dyn Backend, a: &mut Admin, topic: &str, want: &[Vec<BrokerId>]) {
    eventually!(format!("{}: {topic} at {want:?}", b.name()), 30, {
        let s = state(a, topic).await;
        let got: Vec<Vec<BrokerId>> = s.values().map(|(r, _, _)| r.clone()).collect();
        (got == want).then_some(())
    });
}

/// Each partition led by its first replica (the preferred leader).
async fn assert_preferred_leaders(b: &dyn Backend, a: &mut Admin, topic: &str) {
    for (p, (r, l, _)) in state(a, topic).await {
        assert_eq!(
            l,
            r[0],
            "{}: leader of {topic}-{p} (replicas {r:?})",
            b.name()
        );
    }
}

/// The moves in flight of `topic`.
async fn moving(a: &mut Admin, topic: &str) -> Vec<InFlight> {
    a.list_reassignments()
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.tp.topic == topic)
        .collect()
}

/// Every throttle key set on the brokers or on the topics.
async fn throttles(a: &mut Admin, brokers: &[BrokerId], topics: &[&str]) -> ConfigValues {
    let resources: Vec<ConfigResource> = brokers
        .iter()
        .map(|&id| ConfigResource::Broker(id))
        .chain(topics.iter().map(|t| ConfigResource::Topic(t.to_string())))
        .collect();
    a.describe_configs(&resources, &THROTTLE_KEYS)
        .await
        .unwrap()
}

/// The throttles once `ok` holds of them, or the last read after 10 s
/// for the caller's assertion to show. A real broker answers
/// DescribeConfigs from its own copy of the metadata, which follows an
/// IncrementalAlterConfigs by a moment.
async fn throttles_when(
    a: &mut Admin,
    brokers: &[BrokerId],
    topics: &[&str],
    ok: impl Fn(&ConfigValues) -> bool,
) -> ConfigValues {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let c = throttles(a, brokers, topics).await;
        if ok(&c) || Instant::now() > deadline {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn value<'a>(c: &'a ConfigValues, r: ConfigResource, key: &str) -> Option<&'a str> {
    c.get(&(r, key.to_string())).map(String::as_str)
}

/// Nothing of `topic` moving, and no throttle on any broker or on it.
async fn assert_clean(b: &dyn Backend, a: &mut Admin, topic: &str) {
    assert_eq!(moving(a, topic).await, vec![], "{}: still moving", b.name());
    let ids = b.brokers();
    let left = throttles_when(a, &ids, &[topic], ConfigValues::is_empty).await;
    assert!(left.is_empty(), "{}: throttles left: {left:?}", b.name());
}

/// Bytes of each replica of `topic` on the live brokers.
async fn sizes(
    a: &mut Admin,
    brokers: &[BrokerId],
    topic: &str,
) -> BTreeMap<i32, BTreeMap<BrokerId, u64>> {
    a.replica_sizes(brokers)
        .await
        .unwrap()
        .into_iter()
        .filter(|(tp, _)| tp.topic == topic)
        .map(|(tp, s)| (tp.partition, s))
        .collect()
}

fn set(r: ConfigResource, key: &str, v: Option<&str>) -> ConfigOp {
    ConfigOp {
        resource: r,
        key: key.to_string(),
        op: v.map_or(AlterOp::Delete, |v| AlterOp::Set(v.to_string())),
    }
}

/// The partitions a journal lists as submitted, with repeats.
fn journal_submitted(path: &str) -> Vec<(String, i32)> {
    let Ok(bytes) = std::fs::read(path) else {
        return Vec::new();
    };
    let Ok(j) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return Vec::new();
    };
    j["submissions"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["partitions"].as_array().unwrap().iter())
        .map(|m| {
            (
                m["topic"].as_str().unwrap().to_string(),
                m["partition"].as_i64().unwrap() as i32,
            )
        })
        .collect()
}

/// A throttled move of two partitions (one loses its leader, one gains
/// a preferred leader elsewhere): afterwards the removed replicas' data is
/// gone, the copies are whole, every message is at its offset, the
/// preferred leaders lead and no throttle is left.
pub async fn apply_throttled_move(b: &dyn Backend) {
    let ids = b.brokers();
    let (w, x, y, z) = (ids[0], ids[1], ids[2], ids[3]);
    let (topic, mut a) = create(b, "ops-move", &[vec![w, x], vec![x, y]]).await;
    let sent = [
        fill(b, &topic, 0, (800, 1000)),
        fill(b, &topic, 1, (600, 1000)),
    ];
    let dir = TempDir::new().unwrap();
    let targets = [vec![y, z], vec![z, x]];
    let plan = write_plan(
        dir.path(),
        "p.json",
        &[
            (&topic, 0, targets[0].clone()),
            (&topic, 1, targets[1].clone()),
        ],
    );
    // Before the run the partitions sit elsewhere, not moving: diverged.
    let out = km(b, &["verify", &plan, "--output", "json"]).await;
    assert_exit(&out, 3);
    assert_eq!(json(&out)["verdict"], "failed", "{}", b.name());

    let out = km(
        b,
        &["apply", &plan, "--throttle", "4MB/s", "--output", "json"],
    )
    .await;
    assert_exit(&out, 0);
    // JSON Lines, each event with a version, the report last.
    let events = events(&out);
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    for k in [
        "started",
        "throttle_changed",
        "submitted",
        "partition_done",
        "finished",
        "report",
    ] {
        assert!(
            kinds.contains(&k),
            "{}: {k} missing from {kinds:?}",
            b.name()
        );
    }
    assert!(events.iter().all(|e| e["version"] == 1), "{events:?}");
    assert_eq!(kinds.last(), Some(&"report"));
    assert_eq!(events.last().unwrap()["outcome"], "completed");
    let err = stderr(&out);
    let journal = dir.path().join("p.journal.json");
    assert!(
        err.contains(&format!(
            "wrote rollback (the assignment before this plan, 2 partitions) to {}",
            dir.path().join("p.rollback.json").display()
        )) && err.contains(&format!("journal: {}", journal.display())),
        "{}: {err}",
        b.name()
    );
    // The rollback file apply wrote holds where the partitions were.
    let rollback: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("p.rollback.json")).unwrap())
            .unwrap();
    let was: Vec<&serde_json::Value> = rollback["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["replicas"])
        .collect();
    assert_eq!(
        was,
        [&serde_json::json!([w, x]), &serde_json::json!([x, y])]
    );
    wait_replicas(b, &mut a, &topic, &targets).await;
    assert_preferred_leaders(b, &mut a, &topic).await;
    assert_clean(b, &mut a, &topic).await;
    // The removed replicas' logs are deleted; each new one is a whole copy.
    let on_disk = eventually!(format!("{}: removed replicas deleted", b.name()), 30, {
        let s = sizes(&mut a, &ids, &topic).await;
        let holders: Vec<Vec<BrokerId>> = s.values().map(|m| m.keys().copied().collect()).collect();
        let mut want: Vec<Vec<BrokerId>> = targets.to_vec();
        want.iter_mut().for_each(|r| r.sort());
        (holders == want).then_some(s)
    });
    for (p, by_broker) in &on_disk {
        let first = *by_broker.values().next().unwrap();
        assert!(
            first > 500_000,
            "{}: {topic}-{p} holds {first} bytes",
            b.name()
        );
        assert!(
            by_broker.values().all(|&v| v == first),
            "{}: {topic}-{p} copies differ: {by_broker:?}",
            b.name()
        );
    }
    // Every message at its offset: the high watermark is intact.
    for (p, sent) in sent.iter().enumerate() {
        assert_eq!(
            &consume(b, &topic, p as i32),
            sent,
            "{}: {topic}-{p}",
            b.name()
        );
    }
    let out = km(b, &["verify", &plan]).await;
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("2 done, 0 in progress"),
        "{}: {}",
        b.name(),
        stdout(&out)
    );
    let out = km(b, &["status", "--output", "json"]).await;
    assert_exit(&out, 0);
    let st = json(&out);
    // Of this topic or any broker (a shared cluster's other topics are
    // their scenarios' business).
    let ours = |v: &serde_json::Value| -> Vec<serde_json::Value> {
        v.as_array()
            .unwrap()
            .iter()
            .filter(|e| {
                e["topic"] == topic.as_str()
                    || e["resource"] == topic.as_str()
                    || e["resource_type"] == "broker"
            })
            .cloned()
            .collect()
    };
    assert_eq!(
        (ours(&st["moves"]), ours(&st["throttles"])),
        (vec![], vec![]),
        "{}: {st}",
        b.name()
    );
}

/// A throttled move takes at least 0.9x the time the throttle implies
/// for the bytes it copies beyond what the quota lets through at once
/// ([`Backend::quota_burst`]).
pub async fn throttled_move_takes_its_time(b: &dyn Backend) {
    let ids = b.brokers();
    let (w, x, y) = (ids[0], ids[1], ids[2]);
    let (topic, mut a) = create(b, "ops-timing", &[vec![w, x]]).await;
    // Four seconds of copying at the rate beyond what the backend's quota
    // lets through before it binds.
    let rate = 1_000_000u64;
    let burst = b.quota_burst(rate);
    let records = (4 * rate + burst) as usize / 1000;
    fill(b, &topic, 0, (records, 1000));
    let size = eventually!("the follower caught up", 30, {
        let s = sizes(&mut a, &ids, &topic).await;
        let m = s.get(&0).cloned().unwrap_or_default();
        (m.len() == 2 && m[&w] == m[&x]).then_some(m[&w])
    });
    assert!(size > 4 * rate + burst, "{}: {size} bytes", b.name());
    let dir = TempDir::new().unwrap();
    let plan = write_plan(dir.path(), "p.json", &[(&topic, 0, vec![w, y])]);
    let started = Instant::now();
    let out = km(
        b,
        &[
            "apply",
            &plan,
            "--throttle",
            &rate.to_string(),
            "--no-progress",
        ],
    )
    .await;
    let took = started.elapsed();
    assert_exit(&out, 0);
    let implied = Duration::from_secs_f64((size - burst) as f64 / rate as f64);
    eprintln!(
        "{}: {size} bytes at {rate} B/s, {burst} let through at once: took {took:?}, the throttle implies {implied:?}",
        b.name()
    );
    assert!(
        took >= implied.mul_f64(0.9),
        "{}: {size} bytes at {rate} B/s took {took:?}, under 0.9 x {implied:?}",
        b.name()
    );
    wait_replicas(b, &mut a, &topic, &[vec![w, y]]).await;
    assert_clean(b, &mut a, &topic).await;
}

/// What one poll of the cluster shows of a run's moves: how many, and the
/// most copying into and out of (the leader serving the copy) one broker.
#[derive(Debug, Default, Clone, Copy)]
struct Load {
    in_flight: usize,
    into: usize,
    out_of: usize,
}

async fn load(a: &mut Admin, topic: &str, leaders: &BTreeMap<i32, BrokerId>) -> Load {
    let moves = moving(a, topic).await;
    let mut into: BTreeMap<BrokerId, usize> = BTreeMap::new();
    let mut out_of: BTreeMap<BrokerId, usize> = BTreeMap::new();
    for m in &moves {
        for &id in &m.adding {
            *into.entry(id).or_default() += 1;
        }
        *out_of.entry(leaders[&m.tp.partition]).or_default() += 1;
    }
    Load {
        in_flight: moves.len(),
        into: into.values().copied().max().unwrap_or(0),
        out_of: out_of.values().copied().max().unwrap_or(0),
    }
}

/// Runs `args` as a child while polling the moves of `topic`; once some
/// poll saw `busy` moves at once (or after a few seconds), raises the rate
/// with `throttle set` so the run ends. Returns the run and the largest
/// load seen, each figure on its own.
async fn watch_run(
    b: &dyn Backend,
    a: &mut Admin,
    args: &[&str],
    plan: &str,
    topic: &str,
    leaders: &BTreeMap<i32, BrokerId>,
    busy: usize,
) -> (Output, Load) {
    let mut child = km_spawn(b, args);
    let started = Instant::now();
    let mut most = Load::default();
    let mut raised = false;
    loop {
        let done = child.try_wait().unwrap().is_some();
        let l = load(a, topic, leaders).await;
        most.in_flight = most.in_flight.max(l.in_flight);
        most.into = most.into.max(l.into);
        most.out_of = most.out_of.max(l.out_of);
        if done {
            break;
        }
        if !raised && (most.in_flight >= busy || started.elapsed() > Duration::from_secs(6)) {
            // Hold the full load for a few more polls, then let it finish.
            tokio::time::sleep(Duration::from_secs(1)).await;
            let out = km(b, &["throttle", "set", "50MB/s", "--plan", plan]).await;
            assert_exit(&out, 0);
            raised = true;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{}: {args:?} still running",
            b.name()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (finish(child).await, most)
}

/// Batching limits hold on the cluster: with `--max-per-broker 1` no
/// broker ever has more than one move copying into it or out of it, and
/// with `--max-in-flight 2` (the rollback) never more than two partitions
/// move; both runs complete.
pub async fn batching_limits_hold(b: &dyn Backend) {
    let ids = b.brokers();
    let n = ids.len();
    let from: Vec<Vec<BrokerId>> = (0..8).map(|i| vec![ids[i % n], ids[(i + 1) % n]]).collect();
    let to: Vec<Vec<BrokerId>> = (0..8).map(|i| vec![ids[i % n], ids[(i + 2) % n]]).collect();
    let (topic, mut a) = create(b, "ops-batch", &from).await;
    for p in 0..8 {
        fill(b, &topic, p, HELD);
    }
    let leaders: BTreeMap<i32, BrokerId> = state(&mut a, &topic)
        .await
        .into_iter()
        .map(|(p, (_, l, _))| (p, l))
        .collect();
    assert_eq!(
        leaders.values().copied().collect::<Vec<_>>(),
        from.iter().map(|r| r[0]).collect::<Vec<_>>()
    );
    let dir = TempDir::new().unwrap();
    let moves: Vec<(&str, i32, Vec<BrokerId>)> = to
        .iter()
        .enumerate()
        .map(|(p, r)| (topic.as_str(), p as i32, r.clone()))
        .collect();
    let plan = write_plan(dir.path(), "p.json", &moves);
    let args = [
        "apply",
        &plan,
        "--throttle",
        "100KB/s",
        "--max-per-broker",
        "1",
        "--no-progress",
    ];
    let (out, most) = watch_run(b, &mut a, &args, &plan, &topic, &leaders, n).await;
    assert_exit(&out, 0);
    eprintln!("{}: --max-per-broker 1: most seen {most:?}", b.name());
    assert!(most.into <= 1 && most.out_of <= 1, "{}: {most:?}", b.name());
    // Each broker can take one move in and one out: the polls saw several
    // at once, so they would have seen a second one on some broker.
    assert!(most.in_flight >= 2, "{}: {most:?}", b.name());
    wait_replicas(b, &mut a, &topic, &to).await;
    assert_clean(b, &mut a, &topic).await;

    // Back with the rollback file apply wrote, two moves at a time.
    let rollback = dir.path().join("p.rollback.json").display().to_string();
    let args = [
        "rollback",
        &rollback,
        "--throttle",
        "100KB/s",
        "--max-in-flight",
        "2",
        "--no-progress",
    ];
    let (out, most) = watch_run(b, &mut a, &args, &rollback, &topic, &leaders, 2).await;
    assert_exit(&out, 0);
    eprintln!("{}: --max-in-flight 2: most seen {most:?}", b.name());
    assert_eq!(most.in_flight, 2, "{}: {most:?}", b.name());
    wait_replicas(b, &mut a, &topic, &from).await;
    assert_clean(b, &mut a, &topic).await;
}

/// `throttle set` mid-move changes the rate on every broker of the run;
/// at the end an operator's own broker rate and the topic's own throttled
/// replicas come back as they were, and nothing the run added is left.
pub async fn throttle_set_mid_move_and_restore(b: &dyn Backend) {
    let ids = b.brokers();
    let (w, x, y) = (ids[0], ids[1], ids[2]);
    let (topic, mut a) = create(b, "ops-reset", &[vec![x, w], vec![w, x]]).await;
    fill(b, &topic, 0, HELD);
    // The operator's own: a leader rate on broker x, which the move copies
    // from, and a throttled replica of the partition that stays.
    let own_list = format!("1:{w}");
    a.alter_configs(&[
        set(ConfigResource::Broker(x), LEADER_RATE, Some("7777777")),
        set(
            ConfigResource::Topic(topic.clone()),
            LEADER_REPLICAS,
            Some(&own_list),
        ),
    ])
    .await
    .unwrap();
    let dir = TempDir::new().unwrap();
    let plan = write_plan(dir.path(), "p.json", &[(&topic, 0, vec![x, y])]);
    let child = km_spawn(
        b,
        &["apply", &plan, "--throttle", "20KB/s", "--no-progress"],
    );
    eventually!(format!("{}: the move submitted", b.name()), 30, {
        (!moving(&mut a, &topic).await.is_empty()).then_some(())
    });
    let out = km(b, &["throttle", "set", "30KB/s", "--plan", &plan]).await;
    assert_exit(&out, 0);
    let c = throttles_when(&mut a, &ids, &[&topic], |c| {
        [w, x, y].iter().all(|&id| {
            [LEADER_RATE, FOLLOWER_RATE]
                .iter()
                .all(|k| value(c, ConfigResource::Broker(id), k) == Some("30000"))
        })
    })
    .await;
    for id in [w, x, y] {
        for key in [LEADER_RATE, FOLLOWER_RATE] {
            assert_eq!(
                value(&c, ConfigResource::Broker(id), key),
                Some("30000"),
                "{}: {key} of broker {id}: {c:?}",
                b.name()
            );
        }
    }
    let list = value(&c, ConfigResource::Topic(topic.clone()), LEADER_REPLICAS).unwrap_or("");
    assert!(
        list.split(',').any(|e| e == own_list) && list.split(',').any(|e| e == format!("0:{x}")),
        "{}: leader list {list:?}",
        b.name()
    );
    // Faster, so that the run ends.
    let out = km(b, &["throttle", "set", "50MB/s", "--plan", &plan]).await;
    assert_exit(&out, 0);
    let out = finish(child).await;
    assert_exit(&out, 0);
    wait_replicas(b, &mut a, &topic, &[vec![x, y], vec![w, x]]).await;
    let want: ConfigValues = [
        (
            (ConfigResource::Broker(x), LEADER_RATE.to_string()),
            "7777777".to_string(),
        ),
        (
            (
                ConfigResource::Topic(topic.clone()),
                LEADER_REPLICAS.to_string(),
            ),
            own_list.clone(),
        ),
    ]
    .into_iter()
    .collect();
    let c = throttles_when(&mut a, &ids, &[&topic], |c| *c == want).await;
    assert_eq!(c, want, "{}: throttles after the run", b.name());
    // The operator's own go away only when the operator says so.
    a.alter_configs(&[
        set(ConfigResource::Broker(x), LEADER_RATE, None),
        set(ConfigResource::Topic(topic.clone()), LEADER_REPLICAS, None),
    ])
    .await
    .unwrap();
    assert_clean(b, &mut a, &topic).await;
}

/// `verify`'s exit codes: 1 while moving (throttles kept), 0 when done
/// (throttles kept with --preserve-throttles, else restored), 3 once
/// someone else moved a partition elsewhere, 2 on bad input.
pub async fn verify_exit_codes(b: &dyn Backend) {
    let ids = b.brokers();
    let (w, x, y, z) = (ids[0], ids[1], ids[2], ids[3]);
    let (topic, mut a) = create(b, "ops-verify", &[vec![w, x], vec![x, w]]).await;
    fill(b, &topic, 0, HELD);
    fill(b, &topic, 1, (100, 100));
    let dir = TempDir::new().unwrap();
    let targets = [vec![w, y], vec![x, z]];
    let plan = write_plan(
        dir.path(),
        "p.json",
        &[
            (&topic, 0, targets[0].clone()),
            (&topic, 1, targets[1].clone()),
        ],
    );
    let out = km(b, &["apply", &plan, "--throttle", "10KB/s", "--no-wait"]).await;
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("moves are in flight"),
        "{}",
        stderr(&out)
    );
    eventually!(
        format!("{}: {topic}-1 done, {topic}-0 moving", b.name()),
        30,
        {
            let m = moving(&mut a, &topic).await;
            (m.len() == 1 && m[0].tp == tp(&topic, 0)).then_some(())
        }
    );
    let out = km(b, &["verify", &plan, "--output", "json"]).await;
    assert_exit(&out, 1);
    let v = json(&out);
    assert_eq!(
        (
            v["verdict"].as_str(),
            v["done"].as_u64(),
            v["in_progress"].as_u64()
        ),
        (Some("in_progress"), Some(1), Some(1)),
        "{v}"
    );
    let c = throttles_when(&mut a, &ids, &[&topic], |c| {
        value(c, ConfigResource::Broker(y), FOLLOWER_RATE) == Some("10000")
    })
    .await;
    assert_eq!(
        value(&c, ConfigResource::Broker(y), FOLLOWER_RATE),
        Some("10000"),
        "{}: {c:?}",
        b.name()
    );

    // status sees the move and the run's rate.
    let out = km(b, &["status", "--output", "json"]).await;
    assert_exit(&out, 0);
    let st = json(&out);
    assert!(
        st["moves"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["topic"] == topic.as_str()),
        "{}: {st}",
        b.name()
    );
    let rates: Vec<&serde_json::Value> = st["throttles"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["key"] == LEADER_RATE)
        .map(|t| &t["value"])
        .collect();
    assert!(
        !rates.is_empty() && rates.iter().all(|r| *r == "10000"),
        "{}: {st}",
        b.name()
    );
    // A partition in motion: `plan` from the live cluster refuses it, as
    // with a snapshot, unless told to plan from its target.
    let bootstrap = b.bootstrap();
    let out = km(
        b,
        &["plan", "--bootstrap-server", &bootstrap, "--topics", &topic],
    )
    .await;
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains(&format!("the cluster at {bootstrap}"))
            && err.contains("partitions are being reassigned")
            && err.contains(&format!("{topic}-0")),
        "{}: {err}",
        b.name()
    );
    let out = km(
        b,
        &[
            "plan",
            "--bootstrap-server",
            &bootstrap,
            "--topics",
            &topic,
            "--in-flight",
            "target",
        ],
    )
    .await;
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}: {}",
        b.name(),
        stderr(&out)
    );

    let out = km(b, &["throttle", "set", "50MB/s", "--plan", &plan]).await;
    assert_exit(&out, 0);
    eventually!(format!("{}: the move done", b.name()), 60, {
        moving(&mut a, &topic).await.is_empty().then_some(())
    });
    wait_replicas(b, &mut a, &topic, &targets).await;
    let out = km(b, &["verify", &plan, "--preserve-throttles"]).await;
    assert_exit(&out, 0);
    let c = throttles(&mut a, &ids, &[&topic]).await;
    assert!(
        value(&c, ConfigResource::Topic(topic.clone()), FOLLOWER_REPLICAS).is_some()
            && value(&c, ConfigResource::Broker(y), FOLLOWER_RATE).is_some(),
        "{}: throttles preserved: {c:?}",
        b.name()
    );
    let out = km(b, &["verify", &plan, "--output", "json"]).await;
    assert_exit(&out, 0);
    assert_eq!(json(&out)["verdict"], "all_done");
    assert_clean(b, &mut a, &topic).await;

    // Someone else moves a partition elsewhere: diverged.
    let res = a
        .alter_reassignments(&[(tp(&topic, 1), Some(vec![x, y]))])
        .await
        .unwrap();
    assert!(res.iter().all(|(_, r)| r.is_ok()), "{res:?}");
    wait_replicas(b, &mut a, &topic, &[targets[0].clone(), vec![x, y]]).await;
    let out = km(b, &["verify", &plan, "--output", "json"]).await;
    assert_exit(&out, 3);
    let v = json(&out);
    let p1 = v["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["partition"] == 1)
        .cloned()
        .unwrap();
    assert_eq!(p1["status"], "diverged", "{v}");

    // Bad input: not JSON, a broker twice, the journal of another plan.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{").unwrap();
    let twice = write_plan(dir.path(), "twice.json", &[(&topic, 0, vec![w, w])]);
    let other = write_plan(dir.path(), "other.json", &[(&topic, 0, vec![w, z])]);
    let journal = dir.path().join("p.journal.json").display().to_string();
    for args in [
        vec!["verify", bad.to_str().unwrap()],
        vec!["verify", &twice],
        vec!["verify", &other, "--journal", &journal],
    ] {
        let out = km(b, &args).await;
        assert_exit(&out, 2);
    }
}

/// `cancel` of a pure replication-factor increase and of a move whose
/// first adding replica is already in the ISR: both revert to their
/// replicas less the adding ones, as Kafka does, data intact, throttles
/// restored; a second cancel has nothing to do.
pub async fn cancel_twice(b: &dyn Backend) {
    let ids = b.brokers();
    let (w, x, y, z) = (ids[0], ids[1], ids[2], ids[3]);
    let (topic, mut a) = create(b, "ops-cancel", &[vec![w, x], vec![w, x]]).await;
    let sent = [fill(b, &topic, 0, HELD), fill(b, &topic, 1, HELD)];
    let dir = TempDir::new().unwrap();
    let plan = write_plan(
        dir.path(),
        "p.json",
        &[(&topic, 0, vec![w, x, z]), (&topic, 1, vec![y, z])],
    );
    let out = km(
        b,
        &[
            "apply",
            &plan,
            "--throttle",
            "10KB/s",
            "--no-wait",
            "--allow-rf-change",
        ],
    )
    .await;
    assert_exit(&out, 0);
    // Let broker y copy at full speed (the leader w serves it, y fetches),
    // while z stays throttled: y joins the ISR of partition 1, whose move
    // still waits for z.
    let (fast, slow) = (format!("{w},{y}"), z.to_string());
    let out = km(
        b,
        &[
            "throttle",
            "set",
            "100MB/s",
            "--brokers",
            &fast,
            "--plan",
            &plan,
        ],
    )
    .await;
    assert_exit(&out, 0);
    let c = throttles_when(&mut a, &ids, &[&topic], |c| {
        value(c, ConfigResource::Broker(y), FOLLOWER_RATE) == Some("100000000")
    })
    .await;
    assert_eq!(
        (
            value(&c, ConfigResource::Broker(y), FOLLOWER_RATE),
            value(&c, ConfigResource::Broker(z), FOLLOWER_RATE)
        ),
        (Some("100000000"), Some("10000")),
        "{}: throttle set on broker {fast} only, not {slow}: {c:?}",
        b.name()
    );
    eventually!(format!("{}: y in the ISR of {topic}-1", b.name()), 60, {
        let s = state(&mut a, &topic).await;
        s[&1].2.contains(&y).then_some(())
    });
    let m = moving(&mut a, &topic).await;
    assert_eq!(m.len(), 2, "{}: both still moving: {m:?}", b.name());
    assert_eq!(
        (m[0].adding.clone(), m[1].adding.clone()),
        (vec![z], vec![y, z]),
        "{}",
        b.name()
    );

    let out = km(b, &["cancel", &plan, "--output", "json"]).await;
    assert_exit(&out, 0);
    let v = json(&out);
    assert_eq!(v["cancelled"].as_array().map(Vec::len), Some(2), "{v}");
    // Replicas less the adding ones, in an order Kafka does not promise.
    let s = state(&mut a, &topic).await;
    for p in [0, 1] {
        let got: BTreeSet<BrokerId> = s[&p].0.iter().copied().collect();
        assert_eq!(
            got,
            BTreeSet::from([w, x]),
            "{}: {topic}-{p} after cancel",
            b.name()
        );
    }
    assert_clean(b, &mut a, &topic).await;
    for (p, sent) in sent.iter().enumerate() {
        assert_eq!(
            &consume(b, &topic, p as i32),
            sent,
            "{}: {topic}-{p}",
            b.name()
        );
    }
    // Again: nothing to cancel.
    let out = km(b, &["cancel", &plan, "--output", "json"]).await;
    assert_exit(&out, 0);
    assert_eq!(
        json(&out)["cancelled"],
        serde_json::json!([]),
        "{}",
        b.name()
    );
    assert_clean(b, &mut a, &topic).await;
    // Nothing moving and not at the plan's replicas: diverged.
    let out = km(b, &["verify", &plan]).await;
    assert_exit(&out, 3);
    let out = km(b, &["cancel", "--all"]).await;
    assert_exit(&out, 0);
}

/// An apply stopped by Ctrl-C (exit 1, moves left in flight), run again
/// and killed (SIGKILL) mid-run, then run a third time: each run resumes
/// from the journal and submits only what the runs before it had not; the
/// last ends with every partition at its target and the throttles
/// restored.
pub async fn killed_apply_resumes(b: &dyn Backend) {
    let ids = b.brokers();
    let n = ids.len();
    let from: Vec<Vec<BrokerId>> = (0..4).map(|i| vec![ids[i % n], ids[(i + 1) % n]]).collect();
    let to: Vec<Vec<BrokerId>> = (0..4).map(|i| vec![ids[i % n], ids[(i + 2) % n]]).collect();
    let (topic, mut a) = create(b, "ops-kill", &from).await;
    for p in 0..4 {
        fill(b, &topic, p, HELD);
    }
    let dir = TempDir::new().unwrap();
    let moves: Vec<(&str, i32, Vec<BrokerId>)> = to
        .iter()
        .enumerate()
        .map(|(p, r)| (topic.as_str(), p as i32, r.clone()))
        .collect();
    let plan = write_plan(dir.path(), "p.json", &moves);
    let journal = dir.path().join("p.journal.json").display().to_string();
    // Stopped (Ctrl-C) after its first submission: exit 1, moves in flight.
    let child = km_spawn(
        b,
        &[
            "apply",
            &plan,
            "--throttle",
            "10KB/s",
            "--max-in-flight",
            "1",
            "--no-progress",
        ],
    );
    eventually!(format!("{}: a move in the journal", b.name()), 30, {
        (!journal_submitted(&journal).is_empty()).then_some(())
    });
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = finish(child).await;
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(
        err.contains(&format!("resume with `kafka-migrate apply {plan}`"))
            && err.contains("kafka-migrate cancel"),
        "{}: {err}",
        b.name()
    );
    assert_eq!(moving(&mut a, &topic).await.len(), 1, "{}", b.name());

    // Again, two at a time, and killed once it has submitted one more.
    let mut child = km_spawn(
        b,
        &[
            "apply",
            &plan,
            "--throttle",
            "10KB/s",
            "--max-in-flight",
            "2",
            "--no-progress",
        ],
    );
    let first = eventually!(format!("{}: a second move in the journal", b.name()), 30, {
        let s = journal_submitted(&journal);
        (s.len() >= 2).then_some(s)
    });
    child.kill().unwrap();
    let out = finish(child).await;
    assert_eq!(out.status.code(), None, "{}: killed by a signal", b.name());
    assert_eq!(first.len(), 2, "{}: {first:?}", b.name());
    let m = moving(&mut a, &topic).await;
    assert_eq!(
        m.len(),
        2,
        "{}: the submitted moves stay in flight: {m:?}",
        b.name()
    );
    assert!(
        !throttles(&mut a, &ids, &[&topic]).await.is_empty(),
        "{}",
        b.name()
    );

    let out = km(
        b,
        &["apply", &plan, "--throttle", "50MB/s", "--output", "json"],
    )
    .await;
    assert_exit(&out, 0);
    let events = events(&out);
    let started = events.iter().find(|e| e["event"] == "started").unwrap();
    assert_eq!(
        (
            &started["resumed"],
            &started["adopted"],
            &started["to_submit"]
        ),
        (
            &serde_json::json!(true),
            &serde_json::json!(2),
            &serde_json::json!(2)
        ),
        "{}: {started}",
        b.name()
    );
    let again: Vec<(String, i32)> = events
        .iter()
        .filter(|e| e["event"] == "submitted")
        .flat_map(|e| e["moves"].as_array().cloned().unwrap_or_default())
        .map(|p| {
            (
                p["topic"].as_str().unwrap().to_string(),
                p["partition"].as_i64().unwrap() as i32,
            )
        })
        .collect();
    assert!(
        again.len() == 2 && !again.iter().any(|p| first.contains(p)),
        "{}: {first:?} submitted again: {again:?}",
        b.name()
    );
    let all = journal_submitted(&journal);
    let unique: BTreeSet<&(String, i32)> = all.iter().collect();
    assert_eq!(
        (all.len(), unique.len()),
        (4, 4),
        "{}: every partition submitted once: {all:?}",
        b.name()
    );
    wait_replicas(b, &mut a, &topic, &to).await;
    assert_preferred_leaders(b, &mut a, &topic).await;
    assert_clean(b, &mut a, &topic).await;
}

/// Assignment, leaders and throttles, for comparing before and after.
async fn look(
    a: &mut Admin,
    ids: &[BrokerId],
    topic: &str,
) -> (Vec<(Vec<BrokerId>, BrokerId)>, ConfigValues) {
    let s = state(a, topic).await;
    (
        s.into_values().map(|(r, l, _)| (r, l)).collect(),
        throttles(a, ids, &[topic]).await,
    )
}

/// `--dry-run` changes nothing; a stale plan is refused naming its
/// partitions, and runs with `--force`; a plan onto a broker that is down
/// is refused.
pub async fn dry_run_stale_and_down_target(b: &dyn Backend) {
    let ids = b.brokers();
    let (w, x, y, z) = (ids[0], ids[1], ids[2], ids[3]);
    let (topic, mut a) = create(b, "ops-refuse", &[vec![w, x], vec![x, y]]).await;
    fill(b, &topic, 0, (200, 500));
    fill(b, &topic, 1, (200, 500));
    let dir = TempDir::new().unwrap();
    let plan = write_plan(
        dir.path(),
        "p.json",
        &[(&topic, 0, vec![w, z]), (&topic, 1, vec![x, z])],
    );
    let before = look(&mut a, &ids, &topic).await;
    let out = km(
        b,
        &[
            "apply",
            &plan,
            "--dry-run",
            "--throttle",
            "1MB/s",
            "--output",
            "json",
        ],
    )
    .await;
    assert_exit(&out, 0);
    let v = json(&out);
    assert_eq!(v["dry_run"], true);
    assert_eq!(
        v["throttles"]["topics"][&topic][LEADER_REPLICAS],
        format!("0:{w},0:{x},1:{x},1:{y}"),
        "{}: {v}",
        b.name()
    );
    assert!(!v["batches"].as_array().unwrap().is_empty(), "{v}");
    let out = km(
        b,
        &[
            "apply",
            &plan,
            "--dry-run",
            "--throttle",
            "1MB/s",
            "--output",
            "markdown",
        ],
    )
    .await;
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("**Throttles**"), "{}", stdout(&out));
    assert_eq!(
        look(&mut a, &ids, &topic).await,
        before,
        "{}: a dry run changed the cluster",
        b.name()
    );
    assert_eq!(moving(&mut a, &topic).await, vec![]);
    assert!(
        !dir.path().join("p.journal.json").exists(),
        "a dry run wrote a journal"
    );

    // The rollback file says partition 1 was at [y, x]; it is at [x, y].
    let rollback = write_plan(
        dir.path(),
        "p.rollback.json",
        &[(&topic, 0, vec![w, x]), (&topic, 1, vec![y, x])],
    );
    let out = km(b, &["apply", &plan, "--throttle", "5MB/s"]).await;
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{topic}-1")) && !err.contains(&format!("{topic}-0")),
        "{}: {err}",
        b.name()
    );
    assert_eq!(
        look(&mut a, &ids, &topic).await,
        before,
        "{}: a refused plan changed the cluster",
        b.name()
    );
    let out = km(
        b,
        &[
            "apply",
            &plan,
            "--throttle",
            "5MB/s",
            "--force",
            "--rollback-file",
            &rollback,
        ],
    )
    .await;
    assert_exit(&out, 0);
    wait_replicas(b, &mut a, &topic, &[vec![w, z], vec![x, z]]).await;
    assert_clean(b, &mut a, &topic).await;

    // A target broker that is down.
    b.stop_broker(y).await;
    eventually!(
        format!("{}: broker {y} gone from the metadata", b.name()),
        60,
        {
            let md = a.metadata().await.unwrap();
            (!md.brokers.iter().any(|br| br.node_id.0 == y)).then_some(())
        }
    );
    let onto_down = write_plan(dir.path(), "down.json", &[(&topic, 0, vec![w, y])]);
    let out = km(b, &["apply", &onto_down, "--throttle", "5MB/s"]).await;
    let err = stderr(&out);
    b.start_broker(y).await;
    assert_exit(&out, 2);
    assert!(err.contains(&format!("broker {y}")), "{}: {err}", b.name());
    assert_eq!(moving(&mut a, &topic).await, vec![]);
    wait_replicas(b, &mut a, &topic, &[vec![w, z], vec![x, z]]).await;
    let mut a = admin(b).await;
    eventually!(format!("{}: broker {y} back", b.name()), 60, {
        let md = a.metadata().await.unwrap();
        md.brokers.iter().any(|br| br.node_id.0 == y).then_some(())
    });
}

/// A move stuck on a target broker that stopped: producing and
/// consuming go on, `verify` reports the move as failed (its new replica
/// is on a broker that is down), and `cancel` brings the partition back.
pub async fn stuck_move_keeps_the_data_plane(b: &dyn Backend) {
    let ids = b.brokers();
    let (w, x, z) = (ids[0], ids[1], ids[3]);
    let (topic, mut a) = create(b, "ops-stuck", &[vec![w, x]]).await;
    let mut sent = fill(b, &topic, 0, HELD);
    let dir = TempDir::new().unwrap();
    let plan = write_plan(dir.path(), "p.json", &[(&topic, 0, vec![w, z])]);
    let out = km(b, &["apply", &plan, "--throttle", "10KB/s", "--no-wait"]).await;
    assert_exit(&out, 0);
    b.stop_broker(z).await;
    eventually!(
        format!("{}: broker {z} gone from the metadata", b.name()),
        60,
        {
            let md = a.metadata().await.unwrap();
            (!md.brokers.iter().any(|br| br.node_id.0 == z)).then_some(())
        }
    );
    // The data plane works while the move is stuck.
    sent.extend(fill(b, &topic, 0, (300, 200)));
    assert_eq!(
        consume(b, &topic, 0),
        sent,
        "{}: data during the stuck move",
        b.name()
    );
    let m = moving(&mut a, &topic).await;
    assert_eq!(m.len(), 1, "{}: stuck: {m:?}", b.name());
    let out = km(b, &["verify", &plan, "--output", "json"]).await;
    assert_exit(&out, 3);
    let v = json(&out);
    assert_eq!(v["partitions"][0]["status"], "failed", "{v}");
    assert!(
        v["partitions"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains(&z.to_string())),
        "{v}"
    );
    let out = km(b, &["cancel", &plan]).await;
    assert_exit(&out, 0);
    // Broker z's throttles cannot be restored while it is down: named,
    // kept in the journal, and removed by `throttle clear` once it is back.
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "warning: throttles on broker {z} not restored: it is down"
        )),
        "{}: {err}",
        b.name()
    );
    let s = state(&mut a, &topic).await;
    let got: BTreeSet<BrokerId> = s[&0].0.iter().copied().collect();
    assert_eq!(got, BTreeSet::from([w, x]), "{}: after cancel", b.name());
    let live: Vec<BrokerId> = ids.iter().copied().filter(|&id| id != z).collect();
    assert_eq!(moving(&mut a, &topic).await, vec![]);
    let left = throttles_when(&mut a, &live, &[&topic], ConfigValues::is_empty).await;
    assert!(left.is_empty(), "{}: throttles left: {left:?}", b.name());
    b.start_broker(z).await;
    let mut a = admin(b).await;
    eventually!(format!("{}: broker {z} back", b.name()), 60, {
        let md = a.metadata().await.unwrap();
        md.brokers.iter().any(|br| br.node_id.0 == z).then_some(())
    });
    let left = throttles(&mut a, &[z], &[]).await;
    assert!(
        !left.is_empty(),
        "{}: broker {z} kept the run's throttles",
        b.name()
    );
    let out = km(b, &["throttle", "clear", "--plan", &plan]).await;
    assert_exit(&out, 0);
    assert_clean(b, &mut a, &topic).await;
    assert_eq!(
        consume(b, &topic, 0),
        sent,
        "{}: data after the cancel",
        b.name()
    );
}

/// The `error:` lines of a run.
fn errors(out: &Output) -> Vec<String> {
    stderr(out)
        .lines()
        .filter(|l| l.starts_with("error: "))
        .map(String::from)
        .collect()
}

/// Each live command's bad inputs: exit 2, one `error:` line naming
/// what is wrong, nothing on stdout, and nothing changed on the cluster.
pub async fn bad_inputs_exit_2(b: &dyn Backend) {
    let ids = b.brokers();
    let (w, x, y, z) = (ids[0], ids[1], ids[2], ids[3]);
    let (topic, mut a) = create(b, "ops-bad", &[vec![w, x], vec![x, y]]).await;
    let dir = TempDir::new().unwrap();
    let d = |n: &str| dir.path().join(n).display().to_string();
    let plan = write_plan(
        dir.path(),
        "p.json",
        &[(&topic, 0, vec![w, z]), (&topic, 1, vec![x, z])],
    );
    let unknown = write_plan(
        dir.path(),
        "unknown.json",
        &[("km-no-such-topic", 0, vec![w, x])],
    );
    std::fs::write(d("bad.json"), "{").unwrap();
    std::fs::write(
        d("parts.json"),
        serde_json::json!({"partitions": [{"topic": topic}]}).to_string(),
    )
    .unwrap();
    let (not_json, parts, missing) = (d("bad.json"), d("parts.json"), d("missing.json"));
    let before = look(&mut a, &ids, &topic).await;
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["apply", &missing], "missing.json"),
        (vec!["apply", &unknown], "km-no-such-topic"),
        (vec!["apply", &not_json], "bad.json"),
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
        (vec!["verify", &not_json], "bad.json"),
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
        (
            vec!["elect-leaders", "--topics", "km-no-such-topic"],
            "km-no-such-topic",
        ),
        (
            vec!["elect-leaders", "--partitions-file", &parts],
            "parts.json",
        ),
        (
            vec!["elect-leaders", "--partitions-file", &missing],
            "missing.json",
        ),
    ];
    for (args, names) in cases {
        let out = km(b, &args).await;
        assert_exit(&out, 2);
        let errs = errors(&out);
        assert_eq!(errs.len(), 1, "{}: {args:?}: {}", b.name(), stderr(&out));
        assert!(errs[0].contains(names), "{}: {args:?}: {errs:?}", b.name());
        assert!(out.stdout.is_empty(), "{args:?}: {}", stdout(&out));
    }
    // No bootstrap at all.
    let out = crate::support::bin()
        .args(["status"])
        .env_remove("KAFKA_MIGRATE_BOOTSTRAP")
        .output()
        .unwrap();
    assert_exit(&out, 2);
    assert_eq!(
        look(&mut a, &ids, &topic).await,
        before,
        "{}: a refused command changed the cluster",
        b.name()
    );
    assert_eq!(moving(&mut a, &topic).await, vec![]);
    assert!(!dir.path().join("p.journal.json").exists());
}

/// `apply --no-elect` leaves the old leader where it still is a
/// replica; `elect-leaders` then makes each preferred replica lead, and a
/// second run has nothing to elect.
pub async fn elect_leaders_after_no_elect(b: &dyn Backend) {
    let ids = b.brokers();
    let (w, x, y, z) = (ids[0], ids[1], ids[2], ids[3]);
    let (topic, mut a) = create(b, "ops-elect", &[vec![w, x], vec![x, y]]).await;
    fill(b, &topic, 0, (100, 100));
    let dir = TempDir::new().unwrap();
    let targets = [vec![x, w], vec![z, x]];
    let plan = write_plan(
        dir.path(),
        "p.json",
        &[
            (&topic, 0, targets[0].clone()),
            (&topic, 1, targets[1].clone()),
        ],
    );
    let out = km(b, &["apply", &plan, "--no-elect", "--throttle", "8MB/s"]).await;
    assert_exit(&out, 0);
    wait_replicas(b, &mut a, &topic, &targets).await;
    let leaders: Vec<BrokerId> = state(&mut a, &topic)
        .await
        .values()
        .map(|(_, l, _)| *l)
        .collect();
    assert_eq!(
        leaders,
        vec![w, x],
        "{}: leaders stay without an election",
        b.name()
    );
    let out = km(
        b,
        &["elect-leaders", "--topics", &topic, "--output", "json"],
    )
    .await;
    assert_exit(&out, 0);
    assert_eq!(json(&out)["failed"], serde_json::json!([]), "{}", b.name());
    eventually!(format!("{}: preferred leaders", b.name()), 30, {
        let s = state(&mut a, &topic).await;
        s.values().all(|(r, l, _)| *l == r[0]).then_some(())
    });
    let out = km(b, &["elect-leaders", "--topics", &topic]).await;
    assert_exit(&out, 0);
    assert!(
        stdout(&out).starts_with("0 preferred leaders elected"),
        "{}: {}",
        b.name(),
        stdout(&out)
    );
    assert_clean(b, &mut a, &topic).await;
}

/// The broker rates and the topic lists of `topic`, as one map per
/// resource and key (for comparing what a run left).
fn rates_on(c: &ConfigValues, ids: &[BrokerId]) -> Vec<(BrokerId, Option<String>, Option<String>)> {
    ids.iter()
        .map(|&id| {
            (
                id,
                value(c, ConfigResource::Broker(id), LEADER_RATE).map(String::from),
                value(c, ConfigResource::Broker(id), FOLLOWER_RATE).map(String::from),
            )
        })
        .collect()
}

/// Overriding a running move (KIP-455): plan A runs throttled with
/// `--no-wait`; plan B gives one of its partitions another target. `apply
/// B` refuses while A's moves are in flight, naming them; with
/// `--additional` it replaces the target as Kafka does (the replica A was
/// adding becomes a removing one) and completes. B's restore gives A back
/// exactly A's throttles, which A's moves still need; `verify A` then
/// reports the overridden partition as diverged (exit 3) rather than done,
/// and, nothing of A moving any more, restores A's throttles: nothing is
/// left on the brokers or the topic.
pub async fn override_a_running_move(b: &dyn Backend) {
    let ids = b.brokers();
    let (w, x, y, z) = (ids[0], ids[1], ids[2], ids[3]);
    let (topic, mut a) = create(b, "ops-override", &[vec![w, x], vec![x, y]]).await;
    let sent = [fill(b, &topic, 0, HELD), fill(b, &topic, 1, HELD)];
    let dir = TempDir::new().unwrap();
    let plan_a = write_plan(
        dir.path(),
        "a.json",
        &[(&topic, 0, vec![w, y]), (&topic, 1, vec![x, z])],
    );
    let plan_b = write_plan(dir.path(), "b.json", &[(&topic, 0, vec![w, z])]);
    let out = km(b, &["apply", &plan_a, "--throttle", "10KB/s", "--no-wait"]).await;
    assert_exit(&out, 0);
    let m = moving(&mut a, &topic).await;
    assert_eq!(m.len(), 2, "{}: A in flight: {m:?}", b.name());
    let a_throttles = throttles_when(&mut a, &ids, &[&topic], |c| {
        rates_on(c, &ids)
            .iter()
            .all(|(_, l, f)| l.as_deref() == Some("10000") && f.as_deref() == Some("10000"))
    })
    .await;
    assert!(
        rates_on(&a_throttles, &ids)
            .iter()
            .all(|(_, l, f)| l.as_deref() == Some("10000") && f.as_deref() == Some("10000")),
        "{}: A's rate on every broker it involves: {a_throttles:?}",
        b.name()
    );

    // Without --additional: refused, naming both of A's moves, nothing sent.
    let out = km(b, &["apply", &plan_b, "--throttle", "50MB/s"]).await;
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{topic}-0: being reassigned to [{w},{y}]"))
            && err.contains(&format!("{topic}-1: is being reassigned to [{x},{z}]"))
            && err.contains("--additional"),
        "{}: {err}",
        b.name()
    );
    assert!(!dir.path().join("b.journal.json").exists());
    let m = moving(&mut a, &topic).await;
    assert_eq!(
        m.iter().map(InFlight::target).collect::<Vec<_>>(),
        vec![vec![w, y], vec![x, z]],
        "{}: A's targets stand",
        b.name()
    );

    // With --additional: B replaces the target, y (being added for A)
    // becomes a removing replica, and B waits for z alone.
    let out = km(
        b,
        &[
            "apply",
            &plan_b,
            "--throttle",
            "50MB/s",
            "--additional",
            "--output",
            "json",
        ],
    )
    .await;
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains(&format!(
            "{topic}-0: being reassigned to [{w},{y}]; this plan replaces that target"
        )),
        "{}: {}",
        b.name(),
        stderr(&out)
    );
    let ev = events(&out);
    assert_eq!(ev.last().unwrap()["outcome"], "completed", "{ev:?}");
    let submitted: Vec<&serde_json::Value> = ev
        .iter()
        .filter(|e| e["event"] == "submitted")
        .flat_map(|e| e["moves"].as_array().unwrap())
        .collect();
    assert_eq!(
        submitted.len(),
        1,
        "{}: B submits its one partition: {submitted:?}",
        b.name()
    );
    eventually!(format!("{}: {topic}-0 at B's target", b.name()), 30, {
        let s = state(&mut a, &topic).await;
        (s[&0].0 == vec![w, z]).then_some(())
    });
    let sizes_now = eventually!(format!("{}: y's abandoned copy deleted", b.name()), 30, {
        let s = sizes(&mut a, &ids, &topic).await;
        let holders: Vec<BrokerId> = s[&0].keys().copied().collect();
        (holders == vec![w, z]).then_some(s)
    });
    assert_eq!(sizes_now[&0][&w], sizes_now[&0][&z], "{}", b.name());
    // B put back exactly what was there before it: A's rate and A's
    // entries, which A's move of partition 1 (if still running) needs.
    let after_b = throttles(&mut a, &ids, &[&topic]).await;
    assert_eq!(
        rates_on(&after_b, &ids),
        rates_on(&a_throttles, &ids),
        "{}: rates after B",
        b.name()
    );
    for key in [LEADER_REPLICAS, FOLLOWER_REPLICAS] {
        let r = ConfigResource::Topic(topic.clone());
        assert_eq!(
            value(&after_b, r.clone(), key),
            value(&a_throttles, r, key),
            "{}: {key} after B",
            b.name()
        );
    }

    // A's other move finishes; A's plan is now diverged, not done.
    let out = km(b, &["throttle", "set", "50MB/s", "--plan", &plan_a]).await;
    assert_exit(&out, 0);
    eventually!(format!("{}: nothing moving", b.name()), 60, {
        moving(&mut a, &topic).await.is_empty().then_some(())
    });
    wait_replicas(b, &mut a, &topic, &[vec![w, z], vec![x, z]]).await;
    let out = km(b, &["verify", &plan_a, "--output", "json"]).await;
    assert_exit(&out, 3);
    let v = json(&out);
    let statuses: Vec<(&serde_json::Value, &serde_json::Value)> = v["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (&p["partition"], &p["status"]))
        .collect();
    assert_eq!(
        statuses,
        vec![
            (&serde_json::json!(0), &serde_json::json!("diverged")),
            (&serde_json::json!(1), &serde_json::json!("done"))
        ],
        "{}: {v}",
        b.name()
    );
    assert_eq!(
        v["partitions"][0]["replicas"],
        serde_json::json!([w, z]),
        "{v}"
    );
    let out = km(b, &["verify", &plan_b]).await;
    assert_exit(&out, 0);
    assert_preferred_leaders(b, &mut a, &topic).await;
    assert_clean(b, &mut a, &topic).await;
    for (p, sent) in sent.iter().enumerate() {
        assert_eq!(
            &consume(b, &topic, p as i32),
            sent,
            "{}: {topic}-{p}",
            b.name()
        );
    }
}

/// No acknowledged message is lost while partitions move and a broker
/// bounces: a producer (librdkafka, acks=all, the demo's checksummed and
/// numbered messages with their ledger) writes to a topic of replication
/// factor 3 throughout; `apply` moves both partitions under a throttle as
/// a child process, and mid-move a broker that is a source of both (one
/// move removes it, the other keeps it, so that move must wait for it to
/// rejoin) is stopped and started again. The run completes, `verify` says
/// done, and every acknowledged message is read back exactly once and
/// intact.
///
/// The broker bounced follows both leaders rather than leading: without
/// idempotence a produce request cut off on a stopping leader is retried,
/// and if its first try had landed the copy is a duplicate the tool has
/// no part in.
pub async fn no_acknowledged_message_lost_while_brokers_bounce(b: &dyn Backend) {
    use kafka_migrate::demo::workload::{self, Workload};

    let ids = b.brokers();
    let (w, x, y, z) = (ids[0], ids[1], ids[2], ids[3]);
    let (topic, mut a) = create(b, "ops-bounce", &[vec![y, x, w], vec![w, x, y]]).await;
    let bootstrap = b.bootstrap();
    // About 300 KB/s, far above the move's throttle: the new replicas
    // cannot catch up until the throttle is raised.
    let producer = Workload::start(&bootstrap, &Default::default(), &topic, 500).unwrap();
    // Each partition must hold more than a follower's unthrottled first
    // fetches, or a new replica catches up in them whenever the producer
    // stalls (a loaded machine) and the move keeping broker x finishes
    // before x stops: 1.5 bursts a partition, messages of 590 bytes on
    // average (`workload::encode`), about 12 s of the producer.
    let enough = 3 * b.quota_burst(10_000) / 590;
    eventually!(
        format!("{}: the producer acknowledged {enough}", b.name()),
        60,
        { (producer.progress().1 >= enough).then_some(()) }
    );
    let dir = TempDir::new().unwrap();
    let targets = [vec![y, w, z], vec![w, z, x]];
    let plan = write_plan(
        dir.path(),
        "p.json",
        &[
            (&topic, 0, targets[0].clone()),
            (&topic, 1, targets[1].clone()),
        ],
    );
    let child = km_spawn(
        b,
        &["apply", &plan, "--throttle", "10KB/s", "--output", "json"],
    );
    eventually!(format!("{}: both moves in flight", b.name()), 30, {
        let m = moving(&mut a, &topic).await;
        (m.len() == 2 && m.iter().all(|m| m.adding == vec![z])).then_some(())
    });
    tokio::time::sleep(Duration::from_millis(500)).await;

    b.stop_broker(x).await;
    eventually!(format!("{}: broker {x} out of the ISRs", b.name()), 30, {
        let s = state(&mut a, &topic).await;
        s.values()
            .all(|(_, _, isr)| !isr.contains(&x))
            .then_some(())
    });
    let (_, acked_at_stop) = producer.progress();
    tokio::time::sleep(Duration::from_secs(1)).await;
    // The move that keeps broker {x} cannot finish without it; the one
    // that drops it may (a loaded machine takes long to stop a broker).
    let m = moving(&mut a, &topic).await;
    assert!(
        m.iter()
            .any(|m| m.replicas.contains(&x) && !m.removing.contains(&x)),
        "{}: the move keeping broker {x} is not in flight: {m:?}",
        b.name()
    );
    b.start_broker(x).await;
    let (_, acked_at_start) = producer.progress();
    assert!(
        acked_at_start > acked_at_stop,
        "{}: nothing acknowledged while broker {x} was down ({acked_at_stop})",
        b.name()
    );
    let mut a = admin(b).await;
    eventually!(format!("{}: broker {x} back", b.name()), 60, {
        let md = a.metadata().await.unwrap();
        md.brokers.iter().any(|br| br.node_id.0 == x).then_some(())
    });
    // Faster than the producer, so that the moves end.
    let out = km(b, &["throttle", "set", "50MB/s", "--plan", &plan]).await;
    assert_exit(&out, 0);
    let out = finish(child).await;
    if out.status.code() != Some(0) {
        // A run that lost the broker may stop and say so; a re-run
        // resumes it.
        eprintln!(
            "{}: apply ended {:?} across the bounce:\n{}",
            b.name(),
            out.status,
            stderr(&out)
        );
        let again = km(b, &["apply", &plan, "--throttle", "50MB/s"]).await;
        assert_exit(&again, 0);
    } else {
        let ev = events(&out);
        assert_eq!(ev.last().unwrap()["outcome"], "completed", "{ev:?}");
    }
    wait_replicas(b, &mut a, &topic, &targets).await;
    let out = km(b, &["verify", &plan]).await;
    assert_exit(&out, 0);
    // A little more production on the final replicas, then the audit.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (ledger, stopped) =
        tokio::task::spawn_blocking(move || producer.stop(Duration::from_secs(30)))
            .await
            .unwrap();
    stopped.unwrap_or_else(|e| panic!("{}: producer: {e}", b.name()));
    let t = topic.clone();
    let audit = tokio::task::spawn_blocking(move || {
        workload::consume(&bootstrap, &Default::default(), &t, Duration::from_secs(30))
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("{}: consuming: {e}", b.name()));
    let counts = audit.counts(&ledger);
    eprintln!("{}: {counts}", b.name());
    assert!(
        counts.is_clean() && counts.failed == 0 && counts.acknowledged == counts.produced,
        "{}: {counts}",
        b.name()
    );
    assert_preferred_leaders(b, &mut a, &topic).await;
    assert_clean(b, &mut a, &topic).await;
}
