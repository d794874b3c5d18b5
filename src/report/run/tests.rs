//! Reporter tests on a hand-built event stream: a success, an already-in-state, a retry then
//! success, an escalation, a failure with an Elasticsearch error and a skip. Times are fixed,
//! so the snapshots need no redaction.

use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{ProgressDrawTarget, TermLike};

use crate::exec::{CancelReason, Event, EventKind, RunStats, StepError, StepNo, Success};
use crate::model::{ForcePolicy, OnFailure};
use crate::plan::{Action, Force, PlanView, SettingsView, SourceRef, StepView, Summary};

use super::labels::StepLabels;
use super::style::{Paint, human_duration};
use super::tally::RunTally;
use super::{HumanReporter, JsonReporter, Reporter, summary};

/// A `Write` whose bytes the test can read after handing it to a reporter.
#[derive(Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl SharedBuf {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().expect("buffer lock").clone()).expect("utf-8 output")
    }
}

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("buffer lock").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

const STEPS: [(Action, &str, usize); 7] = [
    (Action::StopDatafeed, "datafeed-web-latency", 12),
    (Action::StopDatafeed, "datafeed-disk-usage", 18),
    (Action::StopDatafeed, "datafeed-api-errors", 24),
    (Action::StopDatafeed, "datafeed-stuck", 30),
    (Action::CloseJob, "web-latency", 9),
    (Action::CloseJob, "api-errors", 21),
    (Action::EnableUpgradeMode, "_ml", 4),
];

fn view() -> PlanView {
    let steps = STEPS
        .iter()
        .enumerate()
        .map(|(index, (action, target, line))| StepView {
            id: index + 1,
            action: *action,
            target: (*target).to_owned(),
            reason: "wanted down".to_owned(),
            observed: None,
            force: Force::NotNeeded,
            model_bytes: 0,
            estimate_ms: 0,
            wave: 1,
            dependencies: Vec::new(),
            dependents: Vec::new(),
            source: Some(SourceRef {
                file: "workflows/maintenance.yaml".to_owned(),
                line: *line,
                column: 5,
            }),
        })
        .collect();
    PlanView {
        version: 1,
        // `PlaybookRef` is not re-exported by `plan`; its JSON form is.
        playbook: serde_json::from_value(serde_json::json!({
            "name": "maintenance",
            "path": "workflows/maintenance.yaml",
            "digest": "sha256:00",
        }))
        .expect("playbook reference"),
        offline: true,
        settings: SettingsView {
            concurrency: 4,
            step_timeout_ms: 30_000,
            retry_attempts: 3,
            initial_backoff_ms: 500,
            max_backoff_ms: 30_000,
            on_failure: OnFailure::Continue,
            force: ForcePolicy::AfterTimeout,
        },
        summary: Summary::default(),
        steps,
        edges: Vec::new(),
        unchanged: Vec::new(),
        snapshot_digest: None,
        snapshot: None,
    }
}

fn at(elapsed_ms: u64, kind: EventKind) -> Event {
    let start = 1_795_000_000_000_i64;
    Event {
        at: jiff::Timestamp::from_millisecond(start + i64::try_from(elapsed_ms).expect("small"))
            .expect("valid timestamp"),
        elapsed: Duration::from_millis(elapsed_ms),
        kind,
    }
}

fn started(ms: u64, step: StepNo, attempt: u32) -> Event {
    at(ms, EventKind::StepStarted { step, attempt })
}

fn succeeded(ms: u64, step: StepNo, outcome: Success, attempts: u32, took: u64) -> Event {
    at(
        ms,
        EventKind::StepSucceeded {
            step,
            outcome,
            attempts,
            duration: Duration::from_millis(took),
        },
    )
}

fn rejected() -> StepError {
    StepError {
        status: Some(429),
        error_type: "es_rejected_execution_exception".to_owned(),
        reason: "rejected execution of persistent task".to_owned(),
        diagnosis: None,
    }
}

fn close_failure() -> StepError {
    StepError {
        status: Some(500),
        error_type: "status_exception".to_owned(),
        reason: "could not close job [api-errors]: node disconnected".to_owned(),
        diagnosis: Some("state `closing` on node `ml-1`".to_owned()),
    }
}

