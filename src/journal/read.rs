//! Reading journals back, typed, for `runs`, `resume` and `revert`: each line into a [`Line`]
//! (header, event, resumed), events into `exec`'s [`Event`] (format 2) or [`v1::Event`]
//! (format 1), and each event into the [`Fact`] the readers need, by an exhaustive match.
//!
//! Owns how a journal reads. Must never match event names as text, and never guess: a line it
//! cannot read is an error (only a torn line, cut short by a crash, is skipped and reported), so
//! that a renamed event fails a test or a resume loudly instead of resuming wrongly.

use std::path::{Path, PathBuf};

use serde_json::error::Category;

use crate::exec::{CancelReason, Event, EventKind, RunStats, StepNo, Success};
use crate::plan::{Action, PlanView};

use super::line::{JOURNAL_FORMAT_VERSION, Line};
use super::v1;
use super::write::{Header, JournalError, runs_dir};

/// A run as its journal tells it: the header, then one segment per plan executed (the original
/// and one per `resume`), each with its events.
#[derive(Debug)]
pub(crate) struct RunLog {
    pub path: PathBuf,
    pub header: Header,
    pub segments: Vec<Segment>,
    /// The last line was cut short by a crash (it is ignored).
    pub torn_tail: bool,
}

#[derive(Debug)]
pub(crate) struct Segment {
    pub plan: PlanView,
    pub events: Vec<Recorded>,
}

/// An event as its segment's format recorded it.
#[derive(Debug)]
pub(crate) enum Recorded {
    V1(v1::Event),
    V2(Event),
}

