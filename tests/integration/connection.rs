//! What quiesce says about the cluster it talks to, through the real binary: a server that is
//! not Elasticsearch, credentials refused (401) or short of a privilege (403, `monitor`), and
//! the `--verbose` log of every HTTP exchange, which never shows a secret.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use axum::Router;
use axum::routing::any;

use crate::rig::Rig;

const SECURED: &str = r#"
cluster: { name: secured, version: 8.15.0 }
security:
  roles:
    quiesce-index: { indices: [{ names: ['.quiesce'], privileges: [create_index, read, write] }] }
  users:
    - { username: ml-admin, password: ml-admin-pw-7781, roles: [manage_ml, quiesce-index] }
    - { username: mon, password: mon-pw-5521, roles: [monitor] }
    - { username: nobody, password: nobody-pw-3141, roles: [] }
  api_keys:
    - { id: quiesceci0000000000001, key: api-key-secret-9Zq3, roles: [manage_ml, monitor, quiesce-index] }
jobs:
  - { id: web-latency, groups: [web], state: opened }
datafeeds:
  - { id: datafeed-web-latency, job: web-latency, state: started }
"#;

const CLOSE_WEB: &str = "version: 1\njobs:\n  - id: web-latency\n    state: closed\n";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `quiesce ARGS` in `dir`, against `cluster`, with `env` as the only credentials.
async fn run(dir: &Path, cluster: &str, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_quiesce"));
    command
        .current_dir(dir)
        .args(args)
        .args(["--cluster", cluster, "--color", "never"])
        .env_remove("ES_URL")
        .env_remove("ES_API_KEY")
        .env_remove("ES_USERNAME")
        .env_remove("ES_PASSWORD")
        .env_remove("ES_BEARER_TOKEN")
        .env_remove("QUIESCE_STATE_DIR")
        .stdin(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    tokio::task::spawn_blocking(move || command.output().expect("the binary runs"))
        .await
        .expect("joined")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_is_not_elasticsearch_is_named_for_what_it_is() {
    let app = Router::new().fallback(any(|| async {
        (
            [("content-type", "text/html")],
            "<!DOCTYPE html><html><head><title>Welcome to nginx!</title></head><body>It works</body></html>",
        )
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let rig = Rig::new("").await;
    std::fs::write(rig.dir.join("p.yaml"), CLOSE_WEB).expect("playbook");
    let output = run(&rig.dir, &url, &[], &["plan", "p.yaml"]).await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("quiesce::es::not_elasticsearch"),
        "{stderr}"
    );
    assert!(stderr.contains("is not Elasticsearch"), "{stderr}");
    assert!(stderr.contains("HTTP 200 `text/html`"), "{stderr}");
    assert!(stderr.contains("Welcome to nginx!"), "{stderr}");
    assert!(!stderr.contains("please report it"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_credentials_say_what_to_check() {
    let rig = Rig::new(SECURED).await;
    std::fs::write(rig.dir.join("p.yaml"), CLOSE_WEB).expect("playbook");
    let url = rig.sim.base_url();

    let wrong = [
        ("ES_USERNAME", "ml-admin"),
        ("ES_PASSWORD", "not-the-password"),
    ];
    let output = run(&rig.dir, &url, &wrong, &["plan", "p.yaml"]).await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("401"), "{stderr}");
    assert!(
        stderr.contains("did not accept the credentials"),
        "{stderr}"
    );
    assert!(!stderr.contains("not-the-password"), "{stderr}");

    // No privilege at all: the ML calls are refused, and the help names `manage_ml`.
    let monitor = [("ES_USERNAME", "nobody"), ("ES_PASSWORD", "nobody-pw-3141")];
    let output = run(&rig.dir, &url, &monitor, &["plan", "p.yaml"]).await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("403"), "{stderr}");
    assert!(stderr.contains("`manage_ml`"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_without_monitor_say_why_the_cluster_is_unknown_once() {
    let rig = Rig::new(SECURED).await;
    std::fs::write(rig.dir.join("p.yaml"), CLOSE_WEB).expect("playbook");
    let ml_only = [
        ("ES_USERNAME", "ml-admin"),
        ("ES_PASSWORD", "ml-admin-pw-7781"),
    ];
    for args in [
        &["status", "p.yaml"][..],
        &["apply", "p.yaml", "--dry-run"][..],
    ] {
        let output = run(&rig.dir, &rig.sim.base_url(), &ml_only, args).await;
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
        assert_eq!(
            stderr
                .matches("lack the cluster privilege `monitor`")
                .count(),
            1,
            "{args:?}: once: {stderr}"
        );
    }
}

/// `-v` logs method, path with query, status and time of every exchange, and no secret reaches
/// stdout, stderr or any file the run writes (journal, plan).
#[tokio::test(flavor = "multi_thread")]
async fn verbose_logs_every_exchange_and_no_secret() {
    let rig = Rig::new(SECURED).await;
    std::fs::write(rig.dir.join("p.yaml"), CLOSE_WEB).expect("playbook");
    let url = rig.sim.base_url();
    let key = [("ES_API_KEY", "quiesceci0000000000001:api-key-secret-9Zq3")];
    let basic = [
        ("ES_USERNAME", "ml-admin"),
        ("ES_PASSWORD", "ml-admin-pw-7781"),
    ];
    // Credentials in the URL too: they must not show in the log either.
    let with_userinfo = url.replacen("http://", "http://ml-admin:ml-admin-pw-7781@", 1);
    let mut outputs = Vec::new();
    outputs.push(
        run(
            &rig.dir,
            &url,
            &key,
            &["-v", "plan", "p.yaml", "-o", "plan.json"],
        )
        .await,
    );
    outputs.push(
        run(
            &rig.dir,
            &with_userinfo,
            &[],
            &["--verbose", "status", "p.yaml"],
        )
        .await,
    );
    outputs.push(
        run(
            &rig.dir,
            &url,
            &basic,
            &["-v", "apply", "p.yaml", "--yes", "--output", "json"],
        )
        .await,
    );
    for output in &outputs {
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    }
    let stderr = text(&outputs[2].stderr);
    assert!(stderr.contains("http: GET /_ml/info -> 200 ("), "{stderr}");
    assert!(
        stderr.contains("http: POST /_ml/anomaly_detectors/web-latency/_close?"),
        "{stderr}"
    );
    assert!(
        stderr.contains("http: POST /_security/user/_has_privileges -> 200"),
        "{stderr}"
    );
    let secrets = [
        "api-key-secret-9Zq3",
        // base64("quiesceci0000000000001:api-key-secret-9Zq3") and of the basic pair.
        "cXVpZXNjZWNpMDAwMDAwMDAwMDAwMTphcGkta2V5LXNlY3JldC05WnEz",
        "ml-admin-pw-7781",
        "bWwtYWRtaW46bWwtYWRtaW4tcHctNzc4MQ==",
        "Authorization",
        "authorization",
    ];
    let mut texts: Vec<(String, String)> = Vec::new();
    for (i, output) in outputs.iter().enumerate() {
        texts.push((format!("stdout {i}"), text(&output.stdout)));
        texts.push((format!("stderr {i}"), text(&output.stderr)));
    }
    for file in files_under(&rig.dir) {
        texts.push((
            file.display().to_string(),
            text(&std::fs::read(&file).expect("read")),
        ));
    }
    assert!(
        texts.len() > 7,
        "journal and plan files were written: {}",
        texts.len()
    );
    for (place, content) in &texts {
        for secret in secrets {
            assert!(!content.contains(secret), "`{secret}` in {place}");
        }
    }
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)
        .expect("read dir")
        .filter_map(Result::ok)
    {
        let path = entry.path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// `--cluster sim:FILE` naming a missing seed speaks of `--cluster sim:`, not of `--seed`.
#[tokio::test(flavor = "multi_thread")]
async fn a_missing_simulator_seed_names_the_option_that_was_given() {
    let rig = Rig::new("").await;
    std::fs::write(rig.dir.join("p.yaml"), CLOSE_WEB).expect("playbook");
    let output = run(&rig.dir, "sim:no-such-seed.yaml", &[], &["plan", "p.yaml"]).await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("quiesce::cluster::sim_seed"), "{stderr}");
    assert!(
        stderr.contains("--cluster sim:no-such-seed.yaml"),
        "{stderr}"
    );
    assert!(!stderr.contains("--seed"), "{stderr}");
}
