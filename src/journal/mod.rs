//! The run journal: what a run did, on disk, so that nothing is lost. `.quiesce/runs/RUN_ID.jsonl`
//! beside the playbook (or under `--state-dir`). The first line holds the playbook digest, the
//! plan and the observed state of every resource *before* any change, and is fsynced before the
//! first mutating call; then one line per event, step transitions fsynced before any dependent
//! step starts. Every line carries its sequence number. A torn last line (a crash mid-write) is
//! tolerated and reported on read; a line missing from the middle, a format version that does
//! not match the lines and a header naming another run than its file are refused.
//!
//! A lock file in the state directory keeps two runs from working on one directory at once.
//!
//! Lines are typed both ways (`line`): written with serde from `exec`'s events, read back
//! with serde into them (formats 2 and 3), or into the frozen types of format 1 (`v1`), which
//! are still read. `runs`, `resume` and `revert` ask a [`RunLog`] (`log`), never the JSON.
//!
//! Owns the files under the state directory. Must never change the cluster, and never read a
//! line it cannot type: a journal that does not read is an error, not a guess.

mod line;
mod lock;
mod log;
mod read;
mod replay;
mod v1;
mod write;

#[cfg(test)]
mod tests;

pub(crate) use line::JOURNAL_FORMAT_VERSION;
pub(crate) use lock::{LockError, StateLock};
pub(crate) use lock::{host_name, process_alive};
pub(crate) use log::{RunLog, RunOutcome, StepRecord, StepStatus, UpgradeMode};
pub(crate) use read::{find_run, list_runs, numbered_lines, read};
pub(crate) use replay::{Revert, resume_playbook, revert_of, revert_playbook};
pub(crate) use write::{Header, Journal, JournalError, JournalLine, LineTap, runs_dir};
