//! `quiesce sim`: runs the Elasticsearch ML simulator until SIGINT or SIGTERM. The one line it
//! prints on stdout, `listening on http://HOST:PORT`, is what scripts wait for.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::error::Error;
use crate::exit_code;
use crate::sim::{EsVersion, Profile, Seed, SimError, SimOptions, Simulator};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9200")]
    listen: SocketAddr,

    /// Seed file (YAML) describing the cluster; without one the cluster starts empty.
    #[arg(long, value_name = "FILE")]
    seed: Option<PathBuf>,

    /// Elasticsearch version to behave as (overrides the seed), e.g. 7.13.0.
    #[arg(long, value_name = "X.Y.Z")]
    es_version: Option<EsVersion>,

    /// Latency profile (overrides the seed); `fast` when neither says.
    #[arg(long, value_enum)]
    profile: Option<Profile>,
}

pub(crate) fn run(args: Args) -> Result<i32, Error> {
    let seed = match &args.seed {
        Some(path) => Seed::from_path(path).map_err(SimError::from)?,
        None => Seed::default(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|err| Error::Internal(format!("cannot start the async runtime: {err}")))?;
    runtime.block_on(async {
        let simulator = Simulator::start(SimOptions {
            listen: args.listen,
            seed,
            es_version: args.es_version,
            profile: args.profile,
        })
        .await?;
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on {}", simulator.base_url()).map_err(Error::Output)?;
        stdout.flush().map_err(Error::Output)?;
        drop(stdout);
        shutdown_signal().await;
        simulator.shutdown().await;
        Ok(exit_code::SUCCESS)
    })
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
