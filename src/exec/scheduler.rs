//! The scheduler: one loop that owns the run state (nextest's dispatcher). It starts ready steps
//! (every dependency succeeded and committed), receives results, skips the dependents of a
//! failed step, stops scheduling on `on_failure: stop` or an interrupt, and turns every
//! transition into an [`Event`].
//!
//! What it starts, and when, keeps the cluster's bottleneck busy. In a shutdown that is model
//! persistence (closes), in a restore model restoration (opens): the *heavy* lane. A step that
//! a heavy step waits for (the datafeed stop before its job's close) is a *feeder*; the rest are
//! *light*.
//!
//! - Feeders start just early enough: while fewer heavy steps are ready or being fed than the
//!   heavy window plus what will finish during one feeder's latency, so that a close is always
//!   ready when a persist slot frees, and stops do not all go first while the slots sit idle.
//! - Then heavy and light steps by priority: the longest remaining chain of estimates first,
//!   which among ready closes is the largest model first (longest processing time first).
//! - Each lane has a [`Window`] of steps in flight, adapted from the cluster's answers (AIMD on
//!   overload refusals and rising latency, from [`Latencies`] observed in this run);
//!   `concurrency` is only the ceiling of the whole.
//! - A step whose dependencies' outcomes are not yet durable waits for a commit of the sink
//!   (one fsync for all of them): a heavy step commits at once when its lane would otherwise
//!   idle; a light one within [`COMMIT_INTERVAL`].
//!
//! Owns the run state and the order of events. Must never do I/O itself (workers do), never
//! print, and never start a step before every dependency's success was committed by the sink
//! (the journal writes it there before anything depends on it).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::model::OnFailure;
use crate::plan::{Action, PlanView};

use super::cluster::Cluster;
use super::event::{
    CancelReason, Event, EventKind, RunStats, SkipReason, StepError, StepNo, StepRef, Success,
};
use super::interrupt::Interrupts;
use super::latency::Latencies;
use super::ready::Ready;
use super::sink::EventSink;
use super::step::{End, StepResult, Worker};
use super::window::{Signal, Window};

/// What the run needs besides the plan.
pub(crate) struct RunOptions {
    pub run_id: String,
    pub cluster: String,
    /// Overrides `settings.concurrency` of the plan (`--concurrency`): the ceiling of steps in
    /// flight.
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

/// Each lane's window starts here (TCP's initial window is ten segments; a cluster's persist
/// slots are a few), and grows from the answers.
const INITIAL_WINDOW: usize = 8;
/// How long a light step with uncommitted dependencies may wait for a group commit.
pub(crate) const COMMIT_INTERVAL: Duration = Duration::from_millis(10);
/// Events that need no commit of their own are made durable at least this often.
const DURABLE_WITHIN: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Pending,
    Running,
    Done,
}

/// Which resource a step uses, and so which window it counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
    /// Closes and opens: model persistence and restoration, the scarce resource.
    Heavy,
    /// Light steps a heavy step waits for.
    Feeder,
    Light,
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
    sink: &mut dyn EventSink,
) -> RunOutcome {
    let ceiling = options
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
    let lanes = lanes(view);
    let now = Instant::now();
    let mut dispatcher = Dispatcher {
        view,
        started: now,
        sink,
        state: vec![State::Pending; n],
        waiting_on: view.steps.iter().map(|s| s.dependencies.len()).collect(),
        priority: critical_paths(view),
        heavy: Ready::default(),
        feeders: Ready::default(),
        light: Ready::default(),
        in_flight: [0; 3],
        ceiling,
        heavy_window: Window::new(INITIAL_WINDOW, ceiling),
        light_window: Window::new(INITIAL_WINDOW, ceiling),
        latencies: Latencies::default(),
        lanes,
        launches: 0,
        launched_as: vec![0; n],
        sent_at: vec![None; n],
        last_commit: now,
        dirty: false,
        stats: RunStats::default(),
        halt: None,
        interrupts: options.interrupts.clone(),
        interrupted: false,
        abandoned: false,
    };
    dispatcher.emit(EventKind::RunStarted {
        run_id: options.run_id.clone(),
        playbook: view.playbook.name.clone(),
        cluster: options.cluster.clone(),
        steps: n,
        concurrency: ceiling,
        journal: options.journal.clone(),
    });
    for no in 1..=n {
        if dispatcher.waiting_on[no - 1] == 0 {
            dispatcher.make_ready(no);
        }
    }
    dispatcher.run(worker, events_rx).await
}

