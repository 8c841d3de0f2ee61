//! Store and spool errors: what failed, where, and whether waiting and retrying can help.

use std::path::PathBuf;

/// A store operation that failed as a whole (refused single readings are not errors: they are
/// reported in [`super::WriteReport`]).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No HTTP answer: connection refused or reset, timeout, DNS.
    #[error("influxdb {url} unreachable")]
    Unreachable {
        /// Endpoint.
        url: String,
        /// Cause.
        #[source]
        source: reqwest::Error,
    },
    /// InfluxDB answered with an error status.
    #[error("influxdb {url} answered HTTP {status}: {body}")]
    Rejected {
        /// Endpoint.
        url: String,
        /// HTTP status.
        status: u16,
        /// Error text from the body.
        body: String,
    },
    /// A query failed inside a successful HTTP answer, or the answer made no sense.
    #[error("influxdb query failed: {reason}")]
    Query {
        /// InfluxDB's statement error, or what was wrong with the answer.
        reason: String,
    },
    /// SQLite failed.
    #[error("sqlite {path}: {source}")]
    Sqlite {
        /// Database file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: rusqlite::Error,
    },
    /// The local spool failed.
    #[error(transparent)]
    Spool(#[from] SpoolError),
    /// A blocking task died (a bug, or the runtime is shutting down).
    #[error("store task failed: {0}")]
    Task(String),
}

impl StoreError {
    /// Whether the same request may succeed later without anyone changing anything.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable { .. } => true,
            Self::Rejected { status, .. } => *status >= 500 || matches!(status, 408 | 429),
            Self::Query { .. } | Self::Task(_) => false,
            Self::Sqlite { source, .. } => matches!(
                source.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ),
            Self::Spool(e) => e.is_transient(),
        }
    }

    /// Whether the data itself is at fault (the whole request is malformed), so keeping it for
    /// later is pointless. Everything else — outages, wrong credentials, a missing database —
    /// is the deployment's fault, and the spool keeps the readings until it is fixed.
    pub fn is_bad_data(&self) -> bool {
        matches!(
            self,
            Self::Rejected {
                status: 400 | 413,
                ..
            }
        )
    }
}

/// A spool failure.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// Reading, writing or syncing a spool file failed.
    #[error("spool {path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Appending would pass the configured bound.
    #[error("spool {path} is full ({used} of {max} bytes used, record of {record} bytes)")]
    Full {
        /// Spool file.
        path: PathBuf,
        /// Bytes waiting to be drained.
        used: u64,
        /// Bound.
        max: u64,
        /// Size of the refused record.
        record: u64,
    },
    /// One batch is larger than a record may be (256 MiB): split it.
    #[error("spool {path}: a batch of {record} bytes is larger than one record may be")]
    TooLarge {
        /// Spool directory.
        path: PathBuf,
        /// Size of the refused record.
        record: u64,
    },
}

impl SpoolError {
    /// A full spool frees space as it drains; an I/O error needs a person.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Full { .. })
    }

    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

impl From<crate::blocking::TaskFailed> for StoreError {
    fn from(e: crate::blocking::TaskFailed) -> Self {
        Self::Task(e.0)
    }
}
