//! A cluster in motion or with partitions no move can heal: the snapshot's
//! in-flight fields, `plan` refusing (or settling) partitions in motion,
//! `check` against targets, unrecoverable (offline) partitions, and the
//! summary's terms.

use kafka_migrate::model::{InFlight, snapshot};
use tempfile::TempDir;

use crate::support::{assert_exit, bin, stderr, stdout, write};

fn run(args: &[&str]) -> std::process::Output {
    bin()
        .args(args)
        .env("COLUMNS", "100")
        .output()
        .expect("runs")
}

/// Four brokers in two racks while broker 1 is drained: `orders-0` and
/// `orders-1` are moving off it (Kafka lists target + removing as the
/// replicas), `orders-2` is done.
const DRAINING: &str = r#"{"version":1,
 "brokers":[{"id":1,"rack":"a"},{"id":2,"rack":"b"},{"id":3,"rack":"a"},{"id":4,"rack":"b"}],
 "topics":[{"name":"orders","partitions":[
   {"partition":0,"replicas":[3,2,1],"isr":[2,1],"leader":2,"size_bytes":1000,
    "target_replicas":[3,2],"adding_replicas":[3],"removing_replicas":[1]},
   {"partition":1,"replicas":[4,3,1],"isr":[1,4],"leader":1,"size_bytes":1000,
    "target_replicas":[4,3],"adding_replicas":[3],"removing_replicas":[1]},
   {"partition":2,"replicas":[2,3],"size_bytes":1000},
   {"partition":3,"replicas":[4,3],"size_bytes":1000}]}]}"#;

