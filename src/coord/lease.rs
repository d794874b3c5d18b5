//! The cluster lease: one document per cluster that says which run may change it, until when.
//!
//! - **Take**: `_create` the document (a second `_create` is a 409, docs/elasticsearch-ml-api.md
//!   §11.2). On a 409, read it: a lease whose `expires_at` has passed is taken over by a
//!   compare-and-set write (`if_seq_no` + `if_primary_term`, so two runners taking over at once
//!   cannot both win), and the old holder is named; a live one refuses the run, naming its
//!   holder and since when. One exception, as the state lock makes it: a `resume` of the very
//!   run that holds the lease, on the same host, whose holding process is dead there (killed),
//!   takes it over at once rather than wait for the expiry.
//! - **Keep**: renewed every third of its time to live, by compare-and-set: a 409 means someone
//!   took it over, and the run is told ([`LeaseLoss::TakenOver`]). A lease that could not be
//!   renewed until its own expiry is lost too ([`LeaseLoss::Expired`]): another runner may take
//!   it from then on.
//! - **Release**: a compare-and-set delete at the end of the run.
//!
//! Expiry is judged on the holder's `expires_at` against the reader's clock. A holder renews
//! every third of the time to live, so its `expires_at` is always at least two thirds of it
//! ahead of its own clock: clocks that disagree by less than that never take a live lease
//! (NTP keeps them within milliseconds; docs/architecture.md §3.3).
//!
//! Owns the lease document and its protocol. Must never take a live lease, and never let a run
//! believe it holds a lease it lost.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use miette::Diagnostic;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::es::{DocVersion, EsClient};
use crate::journal::process_alive;

use super::CoordIndex;

/// The lease document as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Holder {
    pub run_id: String,
    /// `apply`, `resume` or `revert`.
    pub command: String,
    pub host: String,
    pub pid: u32,
    /// The Elasticsearch user when security is on, else the operating-system user.
    pub user: String,
    pub cluster_url: String,
    /// When this holder took the lease.
    pub started_at: jiff::Timestamp,
    pub renewed_at: jiff::Timestamp,
    pub expires_at: jiff::Timestamp,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`quiesce {}` (run {}) by {}, pid {} on {}, since {}",
            self.command, self.run_id, self.user, self.pid, self.host, self.started_at
        )
    }
}

/// Who asks for the lease.
#[derive(Debug, Clone)]
pub(crate) struct Who {
    pub run_id: String,
    pub command: String,
    pub host: String,
    pub pid: u32,
    pub user: String,
    pub cluster_url: String,
}

#[derive(Debug, Error, Diagnostic)]
pub(crate) enum LeaseError {
    #[error(
        "another run holds the cluster lease: {holder} (renewed {renewed_at}, expires {expires_at})"
    )]
    #[diagnostic(
        code(quiesce::coord::leased),
        help(
            "One run at a time changes a cluster, from whatever machine. Wait for it to finish; a lease its run left behind (the machine died) expires by itself and the next run takes it over with a warning. Nothing was changed."
        )
    )]
    Held {
        holder: Box<Holder>,
        renewed_at: jiff::Timestamp,
        expires_at: jiff::Timestamp,
    },

    #[error("cannot take the cluster lease in index `{index}`")]
    #[diagnostic(
        code(quiesce::coord::lease),
        help(
            "The credentials need `create_index`, `read` and `write` on that index (README, \"A role for quiesce\"). Nothing was changed."
        )
    )]
    Write {
        index: String,
        #[source]
        source: crate::es::Error,
    },
}

/// How a run lost its lease.
#[derive(Debug, Clone)]
pub(crate) enum LeaseLoss {
    /// Another runner wrote the lease document (it took it over, or a person deleted it and
    /// another run took it): that holder, when it could be read.
    TakenOver(Option<Box<Holder>>),
    /// No renewal got through before the lease expired: another runner may take it now.
    Expired {
        expired_at: jiff::Timestamp,
        error: String,
    },
}

impl std::fmt::Display for LeaseLoss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LeaseLoss::TakenOver(Some(holder)) => write!(f, "{holder} took it over"),
            LeaseLoss::TakenOver(None) => {
                f.write_str("its document changed under it (someone deleted or rewrote it)")
            }
            LeaseLoss::Expired { expired_at, error } => write!(
                f,
                "no renewal got through before it expired at {expired_at} (last error: {error})"
            ),
        }
    }
}

