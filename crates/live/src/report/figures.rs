//! What each parameter of a lead means against GB 3838-2002: the limit of the class the lead
//! was judged by, whether it was breached, the exceedance multiple as the standard defines it,
//! and — when there is no limit or no multiple — the reason, in words.
//!
//! The numbers come from the lead (what the engine computed and recorded); the config only
//! supplies how a limit reads (maximum, minimum for DO, range for pH) and the reasons. The
//! standard's rules (shared/reference/gb3838.md §5): `B = (C − Cs) / Cs` for "lower is better"
//! items only; DO and pH have no multiple, their breach is told by the HJ 2.3 standard index.

use super::words::{self, Lang};
use riverwatch_engine::config::{Config, Limit, Station, WaterBody, WaterClass};
use riverwatch_engine::leads::{Category, Lead, ParamSummary};
use riverwatch_engine::params;

/// One station × parameter of a lead, ready to print.
#[derive(Debug, Clone)]
pub struct Figure<'a> {
    /// The lead's figures.
    pub summary: &'a ParamSummary,
    /// The item's name in the language.
    pub item: String,
    /// How the limit reads, when the lead has one.
    pub limit: Option<Limit>,
    /// Class the limit is taken from.
    pub class: Option<WaterClass>,
    /// The peak breaches the limit.
    pub breach: bool,
    /// The exceedance multiple, for items that define one and only when breached.
    pub multiple: Option<f64>,
    /// Why there is no limit or no multiple, or how far a DO/pH breach goes.
    pub remark: String,
}

/// The item name of a parameter id (`nh3n` → 氨氮).
pub fn item_name(lang: Lang, id: &str) -> String {
    match (params::lookup(id), lang) {
        (Some(p), Lang::Zh) => p.name_zh.to_string(),
        (Some(p), Lang::En) => p.name_en.to_string(),
        (None, _) => id.to_string(),
    }
}

/// A value with its unit (`7.57 mg/L`; pH has none).
pub fn value(v: f64, unit: &str) -> String {
    if unit.is_empty() || unit == "pH" {
        words::number(v)
    } else {
        format!("{} {unit}", words::number(v))
    }
}

/// A limit as the standard writes it (`≤ 1.5 mg/L`, `≥ 3 mg/L`, `6–9`).
pub fn limit_text(limit: Limit, unit: &str) -> String {
    match limit {
        Limit::Max(l) => format!("≤ {}", value(l, unit)),
        Limit::Min(l) => format!("≥ {}", value(l, unit)),
        Limit::Range(lo, hi) => format!("{}–{}", words::number(lo), words::number(hi)),
    }
}

/// The figures of every parameter of `lead`, in the lead's order.
pub fn figures<'a>(lead: &'a Lead, cfg: &Config, lang: Lang) -> Vec<Figure<'a>> {
    lead.parameters
        .iter()
        .map(|p| {
            figure(
                lead.category,
                p,
                cfg.stations.get(p.station.as_str()),
                cfg,
                lang,
            )
        })
        .collect()
}

fn figure<'a>(
    category: Category,
    p: &'a ParamSummary,
    station: Option<&Station>,
    cfg: &Config,
    lang: Lang,
) -> Figure<'a> {
    let body = station.map_or(WaterBody::River, |s| s.water_body);
    let item = item_name(lang, p.parameter.as_str());
    let limit = match (p.limit, p.limit_class) {
        (Some(l), Some(c)) => Some(
            cfg.gb3838
                .limit(p.parameter.as_str(), c, body)
                // A config changed since the lead: keep the lead's number as a maximum.
                .unwrap_or(Limit::Max(l)),
        ),
        // A lead that recorded a limit without its class: the number is all there is.
        (Some(l), None) => Some(Limit::Max(l)),
        _ => None,
    };
    let breach = limit.is_some_and(|l| l.exceeded_by(p.peak));
    let multiple = p
        .exceedance_multiple
        .filter(|m| breach && *m > 0.0 && m.is_finite());
    let remark = match limit {
        None => no_limit_reason(category, p, station, cfg, lang),
        Some(l) => limit_remark(l, p, breach, lang),
    };
    Figure {
        summary: p,
        item,
        limit,
        class: p.limit_class.filter(|_| limit.is_some()),
        breach,
        multiple,
        remark,
    }
}

