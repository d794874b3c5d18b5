//! Events: everything that happens during a run, in the past tense, as data. The executor emits
//! them; reporters turn them into words and the journal keeps them. The JSON form (one object per
//! line with `--output json`, one journal line each) is versioned by [`EVENT_FORMAT_VERSION`] and
//! read back with serde (`resume`, `revert`, `runs`).
//!
//! Owns the event types and their JSON form. Must never hold a sentence: why a step was skipped,
//! why it escalated and how it failed are enums with the facts (Elasticsearch's status, type and
//! reason; the state stats showed); `report::run` chooses the words.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::verdict::{Finding, Proof, Resource};
use crate::plan::{Action, StepView};

/// Bumped whenever the JSON form of events changes incompatibly. 2: step events carry their
/// action, target and playbook place; skip reasons, escalations and errors are data; steps can
/// end interrupted or abandoned. 3: `step_read_failed` (a read of the state failed; it uses no
/// attempt), the error `unconfirmed`, a step timeout's `observed` may be absent, the
/// `verify_*` and `target_*verified` events, and `step_held` (with the error
/// `still_catching_up`, the maintenance removal's wait). A reader refuses an event it does not
/// know, so a new event after a release means a new version. Journals of version 1 are still
/// read (`journal::v1`); version 2 events read as version 3 ones.
pub(crate) const EVENT_FORMAT_VERSION: u32 = 3;

/// One thing that happened, with when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Event {
    /// Wall-clock time, RFC 3339.
    pub at: jiff::Timestamp,
    /// Since the run started.
    #[serde(rename = "elapsed_ms", with = "millis")]
    pub elapsed: Duration,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// Step numbers are the 1-based ids of the plan (`#3`), as in `plan` output.
pub(crate) type StepNo = usize;

/// What a step event is about, so that it reads without the plan: `"step": 3, "action":
/// "close_job", "target": "web-latency", "source": "playbook.yaml:14"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StepRef {
    #[serde(rename = "step")]
    pub no: StepNo,
    pub action: Action,
    pub target: String,
    /// The playbook `file:line` that asked for the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl From<&StepView> for StepRef {
    fn from(step: &StepView) -> StepRef {
        StepRef {
            no: step.id,
            action: step.action,
            target: step.target.clone(),
            source: step.source.as_ref().map(ToString::to_string),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub(crate) enum EventKind {
    RunStarted {
        run_id: String,
        playbook: String,
        cluster: String,
        steps: usize,
        concurrency: usize,
        /// Where the run's journal is (what `quiesce resume` needs to find it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        journal: Option<String>,
    },
    /// An attempt of a step began: its request is on its way (attempt 1 is the first).
    StepStarted {
        #[serde(flatten)]
        step: StepRef,
        attempt: u32,
    },
    /// The request was accepted; the step now waits for stats to show the state. `observed` is
    /// what stats showed before the request.
    StepWaiting {
        #[serde(flatten)]
        step: StepRef,
        observed: TargetState,
    },
    /// An attempt failed; `retry_in` is set when another attempt will follow.
    StepAttemptFailed {
        #[serde(flatten)]
        step: StepRef,
        attempt: u32,
        error: StepError,
        #[serde(rename = "retry_in_ms", with = "opt_millis", default)]
        retry_in: Option<Duration>,
    },
    /// A read of the step's target state (stats) failed. It uses no attempt: reads have a budget
    /// of their own. `retry_in` is set when another read will follow.
    StepReadFailed {
        #[serde(flatten)]
        step: StepRef,
        error: StepError,
        #[serde(rename = "retry_in_ms", with = "opt_millis", default)]
        retry_in: Option<Duration>,
    },
    /// The step goes on with `force=true`.
    StepEscalated {
        #[serde(flatten)]
        step: StepRef,
        escalation: Escalation,
    },
    StepSucceeded {
        #[serde(flatten)]
        step: StepRef,
        outcome: Success,
        attempts: u32,
        #[serde(rename = "duration_ms", with = "millis")]
        duration: Duration,
    },
    StepFailed {
        #[serde(flatten)]
        step: StepRef,
        error: StepError,
        attempts: u32,
        #[serde(rename = "duration_ms", with = "millis")]
        duration: Duration,
    },
    /// The run was interrupted while the step was between attempts (backing off, or about to
    /// make its first request): it made no new one. Its last request, if any, had failed.
    StepInterrupted {
        #[serde(flatten)]
        step: StepRef,
        attempts: u32,
        #[serde(rename = "duration_ms", with = "millis")]
        duration: Duration,
    },
    /// A second interrupt gave up on the step's request or wait in flight. The cluster may
    /// still carry the request out.
    StepAbandoned {
        #[serde(flatten)]
        step: StepRef,
        attempts: u32,
        #[serde(rename = "duration_ms", with = "millis")]
        duration: Duration,
    },
    /// The step's request waits: a precondition of it does not hold yet (`held` says which and
    /// what stats show). Given again only when what holds it back changes.
    StepHeld {
        #[serde(flatten)]
        step: StepRef,
        held: CatchingUp,
    },
    /// The step never started.
    StepSkipped {
        #[serde(flatten)]
        step: StepRef,
        reason: SkipReason,
    },
    /// No new step will start: a step failed under `on_failure: stop`, or a signal arrived.
    RunCancelling { reason: CancelReason },
    RunFinished {
        stats: RunStats,
        #[serde(rename = "duration_ms", with = "millis")]
        duration: Duration,
    },
    /// The recovery is being verified: that the opened jobs are assigned and the started
    /// real-time datafeeds make progress, for at most `timeout`.
    VerifyStarted {
        jobs: usize,
        datafeeds: usize,
        #[serde(rename = "timeout_ms", with = "millis")]
        timeout: Duration,
    },
    /// A target proved that it works again.
    TargetVerified {
        resource: Resource,
        target: String,
        proof: Proof,
    },
    /// A target did not prove it within the timeout: what stats showed last.
    TargetUnverified {
        resource: Resource,
        target: String,
        finding: Finding,
    },
    VerifyFinished {
        verified: usize,
        unverified: usize,
        #[serde(rename = "duration_ms", with = "millis")]
        duration: Duration,
    },
}

impl EventKind {
    /// The step an event is about, for step events.
    pub(crate) fn step(&self) -> Option<&StepRef> {
        match self {
            EventKind::StepStarted { step, .. }
            | EventKind::StepWaiting { step, .. }
            | EventKind::StepAttemptFailed { step, .. }
            | EventKind::StepReadFailed { step, .. }
            | EventKind::StepEscalated { step, .. }
            | EventKind::StepSucceeded { step, .. }
            | EventKind::StepFailed { step, .. }
            | EventKind::StepInterrupted { step, .. }
            | EventKind::StepAbandoned { step, .. }
            | EventKind::StepHeld { step, .. }
            | EventKind::StepSkipped { step, .. } => Some(step),
            EventKind::RunStarted { .. }
            | EventKind::RunCancelling { .. }
            | EventKind::RunFinished { .. }
            | EventKind::VerifyStarted { .. }
            | EventKind::TargetVerified { .. }
            | EventKind::TargetUnverified { .. }
            | EventKind::VerifyFinished { .. } => None,
        }
    }
}

/// How a step succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Success {
    /// quiesce's request moved the resource to its wanted state.
    Changed,
    /// The resource was already in the wanted state when the step ran.
    AlreadyInState,
}

/// A state stats can show for a step's target: a job's, a datafeed's, or upgrade mode's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum TargetState {
    Opening,
    Opened,
    Closing,
    Closed,
    Failed,
    Starting,
    Started,
    Stopping,
    Stopped,
    Enabled,
    Disabled,
    /// A model snapshot that exists (its `min_version` is in the [`Observation`]).
    Present,
    /// The run's maintenance event (and its jobs) are on the calendar.
    Scheduled,
    /// They are not (or no longer).
    Unscheduled,
}

