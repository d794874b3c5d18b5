//! Shutdown speed against the simulator: how close a shutdown gets to the fastest the cluster
//! allows, and what quiesce costs to run.
//!
//! `cargo bench --bench shutdown`. One seed (by default 2,000 jobs with started datafeeds,
//! models 1 MB–256 MB log-uniform, the realistic profile: stop 200 ms, close 300 ms, persist
//! 150 MB/s, 4 persist slots, a queue of 64), run on a fresh simulator for each of:
//!
//! - quiesce at its default settings, and at `--concurrency 256` (the real binary, as a child
//!   process, as an operator runs it);
//! - the `_all` baseline: `POST _ml/datafeeds/_all/_stop`, then `_ml/anomaly_detectors/_all/_close`;
//! - the sequential baseline: stop, then close, one job after the other (a shell loop of curl),
//!   on the first [`SEQUENTIAL_JOBS`] jobs only, against their own bound (all of them would
//!   take as long as the rest together).
//!
//! Every latency is divided, and the persist rate multiplied, by a time-scale factor (printed;
//! `QUIESCE_BENCH_SCALE`, default 5) so that the four runs fit in three minutes on two cores;
//! ratios keep their meaning while the scaled waits stay well above the simulator's 1 ms timer
//! tick (each timed wait ends on a tick: at 1/20, an average persist of 15 ms gains 3–6%). `QUIESCE_BENCH_JOBS` changes the size. Each makespan is the
//! cluster's own (from its first state change to its last, from `/_sim/stats`), and is compared
//! with the physical bound of that seed, whatever the client: the total persist work over the
//! persist slots, or the longest stop-then-close chain if longer. Figures are ratios against
//! that bound, measured in the same run (the machines are shared and noisy).

use std::fmt::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use quiesce_sim::{Seed, SimOptions, Simulator};

#[path = "measure/mod.rs"]
mod measure;

const PLAYBOOK: &str = "version: 1
name: bench-shutdown
jobs:
  - match: \"*\"
    state: closed
";

/// The realistic profile's figures, before scaling.
const STOP: Duration = Duration::from_millis(200);
const CLOSE: Duration = Duration::from_millis(300);
const STATS: Duration = Duration::from_millis(5);
const PERSIST_MB_PER_SEC: f64 = 150.0;

struct Bench {
    scale: f64,
    jobs: usize,
}

impl Bench {
    fn from_env() -> Bench {
        let scale = std::env::var("QUIESCE_BENCH_SCALE")
            .ok()
            .and_then(|s| s.parse().ok())
            .filter(|s: &f64| *s >= 1.0)
            .unwrap_or(5.0);
        let jobs = std::env::var("QUIESCE_BENCH_JOBS")
            .ok()
            .and_then(|s| s.parse().ok())
            .filter(|n: &usize| *n > 0)
            .unwrap_or(2_000);
        Bench { scale, jobs }
    }

    fn scaled(&self, d: Duration) -> String {
        format!("{}us", (d.as_secs_f64() * 1e6 / self.scale).round())
    }

    fn seed_text(&self) -> String {
        format!(
            "cluster: {{ name: bench, version: 8.15.0 }}
nodes: {{ count: {nodes}, memory: 64gb }}
latency: {{ profile: realistic, stop_datafeed: {stop}, close_job: {close}, stats: {stats},
           persist_rate: {rate}kb }}
persistence: {{ slots: 4, queue_limit: 64 }}
generate: {{ seed: 7, jobs: {jobs}, with_datafeed: 1.0, opened: 1.0, started: 1.0,
            model_bytes: {{ min: 1mb, max: 256mb }} }}
",
            nodes = self.jobs.div_ceil(60).max(1),
            stop = self.scaled(STOP),
            close = self.scaled(CLOSE),
            stats = self.scaled(STATS),
            rate = (PERSIST_MB_PER_SEC * 1024.0 * self.scale).round(),
            jobs = self.jobs,
        )
    }

    fn seed(&self) -> Seed {
        Seed::from_yaml_str(&self.seed_text(), "bench-seed.yaml").expect("the bench seed is valid")
    }
}

/// The physical lower bound of a shutdown of `seed`: whatever the client does, the persist
/// slots must write every model, and each job's stop, close and persist follow one another.
struct Bound {
    persist_work: Duration,
    slots: u32,
    longest_chain: Duration,
}

/// Jobs the sequential baseline takes down.
const SEQUENTIAL_JOBS: usize = 200;

impl Bound {
    /// The bound of the first `jobs` jobs of `seed`.
    fn of(seed: &Seed, jobs: usize) -> Bound {
        let mut spec = seed.resolve(None, None).expect("the bench seed resolves");
        spec.jobs.truncate(jobs);
        let persist = |bytes: u64| {
            Duration::from_secs_f64(bytes as f64 / spec.latency.persist_bytes_per_sec as f64)
        };
        Bound {
            persist_work: spec.jobs.iter().map(|j| persist(j.model_bytes)).sum(),
            slots: u32::try_from(spec.persistence.slots).unwrap_or(1).max(1),
            longest_chain: spec
                .jobs
                .iter()
                .map(|j| {
                    spec.latency.stop_datafeed + spec.latency.close_job + persist(j.model_bytes)
                })
                .max()
                .unwrap_or_default(),
        }
    }

