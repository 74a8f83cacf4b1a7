//! One replica's log on disk, as Kafka lays it out: a directory
//! `<logdir>/<topic>-<partition>/` of segments `<base offset, 20 digits>.log`
//! (record batches exactly as stored, concatenated), each with a sparse
//! offset index `<base>.index` (8-byte entries: offset relative to the
//! base, byte position in the segment, one per `INDEX_INTERVAL` bytes, as
//! `index.interval.bytes`). The active segment rolls when the next batch
//! would take it past `segment.bytes`.
//!
//! Appends are plain `write` calls made while the batch is stored in
//! memory, so the kernel holds every stored batch even when the process
//! dies. Nothing here calls `fsync`: appends happen under the cluster's
//! lock, where one slow disk would stall every broker. The store keeps
//! every file written since the last [`SegmentStore::take_dirty`] (segments
//! rolled meanwhile included, and its directory when a segment was created
//! or removed), and the persister syncs them outside the lock, per the
//! flush policy.
//!
//! Recovery ([`SegmentStore::recover`]) reads the segments back, checks
//! each batch's framing, offsets and CRC32C (from the recovery point on:
//! the index finds where it starts), cuts the log at the first bad batch
//! (a torn tail) and drops the segments after it, and rebuilds the indexes.
//!
//! Not for: serving reads (the in-memory log does), or deciding what a
//! replica holds (the persister and the controller state do). Writes only
//! files it names itself (`*.log`, `*.index`) in the replica's directory:
//! the one exception to "only `fsutil` writes files", since a segment is
//! appended to, not replaced. Removes a replica's directory only when told
//! it left (renamed `-delete` first, as Kafka does), and no other.

#![allow(clippy::disallowed_methods)]

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::log::{
    BATCH_HEADER_LEN, LOG_OVERHEAD, OFF_ATTRIBUTES, OFF_BATCH_LENGTH, OFF_CRC,
    OFF_LAST_OFFSET_DELTA, OFF_MAGIC,
};

/// Bytes of log between two index entries (Kafka's `index.interval.bytes`).
pub const INDEX_INTERVAL: u64 = 4096;
/// Kafka's `segment.bytes` default.
pub const DEFAULT_SEGMENT_BYTES: u64 = 1 << 30;

/// When appended batches reach the disk (`--flush`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushPolicy {
    /// `fsync` of each batch before any acknowledgement that depends on it
    /// (the persister syncs as soon as it is asked, outside the cluster's
    /// lock; a replica's log counts towards the high watermark only as far
    /// as it is synced).
    EveryBatch,
    /// `fsync` of every written segment on this period. Until then a
    /// stored batch is in the kernel's page cache: it survives the process
    /// (SIGKILL, a panic), not the machine, which is Kafka's own default
    /// (it relies on replication, not on `fsync`).
    Interval(Duration),
}

impl Default for FlushPolicy {
    fn default() -> Self {
        Self::Interval(Duration::from_millis(1000))
    }
}

impl std::str::FromStr for FlushPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once('=') {
            None if s == "every-batch" => Ok(Self::EveryBatch),
            None if s == "interval" => Ok(Self::default()),
            Some(("interval", ms)) => match ms.parse::<u64>() {
                Ok(ms @ 1..=3_600_000) => Ok(Self::Interval(Duration::from_millis(ms))),
                _ => Err(format!(
                    "interval={ms}: the period is milliseconds, 1 to 3600000"
                )),
            },
            _ => Err(format!(
                "{s:?}: expected every-batch, interval or interval=MS"
            )),
        }
    }
}

/// Why a batch read back from a segment was not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadBatch {
    /// Shorter than its header or its stated length: a torn write.
    Truncated,
    /// Not a v2 batch, or a length or offset delta that cannot be.
    Framing,
    /// Offsets that go back, or a gap from the previous segment.
    Offsets,
    /// The CRC32C stored in the header does not match the batch.
    Crc,
}

/// What a recovery found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Bytes cut from the end (a torn or corrupt tail, and the segments
    /// after it).
    pub truncated_bytes: u64,
    /// The first bad batch's fault, if any.
    pub fault: Option<BadBatch>,
    /// Batches whose CRC was checked (those from the recovery point on).
    pub crc_checked: usize,
}

