//! The wire-level scenarios, each written once for any [`Backend`].

use std::collections::BTreeMap;

use kafka_migrate::kafka::{Admin, Connection};
use kafka_migrate::model::live::{
    AlterOp, ClusterAdmin, ConfigOp, ConfigResource, ErrorCode, InFlight as Ongoing,
};
use kafka_migrate::model::{BrokerId, TopicPartition};

use std::collections::{BTreeMap as Map, BTreeSet};
use std::time::Duration;

use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};

use super::rdk::{
    checked_value, consume_all, high_watermark, producer, producer_with, value_is_intact,
};
use super::{Backend, admin, eventually, kcat, kcat_produce, unique};

// `plan --balance-disks` applied by `apply`, listed in `suite!` with the others.
pub use super::balance_disks::balance_disks_with_apply;

pub use super::acks::min_insync_replicas_after_append;
pub use super::disks::apply_moves_replicas_between_disks;
pub use super::groups::{
    classic_protocol_step_by_step, group_offsets_survive_a_reassignment,
    group_offsets_survive_coordinator_failover, kcat_group_consumes_and_commits,
    rdkafka_members_split_and_rebalance, static_member_rejoins_without_a_rebalance,
};

fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition {
        topic: topic.to_string(),
        partition,
    }
}

fn code(e: &ErrorCode) -> i16 {
    e.code
}

/// Replicas and leader of a partition from fresh metadata, if it exists.
async fn partition_state(
    a: &mut Admin,
    topic: &str,
    partition: i32,
) -> Option<(Vec<BrokerId>, BrokerId)> {
    let md = a.metadata().await.unwrap();
    let t = md
        .topics
        .iter()
        .find(|t| t.name.as_ref().map(|n| n.0.as_str()) == Some(topic))?;
    let p = t
        .partitions
        .iter()
        .find(|p| p.partition_index == partition)?;
    Some((p.replica_nodes.iter().map(|b| b.0).collect(), p.leader_id.0))
}

async fn replicas_of(a: &mut Admin, topic: &str, partition: i32) -> (Vec<BrokerId>, BrokerId) {
    partition_state(a, topic, partition)
        .await
        .unwrap_or_else(|| panic!("{topic}-{partition} not in metadata"))
}

/// Produces `n` records of about `size` bytes each to partition 0 with kcat
/// (acks=all) and returns the records as kcat prints them back.
fn produce(b: &dyn Backend, topic: &str, n: usize, size: usize) -> Vec<String> {
    let mut data = String::new();
    for i in 0..n {
        let body: String = (0..size)
            .map(|j| (b'a' + ((i * 31 + j * 7) % 26) as u8) as char)
            .collect();
        data.push_str(&format!("{i:06}:{body}\n"));
    }
    kcat_produce(&b.bootstrap(), topic, data.as_bytes());
    data.lines().map(String::from).collect()
}

/// Every record of partition 0 as `offset payload`.
fn kcat_consume_all(b: &dyn Backend, topic: &str) -> Vec<String> {
    kcat(
        &[
            "-C",
            "-b",
            &b.bootstrap(),
            "-t",
            topic,
            "-p",
            "0",
            "-o",
            "beginning",
            "-e",
            "-q",
            "-f",
            "%o %s\n",
        ],
        None,
    )
    .lines()
    .map(String::from)
    .collect()
}

/// Size of a partition on each broker that holds it, from DescribeLogDirs
/// sent to each broker (future logs excluded).
async fn sizes_on(a: &mut Admin, brokers: &[BrokerId], topic: &str) -> BTreeMap<BrokerId, i64> {
    let mut out = BTreeMap::new();
    for &id in brokers {
        let resp = a.log_dirs(id).await.unwrap();
        for d in &resp.results {
            for t in d.topics.iter().filter(|t| t.name.0.as_str() == topic) {
                for p in t
                    .partitions
                    .iter()
                    .filter(|p| p.partition_index == 0 && !p.is_future_key)
                {
                    out.insert(id, p.partition_size);
                }
            }
        }
    }
    out
}

const RATES: [&str; 2] = [
    "leader.replication.throttled.rate",
    "follower.replication.throttled.rate",
];
const REPLICAS: [&str; 2] = [
    "leader.replication.throttled.replicas",
    "follower.replication.throttled.replicas",
];

/// Sets (`Some`) or deletes (`None`) the throttle rate on `brokers` and the
/// throttled replicas of `topic`.
async fn alter_throttle(
    a: &mut Admin,
    brokers: &[BrokerId],
    topic: &str,
    rate: Option<&str>,
    leaders: Option<&str>,
    followers: Option<&str>,
) {
    let op = |resource: &ConfigResource, key: &str, v: Option<&str>| ConfigOp {
        resource: resource.clone(),
        key: key.to_string(),
        op: v.map_or(AlterOp::Delete, |v| AlterOp::Set(v.to_string())),
    };
    let mut ops = Vec::new();
    for &id in brokers {
        let r = ConfigResource::Broker(id);
        ops.extend([op(&r, RATES[0], rate), op(&r, RATES[1], rate)]);
    }
    let t = ConfigResource::Topic(topic.into());
    ops.extend([op(&t, REPLICAS[0], leaders), op(&t, REPLICAS[1], followers)]);
    a.alter_configs(&ops).await.unwrap();
}

async fn set_throttle(
    a: &mut Admin,
    brokers: &[BrokerId],
    topic: &str,
    leaders: &str,
    followers: &str,
    rate: u64,
) {
    let rate = rate.to_string();
    alter_throttle(
        a,
        brokers,
        topic,
        Some(&rate),
        Some(leaders),
        Some(followers),
    )
    .await;
}

async fn clear_throttle(a: &mut Admin, brokers: &[BrokerId], topic: &str) {
    alter_throttle(a, brokers, topic, None, None, None).await;
}

