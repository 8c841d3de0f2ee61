//! HJ 212 tests: the vectors A–D of hj212.md §10, its negative cases, and the encoder.

use super::super::tests::{ctx_at, network};
use super::super::{
    decode, encode_hj212_frame, hj212_crc, DecodeContext, Decoded, Format, RejectReason, Rejected,
};
use crate::config::Stations;
use crate::model::DataFlag;
use crate::time::parse_rfc3339;

pub(crate) const A: &str = "##0261QN=20240715083000123;ST=21;CN=2011;PW=123456;MN=DLHSIM000000000000000001;Flag=5;CP=&&DataTime=20240715083000;w01010-Rtd=23.4,w01010-Flag=N;w01001-Rtd=7.82,w01001-Flag=N;w01009-Rtd=8.15,w01009-Flag=N;w01014-Rtd=412.0,w01014-Flag=N;w01003-Rtd=18.6,w01003-Flag=N&&2340\r\n";
pub(crate) const B: &str = "##0087QN=20240715083000123;ST=91;CN=9014;PW=123456;MN=DLHSIM000000000000000001;Flag=4;CP=&&&&A9C1\r\n";
pub(crate) const C: &str = "##0355QN=20240715090012345;ST=21;CN=2061;PW=123456;MN=DLHSIM000000000000000001;Flag=4;CP=&&DataTime=20240715080000;w01019-Min=4.1,w01019-Avg=4.3,w01019-Max=4.6,w01019-Flag=N;w21003-Min=0.42,w21003-Avg=0.47,w21003-Max=0.55,w21003-Flag=N;w21011-Min=0.11,w21011-Avg=0.12,w21011-Max=0.14,w21011-Flag=N;w21001-Min=2.85,w21001-Avg=2.97,w21001-Max=3.10,w21001-Flag=N&&0B40\r\n";
pub(crate) const D: &str = "##0261QN=20240716020000456;ST=21;CN=2011;PW=123456;MN=DLHSIM000000000000000001;Flag=4;CP=&&DataTime=20240716020000;w01001-Rtd=6.21,w01001-Flag=N;w01009-Rtd=3.40,w01009-Flag=N;w01014-Rtd=1385.0,w01014-Flag=N;w21003-Rtd=4.86,w21003-Flag=N;w01019-Rtd=9.8,w01019-Flag=C&&4C80\r\n";

/// After every vector (D is 2024-07-15T18:00:00Z).
const RECEIVED: &str = "2024-07-15T18:05:00Z";
const MN: &str = "DLHSIM000000000000000001";

fn run_with(payload: &str, topic: Option<&str>, ctx: &DecodeContext) -> Result<Decoded, Rejected> {
    decode(payload.as_bytes(), topic, Format::Hj212, ctx)
}

fn run(payload: &str) -> Result<Decoded, Rejected> {
    let st = network();
    run_with(payload, None, &ctx_at(&st, RECEIVED))
}

fn rows(d: &Decoded) -> Vec<(&str, &str, f64, char)> {
    d.readings
        .iter()
        .map(|r| {
            (
                r.station.as_str(),
                r.parameter.as_str(),
                r.value,
                r.flag.letter(),
            )
        })
        .collect()
}

/// A frame around a hand-written data segment.
fn frame(seg: &str) -> String {
    format!(
        "##{:04}{seg}{:04X}\r\n",
        seg.len(),
        hj212_crc(seg.as_bytes())
    )
}

#[test]
fn vector_a_realtime() {
    let d = run(A).unwrap();
    assert_eq!(
        rows(&d),
        [
            ("DL01", "temp", 23.4, 'N'),
            ("DL01", "ph", 7.82, 'N'),
            ("DL01", "do", 8.15, 'N'),
            ("DL01", "cond", 412.0, 'N'),
            ("DL01", "turb", 18.6, 'N')
        ]
    );
    let t = parse_rfc3339("2024-07-15T00:30:00Z").unwrap();
    assert!(d.readings.iter().all(|r| r.time == t));
    assert!(d.item_errors.is_empty(), "{:?}", d.item_errors);
}

