//! The driver, preflight, verify and cancel on the in-process cluster
//! (`minibroker::sim`): the mini-broker's controller state under stepped
//! time, so a throttled move of hundreds of megabytes runs in
//! milliseconds and every poll can be observed.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::apply::{
    ApplyReport, ApplySettings, Event, Outcome, THROTTLE_KEYS, ThrottleReason, apply, change_rate,
};
use super::batch::{Direction, Limits, Mode};
use super::cancel::{CancelScope, CancelSettings, cancel, rollback};
use super::clock::Clock;
use super::error::ExecError;
use super::journal::{Journal, JournalState, JournalStore, MemoryStore, plan_digest};
use super::prepare::{PrepareSettings, Prepared, RefusalKind, prepare, prepare_with_log_dirs};
use super::throttle::{Rates, Throttles};
use super::verify::{
    PartitionStatus, Verdict, VerifyReport, VerifySettings, verify, verify_settled,
};
use crate::minibroker::sim::SimCluster;
use crate::model::live::ClusterAdmin;
use crate::model::reassignment::{Move, Reassignment};
use crate::model::{BrokerId, TopicPartition};

const MB: u64 = 1_000_000;

/// Runs a future of the simulated cluster to completion: nothing in it
/// ever waits (a sleep advances simulated time), so one poll finishes it.
fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("a simulated call waited"),
    }
}

fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition {
        topic: topic.into(),
        partition,
    }
}

fn plan(moves: &[(&str, i32, &[BrokerId])]) -> Reassignment {
    Reassignment::new(
        "plan",
        moves
            .iter()
            .map(|(t, p, r)| Move::new(tp(t, *p), r.to_vec()))
            .collect(),
    )
    .unwrap()
}

fn prepared(sim: &SimCluster, plan: &Reassignment) -> Prepared {
    let cluster = block_on(sim.admin().cluster()).unwrap();
    prepare(&cluster, plan, None, &PrepareSettings::default()).unwrap()
}

/// Six brokers in two racks (odd ids in rack-a, even in rack-b); topic
/// `t` on brokers 1-3 only, partition i of (i + 1) × 4 MB.
fn grown(partitions: i32) -> SimCluster {
    let homes: [&[BrokerId]; 3] = [&[1, 2], &[2, 3], &[3, 2]];
    let parts: Vec<(&[BrokerId], u64)> = (0..partitions)
        .map(|i| (homes[i as usize % 3], (i as u64 + 1) * 4 * MB))
        .collect();
    SimCluster::builder()
        .brokers(6, 2)
        .topic("t", &parts)
        .build()
        .unwrap()
}

/// Moves every partition of [`grown`] onto the new brokers 4-6.
fn onto_new(partitions: i32) -> Reassignment {
    let targets: [&[BrokerId]; 3] = [&[4, 5], &[5, 6], &[6, 5]];
    let moves: Vec<(&str, i32, &[BrokerId])> = (0..partitions)
        .map(|i| ("t", i, targets[i as usize % 3]))
        .collect();
    plan(&moves)
}

fn bounded(k: usize) -> Mode {
    Mode::Bounded(Limits {
        max_in_flight: 1000,
        max_per_broker: k,
    })
}

fn settings(mode: Mode, rate: Option<u64>) -> ApplySettings {
    ApplySettings {
        rates: Rates {
            replication: rate,
            log_dirs: None,
        },
        mode,
        ..ApplySettings::default()
    }
}

/// Runs `apply`, collecting its events.
fn run(
    sim: &SimCluster,
    prepared: &Prepared,
    settings: &ApplySettings,
    store: &mut impl JournalStore,
) -> (Result<ApplyReport, ExecError>, Vec<Event>) {
    let mut events = Vec::new();
    let stop = AtomicBool::new(false);
    let r = block_on(apply(
        &mut sim.admin(),
        &mut sim.clock(),
        prepared,
        settings,
        store,
        &mut |e| events.push(e.clone()),
        &stop,
    ));
    (r, events)
}

/// Every throttle key set on a broker or topic: (resource, key) -> value.
fn throttle_configs(sim: &SimCluster) -> BTreeMap<(String, String), String> {
    sim.inspect(|s| {
        let mut out = BTreeMap::new();
        for b in s.brokers.values() {
            for (k, v) in &b.configs {
                if THROTTLE_KEYS.contains(&k.as_str()) {
                    out.insert((format!("broker {}", b.id), k.clone()), v.clone());
                }
            }
        }
        for t in s.topics.values() {
            for (k, v) in &t.configs {
                if THROTTLE_KEYS.contains(&k.as_str()) {
                    out.insert((format!("topic {}", t.name), k.clone()), v.clone());
                }
            }
        }
        out
    })
}

/// Moves in flight, and how many copy into and out of each broker.
fn loads(sim: &SimCluster) -> (usize, BTreeMap<(BrokerId, Direction), usize>) {
    sim.inspect(|s| {
        let mut total = 0;
        let mut per = BTreeMap::new();
        for t in s.topics.values() {
            for p in t.partitions.iter().filter(|p| p.reassigning()) {
                total += 1;
                if !p.adding.is_empty() {
                    *per.entry((p.leader, Direction::Out)).or_default() += 1;
                    for &b in &p.adding {
                        *per.entry((b, Direction::In)).or_default() += 1;
                    }
                }
            }
        }
        (total, per)
    })
}

fn assignment(sim: &SimCluster, topic: &str) -> Vec<Vec<BrokerId>> {
    sim.inspect(|s| {
        s.topics[topic]
            .partitions
            .iter()
            .map(|p| p.replicas.clone())
            .collect()
    })
}

fn at_targets(sim: &SimCluster, plan: &Reassignment) -> bool {
    plan.moves().iter().all(|m| {
        sim.inspect(|s| {
            let p = s.partition(&m.tp.topic, m.tp.partition).unwrap();
            p.replicas == m.replicas && !p.reassigning()
        })
    })
}

/// `verify` with the default settings, as most tests run it.
fn verified(sim: &SimCluster, plan: &Reassignment, store: &mut impl JournalStore) -> VerifyReport {
    block_on(verify(
        &mut sim.admin(),
        plan,
        store,
        &VerifySettings::default(),
    ))
    .unwrap()
}

/// How many times each partition was given a target, over every request.
fn submissions(sim: &SimCluster) -> BTreeMap<TopicPartition, usize> {
    let mut n = BTreeMap::new();
    for r in sim.alter_requests() {
        for (tp, target) in r.moves {
            if target.is_some() {
                *n.entry(tp).or_default() += 1;
            }
        }
    }
    n
}

#[test]
fn batching_limits_hold_at_every_poll_and_throttles_cover_every_move() {
    let sim = grown(12);
    let p = onto_new(12);
    let prep = prepared(&sim, &p);
    let k = 2;
    let mut store = MemoryStore::new();
    let mut peak = 0;
    let mut peak_total = 0;
    let mut checks = 0;
    let stop = AtomicBool::new(false);
    let report = block_on(apply(
        &mut sim.admin(),
        &mut sim.clock(),
        &prep,
        &settings(bounded(k), Some(20 * MB)),
        &mut store,
        &mut |e| {
            if !matches!(e, Event::Progress(_) | Event::Submitted { .. }) {
                return;
            }
            checks += 1;
            let (total, per) = loads(&sim);
            peak_total = peak_total.max(total);
            for (link, n) in per {
                assert!(n <= k, "{link:?} has {n} moves at {e:?}");
                peak = peak.max(n);
            }
            // Every move in flight is throttled at both ends.
            let configs = throttle_configs(&sim);
            let list = |key: &str| {
                configs
                    .get(&("topic t".to_string(), key.to_string()))
                    .cloned()
                    .unwrap_or_default()
            };
            let (leader, follower) = (
                list(super::throttle::LEADER_REPLICAS),
                list(super::throttle::FOLLOWER_REPLICAS),
            );
            sim.inspect(|s| {
                for part in s.topics["t"].partitions.iter().filter(|p| p.reassigning()) {
                    for b in part.original() {
                        let entry = format!("{}:{b}", part.index);
                        assert!(
                            leader.split(',').any(|x| x == entry),
                            "{entry} not in {leader}"
                        );
                    }
                    for b in &part.adding {
                        let entry = format!("{}:{b}", part.index);
                        assert!(
                            follower.split(',').any(|x| x == entry),
                            "{entry} not in {follower}"
                        );
                    }
                }
            });
        },
        &stop,
    ))
    .unwrap();
    assert_eq!(report.outcome, Outcome::Completed);
    assert_eq!(peak, k, "the limit was reached, so the check could fail");
    assert!(
        peak_total > 1 && peak_total < 12,
        "{peak_total} moves at once"
    );
    assert!(checks > 20, "observed {checks} times");
    assert!(at_targets(&sim, &p));
    assert!(submissions(&sim).values().all(|&n| n == 1));
    assert_eq!(throttle_configs(&sim), BTreeMap::new());
}

#[test]
fn max_in_flight_caps_the_whole_cluster() {
    let sim = grown(9);
    let p = onto_new(9);
    let prep = prepared(&sim, &p);
    let mode = Mode::Bounded(Limits {
        max_in_flight: 2,
        max_per_broker: 6,
    });
    let stop = AtomicBool::new(false);
    let mut peak = 0;
    let report = block_on(apply(
        &mut sim.admin(),
        &mut sim.clock(),
        &prep,
        &settings(mode, None),
        &mut MemoryStore::new(),
        &mut |_| peak = peak.max(loads(&sim).0),
        &stop,
    ))
    .unwrap();
    assert_eq!(report.outcome, Outcome::Completed);
    assert_eq!(peak, 2);
}

#[test]
fn largest_first_and_reorders_in_the_first_request() {
    let sizes = [1, 5, 3, 4, 2];
    let parts: Vec<(&[BrokerId], u64)> = sizes.iter().map(|&s| (&[1][..], s * MB)).collect();
    let sim = SimCluster::builder()
        .brokers(3, 0)
        .topic("s", &parts)
        .topic("r", &[(&[1, 2], 50 * MB), (&[2, 3], 50 * MB)])
        .build()
        .unwrap();
    let p = plan(&[
        ("r", 0, &[2, 1]),
        ("r", 1, &[3, 2]),
        ("s", 0, &[2]),
        ("s", 1, &[2]),
        ("s", 2, &[2]),
        ("s", 3, &[2]),
        ("s", 4, &[2]),
    ]);
    let prep = prepared(&sim, &p);
    let (r, events) = run(
        &sim,
        &prep,
        &settings(bounded(1), Some(10 * MB)),
        &mut MemoryStore::new(),
    );
    let report = r.unwrap();
    assert_eq!(report.outcome, Outcome::Completed);
    let requests = sim.alter_requests();
    let order: Vec<Vec<TopicPartition>> = requests
        .iter()
        .map(|r| r.moves.iter().map(|(tp, _)| tp.clone()).collect())
        .collect();
    assert_eq!(
        order,
        vec![
            vec![tp("r", 0), tp("r", 1), tp("s", 1)],
            vec![tp("s", 3)],
            vec![tp("s", 2)],
            vec![tp("s", 4)],
            vec![tp("s", 0)],
        ]
    );
    let Event::Submitted { reorders, .. } = events
        .iter()
        .find(|e| matches!(e, Event::Submitted { .. }))
        .unwrap()
    else {
        unreachable!()
    };
    assert_eq!(*reorders, 2);
    // Only the reorders kept a leader that is not their preferred one;
    // they lead after the election.
    assert_eq!(report.elected, vec![tp("r", 0), tp("r", 1)]);
    sim.inspect(|s| {
        assert_eq!(s.partition("r", 0).unwrap().leader, 2);
        assert_eq!(s.partition("r", 1).unwrap().leader, 3);
    });
}

