//! The ML lifecycle: upgrade mode, lookback datafeeds, version switches (§8), creating and
//! deleting jobs and datafeeds, and the stats bodies.

use quiesce_sim::testing::{TestCluster, poll};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::TWO_JOBS;

#[tokio::test]
async fn upgrade_mode_refuses_changes_and_hides_assignments() {
    let sim = TestCluster::with_seed(TWO_JOBS).await;
    sim.post("/_ml/set_upgrade_mode?enabled=true").await.ok();
    assert_eq!(sim.get("/_ml/info").await.ok()["upgrade_mode"], true);
    sim.post("/_ml/anomaly_detectors/j1/_close")
        .await
        .assert_error(
            429,
            "status_exception",
            "Cannot perform cluster:admin/xpack/ml/job/close action while upgrade mode is enabled",
        );
    sim.post("/_ml/datafeeds/df-j1/_stop").await.assert_error(
        429,
        "status_exception",
        "Cannot perform cluster:admin/xpack/ml/datafeed/stop action while upgrade mode is enabled",
    );
    let job = sim.job_stats("j1").await;
    assert_eq!(job["state"], "opened");
    assert!(job.get("node").is_none());
    assert_eq!(
        job["assignment_explanation"],
        "persistent task cannot be assigned while upgrade mode is enabled."
    );
    assert_eq!(sim.datafeed_stats("df-j1").await["state"], "started");
    sim.post("/_ml/set_upgrade_mode?enabled=false").await.ok();
    let job = sim.job_stats("j1").await;
    assert!(job["node"]["id"].is_string());
    assert_eq!(job["assignment_explanation"], "");
}

#[tokio::test]
async fn a_concurrent_upgrade_mode_change_is_refused() {
    let sim = std::sync::Arc::new(TestCluster::with_seed("latency: {set_upgrade_mode: 1s}").await);
    let first = {
        let sim = std::sync::Arc::clone(&sim);
        tokio::spawn(async move { sim.post("/_ml/set_upgrade_mode?enabled=true").await.status })
    };
    poll("upgrade mode turns on", async || {
        let info = sim.get("/_ml/info").await.ok().clone();
        if info["upgrade_mode"] == true {
            Ok(())
        } else {
            Err(info)
        }
    })
    .await;
    let second = sim.post("/_ml/set_upgrade_mode?enabled=false").await;
    let cause = second.assert_error_caused(
        429,
        "status_exception",
        "Cannot change [upgrade_mode]. Previous request is still being processed.",
        "illegal_state_exception",
    );
    assert_eq!(
        cause["reason"],
        "Attempted to set [upgrade_mode] to [false] from [true] while previous request was processing."
    );
    assert_eq!(first.await.unwrap(), StatusCode::OK);
}

#[tokio::test]
async fn a_lookback_datafeed_stops_and_closes_its_job() {
    let sim = TestCluster::with_seed(
        "
jobs:
  - {id: back, state: opened}
datafeeds:
  - {id: df-back, job: back, state: started, end: '2026-11-01T00:00:00Z'}
",
    )
    .await;
    sim.wait_datafeed("df-back", "stopped").await;
    sim.wait_job("back", "closed").await;
}

#[tokio::test]
async fn a_start_with_an_end_runs_a_lookback() {
    let sim = TestCluster::with_seed(TWO_JOBS).await;
    sim.post("/_ml/datafeeds/df-j1/_stop").await.ok();
    let started = sim
        .post("/_ml/datafeeds/df-j1/_start?start=2026-01-01T00:00:00Z&end=2026-01-02T00:00:00Z")
        .await;
    assert_eq!(started.ok()["started"], true);
    let df = sim.datafeed_stats("df-j1").await;
    if df["state"] == "started" {
        assert_eq!(df["running_state"]["real_time_configured"], false);
    }
    sim.wait_job("j1", "closed").await;
}

#[tokio::test]
async fn before_7_14_closing_with_a_running_datafeed_is_a_conflict() {
    let sim = TestCluster::builder()
        .seed(TWO_JOBS)
        .es_version("7.13.0")
        .start()
        .await;
    let close = sim.post("/_ml/anomaly_detectors/j1/_close").await;
    close.assert_error(
        409,
        "status_exception",
        "cannot close job datafeed [df-j1] hasn't been stopped",
    );
    assert!(close.headers.get("x-elastic-product").is_none());
    sim.post("/_ml/datafeeds/df-j1/_stop").await.ok();
    // 7.8+ answers with the node (PR #55473, backport #55570 to 7.8).
    let started = sim.post("/_ml/datafeeds/df-j1/_start").await;
    let node = sim.job_stats("j1").await["node"]["id"].clone();
    assert_eq!(started.ok(), &json!({"started": true, "node": node}));
}

