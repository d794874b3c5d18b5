//! The search subset (docs/elasticsearch-ml-api.md §11.4): the query DSL's `match_all`,
//! `term`, `terms`, `range`, `ids`, `exists` and `bool`; `sort` on keyword, numeric, date and
//! boolean fields; `search_after`; `_source` filtering. Anything else is refused with ES's
//! `parsing_exception` rather than answered wrongly.

use std::cmp::Ordering;

use serde_json::{Map, Value, json};

use super::mapping::{FieldType, Mapping, values_at};
use crate::EsError;
use crate::params::parse_date;
use crate::security::glob;

/// A parsed query.
#[derive(Debug, Clone)]
pub(crate) enum Query {
    MatchAll,
    MatchNone,
    Term {
        field: String,
        value: Value,
    },
    Terms {
        field: String,
        values: Vec<Value>,
    },
    Range {
        field: String,
        bounds: Vec<(Bound, Value)>,
    },
    Ids(Vec<String>),
    Exists(String),
    Bool(Box<BoolQuery>),
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Bound {
    Gt,
    Gte,
    Lt,
    Lte,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct BoolQuery {
    must: Vec<Query>,
    filter: Vec<Query>,
    should: Vec<Query>,
    must_not: Vec<Query>,
    minimum_should_match: Option<usize>,
}

/// Query names ES knows that the simulator does not model: refused as unsupported rather than
/// as unknown.
const UNSUPPORTED: &[&str] = &[
    "match",
    "match_phrase",
    "match_phrase_prefix",
    "multi_match",
    "query_string",
    "simple_query_string",
    "prefix",
    "wildcard",
    "regexp",
    "fuzzy",
    "nested",
    "has_child",
    "has_parent",
    "script",
    "script_score",
    "function_score",
    "dis_max",
    "constant_score",
    "boosting",
    "more_like_this",
    "geo_distance",
    "geo_bounding_box",
    "geo_shape",
    "span_term",
    "combined_fields",
    "intervals",
    "knn",
    "terms_set",
    "distance_feature",
    "pinned",
    "rank_feature",
];

fn parsing(reason: String) -> EsError {
    EsError::new(400, "parsing_exception", reason)
}

impl Query {
    /// Parses a query object (`{"term": {...}}`).
    pub(crate) fn parse(value: &Value) -> Result<Query, EsError> {
        let Some(object) = value.as_object() else {
            return Err(parsing(
                "[_na] query malformed, must start with start_object".to_owned(),
            ));
        };
        let mut entries = object.iter();
        let Some((name, body)) = entries.next() else {
            return Ok(Query::MatchAll);
        };
        if let Some((second, _)) = entries.next() {
            return Err(parsing(format!(
                "[{name}] malformed query, expected [END_OBJECT] but found [FIELD_NAME] ({second})"
            )));
        }
        match name.as_str() {
            "match_all" => Ok(Query::MatchAll),
            "match_none" => Ok(Query::MatchNone),
            "term" => {
                let (field, value) = single_field(name, body)?;
                let value = match value {
                    Value::Object(options) => options.get("value").cloned().ok_or_else(|| {
                        parsing(format!("[term] query does not support [{field}]"))
                    })?,
                    other => other.clone(),
                };
                Ok(Query::Term { field, value })
            }
            "terms" => {
                let object = body.as_object().ok_or_else(|| {
                    parsing("[terms] query malformed, no start_object after query name".to_owned())
                })?;
                let (field, values) = object
                    .iter()
                    .find(|(key, _)| !matches!(key.as_str(), "boost" | "_name"))
                    .ok_or_else(|| parsing("[terms] query requires a field".to_owned()))?;
                let values = values
                    .as_array()
                    .cloned()
                    .ok_or_else(|| parsing(format!("[terms] query does not support [{field}]")))?;
                Ok(Query::Terms {
                    field: field.clone(),
                    values,
                })
            }
            "range" => {
                let (field, options) = single_field(name, body)?;
                let options = options
                    .as_object()
                    .ok_or_else(|| parsing(format!("[range] query does not support [{field}]")))?;
                let mut bounds = Vec::new();
                for (key, value) in options {
                    let bound = match key.as_str() {
                        "gt" => Bound::Gt,
                        "gte" | "from" => Bound::Gte,
                        "lt" => Bound::Lt,
                        "lte" | "to" => Bound::Lte,
                        "format" | "boost" | "time_zone" | "relation" | "_name" => continue,
                        other => {
                            return Err(parsing(format!(
                                "[range] query does not support [{other}]"
                            )));
                        }
                    };
                    if !value.is_null() {
                        bounds.push((bound, value.clone()));
                    }
                }
                Ok(Query::Range { field, bounds })
            }
            "ids" => {
                let values = body
                    .get("values")
                    .and_then(Value::as_array)
                    .map(|values| {
                        values
                            .iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default();
                Ok(Query::Ids(values))
            }
            "exists" => {
                let field = body.get("field").and_then(Value::as_str).ok_or_else(|| {
                    parsing("[exists] must be provided with a [field]".to_owned())
                })?;
                Ok(Query::Exists(field.to_owned()))
            }
            "bool" => parse_bool(body),
            other if UNSUPPORTED.contains(&other) => Err(parsing(format!(
                "query [{other}] is not supported by quiesce-sim, whose search is a subset: \
                 match_all, match_none, term, terms, range, ids, exists and bool"
            ))),
            other => Err(parsing(format!("unknown query [{other}]"))),
        }
    }

    /// Whether the document (`id`, `source`) matches, with the index's field types.
    pub(crate) fn matches(&self, id: &str, source: &Value, mapping: &Mapping) -> bool {
        match self {
            Query::MatchAll => true,
            Query::MatchNone => false,
            Query::Term { field, value } => term_matches(field, value, source, mapping),
            Query::Terms { field, values } => values
                .iter()
                .any(|value| term_matches(field, value, source, mapping)),
            Query::Range { field, bounds } => {
                let kind = mapping.field(field);
                values_at(source, field).into_iter().any(|found| {
                    bounds.iter().all(|(bound, limit)| {
                        let Some(ordering) = compare_as(kind, found, limit) else {
                            return false;
                        };
                        match bound {
                            Bound::Gt => ordering == Ordering::Greater,
                            Bound::Gte => ordering != Ordering::Less,
                            Bound::Lt => ordering == Ordering::Less,
                            Bound::Lte => ordering != Ordering::Greater,
                        }
                    })
                })
            }
            Query::Ids(ids) => ids.iter().any(|wanted| wanted == id),
            Query::Exists(field) => !values_at(source, field).is_empty(),
            Query::Bool(query) => {
                let all =
                    |queries: &[Query]| queries.iter().all(|q| q.matches(id, source, mapping));
                let should_count = query
                    .should
                    .iter()
                    .filter(|q| q.matches(id, source, mapping))
                    .count();
                // Without `must`/`filter`, one `should` must match (ES's default
                // `minimum_should_match`).
                let minimum = query.minimum_should_match.unwrap_or(usize::from(
                    query.must.is_empty() && query.filter.is_empty() && !query.should.is_empty(),
                ));
                all(&query.must)
                    && all(&query.filter)
                    && !query
                        .must_not
                        .iter()
                        .any(|q| q.matches(id, source, mapping))
                    && should_count >= minimum
            }
        }
    }

    /// The constant score the simulator gives a hit in query context (ES's BM25 is not
    /// modelled): 0 when only filters apply.
    pub(crate) fn score(&self) -> f64 {
        match self {
            Query::Bool(query) if query.must.is_empty() && query.should.is_empty() => 0.0,
            _ => 1.0,
        }
    }
}

fn single_field<'a>(name: &str, body: &'a Value) -> Result<(String, &'a Value), EsError> {
    let object = body.as_object().ok_or_else(|| {
        parsing(format!(
            "[{name}] query malformed, no start_object after query name"
        ))
    })?;
    let mut fields = object
        .iter()
        .filter(|(key, _)| !matches!(key.as_str(), "boost" | "_name"));
    let (field, value) = fields
        .next()
        .ok_or_else(|| parsing(format!("[{name}] query requires a field")))?;
    if let Some((other, _)) = fields.next() {
        return Err(parsing(format!(
            "[{name}] query doesn't support multiple fields, found [{field}] and [{other}]"
        )));
    }
    Ok((field.clone(), value))
}

fn parse_bool(body: &Value) -> Result<Query, EsError> {
    let object = body.as_object().ok_or_else(|| {
        parsing("[bool] query malformed, no start_object after query name".to_owned())
    })?;
    let mut query = BoolQuery::default();
    for (key, value) in object {
        let clauses: Vec<Query> = match value {
            Value::Array(items) => items.iter().map(Query::parse).collect::<Result<_, _>>()?,
            Value::Object(_) => vec![Query::parse(value)?],
            _ if key == "minimum_should_match" || key == "boost" || key == "_name" => Vec::new(),
            _ => return Err(parsing(format!("[bool] query does not support [{key}]"))),
        };
        match key.as_str() {
            "must" => query.must.extend(clauses),
            "filter" => query.filter.extend(clauses),
            "should" => query.should.extend(clauses),
            "must_not" => query.must_not.extend(clauses),
            "minimum_should_match" => {
                query.minimum_should_match = value
                    .as_u64()
                    .or_else(|| value.as_str().and_then(|text| text.parse().ok()))
                    .and_then(|n| usize::try_from(n).ok());
            }
            "boost" | "_name" => {}
            other => return Err(parsing(format!("[bool] query does not support [{other}]"))),
        }
    }
    Ok(Query::Bool(Box::new(query)))
}

/// A term against the values at `field`, by the field's type: keyword exact, text against its
/// tokens (lowercased, split on non-alphanumerics, as the standard analyzer roughly does),
/// numbers, dates and booleans by value. An unmapped field matches nothing.
fn term_matches(field: &str, term: &Value, source: &Value, mapping: &Mapping) -> bool {
    let kind = mapping.field(field);
    values_at(source, field)
        .into_iter()
        .any(|found| match kind {
            Some(FieldType::Text) => {
                let wanted = scalar_text(term);
                found
                    .as_str()
                    .is_some_and(|text| tokens(text).any(|token| token == wanted))
            }
            None | Some(FieldType::Other) => false,
            _ => compare_as(kind, found, term) == Some(Ordering::Equal),
        })
}

fn tokens(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|token| !token.is_empty())
        .map(str::to_lowercase)
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The value a field sorts and compares by: numbers for numeric and date fields (dates as
/// epoch milliseconds), text otherwise.
pub(crate) fn sort_value(kind: Option<FieldType>, value: &Value) -> Option<Value> {
    match kind {
        Some(FieldType::Long) => number(value).map(|n| {
            // `as` is the point: ES keeps a long field's sort value as a whole number.
            #[expect(
                clippy::cast_possible_truncation,
                reason = "long fields hold whole numbers"
            )]
            let whole = n as i64;
            json!(whole)
        }),
        Some(FieldType::Double) => number(value).map(|n| json!(n)),
        Some(FieldType::Date) => date_ms(value).map(|ms| json!(ms)),
        Some(FieldType::Boolean) => match value {
            Value::Bool(flag) => Some(json!(i64::from(*flag))),
            Value::String(text) if text == "true" => Some(json!(1)),
            Value::String(text) if text == "false" => Some(json!(0)),
            _ => None,
        },
        _ => Some(Value::String(scalar_text(value))),
    }
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(text) => text.parse().ok(),
        _ => None,
    }
}

fn date_ms(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(text) => parse_date(text, jiff::Timestamp::now()),
        _ => None,
    }
}

