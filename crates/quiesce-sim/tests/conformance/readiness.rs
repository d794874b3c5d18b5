//! docs/elasticsearch-ml-api.md §12: what a runner checks before the window and after it —
//! model snapshot compatibility (`min_version`, the open refusal, upgrade and delete of a
//! snapshot), node capacity by count (`xpack.ml.max_open_jobs`) and the free ML memory per node
//! (`GET _ml/memory/_stats`, 8.2+). Each test names the Elasticsearch source it follows.

use serde_json::json;

use quiesce_sim::testing::TestCluster;

const OLD_SNAPSHOT: &str = "
jobs:
  - id: old
    snapshots:
      - {id: '1500000000', timestamp: '2017-07-14T02:40:00Z', min_version: 6.3.0}
  - id: seven
    snapshots:
      - {id: '1600000000', timestamp: '2020-09-13T12:26:40Z', min_version: 7.9.0}
      - {id: '1700000000', timestamp: '2023-11-14T22:13:20Z', min_version: 8.15.0}
    model_snapshot_id: '1600000000'
";

/// `TransportOpenJobAction` (8.x): a current snapshot older than
/// `MIN_CHECKED_SUPPORTED_SNAPSHOT_VERSION` (6.4.0) is refused with a 400 naming
/// `MIN_REPORTED_SUPPORTED_SNAPSHOT_VERSION` (7.0.0); 9.x requires 8.3.0. The snapshot list
/// shows each `min_version`, and the job its `model_snapshot_id`.
#[tokio::test]
async fn opening_a_job_whose_snapshot_is_too_old_is_refused() {
    let sim = TestCluster::with_seed(OLD_SNAPSHOT).await;
    sim.post("/_ml/anomaly_detectors/old/_open").await.assert_error(
        400,
        "status_exception",
        "[old] job model snapshot [1500000000] has min version before [7.0.0], please revert to \
         a newer model snapshot or reset the job",
    );
    sim.post("/_ml/anomaly_detectors/seven/_open").await.ok();
    let listed = sim
        .get("/_ml/anomaly_detectors/seven/model_snapshots")
        .await
        .ok()
        .clone();
    assert_eq!(listed["model_snapshots"][0]["min_version"], "7.9.0");
    let job = sim.get("/_ml/anomaly_detectors/seven").await.ok().clone();
    assert_eq!(job["jobs"][0]["model_snapshot_id"], "1600000000");
    assert_eq!(job["jobs"][0]["model_snapshot_min_version"], "7.9.0");

    let nine = TestCluster::builder()
        .seed(OLD_SNAPSHOT)
        .es_version("9.1.0")
        .start()
        .await;
    nine.post("/_ml/anomaly_detectors/seven/_open")
        .await
        .assert_error(
            400,
            "status_exception",
            "[seven] job model snapshot [1600000000] has min version before [8.3.0], please revert \
         to a newer model snapshot or reset the job",
        );
}

/// `TransportUpgradeJobModelSnapshotAction`: the current snapshot of a job that is not closed
/// is refused (409), an unknown snapshot is 404 `No model snapshot with id [..] exists for job
/// [..]`; an accepted upgrade answers `{node, completed}` and leaves the snapshot at the
/// cluster's version, after which another upgrade is 409 `already compatible`.
#[tokio::test]
async fn upgrading_a_snapshot() {
    let sim = TestCluster::with_seed(OLD_SNAPSHOT).await;
    sim.post("/_ml/anomaly_detectors/seven/_open").await.ok();
    sim.post("/_ml/anomaly_detectors/seven/model_snapshots/1600000000/_upgrade")
        .await
        .assert_error(
            409,
            "status_exception",
            "Cannot upgrade snapshot [1600000000] for job [seven] as it is the current primary \
             job snapshot and the job's state is [opened]. Please close the job before upgrading \
             the snapshot.",
        );
    sim.post("/_ml/anomaly_detectors/seven/model_snapshots/42/_upgrade")
        .await
        .assert_error(
            404,
            "resource_not_found_exception",
            "No model snapshot with id [42] exists for job [seven]",
        );
    let upgraded = sim
        .post("/_ml/anomaly_detectors/old/model_snapshots/1500000000/_upgrade?wait_for_completion=true")
        .await
        .ok()
        .clone();
    assert_eq!(upgraded["completed"], true);
    assert!(upgraded["node"].is_string());
    let listed = sim
        .get("/_ml/anomaly_detectors/old/model_snapshots/1500000000")
        .await
        .ok()
        .clone();
    assert_eq!(listed["model_snapshots"][0]["min_version"], "8.15.0");
    sim.post("/_ml/anomaly_detectors/old/model_snapshots/1500000000/_upgrade")
        .await
        .assert_error(
            409,
            "status_exception",
            "Cannot upgrade job [old] snapshot [1500000000] as it is already compatible with \
             current version 8.15.0",
        );
    sim.post("/_ml/anomaly_detectors/old/_open").await.ok();
}

