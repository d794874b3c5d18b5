//! Transport-level behaviour: headers on every response, flat routing errors, `GET /`,
//! security before the upgrade-mode filter, start-up time and shutdown.

use std::time::{Duration, Instant};

use quiesce_sim::Seed;
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::TWO_JOBS;
use crate::support::{TestSim, start};

#[tokio::test]
async fn every_response_carries_the_product_header_and_json() {
    let sim = start(TWO_JOBS).await;
    for (method, path) in [
        (Method::GET, "/"),
        (Method::HEAD, "/"),
        (Method::GET, "/_ml/anomaly_detectors/missing/_stats"),
        (Method::GET, "/_nope"),
        (Method::GET, "/_ml/anomaly_detectors/j1/_close"),
    ] {
        let answer = sim.call(method.clone(), path, None).await;
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
    let sim = start(TWO_JOBS).await;
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
    let sim = start("cluster: {name: demo, version: 8.15.0}").await;
    let body = sim.get("/").await.assert_ok().clone();
    assert_eq!(body["cluster_name"], "demo");
    assert_eq!(body["version"]["number"], "8.15.0");
    assert_eq!(body["tagline"], "You Know, for Search");
    let head = sim.call(Method::HEAD, "/", None).await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.body.is_null());
}

#[tokio::test]
async fn a_big_generated_seed_starts_quickly() {
    let seed = Seed::from_yaml_str(
        "generate: {seed: 42, jobs: 5000, with_datafeed: 0.9, started: 0.8, model_bytes: {min: 1mb, max: 2gb}}\nnodes: {count: 40, memory: 64gb}",
        "big.yaml",
    )
    .expect("a valid seed");
    let started = Instant::now();
    let sim = quiesce_sim::Simulator::start(quiesce_sim::SimOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        seed,
        es_version: None,
        profile: None,
    })
    .await
    .expect("starts");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "took {took:?}");
    let client = reqwest::Client::new();
    let stats: serde_json::Value = client
        .get(format!("{}/_ml/anomaly_detectors/_stats", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["count"], 5000);
    sim.shutdown().await;
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let TestSim { sim, client } = start(TWO_JOBS).await;
    let url = sim.base_url();
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
    let sim = start(seed).await;
    let url = |path: &str| format!("{}{path}", sim.sim.base_url());
    let set_upgrade = sim
        .client
        .post(url("/_ml/set_upgrade_mode?enabled=true"))
        .basic_auth("admin", Some("admin-pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(set_upgrade.status(), StatusCode::OK);
    let anonymous = sim.post("/_ml/anomaly_detectors/j1/_close").await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert!(anonymous.headers.contains_key("www-authenticate"));
    assert_eq!(anonymous.headers["x-elastic-product"], "Elasticsearch");
    let viewer = sim
        .client
        .post(url("/_ml/anomaly_detectors/j1/_close"))
        .basic_auth("viewer", Some("viewer-pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(viewer.status(), StatusCode::FORBIDDEN);
    let body: serde_json::Value = viewer.json().await.unwrap();
    let reason = body["error"]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(
            "action [cluster:admin/xpack/ml/job/close] is unauthorized for user [viewer]"
        ),
        "{reason}"
    );
    let admin = sim
        .client
        .post(url("/_ml/anomaly_detectors/j1/_close"))
        .basic_auth("admin", Some("admin-pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        sim.get("/_sim/stats").await.status,
        StatusCode::OK,
        "no credentials needed"
    );
}

#[tokio::test]
async fn the_request_id_is_echoed() {
    let sim = start(TWO_JOBS).await;
    let response = sim
        .client
        .get(format!(
            "{}/_ml/anomaly_detectors/missing",
            sim.sim.base_url()
        ))
        .header("X-Opaque-Id", "run-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(response.headers()["x-opaque-id"], "run-42");
}
