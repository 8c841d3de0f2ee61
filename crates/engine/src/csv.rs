//! The long CSV of the offline contract: `time,station,parameter,value[,flag]`, RFC 3339 UTC
//! times, one reading per line. Parsing is by hand and allocation-free per line apart from
//! interning new station and parameter names, because `detect` must read a million lines a
//! second.

use crate::model::{DataFlag, ParamId, Reading, StationId};
use crate::time::{parse_rfc3339, Rfc3339};
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
}

fn intern<T: Clone>(map: &mut FxHashMap<Box<str>, T>, key: &str, make: impl Fn(&str) -> T) -> T {
    if let Some(v) = map.get(key) {
        return v.clone();
    }
    let v = make(key);
    map.insert(key.into(), v.clone());
    v
}

impl LineReader {
    /// Whether a line is the header.
    pub fn is_header(line: &str) -> bool {
        line.trim_start_matches('\u{feff}').starts_with("time,")
    }

    /// Parses one line (without its newline).
    pub fn parse(&mut self, line: &str) -> Result<Reading, LineError> {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let mut it = line.split(',');
        let (Some(t), Some(s), Some(p), Some(v)) = (it.next(), it.next(), it.next(), it.next())
        else {
            return Err(LineError::Fields(line.split(',').count()));
        };
        let flag = it.next();
        if it.next().is_some() {
            return Err(LineError::Fields(line.split(',').count()));
        }
        let time = parse_rfc3339(t).ok_or_else(|| LineError::Time(t.chars().take(40).collect()))?;
        let value: f64 = v
            .trim()
            .parse()
            .map_err(|_| LineError::Value(v.chars().take(40).collect()))?;
        if !value.is_finite() {
            return Err(LineError::Value(v.to_string()));
        }
        let (s, p) = (s.trim(), p.trim());
        if s.is_empty() || p.is_empty() {
            return Err(LineError::Empty);
        }
        let flag = flag
            .and_then(|f| f.trim().chars().next())
            .map_or(DataFlag::N, DataFlag::from_letter);
        Ok(Reading {
            station: intern(&mut self.stations, s, StationId::new),
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
        let mut s = String::new();
        write_line(
            &mut s,
            &lr.parse("2024-07-15T00:30:00Z,DL03,nh3n,0.42,C").unwrap(),
        );
        assert_eq!(s, "2024-07-15T00:30:00Z,DL03,nh3n,0.42,C\n");
        assert!(LineReader::is_header("time,station,parameter,value"));
    }
}
