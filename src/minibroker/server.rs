//! The running cluster: one listener task per broker, one task per
//! connection, one replication task, all stopped by broadcast signals.
//!
//! Shape borrowed from mini-redis: every task selects on a shutdown
//! receiver, every spawned task is joined before `stop_broker` or
//! `shutdown` returns, so no task outlives the handle.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{broadcast, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

use super::api;
use super::codec;
use super::config::{self, ClusterConfig};
use super::log::{self, PartitionLog};
use super::persist;
use super::shared::{BrokerCtx, Shared};
use super::state::{Broker, BrokerId, MAX_COPY_PER_STEP, State, Timing, TopicDefaults};
use super::tls::TlsMaterial;

/// How long a client has to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

struct BrokerTask {
    /// Set to true to stop; a watch, so late subscribers still see it.
    stop: watch::Sender<bool>,
    join: JoinHandle<()>,
}

/// Entry point: `Cluster::start(config).await` gives a running cluster.
pub struct Cluster;

/// Why a cluster did not start, by whose fault (the CLI's exit code).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration cannot work: a limit, a topic that cannot be
    /// placed, a `fill` larger than memory.
    #[error("{0}")]
    Config(String),
    /// The data dir cannot be created or written.
    #[error("data dir {}: {error:#}", dir.display())]
    DataDirUnusable { dir: PathBuf, error: anyhow::Error },
    /// What the data dir holds cannot be loaded.
    #[error("data dir {}: {error:#}", dir.display())]
    DataDirContents { dir: PathBuf, error: anyhow::Error },
    /// A broker's listener cannot be opened (port taken, address not local).
    #[error("broker {broker} cannot listen on {addr}: {source}")]
    Listen {
        broker: BrokerId,
        addr: SocketAddr,
        source: std::io::Error,
    },
}

impl StartError {
    /// True when the cause is the configuration or the saved data (the
    /// user's input), false when it is the environment.
    pub fn is_input(&self) -> bool {
        matches!(self, Self::Config(_) | Self::DataDirContents { .. })
    }
}

/// A running cluster. Dropping it without `shutdown` aborts nothing; call
/// `shutdown().await` to stop every task.
pub struct ClusterHandle {
    shared: Arc<Shared>,
    data_dir: Option<PathBuf>,
    host: IpAddr,
    /// Log dirs per broker, for brokers added while running.
    log_dirs_per_broker: usize,
    brokers: tokio::sync::Mutex<BTreeMap<BrokerId, BrokerTask>>,
    /// Set when every listener serves TLS.
    tls: Option<TlsMaterial>,
    replication: Option<(broadcast::Sender<()>, JoinHandle<()>)>,
    /// With a data dir: the task writing metadata and checkpoints.
    persister: Option<(broadcast::Sender<()>, JoinHandle<()>)>,
    /// Brokers stopped by `kill`: their logs are recovered when they start.
    killed: parking_lot::Mutex<std::collections::BTreeSet<BrokerId>>,
    /// Held until the handle is dropped, after the last save.
    _data_dir_lock: Option<crate::fsutil::DirLock>,
}

async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

