//! docs/elasticsearch-ml-api.md §4: the error catalogue. Each test checks status, `error.type`, the exact
//! `error.reason`, `root_cause`, `caused_by` where the row has one, and the `status` field.
//! E3, E6–E10 and E18/E19 are also exercised from the state tables, lifecycle, upgrade-mode and
//! security modules; E13, E17, E20 and E21 can only come from fault rules.

use reqwest::Method;
use serde_json::json;

use quiesce_sim::testing::TestCluster;

const OPEN_WITH_DATAFEED: &str = "
jobs:
  - id: j1
    state: opened
datafeeds:
  - id: df-j1
    job: j1
    state: started
";

#[tokio::test]
async fn e1_unknown_job_on_every_job_api() {
    let sim = TestCluster::empty().await;
    let reason = "No known job with id 'nope'";
    for (method, path) in [
        (Method::GET, "/_ml/anomaly_detectors/nope"),
        (Method::GET, "/_ml/anomaly_detectors/nope/_stats"),
        (Method::POST, "/_ml/anomaly_detectors/nope/_open"),
        (Method::POST, "/_ml/anomaly_detectors/nope/_close"),
        (Method::DELETE, "/_ml/anomaly_detectors/nope"),
        (Method::GET, "/_ml/anomaly_detectors/nope/model_snapshots"),
    ] {
        let resp = sim.send(sim.request(method.clone(), path)).await;
        resp.assert_error(404, "resource_not_found_exception", reason);
    }
}

#[tokio::test]
async fn e1_reason_matches_the_verbatim_kibana_fixture() {
    let sim = TestCluster::empty().await;
    let resp = sim
        .get("/_ml/anomaly_detectors/siem-api-rare_process_linux_ecs/_stats")
        .await;
    assert_eq!(
        resp.body,
        json!({"error":{"root_cause":[{"type":"resource_not_found_exception","reason":"No known job with id 'siem-api-rare_process_linux_ecs'"}],"type":"resource_not_found_exception","reason":"No known job with id 'siem-api-rare_process_linux_ecs'"},"status":404})
    );
}

#[tokio::test]
async fn e2_unknown_datafeed_on_every_datafeed_api() {
    let sim = TestCluster::empty().await;
    let reason = "No datafeed with id [nope] exists";
    for (method, path) in [
        (Method::GET, "/_ml/datafeeds/nope"),
        (Method::GET, "/_ml/datafeeds/nope/_stats"),
        (Method::POST, "/_ml/datafeeds/nope/_start"),
        (Method::POST, "/_ml/datafeeds/nope/_stop"),
        (Method::DELETE, "/_ml/datafeeds/nope"),
    ] {
        let resp = sim.send(sim.request(method.clone(), path)).await;
        resp.assert_error(404, "resource_not_found_exception", reason);
    }
}

#[tokio::test]
async fn e3_close_single_failed_job() {
    let sim = TestCluster::with_seed("jobs:\n  - id: j1\n    state: failed\n").await;
    sim.post("/_ml/anomaly_detectors/j1/_close")
        .await
        .assert_error(
            409,
            "status_exception",
            "cannot close job [j1] because it failed, use force close",
        );
}

#[tokio::test]
async fn e4_close_set_with_a_failed_job_touches_nothing() {
    let sim = TestCluster::with_seed(
        "
jobs:
  - id: j1
    state: failed
  - id: j2
    state: opened
",
    )
    .await;
    for expression in ["_all", "j1,j2", "j*"] {
        sim.post(&format!("/_ml/anomaly_detectors/{expression}/_close"))
            .await
            .assert_error(
                409,
                "status_exception",
                "one or more jobs have state failed, use force close",
            );
        assert_eq!(
            sim.job_state("j2").await,
            "opened",
            "no job is touched ({expression})"
        );
        assert_eq!(sim.job_state("j1").await, "failed");
    }
    let forced = sim
        .post("/_ml/anomaly_detectors/_all/_close?force=true")
        .await;
    assert_eq!(forced.ok(), &json!({ "closed": true }));
    assert_eq!(sim.job_state("j1").await, "closed");
    assert_eq!(sim.job_state("j2").await, "closed");
}

