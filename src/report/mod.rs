//! Turns what the other stages produce into bytes for people (stderr) or programs (stdout).
//! Nothing here can influence what the stages decide.

pub mod diagnostic;
pub mod plan;
pub mod run;
