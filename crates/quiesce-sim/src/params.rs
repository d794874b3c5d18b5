//! Request parameters as ES's REST layer reads them (docs/elasticsearch-ml-api.md §1.2): from the query string,
//! or from a JSON body with the same field names, never both.
//!
//! Takes the request's path, raw query and body and the names the endpoint accepts; gives typed
//! getters whose errors are ES's own 400s (unrecognized parameter, strict booleans, time values,
//! dates). It knows nothing about what the parameters mean.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::Value;

use super::EsError;
pub(crate) use super::time_value::TimeValue;

mod date;

pub(crate) use date::parse_date;

/// Parameters every ES endpoint accepts because they shape the response, not the action.
const RESPONSE_PARAMS: [&str; 4] = ["error_trace", "filter_path", "human", "pretty"];

/// The parameters of one request.
#[derive(Debug, Clone)]
pub(crate) struct Params {
    values: BTreeMap<String, Param>,
    source: Source,
}

#[derive(Debug, Clone)]
enum Source {
    Query,
    /// A JSON body; `parser` is the name ES's object parser reports in its errors.
    Body {
        parser: &'static str,
    },
}

#[derive(Debug, Clone)]
struct Param {
    /// The value as text (a JSON string's content, a number's or boolean's literal).
    text: String,
    /// The JSON value when it came from the body.
    json: Option<Value>,
    /// `line:column` of the field in the body, as ES prints positions (`[1:2]`).
    position: Option<(usize, usize)>,
}

impl Params {
    /// Reads the parameters of a request to `path` (the URI path, no query).
    ///
    /// With a non-empty body, parameters come from the body only and any query parameter other
    /// than the response parameters is unrecognized, as in ES; without one they come from the
    /// query. Unknown names are refused with ES's `contains unrecognized parameter(s)` 400
    /// (query) or `unknown field` (body).
    #[cfg(test)]
    pub(crate) fn parse(
        path: &str,
        query: Option<&str>,
        body: &[u8],
        allowed: &[&str],
    ) -> Result<Params, EsError> {
        Params::parse_split(path, query, body, allowed, allowed)
    }

    /// Like [`Params::parse`], with the names a body may give (`body_allowed`) apart from those
    /// of the query (`allowed`), for handlers whose body parser knows other fields than the
    /// REST layer's parameters.
    pub(crate) fn parse_split(
        path: &str,
        query: Option<&str>,
        body: &[u8],
        allowed: &[&str],
        body_allowed: &[&str],
    ) -> Result<Params, EsError> {
        let query_pairs = parse_query(query.unwrap_or(""));
        let body_text = String::from_utf8_lossy(body);
        if body_text.trim().is_empty() {
            let unknown: Vec<&str> = query_pairs
                .iter()
                .map(|(key, _)| key.as_str())
                .filter(|key| !allowed.contains(key) && !RESPONSE_PARAMS.contains(key))
                .collect();
            if !unknown.is_empty() {
                let candidates: Vec<&str> =
                    allowed.iter().copied().chain(RESPONSE_PARAMS).collect();
                return Err(unrecognized(path, &unknown, &candidates));
            }
            let values = query_pairs
                .into_iter()
                .map(|(key, value)| {
                    let param = Param {
                        text: value,
                        json: None,
                        position: None,
                    };
                    (key, param)
                })
                .collect();
            return Ok(Params {
                values,
                source: Source::Query,
            });
        }

        let unknown: Vec<&str> = query_pairs
            .iter()
            .map(|(key, _)| key.as_str())
            .filter(|key| !RESPONSE_PARAMS.contains(key))
            .collect();
        if !unknown.is_empty() {
            return Err(unrecognized(path, &unknown, &RESPONSE_PARAMS));
        }
        let BodyParser {
            name: parser,
            lenient,
        } = body_parser(path);
        let object = match serde_json::from_str::<Value>(&body_text) {
            Ok(Value::Object(object)) => object,
            Ok(other) => {
                let token = match other {
                    Value::Array(_) => "START_ARRAY",
                    Value::String(_) => "VALUE_STRING",
                    Value::Number(_) => "VALUE_NUMBER",
                    Value::Bool(_) => "VALUE_BOOLEAN",
                    _ => "VALUE_NULL",
                };
                return Err(EsError::new(
                    400,
                    "x_content_parse_exception",
                    format!("[1:1] [{parser}] Expected START_OBJECT but was: {token}"),
                ));
            }
            Err(error) => {
                let message = error.to_string();
                let message = message
                    .split(" at line ")
                    .next()
                    .unwrap_or(&message)
                    .to_owned();
                return Err(EsError::new(
                    400,
                    "x_content_parse_exception",
                    format!("[{}:{}] {message}", error.line(), error.column()),
                ));
            }
        };
        let mut values = BTreeMap::new();
        for (key, value) in object {
            let position = field_position(&body_text, &key);
            if !body_allowed.contains(&key.as_str()) {
                if lenient {
                    continue;
                }
                let (line, column) = position.unwrap_or((1, 2));
                return Err(EsError::new(
                    400,
                    "x_content_parse_exception",
                    format!("[{line}:{column}] [{parser}] unknown field [{key}]"),
                ));
            }
            let text = match &value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            values.insert(
                key,
                Param {
                    text,
                    json: Some(value),
                    position,
                },
            );
        }
        Ok(Params {
            values,
            source: Source::Body { parser },
        })
    }

