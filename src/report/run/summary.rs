//! The final summary: how the run ended, counts by outcome, the total time, then every failure
//! (step, Elasticsearch error, attempts, playbook line), every step an interrupt stopped or
//! abandoned, every skip with its reason, every escalation to `force=true` with what it cost,
//! and for an interrupted run the exact `quiesce resume RUN_ID` to type.
//!
//! Owns the summary's layout. Must never word a reason itself: [`words`](super::words) does.

use std::fmt::Write as _;

use crate::exec::CancelReason;

use super::labels::StepLabels;
use super::style::{Paint, attempts, human_duration};
use super::tally::{RunTally, StepState};
use super::words;

pub(super) fn render(tally: &RunTally, labels: &StepLabels, paint: Paint) -> String {
    let mut out = String::new();
    let counts = tally.counts();
    // The executor's counts are authoritative once the run finished; before that (an early
    // end), the tally is all there is.
    let stats = tally.finished().map_or(counts.stats, |(stats, _)| stats);
    let headline = match (tally.cancelled(), tally.finished()) {
        (Some(CancelReason::StepFailed), _) => "run stopped after a failure",
        (Some(CancelReason::Interrupted), _) => "run interrupted",
        (Some(CancelReason::Abandoned), _) => "run abandoned",
        (Some(CancelReason::LeaseLost), _) => "run stopped: the cluster lease was lost",
        (None, Some(_)) => "run finished",
        (None, None) => "run ended early",
    };
    let mut parts = vec![
        paint.green(&format!("{} changed", stats.changed)),
        format!("{} already in state", stats.already_in_state),
        if stats.failed > 0 {
            paint.red(&format!("{} failed", stats.failed))
        } else {
            format!("{} failed", stats.failed)
        },
        format!("{} skipped", stats.skipped),
    ];
    if stats.interrupted > 0 {
        parts.push(format!("{} interrupted", stats.interrupted));
    }
    if counts.running > 0 {
        parts.push(format!("{} still running", counts.running));
    }
    if counts.not_started > 0 {
        parts.push(format!("{} not started", counts.not_started));
    }
    let _ = writeln!(
        out,
        "{}: {}",
        paint.bold(&format!(
            "{headline} in {}",
            human_duration(tally.duration())
        )),
        parts.join(", ")
    );

    let at = |step| {
        labels
            .source(step)
            .map(|source| format!(" ({source})"))
            .unwrap_or_default()
    };
    let mut section = |title: &str, lines: Vec<String>| {
        if !lines.is_empty() {
            let _ = writeln!(out, "\n{title}:");
            for line in lines {
                let _ = writeln!(out, "{line}");
            }
        }
    };

    let failures = tally
        .steps()
        .filter_map(|(step, record)| match &record.state {
            StepState::Failed(error) => {
                let mut text = format!("  {} {}{}", paint.red("✗"), labels.name(step), at(step));
                let _ = write!(
                    text,
                    "\n      {}\n      {}",
                    words::error(error),
                    attempts(record.attempts)
                );
                if let Some(duration) = record.duration {
                    let _ = write!(text, ", {}", human_duration(duration));
                }
                Some(text)
            }
            _ => None,
        })
        .collect();
    section("failed", failures);

    let stopped = tally
        .steps()
        .filter_map(|(step, record)| {
            let how = match &record.state {
                StepState::Interrupted => words::interrupted(record.attempts),
                StepState::Abandoned => words::ABANDONED.to_owned(),
                _ => return None,
            };
            Some(format!(
                "  {} {}{}\n      {how}",
                paint.yellow("■"),
                labels.name(step),
                at(step)
            ))
        })
        .collect();
    section("interrupted", stopped);

    let skips = tally
        .steps()
        .filter_map(|(step, record)| match &record.state {
            StepState::Skipped(reason) => Some(format!(
                "  - {}: {}{}",
                labels.name(step),
                words::skip(*reason, labels),
                at(step)
            )),
            _ => None,
        })
        .collect();
    section("skipped", skips);

    let warnings = tally
        .steps()
        .filter_map(|(step, record)| {
            record.escalation.as_ref().map(|(about, escalation)| {
                format!(
                    "  {} {} escalated to force: {}{}",
                    paint.yellow("⚠"),
                    labels.name(step),
                    words::escalation(about, escalation),
                    at(step)
                )
            })
        })
        .collect();
    section("warnings", warnings);

    if let Some((verified, unverified)) = tally.verification() {
        let line = format!(
            "\nrecovery: {verified} target(s) verified, {unverified} not verified{}",
            if unverified == 0 {
                ""
            } else {
                " (listed above, with what stats showed)"
            }
        );
        let _ = writeln!(
            out,
            "{}",
            if unverified == 0 {
                paint.green(&line)
            } else {
                paint.red(&line)
            }
        );
    }

    // An interrupted run ends with the command that continues it, exactly as it is to be typed.
    let stopped_early = matches!(
        tally.cancelled(),
        Some(CancelReason::Interrupted | CancelReason::Abandoned | CancelReason::LeaseLost)
    ) || tally.finished().is_none();
    if stopped_early && let Some((run_id, journal)) = tally.run() {
        let _ = writeln!(
            out,
            "\nto continue the run: {}",
            paint.bold(&resume_command(run_id, journal))
        );
    }
    out
}

/// `quiesce resume RUN_ID`, with `--state-dir` when the journal is not where `resume` looks by
/// itself (`./.quiesce`, `./*/.quiesce`).
fn resume_command(run_id: &str, journal: Option<&str>) -> String {
    let state_dir = journal
        .map(std::path::Path::new)
        .and_then(std::path::Path::parent)
        .and_then(std::path::Path::parent);
    let found_by_default = state_dir.is_none_or(|dir| {
        let parts: Vec<_> = dir
            .components()
            .filter(|part| *part != std::path::Component::CurDir)
            .collect();
        dir.is_relative()
            && dir.file_name().is_some_and(|name| name == ".quiesce")
            && (parts.len() == 1
                || (parts.len() == 2 && matches!(parts[0], std::path::Component::Normal(_))))
    });
    match state_dir {
        Some(dir) if !found_by_default => {
            let dir = dir.display().to_string();
            let quoted = if dir.contains(|c: char| c.is_whitespace() || "'\"$`\\".contains(c)) {
                format!("'{}'", dir.replace('\'', "'\\''"))
            } else {
                dir
            };
            format!("quiesce resume {run_id} --state-dir {quoted}")
        }
        _ => format!("quiesce resume {run_id}"),
    }
}

#[cfg(test)]
mod tests {
    use super::resume_command;

    #[test]
    fn the_resume_command_names_the_state_directory_only_when_resume_would_not_find_it() {
        let id = "20261128T120000Z-1a2b";
        for (journal, expected) in [
            (None, format!("quiesce resume {id}")),
            (
                Some(".quiesce/runs/x.jsonl"),
                format!("quiesce resume {id}"),
            ),
            (
                Some("./.quiesce/runs/x.jsonl"),
                format!("quiesce resume {id}"),
            ),
            (
                Some("workflows/.quiesce/runs/x.jsonl"),
                format!("quiesce resume {id}"),
            ),
            (
                Some("ops/workflows/.quiesce/runs/x.jsonl"),
                format!("quiesce resume {id} --state-dir ops/workflows/.quiesce"),
            ),
            (
                Some("/srv/quiesce state/runs/x.jsonl"),
                format!("quiesce resume {id} --state-dir '/srv/quiesce state'"),
            ),
        ] {
            assert_eq!(resume_command(id, journal), expected, "{journal:?}");
        }
    }
}
