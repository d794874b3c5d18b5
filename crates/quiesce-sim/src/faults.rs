//! Fault injection (crates/quiesce-sim/README.md "Fault rules"): rules from the seed or `PUT /_sim/faults` that
//! make chosen calls fail, slow down, lose their connection or get stuck.
//!
//! Takes the rules and a seed for the random draws; answers, per call, which effect (if any)
//! applies. It never touches the cluster: the caller applies the effect (after security, before
//! the operation). Draws come from a seeded `SmallRng`, so a run is reproducible.

use std::time::Duration;

use miette::Diagnostic;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use thiserror::Error;

use super::EsError;
use crate::cluster::Stalls;

/// The operations a rule can target (`"*"` = any of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    StopDatafeed,
    CloseJob,
    OpenJob,
    StartDatafeed,
    JobStats,
    DatafeedStats,
    SetUpgradeMode,
    /// `PUT|POST /<index>/_doc[/<id>]`, `/<index>/_create/<id>` (target: the index).
    Index,
    /// `POST [/<index>]/_bulk` (target: the path's index, if any).
    Bulk,
    /// `[/<index>]/_search` (target: the path's index expression).
    Search,
    /// `GET /<index>/_doc/<id>`.
    GetDoc,
    /// `DELETE /<index>/_doc/<id>`.
    DeleteDoc,
    /// `[/<index>]/_refresh`.
    Refresh,
    /// `PUT /<index>`.
    CreateIndex,
    /// `GET|HEAD /<index>`.
    GetIndex,
    /// `POST /_ml/anomaly_detectors/<job>/model_snapshots/<snapshot>/_upgrade` (target: the job).
    UpgradeJobSnapshot,
    /// No call: the searches a started datafeed runs by itself (target: the datafeed); the only
    /// effect is `stall`.
    DatafeedProgress,
    /// Every operation above.
    #[serde(rename = "*")]
    Any,
}

impl Operation {
    /// The contract's name (`close_job`, `*`, …).
    pub fn name(self) -> &'static str {
        match self {
            Operation::StopDatafeed => "stop_datafeed",
            Operation::CloseJob => "close_job",
            Operation::OpenJob => "open_job",
            Operation::StartDatafeed => "start_datafeed",
            Operation::JobStats => "job_stats",
            Operation::DatafeedStats => "datafeed_stats",
            Operation::SetUpgradeMode => "set_upgrade_mode",
            Operation::Index => "index",
            Operation::Bulk => "bulk",
            Operation::Search => "search",
            Operation::GetDoc => "get_doc",
            Operation::DeleteDoc => "delete_doc",
            Operation::Refresh => "refresh",
            Operation::CreateIndex => "create_index",
            Operation::GetIndex => "get_index",
            Operation::UpgradeJobSnapshot => "upgrade_job_snapshot",
            Operation::DatafeedProgress => "datafeed_progress",
            Operation::Any => "*",
        }
    }
}

/// An error response to inject; `type` and `reason` default from the status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultErrorSpec {
    /// HTTP status, 400–599.
    pub status: u16,
    /// ES error type, e.g. `es_rejected_execution_exception`; default derived from `status`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    /// ES reason; default derived from `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One fault rule: which calls it matches, how often, and exactly one effect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// The operation it applies to; `"*"` for all.
    pub operation: Operation,
    /// Only calls whose path id expression, once expanded, includes this id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Only the next N matching calls; the rule is spent afterwards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    /// Fraction (0–1) of matching calls it fires on, drawn from the seeded RNG.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Effect: answer with this error and change nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<FaultErrorSpec>,
    /// Effect: answer normally, after this extra delay (`250ms`, `2s`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "jiff::fmt::serde::unsigned_duration::friendly::compact::optional"
    )]
    #[schemars(with = "Option<crate::seed::DurationText>")]
    pub delay: Option<Duration>,
    /// Effect: close the connection without any response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop: Option<bool>,
    /// Effect (`stop_datafeed`, `close_job`): the target stays `stopping`/`closing` until forced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stuck: Option<bool>,
    /// Effect (`datafeed_progress`): the datafeed's searches fail while the rule is in place; it
    /// stays `started` and its counters stop (no `times` or `rate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stall: Option<bool>,
}

/// What to do to one call.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FaultEffect {
    /// Answer with this error; the operation does not run.
    Error(EsError),
    /// Run the operation after this extra delay.
    Delay(Duration),
    /// Close the connection without a response; the operation does not run.
    Drop,
    /// Run the operation, but these ids never leave `stopping`/`closing` unless forced.
    Stuck { ids: Vec<String> },
}

