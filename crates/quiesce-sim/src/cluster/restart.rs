//! Nodes leaving and joining the cluster, one at a time as a rolling restart takes them
//! (docs/elasticsearch-ml-api.md §3.3): a job whose node leaves keeps its task, which the
//! cluster assigns to another node with room (its model restored there, its datafeed
//! following once it reports `opened`) or leaves unassigned until room appears; with upgrade
//! mode on nothing moves until it is disabled. A node may come back on another version; the
//! cluster answers as its oldest node. Also the persistent-task allocation setting (E13).

use std::time::Duration;

use serde_json::{Value, json};

use super::model::{DatafeedState, JobState};
use super::{Cluster, Shared, State};
use crate::EsError;
use crate::seed::EsVersion;

impl Cluster {
    /// `POST /_sim/nodes/<node>/_leave`: the node (name or id) leaves the cluster.
    pub(crate) fn node_leave(&self, node: &str) -> Result<Value, EsError> {
        let index = self.node_index(node)?;
        self.transition(|state, shared| state.node_left(shared, index));
        Ok(self.nodes())
    }

    /// `POST /_sim/nodes/<node>/_join`: the node comes back, on `version` when given.
    pub(crate) fn node_join(
        &self,
        node: &str,
        version: Option<EsVersion>,
    ) -> Result<Value, EsError> {
        let index = self.node_index(node)?;
        self.transition(|state, shared| state.node_joined(shared, index, version));
        Ok(self.nodes())
    }

    /// `POST /_sim/rolling_restart`: every node in turn leaves, stays away `downtime` and comes
    /// back (on `version` when given); answers once the last node is back. The seed's
    /// `rolling_restart:` gives the defaults.
    pub(crate) async fn rolling_restart(
        &self,
        version: Option<EsVersion>,
        downtime: Option<Duration>,
    ) -> Result<Value, EsError> {
        let version = version.or(self.shared.rolling_restart.version);
        let downtime = downtime.unwrap_or(self.shared.rolling_restart.downtime);
        self.transition(|state, _| {
            if state.restarting {
                return Err(EsError::conflict("a rolling restart is already running"));
            }
            state.restarting = true;
            Ok(())
        })?;
        for index in 0..self.shared.nodes.len() {
            self.transition(|state, shared| state.node_left(shared, index));
            tokio::time::sleep(downtime).await;
            self.transition(|state, shared| state.node_joined(shared, index, version));
        }
        self.transition(|state, _| state.restarting = false);
        Ok(self.nodes())
    }

    /// Starts the seed's rolling restart after its `after` delay, if it has one.
    pub(super) fn schedule_rolling_restart(&self) {
        let Some(after) = self.shared.rolling_restart.after else {
            return;
        };
        let cluster = self.clone();
        self.spawn(async move {
            tokio::time::sleep(after).await;
            let _ = cluster.rolling_restart(None, None).await;
        });
    }

    /// `PUT /_sim/settings`: `cluster.persistent_tasks.allocation.enable` as `all` or `none`.
    pub(crate) fn set_task_allocation(&self, enabled: bool) -> Value {
        self.transition(|state, shared| {
            state.allocation_enabled = enabled;
            state.assign_waiting(shared);
        });
        json!({"acknowledged": true})
    }

    /// `GET /_sim/nodes`: each node, whether it is in the cluster, its version and jobs.
    pub(crate) fn nodes(&self) -> Value {
        let state = self.lock();
        self.nodes_json(&state)
    }

    pub(super) fn nodes_json(&self, state: &State) -> Value {
        let nodes: Vec<Value> = self
            .shared
            .nodes
            .iter()
            .zip(&state.nodes)
            .map(|(node, now)| {
                let jobs: Vec<&str> = state
                    .jobs
                    .values()
                    .filter(|job| job.node == Some(node.index) && job.state.has_task())
                    .map(|job| job.id.as_str())
                    .collect();
                json!({
                    "id": node.id,
                    "name": node.name,
                    "in_cluster": now.up,
                    "version": now.version.to_string(),
                    "memory_bytes": node.memory_bytes,
                    "jobs": jobs,
                })
            })
            .collect();
        json!(nodes)
    }

    fn node_index(&self, node: &str) -> Result<usize, EsError> {
        self.shared
            .nodes
            .iter()
            .position(|candidate| candidate.name == node || candidate.id == node)
            .ok_or_else(|| {
                EsError::new(
                    404,
                    "resource_not_found_exception",
                    format!("no ML node [{node}] in the simulated cluster"),
                )
            })
    }
}

impl State {
    /// The node leaves: what ran there loses its node (`PersistentTasksClusterService`
    /// reassigns the tasks). An opened job keeps reporting `opened` from its stale task state
    /// until its new node has restored the model (job stats read `MlTasks.getJobState`); a
    /// closing job is closed without persisting (`runJob` marks a reassigned closing task
    /// completed); a failed job stays failed; a stopping datafeed's task completes.
    fn node_left(&mut self, shared: &Shared, index: usize) {
        if !self.nodes[index].up {
            return;
        }
        self.nodes[index].up = false;
        let moved: Vec<String> = self
            .jobs
            .values()
            .filter(|job| job.node == Some(index) && job.state.has_task())
            .map(|job| job.id.clone())
            .collect();
        for id in &moved {
            let job = self.jobs.get_mut(id).expect("listed above");
            job.transition = None;
            job.opened_at = None;
            match job.state {
                JobState::Closing => {
                    job.state = JobState::Closed;
                    job.node = None;
                    job.stale = false;
                }
                JobState::Opened => {
                    job.node = None;
                    job.stale = true;
                }
                JobState::Opening | JobState::Failed | JobState::Closed => job.node = None,
            }
            if let Some(df) = self
                .datafeed_of_job
                .get(id)
                .and_then(|df| self.datafeeds.get_mut(df))
            {
                df.progress.lose_runner();
            }
            let stopping = self
                .datafeed_of_job
                .get(id)
                .and_then(|df| self.datafeeds.get(df))
                .filter(|df| df.state == DatafeedState::Stopping)
                .map(|df| df.id.clone());
            if let Some(df) = stopping {
                self.force_stop(shared, &df, false);
            }
        }
        self.activity.state_changed();
        self.assign_waiting(shared);
    }

    /// The node is back (on `version` when given): waiting tasks may go to it.
    fn node_joined(&mut self, shared: &Shared, index: usize, version: Option<EsVersion>) {
        let node = &mut self.nodes[index];
        node.up = true;
        if let Some(version) = version {
            node.version = version;
        }
        self.activity.state_changed();
        self.assign_waiting(shared);
    }
}
