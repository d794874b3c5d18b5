//! The maintenance calendar (issue 14, item 4): a playbook's `maintenance:` makes the shutdown
//! put the jobs it closes on a calendar with a scheduled event covering the window, before any
//! of them is closed; `revert` removes exactly what the run added (its event, the jobs it
//! added, the calendar if it created it) and nothing else (docs/elasticsearch-ml-api.md §13),
//! and removes the event only once the datafeeds it started have analysed past the window
//! (their lookback covers it; §14.1): a stalled datafeed (§14.3) holds the removal back until
//! the step's deadline, and the event stays for `quiesce resume` to remove.

use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

use super::rig::{Rig, stderr};

const SEED: &str = r"
cluster: { name: maintenance, version: 8.15.0 }
nodes: { count: 2, memory: 16gb }
latency: { profile: fast }
jobs:
  - { id: web-latency, state: opened }
  - { id: pay-fraud, state: opened }
  - { id: batch-nightly, state: closed }
datafeeds:
  - { id: datafeed-web-latency, job: web-latency, state: started, frequency: 200ms, query_delay: 100ms }
  - { id: datafeed-pay-fraud, job: pay-fraud, state: started, frequency: 200ms, query_delay: 100ms }
";

/// The same cluster with a calendar the operators keep themselves: a job of theirs and a
/// holiday on it.
fn seed_with_calendar() -> String {
    format!(
        "{SEED}calendars:\n  - id: ops-calendar\n    job_ids: [batch-nightly, web-latency]\n    description: kept by the operators\n    events:\n      - {{ description: new year, start_time: 2026-12-31T00:00:00Z, end_time: 2027-01-01T00:00:00Z }}\n"
    )
}

fn shutdown(calendar: &str) -> String {
    format!(
        "version: 1
name: shutdown
jobs:
  - {{ match: '*', state: closed }}
maintenance:
  calendar: {calendar}
  description: upgrade to 8.16
  duration: 2h
"
    )
}

/// [`shutdown`] with a short step timeout, which the revert made of its journal keeps.
fn shutdown_with_timeout(calendar: &str, step_timeout: &str) -> String {
    format!(
        "{}settings: {{ step_timeout: {step_timeout} }}\n",
        shutdown(calendar)
    )
}

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

fn only_run(rig: &Rig) -> String {
    let ids: Vec<String> = std::fs::read_dir(rig.dir.join(".quiesce/runs"))
        .expect("a state directory")
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".jsonl").map(str::to_owned)
        })
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    ids[0].clone()
}

fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after the epoch")
            .as_millis(),
    )
    .expect("fits")
}

