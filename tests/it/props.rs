//! Property tests of the planner over generated, realistic clusters: every
//! plan is valid and rack safe, keeps replication factors, is
//! deterministic, is never worse than the start, and stays near the fewest
//! moves. Plus the independent referee (`shared/tools/plan-check`) on a few.

use std::collections::BTreeSet;

use kafka_migrate::analysis::{Summary, Totals, summarize_plan};
use kafka_migrate::model::{Cluster, reassignment, snapshot};
use kafka_migrate::planner::{self, Budget, Objective, PlanRequest, Targets};
use kafka_migrate::synth::{Profile, generate};
use proptest::prelude::*;

fn profile() -> impl Strategy<Value = Profile> {
    (
        4usize..24,
        prop_oneof![Just(0usize), 2usize..5],
        any::<bool>(),
        1usize..4,
        200usize..1500,
        0usize..2,
        any::<bool>(),
    )
        .prop_map(
            |(brokers, racks, uneven, steps, partitions, dead, rf3)| Profile {
                brokers,
                racks: racks.min(brokers),
                uneven_racks: uneven,
                growth_steps: steps,
                partitions,
                dead_brokers: dead,
                rf1: if rf3 { 0.0 } else { 0.1 },
                rf2: if rf3 { 0.0 } else { 0.2 },
                ..Profile::default()
            },
        )
}

/// A floor on bytes-over-share that healing can force. A partition of
/// replication factor `rf` puts `floor(rf / K)` replicas in each of the `K`
/// target racks whatever happens, and at most one more. So a rack holds
/// at least those bytes plus, to reach its count quota, one more replica
/// of enough other partitions (the smallest, at best); and at most those
/// plus one of its largest others, the rest falling to the other racks.
/// (A rack left with few brokers by a dead one may have to hold a replica
/// of nearly every partition.) Counts may sit one below their floor, as
/// the bar allows.
fn forced_bytes_ratio(c: &Cluster, sum: &Summary) -> f64 {
    let targets: Vec<_> = sum.brokers.iter().filter(|b| b.target).collect();
    let mut racks: Vec<Option<&str>> = targets.iter().map(|b| b.rack.as_deref()).collect();
    racks.sort_unstable();
    racks.dedup();
    if racks.len() < 2 || racks.contains(&None) {
        return 0.0;
    }
    let k = racks.len();
    let mut forced = 0u64;
    let mut forced_count = 0u64;
    // One optional replica per partition and rack, by size.
    let mut extra: Vec<u64> = Vec::new();
    // Offline partitions (no live in-sync replica) stay where they are, outside
    // the targets and outside every plan's figures.
    for ((_, p), off) in c.partitions().zip(c.offline_mask()) {
        if off {
            continue;
        }
        let per_rack = (p.replicas.len() / k) as u64;
        forced += p.size_bytes * per_rack;
        forced_count += per_rack;
        if p.replicas.len() % k != 0 {
            extra.push(p.size_bytes);
        }
    }
    extra.sort_unstable();
    let total_bytes: f64 = targets.iter().map(|b| b.bytes_after as f64).sum();
    let total_ideal: f64 = targets.iter().map(|b| b.ideal_replicas).sum();
    let share = |ideal: f64| total_bytes * ideal / total_ideal;
    let mut worst = 0.0f64;
    for r in &racks {
        let members: Vec<_> = targets.iter().filter(|b| b.rack.as_deref() == *r).collect();
        let ideal: f64 = members.iter().map(|b| b.ideal_replicas).sum();
        let floor: u64 = members
            .iter()
            .map(|b| (b.ideal_replicas.floor() as u64).saturating_sub(1))
            .sum();
        let quota: u64 = members
            .iter()
            .map(|b| b.ideal_replicas.ceil() as u64 + 1)
            .sum();
        let need = floor.saturating_sub(forced_count) as usize;
        let least = forced + extra.iter().take(need).sum::<u64>();
        worst = worst.max(least as f64 / share(ideal));
        let room = quota.saturating_sub(forced_count) as usize;
        let most = forced + extra.iter().rev().take(room).sum::<u64>();
        worst = worst.max((total_bytes - most as f64) / share(total_ideal - ideal));
    }
    worst
}

