//! Throughput of the store path: line-protocol encoding, spool append (fsynced) and drain,
//! SQLite writes, and InfluxDB writes and chunked reads against a real server from testkit.
//! `cargo bench -p riverwatch-live --bench store`

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use riverwatch_engine::{DataFlag, Reading};
use riverwatch_live::store::{
    line_protocol, InfluxOpts, InfluxStore, ReadingChunks, ReadingStore, Spool, SqliteStore,
};
use riverwatch_testkit::{unique_name, Influx};
use std::time::Duration;

const T0: i64 = 1_764_460_800_000;
const BATCH: usize = 5000;

/// `BATCH` readings: 10 stations × 5 parameters × 100 one-minute steps from `t0`.
fn batch(t0: i64) -> Vec<Reading> {
    let mut v = Vec::with_capacity(BATCH);
    for i in 0..100i64 {
        for s in 0..10 {
            for p in ["ph", "do", "nh3n", "cod", "turb"] {
                v.push(Reading {
                    station: format!("DL{s:02}").as_str().into(),
                    parameter: p.into(),
                    time: t0 + i * 60_000,
                    value: 0.5 + (i * 7 + s) as f64 / 3.0,
                    flag: DataFlag::N,
                });
            }
        }
    }
    v
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let readings = batch(T0);
    let mut g = c.benchmark_group("store");
    g.sample_size(20).measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(BATCH as u64));

    g.bench_function("line_protocol_encode", |b| {
        let mut out = String::with_capacity(BATCH * 80);
        b.iter(|| {
            out.clear();
            for r in &readings {
                line_protocol::encode(r, &mut out).expect("encodable");
                out.push('\n');
            }
        })
    });

    let dir = tempfile::tempdir().expect("tmp");
    let mut spool = Spool::open(dir.path(), 1 << 30).expect("spool");
    g.bench_function("spool_append_fsync_then_drain", |b| {
        b.iter(|| {
            spool.append(&readings).expect("append");
            spool.peek().expect("peek");
            spool.pop().expect("pop");
        })
    });

    let sqlite = SqliteStore::open(&dir.path().join("r.sqlite")).expect("sqlite");
    let mut t = T0;
    g.bench_function("sqlite_write", |b| {
        b.iter_batched(
            || {
                t += 100 * 60_000;
                batch(t)
            },
            |batch| rt.block_on(sqlite.write(&batch)).expect("write"),
            BatchSize::LargeInput,
        )
    });

    let server = Influx::start();
    let db = unique_name("bench");
    server.create_db(&db);
    let url = server.url().parse().expect("url");
    let influx = InfluxStore::new(InfluxOpts::new(url, &db)).expect("client");
    let mut t = T0;
    g.bench_function("influx_write", |b| {
        b.iter_batched(
            || {
                t += 100 * 60_000;
                batch(t)
            },
            |batch| rt.block_on(influx.write(&batch)).expect("write"),
            BatchSize::LargeInput,
        )
    });

    let window = batch(T0 - 1_000 * 86_400_000);
    rt.block_on(influx.write(&window)).expect("write");
    g.bench_function("influx_query_chunked", |b| {
        b.iter(|| {
            rt.block_on(async {
                let from = T0 - 1_000 * 86_400_000;
                let mut chunks = influx
                    .query_chunks(&[], from, from + 86_400_000, 1000)
                    .await
                    .expect("query");
                let mut n = 0;
                while let Some(c) = chunks.next_chunk().await.expect("chunk") {
                    n += c.len();
                }
                assert_eq!(n, BATCH);
            })
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
