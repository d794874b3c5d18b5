//! One request through the pipeline, in ES's order: security (401, then 403 with the action
//! name), the upgrade-mode filter (E10), parameters (E22), faults, then the operation. The
//! outcome is counted per operation and status for `/_sim/stats`.

use std::sync::{Arc, PoisonError};

use axum::body::{Body, Bytes};
use axum::extract::{RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::endpoint::{Doc, Endpoint, Main, Ml, Route};
use super::{App, control, docs, ml, root};
use crate::EsError;
use crate::faults::FaultEffect;
use crate::params::Params;
use crate::security::{Principal, Privilege};
use crate::seed::EsVersion;

/// Largest request body read (ES's default `http.max_content_length` is far larger; ML
/// requests are small).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// The request id header ES copies from request to response.
const OPAQUE_ID: &str = "x-opaque-id";

/// Marks a response the server must not send: the connection is closed instead (a `drop`
/// fault).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DropConnection;

/// The path parameters of the matched route (`job_id`, `datafeed_id`, `snapshot_id`, `user`).
#[derive(Debug, Default)]
pub(crate) struct PathIds(Vec<(String, String)>);

impl PathIds {
    pub(crate) fn new(params: &RawPathParams) -> Self {
        PathIds(
            params
                .iter()
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect(),
        )
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// A path id, or `_all` for the routes without one (`GET /_ml/anomaly_detectors`).
    pub(crate) fn or_all(&self, name: &str) -> &str {
        self.get(name).unwrap_or("_all")
    }
}

/// What an operation answers.
pub(crate) enum Reply {
    Json(Value),
    /// 200 without a body (`HEAD /`).
    Empty,
    /// JSON with another status than 200 (`201 Created`, a `404` document body).
    Status(u16, Value),
    /// This status without a body (`HEAD /<index>`).
    EmptyStatus(u16),
    /// Close the connection without answering.
    Drop,
}

/// Everything about the request an operation may need.
pub(crate) struct Call<'a> {
    pub(crate) app: &'a App,
    pub(crate) endpoint: Endpoint,
    pub(crate) ids: &'a PathIds,
    pub(crate) parts: &'a Parts,
    pub(crate) body: &'a Bytes,
    pub(crate) params: Params,
    pub(crate) principal: Option<Principal>,
    /// Ids a `stuck` fault holds in `stopping` / `closing`.
    pub(crate) stuck: Vec<String>,
    /// The version the cluster answers as, read once for the request.
    pub(crate) version: EsVersion,
}

pub(crate) async fn handle(
    app: Arc<App>,
    route: Route,
    ids: PathIds,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return EsError::new(
            400,
            "parse_exception",
            "request body is too large or unreadable",
        )
        .into_response();
    };
    let mut warnings = Vec::new();
    let outcome = match route {
        Route::Control(endpoint) => match control_allowed(&app, &parts) {
            Ok(()) => control::handle(&app, endpoint, &ids, &body).await,
            Err(err) => Err(err),
        },
        Route::Es(endpoint) => run(&app, endpoint, &ids, &parts, &body, &mut warnings).await,
    };
    let mut response = match outcome {
        Ok(Reply::Json(value)) => json_response(StatusCode::OK, &value),
        Ok(Reply::Empty) => StatusCode::OK.into_response(),
        Ok(Reply::Status(status, value)) => json_response(
            StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
            &value,
        ),
        Ok(Reply::EmptyStatus(status)) => StatusCode::from_u16(status)
            .unwrap_or(StatusCode::OK)
            .into_response(),
        Ok(Reply::Drop) => {
            let mut response = Response::new(Body::empty());
            response.extensions_mut().insert(DropConnection);
            return response;
        }
        Err(err) => err.into_response(),
    };
    for warning in warnings {
        if let Ok(value) = HeaderValue::from_str(&warning) {
            response.headers_mut().append(header::WARNING, value);
        }
    }
    // ES echoes the caller's request id so that clients can correlate responses.
    if let Some(opaque_id) = parts.headers.get(OPAQUE_ID) {
        response.headers_mut().insert(OPAQUE_ID, opaque_id.clone());
    }
    if let Route::Es(endpoint) = route {
        app.cluster
            .record_request(endpoint.stat_name(), response.status().as_u16());
    }
    response
}

