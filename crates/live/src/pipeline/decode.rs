//! Decode stage: payload → readings, or a dead letter with the decoder's reason. The topic
//! filter a message matched says its format (readings → station JSON, senml → SenML, hj212 →
//! HJ 212 frames); the decoder never panics, so bad input is only ever a value here.

use super::{filter_matches, Accepted, DeadLetter, Raw};
use crate::config::MqttConfig;
use riverwatch_engine::decode::{decode, DecodeContext, Format};
use riverwatch_engine::time::{Millis, MINUTE};
use riverwatch_engine::Config;
use std::sync::Arc;
use tokio::sync::mpsc;
use tracing::debug;

/// How far past its arrival a reading's time may lie (sender clock skew).
const MAX_FUTURE_SKEW: Millis = 10 * MINUTE;

/// Turns raw messages into readings.
pub(crate) struct DecodeStage {
    cfg: Arc<Config>,
    routes: Vec<(String, Format)>,
}

impl DecodeStage {
    /// Decodes with `cfg`'s station network; formats by the topic filters in `mqtt`.
    pub fn new(cfg: Arc<Config>, mqtt: &MqttConfig) -> Self {
        Self {
            cfg,
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

    #[tracing::instrument(name = "decode", skip_all)]
    pub async fn run(
        self,
        mut rx: mpsc::Receiver<Raw>,
        tx: mpsc::Sender<Accepted>,
        dead: mpsc::Sender<DeadLetter>,
    ) {
        while let Some(raw) = rx.recv().await {
            let ctx = DecodeContext {
                stations: &self.cfg.stations,
                received: raw.received,
                max_future_skew: MAX_FUTURE_SKEW,
                accept_unknown_stations: false,
            };
            let format = self.format_of(&raw.topic);
            let sent = match decode(&raw.payload, Some(&raw.topic), format, &ctx) {
                Ok(d) => {
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
    }
}
