//! Files in and out. Output goes through a temporary file in the same
//! directory and a rename, so a reader never sees half a plan and a failed
//! run leaves no file behind.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Reads a whole input file, or standard input for `-`.
pub fn read_input(path: &str) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    if path == "-" {
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("cannot read standard input")?;
    } else {
        buf = std::fs::read(path).with_context(|| format!("cannot read {path}"))?;
    }
    Ok(buf)
}

/// A file written to a temporary name, made visible by [`Staged::commit`];
/// dropped uncommitted, it is removed.
pub struct Staged {
    tmp: PathBuf,
    dest: PathBuf,
    committed: bool,
}

impl Staged {
    pub fn write(dest: &Path, contents: &[u8]) -> Result<Staged> {
        let name = dest
            .file_name()
            .with_context(|| format!("{} is not a file path", dest.display()))?;
        let dir = dest.parent().filter(|d| !d.as_os_str().is_empty());
        let tmp = dir.unwrap_or(Path::new(".")).join(format!(
            ".{}.tmp-{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        let staged = Staged {
            tmp,
            dest: dest.to_path_buf(),
            committed: false,
        };
        let mut f = std::fs::File::create(&staged.tmp)
            .with_context(|| format!("cannot create {}", staged.dest.display()))?;
        f.write_all(contents)
            .and_then(|()| f.sync_all())
            .with_context(|| format!("cannot write {}", staged.dest.display()))?;
        Ok(staged)
    }

    pub fn commit(mut self) -> Result<()> {
        std::fs::rename(&self.tmp, &self.dest)
            .with_context(|| format!("cannot write {}", self.dest.display()))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Writes several files so that either all appear or none: each is staged
/// first, then all are renamed.
pub fn write_all_atomic(files: &[(&Path, Vec<u8>)]) -> Result<()> {
    let staged = files
        .iter()
        .map(|(p, c)| Staged::write(p, c))
        .collect::<Result<Vec<_>>>()?;
    for s in staged {
        s.commit()?;
    }
    Ok(())
}
