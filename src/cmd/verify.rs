//! `quiesce verify PLAYBOOK`: the verification `apply` makes after a way up, alone and
//! read-only. Every job the playbook wants opened must be assigned to a node, and every
//! datafeed it wants started must run in real time and make progress while quiesce watches
//! (`verify`, docs/elasticsearch-ml-api.md §14), within `--timeout`.
//!
//! Exit codes: 0 every target verified; 8 one was not (each is listed with what stats showed);
//! 2, 3, 5 as for `plan`; 130 interrupted.

use std::collections::BTreeSet;
use std::io::IsTerminal as _;
use std::path::PathBuf;

use crate::error::Error;
use crate::exec::{self, Event};
use crate::exit_code;
use crate::plan::{self, PlanView};
use crate::report::run::{JsonReporter, Reporter, VerifyReporter};
use crate::report::{OutputFormat, diagnostic};
use crate::verify::{Targets, VerifyOptions, verify};

use super::cluster::{ClusterArgs, connect, tell};
use super::load::load;
use super::run::duration_arg;
use super::signals;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The playbook whose opened jobs and started datafeeds to verify.
    #[arg(value_name = "PLAYBOOK")]
    playbook: PathBuf,

    /// How long to wait at most for every target to prove that it works (`30s`, `5m`). Give
    /// a datafeed at least two of its `frequency` (and its `query_delay`) to show progress.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = duration_arg)]
    timeout: std::time::Duration,

    /// `human`: one line per target on stderr; `json`: JSON Lines events on stdout as well.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub(crate) output: OutputFormat,

    #[command(flatten)]
    cluster: ClusterArgs,
}

pub(crate) fn run(args: Args) -> Result<i32, Error> {
    super::runtime()?.block_on(verify_playbook(args))
}

async fn verify_playbook(args: Args) -> Result<i32, Error> {
    let loaded = load(&args.playbook)?;
    // Read only: no preflight of the privileges a change needs, no lease, no journal.
    let cluster = connect(&args.cluster, Some(&loaded.playbook)).await?;
    let snapshot =
        crate::observe::observe(&cluster.client, &loaded.playbook.settings.retry, &tell).await?;
    let (plan, _) = plan::build(&loaded.playbook, &loaded.source, Some(snapshot), None)?;
    let view = PlanView::new(
        &plan,
        &loaded.playbook.settings,
        &args.playbook.display().to_string(),
        loaded.source.text(),
    );
    let targets = Targets::of_plan(&view, &BTreeSet::new(), true);
    let interrupts = exec::Interrupts::new();
    signals::forward(interrupts.clone())?;
    let mut reporters: Vec<Box<dyn Reporter>> = vec![Box::new(VerifyReporter::new(
        Box::new(std::io::stderr()),
        diagnostic::color_enabled() && std::io::stderr().is_terminal(),
    ))];
    if args.output == OutputFormat::Json {
        reporters.push(Box::new(JsonReporter::new(Box::new(std::io::stdout()))));
    }
    let mut sink = |event: Event| {
        for reporter in &mut reporters {
            reporter.report(&event);
        }
    };
    let outcome = verify(
        &cluster.client,
        &targets,
        VerifyOptions::new(args.timeout),
        &interrupts,
        &mut sink,
    )
    .await;
    for reporter in &mut reporters {
        reporter.finish();
    }
    cluster.release().await;
    Ok(if outcome.interrupted {
        exit_code::INTERRUPTED
    } else if outcome.all_verified() {
        exit_code::SUCCESS
    } else {
        exit_code::NOT_VERIFIED
    })
}
