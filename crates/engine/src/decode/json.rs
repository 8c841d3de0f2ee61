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
use crate::model::{DataFlag, Reading};
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
    let push =
        |name: &str, value: &Loose, flag: Option<&Loose>, out: &mut Decoded| match reading_parts(
            name, value, flag,
        ) {
            Ok((parameter, value, flag)) => out.readings.push(Reading {
                station: station.clone(),
                parameter,
                time,
                value,
                flag,
            }),
            Err(e) => out.item_errors.push(format!("{name}: {e}")),
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
mod tests {
    use super::super::tests::{ctx_at, network};
    use super::super::{decode as decode_any, Format};
    use super::*;
    use crate::time::parse_rfc3339;

    const T: &str = "2024-07-15T00:33:00Z";

    fn run(payload: &str, topic: Option<&str>) -> Result<Decoded, Rejected> {
        let st = network();
        decode_any(payload.as_bytes(), topic, Format::Json, &ctx_at(&st, T))
    }

    #[test]
    fn station_shape_with_flags() {
        let d = run(
            r#"{"station":"DL03","time":"2024-07-15T00:30:00Z","values":{"ph":7.8,"DO":8.1,"chloride":31},"flags":{"do":"C"}}"#,
            None,
        )
        .unwrap();
        let t = parse_rfc3339("2024-07-15T00:30:00Z").unwrap();
        let got: Vec<_> = d
            .readings
            .iter()
            .map(|r| {
                (
                    r.station.as_str(),
                    r.parameter.as_str(),
                    r.time,
                    r.value,
                    r.flag,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("DL03", "ph", t, 7.8, DataFlag::N),
                ("DL03", "do", t, 8.1, DataFlag::C),
                ("DL03", "chloride", t, 31.0, DataFlag::N)
            ]
        );
        assert!(d.item_errors.is_empty());
    }

    #[test]
    fn single_shape_with_epoch_millis_and_topic_station() {
        let d = run(
            r#"{"parameter":"nh3n","time":1721003400000,"value":0.42,"flag":"T"}"#,
            Some("riverwatch/readings/DL05"),
        )
        .unwrap();
        assert_eq!(d.readings.len(), 1);
        let r = &d.readings[0];
        assert_eq!(
            (r.station.as_str(), r.parameter.as_str(), r.time, r.value),
            ("DL05", "nh3n", 1_721_003_400_000, 0.42)
        );
        assert_eq!(r.flag, DataFlag::T);
    }

    #[test]
    fn topic_and_body_station_must_agree() {
        let msg =
            r#"{"station":"DL03","parameter":"ph","time":"2024-07-15T00:30:00Z","value":7.1}"#;
        let e = run(msg, Some("riverwatch/readings/DL04")).unwrap_err();
        assert_eq!(e.reason, RejectReason::StationMismatch);
        assert!(
            e.detail.contains("DL03") && e.detail.contains("DL04"),
            "{e}"
        );
        assert!(run(msg, Some("riverwatch/readings/DL03")).is_ok());
        // A topic of another format does not name a station of this one.
        assert!(run(msg, Some("riverwatch/hj212/XYZ")).is_ok());
    }

    #[test]
    fn bad_values_cost_only_the_item() {
        let d = run(
            r#"{"station":"DL03","time":"2024-07-15T00:30:00Z","values":{"ph":NaN,"do":"8.1","temp":Infinity,"cond":-Infinity,"tp":null,"tn":2.1}}"#,
            None,
        )
        .unwrap();
        assert_eq!(d.readings.len(), 1);
        assert_eq!(
            (d.readings[0].parameter.as_str(), d.readings[0].value),
            ("tn", 2.1)
        );
        assert_eq!(
            d.item_errors,
            [
                "ph: value \"NaN\" is not a finite number",
                "do: value \"8.1\" is not a finite number",
                "temp: value \"Infinity\" is not a finite number",
                "cond: value \"-Infinity\" is not a finite number",
                "tp: value null is not a finite number",
            ]
        );
    }

    #[test]
    fn nan_inside_strings_is_left_alone() {
        assert_eq!(
            quote_non_finite(r#"{"a":"NaN \" Infinity","b":NaN}"#).unwrap(),
            r#"{"a":"NaN \" Infinity","b":"NaN"}"#
        );
        assert_eq!(quote_non_finite(r#"{"a":1}"#), None);
    }

    #[test]
    fn all_values_bad_is_no_readings() {
        let e = run(
            r#"{"station":"DL03","time":"2024-07-15T00:30:00Z","values":{"ph":"x"}}"#,
            None,
        )
        .unwrap_err();
        assert_eq!(e.reason, RejectReason::NoReadings);
        assert!(e.detail.contains("ph: value \"x\""), "{e}");
        let e = run(
            r#"{"station":"DL03","time":"2024-07-15T00:30:00Z","values":{}}"#,
            None,
        )
        .unwrap_err();
        assert_eq!(e.reason, RejectReason::NoReadings);
    }

    #[test]
    fn flags_must_be_letters() {
        let d = run(
            r#"{"station":"DL03","time":"2024-07-15T00:30:00Z","values":{"ph":7,"do":8},"flags":{"ph":"NN","tp":"N"}}"#,
            None,
        )
        .unwrap();
        assert_eq!(d.readings.len(), 1);
        assert_eq!(
            d.item_errors,
            [
                "ph: flag \"NN\" is not one letter",
                "tp: flag given for a parameter without a value"
            ]
        );
    }

    #[test]
    fn whole_message_refusals() {
        let cases: &[(&str, RejectReason, &str)] = &[
            (
                r#"{"station":"DL03","values":{"ph":7}}"#,
                RejectReason::Malformed,
                "no `time`",
            ),
            (
                r#"{"time":"2024-07-15T00:30:00Z","values":{"ph":7}}"#,
                RejectReason::Malformed,
                "no `station`",
            ),
            (
                r#"{"station":"DL03","time":"yesterday","values":{"ph":7}}"#,
                RejectReason::BadTime,
                "not RFC 3339",
            ),
            (
                r#"{"station":"DL03","time":1721003400,"values":{"ph":7}}"#,
                RejectReason::BadTime,
                "1970-01-20",
            ),
            (
                r#"{"station":"DL03","time":"2030-01-01T00:00:00Z","values":{"ph":7}}"#,
                RejectReason::BadTime,
                "2030",
            ),
            (
                r#"{"station":"DL03","time":true,"values":{"ph":7}}"#,
                RejectReason::Malformed,
                "`time` is a boolean",
            ),
            (
                r#"{"station":"ZZ99","time":"2024-07-15T00:30:00Z","values":{"ph":7}}"#,
                RejectReason::UnknownStation,
                "ZZ99",
            ),
            (
                r#"{"station":"DL03","time":"2024-07-15T00:30:00Z"}"#,
                RejectReason::Malformed,
                "no `values`",
            ),
            (
                r#"{"station":"DL03","time":"2024-07-15T00:30:00Z","parameter":"ph"}"#,
                RejectReason::Malformed,
                "without `value`",
            ),
            (
                r#"{"station":"DL03","time":"2024-07-15T00:30:00Z","values":[7]}"#,
                RejectReason::Malformed,
                "station JSON",
            ),
            (r#"{"station":"DL03","#, RejectReason::Malformed, "EOF"),
            (r#"[1,2]"#, RejectReason::Malformed, "station JSON"),
        ];
        for (msg, reason, needle) in cases {
            let e = run(msg, None).unwrap_err();
            assert_eq!(e.reason, *reason, "{msg}: {e}");
            assert!(e.detail.contains(needle), "{msg}: {e}");
        }
    }

    #[test]
    fn unknown_station_accepted_when_allowed() {
        let st = network();
        let mut ctx = ctx_at(&st, T);
        ctx.accept_unknown_stations = true;
        let msg = r#"{"station":"ZZ99","time":"2024-07-15T00:30:00Z","values":{"ph":7}}"#;
        let d = decode_any(msg.as_bytes(), None, Format::Json, &ctx).unwrap();
        assert_eq!(d.readings[0].station.as_str(), "ZZ99");
        let msg = r#"{"station":"Z Z","time":"2024-07-15T00:30:00Z","values":{"ph":7}}"#;
        assert_eq!(
            decode_any(msg.as_bytes(), None, Format::Json, &ctx)
                .unwrap_err()
                .reason,
            RejectReason::Malformed
        );
    }

    #[test]
    fn escaped_names_and_extra_fields() {
        let d = run(
            r#"{"station":"DL\u00303","time":"2024-07-15T00:30:00Z","sensor":{"fw":"1.2"},"values":{"p\u0068":7.5}}"#,
            None,
        )
        .unwrap();
        assert_eq!(
            (
                d.readings[0].station.as_str(),
                d.readings[0].parameter.as_str()
            ),
            ("DL03", "ph")
        );
    }
}
