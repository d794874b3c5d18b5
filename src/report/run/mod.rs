//! Run reporters: turn the executor's [`Event`]s into bytes while `apply` runs.
//!
//! - [`HumanReporter`] (stderr): a live indicatif display on a terminal, plain lines elsewhere,
//!   and the final summary in both cases.
//! - [`JsonReporter`] (stdout with `--output json`): one versioned JSON object per event.
//!
//! A reporter only consumes events: it has no way to influence the run, and a write error
//! (a closed pipe) is ignored rather than turned into a failure of the run. Events carry facts;
//! every sentence about them is made in `words`.
//!
//! Owns how a run looks. Must never decide anything about the run.

use crate::exec::Event;

mod human;
mod json;
pub(super) mod labels;
mod line;
mod live;
pub(super) mod style;
mod summary;
mod tally;
pub(super) mod words;

#[cfg(test)]
mod tests;

pub(crate) use human::HumanReporter;
pub(crate) use json::JsonReporter;

/// Consumes events; cannot influence execution.
pub(crate) trait Reporter: Send {
    fn report(&mut self, event: &Event);
    /// Called once after `RunFinished` (or when the run ends early): flush, final summary.
    fn finish(&mut self);
}
