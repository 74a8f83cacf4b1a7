//! Phase `drain`: every movable replica leaves the brokers outside the
//! target set (dead, removed, replaced), each to the best open target.
//!
//! Input: a fresh [`State`] (replicas where they start). Output: no
//! movable replica on a non-target, unless no rack-safe target exists for
//! it ([`State::stranded`]). Invariant: every move goes from a non-target
//! to a target, so each counts towards the lower bound; a topic goes two
//! over its share on a destination only where nothing else is open, and
//! one move above the bound each is paid from the allowance.

use super::moves::{Ctx, allowed_racks, class, find_dest, find_home};
use super::state::{BrokerIx, State};

/// Moves every movable replica off brokers outside the target set, each to
/// the best open target (below its floor first, the topic within cap).
/// Where that would put a topic two or more over its share, it goes to a
/// target that lacks the topic instead, even one at its quota, which then
/// sheds one more later: one move above the bound, paid from `allowance`.
/// With `reserve`, rack room is kept for the replicas still to come that
/// may go to fewer racks (see [`RackHall`]), so no rack overfills and
/// needs a detour later.
/// A replica with no rack-safe target stays (see [`State::stranded`]).
pub fn drain(st: &mut State, allowance: &mut u64, reserve: bool) {
    let mut cx = Ctx::new(st);
    for s in 0..st.broker_count as BrokerIx {
        if st.target[s as usize] {
            continue;
        }
        let list = std::mem::take(&mut st.partitions_on[s as usize]);
        let mut hall = if reserve {
            RackHall::new(st, &cx, s, &list)
        } else {
            None
        };
        for &p in &list {
            let p = p as usize;
            if !st.holds(p, s) || !st.movable[p] {
                continue;
            }
            if let Some(h) = hall.as_mut() {
                h.wait(allowed_racks(st, p, s), -1);
            }
            // Rack totals change with every replica placed. A rack with no
            // room left takes only replicas that can go nowhere else: any
            // other would have to leave it again.
            let order = cx.rack_order(st, s);
            let mut roomy: Vec<u16> = order
                .iter()
                .copied()
                .filter(|&r| cx.rack_count[r as usize] < cx.rack_hi[r as usize])
                .collect();
            // Leave room for the replicas still to come that can go to
            // fewer racks, while that is possible.
            if let Some(h) = &hall {
                let safe: Vec<u16> = roomy.iter().copied().filter(|&r| h.safe(r)).collect();
                if !safe.is_empty() {
                    roomy = safe;
                }
            }
            let full: Vec<u16> = (0..cx.by_rack.len() as u16)
                .filter(|r| !roomy.contains(r))
                .collect();
            let found =
                find_dest(st, &cx, p, s, 2, &roomy).or_else(|| find_dest(st, &cx, p, s, 2, &full));
            let Some(((_, over), mut d)) = found else {
                continue;
            };
            if over >= 2 && *allowance > 0 {
                // In the same rack: rack totals must not need extra moves.
                if let Some(home) = find_home(st, &cx, p, s, &[st.rack_of(d)]) {
                    if class(st, home) == 2 {
                        *allowance -= 1;
                    }
                    d = home;
                }
            }
            let rd = st.rack_of(d);
            if let Some(h) = hall.as_mut()
                && cx.rack_count[rd as usize] < cx.rack_hi[rd as usize]
            {
                h.place(rd);
            }
            cx.apply(st, p, s, d);
        }
        st.partitions_on[s as usize] = list;
    }
}

/// Hall's condition for the replicas a drained broker still has to place:
/// for every set of target racks, the replicas that may only go to racks
/// in the set fit in the room those racks have below their ceilings. A
/// rack is safe for the next replica while placing it there keeps that
/// true, so replicas free to go anywhere do not take the room of those
/// bound to a few racks (which would then overfill a rack, one extra move
/// each). Kept per subset of target racks, so only for a few racks.
struct RackHall {
    /// Compact bit of each rack (`None` for racks without targets).
    bit: Vec<Option<u32>>,
    /// Per subset of target racks: replicas still to place whose allowed
    /// racks lie within it, minus the room of its racks.
    need: Vec<i64>,
}

impl RackHall {
    fn new(st: &State, cx: &Ctx, s: BrokerIx, list: &[u32]) -> Option<RackHall> {
        let racks: Vec<usize> = (0..cx.by_rack.len())
            .filter(|&r| !cx.by_rack[r].is_empty())
            .collect();
        if racks.len() < 2 || racks.len() > HALL_MAX_RACKS || st.nracks > 64 || st.k_target <= 1 {
            return None;
        }
        let mut bit = vec![None; cx.by_rack.len()];
        for (i, &r) in racks.iter().enumerate() {
            bit[r] = Some(i as u32);
        }
        let mut h = RackHall {
            bit,
            need: vec![0; 1 << racks.len()],
        };
        for (i, &r) in racks.iter().enumerate() {
            // A rack already above its ceiling sheds later; it has no room.
            let room = (cx.rack_hi[r] - cx.rack_count[r]).max(0);
            h.add_sup(1 << i, -room);
        }
        for &p in list {
            let p = p as usize;
            if st.holds(p, s) && st.movable[p] {
                h.wait(allowed_racks(st, p, s), 1);
            }
        }
        Some(h)
    }

    fn compact(&self, mask: u64) -> usize {
        let mut m = 0;
        for (r, b) in self.bit.iter().enumerate() {
            if let Some(b) = b
                && r < 64
                && mask & (1 << r) != 0
            {
                m |= 1 << b;
            }
        }
        m
    }

    /// Adds `v` to every subset containing `m`.
    fn add_sup(&mut self, m: usize, v: i64) {
        let full = self.need.len() - 1;
        let rest = full & !m;
        let mut x = rest;
        loop {
            self.need[m | x] += v;
            if x == 0 {
                break;
            }
            x = (x - 1) & rest;
        }
    }

    /// Counts a replica allowed on `mask` as waiting (`v` 1) or no longer
    /// (`v` -1); one allowed on no target rack cannot be placed anyway.
    fn wait(&mut self, mask: u64, v: i64) {
        let m = self.compact(mask);
        if m != 0 {
            self.add_sup(m, v);
        }
    }

    fn safe(&self, r: u16) -> bool {
        let Some(b) = self.bit.get(r as usize).copied().flatten() else {
            return true;
        };
        let one = 1usize << b;
        (0..self.need.len())
            .filter(|&x| x & one != 0)
            .all(|x| self.need[x] < 0)
    }

    fn place(&mut self, r: u16) {
        if let Some(b) = self.bit.get(r as usize).copied().flatten() {
            self.add_sup(1 << b, 1);
        }
    }
}

/// Above this many target racks the drain does not reserve rack room.
const HALL_MAX_RACKS: usize = 8;
