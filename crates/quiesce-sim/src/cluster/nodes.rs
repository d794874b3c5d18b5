//! ML nodes and memory placement: a job's `model_memory_limit` must fit beside the jobs already
//! assigned to a node that is in the cluster (docs/elasticsearch-ml-api.md §2.3, §3.3,
//! crates/quiesce-sim/README.md "Seed file" (`nodes.memory`)). Nodes leave and join again in a
//! rolling restart ([`NodeState`]).

use serde_json::{Value, json};

use crate::seed::EsVersion;

/// One simulated ML node.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) memory_bytes: u64,
    pub(crate) index: usize,
    /// `xpack.ml.max_open_jobs`: job tasks the node takes at most.
    pub(crate) max_open_jobs: usize,
}

impl Node {
    /// The `node` object of the stats APIs (docs/elasticsearch-ml-api.md §2.7, §2.9).
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "ephemeral_id": format!("{}-eph", self.id),
            "transport_address": format!("127.0.0.1:{}", 9300 + self.index),
            "attributes": {
                "ml.machine_memory": self.memory_bytes.to_string(),
                "ml.max_jvm_size": (self.memory_bytes / 4).to_string(),
                "ml.allocated_processors": "4",
                "ml.allocated_processors_double": "4.0",
                "ml.config_version": "12.0.0",
                "xpack.installed": "true",
            },
        })
    }

    /// ES's short node description used in allocation explanations: `{name}{id}`.
    fn describe(&self) -> String {
        format!("{{{}}}{{{}}}", self.name, self.id)
    }
}

/// What changes about a node while the cluster runs: whether it is in the cluster, and the
/// version it runs (a rolling restart brings it back on a new one).
#[derive(Debug, Clone)]
pub(crate) struct NodeState {
    pub(crate) up: bool,
    pub(crate) version: EsVersion,
}

/// Where an open may go, given memory already used on each node.
pub(crate) enum Placement {
    Node(usize),
    /// No node has room; the allocation explanation for E12's `caused_by`.
    NoCapacity(String),
}

/// Picks the node in the cluster (`up`) with the most free memory that can hold `required`
/// bytes (ties: lowest index), as `JobNodeSelector` picks the least loaded node.
pub(crate) fn place(
    nodes: &[Node],
    up: &[bool],
    used: &[u64],
    open: &[usize],
    job_id: &str,
    required: u64,
) -> Placement {
    let present = || nodes.iter().filter(|node| up[node.index]);
    let full = |node: &Node| open[node.index] >= node.max_open_jobs;
    let best = present()
        .filter(|node| !full(node))
        .filter(|node| node.memory_bytes.saturating_sub(used[node.index]) >= required)
        .max_by_key(|node| {
            (
                node.memory_bytes - used[node.index],
                usize::MAX - node.index,
            )
        });
    match best {
        Some(node) => Placement::Node(node.index),
        None if present().next().is_none() => Placement::NoCapacity(
            "No ML nodes were found in the cluster".to_owned(),
        ),
        None => Placement::NoCapacity(
            present()
                .map(|node| if full(node) {
                    format!(
                        "Not opening job [{job_id}] on node [{}], because this node is full. \
                         Number of opened jobs [{}], xpack.ml.max_open_jobs [{}]",
                        node.describe(),
                        open[node.index],
                        node.max_open_jobs,
                    )
                } else {
                    format!(
                        "Not opening job [{job_id}] on node [{}], because this node has insufficient \
                         available memory. Available memory for ML [{}], memory required by \
                         existing jobs [{}], estimated memory required for this job [{required}]",
                        node.describe(),
                        node.memory_bytes,
                        used[node.index],
                    )
                })
                .collect::<Vec<_>>()
                .join("|"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(memory: &[u64]) -> Vec<Node> {
        memory
            .iter()
            .enumerate()
            .map(|(index, &memory_bytes)| Node {
                id: format!("n{index}"),
                name: format!("node-{index}"),
                memory_bytes,
                index,
                max_open_jobs: 512,
            })
            .collect()
    }

    #[test]
    fn picks_the_node_with_most_free_memory() {
        let nodes = nodes(&[100, 100]);
        assert!(matches!(
            place(&nodes, &[true, true], &[50, 10], &[0, 0], "j", 40),
            Placement::Node(1)
        ));
        assert!(matches!(
            place(&nodes, &[true, true], &[10, 10], &[0, 0], "j", 40),
            Placement::Node(0)
        ));
    }

    #[test]
    fn refuses_when_nothing_fits() {
        let nodes = nodes(&[100]);
        match place(&nodes, &[true], &[70], &[0], "j", 40) {
            Placement::NoCapacity(explanation) => {
                assert!(explanation.contains("Not opening job [j] on node [{node-0}{n0}]"));
            }
            Placement::Node(_) => panic!("a 40 byte job cannot fit in 30 free bytes"),
        }
        assert!(matches!(
            place(&nodes, &[true], &[60], &[0], "j", 40),
            Placement::Node(0)
        ));
    }

    #[test]
    fn full_nodes_take_no_more_jobs() {
        let mut nodes = nodes(&[100]);
        nodes[0].max_open_jobs = 2;
        match place(&nodes, &[true], &[0], &[2], "j", 1) {
            Placement::NoCapacity(explanation) => assert_eq!(
                explanation,
                "Not opening job [j] on node [{node-0}{n0}], because this node is full. Number of \
                 opened jobs [2], xpack.ml.max_open_jobs [2]"
            ),
            Placement::Node(_) => panic!("the node is full"),
        }
    }

    #[test]
    fn nodes_out_of_the_cluster_take_nothing() {
        let nodes = nodes(&[100, 100]);
        assert!(matches!(
            place(&nodes, &[false, true], &[0, 50], &[0, 0], "j", 40),
            Placement::Node(1)
        ));
        match place(&nodes, &[false, false], &[0, 0], &[0, 0], "j", 40) {
            Placement::NoCapacity(explanation) => {
                assert_eq!(explanation, "No ML nodes were found in the cluster");
            }
            Placement::Node(_) => panic!("no node is in the cluster"),
        }
    }
}
