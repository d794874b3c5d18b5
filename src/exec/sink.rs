//! `EventSink`: where the scheduler hands every event, in order, and how it asks for what it
//! handed over to be made durable before a step that depends on it starts (group commit: one
//! fsync of the journal covers every outcome since the last one).
//!
//! A closure `FnMut(Event)` is a sink with nothing to commit (tests, reporters alone).

use super::event::Event;

/// Receives the run's events in order.
pub(crate) trait EventSink {
    fn event(&mut self, event: Event);

    /// Makes every event handed over so far durable before returning. The scheduler calls it
    /// before it starts a step whose dependencies' outcomes came after the last commit, at most
    /// once for all of them.
    fn commit(&mut self) {}
}

impl<F: FnMut(Event)> EventSink for F {
    fn event(&mut self, event: Event) {
        self(event);
    }
}
