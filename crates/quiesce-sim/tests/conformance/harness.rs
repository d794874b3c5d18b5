//! Runs the real `quiesce sim` binary for one test and talks to it over HTTP.
//!
//! Owns: spawning the child (`sim --listen 127.0.0.1:0`), reading its `listening on` line,
//! killing it on drop, the HTTP client, and the assertions every conformance test shares
//! (product header, content type, the ES error envelope of docs/elasticsearch-ml-api.md §1.3). It never looks
//! at the simulator's code: every expectation comes from docs/elasticsearch-ml-api.md.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStderr, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};

/// How long the child may take to print its `listening on` line.
const STARTUP_LIMIT: Duration = Duration::from_secs(30);
/// How long a state may take to be reached when a test polls for it (fast profile).
const POLL_LIMIT: Duration = Duration::from_secs(10);
const POLL_INTERVAL: Duration = Duration::from_millis(10);

static SEED_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Options for one simulator process.
#[derive(Default)]
pub(crate) struct SimBuilder {
    seed: Option<String>,
    fixture: Option<&'static str>,
    es_version: Option<&'static str>,
    profile: Option<&'static str>,
}

impl SimBuilder {
    /// A seed given inline as YAML text.
    pub(crate) fn seed(mut self, yaml: &str) -> Self {
        self.seed = Some(yaml.to_owned());
        self
    }

    /// A seed file from `tests/fixtures/sim/`.
    pub(crate) fn fixture(mut self, name: &'static str) -> Self {
        self.fixture = Some(name);
        self
    }

    /// `--es-version X.Y.Z`.
    pub(crate) fn es_version(mut self, version: &'static str) -> Self {
        self.es_version = Some(version);
        self
    }

    /// `--profile fast|realistic`.
    pub(crate) fn profile(mut self, profile: &'static str) -> Self {
        self.profile = Some(profile);
        self
    }

    pub(crate) async fn start(self) -> Sim {
        let seed_file = self.seed.map(|yaml| SeedFile::write(&yaml));
        let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let seed_path = match (&seed_file, self.fixture) {
            (Some(file), _) => Some(file.path.clone()),
            (None, Some(name)) => Some(repo.join("tests/fixtures/sim").join(name)),
            (None, None) => None,
        };
        let mut command = Command::new(env!("CARGO_BIN_EXE_quiesce-sim"));
        command.args(["--listen", "127.0.0.1:0"]);
        if let Some(path) = &seed_path {
            command.arg("--seed").arg(path);
        }
        if let Some(version) = self.es_version {
            command.args(["--es-version", version]);
        }
        if let Some(profile) = self.profile {
            command.args(["--profile", profile]);
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("spawn quiesce sim");
        let stdout_rest = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let stderr_reader = drain(
            child.stderr.take().expect("piped stderr"),
            Arc::clone(&stderr),
        );
        let first_line = watch_stdout(
            child.stdout.take().expect("piped stdout"),
            Arc::clone(&stdout_rest),
        );
        let line = tokio::task::spawn_blocking(move || {
            first_line.recv_timeout(STARTUP_LIMIT).ok().flatten()
        })
        .await
        .expect("join the line reader");
        let Some(line) = line else {
            let _ = child.kill();
            let _ = child.wait();
            let _ = stderr_reader.join();
            let stderr = stderr.lock().map(|s| s.clone()).unwrap_or_default();
            panic!("quiesce sim printed no `listening on` line; stderr:\n{stderr}");
        };
        let base = line
            .trim_end()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("first stdout line is not `listening on …`: {line:?}"))
            .to_owned();
        assert!(
            base.starts_with("http://127.0.0.1:"),
            "listening URL should be http://127.0.0.1:PORT, got {base}"
        );
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("reqwest client");
        Sim {
            child,
            stdout_rest,
            stderr,
            base,
            client,
            _seed_file: seed_file,
            product_header: self.es_version.is_none_or(sends_product_header),
        }
    }
}

/// docs/elasticsearch-ml-api.md §8: `X-elastic-product` exists from 7.14 on.
fn sends_product_header(version: &str) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    (major, minor) >= (7, 14)
}

