//! `kafka-migrate apply PLAN`: checks the plan against the live cluster,
//! writes the rollback file, then runs the executor (batches under
//! throttles, progress, election, throttles restored) with a journal
//! beside the plan, so that a re-run resumes. `--dry-run` shows the
//! throttles, batches and time it would take, and changes nothing.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Result;
use clap::Args;
use serde_json::json;

use super::args::{ClusterArgs, PlanFileArg, input_name};
use super::cluster::{admin_error, connect, exec_error, note_journal, report_json, runtime};
use super::exit::{CodedError, Exit, invalid};
use super::journal::{FileStore, InForce, beside};
use super::markdown;
use super::printer::{JSON_VERSION, Printer, ReportFormat};
use super::progress::{self, Renderer, Style};
use crate::exec::apply::{ApplyReport, ApplySettings, Outcome, jobs_for, throttles_for};
use crate::exec::batch::{DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_PER_BROKER, Limits, Mode};
use crate::exec::clock::WallClock;
use crate::exec::disks::{self, DirState};
use crate::exec::estimate;
use crate::exec::prepare::{PrepareSettings, Prepared, prepare_with_log_dirs};
use crate::exec::throttle::Rates;
use crate::fsutil::read_input;
use crate::model::health::name_some;
use crate::model::live::{ClusterAdmin, LogDirs};
use crate::model::reassignment::{self, Reassignment};
use crate::units::{human_bytes, human_duration, parse_rate};

/// How many partitions a line names before "and N more".
const NAMED: usize = 10;

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub plan: PlanFileArg,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    #[command(flatten)]
    pub run: RunArgs,
    /// The journal (default: beside the plan, NAME.journal.json).
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// The assignment the plan was made against, written by `plan
    /// --rollback` (default: NAME.rollback.json beside the plan); written
    /// there before the first request when it does not exist.
    #[arg(long, value_name = "FILE")]
    pub rollback_file: Option<PathBuf>,
    /// Show what would be done (throttles per topic and broker, batches,
    /// time estimate) and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Report format: text, json (JSON Lines events), or markdown (with
    /// --dry-run: a table for a pull-request comment).
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub output: ReportFormat,
}

/// The flags of a run, shared by `apply` and `rollback`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Replication throttle, e.g. 50MB/s, 50MiB/s or bytes per second;
    /// without it a re-run keeps the rate its journal records.
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub throttle: Option<u64>,
    /// Throttle for moves between log dirs of one broker.
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub replica_alter_log_dirs_throttle: Option<u64>,
    /// Most partition moves in flight at once [default: 1000].
    #[arg(long, value_name = "N", value_parser = positive, conflicts_with = "all_at_once")]
    pub max_in_flight: Option<usize>,
    /// Most moves copying into, or out of, one broker at once
    /// [default: 6 each way].
    #[arg(long, value_name = "K", value_parser = positive, conflicts_with = "all_at_once")]
    pub max_per_broker: Option<usize>,
    /// Submit every move in one request, as kafka-reassign-partitions.sh
    /// does.
    #[arg(long)]
    pub all_at_once: bool,
    /// Skip the preferred-leader election at the end.
    #[arg(long)]
    pub no_elect: bool,
    /// Submit the first batch and return; `verify` or `apply` again
    /// continue.
    #[arg(long)]
    pub no_wait: bool,
    /// Run a stale plan (live replicas differ from the rollback file).
    #[arg(long)]
    pub force: bool,
    /// Run beside moves in flight that this plan did not start.
    #[arg(long)]
    pub additional: bool,
    /// Accept plans that change a partition's replication factor.
    #[arg(long)]
    pub allow_rf_change: bool,
    /// Treat rack violations as errors, not warnings.
    #[arg(long)]
    pub strict: bool,
    /// Plain progress lines even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
    /// More detail: each move and config change, a bar per destination
    /// broker.
    #[arg(short, long)]
    pub verbose: bool,
}

fn positive(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{s:?} is not a number above zero")),
    }
}

impl RunArgs {
    pub fn settings(&self) -> ApplySettings {
        ApplySettings {
            rates: Rates {
                replication: self.throttle,
                log_dirs: self.replica_alter_log_dirs_throttle,
            },
            mode: self.mode(),
            no_wait: self.no_wait,
            no_elect: self.no_elect,
            ..ApplySettings::default()
        }
    }

