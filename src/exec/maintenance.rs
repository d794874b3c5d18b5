//! The maintenance step's requests against Elasticsearch (docs/elasticsearch-ml-api.md §13):
//! schedule (create the calendar when absent, add the jobs it lacks, post the run's event when
//! the calendar has none) and undo (delete the run's event, remove the jobs it added, delete
//! the calendar it created once nothing else is on it). Each looks first and does only what is
//! missing, so a request made again (a retry, a resumed run) adds nothing twice.
//!
//! The undo has a precondition ([`catching_up`]): the run's event is removed only once every
//! datafeed the plan started has analysed past the maintenance (docs/elasticsearch-ml-api.md
//! §14.1). A started datafeed first runs a lookback over the gap, the window included;
//! Elasticsearch applies a job's scheduled events when its process analyses the buckets, and a
//! removal reaches the running process at once: removed earlier, the event would let the
//! window's anomalies be scored and alerted.
//!
//! Owns the calls and what "scheduled" and "caught up" mean; never retries or waits: the step
//! driver does.

use crate::es::types::{Calendar, DatafeedState, DatafeedStats, ScheduledEvent};
use crate::es::{self, EsClient};
use crate::plan::{MaintenanceView, event_tag};

use super::event::{Behind, CatchingUp, Observation, TargetState};

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

/// The first datafeed that holds the removal of the run's event back, with what its stats
/// show; `None` when the removal may go (or the view is not a removal). `since_ms` is when the
/// removal began to wait, never before the plan's datafeeds were started; `version` the
/// cluster's `(major, minor)`, `None` when unknown.
///
/// A datafeed of `catch_up` has caught up when its `running_state` shows `real_time_running`
/// (its lookback over the gap is over: `DatafeedRunner.Holder.isLookbackFinished`) and, from
/// 8.1, a `search_interval` (the last successful search, `SearchInterval`) whose `end_ms`
/// reached the earlier of the event's end and `since_ms`. A lookback that failed counts as
/// finished in Elasticsearch (§14.2): only `search_interval` tells that the window was
/// analysed, so on 8.1+ no `search_interval` holds the removal back. Datafeeds not brought
/// back do not hold it: deleted, not `started`/`starting`, or lookback-only (an `end`).
pub(super) async fn catching_up(
    client: &EsClient,
    view: &MaintenanceView,
    since_ms: i64,
    version: Option<(u32, u32)>,
) -> Result<Option<CatchingUp>, es::Error> {
    let MaintenanceView::Undo {
        calendar,
        run: scheduled_by,
        catch_up,
        ..
    } = view
    else {
        return Ok(None);
    };
    if catch_up.is_empty() {
        return Ok(None);
    }
    let held = Held::look(client, calendar, scheduled_by).await?;
    if held.ours.is_empty() {
        // The event is gone already: nothing left that the wait protects.
        return Ok(None);
    }
    let until_ms = held
        .ours
        .iter()
        .filter_map(|e| e.end_time)
        .max()
        .map_or(since_ms, |end| end.min(since_ms));
    // 8.1 brought `search_interval`; an unknown version is taken to have it, so that the
    // removal never goes early.
    let has_interval = version.is_none_or(|v| v >= (8, 1));
    for datafeed in catch_up {
        if let Some(behind) = behind(client, datafeed, until_ms, has_interval).await? {
            return Ok(Some(CatchingUp {
                datafeed: datafeed.clone(),
                until_ms,
                behind,
            }));
        }
    }
    Ok(None)
}

/// How far `datafeed` is from `until_ms`; `None` when it has caught up or is not running.
async fn behind(
    client: &EsClient,
    datafeed: &str,
    until_ms: i64,
    has_interval: bool,
) -> Result<Option<Behind>, es::Error> {
    let stats = match client.datafeed_stats(datafeed).await {
        Ok(stats) => stats,
        // Deleted meanwhile: not brought back.
        Err(err) if err.is_no_datafeed() => return Ok(None),
        Err(err) => return Err(err),
    };
    Ok(stats
        .datafeeds
        .first()
        .and_then(|feed| lag(feed, until_ms, has_interval)))
}

/// What `feed`'s stats show of its lag behind `until_ms`; `None` when it has caught up or is
/// not brought back (not `started`/`starting`, or lookback-only).
fn lag(feed: &DatafeedStats, until_ms: i64, has_interval: bool) -> Option<Behind> {
    if !matches!(feed.state, DatafeedState::Started | DatafeedState::Starting) {
        return None;
    }
    match feed.running_state {
        None => Some(Behind::Lookback),
        Some(state) if !state.real_time_configured => None,
        Some(state) if !state.real_time_running => Some(Behind::Lookback),
        Some(state) => match state.search_interval {
            Some(interval) if interval.end_ms >= until_ms => None,
            Some(interval) => Some(Behind::SearchedTo {
                end_ms: interval.end_ms,
            }),
            None if has_interval => Some(Behind::NoSearch),
            None => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(json: &str) -> DatafeedStats {
        serde_json::from_str(json).expect("datafeed stats")
    }

    const UNTIL: i64 = 1_000_000;

    #[test]
    fn caught_up_once_real_time_and_searched_to_the_mark() {
        let at = |end: i64| {
            feed(&format!(
                r#"{{"datafeed_id":"df","state":"started","running_state":{{"real_time_configured":true,"real_time_running":true,"search_interval":{{"start_ms":0,"end_ms":{end}}}}}}}"#
            ))
        };
        assert_eq!(lag(&at(UNTIL), UNTIL, true), None);
        assert_eq!(
            lag(&at(UNTIL - 1), UNTIL, true),
            Some(Behind::SearchedTo { end_ms: UNTIL - 1 })
        );
    }

    #[test]
    fn a_lookback_under_way_or_no_runner_yet_holds_it_back() {
        let lookback = feed(
            r#"{"datafeed_id":"df","state":"started","running_state":{"real_time_configured":true,"real_time_running":false}}"#,
        );
        assert_eq!(lag(&lookback, UNTIL, true), Some(Behind::Lookback));
        let starting = feed(r#"{"datafeed_id":"df","state":"starting"}"#);
        assert_eq!(lag(&starting, UNTIL, true), Some(Behind::Lookback));
    }

    #[test]
    fn a_failed_lookback_counts_as_finished_but_shows_no_search_from_8_1() {
        // §14.2: `real_time_running` is true after a lookback whose searches failed.
        let failing = feed(
            r#"{"datafeed_id":"df","state":"started","running_state":{"real_time_configured":true,"real_time_running":true}}"#,
        );
        assert_eq!(lag(&failing, UNTIL, true), Some(Behind::NoSearch));
        // Before 8.1 there is no `search_interval`: the end of the lookback is all there is.
        assert_eq!(lag(&failing, UNTIL, false), None);
    }

    #[test]
    fn datafeeds_not_brought_back_do_not_hold_it() {
        let stopped = feed(r#"{"datafeed_id":"df","state":"stopped"}"#);
        assert_eq!(lag(&stopped, UNTIL, true), None);
        let lookback_only = feed(
            r#"{"datafeed_id":"df","state":"started","running_state":{"real_time_configured":false,"real_time_running":false}}"#,
        );
        assert_eq!(lag(&lookback_only, UNTIL, true), None);
    }
}
