//! Engine tests on hand-made series: each detector on the shape it exists for, and the
//! shapes it must stay quiet on.

use super::*;
use crate::config::Config;
use crate::events::EventKind;
use crate::leads::Category;
use crate::model::{DataFlag, DetectorId};
use crate::time::{parse_rfc3339, HOUR};
use std::collections::BTreeMap;

const STEP: Millis = 5 * MINUTE;

fn t0() -> Millis {
    parse_rfc3339("2024-07-01T00:00:00Z").unwrap()
}

/// Small deterministic noise in [-1, 1].
fn noise(i: u64) -> f64 {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 29;
    (x % 20_001) as f64 / 10_000.0 - 1.0
}

struct Run {
    out: Output,
}

impl Run {
    fn findings(&self, d: DetectorId) -> Vec<&Finding> {
        self.out
            .findings
            .iter()
            .filter(|f| f.detector == d)
            .collect()
    }
    fn kinds(&self) -> Vec<EventKind> {
        self.out.events.iter().map(|e| e.kind).collect()
    }
    /// The last revision of every lead.
    fn leads(&self) -> Vec<&crate::leads::Lead> {
        let mut last: BTreeMap<&str, &crate::leads::Lead> = BTreeMap::new();
        for l in &self.out.leads {
            last.insert(&l.id, l);
        }
        last.into_values().collect()
    }
}

/// Feeds `steps` readings of every parameter at every station, value = f(station, param index,
/// step) (None: no reading), time-ordered with stations interleaved as a live feed would be.
/// Every reading's names are allocated afresh.
fn feed(
    stations: &[&str],
    params: &[&str],
    steps: i64,
    f: impl Fn(&str, usize, i64) -> Option<f64>,
) -> Run {
    feed_names(stations, params, steps, false, f)
}

/// As [`feed`]; with `shared`, every reading of a station or parameter carries the same name
/// allocation, as the decoders hand them out.
fn feed_names(
    stations: &[&str],
    params: &[&str],
    steps: i64,
    shared: bool,
    f: impl Fn(&str, usize, i64) -> Option<f64>,
) -> Run {
    let mut engine = Engine::new(Arc::new(Config::embedded())).keep_findings(true);
    let mut out = Output::default();
    let station_ids: Vec<StationId> = stations.iter().map(|s| StationId::new(s)).collect();
    let param_ids: Vec<ParamId> = params.iter().map(|p| ParamId::new(p)).collect();
    let name = |id: &StationId| {
        if shared {
            id.clone()
        } else {
            id.as_str().into()
        }
    };
    let param = |id: &ParamId| {
        if shared {
            id.clone()
        } else {
            id.as_str().into()
        }
    };
    for i in 0..steps {
        for (s, sid) in stations.iter().zip(&station_ids) {
            for (pi, pid) in param_ids.iter().enumerate() {
                if let Some(v) = f(s, pi, i) {
                    let r = Reading {
                        station: name(sid),
                        parameter: param(pid),
                        time: t0() + i * STEP,
                        value: v,
                        flag: DataFlag::N,
                    };
                    engine.push(&r, &mut out);
                }
            }
        }
    }
    engine.finish(&mut out);
    Run { out }
}

/// Feeds `steps` readings per parameter at `station`, value = f(param index, step).
fn run(station: &str, params: &[&str], steps: i64, f: impl Fn(usize, i64) -> Option<f64>) -> Run {
    feed(&[station], params, steps, |_, p, i| f(p, i))
}

/// A quiet probe series around `level` with 1 % noise.
fn quiet(level: f64, i: i64) -> f64 {
    level * (1.0 + 0.01 * noise(i as u64))
}

#[test]
fn gaps_only_where_data_is_missing() {
    let r = run("X", &["cond", "nh3n"], 600, |_, i| {
        Some(400.0 + 4.0 * noise(i as u64))
    });
    assert!(
        r.findings(DetectorId::Gap).is_empty(),
        "{:?}",
        r.findings(DetectorId::Gap).first()
    );
    let r = run("X", &["cond", "nh3n"], 600, |_, i| {
        (!(300..340).contains(&i)).then(|| 400.0 + 4.0 * noise(i as u64))
    });
    let gaps = r.findings(DetectorId::Gap);
    assert!(!gaps.is_empty());
    assert!(gaps
        .iter()
        .all(|g| g.time > t0() + 299 * STEP && g.time < t0() + 340 * STEP));
}

