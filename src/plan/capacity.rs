//! Capacity for the way up (docs/elasticsearch-ml-api.md §12.4, §12.5): whether the jobs the
//! plan opens fit in the free ML memory of the nodes and under `xpack.ml.max_open_jobs`, and
//! an order that opens the ones that fit first.
//!
//! An estimate, made the way Elasticsearch's `JobNodeSelector` places jobs: each job needs its
//! `model_memory_limit` plus the per-job process overhead (`Job.PROCESS_MEMORY_OVERHEAD`,
//! 10 MiB), and a node's first ML process the native code overhead
//! (`MachineLearning.NATIVE_EXECUTABLE_CODE_OVERHEAD`, 30 MiB); a node's room is
//! `GET _ml/memory/_stats` `max_in_bytes` (already
//! `xpack.ml.max_machine_memory_percent` of the machine, or the JVM-aware native memory) less
//! what is in use. Jobs are placed largest first, each on the node with the most room, so a
//! job that does not fit here will not fit whatever order the scheduler opens them in; Elasticsearch
//! may still refuse one that fits here (memory used by other tenants since the plan, an
//! established model larger than its limit). `xpack.ml.max_open_jobs` is taken at its default
//! (512 from 8.0, 20 before): the setting is not read.
//!
//! Before 8.2 there is no memory API: `GET _ml/info` `limits` give the largest job one node
//! takes (`effective_max_model_memory_limit`) and the memory of all ML nodes
//! (`total_ml_memory`), and the estimate treats the cluster as one pool of that size less the
//! open jobs' limits.

use std::collections::BTreeMap;

use crate::model::EsVersion;
use crate::observe::{Memory, NodeRoom, ObservedJobState, Outlook};

use super::build::Builder;
use super::problem::PlanProblem;
use super::step::{Action, StepId};
use super::{Edge, EdgeKind};

const MIB: u64 = 1 << 20;
/// `Job.PROCESS_MEMORY_OVERHEAD`.
const JOB_OVERHEAD: u64 = 10 * MIB;
/// `MachineLearning.NATIVE_EXECUTABLE_CODE_OVERHEAD`.
const NATIVE_CODE_OVERHEAD: u64 = 30 * MIB;
/// The `model_memory_limit` of a job that says none (`GET _ml/info` `defaults`).
const DEFAULT_MODEL_MEMORY_LIMIT: u64 = 1024 * MIB;

/// `xpack.ml.max_open_jobs` by default (`MachineLearning.DEFAULT_MAX_OPEN_JOBS_PER_NODE`;
/// before 8.0 the deprecated `max_running_jobs`, 20).
fn default_max_open_jobs(version: Option<EsVersion>) -> usize {
    match version {
        Some(version) if version.major < 8 => 20,
        _ => 512,
    }
}

/// `1034 MiB`, `12.5 GiB`: whole MiB below 10 GiB, so that a job's need and a node's room
/// read against each other.
fn bytes(n: u64) -> String {
    if n >= 10 << 30 {
        format!("{:.1} GiB", n as f64 / f64::from(1u32 << 30))
    } else {
        format!("{} MiB", n.div_ceil(MIB))
    }
}

/// One open the estimate places.
struct Open {
    step: StepId,
    job: String,
    need: u64,
    lazy: bool,
}