/// The lease document's id: one per cluster, by its UUID, so that every runner of the cluster
/// meets on it.
fn lease_id(cluster_uuid: &str) -> String {
    let uuid: String = cluster_uuid
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .collect();
    if uuid.is_empty() || uuid == "_na_" {
        "lease".to_owned()
    } else {
        format!("lease-{uuid}")
    }
}

/// Now, to the millisecond: what a lease document records and a person reads.
fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
        .round(jiff::Unit::Millisecond)
        .unwrap_or_else(|_| jiff::Timestamp::now())
}

fn timestamp_after(now: jiff::Timestamp, ttl: Duration) -> jiff::Timestamp {
    jiff::SignedDuration::try_from(ttl)
        .ok()
        .and_then(|d| now.checked_add(d).ok())
        .unwrap_or(jiff::Timestamp::MAX)
}

/// A held lease. Dropping it without [`Lease::release`] stops renewing it; it then expires.
#[derive(Debug)]
pub(crate) struct Lease {
    client: EsClient,
    index: CoordIndex,
    id: String,
    ttl: Duration,
    record: Holder,
    version: Arc<Mutex<DocVersion>>,
    stop: CancellationToken,
    renewer: Option<JoinHandle<()>>,
    /// The holder this run took the lease over from.
    pub took_over: Option<TakenOver>,
}

/// A lease this run took over, and why it could.
#[derive(Debug, Clone)]
pub(crate) struct TakenOver {
    pub holder: Holder,
    /// It had expired (else: it was this very run's, held by a process that died on this host).
    pub expired: bool,
}

impl Lease {
    /// Takes the lease of the cluster `cluster_uuid` for `ttl`, taking over an expired one.
    pub(crate) async fn acquire(
        client: &EsClient,
        index: &CoordIndex,
        cluster_uuid: &str,
        who: Who,
        ttl: Duration,
    ) -> Result<Lease, LeaseError> {
        let id = lease_id(cluster_uuid);
        let write_error = |source| LeaseError::Write {
            index: index.name().to_owned(),
            source,
        };
        let now = now();
        let record = Holder {
            run_id: who.run_id,
            command: who.command,
            host: who.host,
            pid: who.pid,
            user: who.user,
            cluster_url: who.cluster_url,
            started_at: now,
            renewed_at: now,
            expires_at: timestamp_after(now, ttl),
        };
        // A race lost (the lease was released or taken over between two calls) is tried again,
        // a few times: each round either takes the lease or finds a live holder.
        let mut attempts = 0;
        loop {
            attempts += 1;
            let created = client.create_doc(index.name(), &id, source(&record)).await;
            let err = match created {
                Ok(version) => {
                    return Ok(Lease::held(client, index, id, ttl, record, version, None));
                }
                Err(err) if err.is_version_conflict() => err,
                Err(err) => return Err(write_error(err)),
            };
            let current = client
                .get_doc::<Holder>(index.name(), &id)
                .await
                .map_err(write_error)?;
            let Some(current) = current else {
                if attempts < 5 {
                    continue;
                }
                return Err(write_error(err));
            };
            let expired = current.source.expires_at <= jiff::Timestamp::now();
            let left_by_this_run = current.source.run_id == record.run_id
                && current.source.host == record.host
                && current.source.pid != record.pid
                && !process_alive(current.source.pid);
            if !expired && !left_by_this_run {
                return Err(LeaseError::Held {
                    renewed_at: current.source.renewed_at,
                    expires_at: current.source.expires_at,
                    holder: Box::new(current.source),
                });
            }
            match client
                .index_doc(index.name(), &id, source(&record), Some(current.version()))
                .await
            {
                Ok(version) => {
                    return Ok(Lease::held(
                        client,
                        index,
                        id,
                        ttl,
                        record,
                        version,
                        Some(TakenOver {
                            holder: current.source,
                            expired,
                        }),
                    ));
                }
                Err(err) if err.is_version_conflict() && attempts < 5 => {}
                Err(err) => return Err(write_error(err)),
            }
        }
    }

