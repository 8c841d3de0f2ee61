//! The HTTP API served on a free loopback port over a real ledger and a real SQLite store.

use crate::ledger::lead;
use crate::{readings, T0};
use riverwatch_engine::config::Config;
use riverwatch_engine::leads::{Category, Lead, Severity};
use riverwatch_engine::time::{parse_rfc3339, Rfc3339, DAY, HOUR, MINUTE};
use riverwatch_engine::{DataFlag, Reading, Segment};
use riverwatch_live::api::{fixed_config, router, ApiState, Health};
use riverwatch_live::store::{ReadingStore, SqliteStore};
use riverwatch_live::{Ledger, Secret};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const TOKEN: &str = "tok-9f2c";

struct Server {
    base: String,
    http: reqwest::Client,
    ready: Arc<AtomicBool>,
    written: Vec<Reading>,
    dir: tempfile::TempDir,
}

impl Server {
    /// Lead A's evidence: DL03 NH3-N from an hour before T0 to two hours after.
    fn evidence_of_a(&self) -> impl Iterator<Item = &Reading> {
        self.written.iter().filter(|r| {
            r.station.as_str() == "DL03"
                && r.parameter.as_str() == "nh3n"
                && (T0 - HOUR..T0 + 2 * HOUR).contains(&r.time)
        })
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        answer(path, self.raw(path).await).await
    }

    /// The response to `GET path`, for its headers and non-JSON bodies.
    async fn raw(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("GET")
    }

    /// Status, content type and body bytes of a GET.
    async fn bytes(&self, path: &str) -> (u16, String, Vec<u8>) {
        let resp = self.raw(path).await;
        let code = resp.status().as_u16();
        let kind = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        (code, kind, resp.bytes().await.expect("body").to_vec())
    }

    async fn post_status(&self, id: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut req = self
            .http
            .post(format!("{}/api/leads/{id}/status", self.base))
            .json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        answer(id, req.send().await.expect("POST")).await
    }
}

/// The status and the JSON body of an answer; panics naming `what` when the body is not JSON.
async fn answer(what: &str, resp: reqwest::Response) -> (u16, Value) {
    let code = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{what}: {code} {text}"));
    (code, body)
}

/// Six leads (ids A–F) at three stations, readings at DL03/DL04 around T0, the router on a
/// free port. `token` is the API token the service was started with.
async fn start(token: Option<&str>) -> Server {
    let dir = tempfile::tempdir().expect("tmp");
    let ledger = Ledger::open(&dir.path().join("ledger.sqlite")).expect("ledger");
    let store = SqliteStore::open(&dir.path().join("readings.sqlite")).expect("store");
    let leads = [
        ("A", Category::SuspectedDischarge, "DL03", T0),
        ("B", Category::StandardExceedance, "DL03", T0 + HOUR),
        ("C", Category::MonitoringAnomaly, "DL05", T0 + 2 * HOUR),
        ("D", Category::StandardExceedance, "DL04", T0 + 3 * HOUR),
        ("E", Category::StandardExceedance, "DL03", T0 + DAY),
        ("F", Category::SuspectedDischarge, "DL04", T0 + 2 * DAY),
    ];
    for (id, cat, station, start) in leads {
        let mut l = lead(id, 1, cat, station, start);
        match id {
            // A was localised to the segment above DL03; D to the one above DL04, and is critical.
            "A" => l.segment = Some(segment(&["DL02", "TR01"], "DL03")),
            "D" => {
                l.segment = Some(segment(&["DL03"], "DL04"));
                l.severity = Severity::Critical;
            }
            _ => {}
        }
        ledger.record_revision(&l, T0).await.expect("record");
    }
    // A grew once more: a second revision, later window end.
    let a2 = Lead {
        segment: Some(segment(&["DL02", "TR01"], "DL03")),
        ..lead("A", 2, Category::SuspectedDischarge, "DL03", T0)
    };
    ledger
        .record_revision(&a2, T0 + HOUR)
        .await
        .expect("record");
    let mut written = readings(
        &["DL03", "DL04"],
        &["nh3n", "do"],
        T0 - 3 * HOUR,
        10 * MINUTE,
        40,
    );
    // DL03 now: pH stuck on one value long enough for the flatline threshold, and an
    // impossible (negative) turbidity.
    let flat = Config::embedded()
        .thresholds
        .for_stream("DL03", "ph")
        .flatline;
    let run = (flat.run as i64).max(flat.min_duration / (5 * MINUTE) + 1);
    for i in 0..run {
        written.push(reading(
            "DL03",
            "ph",
            T0 + 5 * MINUTE - i * 5 * MINUTE,
            7.25,
        ));
    }
    written.push(reading("DL03", "turb", T0 + 5 * MINUTE, -5.0));
    store.write(&written).await.expect("write");

    let ready = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&ready);
    let state = ApiState {
        ledger,
        store: Arc::new(store),
        config: fixed_config(Config::embedded()),
        api_token: token.map(Secret::new),
        metrics: Arc::new(|| {
            "# TYPE riverwatch_readings_received_total counter\nriverwatch_readings_received_total 42\n".to_string()
        }),
        health: Arc::new(move || {
            let ready = flag.load(Ordering::SeqCst);
            Health {
                ready,
                broker_connected: ready,
                store_reachable: true,
                spool_depth: 0,
                last_reading: BTreeMap::from([
                    ("DL03".into(), T0 + 5 * MINUTE),
                    ("DL04".into(), T0 - 2 * HOUR),
                ]),
            }
        }),
        replay: None,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, router(state)).await });
    Server {
        base,
        http: reqwest::Client::new(),
        ready,
        written,
        dir,
    }
}

