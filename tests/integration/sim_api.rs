//! The simulator over real HTTP: headers and routing, the timing model (persistence slots,
//! queue, 429), memory and lazy open, timeouts (E14/E15/E16), upgrade mode, lookback
//! auto-close, faults, `/_sim/stats`, the 7.13 switch, start-up time and shutdown.

use std::time::{Duration, Instant};

use quiesce::sim::Seed;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestSim, start, start_as};

const TWO_JOBS: &str = "
jobs:
  - {id: j1, groups: [g], state: opened, model_bytes: 1mb}
  - {id: j2, state: opened, model_bytes: 1mb}
datafeeds:
  - {id: df-j1, job: j1, state: started}
";

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
async fn a_graceful_close_persists_the_model_and_a_snapshot() {
    let sim = start(
        "
latency: {persist_rate: 100mb}
jobs:
  - {id: big, state: opened, model_bytes: 20mb}
",
    )
    .await;
    let started = Instant::now();
    sim.post("/_ml/anomaly_detectors/big/_close")
        .await
        .assert_ok();
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "20mb at 100mb/s takes at least 200ms, took {:?}",
        started.elapsed()
    );
    let job = sim.job("big").await;
    assert_eq!(job["state"], "closed");
    assert!(job.get("node").is_none() && job.get("open_time").is_none());
    let snapshots = sim
        .get("/_ml/anomaly_detectors/big/model_snapshots")
        .await
        .assert_ok()
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
    let config = sim
        .get("/_ml/anomaly_detectors/big")
        .await
        .assert_ok()
        .clone();
    assert!(config["jobs"][0]["finished_time"].is_i64());
}

#[tokio::test]
async fn a_forced_close_skips_persistence() {
    let sim = start(
        "
latency: {persist_rate: 1mb}
jobs:
  - {id: big, state: opened, model_bytes: 500mb}
",
    )
    .await;
    sim.post("/_ml/anomaly_detectors/big/_close?force=true")
        .await
        .assert_ok();
    assert_eq!(sim.job("big").await["state"], "closed");
    let snapshots = sim.get("/_ml/anomaly_detectors/big/model_snapshots").await;
    assert_eq!(snapshots.assert_ok()["count"], 0);
}

const THREE_SLOW_JOBS: &str = "
latency: {persist_rate: 100mb}
persistence: {slots: 1, queue_limit: 1}
jobs:
  - {id: a, state: opened, model_bytes: 30mb}
  - {id: b, state: opened, model_bytes: 30mb}
  - {id: c, state: opened, model_bytes: 30mb}
";

