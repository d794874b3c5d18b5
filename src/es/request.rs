//! Every request quiesce makes to Elasticsearch, as plain data: the endpoint's name in
//! Elasticsearch's REST spec, method, path, query and body. Building a request touches no
//! network, so the whole catalogue is checked against the REST spec in tests.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use super::time::es_time;

/// One HTTP request to Elasticsearch.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Request {
    /// The endpoint's name in Elasticsearch's REST spec (`ml.close_job`), for messages and tests.
    pub endpoint: &'static str,
    pub method: Method,
    /// Path with ids already substituted (ids and id expressions need no escaping: Elasticsearch
    /// ids are lowercase alphanumerics, `-` and `_`; expressions add `*` and `,`).
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<Value>,
    /// An NDJSON body (`_bulk`), sent as `application/x-ndjson` instead of `body`.
    pub ndjson: Option<String>,
    /// How long Elasticsearch itself may wait before answering (the `timeout` we send).
    pub server_wait: Option<Duration>,
    /// How long the client waits for the whole answer: the time left to the step that makes
    /// the request. `None`: the connection's timeout for plain reads.
    pub deadline: Option<Duration>,
}

impl Request {
    fn new(endpoint: &'static str, method: Method, path: String) -> Request {
        Request {
            endpoint,
            method,
            path,
            query: Vec::new(),
            body: None,
            ndjson: None,
            server_wait: None,
            deadline: None,
        }
    }

    fn param(mut self, name: &'static str, value: impl ToString) -> Request {
        self.query.push((name, value.to_string()));
        self
    }

    /// The path with its query string, as it goes on the wire (relative to the base URL).
    pub(crate) fn path_and_query(&self) -> String {
        if self.query.is_empty() {
            return self.path.clone();
        }
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(self.query.iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        format!("{}?{query}", self.path)
    }

    /// A request that makes Elasticsearch wait, with `left` to go before the caller gives up:
    /// the client waits `left` at most, and Elasticsearch is asked to answer a little before
    /// ([`server_share`]), so that its own timeout answer arrives while someone listens.
    fn within(self, left: Duration) -> Request {
        let wait = server_share(left);
        let mut request = self.param("timeout", es_time(wait));
        request.server_wait = Some(wait);
        request.deadline = Some(left);
        request
    }
}

/// The part of `left` Elasticsearch may wait before answering: a tenth less, and never more
/// than 5 s less, than what the client waits.
pub(crate) fn server_share(left: Duration) -> Duration {
    let margin = (left / 10).min(Duration::from_secs(5));
    // Whole milliseconds: the `timeout` parameter carries no finer unit.
    Duration::from_millis(u64::try_from((left - margin).as_millis()).unwrap_or(u64::MAX))
}

/// `GET /`: cluster name and version; the product check.
pub(crate) fn root() -> Request {
    Request::new("info", Method::GET, "/".into())
}

/// `GET /_ml/info`: ML defaults and limits, including `upgrade_mode`.
pub(crate) fn ml_info() -> Request {
    Request::new("ml.info", Method::GET, "/_ml/info".into())
}

/// `GET /_ml/anomaly_detectors/<expr>/_stats`: state, node and model size of every matching job.
pub(crate) fn job_stats(expr: &str) -> Request {
    Request::new(
        "ml.get_job_stats",
        Method::GET,
        format!("/_ml/anomaly_detectors/{expr}/_stats"),
    )
    .param("allow_no_match", true)
}

/// `GET /_ml/datafeeds/<expr>/_stats`: state and running state of every matching datafeed.
pub(crate) fn datafeed_stats(expr: &str) -> Request {
    Request::new(
        "ml.get_datafeed_stats",
        Method::GET,
        format!("/_ml/datafeeds/{expr}/_stats"),
    )
    .param("allow_no_match", true)
}

/// `GET /_ml/anomaly_detectors/<expr>`: job configurations (groups, memory limit, lazy open).
pub(crate) fn jobs(expr: &str) -> Request {
    Request::new(
        "ml.get_jobs",
        Method::GET,
        format!("/_ml/anomaly_detectors/{expr}"),
    )
    .param("allow_no_match", true)
}

/// `GET /_ml/datafeeds/<expr>`: datafeed configurations (which job each feeds).
pub(crate) fn datafeeds(expr: &str) -> Request {
    Request::new(
        "ml.get_datafeeds",
        Method::GET,
        format!("/_ml/datafeeds/{expr}"),
    )
    .param("allow_no_match", true)
}

/// Whether to ask Elasticsearch to skip the graceful path (flush, final results, snapshot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Force {
    No,
    Yes,
}

