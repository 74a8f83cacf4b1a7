//! The cluster's single metadata state (KRaft style: one controller, one
//! epoch that grows with every change) together with every replica's log.
//!
//! All mutation goes through methods here and in the submodules, one per
//! concern: `placement` (topics, brokers coming and going, elections),
//! `replication` (the step that copies, ISRs and high watermarks) and
//! `reassign` (KIP-455 moves and disk moves), under one mutex held by the
//! server; nothing here does I/O or waits. The replication step
//! ([`State::replicate`]) is a pure function of the state and the elapsed
//! time, so it can be driven by the server's loop or stepped by a test.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::config::{MAX_BROKERS, MAX_PARTITIONS};
use super::log::{Batch, PartitionLog};
use super::producers::ProducerStates;
use super::throttle::TokenBucket;

pub type BrokerId = i32;
mod placement;
mod reassign;
mod replication;

pub use replication::{REPLICA_FETCH_MAX_BYTES, StepOutcome, read_committed};

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
    /// `log.segment.bytes`: `segment.bytes` of a topic that does not set
    /// its own.
    pub segment_bytes: u64,
}

impl Default for TopicDefaults {
    /// Kafka's defaults.
    fn default() -> Self {
        Self {
            auto_create: true,
            partitions: 1,
            replication_factor: 1,
            min_insync_replicas: 1,
            segment_bytes: super::segment::DEFAULT_SEGMENT_BYTES,
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
    /// The metadata quorum's leader epoch: grows by one each time the
    /// controller role moves (what DescribeQuorum reports).
    pub controller_epoch: i32,
    pub brokers: BTreeMap<BrokerId, Broker>,
    pub topics: BTreeMap<String, Topic>,
    pub timing: Timing,
    pub topic_defaults: TopicDefaults,
    /// Last producer id handed out by InitProducerId.
    pub next_producer_id: i64,
    /// Idempotent producers' state per partition, as derived from the
    /// leader's log at (leader, leader epoch, log end); derived again from
    /// the log whenever that changed otherwise than by Produce.
    pub producers: BTreeMap<(String, i32), CachedProducers>,
    /// The last topic id handed out (its low 64 bits): saved with the
    /// metadata, so no topic ever gets an id another one had.
    pub next_topic_id: u64,
    /// Dirs asked for replicas a broker does not hold yet (topic,
    /// partition, broker): the replica is created there when a move adds
    /// it, as Kafka's LogManager does with its preferred log dirs.
    preferred_dirs: BTreeMap<(String, i32, BrokerId), String>,
    /// With a data dir: where logs and metadata go (`persist`).
    pub storage: Option<std::sync::Arc<super::persist::Storage>>,
    /// Consumer groups and their committed offsets (`groups.rs`).
    pub groups: super::groups::Groups,
}

/// A partition's producer states and the (leader, leader epoch, log end)
/// they were derived at.
pub type CachedProducers = ((BrokerId, i32, i64), ProducerStates);

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

impl State {
    pub fn new(cluster_id: String, brokers: Vec<Broker>, timing: Timing) -> Self {
        let controller = brokers.first().map_or(-1, |b| b.id);
        Self {
            cluster_id,
            controller,
            metadata_epoch: 1,
            controller_epoch: 1,
            brokers: brokers.into_iter().map(|b| (b.id, b)).collect(),
            topics: BTreeMap::new(),
            timing,
            topic_defaults: TopicDefaults::default(),
            next_producer_id: 1000,
            producers: BTreeMap::new(),
            next_topic_id: 1,
            preferred_dirs: BTreeMap::new(),
            storage: None,
            groups: Default::default(),
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::minibroker::{code, throttle};

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
    fn an_isr_below_min_insync_holds_the_high_watermark_and_fails_acks_all() {
        let mut s = state(3, 0);
        let now = Instant::now();
        let configs = BTreeMap::from([("min.insync.replicas".to_string(), "3".to_string())]);
        s.create_topic("t", vec![vec![1, 2, 3]], configs, now)
            .unwrap();
        assert_eq!(s.min_insync_replicas("t"), 3);
        run(&mut s, 5);
        load(&mut s, "t", 0, 1);
        let end = s.partition("t", 0).unwrap().logs[&1].log.leo();
        let outcome = |s: &State, end| s.acks_all_outcome(1, ("t", 0), 0, end, 3);
        assert_eq!(outcome(&s, end), None, "not replicated yet");
        // The ISR shrinks before the batch is replicated: as Kafka 4.x
        // (KIP-966), no high watermark moves below min.insync.replicas,
        // so the batch waits (and times out in the handler).
        s.broker_stopped(3);
        run(&mut s, 5);
        let p = s.partition("t", 0).unwrap();
        assert_eq!(p.isr, vec![1, 2]);
        assert_eq!(p.logs[&2].log.leo(), end, "the follower has it");
        assert_eq!(p.hw, 0);
        assert_eq!(outcome(&s, end), None);
        // The same batch with the full ISR behind it is acknowledged.
        s.broker_started(3, 0, now);
        run(&mut s, 20);
        assert_eq!(s.partition("t", 0).unwrap().isr.len(), 3);
        assert_eq!(outcome(&s, end), Some(code::NONE));
        // The high watermark passed a batch, then the ISR shrank before
        // its answer was taken: NOT_ENOUGH_REPLICAS_AFTER_APPEND.
        load(&mut s, "t", 0, 1);
        let end = s.partition("t", 0).unwrap().logs[&1].log.leo();
        run(&mut s, 5);
        assert_eq!(s.partition("t", 0).unwrap().hw, end);
        s.broker_stopped(3);
        assert_eq!(
            outcome(&s, end),
            Some(code::NOT_ENOUGH_REPLICAS_AFTER_APPEND)
        );
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
        load(&mut s, "t", 0, 300);
        load(&mut s, "t", 1, 300);
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
        // Its first fetch went before the quota was used up, as Kafka's
        // does, and paid for ten seconds of it.
        let copied = p0.logs[&3].log.size();
        assert!(
            copied <= REPLICA_FETCH_MAX_BYTES as u64 && copied > 1_000_000,
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
    fn throttled_replicas_into_one_broker_share_its_quota_fetch_by_fetch() {
        let mut s = state(3, 0);
        let now = Instant::now();
        let assignment = vec![vec![1], vec![2], vec![1], vec![2]];
        s.create_topic("t", assignment, BTreeMap::new(), now)
            .unwrap();
        for p in 0..4 {
            load(&mut s, "t", p, 600); // 6.4 MB each
        }
        let rate = 2_000_000u64;
        s.topics
            .get_mut("t")
            .unwrap()
            .configs
            .insert(throttle::FOLLOWER_REPLICAS.into(), "*".into());
        s.brokers
            .get_mut(&3)
            .unwrap()
            .configs
            .insert(throttle::FOLLOWER_RATE.into(), rate.to_string());
        for (p, leader) in [(0, 1), (1, 2), (2, 1), (3, 2)] {
            s.reassign("t", p, Some(vec![leader, 3]), now).unwrap();
        }
        run(&mut s, 500); // five seconds
        let copied: Vec<u64> = (0..4)
            .map(|p| s.partition("t", p).unwrap().logs[&3].log.size())
            .collect();
        let total: u64 = copied.iter().sum();
        // Each fetch takes up to 1 MiB from every partition, so none runs
        // ahead of another by more than a batch (about 10.7 kB here).
        let (min, max) = (copied.iter().min().unwrap(), copied.iter().max().unwrap());
        assert!(max - min < 11_000, "{copied:?}");
        // Together at the rate, plus the first round that went unpaid.
        let fetch = REPLICA_FETCH_MAX_BYTES as u64;
        assert!(
            total >= 5 * rate && total <= 5 * rate + 4 * fetch,
            "{total} B in 5 s at {rate} B/s: {copied:?}"
        );
        assert!((0..4).all(|p| s.partition("t", p).unwrap().reassigning()));
    }

    /// Appends `n` batches to the leader's log in its current epoch, as
    /// Produce does.
    fn produce(s: &mut State, topic: &str, n: usize) {
        let p = s.partition_mut(topic, 0).unwrap();
        let (leader, epoch) = (p.leader, p.leader_epoch);
        for _ in 0..n {
            let b = crate::minibroker::log::synthetic_batch(0, 10, 100, 0);
            p.logs
                .get_mut(&leader)
                .unwrap()
                .log
                .append_as_leader(&b, epoch);
        }
    }

    #[test]
    fn a_returning_ex_leader_truncates_its_unreplicated_tail_by_leader_epoch() {
        let mut s = state(2, 0);
        let now = Instant::now();
        s.create_topic("t", vec![vec![1, 2]], BTreeMap::new(), now)
            .unwrap();
        produce(&mut s, "t", 2);
        run(&mut s, 5);
        // The follower stops; the leader takes writes (acks=1) alone.
        s.broker_stopped(2);
        produce(&mut s, "t", 3);
        run(&mut s, 1); // its high watermark covers them: the ISR is itself
        let epoch_of_tail = s.partition("t", 0).unwrap().leader_epoch;
        s.broker_stopped(1);
        // An unclean election makes 2 the leader of a new epoch; it takes
        // other writes.
        s.broker_started(2, 0, now);
        s.elect("t", 0, 1).unwrap();
        let p = s.partition("t", 0).unwrap();
        let new_epoch = p.leader_epoch;
        assert_eq!((p.leader, new_epoch > epoch_of_tail), (2, true));
        let new_epoch_start = p.logs[&2].log.leo();
        assert_eq!(new_epoch_start, 20);
        produce(&mut s, "t", 4);
        // 1 comes back with its tail: 20..50 in the old epoch.
        s.broker_started(1, 0, now);
        assert_eq!(s.partition("t", 0).unwrap().logs[&1].log.leo(), 50);
        let leader_log = &s.partition("t", 0).unwrap().logs[&2].log;
        assert_eq!(
            crate::minibroker::epochs::end_offset_for(leader_log, Some(new_epoch), epoch_of_tail),
            (0, new_epoch_start),
            "the leader's end offset for the ex-leader's epoch"
        );
        run(&mut s, 10);
        let p = s.partition("t", 0).unwrap();
        let (old, new) = (&p.logs[&1].log, &p.logs[&2].log);
        let shape = |l: &PartitionLog| {
            l.batches()
                .iter()
                .map(|b| (b.base_offset, b.last_offset, b.leader_epoch()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            shape(old),
            shape(new),
            "the ex-leader holds the leader's log"
        );
        assert_eq!(old.leo(), 60);
        assert!(p.isr.contains(&1), "and rejoined the ISR: {:?}", p.isr);
    }

    #[test]
    fn the_quorum_epoch_grows_when_the_controller_moves() {
        let mut s = state(3, 0);
        let now = Instant::now();
        assert_eq!((s.controller, s.controller_epoch), (1, 1));
        s.broker_stopped(2);
        assert_eq!(
            (s.controller, s.controller_epoch),
            (1, 1),
            "not the controller"
        );
        s.broker_stopped(1);
        assert_eq!((s.controller, s.controller_epoch), (3, 2));
        s.broker_stopped(3);
        assert_eq!((s.controller, s.controller_epoch), (-1, 3));
        s.broker_started(2, 0, now);
        assert_eq!((s.controller, s.controller_epoch), (2, 4));
    }

    #[test]
    fn copying_data_is_no_metadata_change_but_an_isr_change_is() {
        // regression: every step that copied bytes made a new metadata
        // epoch, so DescribeQuorum's high watermark grew with the data and
        // the persister looked at the metadata every tick.
        let mut s = state(2, 0);
        let now = Instant::now();
        s.create_topic("t", vec![vec![1, 2]], BTreeMap::new(), now)
            .unwrap();
        run(&mut s, 5);
        let epoch = s.metadata_epoch;
        for _ in 0..3 {
            load(&mut s, "t", 0, 10);
            let out = s.replicate(now, Duration::from_millis(10));
            assert!(out.copied_bytes > 0 && out.data_changed && !out.metadata_changed);
        }
        let p = s.partition("t", 0).unwrap();
        assert_eq!((p.logs[&2].log.leo(), p.hw), (300, 300));
        assert_eq!(
            s.metadata_epoch, epoch,
            "bytes copied, high watermark moved"
        );
        // The follower stops copying and leaves the ISR: that is metadata.
        s.brokers.get_mut(&2).unwrap().replication_paused = true;
        load(&mut s, "t", 0, 1);
        let out = s.replicate(now + Duration::from_secs(2), Duration::from_millis(10));
        assert!(out.metadata_changed);
        assert_eq!(s.partition("t", 0).unwrap().isr, vec![1]);
        assert_eq!(s.metadata_epoch, epoch + 1);
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
