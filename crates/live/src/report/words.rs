//! The words of the case documents in each language: section titles, column headers, the names
//! of categories, severities, statuses and detectors, and the small formatters (times in Beijing
//! time, durations, classes, numbers) whose shape differs between Chinese and English.
//!
//! One table per language ([`ZH`], [`EN`]) with the same fields, so a label missing in one
//! language is a compile error rather than an English word in a Chinese case file.

use riverwatch_engine::config::WaterClass;
use riverwatch_engine::leads::{Category, Severity, Status};
use riverwatch_engine::time::{civil_from_days, Millis, DAY, HOUR, MINUTE};
use riverwatch_engine::DetectorId;

/// The language of a dossier or intake sheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// Simplified Chinese (zh-CN), the default: the receivers work in Chinese.
    #[default]
    Zh,
    /// English.
    En,
}

impl std::str::FromStr for Lang {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "zh" | "zh-cn" | "zh_cn" | "cn" => Ok(Self::Zh),
            "en" | "en-us" | "en-gb" => Ok(Self::En),
            other => Err(format!("`{other}` is not a language: use zh or en")),
        }
    }
}

impl Lang {
    /// The label table of this language.
    pub fn words(self) -> &'static Words {
        match self {
            Self::Zh => &ZH,
            Self::En => &EN,
        }
    }

    /// The HTML `lang` attribute.
    pub fn tag(self) -> &'static str {
        match self {
            Self::Zh => "zh-CN",
            Self::En => "en",
        }
    }
}

