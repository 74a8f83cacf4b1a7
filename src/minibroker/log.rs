//! In-memory partition log: record batches stored as received, with the
//! offsets the leader assigned. Exact size accounting (the sum of the stored
//! batch sizes) is what DescribeLogDirs reports.
//!
//! A log may also hold sized batches (`append_sized`): bytes counted but
//! not held, so the in-process simulator (`sim`) copies gigabytes under a
//! throttle without allocating them. Only the simulator makes them; a
//! broker serving the wire never does.
//!
//! With a data dir a log also has a [`SegmentStore`]: every batch stored
//! in memory is appended to the replica's segment files at once, and every
//! truncation cuts them, so the files can rebuild the log after a crash
//! (the memory still serves reads).
//!
//! Not for: decoding records. A batch is opaque bytes here except for the
//! fixed v2 batch header fields the broker must read or assign (base offset,
//! partition leader epoch, last offset delta, max timestamp); neither is
//! covered by the batch CRC, which starts at the attributes field.

use bytes::{BufMut, Bytes, BytesMut};

use super::segment::{FlushPolicy, SegmentStore, StoredBatch};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

// The v2 record batch header, as Kafka's `DefaultRecordBatch` lays it
// out: field offsets from the start of the batch. Everything in the
// mini-broker that reads a header field takes its offset from here.

/// Size of the fixed v2 record batch header.
pub const BATCH_HEADER_LEN: usize = 61;
/// The base offset and the length field, which the length does not count
/// (Kafka's `LOG_OVERHEAD`).
pub const LOG_OVERHEAD: usize = 12;
pub const OFF_BATCH_LENGTH: usize = 8;
pub const OFF_LEADER_EPOCH: usize = 12;
pub const OFF_MAGIC: usize = 16;
pub const OFF_CRC: usize = 17;
/// The CRC covers the batch from the attributes field on.
pub const OFF_ATTRIBUTES: usize = 21;
pub const OFF_LAST_OFFSET_DELTA: usize = 23;
pub const OFF_MAX_TIMESTAMP: usize = 35;
pub const OFF_PRODUCER_ID: usize = 43;
pub const OFF_PRODUCER_EPOCH: usize = 51;
pub const OFF_BASE_SEQUENCE: usize = 53;

/// One stored record batch.
#[derive(Debug, Clone)]
pub struct Batch {
    pub base_offset: i64,
    /// Offset of the last record in the batch (inclusive).
    pub last_offset: i64,
    pub max_timestamp: i64,
    pub data: Bytes,
    /// Bytes counted beyond `data`: 0 for every batch a client produced;
    /// the whole size of a sized batch, whose `data` is empty.
    pub phantom_len: u64,
}

impl Batch {
    pub fn next_offset(&self) -> i64 {
        self.last_offset + 1
    }
    pub fn size(&self) -> u64 {
        self.data.len() as u64 + self.phantom_len
    }
    /// The partition leader epoch in the batch header (the leader that
    /// appended it); None for a sized batch, which has no header.
    pub fn leader_epoch(&self) -> Option<i32> {
        self.data
            .get(OFF_LEADER_EPOCH..OFF_LEADER_EPOCH + 4)
            .map(|b| i32::from_be_bytes(b.try_into().unwrap()))
    }
}

/// Why a produced record set was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordsError {
    /// Error 2 CORRUPT_MESSAGE: truncated or malformed batch framing.
    Corrupt,
    /// Error 87 INVALID_RECORD (used for message format < v2).
    UnsupportedMagic,
}

