//! Files in and out, under one rule for every command:
//!
//! - An output is written through a temporary file in the same directory
//!   and a rename, so a reader never sees half a file and a failed run
//!   leaves none.
//! - An existing output file is replaced (as `kafka-reassign-partitions.sh`
//!   does), unless the command runs with `--no-clobber`.
//! - An output never names an input of the same run, through any path,
//!   symlink or hard link: that is a usage error before anything is done.
//! - Nothing removes a file the run did not create: the only removal here
//!   is of this run's own temporary file.
//!
//! `-` as an input is standard input; as an output it is standard output,
//! which the printer writes, not this module.

// The one module that writes and renames files, and removes its own
// temporary ones (clippy.toml holds the rest of the crate to that).
#![allow(clippy::disallowed_methods)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The name that stands for standard input or output.
pub const STDIO: &str = "-";

/// Whether an output path stands for standard output.
pub fn is_stdout(path: &Path) -> bool {
    path.as_os_str() == STDIO
}

/// Reads a whole input file, or standard input for `-`.
pub fn read_input(path: &str) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    if path == STDIO {
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("cannot read standard input")?;
    } else {
        buf = std::fs::read(path).with_context(|| format!("cannot read {path}"))?;
    }
    Ok(buf)
}

/// A file's identity (device and inode), which every path, symlink and
/// hard link to it shares; `None` if it does not exist.
#[cfg(unix)]
fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn identity(path: &Path) -> Option<PathBuf> {
    path.canonicalize().ok()
}

/// Where a path that may not exist yet would be: its directory resolved,
/// and its name.
fn location(path: &Path) -> Option<(PathBuf, std::ffi::OsString)> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new(".")).canonicalize().ok()?;
    Some((dir, path.file_name()?.to_owned()))
}

fn same_file(a: &Path, b: &Path) -> bool {
    if a == b {
        return true;
    }
    match (identity(a), identity(b)) {
        (Some(x), Some(y)) => x == y,
        (None, None) => location(a).is_some_and(|x| location(b) == Some(x)),
        _ => false,
    }
}

/// A command's outputs, checked before it does anything: none may be an
/// input (it would be replaced), two may not be one file (one would be
/// lost), at most one may be standard output, and with `no_clobber` none
/// may exist. Each entry is the flag and its value. The error is a usage
/// error, for the caller to mark so.
pub fn check_outputs(
    inputs: &[(&str, &str)],
    outputs: &[(&str, &Path)],
    no_clobber: bool,
) -> Result<(), String> {
    for (i, (flag, out)) in outputs.iter().enumerate() {
        if is_stdout(out) {
            if let Some((other, _)) = outputs[..i].iter().find(|(_, o)| is_stdout(o)) {
                return Err(format!(
                    "{other} and {flag} both write to standard output; name a file for one of them"
                ));
            }
            continue;
        }
        for (in_flag, input) in inputs.iter().filter(|(_, p)| *p != STDIO) {
            if same_file(out, Path::new(input)) {
                return Err(format!(
                    "{flag} {} is the {in_flag} input of this run; write to another file",
                    out.display()
                ));
            }
        }
        if let Some((other, _)) = outputs[..i]
            .iter()
            .find(|(_, o)| !is_stdout(o) && same_file(o, out))
        {
            return Err(format!("{other} and {flag} both name {}", out.display()));
        }
        if no_clobber && std::fs::symlink_metadata(out).is_ok() {
            return Err(format!(
                "{flag} {} exists, and --no-clobber keeps it",
                out.display()
            ));
        }
    }
    Ok(())
}

/// An exclusive hold on a directory while the value lives: the OS's
/// advisory lock on a lock file inside it (created once, left in place),
/// so that two processes never use one directory at once.
#[derive(Debug)]
pub struct DirLock {
    _file: std::fs::File,
}