#[tokio::test]
async fn e3_or_e4_depends_on_how_many_jobs_the_expression_expands_to() {
    // §2.2 step 3: exactly one expanded job → E3; more than one (closed ones count) → E4.
    let sim = TestCluster::with_seed(
        "
jobs:
  - id: j1
    state: failed
  - id: j2
",
    )
    .await;
    sim.post("/_ml/anomaly_detectors/j1*/_close")
        .await
        .assert_error(
            409,
            "status_exception",
            "cannot close job [j1] because it failed, use force close",
        );
    sim.post("/_ml/anomaly_detectors/j1,j2/_close")
        .await
        .assert_error(
            409,
            "status_exception",
            "one or more jobs have state failed, use force close",
        );
}

#[tokio::test]
async fn e5_close_when_datafeed_stop_fails() {
    // The close stops the datafeed with the same parameters (§2.2 step 4); a failing stop of
    // df-j1 (fault) must surface as E5 with the stop's error as caused_by.
    let sim = TestCluster::with_seed(OPEN_WITH_DATAFEED).await;
    sim.set_faults(json!([{
        "operation": "stop_datafeed", "target": "df-j1",
        "error": { "status": 500, "type": "exception", "reason": "boom" }
    }]))
    .await;
    let resp = sim.post("/_ml/anomaly_detectors/j1/_close").await;
    let cause = resp.assert_error_caused(
        409,
        "status_exception",
        "failed to close jobs as one or more had started datafeeds that could not be stopped: started datafeeds [df-j1], error stopping them [boom]",
        "exception",
    );
    assert_eq!(cause["reason"], "boom");
    assert_eq!(sim.job_state("j1").await, "opened");
}

#[tokio::test]
async fn e6_close_with_started_datafeed_before_7_14() {
    // TransportCloseJobAction before 7.14 (PR #74257): `checkDatafeedsHaveStopped` answers
    // "cannot close job datafeed [{}] hasn't been stopped" with the datafeed's id.
    let sim = TestCluster::builder()
        .seed(OPEN_WITH_DATAFEED)
        .es_version("7.13.0")
        .start()
        .await;
    sim.post("/_ml/anomaly_detectors/j1/_close")
        .await
        .assert_error(
            409,
            "status_exception",
            "cannot close job datafeed [df-j1] hasn't been stopped",
        );
    assert_eq!(sim.job_state("j1").await, "opened");
    assert_eq!(sim.datafeed_state("df-j1").await, "started");
    // Stopping first, then closing, works on 7.13.
    assert_eq!(
        sim.post("/_ml/datafeeds/df-j1/_stop").await.body,
        json!({ "stopped": true })
    );
    assert_eq!(
        sim.post("/_ml/anomaly_detectors/j1/_close").await.body,
        json!({ "closed": true })
    );
}

#[tokio::test]
async fn e6_before_7_14_even_a_forced_close_checks_datafeeds_first() {
    // TransportCloseJobAction 7.x `validate` runs `checkDatafeedsHaveStopped` before anything
    // else, whatever `force` says, and only then looks for failed jobs.
    let sim = TestCluster::builder()
        .seed(
            "
jobs:
  - {id: j1, state: opened}
  - {id: j2, state: failed}
datafeeds:
  - {id: df-j1, job: j1, state: started}
",
        )
        .es_version("7.13.0")
        .start()
        .await;
    for path in [
        "/_ml/anomaly_detectors/j1/_close?force=true",
        "/_ml/anomaly_detectors/_all/_close",
        "/_ml/anomaly_detectors/j1,j2/_close?force=true",
    ] {
        sim.post(path).await.assert_error(
            409,
            "status_exception",
            "cannot close job datafeed [df-j1] hasn't been stopped",
        );
    }
    assert_eq!(sim.job_state("j1").await, "opened");
    assert_eq!(sim.job_state("j2").await, "failed");
    assert_eq!(sim.datafeed_state("df-j1").await, "started");
    // Once the datafeed is stopped the failed job is the next refusal (E4).
    sim.post("/_ml/datafeeds/df-j1/_stop").await.ok();
    sim.post("/_ml/anomaly_detectors/_all/_close")
        .await
        .assert_error(
            409,
            "status_exception",
            "one or more jobs have state failed, use force close",
        );
}

#[tokio::test]
async fn e7_open_already_opened() {
    // TransportOpenJobAction wraps the `ResourceAlreadyExistsException` of
    // PersistentTasksClusterService (`task with id {job-<id>} already exist`) as the cause of
    // its 409; `guessRootCauses` then reports that cause as the root cause, both being
    // ElasticsearchExceptions (ElasticsearchException, 8.x).
    let sim = TestCluster::with_seed(OPEN_WITH_DATAFEED).await;
    let resp = sim.post("/_ml/anomaly_detectors/j1/_open").await;
    let cause = resp.assert_error_caused(
        409,
        "status_exception",
        "Cannot open job [j1] because it has already been opened",
        "resource_already_exists_exception",
    );
    assert_eq!(cause["reason"], "task with id {job-j1} already exist");
    assert_eq!(
        resp.body["error"]["root_cause"],
        json!([{ "type": "resource_already_exists_exception",
                 "reason": "task with id {job-j1} already exist" }])
    );
}

