//! Reloads without a restart, of the thresholds and of the trained models. Every second the
//! watcher looks at `thresholds.toml` (modification time and size) and at the models directory
//! (the `*.json` files' names, times and sizes); SIGHUP forces both to be read again.
//!
//! A thresholds file that does not parse or validate is refused with its error (file, line,
//! key) and the thresholds in force stay; a good one is sent to the engine stage, which applies
//! it with `Engine::set_config`. The models directory is read with the rules of `models`
//! (unusable files logged, counted and left out) and the set that could be read replaces the
//! one in force through `Engine::set_models`: removing a file takes its model out of use.

use super::models;
use crate::metrics::Metrics;
use riverwatch_engine::models::MultivariateModel;
use riverwatch_engine::Config;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

const POLL: Duration = Duration::from_secs(1);

/// A set of trained models, as the engine stage receives it.
pub(crate) type Models = Arc<Vec<MultivariateModel>>;

/// What the watcher watches, and where each new version goes.
pub(crate) struct Watched {
    /// `thresholds.toml` and the engine config it updates.
    pub thresholds: Option<(PathBuf, watch::Sender<Arc<Config>>)>,
    /// The models directory and the model sets read from it.
    pub models: Option<(PathBuf, watch::Sender<Models>)>,
    /// Counts unusable model files.
    pub metrics: Arc<Metrics>,
}

fn stamp(path: &PathBuf) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// Watches until cancelled (module doc).
pub(crate) async fn watch_reloads(w: Watched, cancel: CancellationToken) {
    let mut hup = match signal(SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            warn!(error = %e, "no SIGHUP handler; reloading on file change only");
            None
        }
    };
    let mut last_thresholds = w.thresholds.as_ref().map(|(p, _)| stamp(p));
    let mut last_models = w.models.as_ref().map(|(d, _)| models::stamp(d));
    let mut tick = tokio::time::interval(POLL);
    loop {
        let forced = tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => false,
            Some(()) = async { match hup.as_mut() { Some(h) => h.recv().await, None => None } } => true,
        };
        if forced {
            info!("SIGHUP: reloading thresholds and models");
        }
        if let Some((path, tx)) = &w.thresholds {
            let now = Some(stamp(path));
            if forced || now != last_thresholds {
                last_thresholds = now;
                reload_thresholds(path, tx);
            }
        }
        if let Some((dir, tx)) = &w.models {
            let now = Some(models::stamp(dir));
            if forced || now != last_models {
                last_models = now;
                let _ = tx.send(Arc::new(models::load(dir, &w.metrics)));
            }
        }
    }
}

fn reload_thresholds(path: &PathBuf, tx: &watch::Sender<Arc<Config>>) {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            error!(file = %path.display(), error = %e, "thresholds unreadable; keeping the ones in force");
            return;
        }
    };
    let current = Arc::clone(&tx.borrow());
    match current.with_thresholds_text(&text) {
        Ok(cfg) if cfg.hash == current.hash => {
            info!(file = %path.display(), "thresholds unchanged");
        }
        Ok(cfg) => {
            let _ = tx.send(Arc::new(cfg));
        }
        Err(e) => {
            error!(error = %e, "thresholds refused; keeping the ones in force");
        }
    }
}
