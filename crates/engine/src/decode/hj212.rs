//! HJ 212-2017 data: the fields of a checked frame (hj212.md §2, §6–§9) turned into readings.
//!
//! Fields are found by key, never by position (senders omit and repeat keys). Real-time data
//! (CN 2011) gives `-Rtd` values; minute, hourly and daily data (2051, 2061, 2031) give `-Avg`,
//! and their `-Min`/`-Max` are ignored: detection works on the average. `DataTime` is Beijing
//! time. Factor codes resolve through the station's `hj212_codes` first, then the project
//! table (2017 and 2005 codes); an unknown code is kept as the parameter name. Several frames
//! in one payload are decoded one after the other.
//!
//! This is the hot path of a station network that speaks HJ 212: a frame costs one CRC pass,
//! one UTF-8 check, one delimiter scan ([`Delimiters`]) and two `Vec`s, and the code →
//! parameter table is built once. Bytes that are not UTF-8 (a GBK station name, say) become
//! U+FFFD instead of refusing the frame: they only matter if they sit in a value.

use super::hj212_frame::{next_frame, BEIJING};
use super::hj212_scan::Delimiters;
use super::{param_id, units, DecodeContext, Decoded, RejectReason, Rejected};
use crate::config::Station;
use crate::model::{DataFlag, ParamId};
use crate::params;
use crate::time::{from_civil, Millis};
use rustc_hash::FxHashMap;
use std::borrow::Cow;
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
    let seg: Cow<str> = match std::str::from_utf8(seg) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(seg),
    };
    let malformed = |d: String| Rejected::new(RejectReason::Malformed, d);
    // One delimiter scan serves the header fields and then CP, which runs from `CP=&&` to the
    // segment's final `&&`. Every delimiter is ASCII, so every offset is a char boundary.
    let mut scan = Delimiters::new(seg.as_bytes());
    let (mut st, mut cn, mut mn, mut cp_start) = (None, None, None, None);
    let (mut start, mut eq) = (0, None);
    while start < seg.len() {
        if seg[start..].starts_with("CP=&&") {
            cp_start = Some(start + 5);
            break;
        }
        let (end, byte) = scan.next().unwrap_or((seg.len(), b';'));
        match byte {
            b'=' => eq = eq.or(Some(end)),
            b';' => {
                if let Some(eq) = eq.take() {
                    let value = &seg[eq + 1..end];
                    match &seg[start..eq] {
                        "ST" => _ = st.get_or_insert(value),
                        "CN" => _ = cn.get_or_insert(value),
                        "MN" => _ = mn.get_or_insert(value),
                        _ => {}
                    }
                }
                start = end + 1;
            }
            _ => {}
        }
    }
    let cp_start = cp_start.ok_or_else(|| malformed("no `CP=&&` field".into()))?;
    if cp_start > seg.len() - 2 {
        return Err(malformed("`CP=&&` is not closed by `&&`".into()));
    }
    let cn = cn.ok_or_else(|| malformed("no CN field".into()))?;
    let st = st.unwrap_or_default();
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
    let mn = match (mn, topic_mn) {
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
    let factors = parse_cp(&seg, cp_start, &mut scan, series, &mut out.item_errors)?;
    out.readings.reserve(factors.len());
    for f in &factors {
        let time = match f.time {
            Some(t) => ctx.check_time(t, "DataTime")?,
            None => {
                out.item_errors
                    .push(format!("{}: no DataTime before it", f.code));
                continue;
            }
        };
        out.push_item(&station, time, factor_reading(f, series, config));
    }
    Ok(out)
}

/// One factor's fields, borrowed from the frame.
struct Factor<'a> {
    code: &'a str,
    key: CodeKey,
    value: Option<&'a str>,
    flag: Option<&'a str>,
    time: Option<Millis>,
}

/// Collects factors in order of first appearance; `DataTime` applies to the items after it.
fn parse_cp<'a>(
    seg: &'a str,
    cp_start: usize,
    scan: &mut Delimiters,
    series: Series,
    notes: &mut Vec<String>,
) -> Result<Vec<Factor<'a>>, Rejected> {
    let cp_end = seg.len() - 2;
    // On the heap: a `SmallVec` of 16 on the stack measured ~400 instructions per frame more
    // (moving it out costs more than one allocation and free).
    let mut factors: Vec<Factor> = Vec::with_capacity(8);
    let mut time = None;
    let (mut start, mut eq, mut dash) = (cp_start, None, None);
    while start <= cp_end {
        // Each item: its first `=`, the last `-` before that, and its end.
        let (end, byte) = match scan.next() {
            Some((at, byte)) if at < cp_end => (at, byte),
            _ => (cp_end, b';'),
        };
        match byte {
            _ if end < start => {} // the `=` of `CP=` itself
            b'=' => eq = eq.or(Some(end)),
            b'-' if eq.is_none() => dash = Some(end),
            b'-' => {}
            _ => {
                let item = Item {
                    start,
                    eq: eq.take(),
                    dash: dash.take(),
                    end,
                };
                start = end + 1;
                take_item(seg, item, series, &mut time, &mut factors, notes)?;
            }
        }
    }
    if time.is_none() && !factors.is_empty() {
        return Err(Rejected::new(RejectReason::Malformed, "CP has no DataTime"));
    }
    Ok(factors)
}

/// Offsets of one CP item `code-Field=value` (`eq` and `dash` absent when it has none).
struct Item {
    start: usize,
    eq: Option<usize>,
    dash: Option<usize>,
    end: usize,
}

