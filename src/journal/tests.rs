//! Journals written by earlier versions keep reading: the fixtures under
//! `tests/fixtures/journals/` were written by real runs (see the README there) and are read back
//! here for the facts `runs`, `resume` and `revert` depend on.

use std::path::PathBuf;

use super::read::{RunLog, StepStatus, read};

fn fixture(name: &str) -> RunLog {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/journals")
        .join(name);
    read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

use StepStatus::{Abandoned, Changed, Failed, Skipped};

#[test]
fn v1_a_finished_run_reads_every_step_changed_and_upgrade_mode_left_on() {
    let log = fixture("v1-demo-shutdown.jsonl");
    assert_eq!(log.header.version, 1);
    assert_eq!(log.header.command, "apply");
    assert_eq!(log.segments.len(), 1);
    let segment = &log.segments[0];
    assert_eq!(segment.statuses(), vec![Changed; 42]);
    assert!(!segment.interrupted());
    let finished = segment.finished().expect("finished");
    assert_eq!(finished.changed, 42);
    assert!(log.enabled_upgrade_mode());
    assert!(!log.disabled_upgrade_mode());
    assert!(!log.torn_tail);
}

#[test]
fn v1_a_failed_run_with_retries_escalations_and_skips_then_its_resume() {
    let log = fixture("v1-failed-then-resumed.jsonl");
    assert_eq!(log.segments.len(), 2, "the run and its resume");
    let first = &log.segments[0];
    assert_eq!(
        first.statuses(),
        vec![
            Changed, // #1 stop datafeed-pay-fraud
            Failed,  // #2 stop datafeed-web-errors: 403
            Changed, // #3 stop datafeed-web-latency: stuck, escalated after the timeout
            Changed, // #4 close pay-declines: failed job, closed with force
            Changed, // #5 close pay-fraud: two 503s, then success
            Skipped, // #6 close web-errors: needs #2
            Changed, // #7 close web-latency
            Skipped, // #8 enable upgrade mode: needs #2
        ]
    );
    assert!(!first.interrupted());
    let stats = first.finished().expect("finished");
    assert_eq!((stats.changed, stats.failed, stats.skipped), (5, 1, 2));
    let resumed = &log.segments[1];
    assert_eq!(resumed.statuses(), vec![Changed; 3]);
    assert!(resumed.finished().is_some());
    assert!(log.enabled_upgrade_mode(), "the resume enabled it");
    assert_eq!(log.targets().len(), 8);
}

#[test]
fn v1_a_run_interrupted_twice_reads_as_interrupted() {
    let log = fixture("v1-interrupted-twice.jsonl");
    let segment = &log.segments[0];
    assert_eq!(
        segment.statuses(),
        vec![
            Changed, // #1..#3 the stops
            Changed, Changed, Skipped,   // #4 not started: interrupted
            Abandoned, // #5 close pay-fraud: format 1 wrote "failed, interrupted"
            Skipped, Skipped, Skipped, // #8 upgrade mode: needs #5
        ]
    );
    assert!(segment.interrupted());
    assert!(segment.finished().is_some());
    assert!(!log.enabled_upgrade_mode());
}

use crate::exec::EventKind;

use super::read::Recorded;
use StepStatus::Interrupted;

#[test]
fn v2_a_failed_run_then_its_resume_reads_the_same_as_in_format_1() {
    let log = fixture("v2-failed-then-resumed.jsonl");
    assert_eq!(log.header.version, 2);
    assert_eq!(log.segments.len(), 2);
    assert!(
        log.segments
            .iter()
            .flat_map(|s| &s.events)
            .all(|e| matches!(e, Recorded::V2(_)))
    );
    let v1 = fixture("v1-failed-then-resumed.jsonl");
    for (now, then) in log.segments.iter().zip(&v1.segments) {
        assert_eq!(now.statuses(), then.statuses());
        assert_eq!(now.finished(), then.finished());
    }
    // Format 2 keeps the facts themselves.
    let escalations = log.segments[0]
        .events
        .iter()
        .filter(|e| {
            matches!(
                e,
                Recorded::V2(event) if matches!(event.kind, EventKind::StepEscalated { .. })
            )
        })
        .count();
    assert_eq!(escalations, 2, "the failed job and the stuck stop");
}

#[test]
fn v2_a_run_interrupted_twice_reads_the_abandoned_step() {
    let log = fixture("v2-interrupted-twice.jsonl");
    let segment = &log.segments[0];
    assert_eq!(
        segment.statuses(),
        vec![
            Changed, Changed, Changed,   // the stops
            Skipped,   // #4 not started
            Abandoned, // #5 close pay-fraud
            Skipped, Skipped, Skipped,
        ]
    );
    assert!(segment.interrupted());
    let stats = segment.finished().expect("finished");
    assert_eq!((stats.interrupted, stats.failed), (1, 0));
}

#[test]
fn v2_a_run_interrupted_in_back_off_then_resumed() {
    let log = fixture("v2-interrupted-in-back-off-then-resumed.jsonl");
    assert_eq!(log.segments.len(), 2);
    let first = &log.segments[0];
    assert_eq!(
        first.statuses(),
        vec![
            Changed,
            Changed,
            Changed,
            Changed,     // the stops, the failed job's close
            Interrupted, // #5 close pay-fraud: 503, then no new attempt
            Changed,
            Changed,
            Skipped, // #8 upgrade mode
        ]
    );
    assert!(first.interrupted());
    let resumed = &log.segments[1];
    assert_eq!(resumed.statuses(), vec![Changed, Changed]);
    assert!(!resumed.interrupted());
    assert!(log.enabled_upgrade_mode());
}

/// A scratch journal made of `lines`.
fn journal_of(name: &str, lines: &[String]) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "quiesce-journal-{name}-{}.jsonl",
        std::process::id()
    ));
    std::fs::write(&path, lines.join("\n") + "\n").expect("scratch journal");
    path
}

