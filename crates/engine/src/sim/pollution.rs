//! Water-quality injections: point-source releases (industrial discharge, sewage, chemical
//! dumping) carried downstream, rain runoff at many stations at once, and chronic exceedance.
//! Signatures (which parameters move, which way, how much) follow signals.md §4; sizes are set
//! where the release is first seen, so "2–6× the class limit at the first station" holds by
//! construction and the physics of [`super::transport`] decides the rest.

use super::baseline::SimParam::{self, *};
use super::effect::{Action, Effect, Shape};
use super::math::exp;
use super::rng::Rng;
use super::scenario::{Ctx, Plan, TruthDraft};
use super::transport::{route, Arrival};
use super::truth::TruthKind;
use crate::events::Segment;
use crate::time::{Millis, DAY, HOUR};

/// Where a release enters the river: above station `first`, `travel_first` ms upstream of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Site {
    /// First station downstream of the source.
    pub first: usize,
    /// Travel time from the source to it, ms.
    pub travel_first: f64,
    /// The segment holding the source.
    pub segment: Segment,
}

/// Picks a source location in the segment above `station`: a fraction 0.1–0.9 along one of its
/// upstream links, or 1–10 h above a headwater station.
pub fn pick_site(ctx: &Ctx, rng: &mut Rng, station: usize) -> Site {
    let ups = &ctx.net.upstream[station];
    let hours = if ups.is_empty() {
        rng.range(1.0, 10.0)
    } else {
        match ups[rng.below(ups.len())].1 {
            Some(tt) => ((1.0 - rng.range(0.1, 0.9)) * tt as f64 / HOUR as f64).max(0.5),
            None => rng.range(1.0, 5.0),
        }
    };
    Site {
        first: station,
        travel_first: hours * HOUR as f64,
        segment: ctx.segment_above(station),
    }
}

/// How big a parameter's change is at the calibration station.
#[derive(Debug, Clone, Copy)]
enum Size {
    /// Peak value = this multiple of the target-class limit.
    Ratio(f64),
    /// Peak increment = this fraction of the station's level.
    Rel(f64),
    /// Peak increment in the parameter's unit.
    Abs(f64),
}

/// One parameter's part in a release signature.
#[derive(Debug, Clone, Copy)]
struct Part {
    param: SimParam,
    size: Size,
    /// First-order decay, per day.
    decay: f64,
    /// Extra delay behind the pulse (DO sag), hours.
    lag: f64,
    /// Extra spread factor (DO sag is broader).
    spread: f64,
}

fn part(param: SimParam, size: Size, decay: f64) -> Part {
    Part {
        param,
        size,
        decay,
        lag: 0.0,
        spread: 1.0,
    }
}

/// The main-class peak at the first station: usually 2–6× the limit, sometimes a weak 1.2–2×.
fn main_ratio(rng: &mut Rng) -> f64 {
    if rng.chance(0.85) {
        rng.range(2.0, 6.0)
    } else {
        rng.range(1.2, 2.0)
    }
}

/// Signature, release duration (hours) and label of a point-source kind.
fn signature(kind: TruthKind, rng: &mut Rng, growth: f64) -> (Vec<Part>, f64, String) {
    let nitrify = 0.05 + 0.25 * growth; // slower in cold water
    let sag = |rng: &mut Rng, lo: f64, hi: f64| Part {
        param: Do,
        size: Size::Rel(-rng.range(lo, hi)),
        decay: 0.0,
        lag: rng.range(1.0, 2.5),
        spread: 1.3,
    };
    match kind {
        TruthKind::Sewage => (
            vec![
                part(Nh3n, Size::Ratio(main_ratio(rng)), nitrify),
                part(Tp, Size::Ratio(rng.range(1.5, 3.0)), 0.05),
                part(Codmn, Size::Ratio(rng.range(1.2, 2.5)), 0.1),
                part(Turb, Size::Rel(rng.range(0.5, 1.5)), 0.5),
                part(Cond, Size::Rel(rng.range(0.2, 0.5)), 0.0),
                part(Ph, Size::Abs(-rng.range(0.1, 0.3)), 0.2),
                sag(rng, 0.2, 0.4),
            ],
            rng.range(4.0, 24.0),
            "untreated sewage".into(),
        ),
        TruthKind::ChemicalDump => {
            let dir = rng.sign();
            (
                vec![
                    part(Cond, Size::Rel(rng.range(1.5, 3.0)), 0.0),
                    part(Ph, Size::Abs(dir * rng.range(1.5, 3.0)), 0.2),
                    part(Codmn, Size::Ratio(main_ratio(rng)), 0.1),
                    part(Turb, Size::Rel(rng.range(0.2, 0.6)), 0.5),
                ],
                rng.range(0.25, 1.0),
                format!(
                    "chemical dumping ({})",
                    if dir < 0.0 { "acid" } else { "alkaline" }
                ),
            )
        }
        _ => {
            let dir = rng.sign();
            let (main, other) = if rng.chance(0.6) {
                (Nh3n, Codmn)
            } else {
                (Codmn, Nh3n)
            };
            let decay = |p: SimParam| if p == Nh3n { nitrify } else { 0.1 };
            (
                vec![
                    part(Cond, Size::Rel(rng.range(0.5, 3.0)), 0.0),
                    part(main, Size::Ratio(main_ratio(rng)), decay(main)),
                    part(other, Size::Ratio(rng.range(1.2, 3.0)), decay(other)),
                    part(Ph, Size::Abs(dir * rng.range(0.5, 1.5)), 0.2),
                    part(Turb, Size::Rel(rng.range(0.1, 0.4)), 0.5),
                    sag(rng, 0.15, 0.35),
                ],
                rng.range(2.0, 10.0),
                format!(
                    "industrial discharge ({})",
                    if dir < 0.0 { "acid" } else { "alkaline" }
                ),
            )
        }
    }
}

