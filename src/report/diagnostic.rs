//! Rendering of miette diagnostics: graphical for people, JSON for programs.
//!
//! The colour decision is made once per process (`init`) and every renderer follows it.

use std::io::IsTerminal;
use std::sync::OnceLock;

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, JSONReportHandler};

use super::ColorChoice;

static COLOR: OnceLock<bool> = OnceLock::new();

/// Decides once whether stderr gets colour: `--color`, then `NO_COLOR`, then whether it is a TTY.
pub(crate) fn init(choice: ColorChoice) {
    let color = match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stderr().is_terminal()
        }
    };
    let _ = COLOR.set(color);
}

fn color() -> bool {
    *COLOR.get().unwrap_or(&false)
}

/// The colour decision made by [`init`], for renderers outside miette (the run reporters).
pub(crate) fn color_enabled() -> bool {
    color()
}

/// Renders a diagnostic for a person. Without colour the output is plain unicode text, which
/// is also what the snapshot tests compare.
pub fn render_human(diagnostic: &dyn Diagnostic) -> String {
    let theme = if color() {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(100);
    let mut out = String::new();
    if handler.render_report(&mut out, diagnostic).is_err() {
        out = format!("{diagnostic}\n");
    }
    out
}

/// Renders a diagnostic as one JSON object (miette's JSON form: message, code, severity, help,
/// filename, labels with byte spans, related).
pub fn render_json(diagnostic: &dyn Diagnostic) -> String {
    let mut out = String::new();
    if JSONReportHandler::new()
        .render_report(&mut out, diagnostic)
        .is_err()
    {
        out = serde_json::json!({ "message": diagnostic.to_string() }).to_string();
    }
    out
}

/// Prints a diagnostic for a person on stderr.
pub(crate) fn eprint(diagnostic: &dyn Diagnostic) {
    super::stream::err(&render_human(diagnostic));
}
