//! The figures `plan` and `check` report, worked out by hand on two small
//! clusters: every count, byte total, bound and balance figure of
//! `analysis::summarize`, so a wrong sign or a lost term shows.

use kafka_migrate::analysis::{Summary, racks_spanned, summarize};
use kafka_migrate::model::{BrokerId, Cluster, snapshot};
use serde_json::{Value, json};

fn cluster(json: &str) -> Cluster {
    snapshot::parse("s", json.as_bytes()).unwrap()
}

/// Checks the named totals (others, and fields added later, aside).
fn assert_totals(sum: &Summary, expected: Value) {
    let got = serde_json::to_value(&sum.totals).unwrap();
    for (k, want) in expected.as_object().unwrap() {
        assert_eq!(&got[k], want, "totals.{k}: {got}");
    }
}

/// Per broker: (replicas, leaders, bytes) before and after, bytes in and
/// out, ideal count, target.
type Row = (BrokerId, [u64; 8], f64, bool);

fn assert_rows(sum: &Summary, expected: &[Row]) {
    let got: Vec<Row> = sum
        .brokers
        .iter()
        .map(|b| {
            let n = [
                b.replicas_before,
                b.replicas_after,
                b.leaders_before,
                b.leaders_after,
                b.bytes_before,
                b.bytes_after,
                b.bytes_in,
                b.bytes_out,
            ];
            (b.id, n, b.ideal_replicas, b.target)
        })
        .collect();
    assert_eq!(got, expected);
}

/// 4 brokers in 2 racks, broker 4 new; `t-1` has both replicas in rack a.
/// The plan fills broker 4 from `t-1` (fixing its racks) and `u-0`, and
/// only reorders `t-2`.
#[test]
fn a_rebalance_with_racks() {
    let c = cluster(
        r#"{"version":1,
        "brokers":[{"id":1,"rack":"a"},{"id":2,"rack":"b"},{"id":3,"rack":"a"},{"id":4,"rack":"b"}],
        "topics":[
          {"name":"t","partitions":[
            {"partition":0,"replicas":[1,2],"size_bytes":100},
            {"partition":1,"replicas":[1,3],"size_bytes":200},
            {"partition":2,"replicas":[2,1],"size_bytes":300},
            {"partition":3,"replicas":[3,2],"size_bytes":400}]},
          {"name":"u","partitions":[
            {"partition":0,"replicas":[2,3],"size_bytes":1000}]}]}"#,
    );
    let after = [vec![1, 2], vec![4, 3], vec![1, 2], vec![3, 2], vec![4, 3]];
    assert_eq!(racks_spanned(&c, &[1, 3]), 1);
    assert_eq!(racks_spanned(&c, &[1, 2, 3, 4, 9]), 2);
    let sum = summarize(&c, &after, &[1, 2, 3, 4], true, Some(100));
    assert_rows(
        &sum,
        &[
            (1, [3, 2, 2, 2, 600, 400, 0, 200], 2.5, true),
            (2, [4, 3, 2, 0, 1800, 800, 0, 1000], 2.5, true),
            (3, [3, 3, 1, 1, 1600, 1600, 0, 0], 2.5, true),
            (4, [0, 2, 0, 2, 0, 1200, 1200, 0], 2.5, true),
        ],
    );
    assert_totals(
        &sum,
        json!({
            "partitions": 5,
            "replicas": 10,
            "partitions_moved": 2,
            "partitions_reordered_only": 1,
            "replicas_moved": 2,
            "replica_moves_lower_bound": 2,
            "bytes_moved": 1200,
            // Brokers 2 and 3 hold 800 and 600 bytes over their 1000.
            "bytes_moves_lower_bound": 1400,
            "replication_factor_changes": 0,
            "replica_excess_before": 1,
            "replica_excess_after": 0,
            "replica_deficit_before": 2,
            "replica_deficit_after": 0,
            "leader_spread_before": 2,
            "leader_spread_after": 2,
            // t: 2 per broker; brokers 1 and 2 hold 3 before, 2 after 3.
            "topic_excess_before": 1,
            "topic_excess_after": 1,
            "bytes_max_over_ideal_before": 1.8,
            "bytes_max_over_ideal_after": 1.6,
            "rack_violations_before": 1,
            "rack_violations_after": 0,
            "replicas_outside_targets": 0,
            "max_inbound_bytes": 1200,
            "max_outbound_bytes": 1000,
            "estimated_seconds": 12.0,
        }),
    );
}

