//! The undisturbed river: per station and parameter a level that fits the station's GB 3838
//! target class, seasonal drift, a diel cycle for temperature, DO and pH, and AR(1) noise.
//!
//! Shapes follow shared/reference/signals.md §2 (temperate NE-China river): ice from about
//! December to February, NH3-N and conductivity higher at winter low flow, DO from the
//! temperature-driven saturation, diel maxima in the afternoon (Beijing time). Levels are drawn
//! once per station from the baseline random stream, so injections never change them.

use super::math::{exp, sin_turns};
use super::rng::Rng;
use crate::config::{Gb3838, Limit, Station, WaterBody};
use crate::time::{Millis, DAY, HOUR, MINUTE};

/// A parameter the simulator produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SimParam {
    /// Water temperature, °C (probe).
    Temp,
    /// pH (probe).
    Ph,
    /// Dissolved oxygen, mg/L (probe).
    Do,
    /// Conductivity, μS/cm (probe).
    Cond,
    /// Turbidity, NTU (probe).
    Turb,
    /// Permanganate index, mg/L (analyser).
    Codmn,
    /// Ammonia nitrogen, mg/L (analyser).
    Nh3n,
    /// Total phosphorus, mg/L (analyser).
    Tp,
    /// Total nitrogen, mg/L (analyser; reservoir stations only).
    Tn,
}

impl SimParam {
    /// Every simulated parameter, in output order.
    pub const ALL: [SimParam; 9] = [
        Self::Temp,
        Self::Ph,
        Self::Do,
        Self::Cond,
        Self::Turb,
        Self::Codmn,
        Self::Nh3n,
        Self::Tp,
        Self::Tn,
    ];

    /// Project parameter id (see [`crate::params`]).
    pub fn id(self) -> &'static str {
        match self {
            Self::Temp => "temp",
            Self::Ph => "ph",
            Self::Do => "do",
            Self::Cond => "cond",
            Self::Turb => "turb",
            Self::Codmn => "codmn",
            Self::Nh3n => "nh3n",
            Self::Tp => "tp",
            Self::Tn => "tn",
        }
    }

    /// Measured by the multiparameter probe (fast cadence) rather than a wet-chemistry analyser.
    pub fn is_probe(self) -> bool {
        matches!(
            self,
            Self::Temp | Self::Ph | Self::Do | Self::Cond | Self::Turb
        )
    }

    /// Decimal places of the parameter's reporting resolution.
    pub fn decimals(self) -> u32 {
        let res = crate::params::lookup(self.id()).map_or(0.01, |p| p.resolution);
        let mut d = 0;
        let mut r = res;
        while r < 0.999 && d < 6 {
            r *= 10.0;
            d += 1;
        }
        d
    }

    /// Bit of this parameter in a parameter mask.
    pub fn bit(self) -> u16 {
        1 << self as u16
    }
}

/// Time-of-year and time-of-day factors shared by every station at one instant.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// Seasonal open-water temperature before station offsets, °C (0.2 under ice).
    pub temp: f64,
    /// Biological activity 0..1 (drives diel amplitudes).
    pub growth: f64,
    /// +1 in mid-January, −1 in mid-July.
    pub winter: f64,
    /// +1 in mid-July.
    pub summer: f64,
    /// +1 in mid-April (thaw and snowmelt).
    pub spring: f64,
    /// Diel phase −1..1: +1 at 16:00 Beijing time, −1 at 04:00.
    pub diel: f64,
}

impl Clock {
    /// The factors at `t`.
    pub fn at(t: Millis) -> Self {
        let days = t.div_euclid(DAY) as f64 + t.rem_euclid(DAY) as f64 / DAY as f64;
        // Fraction of the year since 1 January (the epoch is a 1 January; drift < 1 day/century).
        let year = days / 365.2425;
        let s = year - year.floor();
        let temp = (10.0 + 14.0 * sin_turns(s - 0.29)).max(0.2);
        let local_hours = t.rem_euclid(DAY) as f64 / HOUR as f64 + 8.0;
        Self {
            temp,
            growth: ((temp - 2.0) / 20.0).clamp(0.0, 1.0),
            winter: sin_turns(s - 0.04 + 0.25),
            summer: sin_turns(s - 0.54 + 0.25),
            spring: sin_turns(s - 0.29 + 0.25),
            diel: sin_turns((local_hours - 10.0) / 24.0),
        }
    }
}