/// Describes `expected`'s keys of `resource` and checks each value; `None`
/// expects the key unset or absent.
async fn assert_configs(
    b: &dyn Backend,
    a: &mut Admin,
    resource: &ConfigResource,
    expected: &[(&str, Option<&str>)],
) {
    let keys: Vec<&str> = expected.iter().map(|&(k, _)| k).collect();
    let matches = |cfg: &kafka_migrate::model::live::ConfigValues| {
        expected.iter().all(|&(key, want)| {
            cfg.get(&(resource.clone(), key.to_string()))
                .map(String::as_str)
                == want
        })
    };
    // Kafka's brokers answer DescribeConfigs from their own copy of the
    // metadata, which shows an alter a moment after it was answered.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let cfg = loop {
        let cfg = a
            .describe_configs(std::slice::from_ref(resource), &keys)
            .await
            .unwrap();
        if matches(&cfg) || std::time::Instant::now() >= deadline {
            break cfg;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    for &(key, want) in expected {
        assert_eq!(
            cfg.get(&(resource.clone(), key.to_string()))
                .map(String::as_str),
            want,
            "{}: {key} in {cfg:?}",
            b.name()
        );
    }
}

async fn ongoing(a: &mut Admin, topic: &str) -> Vec<Ongoing> {
    a.list_reassignments()
        .await
        .unwrap()
        .into_iter()
        .filter(|o| o.tp.topic == topic)
        .collect()
}

/// Creates a topic named after `prefix` with `assignment`; returns its name
/// and the admin client that created it.
async fn new_topic(b: &dyn Backend, prefix: &str, assignment: &[Vec<BrokerId>]) -> (String, Admin) {
    let topic = unique(prefix);
    let mut a = admin(b).await;
    a.create_topic(&topic, assignment, &[]).await.unwrap();
    (topic, a)
}

/// Enqueues record `i`: key `k<i>`, a value carrying its own checksum.
fn send_checked(producer: &FutureProducer, topic: &str, i: usize) -> DeliveryFuture {
    let (key, value) = (format!("k{i}"), checked_value(i));
    producer
        .send_result(FutureRecord::to(topic).key(&key).payload(&value))
        .map_err(|(e, _)| e)
        .expect("enqueued")
}

/// [`consume_all`] off the async threads: it blocks while it polls.
async fn consume_all_blocking(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    expected: usize,
) -> Vec<(i32, i64, String, String)> {
    let (bs, t) = (bootstrap.to_string(), topic.to_string());
    tokio::task::spawn_blocking(move || {
        consume_all(&bs, &t, partitions, expected, Duration::from_secs(60))
    })
    .await
    .unwrap()
}

/// Waits until partition 0 of `topic` has a leader in the metadata.
async fn wait_leader(b: &dyn Backend, topic: &str) -> BrokerId {
    let mut a = admin(b).await;
    eventually!("a leader for {topic}-0", 30, {
        partition_state(&mut a, topic, 0)
            .await
            .and_then(|(_, l)| (l >= 0).then_some(l))
    })
}

/// kcat sees brokers, topics and leaders; produce then consume round-trips.
pub async fn kcat_metadata_and_round_trip(b: &dyn Backend) {
    let ids = b.brokers();
    let (topic, _a) = new_topic(b, "km-kcat", &[vec![ids[0], ids[1]]]).await;
    let listing = eventually!("topic in kcat -L", 30, {
        let out = kcat(&["-L", "-b", &b.bootstrap(), "-t", &topic], None);
        out.contains("leader").then_some(out)
    });
    for id in &ids {
        assert!(
            listing.contains(&format!("broker {id} at")),
            "{}: {listing}",
            b.name()
        );
    }
    assert!(
        listing.contains(&format!("topic \"{topic}\" with 1 partitions")),
        "{listing}"
    );
    let sent = produce(b, &topic, 50, 20);
    let got = kcat_consume_all(b, &topic);
    let payloads: Vec<String> = got
        .iter()
        .map(|l| l.split_once(' ').unwrap().1.to_string())
        .collect();
    assert_eq!(payloads, sent);
    assert_eq!(got.first().map(|l| l.starts_with("0 ")), Some(true));
}

/// A throttled move: List shows adding/removing mid-move; once the throttle
/// lifts the move completes, the old replica is gone, offsets and data are
/// unchanged and log-dir sizes match on the new replicas.
pub async fn throttled_reassignment(b: &dyn Backend) {
    let ids = b.brokers();
    let (x, y, z) = (ids[0], ids[1], ids[2]);
    let (topic, mut a) = new_topic(b, "km-move", &[vec![x, y]]).await;
    wait_leader(b, &topic).await;
    let sent = produce(b, &topic, 2000, 1000);
    let before = kcat_consume_all(b, &topic);
    assert_eq!(before.len(), sent.len());
    let src = eventually!("follower caught up", 30, {
        let s = sizes_on(&mut a, &ids, &topic).await;
        (s.len() == 2 && s.values().all(|&v| v == s[&x])).then_some(s)
    });
    let size = src[&x];
    assert!(size > 2_000_000, "{}: log size {size}", b.name());

    // Pin the move: 10 KB/s cannot copy 2 MB within the check below.
    set_throttle(
        &mut a,
        &ids,
        &topic,
        &format!("0:{x},0:{y}"),
        &format!("0:{z}"),
        10_000,
    )
    .await;
    let res = a
        .alter_reassignments(&[(tp(&topic, 0), Some(vec![y, z]))])
        .await
        .unwrap();
    assert!(res.iter().all(|(_, r)| r.is_ok()), "{res:?}");
    let moving = ongoing(&mut a, &topic).await;
    assert_eq!(
        moving,
        vec![Ongoing {
            tp: tp(&topic, 0),
            replicas: vec![y, z, x],
            adding: vec![z],
            removing: vec![x],
        }],
        "{}",
        b.name()
    );
    // Metadata reaches the brokers after the controller has the move.
    eventually!("metadata shows the move", 30, {
        (replicas_of(&mut a, &topic, 0).await.0 == vec![y, z, x]).then_some(())
    });

    clear_throttle(&mut a, &ids, &topic).await;
    eventually!(
        "move completes",
        60,
        ongoing(&mut a, &topic).await.is_empty().then_some(())
    );
    // The controller is done before every broker's metadata says so.
    let (replicas, leader) = eventually!("metadata shows the completed move", 30, {
        let (r, l) = replicas_of(&mut a, &topic, 0).await;
        (r == vec![y, z]).then_some((r, l))
    });
    assert_eq!(replicas, vec![y, z], "{}", b.name());
    // The old leader left; Kafka elects the first target replica in the ISR.
    assert_eq!(leader, y, "{}: leader after the move", b.name());
    assert_eq!(
        kcat_consume_all(b, &topic),
        before,
        "{}: data or offsets changed",
        b.name()
    );
    let after = eventually!("old replica deleted", 30, {
        let s = sizes_on(&mut a, &ids, &topic).await;
        (!s.contains_key(&x)).then_some(s)
    });
    assert_eq!(after.keys().copied().collect::<Vec<_>>(), vec![y, z]);
    assert_eq!(after[&z], size, "{}: copied size differs", b.name());
}

/// Overriding a running move keeps the original set; cancelling reverts.
pub async fn cancel_and_override(b: &dyn Backend) {
    let ids = b.brokers();
    let (w, x, y, z) = (ids[0], ids[1], ids[2], ids[3]);
    let (topic, mut a) = new_topic(b, "km-cancel", &[vec![w, x]]).await;
    wait_leader(b, &topic).await;
    // More than one 1 MiB fetch, which Kafka lets through before the quota.
    produce(b, &topic, 3000, 1000);
    set_throttle(
        &mut a,
        &ids,
        &topic,
        &format!("0:{w},0:{x}"),
        &format!("0:{y},0:{z}"),
        1_000,
    )
    .await;
    a.alter_reassignments(&[(tp(&topic, 0), Some(vec![x, y]))])
        .await
        .unwrap();
    let first = ongoing(&mut a, &topic).await;
    assert_eq!(first[0].replicas, vec![x, y, w], "{}", b.name());
    // A new target replaces the old one. As Kafka's controller does it,
    // the replica set becomes the new target followed by every current
    // replica outside it, so the abandoned adding replica (y) is now being
    // removed along with the original one (w).
    a.alter_reassignments(&[(tp(&topic, 0), Some(vec![x, z]))])
        .await
        .unwrap();
    let second = ongoing(&mut a, &topic).await;
    assert_eq!(
        second,
        vec![Ongoing {
            tp: tp(&topic, 0),
            replicas: vec![x, z, w, y],
            adding: vec![z],
            removing: vec![w, y],
        }],
        "{}",
        b.name()
    );
    // Cancel reverts to `replicas - adding`. After an override that is not
    // the set the partition started with: the abandoned replica y was no
    // longer "adding", so Kafka keeps it (regression: parity with Kafka 4.x).
    let res = a
        .alter_reassignments(&[(tp(&topic, 0), None)])
        .await
        .unwrap();
    assert!(res.iter().all(|(_, r)| r.is_ok()), "{res:?}");
    assert!(ongoing(&mut a, &topic).await.is_empty());
    let mut reverted = vec![w, x, y];
    reverted.sort();
    eventually!("cancel reaches the metadata", 30, {
        let mut r = replicas_of(&mut a, &topic, 0).await.0;
        r.sort();
        (r == reverted).then_some(())
    });
    // A second cancel has nothing to cancel.
    let res = a
        .alter_reassignments(&[(tp(&topic, 0), None)])
        .await
        .unwrap();
    assert_eq!(
        code(res[0].1.as_ref().unwrap_err()),
        ErrorCode::NO_REASSIGNMENT_IN_PROGRESS,
        "{}",
        b.name()
    );
    clear_throttle(&mut a, &ids, &topic).await;
}

/// Throttle configs set on each broker and topic read back as set, and a
/// BROKER resource sent to another broker is refused with INVALID_REQUEST.
pub async fn throttle_configs_read_back(b: &dyn Backend) {
    let ids = b.brokers();
    let (topic, mut a) =
        new_topic(b, "km-cfg", &[vec![ids[0], ids[1]], vec![ids[1], ids[2]]]).await;
    set_throttle(&mut a, &ids, &topic, "0:1,1:2", "*", 12_345_678).await;
    for &id in &ids {
        assert_configs(
            b,
            &mut a,
            &ConfigResource::Broker(id),
            &[(RATES[0], Some("12345678")), (RATES[1], Some("12345678"))],
        )
        .await;
    }
    assert_configs(
        b,
        &mut a,
        &ConfigResource::Topic(topic.clone()),
        &[(REPLICAS[0], Some("0:1,1:2")), (REPLICAS[1], Some("*"))],
    )
    .await;
    clear_throttle(&mut a, &ids, &topic).await;
    assert_configs(
        b,
        &mut a,
        &ConfigResource::Broker(ids[0]),
        &[(RATES[0], None)],
    )
    .await;

    // A BROKER resource must go to that broker.
    let other = a.brokers[&ids[1]].addr.clone();
    let mut wrong = Connection::connect(&other, std::time::Duration::from_secs(10))
        .await
        .unwrap();
    use kafka_protocol::messages::DescribeConfigsRequest;
    use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
    use kafka_protocol::protocol::StrBytes;
    let resp = wrong
        .send(&DescribeConfigsRequest::default().with_resources(vec![
            DescribeConfigsResource::default()
                .with_resource_type(4)
                .with_resource_name(StrBytes::from_string(ids[0].to_string()))
                .with_configuration_keys(None),
        ]))
        .await
        .unwrap();
    assert_eq!(
        resp.results[0].error_code,
        ErrorCode::INVALID_REQUEST,
        "{}",
        b.name()
    );
}

/// Reordering replicas completes at once and keeps the leader; a preferred
/// election then moves leadership; a second one is not needed.
pub async fn preferred_leader_election(b: &dyn Backend) {
    let ids = b.brokers();
    let (topic, mut a) = new_topic(b, "km-elect", &[vec![ids[0], ids[1]]]).await;
    wait_leader(b, &topic).await;
    a.alter_reassignments(&[(tp(&topic, 0), Some(vec![ids[1], ids[0]]))])
        .await
        .unwrap();
    eventually!("reorder applied", 30, {
        let (r, _) = replicas_of(&mut a, &topic, 0).await;
        (r == vec![ids[1], ids[0]]).then_some(())
    });
    assert!(
        ongoing(&mut a, &topic).await.is_empty(),
        "{}: a pure reorder never shows as moving",
        b.name()
    );
    assert_eq!(
        replicas_of(&mut a, &topic, 0).await.1,
        ids[0],
        "{}: leader moved without an election",
        b.name()
    );
    let res = a.elect_preferred(&[tp(&topic, 0)]).await.unwrap();
    assert!(res.iter().all(|(_, r)| r.is_ok()), "{}: {res:?}", b.name());
    let leader = eventually!("new leader", 30, {
        let (_, l) = replicas_of(&mut a, &topic, 0).await;
        (l == ids[1]).then_some(l)
    });
    assert_eq!(leader, ids[1]);
    let res = a.elect_preferred(&[tp(&topic, 0)]).await.unwrap();
    assert!(
        res.iter().all(|(_, r)| r
            .as_ref()
            .is_err_and(|e| e.code == ErrorCode::ELECTION_NOT_NEEDED)),
        "ELECTION_NOT_NEEDED comes back for the caller to count as done: {res:?}"
    );
}

/// Error codes for bad reassignment requests, and garbage on the wire.
pub async fn bad_requests(b: &dyn Backend) {
    let ids = b.brokers();
    let (topic, mut a) = new_topic(b, "km-bad", &[vec![ids[0], ids[1]]]).await;
    let res = a
        .alter_reassignments(&[
            (tp(&topic, 0), Some(vec![ids[0], 9999])),
            (tp(&topic, 7), Some(vec![ids[0]])),
            (tp("km-no-such-topic", 0), Some(vec![ids[0]])),
        ])
        .await
        .unwrap();
    let more = a
        .alter_reassignments(&[(tp(&topic, 0), Some(vec![ids[0], ids[0]]))])
        .await
        .unwrap();
    let cancel = a
        .alter_reassignments(&[(tp(&topic, 0), None)])
        .await
        .unwrap();
    let empty = a
        .alter_reassignments(&[(tp(&topic, 0), Some(vec![]))])
        .await
        .unwrap();
    // Codes and Kafka's own words, which operators see in tools' output.
    let outcome = |r: &Result<(), ErrorCode>| -> (i16, Option<String>) {
        match r {
            Ok(()) => (0, None),
            Err(e) => (e.code, e.message.clone()),
        }
    };
    let got: Vec<(String, i16, Option<String>)> = res
        .iter()
        .chain(&more)
        .chain(&cancel)
        .chain(&empty)
        .map(|(t, r)| {
            let (c, m) = outcome(r);
            (t.to_string(), c, m)
        })
        .collect();
    let msg = |m: &str| Some(m.to_string());
    assert_eq!(
        got,
        vec![
            (
                format!("{topic}-0"),
                39,
                msg(
                    "The manual partition assignment includes broker 9999, but no such broker is registered."
                )
            ),
            (
                format!("{topic}-7"),
                3,
                Some(format!("Unable to find partition {topic}:7."))
            ),
            (
                "km-no-such-topic-0".to_string(),
                3,
                msg("Unable to find a topic named km-no-such-topic.")
            ),
            (
                format!("{topic}-0"),
                39,
                Some(format!(
                    "The manual partition assignment includes the broker {} more than once.",
                    ids[0]
                ))
            ),
            (format!("{topic}-0"), 85, None),
            (
                format!("{topic}-0"),
                39,
                msg("The manual partition assignment includes an empty replica list.")
            ),
        ],
        "{}",
        b.name()
    );
    // Garbage and a truncated frame: the broker closes the connection
    // (after an error answer, or a reset) within seconds rather than
    // waiting on it, and keeps serving.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = a.brokers[&ids[0]].addr.clone();
    for junk in [
        &b"\x00\x00\x00\x08garbage!"[..],
        &b"\x00\x00\x01\x00\x00\x12"[..],
        &b"\x00\x00\x00\x0a\x7f\x7f\x00\x00\x00\x00\x00\x01\x00\x00"[..],
    ] {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        s.write_all(junk).await.unwrap();
        // Our end shut for writing: a broker still waiting for the rest of
        // a truncated frame sees the end of the stream.
        let _ = s.shutdown().await;
        let mut buf = Vec::new();
        let closed =
            tokio::time::timeout(std::time::Duration::from_secs(10), s.read_to_end(&mut buf)).await;
        assert!(
            closed.is_ok(),
            "{}: connection still open 10 s after {junk:?} (read {} bytes)",
            b.name(),
            buf.len()
        );
    }
    let mut again = admin(b).await;
    again
        .metadata()
        .await
        .expect("broker still serves after garbage");
}

/// rdkafka: an idempotent acks=all producer and an assign-based consumer;
/// keyed, checksummed messages over six partitions come back complete and
/// identical, each exactly once.
pub async fn rdkafka_round_trip(b: &dyn Backend) {
    let ids = b.brokers();
    let assignment: Vec<Vec<BrokerId>> = (0..6)
        .map(|p| (0..3).map(|r| ids[(p + r) % ids.len()]).collect())
        .collect();
    let (topic, _a) = new_topic(b, "km-rdkafka", &assignment).await;
    wait_leader(b, &topic).await;
    let bootstrap = b.bootstrap();
    let n = 3000;
    let producer = producer_with(&bootstrap, true);
    let mut deliveries = Vec::new();
    for i in 0..n {
        let f = send_checked(&producer, &topic, i);
        deliveries.push(f);
    }
    let mut by_partition: Map<i32, usize> = Map::new();
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
    let got = consume_all_blocking(&bootstrap, &topic, 6, n).await;
    assert_eq!(
        got.len(),
        n,
        "{}: every message comes back exactly once",
        b.name()
    );
    let mut seen = Map::new();
    for (p, offset, key, value) in &got {
        assert!(value_is_intact(value), "checksum of {key} at {p}/{offset}");
        let i: usize = key[1..].parse().unwrap();
        assert_eq!(value, &checked_value(i));
        assert!(seen.insert(key.clone(), *p).is_none(), "duplicate {key}");
    }
    for (p, count) in by_partition {
        assert_eq!(
            seen.values().filter(|&&q| q == p).count(),
            count,
            "partition {p}"
        );
    }
}

/// The leader's broker stops during acks=all production: leadership fails
/// over, no acknowledged message is lost, and the broker rejoins the ISR
/// after a restart.
pub async fn leader_stopped_during_production(b: &dyn Backend) {
    let ids = b.brokers();
    let (topic, _a) = new_topic(b, "km-failover", &[vec![ids[0], ids[1], ids[2]]]).await;
    let old_leader = wait_leader(b, &topic).await;
    let bootstrap = b.bootstrap();
    let producer = producer(&bootstrap);
    let n = 2000;
    let mut pending = Vec::new();
    for i in 0..n {
        let f = send_checked(&producer, &topic, i);
        pending.push((i, f));
        if i == n / 2 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            b.stop_broker(old_leader).await;
        }
        if i % 100 == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let mut acked = BTreeSet::new();
    for (i, f) in pending {
        if let Ok(Ok(_)) = f.await {
            acked.insert(format!("k{i}"));
        }
    }
    assert!(
        acked.len() > n / 2,
        "{}: production went on after failover: {} acked",
        b.name(),
        acked.len()
    );
    let mut a = admin(b).await;
    let new_leader = eventually!("a new leader", 30, {
        partition_state(&mut a, &topic, 0)
            .await
            .and_then(|(_, l)| (l >= 0 && l != old_leader).then_some(l))
    });
    assert_ne!(new_leader, old_leader);

    let t = topic.clone();
    let bs = bootstrap.clone();
    let expected = tokio::task::spawn_blocking(move || high_watermark(&bs, &t, 0))
        .await
        .unwrap() as usize;
    assert!(
        expected >= acked.len(),
        "{}: high watermark {expected} below {} acked",
        b.name(),
        acked.len()
    );
    let got = consume_all_blocking(&bootstrap, &topic, 1, expected).await;
    assert_eq!(
        got.len(),
        expected,
        "{}: everything below the high watermark comes back",
        b.name()
    );
    let consumed: BTreeSet<String> = got.iter().map(|(_, _, k, _)| k.clone()).collect();
    let lost: Vec<&String> = acked.difference(&consumed).collect();
    assert!(
        lost.is_empty(),
        "{}: {} acknowledged messages lost, e.g. {:?}",
        b.name(),
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    for (_, _, k, v) in &got {
        let i: usize = k[1..].parse().unwrap();
        assert_eq!(v, &checked_value(i));
    }

    b.start_broker(old_leader).await;
    let md_isr = |md: &kafka_protocol::messages::MetadataResponse| -> Vec<BrokerId> {
        md.topics
            .iter()
            .filter(|t| t.name.as_ref().map(|n| n.0.as_str()) == Some(topic.as_str()))
            .flat_map(|t| t.partitions.iter())
            .flat_map(|p| p.isr_nodes.iter().map(|b| b.0))
            .collect()
    };
    let mut a = admin(b).await;
    eventually!("the restarted broker rejoins the ISR", 60, {
        let md = a.metadata().await.unwrap();
        md_isr(&md).contains(&old_leader).then_some(())
    });
}

/// `kafka-migrate describe` writes what the cluster holds, sizes from the
/// leaders' log dirs, and `plan` reads it.
pub async fn describe_writes_the_clusters_snapshot(b: &dyn Backend) {
    let ids = b.brokers();
    let topic = unique("km-describe");
    let mut a = admin(b).await;
    a.create_topic(&topic, &[vec![ids[0], ids[1]], vec![ids[2], ids[3]]], &[])
        .await
        .unwrap();
    let payload: String = (0..500)
        .map(|i| format!("record-{i:05}-{}\n", "y".repeat(100)))
        .collect();
    eventually!("leaders for the new topic", 30, {
        let md = a.metadata().await.unwrap();
        md.topics
            .iter()
            .filter(|t| t.name.as_ref().map(|n| n.0.as_str()) == Some(topic.as_str()))
            .flat_map(|t| t.partitions.iter())
            .filter(|p| p.leader_id.0 >= 0)
            .nth(1)
            .map(|_| ())
    });
    kcat(
        &[
            "-P",
            "-b",
            &b.bootstrap(),
            "-t",
            &topic,
            "-p",
            "0",
            "-X",
            "acks=all",
        ],
        Some(payload.as_bytes()),
    );
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("snapshot.json");
    let out = cli(vec![
        "describe".into(),
        "--bootstrap-server".into(),
        b.bootstrap(),
        "-o".into(),
        path.display().to_string(),
        "--output".into(),
        "json".into(),
    ])
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}: {}",
        b.name(),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["version"], 1);
    let cluster =
        kafka_migrate::model::snapshot::parse("snapshot.json", &std::fs::read(&path).unwrap())
            .unwrap();
    let listed: Vec<i32> = cluster.brokers.iter().map(|x| x.id).collect();
    assert_eq!(listed, ids, "{}", b.name());
    assert!(
        cluster.brokers.iter().all(|x| x.alive && x.rack.is_some()),
        "{}: {:?}",
        b.name(),
        cluster.brokers
    );
    let t = cluster
        .topic(&topic)
        .unwrap_or_else(|| panic!("{}: {topic} missing", b.name()));
    assert_eq!(t.partitions.len(), 2);
    assert_eq!(t.partitions[0].replicas, vec![ids[0], ids[1]]);
    assert_eq!(t.partitions[1].replicas, vec![ids[2], ids[3]]);
    // The size is the leader's log size, as DescribeLogDirs reports it.
    let leader = t.partitions[0].leader.expect("a leader");
    let on_disk = sizes_on(&mut a, &[leader], &topic).await[&leader];
    assert!(on_disk > 50_000, "{}: {on_disk}", b.name());
    assert_eq!(t.partitions[0].size_bytes, on_disk as u64, "{}", b.name());
    assert_eq!(t.partitions[1].size_bytes, 0);
    // And `plan` reads it.
    let out = cli(vec![
        "plan".into(),
        "--state".into(),
        path.display().to_string(),
        "--output".into(),
        "json".into(),
    ])
    .await;
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["command"], "plan", "{}", b.name());
    assert!(
        plan["summary"]["totals"]["partitions"].as_u64().unwrap() >= 2,
        "{}: {plan}",
        b.name()
    );
}

