//! The MQTT source: one persistent-session connection that subscribes to the input topics at
//! QoS 1 and hands every message to the pipeline, and the [`Acker`] that acknowledges a message
//! once the pipeline has made it durable (DESIGN.md, "Nothing is lost").
//!
//! Shaped by rumqttc's behaviour: `poll()` reconnects immediately, so errors wait a
//! [`Backoff`] step; a broker without our session (`session_present = false`) has no
//! subscriptions, so they are sent again on every such CONNACK. A full pipeline channel stops
//! the loop — that is the back-pressure that reaches the broker.
//!
//! Acks never wait on the poll loop. rumqttc writes one queued request per turn of its loop
//! but reads up to ten messages per turn, so under load acks fall behind and its request
//! channel fills; an ack that waited for room there would hold the store stage, hence the
//! pipeline, hence this loop — which is the only thing that makes room (issue 6: intake stopped
//! for good at ~80,000 messages). So the [`Acker`] queues what does not fit in a shared
//! overflow, in order, and this loop moves the overflow into the client on every turn.
//!
//! Shutdown: on cancel the source stops handing messages on (those still arriving stay
//! unacknowledged and the broker redelivers them to the next session), but keeps polling so the
//! acks of the messages already in the pipeline reach the broker; once every [`Acker`] is gone
//! it disconnects.

use crate::backoff::Backoff;
use crate::config::MqttConfig;
use crate::health::Health;
use crate::metrics::Metrics;
use crate::pipeline::{now_ms, Raw};
use rumqttc as mqtt;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// Requests (mostly acks) the client may queue before the poll loop takes them.
const REQUEST_CAPACITY: usize = 65_536;
/// How long a clean disconnect may take at shutdown.
const DISCONNECT_WAIT: Duration = Duration::from_secs(2);

/// The MQTT connection could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("mqtt CA file {path}: {source}")]
pub struct TlsError {
    /// CA file.
    pub path: String,
    /// Cause.
    #[source]
    pub source: std::io::Error,
}

/// Client options for `client_id` from the config: credentials, keep-alive, inflight window,
/// TLS (rustls, trusting the configured CA) and the session kind.
pub(crate) fn options(
    cfg: &MqttConfig,
    client_id: &str,
    clean_session: bool,
) -> Result<mqtt::MqttOptions, TlsError> {
    let mut o = mqtt::MqttOptions::new(client_id, &cfg.host, cfg.port);
    o.set_keep_alive(cfg.keep_alive)
        .set_clean_session(clean_session)
        .set_inflight(cfg.inflight.get())
        .set_max_packet_size(1 << 20, 1 << 20);
    if let Some(user) = &cfg.username {
        let pass = cfg.password.as_ref().map(|p| p.expose()).unwrap_or("");
        o.set_credentials(user, pass);
    }
    if let Some(ca) = &cfg.tls_ca {
        let pem = std::fs::read(ca).map_err(|source| TlsError {
            path: ca.display().to_string(),
            source,
        })?;
        o.set_transport(mqtt::Transport::tls_with_config(
            mqtt::TlsConfiguration::Simple {
                ca: pem,
                alpn: None,
                client_auth: None,
            },
        ));
    }
    Ok(o)
}

/// What acknowledging one message needs: its packet id and QoS (QoS 0 needs nothing).
#[derive(Debug, Clone, Copy)]
pub struct Ack {
    pkid: u16,
    qos: mqtt::QoS,
}

impl Ack {
    fn of(p: &mqtt::Publish) -> Self {
        Self {
            pkid: p.pkid,
            qos: p.qos,
        }
    }
}

/// Acks that did not fit in the client's request channel yet, oldest first.
type Overflow = Arc<Mutex<VecDeque<Ack>>>;

/// Sends acks for the ingest connection. While any clone lives, the source keeps its
/// connection open at shutdown so those acks go out.
#[derive(Clone)]
pub struct Acker {
    client: mqtt::AsyncClient,
    overflow: Overflow,
    _alive: mpsc::Sender<()>,
}

impl Acker {
    /// Acknowledges messages the pipeline has made durable (or dead-lettered), in order.
    /// Never waits: what the client cannot take now, the source hands it later.
    pub fn ack(&self, acks: impl IntoIterator<Item = Ack>) {
        let mut waiting = self.overflow.lock().unwrap_or_else(|e| e.into_inner());
        waiting.extend(acks);
        hand_over(&self.client, &mut waiting);
    }
}