/// Sends the first stdout line (or `None` at EOF) on the returned channel, then keeps
/// appending every further line to `rest`, so the pipe never fills and tests can see it.
fn watch_stdout(stdout: ChildStdout, rest: Arc<Mutex<String>>) -> mpsc::Receiver<Option<String>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let first = match reader.read_line(&mut line) {
            Ok(n) if n > 0 => Some(line),
            _ => None,
        };
        let _ = tx.send(first);
        copy_lines(reader, &rest);
    });
    rx
}

/// Appends everything `source` writes to `into`, on a helper thread.
fn drain(source: ChildStderr, into: Arc<Mutex<String>>) -> JoinHandle<()> {
    std::thread::spawn(move || copy_lines(BufReader::new(source), &into))
}

fn copy_lines(mut reader: impl BufRead, into: &Mutex<String>) {
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
        if let Ok(mut text) = into.lock() {
            text.push_str(&line);
        }
        line.clear();
    }
}

/// A seed written to a temporary file, removed on drop.
struct SeedFile {
    path: PathBuf,
}

impl SeedFile {
    fn write(yaml: &str) -> Self {
        let n = SEED_COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "quiesce-sim-conformance-{}-{n}.yaml",
            std::process::id()
        ));
        std::fs::write(&path, yaml).expect("write seed file");
        SeedFile { path }
    }
}

impl Drop for SeedFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// One running simulator process; killed when dropped.
pub(crate) struct Sim {
    child: Child,
    /// What the child wrote to stdout after its `listening on` line.
    stdout_rest: Arc<Mutex<String>>,
    /// Everything the child wrote to stderr.
    stderr: Arc<Mutex<String>>,
    pub(crate) base: String,
    pub(crate) client: reqwest::Client,
    _seed_file: Option<SeedFile>,
    /// Whether this version sends `X-elastic-product` (§8).
    product_header: bool,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A response, read completely.
#[derive(Debug, Clone)]
pub(crate) struct Resp {
    pub(crate) status: StatusCode,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) text: String,
    /// The body parsed as JSON, `Value::Null` when empty or not JSON.
    pub(crate) body: Value,
    /// Whether the simulated version must send `X-elastic-product` (§8: from 7.14 on).
    pub(crate) product_header_expected: bool,
}

