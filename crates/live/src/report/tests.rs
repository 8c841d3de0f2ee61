//! Dossiers and intake sheets of leads the engine found in simulated river data.

use super::*;
use crate::store::{reading_order, SqliteStore};
use riverwatch_engine::leads::{Category, Note, Status};
use riverwatch_engine::sim::{Scenario, SimOptions, Simulator};
use riverwatch_engine::time::{parse_rfc3339, DAY, HOUR};
use riverwatch_engine::{Engine, Output, Reading};
use std::sync::{Arc, OnceLock};

/// Runs the engine over `days` of the `typical` scenario (seed 7, from 2024-07-01): the config,
/// the latest revision of every lead, and every reading.
fn run(days: i64) -> (Config, Vec<Lead>, Vec<Reading>) {
    let cfg = Config::embedded();
    let start = parse_rfc3339("2024-07-01T00:00:00Z").unwrap();
    let opts = SimOptions::new(Scenario::Typical, 7, start, days * DAY);
    let mut sim = Simulator::new(&cfg.stations, &cfg.gb3838, opts).unwrap();
    let mut engine = Engine::new(Arc::new(cfg.clone()));
    let (mut out, mut tick, mut readings) = (Output::default(), Vec::new(), Vec::new());
    let mut leads: Vec<Lead> = Vec::new();
    let mut keep = |out: &mut Output| {
        for l in out.leads.drain(..) {
            match leads.iter_mut().find(|x| x.id == l.id) {
                Some(x) => *x = l,
                None => leads.push(l),
            }
        }
        out.events.clear();
    };
    while sim.next_tick(&mut tick).is_some() {
        for r in &tick {
            let r = sim.to_reading(r);
            engine.push(&r, &mut out);
            keep(&mut out);
            readings.push(r);
        }
    }
    engine.finish(&mut out);
    keep(&mut out);
    (cfg, leads, readings)
}

/// Five simulated days, computed once per test binary.
fn simulated() -> &'static (Config, Vec<Lead>, Vec<Reading>) {
    static RUN: OnceLock<(Config, Vec<Lead>, Vec<Reading>)> = OnceLock::new();
    RUN.get_or_init(|| run(5))
}

/// The readings `lead.evidence` names, in store order, as a store would answer.
fn evidence_of(lead: &Lead, readings: &[Reading]) -> Evidence {
    let q = &lead.evidence;
    let mut v: Vec<Reading> = readings
        .iter()
        .filter(|r| {
            q.stations.contains(&r.station)
                && q.parameters.contains(&r.parameter)
                && (q.from..q.to).contains(&r.time)
        })
        .cloned()
        .collect();
    v.sort_by(reading_order);
    Evidence {
        total: v.len() as u64,
        truncated: false,
        digest: evidence_digest(&v),
        readings: v,
    }
}

/// The lead of `category` whose largest exceedance multiple is largest.
fn worst(leads: &[Lead], category: Category) -> &Lead {
    let top = |l: &Lead| {
        l.parameters
            .iter()
            .filter_map(|p| p.exceedance_multiple)
            .fold(0.0, f64::max)
    };
    leads
        .iter()
        .filter(|l| l.category == category)
        .max_by(|a, b| top(a).total_cmp(&top(b)))
        .unwrap_or_else(|| panic!("no {category:?} lead in the simulated days"))
}

fn render(lead: &Lead, lang: Lang) -> (String, Evidence) {
    let (cfg, _, readings) = simulated();
    let ev = evidence_of(lead, readings);
    let html = render_dossier(&DossierInput {
        seal: None,
        recheck: None,
        lead,
        config: cfg,
        evidence: &Ok(ev.clone()),
        lang,
    });
    (html, ev)
}

fn contains_all(html: &str, needles: &[&str]) {
    for n in needles {
        assert!(html.contains(n), "dossier lacks {n:?}");
    }
}

