//! Creating and deleting jobs and datafeeds from their minimal bodies, with ES's defaults and
//! refusals (docs/elasticsearch-ml-api.md §2.10, §2.11, §2.13).

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::model::{Datafeed, DatafeedConfig, DatafeedState, Job, JobConfig, JobState};
use super::progress::{DataCounts, DatafeedProgress};
use super::{Cluster, State};
use crate::EsError;

const DEFAULT_MODEL_MEMORY_LIMIT: u64 = 1024 * 1024 * 1024;

const JOB_FIELDS: &[&str] = &[
    "job_id",
    "job_type",
    "description",
    "groups",
    "analysis_config",
    "analysis_limits",
    "data_description",
    "model_plot_config",
    "results_index_name",
    "allow_lazy_open",
    "model_snapshot_retention_days",
    "daily_model_snapshot_retention_after_days",
    "background_persist_interval",
    "renormalization_window_days",
    "results_retention_days",
    "custom_settings",
    "datafeed_config",
];

const DATAFEED_FIELDS: &[&str] = &[
    "datafeed_id",
    "job_id",
    "indices",
    "indexes",
    "query",
    "scroll_size",
    "query_delay",
    "frequency",
    "chunking_config",
    "delayed_data_check_config",
    "aggregations",
    "aggs",
    "script_fields",
    "runtime_mappings",
    "max_empty_searches",
    "indices_options",
];

impl Cluster {
    /// `PUT /_ml/anomaly_detectors/<id>`: the stored config with defaults filled in.
    pub(crate) fn put_job(&self, id: &str, body: &[u8]) -> Result<Value, EsError> {
        let body = parse_object(body, "job_details", JOB_FIELDS)?;
        check_id("job_id", id)?;
        check_body_id(&body, "job_id", id, "job_id")?;
        let config = job_config(&body)?;
        self.transition(|state, _| {
            if state.jobs.contains_key(id) {
                return Err(EsError::new(
                    400,
                    "resource_already_exists_exception",
                    format!(
                        "The job cannot be created with the Id '{id}'. The Id is already used."
                    ),
                ));
            }
            // Job ids and group names share one namespace (ES `JobManager.putJob`).
            let clash = if state.groups.contains(id) {
                Some(id)
            } else {
                config
                    .groups
                    .iter()
                    .map(String::as_str)
                    .find(|group| *group == id || state.jobs.contains_key(*group))
            };
            if let Some(name) = clash {
                return Err(EsError::new(
                    400,
                    "resource_already_exists_exception",
                    format!(
                        "job and group names must be unique but job [{name}] and group [{name}] \
                         have the same name"
                    ),
                ));
            }
            state.insert_job(new_job(id, config, 0));
            Ok(())
        })?;
        let mut listed = self.get_jobs(id, false, false)?;
        Ok(listed["jobs"][0].take())
    }

    /// `PUT /_ml/datafeeds/<id>`.
    pub(crate) fn put_datafeed(&self, id: &str, body: &[u8]) -> Result<Value, EsError> {
        let body = parse_object(body, "datafeed_config", DATAFEED_FIELDS)?;
        check_id("datafeed_id", id)?;
        check_body_id(&body, "datafeed_id", id, "datafeed_id")?;
        let job_id = body
            .get("job_id")
            .and_then(Value::as_str)
            .ok_or_else(|| validation("a job_id must be set"))?
            .to_owned();
        let indices: Vec<String> = body
            .get("indices")
            .or_else(|| body.get("indexes"))
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        if indices.is_empty() {
            return Err(validation("[indices] cannot be empty"));
        }
        let config = DatafeedConfig {
            job_id: job_id.clone(),
            indices,
            query: body
                .get("query")
                .cloned()
                .unwrap_or_else(|| json!({"match_all": {"boost": 1.0}})),
            scroll_size: body
                .get("scroll_size")
                .and_then(Value::as_u64)
                .unwrap_or(1000),
            query_delay: body
                .get("query_delay")
                .and_then(Value::as_str)
                .map(str::to_owned),
            frequency: body
                .get("frequency")
                .and_then(Value::as_str)
                .map(str::to_owned),
            max_empty_searches: body.get("max_empty_searches").and_then(Value::as_u64),
        };
        self.transition(|state, _| {
            if state.datafeeds.contains_key(id) {
                return Err(EsError::new(
                    400,
                    "resource_already_exists_exception",
                    format!("A datafeed with id [{id}] already exists"),
                ));
            }
            state.job(&job_id)?;
            if let Some(existing) = state.datafeed_of_job.get(&job_id) {
                return Err(EsError::conflict(format!(
                    "A datafeed [{existing}] already exists for job [{job_id}]"
                )));
            }
            state.insert_datafeed(new_datafeed(id, config));
            Ok(())
        })?;
        let mut listed = self.get_datafeeds(id, false, false)?;
        Ok(listed["datafeeds"][0].take())
    }

