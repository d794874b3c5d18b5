//! docs/elasticsearch-ml-api.md §14: a started real-time datafeed searches every `frequency`
//! and its counters advance (`DatafeedJob.runRealtime`, `DatafeedTimingStats`, `DataCounts`,
//! `GetDatafeedRunningStateAction.Response.RunningState`); a stalled one stays `started` and
//! shows no progress (`DatafeedJob` throws `ExtractionProblemException` without advancing time).
//! No test waits on the clock: a second, healthy datafeed is the clock the others are read
//! against.

use serde_json::{Value, json};

use quiesce_sim::testing::{TestCluster, poll};

/// Two jobs whose datafeeds search every 100ms for data up to now (the simulator takes less
/// than ES's whole seconds so that tests need not wait).
const RUNNING: &str = "
jobs:
  - {id: a, state: opened}
  - {id: b, state: opened}
datafeeds:
  - {id: df-a, job: a, state: started, frequency: 100ms, query_delay: 0ms, record_rate: 100}
  - {id: df-b, job: b, state: started, frequency: 100ms, query_delay: 0ms, record_rate: 100}
";

fn searches(stats: &Value) -> u64 {
    stats["timing_stats"]["search_count"]
        .as_u64()
        .expect("a search count")
}

fn records(job: &Value) -> u64 {
    job["data_counts"]["processed_record_count"]
        .as_u64()
        .expect("a record count")
}

/// Waits until `datafeed` has searched `more` times beyond `from`.
async fn searched(sim: &TestCluster, datafeed: &str, from: u64, more: u64) -> Value {
    poll(
        &format!("{datafeed} searches {more} more times"),
        async || {
            let stats = sim.datafeed_stats(datafeed).await;
            if searches(&stats) >= from + more {
                Ok(stats)
            } else {
                Err(searches(&stats))
            }
        },
    )
    .await
}

/// `DatafeedTimingStats` (with `INCLUDE_CALCULATED_FIELDS`), `DataCounts` and the running
/// state of a datafeed that has searched: counts grow, each search adds its time, the job's
/// records match what the source received, `search_interval` (8.1+) is the last window.
#[tokio::test]
async fn a_running_datafeed_advances_its_counters() {
    let sim = TestCluster::with_seed(RUNNING).await;
    let stats = searched(&sim, "df-a", 0, 4).await;
    let timing = &stats["timing_stats"];
    assert_eq!(timing["job_id"], "a");
    assert_eq!(
        timing["total_search_time_ms"].as_f64(),
        Some(10.0 * searches(&stats) as f64),
        "{timing}"
    );
    assert!(timing["bucket_count"].as_u64() >= Some(1), "{timing}");
    assert!(
        timing["average_search_time_per_bucket_ms"].is_f64(),
        "{timing}"
    );
    assert!(timing["exponential_average_search_time_per_hour_ms"].is_f64());
    let running = &stats["running_state"];
    assert_eq!(running["real_time_configured"], true);
    assert_eq!(running["real_time_running"], true);
    let interval = &running["search_interval"];
    let (start, end) = (
        interval["start_ms"].as_i64().expect("start_ms"),
        interval["end_ms"].as_i64().expect("end_ms"),
    );
    assert!(start < end && end % 100 == 0, "{interval}");

    let job = poll("job a has data", async || {
        let job = sim.job_stats("a").await;
        if records(&job) > 0 {
            Ok(job)
        } else {
            Err(records(&job))
        }
    })
    .await;
    let counts = &job["data_counts"];
    assert_eq!(
        counts["input_record_count"],
        counts["processed_record_count"]
    );
    let latest = counts["latest_record_timestamp"]
        .as_i64()
        .expect("a latest record");
    assert!(counts["earliest_record_timestamp"].as_i64() <= Some(latest));
    assert!(counts["last_data_time"].is_i64());
    assert!(counts["bucket_count"].as_u64() >= Some(1));
    assert!(
        counts.get("latest_bucket_timestamp").is_none(),
        "not a DataCounts field"
    );
}

/// Stopped, the counters keep their values (the stats are the results index's documents);
/// while `df-b` searches on, `df-a`'s stats do not move and it has no `running_state`.
#[tokio::test]
async fn a_stopped_datafeed_is_frozen() {
    let sim = TestCluster::with_seed(RUNNING).await;
    searched(&sim, "df-a", 0, 2).await;
    sim.post("/_ml/datafeeds/df-a/_stop").await.ok();
    let stopped = sim.datafeed_stats("df-a").await;
    let job = sim.job_stats("a").await;
    let clock = searches(&sim.datafeed_stats("df-b").await);
    searched(&sim, "df-b", clock, 3).await;
    let later = sim.datafeed_stats("df-a").await;
    assert_eq!(later["timing_stats"], stopped["timing_stats"]);
    assert!(later.get("running_state").is_none());
    assert_eq!(sim.job_stats("a").await["data_counts"], job["data_counts"]);
}