impl TargetState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            TargetState::Opening => "opening",
            TargetState::Opened => "opened",
            TargetState::Closing => "closing",
            TargetState::Closed => "closed",
            TargetState::Failed => "failed",
            TargetState::Starting => "starting",
            TargetState::Started => "started",
            TargetState::Stopping => "stopping",
            TargetState::Stopped => "stopped",
            TargetState::Enabled => "enabled",
            TargetState::Disabled => "disabled",
            TargetState::Present => "present",
            TargetState::Scheduled => "scheduled",
            TargetState::Unscheduled => "unscheduled",
        }
    }
}

/// What stats said of a step's target: its state and, for jobs and datafeeds, where it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Observation {
    pub state: TargetState,
    /// The node it is assigned to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Elasticsearch's `assignment_explanation`, when it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment_explanation: Option<String>,
    /// A model snapshot's `min_version`, as Elasticsearch wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_version: Option<String>,
}

/// What Elasticsearch answered when it refused a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EsAnswer {
    /// The HTTP status.
    pub status: u16,
    /// `error.type` (`status_exception`); empty for the flat routing errors and proxies.
    #[serde(rename = "type")]
    pub error_type: String,
    /// `error.reason`.
    pub reason: String,
    /// `error.caused_by.reason`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caused_by: Option<String>,
}

