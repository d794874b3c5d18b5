//! The document store behind the document APIs (docs/elasticsearch-ml-api.md §11): indices
//! (auto-created on first write, or created with settings and mappings), documents with
//! `_version`, `_seq_no` and `_primary_term`, optimistic concurrency, and the near-real-time
//! split between what `GET _doc` sees (at once) and what `_search` sees (what the last refresh
//! made visible; a refresh happens every `index.refresh_interval`, default `1s`, or when asked).
//!
//! Takes parsed requests; gives ES's response bodies and refusals. It knows nothing of HTTP or
//! security; time is tokio's, so tests on a paused clock see refreshes exactly.

mod mapping;
mod names;
mod query;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::EsError;
use crate::time_value::TimeValue;

use mapping::Mapping;
pub(crate) use names::Resolve;
pub(crate) use query::{Query, SourceFilter, parse_sort, shard_failure};
use query::{SortKey, check_sort, compare_values, sort_value};

/// The primary term of every shard: the simulator's primaries never fail over.
const PRIMARY_TERM: u64 = 1;

/// `refresh` of a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refresh {
    No,
    /// `true` (or empty): refresh at once; the response says `forced_refresh`.
    Now,
    /// `wait_for`: answer once a refresh made the write visible.
    WaitFor,
}

impl Refresh {
    /// The `refresh` parameter; ES's 400 for another value.
    pub(crate) fn parse(value: Option<&str>) -> Result<Refresh, EsError> {
        match value {
            None | Some("false") => Ok(Refresh::No),
            Some("" | "true") => Ok(Refresh::Now),
            Some("wait_for") => Ok(Refresh::WaitFor),
            Some(other) => Err(EsError::new(
                400,
                "illegal_argument_exception",
                format!("Unknown value for refresh: [{other}]."),
            )),
        }
    }
}

/// A write: index (create or overwrite) or delete one document.
#[derive(Debug, Clone)]
pub(crate) struct Write {
    pub(crate) index: String,
    /// `None`: an auto-generated id (index only).
    pub(crate) id: Option<String>,
    pub(crate) op: Op,
    /// `if_seq_no` and `if_primary_term`.
    pub(crate) if_match: Option<(i64, u64)>,
}

#[derive(Debug, Clone)]
pub(crate) enum Op {
    Index {
        source: Map<String, Value>,
        create: bool,
    },
    Delete,
}

/// What a write did: the response body and its HTTP status.
#[derive(Debug, Clone)]
pub(crate) struct Written {
    pub(crate) status: u16,
    pub(crate) body: Value,
    /// The index, for a `wait_for` refresh.
    pub(crate) index: String,
    /// The index's refresh count when written (a later refresh makes it visible).
    pub(crate) refreshes: u64,
}

#[derive(Debug, Clone)]
struct Doc {
    /// Shared with the searchable copy: a refresh copies no document.
    source: Arc<Value>,
    version: u64,
    seq_no: i64,
    /// Order of the last write, for `_doc` order.
    order: u64,
}

#[derive(Debug)]
struct Index {
    uuid: String,
    hidden: bool,
    replicas: u32,
    /// `None`: `-1`, no periodic refresh.
    refresh_interval: Option<Duration>,
    settings: Map<String, Value>,
    mapping: Mapping,
    creation_ms: i64,
    docs: HashMap<String, Doc>,
    /// Versions of deleted documents (ES keeps them as tombstones for `index.gc_deletes`).
    deleted: HashMap<String, u64>,
    /// What `_search` sees: the documents as of the last refresh.
    searchable: BTreeMap<String, Doc>,
    /// The ids written or deleted since the last refresh: what the next one brings over, so
    /// that a refresh costs what changed, not the whole index.
    changed: BTreeSet<String>,
    last_refresh: Instant,
    refreshes: u64,
    seq_no: i64,
}

impl Index {
    fn dirty(&self) -> bool {
        !self.changed.is_empty()
    }

    fn due(&self, now: Instant) -> bool {
        self.dirty()
            && self
                .refresh_interval
                .is_some_and(|interval| now.duration_since(self.last_refresh) >= interval)
    }

