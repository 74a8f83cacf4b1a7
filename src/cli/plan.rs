//! `kafka-migrate plan --state FILE`: a balanced reassignment, offline.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;

use super::args::ClusterArgs;
use super::exit::{CodedError, Exit, invalid};
use super::markdown;
use super::printer::{JSON_VERSION, Printer, ReportFormat};
use super::summary;
use super::{StreamedOutput, check_outputs, write_streamed_outputs};
use crate::analysis;
use crate::fsutil::{Writer, is_stdout, read_input};
use crate::model::health::name_some;
use crate::model::log_dirs::LogDirLayout;
use crate::model::reassignment::{self, parse_topics};
use crate::model::{BrokerId, Cluster, snapshot};
use crate::planner::select::TopicFilter;
use crate::planner::{self, Budget, Objective, PlanRequest, Targets};
use crate::units::{parse_rate, parse_size};

#[derive(Debug, Args)]
#[command(mut_arg("command_config", |a| a.env(clap::builder::Resettable::Reset)))]
#[command(mut_arg("bootstrap_server", |a| {
    a.env(clap::builder::Resettable::Reset)
        .help("Plan the live cluster instead (as `describe -o FILE` then `--state FILE`): HOST:PORT[,HOST:PORT...]")
}))]
pub struct PlanArgs {
    /// Cluster snapshot (version 1 JSON), or `-` for standard input.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "bootstrap_server",
        required_unless_present_any = ["bootstrap_server", "command_config"]
    )]
    pub state: Option<String>,
    // Or the live cluster, snapshotted as `describe` does it: the same plan
    // as `describe -o FILE` then `--state FILE`. Only from the flag: a
    // KAFKA_MIGRATE_BOOTSTRAP left in the environment must not turn an
    // offline plan into a live one, nor clash with --state.
    #[command(flatten)]
    pub live: ClusterArgs,

    /// Target broker set: replicas end up only on these brokers.
    #[arg(
        long,
        visible_alias = "broker-list",
        value_name = "LIST",
        value_delimiter = ',',
        group = "target"
    )]
    pub brokers: Option<Vec<BrokerId>>,
    /// Drain these brokers for decommission: they end up empty.
    #[arg(long, value_name = "LIST", value_delimiter = ',', group = "target")]
    pub remove_brokers: Option<Vec<BrokerId>>,
    /// One-to-one substitution: every replica of OLD goes to NEW.
    #[arg(long, value_name = "OLD=NEW[,OLD=NEW]", value_delimiter = ',', value_parser = parse_pair, group = "target")]
    pub replace: Option<Vec<(BrokerId, BrokerId)>>,

    /// Topics that may move: a comma-separated list of names, or a regex
    /// (matched against the whole name) when it has regex characters.
    #[arg(long, value_name = "REGEX|LIST", conflicts_with = "topics_file")]
    pub topics: Option<String>,
    /// Topics that may move, in Kafka's topics-to-move JSON.
    #[arg(long, visible_alias = "topics-to-move-json-file", value_name = "FILE")]
    pub topics_file: Option<String>,
    /// Topics that must not move (list or regex, as --topics).
    #[arg(long, value_name = "REGEX|LIST")]
    pub exclude_topics: Option<String>,
    /// Change the replication factor of the selected topics.
    #[arg(long, value_name = "N")]
    pub replication_factor: Option<usize>,

    /// Balance replica counts (count) or bytes (size).
    #[arg(long, value_enum, default_value_t = Objective::Count)]
    pub objective: Objective,
    /// Stop after this many replica moves (incremental rebalancing).
    #[arg(long, value_name = "N")]
    pub max_moves: Option<u64>,
    /// Stop before moving more than this many bytes, e.g. 500GiB.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_bytes: Option<u64>,
    /// Keep the current replica order (no preferred-leader balancing).
    #[arg(long)]
    pub no_leader_balance: bool,
    /// Plan without rack constraints.
    #[arg(long, visible_alias = "disable-rack-aware")]
    pub ignore_racks: bool,
    /// Seed for tie-breaking: the same inputs and seed give the same plan.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Partitions with a reassignment in flight: refuse to plan (error),
    /// or plan from their target replicas as though the moves had
    /// finished (target).
    #[arg(long, value_enum, default_value_t = InFlightArg::Error)]
    pub in_flight: InFlightArg,
    /// Exit 0 even when some partitions have no in-sync replica on a live broker
    /// (they stay out of the plan either way: no move can heal them).
    #[arg(long)]
    pub allow_offline: bool,

    /// Write the plan (only the partitions that change) to this file, or
    /// `-` for standard output (the summary then goes to stderr).
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Write the current assignment of the changed partitions here.
    #[arg(long, value_name = "FILE")]
    pub rollback: Option<PathBuf>,
    /// Refuse to replace an existing output file (by default it is
    /// replaced; an input of the run never is).
    #[arg(long)]
    pub no_clobber: bool,
    /// Replication throttle for the duration estimate, e.g. 50MB/s.
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub throttle: Option<u64>,
    /// Summary format: text, json, or markdown (a table for a
    /// pull-request comment).
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub output: ReportFormat,
    #[command(flatten)]
    pub disks: super::disks::DiskArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InFlightArg {
    Error,
    Target,
}

