//! `quiesce-sim`: the Elasticsearch ML simulator on its own, for any client to be tested
//! against. The same as `quiesce sim`.

use clap::Parser;

/// An Elasticsearch machine-learning API simulator: jobs, datafeeds, upgrade mode, security and
/// faults over real HTTP. Prints `listening on http://HOST:PORT`, then serves until SIGINT or
/// SIGTERM.
#[derive(Debug, Parser)]
#[command(name = "quiesce-sim", version, about, max_term_width = 100)]
struct Cli {
    #[command(flatten)]
    args: quiesce_sim::cli::SimArgs,
}

fn main() -> miette::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|err| miette::miette!("cannot start the async runtime: {err}"))?;
    runtime.block_on(cli.args.serve())?;
    Ok(())
}