fn segment(upstream: &[&str], downstream: &str) -> Segment {
    Segment {
        upstream: upstream.iter().map(|s| (*s).into()).collect(),
        downstream: downstream.into(),
    }
}

fn reading(station: &str, parameter: &str, time: i64, value: f64) -> Reading {
    Reading {
        station: station.into(),
        parameter: parameter.into(),
        time,
        value,
        flag: DataFlag::N,
    }
}

fn ids(page: &Value) -> Vec<&str> {
    page["leads"]
        .as_array()
        .expect("leads array")
        .iter()
        .map(|l| l["id"].as_str().expect("id"))
        .collect()
}

fn t(ms: i64) -> String {
    Rfc3339(ms).to_string()
}

#[tokio::test]
async fn filters_and_pagination_count_the_matching_leads() {
    let s = start(None).await;
    let (code, all) = s.get("/api/leads").await;
    assert_eq!(code, 200);
    assert_eq!(all["total"], 6);
    assert_eq!(ids(&all), ["F", "E", "D", "C", "B", "A"], "newest first");

    let cases = [
        (
            "category=standard_exceedance".to_string(),
            vec!["E", "D", "B"],
        ),
        ("station=DL03".to_string(), vec!["E", "B", "A"]),
        (format!("from={}", t(T0 + DAY)), vec!["F", "E"]),
        (format!("to={}", t(T0 + 2 * HOUR)), vec!["B", "A"]),
        (
            format!("station=DL04&from={}&to={}", t(T0), t(T0 + DAY)),
            vec!["D"],
        ),
        (
            "status=new&category=monitoring_anomaly".to_string(),
            vec!["C"],
        ),
        ("severity=critical".to_string(), vec!["D"]),
        ("severity=high".to_string(), vec!["F", "E", "C", "B", "A"]),
        ("segment=DL03".to_string(), vec!["A"]),
        ("segment=DL04&station=DL04".to_string(), vec!["D"]),
        ("segment=DL02".to_string(), vec![]),
    ];
    for (q, want) in cases {
        let (code, page) = s.get(&format!("/api/leads?{q}")).await;
        assert_eq!(code, 200, "{q}: {page}");
        assert_eq!(page["total"], want.len(), "{q}");
        assert_eq!(ids(&page), want, "{q}");
    }

    let (_, page) = s.get("/api/leads?limit=2&offset=1").await;
    assert_eq!(
        (page["total"].as_u64(), ids(&page)),
        (Some(6), vec!["E", "D"])
    );
    let (_, page) = s.get("/api/leads?limit=2&offset=5").await;
    assert_eq!(ids(&page), ["A"]);
    let (_, page) = s.get("/api/leads?limit=0").await;
    assert_eq!((page["total"].as_u64(), ids(&page).len()), (Some(6), 0));
}