/// Healing can force bytes up: a rack left with fewer brokers still holds
/// one replica of every partition that spans all racks. Past that estimate
/// (and past 1.05 and the start), the exact referee's least bytes (moves
/// aside, counts within the bar's one, topics as even as the plan's) must
/// show no plan has much less (racks that must split the rest unevenly,
/// topics that pin small replicas). `Ok(Some(least))` where the referee
/// judged; `Ok(None)` within the estimate. Past it, the referees must be
/// there (see [`plan_check`] and [`exact`]).
fn bytes_near_least(
    c: &Cluster,
    out: &planner::Outcome,
    s: &Totals,
) -> Result<Option<f64>, String> {
    let floor = forced_bytes_ratio(c, &measure(c, out));
    let bar = s.bytes_max_over_ideal_before.max(1.05).max(floor + 0.01);
    if s.bytes_max_over_ideal_after <= bar {
        return Ok(None);
    }
    // plan-check's figures: the exact referee shares its ideal.
    let referee = plan_check(c, out);
    let num = |k: &str| referee[k].as_f64().unwrap();
    let after = num("bytes_max_over_ideal_after");
    let topic = num("topic_excess_after") as u64;
    let least = least_bytes(c, topic);
    if let Some(l) = least
        && after <= l + 0.01
    {
        return Ok(Some(l));
    }
    Err(format!(
        "bytes {after} (before {}, forced {floor}, least possible {least:?})",
        s.bytes_max_over_ideal_before
    ))
}

fn measure(c: &Cluster, out: &planner::Outcome) -> Summary {
    summarize_plan(c, out, None)
}

