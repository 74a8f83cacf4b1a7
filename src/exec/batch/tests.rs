use proptest::prelude::*;

use super::*;
use crate::exec::testgen::{self, job, tp};

fn tps(jobs: &[Job]) -> Vec<i32> {
    jobs.iter().map(|j| j.tp.partition).collect()
}

fn bounded(max_in_flight: usize, max_per_broker: usize) -> Mode {
    Mode::Bounded(Limits {
        max_in_flight,
        max_per_broker,
    })
}

#[test]
fn job_copies_from_the_leader_to_the_new_replicas() {
    let j = Job::new(tp(0), &[1, 2, 3], Some(2), vec![5, 2, 4], 10);
    assert_eq!(j.source, 2);
    assert_eq!(j.adding, vec![4, 5]);
    assert_eq!(j.bytes_to_copy(), 20);
    assert_eq!(
        j.slots().collect::<Vec<_>>(),
        vec![(2, Direction::Out), (4, Direction::In), (5, Direction::In)]
    );
    let leaderless = Job::new(tp(0), &[3, 1], None, vec![3, 7], 1);
    assert_eq!(leaderless.source, 3);
    let reorder = job(1, &[1, 2, 3], &[3, 1, 2], 100);
    assert!(reorder.copies_nothing());
    assert_eq!(reorder.slots().count(), 0, "a reorder holds no slot");
    let shrink = job(2, &[1, 2, 3], &[1, 2], 100);
    assert!(shrink.copies_nothing(), "an RF decrease copies nothing");
}

#[test]
fn reorders_come_first_and_at_once_whatever_the_limits() {
    let jobs = vec![
        job(0, &[1, 2], &[1, 3], 100),
        job(1, &[1, 2], &[2, 1], 5),
        job(2, &[1, 2], &[1, 4], 50),
        job(3, &[3, 4], &[4, 3], 5),
        job(4, &[5, 6], &[6, 5], 0),
    ];
    let mut s = Scheduler::new(jobs, bounded(1, 1));
    let first = s.next_batch(&BTreeSet::new());
    // The three reorders, then the one copying move the limits allow: the
    // largest (100 bytes to broker 3).
    assert_eq!(tps(&first), vec![1, 3, 4, 0]);
    // Later batches never hold a reorder, and a running move blocks.
    let running: BTreeSet<_> = [tp(0)].into_iter().collect();
    assert!(s.next_batch(&running).is_empty());
    assert_eq!(tps(&s.next_batch(&BTreeSet::new())), vec![2]);
    assert!(s.is_done());
    assert!(s.next_batch(&BTreeSet::new()).is_empty());
}

#[test]
fn per_broker_limit_caps_moves_out_of_a_broker() {
    // Broker 1 is the source of all four moves; with K = 2 only two run,
    // the largest first.
    let jobs = vec![
        job(0, &[1], &[2], 10),
        job(1, &[1], &[3], 40),
        job(2, &[1], &[4], 30),
        job(3, &[1], &[5], 20),
    ];
    let mut s = Scheduler::new(jobs, bounded(100, 2));
    let b1 = s.next_batch(&BTreeSet::new());
    assert_eq!(tps(&b1), vec![1, 2]);
    // One of them finishes: exactly one more starts.
    let running: BTreeSet<_> = [tp(2)].into_iter().collect();
    assert_eq!(tps(&s.next_batch(&running)), vec![3]);
}

#[test]
fn in_and_out_are_counted_apart() {
    // With K = 2, broker 1 sends two moves and receives two at once; a
    // third move into it waits.
    let jobs = vec![
        job(0, &[1], &[2], 50),
        job(1, &[1], &[3], 50),
        job(2, &[4], &[1], 40),
        job(3, &[5], &[1], 40),
        job(4, &[6], &[1], 30),
    ];
    let mut s = Scheduler::new(jobs, bounded(100, 2));
    assert_eq!(tps(&s.next_batch(&BTreeSet::new())), vec![2, 3, 0, 1]);
}

