//! The cluster's single metadata state (KRaft style: one controller, one
//! epoch that grows with every change) together with every replica's log.
//!
//! All mutation goes through methods here, under one mutex held by the
//! server; nothing here does I/O or waits. The replication step
//! ([`State::replicate`]) is a pure function of the state and the elapsed
//! time, so it can be driven by the server's loop or stepped by a test.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::config::{MAX_BROKERS, MAX_PARTITIONS};
use super::log::{Batch, PartitionLog};
use super::throttle::{self, TokenBucket};

pub type BrokerId = i32;

/// Kafka error codes used by the mini-broker.
pub mod code {
    pub const NONE: i16 = 0;
    pub const OFFSET_OUT_OF_RANGE: i16 = 1;
    pub const CORRUPT_MESSAGE: i16 = 2;
    pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
    pub const LEADER_NOT_AVAILABLE: i16 = 5;
    pub const NOT_LEADER_OR_FOLLOWER: i16 = 6;
    pub const REQUEST_TIMED_OUT: i16 = 7;
    pub const REPLICA_NOT_AVAILABLE: i16 = 9;
    pub const NOT_ENOUGH_REPLICAS: i16 = 19;
    pub const NOT_ENOUGH_REPLICAS_AFTER_APPEND: i16 = 20;
    pub const UNSUPPORTED_VERSION: i16 = 35;
    pub const TOPIC_ALREADY_EXISTS: i16 = 36;
    pub const INVALID_TOPIC: i16 = 17;
    pub const INVALID_PARTITIONS: i16 = 37;
    pub const INVALID_REPLICATION_FACTOR: i16 = 38;
    pub const INVALID_REPLICA_ASSIGNMENT: i16 = 39;
    pub const INVALID_CONFIG: i16 = 40;
    pub const INVALID_REQUEST: i16 = 42;
    pub const POLICY_VIOLATION: i16 = 44;
    pub const KAFKA_STORAGE_ERROR: i16 = 56;
    pub const LOG_DIR_NOT_FOUND: i16 = 57;
    pub const UNKNOWN_SERVER_ERROR: i16 = -1;
    pub const PREFERRED_LEADER_NOT_AVAILABLE: i16 = 80;
    pub const ELIGIBLE_LEADERS_NOT_AVAILABLE: i16 = 83;
    pub const ELECTION_NOT_NEEDED: i16 = 84;
    pub const NO_REASSIGNMENT_IN_PROGRESS: i16 = 85;
    pub const INVALID_RECORD: i16 = 87;
    pub const UNKNOWN_TOPIC_ID: i16 = 100;
}

#[derive(Debug, Clone)]
pub struct Broker {
    pub id: BrokerId,
    pub rack: Option<String>,
    pub host: String,
    pub port: u16,
    pub alive: bool,
    /// Fault injection: a live broker whose followers stop copying (a slow
    /// or partitioned follower), so they fall out of the ISR by lag.
    pub replication_paused: bool,
    pub log_dirs: Vec<String>,
    /// Dynamic broker configs set through the admin APIs.
    pub configs: BTreeMap<String, String>,
    pub leader_bucket: TokenBucket,
    pub follower_bucket: TokenBucket,
    pub dirs_bucket: TokenBucket,
}

impl Broker {
    pub fn rate(&self, key: &str) -> Option<u64> {
        self.configs.get(key).and_then(|v| v.parse().ok())
    }
}

#[derive(Debug, Clone)]
pub struct FutureLog {
    pub dir: String,
    pub log: PartitionLog,
}

/// One broker's copy of a partition.
#[derive(Debug, Clone)]
pub struct Replica {
    pub dir: String,
    pub log: PartitionLog,
    /// Target of a disk-to-disk move (AlterReplicaLogDirs).
    pub future: Option<FutureLog>,
    /// Last time this replica's log end reached the leader's.
    pub last_caught_up: Instant,
    /// High watermark known when this replica's broker stopped: on restart
    /// the log is truncated to it, since anything past it may diverge.
    pub hw_checkpoint: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct Partition {
    pub index: i32,
    /// Replica order; the first is the preferred leader. During a move:
    /// target replicas then (original - target), as KIP-455 prescribes.
    pub replicas: Vec<BrokerId>,
    pub isr: Vec<BrokerId>,
    /// -1 when no leader.
    pub leader: BrokerId,
    pub leader_epoch: i32,
    pub adding: Vec<BrokerId>,
    pub removing: Vec<BrokerId>,
    pub hw: i64,
    pub logs: BTreeMap<BrokerId, Replica>,
}

impl Partition {
    pub fn target(&self) -> Vec<BrokerId> {
        self.replicas
            .iter()
            .copied()
            .filter(|b| !self.removing.contains(b))
            .collect()
    }
    pub fn original(&self) -> Vec<BrokerId> {
        self.replicas
            .iter()
            .copied()
            .filter(|b| !self.adding.contains(b))
            .collect()
    }
    pub fn leader_log(&self) -> Option<&PartitionLog> {
        self.logs.get(&self.leader).map(|r| &r.log)
    }
    pub fn reassigning(&self) -> bool {
        !self.adding.is_empty() || !self.removing.is_empty()
    }
}

#[derive(Debug, Clone)]
pub struct Topic {
    pub name: String,
    pub id: Uuid,
    pub configs: BTreeMap<String, String>,
    pub partitions: Vec<Partition>,
}

/// Timing knobs of the replication model.
#[derive(Debug, Clone)]
pub struct Timing {
    /// `replica.lag.time.max.ms`.
    pub replica_lag_max: Duration,
    /// Most bytes a follower copies per step when not throttled.
    pub max_copy_per_step: usize,
    /// Idle throttle credit kept (see `throttle`): [`throttle::BURST`] on
    /// the server.
    pub throttle_burst: Duration,
}

/// The server's [`Timing::max_copy_per_step`]: with its 5 ms replication
/// tick, unthrottled copies run at about 800 MiB/s per replica.
pub const MAX_COPY_PER_STEP: usize = 4 << 20;

/// What a topic gets when nobody says: Kafka's `num.partitions` and
/// `default.replication.factor`, and whether a Metadata request may create
/// a topic it names (`auto.create.topics.enable`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicDefaults {
    pub auto_create: bool,
    pub partitions: i32,
    pub replication_factor: i16,
    /// `min.insync.replicas` of a topic that does not set its own.
    pub min_insync_replicas: u16,
}

