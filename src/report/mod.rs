//! Turns what the other stages produce into bytes for people or programs, on the stream
//! [`stream`] assigns. Nothing here can influence what the stages decide.

pub mod diagnostic;
mod format;
pub mod http;
pub mod plan;
pub mod run;
pub mod stream;

pub use format::{ColorChoice, OutputFormat};
