//! Every request quiesce can build is checked against Elasticsearch's own REST spec
//! (`vendor/es-rest-api-spec/`): endpoint, path template, method, query parameter names and
//! types, body allowed or required.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use super::*;

fn spec_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vendor/es-rest-api-spec")
}

fn load(name: &str) -> Value {
    let path = spec_dir().join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
    let value: Value = serde_json::from_str(&text).expect("spec is JSON");
    value[name].clone()
}

fn path_matches(template: &str, path: &str) -> bool {
    let template: Vec<&str> = template.split('/').collect();
    let path: Vec<&str> = path.split('/').collect();
    template.len() == path.len()
        && template.iter().zip(&path).all(|(t, p)| {
            if t.starts_with('{') && t.ends_with('}') {
                !p.is_empty()
            } else {
                t == p
            }
        })
}

fn is_es_time(value: &str) -> bool {
    let digits = value.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &value[digits.len()..];
    !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit())
        && ["d", "h", "m", "s", "ms", "micros", "nanos"].contains(&unit)
}

fn check_against_spec(request: &Request) {
    let spec = load(request.endpoint);
    let common = load("_common");
    let paths = spec["url"]["paths"].as_array().expect("paths");
    let matching: Vec<&Value> = paths
        .iter()
        .filter(|p| path_matches(p["path"].as_str().unwrap_or_default(), &request.path))
        .collect();
    assert!(
        !matching.is_empty(),
        "{}: path {} matches no template of the spec",
        request.endpoint,
        request.path
    );
    assert!(
        matching.iter().any(|p| p["methods"]
            .as_array()
            .expect("methods")
            .iter()
            .any(|m| m == request.method.as_str())),
        "{}: method {} not allowed on {}",
        request.endpoint,
        request.method,
        request.path
    );
    for (name, value) in &request.query {
        let param = spec["params"]
            .get(*name)
            .or_else(|| common["params"].get(*name))
            .unwrap_or_else(|| panic!("{}: unknown query parameter `{name}`", request.endpoint));
        match param["type"].as_str() {
            Some("boolean") => assert!(
                value == "true" || value == "false",
                "{}: `{name}={value}` is not a boolean",
                request.endpoint
            ),
            Some("time") => assert!(
                is_es_time(value),
                "{}: `{name}={value}` is not an ES time value",
                request.endpoint
            ),
            _ => {}
        }
    }
    let body = &spec["body"];
    if request.body.is_some() {
        assert!(
            !body.is_null(),
            "{}: the spec allows no body",
            request.endpoint
        );
    } else {
        assert!(
            body["required"] != Value::Bool(true),
            "{}: the spec requires a body",
            request.endpoint
        );
    }
}

#[test]
fn every_request_matches_the_rest_spec() {
    let wait = Duration::from_secs(90);
    let all = [
        root(),
        ml_info(),
        job_stats("_all"),
        job_stats("prod-*,web-latency"),
        datafeed_stats("_all"),
        jobs("_all"),
        datafeeds("_all"),
        stop_datafeed("datafeed-web", Force::No, wait),
        stop_datafeed("datafeed-web", Force::Yes, Duration::from_millis(1500)),
        close_job("web", Force::No, wait),
        close_job("web", Force::Yes, wait),
        open_job("web", wait),
        start_datafeed("datafeed-web", wait),
        set_upgrade_mode(true, wait),
        set_upgrade_mode(false, wait),
        has_privileges(&["manage_ml", "monitor_ml"]),
        model_snapshots("web", 0, 10_000),
        model_snapshot("web", "1575402237"),
        upgrade_model_snapshot("web", "1575402237", wait),
        delete_model_snapshot("web", "1575402237", wait),
        memory_stats(),
        has_privileges_on(
            &["manage_ml"],
            ".quiesce",
            &["create_index", "read", "write"],
        ),
        create_doc(".quiesce", "lease-u1", json!({"kind": "lease"})),
        index_doc(".quiesce", "lease-u1", json!({"kind": "lease"}), None),
        index_doc(
            ".quiesce",
            "lease-u1",
            json!({"kind": "lease"}),
            Some(DocVersion {
                seq_no: 7,
                primary_term: 1,
            }),
        ),
        get_doc(".quiesce", "lease-u1"),
        delete_doc(
            ".quiesce",
            "lease-u1",
            DocVersion {
                seq_no: 8,
                primary_term: 1,
            },
        ),
        search(".quiesce", json!({"query": {"match_all": {}}})),
        get_calendar("quiesce-maintenance"),
        put_calendar("quiesce-maintenance", "maintenance windows"),
        delete_calendar("quiesce-maintenance"),
        put_calendar_jobs("quiesce-maintenance", &["web".into(), "db".into()]),
        delete_calendar_jobs("quiesce-maintenance", &["web".into()]),
        post_calendar_event("quiesce-maintenance", "upgrade", 1_000, 2_000),
        get_calendar_events("quiesce-maintenance", 1000),
        delete_calendar_event("quiesce-maintenance", "LM0zC5oBnU3hvVy0iWnW"),
    ];
    for request in &all {
        check_against_spec(request);
    }
}

