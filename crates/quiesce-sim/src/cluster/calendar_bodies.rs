//! The request bodies of `PUT _ml/calendars/<id>` and `POST _ml/calendars/<id>/events`, read as
//! Elasticsearch's object parsers read them (`Calendar.STRICT_PARSER`, named `calendar_id`;
//! `PostCalendarEventsAction.Request.PARSER` with `ScheduledEvent.STRICT_PARSER`, named
//! `scheduled_event`), with their `x_content_parse_exception` texts
//! (docs/elasticsearch-ml-api.md §13.1, §13.3). Values are only read here; what they must be is
//! checked by the operations.

use jiff::Timestamp;
use serde_json::{Map, Value};

use crate::EsError;
use crate::params::{field_position, parse_date};

/// The parser of `POST _ml/calendars/<id>/events` (the action name).
const EVENTS_PARSER: &str = "cluster:admin/xpack/ml/calendars/events/post";
/// The parser of one event.
const EVENT_PARSER: &str = "scheduled_event";
/// The parser of a calendar (`Calendar.ID`).
const CALENDAR_PARSER: &str = "calendar_id";

/// A calendar as `PUT _ml/calendars/<id>` gives it; `None` for what the body leaves out.
#[derive(Debug, Default)]
pub(super) struct CalendarBody {
    pub(super) calendar_id: Option<String>,
    pub(super) job_ids: Option<Vec<String>>,
    pub(super) description: Option<String>,
}

/// One event of `POST _ml/calendars/<id>/events`, as given.
#[derive(Debug, Default)]
pub(super) struct EventBody {
    pub(super) description: Option<String>,
    pub(super) start_ms: Option<i64>,
    pub(super) end_ms: Option<i64>,
    pub(super) calendar_id: Option<String>,
    pub(super) skip_result: Option<bool>,
    pub(super) skip_model_update: Option<bool>,
    pub(super) force_time_shift: Option<i64>,
}

/// Reads a `PUT _ml/calendars/<id>` body (`None`: no body, a calendar with no jobs).
pub(super) fn calendar_body(body: &[u8]) -> Result<Option<CalendarBody>, EsError> {
    let Some((text, object)) = object(body, CALENDAR_PARSER)? else {
        return Ok(None);
    };
    let mut calendar = CalendarBody::default();
    for (key, value) in &object {
        let at = Field::new(&text, CALENDAR_PARSER, key, value);
        match key.as_str() {
            "calendar_id" => calendar.calendar_id = Some(at.string()?),
            "job_ids" => calendar.job_ids = Some(at.strings()?),
            "description" if value.is_null() => calendar.description = None,
            "description" => calendar.description = Some(at.string()?),
            // `type` is accepted and ignored (it marks the stored document).
            "type" => {
                at.string()?;
            }
            _ => return Err(at.unknown()),
        }
    }
    Ok(Some(calendar))
}

/// Reads a `POST _ml/calendars/<id>/events` body; `time_shift` says whether the parser knows
/// `skip_result`, `skip_model_update` and `force_time_shift` (8.16+).
pub(super) fn events_body(body: &[u8], time_shift: bool) -> Result<Vec<EventBody>, EsError> {
    let Some((text, object)) = object(body, EVENTS_PARSER)? else {
        return Err(EsError::new(
            400,
            "parse_exception",
            "request body is required",
        ));
    };
    let mut events = Vec::new();
    for (key, value) in &object {
        let at = Field::new(&text, EVENTS_PARSER, key, value);
        if key != "events" {
            return Err(at.unknown());
        }
        let Value::Array(items) = value else {
            return Err(at.wrong_type());
        };
        for item in items {
            let event = event(&text, item, time_shift)
                .map_err(|cause| at.failed().caused_by_error(&cause))?;
            events.push(event);
        }
    }
    Ok(events)
}

