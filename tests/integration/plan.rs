//! `plan`, `graph` and `status` through the real binary against the embedded simulator
//! (`--cluster sim:FILE`), over real HTTP.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

use crate::rig::stderr;

const SEED: &str = r#"
cluster: { name: plan-test, version: 8.15.0 }
jobs:
  - { id: web-latency, groups: [web, prod], model_bytes: 10mb, state: opened }
  - { id: web-errors, groups: [web, prod], model_bytes: 5mb, state: opened }
  - { id: pay-fraud, groups: [payments, prod], model_bytes: 50mb, state: opened }
  - { id: batch-nightly, groups: [batch], state: closed }
datafeeds:
  - { id: datafeed-web-latency, job: web-latency, state: started }
  - { id: datafeed-web-errors, job: web-errors, state: stopped }
  - { id: datafeed-pay-fraud, job: pay-fraud, state: started }
  - { id: datafeed-batch-nightly, job: batch-nightly, state: stopped }
"#;

const SHUTDOWN: &str = r#"version: 1
name: shutdown
jobs:
  - match: prod
    state: closed
  - id: batch-nightly
    state: closed
"#;

/// A fresh directory holding a seed and a playbook.
struct Case {
    dir: PathBuf,
    /// Removes the directory when the case ends.
    _scratch: tempfile::TempDir,
}

