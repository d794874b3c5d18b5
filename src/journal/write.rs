//! Writing a journal: the header, then events, each line numbered (`seq`, so that a reader
//! notices one missing), written and fsynced by group commit.
//!
//! What is on disk when (lines are kept in memory in between, at most [`PENDING_LIMIT`]
//! bytes; a crash of quiesce or of the machine loses at most what is not):
//!
//! - the header (plan and before-state), and the directory entry, before the first change;
//! - every line before a step that depends on it starts: the scheduler asks for a
//!   [`Journal::commit`] first, and one fsync covers every outcome since the last (group
//!   commit, as databases do with their logs);
//! - cancellations, escalations to force, the end of the run and the start of an
//!   upgrade-mode switch at once;
//! - the start of any other request is handed to the operating system at once (so it
//!   survives quiesce being killed), and fsynced with the next commit;
//! - anything else within a second (the scheduler commits at least that often), or once
//!   [`PENDING_LIMIT`] bytes wait.
//!
//! Owns durability: what is fsynced when. Must never write a line that is not a [`Line`], and
//! never let a step's outcome reach the disk after a step that depends on it started (the
//! executor hands events over in order and waits for this to return).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use miette::Diagnostic;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::exec::{Event, EventKind};
use crate::observe::Snapshot;
use crate::plan::{Action, PlanView};

use super::line::{JOURNAL_FORMAT_VERSION, Line, Numbered};

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
    /// The run was against the simulator embedded in quiesce (`--cluster sim:FILE`): this
    /// `sim:FILE`. That cluster lived only as long as the run (absent before format 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulator: Option<String>,
    /// A `revert`: the run it brings back (absent before format 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverts: Option<String>,
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

    /// Not a regular file, or larger than a journal can be.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Input(#[from] crate::input::InputError),

    #[error("`{}` is not a quiesce run journal: {reason}", path.display())]
    #[diagnostic(
        code(quiesce::journal::corrupt),
        help(
            "A journal is only ever appended to, and only its last line may be torn (by a crash). A broken or missing line before it, a changed format version or a header that names another run means the file was edited, cut or renamed: quiesce refuses it rather than resume or revert from a history that did not happen. Keep the file for whoever investigates."
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

/// How soon a line must be safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    /// On disk (fsynced) before returning.
    Durable,
    /// Handed to the operating system before returning: it survives quiesce being killed.
    Written,
    /// In memory until the next commit (or [`PENDING_LIMIT`]).
    Pending,
}

/// One journal line as written, handed to a tap (the cluster mirror) as it is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JournalLine {
    pub seq: u64,
    /// The line's JSON, without its newline: byte for byte what the file holds.
    pub text: String,
}

/// Where a journal hands a copy of each line (the mirror in the cluster); sending never blocks.
pub(crate) type LineTap = tokio::sync::mpsc::UnboundedSender<JournalLine>;

/// Lines kept in memory beyond this are written out (not fsynced) at once.
const PENDING_LIMIT: usize = 64 * 1024;

/// An open journal, appended to line by line.
#[derive(Debug)]
pub(crate) struct Journal {
    path: PathBuf,
    file: File,
    /// The sequence number of the next line.
    seq: u64,
    /// Lines not yet written to the file.
    pending: Vec<u8>,
    /// Lines written since the last fsync.
    unsynced: bool,
    /// Gets a copy of every line.
    tap: Option<LineTap>,
}

