//! riverwatch-engine: everything that decides what a reading means, with no I/O of its own.
//!
//! Pure and synchronous on purpose: no tokio, no network, no clock. Time is an argument, so the
//! live service and `replay` feed the same code and get the same events and leads
//! (DESIGN.md, "one engine, two drivers").
#![deny(missing_docs)]

pub mod config;
pub mod csv;
pub mod decode;
pub mod detect;
pub mod eval;
pub mod events;
pub mod leads;
pub mod model;
pub mod models;
pub mod params;
pub mod sim;
pub mod time;

pub use config::Config;
pub use detect::{Engine, Output};
pub use events::{Event, EventKind, Segment};
pub use leads::{Category, Lead, Severity, Status};
pub use model::{DataFlag, DetectorId, Finding, FindingKind, ParamId, Reading, StationId};
