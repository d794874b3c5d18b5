//! `Window`: how many steps of one lane may be in flight, adapted from what the cluster answers
//! (AIMD, as TCP does with its congestion window). It grows while answers come back quick and
//! clean: by one per answer at first (slow start, doubling every round trip), then by one per
//! round trip; it shrinks by half on an overload refusal (429 `es_rejected_execution_exception`)
//! and by a fifth when latency rises (the cluster queues what it cannot serve), at most once
//! per round trip: only an answer to a request sent after the last cut can cut again.
//!
//! Owns the arithmetic. Must never see a clock or a step: the scheduler tells it what happened
//! and when a request went out (a launch number), and asks how many may be in flight.

/// What one answer says about the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    /// Served without queueing much: room for more.
    Clear,
    /// Served, but later than the cluster can serve it alone: about right, hold.
    Queued,
    /// Served after a long wait in the cluster's queue: too many in flight.
    Congested,
    /// Refused for overload (429): too many in flight.
    Overloaded,
}

/// The in-flight limit of one lane.
#[derive(Debug, Clone)]
pub(crate) struct Window {
    size: f64,
    floor: f64,
    ceiling: f64,
    slow_start: bool,
    /// Launch number of the first request sent after the last cut: answers to older requests
    /// describe the cluster before the cut and cannot cut again.
    cut_at: u64,
    cuts: u32,
}

impl Window {
    /// A window starting at `initial`, never below one nor above `ceiling`.
    pub(crate) fn new(initial: usize, ceiling: usize) -> Window {
        let ceiling = ceiling.max(1) as f64;
        Window {
            size: (initial.max(1) as f64).min(ceiling),
            floor: 1.0,
            ceiling,
            slow_start: true,
            cut_at: 0,
            cuts: 0,
        }
    }

    /// How many may be in flight now.
    pub(crate) fn allowed(&self) -> usize {
        // `size` stays within [1, ceiling], and the ceiling came from a `usize`.
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "size is kept within [1, ceiling]"
        )]
        let allowed = self.size.floor() as usize;
        allowed.max(1)
    }

    /// How often the window was cut.
    #[cfg(test)]
    pub(crate) fn cuts(&self) -> u32 {
        self.cuts
    }

    /// An answer to the request sent as launch number `launched`; `next_launch` is the number
    /// the next request will get.
    pub(crate) fn answered(&mut self, signal: Signal, launched: u64, next_launch: u64) {
        match signal {
            Signal::Clear => {
                let step = if self.slow_start {
                    1.0
                } else {
                    1.0 / self.size
                };
                self.size = (self.size + step).min(self.ceiling);
            }
            Signal::Queued => self.slow_start = false,
            Signal::Congested => self.cut(0.8, launched, next_launch),
            Signal::Overloaded => self.cut(0.5, launched, next_launch),
        }
    }

    fn cut(&mut self, factor: f64, launched: u64, next_launch: u64) {
        self.slow_start = false;
        if launched < self.cut_at {
            return;
        }
        self.size = (self.size * factor).max(self.floor);
        self.cut_at = next_launch;
        self.cuts += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_start_doubles_each_round_trip_up_to_the_ceiling() {
        let mut window = Window::new(2, 20);
        let mut launch = 0;
        for expected in [4, 8, 16, 20] {
            for _ in 0..window.allowed() {
                window.answered(Signal::Clear, launch, launch + 1);
                launch += 1;
            }
            assert_eq!(window.allowed(), expected);
        }
    }

    #[test]
    fn an_overload_halves_once_per_round_trip() {
        let mut window = Window::new(32, 64);
        // 32 requests out (launches 0..32); every one of them is refused.
        for launched in 0..32 {
            window.answered(Signal::Overloaded, launched, 32);
        }
        assert_eq!(window.allowed(), 16, "one cut for one round trip");
        assert_eq!(window.cuts(), 1);
        // A request sent after the cut is refused too: cut again.
        window.answered(Signal::Overloaded, 32, 40);
        assert_eq!(window.allowed(), 8);
    }

    #[test]
    fn after_a_cut_it_grows_by_one_per_round_trip() {
        let mut window = Window::new(10, 64);
        window.answered(Signal::Congested, 0, 10);
        assert_eq!(window.allowed(), 8);
        for launched in 10..19 {
            window.answered(Signal::Clear, launched, launched + 1);
        }
        assert_eq!(window.allowed(), 9, "a window's worth of answers: one more");
    }

    #[test]
    fn never_below_one() {
        let mut window = Window::new(1, 4);
        for launched in 0..10 {
            window.answered(Signal::Overloaded, launched, launched + 1);
        }
        assert_eq!(window.allowed(), 1);
    }

    #[test]
    fn queued_answers_hold_the_size() {
        let mut window = Window::new(6, 64);
        window.answered(Signal::Queued, 0, 1);
        window.answered(Signal::Queued, 1, 2);
        assert_eq!(window.allowed(), 6);
    }
}