    fn held(
        client: &EsClient,
        index: &CoordIndex,
        id: String,
        ttl: Duration,
        record: Holder,
        version: DocVersion,
        took_over: Option<TakenOver>,
    ) -> Lease {
        Lease {
            client: client.clone(),
            index: index.clone(),
            id,
            ttl,
            record,
            version: Arc::new(Mutex::new(version)),
            stop: CancellationToken::new(),
            renewer: None,
            took_over,
        }
    }

    /// Renews the lease every third of its time to live until released; `lost` is called once
    /// if it is lost.
    pub(crate) fn keep(&mut self, lost: impl FnOnce(LeaseLoss) + Send + 'static) {
        let client = self.client.clone();
        let index = self.index.clone();
        let id = self.id.clone();
        let ttl = self.ttl;
        let mut record = self.record.clone();
        let version = Arc::clone(&self.version);
        let stop = self.stop.clone();
        self.renewer = Some(tokio::spawn(async move {
            let every = ttl / 3;
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(every) => {}
                }
                let now = now();
                let mut renewed = record.clone();
                renewed.renewed_at = now;
                renewed.expires_at = timestamp_after(now, ttl);
                let current = *version
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let answer = client
                    .index_doc(index.name(), &id, source(&renewed), Some(current))
                    .await;
                if stop.is_cancelled() {
                    return;
                }
                match answer {
                    Ok(next) => {
                        *version
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner) = next;
                        record = renewed;
                    }
                    Err(err) if err.is_version_conflict() => {
                        let holder = client
                            .get_doc::<Holder>(index.name(), &id)
                            .await
                            .ok()
                            .flatten()
                            .map(|doc| Box::new(doc.source));
                        lost(LeaseLoss::TakenOver(holder));
                        return;
                    }
                    Err(err) if jiff::Timestamp::now() >= record.expires_at => {
                        lost(LeaseLoss::Expired {
                            expired_at: record.expires_at,
                            error: err.to_string(),
                        });
                        return;
                    }
                    // Not yet expired: the next renewal may get through.
                    Err(_) => {}
                }
            }
        }));
    }

    /// Stops renewing and deletes the lease document if it is still this run's; a lease that
    /// changed meanwhile (taken over) is left to its new holder.
    pub(crate) async fn release(mut self) -> Result<(), crate::es::Error> {
        self.stop.cancel();
        if let Some(renewer) = self.renewer.take() {
            let _ = renewer.await;
        }
        let version = *self
            .version
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match self
            .client
            .delete_doc(self.index.name(), &self.id, version)
            .await
        {
            Err(err) if err.is_version_conflict() => Ok(()),
            other => other,
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn source(holder: &Holder) -> Value {
    let mut value = serde_json::to_value(holder).unwrap_or_default();
    value["kind"] = Value::from("lease");
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lease_id_comes_from_the_cluster_uuid() {
        assert_eq!(lease_id("aBc-12_x"), "lease-aBc-12_x");
        assert_eq!(lease_id("_na_"), "lease");
        assert_eq!(lease_id("../../x"), "lease-x");
    }

    #[test]
    fn a_stored_lease_reads_back_and_names_its_holder() {
        let at: jiff::Timestamp = "2026-11-30T10:00:00Z".parse().expect("time");
        let holder = Holder {
            run_id: "20261130T100000Z-abcd".into(),
            command: "apply".into(),
            host: "ci-pod-7".into(),
            pid: 1,
            user: "quiesce-ci".into(),
            cluster_url: "https://es:9200/".into(),
            started_at: at,
            renewed_at: at,
            expires_at: timestamp_after(at, Duration::from_secs(60)),
        };
        let stored = source(&holder);
        assert_eq!(stored["kind"], "lease");
        assert_eq!(stored["expires_at"], "2026-11-30T10:01:00Z");
        let back: Holder = serde_json::from_value(stored).expect("reads back");
        assert_eq!(back, holder);
        assert_eq!(
            back.to_string(),
            "`quiesce apply` (run 20261130T100000Z-abcd) by quiesce-ci, pid 1 on ci-pod-7, since 2026-11-30T10:00:00Z"
        );
    }
}
