//! The set-ups in `examples/`, checked: the GitHub Actions workflow's `quiesce` commands run
//! against the simulator as the workflow runs them; the Kubernetes `CronJob` and the systemd
//! units parse, have the keys they need, and their `quiesce` command lines run (with
//! `--dry-run`, against the simulator); `systemd-analyze verify` when the machine has it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::rig::Rig;
use crate::validate::yaml_files;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn yaml(path: &str) -> Value {
    serde_saphyr::from_str(&read(path)).unwrap_or_else(|e| panic!("{path} is not YAML: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `quiesce ARGS` from the repository root with `env`, in a blocking thread.
async fn quiesce(args: Vec<String>, env: Vec<(&'static str, String)>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_quiesce"));
    command
        .current_dir(root())
        .args(&args)
        .env_remove("ES_URL")
        .env_remove("ES_API_KEY")
        .env_remove("QUIESCE_STATE_DIR")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    tokio::task::spawn_blocking(move || command.output().expect("the binary runs"))
        .await
        .expect("joined")
}

/// The demo cluster, for the commands that contact one.
async fn demo() -> Rig {
    Rig::fast(&read("seeds/demo-cluster.yaml")).await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_github_workflow_validates_and_plans_as_written() {
    let workflow = yaml("examples/github-actions/playbooks.yml");
    assert!(workflow["on"]["pull_request"].is_object(), "{workflow}");
    assert_eq!(workflow["permissions"]["pull-requests"], "write");
    let steps = workflow["jobs"]["check"]["steps"]
        .as_array()
        .expect("steps");
    let lines: Vec<String> = steps
        .iter()
        .filter_map(|step| step["run"].as_str())
        .flat_map(str::lines)
        .map(str::trim)
        .filter(|line| line.starts_with("quiesce "))
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), 2, "validate and plan: {lines:?}");
    let rig = demo().await;
    let playbooks = yaml_files("workflows");
    let mut ran = 0;
    for line in lines {
        // The shell's part: output redirection and `|| true`.
        let own = line.split(" 2>&1").next().expect("a command");
        let own = own.split(" ||").next().expect("a command");
        // `$mode` is empty with the ES_URL secret, `--offline` without: both.
        for mode in ["", "--offline"] {
            // `"$playbook"` runs once per playbook of the loop, a glob as the shell expands it.
            for playbook in &playbooks {
                let mut args = Vec::new();
                for word in own.split_whitespace().skip(1) {
                    match word {
                        "workflows/*.yaml" => args.extend(playbooks.iter().cloned()),
                        "\"$playbook\"" => args.push(playbook.clone()),
                        "$mode" if mode.is_empty() => {}
                        "$mode" => args.push(mode.to_owned()),
                        other => args.push(other.to_owned()),
                    }
                }
                let env = if mode.is_empty() {
                    vec![("ES_URL", rig.sim.base_url())]
                } else {
                    Vec::new()
                };
                let output = quiesce(args.clone(), env).await;
                assert_eq!(
                    output.status.code(),
                    Some(0),
                    "quiesce {}:\n{}",
                    args.join(" "),
                    text(&output.stderr)
                );
                if args[0] == "validate" {
                    // Annotations only for problems: a clean run says so in one line.
                    assert!(
                        text(&output.stdout).ends_with("valid, 0 invalid\n"),
                        "{}",
                        text(&output.stdout)
                    );
                }
                ran += 1;
                if !own.contains("$playbook") {
                    break;
                }
            }
        }
    }
    assert!(ran > playbooks.len(), "{ran}");
}

/// Runs a command line of an example with `--dry-run` against the demo cluster, its paths
/// mapped onto the repository (`/playbooks/` and `/etc/quiesce/` to `workflows/`) and a
/// scratch state directory.
async fn dry_run(rig: &Rig, args: &[String]) {
    let state = tempfile::tempdir().expect("state dir");
    let args: Vec<String> = args
        .iter()
        .map(|arg| {
            if let Some(name) = arg
                .strip_prefix("/playbooks/")
                .or_else(|| arg.strip_prefix("/etc/quiesce/"))
            {
                format!("workflows/{name}")
            } else if arg == "/var/lib/quiesce" {
                state.path().display().to_string()
            } else {
                arg.clone()
            }
        })
        .chain([
            "--dry-run".to_owned(),
            "--cluster".to_owned(),
            rig.sim.base_url(),
        ])
        .collect();
    assert_eq!(args[0], "apply", "{args:?}");
    let output = quiesce(args.clone(), Vec::new()).await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "quiesce {}:\n{}",
        args.join(" "),
        text(&output.stderr)
    );
    assert!(
        text(&output.stdout).contains("stop datafeed"),
        "the plan is printed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_kubernetes_cronjob_is_a_suspended_cronjob_whose_command_runs() {
    let cronjob = yaml("examples/kubernetes/cronjob.yaml");
    assert_eq!(cronjob["apiVersion"], "batch/v1");
    assert_eq!(cronjob["kind"], "CronJob");
    let spec = &cronjob["spec"];
    assert_eq!(spec["suspend"], true, "off until the window");
    assert_eq!(spec["concurrencyPolicy"], "Forbid");
    assert_eq!(
        spec["schedule"]
            .as_str()
            .expect("schedule")
            .split(' ')
            .count(),
        5
    );
    let pod = &spec["jobTemplate"]["spec"]["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    let container = &pod["containers"][0];
    assert!(container["envFrom"][0]["secretRef"]["name"].is_string());
    let mounts: Vec<&str> = container["volumeMounts"]
        .as_array()
        .expect("mounts")
        .iter()
        .map(|m| m["mountPath"].as_str().expect("path"))
        .collect();
    assert_eq!(mounts, ["/playbooks", "/var/lib/quiesce"]);
    assert!(
        pod["volumes"][1]["emptyDir"].is_object(),
        "an ephemeral pod: the journal lives in the cluster"
    );
    let args: Vec<String> = container["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("a string").to_owned())
        .collect();
    assert!(args.contains(&"--yes".to_owned()), "no terminal in a pod");
    dry_run(&demo().await, &args).await;
}

/// The one-off Job of a runbook step, in a pod that never saw the run: its `revert RUN_ID`
/// fetches the run's journal from the cluster into its empty state directory.
#[tokio::test(flavor = "multi_thread")]
async fn the_kubernetes_runbook_job_reverts_a_run_it_never_saw() {
    let job = yaml("examples/kubernetes/job-runbook-step.yaml");
    assert_eq!(job["apiVersion"], "batch/v1");
    assert_eq!(job["kind"], "Job");
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    assert!(pod["volumes"][0]["emptyDir"].is_object(), "{pod}");
    let container = &pod["containers"][0];
    assert!(container["envFrom"][0]["secretRef"]["name"].is_string());
    assert_eq!(container["env"][0]["name"], "RUN_ID");

    // The run, from a machine that is gone by the time the Job runs.
    let rig = demo().await;
    let machine = tempfile::tempdir().expect("state dir");
    let applied = quiesce(
        vec![
            "apply".into(),
            "workflows/pre-upgrade-shutdown.yaml".into(),
            "--yes".into(),
            "--state-dir".into(),
            machine.path().display().to_string(),
            "--cluster".into(),
            rig.sim.base_url(),
        ],
        Vec::new(),
    )
    .await;
    assert_eq!(applied.status.code(), Some(0), "{}", text(&applied.stderr));
    let run_id = std::fs::read_dir(machine.path().join("runs"))
        .expect("runs")
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".jsonl").map(str::to_owned)
        })
        .next()
        .expect("a journal");
    drop(machine);

    let pod_dir = tempfile::tempdir().expect("the pod's emptyDir");
    let args: Vec<String> = container["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| match a.as_str().expect("a string") {
            "$(RUN_ID)" => run_id.clone(),
            "/var/lib/quiesce" => pod_dir.path().display().to_string(),
            other => other.to_owned(),
        })
        .chain(["--cluster".to_owned(), rig.sim.base_url()])
        .collect();
    assert_eq!(args[0], "revert", "{args:?}");
    let reverted = quiesce(args, Vec::new()).await;
    let stderr = text(&reverted.stderr);
    assert_eq!(reverted.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("fetched its journal"), "{stderr}");
}

/// `key=value` lines of a unit's `[section]`.
fn unit_keys(text: &str, section: &str) -> Vec<(String, String)> {
    let header = format!("[{section}]");
    text.lines()
        .skip_while(|l| l.trim() != header)
        .skip(1)
        .take_while(|l| !l.starts_with('['))
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (key, value) = l
                .split_once('=')
                .unwrap_or_else(|| panic!("`{l}` is not key=value"));
            (key.to_owned(), value.to_owned())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_systemd_units_have_what_they_need_and_the_command_runs() {
    let service = read("examples/systemd/quiesce-maintenance.service");
    let timer = read("examples/systemd/quiesce-maintenance.timer");
    let get = |keys: &[(String, String)], key: &str| {
        let (_, value) = keys
            .iter()
            .find(|(k, _)| k == key)
            .unwrap_or_else(|| panic!("no `{key}`"));
        value.clone()
    };
    let unit = unit_keys(&service, "Service");
    assert_eq!(get(&unit, "Type"), "oneshot");
    assert_eq!(
        get(&unit, "KillSignal"),
        "SIGINT",
        "first signal: finish in-flight steps"
    );
    let exec = get(&unit, "ExecStart");
    let words: Vec<String> = exec.split_whitespace().map(str::to_owned).collect();
    assert!(words[0].starts_with('/') && words[0].ends_with("/quiesce"));
    assert!(words.contains(&"--yes".to_owned()));
    let timer_keys = unit_keys(&timer, "Timer");
    assert!(!get(&timer_keys, "OnCalendar").is_empty());
    assert_eq!(get(&timer_keys, "Unit"), "quiesce-maintenance.service");
    assert_eq!(
        get(&unit_keys(&timer, "Install"), "WantedBy"),
        "timers.target"
    );
    dry_run(&demo().await, &words[1..]).await;
    verify_with_systemd(&service, &timer);
}

/// `systemd-analyze verify`, on copies whose `ExecStart` is the binary under test, when the
/// machine has systemd-analyze.
fn verify_with_systemd(service: &str, timer: &str) {
    let Ok(version) = Command::new("systemd-analyze").arg("--version").output() else {
        return;
    };
    if !version.status.success() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let service = service.replace("/usr/local/bin/quiesce", env!("CARGO_BIN_EXE_quiesce"));
    let paths: Vec<PathBuf> = [
        ("quiesce-maintenance.service", service.as_str()),
        ("quiesce-maintenance.timer", timer),
    ]
    .iter()
    .map(|(name, text)| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write a unit");
        path
    })
    .collect();
    let output = Command::new("systemd-analyze")
        .arg("verify")
        .args(&paths)
        .output()
        .expect("systemd-analyze runs");
    assert!(
        output.status.success(),
        "{}{}",
        text(&output.stdout),
        text(&output.stderr)
    );
}
