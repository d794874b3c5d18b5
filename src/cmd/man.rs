//! `quiesce man [--dir DIR]`: the manual page (roff, section 1) of the whole command on stdout,
//! or one page per command (`quiesce.1`, `quiesce-apply.1`, …) written into DIR.

use std::path::PathBuf;

use crate::error::Error;
use crate::exit_code;
use crate::report::stream;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Write one page per command into DIR (created if missing) instead of printing the page
    /// of `quiesce` on stdout.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// Renders `command` (the whole `quiesce` command line).
pub(crate) fn run(args: &Args, command: clap::Command) -> Result<i32, Error> {
    let Some(dir) = &args.dir else {
        let mut page = Vec::new();
        clap_mangen::Man::new(command)
            .render(&mut page)
            .map_err(|e| Error::Internal(format!("cannot render the manual page: {e}")))?;
        stream::out(&String::from_utf8_lossy(&page)).map_err(Error::Output)?;
        return Ok(exit_code::SUCCESS);
    };
    let io = |source| Error::Io {
        path: dir.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    clap_mangen::generate_to(command, dir).map_err(io)?;
    let mut pages: Vec<String> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("quiesce") && name.ends_with(".1"))
        .collect();
    pages.sort();
    stream::err(&format!(
        "wrote {} manual page(s) into {}: {}\n",
        pages.len(),
        dir.display(),
        pages.join(", ")
    ));
    Ok(exit_code::SUCCESS)
}