fn take_item<'a>(
    cp: &'a str,
    it: Item,
    series: Series,
    time: &mut Option<Millis>,
    factors: &mut Vec<Factor<'a>>,
    notes: &mut Vec<String>,
) -> Result<(), Rejected> {
    let Some(eq) = it.eq else {
        if it.end > it.start {
            notes.push(format!(
                "`{}` is not KEY=VALUE; ignored",
                &cp[it.start..it.end]
            ));
        }
        return Ok(());
    };
    let value = &cp[eq + 1..it.end];
    let Some(dash) = it.dash else {
        if &cp[it.start..eq] == "DataTime" {
            *time = Some(beijing_time(value)?);
        }
        return Ok(()); // group-level keys (PolId, …) carry nothing we use
    };
    let (code, field) = (&cp[it.start..dash], &cp[dash + 1..eq]);
    let slot = match (series, field) {
        (Series::Rtd, "Rtd") | (Series::Avg, "Avg") => Slot::Value,
        (_, "Flag") => Slot::Flag,
        // The other series' value still announces the factor, so its absence gets reported.
        (_, "Rtd" | "Avg") => Slot::None,
        _ => return Ok(()), // -Min, -Max, -Cou, -SampleTime, -EFlag, …
    };
    // A factor's items are usually adjacent: try the latest factor, then search.
    let key = CodeKey::of(code);
    let same = |f: &Factor| match key {
        CodeKey::Short(..) => f.key == key,
        CodeKey::Long => f.code.eq_ignore_ascii_case(code),
    };
    let f = match factors.iter().rposition(same) {
        Some(i) => &mut factors[i],
        None => {
            factors.push(Factor {
                code,
                key,
                value: None,
                flag: None,
                time: *time,
            });
            let last = factors.len() - 1;
            &mut factors[last]
        }
    };
    match slot {
        Slot::Value => _ = f.value.get_or_insert(value),
        Slot::Flag => _ = f.flag.get_or_insert(value),
        Slot::None => {}
    }
    Ok(())
}

/// Where an item's value goes.
enum Slot {
    Value,
    Flag,
    None,
}

/// The reading of one factor, or the item error that skips it.
fn factor_reading(
    f: &Factor,
    series: Series,
    station: Option<&Station>,
) -> Result<(ParamId, f64, DataFlag), String> {
    let (code, field) = match series {
        Series::Rtd => (f.code, "Rtd"),
        Series::Avg => (f.code, "Avg"),
    };
    let raw = f
        .value
        .ok_or_else(|| format!("{code}: no -{field} value"))?;
    if raw.is_empty() {
        return Err(format!("{code}-{field} is empty"));
    }
    // Station values are plain decimals: the exact fast path first, the full parser after.
    let value = crate::csv::parse_decimal(raw)
        .or_else(|| raw.parse::<f64>().ok())
        .filter(|v| v.is_finite())
        .ok_or_else(|| format!("{code}-{field} `{raw}` is not a number"))?;
    let flag = f
        .flag
        .and_then(|s| s.chars().next())
        .map_or(DataFlag::N, DataFlag::from_letter);
    let (parameter, micrograms) = resolve_code(code, f.key, station)?;
    let value = if micrograms {
        units::scale10(value, -3)
    } else {
        value
    };
    Ok((parameter, value, flag))
}

/// Factor code → parameter: the station's overrides, then the project table, then the code
/// itself (lowercase). The flag says the frame carries it in μg/L (project unit mg/L).
fn resolve_code(
    code: &str,
    key: CodeKey,
    station: Option<&Station>,
) -> Result<(ParamId, bool), String> {
    let micro = |p: &ParamId| params::HJ212_MICROGRAM.contains(&p.as_str());
    if let Some((_, id)) = station.and_then(|s| {
        s.hj212_codes
            .iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(code))
    }) {
        let p = param_id(id)?;
        return Ok((p.clone(), micro(&p)));
    }
    if let Some(hit) = code_table().get(&key) {
        return Ok(hit.clone());
    }
    param_id(code)
        .map(|p| (p, false))
        .map_err(|e| format!("factor code: {e}"))
}

/// The 2017 and 2005 codes of every known parameter.
fn code_table() -> &'static FxHashMap<CodeKey, (ParamId, bool)> {
    static TABLE: OnceLock<FxHashMap<CodeKey, (ParamId, bool)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = FxHashMap::default();
        for p in params::KNOWN {
            let entry = (ParamId::new(p.id), params::HJ212_MICROGRAM.contains(&p.id));
            for code in std::iter::once(p.hj212).chain(p.hj212_2005) {
                t.insert(CodeKey::of(code), entry.clone());
            }
        }
        t
    })
}

/// A factor code (`w21003`, `060`) folded to lowercase into one word, so matching a code
/// against the frame's other factors and the code table is an integer compare. Codes longer
/// than 8 bytes (not in any table) compare as text.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum CodeKey {
    Short(u8, u64),
    Long,
}

impl CodeKey {
    fn of(code: &str) -> Self {
        let b = code.as_bytes();
        if b.len() > 8 {
            return Self::Long;
        }
        // The bytes little-endian into one word, as `u64::from_le_bytes` of the padded code.
        let word = b.iter().enumerate().fold(0u64, |w, (i, c)| {
            w | u64::from(c.to_ascii_lowercase()) << (8 * i)
        });
        Self::Short(b.len() as u8, word)
    }
}

/// `YYYYMMDDhhmmss` (optionally `zzz` ms) in Beijing time → UTC ms.
fn beijing_time(v: &str) -> Result<Millis, Rejected> {
    let bad = || {
        Rejected::new(
            RejectReason::BadTime,
            format!("DataTime `{v}` is not YYYYMMDDhhmmss"),
        )
    };
    let v = v.as_bytes();
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