impl Case {
    fn new(seed: &str, playbook: &str) -> Case {
        let scratch = tempfile::tempdir().expect("temp dir");
        let dir = scratch.path().to_owned();
        std::fs::write(dir.join("seed.yaml"), seed).expect("seed");
        std::fs::write(dir.join("playbook.yaml"), playbook).expect("playbook");
        Case {
            dir,
            _scratch: scratch,
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        let seed = format!("sim:{}", self.dir.join("seed.yaml").display());
        Command::new(env!("CARGO_BIN_EXE_quiesce"))
            .current_dir(&self.dir)
            .args(args)
            .args(["--cluster", &seed, "--color", "never"])
            .env_remove("ES_URL")
            .env_remove("ES_API_KEY")
            .output()
            .expect("the binary runs")
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn plan_text_lists_stops_before_closes_with_their_playbook_lines() {
    let case = Case::new(SEED, SHUTDOWN);
    let output = case.run(&["plan", "playbook.yaml"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    let redacted = text.replace(&case.dir.display().to_string(), "[DIR]");
    insta::assert_snapshot!("plan_text_shutdown", redacted);
}

#[test]
fn plan_json_is_versioned_and_every_close_waits_for_its_datafeed() {
    let case = Case::new(SEED, SHUTDOWN);
    let output = case.run(&["plan", "playbook.yaml", "--format", "json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let plan: Value = serde_json::from_str(&stdout(&output)).expect("JSON");
    assert_eq!(plan["version"], 1);
    assert_eq!(plan["offline"], false);
    let steps = plan["steps"].as_array().expect("steps");
    let find = |action: &str, target: &str| {
        steps
            .iter()
            .find(|s| s["action"] == action && s["target"] == target)
            .unwrap_or_else(|| panic!("no {action} {target} in {plan}"))
    };
    for (feed, job) in [
        ("datafeed-web-latency", "web-latency"),
        ("datafeed-pay-fraud", "pay-fraud"),
    ] {
        let stop = find("stop_datafeed", feed);
        let close = find("close_job", job);
        assert!(
            close["dependencies"]
                .as_array()
                .expect("deps")
                .contains(&stop["id"]),
            "{close}"
        );
        assert_eq!(close["source"]["line"], 4, "the `match: prod` entry");
    }
    // web-errors' datafeed is already stopped: no stop step for it.
    assert!(
        steps.iter().all(|s| s["target"] != "datafeed-web-errors"),
        "{plan}"
    );
    let unchanged = plan["unchanged"].as_array().expect("unchanged");
    assert!(unchanged.iter().any(|u| u["target"] == "batch-nightly"));
    assert!(
        plan["snapshot_digest"]
            .as_str()
            .expect("digest")
            .starts_with("sha256:")
    );
    assert_eq!(plan["snapshot"]["jobs"]["web-latency"]["state"], "opened");
}

#[test]
fn plan_saves_with_o_and_detailed_exitcode_says_changes_pending() {
    let case = Case::new(SEED, SHUTDOWN);
    let output = case.run(&[
        "plan",
        "playbook.yaml",
        "-o",
        "plan.json",
        "--detailed-exitcode",
    ]);
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(case.dir.join("plan.json")).expect("saved"))
            .expect("JSON");
    assert_eq!(saved["summary"]["close_job"], 3);
    assert_eq!(saved["summary"]["stop_datafeed"], 2);
}

#[test]
fn nothing_to_do_exits_zero_with_detailed_exitcode() {
    let playbook = "version: 1\njobs:\n  - id: batch-nightly\n    state: closed\n";
    let case = Case::new(SEED, playbook);
    let output = case.run(&["plan", "playbook.yaml", "--detailed-exitcode"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("Nothing to change."));
}

#[test]
fn an_id_missing_from_the_cluster_is_a_diagnostic_at_its_line() {
    let playbook = "version: 1\njobs:\n  - id: no-such-job\n    state: closed\n";
    let case = Case::new(SEED, playbook);
    let output = case.run(&["plan", "playbook.yaml"]);
    assert_eq!(output.status.code(), Some(5), "the cluster was contacted");
    let err = stderr(&output);
    assert!(err.contains("quiesce::plan::unknown_id"), "{err}");
    assert!(
        err.contains("job `no-such-job` does not exist in the cluster"),
        "{err}"
    );
    assert!(err.contains("playbook.yaml:3:9"), "{err}");
}

#[test]
fn a_selector_matching_nothing_warns_and_plans_the_rest() {
    let playbook = "version: 1\njobs:\n  - match: \"nothing-*\"\n    state: closed\n  - id: web-latency\n    state: closed\n";
    let case = Case::new(SEED, playbook);
    let output = case.run(&["plan", "playbook.yaml"]);
    assert_eq!(output.status.code(), Some(0));
    assert!(
        stderr(&output).contains("quiesce::plan::no_match"),
        "{}",
        stderr(&output)
    );
    assert!(stdout(&output).contains("close job web-latency"));
}

#[test]
fn an_unreachable_cluster_exits_3_and_changes_nothing() {
    let case = Case::new(SEED, SHUTDOWN);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener);
    let output = Command::new(env!("CARGO_BIN_EXE_quiesce"))
        .current_dir(&case.dir)
        .args([
            "plan",
            "playbook.yaml",
            "--cluster",
            &url,
            "--color",
            "never",
        ])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    assert!(stderr(&output).contains("quiesce::es::unreachable"));
}

#[test]
fn offline_plans_contact_nothing() {
    let case = Case::new(SEED, SHUTDOWN);
    let output = Command::new(env!("CARGO_BIN_EXE_quiesce"))
        .current_dir(&case.dir)
        .args(["plan", "playbook.yaml", "--offline", "--color", "never"])
        .env_remove("ES_URL")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("offline: nothing was contacted"), "{text}");
    assert!(text.contains("close job prod"), "{text}");
}

#[test]
fn graph_prints_dot_and_mermaid() {
    let case = Case::new(SEED, SHUTDOWN);
    let dot = stdout(&case.run(&["graph", "playbook.yaml", "--format", "dot"]));
    assert!(dot.starts_with("digraph plan {"), "{dot}");
    assert!(
        dot.contains("stop datafeed before closing its job"),
        "{dot}"
    );
    let mermaid = stdout(&case.run(&["graph", "playbook.yaml", "--format", "mermaid"]));
    assert!(mermaid.starts_with("flowchart LR\n"), "{mermaid}");
    assert_eq!(
        mermaid.matches("-->").count(),
        dot.matches(" -> ").count(),
        "same edges in both"
    );
}

#[test]
fn status_shows_drift_missing_and_unmanaged() {
    let playbook = "version: 1\njobs:\n  - match: web\n    state: closed\n  - id: batch-nightly\n    state: closed\n";
    let case = Case::new(SEED, playbook);
    let output = case.run(&["status", "playbook.yaml", "--detailed-exitcode"]);
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("DRIFT job web-latency"), "{text}");
    assert!(text.contains("ok    job batch-nightly"), "{text}");
    assert!(text.contains("job pay-fraud (opened)"), "{text}");
    assert!(
        text.contains("3 target(s), 1 in state, 2 drifted, 0 missing"),
        "{text}"
    );
}

#[test]
fn secrets_from_the_environment_never_reach_the_output() {
    let playbook = "version: 1\ncluster:\n  api_key: ${QUIESCE_TEST_KEY}\njobs:\n  - match: prod\n    state: closed\n";
    let case = Case::new(SEED, playbook);
    let seed = format!("sim:{}", case.dir.join("seed.yaml").display());
    for args in [
        vec![
            "plan",
            "playbook.yaml",
            "--format",
            "json",
            "-o",
            "plan.json",
        ],
        vec!["plan", "playbook.yaml"],
        vec!["status", "playbook.yaml", "--output", "json"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_quiesce"))
            .current_dir(&case.dir)
            .args(&args)
            .args(["--cluster", &seed])
            .env("QUIESCE_TEST_KEY", "very-secret-key-material")
            .output()
            .expect("runs");
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        for text in [stdout(&output), stderr(&output)] {
            assert!(!text.contains("very-secret-key-material"), "{text}");
        }
    }
    let saved = std::fs::read_to_string(case.dir.join("plan.json")).expect("saved");
    assert!(!saved.contains("very-secret-key-material"));
}

#[test]
fn with_json_output_problems_are_json_on_stdout() {
    let playbook = "version: 1\njobs:\n  - id: no-such-job\n    state: closed\n";
    let case = Case::new(SEED, playbook);
    let output = case.run(&["plan", "playbook.yaml", "--format", "json"]);
    assert_eq!(output.status.code(), Some(5));
    let diagnostic: Value = serde_json::from_str(stdout(&output).trim()).expect("JSON");
    assert_eq!(
        diagnostic["related"][0]["code"],
        "quiesce::plan::unknown_id"
    );
    assert_eq!(diagnostic["related"][0]["labels"][0]["span"]["length"], 11);
}

/// `plan -o` never replaces a file without `--overwrite` (refused before contacting anything),
/// writes the plan whole, and says where it saved it.
#[test]
fn plan_out_refuses_an_existing_file_and_says_where_it_saved() {
    let case = Case::new(SEED, SHUTDOWN);
    std::fs::write(case.dir.join("plan.json"), "the plan under review\n").expect("write");
    let refused = case.run(&["plan", "playbook.yaml", "-o", "plan.json"]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("quiesce::output::exists"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(
        std::fs::read_to_string(case.dir.join("plan.json")).expect("read"),
        "the plan under review\n"
    );
    let replaced = case.run(&["plan", "playbook.yaml", "-o", "plan.json", "--overwrite"]);
    assert_eq!(replaced.status.code(), Some(0), "{}", stderr(&replaced));
    assert!(
        stderr(&replaced).contains("saved the plan to plan.json"),
        "{}",
        stderr(&replaced)
    );
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(case.dir.join("plan.json")).expect("read"))
            .expect("the whole plan");
    assert_eq!(saved["version"], 1);
}
