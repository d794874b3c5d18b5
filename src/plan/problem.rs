//! What can make a playbook unplannable against a given cluster, as miette diagnostics that
//! point at the playbook line. Nothing has been changed on the cluster when these are reported.

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceSpan};
use thiserror::Error;

use crate::playbook::Source;

/// One planning problem (or warning).
#[derive(Debug, Clone, Error, Diagnostic)]
pub(crate) enum PlanProblem {
    #[error("{kind} `{id}` does not exist in the cluster")]
    #[diagnostic(
        code(quiesce::plan::unknown_id),
        help(
            "Check the id (`quiesce status` lists what the cluster has), or use `match:` for a resource that may be absent."
        )
    )]
    UnknownId {
        kind: &'static str,
        id: String,
        #[label("no {kind} with this id")]
        at: SourceSpan,
    },

    #[error("selector `{selector}` matches no {kind}")]
    #[diagnostic(
        code(quiesce::plan::no_match),
        severity(Warning),
        help(
            "Nothing will be done for this entry. Set `settings.require_match: true` to make this an error."
        )
    )]
    NoMatch {
        kind: &'static str,
        selector: String,
        #[label("matches nothing")]
        at: SourceSpan,
    },

    #[error("selector `{selector}` matches no {kind}")]
    #[diagnostic(
        code(quiesce::plan::no_match),
        help("`settings.require_match` is true: fix the selector or remove the entry.")
    )]
    NoMatchRequired {
        kind: &'static str,
        selector: String,
        #[label("matches nothing")]
        at: SourceSpan,
    },

    #[error("{kind} `{id}` is asked to be both {first_state} and {second_state}")]
    #[diagnostic(
        code(quiesce::plan::conflict),
        help("Two entries select this {kind} with different states; narrow one of the selectors.")
    )]
    Conflict {
        kind: &'static str,
        id: String,
        first_state: &'static str,
        second_state: &'static str,
        #[label("{first_state} here")]
        first: SourceSpan,
        #[label(primary, "{second_state} here")]
        second: SourceSpan,
    },

    #[error("datafeed `{datafeed}` feeds job `{actual}` in the cluster, not `{declared}`")]
    #[diagnostic(
        code(quiesce::plan::wrong_job),
        help("Set `job: {actual}` or remove `job:` (it is read from the cluster when omitted).")
    )]
    WrongJob {
        datafeed: String,
        declared: String,
        actual: String,
        #[label("the cluster says `{actual}`")]
        at: SourceSpan,
    },

    #[error("datafeed `{datafeed}` is to be started but its job `{job}` is {job_state}")]
    #[diagnostic(
        code(quiesce::plan::job_not_open),
        help("Add `- id: {job}` with `state: opened` to `jobs:` so that it is opened first.")
    )]
    JobNotOpen {
        datafeed: String,
        job: String,
        job_state: String,
        #[label("starting this needs `{job}` opened")]
        at: SourceSpan,
    },

    #[error("job `{job}` is failed and cannot be opened")]
    #[diagnostic(
        code(quiesce::plan::failed_job),
        help(
            "A failed job must be closed with force first: declare it `state: closed` with `settings.force: after_timeout`, run, then open it."
        )
    )]
    OpenFailedJob {
        job: String,
        #[label("this job is failed")]
        at: SourceSpan,
    },

    #[error(
        "upgrade mode is enabled on the cluster: every stop, close, open and start would be refused"
    )]
    #[diagnostic(
        code(quiesce::plan::upgrade_mode),
        help(
            "Add `upgrade_mode: disabled` to the playbook so quiesce disables it first, or disable it yourself (`POST _ml/set_upgrade_mode?enabled=false`)."
        )
    )]
    UpgradeModeBlocks {
        #[label("the first change that would be refused")]
        at: Option<SourceSpan>,
    },

    #[error("`upgrade_mode: enabled` cannot be combined with opening jobs or starting datafeeds")]
    #[diagnostic(
        code(quiesce::plan::upgrade_mode),
        help(
            "While upgrade mode is enabled, opens and starts are refused; bring things up in a separate playbook with `upgrade_mode: disabled`."
        )
    )]
    UpgradeModeWithUp {
        #[label("enabled here")]
        at: SourceSpan,
        #[label("an entry that brings something up")]
        up: SourceSpan,
    },

    #[error("the steps form a cycle: {path}")]
    #[diagnostic(
        code(quiesce::plan::cycle),
        help(
            "An `after:` entry closes a loop with the stop-before-close / open-before-start order; remove one of the labelled entries."
        )
    )]
    Cycle {
        path: String,
        #[label(collection, "on the cycle")]
        edges: Vec<LabeledSpan>,
    },

    #[error(
        "job `{job}` cannot open even on today's version {today}: its current model snapshot `{snapshot}` has min_version {min_version}"
    )]
    #[diagnostic(
        code(quiesce::plan::snapshot_unopenable),
        help(
            "Revert the job to a newer model snapshot (`POST _ml/anomaly_detectors/{job}/model_snapshots/<id>/_revert`) or reset it, then plan again; quiesce does neither on its own."
        )
    )]
    SnapshotUnopenable {
        job: String,
        snapshot: String,
        min_version: String,
        today: String,
        #[label("this job")]
        at: SourceSpan,
    },

    #[error(
        "job `{job}` would not open on {target}: its current model snapshot `{snapshot}` has min_version {min_version}, and the job is {state} and not closed by this plan"
    )]
    #[diagnostic(
        code(quiesce::plan::snapshot_not_refreshed),
        severity(Warning),
        help(
            "Closing the job on today's version persists a new snapshot: close it in this playbook (`state: closed`) before the upgrade, or refresh it by hand."
        )
    )]
    SnapshotNotRefreshed {
        job: String,
        snapshot: String,
        min_version: String,
        target: String,
        state: String,
        #[label("this job")]
        at: SourceSpan,
    },

    #[error("job `{job}` keeps model snapshots that {target} cannot open: {snapshots}")]
    #[diagnostic(
        code(quiesce::plan::old_snapshots),
        severity(Warning),
        help(
            "The job opens, but a revert to one of these would fail after the upgrade. Set `upgrade.old_snapshots: upgrade` to upgrade them, or `delete` to delete them, before the shutdown."
        )
    )]
    OldSnapshotsKept {
        job: String,
        snapshots: String,
        target: String,
        #[label("this job")]
        at: SourceSpan,
    },

    #[error("job `{job}` would not be assigned to any ML node: it needs {needed}, and {room}")]
    #[diagnostic(
        code(quiesce::plan::no_room),
        help(
            "Open fewer jobs in this playbook, close others first, lower the job's `model_memory_limit`, add ML memory, or set `allow_lazy_open` on the job to let it wait for room. The check is an estimate of Elasticsearch's placement (see the README, \"Capacity for the way up\")."
        )
    )]
    NoRoom {
        job: String,
        needed: String,
        room: String,
        #[label("opened here")]
        at: SourceSpan,
    },

    #[error("job `{job}` would wait unassigned (`allow_lazy_open`): it needs {needed}, and {room}")]
    #[diagnostic(
        code(quiesce::plan::no_room),
        severity(Warning),
        help(
            "Its open is ordered after every open that fits, and stays `opening` until a node has room, which may outlast `settings.step_timeout`."
        )
    )]
    NoRoomLazy {
        job: String,
        needed: String,
        room: String,
        #[label("opened here")]
        at: SourceSpan,
    },

    #[error("the maintenance window ended at {end}, before now ({now})")]
    #[diagnostic(
        code(quiesce::plan::maintenance_over),
        help(
            "An event wholly in the past covers nothing of this maintenance. Give the window to come (`window: {{start, end}}` with a later `end`), or `duration:` to start it now."
        )
    )]
    MaintenanceOver {
        end: String,
        now: String,
        #[label("this window")]
        at: SourceSpan,
    },
}

