//! `POST /api/replay` as the binary wires it (the batch replay handed to the API): a SQLite store
//! of simulated readings and a ledger of recorded leads behind a real HTTP server on a free
//! loopback port. The answer must be what a direct replay of the same readings gives, compared
//! with the ledger; the token, the window bound and a broken thresholds file are refused.

use riverwatch_batch::replay::{replay, Ending};
use riverwatch_engine::config::Config;
use riverwatch_engine::sim::{Scenario, SimOptions, Simulator};
use riverwatch_engine::time::{format_rfc3339, from_civil, Millis, DAY};
use riverwatch_engine::{Engine, Lead, Reading, Severity};
use riverwatch_live::api::{fixed_config, router, ApiState, Health};
use riverwatch_live::store::{reading_order, ReadingStore, SqliteStore};
use riverwatch_live::{Ledger, Secret};
use serde_json::{json, Value};
use std::sync::Arc;

const TOKEN: &str = "replay-t0k";

/// Simulated days of readings in the store.
const DAYS: i64 = 6;

fn start() -> Millis {
    from_civil(2025, 6, 1, 0, 0, 0, 0).expect("valid date")
}

/// The simulated readings, in the order the store answers in.
fn simulate(cfg: &Config) -> Vec<Reading> {
    let opts = SimOptions {
        inject: true,
        ..SimOptions::new(Scenario::Typical, 11, start(), DAYS * DAY)
    };
    let mut sim = Simulator::new(&cfg.stations, &cfg.gb3838, opts).expect("simulator");
    let (mut tick, mut out) = (Vec::new(), Vec::new());
    while sim.next_tick(&mut tick).is_some() {
        out.extend(tick.iter().map(|r| sim.to_reading(r)));
    }
    out.sort_by(reading_order);
    out
}

fn direct(cfg: &Config, readings: &[Reading]) -> Vec<Lead> {
    replay(
        Engine::new(Arc::new(cfg.clone())),
        readings,
        Ending::Open,
        &mut |_| {},
    )
    .leads
}

struct Server {
    base: String,
    http: reqwest::Client,
}

