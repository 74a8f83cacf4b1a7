//! Lower bounds on the replica moves any plan needs: the planner steers by
//! them and the summary reports against them. Pure.

use super::flow::{BIG, Flow};
use super::state::State;

/// Above this many replicas the flow bound is skipped (it gets slow); the
/// simple bound stands.
pub const FLOW_BOUND_MAX_REPLICAS: u64 = 200_000;

/// The fewest replica moves that leave every target broker within its
/// quota when a replica may only go to a rack that keeps its partition
/// spanning `min(rf, racks)` racks (judged against the other replicas'
/// starting racks). A min-cost flow: source -> broker -> (broker, allowed
/// racks) -> target broker -> sink, where staying costs 0, moving 1, and
/// every unit up to a broker's floor earns a large reward so floors fill
/// first. It ignores that a partition cannot hold a broker twice, so it is
/// a lower bound. `None` when no assignment fits the quotas.
pub fn flow_bound(
    before: &[Vec<usize>],
    rack: &[Option<usize>],
    target_racks: &[usize],
    is_target: &[bool],
    quota: &[(u64, u64)],
) -> Option<u64> {
    use std::collections::BTreeMap;
    let nb = rack.len();
    let k = target_racks.len().max(1);
    // (broker, allowed racks as a bit set over target_racks) -> replicas.
    let mut classes: BTreeMap<(usize, u64), i64> = BTreeMap::new();
    let mut held = vec![0i64; nb];
    for reps in before {
        let need = reps.len().min(k);
        for (i, &u) in reps.iter().enumerate() {
            let others: Vec<Option<usize>> = reps
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, &x)| rack[x])
                .collect();
            let mut allowed = 0u64;
            for (bit, &r) in target_racks.iter().enumerate().take(64) {
                let mut spread: Vec<Option<usize>> = others.clone();
                spread.push(Some(r));
                spread.sort_unstable();
                spread.dedup();
                if spread.iter().flatten().count() >= need {
                    allowed |= 1 << bit;
                }
            }
            *classes.entry((u, allowed)).or_default() += 1;
            held[u] += 1;
        }
    }
    let mut g = Flow::default();
    let (s, t) = (g.node(), g.node());
    let out: Vec<usize> = (0..nb).map(|_| g.node()).collect();
    let into: Vec<usize> = (0..nb).map(|_| g.node()).collect();
    for u in 0..nb {
        if held[u] > 0 {
            g.edge(s, out[u], held[u], 0);
        }
    }
    for (&(u, allowed), &n) in &classes {
        let c = g.node();
        g.edge(out[u], c, n, 0);
        if is_target[u] {
            g.edge(c, into[u], n, 0);
        }
        for v in 0..nb {
            let ok = is_target[v]
                && v != u
                && rack[v]
                    .and_then(|r| target_racks.iter().position(|&x| x == r))
                    .is_some_and(|bit| bit < 64 && allowed & (1 << bit) != 0);
            if ok {
                g.edge(c, into[v], n, 1);
            }
        }
    }
    let mut floors = 0i64;
    for v in (0..nb).filter(|&v| is_target[v]) {
        let (lo, hi) = quota[v];
        floors += lo as i64;
        g.edge(into[v], t, lo as i64, -BIG);
        if hi > lo {
            g.edge(into[v], t, (hi - lo) as i64, 0);
        }
    }
    let total: i64 = held.iter().sum();
    let (flow, cost) = g.min_cost_flow(s, t);
    (flow == total).then(|| (cost + BIG * floors).max(0) as u64)
}

/// One topic as [`topic_floor`] sees it: its replicas, what every rack
/// must and may hold of it (`sum floor(rf/K)` and `sum ceil(rf/K)` over
/// its partitions), and its per-broker share on each rack, rounded up.
pub struct TopicRacks {
    pub total: u64,
    pub lo: u64,
    pub hi: u64,
    pub share: Vec<u64>,
}

/// The smallest topic excess (replicas of a topic on one broker above its
/// share) that any placement with every broker inside its quota can reach.
/// On uneven racks the partitions that span every rack pull a small
/// rack's brokers full, so the other topics cannot all get their own
/// shares there, and their excess lands on the other racks.
///
/// Brokers of a rack are interchangeable here (one quota, one share per
/// rack): a topic holding `y` replicas in a rack of `n` brokers can spread
/// them to `ceil(y / n)` per broker. So the question is a flow over
/// (topic, rack) pairs: topic -> (topic, rack) with `lo..=min(hi, n *
/// (share + e))` -> rack with its quota range, searched for the least `e`.
/// It ignores that a partition cannot hold a broker twice, so the result
/// is a floor. `racks[r]` is `(brokers, lo, hi)` with the rack's quota
/// range summed over its brokers. `None` when not even a free `e` fits.
pub fn topic_floor(topics: &[TopicRacks], racks: &[(u64, u64, u64)]) -> Option<u64> {
    let fits = |e: u64| -> bool {
        let mut g = Flow::default();
        let (s, t) = (g.node(), g.node());
        let rack_nodes: Vec<usize> = racks.iter().map(|_| g.node()).collect();
        let mut forced = Vec::new();
        for (r, &(_, lo, hi)) in racks.iter().enumerate() {
            forced.push(g.edge(rack_nodes[r], t, lo as i64, -BIG));
            g.edge(rack_nodes[r], t, (hi - lo) as i64, 0);
        }
        for topic in topics {
            let tn = g.node();
            g.edge(s, tn, topic.total as i64, 0);
            for (r, &(n, _, _)) in racks.iter().enumerate() {
                let up = topic.hi.min(n * (topic.share[r] + e));
                if up < topic.lo {
                    return false;
                }
                forced.push(g.edge(tn, rack_nodes[r], topic.lo as i64, -BIG));
                g.edge(tn, rack_nodes[r], (up - topic.lo) as i64, 0);
            }
        }
        let total: i64 = topics.iter().map(|t| t.total as i64).sum();
        let (flow, _) = g.min_cost_flow(s, t);
        flow == total && forced.iter().all(|&e| g.left_on(e) == 0)
    };
    let top = topics.iter().map(|t| t.total).max().unwrap_or(0);
    if !fits(top) {
        return None;
    }
    let (mut a, mut b) = (0u64, top);
    while a < b {
        let mid = (a + b) / 2;
        if fits(mid) {
            b = mid;
        } else {
            a = mid + 1;
        }
    }
    Some(a)
}

