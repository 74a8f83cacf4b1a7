//! Crash safety of `--data-dir`: the whole process killed with SIGKILL
//! while rdkafka produces with acks=all keeps every acknowledged message;
//! a broker dropped with `kill N` recovers its logs from its files (a torn
//! tail cut) and rejoins the ISR; a group commit acknowledged before the
//! kill is read back after the restart.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};

use super::process::MiniProcess;
use super::{batch, client, eventually, fetch_all, produce};
use crate::wire::kcat;
use kafka_migrate::minibroker::segment::FlushPolicy;
use kafka_migrate::minibroker::{Cluster, ClusterConfig};

/// Every value of `topic`, read from the beginning to the end with kcat.
fn consume_all(bootstrap: &str, topic: &str) -> Vec<String> {
    kcat(
        &[
            "-C",
            "-b",
            bootstrap,
            "-t",
            topic,
            "-o",
            "beginning",
            "-e",
            "-q",
            "-f",
            "%s\n",
        ],
        None,
    )
    .lines()
    .map(str::to_string)
    .collect()
}

#[test]
fn sigkill_mid_production_keeps_every_acknowledged_message() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();
    let mut p = MiniProcess::spawn(&[
        "--data-dir",
        data_arg,
        "--topic",
        "crash:3:3",
        "--flush",
        "interval=200",
    ]);
    let (bootstrap, _) = p.start_output(3);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    const ROUNDS: usize = 8;
    const KILLED_IN: usize = 5;
    const PER_ROUND: usize = 400;
    let acked: Vec<String> = rt.block_on(async {
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("acks", "all")
            .set("linger.ms", "2")
            // No retries: a value read twice can then only be the broker's doing.
            .set("message.send.max.retries", "0")
            .set("message.timeout.ms", "3000")
            .set("broker.address.family", "v4")
            .create()
            .unwrap();
        let mut acked = Vec::new();
        for round in 0..ROUNDS {
            let mut sent = Vec::new();
            for j in 0..PER_ROUND {
                let v = format!("m-{round}-{j}");
                let f = producer
                    .send_result(FutureRecord::to("crash").key(&v).payload(&v))
                    .map_err(|(e, _)| e)
                    .unwrap();
                sent.push((v, f));
            }
            if round == KILLED_IN {
                // While this round's requests are on the wire.
                tokio::time::sleep(Duration::from_millis(3)).await;
                p.signal(libc::SIGKILL);
            }
            for (v, f) in sent {
                if let Ok(Ok(_)) = f.await {
                    acked.push(v);
                }
            }
        }
        acked
    });
    assert!(
        acked.len() >= KILLED_IN * PER_ROUND && acked.len() < ROUNDS * PER_ROUND,
        "{} acknowledged: every round before the kill, none after",
        acked.len()
    );
    let status = p.exit_status(Duration::from_secs(10));
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL)
    );
    drop(p);

    let mut p = MiniProcess::spawn(&["--data-dir", data_arg]);
    let (bootstrap, _) = p.start_output(3);
    let read = consume_all(&bootstrap, "crash");
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for v in &read {
        *seen.entry(v.as_str()).or_default() += 1;
    }
    let missing: Vec<&String> = acked
        .iter()
        .filter(|v| !seen.contains_key(v.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged messages lost, e.g. {:?}",
        missing.len(),
        acked.len(),
        &missing[..missing.len().min(5)]
    );
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "read more than once: {twice:?}");
    p.signal(libc::SIGTERM);
    assert_eq!(p.exit_status(Duration::from_secs(10)).code(), Some(0));
}

/// The `isrs: ...` of partition 0 of `topic` as kcat's metadata shows it.
fn isr_of(bootstrap: &str, topic: &str) -> Vec<i32> {
    let meta = kcat(&["-L", "-b", bootstrap, "-t", topic], None);
    let line = meta
        .lines()
        .find(|l| l.contains("partition 0,"))
        .unwrap_or_else(|| panic!("no partition 0 in {meta}"));
    let mut isr: Vec<i32> = line
        .split("isrs: ")
        .nth(1)
        .unwrap_or_else(|| panic!("no isrs in {line}"))
        .trim()
        .split(',')
        .map(|b| b.trim().parse().unwrap())
        .collect();
    isr.sort_unstable();
    isr
}

