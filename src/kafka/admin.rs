//! The admin calls kafka-migrate needs, routed as Kafka requires:
//! metadata, reassignments, elections and topic configs to any broker;
//! BROKER config resources and log-dir queries to the broker they are
//! about. Every call retries what Kafka calls retriable (see [`retry`]),
//! refreshing metadata between attempts, and gives up with an error that
//! names the API, the broker and the last failure.
//!
//! [`ClusterAdmin`] is implemented here for the executor; the snapshot is
//! built in [`super::snapshot`].

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use kafka_protocol::messages::alter_partition_reassignments_request::{
    ReassignablePartition, ReassignableTopic,
};
use kafka_protocol::messages::alter_replica_log_dirs_request::{
    AlterReplicaLogDir, AlterReplicaLogDirTopic,
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
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse,
    AlterReplicaLogDirsRequest, AlterReplicaLogDirsResponse, BrokerId as WireBrokerId,
    CreateTopicsRequest, CreateTopicsResponse, DescribeConfigsRequest, DescribeConfigsResponse,
    DescribeLogDirsRequest, DescribeLogDirsResponse, ElectLeadersRequest, ElectLeadersResponse,
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
    ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse, MetadataRequest,
    MetadataResponse, TopicName,
};
use kafka_protocol::protocol::{Request, StrBytes};

use super::config::ClientSettings;
use super::conn::{Connection, api_name};
use super::error::{KafkaError, check, refused, resource_refused};
use super::retry::{self, Decision, Failure};
use super::snapshot::{self, Survey};
use crate::model::live::{
    BrokerDirs, ClusterAdmin, ConfigOp, ConfigResource, ConfigValues, DirMove, DirResult,
    ErrorCode, FutureDir, InFlight, LogDirs, PartitionResult, ReplicaDir, ReplicaSizes,
};
use crate::model::{BrokerId, Cluster, TopicPartition};

/// DescribeConfigs' config sources that are a resource's own dynamic
/// config (KIP-226): set on that topic, or on that broker.
const DYNAMIC_TOPIC_CONFIG: i8 = 1;
const DYNAMIC_BROKER_CONFIG: i8 = 2;
/// Wire resource types.
const TOPIC: i8 = 2;
const BROKER: i8 = 4;
/// Topics per DescribeConfigs request, so a large cluster's answer stays
/// a modest frame.
const TOPICS_PER_REQUEST: usize = 500;

/// A live broker as the last metadata listed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    /// `host:port` of its listener.
    pub addr: String,
    pub rack: Option<String>,
}

/// Where a request must go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// Any broker (Kafka forwards controller requests itself).
    Any,
    /// This broker: BROKER config resources, log dirs.
    Broker(BrokerId),
}

pub struct Admin {
    settings: ClientSettings,
    /// The bootstrap servers, tried after the brokers metadata named when
    /// the connection to "any broker" has to be opened again.
    bootstrap: Vec<String>,
    any: Option<Connection>,
    per_broker: HashMap<BrokerId, Connection>,
    /// Live brokers from the last metadata.
    pub brokers: BTreeMap<BrokerId, BrokerInfo>,
    /// The controller from the last metadata (-1 if none).
    pub controller: BrokerId,
}

impl Admin {
    /// [`Admin::connect_with`] Kafka's default settings and `timeout` for a
    /// request and a call.
    pub async fn connect(bootstrap: &str, timeout: Duration) -> Result<Admin, KafkaError> {
        Self::connect_with(bootstrap, ClientSettings::with_timeout(timeout)).await
    }

