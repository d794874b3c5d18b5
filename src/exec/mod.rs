//! Stage 4: execution. Runs a plan's steps against the cluster in dependency order, at most
//! `concurrency` at a time, with retries, timeouts and escalation; emits an [`Event`] for every
//! transition.
//!
//! Takes a [`PlanView`](crate::plan::PlanView) (made now, or saved by `plan -o`), a [`Cluster`]
//! (an [`EsClient`](crate::es::EsClient), or a fake in tests) and [`Interrupts`]; gives a
//! [`RunOutcome`] and the event stream. Must never print or word anything (events are data;
//! `report` chooses the words), and never decide what to do beyond the plan: only when, and how
//! hard to try.
//!
//! - [`scheduler`](execute): the one loop that owns the run state.
//! - `step`: one step's life (observe, request, confirm, retry, escalate, stop when told).
//! - [`Cluster`]: what a step needs of the cluster; `EsClient` implements it.
//! - [`Backoff`]: the retry schedule, as data.

mod cluster;
mod event;
mod interrupt;
mod latency;
mod maintenance;
mod ready;
mod retry;
mod scheduler;
mod sink;
mod step;
mod verdict;
mod window;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;

pub(crate) use cluster::RunCluster;
#[cfg(test)]
pub(crate) use event::TargetState;
pub(crate) use event::{
    Behind, CancelReason, CatchingUp, EVENT_FORMAT_VERSION, EsAnswer, Escalation, Event, EventKind,
    Observation, RunStats, SkipReason, StepError, StepNo, StepRef, Success,
};
pub(crate) use interrupt::Interrupts;
pub(crate) use retry::Backoff;
#[cfg(test)]
pub(crate) use scheduler::RunOutcome;
pub(crate) use scheduler::{RunOptions, execute};
pub(crate) use sink::EventSink;
pub(crate) use step::step_error;
pub(crate) use verdict::{Finding, Proof, Resource};