/// `bulk.json` and `indices.create.json` are not vendored (vendor/es-rest-api-spec/README.md
/// says why): their shape is checked here against docs/elasticsearch-ml-api.md §11.1, §11.5.
#[test]
fn bulk_and_index_creation_are_what_the_api_page_says() {
    let first = json!({"kind": "journal", "seq": 0});
    let second = json!({"kind": "journal", "seq": 1});
    let bulk = bulk_index(".quiesce", [("r-0", &first), ("r-1", &second)]);
    assert_eq!(
        (bulk.method.clone(), bulk.path.as_str()),
        (Method::POST, "/.quiesce/_bulk")
    );
    assert!(bulk.body.is_none());
    assert_eq!(
        bulk.ndjson.as_deref(),
        Some(
            "{\"index\":{\"_id\":\"r-0\"}}\n{\"kind\":\"journal\",\"seq\":0}\n{\"index\":{\"_id\":\"r-1\"}}\n{\"kind\":\"journal\",\"seq\":1}\n"
        ),
        "NDJSON ending with a newline"
    );
    assert_eq!(bulk.query, [("refresh", "true".to_owned())]);
    let create = create_index(".quiesce", json!({"index": {"hidden": true}}), json!({}));
    assert_eq!(
        (create.method.clone(), create.path.as_str()),
        (Method::PUT, "/.quiesce")
    );
    assert_eq!(
        create.body.as_ref().expect("a body")["settings"]["index"]["hidden"],
        true
    );
}

#[test]
fn compare_and_set_writes_carry_seq_no_and_primary_term() {
    let version = DocVersion {
        seq_no: 12,
        primary_term: 3,
    };
    let write = index_doc(".quiesce", "lease-u1", json!({}), Some(version));
    assert!(write.query.contains(&("if_seq_no", "12".to_owned())));
    assert!(write.query.contains(&("if_primary_term", "3".to_owned())));
    assert!(write.query.contains(&("refresh", "true".to_owned())));
    let plain = index_doc(".quiesce", "lease-u1", json!({}), None);
    assert!(!plain.query.iter().any(|(name, _)| name.starts_with("if_")));
}

#[test]
fn the_spec_check_itself_rejects_what_es_would() {
    let mut bad = close_job("web", Force::No, Duration::from_secs(1));
    bad.query.push(("allow_no_jobs_typo", "true".into()));
    assert!(std::panic::catch_unwind(|| check_against_spec(&bad)).is_err());

    let mut wrong_method = open_job("web", Duration::from_secs(1));
    wrong_method.method = Method::GET;
    assert!(std::panic::catch_unwind(|| check_against_spec(&wrong_method)).is_err());
}

#[test]
fn waiting_requests_carry_the_time_left() {
    // The client waits the time left; Elasticsearch is asked to answer a little before.
    let request = close_job("web", Force::No, Duration::from_secs(600));
    assert_eq!(request.deadline, Some(Duration::from_secs(600)));
    assert_eq!(request.server_wait, Some(Duration::from_secs(595)));
    assert!(request.query.contains(&("timeout", "595s".to_owned())));
    assert!(request.query.contains(&("force", "false".to_owned())));
    let open = open_job("web", Duration::from_secs(5));
    assert_eq!(open.deadline, Some(Duration::from_secs(5)));
    assert_eq!(
        open.body.as_ref().map(|b| b["timeout"].clone()),
        Some(serde_json::json!("4500ms"))
    );
    assert_eq!(job_stats("_all").server_wait, None);
    assert_eq!(job_stats("_all").deadline, None);
}
