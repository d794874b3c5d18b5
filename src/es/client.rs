//! `EsClient`: sends [`Request`]s with reqwest, checks the product header, decodes responses
//! and classifies failures. One client per cluster; clones share the connection pool.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{Certificate, Url};
use serde::de::DeserializeOwned;

use super::auth::Credentials;
use super::error::{Error, EsErrorBody, Found};
use super::exchange::{Exchange, Observer};
use super::request::{self, Force, Request};
use super::types::{
    Calendar, CalendarsResponse, DatafeedStatsResponse, DatafeedsResponse, EventsResponse,
    JobStatsResponse, JobsResponse, MemoryStatsResponse, MlInfo, ModelSnapshot,
    ModelSnapshotsResponse, RootInfo, ScheduledEvent,
};

/// Where and how to reach a cluster.
#[derive(Debug, Clone)]
pub(crate) struct Connection {
    /// Base URL, e.g. `https://es.example.com:9200`. Credentials embedded in it
    /// (`https://user:pass@host`) are moved into `credentials` and never displayed.
    pub url: String,
    pub credentials: Option<Credentials>,
    /// PEM file with the CA (or bundle) that signed the cluster's HTTP certificate.
    pub ca_cert: Option<PathBuf>,
    pub connect_timeout: Duration,
    /// Deadline for calls that make Elasticsearch wait for nothing (stats, info).
    pub request_timeout: Duration,
    /// Told of every HTTP exchange (for `--verbose`); sees no credentials.
    pub observer: Option<Observer>,
}

impl Connection {
    /// A connection with quiesce's default timeouts (connect 10 s, plain requests 60 s).
    pub(crate) fn new(url: impl Into<String>) -> Connection {
        Connection {
            url: url.into(),
            credentials: None,
            ca_cert: None,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            observer: None,
        }
    }
}

/// The most quiesce reads of one answer. The largest it asks for is a page of stats of every
/// job: 10,000 jobs' stats are 14 MB from the simulator (measured), and Elasticsearch's carry
/// more counters; 128 MiB leaves room for several times that. A server that sends more (or
/// claims to) is refused before the rest is read.
pub(crate) const MAX_ANSWER_BYTES: u64 = 128 * 1024 * 1024;

/// A typed client for the ML APIs quiesce uses.
#[derive(Debug, Clone)]
pub(crate) struct EsClient {
    http: reqwest::Client,
    base: Url,
    auth: Option<HeaderValue>,
    request_timeout: Duration,
    /// Every response must carry `X-Elastic-Product: Elasticsearch` (7.14+). Cleared by
    /// [`EsClient::root`] when the cluster is older and proves itself by its root body.
    product_header_required: Arc<AtomicBool>,
    observer: Option<Observer>,
}

/// What came back from one HTTP round trip that succeeded.
struct Answer {
    status: u16,
    headers: HeaderMap,
    text: String,
}

impl Answer {
    /// What the server sent, for a message saying it is not Elasticsearch.
    fn found(&self) -> Box<Found> {
        Box::new(Found::new(
            self.status,
            self.headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default(),
            &self.text,
        ))
    }
}

impl EsClient {
    pub(crate) fn new(connection: Connection) -> Result<EsClient, Error> {
        let mut base = Url::parse(connection.url.trim())
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| Error::InvalidUrl {
                url: redact_userinfo(&connection.url),
            })?;
        let mut credentials = connection.credentials;
        if !base.username().is_empty() {
            if credentials.is_none() {
                credentials = Some(Credentials::Basic {
                    username: percent_decode(base.username()),
                    password: percent_decode(base.password().unwrap_or_default()).into(),
                });
            }
            let _ = base.set_username("");
            let _ = base.set_password(None);
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }

        let mut builder = reqwest::Client::builder()
            .connect_timeout(connection.connect_timeout)
            .user_agent(concat!("quiesce/", env!("CARGO_PKG_VERSION")))
            .http1_only();
        if let Some(path) = &connection.ca_cert {
            let certs = read_ca_cert(path).map_err(|reason| Error::CaCert {
                path: path.display().to_string(),
                reason,
            })?;
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder.build().map_err(|source| Error::Unreachable {
            url: base.to_string(),
            source,
        })?;
        Ok(EsClient {
            http,
            base,
            auth: credentials.as_ref().and_then(Credentials::header),
            request_timeout: connection.request_timeout,
            product_header_required: Arc::new(AtomicBool::new(true)),
            observer: connection.observer,
        })
    }

    /// The cluster URL, safe to display (no credentials).
    pub(crate) fn url(&self) -> &str {
        self.base.as_str()
    }

