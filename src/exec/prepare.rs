//! Preflight for `apply` and `rollback`: everything decided before the
//! first request, as a pure function of the live cluster, the plan and the
//! assignment the plan was made against.
//!
//! It refuses what `check` refuses (unknown or dead targets, replication
//! factor changes, moves of partitions with no live in-sync replica), a stale plan
//! (a partition's live replicas are neither what the plan was made against
//! nor its target), and moves in flight the plan did not start unless the
//! operator passes `--additional`. It computes the rollback content (the
//! live assignment of every planned partition, before any of this plan's
//! moves) and which partitions are already done or already moving to
//! their target (a resumed run).
//!
//! What it must not do: talk to the cluster or read files (the caller
//! fetches the cluster and reads the rollback file).

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::disks;
use super::journal::plan_digest;
use crate::analysis;
use crate::model::live::LogDirs;
use crate::model::reassignment::{Move, Reassignment, check_references};
use crate::model::{BrokerId, Cluster, Partition, Problem, RackCoverage, TopicPartition};

/// What the operator allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PrepareSettings {
    /// `--allow-rf-change`: accept plans that change a replication factor.
    pub allow_rf_change: bool,
    /// `--force`: run a stale plan (warn instead of refusing).
    pub force: bool,
    /// `--additional`: run beside moves this plan did not start, and
    /// replace the targets of planned partitions already moving elsewhere.
    pub additional: bool,
    /// `--strict`: rack violations refuse the plan instead of warning.
    pub strict: bool,
}

/// Why a problem refuses the plan (the CLI maps kinds to hints; all are
/// exit 2, bad input for this cluster).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalKind {
    /// The plan does not fit the cluster (as `check` says).
    Invalid,
    /// Live replicas differ from what the plan was made against
    /// (`--force` runs it anyway).
    Stale,
    /// Other moves are in flight (`--additional` runs beside them).
    InFlight,
}

/// Every reason the plan is refused, sorted (kind, then location).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub problems: Vec<(RefusalKind, Problem)>,
}

impl Refusal {
    pub fn has(&self, kind: RefusalKind) -> bool {
        self.problems.iter().any(|(k, _)| *k == kind)
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (_, p)) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Refusal {}

/// A plan checked against the live cluster and ready for [`super::apply::apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    pub plan: Reassignment,
    /// [`plan_digest`] of `plan` (the journal's key).
    pub digest: String,
    /// The live assignment of every planned partition before this plan
    /// moved it: what the CLI writes as the rollback file before the first
    /// request. Taken from the rollback file given (`expected_before`)
    /// where the partition is still there, already done or moving to its
    /// target, so that a resumed run keeps the original assignment.
    pub rollback: Reassignment,
    /// Rack shortfalls (unless `strict`), stale partitions run with
    /// `force`, targets replaced with `additional`, partitions missing from
    /// the rollback file given.
    pub warnings: Vec<Problem>,
    /// Planned partitions already at their target and not moving.
    pub done: Vec<TopicPartition>,
    /// Planned partitions already moving to their target (a resumed run).
    pub moving: Vec<TopicPartition>,
    /// Planned partitions moving to another target (only with
    /// `additional`): this plan replaces the target.
    pub replacing: Vec<TopicPartition>,
}

/// What a partition holds before any move in flight: `replicas - adding`.
pub fn original_replicas(p: &Partition) -> Vec<BrokerId> {
    match &p.in_flight {
        Some(m) => p
            .replicas
            .iter()
            .copied()
            .filter(|b| !m.adding.contains(b))
            .collect(),
        None => p.replicas.clone(),
    }
}

