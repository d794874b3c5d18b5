//! docs/elasticsearch-ml-api.md §11: the document API subset a run lease and a run journal kept
//! in the cluster need: indices (auto-created, or created hidden with mappings), documents with
//! `_seq_no`/`_primary_term` and optimistic concurrency, near-real-time search, bulk, refresh,
//! index privileges and fault rules. Each test names the Elasticsearch source or YAML REST test
//! (`rest-api-spec/src/yamlRestTest/resources/rest-api-spec/test/...`) it follows.

use reqwest::Method;
use serde_json::{Value, json};

use quiesce_sim::testing::TestCluster;

async fn put(sim: &TestCluster, path: &str, body: Value) -> (u16, Value) {
    let answer = sim.put_json(path, body).await;
    (answer.status.as_u16(), answer.json().clone())
}

async fn search(sim: &TestCluster, path: &str, body: Value) -> Value {
    sim.post_json(path, body).await.ok().clone()
}

/// `create/10_with_id.yml`: the first create is 201 `created` with version 1; a second create
/// of the id is 409 `version_conflict_engine_exception` with `VersionConflictEngineException`'s
/// text (`[<id>]: version conflict, document already exists (current version [<v>])`).
#[tokio::test]
async fn create_is_201_then_409_with_es_text() {
    let sim = TestCluster::empty().await;
    let (status, body) = put(&sim, "/.quiesce/_create/lease", json!({"holder": "a"})).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["_index"], ".quiesce");
    assert_eq!(body["_id"], "lease");
    assert_eq!(body["_version"], 1);
    assert_eq!(body["result"], "created");
    assert_eq!(body["_seq_no"], 0);
    assert_eq!(body["_primary_term"], 1);
    assert_eq!(
        body["_shards"],
        json!({"total": 2, "successful": 1, "failed": 0})
    );
    let answer = sim
        .put_json(
            "/.quiesce/_doc/lease?op_type=create",
            json!({"holder": "b"}),
        )
        .await;
    let error = answer.assert_error(
        409,
        "version_conflict_engine_exception",
        "[lease]: version conflict, document already exists (current version [1])",
    );
    assert_eq!(error["index"], ".quiesce");
    assert_eq!(error["shard"], "0");
    assert!(error["index_uuid"].is_string());
}

/// `index/30_cas.yml` and `delete/20_cas.yml`: `if_seq_no`/`if_primary_term` must match the
/// document's; otherwise 409 with `required seqNo [..], primary term [..]. current document has
/// seqNo [..] and primary term [..]` (`VersionConflictEngineException`), or `. but no document
/// was found` when there is none.
#[tokio::test]
async fn compare_and_set_by_seq_no_and_primary_term() {
    let sim = TestCluster::empty().await;
    let (_, first) = put(&sim, "/runs/_doc/lease", json!({"holder": "a"})).await;
    let seq_no = first["_seq_no"].as_i64().unwrap();
    let (status, renewed) = put(
        &sim,
        &format!("/runs/_doc/lease?if_seq_no={seq_no}&if_primary_term=1"),
        json!({"holder": "a", "renewed": 1}),
    )
    .await;
    assert_eq!(status, 200, "{renewed}");
    assert_eq!(renewed["result"], "updated");
    assert_eq!(renewed["_version"], 2);
    assert_eq!(renewed["_seq_no"], seq_no + 1);
    sim.put_json(
        &format!("/runs/_doc/lease?if_seq_no={seq_no}&if_primary_term=1"),
        json!({"holder": "b"}),
    )
    .await
    .assert_error(
        409,
        "version_conflict_engine_exception",
        &format!(
            "[lease]: version conflict, required seqNo [{seq_no}], primary term [1]. current \
             document has seqNo [{}] and primary term [1]",
            seq_no + 1
        ),
    );
    sim.put_json("/runs/_doc/other?if_seq_no=0&if_primary_term=1", json!({}))
        .await
        .assert_error(
            409,
            "version_conflict_engine_exception",
            "[other]: version conflict, required seqNo [0], primary term [1]. but no document \
             was found",
        );
    sim.delete(&format!(
        "/runs/_doc/lease?if_seq_no={seq_no}&if_primary_term=1"
    ))
    .await
    .assert_envelope(409, "version_conflict_engine_exception");
    let deleted = sim
        .delete(&format!(
            "/runs/_doc/lease?if_seq_no={}&if_primary_term=1",
            seq_no + 1
        ))
        .await;
    assert_eq!(deleted.status, 200_u16, "{}", deleted.text);
    assert_eq!(deleted.json()["result"], "deleted");
    assert_eq!(deleted.json()["_version"], 3);
}

