//! YAML text -> [`RawPlaybook`], with the reader's errors turned into [`Problem`]s.
//!
//! The reader is serde-saphyr with YAML 1.2 booleans only (`on`, `no`, `y` stay strings, as in
//! editors), duplicate keys as errors, tags it does not know (`!evil`) as errors rather than
//! silently dropped, and its budget against alias bombs, with room for [`MAX_ENTRIES`] entries
//! (the reader's default stops near 50,000).
//!
//! A serde reader stops at its first error. So that one run still reports every misspelt or
//! repeated key, [`parse`] recovers from those two: it blanks the offending block-style entry
//! (key, value and the lines nested under it) with spaces, which keeps every byte offset, and
//! reads again. Any other reader error ends the reading; it is reported with what was
//! collected before it.

use miette::SourceSpan;
use serde_saphyr::budget::BudgetBreach;
use serde_saphyr::{Budget, DuplicateKeyPolicy, Error, Options};

use super::{Problem, RawPlaybook, Source};

/// The most entries (jobs and datafeeds together) a playbook may have: what `capture` writes for
/// a cluster of 100,000 jobs, each with a datafeed, the largest quiesce supports.
pub(crate) const MAX_ENTRIES: usize = 200_000;
/// YAML nodes (mappings, lists, scalars) per entry the budget allows: an entry of the fullest
/// kind (`id`, `job`, `state` and an `after` list of a few names) has about 12.
const NODES_PER_ENTRY: usize = 20;

/// Re-reads after recoverable errors at most this many times.
const MAX_RECOVERIES: usize = 64;

/// What reading a playbook gave: the raw tree, when one could be read (possibly without some
/// entries that were reported), and every problem the reader found.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub raw: Option<RawPlaybook>,
    pub problems: Vec<Problem>,
}

/// Reads the playbook text into the raw tree.
pub(crate) fn parse(source: &Source) -> Parsed {
    let mut text = source.text().to_owned();
    let mut problems = Vec::new();
    for _ in 0..MAX_RECOVERIES {
        let err = match read(&text) {
            Ok(raw) => {
                return Parsed {
                    raw: Some(raw),
                    problems,
                };
            }
            Err(err) => err,
        };
        let problem = problem(&text, &err);
        let recoverable = match &problem {
            Problem::UnknownKey { at, .. } | Problem::DuplicateKey { at, .. } => {
                blank_entry(&mut text, at.offset())
            }
            _ => false,
        };
        problems.push(problem);
        if !recoverable {
            break;
        }
    }
    Parsed {
        raw: None,
        problems,
    }
}

fn read(text: &str) -> Result<RawPlaybook, Error> {
    let mut options = Options::default();
    options.strict_booleans = true;
    options.duplicate_keys = DuplicateKeyPolicy::Error;
    options.reject_unsupported_tags = true;
    options.reject_tagged_field_names = true;
    let mut budget = Budget::default();
    budget.max_nodes = MAX_ENTRIES * NODES_PER_ENTRY;
    // An event opens or closes a node, or is a scalar.
    budget.max_events = 2 * budget.max_nodes;
    options.budget = Some(budget);
    serde_saphyr::from_str_with_options(text, options)
}

/// Replaces the block-style mapping entry whose key starts at `offset` (its line from the key
/// on, and the lines indented deeper below it) with spaces. Refuses (returns `false`) when the
/// key is not the first thing on its line, as inside a flow mapping `{...}`.
fn blank_entry(text: &mut String, offset: usize) -> bool {
    let Some(before) = text.get(..offset) else {
        return false;
    };
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    if !text[line_start..offset]
        .chars()
        .all(|c| c == ' ' || c == '-')
    {
        return false;
    }
    let key_column = offset - line_start;
    let mut end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    while end < text.len() {
        let next = end + 1;
        let next_end = text[next..].find('\n').map_or(text.len(), |i| next + i);
        let line = &text[next..next_end];
        let indent = line.len() - line.trim_start_matches(' ').len();
        if !line.trim().is_empty() && indent <= key_column {
            break;
        }
        end = next_end;
    }
    let blanked: String = text[offset..end]
        .chars()
        .map(|c| {
            if c == '\n' {
                "\n".to_owned()
            } else {
                " ".repeat(c.len_utf8())
            }
        })
        .collect();
    text.replace_range(offset..end, &blanked);
    true
}

