//! The journal of one `apply` run: what a re-run needs to resume, and what
//! `verify`, `cancel` and `throttle clear` need to undo this tool's
//! throttles and nothing else.
//!
//! It records the plan's digest (a journal never drives another plan),
//! every submission (so a resumed run never submits a partition twice),
//! the throttle undo record (written *before* the operations it undoes are
//! sent) and the run's state. The executor never writes files: it saves
//! through a [`JournalStore`], which the CLI implements with fsutil
//! (temporary file + rename after each change) and tests with
//! [`MemoryStore`].
//!
//! What it must not do: hold anything the cluster can tell (replicas,
//! progress): a journal that disagreed with the cluster would be believed
//! over it.

use serde::{Deserialize, Serialize};

use super::throttle::{Rates, Undo};
use crate::model::live::ConfigResource;
use crate::model::reassignment::{Reassignment, to_json};
use crate::model::{BrokerId, TopicPartition};

/// The journal format version.
pub const JOURNAL_VERSION: u32 = 1;

/// A stable digest of a plan: FNV-1a (64 bit) of its canonical JSON (the
/// compact form `kafka-reassign-partitions.sh` writes, sorted by
/// topic-partition), as `fnv1a64:` and 16 hex digits. Two files with the
/// same moves in another order or layout have the same digest.
pub fn plan_digest(plan: &Reassignment) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in to_json(plan).bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("fnv1a64:{h:016x}")
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JournalState {
    /// Moves may be in flight and throttles in force: a re-run resumes.
    Running,
    /// Every partition reached its target and the throttles were restored.
    Finished,
    /// The moves were cancelled and the throttles restored: a re-run
    /// starts afresh.
    Cancelled,
}

/// One AlterPartitionReassignments request this tool sent, with the
/// partitions the cluster accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submission {
    /// Milliseconds since the start of the run that sent it.
    pub at_ms: u64,
    pub partitions: Vec<SubmittedMove>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmittedMove {
    pub topic: String,
    pub partition: i32,
    pub target: Vec<BrokerId>,
}

impl SubmittedMove {
    pub fn tp(&self) -> TopicPartition {
        TopicPartition {
            topic: self.topic.clone(),
            partition: self.partition,
        }
    }
}

/// A config resource as the journal writes it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JournalResource {
    Broker(BrokerId),
    Topic(String),
}

impl From<&ConfigResource> for JournalResource {
    fn from(r: &ConfigResource) -> Self {
        match r {
            ConfigResource::Broker(b) => JournalResource::Broker(*b),
            ConfigResource::Topic(t) => JournalResource::Topic(t.clone()),
        }
    }
}

impl From<&JournalResource> for ConfigResource {
    fn from(r: &JournalResource) -> Self {
        match r {
            JournalResource::Broker(b) => ConfigResource::Broker(*b),
            JournalResource::Topic(t) => ConfigResource::Topic(t.clone()),
        }
    }
}

/// [`Undo`] as the journal writes it (same fields).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum UndoEntry {
    Value {
        resource: JournalResource,
        key: String,
        before: Option<String>,
        set: String,
    },
    Entries {
        resource: JournalResource,
        key: String,
        existed_before: bool,
        added: Vec<String>,
    },
}

impl From<&Undo> for UndoEntry {
    fn from(u: &Undo) -> Self {
        match u {
            Undo::Value {
                resource,
                key,
                before,
                set,
            } => UndoEntry::Value {
                resource: resource.into(),
                key: key.clone(),
                before: before.clone(),
                set: set.clone(),
            },
            Undo::Entries {
                resource,
                key,
                existed_before,
                added,
            } => UndoEntry::Entries {
                resource: resource.into(),
                key: key.clone(),
                existed_before: *existed_before,
                added: added.clone(),
            },
        }
    }
}

impl From<&UndoEntry> for Undo {
    fn from(u: &UndoEntry) -> Self {
        match u {
            UndoEntry::Value {
                resource,
                key,
                before,
                set,
            } => Undo::Value {
                resource: resource.into(),
                key: key.clone(),
                before: before.clone(),
                set: set.clone(),
            },
            UndoEntry::Entries {
                resource,
                key,
                existed_before,
                added,
            } => Undo::Entries {
                resource: resource.into(),
                key: key.clone(),
                existed_before: *existed_before,
                added: added.clone(),
            },
        }
    }
}

/// The rates in force as the journal writes them (bytes per second).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct JournalRates {
    pub replication: Option<u64>,
    pub log_dirs: Option<u64>,
}

impl From<Rates> for JournalRates {
    fn from(r: Rates) -> Self {
        JournalRates {
            replication: r.replication,
            log_dirs: r.log_dirs,
        }
    }
}

impl From<JournalRates> for Rates {
    fn from(r: JournalRates) -> Self {
        Rates {
            replication: r.replication,
            log_dirs: r.log_dirs,
        }
    }
}

/// The throttles this tool has in force: the rates and the complete undo
/// record. `revision` grows with every change, so a running `apply` sees
/// that `throttle set` changed the rate from another process.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ThrottleRecord {
    pub revision: u64,
    pub rates: JournalRates,
    pub undo: Vec<UndoEntry>,
}