impl Cluster {
    /// Checks the configuration and the data dir, loads the data dir,
    /// creates the start-up topics with `fill_bytes` of synthetic data, and
    /// only then binds every broker's listener and starts replication, so
    /// that nothing listens when something is wrong.
    pub async fn start(config: ClusterConfig) -> Result<ClusterHandle, StartError> {
        config.validate().map_err(StartError::Config)?;
        let host: IpAddr = config
            .host
            .parse()
            .map_err(|_| StartError::Config(format!("invalid host {:?}", config.host)))?;
        let brokers: Vec<Broker> = (0..config.brokers)
            .map(|i| {
                let id = i as BrokerId + 1;
                Broker {
                    id,
                    rack: config.rack_of(i),
                    host: config.host.clone(),
                    // Set once its listener is bound.
                    port: 0,
                    alive: true,
                    replication_paused: false,
                    log_dirs: config.log_dirs_of(id),
                    configs: BTreeMap::new(),
                    leader_bucket: Default::default(),
                    follower_bucket: Default::default(),
                    dirs_bucket: Default::default(),
                }
            })
            .collect();
        let data_dir_lock = match &config.data_dir {
            Some(dir) => {
                let log_dirs: Vec<&str> = brokers
                    .iter()
                    .flat_map(|b| b.log_dirs.iter().map(String::as_str))
                    .collect();
                let lock = persist::prepare(dir, &log_dirs).map_err(|error| {
                    StartError::DataDirUnusable {
                        dir: dir.clone(),
                        error,
                    }
                })?;
                Some(lock)
            }
            None => None,
        };
        let timing = Timing {
            replica_lag_max: config.replica_lag_max,
            max_copy_per_step: MAX_COPY_PER_STEP,
            throttle_burst: super::throttle::BURST,
        };
        let mut state = State::new(config.cluster_id.clone(), brokers, timing);
        if let Some(dir) = &config.data_dir {
            state.storage = Some(Arc::new(persist::Storage::new(dir.clone(), config.flush)));
        }
        state.topic_defaults = TopicDefaults {
            auto_create: config.auto_create_topics,
            partitions: config.default_partitions,
            replication_factor: config.default_replication_factor,
            min_insync_replicas: config.min_insync_replicas,
            segment_bytes: config.log_segment_bytes,
        };
        state
            .groups
            .set_retention(config.offsets_retention, config.offsets_retention_check);
        let now = Instant::now();
        if let Some(dir) = &config.data_dir {
            persist::load(&mut state, dir, now).map_err(|error| StartError::DataDirContents {
                dir: dir.clone(),
                error,
            })?;
        }
        // A topic loaded from the data dir is kept as it was, unfilled.
        let fresh: Vec<_> = config
            .topics
            .iter()
            .filter(|t| !state.topics.contains_key(&t.name))
            .collect();
        if config.fill_bytes > 0 {
            config::check_fill_memory(config.fill_bytes, fresh.len(), config::mem_available())
                .map_err(StartError::Config)?;
        }
        for t in fresh {
            let refused = |r: super::state::Refusal| {
                StartError::Config(format!("topic {}: {}", t.name, r.message))
            };
            let assignment = state
                .place(t.partitions, t.replication_factor)
                .map_err(refused)?;
            state
                .create_topic(&t.name, assignment, BTreeMap::new(), now)
                .map_err(refused)?;
            if config.fill_bytes > 0 {
                fill_topic(&mut state, &t.name, config.fill_bytes);
            }
        }
        if let Some(dir) = &config.data_dir {
            // Start-up topics and filled data are on disk before anyone
            // can produce.
            persist::save(&mut state).map_err(|error| StartError::DataDirUnusable {
                dir: dir.clone(),
                error,
            })?;
        }
        let tls = match &config.tls {
            None => None,
            Some(names) => {
                let names = if names.is_empty() {
                    let mut n = vec![config.host.clone(), "localhost".to_string()];
                    n.dedup();
                    n
                } else {
                    names.clone()
                };
                Some(
                    super::tls::generate_with(&names, config.tls_options).map_err(|e| {
                        StartError::Config(format!("cannot make the TLS certificates: {e:#}"))
                    })?,
                )
            }
        };
        let acceptor = tls.as_ref().map(|t| TlsAcceptor::from(t.server.clone()));
        let mut listeners = Vec::new();
        for (i, b) in state.brokers.values_mut().enumerate() {
            let port = if config.base_port == 0 {
                0
            } else {
                // validate() keeps this within u16.
                config.base_port + i as u16
            };
            let addr = SocketAddr::new(host, port);
            let listen_error = |source| StartError::Listen {
                broker: b.id,
                addr,
                source,
            };
            let listener = bind(addr).await.map_err(listen_error)?;
            b.port = listener.local_addr().map_err(listen_error)?.port();
            listeners.push((b.id, listener));
        }
        let shared = Arc::new(
            Shared::new(state, config.sasl.clone())
                .with_sasl_session_lifetime(config.sasl_session_lifetime),
        );
        let mut tasks = BTreeMap::new();
        for (id, listener) in listeners {
            tasks.insert(
                id,
                spawn_broker(id, listener, shared.clone(), acceptor.clone()),
            );
        }
        let (stop_tx, stop_rx) = broadcast::channel(1);
        let join = tokio::spawn(replication_loop(
            shared.clone(),
            config.replication_tick,
            stop_rx,
        ));
        let persister = config.data_dir.is_some().then(|| {
            let (stop, rx) = broadcast::channel(1);
            (stop, tokio::spawn(persist::run(shared.clone(), rx)))
        });
        Ok(ClusterHandle {
            persister,
            killed: Default::default(),
            shared,
            data_dir: config.data_dir.clone(),
            host,
            log_dirs_per_broker: config.log_dirs_per_broker,
            brokers: tokio::sync::Mutex::new(tasks),
            tls,
            replication: Some((stop_tx, join)),
            _data_dir_lock: data_dir_lock,
        })
    }
}

