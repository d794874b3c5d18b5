//! The live display for a terminal: an overall bar (done/total, run time), a line of counts,
//! and the three longest-running steps with their elapsed time, redrawn in place by indicatif;
//! the lines of finished steps and alerts are printed above the bars, into the scrollback.
//!
//! indicatif draws on stderr itself: it needs the terminal's width (it pads each line to the
//! right edge and counts wrapped lines to move the cursor back), which only a terminal handle
//! can tell. Tests draw on a fixed-width fake terminal instead.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use super::labels::StepLabels;
use super::style::{Paint, human_duration};
use super::tally::RunTally;

/// How many in-flight steps the display names.
const SLOWEST_SHOWN: usize = 3;
/// Redraw often enough for elapsed times to look alive without costing a core.
const TICK: Duration = Duration::from_millis(200);

/// A step shown in one of the "slowest in flight" lines.
#[derive(Debug, Clone)]
struct InFlight {
    name: String,
    since: Instant,
}

/// Shared between the reporter (which decides what each slot shows) and indicatif's tick
/// threads (which redraw the slots with a fresh elapsed time).
type Slots = Arc<Mutex<Vec<InFlight>>>;

pub(super) struct LiveDisplay {
    multi: MultiProgress,
    overall: ProgressBar,
    counts: ProgressBar,
    slot_bars: Vec<ProgressBar>,
    slots: Slots,
    /// The instant the run started, derived from the first event's elapsed time.
    origin: Arc<Mutex<Option<Instant>>>,
}

impl LiveDisplay {
    pub(super) fn new(target: ProgressDrawTarget, total: usize) -> LiveDisplay {
        let multi = MultiProgress::with_draw_target(target);
        let origin: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
        let run_clock = Arc::clone(&origin);
        let overall_style = ProgressStyle::with_template("[{bar:30}] {pos}/{len} steps · {run}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ")
            .with_key("run", move |_: &ProgressState, w: &mut dyn fmt::Write| {
                let started = *run_clock.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(started) = started {
                    let _ = w.write_str(&human_duration(started.elapsed()));
                }
            });
        let overall = multi.add(
            ProgressBar::new(u64::try_from(total).unwrap_or(u64::MAX)).with_style(overall_style),
        );
        overall.enable_steady_tick(TICK);
        let counts = multi.add(ProgressBar::new(0).with_style(message_style()));
        LiveDisplay {
            multi,
            overall,
            counts,
            slot_bars: Vec::new(),
            slots: Arc::new(Mutex::new(Vec::new())),
            origin,
        }
    }

    /// Brings the bars up to date with the tally after an event at `elapsed`.
    pub(super) fn update(
        &mut self,
        tally: &RunTally,
        labels: &StepLabels,
        elapsed: Duration,
        paint: Paint,
    ) {
        let origin = {
            let mut origin = self.origin.lock().unwrap_or_else(PoisonError::into_inner);
            *origin.get_or_insert_with(|| {
                let now = Instant::now();
                now.checked_sub(elapsed).unwrap_or(now)
            })
        };
        let counts = tally.counts();
        self.overall
            .set_length(u64::try_from(tally.total()).unwrap_or(u64::MAX));
        self.overall
            .set_position(u64::try_from(counts.done()).unwrap_or(u64::MAX));
        let failed = format!("{} failed", counts.stats.failed);
        self.counts.set_message(format!(
            "{} changed · {} already · {} · {} skipped · {} running",
            paint.green(&counts.stats.changed.to_string()),
            counts.stats.already_in_state,
            if counts.stats.failed > 0 {
                paint.red(&failed)
            } else {
                failed
            },
            counts.stats.skipped,
            counts.running,
        ));

        let shown: Vec<InFlight> = tally
            .in_flight()
            .take(SLOWEST_SHOWN)
            .map(|(step, since)| InFlight {
                name: match tally.waiting_for(step) {
                    Some(datafeed) => format!(
                        "{} (waiting for datafeed {datafeed} to catch up)",
                        labels.name(step)
                    ),
                    None => labels.name(step),
                },
                since: origin + since,
            })
            .collect();
        let wanted = shown.len();
        *self.slots.lock().unwrap_or_else(PoisonError::into_inner) = shown;
        while self.slot_bars.len() > wanted {
            if let Some(bar) = self.slot_bars.pop() {
                bar.finish_and_clear();
                self.multi.remove(&bar);
            }
        }
        while self.slot_bars.len() < wanted {
            let bar = self.multi.add(
                ProgressBar::new(0)
                    .with_style(slot_style(Arc::clone(&self.slots), self.slot_bars.len())),
            );
            bar.enable_steady_tick(TICK);
            self.slot_bars.push(bar);
        }
        for bar in &self.slot_bars {
            bar.tick();
        }
    }

    /// Prints a line above the bars.
    pub(super) fn println(&self, line: &str) {
        let _ = self.multi.println(line);
    }

    /// Removes the bars, leaving the terminal to the summary.
    pub(super) fn clear(&mut self) {
        for bar in self.slot_bars.drain(..) {
            bar.finish_and_clear();
        }
        self.counts.finish_and_clear();
        self.overall.finish_and_clear();
        let _ = self.multi.clear();
    }
}

fn message_style() -> ProgressStyle {
    ProgressStyle::with_template("{msg}").unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// A line naming the `index`-th longest-running step and how long it has been running.
fn slot_style(slots: Slots, index: usize) -> ProgressStyle {
    ProgressStyle::with_template("  {slot}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key("slot", move |_: &ProgressState, w: &mut dyn fmt::Write| {
            let slots = slots.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(step) = slots.get(index) {
                let _ = write!(w, "{} {}", step.name, human_duration(step.since.elapsed()));
            }
        })
}
