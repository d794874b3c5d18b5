//! ID expressions in request paths (docs/elasticsearch-ml-api.md §5, ES `ExpandedIdsMatcher`): a single id, a
//! comma list, simple `*` wildcards, `_all` or `*`, and for jobs their group names.
//!
//! Takes an expression and the resources that exist; gives the sorted ids it resolves to, or the
//! required tokens that matched nothing. It never builds the 404 itself: the caller knows whether
//! the resources are jobs (E1) or datafeeds (E2).

use std::collections::BTreeSet;

use wildcard::WildcardBuilder;

/// The required tokens of an expression that matched no resource, joined by `,` in the order the
/// expression gave them (`*` when the expression was `_all`/`*`/empty and nothing exists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unmatched {
    pub tokens: String,
}

/// Expands `expr` against `resources` (each an id and its groups; datafeeds have no groups).
///
/// Follows ES exactly: tokens are split on `,` and trimmed, empty ones dropped; an empty list,
/// `_all` or `*` matches everything (and, with `allow_no_match=false`, needs at least one
/// resource); exact ids must always match; wildcard tokens must match only when
/// `allow_no_match=false`. The result is sorted and free of duplicates.
pub(crate) fn expand<'a>(
    expr: &str,
    resources: impl Iterator<Item = (&'a str, &'a [String])>,
    allow_no_match: bool,
) -> Result<Vec<String>, Unmatched> {
    let tokens: Vec<&str> = expr
        .split(',')
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .collect();
    let resources: Vec<(&str, &[String])> = resources.collect();

    if tokens.is_empty() || (tokens.len() == 1 && matches!(tokens[0], "_all" | "*")) {
        if !allow_no_match && resources.is_empty() {
            return Err(Unmatched {
                tokens: "*".to_owned(),
            });
        }
        let all: BTreeSet<&str> = resources.iter().map(|(id, _)| *id).collect();
        return Ok(all.into_iter().map(str::to_owned).collect());
    }

    let mut matched = BTreeSet::new();
    let mut unmatched = Vec::new();
    for token in &tokens {
        let wildcard = token.contains('*');
        let mut hit = false;
        for (id, groups) in &resources {
            let names = std::iter::once(*id).chain(groups.iter().map(String::as_str));
            if names.into_iter().any(|name| matches(token, name, wildcard)) {
                matched.insert(*id);
                hit = true;
            }
        }
        let required = !wildcard || !allow_no_match;
        if required && !hit {
            unmatched.push(*token);
        }
    }
    if !unmatched.is_empty() {
        return Err(Unmatched {
            tokens: unmatched.join(","),
        });
    }
    Ok(matched.into_iter().map(str::to_owned).collect())
}

fn matches(token: &str, name: &str, wildcard: bool) -> bool {
    if wildcard {
        simple_match(token, name)
    } else {
        token == name
    }
}