/// How one station's water behaves when nothing happens.
#[derive(Debug, Clone)]
pub struct StationBaseline {
    /// Annual-mean level per parameter (index: `SimParam as usize`); pH and DO use their own terms.
    level: [f64; 9],
    temp_offset: f64,
    do_saturation: f64,
    do_diel: f64,
    ph_diel: f64,
    /// Stationary noise standard deviation per parameter.
    pub noise_sd: [f64; 9],
    /// Parameters this station reports.
    pub params: Vec<SimParam>,
    /// GB 3838 "max" limit of the target class per parameter, when the standard has one.
    pub limit: [Option<f64>; 9],
}

fn max_limit(gb: &Gb3838, st: &Station, id: &str) -> Option<f64> {
    match gb.limit(id, st.target_class, st.water_body) {
        Some(Limit::Max(l)) => Some(l),
        _ => None,
    }
}

impl StationBaseline {
    /// Draws a station's levels; concentrations sit at 30–55 % of the target class limit.
    pub fn draw(st: &Station, gb: &Gb3838, rng: &mut Rng) -> Self {
        use SimParam::*;
        let reservoir = st.water_body == WaterBody::Reservoir;
        let mut limit = [None; 9];
        for p in SimParam::ALL {
            limit[p as usize] = max_limit(gb, st, p.id());
        }
        // Fallbacks (class III river) keep the levels sensible if a limits file lacks an item.
        let lim = |p: SimParam, dflt: f64| limit[p as usize].unwrap_or(dflt);
        let mut level = [0.0; 9];
        level[Cond as usize] = rng.range(200.0, 420.0) + 0.5 * st.river_km.clamp(0.0, 1000.0);
        level[Turb as usize] = if reservoir {
            rng.range(3.0, 8.0)
        } else {
            rng.range(8.0, 25.0)
        };
        level[Codmn as usize] = rng.range(0.35, 0.55) * lim(Codmn, 6.0);
        level[Nh3n as usize] = rng.range(0.3, 0.5) * lim(Nh3n, 1.0);
        level[Tp as usize] = rng.range(0.3, 0.55) * lim(Tp, 0.2);
        level[Tn as usize] = rng.range(0.4, 0.6) * lim(Tn, 1.0);
        level[Ph as usize] = rng.range(7.4, 7.9);
        let mut params = vec![Temp, Ph, Do, Cond, Turb, Codmn, Nh3n, Tp];
        if reservoir {
            params.push(Tn);
        }
        let mut noise_sd = [0.0; 9];
        for p in SimParam::ALL {
            noise_sd[p as usize] = match p {
                Temp => 0.05,
                Ph => 0.02,
                Do => 0.08,
                Cond => 0.01 * level[Cond as usize],
                Turb => 0.06 * level[Turb as usize],
                Codmn => 0.05 * level[Codmn as usize],
                Nh3n => 0.07 * level[Nh3n as usize],
                Tp => 0.08 * level[Tp as usize],
                Tn => 0.05 * level[Tn as usize],
            };
        }
        Self {
            level,
            temp_offset: rng.range(-1.5, 1.0) - if st.upstream.is_empty() { 1.0 } else { 0.0 },
            do_saturation: rng.range(0.95, 1.05),
            do_diel: rng.range(0.4, 1.2),
            ph_diel: rng.range(0.1, 0.3),
            noise_sd,
            params,
            limit,
        }
    }

    /// Water temperature without noise, °C.
    fn temp(&self, c: &Clock) -> f64 {
        if c.temp <= 0.2 {
            return 0.2; // under ice: flat, no diel swing
        }
        (c.temp + self.temp_offset).max(0.2) + 1.5 * c.growth * c.diel
    }

