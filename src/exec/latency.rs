//! `Latencies`: what this run has observed of the cluster's answers, per action, and what each
//! new answer says about its load ([`Signal`]).
//!
//! A close persists its job's model and an open restores it, so their latency is a base plus
//! `model_bytes` over a transfer rate, plus whatever they waited in the cluster's queue. Both
//! figures are learnt from the lower envelope of the answers (the quickest base; the best rate
//! among answers that spent at least as long transferring as the base), so that the queueing
//! part of each answer can be told apart: a queue that stays below the service time keeps the
//! bottleneck busy; one well above it means too much is in flight. The other actions have no
//! size: their latency is compared with the quickest seen.
//!
//! Owns the estimates. Must never read a clock: latencies are handed in.

use std::time::Duration;

use crate::plan::Action;

use super::window::Signal;

/// How fast the running averages follow new answers.
const SMOOTHING: f64 = 0.1;
/// Queueing below this share of the service time leaves room for more in flight.
const TRANSFER_ROOM: f64 = 0.5;
/// Queueing above this share of the service time: too much in flight.
const TRANSFER_CONGESTED: f64 = 1.5;
/// An answer slower than this many times the quickest leaves room for no more …
const PLAIN_ROOM: f64 = 2.0;
/// … and slower than this many times: too much in flight.
const PLAIN_CONGESTED: f64 = 4.0;

/// Observed latencies of one run.
#[derive(Debug, Clone, Default)]
pub(crate) struct Latencies {
    close: Transfer,
    open: Transfer,
    plain: [Plain; 5],
}

impl Latencies {
    /// Records the latency of a request of `action` about a model of `bytes`, and says what it
    /// tells about the cluster's load.
    pub(crate) fn record(&mut self, action: Action, bytes: u64, latency: Duration) -> Signal {
        let seconds = latency.as_secs_f64();
        match action.job_transition().unwrap_or(action) {
            Action::CloseJob => self.close.record(bytes, seconds),
            Action::OpenJob => self.open.record(bytes, seconds),
            other => self.plain[plain_index(other)].record(seconds),
        }
    }

    /// The mean latency observed for `action`, if any answer came.
    pub(crate) fn mean(&self, action: Action) -> Option<Duration> {
        let mean = match action.job_transition().unwrap_or(action) {
            Action::CloseJob => self.close.mean,
            Action::OpenJob => self.open.mean,
            other => self.plain[plain_index(other)].mean,
        };
        mean.map(Duration::from_secs_f64)
    }

    /// The expected latency of `action` on a model of `bytes` with nothing queued, once answers
    /// have shown it; `None` before.
    #[cfg(test)]
    pub(crate) fn service(&self, action: Action, bytes: u64) -> Option<Duration> {
        let seconds = match action {
            Action::CloseJob => self.close.service(bytes),
            Action::OpenJob => self.open.service(bytes),
            other => self.plain[plain_index(other)].quickest,
        };
        seconds.map(Duration::from_secs_f64)
    }
}

fn plain_index(action: Action) -> usize {
    match action {
        Action::StopDatafeed => 0,
        Action::StartDatafeed => 1,
        Action::EnableUpgradeMode
        | Action::DisableUpgradeMode
        | Action::ScheduleMaintenance
        | Action::RemoveMaintenance => 2,
        Action::CloseJob | Action::OpenJob | Action::RefreshOpenJob | Action::RefreshCloseJob => 3,
        // Each loads and persists a model, or deletes documents: their own kind of wait.
        Action::UpgradeSnapshot | Action::DeleteSnapshot => 4,
    }
}

/// A close or an open: base + bytes / rate, plus queueing.
#[derive(Debug, Clone, Default)]
struct Transfer {
    /// The quickest answer (seconds): the base latency of a small model, nothing queued.
    base: Option<f64>,
    /// The best bytes per second among answers long enough to tell.
    rate: Option<f64>,
    /// Running averages of the queueing and of the service time (seconds).
    queued: f64,
    served: f64,
    mean: Option<f64>,
}

