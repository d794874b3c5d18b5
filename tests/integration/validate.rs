//! `quiesce validate`: one broken fixture per diagnostic kind, snapshotted as rendered; the
//! workflows validate; exit codes and the JSON form.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// Variables the fixtures and workflows rely on being unset.
const UNSET: &[&str] = &[
    "QUIESCE_TEST_UNSET_HOST",
    "QUIESCE_TEST_UNSET_KEY",
    "ES_URL",
    "ES_API_KEY",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the binary from the crate root, so diagnostics show relative paths.
pub(crate) fn quiesce(args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_quiesce"));
    command.args(args).current_dir(root()).env("NO_COLOR", "1");
    for name in UNSET {
        command.env_remove(name);
    }
    command.output().expect("quiesce runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("output is UTF-8")
}

/// `dir`'s `*.yaml` files as paths relative to the crate root, sorted.
pub(crate) fn yaml_files(dir: &str) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(root().join(dir))
        .expect("directory exists")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .map(|path| format!("{dir}/{}", file_name(&path)))
        .collect();
    files.sort();
    files
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .expect("file name")
        .to_string_lossy()
        .into_owned()
}

/// The playbooks in `workflows/`: every YAML file there (seeds live in `seeds/`).
pub(crate) fn workflows() -> Vec<String> {
    yaml_files("workflows")
}

fn json_output(path: &str) -> Value {
    let out = quiesce(&["validate", "--output", "json", path]);
    assert_eq!(out.status.code(), Some(2), "{path} is invalid");
    assert!(out.stderr.is_empty(), "json mode keeps stderr empty");
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON document")
}

#[test]
fn each_fixture_reports_its_own_kind_and_renders_as_snapshotted() {
    let fixtures = yaml_files("tests/fixtures/invalid");
    assert!(fixtures.len() >= 25, "one fixture per kind");
    for path in fixtures {
        let stem = PathBuf::from(&path)
            .file_stem()
            .expect("stem")
            .to_string_lossy()
            .into_owned();
        let kind = stem.split('-').next().expect("kind");
        let code = format!("quiesce::playbook::{kind}");

        let json = json_output(&path);
        let diagnostics = json["files"][0]["diagnostics"]
            .as_array()
            .expect("diagnostics");
        assert!(!diagnostics.is_empty(), "{path}");
        for diagnostic in diagnostics {
            assert_eq!(diagnostic["code"], code.as_str(), "{path}: {diagnostic}");
            assert!(
                !diagnostic["labels"].as_array().expect("labels").is_empty(),
                "{path}: every problem points at the text"
            );
            assert!(
                diagnostic["help"].is_string(),
                "{path}: every problem has help"
            );
        }

        let out = quiesce(&["--color", "never", "validate", &path]);
        assert_eq!(out.status.code(), Some(2), "{path}");
        assert!(out.stdout.is_empty());
        insta::assert_snapshot!(format!("invalid__{stem}"), text(&out.stderr));
    }
}

#[test]
fn every_diagnostic_code_has_a_fixture() {
    let problems =
        std::fs::read_to_string(root().join("src/playbook/problem.rs")).expect("problem.rs");
    let codes = regex::Regex::new(r"code\(quiesce::playbook::(\w+)\)").expect("regex");
    let fixtures = yaml_files("tests/fixtures/invalid");
    let mut kinds: Vec<&str> = codes
        .captures_iter(&problems)
        .map(|c| c.get(1).expect("kind").as_str())
        .collect();
    kinds.dedup();
    assert!(kinds.len() >= 20, "{kinds:?}");
    for kind in kinds {
        let prefix = format!("tests/fixtures/invalid/{kind}");
        assert!(
            fixtures
                .iter()
                .any(|f| f == &format!("{prefix}.yaml") || f.starts_with(&format!("{prefix}-"))),
            "no fixture for `quiesce::playbook::{kind}`"
        );
    }
}

#[test]
fn literal_secrets_never_reach_the_output() {
    let path = "tests/fixtures/invalid/literal_secret.yaml";
    let human = quiesce(&["validate", path]);
    let json = quiesce(&["validate", "--output", "json", path]);
    for output in [&human.stderr, &human.stdout, &json.stdout, &json.stderr] {
        assert!(!text(output).contains("hunter2"), "{}", text(output));
    }
    assert!(text(&human.stderr).contains("literal secret in `password`"));
}

#[test]
fn problems_come_sorted_by_position() {
    let json = json_output("tests/fixtures/invalid/unknown_value.yaml");
    let offsets: Vec<u64> = json["files"][0]["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .map(|d| d["labels"][0]["span"]["offset"].as_u64().expect("offset"))
        .collect();
    assert_eq!(offsets.len(), 4);
    assert!(offsets.is_sorted(), "{offsets:?}");
}

#[test]
fn every_workflow_is_valid() {
    let workflows = workflows();
    assert!(workflows.len() >= 3);
    for path in &workflows {
        let first_line = std::fs::read_to_string(root().join(path))
            .expect("readable")
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned();
        assert_eq!(
            first_line, "# yaml-language-server: $schema=../schemas/playbook.schema.json",
            "{path} starts with the schema modeline"
        );
    }
    let mut args = vec!["validate"];
    args.extend(workflows.iter().map(String::as_str));
    let out = quiesce(&args);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    for path in &workflows {
        assert!(stderr.contains(&format!("✓ {path} is valid")), "{stderr}");
    }
}

#[test]
fn one_invalid_file_makes_the_run_invalid_and_each_file_is_summarised() {
    let out = quiesce(&[
        "validate",
        "workflows/restore.yaml",
        "tests/fixtures/invalid/cycle.yaml",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("✓ workflows/restore.yaml is valid"),
        "{stderr}"
    );
    assert!(
        stderr.contains("✗ 2 problems in tests/fixtures/invalid/cycle.yaml"),
        "{stderr}"
    );
}

#[test]
fn json_output_describes_every_file() {
    let out = quiesce(&[
        "validate",
        "--output",
        "json",
        "workflows/restore.yaml",
        "tests/fixtures/invalid/contradictory_state.yaml",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let json: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    insta::assert_json_snapshot!("json_output", json);
}

#[test]
fn an_unreadable_file_is_invalid_input() {
    let out = quiesce(&["validate", "tests/fixtures/no-such-playbook.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("quiesce::input::read"), "{stderr}");
    assert!(stderr.contains("✗ 1 problem in tests/fixtures/no-such-playbook.yaml"));
}

#[test]
fn variables_expand_from_the_environment() {
    let out = Command::new(env!("CARGO_BIN_EXE_quiesce"))
        .args(["validate", "tests/fixtures/invalid/unset_variable.yaml"])
        .current_dir(root())
        .env("QUIESCE_TEST_UNSET_HOST", "es.example")
        .env("QUIESCE_TEST_UNSET_KEY", "c2VjcmV0")
        .output()
        .expect("quiesce runs");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("c2VjcmV0"));
}

/// A misspelt required key hides nothing else: the bad value elsewhere, the missing key (at the
/// mapping that lacks it) and the unknown key with its "did you mean" come out of one run.
#[test]
fn a_misspelt_required_key_hides_no_other_problem() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("p.yaml");
    std::fs::write(
        &path,
        "version: 1\nsettings:\n  step_timeout: soon\njobs:\n  - id: web-latency\n    stat: closed\n",
    )
    .expect("write");
    let out = quiesce(&["validate", "--output", "json", &path.display().to_string()]);
    assert_eq!(out.status.code(), Some(2));
    let json: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let diagnostics = json["files"][0]["diagnostics"]
        .as_array()
        .expect("diagnostics");
    let found: Vec<(&str, u64)> = diagnostics
        .iter()
        .map(|d| {
            (
                d["code"].as_str().expect("code"),
                d["labels"][0]["line"].as_u64().expect("line"),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("quiesce::playbook::invalid_duration", 3),
            ("quiesce::playbook::missing_key", 5),
            ("quiesce::playbook::unknown_key", 6),
        ]
    );
    assert!(
        diagnostics[2]["help"]
            .as_str()
            .expect("help")
            .starts_with("Did you mean `state`?")
    );
}

/// A simulator seed given to `validate` is named as one, with the command that checks it.
#[test]
fn a_seed_is_not_a_playbook_and_validate_says_so() {
    let out = quiesce(&["validate", "seeds/demo-cluster.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("quiesce::validate::seed"), "{stderr}");
    assert!(
        stderr.contains("is a simulator seed, not a playbook"),
        "{stderr}"
    );
    assert!(
        stderr.contains("quiesce sim --seed seeds/demo-cluster.yaml"),
        "{stderr}"
    );
    assert_eq!(stderr.matches('×').count(), 1, "one diagnostic: {stderr}");
}

/// `validate workflows/*.yaml`, as the README and the CI example run it, passes: no seed there.
#[test]
fn every_yaml_file_in_workflows_is_a_valid_playbook() {
    let mut args = vec!["validate".to_owned()];
    args.extend(yaml_files("workflows"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = quiesce(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// Connection settings whose variables are unset are notes for what contacts nothing, and
/// refusals (exit 2, at the playbook line, before contacting anything) for what contacts the
/// cluster.
#[test]
fn unset_connection_variables_are_notes_offline_and_refusals_online() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("p.yaml");
    std::fs::write(
        &path,
        "version: 1\ncluster:\n  url: ${ES_URL}\n  api_key: ${ES_API_KEY}\njobs:\n  - id: web-latency\n    state: closed\n",
    )
    .expect("write");
    let path = path.display().to_string();
    for args in [
        vec!["validate", &path],
        vec!["plan", &path, "--offline"],
        vec!["graph", &path, "--offline"],
    ] {
        let out = quiesce(&args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(stderr.contains("`ES_API_KEY` is not set"), "{stderr}");
        assert!(stderr.contains("note: "), "{stderr}");
        assert!(
            !stderr.contains("give a default: `${ES_API_KEY"),
            "{stderr}"
        );
    }
    // `plan` contacts the cluster: refused before contacting anything (the port is closed).
    let out = quiesce(&["plan", &path]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("`cluster.url` needs it"), "{stderr}");
    assert!(stderr.contains("`cluster.api_key` needs it"), "{stderr}");
    assert!(stderr.contains("p.yaml:4:12"), "{stderr}");
    // `--cluster` gives the URL; the API key is still missing.
    let out = quiesce(&["plan", &path, "--cluster", "sim:"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("`cluster.url` needs it"), "{stderr}");
    assert!(stderr.contains("`cluster.api_key` needs it"), "{stderr}");
}

/// `validate --output github`: one workflow command per problem at its line and column.
#[test]
fn github_output_is_annotations_on_the_lines() {
    let out = quiesce(&[
        "validate",
        "--output",
        "github",
        "workflows/restore.yaml",
        "tests/fixtures/invalid/contradictory_state.yaml",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0],
        "::error file=tests/fixtures/invalid/contradictory_state.yaml,line=6,col=9,endLine=6,endColumn=29,title=quiesce%3A%3Aplaybook%3A%3Acontradictory_state::datafeed `datafeed-web-latency` is to be started but its job `web-latency` is to be closed%0AA started datafeed needs an opened job: open the job or stop the datafeed."
    );
    assert_eq!(lines[1], "quiesce validate: 2 file(s), 1 valid, 1 invalid");
}

/// The README's example playbook validates as written, with no secret in the environment (a
/// pull-request check has none).
#[test]
fn the_readme_example_playbook_validates_without_its_secret() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    let section = &readme[readme
        .find("## Playbook format")
        .expect("the format section")..];
    let block = &section[section.find("```yaml\n").expect("its example") + 8..];
    let example = &block[..block.find("```").expect("the end of the example")];
    assert!(example.contains("api_key: ${ES_API_KEY}"), "{example}");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("example.yaml");
    std::fs::write(&path, example).expect("write");
    let out = quiesce(&["validate", &path.display().to_string()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("`ES_API_KEY` is not set"),
        "a note: {stderr}"
    );
}