/// What to release, where and when.
#[derive(Debug, Clone, Copy)]
pub struct Release<'a> {
    /// Discharge, sewage or chemical dump.
    pub kind: TruthKind,
    /// Source location.
    pub site: &'a Site,
    /// Start of the release.
    pub t0: Millis,
    /// Arrival (0 = first station) where the signature is sized.
    pub calibrate_at: usize,
    /// Station whose readings must not show the pulse (being tampered with).
    pub skip: Option<usize>,
}

/// A release as planned.
#[derive(Debug, Clone, PartialEq)]
pub struct Released {
    /// Where it arrives, first station first.
    pub arrivals: Vec<Arrival>,
    /// Release duration, ms.
    pub tau: f64,
}

/// Releases a point-source pulse of `kind` at `t0` and adds its effects. The signature is sized
/// at arrival number `calibrate_at` of the route; `skip` names a station whose readings must not
/// show the pulse (it is being tampered with). Returns the route, or None
/// when the calibration station is not reached.
pub fn release(ctx: &Ctx, plan: &mut Plan, rng: &mut Rng, spec: Release) -> Option<Released> {
    let Release {
        kind,
        site,
        t0,
        calibrate_at,
        skip,
    } = spec;
    let growth = super::baseline::Clock::at(t0).growth;
    let (parts, tau_h, label) = signature(kind, rng, growth);
    let tau = tau_h * HOUR as f64;
    let dispersion = rng.range(10.0, 40.0);
    let arrivals = route(ctx.net, site.first, site.travel_first, tau, dispersion);
    let cal = *arrivals.get(calibrate_at)?;
    let cal_peak = t0 + (cal.travel + tau / 2.0) as Millis;
    let cal_id = ctx.id(cal.station);
    let mut main = None;
    let truth = plan.truths.len();
    for p in &parts {
        let level = ctx.level_at(cal.station, p.param, cal_peak);
        let amount = match p.size {
            Size::Ratio(r) => match ctx.base[cal.station].limit[p.param as usize] {
                Some(limit) => {
                    main = main.or(Some((p.param, r)));
                    r * limit - level
                }
                None => continue,
            },
            Size::Rel(x) => x * level,
            Size::Abs(d) => d,
        };
        for a in arrivals.iter().filter(|a| Some(a.station) != skip) {
            if !ctx.base[a.station].params.contains(&p.param) {
                continue;
            }
            let decay = exp(-p.decay * (a.travel - cal.travel) / DAY as f64);
            let shape = Shape::pulse(
                t0 as f64 + a.travel + p.lag * HOUR as f64,
                tau,
                a.sigma * p.spread,
            );
            let amount = amount * a.gain / cal.gain * decay;
            plan.effects
                .extend(Effect::shaped(truth, a.station, p.param, amount, shape));
        }
    }
    let main = main.map_or(String::new(), |(p, r)| {
        format!("; {} peak {r:.1}× the class limit at {cal_id}", p.id())
    });
    plan.truths.push(TruthDraft {
        kind,
        segment: Some(site.segment.clone()),
        release: Some(t0),
        detail: format!(
            "{label}, {tau_h:.1} h release {:.1} h above {} (D {dispersion:.0} m²/s){main}",
            site.travel_first / HOUR as f64,
            ctx.id(site.first)
        ),
        related: None,
    });
    Some(Released { arrivals, tau })
}

