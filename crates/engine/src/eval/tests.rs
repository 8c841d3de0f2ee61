//! Hand-made truth/event pairs, including the edge cases.

use super::*;
use crate::leads::{EvidenceQuery, Severity, Status, Window};
use crate::sim::SimulationHeader;
use crate::time::MINUTE;

const T0: Millis = 1_720_000_000_000;
const IV: Millis = 5 * MINUTE;

fn window(station: &str, start_h: f64, end_h: f64, ratio: Option<f64>) -> TruthStation {
    TruthStation {
        station: station.into(),
        start: T0 + (start_h * HOUR as f64) as Millis,
        end: T0 + (end_h * HOUR as f64) as Millis,
        parameters: vec!["nh3n".into()],
        peak_ratio_to_limit: ratio,
        interval: IV,
    }
}

fn truth(id: &str, kind: TruthKind, stations: Vec<TruthStation>) -> TruthRecord {
    let segment = (kind.category() == TruthCategory::SuspectedDischarge).then(|| Segment {
        upstream: vec!["A".into()],
        downstream: stations[0].station.clone(),
    });
    TruthRecord {
        id: id.into(),
        kind,
        category: kind.category(),
        source_segment: segment,
        release: None,
        start: stations.iter().map(|s| s.start).min().unwrap(),
        end: stations.iter().map(|s| s.end).max().unwrap(),
        stations,
        detail: String::new(),
        related: None,
    }
}

fn event(id: &str, station: &str, start_h: f64, end_h: f64, kind: EventKind) -> Event {
    Event {
        id: id.into(),
        station: station.into(),
        parameters: vec!["nh3n".into()],
        start: T0 + (start_h * HOUR as f64) as Millis,
        end: T0 + (end_h * HOUR as f64) as Millis,
        score: 0.9,
        kind,
        detectors: vec![],
        segment: None,
        lead: None,
        findings: 3,
    }
}

fn file(records: Vec<TruthRecord>) -> TruthFile {
    TruthFile {
        header: Some(SimulationHeader {
            version: 1,
            scenario: "typical".into(),
            seed: 1,
            start: T0,
            end: T0 + 14 * DAY,
            interval: IV,
            analyser_interval: 4 * HOUR,
            stations: vec!["B".into(), "C".into()],
        }),
        records,
    }
}

fn eval(t: &TruthFile, e: &[Event]) -> Report {
    evaluate(t, e, &[], &EvalOptions::default())
}

#[test]
fn no_events_means_nothing_detected_and_no_false_alarms() {
    let t = file(vec![truth(
        "d1",
        TruthKind::Discharge,
        vec![window("B", 10.0, 14.0, Some(3.0))],
    )]);
    let r = eval(&t, &[]);
    assert_eq!(r.precision.share, None);
    assert_eq!(
        r.recall,
        Share {
            count: 0,
            of: 1,
            share: Some(0.0)
        }
    );
    assert_eq!(r.f1, None);
    assert_eq!(r.false_alarms_per_station_week, Some(0.0));
    assert_eq!(r.confusion["suspected_discharge"]["missed"], 1);
    assert!(r.table().contains("recall (pollution)"));
}

#[test]
fn no_truth_means_every_event_is_a_false_alarm() {
    let e = [
        event("e1", "B", 1.0, 2.0, EventKind::Discharge),
        event("e2", "C", 5.0, 6.0, EventKind::Exceedance),
    ];
    let r = eval(&file(vec![]), &e);
    assert_eq!(
        r.precision,
        Share {
            count: 0,
            of: 2,
            share: Some(0.0)
        }
    );
    assert_eq!(r.recall.share, None);
    assert_eq!(r.false_alarms, 2);
    // 2 stations × 14 days = 4 station-weeks.
    assert!((r.false_alarms_per_station_week.unwrap() - 0.5).abs() < 1e-12);
}

