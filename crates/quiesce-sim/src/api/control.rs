//! The control API under `/_sim/` (crates/quiesce-sim/README.md "Fault rules", "Control endpoints"):
//! faults, failing a job, nodes leaving and joining (a rolling restart), the persistent-task
//! allocation setting, and the observation counters. Never under `/_ml`, no credentials.

use std::sync::PoisonError;

use axum::body::Bytes;
use serde::Deserialize;
use serde_json::json;

use crate::seed::{EsVersion, TaskAllocation};

use super::App;
use super::endpoint::Control;
use super::pipeline::{PathIds, Reply};
use crate::EsError;
use crate::cluster::Stalls;
use crate::faults::FaultRule;

/// `PUT /_sim/faults` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultsBody {
    faults: Vec<FaultRule>,
}

/// `POST /_sim/nodes/<node>/_join` body: the version the node comes back on.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct JoinBody {
    version: Option<EsVersion>,
}

/// `POST /_sim/rolling_restart` body; the seed's `rolling_restart:` gives the defaults.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RestartBody {
    version: Option<EsVersion>,
    #[serde(
        default,
        with = "jiff::fmt::serde::unsigned_duration::friendly::compact::optional"
    )]
    downtime: Option<std::time::Duration>,
}

/// `PUT /_sim/settings` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsBody {
    persistent_tasks_allocation: TaskAllocation,
}

/// A JSON body, or the default when there is none.
fn parse<T: for<'de> Deserialize<'de> + Default>(body: &Bytes) -> Result<T, EsError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    parse_required(body)
}

fn parse_required<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, EsError> {
    serde_json::from_slice(body).map_err(|err| {
        EsError::new(
            400,
            "parse_exception",
            format!("invalid control request: {err}"),
        )
    })
}

/// `{"faults": [...]}`. A bare array of rules is named for what it is: serde would read it as
/// the body's fields in order and complain that the first rule is not a list.
fn parse_faults(body: &Bytes) -> Result<FaultsBody, EsError> {
    let invalid = |reason: String| {
        EsError::new(
            400,
            "parse_exception",
            format!("invalid fault rules: {reason}"),
        )
    };
    if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(invalid(
            "the body is an object with the rules under `faults`, `{\"faults\": [...]}`, not a bare array".to_owned(),
        ));
    }
    serde_json::from_slice(body).map_err(|err| invalid(err.to_string()))
}

pub(crate) async fn handle(
    app: &App,
    endpoint: Control,
    ids: &PathIds,
    body: &Bytes,
) -> Result<Reply, EsError> {
    let node = ids.or_all("node");
    let value = match endpoint {
        Control::GetFaults => faults(app).list(),
        Control::PutFaults => {
            let parsed = parse_faults(body)?;
            let stalls = {
                let mut faults = faults(app);
                faults
                    .replace(parsed.faults)
                    .map_err(|err| err.to_es_error())?;
                faults.stalls()
            };
            // Stall rules act on the datafeeds' own searches, which the cluster runs.
            app.cluster.set_stalls(stalls);
            json!({"acknowledged": true})
        }
        Control::DeleteFaults => {
            faults(app).clear();
            app.cluster.set_stalls(Stalls::default());
            json!({"acknowledged": true})
        }
        Control::FailJob => app.cluster.fail_job(ids.or_all("job_id"))?,
        Control::Stats => app.cluster.sim_stats(),
        Control::Nodes => app.cluster.nodes(),
        Control::NodeLeave => app.cluster.node_leave(node)?,
        Control::NodeJoin => {
            let join: JoinBody = parse(body)?;
            app.cluster.node_join(node, join.version)?
        }
        Control::RollingRestart => {
            let restart: RestartBody = parse(body)?;
            app.cluster
                .rolling_restart(restart.version, restart.downtime)
                .await?
        }
        Control::Settings => {
            let settings: SettingsBody = parse_required(body)?;
            app.cluster
                .set_task_allocation(settings.persistent_tasks_allocation == TaskAllocation::All)
        }
    };
    Ok(Reply::Json(value))
}

fn faults(app: &App) -> std::sync::MutexGuard<'_, crate::faults::Faults> {
    app.faults.lock().unwrap_or_else(PoisonError::into_inner)
}
