//! The chart of an evidence bundle (`chart.svg`): one panel per station × parameter, the
//! sealed readings as a polyline, the lead's window shaded. Plainer than the dossier's charts
//! (`report::chart`) on purpose: it draws exactly the readings of `readings.csv`, nothing
//! looked up beside them (no limits, no upstream series), so it shows what the digest covers.

use crate::report::esc as escape;
use riverwatch_engine::time::Rfc3339;
use riverwatch_engine::{Lead, Reading};
use std::collections::BTreeMap;
use std::fmt::Write as _;

const W: f64 = 760.0;
const PANEL: f64 = 140.0;
const PAD: f64 = 40.0;

/// The chart of `readings` around `lead`.
pub fn svg(lead: &Lead, readings: &[Reading]) -> String {
    let mut streams: BTreeMap<(&str, &str), Vec<(i64, f64)>> = BTreeMap::new();
    for r in readings {
        streams
            .entry((r.station.as_str(), r.parameter.as_str()))
            .or_default()
            .push((r.time, r.value));
    }
    let (t0, t1) = (
        lead.evidence.from as f64,
        (lead.evidence.to as f64).max(lead.evidence.from as f64 + 1.0),
    );
    let x = |t: f64| PAD + (t - t0) / (t1 - t0) * (W - 2.0 * PAD);
    let height = PAD + streams.len().max(1) as f64 * (PANEL + PAD);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(
        s,
        r#"<text x="{PAD}" y="20" font-size="13">Lead {} ({:?}), window {} .. {}</text>"#,
        escape(&lead.id),
        lead.category,
        Rfc3339(lead.window.start),
        Rfc3339(lead.window.end)
    );
    for (i, ((station, param), points)) in streams.iter().enumerate() {
        let top = PAD + i as f64 * (PANEL + PAD);
        let (lo, hi) = points
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
                (a.min(p.1), b.max(p.1))
            });
        let span = if hi > lo { hi - lo } else { 1.0 };
        let y = |v: f64| top + PANEL - (v - lo) / span * PANEL;
        let (wx0, wx1) = (x(lead.window.start as f64), x(lead.window.end as f64));
        let _ = writeln!(
            s,
            r##"<rect x="{wx0:.1}" y="{top:.1}" width="{:.1}" height="{PANEL}" fill="#fde2e2"/>"##,
            (wx1 - wx0).max(1.0)
        );
        let _ = writeln!(
            s,
            r##"<rect x="{PAD}" y="{top:.1}" width="{:.1}" height="{PANEL}" fill="none" stroke="#999"/>"##,
            W - 2.0 * PAD
        );
        let _ = writeln!(
            s,
            r#"<text x="{PAD}" y="{:.1}">{} / {}  ({} readings, {lo} .. {hi})</text>"#,
            top - 4.0,
            escape(station),
            escape(param),
            points.len()
        );
        let line: Vec<String> = points
            .iter()
            .map(|(t, v)| format!("{:.1},{:.1}", x(*t as f64), y(*v)))
            .collect();
        let _ = writeln!(
            s,
            r##"<polyline fill="none" stroke="#1f5fa8" stroke-width="1.2" points="{}"/>"##,
            line.join(" ")
        );
    }
    s.push_str("</svg>\n");
    s
}