impl Builder<'_> {
    /// Places the plan's opens; a job that fits nowhere is a plan error, or a warning for an
    /// `allow_lazy_open` job, whose open then waits for every open that fits.
    pub(super) fn capacity(&mut self, outlook: Option<&Outlook>) {
        let Some(outlook) = outlook else {
            return;
        };
        let Some(memory) = &outlook.memory else {
            return;
        };
        let limit = |job: &str| {
            outlook
                .jobs
                .get(job)
                .and_then(|j| j.model_memory_limit)
                .unwrap_or(DEFAULT_MODEL_MEMORY_LIMIT)
        };
        let mut opens: Vec<Open> = self
            .steps
            .iter()
            .filter(|step| step.action == Action::OpenJob)
            // A job already `opening` holds its task (assigned or waiting): nothing to place.
            .filter(|step| {
                self.snapshot
                    .and_then(|s| s.jobs.get(&step.target))
                    .is_none_or(|job| job.state != ObservedJobState::Opening)
            })
            .map(|step| Open {
                step: step.id,
                job: step.target.clone(),
                need: limit(&step.target) + JOB_OVERHEAD,
                lazy: outlook
                    .jobs
                    .get(&step.target)
                    .is_some_and(|j| j.allow_lazy_open),
            })
            .collect();
        if opens.is_empty() {
            return;
        }
        opens.sort_by(|a, b| b.need.cmp(&a.need).then_with(|| a.job.cmp(&b.job)));
        let version = self
            .snapshot
            .and_then(|s| EsVersion::parse(&s.version).ok());
        let misfits = match memory {
            Memory::Nodes(nodes) => place_on_nodes(&opens, nodes, default_max_open_jobs(version)),
            Memory::Pooled { largest_job, total } => {
                let in_use: u64 = self
                    .snapshot
                    .into_iter()
                    .flat_map(|s| s.jobs.iter())
                    .filter(|(_, job)| job.state != ObservedJobState::Closed)
                    .map(|(id, _)| limit(id) + JOB_OVERHEAD)
                    .sum();
                place_in_pool(
                    &opens,
                    *largest_job,
                    total.map(|t| t.saturating_sub(in_use)),
                )
            }
        };
        let fitting: Vec<StepId> = opens
            .iter()
            .filter(|open| !misfits.contains_key(&open.step))
            .map(|open| open.step)
            .collect();
        for open in &opens {
            let Some(room) = misfits.get(&open.step) else {
                continue;
            };
            let at = self.steps[open.step.0]
                .source
                .as_ref()
                .map_or_else(|| (0, 0).into(), crate::playbook::Location::span);
            if open.lazy {
                self.problems.push(PlanProblem::NoRoomLazy {
                    job: open.job.clone(),
                    needed: bytes(open.need),
                    room: room.clone(),
                    at,
                });
                for &before in &fitting {
                    self.edges
                        .push(Edge::new(before, open.step, EdgeKind::Capacity));
                }
            } else {
                self.problems.push(PlanProblem::NoRoom {
                    job: open.job.clone(),
                    needed: bytes(open.need),
                    room: room.clone(),
                    at,
                });
            }
        }
    }
}

/// Places each open (largest first) on the node with the most room; the ones that fit nowhere,
/// with what the nodes had left for them.
fn place_on_nodes(
    opens: &[Open],
    nodes: &[NodeRoom],
    max_open_jobs: usize,
) -> BTreeMap<StepId, String> {
    let mut nodes: Vec<NodeRoom> = nodes.to_vec();
    let mut misfits = BTreeMap::new();
    let room = |node: &NodeRoom| {
        if node.has_native_overhead {
            node.free
        } else {
            node.free.saturating_sub(NATIVE_CODE_OVERHEAD)
        }
    };
    for open in opens {
        let best = nodes
            .iter_mut()
            .filter(|node| node.jobs < max_open_jobs && room(node) >= open.need)
            .max_by(|a, b| room(a).cmp(&room(b)).then_with(|| b.id.cmp(&a.id)));
        if let Some(node) = best {
            node.free = room(node) - open.need;
            node.has_native_overhead = true;
            node.jobs += 1;
            continue;
        }
        let why = if nodes.is_empty() {
            "the cluster has no ML node".to_owned()
        } else if nodes.iter().all(|node| node.jobs >= max_open_jobs) {
            format!(
                "every ML node already holds `xpack.ml.max_open_jobs` ({max_open_jobs}, its \
                 default) jobs"
            )
        } else {
            let most = nodes
                .iter()
                .filter(|node| node.jobs < max_open_jobs)
                .max_by_key(|node| room(node));
            match most {
                Some(node) => format!(
                    "the most room left on one ML node is {} (`{}`), once the larger jobs of this \
                     plan are placed",
                    bytes(room(node)),
                    if node.name.is_empty() {
                        &node.id
                    } else {
                        &node.name
                    }
                ),
                None => "no ML node has room".to_owned(),
            }
        };
        misfits.insert(open.step, why);
    }
    misfits
}

