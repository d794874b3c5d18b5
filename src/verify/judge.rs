//! Whether one target works again, judged from two samples of its stats: the first taken when
//! the verification began and the latest (docs/elasticsearch-ml-api.md §14). Pure: no I/O, no
//! clock.

use crate::es::types::{DataCounts, DatafeedState, DatafeedStats, JobState, JobStats};
use crate::exec::{Finding, Observation, Proof};

/// What one read of a datafeed's stats (and its job's `data_counts`) showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FeedSample {
    pub observed: Observation,
    pub started: bool,
    /// Started without an `end`; `true` when stats do not say (no running state).
    pub real_time: bool,
    pub real_time_running: bool,
    /// End of the current runner's last successful search (8.1 and later).
    pub search_end_ms: Option<i64>,
    pub search_count: u64,
    /// The job's `processed_record_count`, when its stats were read.
    pub processed_records: Option<u64>,
}

impl FeedSample {
    pub(crate) fn new(stats: &DatafeedStats, job: Option<&JobStats>) -> FeedSample {
        let running = stats.running_state;
        FeedSample {
            observed: Observation {
                state: stats.state.into(),
                node: stats.node.as_ref().map(|n| n.id.clone()),
                assignment_explanation: stats
                    .assignment_explanation
                    .clone()
                    .filter(|e| !e.is_empty()),
                min_version: None,
            },
            started: stats.state == DatafeedState::Started,
            real_time: running.is_none_or(|r| r.real_time_configured),
            real_time_running: running.is_some_and(|r| r.real_time_running),
            search_end_ms: running.and_then(|r| r.search_interval).map(|i| i.end_ms),
            search_count: stats.timing_stats.map_or(0, |t| t.search_count),
            processed_records: job
                .and_then(|j| j.data_counts)
                .map(|c: DataCounts| c.processed_record_count),
        }
    }
}

/// A target proved that it works, or has not yet: what to report if time runs out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Judgement {
    Proven(Proof),
    Pending(Finding),
}

/// A datafeed works when it is `started`, its runner runs in real time, and it made progress:
/// a successful search by the runner this run started (`started_by_run`), or the search
/// window, the search count or its job's processed records moved on since `first`.
pub(crate) fn datafeed(
    first: &FeedSample,
    now: &FeedSample,
    started_by_run: bool,
    watched: std::time::Duration,
) -> Judgement {
    if !now.started {
        return Judgement::Pending(Finding::NotInState {
            observed: now.observed.clone(),
        });
    }
    if !now.real_time {
        return Judgement::Proven(Proof::Lookback);
    }
    if !now.real_time_running {
        return Judgement::Pending(Finding::NotRunning {
            observed: now.observed.clone(),
        });
    }
    if let Some(end) = now.search_end_ms {
        if started_by_run {
            return Judgement::Proven(Proof::Searched { end_ms: end });
        }
        if first.search_end_ms.is_none_or(|before| before < end) {
            return Judgement::Proven(Proof::SearchAdvanced {
                from_ms: first.search_end_ms,
                to_ms: end,
            });
        }
    }
    if now.search_count > first.search_count {
        return Judgement::Proven(Proof::SearchCountAdvanced {
            from: first.search_count,
            to: now.search_count,
        });
    }
    if let (Some(from), Some(to)) = (first.processed_records, now.processed_records)
        && to > from
    {
        return Judgement::Proven(Proof::RecordsAdvanced { from, to });
    }
    Judgement::Pending(Finding::NoProgress {
        observed: now.observed.clone(),
        search_count: now.search_count,
        last_search_end_ms: now.search_end_ms,
        processed_records: now.processed_records,
        watched,
    })
}