/// Writes `bytes` of synthetic batches into every replica of `topic`,
/// unevenly: partition p gets a weight of (p % 4) + 1.
pub fn fill_topic(state: &mut State, topic: &str, bytes: u64) {
    let Some(t) = state.topics.get_mut(topic) else {
        return;
    };
    let weights: Vec<u64> = (0..t.partitions.len() as u64).map(|p| p % 4 + 1).collect();
    let total_w: u64 = weights.iter().sum();
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    for (p, w) in t.partitions.iter_mut().zip(weights) {
        // In u128: `bytes` may be anything a caller passes.
        let target = (u128::from(bytes) * u128::from(w) / u128::from(total_w)) as u64;
        let mut leader_log = PartitionLog::new();
        let mut key = 0u64;
        while leader_log.size() < target {
            let batch = log::synthetic_batch(key, 16, 1000, ts);
            leader_log.append_as_leader(&batch, p.leader_epoch);
            key += 16;
        }
        let leo = leader_log.leo();
        for r in p.logs.values_mut() {
            r.log = leader_log.clone();
        }
        p.hw = leo;
    }
    persist::attach_topic(state, topic);
    state.metadata_epoch += 1;
}

fn spawn_broker(
    id: BrokerId,
    listener: TcpListener,
    shared: Arc<Shared>,
    tls: Option<TlsAcceptor>,
) -> BrokerTask {
    let (stop, _) = watch::channel(false);
    let stop_for_task = stop.clone();
    // Subscribed before spawning: a stop sent before the task first runs
    // must still reach it.
    let mut stop_rx = stop.subscribe();
    let join = tokio::spawn(async move {
        let mut conns = JoinSet::new();
        loop {
            tokio::select! {
                _ = stop_rx.wait_for(|s| *s) => break,
                accepted = listener.accept() => {
                    let Ok((stream, peer)) = accepted else { continue };
                    let _ = stream.set_nodelay(true);
                    let ctx = BrokerCtx {
                        id,
                        shared: shared.clone(),
                        session: Default::default(),
                        peer: Some(peer),
                    };
                    let conn_stop = stop_for_task.subscribe();
                    match &tls {
                        None => {
                            conns.spawn(serve_connection(ctx, stream, conn_stop));
                        }
                        Some(acceptor) => {
                            conns.spawn(serve_tls(acceptor.clone(), ctx, stream, conn_stop));
                        }
                    }
                }
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
        drop(listener);
        while conns.join_next().await.is_some() {}
    });
    BrokerTask { stop, join }
}

/// The TLS handshake, then requests as on a plaintext connection. A
/// client that does not finish the handshake in time, or speaks plaintext,
/// is dropped (rustls sends it an alert first).
async fn serve_tls(
    acceptor: TlsAcceptor,
    ctx: BrokerCtx,
    stream: tokio::net::TcpStream,
    mut stop: watch::Receiver<bool>,
) {
    let accepted = tokio::select! {
        _ = stop.wait_for(|s| *s) => return,
        a = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)) => a,
    };
    match accepted {
        Ok(Ok(tls)) => serve_connection(ctx, tls, stop).await,
        Ok(Err(e)) => {
            if std::env::var_os("MINIBROKER_DEBUG").is_some() {
                super::log(format_args!("mini-broker {}: TLS handshake: {e}", ctx.id));
            }
        }
        Err(_) => {}
    }
}