/// Compares a stored value with a query value as the field's type does.
fn compare_as(kind: Option<FieldType>, found: &Value, given: &Value) -> Option<Ordering> {
    let a = sort_value(kind, found)?;
    let b = sort_value(kind, given)?;
    Some(compare_values(&a, &b))
}

/// Orders two sort values (numbers numerically, strings by their UTF-8 bytes, as ES orders
/// keyword terms).
pub(crate) fn compare_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .unwrap_or(0.0)
            .partial_cmp(&y.as_f64().unwrap_or(0.0))
            .unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.as_bytes().cmp(y.as_bytes()),
        _ => Ordering::Equal,
    }
}

/// One sort key of a search.
#[derive(Debug, Clone)]
pub(crate) struct SortKey {
    pub(crate) field: String,
    pub(crate) descending: bool,
    /// `unmapped_type`: sort as this type where the field is not mapped.
    pub(crate) unmapped: Option<FieldType>,
}

/// Parses `sort` (a string, an object, or a list of either).
pub(crate) fn parse_sort(value: &Value) -> Result<Vec<SortKey>, EsError> {
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::String(field) => Ok(SortKey {
                field: field.clone(),
                descending: field == "_score",
                unmapped: None,
            }),
            Value::Object(object) => {
                let (field, options) = object
                    .iter()
                    .next()
                    .ok_or_else(|| parsing("[sort] malformed, empty object".to_owned()))?;
                let (order, unmapped) = match options {
                    Value::String(order) => (Some(order.as_str()), None),
                    Value::Object(options) => (
                        options.get("order").and_then(Value::as_str),
                        options.get("unmapped_type").and_then(Value::as_str),
                    ),
                    _ => (None, None),
                };
                let descending = match order {
                    Some("desc") => true,
                    Some("asc") => false,
                    None => field == "_score",
                    Some(other) => {
                        return Err(EsError::new(
                            400,
                            "illegal_argument_exception",
                            format!("Unknown SortOrder [{other}]"),
                        ));
                    }
                };
                Ok(SortKey {
                    field: field.clone(),
                    descending,
                    unmapped: unmapped.map(|name| match name {
                        "keyword" => FieldType::Keyword,
                        "long" | "integer" => FieldType::Long,
                        "date" => FieldType::Date,
                        "boolean" => FieldType::Boolean,
                        _ => FieldType::Double,
                    }),
                })
            }
            _ => Err(parsing(
                "[sort] malformed, expected a field name or an object".to_owned(),
            )),
        })
        .collect()
}

