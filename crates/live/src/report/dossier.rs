//! The dossier of one lead: a single self-contained HTML file (inline CSS with A4 print rules,
//! inline SVG charts, no scripts, no external resources) laid out like a paper case file —
//! summary, place and time, measurements against GB 3838-2002, how it was found, charts,
//! evidence table, seal, analyst decisions.
//!
//! Rendering is a pure function of the lead, the config and the evidence readings, so the same
//! inputs give the same bytes (the committed example under `docs/` is checked against it).

use super::chart::{self, Panel, Rule, Series};
use super::esc;
use super::evidence::{head_tail, Evidence};
use super::figures::{self, item_name, limit_header, multiple_text, value, Figure};
use super::words::{self, Lang, Words};
use crate::ledger::SealedRevision;
use crate::seal::evidence::EvidenceSpec;
use riverwatch_engine::config::{Config, Limit};
use riverwatch_engine::leads::{Lead, ParamSummary};
use riverwatch_engine::time::Rfc3339;
use riverwatch_engine::ParamId;
use std::fmt::Write as _;

/// Evidence rows shown at each end of a long evidence table.
const TABLE_ENDS: usize = 10;

/// What a dossier is made of.
pub struct DossierInput<'a> {
    /// The lead, with its notes (analyst decisions).
    pub lead: &'a Lead,
    /// Stations and limits.
    pub config: &'a Config,
    /// The evidence readings, or why they could not be read.
    pub evidence: &'a Result<Evidence, String>,
    /// Language of every label.
    pub lang: Lang,
    /// The ledger's seal of the lead's latest revision, when it has one.
    pub seal: Option<&'a SealedRevision>,
    /// The sealed evidence re-read from the store now: what differs (empty: nothing), or why
    /// it could not be re-read; `None` when not re-read (no store, or nothing sealed).
    pub recheck: Option<Result<Vec<String>, String>>,
}

/// The dossier as one HTML document.
pub fn render(input: &DossierInput) -> String {
    let DossierInput {
        lead, config, lang, ..
    } = *input;
    let w = lang.words();
    let figs = figures::figures(lead, config, lang);
    let mut h = String::with_capacity(64 * 1024);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n<title>{} {}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        lang.tag(),
        esc(w.title),
        esc(&lead.id)
    );
    let _ = write!(
        h,
        "<h1>{}</h1>\n<p class=\"sub\">{} <b>{}</b> · {} {} · {}</p>\n",
        esc(w.title),
        esc(w.lead_id),
        esc(&lead.id),
        esc(w.revision),
        lead.revision,
        esc(w.time_zone)
    );
    summary(&mut h, input, &figs);
    place_time(&mut h, input);
    measurements(&mut h, lang, &figs);
    method(&mut h, lead, lang);
    charts(&mut h, input, &figs);
    evidence_table(&mut h, input);
    seal(&mut h, input);
    decisions(&mut h, lead, lang);
    let _ = write!(
        h,
        "<p class=\"foot\">{}</p>\n</body>\n</html>\n",
        esc(w.footer)
    );
    h
}

/// `<tr><th>k</th><td>v</td></tr>` rows of a key–value table; values are HTML already.
fn kv(h: &mut String, rows: &[(&str, String)]) {
    h.push_str("<table class=\"kv\">\n");
    for (k, v) in rows {
        let _ = writeln!(h, "<tr><th>{}</th><td>{v}</td></tr>", esc(k));
    }
    h.push_str("</table>\n");
}

/// Between the items of a list.
pub(super) fn list_sep(lang: Lang) -> &'static str {
    match lang {
        Lang::Zh => "，",
        Lang::En => ", ",
    }
}

fn section(h: &mut String, title: &str) {
    let _ = writeln!(h, "<h2>{}</h2>", esc(title));
}

/// `DL08（辽源…）`: the id and, when configured, the name.
pub(super) fn station_label(cfg: &Config, id: &str, lang: Lang) -> String {
    match cfg.stations.get(id).map(|s| s.name.as_str()) {
        Some(name) if !name.is_empty() && lang == Lang::Zh => format!("{id}（{name}）"),
        Some(name) if !name.is_empty() => format!("{id} ({name})"),
        _ => id.to_string(),
    }
}

