//! Datafeed transitions: start (waits for its job to be opened), stop (graceful, forced,
//! stuck), lookbacks that end and close their job (docs/elasticsearch-ml-api.md §2.1, §2.4, §3.2).

use serde_json::{Value, json};

use super::effects::{Cancel, Effect, still_current, transition_channel};
use super::model::{Datafeed, DatafeedState, JobState};
use super::progress::{Search, SearchRun, Timing};
use super::{Cluster, Shared, State, Timeout};
use crate::EsError;

/// How a start request ends once validated.
enum StartWait {
    /// The job awaits a node (lazy open): the datafeed waits with it, the call returns now.
    Lazy,
    Wait,
}

impl Cluster {
    /// `POST /_ml/datafeeds/<id>/_start`; `start`/`end` in epoch ms.
    pub(crate) async fn start_datafeed(
        &self,
        id: &str,
        start_ms: Option<i64>,
        end_ms: Option<i64>,
        timeout: &Timeout,
    ) -> Result<Value, EsError> {
        if let Some(end) = end_ms {
            let start = start_ms.unwrap_or(0);
            if end <= start {
                return Err(EsError::start_not_before_end(start, end));
            }
        }
        let version = self.version();
        let with_node = version.answers_with_node();
        let wait = self.transition(|state, _| state.begin_start(id, start_ms, end_ms))?;
        if let StartWait::Lazy = wait {
            return Ok(started_body(with_node, ""));
        }
        let outcome = self
            .wait_for(timeout.wait, |state| {
                let df = state.datafeeds.get(id)?;
                match df.state {
                    DatafeedState::Started | DatafeedState::Stopping => {
                        let job = state.jobs.get(&df.config.job_id)?;
                        Some(Ok(job.node))
                    }
                    DatafeedState::Stopped => Some(Err(EsError::conflict(format!(
                        "datafeed [{id}] was stopped while being started"
                    )))),
                    DatafeedState::Starting => None,
                }
            })
            .await;
        match outcome {
            Some(Ok(node)) => {
                let node = node.map_or("", |index| self.shared.nodes[index].id.as_str());
                Ok(started_body(with_node, node))
            }
            Some(Err(err)) => Err(err),
            None => Err(EsError::start_timeout(id, &timeout.text, version)),
        }
    }

