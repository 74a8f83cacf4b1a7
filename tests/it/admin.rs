//! The wire client as the executor sees it: `ClusterAdmin for kafka::Admin`
//! against an in-test mini-broker, and its retries when brokers go away
//! and come back mid-call.

use std::time::{Duration, Instant};

use kafka_migrate::kafka::{Admin, ClientSettings, KafkaError};
use kafka_migrate::model::TopicPartition;
use kafka_migrate::model::live::{AlterOp, ClusterAdmin, ConfigOp, ConfigResource, ErrorCode};

use super::minibroker::{batch, client, create_topic, produce, replica_size, start};

fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition {
        topic: topic.to_string(),
        partition,
    }
}

fn op(resource: &ConfigResource, key: &str, op: AlterOp) -> ConfigOp {
    ConfigOp {
        resource: resource.clone(),
        key: key.to_string(),
        op,
    }
}

const LEADER_RATE: &str = "leader.replication.throttled.rate";
const FOLLOWER_RATE: &str = "follower.replication.throttled.rate";
const LEADER_REPLICAS: &str = "leader.replication.throttled.replicas";
const FOLLOWER_REPLICAS: &str = "follower.replication.throttled.replicas";

async fn admin_via(c: &kafka_migrate::minibroker::ClusterHandle, broker: i32) -> Admin {
    Admin::connect(
        &c.broker_addr(broker).unwrap().to_string(),
        Duration::from_secs(10),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configs_read_back_only_what_is_set_on_the_resource_itself() {
    let c = start(3, 0, &["t:2:2", "u:1:1"]).await;
    let mut a = admin_via(&c, 1).await;
    let (b2, b3) = (ConfigResource::Broker(2), ConfigResource::Broker(3));
    let (t, u) = (
        ConfigResource::Topic("t".into()),
        ConfigResource::Topic("u".into()),
    );
    // Broker resources are sent to their broker (the mini-broker, as
    // Kafka, refuses them elsewhere); this admin's "any" broker is 1.
    a.alter_configs(&[
        op(&b3, LEADER_RATE, AlterOp::Set("1000".into())),
        op(&b2, FOLLOWER_RATE, AlterOp::Set("2000".into())),
        op(&t, LEADER_REPLICAS, AlterOp::Set("0:1".into())),
        op(&u, FOLLOWER_REPLICAS, AlterOp::Set("*".into())),
    ])
    .await
    .unwrap();
    let keys = [
        LEADER_RATE,
        FOLLOWER_RATE,
        LEADER_REPLICAS,
        FOLLOWER_REPLICAS,
    ];
    let got = a
        .describe_configs(
            &[
                ConfigResource::Broker(1),
                b2.clone(),
                b3.clone(),
                t.clone(),
                u.clone(),
            ],
            &keys,
        )
        .await
        .unwrap();
    let want: Vec<((ConfigResource, String), String)> = vec![
        ((b2.clone(), FOLLOWER_RATE.into()), "2000".into()),
        ((b3.clone(), LEADER_RATE.into()), "1000".into()),
        ((t.clone(), LEADER_REPLICAS.into()), "0:1".into()),
        ((u.clone(), FOLLOWER_REPLICAS.into()), "*".into()),
    ];
    // The unset throttle lists, which the broker reports as empty defaults,
    // and broker 1's nothing are absent.
    assert_eq!(got.into_iter().collect::<Vec<_>>(), want);
    // No keys: every dynamic value of the resource, none of its static ones
    // (broker.id, log.dirs).
    let all = a
        .describe_configs(std::slice::from_ref(&b3), &[])
        .await
        .unwrap();
    assert_eq!(all.len(), 1, "{all:?}");

    // APPEND adds items not yet listed, SUBTRACT removes them; DELETE unsets.
    a.alter_configs(&[op(
        &t,
        LEADER_REPLICAS,
        AlterOp::Append(vec!["0:1".into(), "1:2".into(), "1:3".into()]),
    )])
    .await
    .unwrap();
    a.alter_configs(&[op(
        &t,
        LEADER_REPLICAS,
        AlterOp::Subtract(vec!["0:1".into()]),
    )])
    .await
    .unwrap();
    a.alter_configs(&[op(&b3, LEADER_RATE, AlterOp::Delete)])
        .await
        .unwrap();
    let got = a
        .describe_configs(&[b3.clone(), t.clone()], &keys)
        .await
        .unwrap();
    assert_eq!(
        got.into_iter().collect::<Vec<_>>(),
        vec![((t.clone(), LEADER_REPLICAS.into()), "1:2,1:3".into())]
    );

    // A refused resource is an error naming it.
    let e = a
        .alter_configs(&[op(&b3, LEADER_RATE, AlterOp::Set("x".into()))])
        .await
        .unwrap_err();
    let msg = e.to_string();
    let at = c.broker_addr(3).unwrap();
    assert!(
        msg.starts_with(&format!(
            "IncrementalAlterConfigs to {at}: broker 3: INVALID_CONFIG (40)"
        )),
        "{msg}"
    );
    assert!(e.code().is_some(), "{e:?}");

    // A refusal does not stop the rest: broker 3 refuses, broker 2 and
    // topic t still change (a restore puts back all it can), and the
    // error is the first refusal.
    let e = a
        .alter_configs(&[
            op(&b2, LEADER_RATE, AlterOp::Set("x".into())),
            op(&b3, LEADER_RATE, AlterOp::Set("y".into())),
            op(
                &ConfigResource::Broker(1),
                LEADER_RATE,
                AlterOp::Set("3000".into()),
            ),
            op(&b3, FOLLOWER_RATE, AlterOp::Delete),
            op(&t, LEADER_REPLICAS, AlterOp::Delete),
        ])
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("broker 2: INVALID_CONFIG (40)"),
        "{e}"
    );
    let got = a
        .describe_configs(&[ConfigResource::Broker(1), t.clone()], &keys)
        .await
        .unwrap();
    assert_eq!(
        got.into_iter().collect::<Vec<_>>(),
        vec![(
            (ConfigResource::Broker(1), LEADER_RATE.into()),
            "3000".into()
        )],
        "broker 1 changed after 2 and 3 refused; t's list deleted"
    );
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_sizes_sum_each_brokers_log_dirs() {
    let c = start(3, 0, &[]).await;
    create_topic(&c, "s", &[&[1, 2], &[2, 3]]).await;
    let mut cl = client(&c, 1).await;
    assert_eq!(produce(&mut cl, "s", 0, batch(0, 50, 1000), -1).await.0, 0);
    let mut a = admin_via(&c, 3).await;
    let sizes = a.replica_sizes(&[1, 2, 3]).await.unwrap();
    let on = |b: i32, p: i32| sizes.get(&tp("s", p)).and_then(|m| m.get(&b)).copied();
    let leader_size = replica_size(&c, 1, "s-0").await.unwrap() as u64;
    assert!(leader_size > 50_000, "{leader_size}");
    assert_eq!(on(1, 0), Some(leader_size));
    assert_eq!(
        on(2, 0),
        Some(replica_size(&c, 2, "s-0").await.unwrap() as u64)
    );
    assert_eq!(on(3, 0), None, "broker 3 holds no replica of s-0");
    assert_eq!(on(3, 1), Some(0));
    // Only the brokers asked about.
    let only = a.replica_sizes(&[3]).await.unwrap();
    assert_eq!(only.get(&tp("s", 0)), None);
    assert_eq!(
        only[&tp("s", 1)].keys().copied().collect::<Vec<_>>(),
        vec![3]
    );
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moves_show_in_the_cluster_and_come_back_per_partition() {
    let c = start(4, 0, &[]).await;
    create_topic(&c, "m", &[&[1, 2], &[2, 3]]).await;
    let mut a = admin_via(&c, 1).await;
    // Broker 4 copies nothing while paused: the move stays in flight.
    c.pause_replication(4, true).unwrap();
    let mut cl = client(&c, 1).await;
    assert_eq!(produce(&mut cl, "m", 0, batch(0, 10, 100), -1).await.0, 0);
    let res = a
        .alter_reassignments(&[
            (tp("m", 0), Some(vec![2, 4])),
            (tp("m", 1), None),
            (tp("m", 9), Some(vec![1])),
        ])
        .await
        .unwrap();
    let codes: Vec<(String, i16)> = res
        .iter()
        .map(|(tp, r)| (tp.to_string(), r.as_ref().err().map_or(0, |e| e.code)))
        .collect();
    assert_eq!(
        codes,
        vec![
            ("m-0".into(), 0),
            ("m-1".into(), ErrorCode::NO_REASSIGNMENT_IN_PROGRESS),
            ("m-9".into(), 3),
        ]
    );
    let moving = a.list_reassignments().await.unwrap();
    assert_eq!(moving.len(), 1, "{moving:?}");
    assert_eq!(moving[0].tp, tp("m", 0));
    assert_eq!(moving[0].target(), vec![2, 4]);
    let cluster = a.cluster().await.unwrap();
    let p = cluster.partition(&tp("m", 0)).unwrap();
    let f = p.in_flight.as_ref().expect("the move is recorded");
    assert_eq!(
        (f.target.clone(), f.adding.clone(), f.removing.clone()),
        (vec![2, 4], vec![4], vec![1])
    );
    assert!(cluster.partition(&tp("m", 1)).unwrap().in_flight.is_none());
    assert_eq!(cluster.brokers.len(), 4);

    // Cancel, then a preferred election: m-1 is led by 2 already.
    let res = a.alter_reassignments(&[(tp("m", 0), None)]).await.unwrap();
    assert!(res[0].1.is_ok(), "{res:?}");
    assert!(a.list_reassignments().await.unwrap().is_empty());
    let res = a.elect_preferred(&[tp("m", 1)]).await.unwrap();
    assert_eq!(
        res[0].1.as_ref().unwrap_err().code,
        ErrorCode::ELECTION_NOT_NEEDED,
        "{res:?}"
    );
    assert!(a.elect_preferred(&[]).await.unwrap().is_empty());
    assert!(a.alter_reassignments(&[]).await.unwrap().is_empty());
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_moves_to_another_broker_when_the_controller_stops() {
    let c = start(3, 0, &["f:3:2"]).await;
    // Bootstrap through the controller only; metadata names the others.
    let old = c.controller();
    let mut a = admin_via(&c, old).await;
    assert_eq!(a.controller, old);
    c.stop_broker(old).await.unwrap();
    let survivors: Vec<i32> = c.inspect(|s| s.alive_brokers());
    let res = a
        .alter_reassignments(&[(tp("f", 0), Some(survivors.clone()))])
        .await
        .expect("retried on a live broker");
    assert!(res[0].1.is_ok(), "{res:?}");
    // Metadata was refreshed after the controller change.
    assert_ne!(a.controller, old);
    assert_eq!(a.controller, c.controller());
    assert!(!a.brokers.contains_key(&old), "{:?}", a.brokers);
    let moving = a.list_reassignments().await.unwrap();
    assert!(
        moving.is_empty() || moving[0].target() == survivors,
        "{moving:?}"
    );
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_retries_until_its_only_broker_is_back() {
    let c = std::sync::Arc::new(start(1, 0, &["r:1:1"]).await);
    let mut a = admin_via(&c, 1).await;
    c.stop_broker(1).await.unwrap();
    let restart = {
        let c = c.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(600)).await;
            c.start_broker(1).await.unwrap();
        })
    };
    let t0 = Instant::now();
    let cluster = a.cluster().await.expect("retried until broker 1 came back");
    assert!(
        t0.elapsed() >= Duration::from_millis(600),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(cluster.topics.len(), 1);
    restart.await.unwrap();
    std::sync::Arc::try_unwrap(c)
        .ok()
        .expect("one owner left")
        .shutdown()
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_gives_up_naming_the_api_the_broker_and_the_error() {
    let c = start(2, 0, &["g:1:2"]).await;
    let addr1 = c.broker_addr(1).unwrap().to_string();
    let mut s = ClientSettings::with_timeout(Duration::from_millis(1500));
    s.retry_backoff = Duration::from_millis(50);
    let mut a = Admin::connect_with(&addr1, s.clone()).await.unwrap();
    c.stop_broker(1).await.unwrap();
    c.stop_broker(2).await.unwrap();
    let t0 = Instant::now();
    let e = a.list_reassignments().await.unwrap_err();
    let took = t0.elapsed();
    let msg = e.to_string();
    assert!(
        matches!(&e, KafkaError::GaveUp { attempts, .. } if *attempts > 3),
        "{e:?}"
    );
    assert!(
        msg.starts_with("ListPartitionReassignments: gave up after "),
        "{msg}"
    );
    assert!(msg.contains("cannot connect to 127.0.0.1:"), "{msg}");
    assert!(
        took < Duration::from_millis(2500),
        "within the API timeout: {took:?}"
    );

    // A per-broker call names that broker; retries: 0 gives up at once.
    c.start_broker(1).await.unwrap();
    s.retries = 0;
    let mut a = Admin::connect_with(&addr1, s).await.unwrap();
    let e = a.replica_sizes(&[2]).await.unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.starts_with("DescribeLogDirs: gave up after 1 attempt in "),
        "{msg}"
    );
    assert!(
        msg.contains("broker 2 is not in the cluster metadata"),
        "{msg}"
    );
    c.shutdown().await;
}
