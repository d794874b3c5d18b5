//! `PlanView`: the serialisable form of a plan, shared by `plan --format json`, `plan -o`
//! (what `apply` later executes unchanged) and the text renderer. Versioned.

use std::num::NonZeroUsize;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::{
    EsVersion, ForcePolicy, OldSnapshots, OnFailure, RetryPolicy, Settings, UpgradeTarget,
};
use crate::observe::Snapshot;

use super::{Action, EdgeKind, Force, Gate, MaintenanceView, Plan, StepId};
use crate::playbook::Location;

/// Bumped whenever the JSON form changes incompatibly.
pub(crate) const PLAN_FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PlanView {
    pub version: u32,
    pub playbook: PlaybookRef,
    /// True when the plan was made without contacting a cluster.
    pub offline: bool,
    /// The run settings the plan is to be executed with.
    pub settings: SettingsView,
    pub summary: Summary,
    pub steps: Vec<StepView>,
    pub edges: Vec<EdgeView>,
    pub unchanged: Vec<UnchangedView>,
    /// `sha256:` of the snapshot's JSON, to detect drift before applying a saved plan.
    pub snapshot_digest: Option<String>,
    pub snapshot: Option<Snapshot>,
    /// What the snapshot gate found, when the playbook names a target version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_gate: Option<Gate>,
    /// What the maintenance step does (`maintenance:` in the playbook).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance: Option<MaintenanceView>,
}

/// `settings:` of the playbook, resolved with defaults, as the executor uses them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SettingsView {
    pub concurrency: usize,
    pub step_timeout_ms: u64,
    pub retry_attempts: usize,
    pub initial_backoff_ms: u64,
    pub max_backoff_ms: u64,
    pub on_failure: OnFailure,
    pub force: ForcePolicy,
    /// The upgrade the plan prepares for: the snapshot gate's target version (a snapshot step
    /// is done when its snapshot opens on it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<UpgradeView>,
}

/// The playbook's `upgrade:` section (or `--target-version`), as a plan keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct UpgradeView {
    pub target_version: EsVersion,
    pub old_snapshots: OldSnapshots,
}

impl From<&UpgradeTarget> for UpgradeView {
    fn from(upgrade: &UpgradeTarget) -> UpgradeView {
        UpgradeView {
            target_version: upgrade.target_version,
            old_snapshots: upgrade.old_snapshots,
        }
    }
}

