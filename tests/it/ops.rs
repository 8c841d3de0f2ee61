//! The deployment files against the code: docker-compose.yml, the Dockerfile, the container and
//! systemd configs. Docker does not run here, so the files are parsed and every name, port,
//! path and variable that must agree with riverwatch is compared with what riverwatch reads;
//! a compose validator (dclint) checks the file against the Compose specification.

use crate::ops_docs::{env_secrets, read};
use riverwatch_live::config::{ServiceConfig, StoreKind};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use yaml_rust2::{Yaml, YamlLoader};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const CONTAINER_TOML: &str = "deploy/container/riverwatch.toml";

fn to_json(y: &Yaml) -> Value {
    match y {
        Yaml::Real(s) => s.parse::<f64>().map_or(Value::Null, Value::from),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::String(s) => Value::from(s.as_str()),
        Yaml::Boolean(b) => Value::from(*b),
        Yaml::Array(a) => Value::Array(a.iter().map(to_json).collect()),
        Yaml::Hash(h) => Value::Object(
            h.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) => s.clone(),
                        Yaml::Integer(i) => i.to_string(),
                        other => panic!("unexpected YAML key {other:?}"),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        Yaml::Null => Value::Null,
        Yaml::Alias(_) | Yaml::BadValue => panic!("unexpected YAML node {y:?}"),
    }
}

fn compose() -> Value {
    let docs = YamlLoader::load_from_str(&read("docker-compose.yml")).expect("valid YAML");
    assert_eq!(docs.len(), 1);
    to_json(&docs[0])
}

fn service<'a>(c: &'a Value, name: &str) -> &'a Value {
    c["services"]
        .get(name)
        .unwrap_or_else(|| panic!("docker-compose.yml has no service `{name}`"))
}

fn str_of(v: &Value) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {v}"))
}

/// `${VAR}`, `${VAR:-default}`, `${VAR:?message}` names in a string (`$$` is an escaped `$`).
fn interpolated(s: &str) -> Vec<String> {
    let s = s.replace("$$", "");
    s.split("${")
        .skip(1)
        .map(|p| {
            p.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .next()
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

fn all_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| all_strings(x, out)),
        Value::Object(o) => o.iter().for_each(|(k, x)| {
            out.push(k.clone());
            all_strings(x, out)
        }),
        _ => {}
    }
}

/// The `.env` variables a compose value is built from, e.g. `${INFLUX_TOKEN:?…}` → INFLUX_TOKEN.
fn env_source(v: &Value) -> String {
    let vars = interpolated(str_of(v));
    assert_eq!(vars.len(), 1, "{v} should be one ${{VAR}}");
    vars[0].clone()
}

/// The variables of `.env.example`.
fn env_example() -> BTreeMap<String, String> {
    read(".env.example")
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && l.contains('='))
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap();
            (k.trim().to_string(), v.trim().to_string())
        })
        .collect()
}