impl Resp {
    /// Reads a whole response; `product_header_expected` as for the simulated version.
    pub(crate) async fn read(response: reqwest::Response, product_header_expected: bool) -> Resp {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("response body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            text,
            body,
            product_header_expected,
        }
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every response carries the product header (§1.4, §9) from 7.14 on, none before (§8).
    pub(crate) fn assert_product_header(&self) -> &Self {
        let expected = self.product_header_expected.then_some("Elasticsearch");
        assert_eq!(
            self.header("x-elastic-product"),
            expected,
            "X-elastic-product header wrong on {} response: {}",
            self.status,
            self.text
        );
        self
    }

    pub(crate) fn assert_json_content_type(&self) -> &Self {
        let content_type = self.header("content-type").unwrap_or_default();
        assert!(
            content_type.starts_with("application/json"),
            "content-type should be application/json, got {content_type:?}"
        );
        self
    }

    /// A 2xx answer with the given status, the product header and JSON.
    pub(crate) fn ok(&self) -> &Value {
        assert_eq!(
            self.status,
            StatusCode::OK,
            "expected 200, got {}",
            self.text
        );
        self.assert_product_header().assert_json_content_type();
        &self.body
    }

    /// The ES error envelope of §1.3 with no `caused_by`; `root_cause` is the top-level error.
    pub(crate) fn assert_error(&self, status: u16, error_type: &str, reason: &str) -> &Value {
        let error = self.assert_envelope(status, error_type);
        assert_eq!(error["reason"], reason, "reason of {}", self.text);
        assert_eq!(
            error["root_cause"][0]["reason"], reason,
            "root_cause of {}",
            self.text
        );
        assert!(
            error.get("caused_by").is_none(),
            "no caused_by expected: {}",
            self.text
        );
        error
    }

    /// The envelope of §1.3 with a `caused_by`; `root_cause` is still the top-level error.
    pub(crate) fn assert_error_caused(
        &self,
        status: u16,
        error_type: &str,
        reason: &str,
        cause_type: &str,
    ) -> &Value {
        let error = self.assert_envelope(status, error_type);
        assert_eq!(error["reason"], reason, "reason of {}", self.text);
        assert_eq!(
            error["root_cause"][0]["reason"], reason,
            "root_cause of {}",
            self.text
        );
        assert_eq!(
            error["caused_by"]["type"], cause_type,
            "caused_by of {}",
            self.text
        );
        &error["caused_by"]
    }

    /// Status, `status` field, `error.type`, a one-element `root_cause` of the same type.
    pub(crate) fn assert_envelope(&self, status: u16, error_type: &str) -> &Value {
        assert_eq!(self.status.as_u16(), status, "HTTP status of {}", self.text);
        self.assert_product_header().assert_json_content_type();
        assert_eq!(self.body["status"], status, "status field of {}", self.text);
        let error = &self.body["error"];
        assert_eq!(error["type"], error_type, "error.type of {}", self.text);
        let root = error["root_cause"]
            .as_array()
            .unwrap_or_else(|| panic!("root_cause should be an array: {}", self.text));
        assert_eq!(root.len(), 1, "one root_cause expected: {}", self.text);
        assert_eq!(
            root[0]["type"], error_type,
            "root_cause type of {}",
            self.text
        );
        error
    }

    /// The flat routing error of §1.2: `{"error":"<message>","status":N}`.
    pub(crate) fn assert_flat_error(&self, status: u16, message: &str) {
        assert_eq!(self.status.as_u16(), status, "HTTP status of {}", self.text);
        self.assert_product_header().assert_json_content_type();
        assert_eq!(
            self.body,
            json!({ "error": message, "status": status }),
            "flat error body"
        );
    }
}

impl Sim {
    /// Stops the child and returns (stdout after the first line, stderr).
    pub(crate) fn finish(mut self) -> (String, String) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The reader threads reach EOF once the child is gone; give them a bounded moment.
        for _ in 0..100 {
            if Arc::strong_count(&self.stderr) == 1 && Arc::strong_count(&self.stdout_rest) == 1 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let read = |text: &Mutex<String>| text.lock().map(|s| s.clone()).unwrap_or_default();
        (read(&self.stdout_rest), read(&self.stderr))
    }

    pub(crate) fn builder() -> SimBuilder {
        SimBuilder::default()
    }

    /// An empty cluster: one ML node, security off, 8.15.0, fast profile.
    pub(crate) async fn empty() -> Sim {
        SimBuilder::default().start().await
    }

