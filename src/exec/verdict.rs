//! What the verification of a recovery found, as event data: for each opened job and started
//! datafeed, the proof that it works again ([`Proof`]) or what stats showed instead
//! ([`Finding`]). Facts only; `report::run` chooses the words, `verify` decides.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::event::{Observation, StepError};

/// What a verified target is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Resource {
    Job,
    Datafeed,
}

impl Resource {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Resource::Job => "job",
            Resource::Datafeed => "datafeed",
        }
    }
}

/// Why a target counts as working again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Proof {
    /// The job is `opened` and assigned to `node`.
    Assigned { node: String },
    /// The datafeed's runner, started by this run, made a successful search: its
    /// `running_state.search_interval` ends at `end_ms` (docs/elasticsearch-ml-api.md §14.1).
    Searched { end_ms: i64 },
    /// `running_state.search_interval` moved on while quiesce watched.
    SearchAdvanced { from_ms: Option<i64>, to_ms: i64 },
    /// `timing_stats.search_count` grew while quiesce watched.
    SearchCountAdvanced { from: u64, to: u64 },
    /// The job's `data_counts.processed_record_count` grew while quiesce watched.
    RecordsAdvanced { from: u64, to: u64 },
    /// The datafeed runs a lookback with an `end`: it stops by itself, there is no real-time
    /// progress to prove.
    Lookback,
}

/// What stats showed of a target that could not be verified within the time allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Finding {
    /// The job is not `opened` (or the datafeed not `started`).
    NotInState { observed: Observation },
    /// The job is `opened` but on no node: Elasticsearch's explanation says why.
    Unassigned { observed: Observation },
    /// The datafeed is `started` but its runner is not running in real time (unassigned,
    /// waiting for its job, or its lookback not finished).
    NotRunning { observed: Observation },
    /// The datafeed is `started` and running on a node, but no successful search and no new
    /// record while quiesce watched: its searches fail (§14.2).
    NoProgress {
        observed: Observation,
        search_count: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_search_end_ms: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        processed_records: Option<u64>,
        #[serde(rename = "watched_ms", with = "super::event::millis")]
        watched: Duration,
    },
    /// Stats do not list it: deleted meanwhile.
    Gone,
    /// Its stats could not be read; `error` is the last failure.
    Unread { error: StepError },
}