fn problem(text: &str, err: &Error) -> Problem {
    let err = innermost(err);
    let at = span_of(text, err);
    match err {
        Error::SerdeUnknownField {
            field, expected, ..
        } => Problem::UnknownKey {
            key: field.clone(),
            at,
            help: did_you_mean(field, expected, "keys"),
        },
        Error::SerdeUnknownVariant {
            variant, expected, ..
        } => Problem::UnknownValue {
            key: "value",
            value: variant.clone(),
            at,
            help: did_you_mean(variant, expected, "values"),
        },
        Error::SerdeInvalidType {
            unexpected,
            expected,
            ..
        }
        | Error::SerdeInvalidValue {
            unexpected,
            expected,
            ..
        } => wrong_type(expected, unexpected, at),
        Error::InvalidScalar { ty, .. } => {
            let found = text.get(at.offset()..at.offset() + at.len()).unwrap_or("");
            wrong_type(ty, &format!("`{found}`"), at)
        }
        Error::InvalidBooleanStrict { .. } => Problem::WrongType {
            expected: "`true` or `false`".to_owned(),
            found: "another word".to_owned(),
            at,
            help: "Write `true` or `false`: YAML 1.2 reads `yes`, `no`, `on` and `off` as strings."
                .to_owned(),
        },
        Error::Unexpected { expected, .. } => {
            let found = text.get(at.offset()..).unwrap_or("");
            wrong_type(&node_words(expected), &found_words(found), at)
        }
        Error::NullIntoString { .. } => wrong_type("a string", "nothing (null)", at),
        Error::SerdeMissingField { field, .. } => Problem::MissingKey {
            key: (*field).to_owned(),
            at,
        },
        Error::UnsupportedTag { tag, .. } | Error::TaggedStructFieldName { tag, .. } => {
            Problem::UnknownTag {
                tag: tag.clone(),
                at,
            }
        }
        Error::DuplicateMappingKey { key, .. } => Problem::DuplicateKey {
            key: key.clone().unwrap_or_default(),
            at,
        },
        Error::Budget {
            breach: BudgetBreach::Nodes { .. } | BudgetBreach::Events { .. },
            ..
        } => Problem::YamlSyntax {
            message: format!(
                "the playbook is larger than quiesce reads: more than {} YAML values, about {} entries",
                MAX_ENTRIES * NODES_PER_ENTRY,
                MAX_ENTRIES
            ),
            at,
            help: "Split the entries over several playbooks, or select many jobs with one \
                   `match:` entry (a wildcard or a job group) instead of one entry each."
                .to_owned(),
        },
        other => Problem::YamlSyntax {
            message: syntax_message(other),
            at,
            help: "Fix the YAML here; a playbook is one mapping with the keys shown in the README."
                .to_owned(),
        },
    }
}

/// Aliases and snippets wrap the error that matters.
fn innermost(mut err: &Error) -> &Error {
    loop {
        err = err.without_snippet();
        match err {
            Error::AliasError { error, .. } => err = error,
            _ => return err,
        }
    }
}

fn wrong_type(expected: &str, found: &str, at: SourceSpan) -> Problem {
    Problem::WrongType {
        expected: type_words(expected),
        found: found.to_owned(),
        at,
        help: "Check this value against the playbook format in the README (or the schema)."
            .to_owned(),
    }
}

/// Rust type names in serde's messages, in the words of the playbook format.
fn type_words(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number".to_owned(),
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "an integer".to_owned(),
        "bool" | "a boolean" => "`true` or `false`".to_owned(),
        "f32" | "f64" => "a number".to_owned(),
        other if other.starts_with("struct ") => "a mapping".to_owned(),
        other => other.to_owned(),
    }
}

/// The reader's names for YAML nodes, in the words of the playbook format.
fn node_words(expected: &str) -> String {
    match expected {
        "sequence start" => "a list".to_owned(),
        "mapping start" => "a mapping".to_owned(),
        "string scalar" | "scalar" => "a single value".to_owned(),
        other => other.to_owned(),
    }
}

/// What the text at an unexpected node is.
fn found_words(rest: &str) -> String {
    match rest.chars().next() {
        Some('[' | '-') => "a list".to_owned(),
        Some('{') => "a mapping".to_owned(),
        _ if rest.is_empty() => "the end of the file".to_owned(),
        _ => {
            let line = rest.lines().next().unwrap_or("").trim_end();
            if line.ends_with(':') || line.contains(": ") {
                return "a mapping".to_owned();
            }
            match line.char_indices().nth(40) {
                Some((cut, _)) => format!("`{}…`", &line[..cut]),
                None => format!("`{line}`"),
            }
        }
    }
}

/// The reader's own message, lowercase, without its position (miette shows that).
fn syntax_message(err: &Error) -> String {
    let message = err.to_string();
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .trim()
        .trim_end_matches('.');
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => "invalid YAML".to_owned(),
    }
}

/// "did you mean `x`?" when a candidate is close enough, then the list of candidates;
/// `what` is plural (`keys`, `values`).
pub(crate) fn did_you_mean(found: &str, candidates: &[&str], what: &str) -> String {
    let best = candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(found, c), *c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let list = candidates
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match best {
        Some((_, c)) => format!("Did you mean `{c}`? Valid {what} here: {list}."),
        None if candidates.is_empty() => format!("No {what} are allowed here."),
        None => format!("Valid {what} here: {list}."),
    }
}

/// The byte span of the token the error points at: from its location to the end of the
/// word (or one character when there is none).
fn span_of(text: &str, err: &Error) -> SourceSpan {
    let Some(location) = err.location() else {
        return (text.len(), 0).into();
    };
    let span = location.span();
    let offset = match span.byte_offset() {
        Some(offset) => usize::try_from(offset).unwrap_or(text.len()),
        None => offset_of(text, location.line(), location.column()),
    }
    .min(text.len());
    let len = span
        .byte_len()
        .and_then(|len| usize::try_from(len).ok())
        .filter(|len| *len > 0)
        .unwrap_or_else(|| token_len(&text[offset..]));
    (offset, len).into()
}