/// Serves requests on one connection, in order, until EOF, a protocol
/// error (the connection is closed, as Kafka does) or shutdown.
async fn serve_connection<S: AsyncRead + AsyncWrite + Unpin>(
    ctx: BrokerCtx,
    mut stream: S,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let frame = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            f = codec::read_frame(&mut stream) => f,
        };
        let frame = match frame {
            Ok(Some(f)) => f,
            Ok(None) | Err(_) => return,
        };
        // With SASL required, only ApiVersions and the SASL requests come
        // before authentication; anything else closes the connection, as
        // Kafka does.
        // KIP-368: a request other than the SASL ones on a session past its
        // lifetime closes the connection, as Kafka does.
        let expired = {
            let s = ctx.session.lock();
            s.expires.is_some_and(|t| std::time::Instant::now() >= t) && !s.reauthenticating
        };
        if expired {
            let key = frame
                .get(..2)
                .map_or(-1, |k| i16::from_be_bytes([k[0], k[1]]));
            if ![17, 36].contains(&key) {
                ctx.shared
                    .expired_sessions
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return;
            }
        }
        if ctx.shared.sasl.is_some() && !ctx.session.lock().authenticated {
            let key = frame
                .get(..2)
                .map_or(-1, |k| i16::from_be_bytes([k[0], k[1]]));
            if ![18, 17, 36].contains(&key) {
                if std::env::var_os("MINIBROKER_DEBUG").is_some() {
                    super::log(format_args!(
                        "mini-broker {}: api key {key} before SASL authentication: closing",
                        ctx.id
                    ));
                }
                return;
            }
        }
        let response = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            r = api::handle_frame(&ctx, frame) => r,
        };
        match response {
            Ok(Some(bytes)) => {
                let written = tokio::select! {
                    _ = stop.wait_for(|s| *s) => return,
                    // TLS holds records until flushed.
                    w = async { stream.write_all(&bytes).await?; stream.flush().await } => w,
                };
                if written.is_err() || ctx.session.lock().failed {
                    return;
                }
            }
            Ok(None) => {}
            Err(e) => {
                if std::env::var_os("MINIBROKER_DEBUG").is_some() {
                    super::log(format_args!(
                        "mini-broker {}: closing connection: {e:#}",
                        ctx.id
                    ));
                }
                return;
            }
        }
    }
}

async fn replication_loop(shared: Arc<Shared>, tick: Duration, mut stop: broadcast::Receiver<()>) {
    let mut last = Instant::now();
    loop {
        tokio::select! {
            _ = stop.recv() => return,
            _ = tokio::time::sleep(tick) => {}
            _ = shared.replication_wanted() => {}
        }
        let now = Instant::now();
        shared.replicate(now, now - last);
        last = now;
    }
}

impl ClusterHandle {
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The TLS material when every listener serves TLS: the CA its
    /// clients must trust and the names the broker certificate holds.
    pub fn tls(&self) -> Option<&TlsMaterial> {
        self.tls.as_ref()
    }

