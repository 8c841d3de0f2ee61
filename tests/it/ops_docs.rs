//! docs/operations.md cannot drift from the code: its key tables are compared, both ways, with
//! the fields the real config parsers accept; its example payloads are decoded by the real
//! decoder; its secrets, lead and metrics tables are compared with the code and the lead schema.
//!
//! The field lists come from the parsers themselves: a probe key is added to each table of a
//! shipped file and the parser's "unknown field …, expected one of …" error names every field
//! the typed struct has — optional ones included, which the shipped files may leave out.

use riverwatch_engine::config::{embedded, Config, Gb3838, Stations, Thresholds};
use riverwatch_engine::decode::{decode, topic_route, DecodeContext, Format};
use riverwatch_engine::time::{parse_rfc3339, MINUTE};
use riverwatch_live::config::{ServiceConfig, DEFAULT_TOML};
use riverwatch_live::metrics::Metrics;
use std::collections::BTreeSet;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const PROBE: &str = "zz_docs_probe";

pub fn read(rel: &str) -> String {
    std::fs::read_to_string(format!("{ROOT}/{rel}")).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The rows of the key table under `### {heading}` in docs/operations.md: the first
/// backticked word of each row.
fn doc_keys(heading: &str) -> BTreeSet<String> {
    let doc = read("docs/operations.md");
    let start = doc
        .find(&format!("\n### {heading}\n"))
        .unwrap_or_else(|| panic!("docs/operations.md has no `### {heading}` section"));
    let body = &doc[start + heading.len() + 6..];
    let end = body.find("\n#").unwrap_or(body.len());
    body[..end]
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_string)
        .collect()
}

/// Where a probe goes: a table key (an array of tables is entered through its first element).
#[derive(Clone)]
enum Step {
    Key(String),
}

fn table_at<'a>(t: &'a mut toml::Table, path: &[Step]) -> &'a mut toml::Table {
    let mut v = t;
    for (i, step) in path.iter().enumerate() {
        let Step::Key(k) = step;
        let next = v
            .get_mut(k)
            .unwrap_or_else(|| panic!("no table at step {i}"));
        v = match next {
            toml::Value::Table(t) => t,
            toml::Value::Array(a) => match a.first_mut() {
                Some(toml::Value::Table(t)) => t,
                _ => panic!("not an array of tables"),
            },
            _ => panic!("not a table"),
        };
    }
    v
}

/// The fields the parser accepts in the table at `path`, or None when that table is a map
/// with free keys (the parser then expects a value, not a field list).
fn probe_fields(
    parse: &dyn Fn(&str) -> Result<(), String>,
    doc: &toml::Table,
    path: &[Step],
) -> Option<Vec<String>> {
    let mut d = doc.clone();
    table_at(&mut d, path).insert(PROBE.into(), toml::Value::Integer(1));
    let text = toml::to_string(&d).expect("a TOML table serialises");
    let err = parse(&text).expect_err("the probe key is refused");
    let at = err.find(&format!("unknown field `{PROBE}`"))?;
    let list = &err[at + PROBE.len() + 16..];
    let list = list.split('\n').next().unwrap_or("");
    Some(
        list.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect(),
    )
}

/// Every key path the parser accepts under `path` (tables and leaves), joined with dots; map
/// tables named in `maps` are entered through their first entry and shown as `<id>`; tables
/// in `opaque` are listed but not entered. Returns (all keys, leaves).
fn walk(
    parse: &dyn Fn(&str) -> Result<(), String>,
    doc: &toml::Table,
    maps: &[&str],
    opaque: &[&str],
) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut all, mut leaves) = (BTreeSet::new(), BTreeSet::new());
    let mut todo: Vec<(Vec<Step>, String)> = vec![(vec![], String::new())];
    while let Some((path, prefix)) = todo.pop() {
        let fields = probe_fields(parse, doc, &path)
            .unwrap_or_else(|| panic!("no field list for `{prefix}`"));
        assert!(!fields.is_empty(), "`{prefix}` has no fields");
        for f in fields {
            let key = format!("{prefix}{f}");
            all.insert(key.clone());
            let mut d = doc.clone();
            let here = table_at(&mut d, &path).get(&f).cloned();
            let is_table = matches!(&here, Some(toml::Value::Table(_)))
                || matches!(&here, Some(toml::Value::Array(a)) if matches!(a.first(), Some(toml::Value::Table(_))));
            if !is_table || opaque.contains(&key.as_str()) {
                leaves.insert(key);
                continue;
            }
            let mut next = path.clone();
            next.push(Step::Key(f.clone()));
            if maps.contains(&key.as_str()) {
                let Some(toml::Value::Table(m)) = here else {
                    panic!("`{key}` is not a map")
                };
                let first = m.keys().next().expect("the map has an entry").clone();
                next.push(Step::Key(first));
                todo.push((next, format!("{key}.<id>.")));
            } else if probe_fields(parse, doc, &next).is_some() {
                todo.push((next, format!("{key}.")));
            } else {
                leaves.insert(key); // a map with free keys, e.g. hj212_codes
            }
        }
    }
    (all, leaves)
}