/// The run state, and the sink every transition goes to.
struct Dispatcher<'a> {
    view: &'a PlanView,
    started: Instant,
    sink: &'a mut dyn EventSink,
    state: Vec<State>,
    /// Dependencies of each step not yet succeeded.
    waiting_on: Vec<usize>,
    priority: Vec<u64>,
    heavy: Ready,
    feeders: Ready,
    light: Ready,
    /// Steps in flight per lane.
    in_flight: [usize; 3],
    ceiling: usize,
    heavy_window: Window,
    /// Feeders and light steps.
    light_window: Window,
    latencies: Latencies,
    lanes: Vec<Lane>,
    /// Requests sent so far (each attempt counts): the windows' round-trip clock.
    launches: u64,
    /// The launch number of each step's latest attempt.
    launched_as: Vec<u64>,
    /// When each step's latest request went out.
    sent_at: Vec<Option<Instant>>,
    last_commit: Instant,
    /// Events handed to the sink since the last commit.
    dirty: bool,
    stats: RunStats,
    halt: Option<Halt>,
    interrupts: Interrupts,
    interrupted: bool,
    abandoned: bool,
}

impl Dispatcher<'_> {
    fn emit(&mut self, kind: EventKind) {
        self.dirty = true;
        self.sink.event(Event {
            at: jiff::Timestamp::now(),
            elapsed: self.started.elapsed(),
            kind,
        });
    }

    fn step_ref(&self, no: StepNo) -> StepRef {
        StepRef::from(&self.view.steps[no - 1])
    }

    fn lane(&self, no: StepNo) -> Lane {
        self.lanes[no - 1]
    }

    fn pool(&mut self, lane: Lane) -> &mut Ready {
        match lane {
            Lane::Heavy => &mut self.heavy,
            Lane::Feeder => &mut self.feeders,
            Lane::Light => &mut self.light,
        }
    }

    fn make_ready(&mut self, no: StepNo) {
        let priority = self.priority[no - 1];
        let committed = self.view.steps[no - 1].dependencies.is_empty();
        let lane = self.lane(no);
        self.pool(lane).push(priority, no, committed);
    }

    /// Makes every outcome so far durable: every ready step may start.
    fn commit(&mut self) {
        self.sink.commit();
        self.last_commit = Instant::now();
        self.dirty = false;
        for pool in [&mut self.heavy, &mut self.feeders, &mut self.light] {
            pool.committed();
        }
        // A journal that could not commit interrupts the run: start nothing more.
        self.notice();
    }

    /// When the loop must wake up to commit, if nothing else happens first.
    fn commit_due(&self) -> Option<Instant> {
        if self.halt.is_none() && self.light.has_uncommitted() {
            Some(self.last_commit + COMMIT_INTERVAL)
        } else if self.dirty {
            Some(self.last_commit + DURABLE_WITHIN)
        } else {
            None
        }
    }

    fn running(&self) -> usize {
        self.in_flight.iter().sum()
    }

    fn lane_in_flight(&mut self, lane: Lane) -> &mut usize {
        &mut self.in_flight[match lane {
            Lane::Heavy => 0,
            Lane::Feeder => 1,
            Lane::Light => 2,
        }]
    }

    /// Heavy steps ready or on their way to it (their feeders in flight), and how many there
    /// should be: the heavy window, plus what finishes while one feeder runs.
    fn pipeline(&self) -> (usize, usize) {
        let have = self.heavy.len() + self.in_flight[1];
        let window = self.heavy_window.allowed().min(self.ceiling);
        let during_feed = match (
            self.latencies.mean(Action::StopDatafeed),
            self.latencies.mean(Action::CloseJob),
        ) {
            (Some(feed), Some(heavy)) if !heavy.is_zero() => {
                let ratio = feed.as_secs_f64() / heavy.as_secs_f64();
                #[expect(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    reason = "a small, non-negative count"
                )]
                let extra = (self.in_flight[0] as f64 * ratio).ceil().min(1e6) as usize;
                extra.max(1)
            }
            _ => 1,
        };
        (have, window + during_feed)
    }

    /// Starts what may start now.
    fn launch<C: Cluster>(
        &mut self,
        worker: &Worker<C>,
        running: &mut JoinSet<StepResult>,
        task_step: &mut HashMap<tokio::task::Id, StepNo>,
    ) {
        if self.halt.is_some() {
            return;
        }
        // Feeders first, but only as many as keep the heavy lane fed.
        loop {
            let (have, want) = self.pipeline();
            if have >= want
                || self.halt.is_some()
                || self.running() >= self.ceiling
                || self.in_flight[1] + self.in_flight[2] >= self.light_window.allowed()
            {
                break;
            }
            if !self.feeders.has_committed() && self.feeders.has_uncommitted() {
                self.commit();
                if self.halt.is_some() {
                    break;
                }
            }
            let Some(no) = self.feeders.pop() else {
                break;
            };
            self.spawn(no, worker, running, task_step);
        }
        // Then heavy and light steps, the higher priority first, each lane within its window.
        while self.halt.is_none() && self.running() < self.ceiling {
            let heavy_room = self.in_flight[0] < self.heavy_window.allowed();
            let light_room = self.in_flight[1] + self.in_flight[2] < self.light_window.allowed();
            if heavy_room && !self.heavy.has_committed() && self.heavy.has_uncommitted() {
                // The bottleneck must not idle for want of a commit.
                self.commit();
            }
            if light_room
                && !self.light.has_committed()
                && self.light.has_uncommitted()
                && (self.running() == 0 || Instant::now() >= self.last_commit + COMMIT_INTERVAL)
            {
                self.commit();
            }
            if self.halt.is_some() {
                break;
            }
            let heavy = heavy_room.then(|| self.heavy.peek()).flatten();
            let light = light_room.then(|| self.light.peek()).flatten();
            let no = match (heavy, light) {
                (Some(h), Some(l)) if l > h => self.light.pop(),
                (Some(_), _) => self.heavy.pop(),
                (None, Some(_)) => self.light.pop(),
                (None, None) => None,
            };
            let Some(no) = no else {
                break;
            };
            self.spawn(no, worker, running, task_step);
        }
    }

    fn spawn<C: Cluster>(
        &mut self,
        no: StepNo,
        worker: &Worker<C>,
        running: &mut JoinSet<StepResult>,
        task_step: &mut HashMap<tokio::task::Id, StepNo>,
    ) {
        self.state[no - 1] = State::Running;
        let lane = self.lane(no);
        *self.lane_in_flight(lane) += 1;
        self.launched_as[no - 1] = self.launches;
        self.launches += 1;
        let handle = running.spawn(worker.clone().run(self.view.steps[no - 1].clone()));
        task_step.insert(handle.id(), no);
    }

    /// What a worker's event says about the cluster's load, before it is handed on.
    fn observe(&mut self, kind: &EventKind) {
        match kind {
            EventKind::StepStarted { step, attempt } => {
                let no = step.no;
                if *attempt > 1 {
                    self.launched_as[no - 1] = self.launches;
                    self.launches += 1;
                }
                self.sent_at[no - 1] = Some(Instant::now());
            }
            EventKind::StepWaiting { step, .. } => {
                let no = step.no;
                let Some(sent) = self.sent_at[no - 1].take() else {
                    return;
                };
                let view = &self.view.steps[no - 1];
                let signal = self
                    .latencies
                    .record(view.action, view.model_bytes, sent.elapsed());
                self.answered(no, signal);
            }
            EventKind::StepAttemptFailed { step, error, .. } if error.is_overload() => {
                self.sent_at[step.no - 1] = None;
                self.answered(step.no, Signal::Overloaded);
            }
            _ => {}
        }
    }

    fn answered(&mut self, no: StepNo, signal: Signal) {
        let (launched, next) = (self.launched_as[no - 1], self.launches);
        match self.lane(no) {
            Lane::Heavy => self.heavy_window.answered(signal, launched, next),
            Lane::Feeder | Lane::Light => self.light_window.answered(signal, launched, next),
        }
    }

    async fn run<C: Cluster>(
        mut self,
        worker: Worker<C>,
        mut events: mpsc::UnboundedReceiver<EventKind>,
    ) -> RunOutcome {
        let interrupts = self.interrupts.clone();
        let mut running: JoinSet<StepResult> = JoinSet::new();
        let mut task_step: HashMap<tokio::task::Id, StepNo> = HashMap::new();
        loop {
            // An interrupt may have come from the sink itself (a journal that cannot be
            // written): look before starting anything.
            self.notice();
            self.launch(&worker, &mut running, &mut task_step);
            if running.is_empty() {
                if self.halt.is_none() && self.has_uncommitted() {
                    self.commit();
                    continue;
                }
                break;
            }
            let commit_due = self.commit_due();
            // Interrupts first: once one arrived, its `run_cancelling` comes before anything
            // else (the top of the loop emits it).
            tokio::select! {
                biased;
                () = interrupts.stopping(), if !self.interrupted => {}
                () = interrupts.abandoning(), if !self.abandoned => {}
                Some(kind) = events.recv() => {
                    self.observe(&kind);
                    self.emit(kind);
                }
                Some(joined) = running.join_next_with_id() => {
                    self.joined(joined, &task_step, &mut events);
                    // Take every other step that ended meanwhile too, so that one commit and
                    // one round of launches serve them all.
                    while let Some(joined) = running.try_join_next_with_id() {
                        self.joined(joined, &task_step, &mut events);
                    }
                }
                () = sleep_until(commit_due), if commit_due.is_some() => self.commit(),
            }
        }
        while let Ok(kind) = events.try_recv() {
            self.emit(kind);
        }
        self.notice();
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

    fn has_uncommitted(&self) -> bool {
        self.heavy.has_uncommitted()
            || self.feeders.has_uncommitted()
            || self.light.has_uncommitted()
    }

    /// A step's task ended: its own events first, then its end.
    fn joined(
        &mut self,
        joined: Result<(tokio::task::Id, StepResult), tokio::task::JoinError>,
        task_step: &HashMap<tokio::task::Id, StepNo>,
        events: &mut mpsc::UnboundedReceiver<EventKind>,
    ) {
        while let Ok(kind) = events.try_recv() {
            self.observe(&kind);
            self.emit(kind);
        }
        let result = match joined {
            Ok((_, result)) => result,
            Err(err) => {
                let Some(no) = task_step.get(&err.id()).copied() else {
                    return;
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
        let lane = self.lane(result.step.no);
        *self.lane_in_flight(lane) -= 1;
        self.finished(result);
    }

    /// Turns a new level of interruption into its event, once each, the first level first.
    fn notice(&mut self) {
        let interrupts = &self.interrupts;
        if interrupts.is_stopping() && !self.interrupted {
            self.interrupted = true;
            self.halt.get_or_insert(Halt::Interrupted);
            let reason = if interrupts.lease_lost() {
                CancelReason::LeaseLost
            } else {
                CancelReason::Interrupted
            };
            self.emit(EventKind::RunCancelling { reason });
        }
        if self.interrupts.is_abandoning() && !self.abandoned {
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

async fn sleep_until(at: Option<Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at).await;
    }
}

/// Each step's lane: closes and opens are heavy; a step any heavy step waits for feeds them.
fn lanes(view: &PlanView) -> Vec<Lane> {
    let heavy = |no: &StepNo| {
        matches!(
            view.steps[no - 1].action,
            Action::CloseJob
                | Action::OpenJob
                | Action::RefreshOpenJob
                | Action::RefreshCloseJob
                | Action::UpgradeSnapshot
        )
    };
    view.steps
        .iter()
        .map(|step| {
            if heavy(&step.id) {
                Lane::Heavy
            } else if step.dependents.iter().any(heavy) {
                Lane::Feeder
            } else {
                Lane::Light
            }
        })
        .collect()
}

/// For each step, its estimate plus the longest chain of estimates after it (milliseconds):
/// the step heading the longest chain should start first. Iterative, so that a chain of any
/// length fits on the stack.
fn critical_paths(view: &PlanView) -> Vec<u64> {
    let n = view.steps.len();
    let mut value: Vec<Option<u64>> = vec![None; n];
    // A saved plan is checked to be acyclic when made; a hand-edited one with a cycle gets 0
    // for the steps on it rather than a loop forever.
    let mut on_stack = vec![false; n];
    for root in 1..=n {
        if value[root - 1].is_some() {
            continue;
        }
        let mut stack: Vec<(StepNo, usize)> = vec![(root, 0)];
        on_stack[root - 1] = true;
        while let Some(&mut (no, ref mut next)) = stack.last_mut() {
            let dependents = &view.steps[no - 1].dependents;
            if let Some(&child) = dependents.get(*next) {
                *next += 1;
                if child == 0 || child > n || value[child - 1].is_some() || on_stack[child - 1] {
                    continue;
                }
                on_stack[child - 1] = true;
                stack.push((child, 0));
                continue;
            }
            let tail = dependents
                .iter()
                .filter(|&&c| c >= 1 && c <= n)
                .filter_map(|&c| value[c - 1])
                .max()
                .unwrap_or(0);
            value[no - 1] = Some(view.steps[no - 1].estimate_ms.saturating_add(tail));
            on_stack[no - 1] = false;
            stack.pop();
        }
    }
    value.into_iter().map(Option::unwrap_or_default).collect()
}

#[cfg(test)]
mod tests;