impl Recorded {
    fn fact(&self) -> Option<Fact> {
        match self {
            Recorded::V1(event) => event.fact(),
            Recorded::V2(event) => fact(&event.kind),
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

/// What the readers need of one event, whatever the format that recorded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fact {
    Step(StepNo, StepStatus),
    /// No new step was to start; `by_signal` unless it was `on_failure: stop`.
    Cancelled {
        by_signal: bool,
    },
    Finished(RunStats),
}

/// What a (format 2) event tells the readers.
fn fact(kind: &EventKind) -> Option<Fact> {
    let status = match kind {
        EventKind::RunStarted { .. } => return None,
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

    /// The counts of `run_finished`, when the segment got that far.
    pub(crate) fn finished(&self) -> Option<RunStats> {
        self.facts().into_iter().rev().find_map(|fact| match fact {
            Fact::Finished(stats) => Some(stats),
            Fact::Step(..) | Fact::Cancelled { .. } => None,
        })
    }

    /// Whether the segment was interrupted (a signal arrived).
    pub(crate) fn interrupted(&self) -> bool {
        self.facts()
            .iter()
            .any(|fact| matches!(fact, Fact::Cancelled { by_signal: true }))
    }
}

impl RunLog {
    /// Whether a step of this run enabled upgrade mode.
    pub(crate) fn enabled_upgrade_mode(&self) -> bool {
        self.succeeded(Action::EnableUpgradeMode)
    }

    /// Whether a step of this run disabled upgrade mode.
    pub(crate) fn disabled_upgrade_mode(&self) -> bool {
        self.succeeded(Action::DisableUpgradeMode)
    }

    fn succeeded(&self, action: Action) -> bool {
        self.segments.iter().any(|segment| {
            segment
                .statuses()
                .iter()
                .zip(&segment.plan.steps)
                .any(|(status, step)| step.action == action && *status == StepStatus::Changed)
        })
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

/// One line, read in the format of the segment it belongs to.
fn parse(line: &str, version: u32) -> Result<Line<Recorded>, serde_json::Error> {
    Ok(if version == 1 {
        serde_json::from_str::<Line<v1::Event>>(line)?.map_event(Recorded::V1)
    } else {
        serde_json::from_str::<Line<Event>>(line)?.map_event(Recorded::V2)
    })
}

/// Reads a journal.
pub(crate) fn read(path: &Path) -> Result<RunLog, JournalError> {
    let text = std::fs::read_to_string(path).map_err(|source| JournalError::Read {
        path: path.to_owned(),
        source,
    })?;
    let corrupt = |reason: String| JournalError::Corrupt {
        path: path.to_owned(),
        reason,
    };
    let readable = |version: u32| {
        if (1..=JOURNAL_FORMAT_VERSION).contains(&version) {
            Ok(version)
        } else {
            Err(corrupt(format!(
                "journal format {version} (this quiesce reads formats 1 to {JOURNAL_FORMAT_VERSION})"
            )))
        }
    };
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut header: Option<Header> = None;
    let mut segments: Vec<Segment> = Vec::new();
    let mut version = JOURNAL_FORMAT_VERSION;
    let mut torn_tail = false;
    for (index, raw) in lines.iter().enumerate() {
        let complete = raw.ends_with('\n');
        let line = raw.trim_end();
        if line.is_empty() {
            continue;
        }
        let parsed = match parse(line, version) {
            Ok(parsed) => parsed,
            // A fragment left by a crash: the last line, or a line a later resume ended.
            Err(err)
                if matches!(err.classify(), Category::Eof | Category::Syntax)
                    && (index + 1 == lines.len()
                        || !complete
                        || is_torn_then_continued(&text, raw)) =>
            {
                torn_tail = true;
                continue;
            }
            Err(err) => return Err(corrupt(format!("line {}: {err}", index + 1))),
        };
        match parsed {
            Line::Header(parsed) if header.is_none() => {
                version = readable(parsed.version)?;
                segments.push(Segment {
                    plan: parsed.plan.clone(),
                    events: Vec::new(),
                });
                header = Some(*parsed);
            }
            Line::Header(_) => {
                return Err(corrupt(format!("line {}: a second header", index + 1)));
            }
            Line::Resumed {
                version: resumed,
                plan,
                ..
            } => {
                version = readable(resumed)?;
                segments.push(Segment {
                    plan: *plan,
                    events: Vec::new(),
                });
            }
            Line::Event(event) => match segments.last_mut() {
                Some(segment) => segment.events.push(event),
                None => return Err(corrupt("an event before the header".into())),
            },
        }
    }
    let header = header.ok_or_else(|| corrupt("no header line".into()))?;
    Ok(RunLog {
        path: path.to_owned(),
        header,
        segments,
        torn_tail,
    })
}

/// A torn line that a resume ended with a newline is followed by a `resumed` record.
fn is_torn_then_continued(text: &str, raw: &str) -> bool {
    text.find(raw)
        .map(|at| &text[at + raw.len()..])
        .is_some_and(|rest| rest.trim_start().starts_with("{\"type\":\"resumed\""))
}

/// The state directories to search when none is given: `./.quiesce` and `./*/.quiesce`.
fn default_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from(".quiesce")];
    if let Ok(entries) = std::fs::read_dir(".") {
        let mut nested: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path().join(".quiesce"))
            .filter(|p| p.is_dir())
            .collect();
        nested.sort();
        dirs.extend(nested);
    }
    dirs
}

/// Every journal in `state_dir` (or the default directories), oldest first.
pub(crate) fn list_runs(state_dir: Option<&Path>) -> Vec<PathBuf> {
    let dirs = state_dir.map_or_else(default_dirs, |d| vec![d.to_owned()]);
    let mut runs: Vec<PathBuf> = dirs
        .iter()
        .flat_map(|dir| {
            std::fs::read_dir(runs_dir(dir))
                .into_iter()
                .flatten()
                .flatten()
        })
        .map(|entry| entry.path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    runs.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    runs
}

/// The journal of `run_id`.
pub(crate) fn find_run(run_id: &str, state_dir: Option<&Path>) -> Result<PathBuf, JournalError> {
    list_runs(state_dir)
        .into_iter()
        .find(|p| p.file_stem().is_some_and(|s| s == run_id))
        .ok_or_else(|| JournalError::UnknownRun {
            run_id: run_id.to_owned(),
            searched: state_dir.map_or_else(
                || "./.quiesce and ./*/.quiesce".to_owned(),
                |d| format!("`{}`", d.display()),
            ),
        })
}
