//! `stations.toml`: the monitoring network — river topology, travel times, GB 3838 target class,
//! HJ 212 device ids and declared maintenance windows.

use super::{parse_toml, ConfigError, WaterClass};
use crate::model::StationId;
use crate::time::{parse_rfc3339, Millis, HOUR};
use rustc_hash::FxHashMap;
use serde::Deserialize;

/// River or lake/reservoir: decides which GB 3838 TP/TN row applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum WaterBody {
    /// Flowing river.
    #[default]
    River,
    /// Lake or reservoir.
    Reservoir,
}

/// A declared maintenance window: readings inside it are stored but raise no water findings.
#[derive(Debug, Clone, PartialEq)]
pub struct MaintenanceWindow {
    /// Start (inclusive).
    pub from: Millis,
    /// End (exclusive).
    pub to: Millis,
    /// Parameters affected; empty = all.
    pub parameters: Vec<String>,
}

/// One monitoring station.
#[derive(Debug, Clone, PartialEq)]
pub struct Station {
    /// Id.
    pub id: StationId,
    /// Display name.
    pub name: String,
    /// River (or reservoir) it is on.
    pub river: String,
    /// Distance from the source along the river, km.
    pub river_km: f64,
    /// Stations directly upstream, with the travel time from each (None: no lagged correlation,
    /// e.g. across a reservoir).
    pub upstream: Vec<(StationId, Option<Millis>)>,
    /// GB 3838 target class.
    pub target_class: WaterClass,
    /// River or reservoir.
    pub water_body: WaterBody,
    /// HJ 212 device id (MN).
    pub hj212_mn: Option<String>,
    /// Per-station HJ 212 factor-code overrides (code → parameter id).
    pub hj212_codes: Vec<(String, String)>,
    /// Declared maintenance windows.
    pub maintenance: Vec<MaintenanceWindow>,
}

impl Station {
    /// Whether `param` at `t` is inside a declared maintenance window.
    pub fn in_maintenance(&self, param: &str, t: Millis) -> bool {
        self.maintenance.iter().any(|w| {
            t >= w.from
                && t < w.to
                && (w.parameters.is_empty() || w.parameters.iter().any(|p| p == param))
        })
    }
}

