//! How long a plan takes under a throttle: the physical bound, and a
//! simulated run of the [`Scheduler`] for `--dry-run` and benchmarks.
//!
//! # The physical bound
//!
//! Every broker has an inbound and an outbound link, each limited to the
//! throttle rate (the follower and the leader replication rate). A broker
//! receives `bytes` for every replica added on it and sends
//! `bytes x adding` for every move it is the source of. No schedule beats
//! the busiest link: bound = max over brokers of max(in, out) / rate.
//!
//! # The simulation
//!
//! A discrete-event run of the scheduler: each job is one flow per adding
//! broker (source out -> destination in). Flows share links max-min
//! fairly: a link's rate is split equally among its flows, and what a flow
//! cannot use because another link holds it back goes to the link's other
//! flows (progressive filling). This is how a broker's throttle behaves to
//! a first approximation: it caps the sum, and the partitions it serves
//! take turns. A job finishes when its last flow does; the scheduler is
//! then asked for the next batch at that instant (a real driver polls, so
//! it adds up to a poll interval per batch). Start-up, first-byte delay
//! and writes into moving partitions are not modelled.
//!
//! Invariants: the makespan is never below the bound (no link carries
//! more than its rate); pure and deterministic (floating point in a fixed
//! order, no clock).

use std::collections::{BTreeMap, BTreeSet};

use super::batch::{Direction, Job, Link, Mode, Scheduler};
use crate::model::{BrokerId, TopicPartition};

/// The physical bound and the link that sets it.
#[derive(Debug, Clone, PartialEq)]
pub struct Bound {
    pub seconds: f64,
    /// The busiest link (`None` when nothing is copied).
    pub link: Option<Link>,
    pub bytes: u64,
}

/// Bytes in and out per broker for `jobs`.
pub fn link_bytes(jobs: &[Job]) -> BTreeMap<Link, u64> {
    let mut bytes = BTreeMap::new();
    for j in jobs.iter().filter(|j| !j.copies_nothing()) {
        *bytes.entry((j.source, Direction::Out)).or_default() += j.bytes_to_copy();
        for &b in &j.adding {
            *bytes.entry((b, Direction::In)).or_default() += j.bytes;
        }
    }
    bytes
}

/// The physical bound of `jobs` at `rate` bytes per second on every link
/// (a zero rate is taken as 1 B/s).
pub fn physical_bound(jobs: &[Job], rate: u64) -> Bound {
    let mut best = Bound {
        seconds: 0.0,
        link: None,
        bytes: 0,
    };
    for (link, bytes) in link_bytes(jobs) {
        if bytes > best.bytes {
            best = Bound {
                seconds: 0.0,
                link: Some(link),
                bytes,
            };
        }
    }
    best.seconds = best.bytes as f64 / rate.max(1) as f64;
    best
}

/// One submission in the simulated run.
#[derive(Debug, Clone, PartialEq)]
pub struct SimBatch {
    /// Seconds from the start.
    pub at: f64,
    pub started: Vec<TopicPartition>,
}

/// A simulated run.
#[derive(Debug, Clone, PartialEq)]
pub struct Simulation {
    /// Seconds until the last move finishes.
    pub makespan: f64,
    pub bound: Bound,
    pub batches: Vec<SimBatch>,
    /// The most moves running at once, and copying into (or out of) one
    /// broker at once.
    pub peak_in_flight: usize,
    pub peak_per_broker: usize,
}

impl Simulation {
    /// Makespan over the physical bound (1 when nothing is copied).
    pub fn ratio(&self) -> f64 {
        if self.bound.seconds > 0.0 {
            self.makespan / self.bound.seconds
        } else {
            1.0
        }
    }
}

/// A job in the simulation: its partition, its slots and how many of its
/// flows still copy.
struct Running {
    tp: TopicPartition,
    slots: Vec<Link>,
    flows: usize,
}

struct Flow {
    out_link: usize,
    in_link: usize,
    remaining: f64,
    job: usize,
}