    /// Connects to the first bootstrap server that answers and reads the
    /// cluster's brokers. Unreachable servers are not retried: a wrong
    /// address should fail at once.
    pub async fn connect_with(
        bootstrap: &str,
        settings: ClientSettings,
    ) -> Result<Admin, KafkaError> {
        let bootstrap: Vec<String> = bootstrap
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(String::from)
            .collect();
        let mut errors = Vec::new();
        for addr in &bootstrap {
            match Connection::open(addr, &settings).await {
                Ok(any) => {
                    let mut admin = Admin {
                        settings,
                        bootstrap,
                        any: Some(any),
                        per_broker: HashMap::new(),
                        brokers: BTreeMap::new(),
                        controller: -1,
                    };
                    admin.metadata().await?;
                    return Ok(admin);
                }
                Err(e) => errors.push(e),
            }
        }
        Err(KafkaError::NoBootstrap(errors))
    }

    pub fn settings(&self) -> &ClientSettings {
        &self.settings
    }

    /// The address of the broker that answers calls any broker can serve,
    /// while connected.
    pub fn any_addr(&self) -> Option<&str> {
        self.any.as_ref().map(Connection::addr)
    }

    /// Full metadata (all topics); refreshes the broker list.
    pub async fn metadata(&mut self) -> Result<MetadataResponse, KafkaError> {
        let resp = self
            .call(Route::Any, &MetadataRequest::default().with_topics(None))
            .await?;
        self.learn(&resp);
        Ok(resp)
    }

    fn learn(&mut self, md: &MetadataResponse) {
        self.brokers = md
            .brokers
            .iter()
            .map(|b| {
                (
                    b.node_id.0,
                    BrokerInfo {
                        addr: format!("{}:{}", b.host.as_str(), b.port),
                        rack: b.rack.as_ref().map(|r| r.as_str().to_string()),
                    },
                )
            })
            .collect();
        self.controller = md.controller_id.0;
        // A broker no longer listed may have come back elsewhere.
        let brokers = &self.brokers;
        self.per_broker
            .retain(|id, c| brokers.get(id).is_some_and(|b| b.addr.as_str() == c.addr()));
    }

    /// The cluster as a snapshot: brokers with racks, partitions with
    /// replicas, ISR and leader, sizes from each live broker's log dirs,
    /// and the moves in flight.
    pub async fn snapshot(&mut self) -> Result<Cluster, KafkaError> {
        Ok(self.survey().await?.cluster)
    }

    /// [`Admin::snapshot`] with each broker's bytes on disk and the moves
    /// in flight, which the snapshot records per partition.
    pub async fn survey(&mut self) -> Result<Survey, KafkaError> {
        let md = self.metadata().await?;
        let ids: Vec<BrokerId> = self.brokers.keys().copied().collect();
        let mut dirs = LogDirs::new();
        for id in ids {
            // A broker that left the metadata since is not surveyed.
            match self.broker_dirs(id).await {
                Ok(one) => {
                    dirs.insert(id, one);
                }
                Err(e) if e.is_gone_broker() => {}
                Err(e) => return Err(e),
            }
        }
        let moves = self.list_reassignments_now().await?;
        let mut survey = snapshot::build(&md, &snapshot::sizes_of(&dirs), moves);
        survey.log_dirs = snapshot::layout_of(&dirs, &survey.cluster);
        Ok(survey)
    }

    /// Log dirs of one broker as it reports them (every dir, future
    /// replicas included).
    pub async fn log_dirs(
        &mut self,
        broker: BrokerId,
    ) -> Result<DescribeLogDirsResponse, KafkaError> {
        let (resp, addr) = self
            .call_at(
                Route::Broker(broker),
                &DescribeLogDirsRequest::default().with_topics(None),
            )
            .await?;
        check(resp.error_code, None).map_err(|e| refused("DescribeLogDirs", &addr, e))?;
        Ok(resp)
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
            .with_timeout_ms(self.request_timeout_ms())
            .with_topics(vec![topic]);
        let (resp, addr) = self.call_at(Route::Any, &req).await?;
        for t in &resp.topics {
            check(t.error_code, t.error_message.as_ref()).map_err(|e| KafkaError::Resource {
                api: "CreateTopics",
                addr: addr.clone(),
                resource: format!("topic {}", t.name.0.as_str()),
                error: e,
            })?;
        }
        Ok(())
    }

