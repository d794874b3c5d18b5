//! Spellings, and the promise of the module: whatever the writer writes loads back as written.

use std::num::NonZeroUsize;

use proptest::prelude::*;

use super::*;
use crate::model::{ForcePolicy, OnFailure, RetryPolicy, Selector, load};
use crate::playbook::Source;

fn literal(text: &str) -> String {
    value(Text::Literal(text))
}

#[test]
fn plain_when_unambiguous() {
    for text in ["web-latency", "datafeed-1e3", "a_b", "é-prod", "say \"hi\""] {
        assert_eq!(literal(text), text);
    }
    assert_eq!(
        value(Text::WithVariables("${ES_URL:-http://h:9200}")),
        "${ES_URL:-http://h:9200}"
    );
}

#[test]
fn quoted_when_yaml_would_read_something_else() {
    for text in [
        "no",
        "No",
        "y",
        "on",
        "off",
        "true",
        "null",
        "~",
        "1e3",
        "0755",
        "1_000",
        "0x1f",
        "-1",
        ".5",
        ".inf",
        "-.inf",
        ".nan",
        "",
        "a: b",
        "a #b",
        "key:",
        ":",
        "#",
        "*x",
        "&x",
        "!x",
        "- x",
        " x",
        "x ",
        "tab\there",
        "back\\slash",
        "line\nbreak",
        "nel\u{85}",
        "ls\u{2028}",
        "bom\u{feff}",
        "del\u{7f}",
    ] {
        let quoted = literal(text);
        assert!(quoted.starts_with('"'), "{text:?} -> {quoted}");
        let back: String = serde_json::from_str(&quoted).expect("a JSON string too");
        assert_eq!(back, text);
    }
}

#[test]
fn literal_text_keeps_its_variables_unexpanded() {
    assert_eq!(literal("cost ${HOME}"), "cost $${HOME}");
    assert_eq!(literal("$${x}"), "$$${x}");
    assert_eq!(value(Text::WithVariables("${ES_URL}")), "${ES_URL}");
}

#[test]
fn comments_stay_on_one_line() {
    assert_eq!(comment_text("a\nb\r\tc\u{2028}d \"e\""), "a b  c d \"e\"");
}

#[test]
fn wraps_on_words() {
    assert_eq!(wrap("aa bb cc", 5), ["aa bb", "cc"]);
    assert_eq!(wrap("toolongword x", 4), ["toolongword", "x"]);
}

#[test]
fn durations_in_seconds_when_whole() {
    assert_eq!(duration(Duration::from_secs(600)), "600s");
    assert_eq!(duration(Duration::from_millis(1500)), "1500ms");
}

/// What a generated playbook says, to compare with what the loader reads.
#[derive(Debug, Clone)]
struct Made {
    comments: Vec<String>,
    name: String,
    description: Option<String>,
    url: Option<String>,
    settings: Option<Settings>,
    jobs: Vec<JobEntry>,
    datafeeds: Vec<DatafeedEntry>,
    upgrade_mode: Option<UpgradeMode>,
}

impl Made {
    fn text(&self) -> String {
        let mut w = PlaybookWriter::new();
        w.modeline("../schemas/playbook.schema.json");
        for comment in &self.comments {
            w.comment(comment);
        }
        w.head(&self.name, self.description.as_deref());
        if let Some(url) = &self.url {
            w.blank();
            w.cluster(Text::Literal(url), &["api_key: ${ES_API_KEY}"]);
        }
        if let Some(settings) = &self.settings {
            w.settings(settings);
        }
        w.jobs(&self.jobs);
        w.datafeeds(&self.datafeeds);
        if let Some(mode) = self.upgrade_mode {
            w.upgrade_mode(mode);
        }
        w.finish()
    }
}

/// Ids, with the ones YAML 1.1 would read as something else well represented.
fn id() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9]([a-z0-9_-]{0,12}[a-z0-9])?",
        prop::sample::select(vec![
            "no", "on", "off", "y", "n", "yes", "true", "null", "1e3", "0755", "0x1f", "1_000",
            "123", "0", "1-2", "e1", "inf", "nan"
        ])
        .prop_map(str::to_owned),
    ]
}

/// Free text: anything, with YAML's troublemakers and `${` likely.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::collection::vec(
            prop::sample::select(vec![
                "a", " ", ": ", " #", "#", "-", "*", "&", "!", "'", "\"", "\\", "\n", "\t", "${",
                "${HOME}", "$${", "}", "no", "1e3", "0755", "\u{85}", "\u{2028}", "\u{feff}", "é",
                "%", "@", "`", "|", ">", "?", ",", "[", "]", "{",
            ]),
            0..12,
        )
        .prop_map(|parts| parts.concat()),
    ]
}

/// Durations a playbook allows for every duration setting (back-offs are at most 1h).
fn ms() -> impl Strategy<Value = Duration> {
    prop_oneof![1u64..100_000, (1u64..=3_600).prop_map(|s| s * 1000)]
        .prop_map(Duration::from_millis)
}

