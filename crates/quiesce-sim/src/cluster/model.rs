//! The simulated resources: jobs and datafeeds with their configuration, persistent-task state
//! and model snapshots (docs/elasticsearch-ml-api.md §3, §9). Plain data; transitions live in `jobs.rs` and
//! `datafeeds.rs`, JSON rendering in `render.rs`.

use std::fmt;
use std::time::Instant;

use jiff::Timestamp;
use serde_json::Value;
use tokio::sync::oneshot;

use super::progress::{DataCounts, DatafeedProgress};

/// `JobState` as Elasticsearch reports it (docs/elasticsearch-ml-api.md §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobState {
    Closed,
    Opening,
    Opened,
    Closing,
    Failed,
}

impl JobState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            JobState::Closed => "closed",
            JobState::Opening => "opening",
            JobState::Opened => "opened",
            JobState::Closing => "closing",
            JobState::Failed => "failed",
        }
    }

    /// Whether the job has a persistent task (every state but `closed`).
    pub(crate) fn has_task(self) -> bool {
        self != JobState::Closed
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `DatafeedState` as Elasticsearch reports it (docs/elasticsearch-ml-api.md §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DatafeedState {
    Stopped,
    Starting,
    Started,
    Stopping,
}

impl DatafeedState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DatafeedState::Stopped => "stopped",
            DatafeedState::Starting => "starting",
            DatafeedState::Started => "started",
            DatafeedState::Stopping => "stopping",
        }
    }

    /// Whether the datafeed has a persistent task (every state but `stopped`).
    pub(crate) fn has_task(self) -> bool {
        self != DatafeedState::Stopped
    }
}

impl fmt::Display for DatafeedState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The stored configuration of an anomaly detection job (docs/elasticsearch-ml-api.md §2.6, §2.10).
#[derive(Debug, Clone)]
pub(crate) struct JobConfig {
    pub(crate) groups: Vec<String>,
    pub(crate) description: Option<String>,
    pub(crate) bucket_span: String,
    /// The detectors as given, each already carrying its `detector_index`.
    pub(crate) detectors: Vec<Value>,
    pub(crate) influencers: Vec<Value>,
    pub(crate) data_description: Value,
    pub(crate) model_memory_limit: u64,
    pub(crate) allow_lazy_open: bool,
    pub(crate) create_time: Timestamp,
}

/// A job and its persistent task.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) id: String,
    pub(crate) config: JobConfig,
    /// Size of the persisted model: drives persist (close) and restore (open) time.
    pub(crate) model_bytes: u64,
    pub(crate) state: JobState,
    /// Index of the ML node the task is assigned to; `None` when closed or awaiting a node.
    pub(crate) node: Option<usize>,
    /// The task state was set on an earlier assignment: the job lost its node (a node left) and
    /// has not reported `opened` from a new one yet (`JobTaskState.isStatusStale`).
    pub(crate) stale: bool,
    /// Why the task has no node, when it has none (the assignment explanation of §2.7).
    pub(crate) explanation: Option<String>,
    pub(crate) opened_at: Option<Instant>,
    pub(crate) finished_time: Option<Timestamp>,
    pub(crate) snapshots: Vec<Snapshot>,
    /// The snapshot the job restores from when opened (`model_snapshot_id`).
    pub(crate) model_snapshot_id: Option<String>,
    /// Dropping it cancels the background transition (open/close) in flight.
    pub(crate) transition: Option<oneshot::Sender<()>>,
    /// What its datafeed posted (`data_counts`).
    pub(crate) data_counts: DataCounts,
}

impl Job {
    /// Whether the job was opened lazily and waits for its first node.
    pub(crate) fn awaiting_node(&self) -> bool {
        self.state == JobState::Opening && self.node.is_none() && !self.stale
    }

    /// Whether the task waits for a node: a lazy open, or a job whose node left. A failed job
    /// runs nothing wherever it is assigned, and a closing one is closed once it moves.
    pub(crate) fn needs_node(&self) -> bool {
        matches!(self.state, JobState::Opening | JobState::Opened) && self.node.is_none()
    }

    /// Whether its model takes memory on its node: `JobNodeSelector` counts neither closed nor
    /// failed jobs ("they don't consume native memory").
    pub(crate) fn uses_memory(&self) -> bool {
        self.node.is_some() && !matches!(self.state, JobState::Closed | JobState::Failed)
    }
}

/// A model snapshot (docs/elasticsearch-ml-api.md §2.12).
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    pub(crate) snapshot_id: String,
    pub(crate) timestamp: Timestamp,
    pub(crate) description: String,
    pub(crate) model_bytes: u64,
    /// The oldest version that can load the model state.
    pub(crate) min_version: crate::seed::EsVersion,
    pub(crate) retain: bool,
}

impl Job {
    /// The snapshot the job would restore from.
    pub(crate) fn current_snapshot(&self) -> Option<&Snapshot> {
        let id = self.model_snapshot_id.as_deref()?;
        self.snapshots
            .iter()
            .find(|snapshot| snapshot.snapshot_id == id)
    }
}

/// The stored configuration of a datafeed (docs/elasticsearch-ml-api.md §2.8, §2.11).
#[derive(Debug, Clone)]
pub(crate) struct DatafeedConfig {
    pub(crate) job_id: String,
    pub(crate) indices: Vec<String>,
    pub(crate) query: Value,
    pub(crate) scroll_size: u64,
    pub(crate) query_delay: Option<String>,
    pub(crate) frequency: Option<String>,
    pub(crate) max_empty_searches: Option<u64>,
}

/// A datafeed and its persistent task.
#[derive(Debug)]
pub(crate) struct Datafeed {
    pub(crate) id: String,
    pub(crate) config: DatafeedConfig,
    pub(crate) state: DatafeedState,
    /// `end` of the current run (epoch ms): a lookback datafeed that closes its job when done.
    pub(crate) end_ms: Option<i64>,
    /// The start latency has passed; the datafeed becomes `started` once its job is opened.
    pub(crate) start_ready: bool,
    /// Its searches, timing stats and place in the data (docs/elasticsearch-ml-api.md §14).
    pub(crate) progress: DatafeedProgress,
    /// Dropping it cancels the background transition in flight (start, stop, lookback).
    pub(crate) transition: Option<oneshot::Sender<()>>,
    /// Dropping it ends the real-time searches of a started datafeed.
    pub(crate) searches: Option<oneshot::Sender<()>>,
}
