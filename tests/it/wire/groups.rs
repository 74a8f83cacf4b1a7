//! Consumer groups on either backend: kcat's and librdkafka's group
//! consumers, the coordinator's placement over `__consumer_offsets`,
//! rebalances as members come and go, and committed offsets through a
//! coordinator failover and a reassignment; Kafka's console consumer and
//! `kafka-consumer-groups` in the tools group.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use kafka_migrate::kafka::{Admin, Connection};
use kafka_migrate::minibroker::groups::offsets_partition;
use kafka_migrate::model::live::ClusterAdmin;
use kafka_migrate::model::{BrokerId, TopicPartition};
use kafka_protocol::messages::FindCoordinatorRequest;
use kafka_protocol::protocol::StrBytes;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::FutureRecord;
use rdkafka::{Message, Offset, TopicPartitionList};

use super::rdk::producer;
use super::tools::tool_at;
use super::{Backend, admin, eventually, kcat, unique};

/// A group member: quick heartbeats so rebalances start soon, a session
/// (10 s) well above them so a rebalance that waits for it shows;
/// offsets committed only when the test says.
fn member(bootstrap: &str, group: &str, client_id: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("client.id", client_id)
        .set("session.timeout.ms", "10000")
        .set("heartbeat.interval.ms", "500")
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("broker.address.family", "v4")
        .create()
        .expect("consumer")
}

/// Creates a topic of `partitions` partitions with two replicas each.
pub(super) async fn topic(b: &dyn Backend, prefix: &str, partitions: usize) -> (String, Admin) {
    let ids = b.brokers();
    let topic = unique(prefix);
    let assignment: Vec<Vec<BrokerId>> = (0..partitions)
        .map(|p| vec![ids[p % ids.len()], ids[(p + 1) % ids.len()]])
        .collect();
    let mut a = admin(b).await;
    a.create_topic(&topic, &assignment, &[]).await.unwrap();
    (topic, a)
}

/// Produces values `v<from>..v<to>` with keys spread over the partitions.
pub(super) async fn produce(b: &dyn Backend, topic: &str, from: usize, to: usize) {
    let p = producer(&b.bootstrap());
    for i in from..to {
        let (k, v) = (format!("k{i}"), format!("v{i}"));
        p.send(
            FutureRecord::to(topic).key(&k).payload(&v),
            Duration::from_secs(30),
        )
        .await
        .unwrap_or_else(|(e, _)| panic!("{}: produce: {e}", b.name()));
    }
}

/// The coordinator FindCoordinator names for `group`, asked of any broker
/// until one is available.
async fn coordinator(b: &dyn Backend, group: &str) -> BrokerId {
    let a = admin(b).await;
    eventually!(format!("a coordinator for {group}"), 60, {
        let mut found = None;
        for info in a.brokers.values() {
            let Ok(mut c) = Connection::connect(&info.addr, Duration::from_secs(5)).await else {
                continue;
            };
            // Both backends speak v4+, where the keys are a list.
            let req = FindCoordinatorRequest::default()
                .with_coordinator_keys(vec![StrBytes::from_string(group.to_string())]);
            let r = c.send(&req).await;
            if let Ok(r) = r {
                let (code, node) = match r.coordinators.first() {
                    Some(c) => (c.error_code, c.node_id.0),
                    None => (r.error_code, r.node_id.0),
                };
                if code == 0 {
                    found = Some(node);
                    break;
                }
            }
        }
        found
    })
}

/// Leader of `group`'s partition of `__consumer_offsets`, by Kafka's rule.
async fn offsets_leader(a: &mut Admin, group: &str) -> (i32, BrokerId, Vec<BrokerId>) {
    let md = a.metadata().await.unwrap();
    let t = md
        .topics
        .iter()
        .find(|t| t.name.as_ref().map(|n| n.0.as_str()) == Some("__consumer_offsets"))
        .expect("__consumer_offsets exists once a group was found");
    assert!(t.is_internal);
    let p = offsets_partition(group, t.partitions.len() as i32);
    let part = t
        .partitions
        .iter()
        .find(|x| x.partition_index == p)
        .unwrap();
    (
        p,
        part.leader_id.0,
        part.replica_nodes.iter().map(|b| b.0).collect(),
    )
}

