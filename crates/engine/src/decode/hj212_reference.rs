//! The byte-level HJ 212 parser against a plain reference written with `str::split`, over
//! generated segments: the header fields and where CP starts, then the factors, notes and
//! refusals of CP must come out the same. Codes are matched in the reference with
//! `eq_ignore_ascii_case`, so this also checks the word keys; long runs of delimiters put
//! them at every offset of the scan's words. Bytes that are not UTF-8 must
//! decode as their U+FFFD replacement would.

use super::super::tests::{ctx_at, network};
use super::{beijing_time, decode_segment, parse_cp, text, Factor, Header, Series};
use crate::time::Millis;
use proptest::prelude::*;
use proptest::sample::select;

/// What the header gives: ST, CN, MN and where CP starts.
type HeaderView = (Option<String>, Option<String>, Option<String>, usize);

/// A factor: code, value, flag and the time it was announced at.
type FactorView = (String, Option<String>, Option<String>, Option<Millis>);

/// The factors and notes of CP, or the refusal.
type CpView = (Result<Vec<FactorView>, String>, Vec<String>);

fn reference_header(seg: &str) -> Option<HeaderView> {
    let (mut st, mut cn, mut mn) = (None, None, None);
    let mut offset = 0;
    for field in seg.split(';') {
        if field.starts_with("CP=&&") {
            return Some((st, cn, mn, offset + 5));
        }
        if let Some((key, value)) = field.split_once('=') {
            let value = Some(value.to_string());
            match key {
                "ST" => st = st.or(value),
                "CN" => cn = cn.or(value),
                "MN" => mn = mn.or(value),
                _ => {}
            }
        }
        offset += field.len() + 1;
    }
    None
}

fn reference_cp(cp: &str, series: Series) -> CpView {
    let mut notes = Vec::new();
    let mut factors: Vec<FactorView> = Vec::new();
    let mut time = None;
    for item in cp.split([';', ',']) {
        let Some((key, value)) = item.split_once('=') else {
            if !item.is_empty() {
                notes.push(format!("`{item}` is not KEY=VALUE; ignored"));
            }
            continue;
        };
        let Some((code, field)) = key.rsplit_once('-') else {
            if key == "DataTime" {
                match beijing_time(value.as_bytes()) {
                    Ok(t) => time = Some(t),
                    Err(e) => return (Err(e.to_string()), notes),
                }
            }
            continue;
        };
        let slot = match (series, field) {
            (Series::Rtd, "Rtd") | (Series::Avg, "Avg") => Some(true),
            (_, "Flag") => Some(false),
            (_, "Rtd" | "Avg") => None,
            _ => continue,
        };
        let i = match factors.iter().rposition(|f| f.0.eq_ignore_ascii_case(code)) {
            Some(i) => i,
            None => {
                factors.push((code.to_string(), None, None, time));
                factors.len() - 1
            }
        };
        let f = &mut factors[i];
        match slot {
            Some(true) => _ = f.1.get_or_insert(value.to_string()),
            Some(false) => _ = f.2.get_or_insert(value.to_string()),
            None => {}
        }
    }
    if time.is_none() && !factors.is_empty() {
        return (Err("malformed: CP has no DataTime".into()), notes);
    }
    (Ok(factors), notes)
}

fn view(f: &Factor) -> FactorView {
    let owned = |b: Option<&[u8]>| b.map(|b| text(b).into_owned());
    (
        text(f.code).into_owned(),
        owned(f.value),
        owned(f.flag),
        f.time,
    )
}

fn parsed_header(seg: &[u8]) -> Option<HeaderView> {
    let owned = |b: Option<&[u8]>| b.map(|b| text(b).into_owned());
    Header::parse(seg).map(|h| (owned(h.st), owned(h.cn), owned(h.mn), h.cp_start))
}

