//! Flags that several commands share, declared once so they read, parse
//! and fail the same everywhere: where the cluster is (every live command)
//! and which plan file a command reads (`check`, and later `apply`,
//! `verify`, `cancel`).

use std::time::Duration;

use anyhow::Result;
use clap::Args;

use super::exit::{CodedError, Exit, invalid};
use super::printer::Printer;
use crate::fsutil::read_input;
use crate::kafka::config::{ClientSettings, Sources, parse_command_config};
use crate::kafka::{Admin, Bootstrap, KafkaError, parse_timeout};

/// How a live command reaches the cluster.
#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// Bootstrap servers, HOST:PORT[,HOST:PORT...] (else bootstrap.servers
    /// from --command-config).
    #[arg(
        long,
        value_name = "HOST:PORT",
        env = "KAFKA_MIGRATE_BOOTSTRAP",
        hide_env_values = true
    )]
    pub bootstrap_server: Option<Bootstrap>,
    /// Kafka client properties, as Kafka's tools take them: client.id,
    /// request.timeout.ms, default.api.timeout.ms, retries,
    /// retry.backoff.ms, retry.backoff.max.ms, bootstrap.servers;
    /// security.protocol PLAINTEXT or SSL with ssl.truststore.type PEM or
    /// PKCS12, ssl.truststore.location (and .password) or
    /// ssl.truststore.certificates, ssl.endpoint.identification.algorithm,
    /// client certificates from ssl.keystore.type PEM or PKCS12
    /// (ssl.keystore.location, .password, ssl.key.password, or
    /// ssl.keystore.certificate.chain and ssl.keystore.key); SASL_PLAINTEXT
    /// and SASL_SSL with sasl.mechanism PLAIN, SCRAM-SHA-256 or
    /// SCRAM-SHA-512 and sasl.jaas.config (or sasl.username and
    /// sasl.password); ${env:NAME} and ${file:PATH:KEY} values.
    #[arg(
        long,
        value_name = "FILE",
        env = "KAFKA_MIGRATE_COMMAND_CONFIG",
        hide_env_values = true
    )]
    pub command_config: Option<String>,
    /// How long one call may take, retries included: seconds, or with a
    /// unit (500ms, 30s, 2m) [default: default.api.timeout.ms, else 30s].
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout)]
    pub timeout: Option<Duration>,
}

impl ClusterArgs {
    /// The properties file as an input of the run, for the output rule: an
    /// `-o` naming it would replace the operator's client settings.
    pub fn input(&self) -> Option<(&'static str, &str)> {
        self.command_config
            .as_deref()
            .map(|p| ("--command-config", p))
    }

    /// The bootstrap servers and client settings: flags first, then the
    /// properties file, then Kafka's defaults. Properties this client does
    /// not use get one warning, by name only.
    pub fn resolve(&self, printer: &Printer) -> Result<(Bootstrap, ClientSettings)> {
        let props = match &self.command_config {
            Some(path) => {
                let text = read_input(path).map_err(invalid)?;
                let text = String::from_utf8_lossy(&text);
                let props = parse_command_config(&text, &RealSources).map_err(|e| {
                    let error = anyhow::anyhow!("--command-config {path}: {e}");
                    anyhow::Error::from(CodedError {
                        exit: Exit::Invalid,
                        error,
                        hint: None,
                    })
                })?;
                if !props.unknown.is_empty() {
                    printer.warn(&format!(
                        "--command-config {path}: ignoring properties kafka-migrate does not use: {}",
                        props.unknown.join(", ")
                    ));
                }
                if !props.unused_security.is_empty() {
                    printer.warn(&format!(
                        "--command-config {path}: security.protocol={} does not use: {}",
                        props.protocol.name(),
                        props.unused_security.join(", ")
                    ));
                }
                props
            }
            None => Default::default(),
        };
        let bootstrap = self
            .bootstrap_server
            .clone()
            .or_else(|| props.bootstrap.clone())
            .ok_or_else(|| {
                invalid(anyhow::anyhow!(
                    "no bootstrap server: give --bootstrap-server (or KAFKA_MIGRATE_BOOTSTRAP), or bootstrap.servers in --command-config"
                ))
            })?;
        Ok((bootstrap, ClientSettings::resolve(self.timeout, &props)))
    }

    /// Connects as [`ClusterArgs::resolve`] says; an unreachable cluster
    /// is exit 3 with a hint.
    pub async fn connect(&self, printer: &Printer) -> Result<Admin> {
        let (bootstrap, settings) = self.resolve(printer)?;
        Admin::connect_with(&bootstrap.to_string(), settings)
            .await
            .map_err(unreachable)
    }
}

/// The environment and the files a properties file points to.
struct RealSources;

impl Sources for RealSources {
    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))
    }
}

/// A cluster that cannot be reached or answers with an error: exit 3.
pub fn unreachable(e: impl Into<anyhow::Error>) -> anyhow::Error {
    let error = e.into();
    let hint = reach_hint(error.downcast_ref::<KafkaError>());
    CodedError {
        exit: Exit::Failure,
        error,
        hint,
    }
    .into()
}

