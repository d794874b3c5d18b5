//! The Elasticsearch error envelope (docs/elasticsearch-ml-api.md §1.3) and the flat routing errors (§1.2),
//! as the simulator sends them. Every refusal the simulator makes is an [`EsError`].

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An error response exactly as Elasticsearch would send it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EsError {
    pub(crate) status: StatusCode,
    pub(crate) body: ErrorBody,
    /// Extra response headers, e.g. `WWW-Authenticate` on a 401.
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
}

/// The two shapes of error body Elasticsearch uses.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ErrorBody {
    /// `{"error":{"root_cause":[..],"type":..,"reason":..,"caused_by":..},"status":..}`
    Envelope {
        error_type: String,
        reason: String,
        /// Boxed to keep `Result<_, EsError>` small.
        caused_by: Option<Box<Cause>>,
    },
    /// `{"error":"<message>","status":..}`: unknown path (400) and wrong method (405).
    Flat { message: String },
}

/// The `caused_by` part of an envelope.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cause {
    pub(crate) error_type: String,
    pub(crate) reason: String,
}

impl EsError {
    /// An envelope error with the given status, ES type (`status_exception`, …) and reason.
    pub(crate) fn new(status: u16, error_type: &str, reason: impl Into<String>) -> Self {
        EsError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body: ErrorBody::Envelope {
                error_type: error_type.to_owned(),
                reason: reason.into(),
                caused_by: None,
            },
            headers: Vec::new(),
        }
    }

    /// A flat routing error (`no handler found …`, `Incorrect HTTP method …`).
    pub(crate) fn flat(status: u16, message: impl Into<String>) -> Self {
        EsError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            body: ErrorBody::Flat {
                message: message.into(),
            },
            headers: Vec::new(),
        }
    }

    /// Adds a `caused_by`; `root_cause` stays the top-level error, as ES does.
    pub(crate) fn caused_by(mut self, error_type: &str, reason: impl Into<String>) -> Self {
        if let ErrorBody::Envelope { caused_by, .. } = &mut self.body {
            *caused_by = Some(Box::new(Cause {
                error_type: error_type.to_owned(),
                reason: reason.into(),
            }));
        }
        self
    }

    /// Adds a response header.
    pub(crate) fn with_header(mut self, name: HeaderName, value: &'static str) -> Self {
        self.headers.push((name, HeaderValue::from_static(value)));
        self
    }

    /// The ES error type, or `None` for a flat error.
    pub(crate) fn error_type(&self) -> Option<&str> {
        match &self.body {
            ErrorBody::Envelope { error_type, .. } => Some(error_type),
            ErrorBody::Flat { .. } => None,
        }
    }

    /// The reason (envelope) or message (flat).
    pub(crate) fn reason(&self) -> &str {
        match &self.body {
            ErrorBody::Envelope { reason, .. } => reason,
            ErrorBody::Flat { message } => message,
        }
    }

    /// The JSON body, byte for byte in ES's field order.
    pub(crate) fn to_json(&self) -> Value {
        match &self.body {
            ErrorBody::Envelope {
                error_type,
                reason,
                caused_by,
            } => {
                let mut error = json!({
                    "root_cause": [{ "type": error_type, "reason": reason }],
                    "type": error_type,
                    "reason": reason,
                });
                if let Some(cause) = caused_by {
                    error["caused_by"] =
                        json!({ "type": cause.error_type, "reason": cause.reason });
                }
                json!({ "error": error, "status": self.status.as_u16() })
            }
            ErrorBody::Flat { message } => {
                json!({ "error": message, "status": self.status.as_u16() })
            }
        }
    }
}

impl IntoResponse for EsError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            self.to_json().to_string(),
        )
            .into_response();
        for (name, value) in self.headers {
            response.headers_mut().append(name, value);
        }
        response
    }
}

/// The refusals of docs/elasticsearch-ml-api.md §4, worded exactly as Elasticsearch words them.
impl EsError {
    /// 409 `status_exception` (E3–E9, delete conflicts).
    pub(crate) fn conflict(reason: impl Into<String>) -> Self {
        EsError::new(409, "status_exception", reason)
    }

