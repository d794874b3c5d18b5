//! docs/elasticsearch-ml-api.md §3.3: ML nodes leaving and joining, one at a time as a
//! rolling restart takes them (`/_sim/nodes/<node>/_leave`, `_join`, `/_sim/rolling_restart`).
//! What moves follows `PersistentTasksClusterService` (tasks of a node that left are reassigned
//! to a node with room, or wait unassigned), `OpenJobPersistentTasksExecutor` (a job restores its
//! model on its new node; a closing one is closed; a failed one stays failed),
//! `DatafeedNodeSelector` (a datafeed follows its job once the job is no longer stale) and
//! `TransportGetJobsStatsAction` (job stats read `MlTasks.getJobState`, the task's last state).

use serde_json::{Value, json};

use quiesce_sim::testing::{TestCluster, assert_no_node, assert_node, poll};

fn node_name(stats: &Value) -> String {
    stats["node"]["name"]
        .as_str()
        .unwrap_or_else(|| panic!("no node: {stats}"))
        .to_owned()
}

async fn leave(sim: &TestCluster, node: &str) {
    sim.post(&format!("/_sim/nodes/{node}/_leave")).await.ok();
}

async fn join(sim: &TestCluster, node: &str, version: Option<&str>) {
    let path = format!("/_sim/nodes/{node}/_join");
    match version {
        Some(version) => sim.post_json(&path, json!({ "version": version })).await,
        None => sim.post(&path).await,
    }
    .ok();
}

/// Polls until the job is opened on a node other than `left`; gives its stats.
async fn wait_opened_elsewhere(sim: &TestCluster, job: &str, left: &str) -> Value {
    poll(&format!("{job} opened away from {left}"), async || {
        let stats = sim.job_stats(job).await;
        let moved = stats["state"] == "opened"
            && stats["node"]["name"]
                .as_str()
                .is_some_and(|name| name != left);
        if moved { Ok(stats) } else { Err(stats) }
    })
    .await
}

const TWO_ROOMY_NODES: &str = "
nodes: {count: 2, memory: 4gb}
jobs:
  - {id: j1, state: opened, model_memory_limit: 1gb}
datafeeds:
  - {id: df-j1, job: j1, state: started}
";

#[tokio::test]
async fn a_job_whose_node_leaves_moves_to_a_node_with_room_and_its_datafeed_follows() {
    let sim = TestCluster::with_seed(TWO_ROOMY_NODES).await;
    let first = node_name(&sim.job_stats("j1").await);
    leave(&sim, &first).await;
    let job = wait_opened_elsewhere(&sim, "j1", &first).await;
    let datafeed = poll("df-j1 follows j1", async || {
        let df = sim.datafeed_stats("df-j1").await;
        if df["node"]["id"] == job["node"]["id"] {
            Ok(df)
        } else {
            Err(df)
        }
    })
    .await;
    assert_eq!(datafeed["state"], "started");
    assert_eq!(datafeed["assignment_explanation"], "");
    let nodes = sim.get("/_sim/nodes").await.ok().clone();
    let gone = nodes
        .as_array()
        .expect("nodes")
        .iter()
        .find(|node| node["name"] == first.as_str())
        .expect("the node is listed");
    assert_eq!(gone["in_cluster"], false);
    sim.assert_no_ordering_violation().await;
}

#[tokio::test]
async fn while_its_model_is_restored_the_job_reports_its_stale_state_and_the_datafeed_waits() {
    // Job stats read the task's last state (`opened`, stale) until the new node sets OPENED
    // again (AutodetectProcessManager sets no OPENING on reassignment); DatafeedNodeSelector
    // refuses a stale job: "cannot start datafeed [..], because the job's [..] state is stale".
    let sim =
        TestCluster::with_seed(&format!("latency: {{open_job: 10m}}\n{TWO_ROOMY_NODES}")).await;
    let first = node_name(&sim.job_stats("j1").await);
    leave(&sim, &first).await;
    let job = sim.job_stats("j1").await;
    assert_eq!(job["state"], "opened");
    assert_ne!(node_name(&job), first, "assigned to the other node at once");
    let df = sim.datafeed_stats("df-j1").await;
    assert_eq!(df["state"], "started");
    assert_no_node(&df);
    assert_eq!(
        df["assignment_explanation"],
        "cannot start datafeed [df-j1], because the job's [j1] state is stale"
    );
}

#[tokio::test]
async fn without_room_the_job_waits_unassigned_until_its_node_is_back() {
    let sim = TestCluster::with_seed(
        "
nodes: {count: 2, memory: 1gb}
jobs:
  - {id: j1, state: opened, model_memory_limit: 1gb}
  - {id: j2, state: opened, model_memory_limit: 1gb}
",
    )
    .await;
    let node = node_name(&sim.job_stats("j1").await);
    leave(&sim, &node).await;
    let job = sim.job_stats("j1").await;
    assert_eq!(job["state"], "opened", "the task keeps its last state");
    assert_no_node(&job);
    let explanation = job["assignment_explanation"].as_str().unwrap_or_default();
    assert!(
        explanation.starts_with("Not opening job [j1] on node [{")
            && explanation.contains("because this node has insufficient available memory"),
        "{explanation}"
    );
    assert!(job.get("open_time").is_none());
    join(&sim, &node, None).await;
    let back = sim.wait_job("j1", "opened").await;
    let back = poll("j1 assigned again", async || {
        let stats = sim.job_stats("j1").await;
        if stats.get("node").is_some() {
            Ok(stats)
        } else {
            Err(back.clone())
        }
    })
    .await;
    assert_node(&back);
    assert_eq!(back["assignment_explanation"], "");
}

