//! Running a plan, the part `apply`, `resume` and `revert` share: show it and ask, take the
//! state lock and the cluster lease, open the journal (before-state first, in the cluster too),
//! listen for signals, start the reporters, execute, and turn the outcome into an exit code.
//! Also the preflight and planning that all three do before that.

use std::collections::BTreeSet;
use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::coord::{
    CoordError, CoordIndex, DEFAULT_INDEX, INDEX_PRIVILEGES, Lease, LeaseLoss, Mirror,
    MirrorNotice, Who, catch_up, mark_mirrored, restore_run,
};
use crate::error::Error;
use crate::es::EsClient;
use crate::exec::{self, RunOptions};
use crate::exit_code;
use crate::journal::{
    Header, JOURNAL_FORMAT_VERSION, Journal, JournalError, StateLock, find_run, host_name,
    list_runs, read,
};
use crate::model::RetryPolicy;
use crate::observe::{Snapshot, observe, read_retrying};
use crate::plan::{self, Action, PlanView, PlanWarnings};
use crate::report::run::{HumanReporter, JsonReporter, Reporter};
use crate::report::{OutputFormat, diagnostic, plan as render, stream};
use crate::verify::{Targets, VerifyOptions, verify};

use super::cluster::{Cluster, ClusterArgs, connect};
use super::load::Loaded;
use super::signals;

/// Options every command that changes the cluster shares (`apply`, `resume`, `revert`).
#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub(crate) yes: bool,

    /// Plan, print the plan, and stop: change nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,

    /// The most steps in flight at once, 1 to 1024 (quiesce adapts below it), overriding
    /// `settings.concurrency`.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub(crate) concurrency: Option<u16>,

    /// `human`: progress and summary on stderr; `json`: JSON Lines events on stdout as well.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub(crate) output: OutputFormat,

    /// Where run journals and the lock live (default: `.quiesce` beside the playbook).
    #[arg(long, env = "QUIESCE_STATE_DIR", value_name = "DIR")]
    pub(crate) state_dir: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) cluster: ClusterArgs,

    /// The index that keeps the cluster lease and the run journals (a hidden index when the
    /// name starts with a dot).
    #[arg(long, env = "QUIESCE_INDEX", value_name = "NAME", default_value = DEFAULT_INDEX, value_parser = CoordIndex::parse)]
    pub(crate) index: CoordIndex,

    /// How long the cluster lease lasts unless renewed (it is renewed every third of that);
    /// a lease left by a run that died is taken over once it expired.
    #[arg(long, env = "QUIESCE_LEASE_TTL", value_name = "DURATION", default_value = "60s", value_parser = lease_ttl)]
    pub(crate) lease_ttl: Duration,

    #[command(flatten)]
    pub(crate) verify: VerifyArgs,
}

/// How the recovery is verified after a run that opens jobs or starts datafeeds.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct VerifyArgs {
    /// After a way up, wait at most this long for every opened job to be assigned and every
    /// started real-time datafeed to make progress (`30s`, `5m`); exit 8 when one does not.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = duration_arg)]
    pub(crate) verify_timeout: Duration,

    /// Do not verify the recovery after a way up.
    #[arg(long)]
    pub(crate) no_verify: bool,
}

/// A `--verify-timeout` value, read as playbook durations are.
pub(crate) fn duration_arg(text: &str) -> Result<Duration, String> {
    crate::model::parse_duration(text)
}

/// A lease time to live: a duration of at least a second.
fn lease_ttl(text: &str) -> Result<Duration, String> {
    let ttl = crate::model::parse_duration(text)?;
    if ttl < Duration::from_secs(1) {
        return Err(format!("`{text}` is shorter than a second"));
    }
    Ok(ttl)
}

/// Where a run records itself.
pub(crate) enum JournalTarget {
    /// A new run: a new journal in this state directory.
    Create {
        state_dir: PathBuf,
        command: &'static str,
        /// A revert: the run it brings back.
        reverts: Option<String>,
    },
    /// A resumed run: append to its journal, whose next line gets `seq`.
    Append {
        path: PathBuf,
        run_id: String,
        seq: u64,
    },
}

