//! The scheduler: one loop that owns the run state (nextest's dispatcher). It starts ready steps
//! (every dependency succeeded) while fewer than `concurrency` run, the one heading the longest
//! remaining chain first; receives results; skips the dependents of a failed step; stops
//! scheduling on `on_failure: stop` or an interrupt; and turns every transition into an
//! [`Event`].
//!
//! Owns the run state and the order of events. Must never do I/O itself (workers do), never
//! print, and never start a step before every dependency's success was handed to the sink (the
//! journal writes it there before anything depends on it).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::model::OnFailure;
use crate::plan::PlanView;

use super::cluster::Cluster;
use super::event::{
    CancelReason, Event, EventKind, RunStats, SkipReason, StepError, StepNo, StepRef, Success,
};
use super::interrupt::Interrupts;
use super::step::{End, StepResult, Worker};

/// What the run needs besides the plan.
pub(crate) struct RunOptions {
    pub run_id: String,
    pub cluster: String,
    /// Overrides `settings.concurrency` of the plan (`--concurrency`).
    pub concurrency: Option<usize>,
    pub interrupts: Interrupts,
    /// Seeds the retry jitter.
    pub seed: u64,
    /// Where the run's journal is, for the reporters.
    pub journal: Option<String>,
}

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RunOutcome {
    pub stats: RunStats,
    pub interrupted: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Pending,
    Running,
    Done,
}

/// Why no new step starts.
#[derive(Debug, Clone, Copy)]
enum Halt {
    /// This step failed under `on_failure: stop`.
    Failed(StepNo),
    Interrupted,
}

/// Runs `view` against `cluster`, handing every event to `sink` in order.
pub(crate) async fn execute<C: Cluster>(
    view: &PlanView,
    cluster: C,
    options: RunOptions,
    sink: &mut dyn FnMut(Event),
) -> RunOutcome {
    let concurrency = options
        .concurrency
        .unwrap_or(view.settings.concurrency)
        .max(1);
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let worker = Worker {
        cluster: Arc::new(cluster),
        settings: view.settings.clone(),
        emit: events_tx,
        interrupts: options.interrupts.clone(),
        seed: options.seed,
    };
    let n = view.steps.len();
    let mut dispatcher = Dispatcher {
        view,
        started: Instant::now(),
        sink,
        state: vec![State::Pending; n],
        waiting_on: view.steps.iter().map(|s| s.dependencies.len()).collect(),
        priority: critical_paths(view),
        ready: BinaryHeap::new(),
        stats: RunStats::default(),
        halt: None,
        interrupted: false,
        abandoned: false,
    };
    dispatcher.emit(EventKind::RunStarted {
        run_id: options.run_id.clone(),
        playbook: view.playbook.name.clone(),
        cluster: options.cluster.clone(),
        steps: n,
        concurrency,
        journal: options.journal.clone(),
    });
    for no in 1..=n {
        if dispatcher.waiting_on[no - 1] == 0 {
            dispatcher.make_ready(no);
        }
    }
    dispatcher
        .run(worker, concurrency, &options.interrupts, events_rx)
        .await
}

/// The run state, and the sink every transition goes to.
struct Dispatcher<'a> {
    view: &'a PlanView,
    started: Instant,
    sink: &'a mut dyn FnMut(Event),
    state: Vec<State>,
    /// Dependencies of each step not yet succeeded.
    waiting_on: Vec<usize>,
    priority: Vec<u64>,
    ready: BinaryHeap<(u64, Reverse<StepNo>)>,
    stats: RunStats,
    halt: Option<Halt>,
    interrupted: bool,
    abandoned: bool,
}

