//! `quiesce runs`: past runs from their journals: id, command, start, outcome, counts, the
//! cluster each touched and its playbook, and a flag on the run that last left upgrade mode on
//! (or may have) in a cluster that still exists. `--cluster` and `--outcome` filter the list;
//! `runs show RUN_ID` shows one run in full (`show`). `--cluster URL` (an `http(s)://` URL)
//! lists the runs recorded in that cluster's index instead, from whatever machine ran them:
//! their journals are fetched into a scratch directory and read exactly as local ones.
//!
//! Owns the table. Must never read a journal's JSON itself: `journal::read` types it, and this
//! only asks the [`RunLog`] (statuses, counts, interruptions, upgrade mode, cluster).

mod show;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;

use crate::coord::{CoordIndex, DEFAULT_INDEX, ScratchDir, list_run_ids, restore_run};
use crate::error::Error;
use crate::exit_code;
use crate::journal::{RunLog, RunOutcome, StepStatus, UpgradeMode, list_runs, read};
use crate::report::OutputFormat;
use crate::report::stream;

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Option<RunsCommand>,

    /// Where the journals live (default: `./.quiesce` and `./*/.quiesce`).
    #[arg(long, env = "QUIESCE_STATE_DIR", value_name = "DIR", global = true)]
    state_dir: Option<PathBuf>,

    /// What stdout carries: `human`, a table for people; `json`, one JSON document (errors too,
    /// as JSON).
    #[arg(long, value_enum, default_value_t = OutputFormat::Human, global = true)]
    pub(crate) output: OutputFormat,

    /// Only runs against a cluster whose name, UUID, URL or `sim:` seed contains TEXT; an
    /// `http(s)://` URL lists the runs recorded in that cluster instead (from any machine).
    #[arg(long, value_name = "TEXT|URL")]
    cluster: Option<String>,

    /// With `--cluster URL`: the index that keeps the run journals.
    #[arg(long, env = "QUIESCE_INDEX", value_name = "NAME", default_value = DEFAULT_INDEX, value_parser = CoordIndex::parse)]
    index: CoordIndex,

    /// Only runs that ended so.
    #[arg(long, value_enum)]
    outcome: Option<RunOutcome>,
}

#[derive(Debug, clap::Subcommand)]
enum RunsCommand {
    /// One run in full: its plan, each step's outcome, attempts, time and error, what it left
    /// upgrade mode in, and what `quiesce revert` would bring back.
    #[command(
        after_help = "Examples:\n  quiesce runs show 20261128T121616Z-cbb7\n  quiesce runs show 20261128T121616Z-cbb7 --output json\n"
    )]
    Show(show::Args),
}

/// The cluster a run touched.
#[derive(Debug, Serialize)]
struct ClusterRow {
    /// `prod-ml (https://es:9200)`, or `sim:FILE (embedded simulator)`.
    label: String,
    url: String,
    name: String,
    uuid: String,
    /// `sim:FILE` for a run against the embedded simulator: that cluster ended with the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    simulator: Option<String>,
}

#[derive(Debug, Serialize)]
struct RunRow {
    run_id: String,
    command: String,
    playbook: String,
    started_at: String,
    /// As people read it: `succeeded`, `succeeded, not verified` (its recovery check, exit 8),
    /// `failed`, `interrupted (resume it)`, `incomplete (resume it)`.
    outcome: &'static str,
    /// The same, as `--outcome` spells it.
    status: RunOutcome,
    cluster: ClusterRow,
    #[serde(skip_serializing_if = "Option::is_none")]
    reverts: Option<String>,
    changed: u64,
    already_in_state: u64,
    failed: u64,
    skipped: u64,
    resumed: usize,
    /// The last run on its cluster to switch upgrade mode switched it on, and the cluster is
    /// not the embedded simulator (gone with its run).
    upgrade_mode_left_on: bool,
    /// The same, but the switch was in flight when the run ended: it may be on.
    upgrade_mode_maybe_on: bool,
    /// The journal's last line was cut short by a crash (it is ignored).
    torn_last_line: bool,
    journal: String,
}

fn row(log: &RunLog) -> RunRow {
    let finished = log.segments.last().and_then(|s| s.finished());
    // Steps done before a crash count too: a resumed plan only holds what was left.
    let count = |wanted: StepStatus| {
        log.segments
            .iter()
            .flat_map(|s| s.statuses())
            .filter(|status| *status == wanted)
            .count() as u64
    };
    let before = &log.header.before;
    RunRow {
        run_id: log.header.run_id.clone(),
        command: log.header.command.clone(),
        playbook: log.header.plan.playbook.path.clone(),
        started_at: log.header.started_at.to_string(),
        outcome: log.outcome().words(),
        status: log.outcome(),
        cluster: ClusterRow {
            label: log.cluster_label(),
            url: log.header.cluster_url.clone(),
            name: before.cluster_name.clone(),
            uuid: before.cluster_uuid.clone(),
            simulator: log.header.simulator.clone(),
        },
        reverts: log.header.reverts.clone(),
        changed: count(StepStatus::Changed),
        already_in_state: count(StepStatus::AlreadyInState),
        failed: finished.map_or(0, |stats| stats.failed as u64),
        skipped: finished.map_or(0, |stats| stats.skipped as u64),
        resumed: log.segments.len().saturating_sub(1),
        upgrade_mode_left_on: false,
        upgrade_mode_maybe_on: false,
        torn_last_line: log.torn_tail,
        journal: log.path.display().to_string(),
    }
}

