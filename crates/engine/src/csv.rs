//! The long CSV of the offline contract: `time,station,parameter,value[,flag]`, RFC 3339 UTC
//! times, one reading per line. Parsing is by hand and allocation-free per line apart from
//! interning new station and parameter names, because `detect` must read a million lines a
//! second.

use crate::model::{DataFlag, ParamId, Reading, StationId};
use crate::time::{parse_rfc3339_bytes, Millis, Rfc3339};
use rustc_hash::FxHashMap;
use std::fmt::Write as _;

/// Why a line was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// Not 4 or 5 comma-separated fields.
    #[error("expected `time,station,parameter,value[,flag]`, found {0} fields")]
    Fields(usize),
    /// The time is not RFC 3339.
    #[error("time `{0}` is not RFC 3339")]
    Time(String),
    /// The value is not a finite number.
    #[error("value `{0}` is not a finite number")]
    Value(String),
    /// Empty station or parameter.
    #[error("empty station or parameter")]
    Empty,
}

/// Turns CSV lines into readings, interning names.
#[derive(Default)]
pub struct LineReader {
    stations: FxHashMap<Box<str>, StationId>,
    params: FxHashMap<Box<str>, ParamId>,
    last_time: Option<(String, Millis)>,
    last_station: Option<StationId>,
}

fn intern<T: Clone>(map: &mut FxHashMap<Box<str>, T>, key: &str, make: impl Fn(&str) -> T) -> T {
    if let Some(v) = map.get(key) {
        return v.clone();
    }
    let v = make(key);
    map.insert(key.into(), v.clone());
    v
}

/// Parses a plain decimal such as `-12.345` exactly and quickly: with at most 15 significant
/// digits, the digits as an integer and the power of ten are both exact doubles, so one IEEE
/// division is correctly rounded (the classic fast path). Anything else returns None and the
/// caller falls back to the standard parser. Shared with the HJ 212 decoder.
pub(crate) fn parse_decimal(b: &[u8]) -> Option<f64> {
    let (neg, digits) = match b.first()? {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    let (mut mantissa, mut count, mut frac, mut seen_dot) = (0u64, 0u32, 0i32, false);
    for &c in digits {
        match c {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(c - b'0');
                count += 1;
                frac += i32::from(seen_dot);
            }
            b'.' if !seen_dot => seen_dot = true,
            _ => return None,
        }
    }
    if count == 0 || count > 15 {
        return None;
    }
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    let v = mantissa as f64 / POW10[frac as usize];
    Some(if neg { -v } else { v })
}

impl LineReader {
    /// Whether a line is the header.
    pub fn is_header(line: &str) -> bool {
        line.trim_start_matches('\u{feff}').starts_with("time,")
    }

    /// Parses one line (without its newline).
    pub fn parse(&mut self, line: &str) -> Result<Reading, LineError> {
        self.parse_bytes(line.as_bytes())
    }

