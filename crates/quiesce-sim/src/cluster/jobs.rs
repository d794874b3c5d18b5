//! Job transitions: open (memory placement, lazy open, model restore), close (graceful with
//! model persistence, forced, failed), failure, and the lazy-open queue that takes the memory a
//! close frees (docs/elasticsearch-ml-api.md §2.2, §2.3, §3.1).

use std::time::Instant;

use jiff::Timestamp;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::effects::{Cancel, Effect, still_current, transition_channel};
use super::model::{DatafeedState, Job, JobState, Snapshot};
use super::nodes::{Placement, place};
use super::{Cluster, Shared, State, Timeout};
use crate::EsError;
use crate::faults::FaultEffect;

/// How an accepted open proceeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Opening {
    /// Assigned to a node: the model is being restored.
    Restoring,
    /// No node has room and the job may open lazily: it waits for memory to free up.
    AwaitingNode,
}

/// What the close of one expanded set of jobs needs after validation.
struct ClosePlan {
    jobs: Vec<String>,
    datafeeds_to_stop: Vec<String>,
}

impl Cluster {
    /// `POST /_ml/anomaly_detectors/<id>/_open`: returns once the job is `opened` (or at once
    /// with `node: ""` for a lazy open awaiting a node).
    pub(crate) async fn open_job(&self, id: &str, timeout: &Timeout) -> Result<Value, EsError> {
        let (opening, version) = self.transition(|state, shared| {
            Ok::<_, EsError>((state.begin_open(shared, id)?, state.version()))
        })?;
        if opening == Opening::AwaitingNode {
            return Ok(opened_body(version, ""));
        }
        let outcome = self
            .wait_for(timeout.wait, |state| {
                let job = state.jobs.get(id)?;
                match job.state {
                    JobState::Opened => Some(Ok(job.node)),
                    JobState::Closed | JobState::Closing => Some(Err(EsError::new(
                        409,
                        "status_exception",
                        "The job has been closed while waiting to be opened",
                    ))),
                    JobState::Failed => Some(Err(EsError::new(
                        500,
                        "exception",
                        "Unexpected job state [failed] while waiting for job to be opened",
                    ))),
                    JobState::Opening => None,
                }
            })
            .await;
        let node = match outcome {
            Some(result) => result?,
            None => return Err(EsError::open_timeout(id, &timeout.text, self.version())),
        };
        let node = node.map_or("", |index| self.shared.nodes[index].id.as_str());
        Ok(opened_body(self.version(), node))
    }

    /// `POST /_ml/anomaly_detectors/<expr>/_close` (docs/elasticsearch-ml-api.md §2.2).
    pub(crate) async fn close_jobs(
        &self,
        expr: &str,
        allow_no_match: bool,
        force: bool,
        timeout: &Timeout,
        stuck: &[String],
        stop_fault: impl FnOnce(&[String]) -> Option<FaultEffect>,
    ) -> Result<Value, EsError> {
        let plan = self.transition(|state, _| state.plan_close(expr, allow_no_match, force))?;
        let fault = if plan.datafeeds_to_stop.is_empty() {
            None
        } else {
            // The close stops the datafeeds through the stop action (§2.2 step 4), so
            // stop_datafeed fault rules apply to it.
            stop_fault(&plan.datafeeds_to_stop)
        };
        // Like a transport action, the close goes on when the client hangs up.
        let (done, outcome) = oneshot::channel();
        let cluster = self.clone();
        let jobs = plan.jobs.clone();
        let (timeout_owned, stuck) = (timeout.clone(), stuck.to_vec());
        self.spawn(async move {
            let result = cluster
                .stop_then_close(plan, force, &timeout_owned, &stuck, fault)
                .await;
            let _ = done.send(result);
        });
        outcome.await.unwrap_or_else(|_| {
            Err(EsError::new(
                500,
                "exception",
                "the simulator is shutting down",
            ))
        })?;
        let closed = self
            .wait_for(timeout.wait, |state| {
                jobs.iter()
                    .all(|id| {
                        state
                            .jobs
                            .get(id)
                            .is_none_or(|job| job.state == JobState::Closed)
                    })
                    .then_some(())
            })
            .await;
        match closed {
            Some(()) => Ok(json!({"closed": true})),
            None => Err(EsError::close_timeout(&timeout.text)),
        }
    }

