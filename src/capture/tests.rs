//! The capture rules and the generated text, on hand-made snapshots.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::*;
use crate::observe::{
    ObservedDatafeed, ObservedDatafeedState as DfState, ObservedJobState as JState,
};

fn job(state: JState, groups: &[&str], datafeed: Option<&str>) -> ObservedJob {
    ObservedJob {
        state,
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        model_bytes: 1024,
        node: None,
        assignment_explanation: None,
        datafeed: datafeed.map(str::to_owned),
    }
}

fn feed(job: &str, state: DfState, mode: DatafeedMode) -> ObservedDatafeed {
    ObservedDatafeed {
        job_id: job.to_owned(),
        state,
        mode,
        node: None,
        assignment_explanation: None,
    }
}

/// Every state a job or datafeed can be observed in, and ids YAML would misread.
fn snapshot() -> Snapshot {
    let jobs = BTreeMap::from([
        (
            "web-latency".to_owned(),
            job(
                JState::Opened,
                &["web", "prod"],
                Some("datafeed-web-latency"),
            ),
        ),
        (
            "web-errors".to_owned(),
            job(
                JState::Opening,
                &["web", "prod"],
                Some("datafeed-web-errors"),
            ),
        ),
        (
            "pay-fraud".to_owned(),
            job(
                JState::Failed,
                &["payments", "prod"],
                Some("datafeed-pay-fraud"),
            ),
        ),
        (
            "pay-declines".to_owned(),
            job(
                JState::Closing,
                &["payments"],
                Some("datafeed-pay-declines"),
            ),
        ),
        (
            "backfill".to_owned(),
            job(JState::Opened, &["batch"], Some("datafeed-backfill")),
        ),
        ("no".to_owned(), job(JState::Closed, &[], Some("1e3"))),
        ("0755".to_owned(), job(JState::Opened, &[], None)),
    ]);
    let datafeeds = BTreeMap::from([
        (
            "datafeed-web-latency".to_owned(),
            feed("web-latency", DfState::Started, DatafeedMode::RealTime),
        ),
        (
            "datafeed-web-errors".to_owned(),
            feed("web-errors", DfState::Starting, DatafeedMode::NotRunning),
        ),
        (
            "datafeed-pay-fraud".to_owned(),
            feed("pay-fraud", DfState::Started, DatafeedMode::RealTime),
        ),
        (
            "datafeed-pay-declines".to_owned(),
            feed("pay-declines", DfState::Stopping, DatafeedMode::RealTime),
        ),
        (
            "datafeed-backfill".to_owned(),
            feed("backfill", DfState::Started, DatafeedMode::Lookback),
        ),
        (
            "1e3".to_owned(),
            feed("no", DfState::Stopped, DatafeedMode::NotRunning),
        ),
    ]);
    Snapshot {
        cluster_name: "Prod.EU".to_owned(),
        cluster_uuid: "u1".to_owned(),
        version: "8.15.0".to_owned(),
        upgrade_mode: false,
        jobs,
        datafeeds,
    }
}

fn at() -> Timestamp {
    "2026-11-28T12:13:14.567Z".parse().expect("a timestamp")
}

/// Each captured id with its target.
type Targets<'c, S> = Vec<(&'c str, S)>;

fn states(capture: &Capture) -> (Targets<'_, JobState>, Targets<'_, DatafeedState>) {
    (
        capture
            .jobs
            .iter()
            .map(|j| (j.id.as_str(), j.state))
            .collect(),
        capture
            .datafeeds
            .iter()
            .map(|d| (d.id.as_str(), d.state))
            .collect(),
    )
}

