use super::*;

fn api(status: u16, error_type: &str, reason: &str) -> Error {
    Error::Api {
        endpoint: "ml.close_job",
        status,
        body: EsErrorBody {
            error_type: error_type.into(),
            reason: reason.into(),
            caused_by: None,
        },
        help: None,
        retry_after: None,
    }
}

#[test]
fn classification_follows_the_catalogue() {
    for status in [429, 502, 503, 504] {
        assert!(
            api(status, "status_exception", "x").is_retryable(),
            "{status}"
        );
    }
    for status in [400, 401, 403, 404, 405, 408, 409, 500] {
        assert!(
            !api(status, "status_exception", "x").is_retryable(),
            "{status}"
        );
    }
    let e14 = api(
        500,
        "illegal_state_exception",
        "Timed out when waiting for persistent tasks after 30m",
    );
    assert!(e14.is_still_in_progress());
    assert!(
        api(
            408,
            "status_exception",
            "Opening job [a] timed out after [20s]"
        )
        .is_still_in_progress()
    );
    assert!(!api(500, "exception", "boom").is_still_in_progress());
    // 7.x answers the open and start timeouts with a plain 500 `exception`.
    assert!(api(500, "exception", "Opening job [a] timed out after [30m]").is_still_in_progress());
    assert!(
        api(
            500,
            "exception",
            "Starting datafeed [df] timed out after [20s]"
        )
        .is_still_in_progress()
    );
    assert!(!api(500, "exception", "Opening job [a] failed").is_still_in_progress());
    // §12.2: the job's snapshot upgrade under way is work in progress; the other refusals of
    // `_upgrade` are not.
    assert!(
        api(
            409,
            "status_exception",
            "Cannot upgrade job [a] snapshot [1] as there is currently a snapshot for this job being upgraded"
        )
        .is_still_in_progress()
    );
    assert!(
        !api(
            409,
            "status_exception",
            "Cannot upgrade job [a] snapshot [1] while cluster upgrade is in progress."
        )
        .is_still_in_progress()
    );
}

#[test]
fn enabling_upgrade_mode_past_its_timeout_is_still_in_progress() {
    let timed_out = EsErrorBody::parse(
        r#"{"error":{"root_cause":[{"type":"failed_node_exception","reason":"Failed node [node-0]"}],"type":"failed_node_exception","reason":"Failed node [node-0]","caused_by":{"type":"timeout_exception","reason":"timed out after [30s/30000ms]"}},"status":500}"#,
    );
    let failed = |body: EsErrorBody| Error::Api {
        endpoint: "set_upgrade_mode",
        status: 500,
        body,
        help: None,
        retry_after: None,
    };
    assert!(failed(timed_out).is_still_in_progress());
    let other = EsErrorBody::parse(
        r#"{"error":{"root_cause":[{"type":"failed_node_exception","reason":"Failed node [node-0]"}],"type":"failed_node_exception","reason":"Failed node [node-0]","caused_by":{"type":"exception","reason":"disk full"}},"status":500}"#,
    );
    assert!(!failed(other).is_still_in_progress());
}

#[test]
fn error_bodies_parse_in_both_shapes() {
    let envelope = r#"{"error":{"root_cause":[{"type":"status_exception","reason":"r"}],"type":"status_exception","reason":"cannot close job [a] because it failed, use force close","caused_by":{"type":"illegal_state_exception","reason":"inner"}},"status":409}"#;
    let body = EsErrorBody::parse(envelope);
    assert_eq!(body.error_type, "status_exception");
    assert_eq!(
        body.reason,
        "cannot close job [a] because it failed, use force close"
    );
    assert_eq!(body.caused_by.as_deref(), Some("inner"));

    let flat = EsErrorBody::parse(
        r#"{"error":"no handler found for uri [/x] and method [GET]","status":400}"#,
    );
    assert_eq!(flat.error_type, "");
    assert_eq!(
        flat.reason,
        "no handler found for uri [/x] and method [GET]"
    );

    let proxy = EsErrorBody::parse("<html>Bad Gateway</html>");
    assert_eq!(proxy.reason, "<html>Bad Gateway</html>");
}

