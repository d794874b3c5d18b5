//! The command line: clap definitions only. Each subcommand's arguments live beside its
//! implementation in `cmd/`; this file only names them and the options every command shares.

use clap::{Parser, Subcommand, ValueEnum};

use crate::cmd;

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

/// Whether human output on stderr is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour on a terminal unless `NO_COLOR` is set.
    Auto,
    Always,
    Never,
}

/// How a command writes its result: for people on stderr, or for programs on stdout.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Rendered for people, on stderr.
    #[default]
    Human,
    /// JSON on stdout (diagnostics too).
    Json,
}
