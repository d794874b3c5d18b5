//! Calendars and their scheduled events (docs/elasticsearch-ml-api.md §13). In Elasticsearch
//! they are documents of the `.ml-meta` index, apart from the jobs: a job's config and stats do
//! not show them, and a calendar may name job ids or groups that do not exist. What is modelled:
//! create, list (ids, wildcards, paging), add and remove jobs, delete; post, list (by calendar,
//! job or group, time range, paging) and delete events; a deleted job leaves every calendar.
//! Nothing here changes what a job does (the simulator has no model for events to skip).

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::{Value, json};
use wildcard::WildcardBuilder;

use super::calendar_bodies::{EventBody, calendar_body, events_body};
use super::config::{ID_LENGTH_LIMIT, is_valid_id};
use super::hash_set_order::{JavaHashSet, tokenize_by_comma_to_set};
use super::model::Job;
use super::{Cluster, State};
use crate::EsError;
use crate::indices::auto_id;
use crate::seed::{CalendarSpec, EsVersion};

/// A calendar: jobs or groups it applies to (`_all`: every job), and a description.
#[derive(Debug, Clone)]
pub(crate) struct Calendar {
    pub(crate) id: String,
    pub(crate) job_ids: Vec<String>,
    pub(crate) description: Option<String>,
}

/// A scheduled event of a calendar, times in epoch milliseconds (`[start, end)`).
#[derive(Debug, Clone)]
struct ScheduledEvent {
    event_id: String,
    calendar_id: String,
    description: String,
    start_ms: i64,
    end_ms: i64,
    skip_result: bool,
    skip_model_update: bool,
    force_time_shift: Option<i64>,
}

/// `from`/`size` of a listing (`PageParams`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Page {
    pub(crate) from: usize,
    pub(crate) size: usize,
}

impl Page {
    /// `PageParams.DEFAULT_FROM`, `DEFAULT_SIZE`.
    pub(crate) const DEFAULT: Page = Page { from: 0, size: 100 };
}

/// What `GET _ml/calendars/<id>/events` asks for.
#[derive(Debug, Clone)]
pub(crate) struct EventsQuery {
    pub(crate) calendar_id: String,
    pub(crate) job_id: Option<String>,
    /// `start`: events that end after it.
    pub(crate) after_ms: Option<i64>,
    /// `end`: events that start before it.
    pub(crate) before_ms: Option<i64>,
    pub(crate) page: Page,
}

/// Every calendar (sorted by id, as ES sorts them) and event (in creation order).
#[derive(Debug, Default)]
pub(super) struct Calendars {
    calendars: BTreeMap<String, Calendar>,
    events: Vec<ScheduledEvent>,
    /// Events created so far: numbers their generated ids.
    created: u64,
}

impl Cluster {
    /// `PUT _ml/calendars/<id>` (`PutCalendarAction`, `TransportPutCalendarAction`).
    pub(crate) fn put_calendar(&self, id: &str, body: &[u8]) -> Result<Value, EsError> {
        let body = calendar_body(body)?.unwrap_or_default();
        if let Some(in_body) = body.calendar_id.as_deref().filter(|in_body| *in_body != id) {
            return Err(EsError::new(
                400,
                "illegal_argument_exception",
                inconsistent_id(in_body, id),
            ));
        }
        let mut problems = Vec::new();
        if id == "_all" {
            problems.push("Cannot create a Calendar with the reserved name [_all]".to_owned());
        }
        if !is_valid_id(id) {
            problems.push(format!(
                "Invalid calendar_id; '{id}' can contain lowercase alphanumeric (a-z and 0-9), \
                 hyphens or underscores; must start and end with alphanumeric"
            ));
        }
        if id.chars().count() > ID_LENGTH_LIMIT {
            problems.push(format!(
                "The job id cannot contain more than {ID_LENGTH_LIMIT} characters."
            ));
        }
        validate(&problems)?;
        let calendar = Calendar {
            id: id.to_owned(),
            job_ids: body.job_ids.unwrap_or_default(),
            description: body.description,
        };
        self.transition(|state, _| {
            if state.calendars.calendars.contains_key(id) {
                return Err(EsError::new(
                    400,
                    "status_exception",
                    format!("Cannot create calendar with id [{id}] as it already exists"),
                ));
            }
            let json = calendar_json(&calendar);
            state
                .calendars
                .calendars
                .insert(calendar.id.clone(), calendar);
            Ok(json)
        })
    }

