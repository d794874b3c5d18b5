//! The playbook file format, version 1, as Rust types: one struct per YAML mapping.
//!
//! These types are deserialized straight from the YAML (unknown keys rejected) and are also
//! the source of `schemas/playbook.schema.json`, so their doc comments are what editors show.
//! Values that need judging (states, durations, ids, secrets) are kept as spanned text here and
//! judged in [`crate::model`], which lets one run report every such problem at once; their
//! schema still says what is allowed (`#[schemars(with = ...)]`).

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;

use super::Sp;
use super::keywords::{DatafeedState, ForcePolicy, JobState, OldSnapshots, OnFailure, UpgradeMode};

/// A quiesce playbook: the machine-learning jobs and datafeeds of one Elasticsearch cluster
/// and the state each should be in. `${VAR}` and `${VAR:-default}` in any string value are
/// expanded from the environment; `$${` is a literal `${`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "quiesce playbook")]
pub(crate) struct RawPlaybook {
    /// Format version of this file. Only `1` exists.
    #[schemars(required, with = "u64", extend("enum" = [1]))]
    pub version: Option<Sp<u64>>,
    /// A short name for this playbook, shown in plans and reports. Defaults to the file name.
    pub name: Option<Sp<String>>,
    /// What this playbook is for, in a sentence or two.
    pub description: Option<Sp<String>>,
    /// The cluster to act on. `--cluster` or `ES_URL` on the command line override `url`.
    pub cluster: Option<Sp<RawCluster>>,
    /// How the run behaves. Every key has a default.
    pub settings: Option<RawSettings>,
    /// Anomaly-detection jobs and the state each should reach.
    #[serde(default)]
    pub jobs: Vec<Sp<RawJob>>,
    /// Datafeeds and the state each should reach.
    #[serde(default)]
    pub datafeeds: Vec<Sp<RawDatafeed>>,
    /// Machine-learning upgrade mode: `enabled` after every job is closed, `disabled` before any
    /// job is opened. Leave out to not touch it.
    #[schemars(with = "Option<UpgradeMode>")]
    pub upgrade_mode: Option<Sp<String>>,
    /// The Elasticsearch upgrade this playbook prepares for: `plan` and `apply` check that
    /// every targeted job's model snapshots open on `target_version`, and put the remedy into
    /// the plan, before the shutdown.
    pub upgrade: Option<Sp<RawUpgrade>>,
    /// A maintenance window: before the jobs are closed, quiesce puts them on this calendar
    /// and posts a scheduled event covering the window, so that the anomalies the maintenance
    /// causes are not alerted; `quiesce revert` removes what it added.
    pub maintenance: Option<Sp<RawMaintenance>>,
}

/// The upgrade a playbook prepares for.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Upgrade")]
pub(crate) struct RawUpgrade {
    /// The Elasticsearch version the cluster is to be upgraded to, `major.minor.patch`
    /// (`9.0.0`). `--target-version` overrides it.
    #[schemars(required, with = "VersionText")]
    pub target_version: Option<Sp<String>>,
    /// What to do with older model snapshots (not a job's current one) that the target
    /// version cannot open: `keep` (list them), `upgrade` (model snapshot upgrade API) or
    /// `delete`. Default `keep`.
    #[schemars(with = "Option<OldSnapshots>")]
    pub old_snapshots: Option<Sp<String>>,
}

/// An Elasticsearch version, `major.minor.patch`.
pub(crate) struct VersionText;

impl JsonSchema for VersionText {
    fn schema_name() -> Cow<'static, str> {
        "Version".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "An Elasticsearch version: `major.minor.patch`.",
            "type": "string",
            "pattern": r"^(\d+\.\d+\.\d+|.*\$\{.*\}.*)$",
            "examples": ["9.0.0"]
        })
    }
}

/// The calendar and window of a maintenance. Give exactly one of `window`, `duration` and
/// `undo`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Maintenance")]
pub(crate) struct RawMaintenance {
    /// The calendar id (id rules), created when the cluster has none by that id.
    #[schemars(required, with = "String", extend("pattern" = ID_PATTERN))]
    pub calendar: Option<Sp<String>>,
    /// The scheduled event's description. Default `maintenance window`.
    pub description: Option<Sp<String>>,
    /// The window, as RFC 3339 times with an offset (`2026-12-01T20:00:00Z`).
    pub window: Option<Sp<RawWindow>>,
    /// The window as a length, from when the plan is made (`4h`).
    #[schemars(with = "Option<DurationText>")]
    pub duration: Option<Sp<String>>,
    /// Written by `quiesce revert`: remove what a run added to the calendar.
    pub undo: Option<Sp<RawUndo>>,
}

