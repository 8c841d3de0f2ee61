//! `riverwatch demo` as a user runs it: a lead within 60 s, a clean exit on Ctrl-C.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[test]
fn demo_prints_a_lead_and_exits_cleanly_on_sigint() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    let mut child = super::cli::riverwatch()
        .args(["demo", "--port", &port.to_string(), "--data-dir"])
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = started + Duration::from_secs(60);
    let mut url = None;
    let mut lead = None;
    while lead.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.starts_with("web page: ") => url = Some(line),
            // A lead line: RFC 3339 time, category, place, revision and summary.
            Ok(line) if line.contains("Z  ") && line.contains(" r1 ") => lead = Some(line),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let first_lead = started.elapsed();
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if started.elapsed() > first_lead + Duration::from_secs(20) {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        url.as_deref(),
        Some(format!("web page: http://127.0.0.1:{port}/").as_str())
    );
    let lead = lead.expect("a lead line within 60 s");
    assert!(
        [
            "suspected_discharge",
            "standard_exceedance",
            "monitoring_anomaly"
        ]
        .iter()
        .any(|c| lead.contains(c)),
        "{lead}"
    );
    let status = status.expect("demo exits within 20 s of SIGINT");
    assert!(status.success(), "{status:?}");
    assert!(dir.path().join("ledger.sqlite").is_file());
}
