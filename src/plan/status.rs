//! Status: every resolved target with its wanted and observed state, and the drift between the
//! playbook and the cluster (declared ids the cluster lacks, resources no entry selects).

use serde::Serialize;

use crate::model::{Keyword, Playbook};
use crate::observe::Snapshot;

use super::problem::PlanProblem;
use super::resolve::resolve;
use super::view::SourceRef;

#[derive(Debug, Serialize)]
pub(crate) struct Status {
    pub targets: Vec<TargetStatus>,
    /// Ids the playbook names that the cluster does not have.
    pub missing: Vec<Missing>,
    /// Cluster resources no entry of the playbook selects.
    pub unmanaged: Vec<Unmanaged>,
    pub upgrade_mode: UpgradeModeStatus,
}

#[derive(Debug, Serialize)]
pub(crate) struct TargetStatus {
    pub kind: &'static str,
    pub id: String,
    pub wanted: &'static str,
    pub observed: String,
    pub in_state: bool,
    pub source: SourceRef,
}

#[derive(Debug, Serialize)]
pub(crate) struct Missing {
    pub kind: &'static str,
    pub id: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct Unmanaged {
    pub kind: &'static str,
    pub id: String,
    pub observed: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct UpgradeModeStatus {
    pub wanted: Option<&'static str>,
    pub observed: &'static str,
}

impl Status {
    /// Whether every target (and upgrade mode, when declared) is in its wanted state.
    pub(crate) fn converged(&self) -> bool {
        self.targets.iter().all(|t| t.in_state)
            && self.missing.is_empty()
            && self
                .upgrade_mode
                .wanted
                .is_none_or(|w| w == self.upgrade_mode.observed)
    }
}

pub(crate) fn status(playbook: &Playbook, snapshot: &Snapshot) -> Status {
    let resolution = resolve(playbook, Some(snapshot));
    let mut targets = Vec::new();
    for (id, want) in &resolution.jobs {
        let observed = snapshot.jobs[id].state.to_string();
        let wanted = want.state.name();
        targets.push(TargetStatus {
            kind: "job",
            id: id.clone(),
            wanted,
            in_state: observed == wanted,
            observed,
            source: SourceRef::from(&want.location),
        });
    }
    for (id, want) in &resolution.datafeeds {
        let observed = snapshot.datafeeds[id].state.to_string();
        let wanted = want.state.name();
        targets.push(TargetStatus {
            kind: "datafeed",
            id: id.clone(),
            wanted,
            in_state: observed == wanted,
            observed,
            source: SourceRef::from(&want.location),
        });
    }
    let missing = resolution
        .problems
        .iter()
        .filter_map(|p| match p {
            PlanProblem::UnknownId { kind, id, .. } => Some(Missing {
                kind,
                id: id.clone(),
            }),
            _ => None,
        })
        .collect();
    let unmanaged = snapshot
        .jobs
        .iter()
        .filter(|(id, _)| !resolution.jobs.contains_key(*id))
        .map(|(id, job)| Unmanaged {
            kind: "job",
            id: id.clone(),
            observed: job.state.to_string(),
        })
        .chain(
            snapshot
                .datafeeds
                .iter()
                .filter(|(id, _)| !resolution.datafeeds.contains_key(*id))
                .map(|(id, feed)| Unmanaged {
                    kind: "datafeed",
                    id: id.clone(),
                    observed: feed.state.to_string(),
                }),
        )
        .collect();
    Status {
        targets,
        missing,
        unmanaged,
        upgrade_mode: UpgradeModeStatus {
            wanted: playbook.upgrade_mode.as_ref().map(|u| u.state.name()),
            observed: if snapshot.upgrade_mode {
                "enabled"
            } else {
                "disabled"
            },
        },
    }
}
