//! The wire client: the only part of the tool that opens sockets to Kafka.
//! Codecs come from the `kafka-protocol` crate; this module adds framing,
//! version negotiation, routing (BROKER config resources and log dirs go to
//! the broker they are about) and errors that name the API and broker.

pub mod admin;
pub mod bootstrap;
pub mod conn;

pub use crate::model::live::error_name;

pub use admin::Admin;
pub use bootstrap::{Bootstrap, parse_timeout};
pub use conn::Connection;

#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("{api} to {addr} timed out after {}", bootstrap::human(*after))]
    Timeout {
        api: &'static str,
        addr: String,
        after: std::time::Duration,
    },
    /// The server answered with something that is not a Kafka response
    /// frame: an HTTP server, a TLS listener, another protocol.
    #[error("{addr} is not a Kafka listener: it answered {api} {detail}")]
    NotKafka {
        api: &'static str,
        addr: String,
        detail: String,
    },
    #[error("{addr} closed the connection without answering {api}")]
    Closed { api: &'static str, addr: String },
    #[error("{api} to {addr}: {source}")]
    Io {
        api: &'static str,
        addr: String,
        source: std::io::Error,
    },
    #[error("{api} to {addr}: cannot encode or decode: {detail}")]
    Codec {
        api: &'static str,
        addr: String,
        detail: String,
    },
    #[error(
        "{api}: the broker at {addr} supports versions {broker_min}..={broker_max}, this client {client_min}..={client_max}"
    )]
    UnsupportedVersion {
        api: &'static str,
        addr: String,
        broker_min: i16,
        broker_max: i16,
        client_min: i16,
        client_max: i16,
    },
    #[error("{api} to {addr}: {}{}", error_name(*code), message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Response {
        api: &'static str,
        addr: String,
        code: i16,
        message: Option<String>,
    },
    #[error("broker {0} is not in the cluster metadata")]
    UnknownBroker(i32),
    #[error("no usable bootstrap server: {0}")]
    NoBootstrap(String),
}
