//! One file per subcommand: each turns its parsed arguments into calls on the pipeline stages
//! and returns an exit code. Errors that end a command are rendered once, here.

pub(crate) mod apply;
pub(crate) mod capture;
pub(crate) mod cluster;
pub(crate) mod completions;
pub(crate) mod graph;
mod load;
pub(crate) mod plan;
pub(crate) mod resume;
pub(crate) mod revert;
pub(crate) mod runs;
pub(crate) mod schema;
#[cfg(feature = "sim")]
pub(crate) mod sim;
pub(crate) mod status;
pub(crate) mod validate;

use crate::cli::{Cli, Command};
use crate::error::Error;
use crate::report::{diagnostic, stream};

/// Runs the parsed command line and returns the process exit code.
pub(crate) fn dispatch(cli: Cli) -> i32 {
    let json = wants_json(&cli.command);
    let result = match cli.command {
        Command::Completions(args) => completions::run(args),
        Command::Schema(args) => schema::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Apply(args) => apply::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Resume(args) => resume::run(args),
        Command::Revert(args) => revert::run(args),
        Command::Runs(args) => runs::run(args),
        Command::Graph(args) => graph::run(args),
        Command::Status(args) => status::run(args),
        Command::Capture(args) => capture::run(args),
        #[cfg(feature = "sim")]
        Command::Sim(args) => sim::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            if json {
                let _ = stream::out(&format!("{}\n", diagnostic::render_json(&err)));
            } else {
                diagnostic::eprint(&err);
            }
            err.exit_code()
        }
    }
}

/// Whether the command was asked for machine output; its diagnostics are then JSON on stdout.
fn wants_json(command: &Command) -> bool {
    use crate::cli::OutputFormat::Json;
    match command {
        Command::Apply(args) => args.run.output == Json,
        Command::Resume(args) => args.run.output == Json,
        Command::Revert(args) => args.run.output == Json,
        Command::Plan(args) => args.format == plan::PlanFormat::Json,
        Command::Status(args) => args.output == Json,
        Command::Runs(args) => args.output == Json,
        _ => false,
    }
}

/// The async runtime for commands that talk to a cluster.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the async runtime: {e}")))
}
