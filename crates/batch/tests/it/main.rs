//! Integration tests of the batch side on simulated windows (one test binary).

mod equivalence;
mod live_models;
mod replay;
mod slices;
mod train;
mod tune;

use riverwatch_engine::config::embedded;
use riverwatch_engine::sim::{synthetic_stations_toml, Scenario, SimOptions, Simulator, TruthFile};
use riverwatch_engine::time::{from_civil, Millis, DAY};
use riverwatch_engine::{Config, Reading};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A simulated window: the config of its network, the CSV on disk and the truth.
pub struct SimWindow {
    pub cfg: Config,
    pub csv: PathBuf,
    pub truth: TruthFile,
    pub from: Millis,
    pub to: Millis,
    pub readings: usize,
}

pub fn start() -> Millis {
    from_civil(2025, 5, 1, 0, 0, 0, 0).expect("valid date")
}

/// A config over a synthetic network of `stations` stations.
pub fn config(stations: usize, seed: u64) -> Config {
    let text = synthetic_stations_toml(stations, seed);
    Config::from_texts(&text, embedded::THRESHOLDS, embedded::GB3838, "test").expect("valid config")
}

/// Simulates `days` of `scenario` over the config's network into `dir/name.csv`.
pub fn simulate(
    dir: &Path,
    name: &str,
    cfg: &Config,
    scenario: Scenario,
    seed: u64,
    days: i64,
    inject: bool,
) -> SimWindow {
    let from = start();
    let opts = SimOptions {
        inject,
        ..SimOptions::new(scenario, seed, from, days * DAY)
    };
    let mut sim = Simulator::new(&cfg.stations, &cfg.gb3838, opts).expect("simulator");
    let csv = dir.join(format!("{name}.csv"));
    let mut out = std::io::BufWriter::new(std::fs::File::create(&csv).expect("csv"));
    writeln!(out, "time,station,parameter,value").expect("write");
    let (mut tick, mut line, mut n) = (Vec::new(), String::new(), 0);
    while sim.next_tick(&mut tick).is_some() {
        for r in &tick {
            line.clear();
            riverwatch_engine::csv::write_line(&mut line, &sim.to_reading(r));
            out.write_all(line.as_bytes()).expect("write");
            n += 1;
        }
    }
    out.flush().expect("flush");
    SimWindow {
        cfg: cfg.clone(),
        csv,
        truth: sim.truth(),
        from,
        to: from + days * DAY,
        readings: n,
    }
}

/// The window's readings through the frame path (CSV → polars → readings).
pub fn load(w: &SimWindow) -> Vec<Reading> {
    let window = riverwatch_batch::frames::Window {
        from: w.from,
        to: w.to,
        stations: vec![],
    };
    let (df, bad) = riverwatch_batch::frames::load_csv(&w.csv, &window).expect("load csv");
    assert_eq!(bad, 0);
    assert_eq!(df.height(), w.readings);
    riverwatch_batch::frames::readings(&df).expect("readings")
}
