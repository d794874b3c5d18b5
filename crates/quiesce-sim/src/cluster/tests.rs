//! The engine's timing model on tokio's paused clock: exact durations, no wall-clock sleeps.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::{Cluster, Timeout};
use crate::Seed;

fn cluster(yaml: &str) -> Cluster {
    let seed = Seed::from_yaml_str(yaml, "test.yaml").expect("a valid seed");
    Cluster::new(seed.resolve(None, None).expect("a resolvable seed"))
}

fn forever() -> Timeout {
    Timeout {
        wait: None,
        text: "-1".to_owned(),
    }
}

fn within(millis: u64) -> Timeout {
    Timeout {
        wait: Some(Duration::from_millis(millis)),
        text: format!("{millis}ms"),
    }
}

fn job(cluster: &Cluster, id: &str) -> Value {
    cluster.job_stats(id, false).expect("the job exists")["jobs"][0].clone()
}

async fn close(cluster: &Cluster, expr: &str, force: bool, timeout: &Timeout) -> Value {
    cluster
        .close_jobs(expr, true, force, timeout, &[], |_| None)
        .await
        .expect("the close succeeds")
}

#[tokio::test(start_paused = true)]
async fn persists_run_in_rounds_of_slots() {
    let cluster = cluster(
        "
latency: {close_job: 10ms, persist_rate: 100mb}
persistence: {slots: 2, queue_limit: 10}
jobs:
  - {id: a, state: opened, model_bytes: 20mb}
  - {id: b, state: opened, model_bytes: 20mb}
  - {id: c, state: opened, model_bytes: 20mb}
  - {id: d, state: opened, model_bytes: 20mb}
",
    );
    let begun = Instant::now();
    close(&cluster, "_all", false, &forever()).await;
    // 10ms base latency for all, then two rounds of 200ms (20mb at 100mb/s) in two slots.
    assert_eq!(begun.elapsed(), Duration::from_millis(410));
    for id in ["a", "b", "c", "d"] {
        assert_eq!(job(&cluster, id)["state"], "closed");
    }
    assert_eq!(cluster.sim_stats()["peak_concurrent_persists"], 2);
}

