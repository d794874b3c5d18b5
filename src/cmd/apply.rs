//! `quiesce apply PLAYBOOK|plan.json`: the main job. Preflight, plan (or load a saved plan and
//! check the cluster has not drifted from it), confirm, execute with live progress, summarise.
//!
//! Exit codes: 0 every step reached its state; 1 some failed or were skipped; 2 invalid input or
//! no confirmation; 3 cluster unreachable, unauthorised, preflight failed or drifted from a saved
//! plan (nothing changed); 130 interrupted.

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};

use crate::cli::OutputFormat;
use crate::error::Error;
use crate::es::EsClient;
use crate::exec::{self, RunOptions};
use crate::exit_code;
use crate::journal::{Header, JOURNAL_FORMAT_VERSION, Journal, StateLock};
use crate::observe::{Snapshot, observe};
use crate::plan::{self, PlanView, PlanWarnings, snapshot_digest};
use crate::report::run::{HumanReporter, JsonReporter, Reporter};
use crate::report::{diagnostic, plan as render, stream};

use super::cluster::{Cluster, ClusterArgs, connect};
use super::load::{Loaded, load};

/// Options every command that changes the cluster shares (`apply`, `resume`, `revert`).
#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub(crate) yes: bool,

    /// Plan, print the plan, and stop: change nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,

    /// Steps in flight at once, overriding `settings.concurrency`.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) concurrency: Option<u16>,

    /// `human`: progress and summary on stderr; `json`: JSON Lines events on stdout as well.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub(crate) output: OutputFormat,

    /// Where run journals and the lock live (default: `.quiesce` beside the playbook).
    #[arg(long, env = "QUIESCE_STATE_DIR", value_name = "DIR")]
    pub(crate) state_dir: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) cluster: ClusterArgs,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A playbook, or a plan saved with `quiesce plan -o FILE`.
    #[arg(value_name = "PLAYBOOK|PLAN.json")]
    input: PathBuf,

    #[command(flatten)]
    pub(crate) run: RunArgs,
}

pub(crate) fn run(args: Args) -> Result<i32, Error> {
    let runtime = super::runtime()?;
    runtime.block_on(apply(args))
}

/// Whether the input is a saved plan (JSON) rather than a playbook (YAML).
fn is_saved_plan(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

/// The default state directory: `.quiesce` beside `file`.
pub(crate) fn state_dir_beside(file: &Path) -> PathBuf {
    file.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."))
        .join(".quiesce")
}

async fn apply(args: Args) -> Result<i32, Error> {
    let (view, cluster) = if is_saved_plan(&args.input) {
        saved_plan(&args.input, &args.run.cluster).await?
    } else {
        fresh_plan(&args.input, &args.run.cluster).await?
    };
    let state_dir = args
        .run
        .state_dir
        .clone()
        .unwrap_or_else(|| state_dir_beside(&args.input));
    execute(
        view,
        cluster,
        &args.run,
        JournalTarget::Create {
            state_dir,
            command: "apply",
        },
    )
    .await
}

/// Where a run records itself.
pub(crate) enum JournalTarget {
    /// A new run: a new journal in this state directory.
    Create {
        state_dir: PathBuf,
        command: &'static str,
    },
    /// A resumed run: append to its journal.
    Append { path: PathBuf, run_id: String },
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
    if args.dry_run || view.steps.is_empty() {
        write_stdout(&render::text(&view))?;
        return Ok(exit_code::SUCCESS);
    }
    if !args.yes {
        confirm(&view, &cluster_name)?;
    }

    let (run_id, state_dir) = match &target {
        JournalTarget::Create { state_dir, .. } => (run_id(), state_dir.clone()),
        JournalTarget::Append { path, run_id } => (
            run_id.clone(),
            path.parent()
                .and_then(Path::parent)
                .map_or_else(|| PathBuf::from(".quiesce"), Path::to_owned),
        ),
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
    let mut journal = match target {
        JournalTarget::Create { command, .. } => {
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
                },
            )?
        }
        JournalTarget::Append { path, .. } => {
            let mut journal = Journal::append_to(&path)?;
            journal.resumed(&view)?;
            journal
        }
    };
    stream::err(&format!("journal: {}\n", journal.path().display()));

    let interrupts = exec::Interrupts::new();
    forward_signals(interrupts.clone())?;
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
    };
    let mut journal_error = None;
    let outcome = exec::execute(&view, cluster.client.clone(), options, &mut |event| {
        // The journal first: a step's outcome is on disk before its dependents start. A journal
        // that cannot be written stops the run from starting anything new.
        if journal_error.is_none()
            && let Err(err) = journal.event(&event)
        {
            journal_error = Some(err);
            interrupts.stop();
        }
        for reporter in &mut reporters {
            reporter.report(&event);
        }
    })
    .await;
    for reporter in &mut reporters {
        reporter.finish();
    }
    drop(lock);
    cluster.release().await;
    if let Some(err) = journal_error {
        diagnostic::eprint(&err);
        return Ok(exit_code::STEPS_FAILED);
    }
    Ok(if outcome.interrupted {
        exit_code::INTERRUPTED
    } else if outcome.stats.all_succeeded() {
        exit_code::SUCCESS
    } else {
        exit_code::STEPS_FAILED
    })
}

