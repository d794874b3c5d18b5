//! The document and index APIs (docs/elasticsearch-ml-api.md §11): request parsing (parameters,
//! bodies, the bulk NDJSON), index-level authorization with ES's 403s, then the
//! [`Indices`](crate::indices::Indices) store.

use serde_json::{Map, Value, json};

use super::endpoint::Doc;
use super::pipeline::{Call, Reply};
use crate::EsError;
use crate::indices::{
    Op, Query, Refresh, Resolve, SearchRequest, SourceFilter, Write, Written, parse_sort,
};
use crate::security::IndexAction;

pub(crate) async fn handle(call: &Call<'_>, endpoint: Doc) -> Result<Reply, EsError> {
    let indices = &call.app.indices;
    let path_index = call.ids.get("index");
    match endpoint {
        Doc::CreateIndex => {
            let name = path_index.unwrap_or_default();
            authorize(call, IndexAction::CreateIndex, &[name])?;
            let body = json_body(call.body, "create index")?.unwrap_or_else(|| json!({}));
            Ok(Reply::Json(indices.create(name, &body)?))
        }
        Doc::GetIndex | Doc::IndexExists => {
            let expr = path_index.unwrap_or_default();
            let names = resolve(call, expr, IndexAction::GetIndex)?;
            if endpoint == Doc::IndexExists {
                return Ok(Reply::EmptyStatus(if names.is_empty() { 404 } else { 200 }));
            }
            Ok(Reply::Json(indices.describe(&names)))
        }
        Doc::Index | Doc::Create => {
            let index = path_index.unwrap_or_default().to_owned();
            let id = call.ids.get("id").map(str::to_owned);
            let op_type = call.params.str("op_type");
            let create = match (endpoint, op_type) {
                (Doc::Create, _) | (_, Some("create")) => true,
                (_, None | Some("index")) => id.is_none(),
                (_, Some(other)) => {
                    return Err(EsError::new(
                        400,
                        "illegal_argument_exception",
                        format!("opType must be 'create' or 'index', found: [{other}]"),
                    ));
                }
            };
            let if_match = if_match(call, create)?;
            if let Some(id) = &id {
                check_id(id)?;
            }
            let source = source_body(call.body)?;
            if !indices.exists(&index) {
                authorize(call, IndexAction::AutoCreate, &[&index])?;
            }
            authorize(call, IndexAction::Index { create }, &[&index])?;
            let write = Write {
                index,
                id,
                op: Op::Index { source, create },
                if_match,
            };
            written(call, write).await
        }
        Doc::Get => {
            let index = path_index.unwrap_or_default();
            authorize(call, IndexAction::Get, &[index])?;
            let filter = source_param(call);
            let (status, body) =
                indices.get(index, call.ids.get("id").unwrap_or_default(), &filter)?;
            Ok(Reply::Status(status, body))
        }
        Doc::Delete => {
            let index = path_index.unwrap_or_default().to_owned();
            authorize(call, IndexAction::Delete, &[&index])?;
            let write = Write {
                index,
                id: call.ids.get("id").map(str::to_owned),
                op: Op::Delete,
                if_match: if_match(call, false)?,
            };
            written(call, write).await
        }
        Doc::Refresh => {
            let names = resolve(call, path_index.unwrap_or("_all"), IndexAction::Refresh)?;
            Ok(Reply::Json(indices.refresh(&names)))
        }
        Doc::Search => {
            let request = search_request(call)?;
            let names = resolve(call, path_index.unwrap_or("_all"), IndexAction::Search)?;
            Ok(Reply::Json(indices.search(&names, &request)?))
        }
        Doc::Bulk => bulk(call, path_index).await,
    }
}

/// Authorizes an index action on concrete indices (nothing to check with security off).
fn authorize(call: &Call<'_>, action: IndexAction, indices: &[&str]) -> Result<(), EsError> {
    match &call.principal {
        Some(principal) => principal.authorize_indices(action, indices),
        None => Ok(()),
    }
}

