//! The live display for a terminal: an overall bar (done/total, run time), a line of counts,
//! and the three longest-running steps with their elapsed time, redrawn in place by indicatif;
//! alert lines are printed above the bars.
//!
//! indicatif draws through [`WriterTerm`] into the reporter's own writer, so the display goes
//! wherever the caller points the reporter (stderr in `apply`, a buffer in tests).

use std::fmt;
use std::io::{self, Write};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{
    MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle, TermLike,
};

use super::labels::StepLabels;
use super::style::{Paint, human_duration};
use super::tally::RunTally;

/// The writer the reporter was given, shared between indicatif's drawing and the summary.
pub(super) type SharedOut = Arc<Mutex<Box<dyn Write + Send>>>;

pub(super) fn lock(out: &SharedOut) -> MutexGuard<'_, Box<dyn Write + Send>> {
    out.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How many in-flight steps the display names.
const SLOWEST_SHOWN: usize = 3;
/// Redraw often enough for elapsed times to look alive without costing a core.
const TICK: Duration = Duration::from_millis(200);
/// indicatif needs a width to know how many lines it drew. The reporter cannot ask the writer
/// for its terminal size, so it assumes the classic width (or `COLUMNS` when exported) and keeps
/// its own lines shorter than that.
const DEFAULT_WIDTH: u16 = 80;

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
    pub(super) fn new(out: SharedOut, total: usize) -> LiveDisplay {
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|columns| columns.parse().ok())
            .unwrap_or(DEFAULT_WIDTH);
        let multi =
            MultiProgress::with_draw_target(ProgressDrawTarget::term_like(Box::new(WriterTerm {
                out,
                width,
            })));
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
            .into_iter()
            .take(SLOWEST_SHOWN)
            .map(|(step, since)| InFlight {
                name: truncate(&labels.name(step), 60),
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

fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        text.to_owned()
    } else {
        let mut short: String = text.chars().take(max_chars.saturating_sub(1)).collect();
        short.push('…');
        short
    }
}

/// indicatif's terminal operations as ANSI sequences on the reporter's writer.
struct WriterTerm {
    out: SharedOut,
    width: u16,
}

impl fmt::Debug for WriterTerm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriterTerm")
            .field("width", &self.width)
            .finish_non_exhaustive()
    }
}

impl WriterTerm {
    fn write(&self, text: &str) -> io::Result<()> {
        lock(&self.out).write_all(text.as_bytes())
    }

    fn move_cursor(&self, n: usize, direction: char) -> io::Result<()> {
        if n == 0 {
            return Ok(());
        }
        self.write(&format!("\x1b[{n}{direction}"))
    }
}

impl TermLike for WriterTerm {
    fn width(&self) -> u16 {
        self.width
    }

    fn move_cursor_up(&self, n: usize) -> io::Result<()> {
        self.move_cursor(n, 'A')
    }

    fn move_cursor_down(&self, n: usize) -> io::Result<()> {
        self.move_cursor(n, 'B')
    }

    fn move_cursor_right(&self, n: usize) -> io::Result<()> {
        self.move_cursor(n, 'C')
    }

    fn move_cursor_left(&self, n: usize) -> io::Result<()> {
        self.move_cursor(n, 'D')
    }

    fn write_line(&self, s: &str) -> io::Result<()> {
        let mut out = lock(&self.out);
        out.write_all(s.as_bytes())?;
        out.write_all(b"\n")
    }

    fn write_str(&self, s: &str) -> io::Result<()> {
        self.write(s)
    }

    fn clear_line(&self) -> io::Result<()> {
        self.write("\r\x1b[2K")
    }

    fn flush(&self) -> io::Result<()> {
        lock(&self.out).flush()
    }
}