fn toml_table(text: &str) -> toml::Table {
    toml::from_str(text).expect("shipped TOML parses")
}

/// Leaves the code has must be documented; rows the docs have must be keys the code has.
fn assert_documented(heading: &str, all: &BTreeSet<String>, leaves: &BTreeSet<String>) {
    let doc = doc_keys(heading);
    let missing: Vec<_> = leaves.difference(&doc).collect();
    assert!(
        missing.is_empty(),
        "docs/operations.md `### {heading}` lacks rows for {missing:?}"
    );
    let stale: Vec<_> = doc
        .iter()
        .filter(|k| !all.contains(*k) && !k.starts_with("override."))
        .collect();
    assert!(
        stale.is_empty(),
        "docs/operations.md `### {heading}` documents keys the code does not have: {stale:?}"
    );
}

fn err_text<T>(r: Result<T, riverwatch_engine::config::ConfigError>) -> Result<(), String> {
    r.map(|_| ()).map_err(|e| e.to_string())
}

#[test]
fn every_riverwatch_toml_key_is_documented() {
    let parse = |t: &str| err_text(ServiceConfig::parse("riverwatch.toml", t, &|_| None));
    let (all, leaves) = walk(&parse, &toml_table(DEFAULT_TOML), &[], &[]);
    assert!(leaves.contains("store.influx.attempts") && leaves.contains("http.listen"));
    assert_documented("riverwatch.toml", &all, &leaves);
}

#[test]
fn every_stations_toml_key_is_documented() {
    // The shipped network declares no maintenance window and no code override: add one of
    // each to the first station so that the walk reaches their fields.
    let mut doc = toml_table(embedded::STATIONS);
    let first = table_at(&mut doc, &[Step::Key("station".into())]);
    first.insert(
        "maintenance".into(),
        toml::Value::Array(vec![toml::Value::Table(toml_table(
            "from = \"2024-07-01T00:00:00Z\"\nto = \"2024-07-01T02:00:00Z\"\nparameters = [\"nh3n\"]",
        ))]),
    );
    first.insert(
        "hj212_codes".into(),
        toml::Value::Table(toml_table("w01018 = \"codmn\"")),
    );
    let parse = |t: &str| err_text(Stations::parse("stations.toml", t));
    parse(&toml::to_string(&doc).unwrap()).expect("the added examples are valid");
    let (all, leaves) = walk(&parse, &doc, &[], &[]);
    assert!(
        leaves.contains("station.maintenance.parameters") && leaves.contains("station.hj212_codes")
    );
    assert_documented("stations.toml", &all, &leaves);
}

#[test]
fn every_thresholds_toml_key_is_documented() {
    let parse = |t: &str| err_text(Thresholds::parse("thresholds.toml", t));
    let (all, leaves) = walk(&parse, &toml_table(embedded::THRESHOLDS), &[], &[]);
    assert!(leaves.contains("detectors.flatline.max_chance") && all.contains("override"));
    assert_documented("thresholds.toml", &all, &leaves);

    // `[[override]]` selectors are read by hand, not by serde: prove the documented ones work.
    let documented = doc_keys("thresholds.toml");
    for k in [
        "override.station",
        "override.parameter",
        "override.<detector>.<key>",
    ] {
        assert!(documented.contains(k), "`{k}` is not documented");
    }
    let text = format!(
        "{}\n[[override]]\nstation = \"DL03\"\nparameter = \"nh3n\"\nrobust_z = {{ threshold = 9.5 }}\n",
        embedded::THRESHOLDS
    );
    let t = Thresholds::parse("thresholds.toml", &text).unwrap();
    assert_eq!(t.for_stream("DL03", "nh3n").robust_z.threshold, 9.5);
    assert_eq!(
        t.for_stream("DL03", "ph").robust_z.threshold,
        t.defaults.robust_z.threshold
    );
}

#[test]
fn every_gb3838_toml_key_is_documented() {
    let parse = |t: &str| err_text(Gb3838::parse("gb3838.toml", t));
    let (all, leaves) = walk(&parse, &toml_table(embedded::GB3838), &["item"], &[]);
    assert!(leaves.contains("item.<id>.reservoir"), "{leaves:?}");
    assert_documented("gb3838.toml", &all, &leaves);
}

#[test]
fn a_new_key_without_a_row_is_caught() {
    // The walk sees optional fields the shipped file leaves out, so an undocumented one fails.
    let parse = |t: &str| err_text(Stations::parse("stations.toml", t));
    let (_, leaves) = walk(&parse, &toml_table(embedded::STATIONS), &[], &[]);
    assert!(leaves.contains("station.maintenance"), "{leaves:?}");
    let mut docs = doc_keys("stations.toml");
    docs.remove("station.hj212_mn");
    assert!(leaves.difference(&docs).any(|k| k == "station.hj212_mn"));
}

