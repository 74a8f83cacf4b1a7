//! The coordinator's state machine driven by hand, with time stepped.

use super::*;

const SESSION: Duration = Duration::from_secs(10);
const REBALANCE: Duration = Duration::from_secs(30);

fn req(group: &str, member: &str, protocols: &[&str]) -> JoinRequest {
    JoinRequest {
        group: group.to_string(),
        member_id: member.to_string(),
        instance_id: None,
        client_id: "c".to_string(),
        client_host: "/127.0.0.1".to_string(),
        session_timeout: SESSION,
        rebalance_timeout: REBALANCE,
        protocol_type: "consumer".to_string(),
        protocols: protocols
            .iter()
            .map(|p| (p.to_string(), Bytes::from(format!("meta-{p}"))))
            .collect(),
        require_known_member_id: true,
    }
}

/// A new member's two-step join (v4+): the id, then the join itself.
fn join_new(gs: &mut Groups, group: &str, protocols: &[&str], now: Instant) -> String {
    let Outcome::Answer(first) = gs.join(req(group, "", protocols), now) else {
        panic!("a new member is answered at once");
    };
    assert_eq!(first.error, code::MEMBER_ID_REQUIRED);
    assert!(first.member_id.starts_with("c-"), "{}", first.member_id);
    match gs.join(req(group, &first.member_id, protocols), now) {
        Outcome::Wait(id) => assert_eq!(id, first.member_id),
        Outcome::Answer(a) => panic!("held until the rebalance ends, got {a:?}"),
    }
    first.member_id
}

fn sync(
    gs: &mut Groups,
    member: &str,
    generation: i32,
    a: &[(&str, &str)],
    now: Instant,
) -> Outcome<SyncAnswer> {
    let assignments = a
        .iter()
        .map(|(m, x)| (m.to_string(), Bytes::from(x.to_string())))
        .collect();
    gs.sync(
        "g",
        member,
        generation,
        Some("consumer"),
        None,
        assignments,
        now,
    )
}

/// One member, joined and synced: generation 1, Stable.
fn stable_one(gs: &mut Groups, now: Instant) -> String {
    let a = join_new(gs, "g", &["range"], now);
    let ans = gs
        .poll_join("g", &a, now)
        .expect("alone, the join completes");
    assert_eq!((ans.error, ans.generation), (code::NONE, 1));
    assert_eq!(ans.leader, a);
    assert_eq!(ans.members.len(), 1);
    assert_eq!(ans.members[0].2, Bytes::from("meta-range"));
    let Outcome::Answer(s) = sync(gs, &a, 1, &[(a.as_str(), "A0")], now) else {
        panic!("the leader's sync is answered at once")
    };
    assert_eq!(s.assignment, Bytes::from("A0"));
    assert_eq!(gs.get("g").unwrap().phase, Phase::Stable);
    a
}

#[test]
fn java_string_hash_picks_the_offsets_partition() {
    // "hello".hashCode() == 99162322; "polygenelubricants".hashCode() is
    // Integer.MIN_VALUE, whose Utils.abs is 0; "Aa" and "BB" collide.
    assert_eq!(offsets_partition("hello", 50), 99162322 % 50);
    assert_eq!(offsets_partition("polygenelubricants", 50), 0);
    assert_eq!(offsets_partition("Aa", 50), offsets_partition("BB", 50));
    assert_eq!(offsets_partition("Aa", 50), 2112 % 50);
    assert_eq!(offsets_partition("", 3), 0);
    // A negative hash (-1178515023): Kafka 4.3.1 coordinated this group
    // from partition 0 of 3 (the sign bit masked off would give 1).
    assert_eq!(offsets_partition("km-move-group-3928-3", 3), 0);
    assert_eq!(
        offsets_partition("km-move-group-3928-3", 50),
        1178515023 % 50
    );
}