/// Committed offsets of `group` for every partition of `topic` (-1 where none).
pub(super) fn committed(bootstrap: &str, group: &str, topic: &str, partitions: i32) -> Vec<i64> {
    let c = member(bootstrap, group, "km-offsets-reader");
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    let got = c
        .committed_offsets(tpl, Duration::from_secs(30))
        .expect("OffsetFetch");
    (0..partitions)
        .map(|p| match got.find_partition(topic, p).unwrap().offset() {
            Offset::Offset(o) => o,
            _ => -1,
        })
        .collect()
}

/// Consumes with `group` until `n` values came (or 60 s passed), commits
/// them, leaves the group; returns the values, sorted.
fn consume_and_commit(bootstrap: &str, group: &str, topic: &str, n: usize) -> Vec<String> {
    let c = member(bootstrap, group, "km-consumer");
    c.subscribe(&[topic]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut got = Vec::new();
    while got.len() < n && Instant::now() < deadline {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(200)) {
            got.push(String::from_utf8(m.payload().unwrap().to_vec()).unwrap());
        }
    }
    // Anything more would be a redelivery: give it a moment to show.
    let settle = Instant::now() + Duration::from_secs(2);
    while Instant::now() < settle {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(200)) {
            got.push(String::from_utf8(m.payload().unwrap().to_vec()).unwrap());
        }
    }
    if !got.is_empty() {
        c.commit_consumer_state(CommitMode::Sync)
            .expect("OffsetCommit");
    }
    got.sort();
    got
}

pub(super) fn values(from: usize, to: usize) -> Vec<String> {
    let mut v: Vec<String> = (from..to).map(|i| format!("v{i}")).collect();
    v.sort();
    v
}

pub(super) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

/// `kcat -G` joins, is assigned every partition, consumes and commits on
/// exit; a second run of the group finds nothing left. The coordinator
/// is the leader of the group's `__consumer_offsets` partition.
pub async fn kcat_group_consumes_and_commits(b: &dyn Backend) {
    let (topic, mut a) = topic(b, "km-grp-kcat", 3).await;
    produce(b, &topic, 0, 30).await;
    let group = unique("km-kcat-group");
    let run = || {
        kcat(
            &[
                "-b",
                &b.bootstrap(),
                "-G",
                &group,
                "-X",
                "auto.offset.reset=earliest",
                "-e",
                "-q",
                "-f",
                "%s\n",
                &topic,
            ],
            None,
        )
    };
    let mut first: Vec<String> = run().lines().map(String::from).collect();
    first.sort();
    assert_eq!(first, values(0, 30), "{}", b.name());
    let c = coordinator(b, &group).await;
    let (p, leader, _) = offsets_leader(&mut a, &group).await;
    assert_eq!(
        c,
        leader,
        "{}: coordinator of {group} (partition {p})",
        b.name()
    );
    let (bs, g, t) = (b.bootstrap(), group.clone(), topic.clone());
    let offsets = blocking(move || committed(&bs, &g, &t, 3)).await;
    let mut hws = Vec::new();
    for p in 0..3 {
        hws.push(super::rdk::high_watermark(&b.bootstrap(), &topic, p));
    }
    assert_eq!(offsets, hws, "{}: kcat committed what it read", b.name());
    assert_eq!(run(), "", "{}: nothing left for the group", b.name());
}

/// Polls `members` in turn until `done` holds for their assignments.
fn poll_until(
    members: &[&BaseConsumer],
    what: &str,
    secs: u64,
    done: impl Fn(&[BTreeSet<i32>]) -> bool,
) -> Vec<BTreeSet<i32>> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        for m in members {
            let _ = m.poll(Duration::from_millis(50));
        }
        let sets: Vec<BTreeSet<i32>> = members
            .iter()
            .map(|m| {
                m.assignment()
                    .unwrap()
                    .elements()
                    .iter()
                    .map(|e| e.partition())
                    .collect()
            })
            .collect();
        if done(&sets) {
            return sets;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {sets:?}"
        );
    }
}

