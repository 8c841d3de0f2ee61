//! Typed, validated configuration: the station network, detection thresholds and the GB 3838
//! limits. Each file is parsed strictly (unknown keys are errors) and every error names the file,
//! the key and the reason. The shipped files are embedded so that `detect` works with no config
//! directory at all.

mod gb3838;
mod stations;
mod thresholds;

pub use gb3838::{Gb3838, ItemKind, Limit, LimitItem, WaterClass};
pub use stations::{MaintenanceWindow, Station, Stations, WaterBody};
pub use thresholds::{
    CusumCfg, DetectorSettings, DiurnalCfg, EngineCfg, EventsCfg, EwmaCfg, FlatlineCfg, GapCfg,
    ModelsCfg, RangeCfg, RateCfg, RobustZCfg, SpatialCfg, StandardCfg, Thresholds,
};

use sha2::{Digest, Sha256};
use std::fmt;
use std::path::Path;

/// A configuration problem, located by file and key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct ConfigError {
    /// File the problem is in.
    pub file: String,
    /// Dotted key, when known.
    pub key: Option<String>,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            Some(k) => write!(f, "{}: `{}`: {}", self.file, k, self.reason),
            None => write!(f, "{}: {}", self.file, self.reason),
        }
    }
}

impl ConfigError {
    /// A problem with one key of one file.
    pub fn key(file: &str, key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            key: Some(key.into()),
            reason: reason.into(),
        }
    }
    /// A problem with a whole file (unreadable, not TOML).
    pub fn file(file: &str, reason: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            key: None,
            reason: reason.into(),
        }
    }
}

/// Parses TOML text into a typed value; errors carry toml's line and column.
pub(crate) fn parse_toml<T: serde::de::DeserializeOwned>(
    file: &str,
    text: &str,
) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::file(file, e.to_string().trim_end().to_string()))
}

/// The shipped files, compiled in.
pub mod embedded {
    /// `config/stations.toml`.
    pub const STATIONS: &str = include_str!("../../../../config/stations.toml");
    /// `config/thresholds.toml`.
    pub const THRESHOLDS: &str = include_str!("../../../../config/thresholds.toml");
    /// `config/gb3838.toml`.
    pub const GB3838: &str = include_str!("../../../../config/gb3838.toml");
}

/// Everything the engine needs to know besides the readings.
#[derive(Debug, Clone)]
pub struct Config {
    /// The station network.
    pub stations: Stations,
    /// Detection thresholds.
    pub thresholds: Thresholds,
    /// GB 3838-2002 limits.
    pub gb3838: Gb3838,
    /// SHA-256 of the three files' parsed contents (comments and layout do not count).
    pub hash: String,
    /// The three files' texts as read, for re-deriving with other thresholds and for evidence.
    pub texts: std::sync::Arc<ConfigTexts>,
}

/// The texts a [`Config`] was built from.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigTexts {
    /// Where they came from (a directory, or "embedded").
    pub origin: String,
    /// `stations.toml`.
    pub stations: String,
    /// `thresholds.toml`.
    pub thresholds: String,
    /// `gb3838.toml`.
    pub gb3838: String,
}

impl Config {
    /// Builds a config from the three files' texts; `dir` labels errors.
    pub fn from_texts(
        stations: &str,
        thresholds: &str,
        gb3838: &str,
        dir: &str,
    ) -> Result<Self, ConfigError> {
        let sf = format!("{dir}/stations.toml");
        let tf = format!("{dir}/thresholds.toml");
        let gf = format!("{dir}/gb3838.toml");
        let stations_v = Stations::parse(&sf, stations)?;
        let thresholds_v = Thresholds::parse(&tf, thresholds)?;
        let gb = Gb3838::parse(&gf, gb3838)?;
        let mut h = Sha256::new();
        for (name, text) in [
            ("stations", stations),
            ("thresholds", thresholds),
            ("gb3838", gb3838),
        ] {
            let v: toml::Value = toml::from_str(text).expect("parsed above");
            h.update(name.as_bytes());
            h.update(serde_json::to_vec(&v).unwrap_or_default());
        }
        let hash = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        let texts = ConfigTexts {
            origin: dir.to_string(),
            stations: stations.to_string(),
            thresholds: thresholds.to_string(),
            gb3838: gb3838.to_string(),
        };
        Ok(Self {
            stations: stations_v,
            thresholds: thresholds_v,
            gb3838: gb,
            hash,
            texts: texts.into(),
        })
    }

    /// The shipped configuration.
    pub fn embedded() -> Self {
        Self::from_texts(
            embedded::STATIONS,
            embedded::THRESHOLDS,
            embedded::GB3838,
            "config (embedded)",
        )
        .expect("the shipped configuration is valid")
    }

    /// Loads `stations.toml`, `thresholds.toml` and `gb3838.toml` from a directory; a missing
    /// file falls back to the embedded one.
    pub fn load_dir(dir: &Path) -> Result<Self, ConfigError> {
        let read = |name: &str, fallback: &'static str| -> Result<String, ConfigError> {
            let p = dir.join(name);
            match std::fs::read_to_string(&p) {
                Ok(s) => Ok(s),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(fallback.to_string()),
                Err(e) => Err(ConfigError::file(&p.display().to_string(), e.to_string())),
            }
        };
        if !dir.is_dir() {
            return Err(ConfigError::file(
                &dir.display().to_string(),
                "not a directory",
            ));
        }
        let s = read("stations.toml", embedded::STATIONS)?;
        let t = read("thresholds.toml", embedded::THRESHOLDS)?;
        let g = read("gb3838.toml", embedded::GB3838)?;
        Self::from_texts(&s, &t, &g, &dir.display().to_string())
    }

    /// A copy with another thresholds file (tuning, reload); the hash is recomputed.
    pub fn with_thresholds_text(&self, thresholds: &str) -> Result<Self, ConfigError> {
        let t = &self.texts;
        Self::from_texts(&t.stations, thresholds, &t.gb3838, &t.origin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_config_is_valid() {
        let c = Config::embedded();
        assert_eq!(c.stations.list.len(), 14);
        assert_eq!(c.hash.len(), 64);
    }

    #[test]
    fn hash_ignores_comments_but_not_values() {
        let a = Config::embedded();
        let b = Config::from_texts(
            embedded::STATIONS,
            &format!("# a comment\n{}", embedded::THRESHOLDS),
            embedded::GB3838,
            "x",
        )
        .unwrap();
        assert_eq!(a.hash, b.hash);
        let c = Config::from_texts(
            embedded::STATIONS,
            &embedded::THRESHOLDS.replace("threshold = 6.0", "threshold = 7.0"),
            embedded::GB3838,
            "x",
        )
        .unwrap();
        assert_ne!(a.hash, c.hash);
    }
}