#[test]
fn no_elect_leaves_leaders_where_they_are() {
    let sim = SimCluster::builder()
        .brokers(2, 0)
        .topic("r", &[(&[1, 2], MB)])
        .build()
        .unwrap();
    let p = plan(&[("r", 0, &[2, 1])]);
    let prep = prepared(&sim, &p);
    let s = ApplySettings {
        no_elect: true,
        ..ApplySettings::default()
    };
    let report = run(&sim, &prep, &s, &mut MemoryStore::new()).0.unwrap();
    assert!(report.elected.is_empty());
    assert_eq!(sim.inspect(|s| s.partition("r", 0).unwrap().leader), 1);
}

/// A reorder (leader election needed) and a throttled copy, run to the
/// end with `fail` armed once both partitions are at their targets.
fn election_failure_case(fail: impl Fn(&SimCluster)) -> (ApplyReport, SimCluster) {
    let sim = SimCluster::builder()
        .brokers(3, 0)
        .topic("r", &[(&[1, 2], MB)])
        .topic("t", &[(&[1], 4 * MB)])
        .broker_config(3, super::throttle::FOLLOWER_RATE, "999999")
        .build()
        .unwrap();
    let p = plan(&[("r", 0, &[2, 1]), ("t", 0, &[3])]);
    let prep = prepared(&sim, &p);
    let stop = AtomicBool::new(false);
    let report = block_on(apply(
        &mut sim.admin(),
        &mut sim.clock(),
        &prep,
        &settings(Mode::default(), Some(MB)),
        &mut MemoryStore::new(),
        &mut |e| {
            if let Event::Progress(p) = e
                && p.partitions_done == p.partitions_total
            {
                fail(&sim);
            }
        },
        &stop,
    ))
    .unwrap();
    (report, sim)
}

// regression: a failed ElectLeaders (or the Metadata call before it)
// returned before restoring: the throttles stayed in force.
#[test]
fn a_failed_election_is_reported_and_the_throttles_restored_all_the_same() {
    for api in ["ElectLeaders", "Metadata"] {
        let (report, sim) = election_failure_case(|sim| sim.fail_next_call_of(api));
        assert_eq!(report.outcome, Outcome::Completed, "{api}");
        let failed: Vec<TopicPartition> = report.election_failed.iter().map(|f| f.tp()).collect();
        assert!(failed.contains(&tp("r", 0)), "{api}: {failed:?}");
        assert!(report.elected.is_empty(), "{api}");
        assert!(report.throttles.restored, "{api}");
        // Nothing but the operator's own rate.
        let expected = BTreeMap::from([(
            (
                "broker 3".to_string(),
                super::throttle::FOLLOWER_RATE.to_string(),
            ),
            "999999".to_string(),
        )]);
        assert_eq!(throttle_configs(&sim), expected, "{api}");
    }
}

/// The throttles are Kafka's strings while the moves run (all at once,
/// nothing set before on topic `t` and broker 2..6), and afterwards every
/// value is what it was: an operator's rate on broker 1 and an
/// operator's entry in topic `u`'s leader list come back.
#[test]
fn throttles_are_kafkas_strings_and_come_back_exactly() {
    let sim = SimCluster::builder()
        .brokers(6, 2)
        .topic(
            "t",
            &[(&[1, 2], 30 * MB), (&[2, 3], 20 * MB), (&[3, 2], 10 * MB)],
        )
        .topic("u", &[(&[1, 2], 10 * MB)])
        .broker_config(1, super::throttle::LEADER_RATE, "12345")
        .topic_config("u", super::throttle::LEADER_REPLICAS, "99:3")
        .build()
        .unwrap();
    let before = throttle_configs(&sim);
    let p = plan(&[
        ("t", 0, &[4, 5]),
        ("t", 1, &[2, 6]),
        ("t", 2, &[2, 3]),
        ("u", 0, &[1, 4]),
    ]);
    let prep = prepared(&sim, &p);
    let rate = 10 * MB;
    let s = ApplySettings {
        no_wait: true,
        ..settings(Mode::AllAtOnce, Some(rate))
    };
    let mut store = MemoryStore::new();
    let (r, _) = run(&sim, &prep, &s, &mut store);
    assert_eq!(r.unwrap().outcome, Outcome::Submitted);

    let current: BTreeMap<TopicPartition, Vec<BrokerId>> = [
        (tp("t", 0), vec![1, 2]),
        (tp("t", 1), vec![2, 3]),
        (tp("t", 2), vec![3, 2]),
        (tp("u", 0), vec![1, 2]),
    ]
    .into_iter()
    .collect();
    let kafka = Throttles::compute(p.moves(), &current, &[]).unwrap();
    let now = throttle_configs(&sim);
    let get = |r: &str, k: &str| now.get(&(r.to_string(), k.to_string())).cloned();
    let t = &kafka.topics["t"];
    assert_eq!(
        get("topic t", super::throttle::LEADER_REPLICAS),
        Some(t.leader_value())
    );
    assert_eq!(
        get("topic t", super::throttle::FOLLOWER_REPLICAS),
        Some(t.follower_value())
    );
    assert_eq!(t.leader_value(), "0:1,0:2,1:2,1:3,2:2,2:3");
    assert_eq!(t.follower_value(), "0:4,0:5,1:6");
    // The operator's entry stays first; ours follow.
    assert_eq!(
        get("topic u", super::throttle::LEADER_REPLICAS).as_deref(),
        Some("99:3,0:1,0:2")
    );
    assert_eq!(
        get("topic u", super::throttle::FOLLOWER_REPLICAS).as_deref(),
        Some("0:4")
    );
    for b in 1..=6 {
        for key in [super::throttle::LEADER_RATE, super::throttle::FOLLOWER_RATE] {
            assert_eq!(
                get(&format!("broker {b}"), key),
                Some(rate.to_string()),
                "broker {b} {key}"
            );
        }
    }
    let journal = store.journal.clone().unwrap();
    assert_eq!(journal.state, JournalState::Running);
    assert!(!journal.throttle.undo.is_empty());

    // The same apply again resumes, waits, and restores.
    let s = settings(Mode::AllAtOnce, Some(rate));
    let (r, events) = run(&sim, &prep, &s, &mut store);
    let report = r.unwrap();
    assert_eq!(report.outcome, Outcome::Completed);
    assert_eq!(report.submitted, 0, "nothing submitted twice");
    assert!(report.throttles.restored && report.throttles.left_alone.is_empty());
    assert!(events.iter().any(|e| matches!(
        e,
        Event::ThrottleChanged {
            reason: ThrottleReason::Restored,
            ..
        }
    )));
    assert_eq!(throttle_configs(&sim), before);
    assert!(at_targets(&sim, &p));
    assert_eq!(store.journal.unwrap().state, JournalState::Finished);
}

#[test]
fn a_throttled_move_takes_about_what_the_throttle_implies() {
    let sim = SimCluster::builder()
        .brokers(2, 0)
        .topic("t", &[(&[1], 100 * MB)])
        .build()
        .unwrap();
    let p = plan(&[("t", 0, &[2])]);
    let prep = prepared(&sim, &p);
    let report = run(
        &sim,
        &prep,
        &settings(Mode::default(), Some(10 * MB)),
        &mut MemoryStore::new(),
    )
    .0
    .unwrap();
    let bound = report.bound_seconds.unwrap();
    assert_eq!(bound, 10.0);
    let took = sim.now().as_secs_f64();
    assert!(
        took >= 0.9 * bound && took <= 1.3 * bound,
        "{took} s for a {bound} s bound"
    );
    assert_eq!(report.bytes_copied, 100 * MB);
    assert_eq!(report.bytes_total, 100 * MB);
}

/// A store that dies at its `kill_at`-th save: the run stops there, as a
/// process killed just before that write, with everything sent before it
/// on the cluster and the previous save on disk.
struct Dying {
    inner: MemoryStore,
    kill_at: usize,
    saves: usize,
}

#[derive(Debug, thiserror::Error)]
#[error("killed")]
struct Killed;

impl JournalStore for Dying {
    type Error = Killed;

    fn load(&mut self) -> Result<Option<Journal>, Killed> {
        Ok(self.inner.journal.clone())
    }

    fn save(&mut self, journal: &Journal) -> Result<(), Killed> {
        self.saves += 1;
        if self.saves == self.kill_at {
            return Err(Killed);
        }
        self.inner.journal = Some(journal.clone());
        Ok(())
    }
}

fn resume_case() -> (SimCluster, Reassignment) {
    let sim = SimCluster::builder()
        .brokers(4, 0)
        .topic(
            "t",
            &[
                (&[1, 2], 8 * MB),
                (&[1, 2], 6 * MB),
                (&[2, 1], 4 * MB),
                (&[1, 2], MB),
            ],
        )
        .broker_config(1, super::throttle::FOLLOWER_RATE, "777")
        .build()
        .unwrap();
    let p = plan(&[
        ("t", 0, &[3, 2]),
        ("t", 1, &[1, 3]),
        ("t", 2, &[4, 1]),
        ("t", 3, &[2, 1]),
    ]);
    (sim, p)
}

#[test]
fn a_run_killed_at_any_journal_write_resumes_without_submitting_twice() {
    let mode = bounded(1);
    let s = settings(mode, Some(5 * MB));
    let (sim, p) = resume_case();
    let mut clean = MemoryStore::new();
    let report = run(&sim, &prepared(&sim, &p), &s, &mut clean).0.unwrap();
    assert_eq!(report.outcome, Outcome::Completed);
    let writes = clean.saves;
    assert!(writes >= 6, "{writes} journal writes");

    for kill_at in 1..=writes {
        let (sim, p) = resume_case();
        let before = throttle_configs(&sim);
        let prep = prepared(&sim, &p);
        let mut dying = Dying {
            inner: MemoryStore::new(),
            kill_at,
            saves: 0,
        };
        let (r, _) = run(&sim, &prep, &s, &mut dying);
        assert!(
            matches!(r, Err(ExecError::Journal { .. })),
            "kill at write {kill_at}: {r:?}"
        );
        // Time passes before the operator re-runs.
        sim.advance(Duration::from_secs(3));
        let mut store = dying.inner;
        let cluster = block_on(sim.admin().cluster()).unwrap();
        let prep = prepare(
            &cluster,
            &p,
            Some(&prep.rollback),
            &PrepareSettings::default(),
        )
        .unwrap_or_else(|e| panic!("kill at write {kill_at}: {e}"));
        let (r, _) = run(&sim, &prep, &s, &mut store);
        let report = r.unwrap();
        assert_eq!(
            report.outcome,
            Outcome::Completed,
            "kill at write {kill_at}"
        );
        assert!(at_targets(&sim, &p), "kill at write {kill_at}");
        let n = submissions(&sim);
        assert!(
            n.values().all(|&n| n == 1),
            "kill at write {kill_at}: {n:?}"
        );
        assert_eq!(throttle_configs(&sim), before, "kill at write {kill_at}");
        assert_eq!(store.journal.unwrap().state, JournalState::Finished);
    }
}

/// The simulated clock, except that its `kill_at`-th sleep never ends:
/// the test polls the run once and drops it there, as a process killed
/// between two polls.
struct Frozen {
    clock: crate::minibroker::sim::SimClock,
    sleeps: usize,
    kill_at: usize,
}

impl super::clock::Clock for Frozen {
    fn now(&self) -> Duration {
        self.clock.now()
    }

    async fn sleep(&mut self, d: Duration) {
        self.sleeps += 1;
        if self.sleeps == self.kill_at {
            std::future::pending::<()>().await;
        }
        self.clock.sleep(d).await
    }
}

