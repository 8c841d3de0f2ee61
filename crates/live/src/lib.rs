//! riverwatch-live: the live service — MQTT ingest, the pipeline stages, reading stores
//! (InfluxDB, SQLite) with a disk spool, the lead ledger, the HTTP API, metrics and the service
//! config.
//!
//! Stores and the ledger are async-friendly (blocking work runs in `spawn_blocking`) so the
//! pipeline stages and the HTTP API can call them from tasks. Detection itself stays in
//! `riverwatch-engine`, which this crate drives but never changes (DESIGN.md, "one engine,
//! two drivers").
#![deny(missing_docs)]

pub mod api;
pub mod backoff;
mod blocking;
pub mod config;
pub mod health;
pub mod ingest;
pub mod ledger;
pub mod metrics;
pub mod pipeline;
pub mod report;
pub mod seal;
pub mod service;
mod sqlite_conn;
pub mod store;

pub use backoff::Backoff;
pub use config::{Secret, ServiceConfig};
pub use health::{Health, HealthSnapshot};
pub use ledger::{LeadFilter, Ledger, LedgerError};
pub use metrics::Metrics;
pub use service::{shutdown_signal, Service, ServiceError, ServiceHandle};
pub use store::{AnyStore, Durable, ReadingStore, SpooledStore, StoreError};