#[tokio::test]
async fn lead_detail_carries_its_evidence_readings_from_the_store() {
    let s = start(None).await;
    let (code, d) = s.get("/api/leads/A").await;
    assert_eq!(code, 200, "{d}");
    assert_eq!(d["lead"]["id"], "A");
    assert_eq!(d["history"], json!([]));
    assert_eq!(d["evidence"]["truncated"], false);
    let want: Vec<&Reading> = s.evidence_of_a().collect();
    assert_eq!(want.len(), 18);
    let got = d["evidence"]["readings"].as_array().expect("readings");
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g["station"], "DL03");
        assert_eq!(g["parameter"], "nh3n");
        assert_eq!(
            parse_rfc3339(g["time"].as_str().expect("time")),
            Some(w.time)
        );
        assert_eq!(
            g["value"].as_f64(),
            Some(w.value),
            "values round-trip exactly"
        );
        assert_eq!(g["flag"], w.flag.letter().to_string());
    }
}

#[tokio::test]
async fn status_changes_need_the_bearer_token_and_keep_history() {
    let s = start(Some(TOKEN)).await;
    let ack = json!({"status": "acknowledged", "analyst": "wang", "note": "looking"});
    let (code, e) = s.post_status("B", None, ack.clone()).await;
    assert_eq!(code, 401, "{e}");
    assert!(e["error"].as_str().expect("error").contains("Bearer"));
    let (code, _) = s.post_status("B", Some("tok-9f2"), ack.clone()).await;
    assert_eq!(code, 401);
    let (_, d) = s.get("/api/leads/B").await;
    assert_eq!(d["lead"]["status"], "new", "refused changes change nothing");

    let (code, r) = s.post_status("B", Some(TOKEN), ack).await;
    assert_eq!(code, 200, "{r}");
    assert_eq!(r["lead"]["status"], "acknowledged");
    assert_eq!(r["history"].as_array().map(Vec::len), Some(1));
    let confirm = json!({"status": "confirmed", "analyst": "li", "note": "sample taken"});
    let (code, _) = s.post_status("B", Some(TOKEN), confirm).await;
    assert_eq!(code, 200);

    let (_, d) = s.get("/api/leads/B").await;
    assert_eq!(d["lead"]["status"], "confirmed");
    let h = d["history"].as_array().expect("history");
    assert_eq!(h.len(), 2);
    assert_eq!(
        (&h[0]["from"], &h[0]["to"], &h[0]["analyst"]),
        (&json!("new"), &json!("acknowledged"), &json!("wang"))
    );
    assert_eq!(
        (&h[1]["from"], &h[1]["to"], &h[1]["note"]),
        (
            &json!("acknowledged"),
            &json!("confirmed"),
            &json!("sample taken")
        )
    );
    let (_, page) = s.get("/api/leads?status=confirmed").await;
    assert_eq!(ids(&page), ["B"]);

    // Decisions made over HTTP are sealed in the ledger's chain: the lead's verification
    // covers them, and names one changed in the file afterwards.
    let chain = |v: &Value| (v["checks"][0]["name"].clone(), v["checks"][0]["ok"].clone());
    let (code, v) = s.get("/api/leads/B/verification").await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(chain(&v), (json!("chain"), json!(true)), "{v}");
    rusqlite::Connection::open(s.dir.path().join("ledger.sqlite"))
        .expect("raw")
        .execute(
            "UPDATE status_history SET note = 'no sample' WHERE analyst = 'li'",
            [],
        )
        .expect("tamper");
    let (_, v) = s.get("/api/leads/B/verification").await;
    assert_eq!(chain(&v), (json!("chain"), json!(false)), "{v}");
    let detail = v["checks"][0]["detail"].as_str().expect("detail");
    assert!(
        detail.contains("decision #2 on lead B (li, acknowledged → confirmed, ")
            && detail.contains("note: its text no longer has the sealed SHA-256"),
        "{detail}"
    );
    // Without the batch side (this router has none) the replay check is not offered.
    let (code, e) = s.get("/api/leads/B/verification?replay=true").await;
    assert_eq!(code, 501, "{e}");

    // Refusals of the body name the field; an unknown lead is 404.
    for (body, field) in [
        (json!({"status": "new", "analyst": "x"}), "status"),
        (json!({"status": "dismissed", "analyst": " "}), "analyst"),
    ] {
        let (code, e) = s.post_status("B", Some(TOKEN), body).await;
        assert_eq!(code, 400);
        assert!(e["error"].as_str().expect("error").contains(field), "{e}");
    }
    let (code, _) = s
        .post_status("B", Some(TOKEN), json!({"status": "dismissed"}))
        .await;
    assert_eq!(code, 400, "missing analyst");
    let body = json!({"status": "dismissed", "analyst": "x"});
    let (code, e) = s.post_status("nope", Some(TOKEN), body).await;
    assert_eq!(code, 404, "{e}");
}

