//! Fetch (1) and ListOffsets (2) for consumers: reads stop at the high
//! watermark; an empty fetch long-polls until data arrives or `max_wait_ms`.
//! Both are fenced by the request's `current_leader_epoch`, as Kafka's.
//! Followers do not fetch over the wire (replication is in-process).

use std::time::Duration;

use kafka_protocol::messages::fetch_response::{
    FetchResponse, FetchableTopicResponse, LeaderIdAndEpoch, PartitionData,
};
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{BrokerId, FetchRequest, ListOffsetsRequest, TopicName};

use crate::minibroker::code;
use crate::minibroker::log::{concat, sb};
use crate::minibroker::shared::BrokerCtx;
use crate::minibroker::state::{Partition, State, read_committed};

/// Kafka's check of a request's `current_leader_epoch` against a replica's
/// (`Partition.localLogWithEpochOrThrow`): the epoch first, then
/// leadership. -1 asks for no check.
pub(super) fn fence(p: &Partition, broker: i32, current_leader_epoch: i32) -> i16 {
    if !p.logs.contains_key(&broker) {
        return code::NOT_LEADER_OR_FOLLOWER;
    }
    if current_leader_epoch != -1 {
        if current_leader_epoch < p.leader_epoch {
            return code::FENCED_LEADER_EPOCH;
        }
        if current_leader_epoch > p.leader_epoch {
            return code::UNKNOWN_LEADER_EPOCH;
        }
    }
    if p.leader != broker {
        return code::NOT_LEADER_OR_FOLLOWER;
    }
    code::NONE
}

fn build(
    ctx: &BrokerCtx,
    s: &State,
    req: &FetchRequest,
    version: i16,
) -> (FetchResponse, usize, bool) {
    let mut remaining = usize::try_from(req.max_bytes).unwrap_or(0).max(1);
    let mut total = 0usize;
    let mut any_error = false;
    let mut topics = Vec::new();
    for ft in &req.topics {
        let topic = if version >= 13 {
            s.topic_by_id(ft.topic_id)
        } else {
            s.topics.get(ft.topic.0.as_str())
        };
        let mut parts = Vec::new();
        for fp in &ft.partitions {
            let mut pd = PartitionData::default()
                .with_partition_index(fp.partition)
                .with_high_watermark(-1);
            let Some(t) = topic else {
                any_error = true;
                let c = if version >= 13 {
                    code::UNKNOWN_TOPIC_ID
                } else {
                    code::UNKNOWN_TOPIC_OR_PARTITION
                };
                parts.push(pd.with_error_code(c));
                continue;
            };
            let Some(p) = usize::try_from(fp.partition)
                .ok()
                .and_then(|i| t.partitions.get(i))
            else {
                any_error = true;
                parts.push(pd.with_error_code(code::UNKNOWN_TOPIC_OR_PARTITION));
                continue;
            };
            let fenced = fence(p, ctx.id, fp.current_leader_epoch);
            if fenced != code::NONE {
                any_error = true;
                // KIP-951: where the leader is now, so the client need not
                // ask Metadata first.
                let current = LeaderIdAndEpoch::default()
                    .with_leader_id(BrokerId(p.leader))
                    .with_leader_epoch(p.leader_epoch);
                parts.push(pd.with_error_code(fenced).with_current_leader(current));
                continue;
            }
            let log = p.leader_log().expect("leader has a log");
            pd = pd.with_high_watermark(p.hw).with_last_stable_offset(p.hw);
            if version >= 5 {
                pd = pd.with_log_start_offset(log.log_start());
            }
            if fp.fetch_offset < log.log_start() || fp.fetch_offset > log.leo() {
                any_error = true;
                parts.push(pd.with_error_code(code::OFFSET_OUT_OF_RANGE));
                continue;
            }
            let max = usize::try_from(fp.partition_max_bytes)
                .unwrap_or(0)
                .min(remaining);
            let batches = if max == 0 && total > 0 {
                vec![]
            } else {
                read_committed(p, fp.fetch_offset, max.max(1))
            };
            let records = concat(&batches);
            total += records.len();
            remaining = remaining.saturating_sub(records.len());
            parts.push(pd.with_records(Some(records)));
        }
        topics.push(
            FetchableTopicResponse::default()
                .with_topic(if version <= 12 {
                    ft.topic.clone()
                } else {
                    TopicName(sb(topic.map(|t| t.name.clone()).unwrap_or_default()))
                })
                .with_topic_id(ft.topic_id)
                .with_partitions(parts),
        );
    }
    (
        FetchResponse::default().with_responses(topics),
        total,
        any_error,
    )
}

pub async fn handle(ctx: &BrokerCtx, req: FetchRequest, version: i16) -> FetchResponse {
    let wait = Duration::from_millis(u64::try_from(req.max_wait_ms).unwrap_or(0).min(30_000));
    let deadline = tokio::time::Instant::now() + wait;
    let min_bytes = usize::try_from(req.min_bytes).unwrap_or(0);
    ctx.shared
        .poll(deadline, |s, last| {
            let (resp, bytes, any_error) = build(ctx, s, &req, version);
            (last || bytes >= min_bytes || any_error).then_some(resp)
        })
        .await
}

pub async fn list_offsets(
    ctx: &BrokerCtx,
    req: ListOffsetsRequest,
    version: i16,
) -> ListOffsetsResponse {
    ctx.shared.inspect(|s| {
        let topics = req
            .topics
            .iter()
            .map(|lt| {
                let parts = lt
                    .partitions
                    .iter()
                    .map(|lp| {
                        let r = ListOffsetsPartitionResponse::default()
                            .with_partition_index(lp.partition_index)
                            .with_offset(-1)
                            .with_timestamp(-1);
                        let Some(p) = s.partition(lt.name.0.as_str(), lp.partition_index) else {
                            return r.with_error_code(code::UNKNOWN_TOPIC_OR_PARTITION);
                        };
                        let fenced = fence(p, ctx.id, lp.current_leader_epoch);
                        if fenced != code::NONE {
                            return r.with_error_code(fenced);
                        }
                        let log = p.leader_log().expect("leader has a log");
                        let (offset, ts) = match lp.timestamp {
                            -1 => (p.hw, -1),
                            -2 => (log.log_start(), -1),
                            -3 => log.max_timestamp().unwrap_or((-1, -1)),
                            t => log
                                .offset_for_timestamp(t)
                                .filter(|(o, _)| *o < p.hw)
                                .unwrap_or((-1, -1)),
                        };
                        let r = r.with_offset(offset).with_timestamp(ts);
                        if version >= 4 {
                            r.with_leader_epoch(p.leader_epoch)
                        } else {
                            r
                        }
                    })
                    .collect();
                ListOffsetsTopicResponse::default()
                    .with_name(lt.name.clone())
                    .with_partitions(parts)
            })
            .collect();
        ListOffsetsResponse::default().with_topics(topics)
    })
}
