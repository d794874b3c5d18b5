//! Small presentation helpers shared by the human renderers: ANSI colour applied only when the
//! process-wide colour decision allows it, and durations written the way people read them.

use std::time::Duration;

/// Colours text with ANSI SGR codes, or leaves it untouched when colour is off.
#[derive(Debug, Clone, Copy)]
pub(super) struct Paint {
    color: bool,
}

impl Paint {
    pub(super) fn new(color: bool) -> Paint {
        Paint { color }
    }

    fn sgr(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    pub(super) fn green(self, text: &str) -> String {
        self.sgr("32", text)
    }

    pub(super) fn yellow(self, text: &str) -> String {
        self.sgr("33", text)
    }

    pub(super) fn red(self, text: &str) -> String {
        self.sgr("31", text)
    }

    pub(super) fn dim(self, text: &str) -> String {
        self.sgr("2", text)
    }

    pub(super) fn bold(self, text: &str) -> String {
        self.sgr("1", text)
    }
}

/// A step or run duration: milliseconds under a second (`840ms`), else seconds with one
/// decimal (`12.3s`).
pub(in crate::report) fn human_duration(duration: Duration) -> String {
    if duration < Duration::from_secs(1) {
        format!("{}ms", duration.as_millis())
    } else {
        format!("{:.1}s", duration.as_secs_f64())
    }
}

/// `1 attempt`, `3 attempts`.
pub(in crate::report) fn attempts(count: u32) -> String {
    if count == 1 {
        "1 attempt".to_owned()
    } else {
        format!("{count} attempts")
    }
}
