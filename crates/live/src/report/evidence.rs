//! The readings behind a lead, read back from the store with the lead's evidence query, and
//! their digest: SHA-256 of the canonical CSV of the sealed evidence (`seal::evidence`: header,
//! then one line per reading in the order every store answers in — time, station, parameter).
//!
//! The digest covers every matching reading even when only the first ones are kept in memory,
//! so a dossier of a long window still names exactly what the store held. One definition for
//! both: a digest computed here for an unsealed revision is what `sha256sum readings.csv` of
//! the same readings prints, as for a sealed one.

use crate::seal::evidence::{canonical_line, CSV_HEADER};
use crate::seal::hex;
use crate::store::{ReadingChunks, ReadingStore, StoreError, DEFAULT_CHUNK};
use riverwatch_engine::leads::EvidenceQuery;
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

/// Incremental [`Evidence::digest`]: SHA-256 of the canonical CSV (header, then one line per
/// reading as pushed), the same bytes a sealed evidence file holds.
pub struct EvidenceDigest {
    hash: Sha256,
    line: String,
}

impl Default for EvidenceDigest {
    fn default() -> Self {
        let mut hash = Sha256::new();
        hash.update(CSV_HEADER.as_bytes());
        Self {
            hash,
            line: String::new(),
        }
    }
}

impl EvidenceDigest {
    /// Adds one reading's canonical line.
    pub fn push(&mut self, r: &Reading) {
        self.line.clear();
        canonical_line(&mut self.line, r);
        self.hash.update(self.line.as_bytes());
    }

    /// The hex digest.
    pub fn finish(self) -> String {
        hex(&self.hash.finalize())
    }
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
    use crate::seal::evidence::canonical_csv;
    use crate::seal::sha256_hex;
    use riverwatch_engine::time::parse_rfc3339;
    use riverwatch_engine::DataFlag;

    #[test]
    fn digest_is_that_of_the_sealed_canonical_csv() {
        let r = Reading {
            station: "DL08".into(),
            parameter: "nh3n".into(),
            time: parse_rfc3339("2024-07-06T04:00:00Z").unwrap(),
            value: 7.57,
            flag: DataFlag::N,
        };
        let mut later = r.clone();
        later.time += 300_000;
        let both = [r.clone(), later];
        assert_eq!(digest(&both), sha256_hex(canonical_csv(&both).as_bytes()));
        assert_eq!(
            canonical_csv(&both[..1]),
            "time,station,parameter,value,flag\n2024-07-06T04:00:00Z,DL08,nh3n,7.57,N\n"
        );
        // No readings: the digest of the header line alone.
        assert_eq!(digest(&[]), sha256_hex(CSV_HEADER.as_bytes()));
        let mut other = r.clone();
        other.value = 7.570000001;
        assert_ne!(digest(&both[..1]), digest(&[other]));
    }
}
