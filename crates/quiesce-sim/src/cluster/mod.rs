//! The simulated cluster: the one owner of all job, datafeed and upgrade-mode state.
//!
//! State sits behind a `std::sync::Mutex` held only for short, synchronous transitions; a
//! transition may queue [`Effect`]s (timed background work: restoring a model, persisting one,
//! starting or stopping a datafeed, a lookback running to its end) that are spawned once the lock
//! is released. Every transition bumps a `watch` generation so that API calls can wait for a
//! target state outside the lock, with their `timeout`. Nothing here knows HTTP; refusals are
//! [`EsError`]s exactly as docs/elasticsearch-ml-api.md §4 words them.

mod activity;
mod calendar_bodies;
mod calendars;
mod config;
mod datafeeds;
mod effects;
mod hash_set_order;
mod jobs;
mod model;
mod nodes;
mod persistence;
mod progress;
mod render;
mod restart;
mod seeding;
mod snapshots;
mod timing_stats;
mod upgrade;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::EsError;
use crate::ids;
use crate::seed::{ClusterSpec, EsVersion, Latency, RollingRestartSpec};

use activity::{Activity, Violation, now_ms};
use calendars::Calendars;
pub(crate) use calendars::{EventsQuery, Page};
use effects::Effect;
use model::{Datafeed, Job};
use nodes::{Node, NodeState};
use persistence::Persistence;
use progress::Clock;
pub(crate) use progress::Stalls;
pub(crate) use render::SnapshotQuery;

/// Cluster identity reported by `GET /` and `GET /_ml/info` (the version is the nodes',
/// [`Cluster::version`]).
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    pub(crate) name: String,
    pub(crate) uuid: String,
}

/// How long an API call waits for its target state, and how its error messages print that
/// wait (ES's `TimeValue` text, e.g. `30m`).
#[derive(Debug, Clone)]
pub(crate) struct Timeout {
    /// `None` waits for ever (`-1`).
    pub(crate) wait: Option<Duration>,
    pub(crate) text: String,
}

/// A handle on the simulated cluster; clones share it.
#[derive(Clone)]
pub(crate) struct Cluster {
    shared: Arc<Shared>,
}

struct Shared {
    identity: Identity,
    nodes: Vec<Node>,
    latency: Latency,
    persistence: Persistence,
    /// The seed's `rolling_restart:` settings, defaults of `POST /_sim/rolling_restart`.
    rolling_restart: RollingRestartSpec,
    state: Mutex<State>,
    changed: watch::Sender<u64>,
    tasks: Mutex<JoinSet<()>>,
}

/// Everything that changes, guarded by the cluster lock.
struct State {
    /// One entry per node of [`Shared::nodes`]: in the cluster or not, and its version.
    nodes: Vec<NodeState>,
    /// `cluster.persistent_tasks.allocation.enable`: `false` is `none` (E13).
    allocation_enabled: bool,
    jobs: BTreeMap<String, Job>,
    datafeeds: BTreeMap<String, Datafeed>,
    /// job id → the id of the datafeed that feeds it (at most one per job).
    datafeed_of_job: HashMap<String, String>,
    /// Every group name any job was created with (never shrinks; see [`State::expand_jobs`]).
    groups: HashSet<String>,
    upgrade_mode: bool,
    /// The number of the `set_upgrade_mode` change being processed (`isRunning` in ES); a
    /// change that timed out is no longer processed, though its work goes on.
    upgrade_change: Option<u64>,
    /// Numbers `set_upgrade_mode` changes.
    upgrade_changes: u64,
    /// A rolling restart is running.
    restarting: bool,
    /// Jobs with a model snapshot upgrade task, and its snapshot.
    snapshot_upgrades: HashMap<String, String>,
    /// Calendars and scheduled events (documents of `.ml-meta` in ES).
    calendars: Calendars,
    /// The wall clock data times follow.
    clock: Clock,
    /// Datafeeds whose searches fail (stall fault rules).
    stalls: Stalls,
    activity: Activity,
    /// Background work queued by transitions, spawned when the lock is released.
    effects: Vec<Effect>,
}

