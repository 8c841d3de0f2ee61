//! Threshold tuning: every candidate of a sweep grid replayed over one in-memory window, in
//! parallel over the cores, and scored against labels (simulator truth and/or analyst
//! decisions). The window is read once; candidates share the readings slice read-only, each
//! worker owns its engine, so there is no locking on the hot path.

use crate::chart::{self, Layout, Panel, Series};
use crate::chart_png::{png, PngError};
use crate::recorded::Decisions;
use crate::replay::{replay, Ending, Replayed};
use crate::sweep::Candidate;
use riverwatch_engine::eval::{evaluate, EvalOptions};
use riverwatch_engine::sim::TruthFile;
use riverwatch_engine::time::{format_duration, Millis, DAY};
use riverwatch_engine::{Config, Engine, Lead, Reading};
use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// What candidates are scored against.
#[derive(Debug, Clone, Default)]
pub struct Labels {
    /// Simulator ground truth (events matched by `eval`).
    pub truth: Option<TruthFile>,
    /// Analyst decisions from the ledger (leads matched by station and overlapping window).
    pub decisions: Decisions,
}

/// Precision, recall and F1 of one label source.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Quality {
    /// Share of alarms that match a true label.
    pub precision: Option<f64>,
    /// Share of true labels matched.
    pub recall: Option<f64>,
    /// Harmonic mean of the two.
    pub f1: Option<f64>,
}

impl Quality {
    fn new(precision: Option<f64>, recall: Option<f64>) -> Self {
        let f1 = match (precision, recall) {
            (Some(p), Some(r)) if p + r > 0.0 => Some(2.0 * p * r / (p + r)),
            (Some(_), Some(_)) => Some(0.0),
            _ => None,
        };
        Self {
            precision,
            recall,
            f1,
        }
    }
}

/// The score of one candidate.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Score {
    /// Leads produced (distinct ids).
    pub leads: usize,
    /// Events produced.
    pub events: usize,
    /// Leads per station-week of data.
    pub leads_per_station_week: f64,
    /// Against the simulator truth.
    pub truth: Option<Quality>,
    /// Median detection delay of detected truths, ms.
    pub delay_median_ms: Option<Millis>,
    /// Against analyst decisions.
    pub decisions: Option<Quality>,
}

impl Score {
    /// The quality tuning optimises: truth when given, else analyst decisions.
    pub fn primary(&self) -> Quality {
        self.truth.or(self.decisions).unwrap_or_default()
    }
}

/// One tuned candidate.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The candidate.
    pub candidate: Candidate,
    /// Its score, or why its config was refused.
    pub score: Result<Score, String>,
    /// On the Pareto front of leads/week (lower is better) against recall (higher is better).
    pub pareto: bool,
}

/// Station-weeks a window of readings covers: distinct stations × span.
pub fn station_weeks(readings: &[Reading]) -> f64 {
    let (Some(first), Some(last)) = (readings.first(), readings.last()) else {
        return 0.0;
    };
    let stations: HashSet<&str> = readings.iter().map(|r| r.station.as_str()).collect();
    stations.len() as f64 * (last.time - first.time).max(1) as f64 / (7 * DAY) as f64
}

/// Scores one replay against the labels.
pub fn score(r: &Replayed, labels: &Labels, station_weeks: f64) -> Score {
    let (truth, delay) = match &labels.truth {
        Some(t) => {
            let rep = evaluate(t, &r.events, &r.leads, &EvalOptions::default());
            (
                Some(Quality::new(rep.precision.share, rep.recall.share)),
                rep.delay_median_ms,
            )
        }
        None => (None, None),
    };
    let decisions = (!labels.decisions.is_empty()).then(|| decided(&r.leads, &labels.decisions));
    Score {
        leads: r.leads.len(),
        events: r.events.len(),
        leads_per_station_week: r.leads.len() as f64 / station_weeks.max(1e-9),
        truth,
        delay_median_ms: delay,
        decisions,
    }
}

fn overlaps(a: &Lead, b: &Lead) -> bool {
    a.station == b.station && a.window.start <= b.window.end && b.window.start <= a.window.end
}

/// Leads match decided leads of the same station with overlapping windows (ids move when a
/// threshold moves the start of an event, so ids cannot be compared across candidates).
fn decided(leads: &[Lead], d: &Decisions) -> Quality {
    let hit = |l: &Lead, set: &[Lead]| set.iter().any(|x| overlaps(l, x));
    let judged: Vec<&Lead> = leads
        .iter()
        .filter(|l| hit(l, &d.confirmed) || hit(l, &d.dismissed))
        .collect();
    let good = judged.iter().filter(|l| hit(l, &d.confirmed)).count();
    let precision = (!judged.is_empty()).then(|| good as f64 / judged.len() as f64);
    let found = d.confirmed.iter().filter(|c| hit(c, leads)).count();
    let recall = (!d.confirmed.is_empty()).then(|| found as f64 / d.confirmed.len() as f64);
    Quality::new(precision, recall)
}

