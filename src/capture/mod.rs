//! Capture: today's machine-learning state of a cluster, written as a playbook whose targets
//! are the states observed, so that the same set of jobs and datafeeds can be brought back
//! after an upgrade (`quiesce capture`).
//!
//! Takes an observed [`Snapshot`] and a [`Selection`] of jobs; gives a [`Capture`] (one target
//! per selected job and per datafeed of a selected job, each with the reason its target differs
//! from what was observed, if it does; `failed` jobs left out, as `revert` leaves them out) and its YAML text ([`playbook_from`]). Pure: no I/O, no
//! clock (the capture time is an argument), and no secret ever: credentials are named by their
//! environment variables in comments only.

mod render;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use miette::Diagnostic;
use thiserror::Error;

use crate::model::{DatafeedState, JobState, Pattern};
use crate::observe::{
    DatafeedMode, ObservedDatafeed, ObservedDatafeedState, ObservedJob, ObservedJobState, Snapshot,
};

pub(crate) use render::failed_text;
#[cfg(test)]
use render::playbook_from;

/// Why a capture cannot be made.
#[derive(Debug, Error, Diagnostic)]
pub(crate) enum CaptureError {
    /// A `--match` token that is not an Elasticsearch job id expression token.
    #[error("`--match {token}` is not a job selector: {reason}")]
    #[diagnostic(
        code(quiesce::capture::bad_match),
        help(
            "Give a job id, a job group, or a wildcard over job ids (`prod-*`); `*` selects every job."
        )
    )]
    BadMatch { token: String, reason: String },

    /// Exact ids or group names that select nothing (Elasticsearch requires those to match).
    #[error("no job or job group named {tokens} in the cluster")]
    #[diagnostic(
        code(quiesce::capture::no_match),
        help(
            "Check the job ids and group names (`GET _ml/anomaly_detectors`); a wildcard (`name-*`) may match nothing, a name must match something."
        )
    )]
    NoMatch { tokens: String },

    /// `-o FILE` names a file that exists: it may be the capture taken before a shutdown.
    #[error("`{}` already exists; not overwriting it", path.display())]
    #[diagnostic(
        code(quiesce::capture::exists),
        help(
            "A capture taken after a shutdown would replace the one that can bring the cluster back: choose another file name, or pass `--overwrite` if that file is no longer needed."
        )
    )]
    WouldOverwrite { path: std::path::PathBuf },
}

/// What a capture wants the operator to know; the capture is still written.
#[derive(Debug, Error, Diagnostic)]
pub(crate) enum CaptureWarning {
    /// Upgrade mode was on: the playbook keeps it on, and nothing opens or starts while it is.
    #[error("upgrade mode is enabled; the captured playbook keeps `upgrade_mode: enabled`")]
    #[diagnostic(
        code(quiesce::capture::upgrade_mode),
        severity(Warning),
        help(
            "To bring the jobs and datafeeds back after the upgrade, delete that line (or write `upgrade_mode: disabled`) before applying the playbook."
        )
    )]
    UpgradeModeOn,
}

/// Which jobs a capture keeps: Elasticsearch's id expression semantics (docs/elasticsearch-ml-api.md §5): a
/// token matches a job by its id or by one of its groups, `*` wildcards allowed; no token at
/// all, `*` or `_all` select every job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Selection {
    /// Empty: every job.
    tokens: Vec<Pattern>,
}

impl Selection {
    /// Every job in the cluster.
    #[cfg(test)]
    pub(crate) fn everything() -> Selection {
        Selection::default()
    }

    /// Reads `--match` values; each may itself be a comma-separated id expression.
    pub(crate) fn parse<S: AsRef<str>>(expressions: &[S]) -> Result<Selection, CaptureError> {
        let mut tokens = Vec::new();
        for expression in expressions {
            for token in expression.as_ref().split(',').map(str::trim) {
                let text = if token == "_all" { "*" } else { token };
                let pattern = Pattern::parse(text).map_err(|reason| CaptureError::BadMatch {
                    token: token.to_owned(),
                    reason,
                })?;
                if !tokens.contains(&pattern) {
                    tokens.push(pattern);
                }
            }
        }
        if tokens.iter().any(|t| t.as_str() == "*") {
            tokens.clear();
        }
        Ok(Selection { tokens })
    }

