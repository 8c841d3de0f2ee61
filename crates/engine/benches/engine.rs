//! Engine throughput: readings per second through `Engine::push` with the default detector
//! set, for 10, 1,000 and 100,000 streams (8 parameters per station, 5-minute cadence, daily
//! cycles on DO/pH/temperature, 1 % noise). The readings are built before timing starts. Every
//! reading carries its own name allocations, except in `push/1000_streams_shared`, where a
//! station's and a parameter's readings share one, as the decoders hand them out.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use riverwatch_engine::model::{DataFlag, ParamId, Reading, StationId};
use riverwatch_engine::{Config, Engine, Output};
use std::sync::Arc;

mod common;
use common::PARAMS;

fn readings(stations: usize, steps: usize, shared: bool) -> Vec<Reading> {
    let names: Vec<String> = (0..stations).map(|i| format!("S{i:05}")).collect();
    let ids: Vec<StationId> = names.iter().map(|n| n.as_str().into()).collect();
    let pids: Vec<ParamId> = PARAMS.iter().map(|p| p.0.into()).collect();
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut out = Vec::with_capacity(stations * steps * PARAMS.len());
    for step in 0..steps {
        let t = 1_719_792_000_000 + step as i64 * 300_000;
        let phase = (t % 86_400_000) as f64 / 86_400_000.0 * std::f64::consts::TAU;
        for (si, name) in names.iter().enumerate() {
            for (pi, (p, level, diel)) in PARAMS.into_iter().enumerate() {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let noise = (seed % 2001) as f64 / 1000.0 - 1.0;
                let value = level * (1.0 + 0.01 * noise) + diel * phase.sin();
                out.push(Reading {
                    station: if shared {
                        ids[si].clone()
                    } else {
                        name.as_str().into()
                    },
                    parameter: if shared { pids[pi].clone() } else { p.into() },
                    time: t,
                    value,
                    flag: DataFlag::N,
                });
            }
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let cfg = Arc::new(Config::embedded());
    let mut g = c.benchmark_group("engine");
    g.sample_size(10);
    for (streams, steps, shared) in [
        (10, 20_000, false),
        (1_000, 400, false),
        (1_000, 400, true),
        (100_000, 6, false),
    ] {
        let stations = streams / PARAMS.len() + usize::from(streams % PARAMS.len() != 0);
        let data = readings(stations.max(1), steps, shared);
        g.throughput(Throughput::Elements(data.len() as u64));
        g.bench_function(
            format!(
                "push/{streams}_streams{}",
                if shared { "_shared" } else { "" }
            ),
            |b| {
                b.iter_batched(
                    || Engine::new(cfg.clone()),
                    |mut engine| {
                        let mut out = Output::default();
                        for r in &data {
                            engine.push(r, &mut out);
                            out.events.clear();
                            out.leads.clear();
                        }
                        engine
                    },
                    BatchSize::PerIteration,
                )
            },
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
