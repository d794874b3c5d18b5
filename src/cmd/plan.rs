//! `quiesce plan PLAYBOOK`: observe the cluster (read-only), resolve, diff and order the work.
//!
//! Text (stdout) for review, JSON (stdout) for programs, `-o FILE` saves the JSON form with the
//! snapshot digest for `apply`. Warnings and problems go to stderr as diagnostics.
//! `--detailed-exitcode`: 0 nothing to change, 4 changes pending.

use std::path::PathBuf;

use crate::error::Error;
use crate::exit_code;
use crate::model::{EsVersion, OldSnapshots, Playbook, UpgradeTarget};
use crate::plan::{self, Plan, PlanView, PlanWarnings};
use crate::report::{diagnostic, plan as render, stream};

use super::cluster::{ClusterArgs, observe_for_plan};
use super::load::{Loaded, load, unresolved_notes};
use super::output::write_whole;

/// How `plan` prints the plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum PlanFormat {
    /// Steps by wave, for review.
    #[default]
    Text,
    /// The versioned JSON form (the same that `-o` saves).
    Json,
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The playbook to plan.
    #[arg(value_name = "PLAYBOOK")]
    playbook: PathBuf,

    /// What stdout carries: `text`, the steps by wave for people; `json`, the versioned plan
    /// (problems too, as JSON).
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub(crate) format: PlanFormat,

    /// Also save the plan as JSON, for `quiesce apply FILE` (never over an existing file
    /// without `--overwrite`).
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    out: Option<PathBuf>,

    /// Let `-o FILE` replace an existing file.
    #[arg(long, requires = "out")]
    overwrite: bool,

    /// Exit 4 when changes are pending, 0 when there is nothing to do.
    #[arg(long)]
    detailed_exitcode: bool,

    /// Contact nothing: assume every target needs action.
    #[arg(long)]
    offline: bool,

    #[command(flatten)]
    target: TargetVersion,

    #[command(flatten)]
    cluster: ClusterArgs,
}

/// `--target-version`: the snapshot gate's version, over the playbook's `upgrade:` section.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct TargetVersion {
    /// The Elasticsearch version the cluster is to be upgraded to (`9.0.0`): report every
    /// targeted job whose model snapshots that version cannot open, and plan the remedy
    /// before the shutdown. Overrides the playbook's `upgrade.target_version`.
    #[arg(long = "target-version", value_name = "X.Y.Z", value_parser = parse_version)]
    pub(crate) target_version: Option<EsVersion>,
}

fn parse_version(text: &str) -> Result<EsVersion, String> {
    EsVersion::parse(text)
}

impl TargetVersion {
    /// Puts the version into the playbook's `upgrade:` section (keeping its `old_snapshots`).
    pub(crate) fn apply(&self, playbook: &mut Playbook) {
        let Some(version) = self.target_version else {
            return;
        };
        match &mut playbook.upgrade {
            Some(upgrade) => {
                upgrade.target_version = version;
                upgrade.location = None;
            }
            None => {
                playbook.upgrade = Some(UpgradeTarget {
                    target_version: version,
                    old_snapshots: OldSnapshots::default(),
                    location: None,
                });
            }
        }
    }
}

/// Loads, observes (unless offline) and plans; prints warnings. Shared by `plan` and `graph`.
pub(crate) fn make_plan(
    path: &std::path::Path,
    cluster: &ClusterArgs,
    offline: bool,
    target: &TargetVersion,
) -> Result<(Loaded, Plan), Error> {
    let mut loaded = load(path)?;
    target.apply(&mut loaded.playbook);
    let (snapshot, outlook) = if offline {
        for (location, note) in unresolved_notes(&loaded.playbook) {
            stream::note(&format!("{location}: {note}"));
        }
        if loaded.playbook.upgrade.is_some() {
            stream::note(
                "offline: the snapshot gate needs the cluster's model snapshots and is left out",
            );
        }
        (None, None)
    } else {
        let (snapshot, outlook) =
            super::runtime()?.block_on(observe_for_plan(cluster, &loaded.playbook))?;
        (Some(snapshot), outlook)
    };
    let (plan, warnings) =
        plan::build(&loaded.playbook, &loaded.source, snapshot, outlook.as_ref())?;
    if !warnings.is_empty() {
        diagnostic::eprint(&PlanWarnings::new(&loaded.source, warnings));
    }
    Ok((loaded, plan))
}

pub(crate) fn run(args: Args) -> Result<i32, Error> {
    if let Some(path) = &args.out
        && !args.overwrite
        && path.exists()
    {
        return Err(Error::WouldOverwrite { path: path.clone() });
    }
    let (loaded, plan) = make_plan(&args.playbook, &args.cluster, args.offline, &args.target)?;
    let view = PlanView::new(
        &plan,
        &loaded.playbook.settings,
        &args.playbook.display().to_string(),
        loaded.source.text(),
    );
    let json = || serde_json::to_string_pretty(&view).map_err(|e| Error::Internal(e.to_string()));
    if let Some(out) = &args.out {
        write_whole(out, &(json()? + "\n")).map_err(|source| Error::Io {
            path: out.clone(),
            source,
        })?;
        stream::note(&format!(
            "saved the plan to {} (apply it as reviewed: `quiesce apply {}`)",
            out.display(),
            out.display()
        ));
    }
    let text = match args.format {
        PlanFormat::Text => render::text(&view),
        PlanFormat::Json => json()? + "\n",
    };
    stream::out(&text).map_err(Error::Output)?;
    Ok(if args.detailed_exitcode && plan.has_changes() {
        exit_code::CHANGES_PENDING
    } else {
        exit_code::SUCCESS
    })
}
