//! `quiesce schema`: the committed schema is what the types generate, and every workflow
//! matches it. No JSON-Schema crate is in the tree, so a checker for the draft-07 subset the
//! schema uses lives here (type, const, enum, pattern, properties, required,
//! additionalProperties, items, $ref/definitions, allOf/anyOf/oneOf); its own tests show it
//! rejects what it should.

use std::path::Path;

use serde_json::{Map, Value};

use crate::validate::{quiesce, workflows};

const COMMITTED: &str = "schemas/playbook.schema.json";

fn committed() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(COMMITTED);
    serde_json::from_str(&std::fs::read_to_string(path).expect("schema file")).expect("JSON")
}

#[test]
fn committed_schema_matches_the_types() {
    let out = quiesce(&["schema"]);
    assert_eq!(out.status.code(), Some(0));
    let generated = String::from_utf8(out.stdout).expect("UTF-8");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(COMMITTED);
    let on_disk = std::fs::read_to_string(path).expect("schema file");
    assert!(
        generated == on_disk,
        "{COMMITTED} is stale: run `cargo run -- schema > {COMMITTED}` and commit it"
    );
    assert_eq!(
        quiesce(&["schema", "playbook"]).stdout,
        generated.as_bytes()
    );
}

#[test]
fn committed_seed_schema_matches_the_types() {
    const SEED: &str = "schemas/sim-seed.schema.json";
    let out = quiesce(&["schema", "sim-seed"]);
    assert_eq!(out.status.code(), Some(0));
    let on_disk = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(SEED))
        .expect("seed schema file");
    assert!(
        out.stdout == on_disk.as_bytes(),
        "{SEED} is stale: run `cargo run -- schema sim-seed > {SEED}` and commit it"
    );
}

#[test]
fn schema_is_draft_07_with_descriptions() {
    let schema = committed();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    assert!(schema["properties"]["jobs"]["description"].is_string());
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(schema["required"], serde_json::json!(["version"]));
    let duration = &schema["definitions"]["Duration"];
    assert_eq!(duration["type"], "string");
    assert!(duration["pattern"].is_string() && duration["examples"].is_array());
    assert_eq!(schema["definitions"]["Secret"]["type"], "string");
}

/// YAML -> JSON the way an editor sees it (YAML 1.2 booleans).
fn yaml_to_json(text: &str) -> Value {
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    serde_saphyr::from_str_with_options(text, options).expect("YAML")
}

#[test]
fn every_workflow_matches_the_schema() {
    let schema = committed();
    for path in workflows() {
        let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(&path);
        let value = yaml_to_json(&std::fs::read_to_string(full).expect("readable"));
        let errors = check(&schema, &schema, &value, "");
        assert!(errors.is_empty(), "{path}: {errors:#?}");
    }
}

#[test]
fn the_checker_rejects_what_the_schema_forbids() {
    let schema = committed();
    let cases = [
        ("jobs: [{id: a, state: closed}]", "/: missing `version`"),
        ("version: 2", "/version: 2 not in enum"),
        ("version: 1\nnmae: x", "/: unknown property `nmae`"),
        (
            "version: 1\njobs: [{id: a, state: close}]",
            "/jobs/0/state: no oneOf branch matches",
        ),
        (
            "version: 1\njobs: [{id: Web, state: closed}]",
            "/jobs/0/id: does not match",
        ),
        (
            "version: 1\njobs: [{id: a, match: b, state: closed}]",
            "/jobs/0: 2 oneOf branches match",
        ),
        (
            "version: 1\njobs: [{state: closed}]",
            "/jobs/0: no oneOf branch matches",
        ),
        (
            "version: 1\ncluster: {api_key: hunter2}",
            "/cluster/api_key: does not match",
        ),
        (
            "version: 1\nsettings: {step_timeout: 10x}",
            "/settings/step_timeout: does not match",
        ),
        (
            "version: 1\nsettings: {require_match: 1}",
            "/settings/require_match: expected",
        ),
        ("version: 1\njobs: {id: a}", "/jobs: expected [\"array\"]"),
    ];
    for (yaml, expected) in cases {
        let errors = check(&schema, &schema, &yaml_to_json(yaml), "");
        assert!(
            errors.iter().any(|e| e.starts_with(expected)),
            "{yaml}: expected `{expected}` in {errors:#?}"
        );
    }
    let fine = yaml_to_json("version: 1\njobs: [{match: \"prod-*\", state: closed, after: [x]}]");
    assert_eq!(check(&schema, &schema, &fine, ""), Vec::<String>::new());
}