#[test]
fn discharge_dossier_states_limits_multiples_and_digest() {
    let (cfg, leads, _) = simulated();
    let lead = worst(leads, Category::SuspectedDischarge);
    let (html, ev) = render(lead, Lang::Zh);
    contains_all(
        &html,
        &[
            "<html lang=\"zh-CN\">",
            "线索编号",
            &lead.id,
            "线索类别",
            "疑似偷排",
            "所在河流",
            "东辽河",
            "监测站/河段",
            "河流公里",
            "时间窗口",
            "持续时长",
            "实测峰值",
            "基线",
            "超标倍数",
            "检测方法",
            "置信度",
            "证据表",
            "封存信息",
            "研判记录",
            "暂无研判记录",
            "未封存",
            &lead.config_hash,
            &ev.digest,
            "@page { size: A4;",
        ],
    );
    assert!(
        ev.total > 20,
        "the evidence window holds readings: {}",
        ev.total
    );
    contains_all(&html, &[&format!("证据读数条数</th><td>{}</td>", ev.total)]);
    let station = cfg.stations.get(lead.station.as_str()).unwrap();
    contains_all(
        &html,
        &[
            &words::duration(Lang::Zh, lead.window.end - lead.window.start),
            &format!("{} km", words::number(station.river_km)),
        ],
    );
    let mut multiples = 0;
    for p in &lead.parameters {
        contains_all(&html, &[&figures::value(p.peak, &p.unit)]);
        let (Some(limit), Some(m)) = (p.limit, p.exceedance_multiple) else {
            continue;
        };
        if m > 0.0 {
            // The standard's multiple: (C − Cs) / Cs, as the lead recorded it.
            assert!((m - (p.peak - limit) / limit).abs() < 1e-3, "{p:?}");
            contains_all(&html, &[&format!("<td class=\"num breach\">{m:.2}</td>")]);
            contains_all(&html, &[&format!("≤ {} mg/L", words::number(limit))]);
            multiples += 1;
        }
    }
    assert!(multiples >= 2, "the worst discharge breaches several items");
    let class = words::class(Lang::Zh, lead.parameters[0].limit_class.unwrap());
    let classes: std::collections::BTreeSet<_> = lead
        .parameters
        .iter()
        .filter_map(|p| p.limit_class)
        .collect();
    if classes.len() == 1 {
        contains_all(&html, &[&format!("标准限值（GB 3838-2002 {class}）")]);
    }
    let params: std::collections::BTreeSet<_> =
        lead.parameters.iter().map(|p| &p.parameter).collect();
    assert_eq!(html.matches("<svg ").count(), params.len());
    assert!(html.contains("stroke-dasharray=\"6 3\""), "limit lines");
    for d in &lead.detectors {
        contains_all(&html, &[words::detector(Lang::Zh, d.detector).1]);
    }
    for english in [
        "Station / segment",
        "Evidence digest",
        "not sealed",
        "Lead number",
    ] {
        assert!(
            !html.contains(english),
            "English label {english:?} in the Chinese dossier"
        );
    }
    // Self-contained: no scripts, no linked files; the only URL is the SVG namespace.
    assert!(!html.contains("<script") && !html.contains("<link") && !html.contains("src="));
    assert_eq!(
        html.matches("http").count(),
        html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count()
    );
}

#[test]
fn monitoring_anomaly_dossier_says_why_no_limit_applies() {
    let (cfg, leads, _) = simulated();
    let lead = leads
        .iter()
        .find(|l| {
            l.category == Category::MonitoringAnomaly
                && l.parameters.iter().any(|p| {
                    let st = cfg.stations.get(p.station.as_str()).unwrap();
                    p.limit.is_none()
                        && cfg
                            .gb3838
                            .limit(p.parameter.as_str(), st.target_class, st.water_body)
                            .is_some()
                })
        })
        .expect("a monitoring anomaly on an item the standard covers");
    let (html, ev) = render(lead, Lang::Zh);
    contains_all(
        &html,
        &[
            "监测异常",
            "监测异常线索：读数本身存疑，不据以评价是否超标",
            &ev.digest,
            &lead.config_hash,
            "未使用训练模型",
        ],
    );
    for d in &lead.detectors {
        let (name, meaning) = words::detector(Lang::Zh, d.detector);
        contains_all(&html, &[name, meaning]);
    }
    // Every item without a limit says why; no row is left with a bare dash for a reason.
    for f in figures::figures(lead, cfg, Lang::Zh) {
        assert!(!f.remark.is_empty(), "{:?}", f.summary);
    }
    let other = leads
        .iter()
        .find(|l| l.parameters.iter().any(|p| p.parameter.as_str() == "cond"))
        .unwrap();
    let (html, _) = render(other, Lang::Zh);
    contains_all(&html, &["GB 3838-2002 未规定该项目限值，仅与本站基线比较"]);
}

