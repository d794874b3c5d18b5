//! The validated playbook: what `plan` and `apply` consume. Every value here has passed every
//! check, every target keeps the [`Location`] it was written at, and secrets are held in
//! `SecretString` (redacted in `Debug`, never serialized).

use std::num::NonZeroUsize;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use super::{
    DatafeedId, DatafeedState, Direction, EsVersion, ForcePolicy, JobId, JobState, OldSnapshots,
    OnFailure, Selector, UpgradeMode,
};
use crate::playbook::{Location, Source};

/// A playbook that passed validation.
#[derive(Debug)]
pub struct Playbook {
    /// The text it was read from, for diagnostics found later that point back at it.
    pub(crate) source: Source,
    /// `name`, or the file name without extension.
    pub(crate) name: String,
    /// `description`, shown with the plan so that a reviewer reads what the playbook is for.
    pub(crate) description: Option<String>,
    pub(crate) cluster: ClusterConfig,
    pub(crate) settings: Settings,
    /// Jobs in the order written.
    pub(crate) jobs: Vec<JobTarget>,
    /// Datafeeds in the order written.
    pub(crate) datafeeds: Vec<DatafeedTarget>,
    pub(crate) upgrade_mode: Option<UpgradeModeTarget>,
    /// The `upgrade:` section: the version the snapshot gate checks against.
    pub(crate) upgrade: Option<UpgradeTarget>,
    pub(crate) maintenance: Option<Maintenance>,
}

/// The upgrade a playbook prepares for (`upgrade:`, or `--target-version`).
#[derive(Debug, Clone)]
pub(crate) struct UpgradeTarget {
    pub target_version: EsVersion,
    pub old_snapshots: OldSnapshots,
    /// Where `target_version` is written; `None` when it came from `--target-version`.
    pub location: Option<Location>,
}

/// `maintenance:`: a scheduled event on a calendar for the jobs a run closes, or (written by
/// `revert`) the removal of what a run added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Maintenance {
    /// The calendar id (Elasticsearch id rules).
    pub calendar: String,
    pub work: MaintenanceWork,
    pub location: Location,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MaintenanceWork {
    /// Put the jobs the run closes on the calendar and post an event covering the window.
    Schedule { description: String, window: Window },
    /// Remove what run `run` added: its event, the `jobs` it added, and the calendar when it
    /// created it (`calendar`).
    Undo {
        run: String,
        jobs: Vec<String>,
        calendar: bool,
    },
}

/// A maintenance window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Window {
    Between {
        start: jiff::Timestamp,
        end: jiff::Timestamp,
    },
    /// From when the plan is made.
    For(Duration),
}

impl Playbook {
    /// The entry an `after` reference points at.
    #[cfg(test)]
    pub(crate) fn target(&self, target: TargetRef) -> (&str, &Location) {
        match target {
            TargetRef::Job(i) => (self.jobs[i].name(), &self.jobs[i].location),
            TargetRef::Datafeed(i) => (self.datafeeds[i].name(), &self.datafeeds[i].location),
        }
    }
}

/// Where the cluster is and how to talk to it.
#[derive(Debug)]
pub(crate) struct ClusterConfig {
    /// `None` when the playbook leaves it to `--cluster` / `ES_URL` (or its variable is unset).
    pub url: Option<String>,
    pub auth: Auth,
    /// The CA certificate, already resolved against the playbook's directory.
    pub ca_cert: Option<PathBuf>,
    /// Connection settings whose `${VAR}` is unset. Fine for what contacts nothing (`validate`,
    /// `plan --offline`); a command that contacts the cluster refuses them unless the command
    /// line or the environment gives that setting another way.
    pub unresolved: Vec<Unresolved>,
}

/// A connection setting left unresolved because a variable it names is unset.
#[derive(Debug, Clone)]
pub(crate) struct Unresolved {
    pub key: ClusterKey,
    /// The unset variables, in the order written.
    pub variables: Vec<String>,
    /// Where the value is written.
    pub location: Location,
}

/// The settings of the `cluster:` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClusterKey {
    Url,
    ApiKey,
    Username,
    Password,
    CaCert,
}

impl ClusterKey {
    /// Its key in the playbook.
    pub(crate) fn name(self) -> &'static str {
        match self {
            ClusterKey::Url => "cluster.url",
            ClusterKey::ApiKey => "cluster.api_key",
            ClusterKey::Username => "cluster.username",
            ClusterKey::Password => "cluster.password",
            ClusterKey::CaCert => "cluster.ca_cert",
        }
    }

    /// Whether the value is a secret (which can have no default in the playbook).
    pub(crate) fn is_secret(self) -> bool {
        matches!(self, ClusterKey::ApiKey | ClusterKey::Password)
    }
}

