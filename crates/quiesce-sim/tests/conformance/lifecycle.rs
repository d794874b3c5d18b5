//! docs/elasticsearch-ml-api.md §2 details beyond the state tables: model snapshots on graceful and forced
//! close, `finished_time`, lookback datafeeds auto-closing their jobs, and the put/get/delete
//! bodies, defaults and conflicts of §2.6, §2.8, §2.10, §2.11 and §2.13.

use serde_json::{Value, json};

use quiesce_sim::testing::TestCluster;

const OPEN_JOB: &str = "jobs:\n  - id: j1\n    state: opened\n    model_bytes: 10mb\n";

async fn snapshots(sim: &TestCluster, job: &str) -> Vec<Value> {
    let resp = sim
        .get(&format!("/_ml/anomaly_detectors/{job}/model_snapshots"))
        .await;
    let body = resp.ok();
    let list = body["model_snapshots"]
        .as_array()
        .unwrap_or_else(|| panic!("model_snapshots array: {}", resp.text))
        .clone();
    assert_eq!(body["count"], list.len(), "{}", resp.text);
    list
}

async fn job_config(sim: &TestCluster, job: &str) -> Value {
    let resp = sim.get(&format!("/_ml/anomaly_detectors/{job}")).await;
    let body = resp.ok();
    assert_eq!(body["count"], 1, "{}", resp.text);
    body["jobs"][0].clone()
}

/// `State persisted due to job close at 2019-12-03T19:43:57+0000` (§2.2 step 9).
fn is_close_description(description: &str) -> bool {
    let Some(at) = description.strip_prefix("State persisted due to job close at ") else {
        return false;
    };
    let bytes = at.as_bytes();
    at.len() == 24
        && at.ends_with("+0000")
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes[10] == b'T'
        && bytes[13] == b':'
        && bytes[16] == b':'
        && at[..19]
            .bytes()
            .enumerate()
            .all(|(i, b)| [4, 7, 10, 13, 16].contains(&i) || b.is_ascii_digit())
}

#[test]
fn close_description_matcher_accepts_the_documented_example_only() {
    assert!(is_close_description(
        "State persisted due to job close at 2019-12-03T19:43:57+0000"
    ));
    assert!(!is_close_description(
        "State persisted due to job close at 2019-12-03T19:43:57Z"
    ));
    assert!(!is_close_description("Automatic snapshot"));
}

#[tokio::test]
async fn graceful_close_persists_a_snapshot_with_the_documented_description() {
    let sim = TestCluster::with_seed(OPEN_JOB).await;
    let before = snapshots(&sim, "j1").await.len();
    sim.post("/_ml/anomaly_detectors/j1/_close").await.ok();
    let after = snapshots(&sim, "j1").await;
    assert_eq!(after.len(), before + 1, "one new snapshot: {after:?}");
    let described: Vec<&str> = after
        .iter()
        .filter_map(|s| s["description"].as_str())
        .filter(|d| is_close_description(d))
        .collect();
    assert_eq!(described.len(), 1, "snapshot descriptions: {after:?}");
    let snapshot = after
        .iter()
        .find(|s| s["description"].as_str().is_some_and(is_close_description))
        .expect("the close snapshot");
    assert_eq!(snapshot["job_id"], "j1");
    let id = snapshot["snapshot_id"]
        .as_str()
        .expect("snapshot_id string");
    assert!(
        !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()),
        "snapshot_id is epoch seconds: {id}"
    );
    assert!(snapshot["model_size_stats"].is_object(), "{snapshot}");
    assert!(snapshot["retain"].is_boolean(), "{snapshot}");
    assert!(snapshot["min_version"].is_string(), "{snapshot}");
    assert!(snapshot["timestamp"].is_u64(), "{snapshot}");
    assert!(snapshot["snapshot_doc_count"].is_u64(), "{snapshot}");
    let config = job_config(&sim, "j1").await;
    assert_eq!(
        config["model_snapshot_id"].as_str(),
        Some(id),
        "the job points at its latest snapshot (§2.6)"
    );
    let posted = sim
        .post("/_ml/anomaly_detectors/j1/model_snapshots?sort=timestamp&desc=true&from=0&size=10")
        .await;
    assert_eq!(
        posted.ok()["count"],
        after.len(),
        "POST and paging params are accepted"
    );
}

