//! Decoder throughput, one message per iteration (criterion reports messages/s as elem/s):
//! station JSON with five parameters, and HJ 212 frame A of hj212.md §10 (five factors).
//! Targets: ≥ 500k JSON messages/s and ≥ 1M HJ 212 frames/s on one core.
//!
//! `cargo bench -p riverwatch-engine --bench decode`

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use riverwatch_engine::config::{embedded, Stations};
use riverwatch_engine::decode::{decode, hj212_crc, DecodeContext, Format};
use riverwatch_engine::time::{parse_rfc3339, MINUTE};

const JSON: &str = r#"{"station":"DL03","time":"2024-07-15T00:30:00Z","values":{"ph":7.82,"do":8.15,"temp":23.4,"cond":412.0,"turb":18.6},"flags":{"turb":"C"}}"#;
const HJ212_A: &str = "##0261QN=20240715083000123;ST=21;CN=2011;PW=123456;MN=DLHSIM000000000000000001;Flag=5;CP=&&DataTime=20240715083000;w01010-Rtd=23.4,w01010-Flag=N;w01001-Rtd=7.82,w01001-Flag=N;w01009-Rtd=8.15,w01009-Flag=N;w01014-Rtd=412.0,w01014-Flag=N;w01003-Rtd=18.6,w01003-Flag=N&&2340\r\n";
const SENML: &str = r#"[{"bn":"urn:dev:mn:DLHSIM000000000000000001:","bt":1721003400,"n":"temp","u":"Cel","v":23.4},{"n":"ph","u":"pH","v":7.82},{"n":"do","u":"mg/L","v":8.15},{"n":"cond","u":"S/m","v":0.0412},{"n":"turb","u":"NTU","v":18.6}]"#;

fn bench(c: &mut Criterion) {
    let stations = Stations::parse("stations.toml", embedded::STATIONS).expect("shipped stations");
    let ctx = DecodeContext {
        stations: &stations,
        received: parse_rfc3339("2024-07-15T00:33:00Z").expect("time"),
        max_future_skew: 10 * MINUTE,
        accept_unknown_stations: false,
    };
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(1));
    let cases = [
        (
            "json_5_params",
            JSON,
            Some("riverwatch/readings/DL03"),
            Format::Json,
        ),
        (
            "hj212_frame_a",
            HJ212_A,
            Some("riverwatch/hj212/DLHSIM000000000000000001"),
            Format::Hj212,
        ),
        ("senml_example_a", SENML, None, Format::Senml),
        ("hj212_auto_detect", HJ212_A, None, Format::Auto),
    ];
    for (name, payload, topic, format) in cases {
        let n = decode(payload.as_bytes(), topic, format, &ctx)
            .expect("valid sample")
            .readings
            .len();
        assert_eq!(n, 5, "{name}");
        g.bench_function(name, |b| {
            b.iter(|| decode(black_box(payload.as_bytes()), topic, format, &ctx))
        });
    }
    g.bench_function("hj212_crc_261_bytes", |b| {
        b.iter(|| hj212_crc(black_box(&HJ212_A.as_bytes()[6..267])))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