fn summary(h: &mut String, input: &DossierInput, figs: &[Figure]) {
    let (lead, lang) = (input.lead, input.lang);
    let w = lang.words();
    section(h, w.sec_summary);
    let category = words::category(lang, lead.category);
    kv(
        h,
        &[
            (w.lead_id, esc(&lead.id)),
            (
                w.category,
                format!("<span class=\"cat\">{}</span>", esc(category)),
            ),
            (w.severity, esc(words::severity(lang, lead.severity))),
            (w.confidence, words::percent(lead.confidence)),
            (w.status, esc(words::status(lang, lead.status))),
        ],
    );
    let _ = writeln!(h, "<p class=\"lede\">{}</p>", esc(&narrative(input, figs)));
    if !lead.summary.is_empty() {
        let _ = writeln!(
            h,
            "<p class=\"note\">{}: {}</p>",
            esc(w.engine_summary),
            esc(&lead.summary)
        );
    }
}

/// One sentence about the lead: when, where, what, and the worst few items.
fn narrative(input: &DossierInput, figs: &[Figure]) -> String {
    let (lead, lang) = (input.lead, input.lang);
    let zh = lang == Lang::Zh;
    let mut ranked: Vec<&Figure> = figs.iter().collect();
    ranked.sort_by(|a, b| {
        (b.breach, b.summary.ratio.unwrap_or(0.0))
            .partial_cmp(&(a.breach, a.summary.ratio.unwrap_or(0.0)))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let items: Vec<String> = ranked
        .iter()
        .take(4)
        .map(|f| item_sentence(f, lang))
        .collect();
    let place = station_label(input.config, lead.station.as_str(), lang);
    let (from, to) = (words::time(lead.window.start), words::time(lead.window.end));
    let category = words::category(lang, lead.category);
    if zh {
        let mut s = format!("{from} 至 {to}，{place} 出现{category}线索");
        if !items.is_empty() {
            let _ = write!(s, "：{}", items.join("；"));
        }
        s.push('。');
        s
    } else {
        let mut s = format!("From {from} to {to}, a {category} lead at {place}");
        if !items.is_empty() {
            let _ = write!(s, ": {}", items.join("; "));
        }
        s.push('.');
        s
    }
}

fn item_sentence(f: &Figure, lang: Lang) -> String {
    let p = f.summary;
    let zh = lang == Lang::Zh;
    let peak = value(p.peak, &p.unit);
    let verb = match (p.direction < 0, zh) {
        (true, true) => "降至",
        (false, true) => "升至",
        (true, false) => "fell to",
        (false, false) => "rose to",
    };
    let mut s = if zh {
        format!("{}{verb} {peak}", f.item)
    } else {
        format!("{} {verb} {peak}", f.item)
    };
    if let Some(b) = p.baseline {
        let _ = if zh {
            write!(s, "（基线 {}）", words::number(b))
        } else {
            write!(s, " (baseline {})", words::number(b))
        };
    }
    if let (true, Some(limit), Some(class)) = (f.breach, f.limit, f.class) {
        let limit = figures::limit_text(limit, &p.unit);
        let class = words::class(lang, class);
        let _ = match (zh, f.multiple) {
            (true, Some(m)) => write!(s, "，不符合{class}限值 {limit}，超标 {m:.2} 倍"),
            (true, None) => write!(s, "，不符合{class}限值 {limit}"),
            (false, Some(m)) => write!(
                s,
                ", beyond the {class} limit {limit}, exceedance multiple {m:.2}"
            ),
            (false, None) => write!(s, ", outside the {class} limit {limit}"),
        };
    }
    s
}

/// The station and, when localised, the segment (`DL08（…）；河段：DL07/TR03 → DL08`).
pub(super) fn place(cfg: &Config, lead: &Lead, lang: Lang) -> String {
    let mut place = station_label(cfg, lead.station.as_str(), lang);
    if let Some(seg) = &lead.segment {
        let ups: Vec<&str> = seg.upstream.iter().map(|s| s.as_str()).collect();
        let _ = match (ups.is_empty(), lang) {
            (true, Lang::Zh) => write!(place, "；河段：{} 以上", seg.downstream),
            (true, Lang::En) => write!(place, "; segment: above {}", seg.downstream),
            (false, Lang::Zh) => write!(place, "；河段：{} → {}", ups.join("/"), seg.downstream),
            (false, Lang::En) => write!(place, "; segment: {} → {}", ups.join("/"), seg.downstream),
        };
    }
    place
}

fn place_time(h: &mut String, input: &DossierInput) {
    let (lead, cfg, lang) = (input.lead, input.config, input.lang);
    let w = lang.words();
    section(h, w.sec_place_time);
    let station = cfg.stations.get(lead.station.as_str());
    let river = lead
        .river
        .clone()
        .or_else(|| station.map(|s| s.river.clone()))
        .unwrap_or_else(|| "—".into());
    let place = place(cfg, lead, lang);
    let mut km_of = vec![lead.station.clone()];
    if let Some(seg) = &lead.segment {
        km_of.extend(seg.upstream.iter().cloned());
    }
    let km: Vec<String> = km_of
        .iter()
        .filter_map(|id| cfg.stations.get(id.as_str()))
        .map(|s| format!("{} {} km", s.id, words::number(s.river_km)))
        .collect();
    let stations: Vec<String> = lead
        .stations
        .iter()
        .map(|s| station_label(cfg, s.as_str(), lang))
        .collect();
    let to = if lang == Lang::Zh { " 至 " } else { " to " };
    kv(
        h,
        &[
            (w.river, esc(&river)),
            (w.station_segment, esc(&place)),
            (
                w.river_km,
                esc(&if km.is_empty() {
                    "—".into()
                } else {
                    km.join(list_sep(lang))
                }),
            ),
            (w.stations, esc(&stations.join(list_sep(lang)))),
            (
                w.window,
                esc(&format!(
                    "{}{to}{}",
                    words::time(lead.window.start),
                    words::time(lead.window.end)
                )),
            ),
            (
                w.duration,
                esc(&words::duration(lang, lead.window.end - lead.window.start)),
            ),
            (w.ongoing, esc(w.yes_no[usize::from(!lead.open)])),
        ],
    );
}

fn measurements(h: &mut String, lang: Lang, figs: &[Figure]) {
    let w = lang.words();
    section(h, w.sec_figures);
    let _ = writeln!(
        h,
        "<table>\n<tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        esc(w.col_station),
        esc(w.col_item),
        esc(w.col_peak),
        esc(w.col_peak_time),
        esc(w.col_baseline),
        esc(&limit_header(figs, lang)),
        esc(w.col_multiple),
        esc(w.col_remark)
    );
    for f in figs {
        let p = f.summary;
        let num = if f.breach { "num breach" } else { "num" };
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"{num}\">{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"{num}\">{}</td><td>{}</td></tr>",
            esc(p.station.as_str()),
            esc(&f.item),
            esc(&value(p.peak, &p.unit)),
            esc(&words::time(p.peak_time)),
            esc(&p.baseline.map_or("—".into(), words::number)),
            esc(&f.limit.map_or("—".into(), |l| figures::limit_text(l, &p.unit))),
            esc(&multiple_text(f.multiple)),
            esc(&f.remark)
        );
    }
    if figs.is_empty() {
        let _ = writeln!(h, "<tr><td colspan=\"8\">—</td></tr>");
    }
    h.push_str("</table>\n");
}

fn method(h: &mut String, lead: &Lead, lang: Lang) {
    let w = lang.words();
    section(h, w.sec_method);
    let _ = writeln!(
        h,
        "<table>\n<tr><th>{}</th><th>{}</th><th>{}</th></tr>",
        esc(w.col_method),
        esc(w.col_meaning),
        esc(w.col_score)
    );
    for d in &lead.detectors {
        let (name, meaning) = words::detector(lang, d.detector);
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{:.2}</td></tr>",
            esc(name),
            esc(meaning),
            d.score
        );
    }
    h.push_str("</table>\n");
    let _ = writeln!(
        h,
        "<p>{}：{}</p>",
        esc(w.confidence),
        words::percent(lead.confidence)
    );
}