#[tokio::test]
async fn root_cause_stops_at_a_cause_that_is_not_an_elasticsearch_exception() {
    // E12: the cause is an IllegalStateException, so guessRootCauses keeps the top-level
    // status_exception (docs/elasticsearch-ml-api.md §1.3, Kibana fixture).
    let sim = TestCluster::with_seed(
        "nodes: {count: 1, memory: 1gb}\njobs:\n  - {id: big, model_memory_limit: 2gb}\n",
    )
    .await;
    let resp = sim.post("/_ml/anomaly_detectors/big/_open").await;
    resp.assert_error_caused(
        429,
        "status_exception",
        "Could not open job because no ML nodes with sufficient capacity were found",
        "illegal_state_exception",
    );
    assert_eq!(
        resp.body["error"]["root_cause"][0]["type"],
        "status_exception"
    );
}

#[tokio::test]
async fn e8_start_datafeed_job_not_open() {
    let sim =
        TestCluster::with_seed("jobs:\n  - id: j1\ndatafeeds:\n  - id: df-j1\n    job: j1\n").await;
    sim.post("/_ml/datafeeds/df-j1/_start").await.assert_error(
        409,
        "status_exception",
        "cannot start datafeed [df-j1] because job [j1] is closed",
    );
}

#[tokio::test]
async fn e9_start_already_started() {
    let sim = TestCluster::with_seed(OPEN_WITH_DATAFEED).await;
    sim.post("/_ml/datafeeds/df-j1/_start").await.assert_error(
        409,
        "status_exception",
        "cannot start datafeed [df-j1] because it has already been started",
    );
}

#[tokio::test]
async fn e11_concurrent_set_upgrade_mode() {
    let sim = TestCluster::with_seed("latency:\n  set_upgrade_mode: 1s\n").await;
    let path = "/_ml/set_upgrade_mode?enabled=true";
    let (a, b) = tokio::join!(sim.post(path), sim.post(path));
    let (winner, loser) = if a.status.as_u16() == 200 {
        (a, b)
    } else {
        (b, a)
    };
    assert_eq!(winner.ok(), &json!({ "acknowledged": true }));
    let cause = loser.assert_error_caused(
        429,
        "status_exception",
        "Cannot change [upgrade_mode]. Previous request is still being processed.",
        "illegal_state_exception",
    );
    let cause_reason = cause["reason"].as_str().unwrap_or_default();
    assert!(
        cause_reason.starts_with("Attempted to set [upgrade_mode] to [true] from [")
            && cause_reason.ends_with("] while previous request was processing."),
        "caused_by reason: {cause_reason}"
    );
    assert_eq!(sim.get("/_ml/info").await.ok()["upgrade_mode"], true);
}

#[tokio::test]
async fn e12_open_without_capacity() {
    let sim = TestCluster::with_seed(
        "
nodes:
  count: 2
  memory: 1gb
jobs:
  - id: j1
    model_memory_limit: 2gb
",
    )
    .await;
    let resp = sim.post("/_ml/anomaly_detectors/j1/_open").await;
    let cause = resp.assert_error_caused(
        429,
        "status_exception",
        "Could not open job because no ML nodes with sufficient capacity were found",
        "illegal_state_exception",
    );
    let cause_reason = cause["reason"].as_str().unwrap_or_default();
    assert!(
        cause_reason.starts_with(
            "Could not open job because no suitable nodes were found, allocation explanation ["
        ) && cause_reason.ends_with(']'),
        "caused_by reason: {cause_reason}"
    );
    let stats = sim.job_stats("j1").await;
    assert_eq!(stats["state"], "closed");
}

#[tokio::test]
async fn e12_jobs_spread_over_nodes_until_none_has_room() {
    let sim = TestCluster::with_seed(
        "
nodes:
  count: 2
  memory: 1gb
jobs:
  - { id: a, model_memory_limit: 1gb }
  - { id: b, model_memory_limit: 1gb }
  - { id: c, model_memory_limit: 1gb }
",
    )
    .await;
    let a = sim.post("/_ml/anomaly_detectors/a/_open").await.ok()["node"].clone();
    let b = sim.post("/_ml/anomaly_detectors/b/_open").await.ok()["node"].clone();
    assert_ne!(a, b, "each node holds one 1gb job");
    sim.post("/_ml/anomaly_detectors/c/_open")
        .await
        .assert_envelope(429, "status_exception");
}

