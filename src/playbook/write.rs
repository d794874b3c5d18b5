//! Playbook text (format version 1) for the playbooks quiesce makes itself: a capture, and the
//! `resume` and `revert` playbooks of a run journal. The one place that spells the format's keys
//! and decides how a value is written so that the loader reads back what was meant:
//!
//! - a string is plain when no YAML reader could take it for anything else, YAML 1.1 included
//!   (`no`, `on`, `0755`, `1e3`, `~` are not plain), and double-quoted otherwise, with every
//!   character YAML could read as a line break or refuse written as an escape;
//! - literal text keeps a `${` by writing it `$${` (the loader expands `${VAR}` in every string);
//! - a comment stays on its line: line breaks and other control characters become spaces.
//!
//! Takes values already decided (ids, states, settings) and gives text; judges nothing: what it
//! writes is checked when it is loaded, like any playbook. The caller lays the sections out in
//! the format's order (head, cluster, settings, jobs, datafeeds, upgrade mode), with comments and
//! blank lines where it wants them.

use std::fmt::Write as _;
use std::time::Duration;

use crate::model::{
    DatafeedState, EsVersion, JobState, Keyword, OldSnapshots, Settings, UpgradeMode,
};

/// The widest an entry's comment runs, after its `  # `.
const COMMENT_WIDTH: usize = 94;

/// A string value as the writer should treat its `${`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Text<'a> {
    /// Read back exactly as given: a `${` in it is written `$${`.
    Literal(&'a str),
    /// Written as given, so that its `${VAR}` references are expanded when the playbook loads.
    WithVariables(&'a str),
}

/// One `jobs:` entry, by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JobEntry {
    pub id: String,
    pub state: JobState,
    /// Said above the entry, wrapped to lines of comment.
    pub comment: Option<String>,
}

/// One `datafeeds:` entry, by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DatafeedEntry {
    pub id: String,
    /// The job it feeds, when the playbook is to say so.
    pub job: Option<String>,
    pub state: DatafeedState,
    /// Said above the entry, wrapped to lines of comment.
    pub comment: Option<String>,
}

/// The `maintenance:` section of a made playbook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MaintenanceEntry {
    /// Schedule the event of this window again (a resume).
    Window {
        calendar: String,
        description: String,
        start: jiff::Timestamp,
        end: jiff::Timestamp,
    },
    /// Remove what run `run` added (a revert).
    Undo {
        calendar: String,
        run: String,
        jobs: Vec<String>,
        delete_calendar: bool,
    },
}

/// Builds the text of a playbook, section by section.
#[derive(Debug, Default)]
pub(crate) struct PlaybookWriter {
    text: String,
}

impl PlaybookWriter {
    pub(crate) fn new() -> PlaybookWriter {
        PlaybookWriter::default()
    }

    /// The finished text.
    pub(crate) fn finish(self) -> String {
        self.text
    }

    /// The modeline that gives editors the schema, `schema` being its path or URL.
    pub(crate) fn modeline(&mut self, schema: &str) {
        self.comment(&format!("yaml-language-server: $schema={schema}"));
    }

    /// A comment line at the top level.
    pub(crate) fn comment(&mut self, text: &str) {
        self.line(&format!("# {}", comment_text(text)));
    }

    /// A top-level comment wrapped to lines of comment.
    pub(crate) fn comment_wrapped(&mut self, text: &str) {
        for line in wrap(&comment_text(text), COMMENT_WIDTH + 2) {
            self.line(&format!("# {line}"));
        }
    }

    /// An empty line.
    pub(crate) fn blank(&mut self) {
        self.line("");
    }

    /// `version`, `name` and, when there is one, `description`.
    pub(crate) fn head(&mut self, name: &str, description: Option<&str>) {
        self.line("version: 1");
        self.key("name", Text::Literal(name));
        if let Some(description) = description {
            self.key("description", Text::Literal(description));
        }
    }

    /// The `cluster:` section with its `url`, followed by `comments` (one line each) inside it.
    pub(crate) fn cluster(&mut self, url: Text<'_>, comments: &[&str]) {
        self.line("cluster:");
        self.line(&format!("  url: {}", value(url)));
        for comment in comments {
            self.line(&format!("  # {}", comment_text(comment)));
        }
    }

    /// The `settings:` section, every setting spelled out (`require_match` only when set).
    pub(crate) fn settings(&mut self, settings: &Settings) {
        let retry = &settings.retry;
        self.line("settings:");
        self.line(&format!("  concurrency: {}", settings.concurrency));
        self.line(&format!(
            "  step_timeout: {}",
            duration(settings.step_timeout)
        ));
        self.line(&format!(
            "  retry: {{ attempts: {}, initial_backoff: {}, max_backoff: {} }}",
            retry.attempts,
            duration(retry.initial_backoff),
            duration(retry.max_backoff)
        ));
        self.line(&format!("  on_failure: {}", settings.on_failure.name()));
        self.line(&format!("  force: {}", settings.force.name()));
        if settings.require_match {
            self.line("  require_match: true");
        }
    }

    /// The `jobs:` section; `jobs: []` when there are none.
    pub(crate) fn jobs(&mut self, jobs: &[JobEntry]) {
        if jobs.is_empty() {
            self.line("jobs: []");
            return;
        }
        self.line("jobs:");
        for job in jobs {
            self.entry_comment(job.comment.as_deref());
            self.line(&format!("  - id: {}", value(Text::Literal(&job.id))));
            self.line(&format!("    state: {}", job.state.name()));
        }
    }