/// A maintenance window's start and end.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Window")]
pub(crate) struct RawWindow {
    /// When the window starts (RFC 3339, with an offset).
    #[schemars(required, with = "String")]
    pub start: Option<Sp<String>>,
    /// When it ends; after `start`.
    #[schemars(required, with = "String")]
    pub end: Option<Sp<String>>,
}

/// What a run added to a maintenance calendar, for `quiesce revert` to remove it: its event,
/// the jobs it added, and the calendar itself if that run created it.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Undo")]
pub(crate) struct RawUndo {
    /// The run whose scheduled event to delete.
    #[schemars(required, with = "String")]
    pub run: Option<Sp<String>>,
    /// The job ids that run added to the calendar.
    #[serde(default)]
    pub jobs: Vec<Sp<String>>,
    /// That run created the calendar: delete it once nothing else is on it.
    pub calendar: Option<Sp<bool>>,
}

/// Where the cluster is and how to authenticate. Use either `api_key` or `username` with
/// `password`, or neither for a cluster without security.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Cluster")]
pub(crate) struct RawCluster {
    /// Base URL of the cluster, such as `https://es.example:9200` or `${ES_URL}`.
    pub url: Option<Sp<String>>,
    /// An Elasticsearch API key (the base64 `id:key` form). Must be a `${VAR}` reference: a
    /// literal secret in a version-controlled file is an error.
    #[schemars(with = "Option<SecretText>")]
    pub api_key: Option<Sp<String>>,
    /// User name for basic authentication; needs `password`.
    pub username: Option<Sp<String>>,
    /// Password for basic authentication. Must be a `${VAR}` reference.
    #[schemars(with = "Option<SecretText>")]
    pub password: Option<Sp<String>>,
    /// PEM file of the CA that signed the cluster's HTTP certificate. A relative path is
    /// relative to the playbook file.
    pub ca_cert: Option<Sp<String>>,
}

/// Secrets are left out: a literal one may be in there until validation refuses it.
impl std::fmt::Debug for RawCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawCluster")
            .field("url", &self.url)
            .field("api_key", &self.api_key.as_ref().map(|_| "[REDACTED]"))
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "[REDACTED]"))
            .field("ca_cert", &self.ca_cert)
            .finish()
    }
}

/// How the run behaves.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Settings")]
pub(crate) struct RawSettings {
    /// The most steps in flight at once, 1 to 1024; below it quiesce adapts to what the cluster
    /// answers (fewer when it refuses for overload or queues). Default `64`.
    #[schemars(range(min = 1, max = 1024))]
    pub concurrency: Option<Sp<u64>>,
    /// Longest time one step may take: the request plus the wait until the state is reached;
    /// at most `24h`. Default `30m`.
    #[schemars(with = "Option<DurationText>")]
    pub step_timeout: Option<Sp<String>>,
    /// Retries of a step that failed in a way that may pass on a second try (connection
    /// errors, timeouts, 429, 502, 503, 504): exponential backoff with full jitter.
    pub retry: Option<Sp<RawRetry>>,
    /// What a failed step does to the rest of the run. Default `continue`.
    #[schemars(with = "Option<OnFailure>")]
    pub on_failure: Option<Sp<String>>,
    /// Whether a datafeed stop or job close that timed out is retried with `force=true`, and a
    /// job found `failed` is closed with `force=true` at once. Default `never`.
    #[schemars(with = "Option<ForcePolicy>")]
    pub force: Option<Sp<String>>,
    /// When `true`, a `match` selector that matches nothing in the cluster is an error.
    /// Default `false`.
    pub require_match: Option<Sp<bool>>,
}

