//! Every endpoint the simulator answers, with what the pipeline needs to know about it: the
//! transport action and privilege security checks (docs/elasticsearch-ml-api.md §2.14, §2.15), whether upgrade
//! mode blocks it (§2.5), its parameters (§2), its fault operation and its name in
//! `/_sim/stats`.

use crate::faults::Operation;
use crate::security::Privilege;
use crate::seed::EsVersion;

/// What a route leads to: an Elasticsearch endpoint, or the simulator's own control API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    Es(Endpoint),
    Control(Control),
}

/// An Elasticsearch endpoint: it goes through the whole pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Main(Main),
    Ml(Ml),
    Doc(Doc),
}

/// The document and index APIs (docs/elasticsearch-ml-api.md §11): index-level security,
/// no upgrade-mode filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Doc {
    /// `PUT /<index>`
    CreateIndex,
    /// `GET /<index>`
    GetIndex,
    /// `HEAD /<index>`
    IndexExists,
    /// `PUT|POST /<index>/_doc/<id>`, `POST /<index>/_doc`
    Index,
    /// `PUT|POST /<index>/_create/<id>`
    Create,
    /// `GET /<index>/_doc/<id>`
    Get,
    /// `DELETE /<index>/_doc/<id>`
    Delete,
    /// `GET|POST [/<index>]/_search`
    Search,
    /// `POST|PUT [/<index>]/_bulk`
    Bulk,
    /// `POST|GET [/<index>]/_refresh`
    Refresh,
}

impl Doc {
    /// The parameters the REST API spec declares for it (`index.json`, `create.json`, …).
    fn params(self) -> &'static [&'static str] {
        const WRITE: &[&str] = &[
            "wait_for_active_shards",
            "refresh",
            "routing",
            "timeout",
            "version",
            "version_type",
            "if_seq_no",
            "if_primary_term",
            "op_type",
            "pipeline",
            "require_alias",
            "require_data_stream",
            "list_executed_pipelines",
            "include_source_on_error",
        ];
        match self {
            Doc::CreateIndex => &["wait_for_active_shards", "timeout", "master_timeout"],
            Doc::GetIndex | Doc::IndexExists => &[
                "local",
                "ignore_unavailable",
                "allow_no_indices",
                "expand_wildcards",
                "flat_settings",
                "include_defaults",
                "master_timeout",
                "features",
            ],
            Doc::Index | Doc::Create => WRITE,
            Doc::Get => &[
                "stored_fields",
                "preference",
                "realtime",
                "refresh",
                "routing",
                "_source",
                "_source_excludes",
                "_source_includes",
                "version",
                "version_type",
                "force_synthetic_source",
            ],
            Doc::Delete => &[
                "wait_for_active_shards",
                "refresh",
                "routing",
                "timeout",
                "if_seq_no",
                "if_primary_term",
                "version",
                "version_type",
            ],
            Doc::Search => &[
                "analyzer",
                "analyze_wildcard",
                "ccs_minimize_roundtrips",
                "default_operator",
                "df",
                "explain",
                "stored_fields",
                "docvalue_fields",
                "from",
                "force_synthetic_source",
                "ignore_unavailable",
                "ignore_throttled",
                "allow_no_indices",
                "expand_wildcards",
                "lenient",
                "preference",
                "q",
                "routing",
                "scroll",
                "search_type",
                "size",
                "sort",
                "_source",
                "_source_excludes",
                "_source_includes",
                "terminate_after",
                "stats",
                "suggest_field",
                "suggest_mode",
                "suggest_size",
                "suggest_text",
                "timeout",
                "track_scores",
                "track_total_hits",
                "allow_partial_search_results",
                "typed_keys",
                "version",
                "seq_no_primary_term",
                "request_cache",
                "batched_reduce_size",
                "max_concurrent_shard_requests",
                "pre_filter_shard_size",
                "rest_total_hits_as_int",
                "min_compatible_shard_node",
                "include_named_queries_score",
                "project_routing",
            ],
            Doc::Bulk => &[
                "wait_for_active_shards",
                "refresh",
                "routing",
                "timeout",
                "type",
                "_source",
                "_source_excludes",
                "_source_includes",
                "pipeline",
                "require_alias",
                "require_data_stream",
                "list_executed_pipelines",
                "include_source_on_error",
            ],
            Doc::Refresh => &["ignore_unavailable", "allow_no_indices", "expand_wildcards"],
        }
    }

    /// Whether the handler reads a body.
    pub(crate) fn takes_body(self) -> bool {
        matches!(
            self,
            Doc::CreateIndex | Doc::Index | Doc::Create | Doc::Search | Doc::Bulk
        )
    }

    /// The fault operation that rules can target.
    pub(crate) fn fault_operation(self) -> Operation {
        match self {
            Doc::CreateIndex => Operation::CreateIndex,
            Doc::GetIndex | Doc::IndexExists => Operation::GetIndex,
            Doc::Index | Doc::Create => Operation::Index,
            Doc::Get => Operation::GetDoc,
            Doc::Delete => Operation::DeleteDoc,
            Doc::Search => Operation::Search,
            Doc::Bulk => Operation::Bulk,
            Doc::Refresh => Operation::Refresh,
        }
    }

    fn stat_name(self) -> &'static str {
        self.fault_operation().name()
    }

    /// The transport action, for `/_sim/stats` only: index actions are authorized per index.
    fn action(self) -> &'static str {
        match self {
            Doc::CreateIndex => "indices:admin/create",
            Doc::GetIndex | Doc::IndexExists => "indices:admin/get",
            Doc::Index | Doc::Create => "indices:data/write/index",
            Doc::Get => "indices:data/read/get",
            Doc::Delete => "indices:data/write/delete",
            Doc::Search => "indices:data/read/search",
            Doc::Bulk => "indices:data/write/bulk",
            Doc::Refresh => "indices:admin/refresh",
        }
    }
}

