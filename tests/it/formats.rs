//! Kafka's reassignment JSON and the snapshot format: byte-exact output and
//! one regression test per validation rule.

use kafka_migrate::model::reassignment::{self, Move, Reassignment};
use kafka_migrate::model::{TopicPartition, snapshot};

fn plan_err(json: &str) -> String {
    match reassignment::parse("p.json", json.as_bytes()) {
        Ok(p) => panic!("accepted invalid plan: {p:?}"),
        Err(e) => e.to_string(),
    }
}

fn snap_err(json: &str) -> String {
    match snapshot::parse("s.json", json.as_bytes()) {
        Ok(c) => panic!("accepted invalid snapshot: {c:?}"),
        Err(e) => e.to_string(),
    }
}

fn tp(t: &str, p: i32) -> TopicPartition {
    TopicPartition {
        topic: t.into(),
        partition: p,
    }
}

#[test]
fn plan_output_matches_kafka_byte_for_byte() {
    let plan = Reassignment::new(
        "x",
        vec![
            Move::new(tp("b", 0), vec![3, 1]),
            Move::new(tp("a", 10), vec![1, 2, 3]),
            Move::new(tp("a", 2), vec![2]),
        ],
    )
    .unwrap();
    assert_eq!((plan.len(), plan.is_empty()), (3, false));
    assert_eq!(
        reassignment::to_json(&plan),
        r#"{"version":1,"partitions":[{"topic":"a","partition":2,"replicas":[2],"log_dirs":["any"]},{"topic":"a","partition":10,"replicas":[1,2,3],"log_dirs":["any","any","any"]},{"topic":"b","partition":0,"replicas":[3,1],"log_dirs":["any","any"]}]}"#
    );
}

/// A plan written entry by entry (as `plan` streams it to its file) is
/// the plan `to_json` writes, empty or not.
#[test]
fn streamed_plan_output_is_the_same_bytes() {
    let stream = |entries: &[(&str, i32, &[i32])]| {
        let mut out = Vec::new();
        let entries = entries
            .iter()
            .map(|&(topic, partition, replicas)| reassignment::Entry {
                topic,
                partition,
                replicas,
            });
        reassignment::write_json(&mut out, entries).unwrap();
        String::from_utf8(out).unwrap()
    };
    assert_eq!(
        stream(&[("a", 2, &[2]), ("a", 10, &[1, 2, 3]), ("b\"q", 0, &[3, 1])]),
        reassignment::to_json(
            &Reassignment::new(
                "x",
                vec![
                    Move::new(tp("b\"q", 0), vec![3, 1]),
                    Move::new(tp("a", 10), vec![1, 2, 3]),
                    Move::new(tp("a", 2), vec![2]),
                ],
            )
            .unwrap()
        )
    );
    assert_eq!(stream(&[]), reassignment::to_json(&Reassignment::default()));
}

#[test]
fn plan_round_trips_and_defaults_log_dirs() {
    let input = r#"{"partitions":[{"topic":"t","partition":1,"replicas":[2,1]},
        {"topic":"t","partition":0,"replicas":[1],"log_dirs":["/data/1"]}]}"#;
    let plan = reassignment::parse("p", input.as_bytes()).unwrap();
    let out = reassignment::to_json(&plan);
    assert_eq!(
        out,
        r#"{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1],"log_dirs":["/data/1"]},{"topic":"t","partition":1,"replicas":[2,1],"log_dirs":["any","any"]}]}"#
    );
    assert_eq!(reassignment::parse("p", out.as_bytes()).unwrap(), plan);
}

