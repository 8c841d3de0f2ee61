//! [`Scripted`] (tests only): a real SQLite store whose writes first wait, and may then fail as
//! an unreachable InfluxDB does, as the test says per batch — so that concurrent writes finish
//! out of order, or one spools while another is stored.

use super::{ReadingStore, SqliteChunks, SqliteStore, StoreError, WriteReport};
use riverwatch_engine::time::Millis;
use riverwatch_engine::{Reading, StationId};
use std::sync::Mutex;
use std::time::Duration;

/// SQLite with scripted delays and failures.
pub(crate) struct Scripted {
    inner: SqliteStore,
    /// How long a write of this batch waits before it goes on.
    delay: fn(&[Reading]) -> Duration,
    /// Batches holding a reading of this station fail (HTTP 503) after their delay.
    down: Mutex<Option<StationId>>,
    /// The first reading of each batch SQLite took, in the order it took them.
    finished: Mutex<Vec<Reading>>,
}

impl Scripted {
    pub fn new(inner: SqliteStore, delay: fn(&[Reading]) -> Duration) -> Self {
        Self {
            inner,
            delay,
            down: Mutex::new(None),
            finished: Mutex::new(Vec::new()),
        }
    }

    /// Fail batches with a reading of `station` from now on (`None`: fail none).
    pub fn set_down(&self, station: Option<&str>) {
        *self.down.lock().unwrap() = station.map(StationId::from);
    }

    /// The first reading of each batch stored so far, in the order they were.
    pub fn finished(&self) -> Vec<Reading> {
        self.finished.lock().unwrap().clone()
    }
}

impl ReadingStore for Scripted {
    type Chunks = SqliteChunks;

    async fn write(&self, batch: &[Reading]) -> Result<WriteReport, StoreError> {
        tokio::time::sleep((self.delay)(batch)).await;
        let down = self.down.lock().unwrap().clone();
        if down.is_some_and(|s| batch.iter().any(|r| r.station == s)) {
            return Err(StoreError::Rejected {
                url: "scripted".into(),
                status: 503,
                body: "down".into(),
            });
        }
        let report = self.inner.write(batch).await?;
        if let Some(r) = batch.first() {
            self.finished.lock().unwrap().push(r.clone());
        }
        Ok(report)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }

    async fn newest_time(&self) -> Result<Option<Millis>, StoreError> {
        self.inner.newest_time().await
    }

    async fn query_chunks(
        &self,
        stations: &[StationId],
        from: Millis,
        to: Millis,
        chunk_size: usize,
    ) -> Result<SqliteChunks, StoreError> {
        self.inner
            .query_chunks(stations, from, to, chunk_size)
            .await
    }
}
