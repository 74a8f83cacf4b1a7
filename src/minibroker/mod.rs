//! Embedded mini-broker: a multi-broker Kafka cluster in one process that
//! speaks the real protocol (codec from the `kafka-protocol` crate),
//! replicates, reassigns (KIP-455) and throttles (KIP-73).
//!
//! Module map:
//! - `config`: cluster configuration and CLI value parsers.
//! - `state`: the single controller state (metadata epoch, brokers,
//!   topics, partitions with replica logs) and every controller decision,
//!   one file per concern: placement and elections, the replication step,
//!   reassignment. No I/O, no waiting.
//! - `code`: Kafka's error codes.
//! - `shared`: the handle every task holds: the state behind one lock,
//!   the one `mutate` that wakes waiters, the per-connection context.
//! - `configs`: dynamic configs (validation, IncrementalAlterConfigs
//!   semantics, what DescribeConfigs lists), for the handlers and `sim`.
//! - `groups`: the classic group coordinator (joins, rebalances, session
//!   expiry, committed offsets) as a state machine. No I/O, no waiting.
//! - `log`: partition logs of record batches with exact sizes (and sized
//!   batches that count bytes without holding them, for `sim`).
//! - `throttle`: token buckets and throttled-replica lists.
//! - `codec`: the size prefix (read and written only here) and header
//!   versions around the crate's codecs.
//! - `api`: one file per API family; the supported-version table.
//! - `server`: listeners (plaintext or TLS), connections, replication
//!   task, shutdown.
//! - `tls`: `--tls`: a CA and a broker certificate made at start, the
//!   rustls server configuration.
//! - `persist`: `--data-dir`: metadata, checkpoints, the flush task,
//!   recovery at start and after `kill`.
//! - `segment`: one replica's segment files and offset index, appended as
//!   batches are stored; CRC-checked recovery that cuts a torn tail.
//! - `persist_groups`: `--data-dir`'s committed offsets, in their own file.
//! - `sim`: the same state driven in-process with stepped time, as a
//!   `ClusterAdmin` and a `Clock` for the executor's tests.
//!
//! Not for: production use. Data is served from memory; with a data dir
//! every stored batch is also appended to segment files, from which a
//! restart (after a crash too) recovers.

pub mod api;
pub mod code;
pub mod codec;
pub mod config;
pub mod configs;
pub mod epochs;
pub mod groups;
pub mod log;
pub mod persist;
pub mod persist_groups;
pub mod producers;
pub mod segment;
pub mod server;
pub mod shared;
pub mod sim;
pub mod state;
pub mod throttle;
pub mod tls;

pub use config::{ClusterConfig, TopicSpec};
pub use server::{Cluster, ClusterHandle};

/// The mini-broker's own diagnostics: a server has no printer, so they go
/// to stderr, from here only.
#[allow(clippy::print_stderr)]
pub(crate) fn log(message: std::fmt::Arguments) {
    eprintln!("{message}");
}
