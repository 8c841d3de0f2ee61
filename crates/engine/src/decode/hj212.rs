//! HJ 212-2017 data: the fields of a checked frame (hj212.md §2, §6–§9) turned into readings.
//!
//! Fields are found by key, never by position (senders omit and repeat keys). Real-time data
//! (CN 2011) gives `-Rtd` values; minute, hourly and daily data (2051, 2061, 2031) give `-Avg`,
//! and their `-Min`/`-Max` are ignored: detection works on the average. `DataTime` is Beijing
//! time. Factor codes resolve through the station's `hj212_codes` first, then the project
//! table (2017 and 2005 codes); an unknown code is kept as the parameter name. Several frames
//! in one payload are decoded one after the other.
//!
//! This is the hot path of a station network that speaks HJ 212, so it works on bytes and the
//! code → parameter table is built once: a frame costs one CRC pass, one scan and one `Vec`.

use super::hj212_frame::{next_frame, BEIJING};
use super::{param_id, units, DecodeContext, Decoded, RejectReason, Rejected};
use crate::config::Station;
use crate::model::{DataFlag, ParamId, Reading};
use crate::params;
use crate::time::{from_civil, Millis};
use rustc_hash::FxHashMap;
use std::sync::OnceLock;

pub(super) fn decode(
    payload: &[u8],
    topic_mn: Option<&str>,
    ctx: &DecodeContext,
) -> Result<Decoded, Rejected> {
    let mut out = Decoded::default();
    let mut refused: Vec<(usize, Rejected)> = Vec::new();
    let mut rest = payload;
    let mut frame = 0;
    while let Some(next) = next_frame(rest) {
        frame += 1;
        let segment = match next {
            Ok((segment, after)) => {
                rest = after;
                segment
            }
            Err(e) => {
                refused.push((frame, e));
                break; // where the next frame starts is unknowable
            }
        };
        match decode_segment(segment, topic_mn, ctx) {
            Ok(d) if out.readings.is_empty() && out.item_errors.is_empty() => out = d,
            Ok(d) => {
                out.readings.extend(d.readings);
                out.item_errors.extend(d.item_errors);
            }
            Err(e) => refused.push((frame, e)),
        }
    }
    if frame == 0 {
        return Err(Rejected::new(
            RejectReason::Malformed,
            "no `##` frame header",
        ));
    }
    if out.readings.is_empty() && !refused.is_empty() {
        return Err(refused.swap_remove(0).1);
    }
    for (n, e) in refused {
        out.item_errors.push(format!("frame {n} refused: {e}"));
    }
    Ok(out)
}

/// Which field of each factor holds the value.
#[derive(Clone, Copy)]
enum Series {
    Rtd,
    Avg,
}

fn decode_segment(
    seg: &[u8],
    topic_mn: Option<&str>,
    ctx: &DecodeContext,
) -> Result<Decoded, Rejected> {
    let malformed = |d: String| Rejected::new(RejectReason::Malformed, d);
    // Header fields up to `CP=&&`, which runs to the segment's final `&&`.
    let (mut st, mut cn, mut mn, mut cp) = (None, None, None, None);
    let mut at = 0;
    while at < seg.len() {
        let end = seg[at..]
            .iter()
            .position(|&b| b == b';')
            .map_or(seg.len(), |n| at + n);
        if seg[at..].starts_with(b"CP=&&") {
            cp = seg.get(at + 5..seg.len() - 2);
            if cp.is_none() {
                return Err(malformed("`CP=&&` is not closed by `&&`".into()));
            }
            break;
        }
        let (key, value) = split_eq(&seg[at..end]);
        at = end + 1;
        let slot = match key {
            b"ST" => &mut st,
            b"CN" => &mut cn,
            b"MN" => &mut mn,
            _ => continue,
        };
        slot.get_or_insert(value);
    }
    let cp = cp.ok_or_else(|| malformed("no `CP=&&` field".into()))?;
    let cn = text("CN", cn.ok_or_else(|| malformed("no CN field".into()))?)?;
    let st = text("ST", st.unwrap_or_default())?;
    let series = match cn {
        _ if st == "91" || cn.starts_with('9') => {
            return Err(Rejected::new(
                RejectReason::Unsupported,
                format!("platform reply (ST={st}, CN={cn}): an answer to a station, not data"),
            ))
        }
        "2011" => Series::Rtd,
        "2051" | "2061" | "2031" => Series::Avg,
        _ => {
            return Err(Rejected::new(
                RejectReason::Unsupported,
                format!(
                    "CN={cn} ({}) carries no water readings; decoded: 2011, 2051, 2061, 2031",
                    command_name(cn)
                ),
            ))
        }
    };
    let mn = match (mn.map(|m| text("MN", m)).transpose()?, topic_mn) {
        (Some(m), Some(t)) if m != t => {
            return Err(Rejected::new(
                RejectReason::StationMismatch,
                format!("the frame's MN is `{m}` but it arrived on the topic of `{t}`"),
            ))
        }
        (m, t) => m
            .or(t)
            .ok_or_else(|| malformed("no MN field and no MN in the topic".into()))?,
    };
    let (station, config) = ctx.station_by_mn(mn)?;
    let mut out = Decoded::default();
    let factors = parse_cp(cp, series, &mut out.item_errors)?;
    out.readings.reserve(factors.len());
    for f in &factors {
        let time = match f.time {
            Some(t) => ctx.check_time(t, "DataTime")?,
            None => {
                out.item_errors
                    .push(format!("{}: no DataTime before it", lossy(f.code)));
                continue;
            }
        };
        match factor_reading(f, series, config) {
            Ok((parameter, value, flag)) => out.readings.push(Reading {
                station: station.clone(),
                parameter,
                time,
                value,
                flag,
            }),
            Err(e) => out.item_errors.push(e),
        }
    }
    Ok(out)
}

