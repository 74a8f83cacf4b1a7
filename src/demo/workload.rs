//! The demo's data plane: a producer that keeps writing checksummed
//! messages while partitions move, a ledger of what the cluster
//! acknowledged, and the audit that reads everything back and proves each
//! acknowledged message is there exactly once and intact.
//!
//! A message is keyed by its sequence number (decimal, readable with any
//! console consumer); its value is the sequence number (8 bytes, big
//! endian), a payload derived from it, and the CRC-32C of both. A value
//! whose checksum fails, whose sequence differs from its key, or whose
//! sequence was never sent is corrupt.
//!
//! The clients are librdkafka's (through rdkafka): the producer with
//! `acks=all` and idempotence on, as an operator's producers should be
//! during a move: a batch whose acknowledgement was lost to a leader
//! change is retried, and without idempotence Kafka (and the mini-broker)
//! rightly store it twice. The audit still counts duplicates, so a broker
//! that failed to deduplicate a retry shows. The consumer assigns every
//! partition from the beginning and commits nothing: the audit must read
//! everything, whatever a group last committed.
//!
//! Nothing here prints: the CLI reports the counts.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rdkafka::config::ClientConfig;

use crate::kafka::librdkafka::RdkafkaProperties;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

/// Bytes around the payload: the sequence number and the checksum.
const FRAME: usize = 8 + 4;

/// The payload of message `seq`: 64 to 1087 bytes derived from `seq`
/// (xorshift), so that a value copied to the wrong offset or sequence
/// shows as corrupt.
fn payload(seq: u64) -> Vec<u8> {
    let len = 64 + (seq.wrapping_mul(2_654_435_761) % 1024) as usize;
    let mut x = seq ^ 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// The key and value of message `seq`.
pub fn encode(seq: u64) -> (Vec<u8>, Vec<u8>) {
    let mut value = seq.to_be_bytes().to_vec();
    value.extend(payload(seq));
    let crc = crc32c::crc32c(&value);
    value.extend(crc.to_be_bytes());
    (seq.to_string().into_bytes(), value)
}

/// The sequence number of a message, if its key, value and checksum agree.
pub fn decode(key: &[u8], value: &[u8]) -> Option<u64> {
    let seq: u64 = std::str::from_utf8(key).ok()?.parse().ok()?;
    if value.len() < FRAME {
        return None;
    }
    let (body, crc) = value.split_at(value.len() - 4);
    if crc32c::crc32c(body).to_be_bytes() != crc {
        return None;
    }
    let in_value = u64::from_be_bytes(body[..8].try_into().ok()?);
    (in_value == seq).then_some(seq)
}

/// What the producer sent and what the cluster said about each message.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Ledger {
    /// Messages handed to the client, numbered 0..sent.
    sent: u64,
    /// The delivery report of each message that has one: true when the
    /// cluster acknowledged it (acks=all), false when delivery failed.
    reports: BTreeMap<u64, bool>,
}

impl Ledger {
    /// The next sequence number, now counted as sent.
    pub fn next_seq(&mut self) -> u64 {
        self.sent += 1;
        self.sent - 1
    }

    /// A delivery report. A report for a message never sent, or a second
    /// report, is ignored: librdkafka gives each message exactly one.
    pub fn report(&mut self, seq: u64, acknowledged: bool) {
        if seq < self.sent {
            self.reports.entry(seq).or_insert(acknowledged);
        }
    }

    pub fn sent(&self) -> u64 {
        self.sent
    }

    pub fn acknowledged(&self) -> u64 {
        self.reports.values().filter(|ok| **ok).count() as u64
    }

    pub fn failed(&self) -> u64 {
        self.reports.values().filter(|ok| !**ok).count() as u64
    }

    pub fn is_acknowledged(&self, seq: u64) -> bool {
        self.reports.get(&seq) == Some(&true)
    }
}

/// What the consumer read: how often each intact sequence number came
/// back, and how many values were corrupt.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Audit {
    seen: BTreeMap<u64, u64>,
    consumed: u64,
    corrupt: u64,
}

impl Audit {
    pub fn record(&mut self, key: &[u8], value: &[u8]) {
        self.consumed += 1;
        match decode(key, value) {
            Some(seq) => *self.seen.entry(seq).or_default() += 1,
            None => self.corrupt += 1,
        }
    }

