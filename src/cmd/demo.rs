//! `riverwatch demo`: the whole live service in one process with nothing to install — an
//! embedded MQTT broker (rumqttd) on a free loopback port, the SQLite store and ledger under a
//! data directory, and the river simulator publishing the Dongliao network at accelerated time
//! (scenario `typical`, with injected pollution events) through the same `run` service. Each
//! lead revision is printed as it appears.
//!
//! The simulator publishes the way real stations would: a third of the stations as station
//! JSON, a third as SenML, a third as HJ 212-2017 frames (on `…/hj212/{MN}`), QoS 1. Simulated
//! time runs from `--days` ago up to now (readings from the future would be refused as bad
//! times), one 5-minute step every `300 / speed` seconds.

use crate::cmd::run::{runtime, serve};
use anyhow::{bail, Context, Result};
use riverwatch_engine::config::{Config, Station};
use riverwatch_engine::decode::encode_hj212_frame;
use riverwatch_engine::sim::{Scenario, SimOptions, SimReading, Simulator};
use riverwatch_engine::time::{Millis, Rfc3339, DAY};
use riverwatch_engine::{params, Category, DataFlag, Lead};
use riverwatch_live::config::{ServiceConfig, ENV_API_TOKEN};
use riverwatch_live::Secret;
use riverwatch_live::{Service, ServiceHandle};
use rumqttc as mqtt;
use serde_json::{json, Map};
use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Seed of the simulated river (fixed: the demo tells the same story every time).
const SEED: u64 = 7;

/// `demo` options.
#[derive(clap::Args)]
pub struct Args {
    /// Where the SQLite store, ledger and spool go; a temporary directory (removed at exit)
    /// when absent.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Simulated seconds per real second (60000: a 5-minute step every 5 ms).
    #[arg(long, default_value_t = 60_000.0)]
    speed: f64,
    /// HTTP port of the web page and API.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Days of simulated history to play, ending now.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=365))]
    days: u32,
}