    fn value(&self) -> Duration {
        (self.persist_work / self.slots).max(self.longest_chain)
    }
}

/// One shutdown, measured.
struct Outcome {
    name: String,
    /// Its bound: every job's, or the sequential baseline's.
    bound: Duration,
    makespan: Duration,
    failed_calls: u64,
    failed_steps: Option<u64>,
    peak_persists: u64,
    /// The whole command: observation, plan, run, journal, exit.
    wall: Option<Duration>,
    cpu: Option<Duration>,
    peak_rss: Option<u64>,
}

/// A simulator seeded afresh, in this process.
async fn simulator(bench: &Bench) -> Simulator {
    Simulator::start(SimOptions {
        listen: "127.0.0.1:0".parse().expect("address"),
        seed: bench.seed(),
        es_version: None,
        profile: None,
    })
    .await
    .expect("simulator")
}

/// What the simulator saw: the makespan, the refused calls, the peak of persists; `closed` jobs
/// must be closed.
async fn cluster_figures(sim: &Simulator, closed: usize) -> (Duration, u64, u64) {
    let stats: serde_json::Value = reqwest::get(format!("{}/_sim/stats", sim.base_url()))
        .await
        .expect("stats")
        .json()
        .await
        .expect("JSON");
    assert_eq!(stats["ordering_violations"], serde_json::json!([]));
    let done = stats["jobs"]
        .as_object()
        .map_or(0, |jobs| jobs.values().filter(|s| *s == "closed").count());
    assert_eq!(done, closed, "jobs closed");
    let first = stats["first_state_change_ms"].as_i64().unwrap_or_default();
    let last = stats["last_state_change_ms"].as_i64().unwrap_or_default();
    let makespan = Duration::from_millis(u64::try_from(last - first).unwrap_or_default());
    // The preflight's privilege check on a cluster without security is refused by design.
    let failed = stats["requests"].as_object().map_or(0, |operations| {
        operations
            .iter()
            .filter(|(operation, _)| *operation != "has_privileges")
            .filter_map(|(_, by_status)| by_status.as_object())
            .flat_map(|by_status| by_status.iter())
            .filter(|(status, _)| !status.starts_with('2'))
            .filter_map(|(_, count)| count.as_u64())
            .sum()
    });
    let peak = stats["peak_concurrent_persists"]
        .as_u64()
        .unwrap_or_default();
    (makespan, failed, peak)
}

/// The real `quiesce apply`, as a child process.
async fn quiesce(bench: &Bench, bound: &Bound, name: &str, concurrency: Option<u16>) -> Outcome {
    let sim = simulator(bench).await;
    let dir = tempfile::tempdir().expect("scratch directory");
    let playbook = dir.path().join("bench.yaml");
    std::fs::write(&playbook, PLAYBOOK).expect("playbook");
    let events = dir.path().join("events.jsonl");
    let mut command = Command::new(env!("CARGO_BIN_EXE_quiesce"));
    command
        .arg("apply")
        .arg(&playbook)
        .args(["--yes", "--output", "json", "--color", "never"])
        .args(["--cluster", &sim.base_url()])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&events).expect("events file"))
        .stderr(std::fs::File::create(dir.path().join("stderr")).expect("stderr file"));
    if let Some(n) = concurrency {
        command.args(["--concurrency", &n.to_string()]);
    }
    let usage = tokio::task::spawn_blocking(move || measure::run(&mut command))
        .await
        .expect("joined");
    let text = std::fs::read_to_string(&events).unwrap_or_default();
    let failed_steps = text
        .lines()
        .filter(|line| line.contains("\"event\":\"step_failed\""))
        .count();
    assert!(
        usage.status.success(),
        "{name}: apply exited {}",
        usage.status
    );
    let (makespan, failed_calls, peak_persists) = cluster_figures(&sim, bench.jobs).await;
    sim.shutdown().await;
    Outcome {
        name: name.to_owned(),
        bound: bound.value(),
        makespan,
        failed_calls,
        failed_steps: Some(u64::try_from(failed_steps).unwrap_or(u64::MAX)),
        peak_persists,
        wall: Some(usage.wall),
        cpu: usage.cpu,
        peak_rss: usage.peak_rss,
    }
}

/// `POST _all/_stop`, then `_all/_close`.
async fn all_at_once(bench: &Bench, bound: &Bound) -> Outcome {
    let sim = simulator(bench).await;
    let client = reqwest::Client::new();
    for path in [
        "_ml/datafeeds/_all/_stop",
        "_ml/anomaly_detectors/_all/_close",
    ] {
        client
            .post(format!("{}/{path}?timeout=1h", sim.base_url()))
            .send()
            .await
            .expect("answered")
            .error_for_status()
            .expect("accepted");
    }
    baseline(
        sim,
        "`_all` stop, then `_all` close".to_owned(),
        bound,
        bench.jobs,
    )
    .await
}