    pub fn mode(&self) -> Mode {
        if self.all_at_once {
            Mode::AllAtOnce
        } else {
            Mode::Bounded(Limits {
                max_in_flight: self.max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT),
                max_per_broker: self.max_per_broker.unwrap_or(DEFAULT_MAX_PER_BROKER),
            })
        }
    }

    pub fn prepare_settings(&self) -> PrepareSettings {
        PrepareSettings {
            allow_rf_change: self.allow_rf_change,
            force: self.force,
            additional: self.additional,
            strict: self.strict,
        }
    }
}

/// Reads a plan (Kafka's reassignment JSON), naming the file in every
/// problem; a bad one is exit 2.
pub fn load_plan(path: &str) -> Result<Reassignment> {
    reassignment::parse(input_name(path), &read_input(path)?).map_err(invalid)
}

/// A file beside the plan, or the flag's; a plan on standard input has
/// no "beside".
pub fn beside_plan(plan: &str, given: Option<&Path>, suffix: &str, flag: &str) -> Result<PathBuf> {
    match given {
        Some(p) => Ok(p.to_path_buf()),
        None if plan == "-" => Err(invalid(anyhow::anyhow!(
            "a plan on standard input has no file to keep its {suffix} beside: pass {flag} FILE"
        ))),
        None => Ok(beside(Path::new(plan), suffix)),
    }
}

/// The rollback file given or beside the plan, if it exists: the
/// assignment the plan was made against.
pub fn read_rollback(path: &Path) -> Result<Option<Reassignment>> {
    if !path.exists() {
        return Ok(None);
    }
    let name = path.display().to_string();
    let bytes = read_input(&name)?;
    reassignment::parse(&name, &bytes)
        .map(Some)
        .map_err(invalid)
}

/// Writes the rollback file before the first request: at `path` when
/// nothing is there; when the file there (an input: never replaced)
/// already holds this content, nothing; else beside it as
/// `NAME.live.json`. Returns the line to print.
pub fn write_rollback(
    printer: &Printer,
    path: &Path,
    existing: Option<&Reassignment>,
    prepared: &Prepared,
    inputs: &[(&str, &str)],
) -> Result<String> {
    let contents = reassignment::to_json(&prepared.rollback);
    let target = match existing {
        None => path.to_path_buf(),
        Some(e) if reassignment::to_json(e) == contents => {
            return Ok(format!(
                "rollback: {} holds the assignment before this plan ({} partitions)",
                path.display(),
                prepared.rollback.len()
            ));
        }
        Some(_) => beside(path, "live"),
    };
    super::check_outputs(inputs, &[("--rollback-file", &target)], false)?;
    let wrote = super::write_outputs(
        printer,
        vec![super::Output {
            what: format!(
                "rollback (the assignment before this plan, {} partitions)",
                prepared.rollback.len()
            ),
            path: &target,
            contents,
        }],
        false,
    )?;
    Ok(wrote.join("\n"))
}

/// Stops new submissions on Ctrl-C (the driver polls the flag); moves in
/// flight go on.
pub fn stop_on_ctrl_c() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            flag.store(true, Ordering::SeqCst);
        }
    });
    stop
}

pub fn exec(args: ApplyArgs) -> Result<Exit> {
    if args.output == ReportFormat::Markdown && !args.dry_run {
        return Err(invalid(anyhow::anyhow!(
            "--output markdown is a report of what would be done: it needs --dry-run"
        )));
    }
    let plan_path = args.plan.path().to_string();
    let journal = beside_plan(&plan_path, args.journal.as_deref(), "journal", "--journal")?;
    let rollback = beside_plan(
        &plan_path,
        args.rollback_file.as_deref(),
        "rollback",
        "--rollback-file",
    )?;
    let rollback_name = rollback.to_string_lossy();
    let inputs: Vec<(&str, &str)> = [
        ("PLAN", plan_path.as_str()),
        ("--rollback-file", &rollback_name),
    ]
    .into_iter()
    .chain(args.cluster.input())
    .collect();
    super::check_outputs(&inputs, &[("--journal", &journal)], false)?;
    // The rollback file is written when missing: it may not be the plan.
    super::check_outputs(
        &[("PLAN", plan_path.as_str())],
        &[("--rollback-file", &rollback)],
        false,
    )?;
    let plan = load_plan(&plan_path)?;
    let existing = read_rollback(&rollback)?;
    runtime()?.block_on(async {
        let mut admin = connect(&args.cluster).await?;
        run(
            &mut admin,
            &args,
            &plan,
            &plan_path,
            &journal,
            &rollback,
            existing.as_ref(),
        )
        .await
    })
}

