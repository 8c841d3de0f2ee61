//! `config/riverwatch.toml`: the live service's settings — broker, store, spool, ledger, HTTP,
//! channel capacities — read strictly and validated once at start-up.
//!
//! A raw serde struct mirrors the file (snake_case keys like the other config files, unknown
//! keys refused); [`ServiceConfig::parse`] turns it into typed values (`Duration`, `NonZero*`,
//! `Url`, `SocketAddr`, [`Secret`]) and refuses what would fail later — a keep-alive under 1 s or
//! an inflight window of 0 (rumqttc asserts on both), malformed topic filters, credentials that
//! contradict each other. Every error names the file and the key ([`ConfigError`]). Secrets come
//! only from the environment; the lookup is an argument so tests do not touch the process env.

use crate::store::{InfluxAuth, InfluxOpts};
use reqwest::Url;
use riverwatch_engine::config::ConfigError;
use riverwatch_engine::time::{duration_serde, Millis};
use serde::Deserialize;
use std::fmt;
use std::net::SocketAddr;
use std::num::{NonZeroU16, NonZeroUsize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The shipped `config/riverwatch.toml`, compiled in.
pub const DEFAULT_TOML: &str = include_str!("../../../config/riverwatch.toml");

/// Largest `store.batch_size`: ~100 bytes a line keeps a request far below InfluxDB's 25 MB
/// default body limit and a spool record far below its 256 MiB bound.
pub const MAX_BATCH: usize = 100_000;

/// Largest `store.writes_in_flight`: each write in flight holds a batch in memory and its
/// messages unacknowledged, so more only needs a wider broker window and more InfluxDB threads.
pub const MAX_WRITES_IN_FLIGHT: usize = 16;

/// Environment variable holding the MQTT password.
pub const ENV_MQTT_PASSWORD: &str = "RIVERWATCH_MQTT_PASSWORD";
/// Environment variable holding the InfluxDB 1.x password.
pub const ENV_INFLUX_PASSWORD: &str = "RIVERWATCH_INFLUX_PASSWORD";
/// Environment variable holding the InfluxDB 2.x/3.x token.
pub const ENV_INFLUX_TOKEN: &str = "RIVERWATCH_INFLUX_TOKEN";
/// Environment variable holding the HTTP API token.
pub const ENV_API_TOKEN: &str = "RIVERWATCH_API_TOKEN";

/// A secret read from the environment; `Debug` prints a mask so it never reaches a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    data_dir: PathBuf,
    ledger_path: PathBuf,
    #[serde(with = "duration_serde")]
    shutdown_grace: Millis,
    #[serde(with = "duration_serde")]
    replay_window: Millis,
    #[serde(with = "duration_serde")]
    evidence_keep: Millis,
    mqtt: RawMqtt,
    store: RawStore,
    http: RawHttp,
    models: RawModels,
    channels: RawChannels,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMqtt {
    host: String,
    port: u16,
    client_id: String,
    username: String,
    #[serde(with = "duration_serde")]
    keep_alive: Millis,
    inflight: u16,
    readings_topic: String,
    senml_topic: String,
    hj212_topic: String,
    leads_topic_prefix: String,
    deadletter_topic: String,
    tls: bool,
    ca_path: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    kind: String,
    sqlite_path: PathBuf,
    batch_size: usize,
    #[serde(with = "duration_serde")]
    flush_interval: Millis,
    #[serde(with = "duration_serde")]
    linger: Millis,
    writes_in_flight: usize,
    spool_dir: PathBuf,
    spool_max_bytes: u64,
    influx: RawInflux,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInflux {
    url: String,
    db: String,
    user: String,
    #[serde(with = "duration_serde")]
    timeout: Millis,
    attempts: u32,
    gzip: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    listen: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModels {
    dir: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChannels {
    raw: usize,
    batches: usize,
    findings: usize,
    leads: usize,
    dead_letters: usize,
}

/// The validated service configuration.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Directory for local state.
    pub data_dir: PathBuf,
    /// Lead ledger file.
    pub ledger_path: PathBuf,
    /// Time stages get to drain after a shutdown signal.
    pub shutdown_grace: Duration,
    /// How much recent history (ending now) the engine replays from the store, and from the
    /// spool a previous run left, at start-up to rebuild its per-stream state; zero: none.
    pub replay_window: Duration,
    /// How far back (reading time) the engine stage keeps the readings of the stations of a
    /// lead it may still revise, and those downstream, so that the lead's revisions are sealed
    /// from memory; zero: only the last three days.
    pub evidence_keep: Duration,
    /// Broker connection and topics.
    pub mqtt: MqttConfig,
    /// Reading store.
    pub store: StoreConfig,
    /// HTTP API.
    pub http: HttpConfig,
    /// Directory of trained model files (`riverwatch train`), read at start and on every
    /// reload; `None` (empty `models.dir`): no multivariate detectors.
    pub models_dir: Option<PathBuf>,
    /// Channel capacities.
    pub channels: Channels,
}

/// Broker connection and topics.
#[derive(Debug, Clone)]
pub struct MqttConfig {
    /// Broker host.
    pub host: String,
    /// Broker port.
    pub port: u16,
    /// Client id (also the persistent session's name).
    pub client_id: String,
    /// User, when the broker requires one.
    pub username: Option<String>,
    /// Password (`RIVERWATCH_MQTT_PASSWORD`).
    pub password: Option<Secret>,
    /// Keep-alive interval (≥ 1 s).
    pub keep_alive: Duration,
    /// QoS 1 messages in flight.
    pub inflight: NonZeroU16,
    /// JSON readings topic filter.
    pub readings_topic: String,
    /// SenML topic filter.
    pub senml_topic: String,
    /// HJ 212 topic filter.
    pub hj212_topic: String,
    /// Leads go to `<prefix>/<station>`.
    pub leads_topic_prefix: String,
    /// Dead-letter topic.
    pub deadletter_topic: String,
    /// CA file to trust for TLS; `None`: plain TCP.
    pub tls_ca: Option<PathBuf>,
}

/// Which store holds readings.
#[derive(Debug, Clone)]
pub enum StoreKind {
    /// Embedded SQLite at this path.
    Sqlite(PathBuf),
    /// InfluxDB.
    Influx(InfluxConfig),
}

/// InfluxDB connection.
#[derive(Debug, Clone)]
pub struct InfluxConfig {
    /// Base URL.
    pub url: Url,
    /// Database.
    pub db: String,
    /// Credentials.
    pub auth: InfluxAuth,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Attempts per request.
    pub attempts: u32,
    /// Whether write bodies and query answers are gzipped (`store.influx.gzip`, resolved).
    pub gzip: bool,
}

/// Store, batching and spool settings.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The store.
    pub kind: StoreKind,
    /// Readings per write batch.
    pub batch_size: NonZeroUsize,
    /// Longest a reading waits for its batch.
    pub flush_interval: Duration,
    /// How long a batch's first reading waits before the batch is written early (no message
    /// waiting); zero writes at once.
    pub linger: Duration,
    /// Batch writes the store stage keeps in flight at once.
    pub writes_in_flight: NonZeroUsize,
    /// Spool directory.
    pub spool_dir: PathBuf,
    /// Spool bound in bytes.
    pub spool_max_bytes: u64,
}

impl InfluxConfig {
    /// Client settings for [`crate::store::InfluxStore::new`], with `max_lines` per request.
    pub fn opts(&self, max_lines: NonZeroUsize) -> InfluxOpts {
        InfluxOpts {
            auth: self.auth.clone(),
            max_lines: max_lines.get(),
            timeout: self.timeout,
            attempts: self.attempts,
            gzip: self.gzip,
            ..InfluxOpts::new(self.url.clone(), &self.db)
        }
    }
}

/// HTTP API settings.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Listen address.
    pub listen: SocketAddr,
    /// Token required for changes (`RIVERWATCH_API_TOKEN`).
    pub api_token: Option<Secret>,
}

/// Bounded channel capacities between stages.
#[derive(Debug, Clone)]
pub struct Channels {
    /// MQTT source → decode.
    pub raw: NonZeroUsize,
    /// decode → store / detect.
    pub batches: NonZeroUsize,
    /// detect → events.
    pub findings: NonZeroUsize,
    /// events → leads.
    pub leads: NonZeroUsize,
    /// → dead-letter stage.
    pub dead_letters: NonZeroUsize,
}

impl ServiceConfig {
    /// The shipped defaults.
    pub fn embedded() -> Result<Self, ConfigError> {
        Self::parse("config/riverwatch.toml (embedded)", DEFAULT_TOML, &|_| None)
    }

    /// The shipped defaults with every piece of local state (ledger, SQLite store, spool)
    /// under `dir`, a broker on this machine's `broker_port`, and a 100 ms store flush: the
    /// demo's service, and the tests'.
    pub fn local(dir: &Path, broker_port: u16) -> Result<Self, ConfigError> {
        let mut c = Self::embedded()?;
        c.data_dir = dir.to_path_buf();
        c.ledger_path = dir.join("ledger.sqlite");
        c.store.kind = StoreKind::Sqlite(dir.join("readings.sqlite"));
        c.store.spool_dir = dir.join("spool");
        c.store.flush_interval = Duration::from_millis(100);
        c.mqtt.port = broker_port;
        Ok(c)
    }

    /// Reads `path`, with secrets from the process environment.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let file = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|e| ConfigError::file(&file, e.to_string()))?;
        Self::parse(&file, &text, &|k| {
            std::env::var(k).ok().filter(|v| !v.is_empty())
        })
    }

    /// Parses and validates `text` (named `file` in errors); `env` looks up secrets.
    pub fn parse(
        file: &str,
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let raw: RawFile = toml::from_str(text)
            .map_err(|e| ConfigError::file(file, e.to_string().trim_end().to_string()))?;
        let bad = |key: &str, reason: String| ConfigError::key(file, key, reason);
        let positive = |key: &str, ms: Millis| {
            if ms > 0 {
                Ok(Duration::from_millis(ms as u64))
            } else {
                Err(bad(key, "must be longer than 0".into()))
            }
        };
        let linger = |ms: Millis, interval: Millis| {
            if (0..=interval).contains(&ms) {
                Ok(Duration::from_millis(ms as u64))
            } else {
                Err(bad(
                    "store.linger",
                    "must be 0 or longer, and no longer than store.flush_interval".into(),
                ))
            }
        };
        let nonzero = |key: &str, n: usize| {
            NonZeroUsize::new(n).ok_or_else(|| bad(key, "must be at least 1".into()))
        };
        let secret = |var: &str| env(var).map(Secret::new);

        let m = raw.mqtt;
        if m.keep_alive < 1000 {
            return Err(bad("mqtt.keep_alive", "must be at least 1s".into()));
        }
        let inflight = NonZeroU16::new(m.inflight)
            .ok_or_else(|| bad("mqtt.inflight", "must be at least 1".into()))?;
        if m.host.trim().is_empty() {
            return Err(bad("mqtt.host", "must not be empty".into()));
        }
        if m.port == 0 {
            return Err(bad("mqtt.port", "must not be 0".into()));
        }
        if m.client_id.is_empty() {
            return Err(bad("mqtt.client_id", "must not be empty".into()));
        }
        for (key, filter) in [
            ("mqtt.readings_topic", &m.readings_topic),
            ("mqtt.senml_topic", &m.senml_topic),
            ("mqtt.hj212_topic", &m.hj212_topic),
        ] {
            topic_filter(filter).map_err(|r| bad(key, r))?;
        }
        for (key, topic) in [
            ("mqtt.leads_topic_prefix", &m.leads_topic_prefix),
            ("mqtt.deadletter_topic", &m.deadletter_topic),
        ] {
            topic_name(topic).map_err(|r| bad(key, r))?;
        }
        let tls_ca = match (m.tls, m.ca_path.as_os_str().is_empty()) {
            (true, true) => {
                return Err(bad("mqtt.ca_path", "required when mqtt.tls = true".into()))
            }
            (true, false) => Some(m.ca_path),
            (false, _) => None,
        };
        let username = Some(m.username).filter(|u| !u.is_empty());
        let password = secret(ENV_MQTT_PASSWORD);
        if username.is_none() && password.is_some() {
            return Err(bad(
                "mqtt.username",
                format!("empty, but {ENV_MQTT_PASSWORD} is set"),
            ));
        }
        let mqtt = MqttConfig {
            host: m.host,
            port: m.port,
            client_id: m.client_id,
            username,
            password,
            keep_alive: Duration::from_millis(m.keep_alive as u64),
            inflight,
            readings_topic: m.readings_topic,
            senml_topic: m.senml_topic,
            hj212_topic: m.hj212_topic,
            leads_topic_prefix: m.leads_topic_prefix,
            deadletter_topic: m.deadletter_topic,
            tls_ca,
        };

        let s = raw.store;
        let i = s.influx;
        let url =
            Url::parse(&i.url).map_err(|e| bad("store.influx.url", format!("`{}`: {e}", i.url)))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad(
                "store.influx.url",
                "must be http:// or https://".into(),
            ));
        }
        if i.db.is_empty() {
            return Err(bad("store.influx.db", "must not be empty".into()));
        }
        let auth = match (
            Some(i.user).filter(|u| !u.is_empty()),
            secret(ENV_INFLUX_PASSWORD),
            secret(ENV_INFLUX_TOKEN),
        ) {
            (Some(_), _, Some(_)) => {
                return Err(bad(
                    "store.influx.user",
                    format!("set together with {ENV_INFLUX_TOKEN}; use one"),
                ))
            }
            (Some(user), Some(password), None) => InfluxAuth::Basic { user, password },
            (Some(_), None, None) => {
                return Err(bad(
                    "store.influx.user",
                    format!("set, but {ENV_INFLUX_PASSWORD} is not"),
                ))
            }
            (None, Some(_), _) => {
                return Err(bad(
                    "store.influx.user",
                    format!("empty, but {ENV_INFLUX_PASSWORD} is set"),
                ))
            }
            (None, None, Some(t)) => InfluxAuth::Token(t),
            (None, None, None) => InfluxAuth::None,
        };
        if i.attempts == 0 {
            return Err(bad("store.influx.attempts", "must be at least 1".into()));
        }
        let gzip = match i.gzip.as_str() {
            "auto" => !is_loopback(&url),
            "always" => true,
            "never" => false,
            other => {
                return Err(bad(
                    "store.influx.gzip",
                    format!("`{other}`: expected \"auto\", \"always\" or \"never\""),
                ))
            }
        };
        let influx = InfluxConfig {
            url,
            db: i.db,
            auth,
            timeout: positive("store.influx.timeout", i.timeout)?,
            attempts: i.attempts,
            gzip,
        };
        let kind = match s.kind.as_str() {
            "sqlite" => StoreKind::Sqlite(s.sqlite_path),
            "influx" => StoreKind::Influx(influx),
            other => {
                return Err(bad(
                    "store.kind",
                    format!("`{other}`: expected \"sqlite\" or \"influx\""),
                ))
            }
        };
        if s.batch_size > MAX_BATCH {
            return Err(bad(
                "store.batch_size",
                format!("must be at most {MAX_BATCH} (one InfluxDB request per batch)"),
            ));
        }
        if s.writes_in_flight > MAX_WRITES_IN_FLIGHT {
            return Err(bad(
                "store.writes_in_flight",
                format!("must be at most {MAX_WRITES_IN_FLIGHT}"),
            ));
        }
        if s.spool_max_bytes < 1 << 20 {
            return Err(bad(
                "store.spool_max_bytes",
                "must be at least 1048576 (1 MiB)".into(),
            ));
        }
        let store = StoreConfig {
            kind,
            batch_size: nonzero("store.batch_size", s.batch_size)?,
            flush_interval: positive("store.flush_interval", s.flush_interval)?,
            linger: linger(s.linger, s.flush_interval)?,
            writes_in_flight: nonzero("store.writes_in_flight", s.writes_in_flight)?,
            spool_dir: s.spool_dir,
            spool_max_bytes: s.spool_max_bytes,
        };

        let listen = raw
            .http
            .listen
            .parse()
            .map_err(|e| bad("http.listen", format!("`{}`: {e}", raw.http.listen)))?;
        let c = raw.channels;
        Ok(Self {
            data_dir: raw.data_dir,
            ledger_path: raw.ledger_path,
            shutdown_grace: positive("shutdown_grace", raw.shutdown_grace)?,
            replay_window: Duration::from_millis(raw.replay_window.max(0) as u64),
            evidence_keep: Duration::from_millis(raw.evidence_keep.max(0) as u64),
            mqtt,
            store,
            http: HttpConfig {
                listen,
                api_token: secret(ENV_API_TOKEN),
            },
            models_dir: Some(raw.models.dir).filter(|d| !d.as_os_str().is_empty()),
            channels: Channels {
                raw: nonzero("channels.raw", c.raw)?,
                batches: nonzero("channels.batches", c.batches)?,
                findings: nonzero("channels.findings", c.findings)?,
                leads: nonzero("channels.leads", c.leads)?,
                dead_letters: nonzero("channels.dead_letters", c.dead_letters)?,
            },
        })
    }
}

