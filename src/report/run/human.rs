//! `HumanReporter`: what a person watching `apply` sees on stderr.

use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use indicatif::ProgressDrawTarget;

use crate::exec::{Event, EventKind};
use crate::plan::PlanView;

use super::Reporter;
use super::labels::StepLabels;
use super::line::{self, Weight};
use super::live::LiveDisplay;
use super::style::Paint;
use super::summary;
use super::tally::RunTally;

/// The writer the reporter was given, shared with nothing else but kept behind a lock so that
/// a reporter stays `Send` with any writer.
type SharedOut = Arc<Mutex<Box<dyn Write + Send>>>;

fn lock(out: &SharedOut) -> MutexGuard<'_, Box<dyn Write + Send>> {
    out.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Live bars on a terminal, plain lines elsewhere; the final summary in both cases.
pub struct HumanReporter {
    out: SharedOut,
    labels: StepLabels,
    tally: RunTally,
    paint: Paint,
    live: Option<LiveDisplay>,
    finished: bool,
}

impl HumanReporter {
    /// `live` says that `out` is the terminal on stderr: the progress display is then drawn on
    /// stderr (indicatif needs the terminal itself, for its width), alerts are printed above it,
    /// and `out` gets the summary once the bars are gone. Otherwise every noteworthy event is a
    /// plain line on `out`. `color` is the process-wide colour decision
    /// (`report::diagnostic::color_enabled`, which folds in `NO_COLOR`); without it no ANSI
    /// colour is written.
    pub fn new(
        view: &PlanView,
        out: Box<dyn Write + Send>,
        live: bool,
        color: bool,
    ) -> HumanReporter {
        let target = live.then(ProgressDrawTarget::stderr);
        HumanReporter::with_live_target(view, out, target, color)
    }

    /// As [`HumanReporter::new`], with the live display drawn on `target` (a fake terminal in
    /// tests).
    pub(super) fn with_live_target(
        view: &PlanView,
        out: Box<dyn Write + Send>,
        target: Option<ProgressDrawTarget>,
        color: bool,
    ) -> HumanReporter {
        let labels = StepLabels::new(view);
        HumanReporter {
            // A hidden target (`TERM=dumb`, no terminal after all) would swallow the alert lines
            // too: plain lines are the better fallback.
            live: target
                .filter(|target| !target.is_hidden())
                .map(|target| LiveDisplay::new(target, labels.len())),
            tally: RunTally::new(labels.len()),
            out: Arc::new(Mutex::new(out)),
            labels,
            paint: Paint::new(color),
            finished: false,
        }
    }

    fn write_line(&self, line: &str) {
        let mut out = lock(&self.out);
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

impl Reporter for HumanReporter {
    fn report(&mut self, event: &Event) {
        self.tally.record(event);
        let line = line::render(event, &self.labels, self.paint);
        match &mut self.live {
            Some(live) => {
                live.update(&self.tally, &self.labels, event.elapsed, self.paint);
                if let Some((Weight::Heading | Weight::Alert, line)) = line {
                    live.println(&line);
                }
            }
            None => {
                if let Some((_, line)) = line {
                    self.write_line(&line);
                }
            }
        }
        if let EventKind::RunFinished { .. } = event.kind
            && let Some(live) = &mut self.live
        {
            live.clear();
        }
    }

    fn finish(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        if let Some(live) = &mut self.live {
            live.clear();
        }
        let summary = summary::render(&self.tally, &self.labels, self.paint);
        let mut out = lock(&self.out);
        let _ = write!(out, "\n{summary}");
        let _ = out.flush();
    }
}