/// Resolves an index expression with the request's indices options. With security on, a
/// concrete name the user may not act on is a 403, and wildcards expand only to indices the
/// user may act on (ES's `IndicesAndAliasesResolver`).
fn resolve(call: &Call<'_>, expr: &str, action: IndexAction) -> Result<Vec<String>, EsError> {
    let params = &call.params;
    let expand = params.str("expand_wildcards").unwrap_or("open");
    let options = Resolve {
        ignore_unavailable: params.bool("ignore_unavailable", false)?,
        allow_no_indices: params.bool("allow_no_indices", true)?,
        expand_hidden: expand
            .split(',')
            .any(|w| matches!(w.trim(), "all" | "hidden")),
    };
    if let Some(principal) = &call.principal {
        let concrete: Vec<&str> = expr
            .split(',')
            .map(str::trim)
            .filter(|token| !token.contains('*') && !token.is_empty() && *token != "_all")
            .collect();
        principal.authorize_indices(action, &concrete)?;
        let mut names = call.app.indices.resolve(
            expr,
            Resolve {
                allow_no_indices: true,
                ..options
            },
        )?;
        names.retain(|name| principal.may(action, name));
        if names.is_empty() && !options.allow_no_indices {
            return Err(EsError::new(
                404,
                "index_not_found_exception",
                format!("no such index [{expr}]"),
            ));
        }
        return Ok(names);
    }
    call.app.indices.resolve(expr, options)
}

/// Runs a write and, for `refresh=wait_for`, waits for the refresh that shows it.
async fn written(call: &Call<'_>, write: Write) -> Result<Reply, EsError> {
    let refresh = Refresh::parse(call.params.str("refresh"))?;
    let Written {
        status,
        body,
        index,
        refreshes,
    } = call.app.indices.write(write, refresh)?;
    if refresh == Refresh::WaitFor {
        call.app.indices.wait_for_refresh(&index, refreshes).await;
    }
    Ok(Reply::Status(status, body))
}

/// `if_seq_no` / `if_primary_term`, with `IndexRequest.validate`'s refusals.
fn if_match(call: &Call<'_>, create: bool) -> Result<Option<(i64, u64)>, EsError> {
    let number = |name: &str| -> Result<Option<i64>, EsError> {
        call.params
            .str(name)
            .map(|text| {
                text.parse::<i64>().map_err(|_| {
                    EsError::new(
                        400,
                        "illegal_argument_exception",
                        format!("Failed to parse long parameter [{name}] with value [{text}]"),
                    )
                })
            })
            .transpose()
    };
    let seq_no = number("if_seq_no")?;
    let term = number("if_primary_term")?;
    let invalid = |problem: String| {
        EsError::new(
            400,
            "action_request_validation_exception",
            format!("Validation Failed: 1: {problem};"),
        )
    };
    match (seq_no, term) {
        (None, None) => Ok(None),
        (Some(_), _) if create => Err(invalid(
            "create operations do not support compare and set. use index instead".to_owned(),
        )),
        (Some(seq_no), Some(term)) if term > 0 => {
            Ok(Some((seq_no, u64::try_from(term).unwrap_or(0))))
        }
        (Some(_), _) => Err(invalid(format!(
            "ifSeqNo is set, but primary term is [{}]",
            term.unwrap_or(0)
        ))),
        (None, Some(term)) => Err(invalid(format!(
            "ifSeqNo is unassigned, but primary term is [{term}]"
        ))),
    }
}

/// ES's limit on document ids (`IndexRequest.validate`).
fn check_id(id: &str) -> Result<(), EsError> {
    if id.len() > 512 {
        return Err(EsError::new(
            400,
            "action_request_validation_exception",
            format!(
                "Validation Failed: 1: id [{id}] is too long, must be no longer than 512 bytes \
                 but was: {};",
                id.len()
            ),
        ));
    }
    Ok(())
}