#[test]
fn a_run_dropped_between_polls_resumes_and_finishes() {
    let s = settings(bounded(1), Some(MB));
    for kill_at in [1, 2, 3, 5, 8, 13] {
        let (sim, p) = resume_case();
        let before = throttle_configs(&sim);
        let prep = prepared(&sim, &p);
        let mut store = MemoryStore::new();
        let stop = AtomicBool::new(false);
        let mut clock = Frozen {
            clock: sim.clock(),
            sleeps: 0,
            kill_at,
        };
        {
            let mut admin = sim.admin();
            let mut ignore = |_: &Event| {};
            let fut = apply(
                &mut admin,
                &mut clock,
                &prep,
                &s,
                &mut store,
                &mut ignore,
                &stop,
            );
            let mut fut = pin!(fut);
            let polled = fut.as_mut().poll(&mut Context::from_waker(Waker::noop()));
            assert!(
                polled.is_pending(),
                "kill at sleep {kill_at}: the run ended first"
            );
        }
        assert_eq!(store.journal.as_ref().unwrap().state, JournalState::Running);
        sim.advance(Duration::from_secs(2));
        let report = run(&sim, &prep, &s, &mut store).0.unwrap();
        assert_eq!(
            report.outcome,
            Outcome::Completed,
            "kill at sleep {kill_at}"
        );
        assert!(at_targets(&sim, &p));
        assert!(
            submissions(&sim).values().all(|&n| n == 1),
            "kill at sleep {kill_at}"
        );
        assert_eq!(throttle_configs(&sim), before, "kill at sleep {kill_at}");
    }
}

#[test]
fn a_plan_draining_a_dead_broker_runs_under_throttle_without_touching_it() {
    let sim = SimCluster::builder()
        .brokers(3, 0)
        .topic("t", &[(&[1, 3], 20 * MB), (&[3, 1], 20 * MB)])
        .dead(3)
        .build()
        .unwrap();
    let p = plan(&[("t", 0, &[1, 2]), ("t", 1, &[1, 2])]);
    let prep = prepared(&sim, &p);
    let mut store = MemoryStore::new();
    let report = run(
        &sim,
        &prep,
        &settings(Mode::default(), Some(10 * MB)),
        &mut store,
    )
    .0
    .unwrap();
    assert_eq!(report.outcome, Outcome::Completed);
    assert!(report.throttles.restored);
    assert!(at_targets(&sim, &p));
    assert_eq!(throttle_configs(&sim), BTreeMap::new());
    assert!(
        sim.now() >= Duration::from_secs(3),
        "the throttle held: {:?}",
        sim.now()
    );
}

#[test]
fn a_move_cancelled_by_someone_else_is_diverged_and_never_resubmitted() {
    let sim = grown(3);
    let p = onto_new(3);
    let prep = prepared(&sim, &p);
    let stop = AtomicBool::new(false);
    let mut store = MemoryStore::new();
    let mut polls = 0;
    let report = block_on(apply(
        &mut sim.admin(),
        &mut sim.clock(),
        &prep,
        &settings(Mode::AllAtOnce, Some(MB)),
        &mut store,
        &mut |e| {
            if matches!(e, Event::Progress(_)) {
                polls += 1;
                if polls == 2 {
                    let r =
                        block_on(sim.admin().alter_reassignments(&[(tp("t", 2), None)])).unwrap();
                    assert_eq!(r[0].1, Ok(()));
                }
            }
        },
        &stop,
    ))
    .unwrap();
    assert_eq!(report.outcome, Outcome::Incomplete);
    assert_eq!(report.diverged, vec![tp("t", 2)]);
    assert!(report.throttles.restored);
    assert_eq!(throttle_configs(&sim), BTreeMap::new());
    assert_eq!(store.journal.as_ref().unwrap().state, JournalState::Running);

    let again = run(
        &sim,
        &prep,
        &settings(Mode::AllAtOnce, Some(MB)),
        &mut store,
    )
    .0
    .unwrap();
    assert_eq!(again.outcome, Outcome::Incomplete);
    assert_eq!(again.submitted, 0);
    assert_eq!(submissions(&sim)[&tp("t", 2)], 1);
}

#[test]
fn a_journal_of_another_plan_is_refused() {
    let (sim, p) = resume_case();
    let prep = prepared(&sim, &p);
    let mut store = MemoryStore {
        journal: Some(Journal::new("fnv1a64:0000000000000001")),
        saves: 0,
    };
    let (r, _) = run(&sim, &prep, &ApplySettings::default(), &mut store);
    let e = r.unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, ExecError::DigestMismatch { .. }));
    assert!(
        msg.contains("fnv1a64:0000000000000001") && msg.contains(&plan_digest(&p)),
        "{msg}"
    );
    assert!(sim.alter_requests().is_empty());
}

#[test]
fn the_stop_flag_stops_submitting_and_a_rerun_finishes() {
    let sim = grown(6);
    let p = onto_new(6);
    let prep = prepared(&sim, &p);
    let before = throttle_configs(&sim);
    let s = settings(bounded(1), Some(10 * MB));
    let stop = AtomicBool::new(false);
    let mut store = MemoryStore::new();
    let report = block_on(apply(
        &mut sim.admin(),
        &mut sim.clock(),
        &prep,
        &s,
        &mut store,
        &mut |e| {
            if matches!(e, Event::Progress(_)) {
                stop.store(true, Ordering::SeqCst);
            }
        },
        &stop,
    ))
    .unwrap();
    assert_eq!(report.outcome, Outcome::Stopped);
    assert!(!report.in_flight.is_empty());
    assert!(!report.not_submitted.is_empty());
    assert!(!report.throttles.restored);
    assert_ne!(
        throttle_configs(&sim),
        before,
        "throttles stay while moves run"
    );
    let requests = sim.alter_requests().len();
    sim.advance(Duration::from_secs(60));
    assert_eq!(sim.alter_requests().len(), requests);

    let report = run(&sim, &prep, &s, &mut store).0.unwrap();
    assert_eq!(report.outcome, Outcome::Completed);
    assert!(at_targets(&sim, &p));
    assert!(submissions(&sim).values().all(|&n| n == 1));
    assert_eq!(throttle_configs(&sim), before);
}

/// Three moves onto a new broker submitted all at once at 2 MB/s by a
/// `--no-wait` run, which returns with them in flight.
struct NoWait {
    sim: SimCluster,
    plan: Reassignment,
    prep: Prepared,
    settings: ApplySettings,
    store: MemoryStore,
}

fn submitted_no_wait() -> NoWait {
    let sim = grown(3);
    let plan = onto_new(3);
    let prep = prepared(&sim, &plan);
    let settings = ApplySettings {
        no_wait: true,
        ..settings(Mode::AllAtOnce, Some(2 * MB))
    };
    let mut store = MemoryStore::new();
    let report = run(&sim, &prep, &settings, &mut store).0.unwrap();
    assert_eq!(report.outcome, Outcome::Submitted);
    assert_eq!(report.in_flight.len(), 3);
    NoWait {
        sim,
        plan,
        prep,
        settings,
        store,
    }
}

#[test]
fn no_wait_then_verify_until_done_restores_throttles() {
    let NoWait {
        sim,
        plan: p,
        mut store,
        ..
    } = submitted_no_wait();

    sim.advance(Duration::from_secs(2));
    let v = verified(&sim, &p, &mut store);
    assert_eq!(v.verdict, Verdict::InProgress);
    assert_eq!(v.in_progress, 3);
    assert!(v.throttles.is_none());
    let PartitionStatus::InProgress {
        bytes_copied,
        bytes_total,
    } = &v.partitions[0].status
    else {
        panic!("{:?}", v.partitions[0]);
    };
    assert!(
        *bytes_copied > 0 && bytes_copied < bytes_total,
        "{bytes_copied} of {bytes_total}"
    );
    assert_eq!(*bytes_total, 2 * 4 * MB);
    assert!(!throttle_configs(&sim).is_empty());

    sim.advance(Duration::from_secs(120));
    let v = verified(&sim, &p, &mut store);
    assert_eq!(v.verdict, Verdict::AllDone);
    assert!(v.throttles.unwrap().restored);
    assert_eq!(throttle_configs(&sim), BTreeMap::new());
    assert_eq!(store.journal.unwrap().state, JournalState::Finished);
}

// regression: `apply --no-wait` again once every move had finished
// returned "submitted" with nothing in flight, leaving the throttles in
// force and the journal running until a `verify`.
#[test]
fn no_wait_rerun_after_the_moves_finished_ends_the_run() {
    let NoWait {
        sim,
        plan: p,
        prep,
        settings: s,
        mut store,
    } = submitted_no_wait();
    sim.advance(Duration::from_secs(120));
    assert!(at_targets(&sim, &p));
    assert!(!throttle_configs(&sim).is_empty());

    let report = run(&sim, &prep, &s, &mut store).0.unwrap();
    assert_eq!(report.outcome, Outcome::Completed, "{report:?}");
    assert_eq!(throttle_configs(&sim), BTreeMap::new());
    assert_eq!(store.journal.unwrap().state, JournalState::Finished);
    assert!(submissions(&sim).values().all(|&n| n == 1));
}

// regression: a run that returned (--no-wait, or Ctrl-C) before its later
// batches left those partitions off their target with no move in flight,
// and verify called them diverged (exit 3, "nothing will finish it") and
// restored the throttles, so that the resumed run copied unthrottled.
#[test]
fn verify_waits_for_partitions_the_run_has_not_submitted_yet() {
    let sim = grown(3);
    let p = onto_new(3);
    let prep = prepared(&sim, &p);
    // One move into or out of a broker at a time: 4 <- 1 first, the
    // others wait for their brokers.
    let s = ApplySettings {
        no_wait: true,
        ..settings(bounded(1), Some(2 * MB))
    };
    let mut store = MemoryStore::new();
    let report = run(&sim, &prep, &s, &mut store).0.unwrap();
    assert_eq!(report.outcome, Outcome::Submitted);
    let first = report.in_flight.len();
    assert!(first < 3, "{first} moves in the first batch");

    sim.advance(Duration::from_secs(120));
    let v = verified(&sim, &p, &mut store);
    assert_eq!(v.verdict, Verdict::InProgress, "{v:?}");
    assert_eq!((v.done, v.not_submitted, v.diverged), (first, 3 - first, 0));
    assert!(v.throttles.is_none(), "{v:?}");
    assert!(!throttle_configs(&sim).is_empty());

    // A cancelled run submits nothing more: there they are diverged.
    let mut cancelled = MemoryStore::new();
    cancelled.journal = store.journal.clone().map(|mut j| {
        j.state = JournalState::Cancelled;
        j
    });
    let v = verified(&sim, &p, &mut cancelled);
    assert_eq!(
        (v.verdict, v.diverged),
        (Verdict::Failed, 3 - first),
        "{v:?}"
    );

    // Resumed, the run submits the rest and ends; verify then agrees.
    let s = ApplySettings {
        no_wait: false,
        ..s
    };
    let report = run(&sim, &prep, &s, &mut store).0.unwrap();
    assert_eq!(report.outcome, Outcome::Completed, "{report:?}");
    let v = verified(&sim, &p, &mut store);
    assert_eq!((v.verdict, v.done), (Verdict::AllDone, 3));
    assert_eq!(throttle_configs(&sim), BTreeMap::new());
}

// regression: verify and status failed (exit 3) when the replica sizes
// could not be read, which apply takes as "progress unknown".
#[test]
fn verify_and_status_degrade_the_byte_figures_when_sizes_cannot_be_read() {
    let sim = grown(1);
    let p = onto_new(1);
    let prep = prepared(&sim, &p);
    let mut store = MemoryStore::new();
    let s = ApplySettings {
        no_wait: true,
        ..settings(Mode::default(), Some(MB))
    };
    run(&sim, &prep, &s, &mut store).0.unwrap();

    sim.fail_next_call_of("DescribeLogDirs");
    let report = verified(&sim, &p, &mut store);
    assert_eq!(report.verdict, Verdict::InProgress);
    assert!(
        report
            .sizes_unknown
            .as_deref()
            .is_some_and(|e| e.starts_with("reading replica sizes")),
        "{report:?}"
    );
    assert!(matches!(
        report.partitions[0].status,
        PartitionStatus::InProgress {
            bytes_copied: 0,
            ..
        }
    ));

    sim.fail_next_call_of("DescribeLogDirs");
    let status = block_on(super::verify::status(&mut sim.admin())).unwrap();
    assert_eq!(status.moves.len(), 1);
    assert!(status.sizes_unknown.is_some());
    assert!(!status.throttles.is_empty());
}

