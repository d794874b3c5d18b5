//! docs/elasticsearch-ml-api.md §2.14–§2.15 and §1.4: with users and API keys in the seed, 401 without or with
//! wrong credentials (with `WWW-Authenticate`), 403 with the real message when a role lacks the
//! privilege, `_has_privileges` from the role model, `_authenticate`; security off otherwise.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::{Method, RequestBuilder};
use serde_json::json;

use quiesce_sim::testing::{Answer, TestCluster};

const STATS: &str = "/_ml/anomaly_detectors/_stats";
const MANAGE_ML_GRANTS: &str =
    ", this action is granted by the cluster privileges [manage_ml,manage,all]";
const MONITOR_ML_GRANTS: &str =
    ", this action is granted by the cluster privileges [monitor_ml,manage_ml,monitor,manage,all]";

async fn secured() -> TestCluster {
    TestCluster::builder()
        .seed_file(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/sim/security.yaml"
        ))
        .start()
        .await
}

fn as_user(request: RequestBuilder, user: &str) -> RequestBuilder {
    request.basic_auth(user, Some(format!("{user}-pw")))
}

fn api_key(request: RequestBuilder, id: &str, key: &str) -> RequestBuilder {
    let token = STANDARD.encode(format!("{id}:{key}"));
    request.header("authorization", format!("ApiKey {token}"))
}

fn assert_401(resp: &Answer, reason: Option<&str>) {
    let error = resp.assert_envelope(401, "security_exception");
    if let Some(reason) = reason {
        assert_eq!(error["reason"], reason, "{}", resp.text);
        assert_eq!(error["root_cause"][0]["reason"], reason);
    }
    let challenges: Vec<&str> = resp
        .headers
        .get_all("www-authenticate")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert!(
        challenges
            .iter()
            .any(|c| c.starts_with("Basic realm=\"security\"")),
        "WWW-Authenticate Basic challenge expected, got {challenges:?}"
    );
    assert!(
        challenges.iter().any(|c| c.starts_with("ApiKey")),
        "WWW-Authenticate ApiKey challenge expected, got {challenges:?}"
    );
}

fn assert_403(resp: &Answer, action: &str, principal: &str, grants: &str) {
    let error = resp.assert_envelope(403, "security_exception");
    let reason = error["reason"].as_str().unwrap_or_default();
    let prefix = format!("action [{action}] is unauthorized for {principal}");
    assert!(
        reason.starts_with(&prefix) && reason.ends_with(grants),
        "403 reason {reason:?} should start with {prefix:?} and end with {grants:?}"
    );
    assert_eq!(error["root_cause"][0]["reason"], reason);
}

#[tokio::test]
async fn no_credentials_is_401_with_challenge() {
    let sim = secured().await;
    let resp = sim.get(STATS).await;
    assert_401(
        &resp,
        Some(&format!(
            "missing authentication credentials for REST request [{STATS}]"
        )),
    );
    let resp = sim.post("/_ml/datafeeds/df-j1/_stop").await;
    assert_401(
        &resp,
        Some("missing authentication credentials for REST request [/_ml/datafeeds/df-j1/_stop]"),
    );
    assert_eq!(
        sim.send(as_user(
            sim.request(Method::GET, "/_ml/datafeeds/df-j1/_stats"),
            "admin"
        ))
        .await
        .ok()["datafeeds"][0]["state"],
        "started",
        "a refused stop changes nothing"
    );
}

#[tokio::test]
async fn head_root_without_credentials_is_401_with_product_header() {
    let sim = secured().await;
    let resp = sim.send(sim.request(Method::HEAD, "/")).await;
    assert_eq!(resp.status.as_u16(), 401);
    resp.assert_product_header();
}

#[tokio::test]
async fn wrong_password_or_unknown_user_is_401() {
    let sim = secured().await;
    let resp = sim
        .send(
            sim.request(Method::GET, STATS)
                .basic_auth("admin", Some("wrong")),
        )
        .await;
    assert_401(
        &resp,
        Some(&format!(
            "unable to authenticate user [admin] for REST request [{STATS}]"
        )),
    );
    let resp = sim
        .send(
            sim.request(Method::GET, STATS)
                .basic_auth("ghost", Some("x")),
        )
        .await;
    assert_401(
        &resp,
        Some(&format!(
            "unable to authenticate user [ghost] for REST request [{STATS}]"
        )),
    );
}

