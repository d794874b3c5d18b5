//! `quiesce revert RUN_ID`: bring back exactly what a run changed, from the before-state its
//! journal recorded: the resources its steps targeted, nothing else; jobs opened before their
//! datafeeds are started, and upgrade mode disabled first if the run enabled it. `--print`
//! writes the playbook instead of applying it.

use crate::error::Error;
use crate::exit_code;
use crate::journal::{read, revert_playbook};
use crate::report::stream;

use super::load::load;
use super::run::{JournalTarget, RunArgs, execute, find_or_fetch, plan_loaded, state_dir_of};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The run to revert (`quiesce runs` lists them).
    #[arg(value_name = "RUN_ID")]
    run_id: String,

    /// Print the playbook that reverts the run, and stop.
    #[arg(long)]
    print: bool,

    #[command(flatten)]
    pub(crate) run: RunArgs,
}

pub(crate) fn run(args: Args) -> Result<i32, Error> {
    super::runtime()?.block_on(revert(args))
}

async fn revert(args: Args) -> Result<i32, Error> {
    let path = find_or_fetch(&args.run_id, &args.run).await?;
    let log = read(&path)?;
    let text = revert_playbook(&log);
    if args.print {
        stream::out(&text).map_err(Error::Output)?;
        return Ok(exit_code::SUCCESS);
    }
    let playbook = path.with_extension("revert.yaml");
    std::fs::write(&playbook, text).map_err(|source| Error::Io {
        path: playbook.clone(),
        source,
    })?;
    let loaded = load(&playbook)?;
    let (view, cluster) = plan_loaded(&loaded, &playbook, &args.run).await?;
    execute(
        view,
        cluster,
        &args.run,
        JournalTarget::Create {
            state_dir: state_dir_of(&path),
            command: "revert",
            reverts: Some(args.run_id),
        },
    )
    .await
}
