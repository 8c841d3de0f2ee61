//! Hour-of-day profile for parameters with a daily cycle (DO, pH, temperature): each hour's
//! typical offset from that day's mean: the median over the last few days, so that one day
//! with a pollution sag in it does not bend the profile.
//! Removing it keeps every afternoon DO peak from looking like an anomaly. The offsets are
//! measured against the day's own mean, not a rolling baseline, because a baseline short enough
//! to follow the season also follows the cycle and would hide half of it.

use crate::time::{Millis, DAY, HOUR};

/// Hours of a day that must have data for the day to be learnt.
const MIN_HOURS: usize = 12;

/// Learnt offsets per UTC hour of day.
#[derive(Debug, Clone)]
pub struct DiurnalProfile {
    offset: [f64; 24],
    /// Highest offset minus lowest, kept with the offsets (read on every reading).
    swing: f64,
    /// Offsets of the last few days (NaN where an hour had no data), oldest overwritten first.
    history: Vec<[f32; 24]>,
    day_sum: [f64; 24],
    day_count: [u32; 24],
    day: i64,
    days_learnt: u32,
}

impl DiurnalProfile {
    /// An empty profile.
    pub fn new() -> Self {
        Self {
            offset: [0.0; 24],
            swing: 0.0,
            history: Vec::new(),
            day_sum: [0.0; 24],
            day_count: [0; 24],
            day: i64::MIN,
            days_learnt: 0,
        }
    }

    fn hour(t: Millis) -> usize {
        (t.rem_euclid(DAY) / HOUR) as usize
    }

    /// Days folded into the profile so far.
    pub fn days_learnt(&self) -> u32 {
        self.days_learnt
    }

    /// The offset to remove at `t`, once `min_days` days have been learnt (else 0).
    ///
    /// Each hour's offset is the mean over that hour, i.e. the curve at the half hour; between
    /// half hours the offset is interpolated, so a steep morning rise of DO leaves no saw-tooth
    /// of hour-sized steps in the residual.
    pub fn offset(&self, t: Millis, min_days: u32) -> f64 {
        if self.days_learnt < min_days.max(1) {
            return 0.0;
        }
        let pos = t.rem_euclid(DAY) as f64 / HOUR as f64 - 0.5;
        let i = pos.floor();
        let frac = pos - i;
        let a = (i as i64).rem_euclid(24) as usize;
        (1.0 - frac) * self.offset[a] + frac * self.offset[(a + 1) % 24]
    }

    /// The learnt daily swing: highest hourly offset minus lowest.
    pub fn swing(&self) -> f64 {
        self.swing
    }

    /// Learns the value `v` seen at `t`; the profile is the median of the last `keep` days.
    pub fn learn(&mut self, t: Millis, v: f64, keep: u32) {
        if !v.is_finite() {
            return;
        }
        let day = t.div_euclid(DAY);
        if day != self.day {
            self.fold(keep.max(1) as usize);
            self.day = day;
        }
        let h = Self::hour(t);
        self.day_sum[h] += v;
        self.day_count[h] += 1;
    }

    fn fold(&mut self, keep: usize) {
        let mut seen = [0usize; 24];
        let mut n = 0;
        for h in (0..24).filter(|&h| self.day_count[h] > 0) {
            seen[n] = h;
            n += 1;
        }
        let hours = &seen[..n];
        // A day seen for less than half its hours says little about the cycle.
        if hours.len() >= MIN_HOURS {
            let mean_of = |h: usize| self.day_sum[h] / self.day_count[h] as f64;
            let day_mean = hours.iter().map(|&h| mean_of(h)).sum::<f64>() / hours.len() as f64;
            let mut today = [f32::NAN; 24];
            for &h in hours {
                today[h] = (mean_of(h) - day_mean) as f32;
            }
            if self.history.len() < keep {
                self.history.push(today);
            } else {
                let slot = self.days_learnt as usize % keep;
                self.history[slot] = today;
            }
            // One buffer for the 24 hours: a fold happens once a day per stream, but across
            // 100,000 streams the allocations added up.
            let mut v: Vec<f32> = Vec::with_capacity(self.history.len());
            for h in 0..24 {
                v.clear();
                v.extend(self.history.iter().map(|d| d[h]).filter(|x| !x.is_nan()));
                if !v.is_empty() {
                    v.sort_by(f32::total_cmp);
                    let n = v.len();
                    let m = if n % 2 == 1 {
                        v[n / 2]
                    } else {
                        (v[n / 2 - 1] + v[n / 2]) / 2.0
                    };
                    self.offset[h] = f64::from(m);
                }
            }
            let (lo, hi) = self
                .offset
                .iter()
                .fold((f64::MAX, f64::MIN), |(lo, hi), &o| (lo.min(o), hi.max(o)));
            self.swing = (hi - lo).max(0.0);
            self.days_learnt += 1;
        }
        self.day_sum = [0.0; 24];
        self.day_count = [0; 24];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_a_daily_cycle() {
        let mut p = DiurnalProfile::new();
        for step in 0..(4 * 24) {
            let t = step * HOUR;
            let v = 8.0 + ((step % 24) as f64 / 24.0 * std::f64::consts::TAU).sin();
            p.learn(t, v, 7);
        }
        assert_eq!(p.days_learnt(), 3);
        assert_eq!(p.offset(6 * HOUR + HOUR / 2, 4), 0.0, "not enough days yet");
        assert!((p.offset(6 * HOUR + HOUR / 2, 2) - 1.0).abs() < 1e-9);
        assert!((p.offset(18 * HOUR + HOUR / 2, 2) + 1.0).abs() < 1e-9);
        let hi = p.offset.iter().copied().fold(f64::MIN, f64::max);
        let lo = p.offset.iter().copied().fold(f64::MAX, f64::min);
        assert_eq!(p.swing(), hi - lo, "the kept swing is the offsets' range");
        assert!((p.swing() - 2.0).abs() < 0.02);
    }
}
