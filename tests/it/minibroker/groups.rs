//! The group coordinator at the wire, where only the mini-broker's
//! internals can stage it: a restart on a data dir, every replica of the
//! group's offsets partition down, the KIP-848 heartbeat refused as Kafka
//! refuses it with `group.coordinator.rebalance.protocols=classic`, and
//! the classic protocol's steps request by request.

use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_migrate::kafka::Connection;
use kafka_migrate::minibroker::groups::{OFFSETS_TOPIC, offsets_partition};
use kafka_migrate::minibroker::{Cluster, ClusterConfig, ClusterHandle};
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::*;

use super::{client, sb, start, tn};

/// FindCoordinator (v4+ form) asked of broker 1: (error, node).
async fn find(c: &ClusterHandle, group: &str, version: i16) -> (i16, i32) {
    let mut conn = client(c, 1).await;
    let mut req = FindCoordinatorRequest::default();
    req = if version >= 4 {
        req.with_coordinator_keys(vec![sb(group)])
    } else {
        req.with_key(sb(group))
    };
    let r = conn.send_version(&req, version).await.unwrap();
    match r.coordinators.first() {
        Some(x) => (x.error_code, x.node_id.0),
        None => (r.error_code, r.node_id.0),
    }
}

/// The coordinator once the offsets topic exists (the first answer is
/// COORDINATOR_NOT_AVAILABLE while it is created, as on Kafka).
async fn coordinator(c: &ClusterHandle, group: &str) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (e, node) = find(c, group, 4).await;
        if e == 0 {
            return node;
        }
        assert_eq!(e, 15, "COORDINATOR_NOT_AVAILABLE until it is");
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A group name that another group's coordinator coordinates too.
fn sibling(group: &str, prefix: &str) -> String {
    (0..)
        .map(|i| format!("{prefix}-{i}"))
        .find(|g| offsets_partition(g, 50) == offsets_partition(group, 50))
        .unwrap()
}

fn join_req(group: &str, member: &str, session_ms: i32) -> JoinGroupRequest {
    JoinGroupRequest::default()
        .with_group_id(GroupId(sb(group)))
        .with_member_id(sb(member))
        .with_session_timeout_ms(session_ms)
        .with_rebalance_timeout_ms(10_000)
        .with_protocol_type(sb("consumer"))
        .with_protocols(vec![
            JoinGroupRequestProtocol::default()
                .with_name(sb("range"))
                .with_metadata(Bytes::from_static(b"subscription")),
        ])
}

/// A one-member group through JoinGroup v9 (member id required), SyncGroup
/// v5; returns (member id, generation).
async fn join_alone(conn: &mut Connection, group: &str, session_ms: i32) -> (String, i32) {
    let first = conn
        .send_version(&join_req(group, "", session_ms), 9)
        .await
        .unwrap();
    assert_eq!(first.error_code, 79, "MEMBER_ID_REQUIRED");
    let id = first.member_id.to_string();
    assert!(id.starts_with("kafka-migrate-"), "{id}");
    let joined = conn
        .send_version(&join_req(group, &id, session_ms), 9)
        .await
        .unwrap();
    assert_eq!(joined.error_code, 0);
    assert_eq!(joined.leader.as_str(), id);
    assert_eq!(joined.protocol_name.as_deref(), Some("range"));
    assert_eq!(joined.members.len(), 1);
    assert_eq!(
        joined.members[0].metadata,
        Bytes::from_static(b"subscription")
    );
    let synced = conn
        .send_version(
            &SyncGroupRequest::default()
                .with_group_id(GroupId(sb(group)))
                .with_member_id(sb(&id))
                .with_generation_id(joined.generation_id)
                .with_protocol_type(Some(sb("consumer")))
                .with_protocol_name(Some(sb("range")))
                .with_assignments(vec![
                    SyncGroupRequestAssignment::default()
                        .with_member_id(sb(&id))
                        .with_assignment(Bytes::from_static(b"all of it")),
                ]),
            5,
        )
        .await
        .unwrap();
    assert_eq!(synced.error_code, 0);
    assert_eq!(synced.assignment, Bytes::from_static(b"all of it"));
    (id, joined.generation_id)
}