#[test]
fn tolerance_delay_and_strong_recall() {
    let t = file(vec![
        truth(
            "d1",
            TruthKind::Discharge,
            vec![
                window("B", 10.0, 14.0, Some(3.0)),
                window("C", 30.0, 36.0, Some(1.5)),
            ],
        ),
        truth(
            "s1",
            TruthKind::Sewage,
            vec![window("C", 100.0, 104.0, Some(1.5))],
        ),
    ]);
    // Late but inside 2 h + one interval after the window end; and one just outside.
    let late = 14.0 + 2.0 + 5.0 / 60.0 - 1.0 / 3600.0;
    let e = [
        event("e1", "B", 11.0, 12.0, EventKind::Discharge),
        event("e2", "B", late, late + 1.0, EventKind::Discharge),
        event("e3", "C", 106.2, 107.0, EventKind::Discharge),
    ];
    let r = eval(&t, &e);
    let d1 = &r.outcomes[0];
    assert!(d1.detected && d1.station.as_ref().unwrap().as_str() == "B");
    assert_eq!(d1.delay_ms, Some(HOUR));
    assert_eq!(d1.delay_intervals, Some(12.0));
    assert!(
        !r.outcomes[1].detected,
        "2.2 h after the end is outside the tolerance"
    );
    assert_eq!(
        r.recall,
        Share {
            count: 1,
            of: 2,
            share: Some(0.5)
        }
    );
    assert_eq!(
        r.recall_strong,
        Share {
            count: 1,
            of: 1,
            share: Some(1.0)
        }
    );
    assert_eq!(
        d1.events,
        ["e1", "e2"],
        "e2 starts 1 s inside the tolerance after B's window"
    );
    assert_eq!(
        r.false_alarms, 1,
        "e3 starts 2.2 h after s1's window: too late"
    );
    assert_eq!(r.delay_median_ms, Some(HOUR));
    assert_eq!(r.recall_by_kind["sewage"].count, 0);
    // An event just inside the tolerance matches.
    let e_in = [event("e4", "C", 36.0 + 2.0, 37.0, EventKind::Exceedance)];
    assert!(eval(&t, &e_in).outcomes[0].detected);
    let e_out = [event(
        "e5",
        "C",
        36.0 + 2.0 + 5.0 / 60.0 + 1.0 / 3600.0,
        40.0,
        EventKind::Exceedance,
    )];
    assert!(!eval(&t, &e_out).outcomes[0].detected);
}

#[test]
fn one_event_over_two_overlapping_truths_counts_once_for_precision() {
    let t = file(vec![
        truth(
            "d1",
            TruthKind::Discharge,
            vec![window("B", 10.0, 14.0, Some(3.0))],
        ),
        truth(
            "c1",
            TruthKind::ChemicalDump,
            vec![window("B", 12.0, 13.0, Some(2.5))],
        ),
    ]);
    let r = eval(&t, &[event("e1", "B", 12.5, 15.0, EventKind::Discharge)]);
    assert!(r.outcomes.iter().all(|o| o.detected && o.events == ["e1"]));
    assert_eq!(
        r.precision,
        Share {
            count: 1,
            of: 1,
            share: Some(1.0)
        }
    );
    assert_eq!(r.recall.count, 2);
    assert_eq!(r.f1, Some(1.0));
    assert_eq!(r.confusion["suspected_discharge"]["discharge"], 2);
}

#[test]
fn sensor_faults_need_sensor_fault_events_and_runoff_is_reported() {
    let t = file(vec![
        truth("k1", TruthKind::Stuck, vec![window("B", 10.0, 20.0, None)]),
        truth(
            "r1",
            TruthKind::Runoff,
            vec![window("B", 40.0, 60.0, None), window("C", 41.0, 58.0, None)],
        ),
        truth("p1", TruthKind::Spike, vec![window("C", 5.0, 5.0, None)]),
    ]);
    let e = [
        event("e1", "B", 11.0, 12.0, EventKind::Discharge),
        event("e2", "B", 13.0, 19.0, EventKind::SensorFault),
        event("e3", "C", 45.0, 50.0, EventKind::Discharge),
    ];
    let r = eval(&t, &e);
    assert_eq!(
        r.false_alarms, 1,
        "a discharge on a stuck sensor is a false alarm"
    );
    assert_eq!(r.precision.count, 2);
    assert_eq!(r.runoff_explained_events, 1);
    assert_eq!(
        r.sensor_faults_as_discharge,
        Share {
            count: 1,
            of: 2,
            share: Some(0.5)
        }
    );
    assert!(r.outcomes[0].detected && !r.outcomes[2].detected);
    assert_eq!(r.confusion["sensor_fault"]["sensor_fault"], 1);
    assert_eq!(r.confusion["sensor_fault"]["missed"], 1);
    assert_eq!(r.recall.share, None, "no pollution truths");
}

