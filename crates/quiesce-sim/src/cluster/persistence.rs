//! Model persistence slots: graceful closes persist a model and opens restore one; the cluster
//! runs at most `slots` of them at once (FIFO for the rest), and refuses a request with 429
//! `es_rejected_execution_exception` when `queue_limit` already wait (docs/architecture.md §4).
//! A request admitted brings all its jobs into the queue: in ES each job's close is its own
//! task on its node's pool, so a close of `_all` is queued, never refused for its size.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::EsError;

/// The cluster-wide persistence slots and their queue.
#[derive(Debug)]
pub(crate) struct Persistence {
    slots: usize,
    queue_limit: usize,
    semaphore: Arc<Semaphore>,
    /// Admitted persists/restores not finished yet (running or queued).
    pending: Arc<AtomicUsize>,
    active: Arc<AtomicUsize>,
    peak: AtomicUsize,
}

/// A place in the queue; dropping it (done or cancelled) frees the place.
#[derive(Debug)]
pub(crate) struct Ticket {
    pending: Arc<AtomicUsize>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.pending.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A held slot; dropping it frees the slot.
#[derive(Debug)]
pub(crate) struct Slot {
    _permit: OwnedSemaphorePermit,
    active: Arc<AtomicUsize>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.active.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Persistence {
    pub(crate) fn new(slots: usize, queue_limit: usize) -> Self {
        let slots = slots.max(1);
        Persistence {
            slots,
            queue_limit,
            semaphore: Arc::new(Semaphore::new(slots)),
            pending: Arc::new(AtomicUsize::new(0)),
            active: Arc::new(AtomicUsize::new(0)),
            peak: AtomicUsize::new(0),
        }
    }

    /// Admits the `count` persists of one request, or refuses the request with the 429 ES
    /// sends when its thread pool queue is full: when `slots + queue_limit` persists are
    /// already admitted. Call under the cluster lock so admissions do not race.
    pub(crate) fn admit_request(&self, count: usize, what: &str) -> Result<Vec<Ticket>, EsError> {
        if count == 0 {
            return Ok(Vec::new());
        }
        let pending = self.pending.load(Ordering::SeqCst);
        let capacity = self.slots + self.queue_limit;
        if pending >= capacity {
            let queued = pending.saturating_sub(self.slots);
            return Err(EsError::new(
                429,
                "es_rejected_execution_exception",
                format!(
                    "rejected execution of {what} on EsThreadPoolExecutor[name = ml_utility, \
                     queue capacity = {}, active threads = {}, queued tasks = {queued}]",
                    self.queue_limit,
                    self.active.load(Ordering::SeqCst),
                ),
            ));
        }
        Ok(self.admit_unbounded(count))
    }

    /// Admits persists the cluster starts by itself (lookback auto-close): never refused.
    pub(crate) fn admit_unbounded(&self, count: usize) -> Vec<Ticket> {
        self.pending.fetch_add(count, Ordering::SeqCst);
        (0..count)
            .map(|_| Ticket {
                pending: Arc::clone(&self.pending),
            })
            .collect()
    }

    /// Waits (FIFO) for a free slot.
    pub(crate) async fn acquire(&self) -> Slot {
        let permit = Arc::clone(&self.semaphore)
            .acquire_owned()
            .await
            .expect("the persistence semaphore is never closed");
        let active = self.active.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(active, Ordering::SeqCst);
        Slot {
            _permit: permit,
            active: Arc::clone(&self.active),
        }
    }

    /// The most persists/restores that ever ran at once.
    pub(crate) fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_slots_plus_queue() {
        let persistence = Persistence::new(2, 1);
        let tickets = persistence
            .admit_request(3, "persist")
            .expect("3 fit in 2 slots + 1 queued");
        let refused = persistence
            .admit_request(1, "persist")
            .expect_err("the queue is full");
        assert_eq!(refused.status.as_u16(), 429);
        assert_eq!(
            refused.error_type(),
            Some("es_rejected_execution_exception")
        );
        drop(tickets);
        assert!(persistence.admit_request(3, "persist").is_ok());
    }

    #[test]
    fn one_request_of_many_jobs_is_queued_whole() {
        let persistence = Persistence::new(1, 1);
        let tickets = persistence
            .admit_request(5_000, "persist")
            .expect("each job's close is its own task: all queue");
        assert_eq!(tickets.len(), 5_000);
        assert!(persistence.admit_request(1, "persist").is_err());
        assert!(persistence.admit_request(0, "persist").is_ok());
    }

    #[tokio::test]
    async fn records_the_peak_of_concurrent_slots() {
        let persistence = Persistence::new(3, 0);
        let first = persistence.acquire().await;
        let second = persistence.acquire().await;
        drop(first);
        let _third = persistence.acquire().await;
        drop(second);
        assert_eq!(persistence.peak(), 2);
    }
}
