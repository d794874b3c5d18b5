//! The `/_ml/` operations: parameters read with ES's defaults (docs/elasticsearch-ml-api.md §2), then handed
//! to the cluster.

use std::sync::PoisonError;

use serde_json::{Value, json};

use super::endpoint::Ml;
use super::pipeline::{Call, Reply};
use crate::EsError;
use crate::cluster::{SnapshotQuery, Timeout};
use crate::faults::Operation;
use crate::params::Params;

pub(crate) async fn handle(call: &Call<'_>, endpoint: Ml) -> Result<Reply, EsError> {
    let cluster = &call.app.cluster;
    let params = &call.params;
    let job = call.ids.or_all("job_id");
    let datafeed = call.ids.or_all("datafeed_id");
    let value = match endpoint {
        Ml::Calendar(calendar) => return super::calendars::handle(call, calendar),
        Ml::Info => info(call),
        Ml::SetUpgradeMode => {
            let enabled = params.bool("enabled", false)?;
            cluster
                .set_upgrade_mode(enabled, &timeout(params, "30s")?)
                .await?
        }
        Ml::GetJobs => cluster.get_jobs(
            job,
            allow_no_match(call)?,
            params.bool("exclude_generated", false)?,
        )?,
        Ml::JobStats => cluster.job_stats(job, allow_no_match(call)?)?,
        Ml::PutJob => cluster.put_job(job, call.body)?,
        Ml::DeleteJob => cluster.delete_job(job, params.bool("force", false)?)?,
        Ml::OpenJob => cluster.open_job(job, &timeout(params, "30m")?).await?,
        Ml::CloseJob => {
            cluster
                .close_jobs(
                    job,
                    allow_no_match(call)?,
                    params.bool("force", false)?,
                    &timeout(params, "30m")?,
                    &call.stuck,
                    |datafeeds| {
                        call.app
                            .faults
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .on_call(Operation::StopDatafeed, datafeeds)
                    },
                )
                .await?
        }
        Ml::ModelSnapshots => {
            let query = SnapshotQuery {
                snapshot_id: call.ids.get("snapshot_id").map(str::to_owned),
                from: page(params, "from")?.unwrap_or(0),
                size: page(params, "size")?,
                start_ms: params.date("start")?,
                end_ms: params.date("end")?,
                desc: params.bool("desc", false)?,
            };
            cluster.model_snapshots(job, &query)?
        }
        Ml::DeleteModelSnapshot => {
            cluster.delete_model_snapshot(job, call.ids.get("snapshot_id").unwrap_or_default())?
        }
        Ml::UpgradeModelSnapshot => {
            cluster
                .upgrade_model_snapshot(
                    job,
                    call.ids.get("snapshot_id").unwrap_or_default(),
                    params.bool("wait_for_completion", false)?,
                    &timeout(params, "30m")?,
                )
                .await?
        }
        Ml::MemoryStats => {
            if (call.version.major, call.version.minor) < (8, 2) {
                let uri = call.parts.uri.path().to_owned();
                return Err(EsError::no_handler(&uri, call.parts.method.as_str()));
            }
            cluster.memory_stats(call.ids.get("node_id"))?
        }
        Ml::GetDatafeeds => cluster.get_datafeeds(
            datafeed,
            allow_no_match(call)?,
            params.bool("exclude_generated", false)?,
        )?,
        Ml::DatafeedStats => cluster.datafeed_stats(datafeed, allow_no_match(call)?)?,
        Ml::PutDatafeed => cluster.put_datafeed(datafeed, call.body)?,
        Ml::DeleteDatafeed => cluster.delete_datafeed(datafeed, params.bool("force", false)?)?,
        Ml::StartDatafeed => {
            cluster
                .start_datafeed(
                    datafeed,
                    params.date("start")?,
                    params.date("end")?,
                    &timeout(params, "20s")?,
                )
                .await?
        }
        Ml::StopDatafeed => {
            cluster
                .stop_datafeeds(
                    datafeed,
                    allow_no_match(call)?,
                    params.bool("force", false)?,
                    // StopDatafeedAction.DEFAULT_TIMEOUT: the docs' 20s is not what the code uses.
                    &timeout(params, "5m")?,
                    &call.stuck,
                    close_job(call)?,
                )
                .await?
        }
    };
    Ok(Reply::Json(value))
}

/// `allow_no_match` (default true), or its deprecated alias where the version accepts it.
fn allow_no_match(call: &Call<'_>) -> Result<bool, EsError> {
    let version = call.version;
    let alias = call.endpoint.deprecated_alias(version);
    match alias {
        Some(alias) if !call.params.contains("allow_no_match") && call.params.contains(alias) => {
            call.params.bool(alias, true)
        }
        _ => call.params.bool("allow_no_match", true),
    }
}

/// Stop datafeed's `close_job` (~9.3+, default false); `None` for versions without it.
fn close_job(call: &Call<'_>) -> Result<Option<bool>, EsError> {
    let version = call.version;
    if (version.major, version.minor) >= (9, 3) {
        call.params.bool("close_job", false).map(Some)
    } else {
        Ok(None)
    }
}

/// The `timeout` parameter with its ES default.
fn timeout(params: &Params, default: &str) -> Result<Timeout, EsError> {
    let value = params.time("timeout", default)?;
    Ok(Timeout {
        wait: value.duration(),
        text: value.to_string(),
    })
}

/// `from`/`size` of model snapshots: a parameter, or the body's `page` object (§2.12).
fn page(params: &Params, name: &str) -> Result<Option<usize>, EsError> {
    let page: Option<Value> = params
        .str("page")
        .and_then(|text| serde_json::from_str(text).ok());
    if let Some(value) = page.as_ref().and_then(|page| page.get(name)) {
        return value
            .as_u64()
            .map(|n| Some(usize::try_from(n).unwrap_or(usize::MAX)))
            .ok_or_else(|| {
                EsError::new(
                    400,
                    "x_content_parse_exception",
                    format!("[page] failed to parse field [{name}]"),
                )
            });
    }
    params
        .str(name)
        .map(|text| {
            text.parse().map_err(|_| {
                EsError::new(
                    400,
                    "illegal_argument_exception",
                    format!("Failed to parse int parameter [{name}] with value [{text}]"),
                )
            })
        })
        .transpose()
}

/// `GET /_ml/info` (docs/elasticsearch-ml-api.md §2.5: `upgrade_mode` at the top level).
fn info(call: &Call<'_>) -> Value {
    let cluster = &call.app.cluster;
    let gib = 1024 * 1024 * 1024;
    json!({
        "defaults": {
            "anomaly_detectors": {
                "model_memory_limit": "1gb",
                "categorization_examples_limit": 4,
                "model_snapshot_retention_days": 10,
                "daily_model_snapshot_retention_after_days": 1,
            },
            "datafeeds": { "scroll_size": 1000 },
        },
        "upgrade_mode": cluster.upgrade_mode(),
        "native_code": {
            "version": call.version.to_string(),
            "build_hash": "0000000000000000",
        },
        "limits": {
            "effective_max_model_memory_limit": format!("{}mb", cluster.largest_node_memory() / (1024 * 1024)),
            "total_ml_memory": format!("{}gb", cluster.total_ml_memory() / gib),
        },
    })
}