/// The parameters of the lead in first-seen order.
fn parameters(lead: &Lead) -> Vec<&ParamId> {
    let mut out: Vec<&ParamId> = Vec::new();
    for p in &lead.parameters {
        if !out.contains(&&p.parameter) {
            out.push(&p.parameter);
        }
    }
    out
}

fn charts(h: &mut String, input: &DossierInput, figs: &[Figure]) {
    let (lead, lang) = (input.lead, input.lang);
    let w = lang.words();
    section(h, w.sec_charts);
    let Ok(ev) = input.evidence else {
        let _ = writeln!(h, "<p class=\"note\">{}</p>", esc(w.evidence_unavailable));
        return;
    };
    for param in parameters(lead) {
        let panel = panel(lead, ev, param, figs, lang);
        let _ = writeln!(
            h,
            "<figure>{}</figure>",
            chart::svg(&panel, lead.evidence.from, lead.evidence.to)
        );
    }
    if ev.truncated {
        let _ = writeln!(
            h,
            "<p class=\"note\">{} {}/{}</p>",
            esc(w.seal_evidence_count),
            ev.readings.len(),
            ev.total
        );
    }
}

fn panel(lead: &Lead, ev: &Evidence, param: &ParamId, figs: &[Figure], lang: Lang) -> Panel {
    let w = lang.words();
    let summaries: Vec<&ParamSummary> = lead
        .parameters
        .iter()
        .filter(|p| &p.parameter == param)
        .collect();
    let unit = summaries.first().map_or("", |p| p.unit.as_str());
    let title = match unit {
        "" | "pH" => item_name(lang, param.as_str()),
        u => format!("{} ({u})", item_name(lang, param.as_str())),
    };
    let mut stations: Vec<&str> = summaries.iter().map(|p| p.station.as_str()).collect();
    for s in &lead.evidence.stations {
        if !stations.contains(&s.as_str()) {
            stations.push(s.as_str());
        }
    }
    let series = stations
        .iter()
        .map(|s| Series {
            label: s.to_string(),
            points: ev
                .readings
                .iter()
                .filter(|r| r.station.as_str() == *s && &r.parameter == param)
                .map(|r| (r.time, r.value))
                .collect(),
            peak: summaries
                .iter()
                .find(|p| p.station.as_str() == *s)
                .map(|p| (p.peak_time, p.peak)),
        })
        .filter(|s| !s.points.is_empty() || s.peak.is_some())
        .collect();
    let mut rules: Vec<Rule> = Vec::new();
    for f in figs.iter().filter(|f| &f.summary.parameter == param) {
        let (Some(limit), Some(class)) = (f.limit, f.class) else {
            continue;
        };
        let class = words::class(lang, class);
        let named = |v: f64| Rule {
            value: v,
            label: match lang {
                Lang::Zh => format!("{class}限值 {}", words::number(v)),
                Lang::En => format!("{class} limit {}", words::number(v)),
            },
        };
        let new = match limit {
            Limit::Max(v) | Limit::Min(v) => vec![named(v)],
            Limit::Range(lo, hi) => vec![named(lo), named(hi)],
        };
        for r in new {
            if !rules.iter().any(|x| x.value == r.value) {
                rules.push(r);
            }
        }
    }
    Panel {
        title,
        series,
        rules,
        window: (lead.window.start, lead.window.end, w.chart_window.into()),
        peak_label: w.chart_peak.into(),
    }
}

