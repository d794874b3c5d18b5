//! Every endpoint the simulator answers, with what the pipeline needs to know about it: the
//! transport action and privilege security checks (es-ml-api.md §2.14, §2.15), whether upgrade
//! mode blocks it (§2.5), its parameters (§2), its fault operation and its name in
//! `/_sim/stats`.

use crate::sim::faults::Operation;
use crate::sim::security::Privilege;
use crate::sim::seed::EsVersion;

/// One endpoint (a path and a method).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Root,
    RootHead,
    Info,
    SetUpgradeMode,
    GetJobs,
    PutJob,
    DeleteJob,
    JobStats,
    OpenJob,
    CloseJob,
    ModelSnapshots,
    GetDatafeeds,
    PutDatafeed,
    DeleteDatafeed,
    DatafeedStats,
    StartDatafeed,
    StopDatafeed,
    HasPrivileges,
    Authenticate,
    SimFaultsGet,
    SimFaultsPut,
    SimFaultsDelete,
    SimFailJob,
    SimStats,
}

/// Parameters every ES endpoint accepts (rest-api-spec `_common.json`).
const COMMON: &[&str] = &["pretty", "human", "error_trace", "filter_path"];

impl Endpoint {
    /// Control endpoints under `/_sim/`: no credentials, no faults, not counted.
    pub(crate) fn is_control(self) -> bool {
        matches!(
            self,
            Endpoint::SimFaultsGet
                | Endpoint::SimFaultsPut
                | Endpoint::SimFaultsDelete
                | Endpoint::SimFailJob
                | Endpoint::SimStats
        )
    }

