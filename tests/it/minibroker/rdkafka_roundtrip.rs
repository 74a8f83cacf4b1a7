//! librdkafka (through the rdkafka crate) against the mini-broker: a
//! producer with acks=all and an assign-based consumer.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Message, Offset, TopicPartitionList};

/// A value that carries its own checksum, so corruption anywhere shows.
pub fn checked_value(i: usize) -> String {
    let body: String = (0..(i % 200) + 10)
        .map(|j| char::from(b'a' + ((i + j) % 26) as u8))
        .collect();
    let sum: u32 = body
        .bytes()
        .fold(7u32, |a, b| a.wrapping_mul(31).wrapping_add(u32::from(b)));
    format!("{i}:{sum:08x}:{body}")
}

pub fn value_is_intact(v: &str) -> bool {
    let mut it = v.splitn(3, ':');
    let (Some(_), Some(sum), Some(body)) = (it.next(), it.next(), it.next()) else {
        return false;
    };
    let actual: u32 = body
        .bytes()
        .fold(7u32, |a, b| a.wrapping_mul(31).wrapping_add(u32::from(b)));
    format!("{actual:08x}") == sum
}

pub fn producer(bootstrap: &str) -> FutureProducer {
    producer_with(bootstrap, false)
}

pub fn producer_with(bootstrap: &str, idempotent: bool) -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set(
            "enable.idempotence",
            if idempotent { "true" } else { "false" },
        )
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "30000")
        .set("broker.address.family", "v4")
        .create()
        .expect("producer")
}

/// Reads every partition of `topic` from the beginning (assign, no group)
/// until `expected` messages arrived or `timeout` passed.
pub fn consume_all(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    expected: usize,
    timeout: Duration,
) -> Vec<(i32, i64, String, String)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "mini-broker-tests")
        .set("enable.auto.commit", "false")
        .set("broker.address.family", "v4")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let deadline = std::time::Instant::now() + timeout;
    let mut out = Vec::new();
    while out.len() < expected && std::time::Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => out.push((
                m.partition(),
                m.offset(),
                String::from_utf8(m.key().unwrap_or_default().to_vec()).unwrap(),
                String::from_utf8(m.payload().unwrap_or_default().to_vec()).unwrap(),
            )),
            // librdkafka reports a broker it cannot reach (e.g. one a test
            // stopped) as an error event; consumption goes on from the others.
            Some(Err(rdkafka::error::KafkaError::MessageConsumption(
                rdkafka::types::RDKafkaErrorCode::BrokerTransportFailure,
            ))) => {}
            Some(Err(e)) => panic!("consumer error: {e}"),
            None => {}
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rdkafka_acks_all_round_trip_is_complete_and_identical() {
    let c = super::start(3, 3, &["rt:6:3"]).await;
    let bootstrap = c.bootstrap();
    let n = 3000;
    // Idempotent: exercises InitProducerId as Kafka 4.x clients do by default.
    let producer = producer_with(&bootstrap, true);
    let mut deliveries = Vec::new();
    for i in 0..n {
        let (key, value) = (format!("k{i}"), checked_value(i));
        // send_result enqueues at once; the futures resolve on acknowledgement.
        let f = producer
            .send_result(FutureRecord::to("rt").key(&key).payload(&value))
            .map_err(|(e, _)| e)
            .expect("enqueued");
        deliveries.push(f);
    }
    let mut by_partition: BTreeMap<i32, usize> = BTreeMap::new();
    for f in deliveries {
        let d = f
            .await
            .expect("delivery future")
            .expect("every acks=all send is acknowledged");
        *by_partition.entry(d.partition).or_default() += 1;
    }
    assert!(
        by_partition.len() > 1,
        "keys spread over partitions: {by_partition:?}"
    );

    let got = tokio::task::spawn_blocking(move || {
        consume_all(&bootstrap, "rt", 6, n, Duration::from_secs(60))
    })
    .await
    .unwrap();
    assert_eq!(got.len(), n, "every message comes back exactly once");
    let mut seen = BTreeMap::new();
    for (p, offset, key, value) in &got {
        assert!(value_is_intact(value), "checksum of {key} at {p}/{offset}");
        let i: usize = key[1..].parse().unwrap();
        assert_eq!(value, &checked_value(i));
        assert!(seen.insert(key.clone(), *p).is_none(), "duplicate {key}");
    }
    for (p, count) in by_partition {
        assert_eq!(
            seen.values().filter(|x| **x == p).count(),
            count,
            "partition {p}"
        );
        // High watermark = messages acknowledged into that partition.
        assert_eq!(super::latest_offset(&c, "rt", p).await, count as i64);
    }
    c.shutdown().await;
}