/// `POST /_ml/datafeeds/<id>/_stop`.
pub(crate) fn stop_datafeed(id: &str, force: Force, left: Duration) -> Request {
    Request::new(
        "ml.stop_datafeed",
        Method::POST,
        format!("/_ml/datafeeds/{id}/_stop"),
    )
    .param("force", force == Force::Yes)
    .within(left)
}

/// `POST /_ml/anomaly_detectors/<id>/_close`.
pub(crate) fn close_job(id: &str, force: Force, left: Duration) -> Request {
    Request::new(
        "ml.close_job",
        Method::POST,
        format!("/_ml/anomaly_detectors/{id}/_close"),
    )
    .param("force", force == Force::Yes)
    .within(left)
}

/// `POST /_ml/anomaly_detectors/<id>/_open`. The timeout travels in the body: the current
/// REST spec lists no query parameters for this endpoint, and every version reads the body.
pub(crate) fn open_job(id: &str, left: Duration) -> Request {
    let wait = server_share(left);
    let mut request = Request::new(
        "ml.open_job",
        Method::POST,
        format!("/_ml/anomaly_detectors/{id}/_open"),
    );
    request.body = Some(json!({ "timeout": es_time(wait) }));
    request.server_wait = Some(wait);
    request.deadline = Some(left);
    request
}

/// `POST /_ml/datafeeds/<id>/_start`, real-time: no `start` (Elasticsearch continues 1 ms after
/// the last processed record) and no `end`.
pub(crate) fn start_datafeed(id: &str, left: Duration) -> Request {
    Request::new(
        "ml.start_datafeed",
        Method::POST,
        format!("/_ml/datafeeds/{id}/_start"),
    )
    .within(left)
}

/// `POST /_ml/set_upgrade_mode?enabled=<bool>`.
pub(crate) fn set_upgrade_mode(enabled: bool, left: Duration) -> Request {
    Request::new(
        "ml.set_upgrade_mode",
        Method::POST,
        "/_ml/set_upgrade_mode".into(),
    )
    .param("enabled", enabled)
    .within(left)
}

/// `GET /_ml/anomaly_detectors/<job>/model_snapshots?from=<from>&size=<size>`: one page of a
/// job's model snapshots, oldest first (docs/elasticsearch-ml-api.md §2.12).
pub(crate) fn model_snapshots(job: &str, from: usize, size: usize) -> Request {
    Request::new(
        "ml.get_model_snapshots",
        Method::GET,
        format!("/_ml/anomaly_detectors/{job}/model_snapshots"),
    )
    .param("sort", "timestamp")
    .param("from", from)
    .param("size", size)
}

/// `GET /_ml/anomaly_detectors/<job>/model_snapshots/<snapshot>`: one snapshot.
pub(crate) fn model_snapshot(job: &str, snapshot: &str) -> Request {
    Request::new(
        "ml.get_model_snapshots",
        Method::GET,
        format!("/_ml/anomaly_detectors/{job}/model_snapshots/{snapshot}"),
    )
}

/// `POST /_ml/anomaly_detectors/<job>/model_snapshots/<snapshot>/_upgrade`, waiting for the
/// upgrade to finish within the time left (docs/elasticsearch-ml-api.md §12.2).
pub(crate) fn upgrade_model_snapshot(job: &str, snapshot: &str, left: Duration) -> Request {
    Request::new(
        "ml.upgrade_job_snapshot",
        Method::POST,
        format!("/_ml/anomaly_detectors/{job}/model_snapshots/{snapshot}/_upgrade"),
    )
    .param("wait_for_completion", true)
    .within(left)
}

