//! riverwatch-batch: the batch side over historical windows — replay through the same engine,
//! threshold tuning over a grid of candidate configs, and multivariate model training.
//!
//! polars and linfa live here and only here, so the engine and the live service build without
//! them; trained models leave this crate as plain serde structs the engine scores itself.

pub mod api;
pub mod chart;
pub mod chart_png;
pub mod features;
pub mod frames;
pub mod read_ahead;
pub mod recorded;
pub mod replay;
pub mod report;
pub mod source;
pub mod sweep;
pub mod train;
pub mod tune;

/// The polars the frames are built with (so callers name the same `DataFrame`).
pub use polars;
