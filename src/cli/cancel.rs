//! `kafka-migrate cancel [PLAN | --all]`: cancels moves in flight, waits
//! until they revert, then restores the throttles this tool set.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::Args;

use super::apply::{beside_plan, load_plan};
use super::args::ClusterArgs;
use super::cluster::{connect, exec_error, report_json, runtime};
use super::exit::{Exit, invalid};
use super::journal::FileStore;
use super::printer::{OutputFormat, Printer};
use super::verify::throttle_lines;
use crate::exec::cancel::{CancelReport, CancelScope, CancelSettings, cancel};
use crate::exec::clock::WallClock;
use crate::exec::journal::MemoryStore;
use crate::kafka::parse_timeout;
use crate::model::health::name_some;
use crate::model::live::ClusterAdmin;
use crate::model::reassignment::Reassignment;

#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The plan whose moves to cancel (Kafka's reassignment JSON).
    #[arg(value_name = "PLAN", conflicts_with = "all")]
    pub plan: Option<String>,
    /// Cancel every move in flight, whoever started it.
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// The journal whose throttles to restore (default: beside the plan;
    /// with --all, none unless given).
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// How long to wait for the cancelled moves to revert.
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = parse_timeout)]
    pub wait: Duration,
    /// Output format: text, or json (one document with `version`).
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

pub fn exec(args: CancelArgs) -> Result<Exit> {
    if args.plan.is_none() && !args.all {
        return Err(invalid(anyhow::anyhow!(
            "cancel needs a PLAN (its moves), or --all (every move in flight)"
        )));
    }
    let plan = match &args.plan {
        Some(p) => Some((p.clone(), load_plan(p)?)),
        None => None,
    };
    let journal = match &plan {
        Some((path, _)) => Some(beside_plan(
            path,
            args.journal.as_deref(),
            "journal",
            "--journal",
        )?),
        None => args.journal.clone(),
    };
    if let Some(j) = &journal
        && args.all
        && !j.exists()
    {
        return Err(invalid(anyhow::anyhow!(
            "--journal {}: no such journal",
            j.display()
        )));
    }
    runtime()?.block_on(async {
        let mut admin = connect(&args.cluster).await?;
        run(&mut admin, &args, plan.as_ref().map(|(_, p)| p), journal).await
    })
}

async fn run<A: ClusterAdmin>(
    admin: &mut A,
    args: &CancelArgs,
    plan: Option<&Reassignment>,
    journal: Option<PathBuf>,
) -> Result<Exit> {
    let printer = Printer::new(args.output);
    let scope = match plan {
        Some(p) => CancelScope::Plan(p),
        None => CancelScope::All,
    };
    let settings = CancelSettings {
        timeout: args.wait,
        ..CancelSettings::default()
    };
    let mut clock = WallClock::new();
    let (report, saved) = match journal {
        Some(j) => {
            let mut store = FileStore::new(j);
            let r = cancel(admin, &mut clock, scope, &mut store, &settings).await;
            let saved = store.saved.then(|| store.path().display().to_string());
            (r, saved)
        }
        None => {
            let mut store = MemoryStore::new();
            (
                cancel(admin, &mut clock, scope, &mut store, &settings).await,
                None,
            )
        }
    };
    let report = report.map_err(exec_error)?;
    match args.output {
        OutputFormat::Json => printer.json(&report_json("cancel", &report)),
        OutputFormat::Text => render(&printer, &report),
    }
    match &report.throttles {
        Some(t) => throttle_lines(&printer, t),
        // Moves another tool started have throttles no journal of ours
        // records: say how to find and remove them.
        None if (plan.is_none() && args.journal.is_none()) || !report.cancelled.is_empty() => {
            printer.note(
                "throttles not restored: no journal of this tool records them (`kafka-migrate status` lists the throttles in force, `kafka-migrate throttle clear --all` removes every one)",
            )
        }
        None => {}
    }
    if let Some(j) = saved {
        printer.note(&format!("journal: {j}"));
    }
    Ok(exit_of(&report))
}

/// 0 every move cancelled and reverted; 1 some still moving when the wait
/// ended; 3 cancels the cluster refused.
pub fn exit_of(r: &CancelReport) -> Exit {
    if !r.refused.is_empty() {
        Exit::Failure
    } else if !r.still_moving.is_empty() {
        Exit::Incomplete
    } else {
        Exit::Ok
    }
}

/// The cancels the cluster refused (the moves go on), one warning each.
pub fn refused_lines(printer: &Printer, r: &CancelReport) {
    for f in &r.refused {
        printer.warn(&format!(
            "{}-{}: cancel refused: {}",
            f.topic, f.partition, f.error
        ));
    }
}

fn render(printer: &Printer, r: &CancelReport) {
    for c in &r.cancelled {
        printer.out(&format!(
            "cancelled {}-{}: back at {:?}",
            c.topic, c.partition, c.replicas
        ));
    }
    for d in &r.log_dirs_stopped {
        printer.out(&format!(
            "stopped the disk move of {}-{} on broker {}: stays in {}",
            d.topic, d.partition, d.broker, d.log_dir
        ));
    }
    printer.out(&format!(
        "{} moves cancelled; {} partitions of the plan were not moving{}",
        r.cancelled.len(),
        r.not_moving.len(),
        if r.not_moving.is_empty() {
            String::new()
        } else {
            format!(": {}", name_some(&r.not_moving, 10))
        }
    ));
    refused_lines(printer, r);
    if !r.still_moving.is_empty() {
        printer.warn(&format!(
            "still moving when the wait ended: {} (run cancel again, or check `kafka-migrate status`)",
            name_some(&r.still_moving, 10)
        ));
    }
}
