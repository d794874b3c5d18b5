//! Everything that can be wrong with a playbook file, as miette diagnostics.
//!
//! Both stages report here: [`super::parse`] for what the YAML reader finds (syntax, unknown
//! keys, wrong types) and [`crate::model`] for what the values mean (ids, references, cycles,
//! durations, secrets). Each variant has a code `quiesce::playbook::<kind>`, labels on the
//! exact YAML text and a help sentence. [`InvalidPlaybook`] holds all of one file's problems,
//! sorted by position, with the text they point into.

use std::sync::Arc;

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceSpan};
use thiserror::Error;

use super::Source;

/// One problem in a playbook file.
#[derive(Debug, Clone, Error, Diagnostic)]
pub(crate) enum Problem {
    #[error("{message}")]
    #[diagnostic(code(quiesce::playbook::yaml_syntax))]
    YamlSyntax {
        message: String,
        #[label("here")]
        at: SourceSpan,
        #[help]
        help: String,
    },

    #[error("unknown key `{key}`")]
    #[diagnostic(code(quiesce::playbook::unknown_key))]
    UnknownKey {
        key: String,
        #[label("not a key here")]
        at: SourceSpan,
        #[help]
        help: String,
    },

    #[error("wrong type: expected {expected}, found {found}")]
    #[diagnostic(code(quiesce::playbook::wrong_type))]
    WrongType {
        expected: String,
        found: String,
        #[label("expected {expected}")]
        at: SourceSpan,
        #[help]
        help: String,
    },

