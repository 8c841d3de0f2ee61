//! `riverwatch run --config DIR`: the live service against a broker and a store, until SIGINT
//! or SIGTERM.

use anyhow::{Context, Result};
use riverwatch_engine::config::Config;
use riverwatch_live::api;
use riverwatch_live::config::HttpConfig;
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
    let http = service_cfg.http.clone();
    runtime()?.block_on(async {
        let service = Service::start(service_cfg, engine_cfg, thresholds).await?;
        serve(service, &http).await
    })
}

/// The multi-threaded runtime the service runs on.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Serves a started service, with its HTTP API on `http.listen` (replays included), until
/// SIGINT/SIGTERM, and drains it; `run` and `demo` alike.
pub async fn serve(mut service: Service, http: &HttpConfig) -> Result<ExitCode> {
    let h = service.handle();
    let replay = riverwatch_batch::api::for_service(&h);
    let state = h.api_state(http.api_token.clone(), Some(replay));
    let listener = tokio::net::TcpListener::bind(http.listen)
        .await
        .with_context(|| format!("cannot listen on {}", http.listen))?;
    let cancel = service.cancel_token();
    service.spawn("http", async move {
        if let Err(e) = api::serve(listener, state, cancel).await {
            tracing::error!(error = %e, "http api stopped");
        }
    });
    service.run_until(shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}
