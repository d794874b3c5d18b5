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
//!                                 sim (an HTTP server that behaves like the ML API)
//! ```
//!
//! | module      | owns                                                                  |
//! |-------------|-----------------------------------------------------------------------|
//! | `cli`, `cmd`| argument parsing; one file per subcommand, each returns an exit code  |
//! | `report`    | bytes for people (stderr) and programs (stdout); never decides        |
//! | `exit_code` | the documented exit codes                                             |
//! | `error`     | the top-level error wrapping each layer's own enum                    |
//!
//! ## Invariants
//!
//! - Nothing before `exec` contacts a cluster except the read-only observation in `plan`.
//! - The executor emits events and never prints; reporters render them.
//! - Secrets are held in redacting types and never reach any output, log or file.
//!
//! Start reading at [`run`], then `cmd/`.

pub mod cli;
mod cmd;
pub mod error;
pub mod es;
pub mod exec;
pub mod exit_code;
pub mod model;
pub mod observe;
pub mod plan;
pub mod playbook;
pub mod report;
pub mod sim;

use clap::Parser;

/// Parses the command line, runs the command and returns the process exit code.
pub fn run() -> i32 {
    let cli = cli::Cli::parse();
    report::diagnostic::init(cli.color);
    cmd::dispatch(cli)
}