#[test]
fn vector_b_platform_reply_is_unsupported() {
    let e = run(B).unwrap_err();
    assert_eq!(e.reason, RejectReason::Unsupported);
    assert!(e.detail.contains("platform reply (ST=91, CN=9014)"), "{e}");
}

#[test]
fn vector_c_hourly_averages() {
    let d = run(C).unwrap();
    assert_eq!(
        rows(&d),
        [
            ("DL01", "codmn", 4.3, 'N'),
            ("DL01", "nh3n", 0.47, 'N'),
            ("DL01", "tp", 0.12, 'N'),
            ("DL01", "tn", 2.97, 'N')
        ]
    );
    assert_eq!(
        d.readings[0].time,
        parse_rfc3339("2024-07-15T00:00:00Z").unwrap()
    );
    assert!(
        d.item_errors.is_empty(),
        "-Min/-Max are not errors: {:?}",
        d.item_errors
    );
}

#[test]
fn vector_d_calibration_flag() {
    let d = run(D).unwrap();
    assert_eq!(
        rows(&d),
        [
            ("DL01", "ph", 6.21, 'N'),
            ("DL01", "do", 3.4, 'N'),
            ("DL01", "cond", 1385.0, 'N'),
            ("DL01", "nh3n", 4.86, 'N'),
            ("DL01", "codmn", 9.8, 'C')
        ]
    );
    assert_eq!(d.readings[4].flag, DataFlag::C);
    assert!(!d.readings[4].flag.is_measurement());
    assert_eq!(
        d.readings[0].time,
        parse_rfc3339("2024-07-15T18:00:00Z").unwrap()
    );
}

#[test]
fn framing_faults() {
    let flipped = A.replace("w01009-Rtd=8.15", "w01009-Rtd=8.16");
    let e = run(&flipped).unwrap_err();
    assert_eq!(e.reason, RejectReason::BadCrc, "{e}");
    assert!(e.detail.contains("CRC field 2340"), "{e}");

    for wrong in ["##0262", "##0260"] {
        let e = run(&A.replacen("##0261", wrong, 1)).unwrap_err();
        assert_eq!(e.reason, RejectReason::BadLength, "{wrong}: {e}");
        assert!(e.detail.contains("data segment is 261 bytes"), "{e}");
        let e = run(A.replacen("##0261", wrong, 1).trim_end()).unwrap_err();
        assert_eq!(
            e.reason,
            RejectReason::BadLength,
            "{wrong} without CRLF: {e}"
        );
    }
    let e = run(&A[..A.len() - 40]).unwrap_err();
    assert_eq!(e.reason, RejectReason::BadLength, "truncated: {e}");
    let e = run(&A.replacen("##0261", "##02x1", 1)).unwrap_err();
    assert_eq!(e.reason, RejectReason::BadLength, "{e}");
    let e = run(&A.replace("&&2340", "&&23G0")).unwrap_err();
    assert_eq!(e.reason, RejectReason::Malformed, "{e}");
    assert!(e.detail.contains("`23G0` is not 4 hex digits"), "{e}");
    let e = run("no frame here").unwrap_err();
    assert_eq!(e.reason, RejectReason::Malformed, "{e}");
}

#[test]
fn tolerated_framing_variants() {
    assert_eq!(
        run(&C.replace("&&0B40", "&&0b40")).unwrap().readings.len(),
        4,
        "lowercase CRC"
    );
    assert_eq!(
        run(&D.replace("&&4C80", "&&4c80")).unwrap().readings.len(),
        5,
        "lowercase CRC"
    );
    assert_eq!(run(A.trim_end()).unwrap().readings.len(), 5, "no CRLF");
    assert_eq!(
        run(&format!("\x00\x17garbage#{A}")).unwrap().readings.len(),
        5,
        "garbage before ##"
    );
    assert_eq!(
        run(&A.replace("\r\n", "\n")).unwrap().readings.len(),
        5,
        "bare LF"
    );
}