impl Cluster {
    /// Builds the cluster a seed describes, and starts the background work it implies
    /// (lookback datafeeds already running).
    pub(crate) fn new(spec: ClusterSpec) -> Cluster {
        let (changed, _) = watch::channel(0);
        let nodes = spec
            .nodes
            .iter()
            .enumerate()
            .map(|(index, node)| Node {
                id: node.id.clone(),
                name: node.name.clone(),
                memory_bytes: node.memory_bytes,
                index,
                max_open_jobs: spec.max_open_jobs,
            })
            .collect();
        let cluster = Cluster {
            shared: Arc::new(Shared {
                identity: Identity {
                    name: spec.name.clone(),
                    uuid: spec.uuid.clone(),
                },
                nodes,
                latency: spec.latency.clone(),
                persistence: Persistence::new(spec.persistence.slots, spec.persistence.queue_limit),
                rolling_restart: spec.rolling_restart.clone(),
                state: Mutex::new(State {
                    nodes: spec
                        .nodes
                        .iter()
                        .map(|_| NodeState {
                            up: true,
                            version: spec.version,
                        })
                        .collect(),
                    allocation_enabled: spec.persistent_tasks_allocation,
                    jobs: BTreeMap::new(),
                    datafeeds: BTreeMap::new(),
                    datafeed_of_job: HashMap::new(),
                    groups: HashSet::new(),
                    upgrade_mode: false,
                    upgrade_change: None,
                    upgrade_changes: 0,
                    restarting: false,
                    snapshot_upgrades: HashMap::new(),
                    calendars: Calendars::default(),
                    clock: Clock::start(),
                    stalls: crate::faults::stalls(&spec.faults),
                    activity: Activity::default(),
                    effects: Vec::new(),
                }),
                changed,
                tasks: Mutex::new(JoinSet::new()),
            }),
        };
        cluster.transition(|state, shared| seeding::load(state, shared, &spec));
        cluster.schedule_rolling_restart();
        cluster
    }

    pub(crate) fn identity(&self) -> &Identity {
        &self.shared.identity
    }

    /// The version the cluster answers as: its oldest node's, so that a rolling upgrade shows
    /// the new version once the last node is back on it (docs/elasticsearch-ml-api.md §8).
    pub(crate) fn version(&self) -> EsVersion {
        self.lock().version()
    }

    pub(crate) fn latency(&self) -> &Latency {
        &self.shared.latency
    }

    /// The name of the node that answers `GET /` (the first ML node).
    pub(crate) fn first_node_name(&self) -> &str {
        self.shared
            .nodes
            .first()
            .map_or("node-0", |node| node.name.as_str())
    }

    pub(crate) fn largest_node_memory(&self) -> u64 {
        self.shared
            .nodes
            .iter()
            .map(|node| node.memory_bytes)
            .max()
            .unwrap_or(0)
    }

    pub(crate) fn total_ml_memory(&self) -> u64 {
        self.shared.nodes.iter().map(|node| node.memory_bytes).sum()
    }

    pub(crate) fn upgrade_mode(&self) -> bool {
        self.lock().upgrade_mode
    }

    /// The datafeeds whose searches fail from now on (`PUT`/`DELETE /_sim/faults`).
    pub(crate) fn set_stalls(&self, stalls: Stalls) {
        self.transition(|state, _| state.stalls = stalls);
    }

    /// Counts a finished request for `/_sim/stats`.
    pub(crate) fn record_request(&self, operation: &'static str, status: u16) {
        self.lock().activity.record_request(operation, status);
    }

    /// Expands a job id expression (docs/elasticsearch-ml-api.md §5) for fault targeting; unmatched tokens are
    /// ignored here, the operation itself reports them.
    pub(crate) fn expand_jobs_lenient(&self, expr: &str) -> Vec<String> {
        self.lock().expand_jobs(expr, true).unwrap_or_default()
    }

    /// Like [`Cluster::expand_jobs_lenient`], for datafeeds.
    pub(crate) fn expand_datafeeds_lenient(&self, expr: &str) -> Vec<String> {
        self.lock().expand_datafeeds(expr, true).unwrap_or_default()
    }

    /// The body of `GET /_sim/stats`.
    pub(crate) fn sim_stats(&self) -> Value {
        let state = self.lock();
        let mut body = state.activity.to_json();
        body["peak_concurrent_persists"] = json!(self.shared.persistence.peak());
        body["upgrade_mode"] = json!(state.upgrade_mode);
        body["version"] = json!(state.version().to_string());
        body["nodes"] = self.nodes_json(&state);
        body["jobs"] = state
            .jobs
            .values()
            .map(|job| (job.id.clone(), json!(job.state.as_str())))
            .collect::<serde_json::Map<_, _>>()
            .into();
        body["datafeeds"] = state
            .datafeeds
            .values()
            .map(|df| (df.id.clone(), json!(df.state.as_str())))
            .collect::<serde_json::Map<_, _>>()
            .into();
        body
    }