#[test]
fn second_member_triggers_a_rebalance_and_gets_its_assignment() {
    let mut gs = Groups::default();
    let t0 = Instant::now();
    let a = stable_one(&mut gs, t0);
    let t1 = t0 + Duration::from_secs(1);
    let b = join_new(&mut gs, "g", &["range"], t1);
    assert_ne!(a, b);
    assert_eq!(gs.get("g").unwrap().phase, Phase::PreparingRebalance);
    assert_eq!(gs.poll_join("g", &b, t1), None, "waits for A to rejoin");
    assert_eq!(
        gs.heartbeat("g", &a, None, 1, t1),
        code::REBALANCE_IN_PROGRESS
    );
    assert!(matches!(
        gs.join(req("g", &a, &["range"]), t1),
        Outcome::Wait(_)
    ));
    let ja = gs.poll_join("g", &a, t1).expect("all joined");
    let jb = gs.poll_join("g", &b, t1).expect("all joined");
    assert_eq!((ja.generation, jb.generation), (2, 2));
    assert_eq!(
        (ja.leader.as_str(), jb.leader.as_str()),
        (a.as_str(), a.as_str())
    );
    assert_eq!(ja.members.len(), 2, "the leader sees every member");
    assert!(jb.members.is_empty(), "a follower sees none");
    assert_eq!(gs.poll_join("g", &a, t1), None, "an answer is given once");

    assert_eq!(sync(&mut gs, &b, 2, &[], t1), Outcome::Wait(b.clone()));
    assert_eq!(gs.poll_sync("g", &b, t1), None, "until the leader syncs");
    let Outcome::Answer(sa) = sync(&mut gs, &a, 2, &[(a.as_str(), "A"), (b.as_str(), "B")], t1)
    else {
        panic!("leader answered at once")
    };
    assert_eq!(sa.assignment, Bytes::from("A"));
    let sb = gs.poll_sync("g", &b, t1).expect("leader synced");
    assert_eq!((sb.error, sb.assignment), (code::NONE, Bytes::from("B")));
    assert_eq!(gs.heartbeat("g", &b, None, 2, t1), code::NONE);
    assert_eq!(gs.heartbeat("g", &b, None, 1, t1), code::ILLEGAL_GENERATION);
    assert_eq!(
        gs.heartbeat("g", "nobody", None, 2, t1),
        code::UNKNOWN_MEMBER_ID
    );
    assert_eq!(
        gs.heartbeat("other", &b, None, 2, t1),
        code::UNKNOWN_MEMBER_ID
    );
}

#[test]
fn members_that_do_not_rejoin_in_time_are_dropped() {
    let mut gs = Groups::default();
    let t0 = Instant::now();
    let a = stable_one(&mut gs, t0);
    let b = join_new(&mut gs, "g", &["range"], t0);
    assert!(matches!(
        gs.join(req("g", &a, &["range"]), t0),
        Outcome::Wait(_)
    ));
    let _ = gs.poll_join("g", &a, t0).unwrap();
    let _ = gs.poll_join("g", &b, t0).unwrap();
    let _ = sync(&mut gs, &a, 2, &[], t0);
    // C joins; A rejoins, B stays silent (heartbeats stopped too).
    let t1 = t0 + Duration::from_secs(1);
    let c = join_new(&mut gs, "g", &["range"], t1);
    assert!(matches!(
        gs.join(req("g", &a, &["range"]), t1),
        Outcome::Wait(_)
    ));
    let before = t1 + Duration::from_secs(8);
    assert_eq!(gs.poll_join("g", &a, before), None);
    // B's session (10 s) runs out before the rebalance timeout (30 s).
    let after = t1 + SESSION;
    let ja = gs
        .poll_join("g", &a, after)
        .expect("B expired, all others joined");
    assert_eq!(ja.generation, 3);
    let ids: Vec<&str> = ja.members.iter().map(|(m, _, _)| m.as_str()).collect();
    let mut want = vec![a.as_str(), c.as_str()];
    want.sort();
    assert_eq!(ids, want);
    assert_eq!(
        gs.heartbeat("g", &b, None, 2, after),
        code::UNKNOWN_MEMBER_ID
    );
}

#[test]
fn rebalance_timeout_ends_the_join_without_the_laggard() {
    let mut gs = Groups::default();
    let t0 = Instant::now();
    let a = stable_one(&mut gs, t0);
    let b = join_new(&mut gs, "g", &["range"], t0);
    // A keeps heartbeating (so its session lives) but never rejoins.
    let mut t = t0;
    while t + Duration::from_secs(3) < t0 + REBALANCE {
        t += Duration::from_secs(3);
        assert_eq!(
            gs.heartbeat("g", &a, None, 1, t),
            code::REBALANCE_IN_PROGRESS
        );
        assert_eq!(gs.poll_join("g", &b, t), None);
    }
    let end = t0 + REBALANCE;
    assert_eq!(gs.next_deadline(), Some(end));
    let jb = gs.poll_join("g", &b, end).expect("deadline passed");
    assert_eq!((jb.generation, jb.leader.as_str()), (2, b.as_str()));
    assert_eq!(gs.heartbeat("g", &a, None, 1, end), code::UNKNOWN_MEMBER_ID);
}

