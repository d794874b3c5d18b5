//! `GET`/`HEAD /` (docs/elasticsearch-ml-api.md §1.4) and the security endpoints `_has_privileges` and
//! `_authenticate` (§2.14), including how ES answers them when security is off.

use axum::http::request::Parts;
use serde_json::{Value, json};

use super::App;
use super::endpoint::Main;
use super::pipeline::{Call, Reply};
use crate::EsError;
use crate::seed::EsVersion;

pub(crate) fn handle(call: &Call<'_>, endpoint: Main) -> Result<Reply, EsError> {
    match endpoint {
        Main::Ping => Ok(Reply::Empty),
        Main::Info => Ok(Reply::Json(root(call.app))),
        Main::HasPrivileges | Main::Authenticate => {
            let principal = call
                .principal
                .as_ref()
                .ok_or_else(|| security_disabled(call.app, call.parts))?;
            if endpoint == Main::Authenticate {
                return Ok(Reply::Json(principal.authenticate_body()));
            }
            let body: Value = if call.body.iter().all(u8::is_ascii_whitespace) {
                Value::Null
            } else {
                serde_json::from_slice(call.body).map_err(|err| {
                    EsError::new(
                        400,
                        "parse_exception",
                        format!("request body is not valid JSON: {err}"),
                    )
                })?
            };
            Ok(Reply::Json(principal.has_privileges(&body)?))
        }
    }
}

/// Security endpoints with security off: 8.x registers no handler (flat 400); 7.x with a basic
/// license answers 500 (docs/elasticsearch-ml-api.md §2.14).
pub(crate) fn security_disabled(app: &App, parts: &Parts) -> EsError {
    if app.cluster.version().major >= 8 {
        let uri = parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned());
        EsError::no_handler(&uri, parts.method.as_str())
    } else {
        EsError::new(
            500,
            "exception",
            "Security must be explicitly enabled when using a [basic] license. Enable security \
             by setting [xpack.security.enabled] to [true] in the elasticsearch.yml file and \
             restart the node.",
        )
    }
}

/// The `GET /` body.
fn root(app: &App) -> Value {
    let cluster = &app.cluster;
    let identity = cluster.identity();
    let version = cluster.version();
    let (lucene, wire, index) = compatibility(version);
    json!({
        "name": cluster.first_node_name(),
        "cluster_name": identity.name,
        "cluster_uuid": identity.uuid,
        "version": {
            "number": version.to_string(),
            "build_flavor": "default",
            "build_type": "tar",
            "build_hash": "0000000000000000000000000000000000000000",
            "build_date": "2024-08-05T10:05:34.233336849Z",
            "build_snapshot": false,
            "lucene_version": lucene,
            "minimum_wire_compatibility_version": wire,
            "minimum_index_compatibility_version": index,
        },
        "tagline": "You Know, for Search",
    })
}

/// Lucene version and minimum wire/index compatibility that go with an ES version.
fn compatibility(version: EsVersion) -> (&'static str, &'static str, &'static str) {
    match (version.major, version.minor) {
        (major, _) if major >= 9 => ("10.1.0", "8.18.0", "8.0.0"),
        (8, minor) if minor >= 15 => ("9.11.1", "7.17.0", "7.0.0"),
        (8, _) => ("9.7.0", "7.17.0", "7.0.0"),
        (7, minor) if minor >= 14 => ("8.9.0", "6.8.0", "6.0.0-beta1"),
        _ => ("8.8.2", "6.8.0", "6.0.0-beta1"),
    }
}
