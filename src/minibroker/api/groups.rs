//! The group coordinator's APIs: FindCoordinator (10), JoinGroup (11),
//! Heartbeat (12), LeaveGroup (13), SyncGroup (14), DescribeGroups (15),
//! ListGroups (16), OffsetCommit (8), OffsetFetch (9), DeleteGroups (42),
//! OffsetDelete (47),
//! and ConsumerGroupHeartbeat (68) refused as Kafka 4.x refuses it when
//! the KIP-848 protocol is off. The decisions are `groups.rs`'s; here
//! requests are checked against the coordinator's placement (this broker
//! must lead the group's partition of `__consumer_offsets`, else
//! NOT_COORDINATOR) and JoinGroup and SyncGroup wait for the rebalance.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kafka_protocol::messages::consumer_group_heartbeat_response::ConsumerGroupHeartbeatResponse;
use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{
    BrokerId as WireBrokerId, ConsumerGroupHeartbeatRequest, DeleteGroupsRequest,
    DeleteGroupsResponse, DescribeGroupsRequest, DescribeGroupsResponse, FindCoordinatorRequest,
    FindCoordinatorResponse, GroupId, HeartbeatRequest, HeartbeatResponse, JoinGroupRequest,
    JoinGroupResponse, LeaveGroupRequest, LeaveGroupResponse, ListGroupsRequest,
    ListGroupsResponse, OffsetCommitRequest, OffsetCommitResponse, OffsetDeleteRequest,
    OffsetDeleteResponse, OffsetFetchRequest, OffsetFetchResponse, SyncGroupRequest,
    SyncGroupResponse, TopicName,
};

use crate::minibroker::code;
use crate::minibroker::groups::{
    self, Committed, JoinAnswer, JoinRequest, OFFSETS_TOPIC, OFFSETS_TOPIC_PARTITIONS,
    OFFSETS_TOPIC_REPLICATION_FACTOR, Outcome, SyncAnswer,
};
use crate::minibroker::log::sb;
use crate::minibroker::shared::BrokerCtx;
use crate::minibroker::state::{BrokerId, State};

/// The broker leading `group`'s partition of the offsets topic, if it is up.
fn coordinator_of(s: &State, group: &str) -> Option<BrokerId> {
    let t = s.topics.get(OFFSETS_TOPIC)?;
    let p = groups::offsets_partition(group, t.partitions.len() as i32);
    let leader = t.partitions.get(p as usize)?.leader;
    (leader >= 0 && s.is_alive(leader)).then_some(leader)
}

fn coordinates(ctx: &BrokerCtx, s: &State, group: &str) -> bool {
    coordinator_of(s, group) == Some(ctx.id)
}

/// NOT_COORDINATOR unless this broker coordinates `group`.
fn check_coordinator(ctx: &BrokerCtx, s: &State, group: &str) -> i16 {
    if coordinates(ctx, s, group) {
        code::NONE
    } else {
        code::NOT_COORDINATOR
    }
}

/// Creates the offsets topic as Kafka does on the first FindCoordinator:
/// Kafka's partition count, a replication factor of 3 or every broker
/// when fewer. True if it was created now.
fn ensure_offsets_topic(s: &mut State) -> Result<bool, ()> {
    if s.topics.contains_key(OFFSETS_TOPIC) {
        return Ok(false);
    }
    let rf = OFFSETS_TOPIC_REPLICATION_FACTOR.min(s.brokers.len() as i16);
    let assignment = s.place(OFFSETS_TOPIC_PARTITIONS, rf).map_err(|_| ())?;
    let configs = BTreeMap::from([("cleanup.policy".to_string(), "compact".to_string())]);
    s.create_topic(OFFSETS_TOPIC, assignment, configs, Instant::now())
        .map_err(|_| ())?;
    Ok(true)
}

fn ms(v: i32) -> Duration {
    Duration::from_millis(u64::try_from(v).unwrap_or(0))
}