/// Takes [`DirLock`] on `dir`, through the lock file `name` in it; an
/// error names the directory when another process holds it.
pub fn lock_dir(dir: &Path, name: &str) -> Result<DirLock> {
    let path = dir.join(name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(DirLock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => {
            anyhow::bail!("in use by another process (it holds {})", path.display())
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

/// A file written to a temporary name, made visible by [`Staged::commit`];
/// dropped uncommitted, the temporary file (ours alone) is removed.
pub struct Staged {
    tmp: PathBuf,
    dest: PathBuf,
    committed: bool,
}

impl Staged {
    pub fn write(dest: &Path, contents: &[u8]) -> Result<Staged> {
        Self::write_mode(dest, contents, false)
    }

    /// As [`Staged::write`]; `private`: readable by its owner only (a
    /// private key), from its creation on.
    pub fn write_mode(dest: &Path, contents: &[u8], private: bool) -> Result<Staged> {
        Self::write_with(dest, private, &mut |w| w.write_all(contents))
    }

    /// As [`Staged::write_mode`], the contents written by `write` as it
    /// makes them (buffered), so that a large output is never held whole.
    pub fn write_with(dest: &Path, private: bool, write: &mut Writer<'_>) -> Result<Staged> {
        if is_special(dest) {
            return Self::write_through(dest, write);
        }
        // A link stays a link: the file it names is replaced whole, staged
        // beside that file (`-o /dev/stdout` with stdout a file would
        // otherwise put a plain file in place of /dev/stdout).
        let resolved = follow_links(dest)?;
        let dest = resolved.as_path();
        let name = dest
            .file_name()
            .with_context(|| format!("cannot write {}: not a file path", dest.display()))?;
        let dir = dest.parent().filter(|d| !d.as_os_str().is_empty());
        let dir = dir.unwrap_or(Path::new("."));
        // `create_new`, so that a file that happens to have the temporary
        // name is never truncated (and never removed: it is not ours).
        let mut attempt = 0u32;
        let (tmp, mut f) = loop {
            let tmp = dir.join(format!(
                ".{}.tmp-{}-{attempt}",
                name.to_string_lossy(),
                std::process::id()
            ));
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            if private {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            #[cfg(not(unix))]
            let _ = private;
            match options.open(&tmp) {
                Ok(f) => break (tmp, f),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {
                    attempt += 1
                }
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot create {}", dest.display()));
                }
            }
        };
        let staged = Staged {
            tmp,
            dest: dest.to_path_buf(),
            committed: false,
        };
        let written = (|| {
            let mut out = std::io::BufWriter::with_capacity(1 << 20, &mut f);
            write(&mut out)?;
            out.flush()?;
            drop(out);
            f.sync_all()
        })();
        written.with_context(|| format!("cannot write {}", staged.dest.display()))?;
        Ok(staged)
    }

    /// A device or pipe (`-o /dev/null`, `-o >(gzip > f)`) is written in
    /// place: renaming a file over it would replace the device node itself
    /// (as root, `/dev/null` would become a plain file), and it has no
    /// contents to keep whole. Nothing is left to commit.
    fn write_through(dest: &Path, write: &mut Writer<'_>) -> Result<Staged> {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(dest)
            .with_context(|| format!("cannot write {}", dest.display()))?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, f);
        write(&mut out)
            .and_then(|()| out.flush())
            .with_context(|| format!("cannot write {}", dest.display()))?;
        Ok(Staged {
            tmp: PathBuf::new(),
            dest: dest.to_path_buf(),
            committed: true,
        })
    }

    /// Makes the file visible under its name. With `no_clobber`, an
    /// existing file there (one that appeared since the run checked) is
    /// kept: linking, unlike renaming, refuses to replace it.
    pub fn commit(mut self, no_clobber: bool) -> Result<()> {
        if self.committed {
            // Written in place (a device or pipe).
            return Ok(());
        }
        let done = if no_clobber {
            std::fs::hard_link(&self.tmp, &self.dest)
        } else {
            std::fs::rename(&self.tmp, &self.dest)
        };
        done.with_context(|| format!("cannot write {}", self.dest.display()))?;
        // After a link the temporary name is still ours to remove; after a
        // rename it is gone.
        self.committed = !no_clobber;
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

/// The path a chain of links ends at (the path itself when it is no
/// link), whether or not that exists yet, as the shell's `>` would write.
fn follow_links(path: &Path) -> Result<PathBuf> {
    let mut at = path.to_path_buf();
    for _ in 0..40 {
        if !std::fs::symlink_metadata(&at).is_ok_and(|m| m.is_symlink()) {
            return Ok(at);
        }
        let target =
            std::fs::read_link(&at).with_context(|| format!("cannot write {}", path.display()))?;
        at = match at.parent() {
            Some(dir) if target.is_relative() => dir.join(target),
            _ => target,
        };
    }
    anyhow::bail!("cannot write {}: too many levels of links", path.display())
}

/// Whether `path` names something that exists and is neither a regular
/// file nor a directory (a device, a pipe, a socket), following links.
fn is_special(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir())
}

/// What writes a file's contents, piece by piece, to the writer given.
pub type Writer<'a> = dyn FnMut(&mut dyn Write) -> std::io::Result<()> + 'a;

/// As [`write_all_atomic`], each file's contents written by its writer as
/// they are made.
pub fn write_all_atomic_with(
    files: &mut [(&Path, &mut Writer<'_>)],
    no_clobber: bool,
) -> Result<()> {
    commit_all(
        files
            .iter_mut()
            .map(|(p, w)| Staged::write_with(p, false, w)),
        no_clobber,
    )
}

/// Stages every file, then makes them all visible: a failure while
/// writing leaves none.
fn commit_all(staging: impl Iterator<Item = Result<Staged>>, no_clobber: bool) -> Result<()> {
    for s in staging.collect::<Result<Vec<_>>>()? {
        s.commit(no_clobber)?;
    }
    Ok(())
}

/// Writes several files so that a failure while writing leaves none: each
/// is staged first, then all are made visible.
pub fn write_all_atomic(files: &[(&Path, Vec<u8>)], no_clobber: bool) -> Result<()> {
    write_all_atomic_mode(files, &[], no_clobber)
}

/// As [`write_all_atomic`], the files of `private` (private keys)
/// readable by their owner only.
pub fn write_all_atomic_mode(
    files: &[(&Path, Vec<u8>)],
    private: &[&Path],
    no_clobber: bool,
) -> Result<()> {
    commit_all(
        files
            .iter()
            .map(|(p, c)| Staged::write_mode(p, c, private.contains(p))),
        no_clobber,
    )
}
