//! `HumanReporter`: what a person watching `apply` sees on stderr.

use std::io::Write;
use std::sync::{Arc, Mutex};

use crate::exec::{Event, EventKind};
use crate::plan::PlanView;

use super::Reporter;
use super::labels::StepLabels;
use super::line::{self, Weight};
use super::live::{LiveDisplay, SharedOut, lock};
use super::style::Paint;
use super::summary;
use super::tally::RunTally;

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
    /// `live` (the writer is a terminal) turns on the progress display; `color` is the
    /// process-wide colour decision (`report::diagnostic::color_enabled`, which folds in
    /// `NO_COLOR`). Without colour no ANSI sequence is written, except the cursor movements
    /// of the live display.
    pub fn new(
        view: &PlanView,
        out: Box<dyn Write + Send>,
        live: bool,
        color: bool,
    ) -> HumanReporter {
        let labels = StepLabels::new(view);
        let out: SharedOut = Arc::new(Mutex::new(out));
        HumanReporter {
            live: live.then(|| LiveDisplay::new(Arc::clone(&out), labels.len())),
            tally: RunTally::new(labels.len()),
            out,
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
                if let Some((Weight::Alert, line)) = line {
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