/// Two librdkafka members split the partitions between them; when one
/// leaves, the other gets them all; a third joining takes a share.
pub async fn rdkafka_members_split_and_rebalance(b: &dyn Backend) {
    let (topic, _a) = topic(b, "km-grp-split", 4).await;
    let group = unique("km-split-group");
    let bs = b.bootstrap();
    let name = b.name();
    blocking(move || {
        let all: BTreeSet<i32> = (0..4).collect();
        let m1 = member(&bs, &group, "km-m1");
        m1.subscribe(&[&topic]).unwrap();
        poll_until(&[&m1], "the first member's assignment", 60, |s| s[0] == all);
        let m2 = member(&bs, &group, "km-m2");
        m2.subscribe(&[&topic]).unwrap();
        let split = poll_until(&[&m1, &m2], "two members sharing", 60, |s| {
            !s[0].is_empty()
                && !s[1].is_empty()
                && s[0].is_disjoint(&s[1])
                && s[0].union(&s[1]).copied().collect::<BTreeSet<_>>() == all
        });
        assert_eq!(split[0].len() + split[1].len(), 4, "{name}: {split:?}");
        // A member that closes sends LeaveGroup: the rebalance needs no
        // session timeout.
        let left = Instant::now();
        drop(m2);
        poll_until(&[&m1], "the remaining member taking all", 30, |s| {
            s[0] == all
        });
        eprintln!("{name}: rebalance after LeaveGroup: {:?}", left.elapsed());
        assert!(
            left.elapsed() < Duration::from_secs(5),
            "{name}: rebalance after LeaveGroup took {:?}",
            left.elapsed()
        );
    })
    .await;
}

/// Offsets committed before the coordinator's broker stops are there when
/// another broker takes the group over, and the group resumes after them.
pub async fn group_offsets_survive_coordinator_failover(b: &dyn Backend) {
    let (topic, mut a) = topic(b, "km-grp-failover", 2).await;
    produce(b, &topic, 0, 20).await;
    let group = unique("km-failover-group");
    let (bs, g, t) = (b.bootstrap(), group.clone(), topic.clone());
    let got = blocking(move || consume_and_commit(&bs, &g, &t, 20)).await;
    assert_eq!(got, values(0, 20), "{}", b.name());
    let (bs, g, t) = (b.bootstrap(), group.clone(), topic.clone());
    let before = blocking(move || committed(&bs, &g, &t, 2)).await;
    assert_eq!(before.iter().sum::<i64>(), 20, "{}: {before:?}", b.name());
    let old = coordinator(b, &group).await;
    b.stop_broker(old).await;
    let new = eventually!("another coordinator", 60, {
        let c = coordinator(b, &group).await;
        (c != old).then_some(c)
    });
    let (_, leader, _) = offsets_leader(&mut a, &group).await;
    assert_eq!(new, leader, "{}", b.name());
    let (bs, g, t) = (b.bootstrap(), group.clone(), topic.clone());
    let after = blocking(move || committed(&bs, &g, &t, 2)).await;
    assert_eq!(
        after,
        before,
        "{}: offsets after failover to {new}",
        b.name()
    );
    produce(b, &topic, 20, 30).await;
    let (bs, g, t) = (b.bootstrap(), group.clone(), topic.clone());
    let resumed = blocking(move || consume_and_commit(&bs, &g, &t, 10)).await;
    b.start_broker(old).await;
    assert_eq!(
        resumed,
        values(20, 30),
        "{}: resumed after the commits",
        b.name()
    );
}

