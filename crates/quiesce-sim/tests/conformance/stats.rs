//! docs/elasticsearch-ml-api.md §2.7 and §2.9: what the stats say of jobs without a process and
//! of datafeeds whose job has no node.

use serde_json::json;

use quiesce_sim::testing::{TestCluster, assert_no_node, assert_node};

#[tokio::test]
async fn a_failed_job_has_no_node_and_no_open_time() {
    // A failed job's process context is gone: its stats come from
    // TransportGetJobsStatsAction.gatherStatsForClosedJobs, which sets `node` and `open_time`
    // to null (8.x); its task keeps the assignment explanation.
    let sim =
        TestCluster::with_seed("jobs: [{id: j1, state: opened}, {id: j2, state: failed}]").await;
    assert_node(&sim.job_stats("j1").await);
    sim.fail_job("j1").await;
    for id in ["j1", "j2"] {
        let job = sim.job_stats(id).await;
        assert_eq!(job["state"], "failed");
        assert_no_node(&job);
        assert!(job.get("open_time").is_none(), "{job}");
        assert_eq!(job["assignment_explanation"], "", "{job}");
    }
}

#[tokio::test]
async fn the_datafeed_of_a_job_awaiting_lazy_assignment_says_so() {
    // DatafeedNodeSelector.selectNode: the job task has no executor node, so the datafeed's
    // assignment is AWAITING_JOB_ASSIGNMENT, "datafeed awaiting job assignment." (8.x).
    let sim = TestCluster::with_seed(
        "
nodes: {count: 1, memory: 1gb}
jobs:
  - {id: big, state: opened, model_memory_limit: 1gb}
  - {id: lazy, model_memory_limit: 1gb, allow_lazy_open: true}
datafeeds:
  - {id: df-lazy, job: lazy}
",
    )
    .await;
    assert_eq!(
        sim.post("/_ml/anomaly_detectors/lazy/_open").await.ok(),
        &json!({"opened": true, "node": ""})
    );
    sim.post("/_ml/datafeeds/df-lazy/_start").await.ok();
    let df = sim.datafeed_stats("df-lazy").await;
    assert_eq!(df["state"], "starting");
    assert_no_node(&df);
    assert_eq!(
        df["assignment_explanation"],
        "datafeed awaiting job assignment."
    );
    let job = sim.job_stats("lazy").await;
    assert_eq!(
        job["assignment_explanation"],
        "persistent task is awaiting node assignment."
    );
}