/// The fewest moves any plan needs to bring every target into its range:
/// what sits on non-targets or above the ceilings must leave, what is
/// missing below the floors must arrive.
pub(super) fn lower_bound(st: &State) -> u64 {
    let mut leave = 0u64;
    let mut arrive = 0u64;
    for b in 0..st.broker_count {
        if st.target[b] {
            leave += st.count[b].saturating_sub(st.ceiling[b]) as u64;
            arrive += st.floor[b].saturating_sub(st.count[b]) as u64;
        } else {
            leave += st.count[b] as u64;
        }
    }
    leave.max(arrive)
}

/// What must leave each rack, where racks count: replicas outside the
/// target set, plus per target rack the more of what its brokers hold
/// above their ceilings and what cannot stay because replicas bound to the
/// rack (of partitions spanning every target rack, which can never leave
/// it) take its room. The flow bound sees this too; this term stands
/// where the flow is skipped, above its size limit. 0 without racks.
pub(super) fn rack_lock_bound(st: &State) -> u64 {
    if st.rack.iter().all(Option::is_none) {
        return 0;
    }
    let mut locked = vec![0u64; st.broker_count];
    for reps in &st.reps {
        if reps.len() == st.k_target {
            for &b in reps {
                locked[b as usize] += 1;
            }
        }
    }
    let mut racks: Vec<u16> = (0..st.broker_count)
        .filter(|&b| st.target[b])
        .filter_map(|b| st.rack[b])
        .collect();
    racks.sort_unstable();
    racks.dedup();
    let mut leave: u64 = (0..st.broker_count)
        .filter(|&b| !st.target[b])
        .map(|b| u64::from(st.count[b]))
        .sum();
    for r in racks {
        let in_rack = |b: &usize| st.rack[*b] == Some(r);
        let members: Vec<usize> = (0..st.broker_count)
            .filter(|&b| st.target[b])
            .filter(in_rack)
            .collect();
        let room: u64 = members.iter().map(|&b| u64::from(st.ceiling[b])).sum();
        let by_count: u64 = members
            .iter()
            .map(|&b| u64::from(st.count[b].saturating_sub(st.ceiling[b])))
            .sum();
        let locked_here: u64 = (0..st.broker_count)
            .filter(in_rack)
            .map(|b| locked[b])
            .sum();
        let free_here: u64 = members
            .iter()
            .map(|&b| u64::from(st.count[b]) - locked[b])
            .sum();
        let by_lock = free_here.saturating_sub(room.saturating_sub(locked_here));
        leave += by_count.max(by_lock);
    }
    leave
}

/// The rack-routed bound (see [`flow_bound`]) of the starting state, or 0
/// where it does not apply or would be slow.
pub(super) fn flow_bound_of(st: &State) -> u64 {
    let replicas: usize = st.reps.iter().map(|r| r.len()).sum();
    if st.k_target <= 1 || replicas as u64 > FLOW_BOUND_MAX_REPLICAS {
        return 0;
    }
    let before: Vec<Vec<usize>> = st
        .reps
        .iter()
        .map(|r| r.iter().map(|&b| b as usize).collect())
        .collect();
    let rack: Vec<Option<usize>> = st.rack.iter().map(|r| r.map(usize::from)).collect();
    let mut target_racks: Vec<usize> = (0..st.broker_count)
        .filter(|&b| st.target[b])
        .filter_map(|b| rack[b])
        .collect();
    target_racks.sort_unstable();
    target_racks.dedup();
    let quota: Vec<(u64, u64)> = (0..st.broker_count)
        .map(|b| (u64::from(st.floor[b]), u64::from(st.ceiling[b])))
        .collect();
    flow_bound(&before, &rack, &target_racks, &st.target, &quota).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_floor_sees_a_full_small_rack() {
        // Rack 0 has one broker, rack 1 three. Topic a (RF2, 4 partitions)
        // puts one replica of each in every rack, so rack 0's broker is
        // full with a's 4 and its quota (4..4). Topic b (RF1, 8
        // partitions) has a share of 2 per broker, but all 8 must go to
        // rack 1's three brokers: 3 on some, one above the share.
        // Topic a as above; topic b with the given share per rack.
        let topics = |b_share: Vec<u64>| {
            [
                TopicRacks {
                    total: 8,
                    lo: 4,
                    hi: 4,
                    share: vec![4, 2],
                },
                TopicRacks {
                    total: 8,
                    lo: 0,
                    hi: 8,
                    share: b_share,
                },
            ]
        };
        let racks = [(1, 4, 4), (3, 12, 12)];
        assert_eq!(topic_floor(&topics(vec![2, 2]), &racks), Some(1));
        // With room on rack 0, every topic fits its share.
        let roomy = [(1, 4, 6), (3, 10, 12)];
        assert_eq!(topic_floor(&topics(vec![2, 3]), &roomy), Some(0));
    }
}
