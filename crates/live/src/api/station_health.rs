//! Station health as `/api/stations` shows it to an analyst: is the station silent, is one of
//! its sensors stuck on one value, or is a value outside what is physically possible?
//!
//! This is a glance at the station's newest readings, not detection: the engine's `gap`,
//! `flatline` and `range` detectors judge every reading and raise leads; this judges only the
//! present, with the same thresholds (`gap.min_silence`, the `flatline` rule) and the same
//! physical ranges, so the stations page and the leads tell one story. Silence is measured against the
//! newest reading of the whole network rather than the wall clock, so that a replayed or
//! accelerated river (the demo) is judged on its own time; a whole network gone quiet is what
//! `/readyz` reports.

use riverwatch_engine::config::{Config, FlatlineCfg};
use riverwatch_engine::params::{self, ParamInfo};
use riverwatch_engine::time::{Millis, HOUR, SECOND};
use riverwatch_engine::{ParamId, Reading, StationId};
use serde::Serialize;
use std::collections::BTreeMap;

/// How far back from a station's newest reading the readings are judged: longer than the
/// flatline detector's `min_duration`, with history before a run to judge its chance.
pub(super) const LOOKBACK: Millis = 12 * HOUR;

/// What is wrong with one station now; every list empty and `states` empty means healthy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct StationHealth {
    /// `no_data`, `silent`, `out_of_range`, `stuck`, worst first; empty when healthy.
    pub states: Vec<&'static str>,
    /// Seconds between the station's newest reading and the network's, when silent.
    pub silent_for_s: Option<i64>,
    /// Parameters whose newest values repeat one value at least `flatline.run` times.
    pub stuck: Vec<ParamId>,
    /// Parameters whose newest value lies outside the physical range.
    pub out_of_range: Vec<ParamId>,
}

/// Judges `station` from its newest reading time `last`, the network's newest reading time
/// `network_last` and its readings `recent` (any order, other stations ignored) of the
/// [`LOOKBACK`] window before `last`.
pub(super) fn assess(
    cfg: &Config,
    station: &StationId,
    last: Option<Millis>,
    network_last: Option<Millis>,
    recent: &[Reading],
) -> StationHealth {
    let mut h = StationHealth {
        states: Vec::new(),
        silent_for_s: None,
        stuck: Vec::new(),
        out_of_range: Vec::new(),
    };
    let Some(last) = last else {
        h.states.push("no_data");
        return h;
    };
    let behind = network_last.map_or(0, |n| n - last);
    let quiet = cfg
        .thresholds
        .for_stream(station.as_str(), "")
        .gap
        .min_silence;
    if behind > quiet {
        h.states.push("silent");
        h.silent_for_s = Some(behind / SECOND);
    }
    let mut streams: BTreeMap<&ParamId, Vec<&Reading>> = BTreeMap::new();
    for r in recent.iter().filter(|r| &r.station == station) {
        streams.entry(&r.parameter).or_default().push(r);
    }
    for (param, mut series) in streams {
        series.sort_by_key(|r| r.time);
        let Some(newest) = series.last() else {
            continue;
        };
        if let Some(info) = params::lookup(param.as_str()) {
            let (lo, hi) = info.range;
            if !(lo..=hi).contains(&newest.value) {
                h.out_of_range.push(param.clone());
            }
        }
        let flat = cfg
            .thresholds
            .for_stream(station.as_str(), param.as_str())
            .flatline;
        if flat.enabled && stuck(&series, flat, params::lookup(param.as_str())) {
            h.stuck.push(param.clone());
        }
    }
    if !h.out_of_range.is_empty() {
        h.states.push("out_of_range");
    }
    if !h.stuck.is_empty() {
        h.states.push("stuck");
    }
    h
}