    fn request_timeout_ms(&self) -> i32 {
        i32::try_from(self.settings.request_timeout.as_millis()).unwrap_or(i32::MAX)
    }

    async fn list_reassignments_now(&mut self) -> Result<Vec<InFlight>, KafkaError> {
        let req = ListPartitionReassignmentsRequest::default()
            .with_timeout_ms(self.request_timeout_ms())
            .with_topics(None);
        let (resp, addr) = self.call_at(Route::Any, &req).await?;
        check(resp.error_code, resp.error_message.as_ref())
            .map_err(|e| refused("ListPartitionReassignments", &addr, e))?;
        let ids = |v: &[WireBrokerId]| v.iter().map(|b| b.0).collect::<Vec<_>>();
        let mut out: Vec<InFlight> = resp
            .topics
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(move |p| InFlight {
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
        out.sort();
        Ok(out)
    }

    async fn replica_sizes_of(&mut self, brokers: &[BrokerId]) -> Result<ReplicaSizes, KafkaError> {
        let mut out = ReplicaSizes::new();
        for &id in brokers {
            let resp = self.log_dirs(id).await?;
            // An offline dir reports an error and no replicas.
            for dir in resp
                .results
                .iter()
                .filter(|d| d.error_code == ErrorCode::NONE)
            {
                for t in &dir.topics {
                    for p in t.partitions.iter().filter(|p| !p.is_future_key) {
                        let tp = TopicPartition {
                            topic: t.name.0.as_str().to_string(),
                            partition: p.partition_index,
                        };
                        *out.entry(tp).or_default().entry(id).or_default() +=
                            p.partition_size.max(0) as u64;
                    }
                }
            }
        }
        Ok(out)
    }

    /// One broker's dirs and replicas from its DescribeLogDirs answer.
    async fn broker_dirs(&mut self, id: BrokerId) -> Result<BrokerDirs, KafkaError> {
        let resp = self.log_dirs(id).await?;
        let mut out = BrokerDirs::default();
        let mut futures = Vec::new();
        for d in &resp.results {
            let dir = d.log_dir.as_str().to_string();
            if d.error_code != ErrorCode::NONE {
                out.offline.push(dir);
                continue;
            }
            for t in &d.topics {
                for p in &t.partitions {
                    let tp = TopicPartition {
                        topic: t.name.0.as_str().to_string(),
                        partition: p.partition_index,
                    };
                    let size = p.partition_size.max(0) as u64;
                    if p.is_future_key {
                        futures.push((
                            tp,
                            FutureDir {
                                dir: dir.clone(),
                                size,
                            },
                        ));
                    } else {
                        out.replicas.insert(
                            tp,
                            ReplicaDir {
                                dir: dir.clone(),
                                size,
                                future: None,
                            },
                        );
                    }
                }
            }
            out.dirs.push(dir);
        }
        // The current log and its future may be listed in either order.
        for (tp, f) in futures {
            if let Some(r) = out.replicas.get_mut(&tp) {
                r.future = Some(f);
            }
        }
        out.dirs.sort();
        out.offline.sort();
        Ok(out)
    }

    /// One AlterReplicaLogDirs request to `broker` for its `moves`.
    async fn alter_dirs_of(
        &mut self,
        broker: BrokerId,
        moves: &[&DirMove],
    ) -> Result<Vec<DirResult>, KafkaError> {
        // path -> topic -> partitions, as the request groups them.
        let mut by_dir: BTreeMap<&str, BTreeMap<&str, Vec<i32>>> = BTreeMap::new();
        for m in moves {
            by_dir
                .entry(&m.dir)
                .or_default()
                .entry(&m.tp.topic)
                .or_default()
                .push(m.tp.partition);
        }
        let req = AlterReplicaLogDirsRequest::default().with_dirs(
            by_dir
                .into_iter()
                .map(|(path, topics)| {
                    AlterReplicaLogDir::default()
                        .with_path(StrBytes::from_string(path.to_string()))
                        .with_topics(
                            topics
                                .into_iter()
                                .map(|(t, ps)| {
                                    AlterReplicaLogDirTopic::default()
                                        .with_name(TopicName(StrBytes::from_string(t.to_string())))
                                        .with_partitions(ps)
                                })
                                .collect(),
                        )
                })
                .collect(),
        );
        let resp = self.call(Route::Broker(broker), &req).await?;
        let mut codes: HashMap<(&str, i32), i16> = HashMap::new();
        for t in &resp.results {
            for p in &t.partitions {
                codes.insert((t.topic_name.0.as_str(), p.partition_index), p.error_code);
            }
        }
        Ok(moves
            .iter()
            .map(|m| {
                // A partition missing from the answer was not handled.
                let code = codes
                    .get(&(m.tp.topic.as_str(), m.tp.partition))
                    .copied()
                    .unwrap_or(-1);
                ((*m).clone(), check(code, None))
            })
            .collect())
    }

    /// [`Admin::call_at`] without the broker's address.
    async fn call<R>(&mut self, route: Route, req: &R) -> Result<R::Response, KafkaError>
    where
        R: Request,
        R::Response: Answer,
    {
        Ok(self.call_at(route, req).await?.0)
    }

    /// Sends `req` where `route` says, retrying network failures and
    /// retriable error codes with backoff within the API timeout, metadata
    /// refreshed between attempts. Returns the response and the address of
    /// the broker that gave it; request-level codes that are not retriable
    /// are for the caller to judge.
    async fn call_at<R>(
        &mut self,
        route: Route,
        req: &R,
    ) -> Result<(R::Response, String), KafkaError>
    where
        R: Request,
        R::Response: Answer,
    {
        let start = Instant::now();
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let remaining = self.settings.api_timeout.saturating_sub(start.elapsed());
            let (failure, error) = match self.attempt(route, req, remaining).await {
                Ok((resp, addr)) => match resp.retriable_error() {
                    None => return Ok((resp, addr)),
                    Some(code) => (Failure::Retriable, refused(api_name(R::KEY), &addr, code)),
                },
                Err(e) if e.is_network() => {
                    self.forget(route);
                    (Failure::Network, e)
                }
                // After a retry (a broker gone from metadata, say), or where
                // the error alone would not name the call.
                Err(e) if attempts > 1 || matches!(e, KafkaError::UnknownBroker(_)) => {
                    return Err(KafkaError::GaveUp {
                        api: api_name(R::KEY),
                        attempts,
                        elapsed: start.elapsed(),
                        last: Box::new(e),
                    });
                }
                Err(e) => return Err(e),
            };
            match retry::decide(&self.settings, failure, attempts, start.elapsed()) {
                Decision::GiveUp => {
                    return Err(KafkaError::GaveUp {
                        api: api_name(R::KEY),
                        attempts,
                        elapsed: start.elapsed(),
                        last: Box::new(error),
                    });
                }
                Decision::Retry { after } => {
                    tokio::time::sleep(after).await;
                    // A leader or the controller moved, or a broker went:
                    // learn where things are before trying again.
                    let left = self.settings.api_timeout.saturating_sub(start.elapsed());
                    self.refresh(left).await;
                }
            }
        }
    }

    /// One try, connecting included, bounded by what is left of the API
    /// timeout.
    async fn attempt<R: Request>(
        &mut self,
        route: Route,
        req: &R,
        remaining: Duration,
    ) -> Result<(R::Response, String), KafkaError> {
        let api_timeout = self.settings.api_timeout;
        let addr = match route {
            Route::Broker(id) => self.brokers.get(&id).map(|b| b.addr.clone()),
            Route::Any => self.any.as_ref().map(|c| c.addr().to_string()),
        }
        .unwrap_or_else(|| "any broker".to_string());
        let exchange = async {
            let conn = self.conn(route).await?;
            let addr = conn.addr().to_string();
            conn.send(req).await.map(|resp| (resp, addr))
        };
        tokio::time::timeout(remaining, exchange)
            .await
            .unwrap_or_else(|_| {
                Err(KafkaError::Timeout {
                    api: api_name(R::KEY),
                    addr,
                    after: api_timeout,
                })
            })
    }

    /// One metadata request on whatever connection works, without retries
    /// and within `within`; a failure only drops that connection.
    async fn refresh(&mut self, within: Duration) {
        let req = MetadataRequest::default().with_topics(Some(Vec::new()));
        let answer = tokio::time::timeout(within, async {
            let conn = self.conn(Route::Any).await?;
            conn.send(&req).await
        })
        .await;
        match answer {
            Ok(Ok(md)) => self.learn(&md),
            _ => self.forget(Route::Any),
        }
    }

    /// Drops a connection after it failed: the next attempt reconnects.
    fn forget(&mut self, route: Route) {
        match route {
            Route::Any => self.any = None,
            Route::Broker(id) => {
                self.per_broker.remove(&id);
            }
        }
    }

    /// The connection for `route`, opened if needed: a broker by the
    /// address metadata gave it; "any broker" tries the known brokers, then
    /// the bootstrap servers.
    async fn conn(&mut self, route: Route) -> Result<&mut Connection, KafkaError> {
        let settings = &self.settings;
        match route {
            Route::Broker(id) => {
                if !self.per_broker.contains_key(&id) {
                    let addr = self
                        .brokers
                        .get(&id)
                        .map(|b| b.addr.clone())
                        .ok_or(KafkaError::UnknownBroker(id))?;
                    let conn = Connection::open(&addr, settings).await?;
                    self.per_broker.insert(id, conn);
                }
                Ok(self.per_broker.get_mut(&id).expect("inserted above"))
            }
            Route::Any => {
                if self.any.is_none() {
                    let mut candidates: Vec<String> =
                        self.brokers.values().map(|b| b.addr.clone()).collect();
                    candidates.extend(self.bootstrap.iter().cloned());
                    let mut last = None;
                    for addr in candidates {
                        match Connection::open(&addr, settings).await {
                            Ok(c) => {
                                self.any = Some(c);
                                break;
                            }
                            Err(e) => last = Some(e),
                        }
                    }
                    if self.any.is_none() {
                        return Err(last.unwrap_or(KafkaError::NoBootstrap(Vec::new())));
                    }
                }
                Ok(self.any.as_mut().expect("connected above"))
            }
        }
    }

    /// One DescribeConfigs request for `resources`, sent where `route`
    /// says; their own dynamic values go into `out`.
    async fn describe_configs_of(
        &mut self,
        route: Route,
        resources: &[ConfigResource],
        keys: &[&str],
        out: &mut ConfigValues,
    ) -> Result<(), KafkaError> {
        let req = DescribeConfigsRequest::default().with_resources(
            resources
                .iter()
                .map(|r| {
                    let (kind, name) = wire(r);
                    DescribeConfigsResource::default()
                        .with_resource_type(kind)
                        .with_resource_name(name)
                        .with_configuration_keys((!keys.is_empty()).then(|| {
                            keys.iter()
                                .map(|k| StrBytes::from_string(k.to_string()))
                                .collect()
                        }))
                })
                .collect(),
        );
        let (resp, addr) = self.call_at(route, &req).await?;
        let asked: HashMap<(i8, StrBytes), &ConfigResource> =
            resources.iter().map(|res| (wire(res), res)).collect();
        for r in &resp.results {
            let Some(&res) = asked.get(&(r.resource_type, r.resource_name.clone())) else {
                continue;
            };
            check(r.error_code, r.error_message.as_ref())
                .map_err(|e| resource_refused("DescribeConfigs", &addr, res, e))?;
            let own = match res {
                ConfigResource::Broker(_) => DYNAMIC_BROKER_CONFIG,
                ConfigResource::Topic(_) => DYNAMIC_TOPIC_CONFIG,
            };
            for c in r.configs.iter().filter(|c| c.config_source == own) {
                // A sensitive value comes back null: nothing to restore.
                if let Some(v) = &c.value {
                    out.insert(
                        (res.clone(), c.name.as_str().to_string()),
                        v.as_str().to_string(),
                    );
                }
            }
        }
        Ok(())
    }

    async fn alter_configs_of(
        &mut self,
        route: Route,
        ops: &[(&ConfigResource, Vec<&ConfigOp>)],
    ) -> Result<(), KafkaError> {
        let req = IncrementalAlterConfigsRequest::default().with_resources(
            ops.iter()
                .map(|(res, ops)| {
                    let (kind, name) = wire(res);
                    AlterConfigsResource::default()
                        .with_resource_type(kind)
                        .with_resource_name(name)
                        .with_configs(
                            ops.iter()
                                .map(|op| {
                                    AlterableConfig::default()
                                        .with_name(StrBytes::from_string(op.key.clone()))
                                        .with_config_operation(op.op.code())
                                        .with_value(op.op.wire_value().map(StrBytes::from_string))
                                })
                                .collect(),
                        )
                })
                .collect(),
        );
        let (resp, addr) = self.call_at(route, &req).await?;
        let asked: HashMap<(i8, StrBytes), &ConfigResource> =
            ops.iter().map(|(res, _)| (wire(res), *res)).collect();
        for r in &resp.responses {
            let Some(&res) = asked.get(&(r.resource_type, r.resource_name.clone())) else {
                continue;
            };
            check(r.error_code, r.error_message.as_ref())
                .map_err(|e| resource_refused("IncrementalAlterConfigs", &addr, res, e))?;
        }
        Ok(())
    }
}

impl ClusterAdmin for Admin {
    type Error = KafkaError;

