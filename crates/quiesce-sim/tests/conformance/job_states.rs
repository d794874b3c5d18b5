//! docs/elasticsearch-ml-api.md §3.1: every row of the job state table, with the API result and what job stats
//! report afterwards (state, node, `assignment_explanation`, `open_time`).

use serde_json::json;

use quiesce_sim::testing::{Answer, TestCluster, assert_no_node, assert_node};

const OPEN_JOB: &str = "jobs:\n  - id: j1\n    state: opened\n";
const FAILED_JOB: &str = "jobs:\n  - id: j1\n    state: failed\n";
/// One node of 1gb and a lazy job that needs 2gb: it can never be assigned.
const LAZY_JOB: &str = "
nodes:
  count: 1
  memory: 1gb
jobs:
  - id: lazy
    model_memory_limit: 2gb
    allow_lazy_open: true
";
/// A close that takes long enough to be seen in `closing`.
const SLOW_CLOSE: &str = "
latency:
  close_job: 600ms
jobs:
  - id: j1
    state: opened
";

/// Starts a close in the background and returns once stats report `closing`.
async fn close_in_background(sim: &TestCluster) -> tokio::task::JoinHandle<u16> {
    let handle = sim.post_in_background("/_ml/anomaly_detectors/j1/_close");
    sim.wait_job("j1", "closing").await;
    tokio::spawn(async move { handle.await.expect("close task").status.as_u16() })
}

#[tokio::test]
async fn closed_job_opens_and_reports_node_explanation_and_open_time() {
    let sim = TestCluster::empty().await;
    sim.put_job("j1", json!({})).await.ok();
    let closed = sim.job_stats("j1").await;
    assert_eq!(closed["state"], "closed");
    assert_no_node(&closed);
    assert!(
        closed.get("open_time").is_none(),
        "closed job has no open_time: {closed}"
    );
    assert!(
        closed.get("assignment_explanation").is_none(),
        "no task, no assignment_explanation: {closed}"
    );

    let resp = sim.post("/_ml/anomaly_detectors/j1/_open").await;
    let body = resp.ok().clone();
    assert_eq!(body["opened"], true, "{body}");
    let answered_node = body["node"].as_str().expect("node is a string").to_owned();
    assert!(
        !answered_node.is_empty(),
        "assigned open returns the node id"
    );

    let stats = sim.job_stats("j1").await;
    assert_eq!(stats["state"], "opened");
    assert_eq!(
        assert_node(&stats),
        answered_node,
        "open answers the node stats show"
    );
    assert_eq!(stats["assignment_explanation"], "");
    assert!(
        stats["open_time"].is_string(),
        "opened job has open_time: {stats}"
    );
}

#[tokio::test]
async fn stats_elements_always_carry_counts_sizes_forecasts_and_timing() {
    let sim = TestCluster::with_seed(OPEN_JOB).await;
    let stats = sim.job_stats("j1").await;
    assert_eq!(stats["job_id"], "j1");
    assert_eq!(stats["data_counts"]["job_id"], "j1");
    assert!(stats["data_counts"]["processed_record_count"].is_u64());
    assert_eq!(stats["model_size_stats"]["result_type"], "model_size_stats");
    assert!(stats["model_size_stats"]["model_bytes"].is_u64());
    assert!(stats["forecasts_stats"]["total"].is_u64());
    assert_eq!(stats["timing_stats"]["job_id"], "j1");
}

#[tokio::test]
async fn lazy_open_without_capacity_stays_opening_unassigned() {
    let sim = TestCluster::with_seed(LAZY_JOB).await;
    let resp = sim.post("/_ml/anomaly_detectors/lazy/_open").await;
    assert_eq!(resp.ok(), &json!({ "opened": true, "node": "" }));
    let stats = sim.job_stats("lazy").await;
    assert_eq!(stats["state"], "opening");
    assert_no_node(&stats);
    assert_eq!(
        stats["assignment_explanation"],
        "persistent task is awaiting node assignment."
    );
}

#[tokio::test]
async fn lazy_job_is_assigned_when_memory_frees_up() {
    let sim = TestCluster::with_seed(
        "
nodes:
  count: 1
  memory: 2gb
jobs:
  - id: big
    model_memory_limit: 1536mb
    state: opened
  - id: lazy
    model_memory_limit: 1gb
    allow_lazy_open: true
",
    )
    .await;
    let resp = sim.post("/_ml/anomaly_detectors/lazy/_open").await;
    assert_eq!(resp.ok()["node"], "");
    assert_eq!(sim.job_state("lazy").await, "opening");
    sim.post("/_ml/anomaly_detectors/big/_close").await.ok();
    let stats = sim.wait_job("lazy", "opened").await;
    assert_node(&stats);
    assert_eq!(stats["assignment_explanation"], "");
}

fn assert_already_opened(resp: &Answer, id: &str) {
    let cause = resp.assert_error_caused(
        409,
        "status_exception",
        &format!("Cannot open job [{id}] because it has already been opened"),
        "resource_already_exists_exception",
    );
    assert_eq!(
        cause["reason"],
        format!("task with id {{job-{id}}} already exist")
    );
}

