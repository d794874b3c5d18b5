//! The runner's test builder: a simulator running in the test process
//! (`quiesce_sim::testing::TestCluster`) and a scratch directory, for tests that run the real
//! `quiesce` binary against it and then read `/_sim/stats`.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use quiesce_sim::Profile;
use quiesce_sim::testing::TestCluster;
use serde_json::Value;
use tempfile::TempDir;

pub(crate) struct Rig {
    pub(crate) sim: TestCluster,
    /// The scratch directory the binary runs in; removed with the rig.
    pub(crate) dir: PathBuf,
    pub(crate) http: reqwest::Client,
    _scratch: TempDir,
}

impl Rig {
    pub(crate) async fn new(seed: &str) -> Rig {
        Rig::with_version(seed, None).await
    }

    pub(crate) async fn with_version(seed: &str, version: Option<&str>) -> Rig {
        let mut cluster = TestCluster::builder().seed(seed);
        if let Some(version) = version {
            cluster = cluster.es_version(version);
        }
        Rig::around(cluster.start().await)
    }

    /// The seed with its latencies replaced by the `fast` profile (for the demo cluster).
    pub(crate) async fn fast(seed: &str) -> Rig {
        let cluster = TestCluster::builder().seed(seed).profile(Profile::Fast);
        Rig::around(cluster.start().await)
    }

    fn around(sim: TestCluster) -> Rig {
        let scratch = tempfile::Builder::new()
            .prefix("quiesce-apply-test-")
            .tempdir()
            .expect("a scratch directory");
        Rig {
            http: sim.client().clone(),
            sim,
            dir: scratch.path().to_path_buf(),
            _scratch: scratch,
        }
    }

    pub(crate) fn command(&self, playbook: &str, args: &[&str]) -> Command {
        std::fs::write(self.dir.join("playbook.yaml"), playbook).expect("playbook");
        let mut command = Command::new(env!("CARGO_BIN_EXE_quiesce"));
        command
            .current_dir(&self.dir)
            .arg("apply")
            .args(args)
            .args(["--cluster", &self.sim.base_url(), "--color", "never"])
            .env_remove("ES_API_KEY")
            .env_remove("ES_USERNAME")
            .env_remove("ES_PASSWORD")
            .env_remove("ES_BEARER_TOKEN")
            .env_remove("QUIESCE_STATE_DIR")
            .stdin(Stdio::null());
        command
    }

    /// Runs `apply` in a blocking thread so the simulator keeps serving meanwhile.
    pub(crate) async fn apply(&self, playbook: &str, args: &[&str]) -> Output {
        let mut command = self.command(playbook, args);
        tokio::task::spawn_blocking(move || command.output().expect("the binary runs"))
            .await
            .expect("joined")
    }

    /// `GET path`; the answer's JSON body.
    pub(crate) async fn get(&self, path: &str) -> Value {
        self.sim.get(path).await.json().clone()
    }

    /// Replaces the simulator's fault rules.
    pub(crate) async fn faults(&self, rules: Value) {
        self.sim.set_faults(rules).await;
    }

    /// `GET /_sim/stats`.
    pub(crate) async fn stats(&self) -> Value {
        self.sim.sim_stats().await
    }

    pub(crate) async fn assert_no_ordering_violation(&self) {
        self.sim.assert_no_ordering_violation().await;
    }
}

/// What the process wrote on stderr, as text.
pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Requests of `operation` the simulator answered (`/_sim/stats`), all statuses together.
pub(crate) fn answered(stats: &Value, operation: &str) -> u64 {
    stats["requests"][operation]
        .as_object()
        .map_or(0, |by_status| {
            by_status.values().filter_map(Value::as_u64).sum()
        })
}