fn parse_pair(s: &str) -> Result<(BrokerId, BrokerId), String> {
    let (a, b) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?} is not OLD=NEW"))?;
    let id = |x: &str| {
        x.trim()
            .parse::<BrokerId>()
            .map_err(|_| format!("{x:?} is not a broker id"))
    };
    Ok((id(a)?, id(b)?))
}

/// Reads and validates a snapshot with its log dirs, naming the file in
/// every problem.
pub fn load_state(path: &str) -> Result<(Cluster, LogDirLayout)> {
    let bytes = read_input(path)?;
    let name = if path == "-" { "<stdin>" } else { path };
    snapshot::parse_owned_with_log_dirs(name, bytes).map_err(invalid)
}

/// The live cluster's snapshot, as `describe -o FILE` writes it and
/// `--state FILE` reads it back: the same bytes through the same parser,
/// so the two ways to plan cannot differ.
fn snapshot_live(
    live: &ClusterArgs,
    printer: &Printer,
) -> Result<(String, (Cluster, LogDirLayout))> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (bootstrap, _) = live.resolve(printer)?;
    let survey = rt.block_on(async {
        let mut admin = live.connect(printer).await?;
        admin.survey().await.map_err(super::args::unreachable)
    })?;
    let name = format!("the cluster at {bootstrap}");
    let json = snapshot::to_json_with_log_dirs(&survey.cluster, &survey.log_dirs);
    let cluster =
        snapshot::parse_with_log_dirs(&name, json.as_bytes()).map_err(super::exit::failure)?;
    Ok((name, cluster))
}

/// A plan whose run is still going (its journal beside it says running)
/// is what `verify`, `cancel` and a resumed `apply` need: writing a new
/// plan over it would leave that run with no plan to finish or cancel by.
fn refuse_running_plan(out: &Path) -> Result<()> {
    let journal = super::journal::beside(out, "journal");
    let mut store = super::journal::FileStore::new(&journal);
    if let Ok(Some(j)) = crate::exec::JournalStore::load(&mut store)
        && j.state == crate::exec::journal::JournalState::Running
    {
        return Err(super::exit::invalid(anyhow::anyhow!(
            "--out {} is the plan of a run still going (its journal {} says running): write to another file, or let that run finish or cancel it first",
            out.display(),
            journal.display()
        )));
    }
    Ok(())
}

