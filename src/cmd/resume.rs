//! `quiesce resume RUN_ID`: continue an interrupted run. Re-observes the cluster, re-plans what
//! the run's plans set out to do (steps already done come out as unchanged), and runs the rest,
//! appending to the same journal. The made playbook is kept beside the journal.
//!
//! A run that already succeeded, or that a `revert` brought back since, is not resumed: that
//! would take the cluster where it no longer should go. What touched the same cluster since is
//! said either way. A resume that finds nothing left to do records that the run completed.

use std::fmt::Write as _;

use crate::coord::{ScratchDir, list_run_ids, restore_run};
use crate::error::Error;
use crate::journal::{RunLog, RunOutcome, list_runs, read, resume_playbook};
use crate::report::stream;

use super::cluster::connect;
use super::load::load;
use super::run::{JournalTarget, RunArgs, execute, find_or_fetch, plan_loaded, state_dir_of};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The run to continue (`quiesce runs` lists them).
    #[arg(value_name = "RUN_ID")]
    run_id: String,

    #[command(flatten)]
    pub(crate) run: RunArgs,
}

pub(crate) fn run(args: Args) -> Result<i32, Error> {
    super::runtime()?.block_on(resume(args))
}

async fn resume(args: Args) -> Result<i32, Error> {
    let path = find_or_fetch(&args.run_id, &args.run).await?;
    let log = read(&path)?;
    if log.torn_tail {
        stream::note(&format!(
            "the last line of {} was cut short by a crash; it is ignored",
            path.display()
        ));
    }
    let mut since = runs_since(&log);
    // Runs from other machines are in the cluster: a revert made from a laptop must stop a
    // resume from a CI pod as surely as one made from the same directory.
    let elsewhere = ScratchDir::new();
    for other in cluster_runs_since(&log, &args.run, &since, &elsewhere).await? {
        since.push(other);
    }
    since.sort_by_key(|other| other.header.started_at);
    if let Some(reason) = refusal(&log, &since) {
        return Err(Error::WontResume {
            run_id: args.run_id,
            reason,
            since: describe(&since),
        });
    }
    if !since.is_empty() {
        stream::note(&format!(
            "since run {} the same cluster saw:\n{}the plan below is made from the cluster as it is now",
            args.run_id,
            describe(&since)
        ));
    }
    let playbook = path.with_extension("resume.yaml");
    std::fs::write(&playbook, resume_playbook(&log)).map_err(|source| Error::Io {
        path: playbook.clone(),
        source,
    })?;
    let loaded = load(&playbook)?;
    let (view, cluster) = plan_loaded(&loaded, &playbook, &args.run).await?;
    execute(
        view,
        cluster,
        &args.run,
        JournalTarget::Append {
            seq: log.next_seq(),
            path,
            run_id: args.run_id,
        },
    )
    .await
}

/// The runs of the same state directory that touched the same cluster after `log` began,
/// oldest first. Journals that do not read are left out (`runs` reports them).
fn runs_since(log: &RunLog) -> Vec<RunLog> {
    let Some(cluster) = log.cluster_key() else {
        return Vec::new();
    };
    list_runs(Some(&state_dir_of(&log.path)))
        .into_iter()
        .filter(|path| path != &log.path)
        .filter_map(|path| read(&path).ok())
        .filter(|other| {
            other.header.started_at > log.header.started_at
                && other.cluster_key().as_deref() == Some(cluster.as_str())
        })
        .collect()
}

/// The runs recorded in the cluster's index (`--cluster`/`ES_URL`; not the embedded simulator,
/// which records nothing before this command) that touched the same cluster after `log` began
/// and are not in `known`, fetched into `scratch`.
async fn cluster_runs_since(
    log: &RunLog,
    args: &RunArgs,
    known: &[RunLog],
    scratch: &ScratchDir,
) -> Result<Vec<RunLog>, Error> {
    let Some(url) = args.cluster.cluster.as_deref() else {
        return Ok(Vec::new());
    };
    let Some(cluster) = log.cluster_key() else {
        return Ok(Vec::new());
    };
    if url.starts_with("sim:") {
        return Ok(Vec::new());
    }
    let connected = connect(&args.cluster, None).await?;
    let ids = list_run_ids(&connected.client, &args.index).await;
    let mut found = Vec::new();
    for run_id in ids.map_err(Error::from)? {
        let seen =
            run_id == log.header.run_id || known.iter().any(|other| other.header.run_id == run_id);
        // Run ids start with their second: an earlier one began before `log`.
        if seen || run_id.get(..16) < log.header.run_id.get(..16) {
            continue;
        }
        if let Some((path, _, _)) =
            restore_run(&connected.client, &args.index, &run_id, scratch.path()).await?
            && let Ok(other) = read(&path)
            && other.header.started_at > log.header.started_at
            && other.cluster_key().as_deref() == Some(cluster.as_str())
        {
            found.push(other);
        }
    }
    connected.release().await;
    Ok(found)
}

/// Why `log` must not be resumed, if it must not.
fn refusal(log: &RunLog, since: &[RunLog]) -> Option<String> {
    let run_id = &log.header.run_id;
    if let Some(revert) = since
        .iter()
        .find(|other| other.header.reverts.as_deref() == Some(run_id.as_str()))
    {
        return Some(format!(
            "run {} reverted it at {}: resuming it would take down again what that revert brought back",
            revert.header.run_id, revert.header.started_at
        ));
    }
    matches!(
        log.outcome(),
        RunOutcome::Succeeded | RunOutcome::Unverified
    )
    .then(|| {
        format!(
            "it already succeeded (at {}): every step reached its state, so there is nothing to resume",
            log.last_activity()
        )
    })
}

/// One line per run: `  - run X (revert of Y): succeeded, started …`.
fn describe(runs: &[RunLog]) -> String {
    let mut text = String::new();
    for run in runs {
        let what = match &run.header.reverts {
            Some(reverted) => format!("revert of run {reverted}"),
            None => format!(
                "{} of `{}`",
                run.header.command, run.header.plan.playbook.path
            ),
        };
        let _ = writeln!(
            text,
            "  - run {} ({what}): {}, started {}",
            run.header.run_id,
            run.outcome().words(),
            run.header.started_at
        );
    }
    text
}
