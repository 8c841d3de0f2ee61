//! SenML tests: the worked examples of senml.md §5–6 and the refusals of §7.

use super::super::tests::{ctx_at, network};
use super::super::{decode, Decoded, Format, RejectReason, Rejected};
use crate::time::parse_rfc3339;

/// senml.md §6 assumes the pack arrived at 1721003580 = 2024-07-15T00:33:00Z.
const RECEIVED: &str = "2024-07-15T00:33:00Z";

fn run(pack: &str, topic: Option<&str>) -> Result<Decoded, Rejected> {
    let st = network();
    decode(
        pack.as_bytes(),
        topic,
        Format::Senml,
        &ctx_at(&st, RECEIVED),
    )
}

fn rows(d: &Decoded) -> Vec<(String, String, i64, f64)> {
    d.readings
        .iter()
        .map(|r| {
            (
                r.station.to_string(),
                r.parameter.to_string(),
                r.time / 1000,
                r.value,
            )
        })
        .collect()
}

pub(crate) const EXAMPLE_A: &str = r#"[
  {"bn":"urn:dev:mn:DLHSIM000000000000000001:","bt":1721003400,"bver":10,
   "n":"temp","u":"Cel","v":23.4},
  {"n":"ph","u":"pH","v":7.82},
  {"n":"do","u":"mg/L","v":8.15},
  {"n":"cond","u":"S/m","v":0.0412},
  {"n":"turb","u":"NTU","v":18.6}
]"#;

pub(crate) const EXAMPLE_B: &str = r#"[
  {"bn":"urn:dev:mn:DLHSIM000000000000000001:do","bt":1721003400,"bu":"mg/L","v":8.15},
  {"t":-900,"v":8.02},
  {"t":-1800,"v":7.90},
  {"bn":"urn:dev:mn:DLHSIM000000000000000001:cond","bu":"S/m","bv":0.04,"t":-600,"v":0.0012},
  {"bn":"urn:dev:mn:DLHSIM000000000000000001:","bt":0,"bv":0,"n":"temp","u":"Cel","v":23.1,"t":-120}
]"#;

#[test]
fn example_a_one_station_five_probes() {
    let d = run(EXAMPLE_A, None).unwrap();
    let s = |p: &str, v: f64| ("DL01".to_string(), p.to_string(), 1_721_003_400, v);
    assert_eq!(
        rows(&d),
        [
            s("temp", 23.4),
            s("ph", 7.82),
            s("do", 8.15),
            s("cond", 412.0),
            s("turb", 18.6)
        ]
    );
    assert_eq!(
        d.readings[0].time,
        parse_rfc3339("2024-07-15T00:30:00Z").unwrap()
    );
    assert!(d.item_errors.is_empty(), "{:?}", d.item_errors);
}

#[test]
fn example_b_carried_base_fields_and_relative_time() {
    let d = run(EXAMPLE_B, None).unwrap();
    let s = |p: &str, t: i64, v: f64| ("DL01".to_string(), p.to_string(), t, v);
    assert_eq!(
        rows(&d),
        [
            s("do", 1_721_001_600, 7.90),
            s("do", 1_721_002_500, 8.02),
            s("cond", 1_721_002_800, 412.0),
            s("do", 1_721_003_400, 8.15),
            s("temp", 1_721_003_460, 23.1),
        ]
    );
    assert!(d.item_errors.is_empty(), "{:?}", d.item_errors);
}