/// Offsets stay through a reassignment that moves the consumed partitions
/// and the group's `__consumer_offsets` partition (so the coordinator too).
pub async fn group_offsets_survive_a_reassignment(b: &dyn Backend) {
    let ids = b.brokers();
    let (topic, mut a) = topic(b, "km-grp-move", 2).await;
    produce(b, &topic, 0, 20).await;
    let group = unique("km-move-group");
    let (bs, g, t) = (b.bootstrap(), group.clone(), topic.clone());
    let got = blocking(move || consume_and_commit(&bs, &g, &t, 20)).await;
    assert_eq!(got, values(0, 20), "{}", b.name());
    let (bs, g, t) = (b.bootstrap(), group.clone(), topic.clone());
    let before = blocking(move || committed(&bs, &g, &t, 2)).await;
    let old = coordinator(b, &group).await;
    let (op, leader, replicas) = offsets_leader(&mut a, &group).await;
    assert_eq!(old, leader);
    // The offsets partition moves off its leader onto the other brokers.
    let target: Vec<BrokerId> = ids.iter().copied().filter(|b| *b != leader).collect();
    let target = target[..replicas.len().min(target.len())].to_vec();
    let tp = |t: &str, p| TopicPartition {
        topic: t.to_string(),
        partition: p,
    };
    let moves = vec![
        (tp(&topic, 0), Some(vec![ids[2], ids[3]])),
        (tp(&topic, 1), Some(vec![ids[3], ids[2]])),
        (tp("__consumer_offsets", op), Some(target.clone())),
    ];
    for (m, r) in a.alter_reassignments(&moves).await.unwrap() {
        assert!(r.is_ok(), "{}: {m}: {r:?}", b.name());
    }
    eventually!("the moves to finish", 60, {
        let left = a.list_reassignments().await.unwrap();
        left.iter()
            .all(|o| o.tp.topic != topic && o.tp.topic != "__consumer_offsets")
            .then_some(())
    });
    let new = eventually!("the coordinator to move", 60, {
        let c = coordinator(b, &group).await;
        (c != old).then_some(c)
    });
    assert!(
        target.contains(&new),
        "{}: {new} not in {target:?}",
        b.name()
    );
    let (bs, g, t) = (b.bootstrap(), group.clone(), topic.clone());
    let after = blocking(move || committed(&bs, &g, &t, 2)).await;
    assert_eq!(after, before, "{}: offsets after the moves", b.name());
    produce(b, &topic, 20, 25).await;
    let (bs, g, t) = (b.bootstrap(), group.clone(), topic.clone());
    let resumed = blocking(move || consume_and_commit(&bs, &g, &t, 5)).await;
    assert_eq!(resumed, values(20, 25), "{}", b.name());
}