/// Broker 3 (rack a) is dead and not a target, racks are ignored (but
/// still counted: every broker has one). `t-0` goes from RF 2 to 3; `t-1`
/// has no leader and `t-2` a dead one, so the first alive replica sends;
/// `t-3` stays on broker 3.
#[test]
fn a_heal_without_racks_and_an_rf_change() {
    let c = cluster(
        r#"{"version":1,
        "brokers":[{"id":1,"rack":"a"},{"id":2,"rack":"b"},{"id":3,"rack":"a","alive":false},{"id":4,"rack":"b"}],
        "topics":[
          {"name":"t","partitions":[
            {"partition":0,"replicas":[1,2],"size_bytes":100},
            {"partition":1,"replicas":[3,1],"leader":-1,"size_bytes":200},
            {"partition":2,"replicas":[3,4],"leader":3,"size_bytes":300},
            {"partition":3,"replicas":[3,2],"leader":2,"size_bytes":400}]}]}"#,
    );
    let after = [vec![1, 2, 4], vec![2, 1], vec![4, 1], vec![3, 2]];
    let sum = summarize(&c, &after, &[1, 2, 4], false, None);
    assert_rows(
        &sum,
        &[
            (1, [2, 3, 1, 1, 300, 600, 300, 300], 2.67, true),
            (2, [2, 3, 0, 1, 500, 700, 200, 0], 2.67, true),
            (3, [3, 1, 3, 1, 900, 400, 0, 0], 0.0, false),
            (4, [1, 2, 0, 1, 300, 400, 100, 300], 2.67, true),
        ],
    );
    assert!(!sum.brokers[2].alive && sum.brokers[0].alive);
    assert_totals(
        &sum,
        json!({
            "partitions": 4,
            "replicas": 8,
            "partitions_moved": 3,
            "partitions_reordered_only": 0,
            "replicas_moved": 3,
            // Broker 3's three replicas must leave.
            "replica_moves_lower_bound": 3,
            "bytes_moved": 600,
            "bytes_moves_lower_bound": 900,
            "replication_factor_changes": 1,
            "replica_deficit_before": 1,
            "replica_deficit_after": 0,
            "leader_spread_before": 1,
            "leader_spread_after": 0,
            // A broker outside the targets may hold none of a topic.
            "topic_excess_before": 3,
            "topic_excess_after": 1,
            "bytes_max_over_ideal_before": 0.75,
            "bytes_max_over_ideal_after": 1.05,
            "rack_violations_before": 1,
            "rack_violations_after": 0,
            "replicas_outside_targets": 1,
            "max_inbound_bytes": 300,
            "max_outbound_bytes": 300,
            "estimated_seconds": null,
        }),
    );
    // Below every ceiling: no excess (however a negative one is shown).
    assert!(sum.totals.replica_excess_before <= 0);
    assert!(sum.totals.replica_excess_after <= 0);
}

/// Both replicas replaced: the leader sends the partition twice.
#[test]
fn a_partition_moved_whole() {
    let c = cluster(
        r#"{"version":1,"brokers":[{"id":1},{"id":2},{"id":3},{"id":4}],
        "topics":[{"name":"t","partitions":[{"partition":0,"replicas":[1,2],"size_bytes":50}]}]}"#,
    );
    let sum = summarize(&c, &[vec![3, 4]], &[1, 2, 3, 4], false, Some(10));
    let io: Vec<(u64, u64)> = sum
        .brokers
        .iter()
        .map(|b| (b.bytes_in, b.bytes_out))
        .collect();
    assert_eq!(io, [(0, 100), (0, 0), (50, 0), (50, 0)]);
    assert_totals(
        &sum,
        json!({
            "partitions_moved": 1,
            "replicas_moved": 2,
            "bytes_moved": 100,
            "max_inbound_bytes": 50,
            "max_outbound_bytes": 100,
            "estimated_seconds": 10.0,
        }),
    );
}

/// Counts already even, both partitions in one rack each: a plan that
/// keeps them keeps both violations.
#[test]
fn rack_violations_after() {
    let c = cluster(
        r#"{"version":1,
        "brokers":[{"id":1,"rack":"a"},{"id":2,"rack":"b"},{"id":3,"rack":"a"},{"id":4,"rack":"b"}],
        "topics":[{"name":"t","partitions":[
            {"partition":0,"replicas":[1,3],"size_bytes":10},
            {"partition":1,"replicas":[2,4],"size_bytes":10}]}]}"#,
    );
    let kept = [vec![1, 3], vec![2, 4]];
    let sum = summarize(&c, &kept, &[1, 2, 3, 4], true, Some(0));
    assert_totals(
        &sum,
        json!({
            "rack_violations_before": 2,
            "rack_violations_after": 2,
        }),
    );
    let fixed = [vec![1, 4], vec![2, 3]];
    // A zero throttle gives no estimate, not a division by zero (which
    // JSON would show as null too).
    let sum = summarize(&c, &fixed, &[1, 2, 3, 4], true, Some(0));
    assert_eq!(sum.totals.estimated_seconds, None);
    assert_totals(
        &sum,
        json!({"replicas_moved": 2, "rack_violations_after": 0}),
    );
}