    fn refresh(&mut self, now: Instant) {
        for id in std::mem::take(&mut self.changed) {
            match self.docs.get(&id) {
                Some(doc) => {
                    self.searchable.insert(id, doc.clone());
                }
                None => {
                    self.searchable.remove(&id);
                }
            }
        }
        self.last_refresh = now;
        self.refreshes += 1;
    }

    /// Refreshes when the interval has passed since the last refresh.
    fn catch_up(&mut self, now: Instant) {
        if self.due(now) {
            self.refresh(now);
        }
    }

    fn conflict(&self, name: &str, id: &str, explanation: &str) -> EsError {
        EsError::new(
            409,
            "version_conflict_engine_exception",
            format!("[{id}]: version conflict, {explanation}"),
        )
        .with_metadata("index_uuid", self.uuid.clone())
        .with_metadata("shard", "0")
        .with_metadata("index", name)
    }
}

/// Every index of the cluster.
pub(crate) struct Indices {
    state: Mutex<Store>,
    /// Bumped on every refresh, for `wait_for` writes.
    refreshed: watch::Sender<u64>,
    /// Data nodes (the ML nodes hold data too): how many shard copies a write reaches.
    data_nodes: usize,
}

#[derive(Default)]
struct Store {
    indices: BTreeMap<String, Index>,
    /// Numbers index UUIDs and auto-generated ids.
    counter: u64,
    /// Orders writes.
    writes: u64,
}

/// Settings of `PUT /<index>` and their defaults.
struct IndexSettings {
    hidden: bool,
    replicas: u32,
    refresh_interval: Option<Duration>,
    flat: Map<String, Value>,
}