/// Rain at `t0`: each station is hit with probability `share`, within six hours; turbidity and
/// TP surge, CODMn and NH3-N rise, conductivity blips up then dilutes, water cools, TN follows
/// hours later at reservoirs.
pub fn runoff(ctx: &Ctx, plan: &mut Plan, rng: &mut Rng, t0: Millis, share: f64) {
    let truth = plan.truths.len();
    let mut hit = 0;
    for s in 0..ctx.base.len() {
        if !rng.chance(share) {
            continue;
        }
        hit += 1;
        let onset = (t0 + (rng.range(0.0, 6.0) * HOUR as f64) as Millis) as f64;
        let (rise, decay) = (
            rng.range(1.0, 3.0) * HOUR as f64,
            rng.range(8.0, 30.0) * HOUR as f64,
        );
        let level = |p: SimParam| ctx.base[s].level(p);
        let main = Shape::rise_decay(onset, rise, decay);
        let mut add = |p: SimParam, amount: f64, shape: Shape| {
            if ctx.base[s].params.contains(&p) {
                plan.effects
                    .extend(Effect::shaped(truth, s, p, amount, shape));
            }
        };
        add(Turb, rng.range(2.0, 12.0) * level(Turb), main);
        add(Tp, rng.range(1.0, 3.0) * level(Tp), main);
        add(Codmn, rng.range(0.3, 0.8) * level(Codmn), main);
        add(Nh3n, rng.range(0.2, 0.5) * level(Nh3n), main);
        add(Temp, -rng.range(0.3, 1.2), main);
        add(
            Cond,
            rng.range(0.05, 0.1) * level(Cond),
            Shape::rise_decay(onset, rise, 2.0 * rise),
        );
        add(
            Cond,
            -rng.range(0.1, 0.25) * level(Cond),
            Shape::rise_decay(onset + 2.0 * rise, 3.0 * rise, 1.5 * decay),
        );
        let lag = rng.range(6.0, 24.0) * HOUR as f64;
        add(
            Tn,
            rng.range(0.3, 0.6) * level(Tn),
            Shape::rise_decay(onset + lag, 2.0 * rise, 2.0 * decay),
        );
    }
    plan.truths.push(TruthDraft {
        kind: TruthKind::Runoff,
        segment: None,
        release: None,
        detail: format!("rain runoff at {hit} of {} stations", ctx.base.len()),
        related: None,
    });
}

/// NH3-N (or TP) at `station` rises over a day or two to 1.2–2× its class limit and stays
/// there from `t0` to `t1`.
pub fn chronic(ctx: &Ctx, plan: &mut Plan, rng: &mut Rng, station: usize, t0: Millis, t1: Millis) {
    let p = if rng.chance(0.7) { Nh3n } else { Tp };
    let Some(limit) = ctx.base[station].limit[p as usize] else {
        return;
    };
    let r = rng.range(1.2, 2.0);
    let amount = r * limit - ctx.level_at(station, p, t0);
    let ramp = rng.range(12.0, 48.0) * HOUR as f64;
    let action = Action::Add {
        param: p,
        amount,
        shape: Shape::Ramp {
            start: t0 as f64,
            len: ramp,
        },
    };
    let detail = format!(
        "{} at {} held at {r:.1}× the class limit for {:.0} days",
        p.id(),
        ctx.id(station),
        (t1 - t0) as f64 / DAY as f64
    );
    plan.push_single(
        TruthDraft::new(TruthKind::ChronicExceedance, detail),
        station,
        (t0, t1),
        action,
    );
}

/// Correlated small shifts at one station: DO and pH down, conductivity and turbidity up, each
/// by 3–4 of its noise standard deviations (below the robust z-score and rate thresholds), held
/// flat over `window`.
pub fn subtle_shift(
    ctx: &Ctx,
    plan: &mut Plan,
    rng: &mut Rng,
    station: usize,
    window: (Millis, Millis),
) {
    let truth = plan.truths.len();
    let mut parts = Vec::new();
    for (p, sign) in [(Do, -1.0), (Ph, -1.0), (Cond, 1.0), (Turb, 1.0)] {
        let amount = sign * rng.range(3.0, 4.0) * ctx.base[station].noise_sd[p as usize];
        parts.push(format!("{} {amount:+.3}", p.id()));
        plan.effects.push(Effect {
            truth,
            station,
            start: window.0,
            end: window.1,
            action: Action::Add {
                param: p,
                amount,
                shape: Shape::Flat,
            },
        });
    }
    let detail = format!(
        "correlated shift at {}: {}",
        ctx.id(station),
        parts.join(", ")
    );
    plan.truths
        .push(TruthDraft::new(TruthKind::SubtleShift, detail));
}
