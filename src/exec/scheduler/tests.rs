//! Scheduling against the fake cluster's persistence slots, on tokio's paused clock: the slots
//! are kept busy, the largest models go first, stops run only just ahead of their closes, a
//! ceiling far above what the cluster takes ends in no failed step, and dependents wait for a
//! commit of their dependencies' outcomes.

use std::time::Duration;

use crate::exec::fake::{FakeCluster, Reply};
use crate::exec::tests::{Run, plan, run, settings};
use crate::exec::{
    Event, EventKind, EventSink, Interrupts, RunOptions, StepNo, TargetState, execute,
};
use crate::plan::{Action, PlanView, SettingsView};

const MB: u64 = 1024 * 1024;
/// The fake persists 100 MB a second.
const RATE: u64 = 100 * MB;

/// `jobs` jobs, each with a started datafeed to stop before its job is closed; job `i` has a
/// model of `size(i)` bytes. Steps: stop `i` is #2i+1, close `i` is #2i+2.
fn shutdown(
    jobs: usize,
    size: impl Fn(usize) -> u64,
    settings: SettingsView,
) -> (PlanView, FakeCluster) {
    let names: Vec<(String, String)> = (0..jobs)
        .map(|i| (format!("datafeed-j{i:03}"), format!("j{i:03}")))
        .collect();
    let mut steps = Vec::new();
    let mut edges = Vec::new();
    for (i, (feed, job)) in names.iter().enumerate() {
        steps.push((Action::StopDatafeed, feed.as_str(), 2_000));
        steps.push((
            Action::CloseJob,
            job.as_str(),
            3_000 + size(i) * 1_000 / (50 * MB),
        ));
        edges.push((2 * i + 1, 2 * i + 2));
    }
    let mut view = plan(&steps, &edges, settings);
    for (i, step) in view.steps.iter_mut().enumerate() {
        if i % 2 == 1 {
            step.model_bytes = size(i / 2);
        }
    }
    let mut cluster = FakeCluster::new();
    for (i, (feed, job)) in names.iter().enumerate() {
        cluster = cluster
            .with(feed, TargetState::Started)
            .latency(feed, Duration::from_millis(200))
            .with(job, TargetState::Opened)
            .latency(job, Duration::from_millis(300))
            .model(job, size(i));
    }
    (view, cluster)
}

/// Sizes spread over two orders of magnitude, in no order.
fn spread(i: usize) -> u64 {
    let i = u64::try_from(i).expect("small");
    MB * (1 + (i * 37) % 97)
}

fn total_persist(jobs: usize, size: impl Fn(usize) -> u64) -> Duration {
    Duration::from_secs_f64((0..jobs).map(|i| size(i) as f64 / RATE as f64).sum::<f64>())
}

/// When the last step ended.
fn makespan(run: &Run) -> Duration {
    run.events.last().expect("events").elapsed
}

#[tokio::test(start_paused = true)]
async fn the_persist_slots_stay_busy_and_stops_run_only_just_ahead() {
    let jobs = 120;
    let (view, cluster) = shutdown(jobs, spread, settings());
    let cluster = cluster.persistence(2, 64, RATE);
    let view = SettingsView {
        concurrency: 64,
        ..view.settings.clone()
    }
    .apply(view);
    let run = run(&view, &cluster).await;
    assert_eq!(run.outcome.stats.changed, 2 * jobs);

    let bound = total_persist(jobs, spread) / 2;
    let ratio = makespan(&run).as_secs_f64() / bound.as_secs_f64();
    assert!(
        ratio < 1.05,
        "{:?} against a bound of {bound:?}: {ratio:.3}",
        makespan(&run)
    );
    // The first close went out long before the last stop: stops were not all run first.
    let stops_before_first_close = cluster
        .requests()
        .iter()
        .take_while(|r| r.action == Action::StopDatafeed)
        .count();
    assert!(
        stops_before_first_close < 20,
        "{stops_before_first_close} stops before the first close"
    );
    let (peak, refused, busy) = cluster.persisted();
    assert_eq!((peak, refused), (2, 0));
    assert_eq!(busy, total_persist(jobs, spread));
}

#[tokio::test(start_paused = true)]
async fn the_largest_models_close_first() {
    let jobs = 12;
    let (view, cluster) = shutdown(jobs, spread, settings());
    let cluster = cluster.persistence(1, 64, RATE);
    let view = SettingsView {
        concurrency: 1,
        ..view.settings.clone()
    }
    .apply(view);
    run(&view, &cluster).await;
    let closed: Vec<u64> = cluster
        .requests()
        .iter()
        .filter(|r| r.action == Action::CloseJob)
        .map(|r| spread(r.target[1..].parse().expect("a number")))
        .collect();
    let mut sorted = closed.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(closed, sorted, "largest first");
}

