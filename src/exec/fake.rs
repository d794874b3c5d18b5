//! A deterministic in-memory [`Cluster`] for the executor's tests on tokio's paused clock:
//! targets with states, request latency, transitions that take a while to settle or never do
//! (`stuck`, until forced), scripted refusals, a log of every request with its time, and model
//! persistence as the simulator has it: a fixed number of slots, a FIFO queue, and 429
//! `es_rejected_execution_exception` past its limit.
//!
//! Owns nothing the product uses. Must never read the wall clock or sleep outside tokio's
//! (paused) timer, so that every test is exact and repeatable.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::es::{self, EsErrorBody};
use crate::plan::Action;

use super::cluster::Cluster;
use super::event::{CatchingUp, Observation, TargetState};

/// What a scripted request gets instead of being carried out.
#[derive(Debug, Clone)]
pub(super) enum Reply {
    /// An Elasticsearch error: status, `error.type`, `error.reason`.
    Refuse(u16, &'static str, &'static str),
    /// No answer in time (a retryable timeout).
    NoAnswer,
    /// Carried out, but the answer was lost on the way back (a connection dropped after the
    /// fact): a retryable failure although the change was made.
    LostAnswer,
    /// No answer for a day: the request hangs until abandoned. (A day, not forever, so that a
    /// broken abandon fails its test on the paused clock instead of hanging it.)
    Hang,
}

/// One request the fake received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Request {
    /// Since the fake was made (tests make it just before the run starts).
    pub at: Duration,
    pub action: Action,
    pub target: String,
    pub forced: bool,
    /// The time left that the request carried (Elasticsearch's `timeout`, the client's).
    pub wait: Duration,
}

#[derive(Debug)]
struct Target {
    state: TargetState,
    /// The state a transition under way will reach, and when.
    settles: Option<(TargetState, Instant)>,
    /// A stop or close leaves it stopping or closing until a forced one.
    stuck: bool,
    /// When the job fails by itself (its process dies), whatever it was doing.
    fails: Option<Instant>,
}

#[derive(Debug)]
struct Inner {
    origin: Instant,
    targets: HashMap<String, Target>,
    replies: HashMap<(Action, String), VecDeque<Reply>>,
    /// What the next reads of a target's stats get instead of its state.
    read_replies: HashMap<String, VecDeque<Reply>>,
    /// Reads of stats, by target.
    reads: HashMap<String, usize>,
    /// How long a request takes to answer.
    latency: HashMap<String, Duration>,
    /// How long a transition takes after the request was answered.
    settle: HashMap<String, Duration>,
    /// How long stats about a target take to answer.
    stats_latency: HashMap<String, Duration>,
    requests: Vec<Request>,
    in_flight: usize,
    peak: usize,
    persistence: Option<Persistence>,
    model_bytes: HashMap<String, u64>,
    /// What holds a target's request back, until this long after the start (`None`: for
    /// good), and how often it was looked at.
    held: HashMap<String, (CatchingUp, Option<Duration>)>,
    held_looks: usize,
}

/// Graceful closes persist the model (and opens restore it) through `slots` at once, at
/// `bytes_per_sec`; beyond `slots + queue_limit` admitted, a close or open is refused (429).
#[derive(Debug)]
struct Persistence {
    slots: Arc<Semaphore>,
    capacity: usize,
    bytes_per_sec: u64,
    admitted: usize,
    active: usize,
    peak: usize,
    refused: usize,
    /// Slot time used, summed over slots.
    busy: Duration,
}

#[derive(Debug, Clone)]
pub(super) struct FakeCluster(Arc<Mutex<Inner>>);