    /// Sends one request and returns its JSON body, or the classified failure.
    pub(crate) async fn send(&self, request: &Request) -> Result<serde_json::Value, Error> {
        let answer = self.exchange(request).await?;
        self.check_product(&answer)?;
        decode(request.endpoint, &answer.text)
    }

    pub(super) async fn call<T: DeserializeOwned>(&self, request: Request) -> Result<T, Error> {
        let answer = self.exchange(&request).await?;
        self.check_product(&answer)?;
        decode(request.endpoint, &answer.text)
    }

    /// The HTTP round trip, told to the observer: status errors become [`Error::Api`] (after
    /// the product check, so a proxy's 502 page is reported as such), success returns the
    /// answer.
    async fn exchange(&self, request: &Request) -> Result<Answer, Error> {
        let started = Instant::now();
        let result = self.round_trip(request).await;
        if let Some(observer) = &self.observer {
            observer.exchanged(&Exchange {
                method: request.method.as_str().to_owned(),
                path: request.path_and_query(),
                status: match &result {
                    Ok(answer) => Some(answer.status),
                    Err(err) => err.status(),
                },
                elapsed: started.elapsed(),
                failure: match &result {
                    Ok(_) => None,
                    Err(err) if err.status().is_some() => None,
                    Err(err) => Some(err.to_string()),
                },
            });
        }
        result
    }

