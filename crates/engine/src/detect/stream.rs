//! Per-stream (station × parameter) detectors: range, station flags, flatline, GB 3838
//! exceedance, and the baseline family (robust z or diurnal, rate, EWMA, CUSUM) over a rolling
//! median/MAD. Each reading costs O(log w) compares plus a memmove of at most w values; memory
//! is bounded by the window (about 1–2 KiB per stream at the default window of 48).

use super::profile::DiurnalProfile;
use super::window::RollingWindow;
use crate::config::{DetectorSettings, Limit, WaterClass};
use crate::model::{
    score_from_ratio, DataFlag, DetectorId, Finding, FindingKind, ParamId, StationId,
};
use crate::params::ParamInfo;
use crate::time::{Millis, HOUR};
use std::sync::Arc;

/// How a reading fared at the stream's door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Judged.
    Judged,
    /// Same time as the previous reading of the stream: skipped.
    Duplicate,
    /// Older than the previous reading of the stream: skipped.
    Late,
}

/// What the caller knows about the reading's context.
pub struct Context {
    /// The station declared the reading's time a maintenance window.
    pub maintenance: bool,
}

const INTERVALS: usize = 8;
const Z_CLAMP: f64 = 8.0;
/// Weight of each reading in the stream's repeat rate (about the last 50 readings).
const REPEAT_ALPHA: f64 = 0.02;

/// One reading standardised against the stream's baseline.
#[derive(Clone, Copy)]
struct Residual {
    t: Millis,
    /// The raw value.
    v: f64,
    /// The value with the hour-of-day offset removed.
    x: f64,
    /// `(x − median) / scale`.
    z: f64,
    scale: f64,
    /// Whether the hour-of-day profile is in use.
    diel: bool,
}

/// State of one stream.
#[derive(Debug, Clone)]
pub struct Stream {
    /// Station.
    pub station: StationId,
    /// Parameter.
    pub parameter: ParamId,
    info: Option<&'static ParamInfo>,
    /// Shared with the other streams on the same settings (see `Engine::make_stream`).
    cfg: Arc<DetectorSettings>,
    limit: Option<(Limit, WaterClass)>,
    window: RollingWindow,
    profile: Option<Box<DiurnalProfile>>,
    diel_in_window: bool,
    last_time: Option<Millis>,
    last_raw: f64,
    last_adjusted: Option<f64>,
    intervals: [Millis; INTERVALS],
    interval_count: usize,
    interval: Option<Millis>,
    ewma: f64,
    cusum_up: f64,
    cusum_down: f64,
    flat_run: u32,
    flat_since: Millis,
    repeat_rate: f64,
    exceed_run: u32,
    silent_reported: Option<Millis>,
}

impl Stream {
    /// A new stream with its resolved settings and the GB 3838 limit that applies, if any.
    pub fn new(
        station: StationId,
        parameter: ParamId,
        info: Option<&'static ParamInfo>,
        cfg: Arc<DetectorSettings>,
        limit: Option<(Limit, WaterClass)>,
    ) -> Self {
        let profile = (info.is_some_and(|i| i.diel) && cfg.diurnal.enabled)
            .then(|| Box::new(DiurnalProfile::new()));
        Self {
            station,
            parameter,
            info,
            window: RollingWindow::new(cfg.robust_z.window),
            cfg,
            limit,
            profile,
            diel_in_window: false,
            last_time: None,
            last_raw: f64::NAN,
            last_adjusted: None,
            intervals: [0; INTERVALS],
            interval_count: 0,
            interval: None,
            ewma: 0.0,
            cusum_up: 0.0,
            cusum_down: 0.0,
            flat_run: 0,
            flat_since: 0,
            repeat_rate: 0.5,
            exceed_run: 0,
            silent_reported: None,
        }
    }

    /// Keeps this stream's learnt state but takes the settings and limit of `fresh`
    /// (a threshold reload). A changed window size starts the window again.
    pub fn with_settings_of(mut self, fresh: Stream) -> Self {
        if fresh.cfg.robust_z.window != self.cfg.robust_z.window {
            self.window = fresh.window;
        }
        self.cfg = fresh.cfg;
        self.limit = fresh.limit;
        self
    }

    /// The GB 3838 limit that applies, with its class.
    pub fn limit(&self) -> Option<(Limit, WaterClass)> {
        self.limit
    }

