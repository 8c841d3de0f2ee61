//! Injected effects: what an injection does to one station's readings over a time window.
//!
//! Three actions cover every behaviour of signals.md §3–§5: `Add` a shaped amount to one
//! parameter (pulses, runoff, chronic load, drift, calibration steps, spikes), `Hold` the last
//! value (stuck sensor, flat falsified data) and `Drop` readings (dropouts, a silenced station).
//! Shapes are normalised to a peak of 1 and cut where they fall below [`CUT`] of it, so an
//! effect's window is exactly where it changes readings.

use super::baseline::SimParam;
use super::math::{erf, exp, ln};
use crate::time::Millis;

/// Fraction of its peak below which a smooth shape is treated as zero.
pub const CUT: f64 = 0.05;

/// A time profile with peak 1 (times in ms as f64).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    /// 1 throughout the window.
    Flat,
    /// A release of duration `tau` starting to arrive at `arrival`, spread by a Gaussian of
    /// standard deviation `sigma` (the 1-D advection–dispersion solution for a finite release).
    Pulse {
        /// Arrival of the front's centre.
        arrival: f64,
        /// Release duration.
        tau: f64,
        /// Temporal spread at the station.
        sigma: f64,
        /// 1 / unnormalised peak.
        norm: f64,
    },
    /// Fast rise with time constant `rise`, slow exponential recession `decay` (runoff).
    RiseDecay {
        /// Start of the rise.
        onset: f64,
        /// Rise time constant.
        rise: f64,
        /// Recession time constant.
        decay: f64,
        /// 1 / unnormalised peak.
        norm: f64,
    },
    /// Linear from 0 at `start` to 1 after `len` (drift), staying at 1 afterwards.
    Ramp {
        /// Start of the ramp.
        start: f64,
        /// Length of the ramp.
        len: f64,
    },
}

impl Shape {
    /// A pulse normalised to peak 1.
    pub fn pulse(arrival: f64, tau: f64, sigma: f64) -> Self {
        let raw = Self::Pulse {
            arrival,
            tau,
            sigma,
            norm: 1.0,
        };
        Self::Pulse {
            arrival,
            tau,
            sigma,
            norm: 1.0 / raw.at(arrival + tau / 2.0),
        }
    }

    /// A rise-and-recession profile normalised to peak 1.
    pub fn rise_decay(onset: f64, rise: f64, decay: f64) -> Self {
        let peak_at = rise * ln(1.0 + decay / rise);
        let raw = Self::RiseDecay {
            onset,
            rise,
            decay,
            norm: 1.0,
        };
        Self::RiseDecay {
            onset,
            rise,
            decay,
            norm: 1.0 / raw.at(onset + peak_at),
        }
    }

    /// Value at time `t` (0 outside the shape's support, before cutting).
    pub fn at(&self, t: f64) -> f64 {
        match *self {
            Self::Flat => 1.0,
            Self::Pulse {
                arrival,
                tau,
                sigma,
                norm,
            } => {
                let k = 1.0 / (sigma * std::f64::consts::SQRT_2);
                0.5 * (erf((t - arrival) * k) - erf((t - arrival - tau) * k)) * norm
            }
            Self::RiseDecay {
                onset,
                rise,
                decay,
                norm,
            } => {
                let x = t - onset;
                if x <= 0.0 {
                    0.0
                } else {
                    (1.0 - exp(-x / rise)) * exp(-x / decay) * norm
                }
            }
            Self::Ramp { start, len } => ((t - start) / len).clamp(0.0, 1.0),
        }
    }

