//! Resolution: which cluster resources each playbook entry stands for, and the state each
//! resource is wanted in. Selectors follow Elasticsearch's own matching (docs/elasticsearch-ml-api.md §5): a
//! job matches a pattern by its id or by any of its groups; a datafeed by its id.

use std::collections::BTreeMap;

use crate::model::{DatafeedState, JobState, Keyword, Playbook, Selector, TargetRef};
use crate::observe::Snapshot;
use crate::playbook::Location;

use super::problem::PlanProblem;

/// A job or datafeed, by id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Resource {
    Job(String),
    Datafeed(String),
}

/// The state one resource is wanted in, and the entry that asked first.
#[derive(Debug, Clone)]
pub(crate) struct Want<S> {
    pub state: S,
    pub location: Location,
}

/// The outcome of resolving every entry against a snapshot (or, offline, against nothing).
#[derive(Debug, Default)]
pub(crate) struct Resolution {
    pub jobs: BTreeMap<String, Want<JobState>>,
    pub datafeeds: BTreeMap<String, Want<DatafeedState>>,
    /// The resources each entry stands for, for `after` edges.
    pub members: BTreeMap<TargetRef, Vec<Resource>>,
    /// Datafeed → job links the playbook declares with `job:` (used offline, checked online).
    pub declared_links: BTreeMap<String, String>,
    pub problems: Vec<PlanProblem>,
}

pub(crate) fn resolve(playbook: &Playbook, snapshot: Option<&Snapshot>) -> Resolution {
    let mut out = Resolution::default();
    let require_match = playbook.settings.require_match;

    for (index, entry) in playbook.jobs.iter().enumerate() {
        let ids: Vec<String> = match (&entry.selector, snapshot) {
            (Selector::Id(id), Some(snapshot)) if !snapshot.jobs.contains_key(id.as_str()) => {
                out.problems.push(PlanProblem::UnknownId {
                    kind: "job",
                    id: id.to_string(),
                    at: entry.location.span(),
                });
                Vec::new()
            }
            (Selector::Id(id), _) => vec![id.to_string()],
            (Selector::Pattern(pattern), None) => vec![pattern.to_string()],
            (Selector::Pattern(pattern), Some(snapshot)) => snapshot
                .jobs
                .iter()
                .filter(|(id, job)| {
                    pattern.matches(id) || job.groups.iter().any(|g| pattern.matches(g))
                })
                .map(|(id, _)| id.clone())
                .collect(),
        };
        if let (Selector::Pattern(pattern), Some(_), true) =
            (&entry.selector, snapshot, ids.is_empty())
        {
            out.problems.push(no_match(
                "job",
                pattern.as_str(),
                &entry.location,
                require_match,
            ));
        }
        for id in &ids {
            want(
                &mut out.jobs,
                &mut out.problems,
                "job",
                id,
                entry.state,
                &entry.location,
            );
        }
        out.members.insert(
            TargetRef::Job(index),
            ids.into_iter().map(Resource::Job).collect(),
        );
    }

    for (index, entry) in playbook.datafeeds.iter().enumerate() {
        let ids: Vec<String> = match (&entry.selector, snapshot) {
            (Selector::Id(id), Some(snapshot)) => match snapshot.datafeeds.get(id.as_str()) {
                None => {
                    out.problems.push(PlanProblem::UnknownId {
                        kind: "datafeed",
                        id: id.to_string(),
                        at: entry.location.span(),
                    });
                    Vec::new()
                }
                Some(observed) => {
                    if let Some(job) = &entry.job
                        && job.id.as_str() != observed.job_id
                    {
                        out.problems.push(PlanProblem::WrongJob {
                            datafeed: id.to_string(),
                            declared: job.id.to_string(),
                            actual: observed.job_id.clone(),
                            at: job.location.span(),
                        });
                    }
                    vec![id.to_string()]
                }
            },
            (Selector::Id(id), None) => vec![id.to_string()],
            (Selector::Pattern(pattern), None) => vec![pattern.to_string()],
            (Selector::Pattern(pattern), Some(snapshot)) => snapshot
                .datafeeds
                .keys()
                .filter(|id| pattern.matches(id))
                .cloned()
                .collect(),
        };
        if let (Selector::Pattern(pattern), Some(_), true) =
            (&entry.selector, snapshot, ids.is_empty())
        {
            out.problems.push(no_match(
                "datafeed",
                pattern.as_str(),
                &entry.location,
                require_match,
            ));
        }
        if let (Selector::Id(id), Some(job)) = (&entry.selector, &entry.job) {
            out.declared_links
                .insert(id.to_string(), job.id.to_string());
        }
        for id in &ids {
            want(
                &mut out.datafeeds,
                &mut out.problems,
                "datafeed",
                id,
                entry.state,
                &entry.location,
            );
        }
        out.members.insert(
            TargetRef::Datafeed(index),
            ids.into_iter().map(Resource::Datafeed).collect(),
        );
    }
    out
}

fn no_match(kind: &'static str, selector: &str, at: &Location, required: bool) -> PlanProblem {
    if required {
        PlanProblem::NoMatchRequired {
            kind,
            selector: selector.to_owned(),
            at: at.span(),
        }
    } else {
        PlanProblem::NoMatch {
            kind,
            selector: selector.to_owned(),
            at: at.span(),
        }
    }
}

/// Records that `id` is wanted in `state`; a second entry asking for another state is a
/// conflict, one asking for the same state changes nothing (the first entry stays the source).
fn want<S: Keyword + PartialEq>(
    wants: &mut BTreeMap<String, Want<S>>,
    problems: &mut Vec<PlanProblem>,
    kind: &'static str,
    id: &str,
    state: S,
    location: &Location,
) {
    match wants.get(id) {
        Some(first) if first.state != state => problems.push(PlanProblem::Conflict {
            kind,
            id: id.to_owned(),
            first_state: first.state.name(),
            second_state: state.name(),
            first: first.location.span(),
            second: location.span(),
        }),
        Some(_) => {}
        None => {
            wants.insert(
                id.to_owned(),
                Want {
                    state,
                    location: location.clone(),
                },
            );
        }
    }
}