    /// Parses one line given as bytes (without its newline). Consecutive lines usually share
    /// the time and the station, so both are remembered from the previous line.
    pub fn parse_bytes(&mut self, line: &[u8]) -> Result<Reading, LineError> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let line = std::str::from_utf8(line).map_err(|_| LineError::Empty)?;
        // Split by hand: `str::split` costs more than the rest of the line's parsing.
        let mut fields = [""; 5];
        let (mut n, mut start) = (0, 0);
        for (i, &c) in line.as_bytes().iter().enumerate() {
            if c == b',' {
                if n == 4 {
                    return Err(LineError::Fields(line.split(',').count()));
                }
                fields[n] = &line[start..i];
                n += 1;
                start = i + 1;
            }
        }
        fields[n] = &line[start..];
        n += 1;
        if n < 4 {
            return Err(LineError::Fields(n));
        }
        let [t, s, p, v, flag] = fields;
        let time = match &self.last_time {
            Some((prev, ms)) if prev.as_bytes() == t.as_bytes() => *ms,
            _ => {
                let ms = parse_rfc3339_bytes(t.trim().as_bytes())
                    .ok_or_else(|| LineError::Time(t.chars().take(40).collect()))?;
                self.last_time = Some((t.to_string(), ms));
                ms
            }
        };
        let v = v.trim();
        let value = parse_decimal(v.as_bytes())
            .or_else(|| v.parse().ok())
            .ok_or_else(|| LineError::Value(v.chars().take(40).collect()))?;
        if !value.is_finite() {
            return Err(LineError::Value(v.to_string()));
        }
        let (s, p) = (s.trim(), p.trim());
        if s.is_empty() || p.is_empty() {
            return Err(LineError::Empty);
        }
        let station = match &self.last_station {
            Some(st) if st.as_str() == s => st.clone(),
            _ => {
                let st = intern(&mut self.stations, s, StationId::new);
                self.last_station = Some(st.clone());
                st
            }
        };
        let flag = flag
            .trim()
            .chars()
            .next()
            .map_or(DataFlag::N, DataFlag::from_letter);
        Ok(Reading {
            station,
            parameter: intern(&mut self.params, p, ParamId::new),
            time,
            value,
            flag,
        })
    }
}

/// Appends one reading as a CSV line (with a flag column only when the flag is not `N`).
pub fn write_line(out: &mut String, r: &Reading) {
    let _ = write!(
        out,
        "{},{},{},{}",
        Rfc3339(r.time),
        r.station,
        r.parameter,
        r.value
    );
    if r.flag != DataFlag::N {
        let _ = write!(out, ",{}", r.flag.letter());
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses_with_reasons() {
        let mut lr = LineReader::default();
        let r = lr.parse("2024-07-15T00:30:00Z,DL03,nh3n,0.42").unwrap();
        assert_eq!(
            (r.station.as_str(), r.parameter.as_str(), r.value, r.flag),
            ("DL03", "nh3n", 0.42, DataFlag::N)
        );
        let r = lr.parse("2024-07-15T00:30:00Z,DL03,nh3n,0.42,C\r").unwrap();
        assert_eq!(r.flag, DataFlag::C);
        assert_eq!(
            lr.parse("2024-07-15T00:30:00Z,DL03,nh3n"),
            Err(LineError::Fields(3))
        );
        assert!(matches!(
            lr.parse("yesterday,DL03,nh3n,1"),
            Err(LineError::Time(_))
        ));
        assert!(matches!(
            lr.parse("2024-07-15T00:30:00Z,DL03,nh3n,NaN"),
            Err(LineError::Value(_))
        ));
        assert!(matches!(
            lr.parse("2024-07-15T00:30:00Z,DL03,nh3n,inf"),
            Err(LineError::Value(_))
        ));
        assert_eq!(
            lr.parse("2024-07-15T00:30:00Z,,nh3n,1"),
            Err(LineError::Empty)
        );
        for text in [
            "0.295",
            "-12.5",
            "400.997",
            "7",
            "1e3",
            "0.1",
            "123456789012345",
            "1234567890123456",
        ] {
            let exact: f64 = text.parse().unwrap();
            assert_eq!(
                lr.parse(&format!("2024-07-15T00:30:00Z,A,p,{text}"))
                    .unwrap()
                    .value,
                exact,
                "{text}"
            );
        }
        assert!(lr.parse("2024-07-15T00:30:00Z,A,p,1.2.3").is_err());
        assert!(lr.parse("2024-07-15T00:30:00Z,A,p,-").is_err());
        let mut s = String::new();
        write_line(
            &mut s,
            &lr.parse("2024-07-15T00:30:00Z,DL03,nh3n,0.42,C").unwrap(),
        );
        assert_eq!(s, "2024-07-15T00:30:00Z,DL03,nh3n,0.42,C\n");
        assert!(LineReader::is_header("time,station,parameter,value"));
    }
}