/// Every way `value` at `path` breaks `schema` (draft-07 subset), as `path: reason` lines.
fn check(root: &Value, schema: &Value, value: &Value, path: &str) -> Vec<String> {
    let here = if path.is_empty() { "/" } else { path };
    let Some(schema) = schema.as_object() else {
        return Vec::new();
    };
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference
            .strip_prefix("#/definitions/")
            .expect("local definition");
        return check(root, &root["definitions"][name], value, path);
    }
    let mut errors = Vec::new();
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
            other => other.as_str().into_iter().collect(),
        };
        if !types.iter().any(|t| has_type(value, t)) {
            errors.push(format!("{here}: expected {types:?}, found {value}"));
            return errors;
        }
    }
    if let Some(constant) = schema.get("const")
        && constant != value
    {
        errors.push(format!("{here}: {value} is not {constant}"));
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        errors.push(format!("{here}: {value} not in enum {allowed:?}"));
    }
    if let (Some(pattern), Some(text)) = (
        schema.get("pattern").and_then(Value::as_str),
        value.as_str(),
    ) && !regex::Regex::new(pattern)
        .expect("valid pattern")
        .is_match(text)
    {
        errors.push(format!("{here}: does not match {pattern}"));
    }
    if let Some(object) = value.as_object() {
        check_object(root, schema, object, path, &mut errors);
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            errors.extend(check(root, items, item, &format!("{path}/{i}")));
        }
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for sub in all {
            errors.extend(check(root, sub, value, path));
        }
    }
    if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
        let branches: Vec<Vec<String>> = any.iter().map(|s| check(root, s, value, path)).collect();
        if branches.iter().all(|e| !e.is_empty()) {
            errors.push(format!("{here}: no anyOf branch matches"));
            errors.extend(branches.into_iter().flatten());
        }
    }
    if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
        let branches: Vec<Vec<String>> = one.iter().map(|s| check(root, s, value, path)).collect();
        match branches.iter().filter(|e| e.is_empty()).count() {
            1 => {}
            0 => {
                errors.push(format!("{here}: no oneOf branch matches"));
                errors.extend(branches.into_iter().flatten());
            }
            n => errors.push(format!("{here}: {n} oneOf branches match")),
        }
    }
    errors
}

fn check_object(
    root: &Value,
    schema: &Map<String, Value>,
    object: &Map<String, Value>,
    path: &str,
    errors: &mut Vec<String>,
) {
    let here = if path.is_empty() { "/" } else { path };
    let properties = schema.get("properties").and_then(Value::as_object);
    for required in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = required.as_str().expect("string");
        if !object.contains_key(key) {
            errors.push(format!("{here}: missing `{key}`"));
        }
    }
    for (key, value) in object {
        let child = format!("{path}/{key}");
        match properties.and_then(|p| p.get(key)) {
            Some(sub) => errors.extend(check(root, sub, value, &child)),
            None => match schema.get("additionalProperties") {
                Some(Value::Bool(false)) => {
                    errors.push(format!("{here}: unknown property `{key}`"));
                }
                Some(sub @ Value::Object(_)) => errors.extend(check(root, sub, value, &child)),
                _ => {}
            },
        }
    }
}

fn has_type(value: &Value, name: &str) -> bool {
    match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        _ => false,
    }
}
