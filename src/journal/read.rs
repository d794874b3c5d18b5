//! Reading journals back, typed, for `runs`, `resume` and `revert`: each line into a [`Line`]
//! (header, event, resumed), events into `exec`'s [`Event`] (formats 2 and 3) or
//! [`v1::Event`] (format 1), into a [`RunLog`].
//!
//! Owns how a journal reads, and what it refuses. Must never guess: a line it cannot read is
//! an error (only a torn line, cut short by a crash, is skipped and reported), so that a
//! renamed event fails a test or a resume loudly instead of resuming wrongly; and so is a line
//! missing from the middle (format 3 numbers every line), a format version that does not match
//! the lines, and a header that names another run than the file. Reading is bounded: a
//! journal is a regular file of at most 256 MiB, a line at most 64 MiB.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::error::Category;

use crate::exec::Event;
use crate::input::{self, Kind};

use super::line::{JOURNAL_FORMAT_VERSION, Line, MAX_LINE_BYTES, MaybeNumbered, NUMBERED_SINCE};
use super::log::{Recorded, RunLog, Segment};
use super::v1;
use super::write::{Header, JournalError, JournalLine, runs_dir};

/// One line, read in the format of the segment it belongs to.
fn parse(line: &str, version: u32) -> Result<MaybeNumbered<Line<Recorded>>, serde_json::Error> {
    Ok(if version == 1 {
        let read: MaybeNumbered<Line<v1::Event>> = serde_json::from_str(line)?;
        MaybeNumbered {
            seq: read.seq,
            line: read.line.map_event(Recorded::V1),
        }
    } else {
        let read: MaybeNumbered<Line<Event>> = serde_json::from_str(line)?;
        MaybeNumbered {
            seq: read.seq,
            line: read.line.map_event(Recorded::Typed),
        }
    })
}

/// Whether a format 1 line is really a later one: every step event of format 2 on names its
/// action, which format 1 never wrote.
fn names_an_action(line: &str) -> bool {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(default)]
        action: Option<IgnoredAny>,
    }
    serde_json::from_str::<Probe>(line).is_ok_and(|probe| probe.action.is_some())
}

/// Whether a line is the start of a resumed segment.
fn is_resumed(line: &str) -> bool {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(rename = "type")]
        kind: String,
    }
    serde_json::from_str::<Probe>(line).is_ok_and(|probe| probe.kind == "resumed")
}

/// The lines of a journal, each at most [`MAX_LINE_BYTES`], with whether it ended with a
/// newline.
fn lines(path: &Path) -> Result<Vec<(String, bool)>, JournalError> {
    let file = input::open(path, Kind::Journal)?;
    let read_error = |source| JournalError::Read {
        path: path.to_owned(),
        source,
    };
    let corrupt = |reason: String| JournalError::Corrupt {
        path: path.to_owned(),
        reason,
    };
    let mut reader = BufReader::new(file.take(Kind::Journal.limit()));
    let mut lines = Vec::new();
    loop {
        let mut bytes = Vec::new();
        let max = u64::try_from(MAX_LINE_BYTES).unwrap_or(u64::MAX) + 1;
        (&mut reader)
            .take(max)
            .read_until(b'\n', &mut bytes)
            .map_err(read_error)?;
        if bytes.is_empty() {
            return Ok(lines);
        }
        let complete = bytes.last() == Some(&b'\n');
        if !complete && bytes.len() > MAX_LINE_BYTES {
            return Err(corrupt(format!(
                "line {} is longer than {} MiB, more than any journal line quiesce writes",
                lines.len() + 1,
                MAX_LINE_BYTES / (1024 * 1024)
            )));
        }
        let text = String::from_utf8(bytes).map_err(|_| {
            corrupt(format!(
                "line {} is not UTF-8 text, as every journal line is",
                lines.len() + 1
            ))
        })?;
        lines.push((text, complete));
    }
}

/// Reads the journal of a run: [`parse_journal`], and its header must name the run the file
/// is named after.
pub(crate) fn read(path: &Path) -> Result<RunLog, JournalError> {
    let log = parse_journal(path)?;
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
    if stem.as_deref() != Some(log.header.run_id.as_str()) {
        return Err(JournalError::Corrupt {
            path: path.to_owned(),
            reason: format!(
                "its header names run `{}`, but a journal is named after its run: the file was renamed or its header edited",
                log.header.run_id
            ),
        });
    }
    Ok(log)
}