/// The container's service config, parsed by riverwatch with the secrets compose passes in.
fn container_config(c: &Value) -> ServiceConfig {
    let env = service(c, "riverwatch")["environment"].clone();
    let text = read(CONTAINER_TOML);
    ServiceConfig::parse(CONTAINER_TOML, &text, &move |k| {
        env.get(k).map(|_| format!("value-of-{k}"))
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

/// `(source, target)` of a service's volume entries.
fn mounts(svc: &Value) -> Vec<(String, String)> {
    svc["volumes"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| {
                    let parts: Vec<&str> = str_of(m).split(':').collect();
                    (parts[0].to_string(), parts[1].to_string())
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The named volume a container path lies on, if any.
fn named_volume_of(c: &Value, svc: &Value, path: &Path) -> Option<String> {
    let declared = c["volumes"].as_object().expect("top-level volumes");
    mounts(svc)
        .into_iter()
        .filter(|(src, _)| declared.contains_key(src))
        .find(|(_, target)| path.starts_with(target))
        .map(|(src, _)| src)
}

/// The container port of a `[ip:]host:container` mapping whose container side is `port`.
fn publishes(svc: &Value, port: u16) -> bool {
    svc["ports"].as_array().is_some_and(|ps| {
        ps.iter()
            .any(|p| str_of(p).rsplit(':').next() == Some(&port.to_string()))
    })
}

fn healthcheck(svc: &Value) -> String {
    let t = &svc["healthcheck"]["test"];
    let parts: Vec<&str> = t
        .as_array()
        .unwrap_or_else(|| panic!("no healthcheck test in {svc}"))
        .iter()
        .map(str_of)
        .collect();
    assert!(matches!(parts[0], "CMD" | "CMD-SHELL"), "{parts:?}");
    parts[1..].join(" ")
}

#[test]
fn services_match_what_riverwatch_connects_to() {
    let c = compose();
    let cfg = container_config(&c);
    for s in ["mosquitto", "influxdb", "riverwatch", "simulator"] {
        service(&c, s);
    }
    // The broker: the host is the compose service, the port is where Mosquitto listens.
    assert_eq!(cfg.mqtt.host, "mosquitto");
    let conf = read("deploy/mosquitto/mosquitto.conf");
    let listener: Vec<&str> = conf
        .lines()
        .filter(|l| l.starts_with("listener "))
        .collect();
    assert_eq!(listener, [format!("listener {}", cfg.mqtt.port)]);
    assert!(publishes(service(&c, "mosquitto"), cfg.mqtt.port));
    assert!(
        cfg.mqtt.tls_ca.is_none(),
        "the compose broker has no TLS listener"
    );

    // InfluxDB: the service, its port, and the bucket the v1 API maps to `db`.
    let StoreKind::Influx(influx) = &cfg.store.kind else {
        panic!("the container config should store readings in InfluxDB")
    };
    assert_eq!(influx.url.host_str(), Some("influxdb"));
    let influx_svc = service(&c, "influxdb");
    assert!(publishes(
        influx_svc,
        influx.url.port_or_known_default().unwrap()
    ));
    let init = &influx_svc["environment"];
    assert_eq!(str_of(&init["DOCKER_INFLUXDB_INIT_MODE"]), "setup");
    assert_eq!(str_of(&init["DOCKER_INFLUXDB_INIT_BUCKET"]), influx.db);
    for k in ["USERNAME", "PASSWORD", "ORG", "ADMIN_TOKEN"] {
        let v = str_of(&init[format!("DOCKER_INFLUXDB_INIT_{k}")]);
        assert!(
            v.contains("${"),
            "DOCKER_INFLUXDB_INIT_{k} should come from .env"
        );
    }
    assert!(str_of(&influx_svc["image"]).starts_with("influxdb:2."));
    assert!(str_of(&service(&c, "mosquitto")["image"]).starts_with("eclipse-mosquitto:2"));
}

#[test]
fn secrets_are_the_ones_riverwatch_reads_and_agree_with_the_servers() {
    let c = compose();
    let cfg = container_config(&c);
    let rw = &service(&c, "riverwatch")["environment"];
    let names: BTreeSet<String> = rw.as_object().unwrap().keys().cloned().collect();
    let secrets = env_secrets();
    let unknown: Vec<_> = names
        .iter()
        .filter(|n| !secrets.contains(*n) && *n != "RUST_LOG")
        .collect();
    assert!(unknown.is_empty(), "riverwatch does not read {unknown:?}");
    // What the container config needs is there, and parsing above saw it.
    assert!(cfg.mqtt.password.is_some() && cfg.http.api_token.is_some());
    let StoreKind::Influx(influx) = &cfg.store.kind else {
        panic!("influx expected")
    };
    assert!(matches!(
        influx.auth,
        riverwatch_live::store::InfluxAuth::Token(_)
    ));

    // The MQTT password riverwatch sends is the one Mosquitto was given for its user.
    let user = cfg.mqtt.username.as_deref().expect("a broker user");
    let mosq = service(&c, "mosquitto");
    let script = healthcheck_free_command(mosq);
    let pw_var = env_source(&rw["RIVERWATCH_MQTT_PASSWORD"]);
    let line = script
        .lines()
        .find(|l| l.contains("mosquitto_passwd") && l.contains(&format!(" {user} ")))
        .unwrap_or_else(|| panic!("mosquitto creates no user `{user}`"));
    let mosq_var = line.split("\"$$").nth(1).unwrap().trim_end_matches('"');
    assert_eq!(env_source(&mosq["environment"][mosq_var]), pw_var);
    assert!(script.contains("exec mosquitto -c /mosquitto/config/mosquitto.conf"));

    // The InfluxDB token riverwatch sends is the admin token InfluxDB was set up with.
    assert_eq!(
        env_source(&rw["RIVERWATCH_INFLUX_TOKEN"]),
        env_source(&service(&c, "influxdb")["environment"]["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"])
    );

    // Every ${VAR} of the compose file is in .env.example, and .env.example has nothing else.
    let mut strings = Vec::new();
    all_strings(&c, &mut strings);
    let used: BTreeSet<String> = strings.iter().flat_map(|s| interpolated(s)).collect();
    let example: BTreeSet<String> = env_example().into_keys().collect();
    assert_eq!(
        used, example,
        ".env.example and docker-compose.yml disagree"
    );
}

/// The shell script of a service whose command is `sh -c SCRIPT`.
fn healthcheck_free_command(svc: &Value) -> String {
    let cmd: Vec<&str> = svc["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(str_of)
        .collect();
    assert_eq!(&cmd[..2], ["sh", "-c"]);
    cmd[2].to_string()
}

#[test]
fn every_stateful_path_is_on_a_named_volume() {
    let c = compose();
    let cfg = container_config(&c);
    let rw = service(&c, "riverwatch");
    let StoreKind::Influx(_) = &cfg.store.kind else {
        panic!("influx expected")
    };
    let sqlite = read(CONTAINER_TOML)
        .lines()
        .find_map(|l| l.strip_prefix("sqlite_path = "))
        .map(|p| PathBuf::from(p.trim_matches('"')))
        .expect("sqlite_path");
    for p in [
        &cfg.data_dir,
        &cfg.ledger_path,
        &cfg.store.spool_dir,
        &sqlite,
    ] {
        assert!(
            p.is_absolute(),
            "{} should be absolute in a container",
            p.display()
        );
        assert!(
            named_volume_of(&c, rw, p).is_some(),
            "riverwatch state {} is not on a named volume",
            p.display()
        );
    }
    let conf = read("deploy/mosquitto/mosquitto.conf");
    assert!(conf.lines().any(|l| l == "persistence true"));
    assert!(conf.lines().any(|l| l == "allow_anonymous false"));
    let persist = conf
        .lines()
        .find_map(|l| l.strip_prefix("persistence_location "))
        .expect("persistence_location");
    assert!(named_volume_of(&c, service(&c, "mosquitto"), Path::new(persist)).is_some());
    let influx = service(&c, "influxdb");
    for p in ["/var/lib/influxdb2", "/etc/influxdb2"] {
        assert!(named_volume_of(&c, influx, Path::new(p)).is_some(), "{p}");
    }
    // Bind mounts name files that exist: the config directory and the container settings.
    for (src, target) in mounts(rw)
        .into_iter()
        .chain(mounts(service(&c, "mosquitto")))
    {
        if let Some(rel) = src.strip_prefix("./") {
            assert!(Path::new(ROOT).join(rel).exists(), "{src} does not exist");
        }
        if target == "/etc/riverwatch" {
            assert_eq!(src, "./config");
        }
    }
    assert!(mounts(rw).contains(&(
        format!("./{CONTAINER_TOML}"),
        "/etc/riverwatch/riverwatch.toml".to_string()
    )));
}

#[test]
fn health_checks_and_start_order() {
    let c = compose();
    let cfg = container_config(&c);
    let port = cfg.http.listen.port();
    // The port of config/riverwatch.toml's [http] listen, kept in the container.
    let shipped = ServiceConfig::embedded().unwrap();
    assert_eq!(shipped.http.listen.port(), port);
    assert!(
        cfg.http.listen.ip().is_unspecified(),
        "the container must listen on all interfaces"
    );

    let rw = service(&c, "riverwatch");
    let check = healthcheck(rw);
    assert!(
        check.contains(&format!("/dev/tcp/127.0.0.1/{port}")) && check.contains("GET /healthz "),
        "{check}"
    );
    assert!(publishes(rw, port));
    for dep in ["mosquitto", "influxdb"] {
        assert_eq!(
            str_of(&rw["depends_on"][dep]["condition"]),
            "service_healthy",
            "riverwatch must wait for {dep}"
        );
        assert!(!healthcheck(service(&c, dep)).is_empty());
    }
    let mq = healthcheck(service(&c, "mosquitto"));
    assert!(
        mq.contains("mosquitto_sub") && mq.contains("-u sensor"),
        "{mq}"
    );
    assert!(healthcheck(service(&c, "influxdb")).contains("influx ping"));
    assert_eq!(
        str_of(&rw["command"][0]),
        "run",
        "the container runs the service"
    );

    let sim = service(&c, "simulator");
    assert_eq!(sim["profiles"], serde_json::json!(["demo"]));
    assert_eq!(
        str_of(&sim["depends_on"]["riverwatch"]["condition"]),
        "service_healthy"
    );
    // The simulator publishes where riverwatch subscribes, as a user the broker knows.
    let prefix = str_of(&sim["environment"]["TOPIC_PREFIX"]);
    assert_eq!(format!("{prefix}/+"), cfg.mqtt.readings_topic);
    assert_eq!(str_of(&sim["environment"]["MQTT_HOST"]), cfg.mqtt.host);
    let user = str_of(&sim["environment"]["MQTT_USER"]);
    assert!(healthcheck_free_command(service(&c, "mosquitto")).contains(&format!(" {user} \"")));
}

#[test]
fn container_config_has_every_key_of_the_shipped_one() {
    fn keys(t: &toml::Table, prefix: &str, out: &mut BTreeSet<String>) {
        for (k, v) in t {
            out.insert(format!("{prefix}{k}"));
            if let toml::Value::Table(t) = v {
                keys(t, &format!("{prefix}{k}."), out);
            }
        }
    }
    let (mut a, mut b) = (BTreeSet::new(), BTreeSet::new());
    keys(
        &toml::from_str(&read("config/riverwatch.toml")).unwrap(),
        "",
        &mut a,
    );
    keys(&toml::from_str(&read(CONTAINER_TOML)).unwrap(), "", &mut b);
    assert_eq!(a, b);
}

/// Dockerfile instructions, continuation lines joined, comments dropped: (KEYWORD, rest).
fn dockerfile() -> Vec<(String, String)> {
    let text = read("Dockerfile").replace("\\\n", " ");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, rest) = l.split_once(' ').unwrap_or((l, ""));
            (k.to_ascii_uppercase(), rest.trim().to_string())
        })
        .collect()
}

#[test]
fn dockerfile_is_multi_stage_small_and_non_root() {
    let ins = dockerfile();
    let froms: Vec<&String> = ins
        .iter()
        .filter(|(k, _)| k == "FROM")
        .map(|(_, r)| r)
        .collect();
    assert_eq!(
        froms.first().map(|s| s.as_str()),
        Some("rust:1-bookworm AS builder")
    );
    assert_eq!(
        froms.last().map(|s| s.as_str()),
        Some("debian:bookworm-slim AS runtime")
    );
    // The default target is the last stage: the runtime.
    let runtime_at = ins.iter().rposition(|(k, _)| k == "FROM").unwrap();
    let runtime = &ins[runtime_at + 1..];
    let has =
        |k: &str, pred: &dyn Fn(&str) -> bool| runtime.iter().any(|(kk, r)| kk == k && pred(r));

    let user = runtime
        .iter()
        .rev()
        .find(|(k, _)| k == "USER")
        .map(|(_, r)| r.as_str());
    assert!(
        matches!(user, Some(u) if u != "root" && u != "0"),
        "runtime user: {user:?}"
    );
    assert!(has("COPY", &|r| r.starts_with("--from=builder ")
        && r.ends_with(" /usr/local/bin/riverwatch")));
    assert!(
        !has("RUN", &|r| r.contains("apt-get install")),
        "the runtime image installs no packages"
    );
    // Only the binary and the default config go in, and the files exist.
    for (_, r) in runtime
        .iter()
        .filter(|(k, r)| k == "COPY" && !r.starts_with("--from"))
    {
        let parts: Vec<&str> = r.split_whitespace().collect();
        let (dest, srcs) = parts.split_last().unwrap();
        assert!(dest.starts_with("/etc/riverwatch/"), "{r}");
        for s in srcs {
            assert!(Path::new(ROOT).join(s).exists(), "{s} does not exist");
        }
    }
    let port = ServiceConfig::embedded().unwrap().http.listen.port();
    assert!(has("EXPOSE", &|r| r == port.to_string()));
    assert!(has("HEALTHCHECK", &|r| r
        .contains(&format!("/dev/tcp/127.0.0.1/{port}"))
        && r.contains("GET /healthz ")));
    assert!(has("CMD", &|r| r == r#"["run", "--config", "/etc/riverwatch"]"#));
    // The container config the image ships is the one compose mounts.
    let container_toml = format!("{CONTAINER_TOML} /etc/riverwatch/riverwatch.toml");
    assert!(has("COPY", &|r| r == container_toml));
    // The build honours the lock file that the tests ran with.
    assert!(ins
        .iter()
        .any(|(k, r)| k == "RUN" && r.contains("cargo build --release --locked")));
    let ignore = read(".dockerignore");
    assert!(ignore.lines().any(|l| l == "target") && ignore.lines().any(|l| l == ".env"));
}

#[test]
fn systemd_unit_runs_unprivileged_with_secrets_from_a_file() {
    let unit = read("deploy/riverwatch.service");
    let mut section = String::new();
    let mut service: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for l in unit.lines().map(str::trim) {
        if l.starts_with('[') {
            section = l.to_string();
        } else if section == "[Service]" && !l.starts_with('#') {
            if let Some((k, v)) = l.split_once('=') {
                service.entry(k.into()).or_default().push(v.into());
            }
        }
    }
    let one = |k: &str| service.get(k).and_then(|v| v.last()).map(String::as_str);
    assert_eq!(one("User"), Some("riverwatch"));
    assert_eq!(
        one("ExecStart"),
        Some("/usr/local/bin/riverwatch run --config /etc/riverwatch")
    );
    assert_eq!(one("Restart"), Some("on-failure"));
    assert_eq!(one("EnvironmentFile"), Some("/etc/riverwatch/secrets.env"));
    assert_eq!(one("StateDirectory"), Some("riverwatch"));
    for (k, v) in [
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
    ] {
        assert_eq!(one(k), Some(v), "{k}");
    }
    assert_eq!(one("CapabilityBoundingSet"), Some(""));
    // The unit's comment lists the secrets: exactly the ones riverwatch reads.
    for s in env_secrets() {
        assert!(unit.contains(&s), "the unit does not mention {s}");
    }
}

/// dclint, a Compose file linter that validates against the Compose specification's JSON
/// schema without a Docker engine (installed by scripts/test.sh from npm).
fn dclint() -> PathBuf {
    let path = std::env::var_os("RIVERWATCH_DCLINT")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").expect("HOME is set");
            Path::new(&home).join(".cache/riverwatch-tools/node_modules/.bin/dclint")
        });
    assert!(
        path.exists(),
        "{} is missing: run scripts/test.sh, or `npm install --prefix ~/.cache/riverwatch-tools dclint@3.1.0`",
        path.display()
    );
    path
}

fn lint(file: &Path) -> (bool, String) {
    let out = Command::new(dclint())
        .arg("--quiet")
        .arg("--color=false")
        .arg(file)
        .output()
        .expect("dclint runs");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn compose_file_passes_the_compose_validator() {
    let (ok, text) = lint(&Path::new(ROOT).join("docker-compose.yml"));
    assert!(ok, "dclint: {text}");
    // The validator does validate: a misspelt key is refused.
    let dir = tempfile::tempdir().unwrap();
    let bad = read("docker-compose.yml").replacen("    healthcheck:", "    healthchek:", 1);
    let file = dir.path().join("docker-compose.yml");
    std::fs::write(&file, bad).unwrap();
    let (ok, text) = lint(&file);
    assert!(!ok && text.contains("additional properties"), "{text}");
}
