//! The window arguments `replay`, `tune` and `train` share: loading the window into memory
//! (tune, train) or opening it to be read a slice at a time (replay).

use anyhow::{bail, Context as _, Result};
use riverwatch_batch::frames::{self, Window};
use riverwatch_batch::source::{self, Reader, Source};
use riverwatch_engine::time::{parse_rfc3339, Millis};
use riverwatch_engine::{Reading, StationId};
use riverwatch_live::ServiceConfig;
use std::path::PathBuf;

/// Which readings to take, and from where.
#[derive(clap::Args)]
pub struct WindowArgs {
    /// Window start (RFC 3339 UTC), inclusive.
    #[arg(long, value_parser = parse_time)]
    from: Millis,
    /// Window end (RFC 3339 UTC), exclusive.
    #[arg(long, value_parser = parse_time)]
    to: Millis,
    /// Only these stations (comma-separated; default all).
    #[arg(long, value_delimiter = ',')]
    stations: Vec<String>,
    /// Where the readings are: csv:FILE, sqlite:PATH or influx (the service config's InfluxDB).
    #[arg(long, value_parser = Source::parse, default_value = "influx")]
    source: Source,
    /// Service config (riverwatch.toml) for `--source influx` and the ledger.
    #[arg(long)]
    service: Option<PathBuf>,
}

fn parse_time(s: &str) -> Result<Millis, String> {
    parse_rfc3339(s).ok_or_else(|| format!("`{s}` is not an RFC 3339 time"))
}

impl WindowArgs {
    /// The window.
    pub fn window(&self) -> Window {
        Window {
            from: self.from,
            to: self.to,
            stations: self
                .stations
                .iter()
                .map(|s| StationId::new(s.trim()))
                .collect(),
        }
    }

    /// The service config, when one was given or the window comes from InfluxDB.
    pub fn service(&self) -> Result<Option<ServiceConfig>> {
        match &self.service {
            Some(p) => Ok(Some(
                ServiceConfig::load(p).with_context(|| format!("loading {}", p.display()))?,
            )),
            None if self.source == Source::Influx => Ok(Some(ServiceConfig::embedded()?)),
            None => Ok(None),
        }
    }

    /// Opens the window for a sliced replay: a store is read a slice at a time, never whole.
    pub fn open(&self) -> Result<Reader> {
        if self.to <= self.from {
            bail!("--to must be after --from");
        }
        let service = self.service()?;
        Reader::open(&self.source, &self.window(), service.as_ref()).context("opening the window")
    }

    /// Loads the window as a frame and as engine readings in event-time order.
    pub fn load(&self) -> Result<(riverwatch_batch::polars::prelude::DataFrame, Vec<Reading>)> {
        if self.to <= self.from {
            bail!("--to must be after --from");
        }
        let service = self.service()?;
        let started = std::time::Instant::now();
        let (df, bad) = source::load(&self.source, &self.window(), service.as_ref())
            .context("loading the window")?;
        let readings = frames::readings(&df).context("reading the frame")?;
        eprintln!(
            "loaded {} readings in {:.2} s{}",
            readings.len(),
            started.elapsed().as_secs_f64(),
            if bad > 0 {
                format!(" ({bad} unparsable lines skipped)")
            } else {
                String::new()
            }
        );
        Ok((df, readings))
    }
}