/// Reads a journal, whatever its file is called (the fixtures of earlier formats are named for
/// what they show).
pub(crate) fn parse_journal(path: &Path) -> Result<RunLog, JournalError> {
    let corrupt = |reason: String| JournalError::Corrupt {
        path: path.to_owned(),
        reason,
    };
    let readable = |version: u32, line: usize| {
        if (1..=JOURNAL_FORMAT_VERSION).contains(&version) {
            Ok(version)
        } else {
            Err(corrupt(format!(
                "line {line}: journal format {version} (this quiesce reads formats 1 to {JOURNAL_FORMAT_VERSION})"
            )))
        }
    };
    let lines = lines(path)?;
    let mut header: Option<Header> = None;
    let mut segments: Vec<Segment> = Vec::new();
    let mut version = JOURNAL_FORMAT_VERSION;
    let mut torn_tail = false;
    // Lines read, torn ones left out: the sequence number a format 3 line must carry.
    let mut records: u64 = 0;
    for (index, (raw, complete)) in lines.iter().enumerate() {
        let number = index + 1;
        let line = raw.trim_end();
        if line.is_empty() {
            continue;
        }
        let parsed = match parse(line, version) {
            Ok(parsed) => parsed,
            // A fragment left by a crash: the last line, or a line a later resume ended.
            Err(err)
                if matches!(err.classify(), Category::Eof | Category::Syntax)
                    && (number == lines.len()
                        || !complete
                        || lines[index + 1..]
                            .iter()
                            .find(|(next, _)| !next.trim().is_empty())
                            .is_some_and(|(next, _)| is_resumed(next))) =>
            {
                torn_tail = true;
                continue;
            }
            Err(err) => return Err(corrupt(format!("line {number}: {err}"))),
        };
        // The format this line is written in: a header or a resumed line says its own.
        let format = match &parsed.line {
            Line::Header(parsed) => readable(parsed.version, number)?,
            Line::Resumed { version, .. } => readable(*version, number)?,
            Line::Event(_) => version,
        };
        match (parsed.seq, format >= NUMBERED_SINCE) {
            (Some(seq), true) if seq == records => {}
            (Some(seq), true) => {
                return Err(corrupt(if seq > records {
                    format!(
                        "line {number} is number {seq} of the journal, but {records} line(s) come before it: {} line(s) are missing (deleted?)",
                        seq - records
                    )
                } else {
                    format!(
                        "line {number} is number {seq} of the journal, but {records} line(s) come before it: lines were repeated or reordered"
                    )
                }));
            }
            (None, true) => {
                return Err(corrupt(format!(
                    "line {number} has no sequence number, which every line of format {format} carries: it was edited, or the format version was changed"
                )));
            }
            (Some(_), false) => {
                return Err(corrupt(format!(
                    "line {number} carries a sequence number, which format {format} does not have: the format version was changed (the lines are format {NUMBERED_SINCE} or later)"
                )));
            }
            (None, false) => {}
        }
        if format == 1 && matches!(parsed.line, Line::Event(_)) && names_an_action(line) {
            return Err(corrupt(format!(
                "line {number} is an event of format 2 or later, but the journal says format 1: the format version was changed"
            )));
        }
        records += 1;
        match parsed.line {
            Line::Header(parsed) if header.is_none() => {
                version = parsed.version;
                segments.push(Segment {
                    plan: parsed.plan.clone(),
                    started_at: parsed.started_at,
                    events: Vec::new(),
                });
                header = Some(*parsed);
            }
            Line::Header(_) => {
                return Err(corrupt(format!("line {number}: a second header")));
            }
            Line::Resumed {
                version: resumed,
                plan,
                at,
            } => {
                version = resumed;
                segments.push(Segment {
                    plan: *plan,
                    started_at: at,
                    events: Vec::new(),
                });
            }
            Line::Event(event) => match segments.last_mut() {
                Some(segment) => segment.events.push(event),
                None => return Err(corrupt("an event before the header".into())),
            },
        }
    }
    let header = header.ok_or_else(|| corrupt("no header line".into()))?;
    Ok(RunLog {
        path: path.to_owned(),
        header,
        segments,
        torn_tail,
        records,
    })
}

/// The numbered lines of a journal, exactly as written (a torn last line left out), for the
/// cluster mirror. Lines without a sequence number (formats 1 and 2) are left out: they have no
/// place in the mirror.
pub(crate) fn numbered_lines(path: &Path) -> Result<Vec<JournalLine>, JournalError> {
    #[derive(Deserialize)]
    struct Probe {
        seq: u64,
    }
    Ok(lines(path)?
        .into_iter()
        .filter(|(_, complete)| *complete)
        .filter_map(|(raw, _)| {
            let text = raw.trim_end().to_owned();
            let seq = serde_json::from_str::<Probe>(&text).ok()?.seq;
            Some(JournalLine { seq, text })
        })
        .collect())
}

/// The state directories to search when none is given: `./.quiesce` and `./*/.quiesce`.
fn default_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from(".quiesce")];
    if let Ok(entries) = std::fs::read_dir(".") {
        let mut nested: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path().join(".quiesce"))
            .filter(|p| p.is_dir())
            .collect();
        nested.sort();
        dirs.extend(nested);
    }
    dirs
}

/// Every journal in `state_dir` (or the default directories), oldest first.
pub(crate) fn list_runs(state_dir: Option<&Path>) -> Vec<PathBuf> {
    let dirs = state_dir.map_or_else(default_dirs, |d| vec![d.to_owned()]);
    let mut runs: Vec<PathBuf> = dirs
        .iter()
        .flat_map(|dir| {
            std::fs::read_dir(runs_dir(dir))
                .into_iter()
                .flatten()
                .flatten()
        })
        .map(|entry| entry.path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    runs.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    runs
}

/// The journal of `run_id`.
pub(crate) fn find_run(run_id: &str, state_dir: Option<&Path>) -> Result<PathBuf, JournalError> {
    list_runs(state_dir)
        .into_iter()
        .find(|p| p.file_stem().is_some_and(|s| s == run_id))
        .ok_or_else(|| JournalError::UnknownRun {
            run_id: run_id.to_owned(),
            searched: state_dir.map_or_else(
                || "./.quiesce and ./*/.quiesce".to_owned(),
                |d| format!("`{}`", d.display()),
            ),
        })
}
