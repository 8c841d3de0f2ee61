//! HJ 212-2017 data: the fields of a checked frame (hj212.md §2, §6–§9) turned into readings.
//!
//! Fields are found by key, never by position (senders omit and repeat keys). Real-time data
//! (CN 2011) gives `-Rtd` values; minute, hourly and daily data (2051, 2061, 2031) give `-Avg`,
//! and their `-Min`/`-Max` are ignored: detection works on the average. `DataTime` is Beijing
//! time. Factor codes resolve through the station's `hj212_codes` first, then the project
//! table (2017 and 2005 codes); an unknown code is kept as the parameter name. Several frames
//! in one payload are decoded one after the other.
//!
//! This is the hot path of a station network that speaks HJ 212, so it works on the bytes: a
//! frame costs one pass for the CRC (which also tells whether the segment is ASCII, so no
//! separate UTF-8 check), one search for `;` per header field, one delimiter scan of CP
//! ([`Delimiters`]) and two `Vec`s, and the code → parameter table is built once. Text is made
//! only for what needs it (an MN the topic does not give, an unknown code, an error message).
//! Bytes that are not UTF-8 (a GBK station name, say) become U+FFFD instead of refusing the
//! frame: they only matter if they sit in a value. Every delimiter is ASCII, so every field
//! cut at one is UTF-8.

use super::hj212_frame::{next_frame, Frame, BEIJING};
use super::hj212_scan::{ascii_lowercase, find_byte, Delimiters};
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
        let (segment, ascii) = match next {
            Ok(Frame {
                segment,
                ascii,
                rest: after,
            }) => {
                rest = after;
                (segment, ascii)
            }
            Err(e) => {
                refused.push((frame, e));
                break; // where the next frame starts is unknowable
            }
        };
        match decode_segment(segment, ascii, topic_mn, ctx) {
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

impl Series {
    fn field(self) -> &'static str {
        match self {
            Self::Rtd => "Rtd",
            Self::Avg => "Avg",
        }
    }
}

/// A field of the segment as text: always UTF-8 (see the module doc), so this borrows (the
/// lossy conversion is only the fallback: it costs several times the check).
fn text(field: &[u8]) -> Cow<'_, str> {
    std::str::from_utf8(field).map_or_else(|_| String::from_utf8_lossy(field), Cow::Borrowed)
}

fn decode_segment(
    seg: &[u8],
    ascii: bool,
    topic_mn: Option<&str>,
    ctx: &DecodeContext,
) -> Result<Decoded, Rejected> {
    let lossy;
    let seg = if ascii || std::str::from_utf8(seg).is_ok() {
        seg
    } else {
        lossy = String::from_utf8_lossy(seg).into_owned();
        lossy.as_bytes()
    };
    let malformed = |d: String| Rejected::new(RejectReason::Malformed, d);
    let head = Header::parse(seg).ok_or_else(|| malformed("no `CP=&&` field".into()))?;
    // The segment ends with `&&` (checked with the framing); CP runs up to it.
    let cp_end = seg.len().saturating_sub(2);
    if head.cp_start > cp_end {
        return Err(malformed("`CP=&&` is not closed by `&&`".into()));
    }
    let cn = head.cn.ok_or_else(|| malformed("no CN field".into()))?;
    let st = head.st.unwrap_or_default();
    let series = match cn {
        _ if st == b"91" || cn.starts_with(b"9") => {
            return Err(Rejected::new(
                RejectReason::Unsupported,
                format!(
                    "platform reply (ST={}, CN={}): an answer to a station, not data",
                    text(st),
                    text(cn)
                ),
            ))
        }
        b"2011" => Series::Rtd,
        b"2051" | b"2061" | b"2031" => Series::Avg,
        _ => {
            let cn = text(cn);
            return Err(Rejected::new(
                RejectReason::Unsupported,
                format!(
                    "CN={cn} ({}) carries no water readings; decoded: 2011, 2051, 2061, 2031",
                    command_name(&cn)
                ),
            ));
        }
    };
    let mn = match (head.mn, topic_mn) {
        (Some(m), Some(t)) if m != t.as_bytes() => {
            return Err(Rejected::new(
                RejectReason::StationMismatch,
                format!(
                    "the frame's MN is `{}` but it arrived on the topic of `{t}`",
                    text(m)
                ),
            ))
        }
        // The topic's MN is already text, and equal to the frame's when both are present.
        (_, Some(t)) => Cow::Borrowed(t),
        (Some(m), None) => text(m),
        (None, None) => return Err(malformed("no MN field and no MN in the topic".into())),
    };
    let (station, config) = ctx.station_by_mn(&mn)?;
    let mut out = Decoded::default();
    let factors = parse_cp(&seg[..cp_end], head.cp_start, series, &mut out.item_errors)?;
    out.readings.reserve(factors.len());
    for f in &factors {
        let time = match f.time {
            Some(t) => ctx.check_time(t, "DataTime")?,
            None => {
                out.item_errors
                    .push(format!("{}: no DataTime before it", text(f.code)));
                continue;
            }
        };
        out.push_item(&station, time, factor_reading(f, series, config));
    }
    Ok(out)
}

