//! The read APIs and their JSON bodies: job and datafeed configs with defaults filled in
//! (docs/elasticsearch-ml-api.md §2.6, §2.8), job and datafeed stats (§2.7, §2.9), model snapshots (§2.12).
//! Every list is sorted by id.

use std::time::Instant;

use serde_json::{Value, json};

use super::jobs::AWAITING_LAZY_ASSIGNMENT;
use super::model::{Datafeed, DatafeedState, Job, JobState, Snapshot};
use super::nodes::Node;
use super::progress::DataCounts;
use super::{Cluster, State};
use crate::EsError;

/// Options of `GET .../model_snapshots`.
#[derive(Debug, Clone, Default)]
pub(crate) struct SnapshotQuery {
    pub(crate) snapshot_id: Option<String>,
    pub(crate) from: usize,
    pub(crate) size: Option<usize>,
    pub(crate) start_ms: Option<i64>,
    pub(crate) end_ms: Option<i64>,
    pub(crate) desc: bool,
}

impl Cluster {
    /// `GET /_ml/anomaly_detectors[/<expr>]`.
    pub(crate) fn get_jobs(
        &self,
        expr: &str,
        allow_no_match: bool,
        exclude_generated: bool,
    ) -> Result<Value, EsError> {
        self.read(|state, _| {
            let ids = state.expand_jobs(expr, allow_no_match)?;
            let jobs: Vec<Value> = ids
                .iter()
                .take(MAX_STATS)
                .map(|id| job_config(state, &state.jobs[id], exclude_generated))
                .collect();
            Ok(json!({"count": jobs.len(), "jobs": jobs}))
        })
    }

    /// `GET /_ml/anomaly_detectors/<expr>/_stats`.
    pub(crate) fn job_stats(&self, expr: &str, allow_no_match: bool) -> Result<Value, EsError> {
        // Copy what the bodies need under the lock; build the JSON after releasing it, so a
        // stats call on thousands of jobs does not stall the cluster's transitions.
        let now = Instant::now();
        let views: Vec<JobStatsView> = self.read(|state, _| {
            let ids = state.expand_jobs(expr, allow_no_match)?;
            Ok::<_, EsError>(
                ids.iter()
                    .take(MAX_STATS)
                    .map(|id| JobStatsView::new(state, &state.jobs[id], now))
                    .collect(),
            )
        })?;
        let jobs: Vec<Value> = views
            .into_iter()
            .map(|view| view.to_json(&self.shared.nodes))
            .collect();
        Ok(json!({"count": jobs.len(), "jobs": jobs}))
    }

    /// `GET /_ml/datafeeds[/<expr>]`.
    pub(crate) fn get_datafeeds(
        &self,
        expr: &str,
        allow_no_match: bool,
        exclude_generated: bool,
    ) -> Result<Value, EsError> {
        self.read(|state, _| {
            let ids = state.expand_datafeeds(expr, allow_no_match)?;
            let datafeeds: Vec<Value> = ids
                .iter()
                .take(MAX_STATS)
                .map(|id| datafeed_config(&state.datafeeds[id], exclude_generated))
                .collect();
            Ok(json!({"count": datafeeds.len(), "datafeeds": datafeeds}))
        })
    }

    /// `GET /_ml/datafeeds/<expr>/_stats`.
    pub(crate) fn datafeed_stats(
        &self,
        expr: &str,
        allow_no_match: bool,
    ) -> Result<Value, EsError> {
        let views: Vec<DatafeedStatsView> = self.read(|state, _| {
            let ids = state.expand_datafeeds(expr, allow_no_match)?;
            Ok::<_, EsError>(
                ids.iter()
                    .take(MAX_STATS)
                    .map(|id| DatafeedStatsView::new(state, &state.datafeeds[id]))
                    .collect(),
            )
        })?;
        let datafeeds: Vec<Value> = views
            .into_iter()
            .map(|view| view.to_json(&self.shared.nodes))
            .collect();
        Ok(json!({"count": datafeeds.len(), "datafeeds": datafeeds}))
    }