fn evidence_table(h: &mut String, input: &DossierInput) {
    let lang = input.lang;
    let w = lang.words();
    section(h, w.sec_evidence);
    let ev = match input.evidence {
        Ok(ev) => ev,
        Err(reason) => {
            let _ = writeln!(
                h,
                "<p class=\"note\">{}：{}</p>",
                esc(w.evidence_unavailable),
                esc(reason)
            );
            return;
        }
    };
    if ev.total == 0 {
        let _ = writeln!(h, "<p class=\"note\">{}</p>", esc(w.no_readings));
        return;
    }
    let _ = writeln!(
        h,
        "<p>{}：{}</p>\n<table class=\"ev\">\n<tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        esc(w.seal_evidence_count),
        ev.total,
        esc(w.col_time),
        esc(w.col_station),
        esc(w.col_item),
        esc(w.col_value),
        esc(w.col_flag)
    );
    // The last rows are the last of all readings only when all were kept.
    let (head, skipped, tail) = head_tail(&ev.readings, TABLE_ENDS);
    let skipped = skipped as u64 + (ev.total - ev.readings.len() as u64);
    let row = |h: &mut String, r: &riverwatch_engine::Reading| {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            esc(&words::time(r.time)),
            esc(r.station.as_str()),
            esc(&item_name(lang, r.parameter.as_str())),
            r.value,
            r.flag.letter()
        );
    };
    head.iter().for_each(|r| row(h, r));
    if skipped > 0 {
        let gap = match lang {
            Lang::Zh => format!("…… 中间 {skipped} 条从略 ……"),
            Lang::En => format!("… {skipped} rows omitted …"),
        };
        let _ = writeln!(h, "<tr class=\"gap\"><td colspan=\"5\">{gap}</td></tr>");
    }
    if !ev.truncated {
        tail.iter().for_each(|r| row(h, r));
    }
    h.push_str("</table>\n");
}

