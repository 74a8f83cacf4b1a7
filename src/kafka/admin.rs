//! The admin operations kafka-migrate needs, routed as Kafka requires:
//! metadata, reassignments and elections to any broker; BROKER config
//! resources and log-dir queries to the broker they are about.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use kafka_protocol::messages::alter_partition_reassignments_request::{
    ReassignablePartition, ReassignableTopic,
};
use kafka_protocol::messages::create_topics_request::{
    CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig,
};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, BrokerId as WireBrokerId, CreateTopicsRequest,
    DescribeConfigsRequest, DescribeLogDirsRequest, DescribeLogDirsResponse, ElectLeadersRequest,
    IncrementalAlterConfigsRequest, ListPartitionReassignmentsRequest, MetadataRequest,
    MetadataResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::{Connection, KafkaError};
use crate::model::{Broker, BrokerId, Cluster, InFlight, Partition, Topic, TopicPartition};

/// A config resource: a broker's dynamic configs or a topic's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigResource {
    Broker(BrokerId),
    Topic(String),
}

impl ConfigResource {
    fn wire(&self) -> (i8, StrBytes) {
        match self {
            ConfigResource::Broker(id) => (4, StrBytes::from_string(id.to_string())),
            ConfigResource::Topic(t) => (2, StrBytes::from_string(t.clone())),
        }
    }
}

/// A move in flight, as ListPartitionReassignments reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ongoing {
    pub tp: TopicPartition,
    pub replicas: Vec<BrokerId>,
    pub adding: Vec<BrokerId>,
    pub removing: Vec<BrokerId>,
}

/// The cluster as `describe` reports it.
#[derive(Debug, Clone)]
pub struct Survey {
    /// The snapshot, partitions in motion with their target, adding and
    /// removing replicas.
    pub cluster: Cluster,
    /// Bytes on each live broker's log dirs: the sum of its own replicas'
    /// sizes (of the snapshot's topics), which mid-move is not the leader's
    /// size over every replica list.
    pub broker_bytes: BTreeMap<BrokerId, u64>,
    /// The moves in flight, sorted.
    pub moves: Vec<Ongoing>,
}

/// A per-partition outcome: `Ok` or the broker's error.
pub type PartitionResult = (TopicPartition, Result<(), KafkaError>);

pub struct Admin {
    timeout: Duration,
    any: Connection,
    per_broker: HashMap<BrokerId, Connection>,
    /// Live brokers from the last metadata: id -> (host:port, rack).
    pub brokers: BTreeMap<BrokerId, (String, Option<String>)>,
    pub controller: BrokerId,
}

impl Admin {
    /// Connects to the first bootstrap server that answers and reads the
    /// cluster's brokers.
    pub async fn connect(bootstrap: &str, timeout: Duration) -> Result<Admin, KafkaError> {
        let mut errors = Vec::new();
        for addr in bootstrap
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
        {
            match Connection::connect(addr, timeout).await {
                Ok(any) => {
                    let mut admin = Admin {
                        timeout,
                        any,
                        per_broker: HashMap::new(),
                        brokers: BTreeMap::new(),
                        controller: -1,
                    };
                    admin.metadata().await?;
                    return Ok(admin);
                }
                Err(e) => errors.push(e.to_string()),
            }
        }
        Err(KafkaError::NoBootstrap(errors.join("; ")))
    }

    /// Full metadata (all topics); refreshes the broker list.
    pub async fn metadata(&mut self) -> Result<MetadataResponse, KafkaError> {
        let resp = self
            .any
            .send(&MetadataRequest::default().with_topics(None))
            .await?;
        self.brokers = resp
            .brokers
            .iter()
            .map(|b| {
                (
                    b.node_id.0,
                    (
                        format!("{}:{}", b.host.as_str(), b.port),
                        b.rack.as_ref().map(|r| r.as_str().to_string()),
                    ),
                )
            })
            .collect();
        self.controller = resp.controller_id.0;
        Ok(resp)
    }

    /// A connection to one broker, opened on first use.
    pub async fn broker(&mut self, id: BrokerId) -> Result<&mut Connection, KafkaError> {
        if !self.per_broker.contains_key(&id) {
            let addr = self
                .brokers
                .get(&id)
                .map(|(a, _)| a.clone())
                .ok_or(KafkaError::UnknownBroker(id))?;
            let conn = Connection::connect(&addr, self.timeout).await?;
            self.per_broker.insert(id, conn);
        }
        Ok(self.per_broker.get_mut(&id).expect("inserted above"))
    }