#[test]
fn kill_n_then_start_n_rejoins_the_isr_with_every_message() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut p = MiniProcess::spawn(&[
        "--data-dir",
        data.to_str().unwrap(),
        "--topic",
        "k:1:3",
        "--flush",
        "every-batch",
        "--replica-lag-max-ms",
        "1000",
    ]);
    let (bootstrap, _) = p.start_output(3);
    let produce_range = |from: usize, to: usize| {
        let lines: String = (from..to).map(|i| format!("v-{i}\n")).collect();
        kcat(
            &[
                "-P", "-b", &bootstrap, "-t", "k", "-p", "0", "-X", "acks=all",
            ],
            Some(lines.as_bytes()),
        );
    };
    produce_range(0, 300);
    p.send("kill 2");
    p.err_line("broker 2 killed");
    produce_range(300, 600);
    assert_eq!(isr_of(&bootstrap, "k"), vec![1, 3], "2 left the ISR");
    p.send("start 2");
    p.err_line("broker 2 started");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while isr_of(&bootstrap, "k") != vec![1, 2, 3] {
        assert!(std::time::Instant::now() < deadline, "2 never rejoined");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Broker 2 now leads: what it serves is what it recovered and copied.
    p.send("stop 1");
    p.err_line("broker 1 stopped");
    p.send("stop 3");
    p.err_line("broker 3 stopped");
    let read = consume_all(&bootstrap, "k");
    let expected: Vec<String> = (0..600).map(|i| format!("v-{i}")).collect();
    assert_eq!(read, expected);
    p.signal(libc::SIGTERM);
    assert_eq!(p.exit_status(Duration::from_secs(10)).code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_broker_recovers_its_log_from_its_files_cutting_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let c = Cluster::start(ClusterConfig {
        brokers: 3,
        data_dir: Some(dir.path().to_path_buf()),
        flush: FlushPolicy::Interval(Duration::from_millis(50)),
        topics: vec!["t:1:3".parse().unwrap()],
        ..ClusterConfig::default()
    })
    .await
    .unwrap();
    let leader = c.inspect(|s| s.partition("t", 0).unwrap().leader);
    let mut cl = client(&c, leader).await;
    for i in 0..50 {
        assert_eq!(
            produce(&mut cl, "t", 0, batch(i * 10, 10, 100), -1).await.0,
            0
        );
    }
    let before = fetch_all(&c, "t", 0).await;
    assert_eq!(before.len(), 500);
    // The checkpoints of the flush period after the last write.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let f = if leader == 1 { 2 } else { 1 };
    let leo = |f: i32| c.inspect(|s| s.partition("t", 0).unwrap().logs[&f].log.leo());
    c.kill_broker(f).await.unwrap();
    assert_eq!(leo(f), 0, "killed: nothing left in memory");
    // Half a batch at the end of its segment, as a write cut short.
    let segment = dir
        .path()
        .join(format!("broker-{f}/dir-0/t-0/00000000000000000000.log"));
    let whole = std::fs::metadata(&segment).unwrap().len();
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&segment)
        .unwrap();
    file.write_all(&batch(9_999, 5, 100)[..70]).unwrap();
    drop(file);
    // Held from copying, so what it has is what it read back.
    c.pause_replication(f, true).unwrap();
    c.start_broker(f).await.unwrap();
    assert_eq!(leo(f), 500, "recovered from its files");
    assert_eq!(std::fs::metadata(&segment).unwrap().len(), whole);
    c.pause_replication(f, false).unwrap();
    eventually(Duration::from_secs(15), "the ISR takes it back", || async {
        c.inspect(|s| s.partition("t", 0).unwrap().isr.contains(&f))
    })
    .await;
    // It serves the same data once it leads.
    c.stop_broker(leader).await.unwrap();
    let other = 6 - leader - f;
    c.stop_broker(other).await.unwrap();
    assert_eq!(c.inspect(|s| s.partition("t", 0).unwrap().leader), f);
    assert_eq!(fetch_all(&c, "t", 0).await, before);
    c.shutdown().await;
}