/// Waits for a held JoinGroup or SyncGroup of `group`: `take` (under the
/// lock; it runs the group's timers) until it answers, looking again when
/// `ready` says an answer is there and at the group's next deadline (a
/// session or a rebalance timeout).
async fn wait_for<T>(
    ctx: &BrokerCtx,
    group: &str,
    ready: impl Fn(&State) -> bool,
    mut take: impl FnMut(&mut State, Instant) -> Option<T>,
) -> T {
    loop {
        if let Some(a) = with_groups(ctx, |s, now| take(s, now)) {
            return a;
        }
        let now = Instant::now();
        let cap = now + Duration::from_secs(1);
        // This group's deadline only: another group's passed deadline is
        // that group's to run (when it is next asked about), and would
        // make this loop spin.
        let next = ctx.shared.inspect(|s| s.groups.next_deadline_of(group));
        let wake = next.map_or(cap, |n| n.min(cap)).max(now);
        ctx.shared
            .poll(tokio::time::Instant::from_std(wake), |s, last| {
                (last || ready(s)).then_some(())
            })
            .await;
    }
}

/// Runs `f` on the state with the time now. The `Groups` methods run the
/// timers of the group they are about (a request is when a group's time
/// is looked at); held requests are woken only when the groups say that
/// something they wait for happened, so a heartbeat or a commit wakes no
/// long-poll and no replication step.
fn with_groups<T>(ctx: &BrokerCtx, f: impl FnOnce(&mut State, Instant) -> T) -> T {
    ctx.shared.mutate_if(|s| {
        let r = f(s, Instant::now());
        (r, s.groups.take_woken())
    })
}

pub async fn find_coordinator(
    ctx: &BrokerCtx,
    req: FindCoordinatorRequest,
    version: i16,
) -> FindCoordinatorResponse {
    let keys = if version >= 4 {
        req.coordinator_keys.clone()
    } else {
        vec![req.key.clone()]
    };
    // Through `mutate_if`: only creating the offsets topic changes anything
    // (and then replication must start at once).
    let coordinators: Vec<Coordinator> = ctx.shared.mutate_if(|s| {
        let created = ensure_offsets_topic(s);
        let coordinators = keys
            .iter()
            .map(|key| {
                let refused = |error: i16, message: &str| {
                    Coordinator::default()
                        .with_key(key.clone())
                        .with_node_id(WireBrokerId(-1))
                        .with_host(sb(""))
                        .with_port(-1)
                        .with_error_code(error)
                        .with_error_message(Some(sb(message)))
                };
                match req.key_type {
                    0 => {}
                    1 => {
                        return refused(
                            code::COORDINATOR_NOT_AVAILABLE,
                            "the mini-broker has no transaction coordinator",
                        );
                    }
                    _ => return refused(code::INVALID_REQUEST, "unknown key type"),
                }
                if created != Ok(false) {
                    // Kafka answers so while it creates the topic; clients ask again.
                    return refused(
                        code::COORDINATOR_NOT_AVAILABLE,
                        "The coordinator is not available.",
                    );
                }
                match coordinator_of(s, key.as_str()).and_then(|b| s.brokers.get(&b)) {
                    None => refused(
                        code::COORDINATOR_NOT_AVAILABLE,
                        "The coordinator is not available.",
                    ),
                    Some(b) => Coordinator::default()
                        .with_key(key.clone())
                        .with_node_id(WireBrokerId(b.id))
                        .with_host(sb(b.host.clone()))
                        .with_port(i32::from(b.port)),
                }
            })
            .collect();
        (coordinators, created == Ok(true))
    });
    if version >= 4 {
        return FindCoordinatorResponse::default().with_coordinators(coordinators);
    }
    let c = coordinators.into_iter().next().unwrap_or_default();
    let mut resp = FindCoordinatorResponse::default()
        .with_error_code(c.error_code)
        .with_node_id(c.node_id)
        .with_host(c.host)
        .with_port(c.port);
    if version >= 1 {
        resp = resp.with_error_message(c.error_message);
    }
    resp
}

