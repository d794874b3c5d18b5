//! docs/elasticsearch-ml-api.md §2.5 and §3: upgrade mode. Enabling it unassigns jobs and datafeeds (states
//! kept, node gone, explanation set), refuses every blocked action with E10, allows GETs, and
//! a bare `set_upgrade_mode` disables it.

use reqwest::Method;
use serde_json::json;

use quiesce_sim::testing::{TestCluster, assert_no_node, assert_node};

const EXPLANATION: &str = "persistent task cannot be assigned while upgrade mode is enabled.";
const CLUSTER: &str = "
jobs:
  - id: j1
    state: opened
  - id: j2
datafeeds:
  - id: df-j1
    job: j1
    state: started
  - id: df-j2
    job: j2
";

async fn enabled() -> TestCluster {
    let sim = TestCluster::with_seed(CLUSTER).await;
    let resp = sim.post("/_ml/set_upgrade_mode?enabled=true").await;
    assert_eq!(resp.ok(), &json!({ "acknowledged": true }));
    sim
}

fn e10(action: &str) -> String {
    format!("Cannot perform {action} action while upgrade mode is enabled")
}

#[tokio::test]
async fn enabling_keeps_states_but_unassigns_tasks() {
    let sim = enabled().await;
    assert_eq!(sim.get("/_ml/info").await.ok()["upgrade_mode"], true);
    let job = sim.job_stats("j1").await;
    assert_eq!(job["state"], "opened");
    assert_no_node(&job);
    assert_eq!(job["assignment_explanation"], EXPLANATION);
    let datafeed = sim.datafeed_stats("df-j1").await;
    assert_eq!(datafeed["state"], "started");
    assert_no_node(&datafeed);
    assert_eq!(datafeed["assignment_explanation"], EXPLANATION);
    let closed = sim.job_stats("j2").await;
    assert_eq!(closed["state"], "closed");
    assert!(
        closed.get("assignment_explanation").is_none(),
        "no task: {closed}"
    );
}

#[tokio::test]
async fn blocked_actions_are_refused_with_e10() {
    let sim = enabled().await;
    for (path, action) in [
        (
            "/_ml/anomaly_detectors/j2/_open",
            "cluster:admin/xpack/ml/job/open",
        ),
        (
            "/_ml/anomaly_detectors/j1/_close",
            "cluster:admin/xpack/ml/job/close",
        ),
        (
            "/_ml/datafeeds/df-j1/_stop",
            "cluster:admin/xpack/ml/datafeed/stop",
        ),
        (
            "/_ml/datafeeds/df-j2/_start",
            "cluster:admin/xpack/ml/datafeed/start",
        ),
        (
            "/_ml/anomaly_detectors/j1/_close?force=true",
            "cluster:admin/xpack/ml/job/close",
        ),
        (
            "/_ml/datafeeds/df-j1/_stop?force=true",
            "cluster:admin/xpack/ml/datafeed/stop",
        ),
    ] {
        sim.post(path)
            .await
            .assert_error(429, "status_exception", &e10(action));
    }
    sim.put_job("j3", json!({})).await.assert_error(
        429,
        "status_exception",
        &e10("cluster:admin/xpack/ml/job/put"),
    );
    sim.put_datafeed("df-j3", "j2").await.assert_error(
        429,
        "status_exception",
        &e10("cluster:admin/xpack/ml/datafeeds/put"),
    );
    for path in ["/_ml/anomaly_detectors/j2", "/_ml/datafeeds/df-j2"] {
        let error = sim
            .delete(path)
            .await
            .assert_envelope(429, "status_exception")
            .clone();
        let reason = error["reason"].as_str().unwrap_or_default();
        assert!(
            reason.starts_with("Cannot perform cluster:admin/xpack/ml/")
                && reason.ends_with(" action while upgrade mode is enabled"),
            "delete in upgrade mode: {reason}"
        );
    }
    // Nothing changed.
    assert_eq!(sim.job_state("j1").await, "opened");
    assert_eq!(sim.job_state("j2").await, "closed");
    assert_eq!(sim.datafeed_state("df-j1").await, "started");
    assert_eq!(sim.datafeed_state("df-j2").await, "stopped");
}

