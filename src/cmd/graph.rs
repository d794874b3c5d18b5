//! `quiesce graph PLAYBOOK --format dot|mermaid`: the plan's DAG for review and docs.

use std::path::PathBuf;

use crate::error::Error;
use crate::exit_code;
use crate::plan::PlanView;
use crate::report::{plan as render, stream};

use super::cluster::ClusterArgs;
use super::plan::{TargetVersion, make_plan};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum GraphFormat {
    /// Graphviz (`dot -Tsvg`).
    #[default]
    Dot,
    /// A Mermaid flowchart (renders in GitHub and GitLab Markdown).
    Mermaid,
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The playbook whose plan to draw.
    #[arg(value_name = "PLAYBOOK")]
    playbook: PathBuf,

    /// The graph language written on stdout.
    #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
    format: GraphFormat,

    /// Contact nothing: assume every target needs action.
    #[arg(long)]
    offline: bool,

    #[command(flatten)]
    target: TargetVersion,

    #[command(flatten)]
    cluster: ClusterArgs,
}

pub(crate) fn run(args: Args) -> Result<i32, Error> {
    let (loaded, plan) = make_plan(&args.playbook, &args.cluster, args.offline, &args.target)?;
    let view = PlanView::new(
        &plan,
        &loaded.playbook.settings,
        &args.playbook.display().to_string(),
        loaded.source.text(),
    );
    let text = match args.format {
        GraphFormat::Dot => render::dot(&view),
        GraphFormat::Mermaid => render::mermaid(&view),
    };
    stream::out(&text).map_err(Error::Output)?;
    Ok(exit_code::SUCCESS)
}