    async fn cluster(&mut self) -> Result<Cluster, KafkaError> {
        self.snapshot().await
    }

    async fn list_reassignments(&mut self) -> Result<Vec<InFlight>, KafkaError> {
        self.list_reassignments_now().await
    }

    async fn replica_sizes(&mut self, brokers: &[BrokerId]) -> Result<ReplicaSizes, KafkaError> {
        self.replica_sizes_of(brokers).await
    }

    async fn describe_log_dirs(&mut self, brokers: &[BrokerId]) -> Result<LogDirs, KafkaError> {
        let mut out = LogDirs::new();
        for &id in brokers {
            let dirs = self.broker_dirs(id).await?;
            out.insert(id, dirs);
        }
        Ok(out)
    }

    async fn alter_replica_log_dirs(
        &mut self,
        moves: &[DirMove],
    ) -> Result<Vec<DirResult>, KafkaError> {
        let mut by_broker: BTreeMap<BrokerId, Vec<&DirMove>> = BTreeMap::new();
        for m in moves {
            by_broker.entry(m.broker).or_default().push(m);
        }
        let mut out = Vec::new();
        for (broker, moves) in by_broker {
            out.extend(self.alter_dirs_of(broker, &moves).await?);
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    async fn alter_reassignments(
        &mut self,
        moves: &[(TopicPartition, Option<Vec<BrokerId>>)],
    ) -> Result<Vec<PartitionResult>, KafkaError> {
        if moves.is_empty() {
            return Ok(Vec::new());
        }
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
            .with_timeout_ms(self.request_timeout_ms())
            .with_topics(topics);
        let (resp, addr) = self.call_at(Route::Any, &req).await?;
        check(resp.error_code, resp.error_message.as_ref())
            .map_err(|e| refused("AlterPartitionReassignments", &addr, e))?;
        let mut out: Vec<PartitionResult> = resp
            .responses
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(|p| {
                    let tp = TopicPartition {
                        topic: t.name.0.as_str().to_string(),
                        partition: p.partition_index,
                    };
                    (tp, check(p.error_code, p.error_message.as_ref()))
                })
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Only values whose source is the resource's own dynamic config: a
    /// topic's DYNAMIC_TOPIC_CONFIG, a broker's DYNAMIC_BROKER_CONFIG. No
    /// keys means every such value.
    async fn describe_configs(
        &mut self,
        resources: &[ConfigResource],
        keys: &[&str],
    ) -> Result<ConfigValues, KafkaError> {
        let mut out = ConfigValues::new();
        let topics: Vec<ConfigResource> = resources
            .iter()
            .filter(|r| matches!(r, ConfigResource::Topic(_)))
            .cloned()
            .collect();
        for r in resources {
            if let ConfigResource::Broker(id) = r {
                self.describe_configs_of(
                    Route::Broker(*id),
                    std::slice::from_ref(r),
                    keys,
                    &mut out,
                )
                .await?;
            }
        }
        for chunk in topics.chunks(TOPICS_PER_REQUEST) {
            self.describe_configs_of(Route::Any, chunk, keys, &mut out)
                .await?;
        }
        Ok(out)
    }

    /// Every resource is asked, even after one refuses or cannot be
    /// reached, and the first failure is the error: a restore after an
    /// interrupted move puts back what it can on every broker instead of
    /// stopping at the first that fails (the journal keeps the record, so
    /// a re-run retries the rest; each change is idempotent).
    async fn alter_configs(&mut self, ops: &[ConfigOp]) -> Result<(), KafkaError> {
        // Per resource, its operations in the order given.
        let mut grouped: BTreeMap<&ConfigResource, Vec<&ConfigOp>> = BTreeMap::new();
        for op in ops {
            grouped.entry(&op.resource).or_default().push(op);
        }
        let mut first_failure = None;
        let mut topics = Vec::new();
        for (res, ops) in grouped {
            match res {
                ConfigResource::Broker(id) => {
                    if let Err(e) = self
                        .alter_configs_of(Route::Broker(*id), &[(res, ops)])
                        .await
                    {
                        first_failure.get_or_insert(e);
                    }
                }
                ConfigResource::Topic(_) => topics.push((res, ops)),
            }
        }
        if !topics.is_empty()
            && let Err(e) = self.alter_configs_of(Route::Any, &topics).await
        {
            first_failure.get_or_insert(e);
        }
        first_failure.map_or(Ok(()), Err)
    }

    async fn elect_preferred(
        &mut self,
        partitions: &[TopicPartition],
    ) -> Result<Vec<PartitionResult>, KafkaError> {
        // An empty list must not go out: null would mean every partition.
        if partitions.is_empty() {
            return Ok(Vec::new());
        }
        let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for tp in partitions {
            by_topic.entry(&tp.topic).or_default().push(tp.partition);
        }
        let req = ElectLeadersRequest::default()
            .with_election_type(0)
            .with_timeout_ms(self.request_timeout_ms())
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
        let (resp, addr) = self.call_at(Route::Any, &req).await?;
        check(resp.error_code, None).map_err(|e| refused("ElectLeaders", &addr, e))?;
        let mut out: Vec<PartitionResult> = resp
            .replica_election_results
            .iter()
            .flat_map(|t| {
                t.partition_result.iter().map(|p| {
                    let tp = TopicPartition {
                        topic: t.topic.0.as_str().to_string(),
                        partition: p.partition_id,
                    };
                    (tp, check(p.error_code, p.error_message.as_ref()))
                })
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }
}

/// A config resource as the wire names it.
fn wire(res: &ConfigResource) -> (i8, StrBytes) {
    match res {
        ConfigResource::Broker(id) => (BROKER, StrBytes::from_string(id.to_string())),
        ConfigResource::Topic(t) => (TOPIC, StrBytes::from_string(t.clone())),
    }
}

/// The retriable error a response carries for the request as a whole (or
/// for a config resource: Kafka answers those per resource), if any.
/// Per-partition codes are the caller's.
trait Answer {
    fn retriable_error(&self) -> Option<ErrorCode>;
}

fn retriable(code: i16, message: Option<&StrBytes>) -> Option<ErrorCode> {
    check(code, message).err().filter(ErrorCode::is_retriable)
}

impl Answer for MetadataResponse {
    fn retriable_error(&self) -> Option<ErrorCode> {
        None
    }
}

impl Answer for CreateTopicsResponse {
    // A create that timed out may have happened; another would be refused
    // as existing, so only a lost connection is retried.
    fn retriable_error(&self) -> Option<ErrorCode> {
        None
    }
}

impl Answer for DescribeLogDirsResponse {
    fn retriable_error(&self) -> Option<ErrorCode> {
        retriable(self.error_code, None)
    }
}

impl Answer for AlterReplicaLogDirsResponse {
    // Only per-replica codes: REPLICA_NOT_AVAILABLE is the executor's to
    // judge (a new replica not created yet), not a reason to resend here.
    fn retriable_error(&self) -> Option<ErrorCode> {
        None
    }
}

impl Answer for ElectLeadersResponse {
    fn retriable_error(&self) -> Option<ErrorCode> {
        retriable(self.error_code, None)
    }
}

impl Answer for ListPartitionReassignmentsResponse {
    fn retriable_error(&self) -> Option<ErrorCode> {
        retriable(self.error_code, self.error_message.as_ref())
    }
}

impl Answer for AlterPartitionReassignmentsResponse {
    fn retriable_error(&self) -> Option<ErrorCode> {
        retriable(self.error_code, self.error_message.as_ref())
    }
}

impl Answer for DescribeConfigsResponse {
    fn retriable_error(&self) -> Option<ErrorCode> {
        self.results
            .iter()
            .find_map(|r| retriable(r.error_code, r.error_message.as_ref()))
    }
}

impl Answer for IncrementalAlterConfigsResponse {
    fn retriable_error(&self) -> Option<ErrorCode> {
        self.responses
            .iter()
            .find_map(|r| retriable(r.error_code, r.error_message.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::describe_configs_response::DescribeConfigsResult;

    #[test]
    fn only_retriable_request_level_codes_are_retried() {
        let list = |code| ListPartitionReassignmentsResponse::default().with_error_code(code);
        for code in [
            ErrorCode::NOT_CONTROLLER,
            ErrorCode::LEADER_NOT_AVAILABLE,
            ErrorCode::REQUEST_TIMED_OUT,
        ] {
            assert_eq!(list(code).retriable_error().map(|e| e.code), Some(code));
        }
        for code in [
            ErrorCode::NONE,
            ErrorCode::INVALID_REQUEST,
            29, /* CLUSTER_AUTHORIZATION_FAILED */
        ] {
            assert_eq!(list(code).retriable_error(), None, "{code}");
        }
        // Config answers are per resource: any retriable one retries all.
        let configs = DescribeConfigsResponse::default().with_results(vec![
            DescribeConfigsResult::default(),
            DescribeConfigsResult::default().with_error_code(ErrorCode::NOT_CONTROLLER),
        ]);
        assert_eq!(
            configs.retriable_error().map(|e| e.code),
            Some(ErrorCode::NOT_CONTROLLER)
        );
        // A create that may have happened is not sent again on a code.
        assert_eq!(CreateTopicsResponse::default().retriable_error(), None);
    }

    #[test]
    fn config_resources_go_on_the_wire_by_type_and_name() {
        assert_eq!(
            wire(&ConfigResource::Broker(3)),
            (BROKER, StrBytes::from_static_str("3"))
        );
        assert_eq!(
            wire(&ConfigResource::Topic("t".into())),
            (TOPIC, StrBytes::from_static_str("t"))
        );
    }
}
