//! The soak test (issue 11): shutdown and restore, phase after phase, against one simulated
//! cluster under a random mix of every fault kind (errors, delays, dropped connections, stuck
//! transitions) on every operation, drawn from a fixed seed. After each phase:
//!
//! - every target reached its state, or its step is reported failed with a reason the faults
//!   explain, or skipped because a step it needs failed;
//! - no step is reported failed whose target reached its state (a false failure);
//! - the journal is whole: every line numbered in order, one end per step, counts that add up,
//!   and `quiesce runs` reads it;
//!
//! and at the end, no ordering violation in the whole soak. Its figures are printed (on
//! stderr, which the test harness does not capture). Small enough for two cores: a few dozen
//! jobs and twenty phases, on the simulator's `fast` profile.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use super::rig::{Rig, stderr};

/// Seeds the fault mixes of the phases (the simulator's draws have `fault_seed`).
const SOAK_SEED: u64 = 0x5eed_2026;
const PHASES: usize = 20;
/// Attempts and reads of a step: with read faults at rate 0.2 or less, eight reads failing in
/// a row happen once in millions.
const ATTEMPTS: u32 = 8;

fn seed() -> String {
    let mut seed = String::from(
        "cluster: { name: soak, version: 8.15.0 }\nnodes: { count: 3, memory: 64gb }\nlatency: { profile: fast }\nfault_seed: 20261130\njobs:\n",
    );
    let mut feeds = String::from("datafeeds:\n");
    for n in 0..24 {
        let group = ["web", "pay", "search"][n % 3];
        let _ = std::fmt::Write::write_fmt(
            &mut seed,
            format_args!(
                "  - {{ id: soak-{n:02}, groups: [{group}], model_bytes: {}mb, state: opened }}\n",
                1 + n % 7
            ),
        );
        // Most jobs have a datafeed; some stand alone.
        if n % 4 != 3 {
            let _ = std::fmt::Write::write_fmt(
                &mut feeds,
                format_args!(
                    "  - {{ id: datafeed-soak-{n:02}, job: soak-{n:02}, state: started }}\n"
                ),
            );
        }
    }
    seed + &feeds
}

fn playbook(down: bool) -> String {
    let settings = format!(
        "settings:\n  concurrency: 6\n  step_timeout: 3s\n  force: after_timeout\n  retry: {{ attempts: {ATTEMPTS}, initial_backoff: 10ms, max_backoff: 80ms }}\n"
    );
    if down {
        format!(
            "version: 1\nname: soak-shutdown\n{settings}jobs:\n  - match: \"*\"\n    state: closed\nupgrade_mode: enabled\n"
        )
    } else {
        format!(
            "version: 1\nname: soak-restore\n{settings}jobs:\n  - match: \"*\"\n    state: opened\ndatafeeds:\n  - match: \"*\"\n    state: started\nupgrade_mode: disabled\n"
        )
    }
}

const MUTATIONS: [&str; 5] = [
    "stop_datafeed",
    "close_job",
    "open_job",
    "start_datafeed",
    "set_upgrade_mode",
];
const READS: [&str; 2] = ["job_stats", "datafeed_stats"];
/// Statuses worth another try; 500 is one that is not (a true failure of the step).
const RETRYABLE: [u16; 4] = [429, 502, 503, 504];

/// A phase's fault rules: a few on the changes, at most one error rule on the reads, and each
/// kind of effect from time to time.
fn mix(rng: &mut SmallRng) -> Vec<Value> {
    let mut rules = Vec::new();
    for _ in 0..rng.random_range(2..=5) {
        let operation = MUTATIONS[rng.random_range(0..MUTATIONS.len())];
        let rate = f64::from(rng.random_range(5..=35_u32)) / 100.0;
        let rule = match rng.random_range(0..10) {
            0..=4 => {
                let status = if rng.random_bool(0.15) {
                    500
                } else {
                    RETRYABLE[rng.random_range(0..RETRYABLE.len())]
                };
                json!({ "operation": operation, "rate": rate, "error": { "status": status } })
            }
            5 | 6 => {
                let delay = format!("{}ms", rng.random_range(20..=400));
                json!({ "operation": operation, "rate": rate, "delay": delay })
            }
            7 | 8 => json!({ "operation": operation, "rate": rate, "drop": true }),
            _ => {
                let stuck = ["stop_datafeed", "close_job"][rng.random_range(0..2)];
                json!({ "operation": stuck, "rate": rate.min(0.2), "stuck": true })
            }
        };
        rules.push(rule);
    }
    let read = READS[rng.random_range(0..READS.len())];
    let rate = f64::from(rng.random_range(5..=20_u32)) / 100.0;
    rules.push(match rng.random_range(0..3) {
        0 => json!({ "operation": read, "rate": rate, "drop": true }),
        1 => json!({ "operation": read, "rate": rate, "delay": "50ms" }),
        _ => {
            let status = RETRYABLE[rng.random_range(0..RETRYABLE.len())];
            json!({ "operation": read, "rate": rate, "error": { "status": status } })
        }
    });
    rules
}

