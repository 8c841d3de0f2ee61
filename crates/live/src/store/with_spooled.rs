//! [`WithSpooled`]: a store query's chunks with the spool's readings of the same window merged
//! in — what the store will answer once the spool has drained, read before it has.
//!
//! The spooled readings are few next to a replay window (an outage's worth, bounded by the
//! spool's size): they are sorted in [`reading_order`] up front, one per identity; the store's come in
//! bounded chunks in that order. So each store chunk takes along the spooled readings up to its
//! last one, and whatever is left follows the last chunk: memory stays bounded by the chunk
//! size plus the spool. For a point (station, parameter, time) held by both, the spooled reading
//! wins: it is the later write, and draining it overwrites the store's point.

use super::{reading_order, ReadingChunks, StoreError};
use riverwatch_engine::Reading;
use std::cmp::Ordering;
use std::collections::VecDeque;

/// Chunks of a store query with spooled readings merged in (module doc).
pub struct WithSpooled<C> {
    chunks: C,
    spooled: VecDeque<Reading>,
    ended: bool,
}

impl<C: ReadingChunks> WithSpooled<C> {
    /// Merges `spooled` — the spool's readings of the query's window, in the order they were
    /// written — into the store's `chunks`. Of a point spooled more than once, the last
    /// written stays, as it does in the store after the drain.
    pub(crate) fn new(chunks: C, mut spooled: Vec<Reading>) -> Self {
        spooled.reverse();
        // Stable: of one point's readings, the last written comes first and is kept.
        spooled.sort_by(reading_order);
        spooled.dedup_by(|later, kept| reading_order(later, kept) == Ordering::Equal);
        Self {
            chunks,
            spooled: spooled.into(),
            ended: false,
        }
    }
}

impl<C: ReadingChunks> ReadingChunks for WithSpooled<C> {
    async fn next_chunk(&mut self) -> Result<Option<Vec<Reading>>, StoreError> {
        if !self.ended {
            match self.chunks.next_chunk().await? {
                Some(chunk) => return Ok(Some(merge(chunk, &mut self.spooled))),
                None => self.ended = true,
            }
        }
        let rest: Vec<Reading> = self.spooled.drain(..).collect();
        Ok((!rest.is_empty()).then_some(rest))
    }
}

/// The readings of `chunk` and those of `spooled` up to the chunk's last one, in
/// [`reading_order`]; a spooled reading replaces the chunk's reading of the same identity.
fn merge(chunk: Vec<Reading>, spooled: &mut VecDeque<Reading>) -> Vec<Reading> {
    let mut out = Vec::with_capacity(chunk.len());
    for r in chunk {
        let mut replaced = false;
        while let Some(s) = spooled.front() {
            match reading_order(s, &r) {
                Ordering::Greater => break,
                order => {
                    replaced = order == Ordering::Equal;
                    out.extend(spooled.pop_front());
                }
            }
        }
        if !replaced {
            out.push(r);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seal::evidence::tests::r;

    /// Chunks handed out from a list, as a store would.
    struct Listed(VecDeque<Vec<Reading>>);

    impl ReadingChunks for Listed {
        async fn next_chunk(&mut self) -> Result<Option<Vec<Reading>>, StoreError> {
            Ok(self.0.pop_front())
        }
    }

    async fn all(mut c: impl ReadingChunks) -> Vec<Vec<Reading>> {
        let mut out = Vec::new();
        while let Some(chunk) = c.next_chunk().await.expect("chunk") {
            assert!(!chunk.is_empty());
            out.push(chunk);
        }
        out
    }

    #[tokio::test]
    async fn spooled_readings_go_in_order_and_win_a_shared_point() {
        let stored = vec![
            vec![r("DL03", "do", 100, 8.0), r("DL03", "nh3n", 100, 0.4)],
            vec![r("DL03", "do", 200, 8.1), r("DL04", "do", 200, 7.0)],
        ];
        // In write order: a correction of 200 (8.5, then 8.9) and batches out of time order.
        let spooled = vec![
            r("DL03", "do", 200, 8.5),
            r("DL03", "do", 300, 8.2),
            r("DL03", "ph", 100, 7.1),
            r("DL03", "do", 200, 8.9),
            r("DL01", "do", 50, 9.0),
        ];
        let got = all(WithSpooled::new(Listed(stored.into()), spooled)).await;
        // A spooled reading goes with the store chunk that reaches past it, or after the last.
        let want = vec![
            vec![
                r("DL01", "do", 50, 9.0),
                r("DL03", "do", 100, 8.0),
                r("DL03", "nh3n", 100, 0.4),
            ],
            vec![
                r("DL03", "ph", 100, 7.1),
                r("DL03", "do", 200, 8.9),
                r("DL04", "do", 200, 7.0),
            ],
            vec![r("DL03", "do", 300, 8.2)],
        ];
        assert_eq!(got, want);
    }

    #[tokio::test]
    async fn either_side_alone_comes_through_unchanged() {
        let stored = vec![
            vec![r("DL03", "do", 100, 8.0)],
            vec![r("DL03", "do", 200, 8.1)],
        ];
        let got = all(WithSpooled::new(Listed(stored.clone().into()), vec![])).await;
        assert_eq!(got, stored);
        let spooled = vec![r("DL03", "do", 100, 8.0), r("DL04", "do", 100, 7.0)];
        let got = all(WithSpooled::new(Listed(VecDeque::new()), spooled.clone())).await;
        assert_eq!(got, vec![spooled]);
    }
}