/// A fixed seed: the same cases on every run, so CI is repeatable. Wider
/// runs set `KM_PROPTEST_CASES` and `KM_PROPTEST_SEED`; with a seed of
/// their own they record no failures in `proptest-regressions` (add the
/// ones worth keeping by hand, or to `exact_referee_on_small_clusters`).
fn config() -> ProptestConfig {
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse().ok());
    let seed: Option<u64> = env("KM_PROPTEST_SEED");
    ProptestConfig {
        cases: env("KM_PROPTEST_CASES").map_or(24, |n: u64| n as u32),
        rng_seed: proptest::test_runner::RngSeed::Fixed(seed.unwrap_or(20261125)),
        failure_persistence: if seed.is_some() {
            None
        } else {
            ProptestConfig::default().failure_persistence
        },
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn plans_are_valid_safe_deterministic_and_never_worse(
        p in profile(), seed in 0u64..1000, plan_seed in 0u64..4, size in any::<bool>()
    ) {
        let c = generate(&p, seed);
        let req = PlanRequest {
            leader_balance: true,
            seed: plan_seed,
            objective: if size { Objective::Size } else { Objective::Count },
            ..PlanRequest::default()
        };
        let out = planner::plan(&c, &req).expect("plans");
        // Deterministic: the same plan twice.
        prop_assert_eq!(&planner::plan(&c, &req).unwrap(), &out);
        // Valid: a plan Kafka's rules accept, referencing only known things.
        let plan = out.reassignment(&c);
        prop_assert!(plan.check_references(&c).is_empty());
        let json = reassignment::to_json(&plan);
        if !plan.is_empty() {
            prop_assert_eq!(reassignment::parse("p", json.as_bytes()).unwrap(), plan);
        }
        for (((_, before), after), off) in c.partitions().zip(&out.assignment).zip(c.offline_mask()) {
            prop_assert_eq!(before.replicas.len(), after.len(), "replication factor changed");
            // No live replica: no move can heal it, and the plan leaves it.
            if off {
                prop_assert_eq!(&before.replicas, after, "an offline partition moved");
                continue;
            }
            for b in after {
                prop_assert!(c.broker(*b).unwrap().alive, "replica on dead broker {}", b);
            }
        }
        let s = measure(&c, &out).totals;
        if s.rack_violations_before == 0 {
            prop_assert_eq!(s.rack_violations_after, 0);
        }
        prop_assert!(s.rack_violations_after <= s.rack_violations_before);
        prop_assert!(s.replica_excess_after <= s.replica_excess_before.max(1));
        prop_assert!(s.replica_deficit_after <= s.replica_deficit_before.max(1));
        // Never worse on leaders and topics, unless the exact referee
        // shows no plan within the move limit can be (for size plans, which
        // may spend more moves, on topics only): see
        // `exact_referee_on_small_clusters`.
        let (topic_before, lead_before) = (s.topic_excess_before.max(1), s.leader_spread_before.max(2));
        if s.topic_excess_after > topic_before || s.leader_spread_after > lead_before {
            let verdict = {
                let r = Reach::of(&c, &s);
                let least = r.least_topic_excess(s.replicas_moved) as i64;
                let topic = s.topic_excess_after <= topic_before
                    || least > topic_before && s.topic_excess_after <= least.max(1) + 1;
                let rest = if size {
                    s.leader_spread_after <= lead_before
                } else {
                    r.check(&s).is_ok()
                };
                (topic && rest, least)
            };
            prop_assert!(
                verdict.0,
                "worse than the start: {:?}, referee (ok, least topic excess) {:?}", s, verdict
            );
        }
        if size {
            let verdict = bytes_near_least(&c, &out, &s);
            prop_assert!(verdict.is_ok(), "{:?}", verdict);
        }
        prop_assert_eq!(s.replicas_outside_targets, 0);
    }

    #[test]
    fn count_plans_stay_near_the_lower_bound(p in profile(), seed in 0u64..1000) {
        let c = generate(&p, seed);
        let out = planner::plan(&c, &PlanRequest { leader_balance: true, ..PlanRequest::default() }).unwrap();
        let s = measure(&c, &out).totals;
        let bound = s.replica_moves_lower_bound as f64;
        prop_assert!(s.replica_excess_after <= 1, "excess {}", s.replica_excess_after);
        prop_assert!(s.replica_deficit_after <= 1, "deficit {}", s.replica_deficit_after);
        // The bar: 1.02x the bound and leader spread within 2. Where the
        // referee's bound or the spread is out of reach of any plan (tiny
        // racked clusters healing dead brokers, one-broker racks), the
        // exact referee must show it and the plan match what is possible.
        if s.replicas_moved as f64 > (bound * 1.02).floor() || s.leader_spread_after > 2 {
            let verdict = Reach::of(&c, &s).check(&s);
            prop_assert!(
                verdict.is_ok(),
                "moved {} against lower bound {}, leader spread {}: {:?}",
                s.replicas_moved, bound, s.leader_spread_after, verdict
            );
        }
    }

    #[test]
    fn rf_changes_only_when_asked(p in profile(), seed in 0u64..1000, rf in 1usize..4) {
        let c = generate(&p, seed);
        let alive = c.brokers.iter().filter(|b| b.alive).count();
        prop_assume!(rf <= alive);
        let first = c.topics[0].name.clone();
        // A zero move budget isolates the change itself from rebalancing.
        let req = PlanRequest {
            topics: Some(BTreeSet::from([first.clone()])),
            replication_factor: Some(rf),
            budget: Budget { max_moves: Some(0), max_bytes: None },
            ..PlanRequest::default()
        };
        let out = planner::plan(&c, &req).unwrap();
        for ((t, before), after) in c.partitions().zip(&out.assignment) {
            let at = format!("{}-{}: {:?} -> {:?}", t.name, before.partition, before.replicas, after);
            if t.name == first {
                prop_assert_eq!(after.len(), rf, "{}", at);
                if rf < before.replicas.len() {
                    // A decrease drops replicas and keeps the current leader.
                    prop_assert!(after.iter().all(|b| before.replicas.contains(b)), "{}", at);
                    if let Some(l) = before.leader {
                        prop_assert!(after.contains(&l), "leader {} dropped: {}", l, at);
                    }
                } else {
                    // An increase (or none) adds replicas and moves none.
                    prop_assert!(before.replicas.iter().all(|b| after.contains(b)), "{}", at);
                }
            } else {
                // Nothing else may change within a zero budget.
                prop_assert_eq!(after, &before.replicas, "{}", at);
            }
        }
    }

    #[test]
    fn budgets_are_respected(
        p in profile(), seed in 0u64..1000, max in 0u64..50, by_bytes in any::<bool>()
    ) {
        let c = generate(&p, seed);
        let (_, start) = c.partitions().next().unwrap();
        // In bytes: about `max` replicas' worth.
        let max_bytes = max * start.size_bytes.max(1);
        let budget = if by_bytes {
            Budget { max_moves: None, max_bytes: Some(max_bytes) }
        } else {
            Budget { max_moves: Some(max), max_bytes: None }
        };
        let out = planner::plan(&c, &PlanRequest { budget, leader_balance: true, ..PlanRequest::default() }).unwrap();
        // A budget that holds the whole plan changes nothing.
        let whole = planner::plan(&c, &PlanRequest { leader_balance: true, ..PlanRequest::default() }).unwrap();
        let all = Budget { max_moves: Some(measure(&c, &whole).totals.replicas_moved), max_bytes: None };
        let roomy = planner::plan(&c, &PlanRequest { budget: all, leader_balance: true, ..PlanRequest::default() }).unwrap();
        prop_assert_eq!(&roomy.assignment, &whole.assignment);
        let sum = measure(&c, &out);
        let s = &sum.totals;
        if by_bytes {
            prop_assert!(s.bytes_moved <= max_bytes, "moved {} bytes with budget {}", s.bytes_moved, max_bytes);
        } else {
            prop_assert!(s.replicas_moved <= max, "moved {} with budget {}", s.replicas_moved, max);
        }
        prop_assert!(s.rack_violations_after <= s.rack_violations_before);
        // Healing first: while replicas sit on dead brokers, every change
        // heals (at least one of its up to 3 moves; the last, that did not
        // fit, aside; a byte budget may fit small moves where no healing
        // fits).
        let dead: u64 = sum.brokers.iter().filter(|b| !b.alive).map(|b| b.replicas_before).sum();
        let healed = dead - sum.brokers.iter().filter(|b| !b.alive).map(|b| b.replicas_after).sum::<u64>();
        prop_assert!(by_bytes || healed == dead || 3 * healed + 2 >= s.replicas_moved, "healed {} of {} in {} moves", healed, dead, s.replicas_moved);
        // A part of a plan is no worse than the start (healed replicas
        // must land somewhere, so only without dead brokers).
        if dead == 0 {
            prop_assert!(s.replica_excess_after <= s.replica_excess_before.max(1));
            prop_assert!(s.replica_deficit_after <= s.replica_deficit_before.max(1));
            prop_assert!(s.topic_excess_after <= s.topic_excess_before.max(1));
        }
        // The worst brokers first: a move budget takes the largest
        // distance from the ideal (excess or deficit) at least half way to
        // the level no plan of that many moves can beat (each move takes
        // one replica off one broker and onto one other: the water level
        // on either side). Only where every replica may change racks
        // (none, or more racks than replicas): with 3 racks an RF 3
        // replica stays in its rack, and the level is per rack.
        if !by_bytes && dead == 0 && (p.racks == 0 || p.racks > 3) {
            let level = |gap: &dyn Fn(&kafka_migrate::analysis::BrokerRow) -> u64| {
                let gaps: Vec<u64> = sum.brokers.iter().filter(|b| b.target).map(gap).collect();
                (0..).find(|&e| gaps.iter().map(|&g| g.saturating_sub(e)).sum::<u64>() <= max).unwrap()
            };
            let over = level(&|b| b.replicas_before.saturating_sub(b.ideal_replicas.ceil() as u64));
            let under = level(&|b| (b.ideal_replicas.floor() as u64).saturating_sub(b.replicas_before));
            let reach = over.max(under);
            let worst = |e: i64, d: i64| e.max(d).max(0) as u64;
            let before = worst(s.replica_excess_before, s.replica_deficit_before);
            let after = worst(s.replica_excess_after, s.replica_deficit_after);
            prop_assert!(
                after <= reach + before.saturating_sub(reach) / 2 + 1,
                "worst distance {} -> {} where {} moves could reach {}", before, after, max, reach
            );
        }
    }
}

