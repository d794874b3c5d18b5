//! The HTTP surface: the route table (axum 0.8) and, per request, the pipeline of
//! docs/elasticsearch-ml-api.md §9: routing errors, security (401, then 403), the upgrade-mode filter (E10),
//! parameters, faults, then the operation on the [`Cluster`](crate::cluster::Cluster).

mod calendars;
mod control;
mod docs;
mod endpoint;
mod ml;
mod pipeline;
mod root;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{RawPathParams, Request, State};
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter};

use crate::EsError;
use crate::cluster::Cluster;
use crate::faults::Faults;
use crate::indices::Indices;
use crate::security::Security;

use endpoint::{CalendarApi, Control, Doc, Endpoint, Main, Ml, Route};
pub(crate) use pipeline::DropConnection;

/// What every request handler shares.
pub(crate) struct App {
    pub(crate) cluster: Cluster,
    /// `None`: security off (no users or API keys in the seed).
    pub(crate) security: Option<Security>,
    pub(crate) faults: Mutex<Faults>,
    /// The indices of the document APIs.
    pub(crate) indices: Indices,
    /// While security is on, what the `/_sim/` endpoints need ([`crate::CONTROL_TOKEN_HEADER`]).
    pub(crate) control_token: Option<String>,
}

const fn main(endpoint: Main) -> Route {
    Route::Es(Endpoint::Main(endpoint))
}

const fn ml(endpoint: Ml) -> Route {
    Route::Es(Endpoint::Ml(endpoint))
}

const fn calendar(endpoint: CalendarApi) -> Route {
    ml(Ml::Calendar(endpoint))
}

const fn doc(endpoint: Doc) -> Route {
    Route::Es(Endpoint::Doc(endpoint))
}

const fn control(endpoint: Control) -> Route {
    Route::Control(endpoint)
}

/// The route table: every path with the endpoint behind each of its methods.
const ROUTES: &[(&str, &[(&str, Route)])] = &[
    (
        "/",
        &[("GET", main(Main::Info)), ("HEAD", main(Main::Ping))],
    ),
    ("/_ml/info", &[("GET", ml(Ml::Info))]),
    ("/_ml/set_upgrade_mode", &[("POST", ml(Ml::SetUpgradeMode))]),
    ("/_ml/anomaly_detectors", &[("GET", ml(Ml::GetJobs))]),
    (
        "/_ml/anomaly_detectors/_stats",
        &[("GET", ml(Ml::JobStats))],
    ),
    (
        "/_ml/anomaly_detectors/{job_id}",
        &[
            ("GET", ml(Ml::GetJobs)),
            ("PUT", ml(Ml::PutJob)),
            ("DELETE", ml(Ml::DeleteJob)),
        ],
    ),
    (
        "/_ml/anomaly_detectors/{job_id}/_stats",
        &[("GET", ml(Ml::JobStats))],
    ),
    (
        "/_ml/anomaly_detectors/{job_id}/_open",
        &[("POST", ml(Ml::OpenJob))],
    ),
    (
        "/_ml/anomaly_detectors/{job_id}/_close",
        &[("POST", ml(Ml::CloseJob))],
    ),
    (
        "/_ml/anomaly_detectors/{job_id}/model_snapshots",
        &[
            ("GET", ml(Ml::ModelSnapshots)),
            ("POST", ml(Ml::ModelSnapshots)),
        ],
    ),
    (
        "/_ml/anomaly_detectors/{job_id}/model_snapshots/{snapshot_id}",
        &[
            ("GET", ml(Ml::ModelSnapshots)),
            ("POST", ml(Ml::ModelSnapshots)),
            ("DELETE", ml(Ml::DeleteModelSnapshot)),
        ],
    ),
    (
        "/_ml/anomaly_detectors/{job_id}/model_snapshots/{snapshot_id}/_upgrade",
        &[("POST", ml(Ml::UpgradeModelSnapshot))],
    ),
    ("/_ml/memory/_stats", &[("GET", ml(Ml::MemoryStats))]),
    (
        "/_ml/memory/{node_id}/_stats",
        &[("GET", ml(Ml::MemoryStats))],
    ),
    ("/_ml/datafeeds", &[("GET", ml(Ml::GetDatafeeds))]),
    ("/_ml/datafeeds/_stats", &[("GET", ml(Ml::DatafeedStats))]),
    (
        "/_ml/datafeeds/{datafeed_id}",
        &[
            ("GET", ml(Ml::GetDatafeeds)),
            ("PUT", ml(Ml::PutDatafeed)),
            ("DELETE", ml(Ml::DeleteDatafeed)),
        ],
    ),
    (
        "/_ml/datafeeds/{datafeed_id}/_stats",
        &[("GET", ml(Ml::DatafeedStats))],
    ),
    (
        "/_ml/datafeeds/{datafeed_id}/_start",
        &[("POST", ml(Ml::StartDatafeed))],
    ),
    (
        "/_ml/datafeeds/{datafeed_id}/_stop",
        &[("POST", ml(Ml::StopDatafeed))],
    ),
    (
        "/_ml/calendars",
        &[
            ("GET", calendar(CalendarApi::Get)),
            ("POST", calendar(CalendarApi::Get)),
        ],
    ),
    (
        "/_ml/calendars/{calendar_id}",
        &[
            ("GET", calendar(CalendarApi::Get)),
            ("POST", calendar(CalendarApi::Get)),
            ("PUT", calendar(CalendarApi::Put)),
            ("DELETE", calendar(CalendarApi::Delete)),
        ],
    ),
    (
        "/_ml/calendars/{calendar_id}/jobs/{job_id}",
        &[
            ("PUT", calendar(CalendarApi::AddJobs)),
            ("DELETE", calendar(CalendarApi::RemoveJobs)),
        ],
    ),
    (
        "/_ml/calendars/{calendar_id}/events",
        &[
            ("GET", calendar(CalendarApi::GetEvents)),
            ("POST", calendar(CalendarApi::PostEvents)),
        ],
    ),
    (
        "/_ml/calendars/{calendar_id}/events/{event_id}",
        &[("DELETE", calendar(CalendarApi::DeleteEvent))],
    ),
    (
        "/_security/user/_has_privileges",
        &[
            ("GET", main(Main::HasPrivileges)),
            ("POST", main(Main::HasPrivileges)),
        ],
    ),
    (
        "/_security/user/{user}/_has_privileges",
        &[
            ("GET", main(Main::HasPrivileges)),
            ("POST", main(Main::HasPrivileges)),
        ],
    ),
    (
        "/_security/_authenticate",
        &[("GET", main(Main::Authenticate))],
    ),
    (
        "/_sim/faults",
        &[
            ("GET", control(Control::GetFaults)),
            ("PUT", control(Control::PutFaults)),
            ("DELETE", control(Control::DeleteFaults)),
        ],
    ),
    (
        "/_sim/anomaly_detectors/{job_id}/_fail",
        &[("POST", control(Control::FailJob))],
    ),
    ("/_sim/stats", &[("GET", control(Control::Stats))]),
    ("/_sim/nodes", &[("GET", control(Control::Nodes))]),
    (
        "/_sim/nodes/{node}/_leave",
        &[("POST", control(Control::NodeLeave))],
    ),
    (
        "/_sim/nodes/{node}/_join",
        &[("POST", control(Control::NodeJoin))],
    ),
    (
        "/_sim/rolling_restart",
        &[("POST", control(Control::RollingRestart))],
    ),
    ("/_sim/settings", &[("PUT", control(Control::Settings))]),
    (
        "/_search",
        &[("GET", doc(Doc::Search)), ("POST", doc(Doc::Search))],
    ),
    (
        "/_bulk",
        &[("POST", doc(Doc::Bulk)), ("PUT", doc(Doc::Bulk))],
    ),
    (
        "/_refresh",
        &[("POST", doc(Doc::Refresh)), ("GET", doc(Doc::Refresh))],
    ),
    (
        "/{index}",
        &[
            ("PUT", doc(Doc::CreateIndex)),
            ("GET", doc(Doc::GetIndex)),
            ("HEAD", doc(Doc::IndexExists)),
        ],
    ),
    ("/{index}/_doc", &[("POST", doc(Doc::Index))]),
    (
        "/{index}/_doc/{id}",
        &[
            ("PUT", doc(Doc::Index)),
            ("POST", doc(Doc::Index)),
            ("GET", doc(Doc::Get)),
            ("DELETE", doc(Doc::Delete)),
        ],
    ),
    (
        "/{index}/_create/{id}",
        &[("PUT", doc(Doc::Create)), ("POST", doc(Doc::Create))],
    ),
    (
        "/{index}/_search",
        &[("GET", doc(Doc::Search)), ("POST", doc(Doc::Search))],
    ),
    (
        "/{index}/_bulk",
        &[("POST", doc(Doc::Bulk)), ("PUT", doc(Doc::Bulk))],
    ),
    (
        "/{index}/_refresh",
        &[("POST", doc(Doc::Refresh)), ("GET", doc(Doc::Refresh))],
    ),
];

