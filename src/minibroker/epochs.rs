//! Leader epochs of a replica's log, as Kafka's `LeaderEpochFileCache`
//! holds them: the epoch each batch was appended in (its header's partition
//! leader epoch) and the offset where each epoch starts. Derived from the
//! batches themselves, so a log read back from disk has its epochs with it.
//!
//! Used to answer OffsetForLeaderEpoch and to find where a follower (or a
//! leader that lost its leadership and came back) diverges from the
//! leader, so it truncates there before copying and never serves data the
//! leader does not have.
//!
//! Not for: deciding leaders (see `state::placement`). Sized batches (the
//! simulator's) carry no epoch; logs made only of them compare by offsets.

use super::log::PartitionLog;

/// Kafka's UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET.
pub const UNDEFINED_EPOCH: i32 = -1;
pub const UNDEFINED_OFFSET: i64 = -1;

/// (epoch, start offset) of every epoch that appended to `log`, oldest
/// first.
pub fn entries(log: &PartitionLog) -> Vec<(i32, i64)> {
    let mut out: Vec<(i32, i64)> = Vec::new();
    for b in log.batches() {
        let Some(e) = b.leader_epoch() else {
            continue;
        };
        if out.last().is_none_or(|&(last, _)| e > last) {
            out.push((e, b.base_offset));
        }
    }
    out
}

/// Kafka's `endOffsetFor`: the last epoch at or below `requested` this log
/// knows and the offset where the next epoch starts (the log end for the
/// latest one). `current` is the leader's own epoch, which starts at its
/// log end when it was elected even before it appends.
pub fn end_offset_for(log: &PartitionLog, current: Option<i32>, requested: i32) -> (i32, i64) {
    let mut e = entries(log);
    if let Some(c) = current
        && e.last().is_none_or(|&(last, _)| c > last)
    {
        e.push((c, log.leo()));
    }
    if requested == UNDEFINED_EPOCH {
        return (UNDEFINED_EPOCH, UNDEFINED_OFFSET);
    }
    if e.last().is_some_and(|&(last, _)| last == requested) {
        return (requested, log.leo());
    }
    let Some(&(_, next_start)) = e.iter().find(|&&(epoch, _)| epoch > requested) else {
        return (UNDEFINED_EPOCH, UNDEFINED_OFFSET);
    };
    match e.iter().rev().find(|&&(epoch, _)| epoch <= requested) {
        // Older than anything kept: the start of the first epoch after it.
        None => (requested, next_start),
        Some(&(floor, _)) => (floor, next_start),
    }
}

/// Where `follower` must be truncated to be a prefix of `leader` (whose
/// current epoch is `leader_epoch`); None when it already is. This is the
/// offset Kafka's fetcher reaches by asking the leader for the end offset
/// of its own latest epoch (OffsetForLeaderEpoch) until both agree: the
/// first offset whose epoch differs, or the leader's log end.
pub fn truncation_point(
    follower: &PartitionLog,
    leader: &PartitionLog,
    leader_epoch: i32,
) -> Option<i64> {
    let last = follower.batches().last()?;
    // Log matching: a batch at the same offsets in the same epoch was
    // written by the same leader, and so was everything before it.
    if let Some(b) = leader.batch_at(last.last_offset, leader.leo())
        && b.base_offset == last.base_offset
        && b.last_offset == last.last_offset
        && b.leader_epoch() == last.leader_epoch()
    {
        return None;
    }
    let mut f = entries(follower);
    f.retain(|&(_, start)| start < follower.leo());
    let mut l = entries(leader);
    if l.last().is_none_or(|&(e, _)| leader_epoch > e) && !l.is_empty() {
        l.push((leader_epoch, leader.leo()));
    }
    let epoch_at = |e: &[(i32, i64)], o: i64| {
        e.iter()
            .rev()
            .find(|&&(_, start)| start <= o)
            .map(|&(epoch, _)| epoch)
    };
    let mut points: Vec<i64> = f.iter().chain(&l).map(|&(_, start)| start).collect();
    points.sort_unstable();
    points.dedup();
    for p in points.into_iter().filter(|&p| p < follower.leo()) {
        if p >= leader.leo() || epoch_at(&f, p) != epoch_at(&l, p) {
            return Some(p);
        }
    }
    (follower.leo() > leader.leo()).then_some(leader.leo())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::minibroker::log::synthetic_batch;

    /// A log of `(epoch, batches)` runs, 10 records a batch.
    fn log(runs: &[(i32, usize)]) -> PartitionLog {
        let mut log = PartitionLog::new();
        for &(epoch, n) in runs {
            for _ in 0..n {
                log.append_as_leader(&synthetic_batch(0, 10, 10, 0), epoch);
            }
        }
        log
    }

    #[test]
    fn end_offsets_as_kafkas_epoch_cache_gives_them() {
        let l = log(&[(1, 2), (3, 1), (4, 2)]); // epochs 1@0, 3@20, 4@30; end 50
        assert_eq!(entries(&l), vec![(1, 0), (3, 20), (4, 30)]);
        assert_eq!(end_offset_for(&l, Some(4), 4), (4, 50));
        assert_eq!(end_offset_for(&l, Some(4), 3), (3, 30));
        assert_eq!(
            end_offset_for(&l, Some(4), 2),
            (1, 20),
            "no epoch 2: floor is 1"
        );
        assert_eq!(end_offset_for(&l, Some(4), 0), (0, 0), "older than any");
        assert_eq!(end_offset_for(&l, Some(4), 5), (-1, -1));
        assert_eq!(end_offset_for(&l, Some(4), -1), (-1, -1));
        // A leader elected in epoch 6 with nothing appended yet.
        assert_eq!(end_offset_for(&l, Some(6), 4), (4, 50));
        assert_eq!(end_offset_for(&l, Some(6), 6), (6, 50));
    }

    #[test]
    fn a_diverged_ex_leader_truncates_to_the_end_of_its_epoch_on_the_leader() {
        // Both had epoch 1 up to 20; the old leader wrote two more batches
        // in epoch 2 that nobody copied; the new leader wrote epoch 3 from 20.
        let old = log(&[(1, 2), (2, 2)]);
        let new = log(&[(1, 2), (3, 3)]);
        let at = truncation_point(&old, &new, 3);
        assert_eq!(at, Some(20));
        assert_eq!(
            end_offset_for(&new, Some(3), 2),
            (1, 20),
            "what it asks gives the same"
        );
        let mut old = old;
        old.truncate_to(at.unwrap());
        assert_eq!(truncation_point(&old, &new, 3), None);
        // A follower that is only behind, or equal, keeps its log.
        assert_eq!(truncation_point(&log(&[(1, 2), (3, 1)]), &new, 3), None);
        assert_eq!(truncation_point(&new, &new, 3), None);
        assert_eq!(truncation_point(&PartitionLog::new(), &new, 3), None);
        // Ahead of the leader in the same epoch: cut at the leader's end.
        assert_eq!(
            truncation_point(&log(&[(1, 4)]), &log(&[(1, 2)]), 2),
            Some(20)
        );
        // Sized batches carry no epoch: only the ends compare.
        let (a, b) = (
            PartitionLog::sized(5_000, 1_000),
            PartitionLog::sized(3_000, 1_000),
        );
        assert_eq!(truncation_point(&a, &b, 1), Some(3));
        assert_eq!(truncation_point(&b, &a, 1), None);
    }
}
