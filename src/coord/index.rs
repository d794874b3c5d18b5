//! [`CoordIndex`]: the index that keeps the lease and the journal mirror, its name checked as
//! Elasticsearch checks it, and the settings and mapping quiesce creates it with
//! (docs/elasticsearch-ml-api.md §11.1; the README's "Coordination in the cluster" shows them).

use serde_json::{Value, json};

use crate::es::EsClient;

use super::CoordError;

/// Where the lease and journals live unless told otherwise.
pub(crate) const DEFAULT_INDEX: &str = ".quiesce";

/// The index privileges a run needs on it: create it the first time, write the lease and
/// journal lines, read them back.
pub(crate) const INDEX_PRIVILEGES: &[&str] = &["create_index", "read", "write"];

/// An index name Elasticsearch accepts (`MetadataCreateIndexService.validateIndexName`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CoordIndex(String);

impl CoordIndex {
    /// Checks `name` against Elasticsearch's rules, in its order; the rule broken otherwise.
    pub(crate) fn parse(name: &str) -> Result<CoordIndex, String> {
        const INVALID: &[char] = &[' ', '"', '*', '\\', '<', '|', ',', '>', '/', '?'];
        let broken = if let Some(c) = name.chars().find(|c| INVALID.contains(c)) {
            Some(format!("must not contain `{c}`"))
        } else if name.is_empty() {
            Some("must not be empty".into())
        } else if name.contains('#') || name.contains(':') {
            Some("must not contain `#` or `:`".into())
        } else if name.starts_with(['_', '-', '+']) {
            Some("must not start with `_`, `-` or `+`".into())
        } else if name.len() > 255 {
            Some("must be at most 255 bytes".into())
        } else if name == "." || name == ".." {
            Some("must not be `.` or `..`".into())
        } else if name.chars().any(char::is_uppercase) {
            Some("must be lowercase".into())
        } else {
            None
        };
        match broken {
            Some(rule) => Err(format!("invalid index name `{name}`: {rule}")),
            None => Ok(CoordIndex(name.to_owned())),
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.0
    }

    /// Elasticsearch reserves dot-prefixed names for hidden and system indices (a visible one
    /// draws a deprecation warning): quiesce's own index is hidden then.
    fn hidden(&self) -> bool {
        self.0.starts_with('.')
    }

    /// One shard (a few documents per run), one replica when there is a node for it.
    pub(crate) fn settings(&self) -> Value {
        json!({
            "index": {
                "hidden": self.hidden(),
                "number_of_shards": 1,
                "auto_expand_replicas": "0-1",
            }
        })
    }

    /// Strict: a field quiesce does not write is refused rather than guessed. `line` is the
    /// journal line itself, kept in `_source` only (neither indexed nor in doc values: a header
    /// can be 20 MB).
    pub(crate) fn mappings() -> Value {
        json!({
            "dynamic": "strict",
            "properties": {
                "kind": { "type": "keyword" },
                "run_id": { "type": "keyword" },
                "seq": { "type": "long" },
                "line": { "type": "keyword", "index": false, "doc_values": false },
                "command": { "type": "keyword" },
                "host": { "type": "keyword" },
                "pid": { "type": "long" },
                "user": { "type": "keyword" },
                "cluster_url": { "type": "keyword" },
                "started_at": { "type": "date" },
                "renewed_at": { "type": "date" },
                "expires_at": { "type": "date" },
            }
        })
    }
}

impl std::fmt::Display for CoordIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Creates the index unless it exists.
pub(crate) async fn ensure(client: &EsClient, index: &CoordIndex) -> Result<(), CoordError> {
    client
        .ensure_index(index.name(), index.settings(), CoordIndex::mappings())
        .await
        .map(drop)
        .map_err(|source| CoordError::Index {
            index: index.name().to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_elasticsearch_rules() {
        assert!(CoordIndex::parse(".quiesce").is_ok());
        assert!(CoordIndex::parse("ops-quiesce").is_ok());
        for (bad, rule) in [
            ("", "empty"),
            ("Quiesce", "lowercase"),
            ("_q", "start"),
            ("a,b", "`,`"),
            ("a:b", "`:`"),
            ("..", "`..`"),
        ] {
            let err = CoordIndex::parse(bad).expect_err(bad);
            assert!(err.contains(rule), "{bad}: {err}");
        }
    }

    #[test]
    fn a_dot_index_is_hidden_and_a_plain_one_is_not() {
        let dot = CoordIndex::parse(".quiesce").expect("valid");
        assert_eq!(dot.settings()["index"]["hidden"], true);
        let plain = CoordIndex::parse("quiesce").expect("valid");
        assert_eq!(plain.settings()["index"]["hidden"], false);
    }
}
