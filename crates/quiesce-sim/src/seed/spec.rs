//! [`Seed::resolve`]: applies defaults, the profile and the generator, validates, and gives the
//! engine a [`ClusterSpec`] of plain data. Every inconsistency is reported, not just the first.

use std::collections::HashMap;
use std::time::Duration;

use jiff::Timestamp;
use miette::SourceSpan;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use schemars::JsonSchema;
use serde::Deserialize;

use super::generate::generate;
use super::units::span_of;
use super::{ByteSize, EsVersion, Profile, Seed, SeedError, SeedProblem, TaskAllocation};
use crate::faults::{FaultRule, Faults, Operation};
use crate::security::Security;

/// Everything the engine needs to build a cluster, validated.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    pub name: String,
    pub uuid: String,
    pub version: EsVersion,
    pub nodes: Vec<NodeSpec>,
    pub latency: Latency,
    pub persistence: Persistence,
    pub(crate) security: Option<Security>,
    pub jobs: Vec<JobSpec>,
    pub datafeeds: Vec<DatafeedSpec>,
    pub calendars: Vec<CalendarSpec>,
    pub faults: Vec<FaultRule>,
    pub fault_seed: u64,
    /// `cluster.persistent_tasks.allocation.enable` is `all`.
    pub persistent_tasks_allocation: bool,
    pub rolling_restart: RollingRestartSpec,
    /// `xpack.ml.max_open_jobs` on every node.
    pub max_open_jobs: usize,
}

/// A model snapshot a job starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotSpec {
    pub id: String,
    pub timestamp: Timestamp,
    pub min_version: EsVersion,
    pub retain: bool,
}

/// How a rolling restart goes (the seed's `rolling_restart:`, with defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollingRestartSpec {
    pub version: Option<EsVersion>,
    pub downtime: Duration,
    /// Starts by itself this long after the simulator starts.
    pub after: Option<Duration>,
}

/// One ML node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSpec {
    /// ES-style 22-character node id.
    pub id: String,
    pub name: String,
    pub memory_bytes: u64,
}

/// Base latencies per operation and the persist rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Latency {
    pub open_job: Duration,
    pub close_job: Duration,
    pub start_datafeed: Duration,
    pub stop_datafeed: Duration,
    pub set_upgrade_mode: Duration,
    pub stats: Duration,
    /// How long a lookback datafeed runs before it finishes.
    pub lookback: Duration,
    pub persist_bytes_per_sec: u64,
}

/// Persistence slots and the queue in front of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Persistence {
    pub slots: usize,
    pub queue_limit: usize,
}

/// One job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSpec {
    pub id: String,
    pub groups: Vec<String>,
    pub model_bytes: u64,
    pub model_memory_limit: u64,
    pub state: SeedJobState,
    pub allow_lazy_open: bool,
    pub snapshots: Vec<SnapshotSpec>,
    /// The current snapshot: the seed's, else the last listed.
    pub model_snapshot_id: Option<String>,
}

/// One datafeed.
#[derive(Debug, Clone, PartialEq)]
pub struct DatafeedSpec {
    pub id: String,
    pub job_id: String,
    pub state: SeedDatafeedState,
    /// Set for a lookback datafeed.
    pub end: Option<Timestamp>,
    pub indices: Vec<String>,
    /// Documents per second its source indices receive.
    pub record_rate: f64,
    /// `frequency`, when the seed sets it (else ES's default from the bucket span).
    pub frequency: Option<Duration>,
    /// `query_delay`, when the seed sets it.
    pub query_delay: Option<Duration>,
}

/// One calendar and its events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarSpec {
    pub id: String,
    pub job_ids: Vec<String>,
    pub description: Option<String>,
    pub events: Vec<EventSpec>,
}

/// One scheduled event, `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSpec {
    pub description: String,
    pub start: Timestamp,
    pub end: Timestamp,
}

/// The states a job may start in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SeedJobState {
    Opened,
    #[default]
    Closed,
    Failed,
}

impl SeedJobState {
    fn name(self) -> &'static str {
        match self {
            SeedJobState::Opened => "opened",
            SeedJobState::Closed => "closed",
            SeedJobState::Failed => "failed",
        }
    }
}

/// The states a datafeed may start in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SeedDatafeedState {
    Started,
    #[default]
    Stopped,
}