    /// The raw text of a parameter (a body string's content, or a literal's text).
    pub(crate) fn str(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(|param| param.text.as_str())
    }

    /// A strict boolean: only `true`/`false` (and, in the query, a bare `?force` meaning true).
    pub(crate) fn bool(&self, name: &str, default: bool) -> Result<bool, EsError> {
        let Some(param) = self.values.get(name) else {
            return Ok(default);
        };
        match (&param.json, param.text.as_str()) {
            (Some(Value::Bool(value)), _) => Ok(*value),
            (None, "") => Ok(true),
            (Some(Value::String(_)) | None, "true") => Ok(true),
            (Some(Value::String(_)) | None, "false") => Ok(false),
            (_, text) => Err(self.field_error(
                name,
                EsError::new(
                    400,
                    "illegal_argument_exception",
                    format!(
                        "Failed to parse value [{text}] as only [true] or [false] are allowed."
                    ),
                ),
            )),
        }
    }

    /// A time value (`30s`, `20m`, `-1`), `default` when absent.
    pub(crate) fn time(&self, name: &str, default: &str) -> Result<TimeValue, EsError> {
        match self.values.get(name) {
            Some(param) => {
                TimeValue::parse(&param.text, name).map_err(|error| self.field_error(name, error))
            }
            None => TimeValue::parse(default, name),
        }
    }

    /// A date (ISO-8601, epoch milliseconds, `now` with simple date math) as epoch milliseconds;
    /// a bad value is ES's `parse_exception` (E24 neighbour in docs/elasticsearch-ml-api.md §2.4).
    pub(crate) fn date(&self, name: &str) -> Result<Option<i64>, EsError> {
        let Some(param) = self.values.get(name) else {
            return Ok(None);
        };
        parse_date(param.text.trim(), Timestamp::now())
            .map(Some)
            .ok_or_else(|| {
                self.field_error(
                name,
                EsError::new(
                400,
                "parse_exception",
                format!(
                    "Query param [{name}] with value [{}] cannot be parsed as a date or converted \
                     to a number (epoch).",
                    param.text
                ),
                ),
            )
            })
    }

