//! The mini-broker's controller state driven in-process with stepped time:
//! a [`SimCluster`] with two handles over one state, [`SimAdmin`] (the
//! executor's [`ClusterAdmin`]) and [`SimClock`] (its [`Clock`]), so the
//! executor's tests move gigabytes under a throttle in milliseconds,
//! deterministically.
//!
//! Nothing here decides anything the mini-broker does not: reassignments,
//! cancels and elections are `State`'s, configs are `configs`' (the same
//! validation and IncrementalAlterConfigs semantics the wire handlers
//! use), and copying is `State::replicate` under the same KIP-73 buckets.
//! What differs is only the time and the data:
//! - Time moves only when the clock sleeps. A sleep runs the replication
//!   step at every multiple of the step length (100 ms by default) it
//!   crosses, so results do not depend on how the caller slices time.
//!   Unthrottled, a replica copies as much per step as the server copies
//!   in the same time ([`default_rate`]). `State` keeps `Instant`s: they
//!   are a base read once at build plus simulated time, and only their
//!   differences matter.
//! - Partitions hold sized batches (`PartitionLog::sized`): bytes are
//!   counted, not held, so a 2 GB partition costs a few megabytes. Batches
//!   are never split, so a throttle below about `batch_bytes / step`
//!   (640 KiB/s by default) rounds each batch up to whole steps.
//!
//!
//! A step costs a visit to every replica, so a run costs about steps ×
//! replicas (a few microseconds each in a debug build): tens of partitions
//! over minutes of simulated time take milliseconds; hundreds of moving
//! partitions over half an hour are better run with `step(1 s)`.
//!
//! Failures the executor must survive are staged on the [`SimCluster`]:
//! stopping and starting brokers, moving the controller, pausing a
//! broker's followers, and admin calls that fail as a lost connection
//! would. Single-threaded by design (`Rc<RefCell<..>>`, nothing `Send`).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::config::ClusterConfig;
use super::configs::{self, ConfigTarget, IncrementalOp};
use super::log::PartitionLog;
use super::state::{Broker, MAX_COPY_PER_STEP, Refusal, State, Timing};
use super::throttle;
use crate::exec::clock::Clock;
use crate::model::health::InFlight as ModelInFlight;
use crate::model::live::{
    BrokerDirs, ClusterAdmin, ConfigOp, ConfigResource, ConfigValues, DirMove, DirResult,
    ErrorCode, FutureDir, InFlight, LogDirs, PartitionResult, ReplicaDir, ReplicaSizes,
};
use crate::model::{self, BrokerId, Cluster, TopicPartition};

/// The replication step of the simulation by default.
pub const DEFAULT_STEP: Duration = Duration::from_millis(100);
/// Sized batches of 64 KiB: small against a step's worth of any throttle
/// above 640 KiB/s, few enough that 100 GB cost 100 MB of batch records.
pub const DEFAULT_BATCH_BYTES: u64 = 64 << 10;

/// The mini-broker's unthrottled copy rate per replica in bytes per
/// second: [`MAX_COPY_PER_STEP`] per default replication tick.
pub fn default_rate() -> u64 {
    let tick = ClusterConfig::default().replication_tick;
    (MAX_COPY_PER_STEP as u128 * 1_000_000_000 / tick.as_nanos().max(1)) as u64
}

/// Why a simulated admin call failed, worded as the wire client's errors
/// are: the API, then the broker or resource, then the cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// A resource refused (config calls).
    #[error("{api}: {resource} refused: {code}")]
    Refused {
        api: &'static str,
        resource: String,
        code: ErrorCode,
    },
    /// The call needs a broker that is stopped.
    #[error("{api}: broker {broker} is not reachable (stopped)")]
    BrokerDown { api: &'static str, broker: BrokerId },
    /// The call names a broker the cluster does not have.
    #[error("{api}: no broker {broker} in the cluster")]
    UnknownBroker { api: &'static str, broker: BrokerId },
    /// A staged failure ([`SimCluster::fail_next_calls`]).
    #[error("{api}: the cluster is not reachable (staged failure)")]
    Unreachable { api: &'static str },
}

/// One AlterPartitionReassignments request as the cluster received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlterRequest {
    pub at: Duration,
    pub moves: Vec<(TopicPartition, Option<Vec<BrokerId>>)>,
}

/// One AlterReplicaLogDirs call as the cluster received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirRequest {
    pub at: Duration,
    pub moves: Vec<DirMove>,
}

#[derive(Debug)]
struct Inner {
    state: State,
    /// The `Instant` simulated time zero stands for; read once at build.
    base: Instant,
    elapsed: Duration,
    step: Duration,
    /// Replication steps run: step k ran at k × `step`.
    steps: u64,
    /// Admin calls still to fail before reaching the cluster.
    failing_calls: u32,
    /// APIs whose next call fails (each once).
    failing_apis: Vec<&'static str>,
    alter_requests: Vec<AlterRequest>,
    dir_requests: Vec<DirRequest>,
}

impl Inner {
    fn instant(&self) -> Instant {
        self.base + self.elapsed
    }

    fn advance(&mut self, d: Duration) {
        let end = self.elapsed.saturating_add(d);
        let step_ns = self.step.as_nanos();
        loop {
            let next_ns = step_ns * u128::from(self.steps + 1);
            if next_ns > end.as_nanos() {
                break;
            }
            self.steps += 1;
            let at = Duration::from_nanos(next_ns as u64);
            self.state.replicate(self.base + at, self.step);
        }
        self.elapsed = end;
    }

    fn call(&mut self, api: &'static str) -> Result<(), SimError> {
        if self.failing_calls > 0 {
            self.failing_calls -= 1;
            return Err(SimError::Unreachable { api });
        }
        if let Some(i) = self.failing_apis.iter().position(|a| *a == api) {
            self.failing_apis.remove(i);
            return Err(SimError::Unreachable { api });
        }
        Ok(())
    }

    fn live_broker(&self, api: &'static str, id: BrokerId) -> Result<(), SimError> {
        match self.state.brokers.get(&id) {
            None => Err(SimError::UnknownBroker { api, broker: id }),
            Some(b) if !b.alive => Err(SimError::BrokerDown { api, broker: id }),
            Some(_) => Ok(()),
        }
    }
}

fn target_of(r: &ConfigResource) -> ConfigTarget {
    match r {
        ConfigResource::Broker(id) => ConfigTarget::Broker(*id),
        ConfigResource::Topic(t) => ConfigTarget::Topic(t.clone()),
    }
}

fn error_code(r: Refusal) -> ErrorCode {
    // Kafka sends no message where it has none to give.
    ErrorCode::new(r.code, (!r.message.is_empty()).then_some(r.message))
}

