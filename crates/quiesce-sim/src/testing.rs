//! Testing against the simulator from Rust (the `testing` feature): the one harness of this
//! crate's conformance tests and of the runner's integration tests.
//!
//! - [`TestCluster`]: a simulator started in-process from seed YAML text or a seed file, with
//!   an optional ES version and latency profile, and an HTTP client with the calls tests make
//!   (ML shortcuts, the `/_sim/` fault rules and stats, polling for a state).
//! - [`Answer`]: a response read completely, with the assertions every test shares: product
//!   header, JSON content type, the ES error envelope of docs/elasticsearch-ml-api.md §1.3.
//! - [`SimProcess`] and [`assert_seed_refused`]: the real `quiesce-sim` binary, for tests of
//!   the command line itself.
//!
//! Every expectation it checks comes from docs/elasticsearch-ml-api.md, never from the
//! simulator's code. It never sleeps to wait for a state: it polls, with a limit that only
//! ends a hung test.

mod answer;
mod cluster;
mod process;

use std::fmt::Display;
use std::time::Duration;

pub use answer::{Answer, assert_no_node, assert_node};
pub use cluster::{TestCluster, TestClusterBuilder};
pub use process::{SimProcess, assert_seed_refused};

/// How long [`poll`] waits for a state before failing the test: far beyond any state the
/// fast profile reaches, so that only a hung test ends there.
pub const POLL_LIMIT: Duration = Duration::from_secs(60);
const POLL_INTERVAL: Duration = Duration::from_millis(5);

/// Runs `probe` until it gives `Ok`, every few milliseconds; gives that value.
///
/// # Panics
/// After [`POLL_LIMIT`], naming `what` and the last `Err` the probe gave.
pub async fn poll<T, E: Display>(what: &str, mut probe: impl AsyncFnMut() -> Result<T, E>) -> T {
    let deadline = tokio::time::Instant::now() + POLL_LIMIT;
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(last) => assert!(
                tokio::time::Instant::now() < deadline,
                "never happened within {POLL_LIMIT:?}: {what}; last seen: {last}"
            ),
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}
