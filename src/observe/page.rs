//! Reading every resource of a kind past Elasticsearch's cap: an id expression is answered with
//! at most [`MAX_RESULTS`] resources, those of the smallest ids (`JobConfigProvider` and
//! `DatafeedConfigProvider` search the config index sorted by id with that size; the stats and
//! config APIs of every version take no `from`/`size`, only the expression).
//!
//! So [`all`] asks for `_all`; an answer that reached the cap holds every id up to its
//! [`MAX_RESULTS`]-th smallest, `last`, and the rest is asked for as the ids after `last`,
//! written as wildcard prefixes (`gen-1000[1-9]*`… as `gen-10001*,gen-10002*,…`, comma lists
//! kept under [`EXPRESSION_BYTES`] for Elasticsearch's 4 KB request line), and so on until an
//! answer stays below the cap. Each capped answer brings [`MAX_RESULTS`] new ids, so a cluster
//! of `n` resources takes about `n / 10,000` rounds of a few requests each; below the cap it is
//! the one `_all` request it always was.
//!
//! Owns the arithmetic of ids. Must never change anything, nor assume what the answers hold
//! beyond that order (an answer may add resources a wildcard reached through a job group, or
//! jobs with a task and no config: they are kept, once each).

use std::collections::BTreeMap;
use std::future::Future;

use crate::es;

/// The most resources Elasticsearch returns for one id expression.
pub(crate) const MAX_RESULTS: usize = 10_000;
/// The longest id expression sent in one request.
const EXPRESSION_BYTES: usize = 3_000;
/// The characters an id may hold, in the order Elasticsearch sorts them (bytes).
const ID_CHARS: &[u8] = b"-0123456789_abcdefghijklmnopqrstuvwxyz";

/// Every resource that `fetch` can see, whatever their number; `id` names each. `fetch` gets
/// an id expression (`_all`, or a comma list of `prefix*`).
pub(crate) async fn all<T, F, Fut>(fetch: F, id: impl Fn(&T) -> &str) -> Result<Vec<T>, es::Error>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<Vec<T>, es::Error>>,
{
    let mut found: BTreeMap<String, T> = BTreeMap::new();
    // Sets of prefixes still to ask for; the empty prefix is everything.
    let mut todo: Vec<Vec<String>> = vec![vec![String::new()]];
    while let Some(prefixes) = todo.pop() {
        let answer = fetch(expression(&prefixes)).await?;
        let mut ids: Vec<&str> = answer.iter().map(&id).collect();
        let last = (ids.len() >= MAX_RESULTS).then(|| {
            ids.sort_unstable();
            ids[MAX_RESULTS - 1].to_owned()
        });
        for item in answer {
            found.entry(id(&item).to_owned()).or_insert(item);
        }
        if let Some(last) = last {
            let rest: Vec<String> = prefixes.iter().flat_map(|p| after(p, &last)).collect();
            todo.extend(chunks(rest));
        }
    }
    Ok(found.into_values().collect())
}

/// `_all`, or the prefixes as a comma list of wildcards.
fn expression(prefixes: &[String]) -> String {
    if prefixes.iter().any(String::is_empty) {
        return "_all".to_owned();
    }
    prefixes
        .iter()
        .map(|p| format!("{p}*"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The ids starting with `prefix` and sorting after `last`, as prefixes.
fn after(prefix: &str, last: &str) -> Vec<String> {
    if !last.starts_with(prefix) {
        // Every id under `prefix` sorts on one side of `last`.
        return if prefix > last {
            vec![prefix.to_owned()]
        } else {
            Vec::new()
        };
    }
    let bytes = last.as_bytes();
    let mut rest = Vec::new();
    // `last` followed by anything (and `last` itself, already known: kept once).
    rest.push(last.to_owned());
    for at in (prefix.len()..bytes.len()).rev() {
        for &c in ID_CHARS.iter().filter(|&&c| c > bytes[at]) {
            let mut next = last[..at].to_owned();
            next.push(char::from(c));
            rest.push(next);
        }
    }
    rest
}

/// Prefixes grouped into expressions that fit one request.
fn chunks(prefixes: Vec<String>) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut bytes = 0;
    for prefix in prefixes {
        let cost = prefix.len() + 2;
        match out.last_mut() {
            Some(group) if bytes + cost <= EXPRESSION_BYTES => group.push(prefix),
            _ => {
                out.push(vec![prefix]);
                bytes = 0;
            }
        }
        bytes += cost;
    }
    out
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    /// Answers as Elasticsearch does: the matching ids, smallest first, at most the cap.
    fn answer(ids: &[String], expression: &str) -> Vec<String> {
        let tokens: Vec<&str> = expression.split(',').collect();
        let matches = |id: &str| {
            tokens
                .iter()
                .any(|t| *t == "_all" || t.strip_suffix('*').is_some_and(|p| id.starts_with(p)))
        };
        let mut out: Vec<String> = ids.iter().filter(|id| matches(id)).cloned().collect();
        out.sort();
        out.truncate(MAX_RESULTS);
        out
    }

    fn read_all(ids: &[String]) -> (Vec<String>, Vec<String>) {
        let asked = RefCell::new(Vec::new());
        let fetch = |expression: String| {
            asked.borrow_mut().push(expression.clone());
            let answer = answer(ids, &expression);
            async move { Ok(answer) }
        };
        let found = block_on(all(fetch, |id: &String| id.as_str()));
        (found, asked.into_inner())
    }

    /// Runs a future that never waits (the fake fetch answers at once).
    fn block_on<T>(future: impl Future<Output = Result<T, es::Error>>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(future)
            .expect("no error")
    }

    #[test]
    fn below_the_cap_one_request() {
        let ids: Vec<String> = (0..9_999).map(|i| format!("job-{i:05}")).collect();
        let (found, asked) = read_all(&ids);
        assert_eq!(found.len(), 9_999);
        assert_eq!(asked, vec!["_all"]);
    }

    #[test]
    fn past_the_cap_every_id_in_a_few_requests() {
        let mut ids: Vec<String> = (1..=25_000).map(|i| format!("gen-{i:05}")).collect();
        ids.extend(["a", "zz-last", "gen-2", "gen-99999-x"].map(str::to_owned));
        let (found, asked) = read_all(&ids);
        let mut expected = ids.clone();
        expected.sort();
        assert_eq!(found, expected);
        assert!(asked.len() <= 6, "{} requests", asked.len());
        assert!(
            asked.iter().all(|e| e.len() <= EXPRESSION_BYTES),
            "{asked:?}"
        );
    }

    #[test]
    fn exactly_the_cap_asks_once_more() {
        let ids: Vec<String> = (0..MAX_RESULTS).map(|i| format!("j{i:05}")).collect();
        let (found, asked) = read_all(&ids);
        assert_eq!(found.len(), MAX_RESULTS);
        assert_eq!(asked.len(), 2, "{asked:?}");
    }

    #[test]
    fn after_names_exactly_the_ids_after_last() {
        let rest = after("", "b1");
        assert_eq!(rest[0], "b1");
        assert!(rest.contains(&"b2".to_owned()) && rest.contains(&"b_".to_owned()));
        assert!(rest.contains(&"c".to_owned()) && rest.contains(&"z".to_owned()));
        assert!(!rest.contains(&"b0".to_owned()) && !rest.contains(&"a".to_owned()));
        assert_eq!(after("c", "b1"), vec!["c"]);
        assert!(after("a", "b1").is_empty());
    }
}
