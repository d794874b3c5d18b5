//! What the simulator observed, for `GET /_sim/stats`: requests per operation and status,
//! ordering violations, the first and last state change (crates/quiesce-sim/README.md "Control endpoints").

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::{Value, json};

/// A request that broke the stop-before-close / open-before-start order.
#[derive(Debug, Clone)]
pub(crate) struct Violation {
    pub(crate) operation: &'static str,
    pub(crate) job_id: String,
    pub(crate) datafeed_id: String,
    /// The datafeed state (close) or job state (start) at the time of the request.
    pub(crate) state_field: &'static str,
    pub(crate) state: &'static str,
    pub(crate) at_ms: i64,
}

/// Counters kept under the cluster lock.
#[derive(Debug, Default)]
pub(crate) struct Activity {
    requests: BTreeMap<&'static str, BTreeMap<u16, u64>>,
    violations: Vec<Violation>,
    first_change_ms: Option<i64>,
    last_change_ms: Option<i64>,
}

impl Activity {
    pub(crate) fn record_request(&mut self, operation: &'static str, status: u16) {
        *self
            .requests
            .entry(operation)
            .or_default()
            .entry(status)
            .or_default() += 1;
    }

    pub(crate) fn record_violation(&mut self, violation: Violation) {
        self.violations.push(violation);
    }

    /// Notes that a job or datafeed changed state now.
    pub(crate) fn state_changed(&mut self) {
        let now = now_ms();
        self.first_change_ms.get_or_insert(now);
        self.last_change_ms = Some(now);
    }

    /// The parts of the `/_sim/stats` body this type owns.
    pub(crate) fn to_json(&self) -> Value {
        let requests: serde_json::Map<String, Value> = self
            .requests
            .iter()
            .map(|(operation, by_status)| {
                let by_status: serde_json::Map<String, Value> = by_status
                    .iter()
                    .map(|(status, count)| (status.to_string(), json!(count)))
                    .collect();
                ((*operation).to_owned(), Value::Object(by_status))
            })
            .collect();
        let violations: Vec<Value> = self
            .violations
            .iter()
            .map(|v| {
                let mut entry = json!({
                    "operation": v.operation,
                    "job_id": v.job_id,
                    "datafeed_id": v.datafeed_id,
                    "at_ms": v.at_ms,
                });
                entry[v.state_field] = json!(v.state);
                entry
            })
            .collect();
        json!({
            "requests": requests,
            "ordering_violations": violations,
            "first_state_change_ms": self.first_change_ms,
            "last_state_change_ms": self.last_change_ms,
        })
    }
}

pub(super) fn now_ms() -> i64 {
    Timestamp::now().as_millisecond()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_requests_per_operation_and_status() {
        let mut activity = Activity::default();
        activity.record_request("close_job", 200);
        activity.record_request("close_job", 200);
        activity.record_request("close_job", 409);
        let body = activity.to_json();
        assert_eq!(body["requests"], json!({"close_job": {"200": 2, "409": 1}}));
        assert_eq!(body["first_state_change_ms"], Value::Null);
    }

    #[test]
    fn violations_name_the_state_they_saw() {
        let mut activity = Activity::default();
        activity.record_violation(Violation {
            operation: "close_job",
            job_id: "j1".into(),
            datafeed_id: "df-j1".into(),
            state_field: "datafeed_state",
            state: "started",
            at_ms: 7,
        });
        let body = activity.to_json();
        assert_eq!(
            body["ordering_violations"],
            json!([{"operation": "close_job", "job_id": "j1", "datafeed_id": "df-j1",
                    "datafeed_state": "started", "at_ms": 7}])
        );
    }
}