fn settings() -> impl Strategy<Value = Settings> {
    (
        1usize..64,
        ms(),
        1usize..20,
        ms(),
        ms(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(concurrency, step_timeout, attempts, a, b, stop, force, require_match)| Settings {
                concurrency: NonZeroUsize::new(concurrency).unwrap_or(NonZeroUsize::MIN),
                step_timeout,
                retry: RetryPolicy {
                    attempts: NonZeroUsize::new(attempts).unwrap_or(NonZeroUsize::MIN),
                    initial_backoff: a.min(b),
                    max_backoff: a.max(b),
                },
                on_failure: if stop {
                    OnFailure::Stop
                } else {
                    OnFailure::Continue
                },
                force: if force {
                    ForcePolicy::AfterTimeout
                } else {
                    ForcePolicy::Never
                },
                require_match,
            },
        )
}

fn made() -> impl Strategy<Value = Made> {
    let jobs = prop::collection::btree_map(id(), (any::<bool>(), prop::option::of(text())), 0..6);
    let feeds = prop::collection::btree_map(
        id(),
        (
            any::<bool>(),
            any::<prop::sample::Index>(),
            any::<bool>(),
            prop::option::of(text()),
        ),
        0..6,
    );
    (
        prop::collection::vec(text(), 0..3),
        text(),
        prop::option::of(text()),
        prop::option::of(("[a-z0-9.-]{1,10}", 1u16..u16::MAX, text())),
        prop::option::of(settings()),
        jobs,
        feeds,
        prop::option::of(any::<bool>()),
    )
        .prop_map(
            |(comments, name, description, url, settings, jobs, feeds, mode)| {
                let jobs: Vec<JobEntry> = jobs
                    .into_iter()
                    .map(|(id, (opened, comment))| JobEntry {
                        id,
                        state: if opened {
                            JobState::Opened
                        } else {
                            JobState::Closed
                        },
                        comment,
                    })
                    .collect();
                // Each datafeed feeds a job of its own, and only a job that stays open may have it
                // started: the rules a made playbook keeps anyway.
                let mut free: Vec<&JobEntry> = jobs.iter().collect();
                let datafeeds = feeds
                    .into_iter()
                    .map(|(id, (started, pick, linked, comment))| {
                        let job = (linked && !free.is_empty())
                            .then(|| free.remove(pick.index(free.len())));
                        let may_start = job.is_none_or(|j| j.state == JobState::Opened);
                        DatafeedEntry {
                            id,
                            job: job.map(|j| j.id.clone()),
                            state: if started && may_start {
                                DatafeedState::Started
                            } else {
                                DatafeedState::Stopped
                            },
                            comment,
                        }
                    })
                    .collect();
                Made {
                    comments,
                    name,
                    description,
                    url: url.map(|(host, port, path)| format!("https://{host}:{port}/{path}")),
                    settings,
                    jobs,
                    datafeeds,
                    upgrade_mode: mode.map(|on| {
                        if on {
                            UpgradeMode::Enabled
                        } else {
                            UpgradeMode::Disabled
                        }
                    }),
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Any playbook the writer makes loads, with no variable set, as exactly what it was made
    /// from: the same name, description, URL and settings, the same targets in the same order.
    #[test]
    fn what_is_written_loads_back_the_same(made in made()) {
        let text = made.text();
        // A URL must still be a URL once written; a path that breaks it is not the writer's
        // doing, so such cases are left to the others.
        let url_ok = made.url.as_deref().is_none_or(|u| {
            reqwest::Url::parse(u).is_ok_and(|p| p.host_str().is_some_and(|h| !h.is_empty()))
        });
        prop_assume!(url_ok);
        let env = |_: &str| None;
        let playbook = load(&Source::new("made.yaml", text.as_str()), &env)
            .map_err(|invalid| TestCaseError::fail(format!("{:?}\n{text}", invalid.problems())))?;
        prop_assert_eq!(&playbook.name, &made.name, "{}", text);
        prop_assert_eq!(&playbook.description, &made.description, "{}", text);
        prop_assert_eq!(&playbook.cluster.url, &made.url, "{}", text);
        prop_assert_eq!(&playbook.settings, &made.settings.clone().unwrap_or_default());
        let jobs: Vec<(String, JobState)> = playbook
            .jobs
            .iter()
            .map(|j| match &j.selector {
                Selector::Id(id) => (id.to_string(), j.state),
                Selector::Pattern(p) => (format!("pattern {p}"), j.state),
            })
            .collect();
        let want: Vec<(String, JobState)> =
            made.jobs.iter().map(|j| (j.id.clone(), j.state)).collect();
        prop_assert_eq!(jobs, want, "{}", text);
        let datafeeds: Vec<(String, Option<String>, DatafeedState)> = playbook
            .datafeeds
            .iter()
            .map(|d| (d.selector.to_string(), d.job.as_ref().map(|j| j.id.to_string()), d.state))
            .collect();
        let want: Vec<(String, Option<String>, DatafeedState)> = made
            .datafeeds
            .iter()
            .map(|d| (d.id.clone(), d.job.clone(), d.state))
            .collect();
        prop_assert_eq!(datafeeds, want, "{}", text);
        prop_assert_eq!(playbook.upgrade_mode.map(|u| u.state), made.upgrade_mode);
    }
}