#[test]
fn verify_preserves_throttles_when_asked() {
    let sim = grown(1);
    let p = onto_new(1);
    let prep = prepared(&sim, &p);
    let s = ApplySettings {
        no_wait: true,
        ..settings(Mode::AllAtOnce, Some(2 * MB))
    };
    let mut store = MemoryStore::new();
    run(&sim, &prep, &s, &mut store).0.unwrap();
    sim.advance(Duration::from_secs(60));
    let keep = VerifySettings {
        preserve_throttles: true,
    };
    let v = block_on(verify(&mut sim.admin(), &p, &mut store, &keep)).unwrap();
    assert_eq!(v.verdict, Verdict::AllDone);
    assert!(v.throttles.is_none());
    assert!(!throttle_configs(&sim).is_empty());
}

#[test]
fn verify_tells_done_in_progress_diverged_and_failed_apart() {
    let sim = SimCluster::builder()
        .brokers(4, 0)
        .topic(
            "v",
            &[
                (&[1, 2], MB),
                (&[1, 2], 500 * MB),
                (&[1, 2], MB),
                (&[1, 2], 500 * MB),
                (&[1, 2], 500 * MB),
            ],
        )
        .moving("v", 1, &[3, 2])
        .moving("v", 3, &[1, 4])
        .moving("v", 4, &[3, 1])
        .dead(4)
        .build()
        .unwrap();
    let p = plan(&[
        ("v", 0, &[1, 2]),
        ("v", 1, &[3, 2]),
        ("v", 2, &[2, 3]),
        ("v", 3, &[1, 4]),
        ("v", 4, &[2, 3]),
    ]);
    let v = block_on(verify(
        &mut sim.admin(),
        &p,
        &mut MemoryStore::new(),
        &VerifySettings::default(),
    ))
    .unwrap();
    let statuses: Vec<&PartitionStatus> = v.partitions.iter().map(|x| &x.status).collect();
    assert_eq!(statuses[0], &PartitionStatus::Done);
    assert!(
        matches!(statuses[1], PartitionStatus::InProgress { .. }),
        "{:?}",
        statuses[1]
    );
    assert_eq!(
        statuses[2],
        &PartitionStatus::Diverged {
            replicas: vec![1, 2],
            moving_to: None
        }
    );
    assert!(
        matches!(statuses[3], PartitionStatus::Failed { reason } if reason.contains("broker 4")),
        "{:?}",
        statuses[3]
    );
    assert_eq!(
        statuses[4],
        &PartitionStatus::Diverged {
            replicas: vec![1, 2],
            moving_to: Some(vec![3, 1])
        }
    );
    assert_eq!(v.verdict, Verdict::Failed);
    assert_eq!((v.done, v.in_progress, v.diverged, v.failed), (1, 1, 2, 1));
    let json = serde_json::to_value(&v).unwrap();
    assert_eq!(json["partitions"][1]["status"], "in_progress");
}

// regression: on a real Kafka, `verify` right after a move finished saw it
// no longer listed while the brokers still reported the old replicas, and
// called it diverged (exit 3, a CI pipeline's rollback).
#[test]
fn verify_looks_again_for_the_settle_time_before_calling_a_partition_diverged() {
    let sim = SimCluster::builder()
        .brokers(3, 0)
        .topic("v", &[(&[1, 2], MB), (&[1, 2], MB)])
        .build()
        .unwrap();
    let mut clock = sim.clock();
    let settled = |p: &Reassignment, clock: &mut crate::minibroker::sim::SimClock| {
        block_on(verify_settled(
            &mut sim.admin(),
            clock,
            p,
            &mut MemoryStore::new(),
            &VerifySettings::default(),
        ))
        .unwrap()
    };
    let start = clock.now();
    let done = settled(&plan(&[("v", 0, &[1, 2])]), &mut clock);
    assert_eq!(done.verdict, Verdict::AllDone);
    assert_eq!(clock.now(), start, "nothing diverged: one look");
    let off = settled(&plan(&[("v", 0, &[1, 2]), ("v", 1, &[2, 3])]), &mut clock);
    assert_eq!((off.done, off.diverged), (1, 1));
    let waited = clock.now() - start;
    assert!(
        waited >= super::apply::SETTLE && waited < super::apply::SETTLE * 2,
        "looked for {waited:?}"
    );
}

#[test]
fn cancel_reverts_restores_throttles_and_a_second_cancel_is_a_no_op() {
    let sim = grown(4);
    let p = onto_new(4);
    let prep = prepared(&sim, &p);
    let before_assignment = assignment(&sim, "t");
    let s = ApplySettings {
        no_wait: true,
        ..settings(bounded(1), Some(MB))
    };
    let mut store = MemoryStore::new();
    let report = run(&sim, &prep, &s, &mut store).0.unwrap();
    assert_eq!(report.in_flight.len(), 1);
    sim.advance(Duration::from_secs(2));

    let c = block_on(cancel(
        &mut sim.admin(),
        &mut sim.clock(),
        CancelScope::Plan(&p),
        &mut store,
        &CancelSettings::default(),
    ))
    .unwrap();
    assert_eq!(c.cancelled.len(), 1);
    assert_eq!(c.not_moving.len(), 3);
    assert!(c.refused.is_empty() && c.still_moving.is_empty());
    assert!(c.throttles.unwrap().restored);
    assert_eq!(assignment(&sim, "t"), before_assignment);
    assert_eq!(
        c.cancelled[0].replicas,
        before_assignment[c.cancelled[0].partition as usize]
    );
    assert_eq!(throttle_configs(&sim), BTreeMap::new());
    assert_eq!(
        store.journal.as_ref().unwrap().state,
        JournalState::Cancelled
    );

    let again = block_on(cancel(
        &mut sim.admin(),
        &mut sim.clock(),
        CancelScope::Plan(&p),
        &mut store,
        &CancelSettings::default(),
    ))
    .unwrap();
    assert!(again.cancelled.is_empty());
    assert_eq!(again.not_moving.len(), 4);

    // A cancelled journal starts afresh.
    let report = run(&sim, &prep, &settings(Mode::AllAtOnce, None), &mut store)
        .0
        .unwrap();
    assert_eq!(report.outcome, Outcome::Completed);
    assert!(at_targets(&sim, &p));
}

// regression: cancel restored the throttles although a refused cancel's
// move went on copying, then unthrottled.
#[test]
fn cancel_keeps_the_throttles_while_a_refused_cancel_still_copies() {
    let sim = SimCluster::builder()
        .brokers(4, 0)
        .topic("t", &[(&[1, 4], 8 * MB)])
        .build()
        .unwrap();
    let before = throttle_configs(&sim);
    let p = plan(&[("t", 0, &[2, 3])]);
    let prep = prepared(&sim, &p);
    let mut store = MemoryStore::new();
    let s = ApplySettings {
        no_wait: true,
        ..settings(Mode::default(), Some(MB))
    };
    // Broker 2 catches up and leads once brokers 1 and 4, the original
    // replicas, die: cancelling would need an unclean election, and
    // broker 3 copies on from broker 2.
    sim.pause_replication(3, true).unwrap();
    run(&sim, &prep, &s, &mut store).0.unwrap();
    sim.advance(Duration::from_secs(30));
    sim.stop_broker(1).unwrap();
    sim.stop_broker(4).unwrap();
    sim.pause_replication(3, false).unwrap();
    let throttled = throttle_configs(&sim);
    assert_ne!(throttled, before);

    let report = block_on(cancel(
        &mut sim.admin(),
        &mut sim.clock(),
        CancelScope::Plan(&p),
        &mut store,
        &CancelSettings::default(),
    ))
    .unwrap();
    assert_eq!(
        report.refused.iter().map(|r| r.tp()).collect::<Vec<_>>(),
        vec![tp("t", 0)]
    );
    assert_eq!(report.throttles_kept_for, vec![tp("t", 0)]);
    assert!(report.throttles.is_none());
    assert_eq!(throttle_configs(&sim), throttled);
    assert!(!store.journal.as_ref().unwrap().throttle.undo.is_empty());
    assert!(sim.inspect(|s| s.partition("t", 0).unwrap().reassigning()));
}

#[test]
fn cancel_all_reverts_moves_other_tools_started() {
    let sim = SimCluster::builder()
        .brokers(3, 0)
        .topic("x", &[(&[1], 500 * MB), (&[2], 500 * MB)])
        .moving("x", 0, &[3])
        .moving("x", 1, &[3])
        .build()
        .unwrap();
    let c = block_on(cancel(
        &mut sim.admin(),
        &mut sim.clock(),
        CancelScope::All,
        &mut MemoryStore::new(),
        &CancelSettings::default(),
    ))
    .unwrap();
    assert_eq!(c.cancelled.len(), 2);
    assert!(c.throttles.is_none());
    assert_eq!(assignment(&sim, "x"), vec![vec![1], vec![2]]);
}

#[test]
fn rollback_cancels_then_applies_the_rollback_file() {
    let sim = grown(3);
    let p = onto_new(3);
    let prep = prepared(&sim, &p);
    let before = assignment(&sim, "t");
    let s = ApplySettings {
        no_wait: true,
        ..settings(bounded(1), Some(MB))
    };
    let mut store = MemoryStore::new();
    run(&sim, &prep, &s, &mut store).0.unwrap();
    // One partition finishes, the next is submitted and stopped.
    let stop = AtomicBool::new(false);
    sim.advance(Duration::from_secs(60));
    let r = block_on(rollback(
        &mut sim.admin(),
        &mut sim.clock(),
        &prep.rollback,
        &PrepareSettings::default(),
        &settings(Mode::default(), Some(50 * MB)),
        &CancelSettings::default(),
        &mut store,
        &mut MemoryStore::new(),
        &mut |_| {},
        &stop,
    ))
    .unwrap();
    assert_eq!(r.apply.outcome, Outcome::Completed);
    assert_eq!(assignment(&sim, "t"), before);
    assert_eq!(throttle_configs(&sim), BTreeMap::new());
}

/// The journal as two processes see one file.
#[derive(Clone)]
struct Shared(Rc<RefCell<MemoryStore>>);

impl JournalStore for Shared {
    type Error = std::convert::Infallible;
    fn load(&mut self) -> Result<Option<Journal>, Self::Error> {
        self.0.borrow_mut().load()
    }
    fn save(&mut self, j: &Journal) -> Result<(), Self::Error> {
        self.0.borrow_mut().save(j)
    }
}

