//! The executor: what `apply`, `verify`, `cancel` and `rollback` decide,
//! apart from how they talk to a cluster.
//!
//! - [`throttle`]: the replication throttles for a plan, exactly as Kafka's
//!   `kafka-reassign-partitions.sh --execute --throttle` computes them,
//!   merged with moves in flight; the IncrementalAlterConfigs operations
//!   that set them and that later restore what an operator had before.
//! - [`batch`]: which moves to submit when (bounded concurrency per broker
//!   and overall, largest and most critical moves first, reorders at once).
//! - [`estimate`]: the physical bound and a simulated makespan of a
//!   schedule under a throttle, for `--dry-run` and benchmarks.
//!
//! - [`clock`]: the driver's only source of time (wall or stepped).
//! - [`disks`]: the plan's named log dirs, checked against the brokers'
//!   dirs, and where each replica stands (in place, moving, elsewhere).
//! - [`mod@prepare`]: the preflight of `apply` (what `check` refuses, a stale
//!   plan, moves in flight) and the rollback content.
//! - [`mod@apply`]: the driver loop (batches, throttles, progress events,
//!   election, restore), generic over `ClusterAdmin` and `Clock`;
//!   [`journal`]: what a re-run resumes from, saved through a trait.
//! - [`verify`] (`verify`, `status`) and [`cancel`] (`cancel`,
//!   `rollback`).
//!
//! What this module must not do: no I/O (no sockets, files or terminal),
//! no clock but [`clock::Clock`] and no randomness. Everything here is a pure function of its
//! inputs over model types, with deterministic output (sorted maps, stable
//! tie-breaks), so the driver loop that will call it can be tested with
//! stepped time and replayed from a journal.

pub mod apply;
pub mod batch;
pub mod cancel;
pub mod clock;
pub mod disks;
pub mod error;
pub mod estimate;
pub mod journal;
pub mod prepare;
pub mod throttle;
pub mod verify;

pub use apply::{ApplyReport, ApplySettings, Event, Outcome, apply};
pub use error::ExecError;
pub use journal::{Journal, JournalStore, MemoryStore};
pub use prepare::{PrepareSettings, Prepared, Refusal, prepare, prepare_with_log_dirs};

#[cfg(test)]
mod testgen;

#[cfg(test)]
mod sim_tests;
