//! Replication throttles for a plan (KIP-73), computed as Kafka's own
//! `kafka-reassign-partitions.sh --execute --throttle` computes them, and
//! the config operations that set them and later restore exactly what an
//! operator had before.
//!
//! # What Kafka's tool does (ReassignPartitionsCommand)
//!
//! 1. The *move map* (`calculateProposedMoveMap`): every move already in
//!    flight contributes sources `replicas - adding` and destinations
//!    `adding`. Every partition of the plan then gets sources = the
//!    in-flight move's sources if it is moving (the replicas it started
//!    from), else its current replicas; destinations = target - sources.
//!    A planned partition that is neither moving nor known is an error.
//!    In-flight moves outside the plan stay in the map: their topics get
//!    throttle lists and their brokers get the rate too.
//! 2. Per topic, `leader.replication.throttled.replicas` lists
//!    `partition:source` for every source and
//!    `follower.replication.throttled.replicas` lists
//!    `partition:destination` for every destination (`calculateLeader
//!    Throttles`, `calculateFollowerThrottles`). Entries are de-duplicated
//!    and ordered as *strings* (a Java `TreeSet<String>`), so `10:1` comes
//!    before `1:1`. A topic whose partitions only reorder gets an empty
//!    follower list.
//! 3. `leader.replication.throttled.rate` and
//!    `follower.replication.throttled.rate` are set to the same value on
//!    every broker that is a source or a destination of any move in the map
//!    (`calculateReassigningBrokers`), reorders included.
//! 4. `replica.alter.log.dirs.io.max.bytes.per.second` goes to every broker
//!    the plan names with an explicit log dir (not `any`), whether or not
//!    that replica actually changes disk (`calculateMovingBrokers`); moves
//!    in flight play no part.
//!
//! Kafka's tool SETs the topic lists (wiping an operator's own entries) and
//! at the end DELETEs every throttle key on every broker and plan topic.
//! Here the lists are *appended* to (IncrementalAlterConfigs APPEND), and
//! restoring puts back exactly what was there: a rate to its old value or
//! deleted if there was none, a list minus only the entries this tool
//! added. With nothing set beforehand the resulting values are byte for
//! byte the strings Kafka's tool sets, except that an empty list (the
//! follower list of a topic that only reorders) is left unset rather than
//! set to the empty string: both throttle nothing.
//!
//! # Invariants
//!
//! - Pure and deterministic: maps are `BTreeMap`s, lists in Kafka's order,
//!   operations sorted by resource then key.
//! - `set_ops` never appends to a list that is `*` (it already throttles
//!   every replica, and Kafka refuses `*` mixed with entries).
//! - `restore_ops` after `set_ops`, with nobody else changing the configs in
//!   between, gives back the values that were there before (property
//!   tested through [`apply_alter`], a model of the controller's semantics).
//! - A value someone else changed since we set it is left alone and
//!   reported, never overwritten.

use std::collections::{BTreeMap, BTreeSet};

pub use crate::model::live::ConfigValues;
use crate::model::live::{AlterOp, ConfigOp, ConfigResource, InFlight};
use crate::model::reassignment::{ANY_LOG_DIR, Move};
use crate::model::{BrokerId, TopicPartition};

pub const LEADER_REPLICAS: &str = "leader.replication.throttled.replicas";
pub const FOLLOWER_REPLICAS: &str = "follower.replication.throttled.replicas";
pub const LEADER_RATE: &str = "leader.replication.throttled.rate";
pub const FOLLOWER_RATE: &str = "follower.replication.throttled.rate";
pub const LOG_DIRS_RATE: &str = "replica.alter.log.dirs.io.max.bytes.per.second";

/// One partition's entry in the move map: the brokers it copies from and
/// the brokers it copies to (which never overlap).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PartitionMove {
    pub sources: BTreeSet<BrokerId>,
    pub destinations: BTreeSet<BrokerId>,
}

/// Topic -> partition -> move, for every partition that is moving or will.
pub type MoveMap = BTreeMap<String, BTreeMap<i32, PartitionMove>>;

/// Planned partitions that are neither moving nor in the current
/// assignment: Kafka's tool refuses them ("with 0 replicas") and so do we.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no current replicas for {}", .0.iter().map(|tp| tp.to_string()).collect::<Vec<_>>().join(", "))]
pub struct UnknownPartitions(pub Vec<TopicPartition>);