/// `TransportDeleteModelSnapshotAction` with `Messages.REST_CANNOT_DELETE_HIGHEST_PRIORITY`: the
/// active snapshot cannot be deleted; another one can.
#[tokio::test]
async fn deleting_a_snapshot() {
    let sim = TestCluster::with_seed(OLD_SNAPSHOT).await;
    sim.delete("/_ml/anomaly_detectors/seven/model_snapshots/1600000000")
        .await
        .assert_error(
            400,
            "illegal_argument_exception",
            "Model snapshot '1600000000' is the active snapshot for job 'seven', so cannot be \
             deleted",
        );
    let deleted = sim
        .delete("/_ml/anomaly_detectors/seven/model_snapshots/1700000000")
        .await;
    assert_eq!(deleted.ok(), &json!({"acknowledged": true}));
    let listed = sim
        .get("/_ml/anomaly_detectors/seven/model_snapshots")
        .await
        .ok()
        .clone();
    assert_eq!(listed["count"], 1);
}

/// A graceful close persists a snapshot that becomes the job's current one, with the
/// cluster's version as `min_version` (docs/elasticsearch-ml-api.md §12.1).
#[tokio::test]
async fn closing_writes_the_current_snapshot() {
    let sim = TestCluster::with_seed("jobs: [{id: j, state: opened}]").await;
    sim.post("/_ml/anomaly_detectors/j/_close").await.ok();
    let listed = sim
        .get("/_ml/anomaly_detectors/j/model_snapshots")
        .await
        .ok()
        .clone();
    let snapshot = &listed["model_snapshots"][0];
    assert_eq!(snapshot["min_version"], "8.15.0");
    let job = sim.get("/_ml/anomaly_detectors/j").await.ok().clone();
    assert_eq!(job["jobs"][0]["model_snapshot_id"], snapshot["snapshot_id"]);
}

/// `JobNodeSelector`: a node holding `xpack.ml.max_open_jobs` jobs is full, whatever its
/// memory; the open's 429 explanation says so.
#[tokio::test]
async fn max_open_jobs_limits_a_node() {
    let sim = TestCluster::with_seed(
        "nodes: {count: 1, max_open_jobs: 1}\njobs: [{id: a, state: opened, model_memory_limit: 1mb}, {id: b, model_memory_limit: 1mb}]",
    )
    .await;
    let answer = sim.post("/_ml/anomaly_detectors/b/_open").await;
    let error = answer.assert_envelope(429, "status_exception");
    let explanation = error["caused_by"]["reason"].as_str().unwrap();
    assert!(
        explanation.contains(
            "because this node is full. Number of opened jobs [1], xpack.ml.max_open_jobs [1]"
        ),
        "{explanation}"
    );
    sim.post("/_ml/anomaly_detectors/a/_close").await.ok();
    sim.post("/_ml/anomaly_detectors/b/_open").await.ok();
}

/// `GET _ml/memory/_stats` (8.2+, docs: get-ml-memory): per node, the memory ML may use and what
/// the anomaly detectors take; before 8.2 there is no such handler.
#[tokio::test]
async fn memory_stats_per_node() {
    let sim = TestCluster::with_seed(
        "nodes: {count: 2, memory: 2gb}\njobs: [{id: a, state: opened, model_memory_limit: 512mb}]",
    )
    .await;
    let stats = sim.get("/_ml/memory/_stats").await.ok().clone();
    assert_eq!(stats["_nodes"]["total"], 2);
    let nodes = stats["nodes"].as_object().unwrap();
    let used: Vec<u64> = nodes
        .values()
        .map(|node| {
            node["mem"]["ml"]["anomaly_detectors_in_bytes"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert!(used.contains(&(512 << 20)) && used.contains(&0), "{used:?}");
    for node in nodes.values() {
        assert_eq!(node["mem"]["ml"]["max_in_bytes"], 2_u64 << 30);
    }
    let old = TestCluster::builder().es_version("7.17.0").start().await;
    old.get("/_ml/memory/_stats").await.assert_flat_error(
        400,
        "no handler found for uri [/_ml/memory/_stats] and method [GET]",
    );
}
