//! The seed file (crates/quiesce-sim/README.md "Seed file"): what a simulated cluster starts with — name and
//! version, ML nodes, latencies, persistence slots, users and API keys, jobs, datafeeds, a
//! generator for big clusters, and fault rules.
//!
//! Takes YAML text; gives a [`Seed`] (the file's shape, defaults not yet applied) and, through
//! [`Seed::resolve`], a validated [`ClusterSpec`] of plain data for the engine. It never starts
//! anything. Its JSON Schema is `schemas/sim-seed.schema.json` ([`seed_schema`]).

mod calendars;
mod error;
mod generate;
#[cfg(test)]
mod resolve_tests;
mod spec;
mod units;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use miette::{NamedSource, SourceSpan};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

pub use crate::faults::{FaultError, FaultErrorSpec, FaultRule, Operation};
pub use crate::security::{
    ApiKey, IndexPrivilege, IndicesPrivileges, Privilege, RoleDescriptor, Token, User,
};
pub use error::{SeedError, SeedProblem};
pub use spec::{
    CalendarSpec, ClusterSpec, DatafeedSpec, EventSpec, JobSpec, Latency, NodeSpec, Persistence,
    RollingRestartSpec, SeedDatafeedState, SeedJobState, SnapshotSpec,
};
pub use units::{ByteSize, DurationText, EsVersion, Profile, TimestampText};

/// A simulator seed as written in YAML. Every key is optional; an empty file is an empty
/// one-node cluster with security off.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "quiesce sim seed")]
pub struct Seed {
    /// Cluster identity.
    #[serde(default)]
    pub cluster: ClusterSeed,
    /// The ML nodes (default: one node with 16gb).
    #[serde(default)]
    pub nodes: NodesSeed,
    /// Latency profile and per-operation overrides.
    #[serde(default)]
    pub latency: LatencySeed,
    /// Model persistence concurrency.
    #[serde(default)]
    pub persistence: PersistenceSeed,
    /// Users and API keys; absent or empty means security off.
    #[serde(default)]
    pub security: SecuritySeed,
    /// Anomaly detection jobs.
    #[serde(default)]
    pub jobs: Vec<JobSeed>,
    /// Datafeeds, at most one per job.
    #[serde(default)]
    pub datafeeds: Vec<DatafeedSeed>,
    /// Calendars with their scheduled events.
    #[serde(default)]
    pub calendars: Vec<CalendarSeed>,
    /// Adds generated jobs and datafeeds (deterministic for a `seed`).
    #[serde(default)]
    pub generate: Option<GenerateSeed>,
    /// Fault rules active from the start, same shape as `PUT /_sim/faults`.
    #[serde(default)]
    pub faults: Vec<FaultRule>,
    /// Seeds the random draws of fault rules with a `rate` (default 0).
    #[serde(default)]
    pub fault_seed: u64,
    /// How `POST /_sim/rolling_restart` takes the nodes out and back, and whether the cluster
    /// starts one by itself.
    #[serde(default)]
    pub rolling_restart: Option<RollingRestartSeed>,
    /// The text the seed was read from, for diagnostics.
    #[serde(skip)]
    #[schemars(skip)]
    source: Option<SeedSource>,
}

#[derive(Debug, Clone)]
struct SeedSource {
    name: String,
    text: Arc<str>,
}

/// `cluster:`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterSeed {
    /// `cluster_name` in `GET /` (default `quiesce-sim`).
    pub name: Option<String>,
    /// Elasticsearch version (default 8.15.0); `--es-version` overrides it.
    pub version: Option<EsVersion>,
    /// `cluster.persistent_tasks.allocation.enable` (default `all`); with `none` no job or
    /// datafeed task is assigned and an open is refused (E13).
    pub persistent_tasks_allocation: Option<TaskAllocation>,
}

/// `cluster.persistent_tasks.allocation.enable`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskAllocation {
    All,
    None,
}

/// `rolling_restart:`: each node in turn leaves the cluster, stays away `downtime`, and comes
/// back, on `version` when given.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RollingRestartSeed {
    /// The version the nodes come back on (default: the one they ran).
    pub version: Option<EsVersion>,
    /// How long each node stays out of the cluster (default 1s).
    #[serde(
        default,
        with = "jiff::fmt::serde::unsigned_duration::friendly::compact::optional"
    )]
    #[schemars(with = "Option<DurationText>")]
    pub downtime: Option<Duration>,
    /// Start the rolling restart by itself this long after the simulator starts (default:
    /// only when `POST /_sim/rolling_restart` asks).
    #[serde(
        default,
        with = "jiff::fmt::serde::unsigned_duration::friendly::compact::optional"
    )]
    #[schemars(with = "Option<DurationText>")]
    pub after: Option<Duration>,
}