/// `kafka-console-consumer --group` reads and commits; `kafka-consumer-groups`
/// lists the group, describes its offsets and its live members, and
/// deletes it once it is empty.
pub fn kafka_console_consumer_and_consumer_groups(b: &dyn Backend) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (topic, _a) = rt.block_on(topic(b, "km-grp-tools", 2));
    rt.block_on(produce(b, &topic, 0, 12));
    let bs = b.bootstrap();
    let group = unique("km-tools-group");
    let out = tool_at(
        "kafka-console-consumer",
        &bs,
        &[
            "--topic",
            &topic,
            "--group",
            &group,
            "--from-beginning",
            "--max-messages",
            "12",
            "--timeout-ms",
            "60000",
        ],
    );
    let mut lines: Vec<String> = out.lines().map(String::from).collect();
    lines.sort();
    assert_eq!(lines, values(0, 12), "{}", b.name());
    let listed = tool_at("kafka-consumer-groups", &bs, &["--list"]);
    assert!(
        listed.lines().any(|l| l.trim() == group),
        "{}: {listed}",
        b.name()
    );
    let described = tool_at(
        "kafka-consumer-groups",
        &bs,
        &["--describe", "--group", &group],
    );
    // GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG ...
    let rows: BTreeMap<String, (String, String, String)> = described
        .lines()
        .filter(|l| l.starts_with(&group))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (
                f[2].to_string(),
                (f[3].to_string(), f[4].to_string(), f[5].to_string()),
            )
        })
        .collect();
    assert_eq!(rows.len(), 2, "{}: {described}", b.name());
    let mut total = 0;
    for (cur, end, lag) in rows.values() {
        assert_eq!((cur, lag.as_str()), (end, "0"), "{}: {described}", b.name());
        total += cur.parse::<i64>().unwrap();
    }
    assert_eq!(total, 12, "{}: {described}", b.name());
    // An operator's reset of the empty group (OffsetCommit at generation -1).
    let reset = tool_at(
        "kafka-consumer-groups",
        &bs,
        &[
            "--reset-offsets",
            "--group",
            &group,
            "--topic",
            &topic,
            "--to-earliest",
            "--execute",
        ],
    );
    let new_offsets: Vec<&str> = reset
        .lines()
        .filter(|l| l.starts_with(&group))
        .map(|l| l.split_whitespace().last().unwrap())
        .collect();
    assert_eq!(new_offsets, vec!["0", "0"], "{}: {reset}", b.name());
    let again = tool_at(
        "kafka-console-consumer",
        &bs,
        &[
            "--topic",
            &topic,
            "--group",
            &group,
            "--max-messages",
            "12",
            "--timeout-ms",
            "60000",
        ],
    );
    assert_eq!(
        again.lines().count(),
        12,
        "{}: read again after the reset: {again}",
        b.name()
    );
    // OffsetDelete on the empty group: its offsets go.
    let gone = tool_at(
        "kafka-consumer-groups",
        &bs,
        &["--delete-offsets", "--group", &group, "--topic", &topic],
    );
    let ok = gone
        .lines()
        .filter(|l| l.starts_with(topic.as_str()) && l.contains("Successful"))
        .count();
    assert_eq!(ok, 2, "{}: {gone}", b.name());
    let described = tool_at(
        "kafka-consumer-groups",
        &bs,
        &["--describe", "--group", &group],
    );
    assert!(
        !described.lines().any(|l| l.starts_with(group.as_str())),
        "{}: no offsets left: {described}",
        b.name()
    );
    // A live member shows with its client id, the group Stable.
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    let (bs2, g2, t2) = (bs.clone(), group.clone(), topic.clone());
    let live = std::thread::spawn(move || {
        let m = member(&bs2, &g2, "km-live-member");
        m.subscribe(&[&t2]).unwrap();
        poll_until(&[&m], "an assignment", 60, |s| s[0].len() == 2);
        ready_tx.send(()).unwrap();
        while stop_rx.try_recv().is_err() {
            let _ = m.poll(Duration::from_millis(100));
        }
    });
    ready_rx
        .recv_timeout(Duration::from_secs(90))
        .expect("member joined");
    let members = tool_at(
        "kafka-consumer-groups",
        &bs,
        &["--describe", "--group", &group, "--members"],
    );
    let state = tool_at(
        "kafka-consumer-groups",
        &bs,
        &["--describe", "--group", &group, "--state"],
    );
    let run = |args: &[&str]| {
        let out = std::process::Command::new("bash")
            .arg(crate::support::repo().join("tests/kafka/cluster.sh"))
            .args(["tool", "kafka-consumer-groups", "--bootstrap-server", &bs])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
    };
    let subscribed = run(&["--delete-offsets", "--group", &group, "--topic", &topic]);
    let busy = std::process::Command::new("bash")
        .arg(crate::support::repo().join("tests/kafka/cluster.sh"))
        .args([
            "tool",
            "kafka-consumer-groups",
            "--bootstrap-server",
            &bs,
            "--delete",
            "--group",
            &group,
        ])
        .output()
        .unwrap();
    stop_tx.send(()).unwrap();
    live.join().unwrap();
    assert!(
        members
            .lines()
            .any(|l| l.contains("km-live-member") && l.contains("km-live-member-")),
        "{}: {members}",
        b.name()
    );
    assert!(state.contains("Stable"), "{}: {state}", b.name());
    assert!(
        subscribed.contains("subscribed") && !subscribed.contains("Successful"),
        "{}: the group consumes the topic: {subscribed}",
        b.name()
    );
    let busy_text =
        String::from_utf8_lossy(&busy.stdout).to_string() + &String::from_utf8_lossy(&busy.stderr);
    assert!(
        busy_text.contains("NonEmptyGroup") || busy_text.contains("not empty"),
        "{}: {busy_text}",
        b.name()
    );
    let deleted = tool_at(
        "kafka-consumer-groups",
        &bs,
        &["--delete", "--group", &group],
    );
    assert!(deleted.contains("successful"), "{}: {deleted}", b.name());
    let listed = tool_at("kafka-consumer-groups", &bs, &["--list"]);
    assert!(
        !listed.lines().any(|l| l.trim() == group),
        "{}: {listed}",
        b.name()
    );
}