#[cfg(test)]
impl Acker {
    /// An acker whose acks land in `requests`, where a test reads them.
    pub(crate) fn into_channel(requests: flume::Sender<mqtt::Request>) -> Self {
        Self {
            client: mqtt::AsyncClient::from_senders(requests),
            overflow: Overflow::default(),
            _alive: mpsc::channel(1).0,
        }
    }
}

#[cfg(test)]
impl Ack {
    /// The ack of QoS 1 packet `pkid`.
    pub(crate) fn qos1(pkid: u16) -> Self {
        Self {
            pkid,
            qos: mqtt::QoS::AtLeastOnce,
        }
    }
}

/// Moves waiting acks into the client's request channel until it is full; how many wait still.
fn hand_over(client: &mqtt::AsyncClient, waiting: &mut VecDeque<Ack>) -> usize {
    while let Some(a) = waiting.front() {
        let mut p = mqtt::Publish::new("", a.qos, Vec::new());
        p.pkid = a.pkid;
        if client.try_ack(&p).is_err() {
            break;
        }
        waiting.pop_front();
    }
    waiting.len()
}

/// The MQTT source stage.
pub struct Source {
    client: mqtt::AsyncClient,
    events: mqtt::EventLoop,
    filters: Vec<String>,
    backoff: Backoff,
    health: Health,
    metrics: Arc<Metrics>,
    overflow: Overflow,
    ackers_gone: mpsc::Receiver<()>,
}

impl Source {
    /// A source subscribing to `cfg`'s input topics with a persistent session, and the
    /// [`Acker`] for its messages. Nothing connects until [`Source::run`].
    pub fn new(
        cfg: &MqttConfig,
        health: Health,
        metrics: Arc<Metrics>,
    ) -> Result<(Self, Acker), TlsError> {
        Self::with_capacity(cfg, health, metrics, REQUEST_CAPACITY)
    }

    /// [`Source::new`] with `capacity` requests (acks) queued on the client at most.
    fn with_capacity(
        cfg: &MqttConfig,
        health: Health,
        metrics: Arc<Metrics>,
        capacity: usize,
    ) -> Result<(Self, Acker), TlsError> {
        let mut o = options(cfg, &cfg.client_id, false)?;
        o.set_manual_acks(true);
        let (client, events) = mqtt::AsyncClient::new(o, capacity);
        let (alive, ackers_gone) = mpsc::channel(1);
        let overflow = Overflow::default();
        let acker = Acker {
            client: client.clone(),
            overflow: Arc::clone(&overflow),
            _alive: alive,
        };
        let source = Self {
            client,
            events,
            filters: vec![
                cfg.readings_topic.clone(),
                cfg.senml_topic.clone(),
                cfg.hj212_topic.clone(),
            ],
            backoff: Backoff::new(Duration::from_millis(100), Duration::from_secs(30)),
            health,
            metrics,
            overflow,
            ackers_gone,
        };
        Ok((source, acker))
    }

