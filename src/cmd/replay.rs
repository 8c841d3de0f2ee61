//! `riverwatch replay`: a past window through today's (or a candidate) config, into a report
//! directory; `--diff` compares with the leads the live service recorded. Publishes nothing
//! unless `--publish` is given: then the replayed leads go to the live leads topic with a
//! `/replay` level added (`riverwatch_live::pipeline::replayed`).

use super::window::WindowArgs;
use anyhow::{Context as _, Result};
use indicatif::{ProgressBar, ProgressStyle};
use riverwatch_batch::frames::Window;
use riverwatch_batch::{recorded, replay, report, source};
use riverwatch_engine::time::format_rfc3339;
use riverwatch_engine::{Engine, StationId};
use riverwatch_live::pipeline::{publish_replayed, REPLAY_LEVEL};
use riverwatch_live::{Ledger, ServiceConfig};
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// How long the broker gets to acknowledge every replayed lead.
const PUBLISH_DEADLINE: Duration = Duration::from_secs(60);

/// Arguments of `replay`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    window: WindowArgs,
    /// Config directory (default: the shipped config).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Report directory.
    #[arg(long, default_value = "replay")]
    out: PathBuf,
    /// Directory of trained model files (`riverwatch train`); unusable files are reported
    /// and skipped.
    #[arg(long)]
    models: Option<PathBuf>,
    /// Lead ledger (SQLite) to compare with: new, missing and changed leads.
    #[arg(long)]
    diff: Option<PathBuf>,
    /// Also publish the replayed leads (QoS 1, lead JSON) to the broker of the service config
    /// (`--service`, else the shipped one) on `<leads_topic_prefix>/<station>/replay`.
    #[arg(long)]
    publish: bool,
}

/// A progress bar over readings with rate and ETA; hidden when stderr is not a terminal.
pub fn progress(total: u64, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    let template = format!("{{bar:40}} {{pos}}/{{len}} {what} ({{per_sec}}, {{eta}} left)");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar
}

/// A progress bar over the window's time span (a store window's reading count is not known
/// before it is read): position is the event time reached, the message the readings/s.
fn time_progress(window: &Window) -> ProgressBar {
    let bar = progress(((window.to - window.from) / 1000).max(1) as u64, "");
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {msg} ({eta} left)") {
        bar.set_style(style);
    }
    bar
}

/// Runs `replay`.
pub fn run(args: Args) -> Result<ExitCode> {
    let cfg = Arc::new(super::config::load(args.config.as_ref())?);
    let window = args.window.window();
    let reader = args.window.open()?;
    let bar = time_progress(&window);
    let started = std::time::Instant::now();
    let mut engine = Engine::new(cfg.clone());
    if let Some(dir) = &args.models {
        super::detect::load_models(&mut engine, dir)?;
    }
    // Compared with the ledger, the window's end is not the stream's: leave events open as the
    // live service did, so that a lead still growing there is not reported as changed.
    let ending = match args.diff {
        Some(_) => replay::Ending::Open,
        None => replay::Ending::Flush,
    };
    // The window goes through the engine a slice at a time and each slice is dropped after it:
    // memory holds the engine, one slice and the results, whatever the window's length.
    let mut replayer = replay::Replayer::new(engine);
    let count = reader
        .for_each_slice(source::SLICE, &mut |slice| {
            replayer.feed(slice);
            if let Some(last) = slice.last() {
                bar.set_position(((last.time - window.from) / 1000).max(0) as u64);
                let rate = replayer.pushed() as f64 / started.elapsed().as_secs_f64().max(1e-9);
                bar.set_message(format!(
                    "{} · {} readings ({rate:.0}/s)",
                    format_rfc3339(last.time),
                    replayer.pushed()
                ));
            }
        })
        .context("reading the window")?;
    let replayed = replayer.finish(ending);
    bar.finish_and_clear();
    if reader.unparsable() > 0 {
        eprintln!("{} unparsable lines skipped", reader.unparsable());
    }
    let secs = started.elapsed().as_secs_f64();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let diff = match &args.diff {
        Some(path) => {
            let w = args.window.window();
            let live = rt.block_on(async {
                let ledger = Ledger::open(path)?;
                recorded::for_window(&ledger, &w).await
            });
            let live = live.with_context(|| format!("reading the ledger {}", path.display()))?;
            Some(replay::diff(&replayed.leads, &live))
        }
        None => None,
    };
    let lookup = |stations: &[StationId], from, to| {
        reader
            .readings(stations, from, to)
            .map_err(std::io::Error::other)
    };
    let html = report::write(&args.out, &cfg, &lookup, &replayed, diff.as_ref())
        .with_context(|| format!("writing the report to {}", args.out.display()))?;
    eprintln!(
        "replayed {} readings in {secs:.2} s ({:.0} readings/s): {} events, {} leads; report {}",
        count,
        count as f64 / secs.max(1e-9),
        replayed.events.len(),
        replayed.leads.len(),
        html.display()
    );
    if let Some(d) = diff {
        print!("{d}");
    }
    if args.publish {
        let service = match args.window.service()? {
            Some(s) => s,
            None => ServiceConfig::embedded()?,
        };
        let mqtt = &service.mqtt;
        let n = rt
            .block_on(publish_replayed(mqtt, &replayed.leads, PUBLISH_DEADLINE))
            .context("publishing the replayed leads")?;
        eprintln!(
            "published {n} replayed leads to {}:{} on {}/<station>/{REPLAY_LEVEL}",
            mqtt.host, mqtt.port, mqtt.leads_topic_prefix
        );
    }
    Ok(ExitCode::SUCCESS)
}
