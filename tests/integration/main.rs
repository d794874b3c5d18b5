//! The integration test binary: one module per area, all over real HTTP.

mod sim_api;
mod support;