#[test]
fn snapshot_records_partitions_in_motion() {
    let c = snapshot::parse("s.json", DRAINING.as_bytes()).unwrap();
    let p = &c.topics[0].partitions[0];
    assert_eq!(p.replicas, vec![3, 2, 1], "replicas stay what Kafka lists");
    assert_eq!(
        p.in_flight.as_deref(),
        Some(&InFlight {
            target: vec![3, 2],
            adding: vec![3],
            removing: vec![1],
        })
    );
    assert_eq!(c.topics[0].partitions[2].in_flight, None);
    // Written back as read.
    let json = snapshot::to_json(&c);
    assert!(
        json.contains(r#""target_replicas":[3,2],"adding_replicas":[3],"removing_replicas":[1]"#),
        "{json}"
    );
    assert!(!json.contains(
        r#""partition":2,"replicas":[2,3],"isr":[2,3],"leader":2,"size_bytes":1000,"target"#
    ));
    assert_eq!(snapshot::parse("again", json.as_bytes()).unwrap(), c);

    // Either of target and removing gives the other; adding alone is a
    // pure replication-factor increase (nothing removed).
    let one = |fields: &str| {
        let s = format!(
            r#"{{"version":1,"brokers":[{{"id":1}},{{"id":2}},{{"id":3}}],"topics":[{{"name":"t","partitions":[{{"partition":0,"replicas":[2,3,1]{fields}}}]}}]}}"#
        );
        snapshot::parse("s.json", s.as_bytes())
            .map(|c| c.topics[0].partitions[0].in_flight.as_deref().cloned())
    };
    let moving = |t: &[i32], a: &[i32], r: &[i32]| {
        Some(InFlight {
            target: t.to_vec(),
            adding: a.to_vec(),
            removing: r.to_vec(),
        })
    };
    assert_eq!(
        one(r#","removing_replicas":[1]"#).unwrap(),
        moving(&[2, 3], &[], &[1])
    );
    assert_eq!(
        one(r#","target_replicas":[3,2]"#).unwrap(),
        moving(&[3, 2], &[], &[1])
    );
    assert_eq!(
        one(r#","adding_replicas":[1]"#).unwrap(),
        moving(&[2, 3, 1], &[1], &[])
    );
    let err = |fields: &str| one(fields).unwrap_err().to_string();
    for (fields, want) in [
        (
            r#","target_replicas":[2,4]"#,
            "t-0: target_replicas names broker 4, which is not in the snapshot",
        ),
        (
            r#","removing_replicas":[1],"target_replicas":[2]"#,
            "t-0: broker 3 is a replica but neither in target_replicas nor in removing_replicas",
        ),
        (
            r#","removing_replicas":[1],"target_replicas":[2,3,1]"#,
            "t-0: broker 1 is both in target_replicas and in removing_replicas",
        ),
        (
            r#","adding_replicas":[1],"removing_replicas":[1]"#,
            "t-0: broker 1 is both in adding_replicas and in removing_replicas",
        ),
        (
            r#","removing_replicas":[2,3,1]"#,
            "t-0: empty target_replicas",
        ),
    ] {
        let e = err(fields);
        assert!(e.contains(want), "{fields}: {e}");
    }
    let e = one(r#","target_replicas":[2]"#).map(|_| ());
    assert!(e.is_ok(), "a target inside the replicas is enough: {e:?}");
    let e = err(r#","adding_replicas":[4]"#);
    assert!(e.contains("adding_replicas names broker 4"), "{e}");
    let s = r#"{"version":1,"brokers":[{"id":1},{"id":2},{"id":3}],"topics":[{"name":"t","partitions":[{"partition":0,"replicas":[2,1],"target_replicas":[2,3]}]}]}"#;
    let e = snapshot::parse("s.json", s.as_bytes())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("t-0: target_replicas names broker 3, which is not in `replicas`"),
        "{e}"
    );
}

/// regression: `plan` on a snapshot taken mid-drain planned from the
/// transient replica lists (moving partitions back onto the drained broker,
/// and raising their replication factor in Kafka's eyes).
#[test]
fn plan_refuses_partitions_in_motion_unless_told_how() {
    let dir = TempDir::new().unwrap();
    let s = write(dir.path(), "s.json", DRAINING);
    let plan = dir.path().join("p.json");
    let st = s.to_str().unwrap();
    let p = plan.to_str().unwrap();
    let out = run(&["plan", "--state", st, "--remove-brokers", "1", "-o", p]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains("2 partitions are being reassigned: orders-0, orders-1"),
        "{err}"
    );
    for hint in ["--verify", "--cancel", "--in-flight target"] {
        assert!(err.contains(hint), "{hint}: {err}");
    }
    assert!(!plan.exists(), "no plan on refusal");

    let out = run(&[
        "plan",
        "--state",
        st,
        "--remove-brokers",
        "1",
        "--in-flight",
        "target",
        "-o",
        p,
        "--output",
        "json",
    ]);
    assert_exit(&out, 0);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["summary"]["totals"]["replication_factor_changes"], 0);
    let b1 = &v["summary"]["brokers"][0];
    assert_eq!((&b1["id"], &b1["replicas_before"]), (&1.into(), &0.into()));
    // The drain is already under way: the targets hold nothing on broker 1
    // and every partition has two replicas, so nothing moves back.
    if plan.exists() {
        let made =
            kafka_migrate::model::reassignment::parse("p", &std::fs::read(&plan).unwrap()).unwrap();
        for m in made.moves() {
            assert_eq!(m.replicas.len(), 2, "{m:?}");
            assert!(!m.replicas.contains(&1), "{m:?}");
        }
    }
    assert!(
        stderr(&out).is_empty() || !stderr(&out).contains("error"),
        "{}",
        stderr(&out)
    );

    // At most ten are named.
    let many: Vec<String> = (0..12)
        .map(|i| format!(r#"{{"partition":{i},"replicas":[2,1],"removing_replicas":[1]}}"#))
        .collect();
    let s = write(
        dir.path(),
        "many.json",
        &format!(
            r#"{{"version":1,"brokers":[{{"id":1}},{{"id":2}},{{"id":3}}],"topics":[{{"name":"t","partitions":[{}]}}]}}"#,
            many.join(",")
        ),
    );
    let out = run(&["plan", "--state", s.to_str().unwrap()]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains("12 partitions are being reassigned: t-0, t-1, t-2, t-3, t-4, t-5, t-6, t-7, t-8, t-9 and 2 more"),
        "{err}"
    );
}

/// regression: `check` compared a plan with the transient union of a
/// moving partition's replicas and reported a replication-factor change.
#[test]
fn check_measures_a_plan_against_targets() {
    let dir = TempDir::new().unwrap();
    let s = write(dir.path(), "s.json", DRAINING);
    let st = s.to_str().unwrap();
    let plan = write(
        dir.path(),
        "p.json",
        r#"{"version":1,"partitions":[{"topic":"orders","partition":0,"replicas":[2,3]},
            {"topic":"orders","partition":2,"replicas":[4,3]}]}"#,
    );
    let out = run(&[
        "check",
        plan.to_str().unwrap(),
        "--state",
        st,
        "--output",
        "json",
    ]);
    assert_exit(&out, 0);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let t = &v["summary"]["totals"];
    assert_eq!(t["replication_factor_changes"], 0, "{t}");
    // orders-0 [3,2] -> [2,3] reorders only; orders-2 [2,3] -> [4,3] moves one.
    assert_eq!(
        (&t["replicas_moved"], &t["partitions_reordered_only"]),
        (&1.into(), &1.into())
    );
    // Broker 1 holds nothing once the moves in flight finish.
    assert_eq!(v["summary"]["brokers"][0]["replicas_before"], 0);
    // A plan that replaces a target in flight says so.
    let other = write(
        dir.path(),
        "o.json",
        r#"{"version":1,"partitions":[{"topic":"orders","partition":1,"replicas":[4,1]}]}"#,
    );
    let out = run(&["check", other.to_str().unwrap(), "--state", st]);
    assert_exit(&out, 0);
    assert!(
        stderr(&out)
            .contains("orders-1: being reassigned to [4, 3]; this plan replaces that target"),
        "{}",
        stderr(&out)
    );
}

/// Broker 4 is dead: `lonely-0` (RF 1) and `pair-0` (both replicas on dead
/// brokers) have no live in-sync replica; `pair-1` can heal.
const OFFLINE: &str = r#"{"version":1,
 "brokers":[{"id":1},{"id":2},{"id":3},{"id":4,"alive":false},{"id":5,"alive":false}],
 "topics":[
  {"name":"lonely","partitions":[{"partition":0,"replicas":[4],"isr":[],"leader":-1,"size_bytes":500}]},
  {"name":"pair","partitions":[
    {"partition":0,"replicas":[4,5],"isr":[],"leader":-1,"size_bytes":500},
    {"partition":1,"replicas":[4,1],"isr":[1],"leader":1,"size_bytes":500}]},
  {"name":"t","partitions":[
    {"partition":0,"replicas":[1,2]},{"partition":1,"replicas":[2,3]},{"partition":2,"replicas":[3,1]}]}]}"#;

/// The partitions `plan` (a plan file) moves, as `topic-partition`.
fn planned(plan: &std::path::Path) -> Vec<String> {
    let made =
        kafka_migrate::model::reassignment::parse("p", &std::fs::read(plan).unwrap()).unwrap();
    made.moves().iter().map(|m| m.tp.to_string()).collect()
}

/// `check` of a plan moving `topic`-0 to `replicas` against `st`, with
/// `--allow-offline`: refused (exit 2) as a partition with no in-sync
/// replica on a live broker.
fn check_refuses_moving(dir: &std::path::Path, st: &str, topic: &str, replicas: &str) {
    let bad = write(
        dir,
        "bad.json",
        &format!(
            r#"{{"version":1,"partitions":[{{"topic":"{topic}","partition":0,"replicas":{replicas}}}]}}"#
        ),
    );
    let out = run(&[
        "check",
        bad.to_str().unwrap(),
        "--state",
        st,
        "--allow-offline",
    ]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains(&format!(
            "{topic}-0: has no in-sync replica on a live broker"
        )),
        "{}",
        stderr(&out)
    );
}

/// regression: `plan` reported partitions with no live in-sync replica as healed,
/// and their moves waited forever for a leader to copy from.
#[test]
fn unrecoverable_partitions_stay_out_of_the_plan() {
    let dir = TempDir::new().unwrap();
    let s = write(dir.path(), "s.json", OFFLINE);
    let st = s.to_str().unwrap();
    let plan = dir.path().join("p.json");
    let p = plan.to_str().unwrap();
    let out = run(&["plan", "--state", st, "-o", p]);
    assert_exit(&out, 1);
    let text = stdout(&out);
    assert!(
        text.contains("unrecoverable:    2 partitions with no in-sync replica on a live broker")
            && text.contains(": lonely-0, pair-0"),
        "{text}"
    );
    let err = stderr(&out);
    assert!(
        err.contains("healing: 1 replicas moved off dead brokers 4"),
        "only pair-1 heals: {err}"
    );
    assert!(
        err.contains("2 partitions have no in-sync replica on a live broker")
            && err.contains("--allow-offline"),
        "{err}"
    );
    let names = planned(&plan);
    assert!(names.contains(&"pair-1".to_string()), "{names:?}");
    assert!(
        !names.iter().any(|n| n == "lonely-0" || n == "pair-0"),
        "{names:?}"
    );

    let out = run(&["plan", "--state", st, "--allow-offline", "--output", "json"]);
    assert_exit(&out, 0);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["summary"]["totals"]["offline_partitions"], 2);
    assert_eq!(
        v["summary"]["offline_partitions"],
        serde_json::json!([{"topic":"lonely","partition":0},{"topic":"pair","partition":0}])
    );
    // Offline replicas are not "left outside the targets" by the plan.
    assert_eq!(v["summary"]["totals"]["replicas_outside_targets"], 0);

    // check: the same report and exit code; moving one is an error.
    let out = run(&["check", p, "--state", st]);
    assert_exit(&out, 1);
    assert!(
        stdout(&out).contains("lonely-0, pair-0"),
        "{}",
        stdout(&out)
    );
    let out = run(&["check", p, "--state", st, "--allow-offline"]);
    assert_exit(&out, 0);
    check_refuses_moving(dir.path(), st, "lonely", "[2]");
}

/// regression: a live replica outside the ISR cannot be elected, so
/// `stale-0` (its only in-sync replica on dead broker 4, no leader) was
/// planned as healable although nothing could copy from it; `caught-0`
/// has a live in-sync replica and heals.
#[test]
fn a_partition_whose_in_sync_replicas_are_all_down_is_unrecoverable() {
    let dir = TempDir::new().unwrap();
    let s = write(
        dir.path(),
        "s.json",
        r#"{"version":1,
 "brokers":[{"id":1},{"id":2},{"id":3},{"id":4,"alive":false}],
 "topics":[
  {"name":"stale","partitions":[{"partition":0,"replicas":[4,2],"isr":[4],"leader":-1,"size_bytes":500}]},
  {"name":"caught","partitions":[{"partition":0,"replicas":[4,2],"isr":[2],"leader":-1,"size_bytes":500}]},
  {"name":"t","partitions":[
    {"partition":0,"replicas":[1,2]},{"partition":1,"replicas":[2,3]},{"partition":2,"replicas":[3,1]}]}]}"#,
    );
    let st = s.to_str().unwrap();
    let plan = dir.path().join("p.json");
    let p = plan.to_str().unwrap();
    let out = run(&["plan", "--state", st, "-o", p]);
    assert_exit(&out, 1);
    let text = stdout(&out);
    assert!(
        text.contains("unrecoverable:    1 partitions with no in-sync replica on a live broker")
            && text.contains(": stale-0"),
        "{text}"
    );
    let names = planned(&plan);
    assert!(names.contains(&"caught-0".to_string()), "{names:?}");
    assert!(!names.contains(&"stale-0".to_string()), "{names:?}");
    check_refuses_moving(dir.path(), st, "stale", "[3,2]");
}

/// regression: with replicas on a dead broker every live broker is below
/// its range, and the summary showed "replica excess -2".
#[test]
fn replica_excess_is_never_negative() {
    let dir = TempDir::new().unwrap();
    let s = write(
        dir.path(),
        "s.json",
        r#"{"version":1,"brokers":[{"id":1},{"id":2},{"id":3},{"id":4,"alive":false}],
            "topics":[{"name":"t","partitions":[
              {"partition":0,"replicas":[4,1]},{"partition":1,"replicas":[4,2]},
              {"partition":2,"replicas":[4,3]},{"partition":3,"replicas":[4,1]},
              {"partition":4,"replicas":[4,2]},{"partition":5,"replicas":[4,3]}]}]}"#,
    );
    let out = run(&["plan", "--state", s.to_str().unwrap(), "--output", "json"]);
    assert_exit(&out, 0);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let t = &v["summary"]["totals"];
    assert_eq!(
        (&t["replica_excess_before"], &t["replica_deficit_before"]),
        (&0.into(), &2.into())
    );
    let out = run(&["plan", "--state", s.to_str().unwrap()]);
    assert!(
        stdout(&out).contains("replica excess 0 → 0, deficit 2 → 0"),
        "{}",
        stdout(&out)
    );
}