    /// Steps 4–7 of §2.2 once validated: stop the datafeeds, then close the jobs. The stop is
    /// the stop action with the close's `force` and, as its stop timeout, the close's `timeout`
    /// (`TransportCloseJobAction.stopDatafeeds` sets `setStopTimeout`); like a stop from the REST
    /// layer it then waits, without a limit, for the datafeed tasks to go (§2.1 step 4).
    async fn stop_then_close(
        &self,
        plan: ClosePlan,
        force: bool,
        timeout: &Timeout,
        stuck: &[String],
        fault: Option<FaultEffect>,
    ) -> Result<(), EsError> {
        if !plan.datafeeds_to_stop.is_empty() {
            let mut stuck_datafeeds = Vec::new();
            match fault {
                Some(FaultEffect::Error(err)) => {
                    return Err(EsError::close_datafeeds_not_stopped(
                        &plan.datafeeds_to_stop,
                        &err,
                    ));
                }
                Some(FaultEffect::Delay(delay)) => tokio::time::sleep(delay).await,
                Some(FaultEffect::Stuck { ids }) => stuck_datafeeds = ids,
                Some(FaultEffect::Drop) | None => {}
            }
            self.stop_datafeed_ids(
                &plan.datafeeds_to_stop,
                force,
                timeout,
                &stuck_datafeeds,
                !force,
            )
            .await;
        }
        self.transition(|state, shared| state.begin_close(shared, &plan.jobs, force, stuck))
    }

    /// `POST /_sim/anomaly_detectors/<id>/_fail`: the job fails; its datafeed is force-stopped.
    pub(crate) fn fail_job(&self, id: &str) -> Result<Value, EsError> {
        self.transition(|state, shared| {
            state.job(id)?;
            if let Some(df) = state.datafeed_of_job.get(id).cloned() {
                state.force_stop(shared, &df, false);
            }
            let job = state.job_mut(id)?;
            job.state = JobState::Failed;
            job.transition = None;
            job.opened_at = None;
            state.activity.state_changed();
            // A failed job's model no longer takes memory: jobs waiting for room may get it.
            state.assign_waiting(shared);
            Ok(json!({"failed": true}))
        })
    }
}

impl State {
    /// Validates an open and starts it.
    fn begin_open(&mut self, shared: &Shared, id: &str) -> Result<Opening, EsError> {
        let job = self.job(id)?;
        if job.state.has_task() {
            // `PersistentTasksClusterService` refuses a second task with the same id; the open
            // action wraps that in its 409 (TransportOpenJobAction).
            return Err(EsError::conflict(format!(
                "Cannot open job [{id}] because it has already been opened"
            ))
            .caused_by(
                "resource_already_exists_exception",
                format!("task with id {{job-{id}}} already exist"),
            ));
        }
        if let Some(snapshot) = job.current_snapshot() {
            let (checked, reported) = super::snapshots::min_supported(self.version());
            if snapshot.min_version < checked {
                return Err(EsError::new(
                    400,
                    "status_exception",
                    format!(
                        "[{id}] job model snapshot [{}] has min version before [{reported}], \
                         please revert to a newer model snapshot or reset the job",
                        snapshot.snapshot_id
                    ),
                ));
            }
        }
        if !self.allocation_enabled {
            return Err(EsError::assignment_disabled());
        }
        let used = self.memory_used(&shared.nodes);
        let open = self.open_jobs(&shared.nodes);
        match place(
            &shared.nodes,
            &self.up(),
            &used,
            &open,
            id,
            job.config.model_memory_limit,
        ) {
            Placement::Node(node) => {
                let ticket = shared
                    .persistence
                    .admit_request(1, &format!("restore model state for job [{id}]"))?
                    .pop()
                    .expect("one ticket was asked for");
                let job = self.job_mut(id)?;
                job.node = Some(node);
                job.state = JobState::Opening;
                job.finished_time = None;
                let (sender, cancel) = transition_channel();
                job.transition = Some(sender);
                self.effects.push(Effect::Restore {
                    job: id.to_owned(),
                    ticket,
                    cancel,
                });
                self.activity.state_changed();
                Ok(Opening::Restoring)
            }
            Placement::NoCapacity(_) if job.config.allow_lazy_open => {
                let job = self.job_mut(id)?;
                job.node = None;
                job.state = JobState::Opening;
                job.explanation = Some(AWAITING_LAZY_ASSIGNMENT.to_owned());
                job.finished_time = None;
                job.transition = None;
                self.activity.state_changed();
                Ok(Opening::AwaitingNode)
            }
            Placement::NoCapacity(explanation) => Err(EsError::no_capacity(&explanation)),
        }
    }

