//! The simulator contract's timing model and generator: persistence slots and the close queue
//! (429 `es_rejected_execution_exception`), persist time from model size and rate, force close
//! skipping persistence, and deterministic `generate:` seeds.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use quiesce_sim::testing::TestCluster;

/// Four opened jobs whose models take 500 ms each to persist at 10mb/s.
const FOUR_JOBS: &str = "
persistence:
  slots: 2
latency:
  persist_rate: 10mb
jobs:
  - { id: a, model_bytes: 5mb, state: opened }
  - { id: b, model_bytes: 5mb, state: opened }
  - { id: c, model_bytes: 5mb, state: opened }
  - { id: d, model_bytes: 5mb, state: opened }
";

#[tokio::test]
async fn graceful_close_holds_a_slot_for_model_bytes_over_persist_rate() {
    let sim = TestCluster::with_seed(FOUR_JOBS).await;
    let started = Instant::now();
    let resp = sim.post("/_ml/anomaly_detectors/_all/_close").await;
    assert_eq!(resp.ok(), &json!({ "closed": true }));
    let elapsed = started.elapsed();
    // 4 persists of 500 ms on 2 slots: at least two rounds.
    assert!(elapsed >= Duration::from_millis(1000), "took {elapsed:?}");
    let stats = sim.sim_stats().await;
    assert_eq!(stats["peak_concurrent_persists"], 2, "{stats}");
    for job in ["a", "b", "c", "d"] {
        assert_eq!(stats["jobs"][job], "closed", "{stats}");
    }
}

#[tokio::test]
async fn force_close_skips_persistence() {
    let sim = TestCluster::with_seed(
        "
latency:
  persist_rate: 1mb
jobs:
  - { id: a, model_bytes: 20mb, state: opened }
",
    )
    .await;
    let resp = sim.post("/_ml/anomaly_detectors/a/_close?force=true").await;
    assert_eq!(resp.ok(), &json!({ "closed": true }));
    // The 20 s persist never ran: no slot was ever taken and no snapshot was written.
    assert_eq!(sim.sim_stats().await["peak_concurrent_persists"], 0);
    let snapshots = sim.get("/_ml/anomaly_detectors/a/model_snapshots").await;
    assert_eq!(snapshots.ok()["count"], 0);
}