impl Server {
    async fn replay(&self, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut req = self.http.post(format!("{}/api/replay", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.json(&body).send().await.expect("POST");
        let code = resp.status().as_u16();
        (code, resp.json().await.expect("JSON"))
    }
}

fn ids(leads: &[Lead]) -> Vec<String> {
    leads.iter().map(|l| l.id.clone()).collect()
}

#[test]
fn replay_over_http_matches_a_direct_replay_and_diffs_the_ledger() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = Config::embedded();
    let readings = simulate(&cfg);
    let replayed = direct(&cfg, &readings);
    assert!(replayed.len() >= 3, "{} leads", replayed.len());

    // The "live" record: every lead but the first, the second with another severity, and one
    // lead the replay does not raise.
    let mut recorded: Vec<Lead> = replayed[1..].to_vec();
    recorded[0].severity = if recorded[0].severity == Severity::High {
        Severity::Low
    } else {
        Severity::High
    };
    let mut extra = recorded[1].clone();
    extra.id = "L-not-replayed".into();
    recorded.push(extra);

    let server = rt.block_on(async {
        let store =
            Arc::new(SqliteStore::open(&dir.path().join("readings.sqlite")).expect("store"));
        for batch in readings.chunks(20_000) {
            let report = store.write(batch).await.expect("write");
            assert!(report.rejected.is_empty(), "{:?}", report.rejected);
        }
        let ledger = Ledger::open(&dir.path().join("ledger.sqlite")).expect("ledger");
        for l in &recorded {
            ledger
                .record_revision(l, l.window.end)
                .await
                .expect("record");
        }
        let state = ApiState {
            ledger: ledger.clone(),
            store: Arc::clone(&store),
            config: fixed_config(cfg.clone()),
            api_token: Some(Secret::new(TOKEN)),
            metrics: Arc::new(String::new),
            health: Arc::new(Health::default),
            replay: Some(riverwatch_batch::api::replay_fn(
                store,
                ledger,
                Arc::new(|| Arc::new(Vec::new())),
            )),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, router(state)).await });
        Server {
            base,
            http: reqwest::Client::new(),
        }
    });
    let (from, to) = (
        format_rfc3339(start()),
        format_rfc3339(start() + DAYS * DAY),
    );

    // The whole window with the thresholds in force.
    let (code, body) = rt.block_on(server.replay(Some(TOKEN), json!({"from": from, "to": to})));
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["readings"], readings.len());
    assert_eq!(body["leads"], serde_json::to_value(&replayed).unwrap());
    assert_eq!(body["diff"]["new"], json!([replayed[0].id]));
    assert_eq!(body["diff"]["missing"], json!(["L-not-replayed"]));
    assert_eq!(
        body["diff"]["changed"],
        json!([{"id": replayed[1].id, "what": ["severity"]}])
    );
    assert_eq!(body["diff"]["same"], replayed.len() - 2);

    // One station: only its readings, compared only with its recorded leads.
    let station = replayed[0].station.clone();
    let own: Vec<Reading> = readings
        .iter()
        .filter(|r| r.station == station)
        .cloned()
        .collect();
    let own_leads = direct(&cfg, &own);
    let (code, body) = rt.block_on(server.replay(
        Some(TOKEN),
        json!({"from": from, "to": to, "stations": [station.to_string()]}),
    ));
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["readings"], own.len());
    let got: Vec<Lead> = serde_json::from_value(body["leads"].clone()).expect("leads");
    assert_eq!(ids(&got), ids(&own_leads));
    let mut missing: Vec<String> = recorded
        .iter()
        .filter(|l| l.station == station && !own_leads.iter().any(|o| o.id == l.id))
        .map(|l| l.id.clone())
        .collect();
    let mut got_missing: Vec<String> =
        serde_json::from_value(body["diff"]["missing"].clone()).expect("missing");
    missing.sort();
    got_missing.sort();
    assert_eq!(got_missing, missing);

    // A candidate thresholds file: what the engine does with it, not with the config in force.
    let candidate = cfg
        .texts
        .thresholds
        .replace("persistence = 2", "persistence = 6")
        .replace("threshold = 6.0", "threshold = 3.0");
    assert_ne!(candidate, cfg.texts.thresholds);
    let strict = direct(
        &cfg.with_thresholds_text(&candidate).expect("candidate"),
        &readings,
    );
    assert_ne!(
        ids(&strict),
        ids(&replayed),
        "the candidate changes the leads"
    );
    let (code, body) = rt.block_on(server.replay(
        Some(TOKEN),
        json!({"from": from, "to": to, "thresholds": candidate}),
    ));
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["leads"], serde_json::to_value(&strict).unwrap());

    // Refusals: no token, a wrong one, a broken thresholds file (naming the key), too long a
    // window, a backwards one, an unknown station.
    let (code, body) = rt.block_on(server.replay(None, json!({"from": from, "to": to})));
    assert_eq!(code, 401, "{body}");
    let (code, _) = rt.block_on(server.replay(Some("nope"), json!({"from": from, "to": to})));
    assert_eq!(code, 401);
    let broken = cfg
        .texts
        .thresholds
        .replace("persistence = 2", "persistance = 2");
    let (code, body) = rt.block_on(server.replay(
        Some(TOKEN),
        json!({"from": from, "to": to, "thresholds": broken}),
    ));
    assert_eq!(code, 400, "{body}");
    let msg = body["error"].as_str().expect("error");
    assert!(
        msg.contains("thresholds") && msg.contains("persistance"),
        "{msg}"
    );
    let (code, body) = rt.block_on(server.replay(
        Some(TOKEN),
        json!({"from": from, "to": format_rfc3339(start() + 32 * DAY)}),
    ));
    assert_eq!(code, 400, "{body}");
    assert!(body["error"].as_str().expect("error").contains("31 days"));
    let (code, _) = rt.block_on(server.replay(Some(TOKEN), json!({"from": to, "to": from})));
    assert_eq!(code, 400);
    let (code, body) = rt.block_on(server.replay(
        Some(TOKEN),
        json!({"from": from, "to": to, "stations": ["XX99"]}),
    ));
    assert_eq!(code, 400);
    assert!(body["error"].as_str().expect("error").contains("XX99"));
}