impl ThrottleRecord {
    /// The undo record in the form `throttle::set_ops`/`restore_ops` take.
    pub fn undo(&self) -> Vec<Undo> {
        self.undo.iter().map(Undo::from).collect()
    }

    /// Replaces the undo record (sorted, so the file is deterministic).
    pub fn set_undo(&mut self, undo: &[Undo]) {
        let mut entries: Vec<UndoEntry> = undo.iter().map(UndoEntry::from).collect();
        entries.sort();
        self.undo = entries;
    }
}

/// The journal of one plan's execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    pub version: u32,
    /// [`plan_digest`] of the plan this journal drives.
    pub plan_digest: String,
    pub state: JournalState,
    pub submissions: Vec<Submission>,
    pub throttle: ThrottleRecord,
}

impl Journal {
    /// A fresh journal for a plan with this digest.
    pub fn new(plan_digest: impl Into<String>) -> Journal {
        Journal {
            version: JOURNAL_VERSION,
            plan_digest: plan_digest.into(),
            state: JournalState::Running,
            submissions: Vec::new(),
            throttle: ThrottleRecord::default(),
        }
    }

    /// Every partition this run (or an earlier one of this journal)
    /// submitted, with its target, sorted.
    pub fn submitted(&self) -> std::collections::BTreeMap<TopicPartition, Vec<BrokerId>> {
        self.submissions
            .iter()
            .flat_map(|s| &s.partitions)
            .map(|m| (m.tp(), m.target.clone()))
            .collect()
    }

    /// The journal as JSON (what the CLI writes; pretty, keys in a fixed
    /// order).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("journal serialization cannot fail")
    }

    /// Reads a journal written by [`Journal::to_json`]; the error says
    /// what is wrong with the text.
    pub fn from_json(text: &str) -> Result<Journal, String> {
        let j: Journal = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if j.version != JOURNAL_VERSION {
            return Err(format!(
                "unsupported journal version {}, expected {JOURNAL_VERSION}",
                j.version
            ));
        }
        Ok(j)
    }
}

/// Where a journal is kept. `load` gives `None` when there is none yet;
/// `save` must be atomic (the CLI writes a temporary file and renames it),
/// because a run killed mid-save resumes from whatever `load` then reads.
pub trait JournalStore {
    type Error: std::error::Error + Send + Sync + 'static;

    fn load(&mut self) -> Result<Option<Journal>, Self::Error>;

    fn save(&mut self, journal: &Journal) -> Result<(), Self::Error>;
}

/// What [`save_merged`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merged {
    /// Saved; the throttle record was nobody else's since this writer
    /// read it.
    Saved,
    /// Saved, with the throttle record another process saved meanwhile
    /// (this writer had not changed its own): the writer's copy now holds
    /// it.
    Adopted,
    /// Nothing saved: both changed the throttle record. The writer's copy
    /// now holds the stored record; the writer makes its change again
    /// from it and saves again.
    Conflict,
}

/// Saves `journal`, a copy whose throttle record was at revision `base`
/// when this writer last read or saved it, without losing a throttle
/// record another process (`throttle set` beside a running `apply`, say)
/// saved in between.
///
/// The rule: every change of the throttle record bumps its revision, and
/// a writer reloads the file just before each save. If the stored
/// revision is still `base`, nobody else wrote: save. If it moved and
/// this writer did not touch the record, take the stored record and save
/// (the rest of the journal, submissions and state, is the writer's
/// own). If both changed it, save nothing and hand the stored record back
/// ([`Merged::Conflict`]): the writer computes its change again from it
/// (the undo record is saved before its operations are sent, and a
/// restore is idempotent, so doing it again is harmless). Neither record
/// is merged entry by entry: the second writer always builds on the
/// first's. Reload and save are not one atomic step, so two writers
/// within that instant can still collide; nothing here takes a lock.
pub fn save_merged<S: JournalStore>(
    store: &mut S,
    journal: &mut Journal,
    base: u64,
) -> Result<Merged, S::Error> {
    let mut merged = Merged::Saved;
    if let Some(stored) = store.load()?
        && stored.throttle.revision != base
    {
        let ours_changed = journal.throttle.revision != base;
        journal.throttle = stored.throttle;
        if ours_changed {
            return Ok(Merged::Conflict);
        }
        merged = Merged::Adopted;
    }
    store.save(journal)?;
    Ok(merged)
}

/// A journal kept in memory (tests, the demo). Cloning shares nothing:
/// take [`MemoryStore::journal`] to carry a journal into a re-run.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    pub journal: Option<Journal>,
    /// How many times `save` was called.
    pub saves: usize,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }
}

impl JournalStore for MemoryStore {
    type Error = std::convert::Infallible;

    fn load(&mut self) -> Result<Option<Journal>, Self::Error> {
        Ok(self.journal.clone())
    }

    fn save(&mut self, journal: &Journal) -> Result<(), Self::Error> {
        self.journal = Some(journal.clone());
        self.saves += 1;
        Ok(())
    }
}