fn event(text: &str, item: &Value, time_shift: bool) -> Result<EventBody, EsError> {
    let Value::Object(fields) = item else {
        return Err(EsError::new(
            400,
            "x_content_parse_exception",
            format!(
                "[{EVENT_PARSER}] Expected START_OBJECT but was: {}",
                token(item)
            ),
        ));
    };
    let mut event = EventBody::default();
    for (key, value) in fields {
        let at = Field::new(text, EVENT_PARSER, key, value);
        match key.as_str() {
            "description" => event.description = Some(at.string()?),
            "start_time" => event.start_ms = Some(at.time()?),
            "end_time" => event.end_ms = Some(at.time()?),
            "calendar_id" => event.calendar_id = Some(at.string()?),
            "skip_result" if time_shift => event.skip_result = Some(at.boolean()?),
            "skip_model_update" if time_shift => event.skip_model_update = Some(at.boolean()?),
            "force_time_shift" if time_shift => event.force_time_shift = Some(at.integer()?),
            "type" => {
                at.string()?;
            }
            _ => return Err(at.unknown()),
        }
    }
    Ok(event)
}

/// A body's text and its top-level object.
type Object = (String, Map<String, Value>);

/// The body as a JSON object, `None` when there is none; ES's parse errors otherwise.
fn object(body: &[u8], parser: &str) -> Result<Option<Object>, EsError> {
    let text = String::from_utf8_lossy(body).into_owned();
    if text.trim().is_empty() {
        return Ok(None);
    }
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(object)) => Ok(Some((text, object))),
        Ok(other) => Err(EsError::new(
            400,
            "x_content_parse_exception",
            format!(
                "[1:1] [{parser}] Expected START_OBJECT but was: {}",
                token(&other)
            ),
        )),
        Err(error) => {
            let message = error.to_string();
            let message = message.split(" at line ").next().unwrap_or(&message);
            Err(EsError::new(
                400,
                "x_content_parse_exception",
                format!("[{}:{}] {message}", error.line(), error.column()),
            ))
        }
    }
}

/// The JSON token ES's parser would name for a value.
fn token(value: &Value) -> &'static str {
    match value {
        Value::Object(_) => "START_OBJECT",
        Value::Array(_) => "START_ARRAY",
        Value::String(_) => "VALUE_STRING",
        Value::Number(_) => "VALUE_NUMBER",
        Value::Bool(_) => "VALUE_BOOLEAN",
        Value::Null => "VALUE_NULL",
    }
}

/// One field of a body, for reading its value and wording errors at its position.
struct Field<'a> {
    parser: &'static str,
    key: &'a str,
    value: &'a Value,
    position: (usize, usize),
}

impl<'a> Field<'a> {
    fn new(text: &str, parser: &'static str, key: &'a str, value: &'a Value) -> Self {
        Field {
            parser,
            key,
            value,
            position: field_position(text, key).unwrap_or((1, 2)),
        }
    }

    fn error(&self, message: &str) -> EsError {
        let (line, column) = self.position;
        EsError::new(
            400,
            "x_content_parse_exception",
            format!("[{line}:{column}] [{}] {message}", self.parser),
        )
    }

    fn unknown(&self) -> EsError {
        self.error(&format!("unknown field [{}]", self.key))
    }

    fn wrong_type(&self) -> EsError {
        self.error(&format!(
            "{} doesn't support values of type: {}",
            self.key,
            token(self.value)
        ))
    }

    fn failed(&self) -> EsError {
        self.error(&format!("failed to parse field [{}]", self.key))
    }