/// Shows, confirms, locks, journals and runs a plan; the part `apply`, `resume` and `revert`
/// share.
pub(crate) async fn execute(
    view: PlanView,
    cluster: Cluster,
    args: &RunArgs,
    target: JournalTarget,
) -> Result<i32, Error> {
    let cluster_name = view.snapshot.as_ref().map_or_else(
        || cluster.client.url().to_owned(),
        |s| s.cluster_name.clone(),
    );
    if args.dry_run {
        write_stdout(&render::text(&view))?;
        return Ok(exit_code::SUCCESS);
    }
    if view.steps.is_empty() {
        write_stdout(&render::text(&view))?;
        // A resume that finds everything done says so in the journal: the run is complete.
        if let JournalTarget::Append { path, run_id, seq } = &target {
            record_complete(&view, path, run_id, *seq, &cluster_name)?;
            stream::note(&format!(
                "everything run {run_id} set out to do is done; its journal now says it completed"
            ));
            mirror_earlier_runs(&cluster, &args.index, &state_dir_of(path), &view).await;
        }
        cluster.release().await;
        return Ok(exit_code::SUCCESS);
    }
    if !args.yes {
        confirm(&view, &cluster_name)?;
    } else if !std::io::stderr().is_terminal() {
        // Unattended (CI, cron): the log shows what is about to be done, and why.
        stream::err(&render::text(&view));
    }

    let (run_id, state_dir) = match &target {
        JournalTarget::Create { state_dir, .. } => (run_id(), state_dir.clone()),
        JournalTarget::Append { path, run_id, .. } => (run_id.clone(), state_dir_of(path)),
    };
    let command = match &target {
        JournalTarget::Create { command, .. } => command,
        JournalTarget::Append { .. } => "resume",
    };
    let lock = StateLock::acquire(&state_dir, command, &run_id)?;
    if let Some(dead) = &lock.took_over {
        stream::warning(&format!(
            "took over the state lock left by a process that died: {dead}"
        ));
    }
    let mut lease = take_lease(&cluster, args, &view, &run_id, command).await?;
    mirror_earlier_runs(&cluster, &args.index, &state_dir, &view).await;
    let mirror = Mirror::start(&cluster.client, &args.index, &run_id, |notice| {
        stream::warning(&match notice {
            MirrorNotice::Behind { waiting, error } => format!(
                "cannot write the run journal to the cluster ({error}); {waiting} line(s) wait in the local journal and are written as soon as the cluster takes them"
            ),
            MirrorNotice::CaughtUp => {
                "the run journal in the cluster caught up with the local one".to_owned()
            }
        });
    });
    let created = matches!(target, JournalTarget::Create { .. });
    let opened: Result<Journal, Error> = match target {
        JournalTarget::Create {
            command, reverts, ..
        } => {
            let before = view.snapshot.clone().ok_or_else(|| {
                Error::Internal("a plan to execute always has its snapshot".into())
            })?;
            Journal::create(
                &state_dir,
                &Header {
                    version: JOURNAL_FORMAT_VERSION,
                    run_id: run_id.clone(),
                    started_at: jiff::Timestamp::now(),
                    command: command.to_owned(),
                    cluster_url: cluster.client.url().to_owned(),
                    plan: view.clone(),
                    before,
                    simulator: cluster.simulator_seed().map(str::to_owned),
                    reverts,
                },
                Some(mirror.tap()),
            )
            .map_err(Error::from)
        }
        JournalTarget::Append { path, seq, .. } => {
            Journal::append_to(&path, seq, Some(mirror.tap()))
                .and_then(|mut journal| journal.resumed(&view).map(|()| journal))
                .map_err(Error::from)
        }
    };
    let journal = match opened {
        Ok(journal) => journal,
        Err(err) => {
            // Nothing changed: the lease goes back at once rather than block others until it
            // expires.
            mirror.finish().await;
            release(lease, &args.index).await;
            cluster.release().await;
            return Err(err);
        }
    };
    // The header (plan and before-state), or the resume's first line, is in the cluster before
    // the first change, or nothing changes.
    if let Err(reason) = mirror.flush().await {
        let path = journal.path().to_owned();
        drop(journal);
        mirror.finish().await;
        if created {
            // Nothing was done: a journal that says a run began would be a run that never was.
            let _ = std::fs::remove_file(&path);
        }
        release(lease, &args.index).await;
        cluster.release().await;
        return Err(CoordError::Header { run_id, reason }.into());
    }
    stream::err(&format!("journal: {}\n", journal.path().display()));

    let interrupts = exec::Interrupts::new();
    signals::forward(interrupts.clone())?;
    let losing = interrupts.clone();
    lease.keep(move |loss: LeaseLoss| {
        stream::warning(&format!(
            "lost the cluster lease: {loss}; starting no new step (resume the run once the other run is done)"
        ));
        losing.lose_lease();
    });
    let color = diagnostic::color_enabled();
    let mut reporters: Vec<Box<dyn Reporter>> = vec![Box::new(HumanReporter::new(
        &view,
        Box::new(std::io::stderr()),
        std::io::stderr().is_terminal(),
        color,
    ))];
    if args.output == OutputFormat::Json {
        reporters.push(Box::new(JsonReporter::new(Box::new(std::io::stdout()))));
    }
    let options = RunOptions {
        run_id,
        cluster: cluster_name,
        concurrency: args.concurrency.map(usize::from),
        interrupts: interrupts.clone(),
        seed: jitter_seed(),
        journal: Some(journal.path().display().to_string()),
    };
    let mut sink = RunSink {
        journal,
        started: BTreeSet::new(),
        journal_error: None,
        interrupts: interrupts.clone(),
        reporters,
    };
    let run_cluster = exec::RunCluster::new(
        cluster.client.clone(),
        view.maintenance.clone(),
        options.run_id.clone(),
    );
    let outcome = exec::execute(&view, run_cluster, options, &mut sink).await;
    let verified = if brings_up(&view) && !args.verify.no_verify && !outcome.interrupted {
        let targets = Targets::of_plan(&view, &sink.started, false);
        let options = VerifyOptions::new(args.verify.verify_timeout);
        Some(verify(&cluster.client, &targets, options, &interrupts, &mut sink).await)
    } else {
        None
    };
    for reporter in &mut sink.reporters {
        reporter.finish();
    }
    let RunSink {
        journal,
        journal_error,
        ..
    } = sink;
    let journal_path = journal.path().to_owned();
    drop(journal);
    let left = mirror.finish().await;
    if left == 0 {
        mark_mirrored(&journal_path, &args.index);
    } else {
        stream::warning(&format!(
            "{left} line(s) of the run journal could not be written to the cluster; the local journal keeps them, and the next apply, resume or revert from this state directory writes them there"
        ));
    }
    if !interrupts.lease_lost() {
        release(lease, &args.index).await;
    }
    drop(lock);
    cluster.release().await;
    if let Some(err) = journal_error {
        diagnostic::eprint(&err);
        return Ok(exit_code::STEPS_FAILED);
    }
    Ok(if interrupts.lease_lost() {
        exit_code::LEASE_LOST
    } else if outcome.interrupted || verified.is_some_and(|v| v.interrupted) {
        exit_code::INTERRUPTED
    } else if !outcome.stats.all_succeeded() {
        exit_code::STEPS_FAILED
    } else if verified.is_some_and(|v| !v.all_verified()) {
        exit_code::NOT_VERIFIED
    } else {
        exit_code::SUCCESS
    })
}