    /// `DELETE /_ml/anomaly_detectors/<id>`.
    pub(crate) fn delete_job(&self, id: &str, force: bool) -> Result<Value, EsError> {
        self.transition(|state, shared| {
            let job = state.job(id)?;
            if job.state.has_task() && !force {
                return Err(EsError::conflict(format!(
                    "Cannot delete job [{id}] because the job is {}",
                    job.state
                )));
            }
            if let Some(df) = state.datafeed_of_job.get(id).cloned() {
                if !force {
                    return Err(EsError::conflict(format!(
                        "Cannot delete job [{id}] because datafeed [{df}] refers to it"
                    )));
                }
                state.force_stop(shared, &df, false);
                state.remove_datafeed(&df);
            }
            if state.jobs[id].state.has_task() {
                state.remove_job_task(shared, id);
            }
            state.jobs.remove(id);
            state.calendars.remove_job(id);
            Ok(json!({"acknowledged": true}))
        })
    }

    /// `DELETE /_ml/datafeeds/<id>`.
    pub(crate) fn delete_datafeed(&self, id: &str, force: bool) -> Result<Value, EsError> {
        self.transition(|state, shared| {
            let df = state
                .datafeeds
                .get(id)
                .ok_or_else(|| EsError::unknown_datafeed(id))?;
            if df.state.has_task() {
                if !force {
                    return Err(EsError::conflict(format!(
                        "Cannot delete datafeed [{id}] while its status is {}",
                        df.state
                    )));
                }
                state.force_stop(shared, id, false);
            }
            state.remove_datafeed(id);
            Ok(json!({"acknowledged": true}))
        })
    }
}

impl State {
    pub(super) fn insert_datafeed(&mut self, datafeed: Datafeed) {
        self.datafeed_of_job
            .insert(datafeed.config.job_id.clone(), datafeed.id.clone());
        self.datafeeds.insert(datafeed.id.clone(), datafeed);
    }

    fn remove_datafeed(&mut self, id: &str) {
        if let Some(df) = self.datafeeds.remove(id) {
            self.datafeed_of_job.remove(&df.config.job_id);
        }
    }
}

pub(super) fn new_job(id: &str, config: JobConfig, model_bytes: u64) -> Job {
    Job {
        id: id.to_owned(),
        config,
        model_bytes,
        state: JobState::Closed,
        node: None,
        stale: false,
        explanation: None,
        opened_at: None,
        finished_time: None,
        snapshots: Vec::new(),
        model_snapshot_id: None,
        transition: None,
        data_counts: DataCounts::default(),
    }
}

pub(super) fn new_datafeed(id: &str, config: DatafeedConfig) -> Datafeed {
    Datafeed {
        id: id.to_owned(),
        config,
        state: DatafeedState::Stopped,
        end_ms: None,
        start_ready: false,
        progress: DatafeedProgress::default(),
        transition: None,
        searches: None,
    }
}

