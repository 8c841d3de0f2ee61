//! `riverwatch tune`: a grid of candidate thresholds replayed over one in-memory window in
//! parallel, scored against simulator truth and/or analyst decisions.

use super::window::WindowArgs;
use anyhow::{bail, Context as _, Result};
use riverwatch_batch::recorded::Decisions;
use riverwatch_batch::sweep::{self, Sweep};
use riverwatch_batch::tune::{self, Labels, PlotFormat};
use riverwatch_engine::sim::TruthFile;
use riverwatch_live::Ledger;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `tune`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    window: WindowArgs,
    /// Config directory whose thresholds are the base (default: the shipped config).
    #[arg(long)]
    config: Option<PathBuf>,
    /// `detector.key=LO..HI:STEP` or `detector.key=V1,V2`; several make a grid.
    #[arg(long = "sweep", value_parser = |s: &str| Sweep::parse(s).map_err(|e| e.to_string()), required = true)]
    sweeps: Vec<Sweep>,
    /// Simulator ground truth (JSONL) to score against.
    #[arg(long)]
    truth: Option<PathBuf>,
    /// Lead ledger whose confirmed / dismissed leads are labels.
    #[arg(long)]
    ledger: Option<PathBuf>,
    /// Write the best candidate (F1) as a thresholds file.
    #[arg(long)]
    write: Option<PathBuf>,
    /// Plot of leads/station-week against recall: PNG when the name ends in `.png`, else SVG.
    #[arg(long, default_value = "tune.png")]
    plot: PathBuf,
    /// Worker threads (default: the cores).
    #[arg(long)]
    jobs: Option<usize>,
}

/// Runs `tune`.
pub fn run(args: Args) -> Result<ExitCode> {
    let cfg = super::config::load(args.config.as_ref())?;
    let mut labels = Labels::default();
    if let Some(p) = &args.truth {
        let text =
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
        labels.truth = Some(
            TruthFile::parse_jsonl(&text).with_context(|| format!("parsing {}", p.display()))?,
        );
    }
    if let Some(p) = &args.ledger {
        let w = args.window.window();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        labels.decisions = rt
            .block_on(async { Decisions::load(&Ledger::open(p)?, w.from, w.to).await })
            .with_context(|| format!("reading decisions from {}", p.display()))?;
    }
    if labels.truth.is_none() && labels.decisions.is_empty() {
        bail!("nothing to score against: give --truth and/or --ledger with decided leads");
    }
    let candidates = sweep::grid(&cfg.texts.thresholds, &args.sweeps)?;
    let (_, readings) = args.window.load()?;
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let bar = super::replay::progress(candidates.len() as u64, "candidates");
    let started = std::time::Instant::now();
    let n = candidates.len();
    let outcomes = tune::tune(&cfg, candidates, &readings, &labels, jobs, &|done| {
        bar.set_position(done as u64)
    });
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    print!("{}", tune::table(&outcomes));
    eprintln!(
        "{n} candidates × {} readings in {secs:.2} s on {jobs} threads ({:.0} readings/s overall)",
        readings.len(),
        (n * readings.len()) as f64 / secs.max(1e-9)
    );
    let plot = tune::plot_file(&outcomes, PlotFormat::of(&args.plot))?;
    std::fs::write(&args.plot, plot).with_context(|| format!("writing {}", args.plot.display()))?;
    if let Some(path) = &args.write {
        let Some(best) = tune::best(&outcomes) else {
            bail!("no candidate has an F1 score to choose by");
        };
        std::fs::write(path, &best.candidate.thresholds)
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {} ({})", path.display(), best.candidate);
    }
    Ok(ExitCode::SUCCESS)
}
