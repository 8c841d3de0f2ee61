//! SenML JSON packs (RFC 8428) on `riverwatch/senml/{station}`, resolved as senml.md §3 says:
//! base fields carry forward until replaced, times below 2^28 s are relative to the receive
//! time, and the resolved readings come out sorted by time.
//!
//! Naming convention (ours): `urn:dev:mn:{MN}:{parameter}` maps the MN through the station
//! config; `{station}:{parameter}` names a station id; a bare `{parameter}` takes the station
//! from the topic. Units are converted into project units by [`super::units`].
//!
//! What refuses the pack: not an array of objects, a wrong type, a record with zero or two
//! value fields, a bad name, `bver` above 10, an unknown label ending in `_`, or a time outside
//! the plausible window. What skips one record: a string, boolean or data value (not a
//! reading), a unit of the wrong dimension, a duplicate (name, time) with a different value.

use super::json::Text;
use super::{merge_station, param_id, units, DecodeContext, Decoded, RejectReason, Rejected};
use crate::model::{DataFlag, Reading};
use crate::time::Millis;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;

/// The SenML version this decoder implements (RFC 8428).
const SUPPORTED_BVER: f64 = 10.0;
/// Times below this many seconds are relative to the receive time (RFC 8428 §4.5.3).
const RELATIVE_BELOW: f64 = (1u64 << 28) as f64;

/// One record, labels as sent.
#[derive(Default)]
struct Record<'a> {
    bn: Option<Cow<'a, str>>,
    bt: Option<f64>,
    bu: Option<Cow<'a, str>>,
    bv: Option<f64>,
    bver: Option<f64>,
    n: Option<Cow<'a, str>>,
    u: Option<Cow<'a, str>>,
    v: Option<f64>,
    t: Option<f64>,
    s: Option<f64>,
    /// Which of `vs`, `vb`, `vd` were present (their contents do not become readings).
    other_values: Vec<&'static str>,
    /// The first unknown must-understand label.
    must_understand: Option<String>,
}

