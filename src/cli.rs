//! The command line: the clap definitions and the dispatch. Each subcommand's arguments live
//! beside its implementation in `cmd/`; this file names them, holds the options every command
//! shares, the examples each `--help` ends with, runs the chosen one and renders the error
//! that ends it. `cmd` never looks back here.

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::cmd;
use crate::error::Error;
use crate::exit_code;
use crate::report::{ColorChoice, OutputFormat, diagnostic, stream};

/// Take the machine-learning side of an Elasticsearch cluster down and back up in good order.
///
/// quiesce reads a version-controlled YAML playbook that declares anomaly-detection jobs,
/// their datafeeds and the state each should be in, and drives the cluster there: datafeeds
/// stopped before their jobs are closed on the way down, jobs opened before their datafeeds
/// are started on the way up.
#[derive(Debug, Parser)]
#[command(
    name = "quiesce",
    version,
    about,
    long_about,
    max_term_width = 100,
    after_help = examples(&[
        ("rehearse a shutdown against the embedded simulator", "quiesce apply workflows/pre-upgrade-shutdown.yaml --cluster sim:seeds/demo-cluster.yaml --yes"),
        ("check playbooks in CI (contacts nothing)", "quiesce validate workflows/*.yaml"),
    ]),
)]
pub(crate) struct Cli {
    /// When to use colour on stderr (`NO_COLOR` is honoured by `auto`).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,

