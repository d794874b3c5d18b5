//! Running one step: observe, request, confirm through stats, retry what is worth retrying,
//! escalate to force when the settings allow it, and stop as the [`Interrupts`] say.
//!
//! A step fails only when its target did not reach its state: a request that failed for the
//! last time is followed by one more look, and a target found there is a success. Requests
//! (attempts) and reads of the state each have a budget of `retry.attempts`: a read that fails
//! uses no attempt. Nothing outlives the step's deadline: every request carries the time left,
//! and no request, read or pause is waited for past it; only one last look at the state, of at
//! most [`LAST_LOOK`], follows it.
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
use crate::model::{EsVersion, ForcePolicy};
use crate::plan::{Action, Force, SettingsView, StepView};

use super::cluster::Cluster;
use super::event::{
    CatchingUp, EsAnswer, Escalation, EventKind, Observation, StepError, StepRef, Success,
    TargetState,
};
use super::interrupt::Interrupts;
use super::retry::Backoff;

/// What a worker tells the scheduler while it runs.
pub(crate) type Emit = mpsc::UnboundedSender<EventKind>;

/// How a step ended, with the requests it made.
#[derive(Debug)]
pub(crate) struct StepResult {
    pub step: StepRef,
    pub end: End,
    /// Requests made (attempts), the first included; reads of the state are not attempts.
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
    /// A close of a job that is `failed`: only a forced close moves it, at once.
    NeedsForce,
    /// Cannot get there.
    Blocked(StepError),
}

/// Where `observed` stands for `action`. A snapshot step's target is reached when its
/// snapshot opens on `target_version` (an upgrade) or is gone (a deletion); the refresh steps
/// open and close like any other.
fn progress(
    action: Action,
    observed: Option<&Observation>,
    target_version: Option<EsVersion>,
) -> Progress {
    use TargetState as S;
    // A forced close persists no snapshot: a refresh that would need one cannot do its job.
    if action == Action::RefreshCloseJob
        && let Some(observation) = observed.filter(|o| o.state == S::Failed)
    {
        return Progress::Blocked(StepError::JobFailed {
            observed: observation.clone(),
        });
    }
    let action = action.job_transition().unwrap_or(action);
    match (action, observed) {
        (Action::DeleteSnapshot, None) => return Progress::Reached,
        (Action::DeleteSnapshot, Some(_)) => return Progress::Away,
        (Action::UpgradeSnapshot, Some(observation)) => {
            let opens = target_version
                .zip(
                    observation
                        .min_version
                        .as_deref()
                        .and_then(|text| EsVersion::parse(text).ok()),
                )
                .is_some_and(|(target, version)| target.opens_snapshot(version));
            return if opens {
                Progress::Reached
            } else {
                Progress::Away
            };
        }
        _ => {}
    }
    let Some(observation) = observed else {
        return Progress::Blocked(StepError::Gone);
    };
    match (action, observation.state) {
        (Action::StopDatafeed, S::Stopped)
        | (Action::StartDatafeed, S::Started)
        | (Action::CloseJob, S::Closed)
        | (Action::OpenJob, S::Opened)
        | (Action::EnableUpgradeMode, S::Enabled)
        | (Action::DisableUpgradeMode, S::Disabled)
        | (Action::ScheduleMaintenance, S::Scheduled)
        | (Action::RemoveMaintenance, S::Unscheduled) => Progress::Reached,
        (Action::StopDatafeed, S::Stopping)
        | (Action::StartDatafeed, S::Starting)
        | (Action::CloseJob, S::Closing)
        | (Action::OpenJob, S::Opening) => Progress::Moving,
        (Action::StartDatafeed, S::Stopping) | (Action::OpenJob, S::Closing) => Progress::Settling,
        (Action::CloseJob, S::Failed) => Progress::NeedsForce,
        (Action::OpenJob, S::Failed) => Progress::Blocked(StepError::JobFailed {
            observed: observation.clone(),
        }),
        _ => Progress::Away,
    }
}