    /// Polls the connection until cancelled and drained; each message goes to `tx`.
    #[tracing::instrument(name = "ingest", skip_all)]
    pub async fn run(mut self, tx: mpsc::Sender<Raw>, cancel: CancellationToken) {
        let mut tx = Some(tx);
        loop {
            self.hand_over_acks();
            let ev = tokio::select! {
                biased;
                _ = cancel.cancelled(), if tx.is_some() => {
                    info!("intake stopped");
                    tx = None;
                    continue;
                }
                _ = self.ackers_gone.recv() => break,
                ev = self.events.poll() => ev,
            };
            match ev {
                Ok(mqtt::Event::Incoming(mqtt::Incoming::ConnAck(a))) => {
                    self.backoff.reset();
                    info!(session_present = a.session_present, "mqtt connected");
                    // Connected means receiving: with no session on the broker, only once the
                    // subscription is acknowledged (a message published before would be lost).
                    if a.session_present {
                        self.health.set_connected(true);
                    } else {
                        self.subscribe();
                    }
                }
                Ok(mqtt::Event::Incoming(mqtt::Incoming::Publish(p))) => {
                    let Some(sender) = &tx else {
                        // Shutting down: left unacknowledged, redelivered to the next session.
                        continue;
                    };
                    self.metrics.received.inc();
                    let raw = Raw {
                        topic: p.topic.clone(),
                        payload: p.payload.to_vec(),
                        received: now_ms(),
                        at: Instant::now(),
                        ack: Ack::of(&p),
                    };
                    tokio::select! {
                        sent = sender.send(raw) => if sent.is_err() { tx = None },
                        _ = cancel.cancelled() => {}
                    }
                }
                Ok(mqtt::Event::Incoming(mqtt::Incoming::SubAck(s))) => {
                    debug!(codes = ?s.return_codes, "subscribed");
                    self.health.set_connected(true);
                }
                Ok(_) => {}
                Err(e) => {
                    self.health.set_connected(false);
                    let delay = self.backoff.next_delay();
                    warn!(error = %e, retry_in = ?delay, "mqtt connection lost");
                    tokio::select! {
                        _ = self.ackers_gone.recv() => break,
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
        self.disconnect().await;
    }

    /// Moves acks the [`Acker`] could not queue into the client; how many wait still.
    fn hand_over_acks(&self) -> usize {
        let mut waiting = self.overflow.lock().unwrap_or_else(|e| e.into_inner());
        hand_over(&self.client, &mut waiting)
    }

    /// Subscribes to every input filter at QoS 1 (queued: never awaits the event loop).
    fn subscribe(&self) {
        let subs = self
            .filters
            .iter()
            .map(|f| mqtt::SubscribeFilter::new(f.clone(), mqtt::QoS::AtLeastOnce));
        if let Err(e) = self.client.try_subscribe_many(subs) {
            warn!(error = %e, "subscribe not queued");
        }
    }

    /// Sends DISCONNECT after every ack and waits (briefly) until it is written.
    async fn disconnect(mut self) {
        self.health.set_connected(false);
        let _ = tokio::time::timeout(DISCONNECT_WAIT, async {
            while self.hand_over_acks() > 0 {
                if self.events.poll().await.is_err() {
                    break;
                }
            }
            if self.client.try_disconnect().is_err() {
                return;
            }
            loop {
                match self.events.poll().await {
                    Ok(mqtt::Event::Outgoing(mqtt::Outgoing::Disconnect)) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        })
        .await;
        info!("mqtt disconnected");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ServiceConfig;
    use riverwatch_testkit::{unique_name, Mosquitto};

    /// The store stage acks a whole batch at once. While an ack waited for room in the
    /// client's request channel, a batch larger than that room stopped intake for good: the
    /// acking stage held the pipeline, the pipeline held the poll loop, and only the poll loop
    /// makes room. Here the channel holds 4 requests and acks go out 10 at a time.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn acks_in_batches_larger_than_the_request_channel_never_stall_intake() {
        const MESSAGES: usize = 300;
        let broker = Mosquitto::start();
        let mut cfg = ServiceConfig::embedded().unwrap().mqtt;
        cfg.port = broker.port;
        cfg.client_id = unique_name("rw-ingest");
        let health = Health::default();
        let (source, acker) =
            Source::with_capacity(&cfg, health.clone(), Arc::new(Metrics::new()), 4).unwrap();
        let (tx, mut rx) = mpsc::channel(1);
        let cancel = CancellationToken::new();
        let intake = tokio::spawn(source.run(tx, cancel.clone()));

        let pub_opts = options(&cfg, &unique_name("rw-pub"), true).unwrap();
        let (publisher, mut pub_events) = mqtt::AsyncClient::new(pub_opts, 1024);
        tokio::spawn(async move { while pub_events.poll().await.is_ok() {} });
        // Publish only once the source's subscription is in place (its session is new).
        let subscribed = riverwatch_testkit::eventually_async(Duration::from_secs(10), || async {
            health.snapshot().ingest_connected.then_some(())
        })
        .await;
        assert!(subscribed.is_some(), "the source never subscribed");
        for i in 0..MESSAGES {
            publisher
                .publish(
                    "riverwatch/readings/DL01",
                    mqtt::QoS::AtLeastOnce,
                    false,
                    i.to_string(),
                )
                .await
                .unwrap();
        }

        let mut batch = Vec::new();
        let mut received = std::collections::BTreeSet::new();
        let done = tokio::time::timeout(Duration::from_secs(30), async {
            while received.len() < MESSAGES {
                let Some(raw) = rx.recv().await else { break };
                received.insert(String::from_utf8_lossy(&raw.payload).to_string());
                batch.push(raw.ack);
                if batch.len() == 10 {
                    acker.ack(batch.drain(..));
                }
            }
        })
        .await;
        assert!(
            done.is_ok(),
            "intake stalled after {} of {MESSAGES} messages",
            received.len()
        );
        assert_eq!(received.len(), MESSAGES);
        cancel.cancel();
        drop(acker);
        intake.await.unwrap();
    }
}
