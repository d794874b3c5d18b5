//! The keywords of the playbook format: the states a playbook can ask for and the run
//! policies it can choose. Each enum's YAML spelling is its `snake_case` variant name; `NAMES`
//! lists them for "did you mean". They belong to the format (the schema is generated from
//! them); `model` re-exports them as the validated playbook's vocabulary.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Which way an entry moves a resource: down (stop, close, enable upgrade mode) or up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Direction {
    Down,
    Up,
}

/// A keyword enum read from a playbook string.
pub(crate) trait Keyword: Sized + Copy + 'static {
    /// Every spelling with its value, in documentation order.
    const NAMES: &'static [(&'static str, Self)];

    fn from_name(name: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    }

    fn name(self) -> &'static str
    where
        Self: PartialEq,
    {
        Self::NAMES
            .iter()
            .find(|(_, v)| *v == self)
            .map_or("", |(n, _)| n)
    }
}

/// States a job can be asked to reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum JobState {
    /// Opened: the job accepts data (its datafeed may then be started).
    Opened,
    /// Closed: the model is persisted and the job holds no resources (its datafeed is stopped
    /// first).
    Closed,
}

impl Keyword for JobState {
    const NAMES: &'static [(&'static str, Self)] =
        &[("opened", Self::Opened), ("closed", Self::Closed)];
}

impl JobState {
    pub(crate) fn direction(self) -> Direction {
        match self {
            Self::Opened => Direction::Up,
            Self::Closed => Direction::Down,
        }
    }
}

/// States a datafeed can be asked to reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum DatafeedState {
    /// Started: the datafeed sends data to its job (the job is opened first).
    Started,
    /// Stopped: no more data goes to the job.
    Stopped,
}

impl Keyword for DatafeedState {
    const NAMES: &'static [(&'static str, Self)] =
        &[("started", Self::Started), ("stopped", Self::Stopped)];
}

impl DatafeedState {
    pub(crate) fn direction(self) -> Direction {
        match self {
            Self::Started => Direction::Up,
            Self::Stopped => Direction::Down,
        }
    }
}

/// States of the cluster-wide machine-learning upgrade mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum UpgradeMode {
    /// Enabled: machine-learning tasks are paused for an upgrade; set after every close.
    Enabled,
    /// Disabled: normal operation; set before any open.
    Disabled,
}

impl Keyword for UpgradeMode {
    const NAMES: &'static [(&'static str, Self)] =
        &[("enabled", Self::Enabled), ("disabled", Self::Disabled)];
}

/// What a failed step does to the rest of the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum OnFailure {
    /// Skip only the steps that depend on the failed one; run everything else.
    #[default]
    Continue,
    /// Start nothing new; let steps in flight finish.
    Stop,
}

impl Keyword for OnFailure {
    const NAMES: &'static [(&'static str, Self)] =
        &[("continue", Self::Continue), ("stop", Self::Stop)];
}

/// Whether a datafeed stop or job close that timed out is escalated to `force=true`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ForcePolicy {
    /// Never force: a step that times out fails, and so does the close of a `failed` job.
    #[default]
    Never,
    /// After a timeout, retry the stop or close once with `force=true`, with a warning; close
    /// a job found `failed` with `force=true` at once (only a forced close moves it).
    AfterTimeout,
}

impl Keyword for ForcePolicy {
    const NAMES: &'static [(&'static str, Self)] = &[
        ("never", Self::Never),
        ("after_timeout", Self::AfterTimeout),
    ];
}

/// What the snapshot gate does with a model snapshot that is not the job's current one and
/// that the target version cannot open (docs/elasticsearch-ml-api.md §12.1–§12.3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum OldSnapshots {
    /// List them in the plan and leave them: a revert to one of them would fail after the
    /// upgrade.
    #[default]
    Keep,
    /// Upgrade each with the model snapshot upgrade API before the shutdown, one per job at a
    /// time.
    Upgrade,
    /// Delete each before the shutdown. Nothing is deleted unless this is written.
    Delete,
}

impl Keyword for OldSnapshots {
    const NAMES: &'static [(&'static str, Self)] = &[
        ("keep", Self::Keep),
        ("upgrade", Self::Upgrade),
        ("delete", Self::Delete),
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for (name, value) in JobState::NAMES {
            assert_eq!(JobState::from_name(name), Some(*value));
            assert_eq!(value.name(), *name);
        }
        assert_eq!(
            ForcePolicy::from_name("after_timeout"),
            Some(ForcePolicy::AfterTimeout)
        );
        assert_eq!(JobState::from_name("close"), None);
    }
}
