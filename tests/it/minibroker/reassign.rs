//! KIP-455 reassignments over the wire, with KIP-73 throttles pinning the
//! move so that its in-flight state can be observed (FIELD-GUIDE §3, §4).

use std::time::{Duration, Instant};

use kafka_protocol::messages::alter_partition_reassignments_request::{
    ReassignablePartition, ReassignableTopic,
};
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::*;

use super::*;

const BROKER: i8 = 4;
const TOPIC: i8 = 2;

/// IncrementalAlterConfigs SET (value Some) or DELETE (None) on one resource,
/// sent to `via`; returns the resource's error code.
pub async fn set_configs(
    c: &ClusterHandle,
    via: i32,
    resource_type: i8,
    name: &str,
    configs: &[(&str, Option<&str>)],
) -> i16 {
    let req = IncrementalAlterConfigsRequest::default().with_resources(vec![
        AlterConfigsResource::default()
            .with_resource_type(resource_type)
            .with_resource_name(sb(name))
            .with_configs(
                configs
                    .iter()
                    .map(|(k, v)| {
                        AlterableConfig::default()
                            .with_name(sb(k))
                            .with_config_operation(if v.is_some() { 0 } else { 1 })
                            .with_value(v.map(sb))
                    })
                    .collect(),
            ),
    ]);
    client(c, via)
        .await
        .send_version(&req, 1)
        .await
        .unwrap()
        .responses[0]
        .error_code
}

