//! [`Outlook`]: what the snapshot gate and the capacity check need beyond the [`Snapshot`]
//! (docs/elasticsearch-ml-api.md §12): each job's `model_memory_limit`, `allow_lazy_open` and
//! current `model_snapshot_id`; the model snapshots of the jobs the gate checks; and the free
//! ML memory of every node.
//!
//! Read only when a plan needs it (a target version, or jobs to open), never stored in plan
//! files or journals: a saved plan carries the steps these checks produced. Never changes
//! anything on the cluster.

use std::collections::BTreeMap;

use tokio::task::JoinSet;

use super::{ObserveNote, ObservedJobState, Snapshot, page, read_retrying};
use crate::es::types::{MlInfo, byte_size};
use crate::es::{self, EsClient};
use crate::model::{EsVersion, RetryPolicy};

/// How many jobs' snapshots are read at once.
const SNAPSHOT_READS: usize = 8;

/// What the checks before the window know of a cluster.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Outlook {
    pub jobs: BTreeMap<String, JobOutlook>,
    /// `None` when no job is to be opened (the memory was not read).
    pub memory: Option<Memory>,
}

/// One job, as the checks see it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct JobOutlook {
    /// `analysis_limits.model_memory_limit` in bytes.
    pub model_memory_limit: Option<u64>,
    pub allow_lazy_open: bool,
    /// The snapshot an open restores.
    pub model_snapshot_id: Option<String>,
    /// Every model snapshot, oldest first; `None` when the gate did not ask.
    pub snapshots: Option<Vec<SnapshotInfo>>,
}

/// One model snapshot.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SnapshotInfo {
    pub id: String,
    /// `None` when Elasticsearch gives none or one quiesce cannot read: treated as too old.
    pub min_version: Option<EsVersion>,
    /// As Elasticsearch wrote it, for messages.
    pub min_version_text: String,
}

/// The ML memory of the cluster, from the API its version offers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Memory {
    /// 8.2+: `GET _ml/memory/_stats`, node by node.
    Nodes(Vec<NodeRoom>),
    /// Before 8.2: `GET _ml/info` `limits`, the cluster as one pool.
    Pooled {
        /// `effective_max_model_memory_limit`: the largest job any one node takes.
        largest_job: Option<u64>,
        /// `total_ml_memory`: every ML node together.
        total: Option<u64>,
    },
}

/// One ML node: what it has free and how many job tasks it holds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NodeRoom {
    pub id: String,
    pub name: String,
    /// `max_in_bytes` less every use (docs/elasticsearch-ml-api.md §12.5).
    pub free: u64,
    /// Whether ES already counts the native code overhead on this node (it has an ML process).
    pub has_native_overhead: bool,
    /// Job tasks assigned to it (opened, opening, closing, failed with a node), from job stats.
    pub jobs: usize,
}

/// What to read: the jobs whose snapshots the gate checks, and whether memory matters.
#[derive(Debug, Clone, Default)]
pub(crate) struct OutlookRequest {
    pub snapshots_of: Vec<String>,
    pub memory: bool,
}

/// Reads what `request` asks for, each read retried as `policy` says.
pub(crate) async fn outlook(
    client: &EsClient,
    policy: &RetryPolicy,
    tell: &(dyn Fn(ObserveNote) + Sync),
    snapshot: &Snapshot,
    request: &OutlookRequest,
) -> Result<Outlook, es::Error> {
    let configs = page::all(
        |expr| async move {
            read_retrying(policy, "ml.get_jobs", tell, || client.jobs(&expr))
                .await
                .map(|r| r.jobs)
        },
        |job| &job.job_id,
    )
    .await?;
    let mut jobs: BTreeMap<String, JobOutlook> = configs
        .iter()
        .map(|config| {
            (
                config.job_id.clone(),
                JobOutlook {
                    model_memory_limit: config.model_memory_limit(),
                    allow_lazy_open: config.allow_lazy_open,
                    model_snapshot_id: config.model_snapshot_id.clone(),
                    snapshots: None,
                },
            )
        })
        .collect();
    for (job, snapshots) in snapshots_of(client, policy, &request.snapshots_of).await? {
        if let Some(outlook) = jobs.get_mut(&job) {
            outlook.snapshots = Some(snapshots);
        }
    }
    let memory = if request.memory {
        Some(memory(client, policy, tell, snapshot).await?)
    } else {
        None
    };
    Ok(Outlook { jobs, memory })
}

