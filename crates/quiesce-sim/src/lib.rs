//! The Elasticsearch ML simulator: an HTTP server that behaves like the ML API of a real
//! cluster (docs/elasticsearch-ml-api.md), for tests, demos and runbook rehearsals.
//!
//! Its public API is small: [`Simulator::start`] with [`SimOptions`] runs one in-process from a
//! [`Seed`] (module [`seed`]: the seed file, its schema and its resolved [`seed::ClusterSpec`]),
//! optionally as another [`EsVersion`] or latency [`Profile`]; [`SimError`] says why it could
//! not start. [`cli`] (feature `cli`) is the command line of the `quiesce-sim` binary and of
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
//! | `security`   | users, API keys, privileges, `_authenticate` and `_has_privileges`  |
//! | `faults`     | fault rules and what they do to a call                              |
//! | `cluster`    | the state machines, timing model, persistence slots, memory, stats  |
//! | `error`      | the ES error envelope (`EsError`) and the simulator's start errors  |
//! | `time_value` | ES time values (`30s`, `-1`) as parameters give them                |
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
mod params;
mod security;
pub mod seed;
mod server;
#[cfg(feature = "testing")]
pub mod testing;
mod time_value;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use error::SimError;
pub use seed::{EsVersion, Profile, Seed};

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

/// A running simulator. Dropping it stops the server too; [`Simulator::shutdown`] also waits
/// for it.
pub struct Simulator {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

impl Simulator {
    /// Resolves the seed, binds and starts serving.
    pub async fn start(options: SimOptions) -> Result<Simulator, SimError> {
        let spec = options.seed.resolve(options.profile, options.es_version)?;
        let product_header = spec.version.sends_product_header();
        let security = spec.security.clone();
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
        let cluster = Cluster::new(spec);
        let app = Arc::new(api::App {
            cluster: cluster.clone(),
            security,
            faults: Mutex::new(faults),
        });
        let router = api::router(app);
        let (shutdown, stop) = oneshot::channel();
        let server = tokio::spawn(async move {
            server::serve(listener, router, product_header, stop).await;
            cluster.shutdown();
        });
        Ok(Simulator {
            addr,
            shutdown: Some(shutdown),
            server: Some(server),
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://HOST:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
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
