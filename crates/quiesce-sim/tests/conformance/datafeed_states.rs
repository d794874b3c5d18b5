//! docs/elasticsearch-ml-api.md §3.2: every row of the datafeed state table, with the API result and what
//! datafeed stats report afterwards (state, node, `assignment_explanation`, `running_state`).

use serde_json::{Value, json};

use quiesce_sim::testing::{Answer, TestCluster, assert_no_node, assert_node};

fn seed(job_state: &str, datafeed_state: &str, latency: &str) -> String {
    format!(
        "
latency:
  profile: fast
{latency}
jobs:
  - id: j1
    state: {job_state}
datafeeds:
  - id: df-j1
    job: j1
    state: {datafeed_state}
"
    )
}

fn assert_stopped_stats(stats: &Value) {
    assert_eq!(stats["state"], "stopped", "{stats}");
    assert_no_node(stats);
    assert!(
        stats.get("running_state").is_none(),
        "stopped: no running_state: {stats}"
    );
    assert!(
        stats.get("assignment_explanation").is_none(),
        "stopped: no task, no assignment_explanation: {stats}"
    );
    assert!(
        stats["timing_stats"].is_object(),
        "timing_stats always present: {stats}"
    );
}

fn assert_already_started(resp: &Answer) {
    resp.assert_error(
        409,
        "status_exception",
        "cannot start datafeed [df-j1] because it has already been started",
    );
}

/// Sends `POST path` in the background; the handle yields the HTTP status.
fn post_in_background(sim: &TestCluster, path: &str) -> tokio::task::JoinHandle<u16> {
    let handle = sim.post_in_background(path);
    tokio::spawn(async move { handle.await.expect("background request").status.as_u16() })
}

#[tokio::test]
async fn stopped_datafeed_stats_shape() {
    let sim = TestCluster::with_seed(&seed("opened", "stopped", "")).await;
    let stats = sim.datafeed_stats("df-j1").await;
    assert_eq!(stats["datafeed_id"], "df-j1");
    assert_stopped_stats(&stats);
    assert_eq!(
        stats["timing_stats"]["search_count"], 0,
        "never ran: {stats}"
    );
    assert_eq!(stats["timing_stats"]["job_id"], "j1");
}

#[tokio::test]
async fn start_with_job_opened_answers_node_and_reports_started() {
    let sim = TestCluster::with_seed(&seed("opened", "stopped", "")).await;
    let body = sim.post("/_ml/datafeeds/df-j1/_start").await.ok().clone();
    assert_eq!(body["started"], true, "{body}");
    let node = body["node"]
        .as_str()
        .expect("start answers a node")
        .to_owned();
    assert!(!node.is_empty());
    let stats = sim.datafeed_stats("df-j1").await;
    assert_eq!(stats["state"], "started");
    assert_eq!(assert_node(&stats), node);
    let job = sim.job_stats("j1").await;
    assert_eq!(assert_node(&job), node, "a datafeed runs on its job's node");
    assert!(
        stats["assignment_explanation"].is_string(),
        "task exists: {stats}"
    );
    assert_eq!(
        stats["running_state"]["real_time_configured"], true,
        "no end: {stats}"
    );
    assert!(
        stats["running_state"]["real_time_running"].is_boolean(),
        "{stats}"
    );
}

#[tokio::test]
async fn start_with_job_opening_succeeds() {
    let sim = TestCluster::with_seed(&seed("closed", "stopped", "  open_job: 800ms")).await;
    let open = post_in_background(&sim, "/_ml/anomaly_detectors/j1/_open");
    sim.wait_job("j1", "opening").await;
    let body = sim.post("/_ml/datafeeds/df-j1/_start").await.ok().clone();
    assert_eq!(body["started"], true, "{body}");
    assert!(body["node"].is_string(), "{body}");
    assert_eq!(open.await.expect("open task"), 200);
    sim.wait_datafeed("df-j1", "started").await;
}

#[tokio::test]
async fn start_with_job_closed_is_409_and_datafeed_stays_stopped() {
    let sim = TestCluster::with_seed(&seed("closed", "stopped", "")).await;
    sim.post("/_ml/datafeeds/df-j1/_start").await.assert_error(
        409,
        "status_exception",
        "cannot start datafeed [df-j1] because job [j1] is closed",
    );
    assert_stopped_stats(&sim.datafeed_stats("df-j1").await);
}

