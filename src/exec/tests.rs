//! The scheduler and the step driver against [`FakeCluster`] on tokio's paused clock: every
//! delay is exact and no test waits for real time. Interrupts are sent from the event sink, on
//! the event that makes the moment, never after a sleep.

use std::time::Duration;

use crate::model::{ForcePolicy, OnFailure};
use crate::plan::{Action, Force, PlanView, SettingsView, StepView, Summary};

use super::fake::{FakeCluster, Reply};
use super::{
    CancelReason, Escalation, Event, EventKind, Interrupts, RunOptions, RunOutcome, SkipReason,
    StepError, StepNo, Success, TargetState, execute,
};

const S: Duration = Duration::from_secs(1);

pub(super) fn settings() -> SettingsView {
    SettingsView {
        concurrency: 4,
        step_timeout_ms: 60_000,
        retry_attempts: 5,
        initial_backoff_ms: 1_000,
        max_backoff_ms: 4_000,
        on_failure: OnFailure::Continue,
        force: ForcePolicy::Never,
        upgrade: None,
    }
}

/// A plan of `steps` (action, target, estimate in ms), numbered from 1, with `edges`
/// (before, after).
pub(super) fn plan(
    steps: &[(Action, &str, u64)],
    edges: &[(StepNo, StepNo)],
    settings: SettingsView,
) -> PlanView {
    let steps = steps
        .iter()
        .enumerate()
        .map(|(index, &(action, target, estimate_ms))| {
            let no = index + 1;
            StepView {
                id: no,
                action,
                target: target.to_owned(),
                reason: String::new(),
                observed: None,
                force: Force::NotNeeded,
                model_bytes: 0,
                estimate_ms,
                wave: 1,
                dependencies: edges.iter().filter(|e| e.1 == no).map(|e| e.0).collect(),
                dependents: edges.iter().filter(|e| e.0 == no).map(|e| e.1).collect(),
                source: None,
            }
        })
        .collect();
    PlanView {
        version: 1,
        playbook: serde_json::from_value(serde_json::json!({
            "name": "test", "path": "test.yaml", "digest": "sha256:00",
        }))
        .expect("playbook reference"),
        offline: true,
        settings,
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

pub(super) struct Run {
    pub(super) events: Vec<Event>,
    pub(super) outcome: RunOutcome,
}

/// Runs `view` on `cluster`; `on_event` sees each event as it is emitted and may interrupt.
async fn run_with(
    view: &PlanView,
    cluster: &FakeCluster,
    mut on_event: impl FnMut(&Event, &Interrupts),
) -> Run {
    let interrupts = Interrupts::new();
    let mut events = Vec::new();
    let options = RunOptions {
        run_id: "test".into(),
        cluster: "fake".into(),
        concurrency: None,
        interrupts: interrupts.clone(),
        seed: 7,
        journal: None,
    };
    let outcome = execute(view, cluster.clone(), options, &mut |event| {
        on_event(&event, &interrupts);
        events.push(event);
    })
    .await;
    Run { events, outcome }
}

pub(super) async fn run(view: &PlanView, cluster: &FakeCluster) -> Run {
    run_with(view, cluster, |_, _| {}).await
}

impl Run {
    /// The events about step `no`.
    fn of(&self, no: StepNo) -> Vec<&Event> {
        self.events
            .iter()
            .filter(|e| e.kind.step().is_some_and(|s| s.no == no))
            .collect()
    }

    /// Where the first event matching `pred` is in the stream.
    fn position(&self, pred: impl Fn(&EventKind) -> bool) -> usize {
        self.events
            .iter()
            .position(|e| pred(&e.kind))
            .unwrap_or_else(|| panic!("no such event in {:#?}", self.kinds()))
    }

    /// How step `no` ended.
    fn end(&self, no: StepNo) -> &EventKind {
        self.of(no)
            .into_iter()
            .map(|e| &e.kind)
            .rfind(|k| {
                matches!(
                    k,
                    EventKind::StepSucceeded { .. }
                        | EventKind::StepFailed { .. }
                        | EventKind::StepInterrupted { .. }
                        | EventKind::StepAbandoned { .. }
                        | EventKind::StepSkipped { .. }
                )
            })
            .unwrap_or_else(|| panic!("step #{no} did not end: {:#?}", self.kinds()))
    }

    fn kinds(&self) -> Vec<&EventKind> {
        self.events.iter().map(|e| &e.kind).collect()
    }

    pub(super) fn starts(&self) -> Vec<StepNo> {
        self.events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::StepStarted { step, attempt: 1 } => Some(step.no),
                _ => None,
            })
            .collect()
    }
}

fn started(no: StepNo) -> impl Fn(&EventKind) -> bool {
    move |k| matches!(k, EventKind::StepStarted { step, .. } if step.no == no)
}

fn succeeded(no: StepNo) -> impl Fn(&EventKind) -> bool {
    move |k| matches!(k, EventKind::StepSucceeded { step, .. } if step.no == no)
}

const UNAVAILABLE: Reply = Reply::Refuse(503, "master_not_discovered_exception", "no master");