async fn commit(
    conn: &mut Connection,
    group: &str,
    member: &str,
    generation: i32,
    topic: &str,
    offsets: &[i64],
) -> Vec<i16> {
    let r = conn
        .send_version(
            &OffsetCommitRequest::default()
                .with_group_id(GroupId(sb(group)))
                .with_member_id(sb(member))
                .with_generation_id_or_member_epoch(generation)
                .with_topics(vec![
                    OffsetCommitRequestTopic::default()
                        .with_name(tn(topic))
                        .with_partitions(
                            offsets
                                .iter()
                                .enumerate()
                                .map(|(p, o)| {
                                    OffsetCommitRequestPartition::default()
                                        .with_partition_index(p as i32)
                                        .with_committed_offset(*o)
                                        .with_committed_leader_epoch(-1)
                                        .with_committed_metadata(Some(sb("m")))
                                })
                                .collect(),
                        ),
                ]),
            9,
        )
        .await
        .unwrap();
    r.topics[0]
        .partitions
        .iter()
        .map(|p| p.error_code)
        .collect()
}

/// OffsetFetch v8 for several groups at once: per group (error, offsets of
/// partitions 0 and 1 of `topic`).
async fn fetch_v8(
    conn: &mut Connection,
    groups: &[&str],
    topic: &str,
) -> Vec<(String, i16, Vec<i64>)> {
    let r = conn
        .send_version(
            &OffsetFetchRequest::default().with_groups(
                groups
                    .iter()
                    .map(|g| {
                        OffsetFetchRequestGroup::default()
                            .with_group_id(GroupId(sb(g)))
                            .with_topics(Some(vec![
                                OffsetFetchRequestTopics::default()
                                    .with_name(tn(topic))
                                    .with_partition_indexes(vec![0, 1]),
                            ]))
                    })
                    .collect(),
            ),
            8,
        )
        .await
        .unwrap();
    r.groups
        .iter()
        .map(|g| {
            let offs = g
                .topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.committed_offset))
                .collect();
            (g.group_id.to_string(), g.error_code, offs)
        })
        .collect()
}

/// Offsets committed before a clean exit are there after a restart on the
/// same data dir; OffsetFetch v8 answers two groups at once, v7 one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_offsets_survive_a_restart_on_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let config = || ClusterConfig {
        brokers: 3,
        data_dir: Some(dir.path().to_path_buf()),
        topics: vec!["t:2:2".parse().unwrap()],
        ..ClusterConfig::default()
    };
    let c = Cluster::start(config()).await.unwrap();
    let co = coordinator(&c, "kept-group").await;
    let mut conn = client(&c, co).await;
    let (id, generation) = join_alone(&mut conn, "kept-group", 30_000).await;
    assert_eq!(
        commit(&mut conn, "kept-group", &id, generation, "t", &[7, 11]).await,
        vec![0, 0]
    );
    assert_eq!(
        commit(&mut conn, "kept-group", &id, generation + 1, "t", &[1, 1]).await,
        vec![22, 22],
        "ILLEGAL_GENERATION"
    );
    let never = sibling("kept-group", "never-committed");
    let before = fetch_v8(&mut conn, &["kept-group", &never], "t").await;
    assert_eq!(
        before,
        vec![
            ("kept-group".to_string(), 0, vec![7, 11]),
            (never.clone(), 0, vec![-1, -1]),
        ]
    );
    drop(conn);
    c.shutdown_and_persist().await.unwrap();
    assert!(dir.path().join("consumer-offsets.json").exists());

    let c = Cluster::start(config()).await.unwrap();
    let co = coordinator(&c, "kept-group").await;
    let mut conn = client(&c, co).await;
    assert_eq!(
        fetch_v8(&mut conn, &["kept-group"], "t").await,
        before[..1].to_vec()
    );
    let v7 = conn
        .send_version(
            &OffsetFetchRequest::default()
                .with_group_id(GroupId(sb("kept-group")))
                .with_topics(None),
            7,
        )
        .await
        .unwrap();
    assert_eq!(v7.error_code, 0);
    let all: Vec<(String, i32, i64, Option<String>)> = v7
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(|p| {
                (
                    t.name.to_string(),
                    p.partition_index,
                    p.committed_offset,
                    p.metadata.as_ref().map(|m| m.to_string()),
                )
            })
        })
        .collect();
    assert_eq!(
        all,
        vec![
            ("t".to_string(), 0, 7, Some("m".to_string())),
            ("t".to_string(), 1, 11, Some("m".to_string())),
        ]
    );
    // The member itself is gone: members rejoin after a restart.
    let hb = conn
        .send_version(
            &HeartbeatRequest::default()
                .with_group_id(GroupId(sb("kept-group")))
                .with_member_id(sb(&id))
                .with_generation_id(generation),
            4,
        )
        .await
        .unwrap();
    assert_eq!(hb.error_code, 25, "UNKNOWN_MEMBER_ID");
    c.shutdown().await;
}

