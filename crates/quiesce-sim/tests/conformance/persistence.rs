//! The timing model: model persistence and its slots and queue, memory placement and lazy
//! open, and what waits past their `timeout` answer (E14/E15/E16).

use std::time::{Duration, Instant};

use quiesce_sim::testing::TestCluster;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn a_graceful_close_persists_the_model_and_a_snapshot() {
    let sim = TestCluster::with_seed(
        "
latency: {persist_rate: 100mb}
jobs:
  - {id: big, state: opened, model_bytes: 20mb}
",
    )
    .await;
    let started = Instant::now();
    sim.post("/_ml/anomaly_detectors/big/_close").await.ok();
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "20mb at 100mb/s takes at least 200ms, took {:?}",
        started.elapsed()
    );
    let job = sim.job_stats("big").await;
    assert_eq!(job["state"], "closed");
    assert!(job.get("node").is_none() && job.get("open_time").is_none());
    let snapshots = sim
        .get("/_ml/anomaly_detectors/big/model_snapshots")
        .await
        .ok()
        .clone();
    assert_eq!(snapshots["count"], 1);
    let description = snapshots["model_snapshots"][0]["description"]
        .as_str()
        .unwrap();
    assert!(
        description.starts_with("State persisted due to job close at ")
            && description.ends_with("+0000"),
        "{description}"
    );
    let config = sim.get("/_ml/anomaly_detectors/big").await.ok().clone();
    assert!(config["jobs"][0]["finished_time"].is_i64());
}

#[tokio::test]
async fn a_forced_close_skips_persistence() {
    let sim = TestCluster::with_seed(
        "
latency: {persist_rate: 1mb}
jobs:
  - {id: big, state: opened, model_bytes: 500mb}
",
    )
    .await;
    sim.post("/_ml/anomaly_detectors/big/_close?force=true")
        .await
        .ok();
    assert_eq!(sim.job_stats("big").await["state"], "closed");
    let snapshots = sim.get("/_ml/anomaly_detectors/big/model_snapshots").await;
    assert_eq!(snapshots.ok()["count"], 0);
}

const THREE_SLOW_JOBS: &str = "
latency: {persist_rate: 100mb}
persistence: {slots: 1, queue_limit: 1}
jobs:
  - {id: a, state: opened, model_bytes: 100mb}
  - {id: b, state: opened, model_bytes: 100mb}
  - {id: c, state: opened, model_bytes: 100mb}
";

#[tokio::test]
async fn closes_past_the_queue_limit_are_rejected() {
    let sim = std::sync::Arc::new(TestCluster::with_seed(THREE_SLOW_JOBS).await);
    let mut running = Vec::new();
    for job in ["a", "b"] {
        let closer = std::sync::Arc::clone(&sim);
        running.push(tokio::spawn(async move {
            closer
                .post(&format!("/_ml/anomaly_detectors/{job}/_close"))
                .await
                .status
        }));
        sim.wait_job(job, "closing").await;
    }
    let rejected = sim.post("/_ml/anomaly_detectors/c/_close").await;
    assert_eq!(rejected.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        rejected.body["error"]["type"],
        "es_rejected_execution_exception"
    );
    assert_eq!(
        sim.job_stats("c").await["state"],
        "opened",
        "a refused close changes nothing"
    );
    for close in running {
        assert_eq!(close.await.unwrap(), StatusCode::OK);
    }
    let stats = sim.sim_stats().await;
    assert_eq!(
        stats["peak_concurrent_persists"], 1,
        "one slot: persists ran one at a time"
    );
    assert_eq!(stats["requests"]["close_job"], json!({"200": 2, "429": 1}));
}

#[tokio::test]
async fn persists_beyond_the_slots_queue() {
    let sim = TestCluster::with_seed(
        "
latency: {persist_rate: 100mb}
persistence: {slots: 2, queue_limit: 10}
jobs:
  - {id: a, state: opened, model_bytes: 20mb}
  - {id: b, state: opened, model_bytes: 20mb}
  - {id: c, state: opened, model_bytes: 20mb}
  - {id: d, state: opened, model_bytes: 20mb}
",
    )
    .await;
    let started = Instant::now();
    sim.post("/_ml/anomaly_detectors/_all/_close").await.ok();
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "4 persists of 200ms in 2 slots take two rounds, took {:?}",
        started.elapsed()
    );
    assert_eq!(sim.sim_stats().await["peak_concurrent_persists"], 2);
}

