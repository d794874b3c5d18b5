//! Turns what the other stages produce into bytes for people or programs, on the stream
//! [`stream`] assigns. Nothing here can influence what the stages decide.

pub(crate) mod diagnostic;
mod format;
pub(crate) mod http;
pub(crate) mod plan;
pub(crate) mod run;
pub(crate) mod runs;
pub(crate) mod stream;

pub(crate) use format::{ColorChoice, OutputFormat};