/// Retry policy of one step.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Retry")]
pub(crate) struct RawRetry {
    /// Attempts in all, the first one included, 1 to 100. Default `5`.
    #[schemars(range(min = 1, max = 100))]
    pub attempts: Option<Sp<u64>>,
    /// Upper bound of the first wait; at most `1h`. Default `1s`.
    #[schemars(with = "Option<DurationText>")]
    pub initial_backoff: Option<Sp<String>>,
    /// Upper bound of any wait; at least `initial_backoff`, at most `1h`. Default `60s`.
    #[schemars(with = "Option<DurationText>")]
    pub max_backoff: Option<Sp<String>>,
}

/// One anomaly-detection job, or every job a selector matches. Give exactly one of `id` and
/// `match`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Job", extend("oneOf" = [{"required": ["id"]}, {"required": ["match"]}]))]
pub(crate) struct RawJob {
    /// The job id: lowercase letters, digits, `-` and `_`, starting and ending with a letter or
    /// digit, at most 64 characters.
    #[schemars(extend("pattern" = ID_PATTERN))]
    pub id: Option<Sp<String>>,
    /// A selector resolved against the cluster at plan time: a job id with `*` wildcards
    /// (`prod-*`, `*`) or a job group name. One token: no commas.
    #[serde(rename = "match")]
    #[schemars(extend("pattern" = SELECTOR_PATTERN))]
    pub selector: Option<Sp<String>>,
    /// The state the job should reach.
    // Required, but optional here: the model reports a missing `state` together with every
    // other problem of the file, where the reader would stop at it.
    #[schemars(required, with = "JobState")]
    pub state: Option<Sp<String>>,
    /// Ids or selectors of other entries (jobs or datafeeds going the same direction) that
    /// must reach their state before this one starts.
    #[serde(default)]
    pub after: Vec<Sp<String>>,
}

/// One datafeed, or every datafeed a selector matches. Give exactly one of `id` and `match`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Datafeed", extend("oneOf" = [{"required": ["id"]}, {"required": ["match"]}]))]
pub(crate) struct RawDatafeed {
    /// The datafeed id, with the same rules as a job id.
    #[schemars(extend("pattern" = ID_PATTERN))]
    pub id: Option<Sp<String>>,
    /// A selector resolved against the cluster at plan time: a datafeed id with `*` wildcards.
    #[serde(rename = "match")]
    #[schemars(extend("pattern" = SELECTOR_PATTERN))]
    pub selector: Option<Sp<String>>,
    /// The job this datafeed feeds. Optional: read from the cluster when left out. Only with
    /// `id`.
    #[schemars(extend("pattern" = ID_PATTERN))]
    pub job: Option<Sp<String>>,
    /// The state the datafeed should reach.
    // Required; optional here for the same reason as `RawJob::state`.
    #[schemars(required, with = "DatafeedState")]
    pub state: Option<Sp<String>>,
    /// Ids or selectors of other entries going the same direction that must reach their
    /// state before this one starts.
    #[serde(default)]
    pub after: Vec<Sp<String>>,
}

/// What an Elasticsearch id looks like (the schema's view; `model::id` is the judge).
const ID_PATTERN: &str = r"^([a-z0-9]|[a-z0-9][a-z0-9_-]{0,62}[a-z0-9]|\$\{.*\}.*|.*\$\{.*\})$";
/// What a one-token selector looks like.
const SELECTOR_PATTERN: &str = r"^([a-z0-9_*-]{1,64}|.*\$\{.*\}.*)$";

/// A duration as text: an integer and a unit, possibly several (`30s`, `10m`, `1h30m`,
/// `500ms`), or ISO 8601 (`PT5M`).
pub(crate) struct DurationText;

impl JsonSchema for DurationText {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A duration: an integer and a unit (ms, s, m, h, d), possibly several (`1h30m`), or ISO 8601 (`PT5M`).",
            "type": "string",
            "pattern": r"^(\s*\d+\s*(ms|msec|millis|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?)\s*)+$|^[Pp][Tt]?[0-9.,]+|\$\{",
            "examples": ["30s", "10m", "1h30m"]
        })
    }
}

/// A secret: must be a single `${VAR}` reference to an environment variable.
pub(crate) struct SecretText;

impl JsonSchema for SecretText {
    fn schema_name() -> Cow<'static, str> {
        "Secret".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A secret, written as a `${VAR}` reference to an environment variable; a literal secret is rejected.",
            "type": "string",
            "pattern": r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$",
            "examples": ["${ES_API_KEY}"]
        })
    }
}