#[test]
fn plan_rejects_empty_list() {
    assert!(plan_err(r#"{"version":1,"partitions":[]}"#).contains("list is empty"));
}

#[test]
fn plan_rejects_empty_replica_list() {
    let e = plan_err(r#"{"partitions":[{"topic":"t","partition":0,"replicas":[]}]}"#);
    assert!(e.contains("t-0: empty replica list"), "{e}");
}

#[test]
fn plan_rejects_partition_listed_twice() {
    let e = plan_err(
        r#"{"partitions":[{"topic":"t","partition":0,"replicas":[1]},{"topic":"t","partition":0,"replicas":[2]}]}"#,
    );
    assert!(e.contains("t-0: partition listed twice"), "{e}");
}

#[test]
fn plan_rejects_repeated_broker() {
    let e = plan_err(r#"{"partitions":[{"topic":"t","partition":3,"replicas":[1,2,1]}]}"#);
    assert!(e.contains("t-3: broker 1 repeated"), "{e}");
}

#[test]
fn plan_rejects_negative_partition() {
    let e = plan_err(r#"{"partitions":[{"topic":"t","partition":-1,"replicas":[1]}]}"#);
    assert_eq!(e, "p.json: t--1: negative partition number");
}

/// Kafka's broker ids start at 0: broker 0 is a broker like any other.
#[test]
fn plan_accepts_broker_0() {
    let plan = reassignment::parse(
        "p",
        br#"{"partitions":[{"topic":"t","partition":0,"replicas":[0,1]}]}"#,
    )
    .unwrap();
    assert_eq!(plan.moves()[0].replicas, [0, 1]);
    let c = snapshot::parse(
        "s",
        br#"{"version":1,"brokers":[{"id":0},{"id":1}],"topics":[{"name":"t","partitions":[{"partition":0,"replicas":[1,0]}]}]}"#,
    )
    .unwrap();
    assert!(plan.check_references(&c).is_empty());
}

#[test]
fn plan_rejects_partition_out_of_range() {
    let e = plan_err(r#"{"partitions":[{"topic":"t","partition":2147483648,"replicas":[1]}]}"#);
    assert_eq!(
        e,
        "p.json: partitions[0]: partition number 2147483648 is out of range"
    );
}

#[test]
fn plan_rejects_invalid_broker_ids() {
    // Negative: Kafka's ids start at 0.
    let e = plan_err(r#"{"partitions":[{"topic":"t","partition":0,"replicas":[1,-1]}]}"#);
    assert_eq!(e, "p.json: t-0: invalid broker id -1");
    // Past an int32.
    let e = plan_err(r#"{"partitions":[{"topic":"t","partition":0,"replicas":[1,4294967296]}]}"#);
    assert_eq!(e, "p.json: t-0: invalid broker id 4294967296");
}

#[test]
fn plan_rejects_moves_missing_a_field() {
    for (i, m) in [
        r#"{"partition":0,"replicas":[1]}"#,
        r#"{"topic":"t","replicas":[1]}"#,
        r#"{"topic":"t","partition":0}"#,
    ]
    .iter()
    .enumerate()
    {
        let e = plan_err(&format!(r#"{{"version":1,"partitions":[{m}]}}"#));
        assert_eq!(
            e, "p.json: partitions[0]: needs `topic`, `partition` and `replicas`",
            "case {i}: {m}"
        );
    }
}

#[test]
fn plan_rejects_missing_partitions() {
    let e = plan_err(r#"{"version":1}"#);
    assert_eq!(e, "p.json: partitions: the reassignment list is empty");
}

#[test]
fn reassignment_new_checks_the_shape_too() {
    let e = Reassignment::new(
        "x",
        vec![
            Move::new(tp("t", -1), vec![1]),
            Move::new(tp("t", 0), vec![-2]),
        ],
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        e,
        "x: t--1: negative partition number\nx: t-0: invalid broker id -2"
    );
}

#[test]
fn plan_rejects_invalid_json_and_truncation() {
    assert!(plan_err("{not json").contains("invalid JSON"));
    assert!(plan_err(r#"{"partitions":[{"topic":"t","partit"#).contains("invalid JSON"));
}

#[test]
fn plan_rejects_other_versions() {
    let e = plan_err(r#"{"version":2,"partitions":[{"topic":"t","partition":0,"replicas":[1]}]}"#);
    assert!(e.contains("unsupported version 2"), "{e}");
}

#[test]
fn plan_rejects_log_dirs_length_mismatch() {
    let e = plan_err(
        r#"{"partitions":[{"topic":"t","partition":0,"replicas":[1,2],"log_dirs":["any"]}]}"#,
    );
    assert!(
        e.contains("log_dirs has 1 entries but replicas has 2"),
        "{e}"
    );
    let e = plan_err(
        r#"{"partitions":[{"topic":"t","partition":0,"replicas":[1],"log_dirs":["data"]}]}"#,
    );
    assert!(e.contains("neither \"any\" nor an absolute path"), "{e}");
}

#[test]
fn plan_reports_every_problem_sorted() {
    let e = plan_err(
        r#"{"partitions":[{"topic":"z","partition":0,"replicas":[]},{"topic":"a","partition":1,"replicas":[4,4]}]}"#,
    );
    let lines: Vec<&str> = e.lines().collect();
    assert_eq!(lines.len(), 2, "{e}");
    assert!(lines[0].contains("a-1") && lines[1].contains("z-0"), "{e}");
}

#[test]
fn plan_references_unknown_broker_topic_partition() {
    let cluster = snapshot::parse(
        "s",
        br#"{"version":1,"brokers":[{"id":1},{"id":2}],"topics":[{"name":"t","partitions":[{"partition":0,"replicas":[1]}]}]}"#,
    )
    .unwrap();
    let plan = reassignment::parse(
        "p",
        br#"{"partitions":[{"topic":"t","partition":0,"replicas":[9]},{"topic":"t","partition":5,"replicas":[1]},{"topic":"u","partition":0,"replicas":[1]}]}"#,
    )
    .unwrap();
    let problems: Vec<String> = plan
        .check_references(&cluster)
        .iter()
        .map(|p| p.to_string())
        .collect();
    assert_eq!(
        problems,
        vec![
            "t-0: unknown broker 9",
            "t-5: unknown partition 5 of topic t",
            "u-0: unknown topic u"
        ]
    );
}

#[test]
fn topics_to_move_round_trip() {
    let names = reassignment::parse_topics(
        "t",
        br#"{"version":1,"topics":[{"topic":"b"},{"topic":"a"},{"topic":"b"}]}"#,
    )
    .unwrap();
    assert_eq!(names, vec!["a", "b"]);
    assert_eq!(
        reassignment::topics_to_json(&names),
        r#"{"version":1,"topics":[{"topic":"a"},{"topic":"b"}]}"#
    );
}

fn topics_err(json: &str) -> String {
    match reassignment::parse_topics("m.json", json.as_bytes()) {
        Ok(t) => panic!("accepted invalid topics-to-move: {t:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn topics_to_move_rejects_missing_or_empty_list() {
    assert_eq!(
        topics_err(r#"{"version":1}"#),
        "m.json: topics: missing required field"
    );
    assert_eq!(
        topics_err(r#"{"version":1,"topics":[]}"#),
        "m.json: topics: empty topic list"
    );
}

#[test]
fn topics_to_move_rejects_missing_or_empty_names() {
    assert_eq!(
        topics_err(r#"{"version":1,"topics":[{"topic":"a"},{"name":"b"}]}"#),
        "m.json: topics[1]: missing or empty `topic`"
    );
    assert_eq!(
        topics_err(r#"{"version":1,"topics":[{"topic":""},{"topic":"a"}]}"#),
        "m.json: topics[0]: missing or empty `topic`"
    );
}

#[test]
fn topics_to_move_rejects_bad_json_and_versions() {
    assert!(topics_err(r#"{"topics":[{"topic""#).starts_with("m.json: invalid JSON"));
    assert_eq!(
        topics_err(r#"{"version":2,"topics":[{"topic":"a"}]}"#),
        "m.json: version: unsupported version 2, expected 1"
    );
}

#[test]
fn snapshot_defaults_and_round_trip() {
    let c = snapshot::parse(
        "s",
        br#"{"version":1,"extra":true,"brokers":[{"id":2},{"id":1,"rack":"r","alive":false}],
            "topics":[{"name":"t","partitions":[{"partition":0,"replicas":[2,1]}]}]}"#,
    )
    .unwrap();
    assert_eq!(c.brokers[0].id, 1);
    assert!(!c.brokers[0].alive && c.brokers[1].alive);
    assert_eq!(c.partition_count(), 1);
    let p = &c.topics[0].partitions[0];
    assert_eq!(
        (p.isr.clone(), p.leader, p.size_bytes),
        (vec![2, 1], Some(2), 0)
    );
    let again = snapshot::parse("s", snapshot::to_json(&c).as_bytes()).unwrap();
    assert_eq!(again, c);
}

#[test]
fn snapshot_rejects_missing_fields() {
    assert!(snap_err(r#"{"brokers":[],"topics":[]}"#).contains("version: missing required field"));
    assert!(snap_err(r#"{"version":1,"topics":[]}"#).contains("brokers: missing required field"));
    assert!(
        snap_err(r#"{"version":1,"brokers":[{"rack":"a"}],"topics":[]}"#)
            .contains("brokers[0]: missing required field `id`")
    );
    let e = snap_err(
        r#"{"version":1,"brokers":[{"id":1}],"topics":[{"name":"t","partitions":[{"partition":0}]}]}"#,
    );
    assert!(e.contains("t-0: missing required field `replicas`"), "{e}");
    let e = snap_err(r#"{"version":1,"brokers":[{"id":1}],"topics":[{"partitions":[]}]}"#);
    assert!(
        e.contains("topics[0]: missing required field `name`"),
        "{e}"
    );
}

#[test]
fn snapshot_rejects_missing_topics_and_partitions() {
    assert_eq!(
        snap_err(r#"{"version":1,"brokers":[]}"#),
        "s.json: topics: missing required field"
    );
    assert_eq!(
        snap_err(r#"{"version":1,"brokers":[{"id":1}],"topics":[{"name":"t"}]}"#),
        "s.json: topic t: missing required field `partitions`"
    );
    assert_eq!(
        snap_err(
            r#"{"version":1,"brokers":[{"id":1}],"topics":[{"name":"t","partitions":[{"replicas":[1]}]}]}"#
        ),
        "s.json: topic t partitions[0]: missing required field `partition`"
    );
}

#[test]
fn snapshot_rejects_empty_topic_name() {
    let e =
        snap_err(r#"{"version":1,"brokers":[{"id":1}],"topics":[{"name":"","partitions":[]}]}"#);
    assert!(e.starts_with("s.json: topics[0]: "), "{e}");
    assert!(e.contains("empty"), "{e}");
}

#[test]
fn snapshot_rejects_empty_replica_list() {
    let e = snap_err(
        r#"{"version":1,"brokers":[{"id":1}],"topics":[{"name":"t","partitions":[{"partition":0,"replicas":[]}]}]}"#,
    );
    assert_eq!(e, "s.json: t-0: empty replica list");
}

#[test]
fn snapshot_rejects_wrong_version() {
    assert!(
        snap_err(r#"{"version":3,"brokers":[],"topics":[]}"#)
            .contains("unsupported snapshot version 3")
    );
}

#[test]
fn snapshot_rejects_negative_ids() {
    assert!(
        snap_err(r#"{"version":1,"brokers":[{"id":-1}],"topics":[]}"#).contains("broker id -1")
    );
    let e = snap_err(
        r#"{"version":1,"brokers":[{"id":1}],"topics":[{"name":"t","partitions":[{"partition":-2,"replicas":[1]}]}]}"#,
    );
    assert!(e.contains("partition number -2"), "{e}");
}

#[test]
fn snapshot_rejects_ids_past_int32() {
    assert_eq!(
        snap_err(r#"{"version":1,"brokers":[{"id":2147483648}],"topics":[]}"#),
        "s.json: brokers[0]: broker id 2147483648 is not a valid id (0..2147483647)"
    );
    let e = snap_err(
        r#"{"version":1,"brokers":[{"id":1}],"topics":[{"name":"t","partitions":[{"partition":2147483648,"replicas":[1]}]}]}"#,
    );
    assert_eq!(
        e,
        "s.json: topic t partitions[0]: partition number 2147483648 is negative or too large"
    );
}

#[test]
fn snapshot_rejects_invalid_ids_in_replicas_and_isr() {
    let e = snap_err(
        r#"{"version":1,"brokers":[{"id":1},{"id":2}],"topics":[{"name":"t","partitions":[{"partition":0,"replicas":[1,-3]}]}]}"#,
    );
    assert_eq!(e, "s.json: t-0: replicas names invalid broker id -3");
    let e = snap_err(
        r#"{"version":1,"brokers":[{"id":1},{"id":2}],"topics":[{"name":"t","partitions":[{"partition":0,"replicas":[1,2],"isr":[1,9]}]}]}"#,
    );
    assert_eq!(
        e,
        "s.json: t-0: isr names broker 9, which is not in the snapshot"
    );
}

/// A replica list whose every broker is unknown is not also "empty".
#[test]
fn snapshot_names_only_the_unknown_broker() {
    let e = snap_err(
        r#"{"version":1,"brokers":[{"id":1}],"topics":[{"name":"t","partitions":[{"partition":0,"replicas":[7]}]}]}"#,
    );
    assert_eq!(
        e,
        "s.json: t-0: replicas names broker 7, which is not in the snapshot"
    );
}

#[test]
fn snapshot_rejects_repeated_replicas() {
    let e = snap_err(
        r#"{"version":1,"brokers":[{"id":1},{"id":2}],"topics":[{"name":"t","partitions":[{"partition":0,"replicas":[1,2,1]}]}]}"#,
    );
    assert_eq!(e, "s.json: t-0: replicas repeats broker 1");
}

#[test]
fn snapshot_leader_must_be_a_replica() {
    let base = r#"{"version":1,"brokers":[{"id":1},{"id":2},{"id":3}],"topics":[{"name":"t","partitions":[{"partition":0,"replicas":[1,2],"leader":L}]}]}"#;
    assert_eq!(
        snap_err(&base.replace('L', "3")),
        "s.json: t-0: leader 3 is not one of the replicas"
    );
    // Kafka reports a partition without a leader as -1.
    let c = snapshot::parse("s", base.replace('L', "-1").as_bytes()).unwrap();
    assert_eq!(c.topics[0].partitions[0].leader, None);
    let c = snapshot::parse("s", base.replace('L', "2").as_bytes()).unwrap();
    assert_eq!(c.topics[0].partitions[0].leader, Some(2));
    // Broker 0 is a broker: as leader, it is one.
    let c = snapshot::parse(
        "s",
        br#"{"version":1,"brokers":[{"id":0},{"id":1}],"topics":[{"name":"t","partitions":[{"partition":0,"replicas":[1,0],"leader":0}]}]}"#,
    )
    .unwrap();
    assert_eq!(c.topics[0].partitions[0].leader, Some(0));
}

/// Every problem in one pass: a partition listed twice is reported even
/// where one of its entries has problems of its own.
#[test]
fn snapshot_reports_a_duplicate_of_an_invalid_partition() {
    let e = snap_err(
        r#"{"version":1,"brokers":[{"id":1}],"topics":[{"name":"t","partitions":[{"partition":0,"replicas":[1]},{"partition":0,"replicas":[1,9]}]}]}"#,
    );
    assert_eq!(
        e,
        "s.json: t-0: partition listed more than once\ns.json: t-0: replicas names broker 9, which is not in the snapshot"
    );
}

#[test]
fn snapshot_rejects_partitions_and_topics_listed_twice() {
    let e = snap_err(
        r#"{"version":1,"brokers":[{"id":1}],"topics":[{"name":"t","partitions":[{"partition":0,"replicas":[1]},{"partition":0,"replicas":[1]}]}]}"#,
    );
    assert_eq!(e, "s.json: t-0: partition listed more than once");
    let e = snap_err(
        r#"{"version":1,"brokers":[{"id":1}],"topics":[{"name":"t","partitions":[]},{"name":"t","partitions":[]}]}"#,
    );
    assert_eq!(e, "s.json: topic t: listed more than once");
}

#[test]
fn snapshot_rejects_replicas_on_unknown_brokers() {
    let e = snap_err(
        r#"{"version":1,"brokers":[{"id":1}],"topics":[{"name":"t","partitions":[{"partition":0,"replicas":[1,7]}]}]}"#,
    );
    assert!(
        e.contains("t-0: replicas names broker 7, which is not in the snapshot"),
        "{e}"
    );
}

#[test]
fn snapshot_rejects_duplicates_and_bad_isr() {
    let e = snap_err(
        r#"{"version":1,"brokers":[{"id":1},{"id":1}],"topics":[{"name":"t","partitions":[{"partition":0,"replicas":[1],"isr":[2]}]}]}"#,
    );
    assert!(e.contains("broker 1: listed more than once"), "{e}");
    let e = snap_err(
        r#"{"version":1,"brokers":[{"id":1},{"id":2}],"topics":[{"name":"t","partitions":[{"partition":0,"replicas":[1],"isr":[2]}]}]}"#,
    );
    assert!(
        e.contains("isr names broker 2, which is not a replica"),
        "{e}"
    );
}

#[test]
fn snapshot_rejects_truncated_json() {
    assert!(snap_err(r#"{"version":1,"brokers":[{"id":1}"#).contains("invalid JSON"));
}

/// What the parser itself calls things: never shown.
const PARSER_WORDS: [&str; 8] = [
    "Raw", "struct", "elements", "sequence", "u16", "u64", "i64", "map",
];

fn assert_no_parser_words(input: &str, message: &str) {
    for w in PARSER_WORDS {
        assert!(!message.contains(w), "{input}: {w:?} in {message}");
    }
}

// regression: `[]` as a snapshot said "invalid JSON: invalid length 0,
// expected struct RawSnapshot with 3 elements"; `[1,[],[]]` was accepted
// as an empty snapshot.
#[test]
fn snapshot_of_the_wrong_shape_says_what_is_expected() {
    for bad in ["[]", "[1,[],[]]", "\"x\"", "null", "  42 "] {
        let e = snap_err(bad);
        assert!(
            e.starts_with("s.json: expected a snapshot object with version, brokers and topics"),
            "{bad}: {e}"
        );
        assert_no_parser_words(bad, &e);
    }
    let nested = [
        (
            r#"{"version":1,"brokers":[[1]],"topics":[]}"#,
            "found an array, expected a broker object with an id",
        ),
        (
            r#"{"version":1,"brokers":[5],"topics":[]}"#,
            "found the number 5, expected a broker object with an id",
        ),
        (
            r#"{"version":1,"brokers":{},"topics":[]}"#,
            "found an object, expected an array",
        ),
        (
            r#"{"version":1,"brokers":[{"id":1,"port":70000}],"topics":[]}"#,
            "found the number 70000, expected an integer from 0 to 65535",
        ),
        (
            r#"{"version":1,"brokers":[{"id":"1"}],"topics":[]}"#,
            "found the string \"1\", expected an integer",
        ),
        (
            r#"{"version":1,"brokers":[],"topics":[{"name":"t","partitions":[{"partition":0,"replicas":[1],"size_bytes":-5}]}]}"#,
            "found the number -5, expected a non-negative integer",
        ),
        (
            r#"{"version":1,"brokers":[],"topics":[[]]}"#,
            "expected a topic object with a name and partitions",
        ),
    ];
    for (bad, want) in nested {
        let e = snap_err(bad);
        assert!(e.contains(want), "{bad}: {e}");
        assert!(e.contains("(line 1, column "), "{bad}: {e}");
        assert_no_parser_words(bad, &e);
    }
}

#[test]
fn plan_and_topics_of_the_wrong_shape_say_what_is_expected() {
    let e = plan_err("[]");
    assert!(
        e.contains("expected a reassignment object with version and partitions, found an array"),
        "{e}"
    );
    assert_no_parser_words("[]", &e);
    let e = plan_err(r#"{"partitions":[["t",0,[1]]]}"#);
    assert!(
        e.contains(
            "found an array, expected a partition object with topic, partition and replicas"
        ),
        "{e}"
    );
    assert_no_parser_words("plan", &e);
    let e = topics_err("[]");
    assert!(
        e.contains("expected a topics-to-move object with version and topics, found an array"),
        "{e}"
    );
    let e = topics_err(r#"{"topics":["orders"]}"#);
    assert!(
        e.contains("found the string \"orders\", expected a topic object"),
        "{e}"
    );
    assert_no_parser_words("topics", &e);
}

// regression: a byte order mark (as Windows editors write) was "invalid
// JSON: expected value at line 1 column 1".
#[test]
fn a_utf8_byte_order_mark_is_accepted_everywhere() {
    let bom = |s: &str| [b"\xEF\xBB\xBF".as_slice(), s.as_bytes()].concat();
    let c = snapshot::parse(
        "s",
        &bom(r#"{"version":1,"brokers":[{"id":1}],"topics":[]}"#),
    )
    .unwrap();
    assert_eq!(c.brokers.len(), 1);
    let p = reassignment::parse(
        "p",
        &bom(r#"{"partitions":[{"topic":"t","partition":0,"replicas":[1]}]}"#),
    )
    .unwrap();
    assert_eq!(p.len(), 1);
    let t = reassignment::parse_topics("t", &bom(r#"{"topics":[{"topic":"t"}]}"#)).unwrap();
    assert_eq!(t, vec!["t"]);
    let e = snapshot::parse("s", b"\xFF\xFE{\0}\0")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("UTF-16") && e.contains("save it as UTF-8"),
        "{e}"
    );
}

const TOPIC_RULE: &str =
    "a topic name is 1 to 249 characters from [a-zA-Z0-9._-], and not \".\" or \"..\"";

// regression: names Kafka refuses ("a b", "..", 250 characters) were
// accepted in snapshots, plans and topics-to-move files.
#[test]
fn invalid_topic_names_are_refused_with_the_rule() {
    let long = "x".repeat(250);
    for (name, why) in [
        ("a b", "it contains ' '"),
        ("..", "it is reserved"),
        (".", "it is reserved"),
        ("t/1", "it contains '/'"),
        (long.as_str(), "it has 250 characters"),
        ("", "it is empty"),
    ] {
        let json = serde_json::to_string(name).unwrap();
        let e = snap_err(&format!(
            r#"{{"version":1,"brokers":[{{"id":1}}],"topics":[{{"name":"ok","partitions":[]}},{{"name":{json},"partitions":[{{"partition":0,"replicas":[1]}}]}}]}}"#
        ));
        assert!(e.contains("topics[1]: invalid topic name"), "{name}: {e}");
        assert!(e.contains(why) && e.contains(TOPIC_RULE), "{name}: {e}");
        assert_eq!(e.lines().count(), 1, "{e}");

        let e = plan_err(&format!(
            r#"{{"partitions":[{{"topic":"ok","partition":0,"replicas":[1]}},{{"topic":{json},"partition":0,"replicas":[1]}}]}}"#
        ));
        assert!(
            e.contains("partitions[1]: invalid topic name"),
            "{name}: {e}"
        );
        assert!(e.contains(why) && e.contains(TOPIC_RULE), "{name}: {e}");

        if !name.is_empty() {
            let e = topics_err(&format!(
                r#"{{"topics":[{{"topic":"ok"}},{{"topic":{json}}}]}}"#
            ));
            assert!(e.contains("topics[1]: invalid topic name"), "{name}: {e}");
            assert!(e.contains(why) && e.contains(TOPIC_RULE), "{name}: {e}");
        }
    }
    // Every legal character, and the longest legal name.
    let ok = format!(
        r#"{{"version":1,"brokers":[{{"id":1}}],"topics":[{{"name":"aZ09._-","partitions":[]}},{{"name":"{}","partitions":[]}}]}}"#,
        "y".repeat(249)
    );
    assert_eq!(snapshot::parse("s", ok.as_bytes()).unwrap().topics.len(), 2);
}

/// Every kind of JSON value is named as JSON names it, at the top level
/// and inside (found by mutation: the kinds were unasserted), and text
/// that is not JSON at all stays a syntax error, not a "wrong kind".
#[test]
fn json_kinds_are_named_in_json_words() {
    const WANT: &str = "expected a snapshot object with version, brokers and topics, found";
    for (json, kind) in [
        (r#""x""#, "a string"),
        ("true", "a boolean"),
        ("false", "a boolean"),
        ("null", "null"),
        ("7", "a number"),
        ("[]", "an array"),
    ] {
        let e = snap_err(json);
        assert!(e.contains(&format!("{WANT} {kind}")), "{json}: {e}");
    }
    let e = snap_err("[1,");
    assert!(e.contains("invalid JSON") && !e.contains(WANT), "{e}");
    let e = snap_err(r#"{"version":1,"brokers":[{"id":[1]}],"topics":[]}"#);
    assert!(e.contains("found an array, expected an integer"), "{e}");
    let e = snap_err(
        r#"{"version":1,"brokers":[{"id":1}],"topics":[{"name":"t","partitions":[{"partition":0,"replicas":[null]}]}]}"#,
    );
    assert!(e.contains("found null, expected an integer"), "{e}");
}

/// A snapshot of two brokers with log dirs, `dirs0` the `log_dirs` of
/// partition t-0 (replicas [1, 2]) and `b1` those of broker 1.
fn with_dirs(b1: &str, dirs0: &str) -> String {
    format!(
        r#"{{"version":1,"brokers":[{{"id":1,"log_dirs":{b1}}},{{"id":2}}],
            "topics":[{{"name":"t","partitions":[{{"partition":0,"replicas":[1,2],"log_dirs":{dirs0}}},
                                               {{"partition":1,"replicas":[2]}}]}}]}}"#
    )
}

#[test]
fn snapshot_log_dirs_round_trip() {
    let json = with_dirs(r#"["/d/b","/d/a","/d/empty"]"#, r#"["/d/a",null]"#);
    let (c, dirs) = snapshot::parse_with_log_dirs("s", json.as_bytes()).unwrap();
    assert_eq!(dirs.dirs_of(1), ["/d/a", "/d/b", "/d/empty"], "sorted");
    assert_eq!(dirs.dirs_of(2), [] as [String; 0]);
    assert_eq!(dirs.dir_of(&tp("t", 0), 1), Some("/d/a"));
    assert_eq!(dirs.dir_of(&tp("t", 0), 2), None, "null: unknown");
    let out = snapshot::to_json_with_log_dirs(&c, &dirs);
    assert!(
        out.contains(r#"{"id":1,"alive":true,"log_dirs":["/d/a","/d/b","/d/empty"]}"#),
        "{out}"
    );
    assert!(out.contains(r#""log_dirs":["/d/a",null]"#), "{out}");
    assert!(
        !out.contains(
            r#""partition":1,"replicas":[2],"isr":[2],"leader":2,"size_bytes":0,"log_dirs""#
        ),
        "a partition with no known dir has none: {out}"
    );
    let again = snapshot::parse_with_log_dirs("s", out.as_bytes()).unwrap();
    assert_eq!(again, (c.clone(), dirs));
    // Without log dirs the snapshot is as it always was.
    assert!(!snapshot::to_json(&c).contains("log_dirs"));
    // A replica's dir names its broker's dirs when the broker lists none.
    let json = with_dirs("null", r#"["/x",null]"#).replace(r#","log_dirs":null"#, "");
    let (_, dirs) = snapshot::parse_with_log_dirs("s", json.as_bytes()).unwrap();
    assert_eq!(dirs.dirs_of(1), ["/x"]);
}

#[test]
fn snapshot_replica_sizes_round_trip() {
    let json = r#"{"version":1,"brokers":[{"id":1},{"id":2},{"id":3}],
        "topics":[{"name":"t","partitions":[
            {"partition":0,"replicas":[1,2,3],"leader":1,"size_bytes":100,"replica_sizes":[100,60,null]},
            {"partition":1,"replicas":[2],"leader":2,"size_bytes":7,"replica_sizes":[7]}]}]}"#;
    let (c, layout) = snapshot::parse_with_log_dirs("s", json.as_bytes()).unwrap();
    assert_eq!(layout.size_of(&tp("t", 0), 2, 100), 60, "a follower behind");
    assert_eq!(layout.size_of(&tp("t", 0), 1, 100), 100);
    assert_eq!(layout.size_of(&tp("t", 0), 3, 100), 100, "null: size_bytes");
    assert!(
        !layout.sizes.contains_key(&tp("t", 1)),
        "sizes equal to size_bytes are not kept"
    );
    let out = snapshot::to_json_with_log_dirs(&c, &layout);
    assert!(
        out.contains(r#""size_bytes":100,"replica_sizes":[100,60,100]"#),
        "{out}"
    );
    assert!(
        !out.contains(r#""size_bytes":7,"replica_sizes""#),
        "written only where a replica differs: {out}"
    );
    let again = snapshot::parse_with_log_dirs("s", out.as_bytes()).unwrap();
    assert_eq!(again, (c, layout));
    let e = snap_err(&json.replace("[100,60,null]", "[100,60]"));
    assert!(
        e.contains(
            "t-0: replica_sizes has 2 entries but replicas has 3 (one per replica, null for size_bytes)"
        ),
        "{e}"
    );
    let e = snap_err(&json.replace("[100,60,null]", "[100,-1,null]"));
    assert!(
        e.contains("found the number -1, expected a non-negative integer (line 3, column"),
        "a negative size is placed as size_bytes' is: {e}"
    );
}

#[test]
fn snapshot_rejects_log_dirs_length_mismatch() {
    let e = snap_err(&with_dirs(r#"["/a"]"#, r#"["/a"]"#));
    assert!(
        e.contains(
            "t-0: log_dirs has 1 entries but replicas has 2 (one per replica, null where unknown)"
        ),
        "{e}"
    );
}

#[test]
fn snapshot_rejects_a_replica_log_dir_not_absolute() {
    let e = snap_err(&with_dirs(r#"["/a"]"#, r#"["/a","any"]"#));
    assert!(
        e.contains(
            r#"t-0: log dir "any" of broker 2 is not an absolute path (null where unknown)"#
        ),
        "{e}"
    );
}

#[test]
fn snapshot_rejects_a_broker_log_dir_not_absolute() {
    let e = snap_err(&with_dirs(r#"["/a","data"]"#, r#"["/a",null]"#));
    assert!(
        e.contains(r#"broker 1: log dir "data" is not an absolute path"#),
        "{e}"
    );
}

#[test]
fn snapshot_rejects_a_broker_log_dir_listed_twice() {
    let e = snap_err(&with_dirs(r#"["/a","/b","/a"]"#, r#"["/a",null]"#));
    assert!(
        e.contains("broker 1: log dir /a listed more than once"),
        "{e}"
    );
}

#[test]
fn snapshot_rejects_a_replica_in_a_dir_its_broker_lacks() {
    let e = snap_err(&with_dirs(r#"["/a","/b"]"#, r#"["/c",null]"#));
    assert!(
        e.contains("t-0: log dir /c is not one of broker 1's log_dirs (/a, /b)"),
        "{e}"
    );
}
