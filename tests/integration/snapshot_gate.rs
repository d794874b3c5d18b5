//! Issue 14, items 1 and 2, end to end against the simulator: the snapshot gate of a major
//! upgrade (docs/elasticsearch-ml-api.md §12.1–§12.3) lists exactly the jobs whose snapshots
//! the target version cannot open and `apply` carries out the remedy before the shutdown; a
//! way up that cannot fit in the ML nodes' memory (§12.4, §12.5) is refused before any call.

use std::collections::BTreeSet;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use super::rig::{Rig, answered, stderr};

/// 8.15 today, 9.0.0 next: 9.x opens snapshots from 8.3.0 on (§12.1). `closed-old` and
/// `opened-old` have a current snapshot written by 7.17; `history` has an older 7.10 snapshot
/// beside a current 8.15 one; `fresh` has only 8.x snapshots; `untargeted` is old too but not
/// in the playbook.
const SEED: &str = r"
cluster: { name: gate-test, version: 8.15.0 }
nodes: { count: 1, memory: 16gb }
jobs:
  - id: closed-old
    groups: [prod]
    state: closed
    snapshots:
      - {id: '1650000000', timestamp: '2022-04-15T05:20:00Z', min_version: 7.17.0}
  - id: opened-old
    groups: [prod]
    state: opened
    snapshots:
      - {id: '1650000001', timestamp: '2022-04-15T05:20:01Z', min_version: 7.17.0}
  - id: history
    groups: [prod]
    state: closed
    snapshots:
      - {id: '1600000000', timestamp: '2020-09-13T12:26:40Z', min_version: 7.10.0}
      - {id: '1700000000', timestamp: '2023-11-14T22:13:20Z', min_version: 8.15.0}
  - id: fresh
    groups: [prod]
    state: opened
    snapshots:
      - {id: '1700000001', timestamp: '2023-11-14T22:13:21Z', min_version: 8.3.0}
  - id: untargeted
    state: closed
    snapshots:
      - {id: '1650000002', timestamp: '2022-04-15T05:20:02Z', min_version: 7.17.0}
datafeeds:
  - { id: datafeed-opened-old, job: opened-old, state: started }
  - { id: datafeed-fresh, job: fresh, state: started }
";

const SHUTDOWN: &str = "version: 1
name: pre-upgrade
settings:
  retry: { attempts: 3, initial_backoff: 10ms, max_backoff: 50ms }
jobs:
  - match: prod
    state: closed
upgrade_mode: enabled
upgrade:
  target_version: 9.0.0
  old_snapshots: upgrade
";

/// Runs `quiesce <args>` in the rig's directory, with `playbook` as `playbook.yaml`, against
/// its simulator.
async fn quiesce(rig: &Rig, playbook: &str, args: &[&str]) -> Output {
    std::fs::write(rig.dir.join("playbook.yaml"), playbook).expect("playbook");
    let mut command = Command::new(env!("CARGO_BIN_EXE_quiesce"));
    command
        .current_dir(&rig.dir)
        .args(args)
        .args(["--cluster", &rig.sim.base_url(), "--color", "never"])
        .env_remove("ES_API_KEY")
        .env_remove("ES_USERNAME")
        .env_remove("ES_PASSWORD")
        .env_remove("ES_BEARER_TOKEN")
        .env_remove("QUIESCE_STATE_DIR")
        .stdin(Stdio::null());
    tokio::task::spawn_blocking(move || command.output().expect("the binary runs"))
        .await
        .expect("joined")
}

fn plan_json(output: &Output) -> Value {
    assert_eq!(output.status.code(), Some(0), "{}", stderr(output));
    serde_json::from_slice(&output.stdout).expect("the plan as JSON")
}

/// `(job, snapshot, remedy)` of every finding.
fn findings(plan: &Value) -> BTreeSet<(String, String, String)> {
    plan["snapshot_gate"]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["job"].as_str().expect("job").to_owned(),
                f["snapshot"].as_str().expect("snapshot").to_owned(),
                f["remedy"].as_str().expect("remedy").to_owned(),
            )
        })
        .collect()
}

/// Every snapshot of `job` opens on 9.x: its `min_version` is 8.3.0 or later.
async fn opens_on_nine(rig: &Rig, job: &str) -> bool {
    let listed = rig
        .get(&format!("/_ml/anomaly_detectors/{job}/model_snapshots"))
        .await;
    let snapshots = listed["model_snapshots"].as_array().expect("snapshots");
    !snapshots.is_empty()
        && snapshots.iter().all(|s| {
            let version = s["min_version"].as_str().unwrap_or_default();
            let parts: Vec<u32> = version.split('.').filter_map(|p| p.parse().ok()).collect();
            parts >= vec![8, 3, 0]
        })
}

