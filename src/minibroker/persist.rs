//! `--data-dir` persistence, laid out as Kafka lays out its own:
//!
//! - `DIR/cluster.json`: the metadata (topics and their ids, assignments,
//!   ISRs, leaders and leader epochs, moves in flight, each replica's log
//!   dir, topic and broker configs), written whenever it changes (checked
//!   every [`METADATA_TICK`]) and, for a topic not yet written, before the
//!   first produce to it is answered.
//! - each replica's log under its broker's log dir (`DIR/broker-N/dir-M`):
//!   `<topic>-<partition>/<base offset>.log` and `.index` segments, appended
//!   as batches are stored (see `segment`).
//! - in each log dir, Kafka's checkpoint files (`0`, a count, then `topic
//!   partition offset` lines): `replication-offset-checkpoint` (the high
//!   watermarks), `log-start-offset-checkpoint`, and
//!   `recovery-point-offset-checkpoint` (offsets below it were `fsync`ed),
//!   written on the flush period and at shutdown, through a temporary file
//!   and a rename.
//!
//! At start [`load`] rebuilds the cluster: each replica is recovered from
//! its files (CRCs checked from the recovery point, a torn tail cut), each
//! partition led by the in-sync replica holding the most, which no
//! acknowledged batch can be missing from. `kill N` drops a broker's logs
//! from memory and [`recover_broker`] reads them back when it starts.
//!
//! [`prepare`] checks at start that the dir can be used, and locks it.
//! [`attach_replica`] gives a log its files where the controller state
//! makes a replica or a future log.
//!
//! A replica gone from a broker or a dir (a finished move, a cancelled
//! one, a deleted topic) has its dir renamed `-delete` and removed once
//! the metadata on disk no longer names it; a finished move or disk move
//! is written before the lock is released, so no crash restarts it with
//! the replicas it dropped. Only dirs this cluster made or read as a
//! replica's are ever removed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, broadcast, watch};
use uuid::Uuid;

use super::configs::SEGMENT_BYTES;
use super::log::{PartitionLog, Unsynced};
use super::segment::{FlushPolicy, SegmentStore};
use super::shared::Shared;
use super::state::{BrokerId, Partition, Replica, State, Topic};
use crate::fsutil::DirLock;

const SNAPSHOT: &str = "cluster.json";
/// The format written; 1 (a snapshot written at exit, one segment per
/// replica) is read and migrated: its segment is a valid first segment.
const VERSION: u32 = 2;
/// Written at start, as a save writes (a temporary file and a rename), to
/// prove the data dir takes files; left in place.
const WRITE_CHECK: &str = ".write-check";
const LOCK: &str = ".lock";
const HW_CHECKPOINT: &str = "replication-offset-checkpoint";
const START_CHECKPOINT: &str = "log-start-offset-checkpoint";
const RECOVERY_CHECKPOINT: &str = "recovery-point-offset-checkpoint";
/// How often the persister looks for metadata changes.
pub const METADATA_TICK: Duration = Duration::from_millis(100);
/// Checkpoint period under `--flush every-batch` (nothing to `fsync`).
const CHECKPOINT_PERIOD: Duration = Duration::from_secs(1);

/// What a cluster with a data dir persists, shared through its state.
#[derive(Debug)]
pub struct Storage {
    pub data_dir: PathBuf,
    pub flush: FlushPolicy,
    /// Serializes metadata writes; holds the sequence of the last written,
    /// so an older snapshot never replaces a newer one.
    written: Mutex<u64>,
    next_seq: Mutex<u64>,
    /// Ids of the topics in the last metadata written.
    saved_topics: Mutex<BTreeSet<Uuid>>,
    /// Under `every-batch`, rung after appends: the sync task syncs them.
    sync_wanted: Notify,
    /// Every replica dir this mini-broker made or read (`<log dir>/<topic>-
    /// <partition>`): the only dirs it ever removes, once no replica is
    /// there any more and the metadata saying so is on disk.
    made_dirs: Mutex<BTreeSet<PathBuf>>,
    /// Replica dirs renamed for removal, not removed yet.
    deleting: Mutex<Vec<PathBuf>>,
}

impl Storage {
    pub fn new(data_dir: PathBuf, flush: FlushPolicy) -> Self {
        Self {
            data_dir,
            flush,
            written: Mutex::new(0),
            next_seq: Mutex::new(0),
            saved_topics: Mutex::new(BTreeSet::new()),
            sync_wanted: Notify::new(),
            made_dirs: Mutex::new(BTreeSet::new()),
            deleting: Mutex::new(Vec::new()),
        }
    }