/// The kind of a rule's effect: `error`, `delay`, `drop` or `stuck`.
fn kind(rule: &Value) -> &'static str {
    if rule.get("error").is_some() {
        "error"
    } else if rule.get("delay").is_some() {
        "delay"
    } else if rule.get("drop").is_some() {
        "drop"
    } else {
        "stuck"
    }
}

/// What the soak counted.
#[derive(Default)]
struct Figures {
    phases: usize,
    refused_before_any_change: usize,
    steps: usize,
    faults: BTreeMap<&'static str, u64>,
    retries: usize,
    read_retries: usize,
    escalations: usize,
    true_failures: usize,
    skipped: usize,
    false_failures: Vec<String>,
}

/// Whether a step's target is in the state the step was to reach, as the simulator says now.
fn reached(stats: &Value, event: &Value) -> bool {
    let target = event["target"].as_str().unwrap_or_default();
    let state = |kind: &str| stats[kind][target].as_str().unwrap_or_default().to_owned();
    match event["action"].as_str().unwrap_or_default() {
        "stop_datafeed" => state("datafeeds") == "stopped",
        "start_datafeed" => state("datafeeds") == "started",
        "close_job" => state("jobs") == "closed",
        "open_job" => state("jobs") == "opened",
        "enable_upgrade_mode" => stats["upgrade_mode"] == true,
        "disable_upgrade_mode" => stats["upgrade_mode"] == false,
        other => panic!("an action the soak does not know: {other}"),
    }
}

/// Whether a failure's reason is one the phase's faults (or Elasticsearch's own answer to a
/// state they caused) explain.
fn explained(error: &Value, statuses: &BTreeSet<u64>) -> bool {
    match error["kind"].as_str().unwrap_or_default() {
        "elasticsearch" => {
            let status = error["status"].as_u64().unwrap_or_default();
            statuses.contains(&status) || status == 409
        }
        "connection" | "no_answer" | "step_timeout" => true,
        "unconfirmed" => explained(&error["cause"], statuses),
        _ => false,
    }
}

