//! Phase `transport`: the topic transport (see the `transport` module)
//! competes with the greedy count phases, under a searched topic cap.
//!
//! Input: the greedy plan and where replicas started (only where the
//! transport applies: every topic movable, no `--replace`, at most
//! [`super::bound::FLOW_BOUND_MAX_REPLICAS`] replicas). Output: the better of the
//! greedy plan and the transport's plans, by [`Search::rank`]: fewer
//! stranded, within the move bar (or nearer to it), no broker left with
//! more single-replica partitions than it may lead, the better topic
//! spread, fewer moves. Invariant: the plan returned ranks no worse than
//! the one given.

use super::replicas::Replicas;
use super::state::State;
use super::{Planner, drain, move_bar, transport};

/// The transport's search against one starting assignment.
struct Search<'a> {
    planner: &'a Planner<'a>,
    start: &'a [Replicas],
    /// What the move bar is measured from: the bound, or the flow's own
    /// count optimum where the greedy cannot get within the bar of it.
    reference: u64,
}

impl Search<'_> {
    fn moved(&self, st: &State) -> u64 {
        st.net_moves(self.start)
    }

    fn within_bar(&self, st: &State) -> bool {
        self.moved(st) <= move_bar(self.reference)
    }

    /// Lower is better: stranded, moves over the bar, brokers with more
    /// single-replica partitions than they may lead, topic excess, moves.
    fn rank(&self, st: &State) -> (u64, u64, u32, u32, u64) {
        let m = self.moved(st);
        (
            st.stranded(),
            m.saturating_sub(move_bar(self.reference)),
            st.single_excess(),
            st.topic_excess(),
            m,
        )
    }

    /// The transport's plan under topic cap `excess`, then the greedy
    /// phases to finish it. With `widen`, counts may end one outside their
    /// range, as the bar allows: tried only when the plan is still over
    /// the move bar or leaves leaders unbalanceable, where that room is
    /// what saves the moves (the count phases would pull the counts back
    /// in, so only the drain runs after it).
    fn attempt(&self, excess: u32, widen: bool) -> Option<State> {
        let mut alt = self.planner.fresh(self.start.to_vec());
        if widen {
            alt.widen_quotas();
        }
        transport::run(&mut alt, self.start, excess)?;
        if widen {
            drain::drain(&mut alt, &mut 0, false);
        } else {
            self.planner.count_phases(&mut alt, 0, false);
        }
        Some(alt)
    }

    /// Nothing left to win: none stranded, within the bar, leaders
    /// balanceable, topic excess at the floor.
    fn done(&self, st: &State, floor: Option<u32>) -> bool {
        st.stranded() == 0
            && self.within_bar(st)
            && st.single_excess() == 0
            && floor.is_some_and(|f| st.topic_excess() <= f)
    }

    /// The least topic cap in `floor..=top` whose plan fits the bar,
    /// searched up from the floor by doubling steps (the answer is usually
    /// near it, and every try is a whole flow), then halving between the
    /// last cap over and the first within. Every plan tried replaces `best`
    /// where it ranks better.
    fn search_caps(&self, best: &mut State, floor: u32, top: u32, widen: bool) {
        let (mut lo, mut hi) = (floor, top.max(floor));
        let mut probe = lo;
        let mut fits = false;
        while lo <= hi {
            match self.attempt(probe, widen) {
                Some(alt) => {
                    let within = self.within_bar(&alt);
                    if self.rank(&alt) < self.rank(best) {
                        *best = alt;
                    }
                    if within {
                        fits = true;
                        hi = probe - 1;
                    } else {
                        lo = probe + 1;
                    }
                }
                None => lo = probe + 1,
            }
            probe = if fits {
                lo + hi.saturating_sub(lo) / 2
            } else {
                (2 * lo - floor - 1).min(hi)
            };
        }
    }
}

/// Runs the competition. See the module documentation. `bound` is the
/// lower bound on moves, `start_excess` the start's topic excess.
pub(super) fn compete(
    planner: &Planner,
    mut st: State,
    start: &[Replicas],
    bound: u64,
    start_excess: u32,
) -> State {
    // Where the greedy cannot get within the bar, the bound may be out of
    // reach (it counts two replicas of a partition into one free rack):
    // the flow's own count optimum is then the reference. (With counts one
    // outside their range allowed, as the bar does.)
    let reference = if st.net_moves(start) > move_bar(bound) {
        let mut probe = planner.fresh(start.to_vec());
        probe.widen_quotas();
        transport::count_moves(&mut probe, start).map_or(bound, |m| m.max(bound))
    } else {
        bound
    };
    let search = Search {
        planner,
        start,
        reference,
    };
    // The least excess any placement can reach (at least the bar's one).
    let Some(floor) = st.topic_floor(0).map(|f| f.max(1)) else {
        return st;
    };
    for widen in [false, true] {
        let over = !search.within_bar(&st) || st.single_excess() > 0;
        if search.done(&st, Some(floor)) || widen && !over {
            break;
        }
        // With counts one outside their range the least reachable topic
        // excess can be lower.
        let floor = if widen {
            st.topic_floor(1).map_or(floor, |f| f.clamp(1, floor))
        } else {
            floor
        };
        // Up to the plan's own excess while it fits the bar (a looser cap
        // cannot beat it), else to the start's: a looser cap that fits
        // wins over an even topic spread, since the bound matters more.
        let top = if search.within_bar(&st) {
            st.topic_excess()
        } else {
            st.topic_excess().max(start_excess)
        };
        search.search_caps(&mut st, floor, top, widen);
    }
    st
}
