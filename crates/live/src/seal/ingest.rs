//! Sealed ingest: per station, a hash chain over the raw payloads the service accepted,
//! `head_n = SHA-256(head_{n-1} ‖ receive time (8 bytes, big-endian, UTC ms) ‖ payload)`,
//! starting from 32 zero bytes. The decode stage links every payload it accepts (under the
//! station its readings name, else the topic's last segment) and checkpoints each station's
//! head into the ledger chain when it has new links and its last checkpoint is at least
//! [`IngestSeal::every`] old (receive time), and on shutdown.
//!
//! Raw payloads are not kept (the store keeps decoded readings), so a checkpoint is a
//! commitment: whoever archived the messages (gateway, broker bridge) can recompute the head
//! and prove the service received exactly those payloads at those times. Payloads linked after
//! the last checkpoint before a crash are not covered; the chain continues from that
//! checkpoint after a restart ([`IngestSeal::resume`]).

use super::records::IngestCheckpoint;
use super::{digest_bytes, hex, link};
use riverwatch_engine::time::{Millis, MINUTE};
use std::collections::HashMap;

/// Default checkpoint interval per station.
pub const CHECKPOINT_EVERY: Millis = MINUTE;

struct Chain {
    head: [u8; 32],
    payloads: u64,
    last_received: Millis,
    checkpointed: Millis,
    dirty: bool,
}

/// The per-station ingest chains.
pub struct IngestSeal {
    chains: HashMap<String, Chain>,
    every: Millis,
    next_due: Millis,
}

impl IngestSeal {
    /// New chains, checkpointed every `every` of receive time.
    pub fn new(every: Millis) -> Self {
        Self {
            chains: HashMap::new(),
            every,
            next_due: Millis::MIN,
        }
    }

    /// Chains that continue from the ledger's last checkpoints.
    pub fn resume(heads: Vec<IngestCheckpoint>, every: Millis) -> Self {
        let mut s = Self::new(every);
        for h in heads {
            let head = digest_bytes(&h.head).unwrap_or([0; 32]);
            s.chains.insert(
                h.station,
                Chain {
                    head,
                    payloads: h.payloads,
                    last_received: h.last_received,
                    checkpointed: h.last_received,
                    dirty: false,
                },
            );
        }
        s
    }

    /// The checkpoint interval.
    pub fn every(&self) -> Millis {
        self.every
    }

    /// Links one accepted payload into `station`'s chain.
    pub fn accept(&mut self, station: &str, received: Millis, payload: &[u8]) {
        let chain = match self.chains.get_mut(station) {
            Some(c) => c,
            None => self.chains.entry(station.to_string()).or_insert(Chain {
                head: [0; 32],
                payloads: 0,
                last_received: received,
                checkpointed: Millis::MIN,
                dirty: false,
            }),
        };
        chain.head = link(&chain.head, received, &[payload]);
        chain.payloads += 1;
        chain.last_received = received;
        chain.dirty = true;
    }

    /// Whether [`IngestSeal::due`] may have something at `now` (cheap; call per message).
    pub fn maybe_due(&self, now: Millis) -> bool {
        now >= self.next_due
    }

    /// Heads of stations with new links whose last checkpoint is `every` old at `now`.
    pub fn due(&mut self, now: Millis) -> Vec<IngestCheckpoint> {
        self.next_due = now.saturating_add(self.every / 4);
        let every = self.every;
        self.take(|c| now.saturating_sub(c.checkpointed) >= every, now)
    }

    /// Heads of every station with new links (shutdown).
    pub fn all(&mut self, now: Millis) -> Vec<IngestCheckpoint> {
        self.take(|_| true, now)
    }

    fn take(&mut self, pick: impl Fn(&Chain) -> bool, now: Millis) -> Vec<IngestCheckpoint> {
        let mut out: Vec<IngestCheckpoint> = self
            .chains
            .iter_mut()
            .filter(|(_, c)| c.dirty && pick(c))
            .map(|(s, c)| {
                c.dirty = false;
                c.checkpointed = now;
                IngestCheckpoint {
                    station: s.clone(),
                    head: hex(&c.head),
                    payloads: c.payloads,
                    last_received: c.last_received,
                }
            })
            .collect();
        out.sort_by(|a, b| a.station.cmp(&b.station));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seal::sha256_hex;

    #[test]
    fn head_is_the_documented_hash_chain() {
        let mut s = IngestSeal::new(MINUTE);
        s.accept("DL03", 1_000, b"{\"a\":1}");
        s.accept("DL03", 2_000, b"{\"a\":2}");
        let mut first = vec![0u8; 32];
        first.extend(1_000i64.to_be_bytes());
        first.extend(b"{\"a\":1}");
        let h1 = crate::seal::unhex(&sha256_hex(&first)).unwrap();
        let mut second = h1;
        second.extend(2_000i64.to_be_bytes());
        second.extend(b"{\"a\":2}");
        let cps = s.all(3_000);
        assert_eq!(cps.len(), 1);
        assert_eq!(cps[0].head, sha256_hex(&second));
        assert_eq!(cps[0].payloads, 2);
        assert!(s.all(4_000).is_empty(), "nothing new since");
    }

    #[test]
    fn checkpoints_once_a_minute_per_station_and_resumes() {
        let mut s = IngestSeal::new(MINUTE);
        s.accept("A", 0, b"x");
        assert_eq!(s.due(0).len(), 1, "first checkpoint at once");
        s.accept("A", 1_000, b"y");
        s.accept("B", 1_000, b"z");
        let now = s.due(1_000);
        assert_eq!(
            now.iter().map(|c| c.station.as_str()).collect::<Vec<_>>(),
            ["B"]
        );
        let later = s.due(MINUTE);
        assert_eq!(later.len(), 1);
        assert_eq!((later[0].station.as_str(), later[0].payloads), ("A", 2));
        let mut resumed = IngestSeal::resume(later.clone(), MINUTE);
        let mut cont = IngestSeal::resume(later, MINUTE);
        resumed.accept("A", 70_000, b"w");
        cont.accept("A", 70_000, b"w");
        assert_eq!(resumed.all(0)[0].head, cont.all(0)[0].head);
    }
}
