//! `quiesce runs show RUN_ID`: one run in full, for people (`report::runs`) or as one JSON
//! document: the run, each segment's plan with every step's outcome, attempts, time and error,
//! what it left upgrade mode in, and what `quiesce revert RUN_ID` would bring back.

use std::path::Path;

use serde_json::{Value, json};

use crate::coord::{CoordIndex, DEFAULT_INDEX, ScratchDir, restore_run};
use crate::error::Error;
use crate::exit_code;
use crate::journal::{JournalError, RunLog, StepStatus, UpgradeMode, find_run, read, revert_of};
use crate::report::{OutputFormat, runs, stream};

#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// The run to show (`quiesce runs` lists them).
    #[arg(value_name = "RUN_ID")]
    run_id: String,

    /// Read the run from the journals recorded in this cluster (an `http(s)://` URL) rather
    /// than from the state directory: a run another machine made.
    #[arg(long, value_name = "URL", value_parser = cluster_url)]
    cluster: Option<String>,

    /// With `--cluster`: the index that keeps the run journals.
    #[arg(long, env = "QUIESCE_INDEX", value_name = "NAME", default_value = DEFAULT_INDEX, value_parser = CoordIndex::parse)]
    index: CoordIndex,
}

/// Only a cluster's address: a name or `sim:` seed holds no journals to read.
fn cluster_url(text: &str) -> Result<String, String> {
    if text.starts_with("http://") || text.starts_with("https://") {
        Ok(text.to_owned())
    } else {
        Err("give the cluster's http(s):// URL, whose index holds the run journals".to_owned())
    }
}

pub(super) fn run(
    args: &Args,
    state_dir: Option<&Path>,
    output: OutputFormat,
) -> Result<i32, Error> {
    let (log, journal) = match &args.cluster {
        Some(url) => {
            let log = super::super::runtime()?.block_on(fetch(url, &args.index, &args.run_id))?;
            (log, format!("index `{}` of {url}", args.index))
        }
        None => {
            let log = read(&find_run(&args.run_id, state_dir)?)?;
            let journal = log.path.display().to_string();
            (log, journal)
        }
    };
    let revert = revert_of(&log);
    let text = match output {
        OutputFormat::Human => runs::show(&log, &revert, &journal),
        OutputFormat::Json => {
            serde_json::to_string_pretty(&document(&log, &revert, &journal))
                .map_err(|e| Error::Internal(e.to_string()))?
                + "\n"
        }
    };
    stream::out(&text).map_err(Error::Output)?;
    Ok(exit_code::SUCCESS)
}

/// The run's journal as the cluster's index holds it.
async fn fetch(url: &str, index: &CoordIndex, run_id: &str) -> Result<RunLog, Error> {
    let cluster_args = super::super::cluster::ClusterArgs {
        cluster: Some(url.to_owned()),
    };
    let cluster = super::super::cluster::connect(&cluster_args, None).await?;
    let scratch = ScratchDir::new();
    let restored = restore_run(&cluster.client, index, run_id, scratch.path()).await?;
    cluster.release().await;
    let Some((path, _, _)) = restored else {
        return Err(JournalError::UnknownRun {
            run_id: run_id.to_owned(),
            searched: format!("index `{index}` of {url}"),
        }
        .into());
    };
    Ok(read(&path)?)
}

fn status(status: StepStatus) -> &'static str {
    match status {
        StepStatus::NotStarted => "not_started",
        StepStatus::InFlight => "in_flight",
        StepStatus::Changed => "changed",
        StepStatus::AlreadyInState => "already_in_state",
        StepStatus::Failed => "failed",
        StepStatus::Interrupted => "interrupted",
        StepStatus::Abandoned => "abandoned",
        StepStatus::Skipped => "skipped",
    }
}

/// The JSON form: the facts, as the journal and the events spell them.
fn document(log: &RunLog, revert: &crate::journal::Revert, journal: &str) -> Value {
    let segments: Vec<Value> = log
        .segments
        .iter()
        .map(|segment| {
            let steps: Vec<Value> = segment
                .plan
                .steps
                .iter()
                .zip(segment.records())
                .map(|(step, record)| {
                    json!({
                        "step": step.id,
                        "action": step.action,
                        "target": step.target,
                        "source": step.source.as_ref().map(|s| format!("{}:{}", s.file, s.line)),
                        "status": status(record.status),
                        "attempts": record.attempts,
                        "duration_ms": record.duration.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
                        "error": record.error,
                        "skipped": record.skipped,
                        "escalation": record.escalation,
                    })
                })
                .collect();
            json!({
                "started_at": segment.started_at.to_string(),
                "finished": segment.finished(),
                "interrupted": segment.interrupted(),
                "steps": steps,
                "unchanged": segment.plan.unchanged,
            })
        })
        .collect();
    json!({
        "run_id": log.header.run_id,
        "command": log.header.command,
        "reverts": log.header.reverts,
        "playbook": log.header.plan.playbook,
        "started_at": log.header.started_at.to_string(),
        "outcome": log.outcome(),
        "cluster": {
            "label": log.cluster_label(),
            "url": log.header.cluster_url,
            "name": log.header.before.cluster_name,
            "uuid": log.header.before.cluster_uuid,
            "version": log.header.before.version,
            "simulator": log.header.simulator,
        },
        "upgrade_mode": match log.upgrade_mode() {
            Some(UpgradeMode::On) => Some("on"),
            Some(UpgradeMode::Off) => Some("off"),
            Some(UpgradeMode::Unknown) => Some("unknown"),
            None => None,
        },
        "segments": segments,
        "revert": {
            "jobs": revert.jobs.iter().map(|j| json!({"id": j.id, "state": j.state})).collect::<Vec<_>>(),
            "datafeeds": revert.datafeeds.iter().map(|d| json!({"id": d.id, "state": d.state})).collect::<Vec<_>>(),
            "upgrade_mode": revert.upgrade_mode,
            "left_out": revert.notes,
        },
        "torn_last_line": log.torn_tail,
        "journal": journal,
    })
}