fn seal(h: &mut String, input: &DossierInput) {
    let (lead, cfg, lang) = (input.lead, input.config, input.lang);
    let w: &Words = lang.words();
    section(h, w.sec_seal);
    let q = &lead.evidence;
    let stations: Vec<&str> = q.stations.iter().map(|s| s.as_str()).collect();
    let params: Vec<&str> = q.parameters.iter().map(|s| s.as_str()).collect();
    let query = format!(
        "stations={} parameters={} from={} to={}",
        stations.join(","),
        params.join(","),
        Rfc3339(q.from),
        Rfc3339(q.to)
    );
    let sealed = input.seal.and_then(|s| s.seal.evidence.as_ref());
    let (digest, count, query) = match (sealed, input.evidence) {
        (Some(e), _) => (
            format!(
                "<span class=\"mono\">{}</span>{}",
                e.sha256,
                recheck(input.recheck.as_ref(), w)
            ),
            e.readings.to_string(),
            sealed_query(&e.spec),
        ),
        (None, Ok(ev)) => (
            format!("<span class=\"mono\">{}</span>", ev.digest),
            ev.total.to_string(),
            query,
        ),
        (None, Err(reason)) => (
            format!("{}：{}", esc(w.evidence_unavailable), esc(reason)),
            "—".into(),
            query,
        ),
    };
    let mut config = format!("<span class=\"mono\">{}</span>", esc(&lead.config_hash));
    if lead.config_hash != cfg.hash {
        let _ = write!(
            config,
            "<br><span class=\"note\">{}</span>",
            esc(w.config_differs)
        );
    }
    let models = if lead.model_versions.is_empty() {
        esc(w.seal_no_models)
    } else {
        format!(
            "<span class=\"mono\">{}</span>",
            esc(&lead.model_versions.join(", "))
        )
    };
    kv(
        h,
        &[
            (w.seal_evidence_digest, digest),
            (w.seal_evidence_count, count),
            (
                w.seal_evidence_query,
                format!("<span class=\"mono\">{}</span>", esc(&query)),
            ),
            (w.seal_config_hash, config),
            (w.seal_models, models),
            (w.seal_signature, seal_status(input.seal, w)),
            (w.seal_verify, esc(w.seal_verify_text)),
        ],
    );
}

/// `<br>` and what re-reading the sealed evidence now showed, when it was re-read.
fn recheck(r: Option<&Result<Vec<String>, String>>, w: &Words) -> String {
    match r {
        None => String::new(),
        Some(Ok(diff)) if diff.is_empty() => format!("<br>{}", esc(w.recheck_same)),
        Some(Ok(diff)) => format!(
            "<br><b>{}</b>：{}",
            esc(w.recheck_differs),
            esc(&diff.join("; "))
        ),
        Some(Err(e)) => format!("<br><b>{}</b>：{}", esc(w.recheck_failed), esc(e)),
    }
}

/// The sealed evidence definition in the words of the evidence query: the stations each with
/// the newest reading time included.
fn sealed_query(spec: &EvidenceSpec) -> String {
    let stations: Vec<String> = spec
        .stations
        .iter()
        .map(|c| format!("{}≤{}", c.station, Rfc3339(c.until)))
        .collect();
    format!(
        "stations={} parameters={} from={}",
        stations.join(","),
        spec.parameters.join(","),
        Rfc3339(spec.from)
    )
}