/// Whether a plan brings something up (opens a job or starts a datafeed): its recovery is then
/// verified.
fn brings_up(view: &PlanView) -> bool {
    view.steps
        .iter()
        .any(|s| matches!(s.action, Action::OpenJob | Action::StartDatafeed))
}

/// Takes the cluster lease for this run, or says who holds it (exit 3, nothing changed).
async fn take_lease(
    cluster: &Cluster,
    args: &RunArgs,
    view: &PlanView,
    run_id: &str,
    command: &str,
) -> Result<Lease, Error> {
    crate::coord::ensure(&cluster.client, &args.index).await?;
    let uuid = view
        .snapshot
        .as_ref()
        .map_or("", |s| s.cluster_uuid.as_str());
    let who = Who {
        run_id: run_id.to_owned(),
        command: command.to_owned(),
        host: host_name(),
        pid: std::process::id(),
        user: cluster.user.clone().unwrap_or_else(os_user),
        cluster_url: cluster.client.url().to_owned(),
    };
    let lease = Lease::acquire(&cluster.client, &args.index, uuid, who, args.lease_ttl)
        .await
        .map_err(CoordError::from)?;
    match &lease.took_over {
        Some(old) if old.expired => stream::warning(&format!(
            "took over the cluster lease, which expired at {} unrenewed: it was held by {}",
            old.holder.expires_at, old.holder
        )),
        Some(old) => stream::warning(&format!(
            "took over the cluster lease this run left when its process died: {}",
            old.holder
        )),
        None => {}
    }
    stream::note(&format!(
        "holding the cluster lease in index `{}`, where the run journal is kept too (lasts {} unless renewed, renewed every {})",
        args.index,
        crate::model::duration_words(args.lease_ttl),
        crate::model::duration_words(args.lease_ttl / 3)
    ));
    Ok(lease)
}

