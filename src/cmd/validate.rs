//! `quiesce validate PLAYBOOK...`: reads and checks playbooks without contacting anything.
//!
//! Human output: every problem as a diagnostic on stderr, then one line per file
//! (`✓ x.yaml is valid`, `✗ 3 problems in x.yaml`). JSON output: one document on stdout,
//! `{"files": [{"path", "valid", "diagnostics": [miette JSON...]}]}`. Exit 0 when every file
//! is valid, 2 otherwise.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::{Value, json};

use crate::error::Error;
use crate::exit_code;
use crate::model;
use crate::playbook::Source;
use crate::report::OutputFormat;
use crate::report::{diagnostic, stream};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Playbook files to check.
    #[arg(required = true, value_name = "PLAYBOOK")]
    playbooks: Vec<PathBuf>,

    /// `human`: diagnostics on stderr; `json`: one JSON document on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    output: OutputFormat,
}

/// What one file came to: rendered diagnostics, in the chosen format.
struct Outcome {
    path: PathBuf,
    diagnostics: Vec<String>,
}

pub(crate) fn run(args: Args) -> Result<i32, Error> {
    let env = |name: &str| std::env::var(name).ok();
    let render = match args.output {
        OutputFormat::Human => diagnostic::render_human,
        OutputFormat::Json => diagnostic::render_json,
    };
    let outcomes: Vec<Outcome> = args
        .playbooks
        .iter()
        .map(|path| {
            let diagnostics = match Source::read(path) {
                Err(source) => vec![render(&Error::Io {
                    path: path.clone(),
                    source,
                })],
                Ok(source) => match model::load(&source, &env) {
                    Ok(_) => Vec::new(),
                    Err(invalid) => invalid.diagnostics().map(|d| render(&d)).collect(),
                },
            };
            Outcome {
                path: path.clone(),
                diagnostics,
            }
        })
        .collect();
    match args.output {
        OutputFormat::Human => print_human(&outcomes),
        OutputFormat::Json => print_json(&outcomes)?,
    }
    Ok(if outcomes.iter().all(|o| o.diagnostics.is_empty()) {
        exit_code::SUCCESS
    } else {
        exit_code::INVALID_INPUT
    })
}

fn print_human(outcomes: &[Outcome]) {
    let mut text = String::new();
    for outcome in outcomes {
        for rendered in &outcome.diagnostics {
            text.push_str(rendered);
            text.push('\n');
        }
    }
    for outcome in outcomes {
        let path = outcome.path.display();
        let _ = match outcome.diagnostics.len() {
            0 => writeln!(text, "✓ {path} is valid"),
            1 => writeln!(text, "✗ 1 problem in {path}"),
            n => writeln!(text, "✗ {n} problems in {path}"),
        };
    }
    stream::err(&text);
}

fn print_json(outcomes: &[Outcome]) -> Result<(), Error> {
    let files: Vec<Value> = outcomes
        .iter()
        .map(|outcome| {
            let diagnostics: Vec<Value> = outcome
                .diagnostics
                .iter()
                .map(|d| serde_json::from_str(d).unwrap_or_else(|_| Value::String(d.clone())))
                .collect();
            json!({
                "path": outcome.path.display().to_string(),
                "valid": diagnostics.is_empty(),
                "diagnostics": diagnostics,
            })
        })
        .collect();
    let text = serde_json::to_string_pretty(&json!({ "files": files }))
        .map_err(|e| Error::Internal(e.to_string()))?;
    stream::out(&(text + "\n")).map_err(Error::Output)
}