const MB: u64 = 1 << 20;
const GB: u64 = 1 << 30;
pub(super) const DEFAULT_MODEL_BYTES: u64 = 16 * MB;
pub(super) const DEFAULT_MODEL_MEMORY_LIMIT: u64 = 1024 * MB;
/// Documents per second a datafeed's source indices receive unless the seed says otherwise.
pub(super) const DEFAULT_RECORD_RATE: f64 = 1.0;

/// A job or datafeed before validation, with the spans of its id and references.
pub(super) struct Draft<T> {
    pub(super) spec: T,
    pub(super) id_span: Option<SourceSpan>,
    pub(super) ref_span: Option<SourceSpan>,
    pub(super) state_span: Option<SourceSpan>,
}

impl Seed {
    /// Applies defaults, `profile`/`version` overrides (they win over the seed) and the
    /// generator, then validates. Deterministic: the same seed gives the same spec.
    pub fn resolve(
        &self,
        profile: Option<Profile>,
        version: Option<EsVersion>,
    ) -> Result<ClusterSpec, SeedError> {
        let mut problems = Vec::new();
        let name = self
            .cluster
            .name
            .clone()
            .unwrap_or_else(|| "quiesce-sim".to_owned());
        let mut ids = SmallRng::seed_from_u64(fnv1a(name.as_bytes()));
        let uuid = es_id(&mut ids);
        let count = self.nodes.count.unwrap_or(1);
        if count == 0 {
            problems.push(value_problem(
                "nodes.count",
                "must be at least 1".to_owned(),
                "A cluster needs an ML node to open jobs.",
            ));
        }
        let memory_bytes = self.nodes.memory.map_or(16 * GB, |size| size.0);
        let nodes: Vec<NodeSpec> = (0..count)
            .map(|index| NodeSpec {
                id: es_id(&mut ids),
                name: format!("node-{index}"),
                memory_bytes,
            })
            .collect();
        let latency = self.latency(
            profile.or(self.latency.profile).unwrap_or_default(),
            &mut problems,
        );
        let persistence = Persistence {
            slots: self.persistence.slots.unwrap_or(4),
            queue_limit: self.persistence.queue_limit.unwrap_or(64),
        };
        if persistence.slots == 0 {
            problems.push(value_problem(
                "persistence.slots",
                "must be at least 1".to_owned(),
                "With no slot no model could ever be persisted.",
            ));
        }

        let mut jobs: Vec<Draft<JobSpec>> = self.jobs.iter().map(job_draft).collect();
        let mut datafeeds: Vec<Draft<DatafeedSpec>> =
            self.datafeeds.iter().map(datafeed_draft).collect();
        if let Some(generator) = &self.generate {
            match generate(generator) {
                Ok((generated_jobs, generated_datafeeds)) => {
                    jobs.extend(generated_jobs);
                    datafeeds.extend(generated_datafeeds);
                }
                Err(problem) => problems.push(problem),
            }
        }
        validate_jobs(&jobs, &mut problems);
        validate_datafeeds(&jobs, &datafeeds, &mut problems);
        let calendars = self.calendars(&mut problems);
        if let Some(problem) = check_capacity(&jobs, &nodes) {
            problems.push(problem);
        }
        let security = self.security(&mut problems);
        if let Err(error) = Faults::new(self.faults.clone(), self.fault_seed) {
            problems.push(SeedProblem::Fault(error));
        }

        if !problems.is_empty() {
            problems.sort_by_key(SeedProblem::offset);
            return Err(SeedError::Invalid {
                src: self.named_source(),
                problems,
            });
        }
        let version = version.or(self.cluster.version).unwrap_or_default();
        Ok(ClusterSpec {
            name,
            uuid,
            version,
            // `MachineLearning.DEFAULT_MAX_OPEN_JOBS_PER_NODE` (512) from 8.0; 20 in 7.x.
            max_open_jobs: self
                .nodes
                .max_open_jobs
                .map_or(if version.major >= 8 { 512 } else { 20 }, |max| {
                    usize::try_from(max).unwrap_or(usize::MAX)
                }),
            nodes,
            latency,
            persistence,
            security,
            jobs: jobs.into_iter().map(|draft| draft.spec).collect(),
            datafeeds: datafeeds.into_iter().map(|draft| draft.spec).collect(),
            calendars,
            faults: self.faults_with_stalls(),
            fault_seed: self.fault_seed,
            persistent_tasks_allocation: self.cluster.persistent_tasks_allocation
                != Some(TaskAllocation::None),
            rolling_restart: RollingRestartSpec {
                version: self.rolling_restart.as_ref().and_then(|r| r.version),
                downtime: self
                    .rolling_restart
                    .as_ref()
                    .and_then(|r| r.downtime)
                    .unwrap_or(Duration::from_secs(1)),
                after: self.rolling_restart.as_ref().and_then(|r| r.after),
            },
        })
    }

