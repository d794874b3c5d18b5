//! Transport-level behaviour: headers on every response, flat routing errors, `GET /`,
//! security before the upgrade-mode filter, a big generated seed, shutdown and the request id.

use quiesce_sim::testing::TestCluster;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::TWO_JOBS;

#[tokio::test]
async fn every_response_carries_the_product_header_and_json() {
    let sim = TestCluster::with_seed(TWO_JOBS).await;
    for (method, path) in [
        (Method::GET, "/"),
        (Method::HEAD, "/"),
        (Method::GET, "/_ml/anomaly_detectors/missing/_stats"),
        (Method::GET, "/_nope"),
        (Method::GET, "/_ml/anomaly_detectors/j1/_close"),
    ] {
        let answer = sim.send(sim.request(method.clone(), path)).await;
        assert_eq!(
            answer.headers["x-elastic-product"], "Elasticsearch",
            "{method} {path}"
        );
        assert_eq!(
            answer.headers["content-type"], "application/json",
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn routing_errors_are_flat() {
    let sim = TestCluster::with_seed(TWO_JOBS).await;
    let unknown = sim.get("/_nope?x=1").await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        unknown.body,
        json!({"error": "no handler found for uri [/_nope?x=1] and method [GET]", "status": 400})
    );
    let wrong = sim.get("/_ml/anomaly_detectors/j1/_close").await;
    assert_eq!(wrong.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        wrong.body,
        json!({"error": "Incorrect HTTP method for uri [/_ml/anomaly_detectors/j1/_close] and method [GET], allowed: [POST]", "status": 405})
    );
    let security_off = sim.post("/_security/user/_has_privileges").await;
    assert_eq!(security_off.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        security_off.body["error"],
        "no handler found for uri [/_security/user/_has_privileges] and method [POST]"
    );
}

#[tokio::test]
async fn root_reports_the_cluster_and_version() {
    let sim = TestCluster::with_seed("cluster: {name: demo, version: 8.15.0}").await;
    let body = sim.get("/").await.ok().clone();
    assert_eq!(body["cluster_name"], "demo");
    assert_eq!(body["version"]["number"], "8.15.0");
    assert_eq!(body["tagline"], "You Know, for Search");
    let head = sim.send(sim.request(Method::HEAD, "/")).await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.body.is_null());
}

#[tokio::test]
async fn a_big_generated_seed_serves_every_job() {
    // How fast it starts is a figure for `cargo bench --bench startup`, not a test.
    let sim = TestCluster::with_seed(
        "generate: {seed: 42, jobs: 5000, with_datafeed: 0.9, started: 0.8, model_bytes: {min: 1mb, max: 2gb}}\nnodes: {count: 80, memory: 64gb}",
    )
    .await;
    let stats = sim.get("/_ml/anomaly_detectors/_stats").await;
    assert_eq!(stats.ok()["count"], 5000);
    sim.shutdown().await;
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let sim = TestCluster::with_seed(TWO_JOBS).await;
    let client = sim.client().clone();
    let url = sim.url("/");
    sim.shutdown().await;
    assert!(client.get(&url).send().await.is_err());
}

#[tokio::test]
async fn security_runs_before_the_upgrade_mode_filter() {
    let seed = "
security:
  users:
    - {username: admin, password: admin-pw, roles: [manage_ml]}
    - {username: viewer, password: viewer-pw, roles: [monitor_ml]}
jobs:
  - {id: j1, state: opened}
";
    let sim = TestCluster::with_seed(seed).await;
    let as_user = |method: Method, path: &str, user: &str| {
        sim.request(method, path)
            .basic_auth(user, Some(format!("{user}-pw")))
    };
    let set_upgrade = sim
        .send(as_user(
            Method::POST,
            "/_ml/set_upgrade_mode?enabled=true",
            "admin",
        ))
        .await;
    set_upgrade.ok();
    let anonymous = sim.post("/_ml/anomaly_detectors/j1/_close").await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert!(anonymous.headers.contains_key("www-authenticate"));
    assert_eq!(anonymous.headers["x-elastic-product"], "Elasticsearch");
    let viewer = sim
        .send(as_user(
            Method::POST,
            "/_ml/anomaly_detectors/j1/_close",
            "viewer",
        ))
        .await;
    assert_eq!(viewer.status, StatusCode::FORBIDDEN);
    let reason = viewer.body["error"]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(
            "action [cluster:admin/xpack/ml/job/close] is unauthorized for user [viewer]"
        ),
        "{reason}"
    );
    let admin = sim
        .send(as_user(
            Method::POST,
            "/_ml/anomaly_detectors/j1/_close",
            "admin",
        ))
        .await;
    assert_eq!(admin.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        sim.get("/_sim/stats").await.status,
        StatusCode::OK,
        "no credentials needed"
    );
}

#[tokio::test]
async fn the_request_id_is_echoed() {
    let sim = TestCluster::with_seed(TWO_JOBS).await;
    let answer = sim
        .send(
            sim.request(Method::GET, "/_ml/anomaly_detectors/missing")
                .header("X-Opaque-Id", "run-42"),
        )
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.headers["x-opaque-id"], "run-42");
}
