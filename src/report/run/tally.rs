//! `RunTally`: the run as the reporters see it, rebuilt from events alone (which steps are in
//! flight and since when, how each ended, why).
//!
//! Owns that bookkeeping. Must never read a clock or do I/O, and never word anything: it keeps
//! the events' facts for the summary to word.

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
}

impl StepRecord {
    fn new() -> StepRecord {
        StepRecord {
            state: StepState::NotStarted,
            attempts: 0,
            duration: None,
            escalation: None,
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
    cancelled: Option<CancelReason>,
    finished: Option<(RunStats, Duration)>,
    last_elapsed: Duration,
    /// The run's id and journal, from `RunStarted`.
    run: Option<(String, Option<String>)>,
}

impl RunTally {
    pub(super) fn new(steps: usize) -> RunTally {
        RunTally {
            steps: vec![StepRecord::new(); steps],
            cancelled: None,
            finished: None,
            last_elapsed: Duration::ZERO,
            run: None,
        }
    }

    fn step_mut(&mut self, step: StepNo) -> &mut StepRecord {
        let index = step.saturating_sub(1);
        if self.steps.len() <= index {
            self.steps.resize(index + 1, StepRecord::new());
        }
        &mut self.steps[index]
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
                if self.steps.len() < *steps {
                    self.steps.resize(*steps, StepRecord::new());
                }
            }
            EventKind::StepStarted { step, attempt } => {
                let record = self.step_mut(step.no);
                record.attempts = record.attempts.max(*attempt);
                if record.state == StepState::NotStarted {
                    record.state = StepState::Running {
                        since: event.elapsed,
                    };
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
                let record = self.step_mut(step.no);
                record.state = StepState::Succeeded(*outcome);
                record.attempts = *attempts;
                record.duration = Some(*duration);
            }
            EventKind::StepFailed {
                step,
                error,
                attempts,
                duration,
            } => {
                let record = self.step_mut(step.no);
                record.state = StepState::Failed(error.clone());
                record.attempts = *attempts;
                record.duration = Some(*duration);
            }
            EventKind::StepInterrupted {
                step,
                attempts,
                duration,
            } => {
                let record = self.step_mut(step.no);
                record.state = StepState::Interrupted;
                record.attempts = *attempts;
                record.duration = Some(*duration);
            }
            EventKind::StepAbandoned {
                step,
                attempts,
                duration,
            } => {
                let record = self.step_mut(step.no);
                record.state = StepState::Abandoned;
                record.attempts = *attempts;
                record.duration = Some(*duration);
            }
            EventKind::StepSkipped { step, reason } => {
                self.step_mut(step.no).state = StepState::Skipped(*reason);
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
        }
    }

    pub(super) fn total(&self) -> usize {
        self.steps.len()
    }

    pub(super) fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for record in &self.steps {
            match &record.state {
                StepState::NotStarted => counts.not_started += 1,
                StepState::Running { .. } => counts.running += 1,
                StepState::Succeeded(Success::Changed) => counts.stats.changed += 1,
                StepState::Succeeded(Success::AlreadyInState) => {
                    counts.stats.already_in_state += 1;
                }
                StepState::Failed(_) => counts.stats.failed += 1,
                StepState::Interrupted | StepState::Abandoned => counts.stats.interrupted += 1,
                StepState::Skipped(_) => counts.stats.skipped += 1,
            }
        }
        counts
    }

    /// Steps in flight, longest-running first, with the elapsed run time at which each began.
    pub(super) fn in_flight(&self) -> Vec<(StepNo, Duration)> {
        let mut running: Vec<(StepNo, Duration)> = self
            .steps
            .iter()
            .enumerate()
            .filter_map(|(index, record)| match record.state {
                StepState::Running { since } => Some((index + 1, since)),
                _ => None,
            })
            .collect();
        running.sort_by_key(|&(step, since)| (since, step));
        running
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

    /// The run's duration: as `RunFinished` says, else the last elapsed time seen.
    pub(super) fn duration(&self) -> Duration {
        self.finished.map_or(self.last_elapsed, |(_, d)| d)
    }
}
