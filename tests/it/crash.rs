//! `riverwatch run` killed with SIGKILL mid-stream and started again, against a real Mosquitto:
//! no reading lost, no lead lost, no lead published under two ids.
//!
//! The stream is the simulated Dongliao network over the last 30 hours (inside the service's
//! 2-day replay window), as station JSON. What the service must end up with is computed here
//! independently: the same payloads through the decoder, and the readings through the engine in
//! (time, station, parameter) order — the order the service feeds its engine in, live or
//! replaying the store after a restart, so that lead ids (station, track, event start) and
//! revision numbers depend on the readings only, not on arrival order or on a crash.

use crate::cli::riverwatch;
use riverwatch_engine::config::Config;
use riverwatch_engine::decode::{decode, DecodeContext, Format};
use riverwatch_engine::leads::Lead;
use riverwatch_engine::sim::{Scenario, SimOptions, SimReading, Simulator};
use riverwatch_engine::time::{Millis, HOUR, MINUTE};
use riverwatch_engine::{Engine, Output, Reading};
use riverwatch_live::ledger::LeadFilter;
use riverwatch_live::store::{reading_order, ReadingStore, SqliteStore};
use riverwatch_live::Ledger;
use riverwatch_testkit::{eventually, free_port, unique_name, Mosquitto};
use rumqttc as mqtt;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Simulated history published, ending now.
const SPAN: Millis = 30 * HOUR;

/// One payload per station and tick, and what it decodes to.
struct Stream {
    msgs: Vec<(String, Vec<u8>)>,
    readings: Vec<Reading>,
    /// Per lead id, its revisions, in the order the engine emitted them.
    leads: BTreeMap<String, Vec<u32>>,
    /// Index of the reading that completed the first lead revision.
    first_lead_at: usize,
    /// Index of the reading that completed the last new lead id.
    last_new_lead_at: usize,
}

/// The simulated network for `seed`, as station JSON, with the leads the engine derives from it.
fn stream(cfg: &Config, seed: u64, now: Millis) -> Stream {
    let start = (now - SPAN) / (5 * MINUTE) * (5 * MINUTE);
    let opts = SimOptions::new(Scenario::Typical, seed, start, now - start);
    let mut sim = Simulator::new(&cfg.stations, &cfg.gb3838, opts).unwrap();
    let ctx = DecodeContext {
        stations: &cfg.stations,
        received: now,
        max_future_skew: 10 * MINUTE,
        accept_unknown_stations: false,
    };
    let mut msgs = Vec::new();
    let mut readings = Vec::new();
    let mut tick: Vec<SimReading> = Vec::new();
    while let Some(t) = sim.next_tick(&mut tick) {
        let mut by_station: BTreeMap<usize, serde_json::Map<String, serde_json::Value>> =
            BTreeMap::new();
        for r in &tick {
            by_station
                .entry(r.station)
                .or_default()
                .insert(r.param.id().to_string(), r.value.into());
        }
        // Stations report in no particular order; here, against the alphabet.
        for (i, values) in by_station.into_iter().rev() {
            let id = sim.station_ids()[i].as_str();
            let topic = format!("riverwatch/readings/{id}");
            let body = serde_json::json!({"station": id, "time": t, "values": values}).to_string();
            if let Ok(d) = decode(body.as_bytes(), Some(&topic), Format::Json, &ctx) {
                readings.extend(d.readings);
                msgs.push((topic, body.into_bytes()));
            }
        }
    }
    readings.sort_by(reading_order);
    let mut engine = Engine::new(Arc::new(cfg.clone()));
    let mut out = Output::default();
    let mut leads: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    let (mut first_lead_at, mut last_new_lead_at) = (usize::MAX, 0);
    for (k, r) in readings.iter().enumerate() {
        engine.push(r, &mut out);
        for l in out.leads.drain(..) {
            let revs = leads.entry(l.id).or_default();
            if revs.is_empty() {
                last_new_lead_at = k;
            }
            revs.push(l.revision);
            first_lead_at = first_lead_at.min(k);
        }
        out.events.clear();
    }
    Stream {
        msgs,
        readings,
        leads,
        first_lead_at,
        last_new_lead_at,
    }
}

