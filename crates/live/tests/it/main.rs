//! Integration tests of riverwatch-live against real servers started by riverwatch-testkit
//! (InfluxDB 1.6.7 from Debian) and real files (SQLite, spool). One test binary.

mod api;
mod faults;
mod influx;
mod ledger;
mod models;
mod service;
mod spool;
mod spooled_restart;
mod sqlite;

use riverwatch_engine::time::Millis;
use riverwatch_engine::{DataFlag, Reading};
use riverwatch_live::store::{reading_order, InfluxOpts, InfluxStore};
use riverwatch_testkit::{unique_name, Influx};

/// 2025-11-30T00:00:00Z.
pub const T0: Millis = 1_764_460_800_000;

/// `n` timestamps `step` apart × every station × every parameter, with values that do not
/// round-trip by accident (thirds, tiny and large magnitudes) and a few non-N flags.
pub fn readings(
    stations: &[&str],
    params: &[&str],
    t0: Millis,
    step: Millis,
    n: usize,
) -> Vec<Reading> {
    let mut out = Vec::new();
    for i in 0..n {
        for (si, s) in stations.iter().enumerate() {
            for (pi, p) in params.iter().enumerate() {
                let k = (i * 31 + si * 7 + pi) as f64;
                out.push(Reading {
                    station: (*s).into(),
                    parameter: (*p).into(),
                    time: t0 + i as Millis * step,
                    value: k / 3.0 + if pi % 2 == 0 { 1e-9 } else { 12345.678 },
                    flag: if i % 17 == 0 {
                        DataFlag::T
                    } else {
                        DataFlag::N
                    },
                });
            }
        }
    }
    out
}

/// The readings in the order every store answers in.
pub fn sorted(mut v: Vec<Reading>) -> Vec<Reading> {
    v.sort_by(reading_order);
    v
}

/// A fresh database on `server` and a store writing to it.
pub fn influx_store(server: &Influx, max_lines: usize) -> (InfluxStore, String) {
    let db = unique_name("t");
    server.create_db(&db);
    let url = server.url().parse().expect("testkit url");
    let store = InfluxStore::new(InfluxOpts {
        max_lines,
        ..InfluxOpts::new(url, &db)
    })
    .expect("client");
    (store, db)
}
