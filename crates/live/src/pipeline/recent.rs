//! The evidence cache: the durable readings of the recent past, kept by the engine stage so that
//! a lead revision can be sealed from what the service holds instead of a query to the store
//! (issue 6: under write load, reading the evidence back from InfluxDB was the tail of the
//! ingest→lead latency).
//!
//! It holds what the store holds, as far as this service made it durable: every reading that
//! reaches the engine stage has been stored or spooled (see `pipeline`), and it goes in here as
//! it arrives — before the engine's reorder hold-back, so held-back readings count, as they do
//! in the store. Per stream (station, parameter), a time-ordered map time → (value, flag); a
//! reading re-sent for the same station, parameter and time replaces the one held, the identity
//! rule of InfluxDB and of the SQLite store.
//!
//! It is bounded by reading time, not by count or wall clock: it keeps the readings no older
//! than [`HORIZON`] behind the newest reading time it was given, so a burst of old data or a
//! load test that sends days of readings per second holds the same span. [`Recent::evidence`]
//! answers only for a spec that starts at or after `covered_from`, the time since which the
//! cache is complete: the start of the start-up replay (which feeds every reading from there
//! that the store holds or that a previous process left in the spool for it: both will be in
//! the store); without a replay, just past the newest reading the store or the spool held at
//! start (from the first reading on if they held none: the service wrote everything since);
//! else the first reading's time. It is raised as old readings are swept out. Anything older
//! (a lead whose events ran for days, the first leads after a restart) is read from the store.

use crate::seal::evidence::EvidenceSpec;
use crate::store::reading_order;
use riverwatch_engine::time::{Millis, DAY, HOUR};
use riverwatch_engine::{DataFlag, ParamId, Reading, StationId};
use std::collections::{BTreeMap, HashMap};

/// Reading time kept behind the newest reading. A revision's evidence starts `EVIDENCE_MARGIN`
/// (12 h) before its window, and its window reaches the newest reading the engine had fed, so
/// three days serves every lead whose events span up to two and a half days — pollution
/// episodes and storm flushes last hours — and covers the default start-up replay (2 d). For
/// the simulated network (14 stations, 69 readings every 5 minutes) that is about 60,000
/// readings in 3 MB (measured: 49 bytes a reading, the per-stream B-trees included).
pub(crate) const HORIZON: Millis = 3 * DAY;

/// How far the cut-off moves before old readings are swept out: one pass over the streams per
/// step instead of a check per reading.
const SWEEP_STEP: Millis = HOUR;

/// One stream's readings by time.
type Stream = BTreeMap<Millis, (f64, DataFlag)>;

/// Recent durable readings per stream (module doc).
pub(crate) struct Recent {
    streams: HashMap<StationId, HashMap<ParamId, Stream>>,
    horizon: Millis,
    /// Newest reading time given.
    newest: Millis,
    /// Since when the cache holds every reading the service made durable; `None` before the
    /// first reading.
    covered_from: Option<Millis>,
    len: usize,
}

impl Recent {
    /// An empty cache keeping `horizon` of reading time.
    pub fn new(horizon: Millis) -> Self {
        Self {
            streams: HashMap::new(),
            horizon,
            newest: Millis::MIN,
            covered_from: None,
            len: 0,
        }
    }

    /// Declares the cache complete from `from` on, before any reading: the start-up replay is
    /// about to feed every stored or spooled reading from there.
    pub fn complete_from(&mut self, from: Millis) {
        if self.covered_from.is_none() {
            self.covered_from = Some(from);
        }
    }

    /// Since when the cache is complete.
    pub fn covered_from(&self) -> Option<Millis> {
        self.covered_from
    }

    /// Readings held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Takes in a durable reading (replacing one of the same station, parameter and time), and
    /// sweeps out what fell behind the horizon. A reading older than `covered_from` is left
    /// out: the cache does not claim that time.
    pub fn insert(&mut self, r: &Reading) {
        let from = *self.covered_from.get_or_insert(r.time);
        if r.time < from {
            return;
        }
        let params = match self.streams.get_mut(&r.station) {
            Some(p) => p,
            None => self.streams.entry(r.station.clone()).or_default(),
        };
        let stream = match params.get_mut(&r.parameter) {
            Some(s) => s,
            None => params.entry(r.parameter.clone()).or_default(),
        };
        if stream.insert(r.time, (r.value, r.flag)).is_none() {
            self.len += 1;
        }
        if r.time > self.newest {
            self.newest = r.time;
            let cut = self.newest.saturating_sub(self.horizon);
            if cut.saturating_sub(from) >= SWEEP_STEP {
                self.sweep(cut);
            }
        }
    }

    /// Drops every reading older than `cut`; the cache is complete from `cut` on.
    fn sweep(&mut self, cut: Millis) {
        let mut len = 0;
        self.streams.retain(|_, params| {
            params.retain(|_, stream| {
                *stream = stream.split_off(&cut);
                len += stream.len();
                !stream.is_empty()
            });
            !params.is_empty()
        });
        self.len = len;
        self.covered_from = Some(cut);
    }