#[tokio::test]
async fn the_upgrade_mode_filter_runs_before_id_validation() {
    let sim = enabled().await;
    sim.post("/_ml/anomaly_detectors/no-such-job/_open")
        .await
        .assert_error(
            429,
            "status_exception",
            &e10("cluster:admin/xpack/ml/job/open"),
        );
    sim.post("/_ml/datafeeds/no-such-df/_stop")
        .await
        .assert_error(
            429,
            "status_exception",
            &e10("cluster:admin/xpack/ml/datafeed/stop"),
        );
}

#[tokio::test]
async fn reads_are_allowed_while_enabled() {
    let sim = enabled().await;
    for path in [
        "/",
        "/_ml/info",
        "/_ml/anomaly_detectors",
        "/_ml/anomaly_detectors/j1",
        "/_ml/anomaly_detectors/_stats",
        "/_ml/anomaly_detectors/j1/model_snapshots",
        "/_ml/datafeeds",
        "/_ml/datafeeds/df-j1",
        "/_ml/datafeeds/_stats",
    ] {
        let resp = sim.send(sim.request(Method::GET, path)).await;
        assert_eq!(
            resp.status.as_u16(),
            200,
            "GET {path} in upgrade mode: {}",
            resp.text
        );
    }
}

#[tokio::test]
async fn bare_set_upgrade_mode_disables_and_tasks_are_reassigned() {
    let sim = enabled().await;
    let resp = sim.post("/_ml/set_upgrade_mode").await;
    assert_eq!(resp.ok(), &json!({ "acknowledged": true }));
    assert_eq!(sim.get("/_ml/info").await.ok()["upgrade_mode"], false);
    let job = sim.job_stats("j1").await;
    assert_eq!(job["state"], "opened");
    assert_node(&job);
    assert_eq!(job["assignment_explanation"], "");
    let datafeed = sim.datafeed_stats("df-j1").await;
    assert_eq!(datafeed["state"], "started");
    assert_node(&datafeed);
    // Actions work again.
    assert_eq!(
        sim.post("/_ml/datafeeds/df-j1/_stop").await.ok()["stopped"],
        true
    );
}

#[tokio::test]
async fn setting_the_current_value_is_acknowledged() {
    let sim = TestCluster::with_seed(CLUSTER).await;
    for path in [
        "/_ml/set_upgrade_mode?enabled=false",
        "/_ml/set_upgrade_mode",
    ] {
        assert_eq!(sim.post(path).await.ok(), &json!({ "acknowledged": true }));
    }
    assert_eq!(sim.get("/_ml/info").await.ok()["upgrade_mode"], false);
    let job = sim.job_stats("j1").await;
    assert_node(&job);
    for _ in 0..2 {
        let resp = sim.post("/_ml/set_upgrade_mode?enabled=true").await;
        assert_eq!(resp.ok(), &json!({ "acknowledged": true }));
    }
    assert_eq!(sim.get("/_ml/info").await.ok()["upgrade_mode"], true);
}

#[tokio::test]
async fn set_upgrade_mode_takes_enabled_and_timeout_and_rejects_unknown_params() {
    let sim = TestCluster::with_seed(CLUSTER).await;
    sim.post("/_ml/set_upgrade_mode?enabled=true&timeout=30s")
        .await
        .ok();
    assert_eq!(sim.get("/_ml/info").await.ok()["upgrade_mode"], true);
    sim.post("/_ml/set_upgrade_mode?bogus=1")
        .await
        .assert_error(
            400,
            "illegal_argument_exception",
            "request [/_ml/set_upgrade_mode] contains unrecognized parameter: [bogus]",
        );
}

#[tokio::test]
async fn sim_stats_report_upgrade_mode() {
    let sim = enabled().await;
    assert_eq!(sim.sim_stats().await["upgrade_mode"], true);
}

