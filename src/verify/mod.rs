//! Verified recovery: after the way up, proof from the cluster itself that the jobs came back
//! working, within a bounded time. Every opened job must be assigned to a node; every started
//! real-time datafeed must be running (`running_state.real_time_running`) and make progress
//! (a successful search of the runner this run started, or a search window, search count or
//! processed-record count that moves on); docs/elasticsearch-ml-api.md §14.
//!
//! Takes the targets (from a plan: what it opens and starts and what is already so) and an
//! [`EsClient`]; polls job and datafeed stats (two reads per round) until every target is
//! proven or the timeout passes (paged past 10,000 as `observe` pages); gives the events ([`EventKind::VerifyStarted`] …
//! [`EventKind::VerifyFinished`]) and a [`VerifyOutcome`]. Reads only; never prints (reporters
//! word the events); a read that fails is tried again next round, and only reported for a
//! target that is never read.

mod judge;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio::time::Instant;

use crate::es::EsClient;
use crate::es::types::{DatafeedStats, JobStats};
use crate::exec::{
    self, Event, EventKind, EventSink, Finding, Interrupts, Resource, StepError, step_error,
};
use crate::observe::page;
use crate::plan::{Action, PlanView};

use judge::{FeedSample, Judgement};

/// How long to wait at most, and how often to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VerifyOptions {
    pub timeout: Duration,
    pub interval: Duration,
}

impl VerifyOptions {
    /// Rounds every `timeout / 20`, between 250 ms and 5 s: a few reads per `frequency` of a
    /// datafeed, and never a flood of stats requests.
    pub(crate) fn new(timeout: Duration) -> VerifyOptions {
        VerifyOptions {
            timeout,
            interval: (timeout / 20).clamp(Duration::from_millis(250), Duration::from_secs(5)),
        }
    }
}

/// What is verified.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Targets {
    /// Jobs that must be opened and assigned.
    pub jobs: BTreeSet<String>,
    /// Datafeeds that must be started and progressing, with their job.
    pub datafeeds: BTreeMap<String, FeedTarget>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FeedTarget {
    pub job: Option<String>,
    /// This run started it: a successful search of its runner is proof.
    pub started_by_run: bool,
}

impl Targets {
    /// The targets a plan brings up: the jobs it opens and the datafeeds it starts, and with
    /// `unchanged` also those it found opened or started. `started` holds the datafeeds this
    /// run started. A run verifies what it brought up; `quiesce verify` the whole playbook.
    pub(crate) fn of_plan(view: &PlanView, started: &BTreeSet<String>, unchanged: bool) -> Targets {
        let mut targets = Targets::default();
        let job_of = |feed: &str| {
            view.snapshot
                .as_ref()
                .and_then(|s| s.datafeeds.get(feed))
                .map(|d| d.job_id.clone())
        };
        let steps = view.steps.iter().map(|s| (s.action, s.target.as_str()));
        let kept = view.unchanged.iter().filter(|_| unchanged).filter_map(|u| {
            match (u.kind.as_str(), u.state.as_str()) {
                ("job", "opened") => Some((Action::OpenJob, u.target.as_str())),
                ("datafeed", "started") => Some((Action::StartDatafeed, u.target.as_str())),
                _ => None,
            }
        });
        for (action, target) in steps.chain(kept) {
            match action {
                Action::OpenJob => {
                    targets.jobs.insert(target.to_owned());
                }
                Action::StartDatafeed => {
                    targets.datafeeds.insert(
                        target.to_owned(),
                        FeedTarget {
                            job: job_of(target),
                            started_by_run: started.contains(target),
                        },
                    );
                }
                _ => {}
            }
        }
        targets
    }
}

/// How a verification ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VerifyOutcome {
    pub verified: usize,
    pub unverified: usize,
    /// A signal stopped it before every target was judged.
    pub interrupted: bool,
}

impl VerifyOutcome {
    pub(crate) fn all_verified(self) -> bool {
        self.unverified == 0 && !self.interrupted
    }
}

/// What is known of one target while waiting.
#[derive(Debug)]
enum Watch {
    /// Not read yet; the last read error, if any.
    Unread(Option<StepError>),
    Pending {
        first: Option<FeedSample>,
        finding: Finding,
    },
    Done,
}

