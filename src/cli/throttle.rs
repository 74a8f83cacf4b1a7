//! `kafka-migrate throttle set RATE` and `throttle clear`: change the rate
//! of a run's throttles mid-move, or take them off (only what this tool
//! set, per the journal; `--all` for every throttle on the cluster).

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};

use super::apply::beside_plan;
use super::args::ClusterArgs;
use super::cluster::{connect, exec_error, note_journal, report_json, runtime};
use super::exit::{Exit, THROTTLE_EXIT_CODES, invalid};
use super::journal::FileStore;
use super::printer::{OutputFormat, Printer};
use super::verify::throttle_lines;
use crate::exec::apply::{change_rate, clear_all_throttles, restore_throttles};
use crate::exec::journal::MemoryStore;
use crate::exec::throttle::Rates;
use crate::model::BrokerId;
use crate::model::live::ClusterAdmin;
use crate::units::{human_bytes, parse_rate};

#[derive(Debug, Args)]
pub struct ThrottleArgs {
    #[command(subcommand)]
    pub action: ThrottleAction,
}

#[derive(Debug, Subcommand)]
pub enum ThrottleAction {
    /// Set the replication rate of a run's throttles (a running `apply`
    /// picks it up at its next poll).
    #[command(after_help = THROTTLE_EXIT_CODES)]
    Set(SetArgs),
    /// Remove throttles: what this tool set (its earlier values come back),
    /// or with --all every throttle on the cluster.
    #[command(after_help = THROTTLE_EXIT_CODES)]
    Clear(ClearArgs),
}

/// Which run's journal: beside a plan, or a file.
#[derive(Debug, Args)]
pub struct RunRef {
    /// The plan of the run (its journal is beside it).
    #[arg(long, value_name = "PLAN", conflicts_with = "journal")]
    pub plan: Option<String>,
    /// The run's journal.
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
}

impl RunRef {
    fn path(&self) -> Result<Option<PathBuf>> {
        match (&self.plan, &self.journal) {
            (Some(p), _) => Ok(Some(beside_plan(p, None, "journal", "--journal")?)),
            (None, j) => Ok(j.clone()),
        }
    }
}

#[derive(Debug, Args)]
pub struct SetArgs {
    /// Bytes per second: 50MB/s, 50MiB/s, or a number.
    #[arg(value_name = "RATE", value_parser = parse_rate)]
    pub rate: u64,
    /// Brokers to throttle (default: those where the run's throttles are
    /// in force).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub brokers: Option<Vec<BrokerId>>,
    /// The rate for moves between log dirs of one broker.
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub replica_alter_log_dirs_throttle: Option<u64>,
    #[command(flatten)]
    pub run: RunRef,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Output format: text, or json (one document with `version`).
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct ClearArgs {
    /// Remove every throttle key on every broker and topic, whoever set it
    /// (as kafka-reassign-partitions.sh does at the end of a move).
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub run: RunRef,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Output format: text, or json (one document with `version`).
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

pub fn exec(args: ThrottleArgs) -> Result<Exit> {
    match args.action {
        ThrottleAction::Set(a) => {
            let Some(journal) = a.run.path()? else {
                return Err(invalid(anyhow::anyhow!(
                    "throttle set needs the run whose throttles it changes: --plan PLAN or --journal FILE"
                )));
            };
            runtime()?.block_on(async {
                let mut admin = connect(&a.cluster).await?;
                set(&mut admin, &a, journal).await
            })
        }
        ThrottleAction::Clear(a) => {
            let journal = a.run.path()?;
            if journal.is_none() && !a.all {
                return Err(invalid(anyhow::anyhow!(
                    "throttle clear removes what a run set: --plan PLAN or --journal FILE, or --all for every throttle"
                )));
            }
            runtime()?.block_on(async {
                let mut admin = connect(&a.cluster).await?;
                clear(&mut admin, &a, journal).await
            })
        }
    }
}

async fn set<A: ClusterAdmin>(admin: &mut A, args: &SetArgs, journal: PathBuf) -> Result<Exit> {
    let printer = Printer::new(args.output);
    let mut store = FileStore::new(journal);
    let rates = Rates {
        replication: Some(args.rate),
        log_dirs: args.replica_alter_log_dirs_throttle,
    };
    let change = change_rate(admin, &mut store, rates, args.brokers.as_deref())
        .await
        .map_err(exec_error)?;
    match args.output {
        OutputFormat::Json => printer.json(&report_json("throttle set", &change)),
        // A run with no rate throttle in force yet (no --throttle, or none
        // left) changes no broker; its next batches take the recorded rate.
        OutputFormat::Text if change.brokers.is_empty() => printer.out(&format!(
            "replication throttle {}/s recorded in the journal for the run's next batches: no broker has this run's throttles now",
            human_bytes(args.rate)
        )),
        OutputFormat::Text => printer.out(&format!(
            "replication throttle {}/s on brokers {} ({} config changes)",
            human_bytes(args.rate),
            change
                .brokers
                .iter()
                .map(|b| b.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            change.ops.len()
        )),
    }
    note_journal(&printer, &store);
    Ok(Exit::Ok)
}

async fn clear<A: ClusterAdmin>(
    admin: &mut A,
    args: &ClearArgs,
    journal: Option<PathBuf>,
) -> Result<Exit> {
    let printer = Printer::new(args.output);
    if args.all {
        let (ops, saved) = match journal {
            Some(j) => {
                let mut store = FileStore::new(j);
                let ops = clear_all_throttles(admin, &mut store).await;
                (ops, store.saved.then(|| store.path().display().to_string()))
            }
            None => (
                clear_all_throttles(admin, &mut MemoryStore::new()).await,
                None,
            ),
        };
        let ops = ops.map_err(exec_error)?;
        match args.output {
            OutputFormat::Json => printer.json(&report_json(
                "throttle clear",
                serde_json::json!({ "ops": ops }),
            )),
            OutputFormat::Text => {
                for o in &ops {
                    printer.out(&format!(
                        "removed {} {}: {}",
                        o.resource_type, o.resource, o.key
                    ));
                }
                printer.out(&format!("{} throttle configs removed", ops.len()));
            }
        }
        if let Some(j) = saved {
            printer.note(&format!("journal: {j}"));
        }
        return Ok(Exit::Ok);
    }
    let mut store = FileStore::new(journal.expect("checked in exec"));
    let outcome = restore_throttles(admin, &mut store)
        .await
        .map_err(exec_error)?;
    match args.output {
        OutputFormat::Json => printer.json(&report_json("throttle clear", &outcome)),
        OutputFormat::Text => {
            printer.out(&format!(
                "{} config changes: this tool's throttles removed, earlier values back",
                outcome.ops.len()
            ));
            throttle_lines(&printer, &outcome);
        }
    }
    note_journal(&printer, &store);
    Ok(Exit::Ok)
}
