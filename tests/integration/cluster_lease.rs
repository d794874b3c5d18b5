//! Issue 13, runs that outlive the machine: the cluster lease and the run journal kept in the
//! cluster, through the real binary against a simulator that outlives it (the test process's),
//! with state directories that come and go as machines do.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::rig::{Rig, answered, stderr};

const SEED: &str = r"
cluster: { name: lease-test, version: 8.15.0 }
latency: { profile: fast }
nodes: { count: 2, memory: 16gb }
jobs:
  - { id: job-a, model_bytes: 1mb, state: opened }
  - { id: job-b, model_bytes: 1mb, state: opened }
  - { id: job-c, model_bytes: 1mb, state: opened }
datafeeds:
  - { id: datafeed-a, job: job-a, state: started }
  - { id: datafeed-b, job: job-b, state: started }
  - { id: datafeed-c, job: job-c, state: started }
";

const SHUTDOWN: &str = "version: 1
name: shutdown
settings:
  concurrency: 2
  step_timeout: 2m
  retry: { attempts: 5, initial_backoff: 10ms, max_backoff: 50ms }
jobs:
  - match: \"*\"
    state: closed
upgrade_mode: enabled
";

/// A diagnostic's words on one line: miette wraps them and draws its margin.
fn flat(text: &str) -> String {
    text.replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// `quiesce ARGS` in `dir` against the rig's simulator, with nothing from the caller's
/// environment that could change it.
fn command(rig: &Rig, dir: &Path, args: &[&str]) -> Command {
    std::fs::create_dir_all(dir).expect("a working directory");
    let mut command = Command::new(env!("CARGO_BIN_EXE_quiesce"));
    command
        .current_dir(dir)
        .args(args)
        .args(["--cluster", &rig.sim.base_url(), "--color", "never"])
        .env_remove("ES_URL")
        .env_remove("ES_CA_CERT")
        .env_remove("ES_API_KEY")
        .env_remove("ES_BEARER_TOKEN")
        .env_remove("ES_USERNAME")
        .env_remove("ES_PASSWORD")
        .env_remove("QUIESCE_STATE_DIR")
        .env_remove("QUIESCE_INDEX")
        .env_remove("QUIESCE_LEASE_TTL")
        .stdin(Stdio::null());
    command
}

/// An `apply` of `playbook` from its own directory (its own state directory: another machine).
fn apply(rig: &Rig, machine: &str, playbook: &str, extra: &[&str]) -> Command {
    let dir = rig.dir.join(machine);
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("playbook.yaml"), playbook).expect("playbook");
    let mut args = vec!["apply", "playbook.yaml", "--yes"];
    args.extend_from_slice(extra);
    command(rig, &dir, &args)
}

async fn output(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().expect("quiesce runs"))
        .await
        .expect("joined")
}

/// Runs `command` with `--output json`; on the first event `trigger` matches, calls `act` on
/// the reader's thread, then kills the process with SIGKILL when `kill`. The events seen and
/// the exit code (`None` when killed).
async fn on_event(
    mut command: Command,
    trigger: impl Fn(&Value) -> bool + Send + 'static,
    act: impl FnOnce() + Send + 'static,
    kill: bool,
) -> (Vec<Value>, Option<i32>) {
    command
        .args(["--output", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = command.spawn().expect("spawns");
    tokio::task::spawn_blocking(move || {
        let out = child.stdout.take().expect("piped");
        let mut events = Vec::new();
        let mut act = Some(act);
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let event: Value = serde_json::from_str(&line).expect("a JSON event");
            let fire = act.is_some() && trigger(&event);
            events.push(event);
            if fire {
                if let Some(act) = act.take() {
                    act();
                }
                if kill {
                    let _ = child.kill();
                    let _ = child.wait();
                    return (events, None);
                }
            }
        }
        let status = child.wait().expect("waits");
        (events, status.code())
    })
    .await
    .expect("joined")
}

fn run_id(events: &[Value]) -> String {
    events
        .iter()
        .find(|e| e["event"] == "run_started")
        .and_then(|e| e["run_id"].as_str())
        .expect("a run_started event")
        .to_owned()
}

/// Every journal line of `run_id` the cluster holds, in order, as the JSON text written.
async fn cluster_lines(rig: &Rig, run_id: &str) -> Vec<(u64, String)> {
    let answer = rig
        .sim
        .post_json(
            "/.quiesce/_search",
            json!({
                "query": { "bool": { "filter": [
                    { "term": { "kind": "journal" } },
                    { "term": { "run_id": run_id } },
                ] } },
                "sort": [{ "seq": "asc" }],
                "size": 10000,
            }),
        )
        .await;
    answer.json()["hits"]["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|hit| {
            (
                hit["_source"]["seq"].as_u64().expect("seq"),
                hit["_source"]["line"].as_str().expect("line").to_owned(),
            )
        })
        .collect()
}

