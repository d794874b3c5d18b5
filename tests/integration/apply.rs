//! `quiesce apply` end to end: the real binary against a simulator running in this test
//! process, over real HTTP, so that `/_sim/stats` can be read afterwards (ordering violations
//! must be zero after every run).

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

use super::rig::{Rig, stderr};

const SEED: &str = r#"
cluster: { name: apply-test, version: 8.15.0 }
nodes: { count: 2, memory: 16gb }
jobs:
  - { id: web-latency, groups: [web, prod], model_bytes: 10mb, state: opened }
  - { id: web-errors, groups: [web, prod], model_bytes: 5mb, state: opened }
  - { id: pay-fraud, groups: [payments, prod], model_bytes: 50mb, state: opened }
  - { id: pay-declines, groups: [payments, prod], model_bytes: 20mb, state: opened }
  - { id: batch-nightly, groups: [batch], state: closed }
datafeeds:
  - { id: datafeed-web-latency, job: web-latency, state: started }
  - { id: datafeed-web-errors, job: web-errors, state: started }
  - { id: datafeed-pay-fraud, job: pay-fraud, state: started }
  - { id: datafeed-pay-declines, job: pay-declines, state: stopped }
  - { id: datafeed-batch-nightly, job: batch-nightly, state: stopped }
"#;

const SHUTDOWN: &str = "version: 1
name: shutdown
settings:
  retry: { attempts: 4, initial_backoff: 10ms, max_backoff: 50ms }
jobs:
  - match: prod
    state: closed
";

const RESTORE: &str = "version: 1
name: restore
jobs:
  - match: prod
    state: opened
datafeeds:
  - id: datafeed-web-latency
    state: started
  - id: datafeed-web-errors
    state: started
  - id: datafeed-pay-fraud
    state: started