/// Runs the kafka-migrate binary off the async threads.
async fn cli(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || crate::support::bin().args(&args).output().unwrap())
        .await
        .unwrap()
}

/// Bytes of each partition on each broker, from DescribeLogDirs sent to
/// each broker (future logs excluded): broker -> topic -> bytes.
async fn disk_bytes(a: &mut Admin, brokers: &[BrokerId]) -> BTreeMap<BrokerId, Map<String, u64>> {
    let mut out = BTreeMap::new();
    for &id in brokers {
        let resp = a.log_dirs(id).await.unwrap();
        let on: &mut Map<String, u64> = out.entry(id).or_default();
        for d in resp.results.iter().filter(|d| d.error_code == 0) {
            for t in &d.topics {
                for p in t.partitions.iter().filter(|p| !p.is_future_key) {
                    *on.entry(t.name.0.as_str().to_string()).or_default() +=
                        p.partition_size.max(0) as u64;
                }
            }
        }
    }
    out
}

/// `describe` while a throttled move runs: the snapshot records the
/// partition's target, adding and removing replicas and a warning names
/// it; each broker's bytes are its own log dirs' (the new replica holds
/// only what it has copied, not the leader's size); the topic's throttled
/// replica lists are listed with the broker rates. `plan` on that snapshot
/// refuses the partition unless `--in-flight target`, and `check` measures
/// against the target.
pub async fn describe_mid_move(b: &dyn Backend) {
    let ids = b.brokers();
    let (x, y, z) = (ids[0], ids[1], ids[2]);
    let (topic, mut a) = new_topic(b, "km-midmove", &[vec![x, y]]).await;
    wait_leader(b, &topic).await;
    // More than one 1 MiB fetch, which Kafka lets through before the quota.
    produce(b, &topic, 3000, 1000);
    let size = eventually!("follower caught up", 30, {
        let s = sizes_on(&mut a, &ids, &topic).await;
        (s.len() == 2 && s.values().all(|&v| v == s[&x])).then_some(s[&x])
    });
    let (leaders, followers) = (format!("0:{x},0:{y}"), format!("0:{z}"));
    set_throttle(&mut a, &ids, &topic, &leaders, &followers, 1_000).await;
    let res = a
        .alter_reassignments(&[(tp(&topic, 0), Some(vec![y, z]))])
        .await
        .unwrap();
    assert!(res.iter().all(|(_, r)| r.is_ok()), "{res:?}");
    eventually!("metadata shows the move", 30, {
        (replicas_of(&mut a, &topic, 0).await.0 == vec![y, z, x]).then_some(())
    });

    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("snapshot.json");
    let state = path.display().to_string();
    let before = disk_bytes(&mut a, &ids).await;
    let out = cli(vec![
        "describe".into(),
        "--bootstrap-server".into(),
        b.bootstrap(),
        "-o".into(),
        state.clone(),
        "--output".into(),
        "json".into(),
    ])
    .await;
    let after = disk_bytes(&mut a, &ids).await;
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{}: {err}", b.name());
    assert!(
        err.contains("partitions are being reassigned: ") && err.contains(&format!("{topic}-0")),
        "{}: {err}",
        b.name()
    );
    let cluster =
        kafka_migrate::model::snapshot::parse("snapshot.json", &std::fs::read(&path).unwrap())
            .unwrap();
    let p = &cluster.topic(&topic).expect("topic in snapshot").partitions[0];
    assert_eq!(p.replicas, vec![y, z, x], "{}", b.name());
    assert_eq!(
        p.in_flight.as_deref(),
        Some(&kafka_migrate::model::InFlight {
            target: vec![y, z],
            adding: vec![z],
            removing: vec![x],
        }),
        "{}",
        b.name()
    );

    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // Per broker: the sum of its own replicas of the snapshot's topics, as
    // its log dirs said just before and just after (only the copy grows).
    let in_snapshot = |m: &Map<String, u64>| -> u64 {
        m.iter()
            .filter(|(t, _)| cluster.topic(t).is_some())
            .map(|(_, v)| v)
            .sum()
    };
    let bytes_of = |id: BrokerId| {
        report["brokers"]
            .as_array()
            .expect("brokers")
            .iter()
            .find(|r| r["id"] == id)
            .and_then(|r| r["bytes"].as_u64())
            .unwrap_or_else(|| panic!("{}: no bytes for broker {id}: {report}", b.name()))
    };
    for &id in &ids {
        let (lo, hi) = (in_snapshot(&before[&id]), in_snapshot(&after[&id]));
        let got = bytes_of(id);
        assert!(
            lo <= got && got <= hi,
            "{}: broker {id}: {got} outside {lo}..={hi}",
            b.name()
        );
    }
    let copied = after[&z].get(&topic).copied().unwrap_or(0);
    assert!(
        copied < size as u64,
        "{}: the throttled copy is still partial: {copied} of {size}",
        b.name()
    );
    // The topic's throttled replicas are listed beside the broker rates.
    let throttles = report["throttles"].as_array().expect("throttles");
    for (name, value) in [(REPLICAS[0], &leaders), (REPLICAS[1], &followers)] {
        let want = serde_json::json!({
            "resource": format!("topic {topic}"), "name": name, "value": value,
        });
        assert!(
            throttles.contains(&want),
            "{}: {want} in {throttles:?}",
            b.name()
        );
    }
    assert!(
        throttles
            .iter()
            .any(|t| t["resource"] == format!("broker {z}") && t["name"] == RATES[1]),
        "{}: {throttles:?}",
        b.name()
    );

    // `plan` refuses the moving partition, or plans from its target.
    let plan = |more: &[&str]| {
        let mut args: Vec<String> = ["plan", "--state", &state, "--output", "json"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(more.iter().map(|s| s.to_string()));
        cli(args)
    };
    let out = plan(&[]).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}: {err}", b.name());
    assert!(err.contains(&format!("{topic}-0")), "{err}");
    let file = dir.path().join("plan.json").display().to_string();
    let out = plan(&["--in-flight", "target", "-o", &file]).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}: {err}",
        b.name()
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["summary"]["totals"]["replication_factor_changes"], 0,
        "{v}"
    );
    if std::path::Path::new(&file).exists() {
        let out = cli(vec!["check".into(), file, "--state".into(), state.clone()]).await;
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{}: {}",
            b.name(),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    a.alter_reassignments(&[(tp(&topic, 0), None)])
        .await
        .unwrap();
    clear_throttle(&mut a, &ids, &topic).await;
    eventually!(
        "the move is cancelled",
        30,
        ongoing(&mut a, &topic).await.is_empty().then_some(())
    );
}

