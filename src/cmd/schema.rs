//! `quiesce schema [WHAT]`: prints a JSON Schema (draft-07) on stdout, for editors and
//! for `schemas/`.

use clap::ValueEnum;

use crate::error::Error;
use crate::exit_code;
use crate::playbook::playbook_schema;
use crate::report::stream;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Which schema to print.
    #[arg(value_enum, default_value_t = Schema::Playbook)]
    what: Schema,
}

/// The documents quiesce reads that have a schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Schema {
    /// The playbook format (`schemas/playbook.schema.json`).
    Playbook,
    /// The simulator's seed file (`schemas/sim-seed.schema.json`).
    #[cfg(feature = "sim")]
    SimSeed,
}

pub(crate) fn run(args: &Args) -> Result<i32, Error> {
    let text = match args.what {
        Schema::Playbook => playbook_schema(),
        #[cfg(feature = "sim")]
        Schema::SimSeed => {
            serde_json::to_string_pretty(&quiesce_sim::seed::seed_schema())
                .map_err(|e| Error::Internal(e.to_string()))?
                + "\n"
        }
    };
    stream::out(&text).map_err(Error::Output)?;
    Ok(exit_code::SUCCESS)
}