    /// The transport action named in 403 and upgrade-mode refusals.
    pub(crate) fn action(self) -> &'static str {
        match self {
            Endpoint::Root | Endpoint::RootHead => "cluster:monitor/main",
            Endpoint::Info => "cluster:monitor/xpack/ml/info/get",
            Endpoint::SetUpgradeMode => "cluster:admin/xpack/ml/upgrade_mode",
            Endpoint::GetJobs => "cluster:monitor/xpack/ml/job/get",
            Endpoint::PutJob => "cluster:admin/xpack/ml/job/put",
            Endpoint::DeleteJob => "cluster:admin/xpack/ml/job/delete",
            Endpoint::JobStats => "cluster:monitor/xpack/ml/job/stats/get",
            Endpoint::OpenJob => "cluster:admin/xpack/ml/job/open",
            Endpoint::CloseJob => "cluster:admin/xpack/ml/job/close",
            Endpoint::ModelSnapshots => "cluster:monitor/xpack/ml/job/model_snapshots/get",
            Endpoint::GetDatafeeds => "cluster:monitor/xpack/ml/datafeeds/get",
            Endpoint::PutDatafeed => "cluster:admin/xpack/ml/datafeeds/put",
            Endpoint::DeleteDatafeed => "cluster:admin/xpack/ml/datafeeds/delete",
            Endpoint::DatafeedStats => "cluster:monitor/xpack/ml/datafeeds/stats/get",
            Endpoint::StartDatafeed => "cluster:admin/xpack/ml/datafeed/start",
            Endpoint::StopDatafeed => "cluster:admin/xpack/ml/datafeed/stop",
            Endpoint::HasPrivileges => "cluster:admin/xpack/security/user/has_privileges",
            Endpoint::Authenticate => "cluster:admin/xpack/security/user/authenticate",
            Endpoint::SimFaultsGet
            | Endpoint::SimFaultsPut
            | Endpoint::SimFaultsDelete
            | Endpoint::SimFailJob
            | Endpoint::SimStats => "sim:control",
        }
    }

    /// The cluster privilege the action needs; `None` for what any authenticated user may do.
    pub(crate) fn privilege(self) -> Option<Privilege> {
        match self {
            Endpoint::Root | Endpoint::RootHead => Some(Privilege::Monitor),
            Endpoint::Info
            | Endpoint::GetJobs
            | Endpoint::JobStats
            | Endpoint::ModelSnapshots
            | Endpoint::GetDatafeeds
            | Endpoint::DatafeedStats => Some(Privilege::MonitorMl),
            Endpoint::SetUpgradeMode
            | Endpoint::PutJob
            | Endpoint::DeleteJob
            | Endpoint::OpenJob
            | Endpoint::CloseJob
            | Endpoint::PutDatafeed
            | Endpoint::DeleteDatafeed
            | Endpoint::StartDatafeed
            | Endpoint::StopDatafeed => Some(Privilege::ManageMl),
            Endpoint::HasPrivileges
            | Endpoint::Authenticate
            | Endpoint::SimFaultsGet
            | Endpoint::SimFaultsPut
            | Endpoint::SimFaultsDelete
            | Endpoint::SimFailJob
            | Endpoint::SimStats => None,
        }
    }

    /// Whether `MlUpgradeModeActionFilter` refuses it while upgrade mode is on (E10).
    pub(crate) fn blocked_in_upgrade_mode(self) -> bool {
        matches!(
            self,
            Endpoint::PutJob
                | Endpoint::DeleteJob
                | Endpoint::OpenJob
                | Endpoint::CloseJob
                | Endpoint::PutDatafeed
                | Endpoint::DeleteDatafeed
                | Endpoint::StartDatafeed
                | Endpoint::StopDatafeed
        )
    }

    /// The endpoint's own parameters (query, or body for the endpoints in
    /// [`Endpoint::params_in_body`]).
    pub(crate) fn params(self) -> &'static [&'static str] {
        match self {
            Endpoint::SetUpgradeMode => &["enabled", "timeout"],
            Endpoint::GetJobs | Endpoint::GetDatafeeds => &["allow_no_match", "exclude_generated"],
            Endpoint::JobStats | Endpoint::DatafeedStats => &["allow_no_match"],
            Endpoint::PutJob | Endpoint::PutDatafeed => &[
                "ignore_unavailable",
                "allow_no_indices",
                "ignore_throttled",
                "expand_wildcards",
            ],
            Endpoint::DeleteJob => &["force", "wait_for_completion", "delete_user_annotations"],
            Endpoint::DeleteDatafeed => &["force"],
            Endpoint::OpenJob => &["timeout", "job_id"],
            Endpoint::CloseJob => &["allow_no_match", "force", "timeout", "job_id"],
            Endpoint::StartDatafeed => &["start", "end", "timeout", "datafeed_id"],
            Endpoint::StopDatafeed => &["allow_no_match", "force", "timeout", "datafeed_id"],
            Endpoint::ModelSnapshots => &[
                "from",
                "size",
                "start",
                "end",
                "sort",
                "desc",
                "page",
                "job_id",
                "snapshot_id",
            ],
            _ => &[],
        }
    }

    /// The allowed parameter names for this ES version, including the common ones.
    pub(crate) fn allowed_params(self, version: EsVersion) -> Vec<&'static str> {
        let mut allowed: Vec<&'static str> = self.params().iter().chain(COMMON).copied().collect();
        allowed.extend(self.deprecated_alias(version));
        if self == Endpoint::StopDatafeed && (version.major, version.minor) >= (9, 3) {
            allowed.push("close_job");
        }
        allowed
    }

    /// The deprecated name of `allow_no_match` that 7.10–7.17 still accept, with a warning
    /// (es-ml-api.md §8).
    pub(crate) fn deprecated_alias(self, version: EsVersion) -> Option<&'static str> {
        if version.major != 7 || version.minor < 10 {
            return None;
        }
        match self {
            Endpoint::CloseJob | Endpoint::GetJobs | Endpoint::JobStats => Some("allow_no_jobs"),
            Endpoint::StopDatafeed | Endpoint::GetDatafeeds | Endpoint::DatafeedStats => {
                Some("allow_no_datafeeds")
            }
            _ => None,
        }
    }

    /// Whether parameters may come as a JSON body instead of the query (es-ml-api.md §1.2).
    pub(crate) fn params_in_body(self) -> bool {
        matches!(
            self,
            Endpoint::OpenJob
                | Endpoint::CloseJob
                | Endpoint::StartDatafeed
                | Endpoint::StopDatafeed
                | Endpoint::ModelSnapshots
        )
    }

    /// The fault operation that rules can target.
    pub(crate) fn fault_operation(self) -> Option<Operation> {
        match self {
            Endpoint::StopDatafeed => Some(Operation::StopDatafeed),
            Endpoint::CloseJob => Some(Operation::CloseJob),
            Endpoint::OpenJob => Some(Operation::OpenJob),
            Endpoint::StartDatafeed => Some(Operation::StartDatafeed),
            Endpoint::JobStats => Some(Operation::JobStats),
            Endpoint::DatafeedStats => Some(Operation::DatafeedStats),
            Endpoint::SetUpgradeMode => Some(Operation::SetUpgradeMode),
            _ => None,
        }
    }

    /// Whether the read waits the seed's `stats` latency.
    pub(crate) fn is_read(self) -> bool {
        matches!(
            self,
            Endpoint::Info
                | Endpoint::GetJobs
                | Endpoint::JobStats
                | Endpoint::ModelSnapshots
                | Endpoint::GetDatafeeds
                | Endpoint::DatafeedStats
        )
    }

    /// The operation name in `/_sim/stats` `requests`.
    pub(crate) fn stat_name(self) -> Option<&'static str> {
        Some(match self {
            Endpoint::Root | Endpoint::RootHead => "root",
            Endpoint::Info => "info",
            Endpoint::SetUpgradeMode => "set_upgrade_mode",
            Endpoint::GetJobs => "get_jobs",
            Endpoint::PutJob => "put_job",
            Endpoint::DeleteJob => "delete_job",
            Endpoint::JobStats => "job_stats",
            Endpoint::OpenJob => "open_job",
            Endpoint::CloseJob => "close_job",
            Endpoint::ModelSnapshots => "model_snapshots",
            Endpoint::GetDatafeeds => "get_datafeeds",
            Endpoint::PutDatafeed => "put_datafeed",
            Endpoint::DeleteDatafeed => "delete_datafeed",
            Endpoint::DatafeedStats => "datafeed_stats",
            Endpoint::StartDatafeed => "start_datafeed",
            Endpoint::StopDatafeed => "stop_datafeed",
            Endpoint::HasPrivileges => "has_privileges",
            Endpoint::Authenticate => "authenticate",
            _ => return None,
        })
    }
}
