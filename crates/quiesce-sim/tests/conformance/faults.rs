//! The `/_sim/` control API: fault rules (error, delay, drop, stuck, and stop faults inside a
//! close), failing a job, and the ordering violations of `/_sim/stats`.

use std::time::{Duration, Instant};

use quiesce_sim::testing::TestCluster;
use reqwest::Method;
use serde_json::json;

use crate::TWO_JOBS;

#[tokio::test]
async fn error_faults_answer_instead_of_the_operation() {
    let sim = TestCluster::with_seed(TWO_JOBS).await;
    let rules = json!({"faults": [{"operation": "close_job", "target": "j2", "times": 1,
        "error": {"status": 503, "type": "master_not_discovered_exception", "reason": "no master"}}]});
    sim.put_json("/_sim/faults", rules).await.ok();
    let faulted = sim.post("/_ml/anomaly_detectors/j2/_close").await;
    faulted.assert_error(503, "master_not_discovered_exception", "no master");
    assert_eq!(
        sim.job_stats("j2").await["state"],
        "opened",
        "an error fault changes nothing"
    );
    sim.post("/_ml/anomaly_detectors/j2/_close").await.ok();
    assert_eq!(
        sim.sim_stats().await["requests"]["close_job"],
        json!({"200": 1, "503": 1})
    );
}

#[tokio::test]
async fn a_drop_fault_closes_the_connection_unanswered() {
    let sim = TestCluster::with_seed(TWO_JOBS).await;
    let rules = json!({"faults": [{"operation": "job_stats", "times": 1, "drop": true}]});
    sim.put_json("/_sim/faults", rules).await.ok();
    let dropped = sim
        .try_send(sim.request(Method::GET, "/_ml/anomaly_detectors/_stats"))
        .await;
    assert!(dropped.is_err(), "a dropped connection gives no response");
    sim.get("/_ml/anomaly_detectors/_stats").await.ok();
}

#[tokio::test]
async fn a_stuck_datafeed_stays_stopping_until_forced() {
    // TransportStopDatafeedAction (8.x) `waitForDatafeedStopped` waits for the tasks to go with
    // `request.getTimeout()`, which RestStopDatafeedAction leaves unset (its `timeout` is the
    // nodes' stop timeout, `setStopTimeout`): a datafeed that never stops holds the call, which
    // never answers `{"stopped":true}` while the datafeed is `stopping`.
    let sim = TestCluster::with_seed(TWO_JOBS).await;
    let rules =
        json!({"faults": [{"operation": "stop_datafeed", "target": "df-j1", "stuck": true}]});
    sim.put_json("/_sim/faults", rules).await.ok();
    let stop = sim.post_in_background("/_ml/datafeeds/df-j1/_stop?timeout=0s");
    sim.wait_datafeed("df-j1", "stopping").await;
    assert!(
        !stop.is_finished(),
        "no answer while the datafeed is still stopping"
    );
    assert_eq!(
        sim.sim_stats().await["requests"].get("stop_datafeed"),
        None,
        "the stop has not answered"
    );
    sim.call(Method::DELETE, "/_sim/faults", None).await.ok();
    sim.post("/_ml/datafeeds/df-j1/_stop?force=true").await.ok();
    assert_eq!(sim.datafeed_stats("df-j1").await["state"], "stopped");
    assert_eq!(
        stop.await.expect("the stop answers").ok(),
        &json!({"stopped": true}),
        "it answers once the datafeed is stopped"
    );
}

#[tokio::test]
async fn a_close_waits_for_a_stuck_datafeed_without_inventing_an_error() {
    // TransportCloseJobAction.stopDatafeeds (7.14+) stops the datafeeds with the close's
    // `timeout` as their stop timeout (`setStopTimeout`), and the stop then waits for the
    // tasks without a limit: the close waits too, and never answers a made-up
    // `timeout_exception`. Once the datafeed is stopped the close goes on, and its own
    // `timeout` bounds the wait for the job (E14).
    let sim = TestCluster::with_seed(TWO_JOBS).await;
    sim.set_faults(json!([{"operation": "stop_datafeed", "target": "df-j1", "stuck": true}]))
        .await;
    let close = sim.post_in_background("/_ml/anomaly_detectors/j1/_close?timeout=0s");
    sim.wait_datafeed("df-j1", "stopping").await;
    assert!(!close.is_finished(), "the close waits for the datafeed");
    sim.clear_faults().await;
    sim.post("/_ml/datafeeds/df-j1/_stop?force=true").await.ok();
    close.await.expect("the close answers").assert_error(
        500,
        "illegal_state_exception",
        "Timed out when waiting for persistent tasks after 0s",
    );
    sim.wait_job("j1", "closed").await;
}

