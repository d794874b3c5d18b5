//! The two output streams, and the one rule for what goes on each:
//!
//! - **stdout** carries what a command was asked for: a plan, a status or runs table, a graph,
//!   a captured playbook, a schema, and with `--output json` the JSON documents and event lines
//!   (diagnostics included). It can be piped and redirected.
//! - **stderr** carries everything about getting it: progress, prompts, notes, warnings and
//!   human diagnostics.
//!
//! Every byte quiesce writes goes through this module.

use std::io::Write;

/// Writes a command's result on stdout.
pub(crate) fn out(text: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()
}

/// Writes text for the person at the terminal on stderr. Best effort: a closed stderr must
/// not stop a run that is changing a cluster.
pub(crate) fn err(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(text.as_bytes());
    let _ = stderr.flush();
}

/// `note: …` on stderr: something worth knowing that changes nothing.
pub(crate) fn note(text: &str) {
    err(&format!("note: {text}\n"));
}

/// `warning: …` on stderr: something the person should act on or check.
pub(crate) fn warning(text: &str) {
    err(&format!("warning: {text}\n"));
}