    /// Logs were appended to: under `every-batch`, their acknowledgements
    /// wait for the sync this asks for (under `interval`, the period's).
    pub fn appended(&self) {
        if self.flush == FlushPolicy::EveryBatch {
            self.sync_wanted.notify_one();
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Snapshot {
    version: u32,
    cluster_id: String,
    #[serde(default)]
    metadata_epoch: i64,
    #[serde(default)]
    next_producer_id: i64,
    /// The last topic id handed out; a data dir without it takes the
    /// highest id of its topics.
    #[serde(default)]
    next_topic_id: u64,
    brokers: Vec<BrokerSnap>,
    topics: Vec<TopicSnap>,
}

#[derive(Serialize, Deserialize)]
struct BrokerSnap {
    id: BrokerId,
    configs: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize)]
struct TopicSnap {
    name: String,
    id: String,
    configs: BTreeMap<String, String>,
    partitions: Vec<PartitionSnap>,
}

#[derive(Serialize, Deserialize)]
struct PartitionSnap {
    replicas: Vec<BrokerId>,
    isr: Vec<BrokerId>,
    leader: BrokerId,
    leader_epoch: i32,
    adding: Vec<BrokerId>,
    removing: Vec<BrokerId>,
    /// Version 1's high watermark; version 2 keeps it in the checkpoints.
    #[serde(default, skip_serializing)]
    hw: i64,
    /// Log dir of each replica.
    dirs: BTreeMap<BrokerId, String>,
}

fn partition_dir(dir: &str, topic: &str, partition: i32) -> PathBuf {
    Path::new(dir).join(format!("{topic}-{partition}"))
}

fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let parent = path.parent().context("path has a parent")?;
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    crate::fsutil::Staged::write(path, bytes)?.commit(false)
}

/// Creates `data_dir` and the brokers' `log_dirs` under it if missing, and
/// writes a small file in `data_dir` the way a save does, so that a dir that
/// is not a directory, cannot be created or cannot be written fails now.
/// The returned lock keeps a second mini-broker off the dir until the
/// cluster is dropped: two would write over each other's files.
pub fn prepare(data_dir: &Path, log_dirs: &[&str]) -> anyhow::Result<DirLock> {
    if data_dir.exists() && !data_dir.is_dir() {
        anyhow::bail!("not a directory");
    }
    std::fs::create_dir_all(data_dir).context("cannot create it")?;
    let lock = crate::fsutil::lock_dir(data_dir, LOCK)?;
    write_atomic(
        &data_dir.join(WRITE_CHECK),
        b"kafka-migrate mini-broker: this data dir was writable at start\n",
    )
    .context("cannot write in it")?;
    for d in log_dirs {
        std::fs::create_dir_all(d).with_context(|| format!("cannot create log dir {d}"))?;
    }
    Ok(lock)
}

/// Gives the logs of `broker`'s replica of `topic`-`partition` (and its
/// future log) their segment files, where they have none: called where a
/// replica or a future log is made, before it takes a batch. A log made in
/// memory, or a copy, gets every batch it holds written.
pub fn attach_replica(state: &mut State, topic: &str, partition: i32, broker: BrokerId) {
    let Some(storage) = state.storage.clone() else {
        return;
    };
    let seg = state.segment_bytes(topic);
    let Some(r) = state
        .partition_mut(topic, partition)
        .and_then(|p| p.logs.get_mut(&broker))
    else {
        return;
    };
    attach_log(
        &storage,
        &partition_dir(&r.dir, topic, partition),
        seg,
        &mut r.log,
    );
    if let Some(f) = r.future.as_mut() {
        attach_log(
            &storage,
            &partition_dir(&f.dir, topic, partition),
            seg,
            &mut f.log,
        );
    }
}

/// [`attach_replica`] for every replica of `topic` (a new topic, or one
/// whose logs were replaced by copies).
pub fn attach_topic(state: &mut State, topic: &str) {
    if state.storage.is_none() {
        return;
    }
    let replicas: Vec<(i32, BrokerId)> = state
        .topics
        .get(topic)
        .into_iter()
        .flat_map(|t| &t.partitions)
        .flat_map(|p| p.logs.keys().map(|b| (p.index, *b)))
        .collect();
    for (partition, broker) in replicas {
        attach_replica(state, topic, partition, broker);
    }
}

fn attach_log(storage: &Storage, dir: &Path, seg: u64, log: &mut PartitionLog) {
    if !log.needs_store() {
        return;
    }
    let made = SegmentStore::create(dir, seg, storage.flush).and_then(|s| log.attach_store(s));
    storage.made_dirs.lock().insert(dir.to_path_buf());
    if let Err(e) = made {
        super::log(format_args!(
            "mini-broker: {}: cannot write segments: {e}; this replica is kept in memory only",
            dir.display()
        ));
        log.abandon_store();
    }
}

/// The produce handler's hook, before a leader appends to `topic`: the
/// topic is in the metadata on disk (a topic created a moment ago would
/// otherwise come back from a crash without the data acknowledged in it).
pub fn before_append(state: &mut State, topic: &str) {
    let Some(storage) = state.storage.clone() else {
        return;
    };
    let Some(id) = state.topics.get(topic).map(|t| t.id) else {
        return;
    };
    if !storage.saved_topics.lock().contains(&id) {
        let (seq, snap) = snapshot(state, &storage);
        if let Err(e) = write_metadata(&storage, seq, &snap) {
            super::log(format_args!("mini-broker: saving the metadata: {e:#}"));
        }
    }
}

/// Replica dirs the cluster made and no replica (current, future, or of a
/// stopped or killed broker) is in.
fn unused_dirs(state: &State, storage: &Storage) -> Vec<PathBuf> {
    let made = storage.made_dirs.lock();
    // Every replica's dir is one made (or read) here: with no more made
    // than there are replicas, none is unused, and the look below, over
    // every replica, is skipped on most metadata changes.
    let replicas: usize = state
        .topics
        .values()
        .flat_map(|t| &t.partitions)
        .flat_map(|p| p.logs.values())
        .map(|r| 1 + usize::from(r.future.is_some()))
        .sum();
    if made.len() <= replicas {
        return vec![];
    }
    let mut used = BTreeSet::new();
    for t in state.topics.values() {
        for p in &t.partitions {
            for r in p.logs.values() {
                used.insert(partition_dir(&r.dir, &t.name, p.index));
                if let Some(f) = &r.future {
                    used.insert(partition_dir(&f.dir, &t.name, p.index));
                }
            }
        }
    }
    made.iter()
        .filter(|d| !used.contains(*d))
        .cloned()
        .collect()
}

/// Renames `dirs` that are still unused to their `-delete` names (under
/// the state's lock: no replica can be made there meanwhile) and forgets
/// them. Returns the new names, for [`remove_deleted`] outside the lock.
fn rename_unused(state: &State, storage: &Storage, dirs: &[PathBuf]) -> Vec<PathBuf> {
    let unused: BTreeSet<PathBuf> = unused_dirs(state, storage).into_iter().collect();
    let mut renamed = Vec::new();
    for d in dirs.iter().filter(|d| unused.contains(*d)) {
        storage.made_dirs.lock().remove(d);
        match super::segment::rename_for_removal(d) {
            Ok(Some(to)) => renamed.push(to),
            Ok(None) => {}
            Err(e) => super::log(format_args!(
                "mini-broker: {}: cannot remove a replica's dir: {e}",
                d.display()
            )),
        }
    }
    renamed
}

/// Removes renamed replica dirs (no lock held: they may be large).
fn remove_deleted(dirs: &[PathBuf]) {
    for d in dirs {
        if let Err(e) = super::segment::remove_renamed(d) {
            super::log(format_args!("mini-broker: {}: {e}", d.display()));
        }
    }
}

/// Writes the metadata now, under the state's lock (a change that drops
/// replicas: nobody sees it before it is on disk), and renames the dirs it
/// left unused; their removal is the persister's.
pub fn save_metadata_now(state: &State) {
    let Some(storage) = state.storage.clone() else {
        return;
    };
    let (seq, snap) = snapshot(state, &storage);
    if let Err(e) = write_metadata(&storage, seq, &snap) {
        super::log(format_args!("mini-broker: saving the metadata: {e:#}"));
        return;
    }
    let unused = unused_dirs(state, &storage);
    let renamed = rename_unused(state, &storage, &unused);
    storage.deleting.lock().extend(renamed);
}

fn snapshot(state: &State, storage: &Storage) -> (u64, Snapshot) {
    let seq = {
        let mut n = storage.next_seq.lock();
        *n += 1;
        *n
    };
    let topics = state
        .topics
        .values()
        .map(|t| TopicSnap {
            name: t.name.clone(),
            id: t.id.to_string(),
            configs: t.configs.clone(),
            partitions: t
                .partitions
                .iter()
                .map(|p| PartitionSnap {
                    replicas: p.replicas.clone(),
                    isr: p.isr.clone(),
                    leader: p.leader,
                    leader_epoch: p.leader_epoch,
                    adding: p.adding.clone(),
                    removing: p.removing.clone(),
                    // In the checkpoints; here it would make every
                    // replication step a metadata change.
                    hw: 0,
                    dirs: p.logs.iter().map(|(b, r)| (*b, r.dir.clone())).collect(),
                })
                .collect(),
        })
        .collect();
    let snap = Snapshot {
        version: VERSION,
        cluster_id: state.cluster_id.clone(),
        metadata_epoch: state.metadata_epoch,
        next_producer_id: state.next_producer_id,
        next_topic_id: state.next_topic_id,
        brokers: state
            .brokers
            .values()
            .map(|b| BrokerSnap {
                id: b.id,
                configs: b.configs.clone(),
            })
            .collect(),
        topics,
    };
    (seq, snap)
}

fn write_metadata(storage: &Storage, seq: u64, snap: &Snapshot) -> anyhow::Result<()> {
    let mut written = storage.written.lock();
    if *written > seq {
        return Ok(());
    }
    write_atomic(
        &storage.data_dir.join(SNAPSHOT),
        serde_json::to_string_pretty(snap)?.as_bytes(),
    )?;
    *written = seq;
    let mut saved = storage.saved_topics.lock();
    saved.clear();
    saved.extend(
        snap.topics
            .iter()
            .filter_map(|t| Uuid::parse_str(&t.id).ok()),
    );
    Ok(())
}

/// One checkpoint file's lines, per log dir: (topic, partition) -> offset.
type Checkpoints = BTreeMap<String, BTreeMap<(String, i32), i64>>;

/// The checkpoint files as the state stands, written outside its lock.
struct CheckpointWork {
    hw: Checkpoints,
    start: Checkpoints,
    recovery: Checkpoints,
}

/// One log's files to sync: `future` for the future log of a disk move.
struct SyncJob {
    topic: String,
    partition: i32,
    broker: BrokerId,
    /// The log dir the files are in (syncs run one thread per dir, so one
    /// slow disk holds back only its own logs).
    dir: String,
    work: Unsynced,
}

/// Takes, under the state's lock, every log's files written since their
/// last sync (see `PartitionLog::take_unsynced`).
fn take_syncs(state: &mut State) -> Vec<SyncJob> {
    let mut jobs = Vec::new();
    for t in state.topics.values_mut() {
        for p in t.partitions.iter_mut() {
            for (b, r) in p.logs.iter_mut() {
                let future = r.future.as_mut().map(|f| (&f.dir, &mut f.log));
                for (dir, log) in std::iter::once((&r.dir, &mut r.log)).chain(future) {
                    let work = match log.take_unsynced() {
                        Ok(Some(w)) => w,
                        Ok(None) => continue,
                        Err(e) => {
                            log.synced(
                                &Unsynced {
                                    log_id: log.id(),
                                    files: vec![],
                                    end: log.leo(),
                                },
                                Err(e),
                            );
                            continue;
                        }
                    };
                    jobs.push(SyncJob {
                        topic: t.name.clone(),
                        partition: p.index,
                        broker: *b,
                        dir: dir.clone(),
                        work,
                    });
                }
            }
        }
    }
    jobs
}

/// `fsync`s the jobs' files (no lock held). Returns each job's outcome.
fn run_syncs(jobs: Vec<SyncJob>) -> Vec<(SyncJob, std::io::Result<()>)> {
    jobs.into_iter()
        .map(|j| {
            let r = j.work.files.iter().try_for_each(|f| f.sync_data());
            (j, r)
        })
        .collect()
}

/// Runs the jobs one blocking thread per log dir, all at once.
async fn run_syncs_per_dir(jobs: Vec<SyncJob>) -> Vec<(SyncJob, std::io::Result<()>)> {
    let mut by_dir: BTreeMap<String, Vec<SyncJob>> = BTreeMap::new();
    for j in jobs {
        by_dir.entry(j.dir.clone()).or_default().push(j);
    }
    let handles: Vec<_> = by_dir
        .into_values()
        .map(|jobs| tokio::task::spawn_blocking(move || run_syncs(jobs)))
        .collect();
    let mut done = Vec::new();
    for h in handles {
        done.extend(h.await.expect("a sync thread does not panic"));
    }
    done
}

/// Marks the synced logs (a log replaced meanwhile, by `kill` or a
/// removal, is not this job's: its id differs), then moves high watermarks
/// that waited for them.
fn mark_synced(state: &mut State, done: Vec<(SyncJob, std::io::Result<()>)>) {
    for (j, r) in done {
        let Some(rep) = state
            .partition_mut(&j.topic, j.partition)
            .and_then(|p| p.logs.get_mut(&j.broker))
        else {
            continue;
        };
        let future = rep.future.as_mut().map(|f| &mut f.log);
        if let Some(log) = std::iter::once(&mut rep.log)
            .chain(future)
            .find(|l| l.id() == j.work.log_id)
        {
            log.synced(&j.work, r);
        }
    }
    state.recompute_hw();
}

fn collect_checkpoints(state: &State) -> CheckpointWork {
    let mut w = CheckpointWork {
        hw: BTreeMap::new(),
        start: BTreeMap::new(),
        recovery: BTreeMap::new(),
    };
    // Every live broker's log dir gets its files, empty ones included, so
    // a stale line of a replica gone from it does not outlive it. A
    // stopped broker writes nothing: its files stay as it left them, for
    // its restart.
    let alive = state.alive_brokers();
    for b in state.brokers.values().filter(|b| b.alive) {
        for d in &b.log_dirs {
            w.hw.entry(d.clone()).or_default();
            w.start.entry(d.clone()).or_default();
            w.recovery.entry(d.clone()).or_default();
        }
    }
    for t in state.topics.values() {
        for p in &t.partitions {
            for (b, r) in &p.logs {
                if r.log.store().is_none() || !alive.contains(b) {
                    continue;
                }
                let key = (t.name.clone(), p.index);
                // A follower's own high watermark is at most its log end.
                let leo = r.log.leo();
                w.hw.entry(r.dir.clone())
                    .or_default()
                    .insert(key.clone(), p.hw.min(leo));
                w.start
                    .entry(r.dir.clone())
                    .or_default()
                    .insert(key.clone(), r.log.log_start());
                // Only what is synced: recovery skips the CRC check below it.
                w.recovery
                    .entry(r.dir.clone())
                    .or_default()
                    .insert(key, r.log.synced_end());
            }
        }
    }
    w
}

fn checkpoint_text(lines: &BTreeMap<(String, i32), i64>) -> String {
    let mut s = format!("0\n{}\n", lines.len());
    for ((t, p), o) in lines {
        s.push_str(&format!("{t} {p} {o}\n"));
    }
    s
}

fn read_checkpoint(path: &Path) -> BTreeMap<(String, i32), i64> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return BTreeMap::new();
    };
    let mut lines = text.lines();
    if lines.next() != Some("0") {
        return BTreeMap::new();
    }
    let _count = lines.next();
    lines
        .filter_map(|l| {
            let mut w = l.split(' ');
            let (t, p, o) = (w.next()?, w.next()?, w.next()?);
            Some(((t.to_string(), p.parse().ok()?), o.parse().ok()?))
        })
        .collect()
}

