//! Loading whole playbooks: what the model holds for a valid one, and that the loader never
//! panics on any input (proptest).

use std::path::PathBuf;
use std::time::Duration;

use proptest::prelude::*;
use secrecy::ExposeSecret;

use super::*;
use crate::playbook::{Problem, Source};

fn env(name: &str) -> Option<String> {
    match name {
        "ES_API_KEY" => Some("c2VjcmV0OmtleQ==".to_owned()),
        "ES_HOST" => Some("es.example".to_owned()),
        _ => None,
    }
}

fn load_text(text: &str) -> Result<Playbook, Vec<Problem>> {
    load(&Source::new("ops/pb.yaml", text), &env).map_err(|e| e.problems().to_vec())
}

const FULL: &str = "\
version: 1
name: window
cluster:
  url: https://${ES_HOST}:9200
  api_key: ${ES_API_KEY}
  ca_cert: certs/ca.crt
settings:
  concurrency: 3
  step_timeout: 90s
  retry: {attempts: 2, initial_backoff: 500ms}
  on_failure: stop
  force: after_timeout
  require_match: true
jobs:
  - id: web-latency
    state: closed
  - match: \"prod-*\"
    state: closed
    after: [web-latency, datafeed-web-latency]
datafeeds:
  - id: datafeed-web-latency
    job: web-latency
    state: stopped
upgrade_mode: enabled
";

#[test]
fn a_valid_playbook_becomes_the_model() {
    let playbook = load_text(FULL).expect("valid");
    assert_eq!(playbook.name, "window");
    assert_eq!(
        playbook.cluster.url.as_deref(),
        Some("https://es.example:9200")
    );
    let Auth::ApiKey(key) = &playbook.cluster.auth else {
        panic!("api key auth")
    };
    assert_eq!(key.expose_secret(), "c2VjcmV0OmtleQ==");
    assert_eq!(
        playbook.cluster.ca_cert,
        Some(PathBuf::from("ops/certs/ca.crt"))
    );
    let settings = &playbook.settings;
    assert_eq!(settings.concurrency.get(), 3);
    assert_eq!(settings.step_timeout, Duration::from_secs(90));
    assert_eq!(settings.retry.attempts.get(), 2);
    assert_eq!(settings.retry.initial_backoff, Duration::from_millis(500));
    assert_eq!(settings.retry.max_backoff, Duration::from_secs(60));
    assert_eq!(settings.on_failure, OnFailure::Stop);
    assert_eq!(settings.force, ForcePolicy::AfterTimeout);
    assert!(settings.require_match);

    let [first, second] = &playbook.jobs[..] else {
        panic!("two jobs")
    };
    assert_eq!(
        first.selector,
        Selector::Id(JobId::parse("web-latency").expect("id"))
    );
    assert_eq!((first.location.line, first.location.column), (15, 9));
    assert!(matches!(&second.selector, Selector::Pattern(p) if p.as_str() == "prod-*"));
    let after: Vec<_> = second
        .after
        .iter()
        .map(|r| (r.target, r.location.line))
        .collect();
    assert_eq!(
        after,
        [(TargetRef::Job(0), 19), (TargetRef::Datafeed(0), 19)]
    );
    assert_eq!(
        playbook.target(TargetRef::Datafeed(0)).0,
        "datafeed-web-latency"
    );
    let datafeed = &playbook.datafeeds[0];
    assert_eq!(
        datafeed.job.as_ref().map(|j| j.id.as_str()),
        Some("web-latency")
    );
    assert_eq!(datafeed.direction(), Direction::Down);
    assert_eq!(
        playbook.upgrade_mode.as_ref().map(|u| u.state),
        Some(UpgradeMode::Enabled)
    );
    assert!(
        !format!("{playbook:?}").contains("c2VjcmV0"),
        "Debug redacts secrets"
    );
}

#[test]
fn defaults_apply_and_the_name_comes_from_the_file() {
    let playbook = load_text("version: 1\n").expect("valid");
    assert_eq!(playbook.name, "pb");
    assert_eq!(playbook.settings, Settings::default());
    assert_eq!(playbook.settings.concurrency.get(), 64);
    assert_eq!(playbook.settings.step_timeout, Duration::from_secs(1800));
    assert!(matches!(playbook.cluster.auth, Auth::None));
    assert!(playbook.jobs.is_empty() && playbook.upgrade_mode.is_none());
}