fn join_response(a: JoinAnswer, version: i16) -> JoinGroupResponse {
    let mut resp = JoinGroupResponse::default()
        .with_error_code(a.error)
        .with_generation_id(a.generation)
        .with_leader(sb(a.leader))
        .with_member_id(sb(a.member_id))
        .with_members(
            a.members
                .into_iter()
                .map(|(id, instance, metadata)| {
                    let mut m = JoinGroupResponseMember::default()
                        .with_member_id(sb(id))
                        .with_metadata(metadata);
                    if version >= 5 {
                        m = m.with_group_instance_id(instance.map(sb));
                    }
                    m
                })
                .collect(),
        );
    if version >= 9 {
        resp = resp.with_skip_assignment(a.skip_assignment);
    }
    let protocol = a.protocol.map(sb);
    resp = if version >= 7 {
        resp.with_protocol_type(a.protocol_type.map(sb))
            .with_protocol_name(protocol)
    } else {
        resp.with_protocol_name(Some(protocol.unwrap_or_else(|| sb(""))))
    };
    resp
}

pub async fn join(ctx: &BrokerCtx, req: JoinGroupRequest, version: i16) -> JoinGroupResponse {
    let group = req.group_id.0.to_string();
    let r = JoinRequest {
        group: group.clone(),
        member_id: req.member_id.to_string(),
        instance_id: req.group_instance_id.as_ref().map(|s| s.to_string()),
        client_id: ctx.session.lock().client_id.clone(),
        client_host: ctx
            .peer
            .map_or_else(String::new, |p| format!("/{}", p.ip())),
        session_timeout: ms(req.session_timeout_ms),
        rebalance_timeout: if version >= 1 {
            ms(req.rebalance_timeout_ms)
        } else {
            ms(req.session_timeout_ms)
        },
        protocol_type: req.protocol_type.to_string(),
        protocols: req
            .protocols
            .iter()
            .map(|p| (p.name.to_string(), p.metadata.clone()))
            .collect(),
        require_known_member_id: version >= 4,
    };
    let outcome = with_groups(ctx, |s, now| {
        let e = check_coordinator(ctx, s, &group);
        if e != code::NONE {
            return Outcome::Answer(JoinAnswer::error(e, &r.member_id));
        }
        s.groups.join(r, now)
    });
    let answer = match outcome {
        Outcome::Answer(a) => a,
        Outcome::Wait(member) => {
            // A coordinator that loses the group's partition meanwhile
            // answers NOT_COORDINATOR, as Kafka's does on unloading it.
            wait_for(
                ctx,
                &group,
                |s| s.groups.join_ready(&group, &member) || !coordinates(ctx, s, &group),
                |s, now| match check_coordinator(ctx, s, &group) {
                    code::NONE => s.groups.poll_join(&group, &member, now),
                    e => Some(JoinAnswer::error(e, &member)),
                },
            )
            .await
        }
    };
    join_response(answer, version)
}

fn sync_response(a: SyncAnswer, version: i16) -> SyncGroupResponse {
    let mut resp = SyncGroupResponse::default()
        .with_error_code(a.error)
        .with_assignment(a.assignment);
    if version >= 5 {
        resp = resp
            .with_protocol_type(a.protocol_type.map(sb))
            .with_protocol_name(a.protocol.map(sb));
    }
    resp
}