#[tokio::test]
async fn force_close_persists_no_snapshot() {
    let sim = TestCluster::with_seed(OPEN_JOB).await;
    let before = snapshots(&sim, "j1").await.len();
    sim.post("/_ml/anomaly_detectors/j1/_close?force=true")
        .await
        .ok();
    assert_eq!(
        snapshots(&sim, "j1").await.len(),
        before,
        "force skips persistence"
    );
}

#[tokio::test]
async fn finished_time_is_set_by_close_and_cleared_by_open() {
    let sim = TestCluster::with_seed(OPEN_JOB).await;
    let config = job_config(&sim, "j1").await;
    assert!(config.get("finished_time").is_none(), "open job: {config}");
    sim.post("/_ml/anomaly_detectors/j1/_close").await.ok();
    let config = job_config(&sim, "j1").await;
    assert!(
        config.get("finished_time").is_some(),
        "closed job: {config}"
    );
    sim.post("/_ml/anomaly_detectors/j1/_open").await.ok();
    let config = job_config(&sim, "j1").await;
    assert!(
        config.get("finished_time").is_none(),
        "reopened job: {config}"
    );
}

#[tokio::test]
async fn lookback_datafeed_from_the_seed_closes_its_job() {
    let sim = TestCluster::with_seed(
        "
jobs:
  - id: j1
    state: opened
datafeeds:
  - id: df-j1
    job: j1
    state: started
    end: \"2026-01-01T00:00:00Z\"
",
    )
    .await;
    sim.wait_datafeed("df-j1", "stopped").await;
    sim.wait_job("j1", "closed").await;
}