#[test]
fn no_gaps_across_interleaved_stations() {
    let r = feed(
        &["DL01", "DL02", "DL03"],
        &["cond", "nh3n"],
        600,
        |_, _, i| Some(1.0 + 0.01 * noise(i as u64)),
    );
    let gaps = r.findings(DetectorId::Gap);
    assert!(gaps.is_empty(), "{:?}", gaps.first());
}

#[test]
fn late_readings_are_reordered_within_the_lateness_and_counted_beyond() {
    let mut engine = Engine::new(Arc::new(Config::embedded())).keep_findings(true);
    let mut out = Output::default();
    let push = |e: &mut Engine, out: &mut Output, i: i64| {
        let r = Reading {
            station: "X".into(),
            parameter: "cond".into(),
            time: t0() + i * STEP,
            value: 400.0 + noise(i as u64),
            flag: DataFlag::N,
        };
        e.push(&r, out);
    };
    for i in 0..100 {
        if i != 50 {
            push(&mut engine, &mut out, i);
        }
        if i == 51 {
            push(&mut engine, &mut out, 50); // 5 minutes late: within the default 10 minutes
        }
    }
    push(&mut engine, &mut out, 10); // hours late
    push(&mut engine, &mut out, 99); // duplicate
    engine.finish(&mut out);
    let st = engine.stats();
    assert_eq!((st.judged, st.late, st.duplicates), (100, 1, 1));
}

#[test]
fn a_late_reading_queues_after_the_earlier_arrivals_at_its_time() {
    // The reordering queue keeps arrival order among readings of one time: the first pH at
    // step 5 is judged, the second (impossible, and late: it arrives after step 6) is the
    // duplicate. Were it put first, it would be judged and raise a range finding. Steps 0–6
    // are released by step 8 (10 minutes of lateness); 7 and 8 are still held.
    let mut engine = Engine::new(Arc::new(Config::embedded())).keep_findings(true);
    let mut out = Output::default();
    let mut push = |i: i64, value: f64| {
        let r = Reading {
            station: "X".into(),
            parameter: "ph".into(),
            time: t0() + i * STEP,
            value,
            flag: DataFlag::N,
        };
        engine.push(&r, &mut out);
    };
    for i in 0..=6 {
        push(i, 7.5 + 0.01 * noise(i as u64));
    }
    push(5, 20.0);
    // Released by the next readings, not by `finish` (which sorts what is left on its own).
    for i in 7..=8 {
        push(i, 7.5 + 0.01 * noise(i as u64));
    }
    let st = engine.stats();
    assert_eq!((st.judged, st.duplicates), (7, 1));
    assert!(out.findings.iter().all(|f| f.detector != DetectorId::Range));
}

#[test]
fn held_instants_release_in_time_order_with_every_parameter() {
    // A station's readings are held per instant. Arrivals within the lateness that open an
    // instant between held ones, or join one that is not the newest, must still be judged in
    // time order, each instant's parameters in arrival order: the scores come out in that
    // order, and a misplaced reading would be skipped as late.
    let mut engine = Engine::new(Arc::new(Config::embedded())).keep_scores(true);
    let mut out = Output::default();
    let arrivals = [
        (0, "cond"),
        (2, "cond"),
        (0, "nh3n"),
        (1, "nh3n"), // opens an instant before the held one at 2
        (2, "nh3n"),
        (1, "cond"), // joins the instant at 1, which is not the newest
        (5, "cond"),
    ];
    for (step, p) in arrivals {
        let r = Reading {
            station: "X".into(),
            parameter: p.into(),
            time: t0() + step * STEP,
            value: 1.0,
            flag: DataFlag::N,
        };
        engine.push(&r, &mut out);
    }
    engine.finish(&mut out);
    let order: Vec<(i64, &str)> = out
        .scores
        .iter()
        .map(|s| ((s.time - t0()) / STEP, s.parameter.as_str()))
        .collect();
    let expected = [
        (0, "cond"),
        (0, "nh3n"),
        (1, "nh3n"),
        (1, "cond"),
        (2, "cond"),
        (2, "nh3n"),
        (5, "cond"),
    ];
    assert_eq!(order, expected);
    let st = engine.stats();
    assert_eq!((st.judged, st.late, st.duplicates), (7, 0, 0));
}