const FIELDS: &[&str] = &[
    "QN=20240715083000123",
    "ST=21",
    "ST=91",
    "ST=",
    "CN=2011",
    "CN=2061",
    "CN=9014",
    "MN=DLHSIM000000000000000001",
    "MN=X",
    "PW=123456",
    "Flag=4",
    "STX=2",
    "S=T",
    "CN",
    "",
    "CP=1",
    "MN=a=b",
    "温=度",
];
const CODES: &[&str] = &[
    "w01010",
    "W01010",
    "w21003",
    "060",
    "w01001",
    "w20111",
    "W20111",
    "averyverylongcode",
    "AVeryVeryLongCode",
    "a-b",
    "",
    "温度",
    "w0101",
    "12345678",
    "123456789",
];
const ITEM_FIELDS: &[&str] = &["Rtd", "Avg", "Flag", "Min", "", "rtd", "Rtd=x", "Fl-ag"];
const VALUES: &[&str] = &[
    "23.4", "-1.5", "", "N", "C", "abc", "1=2", "-", "NaN", "inf", "1e5", "温",
];
const TIMES: &[&str] = &[
    "20240715083000",
    "20240715083000123",
    "2024071508300",
    "20241315083000",
    "",
    "x",
];

/// Byte sequences that are not UTF-8 (a stray byte, a cut sequence, lone continuations).
const NOT_UTF8: &[&[u8]] = &[b"\xff", b"\xc3", b"\xe4\xb8", b"\x80\x80"];

fn item() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (select(CODES), select(ITEM_FIELDS), select(VALUES))
            .prop_map(|(c, f, v)| format!("{c}-{f}={v}")),
        1 => select(TIMES).prop_map(|t| format!("DataTime={t}")),
        1 => "[A-Za-z0-9=\\-.温&]{0,8}",
        // Long runs with delimiters anywhere, so they fall at every offset of the scan's
        // 8-byte words, among the bytes its mask lets through and skips again (`+`, `<`, and
        // the 0xAB and 0xBB inside 高 and 总).
        1 => "[a-z0-9=\\-;,+<.高总]{0,40}",
    ]
}

/// A data segment: some header fields, then (usually) `CP=&&` items `&&`.
fn segment() -> impl Strategy<Value = String> {
    let head = proptest::collection::vec(select(FIELDS), 0..7);
    let items = proptest::collection::vec((item(), select(&[";", ","][..])), 0..24);
    (head, items, 0u8..8).prop_map(|(head, items, cp)| {
        let mut s: String = head.iter().map(|f| format!("{f};")).collect();
        if cp > 0 {
            s.push_str("CP=&&");
            for (i, (item, sep)) in items.iter().enumerate() {
                if i > 0 {
                    s.push_str(sep);
                }
                s.push_str(item);
            }
            s.push_str("&&");
        }
        s
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn byte_parser_matches_the_reference(seg in segment(), avg in any::<bool>()) {
        let bytes = seg.as_bytes();
        let head = parsed_header(bytes);
        prop_assert_eq!(&head, &reference_header(&seg));
        let Some((.., cp_start)) = head else { return Ok(()) };
        if cp_start + 2 > bytes.len() {
            return Ok(());
        }
        let series = if avg { Series::Avg } else { Series::Rtd };
        let cp_end = bytes.len() - 2;
        let mut notes = Vec::new();
        let got = parse_cp(&bytes[..cp_end], cp_start, series, &mut notes)
            .map(|fs| fs.iter().map(view).collect::<Vec<_>>())
            .map_err(|e| e.to_string());
        prop_assert_eq!((got, notes), reference_cp(&seg[cp_start..cp_end], series));
    }

    #[test]
    fn bytes_not_utf8_decode_as_their_replacement(
        seg in segment(),
        junk in proptest::collection::vec(
            (any::<proptest::sample::Index>(), select(NOT_UTF8)),
            1..4,
        ),
        accept in any::<bool>(),
    ) {
        let mut raw = seg.into_bytes();
        for (at, bytes) in junk {
            let i = at.index(raw.len() + 1);
            raw.splice(i..i, bytes.iter().copied());
        }
        let stations = network();
        let mut ctx = ctx_at(&stations, "2024-07-15T18:05:00Z");
        ctx.accept_unknown_stations = accept;
        let lossy = String::from_utf8_lossy(&raw).into_owned();
        // Only segments that end as framed ones do (the framing checks the final `&&`).
        if raw.ends_with(b"&&") {
            prop_assert_eq!(
                decode_segment(&raw, false, None, &ctx),
                decode_segment(lossy.as_bytes(), lossy.is_ascii(), None, &ctx)
            );
        }
    }
}
