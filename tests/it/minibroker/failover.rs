//! Faults the mini-broker's internals can stage: the controller role fails
//! over; a lagging follower leaves and rejoins the ISR; an unclean
//! election. (A leader stopped during production is a wire scenario, run
//! against real Kafka too: `wire::scenarios`.)

use std::time::Duration;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_fails_over_and_listener_closes() {
    let step = Duration::from_secs(20);
    let c = tokio::time::timeout(step, start(3, 2, &["x:3:2"]))
        .await
        .expect("cluster starts");
    let controller = c.controller();
    let addr = c.broker_addr(controller).unwrap();
    tokio::time::timeout(step, c.stop_broker(controller))
        .await
        .expect("stop in time")
        .unwrap();
    let refused = tokio::time::timeout(step, tokio::net::TcpStream::connect(addr))
        .await
        .expect("connect in time");
    assert!(refused.is_err(), "stopped broker's listener is closed");
    let survivor = c.inspect(|s| s.alive_brokers()[0]);
    let m = metadata(&c, survivor).await;
    assert_ne!(m.controller_id.0, controller);
    assert_eq!(m.controller_id.0, c.controller());
    assert_eq!(m.brokers.len(), 2, "only live brokers are listed");
    assert!(m.brokers.iter().all(|b| b.rack.is_some()), "racks shown");
    for p in &m.topics[0].partitions {
        assert_ne!(p.leader_id.0, controller);
        if p.replica_nodes.iter().any(|b| b.0 == controller) {
            assert!(
                p.offline_replicas.iter().any(|b| b.0 == controller),
                "offline replica shown"
            );
        }
    }
    tokio::time::timeout(step, c.start_broker(controller))
        .await
        .expect("start in time")
        .unwrap();
    assert_eq!(metadata(&c, controller).await.brokers.len(), 3);
    tokio::time::timeout(step, c.shutdown())
        .await
        .expect("shutdown in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_follower_leaves_the_isr_then_rejoins_and_acks_all_waits_for_it() {
    let c = start(3, 0, &[]).await; // replica.lag.time.max.ms = 1500
    create_topic(&c, "lag", &[&[1, 2, 3]]).await;
    let mut cl = client(&c, 1).await;
    assert_eq!(produce(&mut cl, "lag", 0, batch(0, 10, 100), -1).await.0, 0);
    c.pause_replication(3, true).unwrap();
    let t0 = std::time::Instant::now();
    // acks=all cannot complete while the stuck follower is still in the ISR.
    assert_eq!(
        produce(&mut cl, "lag", 0, batch(10, 10, 100), -1).await,
        (0, 10)
    );
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(1400),
        "acks=all waited only {waited:?} for the lagging follower"
    );
    assert_eq!(
        placement(&c, "lag", 0).await.2,
        vec![1, 2],
        "follower 3 left the ISR by lag"
    );
    assert_eq!(
        latest_offset(&c, "lag", 0).await,
        20,
        "HW = min LEO over the shrunk ISR"
    );
    c.pause_replication(3, false).unwrap();
    eventually(Duration::from_secs(5), "follower 3 rejoins", || async {
        placement(&c, "lag", 0).await.2.contains(&3)
    })
    .await;
    assert_eq!(
        c.inspect(|s| s.partition("lag", 0).unwrap().logs[&3].log.leo()),
        20
    );
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unclean_election_brings_back_a_partition_whose_isr_is_gone() {
    let c = start(3, 0, &[]).await; // replica.lag.time.max.ms = 1500
    create_topic(&c, "uc", &[&[1, 2]]).await;
    let mut cl = client(&c, 1).await;
    assert_eq!(produce(&mut cl, "uc", 0, batch(0, 10, 10), -1).await.0, 0);
    c.pause_replication(2, true).unwrap();
    // This acks=all write completes once 2 drops out of the ISR.
    assert_eq!(produce(&mut cl, "uc", 0, batch(10, 10, 10), -1).await.0, 0);
    assert_eq!(placement(&c, "uc", 0).await.2, vec![1]);
    c.stop_broker(1).await.unwrap();
    let (leader, _, isr) = placement(&c, "uc", 0).await;
    assert_eq!(
        (leader, isr),
        (-1, vec![1]),
        "no clean leader: the ISR keeps its last member"
    );

    let elect = |t: i8| {
        let c = &c;
        async move {
            let req = ElectLeadersRequest::default()
                .with_election_type(t)
                .with_topic_partitions(Some(vec![
                    kafka_protocol::messages::elect_leaders_request::TopicPartitions::default()
                        .with_topic(tn("uc"))
                        .with_partitions(vec![0]),
                ]));
            client(c, 3)
                .await
                .send_version(&req, 2)
                .await
                .unwrap()
                .replica_election_results[0]
                .partition_result[0]
                .error_code
        }
    };
    assert_eq!(elect(0).await, 80, "PREFERRED_LEADER_NOT_AVAILABLE");
    assert_eq!(elect(1).await, 0, "unclean election succeeds");
    let (leader, _, isr) = placement(&c, "uc", 0).await;
    assert_eq!((leader, isr), (2, vec![2]));
    // The new leader only has what it copied before it fell behind.
    assert_eq!(latest_offset(&c, "uc", 0).await, 10);
    assert_eq!(elect(1).await, 84, "a live leader needs no election");
    c.shutdown().await;
}