/// Splits a produced record set into v2 batches, checking only framing.
pub fn split_batches(records: &Bytes) -> Result<Vec<Bytes>, RecordsError> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < records.len() {
        if records.len() - pos < BATCH_HEADER_LEN {
            return Err(RecordsError::Corrupt);
        }
        let h = &records[pos..];
        let batch_len = i32::from_be_bytes(
            h[OFF_BATCH_LENGTH..OFF_BATCH_LENGTH + 4]
                .try_into()
                .unwrap(),
        );
        if h[OFF_MAGIC] != 2 {
            return Err(RecordsError::UnsupportedMagic);
        }
        let total = LOG_OVERHEAD
            .checked_add(usize::try_from(batch_len).map_err(|_| RecordsError::Corrupt)?)
            .ok_or(RecordsError::Corrupt)?;
        if total < BATCH_HEADER_LEN || total > records.len() - pos {
            return Err(RecordsError::Corrupt);
        }
        let delta = i32::from_be_bytes(
            h[OFF_LAST_OFFSET_DELTA..OFF_LAST_OFFSET_DELTA + 4]
                .try_into()
                .unwrap(),
        );
        if delta < 0 {
            return Err(RecordsError::Corrupt);
        }
        out.push(records.slice(pos..pos + total));
        pos += total;
    }
    if out.is_empty() {
        return Err(RecordsError::Corrupt);
    }
    Ok(out)
}

/// A partition replica's log.
#[derive(Debug)]
pub struct PartitionLog {
    /// Tells this log from any other, so a sync taken from it is marked on
    /// it and on no log that replaced it meanwhile.
    id: u64,
    batches: Vec<Batch>,
    size: u64,
    log_start: i64,
    end: i64,
    /// The segment files behind this log, with a data dir.
    store: Option<Box<SegmentStore>>,
    /// Dropped by `kill`: its files are recovered when the broker starts,
    /// so no store may be made for it meanwhile.
    detached: bool,
    /// Offsets below this are synced to the store's disk.
    synced_end: i64,
    /// While a sync taken from this log runs: the lowest log end since it
    /// was taken (a truncation below its end means the bytes past the cut
    /// it synced are no longer this log's).
    syncing_low: Option<i64>,
}

fn next_log_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

impl Default for PartitionLog {
    fn default() -> Self {
        Self {
            id: next_log_id(),
            batches: vec![],
            size: 0,
            log_start: 0,
            end: 0,
            store: None,
            detached: false,
            synced_end: 0,
            syncing_low: None,
        }
    }
}

/// A copy holds the batches, never the files: two logs appending to one
/// store would corrupt it.
impl Clone for PartitionLog {
    fn clone(&self) -> Self {
        Self {
            batches: self.batches.clone(),
            size: self.size,
            log_start: self.log_start,
            end: self.end,
            ..Self::default()
        }
    }
}

/// Files a log wrote since its last sync was taken, and the log end they
/// make durable once synced ([`PartitionLog::take_unsynced`]).
#[derive(Debug)]
pub struct Unsynced {
    pub log_id: u64,
    pub files: Vec<std::sync::Arc<std::fs::File>>,
    pub end: i64,
}

impl PartitionLog {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    /// Takes what must be synced for everything stored so far to be on
    /// disk; None when nothing is owed, or a sync taken before is still
    /// running (one at a time, so each one's end is exact). The caller
    /// syncs the files outside the cluster's lock, then calls
    /// [`Self::synced`].
    pub fn take_unsynced(&mut self) -> std::io::Result<Option<Unsynced>> {
        if self.syncing_low.is_some() {
            return Ok(None);
        }
        let Some(store) = self.store.as_mut() else {
            return Ok(None);
        };
        let files = store.take_dirty()?;
        if files.is_empty() {
            return Ok(None);
        }
        self.syncing_low = Some(self.end);
        Ok(Some(Unsynced {
            log_id: self.id,
            files,
            end: self.end,
        }))
    }

    /// The sync of `u` finished (`ok`: every file synced). A failed one
    /// drops the files, as a broker takes a failed log dir offline: the
    /// log goes on in memory.
    pub fn synced(&mut self, u: &Unsynced, ok: std::io::Result<()>) {
        debug_assert_eq!(u.log_id, self.id);
        let low = self.syncing_low.take().unwrap_or(u.end);
        if let Err(e) = ok {
            if let Some(store) = &self.store {
                super::log(format_args!(
                    "mini-broker: {}: cannot sync: {e}; this replica is kept in memory only",
                    store.dir().display()
                ));
            }
            self.abandon_store();
            return;
        }
        self.synced_end = self.synced_end.max(u.end.min(low));
    }

    /// Offsets below this are on disk (with files; else the log end).
    pub fn synced_end(&self) -> i64 {
        if self.store.is_some() {
            self.synced_end
        } else {
            self.end
        }
    }