/// Releases the lease; a failure only means it expires by itself.
async fn release(lease: Lease, index: &CoordIndex) {
    if let Err(err) = lease.release().await {
        stream::warning(&format!(
            "cannot release the cluster lease in index `{index}` ({err}); it expires by itself"
        ));
    }
}

/// Writes into the cluster what it lacks of the earlier runs of this state directory against
/// the same cluster (lines a mirror could not write when they ran). A failure is a warning:
/// the local journals keep everything, and the next run tries again.
async fn mirror_earlier_runs(
    cluster: &Cluster,
    index: &CoordIndex,
    state_dir: &Path,
    view: &PlanView,
) {
    let Some(uuid) = view.snapshot.as_ref().map(|s| s.cluster_uuid.as_str()) else {
        return;
    };
    let journals: Vec<(String, PathBuf)> = list_runs(Some(state_dir))
        .into_iter()
        .filter_map(|path| read(&path).ok().map(|log| (log, path)))
        .filter(|(log, _)| log.header.before.cluster_uuid == uuid)
        .map(|(log, path)| (log.header.run_id, path))
        .collect();
    match catch_up(&cluster.client, index, &journals).await {
        Ok(0) => {}
        Ok(lines) => stream::note(&format!(
            "wrote {lines} journal line(s) of earlier runs that the cluster lacked to index `{index}`"
        )),
        Err(err) => stream::warning(&format!(
            "cannot write the journal lines of earlier runs that the cluster lacks ({err}); they stay in the local journals"
        )),
    }
}

/// The operating-system user, for a lease taken where security is off.
fn os_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .or_else(|_| std::env::var("USERNAME"))
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The journal of `run_id`: on disk, or else fetched from the cluster's index (`--cluster` or
/// `ES_URL`), when the machine that ran it is gone, into the state directory (`--state-dir`,
/// else `./.quiesce`), to be used from there as if it had always been on disk.
pub(crate) async fn find_or_fetch(run_id: &str, args: &RunArgs) -> Result<PathBuf, Error> {
    let missing = match find_run(run_id, args.state_dir.as_deref()) {
        Ok(path) => return Ok(path),
        Err(err @ JournalError::UnknownRun { .. }) if args.cluster.cluster.is_some() => err,
        Err(err) => return Err(err.into()),
    };
    let cluster = connect(&args.cluster, None).await?;
    let state_dir = args
        .state_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(".quiesce"));
    let restored = restore_run(&cluster.client, &args.index, run_id, &state_dir).await;
    cluster.release().await;
    let Some((path, lines, left_out)) = restored? else {
        return Err(missing.into());
    };
    stream::note(&format!(
        "run {run_id} is not on this machine: fetched its journal ({lines} line(s)) from index `{}` of the cluster into {}",
        args.index,
        path.display()
    ));
    if left_out > 0 {
        stream::warning(&format!(
            "the cluster's copy of run {run_id} lacks line {lines}, so the {left_out} line(s) after it are left out: the run reads as it stood before that line, and its resume plans from the cluster as it is now"
        ));
    }
    Ok(path)
}

