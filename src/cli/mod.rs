//! The command line: thin. Each command parses its flags, calls the library
//! and hands results to the printer. Exit codes live in [`exit`].

pub mod apply;
pub mod args;
pub mod cancel;
pub mod check;
pub mod cluster;
pub mod demo;
pub mod describe;
pub mod disks;
pub mod elect;
pub mod exit;
pub mod journal;
pub mod markdown;
pub mod mini_broker;
pub mod plan;
pub mod printer;
pub mod progress;
pub mod rollback;
pub mod status;
pub mod summary;
pub mod synth;
pub mod throttle;
pub mod verify;

use clap::{Parser, Subcommand};

use exit::{
    APPLY_EXIT_CODES, CANCEL_EXIT_CODES, CHECK_EXIT_CODES, CodedError, DEMO_EXIT_CODES,
    DESCRIBE_EXIT_CODES, ELECT_EXIT_CODES, EXIT_CODES_HELP, Exit, GEN_SNAPSHOT_EXIT_CODES,
    MINI_BROKER_EXIT_CODES, PLAN_EXIT_CODES, ROLLBACK_EXIT_CODES, STATUS_EXIT_CODES,
    THROTTLE_EXIT_CODES, VERIFY_EXIT_CODES,
};
use printer::Printer;

#[derive(Debug, Parser)]
#[command(
    name = "kafka-migrate",
    version,
    about = "Plan, apply and verify Kafka partition reassignments with minimal movement",
    after_help = EXIT_CODES_HELP
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Try it: 2 brokers join a loopback cluster and take data under load, nothing lost.
    #[command(after_help = DEMO_EXIT_CODES)]
    Demo(demo::DemoArgs),
    /// Plan a balanced reassignment from a cluster snapshot or the live
    /// cluster.
    #[command(after_help = PLAN_EXIT_CODES)]
    Plan(Box<plan::PlanArgs>),
    /// Read a live cluster's state; `-o FILE` writes a snapshot for `plan`.
    #[command(after_help = DESCRIBE_EXIT_CODES)]
    Describe(describe::DescribeArgs),
    /// Validate a reassignment plan against a snapshot, for CI.
    #[command(after_help = CHECK_EXIT_CODES)]
    Check(check::CheckArgs),
    /// Run a plan on the live cluster: batches under throttles, progress,
    /// preferred leaders elected, throttles restored; resumable.
    #[command(after_help = APPLY_EXIT_CODES)]
    Apply(Box<apply::ApplyArgs>),
    /// Where each partition of a plan stands; restores throttles when all
    /// are done.
    #[command(after_help = VERIFY_EXIT_CODES)]
    Verify(verify::VerifyArgs),
    /// Cancel the moves in flight of a plan (or all), wait until they
    /// revert, restore throttles.
    #[command(after_help = CANCEL_EXIT_CODES)]
    Cancel(cancel::CancelArgs),
    /// Put partitions back as a rollback file records them (cancelling
    /// what still moves first).
    #[command(after_help = ROLLBACK_EXIT_CODES)]
    Rollback(Box<rollback::RollbackArgs>),
    /// Moves in flight with progress, and throttles in force, whoever set
    /// them.
    #[command(after_help = STATUS_EXIT_CODES)]
    Status(status::StatusArgs),
    /// Change a run's replication throttle, or remove throttles.
    #[command(after_help = THROTTLE_EXIT_CODES)]
    Throttle(throttle::ThrottleArgs),
    /// Preferred-leader election.
    #[command(name = "elect-leaders", after_help = ELECT_EXIT_CODES)]
    ElectLeaders(elect::ElectArgs),
    /// Run an in-process Kafka cluster (real protocol) until Ctrl-C, SIGTERM or `quit`.
    #[command(name = "mini-broker", after_help = MINI_BROKER_EXIT_CODES)]
    MiniBroker(mini_broker::MiniBrokerArgs),
    /// Write a synthetic, realistic cluster snapshot (for trying `plan`).
    #[command(name = "gen-snapshot", after_help = GEN_SNAPSHOT_EXIT_CODES)]
    GenSnapshot(synth::GenArgs),
}

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    let printer = Printer::new(printer::OutputFormat::Text);
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        // Help and version go to stdout whole (help for a bare command to
        // stderr, exit 2); a usage error is one line on stderr, as every
        // other bad input: its first paragraph, without the usage and the
        // pointer to --help that clap adds.
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return Exit::Ok.code();
        }
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            return Exit::Invalid.code();
        }
        Err(e) => {
            let text = e.render().to_string();
            let what: Vec<&str> = text
                .lines()
                .take_while(|l| !l.trim().is_empty() && !l.starts_with("Usage:"))
                .map(str::trim)
                .collect();
            printer.note(&format!("{} (see --help)", what.join(" ")));
            return Exit::Invalid.code();
        }
    };
    let result = match cli.command {
        Command::Demo(a) => demo::exec(a),
        Command::Plan(a) => plan::exec(*a),
        Command::Check(a) => check::exec(a),
        Command::Apply(a) => apply::exec(*a),
        Command::Verify(a) => verify::exec(a),
        Command::Cancel(a) => cancel::exec(a),
        Command::Rollback(a) => rollback::exec(*a),
        Command::Status(a) => status::exec(a),
        Command::Throttle(a) => throttle::exec(a),
        Command::ElectLeaders(a) => elect::exec(a),
        Command::Describe(a) => describe::exec(a),
        Command::GenSnapshot(a) => synth::exec(a),
        Command::MiniBroker(a) => mini_broker::exec(a),
    };
    let code = match result {
        Ok(exit) => exit.code(),
        Err(e) => report(&printer, e),
    };
    match printer::take_stdout_error() {
        // A reader that stopped reading (`| head`) wanted no more: the
        // run ends quietly with its own code, as ripgrep's and cargo's do.
        Some(e) if e.kind() == std::io::ErrorKind::BrokenPipe => code,
        Some(e) if code == Exit::Ok.code() || code == Exit::Incomplete.code() => {
            printer.error(&format!("cannot write to standard output: {e}"), None);
            Exit::Failure.code()
        }
        _ => code,
    }
}

