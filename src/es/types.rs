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
    #[serde(default)]
    pub limits: MlLimits,
}

/// `limits` of `GET /_ml/info`: what a cluster before 8.2 tells of its ML memory.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct MlLimits {
    /// The largest job that fits on any ML node (`"4096mb"`).
    #[serde(default)]
    pub effective_max_model_memory_limit: Option<String>,
    /// ML memory of every ML node together (`"8gb"`).
    #[serde(default)]
    pub total_ml_memory: Option<String>,
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
    /// Epoch milliseconds, as the listing gives it (docs/elasticsearch-ml-api.md §13.3).
    #[serde(default)]
    pub end_time: Option<i64>,
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
    /// The snapshot an open restores; absent for a job that never persisted a model.
    #[serde(default)]
    pub model_snapshot_id: Option<String>,
    #[serde(default)]
    pub analysis_limits: Option<AnalysisLimits>,
    /// An open that finds no node with room leaves the job `opening`, unassigned, rather than
    /// refusing it (docs/elasticsearch-ml-api.md §2.3).
    #[serde(default)]
    pub allow_lazy_open: bool,
}

/// `analysis_limits` of a job configuration.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct AnalysisLimits {
    /// `"1024mb"`: Elasticsearch renders it in whole megabytes (or a plain number of MiB).
    #[serde(default)]
    pub model_memory_limit: Option<serde_json::Value>,
}

impl JobConfig {
    /// The job's `model_memory_limit` in bytes, when it says one quiesce can read.
    pub(crate) fn model_memory_limit(&self) -> Option<u64> {
        let value = self.analysis_limits.as_ref()?.model_memory_limit.as_ref()?;
        match value {
            // A bare number is megabytes (`ByteSizeValue` parsed with the `mb` default).
            serde_json::Value::Number(n) => n.as_u64().map(|mb| mb.saturating_mul(1 << 20)),
            serde_json::Value::String(text) => byte_size(text),
            _ => None,
        }
    }
}

/// An Elasticsearch byte size (`1024mb`, `1gb`, `512kb`, `100b`; a bare number is megabytes, as
/// `model_memory_limit` reads it).
pub(crate) fn byte_size(text: &str) -> Option<u64> {
    let text = text.trim().to_ascii_lowercase();
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let number: u64 = text[..digits_end].parse().ok()?;
    let unit: u64 = match &text[digits_end..] {
        "" | "mb" | "m" => 1 << 20,
        "b" => 1,
        "kb" | "k" => 1 << 10,
        "gb" | "g" => 1 << 30,
        "tb" | "t" => 1 << 40,
        "pb" | "p" => 1 << 50,
        _ => return None,
    };
    number.checked_mul(unit)
}

/// `GET /_ml/anomaly_detectors/<job>/model_snapshots`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ModelSnapshotsResponse {
    pub count: usize,
    pub model_snapshots: Vec<ModelSnapshot>,
}

/// One model snapshot (only what quiesce needs).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ModelSnapshot {
    pub snapshot_id: String,
    /// The oldest version that can load the model state (docs/elasticsearch-ml-api.md §12.1);
    /// absent on snapshots older than 6.x.
    #[serde(default)]
    pub min_version: Option<String>,
}

/// `GET /_ml/memory/_stats` (8.2+).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct MemoryStatsResponse {
    #[serde(default)]
    pub nodes: std::collections::BTreeMap<String, NodeMemory>,
}

/// One node of [`MemoryStatsResponse`].
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct NodeMemory {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub roles: Vec<String>,
    pub mem: NodeMem,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct NodeMem {
    pub ml: MlMemory,
}

/// `mem.ml` of a node: what ML may use and what it uses.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct MlMemory {
    pub max_in_bytes: u64,
    #[serde(default)]
    pub native_code_overhead_in_bytes: u64,
    #[serde(default)]
    pub anomaly_detectors_in_bytes: u64,
    #[serde(default)]
    pub data_frame_analytics_in_bytes: u64,
    #[serde(default)]
    pub native_inference_in_bytes: u64,
}

impl MlMemory {
    /// What is left for more jobs: `max_in_bytes` less every use (docs/elasticsearch-ml-api.md
    /// §12.5).
    pub(crate) fn free(&self) -> u64 {
        self.max_in_bytes
            .saturating_sub(self.native_code_overhead_in_bytes)
            .saturating_sub(self.anomaly_detectors_in_bytes)
            .saturating_sub(self.data_frame_analytics_in_bytes)
            .saturating_sub(self.native_inference_in_bytes)
    }
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
    /// Per index, per privilege (docs/elasticsearch-ml-api.md §11.6).
    #[serde(default)]
    pub index: std::collections::BTreeMap<String, std::collections::BTreeMap<String, bool>>,
}

impl HasPrivileges {
    /// The requested privileges the user lacks, in name order: cluster privileges by name
    /// (`manage_ml`), index privileges with their index (`write` on index `.quiesce`).
    pub(crate) fn missing(&self) -> Vec<String> {
        let cluster = self
            .cluster
            .iter()
            .filter(|(_, held)| !**held)
            .map(|(name, _)| format!("cluster `{name}`"));
        let index = self.index.iter().flat_map(|(index, privileges)| {
            privileges
                .iter()
                .filter(|(_, held)| !**held)
                .map(move |(name, _)| format!("`{name}` on index `{index}`"))
        });
        cluster.chain(index).collect()
    }
}