#[tokio::test]
async fn without_a_configured_token_status_changes_are_forbidden() {
    let s = start(None).await;
    let body = json!({"status": "dismissed", "analyst": "wang"});
    let (code, e) = s.post_status("A", Some("anything"), body).await;
    assert_eq!(code, 403);
    assert!(
        e["error"]
            .as_str()
            .expect("error")
            .contains("RIVERWATCH_API_TOKEN"),
        "{e}"
    );
}

#[tokio::test]
async fn bad_requests_are_400_naming_the_parameter_and_unknown_things_404() {
    let s = start(None).await;
    let from = t(T0);
    let cases = [
        ("/api/leads?status=open".to_string(), "status"),
        ("/api/leads?limit=ten".to_string(), "limit"),
        ("/api/leads?from=2025-13-01T00:00:00Z".to_string(), "from"),
        ("/api/leads?sation=DL03".to_string(), "sation"),
        (
            format!("/api/readings?from={from}&to={}", t(T0 + HOUR)),
            "station",
        ),
        (format!("/api/readings?station=DL03&from={from}"), "to"),
        (
            format!(
                "/api/readings?station=DL03&from={from}&to={}",
                t(T0 + 32 * DAY)
            ),
            "to",
        ),
        (
            format!("/api/readings?station=DL03&from={}&to={from}", t(T0 + HOUR)),
            "to",
        ),
    ];
    for (path, name) in cases {
        let (code, e) = s.get(&path).await;
        assert_eq!(code, 400, "{path}: {e}");
        let msg = e["error"].as_str().expect("error");
        assert!(msg.contains(&format!("`{name}`")), "{path}: {msg}");
    }
    let (code, e) = s.get("/api/leads/no-such-lead").await;
    assert_eq!(code, 404);
    assert!(e["error"].as_str().expect("error").contains("no-such-lead"));
    let (code, _) = s.get("/api/nothing").await;
    assert_eq!(code, 404);
}

#[tokio::test]
async fn readings_window_stations_schema() {
    let s = start(None).await;
    let (from, to) = (T0, T0 + HOUR);
    let (code, r) = s
        .get(&format!(
            "/api/readings?station=DL03,DL04&from={}&to={}&parameter=do",
            t(from),
            t(to)
        ))
        .await;
    assert_eq!(code, 200, "{r}");
    let want = s
        .written
        .iter()
        .filter(|r| r.parameter.as_str() == "do" && (from..to).contains(&r.time))
        .count();
    assert_eq!(want, 12);
    assert_eq!(r["count"], want);
    assert_eq!(r["readings"].as_array().map(Vec::len), Some(want));

    let (code, st) = s.get("/api/stations").await;
    assert_eq!(code, 200);
    let list = st["stations"].as_array().expect("stations");
    assert_eq!(list.len(), Config::embedded().stations.list.len());
    let dl03 = list.iter().find(|x| x["id"] == "DL03").expect("DL03");
    assert_eq!(dl03["open_leads"], 3);
    assert_eq!(dl03["last_reading"], t(T0 + 5 * MINUTE));
    assert!(dl03["river"].is_string() && dl03["river_km"].is_number());
    assert!(dl03["upstream"].is_array() && dl03["target_class"].is_string());
    let dl01 = list.iter().find(|x| x["id"] == "DL01").expect("DL01");
    assert_eq!(
        (&dl01["open_leads"], &dl01["last_reading"]),
        (&json!(0), &Value::Null)
    );

    let (code, schema) = s.get("/api/schema/lead").await;
    assert_eq!(code, 200);
    let file: Value = serde_json::from_str(include_str!("../../../../docs/lead.schema.json"))
        .expect("schema file");
    assert_eq!(schema, file);
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let s = start(None).await;
    let (code, _) = s.get("/healthz").await;
    assert_eq!(code, 200);
    let (code, r) = s.get("/readyz").await;
    assert_eq!(code, 503, "{r}");
    assert_eq!(r["reasons"], json!(["mqtt broker not connected"]));
    s.ready.store(true, Ordering::SeqCst);
    let (code, r) = s.get("/readyz").await;
    assert_eq!(code, 200, "{r}");
    assert_eq!(r["last_reading"]["DL03"], t(T0 + 5 * MINUTE));

    let resp = s.raw("/metrics").await;
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.headers()["content-type"].to_str().ok(),
        Some("text/plain; version=0.0.4")
    );
    let text = resp.text().await.expect("text");
    assert!(
        text.contains("riverwatch_readings_received_total 42"),
        "{text}"
    );
}

