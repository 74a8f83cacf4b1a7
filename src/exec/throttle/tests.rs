use proptest::prelude::*;

use super::*;

fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition {
        topic: topic.to_string(),
        partition,
    }
}

fn flight(topic: &str, p: i32, replicas: &[i32], adding: &[i32], removing: &[i32]) -> InFlight {
    InFlight {
        tp: tp(topic, p),
        replicas: replicas.to_vec(),
        adding: adding.to_vec(),
        removing: removing.to_vec(),
    }
}

fn moves(list: &[(&str, i32, &[i32])]) -> Vec<Move> {
    list.iter()
        .map(|(t, p, r)| Move::new(tp(t, *p), r.to_vec()))
        .collect()
}

fn current(list: &[(&str, i32, &[i32])]) -> BTreeMap<TopicPartition, Vec<BrokerId>> {
    list.iter()
        .map(|(t, p, r)| (tp(t, *p), r.to_vec()))
        .collect()
}

fn pm(sources: &[i32], destinations: &[i32]) -> PartitionMove {
    PartitionMove {
        sources: sources.iter().copied().collect(),
        destinations: destinations.iter().copied().collect(),
    }
}

fn topic(r: &str) -> ConfigResource {
    ConfigResource::Topic(r.to_string())
}

fn key(r: ConfigResource, k: &str) -> (ConfigResource, String) {
    (r, k.to_string())
}

/// Kafka's ReassignPartitionsUnitTest.testMoveMap: the same in-flight
/// moves, plan and current assignment, and its expected move map, leader
/// and follower lists and reassigning brokers.
fn kafka_move_map_case() -> (
    Vec<Move>,
    BTreeMap<TopicPartition, Vec<BrokerId>>,
    Vec<InFlight>,
) {
    let in_flight = vec![
        // overwritten with a different target
        flight("foo", 0, &[1, 2, 3, 4], &[4], &[3]),
        // kept as it is (not in the plan)
        flight("foo", 1, &[4, 5, 6, 7, 8], &[7, 8], &[4, 5]),
        // overwritten with the same target
        flight("foo", 2, &[1, 2, 3, 4], &[3, 4], &[1, 2]),
        // overwritten with no overlap with the old target
        flight("foo", 3, &[1, 2, 3, 4], &[3, 4], &[1, 2]),
        // overwritten with a subset of the old target
        flight("foo", 4, &[1, 2, 3, 4], &[3, 4], &[1, 2]),
        // overwritten with a superset of the old target
        flight("foo", 5, &[1, 2, 3, 4], &[3, 4], &[1, 2]),
    ];
    let plan = moves(&[
        ("foo", 0, &[1, 2, 5]),
        ("foo", 2, &[3, 4]),
        ("foo", 3, &[5, 6]),
        ("foo", 4, &[3]),
        ("foo", 5, &[3, 4, 5, 6]),
        ("bar", 0, &[1, 2, 3]),
    ]);
    let cur = current(&[
        ("foo", 0, &[1, 2, 3, 4]),
        ("foo", 1, &[4, 5, 6, 7, 8]),
        ("foo", 2, &[1, 2, 3, 4]),
        ("foo", 3, &[1, 2, 3, 4]),
        ("foo", 4, &[1, 2, 3, 4]),
        ("foo", 5, &[1, 2, 3, 4]),
        ("bar", 0, &[2, 3, 4]),
        ("baz", 0, &[1, 2, 3]),
    ]);
    (plan, cur, in_flight)
}

