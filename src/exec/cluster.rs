//! [`Cluster`]: the little a step needs of a cluster (make its request, read its target's state),
//! so that the scheduler and the step driver run against an in-memory fake on tokio's paused
//! clock in tests, and against Elasticsearch through [`EsClient`] otherwise.
//!
//! Owns the trait and the `EsClient` adapter. Must never retry, wait or decide anything: that is
//! the step driver's; and never build Elasticsearch requests itself: that is `es`'s.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use crate::es::request::Force;
use crate::es::types::{DatafeedState, JobState};
use crate::es::{self, EsClient};
use crate::plan::{Action, MaintenanceView, SnapshotTarget};

use super::event::{CatchingUp, Observation, TargetState};
use super::maintenance;

/// What a step needs of the cluster.
pub(crate) trait Cluster: Send + Sync + 'static {
    /// Asks for the step's change: stop a datafeed or close a job (with `force=true` when
    /// `forced`), open a job, start a datafeed, switch upgrade mode. `left` is the time left to
    /// the step: the request carries it (Elasticsearch's `timeout`, a little less, and the
    /// client's own deadline).
    fn request(
        &self,
        action: Action,
        target: &str,
        forced: bool,
        left: Duration,
    ) -> impl Future<Output = Result<(), es::Error>> + Send;

    /// What stats say of the step's target now; `None` when it is not there (deleted).
    fn observe(
        &self,
        action: Action,
        target: &str,
    ) -> impl Future<Output = Result<Option<Observation>, es::Error>> + Send;

    /// What holds the step's request back for now, a precondition that does not hold yet;
    /// `None` when the request may go. Only the removal of the maintenance event has one: the
    /// datafeeds the run started must have analysed past the maintenance first.
    fn held_back(
        &self,
        action: Action,
        target: &str,
    ) -> impl Future<Output = Result<Option<CatchingUp>, es::Error>> + Send {
        let _ = (action, target);
        std::future::ready(Ok(None))
    }
}

/// The cluster a run acts on: Elasticsearch, with what the plan's maintenance step needs (the
/// calendar work, and the run whose event it is).
#[derive(Debug, Clone)]
pub(crate) struct RunCluster {
    pub client: EsClient,
    pub maintenance: Option<MaintenanceView>,
    pub run_id: String,
    /// When the removal of the maintenance event first looked at its precondition (epoch ms):
    /// never before the datafeeds it waits for were started.
    removal_since: OnceLock<i64>,
    /// The cluster's `(major, minor)`, read once for that precondition.
    version: OnceLock<Option<(u32, u32)>>,
}

impl RunCluster {
    pub(crate) fn new(
        client: EsClient,
        maintenance: Option<MaintenanceView>,
        run_id: String,
    ) -> RunCluster {
        RunCluster {
            client,
            maintenance,
            run_id,
            removal_since: OnceLock::new(),
            version: OnceLock::new(),
        }
    }

    async fn version(&self) -> Result<Option<(u32, u32)>, es::Error> {
        if let Some(version) = self.version.get() {
            return Ok(*version);
        }
        let version = self.client.root().await?.version();
        Ok(*self.version.get_or_init(|| version))
    }

    fn maintenance(&self) -> Result<&MaintenanceView, es::Error> {
        self.maintenance.as_ref().ok_or_else(|| es::Error::Decode {
            endpoint: "ml.get_calendars",
            source: serde::de::Error::custom(
                "this is a bug in quiesce, please report it: a maintenance step in a plan without its maintenance",
            ),
        })
    }
}

