//! `riverwatch demo`: the whole detection path in one process with nothing to install. The
//! simulator generates the Dongliao sample network with injected pollution, faults and
//! tampering; the engine turns it into leads, printed as they appear, and the simulator's
//! ground truth scores them at the end.

use anyhow::{anyhow, Result};
use riverwatch_engine::eval::{evaluate, EvalOptions};
use riverwatch_engine::leads::Lead;
use riverwatch_engine::sim::{Scenario, SimOptions, Simulator};
use riverwatch_engine::time::{parse_rfc3339, Rfc3339, DAY};
use riverwatch_engine::{Config, Engine, Output};
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;

/// Arguments of `demo`.
#[derive(clap::Args)]
pub struct Args {
    /// Simulated days.
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// Simulator seed.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Scenario: quiet, typical, stormy, tamper.
    #[arg(long, default_value = "typical")]
    scenario: String,
}

fn line(l: &Lead) -> String {
    let place = l.segment.as_ref().map_or_else(
        || l.station.to_string(),
        |s| format!("{} (segment {s})", l.station),
    );
    format!(
        "{}  {:<20} {:<8} {}  r{}  {}",
        Rfc3339(l.window.start),
        format!("{:?}", l.category),
        format!("{:?}", l.severity).to_lowercase(),
        place,
        l.revision,
        l.summary.chars().take(160).collect::<String>()
    )
}

/// Runs `demo`.
pub fn run(args: Args) -> Result<ExitCode> {
    let cfg = Arc::new(Config::embedded());
    let scenario = Scenario::parse(&args.scenario)
        .ok_or_else(|| anyhow!("unknown scenario `{}`", args.scenario))?;
    let start = parse_rfc3339("2024-07-01T00:00:00Z").expect("valid constant");
    let opts = SimOptions::new(scenario, args.seed, start, i64::from(args.days) * DAY);
    let mut sim = Simulator::new(&cfg.stations, &cfg.gb3838, opts)?;
    println!(
        "riverwatch demo: {} days of the illustrative Dongliao network ({} stations), scenario {}, seed {}",
        args.days,
        cfg.stations.list.len(),
        args.scenario,
        args.seed
    );
    println!("new leads and material revisions, as the engine raises them:\n");
    let mut engine = Engine::new(cfg.clone());
    let (mut out, mut tick, mut readings) = (Output::default(), Vec::new(), 0u64);
    let (mut events, mut last) = (Vec::new(), BTreeMap::new());
    let show = |out: &mut Output, events: &mut Vec<_>, last: &mut BTreeMap<String, Lead>| {
        events.append(&mut out.events);
        for l in out.leads.drain(..) {
            if l.revision == 1
                || last
                    .get(&l.id)
                    .is_some_and(|p: &Lead| p.category != l.category || p.stations != l.stations)
            {
                println!("{}", line(&l));
            }
            last.insert(l.id.clone(), l);
        }
    };
    while sim.next_tick(&mut tick).is_some() {
        for r in tick.drain(..) {
            engine.push(&sim.to_reading(&r), &mut out);
            readings += 1;
        }
        show(&mut out, &mut events, &mut last);
    }
    engine.finish(&mut out);
    show(&mut out, &mut events, &mut last);
    let leads: Vec<Lead> = last.into_values().collect();
    let report = evaluate(&sim.truth(), &events, &leads, &EvalOptions::default());
    println!("\n{readings} readings, {} events, {} leads. Scored against the simulator's ground truth:\n", events.len(), leads.len());
    print!("{}", report.table());
    Ok(ExitCode::SUCCESS)
}
