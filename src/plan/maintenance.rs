//! The maintenance calendar's part of a plan (`maintenance:` in the playbook,
//! docs/elasticsearch-ml-api.md §13): what the scheduling step does, with the window resolved
//! to times and the jobs it covers, or what the removal step takes away. It travels in the
//! plan (and so in the journal's header), which is what lets `revert` remove exactly what a
//! run added.

use serde::{Deserialize, Serialize};

/// The tag every event quiesce posts carries in its description: how a run finds its own
/// event again (Elasticsearch's answer to a post has no event id, §13.3), so that a resumed run
/// posts no second one and a revert deletes that one only.
pub(crate) fn event_tag(run_id: &str) -> String {
    format!("[quiesce run {run_id}]")
}

/// What the maintenance step of a plan does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum MaintenanceView {
    /// Put `jobs` (the ones the plan closes) on `calendar`, creating it when absent, and post
    /// one event from `start_ms` to `end_ms` (epoch ms) described `description` and the run's
    /// tag.
    Schedule {
        calendar: String,
        description: String,
        start_ms: i64,
        end_ms: i64,
        jobs: Vec<String>,
        /// The calendar when the plan was made: `None` offline.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<CalendarBefore>,
    },
    /// Remove what run `run` added: its event, `jobs` from the calendar, and the calendar when
    /// that run created it (`delete_calendar`) and nothing else is on it. Not before the
    /// datafeeds of `catch_up` (those the plan starts) have analysed past the maintenance:
    /// a started datafeed first runs a lookback over the window, and removing the event while
    /// its buckets are analysed would let the anomalies it was for be scored
    /// (docs/elasticsearch-ml-api.md §13, §14.1).
    Undo {
        calendar: String,
        run: String,
        jobs: Vec<String>,
        delete_calendar: bool,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        catch_up: Vec<String>,
    },
}

impl MaintenanceView {
    pub(crate) fn calendar(&self) -> &str {
        match self {
            MaintenanceView::Schedule { calendar, .. } | MaintenanceView::Undo { calendar, .. } => {
                calendar
            }
        }
    }
}

/// A calendar as observed before a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub(crate) enum CalendarBefore {
    Absent,
    Present { job_ids: Vec<String> },
}