    #[error("missing key `{key}`")]
    #[diagnostic(
        code(quiesce::playbook::missing_key),
        help("Add `{key}:` to this mapping; see the playbook format in the README.")
    )]
    MissingKey {
        key: String,
        #[label("this mapping has no `{key}`")]
        at: SourceSpan,
    },

    #[error("unknown YAML tag `{tag}`")]
    #[diagnostic(
        code(quiesce::playbook::unknown_tag),
        help(
            "A playbook uses no YAML tags: remove `{tag}`. quiesce refuses tags it does not know rather than read the value as if the tag were not there."
        )
    )]
    UnknownTag {
        tag: String,
        #[label("a tag quiesce does not know")]
        at: SourceSpan,
    },

    #[error("duplicate key `{key}`")]
    #[diagnostic(
        code(quiesce::playbook::duplicate_key),
        help("A key may appear once in a mapping; keep one of them.")
    )]
    DuplicateKey {
        key: String,
        #[label("repeated here")]
        at: SourceSpan,
    },

    #[error("missing `version`")]
    #[diagnostic(
        code(quiesce::playbook::version),
        help("Start the playbook with `version: 1`, the only format version there is.")
    )]
    MissingVersion {
        #[label("the playbook starts here")]
        at: SourceSpan,
    },

    #[error("unsupported playbook version `{version}`")]
    #[diagnostic(
        code(quiesce::playbook::version),
        help("This quiesce reads format version 1; write `version: 1`.")
    )]
    UnsupportedVersion {
        version: u64,
        #[label("only 1 is supported")]
        at: SourceSpan,
    },

    #[error("invalid {what} `{id}`: {reason}")]
    #[diagnostic(
        code(quiesce::playbook::invalid_id),
        help(
            "Elasticsearch ids use lowercase letters, digits, `-` and `_`, start and end with a letter or digit, and have at most 64 characters."
        )
    )]
    InvalidId {
        what: &'static str,
        id: String,
        reason: String,
        #[label("{reason}")]
        at: SourceSpan,
    },

    #[error("{what} `{id}` is declared twice")]
    #[diagnostic(
        code(quiesce::playbook::duplicate_id),
        help("Declare each {what} once; merge the two entries.")
    )]
    DuplicateId {
        what: &'static str,
        id: String,
        #[label("first declared here")]
        first: SourceSpan,
        #[label(primary, "declared again here")]
        second: SourceSpan,
    },

    #[error("entry has both `id` and `match`")]
    #[diagnostic(
        code(quiesce::playbook::id_and_match),
        help(
            "Use `id` for one resource or `match` for a selector, not both; split it into two entries if you need both."
        )
    )]
    IdAndMatch {
        #[label("`id` here")]
        id: SourceSpan,
        #[label(primary, "`match` here")]
        selector: SourceSpan,
    },

    #[error("entry has neither `id` nor `match`")]
    #[diagnostic(
        code(quiesce::playbook::no_id_or_match),
        help("Name the resource with `id: <id>` or select several with `match: <pattern>`.")
    )]
    NoIdOrMatch {
        #[label("this entry names nothing")]
        at: SourceSpan,
    },

    #[error("invalid selector {selector:?}: {reason}")]
    #[diagnostic(
        code(quiesce::playbook::invalid_selector),
        help(
            "A selector is one token: an id with `*` wildcards (`prod-*`, `*`) or a job group name; write one entry per token."
        )
    )]
    InvalidSelector {
        selector: String,
        reason: String,
        #[label("{reason}")]
        at: SourceSpan,
    },

    #[error("unknown {key} `{value}`")]
    #[diagnostic(code(quiesce::playbook::unknown_value))]
    UnknownValue {
        key: &'static str,
        value: String,
        #[label("not a valid `{key}`")]
        at: SourceSpan,
        #[help]
        help: String,
    },

    #[error("datafeed `{datafeed}` is to be started but its job `{job}` is to be closed")]
    #[diagnostic(
        code(quiesce::playbook::contradictory_state),
        help("A started datafeed needs an opened job: open the job or stop the datafeed.")
    )]
    ContradictoryState {
        datafeed: String,
        job: String,
        #[label(primary, "started here")]
        datafeed_at: SourceSpan,
        #[label("closed here")]
        job_at: SourceSpan,
    },

    #[error("two datafeeds declare job `{job}`")]
    #[diagnostic(
        code(quiesce::playbook::shared_job),
        help("A job has at most one datafeed in Elasticsearch; fix the `job` of one of them.")
    )]
    SharedJob {
        job: String,
        #[label("first here")]
        first: SourceSpan,
        #[label(primary, "again here")]
        second: SourceSpan,
    },

    #[error("datafeed `match` cannot have a `job`")]
    #[diagnostic(
        code(quiesce::playbook::job_with_match),
        help(
            "`job` names the job of one datafeed; use it with `id`, or leave it out and let quiesce read it from the cluster."
        )
    )]
    JobWithMatch {
        #[label("`job` here")]
        at: SourceSpan,
    },

    #[error("`after` names `{name}`, which is not in this playbook")]
    #[diagnostic(code(quiesce::playbook::unknown_after))]
    UnknownAfter {
        name: String,
        #[label("no entry has this `id` or `match`")]
        at: SourceSpan,
        #[help]
        help: String,
    },

    #[error("`after` orders a {this} entry after a {other} entry")]
    #[diagnostic(
        code(quiesce::playbook::after_direction),
        help(
            "`after` orders entries going the same direction (both stopping or both starting); quiesce already orders stops before starts of the same resources."
        )
    )]
    AfterAcrossDirections {
        this: &'static str,
        other: &'static str,
        #[label(primary, "this entry is {this}")]
        entry: SourceSpan,
        #[label("this one is {other}")]
        at: SourceSpan,
    },

    #[error("dependency cycle: {path}")]
    #[diagnostic(
        code(quiesce::playbook::cycle),
        help("Remove one of the labelled `after` entries to break the cycle.")
    )]
    Cycle {
        path: String,
        #[label(collection)]
        edges: Vec<LabeledSpan>,
    },

    #[error("invalid duration `{value}` for `{key}`: {reason}")]
    #[diagnostic(
        code(quiesce::playbook::invalid_duration),
        help(
            "Write a positive duration as an integer and a unit: `500ms`, `30s`, `10m`, `1h30m`."
        )
    )]
    InvalidDuration {
        key: &'static str,
        value: String,
        reason: String,
        #[label("{reason}")]
        at: SourceSpan,
    },

    #[error("invalid version `{value}` for `{key}`: {reason}")]
    #[diagnostic(
        code(quiesce::playbook::invalid_version),
        help("Write the Elasticsearch version to upgrade to as three numbers: `9.0.0`.")
    )]
    InvalidVersion {
        key: &'static str,
        value: String,
        reason: String,
        #[label("{reason}")]
        at: SourceSpan,
    },

    #[error("invalid time `{value}` for `{key}`: {reason}")]
    #[diagnostic(
        code(quiesce::playbook::invalid_time),
        help("Write an RFC 3339 time with its offset: `2026-12-01T20:00:00Z`.")
    )]
    InvalidTime {
        key: &'static str,
        value: String,
        reason: String,
        #[label("{reason}")]
        at: SourceSpan,
    },

    #[error("invalid `maintenance`: {reason}")]
    #[diagnostic(code(quiesce::playbook::invalid_maintenance))]
    InvalidMaintenance {
        reason: String,
        #[label("{reason}")]
        at: SourceSpan,
        #[help]
        help: String,
    },

    #[error("`{key}` is out of range: {value} (it must be {range})")]
    #[diagnostic(code(quiesce::playbook::out_of_range))]
    OutOfRange {
        key: &'static str,
        value: String,
        /// `1 to 1024`, `at most 24h`.
        range: String,
        #[label("must be {range}")]
        at: SourceSpan,
        #[help]
        help: String,
    },

    #[error("`retry.max_backoff` is shorter than `retry.initial_backoff`")]
    #[diagnostic(
        code(quiesce::playbook::invalid_retry),
        help(
            "Backoff grows from `initial_backoff` up to `max_backoff`; make `max_backoff` at least as long."
        )
    )]
    BackoffOrder {
        #[label("initial backoff")]
        initial: Option<SourceSpan>,
        #[label(primary, "shorter than the initial backoff")]
        max: Option<SourceSpan>,
    },

    #[error("literal secret in `{key}`")]
    #[diagnostic(
        code(quiesce::playbook::literal_secret),
        help(
            "Do not commit secrets: write `{key}: ${{VAR}}` and set VAR in the environment of the run."
        )
    )]
    LiteralSecret {
        key: &'static str,
        #[label("not a `${{VAR}}` reference (value hidden)")]
        at: SourceSpan,
    },

    #[error("invalid cluster URL `{url}`: {reason}")]
    #[diagnostic(
        code(quiesce::playbook::invalid_url),
        help("Write the cluster's base URL with its scheme, such as `https://es.example:9200`.")
    )]
    InvalidUrl {
        url: String,
        reason: String,
        #[label("{reason}")]
        at: SourceSpan,
    },

    #[error("conflicting credentials: {reason}")]
    #[diagnostic(
        code(quiesce::playbook::credentials),
        help("Give either `api_key`, or `username` with `password`, or none of them.")
    )]
    Credentials {
        reason: &'static str,
        #[label("{reason}")]
        at: SourceSpan,
    },

    #[error("environment variable `{name}` is not set")]
    #[diagnostic(
        code(quiesce::playbook::unset_variable),
        help("Set `{name}` in the environment, or give a default: `${{{name}:-value}}`.")
    )]
    UnsetVariable {
        name: String,
        #[label("`{name}` is not set")]
        at: SourceSpan,
    },

    #[error(
        "environment variable `{name}` is not set, and `{key}` needs it to contact the cluster"
    )]
    #[diagnostic(code(quiesce::playbook::unset_variable))]
    UnsetForCluster {
        name: String,
        key: &'static str,
        #[label("`{name}` is not set")]
        at: SourceSpan,
        #[help]
        help: String,
    },

    #[error("cannot use `{path}` as `ca_cert`: {reason}")]
    #[diagnostic(
        code(quiesce::playbook::ca_cert),
        help(
            "`ca_cert` names the PEM file of the CA that signed the cluster's HTTP certificate (for a self-managed cluster, `config/certs/http_ca.crt`), relative to the playbook."
        )
    )]
    CaCert {
        path: String,
        reason: String,
        #[label("{reason}")]
        at: SourceSpan,
    },

    #[error("malformed variable reference `{text}`")]
    #[diagnostic(
        code(quiesce::playbook::malformed_variable),
        help(
            "Write `${{NAME}}` or `${{NAME:-default}}` with NAME made of letters, digits and `_`; write `$${{` for a literal `${{`."
        )
    )]
    MalformedVariable {
        text: String,
        #[label("not a variable reference")]
        at: SourceSpan,
    },
}