#[tokio::test(start_paused = true)]
async fn retryable_errors_are_retried_after_jittered_exponential_backoff() {
    let cluster = FakeCluster::new().with("web", TargetState::Opened).replies(
        Action::CloseJob,
        "web",
        &[UNAVAILABLE, Reply::NoAnswer, UNAVAILABLE],
    );
    let view = plan(&[(Action::CloseJob, "web", 0)], &[], settings());
    let run = run(&view, &cluster).await;

    let failures: Vec<(u32, Duration, Duration)> = run
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::StepAttemptFailed {
                attempt,
                retry_in: Some(retry_in),
                error: StepError::Elasticsearch(_) | StepError::NoAnswer { .. },
                ..
            } => Some((*attempt, *retry_in, e.elapsed)),
            _ => None,
        })
        .collect();
    assert_eq!(failures.len(), 3, "{:#?}", run.kinds());
    let requests = cluster.requests_for("web");
    assert_eq!(requests.len(), 4, "three refusals, then the close");
    for (index, (attempt, retry_in, at)) in failures.iter().enumerate() {
        assert_eq!(*attempt, u32::try_from(index + 1).expect("small"));
        // Full jitter under a cap that doubles from `initial_backoff` up to `max_backoff`.
        let cap = (S * (1 << index)).min(4 * S);
        assert!(
            *retry_in <= cap,
            "attempt {attempt}: {retry_in:?} > {cap:?}"
        );
        // The next request goes out exactly when the back-off ends.
        assert_eq!(requests[index + 1].at, *at + *retry_in, "attempt {attempt}");
    }
    assert_eq!(
        run.end(1),
        &EventKind::StepSucceeded {
            step: run.of(1)[0].kind.step().expect("a step").clone(),
            outcome: Success::Changed,
            attempts: 4,
            duration: requests[3].at,
        }
    );
    assert_eq!(cluster.state("web"), Some(TargetState::Closed));
}

#[tokio::test(start_paused = true)]
async fn retries_end_when_the_attempts_are_used_up() {
    let cluster = FakeCluster::new().with("web", TargetState::Opened).replies(
        Action::CloseJob,
        "web",
        &[UNAVAILABLE; 5],
    );
    let view = plan(
        &[(Action::CloseJob, "web", 0)],
        &[],
        SettingsView {
            retry_attempts: 3,
            ..settings()
        },
    );
    let run = run(&view, &cluster).await;
    assert_eq!(cluster.requests_for("web").len(), 3);
    let EventKind::StepFailed {
        attempts, error, ..
    } = run.end(1)
    else {
        panic!("{:#?}", run.kinds());
    };
    assert_eq!(*attempts, 3);
    assert!(matches!(error, StepError::Elasticsearch(a) if a.status == 503));
    let last_failure = run.position(|k| {
        matches!(
            k,
            EventKind::StepAttemptFailed {
                attempt: 3,
                retry_in: None,
                ..
            }
        )
    });
    assert!(last_failure > 0);
}

#[tokio::test(start_paused = true)]
async fn a_4xx_fails_the_step_at_once() {
    let cluster = FakeCluster::new()
        .with("datafeed-web", TargetState::Started)
        .replies(
            Action::StopDatafeed,
            "datafeed-web",
            &[Reply::Refuse(403, "security_exception", "unauthorized")],
        );
    let view = plan(
        &[(Action::StopDatafeed, "datafeed-web", 0)],
        &[],
        settings(),
    );
    let run = run(&view, &cluster).await;
    assert_eq!(cluster.requests().len(), 1, "not retried");
    let EventKind::StepFailed {
        attempts,
        error,
        duration,
        ..
    } = run.end(1)
    else {
        panic!("{:#?}", run.kinds());
    };
    assert_eq!((*attempts, *duration), (1, Duration::ZERO));
    assert!(
        matches!(error, StepError::Elasticsearch(a) if a.status == 403 && a.error_type == "security_exception"),
        "{error:?}"
    );
    assert_eq!(run.outcome.stats.failed, 1);
}

#[tokio::test(start_paused = true)]
async fn a_transition_that_outlives_the_step_timeout_fails_with_what_stats_say() {
    let cluster = FakeCluster::new()
        .with("datafeed-web", TargetState::Started)
        .stuck("datafeed-web");
    let view = plan(
        &[(Action::StopDatafeed, "datafeed-web", 0)],
        &[],
        SettingsView {
            step_timeout_ms: 10_000,
            ..settings()
        },
    );
    let run = run(&view, &cluster).await;
    let EventKind::StepFailed {
        error, duration, ..
    } = run.end(1)
    else {
        panic!("{:#?}", run.kinds());
    };
    let StepError::StepTimeout {
        timeout,
        observed: Some(observed),
    } = error
    else {
        panic!("{error:?}");
    };
    assert_eq!(*timeout, 10 * S);
    assert_eq!(observed.state, TargetState::Stopping);
    assert_eq!(observed.node.as_deref(), Some("ml-1"));
    // Noticed at the first look after the deadline; looks are at most 2s apart.
    assert!(*duration >= 10 * S && *duration <= 12 * S, "{duration:?}");
    assert_eq!(
        cluster.requests().len(),
        1,
        "`force: never`: no forced request"
    );
}

#[tokio::test(start_paused = true)]
async fn after_the_step_timeout_a_stuck_stop_is_forced_when_settings_allow() {
    let cluster = FakeCluster::new()
        .with("datafeed-web", TargetState::Started)
        .stuck("datafeed-web");
    let view = plan(
        &[(Action::StopDatafeed, "datafeed-web", 0)],
        &[],
        SettingsView {
            step_timeout_ms: 10_000,
            force: ForcePolicy::AfterTimeout,
            ..settings()
        },
    );
    let run = run(&view, &cluster).await;
    let escalated = run.position(|k| {
        matches!(
            k,
            EventKind::StepEscalated {
                escalation: Escalation::AfterTimeout {
                    state: TargetState::Stopping,
                    timeout,
                },
                ..
            } if *timeout == 10 * S
        )
    });
    assert!(run.events[escalated].elapsed >= 10 * S);
    let forced: Vec<bool> = cluster.requests().iter().map(|r| r.forced).collect();
    assert_eq!(forced, vec![false, true]);
    assert!(matches!(
        run.end(1),
        EventKind::StepSucceeded {
            outcome: Success::Changed,
            attempts: 2,
            ..
        }
    ));
}

