//! docs/elasticsearch-ml-api.md §13: calendars and scheduled events, written from
//! Elasticsearch's YAML REST test `x-pack/plugin/src/yamlRestTest/resources/rest-api-spec/test/ml/calendar_crud.yml`
//! and the classes it exercises (`PutCalendarAction`, `Calendar`, `TransportGetCalendarsAction`,
//! `CalendarQueryBuilder`, `JobResultsProvider.updateCalendar`, `PostCalendarEventsAction`,
//! `ScheduledEvent`, `TransportGetCalendarEventsAction`, `ScheduledEventsQueryBuilder`,
//! `TransportDeleteCalendarEventAction`, `TransportDeleteCalendarAction`). Each test names the
//! case it follows.

use reqwest::Method;
use serde_json::{Value, json};

use quiesce_sim::testing::TestCluster;

const JOBS: &str = "
jobs:
  - {id: cal-job}
  - {id: cal-job2, groups: [holiday-group]}
";

fn calendar_ids(listing: &Value) -> Vec<&str> {
    listing["calendars"]
        .as_array()
        .expect("a calendars array")
        .iter()
        .map(|calendar| calendar["calendar_id"].as_str().expect("an id"))
        .collect()
}

fn descriptions(listing: &Value) -> Vec<&str> {
    listing["events"]
        .as_array()
        .expect("an events array")
        .iter()
        .map(|event| event["description"].as_str().expect("a description"))
        .collect()
}

async fn put_calendar(sim: &TestCluster, id: &str, body: Value) -> Value {
    sim.put_json(&format!("/_ml/calendars/{id}"), body)
        .await
        .ok()
        .clone()
}

fn event(description: &str, start: &str, end: &str) -> Value {
    json!({"description": description, "start_time": start, "end_time": end})
}

async fn post_events(sim: &TestCluster, calendar: &str, events: Value) -> Value {
    sim.post_json(
        &format!("/_ml/calendars/{calendar}/events"),
        json!({ "events": events }),
    )
    .await
    .ok()
    .clone()
}

/// `calendar_crud.yml` "Test calendar CRUD": the response is the calendar, job ids need not be
/// jobs, listings count every calendar, a deleted one is 404 (`TransportGetCalendarsAction`:
/// `No calendar with id [<id>]`), and no stored `type` leaks out.
#[tokio::test]
async fn calendar_crud() {
    let sim = TestCluster::with_seed(JOBS).await;
    assert_eq!(sim.get("/_ml/calendars/_all").await.ok()["count"], 0);
    let created = put_calendar(
        &sim,
        "advent",
        json!({"job_ids": ["cal-job", "cal-job2"], "description": "This is a calendar about..."}),
    )
    .await;
    assert_eq!(
        created,
        json!({"calendar_id": "advent", "job_ids": ["cal-job", "cal-job2"],
               "description": "This is a calendar about..."})
    );
    let listed = sim.get("/_ml/calendars/advent").await.ok().clone();
    assert_eq!(listed["count"], 1);
    assert_eq!(listed["calendars"][0], created);
    assert!(listed["calendars"][0].get("type").is_none());

    put_calendar(&sim, "dogs_of_the_year", json!({"job_ids": ["cal-job"]})).await;
    let empty = sim
        .call(Method::PUT, "/_ml/calendars/cats_of_the_year", None)
        .await;
    assert_eq!(
        empty.ok(),
        &json!({"calendar_id": "cats_of_the_year", "job_ids": []})
    );
    assert_eq!(sim.get("/_ml/calendars").await.ok()["count"], 3);

    assert_eq!(
        sim.delete("/_ml/calendars/dogs_of_the_year").await.ok(),
        &json!({"acknowledged": true})
    );
    let all = sim.get("/_ml/calendars/_all").await.ok().clone();
    assert_eq!(all["count"], 2);
    assert_eq!(calendar_ids(&all), ["advent", "cats_of_the_year"]);
    sim.get("/_ml/calendars/dogs_of_the_year")
        .await
        .assert_error(
            404,
            "resource_not_found_exception",
            "No calendar with id [dogs_of_the_year]",
        );
    sim.delete("/_ml/calendars/dogs_of_the_year")
        .await
        .assert_error(
            404,
            "resource_not_found_exception",
            "No calendar with id [dogs_of_the_year]",
        );
}

