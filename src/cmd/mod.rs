//! One file per subcommand: each turns its parsed arguments into calls on the pipeline stages
//! and returns an exit code. Errors that end a command are rendered once, here.

pub(crate) mod completions;
pub(crate) mod sim;

use crate::cli::{Cli, Command};
use crate::report::diagnostic;

/// Runs the parsed command line and returns the process exit code.
pub(crate) fn dispatch(cli: Cli) -> i32 {
    let result = match cli.command {
        Command::Completions(args) => completions::run(args),
        Command::Sim(args) => sim::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            diagnostic::eprint(&err);
            err.exit_code()
        }
    }
}