#[test]
fn decommission_empties_the_brokers() {
    for seed in 0..5 {
        let c = generate(&Profile::default(), seed);
        let victim = c.brokers.iter().find(|b| b.alive).unwrap().id;
        let req = PlanRequest {
            targets: Targets::Remove(vec![victim]),
            leader_balance: true,
            ..PlanRequest::default()
        };
        let out = planner::plan(&c, &req).unwrap();
        assert!(
            out.assignment.iter().all(|r| !r.contains(&victim)),
            "seed {seed}"
        );
    }
}

/// The independent referee's verdict on a plan. A test that asks for it
/// fails where it is missing: a verdict nobody gave is not a pass.
fn plan_check(c: &Cluster, out: &planner::Outcome) -> serde_json::Value {
    let tool = crate::support::repo().join("../shared/tools/plan-check");
    assert!(
        tool.exists(),
        "plan-check not found at {} (the referee lives in ../shared/tools beside the clone)",
        tool.display()
    );
    let (dir, s) = state_file(c);
    let p = dir.path().join("p.json");
    std::fs::write(&p, reassignment::to_json(&out.reassignment(c))).unwrap();
    let res = std::process::Command::new("python3")
        .arg(&tool)
        .args([
            "--state",
            s.to_str().unwrap(),
            "--plan",
            p.to_str().unwrap(),
        ])
        .output()
        .expect("python3 runs plan-check");
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    serde_json::from_slice(&res.stdout).unwrap()
}