#[tokio::test(start_paused = true)]
async fn a_failed_job_is_closed_with_force_only_when_settings_allow() {
    let cluster = || FakeCluster::new().with("pay", TargetState::Failed);
    let view = |force| {
        plan(
            &[(Action::CloseJob, "pay", 0)],
            &[],
            SettingsView {
                force,
                ..settings()
            },
        )
    };

    let never = cluster();
    let run_never = run(&view(ForcePolicy::Never), &never).await;
    assert!(
        matches!(run_never.end(1), EventKind::StepFailed { error: StepError::ForceNotAllowed(a), .. } if a.status == 409),
        "{:#?}",
        run_never.kinds()
    );
    assert_eq!(never.requests().len(), 1);
    assert_eq!(never.state("pay"), Some(TargetState::Failed));

    let allowed = cluster();
    let run_allowed = run(&view(ForcePolicy::AfterTimeout), &allowed).await;
    run_allowed.position(|k| {
        matches!(
            k,
            EventKind::StepEscalated {
                escalation: Escalation::FailedJob,
                ..
            }
        )
    });
    let forced: Vec<bool> = allowed.requests().iter().map(|r| r.forced).collect();
    assert_eq!(forced, vec![true], "stats show it failed: forced at once");
    assert!(matches!(
        run_allowed.end(1),
        EventKind::StepSucceeded { .. }
    ));
    assert_eq!(allowed.state("pay"), Some(TargetState::Closed));

    // When the plan already knew, the first request is the forced one too.
    let known = cluster();
    let mut view = view(ForcePolicy::AfterTimeout);
    view.steps[0].force = Force::RequiredAllowed;
    let run_known = run(&view, &known).await;
    assert!(matches!(
        run_known.events[1].kind,
        EventKind::StepEscalated {
            escalation: Escalation::FailedJob,
            ..
        }
    ));
    let forced: Vec<bool> = known.requests().iter().map(|r| r.forced).collect();
    assert_eq!(forced, vec![true]);
}

/// Two independent pairs: stop `datafeed-a` then close `a` (#1 → #2), and the same for `b`
/// (#3 → #4). The stop of `datafeed-a` is refused, and heads the longest chain.
fn two_pairs(on_failure: OnFailure) -> (PlanView, FakeCluster) {
    let view = plan(
        &[
            (Action::StopDatafeed, "datafeed-a", 5_000),
            (Action::CloseJob, "a", 5_000),
            (Action::StopDatafeed, "datafeed-b", 1_000),
            (Action::CloseJob, "b", 1_000),
        ],
        &[(1, 2), (3, 4)],
        SettingsView {
            concurrency: 1,
            on_failure,
            ..settings()
        },
    );
    let cluster = FakeCluster::new()
        .with("datafeed-a", TargetState::Started)
        .with("a", TargetState::Opened)
        .with("datafeed-b", TargetState::Started)
        .with("b", TargetState::Opened)
        .replies(
            Action::StopDatafeed,
            "datafeed-a",
            &[Reply::Refuse(400, "illegal_argument_exception", "bad")],
        );
    (view, cluster)
}

#[tokio::test(start_paused = true)]
async fn on_failure_continue_skips_only_the_dependents_of_a_failed_step() {
    let (view, cluster) = two_pairs(OnFailure::Continue);
    let run = run(&view, &cluster).await;
    assert!(matches!(run.end(1), EventKind::StepFailed { .. }));
    assert!(matches!(
        run.end(2),
        EventKind::StepSkipped {
            reason: SkipReason::DependencyFailed { step: 1 },
            ..
        }
    ));
    assert!(matches!(run.end(3), EventKind::StepSucceeded { .. }));
    assert!(matches!(run.end(4), EventKind::StepSucceeded { .. }));
    assert!(cluster.requests_for("a").is_empty());
    let stats = run.outcome.stats;
    assert_eq!((stats.changed, stats.failed, stats.skipped), (2, 1, 1));
    assert!(!run.outcome.interrupted);
}

#[tokio::test(start_paused = true)]
async fn on_failure_stop_starts_nothing_new() {
    let (view, cluster) = two_pairs(OnFailure::Stop);
    let run = run(&view, &cluster).await;
    assert!(matches!(run.end(1), EventKind::StepFailed { .. }));
    run.position(|k| {
        matches!(
            k,
            EventKind::RunCancelling {
                reason: CancelReason::StepFailed
            }
        )
    });
    assert!(matches!(
        run.end(2),
        EventKind::StepSkipped {
            reason: SkipReason::DependencyFailed { step: 1 },
            ..
        }
    ));
    for no in [3, 4] {
        assert!(
            matches!(
                run.end(no),
                EventKind::StepSkipped {
                    reason: SkipReason::Stopped { step: 1 },
                    ..
                }
            ),
            "#{no}: {:#?}",
            run.kinds()
        );
    }
    assert_eq!(cluster.requests().len(), 1, "only the refused stop");
    assert_eq!(run.outcome.stats.skipped, 3);
}

