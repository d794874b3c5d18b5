//! Reading journals back: for `runs`, `resume` and `revert`. Tolerates a torn last line.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::plan::{Action, PlanView};

use super::write::{Header, JournalError, runs_dir};

/// A run as its journal tells it: the header, then one segment per plan executed (the original
/// and one per `resume`), each with its events.
#[derive(Debug)]
pub struct RunLog {
    pub path: PathBuf,
    pub header: Header,
    pub segments: Vec<Segment>,
    /// The last line was cut short by a crash (it is ignored).
    pub torn_tail: bool,
}

#[derive(Debug)]
pub struct Segment {
    pub plan: PlanView,
    pub events: Vec<Value>,
}

/// Where one step of a segment got to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepStatus {
    NotStarted,
    /// Started, with no outcome recorded (the run died or was abandoned meanwhile).
    InFlight,
    Changed,
    AlreadyInState,
    Failed,
    Skipped,
}

impl Segment {
    /// The last recorded status of each step, by 1-based step number.
    pub fn statuses(&self) -> Vec<StepStatus> {
        let mut status = vec![StepStatus::NotStarted; self.plan.steps.len()];
        for event in &self.events {
            let Some(no) = event["step"].as_u64().and_then(|n| usize::try_from(n).ok()) else {
                continue;
            };
            let Some(slot) = no.checked_sub(1).and_then(|i| status.get_mut(i)) else {
                continue;
            };
            *slot = match event["event"].as_str() {
                Some(
                    "step_started" | "step_waiting" | "step_attempt_failed" | "step_escalated",
                ) => StepStatus::InFlight,
                Some("step_succeeded") if event["outcome"] == "already_in_state" => {
                    StepStatus::AlreadyInState
                }
                Some("step_succeeded") => StepStatus::Changed,
                Some("step_failed") => StepStatus::Failed,
                Some("step_skipped") => StepStatus::Skipped,
                _ => continue,
            };
        }
        status
    }

    /// The `run_finished` event, when the segment got that far.
    pub fn finished(&self) -> Option<&Value> {
        self.events
            .iter()
            .rev()
            .find(|e| e["event"] == "run_finished")
    }

    /// Whether the segment was interrupted (a signal arrived).
    pub fn interrupted(&self) -> bool {
        self.events
            .iter()
            .any(|e| e["event"] == "run_cancelling" && e["reason"] != "step_failed")
    }
}

impl RunLog {
    /// Whether a step of this run enabled upgrade mode.
    pub fn enabled_upgrade_mode(&self) -> bool {
        self.succeeded(Action::EnableUpgradeMode)
    }

    /// Whether a step of this run disabled upgrade mode.
    pub fn disabled_upgrade_mode(&self) -> bool {
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
    pub fn targets(&self) -> Vec<(Action, String)> {
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

/// Reads a journal.
pub fn read(path: &Path) -> Result<RunLog, JournalError> {
    let text = std::fs::read_to_string(path).map_err(|source| JournalError::Read {
        path: path.to_owned(),
        source,
    })?;
    let corrupt = |reason: String| JournalError::Corrupt {
        path: path.to_owned(),
        reason,
    };
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut header: Option<Header> = None;
    let mut segments: Vec<Segment> = Vec::new();
    let mut torn_tail = false;
    for (index, raw) in lines.iter().enumerate() {
        let complete = raw.ends_with('\n');
        let line = raw.trim_end();
        if line.is_empty() {
            continue;
        }
        let value: Value = match serde_json::from_str(line) {
            Ok(value) if complete || index + 1 == lines.len() => value,
            Ok(value) => value,
            Err(err) => {
                // A fragment left by a crash: the last line, or a line a later resume ended.
                if index + 1 == lines.len() || !complete || is_torn_then_continued(&text, raw) {
                    torn_tail = true;
                    continue;
                }
                return Err(corrupt(format!("line {}: {err}", index + 1)));
            }
        };
        match value["type"].as_str() {
            Some("header") if header.is_none() => {
                let parsed: Header = serde_json::from_value(value)
                    .map_err(|err| corrupt(format!("header: {err}")))?;
                segments.push(Segment {
                    plan: parsed.plan.clone(),
                    events: Vec::new(),
                });
                header = Some(parsed);
            }
            Some("resumed") => {
                let plan: PlanView = serde_json::from_value(value["plan"].clone())
                    .map_err(|err| corrupt(format!("line {}: {err}", index + 1)))?;
                segments.push(Segment {
                    plan,
                    events: Vec::new(),
                });
            }
            Some("event") => match segments.last_mut() {
                Some(segment) => segment.events.push(value),
                None => return Err(corrupt("an event before the header".into())),
            },
            _ => return Err(corrupt(format!("line {}: unknown record", index + 1))),
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
pub fn list_runs(state_dir: Option<&Path>) -> Vec<PathBuf> {
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
pub fn find_run(run_id: &str, state_dir: Option<&Path>) -> Result<PathBuf, JournalError> {
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