";

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn json_lines(output: &Output) -> Vec<Value> {
    stdout(output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_then_restore_reaches_every_state_in_order() {
    let rig = Rig::new(SEED).await;
    let output = rig.apply(SHUTDOWN, &["playbook.yaml", "--yes"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let stats = rig.stats().await;
    for job in ["web-latency", "web-errors", "pay-fraud", "pay-declines"] {
        assert_eq!(stats["jobs"][job], "closed", "{stats}");
    }
    for feed in [
        "datafeed-web-latency",
        "datafeed-web-errors",
        "datafeed-pay-fraud",
    ] {
        assert_eq!(stats["datafeeds"][feed], "stopped", "{stats}");
    }
    rig.assert_no_ordering_violation().await;
    let summary = stderr(&output);
    assert!(summary.contains("7"), "{summary}");

    let output = rig.apply(RESTORE, &["playbook.yaml", "--yes"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let stats = rig.stats().await;
    for job in ["web-latency", "web-errors", "pay-fraud", "pay-declines"] {
        assert_eq!(stats["jobs"][job], "opened", "{stats}");
    }
    assert_eq!(
        stats["datafeeds"]["datafeed-pay-declines"], "stopped",
        "not named: stays"
    );
    rig.assert_no_ordering_violation().await;
}

fn workflow(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("workflows")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_cluster_goes_down_and_comes_back_with_the_shipped_workflows() {
    let demo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("seeds/demo-cluster.yaml");
    let rig = Rig::fast(&std::fs::read_to_string(demo).expect("the demo seed")).await;
    let before = rig.stats().await;
    let down = rig
        .apply(
            &workflow("pre-upgrade-shutdown.yaml"),
            &["playbook.yaml", "--yes"],
        )
        .await;
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    let after = rig.stats().await;
    assert_eq!(after["upgrade_mode"], true);
    for (id, state) in after["jobs"].as_object().expect("jobs") {
        if id.starts_with("web-") || id.starts_with("search-") || id.starts_with("infra-") {
            assert_eq!(state, "closed", "{id}");
        }
    }
    for (id, state) in after["datafeeds"].as_object().expect("datafeeds") {
        assert_eq!(state, "stopped", "{id}: every datafeed is stopped");
    }
    rig.assert_no_ordering_violation().await;

    let up = rig
        .apply(&workflow("restore.yaml"), &["playbook.yaml", "--yes"])
        .await;
    assert_eq!(up.status.code(), Some(0), "{}", stderr(&up));
    let restored = rig.stats().await;
    assert_eq!(restored["upgrade_mode"], false);
    for job in [
        "web-latency",
        "payments-fraud-amounts",
        "search-query-latency",
    ] {
        assert_eq!(restored["jobs"][job], before["jobs"][job], "{job}");
    }
    rig.assert_no_ordering_violation().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pre_7_14_cluster_accepts_the_order_quiesce_uses() {
    let rig = Rig::with_version(SEED, Some("7.13.4")).await;
    let output = rig.apply(SHUTDOWN, &["playbook.yaml", "--yes"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    rig.assert_no_ordering_violation().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn json_output_is_one_versioned_event_per_line() {
    let rig = Rig::new(SEED).await;
    let output = rig
        .apply(SHUTDOWN, &["playbook.yaml", "--yes", "--output", "json"])
        .await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let events = json_lines(&output);
    assert!(events.iter().all(|e| e["version"] == 3));
    assert_eq!(events[0]["event"], "run_started");
    let last = events.last().expect("events");
    assert_eq!(last["event"], "run_finished");
    assert_eq!(last["stats"]["changed"], 7, "{last}");
    assert_eq!(last["stats"]["failed"], 0);
    // Each step event says what it is about, and where the playbook asked for it.
    for event in events.iter().filter(|e| !e["step"].is_null()) {
        assert!(event["action"].is_string(), "{event}");
        assert!(event["target"].is_string(), "{event}");
        assert!(
            event["source"]
                .as_str()
                .is_some_and(|s| s.starts_with("playbook.yaml:")),
            "{event}"
        );
    }
    // Which lets a reader check, without the plan, that every close succeeded after its
    // datafeed's stop.
    let succeeded: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e["event"] == "step_succeeded")
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default(),
                e["target"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(succeeded.len(), 7);
    for (index, (action, job)) in succeeded.iter().enumerate() {
        if *action == "close_job" {
            let feed = format!("datafeed-{job}");
            if let Some(stop) = succeeded
                .iter()
                .position(|(a, t)| *a == "stop_datafeed" && *t == feed)
            {
                assert!(stop < index, "{job} closed before {feed} stopped");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn retryable_errors_are_retried_until_the_state_is_reached() {
    let rig = Rig::new(SEED).await;
    rig.faults(json!([
        { "operation": "close_job", "target": "pay-fraud", "times": 2,
          "error": { "status": 503, "type": "master_not_discovered_exception", "reason": "no master" } },
        { "operation": "stop_datafeed", "target": "datafeed-web-latency", "times": 1, "drop": true },
        { "operation": "close_job", "target": "web-errors", "times": 1,
          "error": { "status": 429, "type": "es_rejected_execution_exception", "reason": "rejected execution" } },
        { "operation": "close_job", "target": "web-latency", "times": 1, "delay": "200ms" }
    ]))
    .await;
    let output = rig
        .apply(SHUTDOWN, &["playbook.yaml", "--yes", "--output", "json"])
        .await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let events = json_lines(&output);
    let retries = events
        .iter()
        .filter(|e| e["event"] == "step_attempt_failed" && !e["retry_in_ms"].is_null())
        .count();
    assert!(retries >= 4, "{}", stdout(&output));
    rig.assert_no_ordering_violation().await;
    let stats = rig.stats().await;
    assert_eq!(stats["jobs"]["pay-fraud"], "closed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_4xx_is_not_retried_and_only_dependents_are_skipped() {
    let rig = Rig::new(SEED).await;
    rig.faults(json!([
        { "operation": "stop_datafeed", "target": "datafeed-pay-fraud",
          "error": { "status": 403, "type": "security_exception", "reason": "action [cluster:admin/xpack/ml/datafeed/stop] is unauthorized" } }
    ]))
    .await;
    let output = rig
        .apply(SHUTDOWN, &["playbook.yaml", "--yes", "--output", "json"])
        .await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let events = json_lines(&output);
    let failed: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "step_failed")
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["attempts"], 1, "not retried: {}", failed[0]);
    assert_eq!(failed[0]["error"]["kind"], "elasticsearch");
    assert_eq!(failed[0]["error"]["status"], 403);
    assert_eq!(failed[0]["error"]["type"], "security_exception");
    let skipped: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "step_skipped")
        .collect();
    assert_eq!(skipped.len(), 1, "only the close of pay-fraud");
    assert_eq!(skipped[0]["target"], "pay-fraud");
    assert_eq!(skipped[0]["reason"]["kind"], "dependency_failed");
    assert_eq!(skipped[0]["reason"]["step"], failed[0]["step"]);
    let stats = rig.stats().await;
    assert_eq!(
        stats["jobs"]["pay-fraud"], "opened",
        "its datafeed still runs"
    );
    assert_eq!(stats["jobs"]["web-latency"], "closed", "the rest went on");
    rig.assert_no_ordering_violation().await;
    let summary = stderr(&output);
    assert!(summary.contains("security_exception"), "{summary}");
    assert!(summary.contains("playbook.yaml:"), "{summary}");
}

#[tokio::test(flavor = "multi_thread")]
async fn on_failure_stop_starts_nothing_new() {
    let rig = Rig::new(SEED).await;
    rig.faults(json!([
        { "operation": "stop_datafeed",
          "error": { "status": 400, "type": "illegal_argument_exception", "reason": "bad" } }
    ]))
    .await;
    let playbook = SHUTDOWN.replace(
        "settings:\n",
        "settings:\n  on_failure: stop\n  concurrency: 1\n",
    );
    let output = rig
        .apply(&playbook, &["playbook.yaml", "--yes", "--output", "json"])
        .await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let events = json_lines(&output);
    assert!(events.iter().any(|e| e["event"] == "run_cancelling"));
    let stats = &events.last().expect("finished")["stats"];
    assert_eq!(stats["failed"], 1, "{stats}");
    assert!(stats["skipped"].as_u64().unwrap_or(0) >= 5, "{stats}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stuck_datafeed_fails_with_a_diagnosis_unless_force_is_allowed() {
    let rig = Rig::new(SEED).await;
    rig.faults(json!([
        { "operation": "stop_datafeed", "target": "datafeed-web-latency", "stuck": true }
    ]))
    .await;
    let strict = SHUTDOWN.replace("settings:\n", "settings:\n  step_timeout: 1s\n");
    let output = rig
        .apply(&strict, &["playbook.yaml", "--yes", "--output", "json"])
        .await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let events = json_lines(&output);
    let failed = events
        .iter()
        .find(|e| e["event"] == "step_failed")
        .expect("the stop failed");
    assert_eq!(failed["error"]["kind"], "step_timeout", "{failed}");
    assert_eq!(failed["error"]["timeout_ms"], 1000, "{failed}");
    assert_eq!(failed["error"]["observed"]["state"], "stopping", "{failed}");
    rig.assert_no_ordering_violation().await;

    let forcing = SHUTDOWN.replace(
        "settings:\n",
        "settings:\n  step_timeout: 1s\n  force: after_timeout\n",
    );
    let output = rig
        .apply(&forcing, &["playbook.yaml", "--yes", "--output", "json"])
        .await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let events = json_lines(&output);
    let escalated = events
        .iter()
        .find(|e| e["event"] == "step_escalated")
        .expect("escalated");
    assert_eq!(escalated["target"], "datafeed-web-latency", "{escalated}");
    assert_eq!(
        escalated["escalation"]["kind"], "after_timeout",
        "{escalated}"
    );
    assert_eq!(escalated["escalation"]["state"], "stopping", "{escalated}");
    assert_eq!(rig.stats().await["jobs"]["web-latency"], "closed");
    rig.assert_no_ordering_violation().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_job_is_force_closed_only_when_settings_allow() {
    let rig = Rig::new(SEED).await;
    let failed = rig
        .http
        .post(format!(
            "{}/_sim/anomaly_detectors/pay-declines/_fail",
            rig.sim.base_url()
        ))
        .send()
        .await
        .expect("fail the job");
    assert!(failed.status().is_success());
    let output = rig.apply(SHUTDOWN, &["playbook.yaml", "--yes"]).await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("use force close"),
        "{}",
        stderr(&output)
    );
    assert_eq!(rig.stats().await["jobs"]["pay-declines"], "failed");

    let forcing = SHUTDOWN.replace("settings:\n", "settings:\n  force: after_timeout\n");
    let output = rig.apply(&forcing, &["playbook.yaml", "--yes"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(rig.stats().await["jobs"]["pay-declines"], "closed");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_terminal_and_without_yes_nothing_changes() {
    let rig = Rig::new(SEED).await;
    let output = rig.apply(SHUTDOWN, &["playbook.yaml"]).await;
    assert_eq!(output.status.code(), Some(6), "{}", stderr(&output));
    assert!(stderr(&output).contains("--yes"), "{}", stderr(&output));
    assert_eq!(rig.stats().await["jobs"]["web-latency"], "opened");
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_prints_the_plan_and_changes_nothing() {
    let rig = Rig::new(SEED).await;
    let output = rig.apply(SHUTDOWN, &["playbook.yaml", "--dry-run"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("close job web-latency"));
    assert_eq!(rig.stats().await["jobs"]["web-latency"], "opened");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saved_plan_is_refused_when_the_cluster_drifted() {
    let rig = Rig::new(SEED).await;
    std::fs::write(rig.dir.join("playbook.yaml"), SHUTDOWN).expect("playbook");
    let base = rig.sim.base_url();
    let dir = rig.dir.clone();
    let planned = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_quiesce"))
            .current_dir(&dir)
            .args([
                "plan",
                "playbook.yaml",
                "-o",
                "plan.json",
                "--cluster",
                &base,
            ])
            .output()
            .expect("plan runs")
    })
    .await
    .expect("joined");
    assert_eq!(planned.status.code(), Some(0), "{}", stderr(&planned));
    // Someone stops a datafeed by hand in the meantime.
    rig.http
        .post(format!(
            "{}/_ml/datafeeds/datafeed-web-errors/_stop",
            rig.sim.base_url()
        ))
        .send()
        .await
        .expect("stop");
    let output = rig.apply(SHUTDOWN, &["plan.json", "--yes"]).await;
    assert_eq!(output.status.code(), Some(5), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("datafeed datafeed-web-errors: started -> stopped"),
        "{}",
        stderr(&output)
    );
    assert_eq!(
        rig.stats().await["jobs"]["web-latency"],
        "opened",
        "nothing changed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_manage_ml_is_refused_before_any_change() {
    let seed = format!(
        "{SEED}security:\n  users:\n    - {{ username: viewer, password: viewer-pass, roles: [monitor_ml] }}\n"
    );
    let rig = Rig::new(&seed).await;
    let mut command = rig.command(SHUTDOWN, &["playbook.yaml", "--yes"]);
    command
        .env("ES_USERNAME", "viewer")
        .env("ES_PASSWORD", "viewer-pass");
    let output = tokio::task::spawn_blocking(move || command.output().expect("runs"))
        .await
        .expect("joined");
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(stderr(&output).contains("manage_ml"), "{}", stderr(&output));
    assert!(!stderr(&output).contains("viewer-pass"));
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_never_appear_in_anything_a_run_writes() {
    let seed = format!(
        "{SEED}security:\n  roles:\n    quiesce-index: {{ indices: [{{ names: ['.quiesce'], privileges: [create_index, read, write] }}] }}\n  users:\n    - {{ username: admin, password: s3cret-Pa55word, roles: [manage_ml, quiesce-index] }}\n"
    );
    let rig = Rig::new(&seed).await;
    let playbook = SHUTDOWN.replace(
        "settings:\n",
        "cluster:\n  username: admin\n  password: ${QUIESCE_TEST_PASSWORD}\nsettings:\n",
    );
    let mut command = rig.command(&playbook, &["playbook.yaml", "--yes", "--output", "json"]);
    command.env("QUIESCE_TEST_PASSWORD", "s3cret-Pa55word");
    let output = tokio::task::spawn_blocking(move || command.output().expect("runs"))
        .await
        .expect("joined");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!stdout(&output).contains("s3cret-Pa55word"));
    assert!(!stderr(&output).contains("s3cret-Pa55word"));
    for entry in walk(&rig.dir) {
        let text = std::fs::read_to_string(&entry).unwrap_or_default();
        if entry.file_name().is_some_and(|n| n != "playbook.yaml") {
            assert!(!text.contains("s3cret-Pa55word"), "{}", entry.display());
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn the_first_interrupt_lets_steps_in_flight_finish_and_exits_130() {
    let rig = Rig::new(SEED).await;
    // One at a time, and the close of pay-fraud answers late: while it is in flight nothing
    // else can start, so the interrupt sent when it starts lands before any other step does.
    rig.faults(json!([
        { "operation": "close_job", "target": "pay-fraud", "delay": "3s" }
    ]))
    .await;
    let playbook = SHUTDOWN.replace("settings:\n", "settings:\n  concurrency: 1\n");
    let command = rig.command(&playbook, &["playbook.yaml", "--yes", "--output", "json"]);
    let close_started: Trigger =
        Box::new(|e| e["event"] == "step_started" && e["target"] == "pay-fraud");
    let (code, events, err) = interrupt_on(command, vec![close_started]).await;
    assert_eq!(code, Some(130), "{err}");
    let cancelled = events
        .iter()
        .position(|e| e["event"] == "run_cancelling" && e["reason"] == "interrupted")
        .unwrap_or_else(|| panic!("{events:?}"));
    // The close in flight finished...
    let closed = events
        .iter()
        .position(|e| e["event"] == "step_succeeded" && e["target"] == "pay-fraud")
        .unwrap_or_else(|| panic!("{events:?}"));
    assert!(cancelled < closed, "{events:?}");
    // ...and nothing started after it.
    assert!(
        !events[closed..]
            .iter()
            .any(|e| e["event"] == "step_started"),
        "{events:?}"
    );
    let last = events.last().expect("finished");
    assert_eq!(last["event"], "run_finished");
    assert!(last["stats"]["skipped"].as_u64().unwrap_or(0) > 0, "{last}");
    assert_eq!(last["stats"]["failed"], 0, "{last}");
    assert_eq!(rig.stats().await["jobs"]["pay-fraud"], "closed");
    rig.assert_no_ordering_violation().await;
}

/// Replaces what differs between runs (times, durations, the run id) in an event.
fn redact(mut event: Value) -> Value {
    if let Some(fields) = event.as_object_mut() {
        for (key, value) in fields.iter_mut() {
            let varying = key == "at"
                || key == "run_id"
                || key == "cluster"
                || key == "journal"
                || key.ends_with("_ms");
            if varying && !value.is_null() {
                *value = Value::String("[redacted]".into());
            }
        }
    }
    event
}

#[tokio::test(flavor = "multi_thread")]
async fn the_event_stream_and_the_summary_of_a_run_with_a_retry() {
    const SMALL: &str = r#"
cluster: { name: snapshot-test, version: 8.15.0 }
jobs:
  - { id: alpha, model_bytes: 1mb, state: opened }
  - { id: beta, model_bytes: 1mb, state: opened }
datafeeds:
  - { id: datafeed-alpha, job: alpha, state: started }
"#;
    let rig = Rig::new(SMALL).await;
    rig.faults(json!([
        { "operation": "close_job", "target": "beta", "times": 1,
          "error": { "status": 503, "type": "master_not_discovered_exception", "reason": "no master" } }
    ]))
    .await;
    let playbook = "version: 1\nname: snapshot\nsettings:\n  concurrency: 1\n  retry: { attempts: 3, initial_backoff: 10ms, max_backoff: 10ms }\njobs:\n  - match: \"*\"\n    state: closed\n";
    let output = rig
        .apply(playbook, &["playbook.yaml", "--yes", "--output", "json"])
        .await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let events: Vec<Value> = json_lines(&output).into_iter().map(redact).collect();
    insta::assert_json_snapshot!("apply_events_with_a_retry", events);

    let durations = regex::Regex::new(r"\d+(\.\d+)?(ms|s)\b").expect("regex");
    let run_ids = regex::Regex::new(r"\d{8}T\d{6}Z-[0-9a-f]{4}").expect("regex");
    let human = stderr(&output);
    let human = run_ids.replace_all(&human, "[run]");
    let human = durations.replace_all(&human, "[duration]");
    insta::assert_snapshot!("apply_human_summary_with_a_retry", human);
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn a_second_interrupt_abandons_the_waits_in_flight() {
    // Closes that take seconds, so both signals land while they are in flight.
    let seed = SEED.replace(
        "nodes: { count: 2, memory: 16gb }",
        "nodes: { count: 2, memory: 16gb }\nlatency: { profile: realistic, close_job: 3s, stop_datafeed: 50ms }",
    );
    let rig = Rig::new(&seed).await;
    let playbook = SHUTDOWN.replace("settings:\n", "settings:\n  concurrency: 2\n");
    let command = rig.command(&playbook, &["playbook.yaml", "--yes", "--output", "json"]);
    // The first interrupt once a close is in flight, the second once the first took effect.
    let close_started: Trigger =
        Box::new(|e| e["event"] == "step_started" && e["action"] == "close_job");
    let (code, events, err) =
        interrupt_on(command, vec![close_started, event("run_cancelling")]).await;
    assert_eq!(code, Some(130), "{err}");
    let abandoning = events
        .iter()
        .position(|e| e["event"] == "run_cancelling" && e["reason"] == "abandoned")
        .unwrap_or_else(|| panic!("{events:?}"));
    let ended = |name: &str| events.iter().filter(|e| e["event"] == name).count();
    let abandoned = ended("step_abandoned");
    assert!(abandoned > 0, "{events:?}");
    // A close that had not made its request yet when the first interrupt came ends interrupted.
    let interrupted = abandoned + ended("step_interrupted");
    // Abandoning is an outcome of its own: no failed attempt, no retry, no new request.
    assert!(
        !events[abandoning..]
            .iter()
            .any(|e| e["event"] == "step_attempt_failed"
                || e["event"] == "step_started"
                || e["event"] == "step_failed"),
        "{events:?}"
    );
    let last = events.last().expect("events");
    assert_eq!(last["event"], "run_finished");
    assert_eq!(last["stats"]["interrupted"], interrupted, "{events:?}");
    assert_eq!(last["stats"]["failed"], 0, "{last}");
    rig.assert_no_ordering_violation().await;
}

/// Decides, from one JSON event, that now is the time for the next interrupt.
#[cfg(unix)]
type Trigger = Box<dyn Fn(&Value) -> bool + Send>;

/// A trigger on the first event of this name.
#[cfg(unix)]
fn event(name: &'static str) -> Trigger {
    Box::new(move |e| e["event"] == name)
}

/// Runs `command` (JSON events on stdout) and sends SIGINT each time the next of `triggers`
/// matches an event; returns the exit code, every event and stderr.
#[cfg(unix)]
async fn interrupt_on(
    mut command: Command,
    triggers: Vec<Trigger>,
) -> (Option<i32>, Vec<Value>, String) {
    use std::io::{BufRead, BufReader, Read};
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().expect("spawns");
    tokio::task::spawn_blocking(move || {
        let pid = child.id().to_string();
        let stdout = child.stdout.take().expect("piped");
        let mut stderr = child.stderr.take().expect("piped");
        let err_reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let mut pending = triggers.into_iter();
        let mut next = pending.next();
        let mut events = Vec::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let event: Value = serde_json::from_str(&line).expect("a JSON event");
            if next.as_ref().is_some_and(|trigger| trigger(&event)) {
                let _ = Command::new("kill").args(["-INT", &pid]).status();
                next = pending.next();
            }
            events.push(event);
        }
        let status = child.wait().expect("waits");
        (status.code(), events, err_reader.join().unwrap_or_default())
    })
    .await
    .expect("joined")
}
