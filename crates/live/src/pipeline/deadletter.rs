//! Dead-letter stage: every message or reading the service cannot use is kept in the ledger
//! with its reason, published to the dead-letter topic, counted by reason — and only then is
//! its MQTT message acknowledged (the ledger row is the durable hand-off).
//!
//! The dead letters kept in the ledger are chained there (`Ledger::checkpoint_dead_letters`):
//! at most once per `checkpoint_every` and when the stage ends — what was refused is evidence
//! too.
//!
//! The published record is JSON: `{"reason","detail","topic","received","payload"}` with the
//! payload as text when it is UTF-8, else `"payload_base64"` instead.

use super::{now_ms, Outbound, Raw};
use crate::ingest::{Ack, Acker};
use crate::ledger::Ledger;
use crate::metrics::Metrics;
use crate::store::Rejected as StoreRejected;
use base64::Engine as _;
use riverwatch_engine::decode::Rejected;
use riverwatch_engine::time::{Millis, Rfc3339};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::{error, warn};

/// A message or reading refused, with why.
#[derive(Debug)]
pub(crate) struct DeadLetter {
    /// Stable label (`RejectReason` name, or `store_refused`).
    pub reason: String,
    /// What exactly was wrong.
    pub detail: String,
    /// Where it came from: the MQTT topic, or `store` for a reading the store refused.
    pub topic: String,
    /// The payload as received (or the refused reading as JSON).
    pub payload: Vec<u8>,
    /// When it was received (UTC ms).
    pub received: Millis,
    /// The message to acknowledge once kept; `None` when its message is acked elsewhere.
    pub ack: Option<Ack>,
}

impl DeadLetter {
    /// A message the decoder refused.
    pub fn rejected(raw: Raw, r: Rejected) -> Self {
        Self {
            reason: r.reason.as_str().to_string(),
            detail: r.detail,
            topic: raw.topic,
            payload: raw.payload,
            received: raw.received,
            ack: Some(raw.ack),
        }
    }

    /// A reading the store refused (its message is acked with its batch).
    pub fn refused(r: StoreRejected) -> Self {
        let payload = r
            .reading
            .map(|x| {
                json!({
                    "station": x.station.as_str(),
                    "parameter": x.parameter.as_str(),
                    "time": x.time,
                    "value": if x.value.is_finite() { json!(x.value) } else { json!(x.value.to_string()) },
                    "flag": x.flag.letter().to_string(),
                })
                .to_string()
            })
            .unwrap_or_default();
        Self {
            reason: "store_refused".into(),
            detail: r.reason,
            topic: "store".into(),
            payload: payload.into_bytes(),
            received: now_ms(),
            ack: None,
        }
    }

    fn to_json(&self) -> Vec<u8> {
        let mut v = json!({
            "reason": self.reason,
            "detail": self.detail,
            "topic": self.topic,
            "received": Rfc3339(self.received).to_string(),
        });
        match std::str::from_utf8(&self.payload) {
            Ok(text) => v["payload"] = json!(text),
            Err(_) => {
                v["payload_base64"] =
                    json!(base64::engine::general_purpose::STANDARD.encode(&self.payload))
            }
        }
        v.to_string().into_bytes()
    }
}

/// Keeps, publishes, counts and acknowledges dead letters.
pub(crate) struct DeadLetterStage {
    pub ledger: Ledger,
    /// How often the dead-letter chain is checkpointed (when it grew).
    pub checkpoint_every: Duration,
    pub metrics: Arc<Metrics>,
    pub acker: Acker,
    pub topic: String,
}

impl DeadLetterStage {
    #[tracing::instrument(name = "deadletter", skip_all)]
    pub async fn run(self, mut rx: mpsc::Receiver<DeadLetter>, out: mpsc::Sender<Outbound>) {
        let mut tick = tokio::time::interval(self.checkpoint_every.max(Duration::from_secs(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let d = tokio::select! {
                d = rx.recv() => d,
                _ = tick.tick() => {
                    self.checkpoint().await;
                    continue;
                }
            };
            let Some(d) = d else { break };
            warn!(topic = %d.topic, reason = %d.reason, detail = %d.detail, "message rejected");
            self.metrics.reject(&d.reason);
            let reason = format!("{}: {}", d.reason, d.detail);
            // The ledger is the durable hand-off: retry until it takes the record.
            let mut delay = Duration::from_millis(50);
            while let Err(e) = self
                .ledger
                .record_dead_letter(d.received, &d.topic, &reason, &d.payload)
                .await
            {
                error!(error = %e, "dead letter not recorded; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            let _ = out
                .send(Outbound {
                    topic: self.topic.clone(),
                    payload: d.to_json(),
                    lead: None,
                })
                .await;
            if let Some(a) = d.ack {
                self.acker.ack([a]);
            }
        }
        self.checkpoint().await;
    }

    async fn checkpoint(&self) {
        if let Err(e) = self.ledger.checkpoint_dead_letters().await {
            error!(error = %e, "dead-letter chain checkpoint not recorded");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_is_text_or_base64() {
        let mut d = DeadLetter {
            reason: "bad_crc".into(),
            detail: "crc 0000".into(),
            topic: "riverwatch/hj212/X".into(),
            payload: b"##0010\"x\"".to_vec(),
            received: 1_764_460_800_000,
            ack: None,
        };
        let v: serde_json::Value = serde_json::from_slice(&d.to_json()).unwrap();
        assert_eq!(v["payload"], "##0010\"x\"");
        assert_eq!(v["received"], "2025-11-30T00:00:00Z");
        d.payload = vec![0xff, 0x00, 0x41];
        let v: serde_json::Value = serde_json::from_slice(&d.to_json()).unwrap();
        assert_eq!(v["payload_base64"], "/wBB");
        assert!(v.get("payload").is_none());
    }
}