#[tokio::test]
async fn wrong_api_key_is_401() {
    let sim = secured().await;
    let resp = sim
        .send(api_key(
            sim.request(Method::GET, STATS),
            "VuaCfGcBCdbkQm-e5aOx",
            "wrong",
        ))
        .await;
    let error = resp.assert_envelope(401, "security_exception");
    assert!(
        !resp.text.contains("ui2lp2axTNmsyakw9tvNnw"),
        "no secret in output"
    );
    assert!(error["reason"].is_string());
    assert!(
        resp.header("www-authenticate").is_some(),
        "challenge expected"
    );
}

#[tokio::test]
async fn every_privilege_that_implies_monitor_ml_can_read_stats() {
    let sim = secured().await;
    for user in ["viewer", "admin", "ops", "mon", "root"] {
        let resp = sim
            .send(as_user(sim.request(Method::GET, STATS), user))
            .await;
        assert_eq!(resp.ok()["count"], 1, "{user} reads stats");
    }
    let resp = sim
        .send(api_key(
            sim.request(Method::GET, STATS),
            "VuaCfGcBCdbkQm-e5aOx",
            "ui2lp2axTNmsyakw9tvNnw",
        ))
        .await;
    assert_eq!(resp.ok()["count"], 1, "api key reads stats");
}

#[tokio::test]
async fn user_without_ml_privileges_gets_403_on_reads() {
    let sim = secured().await;
    let resp = sim
        .send(as_user(sim.request(Method::GET, STATS), "nobody"))
        .await;
    assert_403(
        &resp,
        "cluster:monitor/xpack/ml/job/stats/get",
        "user [nobody]",
        MONITOR_ML_GRANTS,
    );
}

#[tokio::test]
async fn monitor_roles_get_403_on_ml_admin_actions() {
    let sim = secured().await;
    for user in ["viewer", "mon"] {
        let stop = sim
            .send(as_user(
                sim.request(Method::POST, "/_ml/datafeeds/df-j1/_stop"),
                user,
            ))
            .await;
        assert_403(
            &stop,
            "cluster:admin/xpack/ml/datafeed/stop",
            &format!("user [{user}]"),
            MANAGE_ML_GRANTS,
        );
        let close = sim
            .send(as_user(
                sim.request(Method::POST, "/_ml/anomaly_detectors/j1/_close"),
                user,
            ))
            .await;
        assert_403(
            &close,
            "cluster:admin/xpack/ml/job/close",
            &format!("user [{user}]"),
            MANAGE_ML_GRANTS,
        );
        let open = sim
            .send(as_user(
                sim.request(Method::POST, "/_ml/anomaly_detectors/j1/_open"),
                user,
            ))
            .await;
        assert_403(
            &open,
            "cluster:admin/xpack/ml/job/open",
            &format!("user [{user}]"),
            MANAGE_ML_GRANTS,
        );
        let start = sim
            .send(as_user(
                sim.request(Method::POST, "/_ml/datafeeds/df-j1/_start"),
                user,
            ))
            .await;
        assert_403(
            &start,
            "cluster:admin/xpack/ml/datafeed/start",
            &format!("user [{user}]"),
            MANAGE_ML_GRANTS,
        );
    }
    let resp = sim
        .send(as_user(
            sim.request(Method::GET, "/_ml/datafeeds/df-j1/_stats"),
            "admin",
        ))
        .await;
    assert_eq!(
        resp.ok()["datafeeds"][0]["state"],
        "started",
        "403 changes nothing"
    );
}

#[tokio::test]
async fn api_key_without_manage_ml_gets_403_naming_the_key() {
    let sim = secured().await;
    let resp = sim
        .send(api_key(
            sim.request(Method::POST, "/_ml/datafeeds/df-j1/_stop"),
            "VuaCfGcBCdbkQm-e5aOx",
            "ui2lp2axTNmsyakw9tvNnw",
        ))
        .await;
    assert_403(
        &resp,
        "cluster:admin/xpack/ml/datafeed/stop",
        "API key id [VuaCfGcBCdbkQm-e5aOx] of user [ci-bot]",
        MANAGE_ML_GRANTS,
    );
    assert!(
        !resp.text.contains("ui2lp2axTNmsyakw9tvNnw"),
        "no secret in output"
    );
}

