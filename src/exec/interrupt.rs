//! [`Interrupts`]: the two levels of interruption, as two cancellation tokens (moon's way).
//!
//! - *stop*: start no step and make no new request: steps between attempts end interrupted;
//!   requests and waits in flight finish. The first Ctrl-C, or a journal that cannot be written.
//! - *abandon*: give up on the requests and waits in flight too. The second Ctrl-C. Abandoning
//!   implies stopping.
//!
//! Losing the cluster lease (another runner took it over) stops the run as the first level
//! does, with its own reason, so that the report says so.
//!
//! Owns the tokens and what cancelling each means. Must never be cancelled by the executor itself
//! (`on_failure: stop` is the scheduler's own state, not an interruption).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio_util::sync::CancellationToken;

/// Shared between whoever interrupts (signal handlers) and the run; clones share the tokens.
#[derive(Debug, Clone)]
pub(crate) struct Interrupts {
    abandon: CancellationToken,
    /// A child of `abandon`, so that abandoning stops too.
    stop: CancellationToken,
    /// The stop came from losing the cluster lease.
    lease_lost: Arc<AtomicBool>,
}

impl Default for Interrupts {
    fn default() -> Interrupts {
        Interrupts::new()
    }
}

impl Interrupts {
    pub(crate) fn new() -> Interrupts {
        let abandon = CancellationToken::new();
        let stop = abandon.child_token();
        Interrupts {
            abandon,
            stop,
            lease_lost: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The first level: start nothing new, make no new request.
    pub(crate) fn stop(&self) {
        self.stop.cancel();
    }

    /// Another runner holds the cluster lease now: stop as the first level does, saying why.
    pub(crate) fn lose_lease(&self) {
        self.lease_lost.store(true, Ordering::SeqCst);
        self.stop.cancel();
    }

    /// Whether the run lost its cluster lease.
    pub(crate) fn lease_lost(&self) -> bool {
        self.lease_lost.load(Ordering::SeqCst)
    }

    /// The second level: abandon the requests and waits in flight as well.
    pub(crate) fn abandon(&self) {
        self.abandon.cancel();
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.stop.is_cancelled()
    }

    pub(crate) fn is_abandoning(&self) -> bool {
        self.abandon.is_cancelled()
    }

    /// Resolves once the run is told to stop (or to abandon, which implies it).
    pub(crate) async fn stopping(&self) {
        self.stop.cancelled().await;
    }

    /// Resolves once the run is told to abandon what is in flight.
    pub(crate) async fn abandoning(&self) {
        self.abandon.cancelled().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abandoning_implies_stopping_but_not_the_other_way() {
        let first = Interrupts::new();
        first.stop();
        assert!(first.is_stopping());
        assert!(!first.is_abandoning());

        let lost = Interrupts::new();
        lost.clone().lose_lease();
        assert!(lost.is_stopping() && lost.lease_lost() && !lost.is_abandoning());

        let second = Interrupts::new();
        let seen_by_the_run = second.clone();
        second.abandon();
        assert!(seen_by_the_run.is_abandoning());
        assert!(seen_by_the_run.is_stopping());
    }
}