/// The first seed whose stream has a lead early enough to kill the service after it, and a new
/// lead well after that (so leads are derived both before and after the crash).
fn pick_stream(cfg: &Config, now: Millis) -> Stream {
    for seed in 1..=40 {
        let s = stream(cfg, seed, now);
        let n = s.readings.len();
        if s.first_lead_at < n / 2 && s.last_new_lead_at > s.first_lead_at + n / 5 {
            return s;
        }
    }
    panic!("no seed in 1..=40 gives two leads far enough apart");
}

/// `run --config` files: the shipped service config on the test broker, everything in `dir`.
fn write_config(dir: &Path, broker: u16, http: u16) {
    let d = dir.display();
    let text = riverwatch_live::config::DEFAULT_TOML
        .replace("data_dir = \"data\"", &format!("data_dir = \"{d}\""))
        .replace(
            "ledger_path = \"data/ledger.sqlite\"",
            &format!("ledger_path = \"{d}/ledger.sqlite\""),
        )
        .replace(
            "sqlite_path = \"data/readings.sqlite\"",
            &format!("sqlite_path = \"{d}/readings.sqlite\""),
        )
        .replace(
            "spool_dir = \"data/spool\"",
            &format!("spool_dir = \"{d}/spool\""),
        )
        .replace("port = 1883", &format!("port = {broker}"))
        .replace(
            "client_id = \"riverwatch\"",
            &format!("client_id = \"{}\"", unique_name("rw")),
        )
        .replace("flush_interval = \"1s\"", "flush_interval = \"100ms\"")
        .replace(
            "listen = \"127.0.0.1:8080\"",
            &format!("listen = \"127.0.0.1:{http}\""),
        );
    std::fs::write(dir.join("riverwatch.toml"), text).unwrap();
}