    async fn round_trip(&self, request: &Request) -> Result<Answer, Error> {
        let url = self
            .base
            .join(request.path.trim_start_matches('/'))
            .map_err(|_| Error::InvalidUrl {
                url: format!("{}{}", self.base, request.path),
            })?;
        let deadline = request.deadline.unwrap_or(self.request_timeout);
        let mut builder = self
            .http
            .request(request.method.clone(), url)
            .query(&request.query)
            .timeout(deadline);
        if let Some(auth) = &self.auth {
            builder = builder.header(AUTHORIZATION, auth.clone());
        }
        if let Some(body) = &request.body {
            builder = builder.json(body);
        }
        if let Some(lines) = &request.ndjson {
            builder = builder
                .header(CONTENT_TYPE, "application/x-ndjson")
                .body(lines.clone());
        }
        let response = builder
            .send()
            .await
            .map_err(|err| self.transport(request, deadline, err))?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = self.body(request, deadline, response).await?;
        let answer = Answer {
            status: status.as_u16(),
            headers,
            text,
        };
        if status.is_success() {
            return Ok(answer);
        }
        // A 401/403 may come from a proxy or from security before the product is known; the
        // official clients tolerate a missing header there, and so does quiesce.
        if !matches!(answer.status, 401 | 403) && !matches!(answer.status, 502..=504) {
            self.check_product(&answer)?;
        }
        let body = EsErrorBody::parse(&answer.text);
        Err(Error::Api {
            endpoint: request.endpoint,
            status: answer.status,
            help: Error::help_for_status(answer.status),
            body,
            retry_after: answer
                .headers
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs),
        })
    }

    /// The answer's body, read up to [`MAX_ANSWER_BYTES`]: a length announced beyond it is
    /// refused before reading, a body that grows beyond it (an endless chunked answer) as soon
    /// as it does.
    async fn body(
        &self,
        request: &Request,
        deadline: Duration,
        mut response: reqwest::Response,
    ) -> Result<String, Error> {
        let too_large = |announced| Error::TooLarge {
            endpoint: request.endpoint,
            announced,
            limit: MAX_ANSWER_BYTES,
        };
        if let Some(length) = response.content_length()
            && length > MAX_ANSWER_BYTES
        {
            return Err(too_large(Some(length)));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|err| self.transport(request, deadline, err))?
        {
            if (bytes.len() + chunk.len()) as u64 > MAX_ANSWER_BYTES {
                return Err(too_large(None));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(String::from_utf8(bytes)
            .unwrap_or_else(|err| String::from_utf8_lossy(err.as_bytes()).into_owned()))
    }

    fn transport(&self, request: &Request, deadline: Duration, err: reqwest::Error) -> Error {
        if let Some(problem) = super::tls::TlsProblem::find(&err) {
            return Error::Tls {
                url: self.base.to_string(),
                help: problem.help(),
                problem,
            };
        }
        if err.is_timeout() {
            Error::Timeout {
                endpoint: request.endpoint,
                after: deadline,
            }
        } else if err.is_connect() {
            Error::Unreachable {
                url: self.base.to_string(),
                source: err.without_url(),
            }
        } else {
            Error::Transport {
                endpoint: request.endpoint,
                source: err.without_url(),
            }
        }
    }

    fn check_product(&self, answer: &Answer) -> Result<(), Error> {
        if !self.product_header_required.load(Ordering::Relaxed) {
            return Ok(());
        }
        match answer.headers.get("x-elastic-product").map(|v| v.to_str()) {
            Some(Ok("Elasticsearch")) => Ok(()),
            Some(other) => Err(Error::NotElasticsearch {
                url: self.base.to_string(),
                reason: format!(
                    "it answered with `X-Elastic-Product: {}`",
                    other.unwrap_or("(not text)")
                ),
                found: answer.found(),
            }),
            None => Err(Error::NotElasticsearch {
                url: self.base.to_string(),
                reason: "its answer lacks the `X-Elastic-Product: Elasticsearch` header".into(),
                found: answer.found(),
            }),
        }
    }

    /// `GET /` with the product check of the official clients: 7.14+ must send the header;
    /// older versions must at least look like Elasticsearch (tagline and default flavour).
    pub(crate) async fn root(&self) -> Result<RootInfo, Error> {
        let request = request::root();
        let answer = self.exchange(&request).await?;
        let info: RootInfo = match decode(request.endpoint, &answer.text) {
            Ok(info) => info,
            // Not the root document of any Elasticsearch: say what answered instead (a web
            // server's page, Kibana, a proxy), unless it claims to be Elasticsearch.
            Err(err) => {
                self.product_header_required.store(true, Ordering::Relaxed);
                self.check_product(&answer)?;
                return Err(err);
            }
        };
        let modern = info.version().is_none_or(|v| v >= (7, 14));
        if modern {
            self.product_header_required.store(true, Ordering::Relaxed);
            self.check_product(&answer)?;
        } else if info.tagline != "You Know, for Search" {
            return Err(Error::NotElasticsearch {
                url: self.base.to_string(),
                reason: format!(
                    "version {} without the Elasticsearch tagline",
                    info.version.number
                ),
                found: answer.found(),
            });
        } else {
            self.product_header_required.store(false, Ordering::Relaxed);
        }
        Ok(info)
    }

    pub(crate) async fn ml_info(&self) -> Result<MlInfo, Error> {
        self.call(request::ml_info()).await
    }

    pub(crate) async fn job_stats(&self, expr: &str) -> Result<JobStatsResponse, Error> {
        self.call(request::job_stats(expr)).await
    }

    pub(crate) async fn datafeed_stats(&self, expr: &str) -> Result<DatafeedStatsResponse, Error> {
        self.call(request::datafeed_stats(expr)).await
    }

    pub(crate) async fn jobs(&self, expr: &str) -> Result<JobsResponse, Error> {
        self.call(request::jobs(expr)).await
    }

    pub(crate) async fn datafeeds(&self, expr: &str) -> Result<DatafeedsResponse, Error> {
        self.call(request::datafeeds(expr)).await
    }

    pub(crate) async fn stop_datafeed(
        &self,
        id: &str,
        force: Force,
        left: Duration,
    ) -> Result<(), Error> {
        self.send(&request::stop_datafeed(id, force, left))
            .await
            .map(drop)
    }

    pub(crate) async fn close_job(
        &self,
        id: &str,
        force: Force,
        left: Duration,
    ) -> Result<(), Error> {
        self.send(&request::close_job(id, force, left))
            .await
            .map(drop)
    }

    pub(crate) async fn open_job(&self, id: &str, left: Duration) -> Result<(), Error> {
        self.send(&request::open_job(id, left)).await.map(drop)
    }

    pub(crate) async fn start_datafeed(&self, id: &str, left: Duration) -> Result<(), Error> {
        self.send(&request::start_datafeed(id, left))
            .await
            .map(drop)
    }

    pub(crate) async fn set_upgrade_mode(
        &self,
        enabled: bool,
        left: Duration,
    ) -> Result<(), Error> {
        self.send(&request::set_upgrade_mode(enabled, left))
            .await
            .map(drop)
    }

    /// Every model snapshot of `job`, oldest first, page by page.
    pub(crate) async fn model_snapshots(&self, job: &str) -> Result<Vec<ModelSnapshot>, Error> {
        const PAGE: usize = 10_000;
        let mut all = Vec::new();
        loop {
            let page: ModelSnapshotsResponse = self
                .call(request::model_snapshots(job, all.len(), PAGE))
                .await?;
            let got = page.model_snapshots.len();
            all.extend(page.model_snapshots);
            if got == 0 || all.len() >= page.count {
                return Ok(all);
            }
        }
    }

    /// One model snapshot of `job`; `None` when it does not exist (404).
    pub(crate) async fn model_snapshot(
        &self,
        job: &str,
        snapshot: &str,
    ) -> Result<Option<ModelSnapshot>, Error> {
        match self
            .call::<ModelSnapshotsResponse>(request::model_snapshot(job, snapshot))
            .await
        {
            Ok(found) => Ok(found.model_snapshots.into_iter().next()),
            Err(err) if err.status() == Some(404) => Ok(None),
            Err(err) => Err(err),
        }
    }

    pub(crate) async fn upgrade_model_snapshot(
        &self,
        job: &str,
        snapshot: &str,
        left: Duration,
    ) -> Result<(), Error> {
        self.send(&request::upgrade_model_snapshot(job, snapshot, left))
            .await
            .map(drop)
    }

    pub(crate) async fn delete_model_snapshot(
        &self,
        job: &str,
        snapshot: &str,
        left: Duration,
    ) -> Result<(), Error> {
        self.send(&request::delete_model_snapshot(job, snapshot, left))
            .await
            .map(drop)
    }

    pub(crate) async fn memory_stats(&self) -> Result<MemoryStatsResponse, Error> {
        self.call(request::memory_stats()).await
    }

    /// The calendar `id`, or `None` when there is none (404 `No calendar with id`).
    pub(crate) async fn calendar(&self, id: &str) -> Result<Option<Calendar>, Error> {
        match self
            .call::<CalendarsResponse>(request::get_calendar(id))
            .await
        {
            Ok(answer) => Ok(answer.calendars.into_iter().find(|c| c.calendar_id == id)),
            Err(err) if err.is_no_calendar() => Ok(None),
            Err(err) => Err(err),
        }
    }

    pub(crate) async fn put_calendar(&self, id: &str, description: &str) -> Result<(), Error> {
        self.send(&request::put_calendar(id, description))
            .await
            .map(drop)
    }

    pub(crate) async fn delete_calendar(&self, id: &str) -> Result<(), Error> {
        self.send(&request::delete_calendar(id)).await.map(drop)
    }

    pub(crate) async fn put_calendar_jobs(&self, id: &str, jobs: &[String]) -> Result<(), Error> {
        self.send(&request::put_calendar_jobs(id, jobs))
            .await
            .map(drop)
    }

    pub(crate) async fn delete_calendar_jobs(
        &self,
        id: &str,
        jobs: &[String],
    ) -> Result<(), Error> {
        self.send(&request::delete_calendar_jobs(id, jobs))
            .await
            .map(drop)
    }

    pub(crate) async fn post_calendar_event(
        &self,
        id: &str,
        description: &str,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<(), Error> {
        self.send(&request::post_calendar_event(
            id,
            description,
            start_ms,
            end_ms,
        ))
        .await
        .map(drop)
    }

    /// Every event of the calendar (pages of 1,000 until the count is reached).
    pub(crate) async fn calendar_events(&self, id: &str) -> Result<Vec<ScheduledEvent>, Error> {
        const PAGE: u32 = 1000;
        let mut events = Vec::new();
        loop {
            let mut request = request::get_calendar_events(id, PAGE);
            request.query.push(("from", events.len().to_string()));
            let page: EventsResponse = self.call(request).await?;
            let got = page.events.len();
            events.extend(page.events);
            if got == 0 || events.len() as u64 >= page.count {
                return Ok(events);
            }
        }
    }

    pub(crate) async fn delete_calendar_event(
        &self,
        id: &str,
        event_id: &str,
    ) -> Result<(), Error> {
        self.send(&request::delete_calendar_event(id, event_id))
            .await
            .map(drop)
    }
}

/// The certificates of a PEM file, or why there are none (unreadable, not PEM, no certificate).
fn read_ca_cert(path: &std::path::Path) -> Result<Vec<Certificate>, String> {
    let pem =
        crate::input::read_bytes(path, crate::input::Kind::CaCert).map_err(|err| err.reason())?;
    if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
        return Err("not a PEM certificate (no `-----BEGIN CERTIFICATE-----`)".to_owned());
    }
    let certs = Certificate::from_pem_bundle(&pem).map_err(|err| err.to_string())?;
    if certs.is_empty() {
        return Err("no PEM certificate in the file".to_owned());
    }
    Ok(certs)
}

/// Checks that `path` is a PEM file with at least one certificate, as a connection would read
/// it; the reason when it is not.
pub(crate) fn check_ca_cert(path: &std::path::Path) -> Result<(), String> {
    read_ca_cert(path).map(drop)
}

fn decode<T: DeserializeOwned>(endpoint: &'static str, text: &str) -> Result<T, Error> {
    serde_json::from_str(text).map_err(|source| Error::Decode { endpoint, source })
}

fn redact_userinfo(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}://[REDACTED]@{}", &url[..scheme_end], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(byte) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests;
