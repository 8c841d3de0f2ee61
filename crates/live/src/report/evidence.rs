//! The readings behind a lead, read back from the store with the lead's evidence query, and
//! their digest: SHA-256 over one canonical line per reading, in the order every store answers
//! in (time, station, parameter).
//!
//! The digest covers every matching reading even when only the first ones are kept in memory,
//! so a dossier of a long window still names exactly what the store held. The canonical line
//! (`time,station,parameter,value,flag` with RFC 3339 UTC time and Rust's shortest round-trip
//! float) is what the dossier's "how to verify" text tells a reader to recompute.

use crate::store::{ReadingChunks, ReadingStore, StoreError, DEFAULT_CHUNK};
use riverwatch_engine::leads::EvidenceQuery;
use riverwatch_engine::time::Rfc3339;
use riverwatch_engine::Reading;
use sha2::{Digest as _, Sha256};

/// The evidence readings of one lead.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    /// The first matching readings, in store order (all of them unless `truncated`).
    pub readings: Vec<Reading>,
    /// How many readings matched.
    pub total: u64,
    /// More matched than were kept.
    pub truncated: bool,
    /// SHA-256 (hex) over the canonical lines of all `total` readings.
    pub digest: String,
}

/// Incremental [`Evidence::digest`].
#[derive(Default)]
pub struct EvidenceDigest(Sha256);

impl EvidenceDigest {
    /// Adds one reading's canonical line.
    pub fn push(&mut self, r: &Reading) {
        self.0.update(canonical_line(r).as_bytes());
    }

    /// The hex digest.
    pub fn finish(self) -> String {
        self.0
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// `time,station,parameter,value,flag\n` for one reading.
pub fn canonical_line(r: &Reading) -> String {
    format!(
        "{},{},{},{},{}\n",
        Rfc3339(r.time),
        r.station,
        r.parameter,
        r.value,
        r.flag.letter()
    )
}

/// The digest of `readings` (already in store order).
pub fn digest(readings: &[Reading]) -> String {
    let mut d = EvidenceDigest::default();
    readings.iter().for_each(|r| d.push(r));
    d.finish()
}

/// Reads the readings `q` describes, keeping at most `keep` in memory and digesting all.
pub async fn fetch<S: ReadingStore>(
    store: &S,
    q: &EvidenceQuery,
    keep: usize,
) -> Result<Evidence, StoreError> {
    let mut chunks = store
        .query_chunks(&q.stations, q.from, q.to, DEFAULT_CHUNK)
        .await?;
    let mut readings = Vec::new();
    let mut digest = EvidenceDigest::default();
    let mut total = 0u64;
    while let Some(chunk) = chunks.next_chunk().await? {
        for r in chunk {
            if q.parameters.is_empty() || q.parameters.contains(&r.parameter) {
                digest.push(&r);
                total += 1;
                if readings.len() < keep {
                    readings.push(r);
                }
            }
        }
    }
    Ok(Evidence {
        truncated: total > readings.len() as u64,
        readings,
        total,
        digest: digest.finish(),
    })
}

/// The rows of a long table to print: the first and last `each` rows and how many lie between.
pub fn head_tail<T>(rows: &[T], each: usize) -> (&[T], usize, &[T]) {
    if rows.len() <= 2 * each {
        (rows, 0, &[])
    } else {
        (
            &rows[..each],
            rows.len() - 2 * each,
            &rows[rows.len() - each..],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use riverwatch_engine::time::parse_rfc3339;
    use riverwatch_engine::DataFlag;

    #[test]
    fn canonical_lines_and_digest_are_stable() {
        let r = Reading {
            station: "DL08".into(),
            parameter: "nh3n".into(),
            time: parse_rfc3339("2024-07-06T04:00:00Z").unwrap(),
            value: 7.57,
            flag: DataFlag::N,
        };
        assert_eq!(
            canonical_line(&r),
            "2024-07-06T04:00:00Z,DL08,nh3n,7.57,N\n"
        );
        // sha256 of the empty string: no readings digest to the well-known value.
        assert_eq!(
            digest(&[]),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let one = digest(std::slice::from_ref(&r));
        let mut other = r.clone();
        other.value = 7.570000001;
        assert_ne!(one, digest(&[other]));
        assert_eq!(one.len(), 64);
    }

    #[test]
    fn head_and_tail_of_long_tables() {
        let v: Vec<u32> = (0..25).collect();
        let (head, skipped, tail) = head_tail(&v, 10);
        assert_eq!((head.len(), skipped, tail), (10, 5, &v[15..]));
        let (head, skipped, tail) = head_tail(&v[..20], 10);
        assert_eq!((head.len(), skipped, tail.len()), (20, 0, 0));
    }
}
