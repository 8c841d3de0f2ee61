//! `riverwatch bench …`: the load generator and the reference measurements that
//! `scripts/bench-e2e.sh` drives — a paced QoS 1 publisher of simulated station JSON, a plain
//! QoS 1 subscriber that only counts (the broker alone), and direct batched line-protocol
//! writes (InfluxDB alone). Each prints one JSON line on stdout for the script to read.
//!
//! The publisher draws its messages from the river simulator (scenario `typical`: injected
//! discharges, so the engine finds leads and the ingest→lead latency can be measured), one
//! message per station and 5-minute tick holding the five probe parameters, with timestamps
//! ending now: every station's series is consecutive and the decoder's time check passes.
//! Messages are generated while publishing (the simulator makes millions of readings per
//! second, far above any broker's rate) and paced in 5 ms slices against the wall clock.

use crate::cmd::run::runtime;
use anyhow::{bail, Context, Result};
use riverwatch_engine::config::Config;
use riverwatch_engine::sim::{Scenario, SimOptions, SimReading, Simulator};
use riverwatch_engine::time::{Millis, Rfc3339, MINUTE};
use riverwatch_engine::{DataFlag, ParamId, Reading, StationId};
use riverwatch_live::store::{gzip, line_protocol};
use rumqttc as mqtt;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Probe cadence of the simulated stations.
const TICK: Millis = 5 * MINUTE;
/// Publishing is paced in slices this long.
const SLICE: Duration = Duration::from_millis(5);
/// How long the publisher waits for the PUBACKs of what it sent.
const ACK_WAIT: Duration = Duration::from_secs(60);

/// `bench` options.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Publish simulated station JSON (5 parameters per message) at QoS 1 at a fixed rate.
    Publish(PublishArgs),
    /// Subscribe at QoS 1 and count messages until `--expect` arrived or `--idle` passed.
    Sink(SinkArgs),
    /// Write `--points` readings to InfluxDB as line protocol in batches, one request at a time.
    InfluxWrite(InfluxArgs),
    /// Forward station messages from the broker to InfluxDB and nothing else (no riverwatch):
    /// what the two servers allow together, for the end-to-end ladder.
    Forward(super::bench_forward::Args),
    /// Write a readings CSV into a SQLite reading store, in batches (a replay window to read).
    SqliteLoad(super::store_load::Args),
    /// Write a readings CSV into an InfluxDB database, in batches (a replay window to read).
    InfluxLoad(super::store_load::InfluxArgs),
}

#[derive(clap::Args)]
struct PublishArgs {
    /// Broker host.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Broker port.
    #[arg(long)]
    port: u16,
    /// Messages to publish.
    #[arg(long)]
    messages: u64,
    /// Messages per second; 0: as fast as the broker takes them.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Config directory whose stations the messages come from.
    #[arg(long, default_value = "config")]
    config: PathBuf,
    /// Simulator seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Topic prefix; the station id is the last level.
    #[arg(long, default_value = "riverwatch/readings")]
    topic: String,
    /// MQTT client id.
    #[arg(long, default_value = "riverwatch-bench-pub")]
    client_id: String,
}

/// Where a bench subscriber connects and what it subscribes to.
#[derive(clap::Args)]
pub struct Subscription {
    /// Broker host.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Broker port.
    #[arg(long)]
    port: u16,
    /// Topic filter.
    #[arg(long, default_value = "riverwatch/readings/+")]
    topic: String,
}

impl Subscription {
    /// A client named `{name}-{pid}` that subscribed at QoS 1; the SUBACK comes through its
    /// event loop.
    pub async fn connect(&self, name: &str) -> Result<(mqtt::AsyncClient, mqtt::EventLoop)> {
        let id = format!("{name}-{}", std::process::id());
        let mut o = mqtt::MqttOptions::new(id, &self.host, self.port);
        o.set_keep_alive(Duration::from_secs(30))
            .set_max_packet_size(1 << 20, 1 << 20);
        let (client, events) = mqtt::AsyncClient::new(o, 10_000);
        client
            .subscribe(&self.topic, mqtt::QoS::AtLeastOnce)
            .await
            .context("subscribe")?;
        Ok((client, events))
    }
}

#[derive(clap::Args)]
struct SinkArgs {
    #[command(flatten)]
    sub: Subscription,
    /// Stop once this many messages arrived.
    #[arg(long)]
    expect: u64,
    /// Stop when nothing arrived for this many seconds (after the first message).
    #[arg(long, default_value_t = 5.0)]
    idle: f64,
    /// Created once the subscription is acknowledged (the publisher may start).
    #[arg(long)]
    ready_file: PathBuf,
}

