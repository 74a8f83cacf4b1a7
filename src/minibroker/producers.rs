//! Idempotent producers on one partition, as Kafka's ProducerStateManager
//! keeps them: per producer id its epoch and its last five batches'
//! sequence ranges and offsets (a producer has at most five batches in
//! flight), so a retried batch is acknowledged with its first offsets
//! instead of appended twice, and a gap in sequences is refused
//! (OUT_OF_ORDER_SEQUENCE_NUMBER).
//!
//! Everything here comes from the batch headers (producer id, epoch, base
//! sequence), which the log keeps as received: [`ProducerStates::rebuild`]
//! derives the state from a log, so a new leader (or a broker recovering
//! its log from disk) has it without any other record.
//!
//! Not for: transactions (no markers, no transactional ids).

use std::collections::{BTreeMap, VecDeque};

use super::code;
use super::log::{
    BATCH_HEADER_LEN, OFF_BASE_SEQUENCE, OFF_LAST_OFFSET_DELTA, OFF_PRODUCER_EPOCH,
    OFF_PRODUCER_ID, PartitionLog,
};

/// Batches a producer may have in flight (Kafka's limit with idempotence).
pub const IN_FLIGHT: usize = 5;

/// The producer fields of a v2 batch header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub producer_id: i64,
    pub epoch: i16,
    pub first_seq: i32,
    pub last_seq: i32,
}

