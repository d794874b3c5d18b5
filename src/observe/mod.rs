//! Observation: one read-only snapshot of the ML side of a cluster, taken with a fixed number of
//! requests up to 10,000 jobs (`_all` expressions, never one call per resource), and a few more
//! per 10,000 beyond, where Elasticsearch caps its answers (`page`).
//!
//! Takes an [`EsClient`]; gives a [`Snapshot`] that plan, status, capture and the journal share,
//! in quiesce's own types ([`ObservedJobState`], [`ObservedDatafeedState`]): the wire types of
//! `es` stop here. Never changes anything on the cluster. A read that fails in a way worth
//! another try is made again, with the same policy as steps (`settings.retry`), and each retry
//! is told as it happens.

mod outlook;
pub(crate) mod page;
mod snapshot;
mod state;

#[cfg(test)]
pub(crate) use outlook::JobOutlook;
pub(crate) use outlook::{Memory, NodeRoom, Outlook, OutlookRequest, SnapshotInfo, outlook};
pub(crate) use snapshot::{DatafeedMode, ObservedDatafeed, ObservedJob, Snapshot};
pub(crate) use state::{ObservedDatafeedState, ObservedJobState};

use std::future::Future;
use std::time::Duration;

use crate::es::{self, EsClient};
use crate::exec::Backoff;
use crate::model::RetryPolicy;

/// Something the person should know about how a snapshot was taken; the snapshot is usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ObserveNote {
    /// `GET /` was refused for a missing privilege (`monitor`): the cluster's name, uuid and
    /// version are `unknown`.
    IdentityHidden,
    /// A read failed in a way worth another try (connection, timeout, 429, 502, 503, 504); it
    /// is made again after `retry_in`, as steps retry (`settings.retry`).
    Retrying {
        /// The endpoint's name in the REST spec (`ml.get_job_stats`).
        endpoint: &'static str,
        /// What went wrong, in the client's words.
        error: String,
        /// The read that failed (1-based) and how many the policy allows.
        read: u32,
        reads: u32,
        retry_in: Duration,
    },
}

impl std::fmt::Display for ObserveNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ObserveNote::IdentityHidden => f.write_str(
                "the credentials lack the cluster privilege `monitor`, so `GET /` was refused (403) \
                 and the cluster's name and version show as `unknown`; grant `monitor` to see them \
                 (the machine-learning calls need only `manage_ml`)",
            ),
            ObserveNote::Retrying {
                endpoint,
                error,
                read,
                reads,
                retry_in,
            } => write!(
                f,
                "reading the cluster: {error}; reading `{endpoint}` again in {} (read {read} of {reads}, as `settings.retry` allows)",
                seconds(*retry_in)
            ),
        }
    }
}

/// `1.2s`, `250ms`.
fn seconds(duration: Duration) -> String {
    if duration < Duration::from_secs(1) {
        format!("{}ms", duration.as_millis())
    } else {
        format!("{:.1}s", duration.as_secs_f64())
    }
}

/// Makes a read, again after a back-off when it fails in a way worth another try, as steps do
/// with `policy`; each retry is told to `tell` before its wait. The last error ends it.
pub(crate) async fn read_retrying<T, F, Fut>(
    policy: &RetryPolicy,
    endpoint: &'static str,
    tell: &(dyn Fn(ObserveNote) + Sync),
    mut read: F,
) -> Result<T, es::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, es::Error>>,
{
    let reads = u32::try_from(policy.attempts.get()).unwrap_or(u32::MAX);
    let mut backoff = Backoff::new(
        reads,
        policy.initial_backoff,
        policy.max_backoff,
        u64::from(std::process::id()) ^ endpoint.len() as u64,
    );
    loop {
        backoff.attempt();
        let err = match read().await {
            Ok(value) => return Ok(value),
            Err(err) if err.is_retryable() => err,
            Err(err) => return Err(err),
        };
        let Some(delay) = backoff.next_delay(err.retry_after()) else {
            return Err(err);
        };
        tell(ObserveNote::Retrying {
            endpoint,
            error: err.to_string(),
            read: backoff.made(),
            reads,
            retry_in: delay,
        });
        tokio::time::sleep(delay).await;
    }
}

/// Reads the cluster: root (version, product check), ML info (upgrade mode), job stats and
/// configs, datafeed stats and configs (six requests up to 10,000 jobs, a few more per 10,000
/// beyond; each retried as `policy` says);
/// what the person should know about how the snapshot was taken is told to `tell` as it
/// happens.
pub(crate) async fn observe(
    client: &EsClient,
    policy: &RetryPolicy,
    tell: &(dyn Fn(ObserveNote) + Sync),
) -> Result<Snapshot, es::Error> {
    // `GET /` needs the `monitor` privilege, which an ML-only role lacks; like the official
    // clients, go on without the cluster's name and version then (the product header is still
    // checked on every ML response), and say so.
    let root = match read_retrying(policy, "info", tell, || client.root()).await {
        Ok(root) => Some(root),
        Err(err) if err.is_missing_privilege() => {
            tell(ObserveNote::IdentityHidden);
            None
        }
        Err(err) => return Err(err),
    };
    let (ml_info, job_stats, jobs, datafeed_stats, datafeeds) = tokio::try_join!(
        read_retrying(policy, "ml.info", tell, || client.ml_info()),
        page::all(
            |expr| async move {
                read_retrying(policy, "ml.get_job_stats", tell, || client.job_stats(&expr))
                    .await
                    .map(|r| r.jobs)
            },
            |job| &job.job_id
        ),
        page::all(
            |expr| async move {
                read_retrying(policy, "ml.get_jobs", tell, || client.jobs(&expr))
                    .await
                    .map(|r| r.jobs)
            },
            |job| &job.job_id
        ),
        page::all(
            |expr| async move {
                read_retrying(policy, "ml.get_datafeed_stats", tell, || {
                    client.datafeed_stats(&expr)
                })
                .await
                .map(|r| r.datafeeds)
            },
            |feed| &feed.datafeed_id
        ),
        page::all(
            |expr| async move {
                read_retrying(policy, "ml.get_datafeeds", tell, || client.datafeeds(&expr))
                    .await
                    .map(|r| r.datafeeds)
            },
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
    Ok(snapshot)
}
