//! Stage 4: execution. Runs a plan's steps against the cluster in dependency order, at most
//! `concurrency` at a time, with retries, timeouts and escalation; emits an [`Event`] for every
//! transition and never prints.

mod event;

pub use event::{
    CancelReason, EVENT_FORMAT_VERSION, Event, EventKind, RunStats, StepError, StepNo, Success,
};