/// The summary explains why a rack's lone broker holds twice the others,
/// and what its terms mean.
#[test]
fn summary_says_why_a_small_rack_holds_more() {
    let dir = TempDir::new().unwrap();
    let parts: Vec<String> = (0..8)
        .map(|i| format!(r#"{{"partition":{i},"replicas":[{},4]}}"#, 1 + i % 3))
        .collect();
    let s = write(
        dir.path(),
        "s.json",
        &format!(
            r#"{{"version":1,"brokers":[{{"id":1,"rack":"a"}},{{"id":2,"rack":"a"}},{{"id":3,"rack":"a"}},{{"id":4,"rack":"b"}}],
                "topics":[{{"name":"t","partitions":[{}]}}]}}"#,
            parts.join(",")
        ),
    );
    let out = run(&["plan", "--state", s.to_str().unwrap()]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains("note: rack b has 1 of the 4 target brokers, yet rack safety puts at least floor(RF/2) replicas of every partition in each rack: its brokers' share is 8.00 replicas each, against 4.00 were racks ignored"),
        "{text}"
    );
    for term in [
        "replica excess/deficit:",
        "topic excess:",
        "bytes max/ideal:",
        "preferred leaders:",
    ] {
        assert_eq!(text.matches(term).count(), 1, "{term} once: {text}");
    }
    assert!(text.contains("preferred leaders"), "{text}");
}
