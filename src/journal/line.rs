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
/// `resumed` line says the format of the lines after it. Format 1 is still read
/// (`journal::v1`).
pub(crate) const JOURNAL_FORMAT_VERSION: u32 = 2;

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