    /// Whether the parameter was given at all.
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// A value error as ES reports it: as is for the query, wrapped as a field parse failure for
    /// the body.
    fn field_error(&self, name: &str, error: EsError) -> EsError {
        match self.source {
            Source::Query => error,
            Source::Body { parser } => {
                let (line, column) = self
                    .values
                    .get(name)
                    .and_then(|param| param.position)
                    .unwrap_or((1, 2));
                EsError::new(
                    400,
                    "x_content_parse_exception",
                    format!("[{line}:{column}] [{parser}] failed to parse field [{name}]"),
                )
                .caused_by(error.error_type().unwrap_or("exception"), error.reason())
            }
        }
    }
}

/// ES's object parser for a request body: the name its errors carry, and whether it ignores
/// unknown fields (the persistent-task params of open and start do).
struct BodyParser {
    name: &'static str,
    lenient: bool,
}

fn body_parser(path: &str) -> BodyParser {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    match segments.as_slice() {
        ["", "_ml", "calendars", _, "events"] => {
            return BodyParser {
                name: "cluster:monitor/xpack/ml/calendars/events/get",
                lenient: false,
            };
        }
        ["", "_ml", "calendars", ..] => {
            return BodyParser {
                name: "cluster:monitor/xpack/ml/calendars/get",
                lenient: false,
            };
        }
        _ => {}
    }
    let last = segments.last().copied().unwrap_or("");
    let (name, lenient) = match last {
        "_close" => ("cluster:admin/xpack/ml/job/close", false),
        "_stop" => ("cluster:admin/xpack/ml/datafeed/stop", false),
        "_open" => ("xpack/ml/job", true),
        "_start" => ("xpack/ml/datafeed", true),
        "model_snapshots" => ("cluster:monitor/xpack/ml/job/model_snapshots/get", false),
        _ => ("request", false),
    };
    BodyParser { name, lenient }
}

