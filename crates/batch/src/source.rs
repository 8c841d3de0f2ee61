//! Where a historical window comes from: `csv:FILE`, `sqlite:PATH` or `influx` (the InfluxDB
//! of the service config). Store reads run on a small current-thread runtime of their own:
//! the batch commands are synchronous, only the store client is async.

use crate::frames::{self, FrameError, Window, CHUNK};
use polars::prelude::DataFrame;
use riverwatch_live::store::{InfluxStore, SqliteStore};
use riverwatch_live::ServiceConfig;
use std::num::NonZeroUsize;
use std::path::PathBuf;

/// A window source.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A long CSV (the `detect` contract).
    Csv(PathBuf),
    /// An embedded SQLite reading store.
    Sqlite(PathBuf),
    /// The InfluxDB named in the service config.
    Influx,
}

impl Source {
    /// Reads `csv:FILE`, `sqlite:PATH` or `influx`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.split_once(':') {
            Some(("csv", p)) if !p.is_empty() => Ok(Self::Csv(p.into())),
            Some(("sqlite", p)) if !p.is_empty() => Ok(Self::Sqlite(p.into())),
            None if s == "influx" => Ok(Self::Influx),
            _ => Err(format!(
                "`{s}` is not a source (csv:FILE, sqlite:PATH or influx)"
            )),
        }
    }
}

/// Why a window could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Reading or querying failed.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The store could not be opened.
    #[error("opening the store: {0}")]
    Open(#[from] riverwatch_live::StoreError),
    /// `influx` without an InfluxDB in the service config.
    #[error("--source influx needs a service config whose store is InfluxDB")]
    NoInflux,
    /// The runtime for store reads could not start.
    #[error("starting the store runtime: {0}")]
    Runtime(std::io::Error),
}

/// Loads `window` from `source` into a frame; returns it with the count of unparsable CSV lines.
pub fn load(
    source: &Source,
    window: &Window,
    service: Option<&ServiceConfig>,
) -> Result<(DataFrame, u64), SourceError> {
    let rt = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(SourceError::Runtime)
    };
    match source {
        Source::Csv(p) => Ok(frames::load_csv(p, window)?),
        Source::Sqlite(p) => {
            let store = SqliteStore::open(p)?;
            Ok((
                rt()?.block_on(frames::load_store(&store, window, CHUNK))?,
                0,
            ))
        }
        Source::Influx => {
            let Some(riverwatch_live::config::StoreKind::Influx(cfg)) =
                service.map(|s| &s.store.kind)
            else {
                return Err(SourceError::NoInflux);
            };
            let lines = NonZeroUsize::new(CHUNK).unwrap_or(NonZeroUsize::MIN);
            let store = InfluxStore::new(cfg.opts(lines))?;
            Ok((
                rt()?.block_on(frames::load_store(&store, window, CHUNK))?,
                0,
            ))
        }
    }
}