#[test]
fn carried_base_value_onto_another_name_is_noted() {
    let d = run(&EXAMPLE_B.replace(r#""bt":0,"bv":0,"#, r#""bt":0,"#), None).unwrap();
    let temp = d
        .readings
        .iter()
        .find(|r| r.parameter.as_str() == "temp")
        .unwrap();
    assert_eq!(temp.value, 23.14);
    assert_eq!(d.item_errors.len(), 1);
    assert!(
        d.item_errors[0].contains("base value 0.04 carried over"),
        "{:?}",
        d.item_errors
    );
}

#[test]
fn pack_refusals() {
    let cases: &[(&str, RejectReason, &str)] = &[
        (
            r#"[{"bver":11,"n":"DL03:ph","v":7,"t":1721003400}]"#,
            RejectReason::Unsupported,
            "bver 11",
        ),
        (
            r#"[{"n":"DL03:ph","v":7,"t":1721003400,"crit_":1}]"#,
            RejectReason::Unsupported,
            "`crit_`",
        ),
        (
            r#"[{"n":"DL03:ph","v":7,"vs":"7","t":1721003400}]"#,
            RejectReason::Malformed,
            "2 value fields",
        ),
        (
            r#"[{"n":"DL03:ph","t":1721003400}]"#,
            RejectReason::Malformed,
            "0 value fields",
        ),
        (
            r#"[{"n":"DL03:ph","v":7,"v":8}]"#,
            RejectReason::Malformed,
            "appears twice",
        ),
        (
            r#"[{"n":"DL03 ph","v":7,"t":1721003400}]"#,
            RejectReason::Malformed,
            "characters outside",
        ),
        (
            r#"[{"n":"-ph","v":7}]"#,
            RejectReason::Malformed,
            "must start with",
        ),
        (r#"[{"v":7}]"#, RejectReason::Malformed, "empty name"),
        (
            r#"[{"n":"DL03:ph","v":"7"}]"#,
            RejectReason::Malformed,
            "invalid type",
        ),
        (
            r#"{"n":"DL03:ph","v":7}"#,
            RejectReason::Malformed,
            "SenML pack",
        ),
        (r#"[7]"#, RejectReason::Malformed, "SenML record"),
        (
            r#"[{"n":"DL03:ph","v":7,"t":1e300}]"#,
            RejectReason::BadTime,
            "out of range",
        ),
        (
            r#"[{"n":"DL03:ph","v":7,"t":3600}]"#,
            RejectReason::BadTime,
            "2024-07-15T01:33:00Z",
        ),
    ];
    for (pack, reason, needle) in cases {
        let e = run(pack, None).unwrap_err();
        assert_eq!(e.reason, *reason, "{pack}: {e}");
        assert!(e.detail.contains(needle), "{pack}: {e}");
    }
}

#[test]
fn stations_from_names_and_topic() {
    let d = run(
        r#"[{"n":"ph","v":7.1,"t":-60},{"n":"DL03:do","v":8}]"#,
        Some("riverwatch/senml/DL03"),
    )
    .unwrap();
    let now = 1_721_003_580;
    assert_eq!(
        rows(&d),
        [
            ("DL03".into(), "ph".into(), now - 60, 7.1),
            ("DL03".into(), "do".into(), now, 8.0)
        ]
    );
    // An old absolute time is fine (back-filled history).
    let d = run(r#"[{"n":"DL03:ph","v":7,"t":946684800}]"#, None).unwrap();
    assert_eq!(d.readings[0].time, 946_684_800_000);

    let e = run(EXAMPLE_A, Some("riverwatch/senml/DL02")).unwrap_err();
    assert_eq!(e.reason, RejectReason::StationMismatch, "{e}");
    let e = run(r#"[{"n":"urn:dev:mn:NOSUCHMN:ph","v":7}]"#, None).unwrap_err();
    assert_eq!(e.reason, RejectReason::UnknownStation, "{e}");
    let e = run(r#"[{"n":"ZZ01:ph","v":7}]"#, None).unwrap_err();
    assert_eq!(e.reason, RejectReason::UnknownStation, "{e}");

    let st = network();
    let mut ctx = ctx_at(&st, RECEIVED);
    ctx.accept_unknown_stations = true;
    let d = decode(
        br#"[{"n":"urn:dev:mn:NOSUCHMN:ph","v":7}]"#,
        None,
        Format::Senml,
        &ctx,
    )
    .unwrap();
    assert_eq!(d.readings[0].station.as_str(), "NOSUCHMN");
}

#[test]
fn record_level_problems_cost_only_the_record() {
    let d = run(
        r#"[{"bn":"DL03:","bt":1721003400,"n":"temp","u":"S/m","v":0.04},
            {"n":"do","u":"furlong","v":8.1},
            {"n":"state","vs":"cleaning"},
            {"n":"door","vb":true},
            {"n":"flow","s":12.5},
            {"n":"ph","v":7.5},
            {"n":"ph","v":7.5},
            {"n":"ph","v":7.6},
            {"n":"temp","u":"K","v":296.55}]"#,
        None,
    )
    .unwrap();
    let s = |p: &str, v: f64| ("DL03".to_string(), p.to_string(), 1_721_003_400, v);
    assert_eq!(rows(&d), [s("do", 8.1), s("ph", 7.5), s("temp", 23.4)]);
    let e = &d.item_errors;
    assert_eq!(e.len(), 6, "{e:?}");
    assert!(
        e[0].starts_with("record 0 (DL03:temp): unit `S/m`"),
        "{e:?}"
    );
    assert!(
        e[1].contains("unit `furlong` is not one riverwatch converts"),
        "{e:?}"
    );
    assert!(
        e[2].contains("string value (vs)") && e[3].contains("boolean value (vb)"),
        "{e:?}"
    );
    assert!(e[4].contains("only a sum"), "{e:?}");
    assert_eq!(
        e[5],
        "record 7: ph 7.6 at the same time as record 5 with 7.5; dropped"
    );
}

#[test]
fn nothing_numeric_is_no_readings() {
    let e = run(r#"[{"n":"DL03:state","vs":"ok","t":1721003400}]"#, None).unwrap_err();
    assert_eq!(e.reason, RejectReason::NoReadings);
    assert!(e.detail.contains("string value"), "{e}");
    assert_eq!(
        run("[]", None).unwrap_err().reason,
        RejectReason::NoReadings
    );
}

#[test]
fn name_without_station_needs_a_topic() {
    let d = run(r#"[{"n":"DL03:ph","v":7},{"n":"do","v":8}]"#, None).unwrap();
    assert_eq!(d.readings.len(), 1);
    assert!(
        d.item_errors[0].contains("no station in the name"),
        "{:?}",
        d.item_errors
    );
    let e = run(
        r#"[{"bn":"urn:dev:mn:DLHSIM000000000000000001:","v":8}]"#,
        None,
    )
    .unwrap_err();
    assert_eq!(e.reason, RejectReason::NoReadings, "{e}");
}