/// The endpoints outside `/_ml/`: `GET`/`HEAD /` and the security APIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Main {
    /// `GET /`
    Info,
    /// `HEAD /`
    Ping,
    HasPrivileges,
    Authenticate,
}

/// The `/_ml/` endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ml {
    Info,
    SetUpgradeMode,
    GetJobs,
    PutJob,
    DeleteJob,
    JobStats,
    OpenJob,
    CloseJob,
    ModelSnapshots,
    DeleteModelSnapshot,
    UpgradeModelSnapshot,
    MemoryStats,
    GetDatafeeds,
    PutDatafeed,
    DeleteDatafeed,
    DatafeedStats,
    StartDatafeed,
    StopDatafeed,
    Calendar(CalendarApi),
}

/// The calendar endpoints under `/_ml/calendars` (docs/elasticsearch-ml-api.md §13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CalendarApi {
    /// `PUT /_ml/calendars/<id>`
    Put,
    /// `GET|POST /_ml/calendars[/<ids>]`
    Get,
    /// `PUT /_ml/calendars/<id>/jobs/<ids>`
    AddJobs,
    /// `DELETE /_ml/calendars/<id>/jobs/<ids>`
    RemoveJobs,
    /// `DELETE /_ml/calendars/<id>`
    Delete,
    /// `POST /_ml/calendars/<id>/events`
    PostEvents,
    /// `GET /_ml/calendars/<ids>/events`
    GetEvents,
    /// `DELETE /_ml/calendars/<id>/events/<event_id>`
    DeleteEvent,
}