/// The admin client outlives the broker it talks to: with that broker
/// stopped, a survey and a list of moves go to another broker (the stopped
/// one is left out once metadata drops it), and the restarted broker is
/// surveyed again.
pub async fn admin_outlives_a_stopped_broker(b: &dyn Backend) {
    let mut a = admin(b).await;
    let any = a.any_addr().expect("connected").to_string();
    let id = *a
        .brokers
        .iter()
        .find(|(_, info)| info.addr == any)
        .expect("the bootstrap broker is in the metadata")
        .0;
    b.stop_broker(id).await;
    a.list_reassignments()
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", b.name()));
    assert_ne!(a.any_addr(), Some(any.as_str()), "{}", b.name());
    let cluster = eventually!("a survey without the stopped broker", 60, {
        let c = a
            .cluster()
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", b.name()));
        (!c.broker(id).is_some_and(|x| x.alive)).then_some(c)
    });
    assert!(!cluster.topics.is_empty() || cluster.brokers.len() >= 3);
    b.start_broker(id).await;
    eventually!("the restarted broker surveyed", 60, {
        let c = a.cluster().await.unwrap();
        c.broker(id).is_some_and(|x| x.alive).then_some(())
    });
}

/// Every topic config Kafka 4.3.1 lists for a topic (`kafka-configs
/// --describe --all`).
pub(super) const TOPIC_CONFIG_KEYS: [&str; 33] = [
    "cleanup.policy",
    "compression.gzip.level",
    "compression.lz4.level",
    "compression.type",
    "compression.zstd.level",
    "delete.retention.ms",
    "file.delete.delay.ms",
    "flush.messages",
    "flush.ms",
    "follower.replication.throttled.replicas",
    "index.interval.bytes",
    "leader.replication.throttled.replicas",
    "local.retention.bytes",
    "local.retention.ms",
    "max.compaction.lag.ms",
    "max.message.bytes",
    "message.timestamp.after.max.ms",
    "message.timestamp.before.max.ms",
    "message.timestamp.type",
    "min.cleanable.dirty.ratio",
    "min.compaction.lag.ms",
    "min.insync.replicas",
    "preallocate",
    "remote.log.copy.disable",
    "remote.log.delete.on.disable",
    "remote.storage.enable",
    "retention.bytes",
    "retention.ms",
    "segment.bytes",
    "segment.index.bytes",
    "segment.jitter.ms",
    "segment.ms",
    "unclean.leader.election.enable",
];