fn local_lines(journal: &Path) -> Vec<(u64, String)> {
    std::fs::read_to_string(journal)
        .expect("the local journal")
        .lines()
        .filter(|line| !line.is_empty())
        .map(|line| {
            let seq = serde_json::from_str::<Value>(line).expect("JSON")["seq"]
                .as_u64()
                .expect("seq");
            (seq, line.to_owned())
        })
        .collect()
}

/// Every job's and datafeed's state, and upgrade mode.
async fn cluster_state(rig: &Rig) -> Value {
    let jobs = rig.get("/_ml/anomaly_detectors/_all/_stats").await;
    let feeds = rig.get("/_ml/datafeeds/_all/_stats").await;
    let info = rig.get("/_ml/info").await;
    let pairs = |list: &Value, key: &str, id: &str| -> Value {
        list[key]
            .as_array()
            .expect("list")
            .iter()
            .map(|item| json!([item[id], item["state"]]))
            .collect()
    };
    json!({
        "jobs": pairs(&jobs, "jobs", "job_id"),
        "datafeeds": pairs(&feeds, "datafeeds", "datafeed_id"),
        "upgrade_mode": info["upgrade_mode"],
    })
}

/// Two applies from different state directories (two CI jobs, two laptops): the one that took
/// the lease runs, the other exits 3 naming it and since when, and changes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn two_applies_from_different_state_directories_one_runs_the_other_exits_3() {
    let rig = Rig::new(SEED).await;
    // The first run holds the lease while the stop of `datafeed-a` hangs, until the test
    // forces it.
    rig.faults(json!([
        { "operation": "stop_datafeed", "target": "datafeed-a", "stuck": true, "times": 1 }
    ]))
    .await;
    let second = Arc::new(Mutex::new(None));
    let seen = Arc::clone(&second);
    let other = apply(&rig, "laptop-2", SHUTDOWN, &[]);
    let handle = tokio::runtime::Handle::current();
    let http = rig.http.clone();
    let force = rig.sim.url("/_ml/datafeeds/datafeed-a/_stop?force=true");
    let (events, code) = on_event(
        apply(&rig, "laptop-1", SHUTDOWN, &[]),
        |e| e["event"] == "step_started" && e["target"] == "datafeed-a",
        move || {
            let mut other = other;
            *seen.lock().expect("lock") = Some(other.output().expect("runs"));
            let answer = handle
                .block_on(http.post(&force).send())
                .expect("the simulator answers");
            assert!(answer.status().is_success(), "{answer:?}");
        },
        false,
    )
    .await;
    assert_eq!(code, Some(0), "{events:#?}");
    let first = run_id(&events);
    let second = second
        .lock()
        .expect("lock")
        .take()
        .expect("the second run ran");
    let text = flat(&stderr(&second));
    assert_eq!(second.status.code(), Some(3), "{text}");
    assert!(
        text.contains("another run holds the cluster lease")
            && text.contains(&format!("(run {first})"))
            && text.contains("since"),
        "{text}"
    );
    assert!(
        !rig.dir.join("laptop-2/.quiesce/runs").exists()
            || std::fs::read_dir(rig.dir.join("laptop-2/.quiesce/runs"))
                .expect("dir")
                .next()
                .is_none(),
        "the refused run left no journal"
    );
    let stats = rig.stats().await;
    assert_eq!(
        stats["requests"]["set_upgrade_mode"]["200"], 1,
        "one run changed the cluster: {stats:#}"
    );
    // Released at the end: the next run takes it at once.
    let next = output(apply(&rig, "laptop-2", SHUTDOWN, &[])).await;
    assert_eq!(next.status.code(), Some(0), "{}", stderr(&next));
}

