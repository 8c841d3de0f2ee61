//! Station JSON (`riverwatch/readings/{station}`), the project's own format; the contract is
//! documented on [`super::decode`].
//!
//! Deserialised with serde into borrowed fields, so a message costs one pass over the text and
//! no allocation per value. Values are taken as "anything" and judged afterwards: a string or
//! `null` where a number belongs skips that one value instead of refusing the whole message.
//! Bare `NaN`/`Infinity` tokens (written by Python's and some C encoders) are not JSON; when
//! parsing fails on one, the text is retried with those tokens quoted, so they too cost only
//! the item.

use super::{merge_station, param_id, DecodeContext, Decoded, RejectReason, Rejected};
use crate::model::DataFlag;
use crate::time::{parse_rfc3339, Millis};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow, default)]
    station: Option<Text<'a>>,
    #[serde(borrow, default)]
    time: Option<Time<'a>>,
    #[serde(borrow, default)]
    values: Option<Items<'a>>,
    #[serde(borrow, default)]
    flags: Option<Items<'a>>,
    #[serde(borrow, default)]
    parameter: Option<Text<'a>>,
    #[serde(borrow, default)]
    value: Option<Loose<'a>>,
    #[serde(borrow, default)]
    flag: Option<Loose<'a>>,
}

pub(super) fn decode(
    text: &str,
    topic_station: Option<&str>,
    ctx: &DecodeContext,
) -> Result<Decoded, Rejected> {
    let msg = match serde_json::from_str::<Message>(text) {
        Ok(m) => m,
        Err(first) => {
            let Some(quoted) = quote_non_finite(text) else {
                return Err(malformed(first));
            };
            return decode_message(
                serde_json::from_str(&quoted).map_err(|_| malformed(first))?,
                topic_station,
                ctx,
            );
        }
    };
    decode_message(msg, topic_station, ctx)
}

fn malformed(e: serde_json::Error) -> Rejected {
    Rejected::new(RejectReason::Malformed, format!("station JSON: {e}"))
}

fn decode_message(
    msg: Message,
    topic_station: Option<&str>,
    ctx: &DecodeContext,
) -> Result<Decoded, Rejected> {
    let station =
        merge_station(msg.station.as_ref().map(|s| &*s.0), topic_station)?.ok_or_else(|| {
            Rejected::new(
                RejectReason::Malformed,
                "no `station` in the message and none in the topic",
            )
        })?;
    let (station, _) = ctx.station_by_id(station)?;
    let time = match msg.time {
        None => return Err(Rejected::new(RejectReason::Malformed, "no `time`")),
        Some(t) => ctx.check_time(t.millis()?, "time")?,
    };
    let mut out = Decoded::default();
    let push = |name: &str, value: &Loose, flag: Option<&Loose>, out: &mut Decoded| {
        let item = reading_parts(name, value, flag).map_err(|e| format!("{name}: {e}"));
        out.push_item(&station, time, item);
    };
    match (msg.values, msg.parameter, msg.value) {
        (Some(values), None, None) => {
            out.readings.reserve(values.0.len());
            let flags = msg.flags.map(|f| f.0).unwrap_or_default();
            for (name, value) in &values.0 {
                let flag = flags
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(name))
                    .map(|(_, f)| f);
                push(name, value, flag, &mut out);
            }
            for (name, _) in flags
                .iter()
                .filter(|(n, _)| !values.0.iter().any(|(v, _)| v.eq_ignore_ascii_case(n)))
            {
                out.item_errors.push(format!(
                    "{name}: flag given for a parameter without a value"
                ));
            }
        }
        (None, Some(parameter), Some(value)) => {
            push(&parameter.0, &value, msg.flag.as_ref(), &mut out)
        }
        (Some(_), _, _) => {
            return Err(Rejected::new(
                RejectReason::Malformed,
                "both `values` and `parameter`/`value`: use one shape",
            ))
        }
        (None, None, _) => {
            return Err(Rejected::new(
                RejectReason::Malformed,
                "no `values` object and no `parameter`+`value`",
            ))
        }
        (None, Some(_), None) => {
            return Err(Rejected::new(
                RejectReason::Malformed,
                "`parameter` without `value`",
            ))
        }
    }
    Ok(out)
}

