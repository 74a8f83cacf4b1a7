//! CreateTopics (19), with counts or explicit assignments, and DeleteTopics (20).

use std::collections::BTreeMap;
use std::time::Instant;

use kafka_protocol::messages::create_topics_response::{
    CreatableTopicResult, CreateTopicsResponse,
};
use kafka_protocol::messages::delete_topics_response::{
    DeletableTopicResult, DeleteTopicsResponse,
};
use kafka_protocol::messages::{CreateTopicsRequest, DeleteTopicsRequest, TopicName};

use crate::minibroker::code;
use crate::minibroker::log::sb;
use crate::minibroker::shared::BrokerCtx;
use crate::minibroker::state::Refusal;
use crate::minibroker::throttle;

pub async fn create(
    ctx: &BrokerCtx,
    req: CreateTopicsRequest,
    version: i16,
) -> CreateTopicsResponse {
    let mut results = Vec::new();
    ctx.shared.mutate(|s| {
        for t in &req.topics {
            let name = t.name.0.to_string();
            let outcome = (|| -> Result<(uuid::Uuid, i32, i16), Refusal> {
                let assignment = if t.assignments.is_empty() {
                    // -1 asks for the broker defaults (KIP-464).
                    let n = if t.num_partitions == -1 {
                        s.topic_defaults.partitions
                    } else {
                        t.num_partitions
                    };
                    let rf = if t.replication_factor == -1 {
                        s.topic_defaults.replication_factor
                    } else {
                        t.replication_factor
                    };
                    s.place(n, rf)?
                } else {
                    if t.num_partitions != -1 || t.replication_factor != -1 {
                        return Err(Refusal::new(
                            code::INVALID_REQUEST,
                            "assignments and numPartitions/replicationFactor are exclusive",
                        ));
                    }
                    let mut a = t.assignments.clone();
                    a.sort_by_key(|x| x.partition_index);
                    if a.iter()
                        .enumerate()
                        .any(|(i, x)| x.partition_index != i as i32)
                    {
                        return Err(Refusal::new(
                            code::INVALID_REPLICA_ASSIGNMENT,
                            "partitions must be 0..n",
                        ));
                    }
                    a.into_iter()
                        .map(|x| x.broker_ids.into_iter().map(|b| b.0).collect())
                        .collect()
                };
                let mut configs = BTreeMap::new();
                for c in &t.configs {
                    let key = c.name.to_string();
                    let value = c.value.as_ref().map(|v| v.to_string()).unwrap_or_default();
                    if key == throttle::LEADER_REPLICAS || key == throttle::FOLLOWER_REPLICAS {
                        throttle::validate_list(&value)
                            .map_err(|m| Refusal::new(code::INVALID_CONFIG, m))?;
                    }
                    configs.insert(key, value);
                }
                let parts = assignment.len() as i32;
                let rf = assignment.first().map_or(0, |r: &Vec<i32>| r.len() as i16);
                if req.validate_only {
                    if s.topics.contains_key(&name) {
                        return Err(Refusal::new(
                            code::TOPIC_ALREADY_EXISTS,
                            format!("topic {name} already exists"),
                        ));
                    }
                    return Ok((uuid::Uuid::nil(), parts, rf));
                }
                let id = s.create_topic(&name, assignment, configs, Instant::now())?;
                Ok((id, parts, rf))
            })();
            let mut r = CreatableTopicResult::default().with_name(t.name.clone());
            match outcome {
                Ok((id, parts, rf)) => {
                    if version >= 5 {
                        r = r.with_num_partitions(parts).with_replication_factor(rf);
                    }
                    if version >= 7 {
                        r = r.with_topic_id(id);
                    }
                }
                Err(e) => {
                    r = r
                        .with_error_code(e.code)
                        .with_error_message(Some(sb(e.message)))
                }
            }
            results.push(r);
        }
    });
    CreateTopicsResponse::default().with_topics(results)
}

pub async fn delete(
    ctx: &BrokerCtx,
    req: DeleteTopicsRequest,
    version: i16,
) -> DeleteTopicsResponse {
    let mut results = Vec::new();
    ctx.shared.mutate(|s| {
        let targets: Vec<(Option<String>, uuid::Uuid)> = if version >= 6 {
            req.topics
                .iter()
                .map(|t| (t.name.as_ref().map(|n| n.0.to_string()), t.topic_id))
                .collect()
        } else {
            req.topic_names
                .iter()
                .map(|n| (Some(n.0.to_string()), uuid::Uuid::nil()))
                .collect()
        };
        for (name, id) in targets {
            let name = name.or_else(|| s.topic_by_id(id).map(|t| t.name.clone()));
            let mut r =
                DeletableTopicResult::default().with_name(name.clone().map(|n| TopicName(sb(n))));
            match name.map(|n| s.delete_topic(&n)) {
                Some(Ok(id)) => {
                    if version >= 6 {
                        r = r.with_topic_id(id);
                    }
                }
                Some(Err(e)) => r = r.with_error_code(e.code),
                None => {
                    r = r.with_error_code(if version >= 6 {
                        code::UNKNOWN_TOPIC_ID
                    } else {
                        code::UNKNOWN_TOPIC_OR_PARTITION
                    })
                }
            }
            if version >= 5 && r.error_code != code::NONE {
                r = r.with_error_message(Some(sb("unknown topic")));
            }
            results.push(r);
        }
    });
    DeleteTopicsResponse::default().with_responses(results)
}
