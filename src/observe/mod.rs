//! Observation: one read-only snapshot of the ML side of a cluster, taken with a fixed number of
//! requests up to 10,000 jobs (`_all` expressions, never one call per resource), and a few more
//! per 10,000 beyond, where Elasticsearch caps its answers (`page`).
//!
//! Takes an [`EsClient`]; gives a [`Snapshot`] that plan, status, capture and the journal share,
//! in quiesce's own types ([`ObservedJobState`], [`ObservedDatafeedState`]): the wire types of
//! `es` stop here. Never changes anything on the cluster.

mod page;
mod snapshot;
mod state;

pub(crate) use snapshot::{DatafeedMode, ObservedDatafeed, ObservedJob, Snapshot};
pub(crate) use state::{ObservedDatafeedState, ObservedJobState};

use crate::es::{self, EsClient};

/// Something the person should know about how a snapshot was taken; the snapshot is usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ObserveNote {
    /// `GET /` was refused for a missing privilege (`monitor`): the cluster's name, uuid and
    /// version are `unknown`.
    IdentityHidden,
}

impl std::fmt::Display for ObserveNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ObserveNote::IdentityHidden => f.write_str(
                "the credentials lack the cluster privilege `monitor`, so `GET /` was refused (403) \
                 and the cluster's name and version show as `unknown`; grant `monitor` to see them \
                 (the machine-learning calls need only `manage_ml`)",
            ),
        }
    }
}

/// Reads the cluster: root (version, product check), ML info (upgrade mode), job stats and
/// configs, datafeed stats and configs (six requests in all); with what the person should know
/// about how the snapshot was taken.
pub(crate) async fn observe(client: &EsClient) -> Result<(Snapshot, Vec<ObserveNote>), es::Error> {
    let mut notes = Vec::new();
    // `GET /` needs the `monitor` privilege, which an ML-only role lacks; like the official
    // clients, go on without the cluster's name and version then (the product header is still
    // checked on every ML response), and say so.
    let root = match client.root().await {
        Ok(root) => Some(root),
        Err(err) if err.is_missing_privilege() => {
            notes.push(ObserveNote::IdentityHidden);
            None
        }
        Err(err) => return Err(err),
    };
    let (ml_info, job_stats, jobs, datafeed_stats, datafeeds) = tokio::try_join!(
        client.ml_info(),
        page::all(
            |expr| async move { client.job_stats(&expr).await.map(|r| r.jobs) },
            |job| &job.job_id
        ),
        page::all(
            |expr| async move { client.jobs(&expr).await.map(|r| r.jobs) },
            |job| &job.job_id
        ),
        page::all(
            |expr| async move { client.datafeed_stats(&expr).await.map(|r| r.datafeeds) },
            |feed| &feed.datafeed_id
        ),
        page::all(
            |expr| async move { client.datafeeds(&expr).await.map(|r| r.datafeeds) },
            |feed| &feed.datafeed_id
        ),
    )?;
    let snapshot = Snapshot::assemble(
        root.as_ref(),
        &ml_info,
        job_stats,
        jobs,
        datafeed_stats,
        datafeeds,
    );
    Ok((snapshot, notes))
}
