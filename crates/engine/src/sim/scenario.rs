//! Scenario presets and the planner that turns one into a schedule of injections.
//!
//! Planning happens before the first reading, from its own random stream, and only produces
//! [`Effect`]s and truth drafts; the generator applies them. That separation is what lets the
//! same seed run with injections disabled and give the identical undisturbed baseline.

use super::baseline::{Clock, SimParam, StationBaseline};
use super::effect::{Action, Effect, Shape};
use super::faults::{fault, tamper};
use super::network::Network;
use super::pollution::{chronic, pick_site, release, runoff, subtle_shift, Release};
use super::rng::Rng;
use super::truth::TruthKind;
use crate::config::Stations;
use crate::events::Segment;
use crate::model::StationId;
use crate::time::{Millis, DAY, HOUR};

/// A preset mix of injections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scenario {
    /// No events: noise and a few isolated spikes.
    Quiet,
    /// About one discharge per station-fortnight, some sensor faults, a runoff event a month
    /// and one chronic exceedance.
    Typical,
    /// Runoff events hitting most stations every few days, plus discharges and faults.
    Stormy,
    /// Pulses that a tampered station hides (flat or silent); the next station sees them.
    Tamper,
    /// Many stations, no injections: for throughput.
    Load,
    /// Quiet, plus correlated small shifts of DO, pH, conductivity and turbidity together,
    /// each within its univariate thresholds: what only the multivariate models catch.
    Subtle,
}

impl Scenario {
    /// Every preset.
    pub const ALL: [Scenario; 6] = [
        Self::Quiet,
        Self::Typical,
        Self::Stormy,
        Self::Tamper,
        Self::Load,
        Self::Subtle,
    ];

    /// Lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Quiet => "quiet",
            Self::Typical => "typical",
            Self::Stormy => "stormy",
            Self::Tamper => "tamper",
            Self::Load => "load",
            Self::Subtle => "subtle",
        }
    }

    /// Reads a lowercase name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.name() == s)
    }
}

/// What a truth record will say, before the readings show where and when.
#[derive(Debug, Clone, PartialEq)]
pub struct TruthDraft {
    /// Kind.
    pub kind: TruthKind,
    /// Source segment (pollution, tampering).
    pub segment: Option<Segment>,
    /// Release time (pollution).
    pub release: Option<Millis>,
    /// Description.
    pub detail: String,
    /// Index of a related draft (the pulse a tampering hid).
    pub related: Option<usize>,
}

impl TruthDraft {
    /// A draft with no segment, release time or related record.
    pub fn new(kind: TruthKind, detail: String) -> Self {
        Self {
            kind,
            segment: None,
            release: None,
            detail,
            related: None,
        }
    }
}

/// The schedule: truth drafts and the effects that realise them (`Effect::truth` indexes `truths`).
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Truth drafts.
    pub truths: Vec<TruthDraft>,
    /// Effects.
    pub effects: Vec<Effect>,
}

impl Plan {
    /// Adds a truth realised by one action on one station over `[start, end]`.
    pub fn push_single(
        &mut self,
        draft: TruthDraft,
        station: usize,
        (start, end): (Millis, Millis),
        action: Action,
    ) {
        let truth = self.truths.len();
        self.effects.push(Effect {
            truth,
            station,
            start,
            end,
            action,
        });
        self.truths.push(draft);
    }
}

/// What planning may look at.
pub struct Ctx<'a> {
    /// The configured network.
    pub stations: &'a Stations,
    /// Its topology.
    pub net: &'a Network,
    /// Per-station baselines.
    pub base: &'a [StationBaseline],
    /// First reading.
    pub start: Millis,
    /// End of the period (exclusive).
    pub end: Millis,
    /// Probe interval.
    pub interval: Millis,
    /// Analyser interval.
    pub analyser: Millis,
}

impl Ctx<'_> {
    /// The station's id.
    pub fn id(&self, s: usize) -> &StationId {
        &self.stations.list[s].id
    }

    /// Expected value of `p` at station `s` and time `t`, without the diel swing or noise.
    pub fn level_at(&self, s: usize, p: SimParam, t: Millis) -> f64 {
        let mut c = Clock::at(t);
        c.diel = 0.0;
        self.base[s].mean(p, &c)
    }

    /// The segment above station `s`: its upstream stations → it.
    pub fn segment_above(&self, s: usize) -> Segment {
        let st = &self.stations.list[s];
        Segment {
            upstream: st.upstream.iter().map(|(u, _)| u.clone()).collect(),
            downstream: st.id.clone(),
        }
    }

    /// The first reading time of `p` at or after `t`.
    pub fn align(&self, t: Millis, p: SimParam) -> Millis {
        let iv = if p.is_probe() {
            self.interval
        } else {
            self.analyser
        };
        let k =
            (t - self.start).max(0).div_euclid(iv) + i64::from((t - self.start).max(0) % iv != 0);
        self.start + k * iv
    }

    /// Station-fortnights, station-months etc.: station count × days / `per_days`.
    fn per(&self, per_days: f64) -> f64 {
        self.base.len() as f64 * (self.end - self.start) as f64 / DAY as f64 / per_days
    }

    fn time_in(&self, rng: &mut Rng, tail: Millis) -> Millis {
        let span = (self.end - self.start - tail).max(HOUR);
        self.start + (rng.unit() * span as f64) as Millis
    }
}

