//! Events: everything that happens during a run, in the past tense. The executor emits them;
//! reporters and the journal consume them. The JSON form (one object per line with
//! `--output json`) is versioned by [`EVENT_FORMAT_VERSION`].

use std::time::Duration;

use serde::Serialize;

/// Bumped whenever the JSON form of events changes incompatibly.
pub const EVENT_FORMAT_VERSION: u32 = 1;

/// One thing that happened, with when.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// Wall-clock time, RFC 3339.
    pub at: jiff::Timestamp,
    /// Since the run started.
    #[serde(rename = "elapsed_ms", serialize_with = "millis")]
    pub elapsed: Duration,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// Step numbers are the 1-based ids of the plan (`#3`), as in `plan` output.
pub type StepNo = usize;

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    RunStarted {
        run_id: String,
        playbook: String,
        cluster: String,
        steps: usize,
        concurrency: usize,
    },
    /// An attempt of a step began (attempt 1 is the first call).
    StepStarted {
        step: StepNo,
        attempt: u32,
    },
    /// The call was accepted; the step now waits for the observed state.
    StepWaiting {
        step: StepNo,
        observed: String,
    },
    /// An attempt failed; `retry_in` is set when another attempt will follow.
    StepAttemptFailed {
        step: StepNo,
        attempt: u32,
        error: StepError,
        #[serde(rename = "retry_in_ms", serialize_with = "opt_millis")]
        retry_in: Option<Duration>,
    },
    /// The step escalated to `force=true` after its timeout.
    StepEscalated {
        step: StepNo,
        warning: String,
    },
    StepSucceeded {
        step: StepNo,
        outcome: Success,
        attempts: u32,
        #[serde(rename = "duration_ms", serialize_with = "millis")]
        duration: Duration,
    },
    StepFailed {
        step: StepNo,
        error: StepError,
        attempts: u32,
        #[serde(rename = "duration_ms", serialize_with = "millis")]
        duration: Duration,
    },
    StepSkipped {
        step: StepNo,
        reason: String,
    },
    /// No new step will start: a step failed under `on_failure: stop`, or a signal arrived.
    RunCancelling {
        reason: CancelReason,
    },
    RunFinished {
        stats: RunStats,
        #[serde(rename = "duration_ms", serialize_with = "millis")]
        duration: Duration,
    },
}

/// How a step succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Success {
    /// quiesce's call moved the resource to its wanted state.
    Changed,
    /// The resource was already in the wanted state when the step ran.
    AlreadyInState,
}

/// Why a step's attempt failed, for people and programs: what Elasticsearch said, or what was
/// observed when the step gave up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepError {
    /// HTTP status, for answers from Elasticsearch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Elasticsearch's `error.type` (`status_exception`), or quiesce's own kind
    /// (`connection`, `timeout`, `stuck`).
    pub error_type: String,
    pub reason: String,
    /// What stats said when the step gave up (state, node, assignment explanation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<String>,
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(status) = self.status {
            write!(f, "{status} ")?;
        }
        if !self.error_type.is_empty() {
            write!(f, "{}: ", self.error_type)?;
        }
        f.write_str(&self.reason)?;
        if let Some(diagnosis) = &self.diagnosis {
            write!(f, " ({diagnosis})")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    /// A step failed and `on_failure` is `stop`.
    StepFailed,
    /// Ctrl-C (or SIGTERM): in-flight steps finish, nothing new starts.
    Interrupted,
    /// A second signal: in-flight waits are abandoned.
    Abandoned,
}

/// Counts by outcome at the end of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RunStats {
    pub changed: usize,
    pub already_in_state: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl RunStats {
    /// Every step reached its state.
    pub fn all_succeeded(&self) -> bool {
        self.failed == 0 && self.skipped == 0
    }
}

fn millis<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
}

fn opt_millis<S: serde::Serializer>(
    duration: &Option<Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match duration {
        Some(d) => millis(d, serializer),
        None => serializer.serialize_none(),
    }
}
