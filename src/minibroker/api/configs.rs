//! DescribeConfigs (32), AlterConfigs (33), IncrementalAlterConfigs (44).
//!
//! Routing as in Kafka: a BROKER resource must name the receiving broker,
//! otherwise INVALID_REQUEST (42); a TOPIC resource goes to any broker.
//! Dynamic broker configs accepted: the three throttle rates. Topic
//! configs: anything, with the throttled-replicas lists validated.

use std::collections::BTreeMap;

use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResponse, DescribeConfigsResult,
};
use kafka_protocol::messages::{
    AlterConfigsRequest, AlterConfigsResponse, DescribeConfigsRequest,
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse, alter_configs_response,
    incremental_alter_configs_response,
};

use crate::minibroker::log::sb;
use crate::minibroker::server::BrokerCtx;
use crate::minibroker::state::{Refusal, State, TopicDefaults, code};
use crate::minibroker::throttle;

const TOPIC: i8 = 2;
const BROKER: i8 = 4;
const BROKER_KEYS: [&str; 3] = [
    throttle::LEADER_RATE,
    throttle::FOLLOWER_RATE,
    throttle::ALTER_DIRS_RATE,
];

enum Target {
    Broker(i32),
    Topic(String),
}

fn resolve(ctx: &BrokerCtx, s: &State, resource_type: i8, name: &str) -> Result<Target, Refusal> {
    match resource_type {
        BROKER => match name.parse::<i32>() {
            Ok(id) if id == ctx.id => Ok(Target::Broker(id)),
            _ => Err(Refusal::new(
                code::INVALID_REQUEST,
                format!(
                    "broker config resource {name:?} sent to broker {}: it must name the receiving broker",
                    ctx.id
                ),
            )),
        },
        TOPIC => {
            if s.topics.contains_key(name) {
                Ok(Target::Topic(name.to_string()))
            } else {
                Err(Refusal::new(
                    code::UNKNOWN_TOPIC_OR_PARTITION,
                    format!("unknown topic {name}"),
                ))
            }
        }
        t => Err(Refusal::new(
            code::INVALID_REQUEST,
            format!("unsupported resource type {t}"),
        )),
    }
}

fn validate(target: &Target, key: &str, value: Option<&str>) -> Result<(), Refusal> {
    match target {
        Target::Broker(_) => {
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
        Target::Topic(_) => {
            if let Some(v) = value
                && (key == throttle::LEADER_REPLICAS || key == throttle::FOLLOWER_REPLICAS)
            {
                throttle::validate_list(v).map_err(|m| Refusal::new(code::INVALID_CONFIG, m))?;
            }
        }
    }
    Ok(())
}

fn configs_mut<'a>(s: &'a mut State, target: &Target) -> &'a mut BTreeMap<String, String> {
    match target {
        Target::Broker(id) => &mut s.brokers.get_mut(id).expect("resolved").configs,
        Target::Topic(t) => &mut s.topics.get_mut(t).expect("resolved").configs,
    }
}

