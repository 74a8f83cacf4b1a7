//! `kafka-migrate verify PLAN`: where each planned partition stands (done,
//! in progress with bytes copied, diverged, failed); once nothing of the
//! plan is moving, the throttles this tool set are restored from the
//! journal.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::apply::{beside_plan, load_plan};
use super::args::{ClusterArgs, PlanFileArg};
use super::cluster::{connect, exec_error, note_journal, report_json, runtime};
use super::exit::Exit;
use super::journal::FileStore;
use super::printer::{OutputFormat, Printer, table};
use super::progress;
use crate::exec::apply::ThrottleOutcome;
use crate::exec::clock::WallClock;
use crate::exec::disks::{DirState, DirView};
use crate::exec::verify::{PartitionStatus, Verdict, VerifyReport, VerifySettings, verify_settled};
use crate::model::live::ClusterAdmin;
use crate::model::reassignment::Reassignment;
use crate::units::human_bytes;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub plan: PlanFileArg,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Leave the throttles in force even when every partition is done.
    #[arg(long)]
    pub preserve_throttles: bool,
    /// The journal of the run (default: beside the plan).
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// List every partition, done ones too.
    #[arg(short, long)]
    pub verbose: bool,
    /// Output format: text, or json (one document with `version`).
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

pub fn exec(args: VerifyArgs) -> Result<Exit> {
    let plan_path = args.plan.path().to_string();
    let journal = beside_plan(&plan_path, args.journal.as_deref(), "journal", "--journal")?;
    let plan = load_plan(&plan_path)?;
    runtime()?.block_on(async {
        let mut admin = connect(&args.cluster).await?;
        run(&mut admin, &args, &plan, journal).await
    })
}

async fn run<A: ClusterAdmin>(
    admin: &mut A,
    args: &VerifyArgs,
    plan: &Reassignment,
    journal: PathBuf,
) -> Result<Exit> {
    let printer = Printer::new(args.output);
    let mut store = FileStore::new(journal);
    let settings = VerifySettings {
        preserve_throttles: args.preserve_throttles,
    };
    let report = verify_settled(admin, &mut WallClock::new(), plan, &mut store, &settings)
        .await
        .map_err(exec_error)?;
    match args.output {
        OutputFormat::Json => printer.json(&report_json("verify", &report)),
        OutputFormat::Text => render(&printer, &report, args.verbose),
    }
    if let Some(e) = &report.sizes_unknown {
        printer.warn(&format!("bytes copied unknown: {e}"));
    }
    if let Some(t) = &report.throttles {
        throttle_lines(&printer, t);
    } else if report.verdict == Verdict::AllDone && args.preserve_throttles {
        printer.note("throttles left in force (--preserve-throttles)");
    }
    if report.not_submitted > 0 {
        printer.note(&format!(
            "{} not submitted yet: the run stopped before their batch; run it again to submit them (`kafka-migrate apply {}`, or `rollback` for a rollback file); throttles stay in force until then",
            match report.not_submitted {
                1 => "1 partition".to_string(),
                n => format!("{n} partitions"),
            },
            args.plan.path()
        ));
    }
    note_journal(&printer, &store);
    Ok(match report.verdict {
        Verdict::AllDone => Exit::Ok,
        Verdict::InProgress => Exit::Incomplete,
        Verdict::Failed => Exit::Failure,
    })
}

