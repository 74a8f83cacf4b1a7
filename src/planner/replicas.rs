//! One partition's replica list, stored inline.
//!
//! Every phase asks of millions of partitions which brokers hold them
//! (`State::holds`, `allowed_racks`, `rack_ok`): with a `Vec` per
//! partition each question chased a pointer to its own heap block, a cache
//! miss per partition and 32 bytes of allocation for a list of three. Here
//! up to [`INLINE`] replicas live in the partition's own 16 bytes (the
//! table of all partitions is one block); longer lists, which Kafka
//! clusters hardly have, spill to the heap. A partition's length never
//! changes while the planner works on it (moves replace one broker by
//! another), so there is no `push`: a list is built whole.

use std::fmt;
use std::ops::{Deref, DerefMut};

use super::state::BrokerIx;

/// Replicas kept in place: with the length byte and the tag, 16 bytes,
/// the size of the spilled form.
pub const INLINE: usize = 7;

/// A partition's replicas, in order (the first is the preferred leader).
/// Behaves as a `[BrokerIx]` slice.
#[derive(Clone)]
pub enum Replicas {
    Inline(u8, [BrokerIx; INLINE]),
    /// Boxed twice so the variant holds a thin pointer and the whole stays
    /// 16 bytes.
    #[allow(clippy::box_collection)]
    Spill(Box<Vec<BrokerIx>>),
}

impl Replicas {
    pub fn new(list: &[BrokerIx]) -> Replicas {
        if list.len() <= INLINE {
            let mut a = [0; INLINE];
            a[..list.len()].copy_from_slice(list);
            Replicas::Inline(list.len() as u8, a)
        } else {
            Replicas::Spill(Box::new(list.to_vec()))
        }
    }
}

impl Deref for Replicas {
    type Target = [BrokerIx];

    #[inline]
    fn deref(&self) -> &[BrokerIx] {
        match self {
            Replicas::Inline(n, a) => &a[..*n as usize],
            Replicas::Spill(v) => v,
        }
    }
}

impl DerefMut for Replicas {
    #[inline]
    fn deref_mut(&mut self) -> &mut [BrokerIx] {
        match self {
            Replicas::Inline(n, a) => &mut a[..*n as usize],
            Replicas::Spill(v) => v,
        }
    }
}

impl From<Vec<BrokerIx>> for Replicas {
    fn from(v: Vec<BrokerIx>) -> Replicas {
        if v.len() <= INLINE {
            Replicas::new(&v)
        } else {
            Replicas::Spill(Box::new(v))
        }
    }
}

impl From<&[BrokerIx]> for Replicas {
    fn from(v: &[BrokerIx]) -> Replicas {
        Replicas::new(v)
    }
}

impl<const N: usize> From<[BrokerIx; N]> for Replicas {
    fn from(v: [BrokerIx; N]) -> Replicas {
        Replicas::new(&v)
    }
}

impl FromIterator<BrokerIx> for Replicas {
    fn from_iter<I: IntoIterator<Item = BrokerIx>>(iter: I) -> Replicas {
        let mut a = [0; INLINE];
        let mut n = 0;
        let mut iter = iter.into_iter();
        for b in iter.by_ref() {
            if n == INLINE {
                let mut v = a.to_vec();
                v.push(b);
                v.extend(iter);
                return Replicas::Spill(Box::new(v));
            }
            a[n] = b;
            n += 1;
        }
        Replicas::Inline(n as u8, a)
    }
}

impl<'a> IntoIterator for &'a Replicas {
    type Item = &'a BrokerIx;
    type IntoIter = std::slice::Iter<'a, BrokerIx>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl PartialEq for Replicas {
    /// Two inline lists of the same length and slots are equal as stored,
    /// without making a slice of either: most partitions of a plan did not
    /// move, and the passes that compare every partition with where it
    /// started spent most of their time making and comparing slices.
    /// Otherwise (a spill, or stale slots past the length) the slices.
    fn eq(&self, other: &Replicas) -> bool {
        if let (Replicas::Inline(n, a), Replicas::Inline(m, b)) = (self, other)
            && n == m
            && a == b
        {
            return true;
        }
        **self == **other
    }
}

impl Eq for Replicas {}

impl PartialEq<Vec<BrokerIx>> for Replicas {
    fn eq(&self, other: &Vec<BrokerIx>) -> bool {
        **self == **other
    }
}

impl PartialEq<Replicas> for Vec<BrokerIx> {
    fn eq(&self, other: &Replicas) -> bool {
        **self == **other
    }
}

impl fmt::Debug for Replicas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_inline_or_spilled_act_as_their_slice() {
        assert_eq!(std::mem::size_of::<Replicas>(), 16);
        for n in [0usize, 1, 3, INLINE, INLINE + 1, 12] {
            let want: Vec<BrokerIx> = (0..n as BrokerIx).map(|b| b * 7 + 1).collect();
            let mut r: Replicas = want.iter().copied().collect();
            assert_eq!(matches!(r, Replicas::Spill(_)), n > INLINE, "{n}");
            assert_eq!(&*r, &want[..]);
            assert_eq!(r, Replicas::from(want.clone()));
            assert_eq!(r, Replicas::new(&want));
            assert_eq!(format!("{r:?}"), format!("{want:?}"));
            if n > 0 {
                r[n - 1] = 999;
                assert!(r.contains(&999));
                assert_ne!(r, want);
            }
        }
    }
}