/// The problems `check` finds in `moves` against `cluster` (settled, no
/// moves in flight): unknown topics, partitions and brokers, dead targets,
/// replication-factor changes, new replicas for partitions with no live
/// in-sync replica. `before` gives each partition's replicas to compare against
/// (the live original when moves are in flight).
pub fn move_problems(
    cluster: &Cluster,
    moves: &[Move],
    before: &dyn Fn(&TopicPartition) -> Option<Vec<BrokerId>>,
    allow_rf_change: bool,
) -> Vec<Problem> {
    let mut problems = check_references(moves, cluster);
    let alive = |b: BrokerId| cluster.broker(b).is_some_and(|x| x.alive);
    for m in moves {
        let Some(before) = before(&m.tp) else {
            continue;
        };
        let loc = m.tp.to_string();
        let leadable = match cluster.partition(&m.tp) {
            Some(p) => p.can_lead(alive),
            None => before.iter().any(|&b| alive(b)),
        };
        if !leadable && m.replicas.iter().any(|b| !before.contains(b)) {
            problems.push(Problem::new(
                &loc,
                "has no in-sync replica on a live broker: a new replica would have nothing to copy, and the move would never finish",
            ));
        }
        if m.replicas.len() != before.len() && !allow_rf_change {
            problems.push(Problem::new(
                &loc,
                format!(
                    "changes the replication factor {} -> {} (pass --allow-rf-change if intended)",
                    before.len(),
                    m.replicas.len()
                ),
            ));
        }
        for &b in &m.replicas {
            if cluster.broker(b).is_some_and(|x| !x.alive) {
                problems.push(Problem::new(
                    &loc,
                    format!("target broker {b} is not alive"),
                ));
            }
        }
    }
    problems
}

/// Partitions of `moves` that span fewer racks than they need
/// (min(rf, racks of the alive brokers)), as `(partition, message)`;
/// nothing when some alive broker has no rack.
pub fn rack_shortfalls(cluster: &Cluster, moves: &[Move]) -> Vec<Problem> {
    if cluster.rack_coverage() != RackCoverage::All {
        return Vec::new();
    }
    let alive: Vec<BrokerId> = cluster
        .brokers
        .iter()
        .filter(|b| b.alive)
        .map(|b| b.id)
        .collect();
    let racks = analysis::racks_spanned(cluster, &alive);
    moves
        .iter()
        .filter_map(|m| {
            let need = m.replicas.len().min(racks);
            let spans = analysis::racks_spanned(cluster, &m.replicas);
            (spans < need).then(|| {
                Problem::new(
                    m.tp.to_string(),
                    format!("spans {spans} of the {need} racks it needs (min(rf, racks))"),
                )
            })
        })
        .collect()
}

fn fmt_ids(ids: &[BrokerId]) -> String {
    let parts: Vec<String> = ids.iter().map(|b| b.to_string()).collect();
    format!("[{}]", parts.join(","))
}