pub(super) fn decode(
    text: &str,
    topic_station: Option<&str>,
    ctx: &DecodeContext,
) -> Result<Decoded, Rejected> {
    let pack: Vec<Record> = serde_json::from_str(text)
        .map_err(|e| Rejected::new(RejectReason::Malformed, format!("SenML pack: {e}")))?;
    let mut base = Base {
        bn: Cow::Borrowed(""),
        bt: 0.0,
        bu: None,
        bv: 0.0,
        bv_name: None,
    };
    let mut out = Decoded::default();
    let mut record_of = Vec::with_capacity(pack.len());
    for (i, rec) in pack.into_iter().enumerate() {
        if let Some(label) = &rec.must_understand {
            return Err(Rejected::new(
                RejectReason::Unsupported,
                format!("record {i}: must-understand label `{label}`"),
            ));
        }
        if let Some(ver) = rec.bver.filter(|v| *v > SUPPORTED_BVER) {
            return Err(Rejected::new(
                RejectReason::Unsupported,
                format!("record {i}: bver {ver} is newer than the supported {SUPPORTED_BVER}"),
            ));
        }
        let bv_set_here = rec.bv.is_some();
        base.update(&rec);
        let name = format!("{}{}", base.bn, rec.n.as_deref().unwrap_or(""));
        check_senml_name(&name)
            .map_err(|e| Rejected::new(RejectReason::Malformed, format!("record {i}: {e}")))?;
        let values = usize::from(rec.v.is_some()) + rec.other_values.len();
        if values > 1 || (values == 0 && rec.s.is_none()) {
            return Err(Rejected::new(
                RejectReason::Malformed,
                format!("record {i} ({name}): {values} value fields; a record needs exactly one of v, vs, vb, vd"),
            ));
        }
        let time = resolve_time(base.bt + rec.t.unwrap_or(0.0), ctx.received)
            .and_then(|t| ctx.check_time(t, "time"))
            .map_err(|e| Rejected::new(e.reason, format!("record {i} ({name}): {}", e.detail)))?;
        let Some(v) = rec.v else {
            let what = rec
                .other_values
                .first()
                .map_or("only a sum (s)", |k| match *k {
                    "vs" => "a string value (vs)",
                    "vb" => "a boolean value (vb)",
                    _ => "a data value (vd)",
                });
            out.item_errors.push(format!(
                "record {i} ({name}): {what} is not a reading; skipped"
            ));
            continue;
        };
        if base.bv != 0.0 && !bv_set_here && base.bv_name.as_deref() != Some(name.as_str()) {
            out.item_errors.push(format!(
                "record {i} ({name}): base value {} carried over from {} was added",
                base.bv,
                base.bv_name.as_deref().unwrap_or("?")
            ));
        }
        if bv_set_here {
            base.bv_name = Some(name.clone());
        }
        let (station_part, param) = split_name(&name);
        let station = match station_part {
            Some(Part::Mn(mn)) => Some(ctx.station_by_mn(mn)?.0),
            Some(Part::Id(id)) => Some(ctx.station_by_id(id)?.0),
            None => None,
        };
        let station = match (station, topic_station) {
            (Some(s), t) => {
                merge_station(Some(s.as_str()), t)?;
                s
            }
            (None, Some(t)) => ctx.station_by_id(t)?.0,
            (None, None) => {
                out.item_errors.push(format!(
                    "record {i} ({name}): no station in the name and none in the topic"
                ));
                continue;
            }
        };
        let resolved = param_id(param).and_then(|p| {
            // bv + v in binary leaves noise in the last digits (0.04 + 0.0012 ≠ 0.0412): round it away.
            let value = if base.bv == 0.0 {
                v
            } else {
                units::round_sig(base.bv + v)
            };
            let unit = rec.u.as_deref().or(base.bu.as_deref());
            let (value, note) = match unit {
                Some(u) => units::to_project_unit(value, u, p.as_str())?,
                None => (value, None),
            };
            if value.is_finite() {
                Ok((p, value, note))
            } else {
                Err(format!("value {value} is not finite"))
            }
        });
        match resolved {
            Ok((parameter, value, note)) => {
                if let Some(note) = note {
                    out.item_errors.push(format!("record {i} ({name}): {note}"));
                }
                record_of.push(i);
                out.readings.push(Reading {
                    station,
                    parameter,
                    time,
                    value,
                    flag: DataFlag::N,
                });
            }
            Err(e) => out.item_errors.push(format!("record {i} ({name}): {e}")),
        }
    }
    drop_duplicates(&mut out, &record_of);
    Ok(out)
}

/// Base fields in force.
struct Base<'a> {
    bn: Cow<'a, str>,
    bt: f64,
    bu: Option<Cow<'a, str>>,
    bv: f64,
    /// Name of the record that set a non-zero `bv` (to warn when it leaks onto another name).
    bv_name: Option<String>,
}

impl<'a> Base<'a> {
    fn update(&mut self, rec: &Record<'a>) {
        if let Some(bn) = &rec.bn {
            self.bn = bn.clone();
        }
        if let Some(bt) = rec.bt {
            self.bt = bt;
        }
        if let Some(bu) = &rec.bu {
            self.bu = Some(bu.clone());
        }
        if let Some(bv) = rec.bv {
            self.bv = bv;
        }
    }
}

/// Seconds (absolute, or relative to `received` below 2^28) to UTC milliseconds.
fn resolve_time(t: f64, received: Millis) -> Result<Millis, Rejected> {
    let ms = t * 1000.0;
    if !ms.is_finite() || ms.abs() > 1e15 {
        return Err(Rejected::new(
            RejectReason::BadTime,
            format!("time {t} s is out of range"),
        ));
    }
    let ms = ms.round() as Millis;
    Ok(if t >= RELATIVE_BELOW {
        ms
    } else {
        received.saturating_add(ms)
    })
}

