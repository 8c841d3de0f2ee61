//! What the running service knows about its own state, for `/healthz`, `/readyz` and
//! `/api/stations`: whether the broker connection is up, whether the reading store answers (a
//! probe pings it every second), whether start-up (replay of the recent window, re-sending
//! unpublished leads) is done, and when each station last reported.
//!
//! Stages write it, the HTTP API reads it; it is observation only — no stage reads it to make
//! a decision, so it is shared state, not a channel between stages.

use riverwatch_engine::time::Millis;
use riverwatch_engine::{Reading, StationId};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Shared, cheap to clone.
#[derive(Clone, Default)]
pub struct Health {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    ingest_connected: AtomicBool,
    store_reachable: AtomicBool,
    ready: AtomicBool,
    last_seen: Mutex<BTreeMap<StationId, Millis>>,
}

/// A point-in-time copy of [`Health`].
#[derive(Debug, Clone, PartialEq)]
pub struct HealthSnapshot {
    /// The MQTT ingest connection is up (CONNACK received, not lost since).
    pub ingest_connected: bool,
    /// The reading store answered its last probe (InfluxDB `/ping`, SQLite a trivial query).
    pub store_reachable: bool,
    /// Start-up is done: the engine replayed the recent window and intake is running.
    pub ready: bool,
    /// Per station, the newest reading time the engine has seen.
    pub last_seen: BTreeMap<StationId, Millis>,
}

impl Health {
    /// A copy of the current state.
    pub fn snapshot(&self) -> HealthSnapshot {
        HealthSnapshot {
            ingest_connected: self.inner.ingest_connected.load(Ordering::Relaxed),
            store_reachable: self.inner.store_reachable.load(Ordering::Relaxed),
            ready: self.inner.ready.load(Ordering::Relaxed),
            last_seen: self
                .inner
                .last_seen
                .lock()
                .map(|m| m.clone())
                .unwrap_or_default(),
        }
    }

    /// Whether the service finished start-up.
    pub fn is_ready(&self) -> bool {
        self.inner.ready.load(Ordering::Relaxed)
    }

    pub(crate) fn set_connected(&self, up: bool) {
        self.inner.ingest_connected.store(up, Ordering::Relaxed);
    }

    pub(crate) fn set_store_reachable(&self, up: bool) {
        self.inner.store_reachable.store(up, Ordering::Relaxed);
    }

    pub(crate) fn set_ready(&self) {
        self.inner.ready.store(true, Ordering::Relaxed);
    }

    /// Notes each reading's station as seen up to the reading's time (one lock for them all).
    pub(crate) fn saw(&self, readings: &[Reading]) {
        if let Ok(mut m) = self.inner.last_seen.lock() {
            for r in readings {
                match m.get_mut(&r.station) {
                    Some(t) => *t = (*t).max(r.time),
                    None => {
                        m.insert(r.station.clone(), r.time);
                    }
                }
            }
        }
    }
}
