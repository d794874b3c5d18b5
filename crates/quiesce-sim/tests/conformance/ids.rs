//! docs/elasticsearch-ml-api.md §5: id expressions and `allow_no_match`, every example of the table, on stop
//! datafeed, close job and both stats APIs; groups; sorted results.

use serde_json::{Value, json};

use quiesce_sim::testing::TestCluster;

async fn examples() -> TestCluster {
    TestCluster::builder()
        .seed_file(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/sim/ids.yaml"
        ))
        .start()
        .await
}

fn ids(body: &Value, list: &str, field: &str) -> Vec<String> {
    body[list]
        .as_array()
        .unwrap_or_else(|| panic!("{list} should be an array: {body}"))
        .iter()
        .map(|item| item[field].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn datafeed_stats_ids(sim: &TestCluster, expression: &str) -> Vec<String> {
    let resp = sim
        .get(&format!("/_ml/datafeeds/{expression}/_stats"))
        .await;
    let body = resp.ok();
    let found = ids(body, "datafeeds", "datafeed_id");
    assert_eq!(body["count"], found.len(), "count of {}", resp.text);
    found
}

async fn job_stats_ids(sim: &TestCluster, expression: &str) -> Vec<String> {
    let resp = sim
        .get(&format!("/_ml/anomaly_detectors/{expression}/_stats"))
        .await;
    let body = resp.ok();
    let found = ids(body, "jobs", "job_id");
    assert_eq!(body["count"], found.len(), "count of {}", resp.text);
    found
}

#[tokio::test]
async fn all_with_nothing_there_and_allow_no_match_true_is_empty_success() {
    let sim = TestCluster::empty().await;
    assert_eq!(
        sim.get("/_ml/datafeeds/_all/_stats").await.ok(),
        &json!({ "count": 0, "datafeeds": [] })
    );
    assert_eq!(
        sim.get("/_ml/anomaly_detectors/_all/_stats").await.ok(),
        &json!({ "count": 0, "jobs": [] })
    );
    assert_eq!(
        sim.post("/_ml/datafeeds/_all/_stop").await.ok(),
        &json!({ "stopped": true })
    );
    assert_eq!(
        sim.post("/_ml/anomaly_detectors/_all/_close").await.ok(),
        &json!({ "closed": true })
    );
}

#[tokio::test]
async fn stats_without_id_mean_all() {
    let sim = examples().await;
    let body = sim.get("/_ml/datafeeds/_stats").await.ok().clone();
    assert_eq!(ids(&body, "datafeeds", "datafeed_id"), ["df-a", "df-b"]);
    let body = sim.get("/_ml/anomaly_detectors/_stats").await.ok().clone();
    assert_eq!(ids(&body, "jobs", "job_id"), ["job-1", "job-2"]);
}

#[tokio::test]
async fn all_or_star_with_nothing_there_and_allow_no_match_false_is_404_star() {
    let sim = TestCluster::empty().await;
    for expression in ["_all", "*"] {
        let datafeeds = "No datafeed with id [*] exists";
        let jobs = "No known job with id '*'";
        let q = "allow_no_match=false";
        sim.get(&format!("/_ml/datafeeds/{expression}/_stats?{q}"))
            .await
            .assert_error(404, "resource_not_found_exception", datafeeds);
        sim.post(&format!("/_ml/datafeeds/{expression}/_stop?{q}"))
            .await
            .assert_error(404, "resource_not_found_exception", datafeeds);
        sim.get(&format!("/_ml/anomaly_detectors/{expression}/_stats?{q}"))
            .await
            .assert_error(404, "resource_not_found_exception", jobs);
        sim.post(&format!("/_ml/anomaly_detectors/{expression}/_close?{q}"))
            .await
            .assert_error(404, "resource_not_found_exception", jobs);
    }
}

#[tokio::test]
async fn unmatched_wildcard_with_allow_no_match_true_is_empty_success() {
    let sim = examples().await;
    assert!(datafeed_stats_ids(&sim, "missing-*").await.is_empty());
    assert!(job_stats_ids(&sim, "missing-*").await.is_empty());
    assert_eq!(
        sim.post("/_ml/datafeeds/missing-*/_stop").await.ok(),
        &json!({ "stopped": true })
    );
    assert_eq!(
        sim.post("/_ml/anomaly_detectors/missing-*/_close")
            .await
            .ok(),
        &json!({ "closed": true })
    );
    assert_eq!(
        sim.datafeed_state("df-a").await,
        "started",
        "nothing else touched"
    );
    assert_eq!(sim.job_state("job-1").await, "opened");
}

#[tokio::test]
async fn unmatched_wildcard_with_allow_no_match_false_is_404() {
    let sim = examples().await;
    let q = "allow_no_match=false";
    let datafeeds = "No datafeed with id [missing-*] exists";
    let jobs = "No known job with id 'missing-*'";
    sim.get(&format!("/_ml/datafeeds/missing-*/_stats?{q}"))
        .await
        .assert_error(404, "resource_not_found_exception", datafeeds);
    sim.post(&format!("/_ml/datafeeds/missing-*/_stop?{q}"))
        .await
        .assert_error(404, "resource_not_found_exception", datafeeds);
    sim.get(&format!("/_ml/anomaly_detectors/missing-*/_stats?{q}"))
        .await
        .assert_error(404, "resource_not_found_exception", jobs);
    sim.post(&format!("/_ml/anomaly_detectors/missing-*/_close?{q}"))
        .await
        .assert_error(404, "resource_not_found_exception", jobs);
    sim.get(&format!("/_ml/anomaly_detectors/missing-*?{q}"))
        .await
        .assert_error(404, "resource_not_found_exception", jobs);
    sim.get(&format!("/_ml/datafeeds/missing-*?{q}"))
        .await
        .assert_error(404, "resource_not_found_exception", datafeeds);
    assert_eq!(
        sim.get("/_ml/datafeeds/missing-*").await.ok(),
        &json!({ "count": 0, "datafeeds": [] })
    );
}

#[tokio::test]
async fn exact_ids_are_always_required() {
    let sim = examples().await;
    let datafeeds = "No datafeed with id [missing] exists";
    let jobs = "No known job with id 'missing'";
    for q in ["", "?allow_no_match=true"] {
        sim.get(&format!("/_ml/datafeeds/df-a,missing/_stats{q}"))
            .await
            .assert_error(404, "resource_not_found_exception", datafeeds);
        sim.post(&format!("/_ml/datafeeds/df-a,missing/_stop{q}"))
            .await
            .assert_error(404, "resource_not_found_exception", datafeeds);
        sim.get(&format!("/_ml/anomaly_detectors/job-1,missing/_stats{q}"))
            .await
            .assert_error(404, "resource_not_found_exception", jobs);
        sim.post(&format!("/_ml/anomaly_detectors/job-1,missing/_close{q}"))
            .await
            .assert_error(404, "resource_not_found_exception", jobs);
    }
    assert_eq!(
        sim.datafeed_state("df-a").await,
        "started",
        "a 404 stops nothing"
    );
    assert_eq!(
        sim.job_state("job-1").await,
        "opened",
        "a 404 closes nothing"
    );
}

#[tokio::test]
async fn unmatched_tokens_are_joined_with_commas() {
    let sim = examples().await;
    sim.get("/_ml/anomaly_detectors/a,missing-*/_stats?allow_no_match=false")
        .await
        .assert_error(
            404,
            "resource_not_found_exception",
            "No known job with id 'a,missing-*'",
        );
}

#[tokio::test]
async fn wildcards_ignore_unmatched_tokens_when_allowed() {
    let sim = examples().await;
    assert_eq!(datafeed_stats_ids(&sim, "df-*,x-*").await, ["df-a", "df-b"]);
    assert_eq!(job_stats_ids(&sim, "job-*,x-*").await, ["job-1", "job-2"]);
    assert_eq!(
        sim.post("/_ml/datafeeds/df-*,x-*/_stop").await.ok(),
        &json!({ "stopped": true })
    );
    assert_eq!(sim.datafeed_state("df-a").await, "stopped");
    assert_eq!(sim.datafeed_state("df-b").await, "stopped");
    assert_eq!(
        sim.post("/_ml/anomaly_detectors/job-*,x-*/_close")
            .await
            .ok(),
        &json!({ "closed": true })
    );
    assert_eq!(sim.job_state("job-1").await, "closed");
    assert_eq!(sim.job_state("job-2").await, "closed");
}

#[tokio::test]
async fn wildcards_require_matches_when_not_allowed() {
    let sim = examples().await;
    let q = "allow_no_match=false";
    sim.get(&format!("/_ml/datafeeds/df-*,x-*/_stats?{q}"))
        .await
        .assert_error(
            404,
            "resource_not_found_exception",
            "No datafeed with id [x-*] exists",
        );
    sim.post(&format!("/_ml/datafeeds/df-*,x-*/_stop?{q}"))
        .await
        .assert_error(
            404,
            "resource_not_found_exception",
            "No datafeed with id [x-*] exists",
        );
    sim.post(&format!("/_ml/anomaly_detectors/job-*,x-*/_close?{q}"))
        .await
        .assert_error(
            404,
            "resource_not_found_exception",
            "No known job with id 'x-*'",
        );
    assert_eq!(sim.datafeed_state("df-a").await, "started");
    assert_eq!(sim.job_state("job-1").await, "opened");
}

#[tokio::test]
async fn a_group_name_resolves_to_its_jobs() {
    let sim = examples().await;
    assert_eq!(job_stats_ids(&sim, "g").await, ["job-1"]);
    let strict = sim
        .get("/_ml/anomaly_detectors/g/_stats?allow_no_match=false")
        .await;
    assert_eq!(ids(strict.ok(), "jobs", "job_id"), ["job-1"]);
    let body = sim.get("/_ml/anomaly_detectors/g").await.ok().clone();
    assert_eq!(ids(&body, "jobs", "job_id"), ["job-1"]);
    assert_eq!(
        sim.post("/_ml/anomaly_detectors/g/_close").await.ok(),
        &json!({ "closed": true })
    );
    assert_eq!(sim.job_state("job-1").await, "closed");
    assert_eq!(
        sim.job_state("job-2").await,
        "opened",
        "only the group's job closes"
    );
}

#[tokio::test]
async fn star_and_all_match_everything() {
    let sim = examples().await;
    for expression in ["*", "_all"] {
        assert_eq!(datafeed_stats_ids(&sim, expression).await, ["df-a", "df-b"]);
        assert_eq!(job_stats_ids(&sim, expression).await, ["job-1", "job-2"]);
    }
    assert_eq!(
        sim.post("/_ml/datafeeds/*/_stop").await.ok(),
        &json!({ "stopped": true })
    );
    assert_eq!(sim.datafeed_state("df-a").await, "stopped");
    assert_eq!(sim.datafeed_state("df-b").await, "stopped");
    assert_eq!(
        sim.post("/_ml/anomaly_detectors/*/_close").await.ok(),
        &json!({ "closed": true })
    );
    assert_eq!(sim.job_state("job-1").await, "closed");
    assert_eq!(sim.job_state("job-2").await, "closed");
}

#[tokio::test]
async fn results_are_sorted_by_id() {
    let sim = TestCluster::empty().await;
    for id in ["zeta", "alpha", "mid"] {
        sim.put_job(id, json!({})).await.ok();
        sim.put_datafeed(&format!("df-{id}"), id).await.ok();
    }
    assert_eq!(job_stats_ids(&sim, "_all").await, ["alpha", "mid", "zeta"]);
    assert_eq!(
        datafeed_stats_ids(&sim, "_all").await,
        ["df-alpha", "df-mid", "df-zeta"]
    );
    let body = sim.get("/_ml/anomaly_detectors").await.ok().clone();
    assert_eq!(ids(&body, "jobs", "job_id"), ["alpha", "mid", "zeta"]);
    let body = sim.get("/_ml/datafeeds").await.ok().clone();
    assert_eq!(
        ids(&body, "datafeeds", "datafeed_id"),
        ["df-alpha", "df-mid", "df-zeta"]
    );
}

#[tokio::test]
async fn wildcard_anywhere_in_a_token() {
    let sim = examples().await;
    assert_eq!(datafeed_stats_ids(&sim, "*-a").await, ["df-a"]);
    assert_eq!(job_stats_ids(&sim, "*b-2").await, ["job-2"]);
    assert_eq!(job_stats_ids(&sim, "*-3").await, Vec::<String>::new());
    assert_eq!(job_stats_ids(&sim, "j*-2").await, ["job-2"]);
}