    /// Log every HTTP request to the cluster and its answer on stderr: method, path, status and
    /// time taken (credentials never shown).
    #[arg(long, short = 'v', global = true)]
    pub verbose: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Check playbooks without contacting anything; every problem at once.
    ///
    /// Exit 0 when every playbook is valid, 2 otherwise. Connection settings whose variables are
    /// unset (`${ES_URL}`, `${ES_API_KEY}`) are a note here, since nothing is contacted; the
    /// commands that contact the cluster refuse them.
    #[command(after_help = examples(&[
        ("every playbook of a folder", "quiesce validate workflows/*.yaml"),
        ("as annotations on a pull request (GitHub Actions)", "quiesce validate --output github workflows/*.yaml"),
        ("as one JSON document", "quiesce validate --output json workflows/restore.yaml"),
    ]))]
    Validate(cmd::validate::Args),
    /// Observe the cluster (read-only) and show what a playbook would change, in what order.
    #[command(after_help = examples(&[
        ("against the embedded simulator", "quiesce plan workflows/pre-upgrade-shutdown.yaml --cluster sim:seeds/demo-cluster.yaml"),
        ("the snapshot gate of an upgrade to 9.0.0, on the embedded simulator", "quiesce plan workflows/pre-upgrade-shutdown.yaml --target-version 9.0.0 --cluster sim:seeds/demo-cluster.yaml"),
        ("without contacting anything", "quiesce plan workflows/restore.yaml --offline"),
        ("save the plan to apply it as reviewed", "quiesce plan workflows/pre-upgrade-shutdown.yaml -o plan.json"),
    ]))]
    Plan(cmd::plan::Args),
    /// Print the plan's dependency graph as Graphviz DOT or a Mermaid flowchart.
    #[command(after_help = examples(&[
        ("an SVG for the change request", "quiesce graph workflows/pre-upgrade-shutdown.yaml --offline | dot -Tsvg > plan.svg"),
        ("Mermaid for a pull request", "quiesce graph workflows/restore.yaml --format mermaid --offline"),
    ]))]
    Graph(cmd::graph::Args),
    /// One line per target: wanted vs observed state, then drift.
    #[command(after_help = examples(&[
        ("is everything back after the window? (exit 4 until it is)", "quiesce status workflows/restore.yaml --cluster sim:seeds/demo-cluster.yaml --detailed-exitcode"),
        ("for a script", "quiesce status workflows/restore.yaml --output json --cluster sim:seeds/demo-cluster.yaml"),
    ]))]
    Status(cmd::status::Args),
    /// Execute a playbook (or a saved plan): the stops, closes, opens and starts, in order.
    #[command(after_help = examples(&[
        ("shows the plan, asks, then runs it", "quiesce apply workflows/pre-upgrade-shutdown.yaml"),
        ("rehearse against the embedded simulator", "quiesce apply workflows/pre-upgrade-shutdown.yaml --cluster sim:seeds/demo-cluster.yaml --yes"),
        ("apply a reviewed plan (refused if the cluster changed since)", "quiesce apply plan.json --yes"),
    ]))]
    Apply(cmd::apply::Args),
    /// Continue an interrupted run from its journal.
    ///
    /// Re-observes the cluster and finishes what the run set out to do, appending to its
    /// journal; a resume that finds everything done records that the run completed. A run that
    /// already succeeded, or that a `revert` brought back since, is not resumed (exit 2): what
    /// touched the same cluster since is listed.
    #[command(after_help = examples(&[
        ("find the run, then continue it", "quiesce runs"),
        ("", "quiesce resume 20261128T121616Z-cbb7 --yes"),
    ]))]
    Resume(cmd::resume::Args),
    /// Bring back exactly what a run took down, from its journal.
    #[command(after_help = examples(&[
        ("review the playbook that reverts a run", "quiesce revert 20261128T121616Z-cbb7 --print"),
        ("then run it", "quiesce revert 20261128T121616Z-cbb7"),
    ]))]
    Revert(cmd::revert::Args),
    /// Verify the recovery: opened jobs assigned, started datafeeds making progress.
    ///
    /// Read-only. Waits, at most `--timeout`, until every job the playbook wants opened is
    /// assigned to a node and every real-time datafeed it wants started is running and makes
    /// progress (a search window, search count or processed records that move on); a target
    /// that does not is listed with its state, node, assignment explanation and counters, and
    /// the command exits 8. `apply`, `resume` and `revert` do the same after a way up.
    #[command(after_help = examples(&[
        ("after the window, is every datafeed reading data again?", "quiesce verify before-upgrade.yaml"),
        ("a datafeed searching every 15m needs longer", "quiesce verify workflows/restore.yaml --timeout 40m"),
    ]))]
    Verify(cmd::verify::Args),
    /// List past runs: outcome, cluster, and any that left upgrade mode on; show one in full.
    ///
    /// On each cluster, the last run that switched upgrade mode is flagged when it left it on
    /// (or may have: its switch was in flight when it ended); runs against the embedded
    /// simulator never are, since that cluster ended with them. `runs show RUN_ID` gives one
    /// run's plans, each step's outcome, attempts, time and error, and what `revert` would do.
    #[command(after_help = examples(&[
        ("the runs beside the playbooks of this folder", "quiesce runs"),
        ("for a script", "quiesce runs --state-dir workflows/.quiesce --output json"),
        ("the runs that never finished", "quiesce runs --outcome incomplete"),
    ]))]
    Runs(cmd::runs::Args),
    /// Write the cluster's current machine-learning state as a playbook that restores it.
    #[command(after_help = examples(&[
        ("before the window: keep what runs today", "quiesce capture -o before-upgrade.yaml"),
        ("only the payment jobs, from the embedded simulator", "quiesce capture --match payments --cluster sim:seeds/demo-cluster.yaml"),
    ]))]
    Capture(cmd::capture::Args),
    /// Run the Elasticsearch ML simulator (for tests, demos and rehearsals).
    #[cfg(feature = "sim")]
    #[command(after_help = examples(&[
        ("the demo cluster of the README", "quiesce sim --seed seeds/demo-cluster.yaml"),
        ("on a free port, behaving as Elasticsearch 7.17", "quiesce sim --listen 127.0.0.1:0 --es-version 7.17.0"),
    ]))]
    Sim(cmd::sim::Args),
    /// Print the JSON Schema (draft-07) of a file format, for editors.
    #[command(after_help = examples(&[
        ("the playbook schema", "quiesce schema > playbook.schema.json"),
        ("the simulator's seed schema", "quiesce schema sim-seed"),
    ]))]
    Schema(cmd::schema::Args),
    /// Print a shell completion script.
    #[command(after_help = examples(&[
        ("bash", "quiesce completions bash > ~/.local/share/bash-completion/completions/quiesce"),
        ("zsh", "quiesce completions zsh > \"${fpath[1]}/_quiesce\""),
    ]))]
    Completions(cmd::completions::Args),
    /// Print the manual page (roff) of quiesce, or write one page per command into a folder.
    #[command(after_help = examples(&[
        ("read it", "quiesce man | man -l -"),
        ("install one page per command", "quiesce man --dir /usr/local/share/man/man1"),
    ]))]
    Man(cmd::man::Args),
}

