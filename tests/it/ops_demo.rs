//! The broker config of the compose stack and the demo publisher, run for real: a Mosquitto
//! with `deploy/mosquitto/mosquitto.conf` (only the port and the paths moved into a temp dir)
//! must refuse anonymous clients, and `deploy/simulator/publish.sh` must deliver every
//! simulated reading as a message the real decoder accepts.

use crate::ops_docs::read;
use riverwatch_engine::config::Config;
use riverwatch_engine::decode::{decode, DecodeContext, Format};
use riverwatch_engine::time::MINUTE;
use riverwatch_testkit::{eventually, free_port};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// A process this test started; killed and reaped on drop.
struct Owned(Child);

impl Drop for Owned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// `mosquitto_sub` for one retained message: does the broker let this client in?
fn admitted(port: u16, auth: Option<(&str, &str)>) -> bool {
    let mut c = Command::new("mosquitto_sub");
    c.args(["-h", "127.0.0.1", "-p", &port.to_string()]);
    c.args(["-t", "$SYS/broker/version", "-C", "1", "-W", "3"]);
    if let Some((u, p)) = auth {
        c.args(["-u", u, "-P", p]);
    }
    c.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("mosquitto_sub runs (apt-get install mosquitto-clients)")
        .success()
}

/// The shipped broker config with the port and paths moved under `dir`.
fn start_broker(dir: &Path, port: u16) -> Owned {
    let conf = read("deploy/mosquitto/mosquitto.conf");
    let d = dir.display();
    let mut text = conf
        .replace("listener 1883", &format!("listener {port} 127.0.0.1"))
        .replace("/mosquitto/passwd/passwd", &format!("{d}/passwd"))
        .replace("/mosquitto/data/", &format!("{d}/data/"));
    assert_ne!(text, conf, "the config's port or paths moved");
    if is_root() {
        // Started as root, mosquitto drops to a user that cannot write the temp dir.
        text.push_str("user root\n");
    }
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(dir.join("mosquitto.conf"), text).unwrap();
    for (i, (user, pw)) in [("riverwatch", "rw-pw"), ("sensor", "sensor-pw")]
        .iter()
        .enumerate()
    {
        let mut c = Command::new("mosquitto_passwd");
        if i == 0 {
            c.arg("-c");
        }
        let ok = c
            .arg("-b")
            .arg(dir.join("passwd"))
            .args([user, pw])
            .status();
        assert!(ok.is_ok_and(|s| s.success()), "mosquitto_passwd");
    }
    let log = std::fs::File::create(dir.join("mosquitto.log")).unwrap();
    let child = Command::new("mosquitto")
        .arg("-c")
        .arg(dir.join("mosquitto.conf"))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("mosquitto runs (apt-get install mosquitto)");
    let broker = Owned(child);
    let up = eventually(Duration::from_secs(10), || {
        admitted(port, Some(("sensor", "sensor-pw"))).then_some(())
    });
    assert!(
        up.is_some(),
        "broker did not start: {}",
        std::fs::read_to_string(dir.join("mosquitto.log")).unwrap_or_default()
    );
    broker
}

#[test]
fn demo_publisher_delivers_every_reading_through_the_shipped_broker_config() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let _broker = start_broker(dir.path(), port);
    assert!(!admitted(port, None), "anonymous clients must be refused");
    assert!(
        !admitted(port, Some(("sensor", "wrong"))),
        "a wrong password must be refused"
    );

    let out_path = dir.path().join("received.txt");
    let sub = Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-u",
            "riverwatch",
            "-P",
            "rw-pw",
        ])
        .args(["-v", "-q", "1", "-t", "riverwatch/readings/#"])
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _sub = Owned(sub);
    let lines = || std::fs::read_to_string(&out_path).unwrap_or_default();
    // The subscriber is ready once a probe message comes through.
    let ready = eventually(Duration::from_secs(10), || {
        let _ = Command::new("mosquitto_pub")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-u",
                "sensor",
                "-P",
                "sensor-pw",
            ])
            .args(["-t", "riverwatch/readings/probe", "-m", "probe"])
            .status();
        lines().contains("probe").then_some(())
    });
    assert!(ready.is_some(), "subscriber never saw the probe");
    let probes = lines().lines().count();

    let work = dir.path().join("work");
    let out = Command::new("sh")
        .arg(format!("{ROOT}/deploy/simulator/publish.sh"))
        .env("MQTT_HOST", "127.0.0.1")
        .env("MQTT_PORT", port.to_string())
        .env("MQTT_PASSWORD", "sensor-pw")
        .env("DEMO_DAYS", "1")
        .env("RIVERWATCH", env!("CARGO_BIN_EXE_riverwatch"))
        .env("RIVERWATCH_CONFIG", format!("{ROOT}/config"))
        .env("WORK_DIR", &work)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = std::fs::read_to_string(work.join("readings.csv")).unwrap();
    let expected = csv.lines().count() - 1;
    assert!(
        expected > 10_000,
        "a day of 14 stations: {expected} readings"
    );
    let got = eventually(Duration::from_secs(30), || {
        let n = lines().lines().count() - probes;
        (n >= expected).then_some(n)
    });
    assert_eq!(
        got,
        Some(expected),
        "readings lost between publisher and subscriber"
    );

    // Every message is a station JSON message the real decoder accepts, on its station's topic.
    let cfg = Config::embedded();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let ctx = DecodeContext {
        stations: &cfg.stations,
        received: now,
        max_future_skew: 10 * MINUTE,
        accept_unknown_stations: false,
    };
    let text = lines();
    let mut stations = BTreeSet::new();
    for line in text.lines().skip(probes) {
        let (topic, payload) = line.split_once(' ').expect("topic and payload");
        let d = decode(payload.as_bytes(), Some(topic), Format::Auto, &ctx)
            .unwrap_or_else(|e| panic!("{topic} {payload}: {e}"));
        assert_eq!(d.readings.len(), 1);
        assert!(d.item_errors.is_empty());
        stations.insert(d.readings[0].station.as_str().to_string());
    }
    assert_eq!(stations.len(), cfg.stations.list.len());
}
