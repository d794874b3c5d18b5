//! The HTTP/1.1 server: binds, accepts connections until shut down (over TLS when asked), and
//! runs each request through the router. Its own accept loop (rather than `axum::serve`) lets
//! a `drop` fault close a connection without any response: the service returns an error and
//! hyper closes the connection. Every response gets `X-elastic-product: Elasticsearch` when
//! the cluster's version sends it (ES ≥ 7.14) and a JSON content type
//! (docs/elasticsearch-ml-api.md §1.4).

use std::fmt;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, Request, Response, header};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::{Service, service_fn};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::api::DropConnection;
use crate::cluster::Cluster;

/// How long the accept loop waits after a failed accept.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// The error a service returns to make hyper close the connection unanswered.
#[derive(Debug)]
struct DroppedOnPurpose;

impl fmt::Display for DroppedOnPurpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped by a fault rule")
    }
}

impl std::error::Error for DroppedOnPurpose {}

/// Accepts connections until `shutdown` fires (or its sender is dropped), then closes them all.
/// With `tls`, each connection is a TLS handshake first; one that fails ends that connection.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    cluster: Cluster,
    tls: Option<TlsAcceptor>,
    mut shutdown: oneshot::Receiver<()>,
) {
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut shutdown => break,
        };
        while connections.try_join_next().is_some() {}
        let Ok((stream, _)) = accepted else {
            // Out of file descriptors and the like: back off briefly, as hyper's servers do,
            // rather than spin; a later accept may succeed.
            tokio::time::sleep(ACCEPT_BACKOFF).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let cluster = cluster.clone();
        let tls = tls.clone();
        connections.spawn(async move {
            match tls {
                Some(acceptor) => {
                    if let Ok(stream) = acceptor.accept(stream).await {
                        serve_connection(stream, router, cluster).await;
                    }
                }
                None => serve_connection(stream, router, cluster).await,
            }
        });
    }
    connections.shutdown().await;
}

/// Serves one connection's requests until it closes.
async fn serve_connection<I>(io: I, router: Router, cluster: Cluster)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = TowerToHyperService::new(router);
    let service = service_fn(move |request: Request<Incoming>| {
        let call = service.call(request);
        let cluster = cluster.clone();
        async move {
            let response = match call.await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            finish(response, cluster.version().sends_product_header())
        }
    });
    // A connection error (client gone, dropped on purpose) ends only this connection.
    let _ = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(io), service)
        .await;
}

/// Adds the headers every ES response carries, or refuses to answer at all.
fn finish(
    mut response: Response<axum::body::Body>,
    product_header: bool,
) -> Result<Response<axum::body::Body>, DroppedOnPurpose> {
    if response.extensions().get::<DropConnection>().is_some() {
        return Err(DroppedOnPurpose);
    }
    let headers = response.headers_mut();
    if product_header {
        headers.insert(
            "x-elastic-product",
            HeaderValue::from_static("Elasticsearch"),
        );
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}