    /// Unit of the parameter ("" when unknown).
    pub fn unit(&self) -> &'static str {
        self.info.map_or("", |i| i.unit)
    }

    /// Whether the baseline detectors have enough history to judge: a full minimum window, and
    /// for parameters with a daily cycle, a learnt hour-of-day profile.
    pub fn has_history(&self) -> bool {
        let profile_ready = self
            .profile
            .as_ref()
            .is_none_or(|p| p.days_learnt() >= self.cfg.diurnal.min_days.max(1));
        self.window.len() >= self.cfg.robust_z.min_history && profile_ready
    }

    /// The stream's usual sampling interval (median of the recent ones), once two readings exist.
    pub fn interval(&self) -> Option<Millis> {
        self.interval
    }

    fn note_interval(&mut self, dt: Millis) {
        self.intervals[self.interval_count % INTERVALS] = dt;
        self.interval_count += 1;
        // The median of the last few intervals, refreshed while they fill and then every few.
        if self.interval_count <= INTERVALS || self.interval_count.is_multiple_of(INTERVALS) {
            let n = self.interval_count.min(INTERVALS);
            let mut v = self.intervals;
            let s = &mut v[..n];
            s.sort_unstable();
            self.interval = Some(s[n / 2]);
        }
    }

    fn finding(
        &self,
        detector: DetectorId,
        kind: FindingKind,
        time: Millis,
        value: f64,
        stat: f64,
        threshold: f64,
    ) -> Finding {
        Finding {
            detector,
            kind,
            station: self.station.clone(),
            parameter: self.parameter.clone(),
            time,
            score: score_from_ratio(stat.abs(), threshold),
            value,
            statistic: stat,
            threshold,
            baseline: self.window.median(),
            direction: if stat > 0.0 {
                1
            } else if stat < 0.0 {
                -1
            } else {
                0
            },
            explanation: String::new(),
        }
    }

    /// Judges one reading; appends findings to `out` and returns the reading's score in [0, 1].
    pub fn observe(
        &mut self,
        t: Millis,
        v: f64,
        flag: DataFlag,
        ctx: &Context,
        out: &mut Vec<Finding>,
    ) -> (Admission, f64) {
        if let Some(last) = self.last_time {
            if t == last {
                return (Admission::Duplicate, 0.0);
            }
            if t < last {
                return (Admission::Late, 0.0);
            }
            self.note_interval(t - last);
        }
        self.last_time = Some(t);
        self.silent_reported = None;
        self.window.touch();
        let first = out.len();
        self.judge(t, v, flag, ctx, out);
        let score = out[first..].iter().map(|f| f.score).fold(0.0, f64::max);
        (Admission::Judged, score)
    }

    fn judge(&mut self, t: Millis, v: f64, flag: DataFlag, ctx: &Context, out: &mut Vec<Finding>) {
        let unit = self.unit();
        let p = &self.parameter;
        if !v.is_finite() {
            return;
        }
        if let Some(info) = self.info.filter(|_| self.cfg.range.enabled) {
            let (lo, hi) = info.range;
            if v < lo || v > hi {
                let mut f =
                    self.finding(DetectorId::Range, FindingKind::Monitoring, t, v, 2.0, 1.0);
                f.explanation = format!(
                    "{p} {v} {unit} is outside the physically possible range {lo}–{hi} {unit}"
                );
                f.direction = if v > hi { 1 } else { -1 };
                out.push(f);
                return;
            }
        }
        if !flag.is_measurement() {
            let (score, what) = match flag {
                DataFlag::D => (0.7, "instrument fault"),
                DataFlag::F => (0.6, "instrument stopped"),
                DataFlag::B => (0.6, "analyser–logger communication abnormal"),
                DataFlag::S => (0.55, "manually entered set value"),
                _ => return, // calibration, maintenance and vendor QC letters are expected
            };
            let mut f = self.finding(
                DetectorId::StationFlag,
                FindingKind::Monitoring,
                t,
                v,
                1.0,
                1.0,
            );
            f.score = score;
            f.explanation = format!(
                "{p}: the station flagged this value `{}` ({what})",
                flag.letter()
            );
            out.push(f);
            return;
        }
        if ctx.maintenance {
            return;
        }
        let stuck = self.flatline(t, v, out);
        self.standard(t, v, flag, out);
        self.baseline_family(t, v, stuck, out);
        self.last_raw = v;
    }

    /// Run length at which repeating the same value stops being chance: streams quantised to
    /// their reporting resolution repeat often, so the run needed grows with how often this
    /// stream has repeated a value before.
    fn stuck_run(&self) -> u32 {
        let c = &self.cfg.flatline;
        if self.flat_run < c.run {
            return c.run; // the logarithm below is only worth it once a run is long
        }
        let rate = self.repeat_rate.clamp(0.01, 0.999);
        let by_chance = (c.max_chance.ln() / rate.ln()).ceil();
        (by_chance as u32).max(c.run)
    }

    fn flatline(&mut self, t: Millis, v: f64, out: &mut Vec<Finding>) -> bool {
        let repeated = v == self.last_raw;
        if repeated {
            self.flat_run += 1;
        } else {
            self.flat_run = 1;
            self.flat_since = t;
        }
        let c = self.cfg.flatline;
        let run = self.stuck_run();
        let resolution = self.info.map_or(0.0, |i| i.resolution);
        let stuck =
            self.flat_run >= run && t - self.flat_since >= c.min_duration && v.abs() > resolution;
        if !stuck {
            self.repeat_rate += REPEAT_ALPHA * (f64::from(u8::from(repeated)) - self.repeat_rate);
        }
        if stuck && c.enabled {
            let hours = (t - self.flat_since) as f64 / HOUR as f64;
            let mut f = self.finding(
                DetectorId::Flatline,
                FindingKind::Monitoring,
                t,
                v,
                self.flat_run as f64,
                run as f64,
            );
            f.explanation = format!(
                "{} has reported exactly {v} {} {} times in a row ({hours:.1} h); by chance at most {run} for this stream",
                self.parameter,
                self.unit(),
                self.flat_run
            );
            out.push(f);
        }
        stuck
    }

    fn standard(&mut self, t: Millis, v: f64, flag: DataFlag, out: &mut Vec<Finding>) {
        let c = &self.cfg.standard;
        let Some((limit, class)) = self.limit.filter(|_| c.enabled) else {
            return;
        };
        if !limit.exceeded_by(v) {
            self.exceed_run = 0;
            return;
        }
        self.exceed_run += 1;
        let ratio = limit.ratio(v);
        if self.exceed_run < c.persistence && ratio < c.immediate_ratio {
            return;
        }
        let mut f = self.finding(
            DetectorId::Standard,
            FindingKind::Exceedance,
            t,
            v,
            ratio,
            1.0,
        );
        f.direction =
            if matches!(limit, Limit::Min(_)) || (matches!(limit, Limit::Range(lo, _) if v < lo)) {
                -1
            } else {
                1
            };
        let lim = limit.value_for(v);
        let censored = if flag == DataFlag::T {
            " at least (over the analyser's range)"
        } else {
            ""
        };
        let how = match limit.exceedance_multiple(v) {
            Some(b) => format!("exceedance multiple {b:.2}"),
            None => format!("standard index {ratio:.2}"),
        };
        f.explanation = format!(
            "{} {v}{censored} {} breaches the GB 3838 class {class} limit {lim} ({how}; {} readings in a row)",
            self.parameter,
            self.unit(),
            self.exceed_run
        );
        out.push(f);
    }

    fn baseline_family(&mut self, t: Millis, v: f64, stuck: bool, out: &mut Vec<Finding>) {
        let min_days = self.cfg.diurnal.min_days;
        // One look at the profile for the offset, whether it is in use and its swing (the
        // offset is 0 and the swing unused until it is).
        let (offset, diel_active, swing) = match self.profile.as_deref() {
            Some(p) if p.days_learnt() >= min_days.max(1) => {
                (p.offset(t, min_days), true, p.swing())
            }
            _ => (0.0, false, 0.0),
        };
        if diel_active && !self.diel_in_window {
            // The window so far holds values with the daily cycle in them: start it again.
            self.diel_in_window = true;
            self.window = RollingWindow::new(self.cfg.robust_z.window);
            self.last_adjusted = None;
            (self.ewma, self.cusum_up, self.cusum_down) = (0.0, 0.0, 0.0);
        }
        let x = v - offset;
        let mut anomalous = false;
        if self.has_history() && !stuck {
            let (m, mad) = (
                self.window.median().unwrap_or(x),
                self.window.mad_cached().unwrap_or(0.0),
            );
            let floor = (self.cfg.robust_z.relative_floor * m.abs())
                .max(self.info.map_or(1e-9, |i| i.resolution))
                .max(self.cfg.diurnal.swing_floor * swing);
            let scale = (1.4826 * mad).max(floor);
            let z = (x - m) / scale;
            anomalous = self.deviation_checks(
                Residual {
                    t,
                    v,
                    x,
                    z,
                    scale,
                    diel: diel_active,
                },
                out,
            );
        }
        if stuck {
            return;
        }
        if let Some(p) = self.profile.as_mut().filter(|_| !anomalous) {
            p.learn(t, v, self.cfg.diurnal.days_kept);
        }
        self.window.push(x);
        self.last_adjusted = Some(x);
    }

    /// Robust z (or diurnal), rate, EWMA and CUSUM on the standardised residual `z`.
    fn deviation_checks(&mut self, r: Residual, out: &mut Vec<Finding>) -> bool {
        let Residual {
            t,
            v,
            x,
            z,
            scale,
            diel,
        } = r;
        // The four settings read here, not the whole settings struct.
        let (rz, rate, ewma, cusum) = (
            self.cfg.robust_z,
            self.cfg.rate,
            self.cfg.ewma,
            self.cfg.cusum,
        );
        let p = &self.parameter;
        let unit = self.unit();
        let base = self.window.median().unwrap_or(x);
        let first = out.len();
        if rz.enabled && z.abs() >= rz.threshold {
            let (id, against) = if diel {
                (DetectorId::Diurnal, "the hour-of-day profile")
            } else {
                (DetectorId::RobustZ, "the rolling median")
            };
            let mut f = self.finding(id, FindingKind::Deviation, t, v, z, rz.threshold);
            f.explanation = format!(
                "{p} {v} {unit} is {:.1} robust scales {} {against} {base:.3} (threshold {})",
                z.abs(),
                if z > 0.0 { "above" } else { "below" },
                rz.threshold
            );
            out.push(f);
        }
        let gap_ok = self.last_time.zip(self.interval()).is_some();
        if let (true, Some(prev)) = (rate.enabled && gap_ok, self.last_adjusted) {
            let step = (x - prev) / scale;
            if step.abs() >= rate.threshold {
                let mut f = self.finding(
                    DetectorId::Rate,
                    FindingKind::Deviation,
                    t,
                    v,
                    step,
                    rate.threshold,
                );
                f.explanation = format!(
                    "{p} moved {:.3} {unit} in one step, {:.1} robust scales (threshold {})",
                    x - prev,
                    step.abs(),
                    rate.threshold
                );
                out.push(f);
            }
        }
        let zc = z.clamp(-Z_CLAMP, Z_CLAMP);
        if ewma.enabled {
            let l = ewma.lambda;
            self.ewma = l * zc + (1.0 - l) * self.ewma;
            let limit = ewma.threshold * (l / (2.0 - l)).sqrt();
            if self.ewma.abs() >= limit {
                let mut f = self.finding(
                    DetectorId::Ewma,
                    FindingKind::Deviation,
                    t,
                    v,
                    self.ewma,
                    limit,
                );
                f.explanation = format!(
                    "{p}: the smoothed residual reached {:.2} scales (EWMA λ={l}, limit {limit:.2}) — a sustained shift",
                    self.ewma
                );
                out.push(f);
            }
        }
        if cusum.enabled {
            self.cusum_up = (self.cusum_up + zc - cusum.k).max(0.0);
            self.cusum_down = (self.cusum_down - zc - cusum.k).max(0.0);
            let stat = if self.cusum_up >= self.cusum_down {
                self.cusum_up
            } else {
                -self.cusum_down
            };
            if stat.abs() >= cusum.h {
                let mut f = self.finding(
                    DetectorId::Cusum,
                    FindingKind::Deviation,
                    t,
                    v,
                    stat,
                    cusum.h,
                );
                f.explanation = format!(
                    "{p}: cumulative {} drift of {:.1} scales (CUSUM k={}, h={})",
                    if stat > 0.0 { "upward" } else { "downward" },
                    stat.abs(),
                    cusum.k,
                    cusum.h
                );
                out.push(f);
                self.cusum_up = 0.0;
                self.cusum_down = 0.0;
            }
        }
        out.len() > first
    }

    /// Reports silence when `now` is past the last reading by more than the gap tolerance.
    /// Repeats every tolerance while the silence lasts, so a monitoring event stays open.
    #[inline]
    pub fn check_silence(&mut self, now: Millis, out: &mut Vec<Finding>) {
        // Most sweeps find the stream fresh: no silence is due before `min_silence` (the
        // tolerance is at least that), so the rest can be skipped — here, in the sweep's loop
        // over every stream, without a call.
        if self.silent_reported.is_none()
            && self
                .last_time
                .is_some_and(|last| now < last.saturating_add(self.cfg.gap.min_silence))
        {
            return;
        }
        self.report_silence(now, out);
    }

    /// The rest of [`Stream::check_silence`], for a stream that may be silent.
    fn report_silence(&mut self, now: Millis, out: &mut Vec<Finding>) {
        let c = &self.cfg.gap;
        let (Some(last), Some(interval)) = (self.last_time, self.interval()) else {
            return;
        };
        if !c.enabled || interval <= 0 {
            return;
        }
        let tolerance = ((c.factor * interval as f64) as Millis).max(c.min_silence);
        let due = self
            .silent_reported
            .map_or(last + tolerance, |r| r + tolerance);
        if now < due {
            return;
        }
        // Report at the moment the silence became due, not at `now`: replay and live agree.
        self.silent_reported = Some(due);
        let hours = (due - last) as f64 / HOUR as f64;
        let mut f = self.finding(
            DetectorId::Gap,
            FindingKind::Monitoring,
            due,
            hours,
            (due - last) as f64,
            tolerance as f64,
        );
        f.explanation = format!(
            "{} silent for {hours:.1} h (usual interval {:.0} min, tolerance {:.1} h)",
            self.parameter,
            interval as f64 / 60_000.0,
            tolerance as f64 / HOUR as f64
        );
        out.push(f);
    }
}