/// A rule that cannot be used.
#[derive(Debug, Error, Diagnostic, PartialEq)]
pub enum FaultError {
    #[error("fault rule {index} has {count} effects")]
    #[diagnostic(
        code(quiesce::sim::faults::effect),
        help(
            "Give each rule exactly one of `error`, `delay`, `drop: true`, `stuck: true` or \
             `stall: true`."
        )
    )]
    Effects { index: usize, count: usize },

    #[error(
        "fault rule {index}: `stuck` applies to `stop_datafeed` or `close_job`, not `{operation}`"
    )]
    #[diagnostic(
        code(quiesce::sim::faults::stuck),
        help("Only a stop leaves a datafeed `stopping` and only a close leaves a job `closing`.")
    )]
    Stuck {
        index: usize,
        operation: &'static str,
    },

    #[error("fault rule {index}: `stall` is the effect of `datafeed_progress`, and its only one")]
    #[diagnostic(
        code(quiesce::sim::faults::stall),
        help(
            "Write `{{operation: datafeed_progress, target: <datafeed>, stall: true}}`: only a \
             datafeed's own searches can stall, and they are no call an error or a delay could hit."
        )
    )]
    Stall { index: usize },

    #[error(
        "fault rule {index}: a stall lasts while the rule is set; `times` and `rate` do not apply"
    )]
    #[diagnostic(
        code(quiesce::sim::faults::stall_limits),
        help("Remove `times`/`rate`; end the stall with `DELETE /_sim/faults` or a new rule set.")
    )]
    StallLimits { index: usize },

    #[error("fault rule {index}: `rate` must be between 0 and 1, not {rate}")]
    #[diagnostic(
        code(quiesce::sim::faults::rate),
        help("A rate is the fraction of matching calls the rule fires on, e.g. `rate: 0.3`.")
    )]
    Rate { index: usize, rate: f64 },

    #[error("fault rule {index}: error status {status} is not an HTTP error status")]
    #[diagnostic(
        code(quiesce::sim::faults::status),
        help("Use a status from 400 to 599, e.g. 429 or 503.")
    )]
    Status { index: usize, status: u16 },

    #[error("fault rule {index}: `{field}: false` is not an effect")]
    #[diagnostic(
        code(quiesce::sim::faults::false_effect),
        help("Remove the key, or set it to `true`.")
    )]
    FalseFlag { index: usize, field: &'static str },
}

impl FaultError {
    /// The 400 `PUT /_sim/faults` answers with.
    pub(crate) fn to_es_error(&self) -> EsError {
        EsError::new(400, "illegal_argument_exception", self.to_string())
    }
}

#[derive(Debug, Clone)]
struct ActiveRule {
    rule: FaultRule,
    remaining: Option<u32>,
    hits: u64,
}

/// The active rules and the RNG their rates draw from.
#[derive(Debug, Clone)]
pub(crate) struct Faults {
    rules: Vec<ActiveRule>,
    rng: SmallRng,
}

impl Faults {
    /// Validates the rules; `seed` makes every rate draw reproducible.
    pub(crate) fn new(rules: Vec<FaultRule>, seed: u64) -> Result<Faults, FaultError> {
        Ok(Faults {
            rules: validate(rules)?,
            rng: SmallRng::seed_from_u64(seed),
        })
    }

    /// Replaces every rule (`PUT /_sim/faults`); on error the old rules stay.
    pub(crate) fn replace(&mut self, rules: Vec<FaultRule>) -> Result<(), FaultError> {
        self.rules = validate(rules)?;
        Ok(())
    }

    /// Removes every rule (`DELETE /_sim/faults`).
    pub(crate) fn clear(&mut self) {
        self.rules.clear();
    }

    /// `{"faults":[{...rule, "remaining": n|null, "hits": n}]}` for `GET /_sim/faults`.
    pub(crate) fn list(&self) -> Value {
        let faults: Vec<Value> = self
            .rules
            .iter()
            .map(|active| {
                let mut value = serde_json::to_value(&active.rule).unwrap_or_else(|_| json!({}));
                value["remaining"] = json!(active.remaining);
                value["hits"] = json!(active.hits);
                value
            })
            .collect();
        json!({ "faults": faults })
    }