/// Runs the scheduler over `jobs` with every link at `rate` bytes per
/// second (a zero rate is taken as 1 B/s).
pub fn simulate(jobs: Vec<Job>, mode: Mode, rate: u64) -> Simulation {
    let rate = rate.max(1) as f64;
    let bound = physical_bound(&jobs, rate as u64);
    let brokers: BTreeSet<BrokerId> = jobs
        .iter()
        .flat_map(|j| j.slots().map(|(b, _)| b))
        .collect();
    let index: BTreeMap<BrokerId, usize> =
        brokers.iter().enumerate().map(|(i, &b)| (b, i)).collect();
    let links = 2 * brokers.len();

    let mut sched = Scheduler::new(jobs, mode);
    let mut t = 0.0f64;
    let mut batches = Vec::new();
    let mut flows: Vec<Flow> = Vec::new();
    // Running jobs: their partition, slots and flows still copying.
    let mut running: BTreeMap<usize, Running> = BTreeMap::new();
    let mut in_flight: BTreeSet<TopicPartition> = BTreeSet::new();
    let mut next_id = 0usize;
    let (mut peak_in_flight, mut peak_per_broker) = (0, 0);

    loop {
        let batch = sched.next_batch(&in_flight);
        let submitted = !batch.is_empty();
        if submitted {
            batches.push(SimBatch {
                at: t,
                started: batch.iter().map(|j| j.tp.clone()).collect(),
            });
        }
        for job in batch {
            if job.copies_nothing() || job.bytes == 0 {
                continue;
            }
            let id = next_id;
            next_id += 1;
            let src = index[&job.source];
            for b in &job.adding {
                flows.push(Flow {
                    out_link: 2 * src,
                    in_link: 2 * index[b] + 1,
                    remaining: job.bytes as f64,
                    job: id,
                });
            }
            in_flight.insert(job.tp.clone());
            running.insert(
                id,
                Running {
                    tp: job.tp.clone(),
                    slots: job.slots().collect(),
                    flows: job.adding.len(),
                },
            );
        }
        peak_in_flight = peak_in_flight.max(running.len());
        let mut per_link: BTreeMap<Link, usize> = BTreeMap::new();
        for r in running.values() {
            for &b in &r.slots {
                *per_link.entry(b).or_default() += 1;
            }
        }
        peak_per_broker = peak_per_broker.max(per_link.values().copied().max().unwrap_or(0));

        if flows.is_empty() {
            if submitted && !sched.is_done() {
                // Everything submitted finished at once (empty
                // partitions): ask again at the same instant.
                continue;
            }
            // Nothing runs, so any pending job fits: only an exhausted
            // scheduler returns nothing here.
            debug_assert!(sched.is_done());
            break;
        }
        let rates = fair_rates(&flows, links, rate);
        let dt = flows
            .iter()
            .zip(&rates)
            .map(|(f, r)| f.remaining / r)
            .fold(f64::INFINITY, f64::min);
        if !dt.is_finite() {
            // Every running flow has a positive share of a positive rate;
            // this only guards the loop against a rounding pathology.
            debug_assert!(false, "no flow can progress");
            break;
        }
        t += dt;
        let mut done = Vec::new();
        for (f, r) in flows.iter_mut().zip(&rates) {
            f.remaining -= r * dt;
            // Bytes are whole numbers: a millionth of one is rounding.
            if f.remaining <= 1e-6 {
                done.push(f.job);
            }
        }
        flows.retain(|f| f.remaining > 1e-6);
        for id in done {
            let entry = running.get_mut(&id).expect("a running job");
            entry.flows -= 1;
            if entry.flows == 0 {
                let done = running.remove(&id).expect("a running job");
                in_flight.remove(&done.tp);
            }
        }
    }

    Simulation {
        makespan: t,
        bound,
        batches,
        peak_in_flight,
        peak_per_broker,
    }
}

/// Max-min fair rates by progressive filling: repeatedly take the link
/// whose remaining capacity per unfrozen flow is smallest, give its
/// unfrozen flows that share, and charge it to their other link.
fn fair_rates(flows: &[Flow], links: usize, rate: f64) -> Vec<f64> {
    let mut cap = vec![rate; links];
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); links];
    for (i, f) in flows.iter().enumerate() {
        users[f.out_link].push(i);
        users[f.in_link].push(i);
    }
    let mut unfrozen: Vec<usize> = users.iter().map(Vec::len).collect();
    let mut rates = vec![f64::NAN; flows.len()];
    let mut left = flows.len();
    while left > 0 {
        let (link, share) = (0..links)
            .filter(|&l| unfrozen[l] > 0)
            .map(|l| (l, cap[l].max(0.0) / unfrozen[l] as f64))
            .fold((usize::MAX, f64::INFINITY), |best, c| {
                if c.1 < best.1 { c } else { best }
            });
        for &i in &users[link] {
            if !rates[i].is_nan() {
                continue;
            }
            rates[i] = share;
            left -= 1;
            for l in [flows[i].out_link, flows[i].in_link] {
                cap[l] -= share;
                unfrozen[l] -= 1;
            }
        }
    }
    rates
}

#[cfg(test)]
mod tests;
