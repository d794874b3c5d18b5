//! Index names as Elasticsearch checks them (`MetadataCreateIndexService.validateIndexName`) and
//! index expressions as search resolves them (`IndexNameExpressionResolver`: lists, `*`
//! wildcards, `_all`, hidden indices, `ignore_unavailable`, `allow_no_indices`;
//! docs/elasticsearch-ml-api.md §11.1, §11.4).

use serde_json::json;

use crate::EsError;
use crate::security::glob;

/// The characters an index name must not contain, as ES lists them (`Strings.INVALID_FILENAME_CHARS`).
const INVALID_CHARS: [char; 10] = [' ', '"', '*', '\\', '<', '|', ',', '>', '/', '?'];

/// Checks a name for a new index; the error is ES's 400 `invalid_index_name_exception`.
pub(crate) fn validate(name: &str) -> Result<(), EsError> {
    let problem = if name.contains(INVALID_CHARS) {
        Some(
            "must not contain the following characters [ , \", *, \\, <, |, ,, >, /, ?]".to_owned(),
        )
    } else if name.is_empty() {
        Some("must not be empty".to_owned())
    } else if name.contains('#') {
        Some("must not contain '#'".to_owned())
    } else if name.contains(':') {
        Some("must not contain ':'".to_owned())
    } else if name.starts_with(['_', '-', '+']) {
        Some("must not start with '_', '-', or '+'".to_owned())
    } else if name.len() > 255 {
        Some(format!("index name is too long, ({} > 255)", name.len()))
    } else if name == "." || name == ".." {
        Some("must not be '.' or '..'".to_owned())
    } else if name.to_lowercase() != name {
        Some("must be lowercase".to_owned())
    } else {
        None
    };
    match problem {
        Some(problem) => Err(EsError::new(
            400,
            "invalid_index_name_exception",
            format!("Invalid index name [{name}], {problem}"),
        )
        .with_metadata("index_uuid", "_na_")
        .with_metadata("index", name)),
        None => Ok(()),
    }
}

/// ES's 404 for an index that does not exist.
pub(crate) fn not_found(name: &str) -> EsError {
    EsError::new(
        404,
        "index_not_found_exception",
        format!("no such index [{name}]"),
    )
    .with_metadata("resource.type", "index_or_alias")
    .with_metadata("resource.id", name)
    .with_metadata("index_uuid", "_na_")
    .with_metadata("index", name)
}

/// How a search resolves its index expression (`IndicesOptions`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Resolve {
    pub(crate) ignore_unavailable: bool,
    pub(crate) allow_no_indices: bool,
    /// Wildcards match hidden indices too (`expand_wildcards` with `hidden` or `all`).
    pub(crate) expand_hidden: bool,
}

impl Default for Resolve {
    fn default() -> Self {
        Resolve {
            ignore_unavailable: false,
            allow_no_indices: true,
            expand_hidden: false,
        }
    }
}

/// Resolves `expr` against the existing indices (`(name, hidden)`), in name order. A concrete
/// name that does not exist is a 404 unless `ignore_unavailable`; a wildcard matching nothing,
/// or an expression resolving to nothing, is a 404 only when `allow_no_indices` is false. A
/// wildcard matches hidden indices only with `expand_hidden`, or when both the pattern and the
/// name start with `.`.
pub(crate) fn resolve<'a>(
    expr: &str,
    existing: impl Iterator<Item = (&'a str, bool)> + Clone,
    options: Resolve,
) -> Result<Vec<String>, EsError> {
    let mut names: Vec<String> = Vec::new();
    let tokens: Vec<&str> = if expr.is_empty() || expr == "_all" {
        vec!["*"]
    } else {
        expr.split(',').map(str::trim).collect()
    };
    for token in tokens {
        if let Some(excluded) = token.strip_prefix('-').filter(|_| !names.is_empty()) {
            names.retain(|name| !glob(excluded, name));
            continue;
        }
        if token.contains('*') {
            let matched: Vec<String> = existing
                .clone()
                .filter(|(name, hidden)| {
                    glob(token, name)
                        && (!hidden
                            || options.expand_hidden
                            || (token.starts_with('.') && name.starts_with('.')))
                })
                .map(|(name, _)| name.to_owned())
                .collect();
            if matched.is_empty() && !options.allow_no_indices {
                return Err(not_found(token));
            }
            names.extend(matched);
        } else if existing.clone().any(|(name, _)| name == token) {
            names.push(token.to_owned());
        } else if !options.ignore_unavailable {
            return Err(not_found(token));
        }
    }
    names.sort();
    names.dedup();
    if names.is_empty() && !options.allow_no_indices {
        return Err(not_found(expr));
    }
    Ok(names)
}

/// The `_shards` object of a write (one primary, `replicas` copies that a one-node data tier
/// cannot hold).
pub(crate) fn shards(replicas: u32, data_nodes: usize) -> serde_json::Value {
    let total = 1 + u64::from(replicas);
    let successful = total.min(u64::try_from(data_nodes.max(1)).unwrap_or(1));
    json!({"total": total, "successful": successful, "failed": 0})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_in_es_order() {
        assert!(validate(".quiesce").is_ok());
        assert!(validate("quiesce-runs").is_ok());
        let reason = |name: &str| validate(name).unwrap_err().reason().to_owned();
        assert_eq!(
            reason("Runs"),
            "Invalid index name [Runs], must be lowercase"
        );
        assert_eq!(
            reason("_runs"),
            "Invalid index name [_runs], must not start with '_', '-', or '+'"
        );
        assert_eq!(
            reason("a#b"),
            "Invalid index name [a#b], must not contain '#'"
        );
        assert_eq!(
            reason(".."),
            "Invalid index name [..], must not be '.' or '..'"
        );
        assert!(reason("a b").ends_with(
            "must not contain the following characters [ , \", *, \\, <, |, ,, >, /, ?]"
        ));
        assert_eq!(
            reason(&"a".repeat(256)),
            format!(
                "Invalid index name [{}], index name is too long, (256 > 255)",
                "a".repeat(256)
            )
        );
    }

    #[test]
    fn wildcards_skip_hidden_indices_unless_asked() {
        let existing = [(".quiesce", true), ("logs", false), ("logs-2", false)];
        let all = || existing.iter().map(|(name, hidden)| (*name, *hidden));
        let options = Resolve::default();
        assert_eq!(resolve("*", all(), options).unwrap(), ["logs", "logs-2"]);
        assert_eq!(resolve(".q*", all(), options).unwrap(), [".quiesce"]);
        assert_eq!(resolve(".quiesce", all(), options).unwrap(), [".quiesce"]);
        let hidden = Resolve {
            expand_hidden: true,
            ..options
        };
        assert_eq!(resolve("*", all(), hidden).unwrap().len(), 3);
        assert_eq!(
            resolve("missing", all(), options).unwrap_err().reason(),
            "no such index [missing]"
        );
        assert!(resolve("missing*", all(), options).unwrap().is_empty());
        let strict = Resolve {
            allow_no_indices: false,
            ..options
        };
        assert!(resolve("missing*", all(), strict).is_err());
        let lenient = Resolve {
            ignore_unavailable: true,
            ..options
        };
        assert!(resolve("missing", all(), lenient).unwrap().is_empty());
    }
}
