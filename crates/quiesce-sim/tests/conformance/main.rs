//! Conformance tests of `quiesce sim` against docs/elasticsearch-ml-api.md, written from the spec (not from the
//! simulator's code) and run over real HTTP against the real binary, one process per test.
//!
//! Each module covers one part of the spec: §1 conventions, §3.1/§3.2 state tables, §4 error
//! catalogue, §5 id expressions, §2 endpoint details, upgrade mode, security, and the `/_sim/`
//! control API of the simulator contract.

mod control;
mod conventions;
mod datafeed_states;
mod errors;
mod harness;
mod ids;
mod job_states;
mod lifecycle;
mod security;
mod sim_api;
mod support;
mod timing;
mod upgrade_mode;
mod versions;