/// Whether `url` names this machine (`localhost`, 127.0.0.0/8, `::1`), where the bytes gzip
/// saves cost little (`store.influx.gzip = "auto"` leaves it off there).
fn is_loopback(url: &Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    let ip = host.trim_start_matches('[').trim_end_matches(']');
    match ip.parse::<std::net::IpAddr>() {
        Ok(a) => a.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

/// An MQTT topic filter: non-empty, `+` and `#` only as whole levels, `#` only last.
fn topic_filter(f: &str) -> Result<(), String> {
    if f.is_empty() {
        return Err("must not be empty".into());
    }
    let levels: Vec<&str> = f.split('/').collect();
    for (i, level) in levels.iter().enumerate() {
        let wild = level.contains(['+', '#']);
        if wild && level.len() > 1 {
            return Err(format!("`{f}`: a wildcard must be a whole level"));
        }
        if *level == "#" && i + 1 != levels.len() {
            return Err(format!("`{f}`: `#` must be the last level"));
        }
    }
    Ok(())
}

/// An MQTT topic name to publish to: non-empty, no wildcards.
fn topic_name(t: &str) -> Result<(), String> {
    if t.is_empty() {
        return Err("must not be empty".into());
    }
    if t.contains(['+', '#']) {
        return Err(format!(
            "`{t}`: a topic to publish to cannot hold wildcards"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_with(
        replace: (&str, &str),
        env: &[(&str, &str)],
    ) -> Result<ServiceConfig, ConfigError> {
        assert!(
            DEFAULT_TOML.contains(replace.0),
            "{} not in the shipped file",
            replace.0
        );
        let text = DEFAULT_TOML.replace(replace.0, replace.1);
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ServiceConfig::parse("rw.toml", &text, &move |k| {
            env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        })
    }

    fn key_of(r: Result<ServiceConfig, ConfigError>) -> String {
        let e = r.unwrap_err();
        assert_eq!(e.file, "rw.toml");
        e.key.unwrap_or_else(|| e.reason.clone())
    }

    #[test]
    fn shipped_file_is_valid() {
        let c = ServiceConfig::embedded().unwrap();
        assert_eq!(c.mqtt.keep_alive, Duration::from_secs(30));
        assert_eq!(c.mqtt.readings_topic, "riverwatch/readings/+");
        assert_eq!(c.mqtt.hj212_topic, "riverwatch/hj212/+");
        assert_eq!(c.mqtt.leads_topic_prefix, "riverwatch/leads");
        assert!(matches!(c.store.kind, StoreKind::Sqlite(_)));
        assert_eq!(c.store.flush_interval, Duration::from_secs(1));
        assert_eq!(c.store.writes_in_flight.get(), 2);
        assert!(c.mqtt.tls_ca.is_none() && c.mqtt.username.is_none());
        assert!(c.models_dir.is_none());
        let c = parse_with(("dir = \"\"", "dir = \"models\""), &[]).unwrap();
        assert_eq!(c.models_dir, Some(PathBuf::from("models")));
    }

    #[test]
    fn rejects_what_rumqttc_would_assert_on() {
        assert_eq!(
            key_of(parse_with(
                ("keep_alive = \"30s\"", "keep_alive = \"500ms\""),
                &[]
            )),
            "mqtt.keep_alive"
        );
        assert_eq!(
            key_of(parse_with(("inflight = 100", "inflight = 0"), &[])),
            "mqtt.inflight"
        );
    }

    #[test]
    fn names_the_key_of_bad_values() {
        let cases = [
            (
                ("riverwatch/senml/+", "riverwatch/senml/a+"),
                "mqtt.senml_topic",
            ),
            (("riverwatch/hj212/+", "riverwatch/#/x"), "mqtt.hj212_topic"),
            (
                ("\"riverwatch/leads\"", "\"riverwatch/+\""),
                "mqtt.leads_topic_prefix",
            ),
            (("tls = false", "tls = true"), "mqtt.ca_path"),
            (("kind = \"sqlite\"", "kind = \"mongo\""), "store.kind"),
            (("127.0.0.1:8080", "localhost"), "http.listen"),
            (("raw = 1024", "raw = 0"), "channels.raw"),
            (
                ("batch_size = 5000", "batch_size = 100001"),
                "store.batch_size",
            ),
            (("linger = \"10ms\"", "linger = \"2s\""), "store.linger"),
            (
                ("writes_in_flight = 2", "writes_in_flight = 0"),
                "store.writes_in_flight",
            ),
            (
                ("writes_in_flight = 2", "writes_in_flight = 17"),
                "store.writes_in_flight",
            ),
            (("http://127.0.0.1:8086", "ftp://x"), "store.influx.url"),
            (
                ("spool_max_bytes = 1073741824", "spool_max_bytes = 10"),
                "store.spool_max_bytes",
            ),
        ];
        for (edit, key) in cases {
            assert_eq!(key_of(parse_with(edit, &[])), key, "{edit:?}");
        }
    }

    #[test]
    fn gzip_auto_is_off_for_a_local_influxdb_and_always_or_never_override() {
        let gzip = |url: &str, mode: &str| {
            let text = DEFAULT_TOML
                .replace("kind = \"sqlite\"", "kind = \"influx\"")
                .replace("\"http://127.0.0.1:8086\"", &format!("\"{url}\""))
                .replace("gzip = \"auto\"", &format!("gzip = \"{mode}\""));
            match ServiceConfig::parse("rw.toml", &text, &|_| None).map(|c| c.store.kind) {
                Ok(StoreKind::Influx(i)) => Ok(i.gzip),
                Ok(StoreKind::Sqlite(_)) => panic!("influx expected"),
                Err(e) => Err(e.key.unwrap_or(e.reason)),
            }
        };
        for (url, mode, want) in [
            ("http://127.0.0.1:8086", "auto", false),
            ("http://127.8.9.1:8086", "auto", false),
            ("http://LOCALHOST:8086", "auto", false),
            ("http://[::1]:8086", "auto", false),
            ("https://influx.example.org", "auto", true),
            ("http://10.0.0.5:8086", "auto", true),
            ("http://127.0.0.1:8086", "always", true),
            ("https://influx.example.org", "never", false),
        ] {
            assert_eq!(gzip(url, mode), Ok(want), "{url} {mode}");
        }
        assert_eq!(
            gzip("http://127.0.0.1:8086", "yes"),
            Err("store.influx.gzip".to_string())
        );
    }

    #[test]
    fn unknown_keys_and_bad_durations_name_the_file_and_line() {
        let r = key_of(parse_with(
            ("inflight = 100", "inflight = 100\nretries = 3"),
            &[],
        ));
        assert!(r.contains("retries") && r.contains("line"), "{r}");
        let r = key_of(parse_with(
            ("shutdown_grace = \"10s\"", "shutdown_grace = \"soon\""),
            &[],
        ));
        assert!(r.contains("not a duration"), "{r}");
    }

    #[test]
    fn secrets_come_from_the_environment_and_stay_masked() {
        let c = parse_with(
            ("user = \"\"", "user = \"writer\""),
            &[
                (ENV_INFLUX_PASSWORD, "hunter2"),
                (ENV_API_TOKEN, "tok"),
                (ENV_MQTT_PASSWORD, "mq"),
            ],
        );
        // An MQTT password without a user is refused…
        assert_eq!(key_of(c), "mqtt.username");
        let c = parse_with(
            ("kind = \"sqlite\"", "kind = \"influx\""),
            &[(ENV_INFLUX_TOKEN, "t0k3n"), (ENV_API_TOKEN, "api")],
        )
        .unwrap();
        let StoreKind::Influx(i) = &c.store.kind else {
            panic!("influx expected")
        };
        assert!(matches!(&i.auth, InfluxAuth::Token(t) if t.expose() == "t0k3n"));
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("t0k3n") && !shown.contains("api\"") && shown.contains("***"),
            "{shown}"
        );
        // …and a user needs its password.
        assert_eq!(
            key_of(parse_with(("user = \"\"", "user = \"writer\""), &[])),
            "store.influx.user"
        );
        let c = parse_with(
            ("user = \"\"", "user = \"writer\""),
            &[(ENV_INFLUX_PASSWORD, "pw")],
        )
        .unwrap();
        let StoreKind::Sqlite(_) = c.store.kind else {
            panic!("sqlite is still the kind")
        };
    }
}