/// Nothing to measure: no bytes, no partitions.
#[test]
fn an_empty_cluster() {
    let c = cluster(r#"{"version":1,"brokers":[{"id":1},{"id":2}],"topics":[]}"#);
    let sum = summarize(&c, &[], &[1, 2], false, Some(10));
    assert_totals(
        &sum,
        json!({
            "partitions": 0,
            "replica_moves_lower_bound": 0,
            "bytes_max_over_ideal_before": 1.0,
            "bytes_max_over_ideal_after": 1.0,
            "estimated_seconds": 0.0,
        }),
    );
}

/// Broker 3 (rack a) is removed: its RF 2 replicas can only go to broker
/// 1, the one target left in rack a, which must then send its RF 1
/// replicas to rack b. `copies` of that pattern take 4 moves each, and the
/// lower bound says so: on a small cluster through the rack-routed flow,
/// and past the flow's size limit through the racks' own term (replicas
/// bound to a rack, pushing the others out).
fn removal_in_a_short_rack(copies: usize) -> Cluster {
    use kafka_migrate::model::{Broker, Partition, Topic};
    let broker = |id, rack: &str| Broker {
        id,
        rack: Some(rack.to_string()),
        host: None,
        port: None,
        alive: true,
    };
    let topic = |name: &str, replicas: Vec<BrokerId>| Topic {
        name: name.to_string(),
        partitions: (0..2 * copies as i32)
            .map(|partition| Partition {
                partition,
                replicas: replicas.clone(),
                isr: replicas.clone(),
                leader: Some(replicas[0]),
                size_bytes: 0,
                in_flight: None,
            })
            .collect(),
    };
    Cluster {
        brokers: vec![
            broker(1, "a"),
            broker(2, "b"),
            broker(3, "a"),
            broker(4, "b"),
        ],
        topics: vec![topic("r1", vec![1]), topic("r2", vec![3, 2])],
    }
}

#[test]
fn the_lower_bound_sees_racks_past_the_flow_limit() {
    for copies in [1, 34_000] {
        let c = removal_in_a_short_rack(copies);
        let before: Vec<Vec<BrokerId>> = c.partitions().map(|(_, p)| p.replicas.clone()).collect();
        let sum = summarize(&c, &before, &[1, 2, 4], true, None);
        let replicas = 6 * copies as u64;
        assert_eq!(
            sum.totals.replicas,
            replicas,
            "{} the flow's limit",
            if replicas > 200_000 { "past" } else { "within" }
        );
        assert_eq!(
            sum.totals.replica_moves_lower_bound,
            4 * copies as u64,
            "{copies} copies"
        );
    }
}

/// Where racks decide where a replica may go, the lower bound routes
/// replicas through them (the min-cost flow) and says more than counts and
/// rack totals can: a generated cluster of 4 brokers in 3 racks whose
/// plan needs at least 25 moves, where the counts alone say 23 or fewer.
#[test]
fn the_lower_bound_routes_replicas_through_racks() {
    use kafka_migrate::planner::{self, PlanRequest};
    use kafka_migrate::synth::{Profile, generate};
    let p = Profile {
        brokers: 4,
        racks: 3,
        uneven_racks: false,
        growth_steps: 2,
        partitions: 40,
        max_partitions_per_topic: 8,
        dead_brokers: 0,
        ..Profile::default()
    };
    let c = generate(&p, 1);
    let before: Vec<Vec<BrokerId>> = c.partitions().map(|(_, p)| p.replicas.clone()).collect();
    let sum = summarize(&c, &before, &[1, 2, 3, 4], true, None);
    assert_eq!(sum.totals.replica_moves_lower_bound, 25);
    // A bound: the plan makes at least that many.
    let out = planner::plan(&c, &PlanRequest::default()).unwrap();
    let plan = summarize(&c, &out.assignment, &[1, 2, 3, 4], true, None);
    assert!(plan.totals.replicas_moved >= 25, "{:?}", plan.totals);
}

/// Counts even; rack a holds two RF 2 partitions whole (bound to it), rack
/// b four RF 1 replicas. Nothing has to move for counts, and the replicas
/// bound to rack a take no room in rack b.
#[test]
fn replicas_bound_to_a_rack_count_against_that_rack_only() {
    let c = cluster(
        r#"{"version":1,
        "brokers":[{"id":1,"rack":"a"},{"id":2,"rack":"b"},{"id":3,"rack":"a"},{"id":4,"rack":"b"}],
        "topics":[
          {"name":"r1","partitions":[
            {"partition":0,"replicas":[2]},{"partition":1,"replicas":[2]},
            {"partition":2,"replicas":[4]},{"partition":3,"replicas":[4]}]},
          {"name":"r2","partitions":[
            {"partition":0,"replicas":[1,3]},{"partition":1,"replicas":[3,1]}]}]}"#,
    );
    let before: Vec<Vec<BrokerId>> = c.partitions().map(|(_, p)| p.replicas.clone()).collect();
    let sum = summarize(&c, &before, &[1, 2, 3, 4], true, None);
    assert_totals(
        &sum,
        json!({
            "replica_moves_lower_bound": 0,
            "replica_excess_before": 0,
            "replica_deficit_before": 0,
            "rack_violations_before": 2,
        }),
    );
}