/// A simulated cluster; [`SimCluster::admin`] and [`SimCluster::clock`]
/// hand out handles sharing its state.
#[derive(Debug, Clone)]
pub struct SimCluster {
    inner: Rc<RefCell<Inner>>,
}

/// The simulated cluster as the executor's [`ClusterAdmin`].
#[derive(Debug, Clone)]
pub struct SimAdmin {
    inner: Rc<RefCell<Inner>>,
}

/// Simulated time: a sleep advances the cluster instead of waiting.
#[derive(Debug, Clone)]
pub struct SimClock {
    inner: Rc<RefCell<Inner>>,
}

impl SimCluster {
    pub fn builder() -> SimBuilder {
        SimBuilder::default()
    }

    pub fn admin(&self) -> SimAdmin {
        SimAdmin {
            inner: self.inner.clone(),
        }
    }

    pub fn clock(&self) -> SimClock {
        SimClock {
            inner: self.inner.clone(),
        }
    }

    /// Simulated time since the start.
    pub fn now(&self) -> Duration {
        self.inner.borrow().elapsed
    }

    /// Advances simulated time by `d`, as a sleep on the clock does.
    pub fn advance(&self, d: Duration) {
        self.inner.borrow_mut().advance(d);
    }

    /// Reads the controller state.
    pub fn inspect<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&self.inner.borrow().state)
    }

    /// Changes the controller state directly (anything the faults below
    /// do not cover).
    pub fn mutate<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.inner.borrow_mut().state)
    }

    /// Every AlterPartitionReassignments request received through the
    /// admin handle, in order (the builder's moves are not among them).
    pub fn alter_requests(&self) -> Vec<AlterRequest> {
        self.inner.borrow().alter_requests.clone()
    }

    /// Every AlterReplicaLogDirs call received through the admin handle,
    /// in order.
    pub fn dir_requests(&self) -> Vec<DirRequest> {
        self.inner.borrow().dir_requests.clone()
    }

    /// The log dir of `broker`'s replica of `tp` and that of its future
    /// log if it is moving between disks.
    pub fn replica_dir(
        &self,
        tp: &TopicPartition,
        broker: BrokerId,
    ) -> Option<(String, Option<String>)> {
        self.inspect(|s| {
            s.partition(&tp.topic, tp.partition)
                .and_then(|p| p.logs.get(&broker))
                .map(|r| (r.dir.clone(), r.future.as_ref().map(|f| f.dir.clone())))
        })
    }

    /// Bytes of `broker`'s replica of `tp` (its copy so far), if it has one.
    pub fn replica_bytes(&self, tp: &TopicPartition, broker: BrokerId) -> Option<u64> {
        self.inspect(|s| {
            s.partition(&tp.topic, tp.partition)
                .and_then(|p| p.logs.get(&broker))
                .map(|r| r.log.size())
        })
    }

    fn known(&self, id: BrokerId) -> Result<(), String> {
        if self.inspect(|s| s.brokers.contains_key(&id)) {
            Ok(())
        } else {
            Err(format!("no broker {id} in the simulated cluster"))
        }
    }

    /// Stops a broker as the mini-broker does: fenced, out of ISRs, its
    /// leaderships failed over, the controller moved if it held it.
    pub fn stop_broker(&self, id: BrokerId) -> Result<(), String> {
        self.known(id)?;
        if !self.inspect(|s| s.is_alive(id)) {
            return Err(format!("broker {id} is already stopped"));
        }
        self.mutate(|s| s.broker_stopped(id));
        Ok(())
    }

    /// Restarts a stopped broker; it catches up through replication.
    pub fn start_broker(&self, id: BrokerId) -> Result<(), String> {
        self.known(id)?;
        let mut inner = self.inner.borrow_mut();
        if inner.state.is_alive(id) {
            return Err(format!("broker {id} is already running"));
        }
        let now = inner.instant();
        let port = inner.state.brokers[&id].port;
        inner.state.broker_started(id, port, now);
        Ok(())
    }

    /// Hands the controller role to a live broker.
    pub fn set_controller(&self, id: BrokerId) -> Result<(), String> {
        self.known(id)?;
        self.mutate(|s| {
            if !s.is_alive(id) {
                return Err(format!("broker {id} is stopped and cannot be controller"));
            }
            s.controller = id;
            s.controller_epoch += 1;
            s.metadata_epoch += 1;
            Ok(())
        })
    }

    /// Pauses (or resumes) copying into `id`'s follower replicas while it
    /// stays up: a slow follower, which drops out of ISRs by lag.
    pub fn pause_replication(&self, id: BrokerId, paused: bool) -> Result<(), String> {
        self.known(id)?;
        self.mutate(|s| s.brokers.get_mut(&id).expect("known").replication_paused = paused);
        Ok(())
    }

    /// The next `n` admin calls fail before reaching the cluster, as after
    /// a lost connection the wire client gave up on.
    pub fn fail_next_calls(&self, n: u32) {
        self.inner.borrow_mut().failing_calls = n;
    }

    /// The next call of `api` (its Kafka name, e.g. `ElectLeaders`) fails
    /// before reaching the cluster; other calls go through.
    pub fn fail_next_call_of(&self, api: &'static str) {
        self.inner.borrow_mut().failing_apis.push(api);
    }

    /// Writes `bytes` more to a partition's leader (a producer at work);
    /// followers copy it in the following steps.
    pub fn append(&self, tp: &TopicPartition, bytes: u64) -> Result<(), String> {
        let mut inner = self.inner.borrow_mut();
        let batch = DEFAULT_BATCH_BYTES;
        let p = inner
            .state
            .partition_mut(&tp.topic, tp.partition)
            .ok_or_else(|| format!("no partition {tp}"))?;
        let leader = p.leader;
        let r = p
            .logs
            .get_mut(&leader)
            .ok_or_else(|| format!("{tp} has no leader"))?;
        let mut left = bytes;
        while left > 0 {
            let n = left.min(batch);
            r.log.append_sized(n, (n / 1000).max(1) as i64, 0);
            left -= n;
        }
        Ok(())
    }
}

impl Clock for SimClock {
    fn now(&self) -> Duration {
        self.inner.borrow().elapsed
    }

    async fn sleep(&mut self, d: Duration) {
        self.inner.borrow_mut().advance(d);
    }
}

impl ClusterAdmin for SimAdmin {
    type Error = SimError;

