//! `quiesce validate PLAYBOOK...`: reads and checks playbooks without contacting anything.
//!
//! Beyond the model's checks, two that read files: the `cluster.ca_cert` file must exist and
//! hold a PEM certificate, and a simulator seed given by mistake is named as such. Connection
//! settings whose variables are unset are notes, not problems: nothing is contacted here.
//!
//! Human output: every problem as a diagnostic on stderr, then one line per file
//! (`✓ x.yaml is valid`, `✗ 3 problems in x.yaml`). JSON output: one document on stdout,
//! `{"files": [{"path", "valid", "diagnostics": [miette JSON + line/column], "notes"}]}`.
//! GitHub output: one workflow command per problem and note on stdout
//! (`::error file=…,line=…,col=…,title=…::…`), which GitHub Actions shows as annotations on
//! the lines of a pull request. Exit 0 when every file is valid, 2 otherwise.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use miette::Diagnostic;
use serde_json::{Value, json};

use crate::error::Error;
use crate::exit_code;
use crate::model::{self, Playbook};
use crate::playbook::{InvalidPlaybook, Problem, RawPlaybook, Source, expand, parse};
use crate::report::{diagnostic, stream};

use super::load::unresolved_notes;

/// How `validate` reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ValidateOutput {
    /// Diagnostics for people on stderr.
    #[default]
    Human,
    /// One JSON document on stdout.
    Json,
    /// GitHub Actions workflow commands on stdout: annotations on the pull request's lines.
    Github,
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Playbook files to check.
    #[arg(required = true, value_name = "PLAYBOOK")]
    playbooks: Vec<PathBuf>,

    /// `human`: diagnostics on stderr; `json`: one JSON document on stdout; `github`: GitHub
    /// Actions annotations (`::error file=…,line=…::…`) on stdout.
    #[arg(long, value_enum, default_value_t = ValidateOutput::Human)]
    output: ValidateOutput,
}

/// What checking one file came to.
struct Outcome {
    path: PathBuf,
    /// The text, when it could be read (for lines and columns).
    source: Option<Source>,
    /// Each problem as miette's JSON form, with `line` and `column` added to its labels.
    diagnostics: Vec<Value>,
    /// Each problem rendered for people.
    rendered: Vec<String>,
    /// Things worth knowing that are not problems.
    notes: Vec<Note>,
}

/// A note about a valid playbook: a connection setting left to the commands that contact the
/// cluster.
struct Note {
    message: String,
    line: usize,
    column: usize,
}

pub(crate) fn run(args: Args) -> Result<i32, Error> {
    let outcomes: Vec<Outcome> = args.playbooks.iter().map(|path| check(path)).collect();
    match args.output {
        ValidateOutput::Human => print_human(&outcomes),
        ValidateOutput::Json => print_json(&outcomes)?,
        ValidateOutput::Github => print_github(&outcomes)?,
    }
    Ok(if outcomes.iter().all(|o| o.diagnostics.is_empty()) {
        exit_code::SUCCESS
    } else {
        exit_code::INVALID_INPUT
    })
}

fn check(path: &Path) -> Outcome {
    let mut outcome = Outcome {
        path: path.to_owned(),
        source: None,
        diagnostics: Vec::new(),
        rendered: Vec::new(),
        notes: Vec::new(),
    };
    let source = match Source::read(path) {
        Ok(source) => source,
        Err(err) => {
            outcome.add(&err);
            return outcome;
        }
    };
    outcome.source = Some(source.clone());
    let env = |name: &str| std::env::var(name).ok();
    // Read once: the model and the `ca_cert` check both use the raw tree (a large playbook
    // spends most of its time in the YAML reader).
    let parsed = parse(&source);
    let mut problems = parsed.problems;
    let mut playbook = None;
    if let Some(raw) = &parsed.raw {
        match model::validate(raw, &source, &env) {
            Ok(valid) if problems.is_empty() => playbook = Some(valid),
            Ok(_) => {}
            Err(more) => problems.extend(more),
        }
    }
    if playbook.is_none() && is_seed(&source) {
        outcome.add(&NotAPlaybook::Seed {
            path: path.display().to_string(),
        });
        return outcome;
    }
    problems.extend(
        parsed
            .raw
            .as_ref()
            .and_then(|raw| ca_cert_problem(raw, &source, &env)),
    );
    if !problems.is_empty() {
        let invalid = InvalidPlaybook::new(&source, problems);
        for problem in invalid.diagnostics() {
            outcome.add(&problem);
        }
    }
    if let Some(playbook) = &playbook {
        outcome.notes = notes(playbook);
    }
    outcome
}

