//! A small SVG line-chart renderer for the dossier: one panel per parameter, a line per station,
//! the lead's window shaded, GB 3838 limit lines dashed, the peak marked.
//!
//! Written here rather than pulled in: the dossier must be one self-contained file that prints
//! on A4 and opens without scripts, and what it needs is a few hundred points per line with
//! labelled axes. Lines are broken at gaps (a silent station must look silent, not
//! interpolated) and long series are thinned to the min and max of each pixel column so a
//! short spike survives. Times on the axis are Beijing time, like the rest of the dossier.

use super::esc;
use super::words::number;
use riverwatch_engine::time::{civil_from_days, Millis, DAY, HOUR, MINUTE};

/// One line: a station's readings of the panel's parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// Points in time order.
    pub points: Vec<(Millis, f64)>,
    /// The point to mark (the lead's peak), if any.
    pub peak: Option<(Millis, f64)>,
}

/// A horizontal reference line (a GB 3838 limit).
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Value.
    pub value: f64,
    /// Text beside it.
    pub label: String,
}

/// One chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    /// Title (item and unit).
    pub title: String,
    /// Lines.
    pub series: Vec<Series>,
    /// Limit lines.
    pub rules: Vec<Rule>,
    /// The shaded window `(start, end)` and its legend text.
    pub window: (Millis, Millis, String),
    /// Legend text of the peak marker.
    pub peak_label: String,
}

const W: f64 = 720.0;
const H: f64 = 250.0;
const LEFT: f64 = 62.0;
const RIGHT: f64 = 706.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 212.0;
/// Okabe–Ito colours: distinguishable in print and by colour-blind readers.
const COLOURS: [&str; 6] = [
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#000000",
];
const LIMIT_COLOUR: &str = "#D55E00";
/// Beijing time, for axis labels.
const OFFSET: Millis = 8 * HOUR;

/// The panel as an `<svg>` element over `x0..x1`.
pub fn svg(panel: &Panel, x0: Millis, x1: Millis) -> String {
    let x1 = x1.max(x0 + MINUTE);
    let (y0, y1) = y_range(panel);
    let sx = |t: Millis| LEFT + (t - x0) as f64 / (x1 - x0) as f64 * (RIGHT - LEFT);
    let sy = |v: f64| BOTTOM - (v - y0) / (y1 - y0) * (BOTTOM - TOP);
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" role="img" aria-label="{}" class="chart">"#,
        esc(&panel.title)
    );
    s.push_str(&format!(
        r#"<text x="{LEFT}" y="16" class="ct">{}</text>"#,
        esc(&panel.title)
    ));
    // The lead's window.
    let (ws, we) = (sx(panel.window.0.max(x0)), sx(panel.window.1.min(x1)));
    s.push_str(&format!(
        r##"<rect x="{ws:.1}" y="{TOP}" width="{:.1}" height="{:.1}" fill="#FBE9B7"/>"##,
        (we - ws).max(1.0),
        BOTTOM - TOP
    ));
    // Axes, grid and ticks.
    for v in ticks(y0, y1) {
        let y = sy(v);
        s.push_str(&format!(
            r##"<line x1="{LEFT}" x2="{RIGHT}" y1="{y:.1}" y2="{y:.1}" stroke="#DDD" stroke-width="0.5"/><text x="{}" y="{:.1}" class="yl">{}</text>"##,
            LEFT - 4.0,
            y + 3.5,
            number(v)
        ));
    }
    for t in time_ticks(x0, x1) {
        let x = sx(t);
        s.push_str(&format!(
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{BOTTOM}" stroke="#EEE" stroke-width="0.5"/>"##
        ));
        // A label centred on the right edge would be cut off by the picture's border.
        if x <= RIGHT - 30.0 {
            s.push_str(&format!(
                r#"<text x="{x:.1}" y="{}" class="xl">{}</text>"#,
                BOTTOM + 13.0,
                time_label(t)
            ));
        }
    }
    s.push_str(&format!(
        r##"<rect x="{LEFT}" y="{TOP}" width="{}" height="{}" fill="none" stroke="#888" stroke-width="0.8"/>"##,
        RIGHT - LEFT,
        BOTTOM - TOP
    ));
    // Limits.
    for r in &panel.rules {
        let y = sy(r.value);
        s.push_str(&format!(
            r#"<line x1="{LEFT}" x2="{RIGHT}" y1="{y:.1}" y2="{y:.1}" stroke="{LIMIT_COLOUR}" stroke-width="1.2" stroke-dasharray="6 3"/><text x="{}" y="{:.1}" class="rl">{}</text>"#,
            RIGHT - 3.0,
            y - 3.0,
            esc(&r.label)
        ));
    }
    // Lines and peaks.
    for (i, series) in panel.series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let pts = thin(&series.points, x0, x1, (RIGHT - LEFT) as usize);
        let path = path(&pts, &sx, &sy);
        if !path.is_empty() {
            s.push_str(&format!(
                r#"<path d="{path}" fill="none" stroke="{colour}" stroke-width="1.3" stroke-linejoin="round"/>"#
            ));
        }
        if let [(t, v)] = pts.as_slice() {
            s.push_str(&format!(
                r#"<circle cx="{:.1}" cy="{:.1}" r="2" fill="{colour}"/>"#,
                sx(*t),
                sy(*v)
            ));
        }
        if let Some((t, v)) = series.peak.filter(|(t, _)| (x0..=x1).contains(t)) {
            s.push_str(&format!(
                r#"<circle cx="{:.1}" cy="{:.1}" r="4.5" fill="none" stroke="{LIMIT_COLOUR}" stroke-width="1.6"/><text x="{:.1}" y="{:.1}" class="pl">{}</text>"#,
                sx(t),
                sy(v),
                sx(t) + 6.0,
                (sy(v) - 6.0).max(TOP + 10.0),
                number(v)
            ));
        }
    }
    s.push_str(&legend(panel));
    s.push_str("</svg>");
    s
}