#[tokio::test(start_paused = true)]
async fn the_first_interrupt_lets_work_in_flight_finish_and_starts_nothing_new() {
    let view = plan(
        &[
            // #1: in back-off when the interrupt comes.
            (Action::CloseJob, "backing-off", 9_000),
            // #2: its request is in flight, and then refused.
            (Action::CloseJob, "refused-later", 8_000),
            // #3: its request is in flight, and then accepted.
            (Action::CloseJob, "slow", 7_000),
            // #4: accepted, waiting for the state to show.
            (Action::CloseJob, "settling", 6_000),
            // #5: not started yet.
            (Action::CloseJob, "waiting", 1_000),
            // #6: an open waiting for its job to finish closing before its first request.
            (Action::OpenJob, "reopening", 5_000),
            // #7: stuck past the step timeout, which would escalate to force.
            (Action::StopDatafeed, "stuck", 4_000),
        ],
        &[],
        SettingsView {
            concurrency: 6,
            initial_backoff_ms: 60_000,
            max_backoff_ms: 60_000,
            step_timeout_ms: 10_000,
            force: ForcePolicy::AfterTimeout,
            ..settings()
        },
    );
    let cluster = FakeCluster::new()
        .with("backing-off", TargetState::Opened)
        .replies(Action::CloseJob, "backing-off", &[UNAVAILABLE])
        .with("refused-later", TargetState::Opened)
        .latency("refused-later", 5 * S)
        .replies(Action::CloseJob, "refused-later", &[UNAVAILABLE])
        .with("slow", TargetState::Opened)
        .latency("slow", 5 * S)
        .with("settling", TargetState::Opened)
        .settle("settling", 5 * S)
        .with("waiting", TargetState::Opened)
        .with("reopening", TargetState::Closing)
        .moving("reopening", TargetState::Closed, 3 * S)
        .with("stuck", TargetState::Started)
        .stuck("stuck");
    let run = run_with(&view, &cluster, |event, interrupts| {
        if matches!(
            &event.kind,
            EventKind::StepAttemptFailed { step, retry_in: Some(_), .. } if step.no == 1
        ) {
            interrupts.stop();
        }
    })
    .await;

    let cancelling = run.position(|k| {
        matches!(
            k,
            EventKind::RunCancelling {
                reason: CancelReason::Interrupted
            }
        )
    });
    assert!(cancelling < run.position(|k| matches!(k, EventKind::StepInterrupted { .. })));
    // The back-off ended with the interrupt, at once.
    assert!(
        matches!(
            run.end(1),
            EventKind::StepInterrupted {
                attempts: 1,
                duration: Duration::ZERO,
                ..
            }
        ),
        "{:#?}",
        run.kinds()
    );
    assert_eq!(cluster.requests_for("backing-off").len(), 1, "no attempt 2");
    // The refusal that came back after the interrupt is not retried either.
    assert!(matches!(
        run.end(2),
        EventKind::StepInterrupted { attempts: 1, .. }
    ));
    assert_eq!(cluster.requests_for("refused-later").len(), 1);
    run.position(
        |k| matches!(k, EventKind::StepAttemptFailed { step, retry_in: None, .. } if step.no == 2),
    );
    // In flight: finished.
    assert!(matches!(run.end(3), EventKind::StepSucceeded { .. }));
    assert!(matches!(run.end(4), EventKind::StepSucceeded { .. }));
    assert_eq!(cluster.state("settling"), Some(TargetState::Closed));
    // Never made a request: the first one would have come after the interrupt.
    assert!(matches!(
        run.end(6),
        EventKind::StepInterrupted { attempts: 0, .. }
    ));
    assert!(cluster.requests_for("reopening").is_empty());
    // Its request was in flight; the forced one it would escalate to is a new request.
    assert!(matches!(
        run.end(7),
        EventKind::StepInterrupted { attempts: 1, .. }
    ));
    let stuck: Vec<bool> = cluster
        .requests_for("stuck")
        .iter()
        .map(|r| r.forced)
        .collect();
    assert_eq!(stuck, vec![false]);
    assert!(
        !run.kinds()
            .iter()
            .any(|k| matches!(k, EventKind::StepEscalated { .. })),
        "{:#?}",
        run.kinds()
    );
    // Never started.
    assert!(matches!(
        run.end(5),
        EventKind::StepSkipped {
            reason: SkipReason::Interrupted,
            ..
        }
    ));
    assert!(cluster.requests_for("waiting").is_empty());
    assert!(run.outcome.interrupted);
    let stats = run.outcome.stats;
    assert_eq!(
        (
            stats.changed,
            stats.interrupted,
            stats.skipped,
            stats.failed
        ),
        (2, 4, 1, 0)
    );
    // Nothing waited out the minute of back-off.
    assert!(run.events.last().expect("events").elapsed < 60 * S);
}

#[tokio::test(start_paused = true)]
async fn the_second_interrupt_abandons_work_in_flight_and_retries_nothing() {
    let view = plan(
        &[
            // #1: its request never answers.
            (Action::CloseJob, "hanging", 3_000),
            // #2: accepted, waiting for a state that never comes.
            (Action::StopDatafeed, "stuck", 2_000),
            // #3: its first look at stats never answers.
            (Action::CloseJob, "slow-stats", 1_000),
        ],
        &[],
        settings(),
    );
    let cluster = FakeCluster::new()
        .with("hanging", TargetState::Opened)
        .replies(Action::CloseJob, "hanging", &[Reply::Hang])
        .with("stuck", TargetState::Started)
        .stuck("stuck")
        .with("slow-stats", TargetState::Opened)
        .slow_stats("slow-stats", Duration::from_secs(86_400));
    let run = run_with(&view, &cluster, |event, interrupts| match &event.kind {
        EventKind::StepWaiting { step, .. } if step.no == 2 => interrupts.stop(),
        EventKind::RunCancelling {
            reason: CancelReason::Interrupted,
        } => interrupts.abandon(),
        _ => {}
    })
    .await;

    let cancelling: Vec<CancelReason> = run
        .events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::RunCancelling { reason } => Some(reason),
            _ => None,
        })
        .collect();
    assert_eq!(
        cancelling,
        vec![CancelReason::Interrupted, CancelReason::Abandoned]
    );
    // The hanging request and the wait for the stuck stop are both given up, at once, as such:
    // not as a failed attempt, and with no new attempt.
    let abandoned_at = run.events[run.position(|k| {
        matches!(
            k,
            EventKind::RunCancelling {
                reason: CancelReason::Abandoned
            }
        )
    })]
    .elapsed;
    for (no, attempts) in [(1, 1), (2, 1), (3, 0)] {
        assert!(
            matches!(run.end(no), EventKind::StepAbandoned { attempts: a, .. } if *a == attempts),
            "#{no}: {:#?}",
            run.kinds()
        );
        let ended = run.of(no).last().expect("events").elapsed;
        assert_eq!(ended, abandoned_at, "#{no}");
    }
    assert!(
        !run.kinds()
            .iter()
            .any(|k| matches!(k, EventKind::StepAttemptFailed { .. })),
        "{:#?}",
        run.kinds()
    );
    assert_eq!(cluster.requests().len(), 2, "one request each");
    assert_eq!(run.outcome.stats.interrupted, 3);
    assert!(run.outcome.interrupted);
    assert!(matches!(
        run.events.last().expect("events").kind,
        EventKind::RunFinished { .. }
    ));
}