impl Dispatcher<'_> {
    fn emit(&mut self, kind: EventKind) {
        (self.sink)(Event {
            at: jiff::Timestamp::now(),
            elapsed: self.started.elapsed(),
            kind,
        });
    }

    fn step_ref(&self, no: StepNo) -> StepRef {
        StepRef::from(&self.view.steps[no - 1])
    }

    fn make_ready(&mut self, no: StepNo) {
        self.ready.push((self.priority[no - 1], Reverse(no)));
    }

    async fn run<C: Cluster>(
        mut self,
        worker: Worker<C>,
        concurrency: usize,
        interrupts: &Interrupts,
        mut events: mpsc::UnboundedReceiver<EventKind>,
    ) -> RunOutcome {
        let mut running: JoinSet<StepResult> = JoinSet::new();
        let mut task_step: HashMap<tokio::task::Id, StepNo> = HashMap::new();
        loop {
            // An interrupt may have come from the sink itself (a journal that cannot be
            // written): look before starting anything.
            self.notice(interrupts);
            while self.halt.is_none() && running.len() < concurrency {
                let Some((_, Reverse(no))) = self.ready.pop() else {
                    break;
                };
                self.state[no - 1] = State::Running;
                let handle = running.spawn(worker.clone().run(self.view.steps[no - 1].clone()));
                task_step.insert(handle.id(), no);
            }
            if running.is_empty() {
                break;
            }
            // Interrupts first: once one arrived, its `run_cancelling` comes before anything
            // else (the top of the loop emits it).
            tokio::select! {
                biased;
                () = interrupts.stopping(), if !self.interrupted => {}
                () = interrupts.abandoning(), if !self.abandoned => {}
                Some(kind) = events.recv() => self.emit(kind),
                Some(joined) = running.join_next_with_id() => {
                    // The step's own events come before its end.
                    while let Ok(kind) = events.try_recv() {
                        self.emit(kind);
                    }
                    let result = match joined {
                        Ok((_, result)) => result,
                        Err(err) => {
                            let Some(no) = task_step.get(&err.id()).copied() else {
                                continue;
                            };
                            StepResult {
                                step: self.step_ref(no),
                                end: End::Failed(StepError::Internal {
                                    reason: err.to_string(),
                                }),
                                attempts: 0,
                                duration: Duration::ZERO,
                            }
                        }
                    };
                    self.finished(result);
                }
            }
        }
        while let Ok(kind) = events.try_recv() {
            self.emit(kind);
        }
        self.notice(interrupts);
        for no in 1..=self.view.steps.len() {
            if self.state[no - 1] == State::Pending {
                let reason = match self.halt {
                    Some(Halt::Failed(step)) => SkipReason::Stopped { step },
                    Some(Halt::Interrupted) => SkipReason::Interrupted,
                    None => SkipReason::NeverReady,
                };
                self.skip(no, reason);
            }
        }
        let duration = self.started.elapsed();
        let stats = self.stats;
        self.emit(EventKind::RunFinished { stats, duration });
        RunOutcome {
            stats,
            interrupted: self.interrupted,
        }
    }

    /// Turns a new level of interruption into its event, once each, the first level first.
    fn notice(&mut self, interrupts: &Interrupts) {
        if interrupts.is_stopping() && !self.interrupted {
            self.interrupted = true;
            self.halt.get_or_insert(Halt::Interrupted);
            self.emit(EventKind::RunCancelling {
                reason: CancelReason::Interrupted,
            });
        }
        if interrupts.is_abandoning() && !self.abandoned {
            self.abandoned = true;
            self.emit(EventKind::RunCancelling {
                reason: CancelReason::Abandoned,
            });
        }
    }

    /// Records how a step ended, and what follows from it.
    fn finished(&mut self, result: StepResult) {
        let no = result.step.no;
        self.state[no - 1] = State::Done;
        let (step, attempts, duration) = (result.step, result.attempts, result.duration);
        match result.end {
            End::Succeeded(outcome) => {
                match outcome {
                    Success::Changed => self.stats.changed += 1,
                    Success::AlreadyInState => self.stats.already_in_state += 1,
                }
                self.emit(EventKind::StepSucceeded {
                    step,
                    outcome,
                    attempts,
                    duration,
                });
                for &next in &self.view.steps[no - 1].dependents {
                    self.waiting_on[next - 1] -= 1;
                    if self.waiting_on[next - 1] == 0 && self.state[next - 1] == State::Pending {
                        self.make_ready(next);
                    }
                }
            }
            End::Failed(error) => {
                self.stats.failed += 1;
                self.emit(EventKind::StepFailed {
                    step,
                    error,
                    attempts,
                    duration,
                });
                self.skip_dependents(no);
                if self.view.settings.on_failure == OnFailure::Stop && self.halt.is_none() {
                    self.halt = Some(Halt::Failed(no));
                    self.emit(EventKind::RunCancelling {
                        reason: CancelReason::StepFailed,
                    });
                }
            }
            // Only an interrupt ends a step so; its dependents are skipped at the end, as
            // everything not started.
            End::Interrupted => {
                self.stats.interrupted += 1;
                self.emit(EventKind::StepInterrupted {
                    step,
                    attempts,
                    duration,
                });
            }
            End::Abandoned => {
                self.stats.interrupted += 1;
                self.emit(EventKind::StepAbandoned {
                    step,
                    attempts,
                    duration,
                });
            }
        }
    }

    fn skip(&mut self, no: StepNo, reason: SkipReason) {
        self.state[no - 1] = State::Done;
        self.stats.skipped += 1;
        let step = self.step_ref(no);
        self.emit(EventKind::StepSkipped { step, reason });
    }

    /// Skips every pending step that (transitively) depends on `failed`.
    fn skip_dependents(&mut self, failed: StepNo) {
        let mut stack = self.view.steps[failed - 1].dependents.clone();
        while let Some(no) = stack.pop() {
            if self.state[no - 1] != State::Pending {
                continue;
            }
            self.skip(no, SkipReason::DependencyFailed { step: failed });
            stack.extend(self.view.steps[no - 1].dependents.iter().copied());
        }
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