    /// The datafeeds the stall rules hold (`PUT /_sim/faults` hands them to the cluster).
    pub(crate) fn stalls(&self) -> Stalls {
        stalls(self.rules.iter().map(|active| &active.rule))
    }

    /// Decides the effect for one call to `op` whose path expanded to `targets`. The first
    /// matching live rule that fires wins; a rule with a `rate` that does not fire lets the
    /// next rule try.
    pub(crate) fn on_call(&mut self, op: Operation, targets: &[String]) -> Option<FaultEffect> {
        for active in &mut self.rules {
            let rule = &active.rule;
            if rule.operation != Operation::Any && rule.operation != op {
                continue;
            }
            if let Some(target) = &rule.target
                && !targets.iter().any(|id| id == target)
            {
                continue;
            }
            if active.remaining == Some(0) {
                continue;
            }
            if let Some(rate) = rule.rate
                && self.rng.random::<f64>() >= rate
            {
                continue;
            }
            if let Some(remaining) = &mut active.remaining {
                *remaining -= 1;
            }
            active.hits += 1;
            return Some(effect_of(&active.rule, targets));
        }
        None
    }
}

/// The datafeeds stall rules hold: every one for a rule without a `target`.
pub(crate) fn stalls<'a>(rules: impl IntoIterator<Item = &'a FaultRule>) -> Stalls {
    let mut stalls = Stalls::default();
    for rule in rules {
        if rule.stall == Some(true) {
            match &rule.target {
                Some(target) => {
                    stalls.ids.insert(target.clone());
                }
                None => stalls.all = true,
            }
        }
    }
    stalls
}

fn effect_of(rule: &FaultRule, targets: &[String]) -> FaultEffect {
    if let Some(error) = &rule.error {
        return FaultEffect::Error(injected_error(error));
    }
    if let Some(delay) = rule.delay {
        return FaultEffect::Delay(delay);
    }
    if rule.drop == Some(true) {
        return FaultEffect::Drop;
    }
    let ids = match &rule.target {
        Some(target) => vec![target.clone()],
        None => targets.to_vec(),
    };
    FaultEffect::Stuck { ids }
}

/// The error a rule injects. Defaults by status:
/// 429 `es_rejected_execution_exception` (what a full ES queue answers), 503
/// `master_not_discovered_exception`, 500 `exception`, 404 `resource_not_found_exception`,
/// 401/403 `security_exception`, 409 and other 4xx `status_exception`, 400
/// `illegal_argument_exception`, other 5xx `exception`. 502 and 504 without a `type` come back
/// flat (`{"error":"Bad Gateway","status":502}`), as a proxy in front of ES answers: ES itself
/// never sends them.
fn injected_error(spec: &FaultErrorSpec) -> EsError {
    let status = spec.status;
    if spec.error_type.is_none() && matches!(status, 502 | 504) {
        let phrase = if status == 502 {
            "Bad Gateway"
        } else {
            "Gateway Timeout"
        };
        return EsError::flat(
            status,
            spec.reason.clone().unwrap_or_else(|| phrase.to_owned()),
        );
    }
    let (default_type, default_reason) = match status {
        429 => ("es_rejected_execution_exception", "rejected execution"),
        503 => (
            "master_not_discovered_exception",
            "no master node discovered",
        ),
        500 => ("exception", "injected fault"),
        404 => ("resource_not_found_exception", "injected fault"),
        401 | 403 => ("security_exception", "injected fault"),
        400 => ("illegal_argument_exception", "injected fault"),
        _ if status < 500 => ("status_exception", "injected fault"),
        _ => ("exception", "injected fault"),
    };
    EsError::new(
        status,
        spec.error_type.as_deref().unwrap_or(default_type),
        spec.reason
            .clone()
            .unwrap_or_else(|| default_reason.to_owned()),
    )
}