/// Every fixed label of the documents.
#[derive(Debug)]
pub struct Words {
    /// Document title.
    pub title: &'static str,
    /// 线索编号.
    pub lead_id: &'static str,
    /// Revision.
    pub revision: &'static str,
    /// 线索类别.
    pub category: &'static str,
    /// 严重程度.
    pub severity: &'static str,
    /// 置信度.
    pub confidence: &'static str,
    /// 状态.
    pub status: &'static str,
    /// 所在河流.
    pub river: &'static str,
    /// 监测站/河段.
    pub station_segment: &'static str,
    /// 河流公里.
    pub river_km: &'static str,
    /// 涉及监测站.
    pub stations: &'static str,
    /// 时间窗口.
    pub window: &'static str,
    /// 持续时长.
    pub duration: &'static str,
    /// Whether the lead is still growing.
    pub ongoing: &'static str,
    /// Yes / no for `ongoing`.
    pub yes_no: [&'static str; 2],
    /// Section: summary.
    pub sec_summary: &'static str,
    /// Section: where and when.
    pub sec_place_time: &'static str,
    /// Section: per-parameter figures.
    pub sec_figures: &'static str,
    /// Section: how it was found.
    pub sec_method: &'static str,
    /// Section: charts.
    pub sec_charts: &'static str,
    /// Section: evidence table.
    pub sec_evidence: &'static str,
    /// Section: seal.
    pub sec_seal: &'static str,
    /// Section: analyst decisions.
    pub sec_decisions: &'static str,
    /// Column: monitoring station.
    pub col_station: &'static str,
    /// Column: item (parameter).
    pub col_item: &'static str,
    /// Column: measured peak.
    pub col_peak: &'static str,
    /// Column: time of the peak.
    pub col_peak_time: &'static str,
    /// Column: baseline.
    pub col_baseline: &'static str,
    /// Column: limit (the class is appended).
    pub col_limit: &'static str,
    /// Column: exceedance multiple.
    pub col_multiple: &'static str,
    /// Column: remark.
    pub col_remark: &'static str,
    /// Column: detection method.
    pub col_method: &'static str,
    /// Column: what the method means.
    pub col_meaning: &'static str,
    /// Column: score.
    pub col_score: &'static str,
    /// Column: time.
    pub col_time: &'static str,
    /// Column: value.
    pub col_value: &'static str,
    /// Column: data flag.
    pub col_flag: &'static str,
    /// Column: analyst.
    pub col_analyst: &'static str,
    /// Column: status change.
    pub col_status_change: &'static str,
    /// Column: opinion / note.
    pub col_note: &'static str,
    /// The time zone every time is shown in.
    pub time_zone: &'static str,
    /// Seal: evidence digest.
    pub seal_evidence_digest: &'static str,
    /// Seal: number of evidence readings.
    pub seal_evidence_count: &'static str,
    /// Seal: the evidence query.
    pub seal_evidence_query: &'static str,
    /// Seal: config hash.
    pub seal_config_hash: &'static str,
    /// Seal: model digests.
    pub seal_models: &'static str,
    /// Seal: no trained model took part.
    pub seal_no_models: &'static str,
    /// Seal: signature status.
    pub seal_signature: &'static str,
    /// Seal: not sealed.
    pub not_sealed: &'static str,
    /// Seal: what "not sealed" means here.
    pub not_sealed_note: &'static str,
    /// The lead revision is sealed in the ledger's chain.
    pub sealed: &'static str,
    /// Label of the reason the seal holds no evidence digest.
    pub sealed_evidence: &'static str,
    /// The sealed evidence, re-read from the store now, gives the sealed digest.
    pub recheck_same: &'static str,
    /// Before what differs when the sealed evidence is re-read now.
    pub recheck_differs: &'static str,
    /// Before why the sealed evidence could not be re-read now.
    pub recheck_failed: &'static str,
    /// Before the public key of a signed seal.
    pub signed_by: &'static str,
    /// A seal without signature.
    pub unsigned: &'static str,
    /// Seal: the config used to render differs from the lead's.
    pub config_differs: &'static str,
    /// Seal: how to verify.
    pub seal_verify: &'static str,
    /// Seal: verification steps.
    pub seal_verify_text: &'static str,
    /// Evidence could not be read.
    pub evidence_unavailable: &'static str,
    /// No analyst decisions yet.
    pub no_decisions: &'static str,
    /// No readings in the evidence window.
    pub no_readings: &'static str,
    /// Chart: the lead's window.
    pub chart_window: &'static str,
    /// Chart: the peak.
    pub chart_peak: &'static str,
    /// Chart: x axis label.
    pub chart_time_axis: &'static str,
    /// The engine's own summary.
    pub engine_summary: &'static str,
    /// Footer.
    pub footer: &'static str,
    /// Intake sheet column headers, in order.
    pub intake_columns: [&'static str; 12],
    /// Sheet name in the xlsx workbook.
    pub sheet_name: &'static str,
}

/// Simplified Chinese.
pub static ZH: Words = Words {
    title: "水质异常线索案卷",
    lead_id: "线索编号",
    revision: "修订版本",
    category: "线索类别",
    severity: "严重程度",
    confidence: "置信度",
    status: "研判状态",
    river: "所在河流",
    station_segment: "监测站/河段",
    river_km: "河流公里",
    stations: "涉及监测站",
    window: "时间窗口",
    duration: "持续时长",
    ongoing: "是否仍在持续",
    yes_no: ["是", "否"],
    sec_summary: "一、线索概况",
    sec_place_time: "二、地点与时间",
    sec_figures: "三、监测结果与标准对照",
    sec_method: "四、发现方式",
    sec_charts: "五、证据图表",
    sec_evidence: "六、证据表",
    sec_seal: "七、封存信息",
    sec_decisions: "八、研判记录",
    col_station: "监测站",
    col_item: "监测项目",
    col_peak: "实测峰值",
    col_peak_time: "峰值时间",
    col_baseline: "基线",
    col_limit: "标准限值",
    col_multiple: "超标倍数",
    col_remark: "说明",
    col_method: "检测方法",
    col_meaning: "含义",
    col_score: "得分",
    col_time: "时间",
    col_value: "数值",
    col_flag: "数据标识",
    col_analyst: "研判人",
    col_status_change: "状态变更",
    col_note: "研判意见",
    time_zone: "时间均为北京时间（UTC+8）",
    seal_evidence_digest: "证据摘要值（SHA-256）",
    seal_evidence_count: "证据读数条数",
    seal_evidence_query: "证据查询条件",
    seal_config_hash: "配置哈希",
    seal_models: "模型摘要",
    seal_no_models: "未使用训练模型",
    seal_signature: "签名状态",
    not_sealed: "未封存",
    not_sealed_note: "本线索尚无封存记录；上列证据摘要值为生成本文件时按证据查询条件重新读取读数计算所得，可供核对，但不等同于封存。",
    sealed: "已封存（账本哈希链条目）",
    sealed_evidence: "封存时未能计算证据摘要值",
    recheck_same: "现按封存的证据范围从读数库重新读取，摘要值一致",
    recheck_differs: "现按封存的证据范围从读数库重新读取，与封存不一致",
    recheck_failed: "现无法从读数库重新读取封存的证据",
    signed_by: "Ed25519 签名，公钥",
    unsigned: "未签名（服务未配置签名密钥）",
    config_differs: "注意：生成本文件所用配置的哈希与线索记录的不同，站点与限值信息按当前配置显示。",
    seal_verify: "核验方法",
    seal_verify_text: "按“证据查询条件”从读数库取出读数，按时间、站点、项目排序；首行写“time,station,parameter,value,flag”，其后每条读数写成一行“时间(RFC 3339 UTC),站点,项目,数值,标识”，每行以换行结尾，对全文计算 SHA-256，结果应与证据摘要值一致（证据包中 readings.csv 即此文件，可用 sha256sum 核对）；或运行 riverwatch verify lead 核验。",
    evidence_unavailable: "证据读数无法读取",
    no_decisions: "暂无研判记录",
    no_readings: "证据时段内无读数",
    chart_window: "线索时间窗口",
    chart_peak: "峰值",
    chart_time_axis: "时间（北京时间）",
    engine_summary: "系统原始摘要（英文）",
    footer: "本案卷由 riverwatch 根据在线监测数据自动生成，仅作为线索，需经现场核查确认。标准依据：GB 3838-2002《地表水环境质量标准》。",
    intake_columns: [
        "线索编号",
        "发现时间",
        "所在河流",
        "监测站/河段",
        "线索类别",
        "超标项目",
        "超标倍数",
        "持续时长",
        "严重程度",
        "置信度",
        "状态",
        "证据摘要值",
    ],
    sheet_name: "线索",
};

/// English.
pub static EN: Words = Words {
    title: "Water-quality case lead dossier",
    lead_id: "Lead number",
    revision: "Revision",
    category: "Category",
    severity: "Severity",
    confidence: "Confidence",
    status: "Review status",
    river: "River",
    station_segment: "Station / segment",
    river_km: "River km",
    stations: "Stations involved",
    window: "Time window",
    duration: "Duration",
    ongoing: "Still ongoing",
    yes_no: ["yes", "no"],
    sec_summary: "1. Summary",
    sec_place_time: "2. Place and time",
    sec_figures: "3. Measurements against the standard",
    sec_method: "4. How it was found",
    sec_charts: "5. Evidence charts",
    sec_evidence: "6. Evidence table",
    sec_seal: "7. Seal",
    sec_decisions: "8. Analyst decisions",
    col_station: "Station",
    col_item: "Item",
    col_peak: "Measured peak",
    col_peak_time: "Peak time",
    col_baseline: "Baseline",
    col_limit: "Limit",
    col_multiple: "Exceedance multiple",
    col_remark: "Remark",
    col_method: "Method",
    col_meaning: "Meaning",
    col_score: "Score",
    col_time: "Time",
    col_value: "Value",
    col_flag: "Flag",
    col_analyst: "Analyst",
    col_status_change: "Status change",
    col_note: "Note",
    time_zone: "All times are Beijing time (UTC+8)",
    seal_evidence_digest: "Evidence digest (SHA-256)",
    seal_evidence_count: "Evidence readings",
    seal_evidence_query: "Evidence query",
    seal_config_hash: "Config hash",
    seal_models: "Model digests",
    seal_no_models: "no trained model used",
    seal_signature: "Signature status",
    not_sealed: "not sealed",
    not_sealed_note: "This lead has no seal yet; the evidence digest above was computed when this document was rendered, from the readings the evidence query returns. It can be checked, but it is not a seal.",
    sealed: "sealed (ledger hash-chain entry)",
    sealed_evidence: "no evidence digest could be computed when sealed",
    recheck_same: "re-read from the store now with the sealed definition: same digest",
    recheck_differs: "re-read from the store now with the sealed definition: differs",
    recheck_failed: "the sealed evidence could not be re-read from the store now",
    signed_by: "Ed25519 signature, public key",
    unsigned: "unsigned (the service has no signing key)",
    config_differs: "Note: the configuration used to render this document has a different hash from the lead's; station and limit details follow the current configuration.",
    seal_verify: "How to verify",
    seal_verify_text: "Fetch the readings of the evidence query from the store, order them by time, station and item; write the header line `time,station,parameter,value,flag`, then each reading as one line `time (RFC 3339 UTC),station,item,value,flag`, every line ending in a newline, and compute SHA-256 over the whole text: it must equal the evidence digest (the evidence bundle's readings.csv is this file; check it with sha256sum). Or run riverwatch verify lead.",
    evidence_unavailable: "Evidence readings could not be read",
    no_decisions: "No analyst decisions yet",
    no_readings: "No readings in the evidence period",
    chart_window: "lead window",
    chart_peak: "peak",
    chart_time_axis: "time (Beijing, UTC+8)",
    engine_summary: "Engine summary",
    footer: "Generated by riverwatch from online monitoring data. A lead, not a finding: it needs an on-site check. Standard: GB 3838-2002 Environmental quality standards for surface water.",
    intake_columns: [
        "Lead number",
        "Detected at",
        "River",
        "Station / segment",
        "Category",
        "Exceeding items",
        "Exceedance multiple",
        "Duration",
        "Severity",
        "Confidence",
        "Status",
        "Evidence digest",
    ],
    sheet_name: "Leads",
};

/// The category in words.
pub fn category(lang: Lang, c: Category) -> &'static str {
    match (lang, c) {
        (Lang::Zh, Category::SuspectedDischarge) => "疑似偷排",
        (Lang::Zh, Category::StandardExceedance) => "水质超标",
        (Lang::Zh, Category::MonitoringAnomaly) => "监测异常",
        (Lang::En, Category::SuspectedDischarge) => "suspected discharge",
        (Lang::En, Category::StandardExceedance) => "standard exceedance",
        (Lang::En, Category::MonitoringAnomaly) => "monitoring anomaly",
    }
}

/// The severity in words.
pub fn severity(lang: Lang, s: Severity) -> &'static str {
    match (lang, s) {
        (Lang::Zh, Severity::Low) => "低",
        (Lang::Zh, Severity::Medium) => "中",
        (Lang::Zh, Severity::High) => "高",
        (Lang::Zh, Severity::Critical) => "严重",
        (Lang::En, Severity::Low) => "low",
        (Lang::En, Severity::Medium) => "medium",
        (Lang::En, Severity::High) => "high",
        (Lang::En, Severity::Critical) => "critical",
    }
}