    /// Forgets a broker's connection (after an I/O error, say).
    pub fn drop_broker(&mut self, id: BrokerId) {
        self.per_broker.remove(&id);
    }

    /// The cluster as a snapshot: brokers with racks, partitions with
    /// replicas, ISR and leader, and sizes from each broker's log dirs (the
    /// leader's size, else the largest replica's). Brokers named in replica
    /// lists but absent from metadata are reported as not alive.
    pub async fn snapshot(&mut self) -> Result<Cluster, KafkaError> {
        Ok(self.survey().await?.cluster)
    }

    /// [`Admin::snapshot`] with each broker's bytes on disk and the moves
    /// in flight, which the snapshot records per partition.
    pub async fn survey(&mut self) -> Result<Survey, KafkaError> {
        let md = self.metadata().await?;
        let mut sizes: HashMap<(String, i32), HashMap<BrokerId, u64>> = HashMap::new();
        let ids: Vec<BrokerId> = self.brokers.keys().copied().collect();
        for id in ids {
            let resp = self.log_dirs(id).await?;
            for dir in resp.results.iter().filter(|d| d.error_code == 0) {
                for t in &dir.topics {
                    for p in t.partitions.iter().filter(|p| !p.is_future_key) {
                        sizes
                            .entry((t.name.0.as_str().to_string(), p.partition_index))
                            .or_default()
                            .insert(id, p.partition_size.max(0) as u64);
                    }
                }
            }
        }
        let mut brokers: BTreeMap<BrokerId, Broker> = md
            .brokers
            .iter()
            .map(|b| {
                (
                    b.node_id.0,
                    Broker {
                        id: b.node_id.0,
                        rack: b.rack.as_ref().map(|r| r.as_str().to_string()),
                        host: Some(b.host.as_str().to_string()),
                        port: u16::try_from(b.port).ok(),
                        alive: true,
                    },
                )
            })
            .collect();
        let mut topics = Vec::new();
        for t in md
            .topics
            .iter()
            .filter(|t| t.error_code == 0 && !t.is_internal)
        {
            let Some(name) = t.name.as_ref().map(|n| n.0.as_str().to_string()) else {
                continue;
            };
            let mut partitions: Vec<Partition> = t
                .partitions
                .iter()
                .map(|p| {
                    let replicas: Vec<BrokerId> = p.replica_nodes.iter().map(|b| b.0).collect();
                    for &b in &replicas {
                        brokers.entry(b).or_insert(Broker {
                            id: b,
                            rack: None,
                            host: None,
                            port: None,
                            alive: false,
                        });
                    }
                    let leader = (p.leader_id.0 >= 0).then_some(p.leader_id.0);
                    let by_broker = sizes.get(&(name.clone(), p.partition_index));
                    let size = by_broker
                        .and_then(|m| leader.and_then(|l| m.get(&l)).copied())
                        .or_else(|| by_broker.and_then(|m| m.values().max().copied()))
                        .unwrap_or(0);
                    Partition {
                        partition: p.partition_index,
                        isr: p.isr_nodes.iter().map(|b| b.0).collect(),
                        leader,
                        replicas,
                        size_bytes: size,
                        in_flight: None,
                    }
                })
                .collect();
            partitions.sort_by_key(|p| p.partition);
            topics.push(Topic { name, partitions });
        }
        topics.sort_by(|a, b| a.name.cmp(&b.name));
        let moves = self.list_reassignments().await?;
        let mut cluster = Cluster {
            brokers: Vec::new(),
            topics,
        };
        for m in &moves {
            for &b in &m.replicas {
                brokers.entry(b).or_insert(Broker {
                    id: b,
                    rack: None,
                    host: None,
                    port: None,
                    alive: false,
                });
            }
            mark_in_flight(&mut cluster, m);
        }
        cluster.brokers = brokers.into_values().collect();
        // Per broker, its own replicas of the snapshot's topics (a moving
        // partition's adding replica holds only what it has copied so far).
        let mut broker_bytes: BTreeMap<BrokerId, u64> =
            self.brokers.keys().map(|&id| (id, 0)).collect();
        for t in &cluster.topics {
            for p in &t.partitions {
                if let Some(by_broker) = sizes.get(&(t.name.clone(), p.partition)) {
                    for (b, z) in by_broker {
                        *broker_bytes.entry(*b).or_default() += z;
                    }
                }
            }
        }
        Ok(Survey {
            cluster,
            broker_bytes,
            moves,
        })
    }