/// Writes the checkpoint files (outside the state's lock).
fn write_checkpoints(w: &CheckpointWork) -> anyhow::Result<()> {
    for (name, set) in [
        (HW_CHECKPOINT, &w.hw),
        (START_CHECKPOINT, &w.start),
        (RECOVERY_CHECKPOINT, &w.recovery),
    ] {
        for (dir, lines) in set {
            write_atomic(
                &Path::new(dir).join(name),
                checkpoint_text(lines).as_bytes(),
            )?;
        }
    }
    Ok(())
}

/// The persister: writes the metadata when it changes and the committed
/// offsets, and (beside it, so a slow disk never delays the metadata)
/// syncs the logs and checkpoints.
pub async fn run(shared: Arc<Shared>, mut stop: broadcast::Receiver<()>) {
    let Some(storage) = shared.inspect(|s| s.storage.clone()) else {
        return;
    };
    // `stop` was subscribed before this task ran, so a stop sent before its
    // first poll still reaches it (a receiver made here would miss it).
    let (stopping, stopped) = watch::channel(false);
    tokio::join!(
        async {
            let _ = stop.recv().await;
            let _ = stopping.send(true);
        },
        metadata_loop(&shared, &storage, stopped.clone()),
        sync_loop(&shared, &storage, stopped)
    );
}

