//! Dynamic configs as the controller decides them: which keys a broker
//! accepts, the validation of throttled-replica lists, AlterConfigs (the
//! whole set replaced) and IncrementalAlterConfigs (SET, DELETE, APPEND,
//! SUBTRACT) semantics, and what DescribeConfigs lists with which source.
//!
//! Shared by the wire handlers (`api/configs.rs`, which add routing) and
//! the in-process simulator (`sim`). No I/O; the caller bumps the metadata
//! epoch once per request.

use std::collections::BTreeMap;

use super::state::{BrokerId, Refusal, State, TopicDefaults, code};
use super::throttle;

/// The dynamic broker configs accepted: the three throttle rates.
pub const BROKER_KEYS: [&str; 3] = [
    throttle::LEADER_RATE,
    throttle::FOLLOWER_RATE,
    throttle::ALTER_DIRS_RATE,
];

/// DescribeConfigs' config sources.
pub mod source {
    pub const DYNAMIC_TOPIC: i8 = 1;
    pub const DYNAMIC_BROKER: i8 = 2;
    pub const STATIC_BROKER: i8 = 4;
    pub const DEFAULT: i8 = 5;
}

/// The resource a config request is about, once resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigTarget {
    Broker(BrokerId),
    Topic(String),
}

/// One config as DescribeConfigs lists it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConfigEntry {
    pub name: String,
    pub value: Option<String>,
    pub source: i8,
    /// Kafka's config type (1 boolean, 2 string, 3 int, 5 long, 7 list).
    pub config_type: i8,
}

/// One IncrementalAlterConfigs operation as the wire carries it: the
/// operation code (0 SET, 1 DELETE, 2 APPEND, 3 SUBTRACT) and list values
/// joined with commas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncrementalOp {
    pub key: String,
    pub op: i8,
    pub value: Option<String>,
}

/// Checks one value for a key of the target (`None`: a delete).
pub fn validate(target: &ConfigTarget, key: &str, value: Option<&str>) -> Result<(), Refusal> {
    match target {
        ConfigTarget::Broker(_) => {
            if !BROKER_KEYS.contains(&key) {
                return Err(Refusal::new(
                    code::INVALID_CONFIG,
                    format!("unsupported dynamic broker config {key}"),
                ));
            }
            if let Some(v) = value
                && v.parse::<u64>().is_err()
            {
                return Err(Refusal::new(
                    code::INVALID_CONFIG,
                    format!("{key} must be a non-negative integer, got {v:?}"),
                ));
            }
        }
        ConfigTarget::Topic(_) => {
            if let Some(v) = value
                && (key == throttle::LEADER_REPLICAS || key == throttle::FOLLOWER_REPLICAS)
            {
                throttle::validate_list(v).map_err(|m| Refusal::new(code::INVALID_CONFIG, m))?;
            }
        }
    }
    Ok(())
}

impl State {
    /// Refuses a topic that does not exist (a broker target is resolved by
    /// whoever routes the request to it).
    pub fn check_config_target(&self, target: &ConfigTarget) -> Result<(), Refusal> {
        match target {
            ConfigTarget::Broker(id) if !self.brokers.contains_key(id) => Err(Refusal::new(
                code::INVALID_REQUEST,
                format!("unknown broker {id}"),
            )),
            ConfigTarget::Topic(name) if !self.topics.contains_key(name) => Err(Refusal::new(
                code::UNKNOWN_TOPIC_OR_PARTITION,
                format!("unknown topic {name}"),
            )),
            _ => Ok(()),
        }
    }

    fn configs_mut(&mut self, target: &ConfigTarget) -> &mut BTreeMap<String, String> {
        match target {
            ConfigTarget::Broker(id) => &mut self.brokers.get_mut(id).expect("checked").configs,
            ConfigTarget::Topic(t) => &mut self.topics.get_mut(t).expect("checked").configs,
        }
    }