/// The config a seed job gets: one `count` detector, 15 minute buckets.
pub(super) fn seed_job_config(
    groups: Vec<String>,
    model_memory_limit: u64,
    lazy: bool,
) -> JobConfig {
    JobConfig {
        groups,
        description: None,
        bucket_span: "15m".to_owned(),
        detectors: vec![json!({
            "detector_description": "count", "function": "count", "detector_index": 0,
        })],
        influencers: Vec::new(),
        data_description: json!({"time_field": "timestamp", "time_format": "epoch_ms"}),
        model_memory_limit,
        allow_lazy_open: lazy,
        create_time: Timestamp::now(),
    }
}

fn job_config(body: &Map<String, Value>) -> Result<JobConfig, EsError> {
    let analysis = body
        .get("analysis_config")
        .and_then(Value::as_object)
        .ok_or_else(|| validation("An analysis_config must be set"))?;
    let data_description = body
        .get("data_description")
        .and_then(Value::as_object)
        .ok_or_else(|| validation("A data_description must be set"))?;
    let detectors = analysis
        .get("detectors")
        .and_then(Value::as_array)
        .filter(|list| !list.is_empty())
        .ok_or_else(|| validation("No detectors configured"))?;
    let detectors = detectors
        .iter()
        .enumerate()
        .map(|(index, detector)| {
            let mut detector = detector.clone();
            let function = detector
                .get("function")
                .and_then(Value::as_str)
                .ok_or_else(|| validation("Unknown function ''"))?
                .to_owned();
            if detector.get("detector_description").is_none() {
                let field = detector.get("field_name").and_then(Value::as_str);
                let description = match field {
                    Some(field) => format!("{function}({field})"),
                    None => function,
                };
                detector["detector_description"] = json!(description);
            }
            detector["detector_index"] = json!(index);
            Ok(detector)
        })
        .collect::<Result<Vec<_>, EsError>>()?;
    let mut data_description = Value::Object(data_description.clone());
    if data_description.get("time_field").is_none() {
        data_description["time_field"] = json!("time");
    }
    if data_description.get("time_format").is_none() {
        data_description["time_format"] = json!("epoch_ms");
    }
    let model_memory_limit = match body
        .get("analysis_limits")
        .and_then(|l| l.get("model_memory_limit"))
    {
        None => DEFAULT_MODEL_MEMORY_LIMIT,
        Some(value) => parse_memory_limit(value)?,
    };
    Ok(JobConfig {
        groups: body
            .get("groups")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        description: body
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_owned),
        bucket_span: analysis
            .get("bucket_span")
            .and_then(Value::as_str)
            .unwrap_or("5m")
            .to_owned(),
        detectors,
        influencers: analysis
            .get("influencers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        data_description,
        model_memory_limit,
        allow_lazy_open: body
            .get("allow_lazy_open")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        create_time: Timestamp::now(),
    })
}

/// `model_memory_limit`: a number of megabytes or a byte size string (`512mb`, `2gb`).
fn parse_memory_limit(value: &Value) -> Result<u64, EsError> {
    const MB: u64 = 1024 * 1024;
    let invalid = || {
        EsError::new(
            400,
            "illegal_argument_exception",
            format!(
                "failed to parse setting [model_memory_limit] with value [{value}] as a size in bytes"
            ),
        )
    };
    if let Some(mb) = value.as_u64() {
        return Ok(mb * MB);
    }
    let text = value
        .as_str()
        .ok_or_else(invalid)?
        .trim()
        .to_ascii_lowercase();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| invalid())?;
    let factor = match unit {
        "" => MB,
        "b" => 1,
        "k" | "kb" => 1024,
        "m" | "mb" => MB,
        "g" | "gb" => 1024 * MB,
        "t" | "tb" => 1024 * 1024 * MB,
        _ => return Err(invalid()),
    };
    Ok(number * factor)
}

fn validation(reason: &str) -> EsError {
    EsError::new(400, "illegal_argument_exception", reason)
}