    /// The audit against the ledger.
    pub fn counts(&self, ledger: &Ledger) -> Counts {
        let mut duplicates = 0;
        let mut corrupt = self.corrupt;
        let mut unacknowledged = 0;
        for (&seq, &n) in &self.seen {
            if seq >= ledger.sent() {
                // Intact, yet never sent by this run: not ours to vouch for.
                corrupt += n;
                continue;
            }
            duplicates += n - 1;
            if !ledger.is_acknowledged(seq) {
                unacknowledged += 1;
            }
        }
        let missing = ledger
            .reports
            .iter()
            .filter(|(seq, ok)| **ok && !self.seen.contains_key(seq))
            .count() as u64;
        Counts {
            produced: ledger.sent(),
            acknowledged: ledger.acknowledged(),
            failed: ledger.failed(),
            consumed: self.consumed,
            duplicates,
            missing,
            corrupt,
            unacknowledged,
        }
    }
}

/// The audit's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Messages handed to the producer.
    pub produced: u64,
    /// Messages the cluster acknowledged (acks=all).
    pub acknowledged: u64,
    /// Messages whose delivery failed (not acknowledged).
    pub failed: u64,
    /// Messages the consumer read, intact or not.
    pub consumed: u64,
    /// Extra copies of a message read more than once.
    pub duplicates: u64,
    /// Acknowledged messages not read back.
    pub missing: u64,
    /// Values whose checksum or sequence is wrong.
    pub corrupt: u64,
    /// Messages read back whose delivery was not acknowledged (allowed: a
    /// write can land after its report timed out).
    pub unacknowledged: u64,
}

impl Counts {
    /// Every acknowledged message came back exactly once, intact, and
    /// there was at least one.
    pub fn is_clean(&self) -> bool {
        self.acknowledged > 0 && self.duplicates == 0 && self.missing == 0 && self.corrupt == 0
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "produced {}, acknowledged {}, consumed {}, duplicates {}, missing {}, corrupt {}",
            self.produced,
            self.acknowledged,
            self.consumed,
            self.duplicates,
            self.missing,
            self.corrupt
        )?;
        if self.failed > 0 {
            write!(f, ", failed {}", self.failed)?;
        }
        if self.unacknowledged > 0 {
            write!(f, ", read back unacknowledged {}", self.unacknowledged)?;
        }
        Ok(())
    }
}

/// The producer's context: delivery reports go into the ledger.
struct Reports {
    ledger: Arc<Mutex<Ledger>>,
}

impl ClientContext for Reports {}

impl ProducerContext for Reports {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        let (message, ok) = match result {
            Ok(m) => (m, true),
            Err((_, m)) => (m, false),
        };
        let seq = message
            .key()
            .and_then(|k| std::str::from_utf8(k).ok())
            .and_then(|k| k.parse::<u64>().ok());
        if let Some(seq) = seq {
            self.ledger.lock().report(seq, ok);
        }
    }
}

/// A producer writing to `topic` at a steady rate on its own thread until
/// stopped.
pub struct Workload {
    producer: ThreadedProducer<Reports>,
    ledger: Arc<Mutex<Ledger>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<(), String>>>,
}

fn client_config(bootstrap: &str, security: &RdkafkaProperties) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        // The cluster listens on IPv4 loopback; never try other families.
        .set("broker.address.family", "v4");
    for (k, v) in security.pairs() {
        c.set(k, v);
    }
    c
}

impl Workload {
    /// Starts producing `per_second` messages a second to `topic`.
    pub fn start(
        bootstrap: &str,
        security: &RdkafkaProperties,
        topic: &str,
        per_second: u32,
    ) -> Result<Workload, KafkaError> {
        let ledger = Arc::new(Mutex::new(Ledger::default()));
        let producer: ThreadedProducer<Reports> = client_config(bootstrap, security)
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("linger.ms", "5")
            // Moves elect new leaders: a message retried across a leader
            // change must still make it in time.
            .set("message.timeout.ms", "60000")
            .create_with_context(Reports {
                ledger: ledger.clone(),
            })?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let producer = producer.clone();
            let ledger = ledger.clone();
            let stop = stop.clone();
            let topic = topic.to_string();
            std::thread::Builder::new()
                .name("demo-producer".into())
                .spawn(move || produce(&producer, &ledger, &stop, &topic, per_second))
                .map_err(|e| KafkaError::ClientCreation(e.to_string()))?
        };
        Ok(Workload {
            producer,
            ledger,
            stop,
            thread: Some(thread),
        })
    }

    /// Messages sent and acknowledged so far.
    pub fn progress(&self) -> (u64, u64) {
        let l = self.ledger.lock();
        (l.sent(), l.acknowledged())
    }

    /// Stops producing, waits up to `timeout` for the outstanding delivery
    /// reports, and returns the ledger. An error names what failed (the
    /// thread's send error, or reports still missing at the timeout).
    pub fn stop(mut self, timeout: Duration) -> (Ledger, Result<(), String>) {
        self.stop.store(true, Ordering::SeqCst);
        let sent = match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err("the producer thread panicked".into()),
            None => Ok(()),
        };
        let flushed = self
            .producer
            .flush(timeout)
            .map_err(|e| format!("waiting for the last delivery reports: {e}"));
        let ledger = self.ledger.lock().clone();
        (ledger, sent.and(flushed))
    }
}

