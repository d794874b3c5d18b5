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

use std::io::Write as _;

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

/// `quiesce verify`: one plain line per verification event, as `apply` shows them after a way
/// up.
pub(crate) struct VerifyReporter {
    out: Box<dyn std::io::Write + Send>,
    paint: style::Paint,
}

impl VerifyReporter {
    pub(crate) fn new(out: Box<dyn std::io::Write + Send>, color: bool) -> VerifyReporter {
        VerifyReporter {
            out,
            paint: style::Paint::new(color),
        }
    }
}

impl Reporter for VerifyReporter {
    fn report(&mut self, event: &Event) {
        if let Some(line) = line::render(event, &labels::StepLabels::default(), self.paint) {
            // Write errors are ignored, as by every reporter.
            let _ = writeln!(self.out, "{line}");
        }
    }

    fn finish(&mut self) {
        let _ = self.out.flush();
    }
}

/// Consumes events; cannot influence execution.
pub(crate) trait Reporter: Send {
    fn report(&mut self, event: &Event);
    /// Called once after `RunFinished` (or when the run ends early): flush, final summary.
    fn finish(&mut self);
}
