//! Historical windows as polars frames: one row per reading, columns `time` (i64 ms UTC),
//! `station`, `parameter` (strings), `value` (f64) and `flag` (the HJ 212 letter).
//!
//! A window comes from a long CSV (the `detect` contract) or from a reading store (SQLite or
//! InfluxDB through `query_chunks`, so a year-long window is fetched a bounded chunk at a time,
//! and [`Slices`] hands it on a bounded frame at a time instead of as one frame).
//! The frame is sorted by time with a stable sort: readings of one instant keep their source
//! order, stations stay interleaved as they would arrive live. [`readings`] turns a frame back
//! into engine [`Reading`]s, interning station and parameter names once.

use polars::prelude::*;
use riverwatch_engine::csv::LineReader;
use riverwatch_engine::time::Millis;
use riverwatch_engine::{DataFlag, ParamId, Reading, StationId};
use riverwatch_live::store::{ReadingChunks, ReadingStore, StoreError};
use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// Readings fetched from a store per round trip.
pub const CHUNK: usize = 50_000;

/// Which readings a window holds: `from <= time < to`, of `stations` (empty: all).
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// First instant, ms.
    pub from: Millis,
    /// End instant (exclusive), ms.
    pub to: Millis,
    /// Stations kept; empty keeps every station.
    pub stations: Vec<StationId>,
}

impl Window {
    /// Whether a reading falls in the window.
    pub fn contains(&self, r: &Reading) -> bool {
        r.time >= self.from
            && r.time < self.to
            && (self.stations.is_empty() || self.stations.contains(&r.station))
    }
}

