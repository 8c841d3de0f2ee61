//! The case-intake sheet: one row per lead with the columns a supervision model's intake form
//! asks for (线索编号 … 证据摘要值), written as CSV (UTF-8 with a byte-order mark, so spreadsheet
//! programs read the Chinese text as UTF-8) or as an xlsx workbook.
//!
//! Rows are built once ([`row`]) and written by either writer, so both formats always say the
//! same thing; only confidence differs in form (a percentage cell in xlsx, `95%` in CSV).
//!
//! The evidence digest is the one the ledger sealed with the lead's latest revision whenever
//! there is one ([`SheetDigest::Sealed`]): the sheet then names exactly what was sealed, even if
//! the store has changed since. Only a revision recorded without sealed evidence falls back to
//! digesting the store's readings now, and its cell says so.

use super::dossier::place;
use super::figures::{self, Figure};
use super::words::{self, Lang};
use riverwatch_engine::config::Config;
use riverwatch_engine::leads::Lead;
use rust_xlsxwriter::{Format, FormatAlign, Workbook, XlsxError};

/// Columns of the sheet.
pub const COLUMNS: usize = 12;

/// One cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text.
    Text(String),
    /// A fraction shown as a percentage.
    Percent(f64),
}

impl Cell {
    fn csv(&self) -> String {
        match self {
            Self::Text(s) => csv_field(s),
            Self::Percent(v) => words::percent(*v),
        }
    }
}

/// Where a row's evidence digest (证据摘要值) comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SheetDigest<'a> {
    /// The digest the ledger sealed with the lead's latest revision (SHA-256 of the canonical
    /// evidence CSV, what `sha256sum readings.csv` prints for the lead's evidence bundle).
    Sealed(&'a str),
    /// The revision's evidence was not sealed: the digest of the evidence query's readings as
    /// the store holds them when the sheet is made (the dossier's digest); the cell says so.
    Computed(&'a str),
    /// Neither: not sealed, and the store was not read.
    Missing,
}

/// The intake row of `lead` with its evidence digest.
pub fn row(lead: &Lead, cfg: &Config, digest: SheetDigest, lang: Lang) -> [Cell; COLUMNS] {
    let zh = lang == Lang::Zh;
    let figs = figures::figures(lead, cfg, lang);
    let several = figs.iter().any(|f| f.summary.station != lead.station);
    let name = |f: &Figure| {
        if several {
            format!("{}({})", f.item, f.summary.station)
        } else {
            f.item.clone()
        }
    };
    let breached: Vec<String> = figs.iter().filter(|f| f.breach).map(name).collect();
    let mut multiples: Vec<(&Figure, f64)> = figs
        .iter()
        .filter_map(|f| f.multiple.map(|m| (f, m)))
        .collect();
    multiples.sort_by(|a, b| b.1.total_cmp(&a.1));
    let multiples: Vec<String> = multiples
        .iter()
        .map(|(f, m)| format!("{} {m:.2}", name(f)))
        .collect();
    let none = if zh { "无" } else { "none" };
    let text = |s: &str| Cell::Text(s.to_string());
    let item_sep = if zh { "、" } else { ", " };
    [
        text(&lead.id),
        Cell::Text(words::time(lead.window.start)),
        Cell::Text(
            lead.river
                .clone()
                .or_else(|| {
                    cfg.stations
                        .get(lead.station.as_str())
                        .map(|s| s.river.clone())
                })
                .unwrap_or_default(),
        ),
        Cell::Text(place(cfg, lead, lang)),
        text(words::category(lang, lead.category)),
        Cell::Text(if breached.is_empty() {
            none.into()
        } else {
            breached.join(item_sep)
        }),
        Cell::Text(if multiples.is_empty() {
            "—".into()
        } else {
            multiples.join(if zh { "；" } else { "; " })
        }),
        Cell::Text(words::duration(lang, lead.window.end - lead.window.start)),
        text(words::severity(lang, lead.severity)),
        Cell::Percent(lead.confidence),
        text(words::status(lang, lead.status)),
        Cell::Text(match (digest, zh) {
            (SheetDigest::Sealed(d), _) => d.to_string(),
            (SheetDigest::Computed(d), true) => format!("{d}（未封存：导出时按读数库计算）"),
            (SheetDigest::Computed(d), false) => {
                format!("{d} (not sealed: computed from the store at export)")
            }
            (SheetDigest::Missing, true) => "未计算（未封存，未读取证据读数）".into(),
            (SheetDigest::Missing, false) => "not computed (not sealed, evidence not read)".into(),
        }),
    ]
}

/// RFC 4180 quoting: fields holding a comma, quote or line break are quoted, quotes doubled.
pub fn csv_field(f: &str) -> String {
    if f.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", f.replace('"', "\"\""))
    } else {
        f.to_string()
    }
}

/// The sheet as CSV: a UTF-8 byte-order mark, the header, one CRLF-terminated line per row.
pub fn csv(rows: &[[Cell; COLUMNS]], lang: Lang) -> Vec<u8> {
    let mut out = String::from("\u{feff}");
    let header: Vec<String> = lang
        .words()
        .intake_columns
        .iter()
        .map(|h| csv_field(h))
        .collect();
    out.push_str(&header.join(","));
    out.push_str("\r\n");
    for r in rows {
        let cells: Vec<String> = r.iter().map(Cell::csv).collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out.into_bytes()
}

/// Column widths in characters (a CJK character counts about two).
const WIDTHS: [f64; COLUMNS] = [
    24.0, 17.0, 10.0, 40.0, 11.0, 24.0, 26.0, 14.0, 9.0, 8.0, 9.0, 66.0,
];

/// The sheet as an xlsx workbook: bold frozen header, autofilter, wrapped long text.
pub fn xlsx(rows: &[[Cell; COLUMNS]], lang: Lang) -> Result<Vec<u8>, XlsxError> {
    let w = lang.words();
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name(w.sheet_name)?;
    let head = Format::new()
        .set_bold()
        .set_background_color("#EFEFEF")
        .set_align(FormatAlign::Center);
    let wrap = Format::new().set_text_wrap().set_align(FormatAlign::Top);
    let pct = Format::new()
        .set_num_format("0%")
        .set_align(FormatAlign::Top);
    for (c, h) in w.intake_columns.iter().enumerate() {
        let c = c as u16;
        sheet.write_string_with_format(0, c, *h, &head)?;
        sheet.set_column_width(c, WIDTHS[usize::from(c)])?;
    }
    for (i, r) in rows.iter().enumerate() {
        let row = i as u32 + 1;
        for (c, cell) in r.iter().enumerate() {
            let c = c as u16;
            match cell {
                Cell::Text(s) => sheet.write_string_with_format(row, c, s, &wrap)?,
                Cell::Percent(v) => sheet.write_number_with_format(row, c, *v, &pct)?,
            };
        }
    }
    sheet.set_freeze_panes(1, 0)?;
    sheet.autofilter(0, 0, rows.len() as u32, (COLUMNS - 1) as u16)?;
    book.save_to_buffer()
}