/// `DELETE /_ml/anomaly_detectors/<job>/model_snapshots/<snapshot>` (docs/elasticsearch-ml-api.md
/// §12.3). Takes no `timeout`; the client still gives up when the step's time is over.
pub(crate) fn delete_model_snapshot(job: &str, snapshot: &str, left: Duration) -> Request {
    let mut request = Request::new(
        "ml.delete_model_snapshot",
        Method::DELETE,
        format!("/_ml/anomaly_detectors/{job}/model_snapshots/{snapshot}"),
    );
    request.deadline = Some(left);
    request
}

/// `GET /_ml/memory/_stats` (8.2+): the ML memory of every node (docs/elasticsearch-ml-api.md
/// §12.5).
pub(crate) fn memory_stats() -> Request {
    Request::new(
        "ml.get_memory_stats",
        Method::GET,
        "/_ml/memory/_stats".into(),
    )
}

/// `POST /_security/user/_has_privileges` for cluster privileges.
pub(crate) fn has_privileges(cluster: &[&str]) -> Request {
    let mut request = Request::new(
        "security.has_privileges",
        Method::POST,
        "/_security/user/_has_privileges".into(),
    );
    request.body = Some(json!({ "cluster": cluster }));
    request
}

/// `POST /_security/user/_has_privileges` for cluster privileges and privileges on one index
/// (docs/elasticsearch-ml-api.md §11.6).
pub(crate) fn has_privileges_on(cluster: &[&str], index: &str, privileges: &[&str]) -> Request {
    let mut request = has_privileges(cluster);
    request.body = Some(json!({
        "cluster": cluster,
        "index": [{ "names": [index], "privileges": privileges }],
    }));
    request
}

impl Request {
    /// Every write of quiesce's coordination refreshes at once: a reader on another machine
    /// sees it as soon as it is answered (docs/elasticsearch-ml-api.md §11.3).
    fn refreshed(self) -> Request {
        self.param("refresh", true)
    }
}

/// A document's place in its shard's history, for compare-and-set writes
/// (`if_seq_no` + `if_primary_term`, docs/elasticsearch-ml-api.md §11.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DocVersion {
    pub seq_no: u64,
    pub primary_term: u64,
}

/// `PUT /<index>` with settings and mappings (§11.1).
pub(crate) fn create_index(index: &str, settings: Value, mappings: Value) -> Request {
    let mut request = Request::new("indices.create", Method::PUT, format!("/{index}"));
    request.body = Some(json!({ "settings": settings, "mappings": mappings }));
    request
}

/// `PUT /<index>/_create/<id>`: a write that fails with 409 when the id exists (§11.2).
pub(crate) fn create_doc(index: &str, id: &str, source: Value) -> Request {
    let mut request = Request::new("create", Method::PUT, format!("/{index}/_create/{id}"));
    request.body = Some(source);
    request.refreshed()
}

/// `PUT /<index>/_doc/<id>`, with `if_seq_no`/`if_primary_term` when `only_if` is given: the
/// write fails with 409 when the document changed since (§11.2).
pub(crate) fn index_doc(
    index: &str,
    id: &str,
    source: Value,
    only_if: Option<DocVersion>,
) -> Request {
    let mut request = Request::new("index", Method::PUT, format!("/{index}/_doc/{id}"));
    request.body = Some(source);
    if let Some(version) = only_if {
        request = request
            .param("if_seq_no", version.seq_no)
            .param("if_primary_term", version.primary_term);
    }
    request.refreshed()
}

/// `GET /<index>/_doc/<id>`: realtime, whatever the refreshes (§11.2).
pub(crate) fn get_doc(index: &str, id: &str) -> Request {
    Request::new("get", Method::GET, format!("/{index}/_doc/{id}"))
}

/// `DELETE /<index>/_doc/<id>?if_seq_no&if_primary_term` (§11.2).
pub(crate) fn delete_doc(index: &str, id: &str, only_if: DocVersion) -> Request {
    Request::new("delete", Method::DELETE, format!("/{index}/_doc/{id}"))
        .param("if_seq_no", only_if.seq_no)
        .param("if_primary_term", only_if.primary_term)
        .refreshed()
}

