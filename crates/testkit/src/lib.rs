//! riverwatch-testkit: real Mosquitto and InfluxDB processes for tests, on free loopback ports in
//! temp dirs (DESIGN.md, "Real parts": no mocked broker or database).
//!
//! Each server is a child process this kit started itself; `Drop` kills and reaps it, and nothing
//! else on the machine is ever touched. Start-up polls for readiness with a deadline instead of
//! sleeping a fixed time. The facts behind the configs (two InfluxDB ports, the monitor store,
//! Mosquitto's root and queue quirks) are in `shared/reference/infra.md`.
//!
//! Servers are cheap to start (~0.1 s) but InfluxDB is slow to stop gracefully, so a test binary
//! shares one [`Influx`] ([`Influx::shared`]) and gives each test its own database.

mod daemon;
mod http;
mod influx;
mod mosquitto;

pub use influx::Influx;
pub use mosquitto::{Mosquitto, MosquittoOpts};

use std::net::TcpListener;
use std::time::{Duration, Instant};

/// A loopback TCP port that was free a moment ago (the OS picked it; the listener is closed again).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("the OS gives out a free loopback port")
}

/// Calls `probe` until it returns `Some`, sleeping a little between calls; `None` after `deadline`.
pub fn eventually<T>(deadline: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + deadline;
    loop {
        if let Some(v) = probe() {
            return Some(v);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Async [`eventually`]: awaits `probe` until it returns `Some`; `None` after `deadline`.
pub async fn eventually_async<T, F, Fut>(deadline: Duration, mut probe: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let end = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(v) = probe().await {
            return Some(v);
        }
        if tokio::time::Instant::now() >= end {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A name unique within this machine for a while: for databases, topics and client ids.
pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// Whether this process runs as root (a file it creates is owned by uid 0). Mosquitto started
/// as root drops to user `mosquitto`, which cannot write into our root-owned temp dirs.
fn running_as_root(dir: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let probe = dir.join(".uid");
    std::fs::write(&probe, b"").is_ok()
        && std::fs::metadata(&probe)
            .map(|m| m.uid() == 0)
            .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eventually_gives_up_at_the_deadline() {
        let mut calls = 0;
        let r: Option<()> = eventually(Duration::from_millis(100), || {
            calls += 1;
            None
        });
        assert!(r.is_none());
        assert!(calls >= 2);
        let mut n = 0;
        assert_eq!(
            eventually(Duration::from_secs(5), || {
                n += 1;
                (n == 3).then_some(n)
            }),
            Some(3)
        );
    }

    #[test]
    fn influx_starts_stops_and_restarts_with_its_data() {
        let mut db = Influx::start();
        db.create_db("kit");
        let (status, _) = http::request(
            db.port,
            "POST",
            "/write?db=kit&precision=ms",
            b"water,station=S1 value=1 1764460800000",
        )
        .expect("write");
        assert_eq!(status, 204);
        db.restart();
        let body = db.query("kit", "SELECT value FROM water");
        assert!(body.contains("[1764460800000,1]"), "{body}");
        db.stop();
        assert!(http::request(db.port, "GET", "/ping", b"").is_err());
    }

    #[test]
    fn mosquitto_with_auth_refuses_strangers() {
        let auth = ("sensor".to_string(), "pw".to_string());
        let mut m = Mosquitto::start_with(MosquittoOpts {
            persistence: true,
            auth: Some(auth.clone()),
        });
        let port = m.port;
        let connack_code = |a: Option<&(String, String)>| {
            use std::io::{Read, Write};
            let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
            let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 10, 0, 1, b'x'];
            if let Some((u, p)) = a {
                body[7] = 0xC2;
                for f in [u.as_bytes(), p.as_bytes()] {
                    body.extend_from_slice(&(f.len() as u16).to_be_bytes());
                    body.extend_from_slice(f);
                }
            }
            let mut pkt = vec![0x10, body.len() as u8];
            pkt.extend_from_slice(&body);
            s.write_all(&pkt).expect("send");
            let mut ack = [0u8; 4];
            s.read_exact(&mut ack).expect("connack");
            ack[3]
        };
        assert_eq!(connack_code(Some(&auth)), 0);
        assert_ne!(connack_code(None), 0);
        m.restart();
        assert_eq!(connack_code(Some(&auth)), 0);
    }

    #[test]
    fn names_are_unique() {
        assert_ne!(unique_name("t"), unique_name("t"));
    }
}
