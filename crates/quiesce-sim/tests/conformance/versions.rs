//! docs/elasticsearch-ml-api.md §8 version switches beyond the close-job switch (E6) and the product header:
//! the deprecated `allow_no_jobs` / `allow_no_datafeeds` aliases and the ~9.3 `close_job`
//! parameter of stop datafeed.

use serde_json::json;

use quiesce_sim::testing::TestCluster;

const CLUSTER: &str = "
jobs:
  - id: j1
    state: opened
datafeeds:
  - id: df-j1
    job: j1
    state: started
";

#[tokio::test]
async fn deprecated_aliases_are_unknown_parameters_in_8x() {
    let sim = TestCluster::with_seed(CLUSTER).await;
    for (path, param) in [
        ("/_ml/anomaly_detectors/missing-*/_close", "allow_no_jobs"),
        ("/_ml/datafeeds/missing-*/_stop", "allow_no_datafeeds"),
    ] {
        let resp = sim.post(&format!("{path}?{param}=false")).await;
        let error = resp.assert_envelope(400, "illegal_argument_exception");
        let reason = error["reason"].as_str().unwrap_or_default();
        let expected = format!("request [{path}] contains unrecognized parameter: [{param}]");
        assert!(
            reason == expected || reason.starts_with(&format!("{expected} -> did you mean [")),
            "reason: {reason}"
        );
    }
}

#[tokio::test]
async fn deprecated_aliases_work_with_a_warning_in_7_13() {
    let sim = TestCluster::builder()
        .seed(CLUSTER)
        .es_version("7.13.0")
        .start()
        .await;
    for (path, param, reason) in [
        (
            "/_ml/anomaly_detectors/missing-*/_close",
            "allow_no_jobs",
            "No known job with id 'missing-*'",
        ),
        (
            "/_ml/datafeeds/missing-*/_stop",
            "allow_no_datafeeds",
            "No datafeed with id [missing-*] exists",
        ),
    ] {
        let resp = sim.post(&format!("{path}?{param}=false")).await;
        resp.assert_error(404, "resource_not_found_exception", reason);
        let warning = resp.header("warning").unwrap_or_default();
        assert!(
            warning.contains(&format!(
                "Deprecated field [{param}] used, expected [allow_no_match] instead"
            )),
            "deprecation warning header expected, got {warning:?}"
        );
    }
}

#[tokio::test]
async fn close_job_parameter_of_stop_is_unknown_in_8x() {
    let sim = TestCluster::with_seed(CLUSTER).await;
    sim.post("/_ml/datafeeds/df-j1/_stop?close_job=true")
        .await
        .assert_error(
            400,
            "illegal_argument_exception",
            "request [/_ml/datafeeds/df-j1/_stop] contains unrecognized parameter: [close_job]",
        );
    assert_eq!(sim.datafeed_state("df-j1").await, "started");
}

#[tokio::test]
async fn close_job_parameter_of_stop_closes_the_job_from_9_3() {
    let sim = TestCluster::builder()
        .seed(CLUSTER)
        .es_version("9.3.0")
        .start()
        .await;
    let resp = sim.post("/_ml/datafeeds/df-j1/_stop?close_job=true").await;
    assert_eq!(resp.ok(), &json!({ "stopped": true }));
    assert_eq!(sim.datafeed_state("df-j1").await, "stopped");
    sim.wait_job("j1", "closed").await;
}
