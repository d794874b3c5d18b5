//! Shared helpers: an in-process simulator started from a seed string, an HTTP client, and
//! assertions on ES responses.

use std::time::Duration;

use quiesce_sim::{EsVersion, Seed, SimOptions, Simulator};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// How long a test polls for a state the simulator reaches by itself (fast profile).
const POLL_LIMIT: Duration = Duration::from_secs(10);

/// A simulator running in this process, and a client for it.
pub(crate) struct TestSim {
    pub(crate) sim: Simulator,
    pub(crate) client: reqwest::Client,
}

/// An answer: status, headers, JSON body (`Null` when empty).
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
}

impl Answer {
    /// Asserts an ES error envelope (docs/elasticsearch-ml-api.md §1.3).
    #[track_caller]
    pub(crate) fn assert_error(&self, status: u16, error_type: &str, reason: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(self.body["status"], status, "body: {}", self.body);
        assert_eq!(
            self.body["error"]["type"], error_type,
            "body: {}",
            self.body
        );
        assert_eq!(self.body["error"]["reason"], reason, "body: {}", self.body);
        assert_eq!(self.body["error"]["root_cause"][0]["type"], error_type);
    }

    #[track_caller]
    pub(crate) fn assert_ok(&self) -> &Value {
        assert_eq!(self.status, StatusCode::OK, "body: {}", self.body);
        &self.body
    }
}

/// Starts a simulator from a seed (YAML text).
pub(crate) async fn start(seed: &str) -> TestSim {
    start_as(seed, None).await
}

/// Starts a simulator from a seed, behaving as the given ES version.
pub(crate) async fn start_as(seed: &str, version: Option<&str>) -> TestSim {
    let seed = Seed::from_yaml_str(seed, "test-seed.yaml").expect("the test seed is valid");
    let es_version = version.map(|v| v.parse::<EsVersion>().expect("a valid version"));
    let sim = Simulator::start(SimOptions {
        listen: "127.0.0.1:0".parse().expect("a socket address"),
        seed,
        es_version,
        profile: None,
    })
    .await
    .expect("the simulator starts");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client");
    TestSim { sim, client }
}

impl TestSim {
    pub(crate) async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        self.try_call(method, path, body)
            .await
            .unwrap_or_else(|err| panic!("{path}: {err}"))
    }

    pub(crate) async fn try_call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Answer, reqwest::Error> {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.sim.base_url()));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await?;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("the simulator answers JSON")
        };
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    pub(crate) async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None).await
    }

    pub(crate) async fn post(&self, path: &str) -> Answer {
        self.call(Method::POST, path, None).await
    }

    pub(crate) async fn put(&self, path: &str, body: Value) -> Answer {
        self.call(Method::PUT, path, Some(body)).await
    }

    /// A job's stats entry.
    pub(crate) async fn job(&self, id: &str) -> Value {
        let answer = self
            .get(&format!("/_ml/anomaly_detectors/{id}/_stats"))
            .await;
        answer.assert_ok()["jobs"][0].clone()
    }

    /// A datafeed's stats entry.
    pub(crate) async fn datafeed(&self, id: &str) -> Value {
        let answer = self.get(&format!("/_ml/datafeeds/{id}/_stats")).await;
        answer.assert_ok()["datafeeds"][0].clone()
    }

    /// Polls the job's stats until it reports `state`.
    pub(crate) async fn wait_job(&self, id: &str, state: &str) {
        let deadline = tokio::time::Instant::now() + POLL_LIMIT;
        loop {
            let current = self.job(id).await["state"].clone();
            if current == state {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "job {id} stayed {current}, expected {state}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Polls the datafeed's stats until it reports `state`.
    pub(crate) async fn wait_datafeed(&self, id: &str, state: &str) {
        let deadline = tokio::time::Instant::now() + POLL_LIMIT;
        loop {
            let current = self.datafeed(id).await["state"].clone();
            if current == state {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "datafeed {id} stayed {current}, expected {state}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// `GET /_sim/stats`.
    pub(crate) async fn sim_stats(&self) -> Value {
        self.get("/_sim/stats").await.assert_ok().clone()
    }
}
