//! [`TestCluster`]: a simulator for one test, started in-process from seed YAML text or a seed
//! file (or run as the real binary, see [`super::SimProcess`]), and the HTTP calls tests make
//! on it: requests, the ML shortcuts (put a job, read its state, wait for a state), and the
//! `/_sim/` control API (fault rules, stats, ordering violations).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};

use super::answer::Answer;
use super::poll;
use super::process::SimProcess;
use crate::{EsVersion, Profile, Seed, SimOptions, Simulator, TlsOptions};

/// How long one HTTP call may take before the test fails (a hung simulator, not a slow one).
const REQUEST_LIMIT: Duration = Duration::from_secs(60);

/// Where the seed comes from.
#[derive(Debug, Clone, Default)]
pub(super) enum SeedText {
    /// An empty cluster: one ML node, security off.
    #[default]
    Empty,
    Yaml(String),
    File(PathBuf),
}

/// How to start a [`TestCluster`]: the seed, and what overrides it.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct TestClusterBuilder {
    seed: SeedText,
    es_version: Option<EsVersion>,
    profile: Option<Profile>,
    /// `Some`: serve HTTPS.
    tls: Option<TlsOptions>,
    listen: Option<SocketAddr>,
}

impl TestClusterBuilder {
    /// A seed given as YAML text.
    pub fn seed(mut self, yaml: &str) -> Self {
        self.seed = SeedText::Yaml(yaml.to_owned());
        self
    }

    /// A seed file.
    pub fn seed_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.seed = SeedText::File(path.into());
        self
    }

    /// Behave as this Elasticsearch version (`X.Y.Z`), whatever the seed says.
    ///
    /// # Panics
    /// When `version` is not `X.Y.Z`.
    pub fn es_version(mut self, version: &str) -> Self {
        let parsed = version
            .parse()
            .unwrap_or_else(|error| panic!("test ES version `{version}`: {error}"));
        self.es_version = Some(parsed);
        self
    }

    /// Use this latency profile, whatever the seed says.
    pub fn profile(mut self, profile: Profile) -> Self {
        self.profile = Some(profile);
        self
    }

    /// Serve HTTPS with a certificate from a generated CA (covering `localhost`,
    /// `127.0.0.1`, `::1` and `extra_names`); the test client trusts that CA
    /// ([`TestCluster::ca_pem`]).
    pub fn tls(mut self, extra_names: &[&str]) -> Self {
        self.tls = Some(TlsOptions {
            extra_names: extra_names.iter().map(|name| (*name).to_owned()).collect(),
            ca_out: None,
        });
        self
    }

    /// Listen on this address (port 0: any free port) instead of a free port of 127.0.0.1.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = Some(addr);
        self
    }

    /// Starts the simulator in this process, on a free port of 127.0.0.1.
    ///
    /// # Panics
    /// When the seed is refused or the simulator cannot start.
    pub async fn start(self) -> TestCluster {
        let seed = self.read_seed();
        let version = self.version_of(&seed);
        let options = SimOptions {
            listen: self.listen.unwrap_or(([127, 0, 0, 1], 0).into()),
            seed,
            es_version: self.es_version,
            profile: self.profile,
        };
        let started = match self.tls {
            Some(tls) => Simulator::start_tls(options, tls).await,
            None => Simulator::start(options).await,
        };
        let simulator =
            started.unwrap_or_else(|error| panic!("the test simulator does not start: {error:?}"));
        TestCluster::new(simulator.base_url(), version, Some(simulator))
    }

    /// Runs the `quiesce-sim` binary at `binary` (`env!("CARGO_BIN_EXE_quiesce-sim")`) with
    /// `--listen 127.0.0.1:0` and this seed, version and profile as arguments, and waits for
    /// its `listening on http://HOST:PORT` line. For tests of the command line itself.
    ///
    /// # Panics
    /// When the seed is refused or the binary prints no `listening on` line.
    pub async fn spawn(self, binary: impl AsRef<Path>) -> SimProcess {
        let version = self.version_of(&self.read_seed());
        let mut args = vec!["--listen".to_owned(), "127.0.0.1:0".to_owned()];
        if let Some(version) = self.es_version {
            args.extend(["--es-version".to_owned(), version.to_string()]);
        }
        if let Some(profile) = self.profile {
            let name = match profile {
                Profile::Fast => "fast",
                Profile::Realistic => "realistic",
            };
            args.extend(["--profile".to_owned(), name.to_owned()]);
        }
        let tls_names = self.tls.map(|tls| tls.extra_names);
        if let Some(names) = &tls_names {
            args.push("--tls".to_owned());
            for name in names {
                args.extend(["--tls-name".to_owned(), name.clone()]);
            }
        }
        SimProcess::spawn(
            binary.as_ref(),
            args,
            &self.seed,
            version,
            tls_names.is_some(),
        )
        .await
    }

    fn read_seed(&self) -> Seed {
        let read = match &self.seed {
            SeedText::Empty => Ok(Seed::default()),
            SeedText::Yaml(yaml) => Seed::from_yaml_str(yaml, "test-seed.yaml"),
            SeedText::File(path) => Seed::from_path(path),
        };
        read.unwrap_or_else(|error| panic!("the test seed is refused: {error:?}"))
    }

    /// The version the simulator will behave as: the override, else the seed's, else the
    /// default.
    fn version_of(&self, seed: &Seed) -> EsVersion {
        self.es_version
            .or(seed.cluster.version)
            .unwrap_or(EsVersion::DEFAULT)
    }
}

