//! `kafka-migrate check PLAN --state FILE`: validate a plan offline, for CI.

use anyhow::Result;
use clap::Args;

use super::args::PlanFileArg;
use super::exit::{Exit, invalid};
use super::markdown;
use super::plan::load_state;
use super::printer::{JSON_VERSION, Printer, ReportFormat};
use super::summary;
use crate::analysis;
use crate::exec::{disks, prepare};
use crate::fsutil::read_input;
use crate::model::reassignment;
use crate::model::{Cluster, Problem, Problems};
use crate::planner;
use crate::units::parse_rate;

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub plan: PlanFileArg,
    /// Cluster snapshot (version 1 JSON).
    #[arg(long, value_name = "FILE")]
    pub state: String,
    /// Accept plans that change a partition's replication factor.
    #[arg(long)]
    pub allow_rf_change: bool,
    /// Treat rack violations as errors, not warnings.
    #[arg(long)]
    pub strict: bool,
    /// Exit 0 even when some partitions have no in-sync replica on a live broker
    /// (no plan can heal them; moving one is an error either way).
    #[arg(long)]
    pub allow_offline: bool,
    /// Replication throttle for the duration estimate, e.g. 50MB/s.
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub throttle: Option<u64>,
    /// Summary format: text, json, or markdown (a table for a
    /// pull-request comment).
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub output: ReportFormat,
}

pub fn exec(args: CheckArgs) -> Result<Exit> {
    let printer = Printer::new(args.output.base());
    let plan_path = args.plan.path();
    if plan_path == "-" && args.state == "-" {
        return Err(invalid(anyhow::anyhow!(
            "the plan and the snapshot cannot both come from standard input"
        )));
    }
    // A plan is measured against where moves in flight are going, not the
    // transient union of replicas Kafka lists while they run.
    let (current, layout) = load_state(&args.state)?;
    let cluster = current.settled();
    let name = if plan_path == "-" {
        "<stdin>"
    } else {
        plan_path
    };
    // Shape and reference problems are reported together, one per line.
    let (moves, mut problems) =
        reassignment::parse_moves(name, &read_input(plan_path)?).map_err(invalid)?;
    problems.extend(reassignment::check_references(&moves, &cluster));
    Problems::check(name, std::mem::take(&mut problems)).map_err(invalid)?;
    let plan = reassignment::Reassignment::new(name, moves).map_err(invalid)?;
    let mut warnings = Vec::new();

    // The same rules `apply` refuses a plan by, against the settled cluster.
    problems.extend(prepare::move_problems(
        &cluster,
        plan.moves(),
        &|tp| cluster.partition(tp).map(|p| p.replicas.clone()),
        args.allow_rf_change,
    ));
    for m in plan.moves() {
        if let Some(moving) = current.partition(&m.tp).and_then(|p| p.in_flight.as_ref())
            && moving.target != m.replicas
        {
            warnings.push(format!(
                "{}: being reassigned to {:?}; this plan replaces that target",
                m.tp, moving.target
            ));
        }
    }
    // Named log dirs by the rule `apply` refuses them by (a dir the broker
    // does not have), against the dirs the snapshot records.
    let (dir_problems, unknown) = disks::dir_problems_in(plan.moves(), &layout);
    problems.extend(dir_problems);
    if !unknown.is_empty() {
        warnings.push(format!(
            "the plan names log dirs on brokers {} whose log dirs {name_state} does not record: not checked (`describe -o FILE` records them)",
            unknown
                .iter()
                .map(|b| b.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            name_state = args.state
        ));
    }
    let after = plan.applied_to(&cluster);
    let use_racks = planner::use_racks(&cluster, false).unwrap_or(false);
    let targets = analysis::judged_targets(&cluster, &after);
    if use_racks {
        // Per partition of the plan (one it does not list is not the
        // plan's to fix), against the racks of the alive brokers.
        let racks = analysis::racks_spanned(&cluster, &targets);
        for m in plan.moves() {
            let need = m.replicas.len().min(racks);
            let spans = analysis::racks_spanned(&cluster, &m.replicas);
            if spans < need {
                let msg = format!("spans {spans} of the {need} racks it needs (min(rf, racks))");
                if args.strict {
                    problems.push(Problem::new(m.tp.to_string(), msg));
                } else {
                    warnings.push(format!("{}: {msg}", m.tp));
                }
            }
        }
    }
    let sum = analysis::summarize(&cluster, &after, &targets, use_racks, args.throttle);
    Problems::check(name, problems).map_err(invalid)?;
    let unrecoverable = !sum.offline_partitions.is_empty() && !args.allow_offline;
    if unrecoverable {
        warnings.push(format!(
            "{} partitions have no in-sync replica on a live broker: no plan can heal them (see `unrecoverable` in the summary); exit 1, --allow-offline accepts them",
            sum.offline_partitions.len()
        ));
    }
    match args.output {
        ReportFormat::Markdown => {
            printer.data(&markdown::render(&markdown::Report {
                title: format!("kafka-migrate check `{name}`"),
                verdict: format!(
                    "Valid: {} partitions change{}.",
                    plan.len(),
                    if args.strict {
                        " (strict: rack violations are errors)"
                    } else {
                        ""
                    }
                ),
                summary: &sum,
                racks_known: use_racks,
                throttle: args.throttle,
                extra_rows: Vec::new(),
                sections: Vec::new(),
                notes: &[],
                warnings: &warnings,
            }));
            for w in &warnings {
                printer.warn(w);
            }
            printer.note(&format!("{name}: valid ({} partitions)", plan.len()));
        }
        ReportFormat::Json => printer.json(&serde_json::json!({
            "version": JSON_VERSION,
            "command": "check",
            "valid": true,
            "partitions_in_plan": plan.len(),
            "warnings": warnings,
            "summary": sum,
        })),
        ReportFormat::Text => {
            printer.out(&summary::render(&sum, false, args.throttle));
            for w in &warnings {
                printer.warn(w);
            }
            printer.note(&format!("{name}: valid ({} partitions)", plan.len()));
        }
    }
    Ok(if unrecoverable {
        Exit::Incomplete
    } else {
        Exit::Ok
    })
}

/// The summary of a plan (already checked against `cluster`, which has no
/// moves in flight) as `check` measures it, and whether racks count.
pub fn summary_of(
    cluster: &Cluster,
    plan: &reassignment::Reassignment,
    throttle: Option<u64>,
) -> (analysis::Summary, bool) {
    let after = plan.applied_to(cluster);
    let use_racks = planner::use_racks(cluster, false).unwrap_or(false);
    let targets = analysis::judged_targets(cluster, &after);
    (
        analysis::summarize(cluster, &after, &targets, use_racks, throttle),
        use_racks,
    )
}
