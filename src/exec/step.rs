//! Running one step: observe, call, confirm through stats, retry what is worth retrying,
//! escalate to force when the settings allow it. Success is the observed state, never the
//! HTTP 200. Workers only do I/O and report through [`Emit`]; the scheduler owns the run state.

use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use crate::es::request::Force as EsForce;
use crate::es::types::{DatafeedState, JobState};
use crate::es::{self, EsClient};
use crate::model::ForcePolicy;
use crate::plan::{Action, Force, SettingsView, StepView};

use super::event::{EventKind, StepError, StepNo, Success};
use super::retry::Backoff;

/// What a worker tells the scheduler while it runs.
pub(crate) type Emit = mpsc::UnboundedSender<(StepNo, EventKind)>;

/// What a step came to, with the attempts it took.
#[derive(Debug)]
pub(crate) struct StepResult {
    pub step: StepNo,
    pub outcome: Result<Success, StepError>,
    pub attempts: u32,
    pub duration: Duration,
}

/// Everything a worker needs; cloned into each spawned step.
#[derive(Clone)]
pub(crate) struct Worker {
    pub client: EsClient,
    pub settings: SettingsView,
    pub emit: Emit,
    /// Becomes true on a second interrupt: abandon waits and calls.
    pub abandon: watch::Receiver<bool>,
    /// Base of the jitter seeds, so that runs differ but a step's schedule is reproducible.
    pub seed: u64,
}

/// Where a resource stands relative to the step's target.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Progress {
    Reached,
    /// On its way to the target (`stopping` for a stop): wait.
    Moving,
    /// On its way somewhere else first (`closing` for an open): wait, then call.
    Settling,
    /// Needs the call.
    Away,
    /// Cannot get there (an open of a `failed` job).
    Blocked(String),
}

/// One observation of the step's resource.
struct Seen {
    progress: Progress,
    state: String,
    diagnosis: String,
}

const POLL_START: Duration = Duration::from_millis(50);
const POLL_MAX: Duration = Duration::from_secs(2);

