//! The wire client's errors. Each names the API and the broker it was
//! talking to, and a Kafka error code by its name (`NOT_CONTROLLER (41)`).

use std::time::Duration;

use kafka_protocol::protocol::StrBytes;

use crate::model::live::{ConfigResource, ErrorCode};

use super::bootstrap::human;

#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("{api} to {addr} timed out after {}", human(*after))]
    Timeout {
        api: &'static str,
        addr: String,
        after: Duration,
    },
    /// The server answered with something that is not a Kafka response
    /// frame: an HTTP server, a TLS listener, another protocol.
    #[error("{addr} is not a Kafka listener: it answered {api} {detail}")]
    NotKafka {
        api: &'static str,
        addr: String,
        detail: String,
    },
    /// The TLS handshake failed: the certificate, the name, or a listener
    /// that does not speak TLS. Not retried: the next try fails the same.
    #[error("TLS handshake with {addr} failed: {detail}")]
    Tls { addr: String, detail: String },
    /// SASL authentication failed or could not start. Not retried.
    #[error("SASL authentication with {addr} failed: {detail}")]
    Sasl { addr: String, detail: String },
    /// `early`: the first request after ApiVersions, which is where a
    /// listener requiring SASL closes an unauthenticated connection.
    #[error("{addr} closed the connection without answering {api}{}", if *early { " (the first request after connecting: does the listener require SASL? security.protocol in --command-config)" } else { "" })]
    Closed {
        api: &'static str,
        addr: String,
        early: bool,
    },
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
    /// The request as a whole was refused.
    #[error("{api} to {addr}: {error}{}", needs(api, None, error))]
    Response {
        api: &'static str,
        addr: String,
        error: ErrorCode,
    },
    /// One config resource (or topic to create) was refused.
    #[error(
        "{api} to {addr}: {resource}: {error}{}",
        needs(api, Some(resource), error)
    )]
    Resource {
        api: &'static str,
        addr: String,
        resource: String,
        error: ErrorCode,
    },
    #[error("broker {0} is not in the cluster metadata")]
    UnknownBroker(i32),
    /// Every bootstrap address failed; each one's error, in order (none:
    /// no address was known).
    #[error("no usable bootstrap server: {}", joined(.0))]
    NoBootstrap(Vec<KafkaError>),
    /// Retriable failures until the retries or the time ran out; `last` is
    /// the last one, which names the broker.
    #[error("{api}: gave up after {attempts} {} in {}: {last}", if *attempts == 1 { "attempt" } else { "attempts" }, human(*elapsed))]
    GaveUp {
        api: &'static str,
        attempts: u32,
        elapsed: Duration,
        last: Box<KafkaError>,
    },
}

impl KafkaError {
    /// The Kafka error code behind this error, if a broker sent one.
    pub fn code(&self) -> Option<&ErrorCode> {
        match self {
            KafkaError::Response { error, .. } | KafkaError::Resource { error, .. } => Some(error),
            KafkaError::GaveUp { last, .. } => last.code(),
            _ => None,
        }
    }

    /// A broker that is not (or no longer) in the cluster's metadata.
    pub fn is_gone_broker(&self) -> bool {
        match self {
            KafkaError::UnknownBroker(_) => true,
            KafkaError::GaveUp { last, .. } => last.is_gone_broker(),
            _ => false,
        }
    }

    /// A lost or unusable connection: the broker may be back, or another
    /// may answer, so the call is worth retrying elsewhere.
    pub fn is_network(&self) -> bool {
        matches!(
            self,
            KafkaError::Connect { .. }
                | KafkaError::Timeout { .. }
                | KafkaError::Closed { .. }
                | KafkaError::Io { .. }
        )
    }
}