/// Why a window could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The CSV could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The store query failed.
    #[error("store query failed: {0}")]
    Store(#[from] StoreError),
    /// polars refused the frame (a column missing or of the wrong type).
    #[error("frame: {0}")]
    Polars(#[from] PolarsError),
}

/// Column buffers filled reading by reading, turned into a frame at the end. Names are kept
/// as the readings' shared ids (no text copied per row) until polars copies them in.
#[derive(Default)]
struct Columns {
    time: Vec<i64>,
    station: Vec<StationId>,
    parameter: Vec<ParamId>,
    value: Vec<f64>,
    flag: Vec<DataFlag>,
}

impl Columns {
    fn push(&mut self, r: &Reading) {
        self.time.push(r.time);
        self.station.push(r.station.clone());
        self.parameter.push(r.parameter.clone());
        self.value.push(r.value);
        self.flag.push(r.flag);
    }

    fn into_frame(self) -> Result<DataFrame, FrameError> {
        let height = self.time.len();
        let mut letters: HashMap<DataFlag, String> = HashMap::new();
        for f in &self.flag {
            letters.entry(*f).or_insert_with(|| f.letter().to_string());
        }
        let flag: Vec<&str> = self
            .flag
            .iter()
            .map(|f| letters.get(f).map_or("", String::as_str))
            .collect();
        let station: Vec<&str> = self.station.iter().map(StationId::as_str).collect();
        let parameter: Vec<&str> = self.parameter.iter().map(ParamId::as_str).collect();
        let df = DataFrame::new(
            height,
            vec![
                Column::new("time".into(), self.time),
                Column::new("station".into(), station),
                Column::new("parameter".into(), parameter),
                Column::new("value".into(), self.value),
                Column::new("flag".into(), flag),
            ],
        )?;
        Ok(df.sort(
            ["time"],
            SortMultipleOptions::new().with_maintain_order(true),
        )?)
    }
}

/// Loads the window from a long CSV (`time,station,parameter,value[,flag]`). Lines that do not
/// parse are counted and skipped, as `detect` does; the count is returned with the frame.
pub fn load_csv(path: &Path, window: &Window) -> Result<(DataFrame, u64), FrameError> {
    let io = |source| FrameError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut input = std::io::BufReader::with_capacity(1 << 20, file);
    let mut parser = LineReader::default();
    let (mut cols, mut line, mut bad) = (Columns::default(), Vec::new(), 0u64);
    for lineno in 1.. {
        line.clear();
        if input.read_until(b'\n', &mut line).map_err(io)? == 0 {
            break;
        }
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        if text.is_empty() || (lineno == 1 && LineReader::is_header(&String::from_utf8_lossy(text)))
        {
            continue;
        }
        match parser.parse_bytes(text) {
            Ok(r) if window.contains(&r) => cols.push(&r),
            Ok(_) => {}
            Err(_) => bad += 1,
        }
    }
    Ok((cols.into_frame()?, bad))
}

/// Loads the window from a store, `chunk` readings per round trip.
pub async fn load_store<S: ReadingStore>(
    store: &S,
    window: &Window,
    chunk: usize,
) -> Result<DataFrame, FrameError> {
    let mut slices = Slices::open(store, window, chunk, usize::MAX).await?;
    match slices.next_frame().await? {
        Some(df) => Ok(df),
        None => Columns::default().into_frame(),
    }
}

/// A store window read as consecutive frames of at least `slice` readings (the last may hold
/// fewer; one may exceed `slice` by up to a chunk), each sorted as [`load_store`] sorts the
/// whole window. The store answers in one total order (time, station, parameter), so the
/// frames laid end to end are exactly the whole-window frame: a replay fed slice by slice sees
/// the same sequence, and memory holds one slice instead of the window.
pub struct Slices<C> {
    chunks: C,
    window: Window,
    slice: usize,
    done: bool,
}

impl<C: ReadingChunks> Slices<C> {
    /// Starts the window's query, `chunk` readings per round trip, `slice` readings per frame.
    pub async fn open<S: ReadingStore<Chunks = C>>(
        store: &S,
        window: &Window,
        chunk: usize,
        slice: usize,
    ) -> Result<Self, FrameError> {
        let chunks = store
            .query_chunks(&window.stations, window.from, window.to, chunk.max(1))
            .await?;
        Ok(Self {
            chunks,
            window: window.clone(),
            slice: slice.max(1),
            done: false,
        })
    }

    /// The next frame, or `None` once the window is read.
    pub async fn next_frame(&mut self) -> Result<Option<DataFrame>, FrameError> {
        let mut cols = Columns::default();
        while !self.done && cols.time.len() < self.slice {
            match self.chunks.next_chunk().await? {
                Some(batch) => batch
                    .iter()
                    .filter(|r| self.window.contains(r))
                    .for_each(|r| cols.push(r)),
                None => self.done = true,
            }
        }
        if cols.time.is_empty() {
            return Ok(None);
        }
        cols.into_frame().map(Some)
    }
}

/// The frame's rows as engine readings, in frame order. Missing values (nulls) are skipped.
pub fn readings(df: &DataFrame) -> Result<Vec<Reading>, FrameError> {
    let time = df.column("time")?.i64()?;
    let station = df.column("station")?.str()?;
    let parameter = df.column("parameter")?.str()?;
    let value = df.column("value")?.f64()?;
    let flag = df.column("flag")?.str()?;
    let mut stations: HashMap<&str, StationId> = HashMap::new();
    let mut params: HashMap<&str, ParamId> = HashMap::new();
    let mut out = Vec::with_capacity(df.height());
    let rows = time
        .iter()
        .zip(station.iter())
        .zip(parameter.iter())
        .zip(value.iter())
        .zip(flag.iter());
    for ((((t, s), p), v), f) in rows {
        let (Some(t), Some(s), Some(p), Some(v)) = (t, s, p, v) else {
            continue;
        };
        let station = stations
            .entry(s)
            .or_insert_with(|| StationId::new(s))
            .clone();
        let parameter = params.entry(p).or_insert_with(|| ParamId::new(p)).clone();
        let flag = f
            .and_then(|f| f.chars().next())
            .map_or(DataFlag::default(), DataFlag::from_letter);
        out.push(Reading {
            station,
            parameter,
            time: t,
            value: v,
            flag,
        });
    }
    Ok(out)
}