pub fn exec(args: PlanArgs) -> Result<Exit> {
    let outputs: Vec<(&str, &Path)> = [("--out", &args.out), ("--rollback", &args.rollback)]
        .into_iter()
        .filter_map(|(flag, p)| Some((flag, p.as_deref()?)))
        .collect();
    let inputs: Vec<(&str, &str)> = [
        ("--state", args.state.as_ref()),
        ("--topics-file", args.topics_file.as_ref()),
    ]
    .into_iter()
    .filter_map(|(flag, p)| Some((flag, p?.as_str())))
    .chain(args.live.input())
    .collect();
    check_outputs(&inputs, &outputs, args.no_clobber)?;
    if let Some(out) = &args.out {
        refuse_running_plan(out)?;
    }
    let printer = Printer::for_outputs(args.output, &outputs)?;
    let (source, (current, layout)) = match &args.state {
        Some(path) => (
            if path == "-" {
                "<stdin>".to_string()
            } else {
                path.clone()
            },
            load_state(path)?,
        ),
        None => snapshot_live(&args.live, &printer)?,
    };
    let (cluster, settled) = settle_in_flight(current, &source, args.in_flight)?;
    if args.objective == Objective::Size
        && cluster.partition_count() > 0
        && cluster.partitions().all(|(_, p)| p.size_bytes == 0)
    {
        return Err(invalid(anyhow::anyhow!(
            "--objective size needs partition sizes, and no partition in {source} has a size_bytes above 0 (describe records them; or plan with --objective count)",
        )));
    }
    let topics = select_topics(&cluster, &args)?;
    let targets = match (&args.brokers, &args.remove_brokers, &args.replace) {
        (Some(b), _, _) => Targets::Brokers(b.clone()),
        (_, Some(r), _) => Targets::Remove(r.clone()),
        (_, _, Some(p)) => Targets::Replace(p.clone()),
        _ => Targets::Alive,
    };
    let req = PlanRequest {
        targets,
        topics,
        objective: args.objective,
        budget: Budget {
            max_moves: args.max_moves,
            max_bytes: args.max_bytes,
        },
        leader_balance: !args.no_leader_balance,
        ignore_racks: args.ignore_racks,
        replication_factor: args.replication_factor,
        seed: args.seed,
    };
    let outcome = planner::plan(&cluster, &req).map_err(invalid)?;
    let disks = args
        .disks
        .balance_disks
        .then(|| {
            let topics = req.topics.as_ref();
            // --max-bytes counts moves between dirs too: they get what the
            // copies between brokers leave.
            let left = args
                .max_bytes
                .map(|m| m.saturating_sub(outcome.copied_bytes(&cluster)));
            super::disks::balance(
                &cluster,
                &outcome.assignment,
                &layout,
                topics,
                &args.disks,
                left,
                &source,
            )
        })
        .transpose()?;
    // A disk plan names dirs and is small enough to build; a plain plan is
    // streamed from the assignment into its file, never held as moves or
    // as JSON (a million-partition plan was both, twice with its rollback).
    let disk_plan = disks
        .as_ref()
        .map(|d| d.reassignment(&cluster, &outcome.assignment));
    let plan_len = match &disk_plan {
        Some(p) => p.len(),
        None => outcome.entries(&cluster, false).count(),
    };
    // The summary is measured on the other core while the files are
    // written: both only read the cluster and the outcome.
    let (wrote, sum) = std::thread::scope(|scope| {
        let summary = scope.spawn(|| analysis::summarize_plan(&cluster, &outcome, args.throttle));
        // Kafka rejects an empty plan, so none is written. A file already
        // at an output path is the user's: it stays as it is, and the run
        // says so.
        let wrote = if plan_len == 0 {
            Ok(Vec::new())
        } else {
            let files = outputs
                .iter()
                .map(|&(flag, path)| {
                    let rollback = flag != "--out";
                    let what = if rollback { "rollback" } else { "plan" };
                    let (len, write): (usize, Box<Writer>) = match (&disks, &disk_plan) {
                        (Some(d), Some(plan)) => {
                            let back;
                            let doc = if rollback {
                                back = d.rollback(&cluster, &outcome.assignment, &layout);
                                &back
                            } else {
                                plan
                            };
                            let json = reassignment::to_json(doc);
                            (doc.len(), Box::new(move |w| w.write_all(json.as_bytes())))
                        }
                        _ => {
                            let (outcome, cluster) = (&outcome, &cluster);
                            (
                                plan_len,
                                Box::new(move |w| {
                                    reassignment::write_json(w, outcome.entries(cluster, rollback))
                                }),
                            )
                        }
                    };
                    StreamedOutput {
                        what: format!("{what} ({len} partitions)"),
                        path,
                        write,
                    }
                })
                .collect();
            write_streamed_outputs(&printer, files, args.no_clobber)
        };
        let sum = summary
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (wrote, sum)
    });
    let wrote = wrote?;
    let use_racks = outcome.racks_used;
    let mut notes = Vec::new();
    if settled > 0 {
        notes.push(format!(
            "planned {settled} partitions in motion from their target replicas (--in-flight target)"
        ));
    }
    if !outcome.dead_brokers.is_empty() {
        notes.push(format!(
            "healing: {} replicas moved off dead brokers {}",
            outcome.healed_replicas,
            join(&outcome.dead_brokers)
        ));
    }
    if outcome.rf_changed_partitions > 0 {
        notes.push(format!(
            "replication factor changed on {} partitions",
            outcome.rf_changed_partitions
        ));
    }
    let mut warnings = Vec::new();
    if let Some(d) = &disks {
        notes.push(d.note());
        warnings.extend(d.warnings());
    }
    if !outcome.offline_partitions.is_empty() {
        let msg = format!(
            "{} partitions have no in-sync replica on a live broker: no move can heal them, so they stay out of the plan (see `unrecoverable` in the summary)",
            outcome.offline_partitions.len(),
        );
        if args.allow_offline {
            notes.push(msg);
        } else {
            warnings.push(format!("{msg}; exit 1, --allow-offline accepts them"));
        }
    }
    if sum.totals.replicas_outside_targets > 0 {
        warnings.push(format!(
            "{} replicas stay on brokers outside the target set (budget, topic filter or no rack-safe place)",
            sum.totals.replicas_outside_targets
        ));
    }
    if plan_len == 0 && warnings.is_empty() {
        notes.push("nothing to do: the cluster is already balanced for these targets".into());
    }
    let kept: Vec<String> = if plan_len == 0 {
        outputs
            .iter()
            .filter(|(_, p)| !is_stdout(p) && p.exists())
            .map(|(flag, p)| format!("{flag} {} exists and was left as it is", p.display()))
            .collect()
    } else {
        Vec::new()
    };
    let file_of = |flag: &str| {
        (plan_len > 0)
            .then(|| outputs.iter().find(|(f, _)| *f == flag))
            .flatten()
            .map(|(_, p)| p.display().to_string())
    };
    match args.output {
        ReportFormat::Markdown => {
            printer.data(&markdown::render(&markdown::Report {
                title: "kafka-migrate plan".into(),
                verdict: match (plan_len, file_of("--out")) {
                    (0, _) => {
                        "Nothing to do: the cluster is already balanced for these targets.".into()
                    }
                    (n, Some(f)) => format!("Plan `{f}`: {n} partitions change."),
                    (n, None) => format!("{n} partitions would change (dry run: no plan written)."),
                },
                summary: &sum,
                racks_known: use_racks,
                throttle: args.throttle,
                extra_rows: Vec::new(),
                sections: disks.iter().map(|d| d.section()).collect(),
                notes: &notes,
                warnings: &warnings,
            }));
            for w in &warnings {
                printer.warn(w);
            }
        }
        ReportFormat::Json => printer.json(&serde_json::json!({
            "version": JSON_VERSION,
            "command": "plan",
            "objective": format!("{:?}", args.objective).to_lowercase(),
            "seed": args.seed,
            "plan_file": file_of("--out"),
            "rollback_file": file_of("--rollback"),
            "partitions_in_plan": plan_len,
            "notes": notes,
            "warnings": warnings,
            "summary": super::disks::with_summary(&sum, disks.as_ref()),
        })),
        ReportFormat::Text => {
            printer.out(&summary::render(
                &sum,
                args.objective == Objective::Size,
                args.throttle,
            ));
            if let Some(d) = &disks {
                printer.out(&d.render());
            }
            for n in &notes {
                printer.note(n);
            }
            for w in &warnings {
                printer.warn(w);
            }
        }
    }
    if plan_len == 0 {
        printer.note("no plan written: nothing changes");
    } else if outputs.iter().all(|(flag, _)| *flag != "--out") {
        printer.note("dry run: pass -o FILE to write the plan (-o - for standard output)");
    }
    for line in wrote.iter().chain(&kept) {
        printer.note(line);
    }
    // The process ends with this command: freeing a 2M-partition cluster
    // and its assignment list by list (millions of small allocations) only
    // delays the exit, the files being committed and the summary printed.
    std::mem::forget(cluster);
    std::mem::forget(outcome);
    Ok(if warnings.is_empty() {
        Exit::Ok
    } else {
        Exit::Incomplete
    })
}