impl Outcome {
    fn add(&mut self, diagnostic: &dyn Diagnostic) {
        self.rendered.push(diagnostic::render_human(diagnostic));
        let mut value: Value = serde_json::from_str(&diagnostic::render_json(diagnostic))
            .unwrap_or_else(|_| json!({ "message": diagnostic.to_string() }));
        if let (Some(source), Some(labels)) = (&self.source, value["labels"].as_array_mut()) {
            for label in labels {
                let offset = label["span"]["offset"].as_u64().unwrap_or(0);
                let len = label["span"]["length"].as_u64().unwrap_or(0);
                let at = source.location(
                    (
                        usize::try_from(offset).unwrap_or(usize::MAX),
                        usize::try_from(len).unwrap_or(0),
                    )
                        .into(),
                );
                let end = source.location((at.offset + at.len, 0).into());
                label["line"] = json!(at.line);
                label["column"] = json!(at.column);
                label["end_line"] = json!(end.line);
                label["end_column"] = json!(end.column);
            }
        }
        self.diagnostics.push(value);
    }
}

/// The notes of a valid playbook: each connection setting whose variable is unset.
fn notes(playbook: &Playbook) -> Vec<Note> {
    unresolved_notes(playbook)
        .into_iter()
        .map(|(location, message)| Note {
            message,
            line: location.line,
            column: location.column,
        })
        .collect()
}

/// Whether an invalid playbook is in fact a simulator seed.
fn is_seed(source: &Source) -> bool {
    let text = source.text();
    let modeline = text
        .lines()
        .next()
        .is_some_and(|line| line.contains("sim-seed.schema.json"));
    #[cfg(feature = "sim")]
    let parses = !text.lines().any(|line| line.starts_with("version:"))
        && quiesce_sim::Seed::from_yaml_str(text, source.name()).is_ok();
    #[cfg(not(feature = "sim"))]
    let parses = false;
    modeline || parses
}

/// A file given to `validate` that is something else.
#[derive(Debug, thiserror::Error, Diagnostic)]
enum NotAPlaybook {
    #[error("`{path}` is a simulator seed, not a playbook")]
    #[diagnostic(
        code(quiesce::validate::seed),
        help(
            "Check a seed with `quiesce sim --seed {path}`: a seed with problems is reported in full and the simulator does not start. Keep seeds apart from playbooks (this repository keeps them in `seeds/`)."
        )
    )]
    Seed { path: String },
}