#[tokio::test]
async fn e12_memory_is_summed_over_opened_jobs_on_a_node() {
    let sim = TestCluster::with_seed(
        "
nodes:
  count: 1
  memory: 2gb
jobs:
  - id: a
    model_memory_limit: 1gb
    state: opened
  - id: b
    model_memory_limit: 1gb
  - id: c
    model_memory_limit: 1gb
",
    )
    .await;
    assert_eq!(
        sim.post("/_ml/anomaly_detectors/b/_open").await.ok()["opened"],
        true
    );
    sim.post("/_ml/anomaly_detectors/c/_open")
        .await
        .assert_envelope(429, "status_exception");
    assert_eq!(sim.job_state("c").await, "closed");
}

#[tokio::test]
async fn e14_close_timeout_is_500_and_the_close_goes_on() {
    let sim = TestCluster::with_seed(
        "latency:\n  close_job: 1500ms\njobs:\n  - id: j1\n    state: opened\n",
    )
    .await;
    sim.post("/_ml/anomaly_detectors/j1/_close?timeout=100ms")
        .await
        .assert_error(
            500,
            "illegal_state_exception",
            "Timed out when waiting for persistent tasks after 100ms",
        );
    assert_eq!(sim.job_state("j1").await, "closing");
    // Re-issuing the close is safe: it waits on the close still going on (§4 notes).
    let again = sim.post("/_ml/anomaly_detectors/j1/_close").await;
    assert_eq!(again.ok(), &json!({ "closed": true }));
    assert_eq!(sim.job_state("j1").await, "closed");
}

#[tokio::test]
async fn e15_open_timeout_is_408_and_the_open_goes_on() {
    let sim = TestCluster::with_seed("latency:\n  open_job: 1500ms\njobs:\n  - id: j1\n").await;
    sim.post("/_ml/anomaly_detectors/j1/_open?timeout=100ms")
        .await
        .assert_error(
            408,
            "status_exception",
            "Opening job [j1] timed out after [100ms]",
        );
    assert_eq!(sim.job_state("j1").await, "opening");
    sim.wait_job("j1", "opened").await;
}

#[tokio::test]
async fn e16_start_timeout_is_408_and_the_start_goes_on() {
    let sim = TestCluster::with_seed(
        "
latency:
  start_datafeed: 1500ms
jobs:
  - id: j1
    state: opened
datafeeds:
  - id: df-j1
    job: j1
",
    )
    .await;
    sim.post("/_ml/datafeeds/df-j1/_start?timeout=100ms")
        .await
        .assert_error(
            408,
            "status_exception",
            "Starting datafeed [df-j1] timed out after [100ms]",
        );
    assert_eq!(sim.datafeed_state("df-j1").await, "starting");
    sim.wait_datafeed("df-j1", "started").await;
}