    /// Whether the selection is every job.
    pub(crate) fn is_everything(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The tokens, as given (empty for everything).
    pub(crate) fn tokens(&self) -> &[Pattern] {
        &self.tokens
    }

    /// Whether the job `id` is selected.
    pub(crate) fn selects(&self, id: &str, job: &ObservedJob) -> bool {
        self.is_everything()
            || self
                .tokens
                .iter()
                .any(|token| token_selects(token, id, job))
    }

    /// Checks that every exact token (no wildcard) selects something, as Elasticsearch
    /// requires whatever `allow_no_match` says.
    pub(crate) fn check(&self, snapshot: &Snapshot) -> Result<(), CaptureError> {
        let unmatched: Vec<String> = self
            .tokens
            .iter()
            .filter(|token| !token.has_wildcard())
            .filter(|token| {
                !snapshot
                    .jobs
                    .iter()
                    .any(|(id, job)| token_selects(token, id, job))
            })
            .map(|token| format!("`{token}`"))
            .collect();
        if unmatched.is_empty() {
            Ok(())
        } else {
            Err(CaptureError::NoMatch {
                tokens: unmatched.join(", "),
            })
        }
    }
}

fn token_selects(token: &Pattern, id: &str, job: &ObservedJob) -> bool {
    token.matches(id) || job.groups.iter().any(|group| token.matches(group))
}

/// Why a captured target is not simply the state observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Note {
    /// The job was on its way (`opening`, `closing`) to the state captured.
    JobInTransition(ObservedJobState),
    /// The job is open because a lookback datafeed runs on it; Elasticsearch closes it when
    /// the lookback ends.
    JobOpenForLookback { datafeed: String },
    /// The datafeed ran with an `end` (lookback): it is not restarted.
    Lookback,
    /// The datafeed ran but its job is captured closed (it was closing): a datafeed cannot run
    /// on a closed job.
    JobNotOpen { job: String },
    /// The datafeed was on its way (`starting`, `stopping`) to the state captured.
    DatafeedInTransition(ObservedDatafeedState),
}

/// One captured job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CapturedJob {
    pub id: String,
    pub observed: ObservedJobState,
    pub state: JobState,
    pub note: Option<Note>,
}

/// One captured datafeed, with the job it feeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CapturedDatafeed {
    pub id: String,
    pub job: String,
    pub observed: ObservedDatafeedState,
    pub state: DatafeedState,
    pub note: Option<Note>,
}

/// A selected job the capture leaves out, with its datafeed: it was `failed`. A playbook cannot
/// make a job fail, and closing it (which only a forced close does) is no restore: as `revert`
/// does, the capture leaves it to the operator, and says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FailedJob {
    pub id: String,
    pub datafeed: Option<String>,
}

/// The targets of a capture, sorted by id, with what the cluster said about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Capture {
    pub cluster_name: String,
    pub version: String,
    pub upgrade_mode: bool,
    pub selection: Selection,
    pub jobs: Vec<CapturedJob>,
    pub datafeeds: Vec<CapturedDatafeed>,
    /// Selected jobs left out because they were `failed`, sorted by id.
    pub failed: Vec<FailedJob>,
}

