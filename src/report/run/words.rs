//! The words for what events say as data: how a step is named, why it failed, why it escalated,
//! why it was skipped, how the run was cancelled. The executor only records the facts; every
//! sentence a person reads about a run is made here.
//!
//! Owns the phrasing (lowercase fragments, identifiers in backticks). Must never decide anything
//! about the run, and never be needed by the JSON form, which carries the facts themselves.

use std::time::Duration;

use crate::exec::{
    Behind, CancelReason, CatchingUp, EsAnswer, Escalation, Finding, Observation, Proof, Resource,
    SkipReason, StepError, StepRef,
};
use crate::plan::Action;

use super::labels::StepLabels;
use super::style::attempts;

/// `#7 close job web-latency`.
pub(in crate::report) fn step_name(step: &StepRef) -> String {
    format!("#{} {} {}", step.no, step.action.verb(), step.target)
}

/// A duration as a setting is written: `30m`, `10s`, `1500ms`.
pub(in crate::report) fn setting(duration: Duration) -> String {
    let ms = duration.as_millis();
    match ms {
        0 => "0s".to_owned(),
        _ if ms.is_multiple_of(3_600_000) => format!("{}h", ms / 3_600_000),
        _ if ms.is_multiple_of(60_000) => format!("{}m", ms / 60_000),
        _ if ms.is_multiple_of(1_000) => format!("{}s", ms / 1_000),
        _ => format!("{ms}ms"),
    }
}

/// `503 master_not_discovered_exception: no master (caused by: …)`.
fn answer(answer: &EsAnswer) -> String {
    let mut text = format!("{} ", answer.status);
    if !answer.error_type.is_empty() {
        text.push_str(&answer.error_type);
        text.push_str(": ");
    }
    text.push_str(&answer.reason);
    if let Some(cause) = &answer.caused_by {
        text.push_str(&format!(" (caused by: {cause})"));
    }
    text
}

/// A millisecond time as RFC 3339.
fn instant(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| format!("{ms} ms"), |t| t.to_string())
}

/// ``datafeed `df` has not analysed past the maintenance yet (…)``: which datafeed holds the
/// removal of the maintenance event back, and what its `running_state` shows.
pub(in crate::report) fn catching_up(held: &CatchingUp) -> String {
    let shows = match held.behind {
        Behind::Lookback => "running_state.real_time_running: false, its lookback is not over".to_owned(),
        Behind::NoSearch => "running in real time, no successful search yet: no running_state.search_interval, its searches may be failing".to_owned(),
        Behind::SearchedTo { end_ms } => format!(
            "running_state.search_interval ends at {}",
            instant(end_ms)
        ),
    };
    format!(
        "datafeed `{}` has not analysed up to {} yet ({shows})",
        held.datafeed,
        instant(held.until_ms)
    )
}

/// Where stats placed the target: ``on node `ml-1` `` or ``on no node; assignment_explanation: …``.
fn placement(observed: &Observation) -> String {
    let mut text = match &observed.node {
        Some(node) => format!("on node `{node}`"),
        None => "on no node".to_owned(),
    };
    if let Some(explanation) = &observed.assignment_explanation {
        text.push_str(&format!("; assignment_explanation: {explanation}"));
    }
    text
}

/// What went wrong, after the step's name.
pub(in crate::report) fn error(failure: &StepError) -> String {
    match failure {
        StepError::Elasticsearch(es) => answer(es),
        StepError::ForceNotAllowed(es) => format!(
            "{}; the job is failed and only a forced close works: `settings.force: after_timeout` allows it",
            answer(es)
        ),
        StepError::Connection { reason } | StepError::Client { reason } => reason.clone(),
        StepError::NoAnswer { endpoint, after } => {
            format!("`{endpoint}` got no answer within {}", setting(*after))
        }
        StepError::StepTimeout {
            timeout,
            observed: Some(observed),
        } => format!(
            "still {} after the step timeout ({}), {}",
            observed.state.as_str(),
            setting(*timeout),
            placement(observed)
        ),
        StepError::StepTimeout {
            timeout,
            observed: None,
        } => format!(
            "no read of its state answered within the step timeout ({})",
            setting(*timeout)
        ),
        StepError::Unconfirmed { reads, cause } => format!(
            "its state could not be read ({} in a row failed, the last: {}), so whether it got there is not known",
            plural(*reads, "read"),
            error(cause)
        ),
        StepError::JobFailed { observed } => format!(
            "the job is failed, {}: only a close with force moves it, which persists no model snapshot; look into why it failed, close it with force, then open it",
            placement(observed)
        ),
        StepError::Gone => "no longer in stats: deleted meanwhile".to_owned(),
        StepError::StillCatchingUp { timeout, held } => format!(
            "{} after the step timeout ({}); the maintenance event was not removed and stays on the calendar (it only covers the maintenance window): once the datafeed has caught up, `quiesce resume` of this run removes it",
            catching_up(held),
            setting(*timeout)
        ),
        StepError::Internal { reason } => format!(
            "this is a bug in quiesce, please report it: the step's task ended abnormally ({reason})"
        ),
    }
}

/// A read of the state that failed, after the step's name.
pub(super) fn read_failed(cause: &StepError) -> String {
    format!("could not read its state: {}", error(cause))
}