/// `calendar_crud.yml` "Test put calendar given id contains invalid chars", "Test cannot create
/// calendar with name _all", "Test cannot overwrite an exisiting calendar";
/// `PutCalendarAction.Request.validate` words each problem, `TransportPutCalendarAction` the
/// duplicate, `parseRequest` a body id that differs from the URL's.
#[tokio::test]
async fn calendar_ids_are_validated() {
    let sim = TestCluster::empty().await;
    let invalid = "Invalid calendar_id; 'Mayas' can contain lowercase alphanumeric (a-z and 0-9), \
                   hyphens or underscores; must start and end with alphanumeric";
    sim.call(Method::PUT, "/_ml/calendars/Mayas", None)
        .await
        .assert_error(
            400,
            "action_request_validation_exception",
            &format!("Validation Failed: 1: {invalid};"),
        );
    sim.call(Method::PUT, "/_ml/calendars/_all", None)
        .await
        .assert_error(
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: Cannot create a Calendar with the reserved name [_all];2: \
             Invalid calendar_id; '_all' can contain lowercase alphanumeric (a-z and 0-9), \
             hyphens or underscores; must start and end with alphanumeric;",
        );
    let long = "a".repeat(65);
    sim.call(Method::PUT, &format!("/_ml/calendars/{long}"), None)
        .await
        .assert_error(
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: The job id cannot contain more than 64 characters.;",
        );
    put_calendar(&sim, "mayan", json!({})).await;
    sim.call(Method::PUT, "/_ml/calendars/mayan", None)
        .await
        .assert_error(
            400,
            "status_exception",
            "Cannot create calendar with id [mayan] as it already exists",
        );
    sim.put_json("/_ml/calendars/aztec", json!({"calendar_id": "inca"}))
        .await
        .assert_error(
            400,
            "illegal_argument_exception",
            "Inconsistent calendar_id; 'inca' specified in the body differs from 'aztec' \
             specified as a URL argument",
        );
    sim.put_json("/_ml/calendars/aztec", json!({"jobs": ["a"]}))
        .await
        .assert_error(
            400,
            "x_content_parse_exception",
            "[1:2] [calendar_id] unknown field [jobs]",
        );
}

/// `calendar_crud.yml` "Test `PageParams`" and "Test `PageParams` with ID is invalid"; the 8.x
/// `TransportGetCalendarsAction` expands ids, lists and wildcards (`CalendarQueryBuilder`),
/// sorted by id, and answers 404 only when nothing matches.
#[tokio::test]
async fn listing_pages_and_expands_ids() {
    let sim = TestCluster::empty().await;
    for id in ["calendar1", "calendar2", "calendar3", "other"] {
        put_calendar(&sim, id, json!({})).await;
    }
    let from = sim.get("/_ml/calendars?from=2").await.ok().clone();
    assert_eq!(from["count"], 4);
    assert_eq!(calendar_ids(&from), ["calendar3", "other"]);
    let window = sim.get("/_ml/calendars?from=1&size=1").await.ok().clone();
    assert_eq!(calendar_ids(&window), ["calendar2"]);
    let body = sim
        .call(
            Method::GET,
            "/_ml/calendars",
            Some(json!({"page": {"from": 1, "size": 2}})),
        )
        .await;
    assert_eq!(calendar_ids(body.ok()), ["calendar2", "calendar3"]);
    sim.get("/_ml/calendars/tides?size=10").await.assert_error(
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: Params [from, size] are incompatible with [calendar_id].;",
    );

    let wildcard = sim.get("/_ml/calendars/calendar*").await.ok().clone();
    assert_eq!(wildcard["count"], 3);
    let list = sim.get("/_ml/calendars/other,calendar1,missing").await;
    assert_eq!(calendar_ids(list.ok()), ["calendar1", "other"]);
    sim.get("/_ml/calendars/missing-*,none").await.assert_error(
        404,
        "resource_not_found_exception",
        "No calendar with id [missing-*,none]",
    );
    sim.get("/_ml/calendars?from=-1").await.assert_error(
        400,
        "illegal_argument_exception",
        "Parameter [from] cannot be < 0",
    );
}