async fn metadata_loop(shared: &Shared, storage: &Storage, mut stop: watch::Receiver<bool>) {
    // The epoch moves with every metadata change and nothing else, so an
    // unchanged one means nothing to write.
    let mut written_epoch = -1;
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(METADATA_TICK) => {}
        }
        let meta = shared.inspect(|s| {
            (s.metadata_epoch != written_epoch).then(|| {
                (
                    s.metadata_epoch,
                    snapshot(s, storage),
                    unused_dirs(s, storage),
                )
            })
        });
        if let Some((epoch, (seq, snap), unused)) = meta {
            match write_metadata(storage, seq, &snap) {
                Ok(()) => {
                    written_epoch = epoch;
                    // The metadata on disk no longer names them: a crash
                    // from here on cannot want them back.
                    if !unused.is_empty() {
                        let renamed = shared.inspect(|s| rename_unused(s, storage, &unused));
                        storage.deleting.lock().extend(renamed);
                    }
                }
                Err(e) => super::log(format_args!("mini-broker: saving the metadata: {e:#}")),
            }
        }
        let deleting = std::mem::take(&mut *storage.deleting.lock());
        remove_deleted(&deleting);
        save_offsets(shared, storage);
    }
}

/// Syncs what the logs wrote: under `interval` on its period, under
/// `every-batch` as soon as an append asks (acknowledgements wait for
/// it); then, on the period, the checkpoints, whose recovery points are
/// only what is synced. A round, once begun, finishes before a stop is
/// seen, so no taken file is left unsynced for `save`.
async fn sync_loop(shared: &Shared, storage: &Storage, mut stop: watch::Receiver<bool>) {
    let (period, on_demand) = match storage.flush {
        FlushPolicy::Interval(d) => (d, false),
        FlushPolicy::EveryBatch => (CHECKPOINT_PERIOD, true),
    };
    let mut last_checkpoint = Instant::now();
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(period) => {}
            _ = storage.sync_wanted.notified(), if on_demand => {}
        }
        // Taking the stores' dirty marks changes nothing a request waits
        // on; marking them synced moves high watermarks (and, under
        // every-batch, acks), so only that wakes the waiters.
        let jobs = shared.mutate_if(|s| (take_syncs(s), false));
        if !jobs.is_empty() {
            let done = run_syncs_per_dir(jobs).await;
            shared.mutate(|s| mark_synced(s, done));
        }
        if last_checkpoint.elapsed() >= period {
            last_checkpoint = Instant::now();
            let w = shared.inspect(collect_checkpoints);
            if let Err(e) = write_checkpoints(&w) {
                super::log(format_args!("mini-broker: checkpoints: {e:#}"));
            }
        }
    }
}

