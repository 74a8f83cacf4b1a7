//! acks=all as the leader answers it, through raw Produce requests (the
//! kafka-protocol crate's codecs), so each batch's own error code shows
//! (librdkafka retries retriable ones and reports only the last):
//! `min.insync.replicas` before and after the append.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_migrate::kafka::Connection;
use kafka_protocol::messages::ProduceRequest;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use super::{Backend, admin, eventually, unique};

/// Kafka's REQUEST_TIMED_OUT and NOT_ENOUGH_REPLICAS.
const REQUEST_TIMED_OUT: i16 = 7;
const NOT_ENOUGH_REPLICAS: i16 = 19;

/// A Produce (acks=all, 30 s) of one batch of `n` records to `partition`,
/// keyed `s<seq>` for seq from `first`: an idempotent producer's batch
/// when `producer` is (id, epoch, its first sequence), else a plain one.
pub(super) fn batch_request(
    topic: &str,
    partition: i32,
    producer: Option<(i64, i16, i32)>,
    first: i32,
    n: usize,
) -> ProduceRequest {
    let (pid, epoch, seq) = producer.unwrap_or((-1, -1, -1));
    let records: Vec<Record> = (0..n)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: pid,
            producer_epoch: epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: if seq < 0 { -1 } else { seq + i as i32 },
            timestamp: 1_700_000_000_000,
            key: Some(Bytes::from(format!("s{}", first + i as i32))),
            value: Some(Bytes::from_static(b"v")),
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
    ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(30_000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(kafka_protocol::messages::TopicName(StrBytes::from_string(
                    topic.to_string(),
                )))
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(partition)
                        .with_records(Some(buf.freeze())),
                ]),
        ])
}

/// The Produce version both backends take by topic name (v13 names
/// topics by id).
pub(super) const PRODUCE_BY_NAME: i16 = 12;

/// Sends `req` to the broker at `addr` on a connection of its own and
/// waits for its answer (up to the request's own 30 s and a margin):
/// (error, base offset) of its one partition.
pub(super) async fn produce_at(addr: &str, req: &ProduceRequest) -> (i16, i64) {
    try_produce_at(addr, req).await.unwrap()
}

/// [`produce_at`], with a lost connection or a timeout as an error.
async fn try_produce_at(
    addr: &str,
    req: &ProduceRequest,
) -> Result<(i16, i64), kafka_migrate::kafka::KafkaError> {
    let mut conn = Connection::connect(addr, Duration::from_secs(40)).await?;
    let resp = conn.send_version(req, PRODUCE_BY_NAME).await?;
    let p = &resp.responses[0].partition_responses[0];
    Ok((p.error_code, p.base_offset))
}

/// ListOffsets (latest) of partition 0 at `addr`: the high watermark.
async fn high_watermark_at(addr: &str, topic: &str) -> i64 {
    use kafka_protocol::messages::ListOffsetsRequest;
    use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
    let req = ListOffsetsRequest::default()
        .with_replica_id(kafka_protocol::messages::BrokerId(-1))
        .with_topics(vec![
            ListOffsetsTopic::default()
                .with_name(kafka_protocol::messages::TopicName(StrBytes::from_string(
                    topic.to_string(),
                )))
                .with_partitions(vec![
                    ListOffsetsPartition::default()
                        .with_partition_index(0)
                        .with_timestamp(-1),
                ]),
        ]);
    let mut conn = Connection::connect(addr, Duration::from_secs(10))
        .await
        .unwrap();
    let resp = conn.send(&req).await.unwrap();
    let p = &resp.topics[0].partitions[0];
    assert_eq!(p.error_code, 0, "ListOffsets at {addr}");
    p.offset
}

