//! The one place exit codes are defined. Scripts rely on these.

/// Documented in `--help` and the README.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success (check: the plan is valid)
  1  the operation ran but did not complete everything asked (e.g. a plan
     that leaves replicas on removed or dead brokers)
  2  invalid input or usage: bad JSON, wrong version, missing fields,
     unknown topics or brokers, conflicting flags, an invalid plan
  3  a failure that is not the input's fault: the cluster cannot be
     reached or answers with an error, a file cannot be written";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    Incomplete = 1,
    Invalid = 2,
    Failure = 3,
}

impl Exit {
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// An error that knows its exit code (and maybe a hint for the fix).
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct CodedError {
    pub exit: Exit,
    pub error: anyhow::Error,
    pub hint: Option<String>,
}

/// Marks an error as invalid input (exit 2).
pub fn invalid(error: impl Into<anyhow::Error>) -> anyhow::Error {
    CodedError {
        exit: Exit::Invalid,
        error: error.into(),
        hint: None,
    }
    .into()
}

/// A failure that is not the input's fault (exit 3).
pub fn failure(error: impl Into<anyhow::Error>) -> anyhow::Error {
    CodedError {
        exit: Exit::Failure,
        error: error.into(),
        hint: None,
    }
    .into()
}
