//! `quiesce -v`: one line on stderr for every HTTP exchange with the cluster, as the client
//! ends it: `http: GET /_ml/info -> 200 (4 ms)`. The client only ever tells the method, the
//! path with its query, the status or failure and the time ([`crate::es::Exchange`]), so no
//! header, body or credential can reach this log.

use std::sync::OnceLock;

use crate::es::{Exchange, ExchangeObserver, Observer};

static VERBOSE: OnceLock<bool> = OnceLock::new();

/// Decides once whether HTTP exchanges are logged (`--verbose`).
pub(crate) fn init(verbose: bool) {
    let _ = VERBOSE.set(verbose);
}

/// The observer to give a client, when `--verbose` asked for one.
pub(crate) fn observer() -> Option<Observer> {
    VERBOSE
        .get()
        .copied()
        .unwrap_or(false)
        .then(|| Observer::new(HttpLog))
}

/// Writes each exchange on stderr.
struct HttpLog;

impl ExchangeObserver for HttpLog {
    fn exchanged(&self, exchange: &Exchange) {
        super::stream::err(&format!("{}\n", line(exchange)));
    }
}

/// The log line of one exchange.
fn line(exchange: &Exchange) -> String {
    let outcome = match (exchange.status, &exchange.failure) {
        (Some(status), _) => status.to_string(),
        (None, Some(failure)) => format!("failed: {failure}"),
        (None, None) => "no answer".to_owned(),
    };
    format!(
        "http: {} {} -> {outcome} ({} ms)",
        exchange.method,
        exchange.path,
        exchange.elapsed.as_millis()
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_line_per_exchange() {
        let mut exchange = Exchange {
            method: "POST".into(),
            path: "/_ml/anomaly_detectors/web/_close?force=false&timeout=30s".into(),
            status: Some(200),
            elapsed: Duration::from_millis(312),
            failure: None,
        };
        assert_eq!(
            line(&exchange),
            "http: POST /_ml/anomaly_detectors/web/_close?force=false&timeout=30s -> 200 (312 ms)"
        );
        exchange.status = None;
        exchange.failure = Some("cannot reach Elasticsearch at `http://127.0.0.1:1/`".into());
        assert!(line(&exchange).contains("-> failed: cannot reach"));
    }
}
