//! Which fallback scans are known to fail, so a source broker that found
//! no destination is not scanned again until something that could change
//! the answer happens.
//!
//! A rack export (`counts::balance_racks`) offers every broker of a rack
//! the same few destination racks, move after move, and a broker none of
//! whose replicas may go there scans all of them each time: every replica,
//! every broker of the allowed racks. On 1,000 brokers and 5.5M replicas
//! that was minutes of the same failing scans. The scan of `s` (its
//! replicas as its [`View`](super::moves::View) lists them, racks `order`,
//! destinations of class at most `max_class`) can only start to succeed
//! when
//! - a partition with a replica on `s` moves (its racks, and which brokers
//!   hold it, decide where it may go): `touched[s]`;
//! - a broker of a rack in `order` becomes open enough (its class drops to
//!   `max_class` or below): `opened[rack][max_class]`.
//!
//! Topic counts and sizes only rank the candidates, so they do not matter
//! for whether there is one. Every move of the count phases goes through
//! [`Ctx::apply`](super::moves::Ctx::apply), which reports it here; a move
//! made some other way (the state's move count tells) forgets everything.

use super::moves::class;
use super::state::{BrokerIx, State};

/// At most this many failed scans remembered per broker (the rack export
/// asks with up to three rack orders per round).
const KEEP: usize = 4;

struct Failed {
    order: Vec<u16>,
    max_class: u8,
    /// When the scan failed, in [`FailMemo::tick`]s.
    at: u64,
}

pub(super) struct FailMemo {
    /// Moves reported so far.
    tick: u64,
    /// The state's move count after the last reported move.
    seen_moves: u64,
    /// Per broker: the last tick a partition with a replica on it moved.
    touched: Vec<u64>,
    /// Per rack and class (0, 1): the last tick one of its brokers dropped
    /// to that class or below.
    opened: Vec<[u64; 2]>,
    failed: Vec<Vec<Failed>>,
    /// Per topic: the last tick a partition of it moved (see
    /// [`GroupFails`]).
    topic_moved: Vec<u64>,
    /// The tick of the last move this memo was not told of.
    voided: u64,
}

/// The fallback scan's failures per topic group of one source's view, for
/// one question (racks, class): the broker memo above forgets a source
/// whenever one of its partitions moves, and the rack export moves one
/// off it nearly every time, so the same failing groups were weighed
/// again (13.5k scans of 300 groups each on `huge`). A group's scan finds
/// nothing again while no partition of its topic moved (that covers the
/// group's own entries: whether the source holds them, their racks and
/// holders) and no broker of the racks opened to the class, as above.
pub(super) struct GroupFails {
    max_class: u8,
    order: Vec<u16>,
    /// Per group, the tick its scan failed at, plus one (0: none).
    at: Vec<u64>,
}

impl GroupFails {
    pub(super) fn new(max_class: u8, order: &[u16], groups: usize) -> GroupFails {
        GroupFails {
            max_class,
            order: order.to_vec(),
            at: vec![0; groups],
        }
    }

    pub(super) fn asks(&self, max_class: u8, order: &[u16]) -> bool {
        self.max_class == max_class && self.order == order
    }

    /// Whether group `g` (of topic `t`) is known to fail, with `since`
    /// from [`FailMemo::group_since`].
    pub(super) fn fails(&self, memo: &FailMemo, g: usize, t: u32, since: u64) -> bool {
        let at = self.at[g];
        at > since && memo.topic_moved.get(t as usize).is_none_or(|&m| m < at)
    }

    pub(super) fn failed(&mut self, memo: &FailMemo, g: usize) {
        self.at[g] = memo.tick + 1;
    }
}

impl FailMemo {
    pub(super) fn new(st: &State) -> FailMemo {
        FailMemo {
            tick: 0,
            seen_moves: st.moves,
            touched: vec![0; st.broker_count],
            opened: vec![[0; 2]; st.nracks],
            failed: (0..st.broker_count).map(|_| Vec::new()).collect(),
            topic_moved: Vec::new(),
            voided: 0,
        }
    }

    /// Records a move of `p`'s replica from `s` to `d`; called before the
    /// state applies it.
    pub(super) fn moving(&mut self, st: &State, p: usize, s: BrokerIx, d: BrokerIx) {
        self.sync(st);
        self.tick += 1;
        for &b in &st.reps[p] {
            self.touched[b as usize] = self.tick;
        }
        self.touched[d as usize] = self.tick;
        let t = st.topic_of[p] as usize;
        if self.topic_moved.len() <= t {
            self.topic_moved.resize(t + 1, 0);
        }
        self.topic_moved[t] = self.tick;
        // Only the source's count drops, by one.
        let si = s as usize;
        let before = class(st, s);
        let count = st.count[si] - 1;
        let after = if count < st.floor[si] {
            0
        } else if count < st.ceiling[si] {
            1
        } else {
            2
        };
        let r = st.rack_of(s) as usize;
        for m in after..before.min(2) {
            self.opened[r][m as usize] = self.tick;
        }
        self.seen_moves = st.moves + 1;
    }