/// Partitions in motion (a reassignment in flight): an error naming them,
/// or with `--in-flight target` the cluster as though their moves had
/// finished, and how many there were.
fn settle_in_flight(
    cluster: Cluster,
    source: &str,
    in_flight: InFlightArg,
) -> Result<(Cluster, usize)> {
    let moving = cluster.in_flight_partitions();
    if moving.is_empty() {
        return Ok((cluster, 0));
    }
    match in_flight {
        InFlightArg::Target => Ok((cluster.settled(), moving.len())),
        InFlightArg::Error => Err(CodedError {
            exit: Exit::Invalid,
            error: anyhow::anyhow!(
                "{source}: {} partitions are being reassigned: {}",
                moving.len(),
                name_some(&moving, summary::NAMED)
            ),
            hint: Some(
                "let the moves finish (kafka-reassign-partitions.sh --verify) or cancel them (--cancel), then describe again; or pass --in-flight target to plan from their target replicas, as though the moves had finished".into(),
            ),
        }
        .into()),
    }
}

fn join(ids: &[BrokerId]) -> String {
    ids.iter()
        .map(|b| b.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Resolves `--topics`, `--topics-file` and `--exclude-topics` into the set
/// of topics that may move (`None`: all), reading the topics file.
fn select_topics(cluster: &Cluster, args: &PlanArgs) -> Result<Option<BTreeSet<String>>> {
    let topics_file = match &args.topics_file {
        Some(path) => {
            let bytes = read_input(path)?;
            Some((path.as_str(), parse_topics(path, &bytes).map_err(invalid)?))
        }
        None => None,
    };
    let filter = TopicFilter {
        topics: args.topics.as_deref(),
        topics_file,
        exclude: args.exclude_topics.as_deref(),
    };
    planner::select::select_topics(cluster, &filter).map_err(invalid)
}
