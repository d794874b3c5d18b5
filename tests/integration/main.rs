//! The integration test binary: one module per area, all over real HTTP.

mod apply;
mod plan;
mod sim_api;
mod support;