impl CalendarApi {
    fn action(self) -> &'static str {
        match self {
            CalendarApi::Put => "cluster:admin/xpack/ml/calendars/put",
            CalendarApi::Get => "cluster:monitor/xpack/ml/calendars/get",
            CalendarApi::AddJobs | CalendarApi::RemoveJobs => {
                "cluster:admin/xpack/ml/calendars/jobs/update"
            }
            CalendarApi::Delete => "cluster:admin/xpack/ml/calendars/delete",
            CalendarApi::PostEvents => "cluster:admin/xpack/ml/calendars/events/post",
            CalendarApi::GetEvents => "cluster:monitor/xpack/ml/calendars/events/get",
            CalendarApi::DeleteEvent => "cluster:admin/xpack/ml/calendars/events/delete",
        }
    }

    /// The query parameters the REST spec declares (`ml.get_calendars.json`,
    /// `ml.get_calendar_events.json`; the others declare none).
    fn params(self) -> &'static [&'static str] {
        match self {
            CalendarApi::Get => &["from", "size"],
            CalendarApi::GetEvents => &["job_id", "start", "end", "from", "size"],
            _ => &[],
        }
    }

    /// The fields of the body the two listings read instead of the query
    /// (`GetCalendarsAction.Request.PARSER`, `GetCalendarEventsAction.Request.PARSER`).
    fn body_fields(self) -> &'static [&'static str] {
        match self {
            CalendarApi::Get => &["calendar_id", "page"],
            CalendarApi::GetEvents => &["calendar_id", "start", "end", "job_id", "page"],
            _ => &[],
        }
    }

    fn stat_name(self) -> &'static str {
        match self {
            CalendarApi::Put => "put_calendar",
            CalendarApi::Get => "get_calendars",
            CalendarApi::AddJobs => "put_calendar_job",
            CalendarApi::RemoveJobs => "delete_calendar_job",
            CalendarApi::Delete => "delete_calendar",
            CalendarApi::PostEvents => "post_calendar_events",
            CalendarApi::GetEvents => "get_calendar_events",
            CalendarApi::DeleteEvent => "delete_calendar_event",
        }
    }
}

/// The control endpoints under `/_sim/`: no credentials, no faults, not counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Control {
    GetFaults,
    PutFaults,
    DeleteFaults,
    FailJob,
    Stats,
    Nodes,
    NodeLeave,
    NodeJoin,
    RollingRestart,
    Settings,
}

/// Parameters every ES endpoint accepts (rest-api-spec `_common.json`): `source` (with
/// `source_content_type`) is the request body given in the query.
pub(crate) const COMMON: &[&str] = &[
    "pretty",
    "human",
    "error_trace",
    "source",
    "source_content_type",
    "filter_path",
];

impl Endpoint {
    /// The transport action named in 403 and upgrade-mode refusals.
    pub(crate) fn action(self) -> &'static str {
        match self {
            Endpoint::Main(Main::Info | Main::Ping) => "cluster:monitor/main",
            Endpoint::Main(Main::HasPrivileges) => {
                "cluster:admin/xpack/security/user/has_privileges"
            }
            Endpoint::Main(Main::Authenticate) => "cluster:admin/xpack/security/user/authenticate",
            Endpoint::Ml(ml) => ml.action(),
            Endpoint::Doc(doc) => doc.action(),
        }
    }

    /// The cluster privilege the action needs; `None` for what any authenticated user may do.
    pub(crate) fn privilege(self) -> Option<Privilege> {
        match self {
            Endpoint::Main(Main::Info | Main::Ping) => Some(Privilege::Monitor),
            Endpoint::Main(Main::HasPrivileges | Main::Authenticate) => None,
            Endpoint::Ml(ml) if ml.is_read() => Some(Privilege::MonitorMl),
            Endpoint::Ml(_) => Some(Privilege::ManageMl),
            Endpoint::Doc(_) => None,
        }
    }

    /// The allowed parameter names for this ES version, including the common ones.
    pub(crate) fn allowed_params(self, version: EsVersion) -> Vec<&'static str> {
        let ml = match self {
            Endpoint::Ml(ml) => ml,
            Endpoint::Doc(doc) => return doc.params().iter().chain(COMMON).copied().collect(),
            Endpoint::Main(_) => return COMMON.to_vec(),
        };
        let mut allowed: Vec<&'static str> = ml.params().iter().chain(COMMON).copied().collect();
        allowed.extend(self.deprecated_alias(version));
        if ml == Ml::StopDatafeed && (version.major, version.minor) >= (9, 3) {
            allowed.push("close_job");
        }
        allowed
    }

    /// The fields a JSON body may give instead of the query, where they differ from the query
    /// parameters (the calendar listings read `calendar_id` and `page` from the body only).
    pub(crate) fn allowed_body_params(self, version: EsVersion) -> Vec<&'static str> {
        match self {
            Endpoint::Ml(Ml::Calendar(calendar)) => calendar
                .body_fields()
                .iter()
                .chain(COMMON)
                .copied()
                .collect(),
            _ => self.allowed_params(version),
        }
    }

    /// The deprecated name of `allow_no_match` that 7.10–7.17 still accept, with a warning
    /// (docs/elasticsearch-ml-api.md §8).
    pub(crate) fn deprecated_alias(self, version: EsVersion) -> Option<&'static str> {
        if version.major != 7 || version.minor < 10 {
            return None;
        }
        match self {
            Endpoint::Ml(Ml::CloseJob | Ml::GetJobs | Ml::JobStats) => Some("allow_no_jobs"),
            Endpoint::Ml(Ml::StopDatafeed | Ml::GetDatafeeds | Ml::DatafeedStats) => {
                Some("allow_no_datafeeds")
            }
            _ => None,
        }
    }

    /// The operation name in `/_sim/stats` `requests`.
    pub(crate) fn stat_name(self) -> &'static str {
        match self {
            Endpoint::Main(Main::Info | Main::Ping) => "root",
            Endpoint::Main(Main::HasPrivileges) => "has_privileges",
            Endpoint::Main(Main::Authenticate) => "authenticate",
            Endpoint::Ml(ml) => ml.stat_name(),
            Endpoint::Doc(doc) => doc.stat_name(),
        }
    }
}

