//! One file per subcommand: each turns its parsed arguments into calls on the pipeline stages
//! and returns an exit code, or the error that ended it (rendered once, by `cli`).

pub(crate) mod apply;
pub(crate) mod capture;
pub(crate) mod cluster;
pub(crate) mod completions;
pub(crate) mod graph;
mod load;
pub(crate) mod man;
mod output;
pub(crate) mod plan;
pub(crate) mod resume;
pub(crate) mod revert;
pub(crate) mod run;
pub(crate) mod runs;
pub(crate) mod schema;
mod signals;
#[cfg(feature = "sim")]
pub(crate) mod sim;
pub(crate) mod status;
pub(crate) mod validate;
pub(crate) mod verify;

use crate::error::Error;

/// The async runtime for commands that talk to a cluster.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the async runtime: {e}")))
}