/// The journal of a phase is whole: numbered in order from 0, format 3, one end per step,
/// counts that add up to `run_finished`'s.
fn check_journal(path: &std::path::Path) {
    let text = std::fs::read_to_string(path).expect("the journal");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("whole JSON lines"))
        .collect();
    assert_eq!(lines[0]["type"], "header");
    assert_eq!(lines[0]["version"], 3);
    for (index, line) in lines.iter().enumerate() {
        assert_eq!(line["seq"], index, "{}: line {index}", path.display());
    }
    let steps = lines[0]["plan"]["steps"].as_array().map_or(0, Vec::len);
    let mut ends: BTreeMap<u64, usize> = BTreeMap::new();
    let mut counted: BTreeMap<&str, u64> = BTreeMap::new();
    for line in &lines {
        let end = match line["event"].as_str() {
            Some("step_succeeded") => match line["outcome"].as_str() {
                Some("changed") => "changed",
                _ => "already_in_state",
            },
            Some("step_failed") => "failed",
            Some("step_skipped") => "skipped",
            Some("step_interrupted" | "step_abandoned") => "interrupted",
            _ => continue,
        };
        *ends
            .entry(line["step"].as_u64().expect("a step"))
            .or_default() += 1;
        *counted.entry(end).or_default() += 1;
    }
    assert_eq!(ends.len(), steps, "{}: every step ended", path.display());
    assert!(
        ends.values().all(|n| *n == 1),
        "{}: one end per step: {ends:?}",
        path.display()
    );
    let finished = lines.last().expect("lines");
    assert_eq!(finished["event"], "run_finished", "{}", path.display());
    for (key, count) in counted {
        assert_eq!(finished["stats"][key], count, "{}: {key}", path.display());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn soak_shutdown_and_restore_under_every_fault_kind() {
    let rig = Rig::new(&seed()).await;
    let mut rng = SmallRng::seed_from_u64(SOAK_SEED);
    let mut figures = Figures::default();
    let mut kinds_hit: BTreeSet<&'static str> = BTreeSet::new();
    let started = std::time::Instant::now();
    for phase in 0..PHASES {
        let down = phase % 2 == 0;
        let rules = mix(&mut rng);
        let statuses: BTreeSet<u64> = rules
            .iter()
            .filter_map(|r| r["error"]["status"].as_u64())
            .collect();
        rig.faults(Value::Array(rules)).await;
        let before = rig.stats().await;
        let output = rig
            .apply(
                &playbook(down),
                // The soak judges the steps; the recovery's verification has its own tests
                // (recovery.rs) and would only wait out the faults left on the datafeeds.
                &["playbook.yaml", "--yes", "--output", "json", "--no-verify"],
            )
            .await;
        let hits = rig.sim.get("/_sim/faults").await.json().clone();
        rig.faults(json!([])).await;
        for rule in hits["faults"].as_array().expect("rules") {
            let hit = rule["hits"].as_u64().unwrap_or(0);
            *figures.faults.entry(kind(rule)).or_default() += hit;
            if hit > 0 {
                kinds_hit.insert(kind(rule));
            }
        }
        figures.phases += 1;
        let context = format!(
            "phase {phase} ({})",
            if down { "shutdown" } else { "restore" }
        );
        if output.status.code() == Some(3) {
            // The preflight could not read the cluster (its reads retried, as steps do):
            // nothing may have changed.
            figures.refused_before_any_change += 1;
            let after = rig.stats().await;
            assert_eq!(
                after["jobs"],
                before["jobs"],
                "{context}: {}",
                stderr(&output)
            );
            assert_eq!(after["datafeeds"], before["datafeeds"], "{context}");
            continue;
        }
        assert!(
            matches!(output.status.code(), Some(0 | 1)),
            "{context}: {}",
            stderr(&output)
        );
        let events: Vec<Value> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON event"))
            .collect();
        let stats = rig.stats().await;
        let mut failed_steps = BTreeSet::new();
        for event in &events {
            match event["event"].as_str() {
                Some("step_attempt_failed") => figures.retries += 1,
                Some("step_read_failed") => figures.read_retries += 1,
                Some("step_escalated") => figures.escalations += 1,
                Some("step_succeeded") => {
                    figures.steps += 1;
                    assert!(
                        reached(&stats, event),
                        "{context}: succeeded but not there: {event}"
                    );
                    assert!(
                        event["attempts"].as_u64() <= Some(u64::from(ATTEMPTS) + 1),
                        "{context}: the attempts shown are the requests made: {event}"
                    );
                }
                Some("step_failed") => {
                    figures.steps += 1;
                    failed_steps.insert(event["step"].as_u64());
                    if reached(&stats, event) {
                        figures.false_failures.push(format!("{context}: {event}"));
                    } else {
                        figures.true_failures += 1;
                        assert!(
                            explained(&event["error"], &statuses),
                            "{context}: a failure the faults do not explain: {event}"
                        );
                    }
                }
                Some("step_skipped") => {
                    figures.steps += 1;
                    figures.skipped += 1;
                    let needed = event["reason"]["step"].as_u64();
                    assert_eq!(
                        event["reason"]["kind"], "dependency_failed",
                        "{context}: {event}"
                    );
                    assert!(failed_steps.contains(&needed), "{context}: {event}");
                }
                Some("step_interrupted" | "step_abandoned") => {
                    panic!("{context}: nothing interrupted the run: {event}")
                }
                _ => {}
            }
        }
        let journal = rig.dir.join(".quiesce/runs").join(format!(
            "{}.jsonl",
            events[0]["run_id"].as_str().expect("run id")
        ));
        check_journal(&journal);
    }
    rig.assert_no_ordering_violation().await;

    // `runs` reads every journal of the soak, each with its outcome.
    let runs = tokio::task::spawn_blocking({
        let dir = rig.dir.clone();
        move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_quiesce"))
                .current_dir(dir)
                .args(["runs", "--output", "json"])
                .env_remove("QUIESCE_STATE_DIR")
                .output()
                .expect("runs")
        }
    })
    .await
    .expect("joined");
    assert!(runs.stderr.is_empty(), "{}", stderr(&runs));
    let rows: Value = serde_json::from_slice(&runs.stdout).expect("JSON");
    assert_eq!(
        rows.as_array().map(Vec::len),
        Some(figures.phases - figures.refused_before_any_change)
    );

    let mut report = std::io::stderr().lock();
    let _ = writeln!(
        report,
        "soak: {} phases ({} refused before any change) in {:.1}s, {} steps; faults injected: {} ({}); {} retried attempts, {} retried reads, {} escalations to force; {} true failures, {} skipped after them; false failures: {}",
        figures.phases,
        figures.refused_before_any_change,
        started.elapsed().as_secs_f64(),
        figures.steps,
        figures.faults.values().sum::<u64>(),
        figures
            .faults
            .iter()
            .map(|(kind, n)| format!("{kind} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        figures.retries,
        figures.read_retries,
        figures.escalations,
        figures.true_failures,
        figures.skipped,
        figures.false_failures.len()
    );
    assert!(
        figures.false_failures.is_empty(),
        "steps reported failed whose target reached its state:\n{}",
        figures.false_failures.join("\n")
    );
    for kind in ["error", "delay", "drop", "stuck"] {
        assert!(
            kinds_hit.contains(kind),
            "no `{kind}` fault fired in the soak"
        );
    }
}