/// The flatline detector's rule on a window of one stream (time order): the newest value
/// repeated at least `run` times, for at least `min_duration`, not at the reporting resolution
/// floor, and longer than chance allows given how often the stream repeated a value before the
/// run (streams quantised to their resolution repeat a lot).
fn stuck(series: &[&Reading], c: FlatlineCfg, info: Option<&ParamInfo>) -> bool {
    let Some(newest) = series.last() else {
        return false;
    };
    let run = series
        .iter()
        .rev()
        .take_while(|r| r.value == newest.value)
        .count();
    let since = series[series.len() - run].time;
    let before = &series[..series.len() - run];
    let pairs = before.len().saturating_sub(1);
    let repeats = before
        .windows(2)
        .filter(|w| w[0].value == w[1].value)
        .count();
    let rate = if pairs == 0 {
        0.0
    } else {
        repeats as f64 / pairs as f64
    };
    let by_chance = (c.max_chance.ln() / rate.clamp(0.01, 0.999).ln()).ceil();
    let needed = (by_chance as usize).max(c.run as usize);
    let resolution = info.map_or(0.0, |i| i.resolution);
    run >= needed && newest.time - since >= c.min_duration && newest.value.abs() > resolution
}

#[cfg(test)]
mod tests {
    use super::*;
    use riverwatch_engine::time::MINUTE;
    use riverwatch_engine::DataFlag;

    fn series(station: &str, param: &str, values: &[f64], end: Millis) -> Vec<Reading> {
        let n = values.len() as Millis;
        values
            .iter()
            .enumerate()
            .map(|(i, v)| Reading {
                station: station.into(),
                parameter: param.into(),
                time: end - (n - 1 - i as Millis) * 5 * MINUTE,
                value: *v,
                flag: DataFlag::N,
            })
            .collect()
    }

    #[test]
    fn a_healthy_station_has_no_states() {
        let cfg = Config::embedded();
        let t = 10 * HOUR;
        let r = series("DL03", "do", &[7.1, 7.2, 7.0, 7.3], t);
        let h = assess(&cfg, &"DL03".into(), Some(t), Some(t + MINUTE), &r);
        assert!(h.states.is_empty(), "{h:?}");
    }

    /// A run of `v` long enough for the flatline rule (count and duration) at 5-minute steps.
    fn stuck_run(cfg: &Config, param: &str) -> usize {
        let flat = cfg.thresholds.for_stream("DL03", param).flatline;
        (flat.run as usize).max((flat.min_duration / (5 * MINUTE)) as usize + 1)
    }

    #[test]
    fn silence_stuck_and_impossible_values_are_named() {
        let cfg = Config::embedded();
        let run = stuck_run(&cfg, "nh3n");
        let t = 20 * HOUR;
        let mut r = series("DL03", "nh3n", &vec![0.42; run], t);
        r.extend(series("DL03", "do", &[7.0, -3.0], t));
        r.extend(series("DL04", "ph", &[99.0], t)); // another station's reading is ignored
        let h = assess(&cfg, &"DL03".into(), Some(t), Some(t + 2 * HOUR), &r);
        assert_eq!(h.states, ["silent", "out_of_range", "stuck"]);
        assert_eq!(h.silent_for_s, Some(7200));
        assert_eq!(h.stuck, [ParamId::from("nh3n")]);
        assert_eq!(h.out_of_range, [ParamId::from("do")]);

        let h = assess(&cfg, &"DL03".into(), None, Some(t), &[]);
        assert_eq!(h.states, ["no_data"]);
    }

    #[test]
    fn runs_that_chance_or_the_resolution_explain_are_not_stuck() {
        let cfg = Config::embedded();
        let run = stuck_run(&cfg, "nh3n");
        let t = 20 * HOUR;
        let judge = |values: &[f64]| {
            let r = series("DL03", "nh3n", values, t);
            assess(&cfg, &"DL03".into(), Some(t), Some(t), &r).stuck
        };
        let mut short = vec![0.5];
        short.extend(vec![0.42; run - 1]);
        assert!(judge(&short).is_empty(), "one reading short");
        // A stream that repeats its value nine times in ten: the same run is chance.
        let mut quantised: Vec<f64> = (0..100).map(|i| 0.4 + 0.01 * (i / 10) as f64).collect();
        quantised.extend(vec![0.42; run]);
        assert!(judge(&quantised).is_empty(), "a quantised stream");
        quantised.extend(vec![0.42; run * 2]);
        assert_eq!(
            judge(&quantised),
            [ParamId::from("nh3n")],
            "…until the run is long"
        );
        // At the resolution floor (a value of 0 reported as 0) nothing is stuck.
        assert!(judge(&vec![0.0; run * 2]).is_empty(), "zero at the floor");
    }
}