    /// Whether the fallback scan of `s` is known to fail.
    pub(super) fn fails(&mut self, st: &State, s: BrokerIx, max_class: u8, order: &[u16]) -> bool {
        self.sync(st);
        let touched = self.touched[s as usize];
        let opened = &self.opened;
        self.failed[s as usize].iter().any(|f| {
            f.max_class == max_class
                && f.order == order
                && touched <= f.at
                && (max_class >= 2
                    || f.order
                        .iter()
                        .all(|&r| opened[r as usize][max_class as usize] <= f.at))
        })
    }

    /// Remembers that the fallback scan of `s` found nothing.
    pub(super) fn failed(&mut self, st: &State, s: BrokerIx, max_class: u8, order: &[u16]) {
        self.sync(st);
        let list = &mut self.failed[s as usize];
        list.retain(|f| f.max_class != max_class || f.order != order);
        if list.len() >= KEEP {
            list.remove(0);
        }
        list.push(Failed {
            order: order.to_vec(),
            max_class,
            at: self.tick,
        });
    }

    /// The tick a group failure must be at or after to hold for racks
    /// `order` and class `max_class`: no broker of them opened since, no
    /// move unreported since.
    pub(super) fn group_since(&mut self, st: &State, max_class: u8, order: &[u16]) -> u64 {
        self.sync(st);
        let opened = if max_class >= 2 {
            0
        } else {
            order
                .iter()
                .map(|&r| self.opened[r as usize][max_class as usize])
                .max()
                .unwrap_or(0)
        };
        opened.max(self.voided)
    }

