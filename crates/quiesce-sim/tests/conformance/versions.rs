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

#[tokio::test]
async fn open_and_start_answer_with_the_node_from_7_8() {
    // StartDatafeedAction / OpenJobAction responses gained `node` in PR #55473 (7.8, backport
    // #55570); 7.13 answers `{"started":true,"node":..}`, 7.7 `{"started":true}`.
    let seed = "
jobs:
  - {id: j1}
datafeeds:
  - {id: df-j1, job: j1}
";
    for (version, with_node) in [("7.13.0", true), ("7.8.0", true), ("7.7.1", false)] {
        let sim = TestCluster::builder()
            .seed(seed)
            .es_version(version)
            .start()
            .await;
        let opened = sim.post("/_ml/anomaly_detectors/j1/_open").await;
        let node = sim.job_stats("j1").await["node"]["id"].clone();
        let started = sim.post("/_ml/datafeeds/df-j1/_start").await;
        if with_node {
            assert_eq!(
                opened.ok(),
                &json!({"opened": true, "node": node}),
                "{version}"
            );
            assert_eq!(
                started.ok(),
                &json!({"started": true, "node": node}),
                "{version}"
            );
        } else {
            assert_eq!(opened.ok(), &json!({"opened": true}), "{version}");
            assert_eq!(started.ok(), &json!({"started": true}), "{version}");
        }
    }
}

#[tokio::test]
async fn open_and_start_timeouts_are_500_in_7x_and_408_in_8x() {
    // 7.x TransportOpenJobAction / TransportStartDatafeedAction `onTimeout`: a plain
    // ElasticsearchException (500 `exception`); 8.x: ElasticsearchStatusException with
    // REQUEST_TIMEOUT (408 `status_exception`). The text is the same.
    let seed = "
latency: {open_job: 10m, start_datafeed: 10m}
jobs:
  - {id: j1}
  - {id: j2, state: opened}
datafeeds:
  - {id: df-j2, job: j2}
";
    for (version, status, kind) in [
        ("7.13.0", 500, "exception"),
        ("8.15.0", 408, "status_exception"),
    ] {
        let sim = TestCluster::builder()
            .seed(seed)
            .es_version(version)
            .start()
            .await;
        sim.post("/_ml/anomaly_detectors/j1/_open?timeout=0s")
            .await
            .assert_error(status, kind, "Opening job [j1] timed out after [0s]");
        sim.post("/_ml/datafeeds/df-j2/_start?timeout=0s")
            .await
            .assert_error(
                status,
                kind,
                "Starting datafeed [df-j2] timed out after [0s]",
            );
        assert_eq!(sim.job_state("j1").await, "opening", "the open goes on");
    }
}
