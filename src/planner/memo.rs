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
}

impl FailMemo {
    pub(super) fn new(st: &State) -> FailMemo {
        FailMemo {
            tick: 0,
            seen_moves: st.moves,
            touched: vec![0; st.broker_count],
            opened: vec![[0; 2]; st.nracks],
            failed: (0..st.broker_count).map(|_| Vec::new()).collect(),
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

    /// A move this memo was not told of voids what it knows.
    fn sync(&mut self, st: &State) {
        if st.moves != self.seen_moves {
            self.failed.iter_mut().for_each(Vec::clear);
            self.seen_moves = st.moves;
        }
    }
}