#[test]
fn kafka_test_move_map() {
    let (plan, cur, in_flight) = kafka_move_map_case();
    let map = move_map(&plan, &cur, &in_flight).unwrap();
    let foo: BTreeMap<i32, PartitionMove> = [
        (0, pm(&[1, 2, 3], &[5])),
        (1, pm(&[4, 5, 6], &[7, 8])),
        (2, pm(&[1, 2], &[3, 4])),
        (3, pm(&[1, 2], &[5, 6])),
        (4, pm(&[1, 2], &[3])),
        (5, pm(&[1, 2], &[3, 4, 5, 6])),
    ]
    .into_iter()
    .collect();
    let bar: BTreeMap<i32, PartitionMove> = [(0, pm(&[2, 3, 4], &[1]))].into_iter().collect();
    assert_eq!(map["foo"], foo);
    assert_eq!(map["bar"], bar);
    assert_eq!(map.len(), 2, "baz is not moving and gets nothing");
}

#[test]
fn kafka_test_leader_follower_throttles_and_brokers() {
    let (plan, cur, in_flight) = kafka_move_map_case();
    let t = Throttles::compute(&plan, &cur, &in_flight).unwrap();
    assert_eq!(
        t.topics["foo"].leader_value(),
        "0:1,0:2,0:3,1:4,1:5,1:6,2:1,2:2,3:1,3:2,4:1,4:2,5:1,5:2"
    );
    assert_eq!(t.topics["bar"].leader_value(), "0:2,0:3,0:4");
    assert_eq!(
        t.topics["foo"].follower_value(),
        "0:5,1:7,1:8,2:3,2:4,3:5,3:6,4:3,5:3,5:4,5:5,5:6"
    );
    assert_eq!(t.topics["bar"].follower_value(), "0:1");
    assert_eq!(t.brokers, (1..=8).collect::<BTreeSet<_>>());
    assert!(t.log_dir_brokers.is_empty());
}

#[test]
fn kafka_test_moving_brokers_are_those_named_with_a_log_dir() {
    // testMoveMap's calculateMovingBrokers: replicas quux-0 on 0 and
    // quux-1 on 2 have explicit dirs -> brokers {0, 2}. Broker 1 names
    // "any" and gets no log-dir rate; broker 0 gets it although its
    // replica does not change broker.
    let mut plan = moves(&[("quux", 0, &[0, 1]), ("quux", 1, &[2, 1])]);
    plan[0].log_dirs = vec!["/d1".into(), "any".into()];
    plan[1].log_dirs = vec!["/d2".into(), "any".into()];
    let cur = current(&[("quux", 0, &[0, 1]), ("quux", 1, &[1, 3])]);
    let t = Throttles::compute(&plan, &cur, &[]).unwrap();
    assert_eq!(t.log_dir_brokers, [0, 2].into_iter().collect());
    assert_eq!(t.brokers, [0, 1, 2, 3].into_iter().collect());
}

#[test]
fn entries_sort_as_strings_like_javas_tree_set() {
    // Kafka collects "p:b" strings in a TreeSet<String>: "10:1" < "1:2" <
    // "2:10" < "2:3".
    let plan = moves(&[("t", 1, &[2]), ("t", 10, &[1]), ("t", 2, &[3, 10])]);
    let cur = current(&[("t", 1, &[1]), ("t", 10, &[3]), ("t", 2, &[4])]);
    let t = Throttles::compute(&plan, &cur, &[]).unwrap();
    assert_eq!(t.topics["t"].leader_value(), "10:3,1:1,2:4");
    assert_eq!(t.topics["t"].follower_value(), "10:1,1:2,2:10,2:3");
}

#[test]
fn a_reorder_gets_an_empty_follower_list_and_its_brokers_the_rate() {
    let plan = moves(&[("r", 0, &[3, 1, 2])]);
    let cur = current(&[("r", 0, &[1, 2, 3])]);
    let t = Throttles::compute(&plan, &cur, &[]).unwrap();
    assert_eq!(t.topics["r"].leader_value(), "0:1,0:2,0:3");
    assert_eq!(t.topics["r"].follower_value(), "");
    assert_eq!(t.brokers, [1, 2, 3].into_iter().collect());
}

