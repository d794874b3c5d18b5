//! One human line per noteworthy event (`✓ #3 close job web-latency 1.2s`): plain output prints
//! them, and the live display prints them above its bars, where they stay in the scrollback.
//!
//! Owns which events make a line and how much each matters. Must never word a reason itself:
//! [`words`](super::words) does.

use crate::exec::{Event, EventKind, Success};

use super::labels::StepLabels;
use super::style::{Paint, attempts, human_duration};
use super::words;

/// The line for an event, or `None` for events that only move the bars (a step started or is
/// waiting, a last failed attempt that its end will report, the run's end, which the summary
/// covers).
pub(super) fn render(event: &Event, labels: &StepLabels, paint: Paint) -> Option<String> {
    let line = match &event.kind {
        EventKind::RunStarted {
            run_id,
            playbook,
            cluster,
            steps,
            concurrency,
            ..
        } =>
            paint.bold(&format!(
                "applying `{playbook}` to {cluster}: {steps} step(s), concurrency {concurrency} (run {run_id})"
            )),
        EventKind::StepStarted { .. }
        | EventKind::StepWaiting { .. }
        | EventKind::StepAttemptFailed { retry_in: None, .. }
        | EventKind::StepReadFailed { retry_in: None, .. }
        | EventKind::RunFinished { .. } => return None,
        EventKind::StepAttemptFailed {
            step,
            attempt,
            error,
            retry_in: Some(retry_in),
        } =>
            format!(
                "{} {}: {} — attempt {} in {}",
                paint.yellow("↻"),
                words::step_name(step),
                words::error(error),
                attempt + 1,
                human_duration(*retry_in)
            ),
        EventKind::StepHeld { step, held } => format!(
            "{} {}: waiting, {}",
            paint.yellow("⏸"),
            words::step_name(step),
            words::catching_up(held)
        ),
        EventKind::StepReadFailed {
            step,
            error,
            retry_in: Some(retry_in),
        } => format!(
            "{} {}: {} — reading again in {} (a read uses no attempt)",
            paint.yellow("↻"),
            words::step_name(step),
            words::read_failed(error),
            human_duration(*retry_in)
        ),
        EventKind::StepEscalated { step, escalation } =>
            format!(
                "{} {} escalated to force: {}",
                paint.yellow("⚠"),
                words::step_name(step),
                words::escalation(step, escalation)
            ),
        EventKind::StepSucceeded {
            step,
            outcome,
            attempts: count,
            duration,
        } => {
            let mut line = format!("{} {}", paint.green("✓"), words::step_name(step));
            if *outcome == Success::AlreadyInState {
                line.push_str(" already in state");
            }
            line.push(' ');
            line.push_str(&paint.dim(&human_duration(*duration)));
            if *count > 1 {
                line.push_str(&format!(" ({})", attempts(*count)));
            }
            line
        }
        EventKind::StepFailed {
            step,
            error,
            attempts: count,
            duration,
        } =>
            format!(
                "{} {}: {} ({}, {})",
                paint.red("✗"),
                words::step_name(step),
                words::error(error),
                attempts(*count),
                human_duration(*duration)
            ),
        EventKind::StepInterrupted {
            step,
            attempts: count,
            duration,
        } =>
            format!(
                "{} {} {} ({})",
                paint.yellow("■"),
                words::step_name(step),
                words::interrupted(*count),
                human_duration(*duration)
            ),
        EventKind::StepAbandoned {
            step,
            attempts: count,
            duration,
        } =>
            format!(
                "{} {} {} ({}, {})",
                paint.yellow("■"),
                words::step_name(step),
                words::ABANDONED,
                attempts(*count),
                human_duration(*duration)
            ),
        EventKind::StepSkipped { step, reason } =>
            paint.dim(&format!(
                "- {} skipped: {}",
                words::step_name(step),
                words::skip(*reason, labels)
            )),
        EventKind::RunCancelling { reason } =>
            format!("{} {}", paint.yellow("■"), words::cancelled(*reason)),
        EventKind::VerifyStarted {
            jobs,
            datafeeds,
            timeout,
        } => paint.bold(&format!(
            "verifying the recovery: {jobs} job(s) assigned, {datafeeds} datafeed(s) making progress, within {}",
            words::setting(*timeout)
        )),
        EventKind::TargetVerified {
            resource,
            target,
            proof,
        } => format!(
            "{} {} {}",
            paint.green("✓"),
            words::resource(*resource, target),
            words::proof(proof)
        ),
        EventKind::TargetUnverified {
            resource,
            target,
            finding,
        } => format!(
            "{} {} not verified: {}",
            paint.red("✗"),
            words::resource(*resource, target),
            words::finding(finding)
        ),
        EventKind::VerifyFinished {
            verified,
            unverified,
            duration,
        } => {
            let text = format!(
                "recovery {}: {verified} verified, {unverified} not verified ({})",
                if *unverified == 0 { "verified" } else { "NOT verified" },
                human_duration(*duration)
            );
            if *unverified == 0 {
                paint.bold(&text)
            } else {
                paint.red(&text)
            }
        }
    };
    Some(line)
}