fn offset_of(text: &str, line: u64, column: u64) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(usize::try_from(line.saturating_sub(1)).unwrap_or(usize::MAX))
        .map(str::len)
        .sum();
    let column = usize::try_from(column.saturating_sub(1)).unwrap_or(0);
    let line_text = &text[line_start..];
    line_start
        + line_text
            .char_indices()
            .nth(column)
            .map_or(line_text.len(), |(i, _)| i)
}

fn token_len(rest: &str) -> usize {
    let end = rest
        .find(|c: char| c.is_whitespace() || c == ':' || c == ',' || c == ']' || c == '}')
        .unwrap_or(rest.len());
    if end > 0 {
        end
    } else {
        rest.chars().next().map_or(0, char::len_utf8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<RawPlaybook, Problem> {
        let parsed = parse(&Source::new("p.yaml", text));
        match (parsed.raw, parsed.problems.into_iter().next()) {
            (Some(raw), None) => Ok(raw),
            (_, Some(problem)) => Err(problem),
            (None, None) => panic!("no tree and no problem"),
        }
    }

    fn problems(text: &str) -> (bool, Vec<String>) {
        let parsed = parse(&Source::new("p.yaml", text));
        let described = parsed
            .problems
            .iter()
            .map(|p| {
                format!(
                    "{p} @{}",
                    miette::Diagnostic::labels(p)
                        .and_then(|mut l| l.next())
                        .map_or(0, |l| l.offset())
                )
            })
            .collect();
        (parsed.raw.is_some(), described)
    }

    #[test]
    fn every_unknown_and_duplicate_key_is_reported_and_the_rest_is_read() {
        let text = "version: 1\nnmae: x\nsettings:\n  concurency: 3\n  retry:\n    attempts: 2\njobs:\n  - id: a\n    state: closed\n    state: opened\n  - id: b\n    state: closed\n    afterr:\n      - a\n";
        let (read, described) = problems(text);
        assert!(read, "{described:?}");
        assert_eq!(
            described,
            [
                "unknown key `nmae` @11",
                "unknown key `concurency` @31",
                "duplicate key `state` @108",
                "unknown key `afterr` @154",
            ]
        );
    }

    /// The reader reports the misspelt key and reads on; the model says `state` is missing.
    #[test]
    fn a_misspelt_required_key_does_not_stop_the_reading() {
        let (read, described) = problems("version: 1\njobs:\n  - id: a\n    stat: closed\n");
        assert!(read);
        assert_eq!(described, ["unknown key `stat` @31"]);
    }

    #[test]
    fn keys_inside_flow_mappings_are_not_blanked() {
        let (read, described) = problems("version: 1\njobs: [{id: a, stat: closed}]\nnmae: x\n");
        assert!(!read);
        assert_eq!(described.len(), 1, "{described:?}");
    }

    #[test]
    fn ids_that_look_like_other_types_stay_strings() {
        let raw = parse_text(
            "version: 1\njobs:\n  - {id: no, state: closed}\n  - {id: on, state: closed}\n  - {id: 1e3, state: closed}\n  - {id: 0755, state: closed}\n  - {id: y, state: closed}\n",
        )
        .expect("parses");
        let ids: Vec<_> = raw
            .jobs
            .iter()
            .map(|j| j.id.as_ref().expect("id").value().clone())
            .collect();
        assert_eq!(ids, ["no", "on", "1e3", "0755", "y"]);
    }

    #[test]
    fn values_keep_their_byte_span() {
        let text = "version: 1\njobs:\n  - id: \"é-job\"\n    state: closed\n";
        let raw = parse_text(text).expect("parses");
        let id = raw.jobs[0].id.as_ref().expect("id");
        let span = id.span();
        assert!(text[span.offset()..span.offset() + span.len()].contains("é-job"));
    }

    #[test]
    fn unknown_keys_suggest_the_closest() {
        let err = parse_text("version: 1\njobs:\n  - id: a\n    stat: closed\n").expect_err("bad");
        let Problem::UnknownKey { key, at, help } = err else {
            panic!("unexpected {err:?}")
        };
        assert_eq!(key, "stat");
        assert_eq!((at.offset(), at.len()), (31, 4));
        assert!(help.starts_with("Did you mean `state`?"), "{help}");
    }

    #[test]
    fn strict_booleans_reject_yes() {
        let err = parse_text("version: 1\nsettings:\n  require_match: yes\n").expect_err("bad");
        assert!(matches!(err, Problem::WrongType { .. }), "{err:?}");
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let err = parse_text("version: 1\nname: a\nname: b\n").expect_err("bad");
        assert!(matches!(err, Problem::DuplicateKey { .. }), "{err:?}");
    }

    #[test]
    fn syntax_errors_have_a_place() {
        let err = parse_text("version: 1\njobs: [\n").expect_err("bad");
        assert!(matches!(err, Problem::YamlSyntax { .. }), "{err:?}");
    }
}
