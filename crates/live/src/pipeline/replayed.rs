//! Publishing the leads of a replay (`riverwatch replay --publish`): the same broker, QoS 1 and
//! payload (the lead JSON) as the live service, on the live topic with one more level,
//! `<leads_topic_prefix>/<station>/replay`, so that a subscriber to the live topics
//! (`riverwatch/leads/+`) never takes a replayed lead for a live one, and one that wants both
//! subscribes to `riverwatch/leads/#` and tells them apart by the last level.
//!
//! Unlike the service's publisher this is a one-shot: its own clean-session connection, every
//! lead queued from a separate task while this one polls the event loop (queueing from inside
//! the poll loop could wait on itself), done when the broker has acknowledged each publication
//! or the deadline passes. Nothing is recorded in the ledger: replayed leads are not the live
//! service's.

use super::Outbound;
use crate::config::MqttConfig;
use crate::ingest::{options, TlsError};
use riverwatch_engine::Lead;
use rumqttc as mqtt;
use std::time::Duration;

/// The topic level after the station that marks a replayed lead.
pub const REPLAY_LEVEL: &str = "replay";

/// Why replayed leads were not all published.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The TLS set-up failed.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The broker could not be reached or dropped the connection.
    #[error("broker {broker}: {source} ({acked} of {total} leads acknowledged)")]
    Broker {
        /// `host:port`.
        broker: String,
        /// What the client reported.
        #[source]
        source: mqtt::ConnectionError,
        /// Publications acknowledged before it failed.
        acked: usize,
        /// Publications attempted.
        total: usize,
    },
    /// Not every publication was acknowledged in time.
    #[error("broker {broker}: {acked} of {total} leads acknowledged within {deadline:?}")]
    Timeout {
        /// `host:port`.
        broker: String,
        /// Publications acknowledged.
        acked: usize,
        /// Publications attempted.
        total: usize,
        /// The deadline.
        deadline: Duration,
    },
}

/// The topic and payload of a replayed lead.
pub fn replayed_message(prefix: &str, lead: &Lead) -> (String, Vec<u8>) {
    let o = Outbound::lead(prefix, lead);
    (format!("{}/{REPLAY_LEVEL}", o.topic), o.payload)
}

/// Publishes `leads` (QoS 1) on `<mqtt.leads_topic_prefix>/<station>/replay` through the
/// broker of `mqtt`, as client `<mqtt.client_id>-replay-<pid>`; returns how many the broker
/// acknowledged (all of them) once it has, or why not within `deadline`.
pub async fn publish_replayed(
    mqtt: &MqttConfig,
    leads: &[Lead],
    deadline: Duration,
) -> Result<usize, PublishError> {
    let total = leads.len();
    if total == 0 {
        return Ok(0);
    }
    let broker = format!("{}:{}", mqtt.host, mqtt.port);
    let id = format!("{}-replay-{}", mqtt.client_id, std::process::id());
    let (client, mut events) = mqtt::AsyncClient::new(options(mqtt, &id, true)?, 64);
    let messages: Vec<_> = leads
        .iter()
        .map(|l| replayed_message(&mqtt.leads_topic_prefix, l))
        .collect();
    let queue = client.clone();
    let sender = tokio::spawn(async move {
        for (topic, payload) in messages {
            if queue
                .publish(topic, mqtt::QoS::AtLeastOnce, false, payload)
                .await
                .is_err()
            {
                return; // the event loop is gone; the poll below reports why
            }
        }
    });
    let mut acked = 0;
    let outcome = tokio::time::timeout(deadline, async {
        while acked < total {
            match events.poll().await {
                Ok(mqtt::Event::Incoming(mqtt::Incoming::PubAck(_))) => acked += 1,
                Ok(_) => {}
                Err(source) => return Err(source),
            }
        }
        Ok(())
    })
    .await;
    sender.abort();
    match outcome {
        Ok(Ok(())) => {
            let _ = client.try_disconnect();
            let _ = tokio::time::timeout(Duration::from_secs(2), async {
                while let Ok(ev) = events.poll().await {
                    if matches!(ev, mqtt::Event::Outgoing(mqtt::Outgoing::Disconnect)) {
                        break;
                    }
                }
            })
            .await;
            Ok(acked)
        }
        Ok(Err(source)) => Err(PublishError::Broker {
            broker,
            source,
            acked,
            total,
        }),
        Err(_) => Err(PublishError::Timeout {
            broker,
            acked,
            total,
            deadline,
        }),
    }
}