#[tokio::test]
async fn jobs_and_datafeeds_are_created_and_deleted() {
    let sim = TestCluster::with_seed("").await;
    let job = sim
        .put_json(
            "/_ml/anomaly_detectors/new-job",
            json!({"analysis_config": {"detectors": [{"function": "count"}]}, "data_description": {}}),
        )
        .await;
    let job = job.ok();
    assert_eq!(job["analysis_config"]["bucket_span"], "5m");
    assert_eq!(job["analysis_limits"]["model_memory_limit"], "1024mb");
    let df = sim
        .put_json(
            "/_ml/datafeeds/df-new",
            json!({"job_id": "new-job", "indices": ["logs-*"]}),
        )
        .await;
    assert_eq!(df.ok()["query"], json!({"match_all": {"boost": 1.0}}));
    sim.post("/_ml/anomaly_detectors/new-job/_open").await.ok();
    let started = sim.post("/_ml/datafeeds/df-new/_start").await;
    assert_eq!(started.ok()["started"], true);
    assert!(started.body["node"].is_string());
    sim.call(Method::DELETE, "/_ml/datafeeds/df-new", None)
        .await
        .assert_error(
            409,
            "status_exception",
            "Cannot delete datafeed [df-new] while its status is started",
        );
    sim.call(Method::DELETE, "/_ml/anomaly_detectors/new-job", None)
        .await
        .assert_error(
            409,
            "status_exception",
            "Cannot delete job [new-job] because the job is opened",
        );
    sim.post("/_ml/datafeeds/df-new/_stop").await.ok();
    sim.post("/_ml/anomaly_detectors/new-job/_close").await.ok();
    sim.call(Method::DELETE, "/_ml/anomaly_detectors/new-job", None)
        .await
        .assert_error(
            409,
            "status_exception",
            "Cannot delete job [new-job] because datafeed [df-new] refers to it",
        );
    sim.call(Method::DELETE, "/_ml/datafeeds/df-new", None)
        .await
        .ok();
    sim.call(Method::DELETE, "/_ml/anomaly_detectors/new-job", None)
        .await
        .ok();
    assert_eq!(sim.get("/_ml/anomaly_detectors").await.ok()["count"], 0);
}

#[tokio::test]
async fn stats_list_nodes_and_running_state_sorted_by_id() {
    let sim = TestCluster::with_seed(TWO_JOBS).await;
    let jobs = sim.get("/_ml/anomaly_detectors/_stats").await.ok().clone();
    assert_eq!(jobs["count"], 2);
    assert_eq!(jobs["jobs"][0]["job_id"], "j1");
    let node = &jobs["jobs"][0]["node"];
    for field in [
        "id",
        "name",
        "ephemeral_id",
        "transport_address",
        "attributes",
    ] {
        assert!(node.get(field).is_some(), "node lacks {field}: {node}");
    }
    assert!(
        jobs["jobs"][0]["open_time"]
            .as_str()
            .unwrap()
            .ends_with('s')
    );
    let df = sim.datafeed_stats("df-j1").await;
    assert_eq!(df["running_state"]["real_time_configured"], true);
    assert_eq!(df["node"]["id"], node["id"]);
    let group = sim
        .get("/_ml/anomaly_detectors/g/_stats")
        .await
        .ok()
        .clone();
    assert_eq!(group["count"], 1);
}

#[tokio::test]
async fn from_9_3_close_job_decides_whether_a_stopped_lookback_closes_its_job() {
    let seed = "
latency: {lookback: 10m}
jobs:
  - {id: j1, state: opened}
  - {id: j2, state: opened}
datafeeds:
  - {id: df-j1, job: j1, state: started, end: '2026-11-01T00:00:00Z'}
  - {id: df-j2, job: j2, state: started, end: '2026-11-01T00:00:00Z'}
";
    let sim = TestCluster::builder()
        .seed(seed)
        .es_version("9.3.0")
        .start()
        .await;
    sim.post("/_ml/datafeeds/df-j1/_stop").await.ok();
    assert_eq!(sim.job_stats("j1").await["state"], "opened");
    sim.post("/_ml/datafeeds/df-j2/_stop?close_job=true")
        .await
        .ok();
    assert_eq!(sim.job_stats("j2").await["state"], "closed");
    let before = TestCluster::builder()
        .seed(seed)
        .es_version("8.15.0")
        .start()
        .await;
    before.post("/_ml/datafeeds/df-j1/_stop").await.ok();
    before.wait_job("j1", "closed").await;
}

#[tokio::test]
async fn deprecated_allow_no_jobs_warns_in_7_x() {
    let sim = TestCluster::builder()
        .seed(TWO_JOBS)
        .es_version("7.13.0")
        .start()
        .await;
    let answer = sim
        .post("/_ml/anomaly_detectors/missing-*/_close?allow_no_jobs=false")
        .await;
    answer.assert_error(
        404,
        "resource_not_found_exception",
        "No known job with id 'missing-*'",
    );
    let warning = answer.headers["warning"].to_str().unwrap();
    assert!(
        warning
            .contains("Deprecated field [allow_no_jobs] used, expected [allow_no_match] instead")
    );
}
