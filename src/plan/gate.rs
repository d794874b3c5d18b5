//! The snapshot gate (docs/elasticsearch-ml-api.md §12.1–§12.3): which model snapshots of the
//! targeted jobs the playbook's `upgrade.target_version` could not open, and the steps that fix
//! them before the shutdown. A job's current snapshot that is too old is refreshed: a closed
//! job is opened and closed on today's version (closing persists a snapshot in today's
//! format), an opened job is refreshed by the close the plan already has. Older snapshots are
//! kept and listed, upgraded with `_upgrade` one at a time per job, or deleted, as
//! `upgrade.old_snapshots` says: never deleted unless it says `delete`.
//!
//! Takes the resolution, the snapshot and the [`Outlook`]; adds steps, edges and problems to
//! the builder. Never contacts the cluster.

use serde::{Deserialize, Serialize};

use crate::model::{EsVersion, OldSnapshots, UpgradeTarget};
use crate::observe::{ObservedJobState, Outlook, SnapshotInfo};
use crate::playbook::Location;

use super::build::Builder;
use super::problem::PlanProblem;
use super::resolve::{Resolution, Resource};
use super::step::{Action, Force, SnapshotTarget, StepId};
use super::{Edge, EdgeKind};

/// What the gate found, shown with the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Gate {
    pub target_version: EsVersion,
    /// The oldest snapshot `min_version` the target version opens.
    pub oldest_openable: EsVersion,
    pub old_snapshots: OldSnapshots,
    /// How many targeted jobs had their snapshots read.
    pub jobs_checked: usize,
    /// Every snapshot the target version could not open, by job.
    pub findings: Vec<Finding>,
}

/// One snapshot the target version could not open.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Finding {
    pub job: String,
    pub snapshot: String,
    pub min_version: String,
    /// The job's current snapshot (the one an open restores).
    pub current: bool,
    pub remedy: Remedy,
    /// For a refreshed current snapshot: what happens to it once it is an older one, as
    /// `upgrade.old_snapshots` says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub then: Option<Remedy>,
}

/// What the plan does about a [`Finding`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Remedy {
    /// Open and close steps on today's version.
    Refresh,
    /// The plan closes the job anyway: that close persists a new snapshot.
    RefreshedByClose,
    /// An `_upgrade` step.
    Upgrade,
    /// A delete step (`old_snapshots: delete`).
    Delete,
    /// Listed and left (`old_snapshots: keep`).
    Keep,
    /// Nothing the plan can do; a problem says why.
    Unremedied,
}

impl Remedy {
    /// Lowercase words for the plan text.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Remedy::Refresh => "refreshed: opened and closed on today's version",
            Remedy::RefreshedByClose => "refreshed by this plan's close of the job",
            Remedy::Upgrade => "upgraded with `_upgrade`",
            Remedy::Delete => "deleted (`old_snapshots: delete`)",
            Remedy::Keep => "kept (`old_snapshots: keep`); a revert to it would fail",
            Remedy::Unremedied => "no remedy in this plan (see the warning or error)",
        }
    }
}

fn too_old(target: EsVersion, snapshot: &SnapshotInfo) -> bool {
    snapshot
        .min_version
        .is_none_or(|version| !target.opens_snapshot(version))
}