/// What an authorization failure of `api` means the client's principal
/// lacks, as Kafka's ACLs name it (operation and resource), with a
/// leading separator; empty for any other error.
fn needs(api: &str, resource: Option<&String>, error: &ErrorCode) -> String {
    const TOPIC: i16 = 29;
    const CLUSTER: i16 = 31;
    let code = error.code;
    if code != TOPIC && code != CLUSTER {
        return String::new();
    }
    let topic_resource = || match resource.and_then(|r| r.strip_prefix("topic ")) {
        Some(t) => format!("topic {t}"),
        None => "the topics".to_string(),
    };
    let (operation, on) = match (api, code) {
        ("AlterPartitionReassignments" | "ElectLeaders" | "AlterReplicaLogDirs", _) => {
            ("Alter", "the cluster".to_string())
        }
        ("ListPartitionReassignments" | "DescribeLogDirs" | "DescribeCluster", _) => {
            ("Describe", "the cluster".to_string())
        }
        ("IncrementalAlterConfigs" | "AlterConfigs", CLUSTER) => (
            "AlterConfigs",
            "the cluster (broker configs: the throttle rates)".to_string(),
        ),
        ("IncrementalAlterConfigs" | "AlterConfigs", _) => (
            "AlterConfigs",
            format!("{} (the throttled replica lists)", topic_resource()),
        ),
        ("DescribeConfigs", CLUSTER) => ("DescribeConfigs", "the cluster".to_string()),
        ("DescribeConfigs", _) => ("DescribeConfigs", topic_resource()),
        ("CreateTopics", CLUSTER) => ("Create", "the cluster".to_string()),
        ("CreateTopics", _) => ("Create", topic_resource()),
        (_, CLUSTER) => ("Describe", "the cluster".to_string()),
        (_, _) => ("Describe", topic_resource()),
    };
    format!(
        "; the client's principal needs {operation} on {on} ({api} is refused without it; an admin grants it with kafka-acls --add --operation {operation})"
    )
}

/// A wire error code as a result: `NONE` is `Ok`.
pub fn check(code: i16, message: Option<&StrBytes>) -> Result<(), ErrorCode> {
    if code == ErrorCode::NONE {
        Ok(())
    } else {
        Err(ErrorCode::new(
            code,
            message.map(|m| m.as_str().to_string()),
        ))
    }
}

/// The request-level refusal of `api` by the broker at `addr`.
pub fn refused(api: &'static str, addr: &str, error: ErrorCode) -> KafkaError {
    KafkaError::Response {
        api,
        addr: addr.to_string(),
        error,
    }
}

/// The refusal of one config resource.
pub fn resource_refused(
    api: &'static str,
    addr: &str,
    resource: &ConfigResource,
    error: ErrorCode,
) -> KafkaError {
    KafkaError::Resource {
        api,
        addr: addr.to_string(),
        resource: resource.to_string(),
        error,
    }
}

fn joined(errors: &[KafkaError]) -> String {
    if errors.is_empty() {
        return "no broker address known".into();
    }
    let parts: Vec<String> = errors.iter().map(ToString::to_string).collect();
    parts.join("; ")
}

#[cfg(test)]
mod authorization_tests {
    use super::*;

    fn said(api: &'static str, resource: Option<&str>, code: i16) -> String {
        let error = ErrorCode::new(code, None);
        match resource {
            None => refused(api, "b:9093", error).to_string(),
            Some(r) => KafkaError::Resource {
                api,
                addr: "b:9093".into(),
                resource: r.into(),
                error,
            }
            .to_string(),
        }
    }

    #[test]
    fn authorization_failures_name_the_operation_and_resource_needed() {
        for (api, resource, code, want) in [
            (
                "AlterPartitionReassignments",
                None,
                31,
                "needs Alter on the cluster",
            ),
            ("ElectLeaders", None, 31, "needs Alter on the cluster"),
            (
                "ListPartitionReassignments",
                None,
                31,
                "needs Describe on the cluster",
            ),
            (
                "IncrementalAlterConfigs",
                Some("broker 2"),
                31,
                "needs AlterConfigs on the cluster (broker configs: the throttle rates)",
            ),
            (
                "IncrementalAlterConfigs",
                Some("topic orders"),
                29,
                "needs AlterConfigs on topic orders (the throttled replica lists)",
            ),
            (
                "DescribeConfigs",
                Some("topic orders"),
                29,
                "needs DescribeConfigs on topic orders",
            ),
            ("Metadata", None, 29, "needs Describe on the topics"),
        ] {
            let s = said(api, resource, code);
            assert!(s.contains(want), "{s}");
            assert!(s.starts_with(&format!("{api} to b:9093")), "{s}");
        }
        // Other codes say nothing more.
        assert!(!said("AlterPartitionReassignments", None, 41).contains("needs"));
    }
}
