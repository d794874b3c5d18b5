//! `quiesce resume RUN_ID`: continue an interrupted run. Re-observes the cluster, re-plans what
//! the run's plans set out to do (steps already done come out as unchanged), and runs the rest,
//! appending to the same journal. The made playbook is kept beside the journal.

use crate::error::Error;
use crate::journal::{find_run, read, resume_playbook};
use crate::report::stream;

use super::load::load;
use super::run::{JournalTarget, RunArgs, execute, plan_loaded};

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
    let path = find_run(&args.run_id, args.run.state_dir.as_deref())?;
    let log = read(&path)?;
    if log.torn_tail {
        stream::note(&format!(
            "the last line of {} was cut short by a crash; it is ignored",
            path.display()
        ));
    }
    let playbook = path.with_extension("resume.yaml");
    std::fs::write(&playbook, resume_playbook(&log)).map_err(|source| Error::Io {
        path: playbook.clone(),
        source,
    })?;
    let loaded = load(&playbook)?;
    let (view, cluster) = plan_loaded(&loaded, &playbook, &args.run.cluster).await?;
    execute(
        view,
        cluster,
        &args.run,
        JournalTarget::Append {
            path,
            run_id: args.run_id,
        },
    )
    .await
}
