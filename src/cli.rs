//! The command line: the clap definitions and the dispatch. Each subcommand's arguments live
//! beside its implementation in `cmd/`; this file names them, holds the options every command
//! shares, runs the chosen one and renders the error that ends it. `cmd` never looks back here.

use clap::{CommandFactory, Parser, Subcommand};

use crate::cmd;
use crate::error::Error;
use crate::report::{ColorChoice, OutputFormat, diagnostic, stream};

/// Take the machine-learning side of an Elasticsearch cluster down and back up in good order.
///
/// Exit codes: 0 every target reached its desired state (plan/validate: nothing wrong);
/// 1 the run finished but some steps failed or were skipped; 2 invalid playbook or usage,
/// nothing contacted; 3 cluster unreachable, unauthorised or preflight failed, nothing changed;
/// 4 `plan --detailed-exitcode` with changes pending; 130 interrupted (journal kept, resumable).
#[derive(Debug, Parser)]
#[command(name = "quiesce", version, about, long_about, max_term_width = 100)]
pub struct Cli {
    /// When to use colour on stderr (`NO_COLOR` is honoured by `auto`).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check playbooks without contacting anything; every problem at once.
    ///
    /// Exit 0 when every playbook is valid, 2 otherwise.
    Validate(cmd::validate::Args),
    /// Observe the cluster (read-only) and show what a playbook would change, in what order.
    Plan(cmd::plan::Args),
    /// Print the plan's dependency graph as Graphviz DOT or a Mermaid flowchart.
    Graph(cmd::graph::Args),
    /// One line per target: wanted vs observed state, then drift.
    Status(cmd::status::Args),
    /// Execute a playbook (or a saved plan): the stops, closes, opens and starts, in order.
    Apply(cmd::apply::Args),
    /// Continue an interrupted run from its journal.
    Resume(cmd::resume::Args),
    /// Bring back exactly what a run took down, from its journal.
    Revert(cmd::revert::Args),
    /// List past runs, their outcome, and any that left upgrade mode on.
    Runs(cmd::runs::Args),
    /// Write the cluster's current machine-learning state as a playbook that restores it.
    Capture(cmd::capture::Args),
    /// Run the Elasticsearch ML simulator (for tests, demos and rehearsals).
    #[cfg(feature = "sim")]
    Sim(cmd::sim::Args),
    /// Print the JSON Schema (draft-07) of a file format, for editors.
    Schema(cmd::schema::Args),
    /// Print a shell completion script.
    Completions(cmd::completions::Args),
}

impl Command {
    /// Runs the command and returns the process exit code; an error that ends it is rendered
    /// once, here (as JSON on stdout when the command was asked for JSON).
    pub(crate) fn run(self) -> i32 {
        let json = self.wants_json();
        let result = match self {
            Command::Completions(args) => cmd::completions::run(&args, Cli::command()),
            Command::Schema(args) => cmd::schema::run(&args),
            Command::Validate(args) => cmd::validate::run(args),
            Command::Apply(args) => cmd::apply::run(args),
            Command::Plan(args) => cmd::plan::run(args),
            Command::Resume(args) => cmd::resume::run(args),
            Command::Revert(args) => cmd::revert::run(args),
            Command::Runs(args) => cmd::runs::run(args),
            Command::Graph(args) => cmd::graph::run(args),
            Command::Status(args) => cmd::status::run(args),
            Command::Capture(args) => cmd::capture::run(args),
            #[cfg(feature = "sim")]
            Command::Sim(args) => cmd::sim::run(args),
        };
        result.unwrap_or_else(|err| report_error(&err, json))
    }

    /// Whether the command was asked for machine output; its diagnostics are then JSON on stdout.
    fn wants_json(&self) -> bool {
        let json = |format: OutputFormat| format == OutputFormat::Json;
        match self {
            Command::Apply(args) => json(args.run.output),
            Command::Resume(args) => json(args.run.output),
            Command::Revert(args) => json(args.run.output),
            Command::Plan(args) => args.format == cmd::plan::PlanFormat::Json,
            Command::Status(args) => json(args.output),
            Command::Runs(args) => json(args.output),
            _ => false,
        }
    }
}

fn report_error(err: &Error, json: bool) -> i32 {
    if json {
        let _ = stream::out(&format!("{}\n", diagnostic::render_json(err)));
    } else {
        diagnostic::eprint(err);
    }
    err.exit_code()
}