fn sorted(value: &Value) -> Vec<String> {
    let mut ids: Vec<String> = value
        .as_array()
        .expect("an array")
        .iter()
        .map(|v| v.as_str().expect("a string").to_owned())
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread")]
async fn the_event_covers_the_window_and_revert_removes_the_calendar_it_created() {
    let rig = Rig::new(SEED).await;
    let output = rig
        .apply(
            &shutdown("quiesce-maintenance"),
            &["playbook.yaml", "--yes"],
        )
        .await;
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{err}");
    assert!(
        err.contains("schedule maintenance on calendar quiesce-maintenance"),
        "{err}"
    );

    // During the window: the calendar names the jobs the run closed (not the one that was
    // already closed), and one event covers now.
    let calendar = rig.get("/_ml/calendars/quiesce-maintenance").await;
    assert_eq!(
        sorted(&calendar["calendars"][0]["job_ids"]),
        ["pay-fraud", "web-latency"],
        "{calendar}"
    );
    let events = rig.get("/_ml/calendars/quiesce-maintenance/events").await;
    assert_eq!(events["count"], 1, "{events}");
    let event = &events["events"][0];
    let now = now_ms();
    assert!(event["start_time"].as_i64().expect("ms") <= now, "{event}");
    assert!(event["end_time"].as_i64().expect("ms") > now, "{event}");
    let run = only_run(&rig);
    let description = event["description"].as_str().expect("text");
    assert!(description.starts_with("upgrade to 8.16 "), "{description}");
    assert!(description.contains(&run), "{description}");
    // The event was there before the first job was closed.
    let journal = std::fs::read_to_string(rig.dir.join(format!(".quiesce/runs/{run}.jsonl")))
        .expect("journal");
    let position = |action: &str| {
        journal
            .lines()
            .position(|l| l.contains("\"step_succeeded\"") && l.contains(action))
            .unwrap_or_else(|| panic!("{action} succeeded"))
    };
    let first_close = journal
        .lines()
        .position(|l| l.contains("\"step_started\"") && l.contains("close_job"))
        .expect("a close");
    assert!(position("schedule_maintenance") < first_close);

    let revert = quiesce(&rig, &["revert", &run, "--yes"]).await;
    assert_eq!(revert.status.code(), Some(0), "{}", stderr(&revert));
    let gone = rig.sim.get("/_ml/calendars/quiesce-maintenance").await;
    assert_eq!(gone.status, 404, "the calendar the run created is deleted");

    // A second revert of the same run finds nothing left to remove.
    let again = quiesce(&rig, &["revert", &run, "--print"]).await;
    assert!(String::from_utf8_lossy(&again.stdout).contains("undo:"));
}

#[tokio::test(flavor = "multi_thread")]
async fn revert_leaves_what_the_run_did_not_add_on_a_calendar_it_found() {
    let rig = Rig::new(&seed_with_calendar()).await;
    let output = rig
        .apply(&shutdown("ops-calendar"), &["playbook.yaml", "--yes"])
        .await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let calendar = rig.get("/_ml/calendars/ops-calendar").await;
    assert_eq!(
        sorted(&calendar["calendars"][0]["job_ids"]),
        ["batch-nightly", "pay-fraud", "web-latency"],
        "{calendar}"
    );
    assert_eq!(
        rig.get("/_ml/calendars/ops-calendar/events").await["count"],
        2
    );

    let run = only_run(&rig);
    let print = quiesce(&rig, &["revert", &run, "--print"]).await;
    let playbook = String::from_utf8_lossy(&print.stdout).into_owned();
    assert!(playbook.contains("    jobs: [pay-fraud]"), "{playbook}");
    assert!(playbook.contains("    calendar: false"), "{playbook}");

    let revert = quiesce(&rig, &["revert", &run, "--yes"]).await;
    assert_eq!(revert.status.code(), Some(0), "{}", stderr(&revert));
    // Back as the operators left it: their jobs (web-latency was on it already) and their
    // holiday; the run's event and the job it added are gone.
    let calendar = rig.get("/_ml/calendars/ops-calendar").await;
    assert_eq!(
        sorted(&calendar["calendars"][0]["job_ids"]),
        ["batch-nightly", "web-latency"],
        "{calendar}"
    );
    let events = rig.get("/_ml/calendars/ops-calendar/events").await;
    assert_eq!(events["count"], 1, "{events}");
    assert_eq!(events["events"][0]["description"], "new year");
}

fn runs(rig: &Rig) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(rig.dir.join(".quiesce/runs"))
        .expect("a state directory")
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".jsonl").map(str::to_owned)
        })
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread")]
async fn the_event_stays_until_the_started_datafeeds_have_caught_up() {
    let rig = Rig::new(SEED).await;
    let output = rig
        .apply(
            &shutdown_with_timeout("quiesce-maintenance", "8s"),
            &["playbook.yaml", "--yes"],
        )
        .await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let run = only_run(&rig);
    // Once started again, this datafeed's searches fail: its lookback over the window never
    // analyses it (docs/elasticsearch-ml-api.md §14.2, §14.3).
    rig.faults(json!([{"operation": "datafeed_progress", "target": "datafeed-web-latency", "stall": true}]))
        .await;

    let revert = quiesce(&rig, &["revert", &run, "--yes", "--no-verify"]).await;
    let err = stderr(&revert);
    assert_eq!(revert.status.code(), Some(1), "{err}");
    assert!(
        err.contains("remove maintenance")
            && err.contains("datafeed `datafeed-web-latency` has not analysed up to"),
        "{err}"
    );
    assert!(err.contains("after the step timeout (8s)"), "{err}");
    assert!(
        err.contains("`quiesce resume` of this run removes it"),
        "{err}"
    );
    // Both jobs and datafeeds are back; the event is still on the calendar.
    let feeds = rig.get("/_ml/datafeeds/_stats").await;
    for feed in feeds["datafeeds"].as_array().expect("datafeeds") {
        assert_eq!(feed["state"], "started", "{feed}");
    }
    let events = rig.get("/_ml/calendars/quiesce-maintenance/events").await;
    assert_eq!(events["count"], 1, "{events}");
    assert!(
        events["events"][0]["description"]
            .as_str()
            .expect("text")
            .contains(&run),
        "{events}"
    );
    let revert_run = runs(&rig)
        .into_iter()
        .find(|id| *id != run)
        .expect("the revert's journal");
    let journal =
        std::fs::read_to_string(rig.dir.join(format!(".quiesce/runs/{revert_run}.jsonl")))
            .expect("journal");
    // The removal said what it waited for (the healthy datafeed may have held it back
    // first, for the moment of its first real-time search).
    let held = journal
        .lines()
        .rev()
        .map(|l| serde_json::from_str::<Value>(l).expect("JSON line"))
        .find(|l| l["event"] == "step_held")
        .expect("a step_held event");
    assert_eq!(held["action"], "remove_maintenance", "{held}");
    assert_eq!(held["held"]["datafeed"], "datafeed-web-latency", "{held}");
    assert_eq!(held["held"]["behind"]["kind"], "no_search", "{held}");
    assert!(
        journal.lines().any(|l| l.contains("\"still_catching_up\"")),
        "{journal}"
    );

    // The stall lifted, the next search covers the whole gap: resuming the revert removes
    // what the run added, the calendar it created included.
    rig.faults(json!([])).await;
    let resume = quiesce(&rig, &["resume", &revert_run, "--yes", "--no-verify"]).await;
    let resumed = stderr(&resume);
    assert_eq!(resume.status.code(), Some(0), "{resumed}");
    let gone = rig.sim.get("/_ml/calendars/quiesce-maintenance").await;
    assert_eq!(gone.status, 404, "the calendar the run created is deleted");
    // When it was removed, every datafeed the revert started had searched past the time the
    // removal began to wait.
    let stats = rig.get("/_ml/datafeeds/_stats").await;
    for feed in stats["datafeeds"].as_array().expect("datafeeds") {
        assert_eq!(feed["running_state"]["real_time_running"], true, "{feed}");
        assert!(
            feed["running_state"]["search_interval"]["end_ms"].is_i64(),
            "{feed}\n{resumed}\n{}",
            std::fs::read_to_string(rig.dir.join(format!(".quiesce/runs/{revert_run}.jsonl")))
                .unwrap_or_default()
        );
    }
}
