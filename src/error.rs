//! The top-level error: whatever stops a command before it can produce its own outcome.
//!
//! Each layer has its own error enum; this one wraps them transparently so that their codes,
//! labels and help reach the user unchanged, and maps each to an exit code.

use std::path::PathBuf;

use miette::Diagnostic;
use thiserror::Error;

use crate::exit_code;

#[derive(Debug, Error, Diagnostic)]
pub(crate) enum Error {
    /// A file named on the command line could not be read or written.
    #[error("cannot access `{}`", path.display())]
    #[diagnostic(code(quiesce::io), help("check that the path exists and is readable"))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A file named on the command line (or by a playbook) is not one quiesce can read: not a
    /// regular file, too large, not UTF-8 text.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Input(#[from] crate::input::InputError),

    /// A playbook failed validation: every problem, with its labels.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Playbook(#[from] Box<crate::playbook::InvalidPlaybook>),

    /// Writing to stdout or stderr failed (closed pipe and the like).
    #[error("cannot write output")]
    #[diagnostic(code(quiesce::output))]
    Output(#[source] std::io::Error),

    /// The playbook cannot be planned against this cluster.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Plan(Box<crate::plan::InvalidPlan>),

    /// Talking to Elasticsearch failed before anything was changed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Es(#[from] crate::es::Error),

    /// The embedded simulator (`--cluster sim:FILE`, `quiesce sim`) could not start.
    #[cfg(feature = "sim")]
    #[error(transparent)]
    #[diagnostic(transparent)]
    Sim(#[from] quiesce_sim::SimError),

    /// `--cluster sim:FILE` names a seed file that cannot be read.
    #[cfg(feature = "sim")]
    #[error("cannot read the simulator seed `{}` named by `--cluster sim:{}`", path.display(), path.display())]
    #[diagnostic(
        code(quiesce::cluster::sim_seed),
        help(
            "`--cluster sim:FILE` starts the embedded simulator seeded from FILE, a path from the current directory (the demo: `--cluster sim:seeds/demo-cluster.yaml`); `--cluster sim:` alone starts an empty simulated cluster."
        )
    )]
    SimSeed {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// `quiesce sim` stopped serving.
    #[cfg(feature = "sim")]
    #[error(transparent)]
    #[diagnostic(transparent)]
    SimServe(#[from] quiesce_sim::cli::ServeError),

    /// `--cluster sim:FILE` in a build without the simulator.
    #[cfg(not(feature = "sim"))]
    #[error("this quiesce was built without the simulator, so `--cluster sim:…` is not available")]
    #[diagnostic(
        code(quiesce::no_simulator),
        help(
            "Build with the default features (`cargo install quiesce`), or run `quiesce-sim` and pass its URL."
        )
    )]
    NoSimulator,

    /// `apply` needs a confirmation it could not get.
    #[error("not applying: {reason}")]
    #[diagnostic(
        code(quiesce::apply::not_confirmed),
        help(
            "Review the plan (`quiesce plan` or `quiesce apply --dry-run`), then run again with `--yes`."
        )
    )]
    NotConfirmed { reason: String },

    /// `-o FILE` names a file that exists, and `--overwrite` was not given.
    #[error("`{}` already exists; not overwriting it", path.display())]
    #[diagnostic(
        code(quiesce::output::exists),
        help("Choose another file name, or pass `--overwrite` to replace it.")
    )]
    WouldOverwrite { path: PathBuf },

    /// A saved plan file that cannot be used.
    #[error("cannot use the plan file `{}`: {reason}", path.display())]
    #[diagnostic(
        code(quiesce::apply::plan_file),
        help("Save a fresh plan with `quiesce plan PLAYBOOK -o plan.json`.")
    )]
    BadPlanFile { path: PathBuf, reason: String },

    /// The cluster changed since the saved plan was made.
    #[error("the cluster changed since the plan was made; nothing was changed:\n{changes}")]
    #[diagnostic(
        code(quiesce::apply::drifted),
        help("Make a new plan (`quiesce plan PLAYBOOK -o plan.json`), review it, and apply that.")
    )]
    Drifted { changes: String },

    /// The credentials lack a privilege the run needs.
    #[error("user `{user}` lacks {missing}; nothing was changed")]
    #[diagnostic(
        code(quiesce::preflight::privilege),
        help(
            "Grant a role with the cluster privilege `manage_ml` (e.g. the built-in `machine_learning_admin`) and `create_index`, `read` and `write` on the index that keeps the lease and run journals (README, \"A role for quiesce\"), or use other credentials."
        )
    )]
    MissingPrivilege { user: String, missing: String },

    /// A run journal could not be written or read.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Journal(#[from] crate::journal::JournalError),

    /// The lease or the journal kept in the cluster.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Coord(Box<crate::coord::CoordError>),

    /// Another run holds the state directory.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Lock(#[from] crate::journal::LockError),

    /// A credential that cannot be sent as it is, or half of a pair.
    #[error("cannot use the credentials in `{name}`: {reason}")]
    #[diagnostic(
        code(quiesce::cluster::credentials),
        help(
            "Credentials travel in an HTTP header, which carries no line breaks or control characters, and API keys and tokens are ASCII: check how the value was set (one read from a file often keeps its final newline). Basic authentication needs both ES_USERNAME and ES_PASSWORD. Nothing was contacted."
        )
    )]
    Credentials { name: String, reason: String },

    /// `resume` of a run that must not go on: it already succeeded, or was reverted since.
    #[error("not resuming run `{run_id}`: {reason}{}", if since.is_empty() { String::new() } else { format!("\nsince then, on the same cluster:\n{}", since.trim_end()) })]
    #[diagnostic(
        code(quiesce::resume::refused),
        help(
            "Nothing was changed (at most the run journals kept in the cluster were read). `quiesce runs show RUN_ID` shows what the run did; to bring the cluster to the playbook's states again, apply the playbook: `quiesce apply PLAYBOOK`."
        )
    )]
    WontResume {
        run_id: String,
        reason: String,
        /// What touched the same cluster since, one run a line.
        since: String,
    },

    /// No cluster URL anywhere.
    #[error("no cluster to talk to")]
    #[diagnostic(
        code(quiesce::no_cluster),
        help(
            "Set `cluster.url` in the playbook, pass `--cluster URL`, or set ES_URL; `--cluster sim:seeds/demo-cluster.yaml` rehearses against the embedded simulator."
        )
    )]
    NoCluster,

    /// `capture` was asked for jobs it cannot select.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Capture(#[from] crate::capture::CaptureError),

    /// Something quiesce itself got wrong.
    #[error("this is a bug in quiesce, please report it: {0}")]
    #[diagnostic(
        code(quiesce::internal),
        help("Please open an issue with the command you ran and this message.")
    )]
    Internal(String),
}

