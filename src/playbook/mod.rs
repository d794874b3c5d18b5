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
pub(crate) use env::{ExpandError, expand};
pub(crate) use keywords::{
    DatafeedState, Direction, ForcePolicy, JobState, Keyword, OldSnapshots, OnFailure, UpgradeMode,
};
pub(crate) use parse::did_you_mean;
pub(crate) use parse::parse;
pub use problem::InvalidPlaybook;
pub(crate) use problem::Problem;
pub(crate) use raw::{
    RawCluster, RawDatafeed, RawJob, RawMaintenance, RawPlaybook, RawSettings, RawUpgrade,
    RawWindow,
};
pub(crate) use schema::playbook_schema;
pub(crate) use source::Location;
pub use source::Source;
pub(crate) use sp::Sp;
pub(crate) use write::{DatafeedEntry, JobEntry, MaintenanceEntry, PlaybookWriter, Text};