/// `1 read`, `3 reads`.
fn plural(count: u32, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// Why the step went on with `force=true`, and what that costs.
pub(in crate::report) fn escalation(step: &StepRef, escalation: &Escalation) -> String {
    match escalation {
        Escalation::FailedJob => format!(
            "job `{}` is failed: closing with force=true, which skips the flush, the final results and the model snapshot",
            step.target
        ),
        Escalation::AfterTimeout { state, timeout } => {
            let cost = match step.action {
                Action::CloseJob => {
                    "force skips the flush, the final results and the model snapshot; the job will reopen from its previous snapshot"
                }
                _ => "force removes the datafeed task without waiting for the search in flight",
            };
            format!(
                "`{}` still {} after the step timeout ({}); retrying with force=true: {cost}",
                step.target,
                state.as_str(),
                setting(*timeout)
            )
        }
    }
}

/// Why the step never started.
pub(in crate::report) fn skip(reason: SkipReason, labels: &StepLabels) -> String {
    match reason {
        SkipReason::DependencyFailed { step } => {
            format!("needs {}, which failed", labels.name(step))
        }
        SkipReason::Stopped { step } => {
            format!("not started: the run stopped after #{step} failed (`on_failure: stop`)")
        }
        SkipReason::Interrupted => "not started: the run was interrupted".to_owned(),
        SkipReason::NeverReady => {
            "not started: its dependencies never all succeeded (a cycle in an edited plan file?)"
                .to_owned()
        }
    }
}

/// How an interrupted step was left, after its name.
pub(super) fn interrupted(count: u32) -> String {
    match count {
        0 => "interrupted before its first request".to_owned(),
        n => format!("interrupted after {}: no new request", attempts(n)),
    }
}

/// How an abandoned step was left, after its name.
pub(in crate::report) const ABANDONED: &str =
    "abandoned in flight by a second interrupt: the cluster may still carry out the request";

pub(super) fn cancelled(reason: CancelReason) -> &'static str {
    match reason {
        CancelReason::StepFailed => {
            "a step failed and `on_failure` is `stop`: starting nothing new, in-flight steps finish"
        }
        CancelReason::Interrupted => {
            "interrupted: starting nothing new, in-flight steps finish (interrupt again to abandon them)"
        }
        CancelReason::Abandoned => "interrupted again: abandoning the requests and waits in flight",
        CancelReason::LeaseLost => {
            "lease lost: another runner holds the cluster now; starting nothing new, in-flight steps finish"
        }
    }
}

/// ``datafeed `datafeed-web` ``.
pub(in crate::report) fn resource(resource: Resource, target: &str) -> String {
    format!("{} `{target}`", resource.as_str())
}

/// Why a target counts as working again.
pub(in crate::report) fn proof(proof: &Proof) -> String {
    match proof {
        Proof::Assigned { node } => format!("opened on node `{node}`"),
        Proof::Searched { end_ms } => format!(
            "running in real time: searched up to {} since it was started",
            epoch_ms(*end_ms)
        ),
        Proof::SearchAdvanced { from_ms, to_ms } => match from_ms {
            Some(from) => format!(
                "running in real time: searched up to {} (was {})",
                epoch_ms(*to_ms),
                epoch_ms(*from)
            ),
            None => format!("running in real time: searched up to {}", epoch_ms(*to_ms)),
        },
        Proof::SearchCountAdvanced { from, to } => {
            format!("running in real time: search_count {from} -> {to}")
        }
        Proof::RecordsAdvanced { from, to } => {
            format!("running in real time: its job processed records {from} -> {to}")
        }
        Proof::Lookback => "runs a lookback with an end: nothing to prove in real time".to_owned(),
    }
}

/// What stats showed of a target that did not prove it works.
pub(in crate::report) fn finding(finding: &Finding) -> String {
    match finding {
        Finding::NotInState { observed } => {
            format!("{}, {}", observed.state.as_str(), placement(observed))
        }
        Finding::Unassigned { observed } => format!("opened but {}", placement(observed)),
        Finding::NotRunning { observed } => format!(
            "started but not running in real time, {}",
            placement(observed)
        ),
        Finding::NoProgress {
            observed,
            search_count,
            last_search_end_ms,
            processed_records,
            watched,
        } => {
            let mut text = format!(
                "started and running {}, but made no progress in {}: ",
                placement(observed),
                super::style::human_duration(*watched)
            );
            match last_search_end_ms {
                Some(end) => text.push_str(&format!(
                    "its last successful search ended at {}",
                    epoch_ms(*end)
                )),
                None => text.push_str("no successful search since it was started"),
            }
            text.push_str(&format!(", search_count {search_count}"));
            if let Some(records) = processed_records {
                text.push_str(&format!(", its job's processed records {records}"));
            }
            text.push_str(
                "; its searches are failing: the job's messages (notifications) give the error",
            );
            text
        }
        Finding::Gone => "no longer in stats: deleted meanwhile".to_owned(),
        Finding::Unread { error: cause } => {
            format!("its stats could not be read: {}", error(cause))
        }
    }
}

/// Epoch milliseconds as RFC 3339 UTC, whole seconds.
fn epoch_ms(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(
        |_| format!("{ms} ms"),
        |t| t.round(jiff::Unit::Second).unwrap_or(t).to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_read_as_written() {
        assert_eq!(setting(Duration::from_secs(1800)), "30m");
        assert_eq!(setting(Duration::from_secs(7200)), "2h");
        assert_eq!(setting(Duration::from_secs(90)), "90s");
        assert_eq!(setting(Duration::from_millis(1500)), "1500ms");
        assert_eq!(setting(Duration::ZERO), "0s");
    }
}