impl FakeCluster {
    pub(super) fn new() -> FakeCluster {
        FakeCluster(Arc::new(Mutex::new(Inner {
            origin: Instant::now(),
            targets: HashMap::new(),
            replies: HashMap::new(),
            read_replies: HashMap::new(),
            reads: HashMap::new(),
            latency: HashMap::new(),
            settle: HashMap::new(),
            stats_latency: HashMap::new(),
            requests: Vec::new(),
            in_flight: 0,
            peak: 0,
            persistence: None,
            model_bytes: HashMap::new(),
            held: HashMap::new(),
            held_looks: 0,
        })))
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `target`'s request is held back by `held` until `until` after the start (for good with
    /// `None`).
    pub(super) fn held_back(
        self,
        target: &str,
        held: CatchingUp,
        until: Option<Duration>,
    ) -> FakeCluster {
        self.inner().held.insert(target.to_owned(), (held, until));
        self
    }

    /// How often the precondition was looked at.
    pub(super) fn held_looks(&self) -> usize {
        self.inner().held_looks
    }

    /// Adds a target in `state`.
    pub(super) fn with(self, target: &str, state: TargetState) -> FakeCluster {
        self.inner().targets.insert(
            target.to_owned(),
            Target {
                state,
                settles: None,
                stuck: false,
                fails: None,
            },
        );
        self
    }

    /// Requests about `target` take `latency` to answer.
    pub(super) fn latency(self, target: &str, latency: Duration) -> FakeCluster {
        self.inner().latency.insert(target.to_owned(), latency);
        self
    }

    /// `target` reaches its state `settle` after a request was answered.
    pub(super) fn settle(self, target: &str, settle: Duration) -> FakeCluster {
        self.inner().settle.insert(target.to_owned(), settle);
        self
    }

    /// Stats about `target` take `latency` to answer.
    pub(super) fn slow_stats(self, target: &str, latency: Duration) -> FakeCluster {
        self.inner()
            .stats_latency
            .insert(target.to_owned(), latency);
        self
    }

    /// `target` is on its way to `state`, which it reaches `after` from now.
    pub(super) fn moving(self, target: &str, state: TargetState, after: Duration) -> FakeCluster {
        if let Some(t) = self.inner().targets.get_mut(target) {
            t.settles = Some((state, Instant::now() + after));
        }
        self
    }

    /// Stops and closes of `target` never finish unless forced.
    pub(super) fn stuck(self, target: &str) -> FakeCluster {
        if let Some(t) = self.inner().targets.get_mut(target) {
            t.stuck = true;
        }
        self
    }

    /// Job `target` fails by itself `after` from now, as when its process dies: its state
    /// becomes `failed` whatever it was doing.
    pub(super) fn fails_after(self, target: &str, after: Duration) -> FakeCluster {
        if let Some(t) = self.inner().targets.get_mut(target) {
            t.fails = Some(Instant::now() + after);
        }
        self
    }

    /// The next reads of `target`'s stats get these replies, in order, instead of its state.
    pub(super) fn read_replies(self, target: &str, replies: &[Reply]) -> FakeCluster {
        self.inner()
            .read_replies
            .entry(target.to_owned())
            .or_default()
            .extend(replies.iter().cloned());
        self
    }

    /// How many times `target`'s stats were read.
    pub(super) fn reads_of(&self, target: &str) -> usize {
        self.inner().reads.get(target).copied().unwrap_or(0)
    }

    /// The next requests of `action` on `target` get these replies, in order.
    pub(super) fn replies(self, action: Action, target: &str, replies: &[Reply]) -> FakeCluster {
        self.inner()
            .replies
            .entry((action, target.to_owned()))
            .or_default()
            .extend(replies.iter().cloned());
        self
    }

    /// Closes and opens persist or restore their model through `slots` at `bytes_per_sec`, with
    /// at most `queue_limit` waiting.
    pub(super) fn persistence(
        self,
        slots: usize,
        queue_limit: usize,
        bytes_per_sec: u64,
    ) -> FakeCluster {
        self.inner().persistence = Some(Persistence {
            slots: Arc::new(Semaphore::new(slots)),
            capacity: slots + queue_limit,
            bytes_per_sec,
            admitted: 0,
            active: 0,
            peak: 0,
            refused: 0,
            busy: Duration::ZERO,
        });
        self
    }

    /// The model of job `target` is `bytes` large.
    pub(super) fn model(self, target: &str, bytes: u64) -> FakeCluster {
        self.inner().model_bytes.insert(target.to_owned(), bytes);
        self
    }

    /// Persistence so far: the most at once, the refusals for overload, and the slot time used.
    pub(super) fn persisted(&self) -> (usize, usize, Duration) {
        self.inner()
            .persistence
            .as_ref()
            .map_or((0, 0, Duration::ZERO), |p| (p.peak, p.refused, p.busy))
    }

    pub(super) fn requests(&self) -> Vec<Request> {
        self.inner().requests.clone()
    }

    pub(super) fn requests_for(&self, target: &str) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.target == target)
            .collect()
    }

    /// The most requests ever in flight at once.
    pub(super) fn peak(&self) -> usize {
        self.inner().peak
    }

    pub(super) fn state(&self, target: &str) -> Option<TargetState> {
        let mut inner = self.inner();
        inner.settle_due(Instant::now());
        inner.targets.get(target).map(|t| t.state)
    }
}