#[allow(clippy::too_many_arguments)]
async fn run<A: ClusterAdmin>(
    admin: &mut A,
    args: &ApplyArgs,
    plan: &Reassignment,
    plan_path: &str,
    journal: &Path,
    rollback_path: &Path,
    existing: Option<&Reassignment>,
) -> Result<Exit> {
    let printer = Printer::new(args.output.base());
    let cluster = admin
        .cluster()
        .await
        .map_err(admin_error("reading the cluster"))?;
    // The dirs of the brokers the plan names a log dir on: a dir a broker
    // lacks is refused here, before anything is sent.
    let log_dirs = disks::read_plan_log_dirs(admin, &cluster, plan.moves())
        .await
        .map_err(exec_error)?;
    let prepared = prepare_with_log_dirs(
        &cluster,
        &log_dirs,
        plan,
        existing,
        &args.run.prepare_settings(),
    )
    .map_err(|r| exec_error(r.into()))?;
    let warnings: Vec<String> = prepared.warnings.iter().map(|p| p.to_string()).collect();
    if args.dry_run {
        return dry_run(
            admin, args, &cluster, &log_dirs, &prepared, &warnings, &printer,
        )
        .await;
    }
    let style = Style::choose(args.output.base(), args.run.no_progress);
    let mut renderer = Renderer::new(&printer, style, args.run.verbose);
    for w in &warnings {
        renderer.warn(w);
    }
    let inputs = [("PLAN", plan_path)];
    let line = write_rollback(&printer, rollback_path, existing, &prepared, &inputs)?;
    renderer.note(&line);
    let mut store = FileStore::new(journal);
    let stop = stop_on_ctrl_c();
    let mut clock = WallClock::new();
    let result = crate::exec::apply::apply(
        admin,
        &mut clock,
        &prepared,
        &args.run.settings(),
        &mut store,
        &mut |e| renderer.event(e),
        &stop,
    )
    .await;
    renderer.finish();
    note_journal(&printer, &store);
    let rerun = run_ref(plan_path, args.journal.as_deref());
    let in_force = store.in_force();
    let report = result.map_err(|e| left_in_force(exec_error(e), in_force, "apply", &rerun))?;
    Ok(finish(&printer, &renderer, "apply", &rerun, &report))
}

/// The run as the commands it suggests name it: the plan, and the journal
/// when it is not the one beside the plan (else `verify`, `cancel` and a
/// re-run would look for another).
pub fn run_ref(plan_path: &str, journal: Option<&Path>) -> String {
    let plan = shell_word(plan_path);
    match journal {
        Some(j) => format!("{plan} --journal {}", shell_word(&j.to_string_lossy())),
        None => plan,
    }
}

/// A run that failed after its journal was written may have set
/// throttles or submitted moves, which stay in force: the hint says which
/// (as the journal records them) and how to go on or undo them.
pub fn left_in_force(
    e: anyhow::Error,
    in_force: Option<InForce>,
    command: &str,
    rerun: &str,
) -> anyhow::Error {
    let Some(f) = in_force.filter(|f| f.throttles || f.moves) else {
        return e;
    };
    let (what, undo) = match (f.throttles, f.moves) {
        (true, true) => (
            "throttles this run set and moves it submitted stay",
            "cancels the moves and restores the throttles",
        ),
        (true, false) => ("throttles this run set stay", "restores the throttles"),
        _ => ("moves submitted stay", "cancels the moves"),
    };
    let way_out = format!(
        "{what} in force (the journal records them): `kafka-migrate {command} {rerun}` again resumes, `kafka-migrate cancel {rerun}` {undo}"
    );
    match e.downcast::<CodedError>() {
        Ok(mut c) => {
            c.hint = Some(match c.hint {
                Some(h) => format!("{h}; {way_out}"),
                None => way_out,
            });
            c.into()
        }
        Err(e) => e,
    }
}

