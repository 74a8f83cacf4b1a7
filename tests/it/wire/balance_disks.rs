//! `plan --balance-disks` end to end: a topic's replicas are piled into
//! each broker's first log dir (AlterReplicaLogDirs), `describe` records
//! where they are, `plan --balance-disks` evens the dirs out, and the plan
//! runs under `kafka-migrate apply` (with moves between brokers too) or
//! under Kafka's `kafka-reassign-partitions --execute` (disk moves only).
//! `DescribeLogDirs` afterwards shows every replica in the dir the plan
//! named and each broker's dirs within the tolerance, as the summary said.

use std::collections::BTreeMap;
use std::path::Path;

use kafka_migrate::kafka::Admin;
use kafka_migrate::model::live::{ClusterAdmin, DirMove};
use kafka_migrate::model::{BrokerId, TopicPartition};

use super::{Backend, admin, eventually, kcat, unique};

/// The tolerance the scenarios plan with, in percent.
const TOLERANCE: &str = "20";

fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition {
        topic: topic.into(),
        partition,
    }
}

/// Runs the kafka-migrate binary off the async threads.
async fn km(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        crate::support::bin()
            .args(&args)
            .env("COLUMNS", "120")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

fn ok(b: &dyn Backend, what: &str, out: &std::process::Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}: {what}: {}{}",
        b.name(),
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// Creates `topic` with `layout`, fills partition p with `sizes[p]` bytes
/// (records of 2000 bytes, acks=all), and puts every replica in its
/// broker's first log dir.
async fn staged(
    b: &dyn Backend,
    a: &mut Admin,
    topic: &str,
    layout: &[Vec<BrokerId>],
    sizes: &[usize],
) {
    a.create_topic(topic, layout, &[]).await.unwrap();
    eventually!("leaders for the new topic", 30, {
        let md = a.metadata().await.unwrap();
        md.topics
            .iter()
            .filter(|t| t.name.as_ref().map(|n| n.0.as_str()) == Some(topic))
            .all(|t| {
                t.partitions.len() == layout.len()
                    && t.partitions.iter().all(|p| p.leader_id.0 >= 0)
            })
            .then_some(())
    });
    let line = format!("{}\n", "d".repeat(1999));
    for (p, &bytes) in sizes.iter().enumerate() {
        let payload = line.repeat(bytes / 2000);
        let part = p.to_string();
        let bs = b.bootstrap();
        let topic = topic.to_string();
        tokio::task::spawn_blocking(move || {
            kcat(
                &[
                    "-P", "-b", &bs, "-t", &topic, "-p", &part, "-X", "acks=all", "-z", "none",
                ],
                Some(payload.as_bytes()),
            )
        })
        .await
        .unwrap();
    }
    let ids = b.brokers();
    let dirs = a.describe_log_dirs(&ids).await.unwrap();
    let moves: Vec<DirMove> = layout
        .iter()
        .enumerate()
        .flat_map(|(p, r)| {
            let dirs = &dirs;
            r.iter().map(move |&broker| DirMove {
                tp: tp(topic, p as i32),
                broker,
                dir: dirs[&broker].dirs[0].clone(),
            })
        })
        .collect();
    eventually!("every replica in its broker's first dir", 60, {
        a.alter_replica_log_dirs(&moves).await.unwrap();
        let now = a.describe_log_dirs(&ids).await.unwrap();
        moves
            .iter()
            .all(|m| {
                now[&m.broker]
                    .replicas
                    .get(&m.tp)
                    .is_some_and(|r| r.dir == m.dir && r.future.is_none())
            })
            .then_some(())
    });
    // Every replica has caught up with its leader, so replicas of a
    // partition hold the same bytes.
    eventually!("replicas of equal size", 60, {
        let now = a.describe_log_dirs(&ids).await.unwrap();
        (0..layout.len())
            .all(|p| {
                let sizes: Vec<u64> = now
                    .values()
                    .filter_map(|d| d.replicas.get(&tp(topic, p as i32)).map(|r| r.size))
                    .collect();
                sizes.len() == layout[p].len() && sizes.iter().all(|&s| s == sizes[0] && s > 0)
            })
            .then_some(())
    });
}

/// `describe --topic` then `plan --balance-disks`: the plan file's path and
/// the JSON report.
async fn plan(
    b: &dyn Backend,
    dir: &Path,
    topic: &str,
    more: &[&str],
) -> (String, serde_json::Value) {
    let snap = dir.join("snapshot.json");
    let plan = dir.join("plan.json");
    let s = |p: &Path| p.display().to_string();
    let out = km(vec![
        "describe".into(),
        "--bootstrap-server".into(),
        b.bootstrap(),
        "--topic".into(),
        topic.into(),
        "-o".into(),
        s(&snap),
    ])
    .await;
    ok(b, "describe", &out);
    let recorded: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&snap).unwrap()).unwrap();
    assert!(
        recorded["brokers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|br| br["log_dirs"].as_array().is_some_and(|d| d.len() == 2)),
        "{}: two log dirs per broker: {recorded}",
        b.name()
    );
    // The text report shows the dirs; the JSON report gives each dir's
    // bytes, which are the recorded replicas' sizes in it.
    assert!(
        text(&out.stdout).contains("log dirs (brokers with several"),
        "{}: {}",
        b.name(),
        text(&out.stdout)
    );
    let json = km(vec![
        "describe".into(),
        "--bootstrap-server".into(),
        b.bootstrap(),
        "--topic".into(),
        topic.into(),
        "--output".into(),
        "json".into(),
    ])
    .await;
    ok(b, "describe --output json", &json);
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let mut want: std::collections::BTreeMap<(i64, String), u64> = Default::default();
    for br in recorded["brokers"].as_array().unwrap() {
        for d in br["log_dirs"].as_array().unwrap() {
            want.insert((br["id"].as_i64().unwrap(), d.as_str().unwrap().into()), 0);
        }
    }
    for t in recorded["topics"].as_array().unwrap() {
        for p in t["partitions"].as_array().unwrap() {
            let size = p["size_bytes"].as_u64().unwrap_or(0);
            let dirs = p["log_dirs"].as_array().unwrap();
            for (r, d) in p["replicas"].as_array().unwrap().iter().zip(dirs) {
                if let Some(d) = d.as_str() {
                    *want.entry((r.as_i64().unwrap(), d.into())).or_default() += size;
                }
            }
        }
    }
    let mut got: std::collections::BTreeMap<(i64, String), u64> = Default::default();
    for br in report["log_dirs"].as_array().unwrap() {
        for d in br["dirs"].as_array().unwrap() {
            got.insert(
                (
                    br["broker"].as_i64().unwrap(),
                    d["dir"].as_str().unwrap().into(),
                ),
                d["bytes"].as_u64().unwrap(),
            );
        }
    }
    assert_eq!(got, want, "{}: describe's log dirs", b.name());
    let mut args: Vec<String> = [
        "plan",
        "--state",
        &s(&snap),
        "--balance-disks",
        "--disk-tolerance",
        TOLERANCE,
        "-o",
        &s(&plan),
        "--output",
        "json",
    ]
    .map(String::from)
    .into();
    args.extend(more.iter().map(|a| a.to_string()));
    let out = km(args).await;
    ok(b, "plan --balance-disks", &out);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    (s(&plan), report)
}

