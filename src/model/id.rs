//! Elasticsearch resource ids and selectors, validated once so later stages can trust them.
//!
//! The id rule is Elasticsearch's for jobs and datafeeds: lowercase ASCII letters, digits, `-`
//! and `_`, starting and ending with a letter or digit, at most 64 characters. A selector (a
//! playbook's `match:`) is one token of an ES id expression: an id with `*` wildcards or a job
//! group name. `*` alone is allowed and means every resource; `_all` is refused in favour of
//! `*` so that a playbook says it one way; commas are refused (one entry per token).

use std::fmt;

use serde::Serialize;

/// Longest id Elasticsearch accepts.
pub(crate) const MAX_ID_LEN: usize = 64;

/// Why a text is not a valid id: a lowercase fragment for a label.
pub(crate) fn id_error(text: &str) -> Option<String> {
    if text.is_empty() {
        return Some("empty".to_owned());
    }
    if text.len() > MAX_ID_LEN {
        return Some(format!(
            "{} characters, at most {MAX_ID_LEN} allowed",
            text.chars().count()
        ));
    }
    if let Some(c) = text.chars().find(|c| !is_id_char(*c)) {
        return Some(if c.is_ascii_uppercase() {
            format!("uppercase `{c}`: ids are lowercase")
        } else {
            format!("`{c}` is not allowed in an id")
        });
    }
    if !text.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Some("must start with a letter or digit".to_owned());
    }
    if !text.ends_with(|c: char| c.is_ascii_alphanumeric()) {
        return Some("must end with a letter or digit".to_owned());
    }
    None
}

fn is_id_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub(crate) struct $name(String);

        impl $name {
            /// Checks `text` against Elasticsearch's id rule; the error is a label fragment.
            pub(crate) fn parse(text: &str) -> Result<Self, String> {
                match id_error(text) {
                    Some(reason) => Err(reason),
                    None => Ok(Self(text.to_owned())),
                }
            }

            pub(crate) fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

id_type!(
    /// The id of an anomaly-detection job.
    JobId
);
id_type!(
    /// The id of a datafeed.
    DatafeedId
);

/// One token of an Elasticsearch id expression: an id with `*` wildcards, or a group name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub(crate) struct Pattern(String);

impl Pattern {
    /// Checks one selector token; the error is a label fragment.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Err("empty".to_owned());
        }
        if text.contains(',') {
            return Err("a `,` makes several selectors".to_owned());
        }
        if text == "_all" {
            return Err("`_all` is written `*` in a playbook".to_owned());
        }
        if text.len() > MAX_ID_LEN {
            return Err(format!("longer than {MAX_ID_LEN} characters"));
        }
        if let Some(c) = text.chars().find(|c| !is_id_char(*c) && *c != '*') {
            return Err(if c.is_ascii_uppercase() {
                format!("uppercase `{c}`: ids are lowercase")
            } else {
                format!("`{c}` is not allowed in a selector")
            });
        }
        if !text.contains('*')
            && let Some(reason) = id_error(text)
        {
            return Err(reason);
        }
        Ok(Self(text.to_owned()))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the token has a wildcard (otherwise it names one id or one job group).
    pub(crate) fn has_wildcard(&self) -> bool {
        self.0.contains('*')
    }

    /// Whether `id` matches this token read as Elasticsearch reads a wildcard token
    /// (docs/elasticsearch-ml-api.md §5): `*` stands for any run of characters, every other
    /// character for itself (no `?`, no escapes). Group membership is the cluster's to tell,
    /// not this.
    pub(crate) fn matches(&self, id: &str) -> bool {
        // With `?` and escapes off, no pattern is malformed: building cannot fail.
        wildcard::WildcardBuilder::new(self.0.as_bytes())
            .without_one_metasymbol()
            .without_escape()
            .build()
            .is_ok_and(|pattern| pattern.is_match(id.as_bytes()))
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What an entry acts on: one resource by id, or whatever a pattern matches at plan time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Selector<I> {
    Id(I),
    Pattern(Pattern),
}

impl<I: fmt::Display> fmt::Display for Selector<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(id) => id.fmt(f),
            Self::Pattern(pattern) => pattern.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_ids() {
        for id in [
            "a",
            "0",
            "web-latency",
            "job_1",
            "1e3",
            "no",
            &"a".repeat(64),
        ] {
            assert_eq!(id_error(id), None, "{id}");
        }
    }

    #[test]
    fn invalid_ids_say_why() {
        let cases = [
            ("", "empty"),
            ("Web", "uppercase `W`: ids are lowercase"),
            ("-web", "must start with a letter or digit"),
            ("web_", "must end with a letter or digit"),
            ("web latency", "` ` is not allowed in an id"),
            ("web.latency", "`.` is not allowed in an id"),
            ("é", "`é` is not allowed in an id"),
        ];
        for (id, reason) in cases {
            assert_eq!(id_error(id).as_deref(), Some(reason), "{id}");
        }
        assert_eq!(
            id_error(&"a".repeat(65)).as_deref(),
            Some("65 characters, at most 64 allowed")
        );
    }

    #[test]
    fn typed_ids_parse() {
        assert_eq!(
            JobId::parse("web-latency").expect("valid").as_str(),
            "web-latency"
        );
        assert!(DatafeedId::parse("Datafeed").is_err());
    }

    #[test]
    fn selectors() {
        for ok in ["prod-*", "*", "web", "*-latency", "a*b*c"] {
            assert!(Pattern::parse(ok).is_ok(), "{ok}");
        }
        for (bad, reason) in [
            ("", "empty"),
            ("  ", "empty"),
            ("a,b", "a `,` makes several selectors"),
            ("_all", "`_all` is written `*` in a playbook"),
            ("Prod-*", "uppercase `P`: ids are lowercase"),
            ("prod *", "` ` is not allowed in a selector"),
            ("-web", "must start with a letter or digit"),
        ] {
            assert_eq!(Pattern::parse(bad).expect_err(bad), reason, "{bad}");
        }
    }

    #[test]
    fn wildcard_matching() {
        let p = |s: &str| Pattern::parse(s).expect("valid");
        assert!(p("prod-*").matches("prod-web"));
        assert!(p("prod-*").matches("prod-"));
        assert!(!p("prod-*").matches("dev-web"));
        assert!(p("*").matches("anything"));
        assert!(p("*-latency").matches("web-latency"));
        assert!(!p("*-latency").matches("web-errors"));
        assert!(p("a*b*c").matches("axxbyyc"));
        assert!(!p("a*b*c").matches("acb"));
        assert!(!p("aba*aba").matches("aba"));
        assert!(p("web").matches("web"));
        assert!(!p("web").matches("web-latency"));
        assert!(p("a**b").matches("ab"));
        assert!(p("*a*").matches("bab"));
        assert!(!p("*a*").matches("bbb"));
    }
}