/// Writes the committed offsets when they changed, then marks them saved
/// (which answers the OffsetCommits waiting for it).
fn save_offsets(shared: &Shared, storage: &Storage) {
    let pending = shared.inspect(|s| {
        let version = s.groups.offsets_version();
        (!s.groups.offsets_saved(version))
            .then(|| super::persist_groups::encode(&s.groups).map(|bytes| (version, bytes)))
    });
    match pending.map(|p| {
        p.and_then(|(v, b)| super::persist_groups::write(&b, &storage.data_dir).map(|()| v))
    }) {
        None => {}
        Some(Ok(version)) => shared.mutate(|s| s.groups.mark_offsets_saved(version)),
        Some(Err(e)) => super::log(format_args!("mini-broker: saving committed offsets: {e:#}")),
    }
}

/// A clean stop: everything synced, checkpointed and the metadata written.
pub fn save(state: &mut State) -> anyhow::Result<()> {
    let Some(storage) = state.storage.clone() else {
        return Ok(());
    };
    let done = run_syncs(take_syncs(state));
    if let Some((j, Err(e))) = done.iter().find(|(_, r)| r.is_err()) {
        anyhow::bail!("fsync of {}-{}'s segments: {e}", j.topic, j.partition);
    }
    mark_synced(state, done);
    write_checkpoints(&collect_checkpoints(state))?;
    let (seq, snap) = snapshot(state, &storage);
    write_metadata(&storage, seq, &snap)?;
    let unused = unused_dirs(state, &storage);
    let mut deleting = std::mem::take(&mut *storage.deleting.lock());
    deleting.extend(rename_unused(state, &storage, &unused));
    remove_deleted(&deleting);
    super::persist_groups::save(&state.groups, &storage.data_dir)
}

