//! `quiesce capture` through the real binary: against the embedded simulator (`--cluster
//! sim:FILE`) for what it writes, and against a simulator in this process for the round trip
//! (capture, shut down, apply the capture: the states of before, job by job).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Map, Value, json};

use crate::rig::{Rig, stderr};

/// Every kind of target, an id YAML would read as a boolean, and a lookback datafeed that is
/// still running during the test.
const SEED: &str = r#"
cluster: { name: capture-test, version: 8.15.0 }
latency: { lookback: 1h }
jobs:
  - { id: web-latency, groups: [web, prod], model_bytes: 10mb, state: opened }
  - { id: web-errors, groups: [web, prod], state: opened }
  - { id: pay-fraud, groups: [payments, prod], state: opened }
  - { id: pay-declines, groups: [payments, prod], state: closed }
  - { id: "no", groups: [batch], state: opened }
  - { id: backfill, groups: [batch], state: opened }
datafeeds:
  - { id: datafeed-web-latency, job: web-latency, state: started }
  - { id: datafeed-web-errors, job: web-errors, state: stopped }
  - { id: datafeed-pay-fraud, job: pay-fraud, state: started }
  - { id: datafeed-pay-declines, job: pay-declines, state: stopped }
  - { id: datafeed-backfill, job: backfill, state: started, end: "2026-01-01T00:00:00Z" }
"#;

/// Everything down, as before an upgrade.
const SHUTDOWN: &str = "version: 1
name: shutdown
settings:
  retry: { attempts: 4, initial_backoff: 10ms, max_backoff: 50ms }
jobs:
  - match: \"*\"
    state: closed
";

/// A fresh directory for the files of one test, removed when the test ends.
struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Dir {
        Dir(tempfile::tempdir().expect("temp dir"))
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.path().join(name);
        std::fs::write(&path, text).expect("write a test file");
        path
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.0.path().join(name)).expect("read a test file")
    }

    /// Runs the binary against the embedded simulator seeded with `seed`.
    fn run_sim(&self, seed: &str, args: &[&str]) -> Output {
        let seed_path = self.write("seed.yaml", seed);
        let cluster = format!("sim:{}", seed_path.display());
        quiesce(self.0.path(), args)
            .args(["--cluster", &cluster])
            .output()
            .expect("the binary runs")
    }
}

/// The binary, run in `dir` with no cluster or credentials from the environment.
fn quiesce(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_quiesce"));
    command
        .current_dir(dir)
        .args(args)
        .args(["--color", "never"])
        .env_remove("ES_URL")
        .env_remove("ES_API_KEY")
        .env_remove("ES_USERNAME")
        .env_remove("ES_PASSWORD")
        .stdin(Stdio::null());
    command
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The entry of `id` in a captured playbook: its comment lines, then its own lines.
fn entry<'t>(text: &'t str, id: &str) -> Vec<&'t str> {
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|line| line.trim_start() == format!("- id: {id}"))
        .unwrap_or_else(|| panic!("no entry `{id}` in:\n{text}"));
    let first = lines[..at]
        .iter()
        .rposition(|line| !line.trim_start().starts_with('#'))
        .map_or(0, |i| i + 1);
    let last = lines[at + 1..]
        .iter()
        .position(|line| !line.starts_with("    "))
        .map_or(lines.len(), |i| at + 1 + i);
    lines[first..last].to_vec()
}