#[tokio::test]
async fn stop_timeout_is_not_an_error() {
    // §2.1 step 4: a stop whose timeout expires still answers 200.
    let sim = TestCluster::with_seed(
        "
latency:
  stop_datafeed: 1500ms
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
    let resp = sim.post("/_ml/datafeeds/df-j1/_stop?timeout=100ms").await;
    assert_eq!(resp.ok(), &json!({ "stopped": true }));
}

#[tokio::test]
async fn e22_unknown_query_parameter() {
    let sim = TestCluster::with_seed(OPEN_WITH_DATAFEED).await;
    sim.post("/_ml/anomaly_detectors/j1/_close?bogus=1")
        .await
        .assert_error(
            400,
            "illegal_argument_exception",
            "request [/_ml/anomaly_detectors/j1/_close] contains unrecognized parameter: [bogus]",
        );
    sim.get("/_ml/datafeeds/df-j1/_stats?bogus=1")
        .await
        .assert_error(
            400,
            "illegal_argument_exception",
            "request [/_ml/datafeeds/df-j1/_stats] contains unrecognized parameter: [bogus]",
        );
    assert_eq!(sim.job_state("j1").await, "opened");
}

#[tokio::test]
async fn e22_several_unknown_query_parameters_use_the_plural() {
    let sim = TestCluster::with_seed(OPEN_WITH_DATAFEED).await;
    sim.post("/_ml/datafeeds/df-j1/_stop?bogus=1&zzz=2")
        .await
        .assert_error(
            400,
            "illegal_argument_exception",
            "request [/_ml/datafeeds/df-j1/_stop] contains unrecognized parameters: [bogus], [zzz]",
        );
    assert_eq!(sim.datafeed_state("df-j1").await, "started");
}

#[tokio::test]
async fn e22_misspelt_parameter_may_suggest_the_right_one() {
    let sim = TestCluster::with_seed(OPEN_WITH_DATAFEED).await;
    let resp = sim.post("/_ml/anomaly_detectors/j1/_close?timout=1s").await;
    let error = resp.assert_envelope(400, "illegal_argument_exception");
    let base =
        "request [/_ml/anomaly_detectors/j1/_close] contains unrecognized parameter: [timout]";
    let reason = error["reason"].as_str().unwrap_or_default();
    assert!(
        reason == base || reason == format!("{base} -> did you mean [timeout]?"),
        "reason: {reason}"
    );
}

#[tokio::test]
async fn e23_wrong_method_is_the_flat_405() {
    let sim = TestCluster::empty().await;
    for (method, path, allowed) in [
        ("GET", "/_ml/anomaly_detectors/j1/_close", "POST"),
        ("GET", "/_ml/anomaly_detectors/j1/_open", "POST"),
        ("GET", "/_ml/datafeeds/df-j1/_start", "POST"),
        ("PUT", "/_ml/datafeeds/df-j1/_stop", "POST"),
        ("DELETE", "/_ml/set_upgrade_mode", "POST"),
    ] {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let resp = sim.send(sim.request(method.clone(), path)).await;
        resp.assert_flat_error(
            405,
            &format!(
                "Incorrect HTTP method for uri [{path}] and method [{method}], allowed: [{allowed}]"
            ),
        );
    }
}

#[tokio::test]
async fn e24_start_with_end_not_after_start() {
    let sim = TestCluster::with_seed(
        "jobs:\n  - id: j1\n    state: opened\ndatafeeds:\n  - id: df-j1\n    job: j1\n",
    )
    .await;
    sim.post("/_ml/datafeeds/df-j1/_start?start=2026-01-02T00:00:00Z&end=2026-01-01T00:00:00Z")
        .await
        .assert_error(
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: start [1767312000000] must be earlier than end [1767225600000];",
        );
    sim.post_json(
        "/_ml/datafeeds/df-j1/_start",
        json!({ "start": "2026-01-01T00:00:00Z", "end": "2026-01-01T00:00:00Z" }),
    )
    .await
    .assert_error(
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: start [1767225600000] must be earlier than end [1767225600000];",
    );
    assert_eq!(sim.datafeed_state("df-j1").await, "stopped");
}

#[tokio::test]
async fn fault_rules_produce_e13_e17_e20_e21_envelopes() {
    let sim = TestCluster::with_seed(OPEN_WITH_DATAFEED).await;
    let e13 = "Cannot open jobs because persistent task assignment is disabled by the [cluster.persistent_tasks.allocation.enable] setting";
    let e17 = "Failed to stop datafeed [df-j1] after 10 due to inconsistencies between local and persistent tasks within the cluster";
    let e21 = "index [.ml-anomalies-shared] blocked by: [FORBIDDEN/4/index closed];";
    sim.set_faults(json!([
        { "operation": "open_job", "times": 1,
          "error": { "status": 429, "type": "status_exception", "reason": e13 } },
        { "operation": "stop_datafeed", "times": 1,
          "error": { "status": 500, "type": "exception", "reason": e17 } },
        { "operation": "job_stats", "times": 1,
          "error": { "status": 503, "type": "master_not_discovered_exception", "reason": "no master" } },
        { "operation": "datafeed_stats", "times": 1,
          "error": { "status": 403, "type": "cluster_block_exception", "reason": e21 } },
    ]))
    .await;
    sim.post("/_ml/anomaly_detectors/j1/_open")
        .await
        .assert_error(429, "status_exception", e13);
    sim.post("/_ml/datafeeds/df-j1/_stop")
        .await
        .assert_error(500, "exception", e17);
    sim.get("/_ml/anomaly_detectors/j1/_stats")
        .await
        .assert_error(503, "master_not_discovered_exception", "no master");
    sim.get("/_ml/datafeeds/df-j1/_stats")
        .await
        .assert_error(403, "cluster_block_exception", e21);
    // An error fault changes nothing, and `times: 1` is spent after one hit.
    assert_eq!(sim.datafeed_state("df-j1").await, "started");
    assert_eq!(sim.job_state("j1").await, "opened");
}