    fn latency(&self, profile: Profile, problems: &mut Vec<SeedProblem>) -> Latency {
        let base = match profile {
            Profile::Fast => Latency {
                open_job: Duration::from_millis(1),
                close_job: Duration::from_millis(1),
                start_datafeed: Duration::from_millis(1),
                stop_datafeed: Duration::from_millis(1),
                set_upgrade_mode: Duration::from_millis(1),
                stats: Duration::from_millis(1),
                lookback: Duration::from_millis(50),
                // 64 GiB/s: a 2gb model persists in about 30ms.
                persist_bytes_per_sec: 64 * GB,
            },
            Profile::Realistic => Latency {
                open_job: Duration::from_millis(400),
                close_job: Duration::from_millis(300),
                start_datafeed: Duration::from_millis(150),
                stop_datafeed: Duration::from_millis(200),
                set_upgrade_mode: Duration::from_millis(500),
                stats: Duration::from_millis(5),
                lookback: Duration::from_secs(30),
                persist_bytes_per_sec: 150 * MB,
            },
        };
        let seed = &self.latency;
        let rate = seed
            .persist_rate
            .map_or(base.persist_bytes_per_sec, |rate| rate.0);
        if rate == 0 {
            problems.push(value_problem(
                "latency.persist_rate",
                "must be more than 0 bytes per second".to_owned(),
                "Give a rate such as `200mb` (per second).",
            ));
        }
        Latency {
            open_job: seed.open_job.unwrap_or(base.open_job),
            close_job: seed.close_job.unwrap_or(base.close_job),
            start_datafeed: seed.start_datafeed.unwrap_or(base.start_datafeed),
            stop_datafeed: seed.stop_datafeed.unwrap_or(base.stop_datafeed),
            set_upgrade_mode: seed.set_upgrade_mode.unwrap_or(base.set_upgrade_mode),
            stats: seed.stats.unwrap_or(base.stats),
            lookback: seed.lookback.unwrap_or(base.lookback),
            persist_bytes_per_sec: rate.max(1),
        }
    }

    /// The seed's fault rules, then a stall rule for each datafeed marked `stalled`.
    fn faults_with_stalls(&self) -> Vec<FaultRule> {
        let stalled = self
            .datafeeds
            .iter()
            .filter(|df| df.stalled)
            .map(|df| FaultRule {
                operation: Operation::DatafeedProgress,
                target: Some(df.id.value.clone()),
                times: None,
                rate: None,
                error: None,
                delay: None,
                drop: None,
                stuck: None,
                stall: Some(true),
            });
        self.faults.iter().cloned().chain(stalled).collect()
    }

    fn security(&self, problems: &mut Vec<SeedProblem>) -> Option<Security> {
        let users = &self.security.users;
        let keys = &self.security.api_keys;
        let mut seen = HashMap::new();
        for user in users {
            if seen
                .insert(("username", user.username.as_str()), ())
                .is_some()
            {
                problems.push(SeedProblem::DuplicateCredential {
                    kind: "username",
                    name: user.username.clone(),
                });
            }
        }
        for key in keys {
            if seen.insert(("API key id", key.id.as_str()), ()).is_some() {
                problems.push(SeedProblem::DuplicateCredential {
                    kind: "API key id",
                    name: key.id.clone(),
                });
            }
        }
        let security = Security::new(
            users.clone(),
            keys.clone(),
            self.security.tokens.clone(),
            self.security.roles.clone(),
        );
        if let Some(security) = &security {
            for role in security.unknown_roles() {
                problems.push(value_problem(
                    "security.roles",
                    format!("role `{role}` is not defined"),
                    "Define it under `security.roles`, or use `superuser` or a cluster privilege \
                     name (`manage_ml`, `monitor_ml`, `manage`, `monitor`, `all`) as a role.",
                ));
            }
        }
        security
    }
}

