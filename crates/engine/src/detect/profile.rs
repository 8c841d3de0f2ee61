//! Hour-of-day profile for parameters with a daily cycle (DO, pH, temperature): each hour's
//! typical offset from that day's mean, learnt one day at a time with exponential forgetting.
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
    pub fn offset(&self, t: Millis, min_days: u32) -> f64 {
        if self.days_learnt >= min_days.max(1) {
            self.offset[Self::hour(t)]
        } else {
            0.0
        }
    }

    /// Learns the value `v` seen at `t`; `alpha` weights each day.
    pub fn learn(&mut self, t: Millis, v: f64, alpha: f64) {
        if !v.is_finite() {
            return;
        }
        let day = t.div_euclid(DAY);
        if day != self.day {
            self.fold(alpha);
            self.day = day;
        }
        let h = Self::hour(t);
        self.day_sum[h] += v;
        self.day_count[h] += 1;
    }

    fn fold(&mut self, alpha: f64) {
        let hours: Vec<usize> = (0..24).filter(|&h| self.day_count[h] > 0).collect();
        // A day seen for less than half its hours says little about the cycle.
        if hours.len() >= MIN_HOURS {
            let mean_of = |h: usize| self.day_sum[h] / self.day_count[h] as f64;
            let day_mean = hours.iter().map(|&h| mean_of(h)).sum::<f64>() / hours.len() as f64;
            for &h in &hours {
                let off = mean_of(h) - day_mean;
                self.offset[h] = if self.days_learnt == 0 {
                    off
                } else {
                    (1.0 - alpha) * self.offset[h] + alpha * off
                };
            }
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
            p.learn(t, v, 0.3);
        }
        assert_eq!(p.days_learnt(), 3);
        assert_eq!(p.offset(6 * HOUR, 4), 0.0, "not enough days yet");
        assert!((p.offset(6 * HOUR, 2) - 1.0).abs() < 1e-9);
        assert!((p.offset(18 * HOUR, 2) + 1.0).abs() < 1e-9);
    }
}
