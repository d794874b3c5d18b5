//! The simulator contract's `/_sim/` control API: request counts per operation and status,
//! ordering violations, current states, fault rules (error, delay, drop, times, target) set
//! through the API or the seed, and `_fail`.

use serde_json::{Value, json};

use quiesce_sim::testing::TestCluster;

const CLUSTER: &str = "
jobs:
  - id: j1
    state: opened
  - id: j2
    state: opened
datafeeds:
  - id: df-j1
    job: j1
    state: started
  - id: df-j2
    job: j2
";

fn count(stats: &Value, operation: &str, status: &str) -> u64 {
    stats["requests"][operation][status].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn stats_count_requests_per_operation_and_status() {
    let sim = TestCluster::with_seed(CLUSTER).await;
    sim.post("/_ml/datafeeds/df-j1/_stop").await.ok();
    sim.post("/_ml/datafeeds/df-j1/_stop").await.ok();
    sim.post("/_ml/anomaly_detectors/j1/_close").await.ok();
    sim.post("/_ml/anomaly_detectors/nope/_close").await;
    sim.post("/_ml/anomaly_detectors/j2/_open").await;
    sim.get("/_ml/info").await.ok();
    sim.get("/").await.ok();
    sim.get("/_ml/anomaly_detectors").await.ok();
    sim.get("/_ml/datafeeds").await.ok();
    sim.get("/_ml/anomaly_detectors/j1/_stats").await.ok();
    sim.get("/_ml/datafeeds/_stats").await.ok();
    let stats = sim.sim_stats().await;
    for operation in [
        "root",
        "get_jobs",
        "get_datafeeds",
        "job_stats",
        "datafeed_stats",
    ] {
        assert_eq!(count(&stats, operation, "200"), 1, "{operation}: {stats}");
    }
    assert_eq!(count(&stats, "stop_datafeed", "200"), 2, "{stats}");
    assert_eq!(count(&stats, "close_job", "200"), 1, "{stats}");
    assert_eq!(count(&stats, "close_job", "404"), 1, "{stats}");
    assert_eq!(count(&stats, "open_job", "409"), 1, "{stats}");
    assert_eq!(count(&stats, "info", "200"), 1, "{stats}");
    assert_eq!(stats["jobs"], json!({ "j1": "closed", "j2": "opened" }));
    assert_eq!(
        stats["datafeeds"],
        json!({ "df-j1": "stopped", "df-j2": "stopped" })
    );
    assert_eq!(stats["upgrade_mode"], false);
    assert!(
        stats["peak_concurrent_persists"]
            .as_u64()
            .is_some_and(|n| n >= 1),
        "{stats}"
    );
    let first = stats["first_state_change_ms"]
        .as_u64()
        .expect("first_state_change_ms");
    let last = stats["last_state_change_ms"]
        .as_u64()
        .expect("last_state_change_ms");
    assert!(first <= last, "{stats}");
}

#[tokio::test]
async fn orderly_shutdown_records_no_violation() {
    let sim = TestCluster::with_seed(CLUSTER).await;
    sim.post("/_ml/datafeeds/_all/_stop").await.ok();
    sim.post("/_ml/anomaly_detectors/_all/_close").await.ok();
    sim.post("/_ml/anomaly_detectors/j1/_open").await.ok();
    sim.post("/_ml/datafeeds/df-j1/_start").await.ok();
    let stats = sim.sim_stats().await;
    assert_eq!(stats["ordering_violations"], json!([]), "{stats}");
}

#[tokio::test]
async fn close_with_started_datafeed_is_an_ordering_violation() {
    let sim = TestCluster::with_seed(CLUSTER).await;
    sim.post("/_ml/anomaly_detectors/j1/_close").await.ok();
    let stats = sim.sim_stats().await;
    let violations = stats["ordering_violations"]
        .as_array()
        .expect("array")
        .clone();
    assert_eq!(violations.len(), 1, "{stats}");
    let v = &violations[0];
    assert_eq!(v["operation"], "close_job");
    assert_eq!(v["job_id"], "j1");
    assert_eq!(v["datafeed_id"], "df-j1");
    assert_eq!(v["datafeed_state"], "started");
    assert!(v["at_ms"].is_u64(), "{v}");
}

#[tokio::test]
async fn start_while_job_not_opened_is_an_ordering_violation() {
    let sim = TestCluster::with_seed(CLUSTER).await;
    sim.post("/_ml/anomaly_detectors/j2/_close").await.ok();
    sim.post("/_ml/datafeeds/df-j2/_start")
        .await
        .assert_envelope(409, "status_exception");
    let stats = sim.sim_stats().await;
    let violations = stats["ordering_violations"]
        .as_array()
        .expect("array")
        .clone();
    assert_eq!(violations.len(), 1, "{stats}");
    assert_eq!(violations[0]["operation"], "start_datafeed");
    assert_eq!(violations[0]["job_id"], "j2");
    assert_eq!(violations[0]["datafeed_id"], "df-j2");
}

#[tokio::test]
async fn error_fault_hits_next_n_matching_calls_then_is_spent() {
    let sim = TestCluster::with_seed(CLUSTER).await;
    sim.set_faults(json!([{
        "operation": "close_job", "target": "j2", "times": 2,
        "error": { "status": 429, "type": "es_rejected_execution_exception", "reason": "rejected execution" }
    }]))
    .await;
    let listed = sim.get("/_sim/faults").await.ok().clone();
    assert_eq!(
        listed["faults"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );
    // Another target is not affected.
    sim.post("/_ml/datafeeds/df-j1/_stop").await.ok();
    sim.post("/_ml/anomaly_detectors/j1/_close").await.ok();
    for _ in 0..2 {
        sim.post("/_ml/anomaly_detectors/j2/_close")
            .await
            .assert_error(429, "es_rejected_execution_exception", "rejected execution");
        assert_eq!(
            sim.job_state("j2").await,
            "opened",
            "an error fault changes nothing"
        );
    }
    assert_eq!(
        sim.post("/_ml/anomaly_detectors/j2/_close").await.ok()["closed"],
        true
    );
    let stats = sim.sim_stats().await;
    assert_eq!(count(&stats, "close_job", "429"), 2, "{stats}");
}

#[tokio::test]
async fn fault_target_matches_through_an_id_expression() {
    let sim = TestCluster::with_seed(CLUSTER).await;
    sim.set_faults(json!([{
        "operation": "stop_datafeed", "target": "df-j1", "times": 1,
        "error": { "status": 503, "type": "master_not_discovered_exception", "reason": "no master" }
    }]))
    .await;
    sim.post("/_ml/datafeeds/_all/_stop").await.assert_error(
        503,
        "master_not_discovered_exception",
        "no master",
    );
    assert_eq!(sim.datafeed_state("df-j1").await, "started");
}

#[tokio::test]
async fn delete_faults_clears_every_rule() {
    let sim = TestCluster::with_seed(CLUSTER).await;
    sim.set_faults(json!([{
        "operation": "*",
        "error": { "status": 503, "type": "master_not_discovered_exception", "reason": "no master" }
    }]))
    .await;
    sim.get("/_ml/anomaly_detectors/j1/_stats")
        .await
        .assert_envelope(503, "master_not_discovered_exception");
    let resp = sim.delete("/_sim/faults").await;
    assert!(resp.status.is_success(), "{}", resp.text);
    sim.get("/_ml/anomaly_detectors/j1/_stats").await.ok();
}

#[tokio::test]
async fn put_faults_replaces_the_whole_set() {
    let sim = TestCluster::with_seed(CLUSTER).await;
    let error = json!({ "status": 503, "type": "master_not_discovered_exception", "reason": "x" });
    sim.set_faults(json!([{ "operation": "job_stats", "error": error }]))
        .await;
    sim.set_faults(json!([{ "operation": "datafeed_stats", "error": error }]))
        .await;
    sim.get("/_ml/anomaly_detectors/j1/_stats").await.ok();
    sim.get("/_ml/datafeeds/df-j1/_stats")
        .await
        .assert_envelope(503, "master_not_discovered_exception");
}

#[tokio::test]
async fn a_bare_array_of_fault_rules_is_refused_for_what_it_is() {
    let sim = TestCluster::with_seed(CLUSTER).await;
    let answer = sim
        .put_json(
            "/_sim/faults",
            json!([{ "operation": "close_job", "times": 1 }]),
        )
        .await;
    let error = answer.assert_envelope(400, "parse_exception");
    let reason = error["reason"].as_str().unwrap_or_default();
    assert!(reason.contains(r#"{"faults": [...]}"#), "{reason}");
    assert!(reason.contains("not a bare array"), "{reason}");
    // Nothing was replaced: no rule is in force.
    assert_eq!(sim.get("/_sim/faults").await.ok()["faults"], json!([]));
}

#[tokio::test]
async fn drop_fault_closes_the_connection_without_a_response() {
    let sim = TestCluster::with_seed(CLUSTER).await;
    sim.set_faults(json!([{ "operation": "stop_datafeed", "times": 1, "drop": true }]))
        .await;
    let result = sim
        .client()
        .post(sim.url("/_ml/datafeeds/df-j1/_stop"))
        .send()
        .await;
    assert!(
        result.is_err(),
        "a dropped connection yields no response: {result:?}"
    );
    assert_eq!(sim.datafeed_state("df-j1").await, "started");
    sim.post("/_ml/datafeeds/df-j1/_stop").await.ok();
}

#[tokio::test]
async fn delay_fault_answers_normally_after_the_delay() {
    let sim = TestCluster::with_seed(CLUSTER).await;
    sim.set_faults(json!([{ "operation": "job_stats", "times": 1, "delay": "300ms" }]))
        .await;
    let started = std::time::Instant::now();
    let stats = sim.job_stats("j1").await;
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
    assert_eq!(stats["state"], "opened");
}

#[tokio::test]
async fn faults_from_the_seed_apply_from_the_start() {
    let sim = TestCluster::with_seed(&format!(
        "{CLUSTER}faults:
  - operation: open_job
    times: 1
    error:
      status: 429
      type: status_exception
      reason: \"Could not open job because no ML nodes with sufficient capacity were found\"
"
    ))
    .await;
    sim.post("/_ml/anomaly_detectors/j1/_close?force=true")
        .await
        .ok();
    sim.post("/_ml/anomaly_detectors/j1/_open")
        .await
        .assert_error(
            429,
            "status_exception",
            "Could not open job because no ML nodes with sufficient capacity were found",
        );
    assert_eq!(
        sim.post("/_ml/anomaly_detectors/j1/_open").await.ok()["opened"],
        true
    );
}

#[tokio::test]
async fn fail_endpoint_is_not_under_ml() {
    let sim = TestCluster::with_seed(CLUSTER).await;
    sim.post("/_ml/anomaly_detectors/j1/_fail")
        .await
        .assert_flat_error(
            400,
            "no handler found for uri [/_ml/anomaly_detectors/j1/_fail] and method [POST]",
        );
    assert_eq!(
        sim.post("/_sim/anomaly_detectors/j1/_fail").await.body,
        json!({ "failed": true })
    );
    assert_eq!(sim.sim_stats().await["jobs"]["j1"], "failed");
}

#[tokio::test]
async fn rate_faults_are_deterministic_for_a_fault_seed() {
    let seed = format!(
        "{CLUSTER}fault_seed: 7
faults:
  - operation: job_stats
    rate: 0.5
    error: {{ status: 503, type: master_not_discovered_exception, reason: flaky }}
"
    );
    let mut runs = Vec::new();
    for _ in 0..2 {
        let sim = TestCluster::with_seed(&seed).await;
        let mut statuses = Vec::new();
        for _ in 0..40 {
            statuses.push(
                sim.get("/_ml/anomaly_detectors/j1/_stats")
                    .await
                    .status
                    .as_u16(),
            );
        }
        runs.push(statuses);
    }
    assert_eq!(runs[0], runs[1], "same fault_seed, same sequence");
    let failed = runs[0].iter().filter(|s| **s == 503).count();
    assert!(
        (5..=35).contains(&failed),
        "about half of 40 calls fail, got {failed}"
    );
}

#[tokio::test]
async fn rate_and_times_combine_to_at_most_n_hits() {
    let sim = TestCluster::with_seed(CLUSTER).await;
    sim.set_faults(json!([{
        "operation": "job_stats", "rate": 0.9, "times": 2,
        "error": { "status": 503, "type": "master_not_discovered_exception", "reason": "flaky" }
    }]))
    .await;
    let mut failed = 0;
    for _ in 0..30 {
        if sim
            .get("/_ml/anomaly_detectors/j1/_stats")
            .await
            .status
            .as_u16()
            == 503
        {
            failed += 1;
        }
    }
    assert_eq!(failed, 2, "rate 0.9 over 30 calls, capped by times: 2");
}

#[tokio::test]
async fn closing_all_records_one_violation_per_job_with_a_running_datafeed() {
    let sim = TestCluster::with_seed(
        "
jobs:
  - { id: j1, state: opened }
  - { id: j2, state: opened }
  - { id: j3, state: opened }
datafeeds:
  - { id: df-j1, job: j1, state: started }
  - { id: df-j2, job: j2, state: started }
  - { id: df-j3, job: j3 }
",
    )
    .await;
    sim.post("/_ml/anomaly_detectors/_all/_close").await.ok();
    let stats = sim.sim_stats().await;
    let mut jobs: Vec<String> = stats["ordering_violations"]
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v["job_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    jobs.sort();
    assert_eq!(jobs, ["j1", "j2"], "{stats}");
}

#[tokio::test]
async fn close_refused_before_7_14_is_still_an_ordering_violation() {
    let sim = TestCluster::builder()
        .seed(CLUSTER)
        .es_version("7.13.0")
        .start()
        .await;
    sim.post("/_ml/anomaly_detectors/j1/_close")
        .await
        .assert_envelope(409, "status_exception");
    let stats = sim.sim_stats().await;
    let violations = stats["ordering_violations"]
        .as_array()
        .expect("array")
        .clone();
    assert_eq!(violations.len(), 1, "{stats}");
    assert_eq!(violations[0]["operation"], "close_job");
    assert_eq!(violations[0]["datafeed_state"], "started");
}

#[tokio::test]
async fn close_while_datafeed_is_stopping_is_an_ordering_violation() {
    let sim = TestCluster::with_seed(CLUSTER).await;
    sim.set_faults(
        json!([{ "operation": "stop_datafeed", "target": "df-j1", "stuck": true, "times": 1 }]),
    )
    .await;
    // The stuck stop waits until the datafeed is stopped (§2.1 step 4): let it wait.
    let stop = sim.post_in_background("/_ml/datafeeds/df-j1/_stop");
    sim.wait_datafeed("df-j1", "stopping").await;
    sim.post("/_ml/anomaly_detectors/j1/_close?force=true")
        .await
        .ok();
    let stats = sim.sim_stats().await;
    let violations = stats["ordering_violations"]
        .as_array()
        .expect("array")
        .clone();
    assert_eq!(violations.len(), 1, "{stats}");
    assert_eq!(violations[0]["datafeed_state"], "stopping");
    assert_eq!(stats["jobs"]["j1"], "closed");
    assert_eq!(stats["datafeeds"]["df-j1"], "stopped");
    assert_eq!(stop.await.expect("stop").ok(), &json!({ "stopped": true }));
}