/// `nodes:`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodesSeed {
    /// Number of ML nodes (default 1).
    pub count: Option<u32>,
    /// Memory per node available to ML models (default 16gb).
    pub memory: Option<ByteSize>,
    /// `xpack.ml.max_open_jobs`: job tasks per node (default 512; 20 for 7.x).
    pub max_open_jobs: Option<u32>,
}

/// `latency:`; explicit durations (`250ms`, `2s`) override the profile's.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LatencySeed {
    /// `fast` (default; about 1ms each) or `realistic` (hundreds of ms); `--profile` overrides it.
    pub profile: Option<Profile>,
    /// Base latency of opening a job (before restoring its model).
    #[serde(
        default,
        with = "jiff::fmt::serde::unsigned_duration::friendly::compact::optional"
    )]
    #[schemars(with = "Option<DurationText>")]
    pub open_job: Option<Duration>,
    /// Base latency of closing a job (before persisting its model).
    #[serde(
        default,
        with = "jiff::fmt::serde::unsigned_duration::friendly::compact::optional"
    )]
    #[schemars(with = "Option<DurationText>")]
    pub close_job: Option<Duration>,
    /// Latency of starting a datafeed.
    #[serde(
        default,
        with = "jiff::fmt::serde::unsigned_duration::friendly::compact::optional"
    )]
    #[schemars(with = "Option<DurationText>")]
    pub start_datafeed: Option<Duration>,
    /// Latency of stopping a datafeed.
    #[serde(
        default,
        with = "jiff::fmt::serde::unsigned_duration::friendly::compact::optional"
    )]
    #[schemars(with = "Option<DurationText>")]
    pub stop_datafeed: Option<Duration>,
    /// Latency of changing upgrade mode.
    #[serde(
        default,
        with = "jiff::fmt::serde::unsigned_duration::friendly::compact::optional"
    )]
    #[schemars(with = "Option<DurationText>")]
    pub set_upgrade_mode: Option<Duration>,
    /// Latency of every read (stats, get, info).
    #[serde(
        default,
        with = "jiff::fmt::serde::unsigned_duration::friendly::compact::optional"
    )]
    #[schemars(with = "Option<DurationText>")]
    pub stats: Option<Duration>,
    /// How long a lookback datafeed (one with `end`) runs before it stops and closes its job
    /// (default 30s realistic, 50ms fast).
    #[serde(
        default,
        with = "jiff::fmt::serde::unsigned_duration::friendly::compact::optional"
    )]
    #[schemars(with = "Option<DurationText>")]
    pub lookback: Option<Duration>,
    /// Bytes per second to persist (close) or restore (open) a model, e.g. `200mb`.
    pub persist_rate: Option<ByteSize>,
}

/// `persistence:`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PersistenceSeed {
    /// Concurrent model persists/restores cluster-wide (default 4).
    pub slots: Option<usize>,
    /// Closes/opens waiting for a slot before further ones get 429 (default 64).
    pub queue_limit: Option<usize>,
}

/// `security:`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecuritySeed {
    /// Users for `Authorization: Basic`.
    #[serde(default)]
    pub users: Vec<User>,
    /// API keys for `Authorization: ApiKey`.
    #[serde(default)]
    pub api_keys: Vec<ApiKey>,
    /// Bearer tokens (service-account or OAuth access tokens) for `Authorization: Bearer`.
    #[serde(default)]
    pub tokens: Vec<Token>,
    /// Roles by name, in Elasticsearch's role-descriptor shape (`cluster`, `indices`).
    #[serde(default)]
    pub roles: std::collections::BTreeMap<String, RoleDescriptor>,
}