#[test]
fn two_frames_in_one_payload() {
    let d = run(&format!("{A}{D}")).unwrap();
    assert_eq!(d.readings.len(), 10);
    // A good frame keeps its readings when the next one is refused.
    let d = run(&format!("{A}{B}")).unwrap();
    assert_eq!(d.readings.len(), 5);
    assert_eq!(d.item_errors.len(), 1);
    assert!(
        d.item_errors[0].starts_with("frame 2 refused: unsupported"),
        "{:?}",
        d.item_errors
    );
    let bad = D.replace("w01001-Rtd=6.21", "w01001-Rtd=6.22");
    let d = run(&format!("{A}{bad}")).unwrap();
    assert!(
        d.item_errors[0].starts_with("frame 2 refused: bad_crc"),
        "{:?}",
        d.item_errors
    );
}

#[test]
fn unknown_codes_2005_codes_and_micrograms() {
    let seg = format!(
        "QN=20240715083000123;ST=21;CN=2011;PW=123456;MN={MN};Flag=4;CP=&&DataTime=20240715083000;\
         w01023-Rtd=12.5,w01023-Flag=N;060-Rtd=0.8;W20111-Rtd=0.05,W20111-Flag=T;w01010-Rtd=,w01010-Flag=N;w01001-Rtd=abc&&"
    );
    let d = run(&frame(&seg)).unwrap();
    assert_eq!(
        rows(&d),
        [
            ("DL01", "w01023", 12.5, 'N'),
            ("DL01", "nh3n", 0.8, 'N'),
            ("DL01", "hg", 0.00005, 'T')
        ]
    );
    assert_eq!(
        d.item_errors,
        ["w01010-Rtd is empty", "w01001-Rtd `abc` is not a number"]
    );
}

#[test]
fn station_code_overrides() {
    let toml = format!(
        "[[station]]\nid = \"X1\"\ntarget_class = \"III\"\nhj212_mn = \"{MN}\"\nhj212_codes = {{ w01019 = \"salinity\", w99001 = \"CD\" }}\n"
    );
    let st = Stations::parse("s.toml", &toml).unwrap();
    let seg = format!(
        "ST=21;CN=2011;MN={MN};CP=&&DataTime=20240715083000;w01019-Rtd=0.3;w99001-Rtd=2;w21003-Rtd=0.4&&"
    );
    let d = run_with(&frame(&seg), None, &ctx_at(&st, RECEIVED)).unwrap();
    assert_eq!(
        rows(&d),
        [
            ("X1", "salinity", 0.3, 'N'),
            ("X1", "cd", 0.002, 'N'),
            ("X1", "nh3n", 0.4, 'N')
        ]
    );
}

#[test]
fn stations_and_topics() {
    let st = network();
    let mut ctx = ctx_at(&st, RECEIVED);
    let other = A
        .replace(MN, "UNKNOWNMN000000000000001")
        .replace("&&2340", "&&0000");
    let other = frame(&other[6..other.len() - 6]);
    assert_eq!(
        run_with(&other, None, &ctx).unwrap_err().reason,
        RejectReason::UnknownStation
    );
    ctx.accept_unknown_stations = true;
    assert_eq!(
        run_with(&other, None, &ctx).unwrap().readings[0]
            .station
            .as_str(),
        "UNKNOWNMN000000000000001"
    );

    let e = run_with(A, Some("riverwatch/hj212/DLHSIM000000000000000002"), &ctx).unwrap_err();
    assert_eq!(e.reason, RejectReason::StationMismatch, "{e}");
    assert!(run_with(A, Some(&format!("riverwatch/hj212/{MN}")), &ctx).is_ok());
    // No MN in the frame: the topic names it.
    let seg = "ST=21;CN=2011;CP=&&DataTime=20240715083000;w01001-Rtd=7.1&&";
    let d = run_with(&frame(seg), Some(&format!("riverwatch/hj212/{MN}")), &ctx).unwrap();
    assert_eq!(d.readings[0].station.as_str(), "DL01");
    assert_eq!(
        run_with(&frame(seg), None, &ctx).unwrap_err().reason,
        RejectReason::Malformed
    );
}