#[test]
fn a_blocked_job_is_skipped_not_waited_for() {
    // Broker 1's link is the busiest (it receives 300), so its jobs lead.
    // With K = 1, job 0 (4 -> 1) runs; job 1 (5 -> 1) must wait for broker
    // 1, but job 2 (5 -> 6) uses other brokers and starts now.
    let jobs = vec![
        job(0, &[4], &[1], 200),
        job(1, &[5], &[1], 100),
        job(2, &[5], &[6], 10),
    ];
    let mut s = Scheduler::new(jobs, bounded(10, 1));
    assert_eq!(tps(&s.next_batch(&BTreeSet::new())), vec![0, 2]);
}

#[test]
fn busiest_link_first_then_largest() {
    // Broker 9 receives 3 x 10 = 30 bytes, more than any other link, so
    // its small moves go before a larger move elsewhere.
    let jobs = vec![
        job(0, &[1], &[2], 25),
        job(1, &[3], &[9], 10),
        job(2, &[4], &[9], 10),
        job(3, &[5], &[9], 10),
    ];
    let s = Scheduler::new(jobs, Mode::default());
    assert_eq!(tps(s.jobs()), vec![1, 2, 3, 0]);
}

#[test]
fn global_limit_caps_moves_in_flight() {
    let jobs: Vec<Job> = (0..10).map(|p| job(p, &[p], &[p + 100], 1)).collect();
    let mut s = Scheduler::new(jobs, bounded(3, 4));
    assert_eq!(s.next_batch(&BTreeSet::new()).len(), 3);
}

#[test]
fn moves_already_running_are_adopted_and_counted() {
    // A re-run after a crash: partition 0 is already moving (submitted by
    // the first run). It is not submitted again, and it holds broker 1.
    let jobs = vec![job(0, &[1], &[2], 100), job(1, &[1], &[3], 50)];
    let mut s = Scheduler::new(jobs, bounded(10, 1));
    let running: BTreeSet<_> = [tp(0)].into_iter().collect();
    assert!(s.next_batch(&running).is_empty());
    assert_eq!(s.pending(), 1);
    assert_eq!(tps(&s.next_batch(&BTreeSet::new())), vec![1]);
}

#[test]
fn all_at_once_submits_everything_first() {
    let jobs: Vec<Job> = (0..10).map(|p| job(p, &[1], &[2], 1)).collect();
    let mut s = Scheduler::new(jobs, Mode::AllAtOnce);
    assert_eq!(s.next_batch(&BTreeSet::new()).len(), 10);
    assert!(s.is_done());
}

#[test]
fn zero_limits_are_taken_as_one() {
    let jobs: Vec<Job> = (0..3).map(|p| job(p, &[1], &[2], 1)).collect();
    let mut s = Scheduler::new(jobs, bounded(0, 0));
    assert_eq!(s.next_batch(&BTreeSet::new()).len(), 1);
}