#[tokio::test]
async fn a_stuck_close_stays_closing_until_forced() {
    let sim = TestCluster::with_seed(TWO_JOBS).await;
    let rules = json!({"faults": [{"operation": "close_job", "stuck": true}]});
    sim.put_json("/_sim/faults", rules).await.ok();
    let close = sim
        .post("/_ml/anomaly_detectors/j2/_close?timeout=30ms")
        .await;
    assert_eq!(close.status.as_u16(), 500);
    assert_eq!(sim.job_stats("j2").await["state"], "closing");
    sim.post("/_ml/anomaly_detectors/j2/_close?force=true")
        .await
        .ok();
    assert_eq!(sim.job_stats("j2").await["state"], "closed");
}

#[tokio::test]
async fn a_failed_job_force_stops_its_datafeed() {
    let sim = TestCluster::with_seed(TWO_JOBS).await;
    sim.post("/_sim/anomaly_detectors/j1/_fail").await.ok();
    assert_eq!(sim.job_stats("j1").await["state"], "failed");
    assert_eq!(sim.datafeed_stats("df-j1").await["state"], "stopped");
    sim.post("/_ml/anomaly_detectors/j1/_close")
        .await
        .assert_error(
            409,
            "status_exception",
            "cannot close job [j1] because it failed, use force close",
        );
    sim.post("/_ml/anomaly_detectors/j1/_close?force=true")
        .await
        .ok();
    assert_eq!(sim.job_stats("j1").await["state"], "closed");
}

#[tokio::test]
async fn stop_faults_apply_to_the_stop_a_close_makes() {
    let sim = TestCluster::with_seed(TWO_JOBS).await;
    let rules = json!({"faults": [{"operation": "stop_datafeed", "times": 1,
        "error": {"status": 500, "type": "exception", "reason": "boom"}}]});
    sim.put_json("/_sim/faults", rules).await.ok();
    let close = sim.post("/_ml/anomaly_detectors/j1/_close").await;
    let cause = close.assert_error_caused(
        409,
        "status_exception",
        "failed to close jobs as one or more had started datafeeds that could not be stopped: \
         started datafeeds [df-j1], error stopping them [boom]",
        "exception",
    );
    assert_eq!(cause, &json!({"type": "exception", "reason": "boom"}));
    assert_eq!(sim.job_stats("j1").await["state"], "opened");
    sim.post("/_ml/anomaly_detectors/j1/_close").await.ok();
}

#[tokio::test]
async fn a_delay_fault_answers_normally_but_late() {
    let sim = TestCluster::with_seed(TWO_JOBS).await;
    let rules = json!({"faults": [{"operation": "job_stats", "times": 1, "delay": "300ms"}]});
    sim.put_json("/_sim/faults", rules).await.ok();
    let begun = Instant::now();
    let answer = sim.get("/_ml/anomaly_detectors/j1/_stats").await;
    assert_eq!(answer.ok()["count"], 1);
    assert!(
        begun.elapsed() >= Duration::from_millis(300),
        "{:?}",
        begun.elapsed()
    );
    let faults = sim.get("/_sim/faults").await;
    assert!(faults.status.is_success());
}

#[tokio::test]
async fn closing_a_job_with_a_running_datafeed_stops_it_and_records_a_violation() {
    let sim = TestCluster::with_seed(TWO_JOBS).await;
    sim.post("/_ml/anomaly_detectors/j1/_close").await.ok();
    assert_eq!(sim.datafeed_stats("df-j1").await["state"], "stopped");
    assert_eq!(sim.job_stats("j1").await["state"], "closed");
    let stats = sim.sim_stats().await;
    let violation = &stats["ordering_violations"][0];
    assert_eq!(violation["operation"], "close_job");
    assert_eq!(violation["job_id"], "j1");
    assert_eq!(violation["datafeed_id"], "df-j1");
    assert_eq!(violation["datafeed_state"], "started");
    assert_eq!(stats["jobs"], json!({"j1": "closed", "j2": "opened"}));
    assert_eq!(stats["datafeeds"], json!({"df-j1": "stopped"}));
    assert!(stats["first_state_change_ms"].as_i64() <= stats["last_state_change_ms"].as_i64());
}