/// Checks `plan` against the live `cluster` (as `describe` reports it,
/// moves in flight included) and the assignment it was made against
/// (`expected_before`, the rollback file `plan` wrote, if any).
pub fn prepare(
    cluster: &Cluster,
    plan: &Reassignment,
    expected_before: Option<&Reassignment>,
    settings: &PrepareSettings,
) -> Result<Prepared, Refusal> {
    let mut refusals: Vec<(RefusalKind, Problem)> = Vec::new();
    let mut warnings = Vec::new();
    let expected: BTreeMap<&TopicPartition, &Move> = expected_before
        .map(|r| r.moves().iter().map(|m| (&m.tp, m)).collect())
        .unwrap_or_default();

    let originals = |tp: &TopicPartition| cluster.partition(tp).map(original_replicas);
    let settled = cluster.settled();
    for p in move_problems(&settled, plan.moves(), &originals, settings.allow_rf_change) {
        refusals.push((RefusalKind::Invalid, p));
    }
    for p in rack_shortfalls(&settled, plan.moves()) {
        if settings.strict {
            refusals.push((RefusalKind::Invalid, p));
        } else {
            warnings.push(p);
        }
    }

    let mut done = Vec::new();
    let mut moving = Vec::new();
    let mut replacing = Vec::new();
    let mut rollback = Vec::new();
    for m in plan.moves() {
        let Some(p) = cluster.partition(&m.tp) else {
            continue;
        };
        let loc = m.tp.to_string();
        let original = original_replicas(p);
        let state_ok = match &p.in_flight {
            None if p.replicas == m.replicas => {
                done.push(m.tp.clone());
                true
            }
            None => false,
            Some(f) if f.target == m.replicas => {
                moving.push(m.tp.clone());
                true
            }
            Some(f) => {
                let msg = format!(
                    "being reassigned to {} by another run; this plan would replace that target (pass --additional to replace it)",
                    fmt_ids(&f.target)
                );
                if settings.additional {
                    replacing.push(m.tp.clone());
                    warnings.push(Problem::new(
                        &loc,
                        format!(
                            "being reassigned to {}; this plan replaces that target",
                            fmt_ids(&f.target)
                        ),
                    ));
                } else {
                    refusals.push((RefusalKind::InFlight, Problem::new(&loc, msg)));
                }
                false
            }
        };
        let before = match expected.get(&m.tp) {
            Some(e) if e.replicas == original || state_ok => e.replicas.clone(),
            Some(e) => {
                let msg = format!(
                    "live replicas {} differ from {} the plan was made against (stale plan; pass --force to run it anyway)",
                    fmt_ids(&original),
                    fmt_ids(&e.replicas)
                );
                if settings.force {
                    warnings.push(Problem::new(&loc, msg));
                } else {
                    refusals.push((RefusalKind::Stale, Problem::new(&loc, msg)));
                }
                original.clone()
            }
            None => {
                if expected_before.is_some() {
                    warnings.push(Problem::new(
                        &loc,
                        "not in the rollback file given; its live replicas are taken as the original",
                    ));
                }
                original.clone()
            }
        };
        rollback.push(Move::new(m.tp.clone(), before));
    }

    if !settings.additional {
        for (t, p) in cluster.partitions() {
            let tp = TopicPartition {
                topic: t.name.clone(),
                partition: p.partition,
            };
            if let Some(f) = &p.in_flight
                && plan.moves().binary_search_by(|m| m.tp.cmp(&tp)).is_err()
            {
                refusals.push((
                    RefusalKind::InFlight,
                    Problem::new(
                        tp.to_string(),
                        format!(
                            "is being reassigned to {} outside this plan (pass --additional to run beside it)",
                            fmt_ids(&f.target)
                        ),
                    ),
                ));
            }
        }
    }

    if !refusals.is_empty() {
        refusals.sort();
        refusals.dedup();
        return Err(Refusal { problems: refusals });
    }
    warnings.sort();
    warnings.dedup();
    let rollback = Reassignment::new("rollback", rollback).map_err(|e| Refusal {
        problems: e
            .problems
            .into_iter()
            .map(|p| (RefusalKind::Invalid, p))
            .collect(),
    })?;
    Ok(Prepared {
        plan: plan.clone(),
        digest: plan_digest(plan),
        rollback,
        warnings,
        done,
        moving,
        replacing,
    })
}

/// [`prepare`] with the plan's named log dirs checked against the dirs the
/// brokers report (`log_dirs`, DescribeLogDirs of the alive brokers the
/// plan names a dir on): a dir a broker does not have, or has offline,
/// refuses the plan with the partition, the broker and the dir, together
/// with every other refusal.
pub fn prepare_with_log_dirs(
    cluster: &Cluster,
    log_dirs: &LogDirs,
    plan: &Reassignment,
    expected_before: Option<&Reassignment>,
    settings: &PrepareSettings,
) -> Result<Prepared, Refusal> {
    let dir_moves = disks::dir_moves(plan.moves());
    let dir_problems = disks::dir_problems(&dir_moves, log_dirs);
    let result = prepare(cluster, plan, expected_before, settings);
    if dir_problems.is_empty() {
        // A partition at its replicas is done only with its disks too.
        return result.map(|mut p| {
            p.done.retain(|tp| {
                dir_moves
                    .iter()
                    .filter(|d| d.tp == *tp)
                    .all(|d| disks::DirState::of(d, log_dirs) == disks::DirState::InPlace)
            });
            p
        });
    }
    let mut problems = result.err().map(|r| r.problems).unwrap_or_default();
    problems.extend(dir_problems.into_iter().map(|p| (RefusalKind::Invalid, p)));
    problems.sort();
    problems.dedup();
    Err(Refusal { problems })
}