#[tokio::test(start_paused = true)]
async fn no_more_than_concurrency_steps_are_in_flight() {
    let targets = ["j1", "j2", "j3", "j4", "j5", "j6"];
    let steps: Vec<(Action, &str, u64)> =
        targets.iter().map(|t| (Action::CloseJob, *t, 0)).collect();
    let view = plan(
        &steps,
        &[],
        SettingsView {
            concurrency: 2,
            ..settings()
        },
    );
    let mut cluster = FakeCluster::new();
    for target in targets {
        cluster = cluster.with(target, TargetState::Opened).latency(target, S);
    }
    let run = run(&view, &cluster).await;
    assert_eq!(cluster.peak(), 2);
    let at: Vec<Duration> = cluster.requests().iter().map(|r| r.at).collect();
    assert_eq!(at, vec![Duration::ZERO, Duration::ZERO, S, S, 2 * S, 2 * S]);
    assert_eq!(run.outcome.stats.changed, 6);
}

#[tokio::test(start_paused = true)]
async fn a_step_starts_only_after_every_dependency_succeeded() {
    // #1 → #3, #2 → #3, #3 → #4: a fan-in, then a chain.
    let view = plan(
        &[
            (Action::StopDatafeed, "datafeed-a", 0),
            (Action::StopDatafeed, "datafeed-b", 0),
            (Action::CloseJob, "a", 0),
            (Action::EnableUpgradeMode, "_ml", 0),
        ],
        &[(1, 3), (2, 3), (3, 4)],
        settings(),
    );
    let cluster = FakeCluster::new()
        .with("datafeed-a", TargetState::Started)
        .latency("datafeed-a", S)
        .with("datafeed-b", TargetState::Started)
        .latency("datafeed-b", 3 * S)
        .with("a", TargetState::Opened)
        .settle("a", 2 * S)
        .with("_ml", TargetState::Disabled);
    let run = run(&view, &cluster).await;
    for (before, after) in [(1, 3), (2, 3), (3, 4)] {
        assert!(
            run.position(succeeded(before)) < run.position(started(after)),
            "#{after} started before #{before} succeeded: {:#?}",
            run.kinds()
        );
    }
    let close = &cluster.requests_for("a")[0];
    assert_eq!(close.at, 3 * S, "when the slower stop was done");
    assert_eq!(run.outcome.stats.changed, 4);
}

#[tokio::test(start_paused = true)]
async fn the_step_heading_the_longest_chain_starts_first() {
    let view = plan(
        &[
            (Action::StopDatafeed, "datafeed-x", 2_000),
            (Action::StopDatafeed, "datafeed-y", 2_000),
            (Action::CloseJob, "y", 10_000),
            (Action::StopDatafeed, "datafeed-z", 3_000),
        ],
        &[(2, 3)],
        SettingsView {
            concurrency: 1,
            ..settings()
        },
    );
    let cluster = FakeCluster::new()
        .with("datafeed-x", TargetState::Started)
        .with("datafeed-y", TargetState::Started)
        .with("y", TargetState::Opened)
        .with("datafeed-z", TargetState::Started);
    let run = run(&view, &cluster).await;
    // #2 heads 12s of work; then #3 (10s), #4 (3s), #1 (2s).
    assert_eq!(run.starts(), vec![2, 3, 4, 1]);
}

#[tokio::test(start_paused = true)]
async fn a_target_already_in_state_needs_no_request() {
    let cluster = FakeCluster::new().with("web", TargetState::Closed);
    let view = plan(&[(Action::CloseJob, "web", 0)], &[], settings());
    let run = run(&view, &cluster).await;
    assert!(matches!(
        run.end(1),
        EventKind::StepSucceeded {
            outcome: Success::AlreadyInState,
            attempts: 0,
            ..
        }
    ));
    assert!(cluster.requests().is_empty());
}

#[tokio::test(start_paused = true)]
async fn every_step_event_says_what_it_is_about() {
    let cluster = FakeCluster::new().with("web", TargetState::Opened).replies(
        Action::CloseJob,
        "web",
        &[UNAVAILABLE],
    );
    let mut view = plan(&[(Action::CloseJob, "web", 0)], &[], settings());
    view.steps[0].source = Some(crate::plan::SourceRef {
        file: "playbook.yaml".into(),
        line: 12,
        column: 5,
    });
    let run = run(&view, &cluster).await;
    let step_events: Vec<&Event> = run
        .events
        .iter()
        .filter(|e| e.kind.step().is_some())
        .collect();
    assert!(step_events.len() >= 4, "{:#?}", run.kinds());
    for event in step_events {
        let json = serde_json::to_value(event).expect("serialises");
        assert_eq!(json["step"], 1, "{json}");
        assert_eq!(json["action"], "close_job", "{json}");
        assert_eq!(json["target"], "web", "{json}");
        assert_eq!(json["source"], "playbook.yaml:12", "{json}");
        let back: Event = serde_json::from_value(json).expect("reads back");
        assert_eq!(&back, event);
    }
}