/// The answer to a write of one document (`_create`, `_doc`): its place in the shard's history.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Written {
    #[serde(rename = "_seq_no")]
    pub seq_no: u64,
    #[serde(rename = "_primary_term")]
    pub primary_term: u64,
}

/// `GET /<index>/_doc/<id>` of a document that exists.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct FoundDoc<T> {
    #[serde(rename = "_seq_no")]
    pub seq_no: u64,
    #[serde(rename = "_primary_term")]
    pub primary_term: u64,
    #[serde(rename = "_source")]
    pub source: T,
}

/// A search answer: its hits, in the order asked for.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct SearchAnswer<T> {
    pub hits: SearchHits<T>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct SearchHits<T> {
    pub hits: Vec<SearchHit<T>>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct SearchHit<T> {
    #[serde(rename = "_source")]
    pub source: T,
    /// The values of the sort keys, for `search_after`.
    #[serde(default)]
    pub sort: Vec<serde_json::Value>,
}

/// A `_bulk` answer: each item succeeded or failed on its own (docs/elasticsearch-ml-api.md
/// §11.5).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct BulkAnswer {
    pub items: Vec<std::collections::BTreeMap<String, BulkItem>>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct BulkItem {
    #[serde(rename = "_id", default)]
    pub id: String,
    pub status: u16,
    #[serde(default)]
    pub error: Option<serde_json::Value>,
}

impl BulkAnswer {
    /// The ids of the items that failed, and the first failure's words.
    pub(crate) fn failed(&self) -> (Vec<String>, Option<String>) {
        let mut ids = Vec::new();
        let mut first = None;
        for item in self.items.iter().flat_map(|item| item.values()) {
            if let Some(error) = &item.error {
                ids.push(item.id.clone());
                first.get_or_insert_with(|| {
                    format!(
                        "{} {}: {}",
                        item.status,
                        error["type"].as_str().unwrap_or("error"),
                        error["reason"].as_str().unwrap_or_default()
                    )
                });
            }
        }
        (ids, first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes_read_as_elasticsearch_writes_them() {
        assert_eq!(byte_size("1024mb"), Some(1024 << 20));
        assert_eq!(byte_size("1gb"), Some(1 << 30));
        assert_eq!(byte_size("512"), Some(512 << 20));
        assert_eq!(byte_size("100b"), Some(100));
        assert_eq!(byte_size("12 parsecs"), None);
        assert_eq!(byte_size(""), None);
    }

    #[test]
    fn a_job_config_gives_its_memory_limit_snapshot_and_lazy_open() {
        let body = r#"{"count":1,"jobs":[{"job_id":"a","groups":["g"],"model_snapshot_id":"1575402237",
          "analysis_limits":{"model_memory_limit":"2048mb","categorization_examples_limit":4},
          "allow_lazy_open":true}]}"#;
        let jobs: JobsResponse = serde_json::from_str(body).expect("parses");
        let job = &jobs.jobs[0];
        assert_eq!(job.model_memory_limit(), Some(2048 << 20));
        assert_eq!(job.model_snapshot_id.as_deref(), Some("1575402237"));
        assert!(job.allow_lazy_open);
    }

    #[test]
    fn free_ml_memory_is_the_maximum_less_every_use() {
        let body = r#"{"_nodes":{"total":1,"successful":1,"failed":0},"cluster_name":"c","nodes":{"n1":{
          "name":"ml-1","roles":["ml"],"mem":{"total_in_bytes":8589934592,"adjusted_total_in_bytes":8589934592,
          "ml":{"max_in_bytes":4294967296,"native_code_overhead_in_bytes":31457280,
          "anomaly_detectors_in_bytes":1073741824,"data_frame_analytics_in_bytes":0,
          "native_inference_in_bytes":0}},"jvm":{"heap_max_in_bytes":1}}}}"#;
        let stats: MemoryStatsResponse = serde_json::from_str(body).expect("parses");
        let ml = &stats.nodes["n1"].mem.ml;
        assert_eq!(ml.free(), 4_294_967_296 - 31_457_280 - 1_073_741_824);
    }

    #[test]
    fn missing_privileges_name_cluster_and_index_ones() {
        let answer: HasPrivileges = serde_json::from_str(
            r#"{"username":"ops","has_all_requested":false,
                "cluster":{"manage_ml":true,"monitor":false},
                "index":{".quiesce":{"create_index":false,"read":true,"write":false}},
                "application":{}}"#,
        )
        .expect("parses");
        assert_eq!(
            answer.missing(),
            [
                "cluster `monitor`",
                "`create_index` on index `.quiesce`",
                "`write` on index `.quiesce`"
            ]
        );
    }

    #[test]
    fn a_bulk_answer_says_which_items_failed() {
        let answer: BulkAnswer = serde_json::from_str(
            r#"{"errors":true,"took":3,"items":[
              {"index":{"_index":".quiesce","_id":"r-0","status":201,"result":"created"}},
              {"index":{"_index":".quiesce","_id":"r-1","status":429,
                "error":{"type":"es_rejected_execution_exception","reason":"rejected execution"}}}]}"#,
        )
        .expect("parses");
        let (failed, first) = answer.failed();
        assert_eq!(failed, ["r-1"]);
        assert_eq!(
            first.as_deref(),
            Some("429 es_rejected_execution_exception: rejected execution")
        );
    }

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