/// A JSON body, `None` when empty.
fn json_body(body: &[u8], what: &str) -> Result<Option<Value>, EsError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(body).map(Some).map_err(|error| {
        EsError::new(
            400,
            "x_content_parse_exception",
            format!(
                "[{}:{}] [{what}] failed to parse: {error}",
                error.line(),
                error.column()
            ),
        )
    })
}

/// A document's source: a JSON object.
fn source_body(body: &[u8]) -> Result<Map<String, Value>, EsError> {
    match json_body(body, "document")? {
        None => Err(EsError::new(
            400,
            "parse_exception",
            "request body is required",
        )),
        Some(Value::Object(object)) => Ok(object),
        Some(_) => Err(
            EsError::new(400, "mapper_parsing_exception", "failed to parse").caused_by(
                "not_x_content_exception",
                "Compressor detection can only be called on some xcontent bytes or compressed \
                 xcontent bytes",
            ),
        ),
    }
}

/// `_source`, `_source_includes`, `_source_excludes` from the query.
fn source_param(call: &Call<'_>) -> SourceFilter {
    let list = |name: &str| -> Option<Value> {
        call.params
            .str(name)
            .map(|text| json!(text.split(',').map(str::trim).collect::<Vec<_>>()))
    };
    match call.params.str("_source") {
        Some("false") => SourceFilter::parse(Some(&json!(false))),
        Some("true") | None => match (list("_source_includes"), list("_source_excludes")) {
            (None, None) => SourceFilter::parse(None),
            (includes, excludes) => SourceFilter::parse(Some(
                &json!({"includes": includes.unwrap_or(json!([])), "excludes": excludes.unwrap_or(json!([]))}),
            )),
        },
        Some(_) => SourceFilter::parse(list("_source").as_ref()),
    }
}

/// The keys a search body may have in the simulator's subset.
const SEARCH_KEYS: &[&str] = &[
    "query",
    "sort",
    "size",
    "from",
    "search_after",
    "_source",
    "track_total_hits",
    "seq_no_primary_term",
    "version",
    "timeout",
    "track_scores",
];

