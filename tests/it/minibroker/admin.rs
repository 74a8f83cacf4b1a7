//! Admin and data-plane APIs beyond the reference clients: topic creation
//! by counts, deletion, DescribeCluster, ListOffsets, acks=0, and a
//! disk-to-disk move through a future log.

use std::time::Duration;

use kafka_migrate::minibroker::{Cluster, ClusterConfig};
use kafka_protocol::messages::alter_replica_log_dirs_request::{
    AlterReplicaLogDir, AlterReplicaLogDirTopic,
};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::*;

use super::reassign::set_configs;
use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_by_count_describe_cluster_offsets_and_delete() {
    let c = start(4, 2, &[]).await;
    let mut cl = client(&c, 2).await;
    let req = CreateTopicsRequest::default()
        .with_timeout_ms(1000)
        .with_topics(vec![
            CreatableTopic::default()
                .with_name(tn("counted"))
                .with_num_partitions(8)
                .with_replication_factor(3),
            CreatableTopic::default()
                .with_name(tn("too-wide"))
                .with_num_partitions(1)
                .with_replication_factor(5),
        ]);
    let resp = cl.send_version(&req, 7).await.unwrap();
    assert_eq!(resp.topics[0].error_code, 0);
    assert_eq!(
        (
            resp.topics[0].num_partitions,
            resp.topics[0].replication_factor
        ),
        (8, 3)
    );
    assert_eq!(resp.topics[1].error_code, 38, "INVALID_REPLICATION_FACTOR");
    assert_eq!(
        cl.send_version(&req, 7).await.unwrap().topics[0].error_code,
        36,
        "TOPIC_ALREADY_EXISTS"
    );
    for p in 0..8 {
        let (leader, replicas, isr) = placement(&c, "counted", p).await;
        assert_eq!(replicas.len(), 3);
        assert_eq!(leader, replicas[0]);
        assert_eq!(isr.len(), 3);
        let racks: std::collections::BTreeSet<_> =
            c.inspect(|s| replicas.iter().map(|b| s.brokers[b].rack.clone()).collect());
        assert_eq!(racks.len(), 2, "partition {p} spans both racks");
    }

    let dc = cl
        .send_version(&DescribeClusterRequest::default(), 1)
        .await
        .unwrap();
    assert_eq!(dc.brokers.len(), 4);
    assert_eq!(dc.controller_id.0, c.controller());
    assert!(dc.brokers.iter().all(|b| b.rack.is_some()));

    // acks=0 gets no response; acks=1 on the same connection still does.
    let (leader, ..) = placement(&c, "counted", 0).await;
    let mut lc = client(&c, leader).await;
    let req0 = ProduceRequest::default()
        .with_acks(0)
        .with_timeout_ms(1000)
        .with_topic_data(vec![
            kafka_protocol::messages::produce_request::TopicProduceData::default()
                .with_name(tn("counted"))
                .with_partition_data(vec![
                    kafka_protocol::messages::produce_request::PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(batch(0, 5, 10))),
                ]),
        ]);
    lc.send_without_response(&req0, 9).await.unwrap();
    assert_eq!(
        produce(&mut lc, "counted", 0, batch(5, 5, 10), 1).await,
        (0, 5),
        "acks=0 batch took offsets 0..4"
    );

    let list = |ts: i64| {
        ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(vec![
                ListOffsetsTopic::default()
                    .with_name(tn("counted"))
                    .with_partitions(vec![
                        ListOffsetsPartition::default()
                            .with_partition_index(0)
                            .with_timestamp(ts),
                    ]),
            ])
    };
    eventually(Duration::from_secs(5), "hw reaches 10", || async {
        latest_offset(&c, "counted", 0).await == 10
    })
    .await;
    let earliest = lc.send_version(&list(-2), 7).await.unwrap();
    assert_eq!(earliest.topics[0].partitions[0].offset, 0);
    let by_time = lc
        .send_version(&list(1_700_000_000_000 + 7), 7)
        .await
        .unwrap();
    assert_eq!(
        by_time.topics[0].partitions[0].offset, 5,
        "first batch whose max timestamp reaches it"
    );
    let not_leader = client(&c, if leader == 1 { 2 } else { 1 })
        .await
        .send_version(&list(-1), 7)
        .await
        .unwrap();
    assert_eq!(not_leader.topics[0].partitions[0].error_code, 6);

    let del = cl
        .send_version(
            &DeleteTopicsRequest::default()
                .with_topics(vec![
                    DeleteTopicState::default().with_name(Some(tn("counted"))),
                    DeleteTopicState::default().with_name(Some(tn("ghost"))),
                ])
                .with_timeout_ms(1000),
            6,
        )
        .await
        .unwrap();
    assert_eq!(del.responses[0].error_code, 0);
    assert_eq!(del.responses[1].error_code, 3);
    assert!(metadata(&c, 1).await.topics.is_empty());
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_move_goes_through_a_future_log_under_its_throttle() {
    let c = Cluster::start(ClusterConfig {
        brokers: 2,
        log_dirs_per_broker: 2,
        ..ClusterConfig::default()
    })
    .await
    .unwrap();
    create_topic(&c, "disk", &[&[1, 2]]).await;
    let mut cl = client(&c, 1).await;
    let mut produced = 0i64;
    for i in 0..40 {
        let b = batch(i * 20, 20, 500);
        produced += b.len() as i64;
        assert_eq!(produce(&mut cl, "disk", 0, b, -1).await.0, 0);
    }
    let dirs: Vec<String> = log_dirs(&c, 1).await.keys().cloned().collect();
    assert_eq!(dirs.len(), 2);
    let current = log_dirs(&c, 1)
        .await
        .into_iter()
        .find(|(_, p)| p.iter().any(|(n, ..)| n == "disk-0"))
        .unwrap()
        .0;
    let other = dirs.iter().find(|d| **d != current).unwrap().clone();

    assert_eq!(
        set_configs(
            &c,
            1,
            4,
            "1",
            &[(
                "replica.alter.log.dirs.io.max.bytes.per.second",
                Some("100000")
            )]
        )
        .await,
        0
    );
    let alter = |path: &str| {
        AlterReplicaLogDirsRequest::default().with_dirs(vec![
            AlterReplicaLogDir::default()
                .with_path(sb(path))
                .with_topics(vec![
                    AlterReplicaLogDirTopic::default()
                        .with_name(tn("disk"))
                        .with_partitions(vec![0]),
                ]),
        ])
    };
    let resp = cl.send_version(&alter(&other), 2).await.unwrap();
    assert_eq!(resp.results[0].partitions[0].error_code, 0);
    assert_eq!(
        cl.send_version(&alter("/no/such/dir"), 2)
            .await
            .unwrap()
            .results[0]
            .partitions[0]
            .error_code,
        57
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let during = log_dirs(&c, 1).await;
    let future = during[&other]
        .iter()
        .find(|(n, _, fut)| n == "disk-0" && *fut)
        .expect("future log shown in the target dir");
    assert!(
        future.1 > 0 && future.1 < produced,
        "future log partially copied: {} of {produced}",
        future.1
    );
    assert!(
        during[&current]
            .iter()
            .any(|(n, s, fut)| n == "disk-0" && !fut && *s == produced)
    );

    assert_eq!(
        set_configs(
            &c,
            1,
            4,
            "1",
            &[("replica.alter.log.dirs.io.max.bytes.per.second", None)]
        )
        .await,
        0
    );
    eventually(Duration::from_secs(5), "disk move completes", || async {
        let d = log_dirs(&c, 1).await;
        d[&other]
            .iter()
            .any(|(n, s, fut)| n == "disk-0" && !fut && *s == produced)
            && d[&current].is_empty()
    })
    .await;
    assert_eq!(fetch_all(&c, "disk", 0).await.len(), 800);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_dir_keeps_topics_configs_and_data_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = || ClusterConfig {
        brokers: 3,
        data_dir: Some(dir.path().to_path_buf()),
        topics: vec!["kept:2:2".parse().unwrap()],
        ..ClusterConfig::default()
    };
    let c = Cluster::start(config()).await.unwrap();
    let (leader, ..) = placement(&c, "kept", 1).await;
    let mut cl = client(&c, leader).await;
    for i in 0..10 {
        assert_eq!(
            produce(&mut cl, "kept", 1, batch(i * 10, 10, 100), -1)
                .await
                .0,
            0
        );
    }
    assert_eq!(
        set_configs(&c, 1, 2, "kept", &[("retention.ms", Some("1000"))]).await,
        0
    );
    let before = fetch_all(&c, "kept", 1).await;
    let before_placement = placement(&c, "kept", 1).await;
    c.shutdown_and_persist().await.unwrap();
    assert!(dir.path().join("cluster.json").exists());

    let c = Cluster::start(config()).await.unwrap();
    assert_eq!(placement(&c, "kept", 1).await, before_placement);
    assert_eq!(latest_offset(&c, "kept", 1).await, 100);
    assert_eq!(fetch_all(&c, "kept", 1).await, before);
    assert_eq!(
        c.inspect(|s| s.topics["kept"].configs.get("retention.ms").cloned()),
        Some("1000".into())
    );
    c.shutdown().await;
}
