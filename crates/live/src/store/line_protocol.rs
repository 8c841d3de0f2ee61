//! InfluxDB line protocol for readings, written by hand.
//!
//! Schema (one point per reading): measurement `water`, tags `parameter` and `station`, fields
//! `value` (float) and `flag` (string, the HJ 212 data flag letter), timestamp in ms
//! (`precision=ms`). A point's identity in InfluxDB is measurement + tag set + timestamp, so
//! `(station, parameter, time)` is the identity of a reading there too: writing the same reading
//! again overwrites it, which is what makes retries and spool replays exactly-once in the
//! database. `flag` is a field, not a tag, on purpose: as a tag it would be part of the identity,
//! and a re-sent reading with a corrected flag would become a second point. The replay queries
//! filter by station and time, which tags and the time index serve.
//!
//! Why by hand and not the `influxdb` crate: its `WriteQuery` builds one string per point for its
//! own client, which sends credentials in the URL, cannot gzip a request body, cannot stream a
//! chunked query answer, and turns a 400 "partial write" into an opaque error — the four things
//! the store needs (see `influx.rs`). Encoding a reading is thirty lines; this file owns them,
//! with the validation that keeps one bad reading from failing a whole request.

use riverwatch_engine::time::Millis;
use riverwatch_engine::Reading;
use std::fmt::Write;

/// Measurement every reading is written to.
pub const MEASUREMENT: &str = "water";

/// Largest |time| in ms that InfluxDB can store (its timestamps are i64 nanoseconds).
const MAX_ABS_MS: Millis = i64::MAX / 1_000_000;

/// Appends one reading as a line (no trailing newline) or says why it cannot be written.
pub fn encode(r: &Reading, out: &mut String) -> Result<(), String> {
    if !r.value.is_finite() {
        return Err(format!("value {} is not a finite number", r.value));
    }
    if r.time.abs() > MAX_ABS_MS {
        return Err(format!("time {} ms is outside InfluxDB's range", r.time));
    }
    let flag = r.flag.letter();
    if flag.is_control() {
        return Err(format!("flag {flag:?} is a control character"));
    }
    out.push_str(MEASUREMENT);
    out.push_str(",parameter=");
    tag_value(r.parameter.as_str(), "parameter", out)?;
    out.push_str(",station=");
    tag_value(r.station.as_str(), "station", out)?;
    // `{}` on f64 is the shortest text that parses back to the same bits, never in exponent
    // form, and with no `i` suffix, so InfluxDB always types it as a float.
    let _ = write!(out, " value={},flag=\"", r.value);
    if matches!(flag, '"' | '\\') {
        out.push('\\');
    }
    out.push(flag);
    let _ = write!(out, "\" {}", r.time);
    Ok(())
}

/// Escapes a tag value: `,`, `=` and space get a backslash. Values that line protocol cannot
/// carry unambiguously (empty, control characters, backslashes) are refused.
fn tag_value(v: &str, key: &str, out: &mut String) -> Result<(), String> {
    if v.is_empty() {
        return Err(format!("{key} is empty"));
    }
    if let Some(c) = v.chars().find(|c| c.is_control() || *c == '\\') {
        return Err(format!(
            "{key} {v:?} contains {c:?}, which line protocol cannot carry"
        ));
    }
    for c in v.chars() {
        if matches!(c, ',' | '=' | ' ') {
            out.push('\\');
        }
        out.push(c);
    }
    Ok(())
}

/// Quotes a string literal for InfluxQL (`'…'` with `\` and `'` escaped).
pub fn influxql_string(v: &str) -> String {
    let mut s = String::with_capacity(v.len() + 2);
    s.push('\'');
    for c in v.chars() {
        if matches!(c, '\\' | '\'') {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('\'');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use riverwatch_engine::DataFlag;

    fn reading(
        station: &str,
        parameter: &str,
        time: Millis,
        value: f64,
        flag: DataFlag,
    ) -> Reading {
        Reading {
            station: station.into(),
            parameter: parameter.into(),
            time,
            value,
            flag,
        }
    }

    fn line(r: &Reading) -> Result<String, String> {
        let mut s = String::new();
        encode(r, &mut s).map(|_| s)
    }

    #[test]
    fn encodes_a_reading_with_ms_time() {
        let r = reading("DL03", "nh3n", 1_764_460_800_123, 0.52, DataFlag::N);
        assert_eq!(
            line(&r).unwrap(),
            "water,parameter=nh3n,station=DL03 value=0.52,flag=\"N\" 1764460800123"
        );
    }

    #[test]
    fn escapes_tag_values() {
        let r = reading("S 03,x=y", "ph", 0, 7.0, DataFlag::T);
        assert_eq!(
            line(&r).unwrap(),
            "water,parameter=ph,station=S\\ 03\\,x\\=y value=7,flag=\"T\" 0"
        );
    }

    #[test]
    fn floats_round_trip_and_never_use_exponents() {
        for v in [
            7.21,
            0.1 + 0.2,
            1e-7,
            1e21,
            -0.0,
            f64::MIN_POSITIVE,
            f64::MAX,
            123456789.125,
        ] {
            let l = line(&reading("S", "p", 0, v, DataFlag::N)).unwrap();
            let text = l.split("value=").nth(1).unwrap().split(',').next().unwrap();
            assert!(!text.contains(['e', 'E', 'i']), "{text}");
            assert_eq!(
                text.parse::<f64>().unwrap().to_bits(),
                v.to_bits(),
                "{text}"
            );
        }
    }

    #[test]
    fn refuses_what_line_protocol_cannot_carry() {
        assert!(line(&reading("S", "p", 0, f64::NAN, DataFlag::N))
            .unwrap_err()
            .contains("finite"));
        assert!(line(&reading("S", "p", 0, f64::INFINITY, DataFlag::N)).is_err());
        assert!(line(&reading("", "p", 0, 1.0, DataFlag::N))
            .unwrap_err()
            .contains("station is empty"));
        assert!(line(&reading("S\nx", "p", 0, 1.0, DataFlag::N)).is_err());
        assert!(line(&reading("S\\", "p", 0, 1.0, DataFlag::N)).is_err());
        assert!(line(&reading("S", "p", i64::MAX, 1.0, DataFlag::N))
            .unwrap_err()
            .contains("range"));
        assert!(line(&reading("S", "p", 0, 1.0, DataFlag::Other('\n'))).is_err());
    }

    #[test]
    fn escapes_odd_flags_as_string_fields() {
        let l = line(&reading("S", "p", 5, 1.0, DataFlag::Other('"'))).unwrap();
        assert!(l.ends_with("flag=\"\\\"\" 5"), "{l}");
    }

    #[test]
    fn quotes_influxql_strings() {
        assert_eq!(influxql_string("DL03"), "'DL03'");
        assert_eq!(influxql_string("a'b\\c"), "'a\\'b\\\\c'");
    }
}