#[tokio::test]
async fn start_with_job_closing_is_409() {
    let sim = TestCluster::with_seed(&seed("opened", "stopped", "  close_job: 800ms")).await;
    let close = post_in_background(&sim, "/_ml/anomaly_detectors/j1/_close");
    sim.wait_job("j1", "closing").await;
    sim.post("/_ml/datafeeds/df-j1/_start").await.assert_error(
        409,
        "status_exception",
        "cannot start datafeed [df-j1] because job [j1] is closing",
    );
    assert_eq!(sim.datafeed_state("df-j1").await, "stopped");
    assert_eq!(close.await.expect("close task"), 200);
}

#[tokio::test]
async fn start_with_job_failed_is_409() {
    let sim = TestCluster::with_seed(&seed("failed", "stopped", "")).await;
    sim.post("/_ml/datafeeds/df-j1/_start").await.assert_error(
        409,
        "status_exception",
        "cannot start datafeed [df-j1] because job [j1] is failed",
    );
    assert_eq!(sim.datafeed_state("df-j1").await, "stopped");
}

#[tokio::test]
async fn start_of_started_datafeed_is_409() {
    let sim = TestCluster::with_seed(&seed("opened", "started", "")).await;
    assert_already_started(&sim.post("/_ml/datafeeds/df-j1/_start").await);
    assert_eq!(sim.datafeed_state("df-j1").await, "started");
}

#[tokio::test]
async fn start_of_starting_datafeed_is_409() {
    let sim = TestCluster::with_seed(&seed("opened", "stopped", "  start_datafeed: 800ms")).await;
    let start = post_in_background(&sim, "/_ml/datafeeds/df-j1/_start");
    sim.wait_datafeed("df-j1", "starting").await;
    assert_already_started(&sim.post("/_ml/datafeeds/df-j1/_start").await);
    assert_eq!(start.await.expect("start task"), 200);
    assert_eq!(sim.datafeed_state("df-j1").await, "started");
}

#[tokio::test]
async fn start_of_stopping_datafeed_is_409() {
    let sim = TestCluster::with_seed(&seed("opened", "started", "")).await;
    sim.set_faults(
        json!([{ "operation": "stop_datafeed", "target": "df-j1", "stuck": true, "times": 1 }]),
    )
    .await;
    let _stop = sim.post_in_background("/_ml/datafeeds/df-j1/_stop");
    sim.wait_datafeed("df-j1", "stopping").await;
    assert_already_started(&sim.post("/_ml/datafeeds/df-j1/_start").await);
    assert_eq!(sim.datafeed_state("df-j1").await, "stopping");
}

#[tokio::test]
async fn stop_of_started_datafeed_goes_through_stopping_to_stopped() {
    let sim = TestCluster::with_seed(&seed("opened", "started", "  stop_datafeed: 600ms")).await;
    let stop = post_in_background(&sim, "/_ml/datafeeds/df-j1/_stop");
    sim.wait_datafeed("df-j1", "stopping").await;
    assert_eq!(stop.await.expect("stop task"), 200);
    // The stop returns only once the datafeed is stopped.
    assert_stopped_stats(&sim.datafeed_stats("df-j1").await);
}

#[tokio::test]
async fn stop_answers_stopped_true() {
    let sim = TestCluster::with_seed(&seed("opened", "started", "")).await;
    let resp = sim.post("/_ml/datafeeds/df-j1/_stop").await;
    assert_eq!(resp.ok(), &json!({ "stopped": true }));
    assert_stopped_stats(&sim.datafeed_stats("df-j1").await);
    assert_eq!(
        sim.job_state("j1").await,
        "opened",
        "a real-time datafeed's stop leaves the job open"
    );
}

#[tokio::test]
async fn stop_of_starting_datafeed_stops_it() {
    let sim = TestCluster::with_seed(&seed("opened", "stopped", "  start_datafeed: 800ms")).await;
    let _start = post_in_background(&sim, "/_ml/datafeeds/df-j1/_start");
    sim.wait_datafeed("df-j1", "starting").await;
    let resp = sim.post("/_ml/datafeeds/df-j1/_stop").await;
    assert_eq!(resp.ok(), &json!({ "stopped": true }));
    assert_eq!(sim.datafeed_state("df-j1").await, "stopped");
}