/// The pooled estimate of clusters before 8.2.
fn place_in_pool(
    opens: &[Open],
    largest_job: Option<u64>,
    free: Option<u64>,
) -> BTreeMap<StepId, String> {
    let mut misfits = BTreeMap::new();
    let mut free = free;
    for open in opens {
        if let Some(largest) = largest_job
            && open.need > largest
        {
            misfits.insert(
                open.step,
                format!(
                    "no ML node takes a job that large (`effective_max_model_memory_limit` {})",
                    bytes(largest)
                ),
            );
            continue;
        }
        match free {
            Some(left) if left < open.need => {
                misfits.insert(
                    open.step,
                    format!(
                        "{} of ML memory is left in the cluster (`total_ml_memory` less the open \
                         jobs' limits) once the larger jobs of this plan are placed",
                        bytes(left)
                    ),
                );
            }
            Some(left) => free = Some(left - open.need),
            None => {}
        }
    }
    misfits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, free: u64, jobs: usize) -> NodeRoom {
        NodeRoom {
            id: id.to_owned(),
            name: id.to_owned(),
            free,
            has_native_overhead: true,
            jobs,
        }
    }

    fn open(step: usize, job: &str, mib: u64) -> Open {
        Open {
            step: StepId(step),
            job: job.to_owned(),
            need: mib * MIB,
            lazy: false,
        }
    }

    #[test]
    fn largest_first_on_the_node_with_most_room() {
        // 3 GiB and 2 GiB free: 2 GiB + 1.5 GiB + 1 GiB fit (2 → a, 1.5 → b, 1 → a); a
        // further 1 GiB does not (0 left on a, 0.5 on b).
        let nodes = [node("a", 3072 * MIB, 0), node("b", 2048 * MIB, 0)];
        let opens = [
            open(0, "big", 2048),
            open(1, "mid", 1536),
            open(2, "small", 1024),
            open(3, "extra", 1024),
        ];
        let misfits = place_on_nodes(&opens, &nodes, 512);
        assert_eq!(misfits.keys().copied().collect::<Vec<_>>(), [StepId(3)]);
        assert!(misfits[&StepId(3)].contains("512 MiB"), "{misfits:?}");
    }

    #[test]
    fn a_full_node_takes_no_job_whatever_its_memory() {
        let nodes = [node("a", 64 * 1024 * MIB, 2)];
        let misfits = place_on_nodes(&[open(0, "j", 10)], &nodes, 2);
        assert!(misfits[&StepId(0)].contains("max_open_jobs"), "{misfits:?}");
    }

    #[test]
    fn a_node_without_ml_processes_pays_the_native_code_overhead_once() {
        let mut fresh = node("a", 1024 * MIB, 0);
        fresh.has_native_overhead = false;
        // 1024 - 30 = 994 MiB: 500 fits, then 494 is left: 494 fits, nothing more.
        let opens = [open(0, "x", 500), open(1, "y", 494), open(2, "z", 1)];
        let misfits = place_on_nodes(&opens, &[fresh], 512);
        assert_eq!(misfits.keys().copied().collect::<Vec<_>>(), [StepId(2)]);
    }

    #[test]
    fn the_pooled_estimate_checks_the_largest_job_and_the_total() {
        let opens = [
            open(0, "huge", 5000),
            open(1, "a", 1000),
            open(2, "b", 1000),
        ];
        let misfits = place_in_pool(&opens, Some(4096 * MIB), Some(1500 * MIB));
        assert_eq!(
            misfits.keys().copied().collect::<Vec<_>>(),
            [StepId(0), StepId(2)]
        );
    }
}
