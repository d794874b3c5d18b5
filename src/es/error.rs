//! What can go wrong talking to Elasticsearch, classified: which failures are worth retrying,
//! which mean "poll the state instead", which will never change, and which of Elasticsearch's
//! refusals mean something particular to quiesce (a job already open, a failed job that only a
//! forced close moves, security switched off). The rest of quiesce asks these questions and
//! never looks at a status or a reason text itself.

use std::time::Duration;

use miette::Diagnostic;
use serde::Serialize;
use thiserror::Error;

/// The parts of Elasticsearch's error envelope quiesce reports (docs/elasticsearch-ml-api.md §1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct EsErrorBody {
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
pub(crate) enum Error {
    #[error("`{url}` is not a usable Elasticsearch URL")]
    #[diagnostic(
        code(quiesce::es::invalid_url),
        help("Use the form https://host:9200, as given by `cluster.url`, `--cluster` or ES_URL.")
    )]
    InvalidUrl { url: String },

    #[error("`{target}` does not name a model snapshot as `<job>/<snapshot>`")]
    #[diagnostic(
        code(quiesce::es::invalid_target),
        help(
            "A saved plan's snapshot steps name `<job>/<snapshot>`; make the plan again with `quiesce plan`."
        )
    )]
    InvalidTarget { target: String },

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

    #[error("cannot connect to Elasticsearch at `{url}` over TLS: {problem}")]
    #[diagnostic(code(quiesce::es::tls))]
    Tls {
        url: String,
        problem: super::TlsProblem,
        #[help]
        help: String,
    },

    #[error("`{endpoint}` answered more than quiesce reads from one answer ({}{})", limit / (1024 * 1024), " MiB")]
    #[diagnostic(
        code(quiesce::es::too_large),
        help(
            "quiesce reads at most 128 MiB of one answer, several times the stats of 10,000 jobs; a longer answer (or one that announces it) is not an Elasticsearch answer quiesce asked for: check that the URL points at Elasticsearch and not at a proxy or another service."
        )
    )]
    TooLarge {
        endpoint: &'static str,
        /// The `Content-Length` the server announced, when it did.
        announced: Option<u64>,
        limit: u64,
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
        /// What to check, for the statuses that say something about the credentials.
        #[help]
        help: Option<CredentialsHelp>,
        /// `Retry-After`, when the server sent one.
        retry_after: Option<Duration>,
    },

    #[error("the server at `{url}` is not Elasticsearch: {reason}; it answered {found}")]
    #[diagnostic(
        code(quiesce::es::not_elasticsearch),
        help(
            "quiesce checks the `X-Elastic-Product: Elasticsearch` header, as the official clients do; point it at an Elasticsearch node (usually port 9200), not Kibana, a proxy page or another service."
        )
    )]
    NotElasticsearch {
        url: String,
        reason: String,
        found: Box<Found>,
    },

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

/// What a server that is not Elasticsearch sent instead: status, content type, and the page's
/// title or the first words of the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    pub status: u16,
    pub content_type: String,
    /// The HTML `<title>`, when there is one.
    pub title: Option<String>,
    /// The start of the body, on one line.
    pub excerpt: String,
}

/// The help of a 401 or a 403: what to check about the credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CredentialsHelp {
    /// 401.
    NotAccepted,
    /// 403.
    MissingPrivilege,
}

impl std::fmt::Display for CredentialsHelp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CredentialsHelp::NotAccepted => {
                "The cluster did not accept the credentials: check the API key (ES_API_KEY or `cluster.api_key`) or the username and password (ES_USERNAME and ES_PASSWORD, or the playbook's), that they belong to this cluster, and that they have not expired or been revoked."
            }
            CredentialsHelp::MissingPrivilege => {
                "The credentials were accepted but lack a privilege: quiesce needs the cluster privilege `manage_ml` (e.g. the built-in role `machine_learning_admin`), and `monitor` to read the cluster's name and version."
            }
        })
    }
}

/// How much of a foreign body a message repeats.
const EXCERPT_CHARS: usize = 80;