    /// Where this replica's log ends for acknowledgements: under
    /// `--flush every-batch` only what is synced counts, so no batch is
    /// acknowledged (by the leader, or by a high watermark over the ISR)
    /// before it is on disk; otherwise the log end.
    pub fn acked_end(&self) -> i64 {
        match &self.store {
            Some(s) if s.flush() == FlushPolicy::EveryBatch => self.synced_end,
            _ => self.end,
        }
    }
    /// Log end offset (the next offset to be assigned).
    pub fn leo(&self) -> i64 {
        self.end
    }
    pub fn log_start(&self) -> i64 {
        self.log_start
    }
    /// Exact bytes held: the sum of stored batch sizes.
    pub fn size(&self) -> u64 {
        self.size
    }
    pub fn batch_count(&self) -> usize {
        self.batches.len()
    }
    /// The stored batches, oldest first.
    pub fn batches(&self) -> &[Batch] {
        &self.batches
    }

    /// True when this log should have segment files and has none (a log
    /// made in memory, or copied).
    pub fn needs_store(&self) -> bool {
        self.store.is_none() && !self.detached
    }

    pub fn store(&self) -> Option<&SegmentStore> {
        self.store.as_deref()
    }

    pub fn store_mut(&mut self) -> Option<&mut SegmentStore> {
        self.store.as_deref_mut()
    }

    /// Gives this log its files: a new store, into which every batch held
    /// so far is written.
    pub fn attach_store(&mut self, mut store: SegmentStore) -> std::io::Result<()> {
        for b in &self.batches {
            store.append(&b.data, b.base_offset)?;
        }
        self.store = Some(Box::new(store));
        Ok(())
    }

    /// Gives up on files for this log (they could not be written): it goes
    /// on in memory, and no new store is tried.
    pub fn abandon_store(&mut self) {
        self.store = None;
        self.detached = true;
    }

    /// An empty log standing for one whose memory was dropped (`kill`):
    /// it gets no store until its files are recovered.
    pub fn detached() -> Self {
        Self {
            detached: true,
            ..Self::default()
        }
    }

    /// A log rebuilt from its recovered files.
    pub fn recovered(batches: Vec<StoredBatch>, store: SegmentStore) -> Self {
        let mut log = Self::new();
        if let Some(first) = batches.first() {
            log.log_start = first.base_offset;
        }
        for b in batches {
            let max_ts = i64::from_be_bytes(
                b.data[OFF_MAX_TIMESTAMP..OFF_MAX_TIMESTAMP + 8]
                    .try_into()
                    .unwrap(),
            );
            log.push(Batch {
                base_offset: b.base_offset,
                last_offset: b.last_offset,
                max_timestamp: max_ts,
                data: b.data,
                phantom_len: 0,
            });
        }
        log.store = Some(Box::new(store));
        // Read back from the files: on disk as far as anyone can tell.
        log.synced_end = log.end;
        log
    }

    /// Appends to the files; a write that fails drops them (the log goes
    /// on in memory), said once on stderr, as a broker takes a failed log
    /// dir offline.
    fn store_append(&mut self, i: usize) {
        let Some(store) = self.store.as_mut() else {
            return;
        };
        let b = &self.batches[i];
        if let Err(e) = store.append(&b.data, b.base_offset) {
            super::log(format_args!(
                "mini-broker: {}: cannot append: {e}; this replica is kept in memory only",
                store.dir().display()
            ));
            self.store = None;
            self.detached = true;
        }
    }

    /// Appends one batch as the leader: assigns offsets from the log end by
    /// rewriting the batch's base offset and partition leader epoch.
    /// Returns the assigned base offset.
    pub fn append_as_leader(&mut self, raw: &Bytes, leader_epoch: i32) -> i64 {
        let base = self.end;
        let mut buf = BytesMut::from(&raw[..]);
        buf[0..8].copy_from_slice(&base.to_be_bytes());
        buf[OFF_LEADER_EPOCH..OFF_LEADER_EPOCH + 4].copy_from_slice(&leader_epoch.to_be_bytes());
        let delta = i32::from_be_bytes(
            raw[OFF_LAST_OFFSET_DELTA..OFF_LAST_OFFSET_DELTA + 4]
                .try_into()
                .unwrap(),
        );
        let max_ts = i64::from_be_bytes(
            raw[OFF_MAX_TIMESTAMP..OFF_MAX_TIMESTAMP + 8]
                .try_into()
                .unwrap(),
        );
        self.push(Batch {
            base_offset: base,
            last_offset: base + i64::from(delta),
            max_timestamp: max_ts,
            data: buf.freeze(),
            phantom_len: 0,
        });
        base
    }

