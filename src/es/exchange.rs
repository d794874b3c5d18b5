//! What the client tells an observer about each HTTP exchange (for `quiesce -v`): the method,
//! the path with its query, the status or the failure, and the time taken. Never a header, a
//! body or the base URL, so never a credential: the observer cannot leak what it never sees.

use std::sync::Arc;
use std::time::Duration;

/// One request and what came of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Exchange {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path relative to the cluster's base URL, with its query (`/_ml/info`,
    /// `/_ml/anomaly_detectors/web/_close?force=false&timeout=30s`).
    pub path: String,
    /// The HTTP status, when an answer came.
    pub status: Option<u16>,
    /// From sending the request to having the whole answer (or giving up).
    pub elapsed: Duration,
    /// Why no answer came (connection refused, timeout…), when none did.
    pub failure: Option<String>,
}

/// Told of every exchange, as it ends.
pub(crate) trait ExchangeObserver: Send + Sync {
    fn exchanged(&self, exchange: &Exchange);
}

/// A shared observer, as a [`super::Connection`] holds it.
#[derive(Clone)]
pub(crate) struct Observer(Arc<dyn ExchangeObserver>);

impl Observer {
    pub(crate) fn new(observer: impl ExchangeObserver + 'static) -> Observer {
        Observer(Arc::new(observer))
    }

    pub(crate) fn exchanged(&self, exchange: &Exchange) {
        self.0.exchanged(exchange);
    }
}

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Observer")
    }
}
