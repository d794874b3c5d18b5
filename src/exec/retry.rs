//! `Backoff`: how long to wait before each retry. Exponential (factor 2) from the initial
//! backoff, capped at the maximum, with full jitter (a uniform draw between zero and the cap,
//! so that many steps retrying at once spread out instead of hitting the cluster together).
//! A server's `Retry-After` is a floor.

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// The retry schedule of one step.
#[derive(Debug)]
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    /// Attempts in all, the first included.
    attempts: u32,
    /// Attempts made so far.
    made: u32,
    rng: SmallRng,
}

impl Backoff {
    pub(crate) fn new(attempts: u32, initial: Duration, max: Duration, seed: u64) -> Backoff {
        Backoff {
            initial,
            max: max.max(initial),
            attempts: attempts.max(1),
            made: 0,
            rng: SmallRng::seed_from_u64(seed),
        }
    }

    /// Records an attempt and returns its number (1-based).
    pub(crate) fn attempt(&mut self) -> u32 {
        self.made += 1;
        self.made
    }

    /// Starts the schedule over, as after a success that ends a run of failures.
    pub(crate) fn reset(&mut self) {
        self.made = 0;
    }

    /// The last attempt does not count against the budget: the cluster refused it for overload,
    /// which says nothing about the request (the step's timeout still bounds the step).
    pub(crate) fn forgive(&mut self) {
        self.attempts = self.attempts.saturating_add(1);
    }

    /// Attempts made so far.
    pub(crate) fn made(&self) -> u32 {
        self.made
    }

    /// The wait before the next attempt, or `None` when the attempts are used up.
    /// `retry_after` (from the server) raises the wait to at least that long.
    pub(crate) fn next_delay(&mut self, retry_after: Option<Duration>) -> Option<Duration> {
        if self.made >= self.attempts {
            return None;
        }
        let exponent = self.made.saturating_sub(1).min(30);
        let cap = self.initial.saturating_mul(1 << exponent).min(self.max);
        let jittered = Duration::from_millis(
            self.rng
                .random_range(0..=u64::try_from(cap.as_millis()).unwrap_or(u64::MAX)),
        );
        Some(jittered.max(retry_after.unwrap_or_default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_stay_under_an_exponential_cap_and_stop_after_the_attempts() {
        let mut backoff = Backoff::new(5, Duration::from_secs(1), Duration::from_secs(4), 7);
        let mut caps = Vec::new();
        while let Some(attempt) = Some(backoff.attempt()).filter(|a| *a <= 5) {
            match backoff.next_delay(None) {
                Some(delay) => caps.push((attempt, delay)),
                None => break,
            }
        }
        assert_eq!(caps.len(), 4, "5 attempts means 4 waits: {caps:?}");
        for (attempt, delay) in caps {
            let cap = Duration::from_secs(1 << (attempt - 1)).min(Duration::from_secs(4));
            assert!(delay <= cap, "attempt {attempt}: {delay:?} > {cap:?}");
        }
    }

    #[test]
    fn jitter_spreads_the_waits() {
        let waits: Vec<Duration> = (0..20)
            .map(|seed| {
                let mut b = Backoff::new(3, Duration::from_secs(8), Duration::from_secs(8), seed);
                b.attempt();
                b.next_delay(None).expect("a wait")
            })
            .collect();
        let distinct: std::collections::BTreeSet<_> = waits.iter().collect();
        assert!(distinct.len() > 10, "{waits:?}");
    }

    #[test]
    fn retry_after_is_a_floor() {
        let mut backoff = Backoff::new(3, Duration::from_millis(10), Duration::from_millis(20), 1);
        backoff.attempt();
        assert_eq!(
            backoff.next_delay(Some(Duration::from_secs(5))),
            Some(Duration::from_secs(5))
        );
    }

    #[test]
    fn a_forgiven_attempt_leaves_the_budget_whole() {
        let mut backoff = Backoff::new(1, Duration::from_secs(1), Duration::from_secs(1), 1);
        backoff.attempt();
        backoff.forgive();
        assert!(backoff.next_delay(None).is_some());
        backoff.attempt();
        assert_eq!(backoff.next_delay(None), None);
        assert_eq!(backoff.made(), 2);
    }

    #[test]
    fn a_single_attempt_never_retries() {
        let mut backoff = Backoff::new(1, Duration::from_secs(1), Duration::from_secs(1), 1);
        backoff.attempt();
        assert_eq!(backoff.next_delay(None), None);
    }
}
