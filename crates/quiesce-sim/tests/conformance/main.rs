//! Conformance tests of the simulator against docs/elasticsearch-ml-api.md, written from the
//! spec (not from the simulator's code) and run over real HTTP, each test on its own simulator
//! (`quiesce_sim::testing`): in-process, or the real `quiesce-sim` binary where the command
//! line itself is under test.
//!
//! Each module covers one part of the spec: §1 conventions and the transport, §3.1/§3.2 state
//! tables, §4 error catalogue, §5 id expressions, §2 endpoint details and whole flows, upgrade
//! mode, security, the timing model (persistence, memory, timeouts), and the `/_sim/` control
//! API and fault rules of the simulator contract.

mod calendars;
mod cli;
mod control;
mod conventions;
mod datafeed_states;
mod documents;
mod errors;
mod faults;
mod flows;
mod ids;
mod job_states;
mod lifecycle;
mod nodes;
mod persistence;
mod progress;
mod readiness;
mod rest_spec;
mod security;
mod stats;
mod timing;
mod tls;
mod transport;
mod upgrade_mode;
mod versions;

/// Two opened jobs, `j1` (group `g`) with a started datafeed `df-j1`, and `j2` without one.
pub(crate) const TWO_JOBS: &str = "
jobs:
  - {id: j1, groups: [g], state: opened, model_bytes: 1mb}
  - {id: j2, state: opened, model_bytes: 1mb}
datafeeds:
  - {id: df-j1, job: j1, state: started}
";
