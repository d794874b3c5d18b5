//! Tests of `Seed::resolve`: defaults, overrides, the generator and every validation rule.

use std::time::Duration;

use super::*;

fn resolve(yaml: &str) -> Result<ClusterSpec, SeedError> {
    Seed::from_yaml_str(yaml, "seed.yaml")
        .expect("the seed parses")
        .resolve(None, None)
}

fn problems(yaml: &str) -> Vec<SeedProblem> {
    match resolve(yaml) {
        Err(SeedError::Invalid { problems, .. }) => problems,
        other => panic!("expected validation problems, got {other:?}"),
    }
}

fn codes(problems: &[SeedProblem]) -> Vec<String> {
    use miette::Diagnostic;
    problems
        .iter()
        .map(|problem| {
            problem
                .code()
                .map(|code| code.to_string())
                .unwrap_or_default()
        })
        .collect()
}

#[test]
fn default_seed_is_one_empty_fast_node_without_security() {
    let spec = Seed::default().resolve(None, None).unwrap();
    assert_eq!(spec.name, "quiesce-sim");
    assert_eq!(spec.version.to_string(), "8.15.0");
    assert_eq!(spec.nodes.len(), 1);
    assert_eq!(spec.nodes[0].memory_bytes, 16 << 30);
    assert_eq!(spec.nodes[0].id.len(), 22);
    assert_eq!(spec.uuid.len(), 22);
    assert!(spec.security.is_none());
    assert!(spec.jobs.is_empty() && spec.datafeeds.is_empty() && spec.faults.is_empty());
    assert_eq!(spec.latency.open_job, Duration::from_millis(1));
    assert_eq!(spec.latency.lookback, Duration::from_millis(50));
    assert_eq!(spec.persistence.slots, 4);
    assert_eq!(spec.persistence.queue_limit, 64);
}

#[test]
fn identity_is_deterministic_per_cluster_name() {
    let a = resolve("cluster: {name: a}\nnodes: {count: 2}\n").unwrap();
    let again = resolve("cluster: {name: a}\nnodes: {count: 2}\n").unwrap();
    let b = resolve("cluster: {name: b}\nnodes: {count: 2}\n").unwrap();
    assert_eq!((a.uuid.clone(), a.nodes.clone()), (again.uuid, again.nodes));
    assert_ne!(a.uuid, b.uuid);
    assert_ne!(a.nodes[0].id, a.nodes[1].id);
    assert_eq!(a.nodes[1].name, "node-1");
}

#[test]
fn overrides_win_over_the_seed() {
    let seed = Seed::from_yaml_str(
        "cluster: {version: 8.15.0}\nlatency: {profile: realistic, close_job: 2s}\n",
        "s.yaml",
    )
    .unwrap();
    let spec = seed.resolve(None, None).unwrap();
    assert_eq!(spec.latency.open_job, Duration::from_millis(400));
    assert_eq!(spec.latency.close_job, Duration::from_secs(2));
    assert_eq!(spec.latency.persist_bytes_per_sec, 150 << 20);
    let spec = seed
        .resolve(Some(Profile::Fast), Some("7.13.0".parse().unwrap()))
        .unwrap();
    assert_eq!(spec.latency.open_job, Duration::from_millis(1));
    assert_eq!(
        spec.latency.close_job,
        Duration::from_secs(2),
        "explicit values beat the profile"
    );
    assert_eq!(spec.version.to_string(), "7.13.0");
}

#[test]
fn jobs_and_datafeeds_get_their_defaults() {
    let spec = resolve(
        "jobs:\n  - id: web\n    groups: [prod]\n    state: opened\n  - id: batch\n\
         datafeeds:\n  - id: datafeed-web\n    job: web\n    state: started\n\
         \x20 - id: datafeed-batch\n    job: batch\n    end: \"2026-11-01T00:00:00Z\"\n",
    )
    .unwrap();
    let web = &spec.jobs[0];
    assert_eq!(web.state, SeedJobState::Opened);
    assert_eq!(web.model_bytes, 16 << 20);
    assert_eq!(web.model_memory_limit, 1024 << 20);
    assert!(!web.allow_lazy_open);
    assert_eq!(spec.jobs[1].state, SeedJobState::Closed);
    assert_eq!(spec.datafeeds[0].indices, ["web-*"]);
    assert_eq!(spec.datafeeds[0].state, SeedDatafeedState::Started);
    assert_eq!(spec.datafeeds[1].state, SeedDatafeedState::Stopped);
    assert_eq!(
        spec.datafeeds[1].end,
        Some("2026-11-01T00:00:00Z".parse().unwrap())
    );
}

