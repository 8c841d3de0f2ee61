//! `riverwatch bench forward`: the broker and InfluxDB together, without riverwatch — a plain
//! QoS 1 subscriber that decodes each station message and writes the readings to InfluxDB in
//! batches through the store's own client, the least any pipeline between the two must do.
//! Nothing more: no detection, no ledger, no ordering, and a message is acknowledged when it
//! arrives (rumqttc's automatic acks), before it is durable.
//!
//! Why: the broker-alone and InfluxDB-alone references are each measured with the machine to
//! themselves, but a pipeline runs both servers at once. On a small machine whose cores the two
//! servers fill between them, this forwarder's zero-loss rate is the ceiling any pipeline can
//! reach there; `scripts/bench-e2e.sh` runs its rate ladder beside riverwatch's.

use anyhow::{Context, Result};
use riverwatch_engine::config::Config;
use riverwatch_engine::decode::{decode, DecodeContext, Format};
use riverwatch_engine::time::MINUTE;
use riverwatch_engine::Reading;
use riverwatch_live::pipeline::now_ms;
use riverwatch_live::store::{InfluxOpts, InfluxStore, ReadingStore};
use rumqttc as mqtt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// A batch smaller than `--batch` is written after this long.
const FLUSH: Duration = Duration::from_millis(100);
/// Wait before writing a batch again that InfluxDB refused or did not answer.
const RETRY: Duration = Duration::from_millis(200);

/// `bench forward` options.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    sub: super::bench::Subscription,
    /// InfluxDB base URL.
    #[arg(long)]
    url: reqwest::Url,
    /// Database (must exist).
    #[arg(long)]
    db: String,
    /// Config directory whose stations the messages come from.
    #[arg(long, default_value = "config")]
    config: PathBuf,
    /// Readings per write request.
    #[arg(long, default_value_t = 5_000)]
    batch: usize,
    /// Write requests in flight at once.
    #[arg(long, default_value_t = 2)]
    writes: usize,
    /// Created once the subscription is acknowledged (the publisher may start).
    #[arg(long)]
    ready_file: Option<PathBuf>,
}

/// Forwards until the process is stopped.
pub async fn run(a: Args) -> Result<()> {
    let cfg = Config::load_dir(&a.config)?;
    let store = InfluxStore::new(InfluxOpts {
        max_lines: a.batch.max(1),
        ..InfluxOpts::new(a.url, &a.db)
    })?;
    let (_client, mut events) = a.sub.connect("riverwatch-bench-forward").await?;
    let slots = Arc::new(Semaphore::new(a.writes.max(1)));
    let mut batch = Vec::with_capacity(a.batch);
    let mut flush = tokio::time::interval(FLUSH);
    loop {
        let full = tokio::select! {
            ev = events.poll() => {
                take(ev.context("broker connection")?, &cfg, a.ready_file.as_deref(), &mut batch)?;
                batch.len() >= a.batch
            }
            _ = flush.tick() => !batch.is_empty(),
        };
        if full {
            let permit = Arc::clone(&slots).acquire_owned().await?;
            let readings = std::mem::replace(&mut batch, Vec::with_capacity(a.batch));
            let store = store.clone();
            tokio::spawn(async move {
                write_until_done(&store, &readings).await;
                drop(permit);
            });
        }
    }
}

/// Adds a message's readings to `batch`; on the subscription's ack, creates `ready_file`.
fn take(
    ev: mqtt::Event,
    cfg: &Config,
    ready_file: Option<&Path>,
    batch: &mut Vec<Reading>,
) -> Result<()> {
    match ev {
        mqtt::Event::Incoming(mqtt::Incoming::SubAck(_)) => {
            if let Some(f) = ready_file {
                std::fs::write(f, b"subscribed\n")
                    .with_context(|| format!("writing {}", f.display()))?;
            }
        }
        mqtt::Event::Incoming(mqtt::Incoming::Publish(p)) => {
            let ctx = DecodeContext {
                stations: &cfg.stations,
                received: now_ms(),
                max_future_skew: 10 * MINUTE,
                accept_unknown_stations: false,
            };
            match decode(&p.payload, Some(&p.topic), Format::Auto, &ctx) {
                Ok(d) => batch.extend(d.readings),
                Err(e) => eprintln!("bench forward: {}: {e}", p.topic),
            }
        }
        _ => {}
    }
    Ok(())
}

/// Writes `readings`, again and again until InfluxDB takes them.
async fn write_until_done(store: &InfluxStore, readings: &[Reading]) {
    while let Err(e) = store.write(readings).await {
        eprintln!(
            "bench forward: {} readings not written: {e}",
            readings.len()
        );
        tokio::time::sleep(RETRY).await;
    }
}