// regression: `throttle set` saving between apply's pick-up and its next
// save was overwritten (apply bumped the revision from a stale copy): the
// new rate stayed on brokers 1 and 2 for good, and batch two ran at the
// old rate.
#[test]
fn throttle_set_between_two_batches_is_kept_and_everything_restored() {
    let sim = SimCluster::builder()
        .brokers(4, 0)
        .topic("t", &[(&[1], 4 * MB), (&[3], 4 * MB)])
        .broker_config(2, super::throttle::FOLLOWER_RATE, "999999")
        .build()
        .unwrap();
    let before = throttle_configs(&sim);
    let p = plan(&[("t", 0, &[2]), ("t", 1, &[4])]);
    let prep = prepared(&sim, &p);
    let one_at_a_time = Mode::Bounded(Limits {
        max_in_flight: 1,
        max_per_broker: 1,
    });
    let shared = Shared(Rc::new(RefCell::new(MemoryStore::new())));
    let stop = AtomicBool::new(false);
    let mut changed = false;
    let mut batch_two_rate = None;
    let report = block_on(apply(
        &mut sim.admin(),
        &mut sim.clock(),
        &prep,
        &settings(one_at_a_time, Some(MB)),
        &mut shared.clone(),
        &mut |e| {
            // After the poll that saw partition 0 done, before the next
            // batch is throttled and saved.
            if matches!(e, Event::PartitionDone { .. }) && !changed {
                changed = true;
                let rates = Rates {
                    replication: Some(20 * MB),
                    log_dirs: None,
                };
                block_on(change_rate(
                    &mut sim.admin(),
                    &mut shared.clone(),
                    rates,
                    None,
                ))
                .unwrap();
            }
            if let Event::Submitted { moves, .. } = e
                && moves.iter().any(|m| m.partition == 1)
            {
                batch_two_rate = sim.inspect(|s| {
                    s.brokers[&4]
                        .configs
                        .get(super::throttle::FOLLOWER_RATE)
                        .cloned()
                });
            }
        },
        &stop,
    ))
    .unwrap();
    assert!(changed);
    assert_eq!(report.outcome, Outcome::Completed);
    assert_eq!(batch_two_rate.as_deref(), Some("20000000"));
    assert!(
        report.throttles.left_alone.is_empty(),
        "{:?}",
        report.throttles
    );
    assert_eq!(throttle_configs(&sim), before);
}

/// The shared journal, running `hook` once after the first save `when`
/// holds for (another process acting between a save and what follows it).
struct Hooked<W: Fn(&Journal) -> bool, H: FnMut()> {
    shared: Shared,
    when: W,
    hook: Option<H>,
}

impl<W: Fn(&Journal) -> bool, H: FnMut()> JournalStore for Hooked<W, H> {
    type Error = std::convert::Infallible;
    fn load(&mut self) -> Result<Option<Journal>, Self::Error> {
        self.shared.load()
    }
    fn save(&mut self, j: &Journal) -> Result<(), Self::Error> {
        self.shared.save(j)?;
        if (self.when)(j)
            && let Some(mut h) = self.hook.take()
        {
            h();
        }
        Ok(())
    }
}

// regression: `throttle set` between apply's saving a batch's undo record
// and sending its operations: apply then wrote its old rate over the new
// one on the batch's brokers, which restore left alone for good.
#[test]
fn throttle_set_between_a_batchs_save_and_its_operations_is_put_back() {
    let sim = SimCluster::builder()
        .brokers(4, 0)
        .topic("t", &[(&[1], 4 * MB), (&[3], 4 * MB)])
        .build()
        .unwrap();
    let p = plan(&[("t", 0, &[2]), ("t", 1, &[4])]);
    let prep = prepared(&sim, &p);
    let one_at_a_time = Mode::Bounded(Limits {
        max_in_flight: 1,
        max_per_broker: 1,
    });
    let shared = Shared(Rc::new(RefCell::new(MemoryStore::new())));
    let on_broker_4 = |j: &Journal| {
        j.throttle.undo().iter().any(|u| {
            matches!(
                u,
                super::throttle::Undo::Value {
                    resource: crate::model::live::ConfigResource::Broker(4),
                    ..
                }
            )
        })
    };
    let mut store = Hooked {
        shared: shared.clone(),
        when: on_broker_4,
        hook: Some(|| {
            let rates = Rates {
                replication: Some(20 * MB),
                log_dirs: None,
            };
            let c = block_on(change_rate(
                &mut sim.admin(),
                &mut shared.clone(),
                rates,
                None,
            ));
            assert_eq!(c.unwrap().brokers, vec![1, 2, 3, 4]);
        }),
    };
    let (report, _) = run(&sim, &prep, &settings(one_at_a_time, Some(MB)), &mut store);
    let report = report.unwrap();
    assert!(store.hook.is_none(), "the hook never ran");
    assert_eq!(report.outcome, Outcome::Completed);
    assert!(
        report.throttles.left_alone.is_empty(),
        "{:?}",
        report.throttles
    );
    assert_eq!(throttle_configs(&sim), BTreeMap::new());
}

#[test]
fn a_rate_changed_by_throttle_set_mid_move_is_picked_up_and_the_original_restored() {
    let sim = SimCluster::builder()
        .brokers(2, 0)
        .topic("t", &[(&[1], 40 * MB)])
        .broker_config(2, super::throttle::FOLLOWER_RATE, "999999")
        .build()
        .unwrap();
    let before = throttle_configs(&sim);
    let p = plan(&[("t", 0, &[2])]);
    let prep = prepared(&sim, &p);

    let shared = Shared(Rc::new(RefCell::new(MemoryStore::new())));
    let stop = AtomicBool::new(false);
    let mut polls = 0;
    let mut seen_fast = false;
    let mut events = Vec::new();
    let report = block_on(apply(
        &mut sim.admin(),
        &mut sim.clock(),
        &prep,
        &settings(Mode::default(), Some(MB)),
        &mut shared.clone(),
        &mut |e| {
            events.push(e.clone());
            if !matches!(e, Event::Progress(_)) {
                return;
            }
            polls += 1;
            if polls == 3 {
                let rates = Rates {
                    replication: Some(20 * MB),
                    log_dirs: None,
                };
                let c = block_on(change_rate(
                    &mut sim.admin(),
                    &mut shared.clone(),
                    rates,
                    None,
                ))
                .unwrap();
                assert_eq!(c.brokers, vec![1, 2]);
            }
            let rate = sim.inspect(|s| {
                s.brokers[&2]
                    .configs
                    .get(super::throttle::FOLLOWER_RATE)
                    .cloned()
            });
            seen_fast |= rate.as_deref() == Some("20000000");
        },
        &stop,
    ))
    .unwrap();
    assert_eq!(report.outcome, Outcome::Completed);
    assert!(seen_fast);
    assert!(events.iter().any(|e| matches!(
        e,
        Event::ThrottleChanged {
            reason: ThrottleReason::RateChanged,
            replication_rate: Some(20_000_000),
            ..
        }
    )));
    // 2 MB at 1 MB/s, the rest at 20 MB/s: far less than 40 s.
    assert!(sim.now() < Duration::from_secs(10), "{:?}", sim.now());
    assert_eq!(throttle_configs(&sim), before);
}

#[test]
fn a_rerun_with_another_throttle_changes_the_rate_of_moves_in_flight() {
    let sim = grown(1);
    let p = onto_new(1);
    let prep = prepared(&sim, &p);
    let mut store = MemoryStore::new();
    let s = ApplySettings {
        no_wait: true,
        ..settings(Mode::default(), Some(MB))
    };
    run(&sim, &prep, &s, &mut store).0.unwrap();
    let s = ApplySettings {
        no_wait: true,
        ..settings(Mode::default(), Some(3 * MB))
    };
    let (_, events) = run(&sim, &prep, &s, &mut store);
    assert!(events.iter().any(|e| matches!(
        e,
        Event::ThrottleChanged {
            reason: ThrottleReason::RateChanged,
            ..
        }
    )));
    let rate = sim.inspect(|s| {
        s.brokers[&4]
            .configs
            .get(super::throttle::FOLLOWER_RATE)
            .cloned()
    });
    assert_eq!(rate.as_deref(), Some("3000000"));
}

#[test]
fn an_admin_failure_names_the_step() {
    let (sim, p) = resume_case();
    let prep = prepared(&sim, &p);
    sim.fail_next_calls(1);
    let e = run(
        &sim,
        &prep,
        &ApplySettings::default(),
        &mut MemoryStore::new(),
    )
    .0
    .unwrap_err();
    assert!(matches!(e, ExecError::Admin { .. }));
    assert!(
        e.to_string().starts_with("reading the cluster: Metadata"),
        "{e}"
    );
}

