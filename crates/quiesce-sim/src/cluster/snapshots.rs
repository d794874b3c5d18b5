//! Model snapshots beyond listing them (docs/elasticsearch-ml-api.md §12.1–§12.3): which
//! `min_version` the cluster can still open, deleting a snapshot, and upgrading one
//! (`TransportUpgradeJobModelSnapshotAction`: its checks in order, one upgrade per job, the
//! `wait_for_completion` and `timeout` of the task).

use std::time::Duration;

use serde_json::{Value, json};

use super::model::JobState;
use super::{Cluster, Timeout};
use crate::EsError;
use crate::seed::EsVersion;

/// The oldest snapshot `min_version` a cluster of `version` opens, and the version its refusal
/// names (`MachineLearningField.MIN_CHECKED_SUPPORTED_SNAPSHOT_VERSION` /
/// `MIN_REPORTED_SUPPORTED_SNAPSHOT_VERSION`): 8.x checks 6.4.0 and reports 7.0.0, 9.x requires
/// 8.3.0 (the last change of the model state format); 7.x is taken to check and report 6.4.0.
pub(crate) fn min_supported(version: EsVersion) -> (EsVersion, EsVersion) {
    let v = |major, minor, patch| EsVersion {
        major,
        minor,
        patch,
    };
    match version.major {
        major if major >= 9 => (v(8, 3, 0), v(8, 3, 0)),
        8 => (v(6, 4, 0), v(7, 0, 0)),
        _ => (v(6, 4, 0), v(6, 4, 0)),
    }
}

fn no_snapshot(job: &str, snapshot: &str) -> EsError {
    EsError::new(
        404,
        "resource_not_found_exception",
        format!("No model snapshot with id [{snapshot}] exists for job [{job}]"),
    )
}

impl Cluster {
    /// `DELETE /_ml/anomaly_detectors/<job>/model_snapshots/<snapshot>`.
    pub(crate) fn delete_model_snapshot(
        &self,
        job_id: &str,
        snapshot: &str,
    ) -> Result<Value, EsError> {
        self.transition(|state, _| {
            let job = state.job_mut(job_id)?;
            if job.model_snapshot_id.as_deref() == Some(snapshot) {
                return Err(EsError::new(
                    400,
                    "illegal_argument_exception",
                    format!(
                        "Model snapshot '{snapshot}' is the active snapshot for job '{job_id}', so \
                         cannot be deleted"
                    ),
                ));
            }
            let before = job.snapshots.len();
            job.snapshots.retain(|s| s.snapshot_id != snapshot);
            if job.snapshots.len() == before {
                return Err(no_snapshot(job_id, snapshot));
            }
            Ok(json!({"acknowledged": true}))
        })
    }

    /// `POST /_ml/anomaly_detectors/<job>/model_snapshots/<snapshot>/_upgrade`: answers once the
    /// upgrade task is assigned (`completed: false`), or once it finished with
    /// `wait_for_completion`; the upgraded snapshot's `min_version` is the cluster's version.
    pub(crate) async fn upgrade_model_snapshot(
        &self,
        job_id: &str,
        snapshot: &str,
        wait_for_completion: bool,
        timeout: &Timeout,
    ) -> Result<Value, EsError> {
        let (node, work) = self.transition(|state, shared| {
            let version = state.version();
            if state.nodes.iter().any(|node| node.version != version) {
                return Err(EsError::conflict(format!(
                    "Cannot upgrade job [{job_id}] snapshot [{snapshot}] while cluster upgrade is \
                     in progress."
                )));
            }
            if state.snapshot_upgrades.contains_key(job_id) {
                return Err(EsError::conflict(format!(
                    "Cannot upgrade job [{job_id}] snapshot [{snapshot}] as there is currently a \
                     snapshot for this job being upgraded"
                )));
            }
            let job = state.job(job_id)?;
            if job.model_snapshot_id.as_deref() == Some(snapshot) && job.state != JobState::Closed {
                return Err(EsError::conflict(format!(
                    "Cannot upgrade snapshot [{snapshot}] for job [{job_id}] as it is the current \
                     primary job snapshot and the job's state is [{}]. Please close the job \
                     before upgrading the snapshot.",
                    job.state
                )));
            }
            let found = job
                .snapshots
                .iter()
                .find(|s| s.snapshot_id == snapshot)
                .ok_or_else(|| no_snapshot(job_id, snapshot))?;
            if found.min_version == version {
                return Err(EsError::conflict(format!(
                    "Cannot upgrade job [{job_id}] snapshot [{snapshot}] as it is already \
                     compatible with current version {version}"
                )));
            }
            // The upgrader loads the model and persists it again.
            let bytes = found.model_bytes.max(1);
            let rate = shared.latency.persist_bytes_per_sec.max(1);
            let work =
                shared.latency.open_job + Duration::from_secs_f64(2.0 * bytes as f64 / rate as f64);
            let node = shared.nodes.iter().find(|node| state.nodes[node.index].up);
            let node = node.map(|node| node.id.clone()).unwrap_or_default();
            state
                .snapshot_upgrades
                .insert(job_id.to_owned(), snapshot.to_owned());
            Ok((node, work))
        })?;
        let cluster = self.clone();
        let (job, snap) = (job_id.to_owned(), snapshot.to_owned());
        self.spawn(async move {
            tokio::time::sleep(work).await;
            cluster.transition(|state, _| {
                let version = state.version();
                state.snapshot_upgrades.remove(&job);
                if let Some(job) = state.jobs.get_mut(&job)
                    && let Some(found) = job.snapshots.iter_mut().find(|s| s.snapshot_id == snap)
                {
                    found.min_version = version;
                }
            });
        });
        if !wait_for_completion {
            return Ok(json!({"node": node, "completed": false}));
        }
        let done = self
            .wait_for(timeout.wait, |state| {
                (!state.snapshot_upgrades.contains_key(job_id)).then_some(())
            })
            .await;
        match done {
            Some(()) => Ok(json!({"node": node, "completed": true})),
            None => Err(EsError::new(
                408,
                "status_exception",
                format!(
                    "snapshot upgrader request [{job_id}] [{snapshot}] timed out after [{}]",
                    timeout.text
                ),
            )),
        }
    }
}
