//! What every live command shares: the runtime, the connection, and how
//! the executor's errors become exit codes.

use anyhow::Result;

use super::args::ClusterArgs;
use super::exit::{CodedError, Exit};
use super::journal::FileStore;
use super::printer::{JSON_VERSION, OutputFormat, Printer};
use crate::exec::error::ExecError;
use crate::exec::prepare::{Refusal, RefusalKind};
use crate::kafka::{Admin, KafkaError};

/// A runtime on this thread: the commands make one request at a time.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Connects to the cluster the flags name; failing is exit 3. Warnings
/// about the properties file go to stderr whatever the output format.
pub async fn connect(args: &ClusterArgs) -> Result<Admin> {
    args.connect(&Printer::new(OutputFormat::Text)).await
}

/// A refusal's hint: what lets the plan run.
fn refusal_hint(r: &Refusal) -> Option<String> {
    let mut hints = Vec::new();
    if r.has(RefusalKind::Stale) {
        hints.push("the cluster changed since the plan was made: plan again, or pass --force to run it anyway");
    }
    if r.has(RefusalKind::InFlight) {
        hints.push("other moves are in flight: let them finish (`kafka-migrate status`), cancel them, or pass --additional");
    }
    (!hints.is_empty()).then(|| hints.join("; "))
}

/// A command's report as its `--output json` document: the report's own
/// fields with `version` and `command` added.
pub fn report_json(command: &str, report: impl serde::Serialize) -> serde_json::Value {
    let mut v = serde_json::to_value(report).expect("reports serialize");
    if let Some(o) = v.as_object_mut() {
        o.insert("version".into(), JSON_VERSION.into());
        o.insert("command".into(), command.into());
    }
    v
}

/// Says where the journal is when this run wrote it.
pub fn note_journal(printer: &Printer, store: &FileStore) {
    if store.saved {
        printer.note(&format!("journal: {}", store.path().display()));
    }
}

/// A cluster call the CLI makes itself, failing as the executor's own do.
pub fn admin_error<E: std::error::Error + Send + Sync + 'static>(
    what: &'static str,
) -> impl FnOnce(E) -> anyhow::Error {
    move |e| {
        exec_error(ExecError::Admin {
            what,
            cause: Box::new(e),
        })
    }
}

/// The executor's error with its exit code: the cluster or a file failing
/// is 3; a plan the cluster refuses, a journal of another plan or none
/// where one is needed is the input's fault, 2.
pub fn exec_error(e: ExecError) -> anyhow::Error {
    let (exit, hint) = match &e {
        ExecError::Admin { cause, .. } => (
            Exit::Failure,
            super::args::reach_hint(cause.downcast_ref::<KafkaError>()),
        ),
        ExecError::Journal { cause, .. } => {
            let bad_content = cause
                .downcast_ref::<super::journal::StoreError>()
                .is_some_and(|s| s.invalid);
            if bad_content {
                (Exit::Invalid, None)
            } else {
                (Exit::Failure, None)
            }
        }
        ExecError::DigestMismatch { .. } | ExecError::NoJournal(_) => (Exit::Invalid, None),
        ExecError::Refused(r) => (Exit::Invalid, refusal_hint(r)),
        ExecError::StillMoving(_) | ExecError::Throttle(_) => (Exit::Failure, None),
    };
    CodedError {
        exit,
        error: e.into(),
        hint,
    }
    .into()
}
