//! riverwatch-live: the parts of the live service that touch the outside world — reading
//! stores (InfluxDB, SQLite) with a disk spool, the lead ledger, the HTTP API and the service
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
pub mod ledger;
mod sqlite_conn;
pub mod store;

pub use backoff::Backoff;
pub use config::{Secret, ServiceConfig};
pub use ledger::{LeadFilter, Ledger, LedgerError};
pub use store::{AnyStore, Durable, ReadingStore, SpooledStore, StoreError};
