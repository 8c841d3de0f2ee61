//! [`SqliteStore`]: readings in an embedded SQLite file, for a single machine and the demo
//! (no InfluxDB to run).
//!
//! Table `readings(station, parameter, time_ms, value, flag)` with primary key
//! `(station, parameter, time_ms)` — the same identity as an InfluxDB point — written with
//! `INSERT OR REPLACE`, so a batch written twice is stored once. WAL mode lets queries run
//! while a write is in progress; `synchronous = FULL` because a write's success is what lets
//! the MQTT ack go out. Queries page by key (`(time_ms, station, parameter) > last`) instead of
//! holding a cursor, so each chunk is one short blocking call.

use super::error::StoreError;
use super::{ReadingChunks, ReadingStore, Rejected, WriteReport};
use crate::blocking::locked;
use riverwatch_engine::time::Millis;
use riverwatch_engine::{DataFlag, Reading, StationId};
use rusqlite::{params_from_iter, types::Value, Connection};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS readings (
    station   TEXT    NOT NULL,
    parameter TEXT    NOT NULL,
    time_ms   INTEGER NOT NULL,
    value     REAL    NOT NULL,
    flag      TEXT    NOT NULL,
    PRIMARY KEY (station, parameter, time_ms)
) WITHOUT ROWID;
DROP INDEX IF EXISTS readings_by_time;
CREATE INDEX IF NOT EXISTS readings_by_time_covering
    ON readings (time_ms, station, parameter, value, flag);
";

/// Readings in a SQLite file. Clones share the connection.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    path: Arc<PathBuf>,
}

impl SqliteStore {
    /// Opens or creates the database at `path`. Blocking: call at start-up.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let err = |source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let conn = crate::sqlite_conn::open(path).map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            path: Arc::new(path.to_path_buf()),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl ReadingStore for SqliteStore {
    type Chunks = SqliteChunks;

    async fn write(&self, batch: &[Reading]) -> Result<WriteReport, StoreError> {
        let mut report = WriteReport::default();
        let mut ok = Vec::with_capacity(batch.len());
        for r in batch {
            if r.value.is_finite() {
                ok.push(r.clone());
            } else {
                report.rejected.push(Rejected {
                    reading: Some(r.clone()),
                    reason: format!("value {} is not a finite number", r.value),
                });
            }
        }
        let path = Arc::clone(&self.path);
        report.stored = locked(&self.conn, move |c| {
            insert(c, &ok).map_err(|source| StoreError::Sqlite {
                path: path.to_path_buf(),
                source,
            })
        })
        .await?;
        Ok(report)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let path = Arc::clone(&self.path);
        locked(&self.conn, move |c| {
            c.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|_| ())
            .map_err(|source| StoreError::Sqlite {
                path: path.to_path_buf(),
                source,
            })
        })
        .await
    }

    async fn newest_time(&self) -> Result<Option<Millis>, StoreError> {
        let path = Arc::clone(&self.path);
        locked(&self.conn, move |c| {
            c.query_row("SELECT max(time_ms) FROM readings", [], |r| {
                r.get::<_, Option<Millis>>(0)
            })
            .map_err(|source| StoreError::Sqlite {
                path: path.to_path_buf(),
                source,
            })
        })
        .await
    }

    async fn query_chunks(
        &self,
        stations: &[StationId],
        from: Millis,
        to: Millis,
        chunk_size: usize,
    ) -> Result<SqliteChunks, StoreError> {
        Ok(SqliteChunks {
            store: self.clone(),
            stations: stations.iter().map(|s| s.as_str().to_string()).collect(),
            from,
            to,
            chunk: chunk_size.max(1),
            after: None,
            done: false,
        })
    }
}

fn insert(c: &mut Connection, batch: &[Reading]) -> rusqlite::Result<usize> {
    let tx = c.transaction()?;
    {
        let mut st = tx.prepare_cached(
            "INSERT OR REPLACE INTO readings (station, parameter, time_ms, value, flag) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for r in batch {
            let mut flag = [0u8; 4];
            st.execute((
                r.station.as_str(),
                r.parameter.as_str(),
                r.time,
                r.value,
                &*r.flag.letter().encode_utf8(&mut flag),
            ))?;
        }
    }
    tx.commit()?;
    Ok(batch.len())
}