#[test]
fn segments_and_tampering() {
    let mut d = truth(
        "d1",
        TruthKind::Discharge,
        vec![
            window("B", 10.0, 14.0, Some(3.0)),
            window("C", 30.0, 36.0, Some(2.0)),
        ],
    );
    d.source_segment = Some(Segment {
        upstream: vec!["A".into(), "A2".into()],
        downstream: "B".into(),
    });
    let tam = truth("t1", TruthKind::Tamper, vec![window("B", 60.0, 70.0, None)]);
    let t = file(vec![d, tam]);
    let mut right = event("e1", "B", 11.0, 12.0, EventKind::Discharge);
    right.segment = Some(Segment {
        upstream: vec!["A2".into(), "A".into()],
        downstream: "B".into(),
    });
    let mut wrong = event("e2", "C", 31.0, 33.0, EventKind::Discharge);
    wrong.segment = Some(Segment {
        upstream: vec!["B".into()],
        downstream: "C".into(),
    });
    let r = eval(&t, &[right.clone(), wrong.clone()]);
    assert_eq!(
        r.segment_right,
        Share {
            count: 1,
            of: 2,
            share: Some(0.5)
        }
    );
    assert_eq!(r.outcomes[0].segment_right, Some(true));
    assert_eq!(r.tamper_raised.count, 0);

    // An event over two localisable truths is right when it names either source.
    let mut other = truth(
        "d2",
        TruthKind::Sewage,
        vec![
            window("B", 11.0, 13.0, Some(2.0)),
            window("C", 31.0, 35.0, Some(1.2)),
        ],
    );
    other.source_segment = Some(Segment {
        upstream: vec!["Z".into()],
        downstream: "B".into(),
    });
    let both = file(vec![t.records[0].clone(), other]);
    let r = eval(&both, std::slice::from_ref(&right));
    assert_eq!(
        r.segment_right,
        Share {
            count: 1,
            of: 1,
            share: Some(1.0)
        }
    );
    assert_eq!(
        r.outcomes[1].segment_right,
        Some(false),
        "per truth, d2's source was not named"
    );

    // Raised by a tamper event…
    let r = eval(&t, &[event("e3", "B", 61.0, 62.0, EventKind::Tamper)]);
    assert_eq!(
        r.tamper_raised,
        Share {
            count: 1,
            of: 1,
            share: Some(1.0)
        }
    );
    // …or by a monitoring-anomaly lead at the station.
    let lead = Lead {
        schema_version: 1,
        id: "L1".into(),
        revision: 1,
        category: Category::MonitoringAnomaly,
        station: "C".into(),
        river: None,
        segment: None,
        stations: vec!["C".into(), "B".into()],
        window: Window {
            start: T0 + 65 * HOUR,
            end: T0 + 80 * HOUR,
        },
        open: false,
        parameters: vec![],
        severity: Severity::Medium,
        confidence: 0.7,
        detectors: vec![],
        summary: String::new(),
        config_hash: String::new(),
        model_versions: vec![],
        evidence: EvidenceQuery {
            stations: vec![],
            parameters: vec![],
            from: T0,
            to: T0,
        },
        status: Status::New,
        notes: vec![],
    };
    let r = evaluate(
        &t,
        &[],
        std::slice::from_ref(&lead),
        &EvalOptions::default(),
    );
    assert_eq!(r.tamper_raised.count, 1);
    let far = Lead {
        window: Window {
            start: T0 + 90 * HOUR,
            end: T0 + 95 * HOUR,
        },
        ..lead
    };
    assert_eq!(
        evaluate(&t, &[], &[far], &EvalOptions::default())
            .tamper_raised
            .count,
        0
    );
}

#[test]
fn report_serialises_and_infers_station_weeks_without_header() {
    let mut t = file(vec![truth(
        "d1",
        TruthKind::Discharge,
        vec![window("B", 0.0, 7.0 * 24.0, Some(3.0))],
    )]);
    t.header = None;
    let r = eval(&t, &[event("e1", "C", 0.0, 1.0, EventKind::Discharge)]);
    assert!((r.station_weeks - 2.0).abs() < 1e-9, "{}", r.station_weeks);
    let json = serde_json::to_string(&r).unwrap();
    assert!(
        json.contains("\"recall_strong\"") && json.contains("\"kind\":\"discharge\""),
        "{json}"
    );
}

#[test]
fn a_fault_inside_a_real_pulse_did_not_raise_the_discharge() {
    let t = file(vec![
        truth(
            "d1",
            TruthKind::Discharge,
            vec![window("C", 3.0, 8.0, Some(3.0))],
        ),
        truth("p1", TruthKind::Spike, vec![window("C", 5.0, 5.0, None)]),
    ]);
    let r = eval(&t, &[event("e1", "C", 3.0, 8.0, EventKind::Discharge)]);
    assert_eq!(r.sensor_faults_as_discharge.count, 0);
    assert_eq!(r.false_alarms, 0);
}