#[test]
fn a_stable_member_whose_session_expires_starts_a_rebalance() {
    let mut gs = Groups::default();
    let t0 = Instant::now();
    let a = stable_one(&mut gs, t0);
    let b = join_new(&mut gs, "g", &["range"], t0);
    let _ = gs.join(req("g", &a, &["range"]), t0);
    let _ = gs.poll_join("g", &a, t0).unwrap();
    let _ = gs.poll_join("g", &b, t0).unwrap();
    let _ = sync(&mut gs, &b, 2, &[], t0);
    let _ = sync(&mut gs, &a, 2, &[], t0);
    assert_eq!(gs.get("g").unwrap().phase, Phase::Stable);
    let t1 = t0 + Duration::from_secs(6);
    assert_eq!(gs.heartbeat("g", &a, None, 2, t1), code::NONE);
    let t2 = t0 + SESSION;
    assert_eq!(
        gs.heartbeat("g", &a, None, 2, t2),
        code::REBALANCE_IN_PROGRESS
    );
    assert!(!gs.get("g").unwrap().members.contains_key(&b));
}

#[test]
fn leaving_empties_the_group_and_only_then_can_it_be_deleted() {
    let mut gs = Groups::default();
    let t0 = Instant::now();
    let a = stable_one(&mut gs, t0);
    assert_eq!(gs.delete("g", t0), code::NON_EMPTY_GROUP);
    assert_eq!(
        gs.leave("g", &[a.clone(), "ghost".to_string()], t0),
        vec![code::NONE, code::UNKNOWN_MEMBER_ID]
    );
    let g = gs.get("g").unwrap();
    assert_eq!((g.phase, g.generation), (Phase::Empty, 2));
    assert_eq!(gs.delete("g", t0), code::NONE);
    assert_eq!(gs.delete("g", t0), code::GROUP_ID_NOT_FOUND);
}

#[test]
fn a_follower_waiting_in_sync_learns_of_a_new_rebalance() {
    let mut gs = Groups::default();
    let t0 = Instant::now();
    let a = stable_one(&mut gs, t0);
    let b = join_new(&mut gs, "g", &["range"], t0);
    let _ = gs.join(req("g", &a, &["range"]), t0);
    let _ = gs.poll_join("g", &b, t0).unwrap();
    assert_eq!(sync(&mut gs, &b, 2, &[], t0), Outcome::Wait(b.clone()));
    // The leader leaves before it assigns.
    assert_eq!(
        gs.leave("g", std::slice::from_ref(&a), t0),
        vec![code::NONE]
    );
    let sb = gs.poll_sync("g", &b, t0).expect("told at once");
    assert_eq!(sb.error, code::REBALANCE_IN_PROGRESS);
}

#[test]
fn protocols_are_chosen_among_those_all_members_share() {
    let mut gs = Groups::default();
    let t0 = Instant::now();
    let a = join_new(&mut gs, "g", &["range", "roundrobin"], t0);
    let _ = gs.poll_join("g", &a, t0).unwrap();
    let _ = sync(&mut gs, &a, 1, &[], t0);
    let b = join_new(&mut gs, "g", &["roundrobin"], t0);
    let _ = gs.join(req("g", &a, &["range", "roundrobin"]), t0);
    let ja = gs.poll_join("g", &a, t0).unwrap();
    assert_eq!(ja.protocol.as_deref(), Some("roundrobin"));
    assert_eq!(
        ja.members.iter().find(|m| m.0 == b).unwrap().2,
        Bytes::from("meta-roundrobin")
    );
    let Outcome::Answer(bad) = gs.join(req("g", "", &["sticky"]), t0) else {
        panic!("refused at once")
    };
    assert_eq!(bad.error, code::INCONSISTENT_GROUP_PROTOCOL);
}