/// ES `Regex.simpleMatch`: `*` matches any (possibly empty) substring, everything else
/// literally — no `?`, no escapes.
fn simple_match(pattern: &str, text: &str) -> bool {
    // Without `?` and escapes no pattern is malformed, so `build` cannot fail.
    WildcardBuilder::new(pattern.as_bytes())
        .without_one_metasymbol()
        .without_escape()
        .build()
        .is_ok_and(|wildcard| wildcard.is_match(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn datafeeds(ids: &[&str]) -> Vec<(String, Vec<String>)> {
        ids.iter()
            .map(|id| ((*id).to_owned(), Vec::new()))
            .collect()
    }

    /// jobs `job-1` (group `g`) and `job-2`, as in the §5 examples.
    fn jobs() -> Vec<(String, Vec<String>)> {
        vec![
            ("job-1".to_owned(), vec!["g".to_owned()]),
            ("job-2".to_owned(), Vec::new()),
        ]
    }

    fn run(
        expr: &str,
        resources: &[(String, Vec<String>)],
        allow_no_match: bool,
    ) -> Result<Vec<String>, Unmatched> {
        expand(
            expr,
            resources
                .iter()
                .map(|(id, groups)| (id.as_str(), groups.as_slice())),
            allow_no_match,
        )
    }

    fn unmatched(tokens: &str) -> Result<Vec<String>, Unmatched> {
        Err(Unmatched {
            tokens: tokens.to_owned(),
        })
    }

    #[test]
    fn all_with_nothing_and_allow_no_match_is_empty() {
        assert_eq!(run("_all", &[], true), Ok(vec![]));
    }

    #[test]
    fn all_with_nothing_and_no_allow_no_match_is_star() {
        assert_eq!(run("_all", &[], false), unmatched("*"));
        assert_eq!(run("*", &[], false), unmatched("*"));
        assert_eq!(run("", &[], false), unmatched("*"));
    }

    #[test]
    fn missing_wildcard_is_fine_with_allow_no_match() {
        let dfs = datafeeds(&["df-a", "df-b"]);
        assert_eq!(run("missing-*", &dfs, true), Ok(vec![]));
        assert_eq!(run("missing-*", &jobs(), true), Ok(vec![]));
    }

    #[test]
    fn missing_wildcard_is_unmatched_without_allow_no_match() {
        let dfs = datafeeds(&["df-a", "df-b"]);
        assert_eq!(run("missing-*", &dfs, false), unmatched("missing-*"));
        assert_eq!(run("missing-*", &jobs(), false), unmatched("missing-*"));
    }

    #[test]
    fn exact_ids_are_always_required() {
        let dfs = datafeeds(&["df-a", "df-b"]);
        assert_eq!(run("df-a,missing", &dfs, true), unmatched("missing"));
        assert_eq!(run("df-a,missing", &dfs, false), unmatched("missing"));
    }

    #[test]
    fn unmatched_wildcard_is_ignored_with_allow_no_match() {
        let dfs = datafeeds(&["df-a", "df-b"]);
        assert_eq!(
            run("df-*,x-*", &dfs, true),
            Ok(vec!["df-a".to_owned(), "df-b".to_owned()])
        );
    }

    #[test]
    fn unmatched_wildcard_is_reported_without_allow_no_match() {
        let dfs = datafeeds(&["df-a", "df-b"]);
        assert_eq!(run("df-*,x-*", &dfs, false), unmatched("x-*"));
    }

    #[test]
    fn unmatched_tokens_are_joined_in_expression_order() {
        assert_eq!(
            run("zz,job-1,a,missing-*", &jobs(), false),
            unmatched("zz,a,missing-*")
        );
    }

    #[test]
    fn group_resolves_to_its_jobs() {
        assert_eq!(run("g", &jobs(), true), Ok(vec!["job-1".to_owned()]));
        assert_eq!(run("g", &jobs(), false), Ok(vec!["job-1".to_owned()]));
        assert_eq!(run("g*", &jobs(), false), Ok(vec!["job-1".to_owned()]));
    }

    #[test]
    fn star_and_all_give_everything_sorted() {
        let dfs = datafeeds(&["df-b", "df-a"]);
        let all = Ok(vec!["df-a".to_owned(), "df-b".to_owned()]);
        assert_eq!(run("*", &dfs, true), all);
        assert_eq!(run("_all", &dfs, false), all);
    }

    #[test]
    fn all_inside_a_list_is_an_exact_id() {
        assert_eq!(run("job-1,_all", &jobs(), true), unmatched("_all"));
    }

    #[test]
    fn tokens_are_trimmed_and_deduplicated() {
        assert_eq!(
            run(" job-2 , job-*,,", &jobs(), false),
            Ok(vec!["job-1".to_owned(), "job-2".to_owned()])
        );
    }

    proptest::proptest! {
        /// Any expansion is sorted, free of duplicates and made of existing ids; `*` with
        /// `allow_no_match` never fails.
        #[test]
        fn expansion_is_a_sorted_subset(
            expr in "[a-c*,_]{0,12}",
            ids in proptest::collection::btree_set("[a-c]{1,3}", 0..6),
        ) {
            let resources: Vec<(String, Vec<String>)> =
                ids.iter().map(|id| (id.clone(), vec![format!("g{}", id.len())])).collect();
            if let Ok(found) = run(&expr, &resources, true) {
                proptest::prop_assert!(found.windows(2).all(|pair| pair[0] < pair[1]));
                proptest::prop_assert!(found.iter().all(|id| ids.contains(id)));
            }
            proptest::prop_assert_eq!(run("*", &resources, true).map(|all| all.len()), Ok(ids.len()));
        }

        /// Every id matches a wildcard built from its own prefix.
        #[test]
        fn prefix_wildcards_match(id in "[a-z0-9_-]{1,20}", cut in 0usize..20) {
            let prefix: String = id.chars().take(cut).collect();
            let pattern = format!("{prefix}*");
            proptest::prop_assert!(simple_match(&pattern, &id));
        }
    }

    #[test]
    fn simple_match_follows_es() {
        assert!(simple_match("*foo-*", "a-foo-b"));
        assert!(simple_match("df-*", "df-"));
        assert!(simple_match("*", ""));
        assert!(simple_match("a*b*c", "abc"));
        assert!(!simple_match("a*b*c", "acb"));
        assert!(!simple_match("ab*ba", "aba"));
        assert!(simple_match("**", "x"));
        assert!(!simple_match("a?c", "abc"), "`?` is literal");
        assert!(simple_match("a?c", "a?c"));
        assert!(simple_match(r"a\*", r"a\bc"), "`\\` escapes nothing");
    }
}
