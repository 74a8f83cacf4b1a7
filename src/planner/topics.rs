//! Phase `topics`: topic repair. Where a broker still holds a topic two or
//! more over its share after the count phases, a replica of it moves to a
//! broker lacking the topic, or is swapped, within the bar's slack.
//!
//! Input: the state after the count phases (and the transport) and where
//! replicas started. Output: fewer (topic, broker) pairs two over the
//! share. Invariant: counts stay in their range and the plan stays within
//! `limit` moves of the start (moves counted net of where replicas
//! started).

use super::moves::{allowed_racks, topic_class, topic_starts};
use super::state::{BrokerIx, State, move_cost};

/// Topic repair: where a broker still holds two or more replicas of a
/// topic above its cap (the order of the count moves left no room for
/// them), move one to a broker that lacks the topic while both stay in
/// their count range, or swap it for a replica of a topic the other broker
/// can spare. The plan may end at most `limit` moves from `start`: the
/// count phases already met the bound, so this only spends the slack the
/// bar grants. A replica that already moved is sent on for free (it still
/// moves once), so replicas that moved are tried first.
pub fn repair_topics(st: &mut State, start: &[Vec<BrokerIx>], limit: u64) {
    let cost = |p: usize, from: BrokerIx, to: BrokerIx| move_cost(start, p, from, to);
    let mut net = st.net_moves(start) as i64;
    let limit = limit as i64;
    let starts = topic_starts(st);
    let bad: Vec<(u32, BrokerIx)> = st
        .topic_counts
        .entries()
        .into_iter()
        .filter(|&(t, b, n)| st.target[b as usize] && n > st.topic_cap(t, b) + 1)
        .map(|(t, b, _)| (t, b))
        .collect();
    let targets: Vec<BrokerIx> = (0..st.broker_count as BrokerIx)
        .filter(|&b| st.target[b as usize])
        .collect();
    for (t, a) in bad {
        while st.topic_count(t, a) > st.topic_cap(t, a) + 1 {
            let need_swap = st.count[a as usize] <= st.floor[a as usize];
            let fits = |(p, b, q): (usize, BrokerIx, Option<usize>)| {
                net + cost(p, a, b) + q.map_or(0, |q| cost(q, b, a)) <= limit
            };
            let found = repair_move(st, t, a, &starts, start, &targets, need_swap)
                .filter(|&m| fits(m))
                .or_else(|| {
                    (!need_swap)
                        .then(|| repair_move(st, t, a, &starts, start, &targets, true))
                        .flatten()
                        .filter(|&m| fits(m))
                });
            let Some((p, b, q)) = found else {
                break;
            };
            net += cost(p, a, b);
            st.apply_move(p, a, b);
            if let Some(q) = q {
                net += cost(q, b, a);
                st.apply_move(q, b, a);
            }
        }
    }
}

/// A replica `p` of topic `t` on `a` and a broker `b` to take it, plus,
/// when `a` cannot go below its floor, a replica `q` on `b` to send back.
fn repair_move(
    st: &State,
    t: u32,
    a: BrokerIx,
    starts: &[usize],
    start: &[Vec<BrokerIx>],
    targets: &[BrokerIx],
    swap: bool,
) -> Option<(usize, BrokerIx, Option<usize>)> {
    // Brokers that can take one more of `t` within its cap, emptiest first.
    let mut dests: Vec<(u32, BrokerIx)> = targets
        .iter()
        .copied()
        .filter(|&b| b != a && topic_class(st, t, b) == 0)
        .filter(|&b| swap || st.count[b as usize] < st.ceiling[b as usize])
        .map(|b| (st.topic_count(t, b), b))
        .collect();
    dests.sort_unstable();
    // Replicas that already moved first: sending one on is free.
    let mut best: Option<((bool, u32, BrokerIx), usize)> = None;
    let range = starts[t as usize]..starts[t as usize + 1];
    let on_a = |p: &usize| st.movable[*p] && st.holds(*p, a);
    let stayed = |p: usize| start[p].contains(&a);
    let mut tried = 0;
    for p in range
        .clone()
        .filter(|p| on_a(p) && !stayed(*p))
        .chain(range.filter(|p| on_a(p) && stayed(*p)))
    {
        tried += 1;
        if tried > 8 {
            break;
        }
        let mask = allowed_racks(st, p, a);
        let found = dests.iter().copied().find(|&(_, b)| {
            let r = st.rack_of(b);
            (r >= 64 || mask & (1 << r) != 0)
                && !st.holds(p, b)
                && (st.nracks <= 64 || st.rack_ok(p, a, b))
        });
        if let Some(key) = found {
            let ranked = (stayed(p), key.0, key.1);
            if best.is_none_or(|(k, _)| ranked < k) {
                best = Some((ranked, p));
            }
            if !swap || key == dests[0] {
                break;
            }
        }
    }
    let ((_, _, b), p) = best?;
    if !swap {
        return Some((p, b, None));
    }
    // Something of another topic that `a` may take without going past
    // the bar, within its cap first, smallest first; a bounded look.
    let ra = st.rack_of(a);
    st.partitions_on[b as usize]
        .iter()
        .map(|&q| q as usize)
        .filter(|&q| st.holds(q, b) && st.movable[q] && q != p && !st.holds(q, a))
        .filter(|&q| st.topic_of[q] != t)
        .filter(|&q| {
            let mask = allowed_racks(st, q, b);
            (ra >= 64 || mask & (1 << ra) != 0) && (st.nracks <= 64 || st.rack_ok(q, b, a))
        })
        .take(512)
        .map(|q| (topic_class(st, st.topic_of[q], a), st.size[q], q))
        .filter(|&(c, _, _)| c <= 1)
        .min()
        .map(|(_, _, q)| (p, b, Some(q)))
}