    /// `GET _ml/calendars[/<ids>]`: `calendar_id` and `page` as the request gives them
    /// (`GetCalendarsAction`, `TransportGetCalendarsAction`, `CalendarQueryBuilder`).
    pub(crate) fn get_calendars(
        &self,
        calendar_id: Option<&str>,
        page: Option<Page>,
    ) -> Result<Value, EsError> {
        if calendar_id.is_some() && page.is_some() {
            validate(&["Params [from, size] are incompatible with [calendar_id].".to_owned()])?;
        }
        let tokens = tokens(calendar_id.unwrap_or_default());
        let page = page.unwrap_or(Page::DEFAULT);
        self.read(|state, _| {
            let matched = state.calendars.matching(&tokens);
            let hits: Vec<Value> = matched
                .iter()
                .skip(page.from)
                .take(page.size)
                .map(|calendar| calendar_json(calendar))
                .collect();
            if !is_all(&tokens) && hits.is_empty() {
                return Err(no_calendar(&tokens.join(",")));
            }
            Ok(json!({"count": matched.len(), "calendars": hits}))
        })
    }

    /// `PUT|DELETE _ml/calendars/<id>/jobs/<ids>` (`TransportUpdateCalendarJobAction`,
    /// `JobResultsProvider.updateCalendar`): the ids are not checked against jobs or groups,
    /// and the new `job_ids` come out of a Java `HashSet`, in its order.
    pub(crate) fn update_calendar_jobs(
        &self,
        id: &str,
        add: Option<&str>,
        remove: Option<&str>,
    ) -> Result<Value, EsError> {
        self.transition(|state, _| {
            let calendar = state
                .calendars
                .calendars
                .get_mut(id)
                .ok_or_else(|| no_calendar(id))?;
            let mut jobs =
                JavaHashSet::from_collection(calendar.job_ids.iter().map(String::as_str));
            let to_remove = tokenize_by_comma_to_set(remove.unwrap_or_default());
            let to_remove = to_remove.iteration_order();
            if let Some(missing) = to_remove.iter().find(|job| !jobs.contains(job)) {
                return Err(EsError::new(
                    400,
                    "status_exception",
                    format!("Cannot remove [{missing}] as it is not present in calendar [{id}]"),
                ));
            }
            for job in tokenize_by_comma_to_set(add.unwrap_or_default()).iteration_order() {
                jobs.add(&job);
            }
            for job in &to_remove {
                jobs.remove(job);
            }
            calendar.job_ids = jobs.iteration_order();
            Ok(calendar_json(calendar))
        })
    }

    /// `DELETE _ml/calendars/<id>`: the calendar and its events (`TransportDeleteCalendarAction`).
    pub(crate) fn delete_calendar(&self, id: &str) -> Result<Value, EsError> {
        self.transition(|state, _| {
            let calendars = &mut state.calendars;
            calendars
                .calendars
                .remove(id)
                .ok_or_else(|| no_calendar(id))?;
            calendars.events.retain(|event| event.calendar_id != id);
            Ok(json!({"acknowledged": true}))
        })
    }

