//! Station JSON tests: both shapes, station rules, and values that cost only their item.

use super::super::tests::{ctx_at, network};
use super::super::{decode as decode_any, Format};
use super::*;
use crate::time::parse_rfc3339;

const T: &str = "2024-07-15T00:33:00Z";

fn run(payload: &str, topic: Option<&str>) -> Result<Decoded, Rejected> {
    let st = network();
    decode_any(payload.as_bytes(), topic, Format::Json, &ctx_at(&st, T))
}

#[test]
fn station_shape_with_flags() {
    let d = run(
        r#"{"station":"DL03","time":"2024-07-15T00:30:00Z","values":{"ph":7.8,"DO":8.1,"chloride":31},"flags":{"do":"C"}}"#,
        None,
    )
    .unwrap();
    let t = parse_rfc3339("2024-07-15T00:30:00Z").unwrap();
    let got: Vec<_> = d
        .readings
        .iter()
        .map(|r| {
            (
                r.station.as_str(),
                r.parameter.as_str(),
                r.time,
                r.value,
                r.flag,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("DL03", "ph", t, 7.8, DataFlag::N),
            ("DL03", "do", t, 8.1, DataFlag::C),
            ("DL03", "chloride", t, 31.0, DataFlag::N)
        ]
    );
    assert!(d.item_errors.is_empty());
}

#[test]
fn single_shape_with_epoch_millis_and_topic_station() {
    let d = run(
        r#"{"parameter":"nh3n","time":1721003400000,"value":0.42,"flag":"T"}"#,
        Some("riverwatch/readings/DL05"),
    )
    .unwrap();
    assert_eq!(d.readings.len(), 1);
    let r = &d.readings[0];
    assert_eq!(
        (r.station.as_str(), r.parameter.as_str(), r.time, r.value),
        ("DL05", "nh3n", 1_721_003_400_000, 0.42)
    );
    assert_eq!(r.flag, DataFlag::T);
}

#[test]
fn topic_and_body_station_must_agree() {
    let msg = r#"{"station":"DL03","parameter":"ph","time":"2024-07-15T00:30:00Z","value":7.1}"#;
    let e = run(msg, Some("riverwatch/readings/DL04")).unwrap_err();
    assert_eq!(e.reason, RejectReason::StationMismatch);
    assert!(
        e.detail.contains("DL03") && e.detail.contains("DL04"),
        "{e}"
    );
    assert!(run(msg, Some("riverwatch/readings/DL03")).is_ok());
    // A topic of another format does not name a station of this one.
    assert!(run(msg, Some("riverwatch/hj212/XYZ")).is_ok());
}

#[test]
fn bad_values_cost_only_the_item() {
    let d = run(
        r#"{"station":"DL03","time":"2024-07-15T00:30:00Z","values":{"ph":NaN,"do":"8.1","temp":Infinity,"cond":-Infinity,"tp":null,"tn":2.1}}"#,
        None,
    )
    .unwrap();
    assert_eq!(d.readings.len(), 1);
    assert_eq!(
        (d.readings[0].parameter.as_str(), d.readings[0].value),
        ("tn", 2.1)
    );
    assert_eq!(
        d.item_errors,
        [
            "ph: value \"NaN\" is not a finite number",
            "do: value \"8.1\" is not a finite number",
            "temp: value \"Infinity\" is not a finite number",
            "cond: value \"-Infinity\" is not a finite number",
            "tp: value null is not a finite number",
        ]
    );
}

#[test]
fn nan_inside_strings_is_left_alone() {
    assert_eq!(
        quote_non_finite(r#"{"a":"NaN \" Infinity","b":NaN}"#).unwrap(),
        r#"{"a":"NaN \" Infinity","b":"NaN"}"#
    );
    assert_eq!(quote_non_finite(r#"{"a":1}"#), None);
}

#[test]
fn all_values_bad_is_no_readings() {
    let e = run(
        r#"{"station":"DL03","time":"2024-07-15T00:30:00Z","values":{"ph":"x"}}"#,
        None,
    )
    .unwrap_err();
    assert_eq!(e.reason, RejectReason::NoReadings);
    assert!(e.detail.contains("ph: value \"x\""), "{e}");
    let e = run(
        r#"{"station":"DL03","time":"2024-07-15T00:30:00Z","values":{}}"#,
        None,
    )
    .unwrap_err();
    assert_eq!(e.reason, RejectReason::NoReadings);
}

#[test]
fn flags_must_be_letters() {
    let d = run(
        r#"{"station":"DL03","time":"2024-07-15T00:30:00Z","values":{"ph":7,"do":8},"flags":{"ph":"NN","tp":"N"}}"#,
        None,
    )
    .unwrap();
    assert_eq!(d.readings.len(), 1);
    assert_eq!(
        d.item_errors,
        [
            "ph: flag \"NN\" is not one letter",
            "tp: flag given for a parameter without a value"
        ]
    );
}

#[test]
fn whole_message_refusals() {
    let cases: &[(&str, RejectReason, &str)] = &[
        (
            r#"{"station":"DL03","values":{"ph":7}}"#,
            RejectReason::Malformed,
            "no `time`",
        ),
        (
            r#"{"time":"2024-07-15T00:30:00Z","values":{"ph":7}}"#,
            RejectReason::Malformed,
            "no `station`",
        ),
        (
            r#"{"station":"DL03","time":"yesterday","values":{"ph":7}}"#,
            RejectReason::BadTime,
            "not RFC 3339",
        ),
        (
            r#"{"station":"DL03","time":1721003400,"values":{"ph":7}}"#,
            RejectReason::BadTime,
            "1970-01-20",
        ),
        (
            r#"{"station":"DL03","time":"2030-01-01T00:00:00Z","values":{"ph":7}}"#,
            RejectReason::BadTime,
            "2030",
        ),
        (
            r#"{"station":"DL03","time":true,"values":{"ph":7}}"#,
            RejectReason::Malformed,
            "`time` is a boolean",
        ),
        (
            r#"{"station":"ZZ99","time":"2024-07-15T00:30:00Z","values":{"ph":7}}"#,
            RejectReason::UnknownStation,
            "ZZ99",
        ),
        (
            r#"{"station":"DL03","time":"2024-07-15T00:30:00Z"}"#,
            RejectReason::Malformed,
            "no `values`",
        ),
        (
            r#"{"station":"DL03","time":"2024-07-15T00:30:00Z","parameter":"ph"}"#,
            RejectReason::Malformed,
            "without `value`",
        ),
        (
            r#"{"station":"DL03","time":"2024-07-15T00:30:00Z","values":[7]}"#,
            RejectReason::Malformed,
            "station JSON",
        ),
        (r#"{"station":"DL03","#, RejectReason::Malformed, "EOF"),
        (r#"[1,2]"#, RejectReason::Malformed, "station JSON"),
    ];
    for (msg, reason, needle) in cases {
        let e = run(msg, None).unwrap_err();
        assert_eq!(e.reason, *reason, "{msg}: {e}");
        assert!(e.detail.contains(needle), "{msg}: {e}");
    }
}

#[test]
fn unknown_station_accepted_when_allowed() {
    let st = network();
    let mut ctx = ctx_at(&st, T);
    ctx.accept_unknown_stations = true;
    let msg = r#"{"station":"ZZ99","time":"2024-07-15T00:30:00Z","values":{"ph":7}}"#;
    let d = decode_any(msg.as_bytes(), None, Format::Json, &ctx).unwrap();
    assert_eq!(d.readings[0].station.as_str(), "ZZ99");
    let msg = r#"{"station":"Z Z","time":"2024-07-15T00:30:00Z","values":{"ph":7}}"#;
    assert_eq!(
        decode_any(msg.as_bytes(), None, Format::Json, &ctx)
            .unwrap_err()
            .reason,
        RejectReason::Malformed
    );
}

#[test]
fn escaped_names_and_extra_fields() {
    let d = run(
        r#"{"station":"DL\u00303","time":"2024-07-15T00:30:00Z","sensor":{"fw":"1.2"},"values":{"p\u0068":7.5}}"#,
        None,
    )
    .unwrap();
    assert_eq!(
        (
            d.readings[0].station.as_str(),
            d.readings[0].parameter.as_str()
        ),
        ("DL03", "ph")
    );
}
