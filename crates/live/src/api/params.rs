//! Query-string parameters, read by hand so that every refusal names the parameter: unknown and
//! repeated names, malformed times and numbers, and enum values outside their set.
//!
//! [`lead_filter`] is public because `riverwatch leads` parses its flags with it too: the shell
//! and the API accept exactly the same filters, and the command sends [`lead_query`] back out.

use super::ApiError;
use crate::ledger::LeadFilter;
use riverwatch_engine::time::{parse_rfc3339, Millis, Rfc3339, MAX_PLAUSIBLE, MIN_PLAUSIBLE};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The parameters of one request, checked against the names an endpoint knows.
pub(super) struct Params<'a> {
    pairs: &'a [(String, String)],
}

impl<'a> Params<'a> {
    /// Refuses a name not in `known`, or one given twice.
    pub(super) fn new(pairs: &'a [(String, String)], known: &[&str]) -> Result<Self, ApiError> {
        for (i, (k, _)) in pairs.iter().enumerate() {
            if !known.contains(&k.as_str()) {
                return Err(ApiError::bad_param(
                    k,
                    format!("unknown; this endpoint takes {}", known.join(", ")),
                ));
            }
            if pairs[..i].iter().any(|(seen, _)| seen == k) {
                return Err(ApiError::bad_param(k, "given more than once"));
            }
        }
        Ok(Self { pairs })
    }

    /// The value of `name`, when present and not empty.
    pub(super) fn text(&self, name: &str) -> Option<&'a str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The value of `name`, which must be present.
    pub(super) fn required(&self, name: &str) -> Result<&'a str, ApiError> {
        self.text(name)
            .ok_or_else(|| ApiError::bad_param(name, "required"))
    }

    /// An RFC 3339 time within the plausible range.
    pub(super) fn time(&self, name: &str) -> Result<Option<Millis>, ApiError> {
        self.text(name).map(|v| time(name, v)).transpose()
    }

    /// A whole number in `range`.
    pub(super) fn number<T>(
        &self,
        name: &str,
        range: std::ops::RangeInclusive<T>,
    ) -> Result<Option<T>, ApiError>
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
    {
        let Some(v) = self.text(name) else {
            return Ok(None);
        };
        match v.parse::<T>() {
            Ok(n) if range.contains(&n) => Ok(Some(n)),
            _ => Err(ApiError::bad_param(
                name,
                format!(
                    "`{v}` is not a whole number from {} to {}",
                    range.start(),
                    range.end()
                ),
            )),
        }
    }

    /// One of an enum's snake_case names.
    pub(super) fn choice<T: DeserializeOwned>(
        &self,
        name: &str,
        options: &[&str],
    ) -> Result<Option<T>, ApiError> {
        self.text(name)
            .map(|v| {
                serde_json::from_value(serde_json::Value::String(v.to_string())).map_err(|_| {
                    ApiError::bad_param(name, format!("`{v}` is not one of {}", options.join(", ")))
                })
            })
            .transpose()
    }
}

/// Parses an RFC 3339 time for parameter `name`.
pub(super) fn time(name: &str, v: &str) -> Result<Millis, ApiError> {
    match parse_rfc3339(v) {
        Some(t) if (MIN_PLAUSIBLE..=MAX_PLAUSIBLE).contains(&t) => Ok(t),
        Some(_) => Err(ApiError::bad_param(
            name,
            format!("`{v}` is outside 1990..2100"),
        )),
        None => Err(ApiError::bad_param(
            name,
            format!("`{v}` is not an RFC 3339 time like 2025-07-01T08:00:00Z"),
        )),
    }
}

/// Lead statuses, as the API spells them.
pub(super) const STATUSES: &[&str] = &["new", "acknowledged", "confirmed", "dismissed"];
/// Lead categories, as the API spells them.
const CATEGORIES: &[&str] = &[
    "suspected_discharge",
    "standard_exceedance",
    "monitoring_anomaly",
];
/// Lead severities, as the API spells them.
const SEVERITIES: &[&str] = &["low", "medium", "high", "critical"];
const LEAD_PARAMS: &[&str] = &[
    "status", "category", "severity", "station", "segment", "from", "to", "limit", "offset",
];