/// Why a parameter has no limit in this lead.
fn no_limit_reason(
    category: Category,
    p: &ParamSummary,
    station: Option<&Station>,
    cfg: &Config,
    lang: Lang,
) -> String {
    let id = p.parameter.as_str();
    let zh = lang == Lang::Zh;
    let Some(station) = station else {
        return if zh {
            "监测站不在站点配置中，目标水质类别未知，无法对照限值".into()
        } else {
            "station not in the station config: its target class is unknown".into()
        };
    };
    let gb = &cfg.gb3838;
    let class = station.target_class;
    if gb.limit(id, class, station.water_body).is_some() {
        return if category == Category::MonitoringAnomaly {
            if zh {
                "监测异常线索：读数本身存疑，不据以评价是否超标".into()
            } else {
                "monitoring anomaly: the readings themselves are in doubt, so no exceedance is judged".into()
            }
        } else if zh {
            "本线索未按该项目评价超标（仅为基线变化）".into()
        } else {
            "the lead judged this item against its baseline only".into()
        };
    }
    match id {
        "temp" => {
            if zh {
                "GB 3838-2002 对水温只限制人为造成的周平均温升 ≤1 °C、温降 ≤2 °C，不适用于单次读数"
                    .into()
            } else {
                "GB 3838-2002 limits only man-made weekly-mean changes of water temperature (rise ≤ 1 °C, fall ≤ 2 °C), not single readings".into()
            }
        }
        _ if gb.limit(id, class, WaterBody::Reservoir).is_some() => {
            if zh {
                "该项目限值仅适用于湖泊、水库，河流断面不评价".into()
            } else {
                "this item's limit applies to lakes and reservoirs only, not to river sections"
                    .into()
            }
        }
        _ => {
            if zh {
                "GB 3838-2002 未规定该项目限值，仅与本站基线比较".into()
            } else {
                "GB 3838-2002 sets no limit for this item: compared with the station's baseline only".into()
            }
        }
    }
}

/// The remark for a parameter with a limit: the share of the limit, or why there is no
/// multiple and how far a DO or pH breach goes.
fn limit_remark(limit: Limit, p: &ParamSummary, breach: bool, lang: Lang) -> String {
    let zh = lang == Lang::Zh;
    let unit = p.unit.as_str();
    match limit {
        Limit::Max(l) => {
            let share = words::share(p.peak / l);
            match (breach, zh) {
                (true, true) => format!("峰值为限值的 {share}，超标倍数 =（实测值 − 限值）/ 限值"),
                (true, false) => {
                    format!("peak is {share} of the limit; multiple = (measured − limit) / limit")
                }
                (false, true) => format!("未超标（峰值为限值的 {share}）"),
                (false, false) => format!("within the limit (peak is {share} of it)"),
            }
        }
        Limit::Min(l) => {
            if !breach {
                return if zh {
                    "溶解氧不低于限值，未超标；溶解氧不计算超标倍数".into()
                } else {
                    "dissolved oxygen not below the limit; DO has no exceedance multiple".into()
                };
            }
            // HJ/T 2.3 index for DO below the standard: S = 10 − 9·DO/DOs.
            let index = 10.0 - 9.0 * p.peak / l;
            let deficit = value(l - p.peak, unit);
            if zh {
                format!("溶解氧越低越差，不计算超标倍数；低于限值 {deficit}，标准指数 S = 10 − 9·DO/DOs = {}", words::number(index))
            } else {
                format!("lower DO is worse and has no multiple; {deficit} below the limit, standard index S = 10 − 9·DO/DOs = {}", words::number(index))
            }
        }
        Limit::Range(lo, hi) => {
            if !breach {
                return if zh {
                    format!(
                        "在 {}–{} 范围内；pH 不计算超标倍数",
                        words::number(lo),
                        words::number(hi)
                    )
                } else {
                    format!(
                        "within {}–{}; pH has no exceedance multiple",
                        words::number(lo),
                        words::number(hi)
                    )
                };
            }
            let outside = if p.peak < lo {
                lo - p.peak
            } else {
                p.peak - hi
            };
            let index = p.ratio.unwrap_or_else(|| limit.ratio(p.peak));
            if zh {
                format!(
                    "pH 不计算超标倍数；超出 {}–{} 范围 {} 个 pH 单位，标准指数 {}",
                    words::number(lo),
                    words::number(hi),
                    words::number(outside),
                    words::number(index)
                )
            } else {
                format!(
                    "pH has no exceedance multiple; {} pH units outside {}–{}, standard index {}",
                    words::number(outside),
                    words::number(lo),
                    words::number(hi),
                    words::number(index)
                )
            }
        }
    }
}

/// The multiple as printed (`3.70`), `—` when there is none.
pub fn multiple_text(m: Option<f64>) -> String {
    m.map_or_else(|| "—".to_string(), |m| format!("{m:.2}"))
}

/// The class column header: `标准限值（GB 3838-2002 Ⅳ类）` when every limit of the lead comes
/// from one class, else without the class.
pub fn limit_header(figs: &[Figure], lang: Lang) -> String {
    let w = lang.words();
    let mut classes: Vec<WaterClass> = figs.iter().filter_map(|f| f.class).collect();
    classes.sort();
    classes.dedup();
    match (classes.as_slice(), lang) {
        ([c], Lang::Zh) => format!("{}（GB 3838-2002 {}）", w.col_limit, words::class(lang, *c)),
        ([c], Lang::En) => format!("{} (GB 3838-2002 {})", w.col_limit, words::class(lang, *c)),
        (_, Lang::Zh) => format!("{}（GB 3838-2002）", w.col_limit),
        (_, Lang::En) => format!("{} (GB 3838-2002)", w.col_limit),
    }
}