/// A stall (`{operation: datafeed_progress, target, stall: true}`): the datafeed stays
/// `started`, assigned, `real_time_running`, with its last good `search_interval`, but
/// searches nothing and posts nothing; once the rule goes, the next search covers the whole
/// gap from where it stopped (`DatafeedJob.run` does not advance time on an extraction error).
#[tokio::test]
async fn a_stall_keeps_the_datafeed_started_without_progress() {
    let sim = TestCluster::with_seed(RUNNING).await;
    searched(&sim, "df-a", 0, 2).await;
    sim.set_faults(json!([{"operation": "datafeed_progress", "target": "df-a", "stall": true}]))
        .await;
    let before = sim.datafeed_stats("df-a").await;
    let job_before = sim.job_stats("a").await;
    let clock = searches(&sim.datafeed_stats("df-b").await);
    searched(&sim, "df-b", clock, 4).await;

    let stalled = sim.datafeed_stats("df-a").await;
    assert_eq!(stalled["state"], "started");
    assert!(stalled["node"]["id"].is_string(), "{stalled}");
    assert_eq!(stalled["assignment_explanation"], "");
    assert_eq!(stalled["running_state"]["real_time_running"], true);
    assert_eq!(stalled["timing_stats"], before["timing_stats"]);
    let job = sim.job_stats("a").await;
    assert_eq!(job["state"], "opened");
    assert_eq!(job["data_counts"], job_before["data_counts"]);
    let last = stalled["running_state"]["search_interval"].clone();

    sim.clear_faults().await;
    let resumed = searched(&sim, "df-a", searches(&stalled), 1).await;
    let interval = &resumed["running_state"]["search_interval"];
    if searches(&resumed) == searches(&stalled) + 1 {
        assert_eq!(
            interval["start_ms"], last["end_ms"],
            "{interval} after {last}"
        );
    }
    let caught_up = poll("job a posts again", async || {
        let job = sim.job_stats("a").await;
        if records(&job) > records(&job_before) {
            Ok(())
        } else {
            Err(records(&job))
        }
    });
    caught_up.await;
}

/// A seed's `stalled: true` is such a rule from the start: `GET /_sim/faults` lists it, the
/// datafeed never searches (`search_count` 0, no `search_interval`), and removing the rule
/// lets it run.
#[tokio::test]
async fn a_seeded_stall_holds_from_the_start() {
    let sim = TestCluster::with_seed(
        "
jobs:
  - {id: a, state: opened}
  - {id: b, state: opened}
datafeeds:
  - {id: df-a, job: a, state: started, frequency: 100ms, query_delay: 0ms, stalled: true}
  - {id: df-b, job: b, state: started, frequency: 100ms, query_delay: 0ms}
",
    )
    .await;
    let rules = sim.get("/_sim/faults").await.ok().clone();
    assert_eq!(rules["faults"][0]["operation"], "datafeed_progress");
    assert_eq!(rules["faults"][0]["target"], "df-a");
    searched(&sim, "df-b", 0, 3).await;
    let stalled = sim.datafeed_stats("df-a").await;
    assert_eq!(searches(&stalled), 0);
    assert_eq!(stalled["state"], "started");
    assert!(stalled["running_state"].get("search_interval").is_none());
    sim.clear_faults().await;
    searched(&sim, "df-a", 0, 1).await;
}

/// Elsewhere the datafeed has no runner: while its job waits for a node (lazy open) the
/// explanation says so and `real_time_running` is false (`TransportGetDatafeedRunningStateAction`
/// for unassigned tasks); upgrade mode isolates every datafeed the same way until it ends.
#[tokio::test]
async fn unassigned_datafeeds_make_no_progress() {
    let sim = TestCluster::with_seed(
        "
nodes: {memory: 1gb}
jobs:
  - {id: big, state: opened, model_memory_limit: 1gb}
  - {id: lazy, allow_lazy_open: true, model_memory_limit: 1gb}
datafeeds:
  - {id: df-big, job: big, state: started, frequency: 100ms, query_delay: 0ms}
  - {id: df-lazy, job: lazy, frequency: 100ms, query_delay: 0ms}
",
    )
    .await;
    sim.post("/_ml/anomaly_detectors/lazy/_open").await.ok();
    sim.post("/_ml/datafeeds/df-lazy/_start").await.ok();
    let waiting = sim.datafeed_stats("df-lazy").await;
    assert_eq!(
        waiting["assignment_explanation"],
        "datafeed awaiting job assignment."
    );
    assert_eq!(
        waiting["running_state"],
        json!({"real_time_configured": true, "real_time_running": false})
    );
    assert_eq!(searches(&waiting), 0);

    sim.post("/_ml/set_upgrade_mode?enabled=true").await.ok();
    let isolated = sim.datafeed_stats("df-big").await;
    assert_eq!(isolated["running_state"]["real_time_running"], false);
    assert!(isolated["running_state"].get("search_interval").is_none());
    sim.post("/_ml/set_upgrade_mode?enabled=false").await.ok();
    let resumed = searched(&sim, "df-big", searches(&isolated), 1).await;
    assert_eq!(resumed["running_state"]["real_time_running"], true);
}