    /// The restore finished: the job is `opened`, and datafeeds that were waiting start.
    pub(super) fn finish_open(&mut self, id: &str, cancel: &mut Cancel) {
        if !still_current(cancel) {
            return;
        }
        let Some(job) = self.jobs.get_mut(id) else {
            return;
        };
        job.state = JobState::Opened;
        job.stale = false;
        job.opened_at = Some(Instant::now());
        job.transition = None;
        self.activity.state_changed();
        if let Some(df) = self.datafeed_of_job.get(id).cloned() {
            self.promote_ready_datafeed(&df);
            // A datafeed that followed its job to this node starts a new runner there.
            self.resume_datafeeds(&[df]);
        }
    }

    /// Step 3 of §2.2: validate every job before touching any; record ordering violations.
    fn plan_close(
        &mut self,
        expr: &str,
        allow_no_match: bool,
        force: bool,
    ) -> Result<ClosePlan, EsError> {
        let jobs = self.expand_jobs(expr, allow_no_match)?;
        if !self.version().close_stops_datafeed() {
            // Before 7.14 `validate` first checks that the datafeeds of every expanded job are
            // stopped, force or not, and only then looks for failed jobs
            // (TransportCloseJobAction.checkDatafeedsHaveStopped, 7.x).
            let running = jobs
                .iter()
                .filter_map(|id| self.datafeed_for(id))
                .find(|df| df.state != DatafeedState::Stopped)
                .map(|df| (df.config.job_id.clone(), df.id.clone(), df.state.as_str()));
            if let Some((job, df, df_state)) = running {
                self.record_violation("close_job", &job, &df, "datafeed_state", df_state);
                return Err(EsError::conflict(format!(
                    "cannot close job datafeed [{df}] hasn't been stopped"
                )));
            }
        }
        if !force {
            let failed: Vec<&String> = jobs
                .iter()
                .filter(|id| self.jobs[*id].state == JobState::Failed)
                .collect();
            if let Some(first) = failed.first() {
                return Err(EsError::conflict(if jobs.len() == 1 {
                    format!("cannot close job [{first}] because it failed, use force close")
                } else {
                    "one or more jobs have state failed, use force close".to_owned()
                }));
            }
        }
        let mut datafeeds_to_stop = Vec::new();
        let mut violations = Vec::new();
        for id in &jobs {
            let job = &self.jobs[id];
            if !matches!(
                job.state,
                JobState::Opening | JobState::Opened | JobState::Failed
            ) {
                continue;
            }
            if let Some(df) = self.datafeed_for(id)
                && df.state != DatafeedState::Stopped
            {
                violations.push((id.clone(), df.id.clone(), df.state.as_str()));
                datafeeds_to_stop.push(df.id.clone());
            }
        }
        for (job, df, df_state) in &violations {
            self.record_violation("close_job", job, df, "datafeed_state", df_state);
        }
        Ok(ClosePlan {
            jobs,
            datafeeds_to_stop,
        })
    }

