//! `quiesce runs show`: one past run for people, from its journal: the run and its cluster,
//! each plan it executed with every step's outcome, attempts, time and error, what it left
//! upgrade mode in, and what `quiesce revert` would bring back.
//!
//! Owns that page's layout. Must never decide anything: the journal's [`RunLog`] says what
//! happened, `run::words` says it in words.

use std::fmt::Write as _;

use crate::journal::{Revert, RunLog, StepRecord, StepStatus, UpgradeMode};
use crate::playbook::Keyword;

use super::run::labels::StepLabels;
use super::run::style::{attempts, human_duration};
use super::run::words;

/// What became of one step, after its name.
fn outcome(record: &StepRecord, labels: &StepLabels) -> String {
    let mut text = match record.status {
        StepStatus::NotStarted => "not started".to_owned(),
        StepStatus::InFlight => {
            "in flight when the run ended: the cluster may have carried it out".to_owned()
        }
        StepStatus::Changed => "changed".to_owned(),
        StepStatus::AlreadyInState => "already in state".to_owned(),
        StepStatus::Failed => "failed".to_owned(),
        StepStatus::Interrupted => "interrupted: no new request after the interrupt".to_owned(),
        StepStatus::Abandoned => words::ABANDONED.to_owned(),
        StepStatus::Skipped => match record.skipped {
            Some(reason) => format!("skipped: {}", words::skip(reason, labels)),
            None => "skipped".to_owned(),
        },
    };
    let mut facts = Vec::new();
    if let Some(count) = record.attempts.filter(|n| *n > 0) {
        facts.push(attempts(count));
    }
    if let Some(duration) = record.duration {
        facts.push(human_duration(duration));
    }
    if !facts.is_empty() {
        let _ = write!(text, " ({})", facts.join(", "));
    }
    if let Some(error) = &record.error {
        let _ = write!(text, ": {}", words::error(error));
    }
    text
}

fn mark(status: StepStatus) -> &'static str {
    match status {
        StepStatus::Changed | StepStatus::AlreadyInState => "✓",
        StepStatus::Failed => "✗",
        StepStatus::Interrupted | StepStatus::Abandoned | StepStatus::InFlight => "■",
        StepStatus::Skipped | StepStatus::NotStarted => "-",
    }
}

/// The whole page; `journal` says where the run was read from.
pub(crate) fn show(log: &RunLog, revert: &Revert, journal: &str) -> String {
    let header = &log.header;
    let mut out = String::new();
    let what = match &header.reverts {
        Some(reverted) => format!("revert of run {reverted}"),
        None => format!(
            "{} of `{}` ({})",
            header.command, header.plan.playbook.path, header.plan.playbook.name
        ),
    };
    let _ = writeln!(out, "run {}: {what}", header.run_id);
    let _ = writeln!(
        out,
        "  cluster   {}, Elasticsearch {}",
        log.cluster_label(),
        header.before.version
    );
    if header.simulator.is_some() {
        let _ = writeln!(
            out,
            "            the embedded simulator lived only as long as the run: nothing of it is left to check or revert"
        );
    }
    let _ = writeln!(out, "  started   {}", header.started_at);
    let resumed = log.segments.len().saturating_sub(1);
    let _ = writeln!(
        out,
        "  outcome   {}{}",
        log.outcome().words(),
        if resumed > 0 {
            format!(", resumed {resumed}x")
        } else {
            String::new()
        }
    );
    let _ = writeln!(out, "  journal   {journal}");
    if log.torn_tail {
        let _ = writeln!(
            out,
            "            its last line was cut short by a crash and is ignored"
        );
    }

    for (index, segment) in log.segments.iter().enumerate() {
        let title = if index == 0 { "plan" } else { "resumed" };
        let _ = writeln!(
            out,
            "\n{title} at {}: {} step(s), {} target(s) already in state",
            segment.started_at,
            segment.plan.steps.len(),
            segment.plan.unchanged.len()
        );
        let labels = StepLabels::new(&segment.plan);
        for (step, record) in segment.plan.steps.iter().zip(segment.records()) {
            let source = step
                .source
                .as_ref()
                .map(|s| format!(" ({}:{})", s.file, s.line))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {} #{} {} {}{source}\n      {}",
                mark(record.status),
                step.id,
                step.action.verb(),
                step.target,
                outcome(&record, &labels)
            );
            if let Some(escalation) = &record.escalation {
                let about = crate::exec::StepRef::from(step);
                let _ = writeln!(
                    out,
                    "      escalated to force: {}",
                    words::escalation(&about, escalation)
                );
            }
        }
    }

    let upgrade = match (log.upgrade_mode(), header.simulator.is_some()) {
        (None, _) => None,
        (Some(_), true) => Some("switched in the embedded simulator, which is gone"),
        (Some(UpgradeMode::On), false) => {
            Some("on when the run last knew it (still on unless disabled since)")
        }
        (Some(UpgradeMode::Off), false) => Some("off when the run last knew it"),
        (Some(UpgradeMode::Unknown), false) => Some(
            "unknown: the run ended with its switch in flight (`quiesce resume` finishes it and says)",
        ),
    };
    if let Some(upgrade) = upgrade {
        let _ = writeln!(out, "\nupgrade mode: {upgrade}");
    }

    let _ = writeln!(
        out,
        "\n`quiesce revert {}` would bring back, as before the run (re-planned against the cluster then: what already is so stays):",
        header.run_id
    );
    let mut any = false;
    if let Some(mode) = revert.upgrade_mode {
        let _ = writeln!(out, "  - upgrade mode {}", mode.name());
        any = true;
    }
    for job in &revert.jobs {
        let _ = writeln!(out, "  - job `{}` {}", job.id, job.state.name());
        any = true;
    }
    for feed in &revert.datafeeds {
        let _ = writeln!(out, "  - datafeed `{}` {}", feed.id, feed.state.name());
        any = true;
    }
    if !any {
        let _ = writeln!(out, "  nothing");
    }
    for note in &revert.notes {
        let _ = writeln!(out, "  left out: {note}");
    }
    out
}
