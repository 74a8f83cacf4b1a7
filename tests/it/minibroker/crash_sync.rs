//! What `--flush` promises: under `every-batch` no batch is acknowledged
//! before it is synced, on the leader (acks=1) and on every replica the
//! high watermark counts (acks=all); the syncs run outside the cluster's
//! lock.

use std::time::Duration;

use super::{batch, client, produce};
use kafka_migrate::minibroker::segment::FlushPolicy;
use kafka_migrate::minibroker::{Cluster, ClusterConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_every_batch_an_acknowledged_batch_is_synced_where_it_counts() {
    let dir = tempfile::tempdir().unwrap();
    let c = Cluster::start(ClusterConfig {
        brokers: 3,
        data_dir: Some(dir.path().to_path_buf()),
        flush: FlushPolicy::EveryBatch,
        topics: vec!["s:1:3".parse().unwrap()],
        replica_lag_max: Duration::from_secs(10),
        ..ClusterConfig::default()
    })
    .await
    .unwrap();
    let leader = c.inspect(|s| s.partition("s", 0).unwrap().leader);
    let mut cl = client(&c, leader).await;
    for i in 0..20 {
        let acks = if i % 2 == 0 { 1 } else { -1 };
        let (code, base) = produce(&mut cl, "s", 0, batch(i * 10, 10, 100), acks).await;
        assert_eq!(code, 0, "batch {i}");
        let end = base + 10;
        c.inspect(|s| {
            let p = s.partition("s", 0).unwrap();
            let synced = |b: i32| p.logs[&b].log.synced_end();
            assert!(
                synced(leader) >= end,
                "acks={acks}: leader synced to {}",
                synced(leader)
            );
            if acks == -1 {
                assert!(p.hw >= end);
                for b in &p.isr {
                    assert!(synced(*b) >= end, "acks=all: {b} synced to {}", synced(*b));
                }
            }
        });
    }
    c.shutdown().await;
}