/// A data dir as version 1 saved it at exit: `cluster.json` version 1 and
/// one segment per replica.
fn write_v1(dir: &std::path::Path, version: u32) {
    let log_dir = dir.join("broker-1/dir-0");
    std::fs::create_dir_all(log_dir.join("old-0")).unwrap();
    std::fs::write(
        log_dir.join("old-0/00000000000000000000.log"),
        batch(0, 10, 50),
    )
    .unwrap();
    let meta = serde_json::json!({
        "version": version,
        "cluster_id": "v1-cluster",
        "brokers": [{"id": 1, "configs": {}}],
        "topics": [{
            "name": "old",
            "id": "6b61666b-615f-6d62-0000-000000000002",
            "configs": {"retention.ms": "5000"},
            "partitions": [{
                "replicas": [1], "isr": [1], "leader": 1, "leader_epoch": 4,
                "adding": [], "removing": [], "hw": 10,
                "dirs": {"1": log_dir.to_str().unwrap()}
            }]
        }]
    });
    std::fs::write(dir.join("cluster.json"), meta.to_string()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_data_dir_is_read_and_rewritten_and_a_later_one_refused() {
    let dir = tempfile::tempdir().unwrap();
    write_v1(dir.path(), 1);
    let config = || ClusterConfig {
        brokers: 1,
        data_dir: Some(dir.path().to_path_buf()),
        ..ClusterConfig::default()
    };
    let c = Cluster::start(config()).await.unwrap();
    let got = fetch_all(&c, "old", 0).await;
    assert_eq!(got.len(), 10);
    assert_eq!(got[9].0, 9);
    c.shutdown_and_persist().await.unwrap();
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("cluster.json")).unwrap()).unwrap();
    assert_eq!(meta["version"], 2);
    assert!(
        dir.path()
            .join("broker-1/dir-0/old-0/00000000000000000000.index")
            .is_file()
    );
    let c = Cluster::start(config()).await.unwrap();
    assert_eq!(fetch_all(&c, "old", 0).await, got);
    c.shutdown().await;

    let later = tempfile::tempdir().unwrap();
    write_v1(later.path(), 3);
    let e = Cluster::start(ClusterConfig {
        data_dir: Some(later.path().to_path_buf()),
        ..config()
    })
    .await
    .err()
    .expect("a later format is refused");
    let msg = format!("{e:#}");
    assert!(e.is_input(), "{msg}");
    assert!(msg.contains("unsupported version 3"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segments_roll_at_the_topics_segment_bytes_on_every_replica_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let config = || ClusterConfig {
        brokers: 2,
        data_dir: Some(dir.path().to_path_buf()),
        topics: vec!["seg:1:2".parse().unwrap()],
        ..ClusterConfig::default()
    };
    let c = Cluster::start(config()).await.unwrap();
    let mb = 1 << 20;
    assert_eq!(
        super::reassign::set_configs(&c, 1, 2, "seg", &[("segment.bytes", Some("1048576"))]).await,
        0
    );
    let leader = c.inspect(|s| s.partition("seg", 0).unwrap().leader);
    let mut cl = client(&c, leader).await;
    for i in 0..35 {
        assert_eq!(
            produce(&mut cl, "seg", 0, batch(i * 100, 100, 1000), -1)
                .await
                .0,
            0
        );
    }
    let before = fetch_all(&c, "seg", 0).await;
    for b in 1..=2 {
        let pdir = dir.path().join(format!("broker-{b}/dir-0/seg-0"));
        let mut logs: Vec<(String, u64)> = std::fs::read_dir(&pdir)
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    e.metadata().unwrap().len(),
                )
            })
            .collect();
        logs.sort();
        assert_eq!(logs.len(), 4, "broker {b}: {logs:?}");
        assert_eq!(logs[0].0, "00000000000000000000.log");
        assert!(logs.iter().all(|(_, n)| *n <= mb), "broker {b}: {logs:?}");
        assert!(logs[..3].iter().all(|(_, n)| *n > mb * 9 / 10), "{logs:?}");
        // Each named by the first offset it holds: 100 records a batch.
        for (name, _) in &logs {
            let base: i64 = name.trim_end_matches(".log").parse().unwrap();
            assert_eq!(base % 100, 0, "{name}");
        }
    }
    c.shutdown().await;
    let c = Cluster::start(config()).await.unwrap();
    assert_eq!(fetch_all(&c, "seg", 0).await, before);
    c.shutdown().await;
}

/// The offset `group` has committed for `topic`-0, as a new librdkafka
/// consumer of the group reads it from the coordinator.
fn committed_offset(bootstrap: &str, group: &str, topic: &str) -> rdkafka::Offset {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("broker.address.family", "v4")
        .create()
        .unwrap();
    let mut tpl = rdkafka::TopicPartitionList::new();
    tpl.add_partition(topic, 0);
    let got = consumer
        .committed_offsets(tpl, Duration::from_secs(20))
        .unwrap();
    got.find_partition(topic, 0).unwrap().offset()
}

#[test]
fn a_commit_acknowledged_before_a_sigkill_is_there_after_the_restart() {
    use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();
    let mut p = MiniProcess::spawn(&["--data-dir", data_arg, "--topic", "offsets:1:3"]);
    let (bootstrap, _) = p.start_output(3);
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", "survivors")
        .set("broker.address.family", "v4")
        .create()
        .unwrap();
    let mut tpl = rdkafka::TopicPartitionList::new();
    tpl.add_partition_offset("offsets", 0, rdkafka::Offset::Offset(42))
        .unwrap();
    // Synchronous: returns once the coordinator acknowledged the commit.
    consumer.commit(&tpl, CommitMode::Sync).unwrap();
    drop(consumer);
    // At once, well inside the persister's flush period.
    p.signal(libc::SIGKILL);
    p.exit_status(Duration::from_secs(10));
    drop(p);

    let mut p = MiniProcess::spawn(&["--data-dir", data_arg]);
    let (bootstrap, _) = p.start_output(3);
    assert_eq!(
        committed_offset(&bootstrap, "survivors", "offsets"),
        rdkafka::Offset::Offset(42)
    );
    p.signal(libc::SIGTERM);
    assert_eq!(p.exit_status(Duration::from_secs(10)).code(), Some(0));
}