#[tokio::test]
async fn open_restores_the_model_at_persist_rate() {
    let sim = TestCluster::with_seed(
        "
latency:
  persist_rate: 10mb
jobs:
  - { id: a, model_bytes: 5mb }
",
    )
    .await;
    let started = Instant::now();
    assert_eq!(
        sim.post("/_ml/anomaly_detectors/a/_open").await.ok()["opened"],
        true
    );
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn closes_past_the_queue_limit_are_rejected_with_429() {
    let sim = TestCluster::with_seed(
        "
persistence:
  slots: 1
  queue_limit: 1
latency:
  persist_rate: 10mb
jobs:
  - { id: a, model_bytes: 10mb, state: opened }
  - { id: b, model_bytes: 10mb, state: opened }
  - { id: c, model_bytes: 10mb, state: opened }
",
    )
    .await;
    let (a, b, c) = tokio::join!(
        sim.post("/_ml/anomaly_detectors/a/_close"),
        sim.post("/_ml/anomaly_detectors/b/_close"),
        sim.post("/_ml/anomaly_detectors/c/_close"),
    );
    let results = [("a", a), ("b", b), ("c", c)];
    let rejected: Vec<&str> = results
        .iter()
        .filter(|(_, resp)| resp.status.as_u16() == 429)
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(
        rejected.len(),
        1,
        "one slot + one queued, the third is refused"
    );
    for (id, resp) in &results {
        if rejected.contains(id) {
            resp.assert_envelope(429, "es_rejected_execution_exception");
            assert_eq!(
                sim.job_state(id).await,
                "opened",
                "a refused close changes nothing"
            );
        } else {
            assert_eq!(resp.ok(), &json!({ "closed": true }), "{id}");
        }
    }
}

fn generated(seed: u64, fractions: &str) -> String {
    format!(
        "
nodes: {{ count: 2 }}
generate:
  seed: {seed}
  jobs: 30
  prefix: gen
  groups: [a, b, c]
  model_bytes: {{ min: 1mb, max: 2mb }}
{fractions}
"
    )
}

async fn states(sim: &TestCluster) -> (Value, Value) {
    let stats = sim.sim_stats().await;
    (stats["jobs"].clone(), stats["datafeeds"].clone())
}

#[tokio::test]
async fn generator_is_deterministic_and_uses_ids_groups_and_datafeed_names() {
    let fractions = "  with_datafeed: 0.5\n  opened: 0.6\n  started: 0.5\n";
    let first = TestCluster::with_seed(&generated(42, fractions)).await;
    let second = TestCluster::with_seed(&generated(42, fractions)).await;
    let (jobs, datafeeds) = states(&first).await;
    assert_eq!(
        (jobs.clone(), datafeeds.clone()),
        states(&second).await,
        "same seed, same cluster"
    );
    let jobs = jobs.as_object().expect("jobs map").clone();
    assert_eq!(jobs.len(), 30);
    assert!(
        jobs.contains_key("gen-00001") && jobs.contains_key("gen-00030"),
        "{jobs:?}"
    );
    for (id, _) in datafeeds.as_object().expect("datafeeds map") {
        let job = id
            .strip_prefix("datafeed-")
            .unwrap_or_else(|| panic!("datafeed id {id}"));
        assert!(jobs.contains_key(job), "{id} belongs to a generated job");
    }
    let body = first
        .get("/_ml/anomaly_detectors/a/_stats")
        .await
        .ok()
        .clone();
    assert_eq!(body["count"], 10, "round robin over 3 groups");
    for job in body["jobs"].as_array().expect("jobs") {
        assert!(
            job["job_id"]
                .as_str()
                .is_some_and(|id| id.starts_with("gen-"))
        );
    }
}

#[tokio::test]
async fn generator_extremes_give_all_or_nothing() {
    let all = TestCluster::with_seed(&generated(
        7,
        "  with_datafeed: 1.0\n  opened: 1.0\n  started: 1.0\n",
    ))
    .await;
    let (jobs, datafeeds) = states(&all).await;
    assert!(
        jobs.as_object()
            .expect("jobs")
            .values()
            .all(|s| s == "opened"),
        "{jobs}"
    );
    let datafeeds = datafeeds.as_object().expect("datafeeds").clone();
    assert_eq!(datafeeds.len(), 30);
    assert!(datafeeds.values().all(|s| s == "started"), "{datafeeds:?}");

    let none = TestCluster::with_seed(&generated(7, "  with_datafeed: 0.0\n  opened: 0.0\n")).await;
    let (jobs, datafeeds) = states(&none).await;
    assert!(
        jobs.as_object()
            .expect("jobs")
            .values()
            .all(|s| s == "closed"),
        "{jobs}"
    );
    assert_eq!(datafeeds, json!({}));
}

#[tokio::test]
async fn the_default_stop_timeout_is_five_minutes() {
    // StopDatafeedAction.DEFAULT_TIMEOUT is 5 minutes (8.x), not the documented 20s: a node
    // gives up on a graceful stop only after it. A 21s stop is therefore waited for whole.
    let sim = TestCluster::with_seed(
        "latency: {stop_datafeed: 21s}\njobs: [{id: j1, state: opened}]\n\
         datafeeds: [{id: df-j1, job: j1, state: started}]\n",
    )
    .await;
    let started = Instant::now();
    let resp = sim.post("/_ml/datafeeds/df-j1/_stop").await;
    assert_eq!(resp.ok(), &json!({"stopped": true}));
    assert!(
        started.elapsed() >= Duration::from_secs(21),
        "answered after {:?}, before the stop was done",
        started.elapsed()
    );
    assert_eq!(sim.datafeed_state("df-j1").await, "stopped");
}