#[test]
fn quiet_series_raise_nothing() {
    let r = run("X", &["cond", "nh3n", "turb"], 2000, |p, i| {
        Some(quiet([400.0, 0.4, 20.0][p], i * 3 + p as i64))
    });
    assert!(r.out.events.is_empty(), "{:?}", r.out.events.first());
    assert!(r.out.leads.is_empty());
}

#[test]
fn diurnal_cycle_does_not_alarm() {
    // DO swinging ±1.5 mg/L and pH ±0.3 every day, as photosynthesis makes them.
    let day = (24 * HOUR / STEP) as f64;
    let r = run("X", &["do", "ph", "temp"], 14 * day as i64, |p, i| {
        let phase = (i as f64 / day - 0.375) * std::f64::consts::TAU;
        Some(
            [
                8.0 + 1.5 * phase.sin(),
                7.8 + 0.3 * phase.sin(),
                20.0 + 2.0 * phase.sin(),
            ][p] + 0.02 * noise(i as u64 * 7 + p as u64),
        )
    });
    let opening: Vec<_> = r
        .out
        .events
        .iter()
        .filter(|e| e.kind != EventKind::SensorFault || e.findings > 3)
        .collect();
    assert!(opening.is_empty(), "{:?}", opening.first());
    assert!(
        r.out.leads.is_empty(),
        "{:?}",
        r.out.leads.first().map(|l| &l.summary)
    );
}

#[test]
fn a_spike_is_a_short_sensor_fault_without_a_lead() {
    let r = run("X", &["turb", "cond"], 600, |p, i| {
        Some(if p == 0 && i == 400 {
            400.0
        } else {
            quiet([20.0, 400.0][p], i)
        })
    });
    assert!(!r.findings(DetectorId::RobustZ).is_empty());
    assert_eq!(r.kinds(), vec![EventKind::SensorFault]);
    assert!(r.out.leads.is_empty(), "a single spike is not a lead");
}

#[test]
fn a_coherent_pulse_is_a_discharge_lead_from_its_first_reading() {
    let pulse = |i: i64| if (400..436).contains(&i) { 1.0 } else { 0.0 };
    let r = run("X", &["nh3n", "cond", "codmn"], 700, |p, i| {
        Some(quiet([0.4, 400.0, 3.0][p], i * 3 + p as i64) + pulse(i) * [2.6, 500.0, 9.0][p])
    });
    assert_eq!(r.kinds(), vec![EventKind::Discharge]);
    let e = &r.out.events[0];
    assert_eq!(
        e.start,
        t0() + 400 * STEP,
        "detected at the first reading of the pulse"
    );
    let leads = r.leads();
    assert_eq!(leads.len(), 1);
    let l = leads[0];
    assert_eq!(l.category, Category::SuspectedDischarge);
    assert!(!l.open);
    let nh3n = l
        .parameters
        .iter()
        .find(|p| p.parameter.as_str() == "nh3n")
        .unwrap();
    assert_eq!(
        nh3n.limit,
        Some(1.0),
        "unknown station: class III by default"
    );
    assert!(nh3n.peak > 2.9 && nh3n.exceedance_multiple.unwrap() > 1.9);
    assert!(l.summary.contains("nh3n rose to"), "{}", l.summary);
    // The event grew after it opened: the same lead got more revisions, not a new id.
    assert!(r.out.leads.len() >= 2 && r.out.leads.iter().all(|x| x.id == l.id));
    let revs: Vec<u32> = r.out.leads.iter().map(|x| x.revision).collect();
    assert!(revs.windows(2).all(|w| w[1] == w[0] + 1), "{revs:?}");
}

#[test]
fn a_step_in_one_parameter_is_caught_and_not_a_discharge() {
    let r = run("X", &["turb", "cond"], 900, |p, i| {
        Some(quiet([20.0, 400.0][p], i * 5 + p as i64) + if p == 0 && i >= 500 { 8.0 } else { 0.0 })
    });
    assert!(!r.out.events.is_empty());
    assert!(
        r.out
            .events
            .iter()
            .all(|e| e.kind == EventKind::SensorFault),
        "{:?}",
        r.kinds()
    );
    assert!(
        r.out.events[0].start >= t0() + 500 * STEP && r.out.events[0].start <= t0() + 502 * STEP
    );
}

