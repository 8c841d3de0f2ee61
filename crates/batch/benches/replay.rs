//! Replay throughput once the window is in memory: 12 stations × 7 days of 5-minute data
//! (simulated, typical scenario) through a fresh engine per iteration, and the same window
//! tuned over 4 candidates on all cores.
//! `cargo bench -p riverwatch-batch --bench replay`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use riverwatch_batch::replay::{replay, Ending};
use riverwatch_batch::sweep::{grid, Sweep};
use riverwatch_batch::tune::{tune, Labels};
use riverwatch_engine::config::embedded;
use riverwatch_engine::sim::{synthetic_stations_toml, Scenario, SimOptions, Simulator};
use riverwatch_engine::time::{from_civil, DAY};
use riverwatch_engine::{Config, Engine, Reading};
use std::sync::Arc;

fn window(days: i64) -> (Config, Vec<Reading>, Labels) {
    let text = synthetic_stations_toml(12, 1);
    let cfg =
        Config::from_texts(&text, embedded::THRESHOLDS, embedded::GB3838, "bench").expect("config");
    let start = from_civil(2025, 5, 1, 0, 0, 0, 0).expect("date");
    let mut sim = Simulator::new(
        &cfg.stations,
        &cfg.gb3838,
        SimOptions::new(Scenario::Typical, 1, start, days * DAY),
    )
    .expect("simulator");
    let (mut tick, mut all) = (Vec::new(), Vec::new());
    while sim.next_tick(&mut tick).is_some() {
        all.extend(tick.iter().map(|r| sim.to_reading(r)));
    }
    let labels = Labels {
        truth: Some(sim.truth()),
        ..Labels::default()
    };
    (cfg, all, labels)
}

fn bench(c: &mut Criterion) {
    let (cfg, readings, labels) = window(7);
    let cfg = Arc::new(cfg);
    let mut g = c.benchmark_group("replay");
    g.sample_size(10);
    g.throughput(Throughput::Elements(readings.len() as u64));
    g.bench_function("12 stations x 7 days", |b| {
        b.iter(|| {
            replay(
                Engine::new(cfg.clone()),
                &readings,
                Ending::Flush,
                &mut |_| {},
            )
        })
    });
    g.finish();
    let sweeps = [Sweep::parse("robust_z.threshold=5..8:1").expect("sweep")];
    let mut g = c.benchmark_group("tune");
    g.sample_size(10);
    g.throughput(Throughput::Elements(4 * readings.len() as u64));
    g.bench_function("4 candidates x 12 stations x 7 days", |b| {
        b.iter(|| {
            let candidates = grid(&cfg.texts.thresholds, &sweeps).expect("grid");
            let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
            tune(
                &cfg,
                candidates[1..].to_vec(),
                &readings,
                &labels,
                jobs,
                &|_| {},
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