impl Header {
    /// Reads a batch's header; None for a batch without one (sized) or
    /// without a producer id (not idempotent).
    pub fn of(raw: &[u8]) -> Option<Header> {
        if raw.len() < BATCH_HEADER_LEN {
            return None;
        }
        let i32_at = |o: usize| i32::from_be_bytes(raw[o..o + 4].try_into().unwrap());
        let producer_id = i64::from_be_bytes(
            raw[OFF_PRODUCER_ID..OFF_PRODUCER_ID + 8]
                .try_into()
                .unwrap(),
        );
        if producer_id < 0 {
            return None;
        }
        let first_seq = i32_at(OFF_BASE_SEQUENCE);
        let delta = i32_at(OFF_LAST_OFFSET_DELTA);
        Some(Header {
            producer_id,
            epoch: i16::from_be_bytes(
                raw[OFF_PRODUCER_EPOCH..OFF_PRODUCER_EPOCH + 2]
                    .try_into()
                    .unwrap(),
            ),
            first_seq,
            // Sequences wrap at i32::MAX to 0, as Kafka's do.
            last_seq: ((i64::from(first_seq) + i64::from(delta)) % (i64::from(i32::MAX) + 1))
                as i32,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Appended {
    first_seq: i32,
    last_seq: i32,
    base_offset: i64,
    last_offset: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Producer {
    epoch: i16,
    /// The last batches, oldest first, at most [`IN_FLIGHT`].
    batches: VecDeque<Appended>,
}

/// What to do with a produced batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Append,
    /// Already in the log at these offsets: acknowledge, do not append.
    Duplicate {
        base_offset: i64,
        last_offset: i64,
    },
    Refused(i16),
}

/// Every producer's state on one partition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProducerStates {
    producers: BTreeMap<i64, Producer>,
}

impl ProducerStates {
    /// The state a log's batches leave, as if each had just been appended.
    pub fn rebuild(log: &PartitionLog) -> Self {
        let mut s = Self::default();
        for b in log.batches() {
            if let Some(h) = Header::of(&b.data) {
                s.record(&h, b.base_offset, b.last_offset);
            }
        }
        s
    }

    /// Kafka's checks, in its order: a fenced epoch, a duplicate of one of
    /// the last five batches, then the sequence following the last one.
    /// A producer this partition has not seen starts anywhere (its state
    /// may have gone with the log's head).
    pub fn check(&self, h: &Header) -> Verdict {
        let Some(p) = self.producers.get(&h.producer_id) else {
            return Verdict::Append;
        };
        if h.epoch < p.epoch {
            return Verdict::Refused(code::INVALID_PRODUCER_EPOCH);
        }
        if h.epoch > p.epoch {
            return if h.first_seq == 0 {
                Verdict::Append
            } else {
                Verdict::Refused(code::OUT_OF_ORDER_SEQUENCE_NUMBER)
            };
        }
        if let Some(d) = p
            .batches
            .iter()
            .find(|b| b.first_seq == h.first_seq && b.last_seq == h.last_seq)
        {
            return Verdict::Duplicate {
                base_offset: d.base_offset,
                last_offset: d.last_offset,
            };
        }
        let next = p.batches.back().map_or(0, |b| {
            if b.last_seq == i32::MAX {
                0
            } else {
                b.last_seq + 1
            }
        });
        if h.first_seq == next {
            Verdict::Append
        } else {
            Verdict::Refused(code::OUT_OF_ORDER_SEQUENCE_NUMBER)
        }
    }

    /// Records a batch appended at `base_offset..=last_offset`.
    pub fn record(&mut self, h: &Header, base_offset: i64, last_offset: i64) {
        let p = self.producers.entry(h.producer_id).or_insert(Producer {
            epoch: h.epoch,
            batches: VecDeque::new(),
        });
        if h.epoch != p.epoch {
            p.epoch = h.epoch;
            p.batches.clear();
        }
        if p.batches.len() == IN_FLIGHT {
            p.batches.pop_front();
        }
        p.batches.push_back(Appended {
            first_seq: h.first_seq,
            last_seq: h.last_seq,
            base_offset,
            last_offset,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{Bytes, BytesMut};

    /// A batch of `n` records from producer 7 at `epoch`, first sequence `seq`.
    pub(crate) fn batch(epoch: i16, seq: i32, n: usize) -> Bytes {
        let raw = crate::minibroker::log::synthetic_batch(0, n, 10, 0);
        let mut b = BytesMut::from(&raw[..]);
        b[OFF_PRODUCER_ID..OFF_PRODUCER_ID + 8].copy_from_slice(&7i64.to_be_bytes());
        b[OFF_PRODUCER_EPOCH..OFF_PRODUCER_EPOCH + 2].copy_from_slice(&epoch.to_be_bytes());
        b[OFF_BASE_SEQUENCE..OFF_BASE_SEQUENCE + 4].copy_from_slice(&seq.to_be_bytes());
        b.freeze()
    }

    /// Appends as the produce handler does; returns the verdict.
    fn produce(log: &mut PartitionLog, s: &mut ProducerStates, raw: &Bytes) -> Verdict {
        let h = Header::of(raw).unwrap();
        let v = s.check(&h);
        if v == Verdict::Append {
            let base = log.append_as_leader(raw, 0);
            s.record(&h, base, log.leo() - 1);
        }
        v
    }

    #[test]
    fn retries_are_acknowledged_once_and_gaps_refused() {
        let (mut log, mut s) = (PartitionLog::new(), ProducerStates::default());
        assert_eq!(produce(&mut log, &mut s, &batch(0, 0, 3)), Verdict::Append);
        assert_eq!(produce(&mut log, &mut s, &batch(0, 3, 2)), Verdict::Append);
        assert_eq!(
            produce(&mut log, &mut s, &batch(0, 0, 3)),
            Verdict::Duplicate {
                base_offset: 0,
                last_offset: 2
            },
            "a retry of the first batch"
        );
        assert_eq!(
            produce(&mut log, &mut s, &batch(0, 9, 1)),
            Verdict::Refused(code::OUT_OF_ORDER_SEQUENCE_NUMBER)
        );
        assert_eq!(log.leo(), 5, "nothing appended twice or out of order");
        // Only the last five batches are remembered.
        for seq in 5..10 {
            assert_eq!(
                produce(&mut log, &mut s, &batch(0, seq, 1)),
                Verdict::Append
            );
        }
        assert_eq!(
            produce(&mut log, &mut s, &batch(0, 0, 3)),
            Verdict::Refused(code::OUT_OF_ORDER_SEQUENCE_NUMBER)
        );
        // A bumped epoch starts again at 0; the old epoch is fenced.
        assert_eq!(
            produce(&mut log, &mut s, &batch(1, 4, 1)),
            Verdict::Refused(code::OUT_OF_ORDER_SEQUENCE_NUMBER)
        );
        assert_eq!(produce(&mut log, &mut s, &batch(1, 0, 1)), Verdict::Append);
        assert_eq!(
            produce(&mut log, &mut s, &batch(0, 10, 1)),
            Verdict::Refused(code::INVALID_PRODUCER_EPOCH)
        );
        // The state is what the log says.
        assert_eq!(ProducerStates::rebuild(&log), s);
        // Batches without a producer id have no state.
        let plain = crate::minibroker::log::synthetic_batch(0, 1, 10, 0);
        assert_eq!(Header::of(&plain), None);
        // Sequences wrap.
        let mut h = Header::of(&batch(0, i32::MAX, 1)).unwrap();
        assert_eq!(h.last_seq, i32::MAX);
        h = Header::of(&batch(0, i32::MAX - 1, 3)).unwrap();
        assert_eq!(h.last_seq, 0);
    }
}