    fn string(&self) -> Result<String, EsError> {
        self.value
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| self.wrong_type())
    }

    /// `declareStringArray`: an array of strings, or one string.
    fn strings(&self) -> Result<Vec<String>, EsError> {
        match self.value {
            Value::String(one) => Ok(vec![one.clone()]),
            Value::Array(items) => items
                .iter()
                .map(|item| {
                    item.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| self.wrong_type())
                })
                .collect(),
            _ => Err(self.wrong_type()),
        }
    }

    /// `declareBoolean`: a boolean, or the strings `true`/`false`.
    fn boolean(&self) -> Result<bool, EsError> {
        match self.value {
            Value::Bool(value) => Ok(*value),
            Value::String(text) if text == "true" => Ok(true),
            Value::String(text) if text == "false" => Ok(false),
            _ => Err(self.wrong_type()),
        }
    }

    fn integer(&self) -> Result<i64, EsError> {
        self.value
            .as_i64()
            .filter(|value| i32::try_from(*value).is_ok())
            .ok_or_else(|| self.wrong_type())
    }

    /// `TimeUtils.parseTimeFieldToInstant`: epoch milliseconds as a number, or a string in
    /// `strict_date_optional_time||epoch_millis`.
    fn time(&self) -> Result<i64, EsError> {
        let parsed = match self.value {
            Value::Number(number) => number
                .as_i64()
                .or_else(|| number.as_f64().map(truncate_millis)),
            Value::String(text) if !text.trim_start().starts_with("now") => {
                parse_date(text.trim(), Timestamp::now())
            }
            Value::String(_) => None,
            other => {
                return Err(self.failed().caused_by(
                    "illegal_argument_exception",
                    format!("unexpected token [{}] for [{}]", token(other), self.key),
                ));
            }
        };
        parsed.ok_or_else(|| {
            self.failed().caused_by(
                "illegal_argument_exception",
                format!(
                    "failed to parse date field [{}] with format \
                     [strict_date_optional_time||epoch_millis]",
                    self.value.as_str().unwrap_or_default()
                ),
            )
        })
    }
}

/// `parser.longValue()` of a decimal number: truncated towards zero.
fn truncate_millis(value: f64) -> i64 {
    #[expect(
        clippy::cast_possible_truncation,
        reason = "Jackson's longValue truncates too; epoch milliseconds fit"
    )]
    let millis = value.trunc() as i64;
    millis
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_calendar_body_is_optional_and_strict() {
        assert!(calendar_body(b"").unwrap().is_none());
        let calendar = calendar_body(br#"{"job_ids": "j1", "description": null}"#)
            .unwrap()
            .unwrap();
        assert_eq!(calendar.job_ids, Some(vec!["j1".to_owned()]));
        assert_eq!(calendar.description, None);
        let error = calendar_body(br#"{"jobs": []}"#).unwrap_err();
        assert_eq!(error.reason(), "[1:2] [calendar_id] unknown field [jobs]");
        let error = calendar_body(br#"{"job_ids": 3}"#).unwrap_err();
        assert_eq!(
            error.reason(),
            "[1:2] [calendar_id] job_ids doesn't support values of type: VALUE_NUMBER"
        );
    }

    #[test]
    fn event_times_are_epoch_millis_or_dates() {
        let events = events_body(
            br#"{"events": [{"description": "a", "start_time": 1513641600000,
                 "end_time": "2017-12-20T00:00:00Z"}]}"#,
            false,
        )
        .unwrap();
        assert_eq!(events[0].start_ms, Some(1_513_641_600_000));
        assert_eq!(events[0].end_ms, Some(1_513_728_000_000));
    }

    #[test]
    fn a_bad_event_field_fails_the_events_field() {
        let error = events_body(br#"{"events": [{"skip_result": true}]}"#, false).unwrap_err();
        assert_eq!(
            error.reason(),
            "[1:2] [cluster:admin/xpack/ml/calendars/events/post] failed to parse field [events]"
        );
        assert_eq!(
            error.to_json()["error"]["caused_by"]["reason"],
            "[1:14] [scheduled_event] unknown field [skip_result]"
        );
        assert!(events_body(br#"{"events": [{"skip_result": true}]}"#, true).is_ok());
        let error = events_body(br#"{"events": [{"start_time": "soon"}]}"#, false).unwrap_err();
        assert_eq!(
            error.to_json()["error"]["caused_by"]["caused_by"]["type"],
            "illegal_argument_exception"
        );
    }
}