/// The classic protocol request by request, at the versions Kafka 4.x
/// clients use, against the coordinator: the member id required first,
/// the join, the sync, heartbeats and their errors, DescribeGroups; then
/// the member falls silent and its session expires; an admin's commit to
/// the empty group, OffsetFetch v8, DeleteGroups.
pub async fn classic_protocol_step_by_step(b: &dyn Backend) {
    use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
    use kafka_protocol::messages::offset_commit_request::{
        OffsetCommitRequestPartition, OffsetCommitRequestTopic,
    };
    use kafka_protocol::messages::offset_fetch_request::{
        OffsetFetchRequestGroup, OffsetFetchRequestTopics,
    };
    use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
    use kafka_protocol::messages::*;
    let s = |x: &str| StrBytes::from_string(x.to_string());
    let (topic, _a) = topic(b, "km-grp-steps", 1).await;
    let group = unique("km-steps-group");
    let co = coordinator(b, &group).await;
    let a = admin(b).await;
    let mut conn = Connection::connect(&a.brokers[&co].addr, Duration::from_secs(30))
        .await
        .unwrap();
    let join = |member: &str| {
        JoinGroupRequest::default()
            .with_group_id(GroupId(s(&group)))
            .with_member_id(s(member))
            .with_session_timeout_ms(6000)
            .with_rebalance_timeout_ms(10_000)
            .with_protocol_type(s("consumer"))
            .with_protocols(vec![
                JoinGroupRequestProtocol::default()
                    .with_name(s("range"))
                    .with_metadata(bytes::Bytes::from_static(b"sub")),
            ])
    };
    let first = conn.send_version(&join(""), 9).await.unwrap();
    assert_eq!(first.error_code, 79, "{}: MEMBER_ID_REQUIRED", b.name());
    let id = first.member_id.to_string();
    assert!(id.starts_with("kafka-migrate-"), "{}: {id}", b.name());
    let joined = conn.send_version(&join(&id), 9).await.unwrap();
    let got = (
        joined.error_code,
        joined.generation_id,
        joined.leader.to_string(),
        joined.protocol_type.as_ref().map(|p| p.to_string()),
        joined.protocol_name.as_ref().map(|p| p.to_string()),
        joined.members.len(),
    );
    let want = (
        0,
        1,
        id.clone(),
        Some("consumer".into()),
        Some("range".into()),
        1,
    );
    assert_eq!(got, want, "{}", b.name());
    let synced = conn
        .send_version(
            &SyncGroupRequest::default()
                .with_group_id(GroupId(s(&group)))
                .with_member_id(s(&id))
                .with_generation_id(1)
                .with_protocol_type(Some(s("consumer")))
                .with_protocol_name(Some(s("range")))
                .with_assignments(vec![
                    SyncGroupRequestAssignment::default()
                        .with_member_id(s(&id))
                        .with_assignment(bytes::Bytes::from_static(b"mine")),
                ]),
            5,
        )
        .await
        .unwrap();
    assert_eq!(
        (synced.error_code, synced.assignment.as_ref()),
        (0, b"mine".as_ref()),
        "{}",
        b.name()
    );
    let hb = |member: &str, generation: i32| {
        HeartbeatRequest::default()
            .with_group_id(GroupId(s(&group)))
            .with_member_id(s(member))
            .with_generation_id(generation)
    };
    let mut codes = Vec::new();
    for (m, g) in [(id.as_str(), 1), (id.as_str(), 2), ("nobody", 1)] {
        codes.push(conn.send_version(&hb(m, g), 4).await.unwrap().error_code);
    }
    assert_eq!(
        codes,
        vec![0, 22, 25],
        "{}: NONE, ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID",
        b.name()
    );
    let describe = DescribeGroupsRequest::default().with_groups(vec![GroupId(s(&group))]);
    let d = conn.send_version(&describe, 5).await.unwrap();
    let g = &d.groups[0];
    let m = &g.members[0];
    let got = (
        g.error_code,
        g.group_state.to_string(),
        g.protocol_type.to_string(),
        g.protocol_data.to_string(),
        m.member_id.to_string(),
        m.client_id.to_string(),
        m.client_host.to_string(),
        m.member_assignment.as_ref().to_vec(),
    );
    let want = (
        0,
        "Stable".to_string(),
        "consumer".to_string(),
        "range".to_string(),
        id.clone(),
        "kafka-migrate".to_string(),
        "/127.0.0.1".to_string(),
        b"mine".to_vec(),
    );
    assert_eq!(got, want, "{}", b.name());
    // Silent from here on: the session (6 s) runs out. Real Kafka took
    // over 20 s once in a fresh-clone CI run (its expiry check is a
    // delayed operation, not a deadline), so the wait is generous.
    let empty = eventually!("the silent member to expire", 60, {
        let d = conn.send_version(&describe, 5).await.unwrap();
        (d.groups[0].group_state.as_str() == "Empty").then_some(d)
    });
    assert!(empty.groups[0].members.is_empty(), "{}", b.name());
    assert_eq!(
        conn.send_version(&hb(&id, 1), 4).await.unwrap().error_code,
        25
    );
    let commit = OffsetCommitRequest::default()
        .with_group_id(GroupId(s(&group)))
        .with_generation_id_or_member_epoch(-1)
        .with_topics(vec![
            OffsetCommitRequestTopic::default()
                .with_name(TopicName(s(&topic)))
                .with_partitions(vec![
                    OffsetCommitRequestPartition::default()
                        .with_partition_index(0)
                        .with_committed_offset(42)
                        .with_committed_leader_epoch(-1)
                        .with_committed_metadata(Some(s("by hand"))),
                ]),
        ]);
    let c = conn.send_version(&commit, 9).await.unwrap();
    assert_eq!(c.topics[0].partitions[0].error_code, 0, "{}", b.name());
    let fetch = OffsetFetchRequest::default().with_groups(vec![
        OffsetFetchRequestGroup::default()
            .with_group_id(GroupId(s(&group)))
            .with_topics(Some(vec![
                OffsetFetchRequestTopics::default()
                    .with_name(TopicName(s(&topic)))
                    .with_partition_indexes(vec![0]),
            ])),
    ]);
    let f = conn.send_version(&fetch, 8).await.unwrap();
    let p = &f.groups[0].topics[0].partitions[0];
    assert_eq!(
        (
            f.groups[0].error_code,
            p.committed_offset,
            p.metadata.as_ref().map(|m| m.to_string())
        ),
        (0, 42, Some("by hand".to_string())),
        "{}",
        b.name()
    );
    let del = DeleteGroupsRequest::default().with_groups_names(vec![GroupId(s(&group))]);
    let r = conn.send_version(&del, 2).await.unwrap();
    assert_eq!(r.results[0].error_code, 0, "{}", b.name());
    let d = conn.send_version(&describe, 6).await.unwrap();
    assert_eq!(
        (d.groups[0].error_code, d.groups[0].group_state.as_str()),
        (69, "Dead"),
        "{}: GROUP_ID_NOT_FOUND",
        b.name()
    );
}