/// The review status in words.
pub fn status(lang: Lang, s: Status) -> &'static str {
    match (lang, s) {
        (Lang::Zh, Status::New) => "待研判",
        (Lang::Zh, Status::Acknowledged) => "研判中",
        (Lang::Zh, Status::Confirmed) => "已确认",
        (Lang::Zh, Status::Dismissed) => "已排除",
        (Lang::En, Status::New) => "new",
        (Lang::En, Status::Acknowledged) => "under review",
        (Lang::En, Status::Confirmed) => "confirmed",
        (Lang::En, Status::Dismissed) => "dismissed",
    }
}

/// A detector's name and what it noticed, in plain language.
pub fn detector(lang: Lang, d: DetectorId) -> (&'static str, &'static str) {
    use DetectorId as D;
    match lang {
        Lang::Zh => match d {
            D::Range => ("量程检查", "读数超出该项目物理上可能的范围，多为仪器故障"),
            D::Standard => ("标准比对", "持续超过 GB 3838-2002 目标类别限值"),
            D::RobustZ => ("基线偏离", "明显偏离本站近期读数的中位水平"),
            D::Ewma => ("持续偏移", "读数在一段时间内持续偏离基线（指数加权平均）"),
            D::Cusum => ("累积偏移", "小幅偏离不断累积（累积和检验）"),
            D::Rate => ("突变", "短时间内陡升或陡降"),
            D::Flatline => ("读数不变", "读数长时间保持不变，疑似卡滞或数据被替换"),
            D::Gap => ("数据中断", "应有的读数缺失，站点或项目停止上报"),
            D::Diurnal => ("日变化偏离", "偏离本站同一时段的日常规律"),
            D::Spatial => ("上下游比对", "下游出现变化而上游（按流经时间折算）未见，来源位于两站之间河段"),
            D::StationFlag => ("站点标识", "站点自报数据异常标识（维护、故障等）"),
            D::Pca => ("多参数模型", "多项读数的组合偏离训练模型（主成分 T²/SPE）"),
            D::Gmm => ("组合罕见", "多项读数的组合在历史数据中罕见（高斯混合模型）"),
        },
        Lang::En => match d {
            D::Range => ("range check", "value outside what is physically possible: usually an instrument fault"),
            D::Standard => ("standard check", "persistently beyond the GB 3838-2002 target-class limit"),
            D::RobustZ => ("baseline deviation", "far from the station's recent median level"),
            D::Ewma => ("sustained shift", "readings stayed off the baseline for a while (exponentially weighted mean)"),
            D::Cusum => ("cumulative shift", "small deviations that kept adding up (CUSUM)"),
            D::Rate => ("sudden change", "a steep rise or fall within a short time"),
            D::Flatline => ("stuck value", "the same value for too long: a stuck sensor or replaced data"),
            D::Gap => ("data gap", "expected readings are missing: the station or item went silent"),
            D::Diurnal => ("daily-cycle deviation", "off the station's usual level for that time of day"),
            D::Spatial => ("upstream/downstream", "changed downstream but not at the travel-time-lagged upstream station: the source lies in the segment between"),
            D::StationFlag => ("station flag", "the station flagged its own data (maintenance, fault, ...)"),
            D::Pca => ("multi-parameter model", "the combination of items departs from the trained model (PCA T²/SPE)"),
            D::Gmm => ("rare combination", "the combination of items is rare in history (Gaussian mixture)"),
        },
    }
}

