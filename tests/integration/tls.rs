//! The runner against a simulator serving HTTPS (`quiesce_sim::testing` with TLS, and
//! `quiesce sim --tls`): certificate verification is on by default, a CA given by the
//! playbook's `cluster.ca_cert` or by `ES_CA_CERT` is trusted, a name the certificate does not
//! cover is refused, and the README's demo cluster works over HTTPS end to end.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use quiesce_sim::testing::TestCluster;
use tempfile::TempDir;

use crate::rig::stderr;

const SEED: &str = "jobs: [{id: j1, state: opened}]\n";

fn playbook(url: &str, ca_cert: Option<&str>) -> String {
    let ca = ca_cert.map_or_else(String::new, |path| format!("  ca_cert: {path}\n"));
    format!(
        "version: 1\nname: tls-check\ncluster:\n  url: {url}\n{ca}jobs:\n  - id: j1\n    state: opened\n"
    )
}

/// Runs `quiesce ARGS` in `dir` (without credentials or CA from the environment unless given),
/// on a blocking thread so that the in-process simulator keeps serving.
async fn quiesce(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_quiesce"));
    command
        .current_dir(dir)
        .args(args)
        .args(["--color", "never"])
        .env_remove("ES_URL")
        .env_remove("ES_CA_CERT")
        .env_remove("ES_API_KEY")
        .env_remove("ES_BEARER_TOKEN")
        .env_remove("ES_USERNAME")
        .env_remove("ES_PASSWORD")
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    tokio::task::spawn_blocking(move || command.output().expect("quiesce runs"))
        .await
        .expect("joined")
}