/// An "Examples:" section for a command's `--help`: for each example, its comment (when not
/// empty) and a command that works as written (tests run them).
fn examples(list: &[(&str, &str)]) -> String {
    let mut text = String::from("Examples:\n");
    for (comment, command) in list {
        if !comment.is_empty() {
            text.push_str(&format!("  # {comment}\n"));
        }
        text.push_str(&format!("  {command}\n"));
    }
    text
}

/// The exit codes, as `quiesce --help` ends with them.
fn exit_codes() -> String {
    let mut text = String::from("Exit codes:\n");
    for (code, meaning) in exit_code::TABLE {
        text.push_str(&format!("  {code:>3}  {meaning}\n"));
    }
    text
}

/// The whole command line, with what `--help` says beyond the derived text (the exit codes).
pub(crate) fn command() -> clap::Command {
    let command = Cli::command();
    let examples = command
        .get_after_help()
        .map(ToString::to_string)
        .unwrap_or_default();
    command.after_long_help(format!("{examples}\n{}", exit_codes()))
}

impl Cli {
    /// Parses the process's arguments (exiting on `--help`, `--version` and usage errors, as
    /// clap does).
    pub(crate) fn from_env() -> Cli {
        let matches = command().get_matches();
        Cli::from_arg_matches(&matches).unwrap_or_else(|err| err.exit())
    }
}

impl Command {
    /// Runs the command and returns the process exit code; an error that ends it is rendered
    /// once, here (as JSON on stdout when the command was asked for JSON).
    pub(crate) fn run(self) -> i32 {
        let json = self.wants_json();
        let result = match self {
            Command::Completions(args) => cmd::completions::run(&args, command()),
            Command::Man(args) => cmd::man::run(&args, command()),
            Command::Schema(args) => cmd::schema::run(&args),
            Command::Validate(args) => cmd::validate::run(args),
            Command::Apply(args) => cmd::apply::run(args),
            Command::Plan(args) => cmd::plan::run(args),
            Command::Resume(args) => cmd::resume::run(args),
            Command::Revert(args) => cmd::revert::run(args),
            Command::Verify(args) => cmd::verify::run(args),
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
            Command::Verify(args) => json(args.output),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every argument of every command says what it is for, in `--help` and the man page.
    #[test]
    fn every_argument_has_help() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if matches!(id, "help" | "version") {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in command.get_subcommands() {
                if sub.get_about().is_none() {
                    missing.push(format!("{path} {} (the command)", sub.get_name()));
                }
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        let mut command = command();
        command.build();
        walk(&command, "quiesce", &mut missing);
        assert!(missing.is_empty(), "arguments without help: {missing:#?}");
    }

    #[test]
    fn the_help_ends_with_every_exit_code() {
        let help = command().render_long_help().to_string();
        for (code, meaning) in exit_code::TABLE {
            assert!(
                help.contains(&format!("{code:>3}  {meaning}")),
                "{code}: {help}"
            );
        }
    }

    #[test]
    fn every_command_has_examples_that_parse() {
        let mut command = command();
        command.build();
        for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
            let after = sub
                .get_after_help()
                .map(ToString::to_string)
                .unwrap_or_default();
            let lines: Vec<&str> = after
                .lines()
                .map(str::trim)
                .filter(|l| l.starts_with("quiesce "))
                .collect();
            assert!(
                !lines.is_empty(),
                "`quiesce {}` has no examples",
                sub.get_name()
            );
            for line in lines {
                // Up to a pipe or a redirection: that part is the shell's.
                let cut = line.find(['|', '>']).map_or(line, |i| &line[..i]);
                let words: Vec<&str> = cut.split_whitespace().collect();
                if let Err(err) = command.clone().try_get_matches_from(&words) {
                    panic!("`{line}` does not parse: {err}");
                }
            }
        }
    }
}