/// The lost machine: an apply killed with SIGKILL and its state directory deleted; `resume
/// RUN_ID` from another directory fetches the journal from the cluster, takes over the lease the
/// killed run left (naming it) and finishes the run; its directory deleted too, `revert RUN_ID`
/// from a third brings back exactly the state before.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_whose_machine_is_gone_is_resumed_and_reverted_from_another() {
    let rig = Rig::new(SEED).await;
    let before = cluster_state(&rig).await;
    // `job-c`'s close hangs (once), so the run is killed with work left.
    rig.faults(json!([
        { "operation": "close_job", "target": "job-c", "delay": "3s", "times": 1 }
    ]))
    .await;
    let (events, code) = on_event(
        apply(&rig, "pod-1", SHUTDOWN, &["--lease-ttl", "2s"]),
        |e| e["event"] == "step_succeeded" && e["action"] == "close_job" && e["target"] != "job-c",
        || {},
        true,
    )
    .await;
    assert_eq!(code, None, "killed");
    let id = run_id(&events);
    std::fs::remove_dir_all(rig.dir.join("pod-1")).expect("the machine is gone");

    let pod2 = rig.dir.join("pod-2");
    let first = output(command(&rig, &pod2, &["resume", &id, "--yes"])).await;
    let text = flat(&stderr(&first));
    assert!(
        text.contains(&format!(
            "run {id} is not on this machine: fetched its journal"
        )),
        "{text}"
    );
    // The killed run's lease: the resume of that very run takes it over, here at once (its
    // process is dead on this host) or once it expired (from another host).
    assert_eq!(first.status.code(), Some(0), "{text}");
    assert!(
        text.contains("took over the cluster lease")
            && text.contains(&format!("`quiesce apply` (run {id})")),
        "{text}"
    );
    let after = cluster_state(&rig).await;
    assert!(
        after["jobs"]
            .as_array()
            .expect("jobs")
            .iter()
            .all(|job| job[1] == "closed"),
        "{after:#}"
    );
    assert_eq!(after["upgrade_mode"], true, "{after:#}");

    std::fs::remove_dir_all(&pod2).expect("that machine is gone too");
    let reverted = output(command(
        &rig,
        &rig.dir.join("pod-3"),
        &["revert", &id, "--yes"],
    ))
    .await;
    let text = flat(&stderr(&reverted));
    assert_eq!(reverted.status.code(), Some(0), "{text}");
    assert!(text.contains("fetched its journal"), "{text}");
    assert_eq!(cluster_state(&rig).await, before);
    rig.assert_no_ordering_violation().await;

    // A fourth machine, which never saw the revert, does not take the cluster down again.
    std::fs::remove_dir_all(rig.dir.join("pod-3")).expect("gone as well");
    let again = output(command(
        &rig,
        &rig.dir.join("pod-4"),
        &["resume", &id, "--yes"],
    ))
    .await;
    let text = flat(&stderr(&again));
    assert_eq!(again.status.code(), Some(2), "{text}");
    assert!(text.contains("reverted it at"), "{text}");
    assert_eq!(cluster_state(&rig).await, before);

    // Any machine reads the run in full from the cluster: its plan and its resume.
    let shown = output(command(
        &rig,
        &rig.dir.join("pod-5"),
        &["runs", "show", &id, "--output", "json"],
    ))
    .await;
    assert_eq!(shown.status.code(), Some(0), "{}", stderr(&shown));
    let page: Value = serde_json::from_slice(&shown.stdout).expect("JSON");
    assert_eq!(page["segments"].as_array().map(Vec::len), Some(2), "{page}");
    assert_eq!(
        page["journal"],
        format!("index `.quiesce` of {}", rig.sim.base_url()),
        "{page}"
    );
    let unknown = output(command(
        &rig,
        &rig.dir.join("pod-5"),
        &["runs", "show", "20260101T000000Z-0000"],
    ))
    .await;
    let text = flat(&stderr(&unknown));
    assert_eq!(unknown.status.code(), Some(2), "{text}");
    assert!(
        text.contains("no run `20260101T000000Z-0000` in index `.quiesce`"),
        "{text}"
    );
}

