//! `gb3838.toml`: GB 3838-2002 Table 1 limits, and the standard's arithmetic — the class of a
//! value, whether it exceeds a class, the exceedance multiple `(C − Cs) / Cs`, and the HJ 2.3
//! standard index for the items (pH, DO) that have no multiple.

use super::{parse_toml, ConfigError, WaterBody};
use rustc_hash::FxHashMap;
use serde::Deserialize;
use std::fmt;

/// A GB 3838 water-quality class, I (best) to V; worse than V is 劣V.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum WaterClass {
    /// Ⅰ
    I,
    /// Ⅱ
    II,
    /// Ⅲ
    III,
    /// Ⅳ
    IV,
    /// Ⅴ
    V,
    /// 劣Ⅴ: worse than class V.
    WorseThanV,
}

impl WaterClass {
    /// Reads `I`..`V` (Roman numerals, ASCII or Unicode) or `1`..`5`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim() {
            "I" | "Ⅰ" | "1" => Self::I,
            "II" | "Ⅱ" | "2" => Self::II,
            "III" | "Ⅲ" | "3" => Self::III,
            "IV" | "Ⅳ" | "4" => Self::IV,
            "V" | "Ⅴ" | "5" => Self::V,
            _ => return None,
        })
    }
    /// Index 0..4 into a limits row (None for 劣V).
    pub fn index(self) -> Option<usize> {
        (self != Self::WorseThanV).then_some(self as usize)
    }
    fn from_index(i: usize) -> Self {
        [Self::I, Self::II, Self::III, Self::IV, Self::V][i]
    }
}

impl fmt::Display for WaterClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::I => "I",
            Self::II => "II",
            Self::III => "III",
            Self::IV => "IV",
            Self::V => "V",
            Self::WorseThanV => "worse than V",
        })
    }
}

/// How an item's limit is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// The value must not exceed the limit.
    Max,
    /// The value must be at least the limit (dissolved oxygen).
    Min,
    /// The value must lie in a range that is the same for every class (pH).
    Range,
}

/// One item's limits.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitItem {
    /// How to read the limits.
    pub kind: ItemKind,
    /// Class I..V limits for rivers.
    pub river: Option<[f64; 5]>,
    /// Class I..V limits for lakes and reservoirs, where they differ.
    pub reservoir: Option<[f64; 5]>,
    /// `[low, high]` for range items.
    pub range: Option<[f64; 2]>,
}

/// The limit that applies to one item at one station.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    /// Must not exceed.
    Max(f64),
    /// Must be at least.
    Min(f64),
    /// Must lie within.
    Range(f64, f64),
}

impl Limit {
    /// Whether `v` breaches the limit.
    pub fn exceeded_by(self, v: f64) -> bool {
        match self {
            Self::Max(l) => v > l,
            Self::Min(l) => v < l,
            Self::Range(lo, hi) => v < lo || v > hi,
        }
    }

    /// How bad `v` is relative to the limit: `C / Cs` for maxima, `Cs / C` for minima (DO), and the
    /// HJ 2.3 pH index for ranges (distance from neutral over the distance to the bound). Above 1 means the limit is breached.
    pub fn ratio(self, v: f64) -> f64 {
        match self {
            Self::Max(l) => v / l,
            Self::Min(l) => l / v.max(1e-9),
            Self::Range(lo, hi) => {
                // HJ 2.3 measures pH from neutral 7.0; other range items from the midpoint.
                let mid = if lo < 7.0 && 7.0 < hi {
                    7.0
                } else {
                    (lo + hi) / 2.0
                };
                if v <= mid {
                    (mid - v) / (mid - lo)
                } else {
                    (v - mid) / (hi - mid)
                }
            }
        }
    }

    /// The GB 3838 exceedance multiple `(C − Cs) / Cs` (超标倍数), defined only for maxima
    /// (评价办法 2011: not computed for pH, DO or temperature).
    pub fn exceedance_multiple(self, v: f64) -> Option<f64> {
        match self {
            Self::Max(l) if v > l => Some((v - l) / l),
            Self::Max(_) => Some(0.0),
            _ => None,
        }
    }

    /// The numeric limit to print (the violated bound for ranges).
    pub fn value_for(self, v: f64) -> f64 {
        match self {
            Self::Max(l) | Self::Min(l) => l,
            Self::Range(lo, hi) => {
                if v < lo {
                    lo
                } else {
                    hi
                }
            }
        }
    }
}

/// The standard's table.
#[derive(Debug, Clone, Default)]
pub struct Gb3838 {
    items: FxHashMap<String, LimitItem>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    item: std::collections::BTreeMap<String, LimitItem>,
}