/// A seed must describe a cluster Elasticsearch could be running: every job it opens needs its
/// `model_memory_limit` on one node, placed as the cluster places an open (most free memory
/// first; failed jobs take none). Otherwise the cluster could not reopen what it started with.
/// The first job that does not fit is reported with the numbers.
fn check_capacity(jobs: &[Draft<JobSpec>], nodes: &[NodeSpec]) -> Option<SeedProblem> {
    let opened: Vec<&JobSpec> = jobs
        .iter()
        .map(|draft| &draft.spec)
        .filter(|job| job.state == SeedJobState::Opened)
        .collect();
    let mut used = vec![0_u64; nodes.len()];
    let mut placed = 0;
    let mut first_misfit = None;
    for job in &opened {
        let best = (0..nodes.len())
            .filter(|&n| nodes[n].memory_bytes.saturating_sub(used[n]) >= job.model_memory_limit)
            .max_by_key(|&n| (nodes[n].memory_bytes - used[n], usize::MAX - n));
        match best {
            Some(n) => {
                used[n] += job.model_memory_limit;
                placed += 1;
            }
            None => {
                first_misfit.get_or_insert(*job);
            }
        }
    }
    let misfit = first_misfit?;
    let needed: u64 = opened.iter().map(|job| job.model_memory_limit).sum();
    Some(SeedProblem::OverCapacity {
        opened: opened.len(),
        placed,
        needed: ByteSize(needed).to_string(),
        nodes: nodes.len(),
        memory: ByteSize(nodes.first().map_or(0, |node| node.memory_bytes)).to_string(),
        job: misfit.id.clone(),
        limit: ByteSize(misfit.model_memory_limit).to_string(),
    })
}

fn job_draft(seed: &super::JobSeed) -> Draft<JobSpec> {
    Draft {
        spec: JobSpec {
            id: seed.id.value.clone(),
            groups: seed.groups.clone(),
            model_bytes: seed.model_bytes.map_or(DEFAULT_MODEL_BYTES, |size| size.0),
            model_memory_limit: seed
                .model_memory_limit
                .map_or(DEFAULT_MODEL_MEMORY_LIMIT, |size| size.0),
            state: seed.state,
            allow_lazy_open: seed.allow_lazy_open,
            snapshots: seed
                .snapshots
                .iter()
                .map(|snapshot| SnapshotSpec {
                    id: snapshot.id.clone(),
                    timestamp: snapshot.timestamp.unwrap_or(Timestamp::UNIX_EPOCH),
                    min_version: snapshot.min_version,
                    retain: snapshot.retain,
                })
                .collect(),
            model_snapshot_id: seed
                .model_snapshot_id
                .clone()
                .or_else(|| seed.snapshots.last().map(|snapshot| snapshot.id.clone())),
        },
        id_span: span_of(&seed.id),
        ref_span: None,
        state_span: None,
    }
}

fn datafeed_draft(seed: &super::DatafeedSeed) -> Draft<DatafeedSpec> {
    let job_id = seed.job.value.clone();
    Draft {
        spec: DatafeedSpec {
            id: seed.id.value.clone(),
            indices: seed
                .indices
                .clone()
                .unwrap_or_else(|| vec![format!("{job_id}-*")]),
            job_id,
            state: seed.state.value,
            end: seed.end,
            record_rate: seed.record_rate.unwrap_or(DEFAULT_RECORD_RATE),
            frequency: seed.frequency,
            query_delay: seed.query_delay,
        },
        id_span: span_of(&seed.id),
        ref_span: span_of(&seed.job),
        state_span: span_of(&seed.state),
    }
}

fn validate_jobs(jobs: &[Draft<JobSpec>], problems: &mut Vec<SeedProblem>) {
    let mut first: HashMap<&str, Option<SourceSpan>> = HashMap::new();
    for job in jobs {
        check_id("job", &job.spec.id, job.id_span, problems);
        if let Some(earlier) = first.insert(&job.spec.id, job.id_span) {
            problems.push(SeedProblem::DuplicateId {
                kind: "job",
                id: job.spec.id.clone(),
                first: earlier,
                again: job.id_span,
            });
        }
        for group in &job.spec.groups {
            check_id("group", group, job.id_span, problems);
        }
    }
    for job in jobs {
        for group in &job.spec.groups {
            if first.contains_key(group.as_str()) {
                problems.push(SeedProblem::GroupIsJob {
                    job: job.spec.id.clone(),
                    group: group.clone(),
                    span: job.id_span,
                });
            }
        }
    }
}