/// The plan's named dirs: (partition, broker) -> dir.
fn named(plan: &str) -> BTreeMap<(TopicPartition, BrokerId), String> {
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(plan).unwrap()).unwrap();
    let mut out = BTreeMap::new();
    for m in doc["partitions"].as_array().unwrap() {
        let t = tp(
            m["topic"].as_str().unwrap(),
            m["partition"].as_i64().unwrap() as i32,
        );
        for (r, d) in m["replicas"]
            .as_array()
            .unwrap()
            .iter()
            .zip(m["log_dirs"].as_array().unwrap())
        {
            if d != "any" {
                out.insert(
                    (t.clone(), r.as_i64().unwrap() as BrokerId),
                    d.as_str().unwrap().to_string(),
                );
            }
        }
    }
    out
}

/// After the plan ran: each replica the plan named is in its dir, no
/// future log is left, and each broker's bytes per dir of `topic` are what
/// the summary predicted, within the tolerance.
async fn disks_as_planned(
    b: &dyn Backend,
    a: &mut Admin,
    topic: &str,
    plan: &str,
    report: &serde_json::Value,
) {
    let ids = b.brokers();
    let want = named(plan);
    let now = eventually!("every replica in its planned dir", 90, {
        let now = a.describe_log_dirs(&ids).await.unwrap();
        want.iter()
            .all(|((t, br), d)| {
                now[br]
                    .replicas
                    .get(t)
                    .is_some_and(|r| &r.dir == d && r.future.is_none())
            })
            .then_some(now)
    });
    let disks = &report["summary"]["disks"];
    for row in disks["brokers"].as_array().unwrap() {
        let id = row["id"].as_i64().unwrap() as BrokerId;
        let mut actual: BTreeMap<String, u64> =
            now[&id].dirs.iter().map(|d| (d.clone(), 0)).collect();
        for (t, r) in &now[&id].replicas {
            if t.topic == topic {
                *actual.get_mut(&r.dir).unwrap() += r.size;
            }
        }
        let predicted: BTreeMap<String, u64> = row["dirs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["dir"].as_str().unwrap().to_string(),
                    d["bytes_after"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(actual, predicted, "{}: broker {id}: {report}", b.name());
        let spread = actual.values().max().unwrap() - actual.values().min().unwrap();
        assert!(
            spread <= row["tolerance_bytes"].as_u64().unwrap(),
            "{}: broker {id}: {actual:?} {row}",
            b.name()
        );
    }
    assert_eq!(
        disks["brokers_outside_tolerance"],
        serde_json::json!([]),
        "{}",
        b.name()
    );
}

/// Replicas moving between brokers and between dirs at once, run by
/// `kafka-migrate apply`: the topic sits on two brokers, all in their first
/// dirs; the plan spreads it over four and evens every broker's dirs.
pub async fn balance_disks_with_apply(b: &dyn Backend) {
    let ids = b.brokers();
    let mut a = admin(b).await;
    super::ops::fresh(b, &mut a).await;
    let topic = unique("km-balance-disks");
    // Equal sizes, so that whichever replicas stay, the dirs can be evened.
    let layout: Vec<Vec<BrokerId>> = (0..8)
        .map(|p| {
            if p % 2 == 0 {
                vec![ids[0], ids[1]]
            } else {
                vec![ids[1], ids[0]]
            }
        })
        .collect();
    staged(b, &mut a, &topic, &layout, &[200_000; 8]).await;
    let tmp = tempfile::TempDir::new().unwrap();
    let (plan, report) = plan(b, tmp.path(), &topic, &[]).await;
    let disks = &report["summary"]["disks"];
    assert!(
        disks["replicas_placed"].as_u64().unwrap() > 0,
        "{}: {report}",
        b.name()
    );
    assert!(
        report["summary"]["totals"]["replicas_moved"]
            .as_u64()
            .unwrap()
            > 0,
        "{}: {report}",
        b.name()
    );
    let out = km(vec![
        "apply".into(),
        plan.clone(),
        "--bootstrap-server".into(),
        b.bootstrap(),
        "--throttle".into(),
        "50MB/s".into(),
        "--output".into(),
        "json".into(),
    ])
    .await;
    ok(b, "apply", &out);
    disks_as_planned(b, &mut a, &topic, &plan, &report).await;
    let out = km(vec![
        "verify".into(),
        plan,
        "--bootstrap-server".into(),
        b.bootstrap(),
    ])
    .await;
    ok(b, "verify", &out);
}

/// A plan of disk moves only (the topic is already spread evenly over the
/// brokers, every replica in its broker's first dir), run by Kafka's
/// `kafka-reassign-partitions --execute` until its `--verify` says done.
pub fn balance_disks_with_kafkas_tool(b: &dyn Backend) {
    super::block_on(async {
        let ids = b.brokers();
        let mut a = admin(b).await;
        super::ops::fresh(b, &mut a).await;
        let topic = unique("km-balance-disks-kafka");
        let n = ids.len();
        let layout: Vec<Vec<BrokerId>> = (0..2 * n)
            .map(|p| vec![ids[p % n], ids[(p + 1) % n]])
            .collect();
        let sizes: Vec<usize> = (0..2 * n).map(|p| 100_000 * (1 + p % 4)).collect();
        staged(b, &mut a, &topic, &layout, &sizes).await;
        let tmp = tempfile::TempDir::new().unwrap();
        let (plan, report) = plan(b, tmp.path(), &topic, &["--no-leader-balance"]).await;
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&plan).unwrap()).unwrap();
        for m in doc["partitions"].as_array().unwrap() {
            let p = m["partition"].as_i64().unwrap() as usize;
            let replicas: Vec<BrokerId> = m["replicas"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_i64().unwrap() as BrokerId)
                .collect();
            assert_eq!(replicas, layout[p], "{}: disk moves only: {doc}", b.name());
        }
        assert!(!named(&plan).is_empty(), "{}: {report}", b.name());
        let bs = b.bootstrap();
        let p = plan.clone();
        tokio::task::spawn_blocking(move || {
            let out = super::tools::reassign(&bs, "--execute", &p, &[]);
            assert!(out.contains("Successfully started"), "{out}");
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
            loop {
                let out = super::tools::reassign(&bs, "--verify", &p, &[]);
                if !out.contains("still in progress") {
                    break;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "Kafka's --verify: {out}"
                );
                std::thread::sleep(std::time::Duration::from_millis(500));
            }
        })
        .await
        .unwrap();
        disks_as_planned(b, &mut a, &topic, &plan, &report).await;
    });
}