/// The whole run, in the order the executor would emit it.
fn events() -> Vec<Event> {
    let finished = RunStats {
        changed: 4,
        already_in_state: 1,
        failed: 1,
        skipped: 1,
    };
    vec![
        at(
            0,
            EventKind::RunStarted {
                run_id: "20261128T120000Z-1a2b".to_owned(),
                playbook: "maintenance".to_owned(),
                cluster: "http://127.0.0.1:9200".to_owned(),
                steps: 7,
                concurrency: 4,
            },
        ),
        started(1, 1, 1),
        started(1, 2, 1),
        started(2, 3, 1),
        started(2, 4, 1),
        at(
            5,
            EventKind::StepWaiting {
                step: 1,
                observed: "stopping".to_owned(),
            },
        ),
        succeeded(10, 2, Success::AlreadyInState, 1, 8),
        at(
            40,
            EventKind::StepAttemptFailed {
                step: 3,
                attempt: 1,
                error: rejected(),
                retry_in: Some(Duration::from_millis(1_300)),
            },
        ),
        succeeded(1_201, 1, Success::Changed, 1, 1_200),
        started(1_202, 5, 1),
        started(1_340, 3, 2),
        succeeded(2_402, 3, Success::Changed, 2, 2_400),
        started(2_403, 6, 1),
        succeeded(4_602, 5, Success::Changed, 1, 3_400),
        at(
            12_403,
            EventKind::StepFailed {
                step: 6,
                error: close_failure(),
                attempts: 3,
                duration: Duration::from_millis(10_000),
            },
        ),
        at(
            12_404,
            EventKind::StepSkipped {
                step: 7,
                reason: "step #6 (close job api-errors) failed".to_owned(),
            },
        ),
        at(
            30_002,
            EventKind::StepEscalated {
                step: 4,
                warning: "stopping with force=true skips the final flush of datafeed-stuck"
                    .to_owned(),
            },
        ),
        succeeded(31_002, 4, Success::Changed, 2, 31_000),
        at(
            31_003,
            EventKind::RunFinished {
                stats: finished,
                duration: Duration::from_millis(31_003),
            },
        ),
    ]
}

/// A fixed-width terminal whose bytes land in the same buffer as the reporter's writer.
#[derive(Debug)]
struct FakeTerm(Arc<Mutex<Vec<u8>>>);

impl FakeTerm {
    fn write(&self, text: &str) -> io::Result<()> {
        self.0
            .lock()
            .expect("buffer lock")
            .extend_from_slice(text.as_bytes());
        Ok(())
    }
}

impl TermLike for FakeTerm {
    fn width(&self) -> u16 {
        100
    }

    fn move_cursor_up(&self, n: usize) -> io::Result<()> {
        self.write(&format!("\x1b[{n}A"))
    }

    fn move_cursor_down(&self, n: usize) -> io::Result<()> {
        self.write(&format!("\x1b[{n}B"))
    }

    fn move_cursor_right(&self, n: usize) -> io::Result<()> {
        self.write(&format!("\x1b[{n}C"))
    }

    fn move_cursor_left(&self, n: usize) -> io::Result<()> {
        self.write(&format!("\x1b[{n}D"))
    }

    fn write_line(&self, s: &str) -> io::Result<()> {
        self.write(s)?;
        self.write("\n")
    }

    fn write_str(&self, s: &str) -> io::Result<()> {
        self.write(s)
    }

    fn clear_line(&self) -> io::Result<()> {
        self.write("\r\x1b[2K")
    }

    fn flush(&self) -> io::Result<()> {
        Ok(())
    }
}

fn run_human(live: bool, color: bool) -> String {
    let buf = SharedBuf::default();
    let target =
        live.then(|| ProgressDrawTarget::term_like(Box::new(FakeTerm(Arc::clone(&buf.0)))));
    let mut reporter =
        HumanReporter::with_live_target(&view(), Box::new(buf.clone()), target, color);
    for event in events() {
        reporter.report(&event);
    }
    reporter.finish();
    buf.text()
}

#[test]
fn plain_human_output() {
    let output = run_human(false, false);
    assert!(
        !output.contains('\x1b'),
        "ANSI escape without colour:\n{output}"
    );
    insta::assert_snapshot!(output);
}

#[test]
fn colour_is_applied_only_when_asked() {
    let output = run_human(false, true);
    assert!(output.contains("\x1b[31m✗\x1b[0m"), "{output}");
    assert_eq!(
        strip_sgr(&output),
        run_human(false, false),
        "colour must not change the text"
    );
}