/// The end of a run: the report (a last JSON record, or lines), what to
/// do next, and the exit code.
pub fn finish(
    printer: &Printer,
    renderer: &Renderer,
    command: &str,
    rerun: &str,
    report: &ApplyReport,
) -> Exit {
    if renderer.style() == Style::Json {
        let mut v = report_json(command, report);
        if let Some(o) = v.as_object_mut() {
            o.insert("event".into(), "report".into());
        }
        printer.json_line(&v);
    }
    // Those refused on submission were warned about then; a partition
    // gone before the first request was not.
    for r in report
        .refused
        .iter()
        .filter(|r| !renderer.refusal_shown(&r.tp()))
    {
        printer.warn(&format!("{}-{} refused: {}", r.topic, r.partition, r.error));
    }
    if !report.diverged.is_empty() {
        printer.warn(&format!(
            "{} partitions were moved elsewhere by someone else (not resubmitted): {}",
            report.diverged.len(),
            name_some(&report.diverged, NAMED)
        ));
    }
    for f in &report.election_failed {
        printer.warn(&format!(
            "{}-{}: preferred leader not elected: {}",
            f.topic, f.partition, f.error
        ));
    }
    if let Some(w) = super::verify::unreachable_warning(&report.throttles) {
        printer.warn(&w);
    }
    for l in &report.throttles.left_alone {
        printer.warn(&progress::left_alone_line(l));
    }
    match report.outcome {
        Outcome::Completed => Exit::Ok,
        Outcome::Submitted => {
            printer.note(&format!(
                "moves are in flight: `kafka-migrate verify {rerun}` shows where they stand, `kafka-migrate {command} {rerun}` again continues"
            ));
            Exit::Ok
        }
        Outcome::Stopped => {
            printer.note(&format!(
                "stopped: {} moves are still in flight and throttles stay in force; resume with `kafka-migrate {command} {rerun}`, or cancel with `kafka-migrate cancel {rerun}`",
                report.in_flight.len()
            ));
            Exit::Incomplete
        }
        Outcome::Incomplete => Exit::Failure,
    }
}