impl Capture {
    /// The selected jobs and the datafeeds of those jobs, each with the target that brings it
    /// back to the state observed.
    pub(crate) fn new(snapshot: &Snapshot, selection: &Selection) -> Capture {
        let (failed, kept): (Vec<_>, Vec<_>) = snapshot
            .jobs
            .iter()
            .filter(|(id, job)| selection.selects(id, job))
            .partition(|(_, job)| job.state == ObservedJobState::Failed);
        let jobs: Vec<CapturedJob> = kept
            .into_iter()
            .map(|(id, job)| capture_job(snapshot, id, job))
            .collect();
        let failed = failed
            .into_iter()
            .map(|(id, job)| FailedJob {
                id: id.clone(),
                datafeed: job.datafeed.clone(),
            })
            .collect();
        let job_states: BTreeMap<&str, JobState> = jobs
            .iter()
            .map(|job| (job.id.as_str(), job.state))
            .collect();
        let datafeeds = snapshot
            .datafeeds
            .iter()
            .filter_map(|(id, feed)| {
                let job_state = *job_states.get(feed.job_id.as_str())?;
                Some(capture_datafeed(id, feed, job_state))
            })
            .collect();
        Capture {
            cluster_name: snapshot.cluster_name.clone(),
            version: snapshot.version.clone(),
            upgrade_mode: snapshot.upgrade_mode,
            selection: selection.clone(),
            jobs,
            datafeeds,
            failed,
        }
    }

    /// Jobs captured `opened`.
    pub(crate) fn opened_jobs(&self) -> usize {
        self.jobs
            .iter()
            .filter(|job| job.state == JobState::Opened)
            .count()
    }

    /// Datafeeds captured `started`.
    pub(crate) fn started_datafeeds(&self) -> usize {
        self.datafeeds
            .iter()
            .filter(|feed| feed.state == DatafeedState::Started)
            .count()
    }
}

/// A datafeed of a selected job, whose own target is `job_state`.
fn capture_datafeed(id: &str, feed: &ObservedDatafeed, job_state: JobState) -> CapturedDatafeed {
    use ObservedDatafeedState::{Started, Starting, Stopped, Stopping};
    let (state, note) = match (feed.state, feed.mode) {
        (Started | Starting, DatafeedMode::Lookback) => {
            (DatafeedState::Stopped, Some(Note::Lookback))
        }
        (Started | Starting, _) if job_state == JobState::Closed => (
            DatafeedState::Stopped,
            Some(Note::JobNotOpen {
                job: feed.job_id.clone(),
            }),
        ),
        (Started, _) => (DatafeedState::Started, None),
        (Starting, _) => (
            DatafeedState::Started,
            Some(Note::DatafeedInTransition(feed.state)),
        ),
        (Stopping, _) => (
            DatafeedState::Stopped,
            Some(Note::DatafeedInTransition(feed.state)),
        ),
        (Stopped, _) => (DatafeedState::Stopped, None),
    };
    CapturedDatafeed {
        id: id.to_owned(),
        job: feed.job_id.clone(),
        observed: feed.state,
        state,
        note,
    }
}

fn capture_job(snapshot: &Snapshot, id: &str, job: &ObservedJob) -> CapturedJob {
    let (state, note) = match job.state {
        ObservedJobState::Opened => (JobState::Opened, None),
        ObservedJobState::Opening => (
            JobState::Opened,
            Some(Note::JobInTransition(ObservedJobState::Opening)),
        ),
        // Failed jobs are left out by `Capture::new`; were one to come here, closed is what a
        // playbook can make of it.
        ObservedJobState::Closed | ObservedJobState::Failed => (JobState::Closed, None),
        ObservedJobState::Closing => (
            JobState::Closed,
            Some(Note::JobInTransition(ObservedJobState::Closing)),
        ),
    };
    let note = note.or_else(|| {
        let (datafeed, feed) = snapshot.datafeed_of(id)?;
        let running = matches!(
            feed.state,
            ObservedDatafeedState::Started | ObservedDatafeedState::Starting
        );
        (state == JobState::Opened && running && feed.mode == DatafeedMode::Lookback).then(|| {
            Note::JobOpenForLookback {
                datafeed: datafeed.to_owned(),
            }
        })
    });
    CapturedJob {
        id: id.to_owned(),
        observed: job.state,
        state,
        note,
    }
}