#[test]
fn security_is_on_with_users_and_secrets_stay_hidden() {
    let yaml = "security:\n  users:\n    - {username: admin, password: s3cret, roles: [manage_ml]}\n\
                \x20 api_keys:\n    - {id: k1, key: abc123, roles: [monitor_ml]}\n";
    let spec = resolve(yaml).unwrap();
    assert!(spec.security.is_some());
    let debug = format!("{spec:?}");
    assert!(
        !debug.contains("s3cret") && !debug.contains("abc123"),
        "{debug}"
    );
    assert!(resolve("security: {}\n").unwrap().security.is_none());
}

#[test]
fn every_problem_is_reported_sorted_with_labels() {
    let yaml = "jobs:\n  - id: a\n  - id: Bad_Id\n  - id: a\n    groups: [b]\n  - id: b\n\
                datafeeds:\n  - id: df-x\n    job: nope\n  - id: df-a\n    job: a\n    state: started\n\
                \x20 - id: df-a2\n    job: a\n";
    let found = problems(yaml);
    assert_eq!(
        codes(&found),
        [
            "quiesce::sim::seed::invalid_id",
            "quiesce::sim::seed::duplicate_id",
            "quiesce::sim::seed::group_is_job",
            "quiesce::sim::seed::unknown_job",
            "quiesce::sim::seed::datafeed_job_not_opened",
            "quiesce::sim::seed::second_datafeed",
        ]
    );
    let SeedProblem::DuplicateId { first, again, .. } = &found[1] else {
        panic!("expected the duplicate second");
    };
    assert_eq!(&yaml[first.unwrap().offset()..][..1], "a");
    assert!(again.unwrap().offset() > first.unwrap().offset());
    let SeedProblem::UnknownJob { span, .. } = &found[3] else {
        panic!("expected the unknown job");
    };
    assert_eq!(&yaml[span.unwrap().offset()..][..4], "nope");
}

#[test]
fn id_rules_follow_elasticsearch() {
    let long = "a".repeat(65);
    for bad in [
        "-lead",
        "trail_",
        "UPPER",
        "sp ace",
        "dots.no",
        long.as_str(),
    ] {
        let found = problems(&format!("jobs:\n  - id: \"{bad}\"\n"));
        assert_eq!(codes(&found), ["quiesce::sim::seed::invalid_id"], "{bad}");
    }
    for good in ["a", "0", "web-latency_2", &"a".repeat(64)] {
        assert!(
            resolve(&format!("jobs:\n  - id: \"{good}\"\n")).is_ok(),
            "{good}"
        );
    }
}

#[test]
fn bad_values_and_faults_are_problems() {
    let found = problems(
        "nodes: {count: 0}\npersistence: {slots: 0}\nlatency: {persist_rate: 0}\n\
         faults:\n  - {operation: close_job}\n",
    );
    assert_eq!(
        codes(&found),
        [
            "quiesce::sim::seed::value",
            "quiesce::sim::seed::value",
            "quiesce::sim::seed::value",
            "quiesce::sim::faults::effect",
        ]
    );
}

#[test]
fn duplicate_credentials_are_problems() {
    let found = problems(
        "security:\n  users:\n    - {username: u, password: a}\n    - {username: u, password: b}\n",
    );
    assert_eq!(codes(&found), ["quiesce::sim::seed::duplicate_credential"]);
}

#[test]
fn generator_is_deterministic_and_follows_its_fractions() {
    let yaml = "nodes: {count: 64, memory: 64gb}\ngenerate:\n  seed: 42\n  jobs: 2000\n  groups: [a, b, c]\n  with_datafeed: 0.9\n\
                \x20 opened: 0.85\n  started: 0.8\n  model_bytes: {min: 1mb, max: 2gb}\n";
    let spec = resolve(yaml).unwrap();
    assert_eq!(spec.jobs, resolve(yaml).unwrap().jobs);
    assert_eq!(spec.jobs.len(), 2000);
    assert_eq!(spec.jobs[0].id, "gen-00001");
    assert_eq!(spec.jobs[0].groups, ["a"]);
    assert_eq!(spec.jobs[4].groups, ["b"]);
    let share = |count: usize| count as f64 / 2000.0;
    let opened = spec
        .jobs
        .iter()
        .filter(|job| job.state == SeedJobState::Opened)
        .count();
    assert!((0.82..0.88).contains(&share(opened)), "opened {opened}");
    assert!((0.87..0.93).contains(&share(spec.datafeeds.len())));
    let started = spec
        .datafeeds
        .iter()
        .filter(|df| df.state == SeedDatafeedState::Started)
        .count();
    // 0.9 with a datafeed × 0.85 opened × 0.8 started ≈ 0.61
    assert!((0.57..0.65).contains(&share(started)), "started {started}");
    assert!(
        spec.jobs
            .iter()
            .all(|job| (1 << 20..=2 << 30).contains(&job.model_bytes))
    );
    assert!(
        spec.jobs
            .iter()
            .all(|job| job.model_memory_limit >= job.model_bytes)
    );
    let other = resolve(&yaml.replace("seed: 42", "seed: 43")).unwrap();
    assert_ne!(spec.jobs, other.jobs);
}