#[test]
fn a_capture_of_a_seeded_cluster_is_a_valid_playbook_of_its_states() {
    let dir = Dir::new();
    let output = dir.run_sim(SEED, &["capture", "-o", "before.yaml"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).is_empty(), "the playbook went to the file");
    assert!(
        stderr(&output).contains(
            "captured 6 job(s) (5 opened) and 5 datafeed(s) (2 started) from `capture-test` into before.yaml"
        ),
        "{}",
        stderr(&output)
    );
    let text = dir.read("before.yaml");
    let lines: Vec<&str> = text.lines().collect();
    // Outside a checkout with the schema, no modeline (see the modeline test).
    assert!(
        lines[0].starts_with("# Captured from cluster `capture-test` (Elasticsearch 8.15.0) on ")
    );
    assert!(lines[1].starts_with("# at sim:"), "{text}");
    assert!(text.contains("\nname: captured-capture-test-"), "{text}");
    assert!(text.contains("\n  url: ${ES_URL}\n"), "{text}");
    assert_eq!(
        entry(&text, "web-latency"),
        ["  - id: web-latency", "    state: opened"]
    );
    assert_eq!(
        entry(&text, "pay-declines"),
        ["  - id: pay-declines", "    state: closed"]
    );
    assert_eq!(
        entry(&text, "\"no\""),
        ["  - id: \"no\"", "    state: opened"]
    );
    assert_eq!(
        entry(&text, "datafeed-web-latency"),
        [
            "  - id: datafeed-web-latency",
            "    job: web-latency",
            "    state: started"
        ]
    );
    assert_eq!(
        entry(&text, "datafeed-web-errors"),
        [
            "  - id: datafeed-web-errors",
            "    job: web-errors",
            "    state: stopped"
        ]
    );

    // It validates as written, with ES_URL unset (a note, since nothing is contacted)...
    let validate = quiesce(dir.0.path(), &["validate", "before.yaml"])
        .output()
        .expect("the binary runs");
    assert_eq!(
        validate.status.code(),
        Some(0),
        "{}\n{text}",
        stderr(&validate)
    );
    assert!(
        stderr(&validate).contains("note: before.yaml:"),
        "{}",
        stderr(&validate)
    );
    // ...and plans as written against the cluster it came from (`--cluster` gives the URL).
    let plan = dir.run_sim(SEED, &["plan", "before.yaml"]);
    assert_eq!(plan.status.code(), Some(0), "{}", stderr(&plan));

    let to_stdout = dir.run_sim(SEED, &["capture"]);
    assert_eq!(to_stdout.status.code(), Some(0), "{}", stderr(&to_stdout));
    assert!(stdout(&to_stdout).contains("\n  - id: datafeed-pay-fraud\n"));
}