/// Plans the playbook now, after the preflight.
pub(crate) async fn fresh_plan(
    input: &Path,
    cluster_args: &ClusterArgs,
) -> Result<(PlanView, Cluster), Error> {
    let loaded = load(input)?;
    plan_loaded(&loaded, input, cluster_args).await
}

/// Connects, runs the preflight and plans an already loaded playbook.
pub(crate) async fn plan_loaded(
    loaded: &Loaded,
    input: &Path,
    cluster_args: &ClusterArgs,
) -> Result<(PlanView, Cluster), Error> {
    let cluster = connect(cluster_args, Some(&loaded.playbook)).await?;
    let snapshot = preflight(&cluster.client).await?;
    let (plan, warnings) = plan::build(&loaded.playbook, &loaded.source, Some(snapshot))?;
    if !warnings.is_empty() {
        diagnostic::eprint(&PlanWarnings::new(&loaded.source, warnings));
    }
    let view = PlanView::new(
        &plan,
        &loaded.playbook.settings,
        &input.display().to_string(),
        loaded.source.text(),
    );
    Ok((view, cluster))
}

/// Loads a saved plan and refuses it when the cluster no longer looks as it did then.
async fn saved_plan(
    input: &Path,
    cluster_args: &ClusterArgs,
) -> Result<(PlanView, Cluster), Error> {
    let text = std::fs::read_to_string(input).map_err(|source| Error::Io {
        path: input.to_owned(),
        source,
    })?;
    let view: PlanView = serde_json::from_str(&text).map_err(|err| Error::BadPlanFile {
        path: input.to_owned(),
        reason: err.to_string(),
    })?;
    if view.version != plan::PLAN_FORMAT_VERSION {
        return Err(Error::BadPlanFile {
            path: input.to_owned(),
            reason: format!(
                "plan format version {} (this quiesce reads version {})",
                view.version,
                plan::PLAN_FORMAT_VERSION
            ),
        });
    }
    let (Some(planned), Some(planned_digest)) = (&view.snapshot, &view.snapshot_digest) else {
        return Err(Error::BadPlanFile {
            path: input.to_owned(),
            reason: "an offline plan cannot be applied: it was made without observing the cluster"
                .into(),
        });
    };
    // The playbook supplies the connection settings when it is still where the plan says.
    let playbook = load(Path::new(&view.playbook.path)).ok();
    let cluster = connect(cluster_args, playbook.as_ref().map(|l| &l.playbook)).await?;
    let now = preflight(&cluster.client).await?;
    if &snapshot_digest(&now) != planned_digest {
        return Err(Error::Drifted {
            changes: drift(planned, &now).join("\n"),
        });
    }
    Ok((view, cluster))
}

