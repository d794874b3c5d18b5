//! The Elasticsearch ML simulator: an HTTP server that behaves like the ML API of a real
//! cluster (docs/elasticsearch-ml-api.md), for tests, demos and runbook rehearsals.
//!
//! Its public API is small: [`Simulator::start`] with [`SimOptions`] runs one in-process from a
//! [`Seed`] (module [`seed`]: the seed file, its schema and its resolved [`seed::ClusterSpec`]),
//! optionally as another [`EsVersion`] or latency [`Profile`], and [`Simulator::start_tls`]
//! serves HTTPS with a certificate from a CA it generates ([`TlsOptions`]); [`SimError`] says
//! why it could not start. [`cli`] (feature `cli`) is the command line of the `quiesce-sim` binary and of
//! `quiesce sim`; [`testing`] (feature `testing`) is the harness tests use against it.
//!
//! Everything else is internal:
//!
//! | module       | owns                                                                |
//! |--------------|---------------------------------------------------------------------|
//! | `server`     | bind, accept loop, shutdown, the headers every response carries     |
//! | `api`        | the route table and the per-request pipeline (security → upgrade-mode filter → params → faults → operation) |
//! | `params`     | request parameters from the query or the body, ES's 400s for them   |
//! | `ids`        | id expressions: lists, `*` wildcards, `_all`, groups                |
//! | `indices`    | the document store: indices, documents, refreshes, the search subset |
//! | `security`   | users, API keys, privileges, `_authenticate` and `_has_privileges`  |
//! | `faults`     | fault rules and what they do to a call                              |
//! | `cluster`    | the state machines, timing model, persistence slots, memory, stats; datafeed progress (searches, timing stats, data counts) and calendars |
//! | `error`      | the ES error envelope (`EsError`) and the simulator's start errors  |
//! | `time_value` | ES time values (`30s`, `-1`) as parameters give them                |
//! | `tls`        | the generated CA and server certificate, the rustls acceptor         |
//!
//! This crate knows nothing of the quiesce runner: it is written from the Elasticsearch facts
//! in `docs/elasticsearch-ml-api.md`, not from the client's types, so that the two can catch
//! each other's mistakes.

mod api;
#[cfg(feature = "cli")]
pub mod cli;
mod cluster;
mod error;
mod faults;
mod ids;
mod indices;
mod params;
mod security;
pub mod seed;
mod server;
#[cfg(feature = "testing")]
pub mod testing;
mod time_value;
mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use error::SimError;
pub use seed::{EsVersion, Profile, Seed};

/// The header that carries the control token of the `/_sim/` endpoints
/// ([`Simulator::control_token`]).
pub const CONTROL_TOKEN_HEADER: &str = "x-sim-control-token";

use error::EsError;

use cluster::Cluster;
use faults::Faults;

/// How to start a simulator.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Where to listen; port 0 picks a free port.
    pub listen: SocketAddr,
    pub seed: Seed,
    /// Overrides the seed's `cluster.version`.
    pub es_version: Option<EsVersion>,
    /// Overrides the seed's latency profile.
    pub profile: Option<Profile>,
}

/// How to serve HTTPS ([`Simulator::start_tls`]; `--tls` on the command line).
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// Names the certificate covers besides `localhost`, `127.0.0.1` and `::1`.
    pub extra_names: Vec<String>,
    /// Where to write the CA certificate (PEM); it is always available from
    /// [`Simulator::ca_pem`].
    pub ca_out: Option<PathBuf>,
}

/// A running simulator. Dropping it stops the server too; [`Simulator::shutdown`] also waits
/// for it.
pub struct Simulator {
    addr: SocketAddr,
    /// The CA that signed the server certificate, when serving HTTPS.
    ca_pem: Option<String>,
    /// What `/_sim/` needs while security is on.
    control_token: Option<String>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

impl Simulator {
    /// Resolves the seed, binds and starts serving HTTP.
    pub async fn start(options: SimOptions) -> Result<Simulator, SimError> {
        Simulator::launch(options, None).await
    }

    /// Like [`Simulator::start`], serving HTTPS with a certificate signed by a CA generated
    /// for this start, written to `tls.ca_out` when given. As with an ES cluster whose HTTP
    /// layer has TLS, 401s then offer `Bearer` among their challenges (the token service).
    pub async fn start_tls(options: SimOptions, tls: TlsOptions) -> Result<Simulator, SimError> {
        Simulator::launch(options, Some(tls)).await
    }

    async fn launch(options: SimOptions, tls: Option<TlsOptions>) -> Result<Simulator, SimError> {
        let spec = options.seed.resolve(options.profile, options.es_version)?;
        let certificates = match &tls {
            Some(tls) => Some(tls::generate(&tls.extra_names).map_err(SimError::Tls)?),
            None => None,
        };
        if let (Some(tls), Some(certificates)) = (&tls, &certificates)
            && let Some(path) = &tls.ca_out
        {
            std::fs::write(path, &certificates.ca_pem).map_err(|source| SimError::CaOut {
                path: path.clone(),
                source,
            })?;
        }
        let security = spec.security.clone().map(|security| {
            if tls.is_some() {
                security.with_token_service()
            } else {
                security
            }
        });
        let faults = Faults::new(spec.faults.clone(), spec.fault_seed)?;
        let listener =
            TcpListener::bind(options.listen)
                .await
                .map_err(|source| SimError::Bind {
                    addr: options.listen,
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind {
            addr: options.listen,
            source,
        })?;
        let data_nodes = spec.nodes.len();
        // With security on, the control endpoints are not open to whoever can connect: they
        // take this token, made for this start, or an administrator's credentials.
        let control_token = security
            .as_ref()
            .map(|_| format!("{:032x}", rand::random::<u128>()));
        let cluster = Cluster::new(spec);
        let app = Arc::new(api::App {
            cluster: cluster.clone(),
            security,
            faults: Mutex::new(faults),
            indices: indices::Indices::new(data_nodes),
            control_token: control_token.clone(),
        });
        let router = api::router(app);
        let (shutdown, stop) = oneshot::channel();
        let (ca_pem, acceptor) = match certificates {
            Some(certificates) => (Some(certificates.ca_pem), Some(certificates.acceptor)),
            None => (None, None),
        };
        let server = tokio::spawn(async move {
            server::serve(listener, router, cluster.clone(), acceptor, stop).await;
            cluster.shutdown();
        });
        Ok(Simulator {
            addr,
            ca_pem,
            control_token,
            shutdown: Some(shutdown),
            server: Some(server),
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://HOST:PORT`, or `https://HOST:PORT` when serving TLS.
    pub fn base_url(&self) -> String {
        let scheme = if self.ca_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// While security is on (the seed has users, API keys or tokens), what the `/_sim/` control
    /// endpoints need in the [`CONTROL_TOKEN_HEADER`] header (or the credentials of a user with
    /// `manage` or `all`); `None` when they are open, as the ES API is.
    pub fn control_token(&self) -> Option<&str> {
        self.control_token.as_deref()
    }

    /// The PEM of the CA that signed the HTTPS certificate; `None` when serving HTTP.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// Stops accepting, closes every connection and background task, and waits for that.
    pub async fn shutdown(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}
