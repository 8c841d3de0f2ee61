//! The replay report directory: `leads.jsonl` (last revision per id), `events.jsonl`,
//! `summary.csv` (one row per lead), `charts/<lead>.svg` and `report.html` linking them all.
//!
//! Each chart shows, per involved parameter, the station's series around the lead window, the
//! GB 3838 limit of the station's target class, the first upstream station's series shifted by
//! its travel time (what the downstream station would have seen had the water only come from
//! upstream), and the points the engine flagged (the per-parameter peaks of the lead). The
//! readings of a chart are looked up per lead ([`Lookup`], [`chart_needs`]): the report holds one
//! lead's readings at a time, not the replayed window.

use crate::chart::{self, Panel, Series};
use crate::replay::{LeadDiff, Replayed};
use riverwatch_engine::time::{format_rfc3339, Millis, HOUR};
use riverwatch_engine::{Config, Lead, ParamId, Reading, StationId};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

/// Where the charts' readings come from: `lookup(stations, from, to)` answers the window's
/// readings of `stations` with `from <= time < to`, sorted by time (one store query per lead,
/// `source::Reader::readings`), so the report never needs the whole window in memory.
pub type Lookup<'a> = dyn Fn(&[StationId], Millis, Millis) -> std::io::Result<Vec<Reading>> + 'a;

/// Writes the report into `dir` (created if needed); returns the path of `report.html`.
pub fn write(
    dir: &Path,
    cfg: &Config,
    lookup: &Lookup,
    replayed: &Replayed,
    diff: Option<&LeadDiff>,
) -> std::io::Result<std::path::PathBuf> {
    std::fs::create_dir_all(dir.join("charts"))?;
    jsonl(&dir.join("leads.jsonl"), &replayed.leads)?;
    jsonl(&dir.join("events.jsonl"), &replayed.events)?;
    std::fs::write(dir.join("summary.csv"), summary_csv(&replayed.leads))?;
    for lead in &replayed.leads {
        let (stations, from, to) = chart_needs(cfg, lead);
        let readings = lookup(&stations, from, to)?;
        let svg = lead_chart(cfg, &readings, lead);
        std::fs::write(dir.join("charts").join(chart_name(lead)), svg)?;
    }
    let html = dir.join("report.html");
    std::fs::write(&html, html_page(cfg, replayed, diff))?;
    Ok(html)
}

fn jsonl<T: serde::Serialize>(path: &Path, items: &[T]) -> std::io::Result<()> {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
    for item in items {
        serde_json::to_writer(&mut w, item)?;
        w.write_all(b"\n")?;
    }
    w.flush()
}

/// File name of a lead's chart (ids are hex, safe in paths).
pub fn chart_name(lead: &Lead) -> String {
    let safe: String = lead
        .id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}.svg")
}

/// One row per lead: id, revision, category, station, segment, start, end, severity,
/// confidence, parameters (`;`-separated), peak exceedance multiple.
pub fn summary_csv(leads: &[Lead]) -> String {
    let mut s = String::from(
        "id,revision,category,station,segment,start,end,severity,confidence,parameters,max_exceedance_multiple\n",
    );
    for l in leads {
        let params: Vec<String> = l
            .parameters
            .iter()
            .map(|p| format!("{}:{}", p.station, p.parameter))
            .collect();
        let multiple = l
            .parameters
            .iter()
            .filter_map(|p| p.exceedance_multiple)
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{:.3},{},{}",
            l.id,
            l.revision,
            json_name(&l.category),
            l.station,
            l.segment
                .as_ref()
                .map(|g| g.to_string())
                .unwrap_or_default(),
            format_rfc3339(l.window.start),
            format_rfc3339(l.window.end),
            json_name(&l.severity),
            l.confidence,
            params.join(";"),
            multiple.map(|m| format!("{m:.2}")).unwrap_or_default()
        );
    }
    s
}

/// The serde name of a unit enum variant (`suspected_discharge`, `high`, …).
fn json_name<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// Points of one stream with `from <= time < to`, shifted by `shift` ms. `readings` is sorted
/// by time, so the range is found by binary search.
fn series(
    readings: &[Reading],
    station: &StationId,
    parameter: &ParamId,
    from: Millis,
    to: Millis,
    shift: Millis,
) -> Vec<(f64, f64)> {
    let lo = readings.partition_point(|r| r.time < from);
    let hi = readings.partition_point(|r| r.time < to);
    readings[lo..hi.max(lo)]
        .iter()
        .filter(|r| &r.station == station && &r.parameter == parameter)
        .map(|r| ((r.time + shift) as f64, r.value))
        .collect()
}

