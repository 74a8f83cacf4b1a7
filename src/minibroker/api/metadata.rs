//! Metadata (3) and DescribeCluster (60): brokers with racks, controller,
//! and per partition leader, leader epoch, replicas, ISR, offline replicas.

use kafka_protocol::messages::describe_cluster_response::{
    DescribeClusterBroker, DescribeClusterResponse,
};
use kafka_protocol::messages::metadata_response::{
    MetadataResponse, MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, DescribeClusterRequest, MetadataRequest, TopicName};

use crate::minibroker::log::sb;
use crate::minibroker::server::BrokerCtx;
use crate::minibroker::state::{State, Topic, code};

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
    if version >= 10 {
        mt = mt.with_topic_id(t.id);
    }
    mt
}

pub async fn handle(ctx: &BrokerCtx, req: MetadataRequest, version: i16) -> MetadataResponse {
    let s = ctx.shared.state.lock();
    // v0: an empty list means all topics; v1+: null means all, empty none.
    let all = match &req.topics {
        None => true,
        Some(t) => t.is_empty() && version == 0,
    };
    let topics = if all {
        s.topics
            .values()
            .map(|t| topic_entry(&s, t, version))
            .collect()
    } else {
        req.topics
            .unwrap_or_default()
            .iter()
            .map(|rt| {
                let found = match &rt.name {
                    Some(n) => s.topics.get(n.0.as_str()),
                    None => s.topic_by_id(rt.topic_id),
                };
                match found {
                    Some(t) => topic_entry(&s, t, version),
                    None => {
                        let mut mt = MetadataResponseTopic::default()
                            .with_error_code(code::UNKNOWN_TOPIC_OR_PARTITION)
                            .with_name(rt.name.clone());
                        if version >= 10 {
                            mt = mt.with_topic_id(rt.topic_id);
                        }
                        mt
                    }
                }
            })
            .collect()
    };
    let mut resp = MetadataResponse::default()
        .with_brokers(brokers(&s, version))
        .with_topics(topics);
    if version >= 1 {
        resp = resp.with_controller_id(BrokerId(s.controller));
    }
    if version >= 2 {
        resp = resp.with_cluster_id(Some(sb(s.cluster_id.clone())));
    }
    resp
}

pub async fn describe_cluster(
    ctx: &BrokerCtx,
    _req: DescribeClusterRequest,
    _version: i16,
) -> DescribeClusterResponse {
    let s = ctx.shared.state.lock();
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
}