#[test]
#[ignore = "needs ../shared/tools/plan-check; .ci/run runs it"]
fn referee_agrees_on_generated_clusters() {
    let base = Profile {
        brokers: 30,
        partitions: 5000,
        ..Profile::default()
    };
    // (what, profile, whether topic excess must reach 1). With 3 racks of
    // unequal size, RF3 partitions pin so much to the short rack that no
    // plan within the move bar reaches 1 (see `exact_referee_on_small_clusters`
    // and the README); there it must improve.
    let cases = [
        (
            "even racks",
            Profile {
                uneven_racks: false,
                dead_brokers: 0,
                ..base.clone()
            },
            true,
        ),
        (
            "4 uneven racks",
            Profile {
                racks: 4,
                dead_brokers: 0,
                ..base.clone()
            },
            true,
        ),
        (
            "no racks, a dead broker",
            Profile {
                racks: 0,
                ..base.clone()
            },
            true,
        ),
        (
            "3 even racks, a dead broker",
            Profile {
                uneven_racks: false,
                ..base.clone()
            },
            true,
        ),
        ("3 uneven racks, a dead broker", base.clone(), false),
    ];
    for (what, profile, topic_bar) in cases {
        for seed in 0..2 {
            let c = generate(&profile, seed);
            let out = planner::plan(
                &c,
                &PlanRequest {
                    leader_balance: true,
                    ..PlanRequest::default()
                },
            )
            .unwrap();
            let v = plan_check(&c, &out);
            let ours = measure(&c, &out).totals;
            let at = format!("{what}, seed {seed}: {v}");
            let num = |k: &str| v[k].as_f64().unwrap();
            assert_eq!(v["valid"], true, "{at}");
            assert_eq!(v["replicas_moved"], ours.replicas_moved, "{at}");
            assert_eq!(
                v["replica_moves_lower_bound"], ours.replica_moves_lower_bound,
                "{at}"
            );
            assert_eq!(num("rack_violations_after"), 0.0, "{at}");
            assert!(num("move_ratio") <= 1.02, "{at}");
            assert!(num("replica_excess_after") <= 1.0, "{at}");
            assert!(num("replica_deficit_after") <= 1.0, "{at}");
            assert!(num("leader_spread_after") <= 2.0, "{at}");
            if topic_bar {
                assert!(num("topic_excess_after") <= 1.0, "{at}");
            } else {
                assert!(
                    num("topic_excess_after") < num("topic_excess_before"),
                    "{at}"
                );
            }
        }
    }
}

/// Runs `tests/tools/exact.py` (an integer program, needs scipy: `KM_PYTHON`
/// names a Python that has it, `.ci/run` makes one in `target/py`) and
/// returns its JSON. Fails where it cannot run, as [`plan_check`].
fn exact(state: &std::path::Path, args: &[String]) -> serde_json::Value {
    let python = std::env::var("KM_PYTHON").unwrap_or_else(|_| "python3".into());
    let tool = crate::support::repo().join("tests/tools/exact.py");
    let mut cmd = std::process::Command::new(&python);
    cmd.arg(&tool).args(["--state", state.to_str().unwrap()]);
    cmd.args(args);
    let res = cmd.output().expect("python runs exact.py");
    assert!(
        res.status.success(),
        "exact.py with {python} failed (KM_PYTHON names a Python with scipy): {}",
        String::from_utf8_lossy(&res.stderr)
    );
    serde_json::from_slice(&res.stdout).unwrap()
}

/// The least bytes over the ideal any placement has with counts within the
/// bar's one (or what is forced, where plan-check's ideal is out of reach)
/// and topics no less even than `topic_excess`. Where the solver runs out
/// of time this is its proven floor (at least the racks' own bound), which
/// a faster machine can only raise.
fn least_bytes(c: &Cluster, topic_excess: u64) -> Option<f64> {
    let (_dir, state) = state_file(c);
    let (forced, _) = counts_reach(&state);
    let args = [
        slack_args(forced, 1),
        arg("--topic-excess", topic_excess).into(),
        vec!["--least-bytes".to_string()],
    ]
    .concat();
    exact(&state, &args)["least_bytes_over_ideal"].as_f64()
}