/// A job works when it is `opened` and assigned to a node.
pub(crate) fn job(stats: &JobStats) -> Judgement {
    let observed = Observation {
        state: stats.state.into(),
        node: stats.node.as_ref().map(|n| n.id.clone()),
        assignment_explanation: stats
            .assignment_explanation
            .clone()
            .filter(|e| !e.is_empty()),
        min_version: None,
    };
    match (&stats.state, &observed.node) {
        (JobState::Opened, Some(node)) => Judgement::Proven(Proof::Assigned { node: node.clone() }),
        (JobState::Opened, None) => Judgement::Pending(Finding::Unassigned { observed }),
        _ => Judgement::Pending(Finding::NotInState { observed }),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::exec::TargetState;

    fn sample(search_end_ms: Option<i64>, search_count: u64, records: Option<u64>) -> FeedSample {
        FeedSample {
            observed: Observation {
                state: TargetState::Started,
                node: Some("node-1".into()),
                assignment_explanation: None,
                min_version: None,
            },
            started: true,
            real_time: true,
            real_time_running: true,
            search_end_ms,
            search_count,
            processed_records: records,
        }
    }

    const WATCHED: Duration = Duration::from_secs(30);

    #[test]
    fn a_search_of_the_runner_this_run_started_is_proof() {
        let first = sample(None, 4, Some(10));
        let now = sample(Some(1_000), 4, Some(10));
        assert_eq!(
            datafeed(&first, &now, true, WATCHED),
            Judgement::Proven(Proof::Searched { end_ms: 1_000 })
        );
    }

    #[test]
    fn without_a_restart_the_search_window_must_move() {
        // A window already there when quiesce began watching proves nothing by itself: the
        // runner may have stalled since (§14.2).
        let first = sample(Some(1_000), 4, Some(10));
        let stalled = datafeed(&first, &first.clone(), false, WATCHED);
        assert!(
            matches!(
                &stalled,
                Judgement::Pending(Finding::NoProgress {
                    search_count: 4,
                    last_search_end_ms: Some(1_000),
                    processed_records: Some(10),
                    ..
                })
            ),
            "{stalled:?}"
        );
        assert_eq!(
            datafeed(&first, &sample(Some(61_000), 4, Some(10)), false, WATCHED),
            Judgement::Proven(Proof::SearchAdvanced {
                from_ms: Some(1_000),
                to_ms: 61_000
            })
        );
    }

    #[test]
    fn counts_that_grow_are_proof_where_there_is_no_search_window() {
        // Before 8.1 there is no `search_interval`: the search count or the records decide.
        let first = sample(None, 4, Some(10));
        assert_eq!(
            datafeed(&first, &sample(None, 5, Some(10)), false, WATCHED),
            Judgement::Proven(Proof::SearchCountAdvanced { from: 4, to: 5 })
        );
        assert_eq!(
            datafeed(&first, &sample(None, 4, Some(12)), false, WATCHED),
            Judgement::Proven(Proof::RecordsAdvanced { from: 10, to: 12 })
        );
    }

    #[test]
    fn a_started_datafeed_that_is_not_running_is_not_proven_by_old_counts() {
        let first = sample(None, 4, Some(10));
        let mut waiting = sample(None, 9, Some(50));
        waiting.real_time_running = false;
        waiting.observed.node = None;
        waiting.observed.assignment_explanation = Some("datafeed awaiting job assignment.".into());
        assert!(matches!(
            datafeed(&first, &waiting, true, WATCHED),
            Judgement::Pending(Finding::NotRunning { .. })
        ));
        let mut stopped = sample(Some(5), 9, Some(50));
        stopped.started = false;
        assert!(matches!(
            datafeed(&first, &stopped, true, WATCHED),
            Judgement::Pending(Finding::NotInState { .. })
        ));
    }

    #[test]
    fn a_lookback_datafeed_has_nothing_to_prove_in_real_time() {
        let first = sample(None, 0, None);
        let mut lookback = first.clone();
        lookback.real_time = false;
        lookback.real_time_running = false;
        assert_eq!(
            datafeed(&first, &lookback, false, WATCHED),
            Judgement::Proven(Proof::Lookback)
        );
    }
}
