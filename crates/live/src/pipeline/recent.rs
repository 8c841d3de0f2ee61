//! The evidence cache: the durable readings of the recent past, kept by the engine stage so that
//! a lead revision can be sealed from what the service holds instead of a query to the store
//! (issue 6: under write load, reading the evidence back from InfluxDB was the tail of the
//! ingest→lead latency).
//!
//! It holds what the store holds, as far as this service made it durable: every reading that
//! reaches the engine stage has been stored or spooled (see `pipeline`), and it goes in here as
//! it arrives — before the engine's reorder hold-back, so held-back readings count, as they do
//! in the store. Per stream (station, parameter), the readings sorted by time in a deque — they
//! mostly arrive in time order, so a reading is usually appended and old ones leave from the
//! front; a reading re-sent for the same station, parameter and time replaces the one held, the
//! identity rule of InfluxDB and of the SQLite store.
//!
//! It is bounded by reading time, not by count or wall clock: it keeps the readings no older
//! than [`HORIZON`] behind the newest reading time it was given, so a burst of old data or a
//! load test that sends days of readings per second holds the same span — except what the
//! evidence of a lead needs: a lead whose events run for days is revised again and again with
//! evidence from its start (12 h before its window), so the engine stage asks the cache to keep
//! its stations' readings from there ([`Recent::keep`]) for as long as the engine may revise
//! it — after it closed, too, as later events can still join it — and at most `keep` (the
//! service's `evidence_keep`) behind the newest reading. Whole stations, every parameter: a
//! later revision may name parameters the earlier ones did not.
//!
//! Each station knows the time since which it holds all its readings; a station the cache has
//! no entry for is complete since `covered_from`: the start of the start-up replay (which feeds
//! every reading from there that the store holds or that a previous process left in the spool
//! for it: both will be in the store); without a replay, just past the newest reading the store
//! or the spool held at start (from the first reading on if they held none: the service wrote
//! everything since); else the first reading's time — raised to the cut as old readings are
//! swept out. [`Recent::evidence`] answers only when every station of the spec is complete from
//! its start. Anything older (the first leads after a restart, a lead that gained a station
//! whose older readings had gone) is read from the store.

use crate::seal::evidence::EvidenceSpec;
use crate::store::reading_order;
use riverwatch_engine::time::{Millis, DAY, HOUR};
use riverwatch_engine::{DataFlag, ParamId, Reading, StationId};
use std::collections::{HashMap, VecDeque};

/// Reading time kept behind the newest reading. A revision's evidence starts `EVIDENCE_MARGIN`
/// (12 h) before its window, and its window reaches the newest reading the engine had fed, so
/// three days serve every new lead whose events began up to two and a half days ago (longer
/// ones are kept by [`Recent::keep`]) and cover the default start-up replay (2 d). For the
/// simulated network (14 stations, 69 readings every 5 minutes) that is about 60,000 readings
/// in under 3 MB (24 bytes a reading in its stream's deque, up to twice that while a deque's
/// capacity runs ahead of it; B-trees took 49).
pub(crate) const HORIZON: Millis = 3 * DAY;

/// The shipped `evidence_keep`, for tests.
#[cfg(test)]
pub(crate) const KEEP: std::time::Duration = std::time::Duration::from_secs(30 * 86_400);

/// How far the cut-off moves before old readings are swept out: one pass over the streams per
/// step instead of a check per reading.
const SWEEP_STEP: Millis = HOUR;

/// One stream's readings, sorted by time, one per time.
#[derive(Default)]
struct Stream(VecDeque<(Millis, f64, DataFlag)>);

impl Stream {
    /// Adds a reading, or replaces the one at its time; true when added.
    fn put(&mut self, time: Millis, value: f64, flag: DataFlag) -> bool {
        if self.0.back().is_none_or(|last| last.0 < time) {
            self.0.push_back((time, value, flag));
            return true;
        }
        let at = self.first_at(time);
        match self.0.get_mut(at) {
            Some(held) if held.0 == time => {
                *held = (time, value, flag);
                false
            }
            _ => {
                self.0.insert(at, (time, value, flag));
                true
            }
        }
    }

