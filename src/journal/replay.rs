//! Playbooks made from a journal: what `resume` continues and what `revert` brings back. Both
//! are ordinary playbook text (ids only, no selectors), so they go through the same loader,
//! planner and executor as any other, and can be printed, reviewed and kept.

use std::fmt::Write as _;

use crate::observe::{DatafeedMode, ObservedDatafeedState, ObservedJobState};
use crate::plan::{Action, SettingsView};

use super::read::RunLog;

/// One entry of a made playbook, with an optional comment line above it.
struct Entry {
    id: String,
    state: &'static str,
    comment: Option<String>,
}

/// The playbook that finishes what the run set out to do: every target of its plans, in the
/// state its step was to reach, with the run's own settings.
pub fn resume_playbook(log: &RunLog) -> String {
    let mut jobs = Vec::new();
    let mut datafeeds = Vec::new();
    let mut upgrade_mode = None;
    for (action, target) in log.targets() {
        let entry = |state| Entry {
            id: target.clone(),
            state,
            comment: None,
        };
        match action {
            Action::StopDatafeed => datafeeds.push(entry("stopped")),
            Action::StartDatafeed => datafeeds.push(entry("started")),
            Action::CloseJob => jobs.push(entry("closed")),
            Action::OpenJob => jobs.push(entry("opened")),
            Action::EnableUpgradeMode => upgrade_mode = Some("enabled"),
            Action::DisableUpgradeMode => upgrade_mode = Some("disabled"),
        }
    }
    render(
        &log.header.cluster_url,
        &format!("resume-{}", log.header.run_id),
        &format!(
            "Finishes run {} ({} of `{}`), made from its journal.",
            log.header.run_id, log.header.command, log.header.plan.playbook.name
        ),
        &log.header.plan.settings,
        &jobs,
        &datafeeds,
        upgrade_mode,
    )
}

/// The playbook that brings back what the run changed, and nothing else: every resource one of
/// its steps targeted, in the state it had before the run. Lookback datafeeds and failed jobs
/// cannot be brought back as they were and are left out, with a comment saying why.
pub fn revert_playbook(log: &RunLog) -> String {
    let before = &log.header.before;
    let mut jobs = Vec::new();
    let mut datafeeds = Vec::new();
    let mut upgrade_mode = None;
    let mut notes = Vec::new();
    for (action, target) in log.targets() {
        match action {
            Action::StopDatafeed | Action::StartDatafeed => {
                let Some(feed) = before.datafeeds.get(&target) else {
                    notes.push(format!("datafeed `{target}` did not exist before the run"));
                    continue;
                };
                let state = match (feed.state, feed.mode) {
                    (
                        ObservedDatafeedState::Started | ObservedDatafeedState::Starting,
                        DatafeedMode::Lookback,
                    ) => {
                        notes.push(format!(
                            "datafeed `{target}` ran a lookback with an end: not restarted (it stops on its own)"
                        ));
                        continue;
                    }
                    (ObservedDatafeedState::Started | ObservedDatafeedState::Starting, _) => {
                        "started"
                    }
                    (ObservedDatafeedState::Stopped | ObservedDatafeedState::Stopping, _) => {
                        "stopped"
                    }
                };
                datafeeds.push(Entry {
                    id: target,
                    state,
                    comment: Some(format!("was {} before the run", feed.state)),
                });
            }
            Action::CloseJob | Action::OpenJob => {
                let Some(job) = before.jobs.get(&target) else {
                    notes.push(format!("job `{target}` did not exist before the run"));
                    continue;
                };
                let state = match job.state {
                    ObservedJobState::Opened | ObservedJobState::Opening => "opened",
                    ObservedJobState::Closed | ObservedJobState::Closing => "closed",
                    ObservedJobState::Failed => {
                        notes.push(format!(
                            "job `{target}` was failed before the run: a failed state cannot be restored"
                        ));
                        continue;
                    }
                };
                jobs.push(Entry {
                    id: target,
                    state,
                    comment: Some(format!("was {} before the run", job.state)),
                });
            }
            Action::EnableUpgradeMode | Action::DisableUpgradeMode => {
                upgrade_mode = Some(if before.upgrade_mode {
                    "enabled"
                } else {
                    "disabled"
                });
            }
        }
    }
    let mut description = format!(
        "Brings back what run {} ({} of `{}`) changed, as it was before that run.",
        log.header.run_id, log.header.command, log.header.plan.playbook.name
    );
    for note in notes {
        let _ = write!(description, " Left out: {note}.");
    }
    render(
        &log.header.cluster_url,
        &format!("revert-{}", log.header.run_id),
        &description,
        &log.header.plan.settings,
        &jobs,
        &datafeeds,
        upgrade_mode,
    )
}

fn quote(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| format!("\"{text}\""))
}

fn duration(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

fn render(
    cluster_url: &str,
    name: &str,
    description: &str,
    settings: &SettingsView,
    jobs: &[Entry],
    datafeeds: &[Entry],
    upgrade_mode: Option<&str>,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Made by quiesce from a run journal.");
    let _ = writeln!(out, "version: 1");
    let _ = writeln!(out, "name: {}", quote(name));
    let _ = writeln!(out, "description: {}", quote(description));
    if !cluster_url.is_empty() {
        let _ = writeln!(out, "cluster:");
        let _ = writeln!(out, "  url: {}", quote(cluster_url.trim_end_matches('/')));
    }
    let _ = writeln!(out, "settings:");
    let _ = writeln!(out, "  concurrency: {}", settings.concurrency);
    let _ = writeln!(
        out,
        "  step_timeout: {}",
        duration(settings.step_timeout_ms)
    );
    let _ = writeln!(
        out,
        "  retry: {{ attempts: {}, initial_backoff: {}, max_backoff: {} }}",
        settings.retry_attempts,
        duration(settings.initial_backoff_ms),
        duration(settings.max_backoff_ms)
    );
    let _ = writeln!(
        out,
        "  on_failure: {}",
        serde_json::to_value(settings.on_failure)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| "continue".into())
    );
    let _ = writeln!(
        out,
        "  force: {}",
        serde_json::to_value(settings.force)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| "never".into())
    );
    for (section, entries) in [("jobs", jobs), ("datafeeds", datafeeds)] {
        if entries.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{section}:");
        for entry in entries {
            if let Some(comment) = &entry.comment {
                let _ = writeln!(out, "  # {comment}");
            }
            let _ = writeln!(out, "  - id: {}", quote(&entry.id));
            let _ = writeln!(out, "    state: {}", entry.state);
        }
    }
    if let Some(mode) = upgrade_mode {
        let _ = writeln!(out, "upgrade_mode: {mode}");
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::journal::read;

    /// The journal of a real `apply` of `workflows/pre-upgrade-shutdown.yaml` against the demo
    /// cluster, written by quiesce 0.1.
    fn journal() -> RunLog {
        read(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/written-by-0.1/journal-pre-upgrade-shutdown.jsonl"
        )))
        .expect("the fixture journal reads")
    }

    #[test]
    fn the_resume_playbook() {
        insta::assert_snapshot!(resume_playbook(&journal()));
    }

    #[test]
    fn the_revert_playbook() {
        insta::assert_snapshot!(revert_playbook(&journal()));
    }
}
