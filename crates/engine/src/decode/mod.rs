//! Payload decoders: one MQTT message (station JSON, SenML or HJ 212-2017 frames) in, readings
//! out, or a [`Rejected`] value saying why the whole message was refused.
//!
//! Pure functions of (payload, topic, [`DecodeContext`]): the receive time and the station
//! network are arguments, so the live service and tests decode identically. A message is judged
//! in two tiers: something that makes the whole message untrustworthy (bad CRC, wrong length,
//! unknown station, absurd time) rejects it; a problem confined to one value (an empty HJ 212
//! value, a `NaN` in a JSON object) skips that value and is reported in
//! [`Decoded::item_errors`], keeping the rest. A message left with no reading is rejected with
//! [`RejectReason::NoReadings`]. Decoding never panics, whatever the bytes (a property test
//! feeds it arbitrary input).
//!
//! Values leave here in the project unit of their parameter (see [`crate::params`]), times in
//! UTC milliseconds. Unknown parameters are kept under the name they were sent with.

mod hj212;
mod hj212_frame;
mod hj212_scan;
mod json;
#[cfg(test)]
mod proptests;
mod senml;
mod units;

pub use hj212_frame::{encode_hj212_frame, hj212_crc};

use crate::config::{Station, Stations};
use crate::model::{DataFlag, ParamId, Reading, StationId};
use crate::params;
use crate::time::{Millis, MAX_PLAUSIBLE, MIN_PLAUSIBLE};
use rustc_hash::FxHashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

/// Which decoder to use for a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Decide per message with [`detect_format`].
    Auto,
    /// Station JSON (the contract is documented on [`decode`]).
    Json,
    /// SenML JSON (RFC 8428).
    Senml,
    /// HJ 212-2017 frames.
    Hj212,
}

impl Format {
    /// The lowercase name used on the command line and in config.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Json => "json",
            Self::Senml => "senml",
            Self::Hj212 => "hj212",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "json" => Ok(Self::Json),
            "senml" => Ok(Self::Senml),
            "hj212" => Ok(Self::Hj212),
            _ => Err(format!("unknown format `{s}` (auto, json, senml, hj212)")),
        }
    }
}

/// What a message decoded to.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Decoded {
    /// The readings, in project units and UTC.
    pub readings: Vec<Reading>,
    /// Items skipped (or kept with a caveat) inside an otherwise good message, one sentence each.
    pub item_errors: Vec<String>,
}

/// Why a whole message was refused; also the dead-letter reason and a metrics label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// JSON or SenML payload that is not UTF-8.
    NotUtf8,
    /// Not the shape its format requires (bad JSON, missing field, wrong type, bad CRC field).
    Malformed,
    /// HJ 212 CRC does not match the data segment.
    BadCrc,
    /// HJ 212 length field does not match the frame.
    BadLength,
    /// Station or MN not in the station config (and unknown stations are not accepted).
    UnknownStation,
    /// The topic names one station and the message another.
    StationMismatch,
    /// Nothing usable left once bad items were skipped.
    NoReadings,
    /// A time that cannot be parsed or lies outside the plausible window.
    BadTime,
    /// Well-formed but not something we decode (platform replies, control commands, SenML
    /// versions or must-understand labels we do not implement).
    Unsupported,
}

impl RejectReason {
    /// snake_case name, stable: used as a metrics label and in dead letters.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::NotUtf8 => "not_utf8",
            Self::Malformed => "malformed",
            Self::BadCrc => "bad_crc",
            Self::BadLength => "bad_length",
            Self::UnknownStation => "unknown_station",
            Self::StationMismatch => "station_mismatch",
            Self::NoReadings => "no_readings",
            Self::BadTime => "bad_time",
            Self::Unsupported => "unsupported",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A whole message refused, with the reason and a human-readable detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {detail}")]
pub struct Rejected {
    /// Category.
    pub reason: RejectReason,
    /// What exactly was wrong, naming the field or byte count.
    pub detail: String,
}

impl Rejected {
    pub(crate) fn new(reason: RejectReason, detail: impl Into<String>) -> Self {
        Self {
            reason,
            detail: detail.into(),
        }
    }
}

/// What a decoder needs besides the payload.
#[derive(Debug, Clone, Copy)]
pub struct DecodeContext<'a> {
    /// The station network: ids, MNs and per-station HJ 212 code overrides.
    pub stations: &'a Stations,
    /// When the message arrived (UTC ms): "now" for SenML relative times and the future bound.
    pub received: Millis,
    /// How far past `received` a reading's time may lie (clock skew of the sender).
    pub max_future_skew: Millis,
    /// Accept stations (and MNs) missing from the config, under their own name.
    pub accept_unknown_stations: bool,
}