impl Builder<'_> {
    /// Checks every targeted job's snapshots against the target version and adds the remedy.
    pub(super) fn snapshot_gate(
        &mut self,
        resolution: &Resolution,
        outlook: Option<&Outlook>,
        upgrade: &UpgradeTarget,
    ) -> Option<Gate> {
        let outlook = outlook?;
        let target = upgrade.target_version;
        let today = self
            .snapshot
            .and_then(|s| EsVersion::parse(&s.version).ok());
        let mut gate = Gate {
            target_version: target,
            oldest_openable: target.oldest_openable_snapshot(),
            old_snapshots: upgrade.old_snapshots,
            jobs_checked: 0,
            findings: Vec::new(),
        };
        for (id, want) in &resolution.jobs {
            let Some(job) = outlook.jobs.get(id) else {
                continue;
            };
            let Some(snapshots) = &job.snapshots else {
                continue;
            };
            gate.jobs_checked += 1;
            let at = want.location.span();
            let mut chain: Vec<StepId> = Vec::new();
            // Steps that must wait for the job's own close (a snapshot it makes non-current).
            let mut after_close: Vec<StepId> = Vec::new();
            let mut kept: Vec<&SnapshotInfo> = Vec::new();
            let at_upgrade = upgrade.location.as_ref().unwrap_or(&want.location);
            for snapshot in snapshots.iter().filter(|s| too_old(target, s)) {
                let current = job.model_snapshot_id.as_deref() == Some(snapshot.id.as_str());
                let (remedy, then) = if current {
                    let remedy =
                        self.refresh(id, snapshot, today, target, &want.location, &mut chain);
                    // Refreshed, it is an older snapshot like the others.
                    let then = match remedy {
                        Remedy::Refresh => Some(self.old_snapshot(
                            id, snapshot, upgrade, at_upgrade, &mut chain, &mut kept,
                        )),
                        Remedy::RefreshedByClose => Some(self.old_snapshot(
                            id,
                            snapshot,
                            upgrade,
                            at_upgrade,
                            &mut after_close,
                            &mut kept,
                        )),
                        _ => None,
                    };
                    (remedy, then)
                } else {
                    let remedy =
                        self.old_snapshot(id, snapshot, upgrade, at_upgrade, &mut chain, &mut kept);
                    (remedy, None)
                };
                gate.findings.push(Finding {
                    job: id.clone(),
                    snapshot: snapshot.id.clone(),
                    min_version: snapshot.min_version_text.clone(),
                    current,
                    remedy,
                    then,
                });
            }
            if !kept.is_empty() {
                self.problems.push(PlanProblem::OldSnapshotsKept {
                    job: id.clone(),
                    snapshots: kept
                        .iter()
                        .map(|s| format!("`{}` ({})", s.id, s.min_version_text))
                        .collect::<Vec<_>>()
                        .join(", "),
                    target: target.to_string(),
                    at,
                });
            }
            // One at a time per job, and all before the job's own step.
            for pair in chain.windows(2) {
                self.edges
                    .push(Edge::new(pair[0], pair[1], EdgeKind::SnapshotGate));
            }
            let own = self.by_resource.get(&Resource::Job(id.clone())).copied();
            if let (Some(last), Some(own)) = (chain.last(), own) {
                self.edges
                    .push(Edge::new(*last, own, EdgeKind::SnapshotGate));
            }
            if let Some(own) = own {
                let mut previous = own;
                for &step in &after_close {
                    self.edges
                        .push(Edge::new(previous, step, EdgeKind::SnapshotGate));
                    previous = step;
                }
            }
        }
        Some(gate)
    }

    /// The job's current snapshot is too old for the target: refresh it, or say why not.
    fn refresh(
        &mut self,
        id: &str,
        snapshot: &SnapshotInfo,
        today: Option<EsVersion>,
        target: EsVersion,
        entry: &Location,
        chain: &mut Vec<StepId>,
    ) -> Remedy {
        let at = entry.span();
        if let (Some(today), Some(version)) = (today, snapshot.min_version)
            && !today.opens_snapshot(version)
        {
            self.problems.push(PlanProblem::SnapshotUnopenable {
                job: id.to_owned(),
                snapshot: snapshot.id.clone(),
                min_version: snapshot.min_version_text.clone(),
                today: today.to_string(),
                at,
            });
            return Remedy::Unremedied;
        }
        let state = self
            .snapshot
            .and_then(|s| s.jobs.get(id))
            .map(|job| job.state);
        let closed_by_plan = self
            .by_resource
            .get(&Resource::Job(id.to_owned()))
            .map(|step| &self.steps[step.0])
            .is_some_and(|step| step.action == Action::CloseJob && step.force == Force::NotNeeded);
        match state {
            Some(ObservedJobState::Closed) => {
                let why = format!(
                    "current model snapshot `{}` has min_version {}, which {target} cannot open; \
                     an open and a close on today's version persist a new one",
                    snapshot.id, snapshot.min_version_text
                );
                let model_bytes = self
                    .snapshot
                    .and_then(|s| s.jobs.get(id))
                    .map_or(0, |job| job.model_bytes);
                for action in [Action::RefreshOpenJob, Action::RefreshCloseJob] {
                    let mut step = Self::step(action, id, why.clone(), Some("closed".to_owned()));
                    step.source = Some(entry.clone());
                    step.model_bytes = model_bytes;
                    chain.push(self.push(None, step));
                }
                Remedy::Refresh
            }
            Some(
                ObservedJobState::Opened | ObservedJobState::Opening | ObservedJobState::Closing,
            ) if closed_by_plan => Remedy::RefreshedByClose,
            state => {
                self.problems.push(PlanProblem::SnapshotNotRefreshed {
                    job: id.to_owned(),
                    snapshot: snapshot.id.clone(),
                    min_version: snapshot.min_version_text.clone(),
                    target: target.to_string(),
                    state: state.map_or_else(|| "unknown".to_owned(), |s| s.to_string()),
                    at,
                });
                Remedy::Unremedied
            }
        }
    }

    /// A snapshot that is not the job's current one: as `old_snapshots` says.
    fn old_snapshot<'s>(
        &mut self,
        id: &str,
        snapshot: &'s SnapshotInfo,
        upgrade: &UpgradeTarget,
        at: &Location,
        chain: &mut Vec<StepId>,
        kept: &mut Vec<&'s SnapshotInfo>,
    ) -> Remedy {
        let (action, remedy, verb) = match upgrade.old_snapshots {
            OldSnapshots::Keep => {
                kept.push(snapshot);
                return Remedy::Keep;
            }
            OldSnapshots::Upgrade => (Action::UpgradeSnapshot, Remedy::Upgrade, "upgraded"),
            OldSnapshots::Delete => (Action::DeleteSnapshot, Remedy::Delete, "deleted"),
        };
        let target = SnapshotTarget {
            job: id.to_owned(),
            snapshot: snapshot.id.clone(),
        };
        let mut step = Self::step(
            action,
            &target.to_string(),
            format!(
                "model snapshot of job `{id}` with min_version {}, which {} cannot open; {verb} \
                 as `upgrade.old_snapshots` says",
                snapshot.min_version_text, upgrade.target_version
            ),
            Some(format!("min_version {}", snapshot.min_version_text)),
        );
        step.source = Some(at.clone());
        if action == Action::UpgradeSnapshot {
            step.model_bytes = self
                .snapshot
                .and_then(|s| s.jobs.get(id))
                .map_or(0, |job| job.model_bytes);
        }
        chain.push(self.push(None, step));
        remedy
    }
}