/// Reachable, Elasticsearch, credentials valid, `manage_ml` held; then the snapshot.
async fn preflight(client: &EsClient) -> Result<Snapshot, Error> {
    let snapshot = observe(client).await?;
    match client.has_privileges(&["manage_ml"]).await {
        Ok(answer) if answer.has_all_requested => Ok(snapshot),
        Ok(answer) => Err(Error::MissingPrivilege {
            user: answer.username.clone(),
            missing: answer.missing().join(", "),
        }),
        // Security disabled: 8.x does not register the security endpoints (flat 400); 7.x
        // with a basic license answers 500 "Security must be explicitly enabled".
        Err(err) if err.status() == Some(400) => Ok(snapshot),
        Err(err)
            if err.status() == Some(500)
                && err.body().is_some_and(|b| {
                    b.reason.starts_with("Security must be explicitly enabled")
                }) =>
        {
            Ok(snapshot)
        }
        Err(err) => Err(err.into()),
    }
}

/// What changed between the snapshot a plan was made from and now, one line per resource.
fn drift(planned: &Snapshot, now: &Snapshot) -> Vec<String> {
    let mut lines = Vec::new();
    if planned.upgrade_mode != now.upgrade_mode {
        lines.push(format!(
            "upgrade mode: {} -> {}",
            planned.upgrade_mode, now.upgrade_mode
        ));
    }
    let job_state = |j: &crate::observe::ObservedJob| j.state.to_string();
    let feed_state = |d: &crate::observe::ObservedDatafeed| d.state.to_string();
    state_changes("job", &planned.jobs, &now.jobs, job_state, &mut lines);
    state_changes(
        "datafeed",
        &planned.datafeeds,
        &now.datafeeds,
        feed_state,
        &mut lines,
    );
    if lines.is_empty() {
        lines.push("(details differ: node assignments, models or links)".into());
    }
    lines
}

/// One line per resource of `kind` whose state changed, appeared or disappeared.
fn state_changes<T>(
    kind: &str,
    planned: &std::collections::BTreeMap<String, T>,
    now: &std::collections::BTreeMap<String, T>,
    state: impl Fn(&T) -> String,
    lines: &mut Vec<String>,
) {
    let ids: std::collections::BTreeSet<&String> = planned.keys().chain(now.keys()).collect();
    for id in ids {
        match (planned.get(id).map(&state), now.get(id).map(&state)) {
            (Some(before), Some(after)) if before != after => {
                lines.push(format!("{kind} {id}: {before} -> {after}"));
            }
            (Some(_), None) => lines.push(format!("{kind} {id}: deleted")),
            (None, Some(after)) => lines.push(format!("{kind} {id}: new ({after})")),
            _ => {}
        }
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

/// First Ctrl-C (or SIGTERM): start nothing new. Second: abandon in-flight waits.
///
/// The handlers are registered before this returns, so that a signal arriving as soon as the
/// run starts is already ours (and not the default "terminate at once").
fn forward_signals(interrupts: exec::Interrupts) -> Result<(), Error> {
    let mut signals = Signals::register()
        .map_err(|e| Error::Internal(format!("cannot listen for signals: {e}")))?;
    tokio::spawn(async move {
        signals.next().await;
        interrupts.stop();
        signals.next().await;
        interrupts.abandon();
    });
    Ok(())
}

/// SIGINT and SIGTERM (Ctrl-C elsewhere), listened to from the moment of registration.
struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    #[cfg(unix)]
    fn register() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    #[cfg(unix)]
    async fn next(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }

    #[cfg(not(unix))]
    fn register() -> std::io::Result<Signals> {
        Ok(Signals {})
    }

    #[cfg(not(unix))]
    async fn next(&mut self) {
        let _ = tokio::signal::ctrl_c().await;
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
