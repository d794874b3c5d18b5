//! Shutdown speed against the simulator: how close `apply` gets to the fastest shutdown the
//! simulated cluster allows, and how much faster it is than closing jobs one by one.
//!
//! `cargo bench --bench shutdown`. Every figure is a ratio against a figure measured in the
//! same run (the machines are shared and noisy): the lower bound computed from the simulator's
//! own timing model, and a sequential baseline (concurrency 1) run on an identical cluster.
//! `quiesce` runs as the operator runs it: the real binary, as a process.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use quiesce_sim::{Seed, SimOptions, Simulator};

const SEED: &str = "
cluster: { name: bench, version: 8.15.0 }
nodes: { count: 4, memory: 64gb }
latency: { profile: realistic, stop_datafeed: 20ms, close_job: 30ms, stats: 1ms, persist_rate: 4gb }
persistence: { slots: 4, queue_limit: 1000 }
generate: { seed: 7, jobs: 240, with_datafeed: 1.0, opened: 1.0, started: 1.0,
            model_bytes: { min: 1mb, max: 1gb } }
";

const PLAYBOOK: &str = "version: 1
name: bench-shutdown
settings: { concurrency: 8, retry: { attempts: 5, initial_backoff: 10ms, max_backoff: 100ms } }
jobs:
  - match: \"*\"
    state: closed
";

/// The fastest any client could take the simulated cluster down at `concurrency` requests in
/// flight: no faster than the persistence slots allow, than the requests in flight allow, or
/// than the longest single stop-then-close chain.
fn lower_bound(seed: &Seed, concurrency: u32) -> Duration {
    let spec = seed.resolve(None, None).expect("the bench seed is valid");
    let persist = |bytes: u64| {
        Duration::from_secs_f64(bytes as f64 / spec.latency.persist_bytes_per_sec as f64)
    };
    let chains: Vec<Duration> = spec
        .jobs
        .iter()
        .map(|job| spec.latency.stop_datafeed + spec.latency.close_job + persist(job.model_bytes))
        .collect();
    let total_persist: Duration = spec.jobs.iter().map(|j| persist(j.model_bytes)).sum();
    let slots = u32::try_from(spec.persistence.slots).unwrap_or(1).max(1);
    let total_chain: Duration = chains.iter().sum();
    let longest = chains.iter().max().copied().unwrap_or_default();
    (total_persist / slots)
        .max(total_chain / concurrency)
        .max(longest)
}

/// Runs the real `quiesce apply` against a fresh simulated cluster; the time and the number
/// of steps it ran.
async fn shutdown(concurrency: usize) -> (Duration, usize) {
    let seed = Seed::from_yaml_str(SEED, "bench-seed.yaml").expect("seed");
    let sim = Simulator::start(SimOptions {
        listen: "127.0.0.1:0".parse().expect("address"),
        seed,
        es_version: None,
        profile: None,
    })
    .await
    .expect("simulator");
    let dir = tempfile::tempdir().expect("scratch directory");
    let playbook = dir.path().join("bench.yaml");
    std::fs::write(&playbook, PLAYBOOK).expect("playbook");
    let mut command = Command::new(env!("CARGO_BIN_EXE_quiesce"));
    command
        .arg("apply")
        .arg(&playbook)
        .args(["--yes", "--output", "json", "--color", "never"])
        .args(["--concurrency", &concurrency.to_string()])
        .args(["--cluster", &sim.base_url()])
        .stdin(Stdio::null())
        .stderr(Stdio::null());
    let started = Instant::now();
    let output = tokio::task::spawn_blocking(move || command.output().expect("quiesce runs"))
        .await
        .expect("joined");
    let elapsed = started.elapsed();
    assert!(output.status.success(), "apply exited {}", output.status);
    let steps = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| line.contains("\"event\":\"step_succeeded\""))
        .count();
    let stats: serde_json::Value = reqwest::get(format!("{}/_sim/stats", sim.base_url()))
        .await
        .expect("stats")
        .json()
        .await
        .expect("JSON");
    assert_eq!(stats["ordering_violations"], serde_json::json!([]));
    sim.shutdown().await;
    (elapsed, steps)
}

#[expect(clippy::print_stdout, reason = "the benchmark's table is its output")]
fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let seed = Seed::from_yaml_str(SEED, "bench-seed.yaml").expect("seed");
    runtime.block_on(async {
        let (sequential, steps) = shutdown(1).await;
        let (parallel, _) = shutdown(8).await;
        let bound_1 = lower_bound(&seed, 1);
        let bound_8 = lower_bound(&seed, 8);
        println!("shutdown of 240 simulated jobs ({steps} steps), 4 persistence slots");
        println!(
            "  concurrency 1: {:>7.2}s  = {:.2} x its lower bound ({:.2}s)",
            sequential.as_secs_f64(),
            sequential.as_secs_f64() / bound_1.as_secs_f64(),
            bound_1.as_secs_f64()
        );
        println!(
            "  concurrency 8: {:>7.2}s  = {:.2} x its lower bound ({:.2}s)",
            parallel.as_secs_f64(),
            parallel.as_secs_f64() / bound_8.as_secs_f64(),
            bound_8.as_secs_f64()
        );
        println!(
            "  speed-up of concurrency 8 over the sequential baseline: {:.2} x",
            sequential.as_secs_f64() / parallel.as_secs_f64()
        );
    });
}
