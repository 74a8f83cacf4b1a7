//! DescribeQuorum (55): the embedded controller as a KRaft metadata quorum
//! of one voter. The leader is the broker holding the controller role, its
//! epoch grows each time the role moves, and the high watermark is the
//! metadata offset (every change is one record); the other live brokers
//! are observers, each with the whole metadata log (they share the state).

use std::time::{SystemTime, UNIX_EPOCH};

use kafka_protocol::messages::describe_quorum_response::{
    DescribeQuorumResponse, Listener, Node, PartitionData, ReplicaState, TopicData,
};
use kafka_protocol::messages::{BrokerId, DescribeQuorumRequest, TopicName};

use crate::minibroker::code;
use crate::minibroker::log::sb;
use crate::minibroker::shared::BrokerCtx;

pub async fn handle(
    ctx: &BrokerCtx,
    _req: DescribeQuorumRequest,
    version: i16,
) -> DescribeQuorumResponse {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    ctx.shared.inspect(|s| {
        let end = s.metadata_epoch;
        // The timestamps are v1 fields and the nodes v2: an older answer
        // that set them could not be encoded.
        let replica = |id: i32| {
            let r = ReplicaState::default()
                .with_replica_id(BrokerId(id))
                .with_log_end_offset(end);
            if version >= 1 {
                r.with_last_fetch_timestamp(now)
                    .with_last_caught_up_timestamp(now)
            } else {
                r
            }
        };
        let voters = if s.controller >= 0 {
            vec![replica(s.controller)]
        } else {
            vec![]
        };
        let observers = s
            .alive_brokers()
            .into_iter()
            .filter(|&b| b != s.controller)
            .map(replica)
            .collect();
        let partition = PartitionData::default()
            .with_partition_index(0)
            .with_error_code(if s.controller >= 0 {
                code::NONE
            } else {
                code::LEADER_NOT_AVAILABLE
            })
            .with_leader_id(BrokerId(s.controller))
            .with_leader_epoch(s.controller_epoch)
            .with_high_watermark(end)
            .with_current_voters(voters)
            .with_observers(observers);
        let nodes = s
            .brokers
            .get(&s.controller)
            .map(|b| {
                vec![
                    Node::default()
                        .with_node_id(BrokerId(b.id))
                        .with_listeners(vec![
                            Listener::default()
                                .with_name(sb("CONTROLLER"))
                                .with_host(sb(b.host.clone()))
                                .with_port(b.port),
                        ]),
                ]
            })
            .filter(|_| version >= 2)
            .unwrap_or_default();
        DescribeQuorumResponse::default()
            .with_topics(vec![
                TopicData::default()
                    .with_topic_name(TopicName(sb("__cluster_metadata")))
                    .with_partitions(vec![partition]),
            ])
            .with_nodes(nodes)
    })
}