pub async fn sync(ctx: &BrokerCtx, req: SyncGroupRequest, version: i16) -> SyncGroupResponse {
    let group = req.group_id.0.to_string();
    let member = req.member_id.to_string();
    let assignments = req
        .assignments
        .iter()
        .map(|a| (a.member_id.to_string(), a.assignment.clone()))
        .collect();
    let outcome = with_groups(ctx, |s, now| {
        let mut e = check_coordinator(ctx, s, &group);
        if e == code::NONE && version >= 3 {
            e = s
                .groups
                .validate_member(&group, &member, req.group_instance_id.as_deref());
        }
        if e != code::NONE {
            return Outcome::Answer(SyncAnswer::error(e));
        }
        s.groups.sync(
            &group,
            &member,
            req.generation_id,
            req.protocol_type.as_deref(),
            req.protocol_name.as_deref(),
            assignments,
            now,
        )
    });
    let answer = match outcome {
        Outcome::Answer(a) => a,
        Outcome::Wait(m) => {
            wait_for(
                ctx,
                &group,
                |s| s.groups.sync_ready(&group, &m) || !coordinates(ctx, s, &group),
                |s, now| match check_coordinator(ctx, s, &group) {
                    code::NONE => s.groups.poll_sync(&group, &m, now),
                    e => Some(SyncAnswer::error(e)),
                },
            )
            .await
        }
    };
    sync_response(answer, version)
}

pub async fn heartbeat(ctx: &BrokerCtx, req: HeartbeatRequest, _version: i16) -> HeartbeatResponse {
    let group = req.group_id.0.as_str();
    let error = with_groups(ctx, |s, now| match check_coordinator(ctx, s, group) {
        code::NONE => s.groups.heartbeat(
            group,
            &req.member_id,
            req.group_instance_id.as_deref(),
            req.generation_id,
            now,
        ),
        e => e,
    });
    HeartbeatResponse::default().with_error_code(error)
}

pub async fn leave(ctx: &BrokerCtx, req: LeaveGroupRequest, version: i16) -> LeaveGroupResponse {
    let group = req.group_id.0.as_str();
    let ids: Vec<(String, Option<String>)> = if version >= 3 {
        req.members
            .iter()
            .map(|m| {
                (
                    m.member_id.to_string(),
                    m.group_instance_id.as_ref().map(|i| i.to_string()),
                )
            })
            .collect()
    } else {
        vec![(req.member_id.to_string(), None)]
    };
    let result = with_groups(ctx, |s, now| match check_coordinator(ctx, s, group) {
        code::NONE => Ok(s.groups.leave_members(group, &ids, now)),
        e => Err(e),
    });
    match result {
        Err(e) => LeaveGroupResponse::default().with_error_code(e),
        Ok(codes) if version >= 3 => LeaveGroupResponse::default().with_members(
            req.members
                .iter()
                .zip(codes)
                .map(|(m, e)| {
                    MemberResponse::default()
                        .with_member_id(m.member_id.clone())
                        .with_group_instance_id(m.group_instance_id.clone())
                        .with_error_code(e)
                })
                .collect(),
        ),
        Ok(codes) => LeaveGroupResponse::default().with_error_code(codes[0]),
    }
}

/// Kafka's `offsets.commit.timeout.ms` default.
const OFFSETS_COMMIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

