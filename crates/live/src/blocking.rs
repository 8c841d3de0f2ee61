//! Running blocking work (SQLite, spool files) off the async runtime, on state behind a mutex.
//!
//! One helper for the SQLite store, the ledger and the spool: each owns its handle in an
//! `Arc<Mutex<_>>`, and every call moves a closure to `spawn_blocking`, so async callers (the
//! store stage, HTTP handlers) never block a runtime thread on disk I/O.

use std::sync::{Arc, Mutex};

/// A blocking task that panicked or was cancelled, or a poisoned lock.
#[derive(Debug)]
pub struct TaskFailed(pub String);

/// Runs `f` on the locked value in the blocking pool.
pub(crate) async fn locked<T, R, E>(
    state: &Arc<Mutex<T>>,
    f: impl FnOnce(&mut T) -> Result<R, E> + Send + 'static,
) -> Result<R, E>
where
    T: Send + 'static,
    R: Send + 'static,
    E: From<TaskFailed> + Send + 'static,
{
    let state = Arc::clone(state);
    let run = move || {
        let mut guard = state
            .lock()
            .map_err(|_| TaskFailed("a previous call panicked holding the lock".into()))?;
        f(&mut guard)
    };
    match tokio::task::spawn_blocking(run).await {
        Ok(r) => r,
        Err(e) => Err(TaskFailed(e.to_string()).into()),
    }
}