/// A GB 3838 class as written in the language (`Ⅳ类`, `class IV`).
pub fn class(lang: Lang, c: WaterClass) -> String {
    let roman = match c {
        WaterClass::I => "Ⅰ",
        WaterClass::II => "Ⅱ",
        WaterClass::III => "Ⅲ",
        WaterClass::IV => "Ⅳ",
        WaterClass::V => "Ⅴ",
        WaterClass::WorseThanV => "劣Ⅴ",
    };
    match lang {
        Lang::Zh => format!("{roman}类"),
        Lang::En => format!("class {c}"),
    }
}

/// Offset of Beijing time from UTC.
const BEIJING: Millis = 8 * HOUR;

/// A time as `YYYY-MM-DD HH:MM` in Beijing time (UTC+8).
pub fn time(t: Millis) -> String {
    let local = t.saturating_add(BEIJING);
    let (y, m, d) = civil_from_days(local.div_euclid(DAY));
    let min = local.rem_euclid(DAY) / MINUTE;
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}", min / 60, min % 60)
}

/// A duration in days, hours and minutes (`1天15小时10分`, `1 d 15 h 10 min`).
pub fn duration(lang: Lang, ms: Millis) -> String {
    let total = ms.max(0) / MINUTE;
    let (d, h, m) = (total / (24 * 60), total / 60 % 24, total % 60);
    let units = match lang {
        Lang::Zh => ["天", "小时", "分钟"],
        Lang::En => [" d", " h", " min"],
    };
    let sep = if lang == Lang::Zh { "" } else { " " };
    let parts: Vec<String> = [d, h, m]
        .iter()
        .zip(units)
        .filter(|(n, _)| **n > 0)
        .map(|(n, u)| format!("{n}{u}"))
        .collect();
    if parts.is_empty() {
        format!("0{}", units[2])
    } else {
        parts.join(sep)
    }
}