/// `get/10_basic.yml`, `get/80_missing.yml`, `delete/10_basic.yml`: a found document with
/// `_version`, `_seq_no`, `_primary_term`, `found` and `_source`; a missing one 404
/// `{"_index","_id","found":false}`; a missing index 404 `index_not_found_exception`
/// `no such index [<name>]`; deleting a missing document 404 with `result: not_found`.
#[tokio::test]
async fn get_and_delete_found_and_missing() {
    let sim = TestCluster::empty().await;
    put(&sim, "/runs/_doc/1", json!({"run": "r1"})).await;
    let found = sim.get("/runs/_doc/1").await.ok().clone();
    assert_eq!(found["found"], true);
    assert_eq!(found["_source"], json!({"run": "r1"}));
    assert_eq!(found["_version"], 1);
    assert_eq!(found["_seq_no"], 0);
    assert_eq!(found["_primary_term"], 1);
    let missing = sim.get("/runs/_doc/2").await;
    assert_eq!(missing.status, 404_u16);
    assert_eq!(
        missing.json(),
        &json!({"_index": "runs", "_id": "2", "found": false})
    );
    let error = sim
        .get("/nothing/_doc/1")
        .await
        .assert_error(404, "index_not_found_exception", "no such index [nothing]")
        .clone();
    assert_eq!(error["resource.type"], "index_or_alias");
    assert_eq!(error["resource.id"], "nothing");
    assert_eq!(error["index_uuid"], "_na_");
    let gone = sim.delete("/runs/_doc/2").await;
    assert_eq!(gone.status, 404_u16);
    assert_eq!(gone.json()["result"], "not_found");
    sim.delete("/nothing/_doc/1").await.assert_error(
        404,
        "index_not_found_exception",
        "no such index [nothing]",
    );
}

/// `index/60_refresh.yml`: a write without `refresh` is not searchable until a refresh; with
/// `refresh=true` it is at once and the response says `forced_refresh: true`; with `wait_for`
/// the response comes once a refresh showed it. `GET _doc` is realtime all along.
#[tokio::test]
async fn search_is_near_real_time_and_get_is_realtime() {
    let sim = TestCluster::empty().await;
    sim.put_json(
        "/journal",
        json!({"settings": {"index": {"refresh_interval": "-1"}}}),
    )
    .await
    .ok();
    put(&sim, "/journal/_doc/1", json!({"seq": 1})).await;
    let count = |hits: Value| hits["hits"]["total"]["value"].clone();
    assert_eq!(count(search(&sim, "/journal/_search", json!({})).await), 0);
    sim.get("/journal/_doc/1").await.ok();
    let (_, forced) = put(&sim, "/journal/_doc/2?refresh=true", json!({"seq": 2})).await;
    assert_eq!(forced["forced_refresh"], true);
    assert_eq!(count(search(&sim, "/journal/_search", json!({})).await), 2);
    put(&sim, "/journal/_doc/3", json!({"seq": 3})).await;
    sim.post("/journal/_refresh").await.ok();
    assert_eq!(count(search(&sim, "/journal/_search", json!({})).await), 3);

    sim.put_json("/periodic", json!({})).await.ok();
    let (status, waited) = put(&sim, "/periodic/_doc/1?refresh=wait_for", json!({"seq": 1})).await;
    assert_eq!(status, 201);
    assert!(waited.get("forced_refresh").is_none(), "{waited}");
    assert_eq!(count(search(&sim, "/periodic/_search", json!({})).await), 1);
}