    /// `POST _ml/calendars/<id>/events` (`PostCalendarEventsAction`, `ScheduledEvent.Builder`,
    /// `TransportPostCalendarEventsAction`): the events as given, without their generated ids.
    pub(crate) fn post_calendar_events(&self, id: &str, body: &[u8]) -> Result<Value, EsError> {
        let version = self.version();
        let given = events_body(body, time_shift(version))?;
        if let Some(other) = given
            .iter()
            .filter_map(|event| event.calendar_id.as_deref())
            .find(|calendar| *calendar != id)
        {
            return Err(EsError::new(
                400,
                "status_exception",
                inconsistent_id(other, id),
            ));
        }
        let events = given
            .into_iter()
            .map(|event| build_event(id, event))
            .collect::<Result<Vec<_>, _>>()?;
        if events.is_empty() {
            return Err(EsError::new(
                400,
                "status_exception",
                "At least 1 event is required",
            ));
        }
        self.transition(|state, _| {
            let calendars = &mut state.calendars;
            if !calendars.calendars.contains_key(id) {
                return Err(no_calendar(id));
            }
            let posted: Vec<Value> = events
                .iter()
                .map(|event| event_json(event, version))
                .collect();
            for event in events {
                calendars.add_event(event);
            }
            Ok(json!({"events": posted}))
        })
    }

    /// `GET _ml/calendars/<ids>/events` (`GetCalendarEventsAction`,
    /// `TransportGetCalendarEventsAction`, `ScheduledEventsQueryBuilder`).
    pub(crate) fn calendar_events(&self, query: &EventsQuery) -> Result<Value, EsError> {
        if query.job_id.is_some() && query.calendar_id != "_all" {
            validate(&["If job_id is used calendar_id must be '_all'".to_owned()])?;
        }
        let version = self.version();
        let tokens = tokens(&query.calendar_id);
        self.read(|state, _| {
            let calendars = &state.calendars;
            if !is_all(&tokens) && calendars.matching(&tokens).is_empty() {
                return Err(no_calendar(&tokens.join(",")));
            }
            let mut wanted: Option<Vec<String>> =
                (!is_all(&tokens)).then(|| ids(&calendars.matching(&tokens)));
            if let Some(job) = &query.job_id {
                let targets = job_and_groups(state, job)?;
                let used = calendars.used_by(&targets);
                if used.is_empty() {
                    return Ok(json!({"count": 0, "events": []}));
                }
                wanted = Some(ids(&used));
            }
            let mut events: Vec<&ScheduledEvent> = calendars
                .events
                .iter()
                .filter(|event| {
                    wanted
                        .as_ref()
                        .is_none_or(|ids| ids.contains(&event.calendar_id))
                })
                .filter(|event| query.after_ms.is_none_or(|after| event.end_ms > after))
                .filter(|event| query.before_ms.is_none_or(|before| event.start_ms < before))
                .collect();
            // `sort(start_time).sort(description)`; ties keep the order of creation.
            events.sort_by(|a, b| (a.start_ms, &a.description).cmp(&(b.start_ms, &b.description)));
            let count = events.len();
            let page: Vec<Value> = events
                .into_iter()
                .skip(query.page.from)
                .take(query.page.size)
                .map(|event| {
                    let mut json = event_json(event, version);
                    json["event_id"] = json!(event.event_id);
                    json
                })
                .collect();
            Ok(json!({"count": count, "events": page}))
        })
    }

    /// `DELETE _ml/calendars/<id>/events/<event_id>` (`TransportDeleteCalendarEventAction`):
    /// the calendar is looked up first, then the event.
    pub(crate) fn delete_calendar_event(&self, id: &str, event_id: &str) -> Result<Value, EsError> {
        self.transition(|state, _| {
            let calendars = &mut state.calendars;
            if !calendars.calendars.contains_key(id) {
                return Err(no_calendar(id));
            }
            let at = calendars
                .events
                .iter()
                .position(|event| event.event_id == event_id)
                .ok_or_else(|| {
                    EsError::new(
                        404,
                        "resource_not_found_exception",
                        format!("No event with id [{event_id}]"),
                    )
                })?;
            let owner = &calendars.events[at].calendar_id;
            if owner != id {
                return Err(EsError::new(
                    400,
                    "status_exception",
                    format!(
                        "Event [{event_id}] has calendar_id [{owner}] which does not match the \
                         request calendar_id [{id}]"
                    ),
                ));
            }
            calendars.events.remove(at);
            Ok(json!({"acknowledged": true}))
        })
    }
}