pub(crate) fn run(args: Args) -> Result<i32, Error> {
    if let Some(RunsCommand::Show(show)) = &args.command {
        return show::run(show, args.state_dir.as_deref(), args.output);
    }
    let url = args
        .cluster
        .clone()
        .filter(|text| text.starts_with("http://") || text.starts_with("https://"));
    let scratch = match &url {
        Some(url) => Some(super::runtime()?.block_on(fetch_all(url, &args.index))?),
        None => None,
    };
    let mut logs = Vec::new();
    for path in list_runs(
        scratch
            .as_ref()
            .map_or(args.state_dir.as_deref(), |s| Some(s.path())),
    ) {
        match read(&path) {
            Ok(log) => logs.push(log),
            Err(err) => crate::report::diagnostic::eprint(&err),
        }
    }
    // Run ids sort by the second a run began; two in one second sort by their start itself.
    logs.sort_by_key(|log| log.header.started_at);
    let mut rows: Vec<RunRow> = logs.iter().map(row).collect();
    // Per cluster, the last run that switched upgrade mode (or found it switched) says what it
    // is now; a later run that found it off before it began clears that.
    let mut last_known: HashMap<String, (usize, UpgradeMode)> = HashMap::new();
    for (index, log) in logs.iter().enumerate() {
        let Some(cluster) = log.cluster_key() else {
            continue;
        };
        if !log.header.before.upgrade_mode {
            last_known.remove(&cluster);
        }
        if let Some(known) = log.upgrade_mode() {
            last_known.insert(cluster, (index, known));
        }
    }
    for (index, known) in last_known.into_values() {
        rows[index].upgrade_mode_left_on = known == UpgradeMode::On;
        rows[index].upgrade_mode_maybe_on = known == UpgradeMode::Unknown;
    }
    if let Some(url) = &url {
        for row in &mut rows {
            row.journal = format!("index `{}` of {url}", args.index);
        }
    }
    drop(scratch);
    rows.retain(|row| {
        args.outcome.is_none_or(|wanted| row.status == wanted)
            && (url.is_some()
                || args.cluster.as_deref().is_none_or(|text| {
                    [
                        &row.cluster.label,
                        &row.cluster.url,
                        &row.cluster.name,
                        &row.cluster.uuid,
                    ]
                    .iter()
                    .any(|field| field.contains(text))
                }))
    });
    let text = match args.output {
        OutputFormat::Json => {
            serde_json::to_string_pretty(&rows).map_err(|e| Error::Internal(e.to_string()))? + "\n"
        }
        OutputFormat::Human => human(&rows),
    };
    stream::out(&text).map_err(Error::Output)?;
    Ok(exit_code::SUCCESS)
}

/// Fetches every run the cluster's index records into a scratch state directory.
async fn fetch_all(url: &str, index: &CoordIndex) -> Result<ScratchDir, Error> {
    let cluster_args = super::cluster::ClusterArgs {
        cluster: Some(url.to_owned()),
    };
    let cluster = super::cluster::connect(&cluster_args, None).await?;
    let scratch = ScratchDir::new();
    let ids = list_run_ids(&cluster.client, index)
        .await
        .map_err(Error::from)?;
    for run_id in ids {
        restore_run(&cluster.client, index, &run_id, scratch.path()).await?;
    }
    cluster.release().await;
    Ok(scratch)
}

fn human(rows: &[RunRow]) -> String {
    if rows.is_empty() {
        return "no runs found (journals live in `.quiesce/runs/` beside the playbook)\n".into();
    }
    let cluster_width = rows
        .iter()
        .map(|row| row.cluster.label.chars().count())
        .max()
        .unwrap_or(0)
        .max("CLUSTER".len());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<22} {:<7} {:<24} {:<26} {:>7} {:>6} {:>7}  {:<cluster_width$}  PLAYBOOK",
        "RUN", "COMMAND", "STARTED", "OUTCOME", "CHANGED", "FAILED", "SKIPPED", "CLUSTER"
    );
    for row in rows {
        let mut flags = String::new();
        if let Some(reverted) = &row.reverts {
            let _ = write!(flags, "  (reverts {reverted})");
        }
        if row.resumed > 0 {
            let _ = write!(flags, "  (resumed {}x)", row.resumed);
        }
        if row.torn_last_line {
            flags.push_str("  (last journal line torn by a crash, ignored)");
        }
        if row.upgrade_mode_left_on {
            flags.push_str(
                "  ⚠ enabled upgrade mode: still on unless disabled since (`quiesce revert` disables it)",
            );
        }
        if row.upgrade_mode_maybe_on {
            flags.push_str(
                "  ⚠ its upgrade-mode switch was in flight when it ended: upgrade mode may be on (`quiesce resume` finishes the run and says)",
            );
        }
        let _ = writeln!(
            out,
            "{:<22} {:<7} {:<24} {:<26} {:>7} {:>6} {:>7}  {:<cluster_width$}  {}{flags}",
            row.run_id,
            row.command,
            row.started_at.get(..19).unwrap_or(&row.started_at),
            row.outcome,
            row.changed,
            row.failed,
            row.skipped,
            row.cluster.label,
            row.playbook,
        );
    }
    out
}
