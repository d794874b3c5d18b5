//! The scheduler: one loop that owns the run state. It starts ready steps (all dependencies
//! succeeded) while fewer than `concurrency` run, the one heading the longest remaining chain
//! first; receives results; skips the dependents of a failed step; stops scheduling on
//! `on_failure: stop` or an interrupt; and turns everything into [`Event`]s.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::es::EsClient;
use crate::model::OnFailure;
use crate::plan::PlanView;

use super::event::{CancelReason, Event, EventKind, RunStats, StepError, StepNo, Success};
use super::step::{StepResult, Worker};

/// How interrupted the run is: 0 not, 1 start nothing new, 2 abandon in-flight waits too.
pub type Interrupts = watch::Receiver<u8>;

/// What the run needs besides the plan.
pub struct RunOptions {
    pub run_id: String,
    pub cluster: String,
    /// Overrides `settings.concurrency` of the plan (`--concurrency`).
    pub concurrency: Option<usize>,
    pub interrupts: Interrupts,
    /// Seeds the retry jitter.
    pub seed: u64,
}

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOutcome {
    pub stats: RunStats,
    pub interrupted: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Pending,
    Running,
    Succeeded,
    Failed,
    Skipped,
}

/// Runs `view` against `client`, handing every event to `sink` in order.
pub async fn execute(
    view: &PlanView,
    client: EsClient,
    mut options: RunOptions,
    sink: &mut dyn FnMut(Event),
) -> RunOutcome {
    let started = Instant::now();
    let mut emit = |kind: EventKind| {
        sink(Event {
            at: jiff::Timestamp::now(),
            elapsed: started.elapsed(),
            kind,
        });
    };
    let n = view.steps.len();
    let concurrency = options
        .concurrency
        .unwrap_or(view.settings.concurrency)
        .max(1);
    emit(EventKind::RunStarted {
        run_id: options.run_id.clone(),
        playbook: view.playbook.name.clone(),
        cluster: options.cluster.clone(),
        steps: n,
        concurrency,
    });

    let dependents: Vec<Vec<StepNo>> = view.steps.iter().map(|s| s.dependents.clone()).collect();
    let mut waiting_on: Vec<usize> = view.steps.iter().map(|s| s.dependencies.len()).collect();
    let priority = critical_paths(view);
    let mut state = vec![State::Pending; n];
    let mut ready: BinaryHeap<(u64, Reverse<StepNo>)> = (1..=n)
        .filter(|&no| waiting_on[no - 1] == 0)
        .map(|no| (priority[no - 1], Reverse(no)))
        .collect();

    let (events_tx, mut events_rx) = mpsc::unbounded_channel();
    let (abandon_tx, abandon_rx) = watch::channel(false);
    let worker = Worker {
        client,
        settings: view.settings.clone(),
        emit: events_tx,
        abandon: abandon_rx,
        seed: options.seed,
    };
    let mut running: JoinSet<StepResult> = JoinSet::new();
    let mut task_step: HashMap<tokio::task::Id, StepNo> = HashMap::new();
    let mut stats = RunStats::default();
    let mut stop_reason: Option<String> = None;
    let mut interrupted = false;

    loop {
        while stop_reason.is_none() && running.len() < concurrency {
            let Some((_, Reverse(no))) = ready.pop() else {
                break;
            };
            state[no - 1] = State::Running;
            let handle = running.spawn(worker.clone().run(view.steps[no - 1].clone()));
            task_step.insert(handle.id(), no);
        }
        if running.is_empty() {
            break;
        }
        tokio::select! {
            Some((_, kind)) = events_rx.recv() => emit(kind),
            Some(joined) = running.join_next_with_id() => {
                while let Ok((_, kind)) = events_rx.try_recv() {
                    emit(kind);
                }
                let result = match joined {
                    Ok((_, result)) => result,
                    Err(err) => StepResult {
                        step: task_step.get(&err.id()).copied().unwrap_or(0),
                        outcome: Err(StepError {
                            status: None,
                            error_type: "internal".into(),
                            reason: format!("this is a bug in quiesce, please report it: the step's task ended abnormally ({err})"),
                            diagnosis: None,
                        }),
                        attempts: 0,
                        duration: Duration::ZERO,
                    },
                };
                let no = result.step;
                if no == 0 {
                    continue;
                }
                match result.outcome {
                    Ok(outcome) => {
                        state[no - 1] = State::Succeeded;
                        match outcome {
                            Success::Changed => stats.changed += 1,
                            Success::AlreadyInState => stats.already_in_state += 1,
                        }
                        emit(EventKind::StepSucceeded {
                            step: no,
                            outcome,
                            attempts: result.attempts,
                            duration: result.duration,
                        });
                        for &next in &dependents[no - 1] {
                            waiting_on[next - 1] -= 1;
                            if waiting_on[next - 1] == 0 && state[next - 1] == State::Pending {
                                ready.push((priority[next - 1], Reverse(next)));
                            }
                        }
                    }
                    Err(error) => {
                        state[no - 1] = State::Failed;
                        stats.failed += 1;
                        emit(EventKind::StepFailed {
                            step: no,
                            error,
                            attempts: result.attempts,
                            duration: result.duration,
                        });
                        let step = &view.steps[no - 1];
                        let why = format!(
                            "needs #{no} {} `{}`, which failed",
                            step.action.verb(),
                            step.target
                        );
                        skip_dependents(no, &dependents, &mut state, &mut stats, &why, &mut emit);
                        if view.settings.on_failure == OnFailure::Stop && stop_reason.is_none() {
                            stop_reason = Some(format!(
                                "not started: the run stopped after #{no} failed (`on_failure: stop`)"
                            ));
                            emit(EventKind::RunCancelling { reason: CancelReason::StepFailed });
                        }
                    }
                }
            }
            Ok(()) = options.interrupts.changed() => {
                let level = *options.interrupts.borrow();
                if level >= 1 && !interrupted {
                    interrupted = true;
                    if stop_reason.is_none() {
                        stop_reason = Some("not started: the run was interrupted".into());
                    }
                    emit(EventKind::RunCancelling { reason: CancelReason::Interrupted });
                }
                if level >= 2 && !*abandon_tx.borrow() {
                    let _ = abandon_tx.send(true);
                    emit(EventKind::RunCancelling { reason: CancelReason::Abandoned });
                }
            }
        }
    }
    while let Ok((_, kind)) = events_rx.try_recv() {
        emit(kind);
    }
    for no in 1..=n {
        if state[no - 1] == State::Pending {
            state[no - 1] = State::Skipped;
            stats.skipped += 1;
            emit(EventKind::StepSkipped {
                step: no,
                reason: stop_reason
                    .clone()
                    .unwrap_or_else(|| "not started: a dependency did not succeed".into()),
            });
        }
    }
    emit(EventKind::RunFinished {
        stats,
        duration: started.elapsed(),
    });
    RunOutcome { stats, interrupted }
}