#[tokio::test]
async fn odd_requests_get_a_json_refusal_never_a_server_error() {
    let s = start(Some(TOKEN)).await;
    let gets = [
        "/api/leads?%ff%fe=1",
        "/api/leads?limit=99999999999999999999",
        "/api/leads?offset=18446744073709551615",
        "/api/leads?from=2025-02-30T00:00:00Z",
        "/api/leads?status=",
        "/api/leads?=&&&",
        "/api/leads/%00%ff",
        "/api/leads/..%2F..%2Fetc",
        "/api/readings?station=,,,&from=2025-11-30T00:00:00Z&to=2025-11-30T01:00:00Z",
        "/api/readings?station=DL03&from=NaN&to=inf",
        "/api/readings?station=DL03&from=9999-12-31T23:59:59Z&to=2025-11-30T01:00:00Z",
    ];
    for path in gets {
        let (code, body) = s.get(path).await;
        assert!(code < 500, "{path}: {code} {body}");
        assert!(code == 200 || body["error"].is_string(), "{path}: {body}");
    }
    let url = format!("{}/api/leads/A/status", s.base);
    for (body, ctype, want) in [
        ("{", "application/json", 400),
        ("[]", "application/json", 400),
        (
            r#"{"status":"confirmed","analyst":"x","extra":1}"#,
            "application/json",
            400,
        ),
        (r#"{"status":"confirmed","analyst":"x"}"#, "text/plain", 415),
    ] {
        let resp = s
            .http
            .post(&url)
            .bearer_auth(TOKEN)
            .header("content-type", ctype)
            .body(body)
            .send()
            .await
            .expect("POST");
        let (code, answer) = answer(body, resp).await;
        assert_eq!(code, want, "{body}: {answer}");
        assert!(answer["error"].is_string(), "{answer}");
    }
    let (_, d) = s.get("/api/leads/A").await;
    assert_eq!(
        d["lead"]["status"], "new",
        "no refused body changed anything"
    );
}

#[tokio::test]
async fn the_list_counts_leads_per_status_under_the_other_filters() {
    let s = start(Some(TOKEN)).await;
    let body = json!({"status": "dismissed", "analyst": "wang"});
    assert_eq!(s.post_status("E", Some(TOKEN), body).await.0, 200);
    let (_, page) = s.get("/api/leads?station=DL03&status=new").await;
    assert_eq!(ids(&page), ["B", "A"]);
    assert_eq!(
        page["counts"],
        json!({"new": 2, "acknowledged": 0, "confirmed": 0, "dismissed": 1}),
        "counts ignore the status filter but keep the station"
    );
    let (_, page) = s.get("/api/leads?limit=0").await;
    assert_eq!(page["counts"]["new"], 5);
}

#[tokio::test]
async fn lead_detail_lists_revisions_and_the_evidence_downloads_as_csv() {
    let s = start(None).await;
    let (_, d) = s.get("/api/leads/A").await;
    let revs = d["revisions"].as_array().expect("revisions");
    assert_eq!(revs.len(), 2);
    assert_eq!(
        (&revs[0]["revision"], &revs[1]["revision"]),
        (&json!(1), &json!(2))
    );
    assert_eq!(revs[1]["recorded"], t(T0 + HOUR));
    assert_eq!(revs[1]["window"]["end"], t(T0 + 2 * HOUR));

    let resp = s.raw("/api/leads/A/evidence.csv").await;
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.headers()["content-type"].to_str().ok(),
        Some("text/csv; charset=utf-8")
    );
    let disposition = resp.headers()["content-disposition"].to_str().unwrap_or("");
    assert!(disposition.contains("evidence-A.csv"), "{disposition}");
    let text = resp.text().await.expect("text");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("time,station,parameter,value,flag"));
    let mut reader = riverwatch_engine::csv::LineReader::default();
    let got: Vec<Reading> = lines.map(|l| reader.parse(l).expect(l)).collect();
    let want: Vec<&Reading> = s.evidence_of_a().collect();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert_eq!(
            g, w,
            "the CSV reads back to the stored readings, flags included"
        );
    }
    let (code, _) = s.get("/api/leads/nope/evidence.csv").await;
    assert_eq!(code, 404);
}