/// A simulator for one test and an HTTP client for it. Dropping it stops the simulator.
pub struct TestCluster {
    base: String,
    client: reqwest::Client,
    /// Whether the simulated version sends `X-elastic-product` (§8); a rolling upgrade may
    /// change it ([`TestCluster::expect_version`]).
    product_header: AtomicBool,
    /// The in-process simulator; `None` when a spawned binary serves.
    simulator: Option<Simulator>,
    /// The CA the HTTPS certificate is signed by, when serving HTTPS.
    ca_pem: Option<String>,
}

impl TestCluster {
    pub(super) fn new(base: String, version: EsVersion, simulator: Option<Simulator>) -> Self {
        let ca_pem = simulator
            .as_ref()
            .and_then(Simulator::ca_pem)
            .map(str::to_owned);
        TestCluster::serving(base, version, simulator, ca_pem)
    }

    pub(super) fn serving(
        base: String,
        version: EsVersion,
        simulator: Option<Simulator>,
        ca_pem: Option<String>,
    ) -> Self {
        // The harness drives the control endpoints as their owner: with the control token.
        let token = simulator
            .as_ref()
            .and_then(Simulator::control_token)
            .map(str::to_owned);
        TestCluster {
            base,
            client: client_trusting(ca_pem.as_deref(), token.as_deref()),
            product_header: AtomicBool::new(version.sends_product_header()),
            simulator,
            ca_pem,
        }
    }

    /// The PEM of the CA that signed the simulator's HTTPS certificate (`None` over HTTP).
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// From now on, expect the answers of this version (after a rolling upgrade, §8).
    ///
    /// # Panics
    /// When `version` is not `X.Y.Z`.
    pub fn expect_version(&self, version: &str) {
        let version: EsVersion = version
            .parse()
            .unwrap_or_else(|error| panic!("test ES version `{version}`: {error}"));
        self.product_header
            .store(version.sends_product_header(), Ordering::SeqCst);
    }

    /// Options for a test cluster: seed, ES version, latency profile.
    pub fn builder() -> TestClusterBuilder {
        TestClusterBuilder::default()
    }

    /// An empty cluster: one ML node, security off, 8.15.0, fast profile.
    pub async fn empty() -> TestCluster {
        TestCluster::builder().start().await
    }

    /// A cluster from seed YAML text.
    pub async fn with_seed(yaml: &str) -> TestCluster {
        TestCluster::builder().seed(yaml).start().await
    }

    /// `http://HOST:PORT`.
    pub fn base_url(&self) -> String {
        self.base.clone()
    }

    /// The base URL followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The HTTP client the helpers use (a request limit of a minute, no credentials).
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// A request to `path`, to add headers, credentials or a body to and then [`Self::send`].
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// Sends a request and reads the whole answer.
    ///
    /// # Panics
    /// When no answer comes (use [`Self::try_send`] where that is expected).
    pub async fn send(&self, request: RequestBuilder) -> Answer {
        self.try_send(request)
            .await
            .unwrap_or_else(|error| panic!("HTTP request to the simulator: {error}"))
    }

    /// Sends a request; an error when the connection fails or closes unanswered.
    pub async fn try_send(&self, request: RequestBuilder) -> Result<Answer, reqwest::Error> {
        Answer::read(request.send().await?, self.product_header()).await
    }

