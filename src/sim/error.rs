//! The Elasticsearch error envelope (es-ml-api.md §1.3) and the flat routing errors (§1.2),
//! as the simulator sends them. Every refusal the simulator makes is an [`EsError`].

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An error response exactly as Elasticsearch would send it.
#[derive(Debug, Clone, PartialEq)]
pub struct EsError {
    pub status: StatusCode,
    pub body: ErrorBody,
    /// Extra response headers, e.g. `WWW-Authenticate` on a 401.
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// The two shapes of error body Elasticsearch uses.
#[derive(Debug, Clone, PartialEq)]
pub enum ErrorBody {
    /// `{"error":{"root_cause":[..],"type":..,"reason":..,"caused_by":..},"status":..}`
    Envelope {
        error_type: String,
        reason: String,
        caused_by: Option<Cause>,
    },
    /// `{"error":"<message>","status":..}`: unknown path (400) and wrong method (405).
    Flat { message: String },
}

/// The `caused_by` part of an envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct Cause {
    pub error_type: String,
    pub reason: String,
}

impl EsError {
    /// An envelope error with the given status, ES type (`status_exception`, …) and reason.
    pub fn new(status: u16, error_type: &str, reason: impl Into<String>) -> Self {
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
    pub fn flat(status: u16, message: impl Into<String>) -> Self {
        EsError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            body: ErrorBody::Flat {
                message: message.into(),
            },
            headers: Vec::new(),
        }
    }

    /// Adds a `caused_by`; `root_cause` stays the top-level error, as ES does.
    pub fn caused_by(mut self, error_type: &str, reason: impl Into<String>) -> Self {
        if let ErrorBody::Envelope { caused_by, .. } = &mut self.body {
            *caused_by = Some(Cause {
                error_type: error_type.to_owned(),
                reason: reason.into(),
            });
        }
        self
    }

    /// Adds a response header.
    pub fn with_header(mut self, name: HeaderName, value: &'static str) -> Self {
        self.headers.push((name, HeaderValue::from_static(value)));
        self
    }

    /// The ES error type, or `None` for a flat error.
    pub fn error_type(&self) -> Option<&str> {
        match &self.body {
            ErrorBody::Envelope { error_type, .. } => Some(error_type),
            ErrorBody::Flat { .. } => None,
        }
    }

    /// The reason (envelope) or message (flat).
    pub fn reason(&self) -> &str {
        match &self.body {
            ErrorBody::Envelope { reason, .. } => reason,
            ErrorBody::Flat { message } => message,
        }
    }

    /// The JSON body, byte for byte in ES's field order.
    pub fn to_json(&self) -> Value {
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