#[tokio::test(start_paused = true)]
async fn a_ceiling_far_above_what_the_cluster_takes_fails_no_step() {
    let jobs = 200;
    let (view, cluster) = shutdown(jobs, spread, settings());
    let cluster = cluster.persistence(4, 16, RATE);
    let view = SettingsView {
        concurrency: 256,
        retry_attempts: 2,
        ..view.settings.clone()
    }
    .apply(view);
    let run = run(&view, &cluster).await;
    assert_eq!(run.outcome.stats.failed, 0);
    assert_eq!(run.outcome.stats.changed, 2 * jobs);
    let bound = total_persist(jobs, spread) / 4;
    let ratio = makespan(&run).as_secs_f64() / bound.as_secs_f64();
    assert!(
        ratio < 1.10,
        "{:?} against a bound of {bound:?}: {ratio:.3}",
        makespan(&run)
    );
    let (peak, refused, _) = cluster.persisted();
    assert_eq!(peak, 4);
    // The windows follow the queue: it is never flooded by the ceiling.
    assert!(refused < 10, "{refused} refusals");
}

#[tokio::test(start_paused = true)]
async fn overload_refusals_do_not_use_up_the_attempts() {
    const OVERLOADED: Reply = Reply::Refuse(429, "es_rejected_execution_exception", "queue full");
    let cluster = FakeCluster::new().with("web", TargetState::Opened).replies(
        Action::CloseJob,
        "web",
        &[OVERLOADED; 4],
    );
    let view = plan(
        &[(Action::CloseJob, "web", 0)],
        &[],
        SettingsView {
            retry_attempts: 2,
            initial_backoff_ms: 10,
            max_backoff_ms: 10,
            ..settings()
        },
    );
    let run = run(&view, &cluster).await;
    assert!(
        matches!(
            run.events.iter().rev().nth(1).map(|e| &e.kind),
            Some(EventKind::StepSucceeded { attempts: 5, .. })
        ),
        "{:#?}",
        run.events
    );
    assert_eq!(cluster.state("web"), Some(TargetState::Closed));

    // A 429 that is not overload (upgrade mode on) still uses them up.
    const UPGRADE_MODE: Reply = Reply::Refuse(429, "status_exception", "upgrade mode is enabled");
    let cluster = FakeCluster::new().with("web", TargetState::Opened).replies(
        Action::CloseJob,
        "web",
        &[UPGRADE_MODE; 4],
    );
    let run = crate::exec::tests::run(&view, &cluster).await;
    assert_eq!(run.outcome.stats.failed, 1);
}

/// A sink that records events and commits, in order.
#[derive(Default)]
struct Recorder {
    log: Vec<Option<Event>>,
}

impl EventSink for Recorder {
    fn event(&mut self, event: Event) {
        self.log.push(Some(event));
    }

    fn commit(&mut self) {
        self.log.push(None);
    }
}

#[tokio::test(start_paused = true)]
async fn a_dependent_starts_only_after_its_dependencies_outcome_was_committed() {
    let jobs = 60;
    let (view, cluster) = shutdown(jobs, spread, settings());
    let cluster = cluster.persistence(2, 64, RATE);
    let view = SettingsView {
        concurrency: 16,
        ..view.settings.clone()
    }
    .apply(view);
    let mut recorder = Recorder::default();
    let options = RunOptions {
        run_id: "test".into(),
        cluster: "fake".into(),
        concurrency: None,
        interrupts: Interrupts::new(),
        seed: 7,
        journal: None,
    };
    execute(&view, cluster.clone(), options, &mut recorder).await;

    let mut succeeded_at: Vec<Option<usize>> = vec![None; view.steps.len() + 1];
    let mut last_commit = None;
    let mut commits = 0;
    for (index, entry) in recorder.log.iter().enumerate() {
        let Some(event) = entry else {
            last_commit = Some(index);
            commits += 1;
            continue;
        };
        match &event.kind {
            EventKind::StepSucceeded { step, .. } => succeeded_at[step.no] = Some(index),
            EventKind::StepStarted { step, attempt: 1 } => {
                for &dependency in &view.steps[step.no - 1].dependencies {
                    let done: StepNo = dependency;
                    let succeeded = succeeded_at[done].expect("the dependency succeeded first");
                    assert!(
                        last_commit.is_some_and(|commit| commit > succeeded),
                        "#{} started before the success of #{done} was committed",
                        step.no
                    );
                }
            }
            _ => {}
        }
    }
    // Group commit: far fewer commits than steps that waited for one.
    assert!(commits < jobs / 2, "{commits} commits for {jobs} closes");
}

impl SettingsView {
    fn apply(self, mut view: PlanView) -> PlanView {
        view.settings = self;
        view
    }
}