#[test]
fn an_unknown_partition_is_refused_with_all_named() {
    let plan = moves(&[("b", 0, &[1]), ("a", 3, &[1]), ("a", 0, &[1])]);
    let cur = current(&[("a", 0, &[2])]);
    let e = Throttles::compute(&plan, &cur, &[]).unwrap_err();
    assert_eq!(e.0, vec![tp("a", 3), tp("b", 0)]);
    assert_eq!(e.to_string(), "no current replicas for a-3, b-0");
    // A partition in flight needs no current assignment.
    let ok = Throttles::compute(&plan[..1], &cur, &[flight("b", 0, &[1, 2], &[1], &[2])]);
    assert!(ok.is_ok());
}

fn values(list: &[(ConfigResource, &str, &str)]) -> ConfigValues {
    list.iter()
        .map(|(r, k, v)| (key(r.clone(), k), v.to_string()))
        .collect()
}

const RATES: Rates = Rates {
    replication: Some(1000),
    log_dirs: None,
};

#[test]
fn on_a_clean_cluster_the_values_are_kafkas_strings() {
    let (plan, cur, in_flight) = kafka_move_map_case();
    let t = Throttles::compute(&plan, &cur, &in_flight).unwrap();
    let mut now = ConfigValues::new();
    let change = set_ops(&t, RATES, &now, &[]);
    apply_alter(&mut now, &change.ops).unwrap();
    let mut want = ConfigValues::new();
    for (name, lists) in &t.topics {
        want.insert(key(topic(name), LEADER_REPLICAS), lists.leader_value());
        if !lists.follower.is_empty() {
            want.insert(key(topic(name), FOLLOWER_REPLICAS), lists.follower_value());
        }
    }
    for b in 1..=8 {
        want.insert(key(ConfigResource::Broker(b), LEADER_RATE), "1000".into());
        want.insert(key(ConfigResource::Broker(b), FOLLOWER_RATE), "1000".into());
    }
    assert_eq!(now, want);
    // Ops are in a stable order: brokers first, then topics, by key.
    let mut sorted = change.ops.clone();
    sorted.sort();
    assert_eq!(change.ops, sorted);
    assert!(matches!(change.ops[0].resource, ConfigResource::Broker(1)));

    let restore = restore_ops(&change.undo, &now);
    assert!(restore.left_alone.is_empty());
    assert!(restore.ops.iter().all(|o| o.op == AlterOp::Delete));
    apply_alter(&mut now, &restore.ops).unwrap();
    assert!(now.is_empty(), "{now:?}");
}

#[test]
fn an_operators_own_throttles_survive_and_come_back() {
    let plan = moves(&[("t", 0, &[1, 4])]);
    let cur = current(&[("t", 0, &[1, 2])]);
    let t = Throttles::compute(&plan, &cur, &[]).unwrap();
    let b = ConfigResource::Broker;
    let before = values(&[
        (topic("t"), LEADER_REPLICAS, "5:9,0:1"),
        (topic("t"), FOLLOWER_REPLICAS, "*"),
        (b(2), LEADER_RATE, "777"),
        (b(9), LEADER_RATE, "5"),
    ]);
    let mut now = before.clone();
    let change = set_ops(&t, RATES, &now, &[]);
    // 0:1 is already the operator's: only 0:2 is appended; the follower
    // list is "*" and throttles 0:4 already.
    assert_eq!(
        change
            .ops
            .iter()
            .filter(|o| o.resource == topic("t"))
            .collect::<Vec<_>>(),
        vec![&ConfigOp {
            resource: topic("t"),
            key: LEADER_REPLICAS.into(),
            op: AlterOp::Append(vec!["0:2".into()]),
        }]
    );
    apply_alter(&mut now, &change.ops).unwrap();
    assert_eq!(now[&key(topic("t"), LEADER_REPLICAS)], "5:9,0:1,0:2");
    assert_eq!(now[&key(topic("t"), FOLLOWER_REPLICAS)], "*");
    assert_eq!(now[&key(b(2), LEADER_RATE)], "1000");

    let restore = restore_ops(&change.undo, &now);
    assert!(restore.ops.contains(&ConfigOp {
        resource: b(2),
        key: LEADER_RATE.into(),
        op: AlterOp::Set("777".into()),
    }));
    assert!(restore.ops.contains(&ConfigOp {
        resource: topic("t"),
        key: LEADER_REPLICAS.into(),
        op: AlterOp::Subtract(vec!["0:2".into()]),
    }));
    apply_alter(&mut now, &restore.ops).unwrap();
    assert_eq!(now, before);
}

