//! The run journal, `resume`, `revert`, `runs` and the state lock, through the real binary
//! against an in-process simulator.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use super::rig::{Rig, stderr};

/// Realistic latencies, so that a run takes a while.
const SLOW_SEED: &str = r#"
cluster: { name: journal-test, version: 8.15.0 }
nodes: { count: 2, memory: 16gb }
latency: { profile: realistic, stop_datafeed: 120ms, close_job: 150ms, open_job: 150ms, start_datafeed: 100ms, persist_rate: 60mb }
jobs:
  - { id: web-latency, groups: [web, prod], model_bytes: 30mb, state: opened }
  - { id: web-errors, groups: [web, prod], model_bytes: 20mb, state: opened }
  - { id: pay-fraud, groups: [payments, prod], model_bytes: 50mb, state: opened }
  - { id: pay-declines, groups: [payments, prod], model_bytes: 10mb, state: opened }
  - { id: search-clicks, groups: [search, prod], model_bytes: 15mb, state: opened }
  - { id: batch-nightly, groups: [batch], state: closed }
datafeeds:
  - { id: datafeed-web-latency, job: web-latency, state: started }
  - { id: datafeed-web-errors, job: web-errors, state: started }
  - { id: datafeed-pay-fraud, job: pay-fraud, state: started }
  - { id: datafeed-pay-declines, job: pay-declines, state: stopped }
  - { id: datafeed-search-clicks, job: search-clicks, state: started }
  - { id: datafeed-batch-nightly, job: batch-nightly, state: stopped }
"#;

const SHUTDOWN: &str = "version: 1
name: shutdown
settings:
  concurrency: 2
  retry: { attempts: 4, initial_backoff: 10ms, max_backoff: 50ms }
jobs:
  - match: prod
    state: closed
upgrade_mode: enabled
";

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs the binary in the rig's directory against its simulator.
async fn quiesce(rig: &Rig, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_quiesce"));
    command
        .current_dir(&rig.dir)
        .args(args)
        .args(["--color", "never"])
        .stdin(Stdio::null());
    // `runs` only reads journals; the others talk to the cluster.
    if args.first() != Some(&"runs") {
        command.args(["--cluster", &rig.sim.base_url()]);
    }
    tokio::task::spawn_blocking(move || command.output().expect("runs"))
        .await
        .expect("joined")
}