    /// Every config DescribeConfigs lists for the target, in its order:
    /// for a broker the throttle rates while set (Kafka lists these
    /// dynamic-only keys only then), then its static configs and the topic
    /// defaults; for a topic every config, sorted, with the two throttled
    /// lists as empty defaults when unset.
    pub fn config_entries(&self, target: &ConfigTarget) -> Result<Vec<ConfigEntry>, Refusal> {
        self.check_config_target(target)?;
        let entry = |name: &str, value: Option<String>, source: i8, config_type: i8| ConfigEntry {
            name: name.to_string(),
            value,
            source,
            config_type,
        };
        let mut entries = Vec::new();
        match target {
            ConfigTarget::Broker(id) => {
                let b = &self.brokers[id];
                for k in BROKER_KEYS {
                    if let Some(v) = b.configs.get(k) {
                        entries.push(entry(k, Some(v.clone()), source::DYNAMIC_BROKER, 5));
                    }
                }
                entries.push(entry(
                    "broker.id",
                    Some(id.to_string()),
                    source::STATIC_BROKER,
                    3,
                ));
                entries.push(entry(
                    "broker.rack",
                    b.rack.clone(),
                    source::STATIC_BROKER,
                    2,
                ));
                entries.push(entry(
                    "log.dirs",
                    Some(b.log_dirs.join(",")),
                    source::STATIC_BROKER,
                    2,
                ));
                // Static when set away from Kafka's defaults, default otherwise.
                let d = &self.topic_defaults;
                let k = TopicDefaults::default();
                let src = |same: bool| {
                    if same {
                        source::DEFAULT
                    } else {
                        source::STATIC_BROKER
                    }
                };
                entries.push(entry(
                    "auto.create.topics.enable",
                    Some(d.auto_create.to_string()),
                    src(d.auto_create == k.auto_create),
                    1,
                ));
                entries.push(entry(
                    "num.partitions",
                    Some(d.partitions.to_string()),
                    src(d.partitions == k.partitions),
                    3,
                ));
                entries.push(entry(
                    "default.replication.factor",
                    Some(d.replication_factor.to_string()),
                    src(d.replication_factor == k.replication_factor),
                    3,
                ));
            }
            ConfigTarget::Topic(name) => {
                let t = &self.topics[name];
                for k in [throttle::LEADER_REPLICAS, throttle::FOLLOWER_REPLICAS] {
                    if !t.configs.contains_key(k) {
                        entries.push(entry(k, Some(String::new()), source::DEFAULT, 7));
                    }
                }
                for (k, v) in &t.configs {
                    entries.push(entry(k, Some(v.clone()), source::DYNAMIC_TOPIC, 2));
                }
                entries.sort();
            }
        }
        Ok(entries)
    }

    /// AlterConfigs: validates every value, then (unless `validate_only`)
    /// replaces the target's whole dynamic config set with them.
    pub fn replace_configs(
        &mut self,
        target: &ConfigTarget,
        configs: &[(String, Option<String>)],
        validate_only: bool,
    ) -> Result<(), Refusal> {
        self.check_config_target(target)?;
        for (k, v) in configs {
            validate(target, k, v.as_deref())?;
        }
        if !validate_only {
            let map = self.configs_mut(target);
            map.clear();
            for (k, v) in configs {
                if let Some(v) = v {
                    map.insert(k.clone(), v.clone());
                }
            }
        }
        Ok(())
    }

    /// IncrementalAlterConfigs: applies the operations in order to a copy
    /// of the target's configs and keeps the result only if all succeed
    /// (and not `validate_only`). APPEND adds each listed item not yet
    /// present after the existing ones, SUBTRACT removes each; the result is
    /// validated as a whole value.
    pub fn alter_configs_incremental(
        &mut self,
        target: &ConfigTarget,
        ops: &[IncrementalOp],
        validate_only: bool,
    ) -> Result<(), Refusal> {
        self.check_config_target(target)?;
        let mut map = self.configs_mut(target).clone();
        for c in ops {
            let key = c.key.clone();
            match c.op {
                0 => {
                    let v = c.value.clone().ok_or_else(|| {
                        Refusal::new(code::INVALID_REQUEST, format!("SET of {key} needs a value"))
                    })?;
                    validate(target, &key, Some(&v))?;
                    map.insert(key, v);
                }
                1 => {
                    map.remove(&key);
                }
                op @ (2 | 3) => {
                    let v = c.value.clone().unwrap_or_default();
                    let mut items: Vec<String> = map
                        .get(&key)
                        .map(|x| {
                            x.split(',')
                                .map(|i| i.trim().to_string())
                                .filter(|i| !i.is_empty())
                                .collect()
                        })
                        .unwrap_or_default();
                    for item in v.split(',').map(str::trim).filter(|i| !i.is_empty()) {
                        if op == 2 && !items.iter().any(|i| i == item) {
                            items.push(item.to_string());
                        } else if op == 3 {
                            items.retain(|i| i != item);
                        }
                    }
                    let joined = items.join(",");
                    validate(target, &key, Some(&joined))?;
                    map.insert(key, joined);
                }
                op => {
                    return Err(Refusal::new(
                        code::INVALID_REQUEST,
                        format!("unknown config operation {op}"),
                    ));
                }
            }
        }
        if !validate_only {
            *self.configs_mut(target) = map;
        }
        Ok(())
    }
}