/// Drops a second reading of the same name at the same time (silently when it repeats the
/// value, with an item error when it contradicts it), then sorts by time, keeping pack order
/// among equal times.
fn drop_duplicates(out: &mut Decoded, record_of: &[usize]) {
    let rs = &out.readings;
    let mut order: Vec<usize> = (0..rs.len()).collect();
    order.sort_by(|&a, &b| {
        (rs[a].time, &rs[a].station, &rs[a].parameter, a).cmp(&(
            rs[b].time,
            &rs[b].station,
            &rs[b].parameter,
            b,
        ))
    });
    let mut keep = vec![true; rs.len()];
    let mut first = 0;
    for w in 1..order.len() {
        let (k, j) = (order[first], order[w]);
        let (r, o) = (&rs[k], &rs[j]);
        if (r.time, &r.station, &r.parameter) != (o.time, &o.station, &o.parameter) {
            first = w;
            continue;
        }
        keep[j] = false;
        if o.value != r.value {
            out.item_errors.push(format!(
                "record {}: {} {} at the same time as record {} with {}; dropped",
                record_of[j], o.parameter, o.value, record_of[k], r.value
            ));
        }
    }
    let mut kept: Vec<Reading> = std::mem::take(&mut out.readings)
        .into_iter()
        .zip(keep)
        .filter_map(|(r, k)| k.then_some(r))
        .collect();
    kept.sort_by_key(|r| r.time);
    out.readings = kept;
}

enum Part<'n> {
    Mn(&'n str),
    Id(&'n str),
}

/// `urn:dev:mn:{MN}:{param}` | `{station}:{param}` | `{param}`.
fn split_name(name: &str) -> (Option<Part<'_>>, &str) {
    if let Some(rest) = name.strip_prefix("urn:dev:mn:") {
        return match rest.rsplit_once(':') {
            Some((mn, p)) => (Some(Part::Mn(mn)), p),
            None => (Some(Part::Mn(rest)), ""),
        };
    }
    match name.rsplit_once(':') {
        Some((id, p)) => (Some(Part::Id(id)), p),
        None => (None, name),
    }
}

/// RFC 8428 §4.5.1: non-empty, first character alphanumeric, then `A-Z a-z 0-9 - : . / _`.
fn check_senml_name(name: &str) -> Result<(), String> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | ':' | '.' | '/' | '_');
    match name.chars().next() {
        None => Err("empty name (no bn and no n)".into()),
        Some(c) if !c.is_ascii_alphanumeric() => Err(format!(
            "name `{}` must start with a letter or digit",
            name.escape_debug()
        )),
        _ if !name.chars().all(ok_char) => Err(format!(
            "name `{}` has characters outside A-Z a-z 0-9 - : . / _",
            name.escape_debug()
        )),
        _ => Ok(()),
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Record<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(RecordVisitor)
    }
}

struct RecordVisitor;

impl<'de> Visitor<'de> for RecordVisitor {
    type Value = Record<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a SenML record (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Record<'de>, A::Error> {
        let mut r = Record::default();
        while let Some(Text(label)) = map.next_key::<Text>()? {
            let dup = match &*label {
                "bn" => r.bn.replace(map.next_value::<Text>()?.0).is_some(),
                "bt" => r.bt.replace(map.next_value()?).is_some(),
                "bu" => r.bu.replace(map.next_value::<Text>()?.0).is_some(),
                "bv" => r.bv.replace(map.next_value()?).is_some(),
                "bver" => r.bver.replace(map.next_value()?).is_some(),
                "n" => r.n.replace(map.next_value::<Text>()?.0).is_some(),
                "u" => r.u.replace(map.next_value::<Text>()?.0).is_some(),
                "v" => r.v.replace(map.next_value()?).is_some(),
                "t" => r.t.replace(map.next_value()?).is_some(),
                "s" => r.s.replace(map.next_value()?).is_some(),
                "ut" | "bs" => map.next_value::<f64>().map(|_| false)?,
                "vs" | "vd" | "vb" => {
                    let key = match &*label {
                        "vs" => "vs",
                        "vd" => "vd",
                        _ => "vb",
                    };
                    if key == "vb" {
                        map.next_value::<bool>()?;
                    } else {
                        map.next_value::<Text>()?;
                    }
                    let dup = r.other_values.contains(&key);
                    r.other_values.push(key);
                    dup
                }
                other => {
                    if other.ends_with('_') && r.must_understand.is_none() {
                        r.must_understand = Some(other.to_string());
                    }
                    map.next_value::<IgnoredAny>()?;
                    false
                }
            };
            if dup {
                return Err(de::Error::custom(format!(
                    "label `{label}` appears twice in one record"
                )));
            }
        }
        Ok(r)
    }
}

#[cfg(test)]
#[path = "senml_tests.rs"]
pub(super) mod tests;