fn journals(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir.join(".quiesce/runs"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    found.sort();
    found
}

fn run_id(journal: &Path) -> String {
    journal
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("a run id")
        .to_owned()
}

/// Job and datafeed states from `/_sim/stats`.
async fn states(rig: &Rig) -> (Value, Value, Value) {
    let stats = rig.stats().await;
    (
        stats["jobs"].clone(),
        stats["datafeeds"].clone(),
        stats["upgrade_mode"].clone(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_journals_its_before_state_first_and_every_transition() {
    let rig = Rig::new(SLOW_SEED).await;
    let output = rig.apply(SHUTDOWN, &["playbook.yaml", "--yes"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let journal = journals(&rig.dir).pop().expect("a journal");
    let text = std::fs::read_to_string(&journal).expect("readable");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines[0]["type"], "header");
    assert_eq!(lines[0]["version"], 3);
    for (index, line) in lines.iter().enumerate() {
        assert_eq!(line["seq"], index, "every line is numbered: {line}");
    }
    assert_eq!(lines[0]["before"]["jobs"]["web-latency"]["state"], "opened");
    assert_eq!(
        lines[0]["before"]["datafeeds"]["datafeed-web-latency"]["mode"],
        "real_time"
    );
    assert!(
        lines[0]["plan"]["playbook"]["digest"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:"))
    );
    let last = lines.last().expect("lines");
    assert_eq!(last["event"], "run_finished", "{last}");
    let succeeded = lines
        .iter()
        .filter(|l| l["event"] == "step_succeeded")
        .count();
    assert_eq!(succeeded, 10, "4 stops, 5 closes, upgrade mode");

    let runs = quiesce(&rig, &["runs", "--output", "json"]).await;
    let rows: Value = serde_json::from_str(&stdout(&runs)).expect("JSON");
    assert_eq!(rows[0]["outcome"], "succeeded", "{rows}");
    assert_eq!(rows[0]["upgrade_mode_left_on"], true, "{rows}");
}

/// Runs `command` with `--output json` and SIGKILLs it once `kill_after` step transitions
/// (successes, failures, skips) have been reported. The journal is written before the reporters
/// see an event, so at least that many transitions are on disk by then. Returns whether the
/// kill came before the run finished.
async fn kill_after_transitions(mut command: Command, kill_after: usize) -> bool {
    use std::io::{BufRead, BufReader};
    command
        .args(["--output", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = command.spawn().expect("spawns");
    tokio::task::spawn_blocking(move || {
        let stdout = child.stdout.take().expect("piped");
        let mut seen = 0;
        let mut killed = false;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let event: Value = serde_json::from_str(&line).expect("a JSON event");
            let transition = matches!(
                event["event"].as_str(),
                Some("step_succeeded" | "step_failed" | "step_skipped")
            );
            if event["event"] == "run_started" || transition {
                if transition {
                    seen += 1;
                }
                if seen == kill_after && event["event"] != "run_finished" {
                    let _ = child.kill(); // SIGKILL
                    killed = true;
                    break;
                }
            }
        }
        let _ = child.wait();
        killed
    })
    .await
    .expect("joined")
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_at_any_step_a_run_resumes_to_completion_and_reverts_exactly() {
    // The run has 10 steps: 4 stops, 5 closes, upgrade mode. Kill it right after it started,
    // after the first transition, in the middle, and with only upgrade mode left.
    for kill_after in [0, 1, 5, 9] {
        let context = format!("killed after {kill_after} step transition(s)");
        let rig = Rig::new(SLOW_SEED).await;
        let before = states(&rig).await;
        // The last step cannot finish before the kill: upgrade mode answers after a minute.
        rig.faults(serde_json::json!([
            { "operation": "set_upgrade_mode", "delay": "60s" }
        ]))
        .await;

        let command = rig.command(SHUTDOWN, &["playbook.yaml", "--yes"]);
        assert!(
            kill_after_transitions(command, kill_after).await,
            "{context}: the run ended before the kill"
        );
        let journal = journals(&rig.dir).pop().expect("a journal");
        let id = run_id(&journal);
        let runs = quiesce(&rig, &["runs", "--output", "json"]).await;
        let rows: Value = serde_json::from_str(&stdout(&runs)).expect("JSON");
        assert_eq!(
            rows[0]["outcome"], "incomplete (resume it)",
            "{context}: {rows}"
        );
        rig.faults(serde_json::json!([])).await;

        let resumed = quiesce(&rig, &["resume", &id, "--yes"]).await;
        assert_eq!(
            resumed.status.code(),
            Some(0),
            "{context}: {}",
            stderr(&resumed)
        );
        let (jobs, feeds, upgrade) = states(&rig).await;
        for job in [
            "web-latency",
            "web-errors",
            "pay-fraud",
            "pay-declines",
            "search-clicks",
        ] {
            assert_eq!(jobs[job], "closed", "{context}: {jobs}");
        }
        for feed in [
            "datafeed-web-latency",
            "datafeed-web-errors",
            "datafeed-pay-fraud",
            "datafeed-search-clicks",
        ] {
            assert_eq!(feeds[feed], "stopped", "{context}: {feeds}");
        }
        assert_eq!(upgrade, true, "{context}");
        rig.assert_no_ordering_violation().await;

        // The before-state in the journal is still the one from before the first change.
        let header: Value = serde_json::from_str(
            std::fs::read_to_string(&journal)
                .expect("journal")
                .lines()
                .next()
                .expect("header"),
        )
        .expect("JSON");
        for (job, state) in before.0.as_object().expect("jobs") {
            assert_eq!(&header["before"]["jobs"][job]["state"], state, "{context}");
        }

        let reverted = quiesce(&rig, &["revert", &id, "--yes"]).await;
        assert_eq!(
            reverted.status.code(),
            Some(0),
            "{context}: {}",
            stderr(&reverted)
        );
        assert_eq!(
            states(&rig).await,
            before,
            "{context}: job by job, as before"
        );
        rig.assert_no_ordering_violation().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_torn_last_line_is_reported_not_fatal() {
    let rig = Rig::new(SLOW_SEED).await;
    // One stop fails once, so the run ends with work left for `resume`.
    rig.faults(serde_json::json!([
        { "operation": "stop_datafeed", "target": "datafeed-pay-fraud", "times": 1,
          "error": { "status": 400, "type": "illegal_argument_exception", "reason": "once" } }
    ]))
    .await;
    let output = rig.apply(SHUTDOWN, &["playbook.yaml", "--yes"]).await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let journal = journals(&rig.dir).pop().expect("journal");
    let mut text = std::fs::read_to_string(&journal).expect("journal");
    text.push_str(r#"{"type":"event","event":"step_succ"#);
    std::fs::write(&journal, text).expect("torn");
    let id = run_id(&journal);

    let runs = quiesce(&rig, &["runs"]).await;
    assert_eq!(runs.status.code(), Some(0), "{}", stderr(&runs));
    assert!(stdout(&runs).contains(&id));
    assert!(stdout(&runs).contains("torn"), "{}", stdout(&runs));
    let printed = quiesce(&rig, &["revert", &id, "--print"]).await;
    assert_eq!(printed.status.code(), Some(0), "{}", stderr(&printed));
    assert!(
        stdout(&printed).contains("pay-fraud"),
        "{}",
        stdout(&printed)
    );
    let resumed = quiesce(&rig, &["resume", &id, "--yes"]).await;
    assert_eq!(resumed.status.code(), Some(0), "{}", stderr(&resumed));
    assert!(
        stderr(&resumed).contains("cut short"),
        "{}",
        stderr(&resumed)
    );
    // The resume ended the torn line; the journal reads cleanly with both segments.
    let runs = quiesce(&rig, &["runs", "--output", "json"]).await;
    let rows: Value = serde_json::from_str(&stdout(&runs)).expect("JSON");
    assert_eq!(rows[0]["resumed"], 1, "{rows}");
    assert_eq!(rows[0]["outcome"], "succeeded", "{rows}");
    assert_eq!(rig.stats().await["jobs"]["pay-fraud"], "closed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_run_on_the_same_state_directory_exits_3_naming_the_holder() {
    use std::io::{BufRead, BufReader};
    let rig = Rig::new(SLOW_SEED).await;
    // The first run holds the lock until it is killed: its closes do not answer for a minute.
    rig.faults(serde_json::json!([{ "operation": "close_job", "delay": "60s" }]))
        .await;
    let mut first = rig.command(SHUTDOWN, &["playbook.yaml", "--yes", "--output", "json"]);
    first.stdout(Stdio::piped()).stderr(Stdio::null());
    let mut child = first.spawn().expect("spawns");
    // The journal, and so the lock, exist once the run has started.
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let started = tokio::task::spawn_blocking(move || {
        lines
            .by_ref()
            .map_while(Result::ok)
            .any(|line| line.contains(r#""event":"run_started""#))
    })
    .await
    .expect("joined");
    assert!(started, "the first run started");

    let second = quiesce(&rig, &["apply", "playbook.yaml", "--yes"]).await;
    let _ = child.kill();
    let _ = tokio::task::spawn_blocking(move || child.wait()).await;
    assert_eq!(second.status.code(), Some(3), "{}", stderr(&second));
    let err = stderr(&second);
    assert!(
        err.contains("another run holds the state directory"),
        "{err}"
    );
    assert!(err.contains("pid"), "{err}");
    rig.assert_no_ordering_violation().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn revert_disables_the_upgrade_mode_a_run_left_on() {
    let rig = Rig::new(SLOW_SEED).await;
    let output = rig.apply(SHUTDOWN, &["playbook.yaml", "--yes"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let id = run_id(&journals(&rig.dir).pop().expect("journal"));
    let runs = quiesce(&rig, &["runs"]).await;
    assert!(
        stdout(&runs).contains("enabled upgrade mode"),
        "{}",
        stdout(&runs)
    );
    let reverted = quiesce(&rig, &["revert", &id, "--yes"]).await;
    assert_eq!(reverted.status.code(), Some(0), "{}", stderr(&reverted));
    assert_eq!(rig.stats().await["upgrade_mode"], false);
    let runs = quiesce(&rig, &["runs"]).await;
    assert!(
        !stdout(&runs).contains("enabled upgrade mode"),
        "{}",
        stdout(&runs)
    );
}

/// `runs` over the journals of `tests/fixtures/journals` whose names start with `prefix`,
/// copied into a fresh state directory.
fn runs_over_fixtures(prefix: &str) -> Value {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/journals");
    let scratch = tempfile::tempdir().expect("temp dir");
    let state_dir = scratch.path();
    std::fs::create_dir_all(state_dir.join("runs")).expect("state dir");
    for entry in std::fs::read_dir(&fixtures).expect("fixtures").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(prefix) && name.ends_with(".jsonl") {
            // `runs` sorts by file name, which starts with the run id in real state directories.
            let text = std::fs::read_to_string(entry.path()).expect("fixture");
            let header: Value =
                serde_json::from_str(text.lines().next().expect("header")).expect("JSON");
            let id = header["run_id"].as_str().expect("run id");
            std::fs::write(state_dir.join("runs").join(format!("{id}.jsonl")), text).expect("copy");
        }
    }
    let output = Command::new(env!("CARGO_BIN_EXE_quiesce"))
        .args(["runs", "--output", "json", "--state-dir"])
        .arg(state_dir)
        .env_remove("QUIESCE_STATE_DIR")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stderr(&output).is_empty(), "{}", stderr(&output));
    serde_json::from_str(&stdout(&output)).expect("JSON")
}

#[test]
fn journals_written_by_format_1_keep_reading() {
    let rows = runs_over_fixtures("v1-");
    let row = |id: &str| {
        rows.as_array()
            .expect("rows")
            .iter()
            .find(|r| r["run_id"] == id)
            .unwrap_or_else(|| panic!("{id} in {rows}"))
            .clone()
    };
    let demo = row("20261130T134311Z-1c9c");
    assert_eq!(demo["outcome"], "succeeded", "{demo}");
    assert_eq!(demo["changed"], 42, "{demo}");
    assert_eq!(demo["upgrade_mode_left_on"], true, "{demo}");

    let resumed = row("20261130T134322Z-56f0");
    assert_eq!(resumed["outcome"], "succeeded", "{resumed}");
    assert_eq!(resumed["resumed"], 1, "{resumed}");
    assert_eq!(
        resumed["changed"], 8,
        "5 before the resume, 3 by it: {resumed}"
    );
    assert_eq!(resumed["failed"], 0, "{resumed}");
    // It left upgrade mode on, but the next run on the same cluster (the same UUID: the
    // simulator derives it from the cluster's name) found it off when it began.
    assert_eq!(resumed["upgrade_mode_left_on"], false, "{resumed}");

    let interrupted = row("20261130T134329Z-c3b6");
    assert_eq!(
        interrupted["outcome"], "interrupted (resume it)",
        "{interrupted}"
    );
    assert_eq!(interrupted["changed"], 3, "{interrupted}");
    assert_eq!(interrupted["skipped"], 4, "{interrupted}");
    assert_eq!(interrupted["upgrade_mode_left_on"], false, "{interrupted}");
}

#[test]
fn journals_written_by_format_2_read_with_their_interruptions() {
    let rows = runs_over_fixtures("v2-");
    let row = |id: &str| {
        rows.as_array()
            .expect("rows")
            .iter()
            .find(|r| r["run_id"] == id)
            .unwrap_or_else(|| panic!("{id} in {rows}"))
            .clone()
    };
    let resumed = row("20261130T141934Z-3079");
    assert_eq!(resumed["outcome"], "succeeded", "{resumed}");
    assert_eq!(resumed["changed"], 8, "{resumed}");

    let twice = row("20261130T141937Z-638c");
    assert_eq!(twice["outcome"], "interrupted (resume it)", "{twice}");
    assert_eq!(twice["failed"], 0, "abandoned is not failed: {twice}");

    let back_off = row("20261130T141938Z-d149");
    assert_eq!(back_off["outcome"], "succeeded", "{back_off}");
    assert_eq!(back_off["resumed"], 1, "{back_off}");
    assert_eq!(back_off["changed"], 8, "{back_off}");
    assert_eq!(back_off["upgrade_mode_left_on"], true, "{back_off}");
}

/// The cluster the fixture journals were written against.
const FIXTURE_SEED: &str = r#"
cluster: { name: fixture, version: 8.15.0 }
nodes: { count: 2, memory: 16gb }
latency: { profile: fast }
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

#[tokio::test(flavor = "multi_thread")]
async fn a_run_begun_by_format_1_is_resumed_and_reverted_by_format_3() {
    let rig = Rig::new(FIXTURE_SEED).await;
    let before = states(&rig).await;
    let id = "20261130T134329Z-c3b6";
    let runs = rig.dir.join(".quiesce/runs");
    std::fs::create_dir_all(&runs).expect("state dir");
    let journal = runs.join(format!("{id}.jsonl"));
    std::fs::copy(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/journals/v1-interrupted-twice.jsonl"),
        &journal,
    )
    .expect("fixture");

    let resumed = quiesce(&rig, &["resume", id, "--yes"]).await;
    assert_eq!(resumed.status.code(), Some(0), "{}", stderr(&resumed));
    let (jobs, _, upgrade) = states(&rig).await;
    for job in ["web-latency", "web-errors", "pay-fraud", "pay-declines"] {
        assert_eq!(jobs[job], "closed", "{jobs}");
    }
    assert_eq!(upgrade, true);
    let text = std::fs::read_to_string(&journal).expect("journal");
    let resumed_line: Value = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("JSON"))
        .find(|l| l["type"] == "resumed")
        .expect("a resumed line");
    assert_eq!(
        resumed_line["version"], 3,
        "the lines after it are format 3"
    );

    let listed = quiesce(&rig, &["runs", "--output", "json"]).await;
    let rows: Value = serde_json::from_str(&stdout(&listed)).expect("JSON");
    assert_eq!(rows[0]["outcome"], "succeeded", "{rows}");
    assert_eq!(rows[0]["resumed"], 1, "{rows}");
    assert_eq!(rows[0]["upgrade_mode_left_on"], true, "{rows}");

    let reverted = quiesce(&rig, &["revert", id, "--yes"]).await;
    assert_eq!(reverted.status.code(), Some(0), "{}", stderr(&reverted));
    assert_eq!(
        states(&rig).await,
        before,
        "as the format 1 header says it was"
    );
    rig.assert_no_ordering_violation().await;
}

/// A run killed after it scheduled its maintenance event and resumed posts no second event (the
/// event carries the run's id, and the resumed step finds it), and its revert removes the
/// calendar the run created, with the event.
#[tokio::test(flavor = "multi_thread")]
async fn a_resumed_run_schedules_its_maintenance_once() {
    // Datafeeds that search often and close behind now: the revert removes the event once they
    // analysed past it, seconds rather than the minutes of the default query delay.
    let seed = SLOW_SEED.replace(
        "state: started }",
        "state: started, frequency: 200ms, query_delay: 100ms }",
    );
    let rig = Rig::new(&seed).await;
    rig.faults(serde_json::json!([
        { "operation": "set_upgrade_mode", "delay": "60s" }
    ]))
    .await;
    let shutdown = format!(
        "{SHUTDOWN}maintenance:\n  calendar: upgrade-window\n  description: rolling upgrade\n  duration: 3h\n"
    );
    let command = rig.command(&shutdown, &["playbook.yaml", "--yes"]);
    assert!(
        kill_after_transitions(command, 1).await,
        "the run ended before the kill"
    );
    let events = |rig: &Rig| {
        let url = format!("{}/_ml/calendars/upgrade-window/events", rig.sim.base_url());
        let http = rig.http.clone();
        async move {
            let answer: Value = http
                .get(url)
                .send()
                .await
                .expect("answers")
                .json()
                .await
                .expect("JSON");
            answer["count"].as_u64()
        }
    };
    assert_eq!(
        events(&rig).await,
        Some(1),
        "the first transition is the event"
    );
    rig.faults(serde_json::json!([])).await;

    let journal = journals(&rig.dir).pop().expect("a journal");
    let id = run_id(&journal);
    let resumed = quiesce(&rig, &["resume", &id, "--yes"]).await;
    assert_eq!(resumed.status.code(), Some(0), "{}", stderr(&resumed));
    assert!(
        stderr(&resumed)
            .contains("schedule maintenance on calendar upgrade-window already in state"),
        "{}",
        stderr(&resumed)
    );
    assert_eq!(events(&rig).await, Some(1), "no second event");

    let reverted = quiesce(&rig, &["revert", &id, "--yes"]).await;
    assert_eq!(reverted.status.code(), Some(0), "{}", stderr(&reverted));
    let gone = rig.sim.get("/_ml/calendars/upgrade-window").await;
    assert_eq!(gone.status, 404, "the calendar the run created is gone");
}