impl Inner {
    fn settle_due(&mut self, now: Instant) {
        for target in self.targets.values_mut() {
            if let Some(at) = target.fails
                && now >= at
            {
                target.state = TargetState::Failed;
                target.settles = None;
                target.fails = None;
            }
            if let Some((state, at)) = target.settles
                && now >= at
            {
                target.state = state;
                target.settles = None;
            }
        }
    }

    /// Carries out an answered request, as Elasticsearch would.
    fn carry_out(&mut self, action: Action, id: &str, forced: bool) -> Result<(), es::Error> {
        let now = Instant::now();
        self.settle_due(now);
        let settle = self.settle.get(id).copied().unwrap_or_default();
        let Some(target) = self.targets.get_mut(id) else {
            return Err(refusal(
                404,
                "resource_not_found_exception",
                "no such target",
            ));
        };
        let action = action.job_transition().unwrap_or(action);
        let (wanted, moving) = match action {
            Action::UpgradeSnapshot | Action::DeleteSnapshot => {
                // The scheduler's tests need no snapshots; the simulator models them
                // (tests/integration/snapshot_gate.rs).
                return Err(refusal(
                    400,
                    "illegal_argument_exception",
                    "the in-memory fake models no model snapshots",
                ));
            }
            Action::StopDatafeed => (TargetState::Stopped, Some(TargetState::Stopping)),
            Action::CloseJob | Action::RefreshCloseJob => {
                (TargetState::Closed, Some(TargetState::Closing))
            }
            Action::OpenJob | Action::RefreshOpenJob => {
                (TargetState::Opened, Some(TargetState::Opening))
            }
            Action::StartDatafeed => (TargetState::Started, Some(TargetState::Starting)),
            Action::EnableUpgradeMode => (TargetState::Enabled, None),
            Action::DisableUpgradeMode => (TargetState::Disabled, None),
            Action::ScheduleMaintenance => (TargetState::Scheduled, None),
            Action::RemoveMaintenance => (TargetState::Unscheduled, None),
        };
        if action == Action::CloseJob && target.state == TargetState::Failed && !forced {
            // E3, in Elasticsearch's words.
            return Err(refusal(
                409,
                "status_exception",
                &format!("cannot close job [{id}] because it failed, use force close"),
            ));
        }
        match moving {
            Some(moving) if target.stuck && !forced => target.state = moving,
            // A forced stop or close skips the flush and the snapshot: it is done at once.
            Some(moving) if !settle.is_zero() && !forced => {
                target.state = moving;
                target.settles = Some((wanted, now + settle));
            }
            _ => {
                target.state = wanted;
                target.settles = None;
            }
        }
        Ok(())
    }
}

/// Decrements the in-flight count when a request ends, answered or abandoned.
struct InFlight(FakeCluster);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.inner().in_flight -= 1;
    }
}

fn refusal(status: u16, error_type: &str, reason: &str) -> es::Error {
    es::Error::Api {
        endpoint: "fake",
        status,
        body: EsErrorBody {
            error_type: error_type.to_owned(),
            reason: reason.to_owned(),
            caused_by: None,
        },
        help: None,
        retry_after: None,
    }
}

impl FakeCluster {
    /// Waits for a persistence slot and holds it while the model of `target` is written, or
    /// refuses for overload; nothing to do without persistence or when the target is not about
    /// to move.
    async fn persist(&self, target: &str) -> Result<(), es::Error> {
        let (slots, hold) = {
            let mut inner = self.inner();
            inner.settle_due(Instant::now());
            let moving = inner
                .targets
                .get(target)
                .is_some_and(|t| matches!(t.state, TargetState::Opened | TargetState::Closed));
            let bytes = inner.model_bytes.get(target).copied().unwrap_or_default();
            let Some(persistence) = inner.persistence.as_mut().filter(|_| moving) else {
                return Ok(());
            };
            if persistence.admitted >= persistence.capacity {
                persistence.refused += 1;
                return Err(refusal(
                    429,
                    "es_rejected_execution_exception",
                    "rejected execution of persist model state",
                ));
            }
            persistence.admitted += 1;
            let hold =
                Duration::from_secs_f64(bytes as f64 / persistence.bytes_per_sec.max(1) as f64);
            (Arc::clone(&persistence.slots), hold)
        };
        let permit = slots.acquire_owned().await;
        {
            let mut inner = self.inner();
            if let Some(p) = inner.persistence.as_mut() {
                p.active += 1;
                p.peak = p.peak.max(p.active);
            }
        }
        tokio::time::sleep(hold).await;
        drop(permit);
        let mut inner = self.inner();
        if let Some(p) = inner.persistence.as_mut() {
            p.active -= 1;
            p.admitted -= 1;
            p.busy += hold;
        }
        Ok(())
    }
}

