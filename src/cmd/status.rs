//! `quiesce status PLAYBOOK`: one line per target, wanted vs observed, then the drift between
//! playbook and cluster. Read-only. `--detailed-exitcode`: 4 when something is not in its
//! wanted state.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::error::Error;
use crate::exit_code;
use crate::plan::{Status, status};
use crate::report::OutputFormat;
use crate::report::stream;

use super::cluster::{ClusterArgs, observe_once};
use super::load::load;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The playbook whose targets to compare with the cluster.
    #[arg(value_name = "PLAYBOOK")]
    playbook: PathBuf,

    /// What stdout carries: `human`, a table for people; `json`, one JSON document (errors
    /// too, as JSON). Notes and human diagnostics go to stderr either way.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub(crate) output: OutputFormat,

    /// Exit 4 when a target is not in its wanted state (or a declared id is missing).
    #[arg(long)]
    detailed_exitcode: bool,

    #[command(flatten)]
    cluster: ClusterArgs,
}

pub(crate) fn run(args: Args) -> Result<i32, Error> {
    let loaded = load(&args.playbook)?;
    let snapshot =
        super::runtime()?.block_on(observe_once(&args.cluster, Some(&loaded.playbook)))?;
    let report = status(&loaded.playbook, &snapshot);
    let text = match args.output {
        OutputFormat::Human => human(&report),
        OutputFormat::Json => {
            serde_json::to_string_pretty(&report).map_err(|e| Error::Internal(e.to_string()))?
                + "\n"
        }
    };
    stream::out(&text).map_err(Error::Output)?;
    Ok(if args.detailed_exitcode && !report.converged() {
        exit_code::CHANGES_PENDING
    } else {
        exit_code::SUCCESS
    })
}

fn human(report: &Status) -> String {
    let mut out = String::new();
    let width = report
        .targets
        .iter()
        .map(|t| t.kind.len() + 1 + t.id.len())
        .max()
        .unwrap_or(0);
    for target in &report.targets {
        let mark = if target.in_state { "ok   " } else { "DRIFT" };
        let name = format!("{} {}", target.kind, target.id);
        let _ = writeln!(
            out,
            "{mark} {name:<width$}  wanted {:<8} observed {:<8} {}",
            target.wanted, target.observed, target.source
        );
    }
    if let Some(wanted) = report.upgrade_mode.wanted {
        let mark = if wanted == report.upgrade_mode.observed {
            "ok   "
        } else {
            "DRIFT"
        };
        let _ = writeln!(
            out,
            "{mark} upgrade mode  wanted {wanted:<8} observed {}",
            report.upgrade_mode.observed
        );
    }
    if !report.missing.is_empty() {
        let _ = writeln!(out, "\nDeclared but missing from the cluster:");
        for missing in &report.missing {
            let _ = writeln!(out, "  {} {}", missing.kind, missing.id);
        }
    }
    if !report.unmanaged.is_empty() {
        let _ = writeln!(out, "\nIn the cluster but selected by no entry:");
        for other in &report.unmanaged {
            let _ = writeln!(out, "  {} {} ({})", other.kind, other.id, other.observed);
        }
    }
    let drift = report.targets.iter().filter(|t| !t.in_state).count();
    let _ = writeln!(
        out,
        "\n{} target(s), {} in state, {} drifted, {} missing, {} unmanaged",
        report.targets.len(),
        report.targets.len() - drift,
        drift,
        report.missing.len(),
        report.unmanaged.len()
    );
    out
}