    /// Appends, as the leader, a sized batch of `records` offsets standing
    /// for `bytes` bytes that are not held (see the module docs). Returns
    /// the assigned base offset.
    pub fn append_sized(&mut self, bytes: u64, records: i64, timestamp: i64) -> i64 {
        let base = self.end;
        self.push(Batch {
            base_offset: base,
            last_offset: base + records.max(1) - 1,
            max_timestamp: timestamp,
            data: Bytes::new(),
            phantom_len: bytes,
        });
        base
    }

    /// A log of exactly `total` bytes in sized batches of `batch_bytes`
    /// (the last one shorter), one offset per kilobyte as a producer of
    /// 1 kB records would leave it.
    pub fn sized(total: u64, batch_bytes: u64) -> Self {
        let batch_bytes = batch_bytes.max(1);
        let mut log = Self::new();
        let mut left = total;
        while left > 0 {
            let n = left.min(batch_bytes);
            log.append_sized(n, (n / 1000).max(1) as i64, 0);
            left -= n;
        }
        log
    }

    /// Appends a batch copied from another replica (offsets already assigned).
    pub fn push(&mut self, batch: Batch) {
        debug_assert!(batch.base_offset >= self.end);
        if self.batches.is_empty() && self.size == 0 {
            self.log_start = self.log_start.min(batch.base_offset);
        }
        self.end = batch.next_offset();
        self.size += batch.size();
        self.batches.push(batch);
        self.store_append(self.batches.len() - 1);
    }

    /// Index of the first batch whose last offset is >= `offset`.
    fn index_of(&self, offset: i64) -> usize {
        self.batches.partition_point(|b| b.last_offset < offset)
    }

    /// Batches from the one containing `from`, stopping before any batch
    /// that ends at or beyond `upto` (exclusive bound, e.g. the high
    /// watermark), and after `max_bytes` (the first batch always counts).
    pub fn read(&self, from: i64, upto: i64, max_bytes: usize) -> Vec<Batch> {
        let mut out = Vec::new();
        let mut total = 0usize;
        for b in &self.batches[self.index_of(from)..] {
            if b.next_offset() > upto {
                break;
            }
            let n = b.size() as usize;
            if !out.is_empty() && total + n > max_bytes {
                break;
            }
            total += n;
            out.push(b.clone());
            if total >= max_bytes {
                break;
            }
        }
        out
    }

    /// The batch containing `from`, if it ends before `upto` (what
    /// `read(from, upto, 1)` returns first, without copying).
    pub fn batch_at(&self, from: i64, upto: i64) -> Option<&Batch> {
        self.batches
            .get(self.index_of(from))
            .filter(|b| b.next_offset() <= upto)
    }

    /// Drops every batch that ends at or after `offset`, so the log end
    /// becomes at most `offset` (batches are never split).
    pub fn truncate_to(&mut self, offset: i64) {
        if offset >= self.end {
            return;
        }
        let keep = self.batches.partition_point(|b| b.next_offset() <= offset);
        for b in self.batches.drain(keep..) {
            self.size -= b.size();
        }
        self.end = self
            .batches
            .last()
            .map_or(self.log_start, Batch::next_offset);
        self.synced_end = self.synced_end.min(self.end);
        if let Some(low) = self.syncing_low.as_mut() {
            *low = (*low).min(self.end);
        }
        if let Some(store) = self.store.as_mut()
            && let Err(e) = store.truncate(self.size)
        {
            super::log(format_args!(
                "mini-broker: {}: cannot truncate: {e}; this replica is kept in memory only",
                store.dir().display()
            ));
            self.store = None;
            self.detached = true;
        }
    }

