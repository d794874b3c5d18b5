//! The README's "Upgrade runbook", run as written: the commands of its `sh` block, in order,
//! against one simulator seeded with the demo cluster, each ending with exit 0. The commands
//! come from README.md itself, so the test changes when the runbook does.
//!
//! What the test adds, and only that: `ES_URL` is the simulator's; `--yes` goes to the
//! commands that would ask at a terminal (there is none here); `RUN_ID` is the id the shutdown
//! printed; the runbook's `workflows/` files are copied into a scratch directory, which the
//! commands run in, so that the capture and the journals stay out of the repository.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::rig::Rig;

/// The commands of the runbook: `(variables exported, command words)` in order.
fn runbook() -> (Vec<(String, String)>, Vec<Vec<String>>) {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let section = &readme[readme
        .find("## Upgrade runbook")
        .expect("the runbook section")..];
    let block = &section[section.find("```sh\n").expect("its sh block") + 6..];
    let block = &block[..block.find("```").expect("the end of the block")];
    let mut exports = Vec::new();
    let mut commands = Vec::new();
    for line in block.lines() {
        // A comment starts at a `#` that begins a word.
        let line = line.find(" #").map_or(line, |at| &line[..at]).trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let words: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        match words[0].as_str() {
            "export" => {
                for pair in &words[1..] {
                    let (name, value) = pair.split_once('=').expect("NAME=value");
                    exports.push((name.to_owned(), value.to_owned()));
                }
            }
            "quiesce" => commands.push(words),
            other => panic!("the runbook runs `{other}`, which this test does not know"),
        }
    }
    (exports, commands)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_readme_runbook_ends_with_every_target_back() {
    let (exports, commands) = runbook();
    assert!(
        commands.len() >= 7,
        "capture, plan, apply, runs, revert, apply, status: {commands:?}"
    );
    let seed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds/demo-cluster.yaml"),
    )
    .expect("the demo seed");
    let rig = Rig::fast(&seed).await;
    let workflows = rig.dir.join("workflows");
    std::fs::create_dir_all(&workflows).expect("workflows");
    for playbook in crate::validate::workflows() {
        let from = Path::new(env!("CARGO_MANIFEST_DIR")).join(&playbook);
        std::fs::copy(&from, rig.dir.join(&playbook)).expect("copy a workflow");
    }

    let mut run_id: Option<String> = None;
    for words in commands {
        let mut args: Vec<String> = words[1..]
            .iter()
            .map(|word| match (word.as_str(), &run_id) {
                ("RUN_ID", Some(id)) => id.clone(),
                ("RUN_ID", None) => panic!("RUN_ID before any run"),
                _ => word.clone(),
            })
            .collect();
        if matches!(args[0].as_str(), "apply" | "revert" | "resume") {
            args.push("--yes".to_owned());
        }
        let mut command = Command::new(env!("CARGO_BIN_EXE_quiesce"));
        command
            .current_dir(&rig.dir)
            .args(&args)
            .args(["--color", "never"])
            .env_remove("ES_USERNAME")
            .env_remove("ES_PASSWORD")
            .env_remove("ES_BEARER_TOKEN")
            .env_remove("ES_CA_CERT")
            .env_remove("QUIESCE_STATE_DIR")
            .stdin(Stdio::null());
        for (name, value) in &exports {
            let value = if name == "ES_URL" {
                rig.sim.base_url()
            } else {
                value.clone()
            };
            command.env(name, value);
        }
        let output: Output =
            tokio::task::spawn_blocking(move || command.output().expect("the binary runs"))
                .await
                .expect("joined");
        let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
        assert_eq!(
            output.status.code(),
            Some(0),
            "`quiesce {}` exited {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
            args.join(" "),
            output.status.code()
        );
        if run_id.is_none()
            && let Some(line) = stderr.lines().find(|l| l.starts_with("journal: "))
        {
            let journal = Path::new(line.trim_start_matches("journal: "));
            let stem = journal
                .file_stem()
                .expect("a journal file")
                .to_string_lossy();
            run_id = Some(stem.into_owned());
        }
    }
    assert!(run_id.is_some(), "the shutdown printed its journal");
    rig.assert_no_ordering_violation().await;
}

/// The README's first command (the quick start) works as written, from the repository root;
/// only its journal goes to a scratch directory (`QUIESCE_STATE_DIR`), not into `workflows/`.
#[test]
fn the_quick_start_command_works() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let section = &readme[readme.find("## Quick start").expect("the quick start")..];
    let block = &section[section.find("```sh\n").expect("its sh block") + 6..];
    let first = block.lines().next().expect("a first command");
    let args: Vec<&str> = first
        .strip_prefix("cargo run -- ")
        .unwrap_or_else(|| panic!("`{first}` is not `cargo run -- …`"))
        .split_whitespace()
        .collect();
    let state = tempfile::tempdir().expect("state dir");
    let output = Command::new(env!("CARGO_BIN_EXE_quiesce"))
        .current_dir(root)
        .args(&args)
        .env("QUIESCE_STATE_DIR", state.path())
        .env("NO_COLOR", "1")
        .env_remove("ES_URL")
        .env_remove("ES_API_KEY")
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs");
    assert_eq!(
        output.status.code(),
        Some(0),
        "`{first}`:\n{}",
        text(&output.stderr)
    );
}
