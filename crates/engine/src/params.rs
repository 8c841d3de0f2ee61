//! The parameters riverwatch knows: project id, names, unit, physical range, HJ 212 codes and
//! whether the value follows a daily (diel) cycle. Unknown parameters are still analysed, with
//! the generic detectors only; see [`lookup`].

/// Facts about one known parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParamInfo {
    /// Project id, used in topics, config and CSV (`nh3n`).
    pub id: &'static str,
    /// Chinese name as in HJ 212 / GB 3838.
    pub name_zh: &'static str,
    /// English name.
    pub name_en: &'static str,
    /// Project unit; decoders convert into it.
    pub unit: &'static str,
    /// Physically possible range in the project unit; outside it a value is a fault.
    pub range: (f64, f64),
    /// HJ 212-2017 factor code.
    pub hj212: &'static str,
    /// HJ/T 212-2005 factor code, if any.
    pub hj212_2005: Option<&'static str>,
    /// Follows a daily cycle in nature (photosynthesis, sun): detectors remove it first.
    pub diel: bool,
    /// Smallest meaningful step (reporting resolution); flat runs at or below it are not "stuck".
    pub resolution: f64,
}

#[allow(clippy::too_many_arguments)] // a table row, read positionally in KNOWN
const fn p(
    id: &'static str,
    name_zh: &'static str,
    name_en: &'static str,
    unit: &'static str,
    range: (f64, f64),
    hj212: &'static str,
    hj212_2005: Option<&'static str>,
    diel: bool,
    resolution: f64,
) -> ParamInfo {
    ParamInfo {
        id,
        name_zh,
        name_en,
        unit,
        range,
        hj212,
        hj212_2005,
        diel,
        resolution,
    }
}

