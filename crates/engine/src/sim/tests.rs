//! Whole-simulator tests: reproducibility, truth windows against the undisturbed baseline, and
//! the presets.

use super::*;
use crate::config::{Config, Stations};
use crate::time::{parse_rfc3339, Rfc3339, DAY, HOUR, MINUTE};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt::Write;

/// Index of station `id` in `stations` (test helper shared by the sim modules).
pub(crate) fn station_index(stations: &Stations, id: &str) -> usize {
    stations
        .list
        .iter()
        .position(|s| s.id.as_str() == id)
        .unwrap_or_else(|| panic!("no station {id}"))
}

fn opts(scenario: Scenario, seed: u64, days: i64) -> SimOptions {
    SimOptions::new(
        scenario,
        seed,
        parse_rfc3339("2024-06-20T00:00:00Z").unwrap(),
        days * DAY,
    )
}

fn run_on(
    stations: &Stations,
    o: SimOptions,
) -> (Vec<SimReading>, TruthFile, Vec<crate::StationId>) {
    let cfg = Config::embedded();
    let mut sim = Simulator::new(stations, &cfg.gb3838, o).unwrap();
    let mut all = Vec::new();
    let mut buf = Vec::new();
    let mut last = i64::MIN;
    while let Some(t) = sim.next_tick(&mut buf) {
        assert!(t > last, "time order");
        last = t;
        assert!(buf.iter().all(|r| r.time == t && r.value.is_finite()));
        all.extend_from_slice(&buf);
    }
    (all, sim.truth(), sim.station_ids().to_vec())
}

fn run(o: SimOptions) -> (Vec<SimReading>, TruthFile, Vec<crate::StationId>) {
    run_on(&Config::embedded().stations, o)
}

