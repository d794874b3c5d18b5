//! Every row of the exit-code table, produced by the real binary, and the table itself the same
//! in `src/exit_code.rs`, `quiesce --help`, the README and docs/architecture.md §1.3.
//!
//! 130 (interrupted) is produced by the signal tests in `apply.rs`.

use std::path::Path;
use std::process::Output;

use crate::rig::{Rig, stderr};

const SEED: &str = r#"
cluster: { name: exit-codes, version: 8.15.0 }
jobs:
  - { id: web-latency, groups: [web], state: opened }
  - { id: broken, groups: [batch], state: failed }
datafeeds:
  - { id: datafeed-web-latency, job: web-latency, state: started }
"#;

const CLOSE_WEB: &str = "version: 1\njobs:\n  - id: web-latency\n    state: closed\n";

/// Runs `quiesce ARGS` in the rig's directory with `playbook` as `playbook.yaml`, against the
/// rig's simulator unless `args` name a cluster, with no terminal.
async fn run(rig: &Rig, playbook: &str, args: &[&str]) -> Output {
    std::fs::write(rig.dir.join("playbook.yaml"), playbook).expect("playbook");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_quiesce"));
    command
        .current_dir(&rig.dir)
        .args(args)
        .args(["--color", "never"])
        .env_remove("ES_URL")
        .env_remove("ES_API_KEY")
        .env_remove("ES_USERNAME")
        .env_remove("ES_PASSWORD")
        .env_remove("ES_BEARER_TOKEN")
        .env_remove("QUIESCE_STATE_DIR")
        .stdin(std::process::Stdio::null());
    if !args.contains(&"--cluster") {
        command.args(["--cluster", &rig.sim.base_url()]);
    }
    tokio::task::spawn_blocking(move || command.output().expect("the binary runs"))
        .await
        .expect("joined")
}

