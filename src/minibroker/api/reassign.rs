//! AlterPartitionReassignments (45), ListPartitionReassignments (46) and
//! ElectLeaders (43). Any broker accepts them (the controller state is
//! shared in-process); semantics are the controller's, see `state`.

use std::time::Instant;

use kafka_protocol::messages::alter_partition_reassignments_response::{
    AlterPartitionReassignmentsResponse, ReassignablePartitionResponse, ReassignableTopicResponse,
};
use kafka_protocol::messages::elect_leaders_response::{
    ElectLeadersResponse, PartitionResult, ReplicaElectionResult,
};
use kafka_protocol::messages::list_partition_reassignments_response::{
    ListPartitionReassignmentsResponse, OngoingPartitionReassignment, OngoingTopicReassignment,
};
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, BrokerId, ElectLeadersRequest,
    ListPartitionReassignmentsRequest, TopicName,
};

use crate::minibroker::code;
use crate::minibroker::log::sb;
use crate::minibroker::shared::BrokerCtx;

pub async fn alter(
    ctx: &BrokerCtx,
    req: AlterPartitionReassignmentsRequest,
    _version: i16,
) -> AlterPartitionReassignmentsResponse {
    let now = Instant::now();
    let responses = ctx.shared.mutate(|s| {
        req.topics
            .iter()
            .map(|t| {
                let parts = t
                    .partitions
                    .iter()
                    .map(|p| {
                        let target = p.replicas.as_ref().map(|r| r.iter().map(|b| b.0).collect());
                        let r = ReassignablePartitionResponse::default()
                            .with_partition_index(p.partition_index);
                        match s.reassign(t.name.0.as_str(), p.partition_index, target, now) {
                            Ok(()) => r,
                            // Kafka sends no message where it has none to give
                            // (NO_REASSIGNMENT_IN_PROGRESS).
                            Err(e) => r
                                .with_error_code(e.code)
                                .with_error_message((!e.message.is_empty()).then(|| sb(e.message))),
                        }
                    })
                    .collect();
                ReassignableTopicResponse::default()
                    .with_name(t.name.clone())
                    .with_partitions(parts)
            })
            .collect()
    });
    AlterPartitionReassignmentsResponse::default().with_responses(responses)
}

pub async fn list(
    ctx: &BrokerCtx,
    req: ListPartitionReassignmentsRequest,
    _version: i16,
) -> ListPartitionReassignmentsResponse {
    ctx.shared.inspect(|s| {
        let mut topics = Vec::new();
        for t in s.topics.values() {
            let wanted: Option<Vec<i32>> = match &req.topics {
                None => None,
                Some(list) => match list.iter().find(|x| x.name.0.as_str() == t.name) {
                    Some(x) => Some(x.partition_indexes.clone()),
                    None => continue,
                },
            };
            let parts: Vec<OngoingPartitionReassignment> = t
                .partitions
                .iter()
                .filter(|p| p.reassigning() && wanted.as_ref().is_none_or(|w| w.contains(&p.index)))
                .map(|p| {
                    let ids = |v: &[i32]| v.iter().copied().map(BrokerId).collect();
                    OngoingPartitionReassignment::default()
                        .with_partition_index(p.index)
                        .with_replicas(ids(&p.replicas))
                        .with_adding_replicas(ids(&p.adding))
                        .with_removing_replicas(ids(&p.removing))
                })
                .collect();
            if !parts.is_empty() {
                topics.push(
                    OngoingTopicReassignment::default()
                        .with_name(TopicName(sb(t.name.clone())))
                        .with_partitions(parts),
                );
            }
        }
        ListPartitionReassignmentsResponse::default().with_topics(topics)
    })
}

pub async fn elect(
    ctx: &BrokerCtx,
    req: ElectLeadersRequest,
    version: i16,
) -> ElectLeadersResponse {
    let election_type = if version >= 1 { req.election_type } else { 0 };
    let results = ctx.shared.mutate(|s| {
        let explicit = req.topic_partitions.is_some();
        let targets: Vec<(String, Vec<i32>)> = match &req.topic_partitions {
            Some(tp) => tp
                .iter()
                .map(|t| (t.topic.0.to_string(), t.partitions.clone()))
                .collect(),
            None => s
                .topics
                .values()
                .map(|t| (t.name.clone(), (0..t.partitions.len() as i32).collect()))
                .collect(),
        };
        let mut results = Vec::new();
        for (topic, parts) in targets {
            let mut pr = Vec::new();
            for p in parts {
                let r = PartitionResult::default().with_partition_id(p);
                match s.elect(&topic, p, election_type) {
                    Ok(()) => pr.push(r),
                    // For an election over every partition Kafka reports only those it tried.
                    Err(e) if !explicit && e.code == code::ELECTION_NOT_NEEDED => {}
                    Err(e) => pr.push(
                        r.with_error_code(e.code)
                            .with_error_message(Some(sb(e.message))),
                    ),
                }
            }
            if !pr.is_empty() {
                results.push(
                    ReplicaElectionResult::default()
                        .with_topic(TopicName(sb(topic)))
                        .with_partition_result(pr),
                );
            }
        }
        results
    });
    ElectLeadersResponse::default().with_replica_election_results(results)
}