/// exact.py's count range: `slack` outside the ideal's, or the `forced`
/// excess and deficit where those are more.
fn slack_args(forced: (u64, u64), slack: u64) -> Vec<String> {
    [
        arg("--excess-slack", slack.max(forced.0)),
        arg("--deficit-slack", slack.max(forced.1)),
    ]
    .concat()
}

/// The least replica excess and deficit (with that excess) any placement
/// has against plan-check's ideal, (0, 0) where counts within the bar's
/// one fit; and the fewest moves of a plan with counts within one or
/// what is forced.
fn counts_reach(state: &std::path::Path) -> ((u64, u64), u64) {
    let optimum = |forced| exact(state, &slack_args(forced, 1))["optimum_moves"].as_u64();
    if let Some(moves) = optimum((0, 0)) {
        return ((0, 0), moves);
    }
    let least = exact(state, &["--least-imbalance".to_string()]);
    let num = |k: &str| least[k].as_u64().expect("a placement exists");
    let forced = (num("least_excess"), num("least_deficit"));
    let moves = optimum(forced).expect("a plan with the forced excess and deficit");
    (forced, moves)
}

/// The cluster as a snapshot file for the referees, in a directory that
/// lives as long as the returned guard. Without its offline partitions (no
/// live replica): every plan leaves them, so the referees judge the rest.
fn state_file(c: &Cluster) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::TempDir::new().unwrap();
    let state = dir.path().join("s.json");
    let online = c.without(&c.offline_mask());
    std::fs::write(&state, snapshot::to_json(&online)).unwrap();
    (dir, state)
}

/// What any plan can reach on a cluster, by the exact referee: the fewest
/// moves with the bar's count tolerance, and the move limit that makes
/// (1.02 times the larger of that and the referee's bound). A plan within
/// the bar itself (1.02 times the referee's bound) is judged against what
/// fits in the bar: spending up to the limit would break it. Where no
/// placement keeps counts within that tolerance of plan-check's ideal
/// (which can be out of reach), the least excess and deficit any placement
/// has (`forced`) take the tolerance's place.
struct Reach {
    _dir: tempfile::TempDir,
    state: std::path::PathBuf,
    optimum: u64,
    limit: u64,
    bar: u64,
    forced: (u64, u64),
}

fn arg(k: &str, v: u64) -> [String; 2] {
    [k.to_string(), v.to_string()]
}

impl Reach {
    fn of(c: &Cluster, s: &Totals) -> Reach {
        let (dir, state) = state_file(c);
        let (forced, optimum) = counts_reach(&state);
        let bound = s.replica_moves_lower_bound;
        Reach {
            _dir: dir,
            state,
            optimum,
            limit: optimum.max(bound) * 102 / 100,
            bar: bound * 102 / 100,
            forced,
        }
    }

    fn slack(&self, slack: u64) -> Vec<String> {
        slack_args(self.forced, slack)
    }

    /// The moves a plan that made `moved` may be compared within.
    fn within(&self, moved: u64) -> u64 {
        if moved <= self.bar {
            self.bar
        } else {
            self.limit
        }
    }

    /// The least topic excess of a plan within the limit: with counts in
    /// range as the planner keeps them, or where none fits, with the bar's
    /// tolerance, as the planner then allows.
    fn least_topic_excess(&self, moved: u64) -> u64 {
        let within = self.within(moved);
        [0, 1]
            .into_iter()
            .find_map(|slack| {
                let args = [self.slack(slack), arg("--within", within).into()].concat();
                exact(&self.state, &args)["least_topic_excess"].as_u64()
            })
            .expect("a plan within the limit")
    }

    /// Whether some plan within the limit spreads leaders within 2.
    fn leaders_fit(&self, moved: u64) -> bool {
        let args = [self.slack(1), arg("--leader-spread", 2).into()].concat();
        let moves = exact(&self.state, &args)["optimum_moves"].as_u64();
        moves.is_some_and(|m| m <= self.within(moved))
    }