/// The state directory a journal lives in: `<state_dir>/runs/RUN_ID.jsonl`.
pub(crate) fn state_dir_of(journal: &Path) -> PathBuf {
    journal
        .parent()
        .and_then(Path::parent)
        .map_or_else(|| PathBuf::from(".quiesce"), Path::to_owned)
}

/// Records in a run's journal that a resume found nothing left to do: a segment with the plan
/// (every target unchanged) that starts and finishes at once.
fn record_complete(
    view: &PlanView,
    path: &Path,
    run_id: &str,
    seq: u64,
    cluster: &str,
) -> Result<(), Error> {
    let lock = StateLock::acquire(&state_dir_of(path), "resume", run_id)?;
    let mut journal = Journal::append_to(path, seq, None)?;
    journal.resumed(view)?;
    let event = |kind| exec::Event {
        at: jiff::Timestamp::now(),
        elapsed: std::time::Duration::ZERO,
        kind,
    };
    journal.event(&event(exec::EventKind::RunStarted {
        run_id: run_id.to_owned(),
        playbook: view.playbook.name.clone(),
        cluster: cluster.to_owned(),
        steps: 0,
        concurrency: view.settings.concurrency,
        journal: Some(path.display().to_string()),
    }))?;
    journal.event(&event(exec::EventKind::RunFinished {
        stats: exec::RunStats::default(),
        duration: std::time::Duration::ZERO,
    }))?;
    drop(lock);
    Ok(())
}

/// Where a run's events go: the journal first (a step's outcome is on disk before its
/// dependents start: the scheduler commits before starting them), then the reporters. A journal
/// that cannot be written stops the run from starting anything new.
struct RunSink {
    journal: Journal,
    /// The datafeeds this run started (its verification takes their runner's search as proof).
    started: BTreeSet<String>,
    journal_error: Option<crate::journal::JournalError>,
    interrupts: exec::Interrupts,
    reporters: Vec<Box<dyn Reporter>>,
}

impl RunSink {
    fn journal_failed(&mut self, err: crate::journal::JournalError) {
        if self.journal_error.is_none() {
            self.journal_error = Some(err);
            self.interrupts.stop();
        }
    }
}

impl exec::EventSink for RunSink {
    fn event(&mut self, event: exec::Event) {
        if let exec::EventKind::StepSucceeded {
            step,
            outcome: exec::Success::Changed,
            ..
        } = &event.kind
            && step.action == Action::StartDatafeed
        {
            self.started.insert(step.target.clone());
        }
        if self.journal_error.is_none()
            && let Err(err) = self.journal.event(&event)
        {
            self.journal_failed(err);
        }
        for reporter in &mut self.reporters {
            reporter.report(&event);
        }
    }

    fn commit(&mut self) {
        if self.journal_error.is_none()
            && let Err(err) = self.journal.commit()
        {
            self.journal_failed(err);
        }
    }
}