/// Requests the simulator has answered so far, all kinds together.
async fn requests(rig: &Rig) -> u64 {
    let stats = rig.stats().await;
    stats["requests"]
        .as_object()
        .expect("requests")
        .values()
        .flat_map(|by_status| by_status.as_object().expect("statuses").values())
        .map(|n| n.as_u64().expect("count"))
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_exit_code_means_what_the_table_says() {
    let rig = Rig::new(SEED).await;

    // 2: an invalid playbook; nothing was contacted.
    let before = requests(&rig).await;
    let invalid = run(
        &rig,
        "version: 1\njobs:\n  - id: Web\n    state: shut\n",
        &["plan", "playbook.yaml"],
    )
    .await;
    assert_eq!(invalid.status.code(), Some(2), "{}", stderr(&invalid));
    assert_eq!(
        requests(&rig).await,
        before,
        "2 means nothing was contacted"
    );

    // 3: nothing listens there.
    let unreachable = run(
        &rig,
        CLOSE_WEB,
        &["plan", "playbook.yaml", "--cluster", "http://127.0.0.1:9"],
    )
    .await;
    assert_eq!(
        unreachable.status.code(),
        Some(3),
        "{}",
        stderr(&unreachable)
    );

    // 4: changes pending.
    let pending = run(
        &rig,
        CLOSE_WEB,
        &["plan", "playbook.yaml", "--detailed-exitcode"],
    )
    .await;
    assert_eq!(pending.status.code(), Some(4), "{}", stderr(&pending));

    // 5: the playbook does not fit the cluster as observed (an id it lacks).
    let unknown = "version: 1\njobs:\n  - id: no-such-job\n    state: closed\n";
    let misfit = run(&rig, unknown, &["plan", "playbook.yaml"]).await;
    assert_eq!(misfit.status.code(), Some(5), "{}", stderr(&misfit));
    assert!(stderr(&misfit).contains("quiesce::plan::unknown_id"));
    // ...but the same problem offline is the playbook's alone: 2.
    let offline = run(&rig, "version: 1\njobs:\n  - id: a\n    state: closed\n    after: [b]\n  - id: b\n    state: closed\n    after: [a]\n", &["plan", "playbook.yaml", "--offline"]).await;
    assert_eq!(offline.status.code(), Some(2), "{}", stderr(&offline));

    // 6: not confirmed (no terminal, no `--yes`): the cluster was read, nothing changed.
    let unconfirmed = run(&rig, CLOSE_WEB, &["apply", "playbook.yaml"]).await;
    assert_eq!(
        unconfirmed.status.code(),
        Some(6),
        "{}",
        stderr(&unconfirmed)
    );
    assert_eq!(rig.stats().await["jobs"]["web-latency"], "opened");

    // 0: every target reached its state.
    let applied = run(&rig, CLOSE_WEB, &["apply", "playbook.yaml", "--yes"]).await;
    assert_eq!(applied.status.code(), Some(0), "{}", stderr(&applied));

    // 1: a step failed (a failed job needs a forced close, and `force` is `never`).
    let close_broken = "version: 1\njobs:\n  - id: broken\n    state: closed\n";
    let failed = run(&rig, close_broken, &["apply", "playbook.yaml", "--yes"]).await;
    assert_eq!(failed.status.code(), Some(1), "{}", stderr(&failed));

    // 8: every step succeeded, but the datafeed brought back makes no progress (its searches
    // fail: the simulator's stall, docs/elasticsearch-ml-api.md §14.2).
    rig.faults(serde_json::json!([{"operation": "datafeed_progress", "target": "datafeed-web-latency", "stall": true}]))
        .await;
    let up = "version: 1\njobs:\n  - id: web-latency\n    state: opened\ndatafeeds:\n  - id: datafeed-web-latency\n    state: started\n";
    let unverified = run(
        &rig,
        up,
        &["apply", "playbook.yaml", "--yes", "--verify-timeout", "3s"],
    )
    .await;
    assert_eq!(unverified.status.code(), Some(8), "{}", stderr(&unverified));
    assert!(stderr(&unverified).contains("datafeed `datafeed-web-latency` not verified"));
    rig.faults(serde_json::json!([])).await;
    let closed = run(&rig, CLOSE_WEB, &["apply", "playbook.yaml", "--yes"]).await;
    assert_eq!(closed.status.code(), Some(0), "{}", stderr(&closed));

    // 5 again: upgrade mode on, and the playbook does not turn it off.
    rig.http
        .post(format!(
            "{}/_ml/set_upgrade_mode?enabled=true",
            rig.sim.base_url()
        ))
        .send()
        .await
        .expect("upgrade mode on");
    let open_web = "version: 1\njobs:\n  - id: web-latency\n    state: opened\n";
    let blocked = run(&rig, open_web, &["apply", "playbook.yaml", "--yes"]).await;
    assert_eq!(blocked.status.code(), Some(5), "{}", stderr(&blocked));
    assert!(stderr(&blocked).contains("quiesce::plan::upgrade_mode"));
}

/// The table of `src/exit_code.rs` is the one `--help`, the README and the architecture page
/// show, row for row.
#[test]
fn the_table_is_the_same_everywhere() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let help = crate::validate::quiesce(&["--help"]);
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README");
    let architecture =
        std::fs::read_to_string(root.join("docs/architecture.md")).expect("architecture");
    for (code, meaning) in quiesce::exit_code::TABLE {
        let row = format!("| {code} | {meaning} |");
        assert!(readme.contains(&row), "README lacks `{row}`");
        assert!(
            architecture.contains(&row),
            "docs/architecture.md lacks `{row}`"
        );
        assert!(
            help.contains(&format!("{code:>3}  {meaning}")),
            "--help lacks {code}: {help}"
        );
    }
    // No row more in the documents than in the code.
    let codes = |text: &str| {
        let at = text.find("| 130 |").expect("the table");
        let start = text[..at].rfind("\n\n").expect("table start");
        text[start..at]
            .lines()
            .filter(|l| l.starts_with("| ") && l[2..].starts_with(|c: char| c.is_ascii_digit()))
            .count()
            + 1
    };
    assert_eq!(
        codes(&readme),
        quiesce::exit_code::TABLE.len(),
        "README rows"
    );
    assert_eq!(
        codes(&architecture),
        quiesce::exit_code::TABLE.len(),
        "architecture rows"
    );
}

/// Declining at the prompt: 6, nothing changed. The prompt needs a terminal, which `script`
/// (util-linux) provides; without it, the no-terminal case above stands for the row.
#[tokio::test(flavor = "multi_thread")]
async fn declining_at_the_prompt_exits_6() {
    let has_script = std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_script {
        return;
    }
    let rig = Rig::new(SEED).await;
    std::fs::write(rig.dir.join("playbook.yaml"), CLOSE_WEB).expect("playbook");
    let line = format!(
        "{} apply playbook.yaml --cluster {} --color never",
        env!("CARGO_BIN_EXE_quiesce"),
        rig.sim.base_url()
    );
    let dir = rig.dir.clone();
    let output = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = std::process::Command::new("script")
            .current_dir(&dir)
            .args(["-qec", &line, "/dev/null"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("script runs");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(b"no\n")
            .expect("answer");
        child.wait_with_output().expect("script ends")
    })
    .await
    .expect("joined");
    let shown = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(shown.contains("Type `yes` to continue"), "{shown}");
    assert_eq!(output.status.code(), Some(6), "{shown}");
    assert_eq!(rig.stats().await["jobs"]["web-latency"], "opened");
}
