//! Running one step: observe, request, confirm through stats, retry what is worth retrying,
//! escalate to force when the settings allow it, and stop as the [`Interrupts`] say.
//!
//! Owns the step's life and the facts its events carry. Must never print, never word anything
//! (events hold data; `report` chooses the words), never touch the run state (the scheduler
//! owns it: workers only do I/O and report through [`Emit`]), and never count an HTTP 200 as
//! success: success is the state stats show.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::es;
use crate::model::ForcePolicy;
use crate::plan::{Action, Force, SettingsView, StepView};

use super::cluster::Cluster;
use super::event::{
    EsAnswer, Escalation, EventKind, Observation, StepError, StepRef, Success, TargetState,
};
use super::interrupt::Interrupts;
use super::retry::Backoff;

/// What a worker tells the scheduler while it runs.
pub(crate) type Emit = mpsc::UnboundedSender<EventKind>;

/// How a step ended, with the attempts it took.
#[derive(Debug)]
pub(crate) struct StepResult {
    pub step: StepRef,
    pub end: End,
    pub attempts: u32,
    pub duration: Duration,
}

#[derive(Debug)]
pub(crate) enum End {
    Succeeded(Success),
    Failed(StepError),
    /// Stopped between attempts by the first interrupt.
    Interrupted,
    /// Given up in flight by the second interrupt.
    Abandoned,
}

/// Why [`Worker::drive`] ended without the state.
enum Halt {
    Failed(StepError),
    Interrupted,
    Abandoned,
}

impl From<StepError> for Halt {
    fn from(error: StepError) -> Halt {
        Halt::Failed(error)
    }
}

/// Everything a worker needs; cloned into each spawned step.
pub(crate) struct Worker<C> {
    pub cluster: Arc<C>,
    pub settings: SettingsView,
    pub emit: Emit,
    pub interrupts: Interrupts,
    /// Base of the jitter seeds, so that runs differ but a step's schedule is reproducible.
    pub seed: u64,
}

impl<C> Clone for Worker<C> {
    fn clone(&self) -> Worker<C> {
        Worker {
            cluster: Arc::clone(&self.cluster),
            settings: self.settings.clone(),
            emit: self.emit.clone(),
            interrupts: self.interrupts.clone(),
            seed: self.seed,
        }
    }
}

/// Where a resource stands relative to the step's target.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Progress {
    Reached,
    /// On its way to the target (`stopping` for a stop): wait.
    Moving,
    /// On its way somewhere else first (`closing` for an open): wait, then request.
    Settling,
    /// Needs the request.
    Away,
    /// Cannot get there.
    Blocked(StepError),
}

/// Where `observed` stands for `action`.
fn progress(action: Action, observed: Option<&Observation>) -> Progress {
    use TargetState as S;
    let Some(observation) = observed else {
        return Progress::Blocked(StepError::Gone);
    };
    match (action, observation.state) {
        (Action::StopDatafeed, S::Stopped)
        | (Action::StartDatafeed, S::Started)
        | (Action::CloseJob, S::Closed)
        | (Action::OpenJob, S::Opened)
        | (Action::EnableUpgradeMode, S::Enabled)
        | (Action::DisableUpgradeMode, S::Disabled) => Progress::Reached,
        (Action::StopDatafeed, S::Stopping)
        | (Action::StartDatafeed, S::Starting)
        | (Action::CloseJob, S::Closing)
        | (Action::OpenJob, S::Opening) => Progress::Moving,
        (Action::StartDatafeed, S::Stopping) | (Action::OpenJob, S::Closing) => Progress::Settling,
        (Action::OpenJob, S::Failed) => Progress::Blocked(StepError::JobFailed {
            observed: observation.clone(),
        }),
        _ => Progress::Away,
    }
}

const POLL_START: Duration = Duration::from_millis(50);
const POLL_MAX: Duration = Duration::from_secs(2);