/// A lease left by a run that was killed: refused while it lasts (naming the holder and since
/// when), taken over with a warning naming the old holder once it expired.
#[tokio::test(flavor = "multi_thread")]
async fn a_lease_left_by_a_killed_run_is_taken_over_after_it_expires() {
    let rig = Rig::new(SEED).await;
    rig.faults(json!([
        { "operation": "close_job", "target": "job-a", "delay": "60s", "times": 1 }
    ]))
    .await;
    let (events, code) = on_event(
        {
            // The time to live from the environment, as a CronJob's pod spec sets it.
            let mut command = apply(&rig, "node-1", SHUTDOWN, &[]);
            command.env("QUIESCE_LEASE_TTL", "8s");
            command
        },
        |e| e["event"] == "step_started" && e["target"] == "job-a",
        || {},
        true,
    )
    .await;
    assert_eq!(code, None, "killed");
    let dead = run_id(&events);

    let refused = output(apply(&rig, "node-2", SHUTDOWN, &[])).await;
    let text = flat(&stderr(&refused));
    assert_eq!(refused.status.code(), Some(3), "{text}");
    assert!(
        text.contains(&format!("`quiesce apply` (run {dead})"))
            && text.contains("since")
            && text.contains("expires"),
        "{text}"
    );

    let mut next = refused;
    let mut tries = 0;
    while next.status.code() == Some(3) {
        tries += 1;
        assert!(tries < 300, "never taken over: {}", stderr(&next));
        std::thread::sleep(std::time::Duration::from_millis(100));
        next = output(apply(&rig, "node-2", SHUTDOWN, &[])).await;
    }
    let text = flat(&stderr(&next));
    assert_eq!(next.status.code(), Some(0), "{text}");
    assert!(
        text.contains("took over the cluster lease, which expired at")
            && text.contains(&format!("(run {dead})")),
        "{text}"
    );
}

/// The cluster refuses every journal write mid-run: the run goes on (the local journal is the
/// first record), says so once and at the end how many lines wait; the next run from the same
/// state directory writes them, and the cluster's copy is then the local journal line for line.
#[tokio::test(flavor = "multi_thread")]
async fn journal_writes_failing_mid_run_lose_nothing() {
    let rig = Rig::new(SEED).await;
    let handle = tokio::runtime::Handle::current();
    let http = rig.http.clone();
    let faults = rig.sim.url("/_sim/faults");
    let machine = rig.dir.join("ci");
    let stderr_file = rig.dir.join("ci-stderr.txt");
    let mut first = apply(&rig, "ci", SHUTDOWN, &[]);
    first.stderr(std::fs::File::create(&stderr_file).expect("stderr file"));
    let (events, code) = {
        let mut command = first;
        command.args(["--output", "json"]).stdout(Stdio::piped());
        let mut child = command.spawn().expect("spawns");
        tokio::task::spawn_blocking(move || {
            let out = child.stdout.take().expect("piped");
            let mut events = Vec::new();
            let mut armed = false;
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let event: Value = serde_json::from_str(&line).expect("a JSON event");
                if !armed && event["event"] == "step_started" {
                    armed = true;
                    let answer = handle
                        .block_on(
                            http.put(&faults)
                                .json(&json!({ "faults": [
                                    { "operation": "bulk", "error": { "status": 503 } }
                                ] }))
                                .send(),
                        )
                        .expect("the simulator answers");
                    assert!(answer.status().is_success(), "{answer:?}");
                }
                events.push(event);
            }
            (events, child.wait().expect("waits").code())
        })
        .await
        .expect("joined")
    };
    let text = flat(&std::fs::read_to_string(&stderr_file).expect("stderr"));
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("cannot write the run journal to the cluster")
            && text.contains("master_not_discovered_exception"),
        "{text}"
    );
    assert!(
        text.contains("line(s) of the run journal could not be written to the cluster"),
        "{text}"
    );
    let id = run_id(&events);
    let journal = machine.join(format!(".quiesce/runs/{id}.jsonl"));
    let local = local_lines(&journal);
    let mirrored = cluster_lines(&rig, &id).await;
    assert!(
        !mirrored.is_empty() && mirrored.len() < local.len(),
        "the header made it, the rest waits: {} of {}",
        mirrored.len(),
        local.len()
    );
    assert_eq!(
        mirrored[0], local[0],
        "the header is in the cluster before any change"
    );

    rig.faults(json!([])).await;
    let revert = output(command(&rig, &machine, &["revert", &id, "--yes"])).await;
    let text = flat(&stderr(&revert));
    assert_eq!(revert.status.code(), Some(0), "{text}");
    assert!(
        text.contains(&format!(
            "wrote {} journal line(s) of earlier runs",
            local.len() - mirrored.len()
        )),
        "{text}"
    );
    assert_eq!(cluster_lines(&rig, &id).await, local, "nothing was lost");
}