/// Throttles the move of `topic` partition 0 like the official tool:
/// existing replicas in the leader list, new ones in the follower list,
/// both rates on every broker involved.
pub async fn throttle(c: &ClusterHandle, topic: &str, existing: &[i32], new: &[i32], rate: u64) {
    let list = |bs: &[i32]| {
        bs.iter()
            .map(|b| format!("0:{b}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let (l, f) = (list(existing), list(new));
    let code = set_configs(
        c,
        1,
        TOPIC,
        topic,
        &[
            ("leader.replication.throttled.replicas", Some(&l)),
            ("follower.replication.throttled.replicas", Some(&f)),
        ],
    )
    .await;
    assert_eq!(code, 0);
    let rate = rate.to_string();
    for b in existing.iter().chain(new) {
        let code = set_configs(
            c,
            *b,
            BROKER,
            &b.to_string(),
            &[
                ("leader.replication.throttled.rate", Some(&rate)),
                ("follower.replication.throttled.rate", Some(&rate)),
            ],
        )
        .await;
        assert_eq!(code, 0, "broker {b}");
    }
}

pub async fn unthrottle(c: &ClusterHandle, brokers: &[i32]) {
    for b in brokers {
        let code = set_configs(
            c,
            *b,
            BROKER,
            &b.to_string(),
            &[
                ("leader.replication.throttled.rate", None),
                ("follower.replication.throttled.rate", None),
            ],
        )
        .await;
        assert_eq!(code, 0);
    }
}

/// Submits a target (None = cancel) for one partition via `via`; returns its error code.
pub async fn reassign(
    c: &ClusterHandle,
    via: i32,
    topic: &str,
    partition: i32,
    target: Option<&[i32]>,
) -> i16 {
    let req = AlterPartitionReassignmentsRequest::default()
        .with_timeout_ms(5000)
        .with_topics(vec![
            ReassignableTopic::default()
                .with_name(tn(topic))
                .with_partitions(vec![
                    ReassignablePartition::default()
                        .with_partition_index(partition)
                        .with_replicas(target.map(|t| t.iter().copied().map(BrokerId).collect())),
                ]),
        ]);
    let resp = client(c, via).await.send_version(&req, 0).await.unwrap();
    assert_eq!(resp.error_code, 0);
    resp.responses[0].partitions[0].error_code
}

/// Ongoing moves as (topic, partition, replicas, adding, removing).
pub async fn ongoing(
    c: &ClusterHandle,
    via: i32,
) -> Vec<(String, i32, Vec<i32>, Vec<i32>, Vec<i32>)> {
    let resp = client(c, via)
        .await
        .send_version(
            &ListPartitionReassignmentsRequest::default().with_topics(None),
            0,
        )
        .await
        .unwrap();
    assert_eq!(resp.error_code, 0);
    let ids = |v: &[BrokerId]| v.iter().map(|b| b.0).collect::<Vec<_>>();
    resp.topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(|p| {
                (
                    t.name.0.to_string(),
                    p.partition_index,
                    ids(&p.replicas),
                    ids(&p.adding_replicas),
                    ids(&p.removing_replicas),
                )
            })
        })
        .collect()
}

/// Fills partition 0 of `topic` (leader 1) with `batches` batches of
/// 50 records; returns the bytes produced.
async fn load(c: &ClusterHandle, topic: &str, batches: usize) -> i64 {
    let mut cl = client(c, 1).await;
    let mut bytes = 0i64;
    for i in 0..batches {
        let b = batch(i * 50, 50, 200);
        bytes += b.len() as i64;
        assert_eq!(produce(&mut cl, topic, 0, b, -1).await.0, 0);
    }
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_move_shows_progress_then_completes_with_data_intact() {
    let c = start(5, 0, &[]).await;
    create_topic(&c, "mv", &[&[1, 2, 3]]).await;
    // ~2.1 MB: a throttled follower's first fetch (1 MiB) goes before
    // the quota is looked at, as Kafka's does.
    let produced = load(&c, "mv", 180).await;
    let hw = latest_offset(&c, "mv", 0).await;
    assert_eq!(hw, 180 * 50);
    let before = fetch_all(&c, "mv", 0).await;
    assert_eq!(before.len(), 9000);
    for b in [1, 2, 3] {
        assert_eq!(
            replica_size(&c, b, "mv-0").await,
            Some(produced),
            "broker {b} holds every produced byte"
        );
    }

    // Pin the move: 100 KB/s would take ~10 s after the first fetch.
    throttle(&c, "mv", &[1, 2, 3], &[4, 5], 100_000).await;
    assert_eq!(reassign(&c, 2, "mv", 0, Some(&[4, 5, 3])).await, 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let moving = ongoing(&c, 5).await;
    assert_eq!(
        moving,
        vec![(
            "mv".to_string(),
            0,
            vec![4, 5, 3, 1, 2],
            vec![4, 5],
            vec![1, 2]
        )]
    );
    let (leader, replicas, isr) = placement(&c, "mv", 0).await;
    assert_eq!(
        (leader, replicas),
        (1, vec![4, 5, 3, 1, 2]),
        "leader stays until the move completes"
    );
    assert!(
        !isr.contains(&4) && !isr.contains(&5),
        "throttled new replicas are out of sync: {isr:?}"
    );
    let partial = replica_size(&c, 4, "mv-0")
        .await
        .expect("adding replica exists");
    assert!(
        partial > 0 && partial < produced,
        "partial copy {partial} of {produced}"
    );

    // Lift the throttle: the move completes.
    unthrottle(&c, &[1, 2, 3, 4, 5]).await;
    eventually(Duration::from_secs(10), "move completes", || async {
        ongoing(&c, 1).await.is_empty()
    })
    .await;
    let (leader, replicas, isr) = placement(&c, "mv", 0).await;
    assert_eq!(replicas, vec![4, 5, 3]);
    assert_eq!(
        leader, 4,
        "old leader 1 is not a target, so leadership moved to the first target"
    );
    let mut sorted_isr = isr.clone();
    sorted_isr.sort();
    assert_eq!(sorted_isr, vec![3, 4, 5]);
    for b in [1, 2] {
        assert_eq!(
            replica_size(&c, b, "mv-0").await,
            None,
            "removed replica on {b} deleted"
        );
    }
    for b in [3, 4, 5] {
        assert_eq!(
            replica_size(&c, b, "mv-0").await,
            Some(produced),
            "broker {b}"
        );
    }
    assert_eq!(
        latest_offset(&c, "mv", 0).await,
        hw,
        "high watermark unchanged"
    );
    assert_eq!(
        fetch_all(&c, "mv", 0).await,
        before,
        "offsets, keys and values intact"
    );
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_move_is_never_faster_than_the_rate() {
    let c = start(4, 0, &[]).await;
    create_topic(&c, "rate", &[&[1, 2]]).await;
    let produced = load(&c, "rate", 130).await; // ~1.5 MB
    let rate = 200_000u64;
    throttle(&c, "rate", &[1, 2], &[3], rate).await;
    let t0 = Instant::now();
    assert_eq!(reassign(&c, 1, "rate", 0, Some(&[1, 2, 3])).await, 0);
    eventually(Duration::from_secs(20), "move completes", || async {
        ongoing(&c, 1).await.is_empty()
    })
    .await;
    let secs = t0.elapsed().as_secs_f64();
    // The first fetch goes unpaid, as Kafka's does.
    let fetch = kafka_migrate::minibroker::state::REPLICA_FETCH_MAX_BYTES as f64;
    let ideal = (produced as f64 - fetch) / rate as f64;
    // Kafka's own test: at least 0.9x the time the throttle implies.
    assert!(
        secs >= 0.9 * ideal,
        "copied {produced} B in {secs:.2}s, throttle implies {ideal:.2}s"
    );
    // Loose upper bound: a loaded CI machine may starve the replication
    // task, and a fetch is paid after it went, so the last one waits for
    // the debt of the one before.
    let whole = produced as f64 / rate as f64;
    assert!(
        secs <= 2.0 * whole + 1.0,
        "copied {produced} B in {secs:.2}s, the whole at the rate takes {whole:.2}s"
    );
    assert_eq!(placement(&c, "rate", 0).await.1, vec![1, 2, 3]);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_reverts_to_original_and_second_cancel_is_refused() {
    let c = start(5, 0, &[]).await;
    create_topic(&c, "cx", &[&[1, 2, 3]]).await;
    // More than the first fetch (1 MiB), which goes unpaid.
    let produced = load(&c, "cx", 120).await;
    throttle(&c, "cx", &[1, 2, 3], &[4, 5], 20_000).await;
    assert_eq!(reassign(&c, 3, "cx", 0, Some(&[1, 4, 5])).await, 0);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(ongoing(&c, 1).await.len(), 1);
    assert!(replica_size(&c, 4, "cx-0").await.is_some());

    assert_eq!(
        reassign(&c, 4, "cx", 0, None).await,
        0,
        "cancel accepted by any broker"
    );
    assert!(ongoing(&c, 1).await.is_empty());
    let (leader, mut replicas, _) = placement(&c, "cx", 0).await;
    replicas.sort();
    assert_eq!((leader, replicas), (1, vec![1, 2, 3]));
    for b in [4, 5] {
        assert_eq!(
            replica_size(&c, b, "cx-0").await,
            None,
            "adding replica on {b} deleted"
        );
    }
    assert_eq!(replica_size(&c, 2, "cx-0").await, Some(produced));
    // regression: a second cancel is NO_REASSIGNMENT_IN_PROGRESS, not a crash or a silent success.
    assert_eq!(reassign(&c, 1, "cx", 0, None).await, 85);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_target_overrides_a_running_move_like_kafka() {
    let c = start(5, 0, &[]).await;
    create_topic(&c, "ov", &[&[1, 2]]).await;
    load(&c, "ov", 120).await;
    throttle(&c, "ov", &[1, 2], &[3, 4], 20_000).await;
    assert_eq!(reassign(&c, 1, "ov", 0, Some(&[1, 3])).await, 0);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        ongoing(&c, 1).await,
        vec![("ov".to_string(), 0, vec![1, 3, 2], vec![3], vec![2])]
    );
    assert!(replica_size(&c, 3, "ov-0").await.is_some());

    // Override, as Kafka 4.x does it: the new target followed by every
    // current replica outside it (original first, then the abandoned
    // adding one), which are now all removing.
    assert_eq!(reassign(&c, 2, "ov", 0, Some(&[4, 1])).await, 0);
    let moving = ongoing(&c, 1).await;
    assert_eq!(
        moving,
        vec![("ov".to_string(), 0, vec![4, 1, 2, 3], vec![4], vec![2, 3])]
    );
    assert!(
        replica_size(&c, 3, "ov-0").await.is_some(),
        "abandoned replica kept until completion"
    );

    unthrottle(&c, &[1, 2, 3, 4, 5]).await;
    eventually(Duration::from_secs(10), "override completes", || async {
        ongoing(&c, 1).await.is_empty()
    })
    .await;
    let (leader, replicas, _) = placement(&c, "ov", 0).await;
    assert_eq!(replicas, vec![4, 1]);
    assert_eq!(
        leader, 1,
        "leader 1 is a target: it stays until a preferred election"
    );
    for b in [2, 3] {
        assert_eq!(
            replica_size(&c, b, "ov-0").await,
            None,
            "removed replica on {b} deleted"
        );
    }

    // Preferred election moves leadership to 4; a second one is not needed.
    let elect = |via| {
        let c = &c;
        async move {
            let req = ElectLeadersRequest::default()
                .with_election_type(0)
                .with_topic_partitions(Some(vec![
                    kafka_protocol::messages::elect_leaders_request::TopicPartitions::default()
                        .with_topic(tn("ov"))
                        .with_partitions(vec![0]),
                ]));
            let resp = client(c, via).await.send_version(&req, 2).await.unwrap();
            resp.replica_election_results[0].partition_result[0].error_code
        }
    };
    assert_eq!(elect(3).await, 0);
    assert_eq!(placement(&c, "ov", 0).await.0, 4);
    assert_eq!(elect(3).await, 84, "ELECTION_NOT_NEEDED");
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_reassignments_get_kafka_error_codes() {
    let c = start(3, 0, &["ok:1:2"]).await;
    assert_eq!(
        reassign(&c, 1, "ok", 0, Some(&[1, 99])).await,
        39,
        "unknown broker"
    );
    assert_eq!(
        reassign(&c, 1, "ok", 0, Some(&[1, 1])).await,
        39,
        "repeated broker"
    );
    assert_eq!(
        reassign(&c, 1, "ok", 7, Some(&[1, 2])).await,
        3,
        "unknown partition"
    );
    assert_eq!(
        reassign(&c, 1, "nope", 0, Some(&[1, 2])).await,
        3,
        "unknown topic"
    );
    assert_eq!(
        reassign(&c, 1, "ok", 0, None).await,
        85,
        "cancel of nothing"
    );
    // A pure reorder completes at once and never shows as ongoing.
    let (_, replicas, _) = placement(&c, "ok", 0).await;
    let reordered: Vec<i32> = replicas.iter().rev().copied().collect();
    assert_eq!(reassign(&c, 2, "ok", 0, Some(&reordered)).await, 0);
    assert!(ongoing(&c, 1).await.is_empty());
    assert_eq!(placement(&c, "ok", 0).await.1, reordered);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_after_override_keeps_the_abandoned_replica_as_kafka_does() {
    let c = start(4, 0, &[]).await;
    create_topic(&c, "co", &[&[1, 2]]).await;
    load(&c, "co", 120).await;
    throttle(&c, "co", &[1, 2], &[3, 4], 1_000).await;
    assert_eq!(reassign(&c, 1, "co", 0, Some(&[2, 3])).await, 0);
    assert_eq!(reassign(&c, 1, "co", 0, Some(&[2, 4])).await, 0);
    assert_eq!(
        ongoing(&c, 1).await,
        vec![("co".to_string(), 0, vec![2, 4, 1, 3], vec![4], vec![1, 3])]
    );
    // regression: parity with Kafka 4.x, cancel reverts to replicas - adding.
    assert_eq!(reassign(&c, 1, "co", 0, None).await, 0);
    assert!(ongoing(&c, 1).await.is_empty());
    let mut replicas = placement(&c, "co", 0).await.1;
    replicas.sort();
    assert_eq!(replicas, vec![1, 2, 3]);
    assert_eq!(
        replica_size(&c, 4, "co-0").await,
        None,
        "the adding replica is deleted"
    );
    c.shutdown().await;
}
