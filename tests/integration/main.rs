//! The one integration test binary: each module runs the real `quiesce` binary or talks to the
//! simulator over real HTTP.

mod apply;
mod capture;
mod demo_cluster;
mod journal;
mod plan;
mod rig;
mod rolling_restart;
mod schema;
mod tls;
mod validate;
