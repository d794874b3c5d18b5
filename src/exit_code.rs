//! Process exit codes: the contract with scripts, cron and CI (docs/architecture.md §1.3, the
//! README's "Exit codes", `quiesce --help`).
//!
//! Every command maps its outcome to one of these; nothing else calls `std::process::exit`.
//! Codes 2, 3, 5 and 6 all mean "nothing was changed"; they differ in how far quiesce got: 2
//! contacted nothing, 3 could not get a usable answer from the cluster, 5 observed the cluster
//! and found the playbook does not fit it, 6 had a plan but no confirmation.

/// Every target reached its desired state (for `plan`/`validate`: nothing wrong).
pub const SUCCESS: i32 = 0;
/// The run finished but some steps failed or were skipped (or quiesce itself failed: an
/// internal error, output that could not be written).
pub const STEPS_FAILED: i32 = 1;
/// Invalid playbook, plan file, seed, URL, CA file or usage; nothing was contacted.
pub const INVALID_INPUT: i32 = 2;
/// The cluster is unreachable, not Elasticsearch, refused the credentials, or the preflight
/// failed (or another run holds the state directory); nothing was changed.
pub const CLUSTER_UNAVAILABLE: i32 = 3;
/// `plan`/`status` with `--detailed-exitcode`: changes are pending.
pub const CHANGES_PENDING: i32 = 4;
/// The playbook does not fit the cluster as observed: a plan error found after observing it
/// (an id it lacks, upgrade mode on, a selector that must match and does not, a current model
/// snapshot too old to open even today, jobs to open that fit on no ML node…), a cluster that
/// drifted from a saved plan, or a `capture --match` name it lacks; nothing was changed.
pub const DOES_NOT_FIT: i32 = 5;
/// Not confirmed: the answer at the prompt was not `yes`, or there was no terminal to ask and
/// no `--yes`; the cluster was read, nothing was changed.
pub const NOT_CONFIRMED: i32 = 6;
/// Another run took over the cluster lease mid-run (or it expired unrenewed): no new step
/// started after that; steps in flight finished, the journal is kept and the run can be
/// resumed once the other run is done.
pub const LEASE_LOST: i32 = 7;
/// Every step succeeded, but the recovery was not verified: after a way up, an opened job was
/// not assigned to a node, or a started real-time datafeed made no progress, within the time
/// allowed (`--verify-timeout`); `quiesce verify` likewise.
pub const NOT_VERIFIED: i32 = 8;
/// Interrupted by a signal; the journal is kept and the run can be resumed.
pub const INTERRUPTED: i32 = 130;

/// Every code with its meaning, in the words of the README's table: what `--help` and the
/// docs say, and what the tests hold them to.
pub const TABLE: &[(i32, &str)] = &[
    (
        SUCCESS,
        "every target reached its wanted state (`plan`, `validate`: nothing wrong)",
    ),
    (
        STEPS_FAILED,
        "the run finished, but some steps failed or were skipped",
    ),
    (
        INVALID_INPUT,
        "invalid playbook, plan file, seed, URL, CA file or usage; nothing was contacted",
    ),
    (
        CLUSTER_UNAVAILABLE,
        "cluster unreachable, not Elasticsearch, unauthorised, or preflight failed; nothing changed",
    ),
    (
        CHANGES_PENDING,
        "`plan`/`status` with `--detailed-exitcode`: changes are pending",
    ),
    (
        DOES_NOT_FIT,
        "the playbook does not fit the cluster as observed, or it drifted from a plan; nothing changed",
    ),
    (
        NOT_CONFIRMED,
        "not confirmed: the answer was not `yes`, or no terminal and no `--yes`; nothing changed",
    ),
    (
        LEASE_LOST,
        "the cluster lease was lost to another run: nothing new started; resume the run later",
    ),
    (
        NOT_VERIFIED,
        "steps succeeded, but recovery not verified: a job unassigned or a datafeed not progressing",
    ),
    (
        INTERRUPTED,
        "interrupted; the journal is kept and the run can be resumed",
    ),
];
