//! Publisher: the service's outgoing MQTT connection (leads and dead letters, QoS 1), and the
//! bookkeeping that marks a lead revision published only when the broker's PUBACK for its
//! packet arrives.
//!
//! rumqttc does not return the packet id of a publish, but its event loop reports
//! `Outgoing::Publish(pkid)` in the order requests were queued; this task is the only one
//! queueing on this connection, so a FIFO of what was queued pairs each new packet id with its
//! lead. After a reconnect rumqttc re-sends unacknowledged packets under their old ids; an id
//! already in flight is recognised as such a re-send. Queueing is `try_publish` with at most
//! half the request channel outstanding, so it never waits on the event loop it shares the task
//! with. A separate connection (client id `<id>-pub`, clean session) keeps these publishes
//! apart from the ingest connection's acks and its persistent session.

use super::now_ms;
use crate::backoff::Backoff;
use crate::ledger::Ledger;
use crate::metrics::Metrics;
use riverwatch_engine::Lead;
use rumqttc as mqtt;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::{debug, error, info, warn};

/// A message to publish at QoS 1.
#[derive(Debug)]
pub(crate) struct Outbound {
    pub topic: String,
    pub payload: Vec<u8>,
    /// The lead revision it carries, to mark published on PUBACK.
    pub lead: Option<(String, u32)>,
}

impl Outbound {
    /// A lead revision on `<prefix>/<station>`.
    pub fn lead(prefix: &str, lead: &Lead) -> Self {
        Self {
            topic: format!("{prefix}/{}", lead.station),
            // A Lead holds only finite numbers and strings; serialising it cannot fail.
            payload: serde_json::to_vec(lead).unwrap_or_default(),
            lead: Some((lead.id.clone(), lead.revision)),
        }
    }
}

/// The publishing connection and its in-flight bookkeeping.
pub(crate) struct Publisher {
    client: mqtt::AsyncClient,
    events: mqtt::EventLoop,
    capacity: usize,
    /// Queued, packet id not yet known, in queue order.
    queued: VecDeque<Option<(String, u32)>>,
    /// Sent, waiting for PUBACK.
    inflight: HashMap<u16, Option<(String, u32)>>,
    /// Unacknowledged revisions from the ledger, sent before anything new.
    backlog: VecDeque<Outbound>,
    ledger: Ledger,
    metrics: Arc<Metrics>,
}

impl Publisher {
    /// A publisher on its own connection; `backlog` is sent first.
    pub fn new(
        options: mqtt::MqttOptions,
        backlog: Vec<Outbound>,
        ledger: Ledger,
        metrics: Arc<Metrics>,
    ) -> Self {
        let capacity = 2 * options.inflight() as usize + 64;
        let (client, events) = mqtt::AsyncClient::new(options, capacity);
        Self {
            client,
            events,
            capacity,
            queued: VecDeque::new(),
            inflight: HashMap::new(),
            backlog: backlog.into(),
            ledger,
            metrics,
        }
    }

    fn idle(&self) -> bool {
        self.backlog.is_empty() && self.queued.is_empty() && self.inflight.is_empty()
    }

    /// Publishes until `rx` is closed and every publish is acknowledged.
    #[tracing::instrument(name = "publish", skip_all)]
    pub async fn run(mut self, mut rx: mpsc::Receiver<Outbound>) {
        let mut open = true;
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(30));
        loop {
            if !open && self.idle() {
                break;
            }
            let room = self.queued.len() < self.capacity / 2;
            if room {
                if let Some(ob) = self.backlog.pop_front() {
                    self.queue(ob);
                    continue;
                }
            }
            tokio::select! {
                ob = rx.recv(), if open && room => match ob {
                    Some(ob) => self.queue(ob),
                    None => open = false,
                },
                ev = self.events.poll() => match ev {
                    Ok(ev) => {
                        if matches!(ev, mqtt::Event::Incoming(mqtt::Incoming::ConnAck(_))) {
                            backoff.reset();
                            info!("mqtt publisher connected");
                        }
                        self.on_event(ev).await;
                    }
                    Err(e) => {
                        let delay = backoff.next_delay();
                        warn!(error = %e, retry_in = ?delay, pending = self.inflight.len() + self.queued.len(), "mqtt publisher connection lost");
                        tokio::time::sleep(delay).await;
                    }
                },
            }
        }
        let _ = self.client.try_disconnect();
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Ok(ev) = self.events.poll().await {
                if matches!(ev, mqtt::Event::Outgoing(mqtt::Outgoing::Disconnect)) {
                    break;
                }
            }
        })
        .await;
    }

    fn queue(&mut self, ob: Outbound) {
        match self
            .client
            .try_publish(&ob.topic, mqtt::QoS::AtLeastOnce, false, ob.payload)
        {
            Ok(()) => self.queued.push_back(ob.lead),
            // Cannot happen with the room check; a lead left unpublished is re-sent at start-up.
            Err(e) => error!(error = %e, topic = %ob.topic, "publish not queued"),
        }
    }

    async fn on_event(&mut self, ev: mqtt::Event) {
        match ev {
            mqtt::Event::Outgoing(mqtt::Outgoing::Publish(pkid)) if pkid != 0 => {
                if self.inflight.contains_key(&pkid) {
                    debug!(pkid, "re-sent after reconnect");
                } else if let Some(tag) = self.queued.pop_front() {
                    self.inflight.insert(pkid, tag);
                }
            }
            mqtt::Event::Incoming(mqtt::Incoming::PubAck(ack)) => {
                let Some(tag) = self.inflight.remove(&ack.pkid) else {
                    return;
                };
                let Some((id, revision)) = tag else { return };
                self.metrics.published.inc();
                if let Err(e) = self.ledger.mark_published(&id, revision, now_ms()).await {
                    // Stays unpublished in the ledger: re-sent (same id) at the next start.
                    error!(error = %e, lead = %id, revision, "publication not recorded");
                }
            }
            _ => {}
        }
    }
}
