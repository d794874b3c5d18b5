//! `quiesce capture [--match EXPR]... [-o FILE [--overwrite]]`: observe the cluster
//! (read-only) and write today's machine-learning state as a playbook, on stdout or to FILE,
//! with a one-line summary on stderr. The playbook is what `apply` needs to bring that state
//! back after an upgrade.

use std::path::PathBuf;

use crate::capture::{Capture, CaptureError, CaptureWarning, Selection, failed_text};
use crate::error::Error;
use crate::exit_code;
use crate::report::{diagnostic, stream};

use super::cluster::{ClusterArgs, observe_once};
use super::output::{directory_of, schema_path_from, write_whole};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Capture only the jobs this selects, with their datafeeds: a job id, a job group, or a
    /// wildcard over ids (`prod-*`), as Elasticsearch reads them; repeatable, commas allowed.
    /// Without it, every job.
    #[arg(long = "match", value_name = "EXPR")]
    matches: Vec<String>,

    /// Write the playbook to FILE instead of stdout (never over an existing file without
    /// `--overwrite`). Inside a checkout with `schemas/playbook.schema.json`, the file's schema
    /// modeline points there, relative to FILE.
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    out: Option<PathBuf>,

    /// Let `-o FILE` replace an existing file.
    #[arg(long, requires = "out")]
    overwrite: bool,

    #[command(flatten)]
    cluster: ClusterArgs,
}

pub(crate) fn run(args: Args) -> Result<i32, Error> {
    let selection = Selection::parse(&args.matches)?;
    if let Some(path) = &args.out
        && !args.overwrite
        && path.exists()
    {
        return Err(CaptureError::WouldOverwrite { path: path.clone() }.into());
    }
    let snapshot = super::runtime()?.block_on(observe_once(&args.cluster, None))?;
    selection.check(&snapshot)?;
    let capture = Capture::new(&snapshot, &selection);
    // `connect` succeeded, so there was a URL; it is repeated without its credentials.
    let url = args.cluster.cluster.as_deref().unwrap_or_default();
    let dir = args
        .out
        .as_deref()
        .map_or_else(|| PathBuf::from("."), directory_of);
    let schema = schema_path_from(&dir);
    let text = capture.render(jiff::Timestamp::now(), url, schema.as_deref());
    let summary = format!(
        "captured {} job(s) ({} opened) and {} datafeed(s) ({} started) from `{}`",
        capture.jobs.len(),
        capture.opened_jobs(),
        capture.datafeeds.len(),
        capture.started_datafeeds(),
        capture.cluster_name,
    );
    match &args.out {
        Some(path) => {
            write_whole(path, &text).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            stream::err(&format!("{summary} into {}\n", path.display()));
        }
        None => {
            stream::out(&text).map_err(Error::Output)?;
            stream::err(&format!("{summary}\n"));
        }
    }
    for failed in &capture.failed {
        stream::note(&format!("left out of the capture: {}", failed_text(failed)));
    }
    if capture.upgrade_mode {
        diagnostic::eprint(&CaptureWarning::UpgradeModeOn);
    }
    Ok(exit_code::SUCCESS)
}