/// Sensor-fault rates per station and 30 days: spike, stuck, drift, dropout, calibration jump.
fn fault_rates(s: Scenario) -> [(TruthKind, f64); 5] {
    let spikes = match s {
        Scenario::Load => 0.0,
        Scenario::Tamper => 2.0,
        _ => 4.0,
    };
    let other = if matches!(s, Scenario::Typical | Scenario::Stormy) {
        1.0
    } else {
        0.0
    };
    [
        (TruthKind::Spike, spikes),
        (TruthKind::Stuck, 0.5 * other),
        (TruthKind::Drift, 0.3 * other),
        (TruthKind::Dropout, 0.5 * other),
        (TruthKind::CalibrationJump, 0.3 * other),
    ]
}

/// Plans the injections of `scenario`.
pub fn plan(ctx: &Ctx, scenario: Scenario, rng: &mut Rng) -> Plan {
    let mut plan = Plan::default();
    let n = ctx.base.len();
    let river: Vec<usize> = (0..n).filter(|&s| !ctx.net.reservoir[s]).collect();
    if n == 0 {
        return plan;
    }
    for (kind, rate) in fault_rates(scenario) {
        for _ in 0..rng.count(ctx.per(30.0) * rate) {
            let s = rng.below(n);
            let t = ctx.time_in(rng, HOUR);
            fault(ctx, &mut plan, rng, kind, s, t);
        }
    }
    let discharges = match scenario {
        Scenario::Typical | Scenario::Stormy => ctx.per(14.0),
        Scenario::Tamper => ctx.per(28.0),
        Scenario::Quiet | Scenario::Load | Scenario::Subtle => 0.0,
    };
    for _ in 0..rng.count(discharges) {
        if river.is_empty() {
            break;
        }
        let kind = match rng.below(5) {
            0 | 1 => TruthKind::Discharge,
            2 | 3 => TruthKind::Sewage,
            _ => TruthKind::ChemicalDump,
        };
        let first = river[rng.below(river.len())];
        let site = pick_site(ctx, rng, first);
        let t = ctx.time_in(rng, 12 * HOUR);
        release(
            ctx,
            &mut plan,
            rng,
            Release {
                kind,
                site: &site,
                t0: t,
                calibrate_at: 0,
                skip: None,
            },
        );
    }
    let storms = match scenario {
        Scenario::Typical => ((ctx.end - ctx.start) as f64 / (30 * DAY) as f64, 0.3, 0.6),
        Scenario::Stormy => ((ctx.end - ctx.start) as f64 / (4 * DAY) as f64, 0.6, 1.0),
        _ => (0.0, 0.0, 0.0),
    };
    for _ in 0..rng.count(storms.0) {
        let t = ctx.time_in(rng, 6 * HOUR);
        let share = rng.range(storms.1, storms.2);
        runoff(ctx, &mut plan, rng, t, share);
    }
    if scenario == Scenario::Typical && !river.is_empty() {
        let s = river[rng.below(river.len())];
        let span = ctx.end - ctx.start;
        let t0 = ctx.start + (rng.range(0.0, 0.4) * span as f64) as Millis;
        let t1 = (t0 + (rng.range(14.0, 42.0) * DAY as f64) as Millis).min(ctx.end);
        chronic(ctx, &mut plan, rng, s, t0, t1);
    }
    if scenario == Scenario::Tamper {
        plan_tampering(ctx, &mut plan, rng, &river);
    }
    if scenario == Scenario::Subtle {
        for _ in 0..rng.count(ctx.per(7.0)) {
            let s = rng.below(n);
            let t = ctx.time_in(rng, 12 * HOUR);
            let len = (rng.range(3.0, 8.0) * HOUR as f64) as Millis;
            subtle_shift(ctx, &mut plan, rng, s, (t, t + len));
        }
    }
    plan
}

/// Tampered stations: river stations with a lagged link to a river station downstream, so a
/// hidden pulse shows at the next station.
fn plan_tampering(ctx: &Ctx, plan: &mut Plan, rng: &mut Rng, river: &[usize]) {
    let candidates: Vec<usize> = river
        .iter()
        .copied()
        .filter(|&s| {
            ctx.net.downstream[s]
                .iter()
                .any(|&(d, tt)| tt.is_some() && !ctx.net.reservoir[d])
        })
        .collect();
    if candidates.is_empty() {
        return;
    }
    for _ in 0..rng.count(ctx.per(30.0).max(1.0)) {
        let s = candidates[rng.below(candidates.len())];
        let site = pick_site(ctx, rng, s);
        let t = ctx.time_in(rng, 3 * DAY);
        let kind = if rng.chance(0.5) {
            TruthKind::Discharge
        } else {
            TruthKind::Sewage
        };
        // The pulse is sized at the next station (arrival 1): that is where it is first seen.
        let pulse = plan.truths.len();
        let Some(r) = release(
            ctx,
            plan,
            rng,
            Release {
                kind,
                site: &site,
                t0: t,
                calibrate_at: 1,
                skip: Some(s),
            },
        ) else {
            continue;
        };
        let here = r.arrivals[0];
        let Some((a, b)) = Shape::pulse(t as f64 + here.travel, r.tau, here.sigma).support() else {
            continue;
        };
        let pad = |rng: &mut Rng| (rng.range(0.5, 3.0) * HOUR as f64) as Millis;
        let (start, end) = (a - pad(rng), b + pad(rng));
        tamper(ctx, plan, rng, s, (start, end), &site, pulse);
    }
}