impl Found {
    pub(crate) fn new(status: u16, content_type: &str, body: &str) -> Found {
        let one_line = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
        let title = body
            .find("<title>")
            .or_else(|| body.find("<TITLE>"))
            .and_then(|start| {
                let rest = &body[start + "<title>".len()..];
                let end = rest.find("</").unwrap_or(rest.len());
                Some(one_line(&rest[..end])).filter(|t| !t.is_empty())
            });
        let text = one_line(body);
        let excerpt = match text.char_indices().nth(EXCERPT_CHARS) {
            Some((cut, _)) => format!("{}…", &text[..cut]),
            None => text,
        };
        Found {
            status,
            content_type: content_type.to_owned(),
            title,
            excerpt,
        }
    }
}

impl std::fmt::Display for Found {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if self.content_type.is_empty() {
            f.write_str(" with no content type")?;
        } else {
            write!(f, " `{}`", self.content_type)?;
        }
        match (&self.title, self.excerpt.is_empty()) {
            (Some(title), _) => write!(f, ", titled “{title}”"),
            (None, true) => f.write_str(", with an empty body"),
            (None, false) => write!(f, ", starting “{}”", self.excerpt),
        }
    }
}

impl Error {
    /// What to check when a call is refused for its credentials: 401 (not accepted) and 403
    /// (accepted, but a privilege is missing).
    pub(crate) fn help_for_status(status: u16) -> Option<CredentialsHelp> {
        match status {
            401 => Some(CredentialsHelp::NotAccepted),
            403 => Some(CredentialsHelp::MissingPrivilege),
            _ => None,
        }
    }

    /// Worth the same call again after a back-off: the failure says nothing about the request
    /// itself (connection, timeout, 429, 502, 503, 504). 4xx other than 429 never are.
    pub(crate) fn is_retryable(&self) -> bool {
        match self {
            Error::Unreachable { .. } | Error::Timeout { .. } | Error::Transport { .. } => true,
            Error::Api { .. } if self.is_no_capacity() => false,
            Error::Api { status, .. } => matches!(status, 429 | 502 | 503 | 504),
            Error::InvalidUrl { .. }
            | Error::InvalidTarget { .. }
            | Error::CaCert { .. }
            | Error::Tls { .. }
            | Error::TooLarge { .. }
            | Error::NotElasticsearch { .. }
            | Error::Decode { .. } => false,
        }
    }

    /// A refusal for overload: 429 with `es_rejected_execution_exception` (a full thread pool
    /// queue) or `circuit_breaking_exception`. Retryable, and a sign to send less at once; the
    /// 429 `status_exception`s (upgrade mode, no room for a job) are not this.
    pub(crate) fn is_overloaded(&self) -> bool {
        OVERLOAD_TYPES
            .iter()
            .any(|error_type| self.is_refusal(429, error_type, &[]))
    }

    /// Elasticsearch stopped waiting but the operation goes on in the background: a close's
    /// (or an upgrade-mode change's) 500 `Timed out when waiting for persistent tasks` (E14),
    /// the timeout of an open or a start (E15, E16: 408 on 8.x, a 500 `exception` on 7.x), or
    /// the list-tasks timeout of enabling upgrade mode (§2.5), or a snapshot upgrade of the job
    /// already running (§12.2, 409). The right reaction is to poll the state, not to give up.
    pub(crate) fn is_still_in_progress(&self) -> bool {
        matches!(self, Error::Api { status: 408, .. })
            || self.is_refusal(500, "illegal_state_exception", &[CLOSE_TIMED_OUT])
            || self.is_refusal(500, "exception", &[OPEN_TIMED_OUT, START_TIMED_OUT])
            || self.is_refusal(409, "status_exception", &[SNAPSHOT_BEING_UPGRADED])
            || (self.is_refusal(500, "failed_node_exception", &[FAILED_NODE])
                && self
                    .body()
                    .and_then(|body| body.caused_by.as_deref())
                    .is_some_and(|cause| WAIT_TIMED_OUT.fits(cause)))
    }