/// Losing the lease mid-run (another runner took it over): no new step starts, the step in
/// flight finishes, the report says why, and the run exits 7, resumable.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_that_loses_its_lease_starts_nothing_new_and_exits_7() {
    let rig = Rig::new(SEED).await;
    rig.faults(json!([
        { "operation": "stop_datafeed", "target": "datafeed-a", "stuck": true, "times": 1 }
    ]))
    .await;
    let uuid = rig.get("/").await["cluster_uuid"]
        .as_str()
        .expect("a cluster uuid")
        .to_owned();
    let lease = rig
        .sim
        .url(&format!("/.quiesce/_doc/lease-{uuid}?refresh=true"));
    let force = rig.sim.url("/_ml/datafeeds/datafeed-a/_stop?force=true");
    let http = rig.http.clone();
    let handle = tokio::runtime::Handle::current();
    let stderr_file = rig.dir.join("lost-stderr.txt");
    let mut command = apply(&rig, "runner-1", SHUTDOWN, &["--lease-ttl", "3s"]);
    command
        .args(["--output", "json"])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr_file).expect("stderr file"));
    let mut child = command.spawn().expect("spawns");
    let (events, code) = tokio::task::spawn_blocking(move || {
        let out = child.stdout.take().expect("piped");
        let mut events: Vec<Value> = Vec::new();
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let event: Value = serde_json::from_str(&line).expect("a JSON event");
            let send = |request: reqwest::RequestBuilder| {
                let answer = handle.block_on(request.send()).expect("an answer");
                assert!(answer.status().is_success(), "{answer:?}");
            };
            if event["event"] == "step_started" && event["target"] == "datafeed-a" {
                // Another runner writes the lease over this one's.
                let now = jiff::Timestamp::now();
                send(http.put(&lease).json(&json!({
                    "kind": "lease", "run_id": "20261130T000000Z-beef", "command": "apply",
                    "host": "ci-pod-9", "pid": 1, "user": "other", "cluster_url": "https://es:9200/",
                    "started_at": now, "renewed_at": now,
                    "expires_at": now + jiff::SignedDuration::from_secs(600),
                })));
            }
            if event["event"] == "run_cancelling" {
                assert_eq!(event["reason"], "lease_lost", "{event}");
                send(http.post(&force));
            }
            events.push(event);
        }
        (events, child.wait().expect("waits").code())
    })
    .await
    .expect("joined");
    let text = flat(&std::fs::read_to_string(&stderr_file).expect("stderr"));
    assert_eq!(code, Some(7), "{text}\n{events:#?}");
    assert!(
        text.contains("lost the cluster lease: `quiesce apply` (run 20261130T000000Z-beef) by other, pid 1 on ci-pod-9")
            && text.contains("run stopped: the cluster lease was lost"),
        "{text}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "step_succeeded" && e["target"] == "datafeed-a"),
        "the step in flight finished: {events:#?}"
    );
    let info = rig.get("/_ml/info").await;
    assert_eq!(info["upgrade_mode"], false, "nothing new started: {info}");
    // The other runner's lease is left alone.
    let holder = rig.get(&format!("/.quiesce/_doc/lease-{uuid}")).await;
    assert_eq!(holder["_source"]["host"], "ci-pod-9", "{holder}");
}

/// The preflight asks for the index privileges the lease and the journal need, and names
/// exactly the ones missing, before any change (exit 3).
#[tokio::test(flavor = "multi_thread")]
async fn missing_index_privileges_are_named_before_any_change() {
    let seed = format!(
        "{SEED}security:\n  roles:\n    journal-reader: {{ indices: [{{ names: ['.quiesce'], privileges: [read] }}] }}\n  users:\n    - {{ username: ops, password: ops-pw-4471, roles: [manage_ml, journal-reader] }}\n"
    );
    let rig = Rig::new(&seed).await;
    let mut command = apply(&rig, "ops", SHUTDOWN, &[]);
    command
        .env("ES_USERNAME", "ops")
        .env("ES_PASSWORD", "ops-pw-4471");
    let refused = output(command).await;
    let text = flat(&stderr(&refused));
    assert_eq!(refused.status.code(), Some(3), "{text}");
    assert!(
        text.contains(
            "user `ops` lacks `create_index` on index `.quiesce`, `write` on index `.quiesce`; nothing was changed"
        ),
        "{text}"
    );
    assert!(!text.contains("ops-pw-4471"));
    let stats = rig.stats().await;
    assert!(
        stats["requests"]["close_job"].is_null() && stats["requests"]["create_index"].is_null(),
        "{stats:#}"
    );
}