/// Why a step's attempt failed, or the step gave up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum StepError {
    /// Elasticsearch refused the request.
    Elasticsearch(EsAnswer),
    /// Elasticsearch refused to close a failed job without `force=true`, and
    /// `settings.force: never` forbids forcing.
    ForceNotAllowed(EsAnswer),
    /// No connection, or it broke before the answer.
    Connection { reason: String },
    /// The request got no answer in time.
    NoAnswer {
        endpoint: String,
        #[serde(rename = "after_ms", with = "millis")]
        after: Duration,
    },
    /// The answer could not be used (not Elasticsearch, unreadable body).
    Client { reason: String },
    /// The step timeout passed before stats showed the state (and force was not allowed, or
    /// did not help). `observed` is what stats said last; absent when no read answered in time.
    StepTimeout {
        #[serde(rename = "timeout_ms", with = "millis")]
        timeout: Duration,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        observed: Option<Observation>,
    },
    /// The state could not be read (`reads` reads failed in a row, the last with `cause`), so
    /// whether the target got there is not known.
    Unconfirmed { reads: u32, cause: Box<StepError> },
    /// A `failed` job, where only a graceful transition helps: an open (it must be closed with
    /// force first), or the close of a snapshot refresh (a forced close persists no snapshot).
    JobFailed { observed: Observation },
    /// The target is no longer in stats: deleted meanwhile.
    Gone,
    /// The step timeout passed while a datafeed was still catching up on the maintenance
    /// window (`held`): the removal of the maintenance event was not requested, so the event
    /// stays (docs/elasticsearch-ml-api.md §13, §14.1).
    StillCatchingUp {
        #[serde(rename = "timeout_ms", with = "millis")]
        timeout: Duration,
        held: CatchingUp,
    },
    /// A bug in quiesce (a step's task ended abnormally).
    Internal { reason: String },
}

impl StepError {
    /// Elasticsearch refused for overload (429 `es_rejected_execution_exception` or
    /// `circuit_breaking_exception`): too much in flight, not a fault of the request. The
    /// scheduler shrinks its window; the step tries again without using up an attempt.
    pub(crate) fn is_overload(&self) -> bool {
        matches!(self, StepError::Elasticsearch(answer)
            if answer.status == 429 && crate::es::OVERLOAD_TYPES.contains(&answer.error_type.as_str()))
    }
}

/// A datafeed the run started that has not yet analysed past the maintenance: removing the
/// event now would let the buckets of the window its lookback is still analysing be scored
/// (Elasticsearch applies a job's scheduled events when its process analyses the buckets, and
/// pushes a removal to the running process; docs/elasticsearch-ml-api.md §13, §14.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CatchingUp {
    pub datafeed: String,
    /// Where its searches must have reached (epoch ms): the earlier of the event's end and the
    /// time the removal began to wait.
    pub until_ms: i64,
    pub behind: Behind,
}

/// What a catching-up datafeed's `running_state` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Behind {
    /// `real_time_running` is `false` (or there is no `running_state` yet): its lookback is
    /// not over, or it has no runner on a node yet.
    Lookback,
    /// Running in real time, but its runner has had no successful search yet (8.1 and later
    /// show no `search_interval`): its searches may be failing (§14.2).
    NoSearch,
    /// Its runner's last successful search ended at `end_ms` (`search_interval.end_ms`),
    /// before `until_ms`.
    SearchedTo { end_ms: i64 },
}

/// Why a step goes on with `force=true`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Escalation {
    /// The job is `failed`: only a forced close works.
    FailedJob,
    /// Stats still showed `state` when the step timeout passed (`settings.force:
    /// after_timeout`).
    AfterTimeout {
        state: TargetState,
        #[serde(rename = "timeout_ms", with = "millis")]
        timeout: Duration,
    },
}

/// Why a step never started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum SkipReason {
    /// `step`, which it needs directly or through others, failed.
    DependencyFailed { step: StepNo },
    /// `step` failed and `on_failure` is `stop`.
    Stopped { step: StepNo },
    /// A signal arrived before it could start.
    Interrupted,
    /// Its dependencies never all succeeded, and none failed: only a hand-edited plan with a
    /// cycle gets here.
    NeverReady,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum CancelReason {
    /// A step failed and `on_failure` is `stop`.
    StepFailed,
    /// Ctrl-C (or SIGTERM): nothing new starts, requests and waits in flight finish.
    Interrupted,
    /// A second signal: requests and waits in flight are abandoned.
    Abandoned,
    /// Another runner took over the cluster lease (or it expired unrenewed): nothing new
    /// starts, requests and waits in flight finish.
    LeaseLost,
}

/// Counts by outcome at the end of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RunStats {
    pub changed: usize,
    pub already_in_state: usize,
    pub failed: usize,
    pub skipped: usize,
    /// Interrupted between attempts or abandoned in flight (absent from format 1, where an
    /// abandoned step counted as failed).
    #[serde(default)]
    pub interrupted: usize,
}

impl RunStats {
    /// Every step reached its state.
    pub(crate) fn all_succeeded(&self) -> bool {
        self.failed == 0 && self.skipped == 0 && self.interrupted == 0
    }
}

/// A duration as whole milliseconds.
pub(super) mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(in crate::exec) fn serialize<S: Serializer>(
        duration: &Duration,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
    }

    pub(in crate::exec) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_millis)
    }
}

/// An optional duration as whole milliseconds or `null`.
mod opt_millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(in crate::exec) fn serialize<S: Serializer>(
        duration: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match duration {
            Some(duration) => super::millis::serialize(duration, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        Option::<u64>::deserialize(deserializer).map(|ms| ms.map(Duration::from_millis))
    }
}