    /// The 429 of an open that no ML node has room for (E12: memory or
    /// `xpack.ml.max_open_jobs`; docs/elasticsearch-ml-api.md §2.3, §12.4). A 429, but not one
    /// to retry: the answer stays the same until something else closes, so retrying only spends
    /// the step's attempts and time.
    pub(crate) fn is_no_capacity(&self) -> bool {
        self.is_refusal(429, "status_exception", &[NO_CAPACITY])
    }

    /// The 409 of opening a job that already has a task (E7). The task may be `opening`,
    /// `opened`, `closing` or `failed` (docs/elasticsearch-ml-api.md §2.3): this says "look at
    /// the stats", not "it is open".
    pub(crate) fn is_already_opened(&self) -> bool {
        self.is_refusal(409, "status_exception", &[ALREADY_OPENED])
    }

    /// The 409 of starting a datafeed that already has a task: `starting`, `started` or
    /// `stopping` (E9).
    pub(crate) fn is_already_started(&self) -> bool {
        self.is_refusal(409, "status_exception", &[ALREADY_STARTED])
    }

    /// The 409 of closing a failed job without `force` (E3 for one job, E4 for several):
    /// nothing was touched, and only a forced close gets the job out of `failed`.
    pub(crate) fn needs_force_close(&self) -> bool {
        self.is_refusal(409, "status_exception", &[FAILED_JOB, FAILED_JOBS])
    }

    /// A 403 `security_exception`: the credentials are valid but lack a privilege the call
    /// needs (E18; docs/elasticsearch-ml-api.md §2.15). A 401 is not this, nor a 403 of
    /// another kind (a cluster block, a proxy's refusal).
    pub(crate) fn is_missing_privilege(&self) -> bool {
        self.is_refusal(403, "security_exception", &[])
    }

    /// The 404 of a calendar that does not exist (docs/elasticsearch-ml-api.md §13.1).
    pub(crate) fn is_no_calendar(&self) -> bool {
        self.is_refusal(404, "resource_not_found_exception", &[NO_CALENDAR])
    }

    /// E2: the 404 of a datafeed that does not exist (docs/elasticsearch-ml-api.md §4).
    pub(crate) fn is_no_datafeed(&self) -> bool {
        self.is_refusal(404, "resource_not_found_exception", &[NO_DATAFEED])
    }

    /// The answer of a security API on a cluster whose security is off
    /// (docs/elasticsearch-ml-api.md §2.14): 8.x registers no security handler (a flat 400
    /// `no handler found` for the `/_security/` path), 7.x on a basic licence refuses with
    /// 500 `Security must be explicitly enabled`. Nothing can be unauthorised then.
    pub(crate) fn is_security_disabled(&self) -> bool {
        self.is_refusal(400, "", &[NO_SECURITY_HANDLER])
            || self.is_refusal(500, "exception", &[SECURITY_NOT_ENABLED])
    }

    /// The 409 of a document write that lost a race: a `_create` of an id that exists, or an
    /// `if_seq_no`/`if_primary_term` that no longer matches (docs/elasticsearch-ml-api.md
    /// §11.2).
    pub(crate) fn is_version_conflict(&self) -> bool {
        self.is_refusal(409, "version_conflict_engine_exception", &[])
    }

    /// The 400 of creating an index that exists (§11.1).
    pub(crate) fn is_index_already_there(&self) -> bool {
        self.is_refusal(400, "resource_already_exists_exception", &[])
    }

    /// An API error with this status and error `type`, whose reason fits one of `reasons`
    /// (any reason when there are none). The flat routing errors have the type `""`.
    fn is_refusal(&self, status: u16, error_type: &str, reasons: &[Reason]) -> bool {
        match self {
            Error::Api {
                status: got, body, ..
            } => {
                *got == status
                    && body.error_type == error_type
                    && (reasons.is_empty() || reasons.iter().any(|r| r.fits(&body.reason)))
            }
            _ => false,
        }
    }

    /// The HTTP status, for API errors.
    pub(crate) fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The Elasticsearch error body, for API errors.
    pub(crate) fn body(&self) -> Option<&EsErrorBody> {
        match self {
            Error::Api { body, .. } => Some(body),
            _ => None,
        }
    }

