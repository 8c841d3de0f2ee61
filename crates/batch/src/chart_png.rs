//! PNG rendering of a chart [`Layout`]: tiny-skia fills and strokes the shapes (anti-aliased,
//! dashed rules) and encodes the PNG; labels are drawn from font8x8's 8×8 bitmap glyphs, so the
//! picture looks the same on a machine (or container) without any font installed. Characters
//! the bitmap font lacks are drawn as `?`; SVG charts keep the full text.

use crate::chart::{Anchor, Layout, Mark};
use font8x8::{UnicodeFonts, BASIC_FONTS, GREEK_FONTS, LATIN_FONTS};
use tiny_skia::{Color, FillRule, Paint, PathBuilder, Pixmap, Rect, Stroke, StrokeDash, Transform};

/// Glyph cell width and height in pixels.
const GLYPH: f64 = 8.0;

/// Why a chart could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum PngError {
    /// The layout's size is not a usable pixel size.
    #[error("a chart of {0}×{1} pixels cannot be rendered")]
    Size(f64, f64),
    /// The encoder failed.
    #[error("png encoding failed: {0}")]
    Encode(String),
}

/// Renders `layout` on white and encodes it as PNG.
pub fn png(layout: &Layout) -> Result<Vec<u8>, PngError> {
    let size = |v: f64| (1.0..=16_384.0).contains(&v).then_some(v.round() as u32);
    let (Some(w), Some(h)) = (size(layout.width), size(layout.height)) else {
        return Err(PngError::Size(layout.width, layout.height));
    };
    let mut pixmap = Pixmap::new(w, h).ok_or(PngError::Size(layout.width, layout.height))?;
    pixmap.fill(Color::WHITE);
    for m in &layout.marks {
        draw(&mut pixmap, m);
    }
    pixmap
        .encode_png()
        .map_err(|e| PngError::Encode(e.to_string()))
}

fn paint(colour: &str) -> Paint<'static> {
    let mut p = Paint::default();
    let [r, g, b] = rgb(colour);
    p.set_color_rgba8(r, g, b, 255);
    p.anti_alias = true;
    p
}

/// `#rgb` or `#rrggbb`; anything else is black.
fn rgb(colour: &str) -> [u8; 3] {
    let hex = colour.strip_prefix('#').unwrap_or("");
    let digit = |i: usize| u8::from_str_radix(hex.get(i..i + 1)?, 16).ok();
    let parsed = match hex.len() {
        3 => (0..3)
            .map(|i| digit(i).map(|d| d * 17))
            .collect::<Option<Vec<u8>>>(),
        6 => (0..3)
            .map(|i| Some(digit(2 * i)? * 16 + digit(2 * i + 1)?))
            .collect::<Option<Vec<u8>>>(),
        _ => None,
    };
    match parsed.as_deref() {
        Some(&[r, g, b]) => [r, g, b],
        _ => [0, 0, 0],
    }
}

fn draw(pixmap: &mut Pixmap, m: &Mark) {
    let id = Transform::identity();
    match m {
        Mark::Frame {
            rect: [x, y, w, h],
            colour,
        } => {
            if let Some(r) = Rect::from_xywh(*x as f32, *y as f32, *w as f32, *h as f32) {
                let path = PathBuilder::from_rect(r);
                pixmap.stroke_path(&path, &paint(colour), &Stroke::default(), id, None);
            }
        }
        Mark::Rule { x1, x2, y, colour } => {
            let mut pb = PathBuilder::new();
            pb.move_to(*x1 as f32, *y as f32);
            pb.line_to(*x2 as f32, *y as f32);
            let stroke = Stroke {
                dash: StrokeDash::new(vec![6.0, 3.0], 0.0),
                ..Stroke::default()
            };
            if let Some(path) = pb.finish() {
                pixmap.stroke_path(&path, &paint(colour), &stroke, id, None);
            }
        }
        Mark::Polyline { points, colour } => {
            let mut pb = PathBuilder::new();
            for (i, (x, y)) in points.iter().enumerate() {
                if i == 0 {
                    pb.move_to(*x as f32, *y as f32);
                } else {
                    pb.line_to(*x as f32, *y as f32);
                }
            }
            let stroke = Stroke {
                width: 1.2,
                ..Stroke::default()
            };
            if let Some(path) = pb.finish() {
                pixmap.stroke_path(&path, &paint(colour), &stroke, id, None);
            }
        }
        Mark::Dot { at: (x, y), colour } => {
            if let Some(path) = PathBuilder::from_circle(*x as f32, *y as f32, 3.5) {
                pixmap.fill_path(&path, &paint(colour), FillRule::Winding, id, None);
            }
        }
        Mark::Text {
            at,
            text,
            colour,
            anchor,
            bold,
        } => draw_text(pixmap, *at, text, colour, *anchor, *bold),
    }
}

