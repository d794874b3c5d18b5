//! Building the plan: a step for every resource not yet in its wanted state, no-op entries for
//! the rest, and the edges that order them (stop before close, open before start, `after`
//! entries, upgrade mode around everything).

use std::collections::HashMap;

use crate::model::{
    DatafeedState, ForcePolicy, JobState, Keyword, MaintenanceWork, Playbook, UpgradeMode, Window,
};
use crate::observe::{DatafeedMode, ObservedDatafeedState, ObservedJobState, Outlook, Snapshot};
use crate::playbook::{Location, Source};

use super::order::in_wave_order;
use super::problem::{InvalidPlan, PlanProblem};
use super::resolve::{Resolution, Resource, resolve};
use super::step::{Action, Force, Step, StepId, Unchanged};
use super::{Edge, EdgeKind, MaintenanceView, Plan, UpgradeView};

/// Target name used for the cluster-wide upgrade mode.
pub(crate) const UPGRADE_MODE_TARGET: &str = "_ml";

/// Builds the plan of `playbook` against `snapshot` (or, with `None`, offline: every target is
/// assumed to need action). Returns the plan with its warnings, or every problem at once.
pub(crate) fn build(
    playbook: &Playbook,
    source: &Source,
    snapshot: Option<Snapshot>,
    outlook: Option<&Outlook>,
) -> Result<(Plan, Vec<PlanProblem>), InvalidPlan> {
    let resolution = resolve(playbook, snapshot.as_ref());
    let mut builder = Builder {
        playbook,
        snapshot: snapshot.as_ref(),
        steps: Vec::new(),
        unchanged: Vec::new(),
        edges: Vec::new(),
        problems: resolution.problems.clone(),
        by_resource: HashMap::new(),
    };
    builder.jobs(&resolution);
    builder.datafeeds(&resolution);
    builder.implicit_stops(&resolution);
    let gate = playbook
        .upgrade
        .as_ref()
        .and_then(|upgrade| builder.snapshot_gate(&resolution, outlook, upgrade));
    builder.feed_edges(&resolution);
    builder.after_edges(&resolution);
    builder.capacity(outlook);
    let maintenance = builder.maintenance();
    builder.upgrade_mode();

    let Builder {
        steps,
        unchanged,
        edges,
        mut problems,
        ..
    } = builder;
    let (steps, edges) = in_wave_order(steps, edges);
    let observed = snapshot.is_some();
    let mut plan = Plan::assemble(
        playbook.name.clone(),
        playbook.description.clone(),
        snapshot,
        steps,
        unchanged,
        edges,
    );
    plan.gate = gate;
    plan.upgrade = playbook.upgrade.as_ref().map(UpgradeView::from);
    plan.maintenance = maintenance;
    if let Some(cycle) = plan.cycle() {
        problems.push(cycle);
    }
    if problems.iter().any(PlanProblem::is_error) {
        problems.sort_by_key(p_offset);
        return Err(InvalidPlan::new(source, problems, observed));
    }
    Ok((plan, problems))
}

fn p_offset(problem: &PlanProblem) -> usize {
    use miette::Diagnostic;
    problem
        .labels()
        .and_then(|mut labels| labels.next())
        .map_or(usize::MAX, |label| label.offset())
}

/// The jobs the playbook's job entries stand for in `snapshot`: those whose snapshots the gate
/// reads.
pub(crate) fn targeted_jobs(playbook: &Playbook, snapshot: &Snapshot) -> Vec<String> {
    resolve(playbook, Some(snapshot)).jobs.into_keys().collect()
}

pub(super) struct Builder<'a> {
    pub(super) playbook: &'a Playbook,
    pub(super) snapshot: Option<&'a Snapshot>,
    pub(super) steps: Vec<Step>,
    unchanged: Vec<Unchanged>,
    pub(super) edges: Vec<Edge>,
    pub(super) problems: Vec<PlanProblem>,
    pub(super) by_resource: HashMap<Resource, StepId>,
}