#[test]
fn basic_auth_needs_both_halves() {
    let ok = load_text("version: 1\ncluster: {username: ops, password: \"${ES_API_KEY}\"}\n");
    assert!(
        matches!(ok.expect("valid").cluster.auth, Auth::Basic { ref username, .. } if username == "ops")
    );
    let err = load_text("version: 1\ncluster: {password: \"${ES_API_KEY}\"}\n").expect_err("half");
    assert!(matches!(err[..], [Problem::Credentials { .. }]), "{err:?}");
}

#[test]
fn a_secret_with_a_default_is_still_literal() {
    let err =
        load_text("version: 1\ncluster: {api_key: \"${ES_API_KEY:-abc}\"}\n").expect_err("literal");
    assert!(
        matches!(err[..], [Problem::LiteralSecret { .. }]),
        "{err:?}"
    );
}

#[test]
fn after_prefers_the_same_section() {
    let playbook = load_text(
        "version: 1\njobs:\n  - {id: x, state: opened}\n  - {id: y, state: opened, after: [x]}\ndatafeeds:\n  - {id: x, state: started}\n  - {id: z, state: started, after: [x]}\n",
    )
    .expect("valid");
    assert_eq!(playbook.jobs[1].after[0].target, TargetRef::Job(0));
    assert_eq!(
        playbook.datafeeds[1].after[0].target,
        TargetRef::Datafeed(0)
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let err = load_text(
        "version: 3\nnmae: x\nsettings: {concurrency: 0, step_timeout: 0s}\njobs:\n  - {id: A, state: up}\n",
    )
    .expect_err("invalid");
    let codes: Vec<String> = err
        .iter()
        .map(|p| {
            miette::Diagnostic::code(p)
                .map(|c| c.to_string())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(
        codes,
        [
            "quiesce::playbook::version",
            "quiesce::playbook::unknown_key",
            "quiesce::playbook::out_of_range",
            "quiesce::playbook::invalid_duration",
            "quiesce::playbook::invalid_id",
            "quiesce::playbook::unknown_value",
        ]
    );
}

/// YAML-ish documents: playbook keys and values in random nesting and order.
fn yamlish() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "version",
        "name",
        "cluster",
        "url",
        "api_key",
        "password",
        "username",
        "settings",
        "concurrency",
        "step_timeout",
        "retry",
        "attempts",
        "initial_backoff",
        "max_backoff",
        "jobs",
        "datafeeds",
        "id",
        "match",
        "job",
        "state",
        "after",
        "upgrade_mode",
        "force",
        "on_failure",
        "require_match",
        "&a",
        "*a",
        "<<",
    ]);
    let value = prop::sample::select(vec![
        "1",
        "0",
        "-5",
        "2",
        "closed",
        "opened",
        "started",
        "stopped",
        "10x",
        "0s",
        "30s",
        "*",
        "\"prod-*\"",
        "${X}",
        "${X:-y}",
        "$${",
        "[a, b]",
        "{}",
        "[]",
        "~",
        "yes",
        "é",
        "\"\"",
        "&a x",
        "*a",
        "[",
        "{",
        "'",
        "\"",
        "#",
        "- ",
        ": ",
    ]);
    let line = (0usize..4, key, prop::bool::ANY, value).prop_map(|(indent, k, dash, v)| {
        format!(
            "{}{}{k}: {v}",
            "  ".repeat(indent),
            if dash { "- " } else { "" }
        )
    });
    prop::collection::vec(line, 0..24).prop_map(|lines| lines.join("\n"))
}

proptest! {
    #[test]
    fn the_loader_never_panics_on_text(text in ".{0,400}") {
        let _ = load(&Source::new("p.yaml", text), &env);
    }

    #[test]
    fn the_loader_never_panics_on_yamlish_documents(text in yamlish()) {
        let source = Source::new("p.yaml", format!("version: 1\n{text}\n"));
        if let Err(invalid) = load(&source, &env) {
            for diagnostic in invalid.diagnostics() {
                let _ = crate::report::diagnostic::render_human(&diagnostic);
            }
        }
    }
}