fn parse_object(body: &[u8], object: &str, known: &[&str]) -> Result<Map<String, Value>, EsError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(EsError::new(
            400,
            "parse_exception",
            "request body is required",
        ));
    }
    let value: Value = serde_json::from_slice(body).map_err(|err| {
        EsError::new(
            400,
            "x_content_parse_exception",
            format!("[{object}] failed to parse: {err}"),
        )
    })?;
    let Value::Object(map) = value else {
        return Err(EsError::new(
            400,
            "x_content_parse_exception",
            format!("[{object}] Expected START_OBJECT"),
        ));
    };
    if let Some(unknown) = map.keys().find(|key| !known.contains(&key.as_str())) {
        return Err(EsError::new(
            400,
            "x_content_parse_exception",
            format!("[{object}] unknown field [{unknown}]"),
        ));
    }
    Ok(map)
}

fn check_body_id(
    body: &Map<String, Value>,
    field: &str,
    url: &str,
    what: &str,
) -> Result<(), EsError> {
    match body.get(field).and_then(Value::as_str) {
        Some(in_body) if in_body != url => Err(EsError::new(
            400,
            "illegal_argument_exception",
            format!(
                "Inconsistent {what}; '{in_body}' specified in the body differs from '{url}' \
                 specified as a URL argument"
            ),
        )),
        _ => Ok(()),
    }
}

/// `MlStrings.isValidId`: lowercase alphanumerics, `-` and `_`, starting and ending with an
/// alphanumeric (the length is checked apart, by `hasValidLengthForId`).
pub(super) fn is_valid_id(id: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !id.is_empty()
        && id.chars().all(|c| alnum(c) || c == '-' || c == '_')
        && id.starts_with(alnum)
        && id.ends_with(alnum)
}

/// `MlStrings.ID_LENGTH_LIMIT`.
pub(super) const ID_LENGTH_LIMIT: usize = 64;

/// ES id rules: lowercase alphanumerics, `-` and `_`, starting and ending alphanumeric, ≤ 64.
fn check_id(what: &str, id: &str) -> Result<(), EsError> {
    if is_valid_id(id) && id.len() <= ID_LENGTH_LIMIT {
        Ok(())
    } else {
        Err(EsError::new(
            400,
            "illegal_argument_exception",
            format!(
                "Invalid {what}; '{id}' can contain lowercase alphanumeric (a-z and 0-9), hyphens \
                 or underscores; must start and end with alphanumeric"
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_limits_parse_like_es() {
        assert_eq!(
            parse_memory_limit(&json!("1024mb")).unwrap(),
            1024 * 1024 * 1024
        );
        assert_eq!(parse_memory_limit(&json!(12)).unwrap(), 12 * 1024 * 1024);
        assert_eq!(
            parse_memory_limit(&json!("2GB")).unwrap(),
            2 * 1024 * 1024 * 1024
        );
        assert!(parse_memory_limit(&json!("lots")).is_err());
    }

    #[test]
    fn ids_follow_es_rules() {
        assert!(check_id("job_id", "web-latency_2").is_ok());
        for bad in ["", "Web", "-a", "a-", "a.b", &"a".repeat(65)] {
            assert!(
                check_id("job_id", bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn minimal_job_body_gets_defaults() {
        let body = parse_object(
            br#"{"analysis_config":{"detectors":[{"function":"count"}]},"data_description":{}}"#,
            "job_details",
            JOB_FIELDS,
        )
        .unwrap();
        let config = job_config(&body).unwrap();
        assert_eq!(config.bucket_span, "5m");
        assert_eq!(config.model_memory_limit, DEFAULT_MODEL_MEMORY_LIMIT);
        assert_eq!(config.detectors[0]["detector_index"], 0);
        assert_eq!(config.data_description["time_field"], "time");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err =
            parse_object(br#"{"headers":{}}"#, "datafeed_config", DATAFEED_FIELDS).unwrap_err();
        assert_eq!(err.reason(), "[datafeed_config] unknown field [headers]");
    }
}