/// A measured value with at most 4 significant decimals, without trailing zeros.
pub fn number(v: f64) -> String {
    if !v.is_finite() {
        return "—".to_string();
    }
    let decimals = match v.abs() {
        a if a >= 100.0 => 1,
        a if a >= 1.0 => 2,
        a if a >= 0.01 => 3,
        _ => 5,
    };
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" {
        "0".to_string()
    } else {
        s
    }
}

/// A ratio as a percentage of the whole (`4.7` → `470%`).
pub fn share(v: f64) -> String {
    if v.is_finite() {
        format!("{:.0}%", v * 100.0)
    } else {
        "—".to_string()
    }
}

/// A confidence in [0, 1] as a percentage.
pub fn percent(v: f64) -> String {
    format!("{:.0}%", (v.clamp(0.0, 1.0) * 100.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use riverwatch_engine::time::parse_rfc3339;

    #[test]
    fn times_are_beijing_time_and_durations_read_naturally() {
        let t = parse_rfc3339("2024-07-06T16:50:00Z").unwrap();
        assert_eq!(time(t), "2024-07-07 00:50");
        let d = DAY + 15 * HOUR + 10 * MINUTE;
        assert_eq!(duration(Lang::Zh, d), "1天15小时10分钟");
        assert_eq!(duration(Lang::En, d), "1 d 15 h 10 min");
        assert_eq!(duration(Lang::Zh, 0), "0分钟");
        assert_eq!(duration(Lang::En, 2 * HOUR), "2 h");
    }

    #[test]
    fn numbers_and_classes() {
        assert_eq!(number(47.0), "47");
        assert_eq!(number(0.31), "0.31");
        assert_eq!(number(9.0883), "9.09");
        assert_eq!(number(1357.44), "1357.4");
        assert_eq!(number(0.00005), "0.00005");
        assert_eq!(number(f64::NAN), "—");
        assert_eq!(class(Lang::Zh, WaterClass::IV), "Ⅳ类");
        assert_eq!(class(Lang::En, WaterClass::III), "class III");
        assert_eq!("zh-CN".parse::<Lang>(), Ok(Lang::Zh));
        assert!("fr".parse::<Lang>().unwrap_err().contains("zh or en"));
    }
}