/// A path as one shell word, for the commands the run suggests.
pub fn shell_word(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:=@,".contains(c))
        && !s.is_empty()
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

async fn dry_run<A: ClusterAdmin>(
    admin: &mut A,
    args: &ApplyArgs,
    cluster: &crate::model::Cluster,
    log_dirs: &LogDirs,
    prepared: &Prepared,
    warnings: &[String],
    printer: &Printer,
) -> Result<Exit> {
    let in_flight = admin
        .list_reassignments()
        .await
        .map_err(admin_error("listing moves in flight"))?;
    let moves = prepared.plan.moves();
    let throttles = throttles_for(cluster, moves, &in_flight).map_err(|e| exec_error(e.into()))?;
    let jobs = jobs_for(cluster, moves);
    let rate = args.run.throttle;
    // Without a rate the schedule's order still holds; its times do not.
    let sim = estimate::simulate(jobs.clone(), args.run.mode(), rate.unwrap_or(1));
    let settled = cluster.settled();
    let (sum, racks) = super::check::summary_of(&settled, &prepared.plan, rate);
    let rate_str = |r: Option<u64>| r.map(|r| r.to_string());
    let mut config_lines = Vec::new();
    for (topic, t) in &throttles.topics {
        config_lines.push(format!(
            "topic {topic}: leader.replication.throttled.replicas={}",
            t.leader_value()
        ));
        if !t.follower.is_empty() {
            config_lines.push(format!(
                "topic {topic}: follower.replication.throttled.replicas={}",
                t.follower_value()
            ));
        }
    }
    match rate {
        Some(r) => {
            for b in &throttles.brokers {
                config_lines.push(format!(
                    "broker {b}: leader.replication.throttled.rate={r}, follower.replication.throttled.rate={r}"
                ));
            }
        }
        None if !throttles.brokers.is_empty() => config_lines.push(
            "no --throttle: the replica lists are set, no broker rate (replication runs unthrottled)".into(),
        ),
        None => {}
    }
    if let Some(r) = args.run.replica_alter_log_dirs_throttle {
        for b in &throttles.log_dir_brokers {
            config_lines.push(format!(
                "broker {b}: replica.alter.log.dirs.io.max.bytes.per.second={r}"
            ));
        }
    }
    // Replicas to put in a named log dir, and what each costs.
    let dir_moves: Vec<(crate::model::live::DirMove, DirState)> = disks::dir_moves(moves)
        .into_iter()
        .map(|d| {
            let state = DirState::of(&d, log_dirs);
            (d, state)
        })
        .filter(|(_, s)| *s != DirState::InPlace)
        .collect();
    let dir_lines: Vec<String> = dir_moves
        .iter()
        .map(|(d, state)| {
            let how = match state {
                DirState::Elsewhere { current, size } => {
                    format!("from {current}, {} between its disks", human_bytes(*size))
                }
                DirState::Moving {
                    current,
                    future,
                    copied,
                    size,
                } => format!(
                    "already moving from {current} to {future}, {} of {} copied",
                    human_bytes(*copied),
                    human_bytes(*size)
                ),
                DirState::Absent => "new replica, created there".to_string(),
                DirState::InPlace => String::new(),
            };
            format!("{} on broker {}: to {} ({how})", d.tp, d.broker, d.dir)
        })
        .collect();
    let batch_lines: Vec<String> = sim
        .batches
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let when = if rate.is_some() {
                format!(" at {}", human_duration(b.at))
            } else {
                String::new()
            };
            format!(
                "batch {}{when}: {} moves: {}",
                i + 1,
                b.started.len(),
                name_some(&b.started, NAMED)
            )
        })
        .collect();
    let estimate_line = match rate {
        Some(r) => format!(
            "{} at {}/s (physical bound {}, the busiest broker's {} over the throttle)",
            human_duration(sim.makespan),
            human_bytes(r),
            human_duration(sim.bound.seconds),
            human_bytes(sim.bound.bytes)
        ),
        None => "pass --throttle RATE for an estimate".into(),
    };
    let already = format!(
        "{} already at their target, {} already moving to it",
        prepared.done.len(),
        prepared.moving.len()
    );
    match args.output {
        ReportFormat::Json => printer.json(&json!({
            "version": JSON_VERSION,
            "command": "apply",
            "dry_run": true,
            "partitions_in_plan": prepared.plan.len(),
            "already_done": prepared.done,
            "already_moving": prepared.moving,
            "throttles": {
                "topics": throttles.topics.iter().map(|(t, v)| (t.clone(), json!({
                    "leader.replication.throttled.replicas": v.leader_value(),
                    "follower.replication.throttled.replicas": v.follower_value(),
                }))).collect::<serde_json::Map<_, _>>(),
                "brokers": throttles.brokers,
                "log_dir_brokers": throttles.log_dir_brokers,
                "replication_rate": rate,
                "log_dirs_rate": args.run.replica_alter_log_dirs_throttle,
            },
            "log_dir_moves": dir_moves.iter().map(|(d, state)| {
                // The state's own fields (`state`, `current`, ...) beside
                // the replica's.
                let mut v = serde_json::to_value(state).expect("states serialize");
                if let Some(o) = v.as_object_mut() {
                    o.insert("topic".into(), d.tp.topic.clone().into());
                    o.insert("partition".into(), d.tp.partition.into());
                    o.insert("broker".into(), d.broker.into());
                    o.insert("log_dir".into(), d.dir.clone().into());
                    o.insert("bytes".into(), state.bytes().1.into());
                }
                v
            }).collect::<Vec<_>>(),
            "batches": sim.batches.iter().map(|b| json!({
                "at_seconds": rate.map(|_| b.at),
                "partitions": b.started,
            })).collect::<Vec<_>>(),
            "estimate": {
                "seconds": rate.map(|_| sim.makespan),
                "bound_seconds": rate.map(|_| sim.bound.seconds),
                "rate": rate_str(rate),
            },
            "warnings": warnings,
            "summary": sum,
        })),
        ReportFormat::Markdown => printer.data(&markdown::render(&markdown::Report {
            title: format!("kafka-migrate apply --dry-run `{}`", args.plan.path()),
            verdict: format!(
                "Ready to apply: {} partitions ({already}). Nothing was changed.",
                prepared.plan.len()
            ),
            summary: &sum,
            racks_known: racks,
            throttle: rate,
            extra_rows: vec![
                ("batches".into(), format!("{}", sim.batches.len())),
                ("schedule estimate".into(), estimate_line.clone()),
            ],
            sections: if dir_lines.is_empty() {
                vec![("Throttles".into(), config_lines.clone())]
            } else {
                vec![
                    ("Throttles".into(), config_lines.clone()),
                    ("Moves between log dirs".into(), dir_lines.clone()),
                ]
            },
            notes: &[],
            warnings,
        })),
        ReportFormat::Text => {
            printer.out(&format!(
                "dry run: nothing is changed. {} partitions in the plan ({already}).",
                prepared.plan.len()
            ));
            printer.out("throttles to set:");
            for l in &config_lines {
                printer.out(&format!("  {l}"));
            }
            printer.out(&format!(
                "batches ({}):",
                match args.run.mode() {
                    Mode::AllAtOnce => "all at once".to_string(),
                    Mode::Bounded(l) => format!(
                        "at most {} in flight, {} per broker and direction",
                        l.max_in_flight, l.max_per_broker
                    ),
                }
            ));
            for l in &batch_lines {
                printer.out(&format!("  {l}"));
            }
            if !dir_lines.is_empty() {
                printer.out(&format!(
                    "moves between log dirs ({}, AlterReplicaLogDirs):",
                    dir_lines.len()
                ));
                for l in &dir_lines {
                    printer.out(&format!("  {l}"));
                }
            }
            printer.out(&format!("estimated time: {estimate_line}"));
        }
    }
    for w in warnings {
        printer.warn(w);
    }
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use crate::exec::batch::{DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_PER_BROKER};

    use super::{InForce, left_in_force, run_ref};
    use crate::cli::exit::{CodedError, Exit, failure};

    #[test]
    fn suggested_commands_name_a_journal_given() {
        assert_eq!(run_ref("p.json", None), "p.json");
        assert_eq!(
            run_ref("my plan.json", Some(std::path::Path::new("/j/run.json"))),
            "'my plan.json' --journal /j/run.json"
        );
    }

    // regression: an apply that failed after setting throttles (a broker
    // refusing the reassignments, say) ended on the error alone; nothing
    // said the throttles stay, nor how to go on or undo them.
    #[test]
    fn a_run_failing_after_its_journal_says_what_stays_in_force() {
        let hint = |e: anyhow::Error| e.downcast::<CodedError>().unwrap().hint;
        let e = || failure(anyhow::anyhow!("submitting moves: refused"));
        let both = Some(InForce {
            throttles: true,
            moves: true,
        });
        assert_eq!(hint(left_in_force(e(), None, "apply", "p.json")), None);
        let h = hint(left_in_force(e(), both, "apply", "p.json")).unwrap();
        assert!(
            h.starts_with("throttles this run set and moves it submitted stay in force")
                && h.contains("`kafka-migrate apply p.json` again resumes")
                && h.contains("`kafka-migrate cancel p.json` cancels the moves and restores"),
            "{h}"
        );
        let with_hint = CodedError {
            exit: Exit::Failure,
            error: anyhow::anyhow!("x"),
            hint: Some("check --bootstrap-server".into()),
        };
        let h = hint(left_in_force(with_hint.into(), both, "rollback", "r.json")).unwrap();
        assert!(h.starts_with("check --bootstrap-server; throttles"), "{h}");
        // regression: a run whose throttles were refused (nothing set, no
        // move submitted) said throttles and moves stay in force.
        let none = Some(InForce {
            throttles: false,
            moves: false,
        });
        assert_eq!(hint(left_in_force(e(), none, "apply", "p.json")), None);
        let only = |throttles, moves| {
            hint(left_in_force(
                e(),
                Some(InForce { throttles, moves }),
                "apply",
                "p.json",
            ))
            .unwrap()
        };
        let h = only(true, false);
        assert!(
            h.starts_with("throttles this run set stay in force")
                && h.ends_with("restores the throttles"),
            "{h}"
        );
        let h = only(false, true);
        assert!(
            h.starts_with("moves submitted stay in force") && h.ends_with("cancels the moves"),
            "{h}"
        );
    }

    /// The defaults are written into the flags' help by hand (they are
    /// `Option`s, so a re-run can tell "not given" apart): keep them true.
    #[test]
    fn help_states_the_batching_defaults() {
        let mut cmd = crate::cli::Cli::command();
        let help = cmd
            .find_subcommand_mut("apply")
            .unwrap()
            .render_long_help()
            .to_string();
        assert!(
            help.contains(&format!("[default: {DEFAULT_MAX_IN_FLIGHT}]")),
            "{help}"
        );
        assert!(
            help.contains(&format!("[default: {DEFAULT_MAX_PER_BROKER} each way]")),
            "{help}"
        );
    }
}