/// A resolved station: its id, and its config entry when it has one.
type StationRef<'a> = (StationId, Option<&'a Station>);

impl<'a> DecodeContext<'a> {
    /// Rejects a time outside `[MIN_PLAUSIBLE, received + max_future_skew]`.
    fn check_time(&self, t: Millis, what: &str) -> Result<Millis, Rejected> {
        let latest = self
            .received
            .saturating_add(self.max_future_skew)
            .min(MAX_PLAUSIBLE);
        if t < MIN_PLAUSIBLE || t > latest {
            let shown = crate::time::Rfc3339(t.clamp(-62_135_596_800_000, 253_402_300_799_000));
            let bound = crate::time::Rfc3339(latest);
            return Err(Rejected::new(
                RejectReason::BadTime,
                format!("{what} {shown} is outside the plausible window 1990-01-01T00:00:00Z ..= {bound}"),
            ));
        }
        Ok(t)
    }

    /// A station by its id, or the id itself when unknown stations are accepted.
    fn station_by_id(&self, id: &str) -> Result<StationRef<'a>, Rejected> {
        self.known_or_accepted(
            self.stations.get(id),
            "station",
            id,
            "is not in the station config",
        )
    }

    /// A station by its HJ 212 MN, or the MN itself as the id when unknown stations are accepted.
    fn station_by_mn(&self, mn: &str) -> Result<StationRef<'a>, Rejected> {
        self.known_or_accepted(
            self.stations.by_mn(mn),
            "MN",
            mn,
            "is not any station's hj212_mn",
        )
    }

    fn known_or_accepted(
        &self,
        found: Option<&'a Station>,
        what: &str,
        name: &str,
        missing: &str,
    ) -> Result<StationRef<'a>, Rejected> {
        if let Some(s) = found {
            return Ok((s.id.clone(), Some(s)));
        }
        check_name(what, name).map_err(|e| Rejected::new(RejectReason::Malformed, e))?;
        if self.accept_unknown_stations {
            Ok((StationId::new(name), None))
        } else {
            Err(Rejected::new(
                RejectReason::UnknownStation,
                format!("{what} `{name}` {missing}"),
            ))
        }
    }
}

impl Decoded {
    /// Adds one item of a message: its reading, or the error that skipped it.
    fn push_item(
        &mut self,
        station: &StationId,
        time: Millis,
        item: Result<(ParamId, f64, DataFlag), String>,
    ) {
        match item {
            Ok((parameter, value, flag)) => self.readings.push(Reading {
                station: station.clone(),
                parameter,
                time,
                value,
                flag,
            }),
            Err(e) => self.item_errors.push(e),
        }
    }
}

/// Decodes one message. `topic` (when known) supplies the station for JSON and SenML messages
/// that do not name one, and is checked against the station they do name.
///
/// Station JSON, on `riverwatch/readings/{station}` — either many parameters at one time:
/// ```json
/// {"station":"DL03","time":"2024-07-15T00:30:00Z","values":{"ph":7.8,"do":8.1},"flags":{"do":"C"}}
/// ```
/// or one parameter:
/// ```json
/// {"station":"DL03","parameter":"nh3n","time":1721003400000,"value":0.42,"flag":"N"}
/// ```
/// - `station`: optional when the topic names it; if both are present they must agree.
/// - `time`: RFC 3339 string, or a number of milliseconds since the Unix epoch (UTC).
/// - `values` / `parameter`+`value`: parameter names are project ids ([`crate::params`]),
///   matched case-insensitively and stored lowercase; unknown names are kept. Values are in
///   the parameter's project unit and must be finite JSON numbers; anything else (a string,
///   `null`, a bare `NaN`/`Infinity` as some encoders write) skips that value with an item error.
/// - `flags` / `flag`: optional HJ 212 data-flag letter per parameter (`N` when absent).
/// - Other fields are ignored, so senders may add metadata.
///
/// SenML (RFC 8428) on `riverwatch/senml/{station}`: record names are
/// `urn:dev:mn:{MN}:{parameter}`, `{station}:{parameter}`, or a bare `{parameter}` with the
/// station from the topic. HJ 212-2017 frames on `riverwatch/hj212/{mn}`.
pub fn decode(
    payload: &[u8],
    topic: Option<&str>,
    format: Format,
    ctx: &DecodeContext,
) -> Result<Decoded, Rejected> {
    let format = match format {
        Format::Auto => detect_format(payload, topic),
        f => f,
    };
    // The topic's last segment names the station (or MN) only on a topic of the same format.
    let topic_id = topic
        .and_then(topic_route)
        .and_then(|(f, id)| (f == format).then_some(id));
    let decoded = match format {
        Format::Json => json::decode(utf8(payload)?, topic_id, ctx),
        Format::Senml => senml::decode(utf8(payload)?, topic_id, ctx),
        Format::Hj212 => hj212::decode(payload, topic_id, ctx),
        Format::Auto => Err(Rejected::new(
            RejectReason::Malformed,
            "cannot tell the format: not a JSON object or array and no `##` frame header",
        )),
    }?;
    if decoded.readings.is_empty() {
        let detail = if decoded.item_errors.is_empty() {
            "the message holds no values".to_string()
        } else {
            decoded.item_errors.join("; ")
        };
        return Err(Rejected::new(RejectReason::NoReadings, detail));
    }
    Ok(decoded)
}