/// Counts the rebalances a member goes through (each revoke or assign).
struct Rebalances(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl rdkafka::ClientContext for Rebalances {}

impl rdkafka::consumer::ConsumerContext for Rebalances {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, _: &rdkafka::consumer::Rebalance<'_>) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A static member (KIP-345): librdkafka's `group.instance.id`, with the
/// quick heartbeats and 10 s session of [`member`].
fn static_member(
    bootstrap: &str,
    group: &str,
    instance: &str,
) -> (
    BaseConsumer<Rebalances>,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("group.instance.id", instance)
        .set("client.id", instance)
        .set("session.timeout.ms", "10000")
        .set("heartbeat.interval.ms", "500")
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("broker.address.family", "v4")
        .create_with_context(Rebalances(count.clone()))
        .expect("consumer");
    (c, count)
}

fn assigned<C: rdkafka::consumer::ConsumerContext>(c: &BaseConsumer<C>) -> BTreeSet<i32> {
    c.assignment()
        .unwrap()
        .elements()
        .iter()
        .map(|e| e.partition())
        .collect()
}

/// Polls the static members until `done` holds for their assignments.
fn poll_static_until(
    members: &[&BaseConsumer<Rebalances>],
    what: &str,
    secs: u64,
    done: impl Fn(&[BTreeSet<i32>]) -> bool,
) -> Vec<BTreeSet<i32>> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        for m in members {
            let _ = m.poll(Duration::from_millis(50));
        }
        let sets: Vec<BTreeSet<i32>> = members.iter().map(|m| assigned(m)).collect();
        if done(&sets) {
            return sets;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {sets:?}"
        );
    }
}

/// DescribeGroups at the coordinator: (member id, group instance id).
async fn described_members(b: &dyn Backend, group: &str) -> Vec<(String, Option<String>)> {
    use kafka_protocol::messages::{DescribeGroupsRequest, GroupId};
    let id = coordinator(b, group).await;
    let a = admin(b).await;
    let mut c = Connection::connect(&a.brokers[&id].addr, Duration::from_secs(10))
        .await
        .unwrap();
    let r = c
        .send(
            &DescribeGroupsRequest::default()
                .with_groups(vec![GroupId(StrBytes::from_string(group.to_string()))]),
        )
        .await
        .unwrap();
    let g = &r.groups[0];
    assert_eq!(g.error_code, 0, "DescribeGroups {group}");
    g.members
        .iter()
        .map(|m| {
            (
                m.member_id.to_string(),
                m.group_instance_id.as_ref().map(|i| i.to_string()),
            )
        })
        .collect()
}

