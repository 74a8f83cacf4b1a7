//! `kafka-migrate describe --bootstrap-server HOST:PORT`: the cluster's
//! state from the wire: brokers and racks, partitions with sizes, moves in
//! flight (recorded in the snapshot, with a warning) and replication
//! throttles (broker rates and topic replica lists). `-o FILE` writes the
//! snapshot that `plan --state` reads.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::args::{ClusterArgs, unreachable};
use super::exit::{Exit, invalid};
use super::printer::{JSON_VERSION, OutputFormat, Printer, table};
use super::{Output, check_outputs, write_outputs};
use crate::analysis::disks::{BrokerDisks, measure};
use crate::model::health::name_some;
use crate::model::live::{ClusterAdmin, ConfigResource};
use crate::model::log_dirs::LogDirLayout;
use crate::model::{BrokerId, Cluster, snapshot};
use crate::units::human_bytes;

/// The broker configs that make up a replication throttle.
pub const BROKER_THROTTLE_KEYS: [&str; 3] = [
    "leader.replication.throttled.rate",
    "follower.replication.throttled.rate",
    "replica.alter.log.dirs.io.max.bytes.per.second",
];

/// The topic configs that name the throttled replicas.
pub const TOPIC_THROTTLE_KEYS: [&str; 2] = [
    "leader.replication.throttled.replicas",
    "follower.replication.throttled.replicas",
];

#[derive(Debug, Args)]
pub struct DescribeArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Only this topic (repeatable): the snapshot, the moves and the topic
    /// throttles are limited to the topics named.
    #[arg(long = "topic", value_name = "NAME")]
    pub topics: Vec<String>,
    /// Write the cluster snapshot (version 1 JSON) to this file, or `-`
    /// for standard output (the description then goes to stderr).
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Refuse to replace an existing output file.
    #[arg(long)]
    pub no_clobber: bool,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

pub fn exec(args: DescribeArgs) -> Result<Exit> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(args))
}