/// The secrets riverwatch reads: every `pub const ENV_…: &str = "…"` of the service config.
pub fn env_secrets() -> BTreeSet<String> {
    let src = read("crates/live/src/config.rs");
    let found: BTreeSet<String> = src
        .lines()
        .filter(|l| l.starts_with("pub const ENV_"))
        .filter_map(|l| l.split('"').nth(1))
        .map(str::to_string)
        .collect();
    use riverwatch_live::config as c;
    let known = [
        c::ENV_MQTT_PASSWORD,
        c::ENV_INFLUX_PASSWORD,
        c::ENV_INFLUX_TOKEN,
        c::ENV_API_TOKEN,
    ];
    for k in known {
        assert!(found.contains(k), "{k} not found by scanning config.rs");
    }
    assert_eq!(
        found.len(),
        known.len(),
        "config.rs has secrets this test does not import: {found:?}"
    );
    found
}

/// The first backticked word of each table row between two headings of the operator docs.
fn table_rows(heading: &str, next: &str) -> BTreeSet<String> {
    let doc = read("docs/operations.md");
    let start = doc
        .find(heading)
        .unwrap_or_else(|| panic!("a section {heading}"));
    let end = start + doc[start..].find(next).expect("the next section");
    doc[start..end]
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split(['`', '{']).next())
        .map(str::to_string)
        .collect()
}

#[test]
fn secrets_table_matches_the_code() {
    assert_eq!(table_rows("## 3. Secrets", "\n## 4."), env_secrets());
}

#[test]
fn lead_table_matches_the_schema() {
    let schema: serde_json::Value = serde_json::from_str(&read("docs/lead.schema.json")).unwrap();
    let props: BTreeSet<String> = schema["properties"]
        .as_object()
        .expect("the schema lists properties")
        .keys()
        .cloned()
        .collect();
    assert_eq!(table_rows("## 7. Leads", "\n## 8."), props);
}

#[test]
fn metrics_table_matches_what_the_service_exports() {
    // `# TYPE name kind` per family; counters are exposed with a `_total` suffix.
    let exported: BTreeSet<String> = Metrics::new()
        .render()
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| {
            let (name, kind) = l.split_once(' ')?;
            Some(if kind == "counter" {
                format!("{name}_total")
            } else {
                name.to_string()
            })
        })
        .collect();
    assert!(
        exported.len() >= 10,
        "metrics render their families: {exported:?}"
    );
    assert_eq!(table_rows("## 8. Metrics", "\n## 9."), exported);
}

/// Fenced blocks whose info string carries `topic=…`: (topic, payload).
fn examples() -> Vec<(String, String, String)> {
    let doc = read("docs/operations.md");
    let mut out = Vec::new();
    let mut lines = doc.lines();
    while let Some(l) = lines.next() {
        let Some(info) = l.strip_prefix("```") else {
            continue;
        };
        let Some((lang, topic)) = info.split_once(" topic=") else {
            continue;
        };
        let body: Vec<&str> = lines
            .by_ref()
            .take_while(|l| !l.starts_with("```"))
            .collect();
        out.push((lang.to_string(), topic.to_string(), body.join("\n")));
    }
    out
}

#[test]
fn every_example_payload_decodes() {
    let cfg = Config::embedded();
    let ctx = DecodeContext {
        stations: &cfg.stations,
        received: parse_rfc3339("2024-07-15T01:00:00Z").unwrap(),
        max_future_skew: 10 * MINUTE,
        accept_unknown_stations: false,
    };
    let mut formats = BTreeSet::new();
    let examples = examples();
    for (lang, topic, body) in &examples {
        let payload = if lang == "hj212" {
            format!("{body}\r\n")
        } else {
            body.clone()
        };
        let (format, id) =
            topic_route(topic).unwrap_or_else(|| panic!("`{topic}` is no input topic"));
        let station = match format {
            Format::Hj212 => cfg.stations.by_mn(id),
            _ => cfg.stations.get(id),
        }
        .unwrap_or_else(|| panic!("`{topic}` names no configured station"));
        let d = decode(payload.as_bytes(), Some(topic), Format::Auto, &ctx)
            .unwrap_or_else(|e| panic!("example on {topic} is refused: {e}\n{body}"));
        assert!(d.item_errors.is_empty(), "{topic}: {:?}", d.item_errors);
        assert!(
            d.readings.iter().all(|r| r.station == station.id),
            "{topic}"
        );
        formats.insert(format.as_str());
    }
    assert_eq!(
        formats.into_iter().collect::<Vec<_>>(),
        ["hj212", "json", "senml"]
    );

    // The station JSON contract is the one on `decode`'s doc comment, verbatim.
    let src = read("crates/engine/src/decode/mod.rs");
    let mut contract = Vec::new();
    let mut lines = src.lines().map(str::trim);
    while let Some(l) = lines.next() {
        if l == "/// ```json" {
            let block: Vec<&str> = lines
                .by_ref()
                .take_while(|l| *l != "/// ```")
                .map(|l| l.trim_start_matches("///").trim())
                .collect();
            contract.push(block.join("\n"));
        }
    }
    assert_eq!(
        contract.len(),
        2,
        "decode's doc comment holds two JSON examples"
    );
    for c in contract {
        assert!(
            examples
                .iter()
                .any(|(lang, _, body)| lang == "json" && *body == c),
            "the contract example {c} is not among the tested examples"
        );
    }
}