/// A diagnostic's words on one line: miette wraps them and draws its margin.
fn flat(text: &str) -> String {
    text.replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

async fn https_sim(listen: &str) -> (TestCluster, TempDir) {
    let sim = TestCluster::builder()
        .seed(SEED)
        .tls(&[])
        .listen(listen.parse().expect("address"))
        .start()
        .await;
    let dir = tempfile::tempdir().expect("scratch");
    std::fs::write(dir.path().join("ca.pem"), sim.ca_pem().expect("a CA")).expect("CA file");
    (sim, dir)
}

#[tokio::test]
async fn verification_is_on_by_default() {
    let (sim, dir) = https_sim("127.0.0.1:0").await;
    std::fs::write(dir.path().join("p.yaml"), playbook(&sim.base_url(), None)).expect("playbook");
    let output = quiesce(dir.path(), &["status", "p.yaml"], &[]).await;
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    // In plain words, with what to do (issue 11, 9): not rustls's `UnknownIssuer`.
    let err = flat(&stderr(&output));
    assert!(
        err.contains("signed by a certificate authority quiesce does not trust"),
        "{err}"
    );
    assert!(err.contains("ES_CA_CERT"), "{err}");
    assert!(!err.contains("UnknownIssuer"), "{err}");
}

#[tokio::test]
async fn the_playbook_ca_cert_is_trusted() {
    let (sim, dir) = https_sim("127.0.0.1:0").await;
    std::fs::write(
        dir.path().join("p.yaml"),
        playbook(&sim.base_url(), Some("ca.pem")),
    )
    .expect("playbook");
    let output = quiesce(
        dir.path(),
        &["status", "p.yaml", "--detailed-exitcode"],
        &[],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[tokio::test]
async fn es_ca_cert_is_trusted() {
    let (sim, dir) = https_sim("127.0.0.1:0").await;
    std::fs::write(dir.path().join("p.yaml"), playbook(&sim.base_url(), None)).expect("playbook");
    let ca = dir.path().join("ca.pem");
    let ca = ca.to_str().expect("a UTF-8 path");
    let output = quiesce(
        dir.path(),
        &["status", "p.yaml", "--detailed-exitcode"],
        &[("ES_CA_CERT", ca)],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

/// A CA file that cannot be read is bad input, found before anything is contacted: exit 2,
/// naming the variable's file.
#[tokio::test]
async fn an_unreadable_ca_certificate_is_invalid_input() {
    let (sim, dir) = https_sim("127.0.0.1:0").await;
    std::fs::write(dir.path().join("p.yaml"), playbook(&sim.base_url(), None)).expect("playbook");
    let output = quiesce(
        dir.path(),
        &["status", "p.yaml"],
        &[("ES_CA_CERT", "missing-ca.pem")],
    )
    .await;
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let err = flat(&stderr(&output));
    assert!(err.contains("quiesce::es::ca_cert"), "{err}");
    assert!(err.contains("missing-ca.pem"), "{err}");
    assert_eq!(sim.sim_stats().await["requests"], serde_json::json!({}));
}

#[tokio::test]
async fn a_name_the_certificate_does_not_cover_is_refused() {
    // The certificate covers localhost, 127.0.0.1 and ::1; 127.0.0.2 is the same machine but
    // not a name in it.
    let (sim, dir) = https_sim("127.0.0.2:0").await;
    assert!(sim.base_url().starts_with("https://127.0.0.2:"));
    std::fs::write(
        dir.path().join("p.yaml"),
        playbook(&sim.base_url(), Some("ca.pem")),
    )
    .expect("playbook");
    let output = quiesce(dir.path(), &["status", "p.yaml"], &[]).await;
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let err = flat(&stderr(&output));
    assert!(
        err.contains("not valid for the host name in the URL"),
        "{err}"
    );
    assert!(err.contains("subject alternative names"), "{err}");
}

/// Issue 11 (9): a self-signed certificate made as a CA (`CA:TRUE`) and served as the server's
/// own: rustls refuses it with `CaUsedAsEndEntity`; quiesce says what that means and what to do.
#[tokio::test]
async fn a_ca_certificate_served_as_the_servers_own_is_explained() {
    use std::sync::Arc;

    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    use tokio_rustls::TlsAcceptor;
    use tokio_rustls::rustls::ServerConfig;
    use tokio_rustls::rustls::crypto::aws_lc_rs;
    use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

    let key = KeyPair::generate().expect("a key");
    let mut params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .expect("names");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).expect("self-signed");
    let config = ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .expect("server config");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("https://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            // The client refuses the certificate: the handshake is all there is.
            let _ = acceptor.accept(stream).await;
        }
    });

    let dir = tempfile::tempdir().expect("scratch");
    std::fs::write(dir.path().join("self-signed.pem"), cert.pem()).expect("certificate");
    std::fs::write(dir.path().join("p.yaml"), playbook(&url, None)).expect("playbook");
    let ca = dir.path().join("self-signed.pem");
    let output = quiesce(
        dir.path(),
        &["status", "p.yaml"],
        &[("ES_CA_CERT", ca.to_str().expect("a UTF-8 path"))],
    )
    .await;
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let err = flat(&stderr(&output));
    assert!(err.contains("CA certificate (CA:TRUE)"), "{err}");
    assert!(err.contains("CA:FALSE"), "{err}");
    assert!(!err.contains("OtherError"), "{err}");
}

/// `quiesce sim --tls` on a free port; gives the process and its `https://` URL.
fn spawn_sim(dir: &Path, seed: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_quiesce"))
        .current_dir(dir)
        .args([
            "sim",
            "--tls",
            "--listen",
            "127.0.0.1:0",
            "--ca-out",
            "ca.pem",
            "--seed",
        ])
        .arg(seed)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("quiesce sim runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the first line");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line: {line:?}"))
        .to_owned();
    (child, url)
}

#[tokio::test]
async fn the_demo_cluster_is_captured_over_https_from_quiesce_sim() {
    let dir = tempfile::tempdir().expect("scratch");
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds/demo-cluster.yaml");
    let (mut sim, url) = spawn_sim(dir.path(), &seed);
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let ca = dir.path().join("ca.pem");
    let ca = ca.to_str().expect("a UTF-8 path").to_owned();
    let output = quiesce(
        dir.path(),
        &["capture", "--cluster", &url, "-o", "before.yaml"],
        &[("ES_CA_CERT", &ca)],
    )
    .await;
    let _ = sim.kill();
    let _ = sim.wait();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let captured = std::fs::read_to_string(dir.path().join("before.yaml")).expect("a capture");
    assert!(captured.contains("web-latency"), "{captured}");
}
