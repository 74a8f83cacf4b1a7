//! DescribeLogDirs (35) and AlterReplicaLogDirs (34): both about the
//! receiving broker's own disks only. A disk move creates a future log
//! that the replication step fills and then swaps in.

use std::collections::BTreeMap;

use kafka_protocol::messages::alter_replica_log_dirs_response::{
    AlterReplicaLogDirPartitionResult, AlterReplicaLogDirTopicResult, AlterReplicaLogDirsResponse,
};
use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResponse, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::{AlterReplicaLogDirsRequest, DescribeLogDirsRequest, TopicName};

use crate::minibroker::code;
use crate::minibroker::log::{PartitionLog, sb};
use crate::minibroker::shared::BrokerCtx;

/// Capacity reported for every log dir (DescribeLogDirs v4).
const DIR_CAPACITY: i64 = 1 << 40;

pub async fn describe(
    ctx: &BrokerCtx,
    req: DescribeLogDirsRequest,
    version: i16,
) -> DescribeLogDirsResponse {
    ctx.shared.inspect(|s| {
        let broker = &s.brokers[&ctx.id];
        // dir -> topic -> partitions
        let mut by_dir: BTreeMap<&str, BTreeMap<&str, Vec<DescribeLogDirsPartition>>> = broker
            .log_dirs
            .iter()
            .map(|d| (d.as_str(), BTreeMap::new()))
            .collect();
        for t in s.topics.values() {
            let wanted: Option<&Vec<i32>> = match &req.topics {
                None => None,
                Some(list) => match list.iter().find(|x| x.topic.0.as_str() == t.name) {
                    Some(x) => Some(&x.partitions),
                    None => continue,
                },
            };
            for p in &t.partitions {
                if wanted.is_some_and(|w| !w.contains(&p.index)) {
                    continue;
                }
                let Some(r) = p.logs.get(&ctx.id) else {
                    continue;
                };
                let leader_leo = p.leader_log().map_or(r.log.leo(), PartitionLog::leo);
                let entry = DescribeLogDirsPartition::default()
                    .with_partition_index(p.index)
                    .with_partition_size(r.log.size() as i64)
                    .with_offset_lag((leader_leo - r.log.leo()).max(0));
                by_dir
                    .entry(r.dir.as_str())
                    .or_default()
                    .entry(t.name.as_str())
                    .or_default()
                    .push(entry);
                if let Some(f) = &r.future {
                    let entry = DescribeLogDirsPartition::default()
                        .with_partition_index(p.index)
                        .with_partition_size(f.log.size() as i64)
                        .with_offset_lag((r.log.leo() - f.log.leo()).max(0))
                        .with_is_future_key(true);
                    by_dir
                        .entry(f.dir.as_str())
                        .or_default()
                        .entry(t.name.as_str())
                        .or_default()
                        .push(entry);
                }
            }
        }
        let results = by_dir
            .into_iter()
            .map(|(dir, topics)| {
                let used: i64 = topics.values().flatten().map(|p| p.partition_size).sum();
                let res = DescribeLogDirsResult::default()
                    .with_log_dir(sb(dir))
                    .with_topics(
                        topics
                            .into_iter()
                            .map(|(t, parts)| {
                                DescribeLogDirsTopic::default()
                                    .with_name(TopicName(sb(t)))
                                    .with_partitions(parts)
                            })
                            .collect(),
                    );
                if version >= 4 {
                    res.with_total_bytes(DIR_CAPACITY)
                        .with_usable_bytes(DIR_CAPACITY - used)
                } else {
                    res
                }
            })
            .collect();
        DescribeLogDirsResponse::default().with_results(results)
    })
}

pub async fn alter(
    ctx: &BrokerCtx,
    req: AlterReplicaLogDirsRequest,
    _version: i16,
) -> AlterReplicaLogDirsResponse {
    let mut results: Vec<AlterReplicaLogDirTopicResult> = Vec::new();
    ctx.shared.mutate(|s| {
        for d in &req.dirs {
            for t in &d.topics {
                let parts = t
                    .partitions
                    .iter()
                    .map(|&p| {
                        let c = s
                            .alter_replica_log_dir(ctx.id, t.name.0.as_str(), p, d.path.as_str())
                            .map_or_else(|r| r.code, |()| code::NONE);
                        AlterReplicaLogDirPartitionResult::default()
                            .with_partition_index(p)
                            .with_error_code(c)
                    })
                    .collect();
                results.push(
                    AlterReplicaLogDirTopicResult::default()
                        .with_topic_name(t.name.clone())
                        .with_partitions(parts),
                );
            }
        }
    });
    AlterReplicaLogDirsResponse::default().with_results(results)
}