impl Journal {
    /// Creates the journal and writes the header, durably (file and directory fsynced), before
    /// the caller makes any change to the cluster.
    pub(crate) fn create(
        state_dir: &Path,
        header: &Header,
        tap: Option<LineTap>,
    ) -> Result<Journal, JournalError> {
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
            seq: 0,
            pending: Vec::new(),
            unsynced: false,
            tap,
        };
        journal.line(
            &Line::<&Event>::Header(Box::new(header.clone())),
            Keep::Durable,
        )?;
        // The directory entry must survive a crash too.
        if let Ok(dir) = File::open(&dir) {
            let _ = dir.sync_all();
        }
        Ok(journal)
    }

    /// Opens an existing journal to continue it (`resume`); its next line is numbered `seq`
    /// (what reading it found: [`super::RunLog::next_seq`]).
    pub(crate) fn append_to(
        path: &Path,
        seq: u64,
        tap: Option<LineTap>,
    ) -> Result<Journal, JournalError> {
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(path)
            .map_err(|source| JournalError::Write {
                path: path.to_owned(),
                source,
            })?;
        let mut journal = Journal {
            path: path.to_owned(),
            file,
            seq,
            pending: Vec::new(),
            unsynced: false,
            tap,
        };
        journal.terminate_torn_line()?;
        Ok(journal)
    }

    /// A crash may have left a line without its newline: end it, so the next line stands on
    /// its own (the torn fragment stays, and is skipped on read). Only the last byte is read.
    fn terminate_torn_line(&mut self) -> Result<(), JournalError> {
        let read_error = |source| JournalError::Read {
            path: self.path.clone(),
            source,
        };
        let len = self.file.metadata().map_err(read_error)?.len();
        if len == 0 {
            return Ok(());
        }
        let mut last = [0u8; 1];
        self.file
            .seek(SeekFrom::Start(len - 1))
            .map_err(read_error)?;
        self.file.read_exact(&mut last).map_err(read_error)?;
        if last[0] != b'\n' {
            self.raw(b"\n", Keep::Durable)?;
        }
        Ok(())
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Records an event. Cancellations, escalations, the end of the run and the start of an
    /// upgrade-mode switch (cluster-wide: `runs` must know it may be on even if quiesce dies
    /// with the request in flight) are fsynced before returning. The start of any other request
    /// reaches the file at once (it survives quiesce being killed), fsynced at the next
    /// [`Journal::commit`]; the rest is kept in memory until then.
    pub(crate) fn event(&mut self, event: &Event) -> Result<(), JournalError> {
        let when = match &event.kind {
            EventKind::StepEscalated { .. }
            | EventKind::RunCancelling { .. }
            | EventKind::RunFinished { .. } => Keep::Durable,
            EventKind::StepStarted { step, .. }
                if matches!(
                    step.action,
                    Action::EnableUpgradeMode | Action::DisableUpgradeMode
                ) =>
            {
                Keep::Durable
            }
            EventKind::StepStarted { .. } => Keep::Written,
            _ => Keep::Pending,
        };
        self.line(&Line::Event(event), when)
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
            Keep::Durable,
        )
    }

    fn line(&mut self, line: &Line<&Event>, when: Keep) -> Result<(), JournalError> {
        let numbered = Numbered {
            seq: self.seq,
            line,
        };
        let mut bytes = serde_json::to_vec(&numbered).map_err(|err| JournalError::Write {
            path: self.path.clone(),
            source: std::io::Error::other(err),
        })?;
        if let Some(tap) = &self.tap {
            // A closed tap (the mirror ended) changes nothing for the file.
            let _ = tap.send(JournalLine {
                seq: self.seq,
                text: String::from_utf8_lossy(&bytes).into_owned(),
            });
        }
        bytes.push(b'\n');
        self.raw(&bytes, when)?;
        self.seq += 1;
        Ok(())
    }

    fn raw(&mut self, bytes: &[u8], when: Keep) -> Result<(), JournalError> {
        self.pending.extend_from_slice(bytes);
        match when {
            Keep::Durable => self.commit(),
            Keep::Written => self.write_pending(),
            Keep::Pending if self.pending.len() >= PENDING_LIMIT => self.write_pending(),
            Keep::Pending => Ok(()),
        }
    }
}

impl Drop for Journal {
    /// Whatever ends the run, the lines kept in memory reach the file (best effort: an error
    /// here was or will be reported by the commit that failed).
    fn drop(&mut self) {
        let _ = self.commit();
    }
}
