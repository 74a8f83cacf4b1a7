//! What can stop the executor: the cluster (an admin call that gave up),
//! the journal store, or a journal that belongs to another plan.

use std::error::Error as StdError;

/// A boxed error from the admin or the journal store.
pub type Cause = Box<dyn StdError + Send + Sync + 'static>;

/// Why an executor function stopped. Per-partition refusals are not
/// errors: they are reported in the functions' reports.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// A cluster call failed after the admin's own retries; `what` names
    /// the step (e.g. "listing moves in flight").
    /// The cause is in the message and not a `source`: a chain printed
    /// whole (`{:#}`) would say it twice.
    #[error("{what}: {cause}")]
    Admin { what: &'static str, cause: Cause },
    /// The journal store could not load or save.
    #[error("journal: {what}: {cause}")]
    Journal { what: &'static str, cause: Cause },
    /// The journal was written for another plan.
    #[error(
        "the journal belongs to another plan (journal digest {journal}, this plan's digest {plan}); \
         finish or cancel that run, or give another journal file"
    )]
    DigestMismatch { journal: String, plan: String },
    /// The executor needs a journal and there is none.
    #[error("no journal: {0}")]
    NoJournal(&'static str),
    /// The plan was refused before anything was sent (rollback's
    /// preflight).
    #[error(transparent)]
    Refused(#[from] super::prepare::Refusal),
    /// Moves that should have reverted are still listed after the wait
    /// (rollback does not apply over them).
    #[error("still moving after the cancel: {}", .0.iter().map(|tp| tp.to_string()).collect::<Vec<_>>().join(", "))]
    StillMoving(Vec<crate::model::TopicPartition>),
    /// The cluster no longer knows a partition the throttles are computed
    /// for (a topic deleted mid-run).
    #[error(transparent)]
    Throttle(#[from] super::throttle::UnknownPartitions),
}

impl ExecError {
    pub(crate) fn admin<E: StdError + Send + Sync + 'static>(
        what: &'static str,
    ) -> impl FnOnce(E) -> ExecError {
        move |e| ExecError::Admin {
            what,
            cause: Box::new(e),
        }
    }

    pub(crate) fn journal<E: StdError + Send + Sync + 'static>(
        what: &'static str,
    ) -> impl FnOnce(E) -> ExecError {
        move |e| ExecError::Journal {
            what,
            cause: Box::new(e),
        }
    }
}