/// The producer thread: `per_second` messages a second in 10 ms steps.
fn produce(
    producer: &ThreadedProducer<Reports>,
    ledger: &Mutex<Ledger>,
    stop: &AtomicBool,
    topic: &str,
    per_second: u32,
) -> Result<(), String> {
    let start = Instant::now();
    let mut sent = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let due = (start.elapsed().as_secs_f64() * f64::from(per_second)) as u64;
        while sent < due && !stop.load(Ordering::SeqCst) {
            let seq = ledger.lock().next_seq();
            let (key, value) = encode(seq);
            let mut record = BaseRecord::to(topic).key(&key).payload(&value);
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                        record = r;
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err((e, _)) => {
                        ledger.lock().report(seq, false);
                        return Err(format!("sending message {seq}: {e}"));
                    }
                }
            }
            sent += 1;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// Reads every partition of `topic` from the beginning up to its high
/// watermark as of the call, into an audit. Gives up after `timeout`,
/// naming the partitions not read to the end.
pub fn consume(
    bootstrap: &str,
    security: &RdkafkaProperties,
    topic: &str,
    timeout: Duration,
) -> Result<Audit, String> {
    let consumer: BaseConsumer = client_config(bootstrap, security)
        // Required by librdkafka for a consumer; nothing is committed.
        .set("group.id", "kafka-migrate-demo")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()
        .map_err(|e| format!("creating the consumer: {e}"))?;
    let metadata = consumer
        .fetch_metadata(Some(topic), timeout)
        .map_err(|e| format!("reading the metadata of {topic}: {e}"))?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic)
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    if partitions.is_empty() {
        return Err(format!("topic {topic} has no partitions"));
    }
    let mut end = BTreeMap::new();
    let mut tpl = TopicPartitionList::new();
    for &p in &partitions {
        let (_, high) = consumer
            .fetch_watermarks(topic, p, timeout)
            .map_err(|e| format!("reading the end of {topic}-{p}: {e}"))?;
        if high > 0 {
            end.insert(p, high);
            tpl.add_partition_offset(topic, p, Offset::Beginning)
                .map_err(|e| e.to_string())?;
        }
    }
    consumer
        .assign(&tpl)
        .map_err(|e| format!("assigning {topic}: {e}"))?;
    let deadline = Instant::now() + timeout;
    let mut audit = Audit::default();
    while !end.is_empty() {
        if Instant::now() > deadline {
            let left: Vec<String> = end.keys().map(|p| format!("{topic}-{p}")).collect();
            return Err(format!(
                "not read to the end within {}s: {}",
                timeout.as_secs(),
                left.join(", ")
            ));
        }
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                audit.record(m.key().unwrap_or_default(), m.payload().unwrap_or_default());
                if end
                    .get(&m.partition())
                    .is_some_and(|&h| m.offset() + 1 >= h)
                {
                    end.remove(&m.partition());
                }
            }
            // A broker briefly unreachable (leaders moved): librdkafka
            // reconnects and goes on.
            Some(Err(KafkaError::MessageConsumption(
                RDKafkaErrorCode::BrokerTransportFailure | RDKafkaErrorCode::AllBrokersDown,
            ))) => {}
            Some(Err(e)) => return Err(format!("consuming {topic}: {e}")),
            None => {}
        }
    }
    Ok(audit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger(sent: u64, acked: &[u64], failed: &[u64]) -> Ledger {
        let mut l = Ledger::default();
        for _ in 0..sent {
            l.next_seq();
        }
        for &s in acked {
            l.report(s, true);
        }
        for &s in failed {
            l.report(s, false);
        }
        l
    }

    fn audit(seqs: &[u64]) -> Audit {
        let mut a = Audit::default();
        for &s in seqs {
            let (k, v) = encode(s);
            a.record(&k, &v);
        }
        a
    }

    #[test]
    fn messages_round_trip_and_differ() {
        for seq in [0, 1, 2, 999, u64::MAX] {
            let (k, v) = encode(seq);
            assert_eq!(decode(&k, &v), Some(seq));
            assert!(v.len() >= FRAME + 64 && v.len() <= FRAME + 1087);
        }
        assert_ne!(encode(1).1[8..], encode(2).1[8..]);
    }

    #[test]
    fn any_flipped_bit_or_swapped_key_is_corrupt() {
        let (k, v) = encode(42);
        for i in 0..v.len() {
            for bit in [0x01u8, 0x80] {
                let mut bad = v.clone();
                bad[i] ^= bit;
                assert_eq!(decode(&k, &bad), None, "byte {i} bit {bit:#x}");
            }
        }
        // The value of 43 under the key of 42: intact value, wrong place.
        assert_eq!(decode(&k, &encode(43).1), None);
        assert_eq!(decode(b"x", &v), None);
        assert_eq!(decode(&k, &v[..FRAME - 1]), None);
        assert_eq!(decode(&k, &v[..v.len() - 1]), None);
    }

    #[test]
    fn a_clean_run_counts_every_acknowledged_message_once() {
        let l = ledger(5, &[0, 1, 2, 3, 4], &[]);
        let c = audit(&[3, 1, 0, 4, 2]).counts(&l);
        assert_eq!(
            c,
            Counts {
                produced: 5,
                acknowledged: 5,
                failed: 0,
                consumed: 5,
                duplicates: 0,
                missing: 0,
                corrupt: 0,
                unacknowledged: 0,
            }
        );
        assert!(c.is_clean());
        assert_eq!(
            c.to_string(),
            "produced 5, acknowledged 5, consumed 5, duplicates 0, missing 0, corrupt 0"
        );
    }

    #[test]
    fn duplicates_missing_and_corrupt_are_each_counted() {
        let l = ledger(6, &[0, 1, 2, 3, 4], &[5]);
        let mut a = audit(&[0, 0, 0, 1, 3, 4]);
        let (k, mut v) = encode(2);
        v[20] ^= 1;
        a.record(&k, &v);
        let c = a.counts(&l);
        assert_eq!(c.duplicates, 2, "0 read three times: two extra copies");
        assert_eq!(c.missing, 1, "2 came back corrupt, so it is missing");
        assert_eq!(c.corrupt, 1);
        assert_eq!(c.consumed, 7);
        assert_eq!(c.failed, 1);
        assert!(!c.is_clean());
        assert!(
            c.to_string()
                .contains("duplicates 2, missing 1, corrupt 1, failed 1")
        );
    }

    #[test]
    fn unacknowledged_messages_may_come_back_and_unsent_ones_may_not() {
        // 3 failed and 4 had no report, yet both landed: allowed.
        let l = ledger(5, &[0, 1, 2], &[3]);
        let c = audit(&[0, 1, 2, 3, 4]).counts(&l);
        assert_eq!((c.unacknowledged, c.missing, c.corrupt), (2, 0, 0));
        assert!(c.is_clean());
        // A well-formed message this run never sent is not vouched for.
        let c = audit(&[0, 1, 2, 9]).counts(&l);
        assert_eq!(c.corrupt, 1);
        assert!(!c.is_clean());
    }

    #[test]
    fn nothing_acknowledged_is_not_a_pass() {
        let l = ledger(3, &[], &[0, 1, 2]);
        let c = audit(&[]).counts(&l);
        assert_eq!((c.acknowledged, c.missing), (0, 0));
        assert!(!c.is_clean());
    }

    #[test]
    fn reports_for_unsent_or_already_reported_messages_are_ignored() {
        let mut l = ledger(2, &[0], &[]);
        l.report(0, false);
        l.report(7, true);
        assert_eq!((l.acknowledged(), l.failed()), (1, 0));
        assert!(l.is_acknowledged(0) && !l.is_acknowledged(1));
    }
}
