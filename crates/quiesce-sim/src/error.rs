//! The Elasticsearch error envelope (docs/elasticsearch-ml-api.md §1.3) and the flat routing errors (§1.2),
//! as the simulator sends them. Every refusal the simulator makes is an [`EsError`].

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::seed::EsVersion;

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
    /// `{"error":{"root_cause":[..],"type":..,"reason":..,"caused_by":..},"status":..}`;
    /// boxed to keep `Result<_, EsError>` small.
    Envelope(Box<Exception>),
    /// `{"error":"<message>","status":..}`: unknown path (400) and wrong method (405).
    Flat { message: String },
}

/// One Java exception as `ElasticsearchException.generateThrowableXContent` renders it: its
/// type, reason, the `header` metadata it carries (a security exception's `WWW-Authenticate`)
/// and its cause.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Exception {
    pub(crate) error_type: String,
    pub(crate) reason: String,
    pub(crate) header: Vec<(&'static str, Vec<String>)>,
    /// The metadata an exception carries beside its reason (`index`, `index_uuid`, `shard`,
    /// `resource.id`, …), written as fields of its object.
    pub(crate) metadata: Vec<(&'static str, Value)>,
    pub(crate) caused_by: Option<Box<Exception>>,
}

/// The types whose Java class extends `ElasticsearchException`: `guessRootCauses` recurses
/// only through these (docs/elasticsearch-ml-api.md §1.3). `illegal_argument_exception`,
/// `illegal_state_exception`, `x_content_parse_exception`, `action_request_validation_exception`
/// and `es_rejected_execution_exception` are plain Java exceptions and end the recursion.
const ELASTICSEARCH_EXCEPTIONS: &[&str] = &[
    "exception",
    "status_exception",
    "resource_not_found_exception",
    "resource_already_exists_exception",
    "security_exception",
    "parse_exception",
    "master_not_discovered_exception",
    "timeout_exception",
    "cluster_block_exception",
    "failed_node_exception",
    "index_not_found_exception",
    "invalid_index_name_exception",
    "version_conflict_engine_exception",
    "document_missing_exception",
    "parsing_exception",
    "search_phase_execution_exception",
];

impl Exception {
    fn new(error_type: &str, reason: impl Into<String>) -> Self {
        Exception {
            error_type: error_type.to_owned(),
            reason: reason.into(),
            header: Vec::new(),
            metadata: Vec::new(),
            caused_by: None,
        }
    }

    fn is_elasticsearch_exception(&self) -> bool {
        ELASTICSEARCH_EXCEPTIONS.contains(&self.error_type.as_str())
    }

    /// `ElasticsearchException.guessRootCauses`: follow the cause while both this exception and
    /// its cause are `ElasticsearchException`s.
    fn root_cause(&self) -> &Exception {
        let mut current = self;
        while let Some(cause) = &current.caused_by {
            if !current.is_elasticsearch_exception() || !cause.is_elasticsearch_exception() {
                break;
            }
            current = cause;
        }
        current
    }

    /// The innermost exception of the chain.
    fn innermost_mut(&mut self) -> &mut Exception {
        match self.caused_by {
            Some(ref mut cause) => cause.innermost_mut(),
            None => self,
        }
    }

    /// `type`, `reason`, `caused_by` (unless `skip_cause`, as for `root_cause` entries) and
    /// `header`.
    fn to_json(&self, skip_cause: bool) -> Value {
        let mut object = json!({ "type": self.error_type, "reason": self.reason });
        for (key, value) in &self.metadata {
            object[*key] = value.clone();
        }
        if !skip_cause && let Some(cause) = &self.caused_by {
            object["caused_by"] = cause.to_json(false);
        }
        if !self.header.is_empty() {
            let header: serde_json::Map<String, Value> = self
                .header
                .iter()
                .map(|(name, values)| {
                    // ES writes a single value as a string, several as an array.
                    let value = match values.as_slice() {
                        [one] => json!(one),
                        many => json!(many),
                    };
                    ((*name).to_owned(), value)
                })
                .collect();
            object["header"] = Value::Object(header);
        }
        object
    }
}

impl EsError {
    /// An envelope error with the given status, ES type (`status_exception`, …) and reason.
    pub(crate) fn new(status: u16, error_type: &str, reason: impl Into<String>) -> Self {
        EsError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body: ErrorBody::Envelope(Box::new(Exception::new(error_type, reason))),
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

    /// Adds a cause at the end of the chain. `root_cause` follows it only when both are
    /// `ElasticsearchException`s, as `guessRootCauses` does.
    pub(crate) fn caused_by(self, error_type: &str, reason: impl Into<String>) -> Self {
        self.caused_by_error(&EsError::new(500, error_type, reason))
    }

    /// Adds another error (its whole chain) as the cause, as ES wraps an exception.
    pub(crate) fn caused_by_error(mut self, cause: &EsError) -> Self {
        let cause = match &cause.body {
            ErrorBody::Envelope(exception) => (**exception).clone(),
            // A proxy's flat body becomes a plain exception.
            ErrorBody::Flat { message } => Exception::new("exception", message.clone()),
        };
        if let ErrorBody::Envelope(exception) = &mut self.body {
            exception.innermost_mut().caused_by = Some(Box::new(cause));
        }
        self
    }

    /// Adds a response header that the envelope's `header` object repeats, as an
    /// `ElasticsearchSecurityException` carries its `WWW-Authenticate` challenges.
    pub(crate) fn with_header(mut self, name: HeaderName, value: &'static str) -> Self {
        if let ErrorBody::Envelope(exception) = &mut self.body {
            let key = match name.as_str() {
                "www-authenticate" => "WWW-Authenticate",
                _ => "header",
            };
            match exception
                .header
                .iter_mut()
                .find(|(existing, _)| *existing == key)
            {
                Some((_, values)) => values.push(value.to_owned()),
                None => exception.header.push((key, vec![value.to_owned()])),
            }
        }
        self.headers.push((name, HeaderValue::from_static(value)));
        self
    }

    /// Adds a metadata field (`index`, `index_uuid`, `shard`, …) to the top exception.
    pub(crate) fn with_metadata(mut self, key: &'static str, value: impl Into<Value>) -> Self {
        if let ErrorBody::Envelope(exception) = &mut self.body {
            exception.metadata.push((key, value.into()));
        }
        self
    }

    /// The ES error type, or `None` for a flat error.
    pub(crate) fn error_type(&self) -> Option<&str> {
        match &self.body {
            ErrorBody::Envelope(exception) => Some(&exception.error_type),
            ErrorBody::Flat { .. } => None,
        }
    }

    /// The reason (envelope) or message (flat).
    pub(crate) fn reason(&self) -> &str {
        match &self.body {
            ErrorBody::Envelope(exception) => &exception.reason,
            ErrorBody::Flat { message } => message,
        }
    }

    /// The JSON body as `ElasticsearchException.generateFailureXContent` writes it.
    pub(crate) fn to_json(&self) -> Value {
        match &self.body {
            ErrorBody::Envelope(exception) => {
                let mut error = exception.to_json(false);
                error["root_cause"] = json!([exception.root_cause().to_json(true)]);
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
        .caused_by_error(cause)
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

    /// E13: `cluster.persistent_tasks.allocation.enable` is `none`
    /// (OpenJobPersistentTasksExecutor.makeAssignmentsNotAllowedException).
    pub(crate) fn assignment_disabled() -> Self {
        EsError::new(
            429,
            "status_exception",
            "Cannot open jobs because persistent task assignment is disabled by the \
             [cluster.persistent_tasks.allocation.enable] setting",
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

    /// E15: 8.x sends an `ElasticsearchStatusException` with 408, 7.x a plain
    /// `ElasticsearchException` (500) with the same text (`TransportOpenJobAction`).
    pub(crate) fn open_timeout(job: &str, timeout: &str, version: EsVersion) -> Self {
        EsError::wait_timed_out(
            format!("Opening job [{job}] timed out after [{timeout}]"),
            version,
        )
    }

    /// E16, like E15 (`TransportStartDatafeedAction`).
    pub(crate) fn start_timeout(datafeed: &str, timeout: &str, version: EsVersion) -> Self {
        EsError::wait_timed_out(
            format!("Starting datafeed [{datafeed}] timed out after [{timeout}]"),
            version,
        )
    }

    fn wait_timed_out(reason: String, version: EsVersion) -> Self {
        if version.major >= 8 {
            EsError::new(408, "status_exception", reason)
        } else {
            EsError::new(500, "exception", reason)
        }
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

    #[error("cannot make the TLS certificate: {0}")]
    #[diagnostic(
        code(quiesce::sim::tls),
        help(
            "Extra certificate names must be DNS names or IP addresses, e.g. `--tls-name es.local`."
        )
    )]
    Tls(String),

    #[error("cannot write the CA certificate to `{}`", path.display())]
    #[diagnostic(
        code(quiesce::sim::ca_out),
        help("Give `--ca-out` a path in a directory you can write to.")
    )]
    CaOut {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },

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