/// The header fields the decoder uses (the first of each when repeated), and where CP starts.
struct Header<'a> {
    st: Option<&'a [u8]>,
    cn: Option<&'a [u8]>,
    mn: Option<&'a [u8]>,
    /// The byte after `CP=&&`.
    cp_start: usize,
}

impl<'a> Header<'a> {
    /// Walks the `;`-separated fields up to the first that starts with `CP=&&`; `None` when
    /// there is none. A field `KEY=value` is keyed by the text before its first `=`, so `ST`
    /// is exactly a field that starts with `ST=`.
    fn parse(seg: &'a [u8]) -> Option<Self> {
        let (mut st, mut cn, mut mn) = (None, None, None);
        let mut start = 0;
        while start < seg.len() {
            let field = &seg[start..];
            if field.starts_with(b"CP=&&") {
                return Some(Self {
                    st,
                    cn,
                    mn,
                    cp_start: start + 5,
                });
            }
            let end = find_byte(seg, start, b';').unwrap_or(seg.len());
            let slot = match field {
                [b'S', b'T', b'=', ..] => &mut st,
                [b'C', b'N', b'=', ..] => &mut cn,
                [b'M', b'N', b'=', ..] => &mut mn,
                _ => {
                    start = end + 1;
                    continue;
                }
            };
            // No `;` in the key, so the field runs past its `=`.
            _ = slot.get_or_insert(&seg[start + 3..end]);
            start = end + 1;
        }
        None
    }
}

/// One factor's fields, borrowed from the frame.
struct Factor<'a> {
    code: &'a [u8],
    key: CodeKey,
    value: Option<&'a [u8]>,
    flag: Option<&'a [u8]>,
    time: Option<Millis>,
}