/// `calendar_crud.yml` "Test update calendar job ids", "Test list of job Ids", "Test delete job
/// from non existing calendar" and "Test calendar actions with new job group":
/// `JobResultsProvider.updateCalendar` checks every removal first, accepts any id (a job, a
/// group or neither), and rebuilds `job_ids` from a Java `HashSet`, so they come out in its
/// order (buckets of `String.hashCode`), not sorted nor as given.
#[tokio::test]
async fn jobs_are_added_and_removed() {
    let sim = TestCluster::with_seed(JOBS).await;
    put_calendar(&sim, "wildlife", json!({})).await;
    let added = sim
        .call(Method::PUT, "/_ml/calendars/wildlife/jobs/tiger", None)
        .await;
    assert_eq!(
        added.ok(),
        &json!({"calendar_id": "wildlife", "job_ids": ["tiger"]})
    );
    let removed = sim.delete("/_ml/calendars/wildlife/jobs/tiger").await;
    assert_eq!(removed.ok()["job_ids"], json!([]));
    sim.delete("/_ml/calendars/wildlife/jobs/otter")
        .await
        .assert_error(
            400,
            "status_exception",
            "Cannot remove [otter] as it is not present in calendar [wildlife]",
        );
    sim.delete("/_ml/calendars/unknown/jobs/missing_calendar")
        .await
        .assert_error(
            404,
            "resource_not_found_exception",
            "No calendar with id [unknown]",
        );

    put_calendar(&sim, "expression", json!({"job_ids": ["bar-a"]})).await;
    let both = sim
        .call(
            Method::PUT,
            "/_ml/calendars/expression/jobs/foo-a,foo-b",
            None,
        )
        .await;
    // hashCode buckets of a 16-slot table: bar-a 5, foo-b 10, foo-a 11.
    assert_eq!(both.ok()["job_ids"], json!(["bar-a", "foo-b", "foo-a"]));
    let back = sim
        .delete("/_ml/calendars/expression/jobs/foo-a,foo-b")
        .await;
    assert_eq!(back.ok()["job_ids"], json!(["bar-a"]));
}

