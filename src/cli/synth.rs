//! `kafka-migrate gen-snapshot`: a realistic synthetic snapshot to try the
//! planner on, without a cluster.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::exit::{Exit, invalid};
use super::printer::{OutputFormat, Printer};
use super::{Output, check_outputs, write_outputs};
use crate::fsutil::STDIO;
use crate::model::snapshot;
use crate::synth::{Profile, generate, log_dirs};

/// Ceilings that keep a typo from filling the memory: far above real
/// clusters, and above the planner's own benchmark (300 brokers, a million
/// partitions).
const MAX_BROKERS: u64 = 10_000;
const MAX_PARTITIONS: u64 = 10_000_000;

#[derive(Debug, Args)]
pub struct GenArgs {
    /// Brokers in the cluster (dead ones included), 1 to 10000.
    #[arg(long = "broker-count", alias = "brokers", value_name = "N", default_value_t = 12,
          value_parser = clap::value_parser!(u64).range(1..=MAX_BROKERS))]
    pub brokers: u64,
    /// Racks the brokers are spread over, at most one per broker (0: no
    /// racks) [default: 3, or one per broker if fewer].
    #[arg(long = "rack-count", alias = "racks", value_name = "N")]
    pub racks: Option<u64>,
    /// About this many partitions (whole topics are added until reached),
    /// 1 to 10000000.
    #[arg(long, value_name = "N", default_value_t = 2000,
          value_parser = clap::value_parser!(u64).range(1..=MAX_PARTITIONS))]
    pub partitions: u64,
    /// The cluster grew in this many steps (old brokers carry more), 1 to
    /// the broker count [default: 3, or the broker count if fewer].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=MAX_BROKERS))]
    pub growth_steps: Option<u64>,
    /// Brokers marked `"alive": false` that still hold replicas; at least
    /// one broker stays alive [default: 1, or 0 with one broker].
    #[arg(long, value_name = "N")]
    pub dead_brokers: Option<u64>,
    /// Every partition has replication factor 3 (otherwise 1 to 3 mixed).
    #[arg(long)]
    pub rf3: bool,
    /// Racks of equal size (otherwise uneven).
    #[arg(long)]
    pub even_racks: bool,
    /// Give every alive broker N log dirs (JBOD, 1 to 64) and record each
    /// replica's, placed as Kafka would (the dir with the fewest
    /// partitions): what `plan --balance-disks` evens out.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=64))]
    pub log_dirs: Option<u64>,
    /// The same seed gives the same snapshot.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output file (standard output if absent or `-`).
    #[arg(short = 'o', long = "out")]
    pub out: Option<PathBuf>,
    /// Refuse to replace an existing output file.
    #[arg(long)]
    pub no_clobber: bool,
}

/// The counts that depend on the broker count: a value given that does
/// not fit is an error naming both flags; a default that does not fit
/// shrinks to what fits (`--broker-count 2` alone still works).
struct Counts {
    racks: u64,
    growth_steps: u64,
    dead_brokers: u64,
}

fn counts(a: &GenArgs) -> Result<Counts> {
    let n = a.brokers;
    let racks = match a.racks {
        Some(r) if r > n => {
            return Err(invalid(anyhow::anyhow!(
                "--rack-count {r} is more than --broker-count {n}: every rack needs a broker"
            )));
        }
        Some(r) => r,
        None => n.min(3),
    };
    let growth_steps = match a.growth_steps {
        Some(g) if g > n => {
            return Err(invalid(anyhow::anyhow!(
                "--growth-steps {g} is more than --broker-count {n}: every step adds a broker"
            )));
        }
        Some(g) => g,
        None => n.min(3),
    };
    let dead_brokers = match a.dead_brokers {
        Some(d) if d >= n => {
            return Err(invalid(anyhow::anyhow!(
                "--dead-brokers {d} leaves no alive broker of --broker-count {n}"
            )));
        }
        Some(d) => d,
        None => (n - 1).min(1),
    };
    Ok(Counts {
        racks,
        growth_steps,
        dead_brokers,
    })
}

pub fn exec(a: GenArgs) -> Result<Exit> {
    let c = counts(&a)?;
    // Within the ceilings above, every count fits a usize.
    let size = |v: u64| v as usize;
    let profile = Profile {
        brokers: size(a.brokers),
        racks: size(c.racks),
        uneven_racks: !a.even_racks,
        growth_steps: size(c.growth_steps),
        partitions: size(a.partitions),
        dead_brokers: size(c.dead_brokers),
        rf1: if a.rf3 { 0.0 } else { 0.1 },
        rf2: if a.rf3 { 0.0 } else { 0.2 },
        ..Profile::default()
    };
    let path = a.out.unwrap_or_else(|| PathBuf::from(STDIO));
    check_outputs(&[], &[("--out", &path)], a.no_clobber)?;
    let printer = Printer::new(OutputFormat::Text);
    let output = Output {
        what: "snapshot".into(),
        path: &path,
        contents: {
            let cluster = generate(&profile, a.seed);
            match a.log_dirs {
                Some(n) => {
                    snapshot::to_json_with_log_dirs(&cluster, &log_dirs(&cluster, n as usize))
                }
                None => snapshot::to_json(&cluster),
            }
        },
    };
    for line in write_outputs(&printer, vec![output], a.no_clobber)? {
        printer.note(&line);
    }
    Ok(Exit::Ok)
}
