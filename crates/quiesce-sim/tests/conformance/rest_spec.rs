//! The simulator against Elasticsearch's own description of its HTTP API, the REST API spec
//! files in `vendor/es-rest-api-spec/`: every path template and method of every endpoint it
//! simulates is routed (never the flat 400 `no handler found` or 405 of §1.2), every parameter
//! the endpoint's `params` or `_common.json` declares is accepted (`source` with
//! `source_content_type` as the body in the query), and a query parameter that neither declares
//! is refused with E22 (docs/elasticsearch-ml-api.md §4).
//!
//! Every spec file must be named in [`SIMULATED`] or [`NOT_SIMULATED`], so that adding one
//! forces a decision. The ML endpoints, the calendar endpoints and the document APIs of §11
//! are covered; `bulk`, `indices.create` and `indices.exists` wait for an 8.x copy of their spec
//! (`vendor/es-rest-api-spec/README.md`).

use std::collections::BTreeSet;

use quiesce_sim::testing::TestCluster;
use reqwest::Method;
use serde_json::{Value, json};

const SPEC_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../vendor/es-rest-api-spec");

/// The endpoints the simulator answers.
const SIMULATED: &[&str] = &[
    "create",
    "delete",
    "get",
    "index",
    "indices.get",
    "indices.refresh",
    "info",
    "ml.close_job",
    "ml.delete_calendar",
    "ml.delete_calendar_event",
    "ml.delete_calendar_job",
    "ml.delete_datafeed",
    "ml.delete_job",
    "ml.delete_model_snapshot",
    "ml.get_calendar_events",
    "ml.get_calendars",
    "ml.get_datafeed_stats",
    "ml.get_datafeeds",
    "ml.get_job_stats",
    "ml.get_jobs",
    "ml.get_memory_stats",
    "ml.get_model_snapshots",
    "ml.info",
    "ml.open_job",
    "ml.post_calendar_events",
    "ml.put_calendar",
    "ml.put_calendar_job",
    "ml.put_datafeed",
    "ml.put_job",
    "ml.set_upgrade_mode",
    "ml.start_datafeed",
    "ml.stop_datafeed",
    "ml.upgrade_job_snapshot",
    "search",
    "security.authenticate",
    "security.has_privileges",
];

/// Spec files of endpoints the simulator does not answer, each with the reason why.
const NOT_SIMULATED: &[(&str, &str)] = &[];

/// A parameter no endpoint declares, and far from every declared name (no `did you mean`).
const UNDECLARED: &str = "zzz_undeclared";

/// Security on, so that the security endpoints exist; `admin` may do everything.
const SEED: &str = "
security:
  users:
    - {username: admin, password: admin-pw, roles: [all]}
jobs:
  - {id: j1, state: opened}
datafeeds:
  - {id: df-j1, job: j1}
calendars:
  - {id: cal-1}
";

/// One path template and method of a spec file.
struct Route {
    endpoint: String,
    template: String,
    method: Method,
    params: BTreeSet<String>,
    body_required: bool,
}

impl Route {
    /// The template with every `{part}` filled with an id of [`SEED`].
    fn path(&self) -> String {
        let mut path = self.template.clone();
        for (part, value) in [
            ("{job_id}", "j1"),
            ("{datafeed_id}", "df-j1"),
            ("{snapshot_id}", "1"),
            ("{user}", "admin"),
            ("{calendar_id}", "cal-1"),
            ("{event_id}", "event-1"),
            ("{node_id}", "_all"),
            ("{index}", "journal"),
            ("{id}", "1"),
        ] {
            path = path.replace(part, value);
        }
        assert!(
            !path.contains('{'),
            "{} {}: give its path part a value in rest_spec.rs",
            self.endpoint,
            self.template
        );
        path
    }

