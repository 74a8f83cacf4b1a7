//! `kafka-migrate mini-broker`: runs an in-process Kafka cluster until
//! Ctrl-C, SIGTERM or `quit` on standard input, then stops it cleanly and
//! saves it to `--data-dir` if given.
//!
//! Prints the bootstrap address on the first line of standard output, then
//! a table of brokers. Fault control from the command line: while it runs,
//! it reads commands from standard input, one per line:
//!
//! - `stop N`: stop broker N (its listener closes, its replicas leave the
//!   ISR, leadership fails over; the controller moves if N held it).
//! - `kill N`: drop broker N without saving anything, as SIGKILL would:
//!   stopped as by `stop`, and its logs leave memory; `start N` then
//!   recovers them from its files under `--data-dir` (without one it
//!   comes back empty) and it catches up from the leaders.
//! - `start N`: restart broker N on its port; it catches up from leaders.
//! - `pause N` / `resume N`: broker N stays up but its follower replicas
//!   stop copying (a slow follower), so they leave ISRs after
//!   `--replica-lag-max-ms`; `resume` lets them catch up and rejoin.
//! - `add N [RACK]`: a new, empty broker N joins (on RACK, if given), as a
//!   Kafka broker does when it first registers; reassignments can then
//!   move replicas onto it. Not with `--data-dir`.
//! - `status`: print the broker table again.
//! - `help`: list the commands.
//! - `quit`: stop the cluster and exit (as Ctrl-C does).
//!
//! End of standard input is not a quit, so the command can run in the
//! background with `</dev/null`.
//!
//! Everything that can be wrong with the flags or the data dir is reported
//! before any broker listens: limits (exit 2), an unusable data dir or a
//! port in use (exit 3).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use tokio::sync::mpsc;

use super::exit::{Exit, failure, invalid};
use super::printer::{OutputFormat, Printer, table};
use crate::minibroker::state::BrokerId;
use crate::minibroker::{Cluster, ClusterConfig, ClusterHandle, TopicSpec};
use crate::units::{human_bytes, parse_size};

const COMMANDS: &str =
    "stop N | start N | kill N | pause N | resume N | add N [RACK] | status | help | quit";