impl Ml {
    fn action(self) -> &'static str {
        match self {
            Ml::Info => "cluster:monitor/xpack/ml/info/get",
            Ml::SetUpgradeMode => "cluster:admin/xpack/ml/upgrade_mode",
            Ml::GetJobs => "cluster:monitor/xpack/ml/job/get",
            Ml::PutJob => "cluster:admin/xpack/ml/job/put",
            Ml::DeleteJob => "cluster:admin/xpack/ml/job/delete",
            Ml::JobStats => "cluster:monitor/xpack/ml/job/stats/get",
            Ml::OpenJob => "cluster:admin/xpack/ml/job/open",
            Ml::CloseJob => "cluster:admin/xpack/ml/job/close",
            Ml::ModelSnapshots => "cluster:monitor/xpack/ml/job/model_snapshots/get",
            Ml::DeleteModelSnapshot => "cluster:admin/xpack/ml/job/model_snapshots/delete",
            Ml::UpgradeModelSnapshot => "cluster:admin/xpack/ml/job/model_snapshots/upgrade",
            Ml::MemoryStats => "cluster:monitor/xpack/ml/memory/stats/get",
            Ml::GetDatafeeds => "cluster:monitor/xpack/ml/datafeeds/get",
            Ml::PutDatafeed => "cluster:admin/xpack/ml/datafeeds/put",
            Ml::DeleteDatafeed => "cluster:admin/xpack/ml/datafeeds/delete",
            Ml::DatafeedStats => "cluster:monitor/xpack/ml/datafeeds/stats/get",
            Ml::StartDatafeed => "cluster:admin/xpack/ml/datafeed/start",
            Ml::StopDatafeed => "cluster:admin/xpack/ml/datafeed/stop",
            Ml::Calendar(calendar) => calendar.action(),
        }
    }

    /// Reads: `monitor_ml` suffices, upgrade mode allows them, they wait the seed's `stats`
    /// latency.
    pub(crate) fn is_read(self) -> bool {
        matches!(
            self,
            Ml::Info
                | Ml::GetJobs
                | Ml::JobStats
                | Ml::ModelSnapshots
                | Ml::MemoryStats
                | Ml::GetDatafeeds
                | Ml::DatafeedStats
                | Ml::Calendar(CalendarApi::Get | CalendarApi::GetEvents)
        )
    }

    /// Whether `MlUpgradeModeActionFilter` refuses it while upgrade mode is on (E10).
    pub(crate) fn blocked_in_upgrade_mode(self) -> bool {
        !self.is_read() && self != Ml::SetUpgradeMode
    }

    /// The endpoint's own parameters (query, or body when [`Ml::params_in_body`]).
    fn params(self) -> &'static [&'static str] {
        match self {
            Ml::Info => &[],
            // RestSetUpgradeModeAction also reads `master_timeout` (the spec omits it).
            Ml::SetUpgradeMode => &["enabled", "timeout", "master_timeout"],
            Ml::GetJobs | Ml::GetDatafeeds => &["allow_no_match", "exclude_generated"],
            Ml::JobStats | Ml::DatafeedStats => &["allow_no_match"],
            Ml::PutJob | Ml::PutDatafeed => &[
                "ignore_unavailable",
                "allow_no_indices",
                "ignore_throttled",
                "expand_wildcards",
            ],
            Ml::DeleteJob => &["force", "wait_for_completion", "delete_user_annotations"],
            Ml::DeleteDatafeed => &["force"],
            Ml::OpenJob => &["timeout", "job_id"],
            Ml::DeleteModelSnapshot => &[],
            Ml::UpgradeModelSnapshot => &["timeout", "wait_for_completion"],
            Ml::MemoryStats => &["master_timeout", "timeout"],
            Ml::CloseJob => &["allow_no_match", "force", "timeout", "job_id"],
            Ml::StartDatafeed => &["start", "end", "timeout", "datafeed_id"],
            Ml::StopDatafeed => &["allow_no_match", "force", "timeout", "datafeed_id"],
            Ml::Calendar(calendar) => calendar.params(),
            Ml::ModelSnapshots => &[
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
        }
    }

    /// Whether the handler reads a body at all; ES refuses one it does not consume with
    /// `request [<METHOD> <path>] does not support having a body` (`BaseRestHandler`).
    pub(crate) fn takes_body(self) -> bool {
        self.params_in_body()
            || matches!(
                self,
                Ml::PutJob
                    | Ml::PutDatafeed
                    | Ml::Calendar(CalendarApi::Put | CalendarApi::PostEvents)
            )
    }

    /// Whether parameters may come as a JSON body instead of the query (docs/elasticsearch-ml-api.md §1.2).
    pub(crate) fn params_in_body(self) -> bool {
        matches!(
            self,
            Ml::OpenJob
                | Ml::CloseJob
                | Ml::StartDatafeed
                | Ml::StopDatafeed
                | Ml::ModelSnapshots
                | Ml::Calendar(CalendarApi::Get | CalendarApi::GetEvents)
        )
    }

    /// The fault operation that rules can target.
    pub(crate) fn fault_operation(self) -> Option<Operation> {
        match self {
            Ml::StopDatafeed => Some(Operation::StopDatafeed),
            Ml::CloseJob => Some(Operation::CloseJob),
            Ml::OpenJob => Some(Operation::OpenJob),
            Ml::StartDatafeed => Some(Operation::StartDatafeed),
            Ml::JobStats => Some(Operation::JobStats),
            Ml::DatafeedStats => Some(Operation::DatafeedStats),
            Ml::SetUpgradeMode => Some(Operation::SetUpgradeMode),
            Ml::Info
            | Ml::GetJobs
            | Ml::PutJob
            | Ml::DeleteJob
            | Ml::ModelSnapshots
            | Ml::DeleteModelSnapshot
            | Ml::MemoryStats
            | Ml::GetDatafeeds
            | Ml::PutDatafeed
            | Ml::DeleteDatafeed
            | Ml::Calendar(_) => None,
            Ml::UpgradeModelSnapshot => Some(Operation::UpgradeJobSnapshot),
        }
    }

    fn stat_name(self) -> &'static str {
        match self {
            Ml::Info => "info",
            Ml::SetUpgradeMode => "set_upgrade_mode",
            Ml::GetJobs => "get_jobs",
            Ml::PutJob => "put_job",
            Ml::DeleteJob => "delete_job",
            Ml::JobStats => "job_stats",
            Ml::OpenJob => "open_job",
            Ml::CloseJob => "close_job",
            Ml::ModelSnapshots => "model_snapshots",
            Ml::DeleteModelSnapshot => "delete_model_snapshot",
            Ml::UpgradeModelSnapshot => "upgrade_job_snapshot",
            Ml::MemoryStats => "memory_stats",
            Ml::GetDatafeeds => "get_datafeeds",
            Ml::PutDatafeed => "put_datafeed",
            Ml::DeleteDatafeed => "delete_datafeed",
            Ml::DatafeedStats => "datafeed_stats",
            Ml::StartDatafeed => "start_datafeed",
            Ml::StopDatafeed => "stop_datafeed",
            Ml::Calendar(calendar) => calendar.stat_name(),
        }
    }
}