/// The snapshots of `jobs`, [`SNAPSHOT_READS`] jobs at a time. A job deleted since the
/// snapshot (404) is left out.
async fn snapshots_of(
    client: &EsClient,
    policy: &RetryPolicy,
    jobs: &[String],
) -> Result<Vec<(String, Vec<SnapshotInfo>)>, es::Error> {
    let mut out = Vec::with_capacity(jobs.len());
    let mut pending = jobs.iter().cloned();
    let mut running = JoinSet::new();
    loop {
        while running.len() < SNAPSHOT_READS
            && let Some(job) = pending.next()
        {
            let client = client.clone();
            let policy = policy.clone();
            running.spawn(async move {
                let silent = |_: ObserveNote| {};
                let read = read_retrying(&policy, "ml.get_model_snapshots", &silent, || {
                    client.model_snapshots(&job)
                })
                .await;
                (job, read)
            });
        }
        let Some(done) = running.join_next().await else {
            break;
        };
        // The tasks are never cancelled: a join error is a read that panicked.
        let (job, read) = done.unwrap_or_else(|err| std::panic::resume_unwind(err.into_panic()));
        match read {
            Ok(snapshots) => out.push((
                job,
                snapshots
                    .into_iter()
                    .map(|s| {
                        let text = s.min_version.unwrap_or_default();
                        SnapshotInfo {
                            id: s.snapshot_id,
                            min_version: EsVersion::parse(&text).ok(),
                            min_version_text: if text.is_empty() {
                                "none".to_owned()
                            } else {
                                text
                            },
                        }
                    })
                    .collect(),
            )),
            Err(err) if err.status() == Some(404) => {}
            Err(err) => return Err(err),
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// The ML memory, from `GET _ml/memory/_stats` (8.2+); a cluster that has no such endpoint
/// (400 `no handler found`, or 404 through some proxies) is read through `GET _ml/info`.
async fn memory(
    client: &EsClient,
    policy: &RetryPolicy,
    tell: &(dyn Fn(ObserveNote) + Sync),
    snapshot: &Snapshot,
) -> Result<Memory, es::Error> {
    let stats = read_retrying(policy, "ml.get_memory_stats", tell, || {
        client.memory_stats()
    })
    .await;
    match stats {
        Ok(stats) => {
            let mut tasks: BTreeMap<&str, usize> = BTreeMap::new();
            for job in snapshot.jobs.values() {
                if job.state != ObservedJobState::Closed
                    && let Some(node) = &job.node
                {
                    *tasks.entry(node.as_str()).or_default() += 1;
                }
            }
            Ok(Memory::Nodes(
                stats
                    .nodes
                    .into_iter()
                    .filter(|(_, node)| {
                        node.roles.is_empty() || node.roles.iter().any(|r| r == "ml")
                    })
                    .map(|(id, node)| NodeRoom {
                        free: node.mem.ml.free(),
                        has_native_overhead: node.mem.ml.native_code_overhead_in_bytes > 0,
                        jobs: tasks.get(id.as_str()).copied().unwrap_or(0),
                        name: node.name,
                        id,
                    })
                    .collect(),
            ))
        }
        Err(err) if matches!(err.status(), Some(400 | 404)) => {
            let info: MlInfo = read_retrying(policy, "ml.info", tell, || client.ml_info()).await?;
            Ok(Memory::Pooled {
                largest_job: info
                    .limits
                    .effective_max_model_memory_limit
                    .as_deref()
                    .and_then(byte_size),
                total: info.limits.total_ml_memory.as_deref().and_then(byte_size),
            })
        }
        Err(err) => Err(err),
    }
}