#[derive(Debug, Args)]
pub struct MiniBrokerArgs {
    /// Number of brokers (ids 1..=N), at most 64.
    #[arg(
        long = "broker-count",
        alias = "brokers",
        value_name = "N",
        default_value_t = 3
    )]
    pub brokers: usize,
    /// Number of racks, assigned round-robin (rack-a, rack-b, ...); 0 for none.
    #[arg(
        long = "rack-count",
        alias = "racks",
        value_name = "N",
        default_value_t = 0
    )]
    pub racks: usize,
    /// Topic to create, NAME:PARTITIONS:REPLICATION_FACTOR (repeatable);
    /// at most 100000 partitions over all topics.
    #[arg(long = "topic", value_name = "SPEC")]
    pub topics: Vec<TopicSpec>,
    /// Synthetic data loaded into each topic, spread unevenly over its
    /// partitions (e.g. 200MiB). Kept in memory: refused when more than
    /// the memory available.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub fill: Option<u64>,
    /// Port of broker 1; broker N listens on PORT+N-1 (so PORT+N-1 must not
    /// pass 65535). 0 picks free ports.
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Interface to bind, an IP address. Anything but loopback needs --tls
    /// and --sasl (a cluster reachable from other machines is not left
    /// open), unless --insecure-listen.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Allow --host other than loopback without --tls and --sasl.
    #[arg(long)]
    pub insecure_listen: bool,
    /// Log dirs per broker (1 to 16).
    #[arg(long, default_value_t = 1)]
    pub log_dirs: usize,
    /// Persist here: each broker appends record batches to segment files
    /// as it stores them (log dirs DIR/broker-N/dir-M, Kafka's layout),
    /// the metadata is written as it changes, and a restart, even after a
    /// crash, recovers from them. Created if missing; checked writable at
    /// start.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// With --data-dir, when segment writes reach the disk: every-batch
    /// (fsync before a batch counts as stored, so before it is
    /// acknowledged), or interval[=MS] (fsync every MS, default 1000:
    /// a batch survives a crash of the process at once, a crash of the
    /// machine once synced, as Kafka relies on replication rather than
    /// fsync).
    #[arg(
        long,
        value_name = "POLICY",
        default_value = "interval",
        requires = "data_dir"
    )]
    pub flush: crate::minibroker::segment::FlushPolicy,
    /// replica.lag.time.max.ms: a follower lagging longer leaves the ISR.
    #[arg(long, default_value_t = 10_000, value_name = "MS")]
    pub replica_lag_max_ms: u64,
    /// auto.create.topics.enable=false: a producer's Metadata request for
    /// an unknown topic gets UNKNOWN_TOPIC_OR_PARTITION and creates nothing.
    #[arg(long)]
    pub no_auto_create: bool,
    /// num.partitions: partitions of an auto-created topic (and of a
    /// CreateTopics that asks for the default).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub default_partitions: i32,
    /// default.replication.factor: replication factor of an auto-created
    /// topic (and of a CreateTopics that asks for the default).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub default_replication_factor: i16,
    /// min.insync.replicas of a topic that does not set its own: acks=all
    /// produce to a partition with a smaller ISR is refused.
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub min_insync_replicas: u16,
    /// offsets.retention.minutes: committed offsets of a group that stays
    /// empty this long (or, without members ever, not committed again)
    /// are dropped, as Kafka drops them (checked every 10 minutes). At most
    /// 2147483647, Kafka's own limit (an int).
    #[arg(long, default_value_t = 10080, value_name = "MINUTES", value_parser = clap::value_parser!(u64).range(1..=i32::MAX as u64))]
    pub offsets_retention_minutes: u64,
    /// Serve TLS on every listener: a CA and a broker certificate for the
    /// host and localhost are made at start; the CA (tls-ca.pem) and the
    /// client properties to use (client-ssl.properties, for
    /// --command-config) are written to --tls-dir, else --data-dir, else a
    /// new temporary directory, and their paths printed.
    #[arg(long)]
    pub tls: bool,
    /// With --tls: require a client certificate signed by the CA on every
    /// listener (mutual TLS). One is made at start and written beside the
    /// CA (tls-client.pem: key and certificate, owner-only), and the
    /// client properties name it (ssl.keystore.type=PEM).
    #[arg(long, requires = "tls")]
    pub mtls: bool,
    /// Where --tls writes the CA and the client properties.
    #[arg(long, value_name = "DIR", requires = "tls")]
    pub tls_dir: Option<PathBuf>,
    /// The names the broker certificate holds instead of the host and
    /// localhost (repeatable; for testing hostname verification).
    #[arg(long, value_name = "NAME", requires = "tls", hide = true)]
    pub tls_name: Vec<String>,
    /// Require SASL authentication on every listener for this user
    /// (repeatable): plain:USER:PASSWORD, scram-sha-256:USER:PASSWORD or
    /// scram-sha-512:USER:PASSWORD (kept salted, 4096 iterations). Clients
    /// then use security.protocol=SASL_PLAINTEXT (SASL_SSL with --tls) and
    /// the sasl.mechanism of their user.
    #[arg(long, value_name = "MECHANISM:USER:PASSWORD", value_parser = crate::minibroker::config::parse_sasl_user, hide_default_value = true)]
    pub sasl: Vec<crate::minibroker::config::SaslUser>,
    /// KIP-368: the session lifetime given to authenticated clients, after
    /// which they must re-authenticate (Kafka's connections.max.reauth.ms;
    /// for testing clients).
    #[arg(long, value_name = "MS", requires = "sasl", hide = true)]
    pub sasl_session_lifetime_ms: Option<u64>,
}

/// Writes the CA and the client properties that trust it into `dir`
/// (created if missing); returns their paths.
fn write_tls_files(
    dir: &std::path::Path,
    tls: &crate::minibroker::tls::TlsMaterial,
    bootstrap: &str,
) -> anyhow::Result<(PathBuf, PathBuf)> {
    std::fs::create_dir_all(dir)?;
    let dir = std::fs::canonicalize(dir)?;
    let ca = dir.join("tls-ca.pem");
    let client = dir.join("tls-client.pem");
    let props = dir.join("client-ssl.properties");
    // Java properties read a backslash as an escape.
    let java = |p: &std::path::Path| p.display().to_string().replace('\\', "\\\\");
    let mut text = format!(
        "# kafka-migrate mini-broker --tls: trusts this run's CA (made at start)\n\
         bootstrap.servers={bootstrap}\n\
         security.protocol=SSL\n\
         ssl.truststore.type=PEM\n\
         ssl.truststore.location={}\n",
        java(&ca)
    );
    let mut files = vec![(ca.as_path(), tls.ca_pem.as_bytes().to_vec())];
    if let Some(pem) = &tls.client {
        // Kafka's PEM keystore: the key and its certificate in one file.
        text.push_str(&format!(
            "# --mtls: this run's client certificate, signed by the CA\n\
             ssl.keystore.type=PEM\n\
             ssl.keystore.location={}\n",
            java(&client)
        ));
        files.push((
            client.as_path(),
            format!("{}{}", pem.key_pem, pem.cert_pem).into_bytes(),
        ));
    }
    files.push((props.as_path(), text.into_bytes()));
    crate::fsutil::write_all_atomic_mode(&files, &[client.as_path()], false)?;
    Ok((ca, props))
}

