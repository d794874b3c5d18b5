//! `Snapshot`: what the cluster looked like at one moment, keyed by id, with each datafeed
//! linked to its job and each job to its datafeed. Serialisable: it goes into plan files and
//! run journals, and drift is computed by comparing two of them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ObservedDatafeedState, ObservedJobState};
use crate::es::types::{DatafeedConfig, DatafeedStats, JobConfig, JobStats, MlInfo, RootInfo};

/// The ML side of a cluster at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Snapshot {
    pub cluster_name: String,
    pub cluster_uuid: String,
    /// Elasticsearch version number as the root endpoint reports it.
    pub version: String,
    pub upgrade_mode: bool,
    pub jobs: BTreeMap<String, ObservedJob>,
    pub datafeeds: BTreeMap<String, ObservedDatafeed>,
}

/// One job as observed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ObservedJob {
    pub state: ObservedJobState,
    pub groups: Vec<String>,
    /// Model size: what a close persists and an open restores.
    pub model_bytes: u64,
    /// The node the job runs on, when assigned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment_explanation: Option<String>,
    /// The datafeed that feeds this job, if any (Elasticsearch allows at most one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datafeed: Option<String>,
}

/// One datafeed as observed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ObservedDatafeed {
    pub job_id: String,
    pub state: ObservedDatafeedState,
    pub mode: DatafeedMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment_explanation: Option<String>,
}

/// How a running datafeed was started: real-time (no `end`, runs until stopped) or lookback
/// (with an `end`; it stops and closes its job by itself, and must not be restarted blindly).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum DatafeedMode {
    RealTime,
    Lookback,
    /// Not running, so Elasticsearch does not say.
    NotRunning,
}

impl Snapshot {
    /// Joins the four listings into one keyed view. Stats without a config (a resource deleted
    /// between two calls) are kept with what stats say; configs without stats are dropped.
    pub(crate) fn assemble(
        root: Option<&RootInfo>,
        ml_info: &MlInfo,
        job_stats: Vec<JobStats>,
        job_configs: Vec<JobConfig>,
        datafeed_stats: Vec<DatafeedStats>,
        datafeed_configs: Vec<DatafeedConfig>,
    ) -> Snapshot {
        let groups: BTreeMap<String, Vec<String>> = job_configs
            .into_iter()
            .map(|config| (config.job_id, config.groups))
            .collect();
        let feeds: BTreeMap<String, String> = datafeed_configs
            .into_iter()
            .map(|config| (config.datafeed_id, config.job_id))
            .collect();

        let mut jobs: BTreeMap<String, ObservedJob> = job_stats
            .into_iter()
            .map(|stats| {
                let observed = ObservedJob {
                    state: stats.state.into(),
                    groups: groups.get(&stats.job_id).cloned().unwrap_or_default(),
                    model_bytes: stats.model_bytes(),
                    node: stats.node.map(|node| node.id),
                    assignment_explanation: stats
                        .assignment_explanation
                        .filter(|text| !text.is_empty()),
                    datafeed: None,
                };
                (stats.job_id, observed)
            })
            .collect();

        let mut datafeeds = BTreeMap::new();
        for stats in datafeed_stats {
            let Some(job_id) = feeds.get(&stats.datafeed_id) else {
                continue;
            };
            let mode = match stats.running_state {
                Some(running) if running.real_time_configured => DatafeedMode::RealTime,
                Some(_) => DatafeedMode::Lookback,
                None => DatafeedMode::NotRunning,
            };
            if let Some(job) = jobs.get_mut(job_id) {
                job.datafeed = Some(stats.datafeed_id.clone());
            }
            datafeeds.insert(
                stats.datafeed_id,
                ObservedDatafeed {
                    job_id: job_id.clone(),
                    state: stats.state.into(),
                    mode,
                    node: stats.node.map(|node| node.id),
                    assignment_explanation: stats
                        .assignment_explanation
                        .filter(|text| !text.is_empty()),
                },
            );
        }

        let unknown = || "unknown".to_owned();
        Snapshot {
            cluster_name: root.map_or_else(unknown, |r| r.cluster_name.clone()),
            cluster_uuid: root.map_or_else(unknown, |r| r.cluster_uuid.clone()),
            version: root.map_or_else(unknown, |r| r.version.number.clone()),
            upgrade_mode: ml_info.upgrade_mode,
            jobs,
            datafeeds,
        }
    }