/// Blits the text's glyphs as one path of pixel squares (a bold text twice, one pixel apart).
fn draw_text(
    pixmap: &mut Pixmap,
    (x, y): (f64, f64),
    text: &str,
    colour: &str,
    anchor: Anchor,
    bold: bool,
) {
    let width = GLYPH * text.chars().count() as f64;
    let left = match anchor {
        Anchor::Start => x,
        Anchor::End => x - width,
    };
    let top = y - GLYPH + 1.0;
    let mut pb = PathBuilder::new();
    for (i, c) in text.chars().enumerate() {
        let rows = BASIC_FONTS
            .get(c)
            .or_else(|| LATIN_FONTS.get(c))
            .or_else(|| GREEK_FONTS.get(c))
            .or_else(|| BASIC_FONTS.get('?'))
            .unwrap_or([0; 8]);
        let gx = left + GLYPH * i as f64;
        for (row, bits) in rows.iter().enumerate() {
            for col in 0..8 {
                // font8x8: bit 0 is the leftmost pixel of the row.
                if bits & (1 << col) == 0 {
                    continue;
                }
                let px = (gx + col as f64) as f32;
                let py = (top + row as f64) as f32;
                let w = if bold { 2.0 } else { 1.0 };
                if let Some(r) = Rect::from_xywh(px, py, w, 1.0) {
                    pb.push_rect(r);
                }
            }
        }
    }
    if let Some(path) = pb.finish() {
        let mut p = paint(colour);
        p.anti_alias = false;
        pixmap.fill_path(&path, &p, FillRule::Winding, Transform::identity(), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::{layout, Panel, Series};

    fn chart() -> Layout {
        let panel = Panel {
            title: "recall against leads per station-week".into(),
            series: vec![Series {
                label: "candidates".into(),
                colour: "#1f5fa8",
                points: vec![(0.5, 0.4), (1.0, 0.7), (2.0, 0.9)],
                dots: true,
            }],
            hlines: vec![("limit".into(), 0.8)],
        };
        layout(&[panel], 0.0, 2.5, &|x| format!("{x:.1}"))
    }

    /// Width, height and RGBA pixels of a PNG.
    fn decode(bytes: &[u8]) -> Pixmap {
        Pixmap::decode_png(bytes).expect("a PNG tiny-skia reads back")
    }

    #[test]
    fn renders_a_png_of_the_layout_size_with_its_colours() {
        let l = chart();
        let bytes = png(&l).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        let p = decode(&bytes);
        assert_eq!((p.width(), p.height()), (760, 220));
        let has = |rgb: [u8; 3]| {
            p.pixels().iter().any(|c| {
                let c = c.demultiply();
                [c.red(), c.green(), c.blue()] == rgb
            })
        };
        assert!(has([0x1f, 0x5f, 0xa8]), "the dots are drawn");
        assert!(has([0xcc, 0, 0]), "the limit rule is drawn");
        assert!(has([0, 0, 0]), "the text is drawn");
        let white = p
            .pixels()
            .iter()
            .filter(|c| c.demultiply().red() == 255)
            .count();
        assert!(white > p.pixels().len() / 2, "mostly background");
    }

    #[test]
    fn colours_parse_and_bad_sizes_are_refused() {
        assert_eq!(rgb("#c00"), [0xcc, 0, 0]);
        assert_eq!(rgb("#1f5fa8"), [0x1f, 0x5f, 0xa8]);
        assert_eq!(rgb("red"), [0, 0, 0]);
        assert_eq!(rgb("#zzz"), [0, 0, 0]);
        let mut l = chart();
        l.width = f64::NAN;
        assert!(matches!(png(&l), Err(PngError::Size(..))));
    }
}
