//! The command line as a user drives it.

use std::process::{Command, Output};

pub fn riverwatch() -> Command {
    Command::new(env!("CARGO_BIN_EXE_riverwatch"))
}

/// Runs the command and asserts it succeeded, showing its stderr otherwise.
pub fn succeed(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn config_check_accepts_shipped_and_names_bad_key() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = succeed(riverwatch().args(["config", "check", &format!("{root}/config")]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("config ok") && text.contains("[robust_z]"),
        "{text}"
    );

    let dir = tempfile::tempdir().unwrap();
    let bad = std::fs::read_to_string(format!("{root}/config/thresholds.toml"))
        .unwrap()
        .replace("k = 2", "kk = 2");
    std::fs::write(dir.path().join("thresholds.toml"), bad).unwrap();
    let out = riverwatch()
        .args(["config", "check"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("thresholds.toml") && err.contains("kk"),
        "{err}"
    );
}