#[test]
fn changing_the_rate_mid_move_keeps_the_first_before() {
    let plan = moves(&[("t", 0, &[2])]);
    let cur = current(&[("t", 0, &[1])]);
    let t = Throttles::compute(&plan, &cur, &[]).unwrap();
    let before = values(&[(ConfigResource::Broker(1), FOLLOWER_RATE, "50")]);
    let mut now = before.clone();
    let first = set_ops(&t, RATES, &now, &[]);
    apply_alter(&mut now, &first.ops).unwrap();
    let faster = Rates {
        replication: Some(9000),
        log_dirs: None,
    };
    let second = set_ops(&t, faster, &now, &first.undo);
    // The lists are in place: only the rates are sent again.
    assert!(
        second
            .ops
            .iter()
            .all(|o| matches!(o.resource, ConfigResource::Broker(_)))
    );
    apply_alter(&mut now, &second.ops).unwrap();
    assert_eq!(now[&key(ConfigResource::Broker(2), LEADER_RATE)], "9000");
    assert!(second.undo.contains(&Undo::Value {
        resource: ConfigResource::Broker(1),
        key: FOLLOWER_RATE.into(),
        before: Some("50".into()),
        set: "9000".into(),
    }));
    let restore = restore_ops(&second.undo, &now);
    apply_alter(&mut now, &restore.ops).unwrap();
    assert_eq!(now, before);
}

#[test]
fn a_rate_someone_else_changed_is_left_alone() {
    let plan = moves(&[("t", 0, &[2])]);
    let cur = current(&[("t", 0, &[1])]);
    let t = Throttles::compute(&plan, &cur, &[]).unwrap();
    let mut now = ConfigValues::new();
    let change = set_ops(&t, RATES, &now, &[]);
    apply_alter(&mut now, &change.ops).unwrap();
    let theirs = key(ConfigResource::Broker(2), LEADER_RATE);
    now.insert(theirs.clone(), "123".into());
    let restore = restore_ops(&change.undo, &now);
    assert_eq!(
        restore.left_alone,
        vec![LeftAlone {
            resource: ConfigResource::Broker(2),
            key: LEADER_RATE.into(),
            ours: "1000".into(),
            now: Some("123".into()),
        }]
    );
    apply_alter(&mut now, &restore.ops).unwrap();
    assert_eq!(now, [(theirs, "123".to_string())].into_iter().collect());
}

#[test]
fn entries_another_tool_added_meanwhile_stay() {
    // The key was not set before; another run appended its own entry
    // while ours ran: we subtract ours instead of deleting the key.
    let plan = moves(&[("t", 0, &[2])]);
    let cur = current(&[("t", 0, &[1])]);
    let t = Throttles::compute(&plan, &cur, &[]).unwrap();
    let mut now = ConfigValues::new();
    let change = set_ops(&t, Rates::default(), &now, &[]);
    apply_alter(&mut now, &change.ops).unwrap();
    let leader = key(topic("t"), LEADER_REPLICAS);
    now.insert(leader.clone(), "0:1,3:3".into());
    let restore = restore_ops(&change.undo, &now);
    apply_alter(&mut now, &restore.ops).unwrap();
    assert_eq!(now[&leader], "3:3");
    assert!(!now.contains_key(&key(topic("t"), FOLLOWER_REPLICAS)));
}

