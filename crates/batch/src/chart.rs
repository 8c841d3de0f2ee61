//! Hand-written line charts: one panel per parameter, series as polylines, horizontal limit
//! lines and marked points. Small on purpose: a lead chart needs a few hundred points, and a
//! plotting crate would add more build time than this file has lines. A chart is laid out once
//! as a list of [`Mark`]s, written here as SVG and rasterised as PNG by `chart_png`.

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

/// Chart width in pixels.
pub const W: f64 = 760.0;
/// Height of one panel in pixels.
pub const H: f64 = 220.0;
const PAD: f64 = 48.0;
/// Width a character of a label is given: the PNG's bitmap glyphs are this wide, and the SVG's
/// 11 px sans-serif is narrower, so legends laid out with it never overlap in either.
const CHAR_W: f64 = 8.0;
/// Colour of text without one of its own.
pub const INK: &str = "#000";

/// Where a text's x lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// x is where the text starts.
    Start,
    /// x is where the text ends.
    End,
}

/// One drawing instruction in chart pixels (y down; a text's y is its baseline). The layout
/// is computed once and written out as SVG here or rasterised as PNG (`chart_png`), so the two
/// formats cannot disagree on where anything is.
#[derive(Debug, Clone, PartialEq)]
pub enum Mark {
    /// An unfilled rectangle.
    Frame {
        /// Left, top, width, height.
        rect: [f64; 4],
        /// Stroke colour.
        colour: &'static str,
    },
    /// A dashed horizontal line from `x1` to `x2` at `y`.
    Rule {
        /// Start x.
        x1: f64,
        /// End x.
        x2: f64,
        /// Height.
        y: f64,
        /// Colour.
        colour: &'static str,
    },
    /// A line through points.
    Polyline {
        /// The points.
        points: Vec<(f64, f64)>,
        /// Colour.
        colour: &'static str,
    },
    /// A filled dot.
    Dot {
        /// Centre.
        at: (f64, f64),
        /// Colour.
        colour: &'static str,
    },
    /// A line of text.
    Text {
        /// Anchor point (baseline).
        at: (f64, f64),
        /// The text.
        text: String,
        /// Colour.
        colour: &'static str,
        /// Which end `at` is.
        anchor: Anchor,
        /// Bold (titles).
        bold: bool,
    },
}

/// A chart laid out: its size and what to draw, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Width in pixels.
    pub width: f64,
    /// Height in pixels.
    pub height: f64,
    /// Marks, painted in order.
    pub marks: Vec<Mark>,
}

/// Lays panels out stacked vertically over the shared x range `[x0, x1]`; `x_label` formats
/// the two ends of the axis.
pub fn layout(panels: &[Panel], x0: f64, x1: f64, x_label: &dyn Fn(f64) -> String) -> Layout {
    let mut marks = Vec::new();
    let text = |at: (f64, f64), text: String, colour, anchor, bold| Mark::Text {
        at,
        text,
        colour,
        anchor,
        bold,
    };
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
        marks.push(text(
            (PAD, top + 14.0),
            p.title.clone(),
            INK,
            Anchor::Start,
            true,
        ));
        marks.push(Mark::Frame {
            rect: [PAD, top + 20.0, W - 2.0 * PAD, H - PAD - 20.0 + 4.0],
            colour: "#999",
        });
        marks.push(text(
            (2.0, py(hi) + 4.0),
            num(hi),
            INK,
            Anchor::Start,
            false,
        ));
        marks.push(text((2.0, py(lo)), num(lo), INK, Anchor::Start, false));
        let axis_y = top + H - PAD + 16.0;
        marks.push(text((PAD, axis_y), x_label(x0), INK, Anchor::Start, false));
        marks.push(text(
            (W - PAD, axis_y),
            x_label(x1),
            INK,
            Anchor::End,
            false,
        ));
        for (label, y) in &p.hlines {
            let y = py(*y);
            marks.push(Mark::Rule {
                x1: PAD,
                x2: W - PAD,
                y,
                colour: "#c00",
            });
            marks.push(text(
                (W - PAD - 2.0, y - 3.0),
                label.clone(),
                "#c00",
                Anchor::End,
                false,
            ));
        }
        let mut legend_x = PAD + CHAR_W * (p.title.chars().count() as f64 + 3.0);
        for ser in &p.series {
            let points = ser
                .points
                .iter()
                .filter(|q| q.1.is_finite())
                .map(|&(x, y)| (px(x), py(y)));
            if ser.dots {
                marks.extend(points.map(|at| Mark::Dot {
                    at,
                    colour: ser.colour,
                }));
            } else {
                marks.push(Mark::Polyline {
                    points: points.collect(),
                    colour: ser.colour,
                });
            }
            let at = (legend_x, top + 14.0);
            legend_x += CHAR_W * (ser.label.chars().count() as f64 + 3.0);
            marks.push(text(
                at,
                ser.label.clone(),
                ser.colour,
                Anchor::Start,
                false,
            ));
        }
    }
    Layout {
        width: W,
        height: H * panels.len().max(1) as f64,
        marks,
    }
}

/// Renders panels as SVG (see [`layout`]).
pub fn svg(panels: &[Panel], x0: f64, x1: f64, x_label: &dyn Fn(f64) -> String) -> String {
    to_svg(&layout(panels, x0, x1, x_label))
}

/// Writes a laid-out chart as SVG.
pub fn to_svg(l: &Layout) -> String {
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"sans-serif\" font-size=\"11\">\n",
        l.width, l.height
    );
    for m in &l.marks {
        let _ = match m {
            Mark::Frame { rect: [x, y, w, h], colour } => writeln!(
                s,
                "<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" fill=\"none\" stroke=\"{colour}\"/>"
            ),
            Mark::Rule { x1, x2, y, colour } => writeln!(
                s,
                "<line x1=\"{x1}\" x2=\"{x2:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"{colour}\" stroke-dasharray=\"6 3\"/>"
            ),
            Mark::Polyline { points, colour } => {
                let pts: Vec<String> = points.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
                writeln!(
                    s,
                    "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.2\" points=\"{}\"/>",
                    pts.join(" ")
                )
            }
            Mark::Dot { at: (x, y), colour } => writeln!(
                s,
                "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3.5\" fill=\"{colour}\"/>"
            ),
            Mark::Text { at: (x, y), text, colour, anchor, bold } => {
                let mut attrs = String::new();
                if *colour != INK {
                    attrs.push_str(&format!(" fill=\"{colour}\""));
                }
                if *anchor == Anchor::End {
                    attrs.push_str(" text-anchor=\"end\"");
                }
                if *bold {
                    attrs.push_str(" font-weight=\"bold\"");
                }
                writeln!(s, "<text x=\"{x:.1}\" y=\"{y:.1}\"{attrs}>{}</text>", escape(text))
            }
        };
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
