//! The ledger's schema and its forward-only migrations, versioned by `PRAGMA user_version`.
//!
//! Migration `n` (1-based) brings a file from version `n - 1` to `n` inside one transaction, so
//! a crash mid-migration leaves the previous version intact. Never edit a shipped migration;
//! append a new one. A file newer than this binary knows is refused rather than guessed at.

use super::LedgerError;
use rusqlite::Connection;
use std::path::Path;

/// Every migration, oldest first; the schema version is the number applied.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: leads, their revisions, analyst status history, dead letters.
    "
    CREATE TABLE leads (
        id                 TEXT    PRIMARY KEY,
        revision           INTEGER NOT NULL,
        category           TEXT    NOT NULL,
        station            TEXT    NOT NULL,
        status             TEXT    NOT NULL,
        window_start_ms    INTEGER NOT NULL,
        window_end_ms      INTEGER NOT NULL,
        json               TEXT    NOT NULL,
        created_ms         INTEGER NOT NULL,
        updated_ms         INTEGER NOT NULL,
        published_revision INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX leads_by_window ON leads (window_start_ms DESC, id);
    CREATE INDEX leads_by_status ON leads (status);
    CREATE INDEX leads_by_station ON leads (station);
    CREATE TABLE lead_revisions (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        id           TEXT    NOT NULL,
        revision     INTEGER NOT NULL,
        json         TEXT    NOT NULL,
        recorded_ms  INTEGER NOT NULL,
        published_ms INTEGER,
        UNIQUE (id, revision)
    );
    CREATE INDEX lead_revisions_unpublished ON lead_revisions (seq) WHERE published_ms IS NULL;
    CREATE TABLE status_history (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        id          TEXT    NOT NULL,
        time_ms     INTEGER NOT NULL,
        analyst     TEXT    NOT NULL,
        from_status TEXT    NOT NULL,
        to_status   TEXT    NOT NULL,
        note        TEXT    NOT NULL
    );
    CREATE INDEX status_history_by_lead ON status_history (id, seq);
    CREATE TABLE dead_letters (
        seq     INTEGER PRIMARY KEY AUTOINCREMENT,
        time_ms INTEGER NOT NULL,
        topic   TEXT    NOT NULL,
        reason  TEXT    NOT NULL,
        payload BLOB    NOT NULL
    );
    ",
    // 2: evidence integrity (issue 7): one hash chain over every sealed row, the config texts
    // leads were made with, and where sealing started (rows before it are not covered).
    "
    CREATE TABLE chain (
        seq       INTEGER PRIMARY KEY AUTOINCREMENT,
        kind      TEXT    NOT NULL,
        subject   TEXT    NOT NULL,
        body      TEXT    NOT NULL,
        prev      TEXT    NOT NULL,
        digest    TEXT    NOT NULL,
        signature TEXT,
        key       TEXT
    );
    CREATE INDEX chain_by_subject ON chain (kind, subject);
    CREATE TABLE configs (
        hash       TEXT PRIMARY KEY,
        origin     TEXT NOT NULL,
        stations   TEXT NOT NULL,
        thresholds TEXT NOT NULL,
        gb3838     TEXT NOT NULL
    );
    CREATE TABLE seal_start (
        revisions_upto    INTEGER NOT NULL,
        dead_letters_upto INTEGER NOT NULL
    );
    INSERT INTO seal_start
        SELECT (SELECT coalesce(max(seq), 0) FROM lead_revisions),
               (SELECT coalesce(max(seq), 0) FROM dead_letters);
    ",
    // 3: analysts' decisions join the chain (issue 7); those recorded before are not covered.
    "
    ALTER TABLE seal_start ADD COLUMN decisions_upto INTEGER NOT NULL DEFAULT 0;
    UPDATE seal_start SET decisions_upto = (SELECT coalesce(max(seq), 0) FROM status_history);
    ",
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the file up to [`SCHEMA_VERSION`].
pub(super) fn migrate(c: &mut Connection, path: &Path) -> Result<(), LedgerError> {
    let err = |source| LedgerError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let found: i64 = c
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(err)?;
    if found > SCHEMA_VERSION {
        return Err(LedgerError::TooNew {
            path: path.to_path_buf(),
            found,
            known: SCHEMA_VERSION,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        let tx = c.transaction().map_err(err)?;
        tx.execute_batch(sql).map_err(err)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)
            .map_err(err)?;
        tx.commit().map_err(err)?;
    }
    Ok(())
}