#[test]
fn log_dir_rate_goes_to_named_brokers_only() {
    let mut plan = moves(&[("t", 0, &[1, 2])]);
    plan[0].log_dirs = vec!["any".into(), "/data/2".into()];
    let cur = current(&[("t", 0, &[1, 2])]);
    let t = Throttles::compute(&plan, &cur, &[]).unwrap();
    let rates = Rates {
        replication: None,
        log_dirs: Some(42),
    };
    let change = set_ops(&t, rates, &ConfigValues::new(), &[]);
    let rate_ops: Vec<_> = change
        .ops
        .iter()
        .filter(|o| matches!(o.resource, ConfigResource::Broker(_)))
        .collect();
    assert_eq!(
        rate_ops,
        vec![&ConfigOp {
            resource: ConfigResource::Broker(2),
            key: LOG_DIRS_RATE.into(),
            op: AlterOp::Set("42".into()),
        }]
    );
}

#[test]
fn kafka_refuses_a_wildcard_mixed_with_entries() {
    let mut now = values(&[(topic("t"), LEADER_REPLICAS, "*")]);
    let op = ConfigOp {
        resource: topic("t"),
        key: LEADER_REPLICAS.into(),
        op: AlterOp::Append(vec!["0:1".into()]),
    };
    assert!(apply_alter(&mut now, &[op]).is_err());
    assert_eq!(now[&key(topic("t"), LEADER_REPLICAS)], "*", "unchanged");
    assert!(is_wildcard(Some(" * ")));
    assert!(!is_wildcard(Some("*,0:1")));
    assert!(!is_wildcard(None));
}

#[test]
fn list_semantics_follow_the_controller() {
    // Empty parts are dropped, nothing is trimmed, subtract removes one
    // occurrence, an emptied list stays set to "".
    assert_eq!(list_parts(Some(",0:1,,1:2")), vec!["0:1", "1:2"]);
    let mut v = values(&[(topic("t"), FOLLOWER_REPLICAS, "0:1")]);
    let sub = ConfigOp {
        resource: topic("t"),
        key: FOLLOWER_REPLICAS.into(),
        op: AlterOp::Subtract(vec!["0:1".into()]),
    };
    apply_alter(&mut v, &[sub]).unwrap();
    assert_eq!(v[&key(topic("t"), FOLLOWER_REPLICAS)], "");
}

/// A random small world: current assignments, some moves in flight, a
/// plan, and an operator's own throttles.
fn world() -> impl Strategy<
    Value = (
        Vec<Move>,
        BTreeMap<TopicPartition, Vec<BrokerId>>,
        Vec<InFlight>,
        ConfigValues,
    ),