#[tokio::test]
async fn running_lookback_datafeed_reports_real_time_configured_false() {
    let sim = TestCluster::with_seed(
        "
latency:
  lookback: 5s
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
    let stats = sim.datafeed_stats("df-j1").await;
    assert_eq!(stats["state"], "started", "{stats}");
    assert_eq!(
        stats["running_state"]["real_time_configured"], false,
        "{stats}"
    );
    assert_eq!(
        stats["running_state"]["real_time_running"], false,
        "lookback running: {stats}"
    );
}

#[tokio::test]
async fn stopping_a_lookback_datafeed_closes_its_job_even_with_force() {
    // §2.1 step 7: an API stop of a datafeed started with an `end` also closes the job.
    for force in ["false", "true"] {
        let sim = TestCluster::with_seed(
            "
latency:
  lookback: 30s
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
        let resp = sim
            .post(&format!("/_ml/datafeeds/df-j1/_stop?force={force}"))
            .await;
        assert_eq!(resp.ok(), &json!({ "stopped": true }));
        sim.wait_job("j1", "closed").await;
    }
}

#[tokio::test]
async fn put_job_fills_in_the_documented_defaults() {
    let sim = TestCluster::empty().await;
    let resp = sim.put_job("j1", json!({})).await;
    let job = resp.ok();
    assert_eq!(job["job_id"], "j1");
    assert_eq!(job["job_type"], "anomaly_detector");
    assert!(job["job_version"].is_string(), "{job}");
    assert!(job.get("create_time").is_some(), "{job}");
    assert_eq!(job["analysis_config"]["bucket_span"], "5m");
    assert_eq!(job["analysis_config"]["detectors"][0]["function"], "count");
    assert_eq!(job["analysis_config"]["detectors"][0]["detector_index"], 0);
    assert_eq!(job["analysis_limits"]["model_memory_limit"], "1024mb");
    assert_eq!(job["analysis_limits"]["categorization_examples_limit"], 4);
    assert_eq!(job["model_snapshot_retention_days"], 10);
    assert_eq!(job["daily_model_snapshot_retention_after_days"], 1);
    assert_eq!(job["results_index_name"], "shared");
    assert_eq!(job["allow_lazy_open"], false);
    assert_eq!(
        job["data_description"]["time_field"], "time",
        "default time field: {job}"
    );
    assert_eq!(job["data_description"]["time_format"], "epoch_ms");
    let stored = job_config(&sim, "j1").await;
    assert_eq!(stored["analysis_limits"]["model_memory_limit"], "1024mb");
    assert!(
        stored.get("finished_time").is_none(),
        "never closed: {stored}"
    );
}

#[tokio::test]
async fn put_job_conflicts() {
    let sim = TestCluster::empty().await;
    sim.put_job("j1", json!({})).await.ok();
    sim.put_job("j1", json!({})).await.assert_error(
        400,
        "resource_already_exists_exception",
        "The job cannot be created with the Id 'j1'. The Id is already used.",
    );
    sim.put_job("j2", json!({ "job_id": "other" }))
        .await
        .assert_error(
            400,
            "illegal_argument_exception",
            "Inconsistent job_id; 'other' specified in the body differs from 'j2' specified as a URL argument",
        );
}

#[tokio::test]
async fn put_and_get_datafeed_with_defaults_and_conflicts() {
    let sim = TestCluster::empty().await;
    sim.put_job("j1", json!({})).await.ok();
    let created = sim.put_datafeed("df-j1", "j1").await;
    let datafeed = created.ok();
    assert_eq!(datafeed["datafeed_id"], "df-j1");
    assert_eq!(datafeed["job_id"], "j1");
    let resp = sim.get("/_ml/datafeeds/df-j1").await;
    let body = resp.ok();
    assert_eq!(body["count"], 1);
    let stored = &body["datafeeds"][0];
    assert_eq!(stored["indices"], json!(["j1-*"]));
    assert_eq!(stored["query"], json!({ "match_all": { "boost": 1.0 } }));
    assert_eq!(stored["scroll_size"], 1000);
    assert_eq!(stored["chunking_config"], json!({ "mode": "auto" }));

    sim.put_datafeed("df-other", "j1").await.assert_error(
        409,
        "status_exception",
        "A datafeed [df-j1] already exists for job [j1]",
    );
    sim.put_job("j2", json!({})).await.ok();
    sim.put_datafeed("df-j1", "j2").await.assert_error(
        400,
        "resource_already_exists_exception",
        "A datafeed with id [df-j1] already exists",
    );
    sim.put_datafeed("df-x", "no-such-job").await.assert_error(
        404,
        "resource_not_found_exception",
        "No known job with id 'no-such-job'",
    );
}

#[tokio::test]
async fn delete_conflicts_while_running_and_success_when_stopped() {
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
    sim.delete("/_ml/datafeeds/df-j1").await.assert_error(
        409,
        "status_exception",
        "Cannot delete datafeed [df-j1] while its status is started",
    );
    sim.post("/_ml/datafeeds/df-j1/_stop").await.ok();
    let deleted = sim.delete("/_ml/datafeeds/df-j1").await;
    assert_eq!(deleted.ok(), &json!({ "acknowledged": true }));
    sim.delete("/_ml/anomaly_detectors/j1").await.assert_error(
        409,
        "status_exception",
        "Cannot delete job [j1] because the job is opened",
    );
}

#[tokio::test]
async fn jobs_and_datafeeds_created_through_the_api_run_the_full_cycle() {
    let sim = TestCluster::empty().await;
    sim.put_job("j1", json!({ "groups": ["web"] })).await.ok();
    sim.put_datafeed("df-j1", "j1").await.ok();
    let opened = sim
        .post("/_ml/anomaly_detectors/j1/_open")
        .await
        .ok()
        .clone();
    let started = sim.post("/_ml/datafeeds/df-j1/_start").await.ok().clone();
    assert_eq!(opened["opened"], true);
    assert_eq!(started["started"], true);
    assert_eq!(sim.datafeed_state("df-j1").await, "started");
    assert_eq!(
        sim.post("/_ml/datafeeds/df-j1/_stop").await.ok()["stopped"],
        true
    );
    assert_eq!(
        sim.post("/_ml/anomaly_detectors/web/_close").await.ok()["closed"],
        true
    );
    assert_eq!(sim.job_state("j1").await, "closed");
    assert_eq!(sim.datafeed_state("df-j1").await, "stopped");
}

#[tokio::test]
async fn get_job_shows_groups_and_nested_datafeed_config() {
    let sim = TestCluster::with_seed(
        "
jobs:
  - id: j1
    groups: [web, prod]
  - id: j2
datafeeds:
  - id: df-j1
    job: j1
  - id: df-j2
    job: j2
    indices: [web-logs-*]
",
    )
    .await;
    let job = job_config(&sim, "j1").await;
    assert_eq!(job["groups"], json!(["web", "prod"]));
    assert_eq!(
        job["datafeed_config"]["datafeed_id"], "df-j1",
        "8.x nests the datafeed: {job}"
    );
    let resp = sim.get("/_ml/datafeeds/df-j1,df-j2").await;
    let body = resp.ok();
    assert_eq!(
        body["datafeeds"][0]["indices"],
        json!(["j1-*"]),
        "default indices"
    );
    assert_eq!(body["datafeeds"][1]["indices"], json!(["web-logs-*"]));
    // exclude_generated is a known parameter (§2.6).
    sim.get("/_ml/anomaly_detectors/j1?exclude_generated=true")
        .await
        .ok();
}

#[tokio::test]
async fn open_and_close_bodies_may_repeat_the_id() {
    let sim = TestCluster::with_seed("jobs:\n  - id: j1\n").await;
    let opened = sim
        .post_json(
            "/_ml/anomaly_detectors/j1/_open",
            json!({ "job_id": "j1", "timeout": "1m" }),
        )
        .await;
    assert_eq!(opened.ok()["opened"], true);
    let closed = sim
        .post_json(
            "/_ml/anomaly_detectors/j1/_close",
            json!({ "job_id": "j1", "timeout": "1m", "force": false, "allow_no_match": true }),
        )
        .await;
    assert_eq!(closed.ok(), &json!({ "closed": true }));
}

const STOPPED_DATAFEED: &str = "
latency:
  lookback: 30s
jobs:
  - id: j1
    state: opened
datafeeds:
  - id: df-j1
    job: j1
";

#[tokio::test]
async fn start_and_end_accept_epoch_millis() {
    let sim = TestCluster::with_seed(STOPPED_DATAFEED).await;
    // 13 digits: not a year for `strict_date_optional_time`, so read as epoch millis.
    sim.post("/_ml/datafeeds/df-j1/_start?start=1767312000000&end=1767225600000")
        .await
        .assert_error(
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: start [1767312000000] must be earlier than end [1767225600000];",
        );
    let resp = sim
        .post("/_ml/datafeeds/df-j1/_start?start=1767225600000&end=1767312000000")
        .await;
    assert_eq!(resp.ok()["started"], true);
}

#[tokio::test]
async fn unparseable_start_is_a_parse_exception() {
    let sim = TestCluster::with_seed(STOPPED_DATAFEED).await;
    sim.post("/_ml/datafeeds/df-j1/_start?start=yesterday")
        .await
        .assert_error(
            400,
            "parse_exception",
            "Query param [start] with value [yesterday] cannot be parsed as a date or converted to a number (epoch).",
        );
    assert_eq!(sim.datafeed_state("df-j1").await, "stopped");
}

#[tokio::test]
async fn force_close_isolates_a_lookback_datafeed_and_persists_nothing() {
    // §2.2 step 4: with force, the datafeed is isolated first so that its auto-close does not
    // turn the force close into a graceful one.
    let sim = TestCluster::with_seed(STOPPED_DATAFEED).await;
    sim.post("/_ml/datafeeds/df-j1/_start?end=2026-01-02T00:00:00Z")
        .await
        .ok();
    let before = snapshots(&sim, "j1").await.len();
    let resp = sim
        .post("/_ml/anomaly_detectors/j1/_close?force=true")
        .await;
    assert_eq!(resp.ok(), &json!({ "closed": true }));
    assert_eq!(sim.job_state("j1").await, "closed");
    assert_eq!(sim.datafeed_state("df-j1").await, "stopped");
    assert_eq!(
        snapshots(&sim, "j1").await.len(),
        before,
        "no snapshot on force close"
    );
}

#[tokio::test]
async fn delete_job_referenced_by_a_datafeed_is_409_and_bad_bodies_are_400() {
    let sim = TestCluster::with_seed(
        "jobs:\n  - id: j1\n  - id: j2\ndatafeeds:\n  - id: df-j1\n    job: j1\n",
    )
    .await;
    let resp = sim.delete("/_ml/anomaly_detectors/j1").await;
    assert_eq!(resp.status.as_u16(), 409, "{}", resp.text);
    assert_eq!(
        resp.body["error"]["reason"],
        "Cannot delete job [j1] because datafeed [df-j1] refers to it"
    );
    let resp = sim
        .put_json(
            "/_ml/datafeeds/df-j2",
            json!({ "job_id": "j2", "indices": ["x"], "headers": {} }),
        )
        .await;
    assert_eq!(resp.status.as_u16(), 400, "{}", resp.text);
    assert!(
        resp.body["error"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("unknown field [headers]")),
        "{}",
        resp.text
    );
    let resp = sim.put_job("Bad_Id", json!({})).await;
    assert_eq!(
        resp.status.as_u16(),
        400,
        "upper case job id: {}",
        resp.text
    );
    let deleted = sim.delete("/_ml/anomaly_detectors/j2").await;
    assert_eq!(deleted.ok(), &json!({ "acknowledged": true }));
}
