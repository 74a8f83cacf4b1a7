//! The wire client: the only part of the tool that opens sockets to Kafka.
//! Layered as rskafka is, each layer using only those above it:
//!
//! - `error.rs`: [`KafkaError`], naming the API, the broker and the Kafka
//!   error code;
//! - `bootstrap.rs` and `config.rs`: what a command is told before any
//!   socket opens (the bootstrap list, `--timeout`, the `--command-config`
//!   properties), parsed without I/O;
//! - `retry.rs`: when to try again, a pure function;
//! - `tls.rs`: the TLS client configuration, the handshake and its
//!   failures in an operator's words;
//! - `conn.rs`: one connection (plaintext or TLS, framing, correlation
//!   ids, version negotiation, timeouts);
//! - `admin.rs`: the admin calls, routed and retried, and
//!   [`ClusterAdmin`](crate::model::live::ClusterAdmin) for the executor;
//! - `snapshot.rs`: the snapshot built from their answers.
//!
//! Codecs come from the `kafka-protocol` crate.

pub mod admin;
pub mod bootstrap;
pub mod config;
pub mod conn;
pub mod error;
pub mod librdkafka;
pub mod retry;
pub mod scram;
pub mod snapshot;
pub mod stores;
pub mod tls;

pub use crate::model::live::error_name;

pub use admin::{Admin, BrokerInfo};
pub use bootstrap::{Bootstrap, parse_timeout};
pub use config::{ClientSettings, CommandConfig};
pub use conn::Connection;
pub use error::KafkaError;
pub use snapshot::Survey;
