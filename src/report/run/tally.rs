//! `RunTally`: the run as the reporters see it, rebuilt from events alone (which steps are in
//! flight and since when, how each ended, why). Counts and the steps in flight are kept as the
//! events come, so that the live display redraws in constant time whatever the size of the run
//! (recounting every step on every event made a run quadratic).
//!
//! Owns that bookkeeping. Must never read a clock or do I/O, and never word anything: it keeps
//! the events' facts for the summary to word.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::exec::{
    CancelReason, Escalation, Event, EventKind, RunStats, SkipReason, StepError, StepNo, StepRef,
    Success,
};

/// Where a step is, as far as the events have told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum StepState {
    NotStarted,
    /// Between its first `StepStarted` and its end; `since` is the run's elapsed time then.
    Running {
        since: Duration,
    },
    Succeeded(Success),
    Failed(StepError),
    /// Stopped between attempts by the first interrupt.
    Interrupted,
    /// Given up in flight by the second interrupt.
    Abandoned,
    Skipped(SkipReason),
}

#[derive(Debug, Clone)]
pub(super) struct StepRecord {
    pub(super) state: StepState,
    pub(super) attempts: u32,
    pub(super) duration: Option<Duration>,
    /// The step and its escalation to `force=true`, if it escalated.
    pub(super) escalation: Option<(StepRef, Escalation)>,
    /// The datafeed its request waits for (`StepHeld`), until it is made.
    pub(super) waiting_for: Option<String>,
}

impl StepRecord {
    fn new() -> StepRecord {
        StepRecord {
            state: StepState::NotStarted,
            attempts: 0,
            duration: None,
            escalation: None,
            waiting_for: None,
        }
    }
}

/// Counts by state, including the steps not yet ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Counts {
    pub(super) stats: RunStats,
    pub(super) running: usize,
    pub(super) not_started: usize,
}

impl Counts {
    pub(super) fn done(&self) -> usize {
        self.stats.changed
            + self.stats.already_in_state
            + self.stats.failed
            + self.stats.skipped
            + self.stats.interrupted
    }
}

#[derive(Debug, Clone)]
pub(super) struct RunTally {
    steps: Vec<StepRecord>,
    counts: Counts,
    /// The steps in flight, by when they started.
    running: BTreeSet<(Duration, StepNo)>,
    cancelled: Option<CancelReason>,
    finished: Option<(RunStats, Duration)>,
    /// Targets verified and not, once the verification of the recovery finished.
    verification: Option<(usize, usize)>,
    last_elapsed: Duration,
    /// The run's id and journal, from `RunStarted`.
    run: Option<(String, Option<String>)>,
}

impl RunTally {
    pub(super) fn new(steps: usize) -> RunTally {
        RunTally {
            steps: vec![StepRecord::new(); steps],
            counts: Counts {
                not_started: steps,
                ..Counts::default()
            },
            running: BTreeSet::new(),
            cancelled: None,
            finished: None,
            verification: None,
            last_elapsed: Duration::ZERO,
            run: None,
        }
    }

    fn grow(&mut self, steps: usize) {
        if self.steps.len() < steps {
            self.counts.not_started += steps - self.steps.len();
            self.steps.resize(steps, StepRecord::new());
        }
    }

    fn step_mut(&mut self, step: StepNo) -> &mut StepRecord {
        let index = step.saturating_sub(1);
        self.grow(index + 1);
        &mut self.steps[index]
    }

    /// Moves a step to `state`, keeping the counts and the steps in flight.
    fn set_state(&mut self, step: StepNo, state: StepState) {
        let old = std::mem::replace(&mut self.step_mut(step).state, state.clone());
        if let StepState::Running { since } = old {
            self.running.remove(&(since, step));
        }
        if let StepState::Running { since } = state {
            self.running.insert((since, step));
        }
        *self.count_of(&old) -= 1;
        *self.count_of(&state) += 1;
    }

    fn count_of(&mut self, state: &StepState) -> &mut usize {
        let counts = &mut self.counts;
        match state {
            StepState::NotStarted => &mut counts.not_started,
            StepState::Running { .. } => &mut counts.running,
            StepState::Succeeded(Success::Changed) => &mut counts.stats.changed,
            StepState::Succeeded(Success::AlreadyInState) => &mut counts.stats.already_in_state,
            StepState::Failed(_) => &mut counts.stats.failed,
            StepState::Interrupted | StepState::Abandoned => &mut counts.stats.interrupted,
            StepState::Skipped(_) => &mut counts.stats.skipped,
        }
    }