/// A batch read back: its offsets and bytes.
#[derive(Debug, Clone)]
pub struct StoredBatch {
    pub base_offset: i64,
    pub last_offset: i64,
    pub data: Bytes,
}

/// True when the batch's stored CRC32C matches its content.
pub fn crc_ok(batch: &[u8]) -> bool {
    if batch.len() < BATCH_HEADER_LEN {
        return false;
    }
    let stored = u32::from_be_bytes(batch[OFF_CRC..OFF_CRC + 4].try_into().unwrap());
    crc32c::crc32c(&batch[OFF_ATTRIBUTES..]) == stored
}

/// Reads the batch at the start of `rest`, checking framing (not the CRC).
fn frame(rest: &[u8]) -> Result<(usize, i64, i64), BadBatch> {
    if rest.len() < BATCH_HEADER_LEN {
        return Err(BadBatch::Truncated);
    }
    let i32_at = |o: usize| i32::from_be_bytes(rest[o..o + 4].try_into().unwrap());
    let base = i64::from_be_bytes(rest[0..8].try_into().unwrap());
    let len = i32_at(OFF_BATCH_LENGTH);
    let delta = i32_at(OFF_LAST_OFFSET_DELTA);
    if rest[OFF_MAGIC] != 2 || delta < 0 || base < 0 {
        return Err(BadBatch::Framing);
    }
    let total = usize::try_from(len)
        .ok()
        .and_then(|l| l.checked_add(LOG_OVERHEAD))
        .ok_or(BadBatch::Framing)?;
    if total < BATCH_HEADER_LEN {
        return Err(BadBatch::Framing);
    }
    if total > rest.len() {
        return Err(BadBatch::Truncated);
    }
    Ok((total, base, base + i64::from(delta)))
}

fn segment_name(base: i64, ext: &str) -> String {
    format!("{base:020}.{ext}")
}

/// Position of the last indexed batch at or before `offset` (0 when none),
/// from index entries (relative offset, position) in increasing order.
pub fn index_lookup(entries: &[(u32, u32)], base: i64, offset: i64) -> u32 {
    let rel = offset - base;
    let i = entries.partition_point(|(o, _)| i64::from(*o) <= rel);
    if i == 0 { 0 } else { entries[i - 1].1 }
}

fn encode_index(entries: &[(u32, u32)]) -> Vec<u8> {
    entries
        .iter()
        .flat_map(|(o, p)| o.to_be_bytes().into_iter().chain(p.to_be_bytes()))
        .collect()
}

/// An index read from disk, kept only if it is consistent (strictly
/// increasing, within the segment): a torn index is ignored, not trusted.
fn read_index(path: &Path, segment_len: usize) -> Vec<(u32, u32)> {
    let Ok(raw) = std::fs::read(path) else {
        return vec![];
    };
    let entries: Vec<(u32, u32)> = raw
        .chunks_exact(8)
        .map(|c| {
            (
                u32::from_be_bytes(c[0..4].try_into().unwrap()),
                u32::from_be_bytes(c[4..8].try_into().unwrap()),
            )
        })
        .collect();
    let sane = entries
        .windows(2)
        .all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1)
        && entries.iter().all(|(_, p)| (*p as usize) < segment_len);
    if sane { entries } else { vec![] }
}

#[derive(Debug)]
struct Segment {
    base: i64,
    size: u64,
    index: Vec<(u32, u32)>,
    /// Log bytes since the last index entry.
    since_index: u64,
}

#[derive(Debug)]
struct Active {
    log: Arc<File>,
    index: File,
}

/// The segment files of one replica, appended to as its log grows.
#[derive(Debug)]
pub struct SegmentStore {
    dir: PathBuf,
    segment_bytes: u64,
    flush: FlushPolicy,
    segments: Vec<Segment>,
    active: Option<Active>,
    /// The active segment was written since the last `take_dirty`.
    dirty: bool,
    /// Segments that rolled (or were cut) while written since the last
    /// `take_dirty`: their tails are on no disk yet either.
    rolled: Vec<Arc<File>>,
    /// A segment file was created or removed since the last `take_dirty`:
    /// the directory's entries must reach the disk with the data.
    dir_dirty: bool,
    /// The directory itself is new: its entry in the log dir too.
    new_dir: bool,
}

fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl SegmentStore {
    /// A store for a new, empty replica in `dir`: segment files left there
    /// by an earlier replica of the same partition (one removed from this
    /// broker since) are not this replica's and are removed.
    pub fn create(dir: &Path, segment_bytes: u64, flush: FlushPolicy) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        for (_, path) in list(dir, "log")?.into_iter().chain(list(dir, "index")?) {
            std::fs::remove_file(path)?;
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            segment_bytes: segment_bytes.max(BATCH_HEADER_LEN as u64),
            flush,
            segments: vec![],
            active: None,
            dirty: false,
            rolled: vec![],
            dir_dirty: true,
            new_dir: true,
        })
    }

    pub fn set_segment_bytes(&mut self, bytes: u64) {
        self.segment_bytes = bytes.max(BATCH_HEADER_LEN as u64);
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn flush(&self) -> FlushPolicy {
        self.flush
    }

    /// Number of segment files.
    #[cfg(test)]
    fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Base offsets of the segments, oldest first.
    #[cfg(test)]
    fn segment_bases(&self) -> Vec<i64> {
        self.segments.iter().map(|s| s.base).collect()
    }

    /// The active segment stops being appended to: a tail written since
    /// the last `take_dirty` stays owed to the disk.
    fn retire_active(&mut self) {
        if let Some(a) = self.active.take()
            && std::mem::take(&mut self.dirty)
        {
            self.rolled.push(a.log);
        }
    }

    fn open_segment(&mut self, base: i64) -> std::io::Result<()> {
        let log = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(self.dir.join(segment_name(base, "log")))?;
        let index = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(self.dir.join(segment_name(base, "index")))?;
        // The new file's name must survive a crash along with its data.
        self.dir_dirty = true;
        self.segments.push(Segment {
            base,
            size: 0,
            index: vec![],
            since_index: 0,
        });
        self.active = Some(Active {
            log: Arc::new(log),
            index,
        });
        Ok(())
    }

    /// Appends one stored batch (offsets already assigned), rolling to a
    /// new segment first when it would not fit. It is in the kernel when
    /// this returns, on the disk once a `take_dirty` after it was synced.
    pub fn append(&mut self, data: &[u8], base_offset: i64) -> std::io::Result<()> {
        let roll = match self.segments.last() {
            None => true,
            Some(s) => s.size > 0 && s.size + data.len() as u64 > self.segment_bytes,
        };
        if roll || self.active.is_none() {
            self.retire_active();
            self.open_segment(base_offset)?;
        }
        let seg = self.segments.last_mut().expect("a segment is open");
        let active = self.active.as_mut().expect("a segment is open");
        (&*active.log).write_all(data)?;
        if seg.size == 0 || seg.since_index >= INDEX_INTERVAL {
            let entry = ((base_offset - seg.base) as u32, seg.size as u32);
            // The first batch of a segment is at position 0 without an entry.
            if seg.size > 0 {
                active.index.write_all(&encode_index(&[entry]))?;
                seg.index.push(entry);
            }
            seg.since_index = 0;
        }
        seg.size += data.len() as u64;
        seg.since_index += data.len() as u64;
        self.dirty = true;
        Ok(())
    }

    /// Cuts the log to its first `keep` bytes (batches are never split:
    /// `keep` is where the in-memory log now ends), dropping later segments.
    pub fn truncate(&mut self, keep: u64) -> std::io::Result<()> {
        let mut start = 0u64;
        let mut cut = None;
        for (i, s) in self.segments.iter().enumerate() {
            if keep < start + s.size || (keep == start + s.size && i + 1 < self.segments.len()) {
                cut = Some((i, keep - start));
                break;
            }
            start += s.size;
        }
        let Some((i, local)) = cut else {
            return Ok(());
        };
        self.retire_active();
        for s in self.segments.drain(i + 1..) {
            std::fs::remove_file(self.dir.join(segment_name(s.base, "log")))?;
            std::fs::remove_file(self.dir.join(segment_name(s.base, "index")))?;
            self.dir_dirty = true;
        }
        let seg = &mut self.segments[i];
        let log_path = self.dir.join(segment_name(seg.base, "log"));
        let log = open_append(&log_path)?;
        log.set_len(local)?;
        seg.size = local;
        seg.index.retain(|(_, p)| u64::from(*p) < local);
        seg.since_index = local - seg.index.last().map_or(0, |(_, p)| u64::from(*p));
        let index = OpenOptions::new()
            .append(true)
            .open(self.dir.join(segment_name(seg.base, "index")))?;
        index.set_len(seg.index.len() as u64 * 8)?;
        // The cut, like an append, is owed to the disk.
        self.dirty = true;
        self.active = Some(Active {
            log: Arc::new(log),
            index,
        });
        Ok(())
    }

    /// Every file written since the last call, for the caller to `fsync`
    /// outside the cluster's lock: segments rolled or cut meanwhile, the
    /// active one, and the directory when its entries changed. Once they
    /// are synced, everything appended before this call is on disk.
    pub fn take_dirty(&mut self) -> std::io::Result<Vec<Arc<File>>> {
        let mut files = std::mem::take(&mut self.rolled);
        if std::mem::take(&mut self.dirty)
            && let Some(a) = &self.active
        {
            files.push(a.log.clone());
        }
        if self.dir_dirty {
            files.push(Arc::new(File::open(&self.dir)?));
            self.dir_dirty = false;
        }
        if self.new_dir
            && let Some(parent) = self.dir.parent()
        {
            files.push(Arc::new(File::open(parent)?));
            self.new_dir = false;
        }
        Ok(files)
    }

    /// Reads the replica back from `dir` (missing: an empty log), checking
    /// every batch's CRC from `recovery_point` on (None: every batch, since
    /// nothing is known to be flushed),
    /// and cuts a torn or corrupt tail. Returns the store, ready for
    /// appends, and the batches it holds.
    pub fn recover(
        dir: &Path,
        segment_bytes: u64,
        flush: FlushPolicy,
        recovery_point: Option<i64>,
    ) -> std::io::Result<(Self, Vec<StoredBatch>, Recovery)> {
        std::fs::create_dir_all(dir)?;
        let mut store = Self {
            dir: dir.to_path_buf(),
            segment_bytes: segment_bytes.max(BATCH_HEADER_LEN as u64),
            flush,
            segments: vec![],
            active: None,
            dirty: false,
            rolled: vec![],
            dir_dirty: false,
            new_dir: false,
        };
        let mut report = Recovery::default();
        let mut batches = Vec::new();
        let files = list(dir, "log")?;
        let mut next: Option<i64> = None;
        let mut stop = false;
        for (k, (base, path)) in files.iter().enumerate() {
            let data = Bytes::from(std::fs::read(path)?);
            if stop {
                report.truncated_bytes += data.len() as u64;
                std::fs::remove_file(path)?;
                let _ = std::fs::remove_file(dir.join(segment_name(*base, "index")));
                continue;
            }
            let is_active = k + 1 == files.len();
            let index_path = dir.join(segment_name(*base, "index"));
            // Batches before the recovery point were flushed: framing is
            // enough there, and the index says where checking starts.
            let check_from = match recovery_point {
                Some(rp) if !is_active || rp > *base => {
                    index_lookup(&read_index(&index_path, data.len()), *base, rp) as usize
                }
                _ => 0,
            };
            let mut pos = 0usize;
            let mut seg = Segment {
                base: *base,
                size: 0,
                index: vec![],
                since_index: 0,
            };
            while pos < data.len() {
                let fault = match frame(&data[pos..]) {
                    Err(f) => Some((f, 0, 0, 0)),
                    Ok((len, b, last)) => {
                        let bad_offsets = next.is_some_and(|n| b < n) || (pos == 0 && b != *base);
                        if bad_offsets {
                            Some((BadBatch::Offsets, len, b, last))
                        } else if pos >= check_from && !crc_ok(&data[pos..pos + len]) {
                            report.crc_checked += 1;
                            Some((BadBatch::Crc, len, b, last))
                        } else {
                            if pos >= check_from {
                                report.crc_checked += 1;
                            }
                            if pos > 0 && seg.since_index >= INDEX_INTERVAL {
                                seg.index.push(((b - base) as u32, pos as u32));
                                seg.since_index = 0;
                            }
                            seg.since_index += len as u64;
                            batches.push(StoredBatch {
                                base_offset: b,
                                last_offset: last,
                                data: data.slice(pos..pos + len),
                            });
                            next = Some(last + 1);
                            pos += len;
                            None
                        }
                    }
                };
                if let Some((f, ..)) = fault {
                    report.fault = Some(f);
                    report.truncated_bytes += (data.len() - pos) as u64;
                    stop = true;
                    break;
                }
            }
            seg.size = pos as u64;
            if stop || pos < data.len() {
                let f = OpenOptions::new().write(true).open(path)?;
                f.set_len(pos as u64)?;
                f.sync_all()?;
            }
            if pos == 0 && k > 0 {
                // An empty segment after the first holds nothing to keep.
                std::fs::remove_file(path)?;
                let _ = std::fs::remove_file(&index_path);
                continue;
            }
            crate::fsutil::Staged::write(&index_path, &encode_index(&seg.index))
                .and_then(|s| s.commit(false))
                .map_err(std::io::Error::other)?;
            store.segments.push(seg);
        }
        if let Some(last) = store.segments.last() {
            let log = open_append(&dir.join(segment_name(last.base, "log")))?;
            let index = open_append(&dir.join(segment_name(last.base, "index")))?;
            store.active = Some(Active {
                log: Arc::new(log),
                index,
            });
        }
        Ok((store, batches, report))
    }
}

