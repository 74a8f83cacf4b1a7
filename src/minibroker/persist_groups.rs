//! `--data-dir`'s committed offsets: `DIR/consumer-offsets.json`, written
//! through a temporary file and a rename beside the cluster's snapshot by
//! the persister when they change (an OffsetCommit is answered once they
//! are) and read back at start, so that a group resumes where it committed.
//!
//! Kept apart from `persist.rs` (which saves the logs) so either can change
//! alone. Only offsets are kept: members rejoin after a restart, as they
//! would after Kafka's coordinator moved.

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::groups::{Committed, Groups};

const FILE: &str = "consumer-offsets.json";

#[derive(Serialize, Deserialize)]
struct Saved {
    version: u32,
    offsets: Vec<SavedOffset>,
}

#[derive(Serialize, Deserialize)]
struct SavedOffset {
    group: String,
    topic: String,
    partition: i32,
    offset: i64,
    leader_epoch: i32,
    metadata: String,
}

/// Writes every committed offset (an empty list when there is none, so a
/// stale file never outlives a save).
pub fn save(groups: &Groups, data_dir: &Path) -> anyhow::Result<()> {
    write(&encode(groups)?, data_dir)
}

/// The file's content for every committed offset, taken under the state's
/// lock; [`write`] puts it on disk outside it.
pub fn encode(groups: &Groups) -> anyhow::Result<Vec<u8>> {
    let saved = Saved {
        version: 1,
        offsets: groups
            .all_offsets()
            .map(|(g, t, p, c)| SavedOffset {
                group: g.to_string(),
                topic: t.to_string(),
                partition: p,
                offset: c.offset,
                leader_epoch: c.leader_epoch,
                metadata: c.metadata.clone(),
            })
            .collect(),
    };
    Ok(serde_json::to_vec_pretty(&saved)?)
}

pub fn write(bytes: &[u8], data_dir: &Path) -> anyhow::Result<()> {
    let path = data_dir.join(FILE);
    crate::fsutil::Staged::write(&path, bytes)?
        .commit(false)
        .with_context(|| format!("saving {}", path.display()))
}

/// Loads the saved offsets into `groups`; a dir without the file has none.
pub fn load(groups: &mut Groups, data_dir: &Path) -> anyhow::Result<()> {
    let path = data_dir.join(FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let saved: Saved =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    anyhow::ensure!(
        saved.version == 1,
        "{}: unsupported version {}",
        path.display(),
        saved.version
    );
    for o in saved.offsets {
        groups.commit(
            &o.group,
            &o.topic,
            o.partition,
            Committed {
                offset: o.offset,
                leader_epoch: o.leader_epoch,
                metadata: o.metadata,
            },
        );
    }
    Ok(())
}
