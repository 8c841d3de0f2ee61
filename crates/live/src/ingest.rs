//! The MQTT source: one persistent-session connection that subscribes to the input topics at
//! QoS 1 and hands every message to the pipeline, and the [`Acker`] that acknowledges a message
//! once the pipeline has made it durable (DESIGN.md, "Nothing is lost").
//!
//! Shaped by rumqttc's behaviour: `poll()` reconnects immediately, so errors wait a
//! [`Backoff`] step; a broker without our session (`session_present = false`) has no
//! subscriptions, so they are sent again on every such CONNACK; acks are queued on the client's
//! request channel, which is sized far above the broker's inflight window so an ack never waits
//! on the poll loop (awaiting the client inside the loop could deadlock). A full pipeline
//! channel stops the loop — that is the back-pressure that reaches the broker: it sends nothing
//! more once its inflight window is unacknowledged.
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
use std::sync::Arc;
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

/// Sends acks for the ingest connection. While any clone lives, the source keeps its
/// connection open at shutdown so those acks go out.
#[derive(Clone)]
pub struct Acker {
    client: mqtt::AsyncClient,
    _alive: mpsc::Sender<()>,
}

impl Acker {
    /// Acknowledges messages the pipeline has made durable (or dead-lettered).
    pub async fn ack(&self, acks: Vec<Ack>) {
        for a in acks {
            let mut p = mqtt::Publish::new("", a.qos, Vec::new());
            p.pkid = a.pkid;
            if let Err(e) = self.client.ack(&p).await {
                // Only when the event loop is gone: the broker redelivers to the next session.
                warn!(error = %e, pkid = a.pkid, "ack not queued");
            }
        }
    }
}

/// The MQTT source stage.
pub struct Source {
    client: mqtt::AsyncClient,
    events: mqtt::EventLoop,
    filters: Vec<String>,
    backoff: Backoff,
    health: Health,
    metrics: Arc<Metrics>,
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
        let mut o = options(cfg, &cfg.client_id, false)?;
        o.set_manual_acks(true);
        let (client, events) = mqtt::AsyncClient::new(o, REQUEST_CAPACITY);
        let (alive, ackers_gone) = mpsc::channel(1);
        let acker = Acker {
            client: client.clone(),
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
            ackers_gone,
        };
        Ok((source, acker))
    }

    /// Polls the connection until cancelled and drained; each message goes to `tx`.
    #[tracing::instrument(name = "ingest", skip_all)]
    pub async fn run(mut self, tx: mpsc::Sender<Raw>, cancel: CancellationToken) {
        let mut tx = Some(tx);
        loop {
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

    /// Sends DISCONNECT after the queued acks and waits (briefly) until it is written.
    async fn disconnect(mut self) {
        self.health.set_connected(false);
        if self.client.try_disconnect().is_err() {
            return;
        }
        let _ = tokio::time::timeout(DISCONNECT_WAIT, async {
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
