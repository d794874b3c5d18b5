//! Playbooks made from a journal: what `resume` continues and what `revert` brings back. Both
//! are ordinary playbook text (ids only, no selectors), written by the playbook format's own
//! writer, so they go through the same loader, planner and executor as any other, and can be
//! printed, reviewed and kept.

use std::fmt::Write as _;

use crate::model::{DatafeedState, JobState, Settings, UpgradeMode};
use crate::observe::{DatafeedMode, ObservedDatafeedState, ObservedJobState};
use crate::plan::{Action, CalendarBefore, MaintenanceView, UpgradeView};
use crate::playbook::{DatafeedEntry, JobEntry, MaintenanceEntry, PlaybookWriter, Text};

use super::log::RunLog;

/// The playbook that finishes what the run set out to do: every target of its plans, in the
/// state its step was to reach, with the run's own settings.
pub(crate) fn resume_playbook(log: &RunLog) -> String {
    let mut jobs = Vec::new();
    let mut datafeeds = Vec::new();
    let mut upgrade_mode = None;
    let mut maintenance = None;
    for (action, target) in log.targets() {
        let job = |state| JobEntry {
            id: target.clone(),
            state,
            comment: None,
        };
        let datafeed = |state| DatafeedEntry {
            id: target.clone(),
            job: None,
            state,
            comment: None,
        };
        match action {
            Action::StopDatafeed => datafeeds.push(datafeed(DatafeedState::Stopped)),
            Action::StartDatafeed => datafeeds.push(datafeed(DatafeedState::Started)),
            Action::CloseJob => jobs.push(job(JobState::Closed)),
            Action::OpenJob => jobs.push(job(JobState::Opened)),
            Action::EnableUpgradeMode => upgrade_mode = Some(UpgradeMode::Enabled),
            Action::DisableUpgradeMode => upgrade_mode = Some(UpgradeMode::Disabled),
            // Not a wanted state: the resume playbook carries the run's `upgrade:` section,
            // so its plan runs the snapshot gate again and keeps only what is still needed.
            Action::RefreshOpenJob
            | Action::RefreshCloseJob
            | Action::UpgradeSnapshot
            | Action::DeleteSnapshot => {}
            Action::ScheduleMaintenance | Action::RemoveMaintenance => {
                maintenance = log.header.plan.maintenance.as_ref().map(as_planned);
            }
        }
    }
    render(
        log,
        &format!("resume-{}", log.header.run_id),
        &format!(
            "Finishes run {} ({} of `{}`), made from its journal.",
            log.header.run_id, log.header.command, log.header.plan.playbook.name
        ),
        &Sections {
            jobs,
            datafeeds,
            upgrade_mode,
            maintenance,
            upgrade: log.header.plan.settings.upgrade,
        },
    )
}

/// The maintenance a run's first plan set out to do, as a playbook says it again: the same
/// window (a resume posts no second event: its tag is the run's), or the same undo.
fn as_planned(view: &MaintenanceView) -> MaintenanceEntry {
    match view {
        MaintenanceView::Schedule {
            calendar,
            description,
            start_ms,
            end_ms,
            ..
        } => {
            let time = |ms: i64| jiff::Timestamp::from_millisecond(ms).unwrap_or_default();
            MaintenanceEntry::Window {
                calendar: calendar.clone(),
                description: description.clone(),
                start: time(*start_ms),
                end: time(*end_ms),
            }
        }
        MaintenanceView::Undo {
            calendar,
            run,
            jobs,
            delete_calendar,
            ..
        } => MaintenanceEntry::Undo {
            calendar: calendar.clone(),
            run: run.clone(),
            jobs: jobs.clone(),
            delete_calendar: *delete_calendar,
        },
    }
}

/// What a revert removes from the maintenance calendar: the run's event, the jobs it added
/// (those not on the calendar before it), and the calendar when there was none before.
fn undo_of(log: &RunLog, notes: &mut Vec<String>) -> Option<MaintenanceEntry> {
    match log.header.plan.maintenance.as_ref()? {
        MaintenanceView::Schedule {
            calendar,
            jobs,
            before,
            ..
        } => {
            let (jobs, delete_calendar) = match before {
                Some(CalendarBefore::Absent) => (jobs.clone(), true),
                Some(CalendarBefore::Present { job_ids }) => (
                    jobs.iter()
                        .filter(|j| !job_ids.contains(j))
                        .cloned()
                        .collect(),
                    false,
                ),
                None => {
                    notes.push(format!(
                        "the jobs run {} added to calendar `{calendar}`: the run did not record the calendar before it (its event is removed)",
                        log.header.run_id
                    ));
                    (Vec::new(), false)
                }
            };
            Some(MaintenanceEntry::Undo {
                calendar: calendar.clone(),
                run: log.header.run_id.clone(),
                jobs,
                delete_calendar,
            })
        }
        MaintenanceView::Undo { calendar, run, .. } => {
            notes.push(format!(
                "the maintenance of run {run} on calendar `{calendar}`, which that revert removed: its window is not scheduled again"
            ));
            None
        }
    }
}