#[test]
fn generated_ids_clash_with_explicit_ones() {
    let found = problems("jobs:\n  - id: gen-00001\ngenerate: {jobs: 1}\n");
    assert_eq!(codes(&found), ["quiesce::sim::seed::duplicate_id"]);
}

#[test]
fn generator_refuses_bad_fractions_and_ranges() {
    let found = problems("generate: {jobs: 1, started: 1.5}\n");
    assert_eq!(codes(&found), ["quiesce::sim::seed::value"]);
    let found = problems("generate: {jobs: 1, model_bytes: {min: 2gb, max: 1mb}}\n");
    assert_eq!(codes(&found), ["quiesce::sim::seed::value"]);
    let found = problems("generate: {jobs: 4000000000}\n");
    assert_eq!(codes(&found), ["quiesce::sim::seed::value"]);
}

#[test]
fn five_thousand_generated_jobs_resolve() {
    // How fast is a figure for `cargo bench --bench startup`, not a test.
    let spec = resolve(
        "nodes: {count: 100, memory: 64gb}\ngenerate: {jobs: 5000, with_datafeed: 0.9, started: 0.8}\n",
    )
    .unwrap();
    assert_eq!(spec.jobs.len(), 5000);
}

#[test]
fn a_seed_opening_more_than_the_nodes_hold_is_refused_with_the_numbers() {
    let jobs: String = (1..=40)
        .map(|n| format!("  - {{id: job-{n:02}, state: opened, model_memory_limit: 1gb}}\n"))
        .collect();
    let found: Vec<String> = problems(&format!("nodes: {{count: 1, memory: 16gb}}\njobs:\n{jobs}"))
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        found,
        [
            "the seed opens 40 job(s) needing 40gb of model memory, but 1 ML node(s) of 16gb hold \
          only 16 of them: job `job-17` (1gb) does not fit"
        ]
    );
    // Failed and closed jobs take no memory; the same jobs on three nodes fit.
    let failed: String = (1..=40)
        .map(|n| format!("  - {{id: job-{n:02}, state: failed}}\n"))
        .collect();
    assert!(resolve(&format!("jobs:\n{failed}")).is_ok());
    assert!(resolve(&format!("nodes: {{count: 3, memory: 16gb}}\njobs:\n{jobs}")).is_ok());
    let generated =
        problems("generate: {jobs: 40, opened: 1.0, model_bytes: {min: 1mb, max: 1mb}}\n");
    assert_eq!(generated.len(), 1, "{generated:?}");
}

#[test]
fn calendars_are_validated_like_es_ids_and_events() {
    let found = problems(
        "
calendars:
  - id: Holidays
  - id: _all
  - id: ok
    events:
      - {description: backwards, start_time: '2026-01-02T00:00:00Z', end_time: '2026-01-01T00:00:00Z'}
  - id: ok
",
    );
    assert_eq!(
        codes(&found),
        [
            "quiesce::sim::seed::invalid_id",
            "quiesce::sim::seed::invalid_id",
            "quiesce::sim::seed::event_order",
            "quiesce::sim::seed::duplicate_id",
        ]
    );
    let spec = resolve(
        "
calendars:
  - id: maintenance
    job_ids: [web, no-such-job]
    events:
      - {description: window, start_time: '2026-01-01T00:00:00Z', end_time: '2026-01-01T04:00:00Z'}
",
    )
    .unwrap();
    assert_eq!(spec.calendars[0].job_ids, ["web", "no-such-job"]);
    assert_eq!(spec.calendars[0].events[0].description, "window");
}