/// One job under `jobs:`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JobSeed {
    /// Job id (Elasticsearch id rules).
    #[schemars(with = "String")]
    pub id: Spanned<String>,
    /// Groups; a group name also selects the job in id expressions.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Size of the persisted model, which drives close/open time (default 16mb).
    pub model_bytes: Option<ByteSize>,
    /// `analysis_limits.model_memory_limit`: must fit on a node to open (default 1024mb).
    pub model_memory_limit: Option<ByteSize>,
    /// Initial state (default `closed`).
    #[serde(default)]
    pub state: SeedJobState,
    /// Whether the job may open without a node, waiting for memory.
    #[serde(default)]
    pub allow_lazy_open: bool,
    /// Model snapshots the job has, oldest first.
    #[serde(default)]
    pub snapshots: Vec<SnapshotSeed>,
    /// The current snapshot, restored on open (default: the last of `snapshots`).
    pub model_snapshot_id: Option<String>,
}

/// One model snapshot under `jobs[].snapshots`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SnapshotSeed {
    /// `snapshot_id`.
    pub id: String,
    /// When it was taken (default: the epoch).
    #[schemars(with = "Option<TimestampText>")]
    pub timestamp: Option<jiff::Timestamp>,
    /// The oldest version that can load it.
    pub min_version: EsVersion,
    /// `retain`.
    #[serde(default)]
    pub retain: bool,
}

/// One datafeed under `datafeeds:`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DatafeedSeed {
    /// Datafeed id (Elasticsearch id rules).
    #[schemars(with = "String")]
    pub id: Spanned<String>,
    /// The job it feeds.
    #[schemars(with = "String")]
    pub job: Spanned<String>,
    /// Initial state (default `stopped`); `started` needs the job `opened`.
    #[serde(default = "stopped")]
    #[schemars(schema_with = "units::inline_schema::<SeedDatafeedState>")]
    pub state: Spanned<SeedDatafeedState>,
    /// Makes it a lookback datafeed: it finishes after `latency.lookback` and closes its job.
    #[schemars(with = "Option<TimestampText>")]
    pub end: Option<jiff::Timestamp>,
    /// Source indices (default `["<job id>-*"]`).
    pub indices: Option<Vec<String>>,
    /// Documents per second its source indices receive, from the simulator's start (default 1).
    pub record_rate: Option<f64>,
    /// `frequency`: how often it searches in real time (default: from the job's bucket span, as
    /// Elasticsearch derives it; the simulator also takes less than a second).
    #[serde(
        default,
        with = "jiff::fmt::serde::unsigned_duration::friendly::compact::optional"
    )]
    #[schemars(with = "Option<DurationText>")]
    pub frequency: Option<Duration>,
    /// `query_delay`: how far behind now its searches end (default 60s).
    #[serde(
        default,
        with = "jiff::fmt::serde::unsigned_duration::friendly::compact::optional"
    )]
    #[schemars(with = "Option<DurationText>")]
    pub query_delay: Option<Duration>,
    /// Its searches fail from the start (a `datafeed_progress` stall rule): it stays `started`
    /// and makes no progress until the rule is removed.
    #[serde(default)]
    pub stalled: bool,
}

/// One calendar under `calendars:`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarSeed {
    /// Calendar id (Elasticsearch id rules; not `_all`).
    #[schemars(with = "String")]
    pub id: Spanned<String>,
    /// Job ids or group names it applies to (`_all`: every job); not checked against the jobs,
    /// as Elasticsearch does not check them.
    #[serde(default)]
    pub job_ids: Vec<String>,
    /// `description`.
    pub description: Option<String>,
    /// Its scheduled events.
    #[serde(default)]
    pub events: Vec<EventSeed>,
}

/// One scheduled event under `calendars[].events`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventSeed {
    /// `description`.
    pub description: String,
    /// When the event begins (inclusive).
    #[schemars(with = "TimestampText")]
    pub start_time: Spanned<jiff::Timestamp>,
    /// When it ends (exclusive); after `start_time`.
    #[schemars(with = "TimestampText")]
    pub end_time: jiff::Timestamp,
}

fn stopped() -> Spanned<SeedDatafeedState> {
    let unknown = serde_saphyr::Location::UNKNOWN;
    Spanned::new(SeedDatafeedState::Stopped, unknown, unknown)
}