/// Checkpoint files as recovery reads them: each file once, however many
/// replicas its dir holds (reading it again per replica made a load
/// quadratic in partitions).
#[derive(Default)]
struct CheckpointReader {
    files: BTreeMap<PathBuf, BTreeMap<(String, i32), i64>>,
    /// Files read from disk.
    reads: usize,
}

impl CheckpointReader {
    fn get(&mut self, dir: &str, name: &str, topic: &str, partition: i32) -> Option<i64> {
        let path = Path::new(dir).join(name);
        if !self.files.contains_key(&path) {
            self.reads += 1;
            let lines = read_checkpoint(&path);
            self.files.insert(path.clone(), lines);
        }
        self.files[&path]
            .get(&(topic.to_string(), partition))
            .copied()
    }
}

/// Recovers one replica of `topic`-`partition` on a broker: from the
/// `<topic>-<partition>` dir holding the most among the broker's log dirs
/// (`preferred`, the one the metadata names, on a tie), so that a disk move
/// finished after the last metadata write is not lost. Returns the dir and
/// the log.
fn recover_replica(
    storage: &Storage,
    checkpoints: &mut CheckpointReader,
    log_dirs: &[String],
    preferred: &str,
    topic: &str,
    partition: i32,
    seg: u64,
) -> anyhow::Result<(String, PartitionLog)> {
    let mut best: Option<(String, PartitionLog)> = None;
    let mut candidates: Vec<&str> = vec![preferred];
    candidates.extend(
        log_dirs
            .iter()
            .map(String::as_str)
            .filter(|d| *d != preferred),
    );
    for dir in candidates {
        let pdir = partition_dir(dir, topic, partition);
        if dir != preferred && !pdir.is_dir() {
            continue;
        }
        storage.made_dirs.lock().insert(pdir.clone());
        let rp = checkpoints.get(dir, RECOVERY_CHECKPOINT, topic, partition);
        let (store, batches, report) = SegmentStore::recover(&pdir, seg, storage.flush, rp)
            .with_context(|| format!("recovering {}", pdir.display()))?;
        if report.fault.is_some() && std::env::var_os("MINIBROKER_DEBUG").is_some() {
            super::log(format_args!(
                "mini-broker: {}: cut {} bytes ({:?})",
                pdir.display(),
                report.truncated_bytes,
                report.fault
            ));
        }
        let log = PartitionLog::recovered(batches, store);
        if best.as_ref().is_none_or(|(_, b)| log.leo() > b.leo()) {
            best = Some((dir.to_string(), log));
        }
    }
    best.context("no log dir")
}

