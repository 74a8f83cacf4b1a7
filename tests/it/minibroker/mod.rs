//! End-to-end tests of the embedded mini-broker over real sockets on
//! 127.0.0.1:0: librdkafka (rdkafka) and kcat as reference clients, and a
//! the wire client (`kafka::Connection`) for the admin APIs librdkafka lacks; `process`
//! runs the `mini-broker` command itself.

mod admin;
mod autocreate;
mod bad_requests;
mod configs;
mod crash;
mod crash_stores;
mod crash_sync;
mod failover;
mod groups;
mod process;
mod quorum;
mod reassign;

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_migrate::kafka::{Admin, Connection};
use kafka_migrate::minibroker::{Cluster, ClusterConfig, ClusterHandle, TopicSpec};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

pub fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

pub fn tn(s: &str) -> TopicName {
    TopicName(sb(s))
}

/// A cluster of `brokers` on ephemeral loopback ports with the given
/// `name:partitions:rf` topics and a short replica lag limit.
pub async fn start(brokers: usize, racks: usize, topics: &[&str]) -> ClusterHandle {
    Cluster::start(ClusterConfig {
        brokers,
        racks,
        topics: topics
            .iter()
            .map(|t| t.parse::<TopicSpec>().unwrap())
            .collect(),
        replica_lag_max: Duration::from_millis(1500),
        ..ClusterConfig::default()
    })
    .await
    .expect("cluster starts")
}

/// The wire client's connection to one broker; requests at explicit
/// versions (`send_version`), as these tests pin them.
pub async fn client(c: &ClusterHandle, broker: i32) -> Connection {
    Connection::connect(
        &c.broker_addr(broker).unwrap().to_string(),
        Duration::from_secs(30),
    )
    .await
    .unwrap()
}

/// Creates a topic with an explicit assignment over the wire, through
/// broker 1.
pub async fn create_topic(c: &ClusterHandle, name: &str, assignment: &[&[i32]]) {
    let addr = c.broker_addr(1).unwrap().to_string();
    // The admin timeout is also the CreateTopics timeout_ms the broker gets.
    let mut admin = Admin::connect(&addr, Duration::from_secs(5)).await.unwrap();
    let assignment: Vec<Vec<i32>> = assignment.iter().map(|r| r.to_vec()).collect();
    admin
        .create_topic(name, &assignment, &[])
        .await
        .unwrap_or_else(|e| panic!("creating {name}: {e}"));
}

/// One record batch of `count` records `key-<first+i>` with `value_len`-byte values.
pub fn batch(first: usize, count: usize, value_len: usize) -> Bytes {
    let records: Vec<Record> = (first..first + count)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: (i - first) as i64,
            sequence: (i - first) as i32,
            timestamp: 1_700_000_000_000 + i as i64,
            key: Some(Bytes::from(format!("key-{i}"))),
            value: Some(Bytes::from(value_of(i, value_len))),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .unwrap();
    buf.freeze()
}

pub fn value_of(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| ((i * 31 + j * 7) % 251) as u8).collect()
}

/// Produces one batch with the given acks; returns (error code, base offset).
pub async fn produce(
    client: &mut Connection,
    topic: &str,
    partition: i32,
    records: Bytes,
    acks: i16,
) -> (i16, i64) {
    let req = ProduceRequest::default()
        .with_acks(acks)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(tn(topic))
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(partition)
                        .with_records(Some(records)),
                ]),
        ]);
    let resp = client.send_version(&req, 9).await.unwrap();
    let p = &resp.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

pub async fn metadata(c: &ClusterHandle, via: i32) -> MetadataResponse {
    client(c, via)
        .await
        .send_version(&MetadataRequest::default().with_topics(None), 12)
        .await
        .unwrap()
}

