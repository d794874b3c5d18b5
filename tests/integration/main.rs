//! The one integration test binary: each module runs the real `quiesce` binary or talks to the
//! simulator over real HTTP.

mod apply;
mod capture;
mod cluster_lease;
mod connection;
mod demo_cluster;
mod examples;
mod exit_codes;
mod help;
mod journal;
mod maintenance;
mod plan;
mod recovery;
mod reliability;
mod rig;
mod rolling_restart;
mod runbook;
mod schema;
mod snapshot_gate;
mod soak;
mod tls;
mod validate;