    /// `GET /_ml/anomaly_detectors/<job>/model_snapshots[/<snapshot>]`.
    pub(crate) fn model_snapshots(
        &self,
        job_id: &str,
        query: &SnapshotQuery,
    ) -> Result<Value, EsError> {
        self.read(|state, _| {
            let job = state.job(job_id)?;
            let wanted = query
                .snapshot_id
                .as_deref()
                .filter(|id| !matches!(*id, "_all" | "*"));
            let mut snapshots: Vec<&Snapshot> = job
                .snapshots
                .iter()
                .filter(|s| wanted.is_none_or(|id| s.snapshot_id == id))
                .filter(|s| {
                    query
                        .start_ms
                        .is_none_or(|start| s.timestamp.as_millisecond() >= start)
                })
                .filter(|s| {
                    query
                        .end_ms
                        .is_none_or(|end| s.timestamp.as_millisecond() < end)
                })
                .collect();
            if let (Some(id), true) = (wanted, snapshots.is_empty()) {
                return Err(EsError::new(
                    404,
                    "resource_not_found_exception",
                    format!("No model snapshot with id [{id}] exists for job [{job_id}]"),
                ));
            }
            if query.desc {
                snapshots.reverse();
            }
            let count = snapshots.len();
            let page: Vec<Value> = snapshots
                .into_iter()
                .skip(query.from)
                .take(query.size.unwrap_or(100))
                .map(|s| snapshot_json(job_id, s))
                .collect();
            Ok(json!({"count": count, "model_snapshots": page}))
        })
    }
}

impl Cluster {
    /// `GET /_ml/memory[/<node>]/_stats` (8.2+): each ML node in the cluster with the memory ML
    /// may use and what its anomaly detectors take (docs/elasticsearch-ml-api.md §12.5).
    pub(crate) fn memory_stats(&self, node_filter: Option<&str>) -> Result<Value, EsError> {
        /// `MachineLearning.NATIVE_EXECUTABLE_CODE_OVERHEAD`, counted once per node with a job.
        const NATIVE_CODE_OVERHEAD: u64 = 30 * 1024 * 1024;
        self.read(|state, shared| {
            let used = state.memory_used(&shared.nodes);
            let wanted = |node: &Node| {
                node_filter.is_none_or(|filter| {
                    filter.split(',').any(|token| {
                        matches!(token, "_all" | "*") || token == node.id || token == node.name
                    })
                })
            };
            let nodes: serde_json::Map<String, Value> = shared
                .nodes
                .iter()
                .filter(|node| state.nodes[node.index].up && wanted(node))
                .map(|node| {
                    let mut body = node.to_json();
                    let overhead = if used[node.index] > 0 {
                        NATIVE_CODE_OVERHEAD
                    } else {
                        0
                    };
                    body["roles"] = json!([
                        "data",
                        "ingest",
                        "master",
                        "ml",
                        "remote_cluster_client",
                        "transform"
                    ]);
                    body["mem"] = json!({
                        "total_in_bytes": node.memory_bytes,
                        "adjusted_total_in_bytes": node.memory_bytes,
                        "ml": {
                            "max_in_bytes": node.memory_bytes,
                            "native_code_overhead_in_bytes": overhead,
                            "anomaly_detectors_in_bytes": used[node.index],
                            "data_frame_analytics_in_bytes": 0,
                            "native_inference_in_bytes": 0,
                        },
                    });
                    body["jvm"] = json!({
                        "heap_max_in_bytes": node.memory_bytes / 4,
                        "java_inference_max_in_bytes": 0,
                        "java_inference_in_bytes": 0,
                    });
                    if let Some(object) = body.as_object_mut() {
                        object.remove("id");
                    }
                    (node.id.clone(), body)
                })
                .collect();
            let count = nodes.len();
            Ok(json!({
                "_nodes": {"total": count, "successful": count, "failed": 0},
                "cluster_name": self.identity().name,
                "nodes": nodes,
            }))
        })
    }
}

/// A byte count the way ES prints a `ByteSizeValue` setting (`1024mb`).
pub(super) fn byte_size(bytes: u64) -> String {
    const KB: u64 = 1024;
    match bytes {
        0 => "0b".to_owned(),
        b if b.is_multiple_of(KB * KB * KB) && b >= KB * KB * KB * 4 => {
            format!("{}gb", b / (KB * KB * KB))
        }
        b if b.is_multiple_of(KB * KB) => format!("{}mb", b / (KB * KB)),
        b if b.is_multiple_of(KB) => format!("{}kb", b / KB),
        b => format!("{b}b"),
    }
}

