//! Journals written by earlier versions keep reading: the fixtures under
//! `tests/fixtures/journals/` were written by real runs (see the README there) and are read back
//! here for the facts `runs`, `resume` and `revert` depend on.

use std::path::PathBuf;

use super::log::{RunLog, StepStatus, UpgradeMode};
use super::read::parse_journal as read;

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
    assert_eq!(log.upgrade_mode(), Some(UpgradeMode::On));
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
    assert_eq!(
        log.upgrade_mode(),
        Some(UpgradeMode::On),
        "the resume enabled it"
    );
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
    assert_eq!(log.upgrade_mode(), None, "never got to it");
}

use crate::exec::EventKind;

use super::log::Recorded;
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
            .all(|e| matches!(e, Recorded::Typed(_)))
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
                Recorded::Typed(event) if matches!(event.kind, EventKind::StepEscalated { .. })
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
    assert_eq!(log.upgrade_mode(), Some(UpgradeMode::On));
}

/// A scratch journal made of `lines`, removed when dropped.
fn journal_of(name: &str, lines: &[String]) -> tempfile::TempPath {
    let file = tempfile::Builder::new()
        .prefix(&format!("quiesce-journal-{name}-"))
        .suffix(".jsonl")
        .tempfile()
        .expect("scratch journal");
    std::fs::write(file.path(), lines.join("\n") + "\n").expect("scratch journal");
    file.into_temp_path()
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
    lines[0] = lines[0].replacen("\"version\":2", "\"version\":4", 1);
    let path = journal_of("newer", &lines);
    let read = read(&path);
    let Err(err) = read else {
        panic!("a journal of format 4 was read");
    };
    assert!(err.to_string().contains("journal format 4"), "{err}");
}

use super::line::JOURNAL_FORMAT_VERSION;
use super::write::Journal;

/// A journal of the current format in a scratch state directory, made of the events of a
/// format 2 fixture: its path (named after its run) and its lines.
fn current_journal(dir: &std::path::Path) -> (PathBuf, Vec<String>) {
    let fixture = fixture("v2-failed-then-resumed.jsonl");
    let mut header = fixture.header.clone();
    header.version = JOURNAL_FORMAT_VERSION;
    let mut journal = Journal::create(dir, &header, None).expect("created");
    for event in &fixture.segments[0].events {
        let Recorded::Typed(event) = event else {
            panic!("format 2 events");
        };
        journal.event(event).expect("written");
    }
    let path = journal.path().to_owned();
    let lines = std::fs::read_to_string(&path)
        .expect("written")
        .lines()
        .map(str::to_owned)
        .collect();
    (path, lines)
}

/// Issue 11 (7): every line of format 3 is numbered; the numbers read back, and a resume
/// continues them.
#[test]
fn lines_are_numbered_and_a_resume_continues_the_numbers() {
    let dir = tempfile::tempdir().expect("scratch");
    let (path, lines) = current_journal(dir.path());
    for (index, line) in lines.iter().enumerate() {
        let value: serde_json::Value = serde_json::from_str(line).expect("JSON");
        assert_eq!(value["seq"], index, "{line}");
    }
    let log = super::read::read(&path).expect("reads");
    assert_eq!(log.next_seq(), lines.len() as u64);
    assert_eq!(log.segments[0].statuses().len(), 8);

    // A crash tears the last line; the resume ends it and goes on with the next number.
    let mut text = std::fs::read_to_string(&path).expect("journal");
    text.push_str(r#"{"seq":99,"type":"event","at":"#);
    std::fs::write(&path, text).expect("torn");
    let torn = super::read::read(&path).expect("reads");
    assert!(torn.torn_tail);
    let mut journal = Journal::append_to(&path, torn.next_seq(), None).expect("opens");
    journal.resumed(&torn.segments[0].plan).expect("resumed");
    let resumed = super::read::read(&path).expect("reads after the resume");
    assert_eq!(resumed.segments.len(), 2);
    assert!(resumed.torn_tail, "the fragment stays, skipped");
}

/// Rewrites line `index` of the journal at `path` (`None`: deletes it), then reads it.
fn read_edited(
    path: &std::path::Path,
    lines: &[String],
    index: usize,
    edit: Option<String>,
) -> Result<RunLog, super::JournalError> {
    let mut edited = lines.to_vec();
    match edit {
        Some(line) => edited[index] = line,
        None => {
            edited.remove(index);
        }
    }
    std::fs::write(path, edited.join("\n") + "\n").expect("edited");
    super::read::read(path)
}

/// Issue 11 (7): a journal that was edited is refused with what is wrong, never read as if it
/// were whole.
#[test]
fn a_deleted_line_a_changed_version_or_another_runs_header_is_refused() {
    let dir = tempfile::tempdir().expect("scratch");
    let (path, lines) = current_journal(dir.path());

    let deleted = read_edited(&path, &lines, 5, None).expect_err("a line deleted");
    assert!(
        deleted
            .to_string()
            .contains("1 line(s) are missing (deleted?)"),
        "{deleted}"
    );

    for older in ["\"version\":2", "\"version\":1"] {
        let header = lines[0].replacen("\"version\":3", older, 1);
        let err = read_edited(&path, &lines, 0, Some(header)).expect_err("version changed");
        assert!(
            err.to_string().contains("the format version was changed"),
            "{older}: {err}"
        );
    }

    let other = lines[0].replacen(
        "\"run_id\":\"20261130T141934Z-3079\"",
        "\"run_id\":\"20261130T141934Z-ffff\"",
        1,
    );
    assert_ne!(other, lines[0]);
    let renamed = read_edited(&path, &lines, 0, Some(other)).expect_err("another run");
    assert!(
        renamed
            .to_string()
            .contains("its header names run `20261130T141934Z-ffff`"),
        "{renamed}"
    );

    // Format 2 lines under a header changed to say format 1.
    let mut v2 = lines_of("v2-interrupted-twice.jsonl");
    v2[0] = v2[0].replacen("\"version\":2", "\"version\":1", 1);
    let path = journal_of("v2-as-v1", &v2);
    let read = read(&path);
    let err = read.expect_err("format 2 events under a format 1 header");
    assert!(
        err.to_string().contains("the format version was changed"),
        "{err}"
    );
}

/// Issue 11 (7): reading is bounded: a journal that is a device, or a line longer than any
/// quiesce writes, is refused without being read whole.
#[test]
fn reading_a_journal_is_bounded() {
    let dir = tempfile::tempdir().expect("scratch");
    #[cfg(unix)]
    {
        let zero = dir.path().join("20261130T000000Z-0000.jsonl");
        std::os::unix::fs::symlink("/dev/zero", &zero).expect("symlink");
        let err = super::read::read(&zero).expect_err("a device");
        assert!(err.to_string().contains("character device"), "{err}");
    }
    let long = dir.path().join("long.jsonl");
    let mut file = std::fs::File::create(&long).expect("create");
    let line = vec![b'x'; super::line::MAX_LINE_BYTES + 1024];
    std::io::Write::write_all(&mut file, &line).expect("write");
    drop(file);
    let err = read(&long).expect_err("too long a line");
    assert!(err.to_string().contains("longer than 64 MiB"), "{err}");
}