/// The span a lead's chart shows: its window padded by its length (at least 6 h) each side.
fn chart_span(lead: &Lead) -> (Millis, Millis) {
    let pad = (lead.window.end - lead.window.start).max(6 * HOUR);
    (lead.window.start - pad, lead.window.end + pad)
}

/// The first upstream station of `station` and its travel time (0 when not configured).
fn upstream<'a>(cfg: &'a Config, station: &StationId) -> Option<(&'a StationId, Millis)> {
    cfg.stations
        .get(station.as_str())
        .and_then(|s| s.upstream.first())
        .map(|(up, travel)| (up, travel.unwrap_or(0)))
}

/// What [`lead_chart`] draws from: the lead's stations and their first upstream stations, from
/// the chart's start less the longest upstream travel time to the chart's end.
pub fn chart_needs(cfg: &Config, lead: &Lead) -> (Vec<StationId>, Millis, Millis) {
    let (from, to) = chart_span(lead);
    let mut stations = Vec::new();
    let mut lag = 0;
    for p in &lead.parameters {
        stations.push(p.station.clone());
        if let Some((up, travel)) = upstream(cfg, &p.station) {
            stations.push(up.clone());
            lag = lag.max(travel);
        }
    }
    stations.sort();
    stations.dedup();
    (stations, from - lag, to)
}

/// The SVG chart of one lead over `readings` (sorted by time; at least [`chart_needs`]).
pub fn lead_chart(cfg: &Config, readings: &[Reading], lead: &Lead) -> String {
    let (from, to) = chart_span(lead);
    let panels: Vec<Panel> = lead
        .parameters
        .iter()
        .map(|p| {
            let mut lines = vec![Series {
                label: format!("{} {}", p.station, p.parameter),
                colour: "#1f5fa8",
                points: series(readings, &p.station, &p.parameter, from, to, 0),
                dots: false,
            }];
            if let Some((up, lag)) = upstream(cfg, &p.station) {
                lines.push(Series {
                    label: format!("{up} +{}h", lag / HOUR),
                    colour: "#888",
                    points: series(readings, up, &p.parameter, from - lag, to - lag, lag),
                    dots: false,
                });
            }
            lines.push(Series {
                label: "detected peak".into(),
                colour: "#d07000",
                points: vec![(p.peak_time as f64, p.peak)],
                dots: true,
            });
            let hlines = match (p.limit, p.limit_class) {
                (Some(v), Some(c)) => vec![(format!("GB 3838 class {c:?}"), v)],
                (Some(v), None) => vec![("GB 3838 limit".into(), v)],
                _ => Vec::new(),
            };
            Panel {
                title: format!("{} {} ({})", p.station, p.parameter, p.unit),
                series: lines,
                hlines,
            }
        })
        .collect();
    chart::svg(&panels, from as f64, to as f64, &|x| {
        format_rfc3339(x as Millis)
    })
}

fn html_page(cfg: &Config, r: &Replayed, diff: Option<&LeadDiff>) -> String {
    let mut s = String::from(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>riverwatch replay</title>\n<style>body{font-family:sans-serif}td,th{padding:2px 8px;text-align:left}</style></head><body>\n<h1>riverwatch replay</h1>\n",
    );
    let _ = writeln!(
        s,
        "<p>config {} · {} readings judged · {} events · {} leads ({} revisions) · <a href=\"leads.jsonl\">leads.jsonl</a> · <a href=\"events.jsonl\">events.jsonl</a> · <a href=\"summary.csv\">summary.csv</a></p>",
        chart::escape(&cfg.hash[..cfg.hash.len().min(12)]),
        r.stats.judged,
        r.events.len(),
        r.leads.len(),
        r.history.len()
    );
    if let Some(d) = diff {
        let _ = writeln!(
            s,
            "<h2>Compared with the ledger</h2><pre>{}</pre>",
            chart::escape(&d.to_string())
        );
    }
    s.push_str("<table><tr><th>lead</th><th>category</th><th>station</th><th>window</th><th>severity</th><th>summary</th></tr>\n");
    for l in &r.leads {
        let _ = writeln!(
            s,
            "<tr><td><a href=\"charts/{}\">{}</a></td><td>{}</td><td>{}</td><td>{} – {}</td><td>{}</td><td>{}</td></tr>",
            chart_name(l),
            chart::escape(&l.id),
            json_name(&l.category),
            chart::escape(l.station.as_str()),
            format_rfc3339(l.window.start),
            format_rfc3339(l.window.end),
            json_name(&l.severity),
            chart::escape(&l.summary)
        );
    }
    s.push_str("</table>\n</body></html>\n");
    s
}