#[tokio::test]
async fn manage_roles_and_admin_api_key_may_stop_and_close() {
    for who in ["admin", "ops", "root", "key"] {
        let sim = secured().await;
        let with = |request: RequestBuilder| {
            if who == "key" {
                api_key(request, "adminkey0000000000001", "admin-key-secret")
            } else {
                as_user(request, who)
            }
        };
        let stop = sim
            .send(with(
                sim.request(Method::POST, "/_ml/datafeeds/df-j1/_stop"),
            ))
            .await;
        assert_eq!(stop.ok(), &json!({ "stopped": true }), "{who}");
        let close = sim
            .send(with(
                sim.request(Method::POST, "/_ml/anomaly_detectors/j1/_close"),
            ))
            .await;
        assert_eq!(close.ok(), &json!({ "closed": true }), "{who}");
    }
}

#[tokio::test]
async fn has_privileges_answers_from_the_role_model() {
    let sim = secured().await;
    let request = json!({ "cluster": ["manage_ml", "monitor_ml"] });
    for (user, manage_ml, monitor_ml) in [
        ("viewer", false, true),
        ("admin", true, true),
        ("ops", true, true),
        ("root", true, true),
        ("nobody", false, false),
    ] {
        let resp = sim
            .send(as_user(
                sim.request(Method::POST, "/_security/user/_has_privileges")
                    .json(&request),
                user,
            ))
            .await;
        assert_eq!(
            resp.ok(),
            &json!({
                "username": user,
                "has_all_requested": manage_ml && monitor_ml,
                "cluster": { "manage_ml": manage_ml, "monitor_ml": monitor_ml },
                "index": {},
                "application": {},
            }),
            "{user}"
        );
    }
}

#[tokio::test]
async fn has_privileges_also_answers_get_and_needs_credentials() {
    let sim = secured().await;
    let request = json!({ "cluster": ["monitor_ml"] });
    let resp = sim
        .send(as_user(
            sim.request(Method::GET, "/_security/user/_has_privileges")
                .json(&request),
            "viewer",
        ))
        .await;
    assert_eq!(resp.ok()["has_all_requested"], true);
    let resp = sim
        .send(
            sim.request(Method::POST, "/_security/user/_has_privileges")
                .json(&request),
        )
        .await;
    assert_eq!(resp.status.as_u16(), 401, "{}", resp.text);
    let resp = sim
        .send(as_user(
            sim.request(Method::POST, "/_security/user/_has_privileges"),
            "viewer",
        ))
        .await;
    assert_eq!(
        resp.status.as_u16(),
        400,
        "the body is required: {}",
        resp.text
    );
    resp.assert_product_header();
}

#[tokio::test]
async fn has_privileges_knows_monitor_manage_and_all() {
    let sim = secured().await;
    let request = json!({ "cluster": ["monitor", "manage", "all"] });
    for (user, monitor, manage, all) in [
        ("mon", true, false, false),
        ("ops", true, true, false),
        ("root", true, true, true),
        ("admin", false, false, false),
    ] {
        let resp = sim
            .send(as_user(
                sim.request(Method::POST, "/_security/user/_has_privileges")
                    .json(&request),
                user,
            ))
            .await;
        let body = resp.ok();
        assert_eq!(
            body["cluster"],
            json!({ "monitor": monitor, "manage": manage, "all": all }),
            "{user}"
        );
        assert_eq!(
            body["has_all_requested"],
            monitor && manage && all,
            "{user}"
        );
    }
}

#[tokio::test]
async fn has_privileges_for_a_named_user() {
    let sim = secured().await;
    let resp = sim
        .send(as_user(
            sim.request(Method::POST, "/_security/user/viewer/_has_privileges")
                .json(&json!({ "cluster": ["monitor_ml"] })),
            "viewer",
        ))
        .await;
    assert_eq!(resp.ok()["has_all_requested"], true);
}

