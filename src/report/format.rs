//! The two presentation choices every command shares: whether people's output is coloured, and
//! whether a command answers people or programs. Parsed by the CLI, obeyed by the reporters.

/// Whether human output on stderr is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ColorChoice {
    /// Colour on a terminal unless `NO_COLOR` is set.
    Auto,
    /// Colour even when stderr is not a terminal.
    Always,
    /// No colour.
    Never,
}

/// How a command writes its result: for people, or as JSON for programs (see [`super::stream`]
/// for which stream each goes to).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum OutputFormat {
    /// For people.
    #[default]
    Human,
    /// For programs: JSON documents on stdout, errors included.
    Json,
}
