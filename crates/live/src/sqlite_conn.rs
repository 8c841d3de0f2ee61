//! How every SQLite file of the service is opened: WAL (readers do not wait for the writer),
//! `synchronous = FULL` (a committed write survives power loss: acks and lead publication
//! depend on it), and a busy timeout instead of instant `SQLITE_BUSY` errors.

use rusqlite::Connection;
use std::path::Path;
use std::time::Duration;

/// Opens or creates `path` with the service's settings; creates the parent directory.
pub(crate) fn open(path: &Path) -> rusqlite::Result<Connection> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // A failure here shows up as SQLite's own "unable to open" error just below.
        let _ = std::fs::create_dir_all(dir);
    }
    let conn = Connection::open(path)?;
    conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.busy_timeout(Duration::from_secs(5))?;
    Ok(conn)
}
