//! A lead's evidence, sealed: which readings exactly, their canonical bytes, and their digests.
//!
//! The set is defined so that the store can give it back later, byte for byte. The engine only
//! ever sees durable readings (see `pipeline`), so when a revision is made every reading it
//! was derived from is in the store — but later readings for the same window may still arrive
//! (the evidence window reaches `EVIDENCE_MARGIN` past the lead). So the set is cut per
//! station at the newest reading time the engine had seen of that station when it made the
//! revision: [`EvidenceSpec`] = the lead's evidence stations × parameters, `from` (inclusive),
//! and per station `until` (inclusive). [`collect`] reads exactly that from any
//! [`ReadingStore`]; `verify` and the dossier re-read with it.
//!
//! The service seals what it holds rather than what it reads back: the engine stage keeps its
//! recent durable readings (with the store's identity rule: a re-sent point replaces) and hands
//! each revision the readings of its spec — the set `collect` gives from a store holding what
//! the service made durable — and the leads stage digests them; only a revision whose `from`
//! is older than that cache reaches (the first leads after a restart) is sealed
//! from `collect`, at the time of sealing. So a seal states: these readings, stored or spooled
//! on their way to the store, are the lead's evidence as the service had made it durable when
//! it made the revision. It does not state that the store answered with them at that moment;
//! the re-read does that later, and names each stream whose readings the store lost, changed
//! or gained since.
//!
//! The canonical serialisation is the long CSV of the offline contract, five fixed columns
//! `time,station,parameter,value,flag`, in store order (time, station, parameter), times as
//! RFC 3339 UTC, values in Rust's shortest round-trip decimal form — so the file in an evidence
//! bundle *is* the sealed bytes (`sha256sum readings.csv` prints the evidence digest) and
//! `riverwatch detect --input` reads it as is. Per stream (station × parameter) digests let a
//! mismatch name the stream that changed.

use super::sha256_hex;
use crate::store::{reading_order, ReadingStore, StoreError};
use riverwatch_engine::leads::Lead;
use riverwatch_engine::time::{Millis, Rfc3339};
use riverwatch_engine::{Reading, StationId};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::future::Future;

/// First line of the canonical CSV.
pub const CSV_HEADER: &str = "time,station,parameter,value,flag\n";

/// One station's part of the evidence: its readings up to `until` (inclusive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StationCut {
    /// Station.
    pub station: String,
    /// Newest reading time included (UTC ms).
    pub until: Millis,
}

/// Exactly which readings a sealed lead's evidence is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceSpec {
    /// Parameters (sorted).
    pub parameters: Vec<String>,
    /// Oldest reading time included (UTC ms).
    pub from: Millis,
    /// Stations with their cut, sorted by station.
    pub stations: Vec<StationCut>,
}

impl EvidenceSpec {
    /// The spec of `lead`'s evidence, given the newest reading time the engine had seen per
    /// station when it made the revision. Stations it had not seen contribute nothing.
    pub fn of(lead: &Lead, seen: &BTreeMap<String, Millis>) -> Self {
        let e = &lead.evidence;
        let mut parameters: Vec<String> = e.parameters.iter().map(|p| p.to_string()).collect();
        parameters.sort();
        parameters.dedup();
        let mut stations: Vec<StationCut> = e
            .stations
            .iter()
            .map(|s| StationCut {
                station: s.to_string(),
                until: seen
                    .get(s.as_str())
                    .map_or(e.from - 1, |t| (*t).min(e.to - 1)),
            })
            .collect();
        stations.sort_by(|a, b| a.station.cmp(&b.station));
        stations.dedup_by(|a, b| a.station == b.station);
        Self {
            parameters,
            from: e.from,
            stations,
        }
    }

    /// Whether `r` belongs to the evidence.
    pub fn contains(&self, r: &Reading) -> bool {
        r.time >= self.from
            && self.parameters.iter().any(|p| p == r.parameter.as_str())
            && self
                .stations
                .iter()
                .any(|c| c.station == r.station.as_str() && r.time <= c.until)
    }
}

/// Reads the evidence of `spec` from `store`, in store order.
pub async fn collect<S: ReadingStore>(
    store: &S,
    spec: &EvidenceSpec,
) -> Result<Vec<Reading>, StoreError> {
    collect_with(spec, |stations, from, to| async move {
        store.query(&stations, from, to).await
    })
    .await
}