    /// Stops all background work (for shutdown).
    pub(crate) fn shutdown(&self) {
        self.shared
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .abort_all();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs one synchronous transition under the lock, then wakes waiters and spawns the
    /// background work it queued.
    fn transition<R>(&self, f: impl FnOnce(&mut State, &Shared) -> R) -> R {
        let (result, effects) = {
            let mut state = self.lock();
            let result = f(&mut state, &self.shared);
            (result, std::mem::take(&mut state.effects))
        };
        self.shared
            .changed
            .send_modify(|generation| *generation += 1);
        for effect in effects {
            let cluster = self.clone();
            self.spawn(async move { cluster.run_effect(effect).await });
        }
        result
    }

    /// Runs work in the background, aborted at shutdown. Work that must finish even when the
    /// client hangs up (as a transport action does in ES) goes through here.
    fn spawn(&self, work: impl Future<Output = ()> + Send + 'static) {
        let mut tasks = self
            .shared
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        while tasks.try_join_next().is_some() {}
        tasks.spawn(work);
    }

    /// Reads the state without changing it.
    fn read<R>(&self, f: impl FnOnce(&State, &Shared) -> R) -> R {
        f(&self.lock(), &self.shared)
    }

    /// Waits until `check` gives a value or `timeout` passes (`None` waits forever).
    async fn wait_for<R>(
        &self,
        timeout: Option<Duration>,
        mut check: impl FnMut(&State) -> Option<R>,
    ) -> Option<R> {
        // A timeout too far away to represent (`1000000d`) waits forever.
        let deadline = timeout.and_then(|t| tokio::time::Instant::now().checked_add(t));
        let mut changed = self.shared.changed.subscribe();
        loop {
            if let Some(result) = check(&self.lock()) {
                return Some(result);
            }
            match deadline {
                Some(deadline) => {
                    match tokio::time::timeout_at(deadline, changed.changed()).await {
                        Ok(Ok(())) => {}
                        Ok(Err(_)) | Err(_) => return check(&self.lock()),
                    }
                }
                None => {
                    if changed.changed().await.is_err() {
                        return check(&self.lock());
                    }
                }
            }
        }
    }
}

impl State {
    /// The oldest version among the nodes (see [`Cluster::version`]).
    fn version(&self) -> EsVersion {
        self.nodes
            .iter()
            .map(|node| node.version)
            .min()
            .unwrap_or_default()
    }

    /// Whether each node is in the cluster.
    fn up(&self) -> Vec<bool> {
        self.nodes.iter().map(|node| node.up).collect()
    }

    fn expand_jobs(&self, expr: &str, allow_no_match: bool) -> Result<Vec<String>, EsError> {
        // Fast path for the commonest call, one job by id: an orchestrator polls thousands of
        // them, and the full expansion scans every job under the lock. A group of the same
        // name would add its jobs, so that case takes the full path.
        if is_plain_id(expr) && self.jobs.contains_key(expr) && !self.groups.contains(expr) {
            return Ok(vec![expr.to_owned()]);
        }
        let resources = self
            .jobs
            .values()
            .map(|job| (job.id.as_str(), job.config.groups.as_slice()));
        ids::expand(expr, resources, allow_no_match)
            .map_err(|unmatched| EsError::unknown_job(&unmatched.tokens))
    }

    fn expand_datafeeds(&self, expr: &str, allow_no_match: bool) -> Result<Vec<String>, EsError> {
        if is_plain_id(expr) && self.datafeeds.contains_key(expr) {
            return Ok(vec![expr.to_owned()]);
        }
        let resources = self
            .datafeeds
            .keys()
            .map(|id| (id.as_str(), <&[String]>::default()));
        ids::expand(expr, resources, allow_no_match)
            .map_err(|unmatched| EsError::unknown_datafeed(&unmatched.tokens))
    }

    fn insert_job(&mut self, job: Job) {
        self.groups.extend(job.config.groups.iter().cloned());
        self.jobs.insert(job.id.clone(), job);
    }

    fn job(&self, id: &str) -> Result<&Job, EsError> {
        self.jobs.get(id).ok_or_else(|| EsError::unknown_job(id))
    }

    fn job_mut(&mut self, id: &str) -> Result<&mut Job, EsError> {
        self.jobs
            .get_mut(id)
            .ok_or_else(|| EsError::unknown_job(id))
    }

    fn datafeed_for(&self, job_id: &str) -> Option<&Datafeed> {
        self.datafeed_of_job
            .get(job_id)
            .and_then(|df| self.datafeeds.get(df))
    }

    /// Job tasks counted against `xpack.ml.max_open_jobs` on each node (closed and failed jobs
    /// are not, as `JobNodeSelector` counts them).
    fn open_jobs(&self, nodes: &[Node]) -> Vec<usize> {
        let mut open = vec![0; nodes.len()];
        for job in self.jobs.values() {
            if let (true, Some(node)) = (job.uses_memory(), job.node) {
                open[node] += 1;
            }
        }
        open
    }

    /// Memory used on each node by the models of jobs assigned there.
    fn memory_used(&self, nodes: &[Node]) -> Vec<u64> {
        let mut used = vec![0; nodes.len()];
        for job in self.jobs.values() {
            if let (true, Some(node)) = (job.uses_memory(), job.node) {
                used[node] += job.config.model_memory_limit;
            }
        }
        used
    }

    fn record_violation(
        &mut self,
        operation: &'static str,
        job_id: &str,
        datafeed_id: &str,
        state_field: &'static str,
        state: &'static str,
    ) {
        self.activity.record_violation(Violation {
            operation,
            job_id: job_id.to_owned(),
            datafeed_id: datafeed_id.to_owned(),
            state_field,
            state,
            at_ms: now_ms(),
        });
    }
}

/// An expression that can only name one resource by its id: no list, wildcard or `_all`.
fn is_plain_id(expr: &str) -> bool {
    !expr.is_empty()
        && expr != "_all"
        && !expr.contains([',', '*'])
        && !expr.contains(char::is_whitespace)
}
