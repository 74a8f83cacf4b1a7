#![allow(clippy::print_stdout, clippy::print_stderr)] // TEMP until the printer takes over
//! `kafka-migrate mini-broker`: runs an in-process Kafka cluster until
//! Ctrl-C (or `quit` on standard input), then stops it cleanly.
//!
//! Prints the bootstrap address on the first line of standard output, then
//! a table of brokers. Fault control from the command line: while it runs,
//! it reads commands from standard input, one per line:
//!
//! - `stop N`: stop broker N (its listener closes, its replicas leave the
//!   ISR, leadership fails over; the controller moves if N held it).
//! - `start N`: restart broker N on its port; it catches up from leaders.
//! - `pause N` / `resume N`: broker N stays up but its follower replicas
//!   stop copying (a slow follower), so they leave ISRs after
//!   `--replica-lag-max-ms`; `resume` lets them catch up and rejoin.
//! - `status`: print the broker table again.
//! - `quit`: stop the cluster and exit (as Ctrl-C does).
//!
//! End of standard input is not a quit, so the command can run in the
//! background with `</dev/null`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use tokio::io::AsyncBufReadExt;

use super::printer::table;
use crate::minibroker::{Cluster, ClusterConfig, ClusterHandle, TopicSpec};
use crate::units::{human_bytes, parse_size};

const COMMANDS: &str = "stop N | start N | pause N | resume N | status | quit";

#[derive(Debug, Args)]
pub struct MiniBrokerArgs {
    /// Number of brokers (ids 1..=N).
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
    /// Topic to create, NAME:PARTITIONS:REPLICATION_FACTOR (repeatable).
    #[arg(long = "topic", value_name = "SPEC")]
    pub topics: Vec<TopicSpec>,
    /// Synthetic data loaded into each topic, spread unevenly over its
    /// partitions (e.g. 200MiB).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub fill: Option<u64>,
    /// Port of broker 1; broker N listens on PORT+N-1. 0 picks free ports.
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Interface to bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Log dirs per broker.
    #[arg(long, default_value_t = 1)]
    pub log_dirs: usize,
    /// Persist here: logs and metadata are saved at exit and loaded at
    /// start, so a restart keeps the data (log dirs are DIR/broker-N/dir-M).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// replica.lag.time.max.ms: a follower lagging longer leaves the ISR.
    #[arg(long, default_value_t = 10_000, value_name = "MS")]
    pub replica_lag_max_ms: u64,
}

fn broker_table(cluster: &ClusterHandle) -> String {
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

pub fn exec(args: MiniBrokerArgs) -> anyhow::Result<i32> {
    let config = ClusterConfig {
        brokers: args.brokers,
        racks: args.racks,
        host: args.host,
        base_port: args.port,
        log_dirs_per_broker: args.log_dirs,
        data_dir: args.data_dir,
        topics: args.topics,
        fill_bytes: args.fill.unwrap_or(0),
        replica_lag_max: Duration::from_millis(args.replica_lag_max_ms),
        ..ClusterConfig::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let cluster = Cluster::start(config).await.context("starting the mini-broker cluster")?;
        println!("bootstrap: {}", cluster.bootstrap());
        println!("{}", broker_table(&cluster));
        eprintln!("commands on stdin: {COMMANDS}; Ctrl-C stops");
        let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        let mut stdin_open = true;
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                line = lines.next_line(), if stdin_open => {
                    let line = match line {
                        Ok(Some(l)) => l,
                        _ => { stdin_open = false; continue; }
                    };
                    let words: Vec<&str> = line.split_whitespace().collect();
                    let outcome = match words.as_slice() {
                        [] => Ok(()),
                        ["quit"] | ["exit"] => break,
                        ["status"] => { println!("{}", broker_table(&cluster)); Ok(()) }
                        ["stop", id] => match id.parse() {
                            Ok(id) => cluster.stop_broker(id).await.map(|()| eprintln!("broker {id} stopped")),
                            Err(_) => Err(anyhow::anyhow!("invalid broker id {id:?}")),
                        },
                        ["start", id] => match id.parse() {
                            Ok(id) => cluster.start_broker(id).await.map(|()| eprintln!("broker {id} started")),
                            Err(_) => Err(anyhow::anyhow!("invalid broker id {id:?}")),
                        },
                        [verb @ ("pause" | "resume"), id] => match id.parse() {
                            Ok(id) => cluster
                                .pause_replication(id, *verb == "pause")
                                .map(|()| eprintln!("broker {id} replication {verb}d")),
                            Err(_) => Err(anyhow::anyhow!("invalid broker id {id:?}")),
                        },
                        _ => Err(anyhow::anyhow!("unknown command {line:?}: {COMMANDS}")),
                    };
                    if let Err(e) = outcome {
                        eprintln!("error: {e:#}");
                    }
                }
            }
        }
        eprintln!("stopping");
        cluster.shutdown_and_persist().await.context("saving the cluster to the data dir")?;
        Ok(0)
    })
}