/// `line:column` (both 1-based, as Jackson counts) of the first `"key"` in the body.
pub(crate) fn field_position(body: &str, key: &str) -> Option<(usize, usize)> {
    let needle = serde_json::to_string(key).ok()?;
    let at = body.find(&needle)?;
    let before = &body[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(at, |newline| at - newline - 1) + 1;
    Some((line, column))
}

/// `a=1&b&c=x%2Cy` → pairs, percent-decoded, `+` as space, split at the first `=`, empty
/// pairs skipped; a `%` not followed by two hex digits stays as is.
fn parse_query(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect()
}

/// ES's `unrecognized(...)`: singular/plural, sorted names, `did you mean` suggestions from
/// Lucene's Levenshtein similarity above 0.5.
fn unrecognized(path: &str, invalid: &[&str], candidates: &[&str]) -> EsError {
    let mut invalid: Vec<&str> = invalid.to_vec();
    invalid.sort_unstable();
    invalid.dedup();
    let plural = if invalid.len() > 1 { "s" } else { "" };
    let mut message = format!("request [{path}] contains unrecognized parameter{plural}: ");
    for (index, name) in invalid.iter().enumerate() {
        if index > 0 {
            message.push_str(", ");
        }
        message.push_str(&format!("[{name}]"));
        let mut scored: Vec<(f64, &str)> = candidates
            .iter()
            .map(|candidate| (strsim::normalized_levenshtein(name, candidate), *candidate))
            .filter(|(score, _)| *score > 0.5)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
        scored.dedup_by(|a, b| a.1 == b.1);
        match scored.as_slice() {
            [] => {}
            [(_, one)] => message.push_str(&format!(" -> did you mean [{one}]?")),
            many => {
                let names: Vec<&str> = many.iter().map(|(_, name)| *name).collect();
                message.push_str(&format!(" -> did you mean any of [{}]?", names.join(", ")));
            }
        }
    }
    EsError::new(400, "illegal_argument_exception", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLOSE: &str = "/_ml/anomaly_detectors/j1/_close";
    const CLOSE_PARAMS: &[&str] = &["allow_no_match", "force", "timeout"];

    #[test]
    fn query_values_are_read() {
        let params = Params::parse(
            CLOSE,
            Some("force=true&timeout=10s&pretty"),
            b"",
            CLOSE_PARAMS,
        )
        .unwrap();
        assert!(params.bool("force", false).unwrap());
        assert_eq!(params.time("timeout", "30m").unwrap().to_string(), "10s");
        assert!(params.bool("allow_no_match", true).unwrap());
    }

    #[test]
    fn defaults_apply_when_absent() {
        let params = Params::parse(CLOSE, None, b"", CLOSE_PARAMS).unwrap();
        assert!(!params.bool("force", false).unwrap());
        assert_eq!(params.time("timeout", "30m").unwrap().to_string(), "30m");
        assert_eq!(params.str("timeout"), None);
    }

    #[test]
    fn unknown_query_param_is_e22_singular() {
        let error = Params::parse(CLOSE, Some("bogus=1"), b"", CLOSE_PARAMS).unwrap_err();
        assert_eq!(error.status.as_u16(), 400);
        assert_eq!(error.error_type(), Some("illegal_argument_exception"));
        assert_eq!(
            error.reason(),
            "request [/_ml/anomaly_detectors/j1/_close] contains unrecognized parameter: [bogus]"
        );
    }

    #[test]
    fn unknown_query_params_are_plural_sorted_with_suggestions() {
        let error = Params::parse(CLOSE, Some("zzz=1&forse=true"), b"", CLOSE_PARAMS).unwrap_err();
        assert_eq!(
            error.reason(),
            "request [/_ml/anomaly_detectors/j1/_close] contains unrecognized parameters: \
             [forse] -> did you mean [force]?, [zzz]"
        );
    }

    #[test]
    fn body_is_read_like_the_query() {
        let params = Params::parse(
            CLOSE,
            None,
            br#"{"force": true, "timeout": "35m", "allow_no_match": "false"}"#,
            CLOSE_PARAMS,
        )
        .unwrap();
        assert!(params.bool("force", false).unwrap());
        assert!(!params.bool("allow_no_match", true).unwrap());
        assert_eq!(params.time("timeout", "30m").unwrap().to_string(), "35m");
    }

    #[test]
    fn body_and_query_together_refuse_the_query_params() {
        let error = Params::parse(
            CLOSE,
            Some("timeout=1s"),
            br#"{"force":true}"#,
            CLOSE_PARAMS,
        )
        .unwrap_err();
        assert_eq!(
            error.reason(),
            "request [/_ml/anomaly_detectors/j1/_close] contains unrecognized parameter: [timeout]"
        );
    }

    #[test]
    fn unknown_body_field_is_a_parse_error_with_position() {
        let error =
            Params::parse(CLOSE, None, br#"{"force":true,"bogus":1}"#, CLOSE_PARAMS).unwrap_err();
        assert_eq!(error.error_type(), Some("x_content_parse_exception"));
        assert_eq!(
            error.reason(),
            "[1:15] [cluster:admin/xpack/ml/job/close] unknown field [bogus]"
        );
    }

    #[test]
    fn open_and_start_bodies_ignore_unknown_fields_like_es() {
        let params = Params::parse(
            "/_ml/anomaly_detectors/j1/_open",
            None,
            br#"{"timeout": "35m", "job": {}}"#,
            &["job_id", "timeout"],
        )
        .unwrap();
        assert_eq!(params.time("timeout", "30m").unwrap().to_string(), "35m");
        assert!(!params.contains("job"));
    }

    #[test]
    fn bad_body_date_is_wrapped_as_field_error() {
        let params = Params::parse(
            "/_ml/datafeeds/df/_start",
            None,
            br#"{"start": "soon"}"#,
            &["start", "end", "timeout"],
        )
        .unwrap();
        let error = params.date("start").unwrap_err();
        assert_eq!(error.error_type(), Some("x_content_parse_exception"));
        assert_eq!(
            error.reason(),
            "[1:2] [xpack/ml/datafeed] failed to parse field [start]"
        );
    }

    #[test]
    fn non_object_body_names_the_token() {
        let error = Params::parse(CLOSE, None, b"[1]", CLOSE_PARAMS).unwrap_err();
        assert_eq!(
            error.reason(),
            "[1:1] [cluster:admin/xpack/ml/job/close] Expected START_OBJECT but was: START_ARRAY"
        );
    }

    #[test]
    fn malformed_body_is_a_parse_error() {
        let error = Params::parse(CLOSE, None, b"{\"force\": }", CLOSE_PARAMS).unwrap_err();
        assert_eq!(error.status.as_u16(), 400);
        assert_eq!(error.error_type(), Some("x_content_parse_exception"));
        assert!(error.reason().starts_with("[1:11] "), "{}", error.reason());
    }

    #[test]
    fn booleans_are_strict() {
        let params = Params::parse(CLOSE, Some("force=yes"), b"", CLOSE_PARAMS).unwrap();
        let error = params.bool("force", false).unwrap_err();
        assert_eq!(error.error_type(), Some("illegal_argument_exception"));
        assert_eq!(
            error.reason(),
            "Failed to parse value [yes] as only [true] or [false] are allowed."
        );
        let params = Params::parse(CLOSE, Some("force="), b"", CLOSE_PARAMS).unwrap();
        assert!(
            params.bool("force", false).unwrap(),
            "a bare flag means true"
        );
    }

    #[test]
    fn bad_body_boolean_is_wrapped_as_field_error() {
        let params = Params::parse(CLOSE, None, br#"{"force": 1}"#, CLOSE_PARAMS).unwrap();
        let error = params.bool("force", false).unwrap_err();
        assert_eq!(error.error_type(), Some("x_content_parse_exception"));
        assert_eq!(
            error.reason(),
            "[1:2] [cluster:admin/xpack/ml/job/close] failed to parse field [force]"
        );
    }

    #[test]
    fn bad_time_is_es_error() {
        let params = Params::parse(CLOSE, Some("timeout=soon"), b"", CLOSE_PARAMS).unwrap();
        let error = params.time("timeout", "30m").unwrap_err();
        assert_eq!(
            error.reason(),
            "failed to parse setting [timeout] with value [soon] as a time value: unit is \
             missing or unrecognized"
        );
    }

    #[test]
    fn query_values_are_percent_decoded() {
        let params = Params::parse(
            "/_ml/datafeeds/df/_start",
            Some("start=2026-01-01T00%3A00%3A00Z"),
            b"",
            &["start", "end", "timeout"],
        )
        .unwrap();
        assert_eq!(params.str("start"), Some("2026-01-01T00:00:00Z"));
        assert_eq!(params.date("start").unwrap(), Some(1_767_225_600_000));
    }

    #[test]
    fn query_decoding_is_lenient_like_the_old_decoder() {
        let params = Params::parse(
            "/_ml/datafeeds/df/_start",
            Some("start=a+b%2&end=100%zz&&timeout=x=y"),
            b"",
            &["start", "end", "timeout"],
        )
        .unwrap();
        assert_eq!(params.str("start"), Some("a b%2"));
        assert_eq!(params.str("end"), Some("100%zz"));
        assert_eq!(params.str("timeout"), Some("x=y"));
    }

    #[test]
    fn bad_date_is_parse_exception() {
        let params = Params::parse(
            "/_ml/datafeeds/df/_start",
            Some("start=soon"),
            b"",
            &["start"],
        )
        .unwrap();
        let error = params.date("start").unwrap_err();
        assert_eq!(error.status.as_u16(), 400);
        assert_eq!(error.error_type(), Some("parse_exception"));
        assert_eq!(
            error.reason(),
            "Query param [start] with value [soon] cannot be parsed as a date or converted to a \
             number (epoch)."
        );
    }
}