/// One factor's fields, borrowed from the frame.
struct Factor<'a> {
    code: &'a [u8],
    value: Option<&'a [u8]>,
    flag: Option<&'a [u8]>,
    time: Option<Millis>,
}

/// Collects factors in order of first appearance; `DataTime` applies to the items after it.
fn parse_cp<'a>(
    cp: &'a [u8],
    series: Series,
    notes: &mut Vec<String>,
) -> Result<Vec<Factor<'a>>, Rejected> {
    let mut factors: Vec<Factor> = Vec::with_capacity(8);
    let mut time = None;
    let mut at = 0;
    while at < cp.len() {
        // One pass per item: its end, its first `=`, and the last `-` before that.
        let start = at;
        let (mut eq, mut dash) = (None, None);
        while at < cp.len() {
            match cp[at] {
                b';' | b',' => break,
                b'=' if eq.is_none() => eq = Some(at),
                b'-' if eq.is_none() => dash = Some(at),
                _ => {}
            }
            at += 1;
        }
        let item = &cp[start..at];
        at += 1;
        let Some(eq) = eq else {
            if !item.is_empty() {
                notes.push(format!("`{}` is not KEY=VALUE; ignored", lossy(item)));
            }
            continue;
        };
        let (key, value) = (&cp[start..eq], &cp[eq + 1..start + item.len()]);
        let Some(dash) = dash else {
            if key == b"DataTime" {
                time = Some(beijing_time(value)?);
            }
            continue; // group-level keys (PolId, …) carry nothing we use
        };
        let (code, field) = (&cp[start..dash], &cp[dash + 1..eq]);
        let is_value = matches!(
            (series, field),
            (Series::Rtd, b"Rtd") | (Series::Avg, b"Avg")
        );
        // The other series' value still announces the factor, so its absence gets reported.
        if !matches!(field, b"Rtd" | b"Avg" | b"Flag") {
            continue; // -Min, -Max, -Cou, -SampleTime, -EFlag, …
        }
        // A factor's items are usually adjacent: try the latest factor first.
        let f = match factors
            .iter()
            .rposition(|f| f.code == code || f.code.eq_ignore_ascii_case(code))
        {
            Some(i) => &mut factors[i],
            None => {
                factors.push(Factor {
                    code,
                    value: None,
                    flag: None,
                    time,
                });
                let last = factors.len() - 1;
                &mut factors[last]
            }
        };
        if is_value {
            f.value.get_or_insert(value);
        } else if field == b"Flag" {
            f.flag.get_or_insert(value);
        }
    }
    if time.is_none() && !factors.is_empty() {
        return Err(Rejected::new(RejectReason::Malformed, "CP has no DataTime"));
    }
    Ok(factors)
}