> {
    let part = (
        0usize..3,
        0i32..12,
        prop::sample::subsequence((1..=7).collect::<Vec<i32>>(), 1..4),
        prop::sample::subsequence((1..=7).collect::<Vec<i32>>(), 1..4),
        0u8..4,
    );
    (
        prop::collection::vec(part, 1..20),
        prop::collection::vec((0usize..3, 0u8..4, 1i32..8, 0u8..3), 0..8),
    )
        .prop_map(|(parts, ops)| {
            let topics = ["a", "b", "c"];
            let mut cur = BTreeMap::new();
            let mut plan = BTreeMap::new();
            let mut in_flight = BTreeMap::new();
            for (t, p, from, to, kind) in parts {
                let tp = tp(topics[t], p);
                cur.insert(tp.clone(), from.clone());
                match kind {
                    0 => {
                        // In flight and not in the plan.
                        let adding: Vec<i32> =
                            to.iter().copied().filter(|b| !from.contains(b)).collect();
                        let removing: Vec<i32> =
                            from.iter().copied().filter(|b| !to.contains(b)).collect();
                        let mut replicas = to.clone();
                        replicas.extend(&removing);
                        in_flight.insert(
                            tp.clone(),
                            InFlight {
                                tp: tp.clone(),
                                replicas,
                                adding,
                                removing,
                            },
                        );
                    }
                    1 => {
                        // In flight, and the plan overrides it.
                        let adding: Vec<i32> =
                            to.iter().copied().filter(|b| !from.contains(b)).collect();
                        let removing: Vec<i32> =
                            from.iter().copied().filter(|b| !to.contains(b)).collect();
                        let mut replicas = to.clone();
                        replicas.extend(&removing);
                        in_flight.insert(
                            tp.clone(),
                            InFlight {
                                tp: tp.clone(),
                                replicas,
                                adding,
                                removing,
                            },
                        );
                        plan.insert(
                            tp.clone(),
                            Move::new(tp, from.iter().rev().copied().collect()),
                        );
                    }
                    _ => {
                        plan.insert(tp.clone(), Move::new(tp, to));
                    }
                }
            }
            let mut before = ConfigValues::new();
            for (t, k, b, v) in ops {
                match k {
                    0 => before.insert(
                        key(topic(topics[t]), LEADER_REPLICAS),
                        ["*", "0:1,3:3", ""][v as usize].to_string(),
                    ),
                    1 => before.insert(
                        key(topic(topics[t]), FOLLOWER_REPLICAS),
                        ["*", "1:2,0:1", "9:9"][v as usize].to_string(),
                    ),
                    2 => before.insert(
                        key(ConfigResource::Broker(b), LEADER_RATE),
                        (v as u64 * 10).to_string(),
                    ),
                    _ => before.insert(
                        key(ConfigResource::Broker(b), FOLLOWER_RATE),
                        "1000".to_string(),
                    ),
                };
            }
            (
                plan.into_values().collect(),
                cur,
                in_flight.into_values().collect(),
                before,
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Set then restore gives back exactly what was there; while set,
    /// every replica Kafka's tool would throttle is throttled, with the
    /// rate on every broker it names.
    #[test]
    fn set_then_restore_round_trips((plan, cur, in_flight, before) in world()) {
        let t = Throttles::compute(&plan, &cur, &in_flight).unwrap();
        let mut now = before.clone();
        let change = set_ops(&t, RATES, &now, &[]);
        apply_alter(&mut now, &change.ops).unwrap();
        for (name, lists) in &t.topics {
            for (k, ours) in [(LEADER_REPLICAS, &lists.leader), (FOLLOWER_REPLICAS, &lists.follower)] {
                let v = now.get(&key(topic(name), k)).map(String::as_str);
                if !is_wildcard(v) {
                    let parts = list_parts(v);
                    prop_assert!(ours.iter().all(|e| parts.contains(e)), "{name} {k}: {v:?} lacks some of {ours:?}");
                }
                if !before.contains_key(&key(topic(name), k)) && !ours.is_empty() {
                    let kafka = ours.join(",");
                    prop_assert_eq!(v, Some(kafka.as_str()), "clean key gets Kafka's string");
                }
            }
        }
        for &b in &t.brokers {
            prop_assert_eq!(now.get(&key(ConfigResource::Broker(b), LEADER_RATE)).map(String::as_str), Some("1000"));
            prop_assert_eq!(now.get(&key(ConfigResource::Broker(b), FOLLOWER_RATE)).map(String::as_str), Some("1000"));
        }
        // Setting again changes no list.
        let again = set_ops(&t, RATES, &now, &change.undo);
        prop_assert!(again.ops.iter().all(|o| matches!(o.op, AlterOp::Set(_))));
        prop_assert_eq!(&again.undo, &change.undo);
        let restore = restore_ops(&again.undo, &now);
        prop_assert!(restore.left_alone.is_empty());
        apply_alter(&mut now, &restore.ops).unwrap();
        prop_assert_eq!(now, before);
    }
}
