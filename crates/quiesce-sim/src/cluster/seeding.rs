//! Loads a resolved seed into the empty cluster: jobs placed on nodes by memory, datafeeds
//! started, lookbacks already running.

use std::time::Instant;

use super::config::{new_datafeed, new_job, seed_job_config};
use super::model::{DatafeedConfig, DatafeedState, JobState, Snapshot};
use super::nodes::{Placement, place};
use super::progress::time_text;
use super::{Shared, State};
use crate::seed::{ClusterSpec, SeedDatafeedState, SeedJobState};

pub(super) fn load(state: &mut State, shared: &Shared, spec: &ClusterSpec) {
    // Memory used per node, kept up to date here rather than recomputed per job: a generated
    // seed has thousands of jobs and must load in well under a second.
    let mut used = vec![0; shared.nodes.len()];
    let mut open = vec![0; shared.nodes.len()];
    let up = state.up();
    for seed_job in &spec.jobs {
        let config = seed_job_config(
            seed_job.groups.clone(),
            seed_job.model_memory_limit,
            seed_job.allow_lazy_open,
        );
        let mut job = new_job(&seed_job.id, config, seed_job.model_bytes);
        job.snapshots = seed_job
            .snapshots
            .iter()
            .map(|snapshot| Snapshot {
                snapshot_id: snapshot.id.clone(),
                timestamp: snapshot.timestamp,
                description: format!("State persisted due to job close at {}", snapshot.timestamp),
                model_bytes: seed_job.model_bytes,
                min_version: snapshot.min_version,
                retain: snapshot.retain,
            })
            .collect();
        job.model_snapshot_id = seed_job.model_snapshot_id.clone();
        job.state = match seed_job.state {
            SeedJobState::Opened => JobState::Opened,
            SeedJobState::Closed => JobState::Closed,
            SeedJobState::Failed => JobState::Failed,
        };
        if job.state.has_task() {
            job.opened_at = Some(Instant::now());
            // The seed was checked to fit (`Seed::resolve`); a failed job takes no memory.
            job.node = match place(
                &shared.nodes,
                &up,
                &used,
                &open,
                &job.id,
                job.config.model_memory_limit,
            ) {
                Placement::Node(node) => Some(node),
                Placement::NoCapacity(_) => (0..shared.nodes.len()).min_by_key(|&n| used[n]),
            };
            if let (Some(node), true) = (job.node, job.uses_memory()) {
                used[node] += job.config.model_memory_limit;
                open[node] += 1;
            }
        }
        state.insert_job(job);
    }
    for seed_df in &spec.datafeeds {
        let config = DatafeedConfig {
            job_id: seed_df.job_id.clone(),
            indices: seed_df.indices.clone(),
            query: serde_json::json!({"match_all": {"boost": 1.0}}),
            scroll_size: 1000,
            query_delay: seed_df.query_delay.map(time_text),
            frequency: seed_df.frequency.map(time_text),
            max_empty_searches: None,
        };
        let mut df = new_datafeed(&seed_df.id, config);
        df.progress.settings.record_rate = seed_df.record_rate;
        let started = seed_df.state == SeedDatafeedState::Started;
        if started {
            df.state = DatafeedState::Started;
            df.end_ms = seed_df.end.map(jiff::Timestamp::as_millisecond);
            df.progress.start(0, None);
        }
        state.insert_datafeed(df);
        if started {
            state.run_datafeed(&seed_df.id);
        }
    }
    state.calendars.seed(&spec.calendars);
}