/// The whole network, with lookups by id and by HJ 212 MN.
#[derive(Debug, Clone, Default)]
pub struct Stations {
    /// Stations in file order.
    pub list: Vec<Station>,
    by_id: FxHashMap<StationId, usize>,
    by_mn: FxHashMap<String, usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    station: Vec<RawStation>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStation {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    river: String,
    #[serde(default)]
    river_km: f64,
    #[serde(default)]
    upstream: Vec<String>,
    #[serde(default)]
    travel_time_from_upstream_h: Vec<f64>,
    target_class: String,
    #[serde(default)]
    water_body: WaterBody,
    hj212_mn: Option<String>,
    #[serde(default)]
    hj212_codes: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    maintenance: Vec<RawMaintenance>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMaintenance {
    from: String,
    to: String,
    #[serde(default)]
    parameters: Vec<String>,
}

impl Stations {
    /// Parses and validates `stations.toml`.
    pub fn parse(file: &str, text: &str) -> Result<Self, ConfigError> {
        let raw: RawFile = parse_toml(file, text)?;
        let mut out = Stations::default();
        for (i, r) in raw.station.into_iter().enumerate() {
            let key = |k: &str| format!("station[{i}] ({}).{k}", r.id);
            if r.id.trim().is_empty() || r.id.contains(|c: char| c.is_whitespace() || c == ',') {
                return Err(ConfigError::key(
                    file,
                    key("id"),
                    "must be non-empty, without spaces or commas",
                ));
            }
            let target_class = WaterClass::parse(&r.target_class).ok_or_else(|| {
                ConfigError::key(
                    file,
                    key("target_class"),
                    "must be one of I, II, III, IV, V",
                )
            })?;
            if !r.travel_time_from_upstream_h.is_empty()
                && r.travel_time_from_upstream_h.len() != r.upstream.len()
            {
                return Err(ConfigError::key(
                    file,
                    key("travel_time_from_upstream_h"),
                    format!(
                        "has {} entries for {} upstream stations (give one per station, or none)",
                        r.travel_time_from_upstream_h.len(),
                        r.upstream.len()
                    ),
                ));
            }
            if r.travel_time_from_upstream_h
                .iter()
                .any(|h| !h.is_finite() || *h <= 0.0 || *h > 24.0 * 365.0)
            {
                return Err(ConfigError::key(
                    file,
                    key("travel_time_from_upstream_h"),
                    "hours must be positive and under a year",
                ));
            }
            if !r.river_km.is_finite() {
                return Err(ConfigError::key(
                    file,
                    key("river_km"),
                    "must be a finite number",
                ));
            }
            let upstream = r
                .upstream
                .iter()
                .enumerate()
                .map(|(j, u)| {
                    let tt = r
                        .travel_time_from_upstream_h
                        .get(j)
                        .map(|h| (h * HOUR as f64).round() as Millis);
                    (StationId::new(u), tt)
                })
                .collect();
            let mut maintenance = Vec::new();
            for (j, m) in r.maintenance.iter().enumerate() {
                let t = |s: &str, k: &str| {
                    parse_rfc3339(s).ok_or_else(|| {
                        ConfigError::key(
                            file,
                            key(&format!("maintenance[{j}].{k}")),
                            format!("`{s}` is not an RFC 3339 time"),
                        )
                    })
                };
                let (from, to) = (t(&m.from, "from")?, t(&m.to, "to")?);
                if to <= from {
                    return Err(ConfigError::key(
                        file,
                        key(&format!("maintenance[{j}]")),
                        "`to` must be after `from`",
                    ));
                }
                maintenance.push(MaintenanceWindow {
                    from,
                    to,
                    parameters: m.parameters.clone(),
                });
            }
            let st = Station {
                id: StationId::new(&r.id),
                name: r.name,
                river: r.river,
                river_km: r.river_km,
                upstream,
                target_class,
                water_body: r.water_body,
                hj212_mn: r.hj212_mn.clone(),
                hj212_codes: r.hj212_codes.into_iter().collect(),
                maintenance,
            };
            if out.by_id.insert(st.id.clone(), i).is_some() {
                return Err(ConfigError::key(file, key("id"), "duplicate station id"));
            }
            if let Some(mn) = &r.hj212_mn {
                if out.by_mn.insert(mn.clone(), i).is_some() {
                    return Err(ConfigError::key(
                        file,
                        key("hj212_mn"),
                        "another station has the same MN",
                    ));
                }
            }
            out.list.push(st);
        }
        for s in &out.list {
            for (u, _) in &s.upstream {
                if !out.by_id.contains_key(u) {
                    return Err(ConfigError::key(
                        file,
                        format!("station {}.upstream", s.id),
                        format!("names unknown station `{u}`"),
                    ));
                }
                if *u == s.id {
                    return Err(ConfigError::key(
                        file,
                        format!("station {}.upstream", s.id),
                        "a station cannot be its own upstream",
                    ));
                }
            }
        }
        Ok(out)
    }

    /// A station by id.
    pub fn get(&self, id: &str) -> Option<&Station> {
        self.by_id.get(id).map(|&i| &self.list[i])
    }

    /// A station by HJ 212 MN.
    pub fn by_mn(&self, mn: &str) -> Option<&Station> {
        self.by_mn.get(mn).map(|&i| &self.list[i])
    }

    /// Stations directly downstream of `id`, with the travel time from `id`.
    pub fn downstream_of<'a>(
        &'a self,
        id: &'a str,
    ) -> impl Iterator<Item = (&'a Station, Option<Millis>)> + 'a {
        self.list.iter().filter_map(move |s| {
            s.upstream
                .iter()
                .find(|(u, _)| u.as_str() == id)
                .map(|(_, tt)| (s, *tt))
        })
    }
}

impl std::borrow::Borrow<str> for StationId {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = "[[station]]\nid = \"A\"\ntarget_class = \"III\"\n";

    #[test]
    fn shipped_network_has_topology() {
        let s = Stations::parse("stations.toml", crate::config::embedded::STATIONS).unwrap();
        let dl03 = s.get("DL03").unwrap();
        assert_eq!(dl03.upstream.len(), 3);
        assert_eq!(dl03.upstream[0], (StationId::new("DL02"), Some(20 * HOUR)));
        assert_eq!(s.get("DL05").unwrap().upstream[0].1, None);
        assert_eq!(
            s.by_mn("DLHSIM000000000000000005").unwrap().id.as_str(),
            "DL03"
        );
        assert_eq!(
            s.downstream_of("DL02").next().unwrap().0.id.as_str(),
            "DL03"
        );
    }

    #[test]
    fn errors_name_file_key_and_reason() {
        let e = Stations::parse("s.toml", &format!("{ONE}colour = \"red\"\n")).unwrap_err();
        assert!(
            e.to_string().contains("s.toml") && e.to_string().contains("unknown field `colour`"),
            "{e}"
        );
        let e = Stations::parse("s.toml", &ONE.replace("III", "VI")).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("station[0] (A).target_class"));
        let e = Stations::parse("s.toml", &format!("{ONE}upstream = [\"B\"]\n")).unwrap_err();
        assert!(e.to_string().contains("unknown station `B`"), "{e}");
        let e = Stations::parse("s.toml", &format!("{ONE}{ONE}")).unwrap_err();
        assert!(e.reason.contains("duplicate"), "{e}");
        let e = Stations::parse("s.toml", "[[station]\n").unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
    }

    #[test]
    fn maintenance_windows() {
        let text = format!(
            "{ONE}[[station.maintenance]]\nfrom = \"2024-07-01T00:00:00Z\"\nto = \"2024-07-01T02:00:00Z\"\nparameters = [\"nh3n\"]\n"
        );
        let s = Stations::parse("s.toml", &text).unwrap();
        let a = s.get("A").unwrap();
        let t = parse_rfc3339("2024-07-01T01:00:00Z").unwrap();
        assert!(a.in_maintenance("nh3n", t));
        assert!(!a.in_maintenance("ph", t));
        assert!(!a.in_maintenance("nh3n", t + 2 * HOUR));
    }
}
