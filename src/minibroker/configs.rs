//! Dynamic configs as the controller decides them: which keys a broker
//! accepts, the validation of throttled-replica lists, AlterConfigs (the
//! whole set replaced) and IncrementalAlterConfigs (SET, DELETE, APPEND,
//! SUBTRACT) semantics, and what DescribeConfigs lists with which source.
//!
//! Shared by the wire handlers (`api/configs.rs`, which add routing) and
//! the in-process simulator (`sim`). No I/O; the caller bumps the metadata
//! epoch once per request.

use std::collections::BTreeMap;

use super::code;
use super::state::{BrokerId, Refusal, State, TopicDefaults};
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
    pub const DYNAMIC_DEFAULT_BROKER: i8 = 3;
    pub const STATIC_BROKER: i8 = 4;
    pub const DEFAULT: i8 = 5;
}

/// The resource a config request is about, once resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigTarget {
    Broker(BrokerId),
    Topic(String),
}

/// Kafka's config types as DescribeConfigs (v3+) names them.
mod ty {
    pub const BOOLEAN: i8 = 1;
    pub const STRING: i8 = 2;
    pub const INT: i8 = 3;
    pub const LONG: i8 = 5;
    pub const DOUBLE: i8 = 6;
    pub const LIST: i8 = 7;
}

/// `min.insync.replicas`: refuses acks=all produce to a smaller ISR.
pub const MIN_INSYNC_REPLICAS: &str = "min.insync.replicas";
/// `segment.bytes`: where a replica's segment files roll (with a data dir).
pub const SEGMENT_BYTES: &str = "segment.bytes";

/// `min.insync.replicas` from a topic's own configs, else `default` (the
/// broker's).
pub fn min_insync_replicas_of(configs: &BTreeMap<String, String>, default: usize) -> usize {
    configs
        .get(MIN_INSYNC_REPLICAS)
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(default)
}

/// Every topic config Kafka 4.3.1 lists, in its (alphabetical) order:
/// name, default, type, and the broker config that supplies the default
/// (listed as a DEFAULT_CONFIG synonym). Taken from `kafka-configs
/// --describe --all` on a fresh topic; the keys without a synonym there
/// have none here either. `min.insync.replicas` is special-cased: Kafka
/// 4.x's controller writes it as a cluster-wide dynamic default.
const TOPIC_CONFIGS: [(&str, &str, i8, Option<&str>); 33] = [
    (
        "cleanup.policy",
        "delete",
        ty::LIST,
        Some("log.cleanup.policy"),
    ),
    (
        "compression.gzip.level",
        "-1",
        ty::INT,
        Some("compression.gzip.level"),
    ),
    (
        "compression.lz4.level",
        "9",
        ty::INT,
        Some("compression.lz4.level"),
    ),
    (
        "compression.type",
        "producer",
        ty::STRING,
        Some("compression.type"),
    ),
    (
        "compression.zstd.level",
        "3",
        ty::INT,
        Some("compression.zstd.level"),
    ),
    (
        "delete.retention.ms",
        "86400000",
        ty::LONG,
        Some("log.cleaner.delete.retention.ms"),
    ),
    (
        "file.delete.delay.ms",
        "60000",
        ty::LONG,
        Some("log.segment.delete.delay.ms"),
    ),
    (
        "flush.messages",
        "9223372036854775807",
        ty::LONG,
        Some("log.flush.interval.messages"),
    ),
    ("flush.ms", "9223372036854775807", ty::LONG, None),
    (throttle::FOLLOWER_REPLICAS, "", ty::LIST, None),
    (
        "index.interval.bytes",
        "4096",
        ty::INT,
        Some("log.index.interval.bytes"),
    ),
    (throttle::LEADER_REPLICAS, "", ty::LIST, None),
    (
        "local.retention.bytes",
        "-2",
        ty::LONG,
        Some("log.local.retention.bytes"),
    ),
    (
        "local.retention.ms",
        "-2",
        ty::LONG,
        Some("log.local.retention.ms"),
    ),
    (
        "max.compaction.lag.ms",
        "9223372036854775807",
        ty::LONG,
        Some("log.cleaner.max.compaction.lag.ms"),
    ),
    (
        "max.message.bytes",
        "1048588",
        ty::INT,
        Some("message.max.bytes"),
    ),
    (
        "message.timestamp.after.max.ms",
        "3600000",
        ty::LONG,
        Some("log.message.timestamp.after.max.ms"),
    ),
    (
        "message.timestamp.before.max.ms",
        "9223372036854775807",
        ty::LONG,
        Some("log.message.timestamp.before.max.ms"),
    ),
    (
        "message.timestamp.type",
        "CreateTime",
        ty::STRING,
        Some("log.message.timestamp.type"),
    ),
    (
        "min.cleanable.dirty.ratio",
        "0.5",
        ty::DOUBLE,
        Some("log.cleaner.min.cleanable.ratio"),
    ),
    (
        "min.compaction.lag.ms",
        "0",
        ty::LONG,
        Some("log.cleaner.min.compaction.lag.ms"),
    ),
    (MIN_INSYNC_REPLICAS, "1", ty::INT, Some(MIN_INSYNC_REPLICAS)),
    ("preallocate", "false", ty::BOOLEAN, Some("log.preallocate")),
    ("remote.log.copy.disable", "false", ty::BOOLEAN, None),
    ("remote.log.delete.on.disable", "false", ty::BOOLEAN, None),
    ("remote.storage.enable", "false", ty::BOOLEAN, None),
    (
        "retention.bytes",
        "-1",
        ty::LONG,
        Some("log.retention.bytes"),
    ),
    ("retention.ms", "604800000", ty::LONG, None),
    (
        SEGMENT_BYTES,
        "1073741824",
        ty::INT,
        Some("log.segment.bytes"),
    ),
    (
        "segment.index.bytes",
        "10485760",
        ty::INT,
        Some("log.index.size.max.bytes"),
    ),
    ("segment.jitter.ms", "0", ty::LONG, None),
    ("segment.ms", "604800000", ty::LONG, None),
    (
        "unclean.leader.election.enable",
        "false",
        ty::BOOLEAN,
        Some("unclean.leader.election.enable"),
    ),
];