pub async fn offset_commit(
    ctx: &BrokerCtx,
    req: OffsetCommitRequest,
    _version: i16,
) -> OffsetCommitResponse {
    let group = req.group_id.0.as_str();
    let (mut topics, version, durable) = with_groups(ctx, |s, now| {
        let mut error = check_coordinator(ctx, s, group);
        if error == code::NONE && group.is_empty() {
            error = code::INVALID_GROUP_ID;
        }
        if error == code::NONE {
            error = s.groups.check_commit(
                group,
                &req.member_id,
                req.group_instance_id.as_deref(),
                req.generation_id_or_member_epoch,
                now,
            );
        }
        let topics: Vec<OffsetCommitResponseTopic> = req
            .topics
            .iter()
            .map(|t| {
                let partitions = t
                    .partitions
                    .iter()
                    .map(|p| {
                        let metadata = p.committed_metadata.as_deref().unwrap_or("");
                        let e = if error != code::NONE {
                            error
                        } else if s.partition(&t.name, p.partition_index).is_none() {
                            code::UNKNOWN_TOPIC_OR_PARTITION
                        } else if metadata.len() > groups::MAX_METADATA {
                            code::OFFSET_METADATA_TOO_LARGE
                        } else {
                            s.groups.commit_at(
                                group,
                                &t.name,
                                p.partition_index,
                                Committed {
                                    offset: p.committed_offset,
                                    leader_epoch: p.committed_leader_epoch,
                                    metadata: metadata.to_string(),
                                },
                                now,
                            );
                            code::NONE
                        };
                        OffsetCommitResponsePartition::default()
                            .with_partition_index(p.partition_index)
                            .with_error_code(e)
                    })
                    .collect();
                OffsetCommitResponseTopic::default()
                    .with_name(t.name.clone())
                    .with_partitions(partitions)
            })
            .collect();
        (topics, s.groups.offsets_version(), s.storage.is_some())
    });
    // With a data dir the commit is answered once it is on disk, as Kafka
    // answers once the offsets topic has it: a crash then loses no
    // acknowledged commit. Kafka's `offsets.commit.timeout.ms` bounds it.
    if durable {
        let deadline = tokio::time::Instant::now() + OFFSETS_COMMIT_TIMEOUT;
        let saved = ctx
            .shared
            .poll(deadline, |s, last| {
                let saved = s.groups.offsets_saved(version);
                (saved || last).then_some(saved)
            })
            .await;
        if !saved {
            for p in topics.iter_mut().flat_map(|t| t.partitions.iter_mut()) {
                if p.error_code == code::NONE {
                    p.error_code = code::COORDINATOR_NOT_AVAILABLE;
                }
            }
        }
    }
    OffsetCommitResponse::default().with_topics(topics)
}

pub async fn offset_delete(
    ctx: &BrokerCtx,
    req: OffsetDeleteRequest,
    _version: i16,
) -> OffsetDeleteResponse {
    let group = req.group_id.0.as_str();
    let asked: Vec<(String, i32)> = req
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(|p| (t.name.to_string(), p.partition_index))
        })
        .collect();
    let result = with_groups(ctx, |s, now| match check_coordinator(ctx, s, group) {
        code::NONE => s.groups.delete_offsets(group, &asked, now),
        e => Err(e),
    });
    let codes = match result {
        Err(e) => return OffsetDeleteResponse::default().with_error_code(e),
        Ok(codes) => codes,
    };
    let mut codes = codes.into_iter();
    OffsetDeleteResponse::default().with_topics(
        req.topics
            .iter()
            .map(|t| {
                OffsetDeleteResponseTopic::default()
                    .with_name(t.name.clone())
                    .with_partitions(
                        t.partitions
                            .iter()
                            .map(|p| {
                                OffsetDeleteResponsePartition::default()
                                    .with_partition_index(p.partition_index)
                                    .with_error_code(codes.next().unwrap_or(code::NONE))
                            })
                            .collect(),
                    )
            })
            .collect(),
    )
}

/// One partition's committed offset as OffsetFetch gives it: -1 and no
/// metadata when nothing was committed.
type Fetched = (i32, i64, i32, String, i16);