/// Credentials, read from the environment at load time.
#[derive(Debug)]
pub(crate) enum Auth {
    /// `Authorization: ApiKey <key>`.
    ApiKey(SecretString),
    /// HTTP basic authentication.
    Basic {
        username: String,
        password: SecretString,
    },
    /// No credentials (a cluster without security, or the simulator).
    None,
}

/// How the run behaves; every field has its documented default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settings {
    pub concurrency: NonZeroUsize,
    pub step_timeout: Duration,
    pub retry: RetryPolicy,
    pub on_failure: OnFailure,
    pub force: ForcePolicy,
    pub require_match: bool,
}

/// The default ceiling of steps in flight. Below it quiesce adapts to what the cluster answers
/// (docs/architecture.md §3.3, exec), so the default need not be guessed per cluster: it only
/// bounds the connections one run may hold.
pub(crate) const DEFAULT_CONCURRENCY: usize = 64;

impl Default for Settings {
    fn default() -> Self {
        Self {
            concurrency: NonZeroUsize::new(DEFAULT_CONCURRENCY).unwrap_or(NonZeroUsize::MIN),
            step_timeout: Duration::from_secs(30 * 60),
            retry: RetryPolicy::default(),
            on_failure: OnFailure::Continue,
            force: ForcePolicy::Never,
            require_match: false,
        }
    }
}

impl Settings {
    /// Steps in flight at once: more would only queue inside Elasticsearch.
    pub(crate) const CONCURRENCY: RangeInclusive<u64> = 1..=1024;
    /// Attempts of one step: more is a storm of requests against a cluster in trouble.
    pub(crate) const ATTEMPTS: RangeInclusive<u64> = 1..=100;
    /// The longest `step_timeout`: a maintenance window, not a run that never ends.
    pub(crate) const MAX_STEP_TIMEOUT: Duration = Duration::from_secs(24 * 3600);
    /// The longest wait between two attempts.
    pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(3600);
}

/// Exponential backoff with full jitter between `initial_backoff` and `max_backoff`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    /// Attempts in all, the first included; at least 1.
    pub attempts: NonZeroUsize,
    pub initial_backoff: Duration,
    /// At least `initial_backoff`.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: NonZeroUsize::new(5).unwrap_or(NonZeroUsize::MIN),
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
        }
    }
}

/// One `jobs:` entry.
#[derive(Debug, Clone)]
pub(crate) struct JobTarget {
    pub selector: Selector<JobId>,
    pub state: JobState,
    /// Entries that must reach their state first.
    pub after: Vec<Reference>,
    /// Where the `id` or `match` value is written.
    pub location: Location,
}

impl JobTarget {
    /// The id or selector as written.
    pub(crate) fn name(&self) -> &str {
        match &self.selector {
            Selector::Id(id) => id.as_str(),
            Selector::Pattern(pattern) => pattern.as_str(),
        }
    }

    pub(crate) fn direction(&self) -> Direction {
        self.state.direction()
    }
}

/// One `datafeeds:` entry.
#[derive(Debug, Clone)]
pub(crate) struct DatafeedTarget {
    pub selector: Selector<DatafeedId>,
    /// The job it feeds, when the playbook says (only with an id selector).
    pub job: Option<JobRef>,
    pub state: DatafeedState,
    pub after: Vec<Reference>,
    pub location: Location,
}

impl DatafeedTarget {
    /// The id or selector as written.
    pub(crate) fn name(&self) -> &str {
        match &self.selector {
            Selector::Id(id) => id.as_str(),
            Selector::Pattern(pattern) => pattern.as_str(),
        }
    }

    pub(crate) fn direction(&self) -> Direction {
        self.state.direction()
    }
}

/// A datafeed's `job:` value.
#[derive(Debug, Clone)]
pub(crate) struct JobRef {
    pub id: JobId,
    pub location: Location,
}

/// The cluster-wide upgrade mode the playbook asks for.
#[derive(Debug, Clone)]
pub(crate) struct UpgradeModeTarget {
    pub state: UpgradeMode,
    pub location: Location,
}

/// One `after:` entry, resolved to the entry it names.
#[derive(Debug, Clone)]
pub(crate) struct Reference {
    pub target: TargetRef,
    pub location: Location,
}

/// An entry of the playbook by section and index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum TargetRef {
    Job(usize),
    Datafeed(usize),
}