impl<C: Cluster> Worker<C> {
    pub(crate) async fn run(self, step: StepView) -> StepResult {
        let started = Instant::now();
        let mut backoff = Backoff::new(
            u32::try_from(self.settings.retry_attempts).unwrap_or(u32::MAX),
            Duration::from_millis(self.settings.initial_backoff_ms),
            Duration::from_millis(self.settings.max_backoff_ms),
            self.seed ^ (step.id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        let about = StepRef::from(&step);
        let end = match self.drive(&step, &about, &mut backoff, started).await {
            Ok(success) => End::Succeeded(success),
            Err(Halt::Failed(error)) => End::Failed(error),
            Err(Halt::Interrupted) => End::Interrupted,
            Err(Halt::Abandoned) => End::Abandoned,
        };
        StepResult {
            step: about,
            end,
            attempts: backoff.made(),
            duration: started.elapsed(),
        }
    }

    fn emit(&self, kind: EventKind) {
        // The scheduler outlives its workers; a closed channel only means it stopped listening.
        let _ = self.emit.send(kind);
    }

    fn step_timeout(&self) -> Duration {
        Duration::from_millis(self.settings.step_timeout_ms)
    }

    async fn drive(
        &self,
        step: &StepView,
        about: &StepRef,
        backoff: &mut Backoff,
        started: Instant,
    ) -> Result<Success, Halt> {
        let mut deadline = started + self.step_timeout();
        let mut forced = step.force == Force::RequiredAllowed;
        if forced {
            self.escalated(about, Escalation::FailedJob);
        }
        let mut calls = 0u32;
        let mut poll = POLL_START;
        // Set by an escalation: the next round makes the forced request whatever the state.
        let mut force_now = false;
        // Set when a request failed and its back-off has passed: request again as soon as the
        // resource is still away, rather than waiting as for a transition already under way.
        let mut retry_due = false;
        loop {
            let observed = match self
                .abandonable(self.cluster.observe(step.action, &step.target))
                .await?
            {
                Ok(observed) => observed,
                Err(err) => {
                    // A failed observation uses up an attempt too, so that a cluster that stays
                    // unreachable ends the step.
                    backoff.attempt();
                    self.failed_attempt(about, backoff, &err).await?;
                    continue;
                }
            };
            let progress = progress(step.action, observed.as_ref());
            match progress {
                Progress::Reached => {
                    return Ok(if calls == 0 {
                        Success::AlreadyInState
                    } else {
                        Success::Changed
                    });
                }
                Progress::Blocked(error) => return Err(Halt::Failed(error)),
                Progress::Away | Progress::Moving
                    if force_now
                        || (progress == Progress::Away
                            && (calls == 0
                                || retry_due
                                || poll >= POLL_MAX
                                || Instant::now() >= deadline)) =>
                {
                    // First request, a forced request after an escalation, or the resource went
                    // back (a close that was lost): request (again). Never after an interrupt.
                    if self.interrupts.is_stopping() {
                        return Err(Halt::Interrupted);
                    }
                    if Instant::now() >= deadline && !force_now {
                        self.timed_out(step, about, observed.as_ref(), &mut forced, &mut deadline)?;
                    }
                    force_now = false;
                    retry_due = false;
                    let attempt = backoff.attempt();
                    calls += 1;
                    self.emit(EventKind::StepStarted {
                        step: about.clone(),
                        attempt,
                    });
                    let remaining = deadline.saturating_duration_since(Instant::now());
                    let request = self.cluster.request(
                        step.action,
                        &step.target,
                        forced,
                        remaining.max(Duration::from_secs(1)),
                    );
                    match self.abandonable(request).await? {
                        Ok(()) => {
                            poll = POLL_START;
                            if let Some(observed) = observed {
                                self.emit(EventKind::StepWaiting {
                                    step: about.clone(),
                                    observed: observed.state,
                                });
                            }
                            // Elasticsearch answers these requests once the state is reached (or
                            // its own wait ran out): confirm at once rather than after a pause.
                            continue;
                        }
                        Err(err) if err.is_still_in_progress() => poll = POLL_START,
                        // Already where an open or start would take it (or on its way): the
                        // next observation decides.
                        Err(err) if err.is_already_opened() || err.is_already_started() => {
                            poll = POLL_START;
                        }
                        Err(err) if step.action == Action::CloseJob && err.needs_force_close() => {
                            if self.settings.force == ForcePolicy::Never {
                                let error = match step_error(&err) {
                                    StepError::Elasticsearch(answer) => {
                                        StepError::ForceNotAllowed(answer)
                                    }
                                    other => other,
                                };
                                return Err(error.into());
                            }
                            if forced {
                                return Err(step_error(&err).into());
                            }
                            forced = true;
                            self.escalated(about, Escalation::FailedJob);
                            continue;
                        }
                        Err(err) => {
                            self.failed_attempt(about, backoff, &err).await?;
                            retry_due = true;
                            continue;
                        }
                    }
                }
                Progress::Moving | Progress::Settling | Progress::Away => {
                    if Instant::now() >= deadline {
                        self.timed_out(step, about, observed.as_ref(), &mut forced, &mut deadline)?;
                        // Escalated: the next round makes the forced request.
                        force_now = true;
                        continue;
                    }
                }
            }
            self.wait(poll).await?;
            poll = (poll.mul_f32(1.5)).min(POLL_MAX);
        }
    }

    fn escalated(&self, about: &StepRef, escalation: Escalation) {
        self.emit(EventKind::StepEscalated {
            step: about.clone(),
            escalation,
        });
    }

    /// The step's deadline passed while the resource was not there yet: escalate to force when
    /// allowed (a forced request is a new one: not after an interrupt), otherwise fail with what
    /// stats say.
    fn timed_out(
        &self,
        step: &StepView,
        about: &StepRef,
        observed: Option<&Observation>,
        forced: &mut bool,
        deadline: &mut Instant,
    ) -> Result<(), Halt> {
        let Some(observed) = observed else {
            return Err(StepError::Gone.into());
        };
        let forceable = matches!(step.action, Action::StopDatafeed | Action::CloseJob);
        if forceable && !*forced && self.settings.force == ForcePolicy::AfterTimeout {
            if self.interrupts.is_stopping() {
                return Err(Halt::Interrupted);
            }
            *forced = true;
            *deadline = Instant::now() + self.step_timeout();
            self.escalated(
                about,
                Escalation::AfterTimeout {
                    state: observed.state,
                    timeout: self.step_timeout(),
                },
            );
            return Ok(());
        }
        Err(StepError::StepTimeout {
            timeout: self.step_timeout(),
            observed: observed.clone(),
        }
        .into())
    }

    /// Reports a failed attempt; backs off and returns `Ok` when another attempt follows.
    /// After the first interrupt none does: the step ends interrupted.
    async fn failed_attempt(
        &self,
        about: &StepRef,
        backoff: &mut Backoff,
        err: &es::Error,
    ) -> Result<(), Halt> {
        let error = step_error(err);
        if err.is_overloaded() {
            // Overload is the scheduler's to answer (it sends less); not the step's failure.
            backoff.forgive();
        }
        let next = if err.is_retryable() {
            backoff.next_delay(err.retry_after())
        } else {
            None
        };
        let stopping = self.interrupts.is_stopping();
        self.emit(EventKind::StepAttemptFailed {
            step: about.clone(),
            attempt: backoff.made(),
            error: error.clone(),
            retry_in: next.filter(|_| !stopping),
        });
        match next {
            // After an interrupt the back-off ends at once, and the step with it.
            Some(delay) => self.back_off(delay).await,
            None => Err(Halt::Failed(error)),
        }
    }

    /// The wait between attempts: an interrupt ends it, and the step with it.
    async fn back_off(&self, delay: Duration) -> Result<(), Halt> {
        tokio::select! {
            biased;
            () = self.interrupts.abandoning() => Err(Halt::Abandoned),
            () = self.interrupts.stopping() => Err(Halt::Interrupted),
            () = tokio::time::sleep(delay) => Ok(()),
        }
    }

    /// The pause between two looks at a transition under way: only abandoning ends it, since a
    /// step in flight finishes after the first interrupt.
    async fn wait(&self, pause: Duration) -> Result<(), Halt> {
        self.abandonable(tokio::time::sleep(pause)).await
    }

    /// `work`, unless the run abandons it first.
    async fn abandonable<T>(&self, work: impl Future<Output = T>) -> Result<T, Halt> {
        tokio::select! {
            biased;
            () = self.interrupts.abandoning() => Err(Halt::Abandoned),
            done = work => Ok(done),
        }
    }
}

/// What Elasticsearch answered.
fn answer(status: u16, body: &es::EsErrorBody) -> EsAnswer {
    EsAnswer {
        status,
        error_type: body.error_type.clone(),
        reason: body.reason.clone(),
        caused_by: body.caused_by.clone(),
    }
}

/// The facts of a failed request.
pub(crate) fn step_error(err: &es::Error) -> StepError {
    match err {
        es::Error::Api { status, body, .. } => StepError::Elasticsearch(answer(*status, body)),
        es::Error::Unreachable { .. } | es::Error::Transport { .. } => StepError::Connection {
            reason: err.to_string(),
        },
        es::Error::Timeout { endpoint, after } => StepError::NoAnswer {
            endpoint: (*endpoint).to_owned(),
            after: *after,
        },
        es::Error::InvalidUrl { .. }
        | es::Error::CaCert { .. }
        | es::Error::NotElasticsearch { .. }
        | es::Error::Decode { .. } => StepError::Client {
            reason: err.to_string(),
        },
    }
}