/// `POST /<index>/_search` with a body (§11.4). A missing index answers no hits.
pub(crate) fn search(index: &str, body: Value) -> Request {
    let mut request = Request::new("search", Method::POST, format!("/{index}/_search"))
        .param("ignore_unavailable", true);
    request.body = Some(body);
    request
}

/// `POST /<index>/_bulk`: one `index` action per document, by id (§11.5).
pub(crate) fn bulk_index<'a>(
    index: &str,
    docs: impl IntoIterator<Item = (&'a str, &'a Value)>,
) -> Request {
    let mut body = String::new();
    for (id, source) in docs {
        body.push_str(&json!({ "index": { "_id": id } }).to_string());
        body.push('\n');
        body.push_str(&source.to_string());
        body.push('\n');
    }
    let mut request = Request::new("bulk", Method::POST, format!("/{index}/_bulk"));
    request.ndjson = Some(body);
    request.refreshed()
}

/// `GET /_ml/calendars/<id>`: one calendar, or 404 `No calendar with id [<id>]` (§13.1).
pub(crate) fn get_calendar(id: &str) -> Request {
    Request::new(
        "ml.get_calendars",
        Method::GET,
        format!("/_ml/calendars/{id}"),
    )
}

/// `PUT /_ml/calendars/<id>` with a description and no jobs (they are added apart, so that
/// what quiesce added can be taken out again).
pub(crate) fn put_calendar(id: &str, description: &str) -> Request {
    let mut request = Request::new(
        "ml.put_calendar",
        Method::PUT,
        format!("/_ml/calendars/{id}"),
    );
    request.body = Some(json!({ "description": description }));
    request
}

/// `DELETE /_ml/calendars/<id>`: the calendar and all its events.
pub(crate) fn delete_calendar(id: &str) -> Request {
    Request::new(
        "ml.delete_calendar",
        Method::DELETE,
        format!("/_ml/calendars/{id}"),
    )
}

/// `PUT /_ml/calendars/<id>/jobs/<ids>`: adds job ids (not checked by Elasticsearch, §13.2).
pub(crate) fn put_calendar_jobs(id: &str, jobs: &[String]) -> Request {
    Request::new(
        "ml.put_calendar_job",
        Method::PUT,
        format!("/_ml/calendars/{id}/jobs/{}", jobs.join(",")),
    )
}

/// `DELETE /_ml/calendars/<id>/jobs/<ids>`: every id must be in the calendar (§13.2).
pub(crate) fn delete_calendar_jobs(id: &str, jobs: &[String]) -> Request {
    Request::new(
        "ml.delete_calendar_job",
        Method::DELETE,
        format!("/_ml/calendars/{id}/jobs/{}", jobs.join(",")),
    )
}

/// `POST /_ml/calendars/<id>/events` with one event; times in epoch milliseconds. The answer
/// has no `event_id` (§13.3): list the events to learn it.
pub(crate) fn post_calendar_event(
    id: &str,
    description: &str,
    start_ms: i64,
    end_ms: i64,
) -> Request {
    let mut request = Request::new(
        "ml.post_calendar_events",
        Method::POST,
        format!("/_ml/calendars/{id}/events"),
    );
    request.body = Some(json!({ "events": [{
        "description": description,
        "start_time": start_ms,
        "end_time": end_ms,
    }]}));
    request
}

/// `GET /_ml/calendars/<id>/events`: the calendar's events, a page of `size` (§13.3).
pub(crate) fn get_calendar_events(id: &str, size: u32) -> Request {
    Request::new(
        "ml.get_calendar_events",
        Method::GET,
        format!("/_ml/calendars/{id}/events"),
    )
    .param("size", size)
}

/// `DELETE /_ml/calendars/<id>/events/<event_id>`.
pub(crate) fn delete_calendar_event(id: &str, event_id: &str) -> Request {
    Request::new(
        "ml.delete_calendar_event",
        Method::DELETE,
        format!("/_ml/calendars/{id}/events/{event_id}"),
    )
}

#[cfg(test)]
mod tests;
