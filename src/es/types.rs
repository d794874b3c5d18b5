//! Response bodies quiesce reads, typed. Only the fields quiesce uses are declared; unknown fields
//! are ignored so that newer Elasticsearch versions keep working.

use serde::{Deserialize, Serialize};

/// An anomaly detection job's state (docs/elasticsearch-ml-api.md §3.1), as the wire has it.
/// Strict on purpose: a state not listed here fails the read with `Error::Decode` (the reason
/// is in `observe::state`, which turns this into quiesce's own type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum JobState {
    Opening,
    Opened,
    Closing,
    Closed,
    Failed,
}

impl JobState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            JobState::Opening => "opening",
            JobState::Opened => "opened",
            JobState::Closing => "closing",
            JobState::Closed => "closed",
            JobState::Failed => "failed",
        }
    }
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A datafeed's state (docs/elasticsearch-ml-api.md §3.2), as the wire has it; strict like
/// [`JobState`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum DatafeedState {
    Starting,
    Started,
    Stopping,
    Stopped,
}

impl DatafeedState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DatafeedState::Starting => "starting",
            DatafeedState::Started => "started",
            DatafeedState::Stopping => "stopping",
            DatafeedState::Stopped => "stopped",
        }
    }
}

impl std::fmt::Display for DatafeedState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `GET /`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RootInfo {
    #[serde(default)]
    pub cluster_name: String,
    #[serde(default)]
    pub cluster_uuid: String,
    pub version: RootVersion,
    #[serde(default)]
    pub tagline: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RootVersion {
    pub number: String,
}

impl RootInfo {
    /// `(major, minor)` of the cluster, when the version number parses.
    pub(crate) fn version(&self) -> Option<(u32, u32)> {
        let mut parts = self.version.number.split(['.', '-']);
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        Some((major, minor))
    }
}

/// `GET /_ml/info` (only what quiesce needs).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct MlInfo {
    #[serde(default)]
    pub upgrade_mode: bool,
}

/// `GET /_ml/anomaly_detectors/<expr>/_stats`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct JobStatsResponse {
    pub jobs: Vec<JobStats>,
}

/// One job's runtime statistics.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct JobStats {
    pub job_id: String,
    pub state: JobState,
    #[serde(default)]
    pub node: Option<NodeInfo>,
    #[serde(default)]
    pub assignment_explanation: Option<String>,
    #[serde(default)]
    pub model_size_stats: Option<ModelSizeStats>,
    /// What the job's process has been fed (live while it is opened; §14.1).
    #[serde(default)]
    pub data_counts: Option<DataCounts>,
}

/// A job's `data_counts` (docs/elasticsearch-ml-api.md §14.1): only what shows that data
/// arrives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub(crate) struct DataCounts {
    #[serde(default)]
    pub processed_record_count: u64,
    /// Wall time (epoch ms) of the last post of data to the job.
    #[serde(default)]
    pub last_data_time: Option<i64>,
}

impl JobStats {
    /// Size of the model in memory: what a close must persist and an open restore.
    pub(crate) fn model_bytes(&self) -> u64 {
        self.model_size_stats.as_ref().map_or(0, |m| m.model_bytes)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ModelSizeStats {
    #[serde(default)]
    pub model_bytes: u64,
}

/// The node a job or datafeed task runs on.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct NodeInfo {
    pub id: String,
}

/// `GET /_ml/datafeeds/<expr>/_stats`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct DatafeedStatsResponse {
    pub datafeeds: Vec<DatafeedStats>,
}

/// One datafeed's runtime statistics.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct DatafeedStats {
    pub datafeed_id: String,
    pub state: DatafeedState,
    #[serde(default)]
    pub node: Option<NodeInfo>,
    #[serde(default)]
    pub assignment_explanation: Option<String>,
    #[serde(default)]
    pub running_state: Option<RunningState>,
    /// Its searches so far, as last written to the results index (§14.1: in ~10% steps).
    #[serde(default)]
    pub timing_stats: Option<TimingStats>,
}

/// Present while a datafeed has a task (docs/elasticsearch-ml-api.md §14.1).
#[derive(Debug, Clone, Copy, Deserialize)]
pub(crate) struct RunningState {
    /// Started without an `end` (real-time).
    pub real_time_configured: bool,
    /// The runner on its node finished its lookback; `false` while unassigned or starting.
    #[serde(default)]
    pub real_time_running: bool,
    /// The window of the current runner's last successful search (8.1 and later); absent
    /// until it has one.
    #[serde(default)]
    pub search_interval: Option<SearchInterval>,
}

