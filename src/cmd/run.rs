//! `riverwatch run --config DIR`: the live service against a broker and a store, until SIGINT
//! or SIGTERM.

use anyhow::{Context, Result};
use riverwatch_engine::config::Config;
use riverwatch_live::{shutdown_signal, Service, ServiceConfig};
use std::path::PathBuf;
use std::process::ExitCode;

/// `run` options.
#[derive(clap::Args)]
pub struct Args {
    /// Config directory: riverwatch.toml (service), stations.toml, thresholds.toml, gb3838.toml
    /// (missing network files fall back to the shipped ones). thresholds.toml is reloaded when it
    /// changes or on SIGHUP.
    #[arg(long, default_value = "config")]
    config: PathBuf,
}

/// Runs `run`.
pub fn run(args: Args) -> Result<ExitCode> {
    let service_cfg = ServiceConfig::load(&args.config.join("riverwatch.toml"))?;
    let engine_cfg = Config::load_dir(&args.config)?;
    let thresholds = args.config.join("thresholds.toml");
    let thresholds = thresholds.is_file().then_some(thresholds);
    runtime()?.block_on(async {
        let service = Service::start(service_cfg, engine_cfg, thresholds).await?;
        serve(service).await
    })
}

/// The multi-threaded runtime the service runs on.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Serves a started service until SIGINT/SIGTERM and drains it. This is where the HTTP API
/// joins the service (`service.spawn("http", …)` with `service.handle()`), for `run` and
/// `demo` alike.
pub async fn serve(service: Service) -> Result<ExitCode> {
    service.run_until(shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}