#[tokio::test(start_paused = true)]
async fn a_force_close_frees_its_slot_at_once() {
    let cluster = cluster(
        "
latency: {close_job: 0ms, persist_rate: 100mb}
persistence: {slots: 1, queue_limit: 10}
jobs:
  - {id: a, state: opened, model_bytes: 100mb}
  - {id: b, state: opened, model_bytes: 20mb}
",
    );
    let slow = {
        let cluster = cluster.clone();
        tokio::spawn(async move { close(&cluster, "a", false, &forever()).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(job(&cluster, "a")["state"], "closing");
    close(&cluster, "a", true, &forever()).await;
    let begun = Instant::now();
    close(&cluster, "b", false, &forever()).await;
    assert_eq!(
        begun.elapsed(),
        Duration::from_millis(200),
        "b did not wait for a's slot"
    );
    slow.await
        .expect("the first close returns once the job is closed");
    let snapshots = cluster
        .model_snapshots("a", &super::SnapshotQuery::default())
        .expect("the job exists");
    assert_eq!(snapshots["count"], 0, "a forced close persists nothing");
}

#[tokio::test(start_paused = true)]
async fn an_open_past_its_timeout_goes_on() {
    let cluster = cluster("latency: {open_job: 2s}\njobs: [{id: j}]");
    let refused = cluster
        .open_job("j", &within(20))
        .await
        .expect_err("the restore takes 2s");
    assert_eq!(refused.status.as_u16(), 408);
    assert_eq!(refused.reason(), "Opening job [j] timed out after [20ms]");
    assert_eq!(job(&cluster, "j")["state"], "opening");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(job(&cluster, "j")["state"], "opened");
}

#[tokio::test(start_paused = true)]
async fn a_close_past_its_timeout_goes_on() {
    let cluster =
        cluster("latency: {close_job: 1s}\njobs: [{id: j, state: opened, model_bytes: 1kb}]");
    let refused = cluster
        .close_jobs("j", true, false, &within(50), &[], |_| None)
        .await
        .expect_err("the close takes 1s");
    assert_eq!(refused.status.as_u16(), 500);
    assert_eq!(
        refused.reason(),
        "Timed out when waiting for persistent tasks after 50ms"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(job(&cluster, "j")["state"], "closed");
}

#[tokio::test(start_paused = true)]
async fn a_lazy_job_gets_the_memory_a_close_frees() {
    let cluster = cluster(
        "
nodes: {count: 1, memory: 1gb}
jobs:
  - {id: big, state: opened, model_memory_limit: 800mb}
  - {id: lazy, model_memory_limit: 500mb, allow_lazy_open: true}
",
    );
    let opened = cluster
        .open_job("lazy", &forever())
        .await
        .expect("lazy open");
    assert_eq!(opened["node"], "");
    assert_eq!(job(&cluster, "lazy")["state"], "opening");
    close(&cluster, "big", false, &forever()).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let lazy = job(&cluster, "lazy");
    assert_eq!(lazy["state"], "opened");
    assert_eq!(lazy["assignment_explanation"], "");
}

#[tokio::test(start_paused = true)]
async fn a_lookback_closes_its_job_with_a_snapshot() {
    let cluster = cluster(
        "
latency: {lookback: 5s}
jobs: [{id: j, state: opened, model_bytes: 1mb}]
datafeeds: [{id: df, job: j, state: started, end: '2026-01-01T00:00:00Z'}]
",
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        job(&cluster, "j")["state"],
        "opened",
        "the lookback is still running"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(job(&cluster, "j")["state"], "closed");
    let df = cluster.datafeed_stats("df", false).expect("exists");
    assert_eq!(df["datafeeds"][0]["state"], "stopped");
    let snapshots = cluster
        .model_snapshots("j", &super::SnapshotQuery::default())
        .expect("the job exists");
    assert_eq!(snapshots["count"], 1);
}

#[tokio::test(start_paused = true)]
async fn only_one_upgrade_mode_change_at_a_time() {
    let cluster = cluster("latency: {set_upgrade_mode: 1s}");
    let first = {
        let cluster = cluster.clone();
        tokio::spawn(async move { cluster.set_upgrade_mode(true, &forever()).await })
    };
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(cluster.upgrade_mode());
    let refused = cluster
        .set_upgrade_mode(false, &forever())
        .await
        .expect_err("the first change is still settling");
    assert_eq!(refused.status.as_u16(), 429);
    first
        .await
        .expect("joins")
        .expect("the first change succeeds");
    cluster
        .set_upgrade_mode(false, &forever())
        .await
        .expect("a later change succeeds");
    assert!(!cluster.upgrade_mode());
}

#[tokio::test(start_paused = true)]
async fn upgrade_mode_halts_a_lookback() {
    let cluster = cluster(
        "
latency: {lookback: 5s, set_upgrade_mode: 0ms}
jobs: [{id: j, state: opened}]
datafeeds: [{id: df, job: j, state: started, end: '2026-01-01T00:00:00Z'}]
",
    );
    cluster
        .set_upgrade_mode(true, &forever())
        .await
        .expect("enabled");
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(
        job(&cluster, "j")["state"],
        "opened",
        "halted tasks do not finish"
    );
    cluster
        .set_upgrade_mode(false, &forever())
        .await
        .expect("disabled");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(job(&cluster, "j")["state"], "closed");
}

#[tokio::test]
async fn job_ids_and_group_names_share_one_namespace() {
    let cluster = cluster("jobs: [{id: web}, {id: api, groups: [backend]}]");
    let body = |groups: &str| {
        format!(
            r#"{{"groups": {groups}, "analysis_config": {{"detectors": [{{"function": "count"}}]}},
                "data_description": {{}}}}"#
        )
    };
    let refused = cluster
        .put_job("db", body(r#"["web"]"#).as_bytes())
        .expect_err("a group may not be named like a job");
    assert_eq!(
        refused.error_type(),
        Some("resource_already_exists_exception")
    );
    assert_eq!(
        refused.reason(),
        "job and group names must be unique but job [web] and group [web] have the same name"
    );
    let refused = cluster
        .put_job("backend", body("[]").as_bytes())
        .expect_err("a job may not be named like a group");
    assert_eq!(refused.status.as_u16(), 400);
    cluster
        .put_job("db", body(r#"["backend"]"#).as_bytes())
        .expect("an existing group may take more jobs");
    let listed = cluster
        .job_stats("backend", false)
        .expect("the group matches");
    assert_eq!(listed["count"], 2);
    assert_eq!(cluster.job_stats("web", false).unwrap()["count"], 1);
    let missing = cluster
        .job_stats("nope", true)
        .expect_err("exact ids are required");
    assert_eq!(missing.reason(), "No known job with id 'nope'");
}

#[test]
fn plain_ids_exclude_lists_wildcards_and_all() {
    for plain in ["j1", "web-latency"] {
        assert!(super::is_plain_id(plain), "{plain}");
    }
    for expression in ["", "_all", "*", "a,b", "web-*", " j1"] {
        assert!(!super::is_plain_id(expression), "{expression:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_real_time_datafeed_searches_every_frequency_and_posts_the_rate() {
    let cluster = cluster(
        "
jobs:
  - {id: a, state: opened}
datafeeds:
  - {id: df-a, job: a, state: started, frequency: 1s, query_delay: 0s, record_rate: 10}
",
    );
    tokio::time::sleep(Duration::from_secs(20)).await;
    cluster
        .stop_datafeeds("df-a", true, false, &forever(), &[], None)
        .await
        .expect("the stop succeeds");
    let stats = cluster.datafeed_stats("df-a", true).expect("the datafeed")["datafeeds"][0].clone();
    let timing = &stats["timing_stats"];
    // The lookback at start, then one search a second (each 100ms past its boundary): 20 or 21.
    let searches = timing["search_count"].as_u64().expect("a count");
    assert!((20..=21).contains(&searches), "{timing}");
    // The stop writes the stats as they are (`finishReporting`).
    assert_eq!(
        timing["total_search_time_ms"],
        json!(10.0 * searches as f64)
    );
    let counts = job(&cluster, "a")["data_counts"].clone();
    // 10 documents a second since the start, up to the last whole second searched: 190–200.
    let records = counts["processed_record_count"].as_u64().expect("a count");
    assert!((190..=200).contains(&records), "{counts}");
    let latest = counts["latest_record_timestamp"]
        .as_i64()
        .expect("a timestamp");
    let earliest = counts["earliest_record_timestamp"]
        .as_i64()
        .expect("a timestamp");
    assert_eq!(
        (latest - earliest) / 100 + 1,
        i64::try_from(records).unwrap()
    );
}
