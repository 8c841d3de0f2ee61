//! Engine memory per stream, measured: builds an engine, feeds `STREAMS` streams (default
//! 100,000; 8 parameters per station) a warm-up long enough that every per-stream buffer is
//! full, and prints the process's resident memory from `/proc/self/status` (VmRSS, VmHWM)
//! before and after, and the bytes per stream. Target: ≤ 4 KiB per stream (100,000 streams
//! under 1 GiB).
//!
//! Warm-up, from config/thresholds.toml and detect/*: readings every hour for `DAYS` (default
//! 10) days. The diurnal profile (DO, pH, temperature) keeps `days_kept` = 7 days after
//! `min_days` = 2, and restarts the rolling window (`robust_z.window` = 48 readings) when it
//! becomes active, so 10 days of hourly readings (240 per stream) fill the profile history,
//! the window (twice over), the interval ring (8) and the k-of-n window (6).
//!
//! `cargo bench -p riverwatch-engine --bench memory` (`STREAMS=1000 DAYS=3` for a quick run).

use riverwatch_engine::model::{DataFlag, ParamId, Reading, StationId};
use riverwatch_engine::{Config, Engine, Output};
use std::sync::Arc;

mod common;
use common::PARAMS;
const HOUR_MS: i64 = 3_600_000;

/// (VmRSS, VmHWM) in bytes.
fn rss() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

fn main() {
    let streams = env_or("STREAMS", 100_000);
    let days = env_or("DAYS", 10);
    let stations = streams.div_ceil(PARAMS.len());
    let streams = stations * PARAMS.len();
    let cfg = Arc::new(Config::embedded());
    let names: Vec<StationId> = (0..stations)
        .map(|i| StationId::new(&format!("S{i:06}")))
        .collect();
    let params: Vec<ParamId> = PARAMS.iter().map(|p| ParamId::new(p.0)).collect();
    let (before, _) = rss();
    let mut engine = Engine::new(cfg);
    let mut out = Output::default();
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let started = std::time::Instant::now();
    let mut fed = 0u64;
    for step in 0..days * 24 {
        let t = 1_719_792_000_000 + step as i64 * HOUR_MS;
        let phase = (t % 86_400_000) as f64 / 86_400_000.0 * std::f64::consts::TAU;
        for name in &names {
            for (p, &(_, level, diel)) in params.iter().zip(&PARAMS) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let noise = (seed % 2001) as f64 / 1000.0 - 1.0;
                let r = Reading {
                    station: name.clone(),
                    parameter: p.clone(),
                    time: t,
                    value: level * (1.0 + 0.01 * noise) + diel * phase.sin(),
                    flag: DataFlag::N,
                };
                engine.push(&r, &mut out);
                fed += 1;
            }
        }
        out.events.clear();
        out.leads.clear();
    }
    let secs = started.elapsed().as_secs_f64();
    let (after, peak) = rss();
    let stats = engine.stats();
    // The station and parameter names are the caller's (shared with the engine); count them
    // in, they are part of what a stream costs.
    let grown = after.saturating_sub(before);
    println!(
        "streams {streams} ({stations} stations × {}), warm-up {days} days hourly = {fed} readings in {secs:.1} s",
        PARAMS.len()
    );
    println!(
        "judged {} (without history {}), events {}, lead revisions {}",
        stats.judged, stats.without_history, stats.events, stats.lead_revisions
    );
    println!(
        "VmRSS before {:.1} MiB, after {:.1} MiB, VmHWM {:.1} MiB",
        mib(before),
        mib(after),
        mib(peak)
    );
    println!(
        "bytes per stream: {:.0} (RSS growth), {:.0} (peak RSS / streams); target ≤ 4096",
        grown as f64 / streams as f64,
        peak as f64 / streams as f64
    );
    drop(engine);
}
