//! # quiesce — take Elasticsearch machine learning down and back up in good order
//!
//! quiesce reads a version-controlled YAML *playbook* that declares anomaly-detection jobs,
//! their datafeeds and the state each should be in, and drives an Elasticsearch cluster there:
//! datafeeds are stopped before their jobs are closed on the way down, jobs are opened before
//! their datafeeds are started on the way up.
//!
//! ## The pipeline
//!
//! ```text
//! playbook -> model -> plan -> exec -> report
//!  (YAML text,  (validated,  (petgraph DAG,  (scheduler,  (human progress,
//!   spans)       no I/O)      diff, waves)    retries,     JSON lines,
//!                                             events)      diagnostics)
//!                               \               |
//!                                \              v
//!                                 es  (the only code that knows Elasticsearch URLs and JSON)
//!
//!  crates/quiesce-sim: the Elasticsearch ML simulator, a crate of its own (feature `sim`)
//! ```
//!
//! | module      | owns                                                                  |
//! |-------------|-----------------------------------------------------------------------|
//! | `playbook`  | stage 1: YAML text -> spanned raw tree (`RawPlaybook`, the format and |
//! |             | the schema source), `${VAR}` expansion, `Problem` diagnostics         |
//! | `model`     | stage 2: raw tree -> validated `Playbook` (typed ids, selectors,      |
//! |             | states, durations, resolved `after`, secrets); every problem at once  |
//! | `observe`   | one read-only `Snapshot`: six requests up to 10,000 jobs, paged past  |
//! |             | Elasticsearch's cap beyond; an `Outlook` (snapshots, ML memory) when  |
//! |             | a plan's snapshot gate or capacity check needs one                    |
//! | `capture`   | a snapshot written as the playbook that restores it; pure, no I/O     |
//! | `plan`      | stage 3: selectors resolved, wanted vs observed diffed, the steps and |
//! |             | their petgraph DAG (the only petgraph user), the snapshot gate and    |
//! |             | the capacity estimate before the window, `PlanView` (JSON form)       |
//! | `exec`      | stage 4: the scheduler loop, workers that call, confirm via stats,    |
//! |             | retry and escalate; emits `Event`s, never prints                      |
//! | `input`     | files quiesce is told to read: regular files only, size limits, UTF-8 |
//! | `journal`   | run journals on disk (before-state first, group commit), the          |
//! |             | state-directory lock, and the playbooks `resume`/`revert` are made of |
//! | `coord`     | the cluster's side of a run, in its `.quiesce` index: the lease (one  |
//! |             | run per cluster, from any machine) and the journal mirror, read back  |
//! |             | by `runs --cluster URL`, `resume` and `revert` where the run is not   |
//! |             | on disk                                                               |
//! | `es`        | typed ML client (reqwest, rustls): requests as data, product check,   |
//! |             | errors classified; never retries; the only code that knows HTTP (an   |
//! |             | optional `ExchangeObserver` hears method, path, status, time: `-v`)   |
//! | `cli`, `cmd`| argument parsing; one file per subcommand, each returns an exit code  |
//! | `verify`    | after a way up: opened jobs assigned, started datafeeds progressing   |
//! |             | (stats polled within a timeout); emits events, never changes anything |
//! | `report`    | bytes for people (stderr) and programs (stdout); never decides        |
//! | `exit_code` | the documented exit codes                                             |
//! | `error`     | the top-level error wrapping each layer's own enum                    |
//!
//! ## Invariants
//!
//! - Nothing before `exec` changes a cluster; `observe` only reads.
//! - A run's before-state is on disk, and in the cluster, before its first change, and each
//!   step's outcome on disk before any step that depends on it starts.
//! - One run at a time changes a cluster: it holds the cluster lease, or it changes nothing.
//! - Success of a step is the state observed through stats, never an HTTP 200.
//! - The executor emits events and never prints; reporters render them.
//! - Secrets are held in redacting types and never reach any output, log or file; a literal
//!   secret in a playbook is masked in the source text its diagnostic shows.
//! - `model` does no I/O: the text comes in a `playbook::Source`, the environment through a
//!   lookup function. A connection setting whose `${VAR}` is unset is left unresolved there,
//!   and refused by the commands that contact the cluster (`cmd::cluster`), not by `validate`. A `model::Playbook` has passed every check, and each target keeps the
//!   `Location` it was written at.
//!
//! Start reading at [`run`], then `cmd/`.

mod capture;
mod cli;
mod cmd;
mod coord;
mod error;
mod es;
mod exec;
pub mod exit_code;
mod input;
mod journal;
mod model;
mod observe;
mod plan;
mod playbook;
mod report;
mod verify;

// The library's public surface is the binary's entry point, the exit codes, and what the fuzz
// target drives: reading and checking a playbook, and rendering its diagnostics. Everything
// else is the binary's own.
pub use model::{Playbook, load};
pub use playbook::{InvalidPlaybook, Source};
pub use report::diagnostic::{render_human, render_json};

/// Parses the command line, runs the command and returns the process exit code.
pub fn run() -> i32 {
    let cli = cli::Cli::from_env();
    report::diagnostic::init(cli.color);
    report::http::init(cli.verbose);
    cli.command.run()
}
