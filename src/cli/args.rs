//! Flags that several commands share, declared once so they read, parse
//! and fail the same everywhere: where the cluster is (every live command)
//! and which plan file a command reads (`check`, and later `apply`,
//! `verify`, `cancel`).

use std::time::Duration;

use clap::Args;

use crate::kafka::{Bootstrap, parse_timeout};

/// How a live command reaches the cluster.
#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// Bootstrap servers, HOST:PORT[,HOST:PORT...].
    #[arg(
        long,
        value_name = "HOST:PORT",
        env = "KAFKA_MIGRATE_BOOTSTRAP",
        hide_env_values = true
    )]
    pub bootstrap_server: Bootstrap,
    /// How long to wait for each answer: seconds, or with a unit (500ms,
    /// 30s, 2m).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_timeout)]
    pub timeout: Duration,
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