/// min.insync.replicas=3 on RF 3: an ISR that shrinks below it after a
/// batch was appended, as Kafka 4.x answers it.
///
/// A follower hangs while in the ISR: the leader appends the next acks=all
/// batch (its ISR is still full) and holds it. Once the leader drops the
/// silent follower, its ISR is below min.insync.replicas, and such a
/// leader advances no high watermark (KIP-966): the held batch never
/// counts as replicated and is answered REQUEST_TIMED_OUT at its timeout,
/// and consumers do not see it. NOT_ENOUGH_REPLICAS_AFTER_APPEND is not
/// the answer here: Kafka 4.3.1 gives it only when the high watermark
/// passed the batch before the ISR shrank and before the leader looked
/// again, a race no scenario can stage (the mini-broker's unit test
/// `an_isr_below_min_insync_holds_the_high_watermark_and_fails_acks_all`
/// covers that branch). The next batch is refused before any append
/// (NOT_ENOUGH_REPLICAS). When the follower runs again and is back in the
/// ISR, the high watermark moves past the held batch and acks=all works.
pub async fn min_insync_replicas_after_append(b: &dyn Backend) {
    let ids = b.brokers();
    let topic = unique("km-after-append");
    let mut a = admin(b).await;
    a.create_topic(
        &topic,
        &[vec![ids[0], ids[1], ids[2]]],
        &[("min.insync.replicas", "3")],
    )
    .await
    .unwrap();
    let n = b.name();
    let isr = |md: &kafka_protocol::messages::MetadataResponse| {
        md.topics
            .iter()
            .find(|t| t.name.as_ref().map(|x| x.0.as_str()) == Some(topic.as_str()))
            .and_then(|t| t.partitions.first())
            .map(|p| {
                let mut v: Vec<i32> = p.isr_nodes.iter().map(|b| b.0).collect();
                v.sort_unstable();
                (p.leader_id.0, v)
            })
    };
    let full = vec![ids[0], ids[1], ids[2]];
    let leader = eventually!("a full ISR", 60, {
        let md = a.metadata().await.unwrap();
        isr(&md)
            .filter(|(l, v)| *l >= 0 && v == &full)
            .map(|(l, _)| l)
    });
    let follower = *full.iter().rev().find(|&&x| x != leader).unwrap();
    // The leader's address, known before the follower hangs: a hung real
    // broker answers no metadata request either.
    let addr = a.brokers[&leader].addr.clone();
    let t = topic.as_str();
    assert_eq!(
        produce_at(&addr, &batch_request(t, 0, None, 0, 1)).await,
        (0, 0),
        "{n}: a full ISR"
    );

    b.pause_broker(follower, true).await;
    // Time enough for the leader to drop the follower (replica.lag.time.max.ms,
    // 5 s on both backends, checked every 2.5 s on Kafka).
    let held_req = batch_request(t, 0, None, 1, 1).with_timeout_ms(15_000);
    let started = Instant::now();
    let held = try_produce_at(&addr, &held_req).await;
    let held_for = started.elapsed();
    let refused = try_produce_at(&addr, &batch_request(t, 0, None, 2, 1)).await;
    let hw_below = high_watermark_at(&addr, t).await;
    // Resumed before anything is checked: a paused broker would hang the
    // scenarios after this one.
    b.pause_broker(follower, false).await;
    let (held, refused) = (held.unwrap(), refused.unwrap());

    eventually!("the follower back in the ISR", 120, {
        let md = a.metadata().await.unwrap();
        isr(&md).filter(|(_, v)| v == &full)
    });
    let hw_back = eventually!("the high watermark past the held batch", 30, {
        let hw = high_watermark_at(&addr, t).await;
        (hw >= 2).then_some(hw)
    });
    let after = produce_at(&addr, &batch_request(t, 0, None, 3, 1)).await;
    assert_eq!(
        held.0, REQUEST_TIMED_OUT,
        "{n}: the held batch, answered after {held_for:?}: {held:?}"
    );
    assert!(
        held_for >= Duration::from_secs(14),
        "{n}: answered after {held_for:?}, before its timeout"
    );
    assert_eq!(refused.0, NOT_ENOUGH_REPLICAS, "{n}: {refused:?}");
    assert_eq!(
        hw_below, 1,
        "{n}: no high watermark below min.insync.replicas"
    );
    assert_eq!(hw_back, 2, "{n}");
    assert_eq!(after, (0, 2), "{n}: offset 1 is the held batch's");
    let lines = eventually!("every record readable", 30, {
        let out = super::kcat(
            &[
                "-C",
                "-b",
                &b.bootstrap(),
                "-t",
                t,
                "-p",
                "0",
                "-e",
                "-q",
                "-f",
                "%k\n",
            ],
            None,
        );
        let lines: Vec<String> = out.lines().map(String::from).collect();
        (lines.len() >= 3).then_some(lines)
    });
    assert_eq!(lines, ["s0", "s1", "s3"], "{n}");
}
