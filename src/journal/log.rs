//! [`RunLog`]: a run as its journal tells it, and the questions `runs`, `resume` and `revert`
//! ask of it: where each step got to, how the run ended, what it left upgrade mode in, which
//! cluster it touched. Each event is turned into the [`Fact`] the readers need by an
//! exhaustive match, whatever the format that recorded it.
//!
//! Owns those answers. Must never read a file (`read` does) and never match event names as
//! text.

use std::path::PathBuf;
use std::time::Duration;

use crate::exec::{
    CancelReason, Escalation, Event, EventKind, RunStats, SkipReason, StepError, StepNo, Success,
};
use crate::plan::{Action, PlanView};

use super::v1;
use super::write::Header;

/// A run as its journal tells it: the header, then one segment per plan executed (the original
/// and one per `resume`), each with its events.
#[derive(Debug)]
pub(crate) struct RunLog {
    pub path: PathBuf,
    pub header: Header,
    pub segments: Vec<Segment>,
    /// The last line was cut short by a crash (it is ignored).
    pub torn_tail: bool,
    /// Lines read (torn ones left out): the sequence number of the next line.
    pub(super) records: u64,
}

#[derive(Debug)]
pub(crate) struct Segment {
    pub plan: PlanView,
    /// When the segment's plan began: the run's start, or the resume's.
    pub started_at: jiff::Timestamp,
    pub events: Vec<Recorded>,
}

/// An event as its segment's format recorded it.
#[derive(Debug)]
pub(crate) enum Recorded {
    V1(v1::Event),
    /// Formats 2 and 3 (format 2 events read as format 3 ones).
    Typed(Event),
}

impl Recorded {
    fn fact(&self) -> Option<Fact> {
        match self {
            Recorded::V1(event) => event.fact(),
            Recorded::Typed(event) => fact(&event.kind),
        }
    }
}

/// Where one step of a segment got to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StepStatus {
    NotStarted,
    /// Started, with no outcome recorded (the run died meanwhile).
    InFlight,
    Changed,
    AlreadyInState,
    Failed,
    /// Stopped between attempts by an interrupt.
    Interrupted,
    /// Given up in flight by a second interrupt; the cluster may have completed it since.
    Abandoned,
    Skipped,
}

impl StepStatus {
    /// The step's target reached its state.
    pub(crate) fn succeeded(self) -> bool {
        matches!(self, StepStatus::Changed | StepStatus::AlreadyInState)
    }

    /// Its request may have been carried out without the journal saying so: it was in flight
    /// when the run died or was given up, or it was interrupted after a failed attempt (a
    /// request that timed out may still go through).
    pub(crate) fn maybe_done(self) -> bool {
        matches!(
            self,
            StepStatus::InFlight | StepStatus::Abandoned | StepStatus::Interrupted
        )
    }
}

/// What the readers need of one event, whatever the format that recorded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fact {
    Step(StepNo, StepStatus),
    /// No new step was to start; `by_signal` unless it was `on_failure: stop`.
    Cancelled {
        by_signal: bool,
    },
    Finished(RunStats),
    /// The check of the recovery after the run: how many targets it could not prove.
    Verified {
        unverified: usize,
    },
}

/// What a (format 2 or 3) event tells the readers.
fn fact(kind: &EventKind) -> Option<Fact> {
    let status = match kind {
        EventKind::RunStarted { .. }
        | EventKind::VerifyStarted { .. }
        | EventKind::TargetVerified { .. }
        | EventKind::TargetUnverified { .. } => return None,
        EventKind::VerifyFinished { unverified, .. } => {
            return Some(Fact::Verified {
                unverified: *unverified,
            });
        }
        EventKind::RunCancelling { reason } => {
            return Some(Fact::Cancelled {
                by_signal: *reason != CancelReason::StepFailed,
            });
        }
        EventKind::RunFinished { stats, .. } => return Some(Fact::Finished(*stats)),
        EventKind::StepStarted { .. }
        | EventKind::StepWaiting { .. }
        | EventKind::StepAttemptFailed { .. }
        | EventKind::StepReadFailed { .. }
        | EventKind::StepHeld { .. }
        | EventKind::StepEscalated { .. } => StepStatus::InFlight,
        EventKind::StepSucceeded {
            outcome: Success::Changed,
            ..
        } => StepStatus::Changed,
        EventKind::StepSucceeded {
            outcome: Success::AlreadyInState,
            ..
        } => StepStatus::AlreadyInState,
        EventKind::StepFailed { .. } => StepStatus::Failed,
        EventKind::StepInterrupted { .. } => StepStatus::Interrupted,
        EventKind::StepAbandoned { .. } => StepStatus::Abandoned,
        EventKind::StepSkipped { .. } => StepStatus::Skipped,
    };
    kind.step().map(|step| Fact::Step(step.no, status))
}