    /// `method path` with an optional JSON body.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str) -> Answer {
        self.call(Method::POST, path, None).await
    }

    pub async fn post_json(&self, path: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn put_json(&self, path: &str, body: Value) -> Answer {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.call(Method::DELETE, path, None).await
    }

    /// `POST path` on a spawned task, so a test can act while the call waits.
    pub fn post_in_background(&self, path: &str) -> tokio::task::JoinHandle<Answer> {
        let request = self.request(Method::POST, path);
        let product_header = self.product_header();
        tokio::spawn(async move {
            let response = request.send().await.expect("background request");
            Answer::read(response, product_header)
                .await
                .expect("background answer")
        })
    }

    /// `PUT` a job with the minimal body of §2.10, `extra` fields merged in.
    pub async fn put_job(&self, id: &str, extra: Value) -> Answer {
        let mut body = json!({
            "analysis_config": { "detectors": [{ "function": "count" }] },
            "data_description": {},
        });
        if let (Some(target), Some(more)) = (body.as_object_mut(), extra.as_object()) {
            for (key, value) in more {
                target.insert(key.clone(), value.clone());
            }
        }
        self.put_json(&format!("/_ml/anomaly_detectors/{id}"), body)
            .await
    }

    /// `PUT` a datafeed with the minimal body of §2.11.
    pub async fn put_datafeed(&self, id: &str, job: &str) -> Answer {
        self.put_json(
            &format!("/_ml/datafeeds/{id}"),
            json!({ "job_id": job, "indices": [format!("{job}-*")] }),
        )
        .await
    }

    /// The one stats element of job `id`.
    pub async fn job_stats(&self, id: &str) -> Value {
        let answer = self
            .get(&format!("/_ml/anomaly_detectors/{id}/_stats"))
            .await;
        let body = answer.ok();
        assert_eq!(body["count"], 1, "stats of job {id}: {}", answer.text);
        body["jobs"][0].clone()
    }

    /// The one stats element of datafeed `id`.
    pub async fn datafeed_stats(&self, id: &str) -> Value {
        let answer = self.get(&format!("/_ml/datafeeds/{id}/_stats")).await;
        let body = answer.ok();
        assert_eq!(body["count"], 1, "stats of datafeed {id}: {}", answer.text);
        body["datafeeds"][0].clone()
    }

    pub async fn job_state(&self, id: &str) -> String {
        state_of(&self.job_stats(id).await)
    }

    pub async fn datafeed_state(&self, id: &str) -> String {
        state_of(&self.datafeed_stats(id).await)
    }

    /// Polls job stats until the job reports `state`; gives that stats element.
    pub async fn wait_job(&self, id: &str, state: &str) -> Value {
        poll(&format!("job {id} reaches {state}"), async || {
            let stats = self.job_stats(id).await;
            if stats["state"] == state {
                Ok(stats)
            } else {
                Err(stats)
            }
        })
        .await
    }

    /// Polls datafeed stats until the datafeed reports `state`; gives that stats element.
    pub async fn wait_datafeed(&self, id: &str, state: &str) -> Value {
        poll(&format!("datafeed {id} reaches {state}"), async || {
            let stats = self.datafeed_stats(id).await;
            if stats["state"] == state {
                Ok(stats)
            } else {
                Err(stats)
            }
        })
        .await
    }

    /// `GET /_sim/stats`: requests per operation and status, ordering violations, states.
    pub async fn sim_stats(&self) -> Value {
        self.get("/_sim/stats").await.ok().clone()
    }

    /// Replaces the fault rules (`PUT /_sim/faults {"faults": rules}`).
    pub async fn set_faults(&self, rules: Value) {
        let answer = self
            .put_json("/_sim/faults", json!({ "faults": rules }))
            .await;
        assert!(
            answer.status.is_success(),
            "PUT /_sim/faults: {}",
            answer.text
        );
    }

    /// Removes every fault rule (`DELETE /_sim/faults`).
    pub async fn clear_faults(&self) {
        let answer = self.delete("/_sim/faults").await;
        assert!(
            answer.status.is_success(),
            "DELETE /_sim/faults: {}",
            answer.text
        );
    }

    /// Makes job `id` fail (`POST /_sim/anomaly_detectors/<id>/_fail`).
    pub async fn fail_job(&self, id: &str) {
        let answer = self
            .post(&format!("/_sim/anomaly_detectors/{id}/_fail"))
            .await;
        assert!(answer.status.is_success(), "_fail {id}: {}", answer.text);
    }

    /// `/_sim/stats` lists no ordering violation: no close while the job's datafeed ran, no
    /// start while its job was not opened.
    pub async fn assert_no_ordering_violation(&self) {
        let stats = self.sim_stats().await;
        assert_eq!(
            stats["ordering_violations"],
            json!([]),
            "ordering violations: {stats}"
        );
    }

    /// Stops the simulator and waits for it (an in-process one; a spawned binary is killed).
    pub async fn shutdown(mut self) {
        if let Some(simulator) = self.simulator.take() {
            simulator.shutdown().await;
        }
    }
}

impl TestCluster {
    fn product_header(&self) -> bool {
        self.product_header.load(Ordering::SeqCst)
    }
}

/// The test HTTP client: a request limit of a minute, trusting `ca` when given.
fn client_trusting(ca: Option<&str>, control_token: Option<&str>) -> reqwest::Client {
    let mut builder = reqwest::Client::builder().timeout(REQUEST_LIMIT);
    if let Some(token) = control_token.and_then(|t| reqwest::header::HeaderValue::from_str(t).ok())
    {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(crate::CONTROL_TOKEN_HEADER, token);
        builder = builder.default_headers(headers);
    }
    if let Some(ca) = ca {
        let certificate = reqwest::Certificate::from_pem(ca.as_bytes())
            .unwrap_or_else(|error| panic!("the simulator's CA is not PEM: {error}"));
        builder = builder.add_root_certificate(certificate);
    }
    builder
        .build()
        .unwrap_or_else(|error| panic!("cannot build the test HTTP client: {error}"))
}

fn state_of(stats: &Value) -> String {
    stats["state"]
        .as_str()
        .unwrap_or_else(|| panic!("stats without a state: {stats}"))
        .to_owned()
}
