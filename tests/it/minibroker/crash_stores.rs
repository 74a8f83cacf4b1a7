//! With a data dir, a log has its segment files from the moment the
//! controller makes it (a topic's replicas, a replica a move adds, the
//! future log of a disk move), not from the next replication step; and
//! segments roll at the topic's `segment.bytes`, else the broker's
//! `log.segment.bytes`.

use std::collections::BTreeMap;
use std::time::Instant;

use super::{batch, client, produce};
use kafka_migrate::minibroker::{Cluster, ClusterConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_have_their_files_where_they_are_made_and_roll_at_the_broker_default() {
    let dir = tempfile::tempdir().unwrap();
    let c = Cluster::start(ClusterConfig {
        brokers: 3,
        log_dirs_per_broker: 2,
        data_dir: Some(dir.path().to_path_buf()),
        log_segment_bytes: 4096,
        topics: vec!["f:1:1".parse().unwrap()],
        ..ClusterConfig::default()
    })
    .await
    .unwrap();
    // In one critical section: no replication step runs in between.
    c.mutate(|s| {
        let now = Instant::now();
        s.create_topic("g", vec![vec![1, 2]], BTreeMap::new(), now)
            .unwrap();
        let g = s.partition("g", 0).unwrap();
        assert!(
            g.logs.values().all(|r| r.log.store().is_some()),
            "a new topic's replicas"
        );
        let leader = s.partition("f", 0).unwrap().leader;
        let other = if leader == 3 { 2 } else { 3 };
        s.reassign("f", 0, Some(vec![leader, other]), now).unwrap();
        let f = s.partition("f", 0).unwrap();
        assert!(
            f.logs[&other].log.store().is_some(),
            "a replica a move adds"
        );
        let to = s.brokers[&leader]
            .log_dirs
            .iter()
            .find(|d| **d != f.logs[&leader].dir)
            .unwrap()
            .clone();
        s.alter_replica_log_dir(leader, "f", 0, &to).unwrap();
        let future = s.partition("f", 0).unwrap().logs[&leader].future.as_ref();
        assert!(
            future.unwrap().log.store().is_some(),
            "the future log of a disk move"
        );
    });
    let mut cl = client(&c, 1).await;
    for i in 0..20 {
        assert_eq!(
            produce(&mut cl, "g", 0, batch(i * 10, 10, 100), -1).await.0,
            0
        );
    }
    let g_dir = c.inspect(|s| s.partition("g", 0).unwrap().logs[&1].dir.clone());
    let segments: Vec<u64> = std::fs::read_dir(std::path::Path::new(&g_dir).join("g-0"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
        .map(|e| e.metadata().unwrap().len())
        .collect();
    assert!(segments.len() >= 5, "{segments:?}");
    assert!(segments.iter().all(|n| *n <= 4096), "{segments:?}");
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_ids_are_never_handed_out_twice_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let config = || ClusterConfig {
        brokers: 1,
        data_dir: Some(dir.path().to_path_buf()),
        ..ClusterConfig::default()
    };
    let c = Cluster::start(config()).await.unwrap();
    let now = Instant::now();
    let (a, gone) = c.mutate(|s| {
        let a = s.create_topic("a", vec![vec![1]], BTreeMap::new(), now);
        let gone = s.create_topic("gone", vec![vec![1]], BTreeMap::new(), now);
        s.delete_topic("gone").unwrap();
        (a.unwrap(), gone.unwrap())
    });
    c.shutdown_and_persist().await.unwrap();
    let c = Cluster::start(config()).await.unwrap();
    assert_eq!(c.inspect(|s| s.topics["a"].id), a);
    let b = c
        .mutate(|s| s.create_topic("b", vec![vec![1]], BTreeMap::new(), Instant::now()))
        .unwrap();
    assert!(b != a && b != gone, "{b} reuses an id");
    c.shutdown().await;
}

/// The replicas of `topic`-0 in `cluster.json` as it is on disk now.
fn saved_replicas(dir: &std::path::Path, topic: &str) -> Vec<i32> {
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("cluster.json")).unwrap()).unwrap();
    let t = meta["topics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == topic)
        .unwrap();
    serde_json::from_value(t["partitions"][0]["replicas"].clone()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_move_is_on_disk_before_it_shows_and_the_dropped_replica_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let c = Cluster::start(ClusterConfig {
        brokers: 3,
        data_dir: Some(dir.path().to_path_buf()),
        topics: vec!["m:1:1".parse().unwrap(), "d:1:3".parse().unwrap()],
        ..ClusterConfig::default()
    })
    .await
    .unwrap();
    let from = c.inspect(|s| s.partition("m", 0).unwrap().leader);
    let to = if from == 3 { 2 } else { 3 };
    let mut cl = client(&c, from).await;
    for i in 0..20 {
        assert_eq!(
            produce(&mut cl, "m", 0, batch(i * 10, 10, 100), -1).await.0,
            0
        );
    }
    let log_dir = dir.path().join(format!("broker-{from}/dir-0"));
    // What is not a replica's dir is never touched.
    std::fs::write(log_dir.join("notes.txt"), "mine").unwrap();
    std::fs::create_dir(log_dir.join("m-0.backup")).unwrap();
    assert!(log_dir.join("m-0").is_dir());
    c.mutate(|s| s.reassign("m", 0, Some(vec![to]), Instant::now()))
        .unwrap();
    let deadline = Instant::now() + std::time::Duration::from_secs(15);
    loop {
        // Seen done: then it is on disk already (a crash now restarts
        // with the new replica set).
        if c.inspect(|s| !s.partition("m", 0).unwrap().reassigning()) {
            assert_eq!(saved_replicas(dir.path(), "m"), vec![to]);
            break;
        }
        assert!(Instant::now() < deadline, "the move never finished");
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    super::eventually(
        std::time::Duration::from_secs(5),
        "the dropped replica's dir is removed",
        || async { !log_dir.join("m-0").exists() },
    )
    .await;
    // A deleted topic's replicas go too.
    c.mutate(|s| s.delete_topic("d")).unwrap();
    for b in 1..=3 {
        let d = dir.path().join(format!("broker-{b}/dir-0/d-0"));
        super::eventually(
            std::time::Duration::from_secs(5),
            "a deleted topic's dirs are removed",
            || async { !d.exists() },
        )
        .await;
    }
    let left: Vec<String> = std::fs::read_dir(&log_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with("checkpoint"))
        .collect();
    let mut left = left;
    left.sort();
    assert_eq!(left, vec!["m-0.backup", "notes.txt"]);
    assert!(
        dir.path().join(format!("broker-{to}/dir-0/m-0")).is_dir(),
        "the new replica's dir stays"
    );
    c.shutdown_and_persist().await.unwrap();
    let c = Cluster::start(ClusterConfig {
        brokers: 3,
        data_dir: Some(dir.path().to_path_buf()),
        ..ClusterConfig::default()
    })
    .await
    .unwrap();
    assert_eq!(super::fetch_all(&c, "m", 0).await.len(), 200);
    c.shutdown().await;
}