impl Default for TopicDefaults {
    /// Kafka's defaults.
    fn default() -> Self {
        Self {
            auto_create: true,
            partitions: 1,
            replication_factor: 1,
            min_insync_replicas: 1,
        }
    }
}

/// Kafka's topic name rule: 1 to 249 of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub fn valid_topic_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 249
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

#[derive(Debug)]
pub struct State {
    pub cluster_id: String,
    /// -1 when every broker is down.
    pub controller: BrokerId,
    /// Grows by one on every metadata change.
    pub metadata_epoch: i64,
    pub brokers: BTreeMap<BrokerId, Broker>,
    pub topics: BTreeMap<String, Topic>,
    pub timing: Timing,
    pub topic_defaults: TopicDefaults,
    /// Last producer id handed out by InitProducerId.
    pub next_producer_id: i64,
    next_topic_id: u64,
    /// Dirs asked for replicas a broker does not hold yet (topic,
    /// partition, broker): the replica is created there when a move adds
    /// it, as Kafka's LogManager does with its preferred log dirs.
    preferred_dirs: BTreeMap<(String, i32, BrokerId), String>,
    /// With a data dir: where logs and metadata go (`persist`).
    pub storage: Option<std::sync::Arc<super::persist::Storage>>,
}

/// A controller-level failure for one partition or resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: i16,
    pub message: String,
}