/// A SQLite query read page by page.
pub struct SqliteChunks {
    store: SqliteStore,
    stations: Vec<String>,
    from: Millis,
    to: Millis,
    chunk: usize,
    after: Option<(Millis, String, String)>,
    done: bool,
}

impl ReadingChunks for SqliteChunks {
    async fn next_chunk(&mut self) -> Result<Option<Vec<Reading>>, StoreError> {
        if self.done {
            return Ok(None);
        }
        // Always the time index: it hands rows out in the page's order, so a page costs its
        // own rows, and it holds every column asked for, so no row is looked up again in the
        // table (a file made before it had the narrower `readings_by_time`, replaced at open).
        // Left to itself, SQLite takes the primary key for `station IN (…)` and sorts: every
        // page then reads and sorts all the stations' rows of every time, inside the window or
        // not (a replay report's chart queries spent most of a year-long replay's time there;
        // issue 5).
        let mut sql = String::from(
            "SELECT station, parameter, time_ms, value, flag FROM readings INDEXED BY readings_by_time_covering \
             WHERE time_ms >= ? AND time_ms < ?",
        );
        // The page's lower time bound is the last row read: implied by the row-value test
        // below, but only a plain bound lets SQLite start its index range there (without it
        // every page rescans the window from its start: quadratic over a long window).
        let lower = self
            .after
            .as_ref()
            .map_or(self.from, |(t, _, _)| (*t).max(self.from));
        let mut args: Vec<Value> = vec![lower.into(), self.to.into()];
        if !self.stations.is_empty() {
            sql.push_str(&format!(
                " AND station IN ({})",
                vec!["?"; self.stations.len()].join(", ")
            ));
            args.extend(self.stations.iter().map(|s| Value::from(s.clone())));
        }
        if let Some((t, s, p)) = &self.after {
            sql.push_str(" AND (time_ms, station, parameter) > (?, ?, ?)");
            args.extend([
                Value::from(*t),
                Value::from(s.clone()),
                Value::from(p.clone()),
            ]);
        }
        sql.push_str(&format!(
            " ORDER BY time_ms, station, parameter LIMIT {}",
            self.chunk
        ));
        let path = Arc::clone(&self.store.path);
        let rows = locked(&self.store.conn, move |c| {
            select(c, &sql, args).map_err(|source| StoreError::Sqlite {
                path: path.to_path_buf(),
                source,
            })
        })
        .await?;
        if rows.len() < self.chunk {
            self.done = true;
        }
        if let Some(last) = rows.last() {
            self.after = Some((
                last.time,
                last.station.to_string(),
                last.parameter.to_string(),
            ));
        }
        Ok((!rows.is_empty()).then_some(rows))
    }
}

fn select(c: &mut Connection, sql: &str, args: Vec<Value>) -> rusqlite::Result<Vec<Reading>> {
    let mut st = c.prepare_cached(sql)?;
    let mut rows = st.query(params_from_iter(args))?;
    // A page holds a few stations and parameters many times over: their names are read as
    // borrowed text and shared, not allocated anew for every row.
    let (mut stations, mut params) = (Names::default(), Names::default());
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let flag = row.get_ref(4)?.as_str()?;
        out.push(Reading {
            station: stations.get(row.get_ref(0)?.as_str()?),
            parameter: params.get(row.get_ref(1)?.as_str()?),
            time: row.get(2)?,
            value: row.get(3)?,
            flag: flag
                .chars()
                .next()
                .map(DataFlag::from_letter)
                .unwrap_or_default(),
        });
    }
    Ok(out)
}

/// The names one page met so far, each made once.
struct Names<T>(HashMap<Box<str>, T>);

impl<T> Default for Names<T> {
    fn default() -> Self {
        Self(HashMap::new())
    }
}

impl<T: Clone + for<'a> From<&'a str>> Names<T> {
    fn get(&mut self, name: &str) -> T {
        if let Some(known) = self.0.get(name) {
            return known.clone();
        }
        let made = T::from(name);
        self.0.insert(name.into(), made.clone());
        made
    }
}