/// Loads a saved cluster into `state` (whose brokers come from the current
/// configuration, and whose `storage` is set). Returns false when
/// `data_dir` holds no metadata.
pub fn load(state: &mut State, data_dir: &Path, now: Instant) -> anyhow::Result<bool> {
    let storage = state.storage.clone().context("a data dir's storage")?;
    // Removals a crash interrupted: the metadata on disk names none of them.
    for d in state.brokers.values().flat_map(|b| &b.log_dirs) {
        super::segment::remove_renamed_in(Path::new(d))
            .with_context(|| format!("removing deleted replicas in {d}"))?;
    }
    let path = data_dir.join(SNAPSHOT);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let snap: Snapshot =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    anyhow::ensure!(
        snap.version == 1 || snap.version == VERSION,
        "{}: unsupported version {} (this kafka-migrate reads versions 1 and {VERSION}); hint: use the kafka-migrate that wrote it, or a new --data-dir",
        path.display(),
        snap.version
    );
    state.cluster_id = snap.cluster_id;
    state.next_producer_id = state.next_producer_id.max(snap.next_producer_id);
    state.next_topic_id = state.next_topic_id.max(snap.next_topic_id);
    state.metadata_epoch = state.metadata_epoch.max(snap.metadata_epoch + 1);
    for b in snap.brokers {
        if let Some(broker) = state.brokers.get_mut(&b.id) {
            broker.configs = b.configs;
        }
    }
    let mut checkpoints = CheckpointReader::default();
    for t in snap.topics {
        let seg = t
            .configs
            .get(SEGMENT_BYTES)
            .and_then(|v| v.parse().ok())
            .unwrap_or(state.topic_defaults.segment_bytes);
        let mut partitions = Vec::new();
        for (i, p) in t.partitions.into_iter().enumerate() {
            let index = i as i32;
            let mut logs = BTreeMap::new();
            let saved_hw = if snap.version == 1 { p.hw } else { 0 };
            let mut hw = saved_hw;
            // Each replica's own high watermark, where a follower out of
            // sync is cut to (past it, its log may have diverged).
            let mut own_hw = BTreeMap::new();
            for (b, dir) in p.dirs {
                let Some(broker) = state.brokers.get(&b) else {
                    anyhow::bail!(
                        "{}: {}-{i} has a replica on broker {b}, which this cluster does not have; hint: start with at least that many --brokers",
                        path.display(),
                        t.name
                    );
                };
                let (dir, log) = recover_replica(
                    &storage,
                    &mut checkpoints,
                    &broker.log_dirs,
                    &dir,
                    &t.name,
                    index,
                    seg,
                )?;
                let h = checkpoints
                    .get(&dir, HW_CHECKPOINT, &t.name, index)
                    .unwrap_or(saved_hw);
                hw = hw.max(h);
                own_hw.insert(b, h);
                logs.insert(
                    b,
                    Replica {
                        dir,
                        log,
                        future: None,
                        last_caught_up: now,
                        hw_checkpoint: None,
                    },
                );
            }
            let mut part = Partition {
                index,
                replicas: p.replicas,
                isr: p.isr,
                leader: p.leader,
                leader_epoch: p.leader_epoch,
                adding: p.adding,
                removing: p.removing,
                hw,
                logs,
            };
            for (b, r) in part.logs.iter_mut() {
                if !part.isr.contains(b) {
                    r.log.truncate_to(own_hw[b]);
                }
            }
            elect_after_crash(&mut part);
            partitions.push(part);
        }
        let id = Uuid::parse_str(&t.id).with_context(|| format!("topic id of {}", t.name))?;
        // regression: ids restarted at 1, so a new topic could take the id
        // of a loaded one.
        state.next_topic_id = state.next_topic_id.max(id.as_u64_pair().1);
        state.topics.insert(
            t.name.clone(),
            Topic {
                name: t.name,
                id,
                configs: t.configs,
                partitions,
            },
        );
    }
    super::persist_groups::load(&mut state.groups, data_dir)?;
    state.recompute_hw();
    state.metadata_epoch += 1;
    Ok(true)
}

/// After every broker restarted from its files: the in-sync replica with
/// the longest log leads (every batch acknowledged with acks=all is on
/// every ISR member, so the longest holds them all; ties keep the saved
/// leader), in a new leader epoch; longer logs are cut to the leader's end
/// (what is past it was never acknowledged), and the high watermark is at
/// most the leader's end.
fn elect_after_crash(p: &mut Partition) {
    let leo = |p: &Partition, b: BrokerId| p.logs.get(&b).map_or(-1, |r| r.log.leo());
    let mut leader = p.leader;
    for b in p.replicas.iter().copied().filter(|b| p.isr.contains(b)) {
        if !p.isr.contains(&leader) || leo(p, b) > leo(p, leader) {
            leader = b;
        }
    }
    if !p.logs.contains_key(&leader) {
        return;
    }
    p.leader = leader;
    p.leader_epoch += 1;
    let end = leo(p, leader);
    for r in p.logs.values_mut() {
        r.log.truncate_to(end);
    }
    p.hw = p.hw.min(end);
}

/// `kill N`: broker `id`'s logs leave memory as if the process had died;
/// their files stay, unsynced, for [`recover_broker`].
pub fn kill_broker(state: &mut State, id: BrokerId) {
    for t in state.topics.values_mut() {
        for p in t.partitions.iter_mut() {
            if let Some(r) = p.logs.get_mut(&id) {
                r.log = PartitionLog::detached();
                r.future = None;
            }
        }
    }
}

