//! The demo cluster the README's quick start runs on (`seeds/demo-cluster.yaml`): what it
//! promises (a few dozen grouped jobs, most with started real-time datafeeds, one lookback,
//! one failed job, realistic latencies) is what the simulator serves.

use std::path::Path;
use std::time::Duration;

use quiesce_sim::Seed;

use crate::rig::Rig;

const DEMO: &str = "seeds/demo-cluster.yaml";

fn demo_text() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(DEMO)).expect("demo seed")
}

#[test]
fn the_demo_seed_resolves_with_realistic_latencies() {
    let seed = Seed::from_path(&Path::new(env!("CARGO_MANIFEST_DIR")).join(DEMO)).expect("parses");
    let spec = seed.resolve(None, None).expect("resolves");
    assert!(spec.latency.close_job >= Duration::from_millis(100));
}

#[tokio::test]
async fn the_demo_cluster_has_what_the_quick_start_shows() {
    let rig = Rig::new(&demo_text()).await;
    let jobs = rig.get("/_ml/anomaly_detectors/_stats").await["jobs"].clone();
    let jobs = jobs.as_array().expect("jobs").clone();
    assert!(
        (20..=100).contains(&jobs.len()),
        "a few dozen jobs, got {}",
        jobs.len()
    );
    let failed = jobs.iter().filter(|j| j["state"] == "failed").count();
    assert_eq!(failed, 1, "one failed job");
    let configs = rig.get("/_ml/anomaly_detectors").await["jobs"].clone();
    let grouped = configs
        .as_array()
        .expect("jobs")
        .iter()
        .filter(|j| j["groups"].as_array().is_some_and(|g| !g.is_empty()))
        .count();
    assert_eq!(grouped, jobs.len(), "every job is in a group");
    let datafeeds = rig.get("/_ml/datafeeds/_stats").await["datafeeds"].clone();
    let datafeeds = datafeeds.as_array().expect("datafeeds").clone();
    let real_time = datafeeds
        .iter()
        .filter(|d| d["state"] == "started" && d["running_state"]["real_time_configured"] == true)
        .count();
    assert!(
        real_time * 2 > jobs.len(),
        "most jobs have a started real-time datafeed: {real_time}"
    );
    let lookback = datafeeds
        .iter()
        .filter(|d| d["running_state"]["real_time_configured"] == false)
        .count();
    assert_eq!(lookback, 1, "one lookback datafeed");
}