/// The `cluster.ca_cert` file must exist and hold a PEM certificate; checked on the raw tree so
/// that it is reported with the model's problems.
fn ca_cert_problem(
    raw: &RawPlaybook,
    source: &Source,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<Problem> {
    let written = raw.cluster.as_ref()?.value().ca_cert.as_ref()?;
    let path = expand(written.value(), env).ok()?;
    let full = source.path().parent().unwrap_or(Path::new("")).join(&path);
    let reason = crate::es::check_ca_cert(&full).err()?;
    Some(Problem::CaCert {
        path,
        reason,
        at: written.span(),
    })
}

fn print_human(outcomes: &[Outcome]) {
    let mut text = String::new();
    for outcome in outcomes {
        for rendered in &outcome.rendered {
            text.push_str(rendered);
            text.push('\n');
        }
        for note in &outcome.notes {
            let _ = writeln!(
                text,
                "note: {}:{}:{}: {}",
                outcome.path.display(),
                note.line,
                note.column,
                note.message
            );
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
            let notes: Vec<Value> = outcome
                .notes
                .iter()
                .map(|n| json!({ "message": n.message, "line": n.line, "column": n.column }))
                .collect();
            json!({
                "path": outcome.path.display().to_string(),
                "valid": outcome.diagnostics.is_empty(),
                "diagnostics": outcome.diagnostics,
                "notes": notes,
            })
        })
        .collect();
    let text = serde_json::to_string_pretty(&json!({ "files": files }))
        .map_err(|e| Error::Internal(e.to_string()))?;
    stream::out(&(text + "\n")).map_err(Error::Output)
}

/// GitHub Actions workflow commands: one annotation per problem (at its primary label) and per
/// note, then a summary line that is not a command.
fn print_github(outcomes: &[Outcome]) -> Result<(), Error> {
    let mut text = String::new();
    for outcome in outcomes {
        let file = outcome.path.display().to_string();
        for diagnostic in &outcome.diagnostics {
            let level = match diagnostic["severity"].as_str() {
                Some("warning") => "warning",
                Some("advice") => "notice",
                _ => "error",
            };
            let labels = diagnostic["labels"].as_array();
            let label = labels.and_then(|labels| {
                labels
                    .iter()
                    .find(|l| l["primary"] == true)
                    .or_else(|| labels.first())
            });
            let mut properties = vec![("file", file.clone())];
            if let Some(label) = label {
                for (name, key) in [
                    ("line", "line"),
                    ("col", "column"),
                    ("endLine", "end_line"),
                    ("endColumn", "end_column"),
                ] {
                    if let Some(n) = label[key].as_u64() {
                        properties.push((name, n.to_string()));
                    }
                }
            }
            let code = diagnostic["code"].as_str().unwrap_or("quiesce");
            properties.push(("title", code.to_owned()));
            let mut message = diagnostic["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if let Some(help) = diagnostic["help"].as_str() {
                let _ = write!(message, "\n{help}");
            }
            text.push_str(&workflow_command(level, &properties, &message));
        }
        for note in &outcome.notes {
            let properties = vec![
                ("file", file.clone()),
                ("line", note.line.to_string()),
                ("col", note.column.to_string()),
                ("title", "quiesce::validate::unresolved".to_owned()),
            ];
            text.push_str(&workflow_command("notice", &properties, &note.message));
        }
    }
    let invalid = outcomes
        .iter()
        .filter(|o| !o.diagnostics.is_empty())
        .count();
    let _ = writeln!(
        text,
        "quiesce validate: {} file(s), {} valid, {invalid} invalid",
        outcomes.len(),
        outcomes.len() - invalid
    );
    stream::out(&text).map_err(Error::Output)
}

/// `::level key=value,…::message`, escaped as GitHub's toolkit escapes them.
fn workflow_command(level: &str, properties: &[(&str, String)], message: &str) -> String {
    let escape_data = |text: &str| {
        text.replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
    };
    let escape_property = |text: &str| escape_data(text).replace(':', "%3A").replace(',', "%2C");
    let properties: Vec<String> = properties
        .iter()
        .map(|(key, value)| format!("{key}={}", escape_property(value)))
        .collect();
    format!(
        "::{level} {}::{}\n",
        properties.join(","),
        escape_data(message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_commands_escape_what_github_reads_as_syntax() {
        let line = workflow_command(
            "error",
            &[("file", "a,b:c.yaml".to_owned()), ("line", "3".to_owned())],
            "100% wrong\nhelp: fix",
        );
        assert_eq!(
            line,
            "::error file=a%2Cb%3Ac.yaml,line=3::100%25 wrong%0Ahelp: fix\n"
        );
    }
}