    /// E1: `expr` is the unmatched tokens joined by `,` (`*` for `_all`).
    pub(crate) fn unknown_job(expr: &str) -> Self {
        EsError::new(
            404,
            "resource_not_found_exception",
            format!("No known job with id '{expr}'"),
        )
    }

    /// E2.
    pub(crate) fn unknown_datafeed(expr: &str) -> Self {
        EsError::new(
            404,
            "resource_not_found_exception",
            format!("No datafeed with id [{expr}] exists"),
        )
    }

    /// E5: a close could not stop the datafeeds of its jobs; `cause` is the stop's error.
    pub(crate) fn close_datafeeds_not_stopped(datafeeds: &[String], cause: &EsError) -> Self {
        EsError::conflict(format!(
            "failed to close jobs as one or more had started datafeeds that could not be \
             stopped: started datafeeds [{}], error stopping them [{}]",
            datafeeds.join(","),
            cause.reason()
        ))
        .caused_by(cause.error_type().unwrap_or("exception"), cause.reason())
    }

    /// E10: an action the upgrade-mode filter refuses.
    pub(crate) fn upgrade_mode_enabled(action: &str) -> Self {
        EsError::new(
            429,
            "status_exception",
            format!("Cannot perform {action} action while upgrade mode is enabled"),
        )
    }

    /// E12, with the allocation explanation as `caused_by`.
    pub(crate) fn no_capacity(explanation: &str) -> Self {
        EsError::new(
            429,
            "status_exception",
            "Could not open job because no ML nodes with sufficient capacity were found",
        )
        .caused_by(
            "illegal_state_exception",
            format!(
                "Could not open job because no suitable nodes were found, allocation \
                 explanation [{explanation}]"
            ),
        )
    }

    /// E14: the close goes on in the background.
    pub(crate) fn close_timeout(timeout: &str) -> Self {
        EsError::new(
            500,
            "illegal_state_exception",
            format!("Timed out when waiting for persistent tasks after {timeout}"),
        )
    }

    /// E15.
    pub(crate) fn open_timeout(job: &str, timeout: &str) -> Self {
        EsError::new(
            408,
            "status_exception",
            format!("Opening job [{job}] timed out after [{timeout}]"),
        )
    }

    /// E16.
    pub(crate) fn start_timeout(datafeed: &str, timeout: &str) -> Self {
        EsError::new(
            408,
            "status_exception",
            format!("Starting datafeed [{datafeed}] timed out after [{timeout}]"),
        )
    }

    /// E24: a start whose `end` is not after its `start` (epoch ms).
    pub(crate) fn start_not_before_end(start_ms: i64, end_ms: i64) -> Self {
        EsError::new(
            400,
            "action_request_validation_exception",
            format!(
                "Validation Failed: 1: start [{start_ms}] must be earlier than end [{end_ms}];"
            ),
        )
    }

    /// The flat 400 ES sends for a path it has no handler for (also the security endpoints
    /// when security is off, 8.x).
    pub(crate) fn no_handler(uri: &str, method: &str) -> Self {
        EsError::flat(
            400,
            format!("no handler found for uri [{uri}] and method [{method}]"),
        )
    }

    /// E23: the flat 405 with the allowed methods.
    pub(crate) fn wrong_method(uri: &str, method: &str, allowed: &[&str]) -> Self {
        EsError::flat(
            405,
            format!(
                "Incorrect HTTP method for uri [{uri}] and method [{method}], allowed: [{}]",
                allowed.join(", ")
            ),
        )
    }
}

/// Why a simulator could not start.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SimError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Seed(#[from] crate::seed::SeedError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Faults(#[from] crate::faults::FaultError),

    #[error("cannot listen on `{addr}`")]
    #[diagnostic(
        code(quiesce::sim::bind),
        help(
            "Choose another address with `--listen`, e.g. `--listen 127.0.0.1:0` for any free port."
        )
    )]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
}