impl Worker {
    pub(crate) async fn run(self, step: StepView) -> StepResult {
        let started = Instant::now();
        let mut backoff = Backoff::new(
            u32::try_from(self.settings.retry_attempts).unwrap_or(u32::MAX),
            Duration::from_millis(self.settings.initial_backoff_ms),
            Duration::from_millis(self.settings.max_backoff_ms),
            self.seed ^ (step.id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        let outcome = self.drive(&step, &mut backoff, started).await;
        StepResult {
            step: step.id,
            outcome,
            attempts: backoff.made(),
            duration: started.elapsed(),
        }
    }

    fn emit(&self, step: StepNo, kind: EventKind) {
        // The scheduler outlives its workers; a closed channel only means it stopped listening.
        let _ = self.emit.send((step, kind));
    }

    fn step_timeout(&self) -> Duration {
        Duration::from_millis(self.settings.step_timeout_ms)
    }

    async fn drive(
        &self,
        step: &StepView,
        backoff: &mut Backoff,
        started: Instant,
    ) -> Result<Success, StepError> {
        let mut deadline = started + self.step_timeout();
        let mut forced = step.force == Force::RequiredAllowed;
        if forced {
            self.warn_failed_job(step);
        }
        let mut calls = 0u32;
        let mut poll = POLL_START;
        // Set by an escalation: the next round makes the forced call whatever the state.
        let mut force_now = false;
        // Set when a call failed and its back-off has passed: call again as soon as the
        // resource is still away, rather than waiting as for a transition already under way.
        let mut retry_due = false;
        loop {
            let seen = match self.observe(step).await {
                Ok(seen) => seen,
                Err(err) => {
                    // A failed observation uses up an attempt too, so that a cluster that stays
                    // unreachable ends the step.
                    backoff.attempt();
                    self.failed_attempt(step, backoff, &err).await?;
                    continue;
                }
            };
            match &seen.progress {
                Progress::Reached => {
                    return Ok(if calls == 0 {
                        Success::AlreadyInState
                    } else {
                        Success::Changed
                    });
                }
                Progress::Blocked(reason) => {
                    return Err(StepError {
                        status: None,
                        error_type: "blocked".into(),
                        reason: reason.clone(),
                        diagnosis: Some(seen.diagnosis),
                    });
                }
                Progress::Away | Progress::Moving
                    if force_now
                        || (seen.progress == Progress::Away
                            && (calls == 0
                                || retry_due
                                || poll >= POLL_MAX
                                || Instant::now() >= deadline)) =>
                {
                    // First call, a forced call after an escalation, or the resource went back
                    // (a close that was lost): call (again).
                    if Instant::now() >= deadline && !force_now {
                        self.timed_out(step, &seen, &mut forced, &mut deadline)?;
                    }
                    force_now = false;
                    retry_due = false;
                    let attempt = backoff.attempt();
                    calls += 1;
                    self.emit(
                        step.id,
                        EventKind::StepStarted {
                            step: step.id,
                            attempt,
                        },
                    );
                    let remaining = deadline.saturating_duration_since(Instant::now());
                    match self
                        .call(step, forced, remaining.max(Duration::from_secs(1)))
                        .await
                    {
                        Ok(()) => {
                            poll = POLL_START;
                            self.emit(
                                step.id,
                                EventKind::StepWaiting {
                                    step: step.id,
                                    observed: seen.state.clone(),
                                },
                            );
                            // Elasticsearch answers these calls once the state is reached (or
                            // its own wait ran out): confirm at once rather than after a pause.
                            continue;
                        }
                        Err(err) if err.is_still_in_progress() => poll = POLL_START,
                        Err(err) if is_already(&err) => poll = POLL_START,
                        Err(err) if needs_force(step, &err) => {
                            if forced || self.settings.force == ForcePolicy::Never {
                                return Err(with_hint(
                                    step_error(&err),
                                    "the job is failed and only a forced close works; set `settings.force: after_timeout` to allow it",
                                ));
                            }
                            forced = true;
                            self.warn_failed_job(step);
                            continue;
                        }
                        Err(err) => {
                            self.failed_attempt(step, backoff, &err).await?;
                            retry_due = true;
                            continue;
                        }
                    }
                }
                Progress::Moving | Progress::Settling | Progress::Away => {
                    if Instant::now() >= deadline {
                        self.timed_out(step, &seen, &mut forced, &mut deadline)?;
                        // Escalated: the next round makes the forced call.
                        force_now = true;
                        continue;
                    }
                }
            }
            self.pause(poll).await?;
            poll = (poll.mul_f32(1.5)).min(POLL_MAX);
        }
    }

    /// A failed job can only be closed with force: say what that skips.
    fn warn_failed_job(&self, step: &StepView) {
        self.emit(
            step.id,
            EventKind::StepEscalated {
                step: step.id,
                warning: format!(
                    "job `{}` is failed: closing with force=true, which skips the flush, the final results and the model snapshot",
                    step.target
                ),
            },
        );
    }

    /// The step's deadline passed while the resource was not there yet: escalate to force
    /// when allowed, otherwise fail with what stats say.
    fn timed_out(
        &self,
        step: &StepView,
        seen: &Seen,
        forced: &mut bool,
        deadline: &mut Instant,
    ) -> Result<(), StepError> {
        let forceable = matches!(step.action, Action::StopDatafeed | Action::CloseJob);
        if forceable && !*forced && self.settings.force == ForcePolicy::AfterTimeout {
            *forced = true;
            *deadline = Instant::now() + self.step_timeout();
            let skipped = match step.action {
                Action::CloseJob => {
                    "force skips the flush, the final results and the model snapshot; the job will reopen from its previous snapshot"
                }
                _ => "force removes the datafeed task without waiting for the search in flight",
            };
            self.emit(
                step.id,
                EventKind::StepEscalated {
                    step: step.id,
                    warning: format!(
                        "`{}` still {} after the step timeout ({}); retrying with force=true: {skipped}",
                        step.target,
                        seen.state,
                        es::es_time(self.step_timeout())
                    ),
                },
            );
            return Ok(());
        }
        Err(StepError {
            status: None,
            error_type: "timeout".into(),
            reason: format!(
                "`{}` still {} after the step timeout ({})",
                step.target,
                seen.state,
                es::es_time(self.step_timeout())
            ),
            diagnosis: Some(seen.diagnosis.clone()),
        })
    }

    /// Reports a failed attempt; waits and returns `Ok` when another attempt may follow.
    async fn failed_attempt(
        &self,
        step: &StepView,
        backoff: &mut Backoff,
        err: &es::Error,
    ) -> Result<(), StepError> {
        let error = step_error(err);
        let retry_in = if err.is_retryable() {
            backoff.next_delay(err.retry_after())
        } else {
            None
        };
        self.emit(
            step.id,
            EventKind::StepAttemptFailed {
                step: step.id,
                attempt: backoff.made(),
                error: error.clone(),
                retry_in,
            },
        );
        match retry_in {
            Some(delay) => self.pause(delay).await,
            None => Err(error),
        }
    }

    /// Sleeps, unless the run is abandoned.
    async fn pause(&self, duration: Duration) -> Result<(), StepError> {
        let mut abandon = self.abandon.clone();
        if *abandon.borrow() {
            return Err(abandoned());
        }
        tokio::select! {
            () = tokio::time::sleep(duration) => Ok(()),
            _ = abandon.wait_for(|a| *a) => Err(abandoned()),
        }
    }

    async fn call(&self, step: &StepView, forced: bool, wait: Duration) -> Result<(), es::Error> {
        let force = if forced { EsForce::Yes } else { EsForce::No };
        let client = &self.client;
        let id = step.target.as_str();
        let mut abandon = self.abandon.clone();
        let call = async {
            match step.action {
                Action::StopDatafeed => client.stop_datafeed(id, force, wait).await,
                Action::CloseJob => client.close_job(id, force, wait).await,
                Action::OpenJob => client.open_job(id, wait).await,
                Action::StartDatafeed => client.start_datafeed(id, wait).await,
                Action::EnableUpgradeMode => client.set_upgrade_mode(true, wait).await,
                Action::DisableUpgradeMode => client.set_upgrade_mode(false, wait).await,
            }
        };
        tokio::select! {
            result = call => result,
            _ = abandon.wait_for(|a| *a) => Err(es::Error::Timeout { endpoint: "abandoned", after: Duration::ZERO }),
        }
    }

    async fn observe(&self, step: &StepView) -> Result<Seen, es::Error> {
        let id = step.target.as_str();
        match step.action {
            Action::StopDatafeed | Action::StartDatafeed => {
                let stats = self.client.datafeed_stats(id).await?;
                let Some(feed) = stats.datafeeds.into_iter().next() else {
                    return Ok(Seen::missing("datafeed", id));
                };
                let progress = match (step.action, feed.state) {
                    (Action::StopDatafeed, DatafeedState::Stopped)
                    | (Action::StartDatafeed, DatafeedState::Started) => Progress::Reached,
                    (Action::StopDatafeed, DatafeedState::Stopping)
                    | (Action::StartDatafeed, DatafeedState::Starting) => Progress::Moving,
                    (Action::StartDatafeed, DatafeedState::Stopping) => Progress::Settling,
                    _ => Progress::Away,
                };
                Ok(Seen::of(
                    progress,
                    feed.state.as_str(),
                    feed.node.map(|n| n.id),
                    feed.assignment_explanation,
                ))
            }
            Action::CloseJob | Action::OpenJob => {
                let stats = self.client.job_stats(id).await?;
                let Some(job) = stats.jobs.into_iter().next() else {
                    return Ok(Seen::missing("job", id));
                };
                let progress = match (step.action, job.state) {
                    (Action::CloseJob, JobState::Closed) | (Action::OpenJob, JobState::Opened) => {
                        Progress::Reached
                    }
                    (Action::CloseJob, JobState::Closing)
                    | (Action::OpenJob, JobState::Opening) => Progress::Moving,
                    (Action::OpenJob, JobState::Closing) => Progress::Settling,
                    (Action::OpenJob, JobState::Failed) => Progress::Blocked(format!(
                        "job `{id}` is failed; close it with force before opening it"
                    )),
                    _ => Progress::Away,
                };
                Ok(Seen::of(
                    progress,
                    job.state.as_str(),
                    job.node.map(|n| n.id),
                    job.assignment_explanation,
                ))
            }
            Action::EnableUpgradeMode | Action::DisableUpgradeMode => {
                let on = self.client.ml_info().await?.upgrade_mode;
                let wanted = step.action == Action::EnableUpgradeMode;
                Ok(Seen {
                    progress: if on == wanted {
                        Progress::Reached
                    } else {
                        Progress::Away
                    },
                    state: if on { "enabled" } else { "disabled" }.into(),
                    diagnosis: format!("upgrade_mode {on}"),
                })
            }
        }
    }
}

impl Seen {
    /// What stats say of a job or datafeed: its state, node and assignment explanation.
    fn of(
        progress: Progress,
        state: &str,
        node: Option<String>,
        explanation: Option<String>,
    ) -> Seen {
        let mut diagnosis = format!("state {state}");
        match node {
            Some(node) => diagnosis.push_str(&format!(", node {node}")),
            None => diagnosis.push_str(", no node"),
        }
        if let Some(explanation) = explanation.filter(|e| !e.is_empty()) {
            diagnosis.push_str(&format!(", assignment_explanation: {explanation}"));
        }
        Seen {
            progress,
            state: state.to_owned(),
            diagnosis,
        }
    }

    /// The resource is gone from stats (deleted meanwhile).
    fn missing(kind: &str, id: &str) -> Seen {
        Seen {
            progress: Progress::Blocked(format!("{kind} `{id}` no longer exists")),
            state: "missing".into(),
            diagnosis: format!("not in {kind} stats"),
        }
    }
}

fn abandoned() -> StepError {
    StepError {
        status: None,
        error_type: "interrupted".into(),
        reason: "abandoned by a second interrupt; the operation may still complete on the cluster"
            .into(),
        diagnosis: None,
    }
}

/// A 409 saying the resource is already where an open or start would take it (or on its way):
/// the next observation decides.
fn is_already(err: &es::Error) -> bool {
    err.status() == Some(409)
        && err.body().is_some_and(|b| {
            b.reason.contains("already been opened") || b.reason.contains("already been started")
        })
}

/// The 409 of closing a failed job without force (docs/elasticsearch-ml-api.md E3/E4).
fn needs_force(step: &StepView, err: &es::Error) -> bool {
    step.action == Action::CloseJob
        && err.status() == Some(409)
        && err
            .body()
            .is_some_and(|b| b.reason.contains("use force close"))
}

pub(crate) fn step_error(err: &es::Error) -> StepError {
    match err {
        es::Error::Api { status, body, .. } => StepError {
            status: Some(*status),
            error_type: body.error_type.clone(),
            reason: body.reason.clone(),
            diagnosis: body.caused_by.as_ref().map(|c| format!("caused by: {c}")),
        },
        es::Error::Unreachable { .. } => StepError {
            status: None,
            error_type: "connection".into(),
            reason: err.to_string(),
            diagnosis: None,
        },
        es::Error::Timeout { .. } => StepError {
            status: None,
            error_type: "timeout".into(),
            reason: err.to_string(),
            diagnosis: None,
        },
        other => StepError {
            status: None,
            error_type: "client".into(),
            reason: other.to_string(),
            diagnosis: None,
        },
    }
}

fn with_hint(mut error: StepError, hint: &str) -> StepError {
    error.diagnosis = Some(match error.diagnosis {
        Some(d) => format!("{d}; {hint}"),
        None => hint.to_owned(),
    });
    error
}