    fn acceptor(&self) -> Option<TlsAcceptor> {
        self.tls
            .as_ref()
            .map(|t| TlsAcceptor::from(t.server.clone()))
    }

    /// Address of one broker's listener.
    pub fn broker_addr(&self, id: BrokerId) -> Option<SocketAddr> {
        let port = self.inspect(|s| s.brokers.get(&id).map(|b| b.port))?;
        Some(SocketAddr::new(self.host, port))
    }

    /// `host:port,...` of every live broker (an IPv6 host in brackets).
    pub fn bootstrap(&self) -> String {
        self.inspect(|s| {
            s.brokers
                .values()
                .filter(|b| b.alive)
                .map(|b| SocketAddr::new(self.host, b.port).to_string())
                .collect::<Vec<_>>()
                .join(",")
        })
    }

    /// Where `shutdown_and_persist` saves, if anywhere.
    pub fn data_dir(&self) -> Option<&std::path::Path> {
        self.data_dir.as_deref()
    }

    /// The error for a broker id this cluster does not have.
    fn no_such_broker(&self, id: BrokerId) -> anyhow::Error {
        let ids = self.broker_ids();
        match (ids.first(), ids.last()) {
            (Some(first), Some(last)) => {
                anyhow::anyhow!("no broker {id}: this cluster has brokers {first} to {last}")
            }
            _ => anyhow::anyhow!("no broker {id}: this cluster has no brokers"),
        }
    }

    pub fn broker_ids(&self) -> Vec<BrokerId> {
        self.inspect(|s| s.brokers.keys().copied().collect())
    }

    pub fn controller(&self) -> BrokerId {
        self.inspect(|s| s.controller)
    }