    /// plan-check's replica excess and deficit are within the bar's one,
    /// or no worse than any placement's.
    fn check_counts(&self, referee: &serde_json::Value) -> Result<(), String> {
        let num = |k: &str| referee[k].as_u64().unwrap();
        let (excess, deficit) = (num("replica_excess_after"), num("replica_deficit_after"));
        if excess > self.forced.0.max(1) || deficit > self.forced.1.max(1) {
            return Err(format!(
                "excess {excess}, deficit {deficit}; least possible {:?}",
                self.forced
            ));
        }
        Ok(())
    }

    /// The plan is as good as any plan can be: within the move limit,
    /// topic excess within one of the least reachable, and leaders within
    /// 2 unless no plan within the limit can have them so.
    fn check(&self, s: &Totals) -> Result<(), String> {
        let at = format!(
            "{s:?}, optimum {}, limit {}, bar {}",
            self.optimum, self.limit, self.bar
        );
        if s.replicas_moved > self.limit {
            return Err(format!("moves over the limit: {at}"));
        }
        let least = self.least_topic_excess(s.replicas_moved);
        if s.topic_excess_after > least.max(1) as i64 + 1 {
            return Err(format!("topic excess, least {least}: {at}"));
        }
        if s.leader_spread_after > 2 && self.leaders_fit(s.replicas_moved) {
            return Err(format!("leaders could balance within the limit: {at}"));
        }
        Ok(())
    }
}

/// Small racked clusters healing dead brokers, where the referee's bound
/// is out of reach (it counts two replicas of one partition into the one
/// free rack, and lets a partition hold a broker twice): judged against
/// the true optimum instead. An integer program finds the fewest moves any
/// plan can make with the bar's own tolerance (counts within one of their
/// range): plans stay within 2% of the larger of that and the referee's
/// bound. It also finds the least topic excess of any plan within that
/// many moves that keeps counts in range, as the planner does (or, where
/// none fits, within one of it): plans come within one of it. Leader
/// spread above 2 passes only where no plan within the limit has less.
#[test]
#[ignore = "needs ../shared/tools/plan-check and scipy; .ci/run runs it"]
fn exact_referee_on_small_clusters() {
    let cases = [
        (
            "8 brokers, 4 racks, 2 dead",
            Profile::brokers(8)
                .rack_count(4)
                .even_racks()
                .growth_steps(1)
                .partitions(859)
                .dead_brokers(2),
            5,
        ),
        (
            "8 brokers, 4 racks, 2 dead",
            Profile::brokers(8)
                .rack_count(4)
                .even_racks()
                .growth_steps(1)
                .partitions(859)
                .dead_brokers(2),
            3,
        ),
        (
            "4 brokers, 2 racks, 1 dead",
            Profile::brokers(4)
                .rack_count(2)
                .even_racks()
                .growth_steps(2)
                .partitions(1060)
                .dead_brokers(1),
            3,
        ),
        (
            "6 brokers, 2 racks, 1 dead, RF 3",
            Profile::brokers(6)
                .rack_count(2)
                .even_racks()
                .growth_steps(2)
                .partitions(742)
                .dead_brokers(1)
                .rf3(),
            3,
        ),
        // Topic excess 3 at the start, and no plan within the move bar
        // that evens the counts has less than 9: "never worse than the
        // start" cannot hold for topic excess here.
        (
            "4 brokers, 2 uneven racks",
            Profile::brokers(4)
                .rack_count(2)
                .growth_steps(1)
                .partitions(337)
                .dead_brokers(0),
            395,
        ),
        // Counts in range take 190 moves against a limit of 189: the
        // plan must use the bar's tolerance of one.
        (
            "9 brokers, 4 uneven racks, 1 dead",
            Profile::brokers(9)
                .rack_count(4)
                .growth_steps(2)
                .partitions(201)
                .dead_brokers(1),
            469,
        ),
        // Leader spread 2 takes 183 moves against a limit of 164.
        (
            "4 brokers, 3 uneven racks",
            Profile::brokers(4)
                .rack_count(3)
                .growth_steps(3)
                .partitions(432)
                .dead_brokers(0),
            772,
        ),
        (
            "5 brokers, 3 uneven racks",
            Profile::brokers(5)
                .rack_count(3)
                .growth_steps(3)
                .partitions(300)
                .dead_brokers(1),
            5,
        ),
        // regression: plan-check's ideal gives the two 3-broker racks a
        // replica of every partition, RF 1 ones too; together they hold at
        // most 1,840 of its 1,884, so excess 22 and deficit 8 are forced
        // (the plan had left the shortfall on two brokers: deficit 22).
        (
            "9 brokers, 4 uneven racks, 1 dead, 3 steps",
            Profile::brokers(9)
                .rack_count(4)
                .growth_steps(3)
                .partitions(942)
                .dead_brokers(1),
            550,
        ),
        // regression: counts in range take 332 moves against a limit of
        // 329; with the bar's tolerance 324 reach topic excess 2, but the
        // search for it started from the floor of counts in range (4).
        (
            "14 brokers, 4 uneven racks, 1 dead",
            Profile::brokers(14)
                .rack_count(4)
                .growth_steps(1)
                .partitions(763)
                .dead_brokers(1),
            442,
        ),
        // regression: topic excess 58 fits in the limit of 333 moves, but
        // the topic repair counted sending on a replica that had already
        // moved as a move of its own, and stopped at 60.
        (
            "5 brokers, 3 even racks, 1 dead",
            Profile::brokers(5)
                .rack_count(3)
                .even_racks()
                .growth_steps(2)
                .partitions(335)
                .dead_brokers(1),
            708,
        ),
        // regression: topic excess 1 takes 61 moves against a limit of 60,
        // where 2 fits in 60; the topic-cap search stopped at the plan's
        // own excess of 1 and kept 61.
        (
            "12 brokers, 4 uneven racks, RF 3",
            Profile::brokers(12)
                .rack_count(4)
                .growth_steps(1)
                .partitions(296)
                .dead_brokers(0)
                .rf3(),
            159,
        ),
        // regression: brokers 2 and 3 are racks of their own, full of RF 3
        // partitions, so the RF 1 topics pile on rack a; topic excess 50 is
        // the least within the limit of 168 moves (leader spread 2 takes
        // 174). The plan ended at 62: its moved replicas sent one topic to
        // the broker that took the most, where trading destinations with
        // another topic's moved replicas costs no move.
        (
            "4 brokers, 3 uneven racks",
            Profile::brokers(4)
                .rack_count(3)
                .growth_steps(1)
                .partitions(745)
                .dead_brokers(0),
            913,
        ),
    ];
    for (what, profile, seed) in cases {
        let c = generate(&profile, seed);
        let out = planner::plan(
            &c,
            &PlanRequest {
                leader_balance: true,
                ..PlanRequest::default()
            },
        )
        .unwrap();
        let s = measure(&c, &out).totals;
        let reach = Reach::of(&c, &s);
        if let Err(e) = reach.check(&s) {
            panic!("{what}, seed {seed}: {e}");
        }
        if let Err(e) = reach.check_counts(&plan_check(&c, &out)) {
            panic!("{what}, seed {seed}: {e}");
        }
    }
}

