//! Process exit codes: the contract with scripts, cron and CI (docs/architecture.md §1).
//!
//! Every command maps its outcome to one of these; nothing else calls `std::process::exit`.

/// Every target reached its desired state (for `plan`/`validate`: nothing wrong).
pub const SUCCESS: i32 = 0;
/// The run finished but some steps failed or were skipped.
pub const STEPS_FAILED: i32 = 1;
/// Invalid playbook or usage; nothing was contacted.
pub const INVALID_INPUT: i32 = 2;
/// Cluster unreachable, unauthorised, or preflight failed; nothing was changed.
pub const CLUSTER_UNAVAILABLE: i32 = 3;
/// `plan --detailed-exitcode`: changes are pending.
pub const CHANGES_PENDING: i32 = 4;
/// Interrupted by a signal; the journal is kept and the run can be resumed.
pub const INTERRUPTED: i32 = 130;