#[test]
fn a_slow_drift_is_seen_by_cusum() {
    // A ramp the rolling median follows with a lag of a few scales: too small for the robust
    // z-score, cumulated by CUSUM.
    let r = run("X", &["turb"], 1500, |_, i| {
        Some(
            quiet(20.0, i)
                + if i > 500 {
                    (i - 500) as f64 * 0.05
                } else {
                    0.0
                },
        )
    });
    assert!(r.findings(DetectorId::RobustZ).is_empty());
    let c = r.findings(DetectorId::Cusum);
    assert!(!c.is_empty());
    assert!(c[0].time > t0() + 500 * STEP);
    assert!(r
        .findings(DetectorId::Cusum)
        .iter()
        .all(|f| f.direction > 0));
}

#[test]
fn a_stuck_sensor_is_a_monitoring_lead() {
    let r = run("X", &["cond", "do"], 1000, |p, i| {
        Some(if p == 0 && i >= 400 {
            401.3
        } else {
            quiet([400.0, 8.0][p], i * 2 + p as i64)
        })
    });
    let f = r.findings(DetectorId::Flatline);
    assert!(!f.is_empty() && f.iter().all(|f| f.parameter.as_str() == "cond"));
    assert!(
        f[0].time >= t0() + 400 * STEP + 6 * HOUR,
        "not before min_duration"
    );
    let leads = r.leads();
    assert_eq!(leads.len(), 1);
    assert_eq!(leads[0].category, Category::MonitoringAnomaly);
    assert!(
        leads[0].summary.contains("equipment fault"),
        "{}",
        leads[0].summary
    );
}

#[test]
fn persistent_class_exceedance_is_a_standard_lead() {
    // NH3-N creeping from 0.8 to 1.6 mg/L over days at a class III station: no sudden change.
    let r = run("DL02", &["nh3n"], 3000, |_, i| {
        Some(0.8 + 0.8 * (i as f64 / 3000.0) + 0.005 * noise(i as u64))
    });
    let leads = r.leads();
    assert_eq!(
        leads.len(),
        1,
        "{:?}",
        leads.iter().map(|l| &l.summary).collect::<Vec<_>>()
    );
    let l = leads[0];
    assert_eq!(l.category, Category::StandardExceedance);
    let p = &l.parameters[0];
    assert_eq!(
        (p.limit, p.limit_class),
        (Some(1.0), Some(crate::config::WaterClass::III))
    );
    assert!(p.exceedance_multiple.unwrap() > 0.5);
    let first = r.findings(DetectorId::Standard)[0];
    assert!(
        first.value > 1.0 && first.explanation.contains("class III"),
        "{}",
        first.explanation
    );
}

#[test]
fn dissolved_oxygen_and_ph_are_judged_the_right_way_round() {
    let r = run("DL02", &["do", "ph"], 400, |p, i| {
        Some(
            if i > 200 {
                [3.0, 9.6][p]
            } else {
                [9.0, 7.5][p]
            } + 0.001 * noise(i as u64),
        )
    });
    let s = r.findings(DetectorId::Standard);
    let d: Vec<_> = s.iter().filter(|f| f.parameter.as_str() == "do").collect();
    let ph: Vec<_> = s.iter().filter(|f| f.parameter.as_str() == "ph").collect();
    assert!(
        !d.is_empty() && d.iter().all(|f| f.value < 5.0 && f.direction < 0),
        "DO below the class III minimum"
    );
    assert!(!ph.is_empty() && ph.iter().all(|f| f.value > 9.0));
    let high_do = run("DL02", &["do"], 400, |_, i| {
        Some(14.0 + 0.001 * noise(i as u64))
    });
    assert!(
        high_do.findings(DetectorId::Standard).is_empty(),
        "high DO is clean water"
    );
}

#[test]
fn flagged_readings_raise_no_water_findings() {
    let mut engine = Engine::new(Arc::new(Config::embedded())).keep_findings(true);
    let mut out = Output::default();
    for i in 0..600 {
        let (v, flag) = if (400..420).contains(&i) {
            (9.0, DataFlag::C)
        } else {
            (quiet(0.4, i), DataFlag::N)
        };
        engine.push(
            &Reading {
                station: "X".into(),
                parameter: "nh3n".into(),
                time: t0() + i * STEP,
                value: v,
                flag,
            },
            &mut out,
        );
    }
    engine.push(
        &Reading {
            station: "X".into(),
            parameter: "nh3n".into(),
            time: t0() + 600 * STEP,
            value: 0.4,
            flag: DataFlag::D,
        },
        &mut out,
    );
    engine.finish(&mut out);
    assert!(
        out.findings
            .iter()
            .all(|f| f.kind == FindingKind::Monitoring),
        "{:?}",
        out.findings.first()
    );
    assert_eq!(
        out.findings
            .iter()
            .filter(|f| f.detector == DetectorId::StationFlag)
            .count(),
        1,
        "only the fault flag D"
    );
}

