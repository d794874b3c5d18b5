//! The top-level error: whatever stops a command before it can produce its own outcome.
//!
//! Each layer has its own error enum; this one wraps them transparently so that their codes,
//! labels and help reach the user unchanged, and maps each to an exit code.

use std::path::PathBuf;

use miette::Diagnostic;
use thiserror::Error;

use crate::exit_code;

#[derive(Debug, Error, Diagnostic)]
pub enum Error {
    /// A file named on the command line could not be read or written.
    #[error("cannot access `{}`", path.display())]
    #[diagnostic(code(quiesce::io), help("check that the path exists and is readable"))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A playbook failed validation: every problem, with its labels.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Playbook(#[from] Box<crate::playbook::InvalidPlaybook>),

    /// Writing to stdout or stderr failed (closed pipe and the like).
    #[error("cannot write output")]
    #[diagnostic(code(quiesce::output))]
    Output(#[source] std::io::Error),

    /// Something quiesce itself got wrong.
    #[error("this is a bug in quiesce, please report it: {0}")]
    #[diagnostic(
        code(quiesce::internal),
        help("Please open an issue with the command you ran and this message.")
    )]
    Internal(String),
}

impl Error {
    /// The exit code this error ends the process with (design.md §1).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Io { .. } | Error::Playbook(_) => exit_code::INVALID_INPUT,
            Error::Output(_) | Error::Internal(_) => exit_code::STEPS_FAILED,
        }
    }
}