    /// The expected value of `p` at a clock, without noise.
    pub fn mean(&self, p: SimParam, c: &Clock) -> f64 {
        use SimParam::*;
        let l = self.level[p as usize];
        match p {
            Temp => self.temp(c),
            Do => {
                468.0 / (31.6 + self.temp(c)) * self.do_saturation
                    + self.do_diel * c.growth * c.diel
            }
            Ph => l + 0.3 * c.growth + self.ph_diel * (0.3 + 0.7 * c.growth) * c.diel,
            Cond => l * (1.0 + 0.15 * c.winter - 0.08 * c.spring.max(0.0)),
            Turb => l * (1.0 + 0.5 * c.spring.max(0.0)) * (0.5 + 0.5 * (c.temp / 3.0).min(1.0)),
            Codmn => l * (1.0 + 0.12 * c.summer),
            Nh3n => l * (1.0 + 0.3 * c.winter),
            Tp => l * (1.0 + 0.2 * c.summer),
            Tn => l * (1.0 + 0.15 * c.spring),
        }
    }

    /// The annual-mean level of a concentration-like `p` (conductivity, turbidity, CODMn,
    /// NH3-N, TP, TN; pH's base value), for sizing injections relative to the station; 0 for
    /// temperature and DO, which have no fixed level (see [`Self::mean`]).
    pub fn level(&self, p: SimParam) -> f64 {
        self.level[p as usize]
    }
}

/// AR(1) coefficient of a stream sampled every `interval`: probes decorrelate in about half an
/// hour, analyser values in about six hours.
pub fn ar_coefficient(p: SimParam, interval: Millis) -> f64 {
    let tau = if p.is_probe() { 30 * MINUTE } else { 6 * HOUR };
    exp(-(interval as f64) / tau as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::time::parse_rfc3339;

    #[test]
    fn seasons_and_diel_have_the_right_phase() {
        let jan = Clock::at(parse_rfc3339("2024-01-15T06:00:00Z").unwrap());
        let jul = Clock::at(parse_rfc3339("2024-07-15T08:00:00Z").unwrap()); // 16:00 Beijing
        assert_eq!(jan.temp, 0.2, "ice in January");
        assert!(jul.temp > 20.0 && jul.growth > 0.8);
        assert!(jan.winter > 0.9 && jul.summer > 0.9);
        assert!(jul.diel > 0.99, "afternoon maximum: {}", jul.diel);
        let dawn = Clock::at(parse_rfc3339("2024-07-14T20:00:00Z").unwrap()); // 04:00 Beijing
        assert!(dawn.diel < -0.99);
    }

    #[test]
    fn levels_fit_the_target_class() {
        let cfg = Config::embedded();
        let mut rng = Rng::new(1, 1);
        let jan = Clock::at(parse_rfc3339("2024-01-15T00:00:00Z").unwrap());
        let jul = Clock::at(parse_rfc3339("2024-07-15T08:00:00Z").unwrap());
        for st in &cfg.stations.list {
            let b = StationBaseline::draw(st, &cfg.gb3838, &mut rng);
            for c in [&jan, &jul] {
                for p in [SimParam::Nh3n, SimParam::Codmn, SimParam::Tp] {
                    let r = b.mean(p, c) / b.limit[p as usize].unwrap();
                    assert!((0.2..0.8).contains(&r), "{} {} ratio {r}", st.id, p.id());
                }
                let d = b.mean(SimParam::Do, c);
                assert!((4.5..16.0).contains(&d), "{} DO {d}", st.id);
            }
            assert_eq!(
                b.params.contains(&SimParam::Tn),
                st.water_body == WaterBody::Reservoir
            );
        }
        assert!(ar_coefficient(SimParam::Ph, 5 * MINUTE) > 0.8);
        assert!(ar_coefficient(SimParam::Nh3n, 4 * HOUR) < 0.6);
    }
}