/// Drives a scheduler to the end, finishing the oldest running move at
/// each step, and checks the limits on every batch.
fn drive(jobs: Vec<Job>, mode: Mode) -> Result<Vec<Vec<Job>>, TestCaseError> {
    let limits = match mode {
        Mode::Bounded(l) => l,
        Mode::AllAtOnce => Limits {
            max_in_flight: usize::MAX,
            max_per_broker: usize::MAX,
        },
    };
    let mut s = Scheduler::new(jobs.clone(), mode);
    let mut running: Vec<Job> = Vec::new();
    let mut batches = Vec::new();
    for _ in 0..=jobs.len() + 1 {
        let set: BTreeSet<TopicPartition> = running.iter().map(|j| j.tp.clone()).collect();
        let batch = s.next_batch(&set);
        running.extend(batch.iter().filter(|j| !j.copies_nothing()).cloned());
        prop_assert!(running.len() <= limits.max_in_flight.max(1));
        let mut per: BTreeMap<(BrokerId, Direction), usize> = BTreeMap::new();
        for j in &running {
            for b in j.slots() {
                *per.entry(b).or_default() += 1;
            }
        }
        prop_assert!(
            per.values().all(|&n| n <= limits.max_per_broker.max(1)),
            "{per:?}"
        );
        batches.push(batch);
        if running.is_empty() && s.is_done() {
            return Ok(batches);
        }
        prop_assert!(!running.is_empty(), "nothing runs but jobs are pending");
        running.remove(0);
    }
    Err(TestCaseError::fail("the scheduler did not finish"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn limits_hold_every_job_once_reorders_first(
        jobs in testgen::plans(80),
        n in 1usize..12,
        k in 1usize..6,
        all in any::<bool>(),
    ) {
        let mode = if all { Mode::AllAtOnce } else { bounded(n, k) };
        let batches = drive(jobs.clone(), mode)?;
        let mut seen: Vec<TopicPartition> = batches.iter().flatten().map(|j| j.tp.clone()).collect();
        seen.sort();
        let mut want: Vec<TopicPartition> = jobs.iter().map(|j| j.tp.clone()).collect();
        want.sort();
        prop_assert_eq!(seen, want, "every job exactly once");
        let reorders = jobs.iter().filter(|j| j.copies_nothing()).count();
        let first = &batches[0];
        prop_assert!(first.iter().take(reorders).all(Job::copies_nothing), "reorders lead the first batch");
        prop_assert!(batches[1..].iter().flatten().all(|j| !j.copies_nothing()), "and only the first");
        if all {
            prop_assert_eq!(first.len(), jobs.len());
        }
    }

    #[test]
    fn same_input_same_batches(jobs in testgen::plans(40)) {
        let a = drive(jobs.clone(), Mode::default())?;
        let mut reversed = jobs;
        reversed.reverse();
        let b = drive(reversed, Mode::default())?;
        prop_assert_eq!(a, b, "order of the input does not matter");
    }
}

/// The scheduler's rule written the plain way: scan every pending job in
/// priority order and start each that fits. The real one merges per-source
/// queues instead; both must hand out the same batches.
struct Reference {
    jobs: Vec<Job>,
    started: Vec<bool>,
    limits: Limits,
    first: bool,
}

impl Reference {
    fn next_batch(&mut self, in_flight: &BTreeSet<TopicPartition>) -> Vec<Job> {
        let mut load: BTreeMap<(BrokerId, Direction), usize> = BTreeMap::new();
        let mut running = 0;
        for (i, j) in self.jobs.iter().enumerate() {
            if in_flight.contains(&j.tp) {
                self.started[i] = true;
                running += usize::from(!j.copies_nothing());
                for s in j.slots() {
                    *load.entry(s).or_default() += 1;
                }
            }
        }
        let first = std::mem::replace(&mut self.first, false);
        let mut batch = Vec::new();
        for (i, j) in self.jobs.iter().enumerate() {
            if self.started[i] {
                continue;
            }
            let fits = if j.copies_nothing() {
                first
            } else {
                running < self.limits.max_in_flight
                    && j.slots()
                        .all(|s| load.get(&s).copied().unwrap_or(0) < self.limits.max_per_broker)
            };
            if fits {
                if !j.copies_nothing() {
                    running += 1;
                    for s in j.slots() {
                        *load.entry(s).or_default() += 1;
                    }
                }
                self.started[i] = true;
                batch.push(j.clone());
            }
        }
        batch
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn queues_hand_out_what_a_plain_scan_would(
        jobs in testgen::plans(80),
        n in 1usize..20,
        k in 1usize..5,
        finish in prop::collection::vec(any::<prop::sample::Index>(), 200),
    ) {
        let limits = Limits { max_in_flight: n, max_per_broker: k };
        let mut s = Scheduler::new(jobs, Mode::Bounded(limits));
        let mut r = Reference {
            jobs: s.jobs().to_vec(),
            started: vec![false; s.jobs().len()],
            limits,
            first: true,
        };
        let mut running: Vec<TopicPartition> = Vec::new();
        for pick in finish {
            let set: BTreeSet<TopicPartition> = running.iter().cloned().collect();
            let got = s.next_batch(&set);
            prop_assert_eq!(&got, &r.next_batch(&set));
            running.extend(got.iter().filter(|j| !j.copies_nothing()).map(|j| j.tp.clone()));
            if running.is_empty() {
                break;
            }
            // Finish a random running move, not the oldest.
            running.remove(pick.index(running.len()));
        }
    }
}
