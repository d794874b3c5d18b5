//! Stage 1: playbook text -> spanned raw tree.
//!
//! Takes the bytes of a playbook file and gives a [`RawPlaybook`] that mirrors the file format
//! one to one, with the byte span of every value a later diagnostic may point at. The raw types
//! ARE the format: the JSON Schema is generated from them. This stage never touches the network,
//! never reads the environment on its own (variable expansion takes a lookup function) and never
//! judges meaning: that is [`crate::model`]'s job.

mod env;
mod keywords;
mod parse;
mod problem;
mod raw;
mod schema;
mod source;
mod sp;
mod write;

pub(crate) use env::is_single_reference;
pub use env::{ExpandError, expand};
pub use keywords::{
    DatafeedState, Direction, ForcePolicy, JobState, Keyword, OnFailure, UpgradeMode,
};
pub(crate) use parse::did_you_mean;
pub use parse::{Parsed, parse};
pub use problem::{InvalidPlaybook, Problem, ProblemInSource};
pub use raw::{
    DurationText, RawCluster, RawDatafeed, RawJob, RawPlaybook, RawRetry, RawSettings, SecretText,
};
pub use schema::playbook_schema;
pub use source::{Location, Source};
pub use sp::Sp;
pub use write::{DatafeedEntry, JobEntry, PlaybookWriter, Text};