/// `search/*.yml` (term, sort, size, from, `search_after`, `hits.total`): the subset a journal
/// reader needs, on keyword and numeric fields.
#[tokio::test]
async fn term_sort_and_search_after() {
    let sim = TestCluster::empty().await;
    sim.put_json(
        "/journal",
        json!({"mappings": {"properties": {"run": {"type": "keyword"}, "seq": {"type": "long"},
                                           "at": {"type": "date"}}}}),
    )
    .await
    .ok();
    let mut bulk = String::new();
    for seq in 1..=5 {
        for run in ["r1", "r2"] {
            bulk.push_str(&format!("{{\"index\":{{\"_id\":\"{run}-{seq}\"}}}}\n"));
            bulk.push_str(&format!(
                "{{\"run\":\"{run}\",\"seq\":{seq},\"at\":\"2024-05-01T00:00:0{seq}Z\"}}\n"
            ));
        }
    }
    let answer = sim
        .send(
            sim.request(Method::POST, "/journal/_bulk?refresh=true")
                .header("content-type", "application/x-ndjson")
                .body(bulk),
        )
        .await;
    assert_eq!(answer.ok()["errors"], false);
    let page = search(
        &sim,
        "/journal/_search",
        json!({"query": {"bool": {"filter": [{"term": {"run": "r1"}}]}},
               "sort": [{"seq": {"order": "desc"}}], "size": 2}),
    )
    .await;
    assert_eq!(page["hits"]["total"], json!({"value": 5, "relation": "eq"}));
    let hits = page["hits"]["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[0]["_id"], "r1-5");
    assert_eq!(hits[0]["sort"], json!([5]));
    assert_eq!(hits[0]["_score"], Value::Null);
    let next = search(
        &sim,
        "/journal/_search",
        json!({"query": {"term": {"run": "r1"}}, "sort": [{"seq": "desc"}], "size": 2,
               "search_after": [4]}),
    )
    .await;
    let ids: Vec<&str> = next["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hit| hit["_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["r1-3", "r1-2"]);
    let by_date = search(
        &sim,
        "/journal/_search?seq_no_primary_term=true",
        json!({"query": {"range": {"at": {"gte": "2024-05-01T00:00:04Z"}}}, "sort": ["at", "run"],
               "_source": ["seq"]}),
    )
    .await;
    let first = &by_date["hits"]["hits"][0];
    assert_eq!(first["_id"], "r1-4");
    assert_eq!(first["_source"], json!({"seq": 4}));
    assert!(first["_seq_no"].is_i64() && first["_primary_term"] == 1);
    assert_eq!(by_date["hits"]["total"]["value"], 4);
}

/// `search/*.yml` with indices options (`IndexNameExpressionResolver`): a missing index is 404
/// unless `ignore_unavailable`; a query outside the subset is a 400 `parsing_exception`
/// (`unknown query [..]` for a name ES does not know either); sorting on a `text` field fails
/// as ES does.
#[tokio::test]
async fn search_errors() {
    let sim = TestCluster::empty().await;
    sim.post_json("/missing/_search", json!({}))
        .await
        .assert_error(404, "index_not_found_exception", "no such index [missing]");
    let empty = search(&sim, "/missing/_search?ignore_unavailable=true", json!({})).await;
    assert_eq!(empty["hits"]["total"]["value"], 0);
    let wild = search(&sim, "/missing*/_search", json!({})).await;
    assert_eq!(wild["hits"]["hits"], json!([]));
    put(&sim, "/runs/_doc/1?refresh=true", json!({"note": "hello"})).await;
    sim.post_json("/runs/_search", json!({"query": {"frobnicate": {}}}))
        .await
        .assert_error(400, "parsing_exception", "unknown query [frobnicate]");
    let answer = sim
        .post_json(
            "/runs/_search",
            json!({"query": {"match": {"note": "hello"}}}),
        )
        .await;
    let error = answer.assert_envelope(400, "parsing_exception");
    assert!(
        error["reason"]
            .as_str()
            .unwrap()
            .contains("not supported by quiesce-sim")
    );
    let answer = sim
        .post_json("/runs/_search", json!({"sort": ["note"]}))
        .await;
    let error = answer.assert_envelope(400, "search_phase_execution_exception");
    assert_eq!(error["caused_by"]["type"], "illegal_argument_exception");
    assert!(
        error["caused_by"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("Fielddata is disabled on [note] in [runs].")
    );
}

/// `bulk/10_basic.yml`, `bulk/30_big_string.yml`-style per-item results: each item has its own
/// `status`, a failing item an `error` (here a create conflict), `errors: true` overall; the
/// whole request is still 200.
#[tokio::test]
async fn bulk_items_fail_one_by_one() {
    let sim = TestCluster::empty().await;
    let body = "{\"create\":{\"_index\":\"runs\",\"_id\":\"1\"}}\n{\"a\":1}\n\
                {\"create\":{\"_index\":\"runs\",\"_id\":\"1\"}}\n{\"a\":2}\n\
                {\"delete\":{\"_index\":\"runs\",\"_id\":\"9\"}}\n\
                {\"index\":{\"_index\":\"runs\"}}\n{\"a\":3}\n";
    let answer = sim
        .send(
            sim.request(Method::POST, "/_bulk")
                .header("content-type", "application/x-ndjson")
                .body(body),
        )
        .await;
    let result = answer.ok();
    assert_eq!(result["errors"], true);
    let items = result["items"].as_array().unwrap();
    assert_eq!(items[0]["create"]["status"], 201);
    assert_eq!(items[1]["create"]["status"], 409);
    assert_eq!(
        items[1]["create"]["error"]["type"],
        "version_conflict_engine_exception"
    );
    assert_eq!(
        items[1]["create"]["error"]["reason"],
        "[1]: version conflict, document already exists (current version [1])"
    );
    assert_eq!(items[2]["delete"]["status"], 404);
    assert_eq!(items[2]["delete"]["result"], "not_found");
    assert_eq!(items[3]["index"]["status"], 201);
    assert_eq!(items[3]["index"]["_id"].as_str().unwrap().len(), 20);
    let unterminated = sim
        .send(
            sim.request(Method::POST, "/_bulk")
                .header("content-type", "application/x-ndjson")
                .body("{\"delete\":{\"_index\":\"runs\",\"_id\":\"1\"}}"),
        )
        .await;
    unterminated.assert_error(
        400,
        "illegal_argument_exception",
        "The bulk request must be terminated by a newline [\\n]",
    );
}

/// `indices.create/10_basic.yml`, `indices.exists/10_basic.yml` and
/// `MetadataCreateIndexService.validateIndexName`: an explicit create with `index.hidden`,
/// `GET`/`HEAD /<index>`, the 400 for one that exists, ES's invalid-name texts; a hidden index
/// is left out of `*` but found by name and by a `.`-pattern.
#[tokio::test]
async fn indices_are_created_checked_and_hidden() {
    let sim = TestCluster::empty().await;
    let created = sim
        .put_json(
            "/.quiesce",
            json!({"settings": {"index": {"hidden": true}},
                                      "mappings": {"properties": {"run": {"type": "keyword"}}}}),
        )
        .await;
    assert_eq!(
        created.ok(),
        &json!({"acknowledged": true, "shards_acknowledged": true, "index": ".quiesce"})
    );
    let described = sim.get("/.quiesce").await.ok().clone();
    assert_eq!(described[".quiesce"]["settings"]["index"]["hidden"], "true");
    assert_eq!(
        described[".quiesce"]["mappings"]["properties"]["run"]["type"],
        "keyword"
    );
    let head = sim.send(sim.request(Method::HEAD, "/.quiesce")).await;
    assert_eq!(head.status, 200_u16);
    let head = sim.send(sim.request(Method::HEAD, "/nope")).await;
    assert_eq!(head.status, 404_u16);
    let again = sim.put_json("/.quiesce", json!({})).await;
    let error = again.assert_envelope(400, "resource_already_exists_exception");
    assert!(
        error["reason"]
            .as_str()
            .unwrap()
            .starts_with("index [.quiesce/")
    );
    sim.put_json("/Quiesce", json!({})).await.assert_error(
        400,
        "invalid_index_name_exception",
        "Invalid index name [Quiesce], must be lowercase",
    );
    sim.put_json("/_runs/_doc/1", json!({})).await.assert_error(
        400,
        "invalid_index_name_exception",
        "Invalid index name [_runs], must not start with '_', '-', or '+'",
    );
    put(&sim, "/.quiesce/_doc/1?refresh=true", json!({"run": "r"})).await;
    put(&sim, "/visible/_doc/1?refresh=true", json!({"run": "r"})).await;
    let all = search(&sim, "/*/_search", json!({})).await;
    assert_eq!(all["hits"]["total"]["value"], 1);
    let dotted = search(&sim, "/.q*/_search", json!({})).await;
    assert_eq!(dotted["hits"]["total"]["value"], 1);
    let hidden = search(&sim, "/*/_search?expand_wildcards=all", json!({})).await;
    assert_eq!(hidden["hits"]["total"]["value"], 2);
}

/// `AuthorizationDenialMessages` with the `on indices [..]` context, and
/// `security/authz/*` YAML tests: a role's `indices` grant index actions; a missing one is a 403
/// naming the index privileges that grant it; `_has_privileges` answers the `index` section.
#[tokio::test]
async fn index_privileges_come_from_roles() {
    let sim = TestCluster::with_seed(
        "security:
  roles:
    runner:
      cluster: [manage_ml]
      indices: [{names: ['.quiesce*'], privileges: [read, write, create_index]}]
    reader:
      indices: [{names: ['.quiesce*'], privileges: [read]}]
  users:
    - {username: runner, password: runner-pw, roles: [runner]}
    - {username: reader, password: reader-pw, roles: [reader]}
",
    )
    .await;
    let as_user = |method: Method, path: &str, user: &str| {
        sim.request(method, path)
            .basic_auth(user, Some(format!("{user}-pw")))
    };
    let written = sim
        .send(
            as_user(Method::PUT, "/.quiesce/_doc/lease?refresh=true", "runner")
                .json(&json!({"a": 1})),
        )
        .await;
    assert_eq!(written.status, 201_u16, "{}", written.text);
    let denied = sim
        .send(as_user(Method::PUT, "/.quiesce/_doc/lease", "reader").json(&json!({"a": 2})))
        .await;
    denied.assert_error(
        403,
        "security_exception",
        "action [indices:data/write/index] is unauthorized for user [reader] with effective roles \
         [reader] on indices [.quiesce], this action is granted by the index privileges \
         [create_doc,create,index,write,all]",
    );
    let elsewhere = sim
        .send(as_user(Method::PUT, "/other/_doc/1", "runner").json(&json!({"a": 1})))
        .await;
    elsewhere.assert_error(
        403,
        "security_exception",
        "action [indices:admin/auto_create] is unauthorized for user [runner] with effective \
         roles [runner] on indices [other], this action is granted by the index privileges \
         [auto_configure,create_index,manage,all]",
    );
    let read = sim
        .send(as_user(Method::POST, "/.quiesce/_search", "reader").json(&json!({})))
        .await;
    assert_eq!(read.ok()["hits"]["total"]["value"], 1);
    let answer = sim
        .send(as_user(Method::POST, "/_security/user/_has_privileges", "runner").json(&json!({
            "cluster": ["manage_ml"],
            "index": [{"names": [".quiesce"], "privileges": ["read", "index", "create_index", "delete_index"]}],
        })))
        .await;
    let body = answer.ok();
    assert_eq!(
        body["index"][".quiesce"],
        json!({"read": true, "index": true, "create_index": true, "delete_index": false})
    );
    assert_eq!(body["has_all_requested"], false);
}

/// The simulator's fault rules (crates/quiesce-sim/README.md "Fault rules") reach the document
/// endpoints: a runner's tests can make a journal write fail mid-run.
#[tokio::test]
async fn fault_rules_apply_to_document_writes() {
    let sim = TestCluster::empty().await;
    sim.set_faults(json!([{"operation": "index", "target": "runs", "times": 1,
                          "error": {"status": 503}}]))
        .await;
    sim.put_json("/runs/_doc/1", json!({}))
        .await
        .assert_envelope(503, "master_not_discovered_exception");
    let (status, _) = put(&sim, "/runs/_doc/1", json!({})).await;
    assert_eq!(status, 201);
    sim.set_faults(json!([{"operation": "bulk", "times": 1, "error": {"status": 429}}]))
        .await;
    sim.send(
        sim.request(Method::POST, "/_bulk")
            .body("{\"delete\":{\"_index\":\"runs\",\"_id\":\"1\"}}\n"),
    )
    .await
    .assert_envelope(429, "es_rejected_execution_exception");
    sim.set_faults(json!([{"operation": "search", "times": 1, "drop": true}]))
        .await;
    let dropped = sim
        .try_send(sim.request(Method::POST, "/runs/_search").json(&json!({})))
        .await;
    assert!(dropped.is_err());
}