/// The move map of `plan` merged with the moves in flight
/// (`calculateProposedMoveMap`). `current` holds the replicas of at least
/// every planned partition that is not in flight.
pub fn move_map(
    plan: &[Move],
    current: &BTreeMap<TopicPartition, Vec<BrokerId>>,
    in_flight: &[InFlight],
) -> Result<MoveMap, UnknownPartitions> {
    let mut map = MoveMap::new();
    for m in in_flight {
        let sources: BTreeSet<BrokerId> = m.original().into_iter().collect();
        let destinations: BTreeSet<BrokerId> = m.adding.iter().copied().collect();
        map.entry(m.tp.topic.clone()).or_default().insert(
            m.tp.partition,
            PartitionMove {
                sources,
                destinations,
            },
        );
    }
    let mut unknown = Vec::new();
    for m in plan {
        let parts = map.entry(m.tp.topic.clone()).or_default();
        let sources: BTreeSet<BrokerId> = match (parts.get(&m.tp.partition), current.get(&m.tp)) {
            (Some(moving), _) => moving.sources.clone(),
            (None, Some(replicas)) => replicas.iter().copied().collect(),
            (None, None) => {
                unknown.push(m.tp.clone());
                continue;
            }
        };
        let destinations = m
            .replicas
            .iter()
            .copied()
            .filter(|b| !sources.contains(b))
            .collect();
        parts.insert(
            m.tp.partition,
            PartitionMove {
                sources,
                destinations,
            },
        );
    }
    if !unknown.is_empty() {
        unknown.sort();
        return Err(UnknownPartitions(unknown));
    }
    Ok(map)
}

/// The two topic-level lists for one topic, each in Kafka's order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TopicThrottle {
    /// `partition:broker` for every source of every moving partition.
    pub leader: Vec<String>,
    /// `partition:broker` for every destination.
    pub follower: Vec<String>,
}

impl TopicThrottle {
    /// The value Kafka's tool sets for `leader.replication.throttled.replicas`.
    pub fn leader_value(&self) -> String {
        self.leader.join(",")
    }

    /// The value Kafka's tool sets for `follower.replication.throttled.replicas`
    /// (empty for a topic whose partitions only reorder).
    pub fn follower_value(&self) -> String {
        self.follower.join(",")
    }
}

/// Every throttle Kafka's tool would set for a plan.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Throttles {
    pub topics: BTreeMap<String, TopicThrottle>,
    /// Brokers that get the leader and follower replication rates.
    pub brokers: BTreeSet<BrokerId>,
    /// Brokers that get the log-dir (disk to disk) rate.
    pub log_dir_brokers: BTreeSet<BrokerId>,
}

/// Kafka's element order: the distinct `partition:broker` strings, sorted
/// as strings.
fn kafka_list(entries: impl Iterator<Item = (i32, BrokerId)>) -> Vec<String> {
    entries
        .map(|(p, b)| format!("{p}:{b}"))
        .collect::<BTreeSet<String>>()
        .into_iter()
        .collect()
}

impl Throttles {
    /// The throttles for `plan` given the current replicas and the moves in
    /// flight, exactly as Kafka's tool computes them.
    pub fn compute(
        plan: &[Move],
        current: &BTreeMap<TopicPartition, Vec<BrokerId>>,
        in_flight: &[InFlight],
    ) -> Result<Throttles, UnknownPartitions> {
        let map = move_map(plan, current, in_flight)?;
        let mut t = Throttles::from_move_map(&map);
        t.log_dir_brokers = plan
            .iter()
            .flat_map(|m| {
                m.replicas
                    .iter()
                    .zip(&m.log_dirs)
                    .filter(|(_, dir)| dir.as_str() != ANY_LOG_DIR)
                    .map(|(b, _)| *b)
            })
            .collect();
        Ok(t)
    }

    /// The topic lists and rate brokers of a move map (no log dirs).
    pub fn from_move_map(map: &MoveMap) -> Throttles {
        let mut t = Throttles::default();
        for (topic, parts) in map {
            let leader = kafka_list(
                parts
                    .iter()
                    .flat_map(|(&p, m)| m.sources.iter().map(move |&b| (p, b))),
            );
            let follower = kafka_list(parts.iter().flat_map(|(&p, m)| {
                m.destinations
                    .iter()
                    .filter(|b| !m.sources.contains(b))
                    .map(move |&b| (p, b))
            }));
            t.topics
                .insert(topic.clone(), TopicThrottle { leader, follower });
            for m in parts.values() {
                t.brokers.extend(m.sources.iter().chain(&m.destinations));
            }
        }
        t
    }
}

/// The rates to set; `None` leaves that kind of throttle alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rates {
    /// Bytes per second for the leader and follower replication rates.
    pub replication: Option<u64>,
    /// Bytes per second for moves between disks of one broker.
    pub log_dirs: Option<u64>,
}

