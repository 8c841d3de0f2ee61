//! The pipeline's stages and the messages between them:
//!
//! ```text
//! ingest ─Raw─▶ decode ─Accepted─▶ store ─Stored─▶ engine ─LeadRevision─▶ leads ─Outbound─▶ publish
//!                 │                  │ (Durable: ack)                        (ledger first)    ▲
//!                 └──────DeadLetter──┴──────────▶ dead-letter (ledger, ack) ─Outbound──────────┘
//! ```
//!
//! Each stage is a struct owning its state with an `async fn run`; channels are bounded, so a
//! slow stage holds back the one before it and, at the end of the line, the broker. Only the
//! source watches cancellation: the others drain what they hold when their input closes, so a
//! shutdown flushes, acks and publishes everything already received.
//!
//! The engine sees a reading only once it is durable: what it derives leads from is exactly
//! what the store holds or will hold once the spool has drained, so the start-up replay of the
//! store, with the spool a previous process left merged in, rebuilds the same state and
//! re-derives the same leads (deterministic ids; the ledger ignores revisions it has). The
//! engine stage feeds readings in (time, station, parameter) order once they are older than the
//! allowed lateness, so arrival order (live) and store order (replay) give the same revisions.
//! Because every reading it receives is durable, the engine stage also keeps the recent ones
//! (`recent`) and hands each lead revision its evidence from them: the leads stage seals what
//! the service had made durable without reading the store back.

mod deadletter;
mod decode;
mod engine;
mod leads;
mod models;
mod publish;
mod queues;
mod recent;
mod reload;
mod replayed;
mod store;
mod writes;

pub(crate) use deadletter::{DeadLetter, DeadLetterStage};
pub(crate) use decode::{DecodeStage, MAX_FUTURE_SKEW};
pub(crate) use engine::{Detector, EngineStage};
pub(crate) use leads::{LeadsStage, MAX_BATCH};
pub(crate) use models::load as load_models;
pub(crate) use publish::{Outbound, Publisher};
pub(crate) use queues::Queues;
pub(crate) use reload::{watch_reloads, Models, Watched};
pub use replayed::{publish_replayed, replayed_message, PublishError, REPLAY_LEVEL};
pub(crate) use store::StoreStage;

use crate::ingest::Ack;
use crate::seal::evidence::EvidenceSpec;
use riverwatch_engine::time::Millis;
use riverwatch_engine::{Config, Lead, Reading};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// One MQTT message as received.
#[derive(Debug)]
pub struct Raw {
    /// Topic it arrived on.
    pub topic: String,
    /// Payload bytes.
    pub payload: Vec<u8>,
    /// Wall-clock receive time (UTC ms), the decoders' "now".
    pub received: Millis,
    /// Monotonic receive time, for the end-to-end latency.
    pub at: Instant,
    /// How to acknowledge it.
    pub ack: Ack,
}

/// A message's readings, decoded, waiting to be made durable.
#[derive(Debug)]
pub(crate) struct Accepted {
    pub readings: Vec<Reading>,
    pub at: Instant,
    pub ack: Ack,
}

/// A message's readings, durable (stored or spooled) and acknowledged.
#[derive(Debug)]
pub(crate) struct Stored {
    pub readings: Vec<Reading>,
    /// When its message arrived; `None` for readings replayed from the store at start-up.
    pub at: Option<Instant>,
}

/// A lead revision the engine produced, with what its seal records about how it was made.
#[derive(Debug, Clone)]
pub(crate) struct LeadRevision {
    pub lead: Lead,
    /// When the message that completed it arrived (`None` during the start-up replay).
    pub at: Option<Instant>,
    /// When the engine made it.
    pub made: Instant,
    /// Newest reading time per station the engine had seen when it made the revision (taken
    /// after the whole message, so a message is never split by the evidence cut).
    pub seen: BTreeMap<String, Millis>,
    /// Oldest reading time the engine had seen (where its state began).
    pub engine_from: Option<Millis>,
    /// The config in force.
    pub config: Arc<Config>,
    /// Its evidence (`EvidenceSpec::of(lead, seen)`) and the readings of it taken from the
    /// engine stage's cache of durable readings; `None` when the cache does not reach back to
    /// the evidence start: the leads stage reads them from the store.
    pub evidence: Option<(EvidenceSpec, Arc<[Reading]>)>,
    /// Time taken to take the evidence from the cache (for every revision made with this one);
    /// part of `made`, reported as the `evidence` part of the latency.
    pub extracted: Duration,
}

/// Wall-clock now in UTC milliseconds (the only clock the pipeline reads; the engine has none).
pub fn now_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

/// Whether MQTT topic filter `filter` (with `+` and `#`) matches `topic`.
pub(crate) fn filter_matches(filter: &str, topic: &str) -> bool {
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::filter_matches;

    #[test]
    fn topic_filters_match_like_a_broker() {
        assert!(filter_matches(
            "riverwatch/readings/+",
            "riverwatch/readings/DL03"
        ));
        assert!(!filter_matches(
            "riverwatch/readings/+",
            "riverwatch/readings/DL03/x"
        ));
        assert!(!filter_matches(
            "riverwatch/readings/+",
            "riverwatch/senml/DL03"
        ));
        assert!(filter_matches("site/#", "site/a/b"));
        assert!(filter_matches("a/b", "a/b"));
        assert!(!filter_matches("a/b", "a"));
    }
}