impl Cluster for RunCluster {
    async fn request(
        &self,
        action: Action,
        target: &str,
        forced: bool,
        left: Duration,
    ) -> Result<(), es::Error> {
        let force = if forced { Force::Yes } else { Force::No };
        let client = &self.client;
        match action {
            Action::StopDatafeed => client.stop_datafeed(target, force, left).await,
            Action::CloseJob | Action::RefreshCloseJob => {
                client.close_job(target, force, left).await
            }
            Action::OpenJob | Action::RefreshOpenJob => client.open_job(target, left).await,
            Action::StartDatafeed => client.start_datafeed(target, left).await,
            Action::EnableUpgradeMode => client.set_upgrade_mode(true, left).await,
            Action::DisableUpgradeMode => client.set_upgrade_mode(false, left).await,
            Action::UpgradeSnapshot => {
                let snap = snapshot_target(target)?;
                client
                    .upgrade_model_snapshot(&snap.job, &snap.snapshot, left)
                    .await
            }
            Action::DeleteSnapshot => {
                let snap = snapshot_target(target)?;
                client
                    .delete_model_snapshot(&snap.job, &snap.snapshot, left)
                    .await
            }
            Action::ScheduleMaintenance | Action::RemoveMaintenance => {
                maintenance::request(client, self.maintenance()?, &self.run_id).await
            }
        }
    }

    async fn observe(
        &self,
        action: Action,
        target: &str,
    ) -> Result<Option<Observation>, es::Error> {
        let client = &self.client;
        Ok(match action {
            Action::StopDatafeed | Action::StartDatafeed => {
                let stats = client.datafeed_stats(target).await?;
                stats.datafeeds.into_iter().next().map(|feed| Observation {
                    state: feed.state.into(),
                    node: feed.node.map(|n| n.id),
                    assignment_explanation: feed.assignment_explanation.filter(|e| !e.is_empty()),
                    min_version: None,
                })
            }
            Action::CloseJob
            | Action::OpenJob
            | Action::RefreshOpenJob
            | Action::RefreshCloseJob => {
                let stats = client.job_stats(target).await?;
                stats.jobs.into_iter().next().map(|job| Observation {
                    state: job.state.into(),
                    node: job.node.map(|n| n.id),
                    assignment_explanation: job.assignment_explanation.filter(|e| !e.is_empty()),
                    min_version: None,
                })
            }
            Action::EnableUpgradeMode | Action::DisableUpgradeMode => {
                let on = client.ml_info().await?.upgrade_mode;
                Some(Observation {
                    state: if on {
                        TargetState::Enabled
                    } else {
                        TargetState::Disabled
                    },
                    node: None,
                    assignment_explanation: None,
                    min_version: None,
                })
            }
            Action::UpgradeSnapshot | Action::DeleteSnapshot => {
                let snap = snapshot_target(target)?;
                client
                    .model_snapshot(&snap.job, &snap.snapshot)
                    .await?
                    .map(|found| Observation {
                        state: TargetState::Present,
                        node: None,
                        assignment_explanation: None,
                        min_version: found.min_version,
                    })
            }
            Action::ScheduleMaintenance | Action::RemoveMaintenance => {
                Some(maintenance::observe(client, self.maintenance()?, &self.run_id).await?)
            }
        })
    }

    async fn held_back(
        &self,
        action: Action,
        _target: &str,
    ) -> Result<Option<CatchingUp>, es::Error> {
        if action != Action::RemoveMaintenance {
            return Ok(None);
        }
        let since_ms = *self
            .removal_since
            .get_or_init(|| jiff::Timestamp::now().as_millisecond());
        let version = self.version().await?;
        maintenance::catching_up(&self.client, self.maintenance()?, since_ms, version).await
    }
}

/// The job and snapshot of a snapshot step; a target that is not `<job>/<snapshot>` can only
/// come from an edited plan file, and is refused as Elasticsearch would refuse the path.
fn snapshot_target(target: &str) -> Result<SnapshotTarget, es::Error> {
    SnapshotTarget::parse(target).ok_or_else(|| es::Error::InvalidTarget {
        target: target.to_owned(),
    })
}

impl From<JobState> for TargetState {
    fn from(state: JobState) -> TargetState {
        match state {
            JobState::Opening => TargetState::Opening,
            JobState::Opened => TargetState::Opened,
            JobState::Closing => TargetState::Closing,
            JobState::Closed => TargetState::Closed,
            JobState::Failed => TargetState::Failed,
        }
    }
}

impl From<DatafeedState> for TargetState {
    fn from(state: DatafeedState) -> TargetState {
        match state {
            DatafeedState::Starting => TargetState::Starting,
            DatafeedState::Started => TargetState::Started,
            DatafeedState::Stopping => TargetState::Stopping,
            DatafeedState::Stopped => TargetState::Stopped,
        }
    }
}