#[test]
fn maintenance_windows_silence_water_findings() {
    let stations = format!(
        "{}\n[[station.maintenance]]\nfrom = \"2024-07-02T09:00:00Z\"\nto = \"2024-07-02T12:00:00Z\"\n",
        "[[station]]\nid = \"M\"\ntarget_class = \"III\""
    );
    let e = crate::config::embedded::THRESHOLDS;
    let cfg = Config::from_texts(&stations, e, crate::config::embedded::GB3838, "t").unwrap();
    let mut engine = Engine::new(Arc::new(cfg)).keep_findings(true);
    let mut out = Output::default();
    for i in 0..600 {
        let t = t0() + i * STEP;
        let inside = t >= t0() + 33 * HOUR && t < t0() + 36 * HOUR;
        let v = if inside { 5.0 } else { quiet(0.4, i) };
        engine.push(
            &Reading {
                station: "M".into(),
                parameter: "nh3n".into(),
                time: t,
                value: v,
                flag: DataFlag::N,
            },
            &mut out,
        );
    }
    assert!(out.findings.is_empty(), "{:?}", out.findings.first());
}

#[test]
fn too_little_history_is_said_not_alarmed() {
    let r = run("X", &["cond"], 30, |_, i| {
        Some(if i == 10 { 4000.0 } else { quiet(400.0, i) })
    });
    assert!(r.findings(DetectorId::RobustZ).is_empty());
    let mut engine = Engine::new(Arc::new(Config::embedded()));
    let mut out = Output::default();
    for i in 0..30 {
        engine.push(
            &Reading {
                station: "X".into(),
                parameter: "cond".into(),
                time: t0() + i * STEP,
                value: 400.0,
                flag: DataFlag::N,
            },
            &mut out,
        );
    }
    assert_eq!(engine.stats().without_history, 24);
}

#[test]
fn impossible_values_are_range_findings() {
    let r = run("X", &["ph", "nh3n"], 10, |p, i| {
        Some(if i == 5 {
            [15.0, -1.0][p]
        } else {
            [7.0, 0.4][p]
        })
    });
    assert_eq!(r.findings(DetectorId::Range).len(), 2);
}

/// Two configured stations: DL01 → DL02, 32 h apart.
fn river(f: impl Fn(&str, usize, i64) -> Option<f64>) -> Run {
    feed(&["DL01", "DL02"], &["nh3n", "cond", "codmn"], 2000, f)
}

const BASE: [f64; 3] = [0.3, 400.0, 3.0];
const BUMP: [f64; 3] = [2.0, 400.0, 8.0];
/// Steps of 5 minutes in the 32 h travel time from DL01 to DL02.
const TRAVEL: i64 = 32 * 12;

fn pulse_at(i: i64, start: i64) -> f64 {
    if (start..start + 30).contains(&i) {
        1.0
    } else {
        0.0
    }
}

#[test]
fn a_pulse_downstream_only_is_localised_to_the_segment() {
    let r = river(|s, p, i| {
        let bump = if s == "DL02" { pulse_at(i, 1200) } else { 0.0 };
        Some(
            quiet(
                BASE[p],
                i * 3 + p as i64 + if s == "DL02" { 99_999 } else { 0 },
            ) + bump * BUMP[p],
        )
    });
    let leads = r.leads();
    assert_eq!(leads.len(), 1);
    let seg = leads[0].segment.as_ref().unwrap();
    assert_eq!((seg.upstream.len(), seg.downstream.as_str()), (1, "DL02"));
    assert_eq!(seg.upstream[0].as_str(), "DL01");
    assert!(leads[0]
        .detectors
        .iter()
        .any(|d| d.detector == DetectorId::Spatial));
}

