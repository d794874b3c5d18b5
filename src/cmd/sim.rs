//! `quiesce sim`: the Elasticsearch ML simulator (the `quiesce-sim` crate) from the one
//! `quiesce` binary.

use crate::error::Error;
use crate::exit_code;

pub(crate) type Args = quiesce_sim::cli::SimArgs;

pub(crate) fn run(args: Args) -> Result<i32, Error> {
    super::runtime()?.block_on(args.serve())?;
    Ok(exit_code::SUCCESS)
}
