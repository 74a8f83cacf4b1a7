//! `--output markdown`: a plan's summary as a Markdown document fit for a
//! pull-request comment in GitOps CI. It is data, not terminal text: the
//! same bytes in every locale and on every terminal width, so a CI job can
//! post it as is and a snapshot test can pin it.

use crate::analysis::Summary;
use crate::units::{human_bytes, human_duration};

/// What a report says besides the summary.
pub struct Report<'a> {
    /// The heading: the command and what it judged.
    pub title: String,
    /// One line under the heading: the verdict.
    pub verdict: String,
    pub summary: &'a Summary,
    /// Rack constraints were in force (every broker has a rack).
    pub racks_known: bool,
    /// The throttle the time estimate assumes.
    pub throttle: Option<u64>,
    /// Extra rows of the totals table (e.g. `apply --dry-run`'s batches).
    pub extra_rows: Vec<(String, String)>,
    /// Extra sections after the tables, each a heading and its lines.
    pub sections: Vec<(String, Vec<String>)>,
    pub notes: &'a [String],
    pub warnings: &'a [String],
}

/// A table cell: a `|` would end the cell, a newline the row.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// `a → b`, or `a` when nothing changes.
fn change(a: String, b: String) -> String {
    if a == b { a } else { format!("{a} → {b}") }
}

pub fn render(r: &Report) -> String {
    let sum = r.summary;
    let t = &sum.totals;
    let mut out = format!("### {}\n\n{}\n\n", r.title, r.verdict);
    out.push_str("| broker | rack | state | replicas | preferred leaders | bytes |\n");
    out.push_str("|---:|---|---|---:|---:|---:|\n");
    for b in sum
        .brokers
        .iter()
        .filter(|b| b.replicas_before > 0 || b.replicas_after > 0 || b.target)
    {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            b.id,
            cell(b.rack.as_deref().unwrap_or("-")),
            super::summary::state(b),
            change(b.replicas_before.to_string(), b.replicas_after.to_string()),
            change(b.leaders_before.to_string(), b.leaders_after.to_string()),
            change(human_bytes(b.bytes_before), human_bytes(b.bytes_after)),
        ));
    }
    let bound = t.replica_moves_lower_bound;
    let against_bound = match t.replicas_moved.checked_sub(bound) {
        Some(0) => format!("{} (the lower bound)", t.replicas_moved),
        Some(gap) if bound > 0 => format!(
            "{} (lower bound {bound}, +{gap}, +{:.1}%)",
            t.replicas_moved,
            gap as f64 * 100.0 / bound as f64
        ),
        Some(gap) => format!("{} (lower bound {bound}, +{gap})", t.replicas_moved),
        None => format!(
            "{} (lower bound {bound} is for a full rebalance)",
            t.replicas_moved
        ),
    };
    let mut rows: Vec<(String, String)> = vec![
        (
            "partitions moved".into(),
            format!(
                "{} of {} ({} more reordered for leader balance)",
                t.partitions_moved, t.partitions, t.partitions_reordered_only
            ),
        ),
        ("replica moves".into(), against_bound),
        ("bytes moved".into(), human_bytes(t.bytes_moved)),
        (
            "largest broker transfer".into(),
            format!(
                "{} in, {} out",
                human_bytes(t.max_inbound_bytes),
                human_bytes(t.max_outbound_bytes)
            ),
        ),
        (
            "rack safety".into(),
            if r.racks_known {
                let verdict = if t.rack_violations_after == 0 {
                    "every partition spans the racks it needs"
                } else {
                    "partitions left short of racks"
                };
                format!(
                    "violations {}: {verdict}",
                    change(
                        t.rack_violations_before.to_string(),
                        t.rack_violations_after.to_string()
                    )
                )
            } else {
                "not checked: not every broker has a rack".into()
            },
        ),
        (
            "balance".into(),
            format!(
                "replica excess {}, preferred-leader spread {}, bytes max/ideal {}",
                change(
                    t.replica_excess_before.to_string(),
                    t.replica_excess_after.to_string()
                ),
                change(
                    t.leader_spread_before.to_string(),
                    t.leader_spread_after.to_string()
                ),
                change(
                    format!("{:.3}", t.bytes_max_over_ideal_before),
                    format!("{:.3}", t.bytes_max_over_ideal_after)
                ),
            ),
        ),
        (
            "estimated time".into(),
            match (t.estimated_seconds, r.throttle) {
                (Some(secs), Some(rate)) => format!(
                    "{} at {}/s (the busiest broker's bytes over the throttle)",
                    human_duration(secs),
                    human_bytes(rate)
                ),
                _ => "pass --throttle RATE for an estimate".into(),
            },
        ),
    ];
    if !sum.offline_partitions.is_empty() {
        rows.push((
            "unrecoverable".into(),
            format!(
                "{} partitions with no in-sync replica on a live broker",
                sum.offline_partitions.len()
            ),
        ));
    }
    rows.extend(r.extra_rows.iter().cloned());
    out.push_str("\n| | |\n|---|---|\n");
    for (k, v) in &rows {
        out.push_str(&format!("| {} | {} |\n", cell(k), cell(v)));
    }
    let mut list = |heading: &str, lines: &[String]| {
        if !lines.is_empty() {
            out.push_str(&format!("\n**{heading}**\n\n"));
            for l in lines {
                out.push_str(&format!("- {}\n", l.replace('\n', " ")));
            }
        }
    };
    for (h, lines) in &r.sections {
        list(h, lines);
    }
    list("Warnings", r.warnings);
    list("Notes", r.notes);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_cannot_break_the_table() {
        assert_eq!(cell("a|b\nc"), "a\\|b c");
        assert_eq!(change("1".into(), "1".into()), "1");
        assert_eq!(change("1".into(), "2".into()), "1 → 2");
    }
}