    /// The server's `Retry-After`, if any.
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// A reason text exactly as docs/elasticsearch-ml-api.md writes it: Elasticsearch's words,
/// with `<...>` where it fills something in at run time. Only for refusals whose status and
/// error `type` do not tell them apart (a 409 `status_exception` is E3 to E9 alike); every
/// text quiesce recognises is one of the constants below.
struct Reason(&'static str);

/// E3: closing one failed job without force.
/// The `error.type`s of a 429 that means overload rather than a refusal of this request.
pub(crate) const OVERLOAD_TYPES: [&str; 2] = [
    "es_rejected_execution_exception",
    "circuit_breaking_exception",
];

const FAILED_JOB: Reason = Reason("cannot close job [<id>] because it failed, use force close");
/// E4: closing an expression that takes in a failed job, without force.
const FAILED_JOBS: Reason = Reason("one or more jobs have state failed, use force close");
/// E12.
const NO_CAPACITY: Reason =
    Reason("Could not open job because no ML nodes with sufficient capacity were found");
/// E7.
const ALREADY_OPENED: Reason = Reason("Cannot open job [<id>] because it has already been opened");
/// E9.
const ALREADY_STARTED: Reason =
    Reason("cannot start datafeed [<df>] because it has already been started");
/// E14.
const CLOSE_TIMED_OUT: Reason =
    Reason("Timed out when waiting for persistent tasks after <timeout>");
/// E15 on 7.x (8.x answers 408).
const OPEN_TIMED_OUT: Reason = Reason("Opening job [<id>] timed out after [<timeout>]");
/// E16 on 7.x (8.x answers 408).
const START_TIMED_OUT: Reason = Reason("Starting datafeed [<df>] timed out after [<timeout>]");
/// §12.2 check 2: an upgrade of one of the job's snapshots is already under way (one a run
/// asked for before it was killed, when its resume asks again).
const SNAPSHOT_BEING_UPGRADED: Reason = Reason(
    "Cannot upgrade job [<job>] snapshot [<snapshot>] as there is currently a snapshot for this job being upgraded",
);
/// §2.5: a node's list-tasks wait, while enabling upgrade mode, ran out ...
const FAILED_NODE: Reason = Reason("Failed node [<node id>]");
/// ... caused by this.
const WAIT_TIMED_OUT: Reason = Reason("timed out after [<timeout>]");
/// §2.14: 7.x on a basic (or trial) licence without `xpack.security.enabled`.
const SECURITY_NOT_ENABLED: Reason = Reason(
    "Security must be explicitly enabled when using a [<licence>] license. Enable security by setting [xpack.security.enabled] to [true] in the elasticsearch.yml file and restart the node.",
);
/// E2: a datafeed that does not exist.
const NO_DATAFEED: Reason = Reason("No datafeed with id [<expr>] exists");
/// §13.1: a calendar that does not exist.
const NO_CALENDAR: Reason = Reason("No calendar with id [<id>]");
/// §1.2, §2.14: the flat 400 for a path nothing serves; under `/_security/`, security is off.
const NO_SECURITY_HANDLER: Reason =
    Reason("no handler found for uri [/_security/<path>] and method [<method>]");

impl Reason {
    /// Whether `reason` is this text with its run-time parts filled in (with anything).
    fn fits(&self, reason: &str) -> bool {
        // Each `<...>` becomes the `*` of a simple wildcard; the texts hold no `*` of their own.
        let mut pattern = Vec::with_capacity(self.0.len());
        let mut in_placeholder = false;
        for byte in self.0.bytes() {
            match byte {
                b'<' => {
                    in_placeholder = true;
                    pattern.push(b'*');
                }
                b'>' if in_placeholder => in_placeholder = false,
                _ if in_placeholder => {}
                _ => pattern.push(byte),
            }
        }
        wildcard::WildcardBuilder::from_owned(pattern)
            .without_one_metasymbol()
            .without_escape()
            .build()
            .is_ok_and(|text| text.is_match(reason.as_bytes()))
    }
}

#[cfg(test)]
mod tests;