    /// Runs `f` on the cluster state under its lock (for tests and the CLI).
    pub fn inspect<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        self.shared.inspect(f)
    }

    /// Changes the state under its lock and wakes waiters.
    pub fn mutate<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        self.shared.mutate(f)
    }

    /// Fault injection: pauses (or resumes) copying into `id`'s follower
    /// replicas while it stays up, so it falls out of ISRs by lag.
    pub fn pause_replication(&self, id: BrokerId, paused: bool) -> anyhow::Result<()> {
        let found = self.mutate(|s| {
            s.brokers
                .get_mut(&id)
                .map(|b| b.replication_paused = paused)
        });
        found.ok_or_else(|| self.no_such_broker(id))
    }

    /// Stops a broker: its listener and connections close, then the
    /// controller fences it (ISR shrink, leader failover).
    pub async fn stop_broker(&self, id: BrokerId) -> anyhow::Result<()> {
        let task = self.brokers.lock().await.remove(&id);
        let Some(task) = task else {
            if !self.inspect(|s| s.brokers.contains_key(&id)) {
                return Err(self.no_such_broker(id));
            }
            anyhow::bail!("broker {id} is already stopped")
        };
        task.stop.send_replace(true);
        task.join.await?;
        self.mutate(|s| s.broker_stopped(id));
        Ok(())
    }

    /// Kills a broker: stops it as `stop_broker` does, then drops its logs
    /// from memory without saving anything, as a process killed with
    /// SIGKILL loses them; `start_broker` recovers them from its files.
    pub async fn kill_broker(&self, id: BrokerId) -> anyhow::Result<()> {
        self.stop_broker(id).await?;
        self.mutate(|s| persist::kill_broker(s, id));
        self.killed.lock().insert(id);
        Ok(())
    }

    /// Restarts a stopped broker on its previous port; it then catches up
    /// from the leaders through replication.
    pub async fn start_broker(&self, id: BrokerId) -> anyhow::Result<()> {
        let mut brokers = self.brokers.lock().await;
        let Some(port) = self.inspect(|s| s.brokers.get(&id).map(|b| b.port)) else {
            return Err(self.no_such_broker(id));
        };
        anyhow::ensure!(!brokers.contains_key(&id), "broker {id} is already running");
        let addr = SocketAddr::new(self.host, port);
        let listener = bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("broker {id} cannot listen on {addr}: {e}"))?;
        let port = listener.local_addr()?.port();
        let killed = self.killed.lock().contains(&id);
        self.mutate(|s| {
            if killed {
                persist::recover_broker(s, id)?;
            }
            s.broker_started(id, port, Instant::now());
            anyhow::Ok(())
        })
        .map_err(|e| anyhow::anyhow!("broker {id}: {e:#}"))?;
        self.killed.lock().remove(&id);
        brokers.insert(
            id,
            spawn_broker(id, listener, self.shared.clone(), self.acceptor()),
        );
        Ok(())
    }

    /// A new, empty broker joins the running cluster, as a Kafka broker
    /// does when it first registers: it listens on a free port of the
    /// cluster's host, appears in metadata, holds no replica until a
    /// reassignment puts one there. `id` defaults to one past the highest;
    /// `rack` may be any name (None: no rack). Returns its id.
    ///
    /// Refused with a data dir: the next start takes its brokers from
    /// `--broker-count` and racks round-robin, so a saved replica on an
    /// added broker (or its rack) would not come back as it was.
    pub async fn add_broker(
        &self,
        id: Option<BrokerId>,
        rack: Option<String>,
    ) -> anyhow::Result<BrokerId> {
        anyhow::ensure!(
            self.data_dir.is_none(),
            "brokers cannot be added to a cluster with a data dir (the next start would not know them): restart with a larger --broker-count instead"
        );
        let mut brokers = self.brokers.lock().await;
        let id = match id {
            Some(id) => id,
            None => self.inspect(|s| s.brokers.keys().last().copied().unwrap_or(0)) + 1,
        };
        if self.inspect(|s| s.brokers.contains_key(&id)) {
            anyhow::bail!("broker {id} already exists");
        }
        let addr = SocketAddr::new(self.host, 0);
        let listener = bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("broker {id} cannot listen on {addr}: {e}"))?;
        let port = listener.local_addr()?.port();
        let layout = ClusterConfig {
            log_dirs_per_broker: self.log_dirs_per_broker,
            ..ClusterConfig::default()
        };
        let broker = Broker {
            id,
            rack,
            host: self.host.to_string(),
            port,
            alive: true,
            replication_paused: false,
            log_dirs: layout.log_dirs_of(id),
            configs: BTreeMap::new(),
            leader_bucket: Default::default(),
            follower_bucket: Default::default(),
            dirs_bucket: Default::default(),
        };
        // Into the state before the listener serves: its first request
        // may be a Metadata that must list it.
        self.mutate(|s| s.add_broker(broker))
            .map_err(|e| anyhow::anyhow!(e))?;
        brokers.insert(
            id,
            spawn_broker(id, listener, self.shared.clone(), self.acceptor()),
        );
        Ok(id)
    }

    /// Stops the cluster like `shutdown`, then saves it to the data dir
    /// (if one was configured) so the next start resumes from it.
    pub async fn shutdown_and_persist(self) -> anyhow::Result<()> {
        let shared = self.shared.clone();
        let dir = self.data_dir.clone();
        self.shutdown().await;
        match dir {
            Some(_) => shared.mutate(persist::save),
            None => Ok(()),
        }
    }

    /// Stops every broker and the replication task, and waits for all of them.
    pub async fn shutdown(mut self) {
        let tasks: Vec<BrokerTask> = std::mem::take(&mut *self.brokers.lock().await)
            .into_values()
            .collect();
        for t in &tasks {
            t.stop.send_replace(true);
        }
        for t in tasks {
            let _ = t.join.await;
        }
        if let Some((stop, join)) = self.replication.take() {
            let _ = stop.send(());
            let _ = join.await;
        }
        if let Some((stop, join)) = self.persister.take() {
            let _ = stop.send(());
            let _ = join.await;
        }
    }
}
