//! `riverwatch train`: per-station multivariate models (PCA or Gaussian mixture) fitted on a
//! historical window and saved as JSON model files the engine loads.

use super::window::WindowArgs;
use anyhow::{Context as _, Result};
use riverwatch_batch::features::{self, Pipeline};
use riverwatch_batch::train::{self, Kind, TrainOptions};
use riverwatch_engine::time::parse_duration;
use riverwatch_engine::StationId;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `train`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    window: WindowArgs,
    /// pca (Hotelling T² and SPE) or gmm (Gaussian mixture log-likelihood).
    #[arg(long, value_parser = |s: &str| Kind::parse(s).ok_or(format!("`{s}` is not pca or gmm")))]
    model: Kind,
    /// Directory for the model files.
    #[arg(long, default_value = "models")]
    out: PathBuf,
    /// Quantile of training scores the alarm threshold is set at.
    #[arg(long, default_value_t = TrainOptions::default().quantile)]
    quantile: f64,
    /// Grid step (e.g. 5m; default: each station's median sampling interval).
    #[arg(long, value_parser = |s: &str| parse_duration(s).filter(|d| *d > 0).ok_or(format!("`{s}` is not a duration")))]
    interval: Option<i64>,
    /// Rolling baseline the features are centred on before scoring (e.g. 1d, 7d; `none`: the
    /// fixed training means, as models before format 2).
    #[arg(long, default_value = "1d", value_parser = |s: &str| if s == "none" { Ok(0) } else { parse_duration(s).filter(|d| *d > 0).ok_or(format!("`{s}` is not a duration or none")) })]
    baseline: i64,
    /// Longest run of alarming instants the engine keeps out of the rolling baseline (e.g.
    /// 12h; `none`: every instant joins it, as models before format 3).
    #[arg(long, default_value = "12h", value_parser = |s: &str| if s == "none" { Ok(0) } else { parse_duration(s).filter(|d| *d > 0).ok_or(format!("`{s}` is not a duration or none")) })]
    hold: i64,
}

/// Runs `train`.
pub fn run(args: Args) -> Result<ExitCode> {
    if !(args.quantile > 0.0 && args.quantile < 1.0) {
        anyhow::bail!("--quantile must be between 0 and 1");
    }
    let (df, readings) = args.window.load()?;
    let stations: BTreeSet<StationId> = readings.iter().map(|r| r.station.clone()).collect();
    let w = args.window.window();
    let opts = TrainOptions {
        kind: args.model,
        quantile: args.quantile,
        baseline_ms: args.baseline,
        hold_ms: args.hold,
        ..TrainOptions::default()
    };
    let pipeline = Pipeline {
        interval: args.interval,
        ..Pipeline::default()
    };
    let (mut saved, mut skipped) = (0, 0);
    for s in &stations {
        let fitted = features::build(&df, s, &pipeline)
            .map_err(anyhow::Error::from)
            .and_then(|f| Ok(train::fit(&f, w.from, w.to, &opts)?));
        match fitted {
            Ok(m) => {
                let path = train::save(&args.out, &m)
                    .with_context(|| format!("saving the model of {s}"))?;
                eprintln!(
                    "{s}: {} over {} rows of [{}] → {}",
                    m.kind(),
                    m.training_rows,
                    m.features
                        .iter()
                        .map(|f| f.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    path.display()
                );
                saved += 1;
            }
            Err(e) => {
                eprintln!("{s}: skipped: {e:#}");
                skipped += 1;
            }
        }
    }
    eprintln!(
        "{saved} models saved under {}, {skipped} stations skipped",
        args.out.display()
    );
    Ok(if saved > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