/// The ledger filter for `GET /api/leads` parameters (`status`, `category`, `severity`,
/// `station`, `segment` (the downstream station of the segment), `from`, `to` as RFC 3339,
/// `limit` 0–1000 (default 100), `offset`).
pub fn lead_filter(pairs: &[(String, String)]) -> Result<LeadFilter, ApiError> {
    let p = Params::new(pairs, LEAD_PARAMS)?;
    let filter = LeadFilter {
        status: p.choice("status", STATUSES)?,
        category: p.choice("category", CATEGORIES)?,
        station: p.text("station").map(Into::into),
        severity: p.choice("severity", SEVERITIES)?,
        segment: p.text("segment").map(Into::into),
        from: p.time("from")?,
        to: p.time("to")?,
        limit: p
            .number("limit", 0..=LeadFilter::MAX_LIMIT)?
            .unwrap_or(LeadFilter::default().limit),
        offset: p.number("offset", 0..=i64::MAX as u64)?.unwrap_or(0),
    };
    if let (Some(from), Some(to)) = (filter.from, filter.to) {
        if to <= from {
            return Err(ApiError::bad_param("to", "must be after `from`"));
        }
    }
    Ok(filter)
}

/// The query parameters that [`lead_filter`] reads back as `filter`.
pub fn lead_query(filter: &LeadFilter) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut push = |k: &str, v: String| out.push((k.to_string(), v));
    if let Some(s) = &filter.status {
        push("status", snake_name(s));
    }
    if let Some(c) = &filter.category {
        push("category", snake_name(c));
    }
    if let Some(s) = &filter.station {
        push("station", s.to_string());
    }
    if let Some(s) = &filter.severity {
        push("severity", snake_name(s));
    }
    if let Some(s) = &filter.segment {
        push("segment", s.to_string());
    }
    if let Some(t) = filter.from {
        push("from", Rfc3339(t).to_string());
    }
    if let Some(t) = filter.to {
        push("to", Rfc3339(t).to_string());
    }
    push("limit", filter.limit.to_string());
    push("offset", filter.offset.to_string());
    out
}

/// The serde name of a unit enum variant.
pub(super) fn snake_name<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use riverwatch_engine::leads::{Category, Status};

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_filter_survives_the_round_trip_through_a_query() {
        let f = lead_filter(&pairs(&[
            ("status", "confirmed"),
            ("category", "monitoring_anomaly"),
            ("station", "DL03"),
            ("severity", "high"),
            ("segment", "DL03"),
            ("from", "2025-07-01T08:00:00+08:00"),
            ("to", "2025-07-02T00:00:00Z"),
            ("limit", "5"),
            ("offset", "10"),
        ]))
        .unwrap();
        assert_eq!(f.status, Some(Status::Confirmed));
        assert_eq!(f.category, Some(Category::MonitoringAnomaly));
        assert_eq!(f.from, parse_rfc3339("2025-07-01T00:00:00Z"));
        assert_eq!((f.limit, f.offset), (5, 10));
        assert_eq!(lead_filter(&lead_query(&f)).unwrap(), f);
    }

    #[test]
    fn refusals_name_the_parameter() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("status", "open")], "`status`"),
            (&[("category", "x")], "`category`"),
            (&[("severity", "huge")], "`severity`"),
            (&[("from", "yesterday")], "`from`"),
            (&[("to", "1970-01-01T00:00:00Z")], "`to`"),
            (&[("limit", "1001")], "`limit`"),
            (&[("offset", "-1")], "`offset`"),
            (&[("stations", "DL03")], "`stations`"),
            (&[("station", "A"), ("station", "B")], "`station`"),
            (
                &[
                    ("from", "2025-07-02T00:00:00Z"),
                    ("to", "2025-07-01T00:00:00Z"),
                ],
                "`to`",
            ),
        ];
        for (q, name) in cases {
            let e = lead_filter(&pairs(q)).unwrap_err();
            assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
            assert!(e.message.contains(name), "{q:?}: {}", e.message);
        }
    }
}