#[derive(clap::Args)]
struct InfluxArgs {
    /// InfluxDB base URL.
    #[arg(long)]
    url: String,
    /// Database (created if missing).
    #[arg(long)]
    db: String,
    /// Readings to write, one point each (riverwatch's schema).
    #[arg(long, default_value_t = 500_000)]
    points: usize,
    /// Points per write request.
    #[arg(long, default_value_t = 5000)]
    batch: usize,
    /// Gzip each request body (compressed before the clock starts: only InfluxDB's side counts).
    #[arg(long)]
    gzip: bool,
}

/// Runs `bench`.
pub fn run(args: Args) -> Result<ExitCode> {
    let rt = runtime()?;
    match args.command {
        Command::Publish(a) => rt.block_on(publish(a)),
        Command::Sink(a) => rt.block_on(sink(a)),
        Command::InfluxWrite(a) => rt.block_on(influx_write(a)),
        Command::Forward(a) => rt.block_on(super::bench_forward::run(a)),
        Command::SqliteLoad(a) => rt.block_on(super::store_load::run(a)),
        Command::InfluxLoad(a) => rt.block_on(super::store_load::run_influx(a)),
    }?;
    Ok(ExitCode::SUCCESS)
}

/// Simulated station messages, one per station and tick, in time order.
struct Messages {
    sim: Simulator,
    tick: Vec<SimReading>,
    next: usize,
    time: Millis,
}

impl Messages {
    /// Enough ticks for `messages` messages over `cfg`'s stations, ending now.
    fn new(cfg: &Config, seed: u64, messages: u64) -> Result<Self> {
        let stations = cfg.stations.list.len().max(1) as u64;
        let ticks = messages.div_ceil(stations) + 1;
        let now = riverwatch_live::pipeline::now_ms();
        let span = ticks as Millis * TICK;
        let start = (now - span) / TICK * TICK;
        let opts = SimOptions::new(Scenario::Typical, seed, start, span);
        let sim = Simulator::new(&cfg.stations, &cfg.gb3838, opts)?;
        Ok(Self {
            sim,
            tick: Vec::new(),
            next: 0,
            time: 0,
        })
    }

    /// Writes the next message into `payload`; returns its station and reading count, or `None`
    /// at the end of the simulated period.
    fn next(&mut self, payload: &mut String) -> Option<(StationId, usize)> {
        loop {
            if self.next >= self.tick.len() {
                self.time = self.sim.next_tick(&mut self.tick)?;
                self.next = 0;
            }
            let station = self.tick[self.next].station;
            let end = self.tick[self.next..]
                .iter()
                .position(|r| r.station != station)
                .map_or(self.tick.len(), |k| self.next + k);
            let readings = &self.tick[self.next..end];
            self.next = end;
            let id = self.sim.station_ids()[station].clone();
            payload.clear();
            let _ = write!(
                payload,
                "{{\"station\":\"{id}\",\"time\":\"{}\",\"values\":{{",
                Rfc3339(self.time)
            );
            let mut n = 0;
            for r in readings.iter().filter(|r| r.param.is_probe()) {
                let sep = if n == 0 { "" } else { "," };
                let _ = write!(payload, "{sep}\"{}\":{}", r.param.id(), r.value);
                n += 1;
            }
            payload.push_str("}}");
            if n > 0 {
                return Some((id, n));
            }
        }
    }
}

