//! The river simulator: labelled data for tests, tuning and evaluation.
//!
//! A seeded, deterministic generator over the stations of a [`crate::Config`] (or a synthetic
//! network): a baseline that fits each station's GB 3838 target class with seasonal and diel
//! cycles and AR(1) noise (`baseline`), and injected behaviours — sensor faults, point-source
//! pulses carried downstream with advection–dispersion, dilution and decay, rain runoff,
//! chronic exceedance, tampering — each written to a ground truth (`truth`).
//!
//! Shaped for two drivers: the CLI streams a CSV and the live service publishes to MQTT, so
//! output is pulled one timestamp at a time ([`Simulator::next_tick`]) and nothing here does
//! I/O. Randomness and the transcendental functions are implemented here (`rng`, `math`)
//! so a seed gives byte-identical output on every platform and dependency version.
//! Planning (what happens where) and generation (the readings) use separate random streams, so
//! a run with injections disabled reproduces the undisturbed baseline of the same seed.

mod baseline;
mod effect;
mod faults;
mod generator;
mod math;
mod network;
mod pollution;
mod rng;
mod scenario;
mod transport;
mod truth;

pub use baseline::SimParam;
pub use generator::{
    SimError, SimOptions, SimReading, Simulator, DEFAULT_ANALYSER_INTERVAL, DEFAULT_INTERVAL,
};
pub use network::synthetic_stations_toml;
pub use scenario::Scenario;
pub use truth::{
    SimulationHeader, TruthCategory, TruthFile, TruthKind, TruthParseError, TruthRecord,
    TruthStation,
};

#[cfg(test)]
mod tests;
