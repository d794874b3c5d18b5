//! `quiesce completions SHELL`: a completion script for bash, zsh, fish, elvish or PowerShell.

use clap_complete::Shell;

use crate::error::Error;
use crate::exit_code;
use crate::report::stream;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The shell to write the script for.
    #[arg(value_enum)]
    shell: Shell,
}

/// Writes the script for `command` (the whole `quiesce` command line).
pub(crate) fn run(args: &Args, mut command: clap::Command) -> Result<i32, Error> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "quiesce", &mut script);
    stream::out(&String::from_utf8_lossy(&script)).map_err(Error::Output)?;
    Ok(exit_code::SUCCESS)
}