    /// First offset whose batch has a max timestamp >= `ts`, if any.
    pub fn offset_for_timestamp(&self, ts: i64) -> Option<(i64, i64)> {
        self.batches
            .iter()
            .find(|b| b.max_timestamp >= ts)
            .map(|b| (b.base_offset, b.max_timestamp))
    }

    /// Largest max timestamp and the offset of its batch.
    pub fn max_timestamp(&self) -> Option<(i64, i64)> {
        self.batches
            .iter()
            .max_by_key(|b| b.max_timestamp)
            .map(|b| (b.last_offset, b.max_timestamp))
    }
}

/// Concatenates batches into one record set (what Fetch returns).
pub fn concat(batches: &[Batch]) -> Bytes {
    let total: usize = batches.iter().map(|b| b.data.len()).sum();
    let mut buf = BytesMut::with_capacity(total);
    for b in batches {
        buf.put_slice(&b.data);
    }
    buf.freeze()
}

/// Builds one valid, uncompressed v2 record batch with `count` records of
/// `value_len` bytes each, keyed `key-<n>`, using the kafka-protocol encoder.
pub fn synthetic_batch(first_key: u64, count: usize, value_len: usize, timestamp: i64) -> Bytes {
    let records: Vec<Record> = (0..count)
        .map(|i| {
            let n = first_key + i as u64;
            let fill = (n % 251) as u8;
            Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: 0,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                // offset - sequence must be constant for the encoder to keep one batch.
                sequence: i as i32,
                timestamp,
                key: Some(Bytes::from(format!("key-{n}"))),
                value: Some(Bytes::from(vec![fill; value_len])),
                headers: Default::default(),
            }
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .expect("encoding an uncompressed batch cannot fail");
    buf.freeze()
}

/// A config or name as the protocol's string type.
pub fn sb(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leader_append_assigns_offsets_and_read_respects_upto() {
        let mut log = PartitionLog::new();
        let b = synthetic_batch(0, 3, 10, 1000);
        let parts = split_batches(&b).unwrap();
        assert_eq!(parts.len(), 1);
        assert_eq!(log.append_as_leader(&parts[0], 5), 0);
        assert_eq!(log.append_as_leader(&parts[0], 5), 3);
        assert_eq!(log.leo(), 6);
        assert_eq!(log.size(), 2 * b.len() as u64);
        assert_eq!(log.read(0, 3, usize::MAX).len(), 1);
        assert_eq!(log.read(4, 6, usize::MAX).len(), 1);
        let read = log.read(0, 6, 1);
        assert_eq!(read.len(), 1, "first batch always returned");
        assert_eq!(
            i64::from_be_bytes(read[0].data[0..8].try_into().unwrap()),
            0
        );
        log.truncate_to(4);
        assert_eq!(log.leo(), 3);
        assert_eq!(log.size(), b.len() as u64);
    }

    #[test]
    fn sized_logs_count_bytes_they_do_not_hold() {
        let log = PartitionLog::sized(10 << 30, 1 << 20);
        assert_eq!(log.size(), 10 << 30);
        assert_eq!(log.batch_count(), 10 << 10);
        let read = log.read(0, log.leo(), 1);
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].size(), 1 << 20);
        assert!(read[0].data.is_empty());
        let odd = PartitionLog::sized(2_500, 1_000);
        assert_eq!((odd.size(), odd.batch_count(), odd.leo()), (2_500, 3, 3));
        assert_eq!(PartitionLog::sized(0, 1_000).leo(), 0);
        // Bytes read are counted by size, not by what is held.
        assert_eq!(log.read(0, log.leo(), 3 << 20).len(), 3);
    }

    #[test]
    fn split_rejects_truncated_and_old_magic() {
        let b = synthetic_batch(0, 1, 10, 0);
        assert_eq!(
            split_batches(&b.slice(0..b.len() - 1)).unwrap_err(),
            RecordsError::Corrupt
        );
        let mut m = BytesMut::from(&b[..]);
        m[OFF_MAGIC] = 1;
        assert_eq!(
            split_batches(&m.freeze()).unwrap_err(),
            RecordsError::UnsupportedMagic
        );
        assert_eq!(
            split_batches(&Bytes::new()).unwrap_err(),
            RecordsError::Corrupt
        );
    }
}
