//! Checks of the `after:` lists: every reference names an entry of the playbook, goes the same
//! direction, and no chain of references comes back to where it started.
//!
//! Cycles are found with a depth-first search that reports each back edge as one cycle, with
//! the path it closes. A small DFS rather than petgraph: it yields the path directly (Tarjan's
//! components would still need a search inside each), and it keeps petgraph in `plan`, the only
//! module that builds the execution graph.

use std::collections::HashMap;

use miette::{LabeledSpan, SourceSpan};

use super::{Direction, TargetRef};
use crate::playbook::{Problem, did_you_mean};

/// What the checks need to know about one entry.
pub(super) struct Entry {
    pub target: TargetRef,
    /// The `id` or `match` text after expansion, when there is one.
    pub name: Option<String>,
    /// Where the entry is written (its `id`/`match` value, or the entry itself).
    pub span: SourceSpan,
    pub direction: Option<Direction>,
    /// The `after` values after expansion (those that expanded) and where each is written.
    pub after: Vec<(String, SourceSpan)>,
}

/// A resolved `after` entry: the index of the entry it names and where it is written.
pub(super) struct Edge {
    pub to: usize,
    pub text: String,
    pub span: SourceSpan,
}

/// Resolves every `after` entry, reporting unknown names, cross-direction references and
/// cycles. Returns, per entry, the edges that resolved.
pub(super) fn check(entries: &[Entry], problems: &mut Vec<Problem>) -> Vec<Vec<Edge>> {
    let mut by_name: HashMap<(bool, &str), usize> = HashMap::new();
    for (i, entry) in entries.iter().enumerate() {
        if let Some(name) = &entry.name {
            by_name.entry((is_job(entry.target), name)).or_insert(i);
        }
    }
    let names: Vec<&str> = entries.iter().filter_map(|e| e.name.as_deref()).collect();

    let mut edges: Vec<Vec<Edge>> = Vec::with_capacity(entries.len());
    for entry in entries {
        let mut out: Vec<Edge> = Vec::new();
        for (text, span) in &entry.after {
            let text = text.as_str();
            let own = is_job(entry.target);
            let Some(&to) = by_name
                .get(&(own, text))
                .or_else(|| by_name.get(&(!own, text)))
            else {
                problems.push(Problem::UnknownAfter {
                    name: text.to_owned(),
                    at: *span,
                    help: did_you_mean(text, &names, "entries"),
                });
                continue;
            };
            if let (Some(this), Some(other)) = (entry.direction, entries[to].direction)
                && this != other
            {
                problems.push(Problem::AfterAcrossDirections {
                    this: direction_word(this),
                    other: direction_word(other),
                    entry: entry.span,
                    at: *span,
                });
                continue;
            }
            if out.iter().all(|e| e.to != to) {
                out.push(Edge {
                    to,
                    text: text.to_owned(),
                    span: *span,
                });
            }
        }
        edges.push(out);
    }
    report_cycles(entries, &edges, problems);
    edges
}

fn is_job(target: TargetRef) -> bool {
    matches!(target, TargetRef::Job(_))
}

fn direction_word(direction: Direction) -> &'static str {
    match direction {
        Direction::Down => "stopping",
        Direction::Up => "starting",
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    New,
    OnPath,
    Done,
}

/// Iterative DFS; every edge to an entry still on the path closes one cycle.
fn report_cycles(entries: &[Entry], edges: &[Vec<Edge>], problems: &mut Vec<Problem>) {
    let mut mark = vec![Mark::New; entries.len()];
    for root in 0..entries.len() {
        if mark[root] != Mark::New {
            continue;
        }
        // (node, index of the next edge to follow)
        let mut path: Vec<(usize, usize)> = vec![(root, 0)];
        mark[root] = Mark::OnPath;
        while let Some(&mut (node, ref mut next)) = path.last_mut() {
            let Some(edge) = edges[node].get(*next) else {
                mark[node] = Mark::Done;
                path.pop();
                continue;
            };
            *next += 1;
            match mark[edge.to] {
                Mark::New => {
                    mark[edge.to] = Mark::OnPath;
                    path.push((edge.to, 0));
                }
                Mark::OnPath => problems.push(cycle(entries, edges, &path, edge)),
                Mark::Done => {}
            }
        }
    }
}

fn cycle(
    entries: &[Entry],
    edges: &[Vec<Edge>],
    path: &[(usize, usize)],
    closing: &Edge,
) -> Problem {
    let start = path
        .iter()
        .position(|(node, _)| *node == closing.to)
        .unwrap_or(0);
    let name = |i: usize| entries[i].name.as_deref().unwrap_or("?");
    let mut names: Vec<&str> = Vec::new();
    let mut labels = Vec::new();
    for &(node, next) in &path[start..] {
        names.push(name(node));
        // The edge followed out of `node` is the one before `next`.
        let edge = match edges[node].get(next.wrapping_sub(1)) {
            Some(edge) => edge,
            None => closing,
        };
        labels.push(LabeledSpan::new_with_span(
            Some(format!("`{}` waits for `{}`", name(node), edge.text)),
            edge.span,
        ));
    }
    names.push(name(closing.to));
    let path = names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(" -> ");
    Problem::Cycle {
        path,
        edges: labels,
    }
}