/// Size plans on clusters where a pinned rack forces bytes far above 1.05
/// and past the quick estimate: the exact referee (with the racks' own
/// bound) shows what any placement can reach, and the plans reach it.
#[test]
#[ignore = "needs ../shared/tools/plan-check and scipy; .ci/run runs it"]
fn size_plans_reach_the_least_bytes() {
    let cases = [
        // A rack of three must hold a replica of nearly every partition
        // (the lone broker of another is full of RF 3 ones): 1.1794 is
        // forced, which the solver alone could not prove (its floor was
        // 1.1692 at its time limit).
        (
            "7 brokers, 3 uneven racks, 1 dead",
            Profile::brokers(7)
                .rack_count(3)
                .growth_steps(1)
                .partitions(360)
                .dead_brokers(1),
            279,
        ),
        (
            "6 brokers, 3 even racks, 1 dead",
            Profile::brokers(6)
                .rack_count(3)
                .even_racks()
                .growth_steps(1)
                .partitions(283)
                .dead_brokers(1),
            279,
        ),
    ];
    for (what, profile, seed) in cases {
        let c = generate(&profile, seed);
        let req = PlanRequest {
            leader_balance: true,
            objective: Objective::Size,
            ..PlanRequest::default()
        };
        let out = planner::plan(&c, &req).unwrap();
        let s = measure(&c, &out).totals;
        match bytes_near_least(&c, &out, &s) {
            Err(e) => panic!("{what}, seed {seed}: {e}"),
            // Within the estimate: no longer a case for the referee.
            Ok(None) => panic!("{what}, seed {seed}: within the estimate now, pick another case"),
            Ok(Some(_)) => {}
        }
    }
}
