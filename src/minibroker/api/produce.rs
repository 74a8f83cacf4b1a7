//! Produce (0): the leader appends each batch as received, assigning
//! offsets; acks=1 answers after the append, acks=all once the high
//! watermark (min LEO over the ISR) covers the batch, acks=0 never.
//! With acks=all, `min.insync.replicas` is enforced as Kafka does: an ISR
//! already below it refuses the batch (NOT_ENOUGH_REPLICAS), one that falls
//! below it while the batch waits fails it after the append
//! (NOT_ENOUGH_REPLICAS_AFTER_APPEND).
//! Under `--flush every-batch` a batch is acknowledged (acks=1 or all)
//! only once synced; the sync runs in the persister, outside the lock.
//! Idempotent producers' batches are checked by sequence (`producers`): a
//! retried batch is acknowledged with its first offsets, not appended
//! again; a gap is OUT_OF_ORDER_SEQUENCE_NUMBER.

use std::time::Duration;

use kafka_protocol::messages::ProduceRequest;
use kafka_protocol::messages::produce_response::{
    PartitionProduceResponse, ProduceResponse, TopicProduceResponse,
};

use crate::minibroker::code;
use crate::minibroker::log::{RecordsError, sb, split_batches};
use crate::minibroker::producers::{Header, ProducerStates, Verdict};
use crate::minibroker::shared::BrokerCtx;

struct Pending {
    topic: usize,
    part: usize,
    name: String,
    partition: i32,
    end: i64,
    leader_epoch: i32,
    min_isr: usize,
    /// acks=all: waits for the high watermark; acks=1 under `--flush
    /// every-batch`: for the leader's own sync.
    all: bool,
}

pub async fn handle(ctx: &BrokerCtx, req: ProduceRequest, _version: i16) -> ProduceResponse {
    let timeout =
        Duration::from_millis(u64::try_from(req.timeout_ms).unwrap_or(0).clamp(1, 120_000));
    let deadline = tokio::time::Instant::now() + timeout;
    let mut responses = Vec::new();
    let mut pending = Vec::new();
    ctx.shared.mutate(|s| {
        let every_batch = s
            .storage
            .as_ref()
            .is_some_and(|st| st.flush == crate::minibroker::segment::FlushPolicy::EveryBatch);
        let mut appended = false;
        let mut producers = std::mem::take(&mut s.producers);
        for (ti, td) in req.topic_data.iter().enumerate() {
            let name = td.name.0.to_string();
            let min_isr = s.min_insync_replicas(&name);
            crate::minibroker::persist::before_append(s, &name);
            let mut parts = Vec::new();
            for (pi, pd) in td.partition_data.iter().enumerate() {
                let mut pr = PartitionProduceResponse::default()
                    .with_index(pd.index)
                    .with_base_offset(-1);
                let Some(p) = s.partition_mut(&name, pd.index) else {
                    parts.push(pr.with_error_code(code::UNKNOWN_TOPIC_OR_PARTITION));
                    continue;
                };
                if p.leader != ctx.id {
                    parts.push(pr.with_error_code(code::NOT_LEADER_OR_FOLLOWER));
                    continue;
                }
                let batches = match pd.records.as_ref().map(split_batches) {
                    Some(Ok(b)) => b,
                    Some(Err(RecordsError::UnsupportedMagic)) => {
                        parts.push(pr.with_error_code(code::INVALID_RECORD));
                        continue;
                    }
                    Some(Err(RecordsError::Corrupt)) | None => {
                        parts.push(pr.with_error_code(code::CORRUPT_MESSAGE));
                        continue;
                    }
                };
                // Kafka checks before appending, so a refused batch is not
                // written at all.
                if req.acks == -1 && p.isr.len() < min_isr {
                    // Kafka's words, ISR as a Scala set.
                    let isr: Vec<String> = p.isr.iter().map(ToString::to_string).collect();
                    parts.push(
                        pr.with_error_code(code::NOT_ENOUGH_REPLICAS)
                            .with_error_message(Some(sb(format!(
                                "The size of the current ISR : {} is insufficient to satisfy the min.isr requirement of {min_isr} for partition {name}-{}, live replica(s) broker.id are : Set({})",
                                isr.len(), pd.index, isr.join(", ")
                            )))),
                    );
                    continue;
                }
                let epoch = p.leader_epoch;
                let log = &mut p.logs.get_mut(&ctx.id).expect("leader has a log").log;
                let (cached_at, states) = producers
                    .entry((name.clone(), pd.index))
                    .or_insert_with(|| ((-1, -1, -1), ProducerStates::default()));
                if *cached_at != (ctx.id, epoch, log.leo()) {
                    *states = ProducerStates::rebuild(log);
                }
                // Batches in order, each checked after the one before it
                // is recorded (clients send one per partition).
                let mut first = None;
                let mut end = log.leo();
                let mut refused = None;
                for b in &batches {
                    let header = Header::of(b);
                    let verdict = header.map_or(Verdict::Append, |h| states.check(&h));
                    let (base, last) = match verdict {
                        Verdict::Append => {
                            appended = true;
                            let base = log.append_as_leader(b, epoch);
                            if let Some(h) = header {
                                states.record(&h, base, log.leo() - 1);
                            }
                            (base, log.leo() - 1)
                        }
                        Verdict::Duplicate {
                            base_offset,
                            last_offset,
                        } => (base_offset, last_offset),
                        Verdict::Refused(c) => {
                            refused = Some(c);
                            break;
                        }
                    };
                    first.get_or_insert(base);
                    end = end.max(last + 1);
                }
                *cached_at = (ctx.id, epoch, log.leo());
                if let Some(c) = refused {
                    parts.push(pr.with_error_code(c));
                    continue;
                }
                let base = first.unwrap_or(end);
                pr = pr
                    .with_base_offset(base)
                    .with_log_start_offset(log.log_start());
                if req.acks == -1 || (req.acks == 1 && every_batch) {
                    pending.push(Pending {
                        topic: ti,
                        part: pi,
                        name: name.clone(),
                        partition: pd.index,
                        end,
                        leader_epoch: epoch,
                        min_isr,
                        all: req.acks == -1,
                    });
                }
                parts.push(pr);
            }
            responses.push(
                TopicProduceResponse::default()
                    .with_name(td.name.clone())
                    .with_partition_responses(parts),
            );
        }
        s.producers = producers;
        s.recompute_hw();
        if appended && let Some(st) = &s.storage {
            st.appended();
        }
    });
    if !pending.is_empty() {
        let settled = |s: &crate::minibroker::state::State, w: &Pending| {
            let at = (w.name.as_str(), w.partition);
            if w.all {
                s.acks_all_outcome(ctx.id, at, w.leader_epoch, w.end, w.min_isr)
            } else {
                s.leader_synced_outcome(ctx.id, at, w.leader_epoch, w.end)
            }
        };
        let outcomes: Vec<Option<i16>> = ctx
            .shared
            .poll(deadline, |s, last| {
                let outcomes: Vec<_> = pending.iter().map(|w| settled(s, w)).collect();
                (last || outcomes.iter().all(Option::is_some)).then_some(outcomes)
            })
            .await;
        for (w, outcome) in pending.iter().zip(outcomes) {
            let c = outcome.unwrap_or(code::REQUEST_TIMED_OUT);
            if c != code::NONE {
                let pr = &mut responses[w.topic].partition_responses[w.part];
                pr.error_code = c;
                pr.base_offset = -1;
            }
        }
    }
    ProduceResponse::default().with_responses(responses)
}