/// The reading of one factor, or the item error that skips it.
fn factor_reading(
    f: &Factor,
    series: Series,
    station: Option<&Station>,
) -> Result<(ParamId, f64, DataFlag), String> {
    let code = lossy(f.code);
    let field = match series {
        Series::Rtd => "Rtd",
        Series::Avg => "Avg",
    };
    let raw = f
        .value
        .ok_or_else(|| format!("{code}: no -{field} value"))?;
    if raw.is_empty() {
        return Err(format!("{code}-{field} is empty"));
    }
    let value = std::str::from_utf8(raw)
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|v| v.is_finite())
        .ok_or_else(|| format!("{code}-{field} `{}` is not a number", lossy(raw)))?;
    let flag = match f
        .flag
        .map(|fl| std::str::from_utf8(fl).map(|s| s.chars().next()))
    {
        None | Some(Ok(None)) => DataFlag::N,
        Some(Ok(Some(c))) => DataFlag::from_letter(c),
        Some(Err(_)) => {
            return Err(format!(
                "{code}-Flag `{}` is not text",
                lossy(f.flag.unwrap_or_default())
            ))
        }
    };
    let (parameter, micrograms) = resolve_code(&code, station)?;
    let value = if micrograms {
        units::scale10(value, -3)
    } else {
        value
    };
    Ok((parameter, value, flag))
}

/// Factor code → parameter: the station's overrides, then the project table, then the code
/// itself (lowercase). The flag says the frame carries it in μg/L (project unit mg/L).
fn resolve_code(code: &str, station: Option<&Station>) -> Result<(ParamId, bool), String> {
    let micro = |p: &ParamId| params::HJ212_MICROGRAM.contains(&p.as_str());
    if let Some((_, id)) = station.and_then(|s| {
        s.hj212_codes
            .iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(code))
    }) {
        let p = param_id(id)?;
        return Ok((p.clone(), micro(&p)));
    }
    let mut buf = [0u8; 16];
    if code.len() <= buf.len() {
        let lower = &mut buf[..code.len()];
        lower.copy_from_slice(code.as_bytes());
        lower.make_ascii_lowercase();
        if let Some(hit) = std::str::from_utf8(lower)
            .ok()
            .and_then(|c| code_table().get(c))
        {
            return Ok(hit.clone());
        }
    }
    param_id(code)
        .map(|p| (p, false))
        .map_err(|e| format!("factor code: {e}"))
}

/// Lowercase 2017 and 2005 codes of every known parameter.
fn code_table() -> &'static FxHashMap<String, (ParamId, bool)> {
    static TABLE: OnceLock<FxHashMap<String, (ParamId, bool)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = FxHashMap::default();
        for p in params::KNOWN {
            let entry = (ParamId::new(p.id), params::HJ212_MICROGRAM.contains(&p.id));
            for code in std::iter::once(p.hj212).chain(p.hj212_2005) {
                t.insert(code.to_ascii_lowercase(), entry.clone());
            }
        }
        t
    })
}

/// `YYYYMMDDhhmmss` (optionally `zzz` ms) in Beijing time → UTC ms.
fn beijing_time(v: &[u8]) -> Result<Millis, Rejected> {
    let bad = || {
        Rejected::new(
            RejectReason::BadTime,
            format!("DataTime `{}` is not YYYYMMDDhhmmss", lossy(v)),
        )
    };
    if !(v.len() == 14 || v.len() == 17) || !v.iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    let n = |a: usize, b: usize| v[a..b].iter().fold(0u32, |n, d| n * 10 + (d - b'0') as u32);
    let ms = if v.len() == 17 { n(14, 17) } else { 0 };
    from_civil(
        n(0, 4) as i64,
        n(4, 6),
        n(6, 8),
        n(8, 10),
        n(10, 12),
        n(12, 14),
        ms,
    )
    .map(|t| t - BEIJING)
    .ok_or_else(bad)
}

fn text<'s>(what: &str, v: &'s [u8]) -> Result<&'s str, Rejected> {
    std::str::from_utf8(v).map_err(|_| {
        Rejected::new(
            RejectReason::Malformed,
            format!("{what} `{}` is not text", lossy(v)),
        )
    })
}

fn split_eq(field: &[u8]) -> (&[u8], &[u8]) {
    match field.iter().position(|&b| b == b'=') {
        Some(i) => (&field[..i], &field[i + 1..]),
        None => (field, &[]),
    }
}

fn lossy(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

/// A few words on the commands stations send that are not data (hj212.md §6).
fn command_name(cn: &str) -> &'static str {
    match cn {
        "2012" => "stop real-time data",
        "2021" | "2022" => "device status",
        "2041" => "device run time",
        "2081" => "data-logger restart",
        "2013" | "2062" => "raw or standard-check data",
        "1011" | "1012" | "1013" => "field time",
        c if c.starts_with("10") => "parameter command",
        c if c.starts_with("30") => "control command",
        _ => "unknown command",
    }
}

#[cfg(test)]
#[path = "hj212_tests.rs"]
pub(super) mod tests;