const POLL_START: Duration = Duration::from_millis(50);
const POLL_MAX: Duration = Duration::from_secs(2);
/// The longest a step waits, past its deadline, for one last look at its target's state: so
/// that a failure says what stats show then, and a target that got there is not reported failed.
const LAST_LOOK: Duration = Duration::from_secs(5);

/// A step's schedule and what it has learnt so far; [`Worker::drive`] moves it along.
struct Course {
    /// Requests (attempts): each is a change asked of the cluster.
    requests: Backoff,
    /// Reads of the target's state that failed in a row; reset by every read that answers.
    reads: Backoff,
    deadline: Instant,
    /// Requests go out with `force=true`.
    forced: bool,
    /// A forced request was accepted.
    forced_accepted: bool,
    /// Set by an escalation: the next round makes the forced request whatever the state.
    force_now: bool,
    /// Set when a request failed and its back-off has passed: request again as soon as the
    /// resource is still away, rather than waiting as for a transition already under way.
    retry_due: bool,
    /// No request may follow (the attempts are used up, or the cluster refused for good):
    /// why. The step still ends as the state says: reached is a success.
    no_more: Option<StepError>,
    poll: Duration,
    /// What stats showed last.
    seen: Option<Observation>,
    /// What held the request back at the last look ([`Cluster::held_back`]); `None` once
    /// nothing does.
    held: Option<CatchingUp>,
}

impl Course {
    /// The success of a step whose target is there: changed when it made a request.
    fn success(&self) -> Success {
        if self.requests.made() == 0 {
            Success::AlreadyInState
        } else {
            Success::Changed
        }
    }
}

impl<C: Cluster> Worker<C> {
    pub(crate) async fn run(self, step: StepView) -> StepResult {
        let started = Instant::now();
        let schedule = |salt: u64| {
            Backoff::new(
                u32::try_from(self.settings.retry_attempts).unwrap_or(u32::MAX),
                Duration::from_millis(self.settings.initial_backoff_ms),
                Duration::from_millis(self.settings.max_backoff_ms),
                self.seed ^ (step.id as u64 ^ salt).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            )
        };
        let mut course = Course {
            requests: schedule(0),
            reads: schedule(0x5EAD),
            deadline: started + self.step_timeout(),
            forced: false,
            forced_accepted: false,
            force_now: false,
            retry_due: false,
            no_more: None,
            poll: POLL_START,
            seen: None,
            held: None,
        };
        let about = StepRef::from(&step);
        let end = match self.drive(&step, &about, &mut course).await {
            Ok(success) => End::Succeeded(success),
            Err(Halt::Failed(error)) => End::Failed(error),
            Err(Halt::Interrupted) => End::Interrupted,
            Err(Halt::Abandoned) => End::Abandoned,
        };
        StepResult {
            step: about,
            end,
            attempts: course.requests.made(),
            duration: started.elapsed(),
        }
    }

    fn emit(&self, kind: EventKind) {
        // The scheduler outlives its workers; a closed channel only means it stopped listening.
        let _ = self.emit.send(kind);
    }

    /// The version the plan's snapshot gate prepares for.
    fn target_version(&self) -> Option<EsVersion> {
        self.settings.upgrade.map(|upgrade| upgrade.target_version)
    }

    fn step_timeout(&self) -> Duration {
        Duration::from_millis(self.settings.step_timeout_ms)
    }