async fn publish(a: PublishArgs) -> Result<()> {
    let cfg = Config::load_dir(&a.config)?;
    let mut msgs = Messages::new(&cfg, a.seed, a.messages)?;
    let mut o = mqtt::MqttOptions::new(&a.client_id, &a.host, a.port);
    o.set_inflight(1000)
        .set_keep_alive(Duration::from_secs(30))
        .set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut events) = mqtt::AsyncClient::new(o, 10_000);
    let (acked_tx, mut acked) = tokio::sync::watch::channel(0u64);
    let pump = tokio::spawn(async move {
        let mut n = 0u64;
        loop {
            match events.poll().await {
                Ok(mqtt::Event::Incoming(mqtt::Incoming::PubAck(_))) => {
                    n += 1;
                    let _ = acked_tx.send(n);
                }
                Ok(_) => {}
                Err(e) => {
                    eprintln!("bench publish: connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
    let (mut sent, mut readings, mut exhausted) = (0u64, 0u64, false);
    let mut payload = String::new();
    let start = Instant::now();
    while sent < a.messages && !exhausted {
        let due = if a.rate > 0.0 {
            ((start.elapsed() + SLICE).as_secs_f64() * a.rate) as u64
        } else {
            u64::MAX
        };
        while sent < a.messages.min(due) {
            let Some((id, n)) = msgs.next(&mut payload) else {
                exhausted = true;
                break;
            };
            let topic = format!("{}/{id}", a.topic);
            client
                .publish(topic, mqtt::QoS::AtLeastOnce, false, payload.as_bytes())
                .await
                .context("publish")?;
            sent += 1;
            readings += n as u64;
        }
        if sent < a.messages && a.rate > 0.0 {
            let next = Duration::from_secs_f64(sent as f64 / a.rate);
            tokio::time::sleep(next.saturating_sub(start.elapsed())).await;
        }
    }
    let published = start.elapsed().as_secs_f64();
    let waited = tokio::time::timeout(ACK_WAIT, acked.wait_for(|n| *n >= sent))
        .await
        .map(|_| ());
    let all_acked = start.elapsed().as_secs_f64();
    let acks = *acked.borrow();
    let _ = client.disconnect().await;
    pump.abort();
    println!(
        "{}",
        serde_json::json!({
            "messages": sent,
            "readings": readings,
            "acked": acks,
            "publish_seconds": published,
            "acked_seconds": all_acked,
            "rate": sent as f64 / published,
            "acked_rate": acks as f64 / all_acked,
            "cpu_seconds": own_cpu_seconds(),
        })
    );
    if waited.is_err() {
        bail!("only {acks} of {sent} messages acknowledged within {ACK_WAIT:?}");
    }
    Ok(())
}

async fn sink(a: SinkArgs) -> Result<()> {
    let (_client, mut events) = a.sub.connect("riverwatch-bench-sink").await?;
    let idle = Duration::from_secs_f64(a.idle);
    let (mut n, mut first, mut last) = (0u64, None, Instant::now());
    while n < a.expect {
        let wait = if first.is_some() {
            idle
        } else {
            Duration::from_secs(600)
        };
        let ev = match tokio::time::timeout(wait, events.poll()).await {
            Err(_) => break,
            Ok(ev) => ev.context("sink connection")?,
        };
        match ev {
            mqtt::Event::Incoming(mqtt::Incoming::SubAck(_)) => {
                std::fs::write(&a.ready_file, b"subscribed\n")?;
            }
            mqtt::Event::Incoming(mqtt::Incoming::Publish(_)) => {
                n += 1;
                last = Instant::now();
                first.get_or_insert(last);
            }
            _ => {}
        }
    }
    let seconds = first.map_or(0.0, |f| (last - f).as_secs_f64());
    println!(
        "{}",
        serde_json::json!({
            "messages": n,
            "seconds": seconds,
            "rate": n as f64 / seconds.max(1e-9),
            "cpu_seconds": own_cpu_seconds(),
        })
    );
    Ok(())
}

async fn influx_write(a: InfluxArgs) -> Result<()> {
    let http = reqwest::Client::new();
    let base = a.url.trim_end_matches('/');
    let q = format!("CREATE DATABASE \"{}\"", a.db);
    http.post(format!("{base}/query"))
        .form(&[("q", q.as_str())])
        .send()
        .await?
        .error_for_status()?;
    // Five parameters per station and time, like the publisher's messages.
    let params = ["temp", "ph", "do", "cond", "turb"].map(ParamId::new);
    let stations: Vec<StationId> = (1..=14)
        .map(|i| StationId::new(&format!("S{i:02}")))
        .collect();
    let t0 = riverwatch_live::pipeline::now_ms() - (a.points as Millis / 70 + 1) * TICK;
    let bodies: Vec<Vec<u8>> = (0..a.points)
        .collect::<Vec<_>>()
        .chunks(a.batch.max(1))
        .map(|chunk| {
            let mut body = String::new();
            for &i in chunk {
                let r = Reading {
                    station: stations[(i / 5) % 14].clone(),
                    parameter: params[i % 5].clone(),
                    time: t0 + (i / 70) as Millis * TICK,
                    value: 7.0 + (i % 97) as f64 / 100.0,
                    flag: DataFlag::N,
                };
                line_protocol::encode(&r, &mut body).map_err(anyhow::Error::msg)?;
                body.push('\n');
            }
            Ok(if a.gzip {
                gzip(body.as_bytes())
            } else {
                body.into_bytes()
            })
        })
        .collect::<Result<_>>()?;
    let url = format!("{base}/write?db={}&precision=ms", a.db);
    let start = Instant::now();
    for body in bodies {
        let mut req = http.post(&url);
        if a.gzip {
            req = req.header(reqwest::header::CONTENT_ENCODING, "gzip");
        }
        let resp = req.body(body).send().await?;
        if !resp.status().is_success() {
            bail!("write: {} {}", resp.status(), resp.text().await?);
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({"points": a.points, "seconds": seconds, "rate": a.points as f64 / seconds})
    );
    Ok(())
}

/// User + system CPU seconds this process used so far (`/proc/self/stat`, in USER_HZ = 100
/// ticks per second, which Linux fixes on every architecture it reports them for); 0 when
/// unreadable.
fn own_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    f.iter().sum::<f64>() / 100.0
}