/// Why listening on `--host` as asked would leave the cluster open to
/// other machines, if it would.
fn open_listener(args: &MiniBrokerArgs) -> Option<String> {
    let loopback = args
        .host
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
        || args.host == "localhost";
    if loopback || args.insecure_listen {
        return None;
    }
    let missing: Vec<&str> = [("--tls", args.tls), ("--sasl", !args.sasl.is_empty())]
        .into_iter()
        .filter(|(_, on)| !on)
        .map(|(flag, _)| flag)
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "listening beyond loopback needs {} (anyone who reaches the port could move partitions)",
            missing.join(" and ")
        )
    })
}

/// The brokers as the cluster holds them now: address, rack, state,
/// leaders, replicas and bytes.
pub fn broker_table(cluster: &ClusterHandle) -> String {
    let mut rows = Vec::new();
    cluster.inspect(|s| {
        for b in s.brokers.values() {
            let mut leaders = 0;
            let mut replicas = 0;
            let mut bytes = 0u64;
            for t in s.topics.values() {
                for p in &t.partitions {
                    if p.leader == b.id {
                        leaders += 1;
                    }
                    if let Some(r) = p.logs.get(&b.id) {
                        replicas += 1;
                        bytes += r.log.size();
                    }
                }
            }
            rows.push(vec![
                b.id.to_string(),
                format!("{}:{}", b.host, b.port),
                b.rack.clone().unwrap_or_else(|| "-".into()),
                if b.alive {
                    "up".into()
                } else {
                    "stopped".into()
                },
                if s.controller == b.id {
                    "controller".into()
                } else {
                    String::new()
                },
                leaders.to_string(),
                replicas.to_string(),
                human_bytes(bytes),
            ]);
        }
    });
    table(
        &[
            "broker", "address", "rack", "state", "role", "leaders", "replicas", "bytes",
        ],
        5,
        rows,
    )
}

/// What a line of standard input asks for.
enum Step {
    Continue,
    Quit,
}

/// Runs one command line; its output goes to the terminal.
async fn command(printer: &Printer, cluster: &ClusterHandle, line: &str) -> Step {
    let words: Vec<&str> = line.split_whitespace().collect();
    let id = |w: &str| {
        w.parse::<BrokerId>()
            .map_err(|_| anyhow::anyhow!("invalid broker id {w:?}"))
    };
    let outcome = match words.as_slice() {
        [] => Ok(()),
        ["quit"] | ["exit"] => return Step::Quit,
        ["status"] => {
            printer.out(&broker_table(cluster));
            Ok(())
        }
        ["help"] => {
            printer.note(&format!("commands: {COMMANDS}"));
            Ok(())
        }
        ["stop", w] => match id(w) {
            Ok(id) => cluster
                .stop_broker(id)
                .await
                .map(|()| printer.note(&format!("broker {id} stopped"))),
            Err(e) => Err(e),
        },
        ["kill", w] => match id(w) {
            Ok(id) => cluster
                .kill_broker(id)
                .await
                .map(|()| printer.note(&format!("broker {id} killed"))),
            Err(e) => Err(e),
        },
        ["start", w] => match id(w) {
            Ok(id) => cluster
                .start_broker(id)
                .await
                .map(|()| printer.note(&format!("broker {id} started"))),
            Err(e) => Err(e),
        },
        ["add", w, rack @ ..] if rack.len() <= 1 => match id(w) {
            Ok(id) => cluster
                .add_broker(Some(id), rack.first().map(|r| r.to_string()))
                .await
                .map(|id| {
                    printer.note(&format!("broker {id} added"));
                    printer.out(&broker_table(cluster));
                }),
            Err(e) => Err(e),
        },
        [verb @ ("pause" | "resume"), w] => id(w).and_then(|id| {
            cluster
                .pause_replication(id, *verb == "pause")
                .map(|()| printer.note(&format!("broker {id} replication {verb}d")))
        }),
        // Every verb that acts on a broker says so alike when the id is
        // missing (`kill` alone was an unknown command).
        [verb @ ("stop" | "start" | "kill" | "pause" | "resume" | "add")] => Err(anyhow::anyhow!(
            "{verb} needs a broker id: {verb} N{}",
            if *verb == "add" { " [RACK]" } else { "" }
        )),
        _ => Err(anyhow::anyhow!(
            "unknown command {:?}; commands: {COMMANDS}",
            line.trim()
        )),
    };
    if let Err(e) = outcome {
        printer.error(&format!("{e:#}"), None);
    }
    Step::Continue
}