    async fn drive(
        &self,
        step: &StepView,
        about: &StepRef,
        course: &mut Course,
    ) -> Result<Success, Halt> {
        if step.force == Force::RequiredAllowed {
            course.forced = true;
            self.escalated(about, Escalation::FailedJob);
        }
        loop {
            // Look at the target, within the step's deadline.
            let read = self
                .abandonable(tokio::time::timeout_at(
                    course.deadline,
                    self.cluster.observe(step.action, &step.target),
                ))
                .await?;
            let observed = match read {
                Ok(Ok(observed)) => {
                    course.reads.reset();
                    course.seen.clone_from(&observed);
                    observed
                }
                Ok(Err(err)) => {
                    self.failed_read(about, course, &err).await?;
                    continue;
                }
                // The deadline passed while stats were being read.
                Err(_) => {
                    if let Some(success) = self.timed_out(step, about, course, false).await? {
                        return Ok(success);
                    }
                    continue;
                }
            };
            let progress = progress(step.action, observed.as_ref(), self.target_version());
            let now = Instant::now();
            let request_now = match &progress {
                Progress::Reached => return Ok(course.success()),
                Progress::Blocked(error) => return Err(error.clone().into()),
                // A failed job: force it at once when allowed; otherwise the request gets
                // Elasticsearch's refusal, which says so.
                Progress::NeedsForce => !course.forced_accepted,
                Progress::Away => {
                    course.force_now
                        || course.requests.made() == 0
                        || course.retry_due
                        || course.poll >= POLL_MAX
                        || now >= course.deadline
                }
                Progress::Moving => course.force_now,
                Progress::Settling => false,
            };
            if request_now && progress == Progress::Away && self.held(step, about, course).await? {
                continue;
            }
            if matches!(progress, Progress::Away | Progress::NeedsForce)
                && let Some(error) = course.no_more.take()
            {
                // Still not there, and no request may follow: that is the step's failure.
                return Err(error.into());
            }
            if request_now {
                // First request, a forced one after an escalation, or the resource went back (a
                // close that was lost): request (again). Never after an interrupt.
                if self.interrupts.is_stopping() {
                    return Err(Halt::Interrupted);
                }
                if progress == Progress::NeedsForce
                    && !course.forced
                    && self.settings.force == ForcePolicy::AfterTimeout
                {
                    course.forced = true;
                    self.escalated(about, Escalation::FailedJob);
                }
                if now >= course.deadline
                    && !course.force_now
                    && let Some(success) = self.timed_out(step, about, course, true).await?
                {
                    return Ok(success);
                }
                course.force_now = false;
                course.retry_due = false;
                self.request(step, about, course, observed.as_ref()).await?;
                continue;
            }
            if now >= course.deadline {
                if let Some(success) = self.timed_out(step, about, course, true).await? {
                    return Ok(success);
                }
                continue;
            }
            self.wait(course.poll, course.deadline).await?;
            course.poll = (course.poll.mul_f32(1.5)).min(POLL_MAX);
        }
    }

    /// Whether a precondition of the request holds it back ([`Cluster::held_back`]): then,
    /// having said so (once per datafeed and kind of lag), waits with the step's growing
    /// pause and returns `true` for another round; never past the deadline, where the step
    /// fails with what held it back (and nothing was requested). A read that fails is a read
    /// of the state like any other. The first interrupt ends the wait: nothing was asked yet.
    async fn held(
        &self,
        step: &StepView,
        about: &StepRef,
        course: &mut Course,
    ) -> Result<bool, Halt> {
        let look = self
            .abandonable(tokio::time::timeout_at(
                course.deadline,
                self.cluster.held_back(step.action, &step.target),
            ))
            .await?;
        let held = match look {
            Ok(Ok(None)) => {
                course.held = None;
                return Ok(false);
            }
            Ok(Ok(Some(held))) => held,
            Ok(Err(err)) => {
                self.failed_read(about, course, &err).await?;
                return Ok(true);
            }
            Err(_) => return Err(self.timeout_error(course).into()),
        };
        course.reads.reset();
        let news = course.held.as_ref().is_none_or(|before| {
            before.datafeed != held.datafeed
                || std::mem::discriminant(&before.behind) != std::mem::discriminant(&held.behind)
        });
        if news {
            self.emit(EventKind::StepHeld {
                step: about.clone(),
                held: held.clone(),
            });
        }
        course.held = Some(held);
        if Instant::now() >= course.deadline {
            return Err(self.timeout_error(course).into());
        }
        self.back_off(course.poll, course.deadline).await?;
        course.poll = (course.poll.mul_f32(1.5)).min(POLL_MAX);
        Ok(true)
    }

