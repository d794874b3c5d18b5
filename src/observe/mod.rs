//! Observation: one read-only snapshot of the ML side of a cluster, taken with a fixed number of
//! requests whatever the number of jobs (`_all` expressions, never one call per resource).
//!
//! Takes an [`EsClient`]; gives a [`Snapshot`] that plan, status, capture and the journal share,
//! in quiesce's own types ([`ObservedJobState`], [`ObservedDatafeedState`]): the wire types of
//! `es` stop here. Never changes anything on the cluster.

mod snapshot;
mod state;

pub use snapshot::{DatafeedMode, ObservedDatafeed, ObservedJob, Snapshot};
pub use state::{ObservedDatafeedState, ObservedJobState};

use crate::es::{self, EsClient};

/// Reads the cluster: root (version, product check), ML info (upgrade mode), job stats and
/// configs, datafeed stats and configs. Six requests in all.
pub async fn observe(client: &EsClient) -> Result<Snapshot, es::Error> {
    // `GET /` needs the `monitor` privilege, which an ML-only role lacks; like the official
    // clients, go on without the cluster's name and version then (the product header is still
    // checked on every ML response).
    let root = match client.root().await {
        Ok(root) => Some(root),
        Err(err) if err.is_missing_privilege() => None,
        Err(err) => return Err(err),
    };
    let (ml_info, job_stats, jobs, datafeed_stats, datafeeds) = tokio::try_join!(
        client.ml_info(),
        client.job_stats("_all"),
        client.jobs("_all"),
        client.datafeed_stats("_all"),
        client.datafeeds("_all"),
    )?;
    Ok(Snapshot::assemble(
        root.as_ref(),
        &ml_info,
        job_stats.jobs,
        jobs.jobs,
        datafeed_stats.datafeeds,
        datafeeds.datafeeds,
    ))
}