/// Reads a `_search` body and its query parameters (the body's value wins).
fn search_request(call: &Call<'_>) -> Result<SearchRequest, EsError> {
    let body = json_body(call.body, "search")?.unwrap_or_else(|| json!({}));
    let Some(object) = body.as_object() else {
        return Err(EsError::new(
            400,
            "parsing_exception",
            "Expected [START_OBJECT] but found [START_ARRAY]",
        ));
    };
    for (key, value) in object {
        if !SEARCH_KEYS.contains(&key.as_str()) {
            let token = match value {
                Value::Object(_) => "START_OBJECT",
                Value::Array(_) => "START_ARRAY",
                Value::String(_) => "VALUE_STRING",
                Value::Number(_) => "VALUE_NUMBER",
                Value::Bool(_) => "VALUE_BOOLEAN",
                Value::Null => "VALUE_NULL",
            };
            let reason = if key == "aggs" || key == "aggregations" {
                format!(
                    "[{key}] is not supported by quiesce-sim, whose search is a subset (no aggregations)"
                )
            } else {
                format!("Unknown key for a {token} in [{key}].")
            };
            return Err(EsError::new(400, "parsing_exception", reason));
        }
    }
    if call.params.contains("q") {
        return Err(EsError::new(
            400,
            "parsing_exception",
            "[q] is not supported by quiesce-sim, whose search is a subset: give a query in the body",
        ));
    }
    let params = &call.params;
    let number = |name: &str, default: usize| -> Result<usize, EsError> {
        if let Some(value) = object.get(name) {
            return value
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| {
                    EsError::new(
                        400,
                        "parsing_exception",
                        format!("[{name}] must be a non-negative number"),
                    )
                });
        }
        params.str(name).map_or(Ok(default), |text| {
            text.parse().map_err(|_| {
                EsError::new(
                    400,
                    "illegal_argument_exception",
                    format!("Failed to parse int parameter [{name}] with value [{text}]"),
                )
            })
        })
    };
    let size = number("size", 10)?;
    let from = number("from", 0)?;
    if from + size > 10_000 {
        return Err(EsError::new(
            400,
            "illegal_argument_exception",
            format!(
                "Result window is too large, from + size must be less than or equal to: [10000] \
                 but was [{}]. See the scroll api for a more efficient way to request large data \
                 sets. This limit can be set by changing the [index.max_result_window] index \
                 level setting.",
                from + size
            ),
        ));
    }
    let query = object
        .get("query")
        .map_or(Ok(Query::MatchAll), Query::parse)?;
    let sort = match object.get("sort") {
        Some(sort) => parse_sort(sort)?,
        None => match params.str("sort") {
            Some(text) => parse_sort(&Value::Array(
                text.split(',')
                    .map(|item| match item.split_once(':') {
                        Some((field, order)) => json!({field: order}),
                        None => json!(item),
                    })
                    .collect(),
            ))?,
            None => Vec::new(),
        },
    };
    let flag = |name: &str| -> Result<bool, EsError> {
        match object.get(name) {
            Some(Value::Bool(flag)) => Ok(*flag),
            _ => params.bool(name, false),
        }
    };
    let track_total_hits = match object.get("track_total_hits").cloned().or_else(|| {
        params.str("track_total_hits").map(|text| {
            text.parse::<u64>()
                .map_or_else(|_| json!(text == "true"), |n| json!(n))
        })
    }) {
        None => Some(10_000),
        Some(Value::Bool(true)) => Some(usize::MAX),
        Some(Value::Bool(false)) => None,
        Some(Value::Number(n)) => Some(
            n.as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(usize::MAX),
        ),
        Some(_) => Some(10_000),
    };
    let source = match object.get("_source") {
        Some(value) => SourceFilter::parse(Some(value)),
        None => source_param(call),
    };
    Ok(SearchRequest {
        query,
        sort,
        size,
        from,
        search_after: object
            .get("search_after")
            .and_then(Value::as_array)
            .cloned(),
        source,
        track_total_hits,
        total_as_int: params.bool("rest_total_hits_as_int", false)?,
        seq_no_primary_term: flag("seq_no_primary_term")?,
        version: flag("version")?,
    })
}