fn validate_datafeeds(
    jobs: &[Draft<JobSpec>],
    datafeeds: &[Draft<DatafeedSpec>],
    problems: &mut Vec<SeedProblem>,
) {
    let job_states: HashMap<&str, SeedJobState> = jobs
        .iter()
        .map(|job| (job.spec.id.as_str(), job.spec.state))
        .collect();
    let mut first: HashMap<&str, Option<SourceSpan>> = HashMap::new();
    let mut per_job: HashMap<&str, &str> = HashMap::new();
    for datafeed in datafeeds {
        let spec = &datafeed.spec;
        check_id("datafeed", &spec.id, datafeed.id_span, problems);
        if let Some(earlier) = first.insert(&spec.id, datafeed.id_span) {
            problems.push(SeedProblem::DuplicateId {
                kind: "datafeed",
                id: spec.id.clone(),
                first: earlier,
                again: datafeed.id_span,
            });
        }
        let Some(job_state) = job_states.get(spec.job_id.as_str()) else {
            problems.push(SeedProblem::UnknownJob {
                datafeed: spec.id.clone(),
                job: spec.job_id.clone(),
                span: datafeed.ref_span,
            });
            continue;
        };
        if let Some(other) = per_job.insert(&spec.job_id, &spec.id) {
            problems.push(SeedProblem::SecondDatafeed {
                job: spec.job_id.clone(),
                first: other.to_owned(),
                second: spec.id.clone(),
                span: datafeed.ref_span,
            });
        }
        if !spec.record_rate.is_finite() || spec.record_rate < 0.0 {
            problems.push(value_problem(
                "datafeeds[].record_rate",
                format!(
                    "must be a number of documents per second, 0 or more, not {}",
                    spec.record_rate
                ),
                "Give a rate such as `10` or `0.5` (documents per second).",
            ));
        }
        if spec.frequency.is_some_and(|frequency| frequency.is_zero()) {
            problems.push(value_problem(
                "datafeeds[].frequency",
                "must be more than 0".to_owned(),
                "Give how often the datafeed searches, such as `150s` or, for a quick test, `100ms`.",
            ));
        }
        if spec.state == SeedDatafeedState::Started && *job_state != SeedJobState::Opened {
            problems.push(SeedProblem::StartedWithoutOpenJob {
                datafeed: spec.id.clone(),
                job: spec.job_id.clone(),
                state: job_state.name(),
                span: datafeed.state_span.or(datafeed.id_span),
            });
        }
    }
}

/// ES's id rules for jobs, groups and datafeeds (`MlStrings.isValidId`, 64 characters).
pub(super) fn check_id(
    kind: &'static str,
    id: &str,
    span: Option<SourceSpan>,
    problems: &mut Vec<SeedProblem>,
) {
    let alphanumeric = |byte: u8| byte.is_ascii_lowercase() || byte.is_ascii_digit();
    let bytes = id.as_bytes();
    let rule = if id.is_empty() {
        Some("it is empty")
    } else if id.chars().count() > 64 {
        Some("it has more than 64 characters")
    } else if !bytes
        .iter()
        .all(|&b| alphanumeric(b) || b == b'-' || b == b'_')
    {
        Some("only lowercase alphanumerics, hyphens and underscores are allowed")
    } else if !alphanumeric(bytes[0]) || !alphanumeric(bytes[bytes.len() - 1]) {
        Some("it must start and end with an alphanumeric")
    } else {
        None
    };
    if let Some(rule) = rule {
        problems.push(SeedProblem::InvalidId {
            kind,
            id: id.to_owned(),
            rule,
            span,
        });
    }
}

pub(super) fn value_problem(
    field: &'static str,
    message: String,
    help: &'static str,
) -> SeedProblem {
    SeedProblem::Value {
        field,
        message,
        help,
    }
}

/// A 22-character URL-safe id like ES's node ids and cluster UUIDs.
fn es_id(rng: &mut SmallRng) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    (0..22)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

/// FNV-1a: a hash that is the same on every platform and Rust release.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