    /// The readings of `spec` (exactly those [`EvidenceSpec::contains`] accepts), in store
    /// order; `None` when the spec starts before the time the cache is complete from.
    pub fn evidence(&self, spec: &EvidenceSpec) -> Option<Vec<Reading>> {
        if spec.from < self.covered_from? {
            return None;
        }
        let mut out = Vec::new();
        for cut in &spec.stations {
            if cut.until < spec.from {
                continue;
            }
            let Some((station, params)) = self.streams.get_key_value(&StationId::new(&cut.station))
            else {
                continue;
            };
            for p in &spec.parameters {
                let Some((parameter, stream)) = params.get_key_value(&ParamId::new(p)) else {
                    continue;
                };
                out.extend(
                    stream
                        .range(spec.from..=cut.until)
                        .map(|(t, (value, flag))| Reading {
                            station: station.clone(),
                            parameter: parameter.clone(),
                            time: *t,
                            value: *value,
                            flag: *flag,
                        }),
                );
            }
        }
        out.sort_by(reading_order);
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seal::evidence::tests::r;
    use crate::seal::evidence::StationCut;

    fn spec(from: Millis, cuts: &[(&str, Millis)], params: &[&str]) -> EvidenceSpec {
        EvidenceSpec {
            parameters: params.iter().map(|p| p.to_string()).collect(),
            from,
            stations: cuts
                .iter()
                .map(|(s, until)| StationCut {
                    station: s.to_string(),
                    until: *until,
                })
                .collect(),
        }
    }

    #[test]
    fn a_resent_point_replaces_the_one_held() {
        let mut c = Recent::new(HORIZON);
        c.insert(&r("DL03", "nh3n", 1_000, 0.5));
        c.insert(&r("DL03", "nh3n", 2_000, 0.6));
        let mut again = r("DL03", "nh3n", 1_000, 0.7);
        again.flag = DataFlag::from_letter('M');
        c.insert(&again);
        assert_eq!(c.len(), 2);
        let got = c
            .evidence(&spec(1_000, &[("DL03", 2_000)], &["nh3n"]))
            .expect("covered");
        assert_eq!(got, vec![again, r("DL03", "nh3n", 2_000, 0.6)]);
    }

    #[test]
    fn it_gives_exactly_the_spec_in_store_order() {
        let mut c = Recent::new(HORIZON);
        let all = [
            r("DL04", "do", 100, 7.0),
            r("DL03", "nh3n", 100, 0.4),
            r("DL03", "do", 100, 8.0),
            r("DL03", "nh3n", 200, 0.5),
            r("DL04", "nh3n", 200, 0.3),
            r("DL03", "cod", 200, 9.0),
            r("DL04", "do", 300, 7.5),
            r("DL05", "do", 300, 6.0),
        ];
        for x in &all {
            c.insert(x);
        }
        let s = spec(150, &[("DL03", 300), ("DL04", 250)], &["do", "nh3n"]);
        let mut want: Vec<_> = all.iter().filter(|x| s.contains(x)).cloned().collect();
        want.sort_by(reading_order);
        assert_eq!(want.len(), 2, "{want:?}");
        assert_eq!(c.evidence(&s), Some(want));
    }

    #[test]
    fn old_readings_are_swept_out_by_reading_time_and_coverage_follows() {
        let mut c = Recent::new(DAY);
        c.insert(&r("DL03", "nh3n", 0, 0.1));
        c.insert(&r("DL03", "do", 0, 8.0));
        assert_eq!(c.covered_from(), Some(0));
        // Less than a sweep step past the horizon: nothing goes yet.
        c.insert(&r("DL03", "nh3n", DAY + HOUR / 2, 0.2));
        assert_eq!((c.len(), c.covered_from()), (3, Some(0)));
        c.insert(&r("DL03", "nh3n", DAY + 2 * HOUR, 0.3));
        assert_eq!(c.covered_from(), Some(2 * HOUR));
        assert_eq!(c.len(), 2, "both readings at time 0 are gone");
        assert_eq!(c.evidence(&spec(0, &[("DL03", 3 * DAY)], &["nh3n"])), None);
        let kept = c
            .evidence(&spec(2 * HOUR, &[("DL03", 3 * DAY)], &["nh3n", "do"]))
            .expect("covered");
        assert_eq!(kept.len(), 2);
        // A late reading from before the covered time is not taken in.
        c.insert(&r("DL03", "nh3n", HOUR, 0.9));
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn the_replay_start_is_covered_before_any_reading() {
        let mut c = Recent::new(HORIZON);
        assert_eq!(c.evidence(&spec(0, &[("DL03", 10)], &["do"])), None);
        c.complete_from(-5 * HOUR);
        c.insert(&r("DL03", "do", 0, 8.0));
        assert_eq!(c.covered_from(), Some(-5 * HOUR));
        let got = c.evidence(&spec(-HOUR, &[("DL03", 10)], &["do"]));
        assert_eq!(got.map(|v| v.len()), Some(1));
    }
}