fn validate(rules: Vec<FaultRule>) -> Result<Vec<ActiveRule>, FaultError> {
    for (index, rule) in rules.iter().enumerate() {
        for (field, flag) in [
            ("drop", rule.drop),
            ("stuck", rule.stuck),
            ("stall", rule.stall),
        ] {
            if flag == Some(false) {
                return Err(FaultError::FalseFlag { index, field });
            }
        }
        let count = usize::from(rule.error.is_some())
            + usize::from(rule.delay.is_some())
            + usize::from(rule.drop.is_some())
            + usize::from(rule.stuck.is_some())
            + usize::from(rule.stall.is_some());
        if count != 1 {
            return Err(FaultError::Effects { index, count });
        }
        if rule.stall.is_some() != (rule.operation == Operation::DatafeedProgress) {
            return Err(FaultError::Stall { index });
        }
        if rule.stall.is_some() && (rule.times.is_some() || rule.rate.is_some()) {
            return Err(FaultError::StallLimits { index });
        }
        if rule.stuck.is_some()
            && !matches!(
                rule.operation,
                Operation::StopDatafeed | Operation::CloseJob
            )
        {
            return Err(FaultError::Stuck {
                index,
                operation: rule.operation.name(),
            });
        }
        if let Some(rate) = rule.rate
            && !(0.0..=1.0).contains(&rate)
        {
            return Err(FaultError::Rate { index, rate });
        }
        if let Some(error) = &rule.error
            && !(400..=599).contains(&error.status)
        {
            return Err(FaultError::Status {
                index,
                status: error.status,
            });
        }
    }
    Ok(rules
        .into_iter()
        .map(|rule| ActiveRule {
            remaining: rule.times,
            rule,
            hits: 0,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(yaml: &str) -> FaultRule {
        serde_saphyr::from_str(yaml).expect("valid rule")
    }

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|id| (*id).to_owned()).collect()
    }

    #[test]
    fn times_limits_the_hits_then_the_rule_is_spent() {
        let rules = vec![rule(
            "{operation: close_job, times: 2, error: {status: 429}}",
        )];
        let mut faults = Faults::new(rules, 1).unwrap();
        for _ in 0..2 {
            let Some(FaultEffect::Error(error)) = faults.on_call(Operation::CloseJob, &ids(&["j"]))
            else {
                panic!("expected an error effect");
            };
            assert_eq!(error.status.as_u16(), 429);
            assert_eq!(error.error_type(), Some("es_rejected_execution_exception"));
        }
        assert_eq!(faults.on_call(Operation::CloseJob, &ids(&["j"])), None);
        assert_eq!(faults.list()["faults"][0]["remaining"], 0);
        assert_eq!(faults.list()["faults"][0]["hits"], 2);
    }

    #[test]
    fn operation_and_target_must_match() {
        let rules = vec![rule("{operation: stop_datafeed, target: df-a, drop: true}")];
        let mut faults = Faults::new(rules, 1).unwrap();
        assert_eq!(faults.on_call(Operation::CloseJob, &ids(&["df-a"])), None);
        assert_eq!(
            faults.on_call(Operation::StopDatafeed, &ids(&["df-b"])),
            None
        );
        assert_eq!(
            faults.on_call(Operation::StopDatafeed, &ids(&["df-a", "df-b"])),
            Some(FaultEffect::Drop)
        );
    }

    #[test]
    fn any_matches_every_operation() {
        let rules = vec![rule("{operation: '*', delay: 250ms}")];
        let mut faults = Faults::new(rules, 1).unwrap();
        assert_eq!(
            faults.on_call(Operation::JobStats, &[]),
            Some(FaultEffect::Delay(Duration::from_millis(250)))
        );
    }

    #[test]
    fn stuck_names_the_target_or_every_expanded_id() {
        let rules = vec![
            rule("{operation: close_job, target: j2, stuck: true, times: 1}"),
            rule("{operation: close_job, stuck: true}"),
        ];
        let mut faults = Faults::new(rules, 1).unwrap();
        assert_eq!(
            faults.on_call(Operation::CloseJob, &ids(&["j1", "j2"])),
            Some(FaultEffect::Stuck { ids: ids(&["j2"]) })
        );
        assert_eq!(
            faults.on_call(Operation::CloseJob, &ids(&["j1", "j2"])),
            Some(FaultEffect::Stuck {
                ids: ids(&["j1", "j2"])
            })
        );
    }

    #[test]
    fn rate_is_deterministic_for_a_seed_and_roughly_the_fraction() {
        let rules = vec![rule(
            "{operation: job_stats, rate: 0.3, error: {status: 503}}",
        )];
        let draw = |seed| {
            let mut faults = Faults::new(rules.clone(), seed).unwrap();
            (0..1000)
                .map(|_| faults.on_call(Operation::JobStats, &[]).is_some())
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        let fired = draw(7).iter().filter(|hit| **hit).count();
        assert!((220..380).contains(&fired), "fired {fired} of 1000");
    }

    #[test]
    fn rate_and_times_combine() {
        let rules = vec![rule(
            "{operation: open_job, rate: 0.5, times: 3, error: {status: 500}}",
        )];
        let mut faults = Faults::new(rules, 3).unwrap();
        let fired = (0..100)
            .filter(|_| faults.on_call(Operation::OpenJob, &[]).is_some())
            .count();
        assert_eq!(fired, 3);
    }

    #[test]
    fn default_error_bodies_by_status() {
        let error = injected_error(&FaultErrorSpec {
            status: 503,
            error_type: None,
            reason: None,
        });
        assert_eq!(error.error_type(), Some("master_not_discovered_exception"));
        let error = injected_error(&FaultErrorSpec {
            status: 502,
            error_type: None,
            reason: None,
        });
        assert_eq!(
            error.to_json(),
            json!({"error": "Bad Gateway", "status": 502})
        );
        let error = injected_error(&FaultErrorSpec {
            status: 409,
            error_type: Some("status_exception".to_owned()),
            reason: Some("custom".to_owned()),
        });
        assert_eq!(error.reason(), "custom");
        assert_eq!(error.status.as_u16(), 409);
    }

    #[test]
    fn rules_need_exactly_one_effect() {
        let none = rule("{operation: close_job}");
        assert_eq!(
            Faults::new(vec![none], 0).unwrap_err(),
            FaultError::Effects { index: 0, count: 0 }
        );
        let two = rule("{operation: close_job, drop: true, delay: 1s}");
        assert_eq!(
            Faults::new(vec![two], 0).unwrap_err(),
            FaultError::Effects { index: 0, count: 2 }
        );
    }

    #[test]
    fn invalid_rules_are_refused() {
        let stuck = rule("{operation: open_job, stuck: true}");
        assert!(matches!(
            Faults::new(vec![stuck], 0),
            Err(FaultError::Stuck { .. })
        ));
        let rate = rule("{operation: open_job, rate: 1.5, drop: true}");
        assert!(matches!(
            Faults::new(vec![rate], 0),
            Err(FaultError::Rate { .. })
        ));
        let status = rule("{operation: open_job, error: {status: 200}}");
        assert!(matches!(
            Faults::new(vec![status], 0),
            Err(FaultError::Status { .. })
        ));
        let off = rule("{operation: open_job, drop: false}");
        assert!(matches!(
            Faults::new(vec![off], 0),
            Err(FaultError::FalseFlag { .. })
        ));
    }

    #[test]
    fn stalls_belong_to_datafeed_progress_and_last() {
        for text in [
            "{operation: stop_datafeed, stall: true}",
            "{operation: datafeed_progress, error: {status: 500}}",
        ] {
            assert_eq!(
                Faults::new(vec![rule(text)], 0).unwrap_err(),
                FaultError::Stall { index: 0 },
                "{text}"
            );
        }
        let limited = rule("{operation: datafeed_progress, stall: true, times: 1}");
        assert_eq!(
            Faults::new(vec![limited], 0).unwrap_err(),
            FaultError::StallLimits { index: 0 }
        );
        let faults = Faults::new(
            vec![rule(
                "{operation: datafeed_progress, target: df-a, stall: true}",
            )],
            0,
        )
        .unwrap();
        let stalls = faults.stalls();
        assert!(!stalls.all && stalls.ids.contains("df-a"));
        let everything = Faults::new(vec![rule("{operation: datafeed_progress, stall: true}")], 0);
        assert!(everything.unwrap().stalls().all);
    }

    #[test]
    fn replace_keeps_old_rules_on_error_and_clear_empties() {
        let mut faults = Faults::new(vec![rule("{operation: open_job, drop: true}")], 0).unwrap();
        assert!(faults.replace(vec![rule("{operation: open_job}")]).is_err());
        assert_eq!(faults.list()["faults"].as_array().unwrap().len(), 1);
        faults.clear();
        assert_eq!(faults.list(), json!({"faults": []}));
    }

    #[test]
    fn rules_read_from_json_with_star_and_list_round_trips() {
        let rules: Vec<FaultRule> = serde_json::from_value(json!([
            {"operation": "*", "error": {"status": 429, "type": "es_rejected_execution_exception",
                                         "reason": "rejected execution"}},
            {"operation": "close_job", "delay": "2s"}
        ]))
        .unwrap();
        let faults = Faults::new(rules, 0).unwrap();
        let listed = faults.list();
        assert_eq!(listed["faults"][0]["operation"], "*");
        assert_eq!(listed["faults"][1]["delay"], "2s");
        assert_eq!(listed["faults"][0]["remaining"], Value::Null);
    }
}
