//! Hand-written SVG line charts: one panel per parameter, series as polylines, horizontal
//! limit lines and marked points. Small on purpose: a lead chart needs a few hundred points,
//! and a plotting crate would add more build time than this file has lines.

use std::fmt::Write;

/// One line of a panel.
pub struct Series {
    /// Legend label.
    pub label: String,
    /// CSS colour.
    pub colour: &'static str,
    /// Points (x, y); x is any monotone unit (ms here).
    pub points: Vec<(f64, f64)>,
    /// Draw dots only (detection points), not a line.
    pub dots: bool,
}

/// A panel: a title, series and horizontal reference lines (label, y).
pub struct Panel {
    /// Title above the panel.
    pub title: String,
    /// The series.
    pub series: Vec<Series>,
    /// Horizontal lines such as a GB 3838 limit.
    pub hlines: Vec<(String, f64)>,
}

const W: f64 = 760.0;
const H: f64 = 220.0;
const PAD: f64 = 48.0;

/// Renders panels stacked vertically over the shared x range `[x0, x1]`; `x_label` formats
/// the two ends of the axis.
pub fn svg(panels: &[Panel], x0: f64, x1: f64, x_label: &dyn Fn(f64) -> String) -> String {
    let height = H * panels.len().max(1) as f64;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"11\">\n"
    );
    let xspan = (x1 - x0).max(1e-9);
    for (i, p) in panels.iter().enumerate() {
        let top = i as f64 * H;
        let ys = p
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|q| q.1))
            .chain(p.hlines.iter().map(|h| h.1))
            .filter(|v| v.is_finite());
        let (lo, hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
        let (lo, hi) = if lo.is_finite() && hi > lo {
            (lo, hi)
        } else if lo.is_finite() {
            (lo - 1.0, lo + 1.0)
        } else {
            (0.0, 1.0)
        };
        let px = |x: f64| PAD + (x - x0) / xspan * (W - 2.0 * PAD);
        let py = |y: f64| top + H - PAD + -(y - lo) / (hi - lo) * (H - 2.0 * PAD + 16.0);
        let _ = writeln!(
            s,
            "<text x=\"{PAD}\" y=\"{}\" font-weight=\"bold\">{}</text>",
            top + 14.0,
            escape(&p.title)
        );
        let _ = writeln!(
            s,
            "<rect x=\"{PAD}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#999\"/>",
            top + 20.0,
            W - 2.0 * PAD,
            H - PAD - 20.0 + 4.0
        );
        let _ = writeln!(
            s,
            "<text x=\"2\" y=\"{:.1}\">{}</text>",
            py(hi) + 4.0,
            num(hi)
        );
        let _ = writeln!(s, "<text x=\"2\" y=\"{:.1}\">{}</text>", py(lo), num(lo));
        let _ = writeln!(
            s,
            "<text x=\"{PAD}\" y=\"{:.1}\">{}</text><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            top + H - PAD + 16.0,
            escape(&x_label(x0)),
            W - PAD,
            top + H - PAD + 16.0,
            escape(&x_label(x1))
        );
        for (label, y) in &p.hlines {
            let _ = writeln!(
                s,
                "<line x1=\"{PAD}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#c00\" stroke-dasharray=\"6 3\"/><text x=\"{:.1}\" y=\"{:.1}\" fill=\"#c00\" text-anchor=\"end\">{}</text>",
                W - PAD,
                W - PAD - 2.0,
                py(*y) - 3.0,
                escape(label),
                y = py(*y)
            );
        }
        for (k, ser) in p.series.iter().enumerate() {
            if ser.dots {
                for &(x, y) in ser.points.iter().filter(|q| q.1.is_finite()) {
                    let _ = writeln!(
                        s,
                        "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"{}\"/>",
                        px(x),
                        py(y),
                        ser.colour
                    );
                }
            } else {
                let pts: Vec<String> = ser
                    .points
                    .iter()
                    .filter(|q| q.1.is_finite())
                    .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
                    .collect();
                let _ = writeln!(
                    s,
                    "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.2\" points=\"{}\"/>",
                    ser.colour,
                    pts.join(" ")
                );
            }
            let _ = writeln!(
                s,
                "<text x=\"{:.1}\" y=\"{}\" fill=\"{}\">{}</text>",
                PAD + 200.0 + 170.0 * k as f64,
                top + 14.0,
                ser.colour,
                escape(&ser.label)
            );
        }
    }
    s.push_str("</svg>\n");
    s
}

fn num(v: f64) -> String {
    format!("{v:.3}")
}

/// Escapes text for XML and HTML.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