#[tokio::test]
async fn root_endpoint_needs_the_monitor_privilege() {
    // §1.4: `GET /` needs cluster privilege monitor (or manage/all); monitor_ml is not enough.
    let sim = secured().await;
    for user in ["mon", "ops", "root"] {
        let resp = sim.send(as_user(sim.request(Method::GET, "/"), user)).await;
        assert_eq!(resp.ok()["tagline"], "You Know, for Search", "{user}");
    }
    let resp = sim
        .send(as_user(sim.request(Method::GET, "/"), "viewer"))
        .await;
    let error = resp.assert_envelope(403, "security_exception");
    let reason = error["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("action [cluster:monitor/main] is unauthorized for user [viewer]"),
        "{reason}"
    );
}

#[tokio::test]
async fn authenticate_names_the_user() {
    let sim = secured().await;
    let resp = sim
        .send(as_user(
            sim.request(Method::GET, "/_security/_authenticate"),
            "viewer",
        ))
        .await;
    assert_eq!(resp.ok()["username"], "viewer");
    assert!(!resp.text.contains("viewer-pw"), "no password in output");
    let resp = sim
        .send(api_key(
            sim.request(Method::GET, "/_security/_authenticate"),
            "VuaCfGcBCdbkQm-e5aOx",
            "ui2lp2axTNmsyakw9tvNnw",
        ))
        .await;
    assert_eq!(resp.ok()["username"], "ci-bot");
}