/// Issue 11 (1): a read of the state that fails uses no attempt, and the attempts reported are
/// the requests made. Four 429s on stats and one 503 on the open used to add up to the five
/// attempts of `retry.attempts` and fail a job that opened.
#[tokio::test(start_paused = true)]
async fn failed_reads_of_the_state_use_no_attempt() {
    const TOO_MANY: Reply = Reply::Refuse(429, "es_rejected_execution_exception", "rejected");
    let cluster = FakeCluster::new()
        .with("web", TargetState::Closed)
        .read_replies("web", &[TOO_MANY; 4])
        .replies(Action::OpenJob, "web", &[UNAVAILABLE]);
    let view = plan(&[(Action::OpenJob, "web", 0)], &[], settings());
    let run = run(&view, &cluster).await;
    assert!(
        matches!(
            run.end(1),
            EventKind::StepSucceeded {
                outcome: Success::Changed,
                attempts: 2,
                ..
            }
        ),
        "{:#?}",
        run.kinds()
    );
    assert_eq!(
        cluster.requests().len(),
        2,
        "the refused open, then the open"
    );
    let read_failures = run
        .kinds()
        .iter()
        .filter(|k| {
            matches!(
                k,
                EventKind::StepReadFailed {
                    retry_in: Some(_),
                    ..
                }
            )
        })
        .count();
    assert_eq!(read_failures, 4);
    assert_eq!(cluster.state("web"), Some(TargetState::Opened));
}

/// Issue 11 (1): reads have a budget of their own; when it runs out the step fails saying the
/// state could not be read, not that the change failed.
#[tokio::test(start_paused = true)]
async fn reads_that_keep_failing_end_the_step_unconfirmed() {
    let cluster = FakeCluster::new()
        .with("web", TargetState::Opened)
        .read_replies("web", &[UNAVAILABLE; 10]);
    let view = plan(
        &[(Action::CloseJob, "web", 0)],
        &[],
        SettingsView {
            retry_attempts: 3,
            ..settings()
        },
    );
    let run = run(&view, &cluster).await;
    let EventKind::StepFailed {
        error, attempts, ..
    } = run.end(1)
    else {
        panic!("{:#?}", run.kinds());
    };
    assert_eq!(*attempts, 0, "no request was made");
    let StepError::Unconfirmed { reads, cause } = error else {
        panic!("{error:?}");
    };
    assert_eq!(*reads, 3);
    assert!(matches!(&**cause, StepError::Elasticsearch(a) if a.status == 503));
    assert_eq!(cluster.reads_of("web"), 3);
    assert!(cluster.requests().is_empty());
}

/// Issue 11 (1): a step fails only when its target did not get there. The last request's answer
/// is lost, but the job closed: a look at the state says so, and the step succeeds.
#[tokio::test(start_paused = true)]
async fn a_target_that_got_there_is_a_success_even_when_the_last_answer_was_lost() {
    let cluster = FakeCluster::new().with("web", TargetState::Opened).replies(
        Action::CloseJob,
        "web",
        &[Reply::LostAnswer],
    );
    let view = plan(
        &[(Action::CloseJob, "web", 0)],
        &[],
        SettingsView {
            retry_attempts: 1,
            ..settings()
        },
    );
    let run = run(&view, &cluster).await;
    assert!(
        matches!(
            run.end(1),
            EventKind::StepSucceeded {
                outcome: Success::Changed,
                attempts: 1,
                ..
            }
        ),
        "{:#?}",
        run.kinds()
    );
}

/// Issue 11 (3): a request that does not answer is not waited for past the step's deadline,
/// and it carried no more than the time left.
#[tokio::test(start_paused = true)]
async fn a_request_is_not_waited_for_past_the_step_deadline() {
    let cluster = FakeCluster::new()
        .with("slow", TargetState::Opened)
        .latency("slow", 60 * S);
    let view = plan(
        &[(Action::CloseJob, "slow", 0)],
        &[],
        SettingsView {
            step_timeout_ms: 5_000,
            ..settings()
        },
    );
    let run = run(&view, &cluster).await;
    let EventKind::StepFailed {
        error, duration, ..
    } = run.end(1)
    else {
        panic!("{:#?}", run.kinds());
    };
    assert_eq!(*duration, 5 * S, "the step ends at its deadline");
    assert!(
        matches!(error, StepError::StepTimeout { timeout, observed: Some(o) }
            if *timeout == 5 * S && o.state == TargetState::Opened),
        "{error:?}"
    );
    let requests = cluster.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].wait, 5 * S, "the request carried the time left");
}

/// Issue 11 (3): with `force: after_timeout`, a request still in flight at the deadline is
/// followed by the forced one, which carries the new deadline's time.
#[tokio::test(start_paused = true)]
async fn a_hanging_request_is_escalated_at_the_deadline() {
    let cluster = FakeCluster::new()
        .with("hanging", TargetState::Opened)
        .replies(Action::CloseJob, "hanging", &[Reply::Hang]);
    let view = plan(
        &[(Action::CloseJob, "hanging", 0)],
        &[],
        SettingsView {
            step_timeout_ms: 5_000,
            force: ForcePolicy::AfterTimeout,
            ..settings()
        },
    );
    let run = run(&view, &cluster).await;
    assert!(
        matches!(run.end(1), EventKind::StepSucceeded { attempts: 2, duration, .. } if *duration == 5 * S),
        "{:#?}",
        run.kinds()
    );
    let requests: Vec<(Duration, bool, Duration)> = cluster
        .requests()
        .iter()
        .map(|r| (r.at, r.forced, r.wait))
        .collect();
    assert_eq!(
        requests,
        vec![(Duration::ZERO, false, 5 * S), (5 * S, true, 5 * S)]
    );
}

/// Issue 11 (3): a back-off longer than the time left ends at the deadline.
#[tokio::test(start_paused = true)]
async fn a_back_off_ends_at_the_step_deadline() {
    let cluster = FakeCluster::new().with("web", TargetState::Opened).replies(
        Action::CloseJob,
        "web",
        &[UNAVAILABLE; 10],
    );
    let view = plan(
        &[(Action::CloseJob, "web", 0)],
        &[],
        SettingsView {
            step_timeout_ms: 5_000,
            initial_backoff_ms: 600_000,
            max_backoff_ms: 600_000,
            ..settings()
        },
    );
    let run = run(&view, &cluster).await;
    assert!(
        matches!(
            run.end(1),
            EventKind::StepFailed { error: StepError::StepTimeout { .. }, duration, .. }
                if *duration == 5 * S
        ),
        "{:#?}",
        run.kinds()
    );
}