    /// The window `[start, end]` where the shape is at least [`CUT`] of its peak; `None` for
    /// shapes whose window is set by the caller (flat, ramp).
    pub fn support(&self) -> Option<(Millis, Millis)> {
        match *self {
            Self::Flat | Self::Ramp { .. } => None,
            Self::Pulse {
                arrival,
                tau,
                sigma,
                ..
            } => {
                let centre = arrival + tau / 2.0;
                let h = bisect(|h| self.at(centre + h) - CUT, 0.0, tau / 2.0 + 8.0 * sigma);
                Some((
                    (centre - h).floor() as Millis,
                    (centre + h).ceil() as Millis,
                ))
            }
            Self::RiseDecay {
                onset, rise, decay, ..
            } => {
                let peak_at = rise * ln(1.0 + decay / rise);
                let lo = bisect(|x| CUT - self.at(onset + x), 0.0, peak_at);
                let hi = bisect(
                    |x| self.at(onset + x) - CUT,
                    peak_at,
                    peak_at + 20.0 * decay,
                );
                Some((
                    (onset + lo).floor() as Millis,
                    (onset + hi).ceil() as Millis,
                ))
            }
        }
    }
}

/// Root of a function that is positive at `lo` and non-positive at `hi` (or the bound reached).
fn bisect(f: impl Fn(f64) -> f64, mut lo: f64, mut hi: f64) -> f64 {
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if f(mid) > 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// What an effect does to the readings it covers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Action {
    /// Add `amount × shape(t)` to one parameter.
    Add {
        /// Parameter changed.
        param: SimParam,
        /// Amount at the shape's peak, in the parameter's unit.
        amount: f64,
        /// Time profile.
        shape: Shape,
    },
    /// Repeat the last reading before the window (parameters as a bit mask).
    Hold(u16),
    /// Emit no readings (parameters as a bit mask).
    Drop(u16),
}

/// One action on one station over `[start, end]`, on behalf of one truth record.
#[derive(Debug, Clone, PartialEq)]
pub struct Effect {
    /// Index of the truth it belongs to.
    pub truth: usize,
    /// Station index.
    pub station: usize,
    /// First instant affected.
    pub start: Millis,
    /// Last instant affected (inclusive).
    pub end: Millis,
    /// What it does.
    pub action: Action,
}

impl Effect {
    /// An `Add` effect over the shape's own support.
    pub fn shaped(
        truth: usize,
        station: usize,
        param: SimParam,
        amount: f64,
        shape: Shape,
    ) -> Option<Self> {
        let (start, end) = shape.support()?;
        Some(Self {
            truth,
            station,
            start,
            end,
            action: Action::Add {
                param,
                amount,
                shape,
            },
        })
    }

    /// Whether the effect acts on `p`.
    pub fn covers(&self, p: SimParam) -> bool {
        match self.action {
            Action::Add { param, .. } => param == p,
            Action::Hold(mask) | Action::Drop(mask) => mask & p.bit() != 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::HOUR;

    #[test]
    fn pulses_peak_at_one_and_broaden_with_spread() {
        let h = HOUR as f64;
        let narrow = Shape::pulse(10.0 * h, 0.5 * h, 0.5 * h);
        let broad = Shape::pulse(10.0 * h, 0.5 * h, 3.0 * h);
        assert!((narrow.at(10.25 * h) - 1.0).abs() < 1e-9);
        let (a, b) = narrow.support().unwrap();
        let (c, d) = broad.support().unwrap();
        assert!(c < a && d > b, "broader pulse, wider window");
        assert!((narrow.at(a as f64) - CUT).abs() < 1e-6);
        assert!(narrow.at(a as f64 - h) < CUT);
        // A long release is a plateau: its middle is flat at 1.
        let long = Shape::pulse(0.0, 10.0 * h, 0.5 * h);
        assert!((long.at(3.0 * h) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn rise_decay_peaks_at_one() {
        let h = HOUR as f64;
        let s = Shape::rise_decay(0.0, 2.0 * h, 20.0 * h);
        let (a, b) = s.support().unwrap();
        assert!(
            (0..HOUR).contains(&a) && (40 * HOUR..100 * HOUR).contains(&b),
            "{a} {b}"
        );
        let peak = (0..200)
            .map(|i| s.at(i as f64 * 0.5 * h))
            .fold(0.0, f64::max);
        assert!((peak - 1.0).abs() < 1e-3, "{peak}");
    }
}
