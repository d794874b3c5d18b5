//! Ordering: numbering steps in the order a reader expects, and finding the cycle when the
//! `after` entries and the implicit stop-before-close / open-before-start edges form one.

use std::collections::{BTreeMap, HashMap, VecDeque};

use petgraph::Direction as Dir;
use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};

use crate::observe::Snapshot;

use super::problem::PlanProblem;
use super::step::{Step, StepId, Unchanged};
use super::{Edge, EdgeKind, Plan};

/// Renumbers steps so that ids follow the order a reader expects: by wave (longest chain of
/// predecessors), then by action, then by target. Leaves the order alone when there is a cycle
/// (reported separately).
pub(super) fn in_wave_order(mut steps: Vec<Step>, edges: Vec<Edge>) -> (Vec<Step>, Vec<Edge>) {
    let n = steps.len();
    let mut indegree = vec![0usize; n];
    let mut next: Vec<Vec<usize>> = vec![Vec::new(); n];
    for edge in &edges {
        indegree[edge.to.0] += 1;
        next[edge.from.0].push(edge.to.0);
    }
    let mut level = vec![0usize; n];
    let mut queue: VecDeque<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
    let mut seen = 0;
    while let Some(i) = queue.pop_front() {
        seen += 1;
        for &j in &next[i] {
            level[j] = level[j].max(level[i] + 1);
            indegree[j] -= 1;
            if indegree[j] == 0 {
                queue.push_back(j);
            }
        }
    }
    if seen < n {
        return (steps, edges);
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| {
        (level[a], steps[a].action as u8, &steps[a].target).cmp(&(
            level[b],
            steps[b].action as u8,
            &steps[b].target,
        ))
    });
    let mut new_id = vec![StepId(0); n];
    for (position, &old) in order.iter().enumerate() {
        new_id[old] = StepId(position);
    }
    let mut slots: Vec<Option<Step>> = steps.drain(..).map(Some).collect();
    let steps = order
        .iter()
        .filter_map(|&old| {
            let mut step = slots[old].take()?;
            step.id = new_id[old];
            Some(step)
        })
        .collect();
    let edges = edges
        .into_iter()
        .map(|e| Edge::new(new_id[e.from.0], new_id[e.to.0], e.kind))
        .collect();
    (steps, edges)
}

impl Plan {
    /// The first cycle among the steps, as a problem labelled at its `after` entries.
    pub(super) fn cycle(&self) -> Option<PlanProblem> {
        if toposort(&self.graph, None).is_ok() {
            return None;
        }
        let component = tarjan_scc(&self.graph).into_iter().find(|c| c.len() > 1)?;
        let start = component[0];
        // Shortest path from a successor of `start` back to `start`, within the component.
        let mut parent: HashMap<NodeIndex, NodeIndex> = HashMap::new();
        let mut queue = VecDeque::from([start]);
        let mut found = false;
        while let Some(node) = queue.pop_front() {
            for next in self.graph.neighbors_directed(node, Dir::Outgoing) {
                if !component.contains(&next) || parent.contains_key(&next) {
                    continue;
                }
                parent.insert(next, node);
                if next == start {
                    found = true;
                    break;
                }
                queue.push_back(next);
            }
            if found {
                break;
            }
        }
        let mut path = vec![start];
        let mut node = *parent.get(&start)?;
        while node != start {
            path.push(node);
            node = parent[&node];
        }
        path.push(start);
        path.reverse();
        let mut labels = Vec::new();
        for pair in path.windows(2) {
            let edge = self.graph.find_edge(pair[0], pair[1])?;
            if let EdgeKind::After(location) = &self.graph[edge] {
                labels.push(miette::LabeledSpan::new_with_span(
                    Some(format!(
                        "`after` puts {} before {}",
                        self.describe(self.graph[pair[0]]),
                        self.describe(self.graph[pair[1]])
                    )),
                    location.span(),
                ));
            }
        }
        let text = path
            .iter()
            .map(|n| self.describe(self.graph[*n]))
            .collect::<Vec<_>>()
            .join(" -> ");
        Some(PlanProblem::Cycle {
            path: text,
            edges: labels,
        })
    }

    fn describe(&self, id: StepId) -> String {
        let step = &self.steps[id.0];
        format!("{} `{}`", step.action.verb(), step.target)
    }

    /// Puts steps and edges into the graph (deduplicating edges).
    pub(crate) fn assemble(
        playbook: String,
        description: Option<String>,
        snapshot: Option<Snapshot>,
        steps: Vec<Step>,
        unchanged: Vec<Unchanged>,
        edges: Vec<Edge>,
    ) -> Plan {
        let mut graph = DiGraph::new();
        let nodes: Vec<NodeIndex> = steps.iter().map(|s| graph.add_node(s.id)).collect();
        let mut seen = BTreeMap::new();
        for edge in edges {
            seen.entry((edge.from, edge.to)).or_insert(edge.kind);
        }
        for ((from, to), kind) in seen {
            graph.add_edge(nodes[from.0], nodes[to.0], kind);
        }
        Plan {
            playbook,
            description,
            snapshot,
            steps,
            unchanged,
            gate: None,
            upgrade: None,
            maintenance: None,
            graph,
        }
    }
}