#[tokio::test]
async fn open_of_opened_job_is_409() {
    let sim = TestCluster::with_seed(OPEN_JOB).await;
    assert_already_opened(&sim.post("/_ml/anomaly_detectors/j1/_open").await, "j1");
    assert_eq!(sim.job_state("j1").await, "opened");
}

#[tokio::test]
async fn open_of_opening_job_is_409() {
    let sim = TestCluster::with_seed(LAZY_JOB).await;
    sim.post("/_ml/anomaly_detectors/lazy/_open").await.ok();
    assert_already_opened(&sim.post("/_ml/anomaly_detectors/lazy/_open").await, "lazy");
    assert_eq!(sim.job_state("lazy").await, "opening");
}

#[tokio::test]
async fn open_of_closing_job_is_409() {
    let sim = TestCluster::with_seed(SLOW_CLOSE).await;
    let close = close_in_background(&sim).await;
    assert_already_opened(&sim.post("/_ml/anomaly_detectors/j1/_open").await, "j1");
    assert_eq!(close.await.expect("close task"), 200);
    assert_eq!(sim.job_state("j1").await, "closed");
}

#[tokio::test]
async fn open_of_failed_job_is_409() {
    let sim = TestCluster::with_seed(FAILED_JOB).await;
    assert_already_opened(&sim.post("/_ml/anomaly_detectors/j1/_open").await, "j1");
    assert_eq!(sim.job_state("j1").await, "failed");
}

#[tokio::test]
async fn graceful_close_goes_through_closing_to_closed() {
    let sim = TestCluster::with_seed(SLOW_CLOSE).await;
    let close = close_in_background(&sim).await;
    assert_eq!(close.await.expect("close task"), 200);
    // The close returns only once the job is closed.
    let stats = sim.job_stats("j1").await;
    assert_eq!(stats["state"], "closed");
    assert_no_node(&stats);
    assert!(stats.get("open_time").is_none(), "{stats}");
    assert!(stats.get("assignment_explanation").is_none(), "{stats}");
}

#[tokio::test]
async fn close_answers_closed_true() {
    let sim = TestCluster::with_seed(OPEN_JOB).await;
    let resp = sim.post("/_ml/anomaly_detectors/j1/_close").await;
    assert_eq!(resp.ok(), &json!({ "closed": true }));
    assert_eq!(sim.job_state("j1").await, "closed");
}

#[tokio::test]
async fn close_of_unassigned_opening_job_closes_it() {
    let sim = TestCluster::with_seed(LAZY_JOB).await;
    sim.post("/_ml/anomaly_detectors/lazy/_open").await.ok();
    let resp = sim.post("/_ml/anomaly_detectors/lazy/_close").await;
    assert_eq!(resp.ok(), &json!({ "closed": true }));
    let stats = sim.job_stats("lazy").await;
    assert_eq!(stats["state"], "closed");
    assert!(stats.get("assignment_explanation").is_none(), "{stats}");
}

#[tokio::test]
async fn close_of_closing_job_waits_until_closed() {
    let sim = TestCluster::with_seed(SLOW_CLOSE).await;
    let first = close_in_background(&sim).await;
    let second = sim.post("/_ml/anomaly_detectors/j1/_close").await;
    assert_eq!(second.ok(), &json!({ "closed": true }));
    assert_eq!(
        sim.job_state("j1").await,
        "closed",
        "a repeated close returns only once the job is closed"
    );
    assert_eq!(first.await.expect("close task"), 200);
}

#[tokio::test]
async fn close_of_closed_job_is_a_no_op_with_or_without_force() {
    let sim = TestCluster::with_seed("jobs:\n  - id: j1\n").await;
    for path in [
        "/_ml/anomaly_detectors/j1/_close",
        "/_ml/anomaly_detectors/j1/_close?force=true",
    ] {
        assert_eq!(
            sim.post(path).await.ok(),
            &json!({ "closed": true }),
            "{path}"
        );
        assert_eq!(sim.job_state("j1").await, "closed");
    }
}

#[tokio::test]
async fn close_of_failed_job_without_force_is_409_and_job_stays_failed() {
    let sim = TestCluster::with_seed(FAILED_JOB).await;
    sim.post("/_ml/anomaly_detectors/j1/_close")
        .await
        .assert_error(
            409,
            "status_exception",
            "cannot close job [j1] because it failed, use force close",
        );
    assert_eq!(sim.job_state("j1").await, "failed");
}

#[tokio::test]
async fn force_close_of_failed_job_closes_it() {
    let sim = TestCluster::with_seed(FAILED_JOB).await;
    let resp = sim
        .post("/_ml/anomaly_detectors/j1/_close?force=true")
        .await;
    assert_eq!(resp.ok(), &json!({ "closed": true }));
    assert_eq!(sim.job_state("j1").await, "closed");
}

#[tokio::test]
async fn force_close_of_opened_job_closes_it() {
    let sim = TestCluster::with_seed(OPEN_JOB).await;
    let resp = sim
        .post("/_ml/anomaly_detectors/j1/_close?force=true")
        .await;
    assert_eq!(resp.ok(), &json!({ "closed": true }));
    assert_eq!(sim.job_state("j1").await, "closed");
}