#[tokio::test]
async fn limits_follow_the_station_class_and_parameters_carry_names() {
    let s = start(None).await;
    let (code, l) = s.get("/api/limits?station=DL03").await;
    assert_eq!(code, 200, "{l}");
    assert_eq!(
        (&l["target_class"], &l["water_body"]),
        (&json!("IV"), &json!("river"))
    );
    let find = |p: &str| {
        l["limits"]
            .as_array()
            .expect("limits")
            .iter()
            .find(|x| x["parameter"] == p)
            .cloned()
    };
    // GB 3838-2002 Table 1, class IV: NH3-N ≤ 1.5, DO ≥ 3, pH 6–9; no limit for conductivity.
    assert_eq!(
        find("nh3n"),
        Some(json!({"parameter": "nh3n", "kind": "max", "value": 1.5}))
    );
    assert_eq!(
        find("do"),
        Some(json!({"parameter": "do", "kind": "min", "value": 3.0}))
    );
    assert_eq!(
        find("ph"),
        Some(json!({"parameter": "ph", "kind": "range", "low": 6.0, "high": 9.0}))
    );
    assert_eq!(find("cond"), None);
    let (_, l2) = s.get("/api/limits?station=DL02").await;
    assert_eq!(l2["target_class"], "III");
    assert_ne!(l2["limits"], l["limits"], "class III is stricter");

    let (code, e) = s.get("/api/limits?station=XX99").await;
    assert_eq!(code, 404, "{e}");
    let (code, e) = s.get("/api/limits").await;
    assert_eq!(code, 400);
    assert!(e["error"].as_str().expect("error").contains("`station`"));

    let (code, p) = s.get("/api/parameters").await;
    assert_eq!(code, 200);
    let nh3n = p["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .find(|x| x["id"] == "nh3n")
        .expect("nh3n");
    assert_eq!(
        (&nh3n["name_zh"], &nh3n["unit"]),
        (&json!("氨氮"), &json!("mg/L"))
    );
}

#[tokio::test]
async fn stations_report_silent_stuck_and_out_of_range() {
    let s = start(None).await;
    let (_, st) = s.get("/api/stations").await;
    let health = |id: &str| {
        st["stations"]
            .as_array()
            .expect("stations")
            .iter()
            .find(|x| x["id"] == id)
            .map(|x| x["health"].clone())
            .expect("station")
    };
    // `readings` writes DO values around 12345 mg/L: out of range at both stations.
    let dl03 = health("DL03");
    assert_eq!(dl03["states"], json!(["out_of_range", "stuck"]), "{dl03}");
    assert_eq!(
        (&dl03["stuck"], &dl03["out_of_range"]),
        (&json!(["ph"]), &json!(["do", "turb"]))
    );
    let dl04 = health("DL04");
    assert_eq!(dl04["states"], json!(["silent", "out_of_range"]), "{dl04}");
    assert_eq!(dl04["silent_for_s"], 2 * 3600 + 5 * 60);
    assert_eq!(health("DL01")["states"], json!(["no_data"]));
}

#[tokio::test]
async fn the_web_page_and_every_module_it_imports_are_served_from_this_origin() {
    let s = &start(None).await;
    let fetch = |path: String| async move {
        let resp = s.raw(&path).await;
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let (ctype, csp) = (header("content-type"), header("content-security-policy"));
        let code = resp.status().as_u16();
        (code, ctype, csp, resp.text().await.expect("body"))
    };
    let (code, ctype, csp, html) = fetch("/".into()).await;
    assert_eq!((code, ctype.as_str()), (200, "text/html; charset=utf-8"));
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert!(html.contains("lang=\"zh-CN\""));

    // Follow every /ui/ reference of the page and every relative import of its modules.
    let mut todo: Vec<String> = refs(&html, "\"/ui/");
    let mut seen = std::collections::BTreeSet::new();
    while let Some(file) = todo.pop() {
        if !seen.insert(file.clone()) {
            continue;
        }
        let (code, ctype, _, body) = fetch(format!("/ui/{file}")).await;
        assert_eq!(code, 200, "/ui/{file}");
        if file.ends_with(".js") {
            assert_eq!(ctype, "text/javascript; charset=utf-8", "{file}");
            todo.extend(refs(&body, "from \"./"));
        }
        // No asset names another host (the SVG namespace is a name, never fetched).
        let external = body
            .replace("http://www.w3.org/2000/svg", "")
            .contains("://");
        assert!(!external, "{file} refers to another host");
    }
    assert!(seen.len() >= 9, "{seen:?}");
    for m in [
        "app.js",
        "inbox.js",
        "detail.js",
        "seal.js",
        "chart.js",
        "stations.js",
        "replay.js",
        "i18n.js",
    ] {
        assert!(seen.contains(m), "{m} is reachable from the page: {seen:?}");
    }
    let (code, _, _, body) = fetch("/ui/nothing.js".into()).await;
    assert_eq!(code, 404);
    assert!(body.contains("nothing.js"));
}

/// The file names that follow each `prefix` up to the closing quote.
fn refs(text: &str, prefix: &str) -> Vec<String> {
    text.split(prefix)
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn dossier_and_intake_export_are_served_as_files() {
    use calamine::{Data, Reader, Xlsx};
    let s = start(None).await;
    let (code, kind, body) = s.bytes("/api/leads/A/dossier").await;
    assert_eq!((code, kind.as_str()), (200, "text/html; charset=utf-8"));
    let html = String::from_utf8(body).expect("utf-8");
    let (_, detail) = s.get("/api/leads/A").await;
    let digest = detail["evidence"]["digest"].as_str().expect("digest");
    let mine: Vec<Reading> = s.evidence_of_a().cloned().collect();
    assert_eq!(digest, riverwatch_live::report::evidence_digest(&mine));
    assert_eq!(detail["evidence"]["total"], 18);
    for want in [
        "线索编号",
        "疑似偷排",
        "东辽河",
        "超标倍数",
        "1.50",
        digest,
        // Recorded through the ledger, so sealed in its chain.
        "已封存",
    ] {
        assert!(html.contains(want), "dossier lacks {want}");
    }
    let (_, _, en) = s.bytes("/api/leads/A/dossier?lang=en").await;
    assert!(String::from_utf8_lossy(&en).contains("Lead number"));
    let (code, e) = s.get("/api/leads/A/dossier?lang=fr").await;
    assert_eq!(code, 400);
    assert!(e["error"].as_str().unwrap().contains("`lang`"), "{e}");
    let (code, e) = s.get("/api/leads/ZZ/dossier").await;
    assert_eq!(code, 404, "{e}");

    let (code, kind, body) = s.bytes("/api/leads/export?format=xlsx&station=DL03").await;
    assert_eq!(code, 200);
    assert_eq!(
        kind,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let mut book: Xlsx<_> = Xlsx::new(std::io::Cursor::new(body)).expect("xlsx");
    let sheet = book.worksheet_range("线索").expect("sheet");
    let ids: Vec<&Data> = sheet.rows().map(|r| &r[0]).collect();
    assert_eq!(
        ids,
        [
            &Data::String("线索编号".into()),
            &Data::String("E".into()),
            &Data::String("B".into()),
            &Data::String("A".into())
        ]
    );
    // Recorded without sealed evidence: the digest computed now, marked as such.
    assert_eq!(
        sheet.get((3, 11)),
        Some(&Data::String(format!(
            "{digest}（未封存：导出时按读数库计算）"
        )))
    );

    let (code, kind, body) = s
        .bytes("/api/leads/export?format=csv&lang=en&category=monitoring_anomaly")
        .await;
    assert_eq!((code, kind.as_str()), (200, "text/csv; charset=utf-8"));
    let text = String::from_utf8(body).expect("utf-8");
    assert!(
        text.starts_with("\u{feff}Lead number,Detected at,River,"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.contains(",东辽河,"), "{text}");
    for (q, name) in [
        ("format=pdf", "`format`"),
        ("limit=5", "`limit`"),
        ("lang=de", "`lang`"),
    ] {
        let (code, e) = s.get(&format!("/api/leads/export?{q}")).await;
        assert_eq!(code, 400, "{q}");
        assert!(e["error"].as_str().unwrap().contains(name), "{q}: {e}");
    }
}