    /// As the wire client's snapshot sees it: live brokers from metadata,
    /// stopped ones only as named in replica lists (no rack), sizes from
    /// live brokers' log dirs (the leader's, else the largest).
    async fn cluster(&mut self) -> Result<Cluster, SimError> {
        let mut inner = self.inner.borrow_mut();
        inner.call("Metadata")?;
        let s = &inner.state;
        let mut brokers: BTreeMap<BrokerId, model::Broker> = s
            .brokers
            .values()
            .filter(|b| b.alive)
            .map(|b| {
                (
                    b.id,
                    model::Broker {
                        id: b.id,
                        rack: b.rack.clone(),
                        host: Some(b.host.clone()),
                        port: Some(b.port),
                        alive: true,
                    },
                )
            })
            .collect();
        let mut topics = Vec::new();
        for t in s.topics.values() {
            let mut partitions = Vec::new();
            for p in &t.partitions {
                for &b in &p.replicas {
                    brokers.entry(b).or_insert(model::Broker {
                        id: b,
                        rack: None,
                        host: None,
                        port: None,
                        alive: false,
                    });
                }
                let leader = (p.leader >= 0).then_some(p.leader);
                let live_sizes: BTreeMap<BrokerId, u64> = p
                    .logs
                    .iter()
                    .filter(|(b, _)| s.is_alive(**b))
                    .map(|(b, r)| (*b, r.log.size()))
                    .collect();
                let size = leader
                    .and_then(|l| live_sizes.get(&l).copied())
                    .or_else(|| live_sizes.values().max().copied())
                    .unwrap_or(0);
                partitions.push(model::Partition {
                    partition: p.index,
                    replicas: p.replicas.clone(),
                    isr: p.isr.clone(),
                    leader,
                    size_bytes: size,
                    in_flight: p.reassigning().then(|| {
                        Box::new(ModelInFlight {
                            target: p.target(),
                            adding: p.adding.clone(),
                            removing: p.removing.clone(),
                        })
                    }),
                });
            }
            topics.push(model::Topic {
                name: t.name.clone(),
                partitions,
            });
        }
        Ok(Cluster {
            brokers: brokers.into_values().collect(),
            topics,
        })
    }

    async fn list_reassignments(&mut self) -> Result<Vec<InFlight>, SimError> {
        let mut inner = self.inner.borrow_mut();
        inner.call("ListPartitionReassignments")?;
        let mut out = Vec::new();
        for t in inner.state.topics.values() {
            for p in t.partitions.iter().filter(|p| p.reassigning()) {
                out.push(InFlight {
                    tp: TopicPartition {
                        topic: t.name.clone(),
                        partition: p.index,
                    },
                    replicas: p.replicas.clone(),
                    adding: p.adding.clone(),
                    removing: p.removing.clone(),
                });
            }
        }
        Ok(out)
    }

    async fn replica_sizes(&mut self, brokers: &[BrokerId]) -> Result<ReplicaSizes, SimError> {
        let mut inner = self.inner.borrow_mut();
        inner.call("DescribeLogDirs")?;
        for &b in brokers {
            inner.live_broker("DescribeLogDirs", b)?;
        }
        let mut out = ReplicaSizes::new();
        for t in inner.state.topics.values() {
            for p in &t.partitions {
                for (b, r) in p.logs.iter().filter(|(b, _)| brokers.contains(b)) {
                    out.entry(TopicPartition {
                        topic: t.name.clone(),
                        partition: p.index,
                    })
                    .or_default()
                    .insert(*b, r.log.size());
                }
            }
        }
        Ok(out)
    }

    /// As DescribeLogDirs lists them: every dir of each broker, and each
    /// replica's current log and future log.
    async fn describe_log_dirs(&mut self, brokers: &[BrokerId]) -> Result<LogDirs, SimError> {
        let mut inner = self.inner.borrow_mut();
        inner.call("DescribeLogDirs")?;
        for &b in brokers {
            inner.live_broker("DescribeLogDirs", b)?;
        }
        let s = &inner.state;
        let mut out: LogDirs = brokers
            .iter()
            .map(|b| {
                let mut dirs = s.brokers[b].log_dirs.clone();
                dirs.sort();
                (
                    *b,
                    BrokerDirs {
                        dirs,
                        ..BrokerDirs::default()
                    },
                )
            })
            .collect();
        for t in s.topics.values() {
            for p in &t.partitions {
                for (b, r) in &p.logs {
                    let Some(on) = out.get_mut(b) else {
                        continue;
                    };
                    let tp = TopicPartition {
                        topic: t.name.clone(),
                        partition: p.index,
                    };
                    on.replicas.insert(
                        tp,
                        ReplicaDir {
                            dir: r.dir.clone(),
                            size: r.log.size(),
                            future: r.future.as_ref().map(|f| FutureDir {
                                dir: f.dir.clone(),
                                size: f.log.size(),
                            }),
                        },
                    );
                }
            }
        }
        Ok(out)
    }

