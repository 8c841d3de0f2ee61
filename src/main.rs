//! The `riverwatch` binary: a thin command line over the workspace crates.

mod cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Watches river water-quality sensors and turns what they report into case leads.
#[derive(Parser)]
#[command(name = "riverwatch", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a config directory and print the effective thresholds.
    Config(cmd::config::Args),
    /// Run the engine over a long CSV of readings and write events (and scores, leads).
    Detect(cmd::detect::Args),
    /// Decode payloads (one per stdin line) and print each reading or rejection as JSON.
    Decode(cmd::decode::Args),
    /// Simulate a river network: readings CSV plus ground truth JSONL.
    Simulate(cmd::simulate::Args),
    /// Score detected events (and leads) against a simulation's ground truth.
    Eval(cmd::eval::Args),
    /// List, show, decide on and export leads, through the service or the ledger file.
    Leads(cmd::leads::Args),
    /// Run the live service: MQTT ingest, store, engine, lead ledger and publication.
    Run(cmd::run::Args),
    /// Run the whole service in one process with an embedded broker and simulated stations.
    Demo(cmd::demo::Args),
    /// Check the ledger's hash chain, one lead (evidence, config, replay), or export its evidence bundle.
    Verify(cmd::verify::Args),
    /// Show the public key of the ledger's signing key (or generate a key).
    Keys(cmd::keys::Args),
    /// Run a past window through the engine into a report (leads, events, charts); never publishes.
    Replay(cmd::replay::Args),
    /// Replay a window for a grid of candidate thresholds and score each against labels.
    Tune(cmd::tune::Args),
    /// Fit per-station multivariate models (PCA or Gaussian mixture) on a window.
    Train(cmd::train::Args),
    /// Load generator and reference measurements for scripts/bench-e2e.sh.
    Bench(cmd::bench::Args),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                // The demo's embedded broker (rumqttd) logs every client disconnect, even a
                // clean DISCONNECT, at ERROR; a broker that fails to start is reported by the
                // demo itself. RUST_LOG=rumqttd=warn brings its messages back.
                .unwrap_or_else(|_| "info,rumqttd=off".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Config(a) => cmd::config::run(a),
        Command::Detect(a) => cmd::detect::run(a),
        Command::Decode(a) => cmd::decode::run(a),
        Command::Simulate(a) => cmd::simulate::run(a),
        Command::Eval(a) => cmd::eval::run(a),
        Command::Leads(a) => cmd::leads::run(a),
        Command::Run(a) => cmd::run::run(a),
        Command::Demo(a) => cmd::demo::run(a),
        Command::Verify(a) => cmd::verify::run(a),
        Command::Keys(a) => cmd::keys::run(a),
        Command::Replay(a) => cmd::replay::run(a),
        Command::Tune(a) => cmd::tune::run(a),
        Command::Train(a) => cmd::train::run(a),
        Command::Bench(a) => cmd::bench::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
