//! A real Mosquitto 2.0 broker on a free loopback port in a temp dir.

use crate::daemon::{Daemon, StopSignal};
use crate::{eventually, free_port, running_as_root};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use tempfile::TempDir;

const READY_DEADLINE: Duration = Duration::from_secs(15);

/// How to run the broker.
#[derive(Debug, Clone, Default)]
pub struct MosquittoOpts {
    /// Keep sessions, queued QoS 1 messages and retained messages across [`Mosquitto::restart`].
    pub persistence: bool,
    /// Require this user and password (anonymous clients are refused); `None`: anonymous.
    pub auth: Option<(String, String)>,
}

/// A running broker. `max_queued_messages` is raised to 100 000: the default 1000 drops QoS 1
/// messages silently for a slow subscriber while the publisher still gets its PUBACKs.
pub struct Mosquitto {
    /// MQTT port on 127.0.0.1.
    pub port: u16,
    opts: MosquittoOpts,
    dir: TempDir,
    daemon: Option<Daemon>,
}

impl Mosquitto {
    /// Starts an anonymous broker without persistence.
    pub fn start() -> Self {
        Self::start_with(MosquittoOpts::default())
    }

    /// Starts a broker with the given options; panics with its log when it does not come up.
    pub fn start_with(opts: MosquittoOpts) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("rw-mqtt")
            .tempdir()
            .expect("temp dir");
        if let Some((user, pass)) = &opts.auth {
            let file = dir.path().join("passwd");
            let ok = Command::new("mosquitto_passwd")
                .arg("-c")
                .arg("-b")
                .arg(&file)
                .arg(user)
                .arg(pass)
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            assert!(ok, "mosquitto_passwd failed (apt-get install mosquitto)");
        }
        let mut s = Self {
            port: 0,
            opts,
            dir,
            daemon: None,
        };
        for _ in 0..3 {
            s.port = free_port();
            if s.launch() {
                return s;
            }
            s.stop();
        }
        panic!("mosquitto did not become ready; log:\n{}", s.log());
    }

    /// `127.0.0.1`.
    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }

    /// Stops the broker (SIGTERM: it saves its persistence file) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(d) = self.daemon.take() {
            d.stop();
        }
    }

    /// Starts the broker again on the same port with the same data directory.
    pub fn restart(&mut self) {
        self.stop();
        assert!(
            self.launch(),
            "mosquitto did not come back; log:\n{}",
            self.log()
        );
    }

    fn launch(&mut self) -> bool {
        let d = self.dir.path();
        let conf = d.join("mosquitto.conf");
        std::fs::create_dir_all(d.join("data")).expect("data dir");
        std::fs::write(&conf, config(d, self.port, &self.opts, running_as_root(d)))
            .expect("write conf");
        let conf = conf.to_string_lossy().into_owned();
        match Daemon::spawn(
            "mosquitto",
            &["-c", &conf],
            &d.join("mosquitto.log"),
            StopSignal::Term,
        ) {
            Ok(daemon) => self.daemon = Some(daemon),
            Err(e) => panic!("cannot run mosquitto (apt-get install mosquitto): {e}"),
        }
        let ready = eventually(READY_DEADLINE, || {
            if self.log().contains("Address already in use") {
                return Some(false);
            }
            connack(self.port, self.opts.auth.as_ref()).then_some(true)
        });
        ready == Some(true)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("mosquitto.log")).unwrap_or_default()
    }
}

fn config(d: &Path, port: u16, opts: &MosquittoOpts, root: bool) -> String {
    let mut c = format!(
        "listener {port} 127.0.0.1\nmax_queued_messages 100000\nlog_dest stderr\nlog_type error\nlog_type warning\n"
    );
    if root {
        // As root the broker would drop to user `mosquitto`, which cannot write our temp dir.
        c.push_str("user root\n");
    }
    match &opts.auth {
        Some(_) => c.push_str(&format!(
            "allow_anonymous false\npassword_file {}/passwd\n",
            d.display()
        )),
        None => c.push_str("allow_anonymous true\n"),
    }
    if opts.persistence {
        c.push_str(&format!(
            "persistence true\npersistence_location {}/data/\nautosave_interval 60\n",
            d.display()
        ));
    } else {
        c.push_str("persistence false\n");
    }
    c
}

/// Whether a broker on `port` answers an MQTT 3.1.1 CONNECT with a CONNACK (any return code:
/// the broker is up). Hand-encoded so readiness needs neither a client crate nor `mosquitto_sub`.
fn connack(port: u16, auth: Option<&(String, String)>) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let field = |out: &mut Vec<u8>, b: &[u8]| {
        out.extend_from_slice(&(b.len() as u16).to_be_bytes());
        out.extend_from_slice(b);
    };
    let mut body = Vec::new();
    field(&mut body, b"MQTT");
    let flags = if auth.is_some() { 0xC2 } else { 0x02 }; // clean session (+ user, password)
    body.extend_from_slice(&[4, flags, 0, 10]);
    field(&mut body, b"rw-testkit-ready");
    if let Some((u, p)) = auth {
        field(&mut body, u.as_bytes());
        field(&mut body, p.as_bytes());
    }
    // A one-byte remaining length covers every packet this sends (long credentials: not ready).
    let Some(len) = u8::try_from(body.len()).ok().filter(|l| *l < 128) else {
        return false;
    };
    let mut pkt = vec![0x10, len];
    pkt.extend_from_slice(&body);
    let mut ack = [0u8; 4];
    s.write_all(&pkt).is_ok() && s.read_exact(&mut ack).is_ok() && ack[0] == 0x20
}
