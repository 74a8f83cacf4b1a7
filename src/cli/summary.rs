//! The plan summary as people read it: a table per broker, before → after,
//! with a bar per broker, then the totals against the lower bound, what no
//! plan can heal, why a rack's brokers hold more, and a legend.

use super::printer::{bar, table};
use crate::analysis::{BrokerRow, Summary};
use crate::model::health::name_some;
use crate::units::{human_bytes, human_duration};

/// What becomes of a broker: dead, drained (not a target), new (a
/// target that starts empty), or blank for a target that stays.
pub fn state(b: &BrokerRow) -> &'static str {
    match (b.alive, b.target) {
        (false, _) => "dead",
        (true, false) => "drain",
        (true, true) if b.replicas_before == 0 => "new",
        (true, true) => "",
    }
}

/// The terms of the summary, explained once after it.
pub const LEGEND: &str = "\
terms: replica excess/deficit: the most replicas one broker holds above/below its ideal range
         (the floor..ceiling of its rack-aware share of all replicas); 0 when every broker is in range
       topic excess: the same for one topic's replicas on one broker, against that topic's share
       bytes max/ideal: the fullest broker's bytes over its share of all bytes (1.000 = even)
       preferred leaders: partitions whose first replica is the broker (it leads them after a
         preferred leader election); spread: most minus fewest over the target brokers";

/// How many offline partitions the summary names before "and N more".
pub const NAMED: usize = 10;

/// Renders the summary. `by_bytes` draws the bars by bytes instead of
/// replica counts (the size objective).
pub fn render(sum: &Summary, by_bytes: bool, throttle: Option<u64>) -> String {
    let load = |r: &crate::analysis::BrokerRow| {
        if by_bytes {
            r.bytes_after as f64
        } else {
            r.replicas_after as f64
        }
    };
    let max = sum.brokers.iter().map(load).fold(0.0, f64::max);
    let arrow = |a: u64, b: u64| {
        if a == b {
            a.to_string()
        } else {
            format!("{a} → {b}")
        }
    };
    let rows = sum
        .brokers
        .iter()
        .filter(|r| r.replicas_before > 0 || r.replicas_after > 0 || r.target)
        .map(|r| {
            vec![
                r.id.to_string(),
                r.rack.clone().unwrap_or_else(|| "-".into()),
                state(r).to_string(),
                arrow(r.replicas_before, r.replicas_after),
                arrow(r.leaders_before, r.leaders_after),
                if r.bytes_before == r.bytes_after {
                    human_bytes(r.bytes_after)
                } else {
                    format!(
                        "{} → {}",
                        human_bytes(r.bytes_before),
                        human_bytes(r.bytes_after)
                    )
                },
                bar(load(r), max, 12),
            ]
        })
        .collect();
    let t = &sum.totals;
    let mut out = table(
        &[
            "broker",
            "rack",
            "state",
            "replicas",
            "preferred leaders",
            "bytes",
            if by_bytes {
                "bytes after"
            } else {
                "replicas after"
            },
        ],
        3,
        rows,
    );
    // The bar column reads better left-aligned; the table keeps it as text.
    out.push('\n');
    let bound = t.replica_moves_lower_bound;
    let gap = match t.replicas_moved.checked_sub(bound) {
        Some(gap) if bound > 0 => format!("gap {gap} (+{:.1}%)", gap as f64 * 100.0 / bound as f64),
        Some(gap) => format!("gap {gap}"),
        // Below it, the plan balances less than the bound assumes: a part
        // of the cluster, or counts one outside their range (as the
        // quality bar allows) to save moves.
        None => "(the bound is for a full rebalance, every count in range)".to_string(),
    };
    out.push_str(&format!(
        "partitions moved: {} of {} ({} more reordered for leader balance)\n",
        t.partitions_moved, t.partitions, t.partitions_reordered_only
    ));
    out.push_str(&format!(
        "replicas moved:   {}  lower bound {bound}  {gap}\n",
        t.replicas_moved
    ));
    // The bytes bound is for bytes balanced exactly: a count plan is not
    // held to it.
    if by_bytes {
        out.push_str(&format!(
            "bytes moved:      {}  lower bound {}\n",
            human_bytes(t.bytes_moved),
            human_bytes(t.bytes_moves_lower_bound)
        ));
    } else {
        out.push_str(&format!(
            "bytes moved:      {}\n",
            human_bytes(t.bytes_moved)
        ));
    }
    out.push_str(&format!(
        "balance:          replica excess {} → {}, deficit {} → {}, preferred-leader spread {} → {}, topic excess {} → {}, bytes max/ideal {:.3} → {:.3}\n",
        t.replica_excess_before,
        t.replica_excess_after,
        t.replica_deficit_before,
        t.replica_deficit_after,
        t.leader_spread_before,
        t.leader_spread_after,
        t.topic_excess_before,
        t.topic_excess_after,
        t.bytes_max_over_ideal_before,
        t.bytes_max_over_ideal_after,
    ));
    out.push_str(&format!(
        "rack violations:  {} → {}",
        t.rack_violations_before, t.rack_violations_after
    ));
    if let (Some(secs), Some(rate)) = (t.estimated_seconds, throttle) {
        out.push_str(&format!(
            "\nestimated time:   {} at {}/s (max {} in, {} out of one broker)",
            human_duration(secs),
            human_bytes(rate),
            human_bytes(t.max_inbound_bytes),
            human_bytes(t.max_outbound_bytes)
        ));
    }
    if !sum.offline_partitions.is_empty() {
        out.push_str(&format!(
            "\nunrecoverable:    {} partitions with no in-sync replica on a live broker, left as they are (no copy to move; bring a broker holding them back): {}",
            sum.offline_partitions.len(),
            name_some(&sum.offline_partitions, NAMED)
        ));
    }
    for r in &sum.crowded_racks {
        out.push_str(&format!(
            "\nnote: rack {} has {} of the {} target brokers, yet rack safety puts at least floor(RF/{}) replicas of every partition in each rack: its brokers' share is {:.2} replicas each, against {:.2} were racks ignored",
            r.rack,
            r.target_brokers,
            r.all_target_brokers,
            r.racks,
            r.ideal_replicas,
            r.even_replicas
        ));
    }
    out.push('\n');
    out.push_str(LEGEND);
    out
}