/// The lines of a fixture.
fn lines_of(name: &str) -> Vec<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/journals")
        .join(name);
    std::fs::read_to_string(path)
        .expect("fixture")
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn an_event_this_quiesce_does_not_know_is_an_error_not_a_silence() {
    for fixture in ["v1-demo-shutdown.jsonl", "v2-interrupted-twice.jsonl"] {
        let mut lines = lines_of(fixture);
        let index = lines
            .iter()
            .position(|l| l.contains("\"step_succeeded\""))
            .expect("a success");
        lines[index] = lines[index].replace("\"step_succeeded\"", "\"step_suceeded\"");
        let path = journal_of("renamed", &lines);
        let read = read(&path);
        let _ = std::fs::remove_file(&path);
        let Err(err) = read else {
            panic!("{fixture}: a renamed event was read");
        };
        let text = err.to_string();
        let line = format!("line {}", index + 1);
        assert!(
            text.contains(&line) && text.contains("step_suceeded"),
            "{fixture}: {text}"
        );
    }
}

#[test]
fn a_torn_last_line_is_skipped_and_reported() {
    let mut lines = lines_of("v2-interrupted-twice.jsonl");
    let last = lines.pop().expect("lines");
    lines.push(last[..last.len() / 2].to_owned());
    let path = journal_of("torn", &lines);
    let log = read(&path).expect("reads");
    let _ = std::fs::remove_file(&path);
    assert!(log.torn_tail);
    assert_eq!(
        log.segments[0].finished(),
        None,
        "the torn line was run_finished"
    );
}

#[test]
fn a_journal_of_a_newer_format_is_refused() {
    let mut lines = lines_of("v2-interrupted-twice.jsonl");
    lines[0] = lines[0].replacen("\"version\":2", "\"version\":3", 1);
    let path = journal_of("newer", &lines);
    let read = read(&path);
    let _ = std::fs::remove_file(&path);
    let Err(err) = read else {
        panic!("a journal of format 3 was read");
    };
    assert!(err.to_string().contains("journal format 3"), "{err}");
}