    /// `POST /_ml/datafeeds/<expr>/_stop` (docs/elasticsearch-ml-api.md §2.1). `timeout` is the
    /// stop timeout of the nodes: past it they stop the datafeed all the same. The call then
    /// waits without a limit until the tasks are gone, as `waitForDatafeedStopped` does with
    /// the request timeout the REST layer leaves unset: a datafeed a node never stops (a
    /// `stuck` fault) holds the call until a force stop.
    pub(crate) async fn stop_datafeeds(
        &self,
        expr: &str,
        allow_no_match: bool,
        force: bool,
        timeout: &Timeout,
        stuck: &[String],
        close_job: Option<bool>,
    ) -> Result<Value, EsError> {
        let ids = self.read(|state, _| state.expand_datafeeds(expr, allow_no_match))?;
        // Before ~9.3 a lookback datafeed stopped through the API closes its job; from 9.3 the
        // `close_job` parameter decides, for every datafeed (docs/elasticsearch-ml-api.md §2.1 step 7).
        let lookback_closes = close_job.unwrap_or(true);
        self.stop_datafeed_ids(&ids, force, timeout, stuck, lookback_closes)
            .await;
        if close_job == Some(true) {
            let jobs: Vec<String> = self.transition(|state, shared| {
                let jobs: Vec<String> = ids
                    .iter()
                    .filter_map(|id| state.datafeeds.get(id))
                    .map(|df| df.config.job_id.clone())
                    .collect();
                for job in &jobs {
                    state.auto_close(shared, job);
                }
                jobs
            });
            self.wait_for(timeout.wait, |state| {
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
        }
        Ok(json!({"stopped": true}))
    }

    /// Stops the given datafeeds, each node giving up on a graceful stop after
    /// `stop_timeout`, and waits until every one is stopped. `auto_close`: whether a lookback
    /// datafeed closes its job (false when isolated first, as a force close does).
    pub(super) async fn stop_datafeed_ids(
        &self,
        ids: &[String],
        force: bool,
        stop_timeout: &Timeout,
        stuck: &[String],
        auto_close: bool,
    ) {
        self.transition(|state, shared| {
            for id in ids {
                let how = StopHow {
                    force,
                    stuck: stuck.contains(id),
                    auto_close,
                    give_up_after: stop_timeout.wait,
                };
                state.begin_stop(shared, id, how);
            }
        });
        let all_stopped = |state: &State| {
            ids.iter()
                .all(|id| {
                    state
                        .datafeeds
                        .get(id)
                        .is_none_or(|df| df.state == DatafeedState::Stopped)
                })
                .then_some(())
        };
        self.wait_for(None, all_stopped).await;
    }
}

/// How one datafeed is to be stopped.
struct StopHow {
    force: bool,
    /// A `stuck` fault: the node never stops it.
    stuck: bool,
    auto_close: bool,
    /// The node's stop timeout (`None`: `-1`, no limit).
    give_up_after: Option<std::time::Duration>,
}

fn started_body(with_node: bool, node: &str) -> Value {
    if with_node {
        json!({"started": true, "node": node})
    } else {
        json!({"started": true})
    }
}

impl State {
    fn begin_start(
        &mut self,
        id: &str,
        start_ms: Option<i64>,
        end_ms: Option<i64>,
    ) -> Result<StartWait, EsError> {
        let df = self
            .datafeeds
            .get(id)
            .ok_or_else(|| EsError::unknown_datafeed(id))?;
        if df.state.has_task() {
            return Err(EsError::conflict(format!(
                "cannot start datafeed [{id}] because it has already been started"
            )));
        }
        let job_id = df.config.job_id.clone();
        let job = self.job(&job_id)?;
        let job_state = job.state;
        let lazy = job.awaiting_node();
        let job_latest_ms = job.data_counts.latest_record_ms();
        if job_state != JobState::Opened {
            self.record_violation(
                "start_datafeed",
                &job_id,
                id,
                "job_state",
                job_state.as_str(),
            );
        }
        if !matches!(job_state, JobState::Opening | JobState::Opened) {
            return Err(EsError::conflict(format!(
                "cannot start datafeed [{id}] because job [{job_id}] is {job_state}"
            )));
        }
        let (sender, cancel) = transition_channel();
        let df = self.datafeeds.get_mut(id).expect("looked up above");
        df.state = DatafeedState::Starting;
        df.end_ms = end_ms;
        df.start_ready = false;
        df.transition = Some(sender);
        // The REST layer's default start is "0" (`RestStartDatafeedAction`).
        df.progress.start(start_ms.unwrap_or(0), job_latest_ms);
        self.effects.push(Effect::StartDatafeed {
            datafeed: id.to_owned(),
            cancel,
        });
        self.activity.state_changed();
        Ok(if lazy {
            StartWait::Lazy
        } else {
            StartWait::Wait
        })
    }

    /// The start latency passed: `started` if the job is opened, else wait for it.
    pub(super) fn finish_start(&mut self, id: &str, cancel: &mut Cancel) {
        if !still_current(cancel) {
            return;
        }
        if let Some(df) = self.datafeeds.get_mut(id) {
            df.start_ready = true;
            df.transition = None;
        }
        self.promote_ready_datafeed(id);
    }

    /// A `starting` datafeed whose latency passed becomes `started` once its job is opened.
    pub(super) fn promote_ready_datafeed(&mut self, id: &str) {
        let Some(df) = self.datafeeds.get(id) else {
            return;
        };
        let job_opened = self
            .jobs
            .get(&df.config.job_id)
            .is_some_and(|job| job.state == JobState::Opened);
        if df.state != DatafeedState::Starting || !df.start_ready || !job_opened {
            return;
        }
        let df = self.datafeeds.get_mut(id).expect("looked up above");
        df.state = DatafeedState::Started;
        df.start_ready = false;
        self.run_datafeed(id);
        self.activity.state_changed();
    }

    /// A datafeed just `started`: its lookback search now, then either the lookback's end (with
    /// `end`) or real-time searches every `frequency`.
    pub(super) fn run_datafeed(&mut self, id: &str) {
        self.datafeed_search(id, Search::Lookback);
        let Some(df) = self.datafeeds.get_mut(id) else {
            return;
        };
        let (sender, cancel) = transition_channel();
        let datafeed = id.to_owned();
        if df.end_ms.is_some() {
            df.transition = Some(sender);
            self.effects.push(Effect::Lookback { datafeed, cancel });
        } else {
            df.searches = Some(sender);
            self.effects.push(Effect::Searches { datafeed, cancel });
        }
    }

    /// One search of a `started` datafeed, on its node (docs/elasticsearch-ml-api.md §14); an
    /// unassigned one has no runner and searches nothing.
    pub(super) fn datafeed_search(&mut self, id: &str, kind: Search) {
        let Some(df) = self.datafeeds.get(id) else {
            return;
        };
        if df.state != DatafeedState::Started {
            return;
        }
        let node = self.datafeed_node(df);
        let job_id = df.config.job_id.clone();
        let stalled = self.stalls.contains(id);
        let now_ms = self.clock.now_ms();
        let (Some(df), Some(job)) = (self.datafeeds.get_mut(id), self.jobs.get_mut(&job_id)) else {
            return;
        };
        let Some(node) = node else {
            df.progress.lose_runner();
            return;
        };
        let run = SearchRun {
            kind,
            node,
            now_ms,
            stalled,
            end_ms: df.end_ms,
            config: Timing::of(df, job),
            clock: &self.clock,
        };
        df.progress.search(run, job);
    }

    /// How long until a real-time datafeed's next search; `None` once it is gone.
    pub(super) fn until_next_search(&self, id: &str) -> Option<std::time::Duration> {
        let df = self.datafeeds.get(id)?;
        let job = self.jobs.get(&df.config.job_id)?;
        Some(Timing::of(df, job).until_next_search(self.clock.now_ms()))
    }

    /// Started datafeeds whose runner went (upgrade mode, their job moving) start a new one
    /// with a lookback once assigned again.
    pub(super) fn resume_datafeeds(&mut self, ids: &[String]) {
        for id in ids {
            self.datafeed_search(id, Search::Lookback);
        }
    }

    fn begin_stop(&mut self, shared: &Shared, id: &str, how: StopHow) {
        let StopHow {
            force,
            stuck,
            auto_close,
            give_up_after,
        } = how;
        let Some(df) = self.datafeeds.get(id) else {
            return;
        };
        let state = df.state;
        let assigned = self.datafeed_node(df).is_some();
        match state {
            DatafeedState::Stopped => {}
            _ if force => self.force_stop(shared, id, auto_close),
            DatafeedState::Stopping => {}
            DatafeedState::Started | DatafeedState::Starting if !assigned => {
                // Unassigned (upgrade mode, job awaiting a node): the task is simply removed and
                // the job stays open (docs/elasticsearch-ml-api.md §2.1 step 4 and 7).
                self.force_stop(shared, id, false);
            }
            DatafeedState::Started | DatafeedState::Starting => {
                let df = self.datafeeds.get_mut(id).expect("looked up above");
                df.state = DatafeedState::Stopping;
                df.transition = None;
                // A stuck datafeed gets no stop work: it stays `stopping` until a force stop.
                if !stuck {
                    let (sender, cancel) = transition_channel();
                    df.transition = Some(sender);
                    self.effects.push(Effect::StopDatafeed {
                        datafeed: id.to_owned(),
                        auto_close,
                        give_up_after,
                        cancel,
                    });
                }
                self.activity.state_changed();
            }
        }
    }

    /// The stop latency (or the lookback) is over: `stopped`, and a lookback datafeed closes
    /// its job.
    pub(super) fn finish_stop(
        &mut self,
        shared: &Shared,
        id: &str,
        cancel: &mut Cancel,
        auto_close: bool,
    ) {
        if !still_current(cancel) {
            return;
        }
        self.force_stop(shared, id, auto_close);
    }

    /// The node a datafeed's task is assigned to: its job's, unless upgrade mode unassigned
    /// every task, or the job has no node or is moving (`DatafeedNodeSelector`).
    pub(super) fn datafeed_node(&self, df: &Datafeed) -> Option<usize> {
        if self.upgrade_mode || !df.state.has_task() {
            return None;
        }
        let job = self.jobs.get(&df.config.job_id)?;
        if job.stale || job.state == JobState::Failed {
            return None;
        }
        job.node
    }

    /// The datafeed's `assignment_explanation` when it has a task (`DatafeedNodeSelector`).
    pub(super) fn datafeed_explanation(&self, df: &Datafeed) -> String {
        let job = self.jobs.get(&df.config.job_id);
        if self.upgrade_mode {
            super::render::UPGRADE_EXPLANATION.to_owned()
        } else if job.is_some_and(|job| job.stale) {
            format!(
                "cannot start datafeed [{}], because the job's [{}] state is stale",
                df.id, df.config.job_id
            )
        } else if job.is_some_and(|job| job.node.is_none()) {
            "datafeed awaiting job assignment.".to_owned()
        } else {
            String::new()
        }
    }

    /// Removes the datafeed's task at once.
    pub(super) fn force_stop(&mut self, shared: &Shared, id: &str, auto_close: bool) {
        let Some(df) = self.datafeeds.get_mut(id) else {
            return;
        };
        if df.state == DatafeedState::Stopped {
            return;
        }
        df.state = DatafeedState::Stopped;
        df.transition = None;
        df.searches = None;
        df.start_ready = false;
        df.progress.stop();
        let lookback = df.end_ms.take().is_some();
        let job_id = df.config.job_id.clone();
        self.activity.state_changed();
        if lookback && auto_close {
            self.auto_close(shared, &job_id);
        }
    }
}
