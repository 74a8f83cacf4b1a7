//! `plan --balance-disks`: the flags, the disk plan beside the planner's
//! assignment, and the disks before and after as a table, in the JSON
//! report and in markdown.

use std::collections::BTreeSet;

use anyhow::Result;
use clap::Args;

use super::exit::invalid;
use super::printer::table;
use crate::analysis::disks::{DiskSummary, measure};
use crate::model::log_dirs::LogDirLayout;
use crate::model::reassignment::Reassignment;
use crate::model::{BrokerId, Cluster};
use crate::planner::disks::{self, DiskPlan};
use crate::units::human_bytes;

#[derive(Debug, Clone, Args)]
pub struct DiskArgs {
    /// Also even out each broker's log dirs (JBOD): moves between a
    /// broker's dirs (the plan's `log_dirs`), replicas arriving placed in
    /// the emptiest dirs first. Needs the log dirs `describe` records.
    #[arg(long)]
    pub balance_disks: bool,
    /// How far apart a broker's log dirs may end, in percent of its mean
    /// bytes per dir (fullest minus emptiest).
    #[arg(
        long,
        value_name = "PCT",
        default_value_t = 10.0,
        requires = "balance_disks",
        value_parser = parse_pct
    )]
    pub disk_tolerance: f64,
}

fn parse_pct(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("{s:?} is not a percentage"))?;
    if (0.0..=100.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{s:?} is not between 0 and 100"))
    }
}

/// The disk plan of a run and its measure.
pub struct Disks {
    pub plan: DiskPlan,
    pub summary: DiskSummary,
}

/// Plans the disks of `assignment`: an error when `source` records no log
/// dirs at all.
pub fn balance(
    cluster: &Cluster,
    assignment: &[Vec<BrokerId>],
    layout: &LogDirLayout,
    topics: Option<&BTreeSet<String>>,
    args: &DiskArgs,
    max_bytes: Option<u64>,
    source: &str,
) -> Result<Disks> {
    if layout.is_empty() {
        return Err(invalid(anyhow::anyhow!(
            "--balance-disks needs log dirs, and {source} records none (`describe -o FILE` records each broker's log dirs and each replica's)"
        )));
    }
    let plan = disks::balance(
        cluster,
        assignment,
        layout,
        topics,
        args.disk_tolerance,
        max_bytes,
    );
    let summary = measure(
        cluster,
        assignment,
        layout,
        &plan.log_dirs,
        args.disk_tolerance,
    );
    Ok(Disks { plan, summary })
}

impl Disks {
    pub fn reassignment(&self, cluster: &Cluster, assignment: &[Vec<BrokerId>]) -> Reassignment {
        disks::reassignment(cluster, assignment, &self.plan)
    }

    pub fn rollback(
        &self,
        cluster: &Cluster,
        assignment: &[Vec<BrokerId>],
        layout: &LogDirLayout,
    ) -> Reassignment {
        disks::rollback(cluster, assignment, &self.plan, layout)
    }

    /// What an operator should know: brokers left alone, tolerance missed.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.plan.unknown.is_empty() {
            out.push(format!(
                "--balance-disks left brokers {} alone: some of their replicas have no known log dir (describe again)",
                join(&self.plan.unknown)
            ));
        }
        let (budget, too_large): (Vec<BrokerId>, Vec<BrokerId>) = self
            .summary
            .brokers_outside_tolerance
            .iter()
            .partition(|b| self.plan.over_budget.contains(b));
        if !too_large.is_empty() {
            out.push(format!(
                "the log dirs of brokers {} end further apart than {}%: a partition too large to even them out",
                join(&too_large),
                self.summary.tolerance_pct
            ));
        }
        if !budget.is_empty() {
            out.push(format!(
                "the log dirs of brokers {} end further apart than {}%: --max-bytes (which counts moves between dirs too) leaves too little for them",
                join(&budget),
                self.summary.tolerance_pct
            ));
        }
        out
    }

    /// One line for the notes.
    pub fn note(&self) -> String {
        let s = &self.summary;
        format!(
            "disks: {} replicas move between log dirs ({}), {} arriving replicas placed in named dirs",
            s.replicas_moved_between_dirs,
            human_bytes(s.bytes_moved_between_dirs),
            s.replicas_placed
        )
    }

    /// The disks before and after as a table: per broker, each dir's
    /// bytes and the spread (fullest minus emptiest) against the tolerance.
    pub fn render(&self) -> String {
        let s = &self.summary;
        let mut rows = Vec::new();
        for b in &s.brokers {
            for (i, d) in b.dirs.iter().enumerate() {
                let spread = if i == 0 {
                    format!(
                        "{} → {} (≤ {})",
                        human_bytes(b.spread_before),
                        human_bytes(b.spread_after),
                        human_bytes(b.tolerance_bytes)
                    )
                } else {
                    String::new()
                };
                rows.push(vec![
                    if i == 0 {
                        b.id.to_string()
                    } else {
                        String::new()
                    },
                    d.dir.clone(),
                    human_bytes(d.bytes_before),
                    human_bytes(d.bytes_after),
                    spread,
                ]);
            }
            if b.unknown_before > 0 || b.unknown_after > 0 {
                rows.push(vec![
                    String::new(),
                    "(dir unknown)".into(),
                    human_bytes(b.unknown_before),
                    human_bytes(b.unknown_after),
                    String::new(),
                ]);
            }
        }
        format!(
            "disks (log dirs; tolerance {}% of each broker's mean bytes per dir):\n{}\n",
            s.tolerance_pct,
            table(&["broker", "log dir", "before", "after", "spread"], 2, rows)
        )
    }

    /// The markdown section: one line per broker.
    pub fn section(&self) -> (String, Vec<String>) {
        let lines = self
            .summary
            .brokers
            .iter()
            .map(|b| {
                let dirs: Vec<String> = b
                    .dirs
                    .iter()
                    .map(|d| {
                        format!(
                            "`{}` {} → {}",
                            d.dir,
                            human_bytes(d.bytes_before),
                            human_bytes(d.bytes_after)
                        )
                    })
                    .collect();
                format!(
                    "broker {}: {}; spread {} → {}",
                    b.id,
                    dirs.join(", "),
                    human_bytes(b.spread_before),
                    human_bytes(b.spread_after)
                )
            })
            .collect();
        (
            format!(
                "Disks (tolerance {}% of the mean per dir)",
                self.summary.tolerance_pct
            ),
            lines,
        )
    }
}

/// The plan's summary as JSON, with the disks under `disks` when
/// balanced (and as it always was otherwise).
pub fn with_summary(sum: &impl serde::Serialize, disks: Option<&Disks>) -> serde_json::Value {
    let mut out = serde_json::to_value(sum).expect("a summary serializes");
    if let (Some(d), Some(obj)) = (disks, out.as_object_mut()) {
        obj.insert(
            "disks".into(),
            serde_json::to_value(&d.summary).expect("a summary serializes"),
        );
    }
    out
}

fn join(ids: &[BrokerId]) -> String {
    ids.iter()
        .map(|b| b.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