/// Broker `id` starts after `kill`: each of its logs is recovered from its
/// files (an empty log without a data dir), and set to truncate to its
/// checkpointed high watermark when it starts, unless it comes back to
/// lead (its log is then the partition's).
pub fn recover_broker(state: &mut State, id: BrokerId) -> anyhow::Result<()> {
    let storage = state.storage.clone();
    let log_dirs = state
        .brokers
        .get(&id)
        .map(|b| b.log_dirs.clone())
        .unwrap_or_default();
    let mut checkpoints = CheckpointReader::default();
    let segment_bytes: BTreeMap<String, u64> = state
        .topics
        .keys()
        .map(|t| (t.clone(), state.segment_bytes(t)))
        .collect();
    for t in state.topics.values_mut() {
        let seg = segment_bytes[&t.name];
        for p in t.partitions.iter_mut() {
            let will_lead = p.leader == -1 && p.isr.contains(&id);
            let Some(r) = p.logs.get_mut(&id) else {
                continue;
            };
            match &storage {
                Some(storage) => {
                    let (dir, log) = recover_replica(
                        storage,
                        &mut checkpoints,
                        &log_dirs,
                        &r.dir,
                        &t.name,
                        p.index,
                        seg,
                    )?;
                    r.hw_checkpoint = if will_lead {
                        None
                    } else {
                        Some(
                            checkpoints
                                .get(&dir, HW_CHECKPOINT, &t.name, p.index)
                                .unwrap_or(0),
                        )
                    };
                    r.dir = dir;
                    r.log = log;
                }
                None => {
                    r.log = PartitionLog::new();
                    r.hw_checkpoint = None;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::minibroker::segment::DEFAULT_SEGMENT_BYTES;

    fn log_of(batches: usize) -> PartitionLog {
        let mut log = PartitionLog::new();
        for i in 0..batches {
            log.append_as_leader(
                &crate::minibroker::log::synthetic_batch(i as u64, 1, 10, 0),
                0,
            );
        }
        log
    }

    #[test]
    fn after_a_crash_the_longest_in_sync_log_leads_and_longer_ones_are_cut() {
        let now = Instant::now();
        let replica = |n| Replica {
            dir: "/d".into(),
            log: log_of(n),
            future: None,
            last_caught_up: now,
            hw_checkpoint: None,
        };
        let mut p = Partition {
            index: 0,
            replicas: vec![1, 2, 3, 4],
            isr: vec![1, 2, 3],
            leader: 1,
            leader_epoch: 7,
            adding: vec![],
            removing: vec![],
            hw: 9,
            // 4 is out of sync with a longer (unacknowledged) tail.
            logs: BTreeMap::from([
                (1, replica(5)),
                (2, replica(7)),
                (3, replica(7)),
                (4, replica(9)),
            ]),
        };
        elect_after_crash(&mut p);
        assert_eq!((p.leader, p.leader_epoch, p.hw), (2, 8, 7));
        let leos: Vec<i64> = p.logs.values().map(|r| r.log.leo()).collect();
        assert_eq!(leos, vec![5, 7, 7, 7]);
        // A tie keeps the saved leader.
        p.leader = 3;
        elect_after_crash(&mut p);
        assert_eq!((p.leader, p.leader_epoch), (3, 9));
    }

    #[test]
    fn recovery_reads_each_checkpoint_file_once_for_all_its_replicas() {
        // regression: each replica read its dir's checkpoint files again,
        // so a load was quadratic in partitions.
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap().to_string();
        let lines: BTreeMap<(String, i32), i64> =
            (0..50).map(|i| (("t".to_string(), i), 0)).collect();
        for name in [HW_CHECKPOINT, RECOVERY_CHECKPOINT] {
            write_atomic(&dir.path().join(name), checkpoint_text(&lines).as_bytes()).unwrap();
        }
        let storage = Storage::new(dir.path().to_path_buf(), FlushPolicy::default());
        let mut checkpoints = CheckpointReader::default();
        for i in 0..50 {
            let (at, log) = recover_replica(
                &storage,
                &mut checkpoints,
                std::slice::from_ref(&d),
                &d,
                "t",
                i,
                DEFAULT_SEGMENT_BYTES,
            )
            .unwrap();
            assert_eq!((at.as_str(), log.leo()), (d.as_str(), 0));
            assert_eq!(checkpoints.get(&at, HW_CHECKPOINT, "t", i), Some(0));
        }
        assert_eq!(checkpoints.reads, 2, "one read per checkpoint file");
        assert_eq!(checkpoints.get(&d, HW_CHECKPOINT, "t", 50), None);
    }

    #[test]
    fn checkpoints_read_back_what_was_written() {
        let lines = BTreeMap::from([(("a.b-c".to_string(), 0), 17), (("t".to_string(), 12), 0)]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(HW_CHECKPOINT);
        let text = checkpoint_text(&lines);
        assert_eq!(text, "0\n2\na.b-c 0 17\nt 12 0\n");
        write_atomic(&path, text.as_bytes()).unwrap();
        assert_eq!(read_checkpoint(&path), lines);
        assert!(read_checkpoint(&dir.path().join("missing")).is_empty());
    }
}