/// OffsetFetch for one group: its error, and per topic the partitions
/// asked (all committed ones when `topics` is None).
fn fetch_group(
    ctx: &BrokerCtx,
    s: &State,
    group: &str,
    topics: Option<Vec<(TopicName, Vec<i32>)>>,
) -> (i16, Vec<(TopicName, Vec<Fetched>)>) {
    let error = check_coordinator(ctx, s, group);
    let topics = match topics {
        Some(t) => t,
        None if error != code::NONE => Vec::new(),
        None => {
            let mut all: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
            for (g, t, p, _) in s.groups.all_offsets() {
                if g == group {
                    all.entry(t).or_default().push(p);
                }
            }
            all.into_iter()
                .map(|(t, ps)| (TopicName(sb(t)), ps))
                .collect()
        }
    };
    let topics = topics
        .into_iter()
        .map(|(name, partitions)| {
            let ps = partitions
                .into_iter()
                .map(|p| match s.groups.committed(group, &name, p) {
                    Some(c) if error == code::NONE => {
                        (p, c.offset, c.leader_epoch, c.metadata.clone(), code::NONE)
                    }
                    _ => (p, -1, -1, String::new(), error),
                })
                .collect();
            (name, ps)
        })
        .collect();
    (error, topics)
}

pub async fn offset_fetch(
    ctx: &BrokerCtx,
    req: OffsetFetchRequest,
    version: i16,
) -> OffsetFetchResponse {
    if version >= 8 {
        // Committed offsets depend on no timer: read without changing.
        let groups = ctx.shared.inspect(|s| {
            req.groups
                .iter()
                .map(|g| {
                    let asked = g.topics.as_ref().map(|ts| {
                        ts.iter()
                            .map(|t| (t.name.clone(), t.partition_indexes.clone()))
                            .collect()
                    });
                    let (error, topics) = fetch_group(ctx, s, &g.group_id, asked);
                    OffsetFetchResponseGroup::default()
                        .with_group_id(g.group_id.clone())
                        .with_error_code(error)
                        .with_topics(
                            topics
                                .into_iter()
                                .map(|(name, ps)| {
                                    OffsetFetchResponseTopics::default()
                                        .with_name(name)
                                        .with_partitions(
                                            ps.into_iter()
                                                .map(|(p, o, e, m, err)| {
                                                    OffsetFetchResponsePartitions::default()
                                                        .with_partition_index(p)
                                                        .with_committed_offset(o)
                                                        .with_committed_leader_epoch(e)
                                                        .with_metadata(Some(sb(m)))
                                                        .with_error_code(err)
                                                })
                                                .collect(),
                                        )
                                })
                                .collect(),
                        )
                })
                .collect()
        });
        return OffsetFetchResponse::default().with_groups(groups);
    }
    let asked = req.topics.as_ref().map(|ts| {
        ts.iter()
            .map(|t| (t.name.clone(), t.partition_indexes.clone()))
            .collect()
    });
    let (error, topics) = ctx
        .shared
        .inspect(|s| fetch_group(ctx, s, &req.group_id, asked));
    let mut resp = OffsetFetchResponse::default().with_topics(
        topics
            .into_iter()
            .map(|(name, ps)| {
                OffsetFetchResponseTopic::default()
                    .with_name(name)
                    .with_partitions(
                        ps.into_iter()
                            .map(|(p, o, e, m, err)| {
                                OffsetFetchResponsePartition::default()
                                    .with_partition_index(p)
                                    .with_committed_offset(o)
                                    .with_committed_leader_epoch(e)
                                    .with_metadata(Some(sb(m)))
                                    .with_error_code(err)
                            })
                            .collect(),
                    )
            })
            .collect(),
    );
    if version >= 2 {
        resp = resp.with_error_code(error);
    }
    resp
}

pub async fn list(ctx: &BrokerCtx, req: ListGroupsRequest, version: i16) -> ListGroupsResponse {
    let states: Vec<String> = req.states_filter.iter().map(|s| s.to_lowercase()).collect();
    let types: Vec<String> = req.types_filter.iter().map(|s| s.to_lowercase()).collect();
    let listed = with_groups(ctx, |s, now| {
        // Every group's state is listed, so every group's timers run.
        s.groups.tick(now);
        s.groups
            .iter()
            .filter(|(id, _)| coordinator_of(s, id) == Some(ctx.id))
            .filter(|(_, g)| states.is_empty() || states.contains(&g.phase.name().to_lowercase()))
            .filter(|_| types.is_empty() || types.iter().any(|t| t == "classic"))
            .map(|(id, g)| {
                let mut l = ListedGroup::default()
                    .with_group_id(GroupId(sb(id.clone())))
                    .with_protocol_type(sb(g.protocol_type.clone().unwrap_or_default()));
                if version >= 4 {
                    l = l.with_group_state(sb(g.phase.name()));
                }
                if version >= 5 {
                    l = l.with_group_type(sb("classic"));
                }
                l
            })
            .collect()
    });
    ListGroupsResponse::default().with_groups(listed)
}