impl Transfer {
    fn record(&mut self, bytes: u64, seconds: f64) -> Signal {
        let base = self.base.map_or(seconds, |b| b.min(seconds));
        self.base = Some(base);
        let transferring = seconds - base;
        if bytes > 0 && transferring >= base.max(0.001) {
            let rate = bytes as f64 / transferring;
            self.rate = Some(self.rate.map_or(rate, |r| r.max(rate)));
        }
        self.mean = Some(smooth(self.mean, seconds));
        let Some(service) = self.service(bytes) else {
            return Signal::Clear;
        };
        let service = service.min(seconds);
        self.queued += SMOOTHING * ((seconds - service) - self.queued);
        self.served += SMOOTHING * (service - self.served);
        let share = self.queued / self.served.max(f64::EPSILON);
        if share < TRANSFER_ROOM {
            Signal::Clear
        } else if share > TRANSFER_CONGESTED {
            Signal::Congested
        } else {
            Signal::Queued
        }
    }

    fn service(&self, bytes: u64) -> Option<f64> {
        let base = self.base?;
        Some(base + self.rate.map_or(0.0, |rate| bytes as f64 / rate))
    }
}

/// Any other action: its latency against the quickest seen.
#[derive(Debug, Clone, Default)]
struct Plain {
    quickest: Option<f64>,
    slowdown: f64,
    mean: Option<f64>,
}

impl Plain {
    fn record(&mut self, seconds: f64) -> Signal {
        let quickest = self.quickest.map_or(seconds, |q| q.min(seconds));
        self.quickest = Some(quickest);
        self.mean = Some(smooth(self.mean, seconds));
        let slowdown = seconds / quickest.max(0.000_1);
        self.slowdown += SMOOTHING * (slowdown - self.slowdown);
        if self.slowdown < PLAIN_ROOM {
            Signal::Clear
        } else if self.slowdown > PLAIN_CONGESTED {
            Signal::Congested
        } else {
            Signal::Queued
        }
    }
}

fn smooth(mean: Option<f64>, value: f64) -> f64 {
    mean.map_or(value, |m| m + SMOOTHING * (value - m))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1024 * 1024;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_close_is_learnt_as_base_plus_bytes_over_rate() {
        let mut latencies = Latencies::default();
        // 300 ms base, 100 MB/s: 1 MB -> 310 ms, 100 MB -> 1.3 s.
        latencies.record(Action::CloseJob, MB, ms(310));
        latencies.record(Action::CloseJob, 100 * MB, ms(1_300));
        let service = latencies
            .service(Action::CloseJob, 50 * MB)
            .expect("learnt");
        assert!(
            (service.as_secs_f64() - 0.81).abs() < 0.02,
            "{service:?} for 50 MB"
        );
    }

    #[test]
    fn closes_that_wait_long_in_the_queue_say_congested() {
        let mut latencies = Latencies::default();
        latencies.record(Action::CloseJob, MB, ms(310));
        latencies.record(Action::CloseJob, 100 * MB, ms(1_300));
        let mut last = Signal::Clear;
        for _ in 0..30 {
            // 50 MB served in 0.81 s, but answered after 3 s: 2.2 s in the queue.
            last = latencies.record(Action::CloseJob, 50 * MB, ms(3_000));
        }
        assert_eq!(last, Signal::Congested);
        for _ in 0..60 {
            last = latencies.record(Action::CloseJob, 50 * MB, ms(820));
        }
        assert_eq!(last, Signal::Clear, "the queue drained");
    }

    #[test]
    fn plain_actions_compare_with_the_quickest() {
        let mut latencies = Latencies::default();
        assert_eq!(
            latencies.record(Action::StopDatafeed, 0, ms(200)),
            Signal::Clear
        );
        let mut last = Signal::Clear;
        for _ in 0..40 {
            last = latencies.record(Action::StopDatafeed, 0, ms(1_200));
        }
        assert_eq!(last, Signal::Congested);
        assert!(latencies.mean(Action::StopDatafeed).expect("seen") > ms(1_000));
        assert_eq!(latencies.mean(Action::StartDatafeed), None);
    }
}