#[tokio::test]
async fn isolated_lookback_datafeed_does_not_close_its_job_until_upgrade_mode_ends() {
    // §2.5: enabling isolates datafeeds and halts tasks; §2.1 step 7: an isolated lookback
    // datafeed does not auto-close its job. Once disabled, the datafeed resumes and finishes.
    let sim = TestCluster::with_seed(
        "
latency:
  lookback: 200ms
jobs:
  - id: j1
    state: opened
datafeeds:
  - id: df-j1
    job: j1
",
    )
    .await;
    sim.post("/_ml/datafeeds/df-j1/_start?end=2026-01-02T00:00:00Z")
        .await
        .ok();
    sim.post("/_ml/set_upgrade_mode?enabled=true").await.ok();
    // Look only once the lookback has had twice its time: a delay fault holds the stats call
    // back 400ms inside the simulator before it reads the state. Halted tasks do not finish.
    sim.set_faults(json!([{ "operation": "job_stats", "times": 1, "delay": "400ms" }]))
        .await;
    assert_eq!(sim.job_state("j1").await, "opened");
    assert_eq!(sim.datafeed_state("df-j1").await, "started");
    sim.post("/_ml/set_upgrade_mode?enabled=false").await.ok();
    sim.wait_datafeed("df-j1", "stopped").await;
    sim.wait_job("j1", "closed").await;
}

#[tokio::test]
async fn a_change_that_times_out_fails_and_frees_the_next_call() {
    // TransportSetUpgradeModeAction (7.x and 8.x) resets `isRunning` when the change fails.
    // Disabling waits with PersistentTasksService.waitForPersistentTasksCondition, which fails
    // with IllegalStateException "Timed out when waiting for persistent tasks after <t>";
    // enabling waits through list tasks, whose timeout comes back as a FailedNodeException
    // (TransportListTasksAction, SubscribableListener.addTimeout "timed out after [%s/%dms]").
    let sim = TestCluster::with_seed(
        "latency: {set_upgrade_mode: 10m}\njobs: [{id: j1, state: opened}]\n",
    )
    .await;
    let node = sim.job_stats("j1").await["node"]["id"].clone();
    let enable = sim
        .post("/_ml/set_upgrade_mode?enabled=true&timeout=0s")
        .await;
    let cause = enable.assert_error_caused(
        500,
        "failed_node_exception",
        &format!("Failed node [{}]", node.as_str().unwrap_or_default()),
        "timeout_exception",
    );
    assert_eq!(cause["reason"], "timed out after [0s/0ms]");
    assert_eq!(sim.get("/_ml/info").await.ok()["upgrade_mode"], true);
    // Not "Previous request is still being processed": the failed call freed the flag.
    sim.post("/_ml/set_upgrade_mode?enabled=false&timeout=0s")
        .await
        .assert_error(
            500,
            "illegal_state_exception",
            "Timed out when waiting for persistent tasks after 0s",
        );
    assert_eq!(sim.get("/_ml/info").await.ok()["upgrade_mode"], false);
}

#[tokio::test]
async fn a_body_is_refused_and_master_timeout_is_read() {
    // BaseRestHandler: a handler that consumes no body answers
    // `request [<METHOD> <path>] does not support having a body`; RestSetUpgradeModeAction
    // reads `enabled`, `timeout` and `master_timeout` from the query only (7.x source).
    let sim = TestCluster::with_seed(CLUSTER).await;
    sim.post_json("/_ml/set_upgrade_mode", json!({"enabled": true}))
        .await
        .assert_error(
            400,
            "illegal_argument_exception",
            "request [POST /_ml/set_upgrade_mode] does not support having a body",
        );
    assert_eq!(sim.get("/_ml/info").await.ok()["upgrade_mode"], false);
    let resp = sim
        .post("/_ml/set_upgrade_mode?enabled=true&master_timeout=30s")
        .await;
    assert_eq!(resp.ok(), &json!({ "acknowledged": true }));
    let stats = sim
        .call(
            Method::GET,
            "/_ml/anomaly_detectors/_stats",
            Some(json!({"allow_no_match": true})),
        )
        .await;
    stats.assert_error(
        400,
        "illegal_argument_exception",
        "request [GET /_ml/anomaly_detectors/_stats] does not support having a body",
    );
}

#[tokio::test]
async fn jobs_in_upgrade_mode_have_no_open_time() {
    // Enabling upgrade mode ends the jobs' processes, so their stats come from
    // TransportGetJobsStatsAction.gatherStatsForClosedJobs: no node, no open_time.
    let sim = TestCluster::with_seed(CLUSTER).await;
    assert!(sim.job_stats("j1").await.get("open_time").is_some());
    sim.post("/_ml/set_upgrade_mode?enabled=true").await.ok();
    let job = sim.job_stats("j1").await;
    assert_eq!(job["state"], "opened");
    assert!(job.get("open_time").is_none(), "{job}");
    assert_no_node(&job);
}