#[test]
fn join_refuses_what_kafka_refuses() {
    let mut gs = Groups::default();
    let t0 = Instant::now();
    let mut r = req("g", "", &["range"]);
    r.session_timeout = Duration::from_secs(1);
    assert!(matches!(
        gs.join(r, t0),
        Outcome::Answer(JoinAnswer {
            error: code::INVALID_SESSION_TIMEOUT,
            ..
        })
    ));
    assert!(matches!(
        gs.join(req("", "", &["range"]), t0),
        Outcome::Answer(JoinAnswer {
            error: code::INVALID_GROUP_ID,
            ..
        })
    ));
    assert!(matches!(
        gs.join(req("g", "made-up", &["range"]), t0),
        Outcome::Answer(JoinAnswer {
            error: code::UNKNOWN_MEMBER_ID,
            ..
        })
    ));
    // Before v4 a new member joins in one step.
    let mut old = req("g", "", &["range"]);
    old.require_known_member_id = false;
    let Outcome::Wait(id) = gs.join(old, t0) else {
        panic!("joined")
    };
    assert_eq!(gs.poll_join("g", &id, t0).unwrap().generation, 1);
    // An id handed out with MEMBER_ID_REQUIRED lapses after the session timeout.
    let Outcome::Answer(first) = gs.join(req("h", "", &["range"]), t0) else {
        panic!()
    };
    let late = t0 + SESSION;
    assert!(matches!(
        gs.join(req("h", &first.member_id, &["range"]), late),
        Outcome::Answer(JoinAnswer {
            error: code::UNKNOWN_MEMBER_ID,
            ..
        })
    ));
}

#[test]
fn commits_follow_the_generation() {
    let mut gs = Groups::default();
    let t0 = Instant::now();
    // An admin's commit (generation -1, no member) makes an empty group.
    assert_eq!(gs.check_commit("g", "", None, -1, t0), code::NONE);
    assert_eq!(
        gs.check_commit("g", "", None, 3, t0),
        code::ILLEGAL_GENERATION
    );
    let off = |o| Committed {
        offset: o,
        leader_epoch: -1,
        metadata: String::new(),
    };
    gs.commit("g", "t", 0, off(5));
    assert_eq!(gs.committed("g", "t", 0), Some(&off(5)));
    let a = stable_one(&mut gs, t0);
    assert_eq!(
        gs.check_commit("g", "", None, -1, t0),
        code::UNKNOWN_MEMBER_ID
    );
    assert_eq!(
        gs.check_commit("g", &a, None, 0, t0),
        code::ILLEGAL_GENERATION
    );
    assert_eq!(gs.check_commit("g", &a, None, 1, t0), code::NONE);
    gs.commit("g", "t", 0, off(9));
    // Mid-rebalance (joined, not yet synced) commits wait for the assignment.
    let _ = gs.join(req("g", &a, &["range"]), t0);
    let _ = gs.poll_join("g", &a, t0).unwrap();
    assert_eq!(
        gs.check_commit("g", &a, None, 2, t0),
        code::REBALANCE_IN_PROGRESS
    );
    assert_eq!(gs.committed("g", "t", 0), Some(&off(9)));
    assert_eq!(gs.all_offsets().count(), 1);
    gs.topic_deleted("t");
    assert_eq!(gs.committed("g", "t", 0), None);
}

/// Kafka's consumer protocol subscription to `topics`, as clients send it.
fn subscription(topics: &[&str]) -> Bytes {
    use bytes::BufMut;
    use kafka_protocol::messages::ConsumerProtocolSubscription;
    use kafka_protocol::protocol::{Encodable, StrBytes};
    let sub = ConsumerProtocolSubscription::default().with_topics(
        topics
            .iter()
            .map(|t| StrBytes::from_string(t.to_string()))
            .collect(),
    );
    let mut b = bytes::BytesMut::new();
    b.put_i16(3);
    sub.encode(&mut b, 3).unwrap();
    b.freeze()
}

