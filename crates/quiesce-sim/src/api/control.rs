//! The control API under `/_sim/` (crates/quiesce-sim/README.md "Fault rules", "Control endpoints"):
//! faults, failing a job, and the observation counters. Never under `/_ml`, no credentials.

use std::sync::PoisonError;

use axum::body::Bytes;
use serde::Deserialize;
use serde_json::json;

use super::App;
use super::endpoint::Control;
use super::pipeline::{PathIds, Reply};
use crate::EsError;
use crate::faults::FaultRule;

/// `PUT /_sim/faults` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultsBody {
    faults: Vec<FaultRule>,
}

pub(crate) fn handle(
    app: &App,
    endpoint: Control,
    ids: &PathIds,
    body: &Bytes,
) -> Result<Reply, EsError> {
    let value = match endpoint {
        Control::GetFaults => faults(app).list(),
        Control::PutFaults => {
            let parsed: FaultsBody = serde_json::from_slice(body).map_err(|err| {
                EsError::new(
                    400,
                    "parse_exception",
                    format!("invalid fault rules: {err}"),
                )
            })?;
            faults(app)
                .replace(parsed.faults)
                .map_err(|err| err.to_es_error())?;
            json!({"acknowledged": true})
        }
        Control::DeleteFaults => {
            faults(app).clear();
            json!({"acknowledged": true})
        }
        Control::FailJob => app.cluster.fail_job(ids.or_all("job_id"))?,
        Control::Stats => app.cluster.sim_stats(),
    };
    Ok(Reply::Json(value))
}

fn faults(app: &App) -> std::sync::MutexGuard<'_, crate::faults::Faults> {
    app.faults.lock().unwrap_or_else(PoisonError::into_inner)
}