impl Problem {
    /// Where the problem is first labelled, for sorting.
    fn position(&self) -> usize {
        self.labels()
            .and_then(|labels| labels.map(|l| l.offset()).min())
            .unwrap_or(0)
    }
}

/// A playbook file with at least one problem: every problem, in file order, and the text they
/// point into (with literal secrets masked, so the snippet never shows them).
#[derive(Debug, Error)]
#[error("{title}")]
pub struct InvalidPlaybook {
    /// What the problems stop: ``"`p.yaml` is not a valid playbook: 2 problems"``.
    title: String,
    source_code: NamedSource<Arc<str>>,
    problems: Vec<Problem>,
}

fn count(n: usize) -> String {
    if n == 1 {
        "1 problem".to_owned()
    } else {
        format!("{n} problems")
    }
}

impl InvalidPlaybook {
    /// Sorts `problems` by position. Text under `LiteralSecret` labels is masked with `*`.
    pub(crate) fn new(source: &Source, mut problems: Vec<Problem>) -> Self {
        problems.sort_by_key(Problem::position);
        let mut text = source.text().to_owned();
        for problem in &problems {
            if let Problem::LiteralSecret { at, .. } = problem {
                mask(&mut text, *at);
            }
        }
        Self {
            title: format!(
                "`{}` is not a valid playbook: {}",
                source.name(),
                count(problems.len())
            ),
            source_code: NamedSource::new(source.name(), Arc::from(text)).with_language("yaml"),
            problems,
        }
    }