/// What this tool changed on one key, for the journal: enough to undo its
/// own part and nothing else.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Undo {
    /// A single value (a rate): what it was before our first change
    /// (`None`: not set) and what we set last.
    Value {
        resource: ConfigResource,
        key: String,
        before: Option<String>,
        set: String,
    },
    /// Entries we appended to a list, in the order appended, and whether
    /// the key was set before our first append (if not, removing our
    /// entries deletes the key rather than leaving an empty value).
    Entries {
        resource: ConfigResource,
        key: String,
        existed_before: bool,
        added: Vec<String>,
    },
}

impl Undo {
    fn target(&self) -> (&ConfigResource, &str) {
        match self {
            Undo::Value { resource, key, .. } | Undo::Entries { resource, key, .. } => {
                (resource, key)
            }
        }
    }
}

/// The operations that put throttles in force, and the complete undo
/// record (the previous record carried forward plus this change). Write
/// the record to the journal *before* sending the operations: undoing an
/// operation that never ran is harmless (subtracting absent entries,
/// setting a rate to the value it has).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ThrottleChange {
    pub ops: Vec<ConfigOp>,
    pub undo: Vec<Undo>,
}

/// The entries of a list config as the controller reads them: split on
/// commas, empty parts dropped, nothing trimmed.
pub fn list_parts(value: Option<&str>) -> Vec<String> {
    value
        .unwrap_or("")
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Whether a throttled-replicas value is the wildcard (Kafka's validator
/// trims entries and accepts exactly `*`).
pub fn is_wildcard(value: Option<&str>) -> bool {
    value.is_some_and(|v| v.split(',').map(str::trim).collect::<String>() == "*")
}

/// Operations that set `throttles` with `rates`, given the values set now
/// and the undo record of earlier calls in this run (empty at first).
///
/// Call it again to change the rate mid-move or to extend the lists for a
/// later batch: a key already in `previous` keeps its original `before`,
/// and entries we appended earlier stay ours.
pub fn set_ops(
    throttles: &Throttles,
    rates: Rates,
    now: &ConfigValues,
    previous: &[Undo],
) -> ThrottleChange {
    let mut record: BTreeMap<(ConfigResource, String), Undo> = previous
        .iter()
        .map(|u| {
            let (r, k) = u.target();
            ((r.clone(), k.to_string()), u.clone())
        })
        .collect();
    let mut ops = Vec::new();

    for (topic, lists) in &throttles.topics {
        let resource = ConfigResource::Topic(topic.clone());
        for (key, ours) in [
            (LEADER_REPLICAS, &lists.leader),
            (FOLLOWER_REPLICAS, &lists.follower),
        ] {
            let id = (resource.clone(), key.to_string());
            let value = now.get(&id).map(String::as_str);
            if is_wildcard(value) {
                continue;
            }
            let present = list_parts(value);
            let missing: Vec<String> = ours
                .iter()
                .filter(|e| !present.contains(e))
                .cloned()
                .collect();
            if missing.is_empty() {
                continue;
            }
            ops.push(ConfigOp {
                resource: resource.clone(),
                key: key.to_string(),
                op: AlterOp::Append(missing.clone()),
            });
            match record.get_mut(&id) {
                Some(Undo::Entries { added, .. }) => {
                    for e in missing {
                        if !added.contains(&e) {
                            added.push(e);
                        }
                    }
                }
                _ => {
                    record.insert(
                        id,
                        Undo::Entries {
                            resource: resource.clone(),
                            key: key.to_string(),
                            existed_before: value.is_some(),
                            added: missing,
                        },
                    );
                }
            }
        }
    }

    let mut set_rate = |broker: BrokerId, key: &str, rate: u64| {
        let resource = ConfigResource::Broker(broker);
        let id = (resource.clone(), key.to_string());
        let before = match record.get(&id) {
            Some(Undo::Value { before, .. }) => before.clone(),
            _ => now.get(&id).cloned(),
        };
        ops.push(ConfigOp {
            resource: resource.clone(),
            key: key.to_string(),
            op: AlterOp::Set(rate.to_string()),
        });
        record.insert(
            id,
            Undo::Value {
                resource,
                key: key.to_string(),
                before,
                set: rate.to_string(),
            },
        );
    };
    if let Some(rate) = rates.replication {
        for &b in &throttles.brokers {
            set_rate(b, LEADER_RATE, rate);
            set_rate(b, FOLLOWER_RATE, rate);
        }
    }
    if let Some(rate) = rates.log_dirs {
        for &b in &throttles.log_dir_brokers {
            set_rate(b, LOG_DIRS_RATE, rate);
        }
    }

    ops.sort();
    ThrottleChange {
        ops,
        undo: record.into_values().collect(),
    }
}

/// A value we would restore but someone else changed after we set it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LeftAlone {
    pub resource: ConfigResource,
    pub key: String,
    /// What we set.
    pub ours: String,
    /// What is there now (`None`: deleted).
    pub now: Option<String>,
}

/// What restoring writes, and what it leaves alone.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Restore {
    pub ops: Vec<ConfigOp>,
    pub left_alone: Vec<LeftAlone>,
}