fn report(printer: &Printer, e: anyhow::Error) -> i32 {
    match e.downcast::<CodedError>() {
        Ok(c) => {
            printer.error(&format!("{:#}", c.error), c.hint.as_deref());
            c.exit.code()
        }
        // Uncoded errors come from reading inputs: the input's fault.
        Err(e) => {
            printer.error(&format!("{e:#}"), None);
            Exit::Invalid.code()
        }
    }
}

/// A file a command writes: what it holds (for the message), where (`-`:
/// standard output) and its contents.
pub struct Output<'a> {
    pub what: String,
    pub path: &'a std::path::Path,
    pub contents: String,
}

/// Writes a command's outputs under the one rule of [`crate::fsutil`]:
/// `-` to standard output, files through a temporary file and a rename
/// (all staged before any is made visible). Returns the "wrote ..." lines
/// for the command to print on stderr once its summary is out.
pub fn write_outputs(
    printer: &Printer,
    outputs: Vec<Output>,
    no_clobber: bool,
) -> anyhow::Result<Vec<String>> {
    let streamed = outputs
        .into_iter()
        .map(|o| StreamedOutput {
            what: o.what,
            path: o.path,
            write: Box::new(move |w| w.write_all(o.contents.as_bytes())),
        })
        .collect();
    write_streamed_outputs(printer, streamed, no_clobber)
}

/// An output written as it is made, never held whole (a plan of a million
/// partitions): what it holds, where, and what writes it.
pub struct StreamedOutput<'a> {
    pub what: String,
    pub path: &'a std::path::Path,
    pub write: Box<crate::fsutil::Writer<'a>>,
}

/// As [`write_outputs`]; standard output still gets each output whole,
/// through the printer.
pub fn write_streamed_outputs(
    printer: &Printer,
    outputs: Vec<StreamedOutput>,
    no_clobber: bool,
) -> anyhow::Result<Vec<String>> {
    let mut files = Vec::new();
    let mut wrote = Vec::new();
    for mut o in outputs {
        if crate::fsutil::is_stdout(o.path) {
            let mut text = Vec::new();
            (o.write)(&mut text)?;
            printer.data(&String::from_utf8(text)?);
        } else {
            wrote.push(format!("wrote {} to {}", o.what, o.path.display()));
            files.push((o.path, o.write));
        }
    }
    let mut files: Vec<_> = files.iter_mut().map(|(p, w)| (*p, &mut **w)).collect();
    crate::fsutil::write_all_atomic_with(&mut files, no_clobber).map_err(exit::failure)?;
    Ok(wrote)
}

/// Checks a command's outputs against its inputs before it does anything
/// (see [`crate::fsutil::check_outputs`]); a clash is a usage error.
pub fn check_outputs(
    inputs: &[(&str, &str)],
    outputs: &[(&str, &std::path::Path)],
    no_clobber: bool,
) -> anyhow::Result<()> {
    crate::fsutil::check_outputs(inputs, outputs, no_clobber)
        .map_err(|e| exit::invalid(anyhow::anyhow!(e)))
}