/// Issue 11 (4): a job found `failed` (it failed after the plan was made) is closed with force
/// at once under `force: after_timeout`, as the help of `force: never` says; it used to wait
/// out the step timeout and fail "still failed".
#[tokio::test(start_paused = true)]
async fn a_job_failed_since_the_plan_is_forced_at_once_under_after_timeout() {
    let cluster = FakeCluster::new().with("pay", TargetState::Failed);
    let view = plan(
        &[(Action::CloseJob, "pay", 0)],
        &[],
        SettingsView {
            step_timeout_ms: 5_000,
            force: ForcePolicy::AfterTimeout,
            ..settings()
        },
    );
    let run = run(&view, &cluster).await;
    assert!(
        matches!(run.end(1), EventKind::StepSucceeded { duration, .. } if *duration < 5 * S),
        "{:#?}",
        run.kinds()
    );
    run.position(|k| {
        matches!(
            k,
            EventKind::StepEscalated {
                escalation: Escalation::FailedJob,
                ..
            }
        )
    });
    assert_eq!(cluster.state("pay"), Some(TargetState::Closed));
}

/// Issue 11 (4): a job that fails while it is closing is forced as soon as stats show it
/// failed, not after the step timeout.
#[tokio::test(start_paused = true)]
async fn a_job_that_fails_while_closing_is_forced_when_stats_show_it() {
    let cluster = FakeCluster::new()
        .with("pay", TargetState::Opened)
        .settle("pay", 20 * S)
        .fails_after("pay", S);
    let view = plan(
        &[(Action::CloseJob, "pay", 0)],
        &[],
        SettingsView {
            step_timeout_ms: 10_000,
            force: ForcePolicy::AfterTimeout,
            ..settings()
        },
    );
    let run = run(&view, &cluster).await;
    let escalated = run.position(|k| {
        matches!(
            k,
            EventKind::StepEscalated {
                escalation: Escalation::FailedJob,
                ..
            }
        )
    });
    assert!(run.events[escalated].elapsed < 10 * S);
    assert!(
        matches!(run.end(1), EventKind::StepSucceeded { .. }),
        "{:#?}",
        run.kinds()
    );
    let forced: Vec<bool> = cluster.requests().iter().map(|r| r.forced).collect();
    assert_eq!(forced, vec![false, true]);
    assert_eq!(cluster.state("pay"), Some(TargetState::Closed));

    // Under `force: never` the step fails with Elasticsearch's refusal, whose help names
    // `after_timeout`.
    let never = FakeCluster::new()
        .with("pay", TargetState::Opened)
        .settle("pay", 20 * S)
        .fails_after("pay", S);
    let view = plan(
        &[(Action::CloseJob, "pay", 0)],
        &[],
        SettingsView {
            step_timeout_ms: 10_000,
            ..settings()
        },
    );
    let refused = super::tests::run(&view, &never).await;
    assert!(
        matches!(refused.end(1), EventKind::StepFailed { error: StepError::ForceNotAllowed(a), .. } if a.status == 409),
        "{:#?}",
        refused.kinds()
    );
}

/// Issue 11 (5): after the first interrupt a step that is retrying makes no new request, however
/// many attempts it has left and however short its back-off.
#[tokio::test(start_paused = true)]
async fn the_first_interrupt_ends_a_retry_storm() {
    // Each request takes a millisecond: the interrupt comes while the third is in flight.
    let cluster = FakeCluster::new()
        .with("web", TargetState::Opened)
        .latency("web", Duration::from_millis(1))
        .replies(Action::CloseJob, "web", &[UNAVAILABLE; 1000]);
    let view = plan(
        &[(Action::CloseJob, "web", 0)],
        &[],
        SettingsView {
            retry_attempts: u32::MAX as usize,
            initial_backoff_ms: 3,
            max_backoff_ms: 3,
            ..settings()
        },
    );
    let run = run_with(&view, &cluster, |event, interrupts| {
        if matches!(event.kind, EventKind::StepStarted { attempt: 3, .. }) {
            interrupts.stop();
        }
    })
    .await;
    assert_eq!(
        cluster.requests().len(),
        3,
        "no attempt after the interrupt"
    );
    assert!(
        matches!(run.end(1), EventKind::StepInterrupted { attempts: 3, .. }),
        "{:#?}",
        run.kinds()
    );
}

/// Issue 11 (1, 3): when the deadline cuts a read short, one last look at the state follows; a
/// target that got there meanwhile is a success, not a failure.
#[tokio::test(start_paused = true)]
async fn a_last_look_past_the_deadline_finds_the_target_there() {
    let cluster = FakeCluster::new()
        .with("web", TargetState::Opened)
        .slow_stats("web", 3 * S)
        .settle("web", 4 * S);
    let view = plan(
        &[(Action::CloseJob, "web", 0)],
        &[],
        SettingsView {
            step_timeout_ms: 5_000,
            ..settings()
        },
    );
    let run = run(&view, &cluster).await;
    assert!(
        matches!(
            run.end(1),
            EventKind::StepSucceeded { outcome: Success::Changed, duration, .. }
                if *duration == 8 * S
        ),
        "{:#?}",
        run.kinds()
    );
}