/// Collects the factors of `cp[cp_start..]` (`cp` ends before the segment's final `&&`) in
/// order of first appearance; `DataTime` applies to the items after it.
fn parse_cp<'a>(
    cp: &'a [u8],
    cp_start: usize,
    series: Series,
    notes: &mut Vec<String>,
) -> Result<Vec<Factor<'a>>, Rejected> {
    // On the heap: a `SmallVec` of 16 on the stack measured ~400 instructions per frame more
    // (moving it out costs more than one allocation and free), and an array of eight
    // `Option<Factor>` filled in place through `&mut` measured +240 (its initialisation, a
    // `memcpy` and the `Option` checks).
    let mut factors: Vec<Factor> = Vec::with_capacity(8);
    let mut time = None;
    let mut scan = Delimiters::new(cp, cp_start);
    let mut start = cp_start;
    loop {
        // Each item `;`/`,`-separated: its first `=`, the last `-` before that, and its end.
        let (mut eq, mut dash) = (None, None);
        let (end, last) = loop {
            match scan.next() {
                Some((at, b'=')) => _ = eq.get_or_insert(at),
                Some((at, b'-')) if eq.is_none() => dash = Some(at),
                Some((_, b'-')) => {}
                Some((at, _)) => break (at, false),
                None => break (cp.len(), true),
            }
        };
        let item = Item {
            start,
            eq,
            dash,
            end,
        };
        take_item(cp, item, series, &mut time, &mut factors, notes)?;
        if last {
            break;
        }
        start = end + 1;
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
    cp: &'a [u8],
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
                text(&cp[it.start..it.end])
            ));
        }
        return Ok(());
    };
    let value = &cp[eq + 1..it.end];
    let Some(dash) = it.dash else {
        if &cp[it.start..eq] == b"DataTime" {
            *time = Some(beijing_time(value)?);
        }
        return Ok(()); // group-level keys (PolId, …) carry nothing we use
    };
    let slot = match (series, &cp[dash + 1..eq]) {
        (Series::Rtd, b"Rtd") | (Series::Avg, b"Avg") => Slot::Value,
        (_, b"Flag") => Slot::Flag,
        // The other series' value still announces the factor, so its absence gets reported.
        (_, b"Rtd" | b"Avg") => Slot::None,
        _ => return Ok(()), // -Min, -Max, -Cou, -SampleTime, -EFlag, …
    };
    // A factor's items are usually adjacent: try the latest factor, then search.
    let code = &cp[it.start..dash];
    let key = CodeKey::at(cp, it.start, dash);
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
    let field = series.field();
    let raw = f
        .value
        .ok_or_else(|| format!("{}: no -{field} value", text(f.code)))?;
    if raw.is_empty() {
        return Err(format!("{}-{field} is empty", text(f.code)));
    }
    // Station values are plain decimals: the exact fast path first, the full parser after.
    let value = crate::csv::parse_decimal(raw)
        .or_else(|| text(raw).parse::<f64>().ok())
        .filter(|v| v.is_finite())
        .ok_or_else(|| format!("{}-{field} `{}` is not a number", text(f.code), text(raw)))?;
    let flag = match f.flag {
        Some([c, ..]) if c.is_ascii() => DataFlag::from_letter(char::from(*c)),
        Some(flag) => text(flag)
            .chars()
            .next()
            .map_or(DataFlag::N, DataFlag::from_letter),
        None => DataFlag::N,
    };
    let (parameter, micrograms) = resolve_code(f.code, f.key, station)?;
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
    code: &[u8],
    key: CodeKey,
    station: Option<&Station>,
) -> Result<(ParamId, bool), String> {
    let micro = |p: &ParamId| params::HJ212_MICROGRAM.contains(&p.as_str());
    if let Some((_, id)) = station.and_then(|s| {
        s.hj212_codes
            .iter()
            .find(|(c, _)| c.as_bytes().eq_ignore_ascii_case(code))
    }) {
        let p = param_id(id)?;
        return Ok((p.clone(), micro(&p)));
    }
    if let Some(hit) = code_table().get(&key) {
        return Ok(hit.clone());
    }
    param_id(&text(code))
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
                t.insert(CodeKey::of(code.as_bytes()), entry.clone());
            }
        }
        t
    })
}

/// A factor code (`w21003`, `060`) folded to lowercase into one word, so matching a code
/// against the frame's other factors and the code table is an integer compare. Codes longer
/// than 8 bytes (not in any table) compare as text.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CodeKey {
    Short(u8, u64),
    Long,
}

impl std::hash::Hash for CodeKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // One word instead of the derived three (consistent with `eq`: equal keys, equal words).
        match self {
            Self::Short(len, word) => state.write_u64(word ^ u64::from(*len).rotate_right(8)),
            Self::Long => state.write_u64(u64::MAX),
        }
    }
}

impl CodeKey {
    fn of(code: &[u8]) -> Self {
        if code.len() > 8 {
            return Self::Long;
        }
        // The bytes little-endian into one word, as `u64::from_le_bytes` of the padded code.
        let word = code.iter().enumerate().fold(0u64, |w, (i, c)| {
            w | u64::from(c.to_ascii_lowercase()) << (8 * i)
        });
        Self::Short(code.len() as u8, word)
    }

    /// The key of `bytes[start..end]`, as [`CodeKey::of`]: when 8 bytes can be read at
    /// `start`, one word load, masked to the code and lowercased at once.
    fn at(bytes: &[u8], start: usize, end: usize) -> Self {
        let len = end - start;
        match bytes.get(start..start + 8) {
            Some(chunk) if len <= 8 => {
                let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
                let keep = u64::MAX.checked_shr(64 - 8 * len as u32).unwrap_or(0);
                Self::Short(len as u8, ascii_lowercase(word & keep))
            }
            _ => Self::of(&bytes[start..end]),
        }
    }
}

/// `YYYYMMDDhhmmss` (optionally `zzz` ms) in Beijing time → UTC ms.
fn beijing_time(v: &[u8]) -> Result<Millis, Rejected> {
    let bad = || {
        Rejected::new(
            RejectReason::BadTime,
            format!("DataTime `{}` is not YYYYMMDDhhmmss", text(v)),
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

#[cfg(test)]
#[path = "hj212_reference.rs"]
mod reference;