/// An error as the client makes it from a status and the body Elasticsearch sent.
fn answered(status: u16, body: &str) -> Error {
    Error::Api {
        endpoint: "test",
        status,
        body: EsErrorBody::parse(body),
        help: None,
        retry_after: None,
    }
}

/// The envelope of docs/elasticsearch-ml-api.md §1.3, without a cause.
fn envelope(status: u16, error_type: &str, reason: &str) -> String {
    serde_json::json!({
        "error": {
            "root_cause": [{ "type": error_type, "reason": reason }],
            "type": error_type,
            "reason": reason,
        },
        "status": status,
    })
    .to_string()
}

/// 409 `status_exception`s that are none of the cases the predicates name.
fn other_conflicts() -> Vec<Error> {
    [
        // E5
        "failed to close jobs as one or more had started datafeeds that could not be stopped: started datafeeds [df-a], error stopping them [injected]",
        // E6, before 7.14: the datafeed must be stopped, force would not help
        "cannot close job [web-latency], datafeed hasn't been stopped",
        // E8
        "cannot start datafeed [df-a] because job [a] is closed",
        // §2.3
        "Cannot open job [a] because it is executing [delete]",
        // §2.11
        "A datafeed [df-a] already exists for job [a]",
        "injected fault",
    ]
    .into_iter()
    .map(|reason| answered(409, &envelope(409, "status_exception", reason)))
    .collect()
}

#[test]
fn already_opened_is_e7_with_or_without_its_cause() {
    // Refused by validation: no cause.
    let plain = answered(
        409,
        &envelope(
            409,
            "status_exception",
            "Cannot open job [web-latency] because it has already been opened",
        ),
    );
    // Refused when the persistent task was created: the task's conflict is the cause.
    let wrapped = answered(
        409,
        r#"{"error":{"root_cause":[{"type":"status_exception","reason":"Cannot open job [web-latency] because it has already been opened"}],"type":"status_exception","reason":"Cannot open job [web-latency] because it has already been opened","caused_by":{"type":"resource_already_exists_exception","reason":"task with id {job-web-latency} already exist"}},"status":409}"#,
    );
    for error in [&plain, &wrapped] {
        assert!(error.is_already_opened());
        assert!(!error.is_already_started() && !error.needs_force_close());
    }
    for error in other_conflicts() {
        assert!(!error.is_already_opened(), "{error}");
    }
    // The words with another status or type are not E7.
    let as_500 = envelope(
        500,
        "exception",
        "Cannot open job [a] because it has already been opened",
    );
    assert!(!answered(500, &as_500).is_already_opened());
}

#[test]
fn already_started_is_e9() {
    let e9 = answered(
        409,
        &envelope(
            409,
            "status_exception",
            "cannot start datafeed [datafeed-web-latency] because it has already been started",
        ),
    );
    assert!(e9.is_already_started());
    assert!(!e9.is_already_opened() && !e9.needs_force_close());
    for error in other_conflicts() {
        assert!(!error.is_already_started(), "{error}");
    }
}

#[test]
fn needs_force_close_is_e3_or_e4() {
    let e3 = answered(
        409,
        &envelope(
            409,
            "status_exception",
            "cannot close job [logs-categorization] because it failed, use force close",
        ),
    );
    let e4 = answered(
        409,
        &envelope(
            409,
            "status_exception",
            "one or more jobs have state failed, use force close",
        ),
    );
    for error in [&e3, &e4] {
        assert!(error.needs_force_close(), "{error}");
        assert!(!error.is_already_opened() && !error.is_already_started());
        assert!(!error.is_retryable());
    }
    for error in other_conflicts() {
        assert!(!error.needs_force_close(), "{error}");
    }
}