#[tokio::test]
async fn force_close_of_opening_job_closes_it() {
    let sim = TestCluster::with_seed(LAZY_JOB).await;
    sim.post("/_ml/anomaly_detectors/lazy/_open").await.ok();
    let resp = sim
        .post("/_ml/anomaly_detectors/lazy/_close?force=true")
        .await;
    assert_eq!(resp.ok(), &json!({ "closed": true }));
    assert_eq!(sim.job_state("lazy").await, "closed");
}

#[tokio::test]
async fn force_close_of_closing_job_closes_it_immediately() {
    // A stuck close keeps the job `closing` until a force close (simulator contract).
    let sim = TestCluster::with_seed(OPEN_JOB).await;
    sim.set_faults(
        json!([{ "operation": "close_job", "target": "j1", "stuck": true, "times": 1 }]),
    )
    .await;
    sim.post("/_ml/anomaly_detectors/j1/_close?timeout=100ms")
        .await
        .assert_error(
            500,
            "illegal_state_exception",
            "Timed out when waiting for persistent tasks after 100ms",
        );
    assert_eq!(sim.job_state("j1").await, "closing");
    let resp = sim
        .post("/_ml/anomaly_detectors/j1/_close?force=true")
        .await;
    assert_eq!(resp.ok(), &json!({ "closed": true }));
    assert_eq!(sim.job_state("j1").await, "closed");
}

#[tokio::test]
async fn process_failure_fails_the_job_and_force_stops_its_datafeed() {
    let sim = TestCluster::with_seed(
        "
jobs:
  - id: j1
    state: opened
datafeeds:
  - id: df-j1
    job: j1
    state: started
",
    )
    .await;
    let resp = sim.post("/_sim/anomaly_detectors/j1/_fail").await;
    assert_eq!(resp.status.as_u16(), 200, "{}", resp.text);
    assert_eq!(resp.body, json!({ "failed": true }));
    assert_eq!(sim.job_state("j1").await, "failed");
    let datafeed = sim.datafeed_stats("df-j1").await;
    assert_eq!(datafeed["state"], "stopped");
    assert_no_node(&datafeed);
}

/// A job whose open takes long enough to be seen in `opening`.
const SLOW_OPEN: &str = "
latency:
  open_job: 1500ms
jobs:
  - id: j1
";

/// Starts an open in the background and returns once stats report `opening`.
async fn open_in_background(sim: &TestCluster) -> tokio::task::JoinHandle<Answer> {
    let handle = sim.post_in_background("/_ml/anomaly_detectors/j1/_open");
    sim.wait_job("j1", "opening").await;
    handle
}

#[tokio::test]
async fn open_waiting_job_closed_meanwhile_is_409() {
    // §2.3: `The job has been closed while waiting to be opened`.
    let sim = TestCluster::with_seed(SLOW_OPEN).await;
    let open = open_in_background(&sim).await;
    let closed = sim
        .post("/_ml/anomaly_detectors/j1/_close?force=true")
        .await;
    assert_eq!(closed.ok(), &json!({ "closed": true }));
    open.await.expect("open task").assert_error(
        409,
        "status_exception",
        "The job has been closed while waiting to be opened",
    );
    assert_eq!(sim.job_state("j1").await, "closed");
}

#[tokio::test]
async fn open_waiting_job_failed_meanwhile_is_500() {
    // §2.3: `Unexpected job state [failed] [with reason [<r>] ]while waiting for job to be opened`.
    let sim = TestCluster::with_seed(SLOW_OPEN).await;
    let open = open_in_background(&sim).await;
    let failed = sim.post("/_sim/anomaly_detectors/j1/_fail").await;
    assert_eq!(failed.status.as_u16(), 200, "{}", failed.text);
    let resp = open.await.expect("open task");
    let error = resp.assert_envelope(500, "exception");
    let reason = error["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("Unexpected job state [failed] ")
            && reason.ends_with("while waiting for job to be opened"),
        "reason: {reason}"
    );
    assert_eq!(sim.job_state("j1").await, "failed");
}

#[tokio::test]
async fn closing_job_is_still_assigned_to_its_node() {
    let sim = TestCluster::with_seed(SLOW_CLOSE).await;
    let close = close_in_background(&sim).await;
    let stats = sim.job_stats("j1").await;
    assert_eq!(stats["state"], "closing", "the close takes 600 ms: {stats}");
    assert_node(&stats);
    assert_eq!(close.await.expect("close task"), 200);
}

#[tokio::test]
async fn close_timeout_reason_formats_the_time_value_like_es() {
    // ES TimeValue: 1500ms prints as `1.5s`.
    let sim = TestCluster::with_seed(OPEN_JOB).await;
    sim.set_faults(json!([{ "operation": "close_job", "stuck": true, "times": 1 }]))
        .await;
    sim.post("/_ml/anomaly_detectors/j1/_close?timeout=1500ms")
        .await
        .assert_error(
            500,
            "illegal_state_exception",
            "Timed out when waiting for persistent tasks after 1.5s",
        );
}