/// Judges one value and its flag; `Err` skips the item.
fn reading_parts(
    name: &str,
    value: &Loose,
    flag: Option<&Loose>,
) -> Result<(crate::model::ParamId, f64, DataFlag), String> {
    let parameter = param_id(name)?;
    let value = match value {
        Loose::Number(v) if v.is_finite() => *v,
        other => return Err(format!("value {} is not a finite number", other.describe())),
    };
    let flag = match flag {
        None => DataFlag::N,
        Some(Loose::Text(s)) => {
            let mut chars = s.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if c.is_ascii_alphanumeric() => DataFlag::from_letter(c),
                _ => return Err(format!("flag \"{}\" is not one letter", s.escape_debug())),
            }
        }
        Some(other) => return Err(format!("flag {} is not one letter", other.describe())),
    };
    Ok((parameter, value, flag))
}

/// Rewrites bare `NaN`, `Infinity` and `-Infinity` tokens (outside strings) as strings; `None`
/// when there are none, so the caller reports the original parse error.
fn quote_non_finite(text: &str) -> Option<String> {
    const TOKENS: [&str; 3] = ["-Infinity", "Infinity", "NaN"];
    let b = text.as_bytes();
    let (mut out, mut last, mut i, mut in_string) = (String::new(), 0, 0, false);
    'scan: while i < b.len() {
        match b[i] {
            b'\\' if in_string => i += 1,
            b'"' => in_string = !in_string,
            _ if !in_string => {
                for t in TOKENS {
                    if b[i..].starts_with(t.as_bytes()) {
                        out.push_str(&text[last..i]);
                        out.push('"');
                        out.push_str(t);
                        out.push('"');
                        i += t.len();
                        last = i;
                        continue 'scan;
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    (last > 0).then(|| out + &text[last..])
}

/// A JSON string that borrows from the input unless it had escapes.
pub(super) struct Text<'a>(pub(super) Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(s.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// Any JSON value, kept only as far as judging it needs.
enum Loose<'a> {
    Number(f64),
    Text(Cow<'a, str>),
    Other(&'static str),
}

impl Loose<'_> {
    fn describe(&self) -> String {
        match self {
            Self::Number(v) => v.to_string(),
            Self::Text(s) => format!("\"{}\"", s.escape_debug()),
            Self::Other(kind) => (*kind).to_string(),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Loose<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Loose<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_f64<E>(self, v: f64) -> Result<Loose<'de>, E> {
                Ok(Loose::Number(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Loose<'de>, E> {
                Ok(Loose::Number(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Loose<'de>, E> {
                Ok(Loose::Number(v as f64))
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Loose<'de>, E> {
                Ok(Loose::Text(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Loose<'de>, E> {
                Ok(Loose::Text(Cow::Owned(s.to_owned())))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Loose<'de>, E> {
                Ok(Loose::Other("a boolean"))
            }
            fn visit_unit<E>(self) -> Result<Loose<'de>, E> {
                Ok(Loose::Other("null"))
            }
            fn visit_none<E>(self) -> Result<Loose<'de>, E> {
                Ok(Loose::Other("null"))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Loose<'de>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Loose::Other("an array"))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Loose<'de>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Loose::Other("an object"))
            }
        }
        d.deserialize_any(V)
    }
}

/// A JSON object's entries in message order.
struct Items<'a>(Vec<(Cow<'a, str>, Loose<'a>)>);

impl<'de: 'a, 'a> Deserialize<'de> for Items<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Items<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of parameter names")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Items<'de>, A::Error> {
                let mut items = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some((k, v)) = map.next_entry::<Text, Loose>()? {
                    items.push((k.0, v));
                }
                Ok(Items(items))
            }
        }
        d.deserialize_map(V)
    }
}

/// `time`: RFC 3339 text or epoch milliseconds.
enum Time<'a> {
    Millis(f64),
    Text(Cow<'a, str>),
}

impl Time<'_> {
    fn millis(&self) -> Result<Millis, Rejected> {
        match self {
            Self::Millis(v) if v.is_finite() && v.abs() < 1e15 => Ok(v.round() as Millis),
            Self::Millis(v) => Err(Rejected::new(
                RejectReason::BadTime,
                format!("time {v} is not epoch milliseconds"),
            )),
            Self::Text(s) => parse_rfc3339(s).ok_or_else(|| {
                Rejected::new(
                    RejectReason::BadTime,
                    format!("time \"{}\" is not RFC 3339", s.escape_debug()),
                )
            }),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Time<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Loose::deserialize(d)? {
            Loose::Number(v) => Ok(Time::Millis(v)),
            Loose::Text(s) => Ok(Time::Text(s)),
            Loose::Other(kind) => Err(de::Error::custom(format!(
                "`time` is {kind}; expected an RFC 3339 string or epoch milliseconds"
            ))),
        }
    }
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