async fn run(args: DescribeArgs) -> Result<Exit> {
    let outputs: Vec<(&str, &std::path::Path)> =
        args.out.iter().map(|p| ("--out", p.as_path())).collect();
    let inputs: Vec<(&str, &str)> = args.cluster.input().into_iter().collect();
    check_outputs(&inputs, &outputs, args.no_clobber)?;
    let printer = Printer::for_outputs(args.output, &outputs)?;
    let mut admin = args.cluster.connect(&printer).await?;
    let mut survey = admin.survey().await.map_err(unreachable)?;
    if !args.topics.is_empty() {
        survey.retain_topics(&args.topics).map_err(|missing| {
            invalid(anyhow::anyhow!(
                "--topic: unknown topics: {}",
                missing.join(", ")
            ))
        })?;
    }
    let cluster = &survey.cluster;
    let ongoing = &survey.moves;
    // Set on the broker or topic itself: a rate inherited from defaults is
    // not a throttle this cluster's operators set.
    let brokers: Vec<ConfigResource> = cluster
        .brokers
        .iter()
        .filter(|b| b.alive)
        .map(|b| ConfigResource::Broker(b.id))
        .collect();
    let topics: Vec<ConfigResource> = cluster
        .topics
        .iter()
        .map(|t| ConfigResource::Topic(t.name.clone()))
        .collect();
    let mut set = admin
        .describe_configs(&brokers, &BROKER_THROTTLE_KEYS)
        .await
        .map_err(unreachable)?;
    set.extend(
        admin
            .describe_configs(&topics, &TOPIC_THROTTLE_KEYS)
            .await
            .map_err(unreachable)?,
    );
    let throttles: Vec<(String, String, String)> = set
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|((r, k), v)| (r.to_string(), k, v))
        .collect();
    let moving = cluster.in_flight_partitions();
    if !moving.is_empty() {
        printer.warn(&format!(
            "{} partitions are being reassigned: {}. The snapshot records their target, adding and removing replicas; `plan` refuses them until the moves finish or are cancelled (kafka-reassign-partitions.sh --verify / --cancel), or plans from their targets with --in-flight target",
            moving.len(),
            name_some(&moving, 5)
        ));
    }
    let wrote = match &args.out {
        Some(path) => {
            let snapshot = Output {
                what: "snapshot".into(),
                path,
                contents: snapshot::to_json_with_log_dirs(cluster, &survey.log_dirs),
            };
            write_outputs(&printer, vec![snapshot], args.no_clobber)?
        }
        None => Vec::new(),
    };
    let rows = broker_rows(cluster, &survey.broker_bytes);
    let disks = dir_bytes(cluster, &survey.log_dirs);
    match printer.format {
        OutputFormat::Json => printer.json(&serde_json::json!({
            "version": JSON_VERSION,
            "command": "describe",
            "controller": survey.controller,
            "snapshot": serde_json::from_str::<serde_json::Value>(&snapshot::to_json_with_log_dirs(cluster, &survey.log_dirs))?,
            "brokers": rows.iter().map(|r| serde_json::json!({
                "id": r.id, "replicas": r.replicas, "preferred_leaders": r.preferred,
                "leaders": r.leaders, "bytes": r.bytes,
            })).collect::<Vec<_>>(),
            "reassignments": ongoing.iter().map(|o| serde_json::json!({
                "topic": o.tp.topic, "partition": o.tp.partition,
                "replicas": o.replicas, "adding": o.adding, "removing": o.removing,
                "target": o.replicas.iter().filter(|b| !o.removing.contains(b)).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "throttles": throttles.iter().map(|(r, k, v)| serde_json::json!({
                "resource": r, "name": k, "value": v,
            })).collect::<Vec<_>>(),
            "log_dirs": disks.iter().map(|b| serde_json::json!({
                "broker": b.id,
                "dirs": b.dirs.iter().map(|d| serde_json::json!({"dir": d.dir, "bytes": d.bytes_before}))
                    .collect::<Vec<_>>(),
                "spread": b.spread_before,
                "unknown_bytes": b.unknown_before,
            })).collect::<Vec<_>>(),
        })),
        OutputFormat::Text => {
            let table_rows = cluster
                .brokers
                .iter()
                .zip(&rows)
                .map(|(b, r)| {
                    vec![
                        b.id.to_string(),
                        b.rack.clone().unwrap_or_else(|| "-".into()),
                        match (&b.host, b.port) {
                            (Some(h), Some(p)) => format!("{h}:{p}"),
                            _ => "-".into(),
                        },
                        if b.alive { "alive" } else { "dead" }.to_string(),
                        r.replicas.to_string(),
                        r.preferred.to_string(),
                        r.leaders.to_string(),
                        r.bytes.map_or_else(|| "-".into(), human_bytes),
                    ]
                })
                .collect();
            printer.out(&table(
                &[
                    "broker",
                    "rack",
                    "address",
                    "state",
                    "replicas",
                    "preferred leaders",
                    "leaders",
                    "bytes",
                ],
                4,
                table_rows,
            ));
            if !disks.is_empty() {
                printer.out(&dir_table(&disks));
            }
            let under: usize = cluster
                .partitions()
                .filter(|(_, p)| p.isr.len() < in_sync_wanted(p))
                .count();
            printer.out(&format!(
                "controller {}; {} topics, {} partitions, {} under-replicated; {} moves in flight; {} throttle configs set",
                survey.controller,
                cluster.topics.len(),
                cluster.partition_count(),
                under,
                ongoing.len(),
                throttles.len()
            ));
            for o in ongoing {
                let target: Vec<_> = o
                    .replicas
                    .iter()
                    .filter(|b| !o.removing.contains(b))
                    .collect();
                printer.out(&format!(
                    "moving {}: replicas {:?} target {:?} adding {:?} removing {:?}",
                    o.tp, o.replicas, target, o.adding, o.removing
                ));
            }
            for (r, k, v) in &throttles {
                printer.out(&format!("throttle {r}: {k}={v}"));
            }
            printer.out(LEGEND);
        }
    }
    for line in &wrote {
        printer.note(line);
    }
    Ok(Exit::Ok)
}

/// The disks of the brokers with two or more log dirs (JBOD): each dir's
/// bytes (its replicas' sizes as the snapshot records them) and the
/// spread, fullest minus emptiest, that `plan --balance-disks` evens out.
fn dir_bytes(cluster: &Cluster, layout: &LogDirLayout) -> Vec<BrokerDisks> {
    let unchanged: Vec<Vec<BrokerId>> = cluster
        .partitions()
        .map(|(_, p)| p.replicas.clone())
        .collect();
    // No plan: the tolerance only sizes a column this table does not show.
    measure(cluster, &unchanged, layout, &BTreeMap::new(), 0.0).brokers
}

fn dir_table(disks: &[BrokerDisks]) -> String {
    let mut rows = Vec::new();
    for b in disks {
        for (i, d) in b.dirs.iter().enumerate() {
            let first = i == 0;
            rows.push(vec![
                if first {
                    b.id.to_string()
                } else {
                    String::new()
                },
                d.dir.clone(),
                human_bytes(d.bytes_before),
                if first {
                    human_bytes(b.spread_before)
                } else {
                    String::new()
                },
            ]);
        }
        if b.unknown_before > 0 {
            rows.push(vec![
                String::new(),
                "(dir unknown)".into(),
                human_bytes(b.unknown_before),
                String::new(),
            ]);
        }
    }
    format!(
        "log dirs (brokers with several; spread: fullest minus emptiest, see plan --balance-disks):\n{}",
        table(&["broker", "log dir", "bytes", "spread"], 2, rows)
    )
}

/// How many replicas should be in sync: mid-move, as KIP-352 counts
/// under-replication, the original ones (an adding replica still copying
/// is not a replica lost).
fn in_sync_wanted(p: &crate::model::Partition) -> usize {
    p.replicas.len() - p.in_flight.as_ref().map_or(0, |m| m.adding.len())
}

/// The terms of the broker table.
const LEGEND: &str = "\
terms: replicas: replica lists naming the broker (mid-move, the adding and removing ones too);
       preferred leaders: partitions whose first replica is the broker (it leads them after a
         preferred leader election); leaders: partitions it leads now;
       bytes: its own replicas' sizes on its log dirs (DescribeLogDirs)";

/// One broker's line of the table.
struct BrokerRow {
    id: BrokerId,
    replicas: u64,
    preferred: u64,
    leaders: u64,
    /// From its log dirs; `None` for a broker that is not alive.
    bytes: Option<u64>,
}

/// Per broker: replica lists naming it, preferred (first replica) and
/// actual leaders, and its bytes on disk, in `cluster.brokers` order.
fn broker_rows(cluster: &Cluster, bytes: &BTreeMap<BrokerId, u64>) -> Vec<BrokerRow> {
    let mut rows: Vec<BrokerRow> = cluster
        .brokers
        .iter()
        .map(|b| BrokerRow {
            id: b.id,
            replicas: 0,
            preferred: 0,
            leaders: 0,
            bytes: bytes.get(&b.id).copied(),
        })
        .collect();
    let index = cluster.broker_index();
    for (_, p) in cluster.partitions() {
        for b in &p.replicas {
            rows[index[b]].replicas += 1;
        }
        if let Some(first) = p.replicas.first() {
            rows[index[first]].preferred += 1;
        }
        if let Some(l) = p.leader {
            rows[index[&l]].leaders += 1;
        }
    }
    rows
}
