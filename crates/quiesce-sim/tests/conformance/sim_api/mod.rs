//! The simulator over real HTTP, by area (see each module). Each test starts its own
//! in-process simulator from a seed.

mod control;
mod http;
mod lifecycle;
mod timing;

pub(crate) const TWO_JOBS: &str = "
jobs:
  - {id: j1, groups: [g], state: opened, model_bytes: 1mb}
  - {id: j2, state: opened, model_bytes: 1mb}
datafeeds:
  - {id: df-j1, job: j1, state: started}
";
