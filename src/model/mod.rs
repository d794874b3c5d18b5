//! Stage 2: the validated playbook, with no I/O.
//!
//! Takes the raw tree of [`crate::playbook`] and gives a [`Playbook`] whose ids, selectors,
//! states, durations, references and secrets have all been checked, or every
//! [`Problem`](crate::playbook::Problem) found, sorted by position. Environment variables come
//! through a lookup passed in; nothing here reads files, the environment or the network.
//! Each target keeps the [`Location`](crate::playbook::Location) it was written at, so plan,
//! exec and report can point back at the line.

mod after;
mod config;
mod duration;
mod id;
mod playbook;
mod validate;
mod version;

pub(crate) use crate::playbook::{
    DatafeedState, Direction, ForcePolicy, JobState, Keyword, OldSnapshots, OnFailure, UpgradeMode,
};
pub(crate) use duration::{parse_duration, words as duration_words};
pub(crate) use id::{DatafeedId, JobId, Pattern, Selector};
pub use playbook::Playbook;
pub(crate) use playbook::{
    Auth, ClusterKey, MaintenanceWork, RetryPolicy, Settings, TargetRef, Unresolved, UpgradeTarget,
    Window,
};
pub(crate) use validate::{EnvLookup, validate};
pub(crate) use version::EsVersion;

use crate::playbook::{InvalidPlaybook, Source, parse};

/// Reads and checks a playbook whose text is already in memory: parse, then validate, with
/// the problems of both stages reported together.
pub fn load(source: &Source, env: EnvLookup<'_>) -> Result<Playbook, InvalidPlaybook> {
    let parsed = parse(source);
    let mut problems = parsed.problems;
    if let Some(raw) = parsed.raw {
        match validate(&raw, source, env) {
            Ok(playbook) if problems.is_empty() => return Ok(playbook),
            Ok(_) => {}
            Err(more) => problems.extend(more),
        }
    }
    Err(InvalidPlaybook::new(source, problems))
}

#[cfg(test)]
mod tests;
