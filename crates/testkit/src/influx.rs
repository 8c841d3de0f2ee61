//! A real `influxd` (Debian's InfluxDB 1.6.7) on two free loopback ports in a temp dir.

use crate::daemon::{Daemon, StopSignal};
use crate::http::{encode, request};
use crate::{eventually, free_port};
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;
use tempfile::TempDir;

const READY_DEADLINE: Duration = Duration::from_secs(15);

/// A running InfluxDB with auth off (or on: [`Influx::start_with_auth`]), the monitor store off (no `_internal` self-writes) and
/// `wal-fsync-delay = 0s`, so every acknowledged write survives a SIGKILL.
pub struct Influx {
    /// HTTP API port.
    pub port: u16,
    /// RPC (backup/restore) port, which influxd always opens.
    pub rpc_port: u16,
    admin: Option<(String, String)>,
    dir: TempDir,
    daemon: Option<Daemon>,
}

impl Influx {
    /// Starts a fresh server; panics with its log when it does not come up.
    pub fn start() -> Self {
        Self::start_inner(None)
    }

    /// Starts a server with auth enabled and one admin user (all privileges). The kit's own
    /// helpers authenticate as that admin.
    pub fn start_with_auth(user: &str, password: &str) -> Self {
        let s = Self::start_inner(Some((user.to_string(), password.to_string())));
        // With auth on and no users yet, this one statement is allowed without credentials.
        let q = format!("CREATE USER \"{user}\" WITH PASSWORD '{password}' WITH ALL PRIVILEGES");
        let (status, body) = s.post_query(&q, None);
        assert_eq!(status, 200, "{q}: {body}");
        s
    }

    fn start_inner(admin: Option<(String, String)>) -> Self {
        let mut dir = tempfile::Builder::new()
            .prefix("rw-influx")
            .tempdir()
            .expect("temp dir");
        let mut last_log = String::new();
        // Ports are only "free a moment ago"; another process may take one first. Try again.
        for _ in 0..3 {
            let mut s = Self {
                port: free_port(),
                rpc_port: free_port(),
                admin: admin.clone(),
                dir,
                daemon: None,
            };
            if s.port != s.rpc_port && s.launch() {
                return s;
            }
            last_log = s.log();
            s.stop();
            dir = s.dir;
        }
        panic!("influxd did not become ready; log:\n{last_log}");
    }

    /// One server for the whole test binary (each test creates its own database).
    pub fn shared() -> &'static Influx {
        static SHARED: OnceLock<Influx> = OnceLock::new();
        SHARED.get_or_init(Influx::start)
    }

    /// Base URL of the HTTP API.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL, like a crash) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(d) = self.daemon.take() {
            d.stop();
        }
    }

    /// Freezes the server (SIGSTOP): connections stay open, nothing is answered — a hung
    /// InfluxDB. [`Influx::resume`] thaws it.
    pub fn pause(&self) {
        if let Some(d) = &self.daemon {
            d.signal("STOP");
        }
    }

    /// Lets a paused server go on (SIGCONT).
    pub fn resume(&self) {
        if let Some(d) = &self.daemon {
            d.signal("CONT");
        }
    }

    /// Starts the server again on the same ports with the same data directory.
    pub fn restart(&mut self) {
        self.stop();
        assert!(
            self.launch(),
            "influxd did not come back; log:\n{}",
            self.log()
        );
    }

    /// Creates a database (idempotent).
    pub fn create_db(&self, name: &str) {
        let (status, body) = self.post_query(&format!("CREATE DATABASE \"{name}\""), None);
        assert_eq!(status, 200, "CREATE DATABASE {name}: {body}");
    }

    /// Runs InfluxQL against `db` with `epoch=ms` and returns the raw JSON answer.
    pub fn query(&self, db: &str, q: &str) -> String {
        let (status, body) = self.post_query(q, Some(db));
        assert_eq!(status, 200, "{q}: {body}");
        body
    }

    /// POSTs raw line protocol to `db` with `precision=ms`; returns status and body (for
    /// writing what the store under test would refuse to, such as a conflicting field type).
    pub fn write_lines(&self, db: &str, lines: &str) -> (u16, String) {
        let path = format!(
            "/write?db={}&precision=ms{}",
            encode(db),
            self.credentials()
        );
        request(self.port, "POST", &path, lines.as_bytes()).expect("influxd answers /write")
    }

    fn post_query(&self, q: &str, db: Option<&str>) -> (u16, String) {
        let mut form = format!("epoch=ms&q={}", encode(q));
        if let Some(db) = db {
            form.push_str(&format!("&db={}", encode(db)));
        }
        let path = format!("/query?{}", self.credentials());
        request(self.port, "POST", &path, form.as_bytes()).expect("influxd answers /query")
    }

    /// `&u=…&p=…` for the admin, when auth is on (1.6.7 accepts them in the query string).
    fn credentials(&self) -> String {
        match &self.admin {
            Some((u, p)) => format!("&u={}&p={}", encode(u), encode(p)),
            None => String::new(),
        }
    }

    fn launch(&mut self) -> bool {
        let d = self.dir.path();
        let conf = d.join("influxdb.conf");
        std::fs::write(
            &conf,
            config(d, self.port, self.rpc_port, self.admin.is_some()),
        )
        .expect("write influxdb.conf");
        let log = d.join("influxd.log");
        let conf = conf.to_string_lossy().into_owned();
        match Daemon::spawn("influxd", &["-config", &conf], &log, StopSignal::Kill) {
            Ok(daemon) => self.daemon = Some(daemon),
            Err(e) => panic!("cannot run influxd (apt-get install influxdb): {e}"),
        }
        let port = self.port;
        let ready = eventually(READY_DEADLINE, || {
            if self.log().contains("address already in use") {
                return Some(false);
            }
            matches!(request(port, "GET", "/ping", b""), Ok((204, _))).then_some(true)
        });
        ready == Some(true)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("influxd.log")).unwrap_or_default()
    }
}

fn config(d: &Path, port: u16, rpc_port: u16, auth: bool) -> String {
    let d = d.display();
    format!(
        r#"reporting-enabled = false
bind-address = "127.0.0.1:{rpc_port}"
[meta]
  dir = "{d}/meta"
[data]
  dir = "{d}/data"
  wal-dir = "{d}/wal"
  wal-fsync-delay = "0s"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:{port}"
  auth-enabled = {auth}
  log-enabled = false
  pprof-enabled = false
[logging]
  level = "warn"
  suppress-logo = true
"#
    )
}
