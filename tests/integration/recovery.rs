//! Verified recovery (issue 14, item 3): after the way up, `revert` (like `apply`) waits until
//! every opened job is assigned and every started real-time datafeed makes progress, and
//! `quiesce verify` does the same alone. A datafeed whose searches fail after the restart (the
//! simulator's `datafeed_progress` stall, docs/elasticsearch-ml-api.md §14.2) stays `started`
//! on its node: only its progress tells, and it is reported; a healthy one is not.

use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

use super::rig::{Rig, stderr};

/// Datafeeds that search every 200ms, 100ms behind now: a healthy one proves itself at once.
const SEED: &str = r"
cluster: { name: recovery, version: 8.15.0 }
nodes: { count: 2, memory: 16gb }
latency: { profile: fast }
jobs:
  - { id: web-latency, state: opened }
  - { id: pay-fraud, state: opened }
datafeeds:
  - { id: datafeed-web-latency, job: web-latency, state: started, frequency: 200ms, query_delay: 100ms }
  - { id: datafeed-pay-fraud, job: pay-fraud, state: started, frequency: 200ms, query_delay: 100ms }
";

const SHUTDOWN: &str = "version: 1
name: shutdown
jobs:
  - { match: '*', state: closed }
";

const RESTORE: &str = "version: 1
name: restore
jobs:
  - { id: web-latency, state: opened }
  - { id: pay-fraud, state: opened }
datafeeds:
  - { id: datafeed-web-latency, state: started }
  - { id: datafeed-pay-fraud, state: started }
";

async fn quiesce(rig: &Rig, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_quiesce"));
    command
        .current_dir(&rig.dir)
        .args(args)
        .args(["--cluster", &rig.sim.base_url(), "--color", "never"])
        .env_remove("QUIESCE_STATE_DIR")
        .stdin(Stdio::null());
    tokio::task::spawn_blocking(move || command.output().expect("runs"))
        .await
        .expect("joined")
}

/// The id of the only run the shutdown journalled.
fn shutdown_run(rig: &Rig) -> String {
    let mut ids: Vec<String> = std::fs::read_dir(rig.dir.join(".quiesce/runs"))
        .expect("a state directory")
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".jsonl").map(str::to_owned)
        })
        .collect();
    ids.sort();
    ids.into_iter().next().expect("the shutdown's journal")
}

