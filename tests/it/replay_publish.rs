//! `riverwatch replay --publish` against a real Mosquitto: without the flag nothing reaches the
//! leads topics; with it every replayed lead arrives once, as the same lead JSON the replay
//! wrote to `leads.jsonl`, on `<leads_topic_prefix>/<station>/replay`.

use crate::cli::{riverwatch, succeed};
use riverwatch_engine::Lead;
use riverwatch_live::config::DEFAULT_TOML;
use riverwatch_testkit::{unique_name, Mosquitto};
use rumqttc as mqtt;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A subscriber to `riverwatch/leads/#` on its own thread; what it receives goes to the channel.
fn subscribe(port: u16) -> mpsc::Receiver<(String, Vec<u8>)> {
    let (tx, rx) = mpsc::channel();
    let (ready_tx, ready_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let o = mqtt::MqttOptions::new(unique_name("sub"), "127.0.0.1", port);
        let (client, mut conn) = mqtt::Client::new(o, 10);
        client
            .subscribe("riverwatch/leads/#", mqtt::QoS::AtLeastOnce)
            .unwrap();
        for ev in conn.iter() {
            match ev {
                Ok(mqtt::Event::Incoming(mqtt::Incoming::SubAck(_))) => {
                    let _ = ready_tx.send(());
                }
                Ok(mqtt::Event::Incoming(mqtt::Incoming::Publish(p))) => {
                    if tx.send((p.topic, p.payload.to_vec())).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    ready_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the subscription is acknowledged");
    rx
}

/// Everything received until nothing more arrives for `quiet`.
fn drain(rx: &mpsc::Receiver<(String, Vec<u8>)>, quiet: Duration) -> Vec<(String, Vec<u8>)> {
    let mut got = Vec::new();
    let started = Instant::now();
    while let Ok(m) = rx.recv_timeout(quiet) {
        got.push(m);
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no end to messages"
        );
    }
    got
}

fn replay(dir: &Path, out: &str, publish: bool) -> Vec<Lead> {
    let mut cmd = riverwatch();
    cmd.args([
        "replay",
        "--from",
        "2024-07-01T00:00:00Z",
        "--to",
        "2024-07-04T00:00:00Z",
    ])
    .arg("--source")
    .arg(format!("csv:{}", dir.join("readings.csv").display()))
    .arg("--service")
    .arg(dir.join("riverwatch.toml"))
    .arg("--out")
    .arg(dir.join(out));
    if publish {
        cmd.arg("--publish");
    }
    let run = succeed(&mut cmd);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(stderr.contains("published"), publish, "{stderr}");
    std::fs::read_to_string(dir.join(out).join("leads.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn replay_publishes_its_leads_only_when_asked() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("readings.csv"), crate::detect::csv()).unwrap();
    let service = DEFAULT_TOML.replace("port = 1883", &format!("port = {}", broker.port));
    assert_ne!(service, DEFAULT_TOML);
    std::fs::write(dir.path().join("riverwatch.toml"), service).unwrap();
    let rx = subscribe(broker.port);

    let quiet = replay(dir.path(), "quiet", false);
    assert!(!quiet.is_empty(), "the window has leads to publish");
    let got = drain(&rx, Duration::from_secs(1));
    assert!(got.is_empty(), "published without --publish: {got:?}");

    let leads = replay(dir.path(), "loud", true);
    assert_eq!(leads, quiet, "publishing does not change the replay");
    let got = drain(&rx, Duration::from_secs(2));
    assert_eq!(got.len(), leads.len(), "one message per lead");
    for lead in &leads {
        let topic = format!("riverwatch/leads/{}/replay", lead.station);
        let (_, payload) = got
            .iter()
            .find(|(t, p)| {
                *t == topic && serde_json::from_slice::<Lead>(p).ok().as_ref() == Some(lead)
            })
            .unwrap_or_else(|| panic!("lead {} not received on {topic}", lead.id));
        assert_eq!(
            payload,
            &serde_json::to_vec(lead).unwrap(),
            "the live payload format"
        );
    }
}