    /// Index of the first reading at or after `time`.
    fn first_at(&self, time: Millis) -> usize {
        self.0.partition_point(|r| r.0 < time)
    }

    /// Drops the readings before `time`.
    fn drop_before(&mut self, time: Millis) {
        let n = self.first_at(time);
        self.0.drain(..n);
    }

    /// The readings with `from <= time <= until`.
    fn between(
        &self,
        from: Millis,
        until: Millis,
    ) -> impl Iterator<Item = &(Millis, f64, DataFlag)> {
        let end = self.0.partition_point(|r| r.0 <= until);
        self.0.range(self.first_at(from).min(end)..end)
    }
}

/// One station's streams, and since when it holds all of that station's readings.
struct Station {
    from: Millis,
    params: HashMap<ParamId, Stream>,
}

/// A lead's evidence stations, kept from its evidence start.
struct Kept {
    from: Millis,
    stations: Vec<StationId>,
}

/// Recent durable readings per stream (module doc).
pub(crate) struct Recent {
    stations: HashMap<StationId, Station>,
    horizon: Millis,
    /// How far behind the newest reading a lead's stations are kept at most.
    keep: Millis,
    /// Newest reading time given.
    newest: Millis,
    /// Since when a station without an entry is complete; `None` before the first reading.
    covered_from: Option<Millis>,
    /// The leads whose evidence is kept, by lead id.
    kept: HashMap<String, Kept>,
    len: usize,
}

