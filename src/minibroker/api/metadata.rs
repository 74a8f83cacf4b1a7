//! Metadata (3) and DescribeCluster (60): brokers with racks, controller,
//! and per partition leader, leader epoch, replicas, ISR, offline replicas.
//! A Metadata request naming an unknown topic may create it (Kafka's
//! `auto.create.topics.enable`).

use std::time::Instant;

use kafka_protocol::messages::describe_cluster_response::{
    DescribeClusterBroker, DescribeClusterResponse,
};
use kafka_protocol::messages::metadata_response::{
    MetadataResponse, MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, DescribeClusterRequest, MetadataRequest, TopicName};

use crate::minibroker::code;
use crate::minibroker::log::sb;
use crate::minibroker::shared::BrokerCtx;
use crate::minibroker::state::{State, Topic, valid_topic_name};

fn brokers(s: &State, version: i16) -> Vec<MetadataResponseBroker> {
    s.brokers
        .values()
        .filter(|b| b.alive)
        .map(|b| {
            let mb = MetadataResponseBroker::default()
                .with_node_id(BrokerId(b.id))
                .with_host(sb(b.host.clone()))
                .with_port(i32::from(b.port));
            if version >= 1 {
                mb.with_rack(b.rack.clone().map(sb))
            } else {
                mb
            }
        })
        .collect()
}

fn topic_entry(s: &State, t: &Topic, version: i16) -> MetadataResponseTopic {
    let partitions = t
        .partitions
        .iter()
        .map(|p| {
            let offline: Vec<BrokerId> = p
                .replicas
                .iter()
                .copied()
                .filter(|b| !s.is_alive(*b))
                .map(BrokerId)
                .collect();
            let mut mp = MetadataResponsePartition::default()
                .with_error_code(if p.leader < 0 {
                    code::LEADER_NOT_AVAILABLE
                } else {
                    code::NONE
                })
                .with_partition_index(p.index)
                .with_leader_id(BrokerId(p.leader))
                .with_replica_nodes(p.replicas.iter().copied().map(BrokerId).collect())
                .with_isr_nodes(p.isr.iter().copied().map(BrokerId).collect());
            if version >= 7 {
                mp = mp.with_leader_epoch(p.leader_epoch);
            }
            if version >= 5 {
                mp = mp.with_offline_replicas(offline);
            }
            mp
        })
        .collect();
    let mut mt = MetadataResponseTopic::default()
        .with_name(Some(TopicName(sb(t.name.clone()))))
        .with_partitions(partitions);
    if version >= 1 {
        mt = mt.with_is_internal(t.name == crate::minibroker::groups::OFFSETS_TOPIC);
    }
    if version >= 10 {
        mt = mt.with_topic_id(t.id);
    }
    mt
}

/// Kafka's answer for a topic the request names that does not exist. As
/// Kafka 4.x (KRaft) does with `auto.create.topics.enable`: when the
/// request allows it (producers' do), the topic is created with the
/// broker defaults and this answer still says UNKNOWN_TOPIC_OR_PARTITION
/// (the broker forwards the creation to the controller and does not
/// wait); the next Metadata request shows it. A name Kafka would refuse is
/// INVALID_TOPIC_EXCEPTION; a creation that fails is only not there.
fn missing_topic(s: &mut State, name: &str, allow_create: bool) -> i16 {
    if !valid_topic_name(name) {
        return code::INVALID_TOPIC;
    }
    if allow_create && s.topic_defaults.auto_create {
        // A failed creation is only not there, as in Kafka.
        let _ = s.auto_create(name, Instant::now());
    }
    code::UNKNOWN_TOPIC_OR_PARTITION
}

pub async fn handle(ctx: &BrokerCtx, req: MetadataRequest, version: i16) -> MetadataResponse {
    ctx.shared.mutate(|s| {
        // v0: an empty list means all topics; v1+: null means all, empty none.
        let all = match &req.topics {
            None => true,
            Some(t) => t.is_empty() && version == 0,
        };
        let topics = if all {
            s.topics
                .values()
                .map(|t| topic_entry(s, t, version))
                .collect()
        } else {
            let mut out = Vec::new();
            for rt in req.topics.as_deref().unwrap_or_default() {
                let found = match &rt.name {
                    Some(n) => s.topics.get(n.0.as_str()),
                    None => s.topic_by_id(rt.topic_id),
                };
                if let Some(t) = found {
                    out.push(topic_entry(s, t, version));
                    continue;
                }
                let error = match &rt.name {
                    Some(n) => missing_topic(s, n.0.as_str(), req.allow_auto_topic_creation),
                    None => code::UNKNOWN_TOPIC_ID,
                };
                let mut mt = MetadataResponseTopic::default()
                    .with_error_code(error)
                    .with_name(rt.name.clone());
                if version >= 10 {
                    mt = mt.with_topic_id(rt.topic_id);
                }
                out.push(mt);
            }
            out
        };
        let mut resp = MetadataResponse::default()
            .with_brokers(brokers(s, version))
            .with_topics(topics);
        if version >= 1 {
            resp = resp.with_controller_id(BrokerId(s.controller));
        }
        if version >= 2 {
            resp = resp.with_cluster_id(Some(sb(s.cluster_id.clone())));
        }
        resp
    })
}

pub async fn describe_cluster(
    ctx: &BrokerCtx,
    _req: DescribeClusterRequest,
    _version: i16,
) -> DescribeClusterResponse {
    ctx.shared.inspect(|s| {
        DescribeClusterResponse::default()
            .with_cluster_id(sb(s.cluster_id.clone()))
            .with_controller_id(BrokerId(s.controller))
            .with_brokers(
                s.brokers
                    .values()
                    .filter(|b| b.alive)
                    .map(|b| {
                        DescribeClusterBroker::default()
                            .with_broker_id(BrokerId(b.id))
                            .with_host(sb(b.host.clone()))
                            .with_port(i32::from(b.port))
                            .with_rack(b.rack.clone().map(sb))
                    })
                    .collect(),
            )
    })
}