#[test]
fn ph_and_do_have_no_multiple_but_say_how_far() {
    let (cfg, leads, _) = simulated();
    let with = |id: &str| {
        leads
            .iter()
            .find(|l| {
                l.parameters
                    .iter()
                    .any(|p| p.parameter.as_str() == id && p.limit.is_some())
            })
            .unwrap_or_else(|| panic!("a lead with a {id} limit"))
    };
    for (id, words_zh) in [("ph", "pH 不计算超标倍数"), ("do", "溶解氧")] {
        let lead = with(id);
        let figs = figures::figures(lead, cfg, Lang::Zh);
        let f = figs
            .iter()
            .find(|f| f.summary.parameter.as_str() == id)
            .unwrap();
        assert_eq!(f.multiple, None, "{id} has no exceedance multiple");
        assert!(f.remark.contains(words_zh), "{id}: {}", f.remark);
        if id == "ph" && f.breach {
            assert!(f.remark.contains("超出 6–9 范围"), "{}", f.remark);
        }
    }
}

#[test]
fn english_dossier_has_english_labels() {
    let (_, leads, _) = simulated();
    let lead = worst(leads, Category::SuspectedDischarge);
    let (html, ev) = render(lead, Lang::En);
    contains_all(
        &html,
        &[
            "<html lang=\"en\">",
            "Lead number",
            "suspected discharge",
            "Exceedance multiple",
            "Limit (GB 3838-2002 class",
            "not sealed",
            &ev.digest,
        ],
    );
    for zh in ["线索编号", "超标倍数", "未封存", "证据表"] {
        assert!(
            !html.contains(zh),
            "Chinese label {zh:?} in the English dossier"
        );
    }
}

#[test]
fn long_evidence_tables_show_both_ends_and_the_count() {
    let (_, leads, _) = simulated();
    let lead = worst(leads, Category::SuspectedDischarge);
    let (html, ev) = render(lead, Lang::Zh);
    let table = &html[html.find("<table class=\"ev\">").unwrap()..];
    let table = &table[..table.find("</table>").unwrap()];
    assert_eq!(table.matches("<tr><td>").count(), 20);
    contains_all(table, &[&format!("…… 中间 {} 条从略 ……", ev.total - 20)]);
    let last = ev.readings.last().unwrap();
    contains_all(table, &[&words::time(last.time), &last.value.to_string()]);
}

/// A minimal RFC 4180 reader: fields, quoted fields with doubled quotes, CRLF or LF.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = vec![];
    let (mut row, mut field, mut quoted) = (vec![], String::new(), false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => row.push(std::mem::take(&mut field)),
            ('\r', false) => {}
            ('\n', false) => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (c, _) => field.push(c),
        }
    }
    rows
}

fn sheet_rows(lang: Lang) -> Vec<[Cell; intake::COLUMNS]> {
    let (cfg, leads, readings) = simulated();
    leads
        .iter()
        .map(|l| {
            let d = evidence_of(l, readings).digest;
            intake_row(l, cfg, SheetDigest::Sealed(&d), lang)
        })
        .collect()
}

#[test]
fn csv_sheet_round_trips_chinese_text() {
    let (_, leads, _) = simulated();
    let rows = sheet_rows(Lang::Zh);
    let bytes = intake_csv(&rows, Lang::Zh);
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF", "UTF-8 byte-order mark");
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let parsed = parse_csv(&text);
    assert_eq!(
        parsed[0],
        [
            "线索编号",
            "发现时间",
            "所在河流",
            "监测站/河段",
            "线索类别",
            "超标项目",
            "超标倍数",
            "持续时长",
            "严重程度",
            "置信度",
            "状态",
            "证据摘要值"
        ]
    );
    assert_eq!(parsed.len(), leads.len() + 1);
    for (row, cells) in parsed[1..].iter().zip(&rows) {
        let expected: Vec<String> = cells
            .iter()
            .map(|c| match c {
                Cell::Text(s) => s.clone(),
                Cell::Percent(v) => words::percent(*v),
            })
            .collect();
        assert_eq!(row, &expected);
    }
    let lead = worst(leads, Category::SuspectedDischarge);
    let row = parsed.iter().find(|r| r[0] == lead.id).unwrap();
    assert_eq!(row[2], "东辽河");
    assert_eq!(row[4], "疑似偷排");
    assert_eq!(row[10], "待研判");
    assert!(row[3].starts_with(lead.station.as_str()), "{}", row[3]);
    assert!(
        row[5].contains("氨氮") || row[5].contains("高锰酸盐指数"),
        "{}",
        row[5]
    );
    let top = lead
        .parameters
        .iter()
        .filter_map(|p| p.exceedance_multiple)
        .fold(0.0, f64::max);
    assert!(
        row[6].contains(&format!("{top:.2}")),
        "{} lacks {top:.2}",
        row[6]
    );
    assert_eq!(row[11].len(), 64, "the evidence digest");
}