    /// A move this memo was not told of voids what it knows.
    fn sync(&mut self, st: &State) {
        if st.moves != self.seen_moves {
            self.failed.iter_mut().for_each(Vec::clear);
            self.seen_moves = st.moves;
            self.tick += 1;
            self.voided = self.tick;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Broker, Cluster, Partition, Topic};

    /// Six brokers on racks a, a, b, b, c, c holding 1, 1, 5, 1, 2, 0
    /// single-replica partitions: quota range 1..=2 each.
    fn state() -> State {
        let homes: [BrokerIx; 10] = [0, 1, 2, 2, 2, 2, 2, 3, 4, 4];
        let cluster = Cluster {
            brokers: (0..6)
                .map(|i| Broker {
                    id: i + 1,
                    rack: Some(["a", "b", "c"][i as usize / 2].to_string()),
                    host: None,
                    port: None,
                    alive: true,
                })
                .collect(),
            topics: vec![Topic {
                name: "t".into(),
                partitions: homes
                    .iter()
                    .enumerate()
                    .map(|(p, &b)| Partition {
                        partition: p as i32,
                        replicas: vec![i32::from(b) + 1],
                        isr: vec![i32::from(b) + 1],
                        leader: Some(i32::from(b) + 1),
                        size_bytes: 1,
                        in_flight: None,
                    })
                    .collect(),
            }],
        };
        let reps = homes.iter().map(|&b| [b].into()).collect();
        State::new(&cluster, reps, vec![true; 6], vec![true; 10], true)
    }

    fn apply(st: &mut State, memo: &mut FailMemo, p: usize, s: BrokerIx, d: BrokerIx) {
        memo.moving(st, p, s, d);
        st.apply_move(p, s, d);
    }

    #[test]
    fn a_failed_scan_is_remembered_until_a_move_could_change_it() {
        let mut st = state();
        assert_eq!((st.floor[0], st.ceiling[0]), (1, 2));
        let mut memo = FailMemo::new(&st);
        memo.failed(&st, 0, 1, &[2]);
        assert!(memo.fails(&st, 0, 1, &[2]));
        // Only the same question is answered.
        assert!(!memo.fails(&st, 0, 1, &[1, 2]));
        assert!(!memo.fails(&st, 0, 0, &[2]));
        assert!(!memo.fails(&st, 1, 1, &[2]));

        // A move of a partition broker 0 does not hold, whose source stays
        // full (5 -> 4 against a ceiling of 2): nothing opens.
        apply(&mut st, &mut memo, 2, 2, 3);
        assert!(memo.fails(&st, 0, 1, &[2]));
        // A broker of rack c drops below its ceiling (2 -> 1): it may take
        // a replica now.
        apply(&mut st, &mut memo, 8, 4, 5);
        assert!(!memo.fails(&st, 0, 1, &[2]));
        // ... but not one of class 0 only, and rack b is not asked about.
        memo.failed(&st, 0, 0, &[1]);
        apply(&mut st, &mut memo, 9, 4, 5);
        assert!(memo.fails(&st, 0, 0, &[1]));

        // A partition on broker 0 moves: where its replicas may go changes.
        memo.failed(&st, 0, 1, &[2]);
        apply(&mut st, &mut memo, 0, 0, 1);
        assert!(!memo.fails(&st, 0, 1, &[2]));

        // A move the memo was not told of voids everything.
        memo.failed(&st, 1, 1, &[2]);
        assert!(memo.fails(&st, 1, 1, &[2]));
        st.apply_move(3, 2, 3);
        assert!(!memo.fails(&st, 1, 1, &[2]));
    }

    #[test]
    fn a_failed_group_is_remembered_until_its_topic_moves_or_a_rack_opens() {
        let mut st = state();
        let mut memo = FailMemo::new(&st);
        let mut fails = GroupFails::new(1, &[2], 2);
        assert!(fails.asks(1, &[2]));
        assert!(!fails.asks(0, &[2]) && !fails.asks(1, &[1, 2]));
        let since = memo.group_since(&st, 1, &[2]);
        assert!(!fails.fails(&memo, 0, 0, since));
        // Group 0 of topic 0, group 1 of a topic 1 (nothing of it moves).
        fails.failed(&memo, 0);
        fails.failed(&memo, 1);
        assert!(fails.fails(&memo, 0, 0, since));
        assert!(fails.fails(&memo, 1, 1, since));

        // A move of topic 0 whose source stays full: only its group may
        // find a home now.
        apply(&mut st, &mut memo, 2, 2, 3);
        let since = memo.group_since(&st, 1, &[2]);
        assert!(!fails.fails(&memo, 0, 0, since));
        assert!(fails.fails(&memo, 1, 1, since));
        // A broker of rack c drops below its ceiling: every group may, but
        // not for class 0, nor for rack b.
        apply(&mut st, &mut memo, 8, 4, 5);
        let since = memo.group_since(&st, 1, &[2]);
        assert!(!fails.fails(&memo, 1, 1, since));
        let since = memo.group_since(&st, 0, &[2]);
        assert!(fails.fails(&memo, 1, 1, since));
        let since = memo.group_since(&st, 1, &[1]);
        assert!(fails.fails(&memo, 1, 1, since));

        // A move the memo was not told of voids every group.
        fails.failed(&memo, 1);
        let since = memo.group_since(&st, 1, &[2]);
        assert!(fails.fails(&memo, 1, 1, since));
        st.apply_move(3, 2, 3);
        let since = memo.group_since(&st, 1, &[2]);
        assert!(!fails.fails(&memo, 1, 1, since));
    }

    /// `fill_one`'s live lists (kept in `Ctx` beside this memo): the
    /// entries `partitions_on` has live, in its order, whatever moved.
    #[test]
    fn a_live_list_keeps_partitions_on_order_and_drops_on_arrival() {
        use super::super::moves::Ctx;
        let mut st = state();
        let mut cx = Ctx::new(&st);
        let live = |st: &State| -> Vec<u32> {
            st.partitions_on[2]
                .iter()
                .copied()
                .filter(|&p| st.holds(p as usize, 2))
                .collect()
        };
        let list = cx.take_live(&st, 2);
        assert_eq!(list, vec![2, 3, 4, 5, 6]);
        cx.put_live(2, list);
        // A departure leaves the list as it is (checked on use).
        cx.apply(&mut st, 2, 2, 5);
        let list = cx.take_live(&st, 2);
        assert_eq!(list, vec![2, 3, 4, 5, 6]);
        cx.put_live(2, list);
        // Coming back revives the old entry and adds one at the end.
        cx.apply(&mut st, 2, 5, 2);
        let list = cx.take_live(&st, 2);
        assert_eq!(list, vec![2, 3, 4, 5, 6, 2]);
        assert_eq!(list, live(&st));
        cx.put_live(2, list);
        // A move made without the context drops every list.
        st.apply_move(3, 2, 5);
        let list = cx.take_live(&st, 2);
        assert_eq!(list, vec![2, 4, 5, 6, 2]);
        assert_eq!(list, live(&st));
    }
}