/// DescribeConfigs sources.
pub(super) const DYNAMIC_TOPIC_CONFIG: i8 = 1;
const DYNAMIC_DEFAULT_BROKER_CONFIG: i8 = 3;
const STATIC_BROKER_CONFIG: i8 = 4;
pub(super) const DEFAULT_CONFIG: i8 = 5;

/// A config as DescribeConfigs answers it: value, source, read-only, and
/// the synonyms as (name, value, source).
type Described = (Option<String>, i8, bool, Vec<(String, Option<String>, i8)>);

/// One DescribeConfigs of one resource sent to `broker`, raw.
async fn describe_raw(
    a: &Admin,
    broker: BrokerId,
    resource_type: i8,
    name: &str,
    keys: Option<&[&str]>,
    synonyms: bool,
) -> BTreeMap<String, Described> {
    use kafka_protocol::messages::DescribeConfigsRequest;
    use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
    use kafka_protocol::protocol::StrBytes;
    let s = |x: &str| StrBytes::from_string(x.to_string());
    let mut conn = Connection::connect(&a.brokers[&broker].addr, Duration::from_secs(10))
        .await
        .unwrap();
    let resp = conn
        .send(
            &DescribeConfigsRequest::default()
                .with_include_synonyms(synonyms)
                .with_resources(vec![
                    DescribeConfigsResource::default()
                        .with_resource_type(resource_type)
                        .with_resource_name(s(name))
                        .with_configuration_keys(keys.map(|k| k.iter().map(|x| s(x)).collect())),
                ]),
        )
        .await
        .unwrap();
    let r = &resp.results[0];
    assert_eq!(r.error_code, 0, "{name}: {:?}", r.error_message);
    r.configs
        .iter()
        .map(|c| {
            assert!(!c.is_sensitive, "{}", c.name.as_str());
            let syn = c
                .synonyms
                .iter()
                .map(|y| {
                    (
                        y.name.to_string(),
                        y.value.as_ref().map(|v| v.to_string()),
                        y.source,
                    )
                })
                .collect();
            (
                c.name.to_string(),
                (
                    c.value.as_ref().map(|v| v.to_string()),
                    c.config_source,
                    c.read_only,
                    syn,
                ),
            )
        })
        .collect()
}

/// DescribeConfigs of a topic lists every topic config with its default
/// and source, synonyms when asked, only the asked keys when keys are
/// given; a broker's static configs are read-only.
pub async fn describe_configs_lists_every_topic_config(b: &dyn Backend) {
    let ids = b.brokers();
    let topic = unique("km-allconf");
    let mut a = admin(b).await;
    a.create_topic(
        &topic,
        &[vec![ids[0], ids[1]]],
        &[("retention.ms", "3600000")],
    )
    .await
    .unwrap();
    wait_leader(b, &topic).await;
    let n = b.name();
    let s = |x: &str| Some(x.to_string());

    let all = describe_raw(&a, ids[0], 2, &topic, None, true).await;
    let keys: Vec<&str> = all.keys().map(String::as_str).collect();
    assert_eq!(keys, TOPIC_CONFIG_KEYS, "{n}");
    assert!(all.values().all(|c| !c.2), "{n}: a topic config read-only");
    let expect = |key: &str, value: &str, source: i8, first: (&str, &str, i8)| {
        let c = &all[key];
        assert_eq!((&c.0, c.1), (&s(value), source), "{n}: {key}: {c:?}");
        assert_eq!(
            c.3.first(),
            Some(&(first.0.to_string(), s(first.1), first.2)),
            "{n}: {key}: {c:?}"
        );
    };
    expect(
        "cleanup.policy",
        "delete",
        DEFAULT_CONFIG,
        ("log.cleanup.policy", "delete", DEFAULT_CONFIG),
    );
    expect(
        "max.message.bytes",
        "1048588",
        DEFAULT_CONFIG,
        ("message.max.bytes", "1048588", DEFAULT_CONFIG),
    );
    expect(
        "retention.ms",
        "3600000",
        DYNAMIC_TOPIC_CONFIG,
        ("retention.ms", "3600000", DYNAMIC_TOPIC_CONFIG),
    );
    // Kafka 4.x's controller records a cluster-wide dynamic default.
    expect(
        "min.insync.replicas",
        "1",
        DYNAMIC_DEFAULT_BROKER_CONFIG,
        ("min.insync.replicas", "1", DYNAMIC_DEFAULT_BROKER_CONFIG),
    );
    assert_eq!(
        all["min.insync.replicas"].3.get(1),
        Some(&("min.insync.replicas".to_string(), s("1"), DEFAULT_CONFIG)),
        "{n}"
    );
    for k in REPLICAS {
        let c = &all[k];
        assert_eq!((&c.0, c.1), (&s(""), DEFAULT_CONFIG), "{n}: {k}");
    }
    // Defaults with no broker config behind them have no synonym.
    for k in ["flush.ms", "segment.ms", "remote.storage.enable"] {
        assert!(all[k].3.is_empty(), "{n}: {k}: {:?}", all[k]);
        assert_eq!(all[k].1, DEFAULT_CONFIG, "{n}: {k}");
    }

    // Without synonyms asked, none come; the keys filter is honoured.
    let asked = ["retention.ms", "cleanup.policy", "no.such.config"];
    let some = describe_raw(&a, ids[1], 2, &topic, Some(&asked), false).await;
    assert_eq!(
        some.keys().map(String::as_str).collect::<Vec<_>>(),
        ["cleanup.policy", "retention.ms"],
        "{n}"
    );
    assert!(some.values().all(|c| c.3.is_empty()), "{n}: {some:?}");
    assert_eq!(some["retention.ms"].1, DYNAMIC_TOPIC_CONFIG, "{n}");

    // A broker's static configs are read-only; a dynamic rate is not.
    a.alter_configs(&[ConfigOp {
        resource: ConfigResource::Broker(ids[0]),
        key: RATES[0].to_string(),
        op: AlterOp::Set("5000000".to_string()),
    }])
    .await
    .unwrap();
    let want = [
        "broker.id",
        "log.dirs",
        "auto.create.topics.enable",
        RATES[0],
    ];
    let broker = eventually!("the rate set", 30, {
        let c = describe_raw(&a, ids[0], 4, &ids[0].to_string(), Some(&want), true).await;
        c.contains_key(RATES[0]).then_some(c)
    });
    for k in ["broker.id", "log.dirs", "auto.create.topics.enable"] {
        assert!(broker[k].2, "{n}: {k} not read-only: {:?}", broker[k]);
    }
    assert_eq!(broker["broker.id"].1, STATIC_BROKER_CONFIG, "{n}");
    assert!(!broker[RATES[0]].2, "{n}: {:?}", broker[RATES[0]]);
    clear_throttle(&mut a, &ids, &topic).await;
}