/// Operations that take back exactly what `undo` records, given the values
/// set now: a rate we set goes back to its old value (or is deleted if
/// there was none); our list entries are subtracted (the key deleted if it
/// was not set before and only ours remain). A rate someone changed since
/// is left alone and reported.
pub fn restore_ops(undo: &[Undo], now: &ConfigValues) -> Restore {
    let mut out = Restore::default();
    for u in undo {
        match u {
            Undo::Value {
                resource,
                key,
                before,
                set,
            } => {
                let id = (resource.clone(), key.clone());
                let current = now.get(&id);
                if current == before.as_ref() {
                    continue;
                }
                if current != Some(set) {
                    out.left_alone.push(LeftAlone {
                        resource: resource.clone(),
                        key: key.clone(),
                        ours: set.clone(),
                        now: current.cloned(),
                    });
                    continue;
                }
                out.ops.push(ConfigOp {
                    resource: resource.clone(),
                    key: key.clone(),
                    op: match before {
                        Some(v) => AlterOp::Set(v.clone()),
                        None => AlterOp::Delete,
                    },
                });
            }
            Undo::Entries {
                resource,
                key,
                existed_before,
                added,
            } => {
                let id = (resource.clone(), key.clone());
                let parts = list_parts(now.get(&id).map(String::as_str));
                let ours: Vec<String> = added
                    .iter()
                    .filter(|e| parts.contains(e))
                    .cloned()
                    .collect();
                if ours.is_empty() {
                    continue;
                }
                let others = parts.iter().any(|p| !ours.contains(p));
                let op = if !existed_before && !others {
                    AlterOp::Delete
                } else {
                    AlterOp::Subtract(ours)
                };
                out.ops.push(ConfigOp {
                    resource: resource.clone(),
                    key: key.clone(),
                    op,
                });
            }
        }
    }
    out.ops.sort();
    out.left_alone.sort();
    out
}

/// Applies operations to config values as Kafka's controller does
/// (`ConfigurationControlManager.incrementalAlterConfigResource`): SET and
/// DELETE replace; APPEND splits the current value (or the empty default)
/// on commas, drops empty parts, adds each value not already present and
/// joins with commas; SUBTRACT removes one occurrence of each value. The
/// throttled-replica lists are then validated as Kafka validates them;
/// on an error nothing is changed (Kafka's request is per-resource atomic;
/// here the whole slice is).
///
/// The executor's own tests and an in-process cluster use it to check
/// that what `set_ops` sends is accepted and `restore_ops` undoes it.
pub fn apply_alter(values: &mut ConfigValues, ops: &[ConfigOp]) -> Result<(), String> {
    let mut next = values.clone();
    for c in ops {
        let id = (c.resource.clone(), c.key.clone());
        let new = match &c.op {
            AlterOp::Set(v) => Some(v.clone()),
            AlterOp::Delete => None,
            AlterOp::Append(vs) | AlterOp::Subtract(vs) => {
                let mut parts = list_parts(next.get(&id).map(String::as_str));
                for v in vs.join(",").split(',') {
                    if matches!(c.op, AlterOp::Append(_)) {
                        if !parts.iter().any(|p| p == v) {
                            parts.push(v.to_string());
                        }
                    } else if let Some(i) = parts.iter().position(|p| p == v) {
                        parts.remove(i);
                    }
                }
                Some(parts.join(","))
            }
        };
        if let Some(v) = &new
            && (c.key == LEADER_REPLICAS || c.key == FOLLOWER_REPLICAS)
        {
            check_replica_list(&c.key, v)?;
        }
        match new {
            Some(v) => next.insert(id, v),
            None => next.remove(&id),
        };
    }
    *values = next;
    Ok(())
}

/// Kafka's `ThrottledReplicaListValidator`: every trimmed entry is empty or
/// `digits:digits`, or the entries together are exactly `*`.
fn check_replica_list(key: &str, value: &str) -> Result<(), String> {
    let entries: Vec<&str> = value.split(',').map(str::trim).collect();
    let entry_ok = |s: &str| {
        s.is_empty()
            || s.split_once(':').is_some_and(|(p, b)| {
                !p.is_empty()
                    && !b.is_empty()
                    && p.bytes().all(|c| c.is_ascii_digit())
                    && b.bytes().all(|c| c.is_ascii_digit())
            })
    };
    if entries.iter().all(|s| entry_ok(s)) || entries.concat() == "*" {
        Ok(())
    } else {
        Err(format!(
            "{key} must be the literal '*' or a list of replicas in the format \
             [partitionId]:[brokerId],... (got {value:?})"
        ))
    }
}

#[cfg(test)]
mod tests;
