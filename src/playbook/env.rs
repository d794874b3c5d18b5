//! `${VAR}` and `${VAR:-default}` expansion in string values.
//!
//! Rules: `${NAME}` is replaced by the variable's value and is an error when the variable is
//! unset; `${NAME:-default}` uses `default` when the variable is unset or empty (as in POSIX
//! shells); `$${` is a literal `${`; any other `$` is literal. `NAME` is an ASCII letter or `_`
//! followed by letters, digits or `_`. The default is literal text up to the first `}`: no
//! nesting. The lookup is passed in, so nothing here reads the process environment.

use std::ops::Range;

/// Why a string could not be expanded; `at` is the byte range inside the string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ExpandError {
    /// `${NAME}` with `NAME` unset and no default.
    Unset { name: String, at: Range<usize> },
    /// `${` without a closing `}` or with a name that is not a variable name.
    Malformed { text: String, at: Range<usize> },
}

/// Expands every `${...}` in `text`, collecting every error rather than stopping at the first.
pub(crate) fn expand(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, Vec<ExpandError>> {
    let mut out = String::with_capacity(text.len());
    let mut errors = Vec::new();
    let mut rest = 0;
    while let Some(found) = text[rest..].find('$') {
        let dollar = rest + found;
        out.push_str(&text[rest..dollar]);
        let after = &text[dollar + 1..];
        if after.starts_with("${") {
            out.push_str("${");
            rest = dollar + 3;
        } else if let Some(inner) = after.strip_prefix('{') {
            let Some(close) = inner.find('}') else {
                errors.push(ExpandError::Malformed {
                    text: text[dollar..].to_owned(),
                    at: dollar..text.len(),
                });
                return Err(errors);
            };
            let end = dollar + 2 + close + 1;
            let body = &inner[..close];
            let (name, default) = match body.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (body, None),
            };
            if is_variable_name(name) {
                match (lookup(name), default) {
                    (Some(value), Some(default)) if value.is_empty() => out.push_str(default),
                    (Some(value), _) => out.push_str(&value),
                    (None, Some(default)) => out.push_str(default),
                    (None, None) => errors.push(ExpandError::Unset {
                        name: name.to_owned(),
                        at: dollar..end,
                    }),
                }
            } else {
                errors.push(ExpandError::Malformed {
                    text: text[dollar..end].to_owned(),
                    at: dollar..end,
                });
            }
            rest = end;
        } else {
            out.push('$');
            rest = dollar + 1;
        }
    }
    out.push_str(&text[rest..]);
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Whether `text` is exactly one `${NAME}` reference with no default: the only form a secret
/// may take in a playbook.
pub(crate) fn is_single_reference(text: &str) -> bool {
    text.strip_prefix("${")
        .and_then(|t| t.strip_suffix('}'))
        .is_some_and(is_variable_name)
}

fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("es.example".to_owned()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn ok(text: &str) -> String {
        expand(text, &env).expect("expands")
    }

    #[test]
    fn plain_text_is_unchanged() {
        assert_eq!(ok("https://localhost:9200"), "https://localhost:9200");
        assert_eq!(ok("cost: $5 and $"), "cost: $5 and $");
    }

    #[test]
    fn variables_are_replaced() {
        assert_eq!(ok("https://${HOST}:9200"), "https://es.example:9200");
        assert_eq!(ok("${HOST}${HOST}"), "es.examplees.example");
    }

    #[test]
    fn defaults_apply_when_unset_or_empty() {
        assert_eq!(
            ok("${NOPE:-http://localhost:9200}"),
            "http://localhost:9200"
        );
        assert_eq!(ok("${EMPTY:-fallback}"), "fallback");
        assert_eq!(ok("${HOST:-fallback}"), "es.example");
        assert_eq!(ok("${NOPE:-}"), "");
    }

    #[test]
    fn double_dollar_escapes() {
        assert_eq!(ok("$${HOST}"), "${HOST}");
        assert_eq!(ok("a$$b"), "a$$b");
    }

    #[test]
    fn unset_variables_are_all_reported_with_their_place() {
        let errors = expand("x ${A} y ${B}", &env).expect_err("unset");
        assert_eq!(
            errors,
            vec![
                ExpandError::Unset {
                    name: "A".to_owned(),
                    at: 2..6
                },
                ExpandError::Unset {
                    name: "B".to_owned(),
                    at: 9..13
                },
            ]
        );
    }

    #[test]
    fn malformed_references_are_errors() {
        assert!(matches!(
            expand("${1X}", &env).expect_err("bad name")[..],
            [ExpandError::Malformed { .. }]
        ));
        assert!(matches!(
            expand("${HOST", &env).expect_err("unclosed")[..],
            [ExpandError::Malformed { ref at, .. }] if *at == (0..6)
        ));
        assert!(matches!(
            expand("${}", &env).expect_err("empty")[..],
            [ExpandError::Malformed { .. }]
        ));
    }

    #[test]
    fn single_reference_is_recognised() {
        assert!(is_single_reference("${ES_API_KEY}"));
        assert!(!is_single_reference("${ES_API_KEY:-abc}"));
        assert!(!is_single_reference("abc${K}"));
        assert!(!is_single_reference("hunter2"));
    }
}
