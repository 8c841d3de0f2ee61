//! Event time: UTC milliseconds since the Unix epoch, with RFC 3339 parsing and formatting
//! and the civil-date arithmetic the decoders need (HJ 212 sends Beijing local time).
//!
//! Written by hand rather than with chrono: `detect` parses one timestamp per CSV row and the
//! offline contract asks for a million rows a second.

use std::fmt;

/// Milliseconds since 1970-01-01T00:00:00Z.
pub type Millis = i64;

/// One second, one minute, one hour and one day in [`Millis`].
pub const SECOND: Millis = 1_000;
/// One minute in [`Millis`].
pub const MINUTE: Millis = 60 * SECOND;
/// One hour in [`Millis`].
pub const HOUR: Millis = 60 * MINUTE;
/// One day in [`Millis`].
pub const DAY: Millis = 24 * HOUR;

/// Earliest time accepted anywhere (1990-01-01): older readings are absurd for this domain.
pub const MIN_PLAUSIBLE: Millis = 631_152_000_000;
/// Latest time accepted anywhere (2100-01-01).
pub const MAX_PLAUSIBLE: Millis = 4_102_444_800_000;

/// Days since the epoch of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date `(year, month, day)` of a day count since the epoch.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Milliseconds of a civil date-time, or `None` when a field is out of range.
pub fn from_civil(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32, ms: u32) -> Option<Millis> {
    if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 60
    {
        return None;
    }
    let secs = days_from_civil(y, mo, d) * 86_400 + (h * 3600 + mi * 60 + s.min(59)) as i64;
    Some(secs * 1000 + ms as i64)
}

fn digits(b: &[u8]) -> Option<u32> {
    let mut n = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + (c - b'0') as u32;
    }
    Some(n)
}

/// Parses RFC 3339 (`2024-07-15T08:30:00Z`, `…T08:30:00.5+08:00`, space instead of `T`).
pub fn parse_rfc3339(s: &str) -> Option<Millis> {
    parse_rfc3339_bytes(s.trim().as_bytes())
}

/// [`parse_rfc3339`] on bytes (no surrounding white space allowed).
pub fn parse_rfc3339_bytes(b: &[u8]) -> Option<Millis> {
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    let (h, mi, sec) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    let mut i = 19;
    let mut ms = 0u32;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 3 {
                ms = ms * 10 + (b[i] - b'0') as u32;
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        for _ in (i - start)..3 {
            ms *= 10;
        }
    }
    let offset_min: i64 = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
            let off = (digits(&b[i + 1..i + 3])? * 60 + digits(&b[i + 4..i + 6])?) as i64;
            if sign == b'-' {
                -off
            } else {
                off
            }
        }
        _ => return None,
    };
    Some(from_civil(y as i64, mo, d, h, mi, sec, ms)? - offset_min * MINUTE)
}

/// A time that prints as RFC 3339 UTC with milliseconds only when they are not zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rfc3339(pub Millis);

impl fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.div_euclid(1000);
        let ms = self.0.rem_euclid(1000);
        let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
        let sod = secs.rem_euclid(86_400);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            sod / 3600,
            sod % 3600 / 60,
            sod % 60
        )?;
        if ms != 0 {
            write!(f, ".{ms:03}")?;
        }
        f.write_str("Z")
    }
}

/// Formats a time as RFC 3339 UTC.
pub fn format_rfc3339(t: Millis) -> String {
    Rfc3339(t).to_string()
}

/// Parses a duration such as `90s`, `15m`, `4h`, `2d` or `500ms`.
pub fn parse_duration(s: &str) -> Option<Millis> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let scale = match unit.trim() {
        "ms" => 1.0,
        "s" => SECOND as f64,
        "m" | "min" => MINUTE as f64,
        "h" => HOUR as f64,
        "d" => DAY as f64,
        _ => return None,
    };
    let v = n * scale;
    (0.0..1e15).contains(&v).then_some(v.round() as Millis)
}

/// Formats a duration in the largest unit that divides it (`90s` → `90s`, `7200000` → `2h`).
pub fn format_duration(ms: Millis) -> String {
    for (unit, scale) in [("d", DAY), ("h", HOUR), ("m", MINUTE), ("s", SECOND)] {
        if ms != 0 && ms % scale == 0 {
            return format!("{}{unit}", ms / scale);
        }
    }
    format!("{ms}ms")
}

/// serde helpers for durations written as strings such as `"15m"`.
pub mod duration_serde {
    use super::*;
    use serde::{de, Deserialize, Deserializer, Serializer};

    /// Serialises a duration in [`format_duration`] form.
    pub fn serialize<S: Serializer>(v: &Millis, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(*v))
    }

    /// Deserialises a duration such as `"15m"`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Millis, D::Error> {
        let s = String::deserialize(d)?;
        parse_duration(&s).ok_or_else(|| {
            de::Error::custom(format!(
                "`{s}` is not a duration (use e.g. 90s, 15m, 4h, 2d)"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip() {
        let t = parse_rfc3339("2024-07-15T00:30:00Z").unwrap();
        assert_eq!(t, 1_721_003_400_000);
        assert_eq!(format_rfc3339(t), "2024-07-15T00:30:00Z");
        assert_eq!(parse_rfc3339("2024-07-15T08:30:00.25+08:00"), Some(t + 250));
        assert_eq!(format_rfc3339(t + 250), "2024-07-15T00:30:00.250Z");
        assert_eq!(parse_rfc3339("2024-02-30T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("2024-07-15T00:30:00"), None);
        assert_eq!(parse_rfc3339("garbage"), None);
    }

    #[test]
    fn civil_days_agree() {
        for z in [-1000, 0, 59, 60, 10_957, 19_000, 50_000] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15m"), Some(15 * MINUTE));
        assert_eq!(parse_duration("1.5h"), Some(90 * MINUTE));
        assert_eq!(parse_duration("15 parsecs"), None);
        assert_eq!(format_duration(2 * HOUR), "2h");
        assert_eq!(format_duration(90 * SECOND), "90s");
    }
}

/// serde helpers for times written as RFC 3339 strings.
pub mod rfc3339_serde {
    use super::*;
    use serde::{de, Deserialize, Deserializer, Serializer};

    /// Serialises a time as RFC 3339 UTC.
    pub fn serialize<S: Serializer>(v: &Millis, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&Rfc3339(*v))
    }

    /// Deserialises an RFC 3339 time.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Millis, D::Error> {
        let s = String::deserialize(d)?;
        parse_rfc3339(&s).ok_or_else(|| de::Error::custom(format!("`{s}` is not an RFC 3339 time")))
    }
}
