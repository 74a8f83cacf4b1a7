//! DescribeQuorum's high watermark is the metadata offset: it grows with
//! metadata changes (an ISR, a leader), not with the data replicated.

use std::time::Duration;

use kafka_migrate::minibroker::ClusterHandle;
use kafka_protocol::messages::DescribeQuorumRequest;
use kafka_protocol::messages::describe_quorum_request::{PartitionData, TopicData};

use super::{batch, client, produce, start, tn};

async fn quorum_high_watermark(c: &ClusterHandle) -> i64 {
    let mut cl = client(c, 1).await;
    let req = DescribeQuorumRequest::default().with_topics(vec![
        TopicData::default()
            .with_topic_name(tn("__cluster_metadata"))
            .with_partitions(vec![PartitionData::default().with_partition_index(0)]),
    ]);
    // regression: v0 and v1 answers set v1 and v2 fields, could not be
    // encoded, and the connection closed.
    let mut seen = Vec::new();
    for v in 0..=2 {
        let resp = cl.send_version(&req, v).await.unwrap();
        seen.push(resp.topics[0].partitions[0].high_watermark);
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");
    seen[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metadata_offset_does_not_grow_with_replicated_data() {
    let c = start(3, 0, &["q:1:3"]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = quorum_high_watermark(&c).await;
    let leader = c.inspect(|s| s.partition("q", 0).unwrap().leader);
    let mut cl = client(&c, leader).await;
    for i in 0..30 {
        // acks=all: every follower copied it.
        assert_eq!(
            produce(&mut cl, "q", 0, batch(i * 10, 10, 100), -1).await.0,
            0
        );
    }
    assert_eq!(
        quorum_high_watermark(&c).await,
        before,
        "data is no metadata"
    );
    c.stop_broker(if leader == 3 { 2 } else { 3 })
        .await
        .unwrap();
    assert!(
        quorum_high_watermark(&c).await > before,
        "a broker leaving the ISR is"
    );
    c.shutdown().await;
}
