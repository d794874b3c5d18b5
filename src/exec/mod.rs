//! Stage 4: execution. Runs a plan's steps against the cluster in dependency order, at most
//! `concurrency` at a time, with retries, timeouts and escalation; emits an [`Event`] for every
//! transition and never prints.
//!
//! Takes a [`PlanView`](crate::plan::PlanView) (made now, or saved by `plan -o`) and an
//! [`EsClient`](crate::es::EsClient); gives a [`RunOutcome`] and the event stream. Never decides
//! what to do beyond the plan: it only decides when, and how hard to try.

mod event;
mod retry;
mod scheduler;
mod step;

pub use event::{
    CancelReason, EVENT_FORMAT_VERSION, Event, EventKind, RunStats, StepError, StepNo, Success,
};
pub use retry::Backoff;
pub use scheduler::{Interrupts, RunOptions, RunOutcome, execute};
