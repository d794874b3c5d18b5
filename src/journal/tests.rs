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