/// `calendar_crud.yml` "Test calendar get events": events come back sorted by `start_time` then
/// `description` (`ScheduledEventsQueryBuilder`), `start` keeps events that end after it and
/// `end` those that start before it, `from`/`size` page them; `event_id` is generated.
#[tokio::test]
async fn events_are_listed_by_time() {
    let sim = TestCluster::empty().await;
    put_calendar(&sim, "events", json!({})).await;
    post_events(
        &sim,
        "events",
        json!([
            {"description": "event 1", "start_time": "2017-12-01T00:00:00Z",
             "end_time": "2017-12-02T00:00:00Z", "calendar_id": "events"},
            event("event 2", "2017-12-05T00:00:00Z", "2017-12-06T00:00:00Z"),
            event("event 4", "2017-12-12T00:00:00Z", "2017-12-15T00:00:00Z"),
            event("event 3", "2017-12-12T00:00:00Z", "2017-12-13T00:00:00Z"),
        ]),
    )
    .await;
    let all = sim.get("/_ml/calendars/events/events").await.ok().clone();
    assert_eq!(all["count"], 4);
    assert_eq!(
        descriptions(&all),
        ["event 1", "event 2", "event 3", "event 4"]
    );
    assert!(
        all["events"][0]["event_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    assert_eq!(all["events"][0]["start_time"], 1_512_086_400_000_i64);
    assert_eq!(all["events"][0]["calendar_id"], "events");

    let page = sim.get("/_ml/calendars/events/events?from=1&size=2").await;
    assert_eq!(descriptions(page.ok()), ["event 2", "event 3"]);
    let before = sim
        .get("/_ml/calendars/events/events?end=2017-12-12T00:00:00Z")
        .await;
    assert_eq!(descriptions(before.ok()), ["event 1", "event 2"]);
    let after = sim
        .get("/_ml/calendars/events/events?start=2017-12-05T03:00:00Z")
        .await;
    assert_eq!(descriptions(after.ok()), ["event 2", "event 3", "event 4"]);
    let between = sim
        .get("/_ml/calendars/events/events?start=2017-12-02T00:00:00Z&end=2017-12-12T00:00:00Z")
        .await;
    assert_eq!(descriptions(between.ok()), ["event 2"]);
}

/// `PostCalendarEventsAction` and `ScheduledEvent.Builder.build`: the answer is the events as
/// posted (no `event_id`), every event must carry its fields and start before it ends
/// (`Instant.toString` in the text), a body `calendar_id` must be the URL's, the list may not be
/// empty; the calendar must exist (`calendar_crud.yml` "Test post calendar events given empty
/// events"; the `bad_request` for another calendar's id in "Test calendar get events").
#[tokio::test]
async fn posting_events_is_validated() {
    let sim = TestCluster::empty().await;
    put_calendar(&sim, "events-2", json!({})).await;
    let posted = post_events(
        &sim,
        "events-2",
        json!([{"description": "event 21", "start_time": 1_512_172_800_000_i64,
                "end_time": "2017-12-02T05:00:00Z"}]),
    )
    .await;
    assert_eq!(
        posted,
        json!({"events": [{"description": "event 21", "start_time": 1_512_172_800_000_i64,
                           "end_time": 1_512_190_800_000_i64, "calendar_id": "events-2"}]})
    );
    let path = "/_ml/calendars/events-2/events";
    sim.post_json(
        path,
        json!({"events": [{"description": "x", "start_time": "2017-12-02T00:00:00Z",
                           "end_time": "2017-12-03T00:00:00Z", "calendar_id": "events"}]}),
    )
    .await
    .assert_error(
        400,
        "status_exception",
        "Inconsistent calendar_id; 'events' specified in the body differs from 'events-2' \
         specified as a URL argument",
    );
    sim.post_json(
        path,
        json!({"events": [event("x", "2017-12-02T00:00:00Z", "2017-12-01T00:00:00.500Z")]}),
    )
    .await
    .assert_error(
        400,
        "status_exception",
        "Event start time [2017-12-02T00:00:00Z] must come before end time \
         [2017-12-01T00:00:00.500Z]",
    );
    sim.post_json(path, json!({"events": [{"start_time": 1, "end_time": 2}]}))
        .await
        .assert_error(
            400,
            "status_exception",
            "Field [description] cannot be null",
        );
    sim.post_json("/_ml/calendars/foo/events", json!({"events": []}))
        .await
        .assert_error(400, "status_exception", "At least 1 event is required");
    sim.post_json(
        "/_ml/calendars/foo/events",
        json!({"events": [event("x", "2017-12-01T00:00:00Z", "2017-12-02T00:00:00Z")]}),
    )
    .await
    .assert_error(
        404,
        "resource_not_found_exception",
        "No calendar with id [foo]",
    );
}

/// `ScheduledEvent` from 8.16 (PR #112837): events carry `skip_result` and `skip_model_update`
/// (default `true`) and an optional `force_time_shift`; earlier versions refuse these fields.
#[tokio::test]
async fn events_carry_time_shift_settings_from_8_16() {
    let sim = TestCluster::builder().es_version("8.16.0").start().await;
    put_calendar(&sim, "dst", json!({})).await;
    let posted = post_events(
        &sim,
        "dst",
        json!([{"description": "fall back", "start_time": "2024-10-27T01:00:00Z",
                "end_time": "2024-10-27T02:00:00Z", "skip_result": false,
                "force_time_shift": -3600}]),
    )
    .await;
    let event = &posted["events"][0];
    assert_eq!(event["skip_result"], false);
    assert_eq!(event["skip_model_update"], true);
    assert_eq!(event["force_time_shift"], -3600);

    let old = TestCluster::builder().es_version("8.15.0").start().await;
    put_calendar(&old, "dst", json!({})).await;
    let refused = old
        .post_json(
            "/_ml/calendars/dst/events",
            json!({"events": [{"description": "x", "skip_result": false}]}),
        )
        .await;
    let error = refused.assert_envelope(400, "x_content_parse_exception");
    assert!(
        error["caused_by"]["reason"]
            .as_str()
            .is_some_and(|reason| reason.ends_with("[scheduled_event] unknown field [skip_result]")),
        "{}",
        refused.text
    );
}

/// `calendar_crud.yml` "Test get calendar events for job", "... with job groups", "Test get all
/// calendar events", "Test delete calendar deletes events": `job_id` needs `_all`
/// (`GetCalendarEventsAction.Request.validate`), takes the calendars of the job and its groups
/// (or of a group), and a missing job is E1; deleting a calendar deletes its events.
#[tokio::test]
async fn events_are_listed_for_a_job_or_a_group() {
    let sim = TestCluster::with_seed(JOBS).await;
    put_calendar(&sim, "dave-holidays", json!({"job_ids": ["cal-job2"]})).await;
    put_calendar(
        &sim,
        "group-holidays",
        json!({"job_ids": ["holiday-group"]}),
    )
    .await;
    put_calendar(&sim, "not-used-by-job", json!({})).await;
    post_events(
        &sim,
        "dave-holidays",
        json!([
            event("xmas", "2017-12-25T00:00:00Z", "2017-12-26T00:00:00Z"),
            event("ny", "2018-01-01T00:00:00Z", "2018-01-02T00:00:00Z")
        ]),
    )
    .await;
    post_events(
        &sim,
        "group-holidays",
        json!([event("ski", "2018-01-20T00:00:00Z", "2018-01-27T00:00:00Z")]),
    )
    .await;
    post_events(
        &sim,
        "not-used-by-job",
        json!([event(
            "random",
            "2018-01-20T00:00:00Z",
            "2018-01-26T00:00:00Z"
        )]),
    )
    .await;

    sim.get("/_ml/calendars/dave-holidays/events?job_id=cal-job2")
        .await
        .assert_error(
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: If job_id is used calendar_id must be '_all';",
        );
    let job = sim.get("/_ml/calendars/_all/events?job_id=cal-job2").await;
    assert_eq!(job.ok()["count"], 3);
    assert_eq!(descriptions(job.ok()), ["xmas", "ny", "ski"]);
    let later = sim
        .get("/_ml/calendars/_all/events?job_id=cal-job2&start=2018-01-01T00:00:00Z")
        .await;
    assert_eq!(descriptions(later.ok()), ["ny", "ski"]);
    let group = sim
        .get("/_ml/calendars/_all/events?job_id=holiday-group")
        .await;
    assert_eq!(descriptions(group.ok()), ["ski"]);
    let none = sim.get("/_ml/calendars/_all/events?job_id=cal-job").await;
    assert_eq!(none.ok(), &json!({"count": 0, "events": []}));
    sim.get("/_ml/calendars/_all/events?job_id=nobody")
        .await
        .assert_error(
            404,
            "resource_not_found_exception",
            "No known job with id 'nobody'",
        );

    assert_eq!(sim.get("/_ml/calendars/_all/events").await.ok()["count"], 4);
    sim.delete("/_ml/calendars/dave-holidays").await.ok();
    assert_eq!(sim.get("/_ml/calendars/*/events").await.ok()["count"], 2);
    sim.get("/_ml/calendars/dave-holidays/events")
        .await
        .assert_error(
            404,
            "resource_not_found_exception",
            "No calendar with id [dave-holidays]",
        );
}

/// `TransportDeleteCalendarEventAction` (`calendar_crud.yml` "Test calendar get events" and "Test
/// delete event from non existing calendar"): the calendar first (404), then the event (404
/// `No event with id [..]`), which must belong to the calendar (400).
#[tokio::test]
async fn events_are_deleted_from_their_calendar() {
    let sim = TestCluster::empty().await;
    put_calendar(&sim, "events", json!({})).await;
    put_calendar(&sim, "events-2", json!({})).await;
    post_events(
        &sim,
        "events",
        json!([event(
            "event 1",
            "2017-12-01T00:00:00Z",
            "2017-12-02T00:00:00Z"
        )]),
    )
    .await;
    let listed = sim.get("/_ml/calendars/events/events").await.ok().clone();
    let id = listed["events"][0]["event_id"]
        .as_str()
        .expect("an event id")
        .to_owned();
    sim.delete(&format!("/_ml/calendars/events-2/events/{id}"))
        .await
        .assert_error(
            400,
            "status_exception",
            &format!(
                "Event [{id}] has calendar_id [events] which does not match the request \
                 calendar_id [events-2]"
            ),
        );
    sim.delete("/_ml/calendars/unknown/events/event_1")
        .await
        .assert_error(
            404,
            "resource_not_found_exception",
            "No calendar with id [unknown]",
        );
    assert_eq!(
        sim.delete(&format!("/_ml/calendars/events/events/{id}"))
            .await
            .ok(),
        &json!({"acknowledged": true})
    );
    sim.delete("/_ml/calendars/events/events/missing%20event")
        .await
        .assert_error(
            404,
            "resource_not_found_exception",
            "No event with id [missing event]",
        );
    assert_eq!(
        sim.get("/_ml/calendars/events/events").await.ok()["count"],
        0
    );
}

/// `calendar_crud.yml` "Test deleted job is removed from calendar"; calendars are documents apart
/// from the jobs, so a job's config and stats show nothing of them.
#[tokio::test]
async fn a_deleted_job_leaves_its_calendars() {
    let sim = TestCluster::with_seed(
        "
jobs:
  - {id: cal-crud-test-delete}
calendars:
  - id: delete-test
    job_ids: [cal-crud-test-delete, other]
    events:
      - {description: seeded, start_time: '2026-12-24T00:00:00Z', end_time: '2026-12-27T00:00:00Z'}
",
    )
    .await;
    let job = sim.get("/_ml/anomaly_detectors/cal-crud-test-delete").await;
    assert!(!job.text.contains("calendar"), "{}", job.text);
    let stats = sim
        .get("/_ml/anomaly_detectors/cal-crud-test-delete/_stats")
        .await;
    assert!(!stats.text.contains("calendar"), "{}", stats.text);
    let events = sim.get("/_ml/calendars/delete-test/events").await;
    assert_eq!(descriptions(events.ok()), ["seeded"]);

    sim.delete("/_ml/anomaly_detectors/cal-crud-test-delete")
        .await
        .ok();
    let calendar = sim.get("/_ml/calendars/delete-test").await.ok().clone();
    assert_eq!(calendar["calendars"][0]["job_ids"], json!(["other"]));
}

/// docs/elasticsearch-ml-api.md §2.5, §2.15: calendar writes are `cluster:admin/xpack/ml/...`
/// actions (`manage_ml`), refused in upgrade mode (`MlUpgradeModeActionFilter`); reads are
/// `cluster:monitor/xpack/ml/...` (`monitor_ml`) and allowed in upgrade mode.
#[tokio::test]
async fn writes_need_manage_ml_and_stop_in_upgrade_mode() {
    let sim = TestCluster::with_seed(
        "
security:
  users:
    - {username: viewer, password: viewer-pw, roles: [monitor_ml]}
    - {username: admin, password: admin-pw, roles: [manage_ml]}
calendars:
  - {id: planned}
",
    )
    .await;
    let as_user = |method: Method, path: &str, user: &str| {
        sim.request(method, path)
            .basic_auth(user, Some(format!("{user}-pw")))
    };
    let listed = sim
        .send(as_user(
            Method::GET,
            "/_ml/calendars/planned/events",
            "viewer",
        ))
        .await;
    assert_eq!(listed.ok()["count"], 0);
    sim.send(as_user(Method::PUT, "/_ml/calendars/other", "viewer"))
        .await
        .assert_error(
            403,
            "security_exception",
            "action [cluster:admin/xpack/ml/calendars/put] is unauthorized for user [viewer] \
             with effective roles [monitor_ml], this action is granted by the cluster \
             privileges [manage_ml,manage,all]",
        );
    sim.send(as_user(Method::PUT, "/_ml/calendars/other", "admin"))
        .await
        .ok();

    sim.send(as_user(
        Method::POST,
        "/_ml/set_upgrade_mode?enabled=true",
        "admin",
    ))
    .await
    .ok();
    sim.send(as_user(Method::DELETE, "/_ml/calendars/other", "admin"))
        .await
        .assert_error(
            429,
            "status_exception",
            "Cannot perform cluster:admin/xpack/ml/calendars/delete action while upgrade mode \
             is enabled",
        );
    let during = sim
        .send(as_user(Method::GET, "/_ml/calendars", "admin"))
        .await;
    assert_eq!(during.ok()["count"], 2);
}