/// Connects, runs the preflight and plans an already loaded playbook.
pub(crate) async fn plan_loaded(
    loaded: &Loaded,
    input: &Path,
    run: &RunArgs,
) -> Result<(PlanView, Cluster), Error> {
    let mut cluster = connect(&run.cluster, Some(&loaded.playbook)).await?;
    let (snapshot, user) =
        preflight(&cluster.client, &loaded.playbook.settings.retry, &run.index).await?;
    cluster.user = user;
    let outlook = super::cluster::outlook_for(&cluster.client, &loaded.playbook, &snapshot).await?;
    let (plan, warnings) = plan::build(
        &loaded.playbook,
        &loaded.source,
        Some(snapshot),
        outlook.as_ref(),
    )?;
    if !warnings.is_empty() {
        diagnostic::eprint(&PlanWarnings::new(&loaded.source, warnings));
    }
    let mut view = PlanView::new(
        &plan,
        &loaded.playbook.settings,
        &input.display().to_string(),
        loaded.source.text(),
    );
    observe_calendar(&cluster.client, &loaded.playbook.settings.retry, &mut view).await?;
    Ok((view, cluster))
}

/// Records in the plan what the maintenance calendar holds before the run (absent, or the jobs
/// it names): what `revert` needs to remove what the run added, and only that.
pub(crate) async fn observe_calendar(
    client: &EsClient,
    policy: &RetryPolicy,
    view: &mut PlanView,
) -> Result<(), Error> {
    if let Some(plan::MaintenanceView::Schedule {
        calendar, before, ..
    }) = &mut view.maintenance
    {
        let found = read_retrying(policy, "ml.get_calendars", &super::cluster::tell, || {
            client.calendar(calendar)
        })
        .await?;
        *before = Some(match found {
            None => plan::CalendarBefore::Absent,
            Some(found) => plan::CalendarBefore::Present {
                job_ids: found.job_ids,
            },
        });
    }
    Ok(())
}

/// Reachable, Elasticsearch, credentials valid, `manage_ml` held and the index privileges the
/// lease and the journal need on `index` (docs/elasticsearch-ml-api.md §11.6); then the
/// snapshot, and the user the credentials authenticate as (none when security is off). Reads
/// that fail in a way worth another try are retried as `policy` says (the playbook's
/// `settings.retry`), and each retry is told.
pub(crate) async fn preflight(
    client: &EsClient,
    policy: &RetryPolicy,
    index: &CoordIndex,
) -> Result<(Snapshot, Option<String>), Error> {
    let tell = super::cluster::tell;
    let snapshot = observe(client, policy, &tell).await?;
    let privileges = read_retrying(policy, "security.has_privileges", &tell, || {
        client.has_privileges_on(&["manage_ml"], index.name(), INDEX_PRIVILEGES)
    })
    .await;
    match privileges {
        Ok(answer) if answer.has_all_requested => Ok((snapshot, Some(answer.username))),
        Ok(answer) => Err(Error::MissingPrivilege {
            user: answer.username.clone(),
            missing: answer.missing().join(", "),
        }),
        // Security is off (8.x registers no security handler; 7.x on a basic licence refuses):
        // nothing can be unauthorised.
        Err(err) if err.is_security_disabled() => Ok((snapshot, None)),
        Err(err) => Err(err.into()),
    }
}

/// Shows the plan and asks; refuses without a terminal.
fn confirm(view: &PlanView, cluster: &str) -> Result<(), Error> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::NotConfirmed {
            reason: "stdin is not a terminal, so quiesce cannot ask for confirmation".into(),
        });
    }
    stream::err(&render::text(view));
    stream::err(&format!(
        "\nApply these {} step(s) to cluster `{cluster}`? Type `yes` to continue: ",
        view.steps.len()
    ));
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(Error::Output)?;
    if answer.trim() == "yes" {
        Ok(())
    } else {
        Err(Error::NotConfirmed {
            reason: "the answer was not `yes`".into(),
        })
    }
}

/// Run ids sort by time: `20261128T120301Z-4f2a`.
pub(crate) fn run_id() -> String {
    let now = jiff::Timestamp::now();
    format!(
        "{}-{:04x}",
        now.strftime("%Y%m%dT%H%M%SZ"),
        jitter_seed() & 0xffff
    )
}

fn jitter_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()) ^ d.as_secs());
    nanos ^ u64::from(std::process::id()).rotate_left(32)
}

fn write_stdout(text: &str) -> Result<(), Error> {
    stream::out(text).map_err(Error::Output)
}