/// Legend along the bottom: one swatch per station, then the window, limit and peak keys.
fn legend(panel: &Panel) -> String {
    let y = H - 10.0;
    let mut keys: Vec<(Swatch, &str)> = panel
        .series
        .iter()
        .enumerate()
        .map(|(i, s)| (Swatch::Line(COLOURS[i % COLOURS.len()]), s.label.as_str()))
        .collect();
    keys.push((Swatch::Window, &panel.window.2));
    if let Some(r) = panel.rules.first() {
        keys.push((Swatch::Rule, &r.label));
    }
    if panel.series.iter().any(|s| s.peak.is_some()) {
        keys.push((Swatch::Peak, &panel.peak_label));
    }
    let mut s = String::new();
    let mut x = LEFT;
    for (swatch, text) in keys {
        s.push_str(&match swatch {
            Swatch::Line(c) => format!(
                r#"<rect x="{x:.1}" y="{}" width="12" height="3" fill="{c}"/>"#,
                y - 5.0
            ),
            Swatch::Window => format!(
                r##"<rect x="{x:.1}" y="{}" width="12" height="9" fill="#FBE9B7" stroke="#C9B67A" stroke-width="0.5"/>"##,
                y - 8.0
            ),
            Swatch::Rule => format!(
                r#"<line x1="{x:.1}" x2="{:.1}" y1="{y0}" y2="{y0}" stroke="{LIMIT_COLOUR}" stroke-width="1.2" stroke-dasharray="4 2"/>"#,
                x + 12.0,
                y0 = y - 4.0
            ),
            Swatch::Peak => format!(
                r#"<circle cx="{:.1}" cy="{}" r="4" fill="none" stroke="{LIMIT_COLOUR}" stroke-width="1.5"/>"#,
                x + 6.0,
                y - 4.0
            ),
        });
        s.push_str(&format!(
            r#"<text x="{:.1}" y="{y}" class="lg">{}</text>"#,
            x + 16.0,
            esc(text)
        ));
        // Wide (CJK) characters take about twice the width of narrow ones.
        let width: f64 = text
            .chars()
            .map(|c| if c.is_ascii() { 5.6 } else { 10.5 })
            .sum();
        x += 28.0 + width;
    }
    s
}

/// The mark in front of a legend entry.
enum Swatch {
    Line(&'static str),
    Window,
    Rule,
    Peak,
}

/// The y range covering points, peaks and limit lines, padded, never empty.
fn y_range(panel: &Panel) -> (f64, f64) {
    let values = panel
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1).chain(s.peak.map(|p| p.1)))
        .chain(panel.rules.iter().map(|r| r.value))
        .filter(|v| v.is_finite());
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let span = if hi > lo { hi - lo } else { lo.abs().max(1.0) };
    let lo = if lo >= 0.0 && lo - 0.08 * span < 0.0 {
        0.0
    } else {
        lo - 0.08 * span
    };
    (lo, hi + 0.12 * span)
}

/// Four to seven round values (1, 2 or 5 × 10^k apart) within `lo..=hi`.
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) {
        return vec![lo];
    }
    let e = span.log10().floor() as i32;
    let step = (e - 2..=e)
        .flat_map(|k| [1.0, 2.0, 5.0].map(|m| m * 10f64.powi(k)))
        .find(|step| span / step <= 7.0)
        .unwrap_or(10f64.powi(e));
    let first = (lo / step).ceil() as i64;
    (first..first + 12)
        .map(|i| i as f64 * step)
        .take_while(|v| *v <= hi + step * 1e-9)
        .collect()
}

/// Time ticks at round Beijing-time hours or days, at most about eight.
fn time_ticks(x0: Millis, x1: Millis) -> Vec<Millis> {
    let span = x1 - x0;
    let step = [
        HOUR,
        2 * HOUR,
        3 * HOUR,
        6 * HOUR,
        12 * HOUR,
        DAY,
        2 * DAY,
        7 * DAY,
    ]
    .into_iter()
    .find(|s| span / s <= 8)
    .unwrap_or(span / 8 / DAY * DAY + DAY);
    let first = (x0 + OFFSET).div_euclid(step) * step - OFFSET;
    (0..)
        .map(|i| first + i * step)
        .skip_while(|t| *t < x0)
        .take_while(|t| *t <= x1)
        .collect()
}