/// The sections of a made playbook after its head, cluster and settings; an empty one is left
/// out.
struct Sections {
    jobs: Vec<JobEntry>,
    datafeeds: Vec<DatafeedEntry>,
    upgrade_mode: Option<UpgradeMode>,
    maintenance: Option<MaintenanceEntry>,
    /// The run's `upgrade:` section, so that a resume runs the snapshot gate again.
    upgrade: Option<UpgradeView>,
}

/// What a revert of a run brings back: each target in the state it had before the run, and
/// what is left out, with why.
#[derive(Debug)]
pub(crate) struct Revert {
    pub jobs: Vec<JobEntry>,
    pub datafeeds: Vec<DatafeedEntry>,
    pub upgrade_mode: Option<UpgradeMode>,
    /// What it removes from the maintenance calendar.
    pub maintenance: Option<MaintenanceEntry>,
    /// What cannot be brought back as it was (`job `x` was failed before the run…`).
    pub notes: Vec<String>,
}

/// The playbook that brings back what the run changed, and nothing else: every resource one of
/// its steps targeted, in the state it had before the run. Lookback datafeeds and failed jobs
/// cannot be brought back as they were and are left out, with a comment saying why.
pub(crate) fn revert_playbook(log: &RunLog) -> String {
    let revert = revert_of(log);
    let mut description = format!(
        "Brings back what run {} ({} of `{}`) changed, as it was before that run.",
        log.header.run_id, log.header.command, log.header.plan.playbook.name
    );
    for note in &revert.notes {
        let _ = write!(description, " Left out: {note}.");
    }
    render(
        log,
        &format!("revert-{}", log.header.run_id),
        &description,
        &Sections {
            jobs: revert.jobs,
            datafeeds: revert.datafeeds,
            upgrade_mode: revert.upgrade_mode,
            maintenance: revert.maintenance,
            upgrade: None,
        },
    )
}

