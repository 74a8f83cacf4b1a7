//! librdkafka (through the rdkafka crate), the reference data-plane client:
//! a producer with acks=all and an assign-based consumer, and values that
//! carry their own checksum.

use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::FutureProducer;
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
        .set("group.id", "kafka-migrate-tests")
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
            // stopped), or briefly all of them while it reconnects, as error
            // events; consumption goes on once a live broker answers.
            Some(Err(rdkafka::error::KafkaError::MessageConsumption(
                rdkafka::types::RDKafkaErrorCode::BrokerTransportFailure
                | rdkafka::types::RDKafkaErrorCode::AllBrokersDown,
            ))) => {}
            Some(Err(e)) => panic!("consumer error: {e}"),
            None => {}
        }
    }
    out
}

/// The high watermark of a partition, as a consumer sees it.
pub fn high_watermark(bootstrap: &str, topic: &str, partition: i32) -> i64 {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("broker.address.family", "v4")
        .create()
        .expect("consumer");
    consumer
        .fetch_watermarks(topic, partition, Duration::from_secs(10))
        .expect("watermarks")
        .1
}
