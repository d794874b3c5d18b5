//! `JsonReporter`: JSON Lines for programs (`--output json`), one object per event, each
//! carrying the format `version`.

use std::io::Write;

use serde::Serialize;

use crate::exec::{EVENT_FORMAT_VERSION, Event};

use super::Reporter;

/// Writes `{"version": 1, "at": …, "elapsed_ms": …, "event": "step_succeeded", …}` per event,
/// flushed line by line so a consumer sees each event as it happens.
pub(crate) struct JsonReporter {
    out: Box<dyn Write + Send>,
}

#[derive(Serialize)]
struct Line<'a> {
    version: u32,
    #[serde(flatten)]
    event: &'a Event,
}

impl JsonReporter {
    pub(crate) fn new(out: Box<dyn Write + Send>) -> JsonReporter {
        JsonReporter { out }
    }
}

impl Reporter for JsonReporter {
    fn report(&mut self, event: &Event) {
        let line = Line {
            version: EVENT_FORMAT_VERSION,
            event,
        };
        // A consumer that went away (closed pipe) must not change how the run goes.
        if serde_json::to_writer(&mut self.out, &line).is_ok() {
            let _ = self.out.write_all(b"\n");
        }
        let _ = self.out.flush();
    }

    fn finish(&mut self) {
        let _ = self.out.flush();
    }
}
