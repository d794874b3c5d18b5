//! The run journal: what a run did, on disk, so that nothing is lost. `.quiesce/runs/RUN_ID.jsonl`
//! beside the playbook (or under `--state-dir`). The first line holds the playbook digest, the
//! plan and the observed state of every resource *before* any change, and is fsynced before the
//! first mutating call; then one line per event, step transitions fsynced before any dependent
//! step starts. A torn last line (a crash mid-write) is tolerated and reported on read.
//!
//! A lock file in the state directory keeps two runs from working on one directory at once.

mod lock;
mod read;
mod replay;
mod write;

#[cfg(test)]
mod tests;

pub use lock::{LockError, LockHolder, StateLock};
pub use read::{RunLog, StepStatus, find_run, list_runs, read};
pub use replay::{resume_playbook, revert_playbook};
pub use write::{Header, JOURNAL_FORMAT_VERSION, Journal, JournalError, runs_dir};