    /// Problems of a valid playbook that keep a command from contacting the cluster (connection
    /// settings whose variables are unset).
    pub(crate) fn cannot_connect(source: &Source, problems: Vec<Problem>) -> Self {
        let mut invalid = Self::new(source, problems);
        invalid.title = format!(
            "`{}` cannot be used to contact the cluster: {}",
            source.name(),
            count(invalid.problems.len())
        );
        invalid
    }

    #[cfg(test)]
    pub(crate) fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// Each problem as a stand-alone diagnostic that carries the source text, for rendering
    /// one by one.
    pub(crate) fn diagnostics(&self) -> impl Iterator<Item = ProblemInSource<'_>> {
        self.problems.iter().map(|problem| ProblemInSource {
            problem,
            source_code: &self.source_code,
        })
    }
}

/// Replaces the characters under `span` with as many `*` as they have bytes, so every other
/// offset in the text stays valid.
fn mask(text: &mut String, span: SourceSpan) {
    let start = span.offset().min(text.len());
    let end = (span.offset() + span.len()).min(text.len());
    if text.is_char_boundary(start) && text.is_char_boundary(end) {
        text.replace_range(start..end, &"*".repeat(end - start));
    }
}

impl Diagnostic for InvalidPlaybook {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new("quiesce::playbook::invalid"))
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source_code)
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        Some(Box::new(self.problems.iter().map(|p| p as &dyn Diagnostic)))
    }
}

/// One [`Problem`] with the text of its file attached.
#[derive(Debug)]
pub(crate) struct ProblemInSource<'a> {
    problem: &'a Problem,
    source_code: &'a NamedSource<Arc<str>>,
}

impl std::fmt::Display for ProblemInSource<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.problem.fmt(f)
    }
}

impl std::error::Error for ProblemInSource<'_> {}

impl Diagnostic for ProblemInSource<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.problem.code()
    }

    fn severity(&self) -> Option<miette::Severity> {
        self.problem.severity()
    }

    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.problem.help()
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(self.source_code)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.problem.labels()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::diagnostic::render_human;

    #[test]
    fn the_whole_file_renders_with_every_problem_and_no_secret() {
        let source = Source::new("p.yaml", "version: 1\ncluster:\n  api_key: hunter2\n");
        let invalid = InvalidPlaybook::new(
            &source,
            vec![
                Problem::LiteralSecret {
                    key: "api_key",
                    at: (31, 7).into(),
                },
                Problem::UnsupportedVersion {
                    version: 1,
                    at: (9, 1).into(),
                },
            ],
        );
        let rendered = render_human(&invalid);
        assert!(rendered.contains("`p.yaml` is not a valid playbook: 2 problems"));
        assert!(rendered.contains("literal secret in `api_key`"));
        assert!(rendered.contains("api_key: *******"), "{rendered}");
        assert!(!rendered.contains("hunter2"), "{rendered}");
        let codes: Vec<_> = invalid
            .diagnostics()
            .map(|d| d.code().map(|c| c.to_string()))
            .collect();
        assert_eq!(
            codes,
            [
                Some("quiesce::playbook::version".to_owned()),
                Some("quiesce::playbook::literal_secret".to_owned())
            ],
            "sorted by position"
        );
    }
}