impl Indices {
    pub(crate) fn new(data_nodes: usize) -> Indices {
        let (refreshed, _) = watch::channel(0);
        Indices {
            state: Mutex::new(Store::default()),
            refreshed,
            data_nodes,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether an index exists.
    pub(crate) fn exists(&self, name: &str) -> bool {
        self.lock().indices.contains_key(name)
    }

    /// The existing indices with whether each is hidden, for expression resolution.
    pub(crate) fn resolve(&self, expr: &str, options: Resolve) -> Result<Vec<String>, EsError> {
        let store = self.lock();
        names::resolve(
            expr,
            store
                .indices
                .iter()
                .map(|(name, index)| (name.as_str(), index.hidden)),
            options,
        )
    }

    /// `PUT /<index>` with `{settings, mappings, aliases}`.
    pub(crate) fn create(&self, name: &str, body: &Value) -> Result<Value, EsError> {
        names::validate(name)?;
        let object = body.as_object().cloned().unwrap_or_default();
        if let Some(key) = object
            .keys()
            .find(|key| !matches!(key.as_str(), "settings" | "mappings" | "aliases"))
        {
            return Err(EsError::new(
                400,
                "parse_exception",
                format!("unknown key [{key}] for create index"),
            ));
        }
        let settings = index_settings(object.get("settings"))?;
        let mapping = Mapping::explicit(object.get("mappings"))?;
        let mut store = self.lock();
        if let Some(existing) = store.indices.get(name) {
            return Err(EsError::new(
                400,
                "resource_already_exists_exception",
                format!("index [{name}/{}] already exists", existing.uuid),
            )
            .with_metadata("index_uuid", existing.uuid.clone())
            .with_metadata("index", name));
        }
        store.add(name, settings, mapping);
        Ok(json!({"acknowledged": true, "shards_acknowledged": true, "index": name}))
    }

    /// `GET /<index>`: aliases, mappings and settings of each resolved index.
    pub(crate) fn describe(&self, names: &[String]) -> Value {
        let store = self.lock();
        let described: Map<String, Value> = names
            .iter()
            .filter_map(|name| {
                let index = store.indices.get(name)?;
                let mut settings = index.settings.clone();
                settings.insert(
                    "creation_date".to_owned(),
                    json!(index.creation_ms.to_string()),
                );
                settings.insert("uuid".to_owned(), json!(index.uuid));
                settings.insert("provided_name".to_owned(), json!(name));
                settings.insert("number_of_shards".to_owned(), json!("1"));
                settings.insert(
                    "number_of_replicas".to_owned(),
                    json!(index.replicas.to_string()),
                );
                if index.hidden {
                    settings.insert("hidden".to_owned(), json!("true"));
                }
                Some((
                    name.clone(),
                    json!({"aliases": {}, "mappings": index.mapping.to_json(),
                           "settings": {"index": settings}}),
                ))
            })
            .collect();
        Value::Object(described)
    }

    /// One write; the index is created on the way when missing (auto-create), except for a
    /// delete.
    pub(crate) fn write(&self, write: Write, refresh: Refresh) -> Result<Written, EsError> {
        let data_nodes = self.data_nodes;
        let mut store = self.lock();
        if !store.indices.contains_key(&write.index) {
            if matches!(write.op, Op::Delete) {
                return Err(names::not_found(&write.index));
            }
            names::validate(&write.index)?;
            let settings = index_settings(None)?;
            store.add(&write.index, settings, Mapping::default());
        }
        store.writes += 1;
        let order = store.writes;
        let id = match &write.id {
            Some(id) => id.clone(),
            None => {
                store.counter += 1;
                auto_id(store.counter)
            }
        };
        let name = write.index.clone();
        let index = store.indices.get_mut(&name).expect("created above");
        let current = index.docs.get(&id);
        if let Some((seq_no, term)) = write.if_match {
            let matches = current.is_some_and(|doc| doc.seq_no == seq_no && term == PRIMARY_TERM);
            if !matches {
                let found = match current {
                    Some(doc) => format!(
                        " current document has seqNo [{}] and primary term [{PRIMARY_TERM}]",
                        doc.seq_no
                    ),
                    None => " but no document was found".to_owned(),
                };
                return Err(index.conflict(
                    &name,
                    &id,
                    &format!("required seqNo [{seq_no}], primary term [{term}].{found}"),
                ));
            }
        }
        let previous_version = current
            .map(|doc| doc.version)
            .or_else(|| index.deleted.get(&id).copied());
        index.seq_no += 1;
        let seq_no = index.seq_no;
        let (status, result, version) = match write.op {
            Op::Index { source, create } => {
                if create && let Some(doc) = current {
                    let version = doc.version;
                    index.seq_no -= 1;
                    return Err(index.conflict(
                        &name,
                        &id,
                        &format!("document already exists (current version [{version}])"),
                    ));
                }
                let existed = current.is_some();
                let version = previous_version.map_or(1, |v| v + 1);
                index.mapping.learn(&source);
                index.deleted.remove(&id);
                index.docs.insert(
                    id.clone(),
                    Doc {
                        source: Arc::new(Value::Object(source)),
                        version,
                        seq_no,
                        order,
                    },
                );
                if existed {
                    (200, "updated", version)
                } else {
                    (201, "created", version)
                }
            }
            Op::Delete => match index.docs.remove(&id) {
                Some(doc) => {
                    index.deleted.insert(id.clone(), doc.version + 1);
                    (200, "deleted", doc.version + 1)
                }
                None => {
                    let version = previous_version.map_or(1, |v| v + 1);
                    index.deleted.insert(id.clone(), version);
                    (404, "not_found", version)
                }
            },
        };
        index.changed.insert(id.clone());
        let now = Instant::now();
        let mut body = json!({
            "_index": name,
            "_id": id,
            "_version": version,
            "result": result,
            "_shards": names::shards(index.replicas, data_nodes),
            "_seq_no": seq_no,
            "_primary_term": PRIMARY_TERM,
        });
        if refresh == Refresh::Now {
            index.refresh(now);
            body["forced_refresh"] = json!(true);
        }
        let refreshes = index.refreshes;
        drop(store);
        if refresh == Refresh::Now {
            self.refreshed.send_modify(|generation| *generation += 1);
        }
        Ok(Written {
            status,
            body,
            index: name,
            refreshes,
        })
    }

    /// Waits until `index` was refreshed after `refreshes` (a `wait_for` write): at its next
    /// periodic refresh, or an explicit one when it has none.
    pub(crate) async fn wait_for_refresh(&self, index: &str, refreshes: u64) {
        let mut changed = self.refreshed.subscribe();
        loop {
            let deadline = {
                let mut store = self.lock();
                let Some(entry) = store.indices.get_mut(index) else {
                    return;
                };
                let now = Instant::now();
                if entry.due(now) || (!entry.dirty() && entry.refresh_interval.is_some()) {
                    entry.refresh(now);
                }
                if entry.refreshes > refreshes {
                    return;
                }
                entry
                    .refresh_interval
                    .map(|interval| entry.last_refresh + interval)
            };
            match deadline {
                Some(deadline) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(deadline) => {}
                        _ = changed.changed() => {}
                    }
                }
                None => {
                    if changed.changed().await.is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// `GET /<index>/_doc/<id>`: realtime, whatever the last refresh.
    pub(crate) fn get(
        &self,
        name: &str,
        id: &str,
        filter: &SourceFilter,
    ) -> Result<(u16, Value), EsError> {
        let store = self.lock();
        let index = store
            .indices
            .get(name)
            .ok_or_else(|| names::not_found(name))?;
        Ok(match index.docs.get(id) {
            Some(doc) => {
                let mut body = json!({
                    "_index": name, "_id": id, "_version": doc.version, "_seq_no": doc.seq_no,
                    "_primary_term": PRIMARY_TERM, "found": true,
                });
                if filter.enabled {
                    body["_source"] = filter.apply(&doc.source);
                }
                (200, body)
            }
            None => (404, json!({"_index": name, "_id": id, "found": false})),
        })
    }

    /// `POST /<index>/_refresh` on resolved indices.
    pub(crate) fn refresh(&self, names: &[String]) -> Value {
        let now = Instant::now();
        let mut store = self.lock();
        let mut shards = 0_u64;
        let mut successful = 0_u64;
        for name in names {
            if let Some(index) = store.indices.get_mut(name) {
                index.refresh(now);
                shards += 1 + u64::from(index.replicas);
                successful += 1;
            }
        }
        drop(store);
        self.refreshed.send_modify(|generation| *generation += 1);
        json!({"_shards": {"total": shards, "successful": successful, "failed": 0}})
    }

    /// `_search` over resolved indices.
    pub(crate) fn search(
        &self,
        names: &[String],
        request: &SearchRequest,
    ) -> Result<Value, EsError> {
        let now = Instant::now();
        let mut store = self.lock();
        for name in names {
            if let Some(index) = store.indices.get_mut(name) {
                index.catch_up(now);
            }
        }
        let mut hits: Vec<Hit> = Vec::new();
        for name in names {
            let Some(index) = store.indices.get(name) else {
                continue;
            };
            let kinds = request
                .sort
                .iter()
                .map(|key| check_sort(key, name, &index.mapping))
                .collect::<Result<Vec<_>, _>>()?;
            for (id, doc) in &index.searchable {
                if !request.query.matches(id, &doc.source, &index.mapping) {
                    continue;
                }
                let sort: Vec<Value> = request
                    .sort
                    .iter()
                    .zip(&kinds)
                    .map(|(key, kind)| match key.field.as_str() {
                        "_doc" => json!(doc.order),
                        "_score" => json!(request.query.score()),
                        "_id" => json!(id),
                        field => mapping::values_at(&doc.source, field)
                            .into_iter()
                            .filter_map(|value| sort_value(*kind, value))
                            .reduce(|a, b| {
                                let keep_first = (compare_values(&a, &b)
                                    == std::cmp::Ordering::Greater)
                                    == key.descending;
                                if keep_first { a } else { b }
                            })
                            .unwrap_or(Value::Null),
                    })
                    .collect();
                hits.push(Hit {
                    index: name.clone(),
                    id: id.clone(),
                    doc: doc.clone(),
                    sort,
                });
            }
        }
        drop(store);
        hits.sort_by(|a, b| {
            if request.sort.is_empty() {
                return (&a.index, a.doc.order).cmp(&(&b.index, b.doc.order));
            }
            compare_hits(&request.sort, &a.sort, &b.sort)
        });
        if let Some(after) = &request.search_after {
            if after.len() != request.sort.len() {
                return Err(EsError::new(
                    400,
                    "illegal_argument_exception",
                    format!(
                        "search_after has {} value(s) but sort has {}.",
                        after.len(),
                        request.sort.len()
                    ),
                ));
            }
            hits.retain(|hit| {
                compare_hits(&request.sort, &hit.sort, after) == std::cmp::Ordering::Greater
            });
        }
        let total = hits.len();
        let sorted = !request.sort.is_empty();
        let score = request.query.score();
        let page: Vec<Value> = hits
            .into_iter()
            .skip(request.from)
            .take(request.size)
            .map(|hit| {
                let mut body = json!({"_index": hit.index, "_id": hit.id,
                                      "_score": if sorted { Value::Null } else { json!(score) }});
                if request.version {
                    body["_version"] = json!(hit.doc.version);
                }
                if request.seq_no_primary_term {
                    body["_seq_no"] = json!(hit.doc.seq_no);
                    body["_primary_term"] = json!(PRIMARY_TERM);
                }
                if request.source.enabled {
                    body["_source"] = request.source.apply(&hit.doc.source);
                }
                if sorted {
                    body["sort"] = json!(hit.sort);
                }
                body
            })
            .collect();
        let mut result = json!({
            "took": 1,
            "timed_out": false,
            "_shards": {"total": names.len(), "successful": names.len(), "skipped": 0, "failed": 0},
            "hits": {
                "max_score": if sorted || total == 0 { Value::Null } else { json!(score) },
                "hits": page,
            },
        });
        match request.track_total_hits {
            None => {}
            Some(limit) => {
                let value = total.min(limit);
                let relation = if total > limit { "gte" } else { "eq" };
                result["hits"]["total"] = if request.total_as_int {
                    json!(value)
                } else {
                    json!({"value": value, "relation": relation})
                };
            }
        }
        Ok(result)
    }
}

struct Hit {
    index: String,
    id: String,
    doc: Doc,
    sort: Vec<Value>,
}

/// Orders two sort tuples; a missing value sorts last in either direction (ES's `_last`).
fn compare_hits(keys: &[SortKey], a: &[Value], b: &[Value]) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    for ((key, x), y) in keys.iter().zip(a).zip(b) {
        let ordering = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => {
                let ordering = compare_values(x, y);
                if key.descending {
                    ordering.reverse()
                } else {
                    ordering
                }
            }
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    Ordering::Equal
}

/// A parsed `_search` request.
#[derive(Debug, Clone)]
pub(crate) struct SearchRequest {
    pub(crate) query: Query,
    pub(crate) sort: Vec<SortKey>,
    pub(crate) size: usize,
    pub(crate) from: usize,
    pub(crate) search_after: Option<Vec<Value>>,
    pub(crate) source: SourceFilter,
    /// `None`: `track_total_hits: false`.
    pub(crate) track_total_hits: Option<usize>,
    pub(crate) total_as_int: bool,
    pub(crate) seq_no_primary_term: bool,
    pub(crate) version: bool,
}

impl Store {
    fn add(&mut self, name: &str, settings: IndexSettings, mapping: Mapping) {
        self.counter += 1;
        let now = Instant::now();
        self.indices.insert(
            name.to_owned(),
            Index {
                uuid: auto_id(self.counter.wrapping_mul(7919)),
                hidden: settings.hidden,
                replicas: settings.replicas,
                refresh_interval: settings.refresh_interval,
                settings: settings.flat,
                mapping,
                creation_ms: jiff::Timestamp::now().as_millisecond(),
                docs: HashMap::new(),
                deleted: HashMap::new(),
                searchable: BTreeMap::new(),
                changed: BTreeSet::new(),
                last_refresh: now,
                refreshes: 0,
                seq_no: -1,
            },
        );
    }
}

/// Reads `settings` in any of ES's forms (`{"index": {"hidden": true}}`, `{"index.hidden":
/// true}`, `{"hidden": true}`).
fn index_settings(settings: Option<&Value>) -> Result<IndexSettings, EsError> {
    let mut flat = Map::new();
    if let Some(settings) = settings {
        flatten_settings("", settings, &mut flat);
    }
    let text = |key: &str| {
        flat.get(key).map(|value| match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        })
    };
    let hidden = match text("hidden").as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(EsError::new(
                400,
                "illegal_argument_exception",
                format!("Failed to parse value [{other}] as only [true] or [false] are allowed."),
            ));
        }
    };
    let replicas = match text("number_of_replicas") {
        None => 1,
        Some(value) => value.parse().map_err(|_| {
            EsError::new(
                400,
                "illegal_argument_exception",
                format!("Failed to parse value [{value}] for setting [index.number_of_replicas]"),
            )
        })?,
    };
    let refresh_interval = match text("refresh_interval") {
        None => Some(Duration::from_secs(1)),
        Some(value) => TimeValue::parse(&value, "index.refresh_interval")?.duration(),
    };
    Ok(IndexSettings {
        hidden,
        replicas,
        refresh_interval,
        flat,
    })
}

fn flatten_settings(prefix: &str, value: &Value, flat: &mut Map<String, Value>) {
    match value {
        Value::Object(object) => {
            for (key, child) in object {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten_settings(&path, child, flat);
            }
        }
        leaf => {
            let key = prefix.strip_prefix("index.").unwrap_or(prefix);
            let value = match leaf {
                Value::String(text) => json!(text),
                other => json!(other.to_string()),
            };
            flat.insert(key.to_owned(), value);
        }
    }
}

/// A 20-character URL-safe id like ES's auto-generated ids and index UUIDs.
pub(crate) fn auto_id(n: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5DEE_CE66_D1CE_4E5B;
    (0..20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(ALPHABET[usize::try_from(x % 64).unwrap_or(0)])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(value: Value) -> Op {
        Op::Index {
            source: value.as_object().unwrap().clone(),
            create: false,
        }
    }

    /// The first ten hits of every document, in `sort` order.
    fn match_all(sort: Vec<SortKey>) -> SearchRequest {
        SearchRequest {
            query: Query::MatchAll,
            sort,
            size: 10,
            from: 0,
            search_after: None,
            source: SourceFilter::parse(None),
            track_total_hits: Some(10_000),
            total_as_int: false,
            seq_no_primary_term: false,
            version: false,
        }
    }

    #[test]
    fn settings_are_read_in_every_form() {
        for settings in [
            json!({"index": {"hidden": true, "number_of_replicas": 0}}),
            json!({"index.hidden": "true", "index.number_of_replicas": "0"}),
            json!({"hidden": true, "number_of_replicas": 0}),
        ] {
            let read = index_settings(Some(&settings)).unwrap();
            assert!(read.hidden, "{settings}");
            assert_eq!(read.replicas, 0, "{settings}");
        }
        let read = index_settings(Some(&json!({"index": {"refresh_interval": "-1"}}))).unwrap();
        assert_eq!(read.refresh_interval, None);
    }

    #[tokio::test(start_paused = true)]
    async fn search_sees_a_write_after_the_refresh_interval() {
        let indices = Indices::new(1);
        let write = Write {
            index: "runs".to_owned(),
            id: Some("1".to_owned()),
            op: doc(json!({"a": 1})),
            if_match: None,
        };
        indices.write(write, Refresh::No).unwrap();
        let request = match_all(Vec::new());
        let names = vec!["runs".to_owned()];
        let hits = |indices: &Indices| {
            indices.search(&names, &request).unwrap()["hits"]["total"]["value"].clone()
        };
        assert_eq!(hits(&indices), 0);
        tokio::time::advance(Duration::from_millis(999)).await;
        assert_eq!(hits(&indices), 0);
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(hits(&indices), 1);
    }

    /// A refresh brings over only what changed since the last one (cheap on a big index), and
    /// exactly that: an update shows its new source, a delete leaves search, the rest stays.
    #[tokio::test(start_paused = true)]
    async fn a_refresh_brings_over_updates_and_deletes_only() {
        let indices = Indices::new(1);
        let write = |id: &str, op: Op, refresh: Refresh| {
            indices
                .write(
                    Write {
                        index: "runs".to_owned(),
                        id: Some(id.to_owned()),
                        op,
                        if_match: None,
                    },
                    refresh,
                )
                .unwrap();
        };
        write("1", doc(json!({"a": 1})), Refresh::No);
        write("2", doc(json!({"a": 2})), Refresh::No);
        write("3", doc(json!({"a": 3})), Refresh::Now);
        write("1", doc(json!({"a": 10})), Refresh::No);
        write("2", Op::Delete, Refresh::No);
        let request = match_all(parse_sort(&json!(["a"])).unwrap());
        let names = vec!["runs".to_owned()];
        let sources = || -> Vec<Value> {
            indices.search(&names, &request).unwrap()["hits"]["hits"]
                .as_array()
                .unwrap()
                .iter()
                .map(|hit| hit["_source"]["a"].clone())
                .collect()
        };
        assert_eq!(
            sources(),
            [json!(1), json!(2), json!(3)],
            "as of the last refresh"
        );
        indices.refresh(&names);
        assert_eq!(sources(), [json!(3), json!(10)]);
    }
}
