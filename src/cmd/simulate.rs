//! `riverwatch simulate`: writes a labelled data set — the readings as the long CSV that
//! `detect` reads (`time,station,parameter,value`) and the ground truth as JSONL.

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use riverwatch_engine::config::{Config, Stations};
use riverwatch_engine::sim::{
    synthetic_stations_toml, Scenario, SimOptions, SimReading, Simulator,
};
use riverwatch_engine::time::{parse_duration, parse_rfc3339, Millis, Rfc3339, DAY};
use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Largest synthetic network (one process handles a basin; this is already many basins).
const MAX_STATIONS: usize = 10_000;

/// `simulate` options.
#[derive(clap::Args)]
pub struct Args {
    /// Preset: quiet, typical, stormy, tamper, load or subtle (correlated small shifts that only
    /// the multivariate models catch).
    #[arg(long, default_value = "typical", value_parser = parse_scenario)]
    scenario: Scenario,
    /// Seed; the same seed and options give byte-identical output.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Days to simulate.
    #[arg(long, default_value_t = 14.0)]
    days: f64,
    /// First reading time (RFC 3339).
    #[arg(long, default_value = "2024-07-01T00:00:00Z", value_parser = parse_time)]
    start: Millis,
    /// Simulate a synthetic network of N stations instead of the configured one: basins of up
    /// to 30 stations, each a mainstem with tributaries and a reservoir (the load preset
    /// defaults to 200 stations).
    #[arg(long)]
    stations: Option<usize>,
    /// Config directory (stations and GB 3838 limits); the shipped config when absent.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Probe sampling interval (temp, pH, DO, conductivity, turbidity).
    #[arg(long, default_value = "5m", value_parser = parse_interval)]
    interval: Millis,
    /// Analyser sampling interval (CODMn, NH3-N, TP, TN), or `probe` for the probe cadence.
    #[arg(long, default_value = "4h")]
    analyser_interval: String,
    /// Where to write the readings CSV.
    #[arg(long)]
    output: PathBuf,
    /// Where to write the ground truth JSONL.
    #[arg(long)]
    truth: PathBuf,
    /// Write the simulated network's stations.toml into this directory (useful with
    /// `--stations`, so that `detect --config DIR` knows the network).
    #[arg(long)]
    write_config: Option<PathBuf>,
}

fn parse_scenario(s: &str) -> Result<Scenario, String> {
    Scenario::parse(s).ok_or_else(|| {
        format!("`{s}` is not a scenario (quiet, typical, stormy, tamper, load, subtle)")
    })
}

fn parse_time(s: &str) -> Result<Millis, String> {
    parse_rfc3339(s).ok_or_else(|| format!("`{s}` is not an RFC 3339 time"))
}

fn parse_interval(s: &str) -> Result<Millis, String> {
    parse_duration(s)
        .filter(|d| *d > 0)
        .ok_or_else(|| format!("`{s}` is not a duration (e.g. 5m, 1h)"))
}

/// Runs `simulate`.
pub fn run(args: Args) -> Result<ExitCode> {
    let cfg = crate::cmd::config::load(args.config.as_ref())?;
    let count = args
        .stations
        .or((args.scenario == Scenario::Load).then_some(200));
    let (stations, stations_text) = match count {
        Some(n) if !(1..=MAX_STATIONS).contains(&n) => {
            bail!("--stations must be between 1 and {MAX_STATIONS}")
        }
        Some(n) => {
            let text = synthetic_stations_toml(n, args.seed);
            (Stations::parse("synthetic stations", &text)?, text)
        }
        None => (cfg.stations.clone(), cfg.texts.stations.clone()),
    };
    if let Some(dir) = &args.write_config {
        write_config(dir, &cfg, &stations_text)?;
    }
    let analyser_interval = match args.analyser_interval.as_str() {
        "probe" => args.interval,
        s => parse_interval(s)
            .map_err(anyhow::Error::msg)
            .context("--analyser-interval")?,
    };
    if !(args.days.is_finite() && args.days > 0.0) {
        bail!("--days must be a positive number");
    }
    let duration = (args.days * DAY as f64).round() as Millis;
    let opts = SimOptions {
        interval: args.interval,
        analyser_interval,
        ..SimOptions::new(args.scenario, args.seed, args.start, duration)
    };
    let mut sim = Simulator::new(&stations, &cfg.gb3838, opts)?;
    let names: Vec<String> = sim.station_ids().iter().map(|s| s.to_string()).collect();
    let file = File::create(&args.output)
        .with_context(|| format!("creating {}", args.output.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let bar = progress(sim.progress().1);
    let began = Instant::now();
    let written = write_csv(&mut sim, &names, &mut out, &bar)
        .with_context(|| format!("writing {}", args.output.display()))?;
    out.flush()
        .with_context(|| format!("writing {}", args.output.display()))?;
    bar.finish_and_clear();
    let secs = began.elapsed().as_secs_f64();
    let truth = sim.truth();
    std::fs::write(&args.truth, truth.to_jsonl())
        .with_context(|| format!("writing {}", args.truth.display()))?;
    eprintln!(
        "simulated {} ({} stations, {} days, seed {}): {written} readings in {secs:.2} s ({:.2} M readings/s), {} truth records",
        args.scenario.name(),
        names.len(),
        args.days,
        args.seed,
        written as f64 / secs.max(1e-9) / 1e6,
        truth.records.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// A progress bar over simulation ticks on stderr; hidden when stderr is not a terminal.
fn progress(total: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {percent:>3}% simulated, {eta} left")
    {
        bar.set_style(style);
    }
    bar
}

/// Streams the readings as CSV; returns how many were written.
fn write_csv(
    sim: &mut Simulator,
    names: &[String],
    out: &mut impl Write,
    bar: &ProgressBar,
) -> std::io::Result<u64> {
    out.write_all(b"time,station,parameter,value\n")?;
    let mut tick: Vec<SimReading> = Vec::new();
    // Per tick the time is formatted once; per reading only the value is formatted, into a
    // reused line buffer written in one call (this loop is the throughput limit).
    let prefixes: Vec<Vec<u8>> = names
        .iter()
        .map(|n| format!(",{n},").into_bytes())
        .collect();
    let mut time = String::new();
    let mut line: Vec<u8> = Vec::with_capacity(64);
    let mut written = 0u64;
    let mut ticks = 0u64;
    while let Some(t) = sim.next_tick(&mut tick) {
        time.clear();
        use std::fmt::Write as _;
        let _ = write!(time, "{}", Rfc3339(t));
        for r in &tick {
            line.clear();
            line.extend_from_slice(time.as_bytes());
            line.extend_from_slice(&prefixes[r.station]);
            line.extend_from_slice(r.param.id().as_bytes());
            line.push(b',');
            writeln!(line, "{}", r.value)?;
            out.write_all(&line)?;
        }
        written += tick.len() as u64;
        ticks += 1;
        if ticks.is_multiple_of(512) {
            bar.set_position(sim.progress().0);
        }
    }
    Ok(written)
}

/// Writes the simulated network's stations.toml, with the limits file the run used beside it.
fn write_config(dir: &Path, cfg: &Config, stations: &str) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(dir.join("stations.toml"), stations)
        .with_context(|| format!("writing {}/stations.toml", dir.display()))?;
    std::fs::write(dir.join("gb3838.toml"), &cfg.texts.gb3838)
        .with_context(|| format!("writing {}/gb3838.toml", dir.display()))?;
    Ok(())
}