impl Recent {
    /// An empty cache keeping `horizon` of reading time, and up to `keep` of the stations of
    /// leads that may be revised.
    pub fn new(horizon: Millis, keep: Millis) -> Self {
        Self {
            stations: HashMap::new(),
            horizon,
            keep,
            newest: Millis::MIN,
            covered_from: None,
            kept: HashMap::new(),
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

    /// Since when a station the cache holds nothing of is complete.
    pub fn covered_from(&self) -> Option<Millis> {
        self.covered_from
    }

    /// Readings held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Takes in a durable reading (replacing one of the same station, parameter and time), and
    /// sweeps out what fell behind the horizon. A reading older than its station is complete
    /// from is left out: the cache does not claim that time.
    pub fn insert(&mut self, r: &Reading) {
        let covered = *self.covered_from.get_or_insert(r.time);
        let station = match self.stations.get_mut(&r.station) {
            Some(s) => s,
            None if r.time < covered => return,
            None => self
                .stations
                .entry(r.station.clone())
                .or_insert_with(|| Station {
                    from: covered,
                    params: HashMap::new(),
                }),
        };
        if r.time < station.from {
            return;
        }
        let stream = match station.params.get_mut(&r.parameter) {
            Some(s) => s,
            None => station.params.entry(r.parameter.clone()).or_default(),
        };
        if stream.put(r.time, r.value, r.flag) {
            self.len += 1;
        }
        if r.time > self.newest {
            self.newest = r.time;
            let cut = self.newest.saturating_sub(self.horizon);
            if cut.saturating_sub(covered) >= SWEEP_STEP {
                self.sweep(cut);
            }
        }
    }

    /// Keeps the readings of `stations` from `from` on — a lead's evidence stations and those
    /// its later revisions may add, every parameter — for the lead's next revisions, until
    /// [`Recent::retain_kept`] lets it go. Each revision re-states them.
    pub fn keep(&mut self, lead: &str, from: Millis, stations: Vec<StationId>) {
        self.kept.insert(lead.to_string(), Kept { from, stations });
    }

    /// Lets go of the kept leads `revisable` says will not be revised again; their readings go
    /// with the next sweep.
    pub fn retain_kept(&mut self, mut revisable: impl FnMut(&str) -> bool) {
        self.kept.retain(|id, _| revisable(id));
    }

    /// Drops every reading older than `cut`, except the kept stations' from their lead's
    /// evidence start; a station without an entry is complete from `cut` on.
    fn sweep(&mut self, cut: Millis) {
        let before = self.covered_from.unwrap_or(cut);
        let floor = self.newest.saturating_sub(self.keep);
        self.kept.retain(|_, k| k.from >= floor);
        let mut keep_from: HashMap<&StationId, Millis> = HashMap::new();
        for k in self.kept.values().filter(|k| k.from < cut) {
            for s in &k.stations {
                let from = keep_from.entry(s).or_insert(k.from);
                *from = (*from).min(k.from);
            }
        }
        // A kept station with nothing held yet must remember that it is complete from before.
        for s in keep_from.keys() {
            self.stations
                .entry((*s).clone())
                .or_insert_with(|| Station {
                    from: before,
                    params: HashMap::new(),
                });
        }
        let mut len = 0;
        self.stations.retain(|id, station| {
            let keep = keep_from.get(id).copied().unwrap_or(cut);
            if keep > station.from {
                station.from = keep;
                station.params.retain(|_, stream| {
                    stream.drop_before(keep);
                    !stream.0.is_empty()
                });
            }
            len += station.params.values().map(|s| s.0.len()).sum::<usize>();
            !station.params.is_empty() || station.from < cut
        });
        self.len = len;
        self.covered_from = Some(cut);
    }

    /// The readings of `spec` (exactly those [`EvidenceSpec::contains`] accepts), in store
    /// order; `None` when one of its stations is not complete from the spec's start.
    pub fn evidence(&self, spec: &EvidenceSpec) -> Option<Vec<Reading>> {
        let covered = self.covered_from?;
        let mut out = Vec::new();
        for cut in &spec.stations {
            if cut.until < spec.from {
                continue;
            }
            let held = self.stations.get_key_value(&StationId::new(&cut.station));
            if spec.from < held.map_or(covered, |(_, s)| s.from) {
                return None;
            }
            let Some((station, held)) = held else {
                continue;
            };
            for p in &spec.parameters {
                let Some((parameter, stream)) = held.params.get_key_value(&ParamId::new(p)) else {
                    continue;
                };
                out.extend(
                    stream
                        .between(spec.from, cut.until)
                        .map(|(t, value, flag)| Reading {
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
        let mut c = Recent::new(HORIZON, 30 * DAY);
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
    fn a_stream_keeps_late_readings_in_time_order() {
        let n = DataFlag::default();
        let mut s = Stream::default();
        for (t, v) in [(30, 3.0), (10, 1.0), (50, 5.0), (20, 2.0), (40, 4.0)] {
            assert!(s.put(t, v, n), "{t} added");
        }
        assert!(
            !s.put(20, 2.5, n),
            "a second reading at 20 replaces the first"
        );
        let times = |s: &Stream, from, until| -> Vec<(Millis, f64)> {
            s.between(from, until).map(|r| (r.0, r.1)).collect()
        };
        assert_eq!(
            times(&s, 0, 100),
            [(10, 1.0), (20, 2.5), (30, 3.0), (40, 4.0), (50, 5.0)]
        );
        assert_eq!(times(&s, 20, 40), [(20, 2.5), (30, 3.0), (40, 4.0)]);
        assert_eq!(times(&s, 21, 39), [(30, 3.0)]);
        assert_eq!(times(&s, 40, 20), []);
        s.drop_before(30);
        assert_eq!(times(&s, 0, 100), [(30, 3.0), (40, 4.0), (50, 5.0)]);
    }

    #[test]
    fn it_gives_exactly_the_spec_in_store_order() {
        let mut c = Recent::new(HORIZON, 30 * DAY);
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
        let mut c = Recent::new(DAY, 30 * DAY);
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
        let mut c = Recent::new(HORIZON, 30 * DAY);
        assert_eq!(c.evidence(&spec(0, &[("DL03", 10)], &["do"])), None);
        c.complete_from(-5 * HOUR);
        c.insert(&r("DL03", "do", 0, 8.0));
        assert_eq!(c.covered_from(), Some(-5 * HOUR));
        let got = c.evidence(&spec(-HOUR, &[("DL03", 10)], &["do"]));
        assert_eq!(got.map(|v| v.len()), Some(1));
    }
    /// Hourly readings of DL03 nh3n and DL04 do from time 0 to `until` (inclusive), into `c`.
    fn hourly(c: &mut Recent, from: Millis, until: Millis) {
        for t in (from..=until).step_by(HOUR as usize) {
            c.insert(&r("DL03", "nh3n", t, 0.5));
            c.insert(&r("DL04", "do", t, 8.0));
        }
    }

    #[test]
    fn a_leads_stations_are_kept_past_the_horizon_until_let_go() {
        let mut c = Recent::new(DAY, 30 * DAY);
        hourly(&mut c, 0, 6 * HOUR);
        // A lead at DL03 on nh3n and cod (no cod readings at all) from time 0.
        let lead = spec(0, &[("DL03", 10 * DAY)], &["nh3n", "cod"]);
        c.keep("L1", 0, vec![StationId::new("DL03")]);
        hourly(&mut c, 7 * HOUR, 3 * DAY);
        assert!(c.covered_from() > Some(DAY), "{:?}", c.covered_from());
        let got = c.evidence(&lead).expect("kept from the lead's start");
        assert_eq!(got.len(), 3 * 24 + 1, "every DL03 nh3n reading since 0");
        assert_eq!(
            c.evidence(&spec(0, &[("DL04", 10 * DAY)], &["do"])),
            None,
            "not kept: swept"
        );
        // A late reading of the kept stream, older than the horizon, is taken in.
        c.insert(&r("DL03", "nh3n", HOUR / 2, 0.7));
        assert_eq!(c.evidence(&lead).map(|v| v.len()), Some(3 * 24 + 2));
        // Every parameter of its station is kept (a revision may name more).
        let more = spec(0, &[("DL03", 10 * DAY)], &["nh3n", "do"]);
        assert_eq!(c.evidence(&more).map(|v| v.len()), Some(3 * 24 + 2));
        // A station that joins the lead later was swept: that revision goes to the store.
        let joined = spec(0, &[("DL03", 10 * DAY), ("DL04", 10 * DAY)], &["nh3n"]);
        c.keep(
            "L1",
            0,
            vec![StationId::new("DL03"), StationId::new("DL04")],
        );
        assert_eq!(c.evidence(&joined), None);
        // No longer revisable: its streams go with the next sweep.
        let held = c.len();
        c.retain_kept(|id| id != "L1");
        hourly(&mut c, 3 * DAY + HOUR, 3 * DAY + 2 * HOUR);
        assert_eq!(c.evidence(&lead), None);
        assert!(c.len() < held - 24, "{} of {held} held", c.len());
    }

    #[test]
    fn a_lead_open_longer_than_the_limit_is_no_longer_kept() {
        let mut c = Recent::new(DAY, 30 * DAY);
        hourly(&mut c, 0, HOUR);
        let lead = spec(0, &[("DL03", Millis::MAX)], &["nh3n"]);
        c.keep("L1", 0, vec![StationId::new("DL03")]);
        hourly(&mut c, 2 * HOUR, 30 * DAY);
        assert!(c.evidence(&lead).is_some(), "kept up to the limit");
        hourly(&mut c, 30 * DAY + HOUR, 30 * DAY + 2 * HOUR);
        assert_eq!(c.evidence(&lead), None);
        assert!(c.len() <= 2 * (25 + 2), "{} held", c.len());
    }
}
