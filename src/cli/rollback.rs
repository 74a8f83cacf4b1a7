//! `kafka-migrate rollback ROLLBACK_FILE`: cancels what is still moving
//! among the file's partitions (restoring the throttles of the run being
//! rolled back), then applies the file as `apply` does.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;

use super::apply::{
    RunArgs, beside_plan, finish, left_in_force, load_plan, run_ref, stop_on_ctrl_c,
};
use super::args::ClusterArgs;
use super::cluster::{connect, exec_error, note_journal, runtime};
use super::exit::Exit;
use super::journal::FileStore;
use super::printer::{OutputFormat, Printer};
use super::progress::{Renderer, Style};
use crate::exec::cancel::{CancelSettings, rollback};
use crate::exec::clock::WallClock;
use crate::exec::journal::{Journal, JournalStore, MemoryStore};
use crate::model::live::ClusterAdmin;
use crate::model::reassignment::Reassignment;

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The rollback file `plan --rollback` or `apply` wrote.
    #[arg(value_name = "ROLLBACK_FILE")]
    pub file: String,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    #[command(flatten)]
    pub run: RunArgs,
    /// This rollback's own journal (default: beside the file,
    /// NAME.journal.json).
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// The journal of the run being rolled back, whose throttles are
    /// restored (default: PLAN.journal.json for PLAN.rollback.json).
    #[arg(long, value_name = "FILE")]
    pub plan_journal: Option<PathBuf>,
    /// Output format: text, or json (JSON Lines events, then the report,
    /// each with `version`).
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

/// The journal of the plan a rollback file belongs to: `NAME.journal.json`
/// beside `NAME.rollback.json` (the names `plan` and `apply` use); none
/// for a file named otherwise.
fn prior_journal(file: &Path) -> Option<PathBuf> {
    let name = file.file_name()?.to_string_lossy().into_owned();
    let stem = name.strip_suffix(".rollback.json")?;
    Some(file.with_file_name(format!("{stem}.journal.json")))
}

pub fn exec(args: RollbackArgs) -> Result<Exit> {
    let plan = load_plan(&args.file)?;
    let journal = beside_plan(&args.file, args.journal.as_deref(), "journal", "--journal")?;
    let prior = match (&args.plan_journal, args.file.as_str()) {
        (Some(p), _) => Some(p.clone()),
        (None, "-") => None,
        (None, f) => prior_journal(Path::new(f)),
    };
    let inputs: Vec<(&str, &str)> = [("ROLLBACK_FILE", args.file.as_str())]
        .into_iter()
        .chain(args.cluster.input())
        .collect();
    super::check_outputs(&inputs, &[("--journal", &journal)], false)?;
    if prior.as_ref() == Some(&journal) {
        return Err(super::exit::invalid(anyhow::anyhow!(
            "--journal and --plan-journal are one file ({}): the rollback keeps its own journal",
            journal.display()
        )));
    }
    runtime()?.block_on(async {
        let mut admin = connect(&args.cluster).await?;
        run(&mut admin, &args, &plan, journal, prior).await
    })
}

async fn run<A: ClusterAdmin>(
    admin: &mut A,
    args: &RollbackArgs,
    plan: &Reassignment,
    journal: PathBuf,
    prior: Option<PathBuf>,
) -> Result<Exit> {
    let printer = Printer::new(args.output);
    let style = Style::choose(args.output, args.run.no_progress);
    let mut renderer = Renderer::new(&printer, style, args.run.verbose);
    let mut store = FileStore::new(journal);
    // Without the rolled-back run's journal, its throttles stay as they
    // are (`throttle clear` takes them off).
    let mut prior_store = match prior {
        Some(p) => PriorStore::File(FileStore::new(p)),
        None => PriorStore::None(MemoryStore::new()),
    };
    let stop = stop_on_ctrl_c();
    let mut clock = WallClock::new();
    let result = rollback(
        admin,
        &mut clock,
        plan,
        &args.run.prepare_settings(),
        &args.run.settings(),
        &CancelSettings::default(),
        &mut prior_store,
        &mut store,
        &mut |e| renderer.event(e),
        &stop,
    )
    .await;
    renderer.finish();
    if let PriorStore::File(s) = &prior_store {
        note_journal(&printer, s);
    }
    note_journal(&printer, &store);
    let rerun = run_ref(&args.file, args.journal.as_deref());
    let report =
        result.map_err(|e| left_in_force(exec_error(e), store.in_force(), "rollback", &rerun))?;
    if !report.cancel.cancelled.is_empty() {
        printer.note(&format!(
            "cancelled {} moves in flight before rolling back",
            report.cancel.cancelled.len()
        ));
    }
    // Exit 3 below when a cancel was refused: say which.
    super::cancel::refused_lines(&printer, &report.cancel);
    for w in &report.warnings {
        printer.warn(w);
    }
    let cancel_exit = super::cancel::exit_of(&report.cancel);
    let exit = finish(&printer, &renderer, "rollback", &rerun, &report.apply);
    Ok(if cancel_exit == Exit::Failure {
        Exit::Failure
    } else {
        exit
    })
}

/// The journal of the run being rolled back, if known.
enum PriorStore {
    File(FileStore),
    None(MemoryStore),
}

impl JournalStore for PriorStore {
    type Error = super::journal::StoreError;

    fn load(&mut self) -> Result<Option<Journal>, Self::Error> {
        match self {
            PriorStore::File(f) => f.load(),
            PriorStore::None(_) => Ok(None),
        }
    }

    fn save(&mut self, journal: &Journal) -> Result<(), Self::Error> {
        match self {
            PriorStore::File(f) => f.save(journal),
            PriorStore::None(m) => {
                m.journal = Some(journal.clone());
                Ok(())
            }
        }
    }
}