#[test]
fn missing_privilege_is_a_403_security_exception() {
    // 8.x words the denial with the roles and the privileges that would grant the action.
    let eight = envelope(
        403,
        "security_exception",
        "action [cluster:monitor/main] is unauthorized for user [ml-admin] with effective roles [machine_learning_admin], this action is granted by the cluster privileges [monitor,manage,all]",
    );
    let api_key = envelope(
        403,
        "security_exception",
        "action [cluster:admin/xpack/ml/datafeed/stop] is unauthorized for API key id [VuaCfGcBCdbkQm-e5aOx] of user [ci-bot], this action is granted by the cluster privileges [manage_ml,manage,all]",
    );
    // The predicate does not read the reason, whose roles part varies by version.
    let short = envelope(
        403,
        "security_exception",
        "action [cluster:monitor/main] is unauthorized for user [ml-admin]",
    );
    for body in [&eight, &api_key, &short] {
        assert!(answered(403, body).is_missing_privilege(), "{body}");
    }
    // E19: no or wrong credentials.
    let unauthenticated = envelope(
        401,
        "security_exception",
        "missing authentication credentials for REST request [/]",
    );
    assert!(!answered(401, &unauthenticated).is_missing_privilege());
    // E21: a cluster block can be a 403 too.
    let blocked = envelope(
        403,
        "cluster_block_exception",
        "index [.ml-anomalies-shared] blocked by: [FORBIDDEN/4/index closed];",
    );
    assert!(!answered(403, &blocked).is_missing_privilege());
    // A proxy's own page.
    assert!(!answered(403, "<html>403 Forbidden</html>").is_missing_privilege());
}

#[test]
fn security_disabled_in_the_7x_and_8x_shapes() {
    // 8.x (and 7.x with `xpack.security.enabled: false`): no security handler, a flat 400.
    let eight = r#"{"error":"no handler found for uri [/_security/user/_has_privileges] and method [POST]","status":400}"#;
    // 7.x on a basic licence, security neither enabled nor disabled.
    let seven = envelope(
        500,
        "exception",
        "Security must be explicitly enabled when using a [basic] license. Enable security by setting [xpack.security.enabled] to [true] in the elasticsearch.yml file and restart the node.",
    );
    assert!(answered(400, eight).is_security_disabled());
    assert!(answered(500, &seven).is_security_disabled());

    // Other 400s say something is wrong with the request, not that security is off.
    let not_security =
        r#"{"error":"no handler found for uri [/_ml/nothing] and method [POST]","status":400}"#;
    let bad_parameter = envelope(
        400,
        "illegal_argument_exception",
        "request [/_security/user/_has_privileges] contains unrecognized parameter: [x]",
    );
    let bad_body = envelope(
        400,
        "parse_exception",
        "request body is not valid JSON: expected value",
    );
    for body in [not_security, &bad_parameter, &bad_body] {
        assert!(!answered(400, body).is_security_disabled(), "{body}");
    }
    assert!(!answered(500, &envelope(500, "exception", "boom")).is_security_disabled());
    let denied = envelope(
        403,
        "security_exception",
        "action [cluster:admin/xpack/security/user/has_privileges] is unauthorized for user [u]",
    );
    assert!(!answered(403, &denied).is_security_disabled());
}

#[test]
fn close_timed_out_is_e14_only() {
    let e14 = envelope(
        500,
        "illegal_state_exception",
        "Timed out when waiting for persistent tasks after 30m",
    );
    assert!(answered(500, &e14).is_still_in_progress());
    let other = envelope(500, "illegal_state_exception", "something else timed out");
    assert!(!answered(500, &other).is_still_in_progress());
}

#[test]
fn transport_failures_are_none_of_the_refusals() {
    let timeout = Error::Timeout {
        endpoint: "ml.open_job",
        after: Duration::from_secs(1),
    };
    assert!(!timeout.is_already_opened());
    assert!(!timeout.needs_force_close());
    assert!(!timeout.is_missing_privilege());
    assert!(!timeout.is_security_disabled());
}

#[test]
fn no_room_for_a_job_is_a_429_not_worth_retrying() {
    // E12 (docs/elasticsearch-ml-api.md §2.3, §4): the answer stays the same until another job
    // closes, so retrying it would only spend the step's attempts.
    let e12 = api(
        429,
        "status_exception",
        "Could not open job because no ML nodes with sufficient capacity were found",
    );
    assert!(e12.is_no_capacity());
    assert!(!e12.is_retryable());
    assert!(!e12.is_overloaded());
    // Other 429s keep their classification.
    let overload = api(429, "es_rejected_execution_exception", "rejected execution");
    assert!(!overload.is_no_capacity());
    assert!(overload.is_retryable());
}