    /// The `datafeeds:` section; `datafeeds: []` when there are none.
    pub(crate) fn datafeeds(&mut self, datafeeds: &[DatafeedEntry]) {
        if datafeeds.is_empty() {
            self.line("datafeeds: []");
            return;
        }
        self.line("datafeeds:");
        for feed in datafeeds {
            self.entry_comment(feed.comment.as_deref());
            self.line(&format!("  - id: {}", value(Text::Literal(&feed.id))));
            if let Some(job) = &feed.job {
                self.line(&format!("    job: {}", value(Text::Literal(job))));
            }
            self.line(&format!("    state: {}", feed.state.name()));
        }
    }

    /// `upgrade_mode: enabled` or `disabled`.
    pub(crate) fn upgrade_mode(&mut self, mode: UpgradeMode) {
        self.line(&format!("upgrade_mode: {}", mode.name()));
    }

    /// The `upgrade:` section: the version the snapshot gate checks against.
    pub(crate) fn upgrade(&mut self, target_version: EsVersion, old_snapshots: OldSnapshots) {
        self.line("upgrade:");
        self.line(&format!("  target_version: {target_version}"));
        self.line(&format!("  old_snapshots: {}", old_snapshots.name()));
    }

    /// `maintenance:` with its window, or what to undo.
    pub(crate) fn maintenance(&mut self, entry: &MaintenanceEntry) {
        self.line("maintenance:");
        match entry {
            MaintenanceEntry::Window {
                calendar,
                description,
                start,
                end,
            } => {
                self.line(&format!("  calendar: {}", value(Text::Literal(calendar))));
                self.line(&format!(
                    "  description: {}",
                    value(Text::Literal(description))
                ));
                self.line(&format!(
                    "  window: {{ start: {}, end: {} }}",
                    value(Text::Literal(&start.to_string())),
                    value(Text::Literal(&end.to_string()))
                ));
            }
            MaintenanceEntry::Undo {
                calendar,
                run,
                jobs,
                delete_calendar,
            } => {
                self.line(&format!("  calendar: {}", value(Text::Literal(calendar))));
                self.line("  undo:");
                self.line(&format!("    run: {}", value(Text::Literal(run))));
                let jobs: Vec<String> = jobs.iter().map(|j| value(Text::Literal(j))).collect();
                self.line(&format!("    jobs: [{}]", jobs.join(", ")));
                self.line(&format!("    calendar: {delete_calendar}"));
            }
        }
    }

    fn key(&mut self, key: &str, text: Text<'_>) {
        self.line(&format!("{key}: {}", value(text)));
    }

    fn entry_comment(&mut self, comment: Option<&str>) {
        let Some(comment) = comment else {
            return;
        };
        for line in wrap(&comment_text(comment), COMMENT_WIDTH) {
            self.line(&format!("  # {line}"));
        }
    }

    fn line(&mut self, line: &str) {
        let _ = writeln!(self.text, "{line}");
    }
}

/// A duration to the millisecond, in whole seconds when it is.
fn duration(duration: Duration) -> String {
    let ms = duration.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// `text` as a YAML value that reads back as `text` (or, with variables, as its expansion).
fn value(text: Text<'_>) -> String {
    let text = match text {
        Text::Literal(literal) => literal.replace("${", "$${"),
        Text::WithVariables(text) => text.to_owned(),
    };
    if is_plain_safe(&text) {
        text
    } else {
        double_quoted(&text)
    }
}

/// `text` on one comment line.
fn comment_text(text: &str) -> String {
    text.chars()
        .map(|c| if is_break_or_unprintable(c) { ' ' } else { c })
        .collect()
}

/// Characters a YAML reader may take as a line break (NEL, LS and PS are ones in YAML 1.1) or
/// may refuse (control characters, byte order mark, non-characters).
fn is_break_or_unprintable(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
        )
}

/// A double-quoted scalar, escaped as both YAML and JSON read it.
fn double_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_break_or_unprintable(c) => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Words that YAML 1.1 (still read by many tools) or 1.2 resolve to a boolean or null.
const RESERVED: &[&str] = &[
    "y", "yes", "n", "no", "true", "false", "on", "off", "null", "~",
];

/// Whether `text` may be written plain: nothing YAML would read as another type, an indicator,
/// a comment, a mapping, or whitespace it would drop.
fn is_plain_safe(text: &str) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    let lower = text.to_ascii_lowercase();
    let looks_numeric = first.is_ascii_digit()
        || (matches!(first, '-' | '+' | '.')
            && text[1..].starts_with(|c: char| c.is_ascii_digit() || c == '.'));
    let indicator = "-?:,[]{}#&*!|>'\"%@`".contains(first);
    let reserved = RESERVED.contains(&lower.as_str())
        || lower.trim_start_matches(['+', '-']) == ".inf"
        || lower == ".nan";
    let breaks = text.contains(": ")
        || text.contains(" #")
        || text.ends_with(':')
        || text.ends_with(' ')
        || text.starts_with(' ')
        || text.contains('\\')
        || text.chars().any(is_break_or_unprintable);
    !(looks_numeric || indicator || reserved || breaks)
}

/// Words joined into lines of at most `width` characters (a longer word stays whole).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        if !current.is_empty() && current.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

#[cfg(test)]
mod tests;