/// `generate:`: adds jobs `<prefix>-00001…` and datafeeds `datafeed-<job id>`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateSeed {
    /// Seed of the deterministic generator (default 0).
    #[serde(default)]
    pub seed: u64,
    /// Number of jobs to generate.
    pub jobs: u32,
    /// Id prefix (default `gen`).
    pub prefix: Option<String>,
    /// Groups, one per job round robin (default none).
    #[serde(default)]
    pub groups: Vec<String>,
    /// Fraction of jobs that get a datafeed (default 1.0).
    pub with_datafeed: Option<f64>,
    /// Fraction of jobs opened (default: the `started` fraction).
    pub opened: Option<f64>,
    /// Fraction of datafeeds started, among those whose job is opened (default 1.0).
    pub started: Option<f64>,
    /// Range of model sizes, drawn log-uniformly (default 1mb to 256mb).
    pub model_bytes: Option<SizeRange>,
}

/// `{min, max}` byte sizes.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SizeRange {
    pub min: ByteSize,
    pub max: ByteSize,
}

impl Seed {
    /// Parses a seed; `name` is how diagnostics refer to the text (usually its path).
    pub fn from_yaml_str(text: &str, name: &str) -> Result<Seed, SeedError> {
        let source = SeedSource {
            name: name.to_owned(),
            text: Arc::from(text),
        };
        let only_comments = text
            .lines()
            .all(|line| line.trim().is_empty() || line.trim_start().starts_with('#'));
        let mut seed = if only_comments {
            Seed::default()
        } else {
            let options = serde_saphyr::options! {
                strict_booleans: true,
                with_snippet: false,
            };
            serde_saphyr::from_str_with_options::<Seed>(text, options).map_err(|error| {
                let span = error.location().and_then(|location| {
                    let span = location.span();
                    let offset = usize::try_from(span.byte_offset()?).ok()?;
                    let len = usize::try_from(span.byte_len()?).ok()?.max(1);
                    Some(SourceSpan::from((offset.min(text.len()), len)))
                });
                let options = serde_saphyr::render_options! {
                    snippets: serde_saphyr::SnippetMode::Off,
                };
                let message = error.render_with_options(options);
                // The label shows the position; drop the text's own ` at line L, column C`.
                let message = match (span, message.rfind(" at line ")) {
                    (Some(_), Some(at)) => message[..at].to_owned(),
                    _ => message,
                };
                SeedError::Parse {
                    message,
                    src: source.named(),
                    span,
                }
            })?
        };
        seed.source = Some(source);
        Ok(seed)
    }

    /// Reads and parses a seed file.
    pub fn from_path(path: &Path) -> Result<Seed, SeedError> {
        let text = read_bounded(path, MAX_SEED_BYTES)?;
        Seed::from_yaml_str(&text, &path.display().to_string())
    }

    /// The text for diagnostics (empty for a seed built in code).
    fn named_source(&self) -> NamedSource<Arc<str>> {
        match &self.source {
            Some(source) => source.named(),
            None => NamedSource::new("<seed>", Arc::from("")),
        }
    }
}

impl SeedSource {
    fn named(&self) -> NamedSource<Arc<str>> {
        NamedSource::new(&self.name, Arc::clone(&self.text))
    }
}

/// The JSON Schema (draft-07, for yaml-language-server) of a seed file.
pub fn seed_schema() -> schemars::Schema {
    schemars::generate::SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<Seed>()
}

/// The most a seed file may hold: far more than any hand-written seed (large clusters are
/// generated from a few lines), so this only stops a device or a wrong file
/// (`--seed /dev/zero`) from being read without end.
const MAX_SEED_BYTES: u64 = 64 * 1024 * 1024;