#[test]
fn events_serialize_with_snake_case_tags() {
    let sim = grown(3);
    let p = onto_new(3);
    let prep = prepared(&sim, &p);
    let (r, events) = run(
        &sim,
        &prep,
        &settings(Mode::default(), Some(10 * MB)),
        &mut MemoryStore::new(),
    );
    r.unwrap();
    let tags: Vec<String> = events
        .iter()
        .map(|e| {
            serde_json::to_value(e).unwrap()["event"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    for t in [
        "started",
        "submitted",
        "progress",
        "partition_done",
        "throttle_changed",
        "finished",
    ] {
        assert!(tags.iter().any(|x| x == t), "no {t} in {tags:?}");
    }
    assert_eq!(tags.first().map(String::as_str), Some("started"));
    assert_eq!(tags.last().map(String::as_str), Some("finished"));
    let last_progress = events
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::Progress(p) => Some(p.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(last_progress.partitions_total, 3);
    let v = serde_json::to_value(Event::Progress(last_progress)).unwrap();
    assert!(v["brokers"].is_array() && v["bytes_total"].is_u64(), "{v}");
}

// --- preflight -------------------------------------------------------------

fn cluster_of(sim: &SimCluster) -> crate::model::Cluster {
    block_on(sim.admin().cluster()).unwrap()
}

#[test]
fn a_stale_plan_is_refused_naming_the_partition_unless_forced() {
    let sim = grown(3);
    let p = onto_new(3);
    let made_against = plan(&[("t", 0, &[1, 2]), ("t", 1, &[3, 1]), ("t", 2, &[3, 2])]);
    let e = prepare(
        &cluster_of(&sim),
        &p,
        Some(&made_against),
        &PrepareSettings::default(),
    )
    .unwrap_err();
    assert!(e.has(RefusalKind::Stale));
    assert_eq!(e.problems.len(), 1);
    assert!(
        e.to_string()
            .starts_with("t-1: live replicas [2,3] differ from [3,1]"),
        "{e}"
    );
    let forced = PrepareSettings {
        force: true,
        ..PrepareSettings::default()
    };
    let ok = prepare(&cluster_of(&sim), &p, Some(&made_against), &forced).unwrap();
    assert_eq!(ok.warnings.len(), 1);
    assert_eq!(
        ok.rollback.moves()[1].replicas,
        vec![2, 3],
        "the rollback is what is live"
    );
}

#[test]
fn moves_in_flight_are_refused_without_additional() {
    let sim = SimCluster::builder()
        .brokers(4, 0)
        .topic(
            "t",
            &[(&[1, 2], 500 * MB), (&[1, 2], 500 * MB), (&[1, 2], MB)],
        )
        .moving("t", 0, &[3, 2])
        .moving("t", 1, &[4, 2])
        .build()
        .unwrap();
    // t-0 moves outside the plan; t-1 moves elsewhere than the plan says.
    let p = plan(&[("t", 1, &[3, 2]), ("t", 2, &[1, 3])]);
    let e = prepare(&cluster_of(&sim), &p, None, &PrepareSettings::default()).unwrap_err();
    let locs: Vec<&str> = e
        .problems
        .iter()
        .map(|(_, p)| p.location.as_str())
        .collect();
    assert_eq!(locs, vec!["t-0", "t-1"]);
    assert!(e.problems.iter().all(|(k, _)| *k == RefusalKind::InFlight));
    let extra = PrepareSettings {
        additional: true,
        ..PrepareSettings::default()
    };
    let ok = prepare(&cluster_of(&sim), &p, None, &extra).unwrap();
    assert_eq!(ok.replacing, vec![tp("t", 1)]);
    // Without a rollback file, a moving partition's original is
    // `replicas - adding`, in the order Kafka lists them (not always the
    // order before the move: FIELD-GUIDE §3).
    assert_eq!(ok.rollback.moves()[0].replicas, vec![2, 1]);

    // Applied beside the other move, the plan replaces t-1's target.
    let report = run(
        &sim,
        &ok,
        &ApplySettings::default(),
        &mut MemoryStore::new(),
    )
    .0
    .unwrap();
    assert_eq!(report.outcome, Outcome::Completed);
    assert!(at_targets(&sim, &p));
}

#[test]
fn a_plan_moving_to_its_own_targets_resumes_without_additional() {
    let sim = SimCluster::builder()
        .brokers(3, 0)
        .topic("t", &[(&[1, 2], 500 * MB), (&[1, 2], MB)])
        .moving("t", 0, &[3, 2])
        .build()
        .unwrap();
    let p = plan(&[("t", 0, &[3, 2]), ("t", 1, &[1, 3])]);
    let before = plan(&[("t", 0, &[1, 2]), ("t", 1, &[1, 2])]);
    let ok = prepare(
        &cluster_of(&sim),
        &p,
        Some(&before),
        &PrepareSettings::default(),
    )
    .unwrap();
    assert_eq!(ok.moving, vec![tp("t", 0)]);
    assert_eq!(ok.rollback, before);
    let report = run(
        &sim,
        &ok,
        &ApplySettings::default(),
        &mut MemoryStore::new(),
    )
    .0
    .unwrap();
    assert_eq!(report.outcome, Outcome::Completed);
    assert_eq!(
        submissions(&sim).get(&tp("t", 0)),
        None,
        "the move in flight is adopted"
    );
}

#[test]
fn invalid_plans_are_refused_as_check_refuses_them() {
    let sim = SimCluster::builder()
        .brokers(4, 2)
        .topic("t", &[(&[1, 2], MB), (&[1, 2], MB)])
        .topic("w", &[(&[4, 1], MB)])
        .dead(4)
        .build()
        .unwrap();
    let p = plan(&[("t", 0, &[1, 4]), ("t", 1, &[1, 2, 3]), ("gone", 0, &[1])]);
    let e = prepare(&cluster_of(&sim), &p, None, &PrepareSettings::default()).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("gone-0: unknown topic gone"), "{text}");
    assert!(text.contains("t-0: target broker 4 is not alive"), "{text}");
    assert!(
        text.contains("t-1: changes the replication factor 2 -> 3"),
        "{text}"
    );
    assert!(e.problems.iter().all(|(k, _)| *k == RefusalKind::Invalid));
}

#[test]
fn rack_shortfalls_warn_or_refuse_when_strict() {
    let sim = SimCluster::builder()
        .brokers(4, 2)
        .topic("t", &[(&[1, 2], MB)])
        .build()
        .unwrap();
    // Brokers 1 and 3 share rack-a.
    let p = plan(&[("t", 0, &[1, 3])]);
    let ok = prepare(&cluster_of(&sim), &p, None, &PrepareSettings::default()).unwrap();
    assert_eq!(ok.warnings.len(), 1);
    assert!(ok.warnings[0].message.contains("spans 1 of the 2 racks"));
    let strict = PrepareSettings {
        strict: true,
        ..PrepareSettings::default()
    };
    assert!(prepare(&cluster_of(&sim), &p, None, &strict).is_err());
}

#[test]
fn the_digest_ignores_order_and_names_the_plan() {
    let a = plan(&[("t", 0, &[1, 2]), ("t", 1, &[2, 3])]);
    let b = plan(&[("t", 1, &[2, 3]), ("t", 0, &[1, 2])]);
    let c = plan(&[("t", 0, &[2, 1]), ("t", 1, &[2, 3])]);
    assert_eq!(plan_digest(&a), plan_digest(&b));
    assert_ne!(plan_digest(&a), plan_digest(&c));
    assert!(plan_digest(&a).starts_with("fnv1a64:") && plan_digest(&a).len() == 24);
    let j = Journal::new(plan_digest(&a));
    assert_eq!(Journal::from_json(&j.to_json()).unwrap(), j);
}

// --- throttle set / clear, status ----------------------------------------

#[test]
fn throttle_clear_restores_only_ours_and_clear_all_removes_everything() {
    let sim = SimCluster::builder()
        .brokers(3, 0)
        .topic("t", &[(&[1], 500 * MB)])
        .broker_config(1, super::throttle::LEADER_RATE, "12345")
        .build()
        .unwrap();
    let before = throttle_configs(&sim);
    let p = plan(&[("t", 0, &[2])]);
    let prep = prepared(&sim, &p);
    let mut store = MemoryStore::new();
    let s = ApplySettings {
        no_wait: true,
        ..settings(Mode::default(), Some(MB))
    };
    run(&sim, &prep, &s, &mut store).0.unwrap();
    assert_ne!(throttle_configs(&sim), before);
    let out = block_on(super::apply::restore_throttles(
        &mut sim.admin(),
        &mut store,
    ))
    .unwrap();
    assert!(out.restored && !out.ops.is_empty());
    assert_eq!(throttle_configs(&sim), before);
    assert!(store.journal.as_ref().unwrap().throttle.undo.is_empty());

    let ops = block_on(super::apply::clear_all_throttles(
        &mut sim.admin(),
        &mut store,
    ))
    .unwrap();
    assert_eq!(ops.len(), 1, "{ops:?}");
    assert_eq!(throttle_configs(&sim), BTreeMap::new());
}

// regression: `throttle clear --all` emptied the whole record, though it
// deletes keys on alive brokers only, and saved it before the deletes: a
// down broker's throttle was then no journal's, and a failed delete left
// every throttle in force with no record of it.
#[test]
fn clear_all_keeps_a_down_brokers_record_and_saves_only_after_the_deletes() {
    let sim = SimCluster::builder()
        .brokers(3, 0)
        .topic("t", &[(&[1], 500 * MB)])
        .broker_config(2, super::throttle::FOLLOWER_RATE, "777")
        .build()
        .unwrap();
    let before = throttle_configs(&sim);
    let p = plan(&[("t", 0, &[2])]);
    let prep = prepared(&sim, &p);
    let mut store = MemoryStore::new();
    let s = ApplySettings {
        no_wait: true,
        ..settings(Mode::default(), Some(MB))
    };
    run(&sim, &prep, &s, &mut store).0.unwrap();
    let recorded = store.journal.clone().unwrap().throttle.undo;

    sim.fail_next_call_of("IncrementalAlterConfigs");
    block_on(super::apply::clear_all_throttles(
        &mut sim.admin(),
        &mut store,
    ))
    .unwrap_err();
    assert_eq!(store.journal.as_ref().unwrap().throttle.undo, recorded);

    sim.stop_broker(2).unwrap();
    block_on(super::apply::clear_all_throttles(
        &mut sim.admin(),
        &mut store,
    ))
    .unwrap();
    let kept = &store.journal.as_ref().unwrap().throttle.undo;
    assert!(!kept.is_empty());
    assert!(kept.iter().all(|u| matches!(
        u,
        super::journal::UndoEntry::Value {
            resource: super::journal::JournalResource::Broker(2),
            ..
        }
    )));
    sim.start_broker(2).unwrap();
    let out = block_on(super::apply::restore_throttles(
        &mut sim.admin(),
        &mut store,
    ))
    .unwrap();
    assert!(out.restored);
    // Broker 1 and the topic were cleared; broker 2 has the operator's
    // value back.
    assert_eq!(throttle_configs(&sim), before);
}

#[test]
fn throttle_set_without_a_journal_needs_brokers_and_apply_adopts_its_journal() {
    let sim = SimCluster::builder()
        .brokers(2, 0)
        .topic("t", &[(&[1], 10 * MB)])
        .build()
        .unwrap();
    let rates = Rates {
        replication: Some(4 * MB),
        log_dirs: None,
    };
    let mut store = MemoryStore::new();
    let e = block_on(change_rate(&mut sim.admin(), &mut store, rates, None)).unwrap_err();
    assert!(matches!(e, ExecError::NoJournal(_)), "{e}");
    let c = block_on(change_rate(
        &mut sim.admin(),
        &mut store,
        rates,
        Some(&[1, 2]),
    ))
    .unwrap();
    assert_eq!(c.brokers, vec![1, 2]);
    assert_eq!(c.ops.len(), 4);
    assert_eq!(
        throttle_configs(&sim).get(&(
            "broker 2".to_string(),
            super::throttle::FOLLOWER_RATE.to_string()
        )),
        Some(&"4000000".to_string())
    );

    let p = plan(&[("t", 0, &[2])]);
    let prep = prepared(&sim, &p);
    let report = run(&sim, &prep, &ApplySettings::default(), &mut store)
        .0
        .unwrap();
    assert_eq!(report.outcome, Outcome::Completed);
    // The journal's rate drove the move (10 MB at 4 MB/s), then went away.
    assert!(sim.now() >= Duration::from_secs(2), "{:?}", sim.now());
    assert_eq!(throttle_configs(&sim), BTreeMap::new());
    assert_eq!(store.journal.unwrap().plan_digest, prep.digest);
}

#[test]
fn status_shows_moves_other_tools_started_and_the_throttles_in_force() {
    let sim = SimCluster::builder()
        .brokers(3, 0)
        .topic("x", &[(&[1], 500 * MB), (&[2], MB)])
        .moving("x", 0, &[3])
        .broker_config(3, super::throttle::FOLLOWER_RATE, "5000000")
        .topic_config("x", super::throttle::FOLLOWER_REPLICAS, "0:3")
        .build()
        .unwrap();
    sim.advance(Duration::from_secs(1));
    let s = block_on(super::verify::status(&mut sim.admin())).unwrap();
    assert_eq!(s.moves.len(), 1);
    let m = &s.moves[0];
    assert_eq!((m.topic.as_str(), m.partition), ("x", 0));
    assert_eq!(
        (m.adding.clone(), m.removing.clone(), m.target.clone()),
        (vec![3], vec![1], vec![3])
    );
    assert!(m.bytes_copied > 0 && m.bytes_copied < m.bytes_total && m.bytes_total == 500 * MB);
    let keys: Vec<(&str, &str, &str)> = s
        .throttles
        .iter()
        .map(|t| (t.resource_type, t.key.as_str(), t.value.as_str()))
        .collect();
    assert_eq!(
        keys,
        vec![
            ("broker", super::throttle::FOLLOWER_RATE, "5000000"),
            ("topic", super::throttle::FOLLOWER_REPLICAS, "0:3"),
        ]
    );
}

// --- Kafka's own checklist, and the time against the bound ---------------

// regression: cancel of a pure replication-factor increase
#[test]
fn cancel_of_a_pure_replication_factor_increase_drops_the_new_replica() {
    let sim = SimCluster::builder()
        .brokers(3, 0)
        .topic("t", &[(&[1], 500 * MB)])
        .build()
        .unwrap();
    let p = plan(&[("t", 0, &[1, 2, 3])]);
    let cluster = cluster_of(&sim);
    let rf = PrepareSettings {
        allow_rf_change: true,
        ..PrepareSettings::default()
    };
    let prep = prepare(&cluster, &p, None, &rf).unwrap();
    let s = ApplySettings {
        no_wait: true,
        ..settings(Mode::default(), Some(10 * MB))
    };
    let mut store = MemoryStore::new();
    run(&sim, &prep, &s, &mut store).0.unwrap();
    sim.advance(Duration::from_secs(3));
    let c = block_on(cancel(
        &mut sim.admin(),
        &mut sim.clock(),
        CancelScope::Plan(&p),
        &mut store,
        &CancelSettings::default(),
    ))
    .unwrap();
    assert_eq!(c.cancelled.len(), 1);
    assert_eq!(c.cancelled[0].replicas, vec![1]);
    assert_eq!(assignment(&sim, "t"), vec![vec![1]]);
    assert_eq!(throttle_configs(&sim), BTreeMap::new());
}

#[test]
fn a_move_finishes_while_producers_write_below_the_throttle() {
    let sim = SimCluster::builder()
        .brokers(2, 0)
        .topic("t", &[(&[1], 20 * MB)])
        .build()
        .unwrap();
    let p = plan(&[("t", 0, &[2])]);
    let prep = prepared(&sim, &p);
    let stop = AtomicBool::new(false);
    let report = block_on(apply(
        &mut sim.admin(),
        &mut sim.clock(),
        &prep,
        &settings(Mode::default(), Some(10 * MB)),
        &mut MemoryStore::new(),
        &mut |e| {
            // 1 MB more every poll (every second).
            if matches!(e, Event::Progress(_)) {
                sim.append(&tp("t", 0), MB).unwrap();
            }
        },
        &stop,
    ))
    .unwrap();
    assert_eq!(report.outcome, Outcome::Completed);
    assert!(at_targets(&sim, &p));
    let size = sim.replica_bytes(&tp("t", 0), 2).unwrap();
    assert!(
        size > 20 * MB,
        "the new replica holds what was written during the move: {size}"
    );
}

/// Six brokers, the old three holding 1.2 GB, rebalanced onto all six at
/// 20 MB/s: bounded concurrency (the default K) stays within 10 % of the
/// physical bound and within 5 % of submitting everything at once, poll
/// delays included.
#[test]
fn bounded_batches_finish_near_the_bound_and_no_slower_than_all_at_once() {
    let build = || {
        let homes: [&[BrokerId]; 3] = [&[1, 2], &[2, 3], &[3, 1]];
        let parts: Vec<(&[BrokerId], u64)> = (0..30)
            .map(|i| (homes[i % 3], ((i as u64 * 7) % 11 + 3) * 5 * MB))
            .collect();
        SimCluster::builder()
            .brokers(6, 0)
            .topic("t", &parts)
            .build()
            .unwrap()
    };
    let homes: [[BrokerId; 2]; 3] = [[1, 2], [2, 3], [3, 1]];
    let targets: Vec<Vec<BrokerId>> = (0..30)
        .map(|i| {
            let h = homes[i % 3];
            let new = 4 + (i as BrokerId / 3) % 3;
            if i % 2 == 0 {
                vec![h[0], new]
            } else {
                vec![new, h[1]]
            }
        })
        .collect();
    let moves: Vec<(&str, i32, &[BrokerId])> = targets
        .iter()
        .enumerate()
        .map(|(i, t)| ("t", i as i32, t.as_slice()))
        .collect();
    let p = plan(&moves);
    let rate = 20 * MB;
    let time = |mode: Mode| {
        let sim = build();
        let prep = prepared(&sim, &p);
        let report = run(
            &sim,
            &prep,
            &settings(mode, Some(rate)),
            &mut MemoryStore::new(),
        )
        .0
        .unwrap();
        assert_eq!(report.outcome, Outcome::Completed);
        (sim.now().as_secs_f64(), report.bound_seconds.unwrap())
    };
    let (bounded, bound) = time(Mode::default());
    let (all, _) = time(Mode::AllAtOnce);
    assert!(bound > 20.0, "a bound of {bound} s");
    assert!(
        bounded <= 1.10 * bound,
        "bounded {bounded} s against a bound of {bound} s"
    );
    assert!(
        bounded <= 1.05 * all,
        "bounded {bounded} s, all at once {all} s"
    );
}

// --- random plans ----------------------------------------------------------

/// A small deterministic generator, so a proptest seed is a whole case.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n.max(1)
    }

    fn pick(&mut self, from: &[BrokerId], k: usize) -> Vec<BrokerId> {
        let mut pool = from.to_vec();
        let mut out = Vec::new();
        while out.len() < k && !pool.is_empty() {
            out.push(pool.swap_remove(self.below(pool.len() as u64) as usize));
        }
        out
    }
}

/// A random grown cluster (3-5 old brokers, 0-3 new), a plan of reorders,
/// single-replica swaps and re-placements, maybe an operator's own
/// throttles, a per-broker limit of 1-3 and a rate of 2-20 MB/s.
fn random_case(seed: u64) -> (SimCluster, Reassignment, Mode, u64) {
    let mut r = Rng(seed);
    let old = 3 + r.below(3) as BrokerId;
    let all = old + r.below(4) as BrokerId;
    let old_ids: Vec<BrokerId> = (1..=old).collect();
    let all_ids: Vec<BrokerId> = (1..=all).collect();
    let n = 1 + r.below(12);
    let mut current = Vec::new();
    let mut targets = Vec::new();
    for _ in 0..n {
        let rf = 1 + r.below(3) as usize;
        let c = r.pick(&old_ids, rf);
        let t = match r.below(4) {
            0 => {
                let mut t = c.clone();
                t.rotate_left(1);
                t
            }
            1 => r.pick(&all_ids, rf),
            _ => {
                let mut t = c.clone();
                let free: Vec<BrokerId> =
                    all_ids.iter().copied().filter(|b| !c.contains(b)).collect();
                if !free.is_empty() {
                    let i = r.below(t.len() as u64) as usize;
                    t[i] = free[r.below(free.len() as u64) as usize];
                }
                t
            }
        };
        current.push((c, r.below(20) * MB));
        targets.push(t);
    }
    let parts: Vec<(&[BrokerId], u64)> = current.iter().map(|(c, z)| (c.as_slice(), *z)).collect();
    let mut b = SimCluster::builder()
        .brokers(all as usize, 0)
        .topic("t", &parts);
    if r.below(2) == 0 {
        b = b.broker_config(1, super::throttle::LEADER_RATE, "777");
    }
    if r.below(2) == 0 {
        b = b.topic_config("t", super::throttle::LEADER_REPLICAS, "99:1");
    }
    let sim = b.build().unwrap();
    let moves: Vec<(&str, i32, &[BrokerId])> = targets
        .iter()
        .enumerate()
        .map(|(i, t)| ("t", i as i32, t.as_slice()))
        .collect();
    let k = 1 + r.below(3) as usize;
    let rate = (2 + r.below(19)) * MB;
    (sim, plan(&moves), bounded(k), rate)
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// Every random plan completes; at every event no broker has more than
    /// K moves copying into it or out of it; nothing is submitted twice;
    /// every throttle value is what it was before.
    #[test]
    fn random_plans_complete_within_limits_and_restore_throttles(seed in proptest::prelude::any::<u64>()) {
        let (sim, p, mode, rate) = random_case(seed);
        let Mode::Bounded(limits) = mode else { unreachable!() };
        let before = throttle_configs(&sim);
        let rf = PrepareSettings { allow_rf_change: true, ..PrepareSettings::default() };
        let prep = prepare(&cluster_of(&sim), &p, None, &rf).unwrap();
        let stop = AtomicBool::new(false);
        let mut worst = 0;
        let report = block_on(apply(
            &mut sim.admin(),
            &mut sim.clock(),
            &prep,
            &settings(mode, Some(rate)),
            &mut MemoryStore::new(),
            &mut |_| worst = worst.max(loads(&sim).1.values().copied().max().unwrap_or(0)),
            &stop,
        ))
        .unwrap();
        proptest::prop_assert_eq!(report.outcome, Outcome::Completed);
        proptest::prop_assert!(worst <= limits.max_per_broker, "{} > {}", worst, limits.max_per_broker);
        proptest::prop_assert!(at_targets(&sim, &p));
        proptest::prop_assert!(submissions(&sim).values().all(|&n| n == 1));
        proptest::prop_assert_eq!(throttle_configs(&sim), before);
    }
}

#[test]
fn a_stop_after_the_last_move_finished_still_finishes() {
    let sim = grown(1);
    let p = onto_new(1);
    let prep = prepared(&sim, &p);
    let stop = AtomicBool::new(false);
    let report = block_on(apply(
        &mut sim.admin(),
        &mut sim.clock(),
        &prep,
        &settings(Mode::default(), Some(10 * MB)),
        &mut MemoryStore::new(),
        &mut |e| {
            if matches!(e, Event::PartitionDone { .. }) {
                stop.store(true, Ordering::SeqCst);
            }
        },
        &stop,
    ))
    .unwrap();
    assert_eq!(report.outcome, Outcome::Completed);
    assert!(report.throttles.restored);
    assert_eq!(throttle_configs(&sim), BTreeMap::new());
}

#[test]
fn rollback_of_a_replication_factor_increase_restores_the_factor() {
    let sim = SimCluster::builder()
        .brokers(3, 0)
        .topic("t", &[(&[1], 2 * MB)])
        .build()
        .unwrap();
    let p = plan(&[("t", 0, &[1, 2])]);
    let rf = PrepareSettings {
        allow_rf_change: true,
        ..PrepareSettings::default()
    };
    let prep = prepare(&cluster_of(&sim), &p, None, &rf).unwrap();
    let mut store = MemoryStore::new();
    let done = run(&sim, &prep, &ApplySettings::default(), &mut store)
        .0
        .unwrap();
    assert_eq!(done.outcome, Outcome::Completed);
    let stop = AtomicBool::new(false);
    let r = block_on(rollback(
        &mut sim.admin(),
        &mut sim.clock(),
        &prep.rollback,
        &PrepareSettings::default(),
        &ApplySettings::default(),
        &CancelSettings::default(),
        &mut store,
        &mut MemoryStore::new(),
        &mut |_| {},
        &stop,
    ))
    .unwrap();
    assert!(r.cancel.cancelled.is_empty());
    assert_eq!(r.apply.outcome, Outcome::Completed);
    assert_eq!(assignment(&sim, "t"), vec![vec![1]]);
}

// regression: `verify` of a plan another run overrode (KIP-455) left that
// plan's throttles in force for good once nothing of it moved any more.
#[test]
fn verify_of_an_overridden_plan_waits_for_the_override_then_restores() {
    let sim = SimCluster::builder()
        .brokers(4, 0)
        .topic("o", &[(&[1, 2], 8 * MB), (&[2, 3], 8 * MB)])
        .build()
        .unwrap();
    let plan_a = plan(&[("o", 0, &[1, 3]), ("o", 1, &[2, 4])]);
    let plan_b = plan(&[("o", 0, &[1, 4])]);
    let no_wait = |rate| ApplySettings {
        no_wait: true,
        ..settings(Mode::AllAtOnce, Some(rate))
    };
    let mut store_a = MemoryStore::new();
    let a = run(&sim, &prepared(&sim, &plan_a), &no_wait(MB), &mut store_a);
    assert_eq!(a.0.unwrap().outcome, Outcome::Submitted);
    sim.advance(Duration::from_secs(1));
    let a_throttles = throttle_configs(&sim);
    let additional = PrepareSettings {
        additional: true,
        ..PrepareSettings::default()
    };
    let prep_b = prepare(&cluster_of(&sim), &plan_b, None, &additional).unwrap();
    assert_eq!(prep_b.replacing, vec![tp("o", 0)]);
    let mut store_b = MemoryStore::new();
    let b = run(&sim, &prep_b, &no_wait(50 * MB), &mut store_b);
    assert_eq!(b.0.unwrap().outcome, Outcome::Submitted);
    // A's partition 0 now moves to B's target: A's entries may be what
    // throttles it, so A's verify leaves them.
    let v = verified(&sim, &plan_a, &mut store_a);
    assert_eq!(v.verdict, Verdict::Failed);
    assert!(
        matches!(&v.partitions[0].status, PartitionStatus::Diverged { moving_to: Some(t), .. } if *t == vec![1, 4]),
        "{:?}",
        v.partitions[0]
    );
    assert!(v.throttles.is_none());

    // B finishes and puts back exactly A's throttles.
    let b = run(
        &sim,
        &prep_b,
        &settings(Mode::AllAtOnce, Some(50 * MB)),
        &mut store_b,
    );
    assert_eq!(b.0.unwrap().outcome, Outcome::Completed);
    assert_eq!(assignment(&sim, "o")[0], vec![1, 4]);
    assert_eq!(throttle_configs(&sim), a_throttles);

    // Once A's own move is done too, nothing of A moves: diverged, and
    // A's throttles restored; the journal stays open (never resubmitted).
    sim.advance(Duration::from_secs(60));
    let v = verified(&sim, &plan_a, &mut store_a);
    assert_eq!(v.verdict, Verdict::Failed);
    assert_eq!((v.done, v.diverged), (1, 1));
    assert!(v.throttles.unwrap().restored);
    assert_eq!(throttle_configs(&sim), BTreeMap::new());
    let j = store_a.journal.as_ref().unwrap();
    assert_eq!(j.state, JournalState::Running);
    assert!(j.throttle.undo().is_empty());
    let again = run(
        &sim,
        &prepared(&sim, &plan_a),
        &settings(Mode::AllAtOnce, Some(MB)),
        &mut store_a,
    );
    let again = again.0.unwrap();
    assert_eq!((again.outcome, again.submitted), (Outcome::Incomplete, 0));
    assert_eq!(throttle_configs(&sim), BTreeMap::new());
}

// Moves between the log dirs of a broker (AlterReplicaLogDirs).

fn plan_with_dirs(moves: &[(&str, i32, &[BrokerId], &[&str])]) -> Reassignment {
    Reassignment::new(
        "plan",
        moves
            .iter()
            .map(|(t, p, r, dirs)| {
                let mut m = Move::new(tp(t, *p), r.to_vec());
                m.log_dirs = dirs.iter().map(|d| d.to_string()).collect();
                m
            })
            .collect(),
    )
    .unwrap()
}

/// Three brokers with two log dirs each; `t-0` (40 MB) on brokers 1 and 2,
/// in dir d0 of each (partition 0 starts in dir 0).
fn two_disks() -> SimCluster {
    SimCluster::builder()
        .brokers(3, 0)
        .log_dirs(2)
        .topic("t", &[(&[1, 2], 40 * MB)])
        .build()
        .unwrap()
}

fn prepared_with_dirs(sim: &SimCluster, plan: &Reassignment) -> Prepared {
    let mut admin = sim.admin();
    let cluster = block_on(admin.cluster()).unwrap();
    let dirs = block_on(admin.describe_log_dirs(&[1, 2, 3])).unwrap();
    prepare_with_log_dirs(&cluster, &dirs, plan, None, &PrepareSettings::default()).unwrap()
}

fn dir_settings(log_dirs: Option<u64>) -> ApplySettings {
    ApplySettings {
        rates: Rates {
            replication: None,
            log_dirs,
        },
        ..ApplySettings::default()
    }
}

#[test]
fn a_disk_move_runs_under_the_log_dirs_throttle() {
    let sim = two_disks();
    let t0 = tp("t", 0);
    assert_eq!(
        sim.replica_dir(&t0, 1),
        Some(("/sim/broker-1/d0".into(), None))
    );
    let p = plan_with_dirs(&[("t", 0, &[1, 2], &["/sim/broker-1/d1", "any"])]);
    let prep = prepared_with_dirs(&sim, &p);
    // The replica set is in place, the disk is not: not "already done".
    assert!(prep.done.is_empty(), "{:?}", prep.done);
    let mut store = MemoryStore::new();
    let mut seen_moving = Vec::new();
    let mut rate_in_force = false;
    let stop = AtomicBool::new(false);
    let report = block_on(apply(
        &mut sim.admin(),
        &mut sim.clock(),
        &prep,
        &dir_settings(Some(10 * MB)),
        &mut store,
        &mut |e| {
            if let Event::Progress(p) = e {
                assert_eq!(p.bytes_total, 40 * MB, "{p:?}");
                if let Some((_, Some(future))) = sim.replica_dir(&tp("t", 0), 1) {
                    assert_eq!(future, "/sim/broker-1/d1");
                    seen_moving.push(p.bytes_copied);
                }
                rate_in_force |= throttle_configs(&sim)
                    .get(&(
                        "broker 1".to_string(),
                        super::throttle::LOG_DIRS_RATE.to_string(),
                    ))
                    .is_some_and(|v| *v == (10 * MB).to_string());
            }
        },
        &stop,
    ))
    .unwrap();
    assert_eq!(report.outcome, Outcome::Completed, "{report:?}");
    assert_eq!(report.done, vec![t0.clone()]);
    assert_eq!(report.bytes_copied, 40 * MB);
    assert_eq!(
        sim.replica_dir(&t0, 1),
        Some(("/sim/broker-1/d1".into(), None))
    );
    assert_eq!(
        sim.replica_dir(&t0, 2),
        Some(("/sim/broker-2/d0".into(), None))
    );
    // 40 MB at 10 MB/s: about four seconds, never faster than the throttle.
    let secs = report.elapsed_ms as f64 / 1000.0;
    assert!((3.6..6.0).contains(&secs), "{secs} s");
    assert!(rate_in_force, "the log-dirs rate was set on broker 1");
    assert!(
        seen_moving.len() >= 3 && seen_moving.windows(2).all(|w| w[0] <= w[1]),
        "{seen_moving:?}"
    );
    assert!(seen_moving.iter().any(|&c| c > 0 && c < 40 * MB));
    // Only a disk move: no reassignment was sent, and the throttle is gone.
    assert!(sim.alter_requests().is_empty());
    assert_eq!(throttle_configs(&sim), BTreeMap::new());
}

#[test]
fn a_new_replica_is_placed_in_its_named_dir() {
    let sim = two_disks();
    let t0 = tp("t", 0);
    // Broker 3 would put partition 0 in d0; the plan names d1.
    let p = plan_with_dirs(&[("t", 0, &[1, 3], &["any", "/sim/broker-3/d1"])]);
    let prep = prepared_with_dirs(&sim, &p);
    let mut store = MemoryStore::new();
    let (report, events) = run(
        &sim,
        &prep,
        &settings(Mode::default(), Some(20 * MB)),
        &mut store,
    );
    let report = report.unwrap();
    assert_eq!(report.outcome, Outcome::Completed, "{report:?}");
    assert_eq!(
        sim.replica_dir(&t0, 3),
        Some(("/sim/broker-3/d1".into(), None))
    );
    // Asked before the reassignment (the broker remembers the dir and
    // answers REPLICA_NOT_AVAILABLE), then again until accepted.
    let dirs = sim.dir_requests();
    let alters = sim.alter_requests();
    assert_eq!(alters.len(), 1);
    assert!(dirs.len() >= 2, "{dirs:?}");
    assert!(dirs[0].at <= alters[0].at);
    let accepted: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Submitted { log_dirs, .. } => Some(log_dirs.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(accepted.len(), 1, "{events:?}");
    assert_eq!(accepted[0].broker, 3);
    // Created in its dir: nothing copied between disks, only the 40 MB
    // into broker 3.
    assert_eq!(report.bytes_total, 40 * MB);
}

#[test]
fn verify_shows_a_disk_move_diverged_until_started_then_in_progress_until_it_lands() {
    let sim = two_disks();
    let p = plan_with_dirs(&[("t", 0, &[1, 2], &["any", "/sim/broker-2/d1"])]);
    let mut store = MemoryStore::new();
    let verdict = |store: &mut MemoryStore| {
        block_on(verify(
            &mut sim.admin(),
            &p,
            store,
            &VerifySettings::default(),
        ))
        .unwrap()
    };
    // Not started: the replica is in the wrong dir and nothing moves it,
    // so waiting would never end (Kafka: "is not being moved").
    let v = verdict(&mut store);
    assert_eq!(v.verdict, Verdict::Failed);
    assert_eq!(
        v.partitions[0].status,
        PartitionStatus::Diverged {
            replicas: vec![1, 2],
            moving_to: None
        }
    );
    assert!(matches!(
        &v.partitions[0].log_dirs[0].state,
        super::disks::DirState::Elsewhere { current, .. } if current == "/sim/broker-2/d0"
    ));
    let prep = prepared_with_dirs(&sim, &p);
    let no_wait = ApplySettings {
        no_wait: true,
        ..dir_settings(Some(10 * MB))
    };
    let (report, _) = run(&sim, &prep, &no_wait, &mut store);
    assert_eq!(report.unwrap().outcome, Outcome::Submitted);
    sim.advance(Duration::from_secs(2));
    let v = verdict(&mut store);
    assert_eq!(v.verdict, Verdict::InProgress);
    match &v.partitions[0].status {
        PartitionStatus::InProgress {
            bytes_copied,
            bytes_total,
        } => {
            assert_eq!(*bytes_total, 40 * MB);
            assert!(*bytes_copied > 0 && *bytes_copied < 40 * MB, "{v:?}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        &v.partitions[0].log_dirs[0].state,
        super::disks::DirState::Moving { future, .. } if future == "/sim/broker-2/d1"
    ));
    let status = block_on(super::verify::status(&mut sim.admin())).unwrap();
    assert_eq!(status.log_dir_moves.len(), 1, "{status:?}");
    assert_eq!(status.log_dir_moves[0].future_log_dir, "/sim/broker-2/d1");
    sim.advance(Duration::from_secs(5));
    let v = verdict(&mut store);
    assert_eq!(v.verdict, Verdict::AllDone, "{v:?}");
    assert_eq!(v.partitions[0].status, PartitionStatus::Done);
    // Done restores the log-dirs rate this run set.
    assert_eq!(throttle_configs(&sim), BTreeMap::new());
    let status = block_on(super::verify::status(&mut sim.admin())).unwrap();
    assert!(status.log_dir_moves.is_empty());
}

#[test]
fn a_log_dir_the_broker_lacks_is_refused_before_anything_is_sent() {
    let sim = two_disks();
    let p = plan_with_dirs(&[("t", 0, &[1, 3], &["/data/nope", "/sim/broker-3/d1"])]);
    let mut admin = sim.admin();
    let cluster = block_on(admin.cluster()).unwrap();
    let dirs = block_on(admin.describe_log_dirs(&[1, 3])).unwrap();
    let e =
        prepare_with_log_dirs(&cluster, &dirs, &p, None, &PrepareSettings::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "t-0: broker 1 has no log dir /data/nope (its log dirs: /sim/broker-1/d0, /sim/broker-1/d1)"
    );
    assert!(e.has(RefusalKind::Invalid));
    assert!(sim.dir_requests().is_empty() && sim.alter_requests().is_empty());
}

#[test]
fn cancel_stops_the_plans_disk_moves() {
    let sim = two_disks();
    let t0 = tp("t", 0);
    let p = plan_with_dirs(&[("t", 0, &[1, 2], &["/sim/broker-1/d1", "any"])]);
    let prep = prepared_with_dirs(&sim, &p);
    let mut store = MemoryStore::new();
    let no_wait = ApplySettings {
        no_wait: true,
        ..dir_settings(Some(10 * MB))
    };
    let (report, _) = run(&sim, &prep, &no_wait, &mut store);
    assert_eq!(report.unwrap().outcome, Outcome::Submitted);
    sim.advance(Duration::from_secs(1));
    assert_eq!(
        sim.replica_dir(&t0, 1),
        Some(("/sim/broker-1/d0".into(), Some("/sim/broker-1/d1".into())))
    );
    let r = block_on(cancel(
        &mut sim.admin(),
        &mut sim.clock(),
        CancelScope::Plan(&p),
        &mut store,
        &CancelSettings::default(),
    ))
    .unwrap();
    assert_eq!(r.log_dirs_stopped.len(), 1, "{r:?}");
    assert_eq!(r.log_dirs_stopped[0].log_dir, "/sim/broker-1/d0");
    assert_eq!(
        sim.replica_dir(&t0, 1),
        Some(("/sim/broker-1/d0".into(), None))
    );
    // The log-dirs rate this run set is gone with the cancel.
    assert_eq!(throttle_configs(&sim), BTreeMap::new());
    sim.advance(Duration::from_secs(10));
    assert_eq!(
        sim.replica_dir(&t0, 1),
        Some(("/sim/broker-1/d0".into(), None))
    );
}
