//! A step: one call quiesce will make (or explains it will not), with why, where the playbook
//! asked for it, and how long it is expected to take.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::playbook::Location;

/// Index of a step in [`super::Plan::steps`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct StepId(pub usize);

impl std::fmt::Display for StepId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0 + 1)
    }
}

/// What a step does to the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Action {
    StopDatafeed,
    CloseJob,
    OpenJob,
    StartDatafeed,
    EnableUpgradeMode,
    DisableUpgradeMode,
    /// The snapshot gate's refresh of a closed job's current snapshot, first half: open it on
    /// today's version (docs/elasticsearch-ml-api.md §12.1).
    RefreshOpenJob,
    /// Second half: close it again, which persists a snapshot in today's format.
    RefreshCloseJob,
    /// `_upgrade` of a model snapshot the target version cannot open (§12.2); the target is a
    /// [`SnapshotTarget`].
    UpgradeSnapshot,
    /// Deletion of such a snapshot, only when the playbook says `old_snapshots: delete`
    /// (§12.3); the target is a [`SnapshotTarget`].
    DeleteSnapshot,
    /// Put the jobs the run closes on the maintenance calendar and post the window's event.
    ScheduleMaintenance,
    /// Remove what a run added to the maintenance calendar (written by `revert`).
    RemoveMaintenance,
}

impl Action {
    /// Lowercase words for people: `stop datafeed`.
    pub(crate) fn verb(self) -> &'static str {
        match self {
            Action::StopDatafeed => "stop datafeed",
            Action::CloseJob => "close job",
            Action::OpenJob => "open job",
            Action::StartDatafeed => "start datafeed",
            Action::EnableUpgradeMode => "enable upgrade mode",
            Action::DisableUpgradeMode => "disable upgrade mode",
            Action::ScheduleMaintenance => "schedule maintenance on calendar",
            Action::RemoveMaintenance => "remove maintenance from calendar",
            Action::RefreshOpenJob => "open job to refresh its snapshot",
            Action::RefreshCloseJob => "close job to refresh its snapshot",
            Action::UpgradeSnapshot => "upgrade model snapshot",
            Action::DeleteSnapshot => "delete model snapshot",
        }
    }

    /// The job transition a step of this action drives, as far as the cluster is concerned:
    /// the refresh steps open and close like any other.
    pub(crate) fn job_transition(self) -> Option<Action> {
        match self {
            Action::CloseJob | Action::RefreshCloseJob => Some(Action::CloseJob),
            Action::OpenJob | Action::RefreshOpenJob => Some(Action::OpenJob),
            _ => None,
        }
    }

    /// Rough expected duration, used to order ready steps (longest remaining chain first).
    /// Closing persists the model and opening restores it, so both grow with its size; the rate
    /// is a conservative figure for a snapshot written to the ML state index.
    pub(crate) fn estimate(self, model_bytes: u64) -> Duration {
        const BYTES_PER_SEC: u64 = 50 * 1024 * 1024;
        let transfer = Duration::from_millis(model_bytes.saturating_mul(1000) / BYTES_PER_SEC);
        match self {
            Action::StopDatafeed | Action::StartDatafeed => Duration::from_secs(2),
            Action::CloseJob
            | Action::OpenJob
            | Action::RefreshOpenJob
            | Action::RefreshCloseJob => Duration::from_secs(3) + transfer,
            Action::EnableUpgradeMode | Action::DisableUpgradeMode => Duration::from_secs(10),
            // The upgrader loads the model and persists it again.
            Action::UpgradeSnapshot => Duration::from_secs(3) + transfer * 2,
            Action::DeleteSnapshot => Duration::from_secs(1),
            Action::ScheduleMaintenance | Action::RemoveMaintenance => Duration::from_secs(1),
        }
    }
}

/// The target of a snapshot step: a job and one of its model snapshots, written
/// `<job>/<snapshot>` in plans and journals. Neither id can hold a `/` (job ids are lowercase
/// alphanumerics, `-` and `_`; snapshot ids too, usually epoch seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SnapshotTarget {
    pub job: String,
    pub snapshot: String,
}

impl SnapshotTarget {
    /// Reads `<job>/<snapshot>`.
    pub(crate) fn parse(target: &str) -> Option<SnapshotTarget> {
        let (job, snapshot) = target.split_once('/')?;
        (!job.is_empty() && !snapshot.is_empty() && !snapshot.contains('/')).then(|| {
            SnapshotTarget {
                job: job.to_owned(),
                snapshot: snapshot.to_owned(),
            }
        })
    }
}

impl std::fmt::Display for SnapshotTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.job, self.snapshot)
    }
}

/// Whether a close needs `force=true`, and whether the playbook's settings allow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Force {
    /// The graceful path (flush, final results, model snapshot).
    NotNeeded,
    /// The job is `failed`: only a forced close works, and `settings.force` allows it.
    RequiredAllowed,
    /// The job is `failed` and `settings.force` is `never`: the close will be refused (409).
    RequiredRefused,
}

/// One unit of work in the plan.
#[derive(Debug, Clone)]
pub(crate) struct Step {
    pub id: StepId,
    pub action: Action,
    /// The job or datafeed id; `_ml` for upgrade mode.
    pub target: String,
    /// Why this step exists, for people.
    pub reason: String,
    /// The state observed when planning (`None` offline).
    pub observed: Option<String>,
    /// The playbook entry that asked for this step (for an implicit stop: the job's entry).
    pub source: Option<Location>,
    pub force: Force,
    /// The model size, for close and open (drives the estimate).
    pub model_bytes: u64,
    pub estimate: Duration,
}

/// A target already in its desired state, kept so the plan can say why nothing happens.
#[derive(Debug, Clone)]
pub(crate) struct Unchanged {
    /// `job`, `datafeed` or `upgrade_mode`.
    pub kind: String,
    pub target: String,
    pub state: String,
    pub reason: String,
    pub source: Option<Location>,
}
