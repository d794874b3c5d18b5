//! docs/elasticsearch-ml-api.md §1: product header, content type, `GET`/`HEAD /`, parameters as query or body,
//! body and query together, unknown parameters, wrong method and unknown path.

use reqwest::Method;
use serde_json::json;

use quiesce_sim::testing::TestCluster;

const ONE_OPEN_JOB: &str = "
jobs:
  - id: j1
    state: opened
";

#[tokio::test]
async fn root_reports_cluster_and_version_with_documented_shape() {
    let sim = TestCluster::empty().await;
    let resp = sim.get("/").await;
    let body = resp.ok();
    assert!(
        body["name"].as_str().is_some_and(|s| !s.is_empty()),
        "{body}"
    );
    assert_eq!(body["cluster_name"], "quiesce-sim");
    assert!(body["cluster_uuid"].as_str().is_some_and(|s| !s.is_empty()));
    let version = &body["version"];
    assert_eq!(version["number"], "8.15.0");
    assert_eq!(version["build_flavor"], "default");
    assert_eq!(version["build_snapshot"], false);
    for field in [
        "build_type",
        "build_hash",
        "build_date",
        "lucene_version",
        "minimum_wire_compatibility_version",
        "minimum_index_compatibility_version",
    ] {
        assert!(
            version[field].is_string(),
            "version.{field} missing: {body}"
        );
    }
    assert_eq!(body["tagline"], "You Know, for Search");
}

#[tokio::test]
async fn root_takes_cluster_name_and_version_from_the_seed() {
    let sim = TestCluster::with_seed("cluster:\n  name: demo-cluster\n  version: 8.11.3\n").await;
    let body = sim.get("/").await.ok().clone();
    assert_eq!(body["cluster_name"], "demo-cluster");
    assert_eq!(body["version"]["number"], "8.11.3");
}

#[tokio::test]
async fn head_root_answers_with_product_header_and_no_body() {
    let sim = TestCluster::empty().await;
    let resp = sim.send(sim.request(Method::HEAD, "/")).await;
    assert_eq!(resp.status.as_u16(), 200);
    resp.assert_product_header();
    assert!(
        resp.text.is_empty(),
        "HEAD must have no body: {:?}",
        resp.text
    );
}

#[tokio::test]
async fn product_header_and_json_on_success_and_every_error_shape() {
    let sim = TestCluster::empty().await;
    // 2xx
    sim.get("/_ml/info").await.ok();
    sim.get("/_ml/anomaly_detectors/_stats").await.ok();
    // 4xx envelope (checks the header and content type itself)
    sim.get("/_ml/anomaly_detectors/nope/_stats")
        .await
        .assert_error(
            404,
            "resource_not_found_exception",
            "No known job with id 'nope'",
        );
    // flat 400 and 405
    sim.get("/_no/such/path").await.assert_flat_error(
        400,
        "no handler found for uri [/_no/such/path] and method [GET]",
    );
    sim.get("/_ml/anomaly_detectors/j1/_close").await.assert_flat_error(
        405,
        "Incorrect HTTP method for uri [/_ml/anomaly_detectors/j1/_close] and method [GET], allowed: [POST]",
    );
}

#[tokio::test]
async fn before_7_14_there_is_no_product_header() {
    // §8: the header was added in 7.14.
    let sim = TestCluster::builder().es_version("7.13.0").start().await;
    let resp = sim.get("/").await;
    assert_eq!(resp.status.as_u16(), 200);
    assert_eq!(resp.body["version"]["number"], "7.13.0");
    assert!(
        resp.header("x-elastic-product").is_none(),
        "7.13 must not send X-elastic-product"
    );
}

#[tokio::test]
async fn ml_info_reports_upgrade_mode_off_by_default() {
    let sim = TestCluster::empty().await;
    let body = sim.get("/_ml/info").await.ok().clone();
    assert_eq!(body["upgrade_mode"], false, "{body}");
}

#[tokio::test]
async fn close_params_are_read_from_the_query_string() {
    // A failed job closes only with force (E3); force given as a query parameter.
    let sim = TestCluster::with_seed("jobs:\n  - id: j1\n    state: failed\n").await;
    let resp = sim
        .post("/_ml/anomaly_detectors/j1/_close?force=true")
        .await;
    assert_eq!(resp.ok(), &json!({ "closed": true }));
    assert_eq!(sim.job_state("j1").await, "closed");
}

#[tokio::test]
async fn close_params_are_read_from_the_body() {
    let sim = TestCluster::with_seed("jobs:\n  - id: j1\n    state: failed\n").await;
    let resp = sim
        .post_json("/_ml/anomaly_detectors/j1/_close", json!({ "force": true }))
        .await;
    assert_eq!(resp.ok(), &json!({ "closed": true }));
    assert_eq!(sim.job_state("j1").await, "closed");
}

#[tokio::test]
async fn stop_params_are_read_from_the_body() {
    // allow_no_match=false in the body turns an unmatched wildcard into a 404 (§5).
    let sim = TestCluster::empty().await;
    sim.post_json(
        "/_ml/datafeeds/missing-*/_stop",
        json!({ "allow_no_match": false }),
    )
    .await
    .assert_error(
        404,
        "resource_not_found_exception",
        "No datafeed with id [missing-*] exists",
    );
}

#[tokio::test]
async fn open_and_start_accept_timeout_in_the_body() {
    let sim =
        TestCluster::with_seed("jobs:\n  - id: j1\ndatafeeds:\n  - id: df-j1\n    job: j1\n").await;
    let opened = sim
        .post_json(
            "/_ml/anomaly_detectors/j1/_open",
            json!({ "timeout": "35m" }),
        )
        .await;
    assert_eq!(opened.ok()["opened"], true);
    let started = sim
        .post_json("/_ml/datafeeds/df-j1/_start", json!({ "timeout": "20s" }))
        .await;
    assert_eq!(started.ok()["started"], true);
}

#[tokio::test]
async fn body_and_query_together_rejects_the_query_parameter() {
    let sim = TestCluster::with_seed(ONE_OPEN_JOB).await;
    sim.send(
        sim.request(Method::POST, "/_ml/anomaly_detectors/j1/_close?timeout=10s")
            .json(&json!({ "force": true })),
    )
    .await
    .assert_error(
        400,
        "illegal_argument_exception",
        "request [/_ml/anomaly_detectors/j1/_close] contains unrecognized parameter: [timeout]",
    );
    assert_eq!(
        sim.job_state("j1").await,
        "opened",
        "a refused close changes nothing"
    );
}

#[tokio::test]
async fn unknown_path_is_the_flat_400_for_any_method() {
    let sim = TestCluster::empty().await;
    sim.post("/_ml/not_an_endpoint/x/y")
        .await
        .assert_flat_error(
            400,
            "no handler found for uri [/_ml/not_an_endpoint/x/y] and method [POST]",
        );
}
