//! The simulator's command line, shared by the `quiesce-sim` binary and `quiesce sim`: the
//! arguments, and serving until SIGINT or SIGTERM. The one line printed on stdout,
//! `listening on http://HOST:PORT` (`https://` with `--tls`), is what scripts wait for; with
//! `--tls` the path of the CA certificate follows on stderr, and while security is on the
//! control token of `/_sim/`. Listening beyond the loopback interface is warned about.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::{EsVersion, Profile, Seed, SimError, SimOptions, Simulator, TlsOptions};

/// Run the Elasticsearch ML simulator (for tests, demos and rehearsals).
#[derive(Debug, Clone, clap::Args)]
pub struct SimArgs {
    /// Address to listen on; port 0 picks a free port. Anything but a loopback address exposes
    /// the simulated cluster (and, unless the seed defines users, its `/_sim/` control
    /// endpoints) to the network: a warning says so.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9200")]
    pub listen: SocketAddr,

    /// Seed file (YAML) describing the cluster; without one the cluster starts empty.
    #[arg(long, value_name = "FILE")]
    pub seed: Option<PathBuf>,

    /// Elasticsearch version to behave as (overrides the seed), e.g. 7.13.0.
    #[arg(long, value_name = "X.Y.Z")]
    pub es_version: Option<EsVersion>,

    /// Latency profile (overrides the seed); `fast` when neither says.
    #[arg(long, value_enum)]
    pub profile: Option<Profile>,

    /// Serve HTTPS, with a certificate signed by a CA generated at start-up; the certificate
    /// covers `localhost`, `127.0.0.1` and `::1`.
    #[arg(long)]
    pub tls: bool,

    /// Where to write the CA certificate (PEM) with `--tls`; default: a file in the temporary
    /// directory, named on stderr.
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub ca_out: Option<PathBuf>,

    /// Another name (DNS name or IP address) the certificate covers; repeatable.
    #[arg(long = "tls-name", value_name = "NAME", requires = "tls")]
    pub tls_names: Vec<String>,
}

/// Why serving ended early.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ServeError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Sim(#[from] SimError),

    #[error("cannot write to stdout")]
    #[diagnostic(code(quiesce::output))]
    Output(#[source] std::io::Error),
}

impl SimArgs {
    /// Reads the seed, starts the simulator, prints `listening on URL` on stdout and serves
    /// until SIGINT or SIGTERM. Must run inside a tokio runtime.
    pub async fn serve(self) -> Result<(), ServeError> {
        let seed = match &self.seed {
            Some(path) => Seed::from_path(path).map_err(SimError::from)?,
            None => Seed::default(),
        };
        let options = SimOptions {
            listen: self.listen,
            seed,
            es_version: self.es_version,
            profile: self.profile,
        };
        let ca_out = self.ca_out.clone().unwrap_or_else(|| {
            let port = self.listen.port();
            std::env::temp_dir().join(format!("quiesce-sim-ca-{}-{port}.pem", std::process::id()))
        });
        let simulator = if self.tls {
            let tls = TlsOptions {
                extra_names: self.tls_names.clone(),
                ca_out: Some(ca_out.clone()),
            };
            Simulator::start_tls(options, tls).await?
        } else {
            Simulator::start(options).await?
        };
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on {}", simulator.base_url()).map_err(ServeError::Output)?;
        stdout.flush().map_err(ServeError::Output)?;
        drop(stdout);
        let mut stderr = std::io::stderr().lock();
        if !simulator.local_addr().ip().is_loopback() {
            let control = if simulator.control_token().is_some() {
                "`/_sim/` needs the control token below"
            } else {
                "the seed defines no users, so the ML API and the `/_sim/` control endpoints (faults, failing jobs, node restarts) take no credentials"
            };
            writeln!(
                stderr,
                "warning: listening on {} reaches beyond this machine: whoever can connect can read and change the simulated cluster; {control}. Use 127.0.0.1 unless other machines must reach it.",
                simulator.local_addr()
            )
            .map_err(ServeError::Output)?;
        }
        if let Some(token) = simulator.control_token() {
            writeln!(
                stderr,
                "control token for /_sim/ (security is on): send `{}: {token}`",
                crate::CONTROL_TOKEN_HEADER
            )
            .map_err(ServeError::Output)?;
        }
        drop(stderr);
        if self.tls {
            writeln!(
                std::io::stderr().lock(),
                "CA certificate (PEM): {}",
                ca_out.display()
            )
            .map_err(ServeError::Output)?;
        }
        shutdown_signal().await;
        simulator.shutdown().await;
        Ok(())
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