/// Stop, then close, one job after the other.
async fn sequential(bench: &Bench) -> Outcome {
    let sim = simulator(bench).await;
    let spec = bench.seed().resolve(None, None).expect("resolves");
    let jobs = SEQUENTIAL_JOBS.min(bench.jobs);
    let client = reqwest::Client::new();
    for job in spec.jobs.iter().take(jobs) {
        let datafeed = spec.datafeeds.iter().find(|d| d.job_id == job.id);
        let mut paths = Vec::new();
        if let Some(datafeed) = datafeed {
            paths.push(format!("_ml/datafeeds/{}/_stop", datafeed.id));
        }
        paths.push(format!("_ml/anomaly_detectors/{}/_close", job.id));
        for path in paths {
            client
                .post(format!("{}/{path}?timeout=1h", sim.base_url()))
                .send()
                .await
                .expect("answered")
                .error_for_status()
                .expect("accepted");
        }
    }
    let bound = Bound::of(&bench.seed(), jobs);
    let name = format!("sequential stop, close (first {jobs} jobs)");
    baseline(sim, name, &bound, jobs).await
}

async fn baseline(sim: Simulator, name: String, bound: &Bound, jobs: usize) -> Outcome {
    let (makespan, failed_calls, peak_persists) = cluster_figures(&sim, jobs).await;
    sim.shutdown().await;
    Outcome {
        name,
        bound: bound.value(),
        makespan,
        failed_calls,
        failed_steps: None,
        peak_persists,
        wall: None,
        cpu: None,
        peak_rss: None,
    }
}

fn table(bench: &Bench, bound: &Bound, outcomes: &[Outcome]) -> String {
    let mut out = String::new();
    let b = bound.value().as_secs_f64();
    let _ = writeln!(
        out,
        "shutdown of {} simulated jobs with started datafeeds, time scale 1/{} (latencies divided, \
         persist rate multiplied by {}; times below are as measured, ratios unscaled)",
        bench.jobs, bench.scale, bench.scale
    );
    let _ = writeln!(
        out,
        "physical bound {:.2}s = max(persist work {:.2}s / {} slots, longest chain {:.3}s); \
         unscaled {:.1}s",
        b,
        bound.persist_work.as_secs_f64(),
        bound.slots,
        bound.longest_chain.as_secs_f64(),
        b * bench.scale,
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| run | makespan | / bound | failed calls | failed steps | peak persists | slot use | quiesce wall | quiesce CPU | quiesce peak RSS |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for o in outcomes {
        let m = o.makespan.as_secs_f64();
        // The bound is persist work over slots (or the chain, never longer here).
        let use_ = o.bound.as_secs_f64() / m;
        let _ = writeln!(
            out,
            "| {} | {:.2}s | {:.3} | {} | {} | {} | {:.0}% | {} | {} | {} |",
            o.name,
            m,
            m / o.bound.as_secs_f64(),
            o.failed_calls,
            o.failed_steps.map_or("—".to_owned(), |n| n.to_string()),
            o.peak_persists,
            use_ * 100.0,
            o.wall
                .map_or("—".to_owned(), |w| format!("{:.2}s", w.as_secs_f64())),
            o.cpu
                .map_or("—".to_owned(), |c| format!("{:.2}s", c.as_secs_f64())),
            o.peak_rss.map_or("—".to_owned(), measure::megabytes),
        );
    }
    out
}

#[expect(clippy::print_stdout, reason = "the benchmark's table is its output")]
fn main() {
    let bench = Bench::from_env();
    let bound = Bound::of(&bench.seed(), bench.jobs);
    let only = std::env::var("QUIESCE_BENCH_ONLY").unwrap_or_default();
    let wanted = |run: &str| only.is_empty() || only.split(',').any(|w| w == run);
    println!(
        "time scale factor: {} (QUIESCE_BENCH_SCALE), {} jobs (QUIESCE_BENCH_JOBS)",
        bench.scale, bench.jobs
    );
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let started = Instant::now();
    let outcomes = runtime.block_on(async {
        let mut outcomes = Vec::new();
        if wanted("default") {
            outcomes.push(quiesce(&bench, &bound, "quiesce, default settings", None).await);
        }
        if wanted("256") {
            outcomes.push(quiesce(&bench, &bound, "quiesce --concurrency 256", Some(256)).await);
        }
        if wanted("all") {
            outcomes.push(all_at_once(&bench, &bound).await);
        }
        if wanted("sequential") {
            outcomes.push(sequential(&bench).await);
        }
        outcomes
    });
    print!("{}", table(&bench, &bound, &outcomes));
    println!(
        "\n(slot use: persist work / (slots x makespan); CPU and RSS of the quiesce process, \
         {} steps each; benchmark wall time {:.0}s)",
        2 * bench.jobs,
        started.elapsed().as_secs_f64()
    );
}