    /// Makes the step's request, carrying the time left before the deadline; the step does not
    /// wait for an answer past it.
    async fn request(
        &self,
        step: &StepView,
        about: &StepRef,
        course: &mut Course,
        observed: Option<&Observation>,
    ) -> Result<(), Halt> {
        let left = course.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            // No time left to ask anything: the next round escalates or fails.
            return Ok(());
        }
        let attempt = course.requests.attempt();
        self.emit(EventKind::StepStarted {
            step: about.clone(),
            attempt,
        });
        let request = self
            .cluster
            .request(step.action, &step.target, course.forced, left);
        // The deadline passed with the request in flight: the next round escalates or fails
        // with what stats say.
        let Ok(answer) = self
            .abandonable(tokio::time::timeout_at(course.deadline, request))
            .await?
        else {
            return Ok(());
        };
        course.poll = POLL_START;
        match answer {
            Ok(()) => {
                if course.forced {
                    course.forced_accepted = true;
                }
                if let Some(observed) = observed {
                    self.emit(EventKind::StepWaiting {
                        step: about.clone(),
                        observed: observed.state,
                    });
                }
                // Elasticsearch answers these requests once the state is reached (or its own
                // wait ran out): confirm at once rather than after a pause.
            }
            Err(err) if err.is_still_in_progress() => {}
            // Already where an open or start would take it (or on its way): the next
            // observation decides.
            Err(err) if err.is_already_opened() || err.is_already_started() => {}
            Err(err) if step.action == Action::CloseJob && err.needs_force_close() => {
                if self.settings.force == ForcePolicy::Never {
                    course.no_more = Some(match step_error(&err) {
                        StepError::Elasticsearch(answer) => StepError::ForceNotAllowed(answer),
                        other => other,
                    });
                } else if course.forced {
                    course.no_more = Some(step_error(&err));
                } else {
                    course.forced = true;
                    course.force_now = true;
                    self.escalated(about, Escalation::FailedJob);
                }
            }
            Err(err) => {
                self.failed_attempt(about, course, &err).await?;
            }
        }
        Ok(())
    }

    fn escalated(&self, about: &StepRef, escalation: Escalation) {
        self.emit(EventKind::StepEscalated {
            step: about.clone(),
            escalation,
        });
    }

    /// The step's deadline passed while the resource was not there yet. Unless the caller has
    /// just looked (`fresh`), one last look at the state (of at most [`LAST_LOOK`]): a target
    /// that got there is a success. Otherwise escalate to force when allowed (a forced request
    /// is a new one: not after an interrupt), and return `None` to go on; or fail with what
    /// stats said last.
    async fn timed_out(
        &self,
        step: &StepView,
        about: &StepRef,
        course: &mut Course,
        fresh: bool,
    ) -> Result<Option<Success>, Halt> {
        if !fresh {
            let look = self
                .abandonable(tokio::time::timeout(
                    LAST_LOOK,
                    self.cluster.observe(step.action, &step.target),
                ))
                .await?;
            if let Ok(Ok(observed)) = look {
                if progress(step.action, observed.as_ref(), self.target_version())
                    == Progress::Reached
                {
                    return Ok(Some(course.success()));
                }
                if observed.is_some() {
                    course.seen = observed;
                }
            }
        }
        // Not a refresh close: forced, it would persist no snapshot.
        let forceable = matches!(step.action, Action::StopDatafeed | Action::CloseJob);
        if forceable && !course.forced && self.settings.force == ForcePolicy::AfterTimeout {
            if self.interrupts.is_stopping() {
                return Err(Halt::Interrupted);
            }
            let Some(observed) = &course.seen else {
                return Err(self.timeout_error(course).into());
            };
            let state = observed.state;
            course.forced = true;
            course.force_now = true;
            course.no_more = None;
            course.deadline = Instant::now() + self.step_timeout();
            self.escalated(
                about,
                Escalation::AfterTimeout {
                    state,
                    timeout: self.step_timeout(),
                },
            );
            return Ok(None);
        }
        Err(self.timeout_error(course).into())
    }

    /// The failure at the deadline: what held the request back, when something did (the
    /// request was never made), else what stats showed last.
    fn timeout_error(&self, course: &Course) -> StepError {
        if let Some(held) = &course.held {
            return StepError::StillCatchingUp {
                timeout: self.step_timeout(),
                held: held.clone(),
            };
        }
        StepError::StepTimeout {
            timeout: self.step_timeout(),
            observed: course.seen.clone(),
        }
    }

    /// Reports a failed request; backs off when another attempt follows. Otherwise no request
    /// may follow, and the next look at the state decides. After the first interrupt none
    /// does: the step ends interrupted.
    async fn failed_attempt(
        &self,
        about: &StepRef,
        course: &mut Course,
        err: &es::Error,
    ) -> Result<(), Halt> {
        let error = step_error(err);
        if err.is_overloaded() {
            // Overload is the scheduler's to answer (it sends less); not the step's failure.
            course.requests.forgive();
        }
        let next = if err.is_retryable() {
            course.requests.next_delay(err.retry_after())
        } else {
            None
        };
        let stopping = self.interrupts.is_stopping();
        self.emit(EventKind::StepAttemptFailed {
            step: about.clone(),
            attempt: course.requests.made(),
            error: error.clone(),
            retry_in: next.filter(|_| !stopping),
        });
        match next {
            // After an interrupt the back-off ends at once, and the step with it.
            Some(delay) => {
                self.back_off(delay, course.deadline).await?;
                course.retry_due = true;
            }
            None => course.no_more = Some(error),
        }
        Ok(())
    }

    /// Reports a failed read of the target's state; backs off and returns `Ok` when another
    /// read follows (reads have a budget of their own: a read that fails uses no attempt).
    /// Reading changes nothing, so a step in flight goes on reading after the first interrupt.
    async fn failed_read(
        &self,
        about: &StepRef,
        course: &mut Course,
        err: &es::Error,
    ) -> Result<(), Halt> {
        let error = step_error(err);
        course.reads.attempt();
        let next = if err.is_retryable() {
            course.reads.next_delay(err.retry_after())
        } else {
            None
        };
        self.emit(EventKind::StepReadFailed {
            step: about.clone(),
            error: error.clone(),
            retry_in: next,
        });
        match next {
            Some(delay) => self.wait(delay, course.deadline).await,
            None => Err(StepError::Unconfirmed {
                reads: course.reads.made(),
                cause: Box::new(error),
            }
            .into()),
        }
    }

    /// The wait between attempts, cut short at the deadline: an interrupt ends it, and the step
    /// with it.
    async fn back_off(&self, delay: Duration, deadline: Instant) -> Result<(), Halt> {
        let until = (Instant::now() + delay).min(deadline);
        tokio::select! {
            biased;
            () = self.interrupts.abandoning() => Err(Halt::Abandoned),
            () = self.interrupts.stopping() => Err(Halt::Interrupted),
            () = tokio::time::sleep_until(until) => Ok(()),
        }
    }

    /// The pause between two looks at a transition under way, cut short at the deadline: only
    /// abandoning ends it, since a step in flight finishes after the first interrupt.
    async fn wait(&self, pause: Duration, deadline: Instant) -> Result<(), Halt> {
        let until = (Instant::now() + pause).min(deadline);
        self.abandonable(tokio::time::sleep_until(until)).await
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
        | es::Error::InvalidTarget { .. }
        | es::Error::CaCert { .. }
        | es::Error::Tls { .. }
        | es::Error::TooLarge { .. }
        | es::Error::NotElasticsearch { .. }
        | es::Error::Decode { .. } => StepError::Client {
            reason: err.to_string(),
        },
    }
}
