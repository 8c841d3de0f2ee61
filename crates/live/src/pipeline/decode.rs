//! Decode stage: payload → readings, or a dead letter with the decoder's reason. The topic
//! filter a message matched says its format (readings → station JSON, senml → SenML, hj212 →
//! HJ 212 frames); the decoder never panics, so bad input is only ever a value here.
//!
//! Every accepted payload is linked into its station's ingest chain (`seal::ingest`), whose
//! heads are checkpointed into the ledger about once a minute per station and when the stage
//! ends. Hashing happens here, off the store stage's path, and costs about a microsecond a
//! payload (see `benches/seal.rs`).

use super::{filter_matches, now_ms, Accepted, DeadLetter, Raw};
use crate::config::MqttConfig;
use crate::ledger::Ledger;
use crate::seal::ingest::IngestSeal;
use riverwatch_engine::decode::{decode, DecodeContext, Format};
use riverwatch_engine::time::{Millis, MINUTE};
use riverwatch_engine::Config;
use std::sync::Arc;
use tokio::sync::mpsc;
use tracing::{debug, error};

/// How far past its arrival a reading's time may lie (sender clock skew).
pub(crate) const MAX_FUTURE_SKEW: Millis = 10 * MINUTE;

/// Turns raw messages into readings.
pub(crate) struct DecodeStage {
    cfg: Arc<Config>,
    routes: Vec<(String, Format)>,
    seal: Option<(IngestSeal, Ledger)>,
}

impl DecodeStage {
    /// Decodes with `cfg`'s station network; formats by the topic filters in `mqtt`; chains
    /// accepted payloads into `seal`'s chains and checkpoints them into its ledger.
    pub fn new(cfg: Arc<Config>, mqtt: &MqttConfig, seal: Option<(IngestSeal, Ledger)>) -> Self {
        Self {
            cfg,
            seal,
            routes: vec![
                (mqtt.readings_topic.clone(), Format::Json),
                (mqtt.senml_topic.clone(), Format::Senml),
                (mqtt.hj212_topic.clone(), Format::Hj212),
            ],
        }
    }

    fn format_of(&self, topic: &str) -> Format {
        self.routes
            .iter()
            .find(|(f, _)| filter_matches(f, topic))
            .map_or(Format::Auto, |(_, fmt)| *fmt)
    }

    /// Checkpoints the chains that are due (`Some(now)`) or, at the end (`None`), all.
    async fn checkpoint(&mut self, now: Option<Millis>) {
        let Some((seal, ledger)) = &mut self.seal else {
            return;
        };
        let heads = match now {
            Some(t) => seal.due(t),
            None => seal.all(now_ms()),
        };
        if let Err(e) = ledger.checkpoint_ingest(heads).await {
            error!(error = %e, "ingest chain checkpoint not recorded");
        }
    }

    #[tracing::instrument(name = "decode", skip_all)]
    pub async fn run(
        mut self,
        mut rx: mpsc::Receiver<Raw>,
        tx: mpsc::Sender<Accepted>,
        dead: mpsc::Sender<DeadLetter>,
    ) {
        let every = self
            .seal
            .as_ref()
            .map_or(60_000, |(s, _)| s.every())
            .max(1000);
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(every as u64));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let raw = tokio::select! {
                raw = rx.recv() => raw,
                _ = tick.tick() => {
                    self.checkpoint(Some(now_ms())).await;
                    continue;
                }
            };
            let Some(raw) = raw else { break };
            let ctx = DecodeContext {
                stations: &self.cfg.stations,
                received: raw.received,
                max_future_skew: MAX_FUTURE_SKEW,
                accept_unknown_stations: false,
            };
            let format = self.format_of(&raw.topic);
            let sent = match decode(&raw.payload, Some(&raw.topic), format, &ctx) {
                Ok(d) => {
                    if let Some((seal, _)) = &mut self.seal {
                        let station = d.readings.first().map_or_else(
                            || raw.topic.rsplit('/').next().unwrap_or(""),
                            |r| r.station.as_str(),
                        );
                        seal.accept(station, raw.received, &raw.payload);
                        if seal.maybe_due(raw.received) {
                            self.checkpoint(Some(raw.received)).await;
                        }
                    }
                    if !d.item_errors.is_empty() {
                        debug!(topic = %raw.topic, skipped = ?d.item_errors, "items skipped");
                    }
                    tx.send(Accepted {
                        readings: d.readings,
                        at: raw.at,
                        ack: raw.ack,
                    })
                    .await
                    .is_ok()
                }
                Err(rejected) => dead.send(DeadLetter::rejected(raw, rejected)).await.is_ok(),
            };
            if !sent {
                break;
            }
        }
        self.checkpoint(None).await;
    }
}
