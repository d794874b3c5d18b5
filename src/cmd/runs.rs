//! `quiesce runs`: past runs from their journals: id, command, playbook, start, outcome,
//! counts, and a flag on any run that enabled upgrade mode which no later run disabled.
//!
//! Owns the table. Must never read a journal's JSON itself: `journal::read` types it, and this
//! only asks the [`RunLog`] (statuses, counts, interruptions).

use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;

use crate::error::Error;
use crate::exit_code;
use crate::journal::{RunLog, StepStatus, list_runs, read};
use crate::report::OutputFormat;
use crate::report::stream;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Where the journals live (default: `./.quiesce` and `./*/.quiesce`).
    #[arg(long, env = "QUIESCE_STATE_DIR", value_name = "DIR")]
    state_dir: Option<PathBuf>,

    /// What stdout carries: `human`, a table for people; `json`, one JSON document (errors too,
    /// as JSON).
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub(crate) output: OutputFormat,
}

#[derive(Debug, Serialize)]
struct RunRow {
    run_id: String,
    command: String,
    playbook: String,
    started_at: String,
    outcome: &'static str,
    changed: u64,
    already_in_state: u64,
    failed: u64,
    skipped: u64,
    resumed: usize,
    upgrade_mode_left_on: bool,
    /// The journal's last line was cut short by a crash (it is ignored).
    torn_last_line: bool,
    journal: String,
}

fn row(log: &RunLog) -> RunRow {
    let last = log.segments.last();
    let finished = last.and_then(|s| s.finished());
    // Steps done before a crash count too: a resumed plan only holds what was left.
    let count = |wanted: StepStatus| {
        log.segments
            .iter()
            .flat_map(|s| s.statuses())
            .filter(|status| *status == wanted)
            .count() as u64
    };
    let outcome = match (finished, last) {
        (None, _) => "incomplete (resume it)",
        (Some(_), Some(segment)) if segment.interrupted() => "interrupted (resume it)",
        (Some(stats), _) if stats.all_succeeded() => "succeeded",
        (Some(_), _) => "failed",
    };
    RunRow {
        run_id: log.header.run_id.clone(),
        command: log.header.command.clone(),
        playbook: log.header.plan.playbook.path.clone(),
        started_at: log.header.started_at.to_string(),
        outcome,
        changed: count(StepStatus::Changed),
        already_in_state: count(StepStatus::AlreadyInState),
        failed: finished.map_or(0, |stats| stats.failed as u64),
        skipped: finished.map_or(0, |stats| stats.skipped as u64),
        resumed: log.segments.len().saturating_sub(1),
        upgrade_mode_left_on: false,
        torn_last_line: log.torn_tail,
        journal: log.path.display().to_string(),
    }
}

pub(crate) fn run(args: Args) -> Result<i32, Error> {
    let mut logs = Vec::new();
    for path in list_runs(args.state_dir.as_deref()) {
        match read(&path) {
            Ok(log) => logs.push(log),
            Err(err) => crate::report::diagnostic::eprint(&err),
        }
    }
    let mut rows: Vec<RunRow> = logs.iter().map(row).collect();
    // A run that enabled upgrade mode left it on unless a later run disabled it.
    for (i, log) in logs.iter().enumerate() {
        let disabled_later = logs[i + 1..].iter().any(RunLog::disabled_upgrade_mode);
        rows[i].upgrade_mode_left_on = log.enabled_upgrade_mode() && !disabled_later;
    }
    let text = match args.output {
        OutputFormat::Json => {
            serde_json::to_string_pretty(&rows).map_err(|e| Error::Internal(e.to_string()))? + "\n"
        }
        OutputFormat::Human => human(&rows),
    };
    stream::out(&text).map_err(Error::Output)?;
    Ok(exit_code::SUCCESS)
}

fn human(rows: &[RunRow]) -> String {
    if rows.is_empty() {
        return "no runs found (journals live in `.quiesce/runs/` beside the playbook)\n".into();
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<22} {:<7} {:<24} {:<26} {:>7} {:>6} {:>7}  PLAYBOOK",
        "RUN", "COMMAND", "STARTED", "OUTCOME", "CHANGED", "FAILED", "SKIPPED"
    );
    for row in rows {
        let _ = writeln!(
            out,
            "{:<22} {:<7} {:<24} {:<26} {:>7} {:>6} {:>7}  {}{}{}{}",
            row.run_id,
            row.command,
            row.started_at.get(..19).unwrap_or(&row.started_at),
            row.outcome,
            row.changed,
            row.failed,
            row.skipped,
            row.playbook,
            if row.resumed > 0 {
                format!("  (resumed {}x)", row.resumed)
            } else {
                String::new()
            },
            if row.torn_last_line {
                "  (last journal line torn by a crash, ignored)"
            } else {
                ""
            },
            if row.upgrade_mode_left_on {
                "  ⚠ enabled upgrade mode: still on unless disabled since (`quiesce revert` disables it)"
            } else {
                ""
            }
        );
    }
    out
}