/// The format of a payload: from the topic (`…/readings/{station}` → JSON, `…/senml/{station}`
/// → SenML, `…/hj212/{mn}` → HJ 212), else from the content (`##` → HJ 212, `[` → SenML,
/// `{` → JSON, ignoring leading whitespace). [`Format::Auto`] means it cannot tell.
pub fn detect_format(payload: &[u8], topic: Option<&str>) -> Format {
    if let Some((f, _)) = topic.and_then(topic_route) {
        return f;
    }
    let start = payload
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(payload.len());
    match payload.get(start..start + 2) {
        Some(b"##") => return Format::Hj212,
        _ => match payload.get(start) {
            Some(b'[') => return Format::Senml,
            Some(b'{') => return Format::Json,
            _ => {}
        },
    }
    if payload.windows(2).any(|w| w == b"##") {
        Format::Hj212
    } else {
        Format::Auto
    }
}

/// Splits an input topic `…/{kind}/{id}` (kind `readings`, `senml` or `hj212`) into the format
/// it carries and its last segment (a station id, or an MN for HJ 212). Any prefix is allowed,
/// so deployments can put the topics under their own root.
pub fn topic_route(topic: &str) -> Option<(Format, &str)> {
    // Byte scans: `/` is ASCII, so each cut is a char boundary (a `char` searcher cost more
    // than the rest of routing a message).
    let cut = hj212_scan::rfind_byte(topic.as_bytes(), b'/')?;
    let (head, id) = (&topic[..cut], &topic[cut + 1..]);
    let kind = &head[hj212_scan::rfind_byte(head.as_bytes(), b'/').map_or(0, |i| i + 1)..];
    let format = match kind {
        "readings" => Format::Json,
        "senml" => Format::Senml,
        "hj212" => Format::Hj212,
        _ => return None,
    };
    (!id.is_empty()).then_some((format, id))
}

fn utf8(payload: &[u8]) -> Result<&str, Rejected> {
    std::str::from_utf8(payload).map_err(|e| {
        Rejected::new(
            RejectReason::NotUtf8,
            format!(
                "payload is not UTF-8 (bad byte at offset {})",
                e.valid_up_to()
            ),
        )
    })
}

/// The station named by the message body and by the topic must agree; either may be absent.
fn merge_station<'s>(
    body: Option<&'s str>,
    topic: Option<&'s str>,
) -> Result<Option<&'s str>, Rejected> {
    match (body, topic) {
        (Some(b), Some(t)) if b != t => Err(Rejected::new(
            RejectReason::StationMismatch,
            format!("the message names station `{b}` but arrived on the topic of `{t}`"),
        )),
        (b, t) => Ok(b.or(t)),
    }
}

/// Station ids, MNs and parameter names end up in CSV, line protocol and topics: refuse the
/// characters that would break those.
fn check_name(what: &str, s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err(format!("empty {what}"));
    }
    if s.len() > 64
        || s.chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, ',' | '"' | '='))
    {
        return Err(format!(
            "{what} `{}` is too long or holds spaces, commas, quotes or `=`",
            s.escape_debug()
        ));
    }
    Ok(())
}

/// The parameter id for a name as sent: lowercased, and shared with every other reading of a
/// known parameter (no allocation on the hot path).
fn param_id(name: &str) -> Result<ParamId, String> {
    if let Some(id) = known_ids().get(name) {
        return Ok(id.clone());
    }
    let lower = name.to_ascii_lowercase();
    if let Some(id) = known_ids().get(lower.as_str()) {
        return Ok(id.clone());
    }
    check_name("parameter", &lower)?;
    Ok(ParamId::new(&lower))
}

