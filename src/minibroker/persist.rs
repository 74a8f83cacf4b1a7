//! `--data-dir` persistence: the metadata as `DIR/cluster.json` and each
//! replica's log as Kafka lays it out, `LOGDIR/<topic>-<partition>/
//! 00000000000000000000.log` (the stored batches, concatenated), written at
//! shutdown and read back at start, so a restarted process keeps its data.
//!
//! At start, [`prepare`] checks that a save will be possible, so an unusable
//! dir is reported before any broker starts rather than at exit.
//!
//! Not for: crash safety. Nothing but the start-up check is written while
//! the cluster runs.

use crate::fsutil::DirLock;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::log::{Batch, PartitionLog, split_batches};
use super::state::{BrokerId, Partition, Replica, State, Topic};

const SNAPSHOT: &str = "cluster.json";
const SEGMENT: &str = "00000000000000000000.log";
/// Written at start, as a save writes (a temporary file and a rename), to
/// prove the data dir takes files; left in place.
const WRITE_CHECK: &str = ".write-check";
const LOCK: &str = ".lock";

#[derive(Serialize, Deserialize)]
struct Snapshot {
    version: u32,
    cluster_id: String,
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
    hw: i64,
    /// Log dir of each replica.
    dirs: BTreeMap<BrokerId, String>,
}

fn segment_path(dir: &str, topic: &str, partition: i32) -> PathBuf {
    Path::new(dir)
        .join(format!("{topic}-{partition}"))
        .join(SEGMENT)
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
/// cluster is dropped: two would overwrite each other's saves.
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

/// Writes the metadata and every replica log under `data_dir`.
pub fn save(state: &State, data_dir: &Path) -> anyhow::Result<()> {
    let mut topics = Vec::new();
    for t in state.topics.values() {
        let mut partitions = Vec::new();
        for p in &t.partitions {
            for (b, r) in &p.logs {
                let data: Vec<u8> = r
                    .log
                    .read(r.log.log_start(), i64::MAX, usize::MAX)
                    .iter()
                    .flat_map(|x| x.data.iter().copied())
                    .collect();
                write_atomic(&segment_path(&r.dir, &t.name, p.index), &data)
                    .with_context(|| format!("saving {}-{} of broker {b}", t.name, p.index))?;
            }
            partitions.push(PartitionSnap {
                replicas: p.replicas.clone(),
                isr: p.isr.clone(),
                leader: p.leader,
                leader_epoch: p.leader_epoch,
                adding: p.adding.clone(),
                removing: p.removing.clone(),
                hw: p.hw,
                dirs: p.logs.iter().map(|(b, r)| (*b, r.dir.clone())).collect(),
            });
        }
        topics.push(TopicSnap {
            name: t.name.clone(),
            id: t.id.to_string(),
            configs: t.configs.clone(),
            partitions,
        });
    }
    let snap = Snapshot {
        version: 1,
        cluster_id: state.cluster_id.clone(),
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
    write_atomic(
        &data_dir.join(SNAPSHOT),
        serde_json::to_string_pretty(&snap)?.as_bytes(),
    )?;
    super::persist_groups::save(&state.groups, data_dir)
}

fn load_log(path: &Path) -> anyhow::Result<PartitionLog> {
    let mut log = PartitionLog::new();
    let data = match std::fs::read(path) {
        Ok(d) => Bytes::from(d),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(log),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    if data.is_empty() {
        return Ok(log);
    }
    let batches = split_batches(&data)
        .map_err(|e| anyhow::anyhow!("{}: corrupt segment ({e:?})", path.display()))?;
    for raw in batches {
        let base = i64::from_be_bytes(raw[0..8].try_into()?);
        let delta = i32::from_be_bytes(raw[23..27].try_into()?);
        let max_ts = i64::from_be_bytes(raw[35..43].try_into()?);
        log.push(Batch {
            base_offset: base,
            last_offset: base + i64::from(delta),
            max_timestamp: max_ts,
            data: raw,
            phantom_len: 0,
        });
    }
    Ok(log)
}

/// Loads a saved cluster into `state` (whose brokers come from the current
/// configuration). Returns false when `data_dir` holds no snapshot.
pub fn load(state: &mut State, data_dir: &Path, now: Instant) -> anyhow::Result<bool> {
    let path = data_dir.join(SNAPSHOT);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let snap: Snapshot =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    anyhow::ensure!(
        snap.version == 1,
        "{}: unsupported version {}",
        path.display(),
        snap.version
    );
    state.cluster_id = snap.cluster_id;
    for b in snap.brokers {
        if let Some(broker) = state.brokers.get_mut(&b.id) {
            broker.configs = b.configs;
        }
    }
    for t in snap.topics {
        let mut partitions = Vec::new();
        for (i, p) in t.partitions.into_iter().enumerate() {
            let mut logs = BTreeMap::new();
            for (b, dir) in p.dirs {
                anyhow::ensure!(
                    state.brokers.contains_key(&b),
                    "{}: {}-{i} has a replica on broker {b}, which this cluster does not have; hint: start with at least that many --brokers",
                    path.display(),
                    t.name
                );
                let log = load_log(&segment_path(&dir, &t.name, i as i32))?;
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
            partitions.push(Partition {
                index: i as i32,
                replicas: p.replicas,
                isr: p.isr,
                leader: p.leader,
                leader_epoch: p.leader_epoch,
                adding: p.adding,
                removing: p.removing,
                hw: p.hw,
                logs,
            });
        }
        let id = uuid::Uuid::parse_str(&t.id).with_context(|| format!("topic id of {}", t.name))?;
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
    state.metadata_epoch += 1;
    Ok(true)
}