/// Issue 14 (2): an open that no ML node has room for (E12, a 429 `status_exception`) is not
/// retried: the answer stays the same until something else closes, so the step fails after its
/// one request, with Elasticsearch's words, instead of spending `retry.attempts` on it.
#[tokio::test(start_paused = true)]
async fn an_open_with_no_room_on_any_node_is_not_retried() {
    const NO_ROOM: Reply = Reply::Refuse(
        429,
        "status_exception",
        "Could not open job because no ML nodes with sufficient capacity were found",
    );
    let cluster = FakeCluster::new().with("big", TargetState::Closed).replies(
        Action::OpenJob,
        "big",
        &[NO_ROOM, NO_ROOM, NO_ROOM],
    );
    let view = plan(&[(Action::OpenJob, "big", 0)], &[], settings());
    let run = run(&view, &cluster).await;
    let EventKind::StepFailed {
        error, attempts, ..
    } = run.end(1)
    else {
        panic!("{:#?}", run.kinds());
    };
    assert_eq!(*attempts, 1, "one request, no retry");
    assert_eq!(cluster.requests().len(), 1);
    let StepError::Elasticsearch(answer) = error else {
        panic!("{error:?}");
    };
    assert_eq!(answer.status, 429);
    assert!(answer.reason.contains("sufficient capacity"), "{answer:?}");
    assert!(
        !run.kinds().iter().any(|k| matches!(
            k,
            EventKind::StepAttemptFailed {
                retry_in: Some(_),
                ..
            }
        )),
        "{:#?}",
        run.kinds()
    );
}

/// Issue 14 (1): the close of a snapshot refresh is never forced, whatever `settings.force`
/// says: a forced close persists no snapshot, so the refresh could not do its job. A job found
/// `failed` fails the step at once, without a request.
#[tokio::test(start_paused = true)]
async fn a_refresh_never_closes_with_force() {
    let cluster = FakeCluster::new().with("web", TargetState::Failed);
    let view = plan(
        &[(Action::RefreshCloseJob, "web", 0)],
        &[],
        SettingsView {
            force: ForcePolicy::AfterTimeout,
            ..settings()
        },
    );
    let run = run(&view, &cluster).await;
    let EventKind::StepFailed {
        error, attempts, ..
    } = run.end(1)
    else {
        panic!("{:#?}", run.kinds());
    };
    assert!(matches!(error, StepError::JobFailed { .. }), "{error:?}");
    assert_eq!(*attempts, 0);
    assert!(cluster.requests().is_empty());
    assert!(
        !run.kinds()
            .iter()
            .any(|k| matches!(k, EventKind::StepEscalated { .. })),
        "{:#?}",
        run.kinds()
    );
}

/// Losing the cluster lease stops the run as a first interrupt does, with its own reason: the
/// step in flight finishes, nothing new starts.
#[tokio::test(start_paused = true)]
async fn losing_the_lease_starts_nothing_new_and_says_why() {
    let view = plan(
        &[
            (Action::CloseJob, "in-flight", 9_000),
            (Action::CloseJob, "not-started", 1_000),
        ],
        &[],
        SettingsView {
            concurrency: 1,
            ..settings()
        },
    );
    let cluster = FakeCluster::new()
        .with("in-flight", TargetState::Opened)
        .latency("in-flight", 5 * S)
        .with("not-started", TargetState::Opened);
    let run = run_with(&view, &cluster, |event, interrupts| {
        if matches!(&event.kind, EventKind::StepStarted { step, .. } if step.no == 1) {
            interrupts.lose_lease();
        }
    })
    .await;
    run.position(|k| {
        matches!(
            k,
            EventKind::RunCancelling {
                reason: CancelReason::LeaseLost
            }
        )
    });
    assert!(matches!(run.end(1), EventKind::StepSucceeded { .. }));
    assert!(
        cluster.requests_for("not-started").is_empty(),
        "{:#?}",
        run.kinds()
    );
}

/// What a datafeed still catching up on the maintenance window holds back.
fn catching_up() -> super::CatchingUp {
    super::CatchingUp {
        datafeed: "datafeed-web".into(),
        until_ms: 1_796_000_000_000,
        behind: super::Behind::NoSearch,
    }
}

#[tokio::test(start_paused = true)]
async fn a_removal_held_back_past_its_deadline_fails_without_a_request() {
    let cluster = FakeCluster::new()
        .with("maintenance", TargetState::Scheduled)
        .held_back("maintenance", catching_up(), None);
    let view = plan(
        &[(Action::RemoveMaintenance, "maintenance", 0)],
        &[],
        SettingsView {
            step_timeout_ms: 10_000,
            ..settings()
        },
    );
    let run = run(&view, &cluster).await;
    let EventKind::StepFailed {
        error, attempts, ..
    } = run.end(1)
    else {
        panic!("{:#?}", run.kinds());
    };
    assert_eq!(
        error,
        &StepError::StillCatchingUp {
            timeout: 10 * S,
            held: catching_up(),
        }
    );
    assert_eq!(*attempts, 0);
    assert!(cluster.requests().is_empty(), "{:?}", cluster.requests());
    assert_eq!(cluster.state("maintenance"), Some(TargetState::Scheduled));
    // Said once (the same datafeed, the same lag), and looked at with a growing pause (50 ms
    // × 1.5 up to 2 s: about a dozen looks in 10 s), not in a busy loop.
    let held: Vec<&EventKind> = run
        .kinds()
        .into_iter()
        .filter(|k| matches!(k, EventKind::StepHeld { .. }))
        .collect();
    assert_eq!(held.len(), 1, "{held:?}");
    assert!(cluster.held_looks() <= 20, "{}", cluster.held_looks());
}

#[tokio::test(start_paused = true)]
async fn a_removal_goes_once_nothing_holds_it_back() {
    let cluster = FakeCluster::new()
        .with("maintenance", TargetState::Scheduled)
        .held_back("maintenance", catching_up(), Some(3 * S));
    let view = plan(
        &[(Action::RemoveMaintenance, "maintenance", 0)],
        &[],
        SettingsView {
            step_timeout_ms: 10_000,
            ..settings()
        },
    );
    let run = run(&view, &cluster).await;
    assert!(
        matches!(
            run.end(1),
            EventKind::StepSucceeded {
                outcome: Success::Changed,
                ..
            }
        ),
        "{:#?}",
        run.kinds()
    );
    let requests = cluster.requests();
    assert_eq!(requests.len(), 1);
    // Never before the precondition held.
    assert!(requests[0].at >= 3 * S, "{:?}", requests[0].at);
    assert_eq!(cluster.state("maintenance"), Some(TargetState::Unscheduled));
}