impl Calendars {
    /// The calendars of a seed, with their events.
    pub(super) fn seed(&mut self, specs: &[CalendarSpec]) {
        for spec in specs {
            self.calendars.insert(
                spec.id.clone(),
                Calendar {
                    id: spec.id.clone(),
                    job_ids: spec.job_ids.clone(),
                    description: spec.description.clone(),
                },
            );
            for event in &spec.events {
                self.add_event(ScheduledEvent {
                    event_id: String::new(),
                    calendar_id: spec.id.clone(),
                    description: event.description.clone(),
                    start_ms: event.start.as_millisecond(),
                    end_ms: event.end.as_millisecond(),
                    skip_result: true,
                    skip_model_update: true,
                    force_time_shift: None,
                });
            }
        }
    }

    /// A deleted job leaves every calendar (`JobResultsProvider.removeJobFromCalendars`).
    pub(super) fn remove_job(&mut self, job_id: &str) {
        for calendar in self.calendars.values_mut() {
            calendar.job_ids.retain(|id| id != job_id);
        }
    }

    /// Stores an event under a new auto-generated id, as an index request without an id does.
    fn add_event(&mut self, mut event: ScheduledEvent) {
        self.created += 1;
        event.event_id = auto_id(self.created ^ 0xCA1E_0DA5);
        self.events.push(event);
    }

    /// The calendars whose id one of `tokens` names or, with a `*`, matches; all for `_all`.
    fn matching(&self, tokens: &[String]) -> Vec<&Calendar> {
        self.calendars
            .values()
            .filter(|calendar| {
                is_all(tokens)
                    || tokens
                        .iter()
                        .any(|token| token_matches(token, &calendar.id))
            })
            .collect()
    }

    /// The calendars that apply to any of `targets` (a job id and its groups), or to `_all`.
    fn used_by(&self, targets: &[String]) -> Vec<&Calendar> {
        self.calendars
            .values()
            .filter(|calendar| {
                calendar
                    .job_ids
                    .iter()
                    .any(|id| id == "_all" || targets.contains(id))
            })
            .collect()
    }
}

/// A job's id and groups; for a name that is only a group, that group; else E1.
fn job_and_groups(state: &State, name: &str) -> Result<Vec<String>, EsError> {
    if let Some(job) = state.jobs.get(name) {
        let Job { id, config, .. } = job;
        return Ok(std::iter::once(id.clone())
            .chain(config.groups.iter().cloned())
            .collect());
    }
    if state
        .jobs
        .values()
        .any(|job| job.config.groups.iter().any(|group| group == name))
    {
        return Ok(vec![name.to_owned()]);
    }
    Err(EsError::unknown_job(name))
}

/// `ScheduledEvent.Builder.build` for one posted event: fields present, start before end.
fn build_event(calendar_id: &str, event: EventBody) -> Result<ScheduledEvent, EsError> {
    let missing = |field: &str| {
        EsError::new(
            400,
            "status_exception",
            format!("Field [{field}] cannot be null"),
        )
    };
    let description = event.description.ok_or_else(|| missing("description"))?;
    let start_ms = event.start_ms.ok_or_else(|| missing("start_time"))?;
    let end_ms = event.end_ms.ok_or_else(|| missing("end_time"))?;
    if start_ms >= end_ms {
        return Err(EsError::new(
            400,
            "status_exception",
            format!(
                "Event start time [{}] must come before end time [{}]",
                java_instant(start_ms),
                java_instant(end_ms)
            ),
        ));
    }
    Ok(ScheduledEvent {
        event_id: String::new(),
        calendar_id: calendar_id.to_owned(),
        description,
        start_ms,
        end_ms,
        skip_result: event.skip_result.unwrap_or(true),
        skip_model_update: event.skip_model_update.unwrap_or(true),
        force_time_shift: event.force_time_shift,
    })
}

/// Java's `Instant.toString` (ISO-8601, seconds always, milliseconds when not zero).
fn java_instant(millis: i64) -> String {
    let Ok(at) = Timestamp::from_millisecond(millis) else {
        return millis.to_string();
    };
    let seconds = at.strftime("%Y-%m-%dT%H:%M:%S");
    match millis.rem_euclid(1000) {
        0 => format!("{seconds}Z"),
        fraction => format!("{seconds}.{fraction:03}Z"),
    }
}