#[test]
fn a_lookback_datafeed_is_captured_stopped_with_the_reason() {
    let dir = Dir::new();
    let output = dir.run_sim(SEED, &["capture"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    let lookback = entry(&text, "datafeed-backfill").join("\n");
    assert!(
        lookback.contains("was started with an `end` (a lookback) when captured; it will not"),
        "{lookback}"
    );
    assert!(
        lookback.contains("be restarted because it ran with an end"),
        "{lookback}"
    );
    assert!(lookback.ends_with("    state: stopped"), "{lookback}");
    let job = entry(&text, "backfill").join("\n");
    assert!(
        job.contains("was open for the lookback of datafeed"),
        "{job}"
    );
}

#[test]
fn match_selects_jobs_by_group_or_wildcard_with_their_datafeeds() {
    let dir = Dir::new();
    let output = dir.run_sim(
        SEED,
        &["capture", "--match", "payments", "--match", "web-l*"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    let ids: Vec<&str> = text
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("- id: "))
        .collect();
    assert_eq!(
        ids,
        [
            "pay-declines",
            "pay-fraud",
            "web-latency",
            "datafeed-pay-declines",
            "datafeed-pay-fraud",
            "datafeed-web-latency",
        ]
    );
    assert!(
        text.contains("# Jobs: those matching `payments`, `web-l*`"),
        "{text}"
    );
}

#[test]
fn a_match_that_names_nothing_or_is_malformed_is_refused() {
    let dir = Dir::new();
    let missing = dir.run_sim(SEED, &["capture", "--match", "paymnets", "--match", "x-*"]);
    assert_eq!(missing.status.code(), Some(5), "the cluster was read");
    let message = stderr(&missing);
    assert!(message.contains("quiesce::capture::no_match"), "{message}");
    assert!(message.contains("`paymnets`"), "{message}");
    assert!(
        !message.contains("`x-*`"),
        "a wildcard may match nothing: {message}"
    );
    assert!(stdout(&missing).is_empty());

    let bad = dir.run_sim(SEED, &["capture", "--match", "Web"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("quiesce::capture::bad_match"),
        "{}",
        stderr(&bad)
    );
}

/// Runs the binary in the rig's directory, in a blocking thread so that the simulator in this
/// process keeps serving.
async fn run(rig: &Rig, args: &[&str]) -> Output {
    let mut command = quiesce(&rig.dir, args);
    tokio::task::spawn_blocking(move || command.output().expect("the binary runs"))
        .await
        .expect("joined")
}

fn read(rig: &Rig, name: &str) -> String {
    std::fs::read_to_string(rig.dir.join(name)).expect("read a test file")
}

/// The job and datafeed states of `/_sim/stats`, after checking that no ordering was violated.
async fn states(rig: &Rig) -> (Map<String, Value>, Map<String, Value>) {
    rig.assert_no_ordering_violation().await;
    let stats = rig.stats().await;
    let map = |key: &str| stats[key].as_object().cloned().expect("a map of states");
    (map("jobs"), map("datafeeds"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_captured_playbook_plans_nothing_on_the_cluster_it_was_taken_from() {
    // A running lookback would be stopped by its capture, so this cluster has none.
    let seed = SEED.replace(
        "state: started, end: \"2026-01-01T00:00:00Z\"",
        "state: stopped",
    );
    let rig = Rig::new(&seed).await;
    let cluster = rig.sim.base_url();
    let capture = run(
        &rig,
        &["capture", "--cluster", &cluster, "-o", "before.yaml"],
    )
    .await;
    assert_eq!(capture.status.code(), Some(0), "{}", stderr(&capture));
    let text = read(&rig, "before.yaml");
    assert!(
        text.contains(&format!("\n  url: ${{ES_URL:-{cluster}}}\n")),
        "the cluster is the default URL: {text}"
    );
    // No `--cluster`: the playbook's own URL default points at the same simulator.
    let plan = run(&rig, &["plan", "before.yaml", "--detailed-exitcode"]).await;
    assert_eq!(
        plan.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&plan),
        stderr(&plan)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn capture_shutdown_then_apply_the_capture_brings_back_every_state() {
    let rig = Rig::new(SEED).await;
    let (jobs_before, datafeeds_before) = states(&rig).await;
    assert_eq!(datafeeds_before["datafeed-backfill"], "started");

    let cluster = rig.sim.base_url();
    let capture = run(
        &rig,
        &["capture", "--cluster", &cluster, "-o", "before.yaml"],
    )
    .await;
    assert_eq!(capture.status.code(), Some(0), "{}", stderr(&capture));

    let shutdown = rig.apply(SHUTDOWN, &["playbook.yaml", "--yes"]).await;
    assert_eq!(shutdown.status.code(), Some(0), "{}", stderr(&shutdown));
    let (jobs_down, datafeeds_down) = states(&rig).await;
    assert!(
        jobs_down.values().all(|state| state == "closed"),
        "{jobs_down:?}"
    );
    assert!(
        datafeeds_down.values().all(|state| state == "stopped"),
        "{datafeeds_down:?}"
    );

    let restore = run(
        &rig,
        &["apply", "before.yaml", "--yes", "--cluster", &cluster],
    )
    .await;
    assert_eq!(restore.status.code(), Some(0), "{}", stderr(&restore));
    let (jobs_after, mut datafeeds_after) = states(&rig).await;
    assert_eq!(jobs_after, jobs_before, "every job as before");
    assert_eq!(
        datafeeds_after.remove("datafeed-backfill"),
        Some(json!("stopped")),
        "the lookback is not restarted"
    );
    let mut expected = datafeeds_before;
    expected.remove("datafeed-backfill");
    assert_eq!(datafeeds_after, expected, "every other datafeed as before");
}

#[tokio::test(flavor = "multi_thread")]
async fn upgrade_mode_seen_on_is_kept_with_a_warning_and_still_plans_nothing() {
    let seed = SEED.replace(
        "state: started, end: \"2026-01-01T00:00:00Z\"",
        "state: stopped",
    );
    let rig = Rig::new(&seed).await;
    let cluster = rig.sim.base_url();
    let enabled = rig
        .http
        .post(format!("{cluster}/_ml/set_upgrade_mode?enabled=true"))
        .send()
        .await
        .expect("request")
        .status();
    assert!(enabled.is_success(), "{enabled}");

    let capture = run(
        &rig,
        &["capture", "--cluster", &cluster, "-o", "before.yaml"],
    )
    .await;
    assert_eq!(capture.status.code(), Some(0), "{}", stderr(&capture));
    assert!(
        stderr(&capture).contains("quiesce::capture::upgrade_mode"),
        "{}",
        stderr(&capture)
    );
    let text = read(&rig, "before.yaml");
    assert!(text.ends_with("\nupgrade_mode: enabled\n"), "{text}");
    assert!(
        text.contains("# WARNING: upgrade mode was ENABLED"),
        "{text}"
    );

    let plan = run(&rig, &["plan", "before.yaml", "--detailed-exitcode"]).await;
    assert_eq!(
        plan.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&plan),
        stderr(&plan)
    );
}

#[test]
fn an_existing_capture_is_not_overwritten_unless_asked() {
    let dir = Dir::new();
    dir.write("before.yaml", "# the capture taken before the shutdown\n");
    let refused = dir.run_sim(SEED, &["capture", "-o", "before.yaml"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("quiesce::capture::exists"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(
        dir.read("before.yaml"),
        "# the capture taken before the shutdown\n"
    );

    let replaced = dir.run_sim(SEED, &["capture", "-o", "before.yaml", "--overwrite"]);
    assert_eq!(replaced.status.code(), Some(0), "{}", stderr(&replaced));
    assert!(
        dir.read("before.yaml")
            .starts_with("# Captured from cluster")
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.0.path())
        .expect("the test directory")
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_capture_restores_after_a_shutdown_that_enabled_upgrade_mode() {
    let rig = Rig::new(SEED).await;
    let (jobs_before, _) = states(&rig).await;
    let cluster = rig.sim.base_url();
    let capture = run(
        &rig,
        &["capture", "--cluster", &cluster, "-o", "before.yaml"],
    )
    .await;
    assert_eq!(capture.status.code(), Some(0), "{}", stderr(&capture));

    let shutdown = format!("{SHUTDOWN}upgrade_mode: enabled\n");
    let down = rig.apply(&shutdown, &["playbook.yaml", "--yes"]).await;
    assert_eq!(down.status.code(), Some(0), "{}", stderr(&down));
    assert_eq!(rig.stats().await["upgrade_mode"], true);

    let restore = run(
        &rig,
        &["apply", "before.yaml", "--yes", "--cluster", &cluster],
    )
    .await;
    assert_eq!(restore.status.code(), Some(0), "{}", stderr(&restore));
    assert_eq!(rig.stats().await["upgrade_mode"], false);
    let (jobs_after, _) = states(&rig).await;
    assert_eq!(jobs_after, jobs_before);
}

/// Inside a checkout with `schemas/playbook.schema.json`, the modeline names it relative to the
/// file written; outside one, there is none.
#[test]
fn the_modeline_points_at_the_schema_from_where_the_capture_is_written() {
    let dir = Dir::new();
    std::fs::create_dir_all(dir.0.path().join(".git")).expect("a checkout");
    std::fs::create_dir_all(dir.0.path().join("schemas")).expect("schemas");
    std::fs::create_dir_all(dir.0.path().join("ops/captures")).expect("ops");
    dir.write("schemas/playbook.schema.json", "{}");
    for (out, schema) in [
        ("before.yaml", "schemas/playbook.schema.json"),
        (
            "ops/captures/before.yaml",
            "../../schemas/playbook.schema.json",
        ),
    ] {
        let output = dir.run_sim(SEED, &["capture", "-o", out]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        assert_eq!(
            dir.read(out).lines().next(),
            Some(format!("# yaml-language-server: $schema={schema}").as_str())
        );
    }
}

/// A failed job is left out of the capture with its datafeed, with a note and a comment, as
/// `revert` leaves it out: restoring the capture must not need a forced close.
#[test]
fn a_failed_job_is_left_out_with_a_note() {
    let seed = SEED.replacen(
        "jobs:\n",
        "jobs:\n  - { id: broken, groups: [batch], state: failed }\n",
        1,
    );
    let dir = Dir::new();
    let output = dir.run_sim(&seed, &["capture"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(!text.contains("- id: broken"), "{text}");
    assert!(text.contains("# Left out: job `broken`"), "{text}");
    assert!(
        stderr(&output).contains("note: left out of the capture: job `broken`"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn past_elasticsearchs_cap_of_10000_results_every_job_is_read_in_a_few_requests() {
    let dir = Dir::new();
    let seed = "generate: { seed: 3, jobs: 25000, with_datafeed: 1.0, opened: 0.0 }\n";
    let output = dir.run_sim(seed, &["-v", "capture", "-o", "big.yaml"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let log = stderr(&output);
    assert!(
        log.contains("captured 25000 job(s) (0 opened) and 25000 datafeed(s)"),
        "{log}"
    );
    let text = dir.read("big.yaml");
    assert_eq!(text.matches("\n  - id: gen-").count(), 25_000);
    assert_eq!(text.matches("\n  - id: datafeed-gen-").count(), 25_000);
    // Each of the four listings pages past the cap with a few requests, not one per job.
    let reads = log
        .lines()
        .filter(|l| l.starts_with("http: GET /_ml/") && !l.contains("/_ml/info"))
        .count();
    assert!((4..=40).contains(&reads), "{reads} reads:\n{log}");
}