impl SettingsView {
    /// Each setting outside the range a playbook allows (`Settings::CONCURRENCY` and the
    /// rest), as `` `key` value (range) ``: a saved plan is JSON that may have been edited.
    pub(crate) fn out_of_range(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut count = |key: &str, value: usize, range: &std::ops::RangeInclusive<u64>| {
            if !range.contains(&(value as u64)) {
                out.push(format!(
                    "`{key}` {value} (from {} to {})",
                    range.start(),
                    range.end()
                ));
            }
        };
        count("concurrency", self.concurrency, &Settings::CONCURRENCY);
        count("retry.attempts", self.retry_attempts, &Settings::ATTEMPTS);
        let mut at_most = |key: &str, ms: u64, max: Duration| {
            if ms == 0 || Duration::from_millis(ms) > max {
                out.push(format!(
                    "`{key}` {ms}ms (more than 0, at most {}ms)",
                    max.as_millis()
                ));
            }
        };
        at_most(
            "step_timeout",
            self.step_timeout_ms,
            Settings::MAX_STEP_TIMEOUT,
        );
        at_most(
            "retry.initial_backoff",
            self.initial_backoff_ms,
            Settings::MAX_BACKOFF,
        );
        at_most(
            "retry.max_backoff",
            self.max_backoff_ms,
            Settings::MAX_BACKOFF,
        );
        out
    }
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn ms(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl From<&Settings> for SettingsView {
    fn from(settings: &Settings) -> SettingsView {
        SettingsView {
            concurrency: settings.concurrency.get(),
            step_timeout_ms: ms(settings.step_timeout),
            retry_attempts: settings.retry.attempts.get(),
            initial_backoff_ms: ms(settings.retry.initial_backoff),
            max_backoff_ms: ms(settings.retry.max_backoff),
            on_failure: settings.on_failure,
            force: settings.force,
            upgrade: None,
        }
    }
}

/// The settings a plan was made with, as a playbook would give them again (a `resume` or
/// `revert` playbook). `require_match` is not kept in a plan: it mattered only while planning.
impl From<&SettingsView> for Settings {
    fn from(view: &SettingsView) -> Settings {
        let at_least_one = |n: usize| NonZeroUsize::new(n).unwrap_or(NonZeroUsize::MIN);
        Settings {
            concurrency: at_least_one(view.concurrency),
            step_timeout: Duration::from_millis(view.step_timeout_ms),
            retry: RetryPolicy {
                attempts: at_least_one(view.retry_attempts),
                initial_backoff: Duration::from_millis(view.initial_backoff_ms),
                max_backoff: Duration::from_millis(view.max_backoff_ms),
            },
            on_failure: view.on_failure,
            force: view.force,
            require_match: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PlaybookRef {
    pub name: String,
    /// The playbook's `description`, for whoever reviews the plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub path: String,
    /// `sha256:` of the playbook text.
    pub digest: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Summary {
    pub steps: usize,
    pub stop_datafeed: usize,
    pub close_job: usize,
    pub open_job: usize,
    pub start_datafeed: usize,
    pub upgrade_mode: usize,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub maintenance: usize,
    pub unchanged: usize,
    pub waves: usize,
    /// Steps of the snapshot gate (refresh, upgrade, delete).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub snapshot_gate: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StepView {
    /// 1-based, as shown in text output (`#3`).
    pub id: usize,
    pub action: Action,
    pub target: String,
    pub reason: String,
    pub observed: Option<String>,
    pub force: Force,
    pub model_bytes: u64,
    pub estimate_ms: u64,
    pub wave: usize,
    pub dependencies: Vec<usize>,
    pub dependents: Vec<usize>,
    pub source: Option<SourceRef>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SourceRef {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

/// A target already in its wanted state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct UnchangedView {
    /// `job`, `datafeed` or `upgrade_mode`.
    pub kind: String,
    pub target: String,
    pub state: String,
    pub reason: String,
    pub source: Option<SourceRef>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct EdgeView {
    pub from: usize,
    pub to: usize,
    pub reason: String,
    pub source: Option<SourceRef>,
}

/// `file:line`, as every report shows a playbook place.
impl std::fmt::Display for SourceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

impl From<&Location> for SourceRef {
    fn from(location: &Location) -> SourceRef {
        SourceRef {
            file: location.file.to_string(),
            line: location.line,
            column: location.column,
        }
    }
}

/// `sha256:<hex>` of some bytes.
pub(crate) fn digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

impl PlanView {
    pub(crate) fn new(
        plan: &Plan,
        settings: &Settings,
        playbook_path: &str,
        playbook_text: &str,
    ) -> PlanView {
        let waves = plan.waves();
        let mut wave_of = vec![0; plan.steps.len()];
        for (level, ids) in waves.iter().enumerate() {
            for id in ids {
                wave_of[id.0] = level;
            }
        }
        let one_based = |ids: Vec<StepId>| ids.into_iter().map(|id| id.0 + 1).collect();
        let steps: Vec<StepView> = plan
            .steps
            .iter()
            .map(|step| StepView {
                id: step.id.0 + 1,
                action: step.action,
                target: step.target.clone(),
                reason: step.reason.clone(),
                observed: step.observed.clone(),
                force: step.force,
                model_bytes: step.model_bytes,
                estimate_ms: ms(step.estimate),
                wave: wave_of[step.id.0] + 1,
                dependencies: one_based(plan.dependencies(step.id)),
                dependents: one_based(plan.dependents(step.id)),
                source: step.source.as_ref().map(SourceRef::from),
            })
            .collect();
        let mut summary = Summary {
            steps: steps.len(),
            unchanged: plan.unchanged.len(),
            waves: waves.len(),
            ..Summary::default()
        };
        for step in &plan.steps {
            *match step.action {
                Action::StopDatafeed => &mut summary.stop_datafeed,
                Action::CloseJob => &mut summary.close_job,
                Action::OpenJob => &mut summary.open_job,
                Action::StartDatafeed => &mut summary.start_datafeed,
                Action::EnableUpgradeMode | Action::DisableUpgradeMode => &mut summary.upgrade_mode,
                Action::RefreshOpenJob
                | Action::RefreshCloseJob
                | Action::UpgradeSnapshot
                | Action::DeleteSnapshot => &mut summary.snapshot_gate,
                Action::ScheduleMaintenance | Action::RemoveMaintenance => &mut summary.maintenance,
            } += 1;
        }
        let mut edges: Vec<EdgeView> = plan
            .edges()
            .into_iter()
            .map(|edge| EdgeView {
                from: edge.from.0 + 1,
                to: edge.to.0 + 1,
                reason: match &edge.kind {
                    EdgeKind::StopBeforeClose => "stop datafeed before closing its job".into(),
                    EdgeKind::OpenBeforeStart => "open job before starting its datafeed".into(),
                    EdgeKind::After(_) => "`after` in the playbook".into(),
                    EdgeKind::UpgradeMode => "upgrade mode".into(),
                    EdgeKind::SnapshotGate => {
                        "snapshot gate: one at a time per job, before its own step".into()
                    }
                    EdgeKind::Capacity => {
                        "capacity: the opens that fit go before one that may wait for room".into()
                    }
                    EdgeKind::Maintenance => "maintenance window".into(),
                },
                source: match &edge.kind {
                    EdgeKind::After(location) => Some(SourceRef::from(location)),
                    _ => None,
                },
            })
            .collect();
        edges.sort_by_key(|e| (e.from, e.to));
        PlanView {
            version: PLAN_FORMAT_VERSION,
            playbook: PlaybookRef {
                name: plan.playbook.clone(),
                description: plan.description.clone(),
                path: playbook_path.to_owned(),
                digest: digest(playbook_text.as_bytes()),
            },
            offline: plan.snapshot.is_none(),
            settings: SettingsView {
                upgrade: plan.upgrade,
                ..SettingsView::from(settings)
            },
            summary,
            steps,
            edges,
            unchanged: plan
                .unchanged
                .iter()
                .map(|u| UnchangedView {
                    kind: u.kind.clone(),
                    target: u.target.clone(),
                    state: u.state.clone(),
                    reason: u.reason.clone(),
                    source: u.source.as_ref().map(SourceRef::from),
                })
                .collect(),
            snapshot_digest: plan.snapshot.as_ref().map(snapshot_digest),
            snapshot: plan.snapshot.clone(),
            snapshot_gate: plan.gate.clone(),
            maintenance: plan.maintenance.clone(),
        }
    }
}

/// The digest of a snapshot's canonical JSON (maps are sorted by id).
pub(crate) fn snapshot_digest(snapshot: &Snapshot) -> String {
    digest(&serde_json::to_vec(snapshot).unwrap_or_default())
}