/// `POST [/<index>]/_bulk`: `index`, `create` and `delete` items, each answered on its own.
async fn bulk(call: &Call<'_>, path_index: Option<&str>) -> Result<Reply, EsError> {
    let text = String::from_utf8_lossy(call.body);
    if !text.is_empty() && !text.ends_with('\n') {
        return Err(EsError::new(
            400,
            "illegal_argument_exception",
            "The bulk request must be terminated by a newline [\\n]",
        ));
    }
    let refresh = Refresh::parse(call.params.str("refresh"))?;
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty());
    let mut items = Vec::new();
    let mut errors = false;
    let mut touched: Vec<(String, u64)> = Vec::new();
    while let Some((number, line)) = lines.next() {
        let line_number = number + 1;
        let action: Value = serde_json::from_str(line).map_err(|_| {
            EsError::new(
                400,
                "illegal_argument_exception",
                format!("Malformed action/metadata line [{line_number}], expected START_OBJECT or END_OBJECT but found [VALUE_STRING]"),
            )
        })?;
        let Some((kind, meta)) = action.as_object().and_then(|object| object.iter().next()) else {
            return Err(EsError::new(
                400,
                "illegal_argument_exception",
                format!(
                    "Malformed action/metadata line [{line_number}], expected a simple value for field [null] but found [END_OBJECT]"
                ),
            ));
        };
        let kind = kind.clone();
        if !matches!(kind.as_str(), "index" | "create" | "delete" | "update") {
            return Err(EsError::new(
                400,
                "illegal_argument_exception",
                format!(
                    "Malformed action/metadata line [{line_number}], expected field [create], [delete], [index] or [update] but found [{kind}]"
                ),
            ));
        }
        let meta = meta.as_object().cloned().unwrap_or_default();
        let source = if kind == "delete" {
            None
        } else {
            let Some((_, source_line)) = lines.next() else {
                return Err(EsError::new(
                    400,
                    "action_request_validation_exception",
                    "Validation Failed: 1: source is missing;",
                ));
            };
            Some(source_line.to_owned())
        };
        let index = meta
            .get("_index")
            .and_then(Value::as_str)
            .or(path_index)
            .map(str::to_owned);
        let Some(index) = index else {
            return Err(EsError::new(
                400,
                "action_request_validation_exception",
                "Validation Failed: 1: index is missing;",
            ));
        };
        let id = meta.get("_id").and_then(Value::as_str).map(str::to_owned);
        let outcome = bulk_item(
            call,
            &kind,
            &index,
            id.clone(),
            &meta,
            source.as_deref(),
            refresh,
        );
        let entry = match outcome {
            Ok(Written {
                status,
                mut body,
                index,
                refreshes,
            }) => {
                body["status"] = json!(status);
                if status >= 400 {
                    errors = true;
                }
                touched.push((index, refreshes));
                body
            }
            Err(error) => {
                errors = true;
                let mut detail = error.to_json()["error"].clone();
                if let Some(object) = detail.as_object_mut() {
                    object.remove("root_cause");
                }
                json!({"_index": index, "_id": id, "status": error.status.as_u16(), "error": detail})
            }
        };
        items.push(json!({kind: entry}));
    }
    if items.is_empty() {
        return Err(EsError::new(
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: no requests added;",
        ));
    }
    if refresh == Refresh::WaitFor {
        for (index, refreshes) in touched {
            call.app.indices.wait_for_refresh(&index, refreshes).await;
        }
    }
    Ok(Reply::Json(
        json!({"errors": errors, "took": 1, "items": items}),
    ))
}

/// One bulk item, authorized as a bulk shard action would be.
fn bulk_item(
    call: &Call<'_>,
    kind: &str,
    index: &str,
    id: Option<String>,
    meta: &Map<String, Value>,
    source: Option<&str>,
    refresh: Refresh,
) -> Result<Written, EsError> {
    if kind == "update" {
        return Err(EsError::new(
            400,
            "illegal_argument_exception",
            "bulk [update] items are not supported by quiesce-sim (index, create and delete are)",
        ));
    }
    let indices = &call.app.indices;
    if let Some(principal) = &call.principal {
        if kind != "delete"
            && !indices.exists(index)
            && !principal.may(IndexAction::AutoCreate, index)
        {
            return Err(principal.index_denial(IndexAction::AutoCreate, &[index]));
        }
        let action = match kind {
            "delete" => IndexAction::Delete,
            _ => IndexAction::Index {
                create: kind == "create",
            },
        };
        if !principal.may(action, index) {
            return Err(principal.index_denial(IndexAction::BulkItem, &[index]));
        }
    }
    let number = |name: &str| meta.get(name).and_then(Value::as_i64);
    let if_match = match (number("if_seq_no"), number("if_primary_term")) {
        (Some(seq_no), Some(term)) if term > 0 => Some((seq_no, u64::try_from(term).unwrap_or(0))),
        (None, None) => None,
        _ => {
            return Err(EsError::new(
                400,
                "action_request_validation_exception",
                "Validation Failed: 1: ifSeqNo is set, but primary term is [0];",
            ));
        }
    };
    let op = match source {
        None => Op::Delete,
        Some(line) => Op::Index {
            source: source_body(line.as_bytes())?,
            create: kind == "create" || id.is_none(),
        },
    };
    // The bulk refreshes (or waits) once for all its items.
    let item_refresh = if refresh == Refresh::Now {
        Refresh::Now
    } else {
        Refresh::No
    };
    indices.write(
        Write {
            index: index.to_owned(),
            id,
            op,
            if_match,
        },
        item_refresh,
    )
}
