//! The replication step: followers copy from leaders (within throttles),
//! ISRs shrink and grow, high watermarks advance, acks=all settles.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::reassign::complete_reassignment;
use super::*;
use crate::minibroker::{code, epochs, throttle};

/// A broker's throttle rates during one replication step.
struct Rates {
    leader: Option<u64>,
    follower: Option<u64>,
    dirs: Option<u64>,
}

/// Kafka's `replica.fetch.max.bytes`: the most a follower's fetch takes
/// from one partition (at least one batch, however large).
pub const REPLICA_FETCH_MAX_BYTES: usize = 1 << 20;

/// An out-of-sync follower held by a throttle during one step.
struct Fetcher {
    topic: String,
    partition: i32,
    leader: BrokerId,
    follower: BrokerId,
    l_listed: bool,
    f_listed: bool,
    /// Bytes copied this step, bounded by `max_copy_per_step`.
    copied: u64,
    /// A fetch the quota let through found nothing left to copy.
    caught_up: bool,
}

/// One fetch by `follower` from `leader`'s log of `p`: whole batches up to
/// `max_bytes` (the first always). Returns the bytes copied.
fn fetch(p: &mut Partition, leader: BrokerId, follower: BrokerId, max_bytes: usize) -> u64 {
    // Taken out of the map so the leader's log can be read meanwhile.
    let mut r = p
        .logs
        .remove(&follower)
        .expect("replica log exists for every replica");
    let leader_log = &p.logs[&leader].log;
    let leader_leo = leader_log.leo();
    let mut copied = 0u64;
    while let Some(batch) = leader_log.batch_at(r.log.leo(), leader_leo) {
        if copied > 0 && copied + batch.size() > max_bytes as u64 {
            break;
        }
        copied += batch.size();
        r.log.push(batch.clone());
    }
    p.logs.insert(follower, r);
    copied
}

/// What a replication step did, for the server to wake waiters.
#[derive(Debug, Default, Clone, Copy)]
pub struct StepOutcome {
    pub copied_bytes: u64,
    /// Logs or high watermarks moved: waiters look again.
    pub data_changed: bool,
    /// ISRs, leaders, replica sets or log dirs changed: a new metadata
    /// epoch (a record in KRaft's metadata log; copied bytes are none).
    pub metadata_changed: bool,
    /// A reassignment or a disk move completed: replicas left brokers or
    /// dirs, which must be on disk before anyone sees it.
    pub replicas_moved: bool,
}

impl StepOutcome {
    pub fn changed(&self) -> bool {
        self.data_changed || self.metadata_changed
    }
}

impl State {
    /// HW = max(old HW, min LEO over the ISR), for partitions with a leader
    /// (under `--flush every-batch`, the synced part of each log: see
    /// `PartitionLog::acked_end`) and an ISR of at least
    /// `min.insync.replicas`: Kafka 4.x (KIP-966) advances no high watermark
    /// below it (measured on 4.3.1: a held acks=all batch then times out,
    /// and consumers see nothing new).
    pub fn recompute_hw(&mut self) -> bool {
        let mut changed = false;
        let default_min_isr = usize::from(self.topic_defaults.min_insync_replicas);
        for t in self.topics.values_mut() {
            let min_isr =
                crate::minibroker::configs::min_insync_replicas_of(&t.configs, default_min_isr);
            for p in t.partitions.iter_mut() {
                if p.leader < 0 || p.isr.len() < min_isr {
                    continue;
                }
                let min = p
                    .isr
                    .iter()
                    .filter_map(|b| p.logs.get(b).map(|r| r.log.acked_end()))
                    .min();
                if let Some(min) = min
                    && min > p.hw
                {
                    p.hw = min;
                    changed = true;
                }
            }
        }
        changed
    }

    /// Where an acks=all batch appended by `leader` in `leader_epoch`,
    /// ending at `end`, stands: None while the high watermark is short of
    /// it; NOT_LEADER_OR_FOLLOWER once leadership moved; once covered,
    /// NOT_ENOUGH_REPLICAS_AFTER_APPEND if the ISR is now below `min_isr`
    /// (it shrank after the high watermark passed the batch but before
    /// the answer, as Kafka checks), else NONE.
    pub fn acks_all_outcome(
        &self,
        leader: BrokerId,
        (topic, partition): (&str, i32),
        leader_epoch: i32,
        end: i64,
        min_isr: usize,
    ) -> Option<i16> {
        match self.partition(topic, partition) {
            Some(p) if p.leader == leader && p.leader_epoch == leader_epoch => {
                if p.hw < end {
                    None
                } else if p.isr.len() < min_isr {
                    Some(code::NOT_ENOUGH_REPLICAS_AFTER_APPEND)
                } else {
                    Some(code::NONE)
                }
            }
            _ => Some(code::NOT_LEADER_OR_FOLLOWER),
        }
    }
    /// Where an acks=1 batch appended by `leader` in `leader_epoch`, ending
    /// at `end`, stands under `--flush every-batch`: None until the
    /// leader's log is synced past it; NOT_LEADER_OR_FOLLOWER once
    /// leadership moved; else NONE.
    pub fn leader_synced_outcome(
        &self,
        leader: BrokerId,
        (topic, partition): (&str, i32),
        leader_epoch: i32,
        end: i64,
    ) -> Option<i16> {
        match self.partition(topic, partition) {
            Some(p) if p.leader == leader && p.leader_epoch == leader_epoch => p
                .logs
                .get(&leader)
                .is_some_and(|r| r.log.acked_end() >= end)
                .then_some(code::NONE),
            _ => Some(code::NOT_LEADER_OR_FOLLOWER),
        }
    }