#[test]
fn targets_are_the_observed_states_with_the_documented_exceptions() {
    let capture = Capture::new(&snapshot(), &Selection::everything());
    let (jobs, datafeeds) = states(&capture);
    assert_eq!(
        jobs,
        [
            ("0755", JobState::Opened),
            ("backfill", JobState::Opened),
            ("no", JobState::Closed),
            ("pay-declines", JobState::Closed),
            ("web-errors", JobState::Opened),
            ("web-latency", JobState::Opened),
        ]
    );
    assert_eq!(
        datafeeds,
        [
            ("1e3", DatafeedState::Stopped),
            ("datafeed-backfill", DatafeedState::Stopped),
            ("datafeed-pay-declines", DatafeedState::Stopped),
            ("datafeed-web-errors", DatafeedState::Started),
            ("datafeed-web-latency", DatafeedState::Started),
        ]
    );
    let note = |id: &str| {
        capture
            .datafeeds
            .iter()
            .find(|d| d.id == id)
            .and_then(|d| d.note.clone())
    };
    assert_eq!(note("datafeed-backfill"), Some(Note::Lookback));
    assert_eq!(
        note("datafeed-pay-declines"),
        Some(Note::DatafeedInTransition(DfState::Stopping))
    );
    // A failed job is left out with its datafeed, as `revert` leaves it out.
    assert_eq!(
        capture.failed,
        [FailedJob {
            id: "pay-fraud".to_owned(),
            datafeed: Some("datafeed-pay-fraud".to_owned()),
        }]
    );
    assert_eq!(note("datafeed-web-latency"), None);
    assert_eq!((capture.opened_jobs(), capture.started_datafeeds()), (4, 2));
}

#[test]
fn the_playbook_text() {
    let text = playbook_from(
        &snapshot(),
        &Selection::everything(),
        at(),
        "https://elastic:hunter2@es.example:9200/",
        Some("../schemas/playbook.schema.json"),
    );
    assert!(!text.contains("hunter2"));
    insta::assert_snapshot!(text);
}

/// The generated text passes the playbook loader (parse and every validation rule), with the
/// ids read back as the same strings and the targets as captured.
#[test]
fn the_playbook_is_valid_and_reads_back_as_captured() {
    use crate::model::{Selector, load};
    use crate::playbook::Source;

    let mut snapshot = snapshot();
    snapshot.upgrade_mode = true;
    let capture = Capture::new(&snapshot, &Selection::everything());
    for url in ["https://es.example:9200", "sim:seed.yaml"] {
        let text = capture.render(at(), url, None);
        let env = |name: &str| (name == "ES_URL").then(|| "http://127.0.0.1:9200".to_owned());
        let playbook = load(&Source::new("captured.yaml", text.as_str()), &env)
            .unwrap_or_else(|invalid| panic!("{:?}\n{text}", invalid.problems()));
        let jobs: Vec<(String, JobState)> = playbook
            .jobs
            .iter()
            .map(|entry| match &entry.selector {
                Selector::Id(id) => (id.to_string(), entry.state),
                Selector::Pattern(p) => panic!("a capture names ids, not `{p}`"),
            })
            .collect();
        let expected: Vec<(String, JobState)> = capture
            .jobs
            .iter()
            .map(|job| (job.id.clone(), job.state))
            .collect();
        assert_eq!(jobs, expected);
        let datafeeds: Vec<(String, DatafeedState)> = playbook
            .datafeeds
            .iter()
            .map(|entry| (entry.selector.to_string(), entry.state))
            .collect();
        let expected: Vec<(String, DatafeedState)> = capture
            .datafeeds
            .iter()
            .map(|feed| (feed.id.clone(), feed.state))
            .collect();
        assert_eq!(datafeeds, expected);
        assert!(playbook.upgrade_mode.is_some());
        assert!(
            playbook
                .name
                .starts_with("captured-prod-eu-20261128-121314")
        );
    }
}

