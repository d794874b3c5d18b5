//! The state-directory lock: one apply, resume or revert at a time per state directory.
//! An OS advisory lock (`File::try_lock`) on `<state_dir>/lock`, so a process that dies releases
//! it by itself; the file's content names the holder for the message a second run gets, and a
//! holder that is no longer alive on this host is reported as taken over.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};

/// The most of the lock file read: a holder record is a few hundred bytes, and the file could
/// have been replaced by something that never ends.
const MAX_RECORD: u64 = 64 * 1024;
use std::path::{Path, PathBuf};

use miette::Diagnostic;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Who holds (or held) the lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LockHolder {
    pub pid: u32,
    pub host: String,
    pub started_at: jiff::Timestamp,
    pub command: String,
    pub run_id: String,
}

impl std::fmt::Display for LockHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`quiesce {}` (run {}), pid {} on {}, since {}",
            self.command, self.run_id, self.pid, self.host, self.started_at
        )
    }
}

#[derive(Debug, Error, Diagnostic)]
pub(crate) enum LockError {
    #[error("another run holds the state directory `{}`: {holder}", dir.display())]
    #[diagnostic(
        code(quiesce::journal::locked),
        help("Wait for it to finish, or use another `--state-dir`; nothing was changed.")
    )]
    Held { dir: PathBuf, holder: String },

    #[error("cannot lock the state directory `{}`", dir.display())]
    #[diagnostic(code(quiesce::journal::lock))]
    Io {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Held while a run works on a state directory; released on drop (and by the OS on death).
#[derive(Debug)]
pub(crate) struct StateLock {
    file: File,
    /// A holder that had died without releasing (its record was still there).
    pub took_over: Option<LockHolder>,
}

impl StateLock {
    pub(crate) fn acquire(
        state_dir: &Path,
        command: &str,
        run_id: &str,
    ) -> Result<StateLock, LockError> {
        let io = |source| LockError::Io {
            dir: state_dir.to_owned(),
            source,
        };
        std::fs::create_dir_all(state_dir).map_err(io)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(state_dir.join("lock"))
            .map_err(io)?;
        let mut previous = String::new();
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let _ = (&mut file).take(MAX_RECORD).read_to_string(&mut previous);
                let holder = serde_json::from_str::<LockHolder>(&previous)
                    .map_or_else(|_| "an unknown process".to_owned(), |h| h.to_string());
                return Err(LockError::Held {
                    dir: state_dir.to_owned(),
                    holder,
                });
            }
            Err(TryLockError::Error(err)) => return Err(io(err)),
        }
        let _ = (&mut file).take(MAX_RECORD).read_to_string(&mut previous);
        let took_over = serde_json::from_str::<LockHolder>(&previous)
            .ok()
            .filter(|h| h.host == host_name() && !process_alive(h.pid));
        let holder = LockHolder {
            pid: std::process::id(),
            host: host_name(),
            started_at: jiff::Timestamp::now(),
            command: command.to_owned(),
            run_id: run_id.to_owned(),
        };
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        let record = serde_json::to_string(&holder).unwrap_or_default();
        file.write_all(record.as_bytes()).map_err(io)?;
        file.sync_data().map_err(io)?;
        Ok(StateLock { file, took_over })
    }
}

impl Drop for StateLock {
    /// A clean release empties the holder record, so that a record found later can only have
    /// been left by a process that died holding the lock.
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

/// This machine's host name, as the lock and the cluster lease record it.
pub(crate) fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// Whether a process with this pid is alive on this host (Linux: `/proc/<pid>`; elsewhere
/// assumed alive, so nothing is reported as taken over by mistake).
pub(crate) fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch directory (removed when dropped) and, inside it, a state directory not made
    /// yet.
    fn state_dir() -> (tempfile::TempDir, PathBuf) {
        let scratch = tempfile::tempdir().expect("scratch");
        let dir = scratch.path().join("state");
        (scratch, dir)
    }

    #[test]
    fn a_second_lock_is_refused_with_the_holder_named() {
        let (_scratch, dir) = state_dir();
        let first = StateLock::acquire(&dir, "apply", "run-1").expect("first");
        let err = StateLock::acquire(&dir, "apply", "run-2").expect_err("held");
        let text = err.to_string();
        assert!(text.contains("run-1"), "{text}");
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        drop(first);
        let next = StateLock::acquire(&dir, "apply", "run-3").expect("free again");
        assert_eq!(
            next.took_over, None,
            "a clean release leaves nothing to take over"
        );
    }

    #[test]
    fn a_record_left_by_a_dead_process_is_taken_over() {
        let (_scratch, dir) = state_dir();
        std::fs::create_dir_all(&dir).expect("dir");
        let dead = LockHolder {
            pid: u32::MAX - 1,
            host: host_name(),
            started_at: jiff::Timestamp::now(),
            command: "apply".into(),
            run_id: "run-dead".into(),
        };
        std::fs::write(
            dir.join("lock"),
            serde_json::to_string(&dead).expect("json"),
        )
        .expect("write");
        let lock = StateLock::acquire(&dir, "resume", "run-dead").expect("taken over");
        if cfg!(target_os = "linux") {
            assert_eq!(lock.took_over, Some(dead));
        }
    }
}