/// Kafka's FENCED_INSTANCE_ID.
const FENCED_INSTANCE_ID: i16 = 82;

/// Static membership (KIP-345) with librdkafka's `group.instance.id`: a
/// member that restarts within its session timeout takes its old place
/// and partitions without a rebalance (a static member's close sends no
/// LeaveGroup; the other member is neither revoked nor reassigned), and
/// the member id of its previous instance is fenced (FENCED_INSTANCE_ID).
pub async fn static_member_rejoins_without_a_rebalance(b: &dyn Backend) {
    use std::sync::atomic::Ordering::SeqCst;
    let (topic, _a) = topic(b, "km-grp-static", 4).await;
    let group = unique("km-static-group");
    let name = b.name();
    let all: BTreeSet<i32> = (0..4).collect();
    let (bs, t, g) = (b.bootstrap(), topic.clone(), group.clone());
    let (m1, m2, count2, split) = blocking(move || {
        let (m1, _) = static_member(&bs, &g, "km-instance-1");
        m1.subscribe(&[&t]).unwrap();
        poll_static_until(&[&m1], "the first member's assignment", 60, |s| s[0] == all);
        let (m2, count2) = static_member(&bs, &g, "km-instance-2");
        m2.subscribe(&[&t]).unwrap();
        let split = poll_static_until(&[&m1, &m2], "two members sharing", 60, |s| {
            !s[0].is_empty()
                && !s[1].is_empty()
                && s[0].is_disjoint(&s[1])
                && s[0].union(&s[1]).copied().collect::<BTreeSet<_>>() == all
        });
        (m1, m2, count2, split)
    })
    .await;
    let before = described_members(b, &group).await;
    let old_id = before
        .iter()
        .find(|(_, i)| i.as_deref() == Some("km-instance-1"))
        .unwrap_or_else(|| panic!("{name}: {before:?}"))
        .0
        .clone();
    let (bs, t, g) = (b.bootstrap(), topic.clone(), group.clone());
    let want = split[0].clone();
    let (rebalances, back, m2_after, m1b, m2) = blocking(move || {
        let before = count2.load(SeqCst);
        drop(m1);
        let (m1b, _) = static_member(&bs, &g, "km-instance-1");
        m1b.subscribe(&[&t]).unwrap();
        // Well within the 10 s session: the old instance is still a member.
        let got = poll_static_until(&[&m1b, &m2], "the restarted member's old share", 8, |s| {
            s[0] == want
        });
        // Two quiet seconds in which a rebalance would show.
        let quiet = Instant::now() + Duration::from_secs(2);
        while Instant::now() < quiet {
            let _ = m1b.poll(Duration::from_millis(50));
            let _ = m2.poll(Duration::from_millis(50));
        }
        let m2_after = assigned(&m2);
        (
            count2.load(SeqCst) - before,
            got[0].clone(),
            m2_after,
            m1b,
            m2,
        )
    })
    .await;
    let after = described_members(b, &group).await;
    blocking(move || drop((m1b, m2))).await;
    assert_eq!(back, split[0], "{name}: the same partitions");
    assert_eq!(m2_after, split[1], "{name}: the other member keeps its own");
    assert_eq!(rebalances, 0, "{name}: no rebalance for the other member");
    let new_id = after
        .iter()
        .find(|(_, i)| i.as_deref() == Some("km-instance-1"))
        .map(|(m, _)| m.clone());
    assert!(
        new_id.as_ref().is_some_and(|n| *n != old_id),
        "{name}: a new member id for the instance: {before:?} then {after:?}"
    );
    assert_eq!(after.len(), 2, "{name}: {after:?}");
    // The previous instance's id is fenced.
    use kafka_protocol::messages::{GroupId, HeartbeatRequest};
    let id = coordinator(b, &group).await;
    let a = admin(b).await;
    let mut c = Connection::connect(&a.brokers[&id].addr, Duration::from_secs(10))
        .await
        .unwrap();
    let hb = c
        .send(
            &HeartbeatRequest::default()
                .with_group_id(GroupId(StrBytes::from_string(group.clone())))
                .with_member_id(StrBytes::from_string(old_id))
                .with_group_instance_id(Some(StrBytes::from_static_str("km-instance-1")))
                .with_generation_id(0),
        )
        .await
        .unwrap();
    assert_eq!(hb.error_code, FENCED_INSTANCE_ID, "{name}");
}