    /// Steps 5–7 of §2.2: force removes tasks; a graceful close persists assigned jobs'
    /// models. Each job's close is its own task on its node, as in ES: the request is admitted
    /// to the persistence queue as a whole, then every job waits its turn (§2.2, simulator).
    fn begin_close(
        &mut self,
        shared: &Shared,
        jobs: &[String],
        force: bool,
        stuck: &[String],
    ) -> Result<(), EsError> {
        if force {
            for id in jobs {
                if self.jobs.get(id).is_some_and(|job| job.state.has_task()) {
                    self.remove_job_task(shared, id);
                }
            }
            return Ok(());
        }
        let to_persist: Vec<&String> = jobs
            .iter()
            .filter(|id| {
                self.jobs.get(*id).is_some_and(|job| {
                    matches!(job.state, JobState::Opening | JobState::Opened)
                        && job.node.is_some()
                        && !stuck.contains(id)
                })
            })
            .collect();
        let what = match to_persist.as_slice() {
            [one] => format!("persist model state for job [{one}]"),
            _ => format!("persist model state for {} jobs", to_persist.len()),
        };
        let mut tickets = shared.persistence.admit_request(to_persist.len(), &what)?;
        for id in jobs {
            let Some(job) = self.jobs.get_mut(id) else {
                continue;
            };
            if !matches!(job.state, JobState::Opening | JobState::Opened) {
                // closed: nothing to do; closing: waited on; failed: only with force.
                continue;
            }
            if job.node.is_none() {
                // Unassigned (awaiting a node): closed by removing the task (§2.2 step 7).
                self.remove_job_task(shared, id);
                continue;
            }
            job.state = JobState::Closing;
            job.transition = None;
            if !stuck.contains(id)
                && let Some(ticket) = tickets.pop()
            {
                let (sender, cancel) = transition_channel();
                job.transition = Some(sender);
                self.effects.push(Effect::Persist {
                    job: id.clone(),
                    ticket,
                    cancel,
                });
            }
            self.activity.state_changed();
        }
        Ok(())
    }

    /// Starts a graceful close the cluster decides on itself (a lookback reaching its end, a
    /// stop with `close_job`).
    pub(super) fn auto_close(&mut self, shared: &Shared, id: &str) {
        let Some(job) = self.jobs.get_mut(id) else {
            return;
        };
        if !matches!(job.state, JobState::Opened | JobState::Opening) || job.node.is_none() {
            return;
        }
        job.state = JobState::Closing;
        let (sender, cancel) = transition_channel();
        job.transition = Some(sender);
        let ticket = shared
            .persistence
            .admit_unbounded(1)
            .pop()
            .expect("one ticket was asked for");
        self.effects.push(Effect::Persist {
            job: id.to_owned(),
            ticket,
            cancel,
        });
        self.activity.state_changed();
    }

    /// The model is persisted: the job is `closed` with a new snapshot, and its memory goes to
    /// lazily opened jobs awaiting a node.
    pub(super) fn finish_close(&mut self, shared: &Shared, id: &str, cancel: &mut Cancel) {
        if !still_current(cancel) {
            return;
        }
        let version = self.version();
        let Some(job) = self.jobs.get_mut(id) else {
            return;
        };
        let now = Timestamp::now();
        let mut snapshot_id = now.as_second();
        if let Some(last) = job.snapshots.last()
            && let Ok(last_id) = last.snapshot_id.parse::<i64>()
        {
            snapshot_id = snapshot_id.max(last_id + 1);
        }
        job.snapshots.push(Snapshot {
            snapshot_id: snapshot_id.to_string(),
            timestamp: now,
            description: format!(
                "State persisted due to job close at {}",
                now.strftime("%Y-%m-%dT%H:%M:%S%z")
            ),
            model_bytes: job.model_bytes,
            min_version: version,
            retain: false,
        });
        job.model_snapshot_id = Some(snapshot_id.to_string());
        job.finished_time = Some(now);
        self.remove_job_task(shared, id);
    }