pub async fn describe(
    ctx: &BrokerCtx,
    req: DescribeConfigsRequest,
    version: i16,
) -> DescribeConfigsResponse {
    let s = ctx.shared.state.lock();
    let results = req
        .resources
        .iter()
        .map(|r| {
            let res = DescribeConfigsResult::default()
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name.clone());
            let target = match resolve(ctx, &s, r.resource_type, r.resource_name.as_str()) {
                Ok(t) => t,
                Err(e) => {
                    return res
                        .with_error_code(e.code)
                        .with_error_message(Some(sb(e.message)));
                }
            };
            // (name, value, source, type): source 1 topic, 2 dynamic broker, 4 static, 5 default.
            let mut entries: Vec<(String, Option<String>, i8, i8)> = Vec::new();
            match &target {
                Target::Broker(id) => {
                    let b = &s.brokers[id];
                    // As Kafka does, the dynamic-only throttle rates are
                    // listed only while set.
                    for k in BROKER_KEYS {
                        if let Some(v) = b.configs.get(k) {
                            entries.push((k.into(), Some(v.clone()), 2, 5));
                        }
                    }
                    entries.push(("broker.id".into(), Some(id.to_string()), 4, 3));
                    entries.push(("broker.rack".into(), b.rack.clone(), 4, 2));
                    entries.push(("log.dirs".into(), Some(b.log_dirs.join(",")), 4, 2));
                    // The topic defaults: static when set away from Kafka's
                    // defaults, default otherwise.
                    let d = &s.topic_defaults;
                    let k = TopicDefaults::default();
                    let source = |same: bool| if same { 5 } else { 4 };
                    entries.push((
                        "auto.create.topics.enable".into(),
                        Some(d.auto_create.to_string()),
                        source(d.auto_create == k.auto_create),
                        1,
                    ));
                    entries.push((
                        "num.partitions".into(),
                        Some(d.partitions.to_string()),
                        source(d.partitions == k.partitions),
                        3,
                    ));
                    entries.push((
                        "default.replication.factor".into(),
                        Some(d.replication_factor.to_string()),
                        source(d.replication_factor == k.replication_factor),
                        3,
                    ));
                }
                Target::Topic(name) => {
                    let t = &s.topics[name];
                    for k in [throttle::LEADER_REPLICAS, throttle::FOLLOWER_REPLICAS] {
                        if !t.configs.contains_key(k) {
                            entries.push((k.into(), Some(String::new()), 5, 7));
                        }
                    }
                    for (k, v) in &t.configs {
                        entries.push((k.clone(), Some(v.clone()), 1, 2));
                    }
                    entries.sort();
                }
            }
            let wanted = r.configuration_keys.as_ref();
            let configs = entries
                .into_iter()
                .filter(|(k, ..)| wanted.is_none_or(|w| w.iter().any(|x| x.as_str() == k)))
                .map(|(k, v, source, ty)| {
                    let c = DescribeConfigsResourceResult::default()
                        .with_name(sb(k))
                        .with_value(v.map(sb))
                        .with_config_source(source);
                    if version >= 3 {
                        c.with_config_type(ty)
                    } else {
                        c
                    }
                })
                .collect();
            res.with_configs(configs)
        })
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}

pub async fn alter(
    ctx: &BrokerCtx,
    req: AlterConfigsRequest,
    _version: i16,
) -> AlterConfigsResponse {
    let mut s = ctx.shared.state.lock();
    let responses = req
        .resources
        .iter()
        .map(|r| {
            let res = alter_configs_response::AlterConfigsResourceResponse::default()
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name.clone());
            let outcome =
                resolve(ctx, &s, r.resource_type, r.resource_name.as_str()).and_then(|target| {
                    for c in &r.configs {
                        validate(
                            &target,
                            c.name.as_str(),
                            c.value.as_ref().map(|v| v.as_str()),
                        )?;
                    }
                    if !req.validate_only {
                        // AlterConfigs replaces the resource's whole dynamic config set.
                        let map = configs_mut(&mut s, &target);
                        map.clear();
                        for c in &r.configs {
                            if let Some(v) = &c.value {
                                map.insert(c.name.to_string(), v.to_string());
                            }
                        }
                    }
                    Ok(())
                });
            match outcome {
                Ok(()) => res,
                Err(e) => res
                    .with_error_code(e.code)
                    .with_error_message(Some(sb(e.message))),
            }
        })
        .collect();
    s.metadata_epoch += 1;
    AlterConfigsResponse::default().with_responses(responses)
}

pub async fn incremental(
    ctx: &BrokerCtx,
    req: IncrementalAlterConfigsRequest,
    _version: i16,
) -> IncrementalAlterConfigsResponse {
    let mut s = ctx.shared.state.lock();
    let responses = req
        .resources
        .iter()
        .map(|r| {
            let res = incremental_alter_configs_response::AlterConfigsResourceResponse::default()
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name.clone());
            let outcome =
                resolve(ctx, &s, r.resource_type, r.resource_name.as_str()).and_then(|target| {
                    let mut map = configs_mut(&mut s, &target).clone();
                    for c in &r.configs {
                        let key = c.name.to_string();
                        let value = c.value.as_ref().map(|v| v.to_string());
                        match c.config_operation {
                            0 => {
                                let v = value.ok_or_else(|| {
                                    Refusal::new(
                                        code::INVALID_REQUEST,
                                        format!("SET of {key} needs a value"),
                                    )
                                })?;
                                validate(&target, &key, Some(&v))?;
                                map.insert(key, v);
                            }
                            1 => {
                                map.remove(&key);
                            }
                            op @ (2 | 3) => {
                                let v = value.unwrap_or_default();
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
                                validate(&target, &key, Some(&joined))?;
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
                    if !req.validate_only {
                        *configs_mut(&mut s, &target) = map;
                    }
                    Ok(())
                });
            match outcome {
                Ok(()) => res,
                Err(e) => res
                    .with_error_code(e.code)
                    .with_error_message(Some(sb(e.message))),
            }
        })
        .collect();
    s.metadata_epoch += 1;
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}
