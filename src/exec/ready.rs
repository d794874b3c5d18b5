//! `Ready`: the steps of one lane that may start, the highest priority first, kept apart from
//! those whose dependencies' outcomes are not yet committed to the journal (they may start only
//! after the next group commit).
//!
//! Owns the order among ready steps. Must never decide when to commit: the scheduler does.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::event::StepNo;

/// A ready step's rank: higher priority first, then the lower step number.
pub(crate) type Rank = (u64, Reverse<StepNo>);

#[derive(Debug, Default)]
pub(crate) struct Ready {
    committed: BinaryHeap<Rank>,
    uncommitted: Vec<Rank>,
}

impl Ready {
    /// Adds a ready step; `committed` when its dependencies' outcomes are durable (or it has
    /// none).
    pub(crate) fn push(&mut self, priority: u64, no: StepNo, committed: bool) {
        let rank = (priority, Reverse(no));
        if committed {
            self.committed.push(rank);
        } else {
            self.uncommitted.push(rank);
        }
    }

    /// Everything handed to the sink so far is durable now.
    pub(crate) fn committed(&mut self) {
        self.committed.extend(self.uncommitted.drain(..));
    }

    pub(crate) fn has_committed(&self) -> bool {
        !self.committed.is_empty()
    }

    pub(crate) fn has_uncommitted(&self) -> bool {
        !self.uncommitted.is_empty()
    }

    /// Ready steps, committed or not.
    pub(crate) fn len(&self) -> usize {
        self.committed.len() + self.uncommitted.len()
    }

    /// The rank of the step [`Ready::pop`] would give.
    pub(crate) fn peek(&self) -> Option<Rank> {
        self.committed.peek().copied()
    }

    /// The committed step of the highest priority.
    pub(crate) fn pop(&mut self) -> Option<StepNo> {
        self.committed.pop().map(|(_, Reverse(no))| no)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_highest_priority_first_then_the_lower_number() {
        let mut ready = Ready::default();
        ready.push(5, 3, true);
        ready.push(9, 4, true);
        ready.push(5, 1, true);
        let order: Vec<StepNo> = std::iter::from_fn(|| ready.pop()).collect();
        assert_eq!(order, vec![4, 1, 3]);
    }

    #[test]
    fn uncommitted_steps_wait_for_the_commit() {
        let mut ready = Ready::default();
        ready.push(9, 1, false);
        ready.push(1, 2, true);
        assert_eq!(ready.len(), 2);
        assert_eq!(ready.pop(), Some(2));
        assert_eq!(ready.pop(), None);
        assert!(ready.has_uncommitted());
        ready.committed();
        assert_eq!(ready.pop(), Some(1));
    }
}