    /// A body the endpoint accepts, where it requires one.
    fn body(&self) -> Option<Value> {
        if !self.body_required {
            return None;
        }
        Some(match self.endpoint.as_str() {
            "ml.put_job" => json!({
                "analysis_config": { "detectors": [{ "function": "count" }] },
                "data_description": {},
            }),
            "ml.put_datafeed" => json!({ "job_id": "j1", "indices": ["j1-*"] }),
            "security.has_privileges" => json!({ "cluster": ["manage_ml"] }),
            "index" | "create" => json!({ "run": "r-1" }),
            "ml.post_calendar_events" => json!({ "events": [{
                "description": "window", "start_time": 0, "end_time": 3_600_000,
            }]}),
            other => panic!("{other} requires a body: give one in rest_spec.rs"),
        })
    }
}

fn read_json(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("{} is not JSON: {error}", path.display()))
}

fn names(params: &Value) -> BTreeSet<String> {
    params
        .as_object()
        .map(|params| params.keys().cloned().collect())
        .unwrap_or_default()
}

/// Every spec file but `_common.json`, by endpoint name.
fn spec_files() -> Vec<(String, Value)> {
    let mut files: Vec<(String, Value)> = std::fs::read_dir(SPEC_DIR)
        .unwrap_or_else(|error| panic!("cannot list {SPEC_DIR}: {error}"))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .filter(|path| path.file_name().is_some_and(|name| name != "_common.json"))
        .map(|path| {
            let spec = read_json(&path);
            let (name, endpoint) = spec
                .as_object()
                .and_then(|object| object.iter().next())
                .unwrap_or_else(|| panic!("{} names no endpoint", path.display()));
            (name.clone(), endpoint.clone())
        })
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

/// The routes of the simulated endpoints.
fn simulated_routes() -> Vec<Route> {
    let mut routes = Vec::new();
    for (endpoint, spec) in spec_files() {
        if !SIMULATED.contains(&endpoint.as_str()) {
            continue;
        }
        let paths = spec["url"]["paths"]
            .as_array()
            .unwrap_or_else(|| panic!("{endpoint} has no url.paths"));
        for path in paths {
            let template = path["path"].as_str().expect("a path").to_owned();
            for method in path["methods"].as_array().expect("methods") {
                let method = method.as_str().expect("a method name");
                routes.push(Route {
                    endpoint: endpoint.clone(),
                    template: template.clone(),
                    method: method.parse().expect("an HTTP method"),
                    params: names(&spec["params"]),
                    body_required: spec["body"]["required"] == true,
                });
            }
        }
    }
    routes
}

async fn call(sim: &TestCluster, route: &Route, query: &str) -> quiesce_sim::testing::Answer {
    let mut request = sim
        .request(route.method.clone(), &format!("{}{query}", route.path()))
        .basic_auth("admin", Some("admin-pw"));
    if let Some(body) = route.body() {
        request = request.json(&body);
    }
    sim.send(request).await
}

#[test]
fn every_spec_file_is_simulated_or_says_why_not() {
    let files: BTreeSet<String> = spec_files().into_iter().map(|(name, _)| name).collect();
    let listed: BTreeSet<String> = SIMULATED
        .iter()
        .copied()
        .chain(NOT_SIMULATED.iter().map(|(name, _)| *name))
        .map(str::to_owned)
        .collect();
    let unlisted: Vec<&String> = files.difference(&listed).collect();
    assert!(
        unlisted.is_empty(),
        "spec files in neither SIMULATED nor NOT_SIMULATED: {unlisted:?}"
    );
    let stale: Vec<&String> = listed.difference(&files).collect();
    assert!(stale.is_empty(), "listed without a spec file: {stale:?}");
    for name in SIMULATED {
        assert!(
            !NOT_SIMULATED.iter().any(|(other, _)| other == name),
            "{name} is listed twice"
        );
    }
}

#[tokio::test]
async fn every_path_and_method_of_a_simulated_endpoint_is_routed() {
    let sim = TestCluster::with_seed(SEED).await;
    let routes = simulated_routes();
    assert!(routes.len() >= SIMULATED.len(), "{} routes", routes.len());
    for route in &routes {
        let answer = call(&sim, route, "").await;
        assert!(
            answer.status.as_u16() != 405 && !answer.body["error"].is_string(),
            "{} {} ({}) is not routed: {} {}",
            route.method,
            route.template,
            route.endpoint,
            answer.status,
            answer.text
        );
        answer.assert_product_header().assert_json_content_type();
    }
}

#[tokio::test]
async fn parameters_the_spec_does_not_declare_are_refused() {
    let common = names(&read_json(&std::path::Path::new(SPEC_DIR).join("_common.json"))["params"]);
    assert!(!common.contains(UNDECLARED));
    let sim = TestCluster::with_seed(SEED).await;
    for route in simulated_routes() {
        assert!(!route.params.contains(UNDECLARED), "{}", route.endpoint);
        let path = route.path();
        call(&sim, &route, &format!("?{UNDECLARED}=1"))
            .await
            .assert_error(
                400,
                "illegal_argument_exception",
                &format!("request [{path}] contains unrecognized parameter: [{UNDECLARED}]"),
            );
    }
    assert_eq!(
        sim.sim_stats().await["jobs"],
        json!({ "j1": "opened" }),
        "a refused request changes nothing"
    );
}

/// A value of the spec's `type` for a declared parameter.
fn sample_value(name: &str, spec: &Value) -> String {
    match (name, spec["type"].as_str().unwrap_or("string")) {
        ("source", _) => "{}".to_owned(),
        ("source_content_type", _) => "application/json".to_owned(),
        ("start", _) => "0".to_owned(),
        ("end", _) => "1000".to_owned(),
        (_, "boolean") => "false".to_owned(),
        (_, "time") => "30s".to_owned(),
        (_, "int" | "number") => "1".to_owned(),
        (_, "enum") => spec["options"][0].as_str().unwrap_or("x").to_owned(),
        (_, "list") => "open".to_owned(),
        _ => "timestamp".to_owned(),
    }
}

#[tokio::test]
async fn every_declared_parameter_is_accepted() {
    let common = read_json(&std::path::Path::new(SPEC_DIR).join("_common.json"))["params"].clone();
    let specs: Vec<(String, Value)> = spec_files();
    for route in simulated_routes() {
        let spec = &specs
            .iter()
            .find(|(name, _)| *name == route.endpoint)
            .expect("the route's spec")
            .1;
        let declared = spec["params"]
            .as_object()
            .into_iter()
            .flatten()
            .chain(common.as_object().into_iter().flatten());
        for (name, param) in declared {
            let sim = TestCluster::with_seed(SEED).await;
            let mut query = format!("?{name}={}", sample_value(name, param));
            if name == "source" {
                query.push_str("&source_content_type=application/json");
            }
            let answer = call(&sim, &route, &query).await;
            let reason = answer.body["error"]["reason"].as_str().unwrap_or_default();
            assert!(
                !reason.contains("unrecognized parameter") && answer.status.as_u16() < 500,
                "{} {}{query} ({}): {} {}",
                route.method,
                route.template,
                route.endpoint,
                answer.status,
                answer.text
            );
        }
    }
}

#[tokio::test]
async fn source_is_the_body_given_in_the_query() {
    // RestRequest.contentOrSourceParam: `source` needs `source_content_type`
    // (IllegalStateException otherwise), and is then read as the request body.
    let sim = TestCluster::with_seed(SEED).await;
    let request = |query: &str| {
        sim.request(
            Method::POST,
            &format!("/_ml/anomaly_detectors/j1/_close{query}"),
        )
        .basic_auth("admin", Some("admin-pw"))
    };
    sim.send(request("?source=%7B%22force%22%3Atrue%7D"))
        .await
        .assert_error(
            500,
            "illegal_state_exception",
            "source and source_content_type parameters are required",
        );
    let closed = sim
        .send(request(
            "?source=%7B%22force%22%3Atrue%7D&source_content_type=application%2Fjson",
        ))
        .await;
    assert_eq!(closed.ok(), &json!({"closed": true}));
    sim.send(request(
        "?source=%7B%22bogus%22%3A1%7D&source_content_type=application%2Fjson",
    ))
    .await
    .assert_envelope(400, "x_content_parse_exception");
}