/// The ISR of partition 0, from fresh metadata.
async fn isr_of(a: &mut Admin, topic: &str) -> Vec<BrokerId> {
    let md = a.metadata().await.unwrap();
    md.topics
        .iter()
        .find(|t| t.name.as_ref().map(|n| n.0.as_str()) == Some(topic))
        .and_then(|t| t.partitions.iter().find(|p| p.partition_index == 0))
        .map(|p| {
            let mut v: Vec<BrokerId> = p.isr_nodes.iter().map(|b| b.0).collect();
            v.sort_unstable();
            v
        })
        .unwrap_or_default()
}

/// One record with rdkafka at `acks`, without retries (a refusal is
/// otherwise retried until the message times out); the delivery result.
async fn produce_once(b: &dyn Backend, topic: &str, acks: &str) -> Result<(), RDKafkaErrorCode> {
    let p: FutureProducer = rdkafka::config::ClientConfig::new()
        .set("bootstrap.servers", b.bootstrap())
        .set("enable.idempotence", "false")
        .set("acks", acks)
        .set("retries", "0")
        .set("message.timeout.ms", "30000")
        .set("broker.address.family", "v4")
        .create()
        .expect("producer");
    p.send(
        FutureRecord::to(topic).partition(0).key("k").payload("v"),
        Duration::from_secs(30),
    )
    .await
    .map(|_| ())
    .map_err(|(e, _)| e.rdkafka_error_code().expect("a broker error"))
}

/// min.insync.replicas=3 on RF 3: with a broker stopped and out of the ISR,
/// acks=all is refused with NOT_ENOUGH_REPLICAS and acks=1 still works;
/// once the broker is back in the ISR, acks=all works again.
pub async fn min_insync_replicas_refuses_acks_all(b: &dyn Backend) {
    let ids = b.brokers();
    let topic = unique("km-minisr");
    let mut a = admin(b).await;
    a.create_topic(
        &topic,
        &[vec![ids[0], ids[1], ids[2]]],
        &[("min.insync.replicas", "3")],
    )
    .await
    .unwrap();
    wait_leader(b, &topic).await;
    let n = b.name();
    eventually!("a full ISR", 30, {
        (isr_of(&mut a, &topic).await.len() == 3).then_some(())
    });
    assert_eq!(produce_once(b, &topic, "all").await, Ok(()), "{n}");
    // Below 1 is not a value.
    let err = a
        .alter_configs(&[ConfigOp {
            resource: ConfigResource::Topic(topic.clone()),
            key: "min.insync.replicas".to_string(),
            op: AlterOp::Set("0".to_string()),
        }])
        .await
        .unwrap_err();
    assert_eq!(
        err.code().map(|c| c.code),
        Some(40),
        "{n}: INVALID_CONFIG expected: {err}"
    );

    b.stop_broker(ids[2]).await;
    eventually!("broker out of the ISR", 60, {
        (!isr_of(&mut a, &topic).await.contains(&ids[2])).then_some(())
    });
    assert_eq!(
        produce_once(b, &topic, "all").await,
        Err(RDKafkaErrorCode::NotEnoughReplicas),
        "{n}"
    );
    assert_eq!(produce_once(b, &topic, "1").await, Ok(()), "{n}");

    b.start_broker(ids[2]).await;
    eventually!("broker back in the ISR", 90, {
        (isr_of(&mut a, &topic).await.len() == 3).then_some(())
    });
    assert_eq!(produce_once(b, &topic, "all").await, Ok(()), "{n}");
    // Two acknowledged records and the acks=1 one; the refused one was
    // never appended.
    assert_eq!(high_watermark(&b.bootstrap(), &topic, 0), 3, "{n}");
}

/// Size of each partition of `topic` on broker `id` (future logs excluded).
async fn partition_sizes(a: &mut Admin, id: BrokerId, topic: &str) -> BTreeMap<i32, u64> {
    let resp = a.log_dirs(id).await.unwrap();
    let mut out = BTreeMap::new();
    for d in &resp.results {
        for t in d.topics.iter().filter(|t| t.name.0.as_str() == topic) {
            for p in t.partitions.iter().filter(|p| !p.is_future_key) {
                out.insert(p.partition_index, p.partition_size.max(0) as u64);
            }
        }
    }
    out
}

/// Writes about `bytes` of 1 kB records to `partition`, in batches of at
/// most 128 kB: batches near a fetch's 1 MiB would each fill a fetch alone
/// (Kafka then serves a partition nothing rather than split one), and the
/// sharing would be lost in how batches pack.
fn fill_in_small_batches(b: &dyn Backend, topic: &str, partition: i32, bytes: usize) {
    let mut data = String::with_capacity(bytes + bytes / 100);
    for i in 0..bytes / 1000 {
        let c = char::from(b'a' + ((i + partition as usize) % 26) as u8);
        data.extend(std::iter::repeat_n(c, 999));
        data.push('\n');
    }
    let p = partition.to_string();
    let args = [
        "-P",
        "-b",
        &b.bootstrap(),
        "-t",
        topic,
        "-p",
        &p,
        "-X",
        "acks=all",
        "-z",
        "none",
        "-X",
        "batch.size=131072",
    ];
    kcat(&args, Some(data.as_bytes()));
}

/// Kafka's `replica.fetch.max.bytes`: what one fetch takes from a partition.
const FETCH_MAX: u64 = 1 << 20;