    /// The datafeed feeding `job_id`, if any.
    pub(crate) fn datafeed_of(&self, job_id: &str) -> Option<(&str, &ObservedDatafeed)> {
        let id = self.jobs.get(job_id)?.datafeed.as_deref()?;
        self.datafeeds.get(id).map(|feed| (id, feed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<T: serde::de::DeserializeOwned>(text: &str) -> T {
        serde_json::from_str(text).expect("valid test JSON")
    }

    #[test]
    fn assembles_links_both_ways_and_modes() {
        let root: RootInfo = parse(
            r#"{"cluster_name":"prod","cluster_uuid":"u1","version":{"number":"8.15.0"},"tagline":"You Know, for Search"}"#,
        );
        let snapshot = Snapshot::assemble(
            Some(&root),
            &MlInfo {
                upgrade_mode: false,
                limits: crate::es::types::MlLimits::default(),
            },
            parse(
                r#"[{"job_id":"a","state":"opened","model_size_stats":{"model_bytes":10},"node":{"id":"n1"},"assignment_explanation":""},
                    {"job_id":"b","state":"closed"}]"#,
            ),
            parse(r#"[{"job_id":"a","groups":["web"]},{"job_id":"b"}]"#),
            parse(
                r#"[{"datafeed_id":"df-a","state":"started","running_state":{"real_time_configured":false,"real_time_running":false}},
                    {"datafeed_id":"df-b","state":"stopped"}]"#,
            ),
            parse(r#"[{"datafeed_id":"df-a","job_id":"a"},{"datafeed_id":"df-b","job_id":"b"}]"#),
        );
        assert_eq!(snapshot.jobs["a"].groups, ["web"]);
        assert_eq!(snapshot.jobs["a"].assignment_explanation, None);
        assert_eq!(snapshot.jobs["a"].node.as_deref(), Some("n1"));
        assert_eq!(snapshot.datafeed_of("a").map(|(id, _)| id), Some("df-a"));
        assert_eq!(snapshot.datafeeds["df-a"].mode, DatafeedMode::Lookback);
        assert_eq!(snapshot.datafeeds["df-b"].mode, DatafeedMode::NotRunning);
        assert_eq!(snapshot.datafeeds["df-b"].job_id, "b");
        let json = serde_json::to_string(&snapshot).expect("serialises");
        let back: Snapshot = serde_json::from_str(&json).expect("round trip");
        assert_eq!(back, snapshot);
    }

    /// Plan files and journals written by quiesce 0.1 (a real `plan` and `apply` of
    /// `workflows/pre-upgrade-shutdown.yaml` against the demo cluster) still read, and their
    /// snapshots serialise again to the very same JSON: a saved plan's digest still matches, so
    /// `apply plan.json` does not see drift where there is none.
    #[test]
    fn snapshots_written_by_0_1_read_back_byte_for_byte() {
        let plan: serde_json::Value = parse(include_str!(
            "../../tests/fixtures/written-by-0.1/plan-pre-upgrade-shutdown.json"
        ));
        let journal =
            include_str!("../../tests/fixtures/written-by-0.1/journal-pre-upgrade-shutdown.jsonl");
        let header: serde_json::Value = parse(journal.lines().next().expect("a header line"));
        for (written, digest) in [
            (&plan["snapshot"], &plan["snapshot_digest"]),
            (
                &header["plan"]["snapshot"],
                &header["plan"]["snapshot_digest"],
            ),
            (&header["before"], &header["plan"]["snapshot_digest"]),
        ] {
            let snapshot: Snapshot = serde_json::from_value(written.clone()).expect("reads");
            assert_eq!(&serde_json::to_value(&snapshot).expect("writes"), written);
            assert_eq!(
                crate::plan::snapshot_digest(&snapshot),
                digest.as_str().expect("a digest")
            );
            assert_eq!(
                snapshot.jobs["logs-categorization"].state,
                ObservedJobState::Failed
            );
            assert_eq!(snapshot.jobs["web-latency"].state, ObservedJobState::Opened);
            assert_eq!(
                snapshot.datafeeds["datafeed-capacity-forecast-2026"].mode,
                DatafeedMode::Lookback
            );
        }
    }
}