/// (leader, replicas, isr) of a partition per Metadata.
pub async fn placement(
    c: &ClusterHandle,
    topic: &str,
    partition: i32,
) -> (i32, Vec<i32>, Vec<i32>) {
    let via = c.inspect(|s| s.alive_brokers()[0]);
    let m = metadata(c, via).await;
    let t = m
        .topics
        .iter()
        .find(|t| t.name.as_ref().unwrap().0.as_str() == topic)
        .expect("topic in metadata");
    let p = &t.partitions[partition as usize];
    (
        p.leader_id.0,
        p.replica_nodes.iter().map(|b| b.0).collect(),
        p.isr_nodes.iter().map(|b| b.0).collect(),
    )
}

pub async fn latest_offset(c: &ClusterHandle, topic: &str, partition: i32) -> i64 {
    let (leader, ..) = placement(c, topic, partition).await;
    let req = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![
            ListOffsetsTopic::default()
                .with_name(tn(topic))
                .with_partitions(vec![
                    ListOffsetsPartition::default()
                        .with_partition_index(partition)
                        .with_timestamp(-1),
                ]),
        ]);
    let resp = client(c, leader).await.send_version(&req, 7).await.unwrap();
    let p = &resp.topics[0].partitions[0];
    assert_eq!(p.error_code, 0);
    p.offset
}

/// Every record (offset, key, value) of a partition, fetched from its leader.
pub async fn fetch_all(c: &ClusterHandle, topic: &str, partition: i32) -> Vec<(i64, Bytes, Bytes)> {
    let (leader, ..) = placement(c, topic, partition).await;
    let mut cl = client(c, leader).await;
    let mut out = Vec::new();
    let mut offset = 0i64;
    loop {
        let req = FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(0)
            .with_min_bytes(0)
            .with_max_bytes(1 << 20)
            .with_session_epoch(-1)
            .with_topics(vec![
                FetchTopic::default()
                    .with_topic(tn(topic))
                    .with_partitions(vec![
                        FetchPartition::default()
                            .with_partition(partition)
                            .with_fetch_offset(offset)
                            .with_partition_max_bytes(1 << 20),
                    ]),
            ]);
        let resp = cl.send_version(&req, 11).await.unwrap();
        let p = &resp.responses[0].partitions[0];
        assert_eq!(p.error_code, 0);
        let mut records = p.records.clone().unwrap_or_default();
        if records.is_empty() {
            return out;
        }
        for set in RecordBatchDecoder::decode_all(&mut records).unwrap() {
            for r in set.records {
                offset = r.offset + 1;
                out.push((
                    r.offset,
                    r.key.unwrap_or_default(),
                    r.value.unwrap_or_default(),
                ));
            }
        }
    }
}

/// Per log dir of one broker: partition name -> (size, is_future).
pub async fn log_dirs(
    c: &ClusterHandle,
    broker: i32,
) -> BTreeMap<String, Vec<(String, i64, bool)>> {
    let resp = client(c, broker)
        .await
        .send_version(&DescribeLogDirsRequest::default().with_topics(None), 4)
        .await
        .unwrap();
    resp.results
        .iter()
        .map(|d| {
            let parts = d
                .topics
                .iter()
                .flat_map(|t| {
                    t.partitions.iter().map(|p| {
                        (
                            format!("{}-{}", t.name.0.as_str(), p.partition_index),
                            p.partition_size,
                            p.is_future_key,
                        )
                    })
                })
                .collect();
            (d.log_dir.to_string(), parts)
        })
        .collect()
}

/// Size of `topic-partition` held by `broker`, if it holds it.
pub async fn replica_size(c: &ClusterHandle, broker: i32, tp: &str) -> Option<i64> {
    log_dirs(c, broker)
        .await
        .values()
        .flatten()
        .find(|(n, _, fut)| n == tp && !fut)
        .map(|(_, s, _)| *s)
}

/// Polls `f` every 20 ms until it returns true or `timeout` passes.
pub async fn eventually<F, Fut>(timeout: Duration, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if f().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