/// Group requests to a broker that does not lead the group's offsets
/// partition are NOT_COORDINATOR; with every replica of that partition
/// down there is no coordinator at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_offsets_partition_leader_coordinates() {
    let c = start(3, 0, &["t:1:1"]).await;
    assert_eq!(
        find(&c, "g", 3).await.0,
        15,
        "created on first ask, as Kafka does"
    );
    let co = coordinator(&c, "g").await;
    let (p, leader, replicas) = c.inspect(|s| {
        let t = &s.topics[OFFSETS_TOPIC];
        assert_eq!(t.partitions.len(), 50);
        let p = offsets_partition("g", 50) as usize;
        (p, t.partitions[p].leader, t.partitions[p].replicas.clone())
    });
    assert_eq!(co, leader, "partition {p}");
    assert_eq!(
        find(&c, "g", 3).await,
        (0, co),
        "v3: the answer in the top-level fields"
    );
    let other = (1..=3).find(|b| *b != co).unwrap();
    let mut conn = client(&c, other).await;
    let j = conn
        .send_version(&join_req("g", "", 30_000), 9)
        .await
        .unwrap();
    assert_eq!(j.error_code, 16, "NOT_COORDINATOR");
    let hb = conn
        .send_version(
            &HeartbeatRequest::default().with_group_id(GroupId(sb("g"))),
            4,
        )
        .await
        .unwrap();
    assert_eq!(hb.error_code, 16);
    assert_eq!(commit(&mut conn, "g", "", -1, "t", &[1]).await, vec![16]);
    let f = conn
        .send_version(
            &OffsetFetchRequest::default()
                .with_group_id(GroupId(sb("g")))
                .with_topics(Some(vec![
                    OffsetFetchRequestTopic::default()
                        .with_name(tn("t"))
                        .with_partition_indexes(vec![0]),
                ])),
            7,
        )
        .await
        .unwrap();
    assert_eq!(f.error_code, 16);
    for b in replicas {
        c.stop_broker(b).await.unwrap();
    }
    let live = (1..=3).find(|b| c.inspect(|s| s.is_alive(*b)));
    if let Some(live) = live {
        let mut conn = client(&c, live).await;
        let r = conn
            .send_version(
                &FindCoordinatorRequest::default().with_coordinator_keys(vec![sb("g")]),
                4,
            )
            .await
            .unwrap();
        assert_eq!(
            r.coordinators[0].error_code, 15,
            "COORDINATOR_NOT_AVAILABLE"
        );
    }
    c.shutdown().await;
}

