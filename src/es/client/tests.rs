//! The client against a tiny local HTTP server with canned answers: headers sent, product
//! check, error classification, userinfo handling.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::any;

use super::*;
use crate::es::{ApiKey, Credentials};

const ROOT_8: &str = r#"{"name":"n","cluster_name":"c","cluster_uuid":"u","version":{"number":"8.15.0","build_flavor":"default"},"tagline":"You Know, for Search"}"#;
const ROOT_7_13: &str = r#"{"name":"n","cluster_name":"c","cluster_uuid":"u","version":{"number":"7.13.4","build_flavor":"default"},"tagline":"You Know, for Search"}"#;

#[derive(Clone)]
struct Canned {
    status: StatusCode,
    body: &'static str,
    product_header: bool,
    extra: Vec<(&'static str, &'static str)>,
}

/// Serves `canned` for every request and records the request headers.
async fn serve(canned: Canned) -> (String, Arc<Mutex<Vec<HeaderMap>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorded = Arc::clone(&seen);
    let app = Router::new().fallback(any(move |headers: HeaderMap| {
        let canned = canned.clone();
        let recorded = Arc::clone(&recorded);
        async move {
            recorded.lock().expect("lock").push(headers);
            let mut response = (canned.status, canned.body).into_response();
            let out = response.headers_mut();
            out.insert("content-type", "application/json".parse().expect("value"));
            if canned.product_header {
                out.insert("x-elastic-product", "Elasticsearch".parse().expect("value"));
            }
            for (name, value) in canned.extra {
                out.insert(name, value.parse().expect("value"));
            }
            response
        }
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), seen)
}

fn ok(body: &'static str) -> Canned {
    Canned {
        status: StatusCode::OK,
        body,
        product_header: true,
        extra: Vec::new(),
    }
}

#[tokio::test]
async fn sends_the_api_key_and_accepts_a_real_cluster() {
    let (url, seen) = serve(ok(ROOT_8)).await;
    let mut connection = Connection::new(url);
    connection.credentials = Some(Credentials::ApiKey(ApiKey::new("id:key")));
    let client = EsClient::new(connection).expect("client");
    let info = client.root().await.expect("root");
    assert_eq!(info.version(), Some((8, 15)));
    let headers = seen.lock().expect("lock");
    assert_eq!(headers[0]["authorization"], "ApiKey aWQ6a2V5");
}

#[tokio::test]
async fn a_server_without_the_product_header_is_refused() {
    let (url, _) = serve(Canned {
        product_header: false,
        ..ok(ROOT_8)
    })
    .await;
    let client = EsClient::new(Connection::new(url)).expect("client");
    let err = client.root().await.expect_err("not elasticsearch");
    assert!(matches!(err, Error::NotElasticsearch { .. }), "{err:?}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn a_pre_7_14_cluster_needs_no_product_header() {
    let (url, _) = serve(Canned {
        product_header: false,
        ..ok(ROOT_7_13)
    })
    .await;
    let client = EsClient::new(Connection::new(url)).expect("client");
    client
        .root()
        .await
        .expect("7.13 is accepted by its root body");
    client
        .send(&request::ml_info())
        .await
        .expect("later calls need no header either");
}

#[tokio::test]
async fn api_errors_keep_type_reason_and_retry_after() {
    let (url, _) = serve(Canned {
        status: StatusCode::TOO_MANY_REQUESTS,
        body: r#"{"error":{"root_cause":[{"type":"status_exception","reason":"Cannot perform cluster:admin/xpack/ml/job/close action while upgrade mode is enabled"}],"type":"status_exception","reason":"Cannot perform cluster:admin/xpack/ml/job/close action while upgrade mode is enabled"},"status":429}"#,
        product_header: true,
        extra: vec![("retry-after", "7")],
    })
    .await;
    let client = EsClient::new(Connection::new(url)).expect("client");
    let err = client
        .close_job("web", Force::No, Duration::from_secs(30))
        .await
        .expect_err("429");
    assert!(err.is_retryable());
    assert_eq!(err.status(), Some(429));
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    assert_eq!(err.body().expect("body").error_type, "status_exception");
}

#[tokio::test]
async fn nothing_listening_is_unreachable_and_retryable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener);
    let client = EsClient::new(Connection::new(url)).expect("client");
    let err = client.root().await.expect_err("refused");
    assert!(matches!(err, Error::Unreachable { .. }), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn credentials_in_the_url_become_basic_auth_and_never_show() {
    let (url, seen) = serve(ok(ROOT_8)).await;
    let with_userinfo = url.replace("http://", "http://elastic:top%40secret@");
    let client = EsClient::new(Connection::new(with_userinfo)).expect("client");
    assert!(!client.url().contains("secret"), "{}", client.url());
    assert!(!format!("{client:?}").contains("secret"));
    client.root().await.expect("root");
    let headers = seen.lock().expect("lock");
    // base64("elastic:top@secret")
    assert_eq!(
        headers[0]["authorization"],
        "Basic ZWxhc3RpYzp0b3BAc2VjcmV0"
    );
}

#[test]
fn invalid_urls_are_reported_without_their_secrets() {
    let err = EsClient::new(Connection::new("ftp://u:hunter2@host")).expect_err("bad scheme");
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

/// A raw HTTP/1.1 server: every connection gets `head`, then `body` is called with the
/// connection until it fails (the client hung up); for answers no well-behaved server sends.
async fn raw(
    head: &'static str,
    body: impl Fn() -> Option<Vec<u8>> + Send + Sync + 'static,
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let body = Arc::new(body);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let body = Arc::clone(&body);
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                while let Some(chunk) = body() {
                    if socket.write_all(&chunk).await.is_err() {
                        return;
                    }
                }
                // Keep the connection open, answering nothing more.
                let _ = socket.read(&mut request).await;
            });
        }
    });
    format!("http://{addr}")
}