const SMALL_NODE: &str = "
nodes: {count: 1, memory: 2gb}
jobs:
  - {id: big, state: opened, model_memory_limit: 1536mb}
  - {id: other, model_memory_limit: 1gb}
  - {id: lazy, model_memory_limit: 1gb, allow_lazy_open: true}
";

#[tokio::test]
async fn an_open_needs_memory_on_a_node() {
    let sim = TestCluster::with_seed(SMALL_NODE).await;
    let refused = sim.post("/_ml/anomaly_detectors/other/_open").await;
    let cause = refused.assert_error_caused(
        429,
        "status_exception",
        "Could not open job because no ML nodes with sufficient capacity were found",
        "illegal_state_exception",
    );
    let cause = cause["reason"].as_str().unwrap();
    assert!(
        cause.starts_with(
            "Could not open job because no suitable nodes were found, allocation explanation ["
        ),
        "{cause}"
    );
    assert_eq!(sim.job_stats("other").await["state"], "closed");
}

#[tokio::test]
async fn a_lazy_job_waits_for_memory_then_opens() {
    let sim = TestCluster::with_seed(SMALL_NODE).await;
    let opened = sim.post("/_ml/anomaly_detectors/lazy/_open").await;
    assert_eq!(opened.ok(), &json!({"opened": true, "node": ""}));
    let waiting = sim.job_stats("lazy").await;
    assert_eq!(waiting["state"], "opening");
    assert!(waiting.get("node").is_none());
    assert_eq!(
        waiting["assignment_explanation"],
        "persistent task is awaiting node assignment."
    );
    sim.post("/_ml/anomaly_detectors/big/_close").await.ok();
    sim.wait_job("lazy", "opened").await;
    assert!(sim.job_stats("lazy").await["node"]["id"].is_string());
}

#[tokio::test]
async fn waits_past_their_timeout_answer_as_es_does() {
    let sim = std::sync::Arc::new(
        TestCluster::with_seed(
            "
latency: {open_job: 2s, close_job: 2s, start_datafeed: 2s}
jobs:
  - {id: opened, state: opened}
  - {id: closed}
  - {id: fed, state: opened}
datafeeds:
  - {id: df-fed, job: fed}
",
        )
        .await,
    );
    let open = sim
        .post("/_ml/anomaly_detectors/closed/_open?timeout=20ms")
        .await;
    open.assert_error(
        408,
        "status_exception",
        "Opening job [closed] timed out after [20ms]",
    );
    let close = sim
        .post("/_ml/anomaly_detectors/opened/_close?timeout=20ms")
        .await;
    close.assert_error(
        500,
        "illegal_state_exception",
        "Timed out when waiting for persistent tasks after 20ms",
    );
    assert_eq!(
        sim.job_stats("opened").await["state"],
        "closing",
        "the close goes on"
    );
    let start = sim.post("/_ml/datafeeds/df-fed/_start?timeout=20ms").await;
    start.assert_error(
        408,
        "status_exception",
        "Starting datafeed [df-fed] timed out after [20ms]",
    );
    sim.wait_job("opened", "closed").await;
    sim.wait_datafeed("df-fed", "started").await;
}

#[tokio::test]
async fn a_close_of_many_jobs_is_queued_not_refused() {
    // TransportCloseJobAction sends one close per job to its node, each run as its own task
    // (`taskOperation` forks per job): a close of `_all` waits its turn, it is never refused
    // for its size. The queue limit refuses requests that arrive to a full queue.
    let jobs: String = (1..=40)
        .map(|n| format!("  - {{id: job-{n:02}, state: opened, model_bytes: 1mb}}\n"))
        .collect();
    let sim = TestCluster::with_seed(&format!(
        "nodes: {{count: 3}}\npersistence: {{slots: 1, queue_limit: 1}}\njobs:\n{jobs}"
    ))
    .await;
    let resp = sim.post("/_ml/anomaly_detectors/_all/_close").await;
    assert_eq!(resp.ok(), &json!({ "closed": true }));
    let stats = sim.sim_stats().await;
    assert!(
        stats["jobs"]
            .as_object()
            .expect("jobs")
            .values()
            .all(|state| state == "closed"),
        "{stats}"
    );
    assert_eq!(stats["peak_concurrent_persists"], 1);
}
