//! The `quiesce-sim` command line, run as the real binary (crates/quiesce-sim/README.md): the
//! `listening on http://HOST:PORT` first line and nothing else on stdout, `--es-version`,
//! `--profile`, a `--seed` file, and seeds refused before it listens.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use quiesce_sim::Profile;
use quiesce_sim::testing::{TestCluster, assert_seed_refused};
use reqwest::Method;

const BINARY: &str = env!("CARGO_BIN_EXE_quiesce-sim");

#[tokio::test]
async fn the_first_line_says_where_it_listens_and_nothing_follows() {
    // `spawn` checks the first line is `listening on http://127.0.0.1:PORT`.
    let sim = TestCluster::builder().spawn(BINARY).await;
    let body = sim.get("/").await.ok().clone();
    assert_eq!(body["cluster_name"], "quiesce-sim", "an empty cluster");
    let (stdout, _) = sim.finish();
    assert!(stdout.is_empty(), "one line only: {stdout:?}");
}

#[tokio::test]
async fn es_version_flag_sets_the_reported_version() {
    let sim = TestCluster::builder()
        .es_version("8.4.1")
        .spawn(BINARY)
        .await;
    let body = sim.get("/").await.ok().clone();
    assert_eq!(body["version"]["number"], "8.4.1");
}

#[tokio::test]
async fn realistic_profile_flag_makes_operations_take_hundreds_of_ms() {
    let sim = TestCluster::builder()
        .seed("jobs:\n  - { id: a, model_bytes: 1mb }\n")
        .profile(Profile::Realistic)
        .spawn(BINARY)
        .await;
    let started = Instant::now();
    assert_eq!(
        sim.post("/_ml/anomaly_detectors/a/_open").await.ok()["opened"],
        true
    );
    // A lower bound the profile implies: a realistic open takes 400ms before the restore.
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn invalid_seeds_are_refused() {
    assert_seed_refused(BINARY, "jobz:\n  - id: a\n", "unknown-field");
    assert_seed_refused(
        BINARY,
        "jobs:\n  - id: a\ndatafeeds:\n  - id: df\n    job: a\n    state: started\n",
        "started-datafeed-closed-job",
    );
    assert_seed_refused(
        BINARY,
        "jobs:\n  - id: a\n    state: failed\ndatafeeds:\n  - id: df\n    job: a\n    state: started\n",
        "started-datafeed-failed-job",
    );
    assert_seed_refused(
        BINARY,
        "datafeeds:\n  - id: df\n    job: missing\n",
        "datafeed-without-job",
    );
}

#[tokio::test]
async fn secrets_never_appear_in_the_simulator_output() {
    let sim = TestCluster::builder()
        .seed_file(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/sim/security.yaml"
        ))
        .spawn(BINARY)
        .await;
    let stats = "/_ml/anomaly_detectors/_stats";
    sim.send(
        sim.request(Method::GET, stats)
            .basic_auth("admin", Some("admin-pw")),
    )
    .await
    .ok();
    sim.send(
        sim.request(Method::GET, stats)
            .basic_auth("admin", Some("wrong-pw")),
    )
    .await;
    let key = STANDARD.encode("VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw");
    sim.send(
        sim.request(Method::GET, stats)
            .header("authorization", format!("ApiKey {key}")),
    )
    .await
    .ok();
    let (stdout, stderr) = sim.finish();
    for secret in [
        "admin-pw",
        "wrong-pw",
        "ui2lp2axTNmsyakw9tvNnw",
        "viewer-pw",
    ] {
        assert!(!stdout.contains(secret), "{secret} on stdout: {stdout}");
        assert!(!stderr.contains(secret), "{secret} on stderr: {stderr}");
    }
    assert!(
        stdout.is_empty(),
        "only the `listening on` line is printed: {stdout:?}"
    );
}