impl From<crate::plan::InvalidPlan> for Error {
    fn from(plan: crate::plan::InvalidPlan) -> Error {
        Error::Plan(Box::new(plan))
    }
}

impl Error {
    /// The exit code this error ends the process with (docs/architecture.md §1).
    pub(crate) fn exit_code(&self) -> i32 {
        match self {
            Error::Io { .. }
            | Error::Input(_)
            | Error::Playbook(_)
            | Error::NoCluster
            | Error::Credentials { .. }
            | Error::WontResume { .. } => exit_code::INVALID_INPUT,
            // Offline, the playbook alone is at fault; after observing, it does not fit the
            // cluster as it is.
            Error::Plan(plan) if plan.observed() => exit_code::DOES_NOT_FIT,
            Error::Plan(_) => exit_code::INVALID_INPUT,
            Error::NotConfirmed { .. } => exit_code::NOT_CONFIRMED,
            Error::BadPlanFile { .. } | Error::Journal(_) | Error::WouldOverwrite { .. } => {
                exit_code::INVALID_INPUT
            }
            Error::Lock(_) | Error::Coord(_) => exit_code::CLUSTER_UNAVAILABLE,
            Error::Drifted { .. } => exit_code::DOES_NOT_FIT,
            // A URL or CA file that cannot be used is refused before anything is contacted.
            Error::Es(crate::es::Error::InvalidUrl { .. } | crate::es::Error::CaCert { .. }) => {
                exit_code::INVALID_INPUT
            }
            Error::Es(_) | Error::MissingPrivilege { .. } => exit_code::CLUSTER_UNAVAILABLE,
            #[cfg(feature = "sim")]
            Error::Sim(quiesce_sim::SimError::Bind { .. })
            | Error::SimServe(quiesce_sim::cli::ServeError::Sim(quiesce_sim::SimError::Bind {
                ..
            })) => exit_code::CLUSTER_UNAVAILABLE,
            #[cfg(feature = "sim")]
            Error::Sim(_) | Error::SimServe(quiesce_sim::cli::ServeError::Sim(_)) => {
                exit_code::INVALID_INPUT
            }
            #[cfg(feature = "sim")]
            Error::SimServe(quiesce_sim::cli::ServeError::Output(_)) => exit_code::STEPS_FAILED,
            #[cfg(feature = "sim")]
            Error::SimSeed { .. } => exit_code::INVALID_INPUT,
            #[cfg(not(feature = "sim"))]
            Error::NoSimulator => exit_code::INVALID_INPUT,
            Error::Capture(crate::capture::CaptureError::NoMatch { .. }) => exit_code::DOES_NOT_FIT,
            Error::Capture(_) => exit_code::INVALID_INPUT,
            Error::Output(_) | Error::Internal(_) => exit_code::STEPS_FAILED,
        }
    }
}

impl From<crate::coord::CoordError> for Error {
    fn from(err: crate::coord::CoordError) -> Error {
        Error::Coord(Box::new(err))
    }
}