impl Cluster for FakeCluster {
    async fn request(
        &self,
        action: Action,
        target: &str,
        forced: bool,
        wait: Duration,
    ) -> Result<(), es::Error> {
        let (latency, reply) = {
            let mut inner = self.inner();
            let at = inner.origin.elapsed();
            inner.requests.push(Request {
                at,
                action,
                target: target.to_owned(),
                forced,
                wait,
            });
            inner.in_flight += 1;
            inner.peak = inner.peak.max(inner.in_flight);
            let reply = inner
                .replies
                .get_mut(&(action, target.to_owned()))
                .and_then(VecDeque::pop_front);
            (
                inner.latency.get(target).copied().unwrap_or_default(),
                reply,
            )
        };
        let in_flight = InFlight(self.clone());
        tokio::time::sleep(latency).await;
        if reply.is_none()
            && !forced
            && matches!(action, Action::CloseJob | Action::OpenJob)
            && let Err(refused) = self.persist(target).await
        {
            drop(in_flight);
            return Err(refused);
        }
        let answer = match reply {
            Some(Reply::Refuse(status, error_type, reason)) => {
                Err(refusal(status, error_type, reason))
            }
            Some(Reply::NoAnswer) => Err(es::Error::Timeout {
                endpoint: "fake",
                after: wait,
            }),
            Some(Reply::LostAnswer) => {
                self.inner()
                    .carry_out(action, target, forced)
                    .and(Err(es::Error::Timeout {
                        endpoint: "fake",
                        after: wait,
                    }))
            }
            Some(Reply::Hang) => {
                tokio::time::sleep(Duration::from_secs(86_400)).await;
                Err(es::Error::Timeout {
                    endpoint: "fake",
                    after: wait,
                })
            }
            None => self.inner().carry_out(action, target, forced),
        };
        drop(in_flight);
        answer
    }

    async fn held_back(
        &self,
        _action: Action,
        target: &str,
    ) -> Result<Option<CatchingUp>, es::Error> {
        let mut inner = self.inner();
        inner.held_looks += 1;
        let elapsed = inner.origin.elapsed();
        Ok(inner
            .held
            .get(target)
            .filter(|(_, until)| until.is_none_or(|until| elapsed < until))
            .map(|(held, _)| held.clone()))
    }

    async fn observe(
        &self,
        action: Action,
        target: &str,
    ) -> Result<Option<Observation>, es::Error> {
        let (latency, reply) = {
            let mut inner = self.inner();
            *inner.reads.entry(target.to_owned()).or_default() += 1;
            let reply = inner
                .read_replies
                .get_mut(target)
                .and_then(VecDeque::pop_front);
            (inner.stats_latency.get(target).copied(), reply)
        };
        if let Some(latency) = latency {
            tokio::time::sleep(latency).await;
        }
        match reply {
            Some(Reply::Refuse(status, error_type, reason)) => {
                return Err(refusal(status, error_type, reason));
            }
            Some(Reply::NoAnswer | Reply::LostAnswer) => {
                return Err(es::Error::Timeout {
                    endpoint: "fake",
                    after: Duration::from_secs(60),
                });
            }
            Some(Reply::Hang) => {
                tokio::time::sleep(Duration::from_secs(86_400)).await;
            }
            None => {}
        }
        let mut inner = self.inner();
        inner.settle_due(Instant::now());
        let upgrade_mode = matches!(
            action,
            Action::EnableUpgradeMode | Action::DisableUpgradeMode
        );
        Ok(inner.targets.get(target).map(|t| Observation {
            state: t.state,
            node: (!upgrade_mode).then(|| "ml-1".to_owned()),
            assignment_explanation: None,
            min_version: None,
        }))
    }
}
