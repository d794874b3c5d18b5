//! Why a seed file cannot be used: unreadable, not valid YAML for the seed's shape, or valid in
//! shape but inconsistent (duplicate ids, a datafeed for a missing job, …). Every problem of the
//! last kind is collected and reported together, each with a label on the YAML.

use std::path::PathBuf;
use std::sync::Arc;

use miette::{Diagnostic, NamedSource, SourceSpan};
use thiserror::Error;

use crate::faults::FaultError;

/// A seed that cannot be used.
#[derive(Debug, Error, Diagnostic)]
pub enum SeedError {
    #[error("cannot read seed file `{}`", path.display())]
    #[diagnostic(
        code(quiesce::sim::seed::read),
        help("Check that the path given to `--seed` exists and is readable.")
    )]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("seed file `{}` is larger than {} MiB", path.display(), limit / (1024 * 1024))]
    #[diagnostic(
        code(quiesce::sim::seed::too_large),
        help(
            "Check that `--seed` names a seed file, not a data file or a device; large \
             clusters are generated from a few lines (`generate:` in the seed format)."
        )
    )]
    TooLarge { path: PathBuf, limit: u64 },

    #[error("invalid seed: {message}")]
    #[diagnostic(
        code(quiesce::sim::seed::parse),
        help(
            "Compare the seed with the format in the README's simulator section, or let an \
             editor check it against schemas/sim-seed.schema.json."
        )
    )]
    Parse {
        message: String,
        #[source_code]
        src: NamedSource<Arc<str>>,
        #[label("here")]
        span: Option<SourceSpan>,
    },

    #[error("seed has {} problem(s)", problems.len())]
    #[diagnostic(code(quiesce::sim::seed::invalid))]
    Invalid {
        #[source_code]
        src: NamedSource<Arc<str>>,
        #[related]
        problems: Vec<SeedProblem>,
    },
}

/// One inconsistency in a seed.
#[derive(Debug, Error, Diagnostic)]
pub enum SeedProblem {
    #[error("{kind} `{id}` is defined twice")]
    #[diagnostic(
        code(quiesce::sim::seed::duplicate_id),
        help("Ids are unique per kind; rename or remove one of them (generated ids count too).")
    )]
    DuplicateId {
        kind: &'static str,
        id: String,
        #[label("first defined here")]
        first: Option<SourceSpan>,
        #[label(primary, "defined again here")]
        again: Option<SourceSpan>,
    },

    #[error("invalid {kind} `{id}`: {rule}")]
    #[diagnostic(
        code(quiesce::sim::seed::invalid_id),
        help(
            "Elasticsearch ids contain lowercase alphanumerics (a-z and 0-9), hyphens or \
             underscores, start and end with an alphanumeric and have at most 64 characters."
        )
    )]
    InvalidId {
        kind: &'static str,
        id: String,
        rule: &'static str,
        #[label("this id")]
        span: Option<SourceSpan>,
    },

    #[error("datafeed `{datafeed}` is for job `{job}`, which the seed does not define")]
    #[diagnostic(
        code(quiesce::sim::seed::unknown_job),
        help("Add the job under `jobs:` or fix the datafeed's `job:`.")
    )]
    UnknownJob {
        datafeed: String,
        job: String,
        #[label("no such job")]
        span: Option<SourceSpan>,
    },

    #[error("job `{job}` has two datafeeds, `{first}` and `{second}`")]
    #[diagnostic(
        code(quiesce::sim::seed::second_datafeed),
        help("Elasticsearch allows one datafeed per job; remove one of them.")
    )]
    SecondDatafeed {
        job: String,
        first: String,
        second: String,
        #[label("second datafeed for this job")]
        span: Option<SourceSpan>,
    },

    #[error("datafeed `{datafeed}` is started but its job `{job}` is {state}")]
    #[diagnostic(
        code(quiesce::sim::seed::datafeed_job_not_opened),
        help(
            "A started datafeed needs an opened job: set the job's `state: opened` or the datafeed's `state: stopped`."
        )
    )]
    StartedWithoutOpenJob {
        datafeed: String,
        job: String,
        state: &'static str,
        #[label("started here")]
        span: Option<SourceSpan>,
    },

    #[error("group `{group}` of job `{job}` is also a job id")]
    #[diagnostic(
        code(quiesce::sim::seed::group_is_job),
        help("Elasticsearch refuses a group named like a job; rename the group or the job.")
    )]
    GroupIsJob {
        job: String,
        group: String,
        #[label("this job")]
        span: Option<SourceSpan>,
    },

    #[error(
        "the seed opens {opened} job(s) needing {needed} of model memory, but {nodes} ML \
         node(s) of {memory} hold only {placed} of them: job `{job}` ({limit}) does not fit"
    )]
    #[diagnostic(
        code(quiesce::sim::seed::over_capacity),
        help(
            "Elasticsearch assigns an open job only to a node with room for its \
             `model_memory_limit`; add nodes (`nodes.count`), give them more memory \
             (`nodes.memory`), lower `model_memory_limit` or open fewer jobs."
        )
    )]
    OverCapacity {
        opened: usize,
        placed: usize,
        needed: String,
        nodes: usize,
        memory: String,
        job: String,
        limit: String,
    },

    #[error("event `{description}` of calendar `{calendar}` does not start before it ends")]
    #[diagnostic(
        code(quiesce::sim::seed::event_order),
        help(
            "Elasticsearch refuses an event whose `start_time` is not before its `end_time`; \
             swap or fix them."
        )
    )]
    EventOrder {
        calendar: String,
        description: String,
        #[label("starts here")]
        span: Option<SourceSpan>,
    },

    #[error("{kind} `{name}` is defined twice")]
    #[diagnostic(
        code(quiesce::sim::seed::duplicate_credential),
        help("Each username and each API key id may appear once under `security:`.")
    )]
    DuplicateCredential { kind: &'static str, name: String },

    #[error("`{field}`: {message}")]
    #[diagnostic(code(quiesce::sim::seed::value), help("{help}"))]
    Value {
        field: &'static str,
        message: String,
        help: &'static str,
    },

    #[error(transparent)]
    #[diagnostic(transparent)]
    Fault(#[from] FaultError),
}

impl SeedProblem {
    /// Where the problem is, for sorting (problems without a position go last).
    pub(super) fn offset(&self) -> usize {
        let span = match self {
            SeedProblem::DuplicateId { again, .. } => *again,
            SeedProblem::InvalidId { span, .. }
            | SeedProblem::UnknownJob { span, .. }
            | SeedProblem::SecondDatafeed { span, .. }
            | SeedProblem::StartedWithoutOpenJob { span, .. }
            | SeedProblem::GroupIsJob { span, .. }
            | SeedProblem::EventOrder { span, .. } => *span,
            SeedProblem::DuplicateCredential { .. }
            | SeedProblem::OverCapacity { .. }
            | SeedProblem::Value { .. }
            | SeedProblem::Fault(_) => None,
        };
        span.map_or(usize::MAX, |span| span.offset())
    }
}