/// Runs `demo`.
pub fn run(args: Args) -> Result<ExitCode> {
    if !(args.speed.is_finite() && args.speed > 0.0) {
        bail!("--speed must be a positive number");
    }
    let temp;
    let data_dir = match &args.data_dir {
        Some(d) => d.clone(),
        None => {
            temp = tempfile::Builder::new()
                .prefix("riverwatch-demo")
                .tempdir()
                .context("cannot create a temporary data directory")?;
            temp.path().to_path_buf()
        }
    };
    let broker_port = free_port()?;
    start_broker(broker_port)?;
    let cfg = demo_config(&data_dir, broker_port, args.port)?;
    let engine = Config::embedded();
    let http = cfg.http.clone();
    runtime()?.block_on(async move {
        let mut service = Service::start(cfg, engine.clone(), None).await?;
        let step = Duration::from_secs_f64(300.0 / args.speed);
        let cancel = service.cancel_token();
        service.spawn(
            "simulator",
            simulate(
                engine.clone(),
                broker_port,
                step,
                i64::from(args.days) * DAY,
                cancel.clone(),
            ),
        );
        service.spawn("lead printer", print_leads(service.handle(), cancel));
        println!("riverwatch demo: data in {}", data_dir.display());
        println!("web page: http://127.0.0.1:{}/", args.port);
        println!("leads as they appear (Ctrl-C to stop):");
        serve(service, &http).await
    })
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The shipped service config with everything under `data_dir`, the embedded broker, a short
/// flush interval (leads show up quickly), a short replay window, and the API token of
/// `RIVERWATCH_API_TOKEN` when set.
fn demo_config(data_dir: &Path, broker_port: u16, http_port: u16) -> Result<ServiceConfig> {
    let mut c = ServiceConfig::local(data_dir, broker_port)?;
    c.mqtt.client_id = "riverwatch-demo".into();
    c.http.listen = SocketAddr::from(([127, 0, 0, 1], http_port));
    // As `run`: analysts' status changes (the web page's buttons) need the token from the
    // environment; without it they are refused.
    c.http.api_token = std::env::var(ENV_API_TOKEN)
        .ok()
        .filter(|t| !t.is_empty())
        .map(Secret::new);
    Ok(c)
}

/// Starts rumqttd on 127.0.0.1:`port` in its own threads and waits until it accepts.
fn start_broker(port: u16) -> Result<()> {
    let listen = SocketAddr::from(([127, 0, 0, 1], port));
    let server = rumqttd::ServerSettings {
        name: "demo".into(),
        listen,
        tls: None,
        next_connection_delay_ms: 1,
        connections: rumqttd::ConnectionSettings {
            connection_timeout_ms: 10_000,
            max_payload_size: 1 << 20,
            max_inflight_count: 500,
            auth: None,
            external_auth: None,
            dynamic_filters: true,
        },
    };
    let config = rumqttd::Config {
        id: 0,
        router: rumqttd::RouterConfig {
            max_connections: 64,
            max_outgoing_packet_count: 500,
            max_segment_size: 64 << 20,
            max_segment_count: 4,
            ..Default::default()
        },
        v4: Some(HashMap::from([("1".to_string(), server)])),
        ..Default::default()
    };
    std::thread::Builder::new()
        .name("mqtt broker".into())
        .spawn(move || {
            if let Err(e) = rumqttd::Broker::new(config).start() {
                eprintln!("error: embedded broker stopped: {e}");
            }
        })?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(listen).is_err() {
        if Instant::now() > deadline {
            bail!("the embedded MQTT broker did not start on {listen}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// Plays `history` of the simulated network, ending now, into the broker, one step per `step`,
/// then waits for `cancel`.
async fn simulate(
    cfg: Config,
    port: u16,
    step: Duration,
    history: Millis,
    cancel: CancellationToken,
) {
    let now = riverwatch_live::pipeline::now_ms();
    let start = (now - history) / 300_000 * 300_000;
    let opts = SimOptions::new(Scenario::Typical, SEED, start, now - start);
    let mut sim = match Simulator::new(&cfg.stations, &cfg.gb3838, opts) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return;
        }
    };
    let mut o = mqtt::MqttOptions::new("riverwatch-demo-sim", "127.0.0.1", port);
    o.set_max_packet_size(1 << 20, 1 << 20).set_inflight(200);
    let (client, mut events) = mqtt::AsyncClient::new(o, 1024);
    let pump = tokio::spawn(async move {
        loop {
            if events.poll().await.is_err() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
    let mut tick = Vec::new();
    let mut next = tokio::time::Instant::now();
    while let Some(t) = sim.next_tick(&mut tick) {
        for (topic, payload) in messages(&cfg, &sim, t, &tick) {
            tokio::select! {
                _ = cancel.cancelled() => break,
                r = client.publish(topic, mqtt::QoS::AtLeastOnce, false, payload) => {
                    if r.is_err() { break }
                }
            }
        }
        next += step;
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep_until(next) => {}
        }
    }
    cancel.cancelled().await;
    pump.abort();
}

/// One tick's readings as MQTT messages, one per station, in the station's format.
fn messages(
    cfg: &Config,
    sim: &Simulator,
    t: Millis,
    tick: &[SimReading],
) -> Vec<(String, Vec<u8>)> {
    let mut by_station: Vec<Vec<&SimReading>> = vec![Vec::new(); sim.station_ids().len()];
    for r in tick {
        by_station[r.station].push(r);
    }
    let mut out = Vec::new();
    for (i, readings) in by_station.iter().enumerate() {
        if readings.is_empty() {
            continue;
        }
        let id = sim.station_ids()[i].as_str();
        let station = cfg.stations.get(id);
        out.push(match (i % 3, station) {
            (
                2,
                Some(Station {
                    hj212_mn: Some(mn), ..
                }),
            ) => hj212(mn, t, readings),
            (1, _) => senml(id, t, readings),
            _ => station_json(id, t, readings),
        });
    }
    out
}

fn station_json(id: &str, t: Millis, readings: &[&SimReading]) -> (String, Vec<u8>) {
    let values: Map<String, serde_json::Value> = readings
        .iter()
        .map(|r| (r.param.id().to_string(), json!(r.value)))
        .collect();
    let body = json!({"station": id, "time": Rfc3339(t).to_string(), "values": values});
    (
        format!("riverwatch/readings/{id}"),
        body.to_string().into_bytes(),
    )
}

fn senml(id: &str, t: Millis, readings: &[&SimReading]) -> (String, Vec<u8>) {
    let records: Vec<serde_json::Value> = readings
        .iter()
        .enumerate()
        .map(|(k, r)| {
            if k == 0 {
                json!({"bn": format!("{id}:"), "bt": t as f64 / 1000.0, "n": r.param.id(), "v": r.value})
            } else {
                json!({"n": r.param.id(), "v": r.value})
            }
        })
        .collect();
    (
        format!("riverwatch/senml/{id}"),
        serde_json::Value::Array(records).to_string().into_bytes(),
    )
}

fn hj212(mn: &str, t: Millis, readings: &[&SimReading]) -> (String, Vec<u8>) {
    let items: Vec<(&str, f64, DataFlag)> = readings
        .iter()
        .filter_map(|r| {
            let info = params::lookup(r.param.id())?;
            // HJ 212 carries some items in μg/L; the simulator's values are in project units.
            let value = if params::HJ212_MICROGRAM.contains(&info.id) {
                r.value * 1000.0
            } else {
                r.value
            };
            Some((info.hj212, value, DataFlag::N))
        })
        .collect();
    let frame = encode_hj212_frame(mn, "2011", t, &items, t);
    (format!("riverwatch/hj212/{mn}"), frame.into_bytes())
}

/// Prints one line per new lead revision until cancelled.
async fn print_leads(service: ServiceHandle, cancel: CancellationToken) {
    let mut leads = service.subscribe_leads();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            got = leads.recv() => match got {
                Ok(lead) => println!("{}", lead_line(&lead)),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    println!("({n} lead revisions not shown; all are in the ledger)")
                }
                Err(_) => return,
            },
        }
    }
}

/// `time  category  where  summary`.
fn lead_line(lead: &Lead) -> String {
    let category = match lead.category {
        Category::SuspectedDischarge => "suspected_discharge",
        Category::StandardExceedance => "standard_exceedance",
        Category::MonitoringAnomaly => "monitoring_anomaly",
    };
    let place = match &lead.segment {
        Some(s) => s.to_string(),
        None => lead.station.to_string(),
    };
    format!(
        "{}  {category:<19}  {place:<12}  r{} {}",
        Rfc3339(lead.window.start),
        lead.revision,
        lead.summary
    )
}