    /// The topics' configs among `keys` that are set to a non-empty value
    /// (topic -> name -> value), in one request per few hundred topics.
    pub async fn describe_topic_configs(
        &mut self,
        topics: &[&str],
        keys: &[&str],
    ) -> Result<BTreeMap<String, BTreeMap<String, String>>, KafkaError> {
        let mut out = BTreeMap::new();
        for chunk in topics.chunks(500) {
            let req = DescribeConfigsRequest::default().with_resources(
                chunk
                    .iter()
                    .map(|t| {
                        let (kind, name) = ConfigResource::Topic(t.to_string()).wire();
                        DescribeConfigsResource::default()
                            .with_resource_type(kind)
                            .with_resource_name(name)
                            .with_configuration_keys(Some(
                                keys.iter()
                                    .map(|k| StrBytes::from_string(k.to_string()))
                                    .collect(),
                            ))
                    })
                    .collect(),
            );
            let addr = self.any.addr().to_string();
            let resp = self.any.send(&req).await?;
            for r in &resp.results {
                if r.error_code != 0 {
                    return Err(refused(
                        "DescribeConfigs",
                        &addr,
                        r.error_code,
                        r.error_message.as_ref(),
                    ));
                }
                let set: BTreeMap<String, String> = r
                    .configs
                    .iter()
                    .filter(|c| keys.contains(&c.name.as_str()))
                    .filter_map(|c| {
                        let v = c.value.as_ref()?.as_str();
                        (!v.is_empty()).then(|| (c.name.as_str().to_string(), v.to_string()))
                    })
                    .collect();
                if !set.is_empty() {
                    out.insert(r.resource_name.as_str().to_string(), set);
                }
            }
        }
        Ok(out)
    }

    pub async fn log_dirs(
        &mut self,
        broker: BrokerId,
    ) -> Result<DescribeLogDirsResponse, KafkaError> {
        let conn = self.broker(broker).await?;
        let resp = conn
            .send(&DescribeLogDirsRequest::default().with_topics(None))
            .await?;
        if resp.error_code != 0 {
            return Err(refused(
                "DescribeLogDirs",
                conn.addr(),
                resp.error_code,
                None,
            ));
        }
        Ok(resp)
    }

