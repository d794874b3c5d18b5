//! One journal line, as written and as read: the header, an event, or the start of a resumed
//! segment. The writer and the reader share this one definition, so they cannot drift apart.
//!
//! Owns the line format and its version. Must never hold anything a reader cannot type: every
//! line is a [`Line`].

use serde::{Deserialize, Serialize};

use crate::plan::PlanView;

use super::write::Header;

/// Bumped whenever a journal line changes incompatibly. 2: events of `exec` format 2 (step
/// events carry their action and target; reasons, escalations and errors are data), and a
/// `resumed` line says the format of the lines after it. 3: every line carries its sequence
/// number `seq` (the count of lines before it, torn ones left out), so that a line deleted
/// from the middle is noticed; events of `exec` format 3; the header says which embedded
/// simulator the run was against and which run it reverts. Formats 1 and 2 are still read
/// (`journal::v1`; format 2 events read as format 3 ones).
pub(crate) const JOURNAL_FORMAT_VERSION: u32 = 3;

/// The first format whose lines carry `seq`.
pub(super) const NUMBERED_SINCE: u32 = 3;

/// The longest line quiesce reads: a header holds the plan and the before-state, 20 MB for
/// 10,000 jobs; 64 MiB leaves room for three times that.
pub(super) const MAX_LINE_BYTES: usize = 64 * 1024 * 1024;

/// A line as written from format 3 on: its sequence number, then the line itself.
#[derive(Debug, Serialize)]
pub(super) struct Numbered<'a, L> {
    pub seq: u64,
    #[serde(flatten)]
    pub line: &'a L,
}

/// A line as read, whatever its format: `seq` is absent before format 3.
#[derive(Debug, Deserialize)]
pub(super) struct MaybeNumbered<L> {
    #[serde(default)]
    pub seq: Option<u64>,
    #[serde(flatten)]
    pub line: L,
}

/// `E` is the event type of the segment's format.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum Line<E> {
    Header(Box<Header>),
    Event(E),
    /// A `resume` continues the run with a new plan for what was left.
    Resumed {
        at: jiff::Timestamp,
        /// The format of the lines that follow (absent from format 1, where it was 1).
        #[serde(default = "format_1")]
        version: u32,
        plan: Box<PlanView>,
    },
}

fn format_1() -> u32 {
    1
}

impl<E> Line<E> {
    pub(super) fn map_event<F>(self, f: impl FnOnce(E) -> F) -> Line<F> {
        match self {
            Line::Header(header) => Line::Header(header),
            Line::Event(event) => Line::Event(f(event)),
            Line::Resumed { at, version, plan } => Line::Resumed { at, version, plan },
        }
    }
}