/// Issue 11 (10): with security on, `/_sim/` is not open to whoever can connect: it takes the
/// control token the simulator made at start (the harness sends it), or an administrator's
/// credentials.
#[tokio::test]
async fn sim_control_endpoints_need_the_control_token_while_security_is_on() {
    let sim = secured().await;
    let stats = sim.sim_stats().await;
    assert!(stats["requests"].is_object(), "{stats}");
    assert_eq!(sim.get("/_sim/faults").await.status.as_u16(), 200);

    let anyone = reqwest::Client::new();
    let refused = anyone
        .put(sim.url("/_sim/faults"))
        .json(&json!({ "faults": [] }))
        .send()
        .await
        .expect("an answer");
    assert_eq!(refused.status().as_u16(), 401);
    let text = refused.text().await.expect("a body");
    assert!(text.contains("control token"), "{text}");
    // An ML administrator is not a cluster administrator.
    let admin = anyone
        .get(sim.url("/_sim/stats"))
        .basic_auth("admin", Some("admin-pw"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(admin.status().as_u16(), 403);
    let ops = anyone
        .get(sim.url("/_sim/stats"))
        .basic_auth("ops", Some("ops-pw"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(ops.status().as_u16(), 200, "`manage` may");

    // Without users, the control endpoints stay open, as the ML API is.
    let open = TestCluster::empty().await;
    let answer = anyone
        .get(open.url("/_sim/stats"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(answer.status().as_u16(), 200);
}

#[tokio::test]
async fn without_users_security_is_off_and_has_no_handlers() {
    let sim = TestCluster::empty().await;
    sim.get(STATS).await.ok();
    sim.send(
        sim.request(Method::POST, "/_security/user/_has_privileges")
            .json(&json!({ "cluster": ["manage_ml"] })),
    )
    .await
    .assert_flat_error(
        400,
        "no handler found for uri [/_security/user/_has_privileges] and method [POST]",
    );
}

#[tokio::test]
async fn security_comes_before_upgrade_mode_faults_and_parameters() {
    // §9: security first; the upgrade-mode filter and fault rules run after it; unknown
    // parameters are found by the handler, after authentication.
    let sim = secured().await;
    let enable = sim
        .send(as_user(
            sim.request(Method::POST, "/_ml/set_upgrade_mode?enabled=true"),
            "admin",
        ))
        .await;
    assert_eq!(enable.ok(), &json!({ "acknowledged": true }));
    let stop = sim
        .send(as_user(
            sim.request(Method::POST, "/_ml/datafeeds/df-j1/_stop"),
            "viewer",
        ))
        .await;
    assert_403(
        &stop,
        "cluster:admin/xpack/ml/datafeed/stop",
        "user [viewer]",
        MANAGE_ML_GRANTS,
    );
    let stop = sim
        .send(as_user(
            sim.request(Method::POST, "/_ml/datafeeds/df-j1/_stop"),
            "admin",
        ))
        .await;
    stop.assert_error(
        429,
        "status_exception",
        "Cannot perform cluster:admin/xpack/ml/datafeed/stop action while upgrade mode is enabled",
    );
    sim.set_faults(json!([{
        "operation": "job_stats",
        "error": { "status": 503, "type": "master_not_discovered_exception", "reason": "x" }
    }]))
    .await;
    assert_401(&sim.get(STATS).await, None);
    assert_401(&sim.get(&format!("{STATS}?bogus=1")).await, None);
}

#[tokio::test]
async fn routing_errors_need_no_credentials() {
    // No handler, no authentication: the flat 400/405 come first (§1.2, §1.4).
    let sim = secured().await;
    sim.get("/_no/such/path").await.assert_flat_error(
        400,
        "no handler found for uri [/_no/such/path] and method [GET]",
    );
    sim.get("/_ml/datafeeds/df-j1/_stop").await.assert_flat_error(
        405,
        "Incorrect HTTP method for uri [/_ml/datafeeds/df-j1/_stop] and method [GET], allowed: [POST]",
    );
}

const WITH_TOKENS: &str = "
security:
  users:
    - {username: admin, password: s3cret, roles: [manage_ml]}
  tokens:
    - {token: AAEAAWVsYXN0aWMvcXVpZXNjZS90b2tlbjE, username: elastic/quiesce, name: token1, roles: [manage_ml]}
    - {token: dXNlci10b2tlbg, username: reader, roles: [monitor_ml]}
jobs:
  - {id: j1, state: opened}
";

#[tokio::test]
async fn bearer_tokens_authenticate_as_their_service_account_or_user() {
    // ES accepts `Authorization: Bearer` for service-account tokens (ServiceAccountService,
    // realm `_service_account`) and OAuth2 access tokens (TokenService), both with
    // `authentication_type: token`; a service account is named `namespace/service` and a 403
    // names it `service account [<name>]` (AuthorizationDenialMessages).
    let sim = TestCluster::with_seed(WITH_TOKENS).await;
    let bearer = |token: &str| {
        sim.request(Method::GET, "/_security/_authenticate")
            .bearer_auth(token)
    };
    let who = sim
        .send(bearer("AAEAAWVsYXN0aWMvcXVpZXNjZS90b2tlbjE"))
        .await;
    let body = who.ok();
    assert_eq!(body["username"], "elastic/quiesce");
    assert_eq!(body["authentication_type"], "token");
    assert_eq!(body["authentication_realm"]["type"], "_service_account");
    assert_eq!(body["token"]["name"], "token1");
    let close = sim
        .send(
            sim.request(Method::POST, "/_ml/anomaly_detectors/j1/_close")
                .bearer_auth("AAEAAWVsYXN0aWMvcXVpZXNjZS90b2tlbjE"),
        )
        .await;
    assert_eq!(close.ok(), &json!({"closed": true}));
    let reader = sim
        .send(
            sim.request(Method::POST, "/_ml/anomaly_detectors/j1/_open")
                .bearer_auth("dXNlci10b2tlbg"),
        )
        .await;
    assert_403(
        &reader,
        "cluster:admin/xpack/ml/job/open",
        "user [reader] with effective roles [monitor_ml]",
        MANAGE_ML_GRANTS,
    );
    let wrong = sim.send(bearer("not-a-token")).await;
    assert_401(
        &wrong,
        Some(
            "unable to authenticate with provided credentials and anonymous access is not allowed for this request",
        ),
    );
}

#[tokio::test]
async fn a_401_body_carries_the_challenges_in_its_header_object() {
    // ElasticsearchSecurityException carries WWW-Authenticate as an exception header, which
    // ElasticsearchException.toXContent writes as `"header":{"WWW-Authenticate":[...]}` in the
    // error and in its root_cause entry.
    let sim = TestCluster::with_seed(WITH_TOKENS).await;
    let resp = sim.get("/_ml/info").await;
    let error = resp.assert_envelope(401, "security_exception");
    let challenges: Vec<&str> = resp
        .headers
        .get_all("www-authenticate")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect();
    assert_eq!(
        error["header"],
        json!({ "WWW-Authenticate": challenges }),
        "{}",
        resp.text
    );
    assert_eq!(error["root_cause"][0]["header"], error["header"]);
}
