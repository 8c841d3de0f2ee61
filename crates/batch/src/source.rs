//! Where a historical window comes from: `csv:FILE`, `sqlite:PATH` or `influx` (the InfluxDB
//! of the service config). [`load`] holds a whole window (tune, train); [`Reader`] hands a
//! replay its window a slice at a time, reading the next slice while the engine replays one.
//! Store reads run on a small current-thread runtime of their own: the batch commands are
//! synchronous, only the store client is async.

use crate::frames::{self, FrameError, Window, CHUNK};
use crate::read_ahead;
use polars::prelude::DataFrame;
use riverwatch_engine::time::Millis;
use riverwatch_engine::{Reading, StationId};
use riverwatch_live::store::{AnyStore, InfluxStore, SqliteStore};
use riverwatch_live::ServiceConfig;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

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

/// Readings a sliced replay holds at once (see [`Reader::for_each_slice`]): two store chunks.
/// Slicing by count, not by time span, bounds memory whatever the stations' sampling rate.
pub const SLICE: usize = 2 * CHUNK;

/// Loads `window` from `source` into a frame; returns it with the count of unparsable CSV lines.
/// The whole window is held: for tune and train, which go over it many times.
pub fn load(
    source: &Source,
    window: &Window,
    service: Option<&ServiceConfig>,
) -> Result<(DataFrame, u64), SourceError> {
    match origin(source, service)? {
        Origin::Csv(path) => Ok(frames::load_csv(path, window)?),
        Origin::Store(store) => Ok((
            runtime()?.block_on(frames::load_store(&store, window, CHUNK))?,
            0,
        )),
    }
}

/// A window opened for a replay: read in slices for the engine, and looked up lead by lead for
/// the report's charts. A store window is never held whole; a CSV window (a local file the
/// user chose) is read into memory once and handed out the same way.
pub struct Reader {
    window: Window,
    held: Held,
    rt: tokio::runtime::Runtime,
    unparsable: u64,
}

enum Held {
    Memory(Vec<Reading>),
    Store(AnyStore),
}

impl Reader {
    /// Opens `window` of `source` (a CSV is read here; a store is only connected to).
    pub fn open(
        source: &Source,
        window: &Window,
        service: Option<&ServiceConfig>,
    ) -> Result<Self, SourceError> {
        let (held, unparsable) = match origin(source, service)? {
            Origin::Store(store) => (Held::Store(store), 0),
            Origin::Csv(path) => {
                let (df, bad) = frames::load_csv(path, window)?;
                (Held::Memory(frames::readings(&df)?), bad)
            }
        };
        Ok(Self {
            window: window.clone(),
            held,
            rt: runtime()?,
            unparsable,
        })
    }

    /// CSV lines that did not parse (0 for a store).
    pub fn unparsable(&self) -> u64 {
        self.unparsable
    }

    /// Hands the window to `f` in event-time order, about `slice` readings at a time (each a
    /// frame of the store's chunks, sorted as the whole-window frame is); returns how many
    /// readings there were. A store window is read on a thread of its own one slice ahead of
    /// `f` ([`read_ahead`]): at most two slices are alive at a time.
    pub fn for_each_slice(
        &self,
        slice: usize,
        f: &mut dyn FnMut(&[Reading]),
    ) -> Result<u64, SourceError> {
        match &self.held {
            Held::Memory(all) => {
                all.chunks(slice.max(1)).for_each(&mut *f);
                Ok(all.len() as u64)
            }
            Held::Store(store) => std::thread::scope(|scope| {
                let (tx, mut rx) = read_ahead::channel();
                let chunk = CHUNK.min(slice.max(1));
                let reader = scope.spawn(move || {
                    self.rt.block_on(read_ahead::read_slices(
                        store,
                        &self.window,
                        chunk,
                        slice,
                        tx,
                    ))
                });
                while let Some(readings) = rx.blocking_recv() {
                    f(&readings);
                }
                match reader.join() {
                    Ok(read) => Ok(read?),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }),
        }
    }

    /// The window's readings of `stations` with `from <= time < to`, in event-time order: one
    /// store query (the readings one lead's chart draws). No stations, no readings.
    pub fn readings(
        &self,
        stations: &[StationId],
        from: Millis,
        to: Millis,
    ) -> Result<Vec<Reading>, SourceError> {
        let stations: Vec<StationId> = stations
            .iter()
            .filter(|s| self.window.stations.is_empty() || self.window.stations.contains(s))
            .cloned()
            .collect();
        let (from, to) = (from.max(self.window.from), to.min(self.window.to));
        if stations.is_empty() || to <= from {
            return Ok(Vec::new());
        }
        let part = Window { from, to, stations };
        match &self.held {
            Held::Memory(all) => {
                let lo = all.partition_point(|r| r.time < from);
                let hi = all.partition_point(|r| r.time < to).max(lo);
                Ok(all[lo..hi]
                    .iter()
                    .filter(|r| part.contains(r))
                    .cloned()
                    .collect())
            }
            Held::Store(store) => {
                let df = self.rt.block_on(frames::load_store(store, &part, CHUNK))?;
                Ok(frames::readings(&df)?)
            }
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, SourceError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(SourceError::Runtime)
}

/// Where a source's readings are: a CSV file, or a store (connected to).
enum Origin<'a> {
    Csv(&'a Path),
    Store(AnyStore),
}

fn origin<'a>(
    source: &'a Source,
    service: Option<&ServiceConfig>,
) -> Result<Origin<'a>, SourceError> {
    match source {
        Source::Csv(p) => Ok(Origin::Csv(p)),
        Source::Sqlite(p) => Ok(Origin::Store(AnyStore::Sqlite(SqliteStore::open(p)?))),
        Source::Influx => {
            let Some(riverwatch_live::config::StoreKind::Influx(cfg)) =
                service.map(|s| &s.store.kind)
            else {
                return Err(SourceError::NoInflux);
            };
            let lines = NonZeroUsize::new(CHUNK).unwrap_or(NonZeroUsize::MIN);
            Ok(Origin::Store(AnyStore::Influx(InfluxStore::new(
                cfg.opts(lines),
            )?)))
        }
    }
}