#[test]
fn xlsx_sheet_reads_back() {
    use calamine::{Data, Reader, Xlsx};
    let rows = sheet_rows(Lang::Zh);
    let bytes = intake_xlsx(&rows, Lang::Zh).unwrap();
    let mut book: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
    assert_eq!(book.sheet_names(), ["线索"]);
    let range = book.worksheet_range("线索").unwrap();
    let cells: Vec<Vec<Data>> = range.rows().map(|r| r.to_vec()).collect();
    assert_eq!(cells.len(), rows.len() + 1);
    assert_eq!(cells[0][0], Data::String("线索编号".into()));
    assert_eq!(cells[0][11], Data::String("证据摘要值".into()));
    for (read, written) in cells[1..].iter().zip(&rows) {
        for (r, w) in read.iter().zip(written) {
            match w {
                Cell::Text(s) if s.is_empty() => assert_eq!(r, &Data::Empty),
                Cell::Text(s) => assert_eq!(r, &Data::String(s.clone())),
                Cell::Percent(v) => assert_eq!(r, &Data::Float(*v)),
            }
        }
    }
    let en = intake_xlsx(&sheet_rows(Lang::En), Lang::En).unwrap();
    let mut book: Xlsx<_> = Xlsx::new(std::io::Cursor::new(en)).unwrap();
    let range = book.worksheet_range("Leads").unwrap();
    assert_eq!(range.get((0, 4)), Some(&Data::String("Category".into())));
}

/// The dossier and sheet the service serves: lead from a real ledger, evidence from a real
/// SQLite store, identical to rendering the same inputs in memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_ledger_and_store() {
    let (cfg, leads, readings) = simulated();
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(&dir.path().join("ledger.sqlite")).unwrap();
    let store = SqliteStore::open(&dir.path().join("readings.sqlite")).unwrap();
    store.write(readings).await.unwrap();
    for l in leads {
        ledger.record_revision(l, 0).await.unwrap();
    }
    let lead = worst(leads, Category::SuspectedDischarge);
    let at = lead.window.end + HOUR;
    ledger
        .set_status(
            &lead.id,
            Status::Confirmed,
            "王某",
            "现场采样：氨氮 5.1 mg/L",
            at,
        )
        .await
        .unwrap();
    let html = dossier(&ledger, Some(&store), cfg, &lead.id, Lang::Zh)
        .await
        .unwrap();
    let mut noted = lead.clone();
    noted.status = Status::Confirmed;
    noted.notes = vec![Note {
        time: at,
        analyst: "王某".into(),
        status: Some(Status::Confirmed),
        text: "现场采样：氨氮 5.1 mg/L".into(),
    }];
    // The same document as rendered in memory with the ledger's seal of the lead.
    let (_, ev) = render(&noted, Lang::Zh);
    let seal = ledger.sealed_revision(&lead.id, None).await.unwrap();
    assert!(seal.is_some(), "recorded through the ledger, so sealed");
    let want = render_dossier(&DossierInput {
        seal: seal.as_ref(),
        lead: &noted,
        config: cfg,
        evidence: &Ok(ev),
        lang: Lang::Zh,
        recheck: None,
    });
    assert_eq!(html, want);
    contains_all(
        &html,
        &["已确认", "王某", "现场采样：氨氮 5.1 mg/L", "已封存"],
    );

    let offline = dossier::<SqliteStore>(&ledger, None, cfg, &lead.id, Lang::Zh)
        .await
        .unwrap();
    contains_all(
        &offline,
        &["证据读数无法读取", "未连接读数库", &lead.config_hash],
    );
    let missing = dossier(&ledger, Some(&store), cfg, "nope", Lang::Zh).await;
    assert!(matches!(missing, Err(ReportError::NotFound(_))));

    let filter = LeadFilter {
        status: Some(Status::Confirmed),
        ..LeadFilter::default()
    };
    let csv = intake_sheet(
        &ledger,
        Some(&store),
        cfg,
        filter,
        SheetFormat::Csv,
        Lang::Zh,
    )
    .await
    .unwrap();
    let rows = parse_csv(std::str::from_utf8(&csv[3..]).unwrap());
    assert_eq!(rows.len(), 2, "header and the one confirmed lead");
    assert_eq!(rows[1][0], lead.id);
    assert_eq!(rows[1][10], "已确认");
    // Recorded without sealed evidence: the digest is computed now, and the cell says so.
    assert_eq!(
        rows[1][11],
        format!(
            "{}（未封存：导出时按读数库计算）",
            evidence_of(lead, readings).digest
        )
    );
}