/// Marks every pending step that (transitively) depends on `failed` as skipped.
fn skip_dependents(
    failed: StepNo,
    dependents: &[Vec<StepNo>],
    state: &mut [State],
    stats: &mut RunStats,
    why: &str,
    emit: &mut dyn FnMut(EventKind),
) {
    let mut stack = dependents[failed - 1].clone();
    while let Some(no) = stack.pop() {
        if state[no - 1] != State::Pending {
            continue;
        }
        state[no - 1] = State::Skipped;
        stats.skipped += 1;
        emit(EventKind::StepSkipped {
            step: no,
            reason: why.to_owned(),
        });
        stack.extend(dependents[no - 1].iter().copied());
    }
}

/// For each step, its estimate plus the longest chain of estimates after it (milliseconds):
/// the step heading the longest chain should start first.
fn critical_paths(view: &PlanView) -> Vec<u64> {
    fn visit(no: StepNo, view: &PlanView, memo: &mut [Option<u64>], depth: usize) -> u64 {
        if let Some(value) = memo[no - 1] {
            return value;
        }
        let step = &view.steps[no - 1];
        // A saved plan is checked to be acyclic when made; the depth guard keeps a hand-edited
        // one from recursing forever.
        let tail = if depth > view.steps.len() {
            0
        } else {
            step.dependents
                .iter()
                .map(|&next| visit(next, view, memo, depth + 1))
                .max()
                .unwrap_or(0)
        };
        let value = step.estimate_ms.saturating_add(tail);
        memo[no - 1] = Some(value);
        value
    }
    let mut memo = vec![None; view.steps.len()];
    (1..=view.steps.len())
        .map(|no| visit(no, view, &mut memo, 0))
        .collect()
}