fn csv_hash(readings: &[SimReading], ids: &[crate::StationId]) -> String {
    let mut text = String::new();
    for r in readings {
        let _ = writeln!(
            text,
            "{},{},{},{}",
            Rfc3339(r.time),
            ids[r.station],
            r.param.id(),
            r.value
        );
    }
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn a_seed_reproduces_byte_for_byte() {
    let (a, ta, ids) = run(opts(Scenario::Typical, 11, 3));
    let (b, tb, _) = run(opts(Scenario::Typical, 11, 3));
    assert_eq!(csv_hash(&a, &ids), csv_hash(&b, &ids));
    assert_eq!(ta.to_jsonl(), tb.to_jsonl());
    let (c, _, _) = run(opts(Scenario::Typical, 12, 3));
    assert_ne!(
        csv_hash(&a, &ids),
        csv_hash(&c, &ids),
        "another seed, other data"
    );
}

#[test]
fn cadences_and_station_interleaving() {
    let (r, _, ids) = run(opts(Scenario::Load, 3, 1));
    let per_param = |p: SimParam| r.iter().filter(|x| x.param == p && x.station == 0).count();
    assert_eq!(per_param(SimParam::Ph), 288, "every 5 minutes for a day");
    assert_eq!(per_param(SimParam::Nh3n), 6, "every 4 hours");
    assert_eq!(per_param(SimParam::Tn), 0, "TN only at reservoir stations");
    let rs01 = ids.iter().position(|s| s.as_str() == "RS01").unwrap();
    assert_eq!(
        r.iter()
            .filter(|x| x.param == SimParam::Tn && x.station == rs01)
            .count(),
        6
    );
    // Analyser values share the probes' timestamps.
    let nh3n_times: Vec<_> = r
        .iter()
        .filter(|x| x.param == SimParam::Nh3n && x.station == 0)
        .map(|x| x.time)
        .collect();
    assert!(nh3n_times.iter().all(|t| r
        .iter()
        .any(|x| x.time == *t && x.param == SimParam::Ph && x.station == 0)));
    // The first tick holds every station.
    let first: Vec<usize> = r
        .iter()
        .take_while(|x| x.time == r[0].time)
        .map(|x| x.station)
        .collect();
    assert_eq!(first.iter().max(), Some(&(ids.len() - 1)));
    let cfg = Config::embedded();
    let sim = Simulator::new(&cfg.stations, &cfg.gb3838, opts(Scenario::Load, 3, 1)).unwrap();
    let reading = sim.to_reading(&r[1]);
    assert_eq!(
        (reading.station.as_str(), reading.parameter.as_str()),
        ("DL01", "ph")
    );
    assert_eq!((reading.time, reading.value), (r[1].time, r[1].value));
}

/// Every truth window holds readings that differ from the undisturbed run, and every reading
/// that differs lies in a truth window of its station and parameter.
fn check_truth_against_baseline(o: SimOptions, stations: &Stations) -> TruthFile {
    let (perturbed, truth, ids) = run_on(stations, o.clone());
    let (clean, none, _) = run_on(stations, SimOptions { inject: false, ..o });
    assert!(none.records.is_empty());
    type Key = (i64, usize, SimParam);
    let index = |rs: &[SimReading]| {
        rs.iter()
            .map(|r| ((r.time, r.station, r.param), r.value))
            .collect::<HashMap<Key, f64>>()
    };
    let (p, c) = (index(&perturbed), index(&clean));
    let mut differing: Vec<Key> = c
        .iter()
        .filter(|(k, v)| p.get(*k) != Some(*v))
        .map(|(k, _)| *k)
        .collect();
    assert!(
        p.keys().all(|k| c.contains_key(k)),
        "injections never add readings"
    );
    differing.sort();
    let within = |k: &Key, w: &TruthStation| {
        ids[k.1] == w.station
            && w.start <= k.0
            && k.0 <= w.end
            && w.parameters.iter().any(|x| x.as_str() == k.2.id())
    };
    for k in &differing {
        let ok = truth
            .records
            .iter()
            .any(|r| r.stations.iter().any(|w| within(k, w)));
        assert!(
            ok,
            "reading {} {} {} changed outside every truth window",
            Rfc3339(k.0),
            ids[k.1],
            k.2.id()
        );
    }
    for r in &truth.records {
        assert!(!r.stations.is_empty());
        for w in &r.stations {
            assert!(
                differing.iter().any(|k| within(k, w)),
                "{} at {} changed nothing",
                r.id,
                w.station
            );
            assert!(r.start <= w.start && w.end <= r.end);
        }
    }
    truth
}

#[test]
fn truth_windows_match_the_perturbed_readings() {
    let stations = Config::embedded().stations;
    for scenario in [Scenario::Typical, Scenario::Stormy, Scenario::Tamper] {
        let truth = check_truth_against_baseline(opts(scenario, 5, 12), &stations);
        assert!(
            truth.records.len() > 5,
            "{scenario:?}: {}",
            truth.records.len()
        );
    }
}

#[test]
fn presets_do_what_they_say() {
    let (_, quiet, _) = run(opts(Scenario::Quiet, 2, 14));
    assert!(!quiet.records.is_empty() && quiet.records.iter().all(|r| r.kind == TruthKind::Spike));

    let (_, typical, _) = run(opts(Scenario::Typical, 2, 28));
    let count = |t: &TruthFile, k: TruthKind| t.records.iter().filter(|r| r.kind == k).count();
    let pollution = typical
        .records
        .iter()
        .filter(|r| r.category == TruthCategory::SuspectedDischarge)
        .count();
    assert!(
        (14..=45).contains(&pollution),
        "about one per station-fortnight: {pollution}"
    );
    assert_eq!(count(&typical, TruthKind::ChronicExceedance), 1);
    let chronic = typical
        .records
        .iter()
        .find(|r| r.kind == TruthKind::ChronicExceedance)
        .unwrap();
    assert!(chronic.stations[0].peak_ratio_to_limit.unwrap() > 1.1);
    assert!(chronic.end - chronic.start > 10 * DAY);

    let (_, stormy, _) = run(opts(Scenario::Stormy, 2, 14));
    let storms: Vec<_> = stormy
        .records
        .iter()
        .filter(|r| r.kind == TruthKind::Runoff)
        .collect();
    assert!(
        storms.len() >= 2
            && storms
                .iter()
                .all(|r| r.stations.len() >= 5 && r.source_segment.is_none())
    );

    let (_, tamper, _) = run(opts(Scenario::Tamper, 2, 30));
    let tampered: Vec<_> = tamper
        .records
        .iter()
        .filter(|r| r.kind == TruthKind::Tamper)
        .collect();
    assert!(!tampered.is_empty());
    for t in tampered {
        let s = &t.stations[0].station;
        // A pulse passed the tampered station unseen there, and was seen at the next station.
        let hidden = tamper
            .records
            .iter()
            .find(|r| Some(&r.id) == t.related.as_ref());
        let hidden = hidden.unwrap_or_else(|| panic!("no pulse behind {}", t.id));
        assert!(
            hidden.stations.iter().all(|w| &w.station != s),
            "{t:#?}\n{hidden:#?}"
        );
        assert_eq!(hidden.source_segment, t.source_segment);
        assert!(hidden.stations[0].start > t.start && hidden.release < Some(t.end));
        assert_eq!(t.source_segment.as_ref().unwrap().downstream, *s);
    }

    let net = Stations::parse("synthetic", &synthetic_stations_toml(40, 1)).unwrap();
    let reservoirs = net
        .list
        .iter()
        .filter(|s| s.water_body == crate::config::WaterBody::Reservoir)
        .count();
    assert_eq!(reservoirs, 2, "two basins of 20, each with a reservoir");
    let (r, load, _) = run_on(
        &net,
        SimOptions {
            duration: 6 * HOUR,
            ..opts(Scenario::Load, 1, 1)
        },
    );
    assert!(load.records.is_empty());
    // 72 probe ticks × 5 probe parameters; analysers at 0 h and 4 h (TN at the reservoir too).
    assert_eq!(r.len(), 40 * 5 * 72 + 2 * (40 * 3 + reservoirs));
}

#[test]
fn pulses_travel_downstream_later_broader_and_sized_to_the_class() {
    let o = SimOptions {
        analyser_interval: 5 * MINUTE,
        ..opts(Scenario::Typical, 8, 40)
    };
    let (_, truth, _) = run(o);
    let pulses: Vec<_> = truth
        .records
        .iter()
        .filter(|r| r.category == TruthCategory::SuspectedDischarge)
        .collect();
    let mut firsts: Vec<f64> = pulses
        .iter()
        .filter_map(|r| r.stations[0].peak_ratio_to_limit)
        .collect();
    firsts.sort_by(f64::total_cmp);
    let median = firsts[firsts.len() / 2];
    assert!(
        (2.0..6.5).contains(&median),
        "median first-station peak {median}× the limit"
    );
    let travelling: Vec<_> = pulses.iter().filter(|r| r.stations.len() >= 2).collect();
    assert!(!travelling.is_empty());
    for r in travelling {
        let (a, b) = (&r.stations[0], &r.stations[1]);
        assert!(b.start > a.start, "{}: later downstream", r.id);
        let seg = r.source_segment.as_ref().unwrap();
        assert_eq!(
            seg.downstream, a.station,
            "{}: the source is above the first station",
            r.id
        );
        assert!(r.release.unwrap() < a.start);
    }
}

#[test]
fn bad_options_are_refused() {
    let cfg = Config::embedded();
    let o = opts(Scenario::Quiet, 1, 1);
    for bad in [
        SimOptions {
            interval: 0,
            ..o.clone()
        },
        SimOptions {
            analyser_interval: 7 * MINUTE,
            ..o.clone()
        },
        SimOptions {
            duration: -DAY,
            ..o.clone()
        },
        SimOptions {
            start: 0,
            ..o.clone()
        },
    ] {
        assert!(Simulator::new(&cfg.stations, &cfg.gb3838, bad).is_err());
    }
    assert!(Simulator::new(&Stations::default(), &cfg.gb3838, o).is_err());
}