/// Reads the evidence of `spec` through `query` (stations, from, to exclusive → readings in any
/// order, a superset of the evidence), in store order.
pub async fn collect_with<F, Q>(spec: &EvidenceSpec, query: Q) -> Result<Vec<Reading>, StoreError>
where
    Q: FnOnce(Vec<StationId>, Millis, Millis) -> F,
    F: Future<Output = Result<Vec<Reading>, StoreError>>,
{
    let Some(to) = spec.stations.iter().map(|c| c.until).max() else {
        return Ok(Vec::new());
    };
    if to < spec.from {
        return Ok(Vec::new());
    }
    let stations: Vec<StationId> = spec
        .stations
        .iter()
        .map(|c| StationId::new(&c.station))
        .collect();
    let mut readings = query(stations, spec.from, to + 1).await?;
    readings.retain(|r| spec.contains(r));
    readings.sort_by(reading_order);
    Ok(readings)
}

/// Appends one reading's canonical CSV line (with its newline) to `out`.
pub fn canonical_line(out: &mut String, r: &Reading) {
    let _ = writeln!(
        out,
        "{},{},{},{},{}",
        Rfc3339(r.time),
        r.station,
        r.parameter,
        r.value,
        r.flag.letter()
    );
}

/// The canonical CSV of `readings` (header first; readings in store order).
pub fn canonical_csv(readings: &[Reading]) -> String {
    let mut sorted: Vec<&Reading> = readings.iter().collect();
    sorted.sort_by(|a, b| reading_order(a, b));
    let mut out = String::with_capacity(CSV_HEADER.len() + readings.len() * 48);
    out.push_str(CSV_HEADER);
    for r in sorted {
        canonical_line(&mut out, r);
    }
    out
}

/// One stream's part of the seal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamSeal {
    /// Station.
    pub station: String,
    /// Parameter.
    pub parameter: String,
    /// Readings.
    pub readings: u64,
    /// SHA-256 of the stream's canonical lines, in time order.
    pub sha256: String,
}

/// The sealed evidence of a lead revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceSeal {
    /// Which readings.
    pub spec: EvidenceSpec,
    /// How many.
    pub readings: u64,
    /// SHA-256 of [`canonical_csv`] (what `sha256sum readings.csv` prints).
    pub sha256: String,
    /// Per stream, sorted by station then parameter.
    pub streams: Vec<StreamSeal>,
}

impl EvidenceSeal {
    /// Seals `readings`, the evidence of `spec`.
    pub fn new(spec: EvidenceSpec, readings: &[Reading]) -> Self {
        let csv = canonical_csv(readings);
        let mut streams: BTreeMap<(&str, &str), (u64, Sha256)> = BTreeMap::new();
        let mut buf = String::new();
        for text in csv.lines().skip(1) {
            let mut f = text.split(',');
            let (_, s, p) = (f.next(), f.next().unwrap_or(""), f.next().unwrap_or(""));
            let e = streams.entry((s, p)).or_insert_with(|| (0, Sha256::new()));
            e.0 += 1;
            buf.clear();
            buf.push_str(text);
            buf.push('\n');
            e.1.update(buf.as_bytes());
        }
        let streams = streams
            .into_iter()
            .map(|((s, p), (n, h))| StreamSeal {
                station: s.to_string(),
                parameter: p.to_string(),
                readings: n,
                sha256: super::hex(&h.finalize()),
            })
            .collect();
        Self {
            spec,
            readings: readings.len() as u64,
            sha256: sha256_hex(csv.as_bytes()),
            streams,
        }
    }

    /// Re-reads this evidence from `store` and says what differs from the seal (empty: the
    /// store still gives the sealed digest).
    pub async fn recheck<S: ReadingStore>(&self, store: &S) -> Result<Vec<String>, StoreError> {
        let readings = collect(store, &self.spec).await?;
        Ok(self.differences(&EvidenceSeal::new(self.spec.clone(), &readings)))
    }

