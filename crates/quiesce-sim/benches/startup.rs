//! How fast a big simulated cluster is ready: resolving a 5000-job generated seed, and
//! starting a simulator on it until its first job stats answer.
//!
//! `cargo bench -p quiesce-sim --bench startup`. It prints figures and asserts none: the
//! machines are shared and noisy, so a time limit in a test would only flake (the tests check
//! that such a seed resolves and serves every job, not how fast).

use std::time::{Duration, Instant};

use quiesce_sim::{Seed, SimOptions, Simulator};

const SEED: &str = "generate: {seed: 42, jobs: 5000, with_datafeed: 0.9, started: 0.8, \
                    model_bytes: {min: 1mb, max: 2gb}}\nnodes: {count: 80, memory: 64gb}";
const ROUNDS: u32 = 5;

fn seed() -> Seed {
    Seed::from_yaml_str(SEED, "bench-seed.yaml").expect("the bench seed is valid")
}

/// The fastest of `ROUNDS` runs of `run`.
async fn fastest(mut run: impl AsyncFnMut() -> Duration) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..ROUNDS {
        best = best.min(run().await);
    }
    best
}

#[expect(
    clippy::print_stdout,
    reason = "the benchmark's figures are its output"
)]
fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let resolve = fastest(async || {
            let seed = seed();
            let begun = Instant::now();
            let spec = seed.resolve(None, None).expect("resolves");
            assert_eq!(spec.jobs.len(), 5000);
            begun.elapsed()
        })
        .await;
        let serve = fastest(async || {
            let seed = seed();
            let begun = Instant::now();
            let sim = Simulator::start(SimOptions {
                listen: ([127, 0, 0, 1], 0).into(),
                seed,
                es_version: None,
                profile: None,
            })
            .await
            .expect("starts");
            let stats: serde_json::Value =
                reqwest::get(format!("{}/_ml/anomaly_detectors/_stats", sim.base_url()))
                    .await
                    .expect("stats")
                    .json()
                    .await
                    .expect("JSON");
            let took = begun.elapsed();
            assert_eq!(stats["count"], 5000);
            sim.shutdown().await;
            took
        })
        .await;
        println!("5000 generated jobs, fastest of {ROUNDS}");
        println!("  resolve the seed:             {resolve:>10.1?}");
        println!("  start and answer job stats:   {serve:>10.1?}");
    });
}
