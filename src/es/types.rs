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
}

/// Present while a datafeed runs: whether it was started without an `end` (real-time).
#[derive(Debug, Clone, Copy, Deserialize)]
pub(crate) struct RunningState {
    pub real_time_configured: bool,
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