#[tokio::test]
async fn stop_of_stopping_datafeed_waits_until_stopped() {
    let sim = TestCluster::with_seed(&seed("opened", "started", "  stop_datafeed: 600ms")).await;
    let first = post_in_background(&sim, "/_ml/datafeeds/df-j1/_stop");
    sim.wait_datafeed("df-j1", "stopping").await;
    let resp = sim.post("/_ml/datafeeds/df-j1/_stop").await;
    assert_eq!(resp.ok(), &json!({ "stopped": true }));
    assert_eq!(sim.datafeed_state("df-j1").await, "stopped");
    assert_eq!(first.await.expect("stop task"), 200);
}

#[tokio::test]
async fn stop_of_stopped_datafeed_is_a_no_op_with_or_without_force() {
    let sim = TestCluster::with_seed(&seed("opened", "stopped", "")).await;
    for path in [
        "/_ml/datafeeds/df-j1/_stop",
        "/_ml/datafeeds/df-j1/_stop?force=true",
    ] {
        assert_eq!(
            sim.post(path).await.ok(),
            &json!({ "stopped": true }),
            "{path}"
        );
        assert_eq!(sim.datafeed_state("df-j1").await, "stopped");
    }
}

#[tokio::test]
async fn force_stop_of_started_datafeed_stops_it() {
    let sim = TestCluster::with_seed(&seed("opened", "started", "")).await;
    let resp = sim.post("/_ml/datafeeds/df-j1/_stop?force=true").await;
    assert_eq!(resp.ok(), &json!({ "stopped": true }));
    assert_stopped_stats(&sim.datafeed_stats("df-j1").await);
}

#[tokio::test]
async fn force_stop_of_starting_datafeed_stops_it() {
    let sim = TestCluster::with_seed(&seed("opened", "stopped", "  start_datafeed: 800ms")).await;
    let _start = post_in_background(&sim, "/_ml/datafeeds/df-j1/_start");
    sim.wait_datafeed("df-j1", "starting").await;
    let resp = sim.post("/_ml/datafeeds/df-j1/_stop?force=true").await;
    assert_eq!(resp.ok(), &json!({ "stopped": true }));
    assert_eq!(sim.datafeed_state("df-j1").await, "stopped");
}

#[tokio::test]
async fn force_stop_of_stopping_datafeed_stops_it() {
    let sim = TestCluster::with_seed(&seed("opened", "started", "")).await;
    sim.set_faults(
        json!([{ "operation": "stop_datafeed", "target": "df-j1", "stuck": true, "times": 1 }]),
    )
    .await;
    let stop = sim.post_in_background("/_ml/datafeeds/df-j1/_stop");
    sim.wait_datafeed("df-j1", "stopping").await;
    let resp = sim.post("/_ml/datafeeds/df-j1/_stop?force=true").await;
    assert_eq!(resp.ok(), &json!({ "stopped": true }));
    assert_stopped_stats(&sim.datafeed_stats("df-j1").await);
    assert_eq!(stop.await.expect("stop").ok(), &json!({ "stopped": true }));
}

#[tokio::test]
async fn close_job_stops_its_started_datafeed_first() {
    // 7.14+ (§2.2 step 4): close stops the datafeed, then closes the job.
    let sim = TestCluster::with_seed(&seed("opened", "started", "")).await;
    let resp = sim.post("/_ml/anomaly_detectors/j1/_close").await;
    assert_eq!(resp.ok(), &json!({ "closed": true }));
    assert_stopped_stats(&sim.datafeed_stats("df-j1").await);
    assert_eq!(sim.job_state("j1").await, "closed");
}

#[tokio::test]
async fn lookback_datafeed_stops_and_closes_its_job_when_it_reaches_end() {
    let sim = TestCluster::with_seed(&seed("opened", "stopped", "")).await;
    let body = sim
        .post("/_ml/datafeeds/df-j1/_start?start=2026-01-01T00:00:00Z&end=2026-01-02T00:00:00Z")
        .await
        .ok()
        .clone();
    assert_eq!(body["started"], true);
    sim.wait_datafeed("df-j1", "stopped").await;
    sim.wait_job("j1", "closed").await;
}

#[tokio::test]
async fn job_failure_force_stops_the_started_datafeed() {
    let sim = TestCluster::with_seed(&seed("opened", "started", "")).await;
    sim.post("/_sim/anomaly_detectors/j1/_fail").await;
    assert_eq!(sim.job_state("j1").await, "failed");
    assert_stopped_stats(&sim.datafeed_stats("df-j1").await);
}