    pub(crate) async fn with_seed(yaml: &str) -> Sim {
        SimBuilder::default().seed(yaml).start().await
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    pub(crate) async fn send(&self, request: RequestBuilder) -> Resp {
        let response = request.send().await.expect("HTTP request to the simulator");
        Resp::read(response, self.product_header).await
    }

    /// `POST path` on a spawned task, so a test can act while the call waits.
    pub(crate) fn post_in_background(&self, path: &str) -> tokio::task::JoinHandle<Resp> {
        let request = self.request(Method::POST, path);
        let product_header = self.product_header;
        tokio::spawn(async move {
            let response = request.send().await.expect("background request");
            Resp::read(response, product_header).await
        })
    }

    pub(crate) async fn get(&self, path: &str) -> Resp {
        self.send(self.request(Method::GET, path)).await
    }

    pub(crate) async fn post(&self, path: &str) -> Resp {
        self.send(self.request(Method::POST, path)).await
    }

    pub(crate) async fn post_json(&self, path: &str, body: Value) -> Resp {
        self.send(self.request(Method::POST, path).json(&body))
            .await
    }

    pub(crate) async fn put_json(&self, path: &str, body: Value) -> Resp {
        self.send(self.request(Method::PUT, path).json(&body)).await
    }

    pub(crate) async fn delete(&self, path: &str) -> Resp {
        self.send(self.request(Method::DELETE, path)).await
    }

    /// `PUT` a job with the minimal body of §2.10 plus `extra` fields merged in.
    pub(crate) async fn put_job(&self, id: &str, extra: Value) -> Resp {
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
    pub(crate) async fn put_datafeed(&self, id: &str, job: &str) -> Resp {
        self.put_json(
            &format!("/_ml/datafeeds/{id}"),
            json!({ "job_id": job, "indices": [format!("{job}-*")] }),
        )
        .await
    }

    /// The one stats element of job `id`.
    pub(crate) async fn job_stats(&self, id: &str) -> Value {
        let resp = self
            .get(&format!("/_ml/anomaly_detectors/{id}/_stats"))
            .await;
        let body = resp.ok();
        assert_eq!(body["count"], 1, "stats of job {id}: {}", resp.text);
        body["jobs"][0].clone()
    }

    /// The one stats element of datafeed `id`.
    pub(crate) async fn datafeed_stats(&self, id: &str) -> Value {
        let resp = self.get(&format!("/_ml/datafeeds/{id}/_stats")).await;
        let body = resp.ok();
        assert_eq!(body["count"], 1, "stats of datafeed {id}: {}", resp.text);
        body["datafeeds"][0].clone()
    }

    pub(crate) async fn job_state(&self, id: &str) -> String {
        state_of(&self.job_stats(id).await)
    }

    pub(crate) async fn datafeed_state(&self, id: &str) -> String {
        state_of(&self.datafeed_stats(id).await)
    }

    /// Polls job stats (bounded) until the job reports `state`; returns that stats element.
    pub(crate) async fn wait_job(&self, id: &str, state: &str) -> Value {
        let mut last = Value::Null;
        for _ in 0..(POLL_LIMIT.as_millis() / POLL_INTERVAL.as_millis()) {
            last = self.job_stats(id).await;
            if last["state"] == state {
                return last;
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
        panic!("job {id} never reached state {state}; last stats: {last}");
    }

    /// Polls datafeed stats (bounded) until the datafeed reports `state`.
    pub(crate) async fn wait_datafeed(&self, id: &str, state: &str) -> Value {
        let mut last = Value::Null;
        for _ in 0..(POLL_LIMIT.as_millis() / POLL_INTERVAL.as_millis()) {
            last = self.datafeed_stats(id).await;
            if last["state"] == state {
                return last;
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
        panic!("datafeed {id} never reached state {state}; last stats: {last}");
    }

    /// `GET /_sim/stats`.
    pub(crate) async fn sim_stats(&self) -> Value {
        self.get("/_sim/stats").await.ok().clone()
    }

    /// Replaces the fault rules (`PUT /_sim/faults`).
    pub(crate) async fn set_faults(&self, faults: Value) {
        let resp = self
            .put_json("/_sim/faults", json!({ "faults": faults }))
            .await;
        assert!(resp.status.is_success(), "PUT /_sim/faults: {}", resp.text);
    }
}

fn state_of(stats: &Value) -> String {
    stats["state"]
        .as_str()
        .unwrap_or_else(|| panic!("stats without a state: {stats}"))
        .to_owned()
}

/// The `node` object of job or datafeed stats (§2.7, §2.9): id, name, `ephemeral_id`,
/// `transport_address`, attributes. Returns the node id.
pub(crate) fn assert_node(stats: &Value) -> String {
    let node = &stats["node"];
    for field in ["id", "name", "ephemeral_id", "transport_address"] {
        assert!(
            node[field].as_str().is_some_and(|s| !s.is_empty()),
            "node.{field} should be a non-empty string: {stats}"
        );
    }
    assert!(node["attributes"].is_object(), "node.attributes: {stats}");
    node["id"].as_str().unwrap_or_default().to_owned()
}

/// Asserts a stats element has no `node`.
pub(crate) fn assert_no_node(stats: &Value) {
    assert!(stats.get("node").is_none(), "no node expected: {stats}");
}
