//! The maintenance step's requests against Elasticsearch (docs/elasticsearch-ml-api.md §13):
//! schedule (create the calendar when absent, add the jobs it lacks, post the run's event when
//! the calendar has none) and undo (delete the run's event, remove the jobs it added, delete
//! the calendar it created once nothing else is on it). Each looks first and does only what is
//! missing, so a request made again (a retry, a resumed run) adds nothing twice.
//!
//! Owns the calls and what "scheduled" means; never retries or waits: the step driver does.

use crate::es::types::{Calendar, ScheduledEvent};
use crate::es::{self, EsClient};
use crate::plan::{MaintenanceView, event_tag};

use super::event::{Observation, TargetState};

/// The maintenance calendar as it is now, seen from one run.
struct Held {
    calendar: Option<Calendar>,
    /// The run's own events (tagged with its id).
    ours: Vec<ScheduledEvent>,
    /// Everybody else's.
    others: usize,
}

impl Held {
    async fn look(client: &EsClient, calendar: &str, run: &str) -> Result<Held, es::Error> {
        let Some(found) = client.calendar(calendar).await? else {
            return Ok(Held {
                calendar: None,
                ours: Vec::new(),
                others: 0,
            });
        };
        let tag = event_tag(run);
        let (ours, others): (Vec<ScheduledEvent>, Vec<ScheduledEvent>) = client
            .calendar_events(calendar)
            .await?
            .into_iter()
            .partition(|e| e.description.contains(&tag));
        Ok(Held {
            calendar: Some(found),
            ours,
            others: others.len(),
        })
    }

    /// The jobs of `jobs` the calendar names (`_all` names every job).
    fn naming<'j>(&self, jobs: &'j [String]) -> Vec<&'j String> {
        let on = self.calendar.as_ref().map_or(&[][..], |c| &c.job_ids[..]);
        jobs.iter()
            .filter(|j| on.iter().any(|o| o == *j || o == "_all"))
            .collect()
    }

    /// The calendar still holds something of the undo: the run's event, a job it added, or
    /// itself when the run created it and nothing else is on it.
    fn holds_undo(&self, jobs: &[String], delete_calendar: bool) -> bool {
        let Some(calendar) = &self.calendar else {
            return false;
        };
        let only_ours = self.others == 0 && calendar.job_ids.iter().all(|j| jobs.contains(j));
        !self.ours.is_empty()
            || self
                .naming(jobs)
                .iter()
                .any(|j| calendar.job_ids.contains(j))
            || (delete_calendar && only_ours)
    }
}

/// Makes the maintenance step's change, for run `run`.
pub(super) async fn request(
    client: &EsClient,
    view: &MaintenanceView,
    run: &str,
) -> Result<(), es::Error> {
    let calendar = view.calendar();
    let held = Held::look(client, calendar, run).await?;
    match view {
        MaintenanceView::Schedule {
            description,
            start_ms,
            end_ms,
            jobs,
            ..
        } => {
            if held.calendar.is_none() {
                client
                    .put_calendar(
                        calendar,
                        &format!("maintenance windows, created by quiesce run {run}"),
                    )
                    .await?;
            }
            let named = held.naming(jobs);
            let missing: Vec<String> = jobs
                .iter()
                .filter(|j| !named.contains(j))
                .cloned()
                .collect();
            if !missing.is_empty() {
                client.put_calendar_jobs(calendar, &missing).await?;
            }
            if held.ours.is_empty() {
                let text = format!("{description} {}", event_tag(run));
                client
                    .post_calendar_event(calendar, &text, *start_ms, *end_ms)
                    .await?;
            }
        }
        MaintenanceView::Undo {
            run: scheduled_by,
            jobs,
            delete_calendar,
            ..
        } => {
            // The events to delete are those of the run that scheduled them.
            let held = Held::look(client, calendar, scheduled_by).await?;
            let Some(found) = &held.calendar else {
                return Ok(());
            };
            for event in &held.ours {
                client
                    .delete_calendar_event(calendar, &event.event_id)
                    .await?;
            }
            let added: Vec<String> = jobs
                .iter()
                .filter(|j| found.job_ids.contains(j))
                .cloned()
                .collect();
            if !added.is_empty() {
                client.delete_calendar_jobs(calendar, &added).await?;
            }
            let left = found.job_ids.iter().any(|j| !jobs.contains(j));
            if *delete_calendar && held.others == 0 && !left {
                client.delete_calendar(calendar).await?;
            }
        }
    }
    Ok(())
}

/// Where the maintenance step stands: `scheduled` while the run's event (and its jobs) are on
/// the calendar, `unscheduled` otherwise.
pub(super) async fn observe(
    client: &EsClient,
    view: &MaintenanceView,
    run: &str,
) -> Result<Observation, es::Error> {
    let calendar = view.calendar();
    let scheduled = match view {
        MaintenanceView::Schedule { jobs, .. } => {
            let held = Held::look(client, calendar, run).await?;
            held.calendar.is_some()
                && !held.ours.is_empty()
                && held.naming(jobs).len() == jobs.len()
        }
        MaintenanceView::Undo {
            run: scheduled_by,
            jobs,
            delete_calendar,
            ..
        } => Held::look(client, calendar, scheduled_by)
            .await?
            .holds_undo(jobs, *delete_calendar),
    };
    Ok(Observation {
        state: if scheduled {
            TargetState::Scheduled
        } else {
            TargetState::Unscheduled
        },
        node: None,
        assignment_explanation: None,
        min_version: None,
    })
}