/// Takes the cluster down, then stalls `stalled` (if any) before it comes back.
async fn down(stalled: Option<&str>) -> Rig {
    let rig = Rig::new(SEED).await;
    let output = rig.apply(SHUTDOWN, &["playbook.yaml", "--yes"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    if let Some(datafeed) = stalled {
        rig.faults(json!([{"operation": "datafeed_progress", "target": datafeed, "stall": true}]))
            .await;
    }
    rig
}

fn journal_events(rig: &Rig, event: &str) -> Vec<Value> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(rig.dir.join(".quiesce/runs"))
        .expect("runs")
        .flatten()
    {
        if entry.path().extension().is_some_and(|e| e == "jsonl") {
            let text = std::fs::read_to_string(entry.path()).expect("journal");
            found.extend(
                text.lines()
                    .map(|l| serde_json::from_str::<Value>(l).expect("JSON line"))
                    .filter(|l| l["event"] == event),
            );
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn a_healthy_recovery_is_verified_and_exits_0() {
    let rig = down(None).await;
    let run = shutdown_run(&rig);
    let output = quiesce(&rig, &["revert", &run, "--yes", "--verify-timeout", "2m"]).await;
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{err}");
    for target in [
        "job `web-latency` opened on node",
        "job `pay-fraud` opened on node",
        "datafeed `datafeed-web-latency` running in real time",
        "datafeed `datafeed-pay-fraud` running in real time",
    ] {
        assert!(err.contains(target), "`{target}` in:\n{err}");
    }
    assert!(!err.contains("not verified:"), "{err}");
    assert!(
        err.contains("recovery: 4 target(s) verified, 0 not verified"),
        "{err}"
    );
    let verified = journal_events(&rig, "target_verified");
    assert_eq!(verified.len(), 4, "{verified:?}");
    assert_eq!(journal_events(&rig, "verify_finished")[0]["unverified"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_datafeed_stalled_after_the_restart_is_reported_and_exits_8() {
    let rig = down(Some("datafeed-pay-fraud")).await;
    let run = shutdown_run(&rig);
    let output = quiesce(&rig, &["revert", &run, "--yes", "--verify-timeout", "10s"]).await;
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(8), "{err}");
    // The stalled one: started, on its node, running in real time, and no search since.
    let line = err
        .lines()
        .find(|l| l.contains("datafeed `datafeed-pay-fraud` not verified"))
        .unwrap_or_else(|| panic!("the stalled datafeed is reported:\n{err}"));
    assert!(line.contains("started and running on node `"), "{line}");
    assert!(
        line.contains("no successful search since it was started"),
        "{line}"
    );
    // The healthy one beside it is verified, not reported.
    assert!(
        err.contains("datafeed `datafeed-web-latency` running in real time"),
        "{err}"
    );
    assert!(
        !err.contains("datafeed `datafeed-web-latency` not verified"),
        "{err}"
    );
    assert!(
        err.contains("recovery: 3 target(s) verified, 1 not verified"),
        "{err}"
    );
    let unverified = journal_events(&rig, "target_unverified");
    assert_eq!(unverified.len(), 1, "{unverified:?}");
    assert_eq!(unverified[0]["target"], "datafeed-pay-fraud");
    assert_eq!(unverified[0]["finding"]["kind"], "no_progress");
    assert_eq!(unverified[0]["finding"]["observed"]["state"], "started");
    // `runs`, from the local journals and from the cluster's copy, tells this revert from one
    // whose recovery was proven.
    let local = Command::new(env!("CARGO_BIN_EXE_quiesce"))
        .current_dir(&rig.dir)
        .args(["runs", "--output", "json"])
        .env_remove("QUIESCE_STATE_DIR")
        .output()
        .expect("runs");
    let from_the_cluster = quiesce(&rig, &["runs", "--output", "json"]).await;
    for runs in [local, from_the_cluster] {
        let rows: Value = serde_json::from_slice(&runs.stdout).expect("runs JSON");
        let revert = rows
            .as_array()
            .and_then(|rows| rows.iter().find(|row| row["reverts"] == run.as_str()))
            .unwrap_or_else(|| panic!("the revert is listed: {rows}"));
        assert_eq!(revert["status"], "unverified", "{revert}");
        assert_eq!(revert["failed"], 0, "{revert}");
    }

    // `quiesce verify` alone says the same, read-only; it proves nothing from counters it saw
    // before it started watching.
    std::fs::write(rig.dir.join("restore.yaml"), RESTORE).expect("playbook");
    let verify = quiesce(&rig, &["verify", "restore.yaml", "--timeout", "10s"]).await;
    let err = stderr(&verify);
    assert_eq!(verify.status.code(), Some(8), "{err}");
    assert!(
        err.contains("datafeed `datafeed-pay-fraud` not verified"),
        "{err}"
    );
    assert!(
        !err.contains("datafeed `datafeed-web-latency` not verified"),
        "{err}"
    );

    // Once the searches work again, it proves itself.
    rig.faults(json!([])).await;
    let verify = quiesce(&rig, &["verify", "restore.yaml", "--timeout", "2m"]).await;
    assert_eq!(verify.status.code(), Some(0), "{}", stderr(&verify));
}

#[tokio::test(flavor = "multi_thread")]
async fn no_verify_skips_the_verification() {
    let rig = down(Some("datafeed-pay-fraud")).await;
    let run = shutdown_run(&rig);
    let output = quiesce(&rig, &["revert", &run, "--yes", "--no-verify"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!stderr(&output).contains("verifying the recovery"));
    assert!(journal_events(&rig, "verify_started").is_empty());
}