/// Suffix of a replica dir being removed, as Kafka names it
/// (`<topic>-<partition>.<unique id>-delete`).
const DELETE_SUFFIX: &str = "-delete";

/// True for a name [`rename_for_removal`] gives: `<topic>-<partition>.<32
/// hex digits>-delete`.
fn is_renamed_for_removal(name: &str) -> bool {
    name.strip_suffix(DELETE_SUFFIX)
        .and_then(|n| n.rsplit_once('.'))
        .is_some_and(|(tp, id)| {
            id.len() == 32
                && id.bytes().all(|b| b.is_ascii_hexdigit())
                && tp
                    .rsplit_once('-')
                    .is_some_and(|(_, p)| p.parse::<u32>().is_ok())
        })
}

/// A replica's dir (one a store made) leaves: renamed at once, as Kafka
/// does, so a new replica of the partition starts in a fresh dir; its
/// removal ([`remove_renamed`]) can come later. None when it is gone.
pub fn rename_for_removal(dir: &Path) -> std::io::Result<Option<PathBuf>> {
    // Unique as Kafka's: a partition removed twice gets two names.
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let Some(name) = dir.file_name() else {
        return Ok(None);
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let to = dir.with_file_name(format!(
        "{}.{:016x}{n:016x}{DELETE_SUFFIX}",
        name.to_string_lossy(),
        nanos
    ));
    match std::fs::rename(dir, &to) {
        Ok(()) => Ok(Some(to)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Removes a dir [`rename_for_removal`] renamed; refuses any other.
pub fn remove_renamed(dir: &Path) -> std::io::Result<()> {
    let ours = dir
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(is_renamed_for_removal);
    if !ours {
        return Err(std::io::Error::other(
            "not a replica dir renamed for removal",
        ));
    }
    std::fs::remove_dir_all(dir)
}

/// Removes the renamed dirs in `log_dir` that a stop left (a crash between
/// the rename and the removal).
pub fn remove_renamed_in(log_dir: &Path) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(log_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for e in entries {
        let e = e?;
        if e.file_name().to_str().is_some_and(is_renamed_for_removal) && e.file_type()?.is_dir() {
            std::fs::remove_dir_all(e.path())?;
        }
    }
    Ok(())
}

/// The files `<base>.<ext>` in `dir`, by base offset.
fn list(dir: &Path, ext: &str) -> std::io::Result<Vec<(i64, PathBuf)>> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for e in entries {
        let e = e?;
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(stem) = name.strip_suffix(&format!(".{ext}")) else {
            continue;
        };
        if stem.len() == 20
            && let Ok(base) = stem.parse::<i64>()
        {
            out.push((base, e.path()));
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::minibroker::log::{PartitionLog, split_batches, synthetic_batch};

    /// Batches as a leader stores them (offsets assigned), `n` of them.
    fn stored(n: usize, records: usize) -> Vec<(i64, Bytes)> {
        let mut log = PartitionLog::new();
        for i in 0..n {
            let raw = synthetic_batch(1000 + i as u64 * 100, records, 200, 1000 + i as i64);
            for b in split_batches(&raw).unwrap() {
                log.append_as_leader(&b, 3);
            }
        }
        log.read(0, i64::MAX, usize::MAX)
            .into_iter()
            .map(|b| (b.base_offset, b.data))
            .collect()
    }

    fn write(dir: &Path, segment_bytes: u64, batches: &[(i64, Bytes)]) -> SegmentStore {
        let mut s = SegmentStore::create(dir, segment_bytes, FlushPolicy::EveryBatch).unwrap();
        for (base, data) in batches {
            s.append(data, *base).unwrap();
        }
        s
    }

    fn recover(dir: &Path, rp: Option<i64>) -> (SegmentStore, Vec<StoredBatch>, Recovery) {
        SegmentStore::recover(dir, 1 << 20, FlushPolicy::EveryBatch, rp).unwrap()
    }

    #[test]
    fn segments_roll_by_size_and_read_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let batches = stored(10, 5);
        let one = batches[0].1.len() as u64;
        // Three batches fit a segment; the fourth rolls.
        let s = write(dir.path(), one * 3 + 10, &batches);
        let bases: Vec<i64> = batches.iter().step_by(3).map(|b| b.0).collect();
        assert_eq!(s.segment_bases(), bases);
        let names: Vec<i64> = list(dir.path(), "log")
            .unwrap()
            .into_iter()
            .map(|x| x.0)
            .collect();
        assert_eq!(names, bases, "files named by base offset");
        let (r, back, report) = recover(dir.path(), None);
        assert_eq!(report.fault, None);
        assert_eq!(report.crc_checked, 10);
        assert_eq!(r.segment_count(), 4);
        assert_eq!(back.len(), 10);
        for (b, (base, data)) in back.iter().zip(&batches) {
            assert_eq!((b.base_offset, &b.data), (*base, data));
        }
        assert_eq!(back[9].last_offset, 49);
    }

    #[test]
    fn the_index_is_sparse_and_finds_the_batch_at_or_before_an_offset() {
        let dir = tempfile::tempdir().unwrap();
        // 2 records of 200 B: about 480 B a batch, so an entry every 9 batches.
        let batches = stored(40, 2);
        let s = write(dir.path(), 1 << 20, &batches);
        let entries = s.segments[0].index.clone();
        assert!(entries.len() >= 3 && entries.len() < 10, "{entries:?}");
        let on_disk = read_index(&dir.path().join(segment_name(0, "index")), 1 << 20);
        assert_eq!(on_disk, entries);
        // Every entry points at the start of a batch with that offset.
        let mut pos = 0u32;
        let starts: Vec<(u32, u32)> = batches
            .iter()
            .map(|(b, d)| {
                let e = (*b as u32, pos);
                pos += d.len() as u32;
                e
            })
            .collect();
        for e in &entries {
            assert!(starts.contains(e), "{e:?}");
        }
        let (o1, p1) = entries[1];
        assert_eq!(index_lookup(&entries, 0, i64::from(o1)), p1);
        assert_eq!(index_lookup(&entries, 0, i64::from(o1) + 1), p1);
        assert_eq!(index_lookup(&entries, 0, i64::from(o1) - 1), entries[0].1);
        assert_eq!(index_lookup(&entries, 0, 0), 0);
        // Recovery rebuilds the same index.
        std::fs::remove_file(dir.path().join(segment_name(0, "index"))).unwrap();
        let (r, _, _) = recover(dir.path(), None);
        assert_eq!(r.segments[0].index, entries);
    }

    #[test]
    fn a_torn_tail_is_cut_at_the_last_whole_batch() {
        let dir = tempfile::tempdir().unwrap();
        let batches = stored(6, 5);
        let one = batches[0].1.len() as u64;
        drop(write(dir.path(), one * 4 + 10, &batches));
        let active = dir.path().join(segment_name(batches[4].0, "log"));
        let whole = std::fs::metadata(&active).unwrap().len();
        // Half a batch, as a write cut short leaves it.
        let mut f = OpenOptions::new().append(true).open(&active).unwrap();
        f.write_all(&batches[0].1[..40]).unwrap();
        drop(f);
        let (mut r, back, report) = recover(dir.path(), None);
        assert_eq!(report.fault, Some(BadBatch::Truncated));
        assert_eq!(report.truncated_bytes, 40);
        assert_eq!(back.len(), 6);
        assert_eq!(std::fs::metadata(&active).unwrap().len(), whole);
        // Appends continue after the cut.
        let next = stored(7, 5).pop().unwrap();
        r.append(&next.1, next.0).unwrap();
        let (_, back, report) = recover(dir.path(), None);
        assert_eq!((back.len(), report.fault), (7, None));
        // Garbage that frames as nothing at all.
        let mut f = OpenOptions::new().append(true).open(&active).unwrap();
        f.write_all(&[0xff; 100]).unwrap();
        drop(f);
        let (_, back, report) = recover(dir.path(), None);
        assert_eq!((back.len(), report.fault), (7, Some(BadBatch::Framing)));
    }

    #[test]
    fn a_crc_mismatch_cuts_the_log_there_and_drops_later_segments() {
        let dir = tempfile::tempdir().unwrap();
        let batches = stored(8, 5);
        let one = batches[0].1.len() as u64;
        drop(write(dir.path(), one * 3 + 10, &batches));
        // Flip a byte of a record in batch 4 (segment 2, second batch).
        let seg = dir.path().join(segment_name(batches[3].0, "log"));
        let mut raw = std::fs::read(&seg).unwrap();
        let at = one as usize + 70;
        raw[at] ^= 0x55;
        crate::fsutil::Staged::write(&seg, &raw)
            .unwrap()
            .commit(false)
            .unwrap();
        let (r, back, report) = recover(dir.path(), None);
        assert_eq!(report.fault, Some(BadBatch::Crc));
        assert_eq!(back.len(), 4, "batches 0-3 kept");
        assert_eq!(r.segment_bases(), vec![0, batches[3].0]);
        assert!(
            !dir.path().join(segment_name(batches[6].0, "log")).exists(),
            "the segment after the cut is dropped"
        );
        assert_eq!(report.truncated_bytes, one * 4);
        // Before the recovery point only framing is checked: the same flip
        // in a flushed batch is not looked for.
        let dir2 = tempfile::tempdir().unwrap();
        drop(write(dir2.path(), 1 << 20, &batches));
        let seg = dir2.path().join(segment_name(0, "log"));
        let mut raw = std::fs::read(&seg).unwrap();
        raw[70] ^= 0x55;
        crate::fsutil::Staged::write(&seg, &raw)
            .unwrap()
            .commit(false)
            .unwrap();
        let rp = batches[7].0;
        let (_, back, report) = recover(dir2.path(), Some(rp));
        assert_eq!((back.len(), report.fault), (8, None));
        assert!(report.crc_checked < 8, "{report:?}");
        let (_, back, report) = recover(dir2.path(), None);
        assert_eq!((back.len(), report.fault), (0, Some(BadBatch::Crc)));
    }

    #[test]
    fn truncation_cuts_files_and_appends_continue() {
        let dir = tempfile::tempdir().unwrap();
        let batches = stored(9, 5);
        let one = batches[0].1.len() as u64;
        let mut s = write(dir.path(), one * 3 + 10, &batches);
        s.truncate(one * 4).unwrap();
        assert_eq!(s.segment_count(), 2);
        let (_, back, _) = recover(dir.path(), None);
        assert_eq!(back.len(), 4);
        s.append(&batches[4].1, batches[4].0).unwrap();
        s.truncate(one * 3).unwrap();
        let (_, back, _) = recover(dir.path(), None);
        assert_eq!(back.len(), 3);
        s.truncate(0).unwrap();
        let (_, back, _) = recover(dir.path(), None);
        assert!(back.is_empty());
    }

    /// Inodes of files, to tell which ones a flush would sync.
    fn inodes(files: &[Arc<File>]) -> std::collections::BTreeSet<u64> {
        use std::os::unix::fs::MetadataExt;
        files.iter().map(|f| f.metadata().unwrap().ino()).collect()
    }

    fn inode(path: &Path) -> u64 {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).unwrap().ino()
    }

    #[test]
    fn a_flush_after_a_roll_syncs_the_rolled_segments_too() {
        // regression: a flush synced only the active segment, so the tail
        // of a segment that rolled between two flushes was never synced,
        // while the recovery point written after the flush passed it.
        for policy in [FlushPolicy::default(), FlushPolicy::EveryBatch] {
            let dir = tempfile::tempdir().unwrap();
            let pdir = dir.path().join("t-0");
            let batches = stored(6, 5);
            let one = batches[0].1.len() as u64;
            let mut s = SegmentStore::create(&pdir, one * 2 + 10, policy).unwrap();
            let new = inodes(&s.take_dirty().unwrap());
            assert_eq!(
                new,
                [inode(&pdir), inode(dir.path())].into(),
                "a new replica's dir, and its entry in the log dir"
            );
            // Two rolls: segments [0, 1], [2, 3] and [4].
            for (base, data) in &batches[..5] {
                s.append(data, *base).unwrap();
            }
            let mut expected: std::collections::BTreeSet<u64> = list(&pdir, "log")
                .unwrap()
                .iter()
                .map(|(_, p)| inode(p))
                .collect();
            assert_eq!(expected.len(), 3);
            expected.insert(inode(&pdir));
            assert_eq!(
                inodes(&s.take_dirty().unwrap()),
                expected,
                "{policy:?}: every segment written, and the dir whose entries changed"
            );
            assert!(s.take_dirty().unwrap().is_empty(), "nothing written since");
            s.append(&batches[5].1, batches[5].0).unwrap();
            let active = pdir.join(segment_name(batches[4].0, "log"));
            assert_eq!(inodes(&s.take_dirty().unwrap()), [inode(&active)].into());
            // A cut that drops a segment owes the cut segment and the dir.
            s.truncate(one * 3).unwrap();
            let cut = pdir.join(segment_name(batches[2].0, "log"));
            assert_eq!(
                inodes(&s.take_dirty().unwrap()),
                [inode(&cut), inode(&pdir)].into()
            );
        }
    }

    #[test]
    fn only_a_replica_dir_renamed_for_removal_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let replica = dir.path().join("a.b-c-12");
        std::fs::create_dir(&replica).unwrap();
        let renamed = rename_for_removal(&replica).unwrap().unwrap();
        let name = renamed.file_name().unwrap().to_str().unwrap().to_string();
        assert!(
            name.starts_with("a.b-c-12.") && name.ends_with("-delete"),
            "{name}"
        );
        assert!(is_renamed_for_removal(&name));
        for other in [
            "t-0",
            "t-0-delete",
            "t-0.backup-delete",
            "t.0123456789abcdef0123456789abcdef-delete",
        ] {
            assert!(!is_renamed_for_removal(other), "{other}");
        }
        let other = dir.path().join("t-0.backup-delete");
        std::fs::create_dir(&other).unwrap();
        assert!(remove_renamed(&other).is_err());
        remove_renamed_in(dir.path()).unwrap();
        assert!(!renamed.exists() && other.exists());
        assert_eq!(rename_for_removal(&replica).unwrap(), None, "gone already");
    }

    #[test]
    fn flush_policy_parses() {
        assert_eq!("every-batch".parse(), Ok(FlushPolicy::EveryBatch));
        assert_eq!("interval".parse(), Ok(FlushPolicy::default()));
        assert_eq!(
            "interval=250".parse(),
            Ok(FlushPolicy::Interval(Duration::from_millis(250)))
        );
        assert!("interval=0".parse::<FlushPolicy>().is_err());
        assert!("always".parse::<FlushPolicy>().is_err());
    }
}
