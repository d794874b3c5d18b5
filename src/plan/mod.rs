//! Stage 3: the plan. Resolves the playbook's selectors against an observed [`Snapshot`], diffs
//! wanted and observed states, and orders the resulting steps as a DAG. The only module that
//! knows petgraph.
//!
//! Takes a validated [`Playbook`](crate::model::Playbook) and a snapshot (or none, offline);
//! gives a [`Plan`]: steps, no-op entries that explain themselves, and the edges between steps
//! (stop datafeed → close its job; open job → start its datafeed; `after` entries; upgrade mode
//! enabled after every change, disabled before). Never contacts the cluster.

mod build;
mod capacity;
mod gate;
mod maintenance;
mod order;
mod problem;
mod resolve;
mod status;
mod step;
mod view;

use petgraph::Direction as Dir;
use petgraph::graph::{DiGraph, NodeIndex};

pub(crate) use build::{build, targeted_jobs};
pub(crate) use gate::Gate;
pub(crate) use maintenance::{CalendarBefore, MaintenanceView, event_tag};
pub(crate) use problem::{InvalidPlan, PlanWarnings};
pub(crate) use status::{Status, status};
pub(crate) use step::{Action, Force, SnapshotTarget, Step, StepId, Unchanged};
pub(crate) use view::{
    PLAN_FORMAT_VERSION, PlanView, SettingsView, SourceRef, StepView, UpgradeView, snapshot_digest,
};
#[cfg(test)]
pub(crate) use {problem::PlanProblem, view::Summary};

use crate::observe::Snapshot;
use crate::playbook::Location;

/// Why one step waits for another.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum EdgeKind {
    /// A datafeed is stopped before its job is closed.
    StopBeforeClose,
    /// A job is opened before its datafeed is started.
    OpenBeforeStart,
    /// An `after:` entry of the playbook, at this place.
    After(Location),
    /// Upgrade mode is enabled after every change, or disabled before.
    UpgradeMode,
    /// The snapshot gate's steps of a job, one at a time and before the job's own step.
    SnapshotGate,
    /// An open that may not find room waits for the opens that fit.
    Capacity,
    /// The maintenance event is scheduled before anything is taken down, and removed after
    /// everything is back up.
    Maintenance,
}

/// One ordering constraint: `from` must succeed before `to` starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Edge {
    pub from: StepId,
    pub to: StepId,
    pub kind: EdgeKind,
}

impl Edge {
    pub(super) fn new(from: StepId, to: StepId, kind: EdgeKind) -> Edge {
        Edge { from, to, kind }
    }
}

/// The ordered work of one playbook against one observed cluster.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// The playbook's name.
    pub playbook: String,
    /// The playbook's `description`.
    pub description: Option<String>,
    /// What the cluster looked like; `None` for an offline plan.
    pub snapshot: Option<Snapshot>,
    pub steps: Vec<Step>,
    pub unchanged: Vec<Unchanged>,
    /// What the snapshot gate found, when the playbook names a target version.
    pub gate: Option<Gate>,
    /// The playbook's `upgrade:` section (or `--target-version`), kept with the plan so that a
    /// resume runs the gate again.
    pub upgrade: Option<UpgradeView>,
    /// What the maintenance step does, when there is one.
    pub maintenance: Option<MaintenanceView>,
    graph: DiGraph<StepId, EdgeKind>,
}

impl Plan {
    fn node(id: StepId) -> NodeIndex {
        NodeIndex::new(id.0)
    }

    fn neighbours(&self, id: StepId, direction: Dir) -> Vec<StepId> {
        let mut out: Vec<StepId> = self
            .graph
            .neighbors_directed(Self::node(id), direction)
            .map(|n| self.graph[n])
            .collect();
        out.sort();
        out
    }

    /// Steps that must succeed before `id` starts.
    pub(crate) fn dependencies(&self, id: StepId) -> Vec<StepId> {
        self.neighbours(id, Dir::Incoming)
    }

    /// Steps that wait for `id`.
    pub(crate) fn dependents(&self, id: StepId) -> Vec<StepId> {
        self.neighbours(id, Dir::Outgoing)
    }

    /// Every edge with its reason.
    pub(crate) fn edges(&self) -> Vec<Edge> {
        self.graph
            .edge_indices()
            .filter_map(|e| {
                let (from, to) = self.graph.edge_endpoints(e)?;
                Some(Edge::new(
                    self.graph[from],
                    self.graph[to],
                    self.graph[e].clone(),
                ))
            })
            .collect()
    }

    /// The steps grouped by DAG level: wave 0 needs nothing, wave n needs something of wave
    /// n-1. Within a wave, steps keep their plan order.
    pub(crate) fn waves(&self) -> Vec<Vec<StepId>> {
        let order = petgraph::algo::toposort(&self.graph, None).unwrap_or_default();
        let mut level = vec![0usize; self.steps.len()];
        for node in order {
            let id = self.graph[node];
            let here = level[id.0];
            for next in self.graph.neighbors_directed(node, Dir::Outgoing) {
                let next = self.graph[next].0;
                level[next] = level[next].max(here + 1);
            }
        }
        let mut waves: Vec<Vec<StepId>> = Vec::new();
        for step in &self.steps {
            let l = level[step.id.0];
            if waves.len() <= l {
                waves.resize(l + 1, Vec::new());
            }
            waves[l].push(step.id);
        }
        waves
    }

    /// Whether running the plan would change anything.
    pub(crate) fn has_changes(&self) -> bool {
        !self.steps.is_empty()
    }
}

#[cfg(test)]
mod tests;