/// Four throttled replicas copying into one broker share its follower
/// quota fetch by fetch, as Kafka's fetcher does: at every look each has
/// about a quarter of what came in (none ahead by more than a fetch), and
/// none gets more than its quarter of the rate beyond what the quota lets
/// through at once. Measured on Kafka 4.3.1; the mini-broker once copied
/// them one after another at the full rate.
pub async fn throttled_replicas_share_the_quota(b: &dyn Backend) {
    let ids = b.brokers();
    let (w, y) = (ids[0], ids[2]);
    let n = 4usize;
    // One leader, so one fetcher on y fetches all four: Kafka runs a
    // fetcher per leader broker, and two of them race for the quota.
    let leaders = [w; 4];
    let assignment: Vec<Vec<BrokerId>> = leaders.iter().map(|&l| vec![l]).collect();
    let (topic, mut a) = new_topic(b, "km-share", &assignment).await;
    wait_leader(b, &topic).await;
    let rate = 2_000_000u64;
    // Every partition's first fetch goes before the quota is looked at.
    let burst = b.quota_burst(rate) + (n as u64 - 1) * FETCH_MAX;
    let per_partition = 8_000_000usize;
    for p in 0..n as i32 {
        fill_in_small_batches(b, &topic, p, per_partition);
    }
    let size = eventually!("every partition written", 30, {
        let s = partition_sizes(&mut a, w, &topic).await;
        (s.len() == n).then_some(s)
    });
    assert!(
        size.values().all(|&s| s >= per_partition as u64),
        "{size:?}"
    );
    let followers: Vec<String> = (0..n).map(|p| format!("{p}:{y}")).collect();
    alter_throttle(
        &mut a,
        &[y],
        &topic,
        Some(&rate.to_string()),
        None,
        Some(&followers.join(",")),
    )
    .await;
    assert_configs(
        b,
        &mut a,
        &ConfigResource::Broker(y),
        &[(RATES[1], Some(&rate.to_string()))],
    )
    .await;
    let moves: Vec<_> = leaders
        .iter()
        .enumerate()
        .map(|(p, &l)| (tp(&topic, p as i32), Some(vec![l, y])))
        .collect();
    let started = std::time::Instant::now();
    let res = a.alter_reassignments(&moves).await.unwrap();
    assert!(res.iter().all(|(_, r)| r.is_ok()), "{res:?}");
    let total_size: u64 = size.values().sum();
    let mut looks = 0;
    loop {
        let copied = partition_sizes(&mut a, y, &topic).await;
        let t = started.elapsed().as_secs_f64();
        let got: Vec<u64> = (0..n as i32)
            .map(|p| copied.get(&p).copied().unwrap_or(0))
            .collect();
        let total: u64 = got.iter().sum();
        let done = (0..n as i32).any(|p| got[p as usize] >= size[&p]);
        let (min, max) = (*got.iter().min().unwrap(), *got.iter().max().unwrap());
        // Until the first partition is whole, none is ahead of another by
        // more than a fetch.
        if !done {
            assert!(
                max - min <= FETCH_MAX * 3 / 2,
                "{}: at {t:.1} s the copies stand at {got:?} of {size:?}: not shared",
                b.name()
            );
        }
        let share = burst as f64 / n as f64 + rate as f64 / n as f64 * t * 1.1;
        assert!(
            (max as f64) <= share + FETCH_MAX as f64,
            "{}: at {t:.1} s a copy has {max} B, more than its share {share:.0} of {rate} B/s: {got:?}",
            b.name()
        );
        looks += 1;
        if total >= total_size {
            eprintln!(
                "{}: {total} B in {t:.1} s into broker {y} at {rate} B/s ({burst} B let through at once), {looks} looks",
                b.name()
            );
            assert!(
                t >= 0.9 * (total_size.saturating_sub(burst)) as f64 / rate as f64,
                "{}: {total} B in {t:.1} s at {rate} B/s",
                b.name()
            );
            break;
        }
        assert!(
            t < 120.0,
            "{}: copies stand at {got:?} after {t:.0} s",
            b.name()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    clear_throttle(&mut a, &[y], &topic).await;
    eventually!(
        "moves complete",
        60,
        ongoing(&mut a, &topic).await.is_empty().then_some(())
    );
}

/// Leader, leader epoch and sorted ISR of partition 0 from fresh metadata.
async fn leadership(a: &mut Admin, topic: &str) -> Option<(BrokerId, i32, Vec<BrokerId>)> {
    let md = a.metadata().await.unwrap();
    let t = md
        .topics
        .iter()
        .find(|t| t.name.as_ref().map(|n| n.0.as_str()) == Some(topic))?;
    let p = t.partitions.iter().find(|p| p.partition_index == 0)?;
    let mut isr: Vec<BrokerId> = p.isr_nodes.iter().map(|b| b.0).collect();
    isr.sort_unstable();
    Some((p.leader_id.0, p.leader_epoch, isr))
}

/// Sends `req` to broker `id` on a connection of its own.
async fn send_to<R>(a: &mut Admin, id: BrokerId, req: &R) -> R::Response
where
    R: kafka_protocol::protocol::Request + kafka_protocol::protocol::Encodable + Send + Sync,
{
    a.metadata().await.unwrap();
    let mut conn = Connection::connect(&a.brokers[&id].addr, Duration::from_secs(10))
        .await
        .unwrap();
    conn.send(req).await.unwrap()
}

/// OffsetForLeaderEpoch for partition 0: (error, epoch, end offset).
async fn epoch_end(
    a: &mut Admin,
    id: BrokerId,
    topic: &str,
    current: i32,
    epoch: i32,
) -> (i16, i32, i64) {
    use kafka_protocol::messages::OffsetForLeaderEpochRequest;
    use kafka_protocol::messages::offset_for_leader_epoch_request::{
        OffsetForLeaderPartition, OffsetForLeaderTopic,
    };
    let req = OffsetForLeaderEpochRequest::default()
        .with_replica_id(kafka_protocol::messages::BrokerId(-1))
        .with_topics(vec![
            OffsetForLeaderTopic::default()
                .with_topic(kafka_protocol::messages::TopicName(
                    kafka_protocol::protocol::StrBytes::from_string(topic.to_string()),
                ))
                .with_partitions(vec![
                    OffsetForLeaderPartition::default()
                        .with_partition(0)
                        .with_current_leader_epoch(current)
                        .with_leader_epoch(epoch),
                ]),
        ]);
    let resp = send_to(a, id, &req).await;
    let p = &resp.topics[0].partitions[0];
    (p.error_code, p.leader_epoch, p.end_offset)
}

/// ListOffsets (latest) for partition 0 with `current_leader_epoch`: the error.
async fn list_offsets_error(a: &mut Admin, id: BrokerId, topic: &str, current: i32) -> i16 {
    use kafka_protocol::messages::ListOffsetsRequest;
    use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
    let req = ListOffsetsRequest::default()
        .with_replica_id(kafka_protocol::messages::BrokerId(-1))
        .with_topics(vec![
            ListOffsetsTopic::default()
                .with_name(kafka_protocol::messages::TopicName(
                    kafka_protocol::protocol::StrBytes::from_string(topic.to_string()),
                ))
                .with_partitions(vec![
                    ListOffsetsPartition::default()
                        .with_partition_index(0)
                        .with_current_leader_epoch(current)
                        .with_timestamp(-1),
                ]),
        ]);
    send_to(a, id, &req).await.topics[0].partitions[0].error_code
}

/// ElectLeaders for partition 0 sent to broker `via`: the partition's error.
async fn elect(
    a: &mut Admin,
    via: BrokerId,
    topic: &str,
    election_type: i8,
) -> (i16, Option<String>) {
    use kafka_protocol::messages::ElectLeadersRequest;
    use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
    let req = ElectLeadersRequest::default()
        .with_election_type(election_type)
        .with_timeout_ms(30_000)
        .with_topic_partitions(Some(vec![
            TopicPartitions::default()
                .with_topic(kafka_protocol::messages::TopicName(
                    kafka_protocol::protocol::StrBytes::from_string(topic.to_string()),
                ))
                .with_partitions(vec![0]),
        ]));
    let resp = send_to(a, via, &req).await;
    let r = &resp.replica_election_results[0].partition_result[0];
    (
        r.error_code,
        r.error_message.as_ref().map(|m| m.to_string()),
    )
}

/// Kafka's FENCED_LEADER_EPOCH and UNKNOWN_LEADER_EPOCH.
const FENCED_LEADER_EPOCH: i16 = 74;
const UNKNOWN_LEADER_EPOCH: i16 = 75;

/// A leader that took writes nobody copied, then stopped, comes back under
/// a new leader elected uncleanly with other writes: it truncates to the
/// end offset of its epoch on the new leader (OffsetForLeaderEpoch
/// answers it) and copies the new leader's records, so when it leads
/// again it serves them, never its old tail. Requests naming an old
/// leader epoch are fenced, a future one unknown.
pub async fn a_returning_ex_leader_truncates_by_leader_epoch(b: &dyn Backend) {
    let ids = b.brokers();
    let (x, y) = (ids[0], ids[1]);
    let (topic, mut a) = new_topic(b, "km-epochs", &[vec![x, y]]).await;
    wait_leader(b, &topic).await;
    let lines = |tag: &str, n: usize| -> String { (0..n).map(|i| format!("{tag}{i}\n")).collect() };
    kcat_produce(&b.bootstrap(), &topic, lines("common-", 10).as_bytes());
    eventually!("both in sync", 30, {
        leadership(&mut a, &topic)
            .await
            .filter(|(_, _, isr)| isr == &vec![x.min(y), x.max(y)])
    });
    b.stop_broker(y).await;
    let (_, old_epoch, _) = eventually!("the ISR is the leader alone", 60, {
        leadership(&mut a, &topic)
            .await
            .filter(|(l, _, isr)| *l == x && isr == &vec![x])
    });
    kcat_produce(&b.bootstrap(), &topic, lines("lost-", 5).as_bytes());
    b.stop_broker(x).await;
    b.start_broker(y).await;
    eventually!("an unclean election makes the follower the leader", 60, {
        let (code, msg) = elect(&mut a, y, &topic, 1).await;
        match leadership(&mut a, &topic).await {
            Some((l, _, _)) if l == y => Some(()),
            _ => {
                eprintln!("{}: unclean election: {code} {msg:?}", b.name());
                None
            }
        }
    });
    let (_, new_epoch, _) = leadership(&mut a, &topic).await.unwrap();
    assert!(
        new_epoch > old_epoch,
        "{}: {new_epoch} after {old_epoch}",
        b.name()
    );
    kcat_produce(&b.bootstrap(), &topic, lines("new-", 7).as_bytes());
    // The old leader's epoch ended on the new leader where the new one began.
    let (code, epoch, end) = eventually!("the leader answers for its epoch", 30, {
        let r = epoch_end(&mut a, y, &topic, new_epoch, old_epoch).await;
        (r.0 == 0).then_some(r)
    });
    assert_eq!(
        (code, end),
        (0, 10),
        "{}: end of epoch {old_epoch}",
        b.name()
    );
    assert!(epoch <= old_epoch, "{}: epoch {epoch}", b.name());
    assert_eq!(
        epoch_end(&mut a, y, &topic, new_epoch, new_epoch).await,
        (0, new_epoch, 17),
        "{}: the current epoch ends at the log end",
        b.name()
    );
    for (current, want) in [
        (old_epoch, FENCED_LEADER_EPOCH),
        (new_epoch + 1, UNKNOWN_LEADER_EPOCH),
    ] {
        assert_eq!(
            epoch_end(&mut a, y, &topic, current, old_epoch).await.0,
            want,
            "{}",
            b.name()
        );
        assert_eq!(
            list_offsets_error(&mut a, y, &topic, current).await,
            want,
            "{}",
            b.name()
        );
    }
    assert_eq!(
        list_offsets_error(&mut a, y, &topic, new_epoch).await,
        0,
        "{}",
        b.name()
    );
    assert_eq!(
        list_offsets_error(&mut a, y, &topic, -1).await,
        0,
        "{}",
        b.name()
    );

    b.start_broker(x).await;
    eventually!("the old leader caught up", 60, {
        leadership(&mut a, &topic)
            .await
            .filter(|(_, _, isr)| isr.contains(&x))
    });
    eventually!("the old leader leads again", 60, {
        let _ = elect(&mut a, x, &topic, 0).await;
        leadership(&mut a, &topic).await.filter(|(l, _, _)| *l == x)
    });
    let expected: Vec<String> = lines("common-", 10)
        .lines()
        .chain(lines("new-", 7).lines())
        .enumerate()
        .map(|(o, v)| format!("{o} {v}"))
        .collect();
    assert_eq!(kcat_consume_all(b, &topic), expected, "{}", b.name());
}

/// rdkafka with `enable.idempotence=true` produces through a leader
/// failover: every record is acknowledged, and the partition holds each
/// exactly once, in the order sent.
///
/// Whether rdkafka retries a batch the old leader had already replicated
/// depends on timing, so such a retry is also forced, with no fault but
/// a lost answer: a raw idempotent producer's batch is sent to the old
/// leader and its connection closed unread once the batch is replicated
/// (the leader appended, the ack never arrived); after the failover the
/// same batch goes to the new leader, which must acknowledge it at its
/// first offset, from the producer state it rebuilt out of the replicated
/// batch headers, and not append it again.
pub async fn idempotent_producer_survives_a_leader_failover(b: &dyn Backend) {
    let ids = b.brokers();
    let (topic, mut a) = new_topic(b, "km-idempotent", &[vec![ids[0], ids[1], ids[2]]]).await;
    let old_leader = wait_leader(b, &topic).await;
    let bootstrap = b.bootstrap();

    // The raw producer's topic, on the same replicas and so the same leader.
    let raw = unique("km-idempotent-raw");
    a.create_topic(&raw, &[vec![ids[0], ids[1], ids[2]]], &[])
        .await
        .unwrap();
    assert_eq!(wait_leader(b, &raw).await, old_leader, "{}", b.name());
    let (pid, epoch) = init_producer_id(&mut a, old_leader).await;
    let lost = super::acks::batch_request(&raw, 0, Some((pid, epoch, 0)), 0, 3);
    {
        a.metadata().await.unwrap();
        let mut conn = Connection::connect(&a.brokers[&old_leader].addr, Duration::from_secs(10))
            .await
            .unwrap();
        conn.send_without_response(&lost, super::acks::PRODUCE_BY_NAME)
            .await
            .unwrap();
        let (bs, r) = (bootstrap.clone(), raw.clone());
        eventually!("the unanswered batch replicated", 30, {
            let (bs, r) = (bs.clone(), r.clone());
            let hw = tokio::task::spawn_blocking(move || high_watermark(&bs, &r, 0))
                .await
                .unwrap();
            (hw == 3).then_some(())
        });
        // Dropped unread here: the acknowledgement is lost.
    }

    let producer = producer_with(&bootstrap, true);
    let n = 2000;
    let mut pending = Vec::new();
    for i in 0..n {
        pending.push(send_checked(&producer, &topic, i));
        if i == n / 2 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            b.stop_broker(old_leader).await;
        }
        if i % 100 == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let mut failed = Vec::new();
    for (i, f) in pending.into_iter().enumerate() {
        if !matches!(f.await, Ok(Ok(_))) {
            failed.push(i);
        }
    }
    let got = consume_all_blocking(&bootstrap, &topic, 1, n).await;
    let (bs, t) = (bootstrap.clone(), topic.clone());
    let end = tokio::task::spawn_blocking(move || high_watermark(&bs, &t, 0))
        .await
        .unwrap();

    // The producer retries its unanswered batch, then goes on.
    let new_leader = eventually!("a new leader for the raw topic", 60, {
        leadership(&mut a, &raw)
            .await
            .and_then(|(l, _, _)| (l >= 0 && l != old_leader).then_some(l))
    });
    let addr = a.brokers[&new_leader].addr.clone();
    let retried = super::acks::produce_at(&addr, &lost).await;
    let next = super::acks::produce_at(
        &addr,
        &super::acks::batch_request(&raw, 0, Some((pid, epoch, 3)), 3, 1),
    )
    .await;
    // Right after a failover a read may start late (the new leader's high
    // watermark catches up with its followers' fetches): read until the
    // four records are there, or more.
    let raw_lines = eventually!("the raw topic's records", 30, {
        let lines = kcat_consume_all(b, &raw);
        (lines.len() >= 4).then_some(lines)
    });
    b.start_broker(old_leader).await;

    assert_eq!(end, n as i64, "{}: records in the partition", b.name());
    assert!(
        failed.is_empty(),
        "{}: {} not acknowledged, e.g. {:?}",
        b.name(),
        failed.len(),
        &failed[..failed.len().min(5)]
    );
    let keys: Vec<usize> = got
        .iter()
        .map(|(_, _, k, _)| k[1..].parse().unwrap())
        .collect();
    assert_eq!(
        keys,
        (0..n).collect::<Vec<_>>(),
        "{}: each record once, in the order sent",
        b.name()
    );
    for (_, _, k, v) in &got {
        assert_eq!(v, &checked_value(k[1..].parse().unwrap()));
    }
    assert_eq!(
        retried,
        (0, 0),
        "{}: the retry acknowledged at its first offset",
        b.name()
    );
    assert_eq!(next, (0, 3), "{}: the next batch after it", b.name());
    let expected: Vec<String> = (0..4).map(|i| format!("{i} v")).collect();
    assert_eq!(raw_lines, expected, "{}: written once", b.name());
}

/// A producer id and epoch from InitProducerId (no transactions) at `id`.
async fn init_producer_id(a: &mut Admin, id: BrokerId) -> (i64, i16) {
    use kafka_protocol::messages::InitProducerIdRequest;
    // Kafka answers COORDINATOR_LOAD_IN_PROGRESS until its producer-id
    // block is allocated.
    let init = eventually!("a producer id", 30, {
        let r = send_to(
            a,
            id,
            &InitProducerIdRequest::default()
                .with_transactional_id(None)
                .with_transaction_timeout_ms(60_000)
                .with_producer_id(kafka_protocol::messages::ProducerId(-1))
                .with_producer_epoch(-1),
        )
        .await;
        (r.error_code != 14).then_some(r)
    });
    assert_eq!(init.error_code, 0);
    assert!(init.producer_id.0 >= 0, "producer id {init:?}");
    (init.producer_id.0, init.producer_epoch)
}

/// One idempotent batch of `n` records from `pid`/`epoch` at sequence
/// `seq`, produced (acks=all) to partition 0 through broker `leader`:
/// (error, base offset).
async fn produce_idempotent(
    a: &mut Admin,
    leader: BrokerId,
    topic: &str,
    (pid, epoch, seq): (i64, i16, i32),
    n: usize,
) -> (i16, i64) {
    a.metadata().await.unwrap();
    let req = super::acks::batch_request(topic, 0, Some((pid, epoch, seq)), seq, n);
    super::acks::produce_at(&a.brokers[&leader].addr, &req).await
}

/// Kafka's OUT_OF_ORDER_SEQUENCE_NUMBER.
const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;

/// An idempotent producer's retried batch is acknowledged with the offset
/// it first got and not appended again; a gap in sequences is refused.
pub async fn retried_idempotent_batches_are_written_once(b: &dyn Backend) {
    let ids = b.brokers();
    let (topic, mut a) = new_topic(b, "km-dedup", &[vec![ids[0], ids[1]]]).await;
    let leader = wait_leader(b, &topic).await;
    let (pid, epoch) = init_producer_id(&mut a, leader).await;
    let a = &mut a;
    let t = topic.as_str();
    let p = |seq| (pid, epoch, seq);
    assert_eq!(
        produce_idempotent(a, leader, t, p(0), 3).await,
        (0, 0),
        "{}",
        b.name()
    );
    assert_eq!(
        produce_idempotent(a, leader, t, p(3), 2).await,
        (0, 3),
        "{}",
        b.name()
    );
    assert_eq!(
        produce_idempotent(a, leader, t, p(0), 3).await,
        (0, 0),
        "{}: a retry of the first batch",
        b.name()
    );
    assert_eq!(
        produce_idempotent(a, leader, t, p(3), 2).await,
        (0, 3),
        "{}: a retry of the last batch",
        b.name()
    );
    assert_eq!(
        produce_idempotent(a, leader, t, p(9), 1).await.0,
        OUT_OF_ORDER_SEQUENCE_NUMBER,
        "{}: a gap",
        b.name()
    );
    assert_eq!(
        produce_idempotent(a, leader, t, p(5), 1).await,
        (0, 5),
        "{}",
        b.name()
    );
    let lines = kcat_consume_all(b, &topic);
    let expected: Vec<String> = (0..6).map(|i| format!("{i} v")).collect();
    assert_eq!(lines, expected, "{}", b.name());
}

/// ElectLeaders refusals carry Kafka's codes and words.
pub async fn elect_leaders_refusals_in_kafkas_words(b: &dyn Backend) {
    let ids = b.brokers();
    let (topic, mut a) = new_topic(b, "km-elect-words", &[vec![ids[0], ids[1]]]).await;
    wait_leader(b, &topic).await;
    let not_needed = (
        84,
        Some("Leader election not needed for topic partition.".to_string()),
    );
    assert_eq!(
        elect(&mut a, ids[2], &topic, 0).await,
        not_needed,
        "{}: preferred leads",
        b.name()
    );
    assert_eq!(
        elect(&mut a, ids[2], &topic, 1).await,
        not_needed,
        "{}: unclean with a leader",
        b.name()
    );
    b.stop_broker(ids[0]).await;
    eventually!("the other replica leads", 60, {
        leadership(&mut a, &topic)
            .await
            .filter(|(l, _, isr)| *l == ids[1] && isr == &vec![ids[1]])
    });
    let got = elect(&mut a, ids[2], &topic, 0).await;
    b.start_broker(ids[0]).await;
    assert_eq!(
        got,
        (
            80,
            Some("The preferred leader was not available.".to_string())
        ),
        "{}: preferred leader down",
        b.name()
    );
}