/// Polls until every target is proven or `options.timeout` passes; one event per target.
pub(crate) async fn verify(
    client: &EsClient,
    targets: &Targets,
    options: VerifyOptions,
    interrupts: &Interrupts,
    sink: &mut dyn EventSink,
) -> VerifyOutcome {
    let began = Instant::now();
    let emit = |sink: &mut dyn EventSink, kind| {
        sink.event(Event {
            at: jiff::Timestamp::now(),
            elapsed: began.elapsed(),
            kind,
        });
    };
    emit(
        sink,
        EventKind::VerifyStarted {
            jobs: targets.jobs.len(),
            datafeeds: targets.datafeeds.len(),
            timeout: options.timeout,
        },
    );
    let mut jobs: BTreeMap<&str, Watch> = targets
        .jobs
        .iter()
        .map(|id| (id.as_str(), Watch::Unread(None)))
        .collect();
    let mut feeds: BTreeMap<&str, Watch> = targets
        .datafeeds
        .keys()
        .map(|id| (id.as_str(), Watch::Unread(None)))
        .collect();
    let deadline = began + options.timeout;
    let mut outcome = VerifyOutcome {
        verified: 0,
        unverified: 0,
        interrupted: false,
    };
    loop {
        let (job_stats, feed_stats) = read(client, !feeds_done(&feeds)).await;
        let job_stats = match job_stats {
            Ok(stats) => Some(stats),
            Err(err) => {
                unread(&mut jobs, &err);
                unread(&mut feeds, &err);
                None
            }
        };
        if let Some(job_stats) = &job_stats {
            for (id, watch) in &mut jobs {
                if matches!(watch, Watch::Done) {
                    continue;
                }
                match job_stats.get(*id) {
                    None => *watch = pending(None, Finding::Gone),
                    Some(stats) => match judge::job(stats) {
                        Judgement::Proven(proof) => {
                            *watch = Watch::Done;
                            outcome.verified += 1;
                            emit(sink, verified(Resource::Job, id, proof));
                        }
                        Judgement::Pending(finding) => *watch = pending(None, finding),
                    },
                }
            }
        }
        match feed_stats {
            Ok(feed_stats) => {
                for (id, watch) in &mut feeds {
                    let target = &targets.datafeeds[*id];
                    if matches!(watch, Watch::Done) {
                        continue;
                    }
                    let Some(stats) = feed_stats.get(*id) else {
                        *watch = pending(None, Finding::Gone);
                        continue;
                    };
                    let job = target
                        .job
                        .as_deref()
                        .and_then(|job| job_stats.as_ref()?.get(job));
                    let now = FeedSample::new(stats, job);
                    let first = match watch {
                        Watch::Pending {
                            first: Some(first), ..
                        } => first.clone(),
                        _ => now.clone(),
                    };
                    match judge::datafeed(&first, &now, target.started_by_run, began.elapsed()) {
                        Judgement::Proven(proof) => {
                            *watch = Watch::Done;
                            outcome.verified += 1;
                            emit(sink, verified(Resource::Datafeed, id, proof));
                        }
                        Judgement::Pending(finding) => *watch = pending(Some(first), finding),
                    }
                }
            }
            Err(err) => unread(&mut feeds, &err),
        }
        let all_done = jobs
            .values()
            .chain(feeds.values())
            .all(|w| matches!(w, Watch::Done));
        if all_done || Instant::now() >= deadline {
            break;
        }
        let next = (Instant::now() + options.interval).min(deadline);
        tokio::select! {
            () = tokio::time::sleep_until(next) => {}
            () = interrupts.stopping() => {
                outcome.interrupted = true;
                break;
            }
        }
    }
    for (resource, watches) in [(Resource::Job, jobs), (Resource::Datafeed, feeds)] {
        for (id, watch) in watches {
            let finding = match watch {
                Watch::Done => continue,
                Watch::Pending { finding, .. } => finding,
                Watch::Unread(error) => Finding::Unread {
                    error: error.unwrap_or(StepError::Client {
                        reason: "no read of its stats answered in time".into(),
                    }),
                },
            };
            outcome.unverified += 1;
            emit(
                sink,
                EventKind::TargetUnverified {
                    resource,
                    target: id.to_owned(),
                    finding,
                },
            );
        }
    }
    emit(
        sink,
        EventKind::VerifyFinished {
            verified: outcome.verified,
            unverified: outcome.unverified,
            duration: began.elapsed(),
        },
    );
    sink.commit();
    outcome
}

fn verified(resource: Resource, id: &str, proof: exec::Proof) -> EventKind {
    EventKind::TargetVerified {
        resource,
        target: id.to_owned(),
        proof,
    }
}

fn pending(first: Option<FeedSample>, finding: Finding) -> Watch {
    Watch::Pending { first, finding }
}

fn feeds_done(feeds: &BTreeMap<&str, Watch>) -> bool {
    feeds.values().all(|w| matches!(w, Watch::Done))
}

/// A failed read: targets never read keep the error, to report it if no read ever answers.
fn unread(watches: &mut BTreeMap<&str, Watch>, err: &crate::es::Error) {
    for watch in watches.values_mut() {
        if let Watch::Unread(last) = watch {
            *last = Some(step_error(err));
        }
    }
}

type ById<T> = BTreeMap<String, T>;

/// One round: the stats of every job (for the jobs and the datafeeds' records), and of every
/// datafeed when some datafeed is still to be proven; past 10,000 of either, paged as
/// `observe` pages them.
async fn read(
    client: &EsClient,
    feeds: bool,
) -> (
    Result<ById<JobStats>, crate::es::Error>,
    Result<ById<DatafeedStats>, crate::es::Error>,
) {
    let jobs = page::all(
        |expr| async move { client.job_stats(&expr).await.map(|r| r.jobs) },
        |job| &job.job_id,
    )
    .await
    .map(|jobs| jobs.into_iter().map(|j| (j.job_id.clone(), j)).collect());
    let feeds = if feeds {
        page::all(
            |expr| async move { client.datafeed_stats(&expr).await.map(|r| r.datafeeds) },
            |feed| &feed.datafeed_id,
        )
        .await
        .map(|feeds| {
            feeds
                .into_iter()
                .map(|f| (f.datafeed_id.clone(), f))
                .collect()
        })
    } else {
        Ok(BTreeMap::new())
    };
    (jobs, feeds)
}