fn strip_sgr(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn live_display_prints_alerts_above_the_bars_and_ends_with_the_summary() {
    let output = run_human(true, false);
    let mut tally = RunTally::new(STEPS.len());
    for event in events() {
        tally.record(&event);
    }
    let summary = summary::render(&tally, &StepLabels::new(&view()), Paint::new(false));
    assert!(output.ends_with(&format!("\n{summary}")), "{output}");
    let before_summary = &output[..output.len() - summary.len()];
    assert!(before_summary.contains("applying `maintenance` to http://127.0.0.1:9200"));
    assert!(before_summary.contains("✗ #6 close job api-errors: 500 status_exception"));
    assert!(before_summary.contains("↻ #3 stop datafeed datafeed-api-errors: 429"));
    assert!(before_summary.contains("⚠ #4 stop datafeed datafeed-stuck escalated to force"));
    // Successes and skips are progress the bars show, not log lines.
    assert!(!before_summary.contains("✓ #1"));
    assert!(!before_summary.contains("- #7"));
}

#[test]
fn json_lines_are_versioned_events() {
    let buf = SharedBuf::default();
    let mut reporter = JsonReporter::new(Box::new(buf.clone()));
    for event in events() {
        reporter.report(&event);
    }
    let before_finish = buf.text();
    reporter.finish();
    let output = buf.text();
    assert_eq!(output, before_finish, "finish writes nothing more");
    let lines: Vec<&str> = output.lines().collect();
    assert_eq!(lines.len(), events().len());
    for (line, event) in lines.iter().zip(events()) {
        let value: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
        assert_eq!(value["version"], 1, "{line}");
        let expected = serde_json::to_value(&event).expect("event serialises");
        assert_eq!(value["event"], expected["event"], "{line}");
    }
    insta::assert_snapshot!(output);
}

#[test]
fn an_early_end_says_what_was_still_running_and_never_started() {
    let mut tally = RunTally::new(STEPS.len());
    for event in events().into_iter().take(10) {
        tally.record(&event);
    }
    tally.record(&at(
        1_250,
        EventKind::RunCancelling {
            reason: CancelReason::Interrupted,
        },
    ));
    let text = summary::render(&tally, &StepLabels::new(&view()), Paint::new(false));
    insta::assert_snapshot!(text);
}

#[test]
fn in_flight_steps_are_listed_longest_running_first() {
    let mut tally = RunTally::new(STEPS.len());
    for event in [
        started(50, 5, 1),
        started(10, 6, 1),
        started(10, 2, 1),
        started(20, 2, 2),
    ] {
        tally.record(&event);
    }
    assert_eq!(
        tally.in_flight(),
        vec![
            (2, Duration::from_millis(10)),
            (6, Duration::from_millis(10)),
            (5, Duration::from_millis(50)),
        ],
        "a retry keeps the step's first start"
    );
    let counts = tally.counts();
    assert_eq!(
        (counts.running, counts.not_started, counts.done()),
        (3, 4, 0)
    );
}

#[test]
fn the_executors_counts_win_once_the_run_finished() {
    let mut tally = RunTally::new(STEPS.len());
    tally.record(&at(
        5,
        EventKind::RunFinished {
            stats: RunStats {
                changed: 2,
                already_in_state: 0,
                failed: 0,
                skipped: 5,
            },
            duration: Duration::from_millis(1_500),
        },
    ));
    let text = summary::render(&tally, &StepLabels::new(&view()), Paint::new(false));
    assert!(
        text.starts_with(
            "run finished in 1.5s: 2 changed, 0 already in state, 0 failed, 5 skipped"
        ),
        "{text}"
    );
}

#[test]
fn durations_are_milliseconds_under_a_second_then_tenths_of_seconds() {
    assert_eq!(human_duration(Duration::ZERO), "0ms");
    assert_eq!(human_duration(Duration::from_millis(999)), "999ms");
    assert_eq!(human_duration(Duration::from_secs(1)), "1.0s");
    assert_eq!(human_duration(Duration::from_millis(1_260)), "1.3s");
    assert_eq!(human_duration(Duration::from_secs(754)), "754.0s");
}

#[test]
fn unknown_steps_are_named_by_number() {
    let labels = StepLabels::new(&view());
    assert_eq!(labels.name(5), "#5 close job web-latency");
    assert_eq!(labels.source(5), Some("workflows/maintenance.yaml:9"));
    assert_eq!(labels.name(42), "#42");
    assert_eq!(labels.source(0), None);
}

#[test]
fn a_second_interrupt_is_remembered_over_the_first() {
    let mut tally = RunTally::new(1);
    for reason in [
        CancelReason::Interrupted,
        CancelReason::Abandoned,
        CancelReason::Interrupted,
    ] {
        tally.record(&at(1, EventKind::RunCancelling { reason }));
    }
    assert_eq!(tally.cancelled(), Some(CancelReason::Abandoned));
    let text = summary::render(&tally, &StepLabels::new(&view()), Paint::new(false));
    assert!(text.starts_with("run abandoned in 1ms"), "{text}");
}