/// One step as the journal tells it, for `runs show`: format 1 recorded only its status.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StepRecord {
    pub status: StepStatus,
    /// Requests made.
    pub attempts: Option<u32>,
    pub duration: Option<Duration>,
    pub error: Option<StepError>,
    pub skipped: Option<SkipReason>,
    pub escalation: Option<Escalation>,
}

/// How a run ended, as its last segment says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RunOutcome {
    /// Every step of its last plan reached its state.
    Succeeded,
    /// Every step reached its state, but the check after them could not prove the recovery
    /// (exit 8): a job unassigned, a datafeed making no progress. `quiesce verify` looks again.
    Unverified,
    /// It finished, with steps failed or skipped.
    Failed,
    /// A signal stopped it; it can be resumed.
    Interrupted,
    /// It never finished: killed, or the machine stopped. It can be resumed.
    Incomplete,
}

impl RunOutcome {
    /// As `runs` shows it.
    pub(crate) fn words(self) -> &'static str {
        match self {
            RunOutcome::Succeeded => "succeeded",
            RunOutcome::Unverified => "succeeded, not verified",
            RunOutcome::Failed => "failed",
            RunOutcome::Interrupted => "interrupted (resume it)",
            RunOutcome::Incomplete => "incomplete (resume it)",
        }
    }
}

/// Upgrade mode as a run last knew it, when the run touched it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UpgradeMode {
    On,
    Off,
    /// A request to switch it may or may not have been carried out.
    Unknown,
}

impl Segment {
    fn facts(&self) -> Vec<Fact> {
        self.events.iter().filter_map(Recorded::fact).collect()
    }

    /// The last recorded status of each step, by 1-based step number.
    pub(crate) fn statuses(&self) -> Vec<StepStatus> {
        let mut status = vec![StepStatus::NotStarted; self.plan.steps.len()];
        for fact in self.facts() {
            if let Fact::Step(no, now) = fact
                && let Some(slot) = no.checked_sub(1).and_then(|i| status.get_mut(i))
            {
                *slot = now;
            }
        }
        status
    }

    /// Each step with what the journal says of it, by 1-based step number.
    pub(crate) fn records(&self) -> Vec<StepRecord> {
        let mut records: Vec<StepRecord> = self
            .statuses()
            .into_iter()
            .map(|status| StepRecord {
                status,
                attempts: None,
                duration: None,
                error: None,
                skipped: None,
                escalation: None,
            })
            .collect();
        for event in &self.events {
            let Recorded::Typed(event) = event else {
                continue;
            };
            let Some(record) = event
                .kind
                .step()
                .and_then(|step| step.no.checked_sub(1))
                .and_then(|index| records.get_mut(index))
            else {
                continue;
            };
            match &event.kind {
                EventKind::StepStarted { attempt, .. } => record.attempts = Some(*attempt),
                EventKind::StepEscalated { escalation, .. } => {
                    record.escalation = Some(escalation.clone());
                }
                EventKind::StepSucceeded {
                    attempts, duration, ..
                }
                | EventKind::StepInterrupted {
                    attempts, duration, ..
                }
                | EventKind::StepAbandoned {
                    attempts, duration, ..
                } => {
                    record.attempts = Some(*attempts);
                    record.duration = Some(*duration);
                }
                EventKind::StepFailed {
                    attempts,
                    duration,
                    error,
                    ..
                } => {
                    record.attempts = Some(*attempts);
                    record.duration = Some(*duration);
                    record.error = Some(error.clone());
                }
                EventKind::StepSkipped { reason, .. } => record.skipped = Some(*reason),
                EventKind::StepWaiting { .. }
                | EventKind::StepAttemptFailed { .. }
                | EventKind::StepReadFailed { .. }
                | EventKind::StepHeld { .. }
                | EventKind::RunStarted { .. }
                | EventKind::RunCancelling { .. }
                | EventKind::RunFinished { .. }
                | EventKind::VerifyStarted { .. }
                | EventKind::TargetVerified { .. }
                | EventKind::TargetUnverified { .. }
                | EventKind::VerifyFinished { .. } => {}
            }
        }
        records
    }