/// The search failure ES wraps shard errors in (`search_phase_execution_exception`, 400).
pub(crate) fn shard_failure(index: &str, cause: EsError) -> EsError {
    let reason = cause.reason().to_owned();
    let kind = cause.error_type().unwrap_or("exception").to_owned();
    EsError::new(400, "search_phase_execution_exception", "all shards failed")
        .with_metadata("phase", "query")
        .with_metadata("grouped", true)
        .with_metadata(
            "failed_shards",
            json!([{"shard": 0, "index": index, "node": "node-0",
                    "reason": {"type": kind, "reason": reason}}]),
        )
        .caused_by_error(&cause)
}

/// Checks that a sort key can sort `index` (its field type), as a shard would: a `text` field
/// has no doc values, an unmapped one no mapping.
pub(crate) fn check_sort(
    key: &SortKey,
    index: &str,
    mapping: &Mapping,
) -> Result<Option<FieldType>, EsError> {
    if matches!(key.field.as_str(), "_doc" | "_score" | "_id") {
        return Ok(Some(FieldType::Keyword));
    }
    match mapping.field(&key.field).or(key.unmapped) {
        Some(FieldType::Text) => Err(shard_failure(
            index,
            EsError::new(
                400,
                "illegal_argument_exception",
                format!(
                    "Fielddata is disabled on [{field}] in [{index}]. Text fields are not \
                     optimised for operations that require per-document field data like \
                     aggregations and sorting, so these operations are disabled by default. \
                     Please use a keyword field instead. Alternatively, set fielddata=true on \
                     [{field}] in order to load field data by uninverting the inverted index. \
                     Note that this can use significant memory.",
                    field = key.field
                ),
            ),
        )),
        None => Err(shard_failure(
            index,
            EsError::new(
                400,
                "query_shard_exception",
                format!("No mapping found for [{}] in order to sort on", key.field),
            )
            .with_metadata("index", index),
        )),
        kind => Ok(kind),
    }
}