fn start(dir: &Path, run: usize) -> Child {
    let log = std::fs::File::create(dir.join(format!("run{run}.log"))).unwrap();
    riverwatch()
        .args(["run", "--config"])
        .arg(dir)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// `/readyz` says ready and subscribed.
fn ready(rt: &tokio::runtime::Runtime, http: u16) -> bool {
    rt.block_on(async {
        let Ok(r) = reqwest::get(format!("http://127.0.0.1:{http}/readyz")).await else {
            return false;
        };
        let v: serde_json::Value = r.json().await.unwrap_or_default();
        v["ready"] == true && v["broker_connected"] == true
    })
}

/// An MQTT client with a persistent session (the test's stations and its lead consumer).
fn client(port: u16, id: &str) -> (mqtt::AsyncClient, mqtt::EventLoop) {
    let mut o = mqtt::MqttOptions::new(id, "127.0.0.1", port);
    o.set_clean_session(false)
        .set_max_packet_size(1 << 20, 1 << 20);
    mqtt::AsyncClient::new(o, 256)
}

#[test]
fn sigkill_mid_stream_loses_no_reading_and_no_lead_and_ids_stay_the_same() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let cfg = Config::embedded();
    let now = riverwatch_live::pipeline::now_ms();
    let s = pick_stream(&cfg, now);
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let http = free_port();
    write_config(dir.path(), broker.port, http);

    // The lead consumer: subscribed before anything is published.
    let seen: Arc<Mutex<Vec<Lead>>> = Arc::default();
    let (sub, mut sub_events) = client(broker.port, &unique_name("consumer"));
    rt.block_on(sub.subscribe("riverwatch/leads/#", mqtt::QoS::AtLeastOnce))
        .unwrap();
    let into = Arc::clone(&seen);
    rt.spawn(async move {
        loop {
            match sub_events.poll().await {
                Ok(mqtt::Event::Incoming(mqtt::Incoming::Publish(p))) => {
                    let lead: Lead = serde_json::from_slice(&p.payload).expect("lead JSON");
                    into.lock().unwrap().push(lead);
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    });

    let mut child = start(dir.path(), 1);
    assert!(
        eventually(Duration::from_secs(20), || ready(&rt, http).then_some(())).is_some(),
        "riverwatch did not become ready"
    );
    let (feed, mut feed_events) = client(broker.port, &unique_name("stations"));
    rt.spawn(async move {
        loop {
            if feed_events.poll().await.is_err() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    });
    let msgs = s.msgs.clone();
    let published = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = Arc::clone(&published);
    rt.spawn(async move {
        for (topic, payload) in msgs {
            feed.publish(topic, mqtt::QoS::AtLeastOnce, false, payload)
                .await
                .unwrap();
            count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    });

    // Kill it once it has published a lead, while the stream is still coming.
    let first = eventually(Duration::from_secs(60), || {
        (!seen.lock().unwrap().is_empty()).then_some(())
    });
    assert!(first.is_some(), "no lead within 60 s; see run1.log");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let at_kill = published.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        at_kill < s.msgs.len(),
        "the stream was over before the kill"
    );

    let mut child = start(dir.path(), 2);
    let all_seen = eventually(Duration::from_secs(120), || {
        let got: BTreeSet<(String, u32)> = seen
            .lock()
            .unwrap()
            .iter()
            .map(|l| (l.id.clone(), l.revision))
            .collect();
        s.leads
            .iter()
            .all(|(id, revs)| revs.iter().all(|r| got.contains(&(id.clone(), *r))))
            .then_some(())
    });
    let store = SqliteStore::open(&dir.path().join("readings.sqlite")).unwrap();
    let stored = || rt.block_on(store.query(&[], 0, now + HOUR)).unwrap();
    let complete = eventually(Duration::from_secs(60), || {
        (stored().len() >= s.readings.len()).then_some(())
    });
    // A clean stop, then the files are read.
    let term = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(
        all_seen.is_some(),
        "leads missing: want {:?}; seen {:?}",
        s.leads,
        seen.lock()
            .unwrap()
            .iter()
            .map(|l| (&l.id, l.revision))
            .collect::<Vec<_>>()
    );
    assert!(complete.is_some(), "readings missing");

    // Every reading, exactly once.
    assert_eq!(stored(), s.readings);

    // The ledger holds exactly the engine's leads, each published (acknowledged).
    let ledger = Ledger::open(&dir.path().join("ledger.sqlite")).unwrap();
    let (kept, total) = rt
        .block_on(ledger.list(LeadFilter {
            limit: LeadFilter::MAX_LIMIT,
            ..LeadFilter::default()
        }))
        .unwrap();
    assert_eq!(total as usize, s.leads.len());
    let kept: BTreeMap<String, u32> = kept.into_iter().map(|l| (l.id, l.revision)).collect();
    // Current revisions equal, not just ids: revision numbering did not depend on the crash.
    let want: BTreeMap<String, u32> = s
        .leads
        .iter()
        .map(|(id, revs)| (id.clone(), *revs.iter().max().unwrap()))
        .collect();
    assert_eq!(kept, want, "lead ids and current revisions");
    assert!(rt.block_on(ledger.unpublished()).unwrap().is_empty());

    // A consumer deduplicating by id sees one lead per (station, window start) — no lead went
    // out under a second id after the restart.
    let mut ids: BTreeMap<(String, Millis), BTreeSet<String>> = BTreeMap::new();
    for l in seen.lock().unwrap().iter() {
        ids.entry((l.station.to_string(), l.window.start))
            .or_default()
            .insert(l.id.clone());
        assert!(want.contains_key(&l.id), "published lead {} unknown", l.id);
    }
    for (key, set) in &ids {
        assert_eq!(set.len(), 1, "{key:?} published under {set:?}");
    }
}
