//! `kafka-migrate elect-leaders`: preferred-leader election (the first
//! replica leads), for the partitions named or every partition whose
//! leader is not its preferred one.

use std::collections::BTreeSet;

use anyhow::Result;
use clap::Args;

use super::args::{ClusterArgs, input_name};
use super::cluster::{admin_error, connect, runtime};
use super::exit::{Exit, invalid};
use super::printer::{JSON_VERSION, OutputFormat, Printer};
use crate::fsutil::read_input;
use crate::model::TopicPartition;
use crate::model::health::name_some;
use crate::model::live::{ClusterAdmin, ErrorCode};

#[derive(Debug, Args)]
pub struct ElectArgs {
    /// Only these topics (comma-separated names).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub topics: Option<Vec<String>>,
    /// Only these partitions, in kafka-leader-election.sh's JSON
    /// ({"partitions":[{"topic":"t","partition":0}]}).
    #[arg(long, value_name = "FILE")]
    pub partitions_file: Option<String>,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Output format: text, or json (one document with `version`).
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

/// Reads kafka-leader-election.sh's partitions file.
fn parse_partitions(path: &str) -> Result<Vec<TopicPartition>> {
    let name = input_name(path);
    let bytes = read_input(path)?;
    let bad = |what: String| invalid(anyhow::anyhow!("{name}: {what}"));
    let v: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
    let list = v
        .get("partitions")
        .and_then(|p| p.as_array())
        .ok_or_else(|| bad("needs a \"partitions\" array".into()))?;
    let mut out = Vec::new();
    for (i, e) in list.iter().enumerate() {
        let topic = e.get("topic").and_then(|t| t.as_str());
        let partition = e
            .get("partition")
            .and_then(|p| p.as_i64())
            .and_then(|p| i32::try_from(p).ok());
        match (topic, partition) {
            (Some(t), Some(p)) if p >= 0 => out.push(TopicPartition {
                topic: t.to_string(),
                partition: p,
            }),
            _ => {
                return Err(bad(format!(
                    "partitions[{i}]: needs \"topic\" (a name) and \"partition\" (a number from 0)"
                )));
            }
        }
    }
    if out.is_empty() {
        return Err(bad("lists no partition".into()));
    }
    out.sort();
    out.dedup();
    Ok(out)
}

pub fn exec(args: ElectArgs) -> Result<Exit> {
    let named = match &args.partitions_file {
        Some(f) => Some(parse_partitions(f)?),
        None => None,
    };
    runtime()?.block_on(async {
        let mut admin = connect(&args.cluster).await?;
        run(&mut admin, &args, named).await
    })
}

async fn run<A: ClusterAdmin>(
    admin: &mut A,
    args: &ElectArgs,
    named: Option<Vec<TopicPartition>>,
) -> Result<Exit> {
    let printer = Printer::new(args.output);
    let cluster = admin
        .cluster()
        .await
        .map_err(admin_error("reading the cluster"))?;
    let topics: Option<BTreeSet<&str>> = args.topics.as_ref().map(|t| {
        t.iter()
            .map(String::as_str)
            .filter(|s| !s.is_empty())
            .collect()
    });
    if let Some(t) = &topics {
        let unknown: Vec<&str> = t
            .iter()
            .copied()
            .filter(|n| cluster.topic(n).is_none())
            .collect();
        if !unknown.is_empty() {
            return Err(invalid(anyhow::anyhow!(
                "--topics: unknown topics: {}",
                unknown.join(", ")
            )));
        }
        if t.is_empty() {
            return Err(invalid(anyhow::anyhow!("--topics: empty topic list")));
        }
    }
    let chosen: Vec<TopicPartition> = match named {
        Some(list) => {
            let unknown: Vec<TopicPartition> = list
                .iter()
                .filter(|tp| cluster.partition(tp).is_none())
                .cloned()
                .collect();
            if !unknown.is_empty() {
                return Err(invalid(anyhow::anyhow!(
                    "{}: unknown partitions: {}",
                    input_name(args.partitions_file.as_deref().unwrap_or("-")),
                    name_some(&unknown, 10)
                )));
            }
            list.into_iter()
                .filter(|tp| {
                    topics
                        .as_ref()
                        .is_none_or(|t| t.contains(tp.topic.as_str()))
                })
                .collect()
        }
        // Every partition not led by its preferred replica: electing the
        // others is a no-op the controller answers one by one.
        None => cluster
            .partitions()
            .filter(|(t, _)| topics.as_ref().is_none_or(|s| s.contains(t.name.as_str())))
            .filter(|(_, p)| p.leader != p.replicas.first().copied())
            .map(|(t, p)| TopicPartition {
                topic: t.name.clone(),
                partition: p.partition,
            })
            .collect(),
    };
    let results = if chosen.is_empty() {
        Vec::new()
    } else {
        admin
            .elect_preferred(&chosen)
            .await
            .map_err(admin_error("electing preferred leaders"))?
    };
    let mut elected = Vec::new();
    let mut not_needed = Vec::new();
    let mut failed = Vec::new();
    for (tp, r) in results {
        match r {
            Ok(()) => elected.push(tp),
            Err(e) if e.code == ErrorCode::ELECTION_NOT_NEEDED => not_needed.push(tp),
            Err(e) => failed.push((tp, e)),
        }
    }
    match args.output {
        OutputFormat::Json => printer.json(&serde_json::json!({
            "version": JSON_VERSION,
            "command": "elect-leaders",
            "elected": elected,
            "already_preferred": not_needed,
            "failed": failed.iter().map(|(tp, e)| serde_json::json!({
                "topic": tp.topic, "partition": tp.partition, "code": e.code, "error": e.to_string(),
            })).collect::<Vec<_>>(),
        })),
        OutputFormat::Text => {
            printer.out(&format!(
                "{} preferred leaders elected, {} already leading, {} failed",
                elected.len(),
                not_needed.len(),
                failed.len()
            ));
        }
    }
    for (tp, e) in &failed {
        printer.warn(&format!("{tp}: {e}"));
    }
    Ok(if failed.is_empty() {
        Exit::Ok
    } else {
        Exit::Failure
    })
}