/// The router for every endpoint, with ES's flat 400 (unknown path) and 405 (wrong method).
pub(crate) fn router(app: Arc<App>) -> Router {
    let mut router = Router::new();
    for (path, methods) in ROUTES {
        router = router.route(path, method_router(methods));
    }
    router.fallback(unknown_path).with_state(app)
}

fn method_router(methods: &'static [(&'static str, Route)]) -> MethodRouter<Arc<App>> {
    let mut route = MethodRouter::new();
    for (method, endpoint) in methods {
        let endpoint = *endpoint;
        let filter = Method::from_bytes(method.as_bytes())
            .ok()
            .and_then(|method| MethodFilter::try_from(method).ok())
            .expect("the route table names only standard methods");
        route = route.on(
            filter,
            move |State(app): State<Arc<App>>,
                  params: Result<
                RawPathParams,
                axum::extract::rejection::RawPathParamsRejection,
            >,
                  request: Request| async move {
                let ids = params
                    .map(|p| pipeline::PathIds::new(&p))
                    .unwrap_or_default();
                pipeline::handle(app, endpoint, ids, request).await
            },
        );
    }
    let allowed: Vec<&'static str> = methods.iter().map(|(method, _)| *method).collect();
    route.fallback(move |request: Request| async move {
        let mut response =
            EsError::wrong_method(&uri_text(&request), request.method().as_str(), &allowed)
                .into_response();
        if let Ok(value) = allowed.join(",").parse() {
            response.headers_mut().insert(header::ALLOW, value);
        }
        response
    })
}

async fn unknown_path(request: Request) -> Response {
    EsError::no_handler(&uri_text(&request), request.method().as_str()).into_response()
}

/// The URI as ES prints it in routing errors: path and query.
fn uri_text(request: &Request) -> String {
    request.uri().path_and_query().map_or_else(
        || request.uri().path().to_owned(),
        |pq| pq.as_str().to_owned(),
    )
}
