//! The HTTP surface: the route table (axum 0.8) and, per request, the pipeline of
//! es-ml-api.md §9: routing errors, security (401, then 403), the upgrade-mode filter (E10),
//! parameters, faults, then the operation on the [`Cluster`](crate::sim::cluster::Cluster).

mod control;
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

use crate::sim::EsError;
use crate::sim::cluster::Cluster;
use crate::sim::faults::Faults;
use crate::sim::security::Security;

pub(crate) use endpoint::Endpoint;
pub(crate) use pipeline::DropConnection;

/// What every request handler shares.
pub(crate) struct App {
    pub(crate) cluster: Cluster,
    /// `None`: security off (no users or API keys in the seed).
    pub(crate) security: Option<Security>,
    pub(crate) faults: Mutex<Faults>,
}

/// The route table: every path with the endpoint behind each of its methods.
const ROUTES: &[(&str, &[(&str, Endpoint)])] = &[
    (
        "/",
        &[("GET", Endpoint::Root), ("HEAD", Endpoint::RootHead)],
    ),
    ("/_ml/info", &[("GET", Endpoint::Info)]),
    (
        "/_ml/set_upgrade_mode",
        &[("POST", Endpoint::SetUpgradeMode)],
    ),
    ("/_ml/anomaly_detectors", &[("GET", Endpoint::GetJobs)]),
    (
        "/_ml/anomaly_detectors/_stats",
        &[("GET", Endpoint::JobStats)],
    ),
    (
        "/_ml/anomaly_detectors/{job_id}",
        &[
            ("GET", Endpoint::GetJobs),
            ("PUT", Endpoint::PutJob),
            ("DELETE", Endpoint::DeleteJob),
        ],
    ),
    (
        "/_ml/anomaly_detectors/{job_id}/_stats",
        &[("GET", Endpoint::JobStats)],
    ),
    (
        "/_ml/anomaly_detectors/{job_id}/_open",
        &[("POST", Endpoint::OpenJob)],
    ),
    (
        "/_ml/anomaly_detectors/{job_id}/_close",
        &[("POST", Endpoint::CloseJob)],
    ),
    (
        "/_ml/anomaly_detectors/{job_id}/model_snapshots",
        &[
            ("GET", Endpoint::ModelSnapshots),
            ("POST", Endpoint::ModelSnapshots),
        ],
    ),
    (
        "/_ml/anomaly_detectors/{job_id}/model_snapshots/{snapshot_id}",
        &[
            ("GET", Endpoint::ModelSnapshots),
            ("POST", Endpoint::ModelSnapshots),
        ],
    ),
    ("/_ml/datafeeds", &[("GET", Endpoint::GetDatafeeds)]),
    ("/_ml/datafeeds/_stats", &[("GET", Endpoint::DatafeedStats)]),
    (
        "/_ml/datafeeds/{datafeed_id}",
        &[
            ("GET", Endpoint::GetDatafeeds),
            ("PUT", Endpoint::PutDatafeed),
            ("DELETE", Endpoint::DeleteDatafeed),
        ],
    ),
    (
        "/_ml/datafeeds/{datafeed_id}/_stats",
        &[("GET", Endpoint::DatafeedStats)],
    ),
    (
        "/_ml/datafeeds/{datafeed_id}/_start",
        &[("POST", Endpoint::StartDatafeed)],
    ),
    (
        "/_ml/datafeeds/{datafeed_id}/_stop",
        &[("POST", Endpoint::StopDatafeed)],
    ),
    (
        "/_security/user/_has_privileges",
        &[
            ("GET", Endpoint::HasPrivileges),
            ("POST", Endpoint::HasPrivileges),
        ],
    ),
    (
        "/_security/user/{user}/_has_privileges",
        &[
            ("GET", Endpoint::HasPrivileges),
            ("POST", Endpoint::HasPrivileges),
        ],
    ),
    (
        "/_security/_authenticate",
        &[("GET", Endpoint::Authenticate)],
    ),
    (
        "/_sim/faults",
        &[
            ("GET", Endpoint::SimFaultsGet),
            ("PUT", Endpoint::SimFaultsPut),
            ("DELETE", Endpoint::SimFaultsDelete),
        ],
    ),
    (
        "/_sim/anomaly_detectors/{job_id}/_fail",
        &[("POST", Endpoint::SimFailJob)],
    ),
    ("/_sim/stats", &[("GET", Endpoint::SimStats)]),
];

/// The router for every endpoint, with ES's flat 400 (unknown path) and 405 (wrong method).
pub(crate) fn router(app: Arc<App>) -> Router {
    let mut router = Router::new();
    for (path, methods) in ROUTES {
        router = router.route(path, method_router(methods));
    }
    router.fallback(unknown_path).with_state(app)
}

fn method_router(methods: &'static [(&'static str, Endpoint)]) -> MethodRouter<Arc<App>> {
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
