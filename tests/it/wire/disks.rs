//! Moves between the log dirs of a broker, end to end through the binary:
//! `apply` honours a plan's `log_dirs` (AlterReplicaLogDirs) as Kafka's
//! `kafka-reassign-partitions.sh --execute` does, `--dry-run` lists the
//! disk moves, a dir the broker lacks is refused up front, and `verify`
//! says done only when every replica is in its dir. Each broker of both
//! backends has two log dirs.

use std::path::Path;

use kafka_migrate::model::TopicPartition;
use kafka_migrate::model::live::ClusterAdmin;

use super::{Backend, admin, eventually, kcat, kcat_produce, unique};

/// Runs the kafka-migrate binary off the async threads.
async fn cli(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || crate::support::bin().args(&args).output().unwrap())
        .await
        .unwrap()
}

fn plan_json(topic: &str, replicas: &[i32], dirs: &[&str]) -> String {
    serde_json::json!({
        "version": 1,
        "partitions": [{
            "topic": topic,
            "partition": 0,
            "replicas": replicas,
            "log_dirs": dirs,
        }]
    })
    .to_string()
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

fn live_args(cmd: &str, plan: &Path, bootstrap: &str) -> Vec<String> {
    vec![
        cmd.into(),
        plan.display().to_string(),
        "--bootstrap-server".into(),
        bootstrap.into(),
    ]
}

/// One replica already on its broker moves to the broker's other disk
/// under the log-dirs throttle, and a new replica is created in the dir
/// the plan names; the records read back intact.
pub async fn apply_moves_replicas_between_disks(b: &dyn Backend) {
    let ids = b.brokers();
    let topic = unique("km-disks");
    let mut a = admin(b).await;
    a.create_topic(&topic, &[vec![ids[0], ids[1]]], &[])
        .await
        .unwrap();
    let t0 = TopicPartition {
        topic: topic.clone(),
        partition: 0,
    };
    eventually!("a leader for the new topic", 30, {
        let md = a.metadata().await.unwrap();
        md.topics
            .iter()
            .filter(|t| t.name.as_ref().map(|n| n.0.as_str()) == Some(topic.as_str()))
            .flat_map(|t| t.partitions.iter())
            .find(|p| p.leader_id.0 >= 0)
            .map(|_| ())
    });
    let payload: String = (0..3000)
        .map(|i| format!("disk-{i:05}-{}\n", "z".repeat(150)))
        .collect();
    kcat_produce(&b.bootstrap(), &topic, payload.as_bytes());

    let dirs = a.describe_log_dirs(&ids).await.unwrap();
    let on_first = &dirs[&ids[0]];
    assert_eq!(on_first.dirs.len(), 2, "{}: {on_first:?}", b.name());
    let current = on_first.replicas[&t0].dir.clone();
    let other = on_first
        .dirs
        .iter()
        .find(|d| **d != current)
        .unwrap()
        .clone();
    // The new replica goes to broker 3's second dir (the mini-broker would
    // pick its first for partition 0).
    let new_dir = dirs[&ids[2]].dirs[1].clone();
    assert!(!dirs[&ids[2]].replicas.contains_key(&t0));

    let tmp = tempfile::TempDir::new().unwrap();
    // A dir the broker does not have: refused before anything is sent.
    let bad = tmp.path().join("bad.json");
    std::fs::write(
        &bad,
        plan_json(&topic, &[ids[0], ids[2]], &["/no/such/dir", &new_dir]),
    )
    .unwrap();
    let out = cli(live_args("apply", &bad, &b.bootstrap())).await;
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}: {}",
        b.name(),
        text(&out.stderr)
    );
    let expected = format!("{topic}-0: broker {} has no log dir /no/such/dir", ids[0]);
    assert!(
        text(&out.stderr).contains(&expected),
        "{}: {}",
        b.name(),
        text(&out.stderr)
    );
    assert_eq!(a.list_reassignments().await.unwrap(), Vec::new());

    // A disk move nobody started is not "in progress": verify says the
    // replica is not being moved and exits 3, as for replicas at other
    // brokers, so a script polling for exit 0 or 1 does not wait forever.
    let unstarted = tmp.path().join("unstarted.json");
    std::fs::write(
        &unstarted,
        plan_json(&topic, &[ids[0], ids[1]], &[&other, "any"]),
    )
    .unwrap();
    let out = cli(live_args("verify", &unstarted, &b.bootstrap())).await;
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}: {}",
        b.name(),
        text(&out.stderr)
    );
    let expected = format!("broker {} in {current}, not being moved to {other}", ids[0]);
    assert!(
        text(&out.stdout).contains(&expected),
        "{}: {}",
        b.name(),
        text(&out.stdout)
    );

    let plan = tmp.path().join("disks.json");
    std::fs::write(
        &plan,
        plan_json(&topic, &[ids[0], ids[2]], &[&other, &new_dir]),
    )
    .unwrap();
    // The dry run lists both: one to move between disks, one to create.
    let mut args = live_args("apply", &plan, &b.bootstrap());
    args.extend(["--dry-run".into(), "--output".into(), "json".into()]);
    let out = cli(args).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}: {}",
        b.name(),
        text(&out.stderr)
    );
    let dry: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let listed: Vec<(i64, String, String)> = dry["log_dir_moves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["broker"].as_i64().unwrap(),
                m["log_dir"].as_str().unwrap().to_string(),
                m["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        vec![
            (ids[0] as i64, other.clone(), "elsewhere".to_string()),
            (ids[2] as i64, new_dir.clone(), "absent".to_string()),
        ],
        "{}: {dry}",
        b.name()
    );

    let mut args = live_args("apply", &plan, &b.bootstrap());
    args.extend(
        [
            "--throttle",
            "20MB/s",
            "--replica-alter-log-dirs-throttle",
            "1MB/s",
            "--output",
            "json",
        ]
        .map(String::from),
    );
    let out = cli(args).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}: {}",
        b.name(),
        text(&out.stderr)
    );
    let events: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let accepted: Vec<i64> = events
        .iter()
        .filter(|e| e["event"] == "submitted")
        .flat_map(|e| e["log_dirs"].as_array().cloned().unwrap_or_default())
        .map(|d| d["broker"].as_i64().unwrap())
        .collect();
    assert_eq!(accepted.len(), 2, "{}: {events:?}", b.name());
    let first = ids[0].to_string();
    let rate_set = events.iter().any(|e| {
        e["event"] == "throttle_changed"
            && e["ops"].as_array().unwrap().iter().any(|o| {
                o["key"] == "replica.alter.log.dirs.io.max.bytes.per.second"
                    && o["resource"] == first.as_str()
                    && o["value"] == "1000000"
            })
    });
    assert!(rate_set, "{}: {events:?}", b.name());
    let report = events.last().unwrap();
    assert_eq!(report["outcome"], "completed", "{}: {report}", b.name());

    let dirs = a.describe_log_dirs(&[ids[0], ids[2]]).await.unwrap();
    let moved = &dirs[&ids[0]].replicas[&t0];
    assert_eq!((&moved.dir, &moved.future), (&other, &None), "{}", b.name());
    let created = &dirs[&ids[2]].replicas[&t0];
    assert_eq!(
        (&created.dir, &created.future),
        (&new_dir, &None),
        "{}",
        b.name()
    );
    assert!(moved.size > 400_000, "{}: {moved:?}", b.name());

    let out = cli(live_args("verify", &plan, &b.bootstrap())).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}: {}{}",
        b.name(),
        text(&out.stdout),
        text(&out.stderr)
    );
    let records = kcat(
        &[
            "-C",
            "-b",
            &b.bootstrap(),
            "-t",
            &topic,
            "-p",
            "0",
            "-o",
            "beginning",
            "-e",
            "-q",
        ],
        None,
    );
    assert_eq!(records, payload, "{}", b.name());
}