/// Replays every candidate over `readings` on up to `workers` threads and scores it; calls
/// `progress(done)` as candidates finish. Outcomes keep the candidates' order.
pub fn tune(
    base: &Config,
    candidates: Vec<Candidate>,
    readings: &[Reading],
    labels: &Labels,
    workers: usize,
    progress: &(dyn Fn(usize) + Sync),
) -> Vec<Outcome> {
    let weeks = station_weeks(readings);
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Result<Score, String>)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..workers.clamp(1, candidates.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(c) = candidates.get(i) else { break };
                let scored = base
                    .with_thresholds_text(&c.thresholds)
                    .map_err(|e| e.to_string())
                    .map(|cfg| {
                        let engine = Engine::new(Arc::new(cfg));
                        score(
                            &replay(engine, readings, Ending::Flush, &mut |_| {}),
                            labels,
                            weeks,
                        )
                    });
                if let Ok(mut r) = results.lock() {
                    r.push((i, scored));
                }
                progress(done.fetch_add(1, Ordering::Relaxed) + 1);
            });
        }
    });
    let mut scores: Vec<Option<Result<Score, String>>> = vec![None; candidates.len()];
    for (i, s) in results.into_inner().unwrap_or_else(|p| p.into_inner()) {
        scores[i] = Some(s);
    }
    let mut out: Vec<Outcome> = candidates
        .into_iter()
        .zip(scores)
        .map(|(candidate, score)| Outcome {
            candidate,
            score: score.unwrap_or_else(|| Err("not run".into())),
            pareto: false,
        })
        .collect();
    mark_pareto(&mut out);
    out
}

fn point(o: &Outcome) -> Option<(f64, f64)> {
    let s = o.score.as_ref().ok()?;
    Some((s.leads_per_station_week, s.primary().recall?))
}

/// Marks outcomes no other outcome beats on both leads/week (fewer) and recall (more).
fn mark_pareto(out: &mut [Outcome]) {
    let pts: Vec<Option<(f64, f64)>> = out.iter().map(point).collect();
    for (i, o) in out.iter_mut().enumerate() {
        let Some((x, y)) = pts[i] else { continue };
        o.pareto = !pts
            .iter()
            .flatten()
            .any(|&(a, b)| a <= x && b >= y && (a < x || b > y));
    }
}

/// The candidate with the best F1 (ties: fewer leads/week, then earlier in the grid).
pub fn best(out: &[Outcome]) -> Option<&Outcome> {
    let key = |o: &Outcome| {
        o.score
            .as_ref()
            .ok()
            .and_then(|s| Some((s.primary().f1?, -s.leads_per_station_week)))
    };
    out.iter()
        .filter(|o| key(o).is_some())
        .fold(None, |best: Option<&Outcome>, o| match best {
            Some(b) if key(b) >= key(o) => Some(b),
            _ => Some(o),
        })
}

fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{:.1}%", v * 100.0))
}

/// The table printed by `tune`: one row per candidate, `*` on the Pareto front, `>` on the best.
pub fn table(out: &[Outcome]) -> String {
    let chosen = best(out).map(|b| b as *const Outcome);
    let mut s = format!(
        "  {:<40} {:>7} {:>10} {:>9} {:>7} {:>7} {:>9} {:>9} {:>9}\n",
        "candidate",
        "leads",
        "leads/stwk",
        "precision",
        "recall",
        "F1",
        "delay",
        "analyst P",
        "analyst R"
    );
    for o in out {
        let mark = match (chosen == Some(o as *const Outcome), o.pareto) {
            (true, _) => '>',
            (false, true) => '*',
            _ => ' ',
        };
        match &o.score {
            Ok(sc) => {
                let t = sc.truth.unwrap_or_default();
                let d = sc.decisions.unwrap_or_default();
                let _ = writeln!(
                    s,
                    "{mark} {:<40} {:>7} {:>10.3} {:>9} {:>7} {:>7} {:>9} {:>9} {:>9}",
                    o.candidate.to_string(),
                    sc.leads,
                    sc.leads_per_station_week,
                    pct(t.precision),
                    pct(t.recall),
                    pct(t.f1.or(d.f1)),
                    sc.delay_median_ms.map_or("-".into(), format_duration),
                    pct(d.precision),
                    pct(d.recall)
                );
            }
            Err(e) => {
                let _ = writeln!(s, "! {:<40} refused: {e}", o.candidate.to_string());
            }
        }
    }
    s.push_str(
        "(* Pareto front of leads/station-week against recall; > best F1, what --write writes)\n",
    );
    s
}

/// The file format of a plot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlotFormat {
    /// Scalable, full text.
    Svg,
    /// Raster, 8×8 bitmap labels.
    Png,
}

impl PlotFormat {
    /// By the file name's extension: `.png` (any case) is PNG, anything else SVG.
    pub fn of(path: &std::path::Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("png") => Self::Png,
            _ => Self::Svg,
        }
    }
}

/// The plot as file content in `format`.
pub fn plot_file(out: &[Outcome], format: PlotFormat) -> Result<Vec<u8>, PngError> {
    let l = plot(out);
    match format {
        PlotFormat::Svg => Ok(chart::to_svg(&l).into_bytes()),
        PlotFormat::Png => png(&l),
    }
}

/// Scatter of leads/station-week (x) against recall (y), the Pareto front as a line.
pub fn plot(out: &[Outcome]) -> Layout {
    let all: Vec<(f64, f64)> = out.iter().filter_map(point).collect();
    let mut front: Vec<(f64, f64)> = out.iter().filter(|o| o.pareto).filter_map(point).collect();
    front.sort_by(|a, b| a.0.total_cmp(&b.0));
    let x1 = all.iter().map(|p| p.0).fold(0.0, f64::max).max(1e-3) * 1.05;
    let panel = Panel {
        title: "recall against leads per station-week".into(),
        series: vec![
            Series {
                label: "candidates".into(),
                colour: "#1f5fa8",
                points: all,
                dots: true,
            },
            Series {
                label: "Pareto front".into(),
                colour: "#d07000",
                points: front,
                dots: false,
            },
        ],
        hlines: Vec::new(),
    };
    chart::layout(&[panel], 0.0, x1, &|x| format!("{x:.2} leads/station-week"))
}
