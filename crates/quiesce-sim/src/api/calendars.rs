//! The `/_ml/calendars` endpoints (docs/elasticsearch-ml-api.md §13): path ids, paging and the
//! listing filters read as the REST handlers read them (`RestGetCalendarsAction`,
//! `RestGetCalendarEventsAction`: the query, or else a body with `calendar_id` and `page`), then
//! handed to the cluster.

use jiff::Timestamp;
use serde_json::Value;

use super::endpoint::CalendarApi;
use super::pipeline::{Call, Reply};
use crate::EsError;
use crate::cluster::{EventsQuery, Page};
use crate::indices::shard_failure;
use crate::params::{Params, parse_date};

pub(crate) fn handle(call: &Call<'_>, endpoint: CalendarApi) -> Result<Reply, EsError> {
    let cluster = &call.app.cluster;
    let params = &call.params;
    let calendar = call.ids.get("calendar_id").unwrap_or_default();
    let jobs = call.ids.get("job_id");
    let value = match endpoint {
        CalendarApi::Put => cluster.put_calendar(calendar, call.body)?,
        CalendarApi::Get => {
            // The path's id wins over the body's (`GetCalendarsAction.Request.parseRequest`).
            let calendar_id = call
                .ids
                .get("calendar_id")
                .or_else(|| params.str("calendar_id"));
            cluster.get_calendars(calendar_id, page(params)?)?
        }
        CalendarApi::AddJobs => cluster.update_calendar_jobs(calendar, jobs, None)?,
        CalendarApi::RemoveJobs => cluster.update_calendar_jobs(calendar, None, jobs)?,
        CalendarApi::Delete => cluster.delete_calendar(calendar)?,
        CalendarApi::PostEvents => cluster.post_calendar_events(calendar, call.body)?,
        CalendarApi::GetEvents => {
            let query = EventsQuery {
                calendar_id: calendar.to_owned(),
                job_id: params.str("job_id").map(str::to_owned),
                after_ms: range_bound(params, "start")?,
                before_ms: range_bound(params, "end")?,
                page: page(params)?.unwrap_or(Page::DEFAULT),
            };
            cluster.calendar_events(&query)?
        }
        CalendarApi::DeleteEvent => {
            cluster.delete_calendar_event(calendar, call.ids.get("event_id").unwrap_or_default())?
        }
    };
    Ok(Reply::Json(value))
}

/// `PageParams` from `from`/`size` (query, `paramAsInt`) or the body's `page` object; `None`
/// when neither is given.
fn page(params: &Params) -> Result<Option<Page>, EsError> {
    let page: Option<Value> = params
        .str("page")
        .and_then(|text| serde_json::from_str(text).ok());
    let (from, size) = match &page {
        Some(page) => (page_field(page, "from")?, page_field(page, "size")?),
        None => {
            if !params.contains("from") && !params.contains("size") {
                return Ok(None);
            }
            (int_param(params, "from")?, int_param(params, "size")?)
        }
    };
    let from = from.unwrap_or(0);
    let size = size.unwrap_or(100);
    for (name, value) in [("from", from), ("size", size)] {
        if value < 0 {
            return Err(EsError::new(
                400,
                "illegal_argument_exception",
                format!("Parameter [{name}] cannot be < 0"),
            ));
        }
    }
    Ok(Some(Page {
        from: usize::try_from(from).unwrap_or_default(),
        size: usize::try_from(size).unwrap_or_default(),
    }))
}

/// `RestRequest.paramAsInt`.
fn int_param(params: &Params, name: &str) -> Result<Option<i64>, EsError> {
    params
        .str(name)
        .map(|text| {
            text.parse::<i32>().map(i64::from).map_err(|_| {
                EsError::new(
                    400,
                    "illegal_argument_exception",
                    format!("Failed to parse int parameter [{name}] with value [{text}]"),
                )
            })
        })
        .transpose()
}

/// `from`/`size` of a body's `page` (`PageParams.PARSER`, an int each).
fn page_field(page: &Value, name: &str) -> Result<Option<i64>, EsError> {
    match page.get(name) {
        None => Ok(None),
        Some(value) => value
            .as_i64()
            .filter(|value| i32::try_from(*value).is_ok())
            .map(Some)
            .ok_or_else(|| {
                EsError::new(
                    400,
                    "x_content_parse_exception",
                    format!("[page] failed to parse field [{name}]"),
                )
            }),
    }
}

/// `start`/`end` of the events listing: ES passes the text to a range query on a `date` field
/// (`strict_date_optional_time||epoch_millis`, date math), whose shard fails on a bad value.
fn range_bound(params: &Params, name: &str) -> Result<Option<i64>, EsError> {
    let Some(text) = params.str(name) else {
        return Ok(None);
    };
    parse_date(text.trim(), Timestamp::now())
        .map(Some)
        .ok_or_else(|| {
            shard_failure(
                ".ml-meta",
                EsError::new(
                    400,
                    "parse_exception",
                    format!(
                        "failed to parse date field [{text}] with format \
                         [strict_date_optional_time||epoch_millis]"
                    ),
                ),
            )
        })
}
