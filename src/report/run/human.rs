//! `HumanReporter`: what a person watching `apply` sees on stderr.

use std::io::Write;

use indicatif::ProgressDrawTarget;

use crate::exec::{Event, EventKind};
use crate::plan::PlanView;

use super::Reporter;
use super::labels::StepLabels;
use super::line;
use super::live::LiveDisplay;
use super::style::Paint;
use super::summary;
use super::tally::RunTally;

/// Live bars on a terminal, plain lines elsewhere; the final summary in both cases.
pub(crate) struct HumanReporter {
    out: Box<dyn Write + Send>,
    labels: StepLabels,
    tally: RunTally,
    paint: Paint,
    live: Option<LiveDisplay>,
    finished: bool,
}

impl HumanReporter {
    /// `live` says that `out` is the terminal on stderr: the progress display is then drawn on
    /// stderr (indicatif needs the terminal itself, for its width), every line is printed above it,
    /// and `out` gets the summary once the bars are gone. Otherwise every noteworthy event is a
    /// plain line on `out`. `color` is the process-wide colour decision
    /// (`report::diagnostic::color_enabled`, which folds in `NO_COLOR`); without it no ANSI
    /// colour is written.
    pub(crate) fn new(
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
            // A hidden target (`TERM=dumb`, no terminal after all) would swallow the lines
            // too: plain lines are the better fallback.
            live: target
                .filter(|target| !target.is_hidden())
                .map(|target| LiveDisplay::new(target, labels.len())),
            tally: RunTally::new(labels.len()),
            out,
            labels,
            paint: Paint::new(color),
            finished: false,
        }
    }

    /// Write errors are ignored: a closed stderr must not change how the run goes.
    fn write_line(&mut self, line: &str) {
        // One write for the line and its newline: stderr is unbuffered.
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        let _ = self.out.write_all(&bytes);
        let _ = self.out.flush();
    }
}

impl Reporter for HumanReporter {
    fn report(&mut self, event: &Event) {
        self.tally.record(event);
        let line = line::render(event, &self.labels, self.paint);
        // The verification comes after the run, once the live display is gone.
        let after_run = self.tally.finished().is_some();
        match &mut self.live {
            Some(live) if !after_run || matches!(event.kind, EventKind::RunFinished { .. }) => {
                live.update(&self.tally, &self.labels, event.elapsed, self.paint);
                // Every line stays in the scrollback above the bars, as cargo and Terraform
                // leave one per finished unit.
                if let Some(line) = line {
                    live.println(&line);
                }
            }
            _ => {
                if let Some(line) = line {
                    self.write_line(&line);
                }
            }
        }
        // Freeze the display when the run ends, even if `finish` comes a little later.
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
        let _ = write!(self.out, "\n{summary}");
        let _ = self.out.flush();
    }
}