#[test]
fn a_pulse_seen_upstream_then_downstream_is_one_lead_over_two_stations() {
    let r = river(|s, p, i| {
        let start = if s == "DL01" { 700 } else { 700 + TRAVEL };
        Some(
            quiet(
                BASE[p],
                i * 3 + p as i64 + if s == "DL02" { 99_999 } else { 0 },
            ) + pulse_at(i, start) * BUMP[p],
        )
    });
    let leads = r.leads();
    assert_eq!(
        leads.len(),
        1,
        "{:?}",
        leads.iter().map(|l| &l.summary).collect::<Vec<_>>()
    );
    let l = leads[0];
    assert_eq!(
        l.stations.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        ["DL01", "DL02"]
    );
    assert_eq!(
        l.segment.as_ref().map(|s| s.downstream.as_str()),
        Some("DL01"),
        "source above the first station"
    );
    let events: Vec<_> = r
        .out
        .events
        .iter()
        .filter(|e| e.lead.as_deref() == Some(&l.id))
        .collect();
    assert_eq!(events.len(), 2, "{events:#?}");
}

#[test]
fn an_upstream_station_stuck_while_a_pulse_passes_is_a_tamper_lead() {
    let r = river(|s, p, i| {
        if s == "DL01" {
            // DL01 reports a flat clean value from 600 to 800 while the pulse passes at 700.
            return Some(if (600..800).contains(&i) {
                BASE[p]
            } else {
                quiet(BASE[p], i * 3 + p as i64)
            });
        }
        Some(quiet(BASE[p], i * 3 + p as i64 + 99_999) + pulse_at(i, 700 + TRAVEL) * BUMP[p])
    });
    let leads = r.leads();
    let tamper: Vec<_> = leads
        .iter()
        .filter(|l| l.category == Category::MonitoringAnomaly)
        .collect();
    assert_eq!(
        tamper.len(),
        1,
        "{:?}",
        leads.iter().map(|l| &l.summary).collect::<Vec<_>>()
    );
    assert_eq!(tamper[0].station.as_str(), "DL01");
    assert!(
        tamper[0].summary.contains("falsification") && tamper[0].summary.contains("DL02"),
        "{}",
        tamper[0].summary
    );
    assert!(r
        .out
        .events
        .iter()
        .any(|e| e.kind == EventKind::Tamper && e.station.as_str() == "DL01"));
    let discharge = leads
        .iter()
        .find(|l| l.category == Category::SuspectedDischarge)
        .unwrap();
    assert_eq!(discharge.station.as_str(), "DL02");
    assert!(
        discharge.segment.is_none(),
        "the upstream station was not watching: no localisation"
    );
}

#[test]
fn same_input_same_output() {
    let go = || {
        river(|s, p, i| {
            let start = if s == "DL01" { 700 } else { 700 + TRAVEL };
            Some(quiet(BASE[p], i * 3 + p as i64) + pulse_at(i, start) * BUMP[p])
        })
    };
    let (a, b) = (go(), go());
    assert_eq!(a.out.leads, b.out.leads);
    assert_eq!(a.out.events, b.out.events);
}

#[test]
fn shared_and_separately_allocated_names_give_the_same_output() {
    // Station and parameter identity is a pointer compare when the names share an allocation
    // and a byte compare when not: both must find the same streams.
    let go = |shared| {
        feed_names(
            &["DL01", "DL02"],
            &["nh3n", "cond", "codmn"],
            1500,
            shared,
            |s, p, i| {
                let start = if s == "DL01" { 700 } else { 700 + TRAVEL };
                Some(quiet(BASE[p], i * 3 + p as i64) + pulse_at(i, start) * BUMP[p])
            },
        )
    };
    let (a, b) = (go(true), go(false));
    assert!(!a.out.leads.is_empty() && !a.out.findings.is_empty());
    assert_eq!(a.out.findings, b.out.findings);
    assert_eq!(a.out.events, b.out.events);
    assert_eq!(a.out.leads, b.out.leads);
}

#[test]
fn emitted_leads_match_the_published_schema() {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../../../docs/lead.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let r = river(|s, p, i| {
        let start = if s == "DL01" { 700 } else { 700 + TRAVEL };
        Some(quiet(BASE[p], i * 3 + p as i64) + pulse_at(i, start) * BUMP[p])
    });
    let stuck = run("X", &["cond"], 1000, |_, i| {
        Some(if i >= 400 { 401.3 } else { quiet(400.0, i) })
    });
    let all: Vec<_> = r.out.leads.iter().chain(&stuck.out.leads).collect();
    assert!(all.len() >= 3);
    for lead in all {
        let v = serde_json::to_value(lead).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&v)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:?}\n{v:#}");
    }
    let mut broken = serde_json::to_value(r.out.leads[0].clone()).unwrap();
    broken["category"] = "rumour".into();
    assert!(
        !validator.is_valid(&broken),
        "the schema rejects what it should"
    );
}
