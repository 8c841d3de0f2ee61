//! Threshold reloads without a restart: `thresholds.toml` is re-read when its modification time
//! or size changes (checked every second) or on SIGHUP. A file that does not parse or validate
//! is refused with its error (file, line, key) and the thresholds in force stay; a good one is
//! sent to the engine stage, which applies it with `Engine::set_config`.

use riverwatch_engine::Config;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

const POLL: Duration = Duration::from_secs(1);

fn stamp(path: &PathBuf) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// Watches `path` until cancelled; each good new version goes to `tx`.
pub(crate) async fn watch_thresholds(
    path: PathBuf,
    tx: watch::Sender<Arc<Config>>,
    cancel: CancellationToken,
) {
    let mut hup = match signal(SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            warn!(error = %e, "no SIGHUP handler; reloading on file change only");
            None
        }
    };
    let mut last = stamp(&path);
    let mut tick = tokio::time::interval(POLL);
    loop {
        let forced = tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => false,
            Some(()) = async { match hup.as_mut() { Some(h) => h.recv().await, None => None } } => true,
        };
        let now = stamp(&path);
        if !forced && now == last {
            continue;
        }
        last = now;
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                error!(file = %path.display(), error = %e, "thresholds unreadable; keeping the ones in force");
                continue;
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
}