/// `_source` filtering: `false`, a pattern, a list of patterns, or `{includes, excludes}`.
#[derive(Debug, Clone, Default)]
pub(crate) struct SourceFilter {
    pub(crate) enabled: bool,
    includes: Vec<String>,
    excludes: Vec<String>,
}

impl SourceFilter {
    pub(crate) fn parse(value: Option<&Value>) -> SourceFilter {
        let strings = |value: Option<&Value>| -> Vec<String> {
            match value {
                Some(Value::String(text)) => vec![text.clone()],
                Some(Value::Array(items)) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
                _ => Vec::new(),
            }
        };
        match value {
            None | Some(Value::Bool(true)) => SourceFilter {
                enabled: true,
                ..SourceFilter::default()
            },
            Some(Value::Bool(false)) => SourceFilter::default(),
            Some(Value::Object(object)) => SourceFilter {
                enabled: true,
                includes: strings(object.get("includes").or_else(|| object.get("include"))),
                excludes: strings(object.get("excludes").or_else(|| object.get("exclude"))),
            },
            other => SourceFilter {
                enabled: true,
                includes: strings(other),
                excludes: Vec::new(),
            },
        }
    }

    /// The filtered source.
    pub(crate) fn apply(&self, source: &Value) -> Value {
        match source {
            Value::Object(object) => Value::Object(self.filter("", object)),
            other => other.clone(),
        }
    }

