//! Instrument injections (signals.md §3) and tampering. Each is one station; sizes are relative
//! to the station's own noise or level so that a fault is visible but not absurd, which is what
//! makes it a fair test of telling instruments from water.

use super::baseline::SimParam::{self, *};
use super::effect::{Action, Shape};
use super::rng::Rng;
use super::scenario::{Ctx, Plan, TruthDraft};
use super::truth::TruthKind;
use crate::time::{Millis, DAY, HOUR};

/// Whether a concentration-like parameter (never negative, faults push it up).
fn upward(p: SimParam) -> bool {
    matches!(p, Turb | Codmn | Nh3n | Tp | Tn)
}

/// A sensor fault of `kind` (spike, stuck, drift, dropout, calibration jump) at `station`
/// starting near `t0`.
pub fn fault(
    ctx: &Ctx,
    plan: &mut Plan,
    rng: &mut Rng,
    kind: TruthKind,
    station: usize,
    t0: Millis,
) {
    let base = &ctx.base[station];
    let params = &base.params;
    let p = params[rng.below(params.len())];
    let level = base.level(p).abs();
    let sd = base.noise_sd[p as usize];
    let dir = if upward(p) { 1.0 } else { rng.sign() };
    let days = |lo: f64, hi: f64, rng: &mut Rng| (rng.range(lo, hi) * DAY as f64) as Millis;
    let (start, end, action, what) = match kind {
        TruthKind::Spike => {
            let t = ctx.align(t0, p);
            // A sample far off, but not absurd: half to one-and-a-half pH units, a degree or
            // two, a quarter to two-thirds of the conductivity, half to all of a concentration.
            let unit = match p {
                Ph => 0.1,
                Temp => 0.2,
                Do => 0.15,
                Cond => 0.05 * level,
                _ => 0.1 * level,
            };
            let amount = dir * rng.range(5.0, 12.0) * sd.max(unit);
            (
                t,
                t,
                Action::Add {
                    param: p,
                    amount,
                    shape: Shape::Flat,
                },
                format!("{} spike {amount:+.3}", p.id()),
            )
        }
        TruthKind::Stuck => {
            let len = (rng.range(6.0, 72.0) * HOUR as f64) as Millis;
            (
                t0,
                t0 + len,
                Action::Hold(p.bit()),
                format!("{} stuck", p.id()),
            )
        }
        TruthKind::Drift => {
            let len = days(3.0, 14.0, rng);
            let amount = dir
                * match p {
                    Ph => rng.range(0.3, 0.8),
                    Do => rng.range(1.0, 2.5),
                    Temp => rng.range(1.0, 2.0),
                    _ => rng.range(0.15, 0.4) * level,
                };
            let shape = Shape::Ramp {
                start: t0 as f64,
                len: len as f64,
            };
            (
                t0,
                t0 + len,
                Action::Add {
                    param: p,
                    amount,
                    shape,
                },
                format!("{} drift to {amount:+.3}, reset by cleaning", p.id()),
            )
        }
        TruthKind::CalibrationJump => {
            let len = days(2.0, 10.0, rng);
            let amount = rng.sign()
                * match p {
                    Ph => rng.range(0.2, 0.5),
                    Do => rng.range(0.8, 2.0),
                    Temp => rng.range(0.5, 1.5),
                    _ => rng.range(0.1, 0.3) * level,
                };
            (
                t0,
                t0 + len,
                Action::Add {
                    param: p,
                    amount,
                    shape: Shape::Flat,
                },
                format!("{} step {amount:+.3}", p.id()),
            )
        }
        _ => {
            let len = (rng.range(2.0, 48.0) * HOUR as f64) as Millis;
            if rng.chance(0.5) {
                let all = params.iter().fold(0, |m, q| m | q.bit());
                (
                    t0,
                    t0 + len,
                    Action::Drop(all),
                    "whole station silent".to_string(),
                )
            } else {
                (
                    t0,
                    t0 + len,
                    Action::Drop(p.bit()),
                    format!("{} missing", p.id()),
                )
            }
        }
    };
    let detail = match end - start {
        0 => format!("{what} at {}", ctx.id(station)),
        len => format!(
            "{what} at {} for {:.1} h",
            ctx.id(station),
            len as f64 / HOUR as f64
        ),
    };
    plan.push_single(TruthDraft::new(kind, detail), station, (start, end), action);
}

/// The station reports the last values before `[start, end]` (flat) or nothing (silent) while
/// the pulse planned as truth `pulse` passes it; the segment of the real source is recorded too.
pub fn tamper(
    ctx: &Ctx,
    plan: &mut Plan,
    rng: &mut Rng,
    station: usize,
    (start, end): (Millis, Millis),
    source: &super::pollution::Site,
    pulse: usize,
) {
    let all = ctx.base[station].params.iter().fold(0, |m, q| m | q.bit());
    let flat = rng.chance(0.6);
    let action = if flat {
        Action::Hold(all)
    } else {
        Action::Drop(all)
    };
    let draft = TruthDraft {
        segment: Some(source.segment.clone()),
        related: Some(pulse),
        ..TruthDraft::new(
            TruthKind::Tamper,
            format!(
                "{} {} for {:.1} h while a pulse passed",
                ctx.id(station),
                if flat {
                    "reported flat values"
                } else {
                    "went silent"
                },
                (end - start) as f64 / HOUR as f64
            ),
        )
    };
    plan.push_single(draft, station, (start, end), action);
}
