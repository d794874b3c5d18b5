//! Reporter tests on a hand-built event stream: a success, an already-in-state, a retry then
//! success, an escalation, a failure with an Elasticsearch error and a skip; and a run
//! interrupted twice. Times are fixed, so the snapshots need no redaction.

use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{ProgressDrawTarget, TermLike};

use crate::exec::{
    CancelReason, EVENT_FORMAT_VERSION, EsAnswer, Escalation, Event, EventKind, Observation,
    RunStats, SkipReason, StepError, StepNo, StepRef, Success, TargetState,
};
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
            upgrade: None,
        },
        summary: Summary::default(),
        steps,
        edges: Vec::new(),
        unchanged: Vec::new(),
        snapshot_digest: None,
        snapshot: None,
        snapshot_gate: None,
        maintenance: None,
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

/// What events say about step `no` of [`view`].
fn step(no: StepNo) -> StepRef {
    StepRef::from(&view().steps[no - 1])
}

fn started(ms: u64, no: StepNo, attempt: u32) -> Event {
    at(
        ms,
        EventKind::StepStarted {
            step: step(no),
            attempt,
        },
    )
}

fn succeeded(ms: u64, no: StepNo, outcome: Success, attempts: u32, took: u64) -> Event {
    at(
        ms,
        EventKind::StepSucceeded {
            step: step(no),
            outcome,
            attempts,
            duration: Duration::from_millis(took),
        },
    )
}

fn rejected() -> StepError {
    StepError::Elasticsearch(EsAnswer {
        status: 429,
        error_type: "es_rejected_execution_exception".to_owned(),
        reason: "rejected execution of persistent task".to_owned(),
        caused_by: None,
    })
}

fn close_failure() -> StepError {
    StepError::StepTimeout {
        timeout: Duration::from_secs(10),
        observed: Some(Observation {
            state: TargetState::Closing,
            node: Some("ml-1".to_owned()),
            assignment_explanation: None,
            min_version: None,
        }),
    }
}

