//! The analysts' web page end to end: `riverwatch demo` with an API token and a signing key,
//! Debian's headless Chromium driven by Playwright (`tests/web/e2e.cjs`) through the inbox, its
//! filters and their export, a lead's chart, seal, evidence bundle, dossier and confirmation,
//! the stations list and a replay of the demo window; then the API is asked whether the
//! confirmation took. Screenshots of the inbox, the lead (also at tablet size) and the
//! replay land in `<target>/tmp/web-e2e/`.
//!
//! Needs `chromium` (Debian package) and `playwright-core` (npm, under
//! `~/.cache/riverwatch-tools`); `scripts/test.sh` installs both. `RIVERWATCH_CHROMIUM` and
//! `RIVERWATCH_PLAYWRIGHT` point elsewhere.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "e2e-tok-51c7";
/// The demo signs its ledger, so the page can show a valid signature.
const SIGNING_SEED: &str = "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e";
const SCREENSHOTS: [&str; 4] = ["inbox.png", "lead.png", "lead-tablet.png", "replay.png"];

/// The demo process, stopped with SIGINT (and killed if it lingers) when dropped.
struct Demo {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tool(env: &str, default: PathBuf, install: &str) -> PathBuf {
    let path = std::env::var_os(env).map_or(default, PathBuf::from);
    assert!(
        path.exists(),
        "{} is missing: run scripts/test.sh, or {install} (or set {env})",
        path.display()
    );
    path
}

fn get(rt: &tokio::runtime::Runtime, url: &str) -> serde_json::Value {
    rt.block_on(async {
        let resp = reqwest::get(url).await.expect("GET");
        assert!(resp.status().is_success(), "{url}: {}", resp.status());
        resp.json().await.expect("JSON")
    })
}

/// Starts the demo fast (5 simulated days in a few seconds) and waits until the simulator has
/// caught up with the present and the ledger stopped growing, so the browser sees a still inbox.
fn start_demo(rt: &tokio::runtime::Runtime) -> Demo {
    let dir = tempfile::tempdir().expect("tmp");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let child = super::cli::riverwatch()
        .args(["demo", "--days", "5", "--speed", "600000"])
        .args(["--port", &port.to_string()])
        .arg("--data-dir")
        .arg(dir.path())
        .env("RIVERWATCH_API_TOKEN", TOKEN)
        .env(riverwatch_live::seal::ENV_SIGNING_KEY, SIGNING_SEED)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start demo");
    let demo = Demo {
        child,
        base: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last_total = None;
    let mut still_since = Instant::now();
    loop {
        assert!(
            Instant::now() < deadline,
            "the demo did not settle in 120 s"
        );
        std::thread::sleep(Duration::from_millis(500));
        let up = rt.block_on(reqwest::get(format!("{}/healthz", demo.base)));
        if up.is_err() {
            continue;
        }
        let stations = get(rt, &format!("{}/api/stations", demo.base));
        let now = riverwatch_live::pipeline::now_ms();
        let caught_up = stations["stations"]
            .as_array()
            .expect("stations")
            .iter()
            .all(|s| {
                s["last_reading"]
                    .as_str()
                    .and_then(riverwatch_engine::time::parse_rfc3339)
                    .is_some_and(|t| now - t < 30 * 60 * 1000)
            });
        let total = get(rt, &format!("{}/api/leads?limit=0", demo.base))["total"].as_u64();
        if total != last_total {
            last_total = total;
            still_since = Instant::now();
        }
        if caught_up && total > Some(0) && still_since.elapsed() > Duration::from_secs(3) {
            return demo;
        }
    }
}

#[test]
fn web_page_in_headless_chromium() {
    let home = std::env::var_os("HOME").map_or_else(PathBuf::new, PathBuf::from);
    let chromium = tool(
        "RIVERWATCH_CHROMIUM",
        PathBuf::from("/usr/bin/chromium"),
        "`apt-get install chromium`",
    );
    let playwright = tool(
        "RIVERWATCH_PLAYWRIGHT",
        home.join(".cache/riverwatch-tools/node_modules/playwright-core"),
        "`npm install --prefix ~/.cache/riverwatch-tools playwright-core@1.65.1`",
    );
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-e2e");
    std::fs::create_dir_all(&out).expect("screenshot dir");
    for f in SCREENSHOTS {
        let _ = std::fs::remove_file(out.join(f));
    }

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let demo = start_demo(&rt);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/web/e2e.cjs");
    let mut node = Command::new("node")
        .arg(&script)
        .env("RW_BASE", &demo.base)
        .env("RW_TOKEN", TOKEN)
        .env("RW_CHROMIUM", &chromium)
        .env("RW_PLAYWRIGHT", &playwright)
        .env("RW_OUT", &out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node (install nodejs)");
    let stdout = node.stdout.take().expect("stdout");
    let lines: Vec<String> = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .collect();
    let mut stderr = String::new();
    if let Some(mut e) = node.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
    }
    let status = node.wait().expect("node");
    assert!(status.success(), "browser test failed:\n{stderr}");
    let report: serde_json::Value =
        serde_json::from_str(lines.last().expect("a report line")).expect("report JSON");

    // What the browser did, seen from the API.
    let id = report["confirmed"].as_str().expect("confirmed lead");
    let lead = get(&rt, &format!("{}/api/leads/{id}", demo.base));
    assert_eq!(lead["lead"]["status"], "confirmed", "{report}");
    assert!(report["inbox_rows"].as_u64() > Some(0), "{report}");
    assert!(report["chart"]["main"].as_u64() > Some(10), "{report}");
    assert!(report["requests"].as_u64() > Some(5), "{report}");
    assert!(report["replay"]["leads"].as_u64() > Some(0), "{report}");
    assert!(
        report["seal"]["bundle_bytes"].as_u64() > Some(1000),
        "{report}"
    );
    assert!(report["export"]["rows"].as_u64() > Some(0), "{report}");
    for f in SCREENSHOTS {
        let size = std::fs::metadata(out.join(f)).map_or(0, |m| m.len());
        assert!(size > 10_000, "screenshot {f} is {size} bytes");
    }
    drop(demo);
}
