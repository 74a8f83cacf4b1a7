//! Kafka's `auto.create.topics.enable`: a Metadata request that names an
//! unknown topic and allows auto-creation creates it with the broker
//! defaults, answering as Kafka 4.x does; Produce never creates. The real
//! Kafka of the wire suite runs with auto-creation off, so these live here.

use std::time::Duration;

use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};

use super::*;

async fn cluster(auto_create: bool, partitions: i32, rf: i16) -> ClusterHandle {
    Cluster::start(ClusterConfig {
        brokers: 3,
        auto_create_topics: auto_create,
        default_partitions: partitions,
        default_replication_factor: rf,
        ..ClusterConfig::default()
    })
    .await
    .expect("cluster starts")
}

/// Metadata v12 for `names`: (name, error code, partitions, replicas of p0).
async fn ask(c: &ClusterHandle, names: &[&str], allow: bool) -> Vec<(String, i16, usize, usize)> {
    let req = MetadataRequest::default()
        .with_allow_auto_topic_creation(allow)
        .with_topics(Some(
            names
                .iter()
                .map(|n| MetadataRequestTopic::default().with_name(Some(tn(n))))
                .collect(),
        ));
    let resp = client(c, 2).await.send_version(&req, 12).await.unwrap();
    resp.topics
        .iter()
        .map(|t| {
            (
                t.name.as_ref().unwrap().0.to_string(),
                t.error_code,
                t.partitions.len(),
                t.partitions.first().map_or(0, |p| p.replica_nodes.len()),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_creates_an_unknown_topic_with_the_defaults() {
    let c = cluster(true, 1, 1).await;
    // As Kafka 4.x's broker answers while its controller creates the
    // topic: unknown this time, there the next.
    assert_eq!(ask(&c, &["fresh"], true).await, [("fresh".into(), 3, 0, 0)]);
    assert_eq!(ask(&c, &["fresh"], true).await, [("fresh".into(), 0, 1, 1)]);
    // Without the client's consent (consumers, admin tools), nothing is made.
    assert_eq!(ask(&c, &["shy"], false).await, [("shy".into(), 3, 0, 0)]);
    assert_eq!(ask(&c, &["shy"], false).await, [("shy".into(), 3, 0, 0)]);
    // A name Kafka refuses is INVALID_TOPIC_EXCEPTION (17) either way.
    assert_eq!(
        ask(&c, &["no way"], true).await,
        [("no way".into(), 17, 0, 0)]
    );
    assert_eq!(ask(&c, &[".."], false).await, [("..".into(), 17, 0, 0)]);
    let names: Vec<String> = c.inspect(|s| s.topics.keys().cloned().collect());
    assert_eq!(names, ["fresh"]);
    // An unknown topic id is UNKNOWN_TOPIC_ID (100), as Kafka answers.
    let by_id = MetadataRequest::default().with_topics(Some(vec![
        MetadataRequestTopic::default()
            .with_name(None)
            .with_topic_id(uuid::Uuid::from_u128(7)),
    ]));
    let resp = client(&c, 1).await.send_version(&by_id, 12).await.unwrap();
    assert_eq!(resp.topics[0].error_code, 100);
    // Produce alone never creates: UNKNOWN_TOPIC_OR_PARTITION.
    let mut cl = client(&c, 1).await;
    assert_eq!(
        produce(&mut cl, "by-produce", 0, batch(0, 1, 10), 1)
            .await
            .0,
        3
    );
    assert!(c.inspect(|s| !s.topics.contains_key("by-produce")));
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_defaults_shape_auto_created_and_default_sized_topics() {
    let c = cluster(true, 4, 2).await;
    ask(&c, &["auto"], true).await;
    assert_eq!(ask(&c, &["auto"], true).await, [("auto".into(), 0, 4, 2)]);
    // CreateTopics asking for the defaults (-1, KIP-464) gets the same.
    let req = CreateTopicsRequest::default().with_topics(vec![
        kafka_protocol::messages::create_topics_request::CreatableTopic::default()
            .with_name(tn("sized"))
            .with_num_partitions(-1)
            .with_replication_factor(-1),
    ]);
    let resp = client(&c, 1).await.send_version(&req, 7).await.unwrap();
    assert_eq!(resp.topics[0].error_code, 0);
    assert_eq!(
        (
            resp.topics[0].num_partitions,
            resp.topics[0].replication_factor
        ),
        (4, 2)
    );
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_auto_create_answers_unknown_topic() {
    let c = cluster(false, 1, 1).await;
    for _ in 0..2 {
        assert_eq!(ask(&c, &["fresh"], true).await, [("fresh".into(), 3, 0, 0)]);
    }
    assert!(c.inspect(|s| s.topics.is_empty()));
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_producer_writes_to_a_topic_that_did_not_exist() {
    let c = cluster(true, 1, 1).await;
    let bootstrap = c.bootstrap();
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("acks", "all")
        .set("message.timeout.ms", "20000")
        .set("broker.address.family", "v4")
        .create()
        .expect("producer");
    for i in 0..10 {
        let value = format!("value-{i}");
        producer
            .send(
                FutureRecord::to("born-on-produce").key("k").payload(&value),
                Duration::from_secs(20),
            )
            .await
            .unwrap_or_else(|(e, _)| panic!("message {i}: {e}"));
    }
    // Consumed back (Fetch from the leader, every record in order).
    let got: Vec<(Bytes, Bytes)> = fetch_all(&c, "born-on-produce", 0)
        .await
        .into_iter()
        .map(|(_, k, v)| (k, v))
        .collect();
    let want: Vec<(Bytes, Bytes)> = (0..10)
        .map(|i| (Bytes::from("k"), Bytes::from(format!("value-{i}"))))
        .collect();
    assert_eq!(got, want);
    // Broker defaults: one partition, one replica.
    assert_eq!(
        c.inspect(|s| {
            let t = &s.topics["born-on-produce"];
            (t.partitions.len(), t.partitions[0].replicas.len())
        }),
        (1, 1)
    );
    drop(producer);
    c.shutdown().await;
}