impl PlanProblem {
    /// Warnings are reported but do not stop planning.
    pub(crate) fn is_error(&self) -> bool {
        !matches!(
            self,
            PlanProblem::NoMatch { .. }
                | PlanProblem::OldSnapshotsKept { .. }
                | PlanProblem::SnapshotNotRefreshed { .. }
                | PlanProblem::NoRoomLazy { .. }
        )
    }
}

/// The problems of one plan, with the playbook text they point into.
#[derive(Debug, Error, Diagnostic)]
#[error("cannot plan `{name}`: {} problem(s)", .problems.iter().filter(|p| p.is_error()).count())]
#[diagnostic(code(quiesce::plan::invalid))]
pub(crate) struct InvalidPlan {
    name: String,
    #[source_code]
    source_code: NamedSource<std::sync::Arc<str>>,
    #[related]
    pub problems: Vec<PlanProblem>,
    /// Whether the plan was made against an observed cluster (rather than `--offline`): the
    /// problems may then be the cluster's, not the playbook's, and the exit code says so.
    observed: bool,
}

impl InvalidPlan {
    pub(crate) fn new(source: &Source, problems: Vec<PlanProblem>, observed: bool) -> InvalidPlan {
        InvalidPlan {
            name: source.name().to_owned(),
            source_code: source.named_source(),
            problems,
            observed,
        }
    }

    /// Whether the cluster was observed (contacted) before these problems were found.
    pub(crate) fn observed(&self) -> bool {
        self.observed
    }
}

/// Warnings of a plan that could be made, with their source, for rendering.
#[derive(Debug, Error, Diagnostic)]
#[error("{count} warning(s) in `{name}`")]
#[diagnostic(code(quiesce::plan::warnings), severity(Warning))]
pub(crate) struct PlanWarnings {
    name: String,
    count: usize,
    #[source_code]
    source_code: NamedSource<std::sync::Arc<str>>,
    #[related]
    pub warnings: Vec<PlanProblem>,
}

impl PlanWarnings {
    pub(crate) fn new(source: &Source, warnings: Vec<PlanProblem>) -> PlanWarnings {
        PlanWarnings {
            name: source.name().to_owned(),
            count: warnings.len(),
            source_code: source.named_source(),
            warnings,
        }
    }
}
