//! OffsetForLeaderEpoch (23): the end offset of a leader epoch in the
//! leader's log, which consumers use to detect truncation after a leader
//! change (KIP-320) and followers to find where they diverge (KIP-101).
//! Fenced by `current_leader_epoch` as Fetch is.

use kafka_protocol::messages::OffsetForLeaderEpochRequest;
use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderEpochResponse, OffsetForLeaderTopicResult,
};

use crate::minibroker::code;
use crate::minibroker::epochs::{UNDEFINED_EPOCH, UNDEFINED_OFFSET, end_offset_for};
use crate::minibroker::shared::BrokerCtx;

pub async fn handle(
    ctx: &BrokerCtx,
    req: OffsetForLeaderEpochRequest,
    _version: i16,
) -> OffsetForLeaderEpochResponse {
    ctx.shared.inspect(|s| {
        let topics = req
            .topics
            .iter()
            .map(|t| {
                let partitions = t
                    .partitions
                    .iter()
                    .map(|rp| {
                        let r = EpochEndOffset::default()
                            .with_partition(rp.partition)
                            .with_leader_epoch(UNDEFINED_EPOCH)
                            .with_end_offset(UNDEFINED_OFFSET);
                        let Some(p) = s.partition(t.topic.0.as_str(), rp.partition) else {
                            return r.with_error_code(code::UNKNOWN_TOPIC_OR_PARTITION);
                        };
                        let fenced = super::fetch::fence(p, ctx.id, rp.current_leader_epoch);
                        if fenced != code::NONE {
                            return r.with_error_code(fenced);
                        }
                        let log = p.leader_log().expect("leader has a log");
                        let (epoch, end) =
                            end_offset_for(log, Some(p.leader_epoch), rp.leader_epoch);
                        r.with_leader_epoch(epoch).with_end_offset(end)
                    })
                    .collect();
                OffsetForLeaderTopicResult::default()
                    .with_topic(t.topic.clone())
                    .with_partitions(partitions)
            })
            .collect();
        OffsetForLeaderEpochResponse::default().with_topics(topics)
    })
}