    /// What differs between this (sealed) and `now` (re-read), one sentence per difference;
    /// empty when they are the same.
    pub fn differences(&self, now: &EvidenceSeal) -> Vec<String> {
        let mut out = Vec::new();
        if self.spec != now.spec {
            out.push("the evidence was re-read with another definition".to_string());
        }
        let key = |s: &StreamSeal| (s.station.clone(), s.parameter.clone());
        let then: BTreeMap<_, _> = self.streams.iter().map(|s| (key(s), s)).collect();
        let now_m: BTreeMap<_, _> = now.streams.iter().map(|s| (key(s), s)).collect();
        for (k, a) in &then {
            match now_m.get(k) {
                None => out.push(format!(
                    "{}/{}: all {} sealed readings are gone from the store",
                    k.0, k.1, a.readings
                )),
                Some(b) if a.readings != b.readings => out.push(format!(
                    "{}/{}: {} readings sealed, {} in the store now",
                    k.0, k.1, a.readings, b.readings
                )),
                Some(b) if a.sha256 != b.sha256 => out.push(format!(
                    "{}/{}: a reading's time, value or flag changed ({} readings, digest {} sealed, {} now)",
                    k.0,
                    k.1,
                    a.readings,
                    short(&a.sha256),
                    short(&b.sha256)
                )),
                Some(_) => {}
            }
        }
        for (k, b) in &now_m {
            if !then.contains_key(k) {
                out.push(format!(
                    "{}/{}: {} readings in the store that were not there when sealed",
                    k.0, k.1, b.readings
                ));
            }
        }
        if out.is_empty() && self.sha256 != now.sha256 {
            out.push(format!(
                "evidence digest {} sealed, {} now",
                short(&self.sha256),
                short(&now.sha256)
            ));
        }
        out
    }
}

/// The first 12 hex digits of a digest, for messages.
pub fn short(digest: &str) -> &str {
    digest.get(..12).unwrap_or(digest)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use riverwatch_engine::DataFlag;

    /// A reading flagged normal.
    pub(crate) fn r(s: &str, p: &str, t: Millis, v: f64) -> Reading {
        Reading {
            station: s.into(),
            parameter: p.into(),
            time: t,
            value: v,
            flag: DataFlag::N,
        }
    }

    #[test]
    fn canonical_csv_is_sorted_and_exact() {
        let a = [
            r("DL04", "nh3n", 60_000, 0.1),
            r("DL03", "nh3n", 60_000, 1e-7),
            r("DL03", "do", 0, 7.25),
        ];
        let csv = canonical_csv(&a);
        assert_eq!(
            csv,
            "time,station,parameter,value,flag\n\
             1970-01-01T00:00:00Z,DL03,do,7.25,N\n\
             1970-01-01T00:01:00Z,DL03,nh3n,0.0000001,N\n\
             1970-01-01T00:01:00Z,DL04,nh3n,0.1,N\n"
        );
        let mut b = a.clone();
        b.reverse();
        assert_eq!(canonical_csv(&b), csv, "input order does not matter");
    }

    #[test]
    fn differences_name_the_stream() {
        let spec = EvidenceSpec {
            parameters: vec!["nh3n".into()],
            from: 0,
            stations: vec![StationCut {
                station: "DL03".into(),
                until: 10,
            }],
        };
        let a = [r("DL03", "nh3n", 1, 0.5), r("DL03", "nh3n", 2, 0.6)];
        let sealed = EvidenceSeal::new(spec.clone(), &a);
        assert!(sealed.differences(&sealed.clone()).is_empty());
        let mut b = a.clone();
        b[1].value = 0.61;
        let d = sealed.differences(&EvidenceSeal::new(spec.clone(), &b));
        assert_eq!(d.len(), 1);
        assert!(d[0].starts_with("DL03/nh3n: a reading's"), "{d:?}");
        let d = sealed.differences(&EvidenceSeal::new(spec, &a[..1]));
        assert!(
            d[0].contains("2 readings sealed, 1 in the store now"),
            "{d:?}"
        );
    }

    #[test]
    fn spec_cuts_each_station_at_what_the_engine_had_seen() {
        let spec = EvidenceSpec {
            parameters: vec!["nh3n".into()],
            from: 100,
            stations: vec![
                StationCut {
                    station: "A".into(),
                    until: 200,
                },
                StationCut {
                    station: "B".into(),
                    until: 150,
                },
            ],
        };
        assert!(spec.contains(&r("A", "nh3n", 200, 1.0)));
        assert!(!spec.contains(&r("B", "nh3n", 151, 1.0)));
        assert!(!spec.contains(&r("A", "do", 120, 1.0)));
        assert!(!spec.contains(&r("A", "nh3n", 99, 1.0)));
        assert!(!spec.contains(&r("C", "nh3n", 120, 1.0)));
    }
}
