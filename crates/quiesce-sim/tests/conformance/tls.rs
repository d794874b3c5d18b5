//! HTTPS (crates/quiesce-sim/README.md "TLS"): `--tls` serves a certificate signed by a CA the
//! simulator generates, covering `localhost`, `127.0.0.1`, `::1` and `--tls-name`s; clients
//! that trust the CA's PEM connect, others are refused by their own verification.

use serde_json::json;

use quiesce_sim::testing::TestCluster;

const BINARY: &str = env!("CARGO_BIN_EXE_quiesce-sim");

#[tokio::test]
async fn the_in_process_simulator_serves_https_to_clients_that_trust_its_ca() {
    let sim = TestCluster::builder()
        .seed("jobs: [{id: j1, state: opened}]")
        .tls(&["es.internal"])
        .start()
        .await;
    assert!(sim.base_url().starts_with("https://127.0.0.1:"));
    let ca = sim.ca_pem().expect("a CA").to_owned();
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
    assert_eq!(sim.job_state("j1").await, "opened");
    // Through `localhost`, a name the certificate covers.
    let port = sim
        .base_url()
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_owned();
    let answer = sim
        .client()
        .get(format!("https://localhost:{port}/"))
        .send()
        .await
        .expect("localhost is covered");
    assert_eq!(answer.status(), 200);
    // A client that does not trust the CA refuses the certificate.
    let untrusting = reqwest::Client::new();
    let refused = untrusting.get(sim.url("/")).send().await;
    assert!(refused.is_err(), "an unknown CA must be refused");
}

#[tokio::test]
async fn tls_turns_on_the_bearer_challenge_as_the_token_service_does() {
    // xpack.security.authc.token.enabled defaults to xpack.security.http.ssl.enabled; with it,
    // 401s offer `Bearer realm="security"` between Basic and ApiKey.
    let sim = TestCluster::builder()
        .seed("security: {users: [{username: admin, password: pw, roles: [all]}]}")
        .tls(&[])
        .start()
        .await;
    let resp = sim.get("/").await;
    let error = resp.assert_envelope(401, "security_exception");
    assert_eq!(
        error["header"],
        json!({"WWW-Authenticate": [
            "Basic realm=\"security\" charset=\"UTF-8\"",
            "Bearer realm=\"security\"",
            "ApiKey"
        ]})
    );
}

#[tokio::test]
async fn the_binary_serves_https_and_writes_its_ca_where_asked() {
    let sim = TestCluster::builder()
        .seed("jobs: [{id: j1, state: opened}]")
        .tls(&["sim.example"])
        .spawn(BINARY)
        .await;
    assert!(sim.base_url().starts_with("https://127.0.0.1:"));
    assert_eq!(sim.job_state("j1").await, "opened");
    let (_, stderr) = sim.finish();
    assert!(
        stderr.contains("CA certificate (PEM): "),
        "the CA path is on stderr: {stderr}"
    );
}