fn job_config(state: &State, job: &Job, exclude_generated: bool) -> Value {
    let config = &job.config;
    let mut body = json!({ "job_id": job.id, "job_type": "anomaly_detector" });
    if !exclude_generated {
        body["job_version"] = json!(state.version().to_string());
    }
    if !config.groups.is_empty() {
        body["groups"] = json!(config.groups);
    }
    if let Some(description) = &config.description {
        body["description"] = json!(description);
    }
    if !exclude_generated {
        body["create_time"] = json!(config.create_time.as_millisecond());
        if let Some(finished) = job.finished_time {
            body["finished_time"] = json!(finished.as_millisecond());
        }
        if let Some(snapshot) = job.current_snapshot() {
            body["model_snapshot_id"] = json!(snapshot.snapshot_id);
            body["model_snapshot_min_version"] = json!(snapshot.min_version.to_string());
        }
    }
    body["analysis_config"] = json!({
        "bucket_span": config.bucket_span,
        "detectors": config.detectors,
        "influencers": config.influencers,
        "model_prune_window": "30d",
    });
    body["analysis_limits"] = json!({
        "model_memory_limit": byte_size(config.model_memory_limit),
        "categorization_examples_limit": 4,
    });
    body["data_description"] = config.data_description.clone();
    body["model_snapshot_retention_days"] = json!(10);
    body["daily_model_snapshot_retention_after_days"] = json!(1);
    body["results_index_name"] = json!("shared");
    body["allow_lazy_open"] = json!(config.allow_lazy_open);
    if !exclude_generated
        && state.version().major >= 8
        && let Some(df) = state.datafeed_for(&job.id)
    {
        body["datafeed_config"] = datafeed_config(df, false);
    }
    body
}

/// The stats and config APIs return at most this many entries, the smallest ids first
/// (docs/elasticsearch-ml-api.md §2.7, §2.9; `JobConfigProvider`/`DatafeedConfigProvider`
/// search the config index sorted by id with this size).
const MAX_STATS: usize = 10_000;

/// What a job's stats entry shows, copied out under the lock.
struct JobStatsView {
    id: String,
    state: JobState,
    node: Option<usize>,
    /// `Some` when the job has a task (`assignment_explanation` is shown).
    explanation: Option<String>,
    open_secs: Option<u64>,
    model_bytes: u64,
    model_memory_limit: u64,
    log_time_ms: i64,
    data_counts: DataCounts,
}

impl JobStatsView {
    fn new(state: &State, job: &Job, now: Instant) -> Self {
        let explanation = job.state.has_task().then(|| {
            if state.upgrade_mode {
                UPGRADE_EXPLANATION.to_owned()
            } else if job.node.is_none() && job.state != JobState::Failed {
                job.explanation
                    .clone()
                    .unwrap_or_else(|| AWAITING_LAZY_ASSIGNMENT.to_owned())
            } else {
                String::new()
            }
        });
        // `node` and `open_time` come from the job's process on its node: a job without one
        // (closed, failed, unassigned by upgrade mode, waiting for a node) has neither; its
        // stats are read from the results index (TransportGetJobsStatsAction
        // `gatherStatsForClosedJobs`, docs/elasticsearch-ml-api.md §2.7).
        let node = job
            .visible_node(state.upgrade_mode)
            .filter(|_| !matches!(job.state, JobState::Closed | JobState::Failed));
        JobStatsView {
            id: job.id.clone(),
            state: job.state,
            node,
            explanation,
            open_secs: job
                .opened_at
                .filter(|_| job.state == JobState::Opened && node.is_some())
                .map(|opened_at| now.duration_since(opened_at).as_secs()),
            model_bytes: job.model_bytes,
            model_memory_limit: job.config.model_memory_limit,
            log_time_ms: job.config.create_time.as_millisecond(),
            data_counts: job.data_counts.clone(),
        }
    }

    fn to_json(&self, nodes: &[Node]) -> Value {
        let id = &self.id;
        let mut body = json!({
            "job_id": id,
            "data_counts": self.data_counts.to_json(id),
            "model_size_stats": {
                "job_id": id, "result_type": "model_size_stats", "model_bytes": self.model_bytes,
                "peak_model_bytes": self.model_bytes, "model_bytes_exceeded": 0,
                "model_bytes_memory_limit": self.model_memory_limit,
                "total_by_field_count": 0, "total_over_field_count": 0,
                "total_partition_field_count": 0, "bucket_allocation_failures_count": 0,
                "memory_status": "ok", "categorized_doc_count": 0, "total_category_count": 0,
                "frequent_category_count": 0, "rare_category_count": 0,
                "dead_category_count": 0, "failed_category_count": 0,
                "categorization_status": "ok", "log_time": self.log_time_ms,
            },
            "forecasts_stats": { "total": 0, "forecasted_jobs": 0 },
            "state": self.state.as_str(),
        });
        if let Some(node) = self.node {
            body["node"] = nodes[node].to_json();
        }
        if let Some(explanation) = &self.explanation {
            body["assignment_explanation"] = json!(explanation);
        }
        if let Some(secs) = self.open_secs {
            body["open_time"] = json!(format!("{secs}s"));
        }
        body["timing_stats"] = json!({
            "job_id": id, "bucket_count": 0, "total_bucket_processing_time_ms": 0.0,
        });
        body
    }
}

