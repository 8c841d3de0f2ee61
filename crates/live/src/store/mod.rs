//! Where readings go and where replays read them back: InfluxDB ([`InfluxStore`]) or an
//! embedded SQLite file ([`SqliteStore`]), with a local disk spool ([`SpooledStore`]) in front
//! of InfluxDB so that an outage never loses an acknowledged reading.
//!
//! [`ReadingStore`] uses plain `impl Future + Send` returns rather than `async-trait` boxing:
//! callers are generic or go through [`AnyStore`], chosen from the config. Every store answers
//! queries in one total order — time, then station, then parameter — so the live service and
//! `replay` see the same sequence whichever store holds the data.
//!
//! Identity and exactly-once: a reading is identified by `(station, parameter, time)` in every
//! store (InfluxDB: same series + timestamp overwrites; SQLite: primary key with
//! `INSERT OR REPLACE`), so writing a batch twice stores it once. Retries and spool replays rely
//! on that instead of on delivery bookkeeping.

mod batch;
mod error;
mod influx;
mod influx_query;
pub mod line_protocol;
#[cfg(test)]
mod scripted;
mod spool;
mod spooled;
mod sqlite;
mod with_spooled;

pub use batch::Batcher;
pub use error::{SpoolError, StoreError};
pub use influx::{gzip, InfluxAuth, InfluxOpts, InfluxStore};
pub use influx_query::InfluxChunks;
#[cfg(test)]
pub(crate) use scripted::Scripted;
pub use spool::{Batches, Spool};
pub use spooled::{Durable, SpooledStore};
pub use sqlite::{SqliteChunks, SqliteStore};
pub use with_spooled::WithSpooled;

use riverwatch_engine::time::Millis;
use riverwatch_engine::{Reading, StationId};
use std::cmp::Ordering;
use std::future::Future;

/// Rows per chunk for [`ReadingStore::query`], which collects chunks.
pub const DEFAULT_CHUNK: usize = 10_000;

/// A reading the store refused, with the reason (for the dead-letter record).
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// The reading, when the store said which one; `None` when it only reported a count
    /// (InfluxDB's field type conflicts say `dropped=N`, not which lines).
    pub reading: Option<Reading>,
    /// Why.
    pub reason: String,
}

/// What a write did: the readings stored and those refused for their content. A refused
/// reading is final (a retry cannot help), so it is reported rather than retried.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteReport {
    /// Readings stored.
    pub stored: usize,
    /// Readings refused.
    pub rejected: Vec<Rejected>,
}

impl WriteReport {
    /// Adds another report's counts to this one.
    pub fn merge(&mut self, other: WriteReport) {
        self.stored += other.stored;
        self.rejected.extend(other.rejected);
    }
}

/// A store of readings.
pub trait ReadingStore: Send + Sync {
    /// Cursor over a query's answer, one bounded chunk at a time.
    type Chunks: ReadingChunks;

    /// Stores a batch. `Ok` means every reading not listed in the report's `rejected` is durable.
    fn write(
        &self,
        batch: &[Reading],
    ) -> impl Future<Output = Result<WriteReport, StoreError>> + Send;

    /// Readings of `stations` (empty: all) with `from <= time < to`, in chunks of at most about
    /// `chunk_size` readings, in [`reading_order`]. Memory stays bounded by the chunk size.
    fn query_chunks(
        &self,
        stations: &[StationId],
        from: Millis,
        to: Millis,
        chunk_size: usize,
    ) -> impl Future<Output = Result<Self::Chunks, StoreError>> + Send;

    /// Whether the store answers at all (InfluxDB `/ping`, SQLite a trivial query): the health
    /// probe behind `store_reachable`. Cheap; reads and writes nothing.
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The newest reading time the store holds (any station); `None` when it holds none.
    /// Readings written before the service started end there, so what it writes afterwards
    /// with later times is all there is beyond it.
    fn newest_time(&self) -> impl Future<Output = Result<Option<Millis>, StoreError>> + Send;

    /// Every reading of the window at once, in [`reading_order`] (use `query_chunks` for big windows).
    fn query(
        &self,
        stations: &[StationId],
        from: Millis,
        to: Millis,
    ) -> impl Future<Output = Result<Vec<Reading>, StoreError>> + Send {
        async move { all_chunks(self.query_chunks(stations, from, to, DEFAULT_CHUNK).await?).await }
    }
}

/// Every reading of a query's chunks, in one vector.
pub async fn all_chunks<C: ReadingChunks>(mut chunks: C) -> Result<Vec<Reading>, StoreError> {
    let mut all = Vec::new();
    while let Some(chunk) = chunks.next_chunk().await? {
        all.extend(chunk);
    }
    Ok(all)
}

/// A query's answer, read chunk by chunk.
pub trait ReadingChunks: Send {
    /// The next chunk (never empty), or `None` at the end.
    fn next_chunk(
        &mut self,
    ) -> impl Future<Output = Result<Option<Vec<Reading>>, StoreError>> + Send;
}

/// The order every store answers in: time, then station, then parameter.
pub fn reading_order(a: &Reading, b: &Reading) -> Ordering {
    (a.time, &a.station, &a.parameter).cmp(&(b.time, &b.station, &b.parameter))
}

/// The store the service config picks.
#[derive(Clone)]
pub enum AnyStore {
    /// InfluxDB.
    Influx(InfluxStore),
    /// Embedded SQLite.
    Sqlite(SqliteStore),
}

/// Chunks of an [`AnyStore`] query.
pub enum AnyChunks {
    /// From InfluxDB.
    Influx(InfluxChunks),
    /// From SQLite.
    Sqlite(SqliteChunks),
}

impl ReadingStore for AnyStore {
    type Chunks = AnyChunks;

    async fn write(&self, batch: &[Reading]) -> Result<WriteReport, StoreError> {
        match self {
            Self::Influx(s) => s.write(batch).await,
            Self::Sqlite(s) => s.write(batch).await,
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        match self {
            Self::Influx(s) => s.ping().await,
            Self::Sqlite(s) => s.ping().await,
        }
    }

    async fn newest_time(&self) -> Result<Option<Millis>, StoreError> {
        match self {
            Self::Influx(s) => s.newest_time().await,
            Self::Sqlite(s) => s.newest_time().await,
        }
    }

    async fn query_chunks(
        &self,
        stations: &[StationId],
        from: Millis,
        to: Millis,
        chunk_size: usize,
    ) -> Result<AnyChunks, StoreError> {
        Ok(match self {
            Self::Influx(s) => {
                AnyChunks::Influx(s.query_chunks(stations, from, to, chunk_size).await?)
            }
            Self::Sqlite(s) => {
                AnyChunks::Sqlite(s.query_chunks(stations, from, to, chunk_size).await?)
            }
        })
    }
}

impl ReadingChunks for AnyChunks {
    async fn next_chunk(&mut self) -> Result<Option<Vec<Reading>>, StoreError> {
        match self {
            Self::Influx(c) => c.next_chunk().await,
            Self::Sqlite(c) => c.next_chunk().await,
        }
    }
}