fn step<'a>(plan: &'a Value, action: &str, target: &str) -> &'a Value {
    plan["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["action"] == action && s["target"] == target)
        .unwrap_or_else(|| panic!("no `{action} {target}` in {plan:#}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_major_upgrade_lists_exactly_the_jobs_with_old_snapshots_and_applies_the_remedy() {
    let rig = Rig::fast(SEED).await;

    let planned = quiesce(
        &rig,
        SHUTDOWN,
        &["plan", "playbook.yaml", "--format", "json"],
    )
    .await;
    let plan = plan_json(&planned);
    assert_eq!(plan["snapshot_gate"]["target_version"], "9.0.0");
    assert_eq!(plan["snapshot_gate"]["oldest_openable"], "8.3.0");
    assert_eq!(plan["snapshot_gate"]["jobs_checked"], 4, "{plan:#}");
    let expected: BTreeSet<(String, String, String)> = [
        ("closed-old", "1650000000", "refresh"),
        ("history", "1600000000", "upgrade"),
        ("opened-old", "1650000001", "refreshed_by_close"),
    ]
    .into_iter()
    .map(|(j, s, r)| (j.to_owned(), s.to_owned(), r.to_owned()))
    .collect();
    assert_eq!(findings(&plan), expected, "{plan:#}");

    // The remedy is in the DAG, before the shutdown: the refresh opens then closes, the
    // upgrade waits for nothing but comes before upgrade mode; all before upgrade mode.
    let open = step(&plan, "refresh_open_job", "closed-old");
    let close = step(&plan, "refresh_close_job", "closed-old");
    assert_eq!(close["dependencies"], serde_json::json!([open["id"]]));
    let upgrade = step(&plan, "upgrade_snapshot", "history/1600000000");
    let enable = step(&plan, "enable_upgrade_mode", "_ml");
    for gate_step in [open, close, upgrade] {
        assert!(
            enable["dependencies"]
                .as_array()
                .expect("dependencies")
                .contains(&gate_step["id"]),
            "{plan:#}"
        );
    }
    assert_eq!(plan["settings"]["upgrade"]["target_version"], "9.0.0");

    // The text form says the same, job by job.
    let text = quiesce(&rig, SHUTDOWN, &["plan", "playbook.yaml"]).await;
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    assert!(
        text.contains(
            "3 job(s) with snapshots 9.0.0 cannot open: `closed-old`, `history`, `opened-old`"
        ),
        "{text}"
    );
    for job in ["fresh", "untargeted"] {
        assert!(!text.contains(&format!("  job `{job}` ")), "{text}");
    }

    let applied = rig.apply(SHUTDOWN, &["playbook.yaml", "--yes"]).await;
    assert_eq!(applied.status.code(), Some(0), "{}", stderr(&applied));
    for job in ["closed-old", "opened-old", "history", "fresh"] {
        assert!(
            opens_on_nine(&rig, job).await,
            "`{job}` still has a snapshot 9.x cannot open"
        );
    }
    assert!(
        !opens_on_nine(&rig, "untargeted").await,
        "a job the playbook does not name is left alone"
    );
    let stats = rig.stats().await;
    assert_eq!(stats["upgrade_mode"], true);
    assert_eq!(
        stats["jobs"]["closed-old"], "closed",
        "refreshed and closed again"
    );
    rig.assert_no_ordering_violation().await;

    // Planned again with the flag instead of the section: nothing is left to fix.
    let again = quiesce(
        &rig,
        "version: 1\njobs:\n  - match: prod\n    state: closed\n",
        &[
            "plan",
            "playbook.yaml",
            "--format",
            "json",
            "--target-version",
            "9.0.0",
        ],
    )
    .await;
    let again = plan_json(&again);
    assert!(findings(&again).is_empty(), "{again:#}");
    assert_eq!(again["snapshot_gate"]["jobs_checked"], 4);
}

/// With `old_snapshots` left at `keep`, an older snapshot is listed with a warning and no
/// step; nothing is ever deleted unless the playbook says `delete`.
#[tokio::test(flavor = "multi_thread")]
async fn old_snapshots_are_kept_unless_the_playbook_says_otherwise() {
    let rig = Rig::fast(SEED).await;
    let keep = "version: 1\njobs:\n  - id: history\n    state: closed\n";
    let planned = quiesce(
        &rig,
        keep,
        &[
            "plan",
            "playbook.yaml",
            "--format",
            "json",
            "--target-version",
            "9.0.0",
        ],
    )
    .await;
    let plan = plan_json(&planned);
    let kept: BTreeSet<(String, String, String)> = [(
        "history".to_owned(),
        "1600000000".to_owned(),
        "keep".to_owned(),
    )]
    .into();
    assert_eq!(findings(&plan), kept);
    assert_eq!(plan["steps"], serde_json::json!([]), "{plan:#}");
    assert!(
        stderr(&planned).contains("job `history` keeps model snapshots that 9.0.0 cannot open"),
        "{}",
        stderr(&planned)
    );

    let delete = "version: 1\njobs:\n  - id: history\n    state: closed\nupgrade:\n  target_version: 9.0.0\n  old_snapshots: delete\n";
    let applied = rig.apply(delete, &["playbook.yaml", "--yes"]).await;
    assert_eq!(applied.status.code(), Some(0), "{}", stderr(&applied));
    let listed = rig
        .get("/_ml/anomaly_detectors/history/model_snapshots")
        .await;
    let ids: Vec<&str> = listed["model_snapshots"]
        .as_array()
        .expect("snapshots")
        .iter()
        .filter_map(|s| s["snapshot_id"].as_str())
        .collect();
    assert_eq!(
        ids,
        ["1700000000"],
        "the old one deleted, the current one kept"
    );
}

/// A current snapshot that even today's version cannot open (8.x opens 6.4.0 and later) cannot
/// be refreshed: the plan says so, at the job's line, and exits 5 before any change.
#[tokio::test(flavor = "multi_thread")]
async fn a_snapshot_too_old_for_today_is_a_plan_error() {
    let rig = Rig::fast(
        "
cluster: { name: ancient, version: 8.15.0 }
jobs:
  - id: ancient
    state: closed
    snapshots:
      - {id: '1500000000', timestamp: '2017-07-14T02:40:00Z', min_version: 6.3.0}
",
    )
    .await;
    let playbook = "version: 1\njobs:\n  - id: ancient\n    state: closed\n";
    let planned = quiesce(
        &rig,
        playbook,
        &["plan", "playbook.yaml", "--target-version", "9.0.0"],
    )
    .await;
    let err = stderr(&planned);
    assert_eq!(planned.status.code(), Some(5), "{err}");
    assert!(
        err.contains("job `ancient` cannot open even on today's version 8.15.0"),
        "{err}"
    );
    assert!(err.contains("`1500000000` has min_version 6.3.0"), "{err}");
    assert!(err.contains("playbook.yaml:3:9"), "{err}");
}

/// 2 GiB of ML memory on one node; three closed jobs of 1 GiB each. Elasticsearch needs each
/// job's limit plus 10 MiB, and 30 MiB once per node (§12.5): one fits, the others do not.
const TIGHT: &str = r"
cluster: { name: tight, version: 8.15.0 }
nodes: { count: 1, memory: 2gb }
jobs:
  - { id: a-small, model_memory_limit: 512mb, state: closed }
  - { id: b-large, model_memory_limit: 1024mb, state: closed }
  - { id: c-large, model_memory_limit: 1024mb, state: closed }
  - { id: d-lazy, model_memory_limit: 1024mb, allow_lazy_open: true, state: closed }
datafeeds:
  - { id: datafeed-b-large, job: b-large, state: stopped }
";

#[tokio::test(flavor = "multi_thread")]
async fn a_way_up_that_cannot_fit_is_refused_before_any_call() {
    let rig = Rig::fast(TIGHT).await;
    let up = "version: 1
jobs:
  - id: a-small
    state: opened
  - id: b-large
    state: opened
  - id: c-large
    state: opened
datafeeds:
  - id: datafeed-b-large
    state: started
";
    let refused = rig.apply(up, &["playbook.yaml", "--yes"]).await;
    let err = stderr(&refused);
    assert_eq!(refused.status.code(), Some(5), "{err}");
    // Largest first: `b-large` takes the node's room (2048 - 30 - 1034 MiB left); `a-small`
    // (522 MiB) still fits, `c-large` (1034 MiB) does not.
    assert!(
        err.contains("job `c-large` would not be assigned to any ML node: it needs 1034 MiB"),
        "{err}"
    );
    assert!(
        err.contains("`ml-1`") || err.contains("the most room left"),
        "{err}"
    );
    assert!(!err.contains("job `a-small` would not"), "{err}");
    assert!(!err.contains("job `b-large` would not"), "{err}");
    let stats = rig.stats().await;
    for operation in [
        "open_job",
        "start_datafeed",
        "close_job",
        "set_upgrade_mode",
    ] {
        assert_eq!(answered(&stats, operation), 0, "{operation}: {stats:#}");
    }
    for job in ["a-small", "b-large", "c-large"] {
        assert_eq!(stats["jobs"][job], "closed", "{stats:#}");
    }

    // A job that may wait (`allow_lazy_open`) is a warning, and its open waits for the opens
    // that fit.
    let lazy = "version: 1
jobs:
  - id: a-small
    state: opened
  - id: b-large
    state: opened
  - id: d-lazy
    state: opened
";
    let planned = quiesce(&rig, lazy, &["plan", "playbook.yaml", "--format", "json"]).await;
    let plan = plan_json(&planned);
    assert!(
        stderr(&planned).contains("job `d-lazy` would wait unassigned (`allow_lazy_open`)"),
        "{}",
        stderr(&planned)
    );
    let waits = step(&plan, "open_job", "d-lazy");
    let before: BTreeSet<u64> = waits["dependencies"]
        .as_array()
        .expect("dependencies")
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    let fitting: BTreeSet<u64> = ["a-small", "b-large"]
        .iter()
        .map(|job| step(&plan, "open_job", job)["id"].as_u64().expect("id"))
        .collect();
    assert_eq!(before, fitting, "{plan:#}");
}

/// Before 8.2 there is no `GET _ml/memory/_stats` (a 400 `no handler found`): the estimate
/// falls back on `GET _ml/info` `limits` (docs/elasticsearch-ml-api.md §12.5), where a job
/// larger than `effective_max_model_memory_limit` fits on no node.
#[tokio::test(flavor = "multi_thread")]
async fn before_8_2_the_limits_of_ml_info_are_the_estimate() {
    let rig = Rig::fast(
        r"
cluster: { name: seven, version: 7.17.0 }
nodes: { count: 2, memory: 1gb }
jobs:
  - { id: small, model_memory_limit: 256mb, state: closed }
  - { id: huge, model_memory_limit: 2gb, state: closed }
",
    )
    .await;
    let up = "version: 1\njobs:\n  - match: \"*\"\n    state: opened\n";
    let refused = quiesce(&rig, up, &["plan", "playbook.yaml"]).await;
    let err = stderr(&refused);
    assert_eq!(refused.status.code(), Some(5), "{err}");
    assert!(err.contains("job `huge` would not be assigned"), "{err}");
    assert!(err.contains("effective_max_model_memory_limit"), "{err}");
    assert!(!err.contains("job `small` would not"), "{err}");

    let fits = "version: 1\njobs:\n  - id: small\n    state: opened\n";
    let applied = rig.apply(fits, &["playbook.yaml", "--yes"]).await;
    assert_eq!(applied.status.code(), Some(0), "{}", stderr(&applied));
}

/// A job whose older snapshot takes seconds to upgrade (§12.2: loading and persisting its model).
const SLOW_UPGRADE: &str = r"
cluster: { name: gate-test, version: 8.15.0 }
nodes: { count: 1, memory: 16gb }
latency: { persist_rate: 40mb }
jobs:
  - id: history
    state: closed
    model_bytes: 40mb
    snapshots:
      - {id: '1600000000', timestamp: '2020-09-13T12:26:40Z', min_version: 7.10.0}
      - {id: '1700000000', timestamp: '2023-11-14T22:13:20Z', min_version: 8.15.0}
";

/// A run killed while its snapshot upgrade ran leaves the upgrade task behind; the resumed
/// run's request meets Elasticsearch's 409 "currently a snapshot for this job being upgraded"
/// (§12.2 check 2). That is the work under way, not a failure: the step waits for the snapshot.
#[tokio::test(flavor = "multi_thread")]
async fn an_upgrade_already_under_way_is_waited_for_not_failed() {
    let rig = Rig::new(SLOW_UPGRADE).await;
    // The request of the run that was killed: the task starts and runs on without it.
    let started = rig
        .sim
        .post("/_ml/anomaly_detectors/history/model_snapshots/1600000000/_upgrade")
        .await;
    assert_eq!(started.ok()["completed"], false, "{}", started.text);
    let playbook = "version: 1\njobs:\n  - id: history\n    state: closed\nupgrade:\n  target_version: 9.0.0\n  old_snapshots: upgrade\n";
    let output = quiesce(&rig, playbook, &["apply", "playbook.yaml", "--yes"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(opens_on_nine(&rig, "history").await);
    let stats = rig.sim.sim_stats().await;
    assert!(
        stats["requests"]["upgrade_job_snapshot"]["409"].as_u64() >= Some(1),
        "the run met the upgrade under way: {stats}"
    );
}