    /// The counts of `run_finished`, when the segment got that far.
    pub(crate) fn finished(&self) -> Option<RunStats> {
        self.facts().into_iter().rev().find_map(|fact| match fact {
            Fact::Finished(stats) => Some(stats),
            Fact::Step(..) | Fact::Cancelled { .. } | Fact::Verified { .. } => None,
        })
    }

    /// Whether the check of the recovery after the segment's steps left targets unproven.
    pub(crate) fn unverified(&self) -> bool {
        self.facts()
            .iter()
            .rev()
            .any(|fact| matches!(fact, Fact::Verified { unverified } if *unverified > 0))
    }

    /// Whether the segment was interrupted (a signal arrived).
    pub(crate) fn interrupted(&self) -> bool {
        self.facts()
            .iter()
            .any(|fact| matches!(fact, Fact::Cancelled { by_signal: true }))
    }

    /// Upgrade mode as this segment left it, when it touched it: what its plan found already
    /// in place (a resume that found the switch made), then what its step did.
    fn upgrade_mode(&self, known: &mut Option<UpgradeMode>) {
        for unchanged in &self.plan.unchanged {
            if unchanged.kind == "upgrade_mode" {
                *known = Some(if unchanged.state == "enabled" {
                    UpgradeMode::On
                } else {
                    UpgradeMode::Off
                });
            }
        }
        for (step, status) in self.plan.steps.iter().zip(self.statuses()) {
            let wanted = match step.action {
                Action::EnableUpgradeMode => UpgradeMode::On,
                Action::DisableUpgradeMode => UpgradeMode::Off,
                _ => continue,
            };
            if status.succeeded() {
                *known = Some(wanted);
            } else if status.maybe_done() {
                *known = Some(UpgradeMode::Unknown);
            }
        }
    }
}

impl RunLog {
    /// The sequence number the next line appended to this journal gets.
    pub(crate) fn next_seq(&self) -> u64 {
        self.records
    }

    /// How the run ended, as its last segment says.
    pub(crate) fn outcome(&self) -> RunOutcome {
        let Some(last) = self.segments.last() else {
            return RunOutcome::Incomplete;
        };
        match last.finished() {
            None => RunOutcome::Incomplete,
            Some(_) if last.interrupted() => RunOutcome::Interrupted,
            Some(stats) if stats.all_succeeded() && last.unverified() => RunOutcome::Unverified,
            Some(stats) if stats.all_succeeded() => RunOutcome::Succeeded,
            Some(_) => RunOutcome::Failed,
        }
    }

    /// When the run last did something: its last segment's start, or its last event.
    pub(crate) fn last_activity(&self) -> jiff::Timestamp {
        let mut last = self.header.started_at;
        for segment in &self.segments {
            last = last.max(segment.started_at);
            if let Some(Recorded::Typed(event)) = segment.events.last() {
                last = last.max(event.at);
            }
        }
        last
    }

    /// Upgrade mode as the run last knew it, when it touched it.
    pub(crate) fn upgrade_mode(&self) -> Option<UpgradeMode> {
        let mut known = None;
        for segment in &self.segments {
            segment.upgrade_mode(&mut known);
        }
        known
    }

    /// The cluster the run touched, as a key that two runs on the same cluster share: its
    /// UUID when known, else its URL. `None` for a run against the embedded simulator, whose
    /// cluster ended with the run.
    pub(crate) fn cluster_key(&self) -> Option<String> {
        if self.header.simulator.is_some() {
            return None;
        }
        let uuid = &self.header.before.cluster_uuid;
        Some(if uuid.is_empty() || uuid == "unknown" {
            self.header.cluster_url.clone()
        } else {
            uuid.clone()
        })
    }

    /// The cluster the run touched, for people: `prod-ml (https://es:9200/)`, or the embedded
    /// simulator's `sim:FILE`.
    pub(crate) fn cluster_label(&self) -> String {
        if let Some(simulator) = &self.header.simulator {
            return format!("{simulator} (embedded simulator)");
        }
        let name = &self.header.before.cluster_name;
        let url = self.header.cluster_url.trim_end_matches('/');
        if name.is_empty() || name == "unknown" {
            url.to_owned()
        } else {
            format!("{name} ({url})")
        }
    }

    /// Every (action, target) any plan of this run contained, first plan first.
    pub(crate) fn targets(&self) -> Vec<(Action, String)> {
        let mut out: Vec<(Action, String)> = Vec::new();
        for segment in &self.segments {
            for step in &segment.plan.steps {
                if !out
                    .iter()
                    .any(|(a, t)| *a == step.action && *t == step.target)
                {
                    out.push((step.action, step.target.clone()));
                }
            }
        }
        out
    }
}
