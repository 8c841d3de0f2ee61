//! `riverwatch config check|default`.

use anyhow::Result;
use clap::Subcommand;
use riverwatch_engine::config::{embedded, Config};
use std::path::PathBuf;
use std::process::ExitCode;

/// `config` subcommands.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Subcommand)]
enum Action {
    /// Validate DIR (default `config`) and print the effective thresholds for a station.
    Check {
        /// Config directory.
        dir: Option<PathBuf>,
        /// Station whose effective thresholds to print.
        #[arg(long, default_value = "DL03")]
        station: String,
        /// Parameter whose effective thresholds to print.
        #[arg(long, default_value = "nh3n")]
        parameter: String,
    },
    /// Print a shipped config file (stations, thresholds or gb3838).
    Default {
        /// Which file.
        #[arg(default_value = "thresholds")]
        file: String,
    },
}

/// Loads the config from `dir`, or the embedded one when `dir` is None.
pub fn load(dir: Option<&PathBuf>) -> Result<Config> {
    Ok(match dir {
        Some(d) => Config::load_dir(d)?,
        None => Config::embedded(),
    })
}

/// Runs `config`.
pub fn run(args: Args) -> Result<ExitCode> {
    match args.action {
        Action::Check {
            dir,
            station,
            parameter,
        } => {
            let dir = dir.unwrap_or_else(|| PathBuf::from("config"));
            let cfg = match Config::load_dir(&dir) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("config invalid: {e}");
                    return Ok(ExitCode::from(2));
                }
            };
            println!(
                "config ok: {} ({} stations), hash {}",
                dir.display(),
                cfg.stations.list.len(),
                cfg.hash
            );
            let s = cfg.thresholds.for_stream(&station, &parameter);
            println!("effective detector settings for station {station}, parameter {parameter}:");
            print!("{}", toml::to_string_pretty(&s)?);
            Ok(ExitCode::SUCCESS)
        }
        Action::Default { file } => {
            let text = match file.as_str() {
                "stations" => embedded::STATIONS,
                "thresholds" => embedded::THRESHOLDS,
                "gb3838" => embedded::GB3838,
                other => anyhow::bail!("no shipped file `{other}` (stations, thresholds, gb3838)"),
            };
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
    }
}