    /// The job loses its task (closed); freed memory may assign jobs awaiting a node.
    pub(super) fn remove_job_task(&mut self, shared: &Shared, id: &str) {
        if let Some(job) = self.jobs.get_mut(id) {
            job.state = JobState::Closed;
            job.node = None;
            job.stale = false;
            job.explanation = None;
            job.opened_at = None;
            job.transition = None;
            self.activity.state_changed();
        }
        self.assign_waiting(shared);
    }

    /// Assigns the job tasks that wait for a node (lazy opens, jobs whose node left) to nodes
    /// that now have room, in id order; each restores its model there. Nothing is assigned
    /// while upgrade mode is on; with task allocation disabled each waits with that reason.
    pub(super) fn assign_waiting(&mut self, shared: &Shared) {
        if self.upgrade_mode {
            return;
        }
        let waiting: Vec<String> = self
            .jobs
            .values()
            .filter(|job| job.needs_node())
            .map(|job| job.id.clone())
            .collect();
        let up = self.up();
        let mut used = self.memory_used(&shared.nodes);
        let mut open = self.open_jobs(&shared.nodes);
        for id in waiting {
            let job = &self.jobs[&id];
            let (required, lazy) = (job.config.model_memory_limit, job.config.allow_lazy_open);
            let placement = if self.allocation_enabled {
                place(&shared.nodes, &up, &used, &open, &id, required)
            } else {
                Placement::NoCapacity(ALLOCATION_DISABLED_JOB.to_owned())
            };
            let job = self.jobs.get_mut(&id).expect("listed above");
            match placement {
                Placement::Node(node) => {
                    used[node] += required;
                    open[node] += 1;
                    let ticket = shared
                        .persistence
                        .admit_unbounded(1)
                        .pop()
                        .expect("one ticket was asked for");
                    let (sender, cancel) = transition_channel();
                    job.node = Some(node);
                    job.explanation = None;
                    job.transition = Some(sender);
                    self.effects.push(Effect::Restore {
                        job: id,
                        ticket,
                        cancel,
                    });
                }
                Placement::NoCapacity(_) if lazy && self.allocation_enabled => {
                    job.explanation = Some(AWAITING_LAZY_ASSIGNMENT.to_owned());
                }
                Placement::NoCapacity(explanation) => job.explanation = Some(explanation),
            }
        }
    }
}

/// `JobNodeSelector.AWAITING_LAZY_ASSIGNMENT`.
pub(super) const AWAITING_LAZY_ASSIGNMENT: &str = "persistent task is awaiting node assignment.";

/// A job task's explanation while `cluster.persistent_tasks.allocation.enable` is `none`
/// (`PersistentTasksClusterService` with `EnableAssignmentDecider.ALLOCATION_NONE_EXPLANATION`).
pub(super) const ALLOCATION_DISABLED_JOB: &str = "persistent task [xpack/ml/job] cannot be \
     assigned [no persistent task assignments are allowed due to cluster settings]";

/// The open job response; `node` only from 7.8 on (docs/elasticsearch-ml-api.md §8).
fn opened_body(version: crate::seed::EsVersion, node: &str) -> Value {
    if version.answers_with_node() {
        json!({"opened": true, "node": node})
    } else {
        json!({"opened": true})
    }
}

impl Job {
    /// The assigned node's index, hidden while upgrade mode unassigns every task.
    pub(super) fn visible_node(&self, upgrade_mode: bool) -> Option<usize> {
        if upgrade_mode { None } else { self.node }
    }
}