/// A partition with no live in-sync replica counts on its brokers' rows but in
/// none of the balance figures "before" (found by mutation: the offline
/// share was never asserted).
#[test]
fn offline_partitions_stay_out_of_the_balance_before() {
    let c = cluster(
        r#"{"version":1,"brokers":[{"id":1},{"id":2},{"id":3,"alive":false}],
            "topics":[{"name":"t","partitions":[
              {"partition":0,"replicas":[3],"size_bytes":1000},
              {"partition":1,"replicas":[1],"size_bytes":10},
              {"partition":2,"replicas":[2],"size_bytes":10}]}]}"#,
    );
    let after: Vec<Vec<BrokerId>> = c.partitions().map(|(_, p)| p.replicas.clone()).collect();
    let sum = summarize(&c, &after, &[1, 2], false, None);
    assert_eq!(sum.totals.replica_excess_before, 0);
    assert_eq!(sum.totals.bytes_max_over_ideal_before, 1.0);
    assert_eq!(sum.brokers[2].replicas_before, 1);
    assert_eq!(sum.brokers[2].bytes_before, 1000);
    // Nothing can move off the dead broker, so nothing must.
    assert_eq!(sum.totals.replica_moves_lower_bound, 0);
    assert_eq!(sum.totals.bytes_moves_lower_bound, 0);
}

/// `plan` reports against the ideals and bounds its planner measured, and
/// `check` measures the snapshot itself: one definition, so the same plan
/// gets the same summary from both, offline partitions, a dead broker and
/// uneven racks included.
#[test]
fn plan_and_check_measure_a_plan_alike() {
    use kafka_migrate::analysis::summarize_plan;
    use kafka_migrate::planner::{self, PlanRequest};
    use kafka_migrate::synth::{Profile, generate};
    for seed in [1, 2, 3] {
        let p = Profile {
            brokers: 7,
            racks: 3,
            uneven_racks: true,
            partitions: 300,
            dead_brokers: 1,
            ..Profile::default()
        };
        let c = generate(&p, seed);
        let out = planner::plan(&c, &PlanRequest::default()).unwrap();
        let from_plan = summarize_plan(&c, &out, Some(1000));
        let from_check = summarize(&c, &out.assignment, &out.targets, true, Some(1000));
        assert_eq!(from_plan, from_check, "seed {seed}");
        assert!(
            from_plan.totals.replica_moves_lower_bound > 0,
            "seed {seed}"
        );
    }
}

/// With `--replication-factor` the plan is judged against the ideals of
/// the replicas it ends with: here 4 RF 1 partitions become RF 2 on two
/// brokers, so each should hold 4, not the 2 of the snapshot as it is.
#[test]
fn an_rf_change_is_judged_by_the_new_replication_factor() {
    use kafka_migrate::analysis::summarize_plan;
    use kafka_migrate::planner::{self, PlanRequest};
    let c = cluster(
        r#"{"version":1,"brokers":[{"id":1},{"id":2}],
        "topics":[{"name":"t","partitions":[
          {"partition":0,"replicas":[1]},{"partition":1,"replicas":[2]},
          {"partition":2,"replicas":[1]},{"partition":3,"replicas":[2]}]}]}"#,
    );
    let req = PlanRequest {
        replication_factor: Some(2),
        ..PlanRequest::default()
    };
    let out = planner::plan(&c, &req).unwrap();
    let sum = summarize_plan(&c, &out, None);
    let ideal: Vec<f64> = sum.brokers.iter().map(|b| b.ideal_replicas).collect();
    assert_eq!(ideal, [4.0, 4.0]);
    assert_totals(
        &sum,
        json!({"replicas_moved": 4, "replica_excess_after": 0, "replica_deficit_after": 0,
               "topic_excess_after": 0, "replication_factor_changes": 4}),
    );
    // The snapshot measured as it stands has 2 per broker.
    let as_is = summarize(&c, &out.assignment, &out.targets, false, None);
    assert_eq!(as_is.brokers[0].ideal_replicas, 2.0);
}
