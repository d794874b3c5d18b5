//! What can go wrong talking to Elasticsearch, classified for the executor: which failures are
//! worth retrying, which mean "poll the state instead", and which will never change.

use std::time::Duration;

use miette::Diagnostic;
use serde::Serialize;
use thiserror::Error;

/// The parts of Elasticsearch's error envelope quiesce reports (docs/elasticsearch-ml-api.md §1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EsErrorBody {
    /// `error.type`, e.g. `status_exception`; for the flat routing errors, empty.
    pub error_type: String,
    /// `error.reason`, or the flat `error` string.
    pub reason: String,
    /// `error.caused_by.reason`, when present.
    pub caused_by: Option<String>,
}

impl EsErrorBody {
    /// Reads an error body; anything that is not Elasticsearch's JSON becomes its text.
    pub(crate) fn parse(text: &str) -> EsErrorBody {
        let value: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
        let error = &value["error"];
        if let Some(flat) = error.as_str() {
            return EsErrorBody {
                error_type: String::new(),
                reason: flat.to_owned(),
                caused_by: None,
            };
        }
        let reason = error["reason"].as_str().map_or_else(
            || {
                let text = text.trim();
                if text.is_empty() {
                    "(empty response body)".to_owned()
                } else {
                    text.chars().take(300).collect()
                }
            },
            str::to_owned,
        );
        EsErrorBody {
            error_type: error["type"].as_str().unwrap_or_default().to_owned(),
            reason,
            caused_by: error["caused_by"]["reason"].as_str().map(str::to_owned),
        }
    }
}

/// A failed call to Elasticsearch.
#[derive(Debug, Error, Diagnostic)]
pub enum Error {
    #[error("`{url}` is not a usable Elasticsearch URL")]
    #[diagnostic(
        code(quiesce::es::invalid_url),
        help("Use the form https://host:9200, as given by `cluster.url`, `--cluster` or ES_URL.")
    )]
    InvalidUrl { url: String },

    #[error("cannot use the CA certificate `{path}`: {reason}")]
    #[diagnostic(
        code(quiesce::es::ca_cert),
        help(
            "`cluster.ca_cert` (or ES_CA_CERT) must name a PEM file, e.g. config/certs/http_ca.crt."
        )
    )]
    CaCert { path: String, reason: String },

    #[error("cannot reach Elasticsearch at `{url}`")]
    #[diagnostic(
        code(quiesce::es::unreachable),
        help(
            "Check the URL, that the cluster is up, and that TLS settings match (https needs `ca_cert` for a private CA)."
        )
    )]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },

    #[error("`{endpoint}` got no answer within {after:?}")]
    #[diagnostic(
        code(quiesce::es::timeout),
        help("The cluster may be overloaded; the request may still complete on its side.")
    )]
    Timeout {
        endpoint: &'static str,
        after: Duration,
    },

    #[error("`{endpoint}` failed on the way: {source}")]
    #[diagnostic(code(quiesce::es::transport))]
    Transport {
        endpoint: &'static str,
        #[source]
        source: reqwest::Error,
    },

    #[error("`{endpoint}` answered {status}: {}{}", if body.error_type.is_empty() { String::new() } else { format!("{}: ", body.error_type) }, body.reason)]
    #[diagnostic(code(quiesce::es::api))]
    Api {
        endpoint: &'static str,
        status: u16,
        body: EsErrorBody,
        /// `Retry-After`, when the server sent one.
        retry_after: Option<Duration>,
    },

    #[error("the server at `{url}` is not Elasticsearch: {reason}")]
    #[diagnostic(
        code(quiesce::es::not_elasticsearch),
        help(
            "quiesce checks the `X-Elastic-Product: Elasticsearch` header, as the official clients do; point it at an Elasticsearch node, not Kibana or a proxy page."
        )
    )]
    NotElasticsearch { url: String, reason: String },

    #[error("`{endpoint}` returned a body quiesce cannot read")]
    #[diagnostic(
        code(quiesce::es::decode),
        help(
            "This Elasticsearch version may answer differently from the ones quiesce knows; please report it with the version."
        )
    )]
    Decode {
        endpoint: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

impl Error {
    /// Worth the same call again after a back-off: the failure says nothing about the request
    /// itself (connection, timeout, 429, 502, 503, 504). 4xx other than 429 never are.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Unreachable { .. } | Error::Timeout { .. } | Error::Transport { .. } => true,
            Error::Api { status, .. } => matches!(status, 429 | 502 | 503 | 504),
            Error::InvalidUrl { .. }
            | Error::CaCert { .. }
            | Error::NotElasticsearch { .. }
            | Error::Decode { .. } => false,
        }
    }

    /// Elasticsearch stopped waiting but the operation goes on in the background: a close's
    /// 500 `Timed out when waiting for persistent tasks` (E14), or the 408 of an open or a
    /// start (E15, E16). The right reaction is to poll the state, not to give up.
    pub fn is_still_in_progress(&self) -> bool {
        match self {
            Error::Api { status: 408, .. } => true,
            Error::Api {
                status: 500, body, ..
            } => body
                .reason
                .starts_with("Timed out when waiting for persistent tasks"),
            _ => false,
        }
    }

    /// The HTTP status, for API errors.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The Elasticsearch error body, for API errors.
    pub fn body(&self) -> Option<&EsErrorBody> {
        match self {
            Error::Api { body, .. } => Some(body),
            _ => None,
        }
    }

    /// The server's `Retry-After`, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, error_type: &str, reason: &str) -> Error {
        Error::Api {
            endpoint: "ml.close_job",
            status,
            body: EsErrorBody {
                error_type: error_type.into(),
                reason: reason.into(),
                caused_by: None,
            },
            retry_after: None,
        }
    }

    #[test]
    fn classification_follows_the_catalogue() {
        for status in [429, 502, 503, 504] {
            assert!(
                api(status, "status_exception", "x").is_retryable(),
                "{status}"
            );
        }
        for status in [400, 401, 403, 404, 405, 408, 409, 500] {
            assert!(
                !api(status, "status_exception", "x").is_retryable(),
                "{status}"
            );
        }
        let e14 = api(
            500,
            "illegal_state_exception",
            "Timed out when waiting for persistent tasks after 30m",
        );
        assert!(e14.is_still_in_progress());
        assert!(
            api(
                408,
                "status_exception",
                "Opening job [a] timed out after [20s]"
            )
            .is_still_in_progress()
        );
        assert!(!api(500, "exception", "boom").is_still_in_progress());
    }

    #[test]
    fn error_bodies_parse_in_both_shapes() {
        let envelope = r#"{"error":{"root_cause":[{"type":"status_exception","reason":"r"}],"type":"status_exception","reason":"cannot close job [a] because it failed, use force close","caused_by":{"type":"illegal_state_exception","reason":"inner"}},"status":409}"#;
        let body = EsErrorBody::parse(envelope);
        assert_eq!(body.error_type, "status_exception");
        assert_eq!(
            body.reason,
            "cannot close job [a] because it failed, use force close"
        );
        assert_eq!(body.caused_by.as_deref(), Some("inner"));

        let flat = EsErrorBody::parse(
            r#"{"error":"no handler found for uri [/x] and method [GET]","status":400}"#,
        );
        assert_eq!(flat.error_type, "");
        assert_eq!(
            flat.reason,
            "no handler found for uri [/x] and method [GET]"
        );

        let proxy = EsErrorBody::parse("<html>Bad Gateway</html>");
        assert_eq!(proxy.reason, "<html>Bad Gateway</html>");
    }
}
