//! The one place exit codes are defined. Scripts rely on these.

/// Documented in `--help` and the README: the meaning common to every
/// command, then each command's own.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success (check: the plan is valid)
  1  the operation ran but did not complete everything asked (e.g. a plan
     that leaves replicas on removed or dead brokers)
  2  invalid input or usage: bad JSON, wrong version, missing fields,
     unknown topics or brokers, conflicting flags, an invalid plan
  3  a failure that is not the input's fault: the cluster cannot be
     reached or answers with an error, a file cannot be written";

pub const PLAN_EXIT_CODES: &str = "\
Exit codes:
  0  planned (or nothing needs to change: then no file is written)
  1  planned, but not all that was asked: replicas stay on removed or dead
     brokers (budget, topic filter, no rack-safe place), or partitions
     have no in-sync replica on a live broker (unless --allow-offline), or
     with --balance-disks a broker's log dirs end outside the tolerance
  2  invalid input or usage: a bad snapshot or topics file, unknown topics
     or brokers, conflicting flags, an output naming an input, an existing
     output with --no-clobber, partitions in motion (unless --in-flight)
  3  an output cannot be written (a file, or standard output)";

pub const CHECK_EXIT_CODES: &str = "\
Exit codes:
  0  the plan is valid
  1  the plan is valid, but partitions in the snapshot have no in-sync
     replica on a live broker (unless --allow-offline)
  2  the plan or the snapshot is invalid (one error: line per problem)
  3  standard output cannot be written";

pub const DESCRIBE_EXIT_CODES: &str = "\
Exit codes:
  0  described (and with -o, the snapshot written)
  2  usage: a malformed or missing bootstrap, --timeout 0, an unknown
     --topic, an existing output with --no-clobber, a --command-config that cannot be read, has
     a bad value or security settings (SSL, SASL)
  3  the cluster cannot be reached, is not Kafka, times out or answers
     with an error; an output cannot be written";

pub const GEN_SNAPSHOT_EXIT_CODES: &str = "\
Exit codes:
  0  written
  2  a count out of range, or an existing output with --no-clobber
  3  the output cannot be written";

pub const MINI_BROKER_EXIT_CODES: &str = "\
Exit codes:
  0  stopped cleanly (Ctrl-C, SIGTERM or quit), --data-dir saved
  2  bad flags, topics, limits or saved data
  3  a port in use, an unusable --data-dir, a failed save";

pub const APPLY_EXIT_CODES: &str = "\
Exit codes:
  0  every partition at its target, preferred leaders elected, throttles
     restored; with --no-wait: the first batch submitted; with --dry-run:
     nothing changed
  1  stopped (Ctrl-C): moves stay in flight and throttles in force; run
     the same apply again to resume, or cancel
  2  invalid input or usage: a bad plan, or one the live cluster refuses
     (unknown or dead targets, a replication-factor change, a vanished
     topic), a stale plan (unless --force), other moves in flight (unless
     --additional), a journal of another plan, an output naming an input
  3  the cluster cannot be reached or fails; partitions refused or moved
     elsewhere by someone else; a file cannot be written";

pub const ROLLBACK_EXIT_CODES: &str = "\
Exit codes:
  0  every partition back at the rollback file's replicas, throttles
     restored
  1  stopped (Ctrl-C): run the same rollback again to resume
  2  invalid input or usage: a bad rollback file, or one the live cluster
     refuses, a journal of another plan
  3  the cluster cannot be reached or fails; a move that would not
     revert or a partition refused; a file cannot be written";

pub const VERIFY_EXIT_CODES: &str = "\
Exit codes:
  0  every partition of the plan is done (throttles restored, unless
     --preserve-throttles; those on a broker that is down are named in a
     warning and kept in the journal, for `throttle clear`)
  1  still in progress, or not submitted yet (the plan's apply stopped,
     by Ctrl-C or --no-wait, before its batch: run apply again)
  2  invalid input or usage: a bad plan, a journal of another plan
  3  some partition diverged (at other replicas, not moving to the plan's;
     or a replica in another log dir with no disk move running) or failed (vanished, or adding a replica on a broker that is down);
     the cluster cannot be reached or fails; the journal cannot be written";

pub const CANCEL_EXIT_CODES: &str = "\
Exit codes:
  0  every move cancelled and reverted (or nothing was moving), throttles
     restored (those on a broker that is down are named in a warning and
     kept in the journal, for `throttle clear` once it is back)
  1  some moves still listed when --wait ended
  2  invalid input or usage: a bad plan, a journal of another plan
  3  a cancel the cluster refused; the cluster cannot be reached or fails;
     the journal cannot be written";

pub const STATUS_EXIT_CODES: &str = "\
Exit codes:
  0  reported
  2  usage
  3  the cluster cannot be reached or fails";

pub const THROTTLE_EXIT_CODES: &str = "\
Exit codes:
  0  done
  2  usage: no run named (--plan or --journal), a bad rate, no throttle of
     this tool recorded, a journal that is not one
  3  the cluster cannot be reached or fails; the journal cannot be written";

pub const ELECT_EXIT_CODES: &str = "\
Exit codes:
  0  every partition led by its preferred replica
  2  usage: unknown topics or partitions, a bad partitions file
  3  an election failed; the cluster cannot be reached or fails";

pub const DEMO_EXIT_CODES: &str = "\
Exit codes:
  0  every step done: brokers added, the plan applied and verified,
     leaders elected, and every acknowledged message read back exactly
     once with a valid checksum
  2  bad flags (a zero --throttle, --messages-per-second out of range, a
     --fill larger than memory)
  3  a step failed: the mini-broker, the producer or the consumer, a move
     that did not finish, or a message missing, duplicated or corrupt";

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
