//! `riverwatch eval`: scores `detect`'s events (and optionally leads) against a simulation's
//! ground truth; a plain table on stdout, or JSON with `--json`.

use anyhow::{Context, Result};
use riverwatch_engine::eval::{evaluate, EvalOptions};
use riverwatch_engine::sim::TruthFile;
use riverwatch_engine::time::{parse_duration, Millis};
use riverwatch_engine::{Event, Lead};
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `eval` options.
#[derive(clap::Args)]
pub struct Args {
    /// Ground truth JSONL written by `simulate`.
    #[arg(long)]
    truth: PathBuf,
    /// Events JSONL written by `detect`.
    #[arg(long)]
    events: PathBuf,
    /// Leads JSONL (monitoring-anomaly leads count as raising tamper truths).
    #[arg(long)]
    leads: Option<PathBuf>,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Matching slack on both sides of a truth window, on top of one sampling interval.
    #[arg(long, default_value = "2h", value_parser = parse_tolerance)]
    tolerance: Millis,
}

fn parse_tolerance(s: &str) -> Result<Millis, String> {
    parse_duration(s).ok_or_else(|| format!("`{s}` is not a duration (e.g. 2h, 90m)"))
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// Parses one JSON value per non-blank line, naming file and line on error.
fn jsonl<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let text = read(path)?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        out.push(
            serde_json::from_str(line)
                .with_context(|| format!("{}: line {}", path.display(), i + 1))?,
        );
    }
    Ok(out)
}

/// Runs `eval`.
pub fn run(args: Args) -> Result<ExitCode> {
    let truth = TruthFile::parse_jsonl(&read(&args.truth)?)
        .with_context(|| args.truth.display().to_string())?;
    let events: Vec<Event> = jsonl(&args.events)?;
    let leads: Vec<Lead> = match &args.leads {
        Some(p) => jsonl(p)?,
        None => Vec::new(),
    };
    let report = evaluate(
        &truth,
        &events,
        &leads,
        &EvalOptions {
            tolerance: args.tolerance,
        },
    );
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.table());
    }
    Ok(ExitCode::SUCCESS)
}