/// The warning for this tool's throttles on brokers that were down when
/// restoring ran. The journal keeps them, but nothing else says so, and
/// they apply again the moment the broker is back: a forgotten throttle.
pub fn unreachable_warning(t: &ThrottleOutcome) -> Option<String> {
    let ids = &t.unreachable_brokers;
    (!ids.is_empty()).then(|| {
        let list = ids
            .iter()
            .map(|b| b.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let (s, is) = if ids.len() == 1 { ("", "it is") } else { ("s", "they are") };
        format!(
            "throttles on broker{s} {list} not restored: {is} down; the journal keeps them, so run `kafka-migrate throttle clear` with this run's --plan or --journal once {is} back"
        )
    })
}

/// What restoring the throttles did, on stderr.
pub fn throttle_lines(printer: &Printer, t: &ThrottleOutcome) {
    if let Some(w) = unreachable_warning(t) {
        printer.warn(&w);
    }
    if t.restored && !t.ops.is_empty() {
        printer.note(&format!(
            "throttles restored to what they were before ({} config changes)",
            t.ops.len()
        ));
    }
    for l in &t.left_alone {
        printer.warn(&progress::left_alone_line(l));
    }
}

/// The replicas not yet in their named log dir, as `; broker 2 to /d1
/// (moving)`.
fn dirs_pending(dirs: &[DirView]) -> String {
    dirs.iter()
        .filter_map(|d| {
            let how = match &d.state {
                DirState::InPlace => return None,
                DirState::Moving { .. } => "moving",
                DirState::Elsewhere { current, .. } => {
                    return Some(format!(
                        "; broker {} in {current}, not being moved to {}",
                        d.broker, d.log_dir
                    ));
                }
                DirState::Absent => "replica not there yet",
            };
            Some(format!("; broker {} to {} ({how})", d.broker, d.log_dir))
        })
        .collect()
}

fn render(printer: &Printer, r: &VerifyReport, verbose: bool) {
    let rows: Vec<Vec<String>> = r
        .partitions
        .iter()
        .filter(|p| verbose || !matches!(p.status, PartitionStatus::Done))
        .map(|p| {
            let (state, detail) = match &p.status {
                PartitionStatus::Done => ("done".to_string(), String::new()),
                PartitionStatus::InProgress {
                    bytes_copied,
                    bytes_total,
                } => (
                    "in progress".into(),
                    format!(
                        "{} of {} copied{}",
                        human_bytes(*bytes_copied),
                        human_bytes(*bytes_total),
                        dirs_pending(&p.log_dirs)
                    ),
                ),
                PartitionStatus::Diverged {
                    replicas,
                    moving_to,
                } => (
                    "diverged".into(),
                    match moving_to {
                        Some(t) => format!("at {replicas:?}, moving to {t:?}"),
                        None if *replicas == p.target => {
                            format!("at {replicas:?}{}", dirs_pending(&p.log_dirs))
                        }
                        None => format!("at {replicas:?}, not moving"),
                    },
                ),
                PartitionStatus::NotSubmitted { replicas } => (
                    "not submitted".into(),
                    format!("at {replicas:?}; the run stopped before its batch"),
                ),
                PartitionStatus::Failed { reason } => ("failed".into(), reason.clone()),
            };
            vec![
                format!("{}-{}", p.topic, p.partition),
                format!("{:?}", p.target),
                state,
                detail,
            ]
        })
        .collect();
    if !rows.is_empty() {
        printer.out(&table(&["partition", "target", "state", ""], 4, rows));
    }
    let waiting = match r.not_submitted {
        0 => String::new(),
        n => format!(", {n} not submitted"),
    };
    printer.out(&format!(
        "{} partitions: {} done, {} in progress{waiting}, {} diverged, {} failed",
        r.partitions.len(),
        r.done,
        r.in_progress,
        r.diverged,
        r.failed
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    // regression: throttles on a broker that was down when `cancel`
    // restored them were kept in the journal without a word, exit 0.
    #[test]
    fn throttles_on_a_down_broker_are_named_with_the_way_out() {
        let mut t = ThrottleOutcome {
            restored: true,
            ..ThrottleOutcome::default()
        };
        assert_eq!(unreachable_warning(&t), None);
        t.restored = false;
        t.unreachable_brokers = vec![4];
        assert_eq!(
            unreachable_warning(&t).as_deref(),
            Some(
                "throttles on broker 4 not restored: it is down; the journal keeps them, so run `kafka-migrate throttle clear` with this run's --plan or --journal once it is back"
            )
        );
        t.unreachable_brokers = vec![2, 4];
        let w = unreachable_warning(&t).unwrap();
        assert!(
            w.starts_with("throttles on brokers 2, 4 not restored: they are down;"),
            "{w}"
        );
    }
}
