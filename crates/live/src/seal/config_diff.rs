//! Names what differs between two configs: per file, the dotted keys whose parsed values
//! differ (comments and layout do not count, as in the config hash).

use super::records::config_files;
use riverwatch_engine::config::ConfigTexts;
use toml::Value;

/// Most differences listed per file.
const MAX_PER_FILE: usize = 8;

/// `file: key: old → new` for every differing key of every file (`old` = `then`).
pub fn config_differences(then: &ConfigTexts, now: &ConfigTexts) -> Vec<String> {
    let mut out = Vec::new();
    for ((file, a), (_, b)) in config_files(then).iter().zip(config_files(now).iter()) {
        if a == b {
            continue;
        }
        let (va, vb) = (a.parse::<toml::Table>(), b.parse::<toml::Table>());
        match (va, vb) {
            (Ok(va), Ok(vb)) => {
                let mut keys = Vec::new();
                walk("", &Value::Table(va), &Value::Table(vb), &mut keys);
                let n = keys.len();
                out.extend(
                    keys.into_iter()
                        .take(MAX_PER_FILE)
                        .map(|k| format!("{file}: {k}")),
                );
                if n > MAX_PER_FILE {
                    out.push(format!("{file}: … and {} more keys", n - MAX_PER_FILE));
                }
            }
            _ => out.push(format!("{file}: text differs (one side is not TOML)")),
        }
    }
    out
}

fn walk(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    let join = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match (a, b) {
        (Value::Table(ta), Value::Table(tb)) => {
            let mut keys: Vec<&String> = ta.keys().chain(tb.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                match (ta.get(k), tb.get(k)) {
                    (Some(x), Some(y)) => walk(&join(k), x, y, out),
                    (Some(x), None) => out.push(format!("{}: {x} → absent", join(k))),
                    (None, Some(y)) => out.push(format!("{}: absent → {y}", join(k))),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(xa), Value::Array(xb)) if xa.len() == xb.len() => {
            for (i, (x, y)) in xa.iter().zip(xb).enumerate() {
                walk(&format!("{path}[{i}]"), x, y, out);
            }
        }
        _ if a != b => out.push(format!("{path}: {a} → {b}")),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(thresholds: &str) -> ConfigTexts {
        ConfigTexts {
            origin: "t".into(),
            stations: "".into(),
            thresholds: thresholds.into(),
            gb3838: "".into(),
        }
    }

    #[test]
    fn names_the_changed_key() {
        let a = texts("[robust_z]\nk = 3.5 # tuned\n[ewma]\nlambda = 0.2\n");
        let b = texts("[robust_z]\nk = 4.0\n[ewma]\nlambda = 0.2\n");
        assert_eq!(
            config_differences(&a, &b),
            ["thresholds.toml: robust_z.k: 3.5 → 4.0"]
        );
        let c = texts("[robust_z]\nk = 3.5\n[ewma]\nlambda = 0.2\n");
        assert!(
            config_differences(&a, &c).is_empty(),
            "comments do not count"
        );
    }
}
