//! `riverwatch decode`: one payload per stdin line in, one JSON line per reading, item error or
//! rejection out, and the run carries on past bad lines.

use crate::cli::riverwatch;
use serde_json::Value;
use std::io::Write;
use std::process::Stdio;

const HJ212_A: &str = "##0261QN=20240715083000123;ST=21;CN=2011;PW=123456;MN=DLHSIM000000000000000001;Flag=5;CP=&&DataTime=20240715083000;w01010-Rtd=23.4,w01010-Flag=N;w01001-Rtd=7.82,w01001-Flag=N;w01009-Rtd=8.15,w01009-Flag=N;w01014-Rtd=412.0,w01014-Flag=N;w01003-Rtd=18.6,w01003-Flag=N&&2340\r";
const SENML: &str = r#"[{"bn":"urn:dev:mn:DLHSIM000000000000000002:","bt":1721003400,"n":"cond","u":"S/m","v":0.0412},{"n":"temp","u":"Cel","v":23.1,"t":-60}]"#;
const JSON: &str = r#"{"station":"DL03","time":"2024-07-15T00:30:00Z","values":{"ph":7.8,"nh3n":NaN},"flags":{"ph":"C"}}"#;
const UNKNOWN: &str = r#"{"station":"ZZ99","parameter":"do","time":1721003400000,"value":8.1}"#;

/// Runs `riverwatch decode ARGS` over `lines` and parses every output line.
fn decode(args: &[&str], lines: &[&str]) -> Vec<Value> {
    let mut child = riverwatch()
        .arg("decode")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{}\n", lines.join("\n")).as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn on_line(rows: &[Value], n: u64) -> Vec<&Value> {
    rows.iter().filter(|r| r["line"] == n).collect()
}

#[test]
fn decodes_each_line_and_carries_on() {
    let bad_crc = HJ212_A.replace("&&2340", "&&2341");
    let lines = [
        HJ212_A,
        &bad_crc,
        SENML,
        "",
        JSON,
        "this is not a payload",
        UNKNOWN,
    ];
    let rows = decode(&["--received", "2024-07-15T00:33:00Z"], &lines);

    let a = on_line(&rows, 1);
    assert_eq!(a.len(), 5, "{a:?}");
    assert_eq!(
        *a[0],
        serde_json::json!({"line":1,"station":"DL01","parameter":"temp","time":"2024-07-15T00:30:00Z","value":23.4,"flag":"N"})
    );
    let params: Vec<_> = a.iter().map(|r| r["parameter"].as_str().unwrap()).collect();
    assert_eq!(params, ["temp", "ph", "do", "cond", "turb"]);

    let crc = on_line(&rows, 2);
    assert_eq!(crc.len(), 1);
    assert_eq!(crc[0]["rejected"], "bad_crc");
    assert!(
        crc[0]["detail"].as_str().unwrap().contains("2341"),
        "{crc:?}"
    );

    let senml = on_line(&rows, 3);
    assert_eq!(senml.len(), 2, "{senml:?}");
    // bt is carried, so temp's t = -60 is a minute before cond: sorted first.
    assert_eq!(
        (&senml[0]["parameter"], &senml[0]["time"]),
        (&"temp".into(), &"2024-07-15T00:29:00Z".into())
    );
    assert_eq!(
        (
            &senml[1]["station"],
            &senml[1]["parameter"],
            &senml[1]["value"]
        ),
        (&"DL02".into(), &"cond".into(), &412.0.into())
    );

    assert!(on_line(&rows, 4).is_empty(), "blank lines are skipped");

    let json = on_line(&rows, 5);
    assert_eq!(json.len(), 2, "{json:?}");
    assert_eq!(
        (&json[0]["parameter"], &json[0]["flag"]),
        (&"ph".into(), &"C".into())
    );
    assert!(
        json[1]["item_error"].as_str().unwrap().starts_with("nh3n:"),
        "{json:?}"
    );

    let garbage = on_line(&rows, 6);
    assert_eq!(garbage.len(), 1);
    assert_eq!(garbage[0]["rejected"], "malformed");

    let unknown = on_line(&rows, 7);
    assert_eq!(
        (&unknown[0]["station"], &unknown[0]["value"]),
        (&"ZZ99".into(), &8.1.into())
    );
    assert_eq!(rows.len(), 5 + 1 + 2 + 2 + 1 + 1);
}

#[test]
fn strict_refuses_unknown_stations_and_format_can_be_forced() {
    let rows = decode(
        &["--strict", "--received", "2024-07-15T00:33:00Z"],
        &[UNKNOWN],
    );
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["rejected"], "unknown_station");

    let rows = decode(
        &["--format", "senml", "--received", "2024-07-15T00:33:00Z"],
        &[JSON],
    );
    assert_eq!(rows[0]["rejected"], "malformed", "{rows:?}");

    let rows = decode(
        &[
            "--topic",
            "riverwatch/readings/DL05",
            "--received",
            "2024-07-15T00:33:00Z",
        ],
        &[r#"{"parameter":"tp","time":"2024-07-15T00:30:00Z","value":0.2}"#],
    );
    assert_eq!(
        (&rows[0]["station"], &rows[0]["parameter"]),
        (&"DL05".into(), &"tp".into())
    );
}