#[test]
fn an_empty_cluster_and_an_odd_cluster_name_still_make_a_valid_playbook() {
    use crate::model::load;
    use crate::playbook::Source;

    let snapshot = Snapshot {
        cluster_name: "${HOME} \"lab\"\n# x: y".to_owned(),
        cluster_uuid: "u".to_owned(),
        version: "unknown".to_owned(),
        upgrade_mode: false,
        jobs: BTreeMap::new(),
        datafeeds: BTreeMap::new(),
    };
    let text = playbook_from(
        &snapshot,
        &Selection::everything(),
        at(),
        "http://h:9200",
        None,
    );
    assert!(text.contains("\njobs: []\n") && text.contains("\ndatafeeds: []\n"));
    let env = |_: &str| None;
    let playbook = load(&Source::new("captured.yaml", text.as_str()), &env)
        .unwrap_or_else(|invalid| panic!("{:?}\n{text}", invalid.problems()));
    assert!(playbook.jobs.is_empty() && playbook.datafeeds.is_empty());
    assert_eq!(playbook.name, "captured-home-lab-x-y-20261128-121314");
    let description = playbook.description.expect("a description");
    assert!(
        description.contains("`${HOME} \"lab\"\n# x: y`"),
        "{description}"
    );
}

#[test]
fn upgrade_mode_is_captured_as_seen_with_a_warning_when_enabled() {
    let mut snapshot = snapshot();
    let off = playbook_from(&snapshot, &Selection::everything(), at(), "sim:", None);
    assert!(off.ends_with("\nupgrade_mode: disabled\n"));
    assert!(!off.contains("WARNING"));
    snapshot.upgrade_mode = true;
    let on = playbook_from(&snapshot, &Selection::everything(), at(), "sim:", None);
    assert!(on.ends_with("\nupgrade_mode: enabled\n"));
    assert!(on.contains("# WARNING: upgrade mode was ENABLED"));
    assert!(on.contains("url: ${ES_URL}\n"));
}

#[test]
fn a_selection_keeps_matching_jobs_and_their_datafeeds() {
    let selection = Selection::parse(&["payments", "web-l*"]).expect("valid");
    let capture = Capture::new(&snapshot(), &selection);
    let (jobs, datafeeds) = states(&capture);
    let jobs: Vec<&str> = jobs.into_iter().map(|(id, _)| id).collect();
    let datafeeds: Vec<&str> = datafeeds.into_iter().map(|(id, _)| id).collect();
    assert_eq!(jobs, ["pay-declines", "web-latency"]);
    assert_eq!(datafeeds, ["datafeed-pay-declines", "datafeed-web-latency"]);
    assert_eq!(
        capture.failed.len(),
        1,
        "pay-fraud, failed, is selected and left out"
    );
    let text = capture.render(at(), "sim:", None);
    assert!(text.contains("# Jobs: those matching `payments`, `web-l*`"));
}

#[test]
fn selections_parse_like_elasticsearch_expressions() {
    assert!(
        Selection::parse::<&str>(&[])
            .expect("valid")
            .is_everything()
    );
    assert!(
        Selection::parse(&["web,_all"])
            .expect("valid")
            .is_everything()
    );
    let both = Selection::parse(&["web, prod-*", "web"]).expect("valid");
    let tokens: Vec<&str> = both.tokens().iter().map(Pattern::as_str).collect();
    assert_eq!(tokens, ["web", "prod-*"]);
    match Selection::parse(&["Web"]) {
        Err(CaptureError::BadMatch { token, reason }) => {
            assert_eq!(token, "Web");
            assert_eq!(reason, "uppercase `W`: ids are lowercase");
        }
        other => panic!("expected a bad match, got {other:?}"),
    }
}

#[test]
fn exact_tokens_must_select_something_wildcards_need_not() {
    let snapshot = snapshot();
    let ok = Selection::parse(&["batch", "nothing-*", "0755"]).expect("valid");
    assert!(ok.check(&snapshot).is_ok());
    let missing = Selection::parse(&["web", "wbe", "nope"]).expect("valid");
    match missing.check(&snapshot) {
        Err(CaptureError::NoMatch { tokens }) => assert_eq!(tokens, "`wbe`, `nope`"),
        other => panic!("expected no match, got {other:?}"),
    }
}
