//! `kafka-migrate gen-snapshot`: a realistic synthetic snapshot to try the
//! planner on, without a cluster.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::exit::Exit;
use super::printer::{OutputFormat, Printer};
use super::{Output, check_outputs, write_outputs};
use crate::fsutil::STDIO;
use crate::model::snapshot;
use crate::synth::{Profile, generate};

#[derive(Debug, Args)]
pub struct GenArgs {
    /// Brokers in the cluster (dead ones included).
    #[arg(long, default_value_t = 12)]
    pub brokers: usize,
    /// Racks the brokers are spread over (0: no racks).
    #[arg(long, default_value_t = 3)]
    pub racks: usize,
    /// About this many partitions (whole topics are added until reached).
    #[arg(long, default_value_t = 2000)]
    pub partitions: usize,
    /// The cluster grew in this many steps (old brokers carry more).
    #[arg(long, default_value_t = 3)]
    pub growth_steps: usize,
    /// Brokers marked `"alive": false` that still hold replicas.
    #[arg(long, default_value_t = 1)]
    pub dead_brokers: usize,
    /// Every partition has replication factor 3 (otherwise 1 to 3 mixed).
    #[arg(long)]
    pub rf3: bool,
    /// Racks of equal size (otherwise uneven).
    #[arg(long)]
    pub even_racks: bool,
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

pub fn exec(a: GenArgs) -> Result<Exit> {
    let profile = Profile {
        brokers: a.brokers,
        racks: a.racks,
        uneven_racks: !a.even_racks,
        growth_steps: a.growth_steps,
        partitions: a.partitions,
        dead_brokers: a.dead_brokers,
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
        contents: snapshot::to_json(&generate(&profile, a.seed)),
    };
    for line in write_outputs(&printer, vec![output], a.no_clobber)? {
        printer.note(&line);
    }
    Ok(Exit::Ok)
}