/// A member that stops heartbeating is dropped after its session timeout;
/// the group goes Empty, its generation on; LeaveGroup v3 answers per member.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_member_expires_and_a_leaving_one_goes_at_once() {
    let c = start(3, 0, &["t:2:2"]).await;
    let co = coordinator(&c, "quiet").await;
    let mut conn = client(&c, co).await;
    join_alone(&mut conn, "quiet", 6_000).await;
    let nobody = sibling("quiet", "nobody");
    let describe = DescribeGroupsRequest::default()
        .with_groups(vec![GroupId(sb("quiet")), GroupId(sb(&nobody))]);
    let d = conn.send_version(&describe, 5).await.unwrap();
    assert_eq!(d.groups[0].group_state.as_str(), "Stable");
    assert_eq!(d.groups[0].protocol_data.as_str(), "range");
    assert_eq!(
        d.groups[0].members[0].member_assignment,
        Bytes::from_static(b"all of it")
    );
    assert_eq!(
        (d.groups[1].error_code, d.groups[1].group_state.as_str()),
        (0, "Dead")
    );
    let d6 = conn.send_version(&describe, 6).await.unwrap();
    assert_eq!(d6.groups[1].error_code, 69, "v6: GROUP_ID_NOT_FOUND");
    tokio::time::sleep(Duration::from_millis(6_500)).await;
    let d = conn.send_version(&describe, 5).await.unwrap();
    assert_eq!(d.groups[0].group_state.as_str(), "Empty");
    assert!(d.groups[0].members.is_empty());

    let (id, _) = join_alone(&mut conn, "quiet", 30_000).await;
    let left = conn
        .send_version(
            &LeaveGroupRequest::default()
                .with_group_id(GroupId(sb("quiet")))
                .with_members(vec![
                    MemberIdentity::default().with_member_id(sb(&id)),
                    MemberIdentity::default().with_member_id(sb("ghost")),
                ]),
            5,
        )
        .await
        .unwrap();
    let codes: Vec<i16> = left.members.iter().map(|m| m.error_code).collect();
    assert_eq!(codes, vec![0, 25]);
    let listed = conn
        .send_version(
            &ListGroupsRequest::default().with_states_filter(vec![sb("Empty")]),
            5,
        )
        .await
        .unwrap();
    let names: Vec<(&str, &str, &str)> = listed
        .groups
        .iter()
        .map(|g| {
            (
                g.group_id.as_str(),
                g.group_state.as_str(),
                g.group_type.as_str(),
            )
        })
        .collect();
    assert_eq!(names, vec![("quiet", "Empty", "classic")]);
    let deleted = conn
        .send_version(
            &DeleteGroupsRequest::default()
                .with_groups_names(vec![GroupId(sb("quiet")), GroupId(sb("quiet"))]),
            2,
        )
        .await
        .unwrap();
    let codes: Vec<i16> = deleted.results.iter().map(|r| r.error_code).collect();
    assert_eq!(codes, vec![0, 69], "deleted, then GROUP_ID_NOT_FOUND");
    c.shutdown().await;
}

/// KIP-848's ConsumerGroupHeartbeat gets UNSUPPORTED_VERSION, as from Kafka
/// 4.x with only the classic protocol enabled; the connection stays open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_new_consumer_protocol_is_refused_as_kafka_refuses_it() {
    let c = start(3, 0, &["t:1:1"]).await;
    let mut conn = client(&c, 1).await;
    let r = conn
        .send_version(
            &ConsumerGroupHeartbeatRequest::default()
                .with_group_id(GroupId(sb("g")))
                .with_member_id(sb("m"))
                .with_rebalance_timeout_ms(30_000)
                .with_subscribed_topic_names(Some(vec![tn("t")]))
                .with_topic_partitions(Some(vec![])),
            1,
        )
        .await
        .unwrap();
    assert_eq!(r.error_code, 35);
    let md = conn
        .send_version(&MetadataRequest::default(), 12)
        .await
        .unwrap();
    assert_eq!(md.brokers.len(), 3);
    c.shutdown().await;
}

