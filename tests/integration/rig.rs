//! A simulator running in the test process and a scratch directory, for tests that run the
//! real binary against it and then read `/_sim/stats`.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use quiesce_sim::{EsVersion, Profile, Seed, SimOptions, Simulator};
use serde_json::{Value, json};

pub(crate) struct Rig {
    pub(crate) sim: Simulator,
    pub(crate) dir: PathBuf,
    pub(crate) http: reqwest::Client,
}

impl Rig {
    pub(crate) async fn new(seed: &str) -> Rig {
        Rig::with_version(seed, None).await
    }

    pub(crate) async fn with_version(seed: &str, version: Option<&str>) -> Rig {
        Rig::start(seed, version, None).await
    }

    /// The seed with its latencies replaced by the `fast` profile (for the demo cluster).
    pub(crate) async fn fast(seed: &str) -> Rig {
        Rig::start(seed, None, Some(Profile::Fast)).await
    }

    async fn start(seed: &str, version: Option<&str>, profile: Option<Profile>) -> Rig {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let sim = Simulator::start(SimOptions {
            listen: "127.0.0.1:0".parse().expect("address"),
            seed: Seed::from_yaml_str(seed, "seed.yaml").expect("valid seed"),
            es_version: version.map(|v| v.parse::<EsVersion>().expect("version")),
            profile,
        })
        .await
        .expect("simulator starts");
        let dir = std::env::temp_dir().join(format!(
            "quiesce-apply-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Rig {
            sim,
            dir,
            http: reqwest::Client::new(),
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

    pub(crate) async fn get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.sim.base_url()))
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("JSON")
    }

    pub(crate) async fn faults(&self, rules: Value) {
        let status = self
            .http
            .put(format!("{}/_sim/faults", self.sim.base_url()))
            .json(&json!({ "faults": rules }))
            .send()
            .await
            .expect("request")
            .status();
        assert!(status.is_success(), "faults accepted: {status}");
    }

    pub(crate) async fn stats(&self) -> Value {
        self.get("/_sim/stats").await
    }

    pub(crate) async fn assert_no_ordering_violation(&self) {
        let stats = self.stats().await;
        assert_eq!(
            stats["ordering_violations"],
            json!([]),
            "ordering violations: {stats}"
        );
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
