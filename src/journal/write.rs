//! Writing a journal: the header, then events, written and fsynced by group commit.
//!
//! What is on disk when (lines are kept in memory in between, at most [`PENDING_LIMIT`]
//! bytes; a crash of quiesce or of the machine loses at most what is not):
//!
//! - the header (plan and before-state), and the directory entry, before the first change;
//! - every line before a step that depends on it starts: the scheduler asks for a
//!   [`Journal::commit`] first, and one fsync covers every outcome since the last (group
//!   commit, as databases do with their logs);
//! - cancellations, escalations to force and the end of the run at once;
//! - anything else within a second (the scheduler commits at least that often), or once
//!   [`PENDING_LIMIT`] bytes wait.
//!
//! Owns durability: what is fsynced when. Must never write a line that is not a [`Line`], and
//! never let a step's outcome reach the disk after a step that depends on it started (the
//! executor hands events over in order and commits before starting such a step).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use miette::Diagnostic;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::exec::{Event, EventKind};
use crate::observe::Snapshot;
use crate::plan::PlanView;

use super::line::{JOURNAL_FORMAT_VERSION, Line};

/// The first line of a journal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Header {
    /// The journal format ([`JOURNAL_FORMAT_VERSION`] when written now).
    pub version: u32,
    pub run_id: String,
    pub started_at: jiff::Timestamp,
    /// `apply`, `revert` or `resume` (a resume appends to its run's journal instead).
    pub command: String,
    /// The cluster URL, without credentials.
    pub cluster_url: String,
    pub plan: PlanView,
    /// Every job and datafeed as observed before any change.
    pub before: Snapshot,
}

#[derive(Debug, Error, Diagnostic)]
pub(crate) enum JournalError {
    #[error("cannot write the run journal `{}`", path.display())]
    #[diagnostic(
        code(quiesce::journal::write),
        help(
            "Check that the state directory is writable (`--state-dir` chooses another); nothing was changed on the cluster."
        )
    )]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot read the run journal `{}`", path.display())]
    #[diagnostic(code(quiesce::journal::read))]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("`{}` is not a quiesce run journal: {reason}", path.display())]
    #[diagnostic(
        code(quiesce::journal::corrupt),
        help(
            "Only the last line of a journal may be torn; an earlier broken line means the file was edited or damaged."
        )
    )]
    Corrupt { path: PathBuf, reason: String },

    #[error("no run `{run_id}` in {searched}")]
    #[diagnostic(
        code(quiesce::journal::unknown_run),
        help(
            "`quiesce runs` lists the runs it can find; pass `--state-dir` if they live elsewhere."
        )
    )]
    UnknownRun { run_id: String, searched: String },
}

/// `<state_dir>/runs`.
pub(crate) fn runs_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("runs")
}

/// Lines kept in memory beyond this are written out (not fsynced) at once.
const PENDING_LIMIT: usize = 64 * 1024;

/// An open journal, appended to line by line.
#[derive(Debug)]
pub(crate) struct Journal {
    path: PathBuf,
    file: File,
    /// Lines not yet written to the file.
    pending: Vec<u8>,
    /// Lines written since the last fsync.
    unsynced: bool,
}

impl Journal {
    /// Creates the journal and writes the header, durably (file and directory fsynced), before
    /// the caller makes any change to the cluster.
    pub(crate) fn create(state_dir: &Path, header: &Header) -> Result<Journal, JournalError> {
        let dir = runs_dir(state_dir);
        let path = dir.join(format!("{}.jsonl", header.run_id));
        let write_error = |source| JournalError::Write {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(write_error)?;
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(write_error)?;
        let mut journal = Journal {
            path,
            file,
            pending: Vec::new(),
            unsynced: false,
        };
        journal.line(&Line::<&Event>::Header(Box::new(header.clone())), true)?;
        // The directory entry must survive a crash too.
        if let Ok(dir) = File::open(&dir) {
            let _ = dir.sync_all();
        }
        Ok(journal)
    }

    /// Opens an existing journal to continue it (`resume`).
    pub(crate) fn append_to(path: &Path) -> Result<Journal, JournalError> {
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|source| JournalError::Write {
                path: path.to_owned(),
                source,
            })?;
        let mut journal = Journal {
            path: path.to_owned(),
            file,
            pending: Vec::new(),
            unsynced: false,
        };
        journal.terminate_torn_line()?;
        Ok(journal)
    }

    /// A crash may have left a line without its newline: end it, so the next line stands on
    /// its own (the torn fragment stays, and is skipped on read).
    fn terminate_torn_line(&mut self) -> Result<(), JournalError> {
        let text = std::fs::read(&self.path).map_err(|source| JournalError::Read {
            path: self.path.clone(),
            source,
        })?;
        if text.last().is_some_and(|&b| b != b'\n') {
            self.raw(b"\n", true)?;
        }
        Ok(())
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Records an event. Cancellations, escalations and the end of the run are fsynced before
    /// returning; the rest at the next [`Journal::commit`].
    pub(crate) fn event(&mut self, event: &Event) -> Result<(), JournalError> {
        let durable = matches!(
            event.kind,
            EventKind::StepEscalated { .. }
                | EventKind::RunCancelling { .. }
                | EventKind::RunFinished { .. }
        );
        self.line(&Line::Event(event), durable)
    }

    /// Makes every line written so far durable (one fsync for all of them), if any is not yet.
    pub(crate) fn commit(&mut self) -> Result<(), JournalError> {
        self.write_pending()?;
        if !self.unsynced {
            return Ok(());
        }
        self.file
            .sync_data()
            .map_err(|source| JournalError::Write {
                path: self.path.clone(),
                source,
            })?;
        self.unsynced = false;
        Ok(())
    }

    /// Hands the lines kept in memory to the operating system.
    fn write_pending(&mut self) -> Result<(), JournalError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.file
            .write_all(&self.pending)
            .map_err(|source| JournalError::Write {
                path: self.path.clone(),
                source,
            })?;
        self.pending.clear();
        self.unsynced = true;
        Ok(())
    }

    /// Records that a resume continues this run with `plan`.
    pub(crate) fn resumed(&mut self, plan: &PlanView) -> Result<(), JournalError> {
        self.line(
            &Line::<&Event>::Resumed {
                at: jiff::Timestamp::now(),
                version: JOURNAL_FORMAT_VERSION,
                plan: Box::new(plan.clone()),
            },
            true,
        )
    }

    fn line(&mut self, line: &Line<&Event>, durable: bool) -> Result<(), JournalError> {
        let mut bytes = serde_json::to_vec(line).map_err(|err| JournalError::Write {
            path: self.path.clone(),
            source: std::io::Error::other(err),
        })?;
        bytes.push(b'\n');
        self.raw(&bytes, durable)
    }

    fn raw(&mut self, bytes: &[u8], durable: bool) -> Result<(), JournalError> {
        self.pending.extend_from_slice(bytes);
        if durable {
            self.commit()?;
        } else if self.pending.len() >= PENDING_LIMIT {
            self.write_pending()?;
        }
        Ok(())
    }
}

impl Drop for Journal {
    /// Whatever ends the run, the lines kept in memory reach the file (best effort: an error
    /// here was or will be reported by the commit that failed).
    fn drop(&mut self) {
        let _ = self.commit();
    }
}