/// The whole ledger's CSV intake sheet, parsed.
async fn sheet_cells(ledger: &Ledger, store: Option<&SqliteStore>, lang: Lang) -> Vec<Vec<String>> {
    let (cfg, _, _) = simulated();
    let filter = LeadFilter::default();
    let bytes = intake_sheet(ledger, store, cfg, filter, SheetFormat::Csv, lang)
        .await
        .unwrap();
    parse_csv(std::str::from_utf8(&bytes[3..]).unwrap())
}

/// A lead sealed with its evidence shows the sealed digest in the sheet — read from the
/// ledger, so the same without a store — and an unsealed one the computed digest or why none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intake_digest_is_the_sealed_one() {
    use crate::seal::evidence::{canonical_csv, collect, EvidenceSpec};
    use crate::seal::records::SealInput;
    let (cfg, leads, readings) = simulated();
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(&dir.path().join("ledger.sqlite")).unwrap();
    let store = SqliteStore::open(&dir.path().join("readings.sqlite")).unwrap();
    store.write(readings).await.unwrap();
    let sealed = worst(leads, Category::SuspectedDischarge);
    let unsealed = worst(leads, Category::StandardExceedance);
    let mut seen = std::collections::BTreeMap::new();
    for r in readings {
        let t = seen.entry(r.station.to_string()).or_insert(r.time);
        *t = (*t).max(r.time);
    }
    let input = SealInput::gather(&store, sealed, seen.clone(), None, Arc::new(cfg.clone())).await;
    assert!(ledger.record_sealed(sealed, input, 0).await.unwrap());
    assert!(ledger.record_revision(unsealed, 0).await.unwrap());
    // The sealed digest, recomputed independently: SHA-256 of the canonical CSV of the
    // sealed readings. With every reading seen, the sealed set is the evidence query's, and
    // the digest of the query's readings is the same definition, so the same value.
    let spec = EvidenceSpec::of(sealed, &seen);
    let want =
        crate::seal::sha256_hex(canonical_csv(&collect(&store, &spec).await.unwrap()).as_bytes());
    assert_eq!(want, evidence_of(sealed, readings).digest);

    let cell =
        |rows: &[Vec<String>], id: &str| rows.iter().find(|r| r[0] == id).unwrap()[11].clone();
    let offline = sheet_cells(&ledger, None, Lang::Zh).await;
    assert_eq!(cell(&offline, &sealed.id), want);
    assert_eq!(
        cell(&offline, &unsealed.id),
        "未计算（未封存，未读取证据读数）"
    );
    let online = sheet_cells(&ledger, Some(&store), Lang::En).await;
    assert_eq!(cell(&online, &sealed.id), want);
    assert_eq!(
        cell(&online, &unsealed.id),
        format!(
            "{} (not sealed: computed from the store at export)",
            evidence_of(unsealed, readings).digest
        )
    );

    // The dossier's evidence digest is the sealed one too, checked against the store now.
    let page = || async {
        dossier(&ledger, Some(&store), cfg, &sealed.id, Lang::En)
            .await
            .unwrap()
    };
    let same = "re-read from the store now with the sealed definition: same digest";
    contains_all(&page().await, &[&want, same]);
    let mut changed = collect(&store, &spec).await.unwrap()[0].clone();
    changed.value += 1.0;
    store.write(std::slice::from_ref(&changed)).await.unwrap();
    let named = format!("{}/{}: a reading", changed.station, changed.parameter);
    let differs = "re-read from the store now with the sealed definition: differs";
    contains_all(&page().await, &[&want, differs, &named]);
}

const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../docs/example-dossier.html"
);

/// The committed example is what this code renders for the worst simulated discharge (with
/// one analyst decision). After a deliberate change, regenerate it with
/// `RIVERWATCH_BLESS=1 cargo test -p riverwatch-live --lib report::tests::example_dossier`.
#[test]
fn example_dossier_is_current() {
    let (_, leads, _) = simulated();
    let mut lead = worst(leads, Category::SuspectedDischarge).clone();
    lead.status = Status::Acknowledged;
    lead.notes = vec![Note {
        time: lead.window.end + 2 * HOUR,
        analyst: "李明（示例）".into(),
        status: Some(Status::Acknowledged),
        text: "已转属地生态环境部门现场核查排口（示例记录）".into(),
    }];
    let (html, _) = render(&lead, Lang::Zh);
    if std::env::var_os("RIVERWATCH_BLESS").is_some() {
        std::fs::write(EXAMPLE, &html).unwrap();
    }
    let committed = std::fs::read_to_string(EXAMPLE).unwrap_or_default();
    assert!(
        committed == html,
        "docs/example-dossier.html is not what the current code renders; regenerate it with \
         RIVERWATCH_BLESS=1 cargo test -p riverwatch-live --lib report::tests::example_dossier"
    );
}