/// Standard input, line by line, read on a plain thread. Not tokio's
/// stdin: that reads on the runtime's blocking pool, and dropping the
/// runtime waits for a read blocked on a terminal, so Ctrl-C hung until
/// Enter. This thread is left blocked at exit; the process exit ends it.
fn stdin_lines() -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The signals that stop the cluster: SIGINT (Ctrl-C) and SIGTERM.
/// Registered only once the cluster runs, so a signal during start-up (a
/// long `--fill`) still ends the process at once, with nothing to save.
pub(crate) struct StopSignals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl StopSignals {
    pub(crate) fn register() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Waits for the next stop signal; returns its name.
    pub(crate) async fn next(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => "SIGINT",
                _ = self.terminate.recv() => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}

pub fn exec(args: MiniBrokerArgs) -> anyhow::Result<Exit> {
    let printer = Printer::new(OutputFormat::Text);
    if args.fill.is_some_and(|f| f > 0) && args.topics.is_empty() {
        return Err(invalid(anyhow::anyhow!(
            "--fill has nothing to fill: give the topics with --topic NAME:PARTITIONS:RF"
        )));
    }
    if let Some(why) = open_listener(&args) {
        return Err(invalid(anyhow::anyhow!(
            "--host {}: {why}; add --tls and --sasl MECHANISM:USER:PASSWORD, or --insecure-listen",
            args.host
        )));
    }
    let tls_dir = match (&args.tls_dir, &args.data_dir) {
        _ if !args.tls => None,
        (Some(d), _) | (None, Some(d)) => Some(d.clone()),
        (None, None) => Some(std::env::temp_dir().join(format!(
            "kafka-migrate-mini-broker-tls-{}",
            std::process::id()
        ))),
    };
    let sasl = (!args.sasl.is_empty()).then(|| {
        let mut users = crate::minibroker::config::SaslUsers::default();
        for user in &args.sasl {
            users.add_user(user);
        }
        users
    });
    let config = ClusterConfig {
        tls: args.tls.then(|| args.tls_name.clone()),
        tls_options: crate::minibroker::tls::TlsOptions {
            client_auth: args.mtls,
            expired_server: false,
        },
        sasl,
        sasl_session_lifetime: args.sasl_session_lifetime_ms.map(Duration::from_millis),
        brokers: args.brokers,
        racks: args.racks,
        host: args.host,
        base_port: args.port,
        log_dirs_per_broker: args.log_dirs,
        data_dir: args.data_dir,
        flush: args.flush,
        topics: args.topics,
        fill_bytes: args.fill.unwrap_or(0),
        replica_lag_max: Duration::from_millis(args.replica_lag_max_ms),
        auto_create_topics: !args.no_auto_create,
        default_partitions: args.default_partitions,
        default_replication_factor: args.default_replication_factor,
        min_insync_replicas: args.min_insync_replicas,
        offsets_retention: Duration::from_secs(60 * args.offsets_retention_minutes),
        ..ClusterConfig::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(failure)?;
    runtime.block_on(async move {
        let cluster = match Cluster::start(config).await {
            Ok(c) => c,
            Err(e) if e.is_input() => return Err(invalid(e)),
            Err(e) => return Err(failure(e)),
        };
        let mut signals = StopSignals::register().map_err(failure)?;
        let mut lines = stdin_lines();
        printer.out(&format!("bootstrap: {}", cluster.bootstrap()));
        if let (Some(tls), Some(dir)) = (cluster.tls(), &tls_dir) {
            let (ca, props) = write_tls_files(dir, tls, &cluster.bootstrap())
                .map_err(|e| failure(e.context("writing the TLS CA and client properties")))?;
            printer.out(&format!("tls ca: {}", ca.display()));
            printer.out(&format!("client properties: {}", props.display()));
        }
        printer.out(&broker_table(&cluster));
        printer.note(&format!("commands on stdin: {COMMANDS}; Ctrl-C stops"));
        let mut stdin_open = true;
        let why = loop {
            tokio::select! {
                signal = signals.next() => break signal,
                line = lines.recv(), if stdin_open => match line {
                    Some(line) => {
                        if let Step::Quit = command(&printer, &cluster, &line).await {
                            break "quit";
                        }
                    }
                    None => stdin_open = false,
                },
            }
        };
        match cluster.data_dir() {
            Some(dir) => printer.note(&format!("stopping ({why}), saving to {}", dir.display())),
            None => printer.note(&format!("stopping ({why})")),
        }
        let dir = cluster.data_dir().map(|d| d.display().to_string());
        cluster
            .shutdown_and_persist()
            .await
            .map_err(|e| failure(e.context("saving the cluster to the data dir")))?;
        if let Some(dir) = dir {
            printer.note(&format!("saved to {dir}"));
        }
        Ok(Exit::Ok)
    })
}