impl Refusal {
    pub fn new(code: i16, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// A broker's throttle rates during one replication step.
struct Rates {
    leader: Option<u64>,
    follower: Option<u64>,
    dirs: Option<u64>,
}

/// What a replication step did, for the server to wake waiters.
#[derive(Debug, Default, Clone, Copy)]
pub struct StepOutcome {
    pub copied_bytes: u64,
    pub changed: bool,
}

impl State {
    pub fn new(cluster_id: String, brokers: Vec<Broker>, timing: Timing) -> Self {
        let controller = brokers.first().map_or(-1, |b| b.id);
        Self {
            cluster_id,
            controller,
            metadata_epoch: 1,
            brokers: brokers.into_iter().map(|b| (b.id, b)).collect(),
            topics: BTreeMap::new(),
            timing,
            topic_defaults: TopicDefaults::default(),
            next_producer_id: 1000,
            next_topic_id: 1,
            preferred_dirs: BTreeMap::new(),
            storage: None,
        }
    }

    pub fn is_alive(&self, id: BrokerId) -> bool {
        self.brokers.get(&id).is_some_and(|b| b.alive)
    }

    pub fn alive_brokers(&self) -> Vec<BrokerId> {
        self.brokers
            .values()
            .filter(|b| b.alive)
            .map(|b| b.id)
            .collect()
    }

    pub fn topic_by_id(&self, id: Uuid) -> Option<&Topic> {
        self.topics.values().find(|t| t.id == id)
    }

    pub fn partition(&self, topic: &str, p: i32) -> Option<&Partition> {
        self.topics
            .get(topic)?
            .partitions
            .get(usize::try_from(p).ok()?)
    }

    pub fn partition_mut(&mut self, topic: &str, p: i32) -> Option<&mut Partition> {
        self.topics
            .get_mut(topic)?
            .partitions
            .get_mut(usize::try_from(p).ok()?)
    }

    /// Partitions of every topic together.
    pub fn partition_count(&self) -> usize {
        self.topics.values().map(|t| t.partitions.len()).sum()
    }

    /// Refuses `more` partitions that would take the cluster past
    /// [`MAX_PARTITIONS`].
    fn check_room(&self, more: usize) -> Result<(), Refusal> {
        let have = self.partition_count();
        if have.saturating_add(more) > MAX_PARTITIONS {
            return Err(Refusal::new(
                code::POLICY_VIOLATION,
                format!(
                    "the mini-broker holds at most {MAX_PARTITIONS} partitions: {have} exist and {more} more were asked for"
                ),
            ));
        }
        Ok(())
    }

    /// Rack-aware round-robin placement over live brokers: consecutive
    /// brokers in the rack-interleaved order land in different racks.
    pub fn place(&self, partitions: i32, rf: i16) -> Result<Vec<Vec<BrokerId>>, Refusal> {
        if partitions <= 0 {
            return Err(Refusal::new(
                code::INVALID_PARTITIONS,
                "partitions must be positive",
            ));
        }
        // Before any allocation: a request may ask for 2^31 partitions.
        self.check_room(partitions as usize)?;
        let mut by_rack: BTreeMap<Option<String>, Vec<BrokerId>> = BTreeMap::new();
        for b in self.brokers.values().filter(|b| b.alive) {
            by_rack.entry(b.rack.clone()).or_default().push(b.id);
        }
        let mut order = Vec::new();
        let max_len = by_rack.values().map(Vec::len).max().unwrap_or(0);
        for i in 0..max_len {
            for ids in by_rack.values() {
                if let Some(id) = ids.get(i) {
                    order.push(*id);
                }
            }
        }
        let rf_usize = usize::try_from(rf).unwrap_or(0);
        if rf_usize == 0 || rf_usize > order.len() {
            return Err(Refusal::new(
                code::INVALID_REPLICATION_FACTOR,
                format!(
                    "replication factor {rf} larger than {} live brokers",
                    order.len()
                ),
            ));
        }
        let n = order.len();
        let rack_of = |b: BrokerId| self.brokers[&b].rack.clone();
        Ok((0..partitions as usize)
            .map(|p| {
                // Leader rotates; followers are the next brokers in the
                // rack-interleaved order, skipping racks already used while
                // unused racks remain.
                let mut replicas = vec![order[p % n]];
                let mut step = 1;
                while replicas.len() < rf_usize {
                    let all_racks_used = by_rack
                        .keys()
                        .all(|r| replicas.iter().any(|b| rack_of(*b) == *r));
                    let candidate = order[(p + step) % n];
                    step += 1;
                    if replicas.contains(&candidate) {
                        continue;
                    }
                    if all_racks_used || !replicas.iter().any(|b| rack_of(*b) == rack_of(candidate))
                    {
                        replicas.push(candidate);
                    }
                }
                replicas
            })
            .collect())
    }

    /// Creates a topic from an explicit assignment (validated here).
    pub fn create_topic(
        &mut self,
        name: &str,
        assignment: Vec<Vec<BrokerId>>,
        configs: BTreeMap<String, String>,
        now: Instant,
    ) -> Result<Uuid, Refusal> {
        if self.topics.contains_key(name) {
            return Err(Refusal::new(
                code::TOPIC_ALREADY_EXISTS,
                format!("topic {name} already exists"),
            ));
        }
        if !valid_topic_name(name) {
            return Err(Refusal::new(
                code::INVALID_TOPIC,
                format!("invalid topic name {name:?}"),
            ));
        }
        self.check_room(assignment.len())?;
        for (p, replicas) in assignment.iter().enumerate() {
            validate_replicas(self, replicas).map_err(|m| {
                Refusal::new(
                    code::INVALID_REPLICA_ASSIGNMENT,
                    format!("partition {p}: {m}"),
                )
            })?;
        }
        self.next_topic_id += 1;
        let id = Uuid::from_u64_pair(0x6b61_666b_615f_6d62, self.next_topic_id);
        let partitions = assignment
            .into_iter()
            .enumerate()
            .map(|(i, replicas)| {
                let alive: Vec<BrokerId> = replicas
                    .iter()
                    .copied()
                    .filter(|b| self.is_alive(*b))
                    .collect();
                let logs = replicas
                    .iter()
                    .map(|b| {
                        let dir = self.pick_dir(*b, i);
                        (
                            *b,
                            Replica {
                                dir,
                                log: PartitionLog::new(),
                                future: None,
                                last_caught_up: now,
                                hw_checkpoint: None,
                            },
                        )
                    })
                    .collect();
                Partition {
                    index: i as i32,
                    leader: alive.first().copied().unwrap_or(-1),
                    isr: if alive.is_empty() {
                        replicas.clone()
                    } else {
                        alive
                    },
                    replicas,
                    leader_epoch: 0,
                    adding: vec![],
                    removing: vec![],
                    hw: 0,
                    logs,
                }
            })
            .collect();
        self.topics.insert(
            name.to_string(),
            Topic {
                name: name.to_string(),
                id,
                configs,
                partitions,
            },
        );
        self.metadata_epoch += 1;
        Ok(id)
    }

    /// Kafka's auto-creation: `name` with the default partitions and
    /// replication factor, placed as CreateTopics without an assignment.
    pub fn auto_create(&mut self, name: &str, now: Instant) -> Result<Uuid, Refusal> {
        let d = self.topic_defaults.clone();
        let assignment = self.place(d.partitions, d.replication_factor)?;
        self.create_topic(name, assignment, BTreeMap::new(), now)
    }

    fn pick_dir(&self, broker: BrokerId, partition: usize) -> String {
        let dirs = &self.brokers[&broker].log_dirs;
        dirs[partition % dirs.len()].clone()
    }

    pub fn delete_topic(&mut self, name: &str) -> Result<Uuid, Refusal> {
        let t = self.topics.remove(name).ok_or_else(|| {
            Refusal::new(
                code::UNKNOWN_TOPIC_OR_PARTITION,
                format!("unknown topic {name}"),
            )
        })?;
        self.metadata_epoch += 1;
        Ok(t.id)
    }

    /// Gives every replica of a partition a copy of `log` (data written
    /// before the cluster started) and commits all of it.
    pub fn load_partition(&mut self, topic: &str, partition: i32, log: &PartitionLog) {
        let Some(p) = self.partition_mut(topic, partition) else {
            return;
        };
        for r in p.logs.values_mut() {
            r.log = log.clone();
        }
        p.hw = log.leo();
        self.metadata_epoch += 1;
    }

    /// Makes `leader` the partition leader (-1 for none): bumps the leader
    /// epoch and truncates live followers that are ahead of the new leader,
    /// so every log stays a prefix-consistent copy.
    fn set_leader(p: &mut Partition, leader: BrokerId, alive: &dyn Fn(BrokerId) -> bool) {
        p.leader = leader;
        p.leader_epoch += 1;
        if let Some(leo) = p.logs.get(&leader).map(|r| r.log.leo()) {
            for (b, r) in p.logs.iter_mut() {
                if *b != leader && alive(*b) {
                    r.log.truncate_to(leo);
                }
            }
        }
    }

    /// A broker went down: fence it, drop it from every ISR (unless it is
    /// the last member), fail leadership over to a live ISR member, and
    /// move the controller role if it held it.
    pub fn broker_stopped(&mut self, id: BrokerId) {
        let Some(b) = self.brokers.get_mut(&id) else {
            return;
        };
        b.alive = false;
        let alive = self.alive_brokers();
        let is_alive = |b: BrokerId| alive.contains(&b);
        for t in self.topics.values_mut() {
            for p in t.partitions.iter_mut() {
                let Some(r) = p.logs.get_mut(&id) else {
                    continue;
                };
                r.hw_checkpoint = Some(p.hw);
                if p.isr.contains(&id) && p.isr.len() > 1 {
                    p.isr.retain(|b| *b != id);
                }
                if p.leader == id {
                    let next = p
                        .replicas
                        .iter()
                        .copied()
                        .find(|b| p.isr.contains(b) && is_alive(*b));
                    Self::set_leader(p, next.unwrap_or(-1), &is_alive);
                }
            }
        }
        if self.controller == id {
            self.controller = self.alive_brokers().first().copied().unwrap_or(-1);
        }
        self.recompute_hw();
        self.metadata_epoch += 1;
    }

    /// A broker came back: truncate its logs to the last committed offset it
    /// knew, and let it lead partitions that had no leader but it in the ISR.
    pub fn broker_started(&mut self, id: BrokerId, port: u16, now: Instant) {
        let Some(b) = self.brokers.get_mut(&id) else {
            return;
        };
        b.alive = true;
        b.port = port;
        let alive = self.alive_brokers();
        let is_alive = |b: BrokerId| alive.contains(&b);
        for t in self.topics.values_mut() {
            for p in t.partitions.iter_mut() {
                let Some(r) = p.logs.get_mut(&id) else {
                    continue;
                };
                if let Some(hw) = r.hw_checkpoint.take() {
                    r.log.truncate_to(hw);
                }
                r.last_caught_up = now;
                if p.leader == -1 && p.isr.contains(&id) {
                    Self::set_leader(p, id, &is_alive);
                }
            }
        }
        if self.controller == -1 {
            self.controller = id;
        }
        self.metadata_epoch += 1;
    }

    /// A new, empty broker joins, as a Kafka broker does when it first
    /// registers: alive, no replicas, no configs. Placement counts it from
    /// now on; existing partitions reach it only by reassignment. Refused
    /// when the id is taken or not positive, or the cluster is full.
    pub fn add_broker(&mut self, broker: Broker) -> Result<(), String> {
        let id = broker.id;
        if id <= 0 {
            return Err(format!("broker id {id}: ids are positive"));
        }
        if self.brokers.contains_key(&id) {
            return Err(format!("broker {id} already exists"));
        }
        if self.brokers.len() >= MAX_BROKERS {
            return Err(format!(
                "the mini-broker runs at most {MAX_BROKERS} brokers"
            ));
        }
        self.brokers.insert(id, broker);
        if self.controller == -1 {
            self.controller = id;
        }
        self.metadata_epoch += 1;
        Ok(())
    }

    /// HW = max(old HW, min LEO over the ISR), for partitions with a leader.
    pub fn recompute_hw(&mut self) -> bool {
        let mut changed = false;
        for t in self.topics.values_mut() {
            for p in t.partitions.iter_mut() {
                if p.leader < 0 {
                    continue;
                }
                let min = p
                    .isr
                    .iter()
                    .filter_map(|b| p.logs.get(b).map(|r| r.log.leo()))
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
    /// NOT_ENOUGH_REPLICAS_AFTER_APPEND if the ISR that got it there is
    /// below `min_isr` (it shrank after the append, as Kafka checks),
    /// else NONE.
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

    /// One replication step: refill throttle budgets, let every live
    /// follower copy from its leader (held back only when throttled and out
    /// of sync), update ISRs and high watermarks, finish reassignments whose
    /// targets are all in sync, and advance disk-to-disk moves.
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
        for t in self.topics.values_mut() {
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
                let followers: Vec<BrokerId> = p
                    .replicas
                    .iter()
                    .copied()
                    .filter(|b| *b != leader)
                    .collect();
                for f in followers {
                    if !is_alive(f) {
                        continue;
                    }
                    let in_isr = p.isr.contains(&f);
                    let paused = brokers[&f].replication_paused;
                    let behind = p.logs[&f].log.leo() < leader_leo;
                    let mut copied = 0usize;
                    if behind && !paused && max_copy > 0 {
                        let l_listed = rates[&leader].leader.is_some()
                            && leader_list.contains(p.index, leader);
                        let f_listed =
                            rates[&f].follower.is_some() && follower_list.contains(p.index, f);
                        // Taken out of the map so the leader's log can be read meanwhile.
                        let mut r = p
                            .logs
                            .remove(&f)
                            .expect("replica log exists for every replica");
                        let leader_log = &p.logs[&leader].log;
                        loop {
                            let from = r.log.leo();
                            if from >= leader_leo || copied >= max_copy {
                                break;
                            }
                            let Some(batch) = leader_log.batch_at(from, leader_leo) else {
                                break;
                            };
                            let n = batch.size();
                            // Out-of-sync listed replicas pay before they copy;
                            // both checks run so each bucket records its need.
                            if !in_isr {
                                let leader_ok = !l_listed
                                    || brokers.get_mut(&leader).unwrap().leader_bucket.can_pay(n);
                                let follower_ok = !f_listed
                                    || brokers.get_mut(&f).unwrap().follower_bucket.can_pay(n);
                                if !(leader_ok && follower_ok) {
                                    break;
                                }
                            }
                            r.log.push(batch.clone());
                            copied += n as usize;
                            if l_listed {
                                brokers.get_mut(&leader).unwrap().leader_bucket.charge(n);
                            }
                            if f_listed {
                                brokers.get_mut(&f).unwrap().follower_bucket.charge(n);
                            }
                        }
                        p.logs.insert(f, r);
                    }
                    out.copied_bytes += copied as u64;
                    if copied > 0 {
                        out.changed = true;
                    }
                    let r = p.logs.get_mut(&f).expect("replica log exists");
                    if r.log.leo() >= leader_leo {
                        r.last_caught_up = now;
                    }
                    if in_isr && now.duration_since(r.last_caught_up) > lag_max {
                        p.isr.retain(|b| *b != f);
                        out.changed = true;
                    } else if !in_isr && r.log.leo() >= p.hw && r.log.leo() >= leader_leo {
                        p.isr.push(f);
                        out.changed = true;
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
                        out.changed = true;
                    }
                }
                if p.reassigning() {
                    let target = p.target();
                    if target.iter().all(|b| p.isr.contains(b)) {
                        complete_reassignment(p, &is_alive);
                        out.changed = true;
                    }
                }
            }
        }
        if self.recompute_hw() {
            out.changed = true;
        }
        if out.changed {
            self.metadata_epoch += 1;
        }
        out
    }

    /// AlterReplicaLogDirs for one replica, as Kafka's ReplicaManager
    /// answers it: a dir the broker lacks is LOG_DIR_NOT_FOUND; a replica
    /// the broker does not hold yet gets the dir remembered (a move that
    /// adds it creates it there) and REPLICA_NOT_AVAILABLE; a replica in
    /// another dir starts (or redirects) a future log there, which the
    /// replication step fills and swaps in; a replica already there drops
    /// any future log (the move is cancelled).
    pub fn alter_replica_log_dir(
        &mut self,
        broker: BrokerId,
        topic: &str,
        partition: i32,
        dir: &str,
    ) -> Result<(), Refusal> {
        let known = self
            .brokers
            .get(&broker)
            .is_some_and(|b| b.log_dirs.iter().any(|d| d == dir));
        if !known {
            return Err(Refusal::new(
                code::LOG_DIR_NOT_FOUND,
                format!("Log dir {dir} does not exist on broker {broker}."),
            ));
        }
        let Some(p) = self.partition_mut(topic, partition) else {
            return Err(Refusal::new(code::UNKNOWN_TOPIC_OR_PARTITION, ""));
        };
        let Some(r) = p.logs.get_mut(&broker) else {
            self.preferred_dirs
                .insert((topic.to_string(), partition, broker), dir.to_string());
            return Err(Refusal::new(code::REPLICA_NOT_AVAILABLE, ""));
        };
        if r.dir == dir {
            r.future = None;
        } else if r.future.as_ref().is_none_or(|f| f.dir != dir) {
            r.future = Some(FutureLog {
                dir: dir.to_string(),
                log: PartitionLog::new(),
            });
        }
        self.metadata_epoch += 1;
        Ok(())
    }

    /// Starts, overrides or cancels (target `None`) a reassignment.
    pub fn reassign(
        &mut self,
        topic: &str,
        partition: i32,
        target: Option<Vec<BrokerId>>,
        now: Instant,
    ) -> Result<(), Refusal> {
        let brokers_known: Vec<BrokerId> = self.brokers.keys().copied().collect();
        let alive = self.alive_brokers();
        let is_alive = |b: BrokerId| alive.contains(&b);
        let dirs: BTreeMap<BrokerId, String> = self
            .brokers
            .iter()
            .map(|(k, v)| {
                (
                    *k,
                    v.log_dirs[partition.max(0) as usize % v.log_dirs.len()].clone(),
                )
            })
            .collect();
        // Kafka's controller words these refusals; clients show them as is.
        let unknown = if self.topics.contains_key(topic) {
            format!("Unable to find partition {topic}:{partition}.")
        } else {
            format!("Unable to find a topic named {topic}.")
        };
        let preferred = &mut self.preferred_dirs;
        let p = self
            .topics
            .get_mut(topic)
            .and_then(|t| t.partitions.get_mut(usize::try_from(partition).ok()?))
            .ok_or_else(|| Refusal::new(code::UNKNOWN_TOPIC_OR_PARTITION, unknown))?;
        match target {
            None => {
                if !p.reassigning() {
                    return Err(Refusal::new(code::NO_REASSIGNMENT_IN_PROGRESS, ""));
                }
                let original = p.original();
                if !original.iter().any(|b| p.isr.contains(b) && is_alive(*b)) {
                    return Err(Refusal::new(
                        code::INVALID_REPLICA_ASSIGNMENT,
                        "cancelling would need an unclean leader election",
                    ));
                }
                let adding = std::mem::take(&mut p.adding);
                p.removing.clear();
                p.replicas = original.clone();
                p.isr.retain(|b| original.contains(b));
                for b in &adding {
                    p.logs.remove(b);
                }
                if !original.contains(&p.leader) {
                    let next = original
                        .iter()
                        .copied()
                        .find(|b| p.isr.contains(b) && is_alive(*b))
                        .unwrap_or(-1);
                    Self::set_leader(p, next, &is_alive);
                }
            }
            Some(trs) => {
                if let Err(m) = validate_replicas_known(&brokers_known, &trs) {
                    return Err(Refusal::new(code::INVALID_REPLICA_ASSIGNMENT, m));
                }
                // As Kafka 4.x's controller does it: the current replicas,
                // ordered original first then any still-adding ones, are
                // compared with the target. Overriding a running move thus
                // turns its abandoned adding replicas into removing ones
                // (kept until completion), and a later cancel keeps them.
                let mut current = p.original();
                current.extend(p.adding.iter().copied());
                let adding: Vec<BrokerId> = trs
                    .iter()
                    .copied()
                    .filter(|b| !current.contains(b))
                    .collect();
                let removing: Vec<BrokerId> = current
                    .iter()
                    .copied()
                    .filter(|b| !trs.contains(b))
                    .collect();
                let mut replicas = trs.clone();
                replicas.extend(removing.iter().copied());
                p.replicas = replicas;
                p.adding = adding.clone();
                p.removing = removing;
                for b in adding {
                    let dir = preferred.remove(&(topic.to_string(), partition, b));
                    p.logs.entry(b).or_insert_with(|| Replica {
                        dir: dir.unwrap_or_else(|| dirs[&b].clone()),
                        log: PartitionLog::new(),
                        future: None,
                        last_caught_up: now,
                        hw_checkpoint: None,
                    });
                }
                if p.adding.is_empty() && p.removing.is_empty() {
                    // A pure reorder (or a target equal to the original) completes at once.
                    p.replicas = trs;
                } else if trs.iter().all(|b| p.isr.contains(b)) {
                    complete_reassignment(p, &is_alive);
                }
            }
        }
        self.metadata_epoch += 1;
        Ok(())
    }

    /// Leader election: type 0 preferred, 1 unclean.
    pub fn elect(&mut self, topic: &str, partition: i32, election_type: i8) -> Result<(), Refusal> {
        let alive = self.alive_brokers();
        let is_alive = |b: BrokerId| alive.contains(&b);
        let p = self.partition_mut(topic, partition).ok_or_else(|| {
            Refusal::new(
                code::UNKNOWN_TOPIC_OR_PARTITION,
                format!("unknown partition {topic}-{partition}"),
            )
        })?;
        match election_type {
            0 => {
                let preferred = p.replicas[0];
                if p.leader == preferred {
                    return Err(Refusal::new(
                        code::ELECTION_NOT_NEEDED,
                        "preferred leader already leads",
                    ));
                }
                if !is_alive(preferred) || !p.isr.contains(&preferred) {
                    return Err(Refusal::new(
                        code::PREFERRED_LEADER_NOT_AVAILABLE,
                        format!("preferred leader {preferred} is not alive and in sync"),
                    ));
                }
                Self::set_leader(p, preferred, &is_alive);
            }
            1 => {
                if p.leader >= 0 && is_alive(p.leader) {
                    return Err(Refusal::new(
                        code::ELECTION_NOT_NEEDED,
                        "partition has a live leader",
                    ));
                }
                let next = p
                    .replicas
                    .iter()
                    .copied()
                    .find(|b| is_alive(*b) && p.isr.contains(b))
                    .or_else(|| p.replicas.iter().copied().find(|b| is_alive(*b)));
                let Some(next) = next else {
                    return Err(Refusal::new(
                        code::ELIGIBLE_LEADERS_NOT_AVAILABLE,
                        "no live replica",
                    ));
                };
                if !p.isr.contains(&next) {
                    // Unclean: the new leader's log defines the partition from now on.
                    p.isr = vec![next];
                    let leo = p.logs[&next].log.leo();
                    p.hw = p.hw.min(leo);
                }
                Self::set_leader(p, next, &is_alive);
            }
            _ => return Err(Refusal::new(code::INVALID_REQUEST, "unknown election type")),
        }
        self.metadata_epoch += 1;
        Ok(())
    }
}

/// Drops the removing replicas (and their data) once every target replica
/// is in sync; the leader moves only if it is not a target.
fn complete_reassignment(p: &mut Partition, is_alive: &dyn Fn(BrokerId) -> bool) {
    let target = p.target();
    for b in std::mem::take(&mut p.removing) {
        p.logs.remove(&b);
    }
    p.adding.clear();
    p.isr.retain(|b| target.contains(b));
    p.replicas = target.clone();
    if !target.contains(&p.leader) {
        let next = target
            .iter()
            .copied()
            .find(|b| p.isr.contains(b) && is_alive(*b))
            .unwrap_or(-1);
        State::set_leader(p, next, is_alive);
    }
}

fn validate_replicas(state: &State, replicas: &[BrokerId]) -> Result<(), String> {
    let known: Vec<BrokerId> = state.brokers.keys().copied().collect();
    validate_replicas_known(&known, replicas)
}

fn validate_replicas_known(known: &[BrokerId], replicas: &[BrokerId]) -> Result<(), String> {
    // Kafka's checks and words, in its order: brokers are examined sorted.
    if replicas.is_empty() {
        return Err("The manual partition assignment includes an empty replica list.".into());
    }
    let mut sorted = replicas.to_vec();
    sorted.sort_unstable();
    for (i, b) in sorted.iter().enumerate() {
        if !known.contains(b) {
            return Err(format!(
                "The manual partition assignment includes broker {b}, but no such broker is registered."
            ));
        }
        if i > 0 && sorted[i - 1] == *b {
            return Err(format!(
                "The manual partition assignment includes the broker {b} more than once."
            ));
        }
    }
    Ok(())
}

/// Reads batches of a partition's leader log for a consumer (up to the HW).
pub fn read_committed(p: &Partition, from: i64, max_bytes: usize) -> Vec<Batch> {
    p.leader_log()
        .map(|l| l.read(from, p.hw, max_bytes))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(brokers: usize, racks: usize) -> State {
        let brokers = (1..=brokers as i32)
            .map(|id| Broker {
                id,
                rack: (racks > 0).then(|| format!("r{}", (id as usize - 1) % racks)),
                host: "127.0.0.1".into(),
                port: 0,
                alive: true,
                replication_paused: false,
                log_dirs: vec!["/d".into()],
                configs: BTreeMap::new(),
                leader_bucket: TokenBucket::default(),
                follower_bucket: TokenBucket::default(),
                dirs_bucket: TokenBucket::default(),
            })
            .collect();
        State::new(
            "t".into(),
            brokers,
            Timing {
                replica_lag_max: Duration::from_secs(1),
                max_copy_per_step: 1 << 20,
                throttle_burst: throttle::BURST,
            },
        )
    }

    #[test]
    fn placement_spreads_racks_and_leaders() {
        let s = state(5, 3);
        let a = s.place(12, 3).unwrap();
        for (p, replicas) in a.iter().enumerate() {
            let racks: std::collections::BTreeSet<_> =
                replicas.iter().map(|b| s.brokers[b].rack.clone()).collect();
            assert_eq!(racks.len(), 3, "partition {p}: {replicas:?}");
        }
        let leaders: std::collections::BTreeSet<_> = a.iter().map(|r| r[0]).collect();
        assert_eq!(leaders.len(), 5);
        assert_eq!(
            s.place(1, 6).unwrap_err().code,
            code::INVALID_REPLICATION_FACTOR
        );
        // More replicas than racks: racks repeat only once all are used.
        let a = state(4, 2).place(4, 3).unwrap();
        assert!(a.iter().all(|r| r.len() == 3));
    }

    #[test]
    fn an_added_broker_joins_empty_and_takes_a_reassigned_replica() {
        let mut s = state(3, 0);
        let now = Instant::now();
        s.create_topic("t", vec![vec![1, 2]], BTreeMap::new(), now)
            .unwrap();
        load(&mut s, "t", 0, 50);
        run(&mut s, 5);
        let mut b = s.brokers[&1].clone();
        b.id = 4;
        b.rack = Some("r9".into());
        let epoch = s.metadata_epoch;
        s.add_broker(b.clone()).unwrap();
        assert!(
            s.metadata_epoch > epoch,
            "metadata changes with a new broker"
        );
        assert!(s.is_alive(4));
        assert_eq!(s.brokers[&4].rack.as_deref(), Some("r9"));
        assert!(!s.partition("t", 0).unwrap().logs.contains_key(&4));
        assert_eq!(
            s.add_broker(b.clone()).unwrap_err(),
            "broker 4 already exists"
        );
        b.id = 0;
        assert!(s.add_broker(b).unwrap_err().contains("positive"));
        // Placement now counts it.
        assert!(s.place(4, 1).unwrap().iter().any(|r| r == &vec![4]));
        s.reassign("t", 0, Some(vec![4, 2]), now).unwrap();
        run(&mut s, 20);
        let p = s.partition("t", 0).unwrap();
        assert_eq!(p.replicas, vec![4, 2]);
        assert_eq!(p.logs[&4].log.leo(), p.logs[&2].log.leo());
    }

    /// Steps replication `n` times with a 10 ms clock.
    fn run(s: &mut State, n: usize) {
        let mut now = Instant::now();
        for _ in 0..n {
            now += Duration::from_millis(10);
            s.replicate(now, Duration::from_millis(10));
        }
    }

    fn load(s: &mut State, topic: &str, partition: i32, batches: usize) {
        let p = s.partition_mut(topic, partition).unwrap();
        let leader = p.leader;
        for i in 0..batches {
            let b = crate::minibroker::log::synthetic_batch(i as u64 * 10, 10, 1000, 0);
            p.logs.get_mut(&leader).unwrap().log.append_as_leader(&b, 0);
        }
    }

    #[test]
    fn an_isr_shrinking_below_min_insync_after_the_append_fails_acks_all() {
        let mut s = state(3, 0);
        let now = Instant::now();
        let configs = BTreeMap::from([("min.insync.replicas".to_string(), "3".to_string())]);
        s.create_topic("t", vec![vec![1, 2, 3]], configs, now)
            .unwrap();
        assert_eq!(s.min_insync_replicas("t"), 3);
        run(&mut s, 5);
        load(&mut s, "t", 0, 1);
        let end = s.partition("t", 0).unwrap().logs[&1].log.leo();
        let outcome = |s: &State| s.acks_all_outcome(1, ("t", 0), 0, end, 3);
        assert_eq!(outcome(&s), None, "not replicated yet");
        s.broker_stopped(3);
        run(&mut s, 5);
        assert_eq!(s.partition("t", 0).unwrap().isr, vec![1, 2]);
        assert_eq!(outcome(&s), Some(code::NOT_ENOUGH_REPLICAS_AFTER_APPEND));
        // The same batch with the full ISR behind it is acknowledged.
        s.broker_started(3, 0, now);
        run(&mut s, 20);
        assert_eq!(s.partition("t", 0).unwrap().isr.len(), 3);
        assert_eq!(outcome(&s), Some(code::NONE));
        // Without a topic value the broker default applies.
        s.topics.get_mut("t").unwrap().configs.clear();
        s.topic_defaults.min_insync_replicas = 2;
        assert_eq!(s.min_insync_replicas("t"), 2);
    }

    #[test]
    fn only_listed_out_of_sync_replicas_are_throttled() {
        let mut s = state(4, 0);
        let now = Instant::now();
        s.create_topic("t", vec![vec![1], vec![2]], BTreeMap::new(), now)
            .unwrap();
        load(&mut s, "t", 0, 100);
        load(&mut s, "t", 1, 100);
        run(&mut s, 1);
        // Partition 0's new replica on 3 is listed; partition 1's on 4 is not.
        s.topics
            .get_mut("t")
            .unwrap()
            .configs
            .insert(throttle::FOLLOWER_REPLICAS.into(), "0:3".into());
        for b in [3, 4] {
            s.brokers
                .get_mut(&b)
                .unwrap()
                .configs
                .insert(throttle::FOLLOWER_RATE.into(), "100000".into());
        }
        s.reassign("t", 0, Some(vec![1, 3]), now).unwrap();
        s.reassign("t", 1, Some(vec![2, 4]), now).unwrap();
        run(&mut s, 100); // one second
        assert!(
            !s.partition("t", 1).unwrap().reassigning(),
            "unlisted move is not held back"
        );
        let p0 = s.partition("t", 0).unwrap();
        assert!(p0.reassigning(), "listed move is pinned");
        let copied = p0.logs[&3].log.size() as f64;
        assert!(
            (copied - 100_000.0).abs() < 15_000.0,
            "copied {copied} B in 1 s at 100 kB/s"
        );
        // Once in sync, the replica is no longer held back even though listed.
        s.brokers
            .get_mut(&3)
            .unwrap()
            .configs
            .remove(throttle::FOLLOWER_RATE);
        run(&mut s, 5);
        assert!(!s.partition("t", 0).unwrap().reassigning());
        assert_eq!(s.partition("t", 0).unwrap().replicas, vec![1, 3]);
    }

    #[test]
    fn partitions_have_a_ceiling_checked_before_allocating() {
        let mut s = state(3, 0);
        let now = Instant::now();
        // regression: a CreateTopics asking for i32::MAX partitions
        // allocated a placement for each before failing.
        let e = s.place(i32::MAX, 1).unwrap_err();
        assert_eq!(e.code, code::POLICY_VIOLATION);
        assert!(e.message.contains("at most 100000"), "{}", e.message);
        let a = s.place(MAX_PARTITIONS as i32 - 1, 1).unwrap();
        s.create_topic("big", a, BTreeMap::new(), now).unwrap();
        assert_eq!(s.place(2, 1).unwrap_err().code, code::POLICY_VIOLATION);
        // An explicit assignment is held to the same ceiling.
        let e = s
            .create_topic("more", vec![vec![1], vec![2]], BTreeMap::new(), now)
            .unwrap_err();
        assert!(
            e.message.contains("99999 exist and 2 more"),
            "{}",
            e.message
        );
        s.create_topic("last", vec![vec![1]], BTreeMap::new(), now)
            .unwrap();
        assert_eq!(s.partition_count(), MAX_PARTITIONS);
    }

    #[test]
    fn auto_create_uses_the_topic_defaults() {
        let mut s = state(3, 0);
        s.topic_defaults = TopicDefaults {
            auto_create: true,
            partitions: 4,
            replication_factor: 2,
            ..TopicDefaults::default()
        };
        s.auto_create("new", Instant::now()).unwrap();
        let t = &s.topics["new"];
        assert_eq!(t.partitions.len(), 4);
        assert!(t.partitions.iter().all(|p| p.replicas.len() == 2));
        assert_eq!(
            s.auto_create("..", Instant::now()).unwrap_err().code,
            code::INVALID_TOPIC
        );
        s.topic_defaults.replication_factor = 4;
        assert_eq!(
            s.auto_create("other", Instant::now()).unwrap_err().code,
            code::INVALID_REPLICATION_FACTOR
        );
    }

    #[test]
    fn topic_names_follow_kafkas_rule() {
        for ok in ["a", "A.b_c-9", &"x".repeat(249), "..."] {
            assert!(valid_topic_name(ok), "{ok}");
        }
        for bad in ["", ".", "..", "a b", "é", &"x".repeat(250)] {
            assert!(!valid_topic_name(bad), "{bad}");
        }
    }
}