/// Whether events carry `skip_result`, `skip_model_update` and `force_time_shift`: from 8.16
/// (PR #112837, September 2024).
fn time_shift(version: EsVersion) -> bool {
    (version.major, version.minor) >= (8, 16)
}

fn calendar_json(calendar: &Calendar) -> Value {
    let mut json = json!({"calendar_id": calendar.id, "job_ids": calendar.job_ids});
    if let Some(description) = &calendar.description {
        json["description"] = json!(description);
    }
    json
}

/// An event as `ScheduledEvent.toXContent` writes it (the caller adds `event_id`).
fn event_json(event: &ScheduledEvent, version: EsVersion) -> Value {
    let mut json = json!({
        "description": event.description,
        "start_time": event.start_ms,
        "end_time": event.end_ms,
    });
    if time_shift(version) {
        json["skip_result"] = json!(event.skip_result);
        json["skip_model_update"] = json!(event.skip_model_update);
        if let Some(shift) = event.force_time_shift {
            json["force_time_shift"] = json!(shift);
        }
    }
    json["calendar_id"] = json!(event.calendar_id);
    json
}

fn ids(calendars: &[&Calendar]) -> Vec<String> {
    calendars
        .iter()
        .map(|calendar| calendar.id.clone())
        .collect()
}

/// `Strings.splitStringByCommaToArray`: trimmed tokens, empty ones dropped.
fn tokens(expr: &str) -> Vec<String> {
    expr.split(',')
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `Strings.isAllOrWildcard`: no token, or exactly `_all` or `*`.
fn is_all(tokens: &[String]) -> bool {
    match tokens {
        [] => true,
        [one] => one == "_all" || one == "*",
        _ => false,
    }
}

/// `QueryBuilderHelper.buildTokenFilterQuery`: a token with `*` is a Lucene wildcard query on
/// `calendar_id` (`*`, `?`), any other a term.
fn token_matches(token: &str, id: &str) -> bool {
    if !token.contains('*') {
        return token == id;
    }
    WildcardBuilder::new(token.as_bytes())
        .build()
        .is_ok_and(|wildcard| wildcard.is_match(id.as_bytes()))
}

fn no_calendar(ids: &str) -> EsError {
    EsError::new(
        404,
        "resource_not_found_exception",
        format!("No calendar with id [{ids}]"),
    )
}

/// `Messages.INCONSISTENT_ID` for `calendar_id`.
fn inconsistent_id(in_body: &str, in_url: &str) -> String {
    format!(
        "Inconsistent calendar_id; '{in_body}' specified in the body differs from '{in_url}' \
         specified as a URL argument"
    )
}

/// `ActionRequest.validate`: 400 `action_request_validation_exception` listing every problem.
fn validate(problems: &[String]) -> Result<(), EsError> {
    if problems.is_empty() {
        return Ok(());
    }
    let listed: String = problems
        .iter()
        .enumerate()
        .map(|(index, problem)| format!("{}: {problem};", index + 1))
        .collect();
    Err(EsError::new(
        400,
        "action_request_validation_exception",
        format!("Validation Failed: {listed}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_print_as_java_does() {
        assert_eq!(java_instant(1_512_086_400_000), "2017-12-01T00:00:00Z");
        assert_eq!(java_instant(1_512_086_400_500), "2017-12-01T00:00:00.500Z");
    }

    #[test]
    fn tokens_follow_es_splitting_and_wildcards() {
        assert!(is_all(&tokens("")));
        assert!(is_all(&tokens(" _all ")));
        assert!(!is_all(&tokens("_all,a")));
        assert!(token_matches("cal-*", "cal-1"));
        assert!(token_matches("c?l-*", "cal-1"));
        assert!(!token_matches("c?l-1", "cal-1"));
    }

    #[test]
    fn validation_lists_every_problem() {
        let error = validate(&["a".to_owned(), "b".to_owned()]).unwrap_err();
        assert_eq!(error.reason(), "Validation Failed: 1: a;2: b;");
    }
}