/// What a revert of `log` brings back, from the before-state its journal recorded.
pub(crate) fn revert_of(log: &RunLog) -> Revert {
    let before = &log.header.before;
    let mut jobs = Vec::new();
    let mut datafeeds = Vec::new();
    let mut upgrade_mode = None;
    let mut maintenance = None;
    let mut notes = Vec::new();
    let mut gate = Vec::new();
    for (action, target) in log.targets() {
        match action {
            Action::StopDatafeed | Action::StartDatafeed => {
                let Some(feed) = before.datafeeds.get(&target) else {
                    notes.push(format!("datafeed `{target}` did not exist before the run"));
                    continue;
                };
                let running = matches!(
                    feed.state,
                    ObservedDatafeedState::Started | ObservedDatafeedState::Starting
                );
                let state = match (running, feed.mode) {
                    (true, DatafeedMode::Lookback) => {
                        notes.push(format!(
                            "datafeed `{target}` ran a lookback with an end: not restarted (it stops on its own)"
                        ));
                        continue;
                    }
                    (true, _) => DatafeedState::Started,
                    (false, _) => DatafeedState::Stopped,
                };
                datafeeds.push(DatafeedEntry {
                    id: target,
                    job: None,
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
                    ObservedJobState::Opened | ObservedJobState::Opening => JobState::Opened,
                    ObservedJobState::Closed | ObservedJobState::Closing => JobState::Closed,
                    ObservedJobState::Failed => {
                        notes.push(format!(
                            "job `{target}` was failed before the run: a failed state cannot be restored"
                        ));
                        continue;
                    }
                };
                jobs.push(JobEntry {
                    id: target,
                    state,
                    comment: Some(format!("was {} before the run", job.state)),
                });
            }
            Action::EnableUpgradeMode | Action::DisableUpgradeMode => {
                upgrade_mode = Some(if before.upgrade_mode {
                    UpgradeMode::Enabled
                } else {
                    UpgradeMode::Disabled
                });
            }
            Action::RefreshOpenJob | Action::RefreshCloseJob => {
                // The job went through open and close and is where it was; what changed is
                // its current snapshot, which is newer, and stays.
            }
            Action::UpgradeSnapshot | Action::DeleteSnapshot => {
                gate.push(target);
            }
            Action::ScheduleMaintenance | Action::RemoveMaintenance => {
                maintenance = undo_of(log, &mut notes);
            }
        }
    }
    if !gate.is_empty() {
        notes.push(format!(
            "model snapshots the run upgraded or deleted stay as they are ({}): an upgrade or a \
             deletion cannot be undone, and a refreshed snapshot is simply newer",
            gate.join(", ")
        ));
    }
    Revert {
        jobs,
        datafeeds,
        upgrade_mode,
        maintenance,
        notes,
    }
}

/// The made playbook: the run's cluster and settings, then the targets; a section with no
/// target is left out.
fn render(log: &RunLog, name: &str, description: &str, sections: &Sections) -> String {
    let mut w = PlaybookWriter::new();
    w.comment("Made by quiesce from a run journal.");
    w.head(name, Some(description));
    let url = log.header.cluster_url.trim_end_matches('/');
    if !url.is_empty() {
        w.cluster(Text::Literal(url), &[]);
    }
    w.settings(&Settings::from(&log.header.plan.settings));
    if !sections.jobs.is_empty() {
        w.jobs(&sections.jobs);
    }
    if !sections.datafeeds.is_empty() {
        w.datafeeds(&sections.datafeeds);
    }
    if let Some(mode) = sections.upgrade_mode {
        w.upgrade_mode(mode);
    }
    if let Some(upgrade) = &sections.upgrade {
        w.upgrade(upgrade.target_version, upgrade.old_snapshots);
    }
    if let Some(maintenance) = &sections.maintenance {
        w.maintenance(maintenance);
    }
    w.finish()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::journal::read::parse_journal;

    /// The journal of a real `apply` of `workflows/pre-upgrade-shutdown.yaml` against the demo
    /// cluster, written by quiesce 0.1.
    fn journal() -> RunLog {
        parse_journal(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/written-by-0.1/journal-pre-upgrade-shutdown.jsonl"
        )))
        .expect("the fixture journal reads")
    }

    #[test]
    fn the_resume_playbook() {
        insta::assert_snapshot!(resume_playbook(&journal()));
    }

    /// A run planned for an upgrade: its resume plans the snapshot gate again (the `upgrade:`
    /// section, not the snapshot steps, goes into the playbook); its revert undoes none of
    /// them and says so.
    #[test]
    fn snapshot_steps_are_planned_again_on_resume_and_left_alone_by_revert() {
        use crate::model::{EsVersion, OldSnapshots, load};
        use crate::plan::{Action, UpgradeView};
        use crate::playbook::Source;

        let mut log = journal();
        let upgrade = UpgradeView {
            target_version: EsVersion::new(9, 0, 0),
            old_snapshots: OldSnapshots::Upgrade,
        };
        log.header.plan.settings.upgrade = Some(upgrade);
        let mut step = log.segments[0].plan.steps[0].clone();
        step.action = Action::UpgradeSnapshot;
        step.target = "web-latency/1600000000".to_owned();
        log.segments[0].plan.steps.push(step);

        let resume = resume_playbook(&log);
        assert!(
            resume.contains("upgrade:\n  target_version: 9.0.0\n  old_snapshots: upgrade\n"),
            "{resume}"
        );
        let env = |_: &str| None;
        let loaded = load(&Source::new("resume.yaml", resume.as_str()), &env)
            .unwrap_or_else(|invalid| panic!("{:?}\n{resume}", invalid.problems()));
        let target = loaded.upgrade.expect("an upgrade section");
        assert_eq!(target.target_version, EsVersion::new(9, 0, 0));
        assert_eq!(target.old_snapshots, OldSnapshots::Upgrade);
        assert!(!resume.contains("1600000000"), "{resume}");

        let revert = revert_of(&log);
        assert!(
            revert
                .notes
                .iter()
                .any(|note| note.contains("web-latency/1600000000")
                    && note.contains("cannot be undone")),
            "{:?}",
            revert.notes
        );
        assert!(!revert_playbook(&log).contains("upgrade:"));
    }

    #[test]
    fn the_revert_playbook() {
        insta::assert_snapshot!(revert_playbook(&journal()));
    }

    /// Both playbooks load, even when a name in the journal holds a literal `${` (written
    /// `$${` in a playbook): the made text must not turn it into a variable reference.
    #[test]
    fn made_playbooks_load_and_keep_literal_text() {
        use crate::model::{Selector, load};
        use crate::playbook::Source;

        let mut log = journal();
        log.header.plan.playbook.name = "costs ${HOME} #1: no".to_owned();
        let env = |_: &str| None;
        for text in [resume_playbook(&log), revert_playbook(&log)] {
            let playbook = load(&Source::new("made.yaml", text.as_str()), &env)
                .unwrap_or_else(|invalid| panic!("{:?}\n{text}", invalid.problems()));
            let description = playbook.description.expect("a description");
            assert!(
                description.contains("`costs ${HOME} #1: no`"),
                "{description}"
            );
            assert_eq!(playbook.settings.concurrency.get(), 8);
            assert!(
                playbook
                    .jobs
                    .iter()
                    .all(|job| matches!(job.selector, Selector::Id(_)))
            );
        }
        let resumed = load(
            &Source::new("resume.yaml", resume_playbook(&log).as_str()),
            &env,
        )
        .expect("loads");
        let targets = resumed.jobs.len() + resumed.datafeeds.len() + 1;
        assert_eq!(targets, log.targets().len());
    }
}