impl Builder<'_> {
    pub(super) fn push(&mut self, resource: Option<Resource>, mut step: Step) -> StepId {
        let id = StepId(self.steps.len());
        step.id = id;
        step.estimate = step.action.estimate(step.model_bytes);
        self.steps.push(step);
        if let Some(resource) = resource {
            self.by_resource.insert(resource, id);
        }
        id
    }

    pub(super) fn step(
        action: Action,
        target: &str,
        reason: String,
        observed: Option<String>,
    ) -> Step {
        Step {
            id: StepId(0),
            action,
            target: target.to_owned(),
            reason,
            observed,
            source: None,
            force: Force::NotNeeded,
            model_bytes: 0,
            estimate: Default::default(),
        }
    }

    fn keep(&mut self, kind: &str, target: &str, state: &str, reason: String, at: &Location) {
        self.unchanged.push(Unchanged {
            kind: kind.to_owned(),
            target: target.to_owned(),
            state: state.to_owned(),
            reason,
            source: Some(at.clone()),
        });
    }

    fn jobs(&mut self, resolution: &Resolution) {
        for (id, want) in &resolution.jobs {
            let observed = self.snapshot.and_then(|s| s.jobs.get(id));
            let model_bytes = observed.map_or(0, |job| job.model_bytes);
            let (action, reason, force) = match (want.state, observed.map(|job| job.state)) {
                (JobState::Closed, Some(ObservedJobState::Closed)) => {
                    self.keep("job", id, "closed", "already closed".into(), &want.location);
                    continue;
                }
                (JobState::Opened, Some(ObservedJobState::Opened)) => {
                    self.keep("job", id, "opened", "already opened".into(), &want.location);
                    continue;
                }
                (JobState::Opened, Some(ObservedJobState::Failed)) => {
                    self.problems.push(PlanProblem::OpenFailedJob {
                        job: id.clone(),
                        at: want.location.span(),
                    });
                    continue;
                }
                (JobState::Closed, Some(ObservedJobState::Failed)) => {
                    let (force, why) = match self.playbook.settings.force {
                        ForcePolicy::AfterTimeout => (
                            Force::RequiredAllowed,
                            "job is failed: closed with force (no flush, no final results, no model snapshot)",
                        ),
                        ForcePolicy::Never => (
                            Force::RequiredRefused,
                            "job is failed: only a forced close works, and `settings.force` is `never`, so this step will fail",
                        ),
                    };
                    (Action::CloseJob, why.to_owned(), force)
                }
                (JobState::Closed, Some(ObservedJobState::Closing)) => (
                    Action::CloseJob,
                    "closing already in progress: wait until closed".to_owned(),
                    Force::NotNeeded,
                ),
                (JobState::Closed, Some(state)) => (
                    Action::CloseJob,
                    format!("job is {state}; the playbook wants it closed"),
                    Force::NotNeeded,
                ),
                (JobState::Opened, Some(ObservedJobState::Opening)) => (
                    Action::OpenJob,
                    "opening already in progress: wait until opened".to_owned(),
                    Force::NotNeeded,
                ),
                (JobState::Opened, Some(state)) => (
                    Action::OpenJob,
                    format!("job is {state}; the playbook wants it opened"),
                    Force::NotNeeded,
                ),
                (state, None) => (
                    if state == JobState::Closed {
                        Action::CloseJob
                    } else {
                        Action::OpenJob
                    },
                    format!("offline: assumed not {}", state.name()),
                    Force::NotNeeded,
                ),
            };
            let mut step = Self::step(action, id, reason, observed.map(|j| j.state.to_string()));
            step.source = Some(want.location.clone());
            step.force = force;
            step.model_bytes = model_bytes;
            self.push(Some(Resource::Job(id.clone())), step);
        }
    }

    fn datafeeds(&mut self, resolution: &Resolution) {
        for (id, want) in &resolution.datafeeds {
            let observed = self.snapshot.and_then(|s| s.datafeeds.get(id));
            let (action, reason) = match (want.state, observed.map(|d| (d.state, d.mode))) {
                (DatafeedState::Stopped, Some((ObservedDatafeedState::Stopped, _))) => {
                    self.keep(
                        "datafeed",
                        id,
                        "stopped",
                        "already stopped".into(),
                        &want.location,
                    );
                    continue;
                }
                (
                    DatafeedState::Started,
                    Some((ObservedDatafeedState::Started | ObservedDatafeedState::Starting, mode)),
                ) => {
                    let reason = match mode {
                        DatafeedMode::Lookback => {
                            "already started (a lookback with an end: it stops and closes its job by itself)"
                        }
                        _ => "already started",
                    };
                    self.keep("datafeed", id, "started", reason.into(), &want.location);
                    continue;
                }
                (DatafeedState::Stopped, Some((ObservedDatafeedState::Stopping, _))) => (
                    Action::StopDatafeed,
                    "stopping already in progress: wait until stopped".to_owned(),
                ),
                (DatafeedState::Stopped, Some((state, _))) => (
                    Action::StopDatafeed,
                    format!("datafeed is {state}; the playbook wants it stopped"),
                ),
                (DatafeedState::Started, Some((state, _))) => {
                    let job_id = observed.map(|d| d.job_id.as_str()).unwrap_or_default();
                    if !self.job_will_be_open(resolution, job_id) {
                        let job_state = match resolution.jobs.get(job_id) {
                            Some(w) if w.state == JobState::Closed => "to be closed".to_owned(),
                            _ => self
                                .snapshot
                                .and_then(|s| s.jobs.get(job_id))
                                .map_or("missing".to_owned(), |j| j.state.to_string()),
                        };
                        self.problems.push(PlanProblem::JobNotOpen {
                            datafeed: id.clone(),
                            job: job_id.to_owned(),
                            job_state,
                            at: want.location.span(),
                        });
                        continue;
                    }
                    (
                        Action::StartDatafeed,
                        format!("datafeed is {state}; the playbook wants it started (real-time)"),
                    )
                }
                (state, None) => (
                    if state == DatafeedState::Stopped {
                        Action::StopDatafeed
                    } else {
                        Action::StartDatafeed
                    },
                    format!("offline: assumed not {}", state.name()),
                ),
            };
            let mut step = Self::step(action, id, reason, observed.map(|d| d.state.to_string()));
            step.source = Some(want.location.clone());
            self.push(Some(Resource::Datafeed(id.clone())), step);
        }
    }

    /// A job that will be opened or open when its datafeed starts.
    fn job_will_be_open(&self, resolution: &Resolution, job_id: &str) -> bool {
        match resolution.jobs.get(job_id) {
            Some(want) => want.state == JobState::Opened,
            None => self
                .snapshot
                .and_then(|s| s.jobs.get(job_id))
                .is_some_and(|job| {
                    matches!(
                        job.state,
                        ObservedJobState::Opened | ObservedJobState::Opening
                    )
                }),
        }
    }

    /// A job to close whose datafeed still runs gets a stop step even when the playbook does
    /// not name the datafeed: closing first would hide which part stalled (7.14+) or be refused
    /// (before 7.14).
    fn implicit_stops(&mut self, resolution: &Resolution) {
        let Some(snapshot) = self.snapshot else {
            return;
        };
        let closes: Vec<(String, Option<Location>)> = self
            .steps
            .iter()
            .filter(|s| s.action == Action::CloseJob)
            .map(|s| (s.target.clone(), s.source.clone()))
            .collect();
        for (job_id, at) in closes {
            let Some((feed_id, feed)) = snapshot.datafeed_of(&job_id) else {
                continue;
            };
            if feed.state == ObservedDatafeedState::Stopped
                || resolution.datafeeds.contains_key(feed_id)
            {
                if resolution
                    .datafeeds
                    .get(feed_id)
                    .is_some_and(|w| w.state == DatafeedState::Started)
                {
                    self.problems.push(PlanProblem::JobNotOpen {
                        datafeed: feed_id.to_owned(),
                        job: job_id.clone(),
                        job_state: "to be closed".into(),
                        at: resolution.datafeeds[feed_id].location.span(),
                    });
                }
                continue;
            }
            let mut step = Self::step(
                Action::StopDatafeed,
                feed_id,
                format!("feeds job `{job_id}`, which is to be closed; stopped first"),
                Some(feed.state.to_string()),
            );
            step.source = at;
            self.push(Some(Resource::Datafeed(feed_id.to_owned())), step);
        }
    }

    /// The datafeed → job link of `feed_id`, from the cluster or, offline, from `job:`.
    fn job_of<'r>(&'r self, resolution: &'r Resolution, feed_id: &str) -> Option<&'r str> {
        match self.snapshot {
            Some(snapshot) => snapshot.datafeeds.get(feed_id).map(|d| d.job_id.as_str()),
            None => resolution.declared_links.get(feed_id).map(String::as_str),
        }
    }

    fn feed_edges(&mut self, resolution: &Resolution) {
        let mut new = Vec::new();
        for step in &self.steps {
            let Some(job_id) = self.job_of(resolution, &step.target) else {
                continue;
            };
            let job_step = self.by_resource.get(&Resource::Job(job_id.to_owned()));
            match (step.action, job_step.map(|id| self.steps[id.0].action)) {
                (Action::StopDatafeed, Some(Action::CloseJob)) => {
                    new.push(Edge::new(
                        step.id,
                        *job_step.unwrap_or(&step.id),
                        EdgeKind::StopBeforeClose,
                    ));
                }
                (Action::StartDatafeed, Some(Action::OpenJob)) => {
                    new.push(Edge::new(
                        *job_step.unwrap_or(&step.id),
                        step.id,
                        EdgeKind::OpenBeforeStart,
                    ));
                }
                _ => {}
            }
        }
        self.edges.extend(new);
    }

    fn after_edges(&mut self, resolution: &Resolution) {
        let entries = self
            .playbook
            .jobs
            .iter()
            .enumerate()
            .map(|(i, e)| (crate::model::TargetRef::Job(i), &e.after))
            .chain(
                self.playbook
                    .datafeeds
                    .iter()
                    .enumerate()
                    .map(|(i, e)| (crate::model::TargetRef::Datafeed(i), &e.after)),
            );
        let steps_of = |entry| -> Vec<StepId> {
            resolution
                .members
                .get(&entry)
                .into_iter()
                .flatten()
                .filter_map(|r| self.by_resource.get(r).copied())
                .collect()
        };
        let mut new = Vec::new();
        for (entry, after) in entries {
            let later = steps_of(entry);
            for reference in after {
                for before in steps_of(reference.target) {
                    for &step in &later {
                        if before != step {
                            new.push(Edge::new(
                                before,
                                step,
                                EdgeKind::After(reference.location.clone()),
                            ));
                        }
                    }
                }
            }
        }
        self.edges.extend(new);
    }

    /// The maintenance step: scheduled before every stop and close (and so before upgrade
    /// mode is enabled, which refuses calendar writes: E10), for the jobs the plan closes; or,
    /// written by `revert`, removed after every open and start (and, at run time, not before
    /// the datafeeds started have caught up on the window: `exec::maintenance`).
    fn maintenance(&mut self) -> Option<MaintenanceView> {
        let wanted = self.playbook.maintenance.as_ref()?;
        let calendar = wanted.calendar.clone();
        let (view, action, reason, before, after) = match &wanted.work {
            MaintenanceWork::Schedule {
                description,
                window,
            } => {
                let jobs: Vec<String> = self
                    .steps
                    .iter()
                    .filter(|s| s.action == Action::CloseJob)
                    .map(|s| s.target.clone())
                    .collect();
                if jobs.is_empty() {
                    self.keep(
                        "maintenance",
                        &calendar,
                        "unchanged",
                        "no job to take down: nothing to schedule".into(),
                        &wanted.location,
                    );
                    return None;
                }
                let now = jiff::Timestamp::now();
                let (start, end) = match *window {
                    Window::Between { start, end } => (start, end),
                    Window::For(length) => {
                        let length = jiff::SignedDuration::try_from(length)
                            .unwrap_or(jiff::SignedDuration::MAX);
                        (now, now.saturating_add(length).unwrap_or(now))
                    }
                };
                if end <= now {
                    // The event would cover none of the run: refused before anything changes.
                    self.problems.push(PlanProblem::MaintenanceOver {
                        end: end.to_string(),
                        now: now.to_string(),
                        at: wanted.location.span(),
                    });
                    return None;
                }
                let reason = format!(
                    "the playbook schedules maintenance from {start} to {end} for the {} job(s) it closes; before every stop and close",
                    jobs.len()
                );
                let downs: Vec<StepId> = self
                    .steps
                    .iter()
                    .filter(|s| matches!(s.action, Action::StopDatafeed | Action::CloseJob))
                    .map(|s| s.id)
                    .collect();
                let view = MaintenanceView::Schedule {
                    calendar: calendar.clone(),
                    description: description.clone(),
                    start_ms: start.as_millisecond(),
                    end_ms: end.as_millisecond(),
                    jobs,
                    before: None,
                };
                (view, Action::ScheduleMaintenance, reason, downs, Vec::new())
            }
            MaintenanceWork::Undo {
                run,
                jobs,
                calendar: delete_calendar,
            } => {
                let ups: Vec<StepId> = self
                    .steps
                    .iter()
                    .filter(|s| matches!(s.action, Action::OpenJob | Action::StartDatafeed))
                    .map(|s| s.id)
                    .collect();
                // Every datafeed the playbook brings back: those the plan starts and those it
                // finds started (a resumed revert finds them so, their lookback maybe still
                // under way). They belong to the jobs the run took down, which the event
                // covered: the removal waits until each has analysed past the window.
                let catch_up: Vec<String> = self
                    .steps
                    .iter()
                    .filter(|s| s.action == Action::StartDatafeed)
                    .map(|s| s.target.clone())
                    .chain(
                        self.unchanged
                            .iter()
                            .filter(|u| u.kind == "datafeed" && u.state == "started")
                            .map(|u| u.target.clone()),
                    )
                    .collect();
                let view = MaintenanceView::Undo {
                    calendar: calendar.clone(),
                    run: run.clone(),
                    jobs: jobs.clone(),
                    delete_calendar: *delete_calendar,
                    catch_up,
                };
                let reason = format!(
                    "removes what run {run} added to the calendar; after every open and start, once the datafeeds started have analysed past the maintenance"
                );
                (view, Action::RemoveMaintenance, reason, Vec::new(), ups)
            }
        };
        let mut step = Self::step(action, &calendar, reason, None);
        step.source = Some(wanted.location.clone());
        let id = self.push(None, step);
        for other in before {
            self.edges.push(Edge::new(id, other, EdgeKind::Maintenance));
        }
        for other in after {
            self.edges.push(Edge::new(other, id, EdgeKind::Maintenance));
        }
        Some(view)
    }

    fn upgrade_mode(&mut self) {
        let observed = self.snapshot.map(|s| s.upgrade_mode);
        let changes: Vec<StepId> = self.steps.iter().map(|s| s.id).collect();
        let wanted = self.playbook.upgrade_mode.as_ref();
        if observed == Some(true)
            && !changes.is_empty()
            && wanted.is_none_or(|w| w.state != UpgradeMode::Disabled)
        {
            self.problems.push(PlanProblem::UpgradeModeBlocks {
                at: self.steps[0].source.as_ref().map(Location::span),
            });
            return;
        }
        let Some(wanted) = wanted else {
            return;
        };
        let enable = wanted.state == UpgradeMode::Enabled;
        if enable
            && let Some(up) = self
                .steps
                .iter()
                .find(|s| matches!(s.action, Action::OpenJob | Action::StartDatafeed))
        {
            self.problems.push(PlanProblem::UpgradeModeWithUp {
                at: wanted.location.span(),
                up: up
                    .source
                    .as_ref()
                    .map_or(wanted.location.span(), Location::span),
            });
            return;
        }
        let name = if enable { "enabled" } else { "disabled" };
        if observed == Some(enable) {
            self.keep(
                "upgrade_mode",
                UPGRADE_MODE_TARGET,
                name,
                format!("upgrade mode is already {name}"),
                &wanted.location,
            );
            return;
        }
        let (action, reason) = if enable {
            (
                Action::EnableUpgradeMode,
                "the playbook wants upgrade mode enabled; set after every stop and close"
                    .to_owned(),
            )
        } else {
            (
                Action::DisableUpgradeMode,
                "the playbook wants upgrade mode disabled; set before every other step".to_owned(),
            )
        };
        let mut step = Self::step(
            action,
            UPGRADE_MODE_TARGET,
            reason,
            observed.map(|on| if on { "enabled" } else { "disabled" }.to_owned()),
        );
        step.source = Some(wanted.location.clone());
        let id = self.push(None, step);
        for other in changes {
            self.edges.push(if enable {
                Edge::new(other, id, EdgeKind::UpgradeMode)
            } else {
                Edge::new(id, other, EdgeKind::UpgradeMode)
            });
        }
    }
}
