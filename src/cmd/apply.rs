//! `quiesce apply PLAYBOOK|plan.json`: the main job. Preflight, plan (or load a saved plan and
//! check the cluster has not drifted from it), confirm, execute with live progress, summarise.
//!
//! Exit codes: 0 every step reached its state; 1 some failed or were skipped; 2 invalid input or
//! no confirmation; 3 cluster unreachable, unauthorised, preflight failed or drifted from a saved
//! plan (nothing changed); 130 interrupted.

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::observe::Snapshot;
use crate::plan::{self, PlanView, snapshot_digest};

use super::cluster::{Cluster, connect};
use super::load::load;
use super::plan::TargetVersion;
use super::run::{JournalTarget, RunArgs, execute, observe_calendar, plan_loaded, preflight};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// A playbook, or a plan saved with `quiesce plan -o FILE`.
    #[arg(value_name = "PLAYBOOK|PLAN.json")]
    input: PathBuf,

    /// With a playbook: plan for this upgrade (`--target-version` of `quiesce plan`).
    #[command(flatten)]
    target: TargetVersion,

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
fn state_dir_beside(file: &Path) -> PathBuf {
    file.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."))
        .join(".quiesce")
}

async fn apply(args: Args) -> Result<i32, Error> {
    if is_saved_plan(&args.input) && args.target.target_version.is_some() {
        return Err(Error::BadPlanFile {
            path: args.input.clone(),
            reason: "`--target-version` plans a playbook; a saved plan already carries the \
                     steps of its snapshot gate"
                .to_owned(),
        });
    }
    let (view, cluster) = if is_saved_plan(&args.input) {
        saved_plan(&args.input, &args.run).await?
    } else {
        fresh_plan(&args.input, &args.run, &args.target).await?
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
            reverts: None,
        },
    )
    .await
}

/// Plans the playbook now, after the preflight.
async fn fresh_plan(
    input: &Path,
    run: &RunArgs,
    target: &TargetVersion,
) -> Result<(PlanView, Cluster), Error> {
    let mut loaded = load(input)?;
    target.apply(&mut loaded.playbook);
    plan_loaded(&loaded, input, run).await
}

/// Loads a saved plan and refuses it when the cluster no longer looks as it did then.
async fn saved_plan(input: &Path, run: &RunArgs) -> Result<(PlanView, Cluster), Error> {
    let text = crate::input::read_text(input, crate::input::Kind::Plan)?;
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
    let out_of_range = view.settings.out_of_range();
    if !out_of_range.is_empty() {
        return Err(Error::BadPlanFile {
            path: input.to_owned(),
            reason: format!("settings out of range: {}", out_of_range.join(", ")),
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
    let mut cluster = connect(&run.cluster, playbook.as_ref().map(|l| &l.playbook)).await?;
    let policy = crate::model::Settings::from(&view.settings).retry;
    let (now, user) = preflight(&cluster.client, &policy, &run.index).await?;
    cluster.user = user;
    if &snapshot_digest(&now) != planned_digest {
        return Err(Error::Drifted {
            changes: drift(planned, &now).join("\n"),
        });
    }
    // What the maintenance calendar holds now, before anything changes (`revert` needs it).
    let mut view = view;
    observe_calendar(&cluster.client, &policy, &mut view).await?;
    Ok((view, cluster))
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