impl Gb3838 {
    /// Parses and validates `gb3838.toml`.
    pub fn parse(file: &str, text: &str) -> Result<Self, ConfigError> {
        let raw: RawFile = parse_toml(file, text)?;
        for (id, it) in &raw.item {
            let key = |k: &str| format!("item.{id}.{k}");
            match it.kind {
                ItemKind::Range => match it.range {
                    Some([lo, hi]) if lo < hi => {}
                    _ => {
                        return Err(ConfigError::key(
                            file,
                            key("range"),
                            "range items need `range = [low, high]` with low < high",
                        ))
                    }
                },
                ItemKind::Max | ItemKind::Min => {
                    if it.river.is_none() && it.reservoir.is_none() {
                        return Err(ConfigError::key(
                            file,
                            key("river"),
                            "give `river` and/or `reservoir` limits for classes I..V",
                        ));
                    }
                    for (name, row) in [("river", it.river), ("reservoir", it.reservoir)] {
                        let Some(row) = row else { continue };
                        if row.iter().any(|v| !v.is_finite() || *v <= 0.0) {
                            return Err(ConfigError::key(
                                file,
                                key(name),
                                "limits must be positive numbers",
                            ));
                        }
                        let monotone = row.windows(2).all(|w| match it.kind {
                            ItemKind::Max => w[0] <= w[1],
                            _ => w[0] >= w[1],
                        });
                        if !monotone {
                            return Err(ConfigError::key(
                                file,
                                key(name),
                                "limits must get laxer from class I to class V",
                            ));
                        }
                    }
                }
            }
        }
        Ok(Self {
            items: raw.item.into_iter().collect(),
        })
    }

    /// The limit of `item` for `class` at a station on `body`, if the standard sets one.
    pub fn limit(&self, item: &str, class: WaterClass, body: WaterBody) -> Option<Limit> {
        let it = self.items.get(item)?;
        match it.kind {
            ItemKind::Range => it.range.map(|[lo, hi]| Limit::Range(lo, hi)),
            kind => {
                let row = match body {
                    WaterBody::Reservoir => it.reservoir.or(it.river),
                    WaterBody::River => it.river,
                }?;
                let l = row[class.index()?];
                Some(if kind == ItemKind::Max {
                    Limit::Max(l)
                } else {
                    Limit::Min(l)
                })
            }
        }
    }

    /// The class of one value of `item` (best class it satisfies; 劣V if none).
    pub fn class_of(&self, item: &str, v: f64, body: WaterBody) -> Option<WaterClass> {
        (0..5)
            .map(WaterClass::from_index)
            .find(|&c| self.limit(item, c, body).is_some_and(|l| !l.exceeded_by(v)))
            .or_else(|| {
                self.items
                    .contains_key(item)
                    .then_some(WaterClass::WorseThanV)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Gb3838 {
        Gb3838::parse("gb3838.toml", crate::config::embedded::GB3838).unwrap()
    }

    #[test]
    fn worked_examples_from_the_reference() {
        let g = table();
        let r = WaterBody::River;
        assert_eq!(g.class_of("nh3n", 0.47, r), Some(WaterClass::II));
        assert_eq!(g.class_of("nh3n", 1.62, r), Some(WaterClass::V));
        assert_eq!(g.class_of("nh3n", 4.86, r), Some(WaterClass::WorseThanV));
        let l3 = g.limit("nh3n", WaterClass::III, r).unwrap();
        assert!((l3.exceedance_multiple(3.0).unwrap() - 2.0).abs() < 1e-12);
        assert!((l3.exceedance_multiple(4.86).unwrap() - 3.86).abs() < 1e-12);
        assert_eq!(g.class_of("tp", 0.12, r), Some(WaterClass::III));
        assert_eq!(
            g.class_of("tp", 0.12, WaterBody::Reservoir),
            Some(WaterClass::V)
        );
        assert_eq!(g.class_of("codmn", 9.8, r), Some(WaterClass::IV));
        assert_eq!(g.class_of("do", 3.4, r), Some(WaterClass::IV));
        assert_eq!(
            g.class_of("cod", 15.0, r),
            Some(WaterClass::I),
            "equal limits resolve to the better class"
        );
        let ph = g.limit("ph", WaterClass::III, r).unwrap();
        assert!(ph.exceeded_by(9.3) && !ph.exceeded_by(7.0));
        assert!((ph.ratio(9.3) - 1.15).abs() < 1e-9);
        assert_eq!(ph.exceedance_multiple(9.3), None);
        let dl = g.limit("do", WaterClass::III, r).unwrap();
        assert!(dl.exceeded_by(3.4) && dl.ratio(3.4) > 1.0);
        assert_eq!(
            g.limit("tn", WaterClass::III, r),
            None,
            "TN is assessed for reservoirs only"
        );
        assert_eq!(g.limit("cond", WaterClass::III, r), None);
    }

    #[test]
    fn bad_tables_are_refused() {
        let e = Gb3838::parse(
            "g.toml",
            "[item.x]\nkind = \"max\"\nriver = [5.0, 4.0, 3.0, 2.0, 1.0]\n",
        )
        .unwrap_err();
        assert_eq!(e.key.as_deref(), Some("item.x.river"));
        let e =
            Gb3838::parse("g.toml", "[item.x]\nkind = \"max\"\nriver = [1.0, 2.0]\n").unwrap_err();
        assert!(e.to_string().contains("g.toml"), "{e}");
        let e = Gb3838::parse("g.toml", "[item.x]\nkind = \"range\"\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("item.x.range"));
    }
}