/// Where to look when a cluster call failed: the address and the cluster,
/// when nothing usable answered. A broker that answered with an error
/// code was reached at the right address, and its error says why; an
/// error of another kind keeps the hint.
pub fn reach_hint(e: Option<&KafkaError>) -> Option<String> {
    fn answered(e: &KafkaError) -> bool {
        match e {
            KafkaError::GaveUp { last, .. } => answered(last),
            KafkaError::Response { .. }
            | KafkaError::Resource { .. }
            | KafkaError::UnsupportedVersion { .. }
            | KafkaError::Codec { .. }
            | KafkaError::UnknownBroker(_) => true,
            KafkaError::Tls { .. } | KafkaError::Sasl { .. } => true,
            KafkaError::Connect { .. }
            | KafkaError::Timeout { .. }
            | KafkaError::NotKafka { .. }
            | KafkaError::Closed { .. }
            | KafkaError::Io { .. }
            | KafkaError::NoBootstrap(_) => false,
        }
    }
    // A listener that answered in another protocol or refused the
    // credentials: the client's security settings are where to look.
    fn security(e: &KafkaError) -> Option<&'static str> {
        match e {
            KafkaError::GaveUp { last, .. } => security(last),
            // Every bootstrap address refused alike: that is the cause.
            KafkaError::NoBootstrap(all) if !all.is_empty() => {
                let first = security(&all[0])?;
                all.iter()
                    .all(|e| security(e) == Some(first))
                    .then_some(first)
            }
            KafkaError::Tls { .. } => {
                Some("check security.protocol and the ssl.* settings in --command-config")
            }
            KafkaError::Sasl { .. } => {
                Some("check security.protocol and the sasl.* settings in --command-config")
            }
            _ => None,
        }
    }
    if let Some(hint) = e.and_then(security) {
        return Some(hint.into());
    }
    (!e.is_some_and(answered)).then(|| "check --bootstrap-server and that the cluster is up".into())
}

/// An input as messages name it: `<stdin>` for `-`.
pub fn input_name(path: &str) -> &str {
    if path == "-" { "<stdin>" } else { path }
}

/// The plan a command reads: a positional argument, or
/// `--reassignment-json-file` as `kafka-reassign-partitions.sh` users type
/// it (one of the two).
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct PlanFileArg {
    /// The plan, in Kafka's reassignment JSON (`-` for standard input).
    #[arg(value_name = "PLAN")]
    plan: Option<String>,
    /// The plan, as kafka-reassign-partitions.sh names it (same as PLAN).
    #[arg(long, value_name = "FILE")]
    reassignment_json_file: Option<String>,
}

impl PlanFileArg {
    /// The path given, `-` for standard input.
    pub fn path(&self) -> &str {
        self.plan
            .as_deref()
            .or(self.reassignment_json_file.as_deref())
            .expect("clap requires one of the two")
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::model::live::ErrorCode;

    // regression: a broker refusing a call (here an authorization error)
    // was answered with "check --bootstrap-server and that the cluster is
    // up", which sends the operator after the wrong thing.
    #[test]
    fn the_reach_hint_is_for_calls_that_reached_nothing() {
        let refused = KafkaError::Response {
            api: "ElectLeaders",
            addr: "b1:9092".into(),
            error: ErrorCode::new(31, None),
        };
        let timeout = KafkaError::Timeout {
            api: "Metadata",
            addr: "b1:9092".into(),
            after: Duration::from_secs(30),
        };
        let gave_up = |last| KafkaError::GaveUp {
            api: "Metadata",
            attempts: 3,
            elapsed: Duration::from_secs(30),
            last: Box::new(last),
        };
        assert_eq!(reach_hint(Some(&refused)), None);
        assert_eq!(reach_hint(Some(&gave_up(refused))), None);
        assert!(reach_hint(Some(&timeout)).is_some());
        assert!(reach_hint(Some(&gave_up(timeout))).is_some());
        assert!(reach_hint(None).is_some());
    }

    // regression: a wrong password at every bootstrap address was hinted
    // "check --bootstrap-server and that the cluster is up".
    #[test]
    fn bootstrap_addresses_refusing_alike_hint_at_the_security_settings() {
        let sasl = |addr: &str| KafkaError::Sasl {
            addr: addr.into(),
            detail: "SASL_AUTHENTICATION_FAILED (58)".into(),
        };
        let down = KafkaError::Connect {
            addr: "b3:9092".into(),
            source: std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        };
        let all = KafkaError::NoBootstrap(vec![sasl("b1:9092"), sasl("b2:9092")]);
        assert!(reach_hint(Some(&all)).unwrap().contains("sasl.*"));
        let mixed = KafkaError::NoBootstrap(vec![sasl("b1:9092"), down]);
        assert_eq!(
            reach_hint(Some(&mixed)).unwrap(),
            "check --bootstrap-server and that the cluster is up"
        );
        assert!(reach_hint(Some(&KafkaError::NoBootstrap(Vec::new()))).is_some());
    }
}