    /// One replication step: refill throttle budgets, let every live
    /// follower copy from its leader, update ISRs and high watermarks,
    /// finish reassignments whose targets are all in sync, and advance
    /// disk-to-disk moves.
    ///
    /// Followers in sync or not throttled copy freely. Out-of-sync
    /// followers listed in a throttle copy as Kafka's fetcher does, fetch
    /// by fetch: a round looks at each broker's quotas once, and every
    /// such follower whose quotas are not exceeded then fetches up to
    /// [`REPLICA_FETCH_MAX_BYTES`] (at least one batch), paid afterwards.
    /// So every throttled partition copying through one broker shares its
    /// quota, each getting its fetch in the same round.
    pub fn replicate(&mut self, now: Instant, dt: Duration) -> StepOutcome {
        let mut out = StepOutcome::default();
        let burst = self.timing.throttle_burst;
        // Configs do not change within a step: each rate is parsed once.
        let mut rates: BTreeMap<BrokerId, Rates> = BTreeMap::new();
        for b in self.brokers.values_mut() {
            let r = Rates {
                leader: b.rate(throttle::LEADER_RATE),
                follower: b.rate(throttle::FOLLOWER_RATE),
                dirs: b.rate(throttle::ALTER_DIRS_RATE),
            };
            b.leader_bucket.refill(r.leader, dt, burst);
            b.follower_bucket.refill(r.follower, dt, burst);
            b.dirs_bucket.refill(r.dirs, dt, burst);
            rates.insert(b.id, r);
        }
        let lag_max = self.timing.replica_lag_max;
        let max_copy = self.timing.max_copy_per_step;
        let alive = self.alive_brokers();
        let is_alive = |b: BrokerId| alive.contains(&b);
        let brokers = &mut self.brokers;
        let topics = &mut self.topics;
        // Followers held by a throttle, fetched for in rounds below.
        let mut throttled: Vec<Fetcher> = Vec::new();
        for t in topics.values_mut() {
            let leader_list = throttle::ReplicaList::parse(
                t.configs.get(throttle::LEADER_REPLICAS).map(String::as_str),
            );
            let follower_list = throttle::ReplicaList::parse(
                t.configs
                    .get(throttle::FOLLOWER_REPLICAS)
                    .map(String::as_str),
            );
            for p in t.partitions.iter_mut() {
                let leader = p.leader;
                if leader < 0 || !is_alive(leader) {
                    continue;
                }
                let leader_leo = p.logs[&leader].log.leo();
                for f in p.replicas.clone() {
                    if f == leader || !is_alive(f) || brokers[&f].replication_paused {
                        continue;
                    }
                    // A follower first cuts what the leader does not have
                    // (an ex-leader's unreplicated tail), as Kafka's does
                    // by OffsetForLeaderEpoch, so no copy builds on it.
                    let leader_log = &p.logs[&leader].log;
                    if let Some(at) =
                        epochs::truncation_point(&p.logs[&f].log, leader_log, p.leader_epoch)
                    {
                        p.logs.get_mut(&f).unwrap().log.truncate_to(at);
                        out.data_changed = true;
                    }
                    let l_listed =
                        rates[&leader].leader.is_some() && leader_list.contains(p.index, leader);
                    let f_listed =
                        rates[&f].follower.is_some() && follower_list.contains(p.index, f);
                    if !p.isr.contains(&f) && (l_listed || f_listed) {
                        throttled.push(Fetcher {
                            topic: t.name.clone(),
                            partition: p.index,
                            leader,
                            follower: f,
                            l_listed,
                            f_listed,
                            copied: 0,
                            caught_up: false,
                        });
                        continue;
                    }
                    if p.logs[&f].log.leo() >= leader_leo || max_copy == 0 {
                        continue;
                    }
                    // In-sync traffic of listed replicas counts against the
                    // quota without waiting for it (and may run it into debt).
                    let copied = fetch(p, leader, f, max_copy);
                    if l_listed {
                        brokers
                            .get_mut(&leader)
                            .unwrap()
                            .leader_bucket
                            .charge(copied);
                    }
                    if f_listed {
                        brokers.get_mut(&f).unwrap().follower_bucket.charge(copied);
                    }
                    out.copied_bytes += copied;
                }
            }
        }
        // Throttled fetches, round by round until no quota lets any through.
        loop {
            let open = |b: &BrokerId, leader_side: bool| {
                let b = &brokers[b];
                !if leader_side {
                    &b.leader_bucket
                } else {
                    &b.follower_bucket
                }
                .exceeded()
            };
            let go: Vec<bool> = throttled
                .iter()
                .map(|x| {
                    !x.caught_up
                        && x.copied < max_copy as u64
                        && (!x.l_listed || open(&x.leader, true))
                        && (!x.f_listed || open(&x.follower, false))
                })
                .collect();
            let mut any = false;
            for (x, go) in throttled.iter_mut().zip(go) {
                if !go {
                    continue;
                }
                let p = &mut topics.get_mut(&x.topic).unwrap().partitions[x.partition as usize];
                // The leader learns a follower has everything only from a
                // fetch at its log end, which the quota must let through.
                if p.logs[&x.follower].log.leo() >= p.logs[&x.leader].log.leo() {
                    x.caught_up = true;
                    continue;
                }
                let want = REPLICA_FETCH_MAX_BYTES.min(max_copy - x.copied as usize);
                let n = fetch(p, x.leader, x.follower, want);
                if x.l_listed {
                    brokers.get_mut(&x.leader).unwrap().leader_bucket.charge(n);
                }
                if x.f_listed {
                    brokers
                        .get_mut(&x.follower)
                        .unwrap()
                        .follower_bucket
                        .charge(n);
                }
                x.copied += n;
                out.copied_bytes += n;
                any |= n > 0;
            }
            if !any {
                break;
            }
        }
        // Throttled followers that no fetch found at the log end this step.
        let held: std::collections::BTreeSet<(&str, i32, BrokerId)> = throttled
            .iter()
            .filter(|x| !x.caught_up)
            .map(|x| (x.topic.as_str(), x.partition, x.follower))
            .collect();
        for t in topics.values_mut() {
            for p in t.partitions.iter_mut() {
                let leader = p.leader;
                if leader < 0 || !is_alive(leader) {
                    continue;
                }
                let leader_leo = p.logs[&leader].log.leo();
                let followers: Vec<BrokerId> = p
                    .replicas
                    .iter()
                    .copied()
                    .filter(|b| *b != leader && is_alive(*b))
                    .collect();
                for f in followers {
                    let in_isr = p.isr.contains(&f);
                    let r = p.logs.get_mut(&f).expect("replica log exists");
                    if r.log.leo() >= leader_leo {
                        r.last_caught_up = now;
                    }
                    if in_isr && now.duration_since(r.last_caught_up) > lag_max {
                        p.isr.retain(|b| *b != f);
                        out.metadata_changed = true;
                    } else if !in_isr
                        && r.log.leo() >= p.hw
                        && r.log.leo() >= leader_leo
                        && !held.contains(&(t.name.as_str(), p.index, f))
                    {
                        p.isr.push(f);
                        out.metadata_changed = true;
                    }
                }
                // Disk-to-disk moves: copy from the current log into the future log.
                for (b, r) in p.logs.iter_mut() {
                    let Some(fut) = r.future.as_mut() else {
                        continue;
                    };
                    if !is_alive(*b) {
                        continue;
                    }
                    let rate_set = rates[b].dirs.is_some();
                    let mut copied = 0usize;
                    while fut.log.leo() < r.log.leo() && copied < max_copy {
                        let Some(batch) = r.log.batch_at(fut.log.leo(), r.log.leo()).cloned()
                        else {
                            break;
                        };
                        let n = batch.size();
                        if rate_set && !brokers.get_mut(b).unwrap().dirs_bucket.can_pay(n) {
                            break;
                        }
                        fut.log.push(batch);
                        copied += n as usize;
                        if rate_set {
                            brokers.get_mut(b).unwrap().dirs_bucket.charge(n);
                        }
                    }
                    out.copied_bytes += copied as u64;
                    if fut.log.leo() >= r.log.leo() {
                        let fut = r.future.take().unwrap();
                        r.dir = fut.dir;
                        r.log = fut.log;
                        out.metadata_changed = true;
                        out.replicas_moved = true;
                    }
                }
                if p.reassigning() {
                    let target = p.target();
                    if target.iter().all(|b| p.isr.contains(b)) {
                        complete_reassignment(p, &is_alive);
                        out.metadata_changed = true;
                        out.replicas_moved = true;
                    }
                }
            }
        }
        if self.recompute_hw() || out.copied_bytes > 0 {
            out.data_changed = true;
        }
        if out.metadata_changed {
            self.metadata_epoch += 1;
        }
        out
    }
}

/// Reads batches of a partition's leader log for a consumer (up to the HW).
pub fn read_committed(p: &Partition, from: i64, max_bytes: usize) -> Vec<Batch> {
    p.leader_log()
        .map(|l| l.read(from, p.hw, max_bytes))
        .unwrap_or_default()
}