/// A lease no renewal reaches before it expires is lost too: another runner may take it from
/// then on, so the run starts nothing new (exit 7), saying why.
#[tokio::test(flavor = "multi_thread")]
async fn a_lease_that_cannot_be_renewed_before_it_expires_is_lost() {
    let rig = Rig::new(SEED).await;
    rig.faults(json!([
        { "operation": "stop_datafeed", "target": "datafeed-a", "stuck": true, "times": 1 }
    ]))
    .await;
    let faults = rig.sim.url("/_sim/faults");
    let force = rig.sim.url("/_ml/datafeeds/datafeed-a/_stop?force=true");
    let http = rig.http.clone();
    let handle = tokio::runtime::Handle::current();
    let stderr_file = rig.dir.join("expired-stderr.txt");
    let mut command = apply(&rig, "runner-1", SHUTDOWN, &["--lease-ttl", "2s"]);
    command
        .args(["--output", "json"])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr_file).expect("stderr file"));
    let mut child = command.spawn().expect("spawns");
    let (events, code) = tokio::task::spawn_blocking(move || {
        let out = child.stdout.take().expect("piped");
        let mut events: Vec<Value> = Vec::new();
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let event: Value = serde_json::from_str(&line).expect("a JSON event");
            let send = |request: reqwest::RequestBuilder| {
                let answer = handle.block_on(request.send()).expect("an answer");
                assert!(answer.status().is_success(), "{answer:?}");
            };
            if event["event"] == "step_started" && event["target"] == "datafeed-a" {
                // From now on every renewal (a write of the lease document) is refused.
                send(http.put(&faults).json(&json!({ "faults": [
                    { "operation": "stop_datafeed", "target": "datafeed-a", "stuck": true, "times": 1 },
                    { "operation": "index", "target": ".quiesce", "error": { "status": 503 } },
                ] })));
            }
            if event["event"] == "run_cancelling" {
                assert_eq!(event["reason"], "lease_lost", "{event}");
                send(http.post(&force));
            }
            events.push(event);
        }
        (events, child.wait().expect("waits").code())
    })
    .await
    .expect("joined");
    let text = flat(&std::fs::read_to_string(&stderr_file).expect("stderr"));
    assert_eq!(code, Some(7), "{text}\n{events:#?}");
    assert!(
        text.contains("lost the cluster lease: no renewal got through before it expired at")
            && text.contains("master_not_discovered_exception"),
        "{text}"
    );
    assert_eq!(rig.get("/_ml/info").await["upgrade_mode"], false);
}

/// `search` requests the simulator answered so far.
async fn searches(rig: &Rig) -> u64 {
    answered(&rig.sim.sim_stats().await, "search")
}

/// A run whose mirror wrote every line marks its journal; the next run from that state
/// directory does not search the cluster for it (a year of cron runs costs nothing), while a
/// journal without the marker, or one that grew since, is checked again.
#[tokio::test(flavor = "multi_thread")]
async fn a_journal_known_whole_in_the_cluster_is_not_searched_again() {
    let rig = Rig::new(SEED).await;
    let first = output(apply(&rig, "cron", SHUTDOWN, &[])).await;
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let runs = rig.dir.join("cron/.quiesce/runs");
    let markers = || -> Vec<PathBuf> {
        std::fs::read_dir(&runs)
            .expect("runs")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "mirrored"))
            .collect()
    };
    assert_eq!(markers().len(), 1, "the first run is marked whole");

    let before = searches(&rig).await;
    let restore =
        "version: 1\njobs:\n  - match: \"*\"\n    state: opened\nupgrade_mode: disabled\n";
    let second = output(apply(&rig, "cron", restore, &["--no-verify"])).await;
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert_eq!(
        searches(&rig).await,
        before,
        "no search for a journal known whole"
    );
    assert_eq!(markers().len(), 2);

    // Without its marker a journal is checked once more (and marked again).
    for marker in markers() {
        std::fs::remove_file(marker).expect("marker removed");
    }
    let third = output(apply(&rig, "cron", SHUTDOWN, &[])).await;
    assert_eq!(third.status.code(), Some(0), "{}", stderr(&third));
    assert_eq!(
        searches(&rig).await,
        before + 2,
        "both earlier journals checked"
    );
    assert_eq!(markers().len(), 3);
}