    /// Each move through `State::alter_replica_log_dir`, as the broker's
    /// handler does.
    async fn alter_replica_log_dirs(
        &mut self,
        moves: &[DirMove],
    ) -> Result<Vec<DirResult>, SimError> {
        const API: &str = "AlterReplicaLogDirs";
        let mut inner = self.inner.borrow_mut();
        inner.call(API)?;
        for m in moves {
            inner.live_broker(API, m.broker)?;
        }
        let mut out: Vec<DirResult> = moves
            .iter()
            .map(|m| {
                let r = inner.state.alter_replica_log_dir(
                    m.broker,
                    &m.tp.topic,
                    m.tp.partition,
                    &m.dir,
                );
                (m.clone(), r.map_err(error_code))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        let at = inner.elapsed;
        inner.dir_requests.push(DirRequest {
            at,
            moves: moves.to_vec(),
        });
        Ok(out)
    }

    async fn alter_reassignments(
        &mut self,
        moves: &[(TopicPartition, Option<Vec<BrokerId>>)],
    ) -> Result<Vec<PartitionResult>, SimError> {
        let mut inner = self.inner.borrow_mut();
        inner.call("AlterPartitionReassignments")?;
        let now = inner.instant();
        let results = moves
            .iter()
            .map(|(tp, target)| {
                let r = inner
                    .state
                    .reassign(&tp.topic, tp.partition, target.clone(), now);
                (tp.clone(), r.map_err(error_code))
            })
            .collect();
        let at = inner.elapsed;
        inner.alter_requests.push(AlterRequest {
            at,
            moves: moves.to_vec(),
        });
        Ok(results)
    }

    /// Only the resources' own dynamic values, as the trait asks.
    async fn describe_configs(
        &mut self,
        resources: &[ConfigResource],
        keys: &[&str],
    ) -> Result<ConfigValues, SimError> {
        const API: &str = "DescribeConfigs";
        let mut inner = self.inner.borrow_mut();
        inner.call(API)?;
        let mut out = ConfigValues::new();
        for r in resources {
            if let ConfigResource::Broker(id) = r {
                inner.live_broker(API, *id)?;
            }
            let entries =
                inner
                    .state
                    .config_entries(&target_of(r))
                    .map_err(|e| SimError::Refused {
                        api: API,
                        resource: r.to_string(),
                        code: error_code(e),
                    })?;
            for e in entries {
                let dynamic = matches!(
                    e.source,
                    configs::source::DYNAMIC_TOPIC | configs::source::DYNAMIC_BROKER
                );
                if let (true, true, Some(v)) = (dynamic, keys.contains(&e.name.as_str()), e.value) {
                    out.insert((r.clone(), e.name), v);
                }
            }
        }
        Ok(out)
    }

    /// One request per resource, as the wire client sends them, each
    /// applied whole or not at all; the first refusal (in resource order)
    /// is the error, after the others were applied.
    async fn alter_configs(&mut self, ops: &[ConfigOp]) -> Result<(), SimError> {
        const API: &str = "IncrementalAlterConfigs";
        let mut inner = self.inner.borrow_mut();
        inner.call(API)?;
        let mut by_resource: BTreeMap<&ConfigResource, Vec<IncrementalOp>> = BTreeMap::new();
        for o in ops {
            by_resource
                .entry(&o.resource)
                .or_default()
                .push(IncrementalOp {
                    key: o.key.clone(),
                    op: o.op.code(),
                    value: o.op.wire_value(),
                });
        }
        for r in by_resource.keys() {
            if let ConfigResource::Broker(id) = r {
                inner.live_broker(API, *id)?;
            }
        }
        let mut first_refusal = None;
        for (r, ops) in by_resource {
            if let Err(e) = inner
                .state
                .alter_configs_incremental(&target_of(r), &ops, false)
            {
                first_refusal.get_or_insert(SimError::Refused {
                    api: API,
                    resource: r.to_string(),
                    code: error_code(e),
                });
            }
        }
        inner.state.metadata_epoch += 1;
        first_refusal.map_or(Ok(()), Err)
    }

    async fn elect_preferred(
        &mut self,
        partitions: &[TopicPartition],
    ) -> Result<Vec<PartitionResult>, SimError> {
        let mut inner = self.inner.borrow_mut();
        inner.call("ElectLeaders")?;
        Ok(partitions
            .iter()
            .map(|tp| {
                let r = inner.state.elect(&tp.topic, tp.partition, 0);
                (tp.clone(), r.map_err(error_code))
            })
            .collect())
    }
}

/// A partition to create: its replicas (the first is the preferred
/// leader) and its size in bytes.
#[derive(Debug, Clone)]
struct TopicSpec {
    name: String,
    partitions: Vec<(Vec<BrokerId>, u64)>,
}

/// Builds a [`SimCluster`]: brokers with racks, topics with assignments
/// and sizes, configs, moves already in flight, stopped brokers.
#[derive(Debug, Clone)]
pub struct SimBuilder {
    brokers: BTreeMap<BrokerId, Option<String>>,
    topics: Vec<TopicSpec>,
    topic_configs: Vec<(String, String, String)>,
    broker_configs: Vec<(BrokerId, String, String)>,
    moves: Vec<(TopicPartition, Vec<BrokerId>)>,
    dead: Vec<BrokerId>,
    step: Duration,
    batch_bytes: u64,
    replica_lag_max: Duration,
    log_dirs: usize,
}

impl Default for SimBuilder {
    fn default() -> Self {
        Self {
            brokers: BTreeMap::new(),
            topics: Vec::new(),
            topic_configs: Vec::new(),
            broker_configs: Vec::new(),
            moves: Vec::new(),
            dead: Vec::new(),
            step: DEFAULT_STEP,
            batch_bytes: DEFAULT_BATCH_BYTES,
            replica_lag_max: ClusterConfig::default().replica_lag_max,
            log_dirs: 1,
        }
    }
}

impl SimBuilder {
    /// One broker, in a rack or none.
    pub fn broker(mut self, id: BrokerId, rack: Option<&str>) -> Self {
        self.brokers.insert(id, rack.map(str::to_string));
        self
    }

    /// Brokers 1..=n, in `racks` racks named as the mini-broker names them
    /// (broker i in rack (i-1) mod racks; none when `racks` is 0).
    pub fn brokers(mut self, n: usize, racks: usize) -> Self {
        for i in 0..n {
            let rack = (racks > 0).then(|| model::rack_name(i % racks));
            self.brokers.insert(i as BrokerId + 1, rack);
        }
        self
    }

    /// A topic: each partition's replicas and size in bytes.
    pub fn topic(mut self, name: &str, partitions: &[(&[BrokerId], u64)]) -> Self {
        self.topics.push(TopicSpec {
            name: name.to_string(),
            partitions: partitions.iter().map(|(r, z)| (r.to_vec(), *z)).collect(),
        });
        self
    }

    /// A topic config set before the start (validated as a SET).
    pub fn topic_config(mut self, topic: &str, key: &str, value: &str) -> Self {
        self.topic_configs
            .push((topic.to_string(), key.to_string(), value.to_string()));
        self
    }

    /// A dynamic broker config set before the start (validated as a SET).
    pub fn broker_config(mut self, id: BrokerId, key: &str, value: &str) -> Self {
        self.broker_configs
            .push((id, key.to_string(), value.to_string()));
        self
    }

    /// A move already in flight at the start (submitted at time zero).
    pub fn moving(mut self, topic: &str, partition: i32, target: &[BrokerId]) -> Self {
        self.moves.push((
            TopicPartition {
                topic: topic.to_string(),
                partition,
            },
            target.to_vec(),
        ));
        self
    }

    /// A broker stopped at the start (after the moves were submitted).
    pub fn dead(mut self, id: BrokerId) -> Self {
        self.dead.push(id);
        self
    }

    /// The replication step (100 ms by default).
    pub fn step(mut self, step: Duration) -> Self {
        self.step = step;
        self
    }

    /// The size of the sized batches partitions are made of.
    pub fn batch_bytes(mut self, bytes: u64) -> Self {
        self.batch_bytes = bytes;
        self
    }

    /// `replica.lag.time.max.ms` (the mini-broker's default otherwise).
    pub fn replica_lag_max(mut self, d: Duration) -> Self {
        self.replica_lag_max = d;
        self
    }

    /// Log dirs per broker (one by default): `/sim/broker-ID/dN`; a
    /// replica starts in dir `partition mod N`, as the mini-broker places
    /// it.
    pub fn log_dirs(mut self, n: usize) -> Self {
        self.log_dirs = n;
        self
    }

    /// The cluster, or what in the description the controller refused.
    pub fn build(self) -> Result<SimCluster, String> {
        if self.step.is_zero() {
            return Err("the step must be longer than zero".into());
        }
        if self.brokers.is_empty() {
            return Err("a cluster needs at least one broker".into());
        }
        if self.log_dirs == 0 {
            return Err("a broker needs at least one log dir".into());
        }
        // A step copies what the server copies in the same time unthrottled,
        // and keeps two steps of idle throttle credit so a step's own
        // credit is never capped away.
        let tick = ClusterConfig::default().replication_tick;
        let per_step = MAX_COPY_PER_STEP as u128 * self.step.as_nanos() / tick.as_nanos().max(1);
        let timing = Timing {
            replica_lag_max: self.replica_lag_max,
            max_copy_per_step: usize::try_from(per_step).unwrap_or(usize::MAX).max(1),
            throttle_burst: (self.step * 2).max(throttle::BURST),
        };
        let brokers = self
            .brokers
            .iter()
            .map(|(&id, rack)| Broker {
                id,
                rack: rack.clone(),
                host: "sim".into(),
                port: 9092,
                alive: true,
                replication_paused: false,
                log_dirs: (0..self.log_dirs)
                    .map(|d| format!("/sim/broker-{id}/d{d}"))
                    .collect(),
                configs: BTreeMap::new(),
                leader_bucket: Default::default(),
                follower_bucket: Default::default(),
                dirs_bucket: Default::default(),
            })
            .collect();
        let mut state = State::new("sim-cluster".into(), brokers, timing);
        // The only clock read: every later instant is this plus simulated
        // time, and the state looks only at differences.
        let base = Instant::now();
        let refused = |what: String| move |r: Refusal| format!("{what}: {}", r.message);
        for t in &self.topics {
            let assignment = t.partitions.iter().map(|(r, _)| r.clone()).collect();
            state
                .create_topic(&t.name, assignment, BTreeMap::new(), base)
                .map_err(refused(format!("topic {}", t.name)))?;
            for (p, (_, bytes)) in t.partitions.iter().enumerate() {
                let log = PartitionLog::sized(*bytes, self.batch_bytes);
                state.load_partition(&t.name, p as i32, &log);
            }
        }
        let set = |key: &str, value: &str| IncrementalOp {
            key: key.to_string(),
            op: 0,
            value: Some(value.to_string()),
        };
        for (topic, key, value) in &self.topic_configs {
            state
                .alter_configs_incremental(
                    &ConfigTarget::Topic(topic.clone()),
                    &[set(key, value)],
                    false,
                )
                .map_err(refused(format!("topic {topic} config {key}")))?;
        }
        for (id, key, value) in &self.broker_configs {
            state
                .alter_configs_incremental(&ConfigTarget::Broker(*id), &[set(key, value)], false)
                .map_err(refused(format!("broker {id} config {key}")))?;
        }
        for (tp, target) in &self.moves {
            state
                .reassign(&tp.topic, tp.partition, Some(target.clone()), base)
                .map_err(refused(format!("move of {tp}")))?;
        }
        for &id in &self.dead {
            if !state.brokers.contains_key(&id) {
                return Err(format!("dead broker {id} is not one of the brokers"));
            }
            state.broker_stopped(id);
        }
        Ok(SimCluster {
            inner: Rc::new(RefCell::new(Inner {
                state,
                base,
                elapsed: Duration::ZERO,
                step: self.step,
                steps: 0,
                failing_calls: 0,
                failing_apis: Vec::new(),
                alter_requests: Vec::new(),
                dir_requests: Vec::new(),
            })),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::live::AlterOp;

    fn tp(topic: &str, partition: i32) -> TopicPartition {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }

    fn op(resource: ConfigResource, key: &str, op: AlterOp) -> ConfigOp {
        ConfigOp {
            resource,
            key: key.into(),
            op,
        }
    }

    /// Throttles a move of `topic`'s partitions as Kafka's tool does: the
    /// rate on the brokers, the leader and follower lists on the topic.
    async fn throttle(
        admin: &mut SimAdmin,
        rate: u64,
        brokers: &[BrokerId],
        topic: &str,
        leaders: &[&str],
        followers: &[&str],
    ) {
        let mut ops = Vec::new();
        for &b in brokers {
            for key in [throttle::LEADER_RATE, throttle::FOLLOWER_RATE] {
                ops.push(op(
                    ConfigResource::Broker(b),
                    key,
                    AlterOp::Set(rate.to_string()),
                ));
            }
        }
        let list = |v: &[&str]| AlterOp::Append(v.iter().map(|s| s.to_string()).collect());
        let t = ConfigResource::Topic(topic.into());
        ops.push(op(t.clone(), throttle::LEADER_REPLICAS, list(leaders)));
        ops.push(op(t, throttle::FOLLOWER_REPLICAS, list(followers)));
        admin.alter_configs(&ops).await.unwrap();
    }

    /// Sleeps in `slice` steps until no move is in flight; the time then.
    async fn until_done(admin: &mut SimAdmin, clock: &mut SimClock, slice: Duration) -> Duration {
        while !admin.list_reassignments().await.unwrap().is_empty() {
            assert!(clock.now() < Duration::from_secs(100_000), "never finishes");
            clock.sleep(slice).await;
        }
        clock.now()
    }

    #[tokio::test]
    async fn two_gigabytes_under_20_mb_s_take_100_s_of_simulated_time() {
        for step in [DEFAULT_STEP, Duration::from_secs(1)] {
            two_gigabytes_under_20_mb_s(step).await;
        }
    }

    async fn two_gigabytes_under_20_mb_s(step: Duration) {
        let wall = Instant::now();
        let sim = SimCluster::builder()
            .brokers(2, 2)
            .topic("t", &[(&[1], 2_000_000_000)])
            .step(step)
            .build()
            .unwrap();
        let (mut admin, mut clock) = (sim.admin(), sim.clock());
        throttle(&mut admin, 20_000_000, &[1, 2], "t", &["0:1"], &["0:2"]).await;
        let r = admin
            .alter_reassignments(&[(tp("t", 0), Some(vec![2]))])
            .await
            .unwrap();
        assert_eq!(r, vec![(tp("t", 0), Ok(()))]);
        clock.sleep(Duration::from_secs(50)).await;
        let half = admin.replica_sizes(&[2]).await.unwrap()[&tp("t", 0)][&2] as f64;
        assert!(
            (half / 1e9 - 1.0).abs() < 0.01,
            "{step:?}: {half} B after 50 s"
        );
        let took = until_done(&mut admin, &mut clock, Duration::from_secs(1)).await;
        assert!(
            (100..=102).contains(&took.as_secs()),
            "{step:?}: 2 GB at 20 MB/s took {took:?}"
        );
        let c = admin.cluster().await.unwrap();
        let p = &c.topics[0].partitions[0];
        assert_eq!((p.replicas.clone(), p.leader), (vec![2], Some(2)));
        assert_eq!(p.size_bytes, 2_000_000_000);
        assert!(p.in_flight.is_none());
        assert!(
            wall.elapsed() < Duration::from_secs(1),
            "wall time {:?}",
            wall.elapsed()
        );
    }

    #[tokio::test]
    async fn moves_into_one_broker_share_its_rate() {
        // Two 1 GB moves into broker 3 take as long as 2 GB would; into
        // brokers 3 and 4 they run side by side.
        for (targets, expect) in [([3, 3], 100), ([3, 4], 50)] {
            let sim = SimCluster::builder()
                .brokers(4, 2)
                .topic("t", &[(&[1], 1_000_000_000), (&[2], 1_000_000_000)])
                .build()
                .unwrap();
            let (mut admin, mut clock) = (sim.admin(), sim.clock());
            let followers = [format!("0:{}", targets[0]), format!("1:{}", targets[1])];
            let followers: Vec<&str> = followers.iter().map(String::as_str).collect();
            throttle(
                &mut admin,
                20_000_000,
                &[1, 2, 3, 4],
                "t",
                &["0:1", "1:2"],
                &followers,
            )
            .await;
            admin
                .alter_reassignments(&[
                    (tp("t", 0), Some(vec![targets[0]])),
                    (tp("t", 1), Some(vec![targets[1]])),
                ])
                .await
                .unwrap();
            clock.sleep(Duration::from_secs(20)).await;
            let sizes = admin.replica_sizes(&[3, 4]).await.unwrap();
            let copied: u64 = sizes.values().flat_map(|m| m.values()).sum();
            let per_target = copied as f64 / if targets[0] == targets[1] { 1.0 } else { 2.0 };
            assert!(
                (per_target / 400e6 - 1.0).abs() < 0.01,
                "{targets:?}: {copied} B in 20 s"
            );
            let took = until_done(&mut admin, &mut clock, Duration::from_millis(500)).await;
            assert!(
                took.as_secs_f64() >= expect as f64 && took.as_secs_f64() < expect as f64 * 1.02,
                "{targets:?} took {took:?}, expected {expect} s"
            );
        }
    }

    #[tokio::test]
    async fn unthrottled_moves_copy_at_the_mini_broker_s_default_rate() {
        let rate = default_rate();
        assert_eq!(rate, (4 << 20) * 200, "4 MiB per 5 ms tick");
        // A rate with no replica listed does not throttle, as in Kafka.
        for rated in [false, true] {
            let mut b = SimCluster::builder()
                .brokers(2, 0)
                .topic("t", &[(&[1], 4_000_000_000)]);
            if rated {
                b = b.broker_config(2, throttle::FOLLOWER_RATE, "1000");
            }
            let sim = b.build().unwrap();
            let (mut admin, mut clock) = (sim.admin(), sim.clock());
            admin
                .alter_reassignments(&[(tp("t", 0), Some(vec![2]))])
                .await
                .unwrap();
            let took = until_done(&mut admin, &mut clock, Duration::from_millis(100)).await;
            let expect = 4e9 / rate as f64;
            assert!(
                (took.as_secs_f64() - expect).abs() <= 0.2,
                "rated {rated}: took {took:?}, expected {expect:.2} s"
            );
        }
    }

    #[tokio::test]
    async fn incremental_configs_round_trip_through_describe() {
        let sim = SimCluster::builder()
            .brokers(3, 0)
            .topic("t", &[(&[1, 2], 0), (&[2, 3], 0)])
            .topic_config("t", throttle::LEADER_REPLICAS, "1:2")
            .topic_config("t", "retention.ms", "1000")
            .broker_config(1, throttle::LEADER_RATE, "500")
            .build()
            .unwrap();
        let mut admin = sim.admin();
        let t = ConfigResource::Topic("t".into());
        let b1 = ConfigResource::Broker(1);
        let b2 = ConfigResource::Broker(2);
        let keys = [
            throttle::LEADER_REPLICAS,
            throttle::FOLLOWER_REPLICAS,
            throttle::LEADER_RATE,
            throttle::FOLLOWER_RATE,
        ];
        let items = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        admin
            .alter_configs(&[
                op(
                    t.clone(),
                    throttle::LEADER_REPLICAS,
                    AlterOp::Append(items(&["0:1", "1:2", "0:2"])),
                ),
                op(
                    t.clone(),
                    throttle::LEADER_REPLICAS,
                    AlterOp::Subtract(items(&["1:2"])),
                ),
                op(
                    b2.clone(),
                    throttle::FOLLOWER_RATE,
                    AlterOp::Set("700".into()),
                ),
            ])
            .await
            .unwrap();
        let all = [t.clone(), b1.clone(), b2.clone()];
        let got = admin.describe_configs(&all, &keys).await.unwrap();
        let want: ConfigValues = [
            (
                (t.clone(), throttle::LEADER_REPLICAS.into()),
                "0:1,0:2".into(),
            ),
            ((b1.clone(), throttle::LEADER_RATE.into()), "500".into()),
            ((b2.clone(), throttle::FOLLOWER_RATE.into()), "700".into()),
        ]
        .into();
        // Only dynamic values: not the unset follower list (a default), not
        // retention.ms (not asked for), no static broker configs.
        assert_eq!(got, want);
        // A bad list entry refuses its resource whole, names it, and leaves
        // the other resources of the call applied.
        let e = admin
            .alter_configs(&[
                op(
                    t.clone(),
                    throttle::FOLLOWER_REPLICAS,
                    AlterOp::Append(items(&["0:3"])),
                ),
                op(
                    t.clone(),
                    throttle::LEADER_REPLICAS,
                    AlterOp::Append(items(&["x"])),
                ),
                op(b1.clone(), throttle::LEADER_RATE, AlterOp::Delete),
            ])
            .await
            .unwrap_err();
        match &e {
            SimError::Refused { resource, code, .. } => {
                assert_eq!(resource, "topic t");
                assert_eq!(code.code, super::super::code::INVALID_CONFIG);
            }
            other => panic!("{other}"),
        }
        assert!(
            e.to_string().contains("IncrementalAlterConfigs: topic t"),
            "{e}"
        );
        let got = admin.describe_configs(&all, &keys).await.unwrap();
        let want: ConfigValues = [
            (
                (t.clone(), throttle::LEADER_REPLICAS.into()),
                "0:1,0:2".into(),
            ),
            ((b2.clone(), throttle::FOLLOWER_RATE.into()), "700".into()),
        ]
        .into();
        assert_eq!(got, want);
        // A broker accepts only the throttle rates, as integers.
        for bad in [
            op(b1.clone(), "log.retention.ms", AlterOp::Set("1".into())),
            op(
                b1.clone(),
                throttle::LEADER_RATE,
                AlterOp::Set("fast".into()),
            ),
        ] {
            assert!(matches!(
                admin.alter_configs(&[bad]).await,
                Err(SimError::Refused { .. })
            ));
        }
        // Subtracting every item leaves the key set to an empty list.
        admin
            .alter_configs(&[op(
                t.clone(),
                throttle::LEADER_REPLICAS,
                AlterOp::Subtract(items(&["0:1", "0:2"])),
            )])
            .await
            .unwrap();
        let got = admin
            .describe_configs(std::slice::from_ref(&t), &keys)
            .await
            .unwrap();
        assert_eq!(got[&(t.clone(), throttle::LEADER_REPLICAS.into())], "");
        let unknown = ConfigResource::Topic("nope".into());
        assert!(matches!(
            admin.describe_configs(&[unknown], &keys).await,
            Err(SimError::Refused { .. })
        ));
    }

    #[tokio::test]
    async fn a_cancel_reverts_the_move() {
        let sim = SimCluster::builder()
            .brokers(3, 0)
            .topic("t", &[(&[1, 2], 1_000_000_000)])
            .build()
            .unwrap();
        let (mut admin, mut clock) = (sim.admin(), sim.clock());
        throttle(
            &mut admin,
            10_000_000,
            &[1, 3],
            "t",
            &["0:1", "0:2"],
            &["0:3"],
        )
        .await;
        admin
            .alter_reassignments(&[(tp("t", 0), Some(vec![3, 2]))])
            .await
            .unwrap();
        clock.sleep(Duration::from_secs(10)).await;
        let moving = admin.list_reassignments().await.unwrap();
        assert_eq!(moving.len(), 1);
        assert_eq!(moving[0].replicas, vec![3, 2, 1]);
        assert_eq!(moving[0].target(), vec![3, 2]);
        assert_eq!(moving[0].original(), vec![2, 1]);
        let copied = admin.replica_sizes(&[3]).await.unwrap()[&tp("t", 0)][&3];
        assert!((copied as f64 / 100e6 - 1.0).abs() < 0.01, "{copied}");
        let r = admin
            .alter_reassignments(&[(tp("t", 0), None)])
            .await
            .unwrap();
        assert_eq!(r, vec![(tp("t", 0), Ok(()))]);
        assert!(admin.list_reassignments().await.unwrap().is_empty());
        // Back to replicas - adding, in that order (as Kafka 4.x does: the
        // original order is not restored), the leader unchanged.
        let c = admin.cluster().await.unwrap();
        let p = &c.topics[0].partitions[0];
        assert_eq!((p.replicas.clone(), p.leader), (vec![2, 1], Some(1)));
        assert!(p.in_flight.is_none());
        assert!(admin.replica_sizes(&[3]).await.unwrap().is_empty());
        // A second cancel finds nothing to cancel, without a message.
        let r = admin
            .alter_reassignments(&[(tp("t", 0), None), (tp("u", 0), None)])
            .await
            .unwrap();
        assert_eq!(
            r[0].1,
            Err(ErrorCode::new(ErrorCode::NO_REASSIGNMENT_IN_PROGRESS, None))
        );
        assert_eq!(r[1].1.as_ref().unwrap_err().code, 3, "unknown topic");
        assert_eq!(sim.alter_requests().len(), 3);
    }

    #[tokio::test]
    async fn preferred_elections() {
        let sim = SimCluster::builder()
            .brokers(3, 0)
            .topic("t", &[(&[1, 2], 10_000_000)])
            .build()
            .unwrap();
        let (mut admin, mut clock) = (sim.admin(), sim.clock());
        let r = admin
            .elect_preferred(&[tp("t", 0), tp("t", 7)])
            .await
            .unwrap();
        assert_eq!(
            r[0].1.as_ref().unwrap_err().code,
            ErrorCode::ELECTION_NOT_NEEDED
        );
        assert_eq!(r[1].1.as_ref().unwrap_err().code, 3);
        // Leadership fails over to 2 while 1 is down; once 1 is back in
        // sync, the election gives it back.
        sim.stop_broker(1).unwrap();
        let leader = |c: &Cluster| c.topics[0].partitions[0].leader;
        assert_eq!(leader(&admin.cluster().await.unwrap()), Some(2));
        sim.start_broker(1).unwrap();
        let r = admin.elect_preferred(&[tp("t", 0)]).await.unwrap();
        assert_eq!(
            r[0].1.as_ref().unwrap_err().code,
            super::super::code::PREFERRED_LEADER_NOT_AVAILABLE,
            "1 is not in sync yet"
        );
        clock.sleep(Duration::from_secs(1)).await;
        let r = admin.elect_preferred(&[tp("t", 0)]).await.unwrap();
        assert_eq!(r, vec![(tp("t", 0), Ok(()))]);
        assert_eq!(leader(&admin.cluster().await.unwrap()), Some(1));
    }

    /// A run with several moves, throttles, a move in flight from the start
    /// and a stopped broker, observed at every whole second up to 40 s,
    /// sleeping in the given slices.
    async fn observed_run(slices: &[Duration]) -> Vec<String> {
        let sim = SimCluster::builder()
            .brokers(5, 2)
            .topic(
                "a",
                &[
                    (&[1, 2], 300_000_000),
                    (&[2, 3], 500_000_000),
                    (&[3, 4], 700_000_000),
                ],
            )
            .topic("b", &[(&[4, 1], 200_000_000), (&[5, 1], 1_000)])
            .topic_config("b", throttle::FOLLOWER_REPLICAS, "0:2")
            .broker_config(2, throttle::FOLLOWER_RATE, "15000000")
            .moving("b", 0, &[2, 1])
            .dead(5)
            .build()
            .unwrap();
        let (mut admin, mut clock) = (sim.admin(), sim.clock());
        throttle(
            &mut admin,
            20_000_000,
            &[1, 2, 3, 4],
            "a",
            &["0:1", "0:2", "1:2", "1:3", "2:3", "2:4"],
            &["0:4", "1:1", "2:1"],
        )
        .await;
        admin
            .alter_reassignments(&[
                (tp("a", 0), Some(vec![4, 2])),
                (tp("a", 1), Some(vec![1, 3])),
                (tp("a", 2), Some(vec![3, 1])),
            ])
            .await
            .unwrap();
        let mut trace = Vec::new();
        let mut slices = slices.iter().cycle();
        for second in 1..=40u64 {
            while clock.now() < Duration::from_secs(second) {
                clock.sleep(*slices.next().unwrap()).await;
            }
            assert_eq!(clock.now(), Duration::from_secs(second), "slices add up");
            let moving = admin.list_reassignments().await.unwrap();
            trace.push(format!(
                "{second}: {} moving {moving:?} {:?} {:?}",
                moving.len(),
                admin.replica_sizes(&[1, 2, 3, 4]).await.unwrap(),
                admin.cluster().await.unwrap()
            ));
        }
        trace
    }

    #[tokio::test]
    async fn runs_are_deterministic_however_time_is_sliced() {
        let whole = observed_run(&[Duration::from_secs(1)]).await;
        assert_eq!(whole, observed_run(&[Duration::from_secs(1)]).await);
        let ms = Duration::from_millis;
        assert_eq!(whole, observed_run(&[ms(300), ms(700)]).await);
        assert_eq!(
            whole,
            observed_run(&[ms(50), ms(150), ms(30), ms(770)]).await
        );
        // The run did move things: 200 MB into broker 2 at 15 MB/s and
        // 300 MB into 4 at 20 MB/s finish; into broker 1 at 20 MB/s, 800 MB
        // of 1.2 GB have come in 40 s, shared fetch by fetch: a-1 and a-2
        // about 400 MB each, neither whole.
        assert!(whole[0].starts_with("1: 4 moving"), "{}", whole[0]);
        assert!(whole[39].starts_with("40: 2 moving"), "{}", whole[39]);
        assert!(
            whole[39].contains("partition: 1 }: {1: 400556032, 2: 5")
                && whole[39].contains("partition: 2 }: {1: 400556032, 3: 7"),
            "{}",
            whole[39]
        );
    }

    #[tokio::test]
    async fn faults_staged_for_the_executor() {
        let sim = SimCluster::builder()
            .brokers(4, 2)
            .topic("t", &[(&[1, 2], 100_000_000)])
            .topic("u", &[(&[4, 1], 50_000_000)])
            .moving("t", 0, &[3, 2])
            .dead(4)
            .build()
            .unwrap();
        let (mut admin, mut clock) = (sim.admin(), sim.clock());
        // A stopped broker: named by replica lists only, without a rack,
        // as metadata shows it; calls it must answer fail.
        let c = admin.cluster().await.unwrap();
        let ids: Vec<_> = c.brokers.iter().map(|b| (b.id, b.alive)).collect();
        assert_eq!(ids, vec![(1, true), (2, true), (3, true), (4, false)]);
        assert_eq!(c.brokers[3].rack, None);
        assert_eq!(c.brokers[2].rack.as_deref(), Some("rack-a"));
        assert_eq!(c.topics[1].partitions[0].leader, Some(1));
        assert_eq!(
            admin.replica_sizes(&[1, 4]).await.unwrap_err(),
            SimError::BrokerDown {
                api: "DescribeLogDirs",
                broker: 4
            }
        );
        assert!(matches!(
            admin
                .describe_configs(&[ConfigResource::Broker(4)], &[throttle::LEADER_RATE])
                .await,
            Err(SimError::BrokerDown { broker: 4, .. })
        ));
        assert_eq!(
            admin.replica_sizes(&[9]).await.unwrap_err().to_string(),
            "DescribeLogDirs: no broker 9 in the cluster"
        );
        // Lost connections, then recovery.
        sim.fail_next_calls(2);
        assert!(matches!(
            admin.list_reassignments().await,
            Err(SimError::Unreachable { .. })
        ));
        assert!(admin.cluster().await.is_err());
        assert_eq!(admin.list_reassignments().await.unwrap().len(), 1);
        // A slow follower: the move into 3 does not progress while paused.
        sim.pause_replication(3, true).unwrap();
        clock.sleep(Duration::from_secs(5)).await;
        assert_eq!(sim.replica_bytes(&tp("t", 0), 3), Some(0));
        assert_eq!(admin.list_reassignments().await.unwrap().len(), 1);
        sim.pause_replication(3, false).unwrap();
        clock.sleep(Duration::from_secs(1)).await;
        assert!(admin.list_reassignments().await.unwrap().is_empty());
        // A move into a stopped broker waits for it.
        admin
            .alter_reassignments(&[(tp("t", 0), Some(vec![4, 2]))])
            .await
            .unwrap();
        clock.sleep(Duration::from_secs(30)).await;
        assert_eq!(admin.list_reassignments().await.unwrap().len(), 1);
        sim.start_broker(4).unwrap();
        clock.sleep(Duration::from_secs(1)).await;
        assert!(admin.list_reassignments().await.unwrap().is_empty());
        assert_eq!(sim.replica_bytes(&tp("u", 0), 4), Some(50_000_000));
        // The controller moves to live brokers only.
        assert!(sim.set_controller(9).is_err());
        sim.stop_broker(2).unwrap();
        assert!(sim.stop_broker(2).is_err());
        assert!(sim.set_controller(2).is_err());
        sim.set_controller(3).unwrap();
        assert_eq!(sim.inspect(|s| s.controller), 3);
        // A producer at work: the followers copy what the leader gets.
        sim.append(&tp("u", 0), 1_000_000).unwrap();
        clock.sleep(Duration::from_millis(100)).await;
        assert_eq!(sim.replica_bytes(&tp("u", 0), 1), Some(51_000_000));
        assert_eq!(sim.replica_bytes(&tp("u", 0), 4), Some(51_000_000));
    }

    #[test]
    fn the_builder_refuses_what_the_controller_refuses() {
        let base = || SimCluster::builder().brokers(3, 0);
        let e = base().topic("t", &[(&[1, 7], 0)]).build().unwrap_err();
        assert!(e.contains("broker 7"), "{e}");
        let e = base()
            .topic("t", &[(&[1], 0)])
            .topic_config("t", throttle::LEADER_REPLICAS, "0-1")
            .build()
            .unwrap_err();
        assert!(e.contains("topic t config leader.replication"), "{e}");
        let e = base()
            .broker_config(1, "num.io.threads", "8")
            .build()
            .unwrap_err();
        assert!(e.contains("unsupported dynamic broker config"), "{e}");
        assert!(base().dead(4).build().is_err());
        assert!(base().step(Duration::ZERO).build().is_err());
        assert!(SimCluster::builder().build().is_err());
        let e = base().moving("nope", 0, &[1]).build().unwrap_err();
        assert!(e.contains("move of nope-0"), "{e}");
    }

    #[test]
    fn gigabytes_cost_megabytes() {
        // 100 GB in three replicas: the batch records, not the bytes.
        let sim = SimCluster::builder()
            .brokers(3, 0)
            .topic("big", &[(&[1, 2, 3], 100_000_000_000)])
            .build()
            .unwrap();
        let batches = sim.inspect(|s| s.partition("big", 0).unwrap().logs[&1].log.batch_count());
        assert_eq!(
            batches as u64,
            100_000_000_000_u64.div_ceil(DEFAULT_BATCH_BYTES)
        );
        assert_eq!(sim.replica_bytes(&tp("big", 0), 3), Some(100_000_000_000));
    }
}