pub(super) const UPGRADE_EXPLANATION: &str =
    "persistent task cannot be assigned while upgrade mode is enabled.";

fn datafeed_config(df: &Datafeed, exclude_generated: bool) -> Value {
    let config = &df.config;
    let mut body = json!({
        "datafeed_id": df.id,
        "job_id": config.job_id,
        "query_delay": config.query_delay.as_deref().unwrap_or("60s"),
        "indices": config.indices,
        "query": config.query,
        "scroll_size": config.scroll_size,
        "chunking_config": { "mode": "auto" },
        "delayed_data_check_config": { "enabled": true },
        "indices_options": {
            "expand_wildcards": ["open"], "ignore_unavailable": false,
            "allow_no_indices": true, "ignore_throttled": true,
        },
    });
    if let Some(frequency) = &config.frequency {
        body["frequency"] = json!(frequency);
    }
    if let Some(max) = config.max_empty_searches.filter(|max| *max > 0) {
        body["max_empty_searches"] = json!(max);
    }
    if !exclude_generated {
        body["authorization"] = json!({ "roles": ["superuser"] });
    }
    body
}

/// What a datafeed's stats entry shows, copied out under the lock.
struct DatafeedStatsView {
    id: String,
    state: DatafeedState,
    node: Option<usize>,
    explanation: Option<String>,
    /// The persisted `timing_stats` (docs/elasticsearch-ml-api.md §14).
    timing_stats: Value,
    running_state: Option<Value>,
}

impl DatafeedStatsView {
    fn new(state: &State, df: &Datafeed) -> Self {
        let running = matches!(df.state, DatafeedState::Started | DatafeedState::Stopping);
        let node = state.datafeed_node(df).filter(|_| running);
        let explanation = df.state.has_task().then(|| state.datafeed_explanation(df));
        DatafeedStatsView {
            id: df.id.clone(),
            state: df.state,
            node,
            explanation,
            timing_stats: df.progress.timing_stats_json(&df.config.job_id),
            running_state: df.progress.running_state_json(
                df,
                state.datafeed_node(df),
                state.version(),
            ),
        }
    }

    fn to_json(&self, nodes: &[Node]) -> Value {
        let mut body = json!({ "datafeed_id": self.id, "state": self.state.as_str() });
        if let Some(node) = self.node {
            body["node"] = nodes[node].to_json();
        }
        if let Some(explanation) = &self.explanation {
            body["assignment_explanation"] = json!(explanation);
        }
        body["timing_stats"] = self.timing_stats.clone();
        if let Some(running_state) = &self.running_state {
            body["running_state"] = running_state.clone();
        }
        body
    }
}

fn snapshot_json(job_id: &str, snapshot: &Snapshot) -> Value {
    let ms = snapshot.timestamp.as_millisecond();
    json!({
        "job_id": job_id,
        "min_version": snapshot.min_version.to_string(),
        "timestamp": ms,
        "description": snapshot.description,
        "snapshot_id": snapshot.snapshot_id,
        "snapshot_doc_count": 1,
        "model_size_stats": {
            "job_id": job_id, "result_type": "model_size_stats",
            "model_bytes": snapshot.model_bytes, "memory_status": "ok",
            "log_time": ms, "timestamp": ms,
        },
        "latest_record_time_stamp": ms,
        "latest_result_time_stamp": ms,
        "retain": snapshot.retain,
    })
}

#[cfg(test)]
mod tests {
    use super::byte_size;

    #[test]
    fn byte_sizes_read_like_es_settings() {
        assert_eq!(byte_size(1024 * 1024 * 1024), "1024mb");
        assert_eq!(byte_size(16 * 1024 * 1024 * 1024), "16gb");
        assert_eq!(byte_size(12 * 1024), "12kb");
        assert_eq!(byte_size(1000), "1000b");
    }
}
