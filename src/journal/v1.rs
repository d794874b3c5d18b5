//! Journal format 1, read only: the events as quiesce wrote them before they carried data
//! (skip reasons, escalations and error kinds were sentences; a step abandoned by a second
//! interrupt was recorded as failed with the error type `interrupted`).
//!
//! Owns those frozen types and what each event tells the readers ([`Fact`]). Must never change
//! to follow the current events (`exec::event`): it describes files already on disk; a new
//! format gets a new reader. Fields no reader needs are left out (serde skips them), but every
//! event name is listed, so that a line this reader does not know is an error, not a silence.

use serde::Deserialize;

use crate::exec::{RunStats, StepNo};

use super::log::{Fact, StepStatus};

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Event {
    #[serde(flatten)]
    pub kind: EventKind,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub(crate) enum EventKind {
    RunStarted {},
    StepStarted { step: StepNo },
    StepWaiting { step: StepNo },
    StepAttemptFailed { step: StepNo },
    StepEscalated { step: StepNo },
    StepSucceeded { step: StepNo, outcome: Success },
    StepFailed { step: StepNo, error: StepError },
    StepSkipped { step: StepNo },
    RunCancelling { reason: CancelReason },
    RunFinished { stats: Stats },
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Success {
    Changed,
    AlreadyInState,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct StepError {
    /// Set for answers from Elasticsearch.
    #[serde(default)]
    pub status: Option<u16>,
    /// Elasticsearch's `error.type`, or one of quiesce's own words: `connection`, `timeout`,
    /// `blocked`, `client`, `internal`, `interrupted` (abandoned by a second interrupt).
    pub error_type: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum CancelReason {
    StepFailed,
    Interrupted,
    Abandoned,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub(crate) struct Stats {
    pub changed: usize,
    pub already_in_state: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl Event {
    /// What this event tells the readers.
    pub(super) fn fact(&self) -> Option<Fact> {
        Some(match &self.kind {
            EventKind::RunStarted {} => return None,
            EventKind::StepStarted { step }
            | EventKind::StepWaiting { step }
            | EventKind::StepAttemptFailed { step }
            | EventKind::StepEscalated { step } => Fact::Step(*step, StepStatus::InFlight),
            EventKind::StepSucceeded { step, outcome } => Fact::Step(
                *step,
                match outcome {
                    Success::Changed => StepStatus::Changed,
                    Success::AlreadyInState => StepStatus::AlreadyInState,
                },
            ),
            // Format 1 recorded abandoning as a failure of its own type.
            EventKind::StepFailed { step, error }
                if error.status.is_none() && error.error_type == "interrupted" =>
            {
                Fact::Step(*step, StepStatus::Abandoned)
            }
            EventKind::StepFailed { step, .. } => Fact::Step(*step, StepStatus::Failed),
            EventKind::StepSkipped { step } => Fact::Step(*step, StepStatus::Skipped),
            EventKind::RunCancelling { reason } => Fact::Cancelled {
                by_signal: *reason != CancelReason::StepFailed,
            },
            EventKind::RunFinished { stats } => Fact::Finished(RunStats {
                changed: stats.changed,
                already_in_state: stats.already_in_state,
                failed: stats.failed,
                skipped: stats.skipped,
                interrupted: 0,
            }),
        })
    }
}