fn known_ids() -> &'static FxHashMap<&'static str, ParamId> {
    static IDS: OnceLock<FxHashMap<&'static str, ParamId>> = OnceLock::new();
    IDS.get_or_init(|| {
        params::KNOWN
            .iter()
            .map(|p| (p.id, ParamId::new(p.id)))
            .collect()
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::time::parse_rfc3339;

    /// The shipped station network.
    pub(crate) fn network() -> Stations {
        Stations::parse("stations.toml", crate::config::embedded::STATIONS).unwrap()
    }

    /// A context that received messages at `received` (RFC 3339), strict about stations.
    pub(crate) fn ctx_at<'a>(stations: &'a Stations, received: &str) -> DecodeContext<'a> {
        DecodeContext {
            stations,
            received: parse_rfc3339(received).unwrap(),
            max_future_skew: 10 * crate::time::MINUTE,
            accept_unknown_stations: false,
        }
    }

    #[test]
    fn format_names_round_trip() {
        for f in [Format::Auto, Format::Json, Format::Senml, Format::Hj212] {
            assert_eq!(f.as_str().parse::<Format>(), Ok(f));
        }
        assert_eq!("HJ212".parse::<Format>(), Ok(Format::Hj212));
        assert!("xml".parse::<Format>().unwrap_err().contains("xml"));
    }

    #[test]
    fn detects_by_topic_then_content() {
        assert_eq!(
            detect_format(b"[]", Some("riverwatch/readings/DL03")),
            Format::Json
        );
        assert_eq!(
            detect_format(b"{}", Some("riverwatch/senml/DL03")),
            Format::Senml
        );
        assert_eq!(
            detect_format(b"{}", Some("site/x/hj212/MN1")),
            Format::Hj212
        );
        assert_eq!(detect_format(b"##0010", Some("other/topic")), Format::Hj212);
        assert_eq!(detect_format(b"  [{}]", None), Format::Senml);
        assert_eq!(detect_format(b"\n{\"a\":1}", None), Format::Json);
        assert_eq!(detect_format(b"\x00\x01junk##0261QN", None), Format::Hj212);
        assert_eq!(detect_format(b"hello", None), Format::Auto);
        assert_eq!(detect_format(b"", None), Format::Auto);
    }

    #[test]
    fn topic_routes() {
        assert_eq!(
            topic_route("riverwatch/readings/DL03"),
            Some((Format::Json, "DL03"))
        );
        assert_eq!(
            topic_route("riverwatch/hj212/DLHSIM01"),
            Some((Format::Hj212, "DLHSIM01"))
        );
        assert_eq!(topic_route("riverwatch/readings/"), None);
        assert_eq!(topic_route("riverwatch/leads/DL03"), None);
        assert_eq!(topic_route("DL03"), None);
        assert_eq!(topic_route("senml/X1"), Some((Format::Senml, "X1")));
        assert_eq!(topic_route("/hj212/MN9"), Some((Format::Hj212, "MN9")));
        assert_eq!(
            topic_route("辽源/readings/站1"),
            Some((Format::Json, "站1"))
        );
        assert_eq!(topic_route("辽源/xreadings/DL03"), None);
        assert_eq!(topic_route("readings//DL03"), None, "empty kind segment");
    }

    #[test]
    fn undecidable_payload_is_malformed() {
        let st = network();
        let e = decode(
            b"hello",
            None,
            Format::Auto,
            &ctx_at(&st, "2024-07-15T00:33:00Z"),
        )
        .unwrap_err();
        assert_eq!(e.reason, RejectReason::Malformed);
        assert!(e.to_string().starts_with("malformed: cannot tell"), "{e}");
    }

    #[test]
    fn not_utf8_is_its_own_reason() {
        let st = network();
        let e = decode(
            b"{\"station\":\"\xff\"}",
            None,
            Format::Json,
            &ctx_at(&st, "2024-07-15T00:33:00Z"),
        )
        .unwrap_err();
        assert_eq!(e.reason, RejectReason::NotUtf8);
        assert_eq!(e.reason.as_str(), "not_utf8");
    }

    #[test]
    fn time_window_is_enforced() {
        let st = network();
        let ctx = ctx_at(&st, "2024-07-15T00:33:00Z");
        let now = ctx.received;
        assert!(ctx.check_time(now + 10 * crate::time::MINUTE, "t").is_ok());
        let e = ctx
            .check_time(now + 10 * crate::time::MINUTE + 1, "DataTime")
            .unwrap_err();
        assert_eq!(e.reason, RejectReason::BadTime);
        assert!(
            e.detail.starts_with("DataTime 2024-07-15T00:43:00.001Z"),
            "{e}"
        );
        assert!(ctx.check_time(MIN_PLAUSIBLE - 1, "t").is_err());
        assert!(ctx.check_time(i64::MIN, "t").is_err());
    }

    #[test]
    fn param_ids_are_lowercased_and_checked() {
        assert_eq!(param_id("NH3N").unwrap().as_str(), "nh3n");
        assert_eq!(param_id("Chloride").unwrap().as_str(), "chloride");
        assert!(param_id("a b").is_err());
        assert!(param_id("").is_err());
    }
}