    fn filter(&self, prefix: &str, object: &Map<String, Value>) -> Map<String, Value> {
        let hit = |patterns: &[String], path: &str| {
            patterns
                .iter()
                .any(|pattern| glob(pattern, path) || path.starts_with(&format!("{pattern}.")))
        };
        let mut kept = Map::new();
        for (key, value) in object {
            let path = format!("{prefix}{key}");
            if hit(&self.excludes, &path) {
                continue;
            }
            if self.includes.is_empty() || hit(&self.includes, &path) {
                kept.insert(key.clone(), value.clone());
            } else if let Value::Object(child) = value {
                let child = self.filter(&format!("{path}."), child);
                if !child.is_empty() {
                    kept.insert(key.clone(), Value::Object(child));
                }
            }
        }
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping() -> Mapping {
        let mut mapping = Mapping::explicit(Some(&json!({"properties": {
            "run": {"type": "keyword"}, "seq": {"type": "long"}, "at": {"type": "date"}}})))
        .unwrap();
        mapping.learn(json!({"note": "Lease Renewed"}).as_object().unwrap());
        mapping
    }

    fn hit(query: Value, doc: Value) -> bool {
        Query::parse(&query).unwrap().matches("1", &doc, &mapping())
    }

    #[test]
    fn term_queries_follow_the_field_type() {
        let doc =
            json!({"run": "R-1", "seq": 7, "at": "2024-05-01T00:00:00Z", "note": "Lease Renewed"});
        assert!(hit(json!({"term": {"run": "R-1"}}), doc.clone()));
        assert!(!hit(json!({"term": {"run": "r-1"}}), doc.clone()));
        assert!(hit(json!({"term": {"seq": "7"}}), doc.clone()));
        assert!(hit(json!({"term": {"note": "lease"}}), doc.clone()));
        assert!(!hit(
            json!({"term": {"note": "Lease Renewed"}}),
            doc.clone()
        ));
        assert!(hit(
            json!({"term": {"note.keyword": {"value": "Lease Renewed"}}}),
            doc.clone()
        ));
        assert!(hit(json!({"terms": {"run": ["x", "R-1"]}}), doc.clone()));
        assert!(hit(
            json!({"range": {"seq": {"gt": 6, "lte": 7}}}),
            doc.clone()
        ));
        assert!(hit(
            json!({"range": {"at": {"gte": "2024-04-30"}}}),
            doc.clone()
        ));
        assert!(hit(
            json!({"bool": {"filter": [{"term": {"run": "R-1"}}],
                                    "must_not": {"term": {"seq": 8}}}}),
            doc.clone()
        ));
        assert!(!hit(
            json!({"bool": {"should": [{"term": {"seq": 8}}]}}),
            doc
        ));
    }

    #[test]
    fn unknown_and_unsupported_queries_are_parsing_exceptions() {
        let error = Query::parse(&json!({"frobnicate": {}})).unwrap_err();
        assert_eq!(error.error_type(), Some("parsing_exception"));
        assert_eq!(error.reason(), "unknown query [frobnicate]");
        let error = Query::parse(&json!({"match": {"a": "b"}})).unwrap_err();
        assert!(
            error
                .reason()
                .starts_with("query [match] is not supported by quiesce-sim")
        );
    }

    #[test]
    fn source_filters_keep_what_is_asked() {
        let doc = json!({"a": 1, "b": {"c": 2, "d": 3}});
        let filter = SourceFilter::parse(Some(&json!(["b.c"])));
        assert_eq!(filter.apply(&doc), json!({"b": {"c": 2}}));
        let filter = SourceFilter::parse(Some(&json!({"excludes": ["b"]})));
        assert_eq!(filter.apply(&doc), json!({"a": 1}));
        assert!(!SourceFilter::parse(Some(&json!(false))).enabled);
    }
}