#[tokio::test]
async fn in_upgrade_mode_nothing_moves_until_it_is_disabled() {
    let sim = TestCluster::with_seed(TWO_ROOMY_NODES).await;
    let first = node_name(&sim.job_stats("j1").await);
    sim.post("/_ml/set_upgrade_mode?enabled=true").await.ok();
    leave(&sim, &first).await;
    let job = sim.job_stats("j1").await;
    assert_eq!(job["state"], "opened");
    assert_no_node(&job);
    assert_eq!(
        job["assignment_explanation"],
        "persistent task cannot be assigned while upgrade mode is enabled."
    );
    let nodes = sim.get("/_sim/nodes").await.ok().clone();
    assert!(
        nodes
            .as_array()
            .expect("nodes")
            .iter()
            .all(|node| node["jobs"] == json!([])),
        "no job task is on a node: {nodes}"
    );
    sim.post("/_ml/set_upgrade_mode?enabled=false").await.ok();
    wait_opened_elsewhere(&sim, "j1", &first).await;
}

#[tokio::test]
async fn a_closing_job_whose_node_leaves_is_closed_and_a_failed_one_stays_failed() {
    let sim = TestCluster::with_seed(
        "
nodes: {count: 1, memory: 4gb}
jobs:
  - {id: j1, state: opened}
  - {id: j2, state: failed}
faults:
  - {operation: close_job, target: j1, stuck: true}
",
    )
    .await;
    let close = sim.post_in_background("/_ml/anomaly_detectors/j1/_close");
    sim.wait_job("j1", "closing").await;
    leave(&sim, "node-0").await;
    assert_eq!(close.await.expect("close").ok(), &json!({"closed": true}));
    assert_eq!(sim.job_state("j1").await, "closed");
    assert_eq!(sim.job_state("j2").await, "failed");
}

#[tokio::test]
async fn with_task_allocation_disabled_opens_are_refused_and_nothing_is_assigned() {
    // OpenJobPersistentTasksExecutor.validate: E13; PersistentTasksClusterService leaves tasks
    // unassigned with "persistent task [xpack/ml/job] cannot be assigned [no persistent task
    // assignments are allowed due to cluster settings]" (EnableAssignmentDecider).
    let sim = TestCluster::with_seed(
        "
nodes: {count: 2, memory: 4gb}
jobs:
  - {id: j1, state: opened}
  - {id: j2}
",
    )
    .await;
    let set = |value: &'static str| {
        sim.call(
            reqwest::Method::PUT,
            "/_sim/settings",
            Some(json!({ "persistent_tasks_allocation": value })),
        )
    };
    set("none").await.ok();
    sim.post("/_ml/anomaly_detectors/j2/_open")
        .await
        .assert_error(
            429,
            "status_exception",
            "Cannot open jobs because persistent task assignment is disabled by the \
         [cluster.persistent_tasks.allocation.enable] setting",
        );
    let first = node_name(&sim.job_stats("j1").await);
    leave(&sim, &first).await;
    let job = sim.job_stats("j1").await;
    assert_no_node(&job);
    assert_eq!(
        job["assignment_explanation"],
        "persistent task [xpack/ml/job] cannot be assigned [no persistent task assignments are \
         allowed due to cluster settings]"
    );
    set("all").await.ok();
    wait_opened_elsewhere(&sim, "j1", &first).await;
}

#[tokio::test]
async fn the_cluster_answers_as_its_oldest_node_until_the_last_one_is_back() {
    let sim = TestCluster::with_seed("cluster: {version: 8.15.0}\nnodes: {count: 2}\n").await;
    leave(&sim, "node-0").await;
    join(&sim, "node-0", Some("8.17.1")).await;
    assert_eq!(sim.get("/").await.ok()["version"]["number"], "8.15.0");
    leave(&sim, "node-1").await;
    join(&sim, "node-1", Some("8.17.1")).await;
    assert_eq!(sim.get("/").await.ok()["version"]["number"], "8.17.1");
}

#[tokio::test]
async fn a_rolling_restart_takes_every_node_out_and_back_on_the_new_version() {
    let sim = TestCluster::builder()
        .seed(&format!("cluster: {{version: 7.13.4}}\n{TWO_ROOMY_NODES}"))
        .start()
        .await;
    let resp = sim
        .post_json(
            "/_sim/rolling_restart",
            json!({"version": "7.17.9", "downtime": "20ms"}),
        )
        .await;
    sim.expect_version("7.17.9");
    assert_eq!(resp.status, 200, "{}", resp.text);
    let nodes = resp.body.as_array().expect("nodes").clone();
    assert_eq!(nodes.len(), 2);
    for node in &nodes {
        assert_eq!(node["in_cluster"], true);
        assert_eq!(node["version"], "7.17.9");
    }
    // 7.17 sends the product header (§8), which `ok()` checks.
    assert_eq!(sim.get("/").await.ok()["version"]["number"], "7.17.9");
    sim.wait_job("j1", "opened").await;
    poll("df-j1 assigned again", async || {
        let df = sim.datafeed_stats("df-j1").await;
        if df.get("node").is_some() {
            Ok(df)
        } else {
            Err(df)
        }
    })
    .await;
    sim.assert_no_ordering_violation().await;
}
