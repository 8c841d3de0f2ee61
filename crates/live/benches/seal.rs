//! The cost of sealed ingest (issue 7): readings per second through the ingest path — decode
//! each station JSON message, then write the readings to SQLite in batches as the store stage
//! does — without and with the per-station payload hash chain, side by side. Also decode alone,
//! without and with the chain: the CPU-only worst case, where the store costs nothing.
//! `cargo bench -p riverwatch-live --bench seal`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use riverwatch_engine::config::Config;
use riverwatch_engine::decode::{decode, DecodeContext, Format};
use riverwatch_engine::time::MINUTE;
use riverwatch_engine::Reading;
use riverwatch_live::seal::ingest::{IngestSeal, CHECKPOINT_EVERY};
use riverwatch_live::store::{ReadingStore, SqliteStore};
use std::time::Duration;

const T0: i64 = 1_764_460_800_000;
const MESSAGES: usize = 2000;
/// Readings per store write (the shipped `store.batch_size` is 5000).
const BATCH: usize = 5000;

/// `MESSAGES` station JSON messages: the shipped stations in turn, nine parameters each.
fn messages(cfg: &Config) -> Vec<(String, Vec<u8>, i64)> {
    let stations: Vec<String> = cfg.stations.list.iter().map(|s| s.id.to_string()).collect();
    (0..MESSAGES)
        .map(|i| {
            let station = &stations[i % stations.len()];
            let t = T0 + (i / stations.len()) as i64 * 5 * MINUTE;
            let f = i as f64 / 100.0;
            let payload = format!(
                r#"{{"station":"{station}","time":"{}","values":{{"ph":{:.2},"do":{:.2},"temp":{:.1},"cond":{:.0},"turb":{:.1},"codmn":{:.2},"nh3n":{:.3},"tp":{:.3},"tn":{:.2}}}}}"#,
                riverwatch_engine::time::Rfc3339(t),
                7.2 + f % 0.5,
                8.0 + f % 1.0,
                12.0 + f % 3.0,
                420.0 + f % 30.0,
                20.0 + f % 5.0,
                4.0 + f % 1.0,
                0.4 + f % 0.2,
                0.1 + f % 0.05,
                1.0 + f % 0.3
            );
            (format!("riverwatch/readings/{station}"), payload.into_bytes(), t + 1000)
        })
        .collect()
}

/// Decodes every message (chaining it when `seal` is given) and hands the readings to `sink`
/// in batches of about `BATCH`. Returns the readings decoded.
fn ingest(
    cfg: &Config,
    msgs: &[(String, Vec<u8>, i64)],
    mut seal: Option<&mut IngestSeal>,
    sink: &mut dyn FnMut(&[Reading]),
) -> usize {
    let mut batch = Vec::with_capacity(BATCH + 16);
    let mut n = 0;
    for (topic, payload, received) in msgs {
        let ctx = DecodeContext {
            stations: &cfg.stations,
            received: *received,
            max_future_skew: 10 * MINUTE,
            accept_unknown_stations: false,
        };
        let d = decode(payload, Some(topic), Format::Json, &ctx).expect("valid message");
        if let Some(s) = seal.as_deref_mut() {
            let station = d.readings.first().map_or("", |r| r.station.as_str());
            s.accept(station, *received, payload);
            if s.maybe_due(*received) {
                std::hint::black_box(s.due(*received));
            }
        }
        n += d.readings.len();
        batch.extend(d.readings);
        if batch.len() >= BATCH {
            sink(&batch);
            batch.clear();
        }
    }
    sink(&batch);
    n
}

fn bench(c: &mut Criterion) {
    let cfg = Config::embedded();
    let msgs = messages(&cfg);
    let readings = ingest(&cfg, &msgs, None, &mut |_| {}) as u64;
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tmp");
    let store = SqliteStore::open(&dir.path().join("readings.sqlite")).expect("store");

    side_by_side(&cfg, &msgs, readings, &mut |b| {
        rt.block_on(store.write(b)).expect("stored");
    });

    let mut g = c.benchmark_group("seal");
    g.sample_size(20).measurement_time(Duration::from_secs(8));
    g.throughput(Throughput::Elements(readings));
    let mut write = |b: &[Reading]| {
        rt.block_on(store.write(b)).expect("stored");
    };
    g.bench_function("ingest_unsealed", |b| {
        b.iter(|| ingest(&cfg, &msgs, None, &mut write))
    });
    g.bench_function("ingest_sealed", |b| {
        let mut seal = IngestSeal::new(CHECKPOINT_EVERY);
        b.iter(|| ingest(&cfg, &msgs, Some(&mut seal), &mut write))
    });
    g.bench_function("decode_unsealed", |b| {
        b.iter(|| {
            ingest(&cfg, &msgs, None, &mut |r| {
                std::hint::black_box(r);
            })
        })
    });
    g.bench_function("decode_sealed", |b| {
        let mut seal = IngestSeal::new(CHECKPOINT_EVERY);
        b.iter(|| {
            ingest(&cfg, &msgs, Some(&mut seal), &mut |r| {
                std::hint::black_box(r);
            })
        })
    });
    g.finish();
}

/// Unsealed and sealed ingest alternately, round after round, so that both see the same
/// machine load; prints both rates and the cost side by side.
fn side_by_side(
    cfg: &Config,
    msgs: &[(String, Vec<u8>, i64)],
    readings: u64,
    write: &mut dyn FnMut(&[Reading]),
) {
    const ROUNDS: u32 = 15;
    let mut seal = IngestSeal::new(CHECKPOINT_EVERY);
    let (mut plain, mut sealed) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..ROUNDS {
        let t = std::time::Instant::now();
        ingest(cfg, msgs, None, write);
        plain += t.elapsed();
        let t = std::time::Instant::now();
        ingest(cfg, msgs, Some(&mut seal), write);
        sealed += t.elapsed();
    }
    let rate = |d: Duration| (readings * ROUNDS as u64) as f64 / d.as_secs_f64();
    let (a, b) = (rate(plain), rate(sealed));
    println!(
        "ingest (decode + SQLite), {ROUNDS} alternating rounds of {readings} readings: unsealed {a:.0} readings/s, sealed {b:.0} readings/s, sealing costs {:.1}%",
        (1.0 - b / a) * 100.0
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