/// `running_state.search_interval`, epoch milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub(crate) struct SearchInterval {
    pub start_ms: i64,
    pub end_ms: i64,
}

/// A datafeed's `timing_stats`: only the count of successful searches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub(crate) struct TimingStats {
    #[serde(default)]
    pub search_count: u64,
}

/// `GET /_ml/calendars/<id>` (docs/elasticsearch-ml-api.md §13.1).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct CalendarsResponse {
    pub calendars: Vec<Calendar>,
}

/// A calendar: the jobs (or groups, or `_all`) it names.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Calendar {
    pub calendar_id: String,
    #[serde(default)]
    pub job_ids: Vec<String>,
}

/// `GET /_ml/calendars/<id>/events` (§13.3).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct EventsResponse {
    pub count: u64,
    pub events: Vec<ScheduledEvent>,
}

/// A scheduled event as listed: with the id the index gave it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ScheduledEvent {
    pub event_id: String,
    pub description: String,
}

/// `GET /_ml/anomaly_detectors/<expr>`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct JobsResponse {
    pub jobs: Vec<JobConfig>,
}

/// A job's configuration (only what quiesce needs).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct JobConfig {
    pub job_id: String,
    #[serde(default)]
    pub groups: Vec<String>,
}

/// `GET /_ml/datafeeds/<expr>`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct DatafeedsResponse {
    pub datafeeds: Vec<DatafeedConfig>,
}

/// A datafeed's configuration (only what quiesce needs).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct DatafeedConfig {
    pub datafeed_id: String,
    pub job_id: String,
}

/// `POST /_security/user/_has_privileges`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct HasPrivileges {
    #[serde(default)]
    pub username: String,
    pub has_all_requested: bool,
    #[serde(default)]
    pub cluster: std::collections::BTreeMap<String, bool>,
}

impl HasPrivileges {
    /// The requested cluster privileges the user lacks, in name order.
    pub(crate) fn missing(&self) -> Vec<&str> {
        self.cluster
            .iter()
            .filter(|(_, held)| !**held)
            .map(|(name, _)| name.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_stats_parse_the_documented_shape() {
        let body = r#"{"count":2,"jobs":[
          {"job_id":"a","data_counts":{"job_id":"a"},"model_size_stats":{"model_bytes":1048576},
           "state":"opened","node":{"id":"n1","name":"node-1","ephemeral_id":"e","transport_address":"127.0.0.1:9300","attributes":{}},
           "assignment_explanation":"","open_time":"13s"},
          {"job_id":"b","data_counts":{"job_id":"b"},"model_size_stats":{"model_bytes":0},"state":"closed"}]}"#;
        let stats: JobStatsResponse = serde_json::from_str(body).expect("parses");
        assert_eq!(stats.jobs[0].state, JobState::Opened);
        assert_eq!(stats.jobs[0].model_bytes(), 1_048_576);
        assert_eq!(
            stats.jobs[0].node.as_ref().map(|n| n.id.as_str()),
            Some("n1")
        );
        assert_eq!(stats.jobs[1].state, JobState::Closed);
        assert!(stats.jobs[1].node.is_none());
    }

    #[test]
    fn datafeed_stats_distinguish_real_time_from_lookback() {
        let body = r#"{"count":2,"datafeeds":[
          {"datafeed_id":"df-a","state":"started","running_state":{"real_time_configured":true,"real_time_running":true}},
          {"datafeed_id":"df-b","state":"started","running_state":{"real_time_configured":false,"real_time_running":false}}]}"#;
        let stats: DatafeedStatsResponse = serde_json::from_str(body).expect("parses");
        assert!(
            stats.datafeeds[0]
                .running_state
                .expect("running")
                .real_time_configured
        );
        assert!(
            !stats.datafeeds[1]
                .running_state
                .expect("running")
                .real_time_configured
        );
    }

    #[test]
    fn root_version_parses_snapshots_too() {
        let body = r#"{"name":"n","cluster_name":"c","cluster_uuid":"u","version":{"number":"8.15.0-SNAPSHOT"},"tagline":"You Know, for Search"}"#;
        let info: RootInfo = serde_json::from_str(body).expect("parses");
        assert_eq!(info.version(), Some((8, 15)));
    }
}