#[test]
fn offsets_of_topics_the_members_consume_are_not_deleted() {
    let mut gs = Groups::default();
    let t0 = Instant::now();
    let off = Committed {
        offset: 3,
        leader_epoch: -1,
        metadata: String::new(),
    };
    assert_eq!(
        gs.delete_offsets("g", &[("t".into(), 0)], t0),
        Err(code::GROUP_ID_NOT_FOUND)
    );
    let mut r = req("g", "", &[]);
    r.protocols = vec![("range".into(), subscription(&["t"]))];
    r.require_known_member_id = false;
    let Outcome::Wait(a) = gs.join(r, t0) else {
        panic!("joined")
    };
    let _ = gs.poll_join("g", &a, t0).unwrap();
    let _ = sync(&mut gs, &a, 1, &[], t0);
    gs.commit("g", "t", 0, off.clone());
    gs.commit("g", "u", 0, off.clone());
    assert_eq!(
        gs.get("g").unwrap().subscribed_topics(),
        BTreeSet::from(["t".to_string()])
    );
    assert_eq!(
        gs.delete_offsets("g", &[("t".into(), 0), ("u".into(), 0)], t0),
        Ok(vec![code::GROUP_SUBSCRIBED_TO_TOPIC, code::NONE])
    );
    assert_eq!(gs.committed("g", "t", 0), Some(&off));
    assert_eq!(gs.committed("g", "u", 0), None);
    // Once the member left, nothing is subscribed.
    gs.leave("g", std::slice::from_ref(&a), t0);
    assert_eq!(
        gs.delete_offsets("g", &[("t".into(), 0)], t0),
        Ok(vec![code::NONE])
    );
    assert_eq!(gs.committed("g", "t", 0), None);
}

#[test]
fn held_requests_are_woken_only_by_what_they_wait_for() {
    let mut gs = Groups::default();
    let t0 = Instant::now();
    let a = stable_one(&mut gs, t0);
    assert!(gs.take_woken(), "the first rebalance and sync");
    assert!(!gs.take_woken(), "taken once");
    let t1 = t0 + Duration::from_secs(1);
    assert_eq!(gs.heartbeat("g", &a, None, 1, t1), code::NONE);
    assert_eq!(gs.check_commit("g", &a, None, 1, t1), code::NONE);
    gs.commit(
        "g",
        "t",
        0,
        Committed {
            offset: 5,
            leader_epoch: -1,
            metadata: String::new(),
        },
    );
    assert!(!gs.tick_group("g", t1));
    assert!(!gs.take_woken(), "a heartbeat and a commit wake nobody");

    let b = join_new(&mut gs, "g", &["range"], t1);
    assert!(
        gs.take_woken(),
        "a rebalance begins: A's heartbeat must learn it"
    );
    assert_eq!(gs.poll_join("g", &b, t1), None);
    assert!(!gs.take_woken(), "looking at a held join changes nothing");
    // A never rejoins: the rebalance timeout ends the join without it.
    let t2 = t1 + REBALANCE;
    assert_eq!(gs.next_deadline_of("g"), Some(t2.min(t1 + SESSION)));
    assert_eq!(gs.next_deadline_of("other"), None);
    assert!(gs.tick_group("g", t2));
    assert!(gs.take_woken(), "B's join is answered");
    assert!(gs.poll_join("g", &b, t2).is_some());
    assert_eq!(
        gs.leave("g", std::slice::from_ref(&b), t2),
        vec![code::NONE]
    );
    assert!(gs.take_woken(), "a member left");
    assert_eq!(gs.delete("g", t2), code::NONE);
    assert!(gs.take_woken(), "the group is gone");
}

fn static_req(member: &str, instance: &str) -> JoinRequest {
    JoinRequest {
        instance_id: Some(instance.to_string()),
        ..req("g", member, &["range"])
    }
}