/// `07-06 08:00`, or `07-06` at local midnight.
fn time_label(t: Millis) -> String {
    let local = t + OFFSET;
    let (_, m, d) = civil_from_days(local.div_euclid(DAY));
    let min = local.rem_euclid(DAY) / MINUTE;
    if min == 0 {
        format!("{m:02}-{d:02}")
    } else {
        format!("{m:02}-{d:02} {:02}:{:02}", min / 60, min % 60)
    }
}

/// At most about two points per pixel column: the min and max of each column, in time order.
fn thin(points: &[(Millis, f64)], x0: Millis, x1: Millis, columns: usize) -> Vec<(Millis, f64)> {
    let inside: Vec<(Millis, f64)> = points
        .iter()
        .copied()
        .filter(|(t, v)| (x0..=x1).contains(t) && v.is_finite())
        .collect();
    if inside.len() <= 2 * columns || columns == 0 {
        return inside;
    }
    let width = ((x1 - x0) / columns as Millis).max(1);
    let mut out: Vec<(Millis, f64)> = Vec::new();
    for group in inside.chunk_by(|a, b| (a.0 - x0) / width == (b.0 - x0) / width) {
        let lo = group.iter().min_by(|a, b| a.1.total_cmp(&b.1));
        let hi = group.iter().max_by(|a, b| a.1.total_cmp(&b.1));
        if let (Some(&lo), Some(&hi)) = (lo, hi) {
            if lo.0 == hi.0 {
                out.push(lo);
            } else if lo.0 < hi.0 {
                out.extend([lo, hi]);
            } else {
                out.extend([hi, lo]);
            }
        }
    }
    out
}

/// An SVG path through the points, lifting the pen where the gap is over three times the
/// typical interval.
fn path(pts: &[(Millis, f64)], sx: &dyn Fn(Millis) -> f64, sy: &dyn Fn(f64) -> f64) -> String {
    if pts.len() < 2 {
        return String::new();
    }
    let mut steps: Vec<Millis> = pts.windows(2).map(|w| w[1].0 - w[0].0).collect();
    steps.sort_unstable();
    let typical = steps[steps.len() / 2].max(1);
    let mut d = String::new();
    let mut prev: Option<Millis> = None;
    for &(t, v) in pts {
        let pen = match prev {
            Some(p) if t - p <= 3 * typical => 'L',
            _ => 'M',
        };
        d.push_str(&format!("{pen}{:.1} {:.1}", sx(t), sy(v)));
        prev = Some(t);
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn panel(points: Vec<(Millis, f64)>) -> Panel {
        Panel {
            title: "氨氮 (mg/L)".into(),
            series: vec![Series {
                label: "DL08".into(),
                peak: Some((4 * HOUR, 7.57)),
                points,
            }],
            rules: vec![Rule {
                value: 1.5,
                label: "Ⅳ类限值 1.5".into(),
            }],
            window: (2 * HOUR, 6 * HOUR, "线索时间窗口".into()),
            peak_label: "峰值".into(),
        }
    }

    #[test]
    fn gaps_lift_the_pen_and_limits_are_drawn() {
        let mut pts: Vec<(Millis, f64)> = (0..12).map(|i| (i * 5 * MINUTE, 0.4)).collect();
        pts.extend((0..12).map(|i| (3 * HOUR + i * 5 * MINUTE, 2.0 + i as f64 * 0.5)));
        let svg = svg(&panel(pts), 0, 8 * HOUR);
        let d = svg.split("<path d=\"").nth(1).unwrap();
        let d = &d[..d.find('"').unwrap()];
        assert_eq!(d.matches('M').count(), 2, "one gap, two strokes: {d}");
        assert!(svg.contains("stroke-dasharray=\"6 3\"") && svg.contains("Ⅳ类限值 1.5"));
        assert!(svg.contains(">7.57</text>"), "peak labelled");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("(mg/L)") && !svg.contains("<script"));
    }

    #[test]
    fn long_series_keep_their_spike() {
        let mut pts: Vec<(Millis, f64)> = (0..20_000).map(|i| (i * MINUTE, 1.0)).collect();
        pts[12_345].1 = 50.0;
        let thinned = thin(&pts, 0, 20_000 * MINUTE, 640);
        assert!(thinned.len() <= 2 * 641, "{}", thinned.len());
        assert!(thinned.iter().any(|p| p.1 == 50.0));
        assert!(thinned.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn axes_are_round() {
        assert_eq!(ticks(0.0, 9.0), vec![0.0, 2.0, 4.0, 6.0, 8.0]);
        assert_eq!(ticks(6.5, 9.6), vec![6.5, 7.0, 7.5, 8.0, 8.5, 9.0, 9.5]);
        // 2024-07-05T12:50Z .. 2024-07-08T04:00Z: daily ticks at Beijing midnight (16:00Z).
        let t0 = 1_720_183_800_000;
        let ts = time_ticks(t0, t0 + 63 * HOUR);
        assert!(ts.iter().all(|t| (t + OFFSET) % (12 * HOUR) == 0), "{ts:?}");
        assert_eq!(time_label(ts[0]), "07-06");
    }
}