#[test]
fn segment_refusals() {
    let cases: &[(&str, RejectReason, &str)] = &[
        (
            "ST=21;CN=2021;MN=M;CP=&&DataTime=20240715083000;i1=1&&",
            RejectReason::Unsupported,
            "device status",
        ),
        (
            "ST=21;CN=3015;MN=M;CP=&&&&",
            RejectReason::Unsupported,
            "control command",
        ),
        (
            "ST=21;MN=M;CP=&&DataTime=20240715083000;w01001-Rtd=7&&",
            RejectReason::Malformed,
            "no CN",
        ),
        (
            "ST=21;CN=2011;MN=M;XX=&&a&&",
            RejectReason::Malformed,
            "no `CP=&&`",
        ),
        (
            "ST=21;CN=2011;MN=DLHSIM000000000000000001;CP=&&w01001-Rtd=7&&",
            RejectReason::Malformed,
            "no DataTime",
        ),
        (
            "ST=21;CN=2011;MN=DLHSIM000000000000000001;CP=&&DataTime=20241315083000;w01001-Rtd=7&&",
            RejectReason::BadTime,
            "YYYYMMDDhhmmss",
        ),
        (
            "ST=21;CN=2011;MN=DLHSIM000000000000000001;CP=&&DataTime=20250101000000;w01001-Rtd=7&&",
            RejectReason::BadTime,
            "2024-12-31T16:00:00Z",
        ),
        (
            "ST=21;CN=2011;MN=DLHSIM000000000000000001;CP=&&DataTime=20240715083000&&",
            RejectReason::NoReadings,
            "no values",
        ),
        (
            "ST=21;CN=2011;MN=DLHSIM000000000000000001;CP=&&DataTime=20240715083000;w01001-Avg=7&&",
            RejectReason::NoReadings,
            "no -Rtd value",
        ),
    ];
    for (seg, reason, needle) in cases {
        let e = run(&frame(seg)).unwrap_err();
        assert_eq!(e.reason, *reason, "{seg}: {e}");
        assert!(e.detail.contains(needle), "{seg}: {e}");
    }
}

#[test]
fn encode_then_decode_round_trips() {
    let t = parse_rfc3339("2024-07-15T17:30:00Z").unwrap();
    let items = [
        ("w01001", 7.82, DataFlag::N),
        ("w21003", 0.4700000001, DataFlag::N),
        ("w01019", 9.8, DataFlag::C),
        ("w01014", 1385.0, DataFlag::T),
        ("w01009", f64::NAN, DataFlag::D),
    ];
    for (cn, field) in [("2011", "-Rtd="), ("2061", "-Avg=")] {
        let f = encode_hj212_frame(MN, cn, t, &items, t + 12_345);
        assert!(
            f.starts_with("##") && f.ends_with("\r\n") && f.contains(field),
            "{f}"
        );
        assert!(
            f.contains("QN=20240716013012345;") && f.contains("DataTime=20240716013000;"),
            "{f}"
        );
        let d = run(&f).unwrap();
        assert_eq!(
            rows(&d),
            [
                ("DL01", "ph", 7.82, 'N'),
                ("DL01", "nh3n", 0.4700000001, 'N'),
                ("DL01", "codmn", 9.8, 'C'),
                ("DL01", "cond", 1385.0, 'T')
            ]
        );
        assert!(d.readings.iter().all(|r| r.time == t));
        assert_eq!(
            d.item_errors,
            ["w01009-".to_string() + &field[1..4] + " is empty"]
        );
    }
}