/// The whole run, in the order the executor would emit it.
fn events() -> Vec<Event> {
    let finished = RunStats {
        changed: 4,
        already_in_state: 1,
        failed: 1,
        skipped: 1,
        interrupted: 0,
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
                journal: None,
            },
        ),
        started(1, 1, 1),
        started(1, 2, 1),
        started(2, 3, 1),
        started(2, 4, 1),
        at(
            5,
            EventKind::StepWaiting {
                step: step(1),
                observed: TargetState::Started,
            },
        ),
        succeeded(10, 2, Success::AlreadyInState, 1, 8),
        at(
            40,
            EventKind::StepAttemptFailed {
                step: step(3),
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
                step: step(6),
                error: close_failure(),
                attempts: 3,
                duration: Duration::from_millis(10_000),
            },
        ),
        at(
            12_404,
            EventKind::StepSkipped {
                step: step(7),
                reason: SkipReason::DependencyFailed { step: 6 },
            },
        ),
        at(
            30_002,
            EventKind::StepEscalated {
                step: step(4),
                escalation: Escalation::AfterTimeout {
                    state: TargetState::Stopping,
                    timeout: Duration::from_secs(30),
                },
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
fn live_display_prints_every_line_above_the_bars_and_ends_with_the_summary() {
    let output = run_human(true, false);
    let mut tally = RunTally::new(STEPS.len());
    for event in events() {
        tally.record(&event);
    }
    let summary = summary::render(&tally, &StepLabels::new(&view()), Paint::new(false));
    assert!(output.ends_with(&format!("\n{summary}")), "{output}");
    let before_summary = &output[..output.len() - summary.len()];
    assert!(before_summary.contains("applying `maintenance` to http://127.0.0.1:9200"));
    assert!(before_summary.contains(
        "✗ #6 close job api-errors: still closing after the step timeout (10s), on node `ml-1`"
    ));
    assert!(before_summary.contains("↻ #3 stop datafeed datafeed-api-errors: 429"));
    assert!(before_summary.contains("⚠ #4 stop datafeed datafeed-stuck escalated to force"));
    // Finished steps stay in the scrollback, one line each, as in plain output.
    assert!(before_summary.contains("✓ #1"));
    assert!(before_summary.contains("- #7"));
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
        assert_eq!(value["version"], EVENT_FORMAT_VERSION, "{line}");
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
        tally.in_flight().collect::<Vec<_>>(),
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
                interrupted: 0,
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

/// A run interrupted twice: #1 done; #3 backing off when the first interrupt came (stopped);
/// #5 in flight when the second came (abandoned); #2 and #6 never started.
fn interrupted_events() -> Vec<Event> {
    vec![
        at(
            0,
            EventKind::RunStarted {
                run_id: "20261128T120000Z-1a2b".to_owned(),
                playbook: "maintenance".to_owned(),
                cluster: "http://127.0.0.1:9200".to_owned(),
                steps: 7,
                concurrency: 3,
                journal: Some(".quiesce/runs/20261128T120000Z-1a2b.jsonl".to_owned()),
            },
        ),
        started(1, 1, 1),
        started(1, 3, 1),
        started(1, 5, 1),
        succeeded(200, 1, Success::Changed, 1, 199),
        at(
            210,
            EventKind::StepAttemptFailed {
                step: step(3),
                attempt: 1,
                error: StepError::NoAnswer {
                    endpoint: "ml.stop_datafeed".to_owned(),
                    after: Duration::from_secs(30),
                },
                retry_in: Some(Duration::from_millis(781)),
            },
        ),
        at(
            400,
            EventKind::RunCancelling {
                reason: CancelReason::Interrupted,
            },
        ),
        at(
            401,
            EventKind::StepInterrupted {
                step: step(3),
                attempts: 1,
                duration: Duration::from_millis(400),
            },
        ),
        at(
            900,
            EventKind::RunCancelling {
                reason: CancelReason::Abandoned,
            },
        ),
        at(
            901,
            EventKind::StepAbandoned {
                step: step(5),
                attempts: 1,
                duration: Duration::from_millis(900),
            },
        ),
        at(
            902,
            EventKind::StepSkipped {
                step: step(2),
                reason: SkipReason::Interrupted,
            },
        ),
        at(
            902,
            EventKind::StepSkipped {
                step: step(4),
                reason: SkipReason::Interrupted,
            },
        ),
        at(
            902,
            EventKind::StepSkipped {
                step: step(6),
                reason: SkipReason::Interrupted,
            },
        ),
        at(
            902,
            EventKind::StepSkipped {
                step: step(7),
                reason: SkipReason::Interrupted,
            },
        ),
        at(
            903,
            EventKind::RunFinished {
                stats: RunStats {
                    changed: 1,
                    already_in_state: 0,
                    failed: 0,
                    skipped: 4,
                    interrupted: 2,
                },
                duration: Duration::from_millis(903),
            },
        ),
    ]
}

#[test]
fn an_interrupted_run_says_which_steps_were_stopped_and_which_abandoned() {
    let buf = SharedBuf::default();
    let mut human = HumanReporter::with_live_target(&view(), Box::new(buf.clone()), None, false);
    let json_buf = SharedBuf::default();
    let mut json = JsonReporter::new(Box::new(json_buf.clone()));
    for event in interrupted_events() {
        human.report(&event);
        json.report(&event);
    }
    human.finish();
    json.finish();
    insta::assert_snapshot!("interrupted_twice_human", buf.text());
    insta::assert_snapshot!("interrupted_twice_json", json_buf.text());
}

#[test]
fn events_read_back_as_they_were_written() {
    for event in events().into_iter().chain(interrupted_events()) {
        let json = serde_json::to_string(&event).expect("serialises");
        let back: Event = serde_json::from_str(&json).expect("reads back");
        assert_eq!(back, event, "{json}");
    }
}
