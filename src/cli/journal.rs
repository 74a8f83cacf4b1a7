//! The executor's journal on disk: one JSON file, replaced whole through
//! fsutil (temporary file + rename) after every change, so a run killed
//! at any moment resumes from a whole journal.

use std::path::{Path, PathBuf};

use crate::exec::journal::{Journal, JournalStore};

/// Why the journal could not be read or written; `invalid` when the file
/// is there but is not a journal (the input's fault, exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct StoreError {
    pub message: String,
    pub invalid: bool,
}

/// A journal kept in a file.
pub struct FileStore {
    path: PathBuf,
    /// Saved at least once by this run (to say so on stderr).
    pub saved: bool,
}

impl FileStore {
    pub fn new(path: impl Into<PathBuf>) -> FileStore {
        FileStore {
            path: path.into(),
            saved: false,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the journal this run saved records as still in force, read
    /// back from it; `None` when the run saved none. A journal that cannot
    /// be read back is taken to record both.
    pub fn in_force(&mut self) -> Option<InForce> {
        if !self.saved {
            return None;
        }
        Some(match self.load() {
            Ok(Some(j)) => InForce {
                throttles: !j.throttle.undo.is_empty(),
                moves: !j.submissions.is_empty(),
            },
            _ => InForce {
                throttles: true,
                moves: true,
            },
        })
    }
}

/// What a journal records as still in force: throttles to restore, moves
/// submitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InForce {
    pub throttles: bool,
    pub moves: bool,
}

impl JournalStore for FileStore {
    type Error = StoreError;

    fn load(&mut self) -> Result<Option<Journal>, StoreError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(StoreError {
                    message: format!("cannot read {}: {e}", self.path.display()),
                    invalid: false,
                });
            }
        };
        Journal::from_json(&text).map(Some).map_err(|e| StoreError {
            message: format!("{}: not a kafka-migrate journal: {e}", self.path.display()),
            invalid: true,
        })
    }

    fn save(&mut self, journal: &Journal) -> Result<(), StoreError> {
        crate::fsutil::write_all_atomic(&[(&self.path, journal.to_json().into_bytes())], false)
            .map_err(|e| StoreError {
                message: format!("{e:#}"),
                invalid: false,
            })?;
        self.saved = true;
        Ok(())
    }
}

/// The default journal of a plan: beside it, `NAME.journal.json` for
/// `NAME.json`.
pub fn beside(plan: &Path, suffix: &str) -> PathBuf {
    let name = plan
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".json").unwrap_or(&name);
    plan.with_file_name(format!("{stem}.{suffix}.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_beside_the_plan() {
        assert_eq!(
            beside(Path::new("plans/add.json"), "journal"),
            PathBuf::from("plans/add.journal.json")
        );
        assert_eq!(
            beside(Path::new("p"), "rollback"),
            PathBuf::from("p.rollback.json")
        );
    }

    #[test]
    #[allow(clippy::disallowed_methods)] // the test's own scratch dir
    fn in_force_is_what_the_saved_journal_records() {
        use crate::exec::journal::Journal;
        use crate::exec::throttle::Undo;
        use crate::model::live::ConfigResource;
        let dir = std::env::temp_dir().join(format!("km-in-force-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut store = FileStore::new(dir.join("j.json"));
        assert_eq!(store.in_force(), None, "nothing saved by this run");
        let mut j = Journal::new("digest");
        store.save(&j).unwrap();
        let nothing = InForce {
            throttles: false,
            moves: false,
        };
        assert_eq!(store.in_force(), Some(nothing));
        j.throttle.set_undo(&[Undo::Value {
            resource: ConfigResource::Broker(1),
            key: "leader.replication.throttled.rate".into(),
            before: None,
            set: "1000".into(),
        }]);
        store.save(&j).unwrap();
        assert_eq!(
            store.in_force(),
            Some(InForce {
                throttles: true,
                moves: false
            })
        );
        std::fs::write(dir.join("j.json"), "not json").unwrap();
        assert_eq!(
            store.in_force(),
            Some(InForce {
                throttles: true,
                moves: true
            }),
            "unreadable: both, to be safe"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