pub async fn describe(
    ctx: &BrokerCtx,
    req: DescribeGroupsRequest,
    version: i16,
) -> DescribeGroupsResponse {
    let described = with_groups(ctx, |s, now| {
        req.groups
            .iter()
            .map(|id| {
                s.groups.tick_group(id, now);
                let base = DescribedGroup::default().with_group_id(id.clone());
                let error = check_coordinator(ctx, s, id);
                let Some(g) = s.groups.get(id).filter(|_| error == code::NONE) else {
                    // Kafka 4.x: an unknown group is Dead, and from v6 on
                    // GROUP_ID_NOT_FOUND as well.
                    let (error, message) = match error {
                        code::NONE if version >= 6 => (
                            code::GROUP_ID_NOT_FOUND,
                            Some(format!("Group {} not found.", id.as_str())),
                        ),
                        code::NONE => (code::NONE, None),
                        e => (e, None),
                    };
                    let mut d = base.with_error_code(error).with_group_state(sb("Dead"));
                    if version >= 6 {
                        d = d.with_error_message(message.map(sb));
                    }
                    return d;
                };
                let stable = g.phase == groups::Phase::Stable;
                let protocol = g.protocol.clone().unwrap_or_default();
                let members = g
                    .members
                    .values()
                    .map(|m| {
                        let mut dm = DescribedGroupMember::default()
                            .with_member_id(sb(m.id.clone()))
                            .with_client_id(sb(m.client_id.clone()))
                            .with_client_host(sb(m.client_host.clone()));
                        if stable {
                            dm = dm
                                .with_member_metadata(m.metadata(&protocol))
                                .with_member_assignment(m.assignment.clone());
                        }
                        if version >= 4 {
                            dm = dm.with_group_instance_id(m.instance_id.clone().map(sb));
                        }
                        dm
                    })
                    .collect();
                base.with_group_state(sb(g.phase.name()))
                    .with_protocol_type(sb(g.protocol_type.clone().unwrap_or_default()))
                    .with_protocol_data(sb(if stable { protocol } else { String::new() }))
                    .with_members(members)
            })
            .collect()
    });
    DescribeGroupsResponse::default().with_groups(described)
}

pub async fn delete(
    ctx: &BrokerCtx,
    req: DeleteGroupsRequest,
    _version: i16,
) -> DeleteGroupsResponse {
    let results = with_groups(ctx, |s, now| {
        req.groups_names
            .iter()
            .map(|id| {
                let error = match check_coordinator(ctx, s, id) {
                    code::NONE => s.groups.delete(id, now),
                    e => e,
                };
                DeletableGroupResult::default()
                    .with_group_id(id.clone())
                    .with_error_code(error)
            })
            .collect()
    });
    DeleteGroupsResponse::default().with_results(results)
}

/// KIP-848's heartbeat, answered as Kafka 4.x answers it with
/// `group.coordinator.rebalance.protocols=classic`: UNSUPPORTED_VERSION,
/// so that a client configured for the new protocol says why.
pub async fn consumer_group_heartbeat(
    _ctx: &BrokerCtx,
    _req: ConsumerGroupHeartbeatRequest,
    _version: i16,
) -> ConsumerGroupHeartbeatResponse {
    ConsumerGroupHeartbeatResponse::default().with_error_code(code::UNSUPPORTED_VERSION)
}
