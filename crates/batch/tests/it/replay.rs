use crate::{config, load, simulate};
use riverwatch_batch::frames::Window;
use riverwatch_batch::replay::{diff, replay, Ending};
use riverwatch_batch::source::{Reader, Source};
use riverwatch_batch::{recorded, report};
use riverwatch_engine::csv::LineReader;
use riverwatch_engine::eval::{evaluate, EvalOptions};
use riverwatch_engine::sim::Scenario;
use riverwatch_engine::{Engine, Lead, Output, Severity, StationId};
use riverwatch_live::Ledger;
use std::io::BufRead;
use std::sync::Arc;

#[test]
fn replay_report_covers_every_lead_and_the_known_events() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(4, 7);
    let w = simulate(dir.path(), "typical", &cfg, Scenario::Typical, 7, 21, true);
    let readings = load(&w);
    let mut seen = 0;
    let r = replay(
        Engine::new(Arc::new(cfg.clone())),
        &readings,
        Ending::Flush,
        &mut |n| seen = n,
    );
    assert_eq!(seen as usize, readings.len());
    assert_eq!(r.stats.judged as usize, readings.len());
    // The simulated discharges are there to be found.
    let eval = evaluate(&w.truth, &r.events, &r.leads, &EvalOptions::default());
    assert!(eval.recall.of > 0, "the window has pollution truths");
    assert!(eval.recall.count > 0, "{}", eval.table());
    assert!(!r.leads.is_empty());

    let out = dir.path().join("report");
    let source = Reader::open(
        &Source::Csv(w.csv.clone()),
        &Window {
            from: w.from,
            to: w.to,
            stations: vec![],
        },
        None,
    )
    .unwrap();
    let lookup = |stations: &[StationId], from, to| {
        source
            .readings(stations, from, to)
            .map_err(std::io::Error::other)
    };
    let html = report::write(&out, &cfg, &lookup, &r, None).unwrap();
    let lines = |name: &str| std::fs::read_to_string(out.join(name)).unwrap();
    let leads: Vec<Lead> = lines("leads.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(leads, r.leads);
    let mut ids: Vec<&str> = leads.iter().map(|l| l.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), leads.len(), "one line per lead id");
    assert_eq!(lines("events.jsonl").lines().count(), r.events.len());
    let summary = lines("summary.csv");
    assert_eq!(summary.lines().count(), leads.len() + 1);
    let page = std::fs::read_to_string(html).unwrap();
    let mut limits = 0;
    for lead in &leads {
        assert!(summary.contains(&lead.id));
        let name = report::chart_name(lead);
        assert!(
            page.contains(&format!("charts/{name}")),
            "{name} not linked"
        );
        let svg = std::fs::read_to_string(out.join("charts").join(&name)).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.contains("<polyline"),
            "{name}"
        );
        assert_eq!(
            svg.matches("font-weight=\"bold\"").count(),
            lead.parameters.len()
        );
        assert!(svg.contains("<circle"), "detection points drawn in {name}");
        if lead.parameters.iter().any(|p| p.limit.is_some()) {
            assert!(svg.contains("GB 3838"), "{name}");
            limits += 1;
        }
        let upstream = cfg
            .stations
            .get(lead.station.as_str())
            .and_then(|s| s.upstream.first());
        if let Some((up, _)) = upstream {
            assert!(
                svg.contains(&format!(">{up} +")),
                "upstream series in {name}"
            );
        }
    }
    assert!(
        limits > 0,
        "some lead concerns a parameter with a GB 3838 limit"
    );
}

/// What `detect` does: the CSV lines in file order straight into the engine.
fn detect(path: &std::path::Path, engine: &mut Engine) -> (Vec<String>, Vec<String>) {
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let mut parser = LineReader::default();
    let mut out = Output::default();
    let (mut events, mut leads) = (Vec::new(), Vec::new());
    for line in file.lines().skip(1) {
        let r = parser.parse(&line.unwrap()).unwrap();
        engine.push(&r, &mut out);
        events.extend(
            out.events
                .drain(..)
                .map(|e| serde_json::to_string(&e).unwrap()),
        );
        leads.extend(out.leads.drain(..).map(|l| l.id));
    }
    engine.finish(&mut out);
    events.extend(
        out.events
            .drain(..)
            .map(|e| serde_json::to_string(&e).unwrap()),
    );
    leads.extend(out.leads.drain(..).map(|l| l.id));
    leads.dedup();
    (events, leads)
}

#[test]
fn replay_of_a_csv_equals_detect() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Arc::new(config(3, 11));
    let w = simulate(dir.path(), "stormy", &cfg, Scenario::Stormy, 11, 10, true);
    let (events, mut lead_ids) = detect(&w.csv, &mut Engine::new(cfg.clone()));
    assert!(!events.is_empty());
    let r = replay(Engine::new(cfg), &load(&w), Ending::Flush, &mut |_| {});
    let replayed: Vec<String> = r
        .events
        .iter()
        .map(|e| serde_json::to_string(e).unwrap())
        .collect();
    assert_eq!(replayed, events);
    let mut ids: Vec<String> = r.leads.iter().map(|l| l.id.clone()).collect();
    ids.sort();
    lead_ids.sort();
    lead_ids.dedup();
    assert_eq!(ids, lead_ids);
}

#[test]
fn diff_against_the_ledger_finds_new_missing_and_changed_leads() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Arc::new(config(4, 7));
    let w = simulate(dir.path(), "typical", &cfg, Scenario::Typical, 7, 21, true);
    let r = replay(Engine::new(cfg), &load(&w), Ending::Flush, &mut |_| {});
    assert!(r.leads.len() >= 3, "{} leads", r.leads.len());
    // The "live" ledger: every lead but the first, the second with another severity, and
    // one lead the replay does not make.
    let mut live: Vec<Lead> = r.leads[1..].to_vec();
    live[0].severity = if live[0].severity == Severity::High {
        Severity::Low
    } else {
        Severity::High
    };
    let mut extra = live[1].clone();
    extra.id = "L-not-replayed".into();
    live.push(extra);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let from_ledger = rt.block_on(async {
        let ledger = Ledger::open(&dir.path().join("ledger.sqlite")).unwrap();
        for l in &live {
            ledger.record_revision(l, l.window.end).await.unwrap();
        }
        recorded::leads(&ledger, w.from, w.to, None).await.unwrap()
    });
    assert_eq!(from_ledger.len(), live.len());
    let d = diff(&r.leads, &from_ledger);
    assert_eq!(d.new, vec![r.leads[0].id.clone()]);
    assert_eq!(d.missing, vec!["L-not-replayed".to_string()]);
    assert_eq!(d.changed, vec![(r.leads[1].id.clone(), vec!["severity"])]);
    assert_eq!(d.same, r.leads.len() - 2);
    assert!(d.to_string().contains("1 new, 1 missing, 1 changed"));
}