/// While security is on, the control endpoints take the control token, or the credentials of a
/// user who may manage the whole cluster (`manage` or `all`): not anyone who can connect.
fn control_allowed(app: &App, parts: &Parts) -> Result<(), EsError> {
    let (Some(token), Some(security)) = (&app.control_token, &app.security) else {
        return Ok(());
    };
    if parts
        .headers
        .get(crate::CONTROL_TOKEN_HEADER)
        .is_some_and(|given| given.as_bytes() == token.as_bytes())
    {
        return Ok(());
    }
    if parts.headers.contains_key(header::AUTHORIZATION) {
        let principal = security.authenticate(&parts.headers, parts.uri.path())?;
        return principal.authorize("cluster:admin/sim/control", Privilege::Manage);
    }
    Err(EsError::new(
        401,
        "security_exception",
        format!(
            "the simulator's control endpoint [{}] needs the control token (header [{}], printed when the simulator starts) or an administrator's credentials while security is on",
            parts.uri.path(),
            crate::CONTROL_TOKEN_HEADER
        ),
    ))
}

fn json_response(status: StatusCode, value: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

async fn run(
    app: &App,
    endpoint: Endpoint,
    ids: &PathIds,
    parts: &Parts,
    body: &Bytes,
    warnings: &mut Vec<String>,
) -> Result<Reply, EsError> {
    let path = parts.uri.path();
    if matches!(endpoint, Endpoint::Doc(Doc::GetIndex | Doc::IndexExists))
        && ids.get("index").is_some_and(|index| index.starts_with('_'))
    {
        // A `_`-name is an API, never an index to read: the simulator keeps ES's flat 400 for
        // APIs it does not serve (`GET /_cat`, `GET /_nope`) rather than a missing index.
        let uri = parts.uri.path_and_query().map_or(path, |pq| pq.as_str());
        return Err(EsError::no_handler(uri, parts.method.as_str()));
    }
    let principal = match &app.security {
        Some(security) => {
            let uri = parts
                .uri
                .path_and_query()
                .map_or(path, |path_and_query| path_and_query.as_str());
            let principal = security.authenticate(&parts.headers, uri)?;
            if let Some(privilege) = endpoint.privilege() {
                principal.authorize(endpoint.action(), privilege)?;
            }
            Some(principal)
        }
        None if matches!(
            endpoint,
            Endpoint::Main(Main::HasPrivileges | Main::Authenticate)
        ) =>
        {
            return Err(root::security_disabled(app, parts));
        }
        None => None,
    };
    let ml = match endpoint {
        Endpoint::Ml(ml) => Some(ml),
        Endpoint::Main(_) | Endpoint::Doc(_) => None,
    };
    if ml.is_some_and(Ml::blocked_in_upgrade_mode) && app.cluster.upgrade_mode() {
        return Err(EsError::upgrade_mode_enabled(endpoint.action()));
    }
    let takes_body = match endpoint {
        Endpoint::Ml(ml) => ml.takes_body(),
        Endpoint::Main(main) => main == Main::HasPrivileges,
        Endpoint::Doc(doc) => doc.takes_body(),
    };
    // `source` (with `source_content_type`) is the body given in the query (RestRequest
    // `contentOrSourceParam`); handlers that read no body ignore it.
    let source = if takes_body && body.iter().all(u8::is_ascii_whitespace) {
        source_param(parts.uri.query())?
    } else {
        None
    };
    let body: &Bytes = source.as_ref().unwrap_or(body);
    let query = source
        .is_some()
        .then(|| without_source(parts.uri.query().unwrap_or("")));
    let query = query.as_deref().or(parts.uri.query());
    let params_body: &[u8] = if ml.is_some_and(Ml::params_in_body) {
        body
    } else {
        &[]
    };
    let version = app.cluster.version();
    let params = Params::parse_split(
        path,
        query,
        params_body,
        &endpoint.allowed_params(version),
        &endpoint.allowed_body_params(version),
    )?;
    if !takes_body && !body.iter().all(u8::is_ascii_whitespace) {
        return Err(EsError::new(
            400,
            "illegal_argument_exception",
            format!(
                "request [{} {path}] does not support having a body",
                parts.method
            ),
        ));
    }
    if let Some(alias) = endpoint.deprecated_alias(version)
        && params.contains(alias)
    {
        // ES's deprecation logger: a `Warning` header on the response, whatever its status.
        warnings.push(format!(
            "299 Elasticsearch-{version}-0000000000000000000000000000000000000000 \"Deprecated \
             field [{alias}] used, expected [allow_no_match] instead\""
        ));
    }
    let mut stuck = Vec::new();
    let fault = match endpoint {
        Endpoint::Ml(ml) => ml
            .fault_operation()
            .map(|operation| (operation, fault_targets(app, ml, ids))),
        Endpoint::Doc(doc) => Some((
            doc.fault_operation(),
            ids.get("index")
                .map(|expr| expr.split(',').map(str::to_owned).collect())
                .unwrap_or_default(),
        )),
        Endpoint::Main(_) => None,
    };
    if let Some((operation, targets)) = fault {
        let effect = app
            .faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .on_call(operation, &targets);
        match effect {
            Some(FaultEffect::Error(err)) => return Err(err),
            Some(FaultEffect::Delay(delay)) => tokio::time::sleep(delay).await,
            Some(FaultEffect::Drop) => return Ok(Reply::Drop),
            Some(FaultEffect::Stuck { ids }) => stuck = ids,
            None => {}
        }
    }
    if ml.is_some_and(Ml::is_read) {
        tokio::time::sleep(app.cluster.latency().stats).await;
    }
    let call = Call {
        app,
        endpoint,
        ids,
        parts,
        body,
        params,
        principal,
        stuck,
        version,
    };
    match endpoint {
        Endpoint::Main(main) => root::handle(&call, main),
        Endpoint::Ml(ml) => ml::handle(&call, ml).await,
        Endpoint::Doc(doc) => docs::handle(&call, doc).await,
    }
}

/// The body a `source` query parameter carries, as ES reads it: `source_content_type` must come
/// with it and name JSON (`RestRequest.contentOrSourceParam`, an `IllegalStateException`).
fn source_param(query: Option<&str>) -> Result<Option<Bytes>, EsError> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    let find = |name: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    let Some(source) = find("source") else {
        return Ok(None);
    };
    let illegal = |reason: String| EsError::new(500, "illegal_state_exception", reason);
    let Some(content_type) = find("source_content_type") else {
        return Err(illegal(
            "source and source_content_type parameters are required".to_owned(),
        ));
    };
    if !content_type
        .split(';')
        .next()
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
    {
        return Err(illegal(format!(
            "Unknown value for source_content_type [{content_type}]"
        )));
    }
    Ok(Some(Bytes::from(source)))
}

/// The query without `source` and `source_content_type`, once they became the body.
fn without_source(query: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            form_urlencoded::parse(query.as_bytes())
                .filter(|(key, _)| key != "source" && key != "source_content_type"),
        )
        .finish()
}

/// The ids a call targets, for fault rules with a `target` (unmatched tokens are left out).
fn fault_targets(app: &App, endpoint: Ml, ids: &PathIds) -> Vec<String> {
    match endpoint {
        Ml::CloseJob | Ml::JobStats => app.cluster.expand_jobs_lenient(ids.or_all("job_id")),
        Ml::StopDatafeed | Ml::DatafeedStats => app
            .cluster
            .expand_datafeeds_lenient(ids.or_all("datafeed_id")),
        Ml::OpenJob | Ml::UpgradeModelSnapshot => {
            ids.get("job_id").map(str::to_owned).into_iter().collect()
        }
        Ml::StartDatafeed => ids
            .get("datafeed_id")
            .map(str::to_owned)
            .into_iter()
            .collect(),
        _ => Vec::new(),
    }
}