    /// Moves in flight, sorted by topic-partition.
    pub async fn list_reassignments(&mut self) -> Result<Vec<Ongoing>, KafkaError> {
        let resp = self
            .any
            .send(
                &ListPartitionReassignmentsRequest::default()
                    .with_timeout_ms(self.timeout.as_millis() as i32)
                    .with_topics(None),
            )
            .await?;
        if resp.error_code != 0 {
            return Err(refused(
                "ListPartitionReassignments",
                self.any.addr(),
                resp.error_code,
                resp.error_message.as_ref(),
            ));
        }
        let ids = |v: &[WireBrokerId]| v.iter().map(|b| b.0).collect::<Vec<_>>();
        let mut out: Vec<Ongoing> = resp
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(move |p| Ongoing {
                    tp: TopicPartition {
                        topic: t.name.0.as_str().to_string(),
                        partition: p.partition_index,
                    },
                    replicas: ids(&p.replicas),
                    adding: ids(&p.adding_replicas),
                    removing: ids(&p.removing_replicas),
                })
            })
            .collect();
        out.sort_by(|a, b| a.tp.cmp(&b.tp));
        Ok(out)
    }

    /// Starts (Some) or cancels (None) moves. Kafka answers per partition
    /// and is not atomic, so the result is per partition too.
    pub async fn alter_reassignments(
        &mut self,
        moves: &[(TopicPartition, Option<Vec<BrokerId>>)],
    ) -> Result<Vec<PartitionResult>, KafkaError> {
        let mut by_topic: BTreeMap<&str, Vec<ReassignablePartition>> = BTreeMap::new();
        for (tp, replicas) in moves {
            by_topic.entry(&tp.topic).or_default().push(
                ReassignablePartition::default()
                    .with_partition_index(tp.partition)
                    .with_replicas(
                        replicas
                            .as_ref()
                            .map(|r| r.iter().map(|&b| WireBrokerId(b)).collect()),
                    ),
            );
        }
        let topics = by_topic
            .into_iter()
            .map(|(t, parts)| {
                ReassignableTopic::default()
                    .with_name(TopicName(StrBytes::from_string(t.to_string())))
                    .with_partitions(parts)
            })
            .collect();
        let req = AlterPartitionReassignmentsRequest::default()
            .with_timeout_ms(self.timeout.as_millis() as i32)
            .with_topics(topics);
        let resp = self.any.send(&req).await?;
        let addr = self.any.addr().to_string();
        if resp.error_code != 0 {
            return Err(refused(
                "AlterPartitionReassignments",
                &addr,
                resp.error_code,
                resp.error_message.as_ref(),
            ));
        }
        let mut out = Vec::new();
        for t in &resp.responses {
            for p in &t.partitions {
                let tp = TopicPartition {
                    topic: t.name.0.as_str().to_string(),
                    partition: p.partition_index,
                };
                let r = if p.error_code == 0 {
                    Ok(())
                } else {
                    Err(refused(
                        "AlterPartitionReassignments",
                        &addr,
                        p.error_code,
                        p.error_message.as_ref(),
                    ))
                };
                out.push((tp, r));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Preferred leader election. ELECTION_NOT_NEEDED counts as success.
    pub async fn elect_preferred(
        &mut self,
        partitions: &[TopicPartition],
    ) -> Result<Vec<PartitionResult>, KafkaError> {
        let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for tp in partitions {
            by_topic.entry(&tp.topic).or_default().push(tp.partition);
        }
        let req = ElectLeadersRequest::default()
            .with_election_type(0)
            .with_timeout_ms(self.timeout.as_millis() as i32)
            .with_topic_partitions(Some(
                by_topic
                    .into_iter()
                    .map(|(t, ps)| {
                        TopicPartitions::default()
                            .with_topic(TopicName(StrBytes::from_string(t.to_string())))
                            .with_partitions(ps)
                    })
                    .collect(),
            ));
        let resp = self.any.send(&req).await?;
        let addr = self.any.addr().to_string();
        if resp.error_code != 0 {
            return Err(refused("ElectLeaders", &addr, resp.error_code, None));
        }
        let mut out = Vec::new();
        for t in &resp.replica_election_results {
            for p in &t.partition_result {
                let tp = TopicPartition {
                    topic: t.topic.0.as_str().to_string(),
                    partition: p.partition_id,
                };
                let r = match p.error_code {
                    0 | 84 => Ok(()),
                    code => Err(refused(
                        "ElectLeaders",
                        &addr,
                        code,
                        p.error_message.as_ref(),
                    )),
                };
                out.push((tp, r));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// The connection a config resource must go to: a broker resource to
    /// that broker (Kafka answers INVALID_REQUEST otherwise), a topic to any.
    async fn config_conn(&mut self, res: &ConfigResource) -> Result<&mut Connection, KafkaError> {
        match res {
            ConfigResource::Broker(id) => self.broker(*id).await,
            ConfigResource::Topic(_) => Ok(&mut self.any),
        }
    }

    /// The resource's configs that are set (name -> value; sensitive values
    /// come back as `None`).
    pub async fn describe_configs(
        &mut self,
        res: &ConfigResource,
        keys: Option<&[&str]>,
    ) -> Result<BTreeMap<String, Option<String>>, KafkaError> {
        let (kind, name) = res.wire();
        let req = DescribeConfigsRequest::default().with_resources(vec![
            DescribeConfigsResource::default()
                .with_resource_type(kind)
                .with_resource_name(name)
                .with_configuration_keys(keys.map(|ks| {
                    ks.iter()
                        .map(|k| StrBytes::from_string(k.to_string()))
                        .collect()
                })),
        ]);
        let conn = self.config_conn(res).await?;
        let addr = conn.addr().to_string();
        let resp = conn.send(&req).await?;
        let mut out = BTreeMap::new();
        for r in &resp.results {
            if r.error_code != 0 {
                return Err(refused(
                    "DescribeConfigs",
                    &addr,
                    r.error_code,
                    r.error_message.as_ref(),
                ));
            }
            for c in &r.configs {
                let value = if c.is_sensitive {
                    None
                } else {
                    c.value.as_ref().map(|v| v.as_str().to_string())
                };
                out.insert(c.name.as_str().to_string(), value);
            }
        }
        Ok(out)
    }

    /// Sets (`Some`) or deletes (`None`) configs of one resource.
    pub async fn alter_configs(
        &mut self,
        res: &ConfigResource,
        ops: &[(&str, Option<&str>)],
    ) -> Result<(), KafkaError> {
        let (kind, name) = res.wire();
        let req = IncrementalAlterConfigsRequest::default().with_resources(vec![
            AlterConfigsResource::default()
                .with_resource_type(kind)
                .with_resource_name(name)
                .with_configs(
                    ops.iter()
                        .map(|(k, v)| {
                            AlterableConfig::default()
                                .with_name(StrBytes::from_string(k.to_string()))
                                .with_config_operation(if v.is_some() { 0 } else { 1 })
                                .with_value(v.map(|v| StrBytes::from_string(v.to_string())))
                        })
                        .collect(),
                ),
        ]);
        let conn = self.config_conn(res).await?;
        let addr = conn.addr().to_string();
        let resp = conn.send(&req).await?;
        for r in &resp.responses {
            if r.error_code != 0 {
                return Err(refused(
                    "IncrementalAlterConfigs",
                    &addr,
                    r.error_code,
                    r.error_message.as_ref(),
                ));
            }
        }
        Ok(())
    }

    /// Creates a topic with explicit replica lists (one per partition).
    pub async fn create_topic(
        &mut self,
        name: &str,
        assignment: &[Vec<BrokerId>],
        configs: &[(&str, &str)],
    ) -> Result<(), KafkaError> {
        let topic = CreatableTopic::default()
            .with_name(TopicName(StrBytes::from_string(name.to_string())))
            .with_num_partitions(-1)
            .with_replication_factor(-1)
            .with_assignments(
                assignment
                    .iter()
                    .enumerate()
                    .map(|(i, r)| {
                        CreatableReplicaAssignment::default()
                            .with_partition_index(i as i32)
                            .with_broker_ids(r.iter().map(|&b| WireBrokerId(b)).collect())
                    })
                    .collect(),
            )
            .with_configs(
                configs
                    .iter()
                    .map(|(k, v)| {
                        CreatableTopicConfig::default()
                            .with_name(StrBytes::from_string(k.to_string()))
                            .with_value(Some(StrBytes::from_string(v.to_string())))
                    })
                    .collect(),
            );
        let req = CreateTopicsRequest::default()
            .with_timeout_ms(self.timeout.as_millis() as i32)
            .with_topics(vec![topic]);
        let resp = self.any.send(&req).await?;
        for t in &resp.topics {
            if t.error_code != 0 {
                return Err(refused(
                    "CreateTopics",
                    self.any.addr(),
                    t.error_code,
                    t.error_message.as_ref(),
                ));
            }
        }
        Ok(())
    }
}

/// Records a move in flight on its partition: the replicas as the
/// controller lists them (the target, then the replicas being removed;
/// metadata may not have caught up yet), and the target, adding and
/// removing replicas. ISR and leader are kept within that list.
fn mark_in_flight(cluster: &mut Cluster, m: &Ongoing) {
    let Some(p) = cluster
        .topics
        .iter_mut()
        .find(|t| t.name == m.tp.topic)
        .and_then(|t| {
            t.partitions
                .iter_mut()
                .find(|p| p.partition == m.tp.partition)
        })
    else {
        return;
    };
    p.replicas = m.replicas.clone();
    p.isr.retain(|b| m.replicas.contains(b));
    p.leader = p.leader.filter(|l| m.replicas.contains(l));
    p.in_flight = Some(InFlight {
        target: m
            .replicas
            .iter()
            .copied()
            .filter(|b| !m.removing.contains(b))
            .collect(),
        adding: m.adding.clone(),
        removing: m.removing.clone(),
    });
}

/// A Kafka error code as this module's error, naming the API and broker.
fn refused(api: &'static str, addr: &str, code: i16, message: Option<&StrBytes>) -> KafkaError {
    KafkaError::Response {
        api,
        addr: addr.to_string(),
        code,
        message: message.map(|m| m.as_str().to_string()),
    }
}
