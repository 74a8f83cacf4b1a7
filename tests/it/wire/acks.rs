//! acks=all as the leader answers it, through raw Produce requests (the
//! kafka-protocol crate's codecs), so each batch's own error code shows:
//! librdkafka retries NOT_ENOUGH_REPLICAS_AFTER_APPEND and reports only
//! the last refusal. `min.insync.replicas` before and after the append.

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

/// Kafka's NOT_ENOUGH_REPLICAS and NOT_ENOUGH_REPLICAS_AFTER_APPEND.
const NOT_ENOUGH_REPLICAS: i16 = 19;
const NOT_ENOUGH_REPLICAS_AFTER_APPEND: i16 = 20;

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
/// waits for its answer: (error, base offset) of its one partition.
pub(super) async fn produce_at(addr: &str, req: &ProduceRequest) -> (i16, i64) {
    let mut conn = Connection::connect(addr, Duration::from_secs(10))
        .await
        .unwrap();
    let resp = conn.send_version(req, PRODUCE_BY_NAME).await.unwrap();
    let p = &resp.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

/// min.insync.replicas=3 on RF 3. A follower hangs while in the ISR: the
/// leader appends the next acks=all batch (its ISR is still full) and
/// holds it; once the leader drops the silent follower from the ISR, the
/// batch is answered NOT_ENOUGH_REPLICAS_AFTER_APPEND, yet stays in the
/// log (Kafka does not take an append back). The batch after it is
/// refused before any append (NOT_ENOUGH_REPLICAS). When the follower
/// runs again and is back in the ISR, acks=all works again.
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
    let started = Instant::now();
    let held = produce_at(&addr, &batch_request(t, 0, None, 1, 1)).await;
    let held_for = started.elapsed();
    let refused = produce_at(&addr, &batch_request(t, 0, None, 2, 1)).await;
    b.pause_broker(follower, false).await;

    eventually!("the follower back in the ISR", 120, {
        let md = a.metadata().await.unwrap();
        isr(&md).filter(|(_, v)| v == &full)
    });
    let after = produce_at(&addr, &batch_request(t, 0, None, 3, 1)).await;
    assert_eq!(
        held.0, NOT_ENOUGH_REPLICAS_AFTER_APPEND,
        "{n}: the held batch, answered after {held_for:?}: {held:?}"
    );
    // It was held until the ISR shrank (replica.lag.time.max.ms, 5 s on
    // both backends), not refused at once.
    assert!(
        held_for >= Duration::from_secs(2),
        "{n}: answered after {held_for:?}"
    );
    assert_eq!(refused.0, NOT_ENOUGH_REPLICAS, "{n}: {refused:?}");
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