#[tokio::test]
async fn closes_past_the_queue_limit_are_rejected() {
    let sim = std::sync::Arc::new(start(THREE_SLOW_JOBS).await);
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
        sim.job("c").await["state"],
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
    let sim = start(
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
    sim.post("/_ml/anomaly_detectors/_all/_close")
        .await
        .assert_ok();
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
    let sim = start(SMALL_NODE).await;
    let refused = sim.post("/_ml/anomaly_detectors/other/_open").await;
    refused.assert_error(
        429,
        "status_exception",
        "Could not open job because no ML nodes with sufficient capacity were found",
    );
    assert_eq!(
        refused.body["error"]["caused_by"]["type"],
        "illegal_state_exception"
    );
    let cause = refused.body["error"]["caused_by"]["reason"]
        .as_str()
        .unwrap();
    assert!(
        cause.starts_with(
            "Could not open job because no suitable nodes were found, allocation explanation ["
        ),
        "{cause}"
    );
    assert_eq!(sim.job("other").await["state"], "closed");
}

#[tokio::test]
async fn a_lazy_job_waits_for_memory_then_opens() {
    let sim = start(SMALL_NODE).await;
    let opened = sim.post("/_ml/anomaly_detectors/lazy/_open").await;
    assert_eq!(opened.assert_ok(), &json!({"opened": true, "node": ""}));
    let waiting = sim.job("lazy").await;
    assert_eq!(waiting["state"], "opening");
    assert!(waiting.get("node").is_none());
    assert_eq!(
        waiting["assignment_explanation"],
        "persistent task is awaiting node assignment."
    );
    sim.post("/_ml/anomaly_detectors/big/_close")
        .await
        .assert_ok();
    sim.wait_job("lazy", "opened").await;
    assert!(sim.job("lazy").await["node"]["id"].is_string());
}

#[tokio::test]
async fn waits_past_their_timeout_answer_as_es_does() {
    let sim = std::sync::Arc::new(
        start(
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
        sim.job("opened").await["state"],
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
async fn upgrade_mode_refuses_changes_and_hides_assignments() {
    let sim = start(TWO_JOBS).await;
    sim.post("/_ml/set_upgrade_mode?enabled=true")
        .await
        .assert_ok();
    assert_eq!(sim.get("/_ml/info").await.assert_ok()["upgrade_mode"], true);
    sim.post("/_ml/anomaly_detectors/j1/_close")
        .await
        .assert_error(
            429,
            "status_exception",
            "Cannot perform cluster:admin/xpack/ml/job/close action while upgrade mode is enabled",
        );
    sim.post("/_ml/datafeeds/df-j1/_stop").await.assert_error(
        429,
        "status_exception",
        "Cannot perform cluster:admin/xpack/ml/datafeed/stop action while upgrade mode is enabled",
    );
    let job = sim.job("j1").await;
    assert_eq!(job["state"], "opened");
    assert!(job.get("node").is_none());
    assert_eq!(
        job["assignment_explanation"],
        "persistent task cannot be assigned while upgrade mode is enabled."
    );
    assert_eq!(sim.datafeed("df-j1").await["state"], "started");
    sim.post("/_ml/set_upgrade_mode?enabled=false")
        .await
        .assert_ok();
    let job = sim.job("j1").await;
    assert!(job["node"]["id"].is_string());
    assert_eq!(job["assignment_explanation"], "");
}

#[tokio::test]
async fn a_concurrent_upgrade_mode_change_is_refused() {
    let sim = std::sync::Arc::new(start("latency: {set_upgrade_mode: 300ms}").await);
    let first = {
        let sim = std::sync::Arc::clone(&sim);
        tokio::spawn(async move { sim.post("/_ml/set_upgrade_mode?enabled=true").await.status })
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while sim.get("/_ml/info").await.body["upgrade_mode"] != true {
        assert!(Instant::now() < deadline, "upgrade mode never turned on");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let second = sim.post("/_ml/set_upgrade_mode?enabled=false").await;
    second.assert_error(
        429,
        "status_exception",
        "Cannot change [upgrade_mode]. Previous request is still being processed.",
    );
    assert_eq!(
        second.body["error"]["caused_by"]["reason"],
        "Attempted to set [upgrade_mode] to [false] from [true] while previous request was processing."
    );
    assert_eq!(first.await.unwrap(), StatusCode::OK);
}

#[tokio::test]
async fn a_lookback_datafeed_stops_and_closes_its_job() {
    let sim = start(
        "
jobs:
  - {id: back, state: opened}
datafeeds:
  - {id: df-back, job: back, state: started, end: '2026-11-01T00:00:00Z'}
",
    )
    .await;
    sim.wait_datafeed("df-back", "stopped").await;
    sim.wait_job("back", "closed").await;
}

#[tokio::test]
async fn a_start_with_an_end_runs_a_lookback() {
    let sim = start(TWO_JOBS).await;
    sim.post("/_ml/datafeeds/df-j1/_stop").await.assert_ok();
    let started = sim
        .post("/_ml/datafeeds/df-j1/_start?start=2026-01-01T00:00:00Z&end=2026-01-02T00:00:00Z")
        .await;
    assert_eq!(started.assert_ok()["started"], true);
    let df = sim.datafeed("df-j1").await;
    if df["state"] == "started" {
        assert_eq!(df["running_state"]["real_time_configured"], false);
    }
    sim.wait_job("j1", "closed").await;
}

#[tokio::test]
async fn closing_a_job_with_a_running_datafeed_stops_it_and_records_a_violation() {
    let sim = start(TWO_JOBS).await;
    sim.post("/_ml/anomaly_detectors/j1/_close")
        .await
        .assert_ok();
    assert_eq!(sim.datafeed("df-j1").await["state"], "stopped");
    assert_eq!(sim.job("j1").await["state"], "closed");
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

#[tokio::test]
async fn before_7_14_closing_with_a_running_datafeed_is_a_conflict() {
    let sim = start_as(TWO_JOBS, Some("7.13.0")).await;
    let close = sim.post("/_ml/anomaly_detectors/j1/_close").await;
    close.assert_error(
        409,
        "status_exception",
        "cannot close job [j1], datafeed hasn't been stopped",
    );
    assert!(close.headers.get("x-elastic-product").is_none());
    sim.post("/_ml/datafeeds/df-j1/_stop").await.assert_ok();
    let started = sim.post("/_ml/datafeeds/df-j1/_start").await;
    assert_eq!(started.assert_ok(), &json!({"started": true}));
}

#[tokio::test]
async fn error_faults_answer_instead_of_the_operation() {
    let sim = start(TWO_JOBS).await;
    let rules = json!({"faults": [{"operation": "close_job", "target": "j2", "times": 1,
        "error": {"status": 503, "type": "master_not_discovered_exception", "reason": "no master"}}]});
    sim.put("/_sim/faults", rules).await.assert_ok();
    let faulted = sim.post("/_ml/anomaly_detectors/j2/_close").await;
    faulted.assert_error(503, "master_not_discovered_exception", "no master");
    assert_eq!(
        sim.job("j2").await["state"],
        "opened",
        "an error fault changes nothing"
    );
    sim.post("/_ml/anomaly_detectors/j2/_close")
        .await
        .assert_ok();
    assert_eq!(
        sim.sim_stats().await["requests"]["close_job"],
        json!({"200": 1, "503": 1})
    );
}

#[tokio::test]
async fn a_drop_fault_closes_the_connection_unanswered() {
    let sim = start(TWO_JOBS).await;
    let rules = json!({"faults": [{"operation": "job_stats", "times": 1, "drop": true}]});
    sim.put("/_sim/faults", rules).await.assert_ok();
    let dropped = sim
        .try_call(Method::GET, "/_ml/anomaly_detectors/_stats", None)
        .await;
    assert!(dropped.is_err(), "a dropped connection gives no response");
    sim.get("/_ml/anomaly_detectors/_stats").await.assert_ok();
}

#[tokio::test]
async fn a_stuck_datafeed_stays_stopping_until_forced() {
    let sim = start(TWO_JOBS).await;
    let rules =
        json!({"faults": [{"operation": "stop_datafeed", "target": "df-j1", "stuck": true}]});
    sim.put("/_sim/faults", rules).await.assert_ok();
    let stop = sim.post("/_ml/datafeeds/df-j1/_stop?timeout=30ms").await;
    assert_eq!(
        stop.assert_ok(),
        &json!({"stopped": true}),
        "a stop timeout is not an error"
    );
    assert_eq!(sim.datafeed("df-j1").await["state"], "stopping");
    sim.call(Method::DELETE, "/_sim/faults", None)
        .await
        .assert_ok();
    sim.post("/_ml/datafeeds/df-j1/_stop?force=true")
        .await
        .assert_ok();
    assert_eq!(sim.datafeed("df-j1").await["state"], "stopped");
}

#[tokio::test]
async fn a_stuck_close_stays_closing_until_forced() {
    let sim = start(TWO_JOBS).await;
    let rules = json!({"faults": [{"operation": "close_job", "stuck": true}]});
    sim.put("/_sim/faults", rules).await.assert_ok();
    let close = sim
        .post("/_ml/anomaly_detectors/j2/_close?timeout=30ms")
        .await;
    assert_eq!(close.status.as_u16(), 500);
    assert_eq!(sim.job("j2").await["state"], "closing");
    sim.post("/_ml/anomaly_detectors/j2/_close?force=true")
        .await
        .assert_ok();
    assert_eq!(sim.job("j2").await["state"], "closed");
}

#[tokio::test]
async fn a_failed_job_force_stops_its_datafeed() {
    let sim = start(TWO_JOBS).await;
    sim.post("/_sim/anomaly_detectors/j1/_fail")
        .await
        .assert_ok();
    assert_eq!(sim.job("j1").await["state"], "failed");
    assert_eq!(sim.datafeed("df-j1").await["state"], "stopped");
    sim.post("/_ml/anomaly_detectors/j1/_close")
        .await
        .assert_error(
            409,
            "status_exception",
            "cannot close job [j1] because it failed, use force close",
        );
    sim.post("/_ml/anomaly_detectors/j1/_close?force=true")
        .await
        .assert_ok();
    assert_eq!(sim.job("j1").await["state"], "closed");
}

#[tokio::test]
async fn jobs_and_datafeeds_are_created_and_deleted() {
    let sim = start("").await;
    let job = sim
        .put(
            "/_ml/anomaly_detectors/new-job",
            json!({"analysis_config": {"detectors": [{"function": "count"}]}, "data_description": {}}),
        )
        .await;
    let job = job.assert_ok();
    assert_eq!(job["analysis_config"]["bucket_span"], "5m");
    assert_eq!(job["analysis_limits"]["model_memory_limit"], "1024mb");
    let df = sim
        .put(
            "/_ml/datafeeds/df-new",
            json!({"job_id": "new-job", "indices": ["logs-*"]}),
        )
        .await;
    assert_eq!(
        df.assert_ok()["query"],
        json!({"match_all": {"boost": 1.0}})
    );
    sim.post("/_ml/anomaly_detectors/new-job/_open")
        .await
        .assert_ok();
    let started = sim.post("/_ml/datafeeds/df-new/_start").await;
    assert_eq!(started.assert_ok()["started"], true);
    assert!(started.body["node"].is_string());
    sim.call(Method::DELETE, "/_ml/datafeeds/df-new", None)
        .await
        .assert_error(
            409,
            "status_exception",
            "Cannot delete datafeed [df-new] while its status is started",
        );
    sim.call(Method::DELETE, "/_ml/anomaly_detectors/new-job", None)
        .await
        .assert_error(
            409,
            "status_exception",
            "Cannot delete job [new-job] because the job is opened",
        );
    sim.post("/_ml/datafeeds/df-new/_stop").await.assert_ok();
    sim.post("/_ml/anomaly_detectors/new-job/_close")
        .await
        .assert_ok();
    sim.call(Method::DELETE, "/_ml/anomaly_detectors/new-job", None)
        .await
        .assert_error(
            409,
            "status_exception",
            "Cannot delete job [new-job] because datafeed [df-new] refers to it",
        );
    sim.call(Method::DELETE, "/_ml/datafeeds/df-new", None)
        .await
        .assert_ok();
    sim.call(Method::DELETE, "/_ml/anomaly_detectors/new-job", None)
        .await
        .assert_ok();
    assert_eq!(
        sim.get("/_ml/anomaly_detectors").await.assert_ok()["count"],
        0
    );
}

#[tokio::test]
async fn stats_list_nodes_and_running_state_sorted_by_id() {
    let sim = start(TWO_JOBS).await;
    let jobs = sim
        .get("/_ml/anomaly_detectors/_stats")
        .await
        .assert_ok()
        .clone();
    assert_eq!(jobs["count"], 2);
    assert_eq!(jobs["jobs"][0]["job_id"], "j1");
    let node = &jobs["jobs"][0]["node"];
    for field in [
        "id",
        "name",
        "ephemeral_id",
        "transport_address",
        "attributes",
    ] {
        assert!(node.get(field).is_some(), "node lacks {field}: {node}");
    }
    assert!(
        jobs["jobs"][0]["open_time"]
            .as_str()
            .unwrap()
            .ends_with('s')
    );
    let df = sim.datafeed("df-j1").await;
    assert_eq!(df["running_state"]["real_time_configured"], true);
    assert_eq!(df["node"]["id"], node["id"]);
    let group = sim
        .get("/_ml/anomaly_detectors/g/_stats")
        .await
        .assert_ok()
        .clone();
    assert_eq!(group["count"], 1);
}

#[tokio::test]
async fn a_big_generated_seed_starts_quickly() {
    let seed = Seed::from_yaml_str(
        "generate: {seed: 42, jobs: 5000, with_datafeed: 0.9, started: 0.8, model_bytes: {min: 1mb, max: 2gb}}\nnodes: {count: 40, memory: 64gb}",
        "big.yaml",
    )
    .expect("a valid seed");
    let started = Instant::now();
    let sim = quiesce::sim::Simulator::start(quiesce::sim::SimOptions {
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
async fn stop_faults_apply_to_the_stop_a_close_makes() {
    let sim = start(TWO_JOBS).await;
    let rules = json!({"faults": [{"operation": "stop_datafeed", "times": 1,
        "error": {"status": 500, "type": "exception", "reason": "boom"}}]});
    sim.put("/_sim/faults", rules).await.assert_ok();
    let close = sim.post("/_ml/anomaly_detectors/j1/_close").await;
    close.assert_error(
        409,
        "status_exception",
        "failed to close jobs as one or more had started datafeeds that could not be stopped: \
         started datafeeds [df-j1], error stopping them [boom]",
    );
    assert_eq!(
        close.body["error"]["caused_by"],
        json!({"type": "exception", "reason": "boom"})
    );
    assert_eq!(sim.job("j1").await["state"], "opened");
    sim.post("/_ml/anomaly_detectors/j1/_close")
        .await
        .assert_ok();
}

#[tokio::test]
async fn from_9_3_close_job_decides_whether_a_stopped_lookback_closes_its_job() {
    let seed = "
latency: {lookback: 10m}
jobs:
  - {id: j1, state: opened}
  - {id: j2, state: opened}
datafeeds:
  - {id: df-j1, job: j1, state: started, end: '2026-11-01T00:00:00Z'}
  - {id: df-j2, job: j2, state: started, end: '2026-11-01T00:00:00Z'}
";
    let sim = start_as(seed, Some("9.3.0")).await;
    sim.post("/_ml/datafeeds/df-j1/_stop").await.assert_ok();
    assert_eq!(sim.job("j1").await["state"], "opened");
    sim.post("/_ml/datafeeds/df-j2/_stop?close_job=true")
        .await
        .assert_ok();
    assert_eq!(sim.job("j2").await["state"], "closed");
    let before = start_as(seed, Some("8.15.0")).await;
    before.post("/_ml/datafeeds/df-j1/_stop").await.assert_ok();
    before.wait_job("j1", "closed").await;
}

#[tokio::test]
async fn deprecated_allow_no_jobs_warns_in_7_x() {
    let sim = start_as(TWO_JOBS, Some("7.13.0")).await;
    let answer = sim
        .post("/_ml/anomaly_detectors/missing-*/_close?allow_no_jobs=false")
        .await;
    answer.assert_error(
        404,
        "resource_not_found_exception",
        "No known job with id 'missing-*'",
    );
    let warning = answer.headers["warning"].to_str().unwrap();
    assert!(
        warning
            .contains("Deprecated field [allow_no_jobs] used, expected [allow_no_match] instead")
    );
}

#[tokio::test]
async fn a_delay_fault_answers_normally_but_late() {
    let sim = start(TWO_JOBS).await;
    let rules = json!({"faults": [{"operation": "job_stats", "times": 1, "delay": "300ms"}]});
    sim.put("/_sim/faults", rules).await.assert_ok();
    let begun = Instant::now();
    let answer = sim.get("/_ml/anomaly_detectors/j1/_stats").await;
    assert_eq!(answer.assert_ok()["count"], 1);
    assert!(
        begun.elapsed() >= Duration::from_millis(300),
        "{:?}",
        begun.elapsed()
    );
    let faults = sim.get("/_sim/faults").await;
    assert!(faults.status.is_success());
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
