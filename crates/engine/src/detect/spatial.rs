//! The upstream/downstream comparison. When a water event opens at a station, each upstream
//! station is examined around the moment the same water passed it (event start − travel time,
//! ± a tolerance):
//! - it had a water event then → the pulse came from further up: join that incident;
//! - it was silent or stuck then → it was not watching while a pulse passed: a possible
//!   falsification, raised as a monitoring anomaly against the upstream station;
//! - it was clean → the source lies in the segment between them.
//!
//! Reservoir outflows (no travel time configured) cannot carry a pulse and count as clean.

use super::track::{OpenEvent, TrackKind};
use super::{Engine, Output};
use crate::events::Segment;
use crate::model::{DetectorId, ParamId};
use crate::time::{Millis, Rfc3339};

/// What was found at one upstream station.
enum Upstream {
    Clean,
    Pulse {
        station: usize,
        history: Option<usize>,
    },
    Blind {
        station: usize,
        history: Option<usize>,
    },
    Unknown,
}

/// Score given to the spatial finding when the source is localised.
const LOCALISED_SCORE: f64 = 0.7;

impl Engine {
    /// What upstream station `ui` was doing between `lo` and `hi`, as seen by a downstream
    /// event changing `params`. Only a water event that moved one of the same parameters counts
    /// as the same pulse.
    fn examine(&self, ui: usize, lo: Millis, hi: Millis, params: &[ParamId]) -> Upstream {
        let st = &self.stations[ui];
        let same_pulse = |e: &OpenEvent| {
            e.start <= hi && e.end >= lo && params.iter().any(|p| e.params.contains_key(p))
        };
        let overlaps = |s: Millis, e: Millis| s <= hi && e >= lo;
        if st.water.open.as_ref().is_some_and(same_pulse) {
            return Upstream::Pulse {
                station: ui,
                history: None,
            };
        }
        if let Some(h) = st
            .history
            .iter()
            .rposition(|p| p.track == TrackKind::Water && same_pulse(&p.snapshot))
        {
            return Upstream::Pulse {
                station: ui,
                history: Some(h),
            };
        }
        let blind = |e: &OpenEvent| {
            e.detectors
                .keys()
                .any(|d| matches!(d, DetectorId::Gap | DetectorId::Flatline))
        };
        if st
            .monitoring
            .open
            .as_ref()
            .is_some_and(|e| overlaps(e.start, e.end) && blind(e))
        {
            return Upstream::Blind {
                station: ui,
                history: None,
            };
        }
        if let Some(h) = st
            .history
            .iter()
            .rposition(|p| p.track == TrackKind::Monitoring && p.blind && overlaps(p.start, p.end))
        {
            return Upstream::Blind {
                station: ui,
                history: Some(h),
            };
        }
        if st.max_time < hi {
            return Upstream::Unknown;
        }
        Upstream::Clean
    }

    /// Runs the comparison for the water event that just opened at station `si`.
    pub(super) fn compare_upstream(&mut self, si: usize, out: &mut Output) {
        let sp = self.cfg.thresholds.spatial;
        let Some(cfg) = self.stations[si].cfg.clone() else {
            return;
        };
        let Some((start, params)) = self.stations[si]
            .water
            .open
            .as_ref()
            .map(|e| (e.start, e.params.keys().cloned().collect::<Vec<_>>()))
        else {
            return;
        };
        if !sp.enabled {
            return;
        }
        let mut clean = vec![];
        let mut found = vec![];
        let mut unknown = false;
        for (u, tt) in &cfg.upstream {
            let Some(tt) = *tt else {
                clean.push(u.clone());
                continue;
            };
            let tol = sp.min_tolerance.max((sp.tolerance * tt as f64) as Millis);
            let (lo, hi) = (start - tt - tol, start - tt + tol);
            match self
                .by_station
                .get(u)
                .map(|&ui| self.examine(ui, lo, hi, &params))
            {
                Some(Upstream::Clean) => clean.push(u.clone()),
                Some(Upstream::Unknown) | None => unknown = true,
                Some(other) => found.push(other),
            }
        }
        let here = cfg.id.clone();
        let mut lead = None;
        for f in &found {
            match *f {
                Upstream::Pulse { station, history } => {
                    let id = self.mark_upstream(
                        station,
                        TrackKind::Water,
                        history,
                        |e| e.propagated = true,
                        None,
                        out,
                    );
                    lead = lead.or(id);
                }
                Upstream::Blind { station, history } => {
                    let note = format!(
                        "{} was silent or stuck while a pulse passed it; {here} saw the pulse from {}.",
                        self.stations[station].id,
                        Rfc3339(start)
                    );
                    self.mark_upstream(
                        station,
                        TrackKind::Monitoring,
                        history,
                        |e| e.tamper = true,
                        Some(note),
                        out,
                    );
                }
                Upstream::Clean | Upstream::Unknown => {}
            }
        }
        let Some(e) = self.stations[si].water.open.as_mut() else {
            return;
        };
        if let Some(id) = lead {
            e.propagated = true;
            e.lead = Some(id);
        } else if found.is_empty() && !unknown {
            e.segment = Some(Segment {
                upstream: clean,
                downstream: here,
            });
            if !cfg.upstream.is_empty() {
                e.detectors.insert(DetectorId::Spatial, LOCALISED_SCORE);
            }
        }
    }

    /// Updates an upstream event (open, or closed and remembered) and its incident; a closed
    /// event is written again with its new kind. Returns the incident's lead id.
    fn mark_upstream(
        &mut self,
        ui: usize,
        track: TrackKind,
        history: Option<usize>,
        mark: impl FnOnce(&mut OpenEvent),
        note: Option<String>,
        out: &mut Output,
    ) -> Option<String> {
        let mut before = None;
        let (mut e, still_open) = match history {
            None => {
                let open = match track {
                    TrackKind::Water => self.stations[ui].water.open.as_mut(),
                    TrackKind::Monitoring => self.stations[ui].monitoring.open.as_mut(),
                }?;
                mark(open);
                (open.clone(), true)
            }
            Some(h) => {
                let past = &mut self.stations[ui].history[h];
                before = Some((past.snapshot.kind(), past.snapshot.lead.clone()));
                mark(&mut past.snapshot);
                (past.snapshot.clone(), false)
            }
        };
        let id = self.sync_incident(ui, &e, still_open, note, out);
        e.lead = id.clone();
        match history {
            None => {
                let open = match track {
                    TrackKind::Water => self.stations[ui].water.open.as_mut(),
                    TrackKind::Monitoring => self.stations[ui].monitoring.open.as_mut(),
                };
                if let Some(open) = open {
                    open.lead = id.clone();
                }
            }
            Some(h) => {
                let past = &mut self.stations[ui].history[h];
                past.lead = id.clone();
                past.snapshot.lead = id.clone();
                if before != Some((e.kind(), e.lead.clone())) {
                    out.events.push(e.record());
                }
            }
        }
        id
    }
}