/// Issue 11 (8): a `GET /` that claims 4 GiB is refused before anything is read.
#[tokio::test]
async fn an_answer_announced_beyond_the_limit_is_refused_unread() {
    let url = raw(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-elastic-product: Elasticsearch\r\ncontent-length: 4294967296\r\n\r\n",
        || None,
    )
    .await;
    let client = EsClient::new(Connection::new(url)).expect("client");
    let err = client.root().await.expect_err("too large");
    assert!(
        matches!(
            err,
            Error::TooLarge {
                announced: Some(4_294_967_296),
                limit: MAX_ANSWER_BYTES,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("128 MiB"), "{err}");
}

/// Issue 11 (8): an endless chunked `_stats` answer is refused once it passes the limit.
#[tokio::test]
async fn an_endless_answer_is_refused_at_the_limit() {
    const CHUNK: usize = 1024 * 1024;
    let url = raw(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-elastic-product: Elasticsearch\r\ntransfer-encoding: chunked\r\n\r\n",
        || {
            let mut chunk = format!("{CHUNK:x}\r\n").into_bytes();
            chunk.extend(std::iter::repeat_n(b' ', CHUNK));
            chunk.extend_from_slice(b"\r\n");
            Some(chunk)
        },
    )
    .await;
    let client = EsClient::new(Connection::new(url)).expect("client");
    let err = client.job_stats("_all").await.expect_err("too large");
    assert!(
        matches!(
            err,
            Error::TooLarge {
                announced: None,
                ..
            }
        ),
        "{err:?}"
    );
}

/// Issue 11 (3): a request that makes Elasticsearch wait is given up by the client when the
/// time left runs out, not 30 s later.
#[tokio::test]
async fn a_waiting_request_is_given_up_when_the_time_left_runs_out() {
    let url = raw("", || None).await;
    let client = EsClient::new(Connection::new(url)).expect("client");
    let err = client
        .close_job("web", Force::No, Duration::from_millis(300))
        .await
        .expect_err("no answer");
    assert!(
        matches!(err, Error::Timeout { after, .. } if after == Duration::from_millis(300)),
        "{err:?}"
    );
}