/// What the ledger sealed for the lead: its chain entry and the signature (or why there is
/// none); the sealed evidence digest itself is the seal section's evidence digest.
fn seal_status(seal: Option<&SealedRevision>, w: &Words) -> String {
    let Some(s) = seal else {
        return format!(
            "<b>{}</b><br><span class=\"note\">{}</span>",
            esc(w.not_sealed),
            esc(w.not_sealed_note)
        );
    };
    let unsealed_evidence = match (&s.seal.evidence, &s.seal.evidence_error) {
        (None, reason) => format!(
            "<br>{}: {}",
            esc(w.sealed_evidence),
            esc(reason.as_deref().unwrap_or("—"))
        ),
        (Some(_), _) => String::new(),
    };
    let signature = match &s.entry.key {
        Some(key) if s.entry.signature.is_some() => format!(
            "{} <span class=\"mono\">{}</span>",
            esc(w.signed_by),
            esc(key)
        ),
        _ => esc(w.unsigned).to_string(),
    };
    format!(
        "<b>{}</b> r{} · #{} <span class=\"mono\">{}</span>{}<br>{}",
        esc(w.sealed),
        s.seal.revision,
        s.entry.seq,
        esc(&s.entry.digest),
        unsealed_evidence,
        signature
    )
}

fn decisions(h: &mut String, lead: &Lead, lang: Lang) {
    let w = lang.words();
    section(h, w.sec_decisions);
    if lead.notes.is_empty() {
        let _ = writeln!(h, "<p>{}</p>", esc(w.no_decisions));
        return;
    }
    let _ = writeln!(
        h,
        "<table>\n<tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        esc(w.col_time),
        esc(w.col_analyst),
        esc(w.col_status_change),
        esc(w.col_note)
    );
    for n in &lead.notes {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&words::time(n.time)),
            esc(&n.analyst),
            esc(n.status.map_or("—", |s| words::status(lang, s))),
            esc(&n.text)
        );
    }
    h.push_str("</table>\n");
}

/// Screen and print styles: A4 pages, tables that do not split rows, charts that scale.
const CSS: &str = r#"
@page { size: A4; margin: 16mm 14mm 18mm 14mm; }
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", SimSun, sans-serif; font-size: 10.5pt; line-height: 1.45; color: #111; max-width: 182mm; margin: 12mm auto; }
h1 { font-size: 18pt; text-align: center; margin: 0 0 3pt; letter-spacing: 2pt; }
h2 { font-size: 12.5pt; border-bottom: 1.2pt solid #333; padding-bottom: 2pt; margin: 14pt 0 5pt; break-after: avoid; page-break-after: avoid; }
.sub { text-align: center; color: #444; margin: 0 0 8pt; }
table { border-collapse: collapse; width: 100%; margin: 3pt 0 6pt; }
th, td { border: 0.5pt solid #999; padding: 2pt 5pt; text-align: left; vertical-align: top; }
th { background: #EFEFEF; font-weight: 600; }
table.kv th { width: 24%; }
tr, figure { break-inside: avoid; page-break-inside: avoid; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.breach { color: #B00020; font-weight: 600; }
.cat { font-weight: 700; }
.lede { margin: 6pt 0; }
.note { color: #555; font-size: 9pt; }
.mono { font-family: "DejaVu Sans Mono", Consolas, monospace; font-size: 8.5pt; word-break: break-all; }
tr.gap td { text-align: center; color: #666; }
table.ev td { padding: 1pt 5pt; font-size: 9.5pt; }
figure { margin: 4pt 0 8pt; }
svg.chart { width: 100%; height: auto; }
svg.chart text { font-size: 10px; font-family: inherit; fill: #222; }
svg.chart .ct { font-size: 12px; font-weight: 600; }
svg.chart .yl { text-anchor: end; }
svg.chart .xl { text-anchor: middle; }
svg.chart .rl { text-anchor: end; fill: #D55E00; }
svg.chart .pl { fill: #D55E00; font-weight: 600; }
.foot { margin-top: 14pt; border-top: 0.5pt solid #999; padding-top: 4pt; color: #555; font-size: 8.5pt; }
@media print { body { max-width: none; margin: 0; } }
"#;