/// A JoinGroup held for a rebalance when the group's offsets partition
/// moves to another leader is answered NOT_COORDINATOR, and the new
/// leader coordinates the group from then on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_join_learns_that_the_coordinator_moved() {
    use kafka_migrate::model::TopicPartition;
    use kafka_migrate::model::live::ClusterAdmin;
    let c = start(4, 0, &["t:1:1"]).await;
    let co = coordinator(&c, "moving").await;
    let mut conn = client(&c, co).await;
    join_alone(&mut conn, "moving", 30_000).await;
    // A second member's join waits for the first to rejoin, which it never does.
    let mut second = client(&c, co).await;
    let first = second
        .send_version(&join_req("moving", "", 30_000), 9)
        .await
        .unwrap();
    let held = tokio::spawn(async move {
        second
            .send_version(&join_req("moving", &first.member_id, 30_000), 9)
            .await
            .unwrap()
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!held.is_finished(), "held for the rebalance");
    let p = offsets_partition("moving", 50);
    let target: Vec<i32> = (1..=4).filter(|b| *b != co).collect();
    let mut a = kafka_migrate::kafka::Admin::connect(&c.bootstrap(), Duration::from_secs(10))
        .await
        .unwrap();
    let tp = TopicPartition {
        topic: OFFSETS_TOPIC.to_string(),
        partition: p,
    };
    for (_, r) in a
        .alter_reassignments(&[(tp, Some(target.clone()))])
        .await
        .unwrap()
    {
        r.unwrap();
    }
    let answer = tokio::time::timeout(Duration::from_secs(20), held)
        .await
        .expect("answered once the partition moved")
        .unwrap();
    assert_eq!(answer.error_code, 16, "NOT_COORDINATOR");
    let now = coordinator(&c, "moving").await;
    assert!(target.contains(&now), "{now} in {target:?}");
    c.shutdown().await;
}

/// Offset retention (`offsets.retention.minutes`, here 2 s, checked every
/// 200 ms as `offsets.retention.check.interval.ms`): a group's offsets
/// stay while it has a member, and go a retention period after it emptied,
/// and the group with them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_of_a_group_left_empty_expire() {
    let c = Cluster::start(ClusterConfig {
        brokers: 3,
        topics: vec!["t:2:2".parse().unwrap()],
        offsets_retention: Duration::from_secs(2),
        offsets_retention_check: Duration::from_millis(200),
        ..ClusterConfig::default()
    })
    .await
    .expect("cluster starts");
    let co = coordinator(&c, "kept").await;
    let mut conn = client(&c, co).await;
    let (id, generation) = join_alone(&mut conn, "kept", 30_000).await;
    assert_eq!(
        commit(&mut conn, "kept", &id, generation, "t", &[3, 4]).await,
        vec![0, 0]
    );
    // Three retention periods with a member: kept (its metadata is no
    // consumer subscription, so nothing counts as unsubscribed).
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let hb = conn
            .send_version(
                &HeartbeatRequest::default()
                    .with_group_id(GroupId(sb("kept")))
                    .with_member_id(sb(&id))
                    .with_generation_id(generation),
                4,
            )
            .await
            .unwrap();
        assert_eq!(hb.error_code, 0);
    }
    assert_eq!(
        fetch_v8(&mut conn, &["kept"], "t").await,
        vec![("kept".to_string(), 0, vec![3, 4])]
    );
    let left = conn
        .send_version(
            &LeaveGroupRequest::default()
                .with_group_id(GroupId(sb("kept")))
                .with_members(vec![MemberIdentity::default().with_member_id(sb(&id))]),
            5,
        )
        .await
        .unwrap();
    assert_eq!(left.members[0].error_code, 0);
    let emptied = Instant::now();
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert_eq!(
        fetch_v8(&mut conn, &["kept"], "t").await,
        vec![("kept".to_string(), 0, vec![3, 4])],
        "within the retention period"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while fetch_v8(&mut conn, &["kept"], "t").await[0].2 != vec![-1, -1] {
        assert!(Instant::now() < deadline, "the offsets never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        emptied.elapsed() >= Duration::from_secs(2),
        "expired after {:?}",
        emptied.elapsed()
    );
    let d = conn
        .send_version(
            &DescribeGroupsRequest::default().with_groups(vec![GroupId(sb("kept"))]),
            6,
        )
        .await
        .unwrap();
    assert_eq!(d.groups[0].error_code, 69, "the group went with them");
    c.shutdown().await;
}