#[test]
fn a_static_member_that_comes_back_takes_its_place_without_a_rebalance() {
    let mut gs = Groups::default();
    let t0 = Instant::now();
    // A static member gets its id at once, without MEMBER_ID_REQUIRED.
    let Outcome::Wait(a) = gs.join(static_req("", "ia"), t0) else {
        panic!("a static member joins at once")
    };
    let ja = gs.poll_join("g", &a, t0).expect("alone");
    assert_eq!(
        (ja.error, ja.generation, ja.leader.as_str()),
        (code::NONE, 1, a.as_str())
    );
    assert_eq!(ja.members[0].1.as_deref(), Some("ia"));
    let _ = sync(&mut gs, &a, 1, &[(a.as_str(), "A0")], t0);
    let b = join_new(&mut gs, "g", &["range"], t0);
    assert!(matches!(
        gs.join(static_req(&a, "ia"), t0),
        Outcome::Wait(_)
    ));
    let _ = gs.poll_join("g", &a, t0).unwrap();
    let _ = gs.poll_join("g", &b, t0).unwrap();
    let _ = sync(&mut gs, &b, 2, &[], t0);
    let _ = sync(&mut gs, &a, 2, &[(a.as_str(), "A"), (b.as_str(), "B")], t0);
    assert_eq!(gs.get("g").unwrap().phase, Phase::Stable);

    // Restarted, it joins with no member id: a new id in its old place,
    // the same generation, no rebalance.
    let t1 = t0 + Duration::from_secs(1);
    let Outcome::Answer(back) = gs.join(static_req("", "ia"), t1) else {
        panic!("answered at once")
    };
    assert_ne!(back.member_id, a);
    assert_eq!((back.error, back.generation), (code::NONE, 2));
    assert_eq!(back.leader, back.member_id, "it led, it leads");
    assert!(back.skip_assignment, "a leader keeps the assignment");
    assert_eq!(gs.get("g").unwrap().phase, Phase::Stable);
    let Outcome::Answer(s) = sync(&mut gs, &back.member_id, 2, &[], t1) else {
        panic!("stable: answered at once")
    };
    assert_eq!(s.assignment, Bytes::from("A"), "the old instance's share");
    assert_eq!(
        gs.heartbeat("g", &b, None, 2, t1),
        code::NONE,
        "no rebalance"
    );

    // The old instance is fenced everywhere.
    assert_eq!(
        gs.heartbeat("g", &a, Some("ia"), 2, t1),
        code::FENCED_INSTANCE_ID
    );
    assert_eq!(
        gs.check_commit("g", &a, Some("ia"), 2, t1),
        code::FENCED_INSTANCE_ID
    );
    assert_eq!(
        gs.validate_member("g", &a, Some("ia")),
        code::FENCED_INSTANCE_ID
    );
    let Outcome::Answer(fenced) = gs.join(static_req(&a, "ia"), t1) else {
        panic!("refused at once")
    };
    assert_eq!(fenced.error, code::FENCED_INSTANCE_ID);
    assert_eq!(
        gs.validate_member("g", &b, Some("nobody")),
        code::UNKNOWN_MEMBER_ID
    );

    // An admin removes it by its instance id alone: a rebalance.
    assert_eq!(
        gs.leave_members("g", &[(String::new(), Some("ia".to_string()))], t1),
        vec![code::NONE]
    );
    let g = gs.get("g").unwrap();
    assert_eq!(g.phase, Phase::PreparingRebalance);
    assert!(!g.members.contains_key(&back.member_id));
}

#[test]
fn offsets_expire_a_retention_period_after_the_group_empties() {
    let mut gs = Groups::default();
    let retention = Duration::from_secs(60);
    gs.set_retention(retention, Duration::from_secs(1));
    let t0 = Instant::now();
    let off = |o| Committed {
        offset: o,
        leader_epoch: -1,
        metadata: String::new(),
    };
    let a = stable_one(&mut gs, t0);
    assert_eq!(gs.check_commit("g", &a, None, 1, t0), code::NONE);
    gs.commit_at("g", "t", 0, off(5), t0);
    // An admin's offsets (no protocol) count from their own commit.
    gs.commit_at("admin", "t", 0, off(1), t0);
    let t1 = t0 + Duration::from_secs(30);
    gs.commit_at("admin", "t", 1, off(2), t1);
    assert!(!gs.cleanup_due(t0), "the first check is an interval away");
    // A stable group keeps the offsets of what it consumes, however old.
    let t2 = t0 + retention * 2;
    for i in 1..=24 {
        let t = t0 + Duration::from_secs(5 * i);
        assert_eq!(gs.heartbeat("g", &a, None, 1, t), code::NONE);
    }
    let v = gs.offsets_version();
    assert!(gs.expire_offsets(t2), "the admin's first offset");
    assert!(gs.offsets_version() > v, "the persister saves the rest");
    assert_eq!(gs.committed("g", "t", 0), Some(&off(5)));
    assert_eq!(gs.committed("admin", "t", 0), None);
    assert_eq!(gs.committed("admin", "t", 1), None, "30 s + 60 s < 120 s");
    assert!(
        gs.get("admin").is_none(),
        "an empty group with no offsets goes"
    );

    // Empty from t3: its offsets go a retention period later, not before.
    let t3 = t2 + Duration::from_secs(1);
    assert_eq!(
        gs.leave("g", std::slice::from_ref(&a), t3),
        vec![code::NONE]
    );
    assert!(!gs.expire_offsets(t3 + retention - Duration::from_secs(1)));
    assert_eq!(gs.committed("g", "t", 0), Some(&off(5)));
    assert!(gs.expire_offsets(t3 + retention));
    assert_eq!(gs.committed("g", "t", 0), None);
    assert!(gs.get("g").is_none(), "then the group itself");
}