/// Reads a seed file of at most `limit` bytes.
fn read_bounded(path: &Path, limit: u64) -> Result<String, SeedError> {
    use std::io::Read as _;
    let read_error = |source| SeedError::Read {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > limit {
        return Err(SeedError::TooLarge {
            path: path.to_owned(),
            limit,
        });
    }
    String::from_utf8(bytes).map_err(|e| {
        read_error(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            e.utf8_error(),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every key of the seed format is documented in the README's simulator section.
    #[test]
    fn readme_documents_every_seed_key() {
        let readme =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
                .expect("README.md exists");
        let start = readme
            .find("<!-- simulator")
            .expect("the simulator section marker");
        let section = &readme[start..];
        let section = &section[..section.find("\n## ").unwrap_or(section.len())];
        let schema = serde_json::to_value(seed_schema()).unwrap();
        let mut objects = vec![&schema];
        objects.extend(schema["definitions"].as_object().unwrap().values());
        let mut missing = Vec::new();
        for object in objects {
            for key in object["properties"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(key, _)| key)
            {
                let word = |at: usize| {
                    let before = section[..at].chars().next_back();
                    let after = section[at + key.len()..].chars().next();
                    let boundary =
                        |c: Option<char>| c.is_none_or(|c| !c.is_ascii_alphanumeric() && c != '_');
                    boundary(before) && boundary(after)
                };
                if !section.match_indices(key.as_str()).any(|(at, _)| word(at)) {
                    missing.push(key.clone());
                }
            }
        }
        assert!(
            missing.is_empty(),
            "README's simulator section does not mention {missing:?}"
        );
    }

    #[test]
    fn schema_is_draft_07_and_closed() {
        let schema = serde_json::to_value(seed_schema()).unwrap();
        assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
        assert_eq!(schema["additionalProperties"], false);
        assert!(schema["properties"]["jobs"].is_object());
    }

    proptest::proptest! {
        /// The loader answers every input with a seed or an error, never a panic.
        #[test]
        fn loading_never_panics(text in "(?s).{0,200}") {
            if let Ok(seed) = Seed::from_yaml_str(&text, "fuzz.yaml") {
                let _ = seed.resolve(None, None);
            }
        }

        #[test]
        fn loading_seed_shaped_text_never_panics(
            text in r"(jobs|datafeeds|nodes|generate|faults|security|cluster):( |\n  - )[a-z{}:, 0-9\[\]-]{0,60}",
        ) {
            if let Ok(seed) = Seed::from_yaml_str(&text, "fuzz.yaml") {
                let _ = seed.resolve(None, None);
            }
        }
    }

    #[test]
    fn empty_and_comment_only_text_is_the_default_seed() {
        for text in ["", "# nothing yet\n\n"] {
            let seed = Seed::from_yaml_str(text, "empty.yaml").unwrap();
            assert!(seed.jobs.is_empty() && seed.datafeeds.is_empty());
        }
    }

    #[test]
    fn unknown_keys_are_refused_with_a_position() {
        let error =
            Seed::from_yaml_str("jobs:\n  - id: a\n    colour: red\n", "s.yaml").unwrap_err();
        let SeedError::Parse { message, span, .. } = error else {
            panic!("expected a parse error");
        };
        assert!(message.contains("colour"), "{message}");
        assert!(span.is_some());
    }

    #[test]
    fn booleans_are_strict() {
        let error = Seed::from_yaml_str("jobs:\n  - id: a\n    allow_lazy_open: yes\n", "s.yaml");
        assert!(matches!(error, Err(SeedError::Parse { .. })));
    }

    #[test]
    fn durations_sizes_and_versions_are_read() {
        let seed = Seed::from_yaml_str(
            "cluster: {name: demo, version: 7.13.4}\nnodes: {count: 3, memory: 8gb}\n\
             latency: {profile: realistic, open_job: 400ms, persist_rate: 200mb, lookback: 2s}\n",
            "s.yaml",
        )
        .unwrap();
        assert_eq!(seed.cluster.version, Some("7.13.4".parse().unwrap()));
        assert_eq!(seed.nodes.memory, Some(ByteSize(8 << 30)));
        assert_eq!(seed.latency.open_job, Some(Duration::from_millis(400)));
        assert_eq!(seed.latency.lookback, Some(Duration::from_secs(2)));
        assert_eq!(seed.latency.persist_rate, Some(ByteSize(200 << 20)));
        assert_eq!(seed.latency.profile, Some(Profile::Realistic));
        let seed = Seed::from_yaml_str("cluster: {version: 8.15}\n", "s.yaml").unwrap();
        assert_eq!(seed.cluster.version, Some("8.15.0".parse().unwrap()));
        let seed = Seed::from_yaml_str("nodes: {memory: 1073741824}\n", "s.yaml").unwrap();
        assert_eq!(seed.nodes.memory, Some(ByteSize(1 << 30)));
    }

    #[test]
    fn a_seed_file_over_the_limit_is_refused_unread() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("big.yaml");
        std::fs::write(&path, "jobs: []\n# padding padding padding\n").expect("write");
        let error = read_bounded(&path, 16).expect_err("over the limit");
        assert!(
            matches!(error, SeedError::TooLarge { limit: 16, .. }),
            "{error}"
        );
        let text = read_bounded(&path, 1024).expect("under the limit");
        assert!(text.starts_with("jobs: []"));
    }
}