/// Every known parameter (HJ 212-2017 water factor codes; GB 3838-2002 items).
pub const KNOWN: &[ParamInfo] = &[
    p(
        "ph",
        "pH值",
        "pH",
        "pH",
        (0.0, 14.0),
        "w01001",
        Some("001"),
        true,
        0.01,
    ),
    p(
        "temp",
        "水温",
        "water temperature",
        "°C",
        (-1.0, 45.0),
        "w01010",
        None,
        true,
        0.1,
    ),
    p(
        "do",
        "溶解氧",
        "dissolved oxygen",
        "mg/L",
        (0.0, 25.0),
        "w01009",
        None,
        true,
        0.01,
    ),
    p(
        "cond",
        "电导率",
        "conductivity",
        "μS/cm",
        (0.0, 100_000.0),
        "w01014",
        None,
        false,
        0.1,
    ),
    p(
        "turb",
        "浊度",
        "turbidity",
        "NTU",
        (0.0, 10_000.0),
        "w01003",
        None,
        false,
        0.1,
    ),
    p(
        "codmn",
        "高锰酸盐指数",
        "permanganate index",
        "mg/L",
        (0.0, 500.0),
        "w01019",
        None,
        false,
        0.1,
    ),
    p(
        "cod",
        "化学需氧量",
        "chemical oxygen demand",
        "mg/L",
        (0.0, 10_000.0),
        "w01018",
        Some("011"),
        false,
        0.1,
    ),
    p(
        "bod5",
        "五日生化需氧量",
        "BOD5",
        "mg/L",
        (0.0, 5_000.0),
        "w01017",
        Some("010"),
        false,
        0.1,
    ),
    p(
        "toc",
        "总有机碳",
        "total organic carbon",
        "mg/L",
        (0.0, 5_000.0),
        "w01020",
        Some("015"),
        false,
        0.1,
    ),
    p(
        "nh3n",
        "氨氮",
        "ammonia nitrogen",
        "mg/L",
        (0.0, 500.0),
        "w21003",
        Some("060"),
        false,
        0.01,
    ),
    p(
        "tp",
        "总磷",
        "total phosphorus",
        "mg/L",
        (0.0, 100.0),
        "w21011",
        Some("101"),
        false,
        0.01,
    ),
    p(
        "tn",
        "总氮",
        "total nitrogen",
        "mg/L",
        (0.0, 500.0),
        "w21001",
        Some("065"),
        false,
        0.01,
    ),
    p(
        "chla",
        "叶绿素a",
        "chlorophyll a",
        "mg/L",
        (0.0, 10.0),
        "w01016",
        None,
        true,
        0.001,
    ),
    p(
        "ss",
        "悬浮物",
        "suspended solids",
        "mg/L",
        (0.0, 50_000.0),
        "w01012",
        Some("003"),
        false,
        1.0,
    ),
    p(
        "f",
        "氟化物",
        "fluoride",
        "mg/L",
        (0.0, 100.0),
        "w21017",
        Some("072"),
        false,
        0.01,
    ),
    p(
        "cn",
        "氰化物",
        "cyanide",
        "mg/L",
        (0.0, 100.0),
        "w21016",
        Some("070"),
        false,
        0.001,
    ),
    p(
        "s2",
        "硫化物",
        "sulfide",
        "mg/L",
        (0.0, 100.0),
        "w21019",
        Some("071"),
        false,
        0.001,
    ),
    p(
        "oil",
        "石油类",
        "petroleum",
        "mg/L",
        (0.0, 1_000.0),
        "w22001",
        Some("080"),
        false,
        0.01,
    ),
    p(
        "phenol",
        "挥发酚",
        "volatile phenol",
        "mg/L",
        (0.0, 100.0),
        "w23002",
        Some("110"),
        false,
        0.001,
    ),
    p(
        "las",
        "阴离子表面活性剂",
        "anionic surfactant",
        "mg/L",
        (0.0, 100.0),
        "w19002",
        Some("520"),
        false,
        0.01,
    ),
    p(
        "fcoli",
        "粪大肠菌群",
        "faecal coliform",
        "个/L",
        (0.0, 1e9),
        "w02003",
        Some("550"),
        false,
        1.0,
    ),
    p(
        "hg",
        "汞",
        "mercury",
        "mg/L",
        (0.0, 10.0),
        "w20111",
        Some("020"),
        false,
        0.00001,
    ),
    p(
        "cd",
        "镉",
        "cadmium",
        "mg/L",
        (0.0, 10.0),
        "w20115",
        Some("022"),
        false,
        0.0001,
    ),
    p(
        "cr6",
        "六价铬",
        "chromium (VI)",
        "mg/L",
        (0.0, 10.0),
        "w20117",
        Some("024"),
        false,
        0.001,
    ),
    p(
        "as",
        "砷",
        "arsenic",
        "mg/L",
        (0.0, 10.0),
        "w20119",
        Some("026"),
        false,
        0.001,
    ),
    p(
        "pb",
        "铅",
        "lead",
        "mg/L",
        (0.0, 10.0),
        "w20120",
        Some("027"),
        false,
        0.001,
    ),
    p(
        "cu",
        "铜",
        "copper",
        "mg/L",
        (0.0, 100.0),
        "w20122",
        Some("029"),
        false,
        0.001,
    ),
    p(
        "zn",
        "锌",
        "zinc",
        "mg/L",
        (0.0, 100.0),
        "w20123",
        Some("030"),
        false,
        0.001,
    ),
    p(
        "flow",
        "污水流量",
        "flow",
        "L/s",
        (0.0, 1e7),
        "w00000",
        Some("B01"),
        false,
        0.1,
    ),
];

/// Parameters that HJ 212 frames carry in μg/L while the project unit is mg/L (hj212.md §9).
pub const HJ212_MICROGRAM: &[&str] = &["hg", "cd", "cr6", "as", "pb"];

/// Looks a parameter up by project id.
pub fn lookup(id: &str) -> Option<&'static ParamInfo> {
    KNOWN.iter().find(|p| p.id == id)
}

/// Looks a parameter up by HJ 212 factor code (2017 `w21003` or 2005 `060`), case-insensitively.
pub fn by_hj212_code(code: &str) -> Option<&'static ParamInfo> {
    KNOWN.iter().find(|p| {
        p.hj212.eq_ignore_ascii_case(code)
            || p.hj212_2005.is_some_and(|c| c.eq_ignore_ascii_case(code))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_codes_are_unique() {
        for (i, a) in KNOWN.iter().enumerate() {
            for b in &KNOWN[i + 1..] {
                assert_ne!(a.id, b.id);
                assert_ne!(a.hj212, b.hj212);
            }
            assert!(a.range.0 < a.range.1, "{}", a.id);
        }
    }

    #[test]
    fn codes_resolve() {
        assert_eq!(by_hj212_code("w21003").unwrap().id, "nh3n");
        assert_eq!(by_hj212_code("W21003").unwrap().id, "nh3n");
        assert_eq!(by_hj212_code("060").unwrap().id, "nh3n");
        assert!(by_hj212_code("w99999").is_none());
    }
}