/// One synonym of a config: where else its value could come from, in
/// Kafka's precedence order (the first one is the value's own source).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Synonym {
    pub name: String,
    pub value: Option<String>,
    pub source: i8,
}

/// One config as DescribeConfigs lists it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConfigEntry {
    pub name: String,
    pub value: Option<String>,
    pub source: i8,
    /// Kafka's config type (1 boolean, 2 string, 3 int, 5 long, 6 double,
    /// 7 list).
    pub config_type: i8,
    /// Not dynamically alterable on this resource (a broker's static
    /// configs); Kafka lists every topic config as alterable.
    pub read_only: bool,
    pub synonyms: Vec<Synonym>,
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
            if let Some(v) = value
                && key == MIN_INSYNC_REPLICAS
                && !v.parse::<i32>().is_ok_and(|n| n >= 1)
            {
                // Kafka's words for a value below the range `[1,...]`.
                return Err(Refusal::new(
                    code::INVALID_CONFIG,
                    format!("Invalid value {v} for configuration {key}: Value must be at least 1"),
                ));
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

    /// `min.insync.replicas` of a topic: its own value, else the broker
    /// default.
    pub fn min_insync_replicas(&self, topic: &str) -> usize {
        let default = usize::from(self.topic_defaults.min_insync_replicas);
        self.topics
            .get(topic)
            .map_or(default, |t| min_insync_replicas_of(&t.configs, default))
    }

    /// `segment.bytes` of a topic: its own value, else the broker default
    /// (`log.segment.bytes`).
    pub fn segment_bytes(&self, topic: &str) -> u64 {
        self.topics
            .get(topic)
            .and_then(|t| t.configs.get(SEGMENT_BYTES))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(self.topic_defaults.segment_bytes)
    }

    /// Every config DescribeConfigs lists for the target, in its order,
    /// with synonyms: for a broker the throttle rates while set (Kafka lists
    /// these dynamic-only keys only then), then its static configs (read
    /// only) and the topic defaults; for a topic every topic config Kafka
    /// has, its own value (DYNAMIC_TOPIC_CONFIG) or the default.
    pub fn config_entries(&self, target: &ConfigTarget) -> Result<Vec<ConfigEntry>, Refusal> {
        self.check_config_target(target)?;
        let syn = |name: &str, value: Option<String>, source: i8| Synonym {
            name: name.to_string(),
            value,
            source,
        };
        // An entry whose only source is itself.
        let entry = |name: &str, value: Option<String>, source: i8, config_type: i8, read_only| {
            ConfigEntry {
                name: name.to_string(),
                synonyms: vec![syn(name, value.clone(), source)],
                value,
                source,
                config_type,
                read_only,
            }
        };
        let mut entries = Vec::new();
        match target {
            ConfigTarget::Broker(id) => {
                let b = &self.brokers[id];
                for k in BROKER_KEYS {
                    if let Some(v) = b.configs.get(k) {
                        entries.push(entry(
                            k,
                            Some(v.clone()),
                            source::DYNAMIC_BROKER,
                            ty::LONG,
                            false,
                        ));
                    }
                }
                entries.push(entry(
                    "broker.id",
                    Some(id.to_string()),
                    source::STATIC_BROKER,
                    ty::INT,
                    true,
                ));
                entries.push(entry(
                    "broker.rack",
                    b.rack.clone(),
                    source::STATIC_BROKER,
                    ty::STRING,
                    true,
                ));
                entries.push(entry(
                    "log.dirs",
                    Some(b.log_dirs.join(",")),
                    source::STATIC_BROKER,
                    ty::STRING,
                    true,
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
                    ty::BOOLEAN,
                    true,
                ));
                entries.push(entry(
                    "num.partitions",
                    Some(d.partitions.to_string()),
                    src(d.partitions == k.partitions),
                    ty::INT,
                    true,
                ));
                entries.push(entry(
                    "default.replication.factor",
                    Some(d.replication_factor.to_string()),
                    src(d.replication_factor == k.replication_factor),
                    ty::INT,
                    true,
                ));
            }
            ConfigTarget::Topic(name) => {
                let t = &self.topics[name];
                for (key, default, config_type, broker_key) in TOPIC_CONFIGS {
                    let mut synonyms = Vec::new();
                    if let Some(v) = t.configs.get(key) {
                        synonyms.push(syn(key, Some(v.clone()), source::DYNAMIC_TOPIC));
                    }
                    if key == MIN_INSYNC_REPLICAS {
                        synonyms.push(syn(
                            key,
                            Some(self.topic_defaults.min_insync_replicas.to_string()),
                            source::DYNAMIC_DEFAULT_BROKER,
                        ));
                    }
                    if key == SEGMENT_BYTES
                        && self.topic_defaults.segment_bytes
                            != TopicDefaults::default().segment_bytes
                    {
                        synonyms.push(syn(
                            "log.segment.bytes",
                            Some(self.topic_defaults.segment_bytes.to_string()),
                            source::STATIC_BROKER,
                        ));
                    }
                    if let Some(bk) = broker_key {
                        synonyms.push(syn(bk, Some(default.to_string()), source::DEFAULT));
                    }
                    let (value, source) = match synonyms.first() {
                        Some(s) => (s.value.clone(), s.source),
                        None => (Some(default.to_string()), source::DEFAULT),
                    };
                    entries.push(ConfigEntry {
                        name: key.to_string(),
                        value,
                        source,
                        config_type,
                        read_only: false,
                        synonyms,
                    });
                }
                // Keys Kafka does not know are not refused yet; list them.
                for (k, v) in &t.configs {
                    if !TOPIC_CONFIGS.iter().any(|c| c.0 == k) {
                        entries.push(entry(
                            k,
                            Some(v.clone()),
                            source::DYNAMIC_TOPIC,
                            ty::STRING,
                            false,
                        ));
                    }
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
            self.configs_changed(target);
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
            self.configs_changed(target);
        }
        Ok(())
    }

    /// A topic's segment files roll at its `segment.bytes` from the next
    /// roll on, as Kafka's do.
    fn configs_changed(&mut self, target: &ConfigTarget) {
        if let ConfigTarget::Topic(topic) = target {
            let bytes = self.segment_bytes(topic);
            for p in self
                .topics
                .get_mut(topic)
                .into_iter()
                .flat_map(|t| &mut t.partitions)
            {
                for r in p.logs.values_mut() {
                    let future = r.future.as_mut().map(|f| &mut f.log);
                    for log in std::iter::once(&mut r.log).chain(future) {
                        if let Some(store) = log.store_mut() {
                            store.set_segment_bytes(bytes);
                        }
                    }
                }
            }
        }
    }
}