    pub(super) fn record(&mut self, event: &Event) {
        self.last_elapsed = self.last_elapsed.max(event.elapsed);
        match &event.kind {
            EventKind::RunStarted {
                steps,
                run_id,
                journal,
                ..
            } => {
                self.run = Some((run_id.clone(), journal.clone()));
                self.grow(*steps);
            }
            EventKind::StepHeld { step, held } => {
                self.step_mut(step.no).waiting_for = Some(held.datafeed.clone());
                if self.step_mut(step.no).state == StepState::NotStarted {
                    self.set_state(
                        step.no,
                        StepState::Running {
                            since: event.elapsed,
                        },
                    );
                }
            }
            EventKind::StepStarted { step, attempt } => {
                let record = self.step_mut(step.no);
                record.waiting_for = None;
                record.attempts = record.attempts.max(*attempt);
                if record.state == StepState::NotStarted {
                    self.set_state(
                        step.no,
                        StepState::Running {
                            since: event.elapsed,
                        },
                    );
                }
            }
            EventKind::StepWaiting { .. }
            | EventKind::StepAttemptFailed { .. }
            | EventKind::StepReadFailed { .. } => {}
            EventKind::StepEscalated { step, escalation } => {
                self.step_mut(step.no).escalation = Some((step.clone(), escalation.clone()));
            }
            EventKind::StepSucceeded {
                step,
                outcome,
                attempts,
                duration,
            } => {
                self.set_state(step.no, StepState::Succeeded(*outcome));
                let record = self.step_mut(step.no);
                record.attempts = *attempts;
                record.duration = Some(*duration);
            }
            EventKind::StepFailed {
                step,
                error,
                attempts,
                duration,
            } => {
                self.set_state(step.no, StepState::Failed(error.clone()));
                let record = self.step_mut(step.no);
                record.attempts = *attempts;
                record.duration = Some(*duration);
            }
            EventKind::StepInterrupted {
                step,
                attempts,
                duration,
            } => {
                self.set_state(step.no, StepState::Interrupted);
                let record = self.step_mut(step.no);
                record.attempts = *attempts;
                record.duration = Some(*duration);
            }
            EventKind::StepAbandoned {
                step,
                attempts,
                duration,
            } => {
                self.set_state(step.no, StepState::Abandoned);
                let record = self.step_mut(step.no);
                record.attempts = *attempts;
                record.duration = Some(*duration);
            }
            EventKind::StepSkipped { step, reason } => {
                self.set_state(step.no, StepState::Skipped(*reason));
            }
            EventKind::RunCancelling { reason } => {
                // A second signal (abandon) outranks the first reason; keep the strongest.
                if self.cancelled != Some(CancelReason::Abandoned) {
                    self.cancelled = Some(*reason);
                }
            }
            EventKind::RunFinished { stats, duration } => {
                self.finished = Some((*stats, *duration));
            }
            EventKind::VerifyFinished {
                verified,
                unverified,
                ..
            } => self.verification = Some((*verified, *unverified)),
            EventKind::VerifyStarted { .. }
            | EventKind::TargetVerified { .. }
            | EventKind::TargetUnverified { .. } => {}
        }
    }

    pub(super) fn total(&self) -> usize {
        self.steps.len()
    }

    pub(super) fn counts(&self) -> Counts {
        self.counts
    }

    /// Steps in flight, longest-running first, with the elapsed run time at which each began.
    pub(super) fn in_flight(&self) -> impl Iterator<Item = (StepNo, Duration)> + '_ {
        self.running.iter().map(|&(since, step)| (step, since))
    }

    /// The datafeed step `no`'s request waits for, if it waits.
    pub(super) fn waiting_for(&self, no: StepNo) -> Option<&str> {
        self.steps
            .get(no.checked_sub(1)?)
            .and_then(|record| record.waiting_for.as_deref())
    }

    /// Every step with its record, in step order.
    pub(super) fn steps(&self) -> impl Iterator<Item = (StepNo, &StepRecord)> {
        self.steps
            .iter()
            .enumerate()
            .map(|(index, record)| (index + 1, record))
    }

    /// The run's id and where its journal is, once `RunStarted` arrived.
    pub(super) fn run(&self) -> Option<(&str, Option<&str>)> {
        self.run
            .as_ref()
            .map(|(id, journal)| (id.as_str(), journal.as_deref()))
    }

    pub(super) fn cancelled(&self) -> Option<CancelReason> {
        self.cancelled
    }

    /// The executor's own counts and the run's duration, once `RunFinished` arrived.
    pub(super) fn finished(&self) -> Option<(RunStats, Duration)> {
        self.finished
    }

    /// Targets verified and not verified, when the recovery was verified.
    pub(super) fn verification(&self) -> Option<(usize, usize)> {
        self.verification
    }

    /// The run's duration: as `RunFinished` says, else the last elapsed time seen.
    pub(super) fn duration(&self) -> Duration {
        self.finished.map_or(self.last_elapsed, |(_, d)| d)
    }
}
