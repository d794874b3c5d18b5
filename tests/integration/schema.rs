//! `quiesce schema`: the committed schemas are what the types generate, every workflow matches
//! the playbook schema and every seed the seed schema (validated with the `jsonschema` crate as
//! draft 07, the version editors' YAML language server reads), and the schema refuses what the
//! loader refuses.

use std::path::Path;

use serde_json::Value;

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

/// The committed schema as a draft-07 validator (the `jsonschema` crate; the schema itself is
/// checked against the draft-07 meta-schema first).
fn validator(schema: &Value) -> jsonschema::Validator {
    assert!(
        jsonschema::draft7::meta::is_valid(schema),
        "the schema is not a valid draft-07 schema"
    );
    jsonschema::draft7::new(schema).expect("the schema compiles")
}

/// Every way `value` breaks the schema, as `pointer: message` lines.
fn errors(validator: &jsonschema::Validator, value: &Value) -> Vec<String> {
    validator
        .iter_errors(value)
        .map(|error| format!("{}: {error}", error.instance_path()))
        .collect()
}

#[test]
fn every_workflow_matches_the_schema() {
    let validator = validator(&committed());
    for path in workflows() {
        let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(&path);
        let value = yaml_to_json(&std::fs::read_to_string(full).expect("readable"));
        let errors = errors(&validator, &value);
        assert!(errors.is_empty(), "{path}: {errors:#?}");
    }
}

#[test]
fn every_seed_matches_the_seed_schema() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("schemas/sim-seed.schema.json")).expect("seed schema"),
    )
    .expect("JSON");
    let validator = validator(&schema);
    let mut seen = 0;
    for entry in std::fs::read_dir(root.join("seeds")).expect("seeds/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let value = yaml_to_json(&std::fs::read_to_string(&path).expect("readable"));
            let errors = errors(&validator, &value);
            assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
            seen += 1;
        }
    }
    assert!(seen > 0, "no seed in seeds/");
}

#[test]
fn the_schema_rejects_what_the_format_forbids() {
    let validator = validator(&committed());
    // Each case: a playbook the loader refuses, and the JSON pointer the schema must blame.
    let cases = [
        ("jobs: [{id: a, state: closed}]", ""),
        ("version: 2", "/version"),
        ("version: 1\nnmae: x", ""),
        ("version: 1\njobs: [{id: a, state: close}]", "/jobs/0"),
        ("version: 1\njobs: [{id: Web, state: closed}]", "/jobs/0"),
        (
            "version: 1\njobs: [{id: a, match: b, state: closed}]",
            "/jobs/0",
        ),
        ("version: 1\njobs: [{state: closed}]", "/jobs/0"),
        (
            "version: 1\ncluster: {api_key: hunter2}",
            "/cluster/api_key",
        ),
        (
            "version: 1\nsettings: {step_timeout: 10x}",
            "/settings/step_timeout",
        ),
        (
            "version: 1\nsettings: {require_match: 1}",
            "/settings/require_match",
        ),
        ("version: 1\njobs: {id: a}", "/jobs"),
    ];
    for (yaml, pointer) in cases {
        let value = yaml_to_json(yaml);
        let blamed: Vec<String> = validator
            .iter_errors(&value)
            .map(|error| error.instance_path().to_string())
            .collect();
        // The schema may blame the value itself, something inside it, or (through an
        // `anyOf` of an optional section) the section that holds it, never just the root.
        let near = |p: &str| {
            p == pointer
                || p.starts_with(&format!("{pointer}/"))
                || (!p.is_empty() && pointer.starts_with(&format!("{p}/")))
        };
        assert!(
            blamed.iter().any(|p| near(p)),
            "{yaml}: expected an error at `{pointer}`, got {:#?}",
            errors(&validator, &value)
        );
    }
    let fine = yaml_to_json("version: 1\njobs: [{match: \"prod-*\", state: closed, after: [x]}]");
    assert_eq!(errors(&validator, &fine), Vec::<String>::new());
}
