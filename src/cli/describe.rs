//! `kafka-migrate describe --bootstrap-server HOST:PORT`: the cluster's
//! state from the wire: brokers and racks, partitions with sizes, moves in
//! flight and replication throttles. `-o FILE` writes the snapshot that
//! `plan --state` reads.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::args::ClusterArgs;
use super::exit::{CodedError, Exit};
use super::printer::{JSON_VERSION, OutputFormat, Printer, table};
use super::{Output, check_outputs, write_outputs};
use crate::kafka::Admin;
use crate::kafka::admin::ConfigResource;
use crate::model::snapshot;
use crate::units::human_bytes;

/// The broker configs that make up a replication throttle.
pub const BROKER_THROTTLE_KEYS: [&str; 3] = [
    "leader.replication.throttled.rate",
    "follower.replication.throttled.rate",
    "replica.alter.log.dirs.io.max.bytes.per.second",
];

#[derive(Debug, Args)]
pub struct DescribeArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
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

fn unreachable(e: impl Into<anyhow::Error>) -> anyhow::Error {
    CodedError {
        exit: Exit::Failure,
        error: e.into(),
        hint: Some("check --bootstrap-server and that the cluster is up".into()),
    }
    .into()
}

async fn run(args: DescribeArgs) -> Result<Exit> {
    let outputs: Vec<(&str, &std::path::Path)> =
        args.out.iter().map(|p| ("--out", p.as_path())).collect();
    check_outputs(&[], &outputs, args.no_clobber)?;
    let printer = Printer::for_outputs(args.output, &outputs)?;
    let bootstrap = args.cluster.bootstrap_server.to_string();
    let mut admin = Admin::connect(&bootstrap, args.cluster.timeout)
        .await
        .map_err(unreachable)?;
    let cluster = admin.snapshot().await.map_err(unreachable)?;
    let ongoing = admin.list_reassignments().await.map_err(unreachable)?;
    let mut throttles = Vec::new();
    for b in cluster.brokers.iter().filter(|b| b.alive) {
        let cfg = admin
            .describe_configs(&ConfigResource::Broker(b.id), Some(&BROKER_THROTTLE_KEYS))
            .await
            .map_err(unreachable)?;
        for (k, v) in cfg {
            if let Some(v) = v.filter(|_| BROKER_THROTTLE_KEYS.contains(&k.as_str())) {
                throttles.push((format!("broker {}", b.id), k, v));
            }
        }
    }
    let wrote = match &args.out {
        Some(path) => {
            let snapshot = Output {
                what: "snapshot".into(),
                path,
                contents: snapshot::to_json(&cluster),
            };
            write_outputs(&printer, vec![snapshot], args.no_clobber)?
        }
        None => Vec::new(),
    };
    match printer.format {
        OutputFormat::Json => printer.json(&serde_json::json!({
            "version": JSON_VERSION,
            "command": "describe",
            "controller": admin.controller,
            "snapshot": serde_json::from_str::<serde_json::Value>(&snapshot::to_json(&cluster))?,
            "reassignments": ongoing.iter().map(|o| serde_json::json!({
                "topic": o.tp.topic, "partition": o.tp.partition,
                "replicas": o.replicas, "adding": o.adding, "removing": o.removing,
            })).collect::<Vec<_>>(),
            "throttles": throttles.iter().map(|(r, k, v)| serde_json::json!({
                "resource": r, "name": k, "value": v,
            })).collect::<Vec<_>>(),
        })),
        OutputFormat::Text => {
            let mut rows = Vec::new();
            for b in &cluster.brokers {
                let (mut reps, mut leads, mut bytes) = (0u64, 0u64, 0u64);
                for (_, p) in cluster.partitions() {
                    if p.replicas.contains(&b.id) {
                        reps += 1;
                        bytes += p.size_bytes;
                    }
                    if p.leader == Some(b.id) {
                        leads += 1;
                    }
                }
                rows.push(vec![
                    b.id.to_string(),
                    b.rack.clone().unwrap_or_else(|| "-".into()),
                    match (&b.host, b.port) {
                        (Some(h), Some(p)) => format!("{h}:{p}"),
                        _ => "-".into(),
                    },
                    if b.alive { "" } else { "dead" }.to_string(),
                    reps.to_string(),
                    leads.to_string(),
                    human_bytes(bytes),
                ]);
            }
            printer.out(&table(
                &[
                    "broker", "rack", "address", "", "replicas", "leaders", "bytes",
                ],
                4,
                rows,
            ));
            let under: usize = cluster
                .partitions()
                .filter(|(_, p)| p.isr.len() < p.replicas.len())
                .count();
            printer.out(&format!(
                "controller {}; {} topics, {} partitions, {} under-replicated; {} moves in flight; {} throttle configs set",
                admin.controller,
                cluster.topics.len(),
                cluster.partition_count(),
                under,
                ongoing.len(),
                throttles.len()
            ));
            for o in &ongoing {
                printer.out(&format!(
                    "moving {}: replicas {:?} adding {:?} removing {:?}",
                    o.tp, o.replicas, o.adding, o.removing
                ));
            }
            for (r, k, v) in &throttles {
                printer.out(&format!("throttle {r}: {k}={v}"));
            }
        }
    }
    for line in &wrote {
        printer.note(line);
    }
    Ok(Exit::Ok)
}
